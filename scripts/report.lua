-- report.lua — the main job: one HTML page that looks inside a Caffe classifier.
-- The options, as --help prints them:
local USAGE = [[
usage: cnnvis scripts/report.lua [options]

  --prototxt FILE    the deploy definition
                     (default examples/models/fashion_caffenet.prototxt)
  --caffemodel FILE  its trained weights
                     (default examples/models/fashion_caffenet.caffemodel;
                     "none": the definition's fillers, to try the pipeline)
  --images DIR       test images in an ImageNet-style folder: one sub-folder per
                     class, named by its key in --labels (a WordNet id), or
                     without --labels classes 0, 1, ... in sorted folder order
                     (default: the 10,000 Fashion-MNIST test images)
  --labels FILE      class names in synset_words.txt style: a key (the folder
                     name), then the name; line k is class k-1
                     (default: the data set's names)
  --mean FILE        a mean image (.binaryproto or .npy) to subtract; inputs are
                     then prepared as pycaffe does (resize, crop, BGR)
  --scale K          multiply raw 0..255 pixels by K when they go in as they are
                     (default 1: the shipped model takes raw pixels)
  --limit N          evaluate the first N images only (default: all)
  --batch N          images per forward pass (default 250)
  --layers A,B       the layers whose activations are shown
                     (default: the first two Convolution layers)
  --show N           show the activations of at most N classes (default 10)
  --out DIR          where index.html and its pictures go (default out/report)
  -h, --help         this text

Writes DIR/index.html with the table of layers, the test accuracy, per-class
error rates, a confusion matrix, the first conv layer's filters and the
activations of two layers for one test image per class; PNG and SVG files
beside it. Example on CaffeNet:

  cnnvis scripts/report.lua --prototxt deploy.prototxt \
    --caffemodel bvlc_reference_caffenet.caffemodel --mean imagenet_mean.binaryproto \
    --labels synset_words.txt --images val_by_class/ --limit 2000 --batch 50
]]
local cv = require "cnnvis"

-- ---- arguments ---------------------------------------------------------

local function die(msg)
  io.stderr:write("report: ", msg, "\n")
  os.exit(1)
end

local function parse_args(argv)
  local o = {prototxt = "examples/models/fashion_caffenet.prototxt",
             caffemodel = "examples/models/fashion_caffenet.caffemodel",
             out = "out/report", batch = 250, scale = 1, show = 10}
  local takes = {prototxt = "file", caffemodel = "file", images = "dir", labels = "file",
                 mean = "file", scale = "number", limit = "count", batch = "count", show = "count",
                 layers = "list", out = "dir"}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "-h" or a == "--help" then
      io.write(USAGE)
      os.exit(0)
    end
    local key = a:match("^%-%-([%w_]+)$")
    if not key or not takes[key] then die("unknown option " .. a .. " (see --help)") end
    local v = argv[i + 1]
    if v == nil then die(a .. " needs a value") end
    if takes[key] == "number" or takes[key] == "count" then
      v = tonumber(v)
      if not v or (takes[key] == "count" and (v < 1 or v ~= math.floor(v))) then
        die(a .. " needs a " .. (takes[key] == "count" and "positive whole number" or "number"))
      end
      if takes[key] == "count" then v = math.tointeger(v) end
    elseif takes[key] == "list" then
      local list = {}
      for name in v:gmatch("[^,]+") do list[#list + 1] = name end
      v = list
    end
    o[key] = v
    i = i + 2
  end
  return o
end

-- ---- data --------------------------------------------------------------

-- A folder of images by class through cv.data.folder, in an order that
-- takes the classes in turn, so that --limit keeps every class:
-- {count, get(i) -> image, label (nil, nil, message when it does not
-- decode), classes, source}.
local function folder_set(dir, labels)
  local ok, set = pcall(cv.data.folder, dir, {labels = labels})
  if not ok then die((tostring(set):gsub("^[^:]*%.lua:%d+: ", ""))) end
  if #set == 0 then die(dir .. " has no images in class sub-folders") end
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
  return {count = #set, classes = set.classes, source = dir,
          get = function(i)
            local ok_, img, label = pcall(set.get, set, order[i])
            if not ok_ then return nil, nil, img end
            return img, label
          end}
end

local function fashion_set()
  if not (cv.data and cv.data.fashion_mnist) then
    die("this build has no cv.data.fashion_mnist; pass --images DIR (see --help)")
  end
  local set = cv.data.fashion_mnist("test")
  return {count = #set, classes = set.classes, source = "Fashion-MNIST test set",
          get = function(i) return set:get(i) end,
          -- whole batches gathered in C: n x C x H x W images, labels, positions
          batch = function(first, last)
            local positions = {}
            for i = first, last do positions[#positions + 1] = i end
            local b = set:subset(positions):batches(#positions)()
            return b.images, b.labels:totable()
          end}
end

-- ---- inputs ------------------------------------------------------------

-- A function from a loaded image (C x H x W, 0..255) to the net's C x H x W
-- input; and, when images of the net's size go in as they are (times
-- --scale), the same for a whole N x C x H x W batch.
local function input_maker(net, opts)
  local shape = net.inputs[1].shape
  local c, h, w = shape[2], shape[3], shape[4]
  local function one(img)
    local s = img:size()
    if not opts.mean and s[1] == c and s[2] == h and s[3] == w then
      return opts.scale == 1 and img or img * opts.scale
    end
    if not img.caffe_input then
      die(string.format("an image of %dx%dx%d does not fit the net's input %dx%dx%d, and this "
        .. "build has no caffe_input to resize it", s[1], s[2], s[3], c, h, w))
    end
    return img:caffe_input(net, {mean = opts.mean})[1]
  end
  local function batch(x)
    local s = x:size()
    if opts.mean or s[2] ~= c or s[3] ~= h or s[4] ~= w then
      die(string.format("the data set's images are %dx%dx%d, the net's input %dx%dx%d",
        s[2], s[3], s[4], c, h, w))
    end
    return opts.scale == 1 and x or x * opts.scale
  end
  return one, not opts.mean and batch or nil
end

-- ---- progress ----------------------------------------------------------

local IS_TTY = os.execute("[ -t 2 ]") == true

local function progress(done, total, t0)
  if not IS_TTY then return end
  local frac = done / total
  local bar = string.rep("#", math.floor(frac * 30)) .. string.rep(".", 30 - math.floor(frac * 30))
  local rate = done / math.max(cv.clock() - t0, 1e-6)
  io.stderr:write(string.format("\revaluating [%s] %d/%d  %.0f images/s ", bar, done, total, rate))
  if done == total then io.stderr:write("\n") end
end

-- ---- evaluation --------------------------------------------------------

-- The blob the net's answer is read from: its last output.
local function answer_blob(net)
  return net.outputs[#net.outputs]
end

-- Forward passes over the whole set: confusion counts [true][pred] (1-based
-- tables over 0-based classes), the first index of each class, and timing.
-- One batch, positions first..last: the net's inputs as one tensor and the
-- labels of the images that could be read.
local function load_batch(set, first, last, prepare, direct, skip)
  if direct and set.batch then
    local x, ys = set.batch(first, last)
    return direct(x), ys, first
  end
  local xs, ys, pos = {}, {}, {}
  for i = first, last do
    local img, label, err = set.get(i)
    if img then
      xs[#xs + 1], ys[#ys + 1], pos[#pos + 1] = prepare(img), label, i
    else
      skip(i, err)
    end
  end
  return #xs > 0 and cv.stack(xs, 1) or nil, ys, pos
end

-- Forward passes over the whole set: confusion counts [true][pred] (1-based
-- tables over 0-based classes), the first position of each class, timing.
local function evaluate(net, set, prepare, direct, opts)
  local n = math.min(set.count, opts.limit or set.count)
  local out_name = answer_blob(net)
  local conf, first, skipped, k = {}, {}, 0, nil
  local function skip(i, err)
    skipped = skipped + 1
    io.stderr:write("report: skipped image ", i, ": ", tostring(err), "\n")
  end
  local t0 = cv.clock()
  cv.no_grad(function()
    for start = 1, n, opts.batch do
      local stop = math.min(n, start + opts.batch - 1)
      local x, ys, pos = load_batch(set, start, stop, prepare, direct, skip)
      if x then
        local out = net:forward(x)[out_name]:reshape(#ys, -1)
        k = k or out:size(2)
        local pred = out:argmax(2):totable()
        for j, y in ipairs(ys) do
          conf[y + 1] = conf[y + 1] or {}
          conf[y + 1][pred[j]] = (conf[y + 1][pred[j]] or 0) + 1
          if not first[y] then first[y] = type(pos) == "table" and pos[j] or pos + j - 1 end
        end
      end
      progress(stop, n, t0)
    end
  end)
  return {conf = conf, first = first, classes = k, count = n - skipped, skipped = skipped,
          seconds = cv.clock() - t0, blob = out_name}
end

-- Accuracy and per-class rows from the confusion counts.
local function summarize(ev, names)
  local total, right, rows = 0, 0, {}
  for c = 1, ev.classes do
    local row = ev.conf[c] or {}
    local count = 0
    for p = 1, ev.classes do count = count + (row[p] or 0) end
    local ok = row[c] or 0
    total, right = total + count, right + ok
    rows[c] = {class = c - 1, name = names[c] or ("class " .. (c - 1)), count = count,
               errors = count - ok, rate = count > 0 and 100 * (count - ok) / count or 0 / 0}
  end
  return {accuracy = total > 0 and 100 * right / total or 0 / 0, rows = rows, total = total}
end

-- ---- pictures ----------------------------------------------------------

-- The smallest divisor of n that is at least sqrt(n): full rows when possible.
local function columns(n)
  for c = math.ceil(math.sqrt(n)), n do
    if n % c == 0 and c <= 2.5 * math.sqrt(n) then return c end
  end
  return math.ceil(math.sqrt(n))
end

-- The pixel scale that brings a side of h pixels near `target`, kept so that
-- `cols` pictures of width w (with 1 pixel of padding) fit in max_width.
local function scale_for(h, target, cols, w, max_width)
  local s = math.max(1, math.floor(target / h + 0.5))
  if cols then s = math.min(s, math.max(1, (max_width - cols - 1) // (cols * w))) end
  return s
end

local function conv_layers(net)
  local list = {}
  for _, l in ipairs(net.layers) do
    if l.type == "Convolution" then list[#list + 1] = l end
  end
  return list
end

local function layer_named(net, name)
  local names = {}
  for _, l in ipairs(net.layers) do
    if l.name == name then return l end
    names[#names + 1] = l.name
  end
  die("the net has no layer '" .. name .. "' (its layers: " .. table.concat(names, ", ") .. ")")
end

-- The layer table of print(net) as rows: its columns are fixed-width.
local function layer_rows(net)
  local lines = {}
  for line in tostring(net):gmatch("[^\n]+") do lines[#lines + 1] = line end
  local head = lines[1]
  local s2, s3 = head:find("type", 1, true), head:find("output", 1, true)
  local rows = {}
  for i = 2, #lines do
    local l = lines[i]
    local params = l:match("(%d+)%s*$")
    local output = l:sub(s3):gsub("%s*%d+%s*$", "")
    rows[#rows + 1] = {(l:sub(1, s2 - 1):gsub("%s+$", "")), (l:sub(s2, s3 - 1):gsub("%s+$", "")),
                       output, params}
  end
  return rows
end

-- Filters as a picture: RGB when they see 3 channels (Caffe's are BGR),
-- otherwise each input channel as a map, signed values on the diverging map.
local function filter_picture(weight, bgr)
  local w = weight:detach()
  local s = w:size()
  local scale = scale_for(s[3], 40)
  if s[2] == 3 then
    if bgr then w = cv.cat({w:narrow(2, 3, 1), w:narrow(2, 2, 1), w:narrow(2, 1, 1)}, 2) end
    return cv.vis.grid(w, {cols = columns(s[1]), scale = scale, pad = 2}),
           (bgr and "Caffe's BGR shown as RGB" or "as RGB") .. ", each filter scaled to its own range"
  end
  local maps = w:reshape(s[1] * s[2], s[3], s[4])
  -- gray padding: white is the map's 0
  return cv.vis.grid(maps, {cols = s[2] == 1 and columns(s[1]) or s[2], colormap = "diverging",
                            scale = scale, pad = 2, pad_color = 96}),
         "blue negative, white 0, red positive; each filter scaled to its own largest magnitude"
end

-- One row of the activation section: the input of class c and the maps of
-- each layer for it (blobs[j].maps: maps x H x W).
local function activation_row(page, c, img, blobs, file_name)
  local s = img:size()
  local scale = scale_for(s[2], 84)
  -- photos are shown at most 200 pixels wide (the file keeps them whole)
  page:image(cv.vis.grid(img:unsqueeze(1), {normalize = "none", pad = 0, scale = scale}),
    {name = file_name("input_" .. c, ".png"), caption = "input", inline = true,
     width = s[3] * scale > 200 and 200 or nil})
  for _, b in ipairs(blobs) do
    local maps = b.maps
    local h, cols = maps:size(2), columns(maps:size(1))
    page:image(cv.vis.grid(maps, {cols = cols, normalize = "each", colormap = "viridis",
                                  scale = scale_for(h, 48, cols, maps:size(3), 460)}),
      {name = file_name(string.format("%s_%d", b.name, c), ".png"),
       caption = string.format("%s: %d maps of %dx%d", b.name, maps:size(1), h, maps:size(3)),
       inline = true})
  end
end

-- ---- the page ----------------------------------------------------------

local function fmt_rate(v) return v ~= v and "-" or string.format("%.2f", v) end

local function main(argv)
  local o = parse_args(argv)
  local t_start = cv.clock()
  local ok, net = pcall(cv.caffe.load, o.prototxt, o.caffemodel ~= "none" and o.caffemodel or nil)
  if not ok then die((tostring(net):gsub("^[^:]*%.lua:%d+: ", ""))) end
  for _, w in ipairs(net.warnings) do io.stderr:write("report: warning: ", w, "\n") end
  -- file names from the model's names (which may hold `/`): safe and unique
  local file_name = cv.files.namer()
  local names = {}
  if o.labels then
    local ok_, t = pcall(cv.data.read_labels, o.labels)
    if not ok_ then die((tostring(t):gsub("^[^:]*%.lua:%d+: ", ""))) end
    names = t.names
  end
  local set = o.images and folder_set(o.images, o.labels) or fashion_set()
  if not o.labels then
    for i, v in ipairs(set.classes or {}) do names[i] = v end
  end
  for _, name in ipairs(o.layers or {}) do layer_named(net, name) end -- fail before the long part
  local prepare, direct = input_maker(net, o)

  local page = cv.report.new{title = "Inside " .. o.prototxt:match("([^/]+)$"):gsub("%.prototxt$", ""),
    dir = o.out, subtitle = string.format("%s + %s on %s — cnnvis, %s", o.prototxt, o.caffemodel,
      set.source, os.date("!%Y-%m-%d %H:%M UTC"))}

  page:section("Model")
  page:text("The layers in the order the net runs them, with the shape of each output " ..
    "for the definition's batch size and the number of trained parameters.")
  page:table{header = {"layer", "type", "output", "parameters"}, rows = layer_rows(net)}

  local ev = evaluate(net, set, prepare, direct, o)
  if ev.count == 0 then die("no image could be read") end
  local sum = summarize(ev, names)

  page:section("Accuracy")
  page:html(string.format('<p><span class="big">%.2f%%</span> of %d test images classified ' ..
    "correctly (top-1, from blob <code>%s</code>).</p>", sum.accuracy, sum.total,
    cv.report.escape(ev.blob)))
  page:text(string.format("Error rate of a class = misclassified images of the class / images " ..
    "of the class. Evaluated in batches of %d in %.1f s (%.0f images/s).", o.batch, ev.seconds,
    ev.count / math.max(ev.seconds, 1e-6)))
  if ev.skipped > 0 then page:text(string.format("%d images could not be read and were skipped.", ev.skipped)) end
  -- With many classes (ImageNet's 1000) only those that have test images.
  local rows, labels, rates = {}, {}, {}
  for _, r in ipairs(sum.rows) do
    if ev.classes <= 40 or r.count > 0 then
      rows[#rows + 1] = {r.class, r.name, r.count, r.errors, fmt_rate(r.rate)}
      -- synset_words.txt names run on after a comma: the first name is enough here
      labels[#labels + 1], rates[#rates + 1] = r.name:match("^[^,]+"), r.rate
    end
  end
  if #rows < ev.classes then
    page:text(string.format("%d of the %d classes have test images; the others are left out.",
      #rows, ev.classes))
  end
  page:html('<div class="row">')
  page:table{header = {"class", "name", "images", "errors", "error rate (%)"}, rows = rows}
  if #rows <= 40 then
    page:plot(cv.plot.bar{labels = labels, values = rates, ylabel = "error rate (%)",
                          title = "Error rate per class", width = 560, height = 360},
              {name = "error_rates.svg"})
  end
  page:html("</div>")

  if ev.classes <= 40 then
    page:section("Confusion matrix")
    local rate, counts = {}, {}
    for c = 1, ev.classes do
      rate[c], counts[c] = {}, {}
      local n = sum.rows[c].count
      for p = 1, ev.classes do
        local v = ev.conf[c] and ev.conf[c][p] or 0
        counts[c][p] = tostring(v)
        rate[c][p] = n > 0 and 100 * v / n or 0
      end
    end
    local short = {}
    for i = 1, ev.classes do short[i] = (names[i] or tostring(i - 1)):sub(1, 16) end
    local hm = cv.vis.heatmap(cv.tensor(rate), {cell = 34, range = {0, 100}, values = counts,
                                                labels = short})
    page:image(hm,
      {name = "confusion.png", width = hm:size(3) * 3 // 2, caption = "Rows: true class, columns: predicted class. " ..
       "Numbers are image counts; colour is the share of the row (0 to 100%)."})
  end

  -- The pairs the net mixes up most: the largest counts off the diagonal.
  local pairs_ = {}
  for c = 1, ev.classes do
    for p, v in pairs(ev.conf[c] or {}) do
      if p ~= c then pairs_[#pairs_ + 1] = {c = c, p = p, v = v} end
    end
  end
  table.sort(pairs_, function(a, b) return a.v > b.v or (a.v == b.v and a.c * 1e6 + a.p < b.c * 1e6 + b.p) end)
  if #pairs_ > 0 then
    local top = {}
    for i = 1, math.min(8, #pairs_) do
      local e = pairs_[i]
      top[i] = {names[e.c] or tostring(e.c - 1), names[e.p] or tostring(e.p - 1), e.v,
                fmt_rate(100 * e.v / sum.rows[e.c].count)}
    end
    page:section("Most confused", 3)
    page:table{header = {"true class", "taken for", "images", "of the class (%)"}, rows = top}
  end

  local convs = conv_layers(net)
  if #convs > 0 then
    local first = convs[1]
    local weight = net.params[first.name] and net.params[first.name].weight
    if weight then
      page:section("Filters of " .. first.name)
      local img, how = filter_picture(weight, o.mean ~= nil)
      local w = img:size(3)
      page:image(img, {name = file_name("filters_" .. first.name, ".png"), width = w < 320 and 2 * w or nil,
        caption = string.format(
        "%s: %s weights; %s.", first.name, table.concat(weight:size(), "x"), how)})
    end
  end

  local shown = o.layers or {convs[1] and convs[1].name, convs[2] and convs[2].name}
  if #shown > 0 then
    page:section("Activations")
    page:text("One test image per class (the first of its class; at most " .. o.show ..
      " classes) and the outputs of " ..
      table.concat(shown, " and ") .. " for it, after the layers that work in place " ..
      "(ReLU). Each map is scaled to its own range (viridis: dark low, yellow high); a map " ..
      "that is zero everywhere stays dark.")
    local xs, classes = {}, {}
    for c = 0, ev.classes - 1 do
      if ev.first[c] and #classes < o.show then
        classes[#classes + 1] = c
        xs[#xs + 1] = set.get(ev.first[c])
      end
    end
    local inputs = {}
    for i, img in ipairs(xs) do inputs[i] = prepare(img) end
    cv.no_grad(function() net:forward(cv.stack(inputs, 1)) end)
    local blobs = {}
    for i, name in ipairs(shown) do
      local top = layer_named(net, name).tops[1]
      blobs[i] = {name = name, blob = net.blobs[top]:clone()}
    end
    for i, c in ipairs(classes) do
      page:section(string.format("%d %s", c, names[c + 1] or ""), 3)
      -- the activations of image i sit at batch position i
      local maps = {}
      for j, b in ipairs(blobs) do maps[j] = {name = b.name, maps = b.blob[i]} end
      activation_row(page, c, xs[i], maps, file_name)
    end
  end

  local path = page:save()
  print(string.format("report: %s (accuracy %.2f%% on %d images, %.1f s)", path,
    sum.accuracy, sum.total, cv.clock() - t_start))
end

main(arg or {})
