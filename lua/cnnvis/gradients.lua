--- The report's gradients (3.2): the weight gradients of one class neuron
-- for one image, and the images to compare them on.
--
--   local g, info = cv.gradients.of_neuron(net, x, {class = 6})   -- x: 1 x C x H x W
--   g.conv1.weight, g.conv1.bias, info.value, info.predicted
--   local found = cv.gradients.find_examples(net, set, {6, 0, 7})
--   found[6].correct.index, found[6].wrong and found[6].wrong.index
local core = require "cnnvis.core"
local sweep = require "cnnvis.sweep"

local M = {}

local function is_weight_layer(l)
  return l.type == "Convolution" or l.type == "InnerProduct"
end

local function shape_str(shape)
  return table.concat(shape, "x")
end

--- The names of the net's Convolution and InnerProduct layers, in net order.
function M.weight_layers(net)
  local names = {}
  for _, l in ipairs(net.layers) do
    if is_weight_layer(l) then names[#names + 1] = l.name end
  end
  return names
end

--- The report's fc8 neuron blob: the top of the net's last InnerProduct layer
-- (before any softmax); nil when the net has none.
function M.default_blob(net)
  return net:class_blob()
end

-- The net's blobs, in net order, each once.
local function all_blobs(net)
  local names, seen = {}, {}
  for _, l in ipairs(net.layers) do
    for _, t in ipairs(l.tops) do
      if not seen[t] then names[#names + 1], seen[t] = t, true end
    end
  end
  return names
end

--- Checks that blob `blob` of the net has a neuron of class c (0-based: a
-- position along the blob's second dimension) that depends on weights.
-- Returns the blob's name and its number of classes; raises "<who>: ..."
-- naming the blob and listing the blobs, or naming the class and the range.
function M.check_neuron(net, blob, class, who)
  who = who or "gradients"
  blob = blob or M.default_blob(net)
  if blob == nil then
    error(who .. ": the net has no InnerProduct layer; name the neuron's blob", 3)
  end
  local producer, weights_before, after_weights = nil, false, false
  for _, l in ipairs(net.layers) do
    if is_weight_layer(l) then weights_before = true end
    for k, t in ipairs(l.tops) do
      if t == blob then
        producer, after_weights = {layer = l, shape = l.top_shapes[k]}, weights_before
      end
    end
  end
  if not producer then
    error(string.format("%s: the net has no blob '%s' (its blobs: %s)",
      who, tostring(blob), table.concat(all_blobs(net), ", ")), 3)
  end
  if not after_weights then
    error(string.format("%s: blob '%s' comes before every Convolution and InnerProduct "
      .. "layer, so no weight changes it (blobs after one: %s)", who, blob,
      table.concat(M.blobs_after_weights(net), ", ")), 3)
  end
  local shape = producer.shape
  local count = shape[2]
  if #shape < 2 then
    error(string.format("%s: blob '%s' of shape %s has no classes (a second dimension)",
      who, blob, shape_str(shape)), 3)
  end
  if math.type(class) ~= "integer" then
    error(string.format("%s: the class must be a 0-based integer, got %s", who,
      tostring(class)), 3)
  end
  if class < 0 or class >= count then
    error(string.format("%s: class %d is outside blob '%s', which has %d classes (0 to %d)",
      who, class, blob, count, count - 1), 3)
  end
  return blob, count
end

--- The blobs written at or after the net's first Convolution or InnerProduct
-- layer: those whose neurons have weight gradients.
function M.blobs_after_weights(net)
  local names, seen, on = {}, {}, false
  for _, l in ipairs(net.layers) do
    on = on or is_weight_layer(l)
    if on then
      for _, t in ipairs(l.tops) do
        if not seen[t] then names[#names + 1], seen[t] = t, true end
      end
    end
  end
  return names
end

local function check_layers(net, layers, who)
  if layers == nil then return M.weight_layers(net) end
  if type(layers) ~= "table" or #layers == 0 then
    error(who .. ": layers must be a non-empty list of layer names", 3)
  end
  for _, name in ipairs(layers) do
    if not net.params[name] then
      error(string.format("%s: layer '%s' has no weights (layers with weights: %s)", who,
        tostring(name), table.concat(M.weight_layers(net), ", ")), 3)
    end
  end
  return layers
end

local function grad_copy(t)
  local g = t.grad
  if g then return g:clone() end
  return core.zeros(table.unpack(t:size()))
end

--- The gradient of one neuron w.r.t. the weights of every chosen layer, for
-- one image x (1 x C x H x W, or C x H x W), leaving nothing behind: every
-- parameter's gradient is zeroed before and after, the backward frees its
-- tape, and the results are copies.
-- opts.blob: the neuron's blob (default: the last InnerProduct layer's top,
-- before any softmax: the report's fc8 neuron); opts.class: its class,
-- 0-based (default: the class the blob's largest value gives: the
-- prediction); opts.layers: layer names (default: every Convolution and
-- InnerProduct layer). Returns a table layer -> {weight =, bias =} (bias nil
-- for a layer without one) and info {blob =, class =, value = the neuron,
-- predicted = the blob's argmax (0-based), layers = the names in order,
-- outputs = the net's output blobs for x by name (e.g. prob)}.
function M.of_neuron(net, x, opts)
  opts = opts or {}
  local who = "of_neuron"
  if not core.is_tensor(x) or (x:dim() ~= 3 and x:dim() ~= 4) then
    error(who .. ": give one image as a 1 x C x H x W (or C x H x W) tensor", 2)
  end
  if x:dim() == 3 then x = x:unsqueeze(1) end
  if x:size(1) ~= 1 then
    error(string.format("%s: give one image (1 x C x H x W), got %s", who,
      shape_str(x:size())), 2)
  end
  local blob = M.check_neuron(net, opts.blob, opts.class == nil and 0 or opts.class, who)
  local layers = check_layers(net, opts.layers, who)
  net:zero_grad()
  local keep = {blob}
  for _, name in ipairs(net.outputs) do keep[#keep + 1] = name end
  net:forward(x, {keep = keep})
  local scores = net.blobs[blob]
  local predicted = math.tointeger(scores:reshape(1, -1):argmax(2):totable()[1] - 1)
  if scores:dim() > 2 then predicted = nil end -- a conv blob: classes are maps
  local class = opts.class
  if class == nil then class = predicted or 0 end
  local neuron = net:neuron(blob, {class = class})
  local value = neuron:item()
  neuron:backward()
  local grads = {}
  for _, name in ipairs(layers) do
    local p = net.params[name]
    grads[name] = {weight = grad_copy(p.weight), bias = p.bias and grad_copy(p.bias)}
  end
  net:zero_grad()
  local outputs = {}
  for _, name in ipairs(net.outputs) do outputs[name] = net.blobs[name] end
  return grads, {blob = blob, class = class, value = value, predicted = predicted,
                 layers = layers, outputs = outputs}
end

-- The answer blob of a classifier: its last output (a softmax's argmax is
-- its input's).
local function answer_blob(net)
  return net.outputs[#net.outputs]
end

--- For each class in `classes` (0-based), the first image of the set (in
-- its order) that the net classifies correctly and the first it gets wrong.
-- Only the images of those classes are run, forward only (cv.no_grad), in
-- batches, until every class has both or the set ends: a search through
-- cv.sweep, so that shards find the images one process finds.
-- opts.batch (default 100); opts.blob: where the answer is read (default:
-- the net's last output); opts.sweep: a function(set, settings, fn) in place
-- of cv.sweep.run (a script's ctx:sweep). Give a set whose images are the
-- net's input (Set:map prepares them).
-- Returns a table class -> {count = images of the class, correct = {index =
-- 1-based position in the set, class =, predicted =, score = the answer
-- blob's value of the predicted class} or nil, wrong = the same or nil},
-- plus skipped = the positions of images searched that did not load.
-- A class with no image in the set is an error.
function M.find_examples(net, set, classes, opts)
  opts = opts or {}
  local who = "find_examples"
  local batch = opts.batch or 100
  if math.type(batch) ~= "integer" or batch < 1 then
    error(who .. ": batch must be a positive integer, got " .. tostring(batch), 2)
  end
  if type(classes) ~= "table" or #classes == 0 then
    error(who .. ": give the classes as a list of 0-based integers", 2)
  end
  local blob = opts.blob or answer_blob(net)
  local found = {}
  for _, c in ipairs(classes) do
    M.check_neuron(net, blob, c, who)
    found[c] = {count = 0}
  end
  local positions = {}
  for i = 1, #set do
    local c = set:label(i)
    if found[c] then
      positions[#positions + 1] = i
      found[c].count = found[c].count + 1
    end
  end
  for _, c in ipairs(classes) do
    if found[c].count == 0 then
      local name = set.classes and set.classes[c + 1]
      error(string.format("%s: %s has no image of class %d%s", who,
        set.name and ("data set '" .. set.name .. "'") or "the data set", c,
        name and (" (" .. name .. ")") or ""), 2)
    end
  end

  -- A batch's value: its first correct and first wrong image of each class
  -- (hits, in the set's order) and the images that did not load; combined,
  -- the earlier hit of a class and role wins.
  local function first_hits(hits)
    local seen, out = {}, {}
    for _, h in ipairs(hits) do
      local key = h.class .. h.role
      if not seen[key] then seen[key], out[#out + 1] = true, h end
    end
    return out
  end
  local function combine(acc, v)
    local hits, skipped = {}, {}
    for _, list in ipairs{acc.hits, v.hits} do table.move(list, 1, #list, #hits + 1, hits) end
    for _, list in ipairs{acc.skipped, v.skipped} do table.move(list, 1, #list, #skipped + 1, skipped) end
    return {hits = first_hits(hits), skipped = skipped}
  end
  local function enough(acc)
    local have = {}
    for _, h in ipairs(acc.hits) do have[h.class .. h.role] = true end
    for _, c in ipairs(classes) do
      if not (have[c .. "correct"] and have[c .. "wrong"]) then return false end
    end
    return true
  end
  local searched = set:subset(positions)
  local result = (opts.sweep or sweep.run)(searched, {batch = batch, label = "search",
    combine = combine, enough = enough}, function(b)
    local hits = {}
    core.no_grad(function()
      local out = net:forward(b.images, {keep = {blob}})[blob] or net.blobs[blob]
      local scores, pred = out:reshape(#b.positions, -1):max(2)
      local labels = b.labels:totable()
      scores, pred = scores:totable(), pred:totable()
      for j, p in ipairs(b.positions) do
        local c, predicted = math.tointeger(labels[j]), math.tointeger(pred[j] - 1)
        hits[#hits + 1] = {index = positions[p], class = c, predicted = predicted,
                           score = scores[j], role = predicted == c and "correct" or "wrong"}
      end
    end)
    local skipped = {}
    for k, p in ipairs(b.skipped) do skipped[k] = positions[p] end
    return {hits = first_hits(hits), skipped = skipped}
  end)
  for _, h in ipairs(result and result.hits or {}) do
    found[h.class][h.role] = {index = h.index, class = h.class, predicted = h.predicted,
                              score = h.score}
  end
  found.skipped = result and result.skipped or {}
  return found
end

-- ---- what the gradients look like -------------------------------------------

--- The L2 norm of each filter's (output neuron's) share of a weight
-- gradient (F x ... : F norms), summed in double by the engine's norm.
function M.filter_norms(grad)
  return grad:reshape(grad:size(1), -1):norm(2, 2)
end

--- {l2 = the whole gradient's norm, mean_filter = the mean of its filter
-- norms} for each layer of grads (as of_neuron gives them), as Lua numbers.
function M.norms(grads)
  local out = {}
  for name, g in pairs(grads) do
    out[name] = {l2 = g.weight:norm():item(), mean_filter = M.filter_norms(g.weight):mean():item()}
  end
  return out
end

-- The input blob's C x H x W of an InnerProduct layer whose input is a
-- 4-d blob of `inputs` values per image; nil otherwise.
local function fc_input_maps(net, layer, inputs)
  for _, l in ipairs(net.layers) do
    if l.name == layer then
      for _, m in ipairs(net.layers) do
        for k, t in ipairs(m.tops) do
          local shape = m.top_shapes[k]
          if t == l.bottoms[1] and #shape == 4 and shape[2] * shape[3] * shape[4] == inputs then
            return shape[2], shape[3], shape[4]
          end
        end
      end
    end
  end
end

--- A weight gradient as a D x H x W volume. layout "slices" (default):
-- a Convolution's F x C x kh x kw as F*C stacked kh x kw slices (filter f's
-- channels together, filters along z), an InnerProduct's out x in the same
-- way when its input blob is C x H x W (out*C slices of H x W), else one
-- out x in slice. layout "filters": F x C x (kh*kw), one slice per filter,
-- a row per input channel, the kernel's taps along x (InnerProduct: out x C
-- x H*W, or out x 1 x in): a block of comparable sides, for rendering.
function M.volume(net, layer, grad, layout)
  local s = grad:size()
  local f, c, h, w
  if #s == 4 then
    f, c, h, w = s[1], s[2], s[3], s[4]
  else
    f = s[1]
    c, h, w = fc_input_maps(net, layer, s[2])
    if not c then
      if layout == "filters" then return grad:reshape(f, 1, s[2]) end
      return grad:reshape(1, f, s[2])
    end
  end
  if layout == "filters" then return grad:reshape(f, c, h * w) end
  return grad:reshape(f * c, h, w)
end

--- The report's equation 1 on every layer of `layers`: cv.validate_weight_gradient
-- with count weights each (half of them those of the largest |gradient|, the
-- others a seeded sample), on the net's last input, for neuron {blob, class =
-- c}. Returns a table layer -> {judged =, tiny =, kink =, max_rel_error =,
-- median_rel_error = (of the judged rows; nil when none), eps =, rows =} and
-- leaves no gradient behind.
function M.validate(net, neuron, layers, count)
  if math.type(count) ~= "integer" or count < 1 then
    error("validate: count must be a positive integer (weights per layer), got "
      .. tostring(count), 2)
  end
  local validate = require("cnnvis.gradcheck").validate_weight_gradient
  local out = {}
  for _, name in ipairs(layers) do
    local rows, summary = validate(net, neuron, name, {count = count, largest = count // 2})
    local tiny, kink, errors = 0, 0, {}
    for _, r in ipairs(rows) do
      if r.kink then kink = kink + 1
      elseif r.tiny then tiny = tiny + 1
      else errors[#errors + 1] = r.rel_error end
    end
    table.sort(errors)
    local median
    if #errors > 0 then
      local m = (#errors + 1) // 2
      median = #errors % 2 == 1 and errors[m] or (errors[m] + errors[m + 1]) / 2
    end
    out[name] = {judged = summary.judged, tiny = tiny, kink = kink,
                 max_rel_error = summary.max_rel_error, median_rel_error = median,
                 eps = summary.eps, rows = rows}
  end
  net:zero_grad()
  return out
end

--- A picture of volume vol (D x H x W) through the engine's ray caster:
-- emission-absorption compositing (opts.mode "composite", or "mip") with
-- one transfer function: opts.range = {lo, hi} (required: the same for
-- every volume that is to be compared), colormap ("viridis"), opacity
-- ({0.1, 0.8, 1}), azimuth (30), elevation (20), width and height (256).
-- Each axis is stretched to the length of the longest (a 64 x 24 x 9 block
-- is drawn as a cube), so that thin volumes are not a plate seen edge on.
function M.render(vol, opts)
  local raycast = core.render and core.render.raycast
  if not raycast then
    error("render: this build has no ray caster (cv.render.raycast)", 2)
  end
  local d, h, w = vol:size(1), vol:size(2), vol:size(3)
  local long = math.max(d, h, w)
  return raycast(vol, {
    mode = opts.mode or "composite", range = opts.range, colormap = opts.colormap or "viridis",
    opacity = opts.opacity or {0.1, 0.8, 1}, azimuth = opts.azimuth or 30,
    elevation = opts.elevation or 20, width = opts.width or 256, height = opts.height or 256,
    spacing = {long / d, long / h, long / w},
  })
end

return M
