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

--- The median wall time in seconds of n calls of fn.
function M.time(fn, n)
  local t = {}
  for i = 1, n do
    local t0 = cv.clock()
    fn()
    t[i] = cv.clock() - t0
  end
  return M.median(t)
end

--- Runs a PyTorch peer script with Debian's python3 (which sees python3-torch)
-- and reads its "key value" lines into a table of numbers.
function M.peer(script, ...)
  local args = {}
  for i, a in ipairs{...} do args[i] = tostring(a) end
  local p = assert(io.popen("/usr/bin/python3 " .. script .. " " .. table.concat(args, " ")))
  local out = {}
  for line in p:lines() do
    local k, v = line:match("^(%S+)%s+(%S+)$")
    if k then out[k] = tonumber(v) end
  end
  p:close()
  return out
end

return M
