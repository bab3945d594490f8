local cv = require "cnnvis"

-- The colour of pixel (y, x) (1-based) of a 3 x H x W picture.
local function px(img, y, x)
  local t = img:totable()
  return {t[1][y][x], t[2][y][x], t[3][y][x]}
end

-- N pictures of h x w, picture k filled with values[k].
local function flat(values, h, w)
  local items = {}
  for k, v in ipairs(values) do
    local rows = {}
    for y = 1, h do
      rows[y] = {}
      for x = 1, w do rows[y][x] = v end
    end
    items[k] = rows
  end
  return cv.tensor(items)
end

describe("vis", function()
  describe("grid()", function()
    it("puts 4 pictures of 2x2 at the hand-computed pixel positions", function()
      local img = cv.vis.grid(flat({10, 20, 30, 40}, 2, 2), {cols = 2, pad = 1, normalize = "none"})
      assert.same({3, 7, 7}, img:size()) -- 2 * 2 + 3 pads each way
      -- picture k starts at 2 + 3 * (row, col); the cells are 2x2
      for k, at in ipairs({{2, 2}, {2, 5}, {5, 2}, {5, 5}}) do
        for dy = 0, 1 do
          for dx = 0, 1 do
            assert.same({10 * k, 10 * k, 10 * k}, px(img, at[1] + dy, at[2] + dx))
          end
        end
      end
    end)

    it("fills padding, border and empty cells with pad_color", function()
      local img = cv.vis.grid(flat({0, 0, 0}, 2, 2), {cols = 2, pad = 1, pad_color = {1, 2, 3},
                                                        normalize = "none"})
      assert.same({3, 7, 7}, img:size())
      assert.same({1, 2, 3}, px(img, 1, 1))     -- border
      assert.same({1, 2, 3}, px(img, 3, 4))     -- between pictures
      assert.same({1, 2, 3}, px(img, 5, 5))     -- the 4th cell, empty
      assert.same({0, 0, 0}, px(img, 5, 2))     -- the 3rd picture
    end)

    it("pads with white by default and a gray level when given a number", function()
      assert.same({255, 255, 255}, px(cv.vis.grid(flat({0}, 1, 1)), 1, 1))
      assert.same({9, 9, 9}, px(cv.vis.grid(flat({0}, 1, 1), {pad_color = 9}), 1, 1))
    end)

    it("blows each pixel up to scale x scale", function()
      local img = cv.vis.grid(cv.tensor{{{0, 255}}}, {pad = 0, scale = 3, normalize = "none"})
      assert.same({3, 3, 6}, img:size())
      for y = 1, 3 do
        for x = 1, 6 do assert.same(x <= 3 and 0 or 255, px(img, y, x)[1]) end
      end
    end)

    it("normalizes each picture to its own min..max", function()
      local t = cv.tensor{{{0, 1, 2}}, {{10, 20, 30}}}
      local img = cv.vis.grid(t, {cols = 1, pad = 0}):totable()[1]
      assert.same({0, 128, 255}, img[1]) -- 127.5 rounds up
      assert.same({0, 128, 255}, img[2])
    end)

    it("normalizes all pictures with one range", function()
      local t = cv.tensor{{{0, 3}}, {{15, 30}}}
      local img = cv.vis.grid(t, {cols = 1, pad = 0, normalize = "all"}):totable()[1]
      assert.same({0, 26}, img[1])    -- 3/30*255 = 25.5
      assert.same({128, 255}, img[2]) -- 15/30*255 = 127.5
    end)

    it("takes a fixed range and clamps outside it", function()
      local img = cv.vis.grid(cv.tensor{{{-1, 0, 5, 10, 11}}}, {pad = 0, normalize = {0, 10}})
      assert.same({0, 0, 128, 255, 255}, img:totable()[1][1])
    end)

    it("keeps the colours of 3-channel pictures", function()
      local t = cv.tensor{{{{255}}, {{0}}, {{51}}}} -- 1 x 3 x 1 x 1
      assert.same({255, 0, 51}, px(cv.vis.grid(t, {pad = 0, normalize = "none"}), 1, 1))
    end)

    it("centres the diverging map on 0", function()
      local img = cv.vis.grid(cv.tensor{{{-2, 0, 1}}}, {pad = 0, colormap = "diverging"})
      assert.same({0x21, 0x66, 0xac}, px(img, 1, 1)) -- -2: the blue end
      assert.same({0xf7, 0xf7, 0xf7}, px(img, 1, 2)) -- 0: the middle
      -- 1 of [-2, 2] is u = 0.75, halfway between the 5th and 6th anchors
      assert.same({246, 179, 149}, px(img, 1, 3))
    end)

    it("draws a flat picture at the low end (the middle for diverging)", function()
      assert.same({0, 0, 0}, px(cv.vis.grid(flat({7}, 1, 1), {pad = 0}), 1, 1))
      assert.same({0xf7, 0xf7, 0xf7},
        px(cv.vis.grid(flat({0}, 1, 1), {pad = 0, colormap = "diverging"}), 1, 1))
    end)

    it("chooses a square-ish number of columns", function()
      assert.same({3, 3 * 3 + 4, 3 * 3 + 4}, cv.vis.grid(cv.zeros(9, 3, 3)):size())
      assert.same({3, 2 * 2 + 3, 3 * 2 + 4}, cv.vis.grid(cv.zeros(5, 2, 2)):size())
    end)

    it("takes N x 1 x H x W and non-contiguous tensors", function()
      local t = cv.tensor{{{1, 2}, {3, 4}}}:transpose(2, 3)
      local img = cv.vis.grid(t:unsqueeze(2), {pad = 0, normalize = "none"})
      assert.same({1, 3}, img:totable()[1][1])
    end)

    it("rejects bad shapes and options with exact messages", function()
      assert.has.error(function() cv.vis.grid(cv.zeros(2, 2, 2, 2)) end,
        "vis.grid: expected H x W, N x H x W or N x C x H x W with C = 1 or 3, got 2x2x2x2")
      assert.has.error(function() cv.vis.grid("x") end, "vis.grid: expected a tensor, got string")
      assert.has.error(function() cv.vis.grid(cv.zeros(0, 2, 2)) end,
        "vis.grid: no pictures to lay out (0x2x2)")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {colour = 1}) end,
        "vis.grid: unknown option 'colour'")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {colormap = "jet"}) end,
        "vis.grid: unknown colormap 'jet' (gray, viridis or diverging)")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {normalize = "max"}) end,
        "vis.grid: normalize must be \"each\", \"all\", \"none\" or {lo, hi}, got max")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {cols = 0}) end,
        "vis.grid: cols must be >= 1, got 0")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {scale = 1.5}) end,
        "vis.grid: scale must be an integer, got 1.5")
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 2, 2), {pad = -1}) end,
        "vis.grid: pad must be >= 0, got -1")
    end)

    it("refuses a scale or pad beyond 32768 before multiplying sizes", function()
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 1, 1), {scale = math.maxinteger}) end,
        "tile: scale 9223372036854775807 or pad 1 exceeds 32768")
    end)

    it("refuses a picture larger than 32768 pixels on a side", function()
      assert.has.error(function() cv.vis.grid(cv.zeros(1, 1, 100), {scale = 400}) end,
        "tile: 1 pictures of 1x100 at scale 400 in 1 columns would exceed 32768 pixels on a side")
    end)
  end)

  describe("colormaps", function()
    local function ends(name)
      local img = cv.vis.grid(cv.tensor{{{0, 1}}}, {pad = 0, colormap = name, normalize = {0, 1}})
      return px(img, 1, 1), px(img, 1, 2)
    end

    it("gray goes from black to white", function()
      local a, b = ends("gray")
      assert.same({0, 0, 0}, a)
      assert.same({255, 255, 255}, b)
    end)

    it("viridis goes from dark violet #440154 to yellow #fde725", function()
      local a, b = ends("viridis")
      assert.same({0x44, 0x01, 0x54}, a)
      assert.same({0xfd, 0xe7, 0x25}, b)
    end)

    it("diverging goes from blue #2166ac to red #b2182b", function()
      local a, b = ends("diverging")
      assert.same({0x21, 0x66, 0xac}, a)
      assert.same({0xb2, 0x18, 0x2b}, b)
    end)

    it("interpolates linearly between anchors", function()
      -- gray at 0.25: 63.75 -> 64; viridis at 1/16: halfway between its first two stops
      assert.same({64, 64, 64}, {cv.render.color("gray", 0.25)})
      assert.same({70, 21, 102}, {cv.render.color("viridis", 1 / 16)})
    end)

    it("clamps u outside 0..1 and maps NaN to the low end", function()
      assert.same({255, 255, 255}, {cv.render.color("gray", 7)})
      assert.same({0, 0, 0}, {cv.render.color("gray", 0 / 0)})
    end)
  end)

  describe("heatmap()", function()
    it("draws each value as a cell of cell x cell pixels", function()
      local img = cv.vis.heatmap(cv.tensor{{0, 1, 2}, {3, 4, 6}}, {cell = 4, colormap = "gray"})
      assert.same({3, 8, 12}, img:size())
      assert.same({0, 0, 0}, px(img, 1, 1))
      assert.same({43, 43, 43}, px(img, 4, 8)) -- 1 of 0..6: 42.5
      assert.same({255, 255, 255}, px(img, 8, 12))
      assert.same({128, 128, 128}, px(img, 5, 4)) -- 3 of 0..6
    end)

    it("takes a fixed range", function()
      local img = cv.vis.heatmap(cv.tensor{{5}}, {cell = 1, colormap = "gray", range = {0, 10}})
      assert.same({128, 128, 128}, px(img, 1, 1))
    end)

    it("makes room for labels: rows on the left, columns turned on top", function()
      local img = cv.vis.heatmap(cv.zeros(2, 3), {cell = 4, labels = {rows = {"A", "BB"},
                                                                       cols = {"X", "Y", "Z"}}})
      -- "BB" is 11 pixels wide, "Z" 5: plus a margin of 8
      assert.same({3, 13 + 8, 19 + 12}, img:size())
      assert.same({255, 255, 255}, px(img, 1, 1))
    end)

    it("writes values in dark ink on light cells and light ink on dark ones", function()
      local img = cv.vis.heatmap(cv.tensor{{0, 1}}, {cell = 9, colormap = "gray", values = "%d"})
      -- "0" and "1" are 5x7, centred: top-left at (2, 3) of each cell
      assert.same({255, 255, 255}, px(img, 2, 4)) -- the 0's top row, on black
      assert.same({0, 0, 0}, px(img, 2, 9 + 5))   -- the 1's top pixel, on white
    end)

    it("rejects a wrong shape and label count", function()
      assert.has.error(function() cv.vis.heatmap(cv.zeros(2)) end,
        "vis.heatmap: expected a 2-d tensor, got 2")
      assert.has.error(function() cv.vis.heatmap(cv.zeros(2, 2), {labels = {"a"}}) end,
        "vis.heatmap: 1 row labels for 2 rows")
      assert.has.error(function() cv.vis.heatmap(cv.zeros(0, 2)) end,
        "vis.heatmap: no cells to draw (0x2)")
    end)
  end)

  describe("text()", function()
    it("draws the 5x7 glyph of 1 at the given pixel", function()
      local img = cv.vis.text(cv.zeros(3, 8, 6), "1", 2, 2, {color = 255})
      local want = {"00100", "01100", "00100", "00100", "00100", "00100", "01110"}
      local t = img:totable()[1]
      for y = 1, 7 do
        local row = {}
        for x = 1, 5 do row[x] = t[y + 1][x + 1] > 0 and "1" or "0" end
        assert.equal(want[y], table.concat(row))
      end
      assert.same({0, 0, 0, 0, 0, 0}, t[1]) -- nothing above
    end)

    it("clips at the edges", function()
      local img = cv.vis.text(cv.zeros(3, 3, 3), "WWW", -2, -2, {color = 255})
      assert.same({3, 3, 3}, img:size())
    end)

    it("reports its size and turns vertical text", function()
      assert.same({17, 7}, {cv.render.text_size("ABC")})
      local img = cv.vis.text(cv.zeros(3, 5, 7), "1", 1, 1, {vertical = true, color = 255})
      -- the 1 turned counter-clockwise: its foot (last row, 01110) is the
      -- right column, its stem (middle column) the middle row
      local t = img:totable()[1]
      assert.same({0, 255, 255, 255, 0}, {t[1][7], t[2][7], t[3][7], t[4][7], t[5][7]})
      assert.same({255, 255, 255, 255, 255, 255, 255}, t[3])
      assert.same(255, t[4][2]) -- the flag: row 2, column 2 of the upright glyph
    end)

    it("rejects a scale beyond 1024 and ignores positions far outside", function()
      assert.has.error(function() cv.vis.text(cv.zeros(3, 2, 2), "A", 1, 1, {scale = 5000}) end,
        "text: scale must be 1 to 1024, got 5000")
      local img = cv.vis.text(cv.zeros(3, 2, 2), "A", math.maxinteger, math.mininteger)
      assert.equal(0, img:sum():item())
    end)

    it("rejects a picture that is not 3 x H x W", function()
      assert.has.error(function() cv.vis.text(cv.zeros(2, 2), "A", 1, 1) end,
        "text: expected a 3 x H x W picture, got 2x2")
    end)
  end)
end)
