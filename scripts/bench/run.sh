#!/bin/sh
# Runs every benchmark in one go, each beside its peer, and prints their
# tables. `make bench` calls it from the repository root with LUA_PATH,
# LUA_CPATH and CNNVIS_BIN set for the tree. The C peers (*_peer.c) are built
# first, against the same OpenMP OpenBLAS as the engine (BLAS_DIR / BLAS_INC /
# CC may be set to match another build). BENCH_THREADS (default: every core)
# is the thread count all of them use.
set -e
here=$(dirname "$0")
bin="${CNNVIS_BIN:-build/bin/cnnvis}"
threads="${BENCH_THREADS:-$(nproc)}"
export BENCH_THREADS="$threads"
blas_dir="${BLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}"
blas_inc="${BLAS_INC:-/usr/include/x86_64-linux-gnu/openblas-openmp}"
peers="${BENCH_BUILD:-build/bench}"
mkdir -p "$peers"
for src in "$here"/*_peer.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  ${CC:-cc} -std=gnu11 -O3 -march=native -fopenmp -I"$blas_inc" "$src" \
    -o "$peers/$name" -L"$blas_dir" -Wl,-rpath,"$blas_dir" -lopenblas
done
export CNNVIS_BENCH_PEERS="$peers"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $threads threads"

echo "== tensors, training (scripts/bench/tensor.lua, train_fashion.lua) =="
printf '%-34s %12s %12s %8s  %s\n' "benchmark" "cnnvis" "peer" "ratio" "goal"
"$bin" "$here/tensor.lua"
"$bin" "$here/train_fashion.lua"
echo "== Caffe files (scripts/bench/caffe_load.lua) =="
"$bin" "$here/caffe_load.lua"
echo "== CaffeNet conv layers (scripts/bench/layers.lua) =="
"$bin" "$here/layers.lua" "$threads"
echo "== CaffeNet forward (scripts/bench/caffenet.lua) =="
"$bin" "$here/caffenet.lua" "$threads"
echo "== CaffeNet backward (scripts/bench/caffenet_backward.lua) =="
"$bin" "$here/caffenet_backward.lua" "$threads"
echo "== scale-out: class importance on MPI ranks (scripts/bench/scaleout.lua) =="
printf '%-34s %12s %12s %8s  %s\n' "benchmark" "cnnvis" "1 process" "speed-up" "goal"
"$bin" "$here/scaleout.lua"
