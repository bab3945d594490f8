#!/usr/bin/python3
"""The peer of scripts/bench/importance.lua: the shipped Fashion-MNIST model in
PyTorch (its weights and the class's images from .npy files the Lua side
writes into DIR), and the importance of every conv/fc filter for one class:
the mean over the images of the norm of d z_c / d W_f, per filter. Two ways:
a backward per image, and per-sample gradients by functorch's vmap(grad).
Usage: importance_torch.py DIR class threads batch rounds. Prints "key value"
lines: loop and vmap (seconds of each round) and check_loop, check_vmap (the
sum of every layer's importance values, to compare with cnnvis's)."""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from functorch import grad, make_functional, vmap
from torch import nn

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]


class Fashion(nn.Module):
    """examples/models/fashion_caffenet.prototxt, test phase."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 48, 3, padding=1)
        self.conv2 = nn.Conv2d(48, 64, 3, padding=1, groups=2)
        self.conv3 = nn.Conv2d(64, 96, 3, padding=1)
        self.conv4 = nn.Conv2d(96, 96, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(96, 64, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(576, 256)
        self.fc7 = nn.Linear(256, 256)
        self.fc8 = nn.Linear(256, 10)

    def forward(self, x):
        x = x * 0.011109 - 0.810288
        lrn = lambda t: F.local_response_norm(t, 5, alpha=1e-4, beta=0.75, k=1.0)
        x = lrn(F.max_pool2d(F.relu(self.conv1(x)), 2, 2, ceil_mode=True))
        x = lrn(F.max_pool2d(F.relu(self.conv2(x)), 2, 2, ceil_mode=True))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2, ceil_mode=True)
        x = F.relu(self.fc6(x.flatten(1)))
        x = F.relu(self.fc7(x))
        return self.fc8(x)


def load(d):
    net = Fashion().eval()
    with torch.no_grad():
        for name in LAYERS:
            layer = getattr(net, name)
            layer.weight.copy_(torch.from_numpy(np.load(f"{d}/{name}_w.npy")).view_as(layer.weight))
            layer.bias.copy_(torch.from_numpy(np.load(f"{d}/{name}_b.npy")))
    return net


def per_image(net, x, c):
    """A forward and backward per image; norms summed in double."""
    sums = {n: torch.zeros(getattr(net, n).weight.shape[0], dtype=torch.float64) for n in LAYERS}
    for i in range(x.shape[0]):
        net.zero_grad(set_to_none=True)
        net(x[i:i + 1])[0, c].backward()
        for n in LAYERS:
            g = getattr(net, n).weight.grad
            sums[n] += g.flatten(1).norm(dim=1).double()
    return {n: s / x.shape[0] for n, s in sums.items()}


def per_sample(net, x, c, batch):
    """Per-sample gradients of every weight by vmap(grad), batch images at a time."""
    fmodel, params = make_functional(net)
    names = [n for n, _ in net.named_parameters()]

    def z(p, xi):
        return fmodel(p, xi.unsqueeze(0))[0, c]

    grads = vmap(grad(z), in_dims=(None, 0))
    sums = {n: torch.zeros(getattr(net, n).weight.shape[0], dtype=torch.float64) for n in LAYERS}
    for start in range(0, x.shape[0], batch):
        g = grads(params, x[start:start + batch])
        for name, gi in zip(names, g):
            layer, kind = name.split(".")
            if kind == "weight":
                sums[layer] += gi.flatten(2).norm(dim=2).double().sum(0)
    return {n: s / x.shape[0] for n, s in sums.items()}


def main():
    d, c, threads, batch, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    net = load(d)
    x = torch.from_numpy(np.load(f"{d}/images.npy"))
    loop, vm = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        a = per_image(net, x, c)
        loop.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = per_sample(net, x, c, batch)
        vm.append(time.perf_counter() - t0)
    print("loop", ",".join(repr(t) for t in loop))
    print("vmap", ",".join(repr(t) for t in vm))
    print("check_loop", repr(float(sum(v.sum() for v in a.values()))))
    print("check_vmap", repr(float(sum(v.sum() for v in b.values()))))


if __name__ == "__main__":
    main()
