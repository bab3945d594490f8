-- Tensor math against plain C: sgemm, memcpy and the launcher's start-up.
-- Prints rows of the table run.sh heads; times are medians of several runs.
-- A ratio is peer time / cnnvis time: 1.00 means as fast as the peer.
local cv = require "cnnvis"

-- BENCH_THREADS (run.sh sets it) fixes the thread count of both sides.
local threads = tonumber(os.getenv("BENCH_THREADS") or "")
if threads then cv.set_num_threads(threads) end
local peer = (threads and ("OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d "):format(threads, threads) or "") ..
  (os.getenv("CNNVIS_BENCH_PEERS") or "build/bench") .. "/sgemm_peer"

local median = require("scripts.bench.support").median

-- Median seconds of reps calls of fn, after one warm-up call.
local function time(reps, fn)
  fn()
  local t = {}
  for r = 1, reps do
    local t0 = cv.clock()
    fn()
    t[r] = cv.clock() - t0
  end
  return median(t)
end

-- The peer's median, or nil when it fails.
local function peer_time(args)
  local p = assert(io.popen(peer .. " " .. args))
  local out = p:read("a")
  p:close()
  return tonumber(out)
end

local function ms(s) return s and string.format("%9.2f ms", s * 1e3) or "n/a" end

-- ratio: given, or theirs / mine.
local function row(name, mine, theirs, goal, ratio)
  ratio = ratio or (mine and theirs and theirs / mine)
  print(string.format("%-34s %12s %12s %8s  %s", name, ms(mine), ms(theirs),
    ratio and string.format("%8.2f", ratio) or "n/a", goal or ""))
end

-- Interleaves the two sides over a few rounds so that load from elsewhere on
-- the machine hits both alike. Returns the median time of each side and the
-- median of the per-round ratios (peer / cnnvis).
local function rounds(n, mine_fn, peer_args)
  local mine, theirs, ratios = {}, {}, {}
  for r = 1, n do
    theirs[r] = peer_time(peer_args)
    mine[r] = mine_fn()
    ratios[r] = theirs[r] and theirs[r] / mine[r]
  end
  if not theirs[1] then return median(mine) end
  return median(mine), median(theirs), median(ratios)
end

do
  local f = io.open("/proc/loadavg")
  local load = f and f:read("l")
  if f then f:close() end
  print(string.format("(load average %s, %d threads; times are medians, a ratio " ..
    "is peer / cnnvis, for interleaved rounds the median of their ratios)",
    load and load:match("^(%S+)") or "?", cv.get_num_threads()))
end

cv.manual_seed(1)
for _, n in ipairs{1024, 2048} do
  local reps = n == 1024 and 9 or 3
  local a, b, out = cv.randn(n, n), cv.randn(n, n), cv.empty(n, n)
  local mine, theirs, ratio = rounds(5, function()
    return time(reps, function() cv.matmul(a, b, out) end)
  end, string.format("sgemm %d %d", n, reps))
  row(string.format("matmul %dx%d (out=) vs sgemm", n, n), mine, theirs,
    ">= 0.95", ratio)
  mine = time(reps, function() return cv.matmul(a, b) end)
  row(string.format("matmul %dx%d (new result)", n, n), mine, theirs, "")
end

do
  local n = 16 * 1024 * 1024
  local a, b, out = cv.rand(n), cv.rand(n), cv.empty(n)
  local mine, theirs, ratio = rounds(5, function()
    return time(9, function() cv.add(a, b, out) end)
  end, string.format("memcpy %d 9", n))
  row("add 16M floats (out=) vs memcpy", mine, theirs, "", ratio)
  mine = time(9, function() return a + b end)
  row("a + b 16M floats vs memcpy", mine, theirs, "")
  collectgarbage()
end

do
  local bin = os.getenv("CNNVIS_BIN") or "build/bin/cnnvis"
  local lua_t = peer_time("spawn 20 lua5.4 -e ''")
  local mine = peer_time("spawn 20 " .. bin .. " -e ''")
  if mine then
    row("cnnvis -e '' (vs lua5.4 -e '')", mine, lua_t, "<= 20 ms")
  else
    print(string.format("%-34s %12s %12s %8s  %s", "cnnvis -e '' (vs lua5.4 -e '')",
      "n/a", ms(lua_t), "", "<= 20 ms: n/a (launcher has no -e)"))
  end
end
