--- The report's gradients (3.2): the weight gradients of one class neuron
-- for one image, and the images to compare them on.
--
--   local g, info = cv.gradients.of_neuron(net, x, {class = 6})   -- x: 1 x C x H x W
--   g.conv1.weight, g.conv1.bias, info.value, info.predicted
--   local found = cv.gradients.find_examples(net, set, {6, 0, 7})
--   found[6].correct.index, found[6].wrong and found[6].wrong.index
local core = require "cnnvis.core"

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
  local blob
  for _, l in ipairs(net.layers) do
    if l.type == "InnerProduct" then blob = l.tops[1] end
  end
  return blob
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
-- predicted = the blob's argmax (0-based), layers = the names in order}.
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
  return grads, {blob = blob, class = class, value = value, predicted = predicted,
                 layers = layers}
end

-- The answer blob of a classifier: its last output (a softmax's argmax is
-- its input's).
local function answer_blob(net)
  return net.outputs[#net.outputs]
end

--- For each class in `classes` (0-based), the first image of the set (in
-- its order) that the net classifies correctly and the first it gets wrong.
-- Only the images of those classes are run, forward only (cv.no_grad), in
-- batches, until every class has both or the set ends.
-- opts.prepare(image) -> the net's C x H x W input (default: the image as
-- it is); opts.batch (default 100); opts.blob: where the answer is read
-- (default: the net's last output).
-- Returns a table class -> {count = images of the class, correct = {index =
-- 1-based position in the set, class =, predicted =, score = the answer
-- blob's value of the predicted class} or nil, wrong = the same or nil},
-- plus skipped = {{index =, message =}, ...} for images that did not load.
-- A class with no image in the set is an error.
function M.find_examples(net, set, classes, opts)
  opts = opts or {}
  local who = "find_examples"
  local prepare, batch = opts.prepare or function(img) return img end, opts.batch or 100
  if math.type(batch) ~= "integer" or batch < 1 then
    error(who .. ": batch must be a positive integer, got " .. tostring(batch), 2)
  end
  if type(classes) ~= "table" or #classes == 0 then
    error(who .. ": give the classes as a list of 0-based integers", 2)
  end
  local blob = opts.blob or answer_blob(net)
  local wanted, found = {}, {}
  for _, c in ipairs(classes) do
    M.check_neuron(net, blob, c, who)
    wanted[c], found[c] = true, {count = 0}
  end
  local positions = {}
  for i = 1, #set do
    local c = set:label(i)
    if wanted[c] then
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
  local skipped = {}
  local function done()
    for c in pairs(wanted) do
      if not (found[c].correct and found[c].wrong) then return false end
    end
    return true
  end
  core.no_grad(function()
    for first = 1, #positions, batch do
      local xs, pos, labels = {}, {}, {}
      for k = first, math.min(#positions, first + batch - 1) do
        local i = positions[k]
        local ok, img, label = pcall(set.get, set, i)
        if ok then
          xs[#xs + 1], pos[#pos + 1], labels[#labels + 1] = prepare(img), i, label
        else
          skipped[#skipped + 1] = {index = i, message = tostring(img)}
        end
      end
      if #xs > 0 then
        local out = net:forward(core.stack(xs, 1), {keep = {blob}})[blob] or net.blobs[blob]
        local scores, pred = out:reshape(#xs, -1):max(2)
        scores, pred = scores:totable(), pred:totable()
        for j, i in ipairs(pos) do
          local c, p = labels[j], math.tointeger(pred[j] - 1)
          local role = p == c and "correct" or "wrong"
          if not found[c][role] then
            found[c][role] = {index = i, class = c, predicted = p, score = scores[j]}
          end
        end
      end
      if done() then break end
    end
  end)
  found.skipped = skipped
  return found
end

return M
