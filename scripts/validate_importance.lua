--- Is the report's importance right? For every filter of the chosen layers,
-- the oracle -- the true damage of removing it alone over a class's images
-- (the rise in mean cross-entropy loss and in error rate) -- against three
-- measures: the report's gradient norm, Taylor |sum(W_f . dz_c/dW_f)| and
-- the weights' L1 norm, by Spearman's rank correlation with the loss rise
-- (and with its size: removing a filter can lower a class's loss as well).
--   build/bin/cnnvis scripts/validate_importance.lua --class 6 [--layers conv1,conv2]
local cv = require "cnnvis"
local imp = require "cnnvis.importance"
local report = require "cnnvis.report"

local MEASURES = {"gradnorm", "taylor", "l1"}
local TITLES = {gradnorm = "gradient norm", taylor = "Taylor |W . dz/dW|", l1 = "L1 of the weights"}

-- Values scaled to 0..1 by their largest (for one scatter of the three).
local function scaled(values)
  local hi = 0
  for _, v in ipairs(values) do hi = math.max(hi, math.abs(v)) end
  local out = {}
  for i, v in ipairs(values) do out[i] = hi > 0 and v / hi or 0 end
  return out
end

local function fmt(r) return r and string.format("%.3f", r) or "n/a" end

require("cnnvis.script").run {
  name = "validate_importance",
  summary = "the oracle (the loss and error rise of removing each filter alone) against the "
    .. "gradient norm, Taylor and L1 measures: Spearman rank correlation per layer",
  options = {
    {"class", "class", "the class (0-based; required)"},
    {"layers", "list", "the Convolution/InnerProduct layers (default: every Convolution)"},
    {"weights-only", "flag", "remove a filter by zeroing its weights alone"},
  },
  main = function(ctx)
    local net, o = ctx.net, ctx.opts
    if o.class == nil then ctx:fail("give the class: --class C (0-based)") end
    local c = imp.check_class(net, o.class, "--class")
    local layers = o.layers
    if not layers then
      layers = {}
      for _, l in ipairs(ctx:layers_of{Convolution = true}) do layers[#layers + 1] = l.name end
    end
    for _, name in ipairs(layers) do imp.check_layer(net, name) end
    local own = ctx:class_images(c)
    local sweep = function(...) return ctx:sweep(...) end
    local t0 = cv.clock()
    local m = imp.importance(net, own, {class = c, layers = layers, taylor = true,
      batch = o.batch, sweep = sweep, label = "measures"})
    local t1 = cv.clock()
    local oracle = imp.oracle(net, own, {class = c, layers = layers, batch = o.batch,
      sweep = sweep, weights_only = o["weights-only"], label = "oracle"})
    local t2 = cv.clock()
    local out = {class = c, images = #own, weights_only = o["weights-only"] or false,
                 seconds = {measures = t1 - t0, oracle = t2 - t1}, layers = {}}
    local rows, filters = {}, 0
    local page = report.new{title = string.format("Filter importance against the oracle, class "
      .. "%d (%s)", c, ctx:class_name(c)), dir = o.out}
    page:section("Spearman rank correlation with the loss rise")
    for _, name in ipairs(layers) do
      local ol = oracle.layers[name]
      local measures = {gradnorm = m.layers[name], taylor = m.taylor[name], l1 = imp.l1(net, name)}
      local rho, rho_abs, size = {}, {}, {}
      for f, v in ipairs(ol.loss) do size[f] = math.abs(v) end
      for _, k in ipairs(MEASURES) do
        rho[k] = imp.spearman(measures[k], ol.loss)
        rho_abs[k] = imp.spearman(measures[k], size)
      end
      out.layers[name] = {oracle = {loss = ol.loss, error = ol.error, base_loss = ol.base_loss,
                                    base_error = ol.base_error},
                          measures = measures, spearman = rho, spearman_abs = rho_abs,
                          spearman_error = {gradnorm = imp.spearman(measures.gradnorm, ol.error),
                                            taylor = imp.spearman(measures.taylor, ol.error),
                                            l1 = imp.spearman(measures.l1, ol.error)}}
      filters = filters + #ol.loss
      rows[#rows + 1] = {name, #ol.loss, fmt(rho.gradnorm), fmt(rho.taylor), fmt(rho.l1),
                         fmt(rho_abs.gradnorm), fmt(rho_abs.taylor), fmt(rho_abs.l1)}
      local series = {}
      for _, k in ipairs(MEASURES) do
        series[#series + 1] = {name = TITLES[k], x = scaled(measures[k]), y = ol.loss}
      end
      local file = ctx:save_svg(cv.plot.scatter{series = series,
        xlabel = "measure / its largest value", ylabel = "rise in mean loss when removed",
        title = string.format("%s: %d filters, class %d", name, #ol.loss, c)}, name .. "_scatter")
      out.layers[name].scatter = file
    end
    local header = {"layer", "filters", "gradient norm", "Taylor", "L1",
                    "gradient norm, |change|", "Taylor, |change|", "L1, |change|"}
    page:table{header = header, rows = rows, caption = string.format("%d images of class %d; "
      .. "against the loss rise, then against its size (a removal can lower the loss too); "
      .. "the oracle of %d filters took %.1f s", #own, c, filters, t2 - t1)}
    for _, name in ipairs(layers) do
      page:section(name, 3)
      page:html(string.format('<img src="%s" alt="%s">', out.layers[name].scatter, name))
    end
    out.html = "index.html"
    page:save()
    local csv = {table.concat(header, ",")}
    for _, r in ipairs(rows) do csv[#csv + 1] = table.concat(r, ",") end
    out.csv = ctx:save_text(table.concat(csv, "\n") .. "\n", "spearman", ".csv")
    ctx:say("class %d (%s), %d images: Spearman of each measure with the loss rise of removing "
      .. "a filter, and with its size", c, ctx:class_name(c), #own)
    ctx:say("  %-8s %7s %9s %7s %7s   %9s %7s %7s", "layer", "filters", "gradnorm", "Taylor",
      "L1", "gradnorm", "Taylor", "L1")
    for _, r in ipairs(rows) do ctx:say("  %-8s %7d %9s %7s %7s   %9s %7s %7s", table.unpack(r)) end
    ctx:say("  measures %.1f s, oracle of %d filters %.1f s", t1 - t0, filters, t2 - t1)
    ctx:say("wrote %s", ctx:save_json(out))
  end,
}
