--- What the benchmarks share: medians and timing (`local bench = require
-- "scripts.bench.support"`; the benchmarks run from the repository root).
local cv = require "cnnvis"

local M = {}

--- The median of a list of numbers (the list is left as it was).
function M.median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

--- The wall times in seconds of n calls of fn, appended to `into` (a new
-- list when nil).
function M.times(fn, n, into)
  local t = into or {}
  for _ = 1, n do
    local t0 = cv.clock()
    fn()
    t[#t + 1] = cv.clock() - t0
  end
  return t
end

--- The median wall time in seconds of n calls of fn.
function M.time(fn, n)
  return M.median(M.times(fn, n))
end

--- The smallest number of a list.
function M.min(list)
  local m = math.huge
  for _, v in ipairs(list) do m = math.min(m, v) end
  return m
end

--- A net of the prototxt with seeded random weights the size a trained net
-- has (weights N(0, 1/fan_in), biases N(0, 0.01^2)): what the peers use too.
function M.random_net(prototxt)
  cv.manual_seed(1)
  local net = cv.caffe.load(prototxt)
  cv.no_grad(function()
    for _, p in pairs(net.params) do
      local fan = p.weight:numel() / p.weight:size(1)
      p.weight:copy_(cv.randn(p.weight:size()) * (1 / math.sqrt(fan)))
      p.bias:copy_(cv.randn(p.bias:size()) * 0.01)
    end
  end)
  return net
end

--- Runs a PyTorch peer script with Debian's python3 (which sees python3-torch)
-- and reads its "key value" lines into a table of numbers ("key v1,v2,..."
-- gives a list).
function M.peer(script, ...)
  local args = {}
  for i, a in ipairs{...} do args[i] = tostring(a) end
  local p = assert(io.popen("/usr/bin/python3 " .. script .. " " .. table.concat(args, " ")))
  local out = {}
  for line in p:lines() do
    local k, v = line:match("^(%S+)%s+(%S+)$")
    if k and v:find(",", 1, true) then
      out[k] = {}
      for x in v:gmatch("[^,]+") do out[k][#out[k] + 1] = tonumber(x) end
    elseif k then
      out[k] = tonumber(v)
    end
  end
  p:close()
  return out
end

--- The build's kernels in one line: "avx2+fma, 8 lanes" (cv.nn.kernel_choices).
function M.isa()
  local k = cv.nn.kernel_choices()
  return string.format("%s, %d lanes", k.isa, k.lanes)
end

--- Prints which kernel served which shape since the last call (the table
-- of cv.nn.kernel_choices, which it then forgets), one line each, under a
-- title.
function M.print_kernel_choices(title)
  local k = cv.nn.kernel_choices{reset = true}
  print(string.format("kernels chosen %s (%s, %d lanes):", title, k.isa, k.lanes))
  for _, c in ipairs(k) do
    print(string.format("  %-26s %-40s %s", c.op, c.shape, c.kernel))
  end
  if k.dropped > 0 then print(string.format("  (%d more not kept)", k.dropped)) end
end

return M
