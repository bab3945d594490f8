--- 3.1.1: the input and every Convolution, Pooling and LRN output of one
-- image as a grid of numbered maps per layer; DIR/activations.json lists
-- each layer's blob shape and picture.
--   build/bin/cnnvis scripts/activations.lua [--image cat.jpg] [--colormap viridis]
local cv = require "cnnvis"

require("cnnvis.script").run {
  name = "activations",
  summary = "3.1.1: every map layer's output for one image, one PNG grid per layer",
  options = {
    {"colormap", "string", "gray, viridis or diverging (default gray)", default = "gray"},
    {"normalize", "string", "each: every map on its own range; all: one range per layer "
      .. "(default each)", default = "each"},
    {"zoom", "count", "screen pixels per map pixel (default: maps of about 48 pixels)"},
  },
  main = function(ctx)
    local o = ctx.opts
    local ok = false
    for _, m in ipairs(cv.vis.colormaps) do ok = ok or m == o.colormap end
    if not ok then ctx:fail("--colormap: unknown colormap '%s' (gray, viridis or diverging)", o.colormap) end
    if o.normalize ~= "each" and o.normalize ~= "all" then
      ctx:fail("--normalize wants each or all, got '%s'", o.normalize)
    end
    local x, info = ctx:input()
    cv.no_grad(function() ctx.net:forward(x) end)
    local layers = {}
    for _, g in ipairs(cv.activations.grids(ctx.net, x, {colormap = o.colormap,
        normalize = o.normalize, scale = o.zoom})) do
      local file = ctx:save_png(g.image, g.layer)
      layers[#layers + 1] = {layer = g.layer, type = g.type, blob = g.blob, shape = g.shape,
                             file = file}
      ctx:say("%-10s %-12s %-12s %s", g.layer, g.type, table.concat(g.shape, "x"), file)
    end
    ctx:save_json{input = info.source, layers = layers}
  end,
}
