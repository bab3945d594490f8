--- Training a Caffe net from its solver.prototxt and train_val prototxt, as
-- `cnnvis train` does.
--
--   local result = require("cnnvis.train").run("solver.prototxt",
--                                              {resume = "x_iter_500.caffemodel"})
--
-- The net's Data / ImageData layers are fed from cv.data sets named by their
-- `source`: an IDX images file whose name contains "images-idx3" (its labels
-- are the file with "labels-idx1" in that place, as Fashion-MNIST and MNIST
-- name them), a folder of class sub-folders, or an ImageData list file
-- (`path label` per line; image_data_param.root_folder is honoured).
-- Relative paths are tried from the current folder, then from the
-- prototxt's folder. transform_param's mirror, scale and mean_value apply.
local core = require "cnnvis.core"
local caffe = require "cnnvis.caffe"
local data = require "cnnvis.data"
local evaluate = require "cnnvis.evaluate"
local solver = require "cnnvis.solver"

local M = {}

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- A path as given if it exists from here, else relative to base's folder.
local function resolve(path, base)
  if path:sub(1, 1) == "/" or exists(path) then return path end
  local beside = dirname(base) .. "/" .. path
  return exists(beside) and beside or path
end

-- Whether a layer's include / exclude rules keep it in phase ("TRAIN"/"TEST").
local function in_phase(layer, phase)
  if layer.include and #layer.include > 0 then
    for _, rule in ipairs(layer.include) do
      if rule.phase == nil or rule.phase == phase then return true end
    end
    return false
  end
  for _, rule in ipairs(layer.exclude or {}) do
    if rule.phase == phase then return false end
  end
  return true
end

--- The data set a source names (see the module's comment).
function M.open_source(source, prototxt, layer_type, root)
  local lfs = require "lfs"
  local path = resolve(source, prototxt)
  if lfs.attributes(path, "mode") == "directory" then return data.folder(path) end
  if path:find("images%-idx3") then
    return data.idx(path, (path:gsub("images%-idx3", "labels-idx1")))
  end
  if layer_type == "ImageData" or path:match("%.txt$") then
    return data.list(path, {root = root and resolve(root, prototxt)})
  end
  error(string.format("%s: cannot tell what data source '%s' is (an IDX images file named "
    .. "*images-idx3*, a folder, or a list file)", prototxt, source), 2)
end

--- The feeds of a net definition's data layers for phase: an array of
-- {name, tops, set, batch_size, mirror, scale, mean}.
function M.feeds(prototxt, phase)
  local raw = core.caffe.read_text(prototxt)
  local feeds = {}
  for _, l in ipairs(raw.layer or {}) do
    if (l.type == "Data" or l.type == "ImageData") and in_phase(l, phase) then
      local p = l.data_param or l.image_data_param or {}
      if not p.source then error(prototxt .. ": data layer '" .. l.name .. "' has no source", 2) end
      local t = l.transform_param or {}
      feeds[#feeds + 1] = {
        name = l.name, tops = l.top, batch_size = p.batch_size,
        set = M.open_source(p.source, prototxt, l.type, p.root_folder),
        mirror = t.mirror, scale = t.scale, mean = t.mean_value, crop = t.crop_size,
      }
    end
  end
  if #feeds == 0 then error(prototxt .. ": no Data or ImageData layer for phase " .. phase, 2) end
  return feeds
end

-- Caffe's transform, (x - mean) * scale, on a batch.
local function transform(images, feed)
  if feed.crop and (images:size(3) ~= feed.crop or images:size(4) ~= feed.crop) then
    error(string.format("data layer '%s': crop_size %d of %dx%d images is not supported "
      .. "(only a crop_size equal to the image size)", feed.name, feed.crop,
      images:size(3), images:size(4)))
  end
  if feed.mean then
    local c = images:size(2)
    local mean = {}
    for k = 1, c do mean[k] = feed.mean[#feed.mean == 1 and 1 or k] end
    images = images - core.tensor(mean):view(1, c, 1, 1)
  end
  if feed.scale then images = images * feed.scale end
  return images
end

-- Endless batches of a feed: a new seeded order each epoch.
local function feeder(feed, seed, shuffle)
  local epoch, it = 0, nil
  local per_epoch = #feed.set // feed.batch_size
  return function()
    local b = it and it()
    if not b then
      if it then epoch = epoch + 1 end
      it = feed.set:batches(feed.batch_size, {shuffle = shuffle and seed or nil,
        epoch = epoch, mirror = feed.mirror, drop_last = shuffle})
      b = it()
    end
    local inputs = {[feed.tops[1]] = transform(b.images, feed)}
    if feed.tops[2] then inputs[feed.tops[2]] = b.labels end
    return inputs, epoch, per_epoch
  end
end

--- The name of the training loss: the top of the net's SoftmaxWithLoss
-- layer (or its only other scalar output).
function M.loss_blob(net, prototxt)
  for _, l in ipairs(net.layers) do
    if l.type == "SoftmaxWithLoss" then return l.tops[1] end
  end
  if #net.outputs == 1 then return net.outputs[1] end
  error(prototxt .. ": no SoftmaxWithLoss layer gives the training loss", 2)
end

-- Copies the train net's parameters into the test net (by layer name).
local function share_weights(from, to)
  core.no_grad(function()
    for name, p in pairs(to.params) do
      local src = from.params[name]
      if src then
        for k, t in ipairs(p) do t:copy_(src[k]) end
      end
    end
  end)
end

--- A test pass: the test net's outputs averaged over iters batches.
function M.test(net, feeds, iters)
  local sums, next_batch = {}, {}
  for k, f in ipairs(feeds) do next_batch[k] = feeder(f, 0, false) end
  core.no_grad(function()
    for _ = 1, iters do
      local inputs = {}
      for _, nb in ipairs(next_batch) do
        for name, t in pairs((nb())) do inputs[name] = t end
      end
      for name, t in pairs(net:forward(inputs)) do
        if t:numel() == 1 then sums[name] = (sums[name] or 0) + t:item() end
      end
      collectgarbage() -- big C buffers behind small userdata: see run()
    end
  end)
  for name, v in pairs(sums) do sums[name] = v / iters end
  return sums
end

local function is_terminal()
  local ok = os.execute("test -t 2")
  return ok == true or ok == 0
end

local function clock_str(seconds)
  seconds = math.max(0, math.floor(seconds + 0.5))
  return string.format("%d:%02d", seconds // 60, seconds % 60)
end

-- The progress line: epoch, images/s, loss, ETA.
local function progress(state, sp)
  local done = state.iter - state.start_iter
  local rate = done * state.batch / math.max(1e-9, core.clock() - state.t0)
  local eta = (sp.max_iter - state.iter) * state.batch / math.max(rate, 1e-9)
  local width = 24
  local filled = math.floor(width * state.iter / sp.max_iter)
  io.stderr:write(string.format("\r[%s%s] iter %d/%d  epoch %.2f  %.0f img/s  loss %.4f  ETA %s ",
    string.rep("#", filled), string.rep(".", width - filled), state.iter, sp.max_iter,
    state.epoch_float, rate, state.loss, clock_str(eta)))
end

local function snapshot(prefix, net, s, out)
  local base = string.format("%s_iter_%d", prefix, s.iter)
  caffe.save(net, base .. ".caffemodel")
  s:save_state(base .. ".solverstate")
  out(string.format("snapshot: %s.caffemodel", base))
  return base .. ".caffemodel"
end

local function run_test(state, test_net, test_feeds, sp, out)
  share_weights(state.net, test_net)
  local r = M.test(test_net, test_feeds, sp.test_iter[1] or 1)
  local names = {}
  for name in pairs(r) do names[#names + 1] = name end
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do parts[#parts + 1] = string.format("%s = %.4f", name, r[name]) end
  if state.bar then io.stderr:write("\n") end
  out(string.format("test at iter %d: %s", state.iter, table.concat(parts, ", ")))
  state.last_test = r
end

--- Trains as the solver file says. opts: resume (a caffemodel snapshot;
-- its .solverstate beside it restores momentum and the iteration),
-- max_iter (overrides the solver's), quiet (no progress bar), print (a
-- function for log lines; default print). Returns {net =, iter =, test =}.
function M.run(solver_path, opts)
  opts = opts or {}
  -- Log lines go out as they come, also into a file (a long run's log).
  local out = opts.print or function(line)
    io.stdout:write(line, "\n")
    io.stdout:flush()
  end
  local sp = solver.read(solver_path)
  if opts.max_iter then sp.max_iter = opts.max_iter end
  local net_path = sp.net or sp.train_net
  if not net_path then error(solver_path .. ": the solver names no net", 2) end
  net_path = resolve(net_path, solver_path)
  local seed = sp.random_seed >= 0 and sp.random_seed or os.time()
  core.manual_seed(seed)
  local net = caffe.load(net_path, opts.resume, {phase = "train"})
  local s = solver.new(net, sp, core.caffe.read_net_def(net_path, "TRAIN"))
  if opts.resume then
    local state_path = opts.resume:gsub("%.caffemodel$", "") .. ".solverstate"
    if exists(state_path) then s:load_state(state_path) end
  end
  local loss_name = M.loss_blob(net, net_path)
  local feeds = M.feeds(net_path, "TRAIN")
  local test_net, test_feeds
  if sp.test_interval > 0 and #sp.test_iter > 0 then
    test_net = caffe.load(net_path, nil, {phase = "test"})
    test_feeds = M.feeds(net_path, "TEST")
  end
  local next_batch = {}
  for k, f in ipairs(feeds) do next_batch[k] = feeder(f, seed, true) end
  -- Resuming: skip the batches already seen, so the order goes on as before.
  for _ = 1, s.iter do for _, nb in ipairs(next_batch) do nb() end end
  local state = {net = net, iter = s.iter, start_iter = s.iter, t0 = core.clock(),
                 batch = feeds[1].batch_size, loss = 0, epoch_float = 0,
                 bar = not opts.quiet and is_terminal()}
  local losses, prefix, last_snapshot = {}, sp.snapshot_prefix or "snapshot", nil
  if test_net and sp.test_initialization and s.iter == 0 then
    run_test(state, test_net, test_feeds, sp, out)
  end
  state.t0 = core.clock()
  while s.iter < sp.max_iter do
    local inputs, epoch, per_epoch = {}, 0, 1
    for _, nb in ipairs(next_batch) do
      local batch
      batch, epoch, per_epoch = nb()
      for name, t in pairs(batch) do inputs[name] = t end
    end
    s:zero_grad()
    local result = net:forward(inputs)
    local loss = result[loss_name]
    loss:backward()
    local rate = s:update()
    -- Tensors are small userdata holding big C buffers: Lua's collector
    -- cannot see their weight, so collect each iteration.
    result, loss, inputs = nil, loss:item(), nil
    collectgarbage()
    -- The mean of the last average_loss losses, as Caffe displays it.
    losses[(s.iter - state.start_iter - 1) % sp.average_loss + 1] = loss
    local sum = 0
    for _, v in ipairs(losses) do sum = sum + v end
    state.iter, state.loss = s.iter, sum / #losses
    state.epoch_float = s.iter / per_epoch
    if state.bar then progress(state, sp) end
    if sp.display > 0 and s.iter % sp.display == 0 then
      if state.bar then io.stderr:write("\n") end
      out(string.format("iter %d: loss %.4f, lr %g, %.0f img/s", s.iter, state.loss, rate,
        (s.iter - state.start_iter) * state.batch / (core.clock() - state.t0)))
    end
    if test_net and s.iter % sp.test_interval == 0 then
      run_test(state, test_net, test_feeds, sp, out)
    end
    if sp.snapshot > 0 and s.iter % sp.snapshot == 0 then
      last_snapshot = snapshot(prefix, net, s, out)
    end
  end
  if state.bar then io.stderr:write("\n") end
  if test_net and s.iter % sp.test_interval ~= 0 and s.iter > state.start_iter then
    run_test(state, test_net, test_feeds, sp, out)
  end
  if sp.snapshot_after_train and (sp.snapshot == 0 or s.iter % sp.snapshot ~= 0) then
    last_snapshot = snapshot(prefix, net, s, out)
  end
  return {net = net, iter = s.iter, test = state.last_test, snapshot = last_snapshot,
          seconds = core.clock() - state.t0}
end

--- Classifies every sample of set with net (no tape) and counts: returns
-- {accuracy =, total =, confusion = {[true+1][predicted+1] = count},
--  error_rate = {[c+1] = misclassified of class c / samples of class c}}
-- as fractions (cv.evaluate gives the same in percent).
-- opts.batch (default 100), opts.blob (default: the net's last output).
function M.evaluate(net, set, opts)
  local r = evaluate.evaluate(net, set, opts)
  local error_rate = {}
  for t, v in ipairs(r.error_rate) do error_rate[t] = v == v and v / 100 or 0 end
  return {accuracy = r.total > 0 and r.correct / r.total or 0, total = r.total,
          confusion = r.confusion, error_rate = error_rate}
end

return M
