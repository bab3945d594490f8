--- JSON for the analyses' results: exact and the same every time.
--
--   cv.json.encode({layer = "conv1", range = {-1.5, 2}})  --> {"layer":"conv1","range":[-1.5,2]}
--   cv.json.decode('{"a": [1, 2.5]}')                    --> {a = {1, 2.5}}
--
-- Keys are written sorted and numbers as the shortest text that reads back
-- as the same double, so that two runs (or shards merged) that computed the
-- same values write the same bytes; general-purpose encoders keep neither.
-- A table with keys 1..n (n >= 1) is an array; an empty table is `[]` unless
-- made with json.object(); NaN and infinities, which JSON lacks, are null.
local M = {}

local OBJECT = setmetatable({}, {__mode = "k"})

--- t (default: a new table) marked to be written as an object even when empty.
function M.object(t)
  t = t or {}
  OBJECT[t] = true
  return t
end

local ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
                 ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode_number(v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", math.tointeger(v)) end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
end

local function array_length(t)
  local n = #t
  if n == 0 then return next(t) == nil and not OBJECT[t] and 0 or nil end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n and n or nil
end

local encode_value

local function encode_table(t, seen, path)
  if seen[t] then error("json.encode: " .. path .. " refers back to itself", 0) end
  seen[t] = true
  local parts, n = {}, array_length(t)
  if n then
    for i = 1, n do parts[i] = encode_value(t[i], seen, path .. "[" .. i .. "]") end
    seen[t] = nil
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" and math.type(k) ~= "integer" then
      error("json.encode: " .. path .. " has a key of type " .. type(k), 0)
    end
    keys[#keys + 1] = tostring(k)
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[math.tointeger(tonumber(k))] end
    parts[i] = encode_string(k) .. ":" .. encode_value(v, seen, path .. "." .. k)
  end
  seen[t] = nil
  return "{" .. table.concat(parts, ",") .. "}"
end

function encode_value(v, seen, path)
  local kind = type(v)
  if kind == "string" then return encode_string(v) end
  if kind == "number" then return encode_number(v) end
  if kind == "boolean" then return tostring(v) end
  if v == nil then return "null" end
  if kind == "table" then return encode_table(v, seen, path) end
  if kind == "userdata" and v.totable then return encode_value(v:totable(), seen, path) end
  error("json.encode: " .. path .. " is a " .. kind, 0)
end

--- The JSON text of v (tables, strings, numbers, booleans; tensors as nested arrays).
function M.encode(v)
  return encode_value(v, {}, "value")
end

-- ---- decoding ------------------------------------------------------------

local function decode_error(s, at, what)
  local line, col = 1, 1
  for i = 1, at - 1 do
    if s:byte(i) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  error(string.format("json: %s at line %d, column %d", what, line, col), 0)
end

local function skip(s, at)
  return s:find("[^ \t\r\n]", at) or #s + 1
end

local decode_value

local function decode_string(s, at)
  local parts, i = {}, at + 1
  while true do
    local j = s:find('["\\]', i)
    if not j then decode_error(s, at, "unterminated string") end
    parts[#parts + 1] = s:sub(i, j - 1)
    if s:sub(j, j) == '"' then return table.concat(parts), j + 1 end
    local c = s:sub(j + 1, j + 1)
    if c == "u" then
      local hex = s:match("^%x%x%x%x", j + 2)
      if not hex then decode_error(s, j, "bad \\u escape") end
      local code = tonumber(hex, 16)
      local lo = code >= 0xD800 and code < 0xDC00 and s:match("^\\u(%x%x%x%x)", j + 6)
      if lo then
        code = 0x10000 + ((code - 0xD800) << 10) + (tonumber(lo, 16) - 0xDC00)
        i = j + 12
      else
        i = j + 6
      end
      parts[#parts + 1] = utf8.char(code)
    else
      local map = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                   r = "\r", t = "\t"}
      if not map[c] then decode_error(s, j, "bad escape \\" .. c) end
      parts[#parts + 1], i = map[c], j + 2
    end
  end
end

local function decode_list(s, at, close, item)
  local i = skip(s, at + 1)
  if s:sub(i, i) == close then return i + 1 end
  while true do
    i = item(i)
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == close then return i + 1 end
    if c ~= "," then decode_error(s, i, "expected ',' or '" .. close .. "'") end
    i = skip(s, i + 1)
  end
end

function decode_value(s, at)
  at = skip(s, at)
  local c = s:sub(at, at)
  if c == "{" then
    local t = M.object()
    local stop = decode_list(s, at, "}", function(i)
      if s:sub(i, i) ~= '"' then decode_error(s, i, "expected a key") end
      local key, j = decode_string(s, i)
      j = skip(s, j)
      if s:sub(j, j) ~= ":" then decode_error(s, j, "expected ':'") end
      local v
      v, j = decode_value(s, j + 1)
      t[key] = v
      return j
    end)
    return t, stop
  elseif c == "[" then
    local t, n = {}, 0
    local stop = decode_list(s, at, "]", function(i)
      local v, j = decode_value(s, i)
      n = n + 1
      t[n] = v
      return j
    end)
    return t, stop
  elseif c == '"' then
    return decode_string(s, at)
  end
  local number = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", at)
  if number and #number > 0 then
    local v = math.tointeger(tonumber(number)) or tonumber(number)
    if not v then decode_error(s, at, "bad number") end
    return v, at + #number
  end
  for word, v in pairs({["true"] = true, ["false"] = false}) do
    if s:sub(at, at + #word - 1) == word then return v, at + #word end
  end
  if s:sub(at, at + 3) == "null" then return nil, at + 4 end
  decode_error(s, at, at > #s and "unexpected end" or "unexpected '" .. c .. "'")
end

--- The value of JSON text s (null is nil; objects are marked as json.object).
function M.decode(s)
  if type(s) ~= "string" then error("json.decode: give a string", 2) end
  local v, at = decode_value(s, 1)
  at = skip(s, at)
  if at <= #s then decode_error(s, at, "text after the value") end
  return v
end

--- The value of the JSON file at path; errors name the file.
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then error(err, 0) end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(M.decode, s)
  if not ok then error(path .. ": " .. tostring(v), 0) end
  return v
end

return M
