--- Data sets: IDX pairs (MNIST, Fashion-MNIST), ImageNet-style folders and
-- Caffe ImageData list files, as one kind of Lua object.
--
--   local set = cv.data.fashion_mnist("train")
--   print(#set, set.classes[set[1].label + 1])     -- labels are 0-based
--   local image, label = set:get(1)                -- 1x28x28, 0..255
--   for b in set:batches(64, {shuffle = 1, mirror = true}) do
--     net:forward({data = b.images, label = b.labels})
--   end
--
-- Images load lazily (a folder is read one file at a time, when asked); an
-- image of a folder or list that does not decode is reported on stderr and
-- skipped by batches().
local core = require "cnnvis.core"

local M = {}

--- Where Debian's dataset-fashion-mnist puts the files.
M.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

--- Fashion-MNIST's classes, in the order of its labels 0..9.
M.FASHION_MNIST_CLASSES = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

local Set = {}

local function set_index(self, k)
  if math.type(k) == "integer" then
    local image, label = self:get(k)
    return {image = image, label = label}
  end
  return Set[k]
end

local Meta = {
  __index = set_index,
  __len = function(self) return self._n end,
  __tostring = function(self)
    return string.format("data set (%d samples, %s)", self._n, self.name or "unnamed")
  end,
}

--- A data set from a loader: spec.n samples, spec.load(i) -> image, label
-- (i 1-based), spec.labels (optional array of 0-based labels, for of_class),
-- spec.images (optional NxCxHxW tensor holding every image: fast batches),
-- spec.classes (optional class names, 1-based array for labels 0..).
function M.new(spec)
  return setmetatable({
    _n = spec.n, _load = spec.load, _labels = spec.labels, _images = spec.images,
    classes = spec.classes, name = spec.name,
  }, Meta)
end

local function check_position(self, i, level)
  if math.type(i) ~= "integer" or i < 1 or i > self._n then
    error(string.format("data set: sample %s is out of range (the set has %d)",
      tostring(i), self._n), level + 1)
  end
end

--- The image (CxHxW, 0..255) and the 0-based label of sample i.
function Set:get(i)
  check_position(self, i, 2)
  return self._load(i)
end

--- The label of sample i without loading its image (when the set knows it).
function Set:label(i)
  check_position(self, i, 2)
  if self._labels then return self._labels[i] end
  local _, label = self._load(i)
  return label
end

--- A view of the samples at positions (an array of 1-based positions).
function Set:subset(positions)
  local base, labels = self, nil
  if self._labels then
    labels = {}
    for k, i in ipairs(positions) do labels[k] = self._labels[i] end
  end
  return M.new {
    n = #positions, labels = labels, classes = self.classes, name = self.name,
    load = function(k) return base._load(positions[k]) end,
  }
end

--- The samples of class c (0-based), as a new set.
function Set:of_class(c)
  if math.type(c) ~= "integer" then
    error("of_class: give the class as a 0-based integer", 2)
  end
  local positions = {}
  for i = 1, self._n do
    if self:label(i) == c then positions[#positions + 1] = i end
  end
  return self:subset(positions)
end

--- A set whose images are transform(image, label) (labels unchanged, or
-- the transform's second result when it gives one).
function Set:map(transform)
  local base = self
  return M.new {
    n = self._n, labels = nil, classes = self.classes, name = self.name,
    load = function(i)
      local image, label = base._load(i)
      local out, new_label = transform(image, label)
      return out, new_label == nil and label or new_label
    end,
  }
end

-- A small seeded generator (xorshift64*), so that shuffles do not touch
-- the engine's or Lua's global random state.
local function generator(seed)
  local s = seed ~ 0x2545F4914F6CDD1D
  if s == 0 then s = 1 end
  return function(n) -- uniform integer in 1..n
    s = s ~ (s >> 12); s = s ~ (s << 25); s = s ~ (s >> 27)
    local r = (s * 0x2545F4914F6CDD1D) >> 11
    return r % n + 1
  end
end

--- A permutation of 1..n from seed (Fisher–Yates).
function M.permutation(n, seed)
  local order, rand = {}, generator(seed)
  for i = 1, n do order[i] = i end
  for i = n, 2, -1 do
    local j = rand(i)
    order[i], order[j] = order[j], order[i]
  end
  return order, rand
end

-- Builds one batch from positions; warns and skips samples that fail
-- (batch.positions are those of the images it holds, batch.skipped the rest).
local function stack_batch(self, positions, flips)
  local images, labels, kept_flips, kept, skipped = {}, {}, {}, {}, {}
  for k, i in ipairs(positions) do
    local ok, image, label = pcall(self._load, i)
    if ok then
      images[#images + 1], labels[#labels + 1], kept[#kept + 1] = image, label, i
      kept_flips[#kept_flips + 1] = flips and flips[k] or false
    else
      skipped[#skipped + 1] = i
      io.stderr:write("warning: skipping sample ", i, ": ", tostring(image), "\n")
    end
  end
  if #images == 0 then return nil end
  local x = core.stack(images, 1)
  if flips then
    local all = {}
    for k = 1, #images do all[k] = k end
    x = core.gather(x, all, kept_flips)
  end
  return {images = x, labels = core.tensor(labels), positions = kept, skipped = skipped}
end

--- An iterator of batches {images = NxCxHxW, labels = N, positions = {...},
-- skipped = {...}}: the positions of the N images, and of those that did
-- not load.
-- opts.shuffle = seed: a new seeded order each epoch (epoch e uses seed + e);
-- opts.mirror = true: each image flipped left-right with probability 1/2;
-- opts.drop_last = true: no short last batch; opts.epoch (default 0).
function Set:batches(n, opts)
  if math.type(n) ~= "integer" or n < 1 then
    error("batches: the batch size must be a positive integer", 2)
  end
  opts = opts or {}
  local order, rand
  if opts.shuffle then
    order, rand = M.permutation(self._n, opts.shuffle + (opts.epoch or 0))
  else
    order, rand = {}, generator(opts.epoch or 0)
    for i = 1, self._n do order[i] = i end
  end
  local at = 0
  return function()
    local stop = math.min(at + n, self._n)
    if at >= self._n or (opts.drop_last and stop - at < n) then return nil end
    local positions, flips = {}, opts.mirror and {} or nil
    for k = at + 1, stop do
      positions[#positions + 1] = order[k]
      if flips then flips[#flips + 1] = rand(2) == 2 end
    end
    at = stop
    if self._images then
      local labels = {}
      for k, i in ipairs(positions) do labels[k] = self._labels[i] end
      return {images = core.gather(self._images, positions, flips),
              labels = core.tensor(labels), positions = positions, skipped = {}}
    end
    return stack_batch(self, positions, flips)
  end
end

-- ---- IDX -----------------------------------------------------------------

--- A set from an IDX image file (N x H x W, or N x C x H x W) and an IDX
-- label file (N), gzipped or not.
function M.idx(images_path, labels_path, opts)
  local images = core.load_idx(images_path)
  local labels = core.load_idx(labels_path)
  local n = images:size(1)
  if labels:dim() ~= 1 then
    error(string.format("%s: labels must be one-dimensional, the file holds %d dimensions",
      labels_path, labels:dim()), 2)
  end
  if labels:size(1) ~= n then
    error(string.format("%s holds %d labels but %s holds %d images",
      labels_path, labels:size(1), images_path, n), 2)
  end
  if images:dim() == 3 then images = images:view(n, 1, images:size(2), images:size(3)) end
  if images:dim() ~= 4 then
    error(string.format("%s: images must be N x H x W or N x C x H x W, the file holds %d dimensions",
      images_path, images:dim()), 2)
  end
  local label_list = {}
  for i, v in ipairs(labels:totable()) do label_list[i] = math.tointeger(v) end
  return M.new {
    n = n, images = images, labels = label_list,
    classes = opts and opts.classes, name = images_path,
    load = function(i) return images[i], label_list[i] end,
  }
end

--- Fashion-MNIST from Debian's dataset-fashion-mnist: "train" (60,000) or
-- "test" (10,000); opts.dir overrides the folder.
function M.fashion_mnist(split, opts)
  local prefix = ({train = "train", test = "t10k"})[split]
  if not prefix then
    error("fashion_mnist: give \"train\" or \"test\", not " .. tostring(split), 2)
  end
  local dir = (opts and opts.dir) or M.FASHION_MNIST_DIR
  local set = M.idx(dir .. "/" .. prefix .. "-images-idx3-ubyte.gz",
                    dir .. "/" .. prefix .. "-labels-idx1-ubyte.gz",
                    {classes = M.FASHION_MNIST_CLASSES})
  set.name = "Fashion-MNIST " .. split
  return set
end

-- ---- label files, folders and list files -----------------------------------

--- Reads a label file such as synset_words.txt: line k (1-based) gives class
-- k-1; its first word is the key (a folder name), the rest its name.
-- Returns {keys = {...}, names = {...}, class_of = {key = c}}.
function M.read_labels(path)
  local f, msg = io.open(path, "r")
  if not f then error("label file " .. msg, 2) end
  local keys, names, class_of, line_no = {}, {}, {}, 0
  for line in f:lines() do
    line_no = line_no + 1
    local key, rest = line:match("^%s*(%S+)%s*(.-)%s*$")
    if key then
      if class_of[key] then
        f:close()
        error(string.format("%s:%d: '%s' is listed twice (first on line %d)",
          path, line_no, key, class_of[key] + 1), 2)
      end
      keys[#keys + 1], names[#names + 1] = key, rest ~= "" and rest or key
      class_of[key] = #keys - 1
    end
  end
  f:close()
  return {keys = keys, names = names, class_of = class_of}
end

local IMAGE_EXT = {png = true, jpg = true, jpeg = true, JPG = true, JPEG = true, PNG = true}

local function image_loader(paths, labels)
  return function(i)
    local ok, image = pcall(core.image.load, paths[i])
    if not ok then error(tostring(image), 0) end
    return image, labels[i]
  end
end

local function sorted_entries(lfs, dir, want_dirs)
  local out = {}
  for name in lfs.dir(dir) do
    if name:sub(1, 1) ~= "." then
      local mode = lfs.attributes(dir .. "/" .. name, "mode")
      if (want_dirs and mode == "directory") or
         (not want_dirs and mode == "file" and IMAGE_EXT[name:match("%.(%w+)$") or ""]) then
        out[#out + 1] = name
      end
    end
  end
  table.sort(out)
  return out
end

--- An ImageNet-style folder: one sub-folder per class. With opts.labels (a
-- label file), sub-folder names are looked up there (an unknown one is an
-- error); without, classes are the sorted sub-folder names.
function M.folder(dir, opts)
  local lfs = require "lfs"
  if lfs.attributes(dir, "mode") ~= "directory" then
    error("folder: " .. dir .. " is not a directory", 2)
  end
  local table_ = opts and opts.labels and M.read_labels(opts.labels)
  local subdirs = sorted_entries(lfs, dir, true)
  local paths, labels = {}, {}
  for k, sub in ipairs(subdirs) do
    local class = k - 1
    if table_ then
      class = table_.class_of[sub]
      if not class then
        error(string.format("folder: %s/%s is not a class of label file %s", dir, sub,
          opts.labels), 2)
      end
    end
    for _, file in ipairs(sorted_entries(lfs, dir .. "/" .. sub, false)) do
      paths[#paths + 1], labels[#labels + 1] = dir .. "/" .. sub .. "/" .. file, class
    end
  end
  local set = M.new {n = #paths, labels = labels, load = image_loader(paths, labels),
                     classes = table_ and table_.names or subdirs, name = dir}
  set.paths = paths
  return set
end

--- A Caffe ImageData list file: `path label` per line, paths relative to
-- opts.root (default: the list file's folder). opts.labels (a label file)
-- bounds the labels and names the classes.
function M.list(path, opts)
  opts = opts or {}
  local f, msg = io.open(path, "r")
  if not f then error("list file " .. msg, 2) end
  local root = opts.root or path:match("^(.*)/[^/]*$") or "."
  local table_ = opts.labels and M.read_labels(opts.labels)
  local paths, labels, line_no = {}, {}, 0
  for line in f:lines() do
    line_no = line_no + 1
    if line:match("%S") then
      local file, label = line:match("^%s*(.-)%s+(%-?%d+)%s*$")
      local bad = not file and "expected 'path label' with an integer label"
        or (tonumber(label) < 0 and "label " .. label .. " is negative")
        or (table_ and tonumber(label) >= #table_.keys and string.format(
          "label %s is outside label file %s (%d classes)", label, opts.labels, #table_.keys))
      if bad then
        f:close()
        error(string.format("%s:%d: %s", path, line_no, bad), 2)
      end
      paths[#paths + 1] = file:sub(1, 1) == "/" and file or root .. "/" .. file
      labels[#labels + 1] = math.tointeger(tonumber(label))
    end
  end
  f:close()
  local set = M.new {n = #paths, labels = labels, load = image_loader(paths, labels),
                     classes = table_ and table_.names, name = path}
  set.paths = paths
  return set
end

return M
