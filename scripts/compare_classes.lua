-- compare_classes.lua — the report's 3.2.2: the gradient of one class neuron
-- (the reference class) for a correctly and a wrongly classified image of
-- the reference class, of a similar class and of a dissimilar class, as
-- volumes rendered with one transfer function: the report's time series.
local cv = require "cnnvis"
local G = cv.gradients

local ROLES = {"reference", "similar", "dissimilar"}

local HELP = [[
The defaults fit the shipped Fashion-MNIST model: its confusion matrix
(scripts/evaluate.lua, the README's tour) shows Shirt (6) taken for T-shirt/top
(0) more than for any other class, and Sneaker (7) nearly never, so T-shirt/top
is the similar class and Sneaker the dissimilar one. For another model, read its
confusion matrix and pick the three.
]]

-- The six frames of a layer side by side, each captioned, on white.
local function strip(frames, captions)
  local h, w = frames[1]:size(2), frames[1]:size(3)
  local pad, top = 4, 14
  local img = cv.full(3, h + top + pad, #frames * (w + pad) + pad, 255)
  for k, f in ipairs(frames) do
    local x = pad + (k - 1) * (w + pad)
    img:narrow(2, top + 1, h):narrow(3, x + 1, w):copy_(f)
    cv.vis.text(img, captions[k], x + 1, 4)
  end
  return img
end

local function the_class(ctx, c)
  return string.format("%d (%s)", c, ctx:class_name(c))
end

require("cnnvis.script").run {
  name = "compare_classes",
  summary = "3.2.2: the reference class neuron's weight gradients for a correctly and a wrongly\n"
    .. "classified image of the reference, a similar and a dissimilar class, as NRRD volumes\n"
    .. "and frames rendered with one transfer function (the report's time series)",
  options = {
    {"reference", "class", "the reference class (default 6, Shirt)", default = 6},
    {"similar", "class", "a class the net confuses with it (default 0, T-shirt/top)", default = 0},
    {"dissimilar", "class", "a class it nearly never confuses (default 7, Sneaker)", default = 7},
    {"layers", "list", "the layers (default: every Convolution layer)"},
    {"blob", "string", "the neuron's blob (default: the last InnerProduct's, before any softmax)"},
  },
  help = HELP,
  main = function(ctx)
    local net, o = ctx.net, ctx.opts
    local classes = {o.reference, o.similar, o.dissimilar}
    for i = 2, 3 do
      for j = 1, i - 1 do
        if classes[i] == classes[j] then
          ctx:fail("--%s %d is the %s class too: give three different classes", ROLES[i],
            classes[i], ROLES[j])
        end
      end
    end
    local layers = {}
    if o.layers then
      for _, name in ipairs(o.layers) do
        layers[#layers + 1] = ctx:layer(name, {Convolution = true, InnerProduct = true},
          "--layers").name
      end
    else
      for _, l in ipairs(ctx:layers_of({Convolution = true})) do layers[#layers + 1] = l.name end
    end
    local blob = o.blob or G.default_blob(net)
    local ok, err = pcall(G.check_neuron, net, blob, o.reference, "compare_classes")
    if not ok then ctx:fail("--reference: %s", (tostring(err):gsub("^.-compare_classes: ", ""))) end
    local src = ctx:inputs()
    local found
    ok, err = pcall(function()
      found = G.find_examples(net, src.set, classes, {batch = o.batch,
        sweep = function(...) return ctx:sweep(...) end})
    end)
    if not ok and type(err) ~= "string" then error(err, 0) end -- a shard's stop
    if not ok then ctx:fail("%s", (tostring(err):gsub("^.-find_examples: ", ""))) end

    -- the images, in the time series' order
    local images = {}
    for i, c in ipairs(classes) do
      for _, which in ipairs{"correct", "wrong"} do
        local f = found[c][which]
        if f then
          images[#images + 1] = {role = ROLES[i], index = f.index, class = c,
                                 predicted = f.predicted, correct = which == "correct"}
        else
          ctx:say("no %s image of %s class %s among its %d in %s: left out",
            which == "correct" and "correctly classified" or "wrongly classified", ROLES[i],
            the_class(ctx, c), found[c].count, src.source)
        end
      end
    end

    -- gradients of the reference neuron, their norms and volumes
    local blocks = {}
    for k, im in ipairs(images) do
      local x = src.set:get(im.index)
      local grads = G.of_neuron(net, x, {blob = blob, class = o.reference, layers = layers})
      local scores = net.blobs[blob]:reshape(1, -1)
      im.prob_reference = cv.nn.softmax(scores, 2)[{1, o.reference + 1}]:item()
      im.norms = G.norms(grads)
      im.name = im.role .. (im.correct and "_correct" or "_wrong")
      im.nrrd, blocks[k] = {}, {}
      for _, name in ipairs(layers) do
        local w = grads[name].weight
        im.nrrd[name] = ctx:save_nrrd(G.volume(net, name, w), im.name .. "_" .. name,
          {labels = {"filter_channel", "row", "column"}})
        blocks[k][name] = G.volume(net, name, w, "filters"):abs()
      end
    end
    if #images == 0 then ctx:fail("none of the three classes has an image to compare") end

    -- one transfer function and value range per layer for all the frames: 0 to
    -- the 99.5th percentile of |gradient| over all the images (the largest few
    -- would leave the rest dark)
    local transfer = {colormap = "viridis", opacity = {0.1, 0.8, 1}, azimuth = 30,
                      elevation = 20, width = 256, height = 256, value = "|gradient|",
                      range = "0 to the 99.5th percentile of all the images' values"}
    local ranges, frames, series = {}, {}, {}
    for _, name in ipairs(layers) do
      local all = {}
      for k = 1, #images do all[k] = blocks[k][name]:reshape(-1) end
      local sorted = cv.cat(all, 1):sort()
      local hi = sorted[math.ceil(0.995 * sorted:size(1))]:item()
      ranges[name] = {0, hi > 0 and hi or 1}
      local pictures, captions = {}, {}
      frames[name] = {}
      for k, im in ipairs(images) do
        pictures[k] = G.render(blocks[k][name], {range = ranges[name],
          colormap = transfer.colormap, opacity = transfer.opacity, azimuth = transfer.azimuth,
          elevation = transfer.elevation, width = transfer.width, height = transfer.height})
        frames[name][k] = ctx:save_png(pictures[k], string.format("%s_%d_%s", name, k, im.name))
        captions[k] = string.format("%d %s %s", k, im.role, im.correct and "ok" or "wrong")
      end
      series[name] = ctx:save_png(strip(pictures, captions), "series_" .. name)
    end

    -- the report's claim, measured: gradient norms against the correct reference image
    local base = images[1].role == "reference" and images[1].correct and images[1] or nil
    local ratios = {}
    ctx:say("reference neuron %s[%d] (%s); |gradient| per layer:", blob, o.reference,
      ctx:class_name(o.reference))
    local head = {string.format("%-8s", "layer")}
    for _, im in ipairs(images) do head[#head + 1] = string.format("%19s", im.name) end
    ctx:say("%s", table.concat(head, " "))
    for _, name in ipairs(layers) do
      local row = {string.format("%-8s", name)}
      for _, im in ipairs(images) do row[#row + 1] = string.format("%19.5g", im.norms[name].l2) end
      ctx:say("%s", table.concat(row, " "))
      if base then
        ratios[name] = {}
        for _, im in ipairs(images) do
          if im ~= base then ratios[name][im.name] = im.norms[name].l2 / base.norms[name].l2 end
        end
      end
    end
    if base then
      for _, name in ipairs(layers) do
        local r = ratios[name]
        ctx:say("%s: dissimilar / correct reference = %s", name,
          r.dissimilar_correct and string.format("%.3f", r.dissimilar_correct) or "-")
      end
    else
      ctx:say("no correctly classified reference image: no ratios")
    end

    local list = {}
    for k, im in ipairs(images) do
      list[k] = {role = im.role, index = im.index, class = im.class, predicted = im.predicted,
                 correct = im.correct, prob_reference = im.prob_reference, norms = im.norms,
                 nrrd = im.nrrd}
    end
    ctx.name = "compare" -- the results go to DIR/compare.json
    ctx:say("wrote %s", ctx:save_json{reference = o.reference, similar = o.similar,
      dissimilar = o.dissimilar, blob = blob, layers = layers, images = list, range = ranges,
      transfer = transfer, frames = frames, series = series, ratios = ratios,
      source = src.source})
  end,
}
