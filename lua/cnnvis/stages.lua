--- The stages of a report: each analysis runs once, as a script in a process
-- of its own (`cnnvis scripts/<name>.lua --out DIR/<name> ...`) or as a
-- function in this one, and its JSON result is cached under the report's
-- folder, keyed by the content of the files it reads (model, mean, labels,
-- the script itself), the listing of the folders it reads and its options.
-- A stage whose key has not changed is not run again; one that fails is
-- recorded with its message, and the next stage runs all the same.
--
--   local stages = require "cnnvis.stages"
--   local run = stages.new{dir = "out/report", fresh = false}
--   local r = run:stage{name = "volume", script = "scripts/volume.lua",
--                       args = {"--layer", "conv1"}, files = {prototxt, caffemodel}}
--   if r.ok then print(r.result.nrrd) else print(r.error) end
--   for _, row in ipairs(run:timings()) do print(row.name, row.seconds) end
local core = require "cnnvis.core"
local files = require "cnnvis.files"
local json = require "cnnvis.json"
local lfs = require "lfs"

local M = {}

local function fail(fmt, ...) error("stages: " .. string.format(fmt, ...), 0) end

--- s quoted for sh.
local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- ---- keys -------------------------------------------------------------------

--- The SHA-256 of a file's content (coreutils' sha256sum), or nil when it
-- cannot be read. memo (a table): hashes already taken, by path, so that a
-- run reads the model once for all its stages.
function M.file_hash(path, memo)
  if memo and memo[path] then return memo[path] end
  if not lfs.attributes(path, "size") then return nil end
  local p = io.popen("sha256sum -- " .. quote(path) .. " 2>/dev/null")
  local hash = p:read("a"):match("^(%x+)")
  p:close()
  if memo then memo[path] = hash end
  return hash
end

local function text_hash(s)
  local tmp = os.tmpname()
  files.write(tmp, s)
  local h = M.file_hash(tmp)
  os.remove(tmp)
  return h
end

-- Every file under dir, sorted, with its size and time: a folder of images
-- is keyed by its listing (hashing a folder of photos would cost more than
-- most stages).
local function listing(dir, prefix, out)
  local names = {}
  for name in lfs.dir(dir) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local path = dir .. "/" .. name
    local a = lfs.attributes(path)
    if a and a.mode == "directory" then
      listing(path, prefix .. name .. "/", out)
    elseif a then
      out[#out + 1] = string.format("%s%s %d %d", prefix, name, a.size, a.modification)
    end
  end
  return out
end

--- The key of a stage: the text that must be the same for its cached
-- result to be used (see stage()); memo as for file_hash.
function M.key(spec, memo)
  local lines = {"stage " .. spec.name}
  if spec.script then
    lines[#lines + 1] = "script " .. (M.file_hash(spec.script, memo) or "missing")
  end
  for _, a in ipairs(spec.args or {}) do lines[#lines + 1] = "arg " .. a end
  for _, f in ipairs(spec.files or {}) do
    lines[#lines + 1] = "file " .. (M.file_hash(f, memo) or ("missing " .. f))
  end
  for _, d in ipairs(spec.dirs or {}) do
    local ok, l = pcall(listing, d, "", {})
    lines[#lines + 1] = "dir " .. (ok and text_hash(table.concat(l, "\n")) or ("missing " .. d))
  end
  if spec.key ~= nil then lines[#lines + 1] = "key " .. json.encode(spec.key) end
  return table.concat(lines, "\n")
end

-- ---- the runner ---------------------------------------------------------------

local Runner = {}
Runner.__index = Runner

local function stderr_is_tty()
  return os.execute("[ -t 2 ]") == true
end

--- A runner writing into opts.dir (the report's folder: stage <name> gets
-- DIR/<name>/, its cache record and log go to DIR/.stages/). opts: fresh
-- (true: run every stage again), bin (the launcher; default $CNNVIS_BIN or
-- the running one), tty (draw bars; default: when stderr is a terminal),
-- write (function(text) for the bars and summaries; default stderr),
-- prefix (of summary lines; default "report: "), extra_args (given to
-- every script after its own, not part of any key: settings that change
-- how fast, not what, such as --batch).
function M.new(opts)
  opts = opts or {}
  if type(opts.dir) ~= "string" then fail("new needs dir, the report's folder") end
  local bin = opts.bin or os.getenv("CNNVIS_BIN")
  if not bin and arg then
    local i = -1
    while arg[i - 1] do i = i - 1 end
    bin = arg[i]
  end
  local self = setmetatable({dir = opts.dir, fresh = opts.fresh, bin = bin,
    tty = opts.tty == nil and stderr_is_tty() or opts.tty,
    write = opts.write or function(s) io.stderr:write(s) io.stderr:flush() end,
    prefix = opts.prefix or "report: ", records = {}, hashes = {}, extra_args = opts.extra_args or {}}, Runner)
  files.mkdir(self.dir .. "/.stages")
  return self
end

-- The bar of a running stage: done/total when known, else the share of the
-- time the stage took last time (capped), else a block that moves.
function Runner:_bar(name, elapsed, done, total, expected)
  if not self.tty then return end
  local width, frac = 24, nil
  if done and total and total > 0 then
    frac = math.min(1, done / total)
  elseif expected and expected > 0 then
    frac = math.min(0.99, elapsed / expected)
  end
  local bar
  if frac then
    local k = math.floor(frac * width)
    bar = string.rep("#", k) .. string.rep(".", width - k)
  else
    local k = math.floor(elapsed * 4) % (width - 3)
    bar = string.rep(".", k) .. "###" .. string.rep(".", width - 3 - k)
  end
  local tail = done and total and string.format("%d/%d", done, total) or ""
  self.write(string.format("\r  %-20s [%s] %6.1f s %s\27[K", name, bar, elapsed, tail))
end

function Runner:_summary(r)
  if self.tty then self.write("\r\27[K") end
  local how = r.cached and "cached" or (r.ok and "ok" or "FAILED")
  local line = string.format("%s%-20s %7.1f s  %s", self.prefix, r.name, r.seconds, how)
  if not r.ok then line = line .. ": " .. r.error end
  self.write(line .. "\n")
end

-- The last lines of a stage's log: its error message, without the
-- traceback the launcher adds.
local function error_from_log(log, status)
  local lines = {}
  for line in (log or ""):gmatch("[^\r\n]+") do
    if line:match("^stack traceback:") then break end
    if not line:match("^Script started on") and not line:match("^Script done on") then
      lines[#lines + 1] = line
    end
  end
  local last = lines[#lines]
  if last then return (last:gsub("^cnnvis: ", "")) end
  return "exit status " .. tostring(status)
end

-- Progress that a script printed to its log (its last "done/total").
local function progress_from_log(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  f:seek("set", math.max(0, size - 300))
  local tail = f:read("a") or ""
  f:close()
  local done, total
  for a, b in tail:gmatch("(%d+)/(%d+)") do done, total = tonumber(a), tonumber(b) end
  return done, total
end

-- Where a stage's result is: spec.json, else <script name>.json, else the
-- one JSON file the script wrote.
local function result_path(spec, dir)
  local name = spec.json or (spec.script and spec.script:match("([^/]+)%.lua$") or spec.name) .. ".json"
  local path = dir .. "/" .. name
  if spec.json or lfs.attributes(path) or not lfs.attributes(dir) then return path end
  local found
  for f in lfs.dir(dir) do
    if f:match("%.json$") then
      if found then return path end
      found = f
    end
  end
  return found and (dir .. "/" .. found) or path
end

function Runner:_run_script(spec, dir, log, expected, t0)
  if not self.bin then fail("no launcher to run %s with (set CNNVIS_BIN)", spec.script) end
  local rc = self.dir .. "/.stages/" .. spec.name .. ".rc"
  os.remove(rc)
  local cmd = {quote(self.bin), quote(spec.script)}
  for _, a in ipairs(spec.args or {}) do cmd[#cmd + 1] = quote(a) end
  for _, a in ipairs(self.extra_args) do cmd[#cmd + 1] = quote(a) end
  cmd[#cmd + 1] = "--out"
  cmd[#cmd + 1] = quote(dir)
  -- The stage runs in the background; the loop prints a tick every 0.2 s
  -- for the bar, and the exit status at the end. On a terminal the script
  -- runs under script(1), so that it sees one and logs its own progress bar
  -- ("done/total"), which the runner's bar follows.
  local run = table.concat(cmd, " ")
  if self.tty then
    run = string.format("script -q -e -c %s %s </dev/null >/dev/null", quote(run), quote(log))
  else
    run = string.format("%s </dev/null >%s 2>&1", run, quote(log))
  end
  local sh = string.format("(%s; echo $? >%s) & while [ ! -s %s ]; do sleep 0.2; echo .; done; cat %s",
    run, quote(rc), quote(rc), quote(rc))
  local p = io.popen(sh)
  local status
  for line in p:lines() do
    if line == "." then
      if self.tty then
        local done, total = progress_from_log(log)
        self:_bar(spec.name, core.clock() - t0, done, total, expected)
      end
    else
      status = tonumber(line)
    end
  end
  p:close()
  os.remove(rc)
  local text = read_file(log) or ""
  if status ~= 0 then return nil, error_from_log(text, status) end
  local out = result_path(spec, dir)
  local body = read_file(out)
  if not body then return nil, string.format("%s wrote no %s", spec.script, out) end
  local ok, result = pcall(json.decode, body)
  if not ok then return nil, out .. ": " .. tostring(result) end
  return result
end

function Runner:_run_function(spec, dir, t0)
  local function progress(done, total) self:_bar(spec.name, core.clock() - t0, done, total) end
  local ok, result = pcall(spec.run, dir, progress)
  if not ok then
    return nil, (tostring(result):gsub("^[^:\n]*%.lua:%d+: ", ""))
  end
  if type(result) ~= "table" then return nil, "the stage returned no table" end
  files.write(dir .. "/" .. spec.name .. ".json", json.encode(result))
  return result
end

--- Runs one stage, or takes its cached result. spec: name (letters,
-- digits, _ -; the folder DIR/<name>), then either script (a path) and args
-- (a list of strings; --out DIR/<name> is added) or run (function(dir,
-- progress) returning the result table, progress(done, total) draws the
-- bar); files (paths whose content is part of the key: model, mean, labels),
-- dirs (folders whose listing is), key (any other values the result depends
-- on), json (the result file's name in DIR/<name>; default the script's
-- name .json, or the one JSON file the script wrote),
-- needs (results of earlier stages: a failed one fails this one with a
-- note). Returns {name, ok, result, error, seconds, cached, dir (the
-- folder, relative to the report's), log}.
function Runner:stage(spec)
  if type(spec) ~= "table" or type(spec.name) ~= "string" or not spec.name:match("^[%w_-]+$") then
    fail("a stage needs a name of letters, digits, _ -")
  end
  if not spec.script == not spec.run then fail("stage %s needs script or run (one of them)", spec.name) end
  local dir = self.dir .. "/" .. spec.name
  local record_path = self.dir .. "/.stages/" .. spec.name .. ".json"
  local log = self.dir .. "/.stages/" .. spec.name .. ".log"
  local r = {name = spec.name, dir = spec.name, log = log}
  local t0 = core.clock()
  for _, need in ipairs(spec.needs or {}) do
    if not need.ok then
      r.ok, r.error, r.seconds = false, "needs " .. need.name .. ", which failed", 0
      self.records[#self.records + 1] = r
      self:_summary(r)
      return r
    end
  end
  if spec.script and not lfs.attributes(spec.script) then
    r.ok, r.error, r.seconds = false, spec.script .. " is not in this tree", 0
    self.records[#self.records + 1] = r
    self:_summary(r)
    return r
  end
  local key = M.key(spec, self.hashes)
  local old_body = read_file(record_path)
  local old = old_body and select(2, pcall(json.decode, old_body))
  if type(old) ~= "table" then old = nil end
  local out = spec.run and (dir .. "/" .. spec.name .. ".json") or result_path(spec, dir)
  if not self.fresh and old and old.key == key and old.ok then
    local body = read_file(out)
    local ok, result = pcall(json.decode, body or "")
    if body and ok and type(result) == "table" then
      r.ok, r.result, r.cached, r.seconds = true, result, true, core.clock() - t0
      r.first_seconds = old.seconds
      self.records[#self.records + 1] = r
      self:_summary(r)
      return r
    end
  end
  -- A stage starts from an empty folder, and its record is written last, so
  -- that a stage stopped halfway is never taken for a finished one.
  os.remove(record_path)
  os.execute("rm -rf " .. quote(dir))
  files.mkdir(dir)
  local result, msg
  if spec.script then
    result, msg = self:_run_script(spec, dir, log, old and old.seconds, t0)
  else
    result, msg = self:_run_function(spec, dir, t0)
  end
  r.seconds = core.clock() - t0
  r.ok, r.result, r.error = result ~= nil, result, msg
  files.write(record_path, json.encode({key = key, ok = r.ok, seconds = r.seconds,
                                       error = msg}))
  self.records[#self.records + 1] = r
  self:_summary(r)
  return r
end

--- The stages run so far: {name, seconds, cached, ok, error} in order.
function Runner:timings()
  local rows = {}
  for i, r in ipairs(self.records) do
    rows[i] = {name = r.name, seconds = r.seconds, cached = r.cached or false, ok = r.ok,
               error = r.error}
  end
  return rows
end

--- True when every stage so far succeeded.
function Runner:all_ok()
  for _, r in ipairs(self.records) do if not r.ok then return false end end
  return true
end

return M
