--- 3.2.3: the importance of every filter for a class, averaged over the
-- images of a class (the mean over the images of ||d z_c / d W_f||, z_c the
-- class's neuron of the last InnerProduct layer), shown as grids.
--   build/bin/cnnvis scripts/importance.lua --class 6 [--input-class 7] [--compare]
local cv = require "cnnvis"
local imp = require "cnnvis.importance"

-- Filter values as a rows x cols picture, on the range lo..hi.
local function grid_picture(values, name, range)
  local rows, cols = imp.grid_shape(#values, {caffenet_conv1 = name == "conv1"})
  local t = cv.tensor(values):view(rows, cols)
  local cell = math.max(4, math.min(24, 480 // cols))
  return cv.vis.heatmap(t, {cell = cell, range = range})
end

local function min_max(...)
  local lo, hi = math.huge, -math.huge
  for _, list in ipairs{...} do
    for _, v in ipairs(list) do lo, hi = math.min(lo, v), math.max(hi, v) end
  end
  if hi <= lo then hi = lo + 1 end
  return {lo, hi}
end

local function mean(list)
  local s = 0.0
  for _, v in ipairs(list) do s = s + v end
  return s / #list
end

require("cnnvis.script").run {
  name = "importance",
  summary = "3.2.3: the importance of every conv/fc filter for a class (mean over a class's "
    .. "images of the gradient norm of the class neuron w.r.t. the filter), as grids",
  options = {
    {"class", "class", "the class whose neuron is differentiated (0-based; required)"},
    {"input-class", "class", "the class whose images are averaged over (default: --class)"},
    {"layers", "list", "the Convolution/InnerProduct layers (default: all of them)"},
    {"compare", "flag", "also over the images of every other class"},
  },
  main = function(ctx)
    local net, o = ctx.net, ctx.opts
    if o.class == nil then ctx:fail("give the class: --class C (0-based)") end
    local c = imp.check_class(net, o.class, "--class")
    local c2 = imp.check_class(net, o["input-class"] or c, "--input-class")
    local layers = o.layers or imp.filter_layers(net)
    for _, name in ipairs(layers) do imp.check_layer(net, name) end
    local src = ctx:inputs()
    local function over(k)
      local set = ctx:class_images(k)
      return imp.importance(net, set, {class = c, layers = layers, batch = o.batch,
        label = "class " .. k, sweep = function(...) return ctx:sweep(...) end})
    end
    local r = over(c2)
    local out = {class = c, input_class = c2, images = r.images, layers = r.layers, grids = {},
                 grid_shapes = {}}
    local others, other_mean = {}, {}
    if o.compare then
      out.compare = {}
      for k = 0, imp.class_count(net) - 1 do
        if k ~= c2 and #src.set:of_class(k) > 0 then
          local rk = over(k)
          out.compare[#out.compare + 1] = {input_class = k, images = rk.images, layers = rk.layers}
          others[#others + 1] = rk
        end
      end
    end
    ctx:say("importance for class %d (%s), over %d images of class %d (%s)", c,
      ctx:class_name(c), r.images, c2, ctx:class_name(c2))
    for _, name in ipairs(layers) do
      local values = r.layers[name]
      local range = min_max(values)
      local line = string.format("  %-10s %4d filters  mean %.4g  min %.4g  max %.4g", name,
        #values, mean(values), range[1], range[2])
      if #others > 0 then
        local avg = {}
        for f = 1, #values do
          local s = 0.0
          for _, rk in ipairs(others) do s = s + rk.layers[name][f] end
          avg[f] = s / #others
        end
        other_mean[name] = avg
        range = min_max(values, avg)
        line = line .. string.format("  other classes' images: mean %.4g", mean(avg))
        out.grids[name .. "_other"] = ctx:save_png(grid_picture(avg, name, range),
          name .. "_other_classes")
      end
      out.grids[name] = ctx:save_png(grid_picture(values, name, range), name)
      out.grid_shapes[name] = {imp.grid_shape(#values, {caffenet_conv1 = name == "conv1"})}
      ctx:say("%s", line)
    end
    out.other_classes_mean = #others > 0 and other_mean or nil
    ctx:say("wrote %s", ctx:save_json(out))
  end,
}
