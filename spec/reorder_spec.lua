-- cv.reorder, cv.volume and cv.vis.grid's numbers: the library under the
-- 3.1 scripts, on cases worked out by hand.
local cv = require "cnnvis"

describe("reorder", function()
  describe("neighbour_correlation()", function()
    local rows = cv.tensor{{1, 2, 3}, {2, 4, 6}, {3, 2, 1}, {5, 5, 5}}

    it("is the mean Pearson correlation of adjacent rows, constant rows skipped", function()
      -- r1, r2: 1; r2, r3: -1; r3, r4: r4 is constant
      local r = cv.reorder.neighbour_correlation(rows)
      assert.is_true(math.abs(r.mean - 0) < 1e-12)
      assert.same({2, 1}, {r.pairs, r.skipped})
      r = cv.reorder.neighbour_correlation(rows, {1, 3, 2, 4})
      assert.is_true(math.abs(r.mean + 1) < 1e-12)
      assert.is_nil(cv.reorder.neighbour_correlation(cv.zeros(3, 4)).mean)
    end)
  end)

  it("slice() takes column s of every map, and refuses columns outside", function()
    local vol = cv.arange(1, 25):view(2, 3, 4)
    assert.same({{2, 6, 10}, {14, 18, 22}}, cv.reorder.slice(vol, 2):totable())
    assert.has.error(function() cv.reorder.slice(vol, 5) end,
      "reorder.slice: slice 5 is outside the maps' 4 columns")
  end)

  it("pca() orders rows by their first principal coordinate", function()
    -- rows t * (2, 1) + (1, 1): the component is +(2, 1)/sqrt(5) by the sign
    -- rule, so the order is that of t
    local t = {3, -1, 0.5, 2, -4}
    local rows = {}
    for i, v in ipairs(t) do rows[i] = {2 * v + 1, v + 1} end
    local r = cv.reorder.pca(cv.tensor(rows))
    assert.same({5, 2, 3, 4, 1}, r.order)
  end)

  it("kmeans() keeps each cluster's rows together, in their own order", function()
    local rows = cv.tensor{{0}, {10}, {0.1}, {10.2}, {20}, {0.2}}
    local r = cv.reorder.kmeans(rows, 3)
    -- clusters ordered by their centroid's principal coordinate: 0.1, 10.1, 20
    assert.same({1, 3, 6, 2, 4, 5}, r.order)
    assert.same({3, 2, 1}, r.groups)
    local r2 = cv.reorder.kmeans2(rows, 3, 2)
    assert.are.equal(6, #r2.order)
    assert.are.equal(6, r2.groups[1] + r2.groups[2])
  end)

  it("picture() puts white bars between groups", function()
    local rows = cv.tensor{{0, 1}, {1, 0}, {0.5, 0.5}}
    local img = cv.reorder.picture(rows, {1, 2, 3}, {2, 1}, {scale = 2, bar = 3})
    assert.same({3, 3 * 2 + 3, 2 * 2}, img:size())
    assert.are.equal(255, img[{{}, {5, 7}}]:min():item()) -- the bar, after 2 rows of 2 pixels
    assert.is_true(img[{{}, {1, 4}}]:min():item() < 255)
  end)
end)

describe("volume", function()
  it("slices() cuts the three mid-planes on the volume's range", function()
    local vol = cv.arange(0, 60):view(3, 4, 5)
    local s = cv.volume.slices(vol, {colormap = "gray", scale = 1})
    assert.same({2, {4, 5}}, {s.filter.index, s.filter.shape})
    assert.same({3, {3, 5}}, {s.row.index, s.row.shape})
    assert.same({3, {3, 4}}, {s.column.index, s.column.shape})
    -- gray on the range 0..59: map 2 (values 20..39) is 20/59 .. 39/59 of white
    local img = s.filter.image
    assert.are.equal(math.floor(255 * 20 / 59 + 0.5), math.floor(img[{1, 1, 1}]:item() + 0.5))
  end)

  it("turntable() turns the camera all the way round", function()
    local vol = cv.zeros(4, 4, 4)
    vol[{2, 2, 2}] = 1
    local frames, az = cv.volume.turntable(vol, 4, {width = 16, height = 16, mode = "mip"})
    assert.same({0, 90, 180, 270}, az)
    assert.are.equal(4, #frames)
    assert.has.error(function() cv.volume.render(vol, {azimut = 1}) end,
      "volume: unknown option 'azimut'")
  end)
end)

describe("vis.grid() numbers", function()
  it("adds a band with each picture's 1-based number above each row", function()
    local maps = cv.zeros(5, 6, 6)
    local plain = cv.vis.grid(maps, {cols = 3})
    local numbered = cv.vis.grid(maps, {cols = 3, numbers = true})
    local _, th = cv.render.text_size("0", 1)
    assert.same({3, plain:size(2) + 2 * (th + 2), plain:size(3)}, numbered:size())
    -- the first band holds dark ink (numbers 1-3) where the plain grid is white
    assert.is_true(numbered[{{}, {1, th + 2}}]:min():item() < 100)
  end)
end)
