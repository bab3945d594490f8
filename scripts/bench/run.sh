#!/bin/sh
# Runs every benchmark in one go and prints one table. `make bench` calls it
# with LUA_PATH, LUA_CPATH and CNNVIS_BIN set for the tree. The C peers
# (*_peer.c) are built first, against the same OpenMP OpenBLAS as the engine
# (BLAS_DIR / BLAS_INC / CC may be set to match another build).
set -e
here=$(dirname "$0")
lua="${LUA:-lua5.4}"
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
printf '%-34s %12s %12s %8s  %s\n' "benchmark" "cnnvis" "peer" "ratio" "goal"
for bench in "$here"/*.lua; do
  "$lua" "$bench"
done
