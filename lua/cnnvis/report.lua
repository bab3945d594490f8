--- One self-contained HTML page: sections, tables, text and pictures, with
-- the CSS inline and no external resources. Pictures are written as PNG
-- files beside the page (SVG plots are put inline and saved beside it too).
--
--   local page = cv.report.new{title = "conv1 of CaffeNet", dir = "out/report"}
--   page:section("Filters")
--   page:image(cv.vis.grid(w), {name = "conv1.png", caption = "96 filters"})
--   page:table{header = {"class", "error rate (%)"}, rows = {{"cat", "10.5"}}}
--   print(page:save())   --> out/report/index.html
local core = require "cnnvis.core"
local lfs = require "lfs"

local M = {}

--- Text made safe for HTML.
function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                       ['"'] = "&quot;", ["'"] = "&#39;"}))
end
local esc = M.escape

local function fail(fmt, ...) error("report: " .. string.format(fmt, ...), 0) end

local viewer_js
--- The viewers' JavaScript (report_viewer.js beside this file), as put
-- inline in pages that show volumes or players.
function M.viewer_js()
  if not viewer_js then
    local here = package.searchpath("cnnvis.report", package.path)
    local path = here and here:gsub("report%.lua$", "report_viewer.js")
    local f = path and io.open(path, "r")
    if not f then fail("cannot find report_viewer.js beside %s", tostring(here)) end
    viewer_js = f:read("a")
    f:close()
    if viewer_js:find("</script", 1, true) then fail("report_viewer.js must not contain </script") end
  end
  return viewer_js
end

--- Makes a directory and its parents (like mkdir -p).
function M.mkdir(path)
  local sofar = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. part
    if lfs.attributes(sofar, "mode") == nil then
      local ok, msg = lfs.mkdir(sofar)
      if not ok and lfs.attributes(sofar, "mode") ~= "directory" then
        fail("cannot make directory %s: %s", sofar, tostring(msg))
      end
    elseif lfs.attributes(sofar, "mode") ~= "directory" then
      fail("%s exists and is not a directory", sofar)
    end
    sofar = sofar .. "/"
  end
end

local CSS = [[
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 0 auto; padding: 0 24px 48px; background: #fafafa; }
header { border-bottom: 2px solid #4e79a7; margin-bottom: 16px; }
h1 { font-size: 26px; margin: 24px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid #ddd; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { color: #666; font-size: 13px; margin: 0 0 12px; }
nav { font-size: 14px; margin: 8px 0 16px; }
nav a { margin-right: 14px; color: #4e79a7; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; background: white; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; text-align: left; }
th { background: #eef2f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: none; }
figure { display: table; margin: 6px 14px 12px 0; }
figure img { display: block; image-rendering: pixelated; border: 1px solid #ddd;
             background: white; max-width: 100%; }
figcaption { display: table-caption; caption-side: bottom; font-size: 13px; color: #555;
             margin-top: 4px; }
.row { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0 8px; }
.big { font-size: 30px; font-weight: 600; color: #4e79a7; }
pre { background: white; border: 1px solid #ddd; padding: 8px 12px; font-size: 13px;
      overflow-x: auto; }
a.file { display: block; font-size: 12px; color: #4e79a7; }
svg { background: white; border: 1px solid #ddd; max-width: 100%; height: auto; }
.note { background: #fff4e5; border-left: 4px solid #e69f00; padding: 6px 10px; }
nav.toc { columns: 2; max-width: 640px; }
nav.toc a { display: block; }
.cv-volume, .cv-player { background: white; border: 1px solid #ddd; padding: 8px; }
.cv-live { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
canvas.cv-gl { width: 360px; height: 360px; cursor: grab; border: 1px solid #eee; touch-action: none; }
.cv-controls { font-size: 13px; }
.cv-controls label { display: block; margin: 4px 0; }
.cv-axis { display: flex; gap: 8px; align-items: center; }
canvas.cv-slice { height: 72px; image-rendering: pixelated; border: 1px solid #eee; }
.cv-fallback, .cv-nogl .cv-live { display: none; }
.cv-nogl .cv-fallback { display: block; }
.cv-frames figure { margin: 0; }
.cv-frames img { image-rendering: pixelated; max-width: 100%; }
.cv-player .cv-controls button { margin-right: 6px; }
.cv-player .cv-controls input { vertical-align: middle; width: 200px; }
.cv-label { margin-left: 8px; font-variant-numeric: tabular-nums; }
.cv-scale { display: flex; align-items: center; gap: 6px; font-size: 12px; margin: 6px 0; }
.cv-scale i { display: inline-block; width: 160px; height: 12px; border: 1px solid #ccc; }
.cv-scale em { color: #555; }
]]

local Page = {}
Page.__index = Page

--- A new page. opts: title, dir (where index.html and the pictures go;
-- default "out/report"), subtitle (a line under the title).
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({title = opts.title or "cnnvis report", dir = opts.dir or "out/report",
    subtitle = opts.subtitle, parts = {}, toc = {}, names = {}, ids = {}, scripts = {}}, Page)
  M.mkdir(self.dir)
  return self
end

-- An anchor id from a heading.
local function slug(s)
  return (s:lower():gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
end

--- Starts a section (h2, listed in the page's contents); level 3: a
-- subsection. id: the anchor (default: made from the title); an id used
-- before gets -2, -3, ... so that every anchor on the page is unique.
function Page:section(title, level, id)
  level = level or 2
  id = slug(id or title)
  if id == "" then id = "section" end
  local base, k = id, 1
  while self.ids[id] do
    k = k + 1
    id = base .. "-" .. k
  end
  self.ids[id] = true
  if level == 2 then self.toc[#self.toc + 1] = {id = id, title = title} end
  self.parts[#self.parts + 1] = string.format('<h%d id="%s">%s</h%d>', level, id, esc(title), level)
  return self
end

--- A note that something is missing or went wrong (escaped), set apart
-- from the text.
function Page:note(s)
  self.parts[#self.parts + 1] = '<p class="note">' .. esc(s) .. "</p>"
  return self
end

--- A paragraph of text (escaped); opts.class sets its CSS class.
function Page:text(s, class)
  self.parts[#self.parts + 1] = string.format("<p%s>%s</p>",
    class and (' class="' .. esc(class) .. '"') or "", esc(s))
  return self
end

--- Raw HTML, as given.
function Page:html(s)
  self.parts[#self.parts + 1] = s
  return self
end

--- Preformatted text (escaped).
function Page:pre(s)
  self.parts[#self.parts + 1] = "<pre>" .. esc(s) .. "</pre>"
  return self
end

-- Numbers, and "" or "-" (a missing number), make a right-aligned column.
local function is_number(v)
  return type(v) == "number" or (type(v) == "string" and tonumber(v) ~= nil)
end
local function is_missing(v) return v == nil or v == "" or v == "-" end

--- A table. t.header (list), t.rows (list of lists), t.caption; numbers are
-- right-aligned. A cell may be {html = "..."} to pass markup through.
function Page:table(t)
  if type(t) ~= "table" or type(t.rows) ~= "table" then fail("table needs rows") end
  local out = {"<table>"}
  if t.caption then out[#out + 1] = "<caption>" .. esc(t.caption) .. "</caption>" end
  local numeric = {}
  for j = 1, #(t.header or t.rows[1] or {}) do
    numeric[j] = #t.rows > 0
    for _, r in ipairs(t.rows) do
      if not is_missing(r[j]) and not is_number(r[j]) then numeric[j] = false end
    end
  end
  local function cell(tag, v, j)
    local body = type(v) == "table" and v.html or esc(v == nil and "" or v)
    return string.format("<%s%s>%s</%s>", tag, numeric[j] and ' class="num"' or "", body, tag)
  end
  if t.header then
    local cells = {}
    for j, h in ipairs(t.header) do cells[j] = cell("th", h, j) end
    out[#out + 1] = "<tr>" .. table.concat(cells) .. "</tr>"
  end
  for _, r in ipairs(t.rows) do
    local cells = {}
    for j = 1, math.max(#r, #(t.header or {})) do cells[j] = cell("td", r[j], j) end
    out[#out + 1] = "<tr>" .. table.concat(cells) .. "</tr>"
  end
  out[#out + 1] = "</table>"
  self.parts[#self.parts + 1] = table.concat(out, "\n")
  return self
end

-- A file name not used yet on this page.
function Page:_name(name)
  if not name:match("^[%w._-]+$") then fail("file name '%s' has characters other than letters, digits, . _ -", name) end
  if self.names[name] then fail("the page already has a file named %s", name) end
  self.names[name] = true
  return name
end

-- A <figure> around inner markup.
local function figure(inner, caption)
  return "<figure>" .. inner .. (caption and ("<figcaption>" .. esc(caption) .. "</figcaption>") or "")
    .. "</figure>"
end

--- A picture: a 3 x H x W (or H x W) tensor of 0..255 values, written as
-- opts.name (a PNG beside the page). opts: caption, width (display width in
-- CSS pixels; the picture keeps its pixels), inline (true: put it in the
-- current row of pictures instead of a row of its own).
function Page:image(img, opts)
  opts = opts or {}
  if not core.is_tensor(img) then fail("image needs a tensor, got %s", type(img)) end
  local name = self:_name(opts.name or string.format("image%d.png", #self.parts + 1))
  core.image.save(img, self.dir .. "/" .. name)
  local w = opts.width and string.format(' width="%d"', opts.width) or ""
  local tag = string.format('<img src="%s" alt="%s"%s>', esc(name), esc(opts.caption or name), w)
  return self:_figure(figure(tag, opts.caption), opts.inline)
end

--- An SVG plot (cv.plot) put inline and saved beside the page as opts.name
-- (linked under it). opts: caption, inline.
function Page:plot(p, opts)
  opts = opts or {}
  local svg = tostring(p)
  if opts.name then
    local name = self:_name(opts.name)
    local f, msg = io.open(self.dir .. "/" .. name, "w")
    if not f then fail("cannot write %s", tostring(msg)) end
    f:write(svg)
    f:close()
    svg = svg .. string.format('<a class="file" href="%s">%s</a>', esc(name), esc(name))
  end
  return self:_figure(figure(svg, opts.caption), opts.inline)
end

-- A relative path as a URL: each segment percent-encoded, no way out of
-- the page's folder.
local function url_path(path)
  if type(path) ~= "string" or path == "" or path:sub(1, 1) == "/" then
    fail("a file beside the page needs a relative path, got %s", tostring(path))
  end
  local segs = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then fail("file path '%s' leaves the page's folder", path) end
    segs[#segs + 1] = (seg:gsub("[^%w._~-]", function(c) return string.format("%%%02X", c:byte()) end))
  end
  return table.concat(segs, "/")
end
M.url_path = url_path

--- A picture already written beside the page (by a script the page
-- gathers), given by its path relative to the page's folder. opts: caption,
-- width, inline, alt.
function Page:file_image(path, opts)
  opts = opts or {}
  local w = opts.width and string.format(' width="%d"', opts.width) or ""
  local tag = string.format('<img src="%s" alt="%s"%s>', esc(url_path(path)),
    esc(opts.alt or opts.caption or path), w)
  return self:_figure(figure(tag, opts.caption), opts.inline)
end

--- A link to a file beside the page (a volume, a table): the text is escaped.
function Page:link(path, text)
  return string.format('<a class="file" href="%s">%s</a>', esc(url_path(path)), esc(text or path))
end

-- The colormap anchors of engine/render/colormap.c, for colour bars.
local ANCHORS = {
  gray = {"#000000", "#ffffff"},
  viridis = {"#440154", "#482878", "#3e4a89", "#31688e", "#26828e", "#1f9e89", "#35b779",
             "#6dcd59", "#fde725"},
  diverging = {"#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"},
}

local function number_text(v)
  if type(v) ~= "number" then return esc(v) end
  return esc(string.format("%.4g", v))
end

--- A colour bar: the colormap from lo to hi, the numbers at its ends.
function M.colorbar(colormap, lo, hi, label)
  local stops = ANCHORS[colormap or "viridis"]
  if not stops then fail("unknown colormap '%s' (gray, viridis or diverging)", tostring(colormap)) end
  return string.format('<div class="cv-scale"><span>%s</span><i style="background:' ..
    'linear-gradient(to right, %s)"></i><span>%s</span>%s</div>', number_text(lo),
    table.concat(stops, ", "), number_text(hi), label and ("<em>" .. esc(label) .. "</em>") or "")
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Bytes (a string) as base64.
function M.base64(s)
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a << 16 | b << 8 | c
    out[#out + 1] = string.char(B64:byte((v >> 18) + 1), B64:byte((v >> 12 & 63) + 1),
      B64:byte((v >> 6 & 63) + 1), B64:byte((v & 63) + 1))
  end
  local rest = n % 3
  if rest > 0 then
    local a, b = s:byte(n - rest + 1, n)
    local v = a << 16 | (b or 0) << 8
    out[#out + 1] = string.char(B64:byte((v >> 18) + 1), B64:byte((v >> 12 & 63) + 1)) ..
      (rest == 2 and string.char(B64:byte((v >> 6 & 63) + 1)) or "=") .. "="
  end
  return table.concat(out)
end

-- JSON text of a plain value (strings, numbers, booleans, arrays of them),
-- with < escaped so that it can sit in a page.
local function js_value(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\<>&]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return math.type(v) == "integer" and tostring(v) or string.format("%.9g", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local items = {}
      for i, x in ipairs(v) do items[i] = js_value(x) end
      return "[" .. table.concat(items, ",") .. "]"
    end
    local keys, items = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do items[#items + 1] = js_value(tostring(k)) .. ":" .. js_value(v[k]) end
    return "{" .. table.concat(items, ",") .. "}"
  end
  return "null"
end

-- The volume's values as bytes 0..255 over range {lo, hi} (clamped).
local function volume_bytes(t, lo, hi)
  local flat = t:detach():contiguous():view(-1)
  local scale = hi > lo and 255 / (hi - lo) or 0
  local bytes = ((flat - lo) * scale):clamp(0, 255):totable()
  local floor = math.floor
  for i = 1, #bytes do bytes[i] = floor(bytes[i] + 0.5) end
  local chunks, char = {}, string.char
  for i = 1, #bytes, 4096 do
    chunks[#chunks + 1] = char(table.unpack(bytes, i, math.min(#bytes, i + 4095)))
  end
  return table.concat(chunks)
end

--- A volume the reader turns and slices: a WebGL2 ray marcher in the page,
-- over opts.data (a D x H x W tensor: D maps of H x W), written beside the
-- page as <name>.vol.js (bytes over opts.range). opts: name (letters,
-- digits, _ -), data, range ({lo, hi}; default the data's), colormap
-- ("viridis"), mode ("mip" or "composite"), opacity ({u0, u1, a}: the C
-- ray caster's ramp over the range's 0..1, a per voxel of length; default
-- its {0.1, 1, 0.5}), spacing ({x, y, z}), axes (names of x, y, z), frames (the
-- prerendered turntable: paths of PNGs beside the page, shown with a slider
-- where WebGL2 is missing), links ({{path, text}, ...}: NRRD files),
-- caption.
function Page:volume(opts)
  if type(opts) ~= "table" or not core.is_tensor(opts.data) then fail("volume needs data, a tensor") end
  local name = opts.name or ("volume" .. (#self.parts + 1))
  if not name:match("^[%w_-]+$") then fail("volume name '%s' has characters other than letters, digits, _ -", name) end
  local s = opts.data:size()
  if #s ~= 3 then fail("volume %s: data must be D x H x W, got %s", name, table.concat(s, "x")) end
  local lo, hi = opts.range and opts.range[1], opts.range and opts.range[2]
  if not lo then lo, hi = opts.data:min():item(), opts.data:max():item() end
  local file = self:_name(name .. ".vol.js")
  local record = {dims = {s[3], s[2], s[1]}, range = {lo, hi}, colormap = opts.colormap or "viridis",
    mode = opts.mode or "mip", opacity = opts.opacity or {0.1, 1, 0.5},
    spacing = opts.spacing or {1, 1, 1}, data = M.base64(volume_bytes(opts.data, lo, hi))}
  local f, msg = io.open(self.dir .. "/" .. file, "w")
  if not f then fail("cannot write %s", tostring(msg)) end
  f:write("(window.cnnvisVolumes = window.cnnvisVolumes || {})[", js_value(name), "] = ",
          js_value(record), ";\n")
  f:close()
  self.scripts[#self.scripts + 1] = file
  local axes = opts.axes or {"x", "y", "z"}
  local html = {string.format('<div class="cv-volume" data-volume="%s" id="volume-%s">', esc(name), esc(name)),
    '<div class="cv-live"><canvas class="cv-gl" width="360" height="360" title="drag to turn, wheel to zoom"></canvas>',
    '<div class="cv-controls"><label>render <select class="cv-mode"><option value="mip">maximum ' ..
    'intensity</option><option value="composite">emission-absorption</option></select></label>'}
  for axis = 1, 3 do
    html[#html + 1] = string.format('<div class="cv-axis" data-axis="%d"><label>cut %s at ' ..
      '<output>1</output> of %d <input type="range" min="0" max="%d" value="0" aria-label="slice along %s"></label>' ..
      '<canvas class="cv-slice"></canvas></div>', axis - 1, esc(axes[axis]), s[4 - axis], s[4 - axis] - 1,
      esc(axes[axis]))
  end
  html[#html + 1] = M.colorbar(record.colormap, lo, hi) .. "</div></div>"
  if opts.frames and #opts.frames > 0 then
    html[#html + 1] = '<div class="cv-fallback">' .. self:_player_html{frames = opts.frames,
      caption = "prerendered turntable (WebGL2 is not available here)", interval = 300} .. "</div>"
  end
  for _, l in ipairs(opts.links or {}) do html[#html + 1] = self:link(l[1], l[2]) end
  html[#html + 1] = "</div>"
  return self:_figure(figure(table.concat(html), opts.caption), opts.inline)
end

function Page:_player_html(opts)
  local html = {string.format('<div class="cv-player" data-interval="%d">', opts.interval or 700),
    '<div class="cv-frames">'}
  for i, fr in ipairs(opts.frames) do
    local src, label = fr, nil
    if type(fr) == "table" then src, label = fr.src or fr[1], fr.label or fr[2] end
    html[#html + 1] = string.format('<figure class="cv-frame" data-label="%s"%s><img src="%s" alt="%s"%s></figure>',
      esc(label or ""), i > 1 and " hidden" or "", esc(url_path(src)), esc(label or src),
      opts.width and string.format(' width="%d"', opts.width) or "")
  end
  html[#html + 1] = '</div><div class="cv-controls"><button type="button" class="cv-prev">step back</button>' ..
    '<button type="button" class="cv-play">play</button><button type="button" class="cv-next">step</button>' ..
    string.format('<input class="cv-step" type="range" min="0" max="%d" value="0" aria-label="frame">', #opts.frames - 1) ..
    '<span class="cv-label"></span></div>'
  if opts.scale then
    html[#html + 1] = M.colorbar(opts.scale.colormap, opts.scale.lo, opts.scale.hi, opts.scale.label)
  end
  if opts.caption then html[#html + 1] = "<p class=\"meta\">" .. esc(opts.caption) .. "</p>" end
  html[#html + 1] = "</div>"
  self.uses_js = true
  return table.concat(html)
end

--- Frames shown one at a time with play/pause, step and a slider: a time
-- series. opts: frames (paths beside the page, or {src =, label =}),
-- scale ({lo =, hi =, colormap =, label =}: the one colour scale of every
-- frame, drawn as a bar), interval (ms), width, caption, inline.
function Page:player(opts)
  if type(opts) ~= "table" or type(opts.frames) ~= "table" or #opts.frames == 0 then
    fail("player needs frames")
  end
  return self:_figure(self:_player_html(opts), opts.inline)
end

-- Figures marked inline collect in one flex row until something else comes.
function Page:_figure(html, inline)
  local last = self.parts[#self.parts]
  if inline and type(last) == "table" then
    last[#last + 1] = html
  elseif inline then
    self.parts[#self.parts + 1] = {html}
  else
    self.parts[#self.parts + 1] = html
  end
  return self
end

--- The page's HTML text.
function Page:render()
  local out = {"<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>" .. esc(self.title) .. "</title>", "<style>" .. CSS .. "</style>", "</head>",
    "<body>", "<header><h1>" .. esc(self.title) .. "</h1>"}
  if self.subtitle then out[#out + 1] = '<p class="meta">' .. esc(self.subtitle) .. "</p>" end
  if #self.toc > 1 then
    local links = {}
    for i, s in ipairs(self.toc) do
      links[i] = string.format('<a href="#%s">%s</a>', s.id, esc(s.title))
    end
    out[#out + 1] = '<nav class="toc">' .. table.concat(links) .. "</nav>"
  end
  out[#out + 1] = "</header>"
  for _, part in ipairs(self.parts) do
    out[#out + 1] = type(part) == "table" and ('<div class="row">' .. table.concat(part) .. "</div>")
                    or part
  end
  if self.uses_js or #self.scripts > 0 then
    for _, file in ipairs(self.scripts) do
      out[#out + 1] = string.format('<script src="%s"></script>', esc(url_path(file)))
    end
    out[#out + 1] = "<script>\n" .. M.viewer_js() .. "</script>"
  end
  out[#out + 1] = "</body>\n</html>\n"
  return table.concat(out, "\n")
end

--- Writes dir/index.html (or dir/opts.name) and returns its path.
function Page:save(name)
  local path = self.dir .. "/" .. (name or "index.html")
  local f, msg = io.open(path, "w")
  if not f then fail("cannot write %s", tostring(msg)) end
  f:write(self:render())
  f:close()
  return path
end

return M
