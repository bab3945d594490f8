#!/bin/sh
# Runs every benchmark in one go, each beside its peer, and prints their
# tables. `make bench` calls it from the repository root with LUA_PATH,
# LUA_CPATH and CNNVIS_BIN set for the tree. The C peers (*_peer.c) are built
# first, against the same OpenMP OpenBLAS as the engine (BLAS_DIR / BLAS_INC /
# CC may be set to match another build). BENCH_THREADS (default: every core)
# is the thread count all of them use. BENCH_OPT names the main build's
# flags; BENCH_AVX2_BIN (and BENCH_AVX2_OPT) a second build for AVX2 without
# AVX-512 (x86-64-v3), with which the CaffeNet benchmarks run again, their
# PyTorch peers kept to AVX2 too (oneDNN's DNNL_MAX_CPU_ISA, ATen's
# ATEN_CPU_CAPABILITY): what a machine without AVX-512 gets.
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
has() { grep -m1 '^flags' /proc/cpuinfo | grep -qw "$1" && echo yes || echo no; }
echo "cpu: avx2 $(has avx2), fma $(has fma), avx512f $(has avx512f)"
isa() { "$1" -e 'io.write(require("scripts.bench.support").isa())'; }
blas=$(/usr/bin/python3 -c "import ctypes; b = ctypes.CDLL('$blas_dir/libopenblas.so.0'); \
b.openblas_get_corename.restype = ctypes.c_char_p; print(b.openblas_get_corename().decode())" \
  2>/dev/null || echo "?")
echo "build: $bin (${BENCH_OPT:-?}): kernels $(isa "$bin"); OpenBLAS kernels: $blas"

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
echo "== PCA and k-means (scripts/bench/analysis.lua) =="
printf '%-34s %12s %12s %8s\n' "benchmark" "cnnvis" "NumPy" "ratio"
"$bin" "$here/analysis.lua" "$threads"
echo "== ray casting (scripts/bench/volume.lua) =="
"$bin" "$here/volume.lua" "$threads"
echo "== filter importance and the oracle (scripts/bench/importance.lua) =="
"$bin" "$here/importance.lua" "$threads"

echo "== scale-out: class importance on MPI ranks (scripts/bench/scaleout.lua) =="
printf '%-34s %12s %12s %8s  %s\n' "benchmark" "cnnvis" "1 process" "speed-up" "goal"
"$bin" "$here/scaleout.lua"

# The same CaffeNet benchmarks with the AVX2 build, when there is one and the
# machine runs it (and it is not the main build's instruction set already).
avx2_bin="${BENCH_AVX2_BIN:-}"
if [ -n "$avx2_bin" ] && [ "$(has avx2)" = yes ] && [ "$(has fma)" = yes ]; then
  if [ "$(isa "$avx2_bin")" = "$(isa "$bin")" ]; then
    echo "== (the AVX2 build has the main build's instruction set: not run again) =="
  else
    echo "== with the AVX2 build: $avx2_bin (${BENCH_AVX2_OPT:-?}): kernels $(isa "$avx2_bin");" \
      "PyTorch with DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 =="
    export DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
    printf '%-34s %12s %12s %8s  %s\n' "benchmark" "cnnvis" "peer" "ratio" "goal"
    CNNVIS_BIN="$avx2_bin" "$avx2_bin" "$here/train_fashion.lua"
    echo "== CaffeNet forward, AVX2 build (scripts/bench/caffenet.lua) =="
    CNNVIS_BIN="$avx2_bin" "$avx2_bin" "$here/caffenet.lua" "$threads"
    echo "== CaffeNet backward, AVX2 build (scripts/bench/caffenet_backward.lua) =="
    CNNVIS_BIN="$avx2_bin" "$avx2_bin" "$here/caffenet_backward.lua" "$threads"
    echo "== importance (per_sample_norms, batches of 50), AVX2 build, no oracle =="
    CNNVIS_BIN="$avx2_bin" "$avx2_bin" "$here/importance.lua" "$threads" 2 0
  fi
fi
