#!/usr/bin/python3
"""The peer of scripts/bench/analysis.lua: PCA (np.cov + np.linalg.eigh, the
projection on the first k components) and k-means (k-means++ seeding, then
Lloyd's iterations until no row moves, distances by the |x|^2 - 2 x.c + |c|^2
expansion) in float64 on the matrix of an .npy file.
Usage: analysis_numpy.py matrix.npy k reps
Prints "pca_s", "kmeans_s" (medians) and "kmeans_iters" lines."""
import sys
import time

import numpy as np


def pca(x, k):
    mean = x.mean(axis=0)
    w, v = np.linalg.eigh(np.cov(x, rowvar=False))
    comps = v[:, ::-1][:, :k].T
    return comps, w[::-1][:k], (x - mean) @ comps.T


def kmeans(x, k, rng, iters=100):
    n = len(x)
    c = np.empty((k, x.shape[1]))
    c[0] = x[rng.integers(n)]
    d2 = ((x - c[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        c[j] = x[rng.choice(n, p=d2 / d2.sum())]
        d2 = np.minimum(d2, ((x - c[j]) ** 2).sum(axis=1))
    xx = (x * x).sum(axis=1)[:, None]
    assign = None
    for it in range(iters + 1):
        dist = xx - 2 * x @ c.T + (c * c).sum(axis=1)[None, :]
        new = dist.argmin(axis=1)
        if assign is not None and (new == assign).all():
            break
        assign = new
        if it == iters:
            break
        for j in range(k):
            rows = x[assign == j]
            if len(rows):
                c[j] = rows.mean(axis=0)
    return assign, c, it


def median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), out


x = np.load(sys.argv[1]).astype(np.float64)
k, reps = int(sys.argv[2]), int(sys.argv[3])
t_pca, _ = median_time(lambda: pca(x, k), reps)
rng = np.random.default_rng(1)
t_km, (_, _, iters) = median_time(lambda: kmeans(x, k, rng), reps)
print("pca_s", t_pca)
print("kmeans_s", t_km)
print("kmeans_iters", iters)
