--- 3.2.3's varying threshold analysis: every filter of a layer whose
-- importance for a class is below a threshold removed together; the class's
-- error and the overall error against the threshold and against the
-- fraction of the layer's filters removed.
--   build/bin/cnnvis scripts/threshold.lua --class 6 --layer conv2 [--thresholds 0.1,0.5,1]
local cv = require "cnnvis"
local imp = require "cnnvis.importance"

-- Thresholds that remove 0, 10, ..., 100% of the filters: the importance
-- values at those ranks (a value removes the filters below it), and one
-- above the largest.
local function default_thresholds(values)
  local sorted = {table.unpack(values)}
  table.sort(sorted)
  local n, out = #sorted, {}
  for k = 0, 9 do
    local t = sorted[k * n // 10 + 1]
    if t ~= out[#out] then out[#out + 1] = t end
  end
  out[#out + 1] = sorted[n] + math.max(math.abs(sorted[n]) * 1e-6, 1e-12)
  return out
end

require("cnnvis.script").run {
  name = "threshold",
  summary = "3.2.3: remove every filter of a layer below an importance threshold; the class's "
    .. "and the overall error against the threshold and the fraction removed",
  options = {
    {"class", "class", "the class (0-based; required)"},
    {"layer", "string", "a Convolution or InnerProduct layer (required)"},
    {"thresholds", "numbers", "the thresholds (default: those removing 0, 10, ..., 100%)"},
    {"weights-only", "flag", "zero the weights alone and keep the bias"},
  },
  main = function(ctx)
    local net, o = ctx.net, ctx.opts
    if o.class == nil then ctx:fail("give the class: --class C (0-based)") end
    if o.layer == nil then ctx:fail("give the layer: --layer NAME") end
    local c = imp.check_class(net, o.class, "--class")
    imp.check_layer(net, o.layer)
    local src = ctx:inputs()
    local own = ctx:class_images(c)
    local sweep = function(...) return ctx:sweep(...) end
    local values = imp.importance(net, own, {class = c, layers = {o.layer}, batch = o.batch,
      sweep = sweep, label = "importance"}).layers[o.layer]
    local r = imp.threshold_sweep(net, src.set, {layer = o.layer, class = c, importance = values,
      thresholds = o.thresholds or default_thresholds(values), batch = o.batch, sweep = sweep,
      weights_only = o["weights-only"], label = "thresholds"})
    local fraction = {}
    for i, n in ipairs(r.removed) do fraction[i] = n / #values end
    local series = {{name = string.format("class %d (%s)", c, ctx:class_name(c)), y = r.class_error},
                    {name = "all classes", y = r.overall_error}}
    local out = {layer = o.layer, class = c, images = #src.set, class_images = #own,
                 thresholds = r.thresholds, removed = r.removed, fraction_removed = fraction,
                 class_error = r.class_error, overall_error = r.overall_error,
                 importance = values, weights_only = o["weights-only"] or false}
    out.plots = {
      threshold = ctx:save_svg(cv.plot.line{x = r.thresholds, series = series, ymin = 0,
        xlabel = "importance threshold", ylabel = "error rate (%)",
        title = string.format("%s: filters below the threshold removed", o.layer)},
        "error_vs_threshold"),
      fraction = ctx:save_svg(cv.plot.line{x = fraction, series = series, ymin = 0,
        xlabel = "fraction of the filters removed", ylabel = "error rate (%)",
        title = string.format("%s: the least important filters removed", o.layer)},
        "error_vs_fraction"),
    }
    ctx:say("%s, class %d (%s): threshold, filters removed, class error, overall error",
      o.layer, c, ctx:class_name(c))
    for i, t in ipairs(r.thresholds) do
      ctx:say("  %10.4g  %4d / %d  %6.2f%%  %6.2f%%", t, r.removed[i], #values,
        r.class_error[i], r.overall_error[i])
    end
    ctx:say("wrote %s", ctx:save_json(out))
  end,
}
