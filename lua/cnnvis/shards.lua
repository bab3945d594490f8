--- An analysis script's loops over images split over processes: shards
-- written to files and merged later (job arrays), or ranks of one mpirun.
-- Either way the script's JSON is the one a single process writes, bit
-- for bit (cv.sweep cuts, keeps and adds the batches the same way).
--
--   cnnvis scripts/evaluate.lua --shard 0/2 --out DIR   -- DIR/evaluate.shard-0-of-2.json
--   cnnvis scripts/evaluate.lua --shard 1/2 --out DIR
--   cnnvis merge DIR                                    -- DIR/evaluate.json
--   mpirun -np 2 cnnvis scripts/evaluate.lua --out DIR  -- rank r takes shard r/2;
--                                                       -- rank 0 writes DIR/evaluate.json
--
-- A script may loop more than once, a later loop depending on an earlier
-- one's result (removal needs the importance first). With shard files, a
-- shard then stops at the first loop whose merged result it does not have
-- and writes its part of that loop; `cnnvis merge` merges it, runs the
-- script on, and either finishes or keeps the loops merged so far in
-- DIR/<script>.merged.json and asks for the shards again (same options,
-- same DIR), which then go on from there. Under mpirun every rank gets
-- every loop's merged result at once (an allgather), so one run does all.
local lfs = require "lfs"
local files = require "cnnvis.files"
local json = require "cnnvis.json"
local sweep = require "cnnvis.sweep"

local M = {}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

local function message(err)
  return (tostring(err):gsub("^[^:\n]*%.lua:%d+: ", ""))
end

--- The error value that ends a script early and well (exit status 0):
-- a shard has written its part. script.run prints its text.
M.STOP = setmetatable({}, {__tostring = function() return "stop" end})

local function stop(fmt, ...)
  error(setmetatable({text = string.format(fmt, ...), status = 0}, {__index = M.STOP}), 0)
end

--- Whether err is a stop (err.text: what to print, if anything; err.status:
-- the exit status).
function M.is_stop(err)
  return type(err) == "table" and getmetatable(err) and getmetatable(err).__index == M.STOP
end

-- ---- MPI ---------------------------------------------------------------------

--- The rank and size of this process when it runs under Open MPI's mpirun
-- with more than one rank (OMPI_COMM_WORLD_SIZE), and the cnnvis.mpi module;
-- nil outside mpirun.
function M.mpi_world()
  local size = math.tointeger(tonumber(os.getenv("OMPI_COMM_WORLD_SIZE") or ""))
  if not size or size < 2 then return nil end
  local ok, mpi = pcall(require, "cnnvis.mpi")
  if not ok then
    fail("this process is one of %d ranks of mpirun, but cnnvis.mpi is not built "
      .. "(make builds it where mpi.h is: install libopenmpi-dev)", size)
  end
  local rank, n = mpi.init()
  return rank, n, mpi
end

--- A ctx.sweeper for rank `rank` of `size`: the rank maps shard rank/size,
-- every rank gets every partial and folds the same merged result. An error
-- in any rank's loop is raised on every rank (so none waits for ever); with
-- quiet, on ranks but 0 as a stop of status 1 that script.run prints not.
function M.mpi_sweeper(mpi, rank, size, quiet)
  return function(ctx, set, settings, fn)
    settings.shard = {rank, size}
    local bar = ctx and rank == 0 and ctx:progress("images (rank 0 of " .. size .. ")", #set) or nil
    settings.progress = bar
    local ok, partial = pcall(sweep.map, set, settings, fn)
    if bar then bar:finish() end
    local all = mpi.allgather(json.encode(ok and {partial = partial} or {error = message(partial)}))
    local partials = {}
    for r, text in ipairs(all) do
      local v = json.decode(text)
      if v.error and quiet and rank ~= 0 then -- rank 0 says it; the others end quietly
        error(setmetatable({status = 1}, {__index = M.STOP}), 0)
      elseif v.error then
        fail("%s (rank %d of %d)", v.error, r - 1, size)
      end
      partials[r] = v.partial
    end
    return sweep.fold(sweep.merge(partials), settings.combine, settings.enough)
  end
end

--- cv.sweep.run's stand-in for a program of one's own: under mpirun the
-- ranks share the loop (as a script's do) and every rank gets the folded
-- value of all of it; otherwise cv.sweep.run. Give it where a library loop
-- takes opts.sweep: `cv.evaluate(net, set, {sweep = shards.run})`.
function M.run(set, settings, fn)
  local rank, size, mpi = M.mpi_world()
  if not rank then return sweep.run(set, settings, fn) end
  local s = {}
  for k, v in pairs(settings or {}) do s[k] = v end
  return M.mpi_sweeper(mpi, rank, size)(nil, set, s, fn)
end

-- ---- shard files ---------------------------------------------------------------

--- The name of shard i of n's file for script name.
function M.shard_file(name, shard)
  return string.format("%s.shard-%d-of-%d.json", name, shard[1], shard[2])
end

-- An absolute path for path (relative to the current folder).
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return (lfs.currentdir() .. "/" .. path):gsub("/%./", "/")
end

-- argv without the options named in drop (each with its value).
local function without(argv, drop)
  local out, i = {}, 1
  while i <= #argv do
    if drop[argv[i]] then i = i + 2 else out[#out + 1], i = argv[i], i + 1 end
  end
  return out
end

-- The merged loops of an earlier round in dir for script name, or {}.
local function merged_loops(dir, name)
  local path = dir .. "/" .. name .. ".merged.json"
  if not files.exists(path) then return {}, path end
  return json.read(path).loops or {}, path
end

-- The folded value of merged loop k, after checking it is this loop's.
local function replay(loops, k, settings, path)
  local p = loops[k]
  if json.encode(p.key) ~= json.encode(settings.key) then
    fail("%s holds loop %d of other settings (%s) than this run's (%s): remove it or use "
      .. "another --out", path, k, json.encode(p.key), json.encode(settings.key))
  end
  return sweep.fold(p, settings.combine, settings.enough)
end

--- A ctx.sweeper for --shard {i, n}: loops merged in an earlier round come
-- from DIR/<script>.merged.json; the first other loop is mapped over this
-- shard, written to DIR/<script>.shard-i-of-n.json, and the script stops.
function M.shard_sweeper(argv)
  return function(ctx, set, settings, fn, k)
    local loops, path = merged_loops(ctx.opts.out, ctx.name)
    if loops[k] then return replay(loops, k, settings, path) end
    local bar = ctx:progress("images (shard " .. table.concat(settings.shard, "/") .. ")", #set)
    settings.progress = bar
    local partial = sweep.map(set, settings, fn)
    bar:finish()
    local file = M.shard_file(ctx.name, settings.shard)
    files.write(ctx:path(file), json.encode{
      shard_of = ctx.name, script = absolute(argv[0] or "?"), cwd = lfs.currentdir(),
      argv = without(argv, {["--shard"] = true, ["--out"] = true}), loop = k,
      partial = partial} .. "\n")
    stop("%s: shard %d/%d of loop %d written to %s; when all %d are there: cnnvis merge %s",
      ctx.name, settings.shard[1], settings.shard[2], k, ctx:path(file), settings.shard[2],
      ctx.opts.out)
  end
end

-- ---- merge -------------------------------------------------------------------

-- The shard files in dir: {path =, name =, i =, n =}, sorted by name.
local function shard_files(dir)
  if lfs.attributes(dir, "mode") ~= "directory" then fail("merge: no folder '%s'", dir) end
  local list = {}
  for entry in lfs.dir(dir) do
    local name, i, n = entry:match("^(.+)%.shard%-(%d+)%-of%-(%d+)%.json$")
    if name then
      list[#list + 1] = {path = dir .. "/" .. entry, name = name, i = tonumber(i), n = tonumber(n)}
    end
  end
  table.sort(list, function(a, b) return a.path < b.path end)
  return list
end

-- The first option in which two runs' settings (sweep keys) differ, as text.
local function difference(a, b)
  local oa, ob = a.options or {}, b.options or {}
  local keys = {}
  for k in pairs(oa) do keys[#keys + 1] = k end
  for k in pairs(ob) do if oa[k] == nil then keys[#keys + 1] = k end end
  table.sort(keys)
  local function show(v) return v == nil and "not given" or json.encode(v) end
  for _, k in ipairs(keys) do
    if json.encode(oa[k]) ~= json.encode(ob[k]) then
      return string.format("--%s is %s in one, %s in the other", k, show(oa[k]), show(ob[k]))
    end
  end
  if json.encode(a) ~= json.encode(b) then
    return string.format("their settings differ (%s, %s)", json.encode(a), json.encode(b))
  end
end

-- Reads and checks the shard files of dirs: one script, one run, one loop.
local function read_shards(dirs)
  local list = {}
  for _, dir in ipairs(dirs) do
    for _, f in ipairs(shard_files(dir)) do list[#list + 1] = f end
  end
  if #list == 0 then
    fail("merge: no shard files (<script>.shard-I-of-N.json) in %s", table.concat(dirs, ", "))
  end
  local first = list[1]
  for _, f in ipairs(list) do
    if f.name ~= first.name then
      fail("merge: %s and %s are shards of different scripts (%s, %s): merge each one's alone",
        first.path, f.path, first.name, f.name)
    end
    local ok, v = pcall(json.read, f.path)
    if not ok then fail("merge: %s", message(v)) end
    if v.shard_of ~= f.name or type(v.partial) ~= "table" or math.type(v.loop) ~= "integer" then
      fail("merge: %s is not a shard file of cnnvis", f.path)
    end
    f.v = v
  end
  local a = first.v
  for _, f in ipairs(list) do
    local b = f.v
    if b.script ~= a.script then
      fail("merge: %s and %s come from different scripts (%s, %s)", first.path, f.path,
        a.script, b.script)
    end
    if b.loop ~= a.loop then
      fail("merge: %s is a shard of loop %d, %s of loop %d: rerun the older shards", f.path,
        b.loop, first.path, a.loop)
    end
    local diff = difference(a.partial.key, b.partial.key)
    if diff then fail("merge: %s and %s are shards of different runs: %s", first.path, f.path, diff) end
  end
  return list
end

-- The state of a merge in progress (read by script.run through M.sweeper).
local merging

--- `cnnvis merge DIR...`: merges the shard files in the folders (one run of
-- one script, all of its shards), then runs the script on with every loop
-- merged so far; the result goes to the first DIR.
function M.merge(dirs)
  if #dirs == 0 then fail("merge: give the folders of the shards (cnnvis merge DIR...)") end
  local list = read_shards(dirs)
  local partials = {}
  for k, f in ipairs(list) do partials[k] = f.v.partial end
  local ok, merged = pcall(sweep.merge, partials)
  if not ok then fail("%s", message(merged)) end
  local first, out = list[1].v, absolute(dirs[1])
  local loops, path = merged_loops(out, list[1].name)
  if #loops ~= first.loop - 1 then
    fail("merge: the shards are of loop %d, but %s holds %d merged loops: rerun the shards",
      first.loop, path, #loops)
  end
  loops[first.loop] = merged
  if not files.exists(first.script) then
    fail("merge: the shards' script %s is not there", first.script)
  end
  merging = {name = list[1].name, loops = loops, path = path}
  local argv = {[0] = first.script}
  for i, a in ipairs(first.argv) do argv[i] = a end
  argv[#argv + 1], argv[#argv + 2] = "--out", out
  if first.cwd and first.cwd ~= lfs.currentdir() then
    local moved, err = lfs.chdir(first.cwd)
    if not moved then fail("merge: cannot go to the shards' folder %s: %s", first.cwd, err) end
  end
  local chunk, err = loadfile(first.script)
  if not chunk then fail("merge: %s", err) end
  _ENV.arg = argv -- the script reads its options from arg, as when run
  chunk(table.unpack(argv))
  merging = nil
end

--- The ctx.sweeper of a run of the merge: merged loops in order; past the
-- last one, they go to DIR/<script>.merged.json and the shards are asked for
-- again.
local function merge_sweeper(state)
  return function(ctx, _, settings, _, k)
    if state.loops[k] then return replay(state.loops, k, settings, state.path) end
    files.write(state.path, json.encode{merged_of = ctx.name, loops = state.loops} .. "\n")
    stop("%s: %s merged into %s; loop %d needs the shards again: rerun them with "
      .. "the same options and --out, then cnnvis merge %s", ctx.name,
      k == 2 and "loop 1" or "loops 1-" .. (k - 1), state.path, k, ctx.opts.out)
  end
end

--- How a script's loops run, from its options and argv: a sweeper for
-- ctx.sweeper (nil: one process, all of it) and whether this process writes
-- the output files (not the MPI ranks but 0).
function M.sweeper(name, opts, argv)
  if merging and merging.name == name then return merge_sweeper(merging), true end
  local rank, size, mpi = M.mpi_world()
  if rank then
    if opts.shard then
      fail("--shard %d/%d under mpirun: each of its %d ranks takes its own shard already",
        opts.shard[1], opts.shard[2], size)
    end
    return M.mpi_sweeper(mpi, rank, size, true), rank == 0
  end
  if opts.shard then return M.shard_sweeper(argv), true end
  return nil, true
end

return M
