-- gradients.lua — the report's 3.2.1: the gradient of one class neuron w.r.t.
-- every Convolution and InnerProduct layer's weights for one image, as
-- pictures and volumes, checked against finite differences (equation 1).
local cv = require "cnnvis"
local G = cv.gradients

local CONV_FC = {Convolution = true, InnerProduct = true}

-- The smallest divisor of n from sqrt(n) on: full rows when there is one.
local function columns(n)
  for c = math.ceil(math.sqrt(n)), n do
    if n % c == 0 and c <= 2.5 * math.sqrt(n) then return c end
  end
  return math.ceil(math.sqrt(n))
end

-- A first layer's gradient as filter pictures: F x C x kh x kw as maps of
-- kh x kw, each filter's C channels side by side, one range centred on 0.
local function filter_pictures(w)
  local s = w:size()
  local per_row = s[2] == 1 and columns(s[1]) or math.max(1, columns(s[1]) // 2) * s[2]
  return cv.vis.grid(w:reshape(s[1] * s[2], s[3], s[4]), {cols = per_row,
    colormap = "diverging", normalize = "all", scale = math.max(1, 48 // s[3]), pad = 2,
    pad_color = 128})
end

-- A layer's per-filter gradient norms as a grid of cells (filter 1 top left).
local function norm_picture(norms)
  local n = norms:size(1)
  local cols = columns(n)
  local rows = (n + cols - 1) // cols
  local cells = cv.zeros(rows * cols)
  cells:narrow(1, 1, n):copy_(norms)
  return cv.vis.heatmap(cells:view(rows, cols), {cell = n > 200 and 12 or 20,
    colormap = "viridis", range = {0, math.max(norms:max():item(), 1e-30)}})
end

local function csv_number(v) return string.format("%.9g", v) end

require("cnnvis.script").run {
  name = "gradients",
  summary = "3.2.1: d neuron / d weights of every Convolution and InnerProduct layer for one\n"
    .. "image, as pictures and NRRD volumes, checked against finite differences (equation 1)",
  options = {
    {"class", "class", "the neuron's class, 0-based (default: the image's predicted class)"},
    {"blob", "string", "the neuron's blob (default: the last InnerProduct's, before any softmax)"},
    {"check", "integer", "weights per layer for the finite-difference check (default 20)",
     default = 20},
    {"layers", "list", "the layers (default: every Convolution and InnerProduct layer)"},
    {"save-npy", "flag", "also write each layer's weight gradient as grad_<layer>.npy"},
  },
  main = function(ctx)
    local net, o = ctx.net, ctx.opts
    if o.check < 1 then
      ctx:fail("--check wants at least 1 weight per layer, got %d", o.check)
    end
    local x, info = ctx:input()
    local layers = {}
    for _, l in ipairs(o.layers and {} or ctx:layers_of(CONV_FC)) do layers[#layers + 1] = l.name end
    for _, name in ipairs(o.layers or {}) do
      layers[#layers + 1] = ctx:layer(name, CONV_FC, "--layers").name
    end
    if #layers == 0 then ctx:fail("the net has no Convolution or InnerProduct layer") end
    local blob = o.blob or G.default_blob(net)
    local ok, grads, got = pcall(G.of_neuron, net, x, {blob = blob, class = o.class,
                                                       layers = layers})
    if not ok then ctx:fail("%s", (tostring(grads):gsub("^.-of_neuron: ", ""))) end
    local class = got.class
    ctx:say("%s: neuron %s[%d] (%s) = %.6g; predicted %s", info.source, got.blob, class,
      ctx:class_name(class), got.value, got.predicted and ctx:class_name(got.predicted) or "-")

    -- pictures, volumes, arrays
    local out = {class = class, blob = got.blob, value = got.value, predicted = got.predicted,
                 image = info.source, layers = {}, files = {}}
    local first = layers[1]
    if #grads[first].weight:size() == 4 then -- the first layer asked for
      out.files.filters = ctx:save_png(filter_pictures(grads[first].weight), first .. "_filters")
    end
    out.files.norms, out.files.nrrd = {}, {}
    if o["save-npy"] then out.files.npy = {} end
    for _, name in ipairs(layers) do
      local w = grads[name].weight
      out.files.norms[name] = ctx:save_png(norm_picture(G.filter_norms(w)), name .. "_norms")
      out.files.nrrd[name] = ctx:save_nrrd(G.volume(net, name, w), "grad_" .. name,
        {labels = {"filter_channel", "row", "column"}})
      if o["save-npy"] then out.files.npy[name] = ctx:save_npy(w, "grad_" .. name) end
    end

    -- equation 1 on every layer
    net:forward(x)
    local checks = G.validate(net, {got.blob, class = class}, layers, o.check)
    local csv = {"layer,index,analytic,numeric,rel_error,tiny,kink"}
    local series, worst = {}, 0
    ctx:say("%-10s %7s %6s %6s %14s %14s", "layer", "judged", "tiny", "kink", "max rel. error",
      "median")
    for _, name in ipairs(layers) do
      local c = checks[name]
      local norms = G.norms({[name] = grads[name]})[name]
      out.layers[name] = {judged = c.judged, tiny = c.tiny, kink = c.kink,
                          max_rel_error = c.max_rel_error, median_rel_error = c.median_rel_error,
                          eps = c.eps, l2 = norms.l2, mean_filter = norms.mean_filter}
      if c.judged > 0 then worst = math.max(worst, c.max_rel_error) end
      local sx, sy = {}, {}
      for _, r in ipairs(c.rows) do
        csv[#csv + 1] = table.concat({name, table.concat(r.index, ":"), csv_number(r.analytic),
          csv_number(r.numeric), csv_number(r.rel_error), tostring(r.tiny), tostring(r.kink)}, ",")
        sx[#sx + 1], sy[#sy + 1] = r.analytic, r.numeric
      end
      series[#series + 1] = {name = name, x = sx, y = sy}
      ctx:say("%-10s %7d %6d %6d %14.3e %14s", name, c.judged, c.tiny, c.kink, c.max_rel_error,
        c.median_rel_error and string.format("%.3e", c.median_rel_error) or "-")
    end
    out.max_rel_error = worst
    out.files.csv = ctx:save_text(table.concat(csv, "\n") .. "\n", "check", ".csv")
    out.files.scatter = ctx:save_svg(cv.plot.scatter{series = series, diagonal = true,
      title = string.format("d %s[%d] / d weight", got.blob, class),
      xlabel = "backward (analytic)", ylabel = "finite difference (numeric)", width = 560,
      height = 480}, "check")
    ctx:say("worst judged relative error: %.3e (%d weights per layer)", worst, o.check)
    ctx:say("wrote %s", ctx:save_json(out))
  end,
}
