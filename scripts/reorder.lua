--- 3.1.3: orderings of a layer's filters under which neighbours look alike.
-- On a vertical slice of the layer's volume (column --slice of every map: one
-- row per filter): k-means for each --k, the report's "20 x 5" (--fine,
-- --coarse), and PCA; on the whole maps: PCA, the volume reordered, written as
-- NRRD and rendered. Each gets the mean correlation of adjacent rows (or
-- maps) before and after, printed and in DIR/reorder.json.
--   build/bin/cnnvis scripts/reorder.lua --layer conv1 --slice 15
local cv = require "cnnvis"

require("cnnvis.script").run {
  name = "reorder",
  summary = "3.1.3: k-means and PCA reorderings of a layer's filters, with neighbour correlations",
  options = {
    {"layer", "string", "the layer (default: the first Convolution)"},
    {"slice", "count", "the column of every map (1-based, default 15)", default = 15},
    {"k", "list", "k-means cluster counts (default 7,10)", default = {"7", "10"}},
    {"fine", "count", "clusters of the two-level k-means (default 20)", default = 20},
    {"coarse", "count", "clusters of their centroids (default 5)", default = 5},
    {"frames", "count", "turntable frames of the reordered volume (default 12)", default = 12},
    {"size", "count", "frame width and height in pixels (default 512)", default = 512},
  },
  main = function(ctx)
    local o = ctx.opts
    local layer = o.layer and ctx:layer(o.layer, cv.activations.TYPES)
                  or ctx:layers_of({Convolution = true})[1]
    if not layer then ctx:fail("--layer: the net has no Convolution layer") end
    local x, info = ctx:input()
    cv.no_grad(function() ctx.net:forward(x) end)
    local vol = cv.volume.of_blob(ctx.net.blobs[layer.tops[1]])
    local c, h, w = table.unpack(vol:size())
    if o.slice > w then ctx:fail("--slice %d: outside %s's maps of %d columns", o.slice, layer.name, w) end
    local rows = cv.reorder.slice(vol, o.slice) -- c x h
    local ks = {}
    for i, k in ipairs(o.k) do
      ks[i] = math.tointeger(tonumber(k))
      if not ks[i] or ks[i] < 1 or ks[i] > c then
        ctx:fail("--k %s: k-means needs 1 to %d clusters (the slice's rows)", k, c)
      end
    end
    if o.fine > c then ctx:fail("--fine %d: more clusters than the slice's %d rows", o.fine, c) end
    if o.coarse > o.fine then ctx:fail("--coarse %d: more than the %d fine clusters", o.coarse, o.fine) end
    local range = {rows:min():item() + 0.0, rows:max():item()}
    local pic = {range = range, scale = math.max(1, 256 // math.max(c, h))}
    local identity = {}
    for i = 1, c do identity[i] = i end
    -- no correlation (every row constant, as with zero weights) is NaN: null in the JSON
    local NAN = 0 / 0
    local function figure(v) return v and string.format("%.4f", v) or "n/a (constant rows)" end
    local before = cv.reorder.neighbour_correlation(rows).mean or NAN
    local methods = {}
    local function method(name, r, extra)
      local e = extra or {}
      local nc = cv.reorder.neighbour_correlation(rows, r.order)
      e.before, e.after, e.skipped = before, nc.mean or NAN, nc.skipped
      e.order, e.groups = r.order, r.groups
      e.file = ctx:save_png(cv.reorder.picture(rows, r.order, r.groups, pic),
        string.format("%s_slice%d_%s", layer.name, o.slice, name))
      methods[name] = e
      ctx:say("%-14s neighbour correlation %s -> %s", name, figure(before == before and before),
        figure(nc.mean))
    end
    local input = ctx:save_png(cv.reorder.picture(rows, identity, nil, pic),
      string.format("%s_slice%d", layer.name, o.slice))
    for _, k in ipairs(ks) do
      local r = cv.reorder.kmeans(rows, k, {seed = o.seed})
      method("kmeans" .. k, r, {k = k, inertia = r.inertia})
    end
    local r2 = cv.reorder.kmeans2(rows, o.fine, o.coarse, {seed = o.seed})
    method(string.format("kmeans%dx%d", o.fine, o.coarse), r2, {fine = o.fine, coarse = o.coarse,
      fine_groups = r2.fine_groups, inertia = r2.inertia})
    local rp = cv.reorder.pca(rows)
    method("pca", rp, {explained = rp.explained})
    -- whole maps: one row of h * w values per filter
    local maps = vol:view(c, h * w)
    local fp = cv.reorder.pca(maps)
    local reordered = cv.reorder.take(vol, fp.order)
    local frames = {}
    local render = {elevation = 20, width = o.size, height = o.size, range = cv.volume.range(vol, 99.5),
                    opacity = {0.05, 0.6, 0.6}}
    for i, img in ipairs((cv.volume.turntable(reordered, o.frames, render))) do
      frames[i] = ctx:save_png(img, string.format("%s_pca_frame%02d", layer.name, i))
    end
    local fb = cv.reorder.neighbour_correlation(maps)
    local fa = cv.reorder.neighbour_correlation(maps, fp.order)
    methods.filters_pca = {before = fb.mean or NAN, after = fa.mean or NAN, order = fp.order,
      explained = fp.explained, frames = frames, skipped = fa.skipped,
      nrrd = ctx:save_nrrd(reordered, layer.name .. "_pca", cv.volume.nrrd_options())}
    ctx:say("%-14s neighbour correlation %s -> %s (whole maps)", "filters_pca", figure(fb.mean),
      figure(fa.mean))
    ctx:save_json{layer = layer.name, slice = o.slice, shape = {c, h, w}, input = info.source,
      slice_file = input, range = range, methods = methods}
  end,
}
