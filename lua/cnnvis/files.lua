--- Output files: folders, writes that never leave a half-written file
-- looking complete, and file names made from a model's names.
--
--   cv.files.mkdir("out/run1/grids")                 -- with its parents
--   cv.files.write("out/run1/a.json", text)          -- temp name, then rename
--   local name = cv.files.namer()
--   name("fire2/squeeze1x1", ".png")  --> "fire2_squeeze1x1.png"
--   name("fire2_squeeze1x1", ".png")  --> "fire2_squeeze1x1-2.png"  (no collision)
local lfs = require "lfs"

local M = {}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

-- A suffix no other writer in this process or another uses at the same
-- time (a table's address is unique while it lives; the clock parts
-- processes). Lua's math.random is the user's and stays untouched.
local function unique_suffix()
  return string.format("%x%s", math.floor(os.clock() * 1e6), (tostring({}):match("0x(%x+)") or ""))
end

--- Makes folder path and its parents; an existing folder is fine.
function M.mkdir(path)
  if type(path) ~= "string" or path == "" then fail("mkdir: give a folder name") end
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. part
    local mode = lfs.attributes(prefix, "mode")
    if mode == nil then
      local ok, err = lfs.mkdir(prefix)
      if not ok and lfs.attributes(prefix, "mode") ~= "directory" then
        fail("cannot make folder '%s': %s", prefix, tostring(err))
      end
    elseif mode ~= "directory" then
      fail("cannot make folder '%s': a file of that name is in the way", prefix)
    end
    prefix = prefix .. "/"
  end
  return path
end

--- Writes content (a string, or a function given a file handle to write
-- to) to path through a temporary name beside it, renamed over path only
-- when all of it is written: a reader never sees half a file.
function M.write(path, content)
  local tmp = path .. ".tmp" .. unique_suffix()
  local f, err = io.open(tmp, "wb")
  if not f then fail("cannot write '%s': %s", path, (tostring(err):gsub("^[^:]*: ", ""))) end
  local ok, werr = pcall(function()
    if type(content) == "function" then content(f) else assert(f:write(content)) end
  end)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    fail("cannot write '%s': %s", path, tostring(ok and cerr or werr))
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    fail("cannot write '%s': %s", path, tostring(rerr))
  end
  return path
end

--- Saves through a saver that takes a path (png, svg, npy, nrrd writers),
-- under a temporary name renamed to path when the saver returns.
function M.save_with(path, saver)
  local ext = path:match("%.[%w]+$") or ""
  local tmp = path:sub(1, #path - #ext) .. ".tmp" .. unique_suffix() .. ext
  local ok, err = pcall(saver, tmp)
  if not ok then
    os.remove(tmp)
    error(err, 0)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    fail("cannot write '%s': %s", path, tostring(rerr))
  end
  return path
end

--- s with every character other than letters, digits, `.`, `_` and `-`
-- made `_` (a layer `fire2/squeeze1x1` becomes `fire2_squeeze1x1`); never
-- empty, never starting with a dot.
function M.safe_name(s)
  s = tostring(s):gsub("[^%w%._%-]", "_"):gsub("^%.", "_")
  return s == "" and "_" or s
end

--- A function name(s, ext) giving safe file names that are unique for
-- the namer: the same s again gives the same name; two names that become
-- alike once made safe (`a/b` and `a_b`) get `-2`, `-3`, ... after the
-- second one.
function M.namer()
  local by_source, taken = {}, {}
  return function(s, ext)
    ext = ext or ""
    local key = tostring(s) .. "\0" .. ext
    if by_source[key] then return by_source[key] end
    local base, name, k = M.safe_name(s), nil, 1
    repeat
      name = base .. (k > 1 and "-" .. k or "") .. ext
      k = k + 1
    until not taken[name]
    taken[name], by_source[key] = true, name
    return name
  end
end

--- Whether path names an existing file or folder.
function M.exists(path)
  return lfs.attributes(path, "mode") ~= nil
end

return M
