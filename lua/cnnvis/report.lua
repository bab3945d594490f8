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
]]

local Page = {}
Page.__index = Page

--- A new page. opts: title, dir (where index.html and the pictures go;
-- default "out/report"), subtitle (a line under the title).
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({title = opts.title or "cnnvis report", dir = opts.dir or "out/report",
    subtitle = opts.subtitle, parts = {}, toc = {}, names = {}}, Page)
  M.mkdir(self.dir)
  return self
end

-- An anchor id from a heading.
local function slug(s)
  return (s:lower():gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
end

--- Starts a section (h2, listed in the page's contents); level 3: a subsection.
function Page:section(title, level)
  level = level or 2
  local id = slug(title)
  if level == 2 then self.toc[#self.toc + 1] = {id = id, title = title} end
  self.parts[#self.parts + 1] = string.format('<h%d id="%s">%s</h%d>', level, id, esc(title), level)
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
    out[#out + 1] = "<nav>" .. table.concat(links) .. "</nav>"
  end
  out[#out + 1] = "</header>"
  for _, part in ipairs(self.parts) do
    out[#out + 1] = type(part) == "table" and ('<div class="row">' .. table.concat(part) .. "</div>")
                    or part
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
