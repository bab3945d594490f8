-- core.render.raycast (engine/render/raycast.c) against rays worked out by
-- hand on tiny volumes.
local cv = require "cnnvis"
local core = require "cnnvis.core"
local raycast = core.render.raycast

-- The 0-based (row, column) of the largest pixel of a 1 x h x w picture.
local function argmax2(img)
  local t = img[1]:totable()
  local bi, bj, best = 0, 0, -math.huge
  for i, row in ipairs(t) do
    for j, v in ipairs(row) do
      if v == v and v > best then bi, bj, best = i - 1, j - 1, v end
    end
  end
  return bi, bj, best
end

local function bright_voxel(d, h, w, z, y, x)
  local v = cv.zeros(d, h, w)
  v[{z + 1, y + 1, x + 1}] = 1
  return v
end

describe("raycast", function()
  describe("a single bright voxel", function()
    -- D x H x W = 5 x 7 x 9, the voxel at z = 1, y = 3, x = 6 (0-based)
    local vol = bright_voxel(5, 7, 9, 1, 3, 6)

    it("lands on its pixel seen head-on, and nowhere else", function()
      local m = raycast(vol, {mode = "max", azimuth = 0, elevation = 0, zoom = 1,
                              width = 9, height = 7})
      local t = m[1]:totable()
      for i = 1, 7 do
        for j = 1, 9 do
          local want = (i == 4 and j == 7) and 1 or 0
          assert.is_true(math.abs(t[i][j] - want) < 1e-6, ("pixel %d,%d: %g"):format(i, j, t[i][j]))
        end
      end
    end)

    it("lands where the camera's projection puts it from the side and from above", function()
      -- azimuth 90: screen right is -z, so z = 1 of 5 is column (5-1)/2 + 1 = 3
      local side = raycast(vol, {mode = "max", azimuth = 90, elevation = 0, zoom = 1,
                                 width = 5, height = 7})
      local i, j, v = argmax2(side)
      assert.same({3, 3}, {i, j})
      assert.is_true(math.abs(v - 1) < 1e-5)
      -- elevation 90: looking down +y, screen down is -z: row (5-1)/2 + 1 = 3, column x
      local top = raycast(vol, {mode = "max", azimuth = 0, elevation = 90, zoom = 1,
                                width = 9, height = 5})
      i, j, v = argmax2(top)
      assert.same({3, 6}, {i, j})
      assert.is_true(math.abs(v - 1) < 1e-5)
    end)

    it("lands at the projected point for any view and zoom", function()
      local d, h, w = 5, 7, 9
      for _, view in ipairs{{30, 20}, {-50, 35}, {120, -15}, {200, 60}} do
        local a, e = math.rad(view[1]), math.rad(view[2])
        local zoom, W, H = 6, 121, 101
        local img = raycast(vol, {mode = "max", azimuth = view[1], elevation = view[2],
                                  zoom = zoom, width = W, height = H, step = 0.25})
        -- the voxel's world position and the camera's screen axes (raycast.h)
        local p = {6 - (w - 1) / 2, 3 - (h - 1) / 2, 1 - (d - 1) / 2}
        local r = {math.cos(a), 0, -math.sin(a)}
        local d0 = {math.sin(a), 0, math.cos(a)}
        local u = {-math.sin(e) * d0[1], math.cos(e), -math.sin(e) * d0[3]}
        local function dot(q) return p[1] * q[1] + p[2] * q[2] + p[3] * q[3] end
        local col = dot(r) * zoom + (W - 1) / 2
        local row = dot(u) * zoom + (H - 1) / 2
        local i, j = argmax2(img)
        assert.is_true(math.abs(i - row) <= 0.5 and math.abs(j - col) <= 0.5,
          ("view %d/%d: brightest pixel %d,%d, projection %.2f,%.2f"):format(
            view[1], view[2], i, j, row, col))
      end
    end)
  end)

  it("MIP of axis-aligned views is the maximum along the axis", function()
    cv.manual_seed(11)
    local vol = cv.randn(6, 5, 4) -- D x H x W
    local front = raycast(vol, {mode = "max", azimuth = 0, elevation = 0, zoom = 1,
                                width = 4, height = 5})
    assert.is_true(cv.allclose(front[1], vol:max(1), 1e-5, 1e-5))
    -- from the side (azimuth 90) column j sees z = D-1-j, and the maximum over x
    local side = raycast(vol, {mode = "max", azimuth = 90, elevation = 0, zoom = 1,
                               width = 6, height = 5})
    local mx = vol:max(3):totable() -- D x H
    local s = side[1]:totable()
    for i = 1, 5 do
      for j = 1, 6 do assert.is_true(math.abs(s[i][j] - mx[7 - j][i]) < 1e-5) end
    end
    -- from above (elevation 90) row i sees z = D-1-i, and the maximum over y
    local top = raycast(vol, {mode = "max", azimuth = 0, elevation = 90, zoom = 1,
                              width = 4, height = 6})
    local my = vol:max(2):totable() -- D x W
    local tp = top[1]:totable()
    for i = 1, 6 do
      for j = 1, 4 do assert.is_true(math.abs(tp[i][j] - my[7 - i][j]) < 1e-5) end
    end
    -- rays that miss the volume are NaN
    local wide = raycast(vol, {mode = "max", azimuth = 0, elevation = 0, zoom = 1,
                               width = 8, height = 5})
    local row = wide[1][1]:totable()
    assert.is_true(row[1] ~= row[1] and row[8] ~= row[8] and row[4] == row[4])
  end)

  it("MIP pictures are the colormap of the maxima, the background elsewhere", function()
    local vol = bright_voxel(3, 3, 3, 1, 1, 1) * 0.5
    local img = raycast(vol, {mode = "mip", azimuth = 0, elevation = 0, zoom = 1,
                              width = 5, height = 3, range = {0, 1}, colormap = "viridis",
                              background = {10, 20, 30}})
    local r, g, b = core.render.color("viridis", 0.5)
    local r0, g0, b0 = core.render.color("viridis", 0)
    local t = img:totable()
    assert.same({r, g, b}, {math.floor(t[1][2][3] + 0.5), math.floor(t[2][2][3] + 0.5),
                            math.floor(t[3][2][3] + 0.5)})
    assert.same({r0, g0, b0}, {math.floor(t[1][1][2] + 0.5), math.floor(t[2][1][2] + 0.5),
                               math.floor(t[3][1][2] + 0.5)})
    assert.same({10, 20, 30}, {t[1][1][1], t[2][1][1], t[3][1][1]})
  end)

  describe("compositing", function()
    -- A uniform slab D voxels thick, seen head-on: opacity A = 1 - (1 - a)^D and
    -- colour c A + background (1 - A), whatever the step.
    local function slab(value, ramp, bg, d, step)
      local vol = cv.zeros(d, 3, 3) + value
      return raycast(vol, {mode = "composite", azimuth = 0, elevation = 0, zoom = 1,
                           width = 3, height = 3, range = {0, 1}, colormap = "viridis",
                           opacity = ramp, background = bg, step = step})
    end

    for _, step in ipairs{1, 0.5, 0.25} do
      it("of a uniform slab matches the closed form (step " .. step .. ")", function()
        for _, case in ipairs{{1, {0, 1, 0.1}, 8}, {0.5, {0, 1, 0.4}, 5}, {1, {0.2, 0.6, 0.05}, 12}} do
          local value, ramp, d = case[1], case[2], case[3]
          local bg = {40, 80, 120}
          local img = slab(value, ramp, bg, d, step):totable()
          local u = value
          local a = u <= ramp[1] and 0 or u >= ramp[2] and ramp[3]
                    or ramp[3] * (u - ramp[1]) / (ramp[2] - ramp[1])
          local A = 1 - (1 - a) ^ d
          local c = {core.render.color("viridis", u)}
          for ch = 1, 3 do
            local want = c[ch] * A + bg[ch] * (1 - A)
            local got = img[ch][2][2]
            -- the colormap's integer levels are exact; allow float rounding
            assert.is_true(math.abs(got - want) < 0.02,
              ("value %g, %d voxels, channel %d: %g, expected %g"):format(value, d, ch, got, want))
          end
        end
      end)
    end

    it("shows only the background where opacity is zero or rays miss", function()
      local img = slab(0.1, {0.5, 1, 1}, {1, 2, 3}, 4, 1):totable()
      assert.same({1, 2, 3}, {img[1][2][2], img[2][2][2], img[3][2][2]})
    end)

    it("is the same picture with one thread or two", function()
      cv.manual_seed(3)
      local vol = cv.randn(20, 16, 16):relu()
      local opts = {range = {0, 2}, width = 64, height = 48, azimuth = 37, elevation = 21}
      cv.set_num_threads(1)
      local one = raycast(vol, opts)
      cv.set_num_threads(2)
      local two = raycast(vol, opts)
      assert.are.equal(0, (one - two):abs():max():item())
    end)
  end)

  it("refuses bad input with a clear message", function()
    local v = cv.zeros(2, 2, 2)
    assert.has.error(function() raycast(cv.zeros(2, 2)) end,
      "raycast: expected a D x H x W volume, got 2x2")
    assert.has.error(function() raycast(v, {range = {1, 1}}) end,
      "raycast: range must have lo < hi, got 1, 1")
    assert.has.error(function() raycast(v, {mode = "xray"}) end,
      'raycast: mode must be "composite", "mip" or "max", got xray')
    assert.has.error(function() raycast(v, {opacity = {0.5, 0.2, 1}}) end,
      "raycast: opacity must be {u0, u1, a} with u0 < u1 and 0 <= a <= 1, got {0.5, 0.2, 1}")
    assert.has.error(function() raycast(v, {width = 0}) end,
      "raycast: picture size must be 1 to 16384, got 0 x 512")
    assert.has.error(function() raycast(v, {step = 0}) end,
      "raycast: step must be a positive number, got 0")
    assert.has.error(function() raycast(v, {colormap = "jet"}) end,
      "raycast: unknown colormap 'jet' (gray, viridis or diverging)")
    assert.has.error(function() raycast(v, {azimut = 3}) end,
      "raycast: unknown option 'azimut'")
  end)
end)
