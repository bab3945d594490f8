--- Orderings of a layer's filters under which neighbours look alike (the
-- report's 3.1.3), and the number that says whether they do: the mean
-- correlation of adjacent rows.
--
--   local rows = cv.reorder.slice(vol, 15)            -- C x H: column 15 of every map
--   local r = cv.reorder.kmeans(rows, 7)              -- {order, groups, inertia}
--   print(cv.reorder.neighbour_correlation(rows, r.order).mean)
--   local p = cv.reorder.pca(rows)                    -- rows by first principal coordinate
--   local f = cv.reorder.pca(vol:view(C, -1))         -- whole maps (filter-output reordering)
local core = require "cnnvis.core"
local vis = require "cnnvis.vis"

local M = {}

local function fail(fn, fmt, ...)
  error("reorder." .. fn .. ": " .. string.format(fmt, ...), 0)
end

--- Column s (1-based) of every map of a C x H x W volume: a C x H matrix,
-- one row per filter.
function M.slice(vol, s)
  local size = vol:size()
  if #size ~= 3 then fail("slice", "expected a C x H x W volume, got %s", table.concat(size, "x")) end
  if math.type(s) ~= "integer" or s < 1 or s > size[3] then
    fail("slice", "slice %s is outside the maps' %d columns", tostring(s), size[3])
  end
  return vol[{{}, {}, s}]:contiguous()
end

--- The mean Pearson correlation of adjacent rows of an n x d matrix, taken
-- in `order` (a list of 1-based row numbers; default 1..n). Pairs where a
-- row is constant (a dead filter) have no correlation and are skipped.
-- Returns {mean =, pairs = (used), skipped =}; mean is nil when no pair counts.
function M.neighbour_correlation(rows, order)
  local t = rows:totable()
  local n = #t
  order = order or {}
  if #order == 0 then for i = 1, n do order[i] = i end end
  local stats = {}
  local function stat(i)
    if stats[i] then return stats[i] end
    local r, m = t[i], 0
    for j = 1, #r do m = m + r[j] end
    m = m / #r
    local c, ss = {}, 0
    for j = 1, #r do
      c[j] = r[j] - m
      ss = ss + c[j] * c[j]
    end
    stats[i] = {c = c, norm = math.sqrt(ss)}
    return stats[i]
  end
  local sum, pairs, skipped = 0, 0, 0
  for k = 1, #order - 1 do
    local a, b = stat(order[k]), stat(order[k + 1])
    if a.norm > 0 and b.norm > 0 then
      local dot = 0
      for j = 1, #a.c do dot = dot + a.c[j] * b.c[j] end
      sum, pairs = sum + dot / (a.norm * b.norm), pairs + 1
    else
      skipped = skipped + 1
    end
  end
  return {mean = pairs > 0 and sum / pairs or nil, pairs = pairs, skipped = skipped}
end

-- The positions 1..#keys sorted by keys (ties: the lower position first).
local function argsort(keys)
  local idx = {}
  for i = 1, #keys do idx[i] = i end
  table.sort(idx, function(a, b)
    if keys[a] ~= keys[b] then return keys[a] < keys[b] end
    return a < b
  end)
  return idx
end

-- The first principal coordinate of each row (all 0 for fewer than 2 rows).
local function first_coordinate(x)
  local n = x:size(1)
  if n < 2 then return {0} end
  return core.pca(x, {k = 1}).projection:view(-1):totable()
end

--- Rows in increasing order of their first principal coordinate.
-- @return {order = 1-based rows, coordinate = each row's coordinate (by row),
--   explained = the component's variance}
function M.pca(rows)
  local r = core.pca(rows, {k = 1})
  local coord = r.projection:view(-1):totable()
  return {order = argsort(coord), coordinate = coord, explained = r.explained[1]:item(),
          component = r.components[1]}
end

-- Clusters (lists of rows, each in increasing row order) of an assignment.
local function members(assign, k)
  local groups = {}
  for c = 1, k do groups[c] = {} end
  for i, c in ipairs(assign) do table.insert(groups[c], i) end
  return groups
end

--- Rows grouped by k-means cluster: clusters in order of their centroids'
-- first principal coordinate (so that similar clusters sit side by side),
-- rows within a cluster in their own order.
-- @param opts seed, restarts, iters (as cv.kmeans)
-- @return {order =, groups = {sizes in order}, inertia =, assign =}
function M.kmeans(rows, k, opts)
  local km = core.kmeans(rows, k, opts)
  local groups = members(km.assign, k)
  local order, sizes = {}, {}
  for _, c in ipairs(argsort(first_coordinate(km.centroids))) do
    for _, i in ipairs(groups[c]) do order[#order + 1] = i end
    sizes[#sizes + 1] = #groups[c]
  end
  return {order = order, groups = sizes, inertia = km.inertia, assign = km.assign}
end

--- The report's "20 x 5": k-means into fine clusters, whose centroids are
-- clustered again into coarse ones; rows grouped by coarse cluster, then by
-- fine cluster, each level in order of centroids' first principal coordinate.
-- @return {order =, groups = {rows per coarse cluster}, fine_groups =, inertia =
--   (of the fine clustering), coarse_inertia =}
function M.kmeans2(rows, fine, coarse, opts)
  local km = core.kmeans(rows, fine, opts)
  if coarse > fine then
    fail("kmeans2", "%d coarse clusters of %d fine ones", coarse, fine)
  end
  local top = core.kmeans(km.centroids, coarse, opts)
  local fine_members = members(km.assign, fine)
  local fine_rank = argsort(first_coordinate(km.centroids))
  local supers = members(top.assign, coarse)
  local order, sizes, fine_sizes = {}, {}, {}
  local pos = {}
  for rank, c in ipairs(fine_rank) do pos[c] = rank end
  for _, s in ipairs(argsort(first_coordinate(top.centroids))) do
    local list = supers[s]
    table.sort(list, function(a, b) return pos[a] < pos[b] end)
    local count = 0
    for _, c in ipairs(list) do
      for _, i in ipairs(fine_members[c]) do order[#order + 1] = i end
      count = count + #fine_members[c]
      fine_sizes[#fine_sizes + 1] = #fine_members[c]
    end
    sizes[#sizes + 1] = count
  end
  return {order = order, groups = sizes, fine_groups = fine_sizes, inertia = km.inertia,
          coarse_inertia = top.inertia}
end

--- The rows of x (n x ...) in `order`, as one new tensor.
function M.take(x, order)
  local parts = {}
  for k, i in ipairs(order) do parts[k] = x[i] end
  return core.stack(parts)
end

--- A picture of an n x d matrix, rows in `order`, with white bars between
-- groups (sizes in order, optional): 3 x H x W.
-- @param opts colormap (viridis), range ({lo, hi}; default the data's),
--   scale (pixels per value, default 4), bar (bar height in pixels, default 2)
function M.picture(rows, order, groups, opts)
  opts = opts or {}
  local scale = opts.scale or 4
  local bar = opts.bar or 2
  local range = opts.range or {rows:min():item(), rows:max():item()}
  if not (range[2] > range[1]) then range = {range[1], range[1] + 1} end
  local rgb = vis.grid(M.take(rows, order):unsqueeze(1), {normalize = range,
    colormap = opts.colormap or "viridis", pad = 0, scale = scale})
  if not groups or #groups < 2 then return rgb end
  local w = rgb:size(3)
  local white = core.zeros(3, bar, w) + 255
  local parts, at = {}, 0
  for g, size in ipairs(groups) do
    if size > 0 then
      parts[#parts + 1] = rgb[{{}, {at * scale + 1, (at + size) * scale}}]
      at = at + size
      if g < #groups then parts[#parts + 1] = white end
    end
  end
  return core.cat(parts, 2)
end

return M
