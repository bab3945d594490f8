#!/usr/bin/python3
"""The peer of scripts/bench/caffenet_backward.lua: BVLC's CaffeNet in PyTorch
(random weights, 227x227, eval mode), forward + backward of one fc8 neuron to
every weight. Usage: caffenet_backward_torch.py threads runs. Prints "key
value" lines: batch1 and batch16, each the comma-separated seconds of every
timed forward + backward."""
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from caffenet_torch import caffenet  # noqa: E402

CLASS = 281


def run_times(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return ",".join(repr(t) for t in times)


def step(net, x):
    net.zero_grad(set_to_none=True)
    fc8 = net[:-1](x)  # up to fc8, as the neuron is read before softmax
    fc8[:, CLASS].sum().backward()


def main():
    threads, runs = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = caffenet()
    x1 = torch.randn(1, 3, 227, 227) * 50
    x16 = torch.randn(16, 3, 227, 227) * 50
    step(net, x1)
    print("batch1", run_times(lambda: step(net, x1), runs))
    step(net, x16)
    print("batch16", run_times(lambda: step(net, x16), runs))


if __name__ == "__main__":
    main()
