#!/usr/bin/python3
"""The peer of scripts/bench/caffenet.lua: BVLC's CaffeNet in PyTorch (random
weights, 227x227, eval mode, no_grad). Usage: caffenet_torch.py threads runs.
Prints "key value" lines: batch1 and batch16 (seconds, medians), cpu1 and
cpu16 (CPU seconds per forward, all threads), rss_load and rss_forward (MB)."""
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def caffenet():
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True), lrn(),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True), lrn(),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 1000), nn.Softmax(dim=1)).eval()


def cpu_per_call(fn, runs):
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(runs):
        fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / runs


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    threads, runs = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = caffenet()
    print("rss_load", rss_mb())
    x1 = torch.randn(1, 3, 227, 227) * 50
    x16 = torch.randn(16, 3, 227, 227) * 50
    with torch.no_grad():
        net(x1)
        print("rss_forward", rss_mb())
        print("batch1", median_time(lambda: net(x1), runs))
        print("cpu1", cpu_per_call(lambda: net(x1), runs * 2))
        net(x16)
        print("batch16", median_time(lambda: net(x16), max(3, runs // 2)))
        print("cpu16", cpu_per_call(lambda: net(x16), max(3, runs // 2)))


if __name__ == "__main__":
    main()
