"""The peer of scripts/bench/train_fashion.lua: PyTorch training the default
model's net (examples/models/fashion_caffenet_train_val.prototxt) with the
same batch, solver settings and threads on Fashion-MNIST.

    /usr/bin/python3 scripts/bench/train_fashion_torch.py ITERS THREADS

Prints the seconds per iteration (mean over ITERS after 5 warm-up ones).
"""
import gzip
import sys
import time

import numpy as np
import torch
from torch import nn

DIR = "/usr/share/datasets/fashion-mnist"


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def net():
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    return nn.Sequential(
        nn.Conv2d(1, 48, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2), lrn(),
        nn.Conv2d(48, 64, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(2, 2), lrn(),
        nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 96, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(96, 64, 3, padding=1, groups=2), nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.Flatten(),
        nn.Linear(64 * 3 * 3, 256), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(256, 10))


def main():
    iters, threads = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    images = idx(DIR + "/train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    labels = idx(DIR + "/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(1)
    order = rng.permutation(len(images))

    def step(k):
        pick = order[(k * 64) % len(order):][:64]
        x = images[pick].astype(np.float32)
        flip = rng.random(64) < 0.5
        x[flip] = x[flip][..., ::-1]
        x = torch.from_numpy(np.ascontiguousarray(x)) * 0.011109 - 0.810288
        y = torch.from_numpy(labels[pick])
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for k in range(5):
        step(k)
    t0 = time.perf_counter()
    for k in range(iters):
        step(k + 5)
    print((time.perf_counter() - t0) / iters)


if __name__ == "__main__":
    main()
