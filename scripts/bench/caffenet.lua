--- CaffeNet forward: cnnvis beside PyTorch (scripts/bench/caffenet_torch.py).
-- Usage: cnnvis scripts/bench/caffenet.lua [threads [runs [rounds]]]
-- Random weights (seeded), 227x227, no_grad in both, the same thread count.
-- Prints forward times at batch 1 and 16 (medians of wall time, and CPU
-- time per forward: user + system of all threads, which a loaded machine
-- disturbs less), the peer's ratio (rounds taken in turn with the peer, so
-- that load from elsewhere on the machine hits both alike: the medians of
-- the rounds' medians, and the median of the rounds' ratios), each
-- conv layer's throughput next to OpenBLAS sgemm on the layer's GEMM shapes,
-- and resident memory after load and after a batch-1 forward.
local cv = require "cnnvis"

local PROTO = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local WEIGHTS = "build/bench/caffenet_random.caffemodel"
local PEER = "scripts/bench/caffenet_torch.py"
local threads = tonumber(arg[1]) or tonumber(os.getenv("BENCH_THREADS") or "") or 2
local runs = tonumber(arg[2]) or 7
local rounds = tonumber(arg[3]) or 3

local function rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then return tonumber(kb) / 1024 end
  end
end

-- CPU seconds (user + system, every thread) the process has used so far.
local function cpu_seconds()
  local f = io.open("/proc/self/stat")
  local s = f:read("a")
  f:close()
  local fields = {}
  for v in s:gsub("^.-%) ", ""):gmatch("%S+") do fields[#fields + 1] = v end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- clock ticks
end

-- CPU seconds per call over n calls: the work, whatever else the machine runs.
local function cpu_per_call(fn, n)
  local c0 = cpu_seconds()
  for _ = 1, n do fn() end
  return (cpu_seconds() - c0) / n
end

local bench = require "scripts.bench.support"
local median = bench.time

-- The caffemodel is made once, in a child process, so that its garbage does
-- not count in this process's resident set.
local function ensure_weights()
  local f = io.open(WEIGHTS)
  if f then f:close() return end
  os.execute("mkdir -p build/bench")
  local bin = os.getenv("CNNVIS_BIN") or "build/bin/cnnvis"
  local code = string.format([[
    local cv = require "cnnvis"
    local net = require("scripts.bench.support").random_net(%q)
    cv.caffe.save(net, %q)]], PROTO, WEIGHTS)
  assert(os.execute(bin .. " -e '" .. code .. "'"), "could not write " .. WEIGHTS)
end

-- CaffeNet's conv geometry (deploy.prototxt).
local CONV = {
  conv1 = {stride = 4}, conv2 = {pad = 2, group = 2}, conv3 = {pad = 1},
  conv4 = {pad = 1, group = 2}, conv5 = {pad = 1, group = 2},
}

-- Each conv layer alone (cv.nn.conv2d on its bottom blob, batch 1) beside
-- sgemm (cv.matmul) on the layer's GEMM shapes: M = outputs per group,
-- N = OH*OW, K = inputs per group * kh * kw, once per group.
local function conv_table(net)
  local rows = {}
  cv.manual_seed(3)
  local x = cv.randn(1, 3, 227, 227) * 50
  cv.no_grad(function() net:forward(x) end)
  for _, l in ipairs(net.layers) do
    local geo = CONV[l.name]
    if geo then
      local w, b = net.params[l.name].weight, net.params[l.name].bias
      local xin = net.blobs[l.bottoms[1]]
      local g = geo.group or 1
      local y = cv.no_grad(function() return cv.nn.conv2d(xin, w, b, geo) end)
      local m, n, k = w:size(1) // g, y:size(3) * y:size(4), w:size(2) * w:size(3) * w:size(4)
      local flop = 2.0 * m * n * k * g
      local a, bm = cv.randn(m, k), cv.randn(k, n)
      -- Alternating, so that both see the same load on a shared machine.
      local tc, tg = {}, {}
      for r = 1, runs * 3 do
        tc[r] = median(function()
          cv.no_grad(function() cv.nn.conv2d(xin, w, b, geo) end)
        end, 1)
        tg[r] = median(function()
          cv.no_grad(function() for _ = 1, g do cv.matmul(a, bm) end end)
        end, 1)
      end
      table.sort(tc)
      table.sort(tg)
      local t_conv, t_gemm = tc[(#tc + 1) // 2], tg[(#tg + 1) // 2]
      rows[#rows + 1] = {l.name, m, n, k, g, flop / t_conv / 1e9, flop / t_gemm / 1e9}
    end
  end
  return rows
end

local function peer(threads_)
  return require("scripts.bench.support").peer(PEER, threads_, runs)
end

local function cpu_line()
  for line in io.lines("/proc/cpuinfo") do
    local m = line:match("^model name%s*:%s*(.*)")
    if m then return m end
  end
  return "?"
end

local function main()
  ensure_weights()
  cv.set_num_threads(threads)
  local rss0 = rss_mb()
  local net = cv.caffe.load(PROTO, WEIGHTS)
  collectgarbage()
  local rss_load = rss_mb()
  cv.manual_seed(2)
  local x1, x16 = cv.randn(1, 3, 227, 227) * 50, cv.randn(16, 3, 227, 227) * 50
  local function fwd(x) cv.no_grad(function() net:forward(x, {keep = {"prob"}}) end) end
  fwd(x1)
  collectgarbage()
  local rss_fwd = rss_mb()
  local c1 = cpu_per_call(function() fwd(x1) end, runs * 2)
  fwd(x16)
  local c16 = cpu_per_call(function() fwd(x16) end, math.max(3, runs // 2))
  local convs = conv_table(net)
  cv.nn.kernel_choices{reset = true} -- the layer table's own calls
  -- Rounds in turn with the peer; before its turn, the memory kept for
  -- reuse goes back (the weights stay loaded).
  local t1, t16, theirs1, theirs16, ratio1, ratio16 = {}, {}, {}, {}, {}, {}
  local p
  for r = 1, rounds do
    fwd(x1)
    t1[r] = median(function() fwd(x1) end, runs)
    fwd(x16)
    t16[r] = median(function() fwd(x16) end, math.max(3, runs // 2))
    cv.free_cached_memory()
    collectgarbage()
    p = peer(threads)
    theirs1[r], theirs16[r] = p.batch1 or 0 / 0, p.batch16 or 0 / 0
    ratio1[r], ratio16[r] = theirs1[r] / t1[r], theirs16[r] / t16[r]
  end
  local middle = bench.median

  print(string.format("CaffeNet forward, 227x227, random weights, %d threads, medians of %d runs "
    .. "in each of %d rounds taken in turn with the peer", threads, runs, rounds))
  print("cpu: " .. cpu_line() .. ", kernels " .. bench.isa())
  print(string.format("%-22s %12s %12s %10s  %s", "", "cnnvis", "pytorch", "peer/ours", "target"))
  local function row(name, ours, theirs, ratio, target)
    print(string.format("%-22s %9.1f ms %9.1f ms %9.2fx  %s", name, ours * 1e3, theirs * 1e3,
      ratio, target or ""))
  end
  row("forward batch 1", middle(t1), middle(theirs1), middle(ratio1), ">= 2.0 (goal 2.5)")
  row("forward batch 16 /img", middle(t16) / 16, middle(theirs16) / 16, middle(ratio16),
    ">= 1.3 (goal 1.5)")
  local cpu1, cpu16 = p.cpu1 or 0 / 0, p.cpu16 or 0 / 0
  row("cpu time batch 1", c1, cpu1, cpu1 / c1)
  row("cpu time b16 /img", c16 / 16, cpu16 / 16, cpu16 / c16)
  print(string.format("%-22s %9.0f MB %9.0f MB", "RSS after load", rss_load, p.rss_load or 0 / 0))
  print(string.format("%-22s %9.0f MB %9.0f MB   (target <= 320 MB; %0.f MB before load)",
    "RSS after fwd batch 1", rss_fwd, p.rss_forward or 0 / 0, rss0))
  print()
  print("conv layers at batch 1: GFLOP/s of the layer vs sgemm on its GEMM shapes (MxNxK, groups)")
  for _, r in ipairs(convs) do
    print(string.format("  %-6s %4d x %5d x %5d  g%d   layer %6.1f   sgemm %6.1f   %3.0f%%",
      r[1], r[2], r[3], r[4], r[5], r[6], r[7], 100 * r[6] / r[7]))
  end
  bench.print_kernel_choices("by the forward at batch 1 and 16")
end

main()
