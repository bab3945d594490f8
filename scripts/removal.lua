--- 3.2.3's node removal: the least and the most important filter of a layer
-- for a class (importance over the class's images), and every class's error
-- rate with none, the least and the most important one removed.
--   build/bin/cnnvis scripts/removal.lua --class 6 --layer conv2 [--weights-only]
local imp = require "cnnvis.importance"
local report = require "cnnvis.report"

local function csv_cell(v)
  v = tostring(v)
  return v:find('[,"\n]') and '"' .. v:gsub('"', '""') .. '"' or v
end

require("cnnvis.script").run {
  name = "removal",
  summary = "3.2.3: error rates per class with the least / the most important filter of a "
    .. "layer for a class removed (weights and bias zeroed)",
  options = {
    {"class", "class", "the class (0-based; required)"},
    {"layer", "string", "a Convolution or InnerProduct layer (required)"},
    {"weights-only", "flag", "zero the weights alone and keep the bias (the report's wording)"},
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
    local least, most = 1, 1
    for f, v in ipairs(values) do
      if v < values[least] then least = f end
      if v > values[most] then most = f end
    end
    local removal = {weights_only = o["weights-only"]}
    local function rates(filters)
      return imp.with_removed(net, o.layer, filters, removal, function()
        return imp.error_rates(net, src.set, {batch = o.batch, sweep = sweep, label = "errors"})
      end)
    end
    local base, low, high = rates({}), rates({least}), rates({most})
    local out = {
      layer = o.layer, class = c, images = #src.set, weights_only = removal.weights_only or false,
      least = {filter = least, importance = values[least]},
      most = {filter = most, importance = values[most]},
      error_rates = {baseline = base.per_class, least_removed = low.per_class,
                     most_removed = high.per_class},
      overall_error = {baseline = base.overall, least_removed = low.overall,
                       most_removed = high.overall},
    }
    -- The report's table: the class first, then every class, then all images.
    local header = {"class", "name", "images", "initial error rate (%)",
      string.format("least important removed, filter %d (%%)", least),
      string.format("most important removed, filter %d (%%)", most)}
    local rows = {}
    local function row(k)
      rows[#rows + 1] = {k, ctx:class_name(k), base.images[k + 1],
        string.format("%.2f", base.per_class[k + 1]), string.format("%.2f", low.per_class[k + 1]),
        string.format("%.2f", high.per_class[k + 1])}
    end
    row(c)
    for k = 0, #base.per_class - 1 do row(k) end
    rows[#rows + 1] = {"all", "", #src.set, string.format("%.2f", base.overall),
      string.format("%.2f", low.overall), string.format("%.2f", high.overall)}
    local csv = {}
    for _, r in ipairs({header, table.unpack(rows)}) do
      local cells = {}
      for i, v in ipairs(r) do cells[i] = csv_cell(v) end
      csv[#csv + 1] = table.concat(cells, ",")
    end
    out.csv = ctx:save_text(table.concat(csv, "\n") .. "\n", "removal", ".csv")
    local page = report.new{title = string.format("Removing filters of %s for class %d (%s)",
      o.layer, c, ctx:class_name(c)), dir = o.out}
    page:section("Error rates")
    page:text(string.format("Importance over %d images of class %d: least important filter %d "
      .. "(%.4g), most important filter %d (%.4g). Removing a filter zeroes its weights%s. "
      .. "The first row is the class itself; error rates over the %s.", #own, c, least,
      values[least], most, values[most], removal.weights_only and "" or " and its bias",
      src.source))
    page:table{header = header, rows = rows}
    out.html = "index.html"
    page:save()
    ctx:say("%s, class %d (%s): least important filter %d (%.4g), most important %d (%.4g)",
      o.layer, c, ctx:class_name(c), least, values[least], most, values[most])
    ctx:say("  error of class %d: %.2f%% as loaded, %.2f%% without filter %d, %.2f%% without "
      .. "filter %d", c, base.per_class[c + 1], low.per_class[c + 1], least,
      high.per_class[c + 1], most)
    ctx:say("  overall error: %.2f%%, %.2f%%, %.2f%%", base.overall, low.overall, high.overall)
    ctx:say("wrote %s", ctx:save_json(out))
  end,
}
