-- CaffeNet's conv layers (random weights) at batch 1 and 16: time per image
-- and GFLOP/s of cv.nn.conv2d, next to a bare sgemm of the same GEMM shapes
-- (one image's group GEMMs through cv.nn.linear, which is one sgemm call).
-- Run: build/bin/cnnvis scripts/bench/layers.lua [threads] [runs] [cpu]
-- "cpu" times with process CPU time instead of wall time: with 1 thread on
-- a machine shared with other jobs, that shows the code's own efficiency.
local cv = require "cnnvis"
local nn = cv.nn

local args = arg or {}
local threads = tonumber(args[1]) or cv.get_num_threads()
local runs = tonumber(args[2]) or 7
local now = args[3] == "cpu" and os.clock or cv.clock or require("system").gettime
cv.set_num_threads(threads)

-- name, in channels, out channels, kernel, stride, pad, group, input size
local layers = {
  {"conv1", 3, 96, 11, 4, 0, 1, 227},
  {"conv2", 96, 256, 5, 1, 2, 2, 27},
  {"conv3", 256, 384, 3, 1, 1, 1, 13},
  {"conv4", 384, 384, 3, 1, 1, 2, 13},
  {"conv5", 384, 256, 3, 1, 1, 2, 13},
}

-- Median and best of `runs` timed calls, after one to warm up (workspace,
-- pages, thread pool). On a shared machine the best shows what the code can
-- do, the median what a user sees.
local function timed(fn)
  fn()
  local t = {}
  for i = 1, runs do
    local t0 = now()
    fn()
    t[i] = now() - t0
  end
  table.sort(t)
  return t[(runs + 1) // 2], t[1]
end

print(string.format("threads %d, %s time, median (best) of %d runs", threads,
  args[3] == "cpu" and "CPU" or "wall", runs))
print("GFLOP/s of conv2d and of a bare sgemm on the same GEMM shapes (one image, all threads);")
print("ratio = sgemm time / conv time (>= 70% wanted); median (best) of the runs")
print(string.format("%-6s %5s %18s %18s %15s", "layer", "batch", "conv2d GFLOP/s",
  "sgemm GFLOP/s", "ratio"))
local total = {}
for _, batch in ipairs{1, 16} do
  for _, l in ipairs(layers) do
    local name, c, m, k, s, pad, g, size = table.unpack(l)
    local x = cv.rand(batch, c, size, size)
    local w = cv.rand(m, c // g, k, k)
    local b = cv.rand(m)
    local opts = {stride = s, pad = pad, group = g}
    local out = (size + 2 * pad - k) // s + 1
    local kdim, ohw = c // g * k * k, out * out
    local flop = 2.0 * m * kdim * ohw -- per image
    -- Outputs are allocated once, as the net does: a fresh tensor per call
    -- would time the kernel's page faults too.
    opts.out = cv.empty(batch, m, out, out)
    local tc, bc = timed(function() nn.conv2d(x, w, b, opts) end)
    tc, bc = tc / batch, bc / batch
    local a, bm = cv.rand(m // g, kdim), cv.rand(kdim, ohw)
    local gopts = {transpose = true, out = cv.empty(m // g, ohw)}
    local tg, bg = timed(function()
      for _ = 1, g do nn.linear(a, bm, nil, gopts) end
    end)
    total[batch] = (total[batch] or 0) + tc
    print(string.format("%-6s %5d %9.1f (%6.1f) %9.1f (%6.1f) %6.0f%% (%4.0f%%)", name,
      batch, flop / tc * 1e-9, flop / bc * 1e-9, flop / tg * 1e-9, flop / bg * 1e-9,
      100 * tg / tc, 100 * bg / bc))
  end
end
print(string.format("all conv layers (median): %.2f ms/img at batch 1, %.2f ms/img at batch 16",
  total[1] * 1e3, total[16] * 1e3))

-- Backward (dx, dw, db): twice the forward's arithmetic; and the per-image
-- filter gradient norms of the same batch (no dx, no N-fold dw).
print(string.format("\n%-6s %5s %18s %18s", "layer", "batch", "backward ms/img",
  "per-image norms"))
for _, batch in ipairs{1, 16} do
  for _, l in ipairs(layers) do
    local name, c, m, k, s, pad, g, size = table.unpack(l)
    local opts = {stride = s, pad = pad, group = g}
    local out = (size + 2 * pad - k) // s + 1
    local x, w = cv.rand(batch, c, size, size), cv.rand(m, c // g, k, k)
    local dy = cv.rand(batch, m, out, out)
    local tb, bb = timed(function() nn.conv2d_backward(x, w, dy, opts) end)
    local tn, bn = timed(function() nn.conv2d_filter_grad_norms(x, w, dy, opts) end)
    print(string.format("%-6s %5d %9.2f (%6.2f) %9.2f (%6.2f)", name, batch, tb / batch * 1e3,
      bb / batch * 1e3, tn / batch * 1e3, bn / batch * 1e3))
  end
end
