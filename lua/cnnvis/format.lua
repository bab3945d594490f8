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

--- The metatable of the size tables `t:size()` returns: still plain
-- tables (indexing, #, ipairs, table.concat, table.unpack, assert.same),
-- printed as `{48, 1, 3, 3}`.
M.Size = {__name = "cnnvis.Size"}
function M.Size.__tostring(s)
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- s (a list of dims) as a size object.
function M.size(s)
  return setmetatable(s, M.Size)
end

local WIDTH = 78    -- a table is shown on one line when it fits
local MAX_ITEMS = 12 -- entries shown of a long list
local MAX_DEPTH = 4

local function is_tensor(v)
  local mt = getmetatable(v)
  return type(v) == "userdata" and mt ~= nil and mt.__name == "cnnvis.Tensor"
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  if type(v) == "string" then return string.format("%q", v) end
  if math.type(v) == "float" and v == v and v ~= math.huge and v ~= -math.huge
     and v ~= math.floor(v) then
    return string.format("%.6g", v)
  end
  return tostring(v)
end

local show

-- The entries of table t as "key = value" strings, the list part first.
local function entries(t, indent, depth, seen)
  local out, n = {}, #t
  for i = 1, math.min(n, MAX_ITEMS) do out[#out + 1] = show(t[i], indent, depth, seen) end
  if n > MAX_ITEMS then out[#out + 1] = string.format("... (%d in all)", n) end
  local keys = {}
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  for _, k in ipairs(keys) do
    local name = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. scalar(k) .. "]"
    out[#out + 1] = name .. " = " .. show(t[k], indent, depth, seen)
  end
  return out
end

show = function(v, indent, depth, seen)
  if is_tensor(v) then
    local size = v:size()
    return "tensor(size " .. (#size == 0 and "scalar" or table.concat(size, "x")) .. ")"
  end
  if type(v) ~= "table" then return scalar(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  if seen[v] then return "{...}" end
  if depth >= MAX_DEPTH then return next(v) == nil and "{}" or "{...}" end
  seen[v] = true
  local inner = indent .. "  "
  local items = entries(v, inner, depth + 1, seen)
  seen[v] = nil
  if #items == 0 then return "{}" end
  local line = "{" .. table.concat(items, ", ") .. "}"
  if #line + #indent <= WIDTH and not line:find("\n") then return line end
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

--- v as the REPL shows it: a table (the API's results: net.params, what
-- classify returns, a data set's item) as nested, readable lines, with
-- tensors inside it by their size; anything else as tostring does.
function M.show(v)
  if type(v) ~= "table" then return tostring(v) end
  return show(v, "", 0, {})
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
