--- SVG plots: line charts, bar charts and scatter plots as self-contained SVG text.
-- `cv.plot.line{...}` and `cv.plot.bar{...}` return a plot object:
-- `tostring(p)` or `p.svg` is the text, `p:save("x.svg")` writes it.
local M = {}

-- Tableau's 10 categorical colours: distinct, readable on white.
M.palette = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
             "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

local Plot = {}
Plot.__index = Plot
Plot.__tostring = function(p) return p.svg end

--- Writes the SVG to path.
function Plot:save(path)
  local f, msg = io.open(path, "w")
  if not f then error("plot: cannot write " .. tostring(msg), 0) end
  f:write(self.svg)
  f:close()
  return self
end

local function fail(fn, fmt, ...)
  error("plot." .. fn .. ": " .. string.format(fmt, ...), 0)
end

--- Text made safe for SVG/XML content and attribute values.
function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                       ['"'] = "&quot;", ["'"] = "&#39;"}))
end
local esc = M.escape

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- Round tick positions (steps of 1, 2 or 5 times a power of 10) covering lo..hi.
local function ticks(lo, hi, count)
  if hi <= lo then lo, hi = lo - 1, hi + 1 end
  local raw = (hi - lo) / (count or 5)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs({1, 2, 5, 10}) do
    if m * mag >= raw then step = m * mag break end
  end
  local first, last = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
  local out = {}
  for v = first, last + step / 2, step do out[#out + 1] = math.abs(v) < step * 1e-9 and 0 or v end
  return out, step
end

local function num(v, step)
  if step and step >= 1 and v == math.floor(v) then return string.format("%d", v) end
  local s = string.format("%.4g", v)
  return s
end

-- The frame every plot shares: canvas, title, axis labels, y grid and ticks.
local function frame(o, ylo, yhi)
  local W, H = o.width or 640, o.height or 400
  local m = {l = 64, r = 16 + (o.legend_width or 0), t = o.title and 40 or 16, b = o.bottom or 56}
  local yt = ticks(ylo, yhi)
  local y0, y1 = yt[1], yt[#yt]
  local f = {W = W, H = H, m = m, x0 = m.l, x1 = W - m.r, yb = H - m.b, yt = m.t}
  function f.y(v) return f.yb - (v - y0) / (y1 - y0) * (f.yb - f.yt) end
  local out = {string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" ' ..
    'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">', W, H, W, H),
    string.format('<rect width="%d" height="%d" fill="white"/>', W, H)}
  if o.title then
    out[#out + 1] = string.format('<text x="%g" y="24" text-anchor="middle" font-size="15" ' ..
      'font-weight="bold">%s</text>', W / 2, esc(o.title))
  end
  for _, v in ipairs(yt) do
    out[#out + 1] = string.format('<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/>',
      f.x0, f.x1, f.y(v), f.y(v))
    out[#out + 1] = string.format('<text x="%g" y="%.1f" text-anchor="end">%s</text>',
      f.x0 - 6, f.y(v) + 4, esc(num(v, yt[2] and yt[2] - yt[1])))
  end
  out[#out + 1] = string.format('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#333"/>',
    f.x0, f.x1, f.yb, f.yb)
  out[#out + 1] = string.format('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#333"/>',
    f.x0, f.x0, f.yt, f.yb)
  if o.xlabel then
    out[#out + 1] = string.format('<text x="%g" y="%g" text-anchor="middle">%s</text>',
      (f.x0 + f.x1) / 2, H - 8, esc(o.xlabel))
  end
  if o.ylabel then
    out[#out + 1] = string.format('<text transform="translate(16 %g) rotate(-90)" ' ..
      'text-anchor="middle">%s</text>', (f.yt + f.yb) / 2, esc(o.ylabel))
  end
  f.out = out
  return f
end

-- A legend at the right when any series has a name.
local function legend(f, series)
  local named = false
  for _, s in ipairs(series) do named = named or s.name ~= nil end
  if not named then return end
  for i, s in ipairs(series) do
    local y = f.yt + 6 + (i - 1) * 18
    f.out[#f.out + 1] = string.format('<rect x="%g" y="%g" width="12" height="12" fill="%s"/>',
      f.x1 + 12, y, s.color)
    f.out[#f.out + 1] = string.format('<text x="%g" y="%g">%s</text>', f.x1 + 30, y + 10,
      esc(s.name or ("series " .. i)))
  end
end

local function legend_width(series)
  local w = 0
  for _, s in ipairs(series) do if s.name then w = math.max(w, #tostring(s.name)) end end
  return w > 0 and 40 + 7 * w or 0
end

-- Checks series = {{name =, y = {...}}, ...} and gives each its colour.
local function check_series(fn, series, n)
  if type(series) ~= "table" or #series == 0 then
    fail(fn, "series must be a list of {name =, y = {...}}")
  end
  local lo, hi = math.huge, -math.huge
  for i, s in ipairs(series) do
    if type(s) ~= "table" or type(s.y) ~= "table" then
      fail(fn, "series %d has no list y", i)
    end
    if n and #s.y ~= n then
      fail(fn, "series '%s' has %d values for %d x positions", tostring(s.name or i), #s.y, n)
    end
    s.color = s.color or M.palette[(i - 1) % #M.palette + 1]
    for _, v in ipairs(s.y) do
      if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
    end
  end
  if lo > hi then lo, hi = 0, 1 end
  return lo, hi
end

local line_keys = {x = true, series = true, xlabel = true, ylabel = true, title = true,
                   width = true, height = true, ymin = true, ymax = true}

--- A line chart.
-- @param o x (list of numbers), series ({{name =, y = {...}, color =}, ...}),
--   xlabel, ylabel, title, width (640), height (400), ymin, ymax (extend the
--   y range, e.g. ymin = 0). Values that are NaN or infinite break the line.
-- @usage cv.plot.line{x = {1, 2, 3}, series = {{name = "loss", y = {3, 2, 1.5}}}}:save("loss.svg")
function M.line(o)
  if type(o) ~= "table" then fail("line", "expected a table of options") end
  for k in pairs(o) do if not line_keys[k] then fail("line", "unknown option '%s'", tostring(k)) end end
  local x = o.x
  if type(x) ~= "table" or #x == 0 then fail("line", "x must be a non-empty list of numbers") end
  for i, v in ipairs(x) do
    if not finite(v) then fail("line", "x[%d] is not a finite number", i) end
  end
  local lo, hi = check_series("line", o.series, #x)
  lo, hi = math.min(lo, o.ymin or lo), math.max(hi, o.ymax or hi)
  o.legend_width = legend_width(o.series)
  local f = frame(o, lo, hi)
  local xt = ticks(math.min(table.unpack(x)), math.max(table.unpack(x)))
  local xa, xb = xt[1], xt[#xt]
  local function px(v) return f.x0 + (v - xa) / (xb - xa) * (f.x1 - f.x0) end
  for _, v in ipairs(xt) do
    f.out[#f.out + 1] = string.format('<text x="%.1f" y="%g" text-anchor="middle">%s</text>',
      px(v), f.yb + 18, esc(num(v, xt[2] and xt[2] - xt[1])))
  end
  for _, s in ipairs(o.series) do
    local pts, runs = {}, {}
    for i, v in ipairs(s.y) do
      if finite(v) then pts[#pts + 1] = string.format("%.1f,%.1f", px(x[i]), f.y(v))
      elseif #pts > 0 then runs[#runs + 1], pts = pts, {} end
    end
    if #pts > 0 then runs[#runs + 1] = pts end
    for _, r in ipairs(runs) do
      f.out[#f.out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="2" ' ..
        'points="%s"/>', s.color, table.concat(r, " "))
    end
    if #x <= 40 then
      for i, v in ipairs(s.y) do
        if finite(v) then
          f.out[#f.out + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>',
            px(x[i]), f.y(v), s.color)
        end
      end
    end
  end
  legend(f, o.series)
  f.out[#f.out + 1] = "</svg>\n"
  return setmetatable({svg = table.concat(f.out, "\n")}, Plot)
end

local bar_keys = {labels = true, series = true, values = true, xlabel = true, ylabel = true,
                  title = true, width = true, height = true, ymax = true}

--- A bar chart: one bar per label, or groups of bars with several series.
-- @param o labels (list of names), values (one list) or series ({{name =,
--   y = {...}}, ...}), xlabel, ylabel, title, width, height, ymax.
-- @usage cv.plot.bar{labels = names, values = errors, ylabel = "error rate (%)"}
function M.bar(o)
  if type(o) ~= "table" then fail("bar", "expected a table of options") end
  for k in pairs(o) do if not bar_keys[k] then fail("bar", "unknown option '%s'", tostring(k)) end end
  local labels = o.labels
  if type(labels) ~= "table" or #labels == 0 then fail("bar", "labels must be a non-empty list") end
  local series = o.series or (o.values and {{y = o.values}})
  local lo, hi = check_series("bar", series, #labels)
  lo, hi = math.min(lo, 0), math.max(hi, 0, o.ymax or 0)
  -- Long labels are cut (the full text stays in each bar's tooltip).
  local shown, longest = {}, 0
  for i, l in ipairs(labels) do
    l = tostring(l)
    -- cut on a character boundary (a trailing partial UTF-8 sequence goes)
    shown[i] = #l > 24 and (l:sub(1, 23):gsub("[\xC0-\xFF][\x80-\xBF]*$", "") .. "…") or l
    longest = math.max(longest, math.min(#l, 24))
  end
  local slanted = longest * 7 > ((o.width or 640) - 100) / #labels
  o.bottom = slanted and 40 + longest * 5 or 56
  o.legend_width = legend_width(series)
  local f = frame(o, lo, hi)
  local slot = (f.x1 - f.x0) / #labels
  local bw = slot * 0.8 / #series
  for i, l in ipairs(labels) do
    local cx = f.x0 + (i - 0.5) * slot
    for k, s in ipairs(series) do
      local v = s.y[i]
      if finite(v) then
        local ya, yb = f.y(math.max(v, 0)), f.y(math.min(v, 0))
        f.out[#f.out + 1] = string.format('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" ' ..
          'fill="%s"><title>%s: %s</title></rect>', cx - slot * 0.4 + (k - 1) * bw, ya, bw,
          yb - ya, s.color, esc(l), esc(num(v)))
      end
    end
    if slanted then
      f.out[#f.out + 1] = string.format('<text transform="translate(%.1f %g) rotate(-40)" ' ..
        'text-anchor="end">%s</text>', cx + 4, f.yb + 14, esc(shown[i]))
    else
      f.out[#f.out + 1] = string.format('<text x="%.1f" y="%g" text-anchor="middle">%s</text>',
        cx, f.yb + 18, esc(shown[i]))
    end
  end
  legend(f, series)
  f.out[#f.out + 1] = "</svg>\n"
  return setmetatable({svg = table.concat(f.out, "\n")}, Plot)
end

local scatter_keys = {series = true, xlabel = true, ylabel = true, title = true, width = true,
                      height = true, diagonal = true}

--- A scatter plot: points (x, y) of one or more series, both axes on one
-- range when o.diagonal is set, with the line y = x drawn (agreement plots).
-- @param o series ({{name =, x = {...}, y = {...}, color =, labels = {...}}, ...};
--   labels: each dot's tooltip), xlabel, ylabel, title, width (480),
--   height (480), diagonal. Points that are NaN or infinite are left out.
-- @usage cv.plot.scatter{series = {{x = analytic, y = numeric}}, diagonal = true}
function M.scatter(o)
  if type(o) ~= "table" then fail("scatter", "expected a table of options") end
  for k in pairs(o) do
    if not scatter_keys[k] then fail("scatter", "unknown option '%s'", tostring(k)) end
  end
  if type(o.series) ~= "table" or #o.series == 0 then
    fail("scatter", "series must be a list of {name =, x = {...}, y = {...}}")
  end
  local xlo, xhi, ylo, yhi = math.huge, -math.huge, math.huge, -math.huge
  for i, s in ipairs(o.series) do
    if type(s) ~= "table" or type(s.x) ~= "table" or type(s.y) ~= "table" then
      fail("scatter", "series %d needs lists x and y", i)
    end
    if #s.x ~= #s.y then
      fail("scatter", "series '%s' has %d x values and %d y values", tostring(s.name or i),
        #s.x, #s.y)
    end
    s.color = s.color or M.palette[(i - 1) % #M.palette + 1]
    for k = 1, #s.x do
      if finite(s.x[k]) and finite(s.y[k]) then
        xlo, xhi = math.min(xlo, s.x[k]), math.max(xhi, s.x[k])
        ylo, yhi = math.min(ylo, s.y[k]), math.max(yhi, s.y[k])
      end
    end
  end
  if xlo > xhi then xlo, xhi, ylo, yhi = 0, 1, 0, 1 end
  if o.diagonal then
    xlo, xhi = math.min(xlo, ylo), math.max(xhi, yhi)
    ylo, yhi = xlo, xhi
  end
  local opts = {}
  for k, v in pairs(o) do opts[k] = v end
  opts.width, opts.height = o.width or 480, o.height or 480
  opts.legend_width = legend_width(o.series)
  local f = frame(opts, ylo, yhi)
  local yt = ticks(ylo, yhi)
  local xt = o.diagonal and yt or ticks(xlo, xhi)
  local xa, xb = xt[1], xt[#xt]
  local function px(v) return f.x0 + (v - xa) / (xb - xa) * (f.x1 - f.x0) end
  for _, v in ipairs(xt) do
    f.out[#f.out + 1] = string.format('<text x="%.1f" y="%g" text-anchor="middle">%s</text>',
      px(v), f.yb + 18, esc(num(v, xt[2] and xt[2] - xt[1])))
  end
  if o.diagonal then
    f.out[#f.out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" ' ..
      'stroke="#999" stroke-dasharray="4 3"/>', px(xa), f.y(xa), px(xb), f.y(xb))
  end
  for _, s in ipairs(o.series) do
    for k = 1, #s.x do
      if finite(s.x[k]) and finite(s.y[k]) then
        local tip = s.labels and s.labels[k] and ("<title>" .. esc(s.labels[k]) .. "</title>") or ""
        f.out[#f.out + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3" fill="%s" ' ..
          'fill-opacity="0.7">%s</circle>', px(s.x[k]), f.y(s.y[k]), s.color, tip)
      end
    end
  end
  legend(f, o.series)
  f.out[#f.out + 1] = "</svg>\n"
  return setmetatable({svg = table.concat(f.out, "\n")}, Plot)
end

return M
