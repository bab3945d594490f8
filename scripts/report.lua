-- report.lua — the main job: every analysis of the report on one HTML page.
-- Each analysis is a stage (scripts/<name>.lua run with --out DIR/<name>,
-- its JSON read back), cached under DIR/.stages by the content of the model
-- files, the inputs and the options; the page gathers what they wrote.
--
--   cnnvis scripts/report.lua [--prototxt deploy.prototxt --caffemodel w.caffemodel
--     --mean mean.binaryproto --labels synset_words.txt --images val/ --limit 2000]
local cv = require "cnnvis"
local script = require "cnnvis.script"
local stages = require "cnnvis.stages"

local esc = cv.report.escape

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

local SECTIONS = {"activations", "volumes", "reordering", "gradients", "comparison",
                  "importance", "removal", "threshold", "validation"}

local HERE = (arg and arg[0] or "scripts/report.lua"):match("^(.*)/[^/]*$") or "."

local SPEC = {
  name = "report",
  summary = "Every analysis of the report on one page, DIR/index.html: the model (layers,\n" ..
    "accuracy, per-class errors, confusion), activation grids, volumes to turn and slice,\n" ..
    "reorderings, gradient validation, the class comparison, importance, removal, the\n" ..
    "threshold sweep, importance against the oracle, and the findings in numbers; each\n" ..
    "stage's files in DIR/<stage>/ (default DIR: out/report). A stage that fails leaves a\n" ..
    "note in its section, and the exit status is 1.",
  options = {
    {"layer", "string", "the layer of the slices, reorderings, removal and threshold "
      .. "(default: the first Convolution)"},
    {"class", "class", "the reference class, 0-based (default: the highest error rate)"},
    {"similar", "class", "the class compared with it that it is most mixed up with "
      .. "(default: from the confusion matrix)"},
    {"dissimilar", "class", "one it is hardly ever mixed up with (default: likewise)"},
    {"show", "count", "the activations of at most N classes (default 10)", default = 10},
    {"stages", "list", "only these sections' stages: " .. table.concat(SECTIONS, ",")
      .. " (default: all; the model's always runs)"},
    {"scripts", "dir", "where the analysis scripts are (default: beside this one)"},
    {"fresh", "flag", "run every stage again instead of reusing cached results"},
  },
  help = "Example on CaffeNet:\n\n" ..
    "  cnnvis scripts/report.lua --prototxt deploy.prototxt \\\n" ..
    "    --caffemodel bvlc_reference_caffenet.caffemodel --mean imagenet_mean.binaryproto \\\n" ..
    "    --labels synset_words.txt --images val_by_class/ --limit 2000 --batch 50\n",
}

-- ---- the model stage: evaluation over the set ----------------------------

-- The first position of each class in the set (0 where it has none), and
-- for each class an image file to give the stages that take --image: the
-- file itself in a folder, a PNG of the raw pixels (exact: 8-bit values)
-- of the default data set written into dir.
local function class_inputs(ctx, set, k, dir)
  local first = {}
  for c = 1, k do first[c] = 0 end
  local found = 0
  for i = 1, #set do
    local c = set:label(i) + 1
    if c <= k and first[c] == 0 then
      first[c], found = i, found + 1
      if found == k then break end
    end
  end
  local paths = {}
  if ctx.o.images then
    -- cv.inputs takes the classes in turn; within a class the folder's order stays
    local folder = cv.data.folder(ctx.o.images, {labels = ctx.o.labels})
    for i = 1, #folder do
      local c = folder:label(i) + 1
      if c <= k and not paths[c] then paths[c] = folder.paths[i] end
    end
  end
  local raw = not ctx.o.images and cv.data.fashion_mnist("test")
  local inputs = {}
  for c = 1, k do
    if first[c] > 0 then
      local path = paths[c]
      if not path then
        path = dir .. "/input_" .. (c - 1) .. ".png"
        cv.image.save(raw:get(first[c]), path)
      end
      inputs[#inputs + 1] = {class = c - 1, index = first[c], file = path}
    end
  end
  return first, inputs
end

-- Accuracy and per-class rows from the confusion counts.
local function summarize(model, names)
  local total, right, rows = 0, 0, {}
  for c = 1, model.classes do
    local row, count = model.confusion[c], 0
    for p = 1, model.classes do count = count + row[p] end
    local ok = row[c]
    total, right = total + count, right + ok
    rows[c] = {class = c - 1, name = names[c] or ("class " .. (c - 1)), count = count,
               errors = count - ok, rate = count > 0 and 100 * (count - ok) / count or 0 / 0}
  end
  return {accuracy = total > 0 and 100 * right / total or 0 / 0, rows = rows, total = total}
end

-- The report's cast from the confusion matrix: the reference class is the
-- one with the highest error rate; the similar one, the class its images
-- are most often taken for; the dissimilar one, among the classes with
-- images, the one least mixed up with it (both ways), the most accurate of
-- those on a tie. Options override each.
local function choose_cast(model, sum, o)
  local k = model.classes
  local ref = o.class
  if not ref then
    local best
    for c = 1, k do
      local r = sum.rows[c]
      if r.count > 0 and (not best or r.rate > sum.rows[best].rate) then best = c end
    end
    ref = (best or 1) - 1
  end
  if ref >= k then fail("--class %d: the net has classes 0 to %d", ref, k - 1) end
  local row = model.confusion[ref + 1]
  local sim = o.similar
  if not sim then
    local best
    for c = 1, k do
      if c ~= ref + 1 and sum.rows[c].count > 0 and (not best or row[c] > row[best]) then best = c end
    end
    sim = (best or (ref + 1) % k + 1) - 1
  end
  local dis = o.dissimilar
  if not dis then
    local best, best_mix
    for c = 1, k do
      if c ~= ref + 1 and c ~= sim + 1 and sum.rows[c].count > 0 then
        local mix = row[c] + model.confusion[c][ref + 1]
        if not best or mix < best_mix or (mix == best_mix and sum.rows[c].rate < sum.rows[best].rate) then
          best, best_mix = c, mix
        end
      end
    end
    dis = (best or (sim + 1) % k + 1) - 1
  end
  for name, v in pairs({similar = sim, dissimilar = dis}) do
    if v >= k then fail("--%s %d: the net has classes 0 to %d", name, v, k - 1) end
  end
  return ref, sim, dis
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

-- ---- the model section's pictures ---------------------------------------

local function fmt_rate(v) return v ~= v and "-" or string.format("%.2f", v) end

local function save_svg(plot, path)
  local f = assert(io.open(path, "w"))
  f:write(tostring(plot))
  f:close()
end

-- The model stage: evaluation, the confusion matrix, the error-rate plot,
-- the first conv layer's filters, and one input picture per class for the
-- stages that take --image. Returns what the page and the other stages need.
local function model_stage(ctx, dir, progress)
  local net, set, names, o = ctx.net, ctx.set, ctx.names, ctx.o
  local t0 = cv.clock()
  local ev = cv.evaluate(net, set, {batch = o.batch,
    progress = {update = function(_, done) progress(done, #set) end}})
  if ev.total == 0 then fail("no image could be read") end
  local model = {confusion = ev.confusion, classes = #ev.confusion, count = ev.total,
                 skipped = #set - ev.total, seconds = cv.clock() - t0,
                 blob = net.outputs[#net.outputs]}
  model.first, model.inputs = class_inputs(ctx, set, model.classes, dir)
  local sum = summarize(model, names)
  model.accuracy, model.total = sum.accuracy, sum.total
  model.rows = {}
  for c, r in ipairs(sum.rows) do
    model.rows[c] = {class = r.class, name = r.name, images = r.count, errors = r.errors,
                     rate = r.count > 0 and r.rate or -1}
  end
  model.layers = layer_rows(net)
  model.files = {}
  if model.classes <= 40 then
    local rate, counts, short = {}, {}, {}
    for c = 1, model.classes do
      rate[c], counts[c] = {}, {}
      local n = sum.rows[c].count
      for p = 1, model.classes do
        local v = model.confusion[c][p]
        counts[c][p] = tostring(v)
        rate[c][p] = n > 0 and 100 * v / n or 0
      end
      short[c] = (names[c] or tostring(c - 1)):sub(1, 16)
    end
    local hm = cv.vis.heatmap(cv.tensor(rate), {cell = 34, range = {0, 100}, values = counts,
                                                labels = short})
    cv.image.save(hm, dir .. "/confusion.png")
    model.files.confusion, model.confusion_width = "confusion.png", hm:size(3)
    local labels, rates = {}, {}
    for _, r in ipairs(sum.rows) do
      if r.count > 0 then labels[#labels + 1], rates[#rates + 1] = r.name:match("^[^,]*"), r.rate end
    end
    save_svg(cv.plot.bar{labels = labels, values = rates, ylabel = "error rate (%)",
                         title = "Error rate per class", width = 560, height = 360},
             dir .. "/error_rates.svg")
    model.files.error_rates = "error_rates.svg"
  end
  local convs = conv_layers(net)
  if convs[1] and net.params[convs[1].name] and net.params[convs[1].name].weight then
    local weight = net.params[convs[1].name].weight
    local img, how = filter_picture(weight, o.mean ~= nil)
    cv.image.save(img, dir .. "/filters.png")
    model.files.filters = "filters.png"
    model.filters = {layer = convs[1].name, shape = weight:size(), how = how, width = img:size(3)}
  end
  return model
end

-- ---- the page ------------------------------------------------------------

-- Pictures and files a stage's JSON names, in the order met (keys sorted):
-- {png = {...}, svg = {...}, other = {...}} as paths relative to the page.
local function files_of(result, dir)
  local found, seen = {png = {}, svg = {}, other = {}}, {}
  local function walk(v)
    if type(v) == "string" then
      local ext = v:match("%.(%w+)$")
      if ext and not seen[v] and not v:find("^/") and not v:find("%.%.") and
         (ext == "png" or ext == "svg" or ext == "nrrd" or ext == "csv" or ext == "npy" or ext == "html") then
        seen[v] = true
        local list = found[ext] or found.other
        list[#list + 1] = dir .. "/" .. v
      end
    elseif type(v) == "table" then
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do walk(v[k]) end
    end
  end
  walk(result)
  return found
end

-- A stage's pictures and links as they are, for a section whose script
-- writes what this page does not know in detail.
local function show_files(page, r, caption)
  local f = files_of(r.result, r.dir)
  for _, p in ipairs(f.png) do page:file_image(p, {caption = caption or p:match("[^/]+$"), inline = true}) end
  for _, p in ipairs(f.svg) do page:file_image(p, {caption = p:match("[^/]+$"), inline = true}) end
  if #f.other > 0 then
    local links = {}
    for _, p in ipairs(f.other) do links[#links + 1] = page:link(p, p:match("[^/]+$")) end
    page:html('<p class="files">' .. table.concat(links, " ") .. "</p>")
  end
end

-- The note a failed stage leaves in its section.
local function failed_note(page, r)
  page:note(string.format("The stage %s did not run to the end: %s", r.name, r.error or "?"))
end

-- Runs show(page, r) for a finished stage, or leaves the stage's note; a
-- result this page cannot read is a failure too.
local function section_body(page, r, show)
  if not r then return end
  if not r.ok then return failed_note(page, r) end
  local ok, msg = pcall(show, page, r)
  if not ok then
    r.ok, r.error = false, "its result could not be shown: " .. tostring(msg)
    failed_note(page, r)
  end
end

local function model_section(page, r, ctx)
  page:section("1 The model", 2, "model")
  if not r.ok then return failed_note(page, r) end
  local m = r.result
  page:text("The layers in the order the net runs them, with the shape of each output " ..
    "for the definition's batch size and the number of trained parameters.")
  page:table{header = {"layer", "type", "output", "parameters"}, rows = m.layers}
  page:section("Accuracy", 3, "accuracy")
  page:html(string.format('<p><span class="big">%.2f%%</span> of %d test images classified ' ..
    "correctly (top-1, from blob <code>%s</code>).</p>", m.accuracy, m.total, esc(m.blob)))
  page:text(string.format("Error rate of a class = misclassified images of the class / images " ..
    "of the class. Evaluated in batches of %d in %.1f s (%.0f images/s).", ctx.o.batch, m.seconds,
    m.count / math.max(m.seconds, 1e-6)))
  if m.skipped > 0 then
    page:note(string.format("%d images could not be read and were skipped.", m.skipped))
  end
  local rows = {}
  for _, row in ipairs(m.rows) do
    if m.classes <= 40 or row.images > 0 then
      rows[#rows + 1] = {row.class, row.name, row.images, row.errors, fmt_rate(row.rate < 0 and 0 / 0 or row.rate)}
    end
  end
  if #rows < m.classes then
    page:text(string.format("%d of the %d classes have test images; the others are left out.",
      #rows, m.classes))
  end
  page:html('<div class="row">')
  page:table{header = {"class", "name", "images", "errors", "error rate (%)"}, rows = rows}
  if m.files.error_rates then page:file_image(r.dir .. "/" .. m.files.error_rates, {caption = "error rate per class"}) end
  page:html("</div>")
  if m.files.confusion then
    page:section("Confusion matrix", 3, "confusion")
    page:file_image(r.dir .. "/" .. m.files.confusion, {width = m.confusion_width * 3 // 2,
      caption = "Rows: true class, columns: predicted class. Numbers are image counts; colour " ..
      "is the share of the row (0 to 100%)."})
  end
  local mixed = {}
  for c = 1, m.classes do
    for p = 1, m.classes do
      local v = m.confusion[c][p]
      if p ~= c and v > 0 then mixed[#mixed + 1] = {c = c, p = p, v = v} end
    end
  end
  table.sort(mixed, function(a, b) return a.v > b.v or (a.v == b.v and (a.c < b.c or (a.c == b.c and a.p < b.p))) end)
  if #mixed > 0 then
    local top = {}
    for i = 1, math.min(8, #mixed) do
      local e = mixed[i]
      top[i] = {m.rows[e.c].name, m.rows[e.p].name, e.v, fmt_rate(100 * e.v / m.rows[e.c].images)}
    end
    page:section("Most confused", 3, "most-confused")
    page:table{header = {"true class", "taken for", "images", "of the class (%)"}, rows = top}
  end
  if m.files.filters then
    page:section("Filters of " .. m.filters.layer, 3, "filters")
    local w = m.filters.width
    page:file_image(r.dir .. "/" .. m.files.filters, {width = w < 320 and 2 * w or nil,
      caption = string.format("%s: %s weights; %s.", m.filters.layer,
        table.concat(m.filters.shape, "x"), m.filters.how)})
  end
end

-- The keys of t (layer names) in the net's order, then any others sorted.
local function in_net_order(net, t)
  local out, seen = {}, {}
  for _, l in ipairs(net.layers) do
    if t[l.name] ~= nil and not seen[l.name] then out[#out + 1], seen[l.name] = l.name, true end
  end
  local rest = {}
  for k in pairs(t) do if not seen[k] then rest[#rest + 1] = k end end
  table.sort(rest)
  for _, k in ipairs(rest) do out[#out + 1] = k end
  return out
end

local function num(v, fmt)
  if type(v) ~= "number" or v ~= v then return "-" end
  return string.format(fmt or "%.4g", v)
end

local function class_name(ctx, c)
  if type(c) ~= "number" then return "?" end
  return string.format("%d %s", c, ctx.names[c + 1] or "")
end

local function activations_section(page, runs, ctx)
  page:section("2 Activations (3.1.1)", 2, "activations")
  page:text("One test image per class (the first of its class) and the outputs of every " ..
    "Convolution, Pooling and LRN layer for it, each map on its own range.")
  if #runs == 0 then return page:note("No class has a test image.") end
  for _, r in ipairs(runs) do
    page:section(class_name(ctx, r.class), 3, "activations-" .. r.class)
    section_body(page, r, function(p) show_files(p, r) end)
  end
end

local function volumes_section(page, runs, ctx)
  page:section("3 Volumes (3.1.2)", 2, "volumes")
  page:text("Each Convolution layer's output for one image, its maps stacked into a volume " ..
    "(x, y: the map; z: the filter). Drag to turn it, the sliders cut it along each axis " ..
    "and show the slice; the NRRD files open in ParaView, 3D Slicer and napari.")
  for _, r in ipairs(runs) do
    page:section(r.layer, 3, "volume-" .. r.layer)
    section_body(page, r, function(p)
      local v = r.result
      local t = cv.io.load_nrrd(ctx.o.out .. "/" .. r.dir .. "/" .. v.nrrd)
      if t:dim() == 4 then t = t[1] end
      local frames = {}
      for i, f in ipairs(v.frames or {}) do frames[i] = {src = r.dir .. "/" .. f, label = f} end
      p:volume{name = "v" .. r.index, data = t, range = v.range, axes = {"x", "y", "filter"},
        colormap = v.render and v.render.colormap, frames = frames,
        mode = v.render and v.render.mode, opacity = v.render and v.render.opacity,
        links = {{r.dir .. "/" .. v.nrrd, v.nrrd .. " (NRRD, for ParaView / 3D Slicer / napari)"}},
        caption = string.format("%s: %s, values %s to %s", v.layer or r.layer,
          table.concat(t:size(), "x"), num(v.range and v.range[1]), num(v.range and v.range[2]))}
      for _, s in ipairs(v.slices or {}) do
        local file = type(s) == "table" and s.file or s
        p:file_image(r.dir .. "/" .. file, {caption = type(s) == "table" and
          string.format("the %s cut at %s", tostring(s.cut), tostring(s.index)) or file, inline = true})
      end
    end)
  end
end

local function reordering_section(page, r, ctx)
  page:section("4 Reorderings (3.1.3)", 2, "reordering")
  page:text("A vertical slice of the volume (one column of every map) with its rows reordered " ..
    "by k-means clusters and by the first principal component; the numbers are the mean " ..
    "correlation of neighbouring rows before and after, so that \"reordered\" is measured.")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    local names = {}
    for k in pairs(v.methods) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local m = v.methods[k]
      rows[#rows + 1] = {k, num(m.before, "%.3f"), num(m.after, "%.3f")}
    end
    p:table{header = {"reordering", "neighbour correlation before", "after"}, rows = rows,
            caption = string.format("%s, slice %s", tostring(v.layer), tostring(v.slice))}
    show_files(p, r)
  end)
end

local function gradients_section(page, r, ctx)
  page:section("5 Gradients validated (3.2.1)", 2, "gradients")
  page:text("The gradient of one class neuron with respect to every layer's weights, against " ..
    "finite differences (the report's equation 1).")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local l = v.layers[name]
      rows[#rows + 1] = {name, l.judged, l.tiny, l.kink, num(l.max_rel_error, "%.2e"),
                         num(l.median_rel_error, "%.2e")}
    end
    p:table{header = {"layer", "judged", "tiny", "at a kink", "max rel. error", "median rel. error"},
            rows = rows, caption = string.format("neuron %s of %s", class_name(ctx, v.class), tostring(v.blob))}
    show_files(p, r)
  end)
end

local function comparison_section(page, r, ctx)
  page:section("6 Class comparison (3.2.2)", 2, "comparison")
  page:text("The gradient of the reference class's neuron for a correctly and a wrongly " ..
    "classified image of the reference, a similar and a dissimilar class: the frames share " ..
    "one transfer function and value range.")
  section_body(page, r, function(p)
    local v = r.result
    p:text(string.format("Reference %s, similar %s, dissimilar %s.", class_name(ctx, v.reference),
      class_name(ctx, v.similar), class_name(ctx, v.dissimilar)))
    -- one player per layer: the six images' gradient volumes, rendered with
    -- one transfer function and one value range
    local labels = {}
    for k, img in ipairs(v.images or {}) do
      labels[k] = string.format("%s %s (image %s, %s)", img.role, img.correct and "right" or "wrong",
        tostring(img.index), class_name(ctx, img.class))
    end
    local colormap = v.transfer and v.transfer.colormap or "viridis"
    for _, name in ipairs(in_net_order(ctx.net, v.frames or {})) do
      local frames = {}
      for k, f in ipairs(v.frames[name]) do frames[k] = {src = r.dir .. "/" .. f, label = labels[k]} end
      local range = v.range and v.range[name] or {}
      p:section(name, 3, "comparison-" .. name)
      p:player{frames = frames, scale = {lo = range[1], hi = range[2], colormap = colormap,
        label = (v.transfer and v.transfer.value or "value") .. ", one scale for every frame"},
        caption = "the time series of " .. name}
    end
    local layers, rows = {}, {}
    for _, img in ipairs(v.images or {}) do
      for name in pairs(img.norms or {}) do layers[name] = true end
    end
    local order = in_net_order(ctx.net, layers)
    for _, img in ipairs(v.images or {}) do
      local row = {img.role, img.index, class_name(ctx, img.class), class_name(ctx, img.predicted),
                   img.correct and "yes" or "no", num(img.prob_reference, "%.3f")}
      for _, name in ipairs(order) do row[#row + 1] = num(img.norms[name] and img.norms[name].l2) end
      rows[#rows + 1] = row
    end
    local header = {"image", "index", "class", "predicted", "correct", "p(reference)"}
    for _, name in ipairs(order) do header[#header + 1] = "|grad " .. name .. "|" end
    if #rows > 0 then p:table{header = header, rows = rows} end
    show_files(p, r)
  end)
end

local function importance_section(page, r, ctx)
  page:section("7 Importance (3.2.3)", 2, "importance")
  page:text("Importance of filter f of layer L for class c = the mean over the class's images of " ..
    "the norm of the gradient of the class neuron with respect to the filter's weights.")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local vals, s, hi = v.layers[name], 0, -math.huge
      for _, x in ipairs(vals) do s, hi = s + x, math.max(hi, x) end
      rows[#rows + 1] = {name, #vals, num(s / math.max(#vals, 1)), num(hi)}
    end
    p:table{header = {"layer", "filters", "mean importance", "largest"}, rows = rows,
            caption = string.format("class %s over %s images of class %s", class_name(ctx, v.class),
              tostring(v.images), class_name(ctx, v.input_class or v.class))}
    show_files(p, r)
  end)
end

local function rates_row(rates, k)
  return type(rates) == "table" and rates[k] or nil
end

local function removal_section(page, r, ctx)
  page:section("8 Removing filters (3.2.3)", 2, "removal")
  page:text("Removing a filter = zeroing its weights and bias. Error rates per class (%) with " ..
    "none, the least important and the most important filter of the layer removed.")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    local e = v.error_rates
    for c = 1, #e.baseline do
      rows[#rows + 1] = {class_name(ctx, c - 1), num(e.baseline[c], "%.2f"),
        num(rates_row(e.least_removed, c), "%.2f"), num(rates_row(e.most_removed, c), "%.2f")}
    end
    p:table{header = {"class", "none removed", "least important removed", "most important removed"},
      rows = rows, caption = string.format("%s, importance for class %s: least filter %s, most filter %s",
        tostring(v.layer), class_name(ctx, v.class), tostring(v.least.filter), tostring(v.most.filter))}
    show_files(p, r)
  end)
end

local function threshold_section(page, r, ctx)
  page:section("9 Threshold sweep (3.2.3)", 2, "threshold")
  page:text("Every filter of the layer whose importance is below the threshold removed: the " ..
    "class's error beside the overall error (the class error alone can fall when the net " ..
    "starts to call everything the class).")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    for i, t in ipairs(v.thresholds) do
      rows[#rows + 1] = {num(t), tostring(v.removed[i]), num(v.class_error[i], "%.2f"),
                         num(v.overall_error[i], "%.2f")}
    end
    p:table{header = {"threshold", "filters removed", "class error (%)", "overall error (%)"},
            rows = rows, caption = string.format("%s, class %s", tostring(v.layer), class_name(ctx, v.class))}
    show_files(p, r)
  end)
end

local function validation_section(page, r, ctx)
  page:section("10 Importance against the oracle", 2, "validation")
  page:text("For every filter, the true damage of removing it alone (the rise in mean " ..
    "cross-entropy over the class's images) against three measures: the report's gradient " ..
    "norm, Taylor |sum W * dz/dW| and the weights' L1 norm; Spearman rank correlation per layer.")
  section_body(page, r, function(p)
    local v, rows = r.result, {}
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local s = v.layers[name].spearman
      rows[#rows + 1] = {name, num(s.gradnorm, "%.3f"), num(s.taylor, "%.3f"), num(s.l1, "%.3f")}
    end
    p:table{header = {"layer", "gradient norm", "Taylor", "L1 of weights"}, rows = rows,
            caption = string.format("Spearman against the loss oracle, class %s, %s images",
              class_name(ctx, v.class), tostring(v.images))}
    show_files(p, r)
  end)
end

-- ---- findings: the report's claims, each with the number measured here ----

local function pct(v) return type(v) == "number" and v == v and string.format("%.2f%%", v) or "-" end

-- Each entry: the claim in the report's words, and a function of the
-- stages' results giving what this model measured (an error when a stage
-- is missing: the finding then says it was not measured).
local FINDINGS = {
  {section = "model", claim = "Some classes are much harder than others (the comparisons need a " ..
    "reference class, similar ones and dissimilar ones).", measure = function(R, ctx)
    local m = R.model.result
    local hard, easy
    for _, row in ipairs(m.rows) do
      if row.images > 0 then
        if not hard or row.rate > hard.rate then hard = row end
        if not easy or row.rate < easy.rate then easy = row end
      end
    end
    return string.format("accuracy %s on %d images; hardest %s (%s error), easiest %s (%s); " ..
      "the cast here: reference %s, similar %s, dissimilar %s", pct(m.accuracy), m.total,
      hard.name, pct(hard.rate), easy.name, pct(easy.rate), class_name(ctx, ctx.ref),
      class_name(ctx, ctx.sim), class_name(ctx, ctx.dis))
  end},
  {section = "reordering", claim = "Reordering the rows of a slice by k-means or PCA puts similar " ..
    "rows next to each other.", measure = function(R)
    local v, parts = R.reordering.result, {}
    local names = {}
    for k in pairs(v.methods) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      parts[#parts + 1] = string.format("%s %.3f to %.3f", k, v.methods[k].before, v.methods[k].after)
    end
    return "mean correlation of neighbouring rows: " .. table.concat(parts, "; ")
  end},
  {section = "gradients", claim = "The gradients of a class neuron with respect to the weights agree " ..
    "with finite differences (equation 1).", measure = function(R, ctx)
    local v, worst, at, judged = R.gradients.result, -1, nil, 0
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local l = v.layers[name]
      judged = judged + (l.judged or 0)
      if (l.max_rel_error or -1) > worst then worst, at = l.max_rel_error, name end
    end
    return string.format("worst relative error %.2e (%s) over %d judged weights", worst, at, judged)
  end},
  {section = "comparison", claim = "For the dissimilar class the gradient values were smaller than " ..
    "for the correctly classified image.", measure = function(R, ctx)
    local v, right, dis = R.comparison.result, nil, nil
    for _, img in ipairs(v.images) do
      if img.class == v.reference and img.correct then right = right or img end
      if img.class == v.dissimilar then dis = dis or img end
    end
    if not (right and dis) then error("no correct reference image or no dissimilar image", 0) end
    local parts = {}
    for _, name in ipairs(in_net_order(ctx.net, right.norms)) do
      local a, b = right.norms[name].l2, dis.norms[name] and dis.norms[name].l2
      if a and b and a > 0 then parts[#parts + 1] = string.format("%s %.2f", name, b / a) end
    end
    return "gradient norm of the dissimilar image / the correct reference image: " .. table.concat(parts, ", ")
  end},
  {section = "importance", claim = "A class's images give its filters a higher importance than the " ..
    "images of other classes do.", measure = function(R, ctx)
    local v, parts = R.importance.result, {}
    if not v.compare or #v.compare == 0 then error("no other class's images (--compare)", 0) end
    local function mean(t) local s = 0 for _, x in ipairs(t) do s = s + x end return s / math.max(#t, 1) end
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local others = 0
      for _, c in ipairs(v.compare) do others = others + mean(c.layers[name]) end
      others = others / #v.compare
      if others > 0 then parts[#parts + 1] = string.format("%s %.2f", name, mean(v.layers[name]) / others) end
    end
    return string.format("mean importance for class %s over its own images / over the other %d " ..
      "classes' images: %s", class_name(ctx, v.class), #v.compare, table.concat(parts, ", "))
  end},
  {section = "removal", claim = "Removing the most important filter raises the class's error more " ..
    "than removing the least important one.", measure = function(R, ctx)
    local v = R.removal.result
    local c = v.class + 1
    local e = v.error_rates
    return string.format("%s, %s: error %s with nothing removed, %s without the least important " ..
      "filter (%d), %s without the most important (%d)", tostring(v.layer), class_name(ctx, v.class),
      pct(e.baseline[c]), pct(e.least_removed[c]), v.least.filter, pct(e.most_removed[c]), v.most.filter)
  end},
  {section = "threshold", claim = "Filters below an importance threshold can go with little loss, " ..
    "up to a point.", measure = function(R, ctx)
    local v, parts = R.threshold.result, {}
    for i = 1, #v.thresholds do
      parts[#parts + 1] = string.format("%s removed: %s / %s", tostring(v.removed[i]),
        pct(v.class_error[i]), pct(v.overall_error[i]))
    end
    return string.format("%s, class error / overall error: %s", tostring(v.layer), table.concat(parts, "; "))
  end},
  {section = "validation", claim = "(Beyond the report) how well each importance measure ranks " ..
    "filters by the damage their removal really does.", measure = function(R, ctx)
    local v, parts = R.validation.result, {}
    for _, name in ipairs(in_net_order(ctx.net, v.layers)) do
      local s = v.layers[name].spearman
      parts[#parts + 1] = string.format("%s: gradient norm %.2f, Taylor %.2f, L1 %.2f", name,
        s.gradnorm, s.taylor, s.l1)
    end
    return "Spearman against the oracle: " .. table.concat(parts, "; ")
  end},
}

local function findings_section(page, R, ctx)
  page:section("11 Findings", 2, "findings")
  page:text("The report's claims, each with what this model measured (from the stages' JSON).")
  local rows, list = {}, {}
  for _, f in ipairs(FINDINGS) do
    local r = R[f.section]
    local text
    if not r then
      text = "not measured: the stage was not run (--stages)"
    elseif not r.ok then
      text = "not measured: " .. (r.error or "the stage failed")
    else
      local ok, v = pcall(f.measure, R, ctx)
      text = ok and v or ("not measured: " .. tostring(v))
    end
    rows[#rows + 1] = {{html = string.format('<a href="#%s">%s</a>', f.section, esc(f.section))}, f.claim, text}
    list[#list + 1] = {section = f.section, claim = f.claim, measured = text}
  end
  page:table{header = {"section", "the report says", "measured here"}, rows = rows}
  return list
end

local function timings_section(page, runner)
  page:section("How this page was made", 2, "run")
  local rows, total = {}, 0
  for _, t in ipairs(runner:timings()) do
    total = total + t.seconds
    rows[#rows + 1] = {t.name, string.format("%.1f", t.seconds),
                       t.cached and "cached" or (t.ok and "ran" or "failed")}
  end
  rows[#rows + 1] = {"all stages", string.format("%.1f", total), ""}
  page:table{header = {"stage", "seconds", ""}, rows = rows}
end

-- ---- the stages ------------------------------------------------------------

local function main(ctx)
  local o, net = ctx.opts, ctx.net
  local t_start = cv.clock()
  o.out = o.out == "out/report" and o.out or o.out
  o.scripts = o.scripts or HERE
  o.only = {}
  local known = {}
  for _, s in ipairs(SECTIONS) do known[s] = true end
  for _, s in ipairs(o.stages or SECTIONS) do
    if s ~= "model" and not known[s] then
      fail("--stages: no section '%s' (%s)", s, table.concat(SECTIONS, ", "))
    end
    o.only[s] = true
  end
  local src = ctx:inputs()
  local set, names = src.set, {}
  for i, v in ipairs(src.classes or {}) do names[i] = v end
  local convs = conv_layers(net)
  if o.layer then ctx:layer(o.layer, {Convolution = true}) end
  local layer = o.layer or (convs[1] and convs[1].name)
  ctx.set, ctx.names, ctx.o = set, names, o
  -- --batch reaches every stage but changes none of their results
  local runner = stages.new{dir = o.out, fresh = o.fresh, extra_args = {"--batch", tostring(o.batch)}}

  -- What every stage's result depends on: the model's files and options.
  local files = {o.prototxt}
  if o.caffemodel ~= "none" then files[#files + 1] = o.caffemodel end
  if o.mean then files[#files + 1] = o.mean end
  if o.labels then files[#files + 1] = o.labels end
  local model_args = {"--prototxt", o.prototxt, "--caffemodel", o.caffemodel, "--scale", tostring(o.scale),
                      "--seed", tostring(o.seed)}
  if o.mean then table.move({"--mean", o.mean}, 1, 2, #model_args + 1, model_args) end
  if o.labels then table.move({"--labels", o.labels}, 1, 2, #model_args + 1, model_args) end
  -- ... and, for the stages over the set, the images
  local set_args = {}
  if o.images then table.move({"--images", o.images}, 1, 2, #set_args + 1, set_args) end
  if o.limit then table.move({"--limit", tostring(o.limit)}, 1, 2, #set_args + 1, set_args) end
  local dirs = o.images and {o.images} or {}
  local data_key = o.images and "folder" or "fashion-mnist test"

  local function args(...)
    local out = {}
    for _, list in ipairs({...}) do table.move(list, 1, #list, #out + 1, out) end
    return out
  end
  local R = {}
  R.model = runner:stage{name = "model", files = args(files, {arg[0]}), dirs = dirs,
    key = {data = data_key, limit = o.limit or 0, scale = o.scale, source = "report.lua model stage",
           version = 1},
    run = function(dir, progress) return model_stage(ctx, dir, progress) end}
  -- the report's script is part of the model stage's key
  local function script_path(name) return o.scripts .. "/" .. name .. ".lua" end

  if R.model.ok then
    local m = R.model.result
    local sum = {rows = {}}
    for c, row in ipairs(m.rows) do
      sum.rows[c] = {count = row.images, rate = row.rate < 0 and 0 / 0 or row.rate}
    end
    ctx.ref, ctx.sim, ctx.dis = choose_cast(m, sum, o)
    local input_of = {}
    for _, inp in ipairs(m.inputs) do input_of[inp.class] = inp.file end
    local ref_input = input_of[ctx.ref] or (m.inputs[1] and m.inputs[1].file)
    local image_args = ref_input and {"--image", ref_input} or {}
    local image_files = ref_input and {ref_input} or {}
    local with_image = args(files, image_files)
    local cast = {"--reference", tostring(ctx.ref), "--similar", tostring(ctx.sim),
                  "--dissimilar", tostring(ctx.dis)}
    local class = {"--class", tostring(ctx.ref)}

    R.activations = {}
    if o.only.activations then
      for _, inp in ipairs(m.inputs) do
        if #R.activations >= o.show then break end
        local r = runner:stage{name = "activations-" .. inp.class, script = script_path("activations"),
          args = args(model_args, {"--image", inp.file}), files = args(files, {inp.file})}
        r.class = inp.class
        R.activations[#R.activations + 1] = r
      end
    end
    R.volumes = {}
    if o.only.volumes then
      for k, l in ipairs(convs) do
        local r = runner:stage{name = "volume-" .. k, script = script_path("volume"),
          args = args(model_args, image_args, {"--layer", l.name}), files = with_image}
        r.layer, r.index = l.name, k
        R.volumes[#R.volumes + 1] = r
      end
    end
    if o.only.reordering and layer then
      R.reordering = runner:stage{name = "reorder", script = script_path("reorder"),
        args = args(model_args, image_args, {"--layer", layer}), files = with_image}
    end
    if o.only.gradients then
      R.gradients = runner:stage{name = "gradients", script = script_path("gradients"),
        args = args(model_args, image_args), files = with_image}
    end
    if o.only.comparison then
      R.comparison = runner:stage{name = "compare_classes", script = script_path("compare_classes"),
        args = args(model_args, set_args, cast), files = files, dirs = dirs, key = data_key}
    end
    if o.only.importance then
      R.importance = runner:stage{name = "importance", script = script_path("importance"),
        args = args(model_args, set_args, class, {"--compare"}), files = files, dirs = dirs, key = data_key}
    end
    if o.only.removal and layer then
      R.removal = runner:stage{name = "removal", script = script_path("removal"),
        args = args(model_args, set_args, class, {"--layer", layer}), files = files, dirs = dirs, key = data_key}
    end
    if o.only.threshold and layer then
      R.threshold = runner:stage{name = "threshold", script = script_path("threshold"),
        args = args(model_args, set_args, class, {"--layer", layer}), files = files, dirs = dirs, key = data_key}
    end
    if o.only.validation and layer then
      R.validation = runner:stage{name = "validate_importance", script = script_path("validate_importance"),
        args = args(model_args, set_args, class, {"--layers", layer}), files = files, dirs = dirs, key = data_key}
    end
  end

  local page = cv.report.new{title = "Inside " .. o.prototxt:match("([^/]+)$"):gsub("%.prototxt$", ""),
    dir = o.out, subtitle = string.format("%s + %s on %s — cnnvis, %s", o.prototxt, o.caffemodel,
      src.source, os.date("!%Y-%m-%d %H:%M UTC"))}
  model_section(page, R.model, ctx)
  local function skipped(id, title)
    page:section(title, 2, id)
    page:note("Not run this time (--stages).")
  end
  if R.model.ok then
    if o.only.activations then activations_section(page, R.activations, ctx) else skipped("activations", "2 Activations (3.1.1)") end
    if o.only.volumes then volumes_section(page, R.volumes, ctx) else skipped("volumes", "3 Volumes (3.1.2)") end
    if R.reordering then reordering_section(page, R.reordering, ctx) else skipped("reordering", "4 Reorderings (3.1.3)") end
    if R.gradients then gradients_section(page, R.gradients, ctx) else skipped("gradients", "5 Gradients validated (3.2.1)") end
    if R.comparison then comparison_section(page, R.comparison, ctx) else skipped("comparison", "6 Class comparison (3.2.2)") end
    if R.importance then importance_section(page, R.importance, ctx) else skipped("importance", "7 Importance (3.2.3)") end
    if R.removal then removal_section(page, R.removal, ctx) else skipped("removal", "8 Removing filters (3.2.3)") end
    if R.threshold then threshold_section(page, R.threshold, ctx) else skipped("threshold", "9 Threshold sweep (3.2.3)") end
    if R.validation then validation_section(page, R.validation, ctx) else skipped("validation", "10 Importance against the oracle") end
    local findings = findings_section(page, R, ctx)
    local f = io.open(o.out .. "/findings.json", "w")
    if f then
      f:write(cv.json.encode(findings), "\n")
      f:close()
    end
  end
  timings_section(page, runner)
  local path = page:save()
  local failed = {}
  for _, t in ipairs(runner:timings()) do if not t.ok then failed[#failed + 1] = t.name end end
  local m = R.model.ok and R.model.result
  print(string.format("report: %s (%s, %.1f s)", path, m and string.format("accuracy %.2f%% on %d images",
    m.accuracy, m.total) or "no model section", cv.clock() - t_start))
  if #failed > 0 then
    io.stderr:write("report: failed stages: ", table.concat(failed, ", "), "\n")
    os.exit(1)
  end
end

SPEC.main = main
script.run(SPEC)
