--- What every analysis script shares: the options that name the model and
-- its inputs, the output folder, the one JSON file of results, errors.
--
--   require("cnnvis.script").run {
--     name = "volume",                      -- writes DIR/volume.json
--     summary = "3.1.2: a layer's output as a volume",
--     options = {{"layer", "string", "the layer (default: the first Convolution)"},
--                {"slice", "count", "the column of every map", default = 15}},
--     main = function(ctx)
--       local x = ctx:input()               -- --image as 1 x C x H x W
--       ctx.net:forward(x)
--       ctx:save_json{layer = ..., file = ctx:save_png(img, "conv1")}
--     end,
--   }
--
-- Shared options: --prototxt --caffemodel (or "none": the fillers) --mean
-- --labels --scale --image --images --limit --batch --seed --shard --out
-- --help. Option kinds: string, file, dir, number, count (>= 1), integer,
-- class (>= 0, as in Caffe), list (a,b,c), numbers (1,2.5), flag (no value).
-- An error in main prints "<name>: message" on stderr and exits with 1.
local core = require "cnnvis.core"
local caffe = require "cnnvis.caffe"
local files = require "cnnvis.files"
local inputs = require "cnnvis.inputs"
local json = require "cnnvis.json"
local progress = require "cnnvis.progress"
local shards = require "cnnvis.shards"
local sweep = require "cnnvis.sweep"

local M = {}

-- The tree's root (two folders above this file), where the shipped model is.
local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/lua/cnnvis/[^/]*$"))

local function shipped(file)
  local path = "examples/models/" .. file
  if ROOT and not files.exists(path) and files.exists(ROOT .. "/" .. path) then
    return ROOT .. "/" .. path
  end
  return path
end

--- The shared options: {name, kind, help, default =}.
M.SHARED = {
  {"prototxt", "file", "the deploy definition (default: the shipped Fashion-MNIST model)"},
  {"caffemodel", "file", "its weights; \"none\": the definition's fillers, seeded by --seed "
    .. "(weights without one: N(0, 2/fan-in))"},
  {"mean", "file", "a mean image (.binaryproto or .npy) to subtract (pycaffe's preparation)"},
  {"labels", "file", "class names, synset_words.txt style (line k is class k-1)"},
  {"scale", "number", "multiply raw 0..255 pixels by K (default 1)", default = 1},
  {"image", "file", "the input image, PNG or JPEG (default: the first image of the set)"},
  {"images", "dir", "an ImageNet-style folder of class sub-folders (default: the "
    .. "Fashion-MNIST test set)"},
  {"limit", "count", "use the first N images of the set only"},
  {"batch", "count", "images per forward pass (default 50)", default = 50},
  {"seed", "integer", "the seed of the fillers and of any random choice (default 1)", default = 1},
  {"shard", "string", "i/n: do shard i (from 0) of n of the loops over images, for a later merge"},
  {"out", "dir", "where the pictures and the JSON go (default out/<script>)"},
}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

-- The message of an error, without the position Lua put in front.
local function message(err)
  return (tostring(err):gsub("^[^:\n]*%.lua:%d+: ", ""))
end

local PARSE = {
  number = function(v) return tonumber(v), "a number" end,
  count = function(v)
    local n = math.tointeger(tonumber(v))
    return n and n >= 1 and n or nil, "a positive whole number"
  end,
  integer = function(v) return math.tointeger(tonumber(v)), "a whole number" end,
  class = function(v)
    local n = math.tointeger(tonumber(v))
    return n and n >= 0 and n or nil, "a class number (0-based, as in Caffe)"
  end,
  list = function(v)
    local list = {}
    for item in v:gmatch("[^,]+") do list[#list + 1] = item end
    return #list > 0 and list or nil, "a comma-separated list"
  end,
  numbers = function(v)
    local list = {}
    for item in v:gmatch("[^,]+") do
      local n = tonumber(item)
      if not n then return nil, "comma-separated numbers" end
      list[#list + 1] = n
    end
    return #list > 0 and list or nil, "comma-separated numbers"
  end,
}

--- The --help text of a script spec.
function M.usage(spec)
  local lines = {string.format("usage: cnnvis scripts/%s.lua [options]", spec.name), ""}
  if spec.summary then lines[#lines + 1] = spec.summary; lines[#lines + 1] = "" end
  local function block(title, list)
    if #list == 0 then return end
    lines[#lines + 1] = title
    for _, o in ipairs(list) do
      local left = "  --" .. o[1] .. (o[2] == "flag" and "" or " " .. o[2]:upper())
      lines[#lines + 1] = string.format("%-26s %s", left, o[3] or "")
    end
    lines[#lines + 1] = ""
  end
  block("options:", spec.options or {})
  block("model and inputs:", M.SHARED)
  if spec.help then lines[#lines + 1] = spec.help end
  lines[#lines + 1] = "  -h, --help                 this text"
  return table.concat(lines, "\n") .. "\n"
end

--- Parses argv by a script spec: a table of option values (defaults
-- filled in) and whether --help was asked.
function M.parse(spec, argv)
  local kinds, opts = {}, {}
  for _, list in ipairs{M.SHARED, spec.options or {}} do
    for _, o in ipairs(list) do
      kinds[o[1]] = o[2]
      if o.default ~= nil then opts[o[1]] = o.default end
    end
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "-h" or a == "--help" then return opts, true end
    local key = a:match("^%-%-([%w_%-]+)$")
    local kind = key and kinds[key]
    if not kind then fail("unknown option '%s' (see --help)", a) end
    if kind == "flag" then
      opts[key], i = true, i + 1
    else
      local v = argv[i + 1]
      if v == nil then fail("%s needs a value", a) end
      local parse = PARSE[kind]
      if parse then
        local value, wanted = parse(v)
        if value == nil then fail("%s wants %s, got '%s'", a, wanted, v) end
        v = value
      end
      opts[key], i = v, i + 2
    end
  end
  opts.out = opts.out or ("out/" .. spec.name)
  if opts.shard then opts.shard = sweep.parse_shard(opts.shard) end
  if opts.prototxt and not opts.caffemodel then
    fail("--prototxt %s needs --caffemodel FILE (or --caffemodel none for its fillers)", opts.prototxt)
  end
  opts.prototxt = opts.prototxt or shipped("fashion_caffenet.prototxt")
  opts.caffemodel = opts.caffemodel or shipped("fashion_caffenet.caffemodel")
  return opts, false
end

-- ---- the context a script's main gets --------------------------------------

local Ctx = {}
Ctx.__index = Ctx

-- Weights a definition gives no filler are Caffe's constant 0, which makes
-- every picture of a deploy prototxt blank: with --caffemodel none they are
-- drawn from N(0, 2 / fan-in) instead (He et al.), so that the pipeline
-- shows something. Weights with a filler keep it.
local function fill_unset(net)
  core.no_grad(function()
    for _, l in ipairs(net.layers) do
      local w = net.params[l.name] and net.params[l.name].weight
      if w and w:numel() > 0 and w:abs():max():item() == 0 then
        local size = w:size()
        w:copy_(core.randn(table.unpack(size)) * math.sqrt(2 / (w:numel() / size[1])))
      end
    end
  end)
end

--- The model loaded from the options (filler weights seeded by --seed).
local function load_net(opts)
  core.manual_seed(opts.seed)
  local ok, net = pcall(caffe.load, opts.prototxt,
    opts.caffemodel ~= "none" and opts.caffemodel or nil)
  if not ok then fail("%s", message(net)) end
  if opts.caffemodel == "none" then fill_unset(net) end
  return net
end

--- The inputs: {set, classes, source, image, prepare} (cv.inputs.open).
function Ctx:inputs()
  if not self._inputs then
    self._inputs = inputs.open(self.net, {images = self.opts.images, labels = self.opts.labels,
      mean = self.opts.mean, scale = self.opts.scale, limit = self.opts.limit})
  end
  return self._inputs
end

--- The name of class c (0-based), or "class c" when no name is known.
function Ctx:class_name(c)
  local names = self:inputs().classes or {}
  return names[c + 1] or ("class " .. c)
end

--- The images of class c (0-based) in the inputs, as a set; an error
-- naming the class and the source when there are none.
function Ctx:class_images(c)
  local src = self:inputs()
  local set = src.set:of_class(c)
  if #set == 0 then
    fail("no images of class %d (%s) in the %s", c, self:class_name(c), src.source)
  end
  return set
end

--- The input: --image (default: the set's first image) as 1 x C x H x W,
-- and {source =, label = (when known), position = (in the set)}.
function Ctx:input()
  local src = self:inputs()
  if self.opts.image then
    return src.image(self.opts.image), {source = self.opts.image}
  end
  local x, label = src.set:get(1)
  return x:unsqueeze(1), {source = src.source .. ", image 1", label = label, position = 1}
end

--- The layer named name, or an error listing the layers there are (of
-- the given types when types, a set {Convolution = true, ...}, is given).
function Ctx:layer(name, types, option)
  local names = {}
  for _, l in ipairs(self.net.layers) do
    if l.name == name and (not types or types[l.type]) then return l end
    if not types or types[l.type] then names[#names + 1] = l.name end
  end
  local kinds = {}
  for t in pairs(types or {}) do kinds[#kinds + 1] = t end
  table.sort(kinds)
  fail("%s: the net has no %slayer '%s'; it has: %s", option or "--layer",
    #kinds > 0 and table.concat(kinds, "/") .. " " or "", tostring(name),
    table.concat(names, ", "))
end

--- The layers of the given types (a set), in the net's order.
function Ctx:layers_of(types)
  local list = {}
  for _, l in ipairs(self.net.layers) do
    if types[l.type] then list[#list + 1] = l end
  end
  return list
end

--- A safe, unique file name in the output folder for a name from the
-- model (layers, blobs, classes may hold `/`), with extension ext.
function Ctx:file(name, ext)
  return self._namer(name, ext)
end

--- The path of file (a name from ctx:file) in the output folder.
function Ctx:path(file)
  return self.opts.out .. "/" .. file
end

-- (Every writer names its file the same on every MPI rank; rank 0 writes it.)
local function saver(ext, save)
  return function(self, thing, name, opts)
    local file = self:file(name, ext)
    if self.writes then files.save_with(self:path(file), function(tmp) save(thing, tmp, opts) end) end
    return file
  end
end

--- Saves an image tensor as PNG; returns the file name.
Ctx.save_png = saver(".png", function(img, path) core.image.save(img, path) end)
--- Saves a cv.plot as SVG; returns the file name.
Ctx.save_svg = saver(".svg", function(plot, path) plot:save(path) end)
--- Saves a tensor as .npy; returns the file name.
Ctx.save_npy = saver(".npy", function(t, path) t:save_npy(path) end)
--- Saves a tensor as NRRD (opts as cv.io.save_nrrd); returns the file name.
Ctx.save_nrrd = saver(".nrrd", function(t, path, opts) core.io.save_nrrd(t, path, opts) end)

--- Writes text (CSV, HTML) as file name .. ext; returns the file name.
function Ctx:save_text(text, name, ext)
  local file = self:file(name, ext)
  if self.writes then files.write(self:path(file), text) end
  return file
end

--- Writes DIR/<script>.json: t, with the options and the model added
-- (unless t has them); returns its path.
function Ctx:save_json(t)
  if t.options == nil then
    local o = {}
    for k, v in pairs(self.opts) do o[k] = v end
    o.out = nil
    t.options = o
  end
  local path = self:path(self.name .. ".json")
  if self.writes then files.write(path, json.encode(t) .. "\n") end
  return path
end

--- A progress bar (cv.progress) for total units of work.
function Ctx:progress(label, total)
  return progress.new(self.name .. ": " .. label, total)
end

--- What must agree between shards of this run for them to merge.
function Ctx:sweep_key(extra)
  local o = {}
  for k, v in pairs(self.opts) do o[k] = v end
  o.out, o.shard = nil, nil
  return {script = self.name, options = o, extra = extra}
end

--- A loop over set's batches (cv.sweep.map) giving the folded value of
-- all of them. opts: batch (default --batch), label (for the bar),
-- key (extra settings that must agree between shards), combine and enough
-- (a search, as cv.sweep.fold's). This is where shards and MPI come in
-- (ctx.sweeper stands in when set).
function Ctx:sweep(set, opts, fn)
  opts = opts or {}
  local settings = {batch = opts.batch or self.opts.batch, shard = self.opts.shard,
                    key = self:sweep_key(opts.key), combine = opts.combine,
                    enough = opts.enough}
  self._sweeps = (self._sweeps or 0) + 1
  if self.sweeper then return self.sweeper(self, set, settings, fn, self._sweeps) end
  local bar = self:progress(opts.label or "images", #set)
  settings.progress = bar
  local folded = sweep.fold(sweep.map(set, settings, fn), settings.combine, settings.enough)
  bar:finish()
  return folded
end

--- Prints a line of the script's results on stdout.
function Ctx:say(fmt, ...)
  if self.writes then io.stdout:write(string.format(fmt, ...), "\n") end
end

--- An error with message fmt (the script then exits with status 1).
function Ctx:fail(fmt, ...)
  fail(fmt, ...)
end

--- A context for spec (name, options...) and argv; loads the model.
-- how (optional): {sweeper = a ctx.sweeper, writes = false on the MPI
-- ranks that leave the files and the printing to rank 0}.
function M.context(spec, opts, how)
  local ctx = setmetatable({name = spec.name, opts = opts, _namer = files.namer(),
                            sweeper = how and how.sweeper,
                            writes = not how or how.writes ~= false}, Ctx)
  if ctx.writes then files.mkdir(opts.out) end
  ctx.net = load_net(opts)
  -- a training snapshot's unused weighted layers and the like: said, not fatal
  for _, w in ipairs(ctx.net.warnings or {}) do io.stderr:write(spec.name, ": warning: ", w, "\n") end
  return ctx
end

--- Runs a script: parses arg (default: the global arg), prints --help,
-- calls spec.main(ctx); an error prints "<name>: message" and exits 1.
-- Its loops (ctx:sweep) run as cnnvis.shards says: --shard i/n writes a
-- partial result, under mpirun each rank takes its shard and rank 0 writes.
function M.run(spec, argv)
  argv = argv or arg or {}
  local ok, err = xpcall(function()
    local opts, help = M.parse(spec, argv)
    if help then
      io.stdout:write(M.usage(spec))
      return
    end
    local sweeper, writes = shards.sweeper(spec.name, opts, argv)
    spec.main(M.context(spec, opts, {sweeper = sweeper, writes = writes}))
  end, function(e)
    if shards.is_stop(e) then return e end
    return os.getenv("CNNVIS_TRACEBACK") and debug.traceback(tostring(e), 2) or e
  end)
  if not ok and shards.is_stop(err) then
    if err.text then io.stderr:write(err.text, "\n") end
    if err.status ~= 0 then os.exit(err.status, true) end
  elseif not ok then
    io.stderr:write(spec.name, ": ", message(err), "\n")
    os.exit(1, true)
  end
end

return M
