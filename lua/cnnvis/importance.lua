--- Filter importance and pruning (the report's 3.2.3), and a test of it.
--
--   local imp = require "cnnvis.importance"
--   local r = imp.importance(net, shirts, {class = 6})     -- r.layers.conv1[f], r.images
--   local rates = imp.with_removed(net, "conv2", {12}, nil, function()
--     return imp.error_rates(net, test_set)              -- rates.per_class[c + 1], in %
--   end)                                                 -- conv2 restored bit for bit
--   local o = imp.oracle(net, shirts, {class = 6, layers = {"conv2"}})
--   imp.spearman(r.layers.conv2, o.layers.conv2.loss)
--
-- Definitions (classes are 0-based, filters 1-based):
-- * z_c: the class's neuron of the last InnerProduct layer's output (before
--   softmax); W_f: the weights of filter f (an output channel of a
--   Convolution, an output neuron of an InnerProduct), bias apart.
-- * importance of filter f of layer L for class c over a set of images: the
--   mean over the images of ||d z_c / d W_f||_2 (`net:per_sample_norms`).
-- * Taylor measure: the mean over the images of |sum(W_f . d z_c / d W_f)|
--   (Molchanov et al.'s first-order estimate of what zeroing W_f changes).
-- * L1 measure: sum |W_f| (no images).
-- * removing filters: zeroing their weights and biases, so that their
--   channel is 0 everywhere (weights_only: the weights alone, the report's
--   literal "weights to zero"; the channel is then its bias).
-- * error rate of a class: misclassified images of the class / images of
--   the class, in percent; the overall error: all misclassified / all.
-- * the oracle of a filter: the true damage of removing it alone over a set
--   of one class's images: the rise in mean cross-entropy loss
--   (-log softmax(z)_c, in double) and in error rate (percentage points).
--
-- Every loop over images is a cv.sweep: a function of one batch giving its
-- value (Lua integers for counts, doubles for sums) and a fold that adds
-- the values in batch order, so that a run split over shards gives the
-- same bits. Each function takes opts.batch (50) and opts.sweep (a
-- function(set, settings, fn) in place of cv.sweep.run, as a script's
-- ctx:sweep).
local core = require "cnnvis.core"
local sweep_lib = require "cnnvis.sweep"

local M = {}

-- fn mapped over set's batches and folded: cv.sweep.run, or opts.sweep (a
-- function(set, settings, fn) standing in for it: a script's sharded sweep).
local function sweep(set, opts, fn)
  return (opts.sweep or sweep_lib.run)(set, {batch = opts.batch or 50, label = opts.label}, fn)
end

-- ---- the net's layers and classes ----------------------------------------

local function layer_info(net, name)
  for i, l in ipairs(net.layers) do
    if l.name == name then return l, i end
  end
end

--- The names of the net's Convolution and InnerProduct layers, in order.
function M.filter_layers(net)
  local names = {}
  for _, l in ipairs(net.layers) do
    if l.type == "Convolution" or l.type == "InnerProduct" then names[#names + 1] = l.name end
  end
  return names
end

--- The blob of the class neurons: the top of the last InnerProduct layer.
function M.class_blob(net)
  for i = #net.layers, 1, -1 do
    if net.layers[i].type == "InnerProduct" then return net.layers[i].tops[1] end
  end
  error("importance: the net has no InnerProduct layer for the class neurons", 3)
end

--- The number of classes: the size of the class blob's second dim.
function M.class_count(net)
  local blob = M.class_blob(net)
  for _, l in ipairs(net.layers) do
    if l.tops[1] == blob then return l.top_shapes[1][2] end
  end
end

--- Checks that layer `name` has filters; the error lists those that do.
function M.check_layer(net, name)
  local l = layer_info(net, name)
  if l and (l.type == "Convolution" or l.type == "InnerProduct") then return l end
  local what = l and string.format("layer '%s' is a %s", name, l.type)
                 or string.format("the net has no layer '%s'", name)
  error(string.format("%s, not a Convolution or InnerProduct layer (those are: %s)", what,
    table.concat(M.filter_layers(net), ", ")), 0)
end

--- Checks a 0-based class against the net's class neurons; what names it
-- in the message (default "class", a script's "--input-class").
function M.check_class(net, c, what)
  local k = M.class_count(net)
  if math.type(c) ~= "integer" or c < 0 or c >= k then
    error(string.format("%s %s is out of range (the net has %d classes, 0 to %d)",
      what or "class", tostring(c), k, k - 1), 0)
  end
  return c
end

local function check_images(set, what)
  if #set == 0 then error(string.format("no images of %s in the set", what), 0) end
end

local function layers_opt(net, opts)
  local layers = opts.layers or M.filter_layers(net)
  for _, name in ipairs(layers) do M.check_layer(net, name) end
  return layers
end

-- The number of filters of a conv / fc layer: its output channels.
local function filter_count(net, name)
  return layer_info(net, name).top_shapes[1][2]
end

-- Filter f's weights and bias (views; the bias nil when the layer has none).
local function filter_params(net, name, f)
  local p = net.params[name]
  local w = p.weight
  local dim = w:size(1) == filter_count(net, name) and 1 or 2 -- a transposed fc
  return w:narrow(dim, f, 1), p.bias and p.bias:narrow(1, f, 1)
end

local function zero_grads(net)
  for _, p in pairs(net.params) do
    for _, t in ipairs(p) do t:zero_grad() end
  end
end

local function add_rows(sums, rows)
  for _, row in ipairs(rows) do
    for f, v in ipairs(row) do sums[f] = sums[f] + v end
  end
end

local function zeros(n)
  local t = {}
  for i = 1, n do t[i] = 0.0 end
  return t
end

-- ---- importance ----------------------------------------------------------

-- Per image and filter, W_f . d z / d W_f from the layer's output y and its
-- gradient dy: for each output position, W_f . x_patch = y - b_f, so the
-- sum over positions of dy * (y - b_f) (N x filters).
local function taylor_rows(net, name)
  local y, dy = net._net:output_grad(name)
  local n, f = y:size(1), y:size(2)
  local b = net.params[name].bias
  if b then
    local shape = {1, f}
    for _ = 3, y:dim() do shape[#shape + 1] = 1 end
    y = y - b:view(shape)
  end
  return (y * dy):view(n, f, -1):sum(3):abs():totable()
end

--- The importance of every filter of the chosen layers for class c, over
-- the images of set (see the definitions above). opts: class (0-based,
-- required), layers (default every conv and fc layer), batch (50), taylor
-- (also the Taylor measure). Returns {class =, images =, layers = {name =
-- {mean norm per filter}}, taylor = {name = {...}} (with opts.taylor)}.
function M.importance(net, set, opts)
  local c = M.check_class(net, opts.class)
  local layers = layers_opt(net, opts)
  check_images(set, opts.what or "the input class")
  local blob = M.class_blob(net)
  local total = sweep(set, opts, function(b)
    net:forward(b.images)
    local norms = net:per_sample_norms({blob, class = c}, {layers = layers})
    local part = {images = b.images:size(1), layers = {}, taylor = opts.taylor and {} or nil}
    for _, name in ipairs(layers) do
      local rows = norms[name]:totable()
      part.layers[name] = zeros(#rows[1])
      add_rows(part.layers[name], rows)
      if opts.taylor then
        part.taylor[name] = zeros(#rows[1])
        add_rows(part.taylor[name], taylor_rows(net, name))
      end
    end
    zero_grads(net)
    return part
  end)
  local out = {class = c, images = total.images, layers = {}, taylor = opts.taylor and {} or nil}
  for _, name in ipairs(layers) do
    out.layers[name] = {}
    for f, s in ipairs(total.layers[name]) do out.layers[name][f] = s / total.images end
    if opts.taylor then
      out.taylor[name] = {}
      for f, s in ipairs(total.taylor[name]) do out.taylor[name][f] = s / total.images end
    end
  end
  return out
end

--- The weights' L1 norm per filter of layer name (bias apart), in double.
function M.l1(net, name)
  M.check_layer(net, name)
  local out = {}
  for f = 1, filter_count(net, name) do
    local w = filter_params(net, name, f)
    out[f] = w:abs():sum():item()
  end
  return out
end

-- ---- removal -------------------------------------------------------------

--- Runs fn() with the filters of layer `name` (a list of 1-based positions)
-- removed: weights and bias zeroed (opts.weights_only: the weights alone).
-- Every zeroed value is put back bit for bit afterwards, whether fn returns
-- or raises (and when a filter of the list is bad, after the good ones were
-- zeroed); the error is raised again. Returns what fn returns.
function M.with_removed(net, name, filters, opts, fn)
  M.check_layer(net, name)
  local weights_only = opts and opts.weights_only
  local n = filter_count(net, name)
  local saved = {}
  local function zero(t)
    saved[#saved + 1] = {t, t:clone()}
    t:zero_()
  end
  local result = table.pack(pcall(function()
    core.no_grad(function()
      for _, f in ipairs(filters) do
        if math.type(f) ~= "integer" or f < 1 or f > n then
          error(string.format("layer '%s' has filters 1 to %d, not %s", name, n, tostring(f)), 0)
        end
        local w, b = filter_params(net, name, f)
        zero(w)
        if b and not weights_only then zero(b) end
      end
    end)
    return fn()
  end))
  core.no_grad(function()
    for i = #saved, 1, -1 do saved[i][1]:copy_(saved[i][2]) end
  end)
  if not result[1] then error(result[2], 0) end
  return table.unpack(result, 2, result.n)
end

-- Counts of images and of misclassified ones per true class (1-based
-- arrays of k integers) in class scores z (N x k) against labels.
local function count_errors(z, labels, k)
  local total, wrong = {}, {}
  for c = 1, k do total[c], wrong[c] = 0, 0 end
  local predicted = z:argmax(2):totable()
  for i, l in ipairs(labels:totable()) do
    local t = math.tointeger(l) + 1
    total[t] = total[t] + 1
    if predicted[i] ~= t then wrong[t] = wrong[t] + 1 end
  end
  return {total = total, wrong = wrong}
end

local function rates(counts)
  local per_class, all, wrong = {}, 0, 0
  for c, n in ipairs(counts.total) do
    per_class[c] = n > 0 and 100 * counts.wrong[c] / n or 0
    all, wrong = all + n, wrong + counts.wrong[c]
  end
  return {per_class = per_class, overall = all > 0 and 100 * wrong / all or 0,
          images = counts.total}
end

--- Error rates of the net as it is over set: {per_class = {[c + 1] = %},
-- overall = %, images = {[c + 1] = count}}. opts.batch (50).
function M.error_rates(net, set, opts)
  opts = opts or {}
  local blob, k = M.class_blob(net), M.class_count(net)
  local counts = core.no_grad(function()
    return sweep(set, opts, function(b)
      net:forward(b.images, {keep = {blob}})
      return count_errors(net.blobs[blob], b.labels, k)
    end)
  end)
  return rates(counts)
end

-- ---- running the net from a layer on --------------------------------------

-- What a forward from layer `name` on needs: the layer before it and the
-- blobs made before it that it or a later layer reads.
local function split_at(net, name)
  local _, at = layer_info(net, name)
  local made = {}
  for i = 1, at - 1 do
    for _, t in ipairs(net.layers[i].tops) do made[t] = true end
  end
  local needed, seen = {}, {}
  for i = at, #net.layers do
    for _, b in ipairs(net.layers[i].bottoms) do
      if made[b] and not seen[b] then needed[#needed + 1], seen[b] = b, true end
    end
  end
  return net.layers[at - 1].name, needed
end

-- Runs images up to the layer before `name` (no tape) and returns the blobs
-- the rest of the net needs, and a function running that rest on them and
-- giving the class scores.
local function prefix(net, images, name)
  local before, needed = split_at(net, name)
  local blob = M.class_blob(net)
  net:forward(images, {upto = before, keep = needed})
  local feeds = {}
  for _, b in ipairs(needed) do feeds[b] = net.blobs[b] end
  return function()
    net:forward(feeds, {from = name, keep = {blob}})
    return net.blobs[blob]
  end
end

-- The sum of -log softmax(z)_c over the rows of z, and the misclassified
-- count, in double.
local function loss_and_errors(z, c)
  local loss, wrong = 0.0, 0
  for _, row in ipairs(z:totable()) do
    local top, best = -math.huge, 1
    for j, v in ipairs(row) do
      if v > top then top, best = v, j end
    end
    local s = 0.0
    for _, v in ipairs(row) do s = s + math.exp(v - top) end
    loss = loss + (top + math.log(s)) - row[c + 1]
    if best ~= c + 1 then wrong = wrong + 1 end
  end
  return loss, wrong
end

--- The threshold sweep: for each threshold t, the filters of layer whose
-- importance (opts.importance, one value per filter) is below t removed
-- together, the error of class opts.class and the overall error over set.
-- Returns {layer =, class =, thresholds =, removed = {count per threshold},
-- class_error = {%}, overall_error = {%}}. opts: weights_only, batch.
function M.threshold_sweep(net, set, opts)
  local name, c = opts.layer, M.check_class(net, opts.class)
  M.check_layer(net, name)
  for i, t in ipairs(opts.thresholds) do
    if type(t) ~= "number" or t ~= t then
      error(string.format("threshold %d is not a number: %s", i, tostring(t)), 0)
    end
  end
  local below = {}
  for i, t in ipairs(opts.thresholds) do
    below[i] = {}
    for f, v in ipairs(opts.importance) do
      if v < t then below[i][#below[i] + 1] = f end
    end
  end
  local k = M.class_count(net)
  local counts = core.no_grad(function()
    return sweep(set, opts, function(b)
      local rest = prefix(net, b.images, name)
      local part = {}
      for i, filters in ipairs(below) do
        part[i] = M.with_removed(net, name, filters, opts, function()
          return count_errors(rest(), b.labels, k)
        end)
      end
      return part
    end)
  end)
  local out = {layer = name, class = c, thresholds = opts.thresholds, removed = {},
               class_error = {}, overall_error = {}}
  for i in ipairs(opts.thresholds) do
    local r = rates(counts[i])
    out.removed[i] = #below[i]
    out.class_error[i] = r.per_class[c + 1]
    out.overall_error[i] = r.overall
  end
  return out
end

-- Runs images through layer `name` (no tape) and returns its output y (N x
-- filters x ...) and a function giving the class scores of the rest of the
-- net on y as it is then (y itself when it is the class blob).
local function through(net, images, name)
  local l, at = layer_info(net, name)
  local top, blob = l.tops[1], M.class_blob(net)
  if top == blob then
    net:forward(images, {upto = name, keep = {top}})
    local y = net.blobs[top]
    return y, function() return y end
  end
  local _, needed = split_at(net, net.layers[at + 1].name)
  net:forward(images, {upto = name, keep = needed})
  local feeds = {}
  for _, b in ipairs(needed) do feeds[b] = net.blobs[b] end
  local after = net.layers[at + 1].name
  return feeds[top], function()
    net:forward(feeds, {from = after, keep = {blob}})
    return net.blobs[blob]
  end
end

--- The oracle: for every filter of the chosen layers, the true damage of
-- removing it alone over set (the images of class opts.class): the rise in
-- mean cross-entropy loss and in error rate (percentage points). A removed
-- filter's output channel is its bias (weights_only) or 0, exactly what a
-- forward with its weights zeroed gives; so each batch runs through the
-- layer once, and per filter only that channel is set and the rest of the
-- net runs. Returns {class =, images =, layers = {name = {loss = {...},
-- error = {...}, base_loss =, base_error =}}}. opts: layers, weights_only,
-- batch.
function M.oracle(net, set, opts)
  local c = M.check_class(net, opts.class)
  local layers = layers_opt(net, opts)
  check_images(set, "class " .. c)
  local total = core.no_grad(function()
    return sweep(set, opts, function(b)
      local part = {images = b.images:size(1), layers = {}}
      for _, name in ipairs(layers) do
        local y, rest = through(net, b.images, name)
        local base_loss, base_wrong = loss_and_errors(rest(), c)
        local bias = net.params[name].bias
        bias = bias and opts.weights_only and bias:totable()
        local loss, wrong = {}, {}
        for f = 1, y:size(2) do
          local channel = y:select(2, f)
          local kept = channel:clone()
          channel:fill_(bias and bias[f] or 0)
          loss[f], wrong[f] = loss_and_errors(rest(), c)
          channel:copy_(kept)
        end
        part.layers[name] = {base_loss = base_loss, base_wrong = base_wrong,
                             loss = loss, wrong = wrong}
      end
      return part
    end)
  end)
  local n = total.images
  local out = {class = c, images = n, layers = {}}
  for _, name in ipairs(layers) do
    local t = total.layers[name]
    local r = {loss = {}, error = {}, base_loss = t.base_loss / n,
               base_error = 100 * t.base_wrong / n}
    for f in ipairs(t.loss) do
      r.loss[f] = (t.loss[f] - t.base_loss) / n
      r.error[f] = 100 * (t.wrong[f] - t.base_wrong) / n
    end
    out.layers[name] = r
  end
  return out
end

-- ---- rank correlation ------------------------------------------------------

--- Ranks 1..n of the values, ties given the mean of the ranks they span.
function M.ranks(values)
  local order = {}
  for i = 1, #values do order[i] = i end
  table.sort(order, function(a, b)
    if values[a] ~= values[b] then return values[a] < values[b] end
    return a < b
  end)
  local ranks, i = {}, 1
  while i <= #order do
    local j = i
    while j < #order and values[order[j + 1]] == values[order[i]] do j = j + 1 end
    for k = i, j do ranks[order[k]] = (i + j) / 2 end
    i = j + 1
  end
  return ranks
end

--- Spearman's rank correlation of two lists of equal length: the Pearson
-- correlation of their ranks (ties: average ranks). nil when either list's
-- values are all equal (no ranking to correlate).
function M.spearman(a, b)
  if #a ~= #b then
    error(string.format("spearman: lists of %d and %d values", #a, #b), 2)
  end
  local ra, rb = M.ranks(a), M.ranks(b)
  local n = #a
  local ma, mb = 0.0, 0.0
  for i = 1, n do ma, mb = ma + ra[i], mb + rb[i] end
  ma, mb = ma / n, mb / n
  local sab, saa, sbb = 0.0, 0.0, 0.0
  for i = 1, n do
    local da, db = ra[i] - ma, rb[i] - mb
    sab, saa, sbb = sab + da * db, saa + da * da, sbb + db * db
  end
  if saa == 0 or sbb == 0 then return nil end
  return sab / math.sqrt(saa * sbb)
end

--- The most square grid for n cells: rows x cols = n, rows <= cols, as
-- close as the divisors of n allow; CaffeNet's conv1 (96 filters) is the
-- report's 6 rows of 16 when opts.caffenet_conv1.
function M.grid_shape(n, opts)
  if opts and opts.caffenet_conv1 and n == 96 then return 6, 16 end
  local rows = math.floor(math.sqrt(n))
  while rows > 1 and n % rows ~= 0 do rows = rows - 1 end
  return rows, n // rows
end

return M
