--- Pictures of tensors: image grids and heatmaps, returned as 3 x H x W
-- tensors of whole numbers 0..255, ready for `cv.image.save(t, "x.png")`.
-- The pixel loops are in C (`cnnvis.core`.render); the options live here.
local core = require "cnnvis.core"
local render = core.render

local M = {}

--- The colormaps by name: "gray", "viridis" and "diverging" (blue, white,
-- red; for signed values such as gradients, centred on 0).
M.colormaps = {"gray", "viridis", "diverging"}

local function fail(fn, fmt, ...)
  error("vis." .. fn .. ": " .. string.format(fmt, ...), 0)
end

local function shape_str(t)
  local s = t:size()
  return #s == 0 and "scalar" or table.concat(s, "x")
end

-- Refuses options that the function does not know (a typo would otherwise
-- be silently ignored).
local function check_opts(fn, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(fn, "options must be a table, got %s", type(opts)) end
  for k in pairs(opts) do
    if not known[k] then fail(fn, "unknown option '%s'", tostring(k)) end
  end
  return opts
end

local function check_int(fn, name, v, default, min)
  if v == nil then return default end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
    fail(fn, "%s must be an integer, got %s", name, tostring(v))
  end
  if v < min then fail(fn, "%s must be >= %d, got %d", name, min, v) end
  return math.tointeger(v)
end

local function check_colormap(fn, name, default)
  name = name or default
  for _, m in ipairs(M.colormaps) do if m == name then return name end end
  fail(fn, "unknown colormap '%s' (gray, viridis or diverging)", tostring(name))
end

-- A colour given as {r, g, b} or one gray level.
local function check_color(fn, name, v, default)
  if v == nil then return default end
  if type(v) == "number" then return {v, v, v} end
  if type(v) == "table" and #v == 3 then return v end
  fail(fn, "%s must be {r, g, b} or a number, got %s", name, tostring(v))
end

-- The pictures as N x C x H x W, C = 1 or 3.
local function as_items(fn, t)
  if not core.is_tensor(t) then fail(fn, "expected a tensor, got %s", type(t)) end
  local s = t:size()
  t = t:detach()
  if #s == 2 then return t:reshape(1, 1, s[1], s[2]) end
  if #s == 3 then return t:reshape(s[1], 1, s[2], s[3]) end
  if #s == 4 and (s[2] == 1 or s[2] == 3) then return t end
  fail(fn, "expected H x W, N x H x W or N x C x H x W with C = 1 or 3, got %s",
    shape_str(t))
end

-- Per-item limits {lo}, {hi} for a normalize option.
local function limits(fn, x, normalize, colormap)
  local n = x:size(1)
  local lo, hi = {}, {}
  if normalize == "none" then
    for i = 1, n do lo[i], hi[i] = 0, 255 end
  elseif type(normalize) == "table" then
    if type(normalize[1]) ~= "number" or type(normalize[2]) ~= "number" then
      fail(fn, "normalize = {lo, hi} needs two numbers")
    end
    for i = 1, n do lo[i], hi[i] = normalize[1], normalize[2] end
  elseif normalize == "each" or normalize == "all" then
    lo, hi = render.range(x)
    if normalize == "all" then
      local a, b = math.huge, -math.huge
      for i = 1, n do a, b = math.min(a, lo[i]), math.max(b, hi[i]) end
      for i = 1, n do lo[i], hi[i] = a, b end
    end
    if colormap == "diverging" then -- centred: 0 is white
      for i = 1, n do
        local m = math.max(math.abs(lo[i]), math.abs(hi[i]))
        lo[i], hi[i] = -m, m
      end
    end
  else
    fail(fn, "normalize must be \"each\", \"all\", \"none\" or {lo, hi}, got %s",
      tostring(normalize))
  end
  return lo, hi
end

--- Colours N pictures: N x 3 x H x W, 0..255 (see grid for the options
-- normalize and colormap).
function M.colorize(t, opts)
  opts = check_opts("colorize", opts, {normalize = true, colormap = true})
  local x = as_items("colorize", t)
  local colormap = check_colormap("colorize", opts.colormap, "gray")
  local lo, hi = limits("colorize", x, opts.normalize or "each", colormap)
  return render.colorize(x, colormap, lo, hi)
end

local grid_opts = {cols = true, pad = true, pad_color = true, normalize = true,
                   colormap = true, scale = true, numbers = true}

--- Lays out N pictures (N x H x W, or N x C x H x W with C = 1 or 3) as one
-- 3 x H' x W' picture.
-- @param opts cols (default: a square-ish grid), pad (pixels between and
--   around, 1), pad_color ({r, g, b} or a gray level, 255), normalize
--   ("each": every picture's own min..max, "all": one range, "none": values
--   are 0..255 already, or {lo, hi}), colormap ("gray", "viridis",
--   "diverging": then the range is centred on 0), scale (each pixel as a
--   scale x scale block, for small maps), numbers (true: each picture's
--   1-based number above it).
-- @usage cv.image.save(cv.vis.grid(net.params.conv1.weight, {scale = 4}), "conv1.png")
function M.grid(t, opts)
  opts = check_opts("grid", opts, grid_opts)
  local x = as_items("grid", t)
  local n = x:size(1)
  if n == 0 then fail("grid", "no pictures to lay out (%s)", shape_str(t)) end
  local cols = check_int("grid", "cols", opts.cols, math.ceil(math.sqrt(n)), 1)
  local pad = check_int("grid", "pad", opts.pad, 1, 0)
  local scale = check_int("grid", "scale", opts.scale, 1, 1)
  local pad_color = check_color("grid", "pad_color", opts.pad_color, {255, 255, 255})
  local colormap = check_colormap("grid", opts.colormap, "gray")
  local lo, hi = limits("grid", x, opts.normalize or "each", colormap)
  local img = render.tile(render.colorize(x, colormap, lo, hi), cols, pad, pad_color, scale)
  if opts.numbers then img = M.number_cells(img, n, cols, pad, x:size(3) * scale, x:size(4) * scale, pad_color) end
  return img
end

local INK = {40, 40, 40}

--- A grid picture (from render.tile: n cells of h x w pixels in rows of
-- cols, pad pixels apart) with a band above each row of cells where each
-- cell's number (1-based) is written: the 1-based filter numbers of a layer.
function M.number_cells(img, n, cols, pad, h, w, band_color)
  local _, th = render.text_size("0", 1)
  local W = img:size(3)
  local rows = math.ceil(n / cols)
  local pieces = {}
  for r = 0, rows - 1 do
    local band = core.zeros(3, th + 2, W)
    for c = 1, 3 do band[c]:fill_(band_color[c]) end
    for c = 0, cols - 1 do
      local k = r * cols + c + 1
      if k <= n then render.text(band, tostring(k), pad + c * (w + pad) + 1, 2, 1, false, INK) end
    end
    pieces[#pieces + 1] = band
    -- the pad above the row's cells, then the cells
    pieces[#pieces + 1] = img[{{}, {r * (h + pad) + 1, (r + 1) * (h + pad)}}]
  end
  pieces[#pieces + 1] = img[{{}, {rows * (h + pad) + 1, img:size(2)}}]
  return core.cat(pieces, 2)
end

--- Draws text on a picture (3 x H x W) in place, its top-left corner at
-- pixel (x, y), 1-based. opts: scale (1), vertical (false), color ({40, 40, 40}).
-- The font is 5x7 pixels, upper case.
function M.text(img, s, x, y, opts)
  opts = check_opts("text", opts, {scale = true, vertical = true, color = true})
  render.text(img, tostring(s), x, y, check_int("text", "scale", opts.scale, 1, 1),
    opts.vertical, check_color("text", "color", opts.color, INK))
  return img
end

-- Row and column labels from opts.labels: a list (both), or {rows =, cols =}.
local function heat_labels(labels, r, k)
  if labels == nil then return nil, nil end
  if type(labels) ~= "table" then fail("heatmap", "labels must be a table") end
  local rows, cols = labels.rows, labels.cols
  if rows == nil and cols == nil then rows, cols = labels, labels end
  if rows and #rows ~= r then fail("heatmap", "%d row labels for %d rows", #rows, r) end
  if cols and #cols ~= k then fail("heatmap", "%d column labels for %d columns", #cols, k) end
  return rows, cols
end

local function max_text_width(list)
  local w = 0
  for _, s in ipairs(list or {}) do w = math.max(w, (render.text_size(tostring(s)))) end
  return w
end

-- Writes each value in its cell, dark on light colours and light on dark.
-- texts: a 2-d table of strings to write instead of the formatted values.
local function write_values(img, values, fmt, texts, top, left, cell, colormap, lo, hi)
  for i, row in ipairs(values) do
    for j, v in ipairs(row) do
      local s = texts and tostring(texts[i][j]) or string.format(fmt, v)
      local w, h = render.text_size(s)
      local u = hi > lo and (v - lo) / (hi - lo) or (colormap == "diverging" and 0.5 or 0)
      local r, g, b = render.color(colormap, u)
      local ink = (0.299 * r + 0.587 * g + 0.114 * b) > 140 and {0, 0, 0} or {255, 255, 255}
      render.text(img, s, left + (j - 1) * cell + (cell - w) // 2 + 1,
        top + (i - 1) * cell + (cell - h) // 2 + 1, 1, false, ink)
    end
  end
end

local heat_opts = {cell = true, colormap = true, range = true, labels = true,
                   values = true}

--- A 2-d tensor (rows x columns of scores, a confusion matrix) as coloured
-- cells: a 3 x H x W picture.
-- @param opts cell (pixels per cell, 20), colormap ("viridis"; "diverging"
--   centres on 0), range ({lo, hi}; default the data's min..max), labels (a
--   list for rows and columns, or {rows = {...}, cols = {...}}), values (true
--   or a format such as "%.2f": writes each value in its cell; or a table of
--   texts, rows x columns, to write instead, e.g. counts over rates).
function M.heatmap(t, opts)
  opts = check_opts("heatmap", opts, heat_opts)
  if not core.is_tensor(t) or t:dim() ~= 2 then
    fail("heatmap", "expected a 2-d tensor, got %s",
      core.is_tensor(t) and shape_str(t) or type(t))
  end
  local r, k = t:size(1), t:size(2)
  if r == 0 or k == 0 then fail("heatmap", "no cells to draw (%s)", shape_str(t)) end
  local cell = check_int("heatmap", "cell", opts.cell, 20, 1)
  local colormap = check_colormap("heatmap", opts.colormap, "viridis")
  local x = as_items("heatmap", t)
  local lo, hi = limits("heatmap", x, opts.range or "each", colormap)
  local cells = render.tile(render.colorize(x, colormap, lo, hi), 1, 0, {255, 255, 255}, cell)
  local rows, cols = heat_labels(opts.labels, r, k)
  local left = rows and max_text_width(rows) + 8 or 0
  local top = cols and max_text_width(cols) + 8 or 0
  local img = cells
  if rows or cols then
    img = core.full(3, top + r * cell, left + k * cell, 255)
    img:narrow(2, top + 1, r * cell):narrow(3, left + 1, k * cell):copy_(cells)
    for i, s in ipairs(rows or {}) do
      local w, h = render.text_size(tostring(s))
      render.text(img, tostring(s), left - 4 - w + 1, top + (i - 1) * cell + (cell - h) // 2 + 1,
        1, false, INK)
    end
    for j, s in ipairs(cols or {}) do
      local w, h = render.text_size(tostring(s))
      render.text(img, tostring(s), left + (j - 1) * cell + (cell - h) // 2 + 1, top - 4 - w + 1,
        1, true, INK)
    end
  end
  if opts.values then
    local fmt = type(opts.values) == "string" and opts.values or "%.3g"
    local texts = type(opts.values) == "table" and opts.values or nil
    if texts and (#texts ~= r or type(texts[1]) ~= "table" or #texts[1] ~= k) then
      fail("heatmap", "values must be a format, true or a %d x %d table of texts", r, k)
    end
    write_values(img, t:totable(), fmt, texts, top, left, cell, colormap, lo[1], hi[1])
  end
  return img
end

return M
