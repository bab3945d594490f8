#!/bin/sh
# Runs every benchmark under scripts/bench/, each beside its peer. Called by
# `make bench` from the repository root with the tree's Lua paths set.
# BENCH_THREADS (default: every core) is the thread count all of them use.
set -e
bin="${CNNVIS_BIN:-build/bin/cnnvis}"
threads="${BENCH_THREADS:-$(nproc)}"
echo "== CaffeNet forward (scripts/bench/caffenet.lua) =="
"$bin" scripts/bench/caffenet.lua "$threads"
