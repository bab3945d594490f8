local cv = require "cnnvis"

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

-- A small XML check: every tag closes in order, no stray < or & in text.
local function well_formed(s)
  local stack = {}
  local rest = s:gsub("<(/?)([%w:]+)([^<>]-)(/?)>", function(close, name, _, self_close)
    if close == "/" then
      assert.equal(table.remove(stack), name)
    elseif self_close ~= "/" then
      stack[#stack + 1] = name
    end
    return ""
  end)
  assert.same({}, stack)
  assert.is_nil(rest:find("<", 1, true))
  for amp in rest:gmatch("&[^;%s]*;?") do
    assert.truthy(amp:match("^&%a+;$") or amp:match("^&#%d+;$"), amp)
  end
end

describe("plot", function()
  describe("line()", function()
    local p = cv.plot.line{x = {1, 2, 3, 4}, title = "loss & <accuracy>", xlabel = "epoch",
      ylabel = "a \"quoted\" label",
      series = {{name = "train", y = {4, 3, 2, 1}}, {name = "test", y = {4, 3.5, 3, 2.5}}}}

    it("gives one polyline and a marker per point of each series", function()
      assert.equal(2, count(p.svg, "<polyline"))
      assert.equal(8, count(p.svg, "<circle"))
      assert.equal(1, count(p.svg, "<svg "))
      well_formed(p.svg)
    end)

    it("escapes the title and labels", function()
      assert.truthy(p.svg:find("loss &amp; &lt;accuracy&gt;", 1, true))
      assert.truthy(p.svg:find("a &quot;quoted&quot; label", 1, true))
      assert.is_nil(p.svg:find("<accuracy>", 1, true))
    end)

    it("puts the points where the axes say: the first at the left, top value on top", function()
      local pts = p.svg:match('points="([^"]+)"')
      local x1, y1 = pts:match("^([%d.]+),([%d.]+)")
      local x4, y4 = pts:match("([%d.]+),([%d.]+)$")
      assert.is_true(tonumber(x1) < tonumber(x4))
      assert.is_true(tonumber(y1) < tonumber(y4)) -- 4 is drawn above 1
    end)

    it("names the series in a legend", function()
      assert.truthy(p.svg:find(">train</text>", 1, true))
      assert.truthy(p.svg:find(">test</text>", 1, true))
    end)

    it("breaks a line at NaN", function()
      local q = cv.plot.line{x = {1, 2, 3, 4, 5}, series = {{y = {1, 2, 0 / 0, 4, 5}}}}
      assert.equal(2, count(q.svg, "<polyline"))
      assert.equal(4, count(q.svg, "<circle"))
      well_formed(q.svg)
    end)

    it("saves the text and prints it with tostring", function()
      local path = os.tmpname()
      p:save(path)
      local f = io.open(path)
      assert.equal(tostring(p), f:read("a"))
      f:close()
      os.remove(path)
    end)

    it("rejects mismatched lengths and unknown options with exact messages", function()
      assert.has.error(function() cv.plot.line{x = {1, 2}, series = {{name = "a", y = {1}}}} end,
        "plot.line: series 'a' has 1 values for 2 x positions")
      assert.has.error(function() cv.plot.line{x = {}, series = {}} end,
        "plot.line: x must be a non-empty list of numbers")
      assert.has.error(function() cv.plot.line{x = {1}, series = {{y = {1}}}, colour = 1} end,
        "plot.line: unknown option 'colour'")
      assert.has.error(function() cv.plot.line{x = {1, 0 / 0}, series = {{y = {1, 2}}}} end,
        "plot.line: x[2] is not a finite number")
    end)
  end)

  describe("bar()", function()
    it("draws one bar per label and escapes the labels", function()
      local p = cv.plot.bar{labels = {"a<b", "c&d", "e"}, values = {3, 0, 1.5}, title = "T"}
      assert.equal(3 + 1, count(p.svg, "<rect")) -- plus the background
      assert.truthy(p.svg:find(">a&lt;b</text>", 1, true))
      assert.truthy(p.svg:find(">c&amp;d</text>", 1, true))
      well_formed(p.svg)
    end)

    it("draws groups of bars with a legend for several series", function()
      local p = cv.plot.bar{labels = {"x", "y"}, series = {{name = "before", y = {1, 2}},
                                                            {name = "after", y = {2, 1}}}}
      assert.equal(1 + 4 + 2, count(p.svg, "<rect")) -- background, bars, legend keys
      well_formed(p.svg)
    end)

    it("grows bars from 0: a taller bar for a larger value", function()
      local p = cv.plot.bar{labels = {"a", "b"}, values = {1, 2}}
      local h = {}
      for v in p.svg:gmatch('<rect x="[%d.]+" y="[%d.]+" width="[%d.]+" height="([%d.]+)"') do
        h[#h + 1] = tonumber(v)
      end
      assert.equal(2, #h)
      assert.near(2 * h[1], h[2], 0.2)
    end)

    it("cuts long labels to 24 characters, keeping the whole one in the tooltip", function()
      local long = "great white shark, white shark, man-eater"
      local p = cv.plot.bar{labels = {long, "b"}, values = {1, 2}}
      assert.truthy(p.svg:find(">great white shark, whit…</text>", 1, true))
      assert.truthy(p.svg:find("<title>" .. long .. ": 1</title>", 1, true))
      well_formed(p.svg)
    end)

    it("rejects a wrong count of values", function()
      assert.has.error(function() cv.plot.bar{labels = {"a", "b"}, values = {1}} end,
        "plot.bar: series '1' has 1 values for 2 x positions")
    end)
  end)
  describe("scatter()", function()
    it("draws a point per pair and the diagonal on one range", function()
      local p = cv.plot.scatter{series = {{name = "conv1", x = {0, 1, 2}, y = {0, 1.5, 2}},
                                          {name = "fc8", x = {0 / 0}, y = {1}}},
                                diagonal = true, xlabel = "analytic", ylabel = "numeric"}
      assert.equal(3, count(p.svg, "<circle"))
      local pts = {}
      for x, y in p.svg:gmatch('<circle cx="([%d.]+)" cy="([%d.]+)"') do
        pts[#pts + 1] = {tonumber(x), tonumber(y)}
      end
      -- (0, 0) and (2, 2) lie on the diagonal's ends: same pixel scale on both axes
      local x1, y1, x2, y2 = p.svg:match('<line x1="([%d.]+)" y1="([%d.]+)" x2="([%d.]+)" y2="([%d.]+)" stroke="#999"')
      assert.near(tonumber(x1), pts[1][1], 0.11)
      assert.near(tonumber(y1), pts[1][2], 0.11)
      assert.near(tonumber(x2), pts[3][1], 0.11)
      assert.near(tonumber(y2), pts[3][2], 0.11)
      assert.is_true(pts[2][2] < (pts[1][2] + pts[3][2]) / 2) -- 1.5 sits above the middle
      well_formed(p.svg)
    end)

    it("rejects lists of different lengths", function()
      assert.has.error(function() cv.plot.scatter{series = {{x = {1, 2}, y = {1}}}} end,
        "plot.scatter: series '1' has 2 x values and 1 y values")
    end)
  end)
end)
