--- Network inputs prepared as pycaffe's Transformer and Classifier prepare
-- them, and classification with labels.
--
--   local x = cv.image.load("cat.jpg"):caffe_input(net, {mean = "mean.binaryproto"})
--   local top = cv.caffe.classify(net, "cat.jpg", {labels = "synset_words.txt"})
--   print(top[1][1].class, top[1][1].label, top[1][1].prob)  -- prob: always a probability
--
-- The steps, in pycaffe's order, on a C x H x W image of 0..255 values:
-- channels to the net's count (gray replicated, alpha dropped), values
-- scaled to 0..raw_scale, resize (stb's tent filter) to `resize` or to the
-- input size, channel swap, mean subtraction, crop to the input size
-- ("center", or "oversample": 4 corners, center and their mirrors), then
-- input_scale.
local core = require "cnnvis.core"

local M = {}

-- Channel means (B, G, R) of the ILSVRC 2012 mean image, which pycaffe's
-- examples subtract per channel.
M.ILSVRC_MEAN = {104.00698793, 116.66876762, 122.67891434}

local function fail(msg) error(msg, 3) end

local function is_imagenet_like(c, h, w)
  return c == 3 and h >= 200 and w >= 200
end

-- The options with the defaults filled in for a net input of C x H x W.
local function settle(opts, c, h, w)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  local imagenet = is_imagenet_like(c, h, w)
  if o.raw_scale == nil then o.raw_scale = imagenet and 255 or 1 end
  if o.channel_swap == nil and imagenet then o.channel_swap = {3, 2, 1} end
  if o.mean == nil and imagenet then o.mean = M.ILSVRC_MEAN end
  if o.resize == nil and imagenet then o.resize = 256 end
  if o.crop == nil then o.crop = "center" end
  if o.crop ~= "center" and o.crop ~= "oversample" then
    fail("caffe_input: crop must be \"center\" or \"oversample\", not " .. tostring(o.crop))
  end
  local r = o.resize
  if r == nil or r == false then
    o.rh, o.rw = h, w
  elseif math.type(r) == "integer" then
    o.rh, o.rw = r, r
  elseif type(r) == "table" and math.type(r[1]) == "integer" and math.type(r[2]) == "integer" then
    o.rh, o.rw = r[1], r[2]
  else
    fail("caffe_input: resize must be a size (256) or {h, w}")
  end
  if o.rh < h or o.rw < w then
    fail(string.format("caffe_input: resize %dx%d is smaller than the net's input %dx%d",
      o.rh, o.rw, h, w))
  end
  return o
end

-- An image tensor with the net's channel count, in the image's own order.
local function to_channels(img, c)
  local have = img:size(1)
  if have == 2 or have == 4 then img = img:narrow(1, 1, have - 1) end -- alpha
  have = img:size(1)
  if have == c then return img end
  if have == 1 and c == 3 then return core.cat({img, img, img}, 1) end
  if have == 3 and c == 1 then -- ITU-R 601 luma, as libjpeg's gray
    return (img:narrow(1, 1, 1) * 0.299 + img:narrow(1, 2, 1) * 0.587
            + img:narrow(1, 3, 1) * 0.114)
  end
  fail(string.format("caffe_input: cannot make a %d-channel image into the net's %d channels",
    have, c))
end

local function swap_channels(img, order)
  local c = img:size(1)
  if #order ~= c then
    fail(string.format("caffe_input: channel_swap has %d entries, the image %d channels",
      #order, c))
  end
  local planes = {}
  for i, k in ipairs(order) do
    if math.type(k) ~= "integer" or k < 1 or k > c then
      fail("caffe_input: channel_swap entry " .. i .. " must be a channel 1 to " .. c)
    end
    planes[i] = img:narrow(1, k, 1)
  end
  return core.cat(planes, 1)
end

-- The mean as a C x H x W (per pixel) or C x 1 x 1 (per channel) tensor.
local function mean_tensor(mean, c)
  local t
  if type(mean) == "string" then
    t = mean:match("%.npy$") and core.load_npy(mean) or core.caffe.load_mean(mean)
  elseif core.is_tensor(mean) then
    t = mean
  elseif type(mean) == "table" then
    if #mean ~= c then
      fail(string.format("caffe_input: mean has %d values, the net %d channels", #mean, c))
    end
    return core.tensor(mean):view(c, 1, 1)
  else
    fail("caffe_input: mean must be a file, a tensor or a table of channel values")
  end
  while t:dim() > 3 and t:size(1) == 1 do t = t:select(1, 1) end
  if t:dim() ~= 3 or t:size(1) ~= c then
    fail(string.format("caffe_input: the mean has shape %s, the net needs %d channels",
      table.concat(t:size(), "x"), c))
  end
  return t
end

-- Crops of h x w at 1-based offsets {top, left, mirror}.
local function crop_boxes(o, h, w)
  local dy, dx = o.rh - h, o.rw - w
  local center = {dy // 2 + 1, dx // 2 + 1}
  if o.crop == "center" then return {center} end
  local boxes = {{1, 1}, {1, dx + 1}, {dy + 1, 1}, {dy + 1, dx + 1}, center}
  for i = 1, 5 do boxes[5 + i] = {boxes[i][1], boxes[i][2], true} end
  return boxes
end

local function crop_mean(m, h, w)
  local mh, mw = m:size(2), m:size(3)
  if mh == 1 and mw == 1 then return m end
  if mh < h or mw < w then
    fail(string.format("caffe_input: the mean is %dx%d, smaller than the net's input %dx%d",
      mh, mw, h, w))
  end
  return m:narrow(2, (mh - h) // 2 + 1, h):narrow(3, (mw - w) // 2 + 1, w)
end

--- The net's input batch for one image (a path or a C x H x W tensor of
-- 0..255 values): 1 x C x H x W, or 10 x C x H x W with crop = "oversample".
-- opts: mean (file, tensor or channel values, in the swapped order and the
-- raw_scale units), channel_swap, raw_scale, resize (number or {h, w}),
-- crop ("center" | "oversample"), input_scale. Defaults: for a 3-channel
-- net of ImageNet size, those of pycaffe's classify.py (resize 256, center
-- crop, BGR, raw_scale 255, the ILSVRC channel means); otherwise a plain
-- resize to the input size with values 0..1.
function M.caffe_input(img, net, opts)
  if type(img) == "string" then img = core.image.load(img) end
  if not core.is_tensor(img) or img:dim() ~= 3 then
    fail("caffe_input: the image must be a path or a CxHxW tensor")
  end
  if type(net) ~= "table" or not net.inputs or not net.inputs[1] then
    fail("caffe_input: the second argument must be a net (cv.caffe.load)")
  end
  local shape = net.inputs[1].shape
  local c, h, w = shape[2], shape[3], shape[4]
  local o = settle(opts, c, h, w)
  local x = to_channels(img, c) * (o.raw_scale / 255)
  if x:size(2) ~= o.rh or x:size(3) ~= o.rw then x = core.image.resize(x, o.rh, o.rw) end
  if o.channel_swap then x = swap_channels(x, o.channel_swap) end
  local mean = o.mean and mean_tensor(o.mean, c)
  -- A mean of the resized size is cropped with the image, as Caffe's data
  -- layer does; any other is center-cropped to the input size.
  if mean and mean:size(2) == o.rh and mean:size(3) == o.rw then
    x, mean = x - mean, nil
  end
  if mean then mean = crop_mean(mean, h, w) end
  local crops = {}
  for i, b in ipairs(crop_boxes(o, h, w)) do
    local cx = x:narrow(2, b[1], h):narrow(3, b[2], w)
    if b[3] then cx = core.image.mirror(cx) end
    if mean then cx = cx - mean end
    if o.input_scale then cx = cx * o.input_scale end
    crops[i] = cx
  end
  return core.stack(crops, 1):contiguous()
end

--- Label lines of a synset_words.txt-style file: line i+1 names class i;
-- a leading WordNet id ("n02123045 ") is dropped.
function M.read_labels(path)
  local f, msg = io.open(path, "r")
  if not f then error("classify: cannot open labels: " .. msg, 2) end
  local labels = {}
  for line in f:lines() do
    line = line:gsub("\r$", "")
    labels[#labels + 1] = line:match("^n%d+%s+(.*)$") or line
  end
  f:close()
  return labels
end

local function output_blob(net, opts)
  local name = opts.blob or net.outputs[#net.outputs]
  if not name then fail("classify: the net has no output blob") end
  return name
end

-- The type of the layer that last writes blob `name`.
local function producer_type(net, name)
  local kind
  for _, l in ipairs(net.layers) do
    for _, t in ipairs(l.tops) do if t == name then kind = l.type end end
  end
  return kind
end

--- Classifies images (a path, a tensor, or a list of them) and returns for
-- each a list of the `top` (default 5) classes: {class = 0-based, label =,
-- prob =, score =}. `prob` is always a probability: the blob's value when a
-- Softmax layer writes it, else the softmax of the blob's values (a net
-- that ends in an InnerProduct or a global pooling gives scores); `score`
-- is the blob's own value. Each image's list also says `blob =` (its name)
-- and `probabilities =` "net" (a Softmax output) or "softmax" (applied
-- here). Crops of one image ("oversample", the default for ImageNet-size
-- nets as in classify.py) are averaged, probabilities and scores apart.
-- opts also takes caffe_input's options, labels (a file or a table) and
-- blob (default: the last output). The forward keeps only that blob:
-- net.blobs holds nothing else after.
function M.classify(net, images, opts)
  opts = opts or {}
  if type(images) == "string" or core.is_tensor(images) then images = {images} end
  local labels = opts.labels
  if type(labels) == "string" then labels = M.read_labels(labels) end
  local top = opts.top or 5
  local shape = net.inputs[1].shape
  local input_opts = {}
  for k, v in pairs(opts) do input_opts[k] = v end
  if input_opts.crop == nil and is_imagenet_like(shape[2], shape[3], shape[4]) then
    input_opts.crop = "oversample"
  end
  local name, results = output_blob(net, opts), {}
  local is_prob = producer_type(net, name) == "Softmax"
  for i, img in ipairs(images) do
    local x = M.caffe_input(img, net, input_opts)
    local p, s = core.no_grad(function()
      local out = net:forward(x, {keep = {name}})[name] or net.blobs[name]
      local raw = out:contiguous():view(x:size(1), -1)
      local prob = is_prob and raw or core.nn.softmax(raw, 2)
      return prob:mean(1), raw:mean(1)
    end)
    local probs, pos = p:topk(math.min(top, p:size(1)))
    local list = {blob = name, probabilities = is_prob and "net" or "softmax"}
    for k = 1, probs:size(1) do
      local at = math.tointeger(pos[k]:item())
      local class = at - 1
      list[k] = {class = class, prob = probs[k]:item(), score = s[at]:item(),
                 label = labels and labels[class + 1] or tostring(class)}
    end
    results[i] = list
  end
  return results
end

-- img:caffe_input(net, opts) on every tensor.
core.tensor_methods().caffe_input = M.caffe_input

return M
