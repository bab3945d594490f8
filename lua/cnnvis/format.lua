--- Printing tensors as PyTorch does: values in aligned columns, the middle
-- left out when a tensor is large, the shape on the last line.
local M = {}

local EDGE = 3          -- items kept at each end of an abbreviated dimension
local THRESHOLD = 1000  -- tensors with more elements are abbreviated

local function number_format(values)
  local all_int, maxabs = true, 0
  for _, v in ipairs(values) do
    if v ~= v or v == math.huge or v == -math.huge then
      -- nan / inf do not change the format
    else
      if v ~= math.floor(v) then all_int = false end
      if math.abs(v) > maxabs then maxabs = math.abs(v) end
    end
  end
  if all_int and maxabs < 1e8 then
    return function(v) return (v ~= v or math.abs(v) == math.huge) and tostring(v) or string.format("%d", v) end
  end
  if maxabs >= 1e5 or (maxabs < 1e-4 and maxabs > 0) then
    return function(v) return string.format("%.4e", v) end
  end
  return function(v) return string.format("%.4f", v) end
end

-- The values shown, in order, from a nested table of a tensor.
local function shown_indices(n, abbreviate)
  if not abbreviate or n <= 2 * EDGE then
    local idx = {}
    for i = 1, n do idx[#idx + 1] = i end
    return idx
  end
  local idx = {}
  for i = 1, EDGE do idx[#idx + 1] = i end
  idx[#idx + 1] = false -- the "..." marker
  for i = n - EDGE + 1, n do idx[#idx + 1] = i end
  return idx
end

local function collect(t, abbreviate, out)
  if t:dim() == 0 then out[#out + 1] = t:item(); return end
  for _, i in ipairs(shown_indices(t:size(1), abbreviate)) do
    if i then collect(t[i], abbreviate, out) end
  end
end

local function render(t, abbreviate, fmt, width, indent)
  if t:dim() == 0 then return fmt(t:item()) end
  local parts, sep = {}, t:dim() == 1 and ", " or (",\n" .. string.rep("\n", t:dim() - 2) .. indent .. " ")
  for _, i in ipairs(shown_indices(t:size(1), abbreviate)) do
    if i then
      local s = t:dim() == 1 and string.format("%" .. width .. "s", fmt(t[i]:item()))
                             or render(t[i], abbreviate, fmt, width, indent .. " ")
      parts[#parts + 1] = s
    else
      parts[#parts + 1] = "..."
    end
  end
  return "[" .. table.concat(parts, sep) .. "]"
end

--- The text `print(t)` shows.
function M.tensor(t)
  local size = t:size()
  local shape = #size == 0 and "scalar" or table.concat(size, "x")
  if t:numel() == 0 then return "tensor([], size " .. shape .. ")" end
  local abbreviate = t:numel() > THRESHOLD
  local values = {}
  collect(t, abbreviate, values)
  local fmt, width = number_format(values), 0
  for _, v in ipairs(values) do width = math.max(width, #fmt(v)) end
  return "tensor(" .. render(t, abbreviate, fmt, width, "       ") .. ", size " .. shape .. ")"
end

return M
