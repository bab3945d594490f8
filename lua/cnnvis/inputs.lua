--- A net's inputs from the images a user has: one image file, an
-- ImageNet-style folder of class sub-folders, or the default data set
-- (the 10,000 Fashion-MNIST test images), all prepared the same way.
--
--   local src = cv.inputs.open(net, {images = "val/", labels = "synset_words.txt",
--                                    mean = "mean.binaryproto"})
--   src.set:get(1)           --> C x H x W net input, 0-based label
--   src.classes[c + 1]       --> the name of class c
--   local x = src.image("cat.jpg")   --> 1 x C x H x W
--
-- Preparation: an image of the net's own size goes in as it is, times
-- opts.scale; any other is made to fit by cv.caffe_input (pycaffe's steps)
-- with the mean file when one is given, values 0..255 * scale otherwise;
-- a 3-channel net of ImageNet size gets pycaffe's defaults.
local core = require "cnnvis.core"
local data = require "cnnvis.data"
local transform = require "cnnvis.transform"

local M = {}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

-- The message of an error raised in Lua code, without its position.
local function message(err)
  return (tostring(err):gsub("^[^:]*%.lua:%d+: ", ""))
end

--- A function from a loaded image (C x H x W, 0..255) to the net's
-- C x H x W input, and whether the data set's own images (already of the
-- net's size) may go in as they are.
function M.preparer(net, opts)
  opts = opts or {}
  local shape = net.inputs[1] and net.inputs[1].shape
  if not shape or #shape ~= 4 then fail("the net's input is not N x C x H x W") end
  local c, h, w = shape[2], shape[3], shape[4]
  local scale = opts.scale or 1
  local imagenet = c == 3 and h >= 200 and w >= 200
  local fit = {mean = opts.mean}
  if not opts.mean and not imagenet then fit.raw_scale = 255 * scale end
  return function(img)
    if not core.is_tensor(img) or img:dim() ~= 3 then
      fail("an input image must be C x H x W")
    end
    local s = img:size()
    if not opts.mean and s[1] == c and s[2] == h and s[3] == w then
      return scale == 1 and img or img * scale
    end
    if s[1] ~= c and not (s[1] == 1 or s[1] == 3 or s[1] == 4 or s[1] == 2) then
      fail("an image of %d channels does not fit the net's %d", s[1], c)
    end
    local ok, x = pcall(transform.caffe_input, img, net, fit)
    if not ok then fail("%s", message(x)) end
    return x[1]
  end
end

-- A folder set in an order that takes the classes in turn, so that a
-- limit keeps every class.
local function interleaved(set)
  local by_class, classes = {}, {}
  for i = 1, #set do
    local c = set:label(i)
    if not by_class[c] then by_class[c], classes[#classes + 1] = {}, c end
    table.insert(by_class[c], i)
  end
  local order, k = {}, 1
  while #order < #set do
    for _, c in ipairs(classes) do
      if by_class[c][k] then order[#order + 1] = by_class[c][k] end
    end
    k = k + 1
  end
  return set:subset(order)
end

--- The inputs for net. opts: images (a folder; default the Fashion-MNIST
-- test set), labels (a synset_words.txt-style file: class names), mean,
-- scale, limit (the first N images only). Returns {set = a cv.data set of
-- prepared inputs, classes = names (1-based array for classes 0..),
-- source = a description, image = function(path) -> 1 x C x H x W}.
function M.open(net, opts)
  opts = opts or {}
  local prepare = M.preparer(net, opts)
  local raw, source
  if opts.images then
    local ok, set = pcall(data.folder, opts.images, {labels = opts.labels})
    if not ok then fail("%s", message(set)) end
    if #set == 0 then fail("%s has no images in class sub-folders", opts.images) end
    raw, source = interleaved(set), opts.images
  else
    local ok, set = pcall(data.fashion_mnist, "test")
    if not ok then fail("%s (pass --images DIR)", message(set)) end
    raw, source = set, "Fashion-MNIST test set"
  end
  if opts.limit and opts.limit < #raw then
    local first = {}
    for i = 1, opts.limit do first[i] = i end
    raw = raw:subset(first)
  end
  local classes = raw.classes or {}
  if opts.labels then
    local ok, t = pcall(data.read_labels, opts.labels)
    if not ok then fail("%s", message(t)) end
    classes = t.names
  end
  -- The data set's images go in as they are when they fit (fast batches).
  local shape, first = net.inputs[1].shape, raw:get(1)
  local s = first:size()
  local as_is = not opts.mean and (opts.scale or 1) == 1 and s[1] == shape[2]
                and s[2] == shape[3] and s[3] == shape[4]
  local set = raw
  if not as_is then
    set = data.new {
      n = #raw, labels = raw._labels, classes = raw.classes, name = raw.name,
      load = function(i)
        local img, label = raw:get(i)
        return prepare(img), label
      end,
    }
  end
  local function image(path)
    local ok, img = pcall(core.image.load, path)
    if not ok then fail("%s", message(img)) end
    return prepare(img):unsqueeze(1)
  end
  return {set = set, classes = classes, source = source, image = image, prepare = prepare}
end

return M
