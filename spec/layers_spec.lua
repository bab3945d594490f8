-- Layer kernels (cv.nn) against independent references:
--  * golden values from spec/fixtures/gen_layers.py (PyTorch in float64, and
--    numpy for Caffe's pooling rules), compared with the tolerance rule of
--    assert_close below;
--  * finite differences for every backward (see fdcheck);
--  * small cases worked out by hand.
local cv = require "cnnvis"
local nn = cv.nn

local FIX = "spec/fixtures/layers/"

-- A fixture file: its {shape, data} entries become tensors, numbers stay.
local function load(name)
  local raw = dofile(FIX .. name .. ".lua")
  local out = {}
  for k, v in pairs(raw) do
    if type(v) == "table" then
      local t = cv.tensor(v.data)
      out[k] = #v.shape > 0 and t:view(v.shape) or t
    else
      out[k] = v
    end
  end
  return out
end

local function flat(t)
  return t:contiguous():view(-1):totable()
end

-- Tolerance rule: every element within 1e-4 relative of the reference, where
-- "relative" is to max(|want|, 1% of the largest |want| in the tensor), so
-- that near-zero results of large sums are not held to an impossible bound.
local function assert_close(got, want, what, rtol)
  rtol = rtol or 1e-4
  assert.same(want:size(), got:size(), what .. ": shape")
  local g, w = flat(got), flat(want)
  local big = 0
  for i = 1, #w do big = math.max(big, math.abs(w[i])) end
  for i = 1, #w do
    local scale = math.max(math.abs(w[i]), 0.01 * big, 1e-30)
    if math.abs(g[i] - w[i]) > rtol * scale then
      error(string.format("%s: element %d is %.9g, expected %.9g", what, i, g[i], w[i]), 2)
    end
  end
end

-- sum(a * b), in double (Lua numbers).
local function dot(a, b)
  local ta, tb = flat(a), flat(b)
  local s = 0
  for i = 1, #ta do s = s + ta[i] * tb[i] end
  return s
end

-- Central differences of L = sum(r * f()) with respect to the contiguous
-- tensor x (changed in place and restored), against the analytic gradient.
-- The kernels are float32, so the step is read back from the stored values.
-- Tolerance: |numeric - analytic| <= tol * max(|analytic|, floor), with tol
-- 1e-2 and floor 1e-2 unless given (float32 forward, step 1e-2).
local function fdcheck(f, x, r, analytic, opts)
  opts = opts or {}
  local eps, tol, floor = opts.eps or 1e-2, opts.tol or 1e-2, opts.floor or 1e-2
  local xv, an = x:view(-1), flat(analytic)
  local n = #an
  local step = math.max(1, n // (opts.count or 40))
  for i = 1, n, step do
    local v = xv[i]:item()
    xv[i] = v + eps
    local hp, lp = xv[i]:item(), dot(f(), r)
    xv[i] = v - eps
    local hm, lm = xv[i]:item(), dot(f(), r)
    xv[i] = v
    local num = (lp - lm) / (hp - hm)
    if math.abs(num - an[i]) > tol * math.max(math.abs(an[i]), floor) then
      error(string.format("finite differences: element %d: numeric %.6g, analytic %.6g",
        i, num, an[i]), 2)
    end
  end
end

-- Values far apart (0.1), in a shuffled order: no ties and no kinks within
-- a finite-difference step.
local function spread(...)
  local size = {...}
  local n = 1
  for _, s in ipairs(size) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = (((i * 7919) % n) - n / 2) * 0.1 end
  return cv.tensor(v):view(size)
end

-- Uniform in [-1, 1) from the engine's seeded RNG.
local function rand(...)
  local size = {...}
  local v = flat(cv.rand(table.unpack(size)))
  for i = 1, #v do v[i] = 2 * v[i] - 1 end
  return cv.tensor(v):view(size)
end

-- Builds a tensor from a function of the 0-based flat index.
local function from(size, fn)
  local n = 1
  for _, s in ipairs(size) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = fn(i - 1) end
  return cv.tensor(v):view(size)
end

describe("nn", function()
  before_each(function() cv.manual_seed(7) end)

  describe("conv2d()", function()
    for _, case in ipairs{
      {"conv_basic", {stride = 2, pad = 1}},
      {"conv_group", {stride = {1, 2}, pad = {2, 1}, dilation = 2, group = 2}},
      {"conv_1x1", {}},
    } do
      local name, opts = case[1], case[2]
      it("matches PyTorch forward and backward: " .. name, function()
        local f = load(name)
        assert_close(nn.conv2d(f.x, f.w, f.b, opts), f.y, name .. " y")
        local dx, dw, db = nn.conv2d_backward(f.x, f.w, f.dy, opts)
        assert_close(dx, f.dx, name .. " dx")
        assert_close(dw, f.dw, name .. " dw")
        if f.db then assert_close(db, f.db, name .. " db") end
      end)
    end

    it("gives the same result per image as for the batch (threaded path)", function()
      local x, w, b = rand(5, 3, 9, 9), rand(4, 3, 3, 3), rand(4)
      local y = nn.conv2d(x, w, b, {pad = 1})
      for n = 1, 5 do
        local one = nn.conv2d(x:narrow(1, n, 1), w, b, {pad = 1})
        assert_close(one, y:narrow(1, n, 1), "image " .. n, 1e-6)
      end
    end)

    it("passes finite differences for x, w and b", function()
      local x, w, b = rand(2, 4, 5, 6), rand(6, 2, 3, 2), rand(6)
      local opts = {stride = {2, 1}, pad = 1, group = 2, dilation = {1, 2}}
      local r = nn.conv2d(x, w, b, opts)
      r = rand(table.unpack(r:size()))
      local dx, dw, db = nn.conv2d_backward(x, w, r, opts)
      local f = function() return nn.conv2d(x, w, b, opts) end
      fdcheck(f, x, r, dx)
      fdcheck(f, w, r, dw)
      fdcheck(f, b, r, db)
    end)

    it("names both shapes when weight channels do not match the input", function()
      assert.has.error(function() nn.conv2d(cv.zeros(1, 3, 8, 8), cv.zeros(4, 2, 3, 3)) end,
        "conv2d: weight 4x2x3x3 expects 2 input channels (group 1) but input 1x3x8x8 has 3")
      assert.has.error(function()
        nn.conv2d(cv.zeros(1, 4, 8, 8), cv.zeros(4, 1, 3, 3), nil, {group = 2})
      end, "conv2d: weight 4x1x3x3 expects 2 input channels (group 2) but input 1x4x8x8 has 4")
    end)

    it("rejects a group that does not divide the output channels", function()
      assert.has.error(function()
        nn.conv2d(cv.zeros(1, 4, 8, 8), cv.zeros(3, 2, 3, 3), nil, {group = 2})
      end, "conv2d: group 2 does not divide input channels 4 and output channels 3")
    end)

    it("rejects an input smaller than the kernel, a bad bias and bad options", function()
      assert.has.error(function() nn.conv2d(cv.zeros(1, 1, 2, 2), cv.zeros(1, 1, 3, 3)) end,
        "conv2d: input 1x1x2x2 padded by 0x0 is smaller than the kernel's extent 3x3")
      assert.has.error(function() nn.conv2d(cv.zeros(1, 1, 4, 4), cv.zeros(2, 1, 3, 3), cv.zeros(3)) end,
        "conv2d: bias is 3, expected 2")
      assert.has.error(function() nn.conv2d(cv.zeros(1, 1, 4, 4), cv.zeros(2, 1, 3, 3), nil, {stride = 0}) end,
        "conv2d: kernel 3x3, stride 0x0, dilation 1x1 and group 1 must all be positive")
      assert.has.error(function() nn.conv2d(cv.zeros(1, 4, 4), cv.zeros(2, 1, 3, 3)) end,
        "conv2d: input must be 4-d, got 1x4x4")
      assert.has.error(function() nn.conv2d(cv.zeros(1, 1, 4, 4), cv.zeros(2, 1, 3, 3), nil, {pad = "x"}) end,
        "option 'pad' must be an integer or {h, w}")
    end)
  end)

  describe("CaffeNet conv1 -> relu -> pool1 -> norm1 at full size", function()
    it("matches PyTorch at 1500 sampled positions of each blob", function()
      local f = load("caffenet_stage1")
      -- the same formulas as the generator (float64, rounded to float32)
      local formula = function(a, s)
        return function(i) return s * math.sin(a * i + 0.5 * math.cos(0.013 * i)) end
      end
      local x = from({1, 3, 227, 227}, formula(0.37, 100.0))
      local w = from({96, 3, 11, 11}, formula(0.11, 0.01))
      local b = from({96}, formula(0.7, 0.1))
      local conv1 = nn.conv2d(x, w, b, {stride = 4})
      local pool1 = nn.max_pool2d(nn.relu(conv1), {kernel = 3, stride = 2})
      local norm1 = nn.lrn(pool1, {size = 5, alpha = 1e-4, beta = 0.75})
      for key, blob in pairs{conv1 = conv1, pool1 = pool1, norm1 = norm1} do
        assert.same(flat(f[key .. "_shape"]), blob:size())
        local v, idx = flat(blob), flat(f[key .. "_index"])
        local got = {}
        for i, j in ipairs(idx) do got[i] = v[j + 1] end
        assert_close(cv.tensor(got), f[key .. "_value"], key)
      end
      local s = 0
      for _, v in ipairs(flat(conv1)) do s = s + v end
      assert.is_true(math.abs(s - f.conv1_sum) <= 1e-4 * math.abs(f.conv1_sum))
    end)
  end)
end)
