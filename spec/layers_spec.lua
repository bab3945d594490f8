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

    it("writes into opts.out when given", function()
      local x, w = rand(1, 2, 5, 5), rand(3, 2, 3, 3)
      local out = cv.zeros(1, 3, 3, 3)
      local y = nn.conv2d(x, w, nil, {out = out})
      assert.equal(out, y)
      assert_close(out, nn.conv2d(x, w), "out", 1e-6)
      assert.has.error(function() nn.conv2d(x, w, nil, {out = cv.zeros(1, 3, 3, 2)}) end,
        "conv2d: output is 1x3x3x2, expected 1x3x3x3")
      assert.has.error(function() nn.conv2d(x, w, nil, {out = cv.zeros(1, 3, 3, 3):transpose(3, 4)}) end,
        "conv2d: output must be contiguous")
      local lo = cv.zeros(2, 4)
      nn.linear(rand(2, 3), rand(4, 3), nil, {out = lo})
      assert.is_true(flat(lo)[1] ~= 0)
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

    it("handles empty sizes without calling BLAS on them", function()
      assert.same({1, 2, 2, 2}, nn.conv2d(cv.zeros(1, 0, 4, 4), cv.zeros(2, 0, 3, 3), cv.tensor{1, 2}):size())
      assert.same({{{{2, 2}, {2, 2}}}}, nn.conv2d(cv.zeros(1, 0, 2, 2), cv.zeros(1, 0, 1, 1), cv.tensor{2}):totable())
      local dx = nn.conv2d_backward(cv.ones(1, 2, 3, 3), cv.zeros(0, 2, 3, 3), cv.zeros(1, 0, 1, 1))
      assert.same(0, flat(dx)[1])
      assert.same({{0, 0, 0}}, nn.linear(cv.zeros(1, 0), cv.zeros(3, 0)):totable())
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
      assert.has.error(function() nn.conv2d(cv.zeros(1, 1, 4, 4), cv.zeros(2, 1, 3, 3), nil, {pad = 1.5}) end,
        "option 'pad' must be an integer or {h, w}")
      assert.has.error(function() nn.conv2d(cv.zeros(1, 2, 4, 4), cv.zeros(2, 1, 3, 3), nil, {group = 1.5}) end,
        "option 'group' must be an integer, got 1.5")
      local ok, msg = pcall(nn.conv2d, "x", cv.zeros(2, 1, 3, 3))
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*conv2d' %(tensor expected, got string%)", msg)
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

  describe("conv2d() 3x3 and 5x5 stride 1, by im2col and by Winograd's transforms", function()
    -- y, dx and dw against sums in double, on odd and even sizes, pads 0 to
    -- kernel - 1, groups, and the 16-channel edge: every element within 1e-5
    -- of the largest value (float32 sums of 144 to 1200 products in +-1).

    -- Calls visit(xi, wi, yi) (1-based flat indices) for every product
    -- x[xi] w[wi] that the convolution adds into y[yi], padding left out.
    local function each_product(xsize, wsize, pad, group, visit)
      local n, c, h, wd = table.unpack(xsize)
      local m, k = wsize[1], wsize[3]
      local oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
      local cg, mg = c // group, m // group
      for img = 0, n - 1 do
        for o = 0, m - 1 do
          local gi = o // mg
          for r = 0, oh - 1 do
            for q = 0, ow - 1 do
              local yi = ((img * m + o) * oh + r) * ow + q + 1
              for ci = 0, cg - 1 do
                local plane = (img * c + gi * cg + ci) * h * wd
                for kh = 0, k - 1 do
                  local hh = r + kh - pad
                  for kw = 0, k - 1 do
                    local ww = q + kw - pad
                    if hh >= 0 and hh < h and ww >= 0 and ww < wd then
                      visit(plane + hh * wd + ww + 1, ((o * cg + ci) * k + kh) * k + kw + 1, yi)
                    end
                  end
                end
              end
            end
          end
        end
      end
      return n, m, oh, ow
    end

    local function zeros(count)
      local t = {}
      for i = 1, count do t[i] = 0 end
      return t
    end

    -- y = x (*) w + b, and dx and dw of dy, summed in double.
    local function direct(x, w, b, pad, group)
      local xs, ws, bs = flat(x), flat(w), flat(b)
      local y = {}
      local n, m, oh, ow = each_product(x:size(), w:size(), pad, group, function(xi, wi, yi)
        y[yi] = (y[yi] or 0) + xs[xi] * ws[wi]
      end)
      for i = 1, n * m * oh * ow do y[i] = (y[i] or 0) + bs[(i - 1) // (oh * ow) % m + 1] end
      return cv.tensor(y):view(n, m, oh, ow)
    end

    local function direct_dx(x, w, dy, pad, group)
      local ws, ds, dx = flat(w), flat(dy), zeros(x:numel())
      each_product(x:size(), w:size(), pad, group, function(xi, wi, yi)
        dx[xi] = dx[xi] + ds[yi] * ws[wi]
      end)
      return cv.tensor(dx):view(x:size())
    end

    local function direct_dw(x, w, dy, pad, group)
      local xs, ds, dw = flat(x), flat(dy), zeros(w:numel())
      each_product(x:size(), w:size(), pad, group, function(xi, wi, yi)
        dw[wi] = dw[wi] + ds[yi] * xs[xi]
      end)
      return cv.tensor(dw):view(w:size())
    end

    local function within_largest(got, want, what)
      assert.same(want:size(), got:size(), what .. ": shape")
      local g, w, big, worst = flat(got), flat(want), 0, 0
      for i = 1, #w do big = math.max(big, math.abs(w[i])) end
      for i = 1, #w do worst = math.max(worst, math.abs(g[i] - w[i])) end
      assert.is_true(worst <= 1e-5 * big, string.format("%s: off by %.3g, largest %.3g", what, worst, big))
    end

    for _, case in ipairs{
      {{2, 16, 7, 7}, 16, 3, 1, 1}, {{1, 32, 6, 5}, 48, 3, 0, 2}, {{2, 16, 5, 8}, 16, 3, 2, 1},
      {{1, 40, 9, 9}, 32, 3, 1, 2}, {{2, 16, 7, 7}, 16, 5, 2, 1}, {{1, 32, 9, 6}, 32, 5, 4, 2},
      {{1, 16, 8, 11}, 24, 5, 0, 1}, {{1, 48, 6, 6}, 32, 5, 3, 2},
    } do
      local size, m, k, pad, group = table.unpack(case)
      for _, algorithm in ipairs{"im2col", "winograd"} do
        it(string.format("input %s, %d outputs, %dx%d, pad %d, group %d, %s", table.concat(size, "x"), m,
            k, k, pad, group, algorithm), function()
          local x, w, b = rand(table.unpack(size)), rand(m, size[2] // group, k, k), rand(m)
          local opts = {pad = pad, group = group, algorithm = algorithm}
          local y = nn.conv2d(x, w, b, opts)
          within_largest(y, direct(x, w, b, pad, group), "y")
          local dy = rand(table.unpack(y:size()))
          local dx, dw = nn.conv2d_backward(x, w, dy, opts)
          within_largest(dx, direct_dx(x, w, dy, pad, group), "dx")
          within_largest(dw, direct_dw(x, w, dy, pad, group), "dw")
        end)
      end
    end
  end)

  describe("conv2d() algorithm", function()
    -- CaffeNet's conv4 (3x3) and conv2 (5x5) at batch 8: the default is
    -- Winograd's, as close to im2col's as float32 allows (5x5's transforms
    -- round more: within 2e-5 of the largest value).
    for _, case in ipairs{{"conv4", {8, 384, 13, 13}, 384, 3, 1, 2, 1e-5},
                          {"conv2", {8, 96, 27, 27}, 256, 5, 2, 2, 2e-5}} do
      local name, size, m, k, pad, group, tol = table.unpack(case)
      it("is Winograd's by default for CaffeNet's " .. name .. " at batch 8, close to im2col's", function()
        local x, w, b = rand(table.unpack(size)), rand(m, size[2] // group, k, k), rand(m)
        local dy = rand(size[1], m, size[3], size[4])
        local function run(algorithm)
          local opts = {pad = pad, group = group, algorithm = algorithm}
          local y = nn.conv2d(x, w, b, opts)
          return y, nn.conv2d_backward(x, w, dy, opts)
        end
        local y1, dx1, dw1 = run("im2col")
        local y2, dx2, dw2 = run()
        local y3 = nn.conv2d(x, w, b, {pad = pad, group = group, algorithm = "winograd"})
        assert.same(flat(y3), flat(y2)) -- the default took the Winograd path
        for _, c in ipairs{{y2, y1, "y"}, {dx2, dx1, "dx"}, {dw2, dw1, "dw"}} do
          local d = (c[1] - c[2]):abs():max():item()
          local big = c[2]:abs():max():item()
          assert.is_true(d <= tol * big, string.format("%s: off by %.3g, largest %.3g", c[3], d, big))
          assert.is_true(d > 0, c[3] .. ": the two algorithms should round differently")
        end
      end)
    end

    it("can be set for every convolution, the net's too", function()
      local x, w = rand(8, 32, 9, 9), rand(32, 32, 5, 5)
      local winograd = nn.conv2d(x, w, nil, {pad = 2, algorithm = "winograd"})
      local im2col = nn.conv2d(x, w, nil, {pad = 2, algorithm = "im2col"})
      assert.equal("auto", nn.set_conv_algorithm("im2col"))
      assert.same(flat(im2col), flat(nn.conv2d(x, w, nil, {pad = 2})))
      assert.equal("im2col", nn.set_conv_algorithm("winograd"))
      assert.same(flat(winograd), flat(nn.conv2d(x, w, nil, {pad = 2})))
      -- where Winograd does not fit, the setting falls back to im2col
      assert.same(flat(nn.conv2d(x, w, nil, {stride = 2, algorithm = "im2col"})),
        flat(nn.conv2d(x, w, nil, {stride = 2})))
      assert.equal("winograd", nn.set_conv_algorithm("auto"))
      assert.has.error(function() nn.set_conv_algorithm("direct") end)
    end)

    it("names what Winograd's algorithm cannot take", function()
      assert.has.error(function()
        nn.conv2d(rand(1, 2, 9, 9), rand(2, 2, 3, 3), nil, {stride = 2, algorithm = "winograd"})
      end, "conv2d: the Winograd algorithm takes 3x3 or 5x5 kernels with stride 1, no dilation "
        .. "and equal pads smaller than the kernel, not kernel 3x3, stride 2x2, dilation 1x1, pad 0x0")
      assert.has.error(function()
        nn.conv2d(rand(1, 2, 9, 9), rand(2, 2, 7, 7), nil, {algorithm = "winograd"})
      end, "conv2d: the Winograd algorithm takes 3x3 or 5x5 kernels with stride 1, no dilation "
        .. "and equal pads smaller than the kernel, not kernel 7x7, stride 1x1, dilation 1x1, pad 0x0")
      assert.has.error(function() nn.conv2d(rand(1, 2, 9, 9), rand(2, 2, 3, 3), nil, {algorithm = "fft"}) end)
    end)
  end)

  describe("conv2d_filter_grad_norms() / linear_filter_grad_norms()", function()
    -- the reference: one backward per image, then each filter's weight norm
    local function row_norms(dw)
      local rows, t = dw:size(1), flat(dw)
      local per, out = #t // rows, {}
      for m = 1, rows do
        local s = 0
        for k = (m - 1) * per + 1, m * per do s = s + t[k] * t[k] end
        out[m] = math.sqrt(s)
      end
      return out
    end

    it("equal the norms of per-image conv weight gradients", function()
      local x, w = rand(5, 4, 7, 6), rand(6, 2, 3, 3)
      local opts = {pad = 1, stride = 2, group = 2}
      local dy = rand(5, 6, 4, 3)
      local norms = nn.conv2d_filter_grad_norms(x, w, dy, opts)
      assert.same({5, 6}, norms:size())
      local want = {}
      for n = 1, 5 do
        local _, dw = nn.conv2d_backward(x:narrow(1, n, 1), w, dy:narrow(1, n, 1), opts)
        want[n] = row_norms(dw)
      end
      assert_close(norms, cv.tensor(want), "norms", 1e-5)
    end)

    it("are the same bits at any thread count and batch size", function()
      -- 62 x 62 output positions: a GEMM on 2 threads splits that sum
      local x, w, dy = rand(3, 3, 64, 64), rand(8, 3, 3, 3), rand(3, 8, 62, 62)
      local threads = cv.get_num_threads()
      local runs = {}
      for _, t in ipairs{1, 2} do
        cv.set_num_threads(t)
        runs[t] = {all = flat(nn.conv2d_filter_grad_norms(x, w, dy)),
                   one = flat(nn.conv2d_filter_grad_norms(x:narrow(1, 1, 1), w, dy:narrow(1, 1, 1)))}
      end
      cv.set_num_threads(threads)
      assert.same(runs[1], runs[2])
      assert.same({table.unpack(runs[1].all, 1, 8)}, runs[1].one)
    end)

    it("equal the norms of per-sample linear weight gradients", function()
      local x, w, dy = rand(3, 2, 4), rand(5, 8), rand(3, 5)
      local norms = nn.linear_filter_grad_norms(x, w, dy)
      local want = {}
      for n = 1, 3 do
        local _, dw = nn.linear_backward(x:narrow(1, n, 1), w, dy:narrow(1, n, 1))
        want[n] = row_norms(dw)
      end
      assert_close(norms, cv.tensor(want), "norms", 1e-5)
    end)
  end)

  describe("max_pool2d() / avg_pool2d()", function()
    for _, case in ipairs{
      {"pool_max", "max"}, {"pool_max_pad", "max"}, {"pool_ave", "avg"},
      {"pool_ave_edge", "avg"}, {"pool_ave_ceil", "avg"},
    } do
      local name, kind = case[1], case[2]
      it("follows Caffe's output size and edge rules: " .. name, function()
        local f = load(name)
        local opts = {kernel = {f.kh, f.kw}, stride = {f.sh, f.sw}, pad = {f.ph, f.pw}}
        assert_close(nn[kind .. "_pool2d"](f.x, opts), f.y, name .. " y")
        assert_close(nn[kind .. "_pool2d_backward"](f.x, f.dy, opts), f.dx, name .. " dx")
      end)
    end

    it("uses Caffe's size rule: a last window starting in the padding is dropped", function()
      -- H = 4, k = 2, s = 2, pad 1: ceil((4 + 2 - 2) / 2) + 1 = 3; (3-1)*2 = 4 < 5: kept
      assert.same({1, 1, 3, 3}, nn.max_pool2d(cv.zeros(1, 1, 4, 4), {kernel = 2, stride = 2, pad = 1}):size())
      -- H = 5, k = 3, s = 3, pad 1: ceil(4 / 3) + 1 = 3; (3-1)*3 = 6 >= 6: dropped
      assert.same({1, 1, 2, 2}, nn.max_pool2d(cv.zeros(1, 1, 5, 5), {kernel = 3, stride = 3, pad = 1}):size())
      -- CaffeNet pool1: 55 -> 27 (ceil mode)
      assert.same({1, 1, 27, 27}, nn.max_pool2d(cv.zeros(1, 1, 55, 55), {kernel = 3, stride = 2}):size())
    end)

    it("keeps Caffe's window beyond the input when stride > kernel and pad = 0", function()
      -- W = 5, k = 1, s = 3: ceil(4 / 3) + 1 = 3 windows at 0, 3, 6; Caffe only
      -- drops the last one when padded (PyTorch drops it here). It is empty:
      -- MAX leaves -FLT_MAX there, AVE 0.
      local x = cv.tensor{{{{1, 2, 3, 4, 5}}}}
      local y = flat(nn.max_pool2d(x, {kernel = 1, stride = 3}))
      assert.same(3, #y)
      assert.same({1, 4}, {y[1], y[2]})
      assert.is_true(y[3] < -3e38)
      assert.same({1, 4, 0}, flat(nn.avg_pool2d(x, {kernel = 1, stride = 3})))
    end)

    -- MAX by a scan of each window in Caffe's order: its first pixel, then
    -- each strictly greater one (so NaN stays only as a first pixel, and of
    -- 0 and -0 the first stays); an empty window leaves -FLT_MAX.
    local function scan_max(x, kh, kw, sh, sw, ph, pw, oh, ow)
      local t, y = x:totable(), {}
      for n = 1, #t do
        y[n] = {}
        for c = 1, #t[n] do
          local p, h, w = t[n][c], #t[n][c], #t[n][c][1]
          y[n][c] = {}
          for i = 0, oh - 1 do
            y[n][c][i + 1] = {}
            for j = 0, ow - 1 do
              local h0, w0 = i * sh - ph, j * sw - pw
              local h1, w1 = math.min(h0 + kh, h), math.min(w0 + kw, w)
              h0, w0 = math.max(h0, 0), math.max(w0, 0)
              local m
              for a = h0, h1 - 1 do
                for b = w0, w1 - 1 do
                  local v = p[a + 1][b + 1]
                  if m == nil or v > m then m = v end
                end
              end
              y[n][c][i + 1][j + 1] = m or -3.4028234663852886e38
            end
          end
        end
      end
      return y
    end

    local function same_bits(got, want, what)
      local g, w = flat(cv.tensor(got)), flat(cv.tensor(want))
      assert.equal(#w, #g, what)
      for i = 1, #w do
        local ok = (g[i] ~= g[i] and w[i] ~= w[i]) or string.pack("f", g[i]) == string.pack("f", w[i])
        assert.is_true(ok, string.format("%s: at %d got %s, want %s", what, i, g[i], w[i]))
      end
    end

    for _, case in ipairs{
      {{2, 3, 55, 55}, 3, 2, 0}, {{1, 4, 13, 13}, 3, 2, 0}, {{1, 2, 9, 8}, 2, 2, 1},
      {{1, 2, 7, 11}, 3, 3, 1}, {{1, 2, 6, 5}, 1, 3, 0}, {{1, 2, 5, 6}, 4, 1, 2},
    } do
      local size, k, stride, pad = table.unpack(case)
      it(string.format("takes MAX as a scan does, with and without the tape, NaN and -0 too: "
          .. "%s, kernel %d, stride %d, pad %d", table.concat(size, "x"), k, stride, pad), function()
        local opts = {kernel = k, stride = stride, pad = pad}
        local x = cv.randn(table.unpack(size))
        local odd = x:clone()
        local planes = size[1] * size[2]
        local flat_odd = odd:view(planes, size[3] * size[4])
        local w = size[4]
        -- the first plane: NaN atop a column whose next pixel is the
        -- window's maximum, and NaN as the last pixel
        flat_odd[{1, 2}] = 0 / 0
        flat_odd[{1, w + 2}] = 100
        flat_odd[{1, size[3] * w}] = 0 / 0
        -- the last: -1 everywhere but -0 right of the corner, 0 below it;
        -- the first of the two in scan order stays
        flat_odd[planes] = -1
        flat_odd[{planes, 2}] = -0.0
        flat_odd[{planes, w + 1}] = 0.0
        for _, input in ipairs{x, cv.nn.relu(x), odd} do
          local y = nn.max_pool2d(input, opts)
          local want = scan_max(input, k, k, stride, stride, pad, pad, y:size(3), y:size(4))
          same_bits(y, want, "without the tape")
          local leaf = input:clone()
          leaf.requires_grad = true
          same_bits(nn.max_pool2d(leaf, opts):detach(), want, "taped")
        end
      end)
    end

    it("routes a tie's gradient to the first maximum in scan order", function()
      local x = cv.tensor{{{{1, 5}, {5, 5}}}}
      local dx = nn.max_pool2d_backward(x, cv.tensor{{{{3}}}}, {kernel = 2})
      assert.same({{{{0, 3}, {0, 0}}}}, dx:totable())
    end)

    it("ignores padding in MAX and divides AVE by the window within the padded input", function()
      local x = cv.tensor{{{{-1, -2}, {-3, -4}}}}
      -- pad 1, kernel 2, stride 2 on 2x2: windows hold one pixel each
      assert.same({{{{-1, -2}, {-3, -4}}}}, nn.max_pool2d(x, {kernel = 2, stride = 2, pad = 1}):totable())
      -- each window covers 2x2 of the padded 4x4, one real pixel: divide by 4
      assert.same({{{{-0.25, -0.5}, {-0.75, -1}}}}, nn.avg_pool2d(x, {kernel = 2, stride = 2, pad = 1}):totable())
    end)

    it("pools globally", function()
      local x = cv.tensor{{{{1, 2}, {3, 6}}, {{0, 0}, {0, -4}}}}
      assert.same({{{{3}}, {{-1}}}}, nn.avg_pool2d(x, {global = true}):totable())
      assert.same({{{{6}}, {{0}}}}, nn.max_pool2d(x, {global = true}):totable())
    end)

    it("passes finite differences", function()
      local x = spread(2, 2, 7, 6)
      for _, kind in ipairs{"max", "avg"} do
        local opts = {kernel = 3, stride = 2, pad = 1}
        local y = nn[kind .. "_pool2d"](x, opts)
        local r = rand(table.unpack(y:size()))
        local dx = nn[kind .. "_pool2d_backward"](x, r, opts)
        fdcheck(function() return nn[kind .. "_pool2d"](x, opts) end, x, r, dx, {eps = 1e-2})
      end
    end)

    it("on the tape, routes MAX gradients by the argmax the forward kept, as the kernel does", function()
      -- Many ties (values 0..3), padding, clipped ceil-mode windows, and
      -- CaffeNet's pool1 geometry: forward and gradient must equal the
      -- kernels' exactly (the tape's backward does not scan windows again).
      cv.manual_seed(7)
      for _, case in ipairs{
        {{2, 3, 9, 9}, {kernel = 3, stride = 2}},
        {{1, 2, 7, 6}, {kernel = 3, stride = 2, pad = 1}},
        {{1, 1, 5, 5}, {kernel = 1, stride = 3}},
        {{1, 2, 4, 4}, {kernel = 2, stride = 2, pad = 1}},
        {{2, 4, 55, 55}, {kernel = 3, stride = 2}},
      } do
        local size, opts = case[1], case[2]
        local n, values = size[1] * size[2] * size[3] * size[4], {}
        for i = 1, n do values[i] = (i * 7919 + i // 5) % 4 end
        local x = cv.tensor(values):view(size)
        local leaf = x:clone()
        leaf.requires_grad = true
        local y = nn.max_pool2d(leaf, opts)
        local dy = cv.randn(table.unpack(y:size()))
        y:backward(dy)
        assert.same(flat(nn.max_pool2d(x, opts)), flat(y:detach()))
        assert.same(flat(nn.max_pool2d_backward(x, dy, opts)), flat(leaf.grad))
      end
    end)

    it("rejects bad geometry", function()
      assert.has.error(function() nn.max_pool2d(cv.zeros(1, 1, 4, 4), {kernel = 2, pad = 2}) end,
        "pool2d: pad 2x2 must be smaller than kernel 2x2")
      assert.has.error(function() nn.max_pool2d(cv.zeros(1, 1, 4, 4), {}) end,
        "pool2d: option 'kernel' is required")
      assert.has.error(function() nn.avg_pool2d(cv.zeros(1, 1, 2, 2), {kernel = 3}) end,
        "pool2d: input 1x1x2x2 padded by 0x0 is smaller than kernel 3x3")
      assert.has.error(function()
        nn.max_pool2d_backward(cv.zeros(1, 1, 4, 4), cv.zeros(1, 1, 3, 3), {kernel = 2, stride = 2})
      end, "pool2d: output gradient is 1x1x3x3, expected 1x1x2x2")
    end)
  end)

  describe("lrn()", function()
    for _, region in ipairs{"across", "within"} do
      it("matches PyTorch forward and backward: " .. region, function()
        local f = load("lrn_" .. region)
        local opts = {region = region, size = f.size, alpha = f.alpha, beta = f.beta, k = f.k}
        assert_close(nn.lrn(f.x, opts), f.y, region .. " y")
        assert_close(nn.lrn_backward(f.x, f.dy, opts), f.dx, region .. " dx")
      end)

      it("passes finite differences: " .. region, function()
        local x = rand(2, 5, 3, 4)
        local opts = {region = region, size = 3, alpha = 2, beta = 0.75, k = 1.5}
        local r = rand(2, 5, 3, 4)
        fdcheck(function() return nn.lrn(x, opts) end, x, r, nn.lrn_backward(x, r, opts))
      end)
    end

    it("computes ACROSS by hand on one pixel", function()
      -- channels 1, 2, 3; size 3, alpha 3, beta 1, k 1: scale_c = 1 + sum of squares
      local y = flat(nn.lrn(cv.tensor{{{{1}}, {{2}}, {{3}}}}, {size = 3, alpha = 3, beta = 1, k = 1}))
      assert.near(1 / 6, y[1], 1e-7)
      assert.near(2 / 15, y[2], 1e-7)
      assert.near(3 / 14, y[3], 1e-7)
    end)

    it("rejects an even size and an unknown region", function()
      assert.has.error(function() nn.lrn(cv.zeros(1, 3, 2, 2), {size = 4}) end,
        "lrn: size 4 must be odd and positive")
      assert.has.error(function() nn.lrn(cv.zeros(1, 3, 2, 2), {region = "x"}) end,
        'lrn: region must be "across" or "within"')
    end)
  end)

  describe("linear()", function()
    for _, case in ipairs{
      {"linear", {}}, {"linear_t", {transpose = true}}, {"linear_b1", {}},
      {"linear_axis2", {dim = 3}},
    } do
      local name, opts = case[1], case[2]
      it("matches PyTorch forward and backward: " .. name, function()
        local f = load(name)
        assert_close(nn.linear(f.x, f.w, f.b, opts), f.y, name .. " y")
        local dx, dw, db = nn.linear_backward(f.x, f.w, f.dy, opts)
        assert_close(dx, f.dx, name .. " dx")
        assert_close(dw, f.dw, name .. " dw")
        assert_close(db, f.db, name .. " db")
      end)
    end

    it("passes finite differences (batch 1 and batch 3)", function()
      for _, n in ipairs{1, 3} do
        local x, w, b = rand(n, 2, 3), rand(4, 6), rand(4)
        local r = rand(n, 4)
        local dx, dw, db = nn.linear_backward(x, w, r)
        local f = function() return nn.linear(x, w, b) end
        fdcheck(f, x, r, dx)
        fdcheck(f, w, r, dw)
        fdcheck(f, b, r, db)
      end
    end)

    it("gives a row the same sums alone as in a batch of up to 32 rows", function()
      local x, w = rand(32, 301), rand(37, 301) -- tails of lanes and of column blocks
      for _, n in ipairs{1, 3, 8, 32} do
        local y = nn.linear(x:narrow(1, 1, n), w)
        for i = 1, n do
          local alone = nn.linear(x:narrow(1, i, 1), w)
          assert.are.equal(0, (y:narrow(1, i, 1) - alone):abs():max():item())
        end
      end
    end)

    it("names both shapes when the weight does not fit", function()
      assert.has.error(function() nn.linear(cv.zeros(2, 3, 2), cv.zeros(4, 5)) end,
        "linear: weight 4x5 expects 5 inputs but input 2x3x2 has 6 from axis 1 on")
    end)
  end)

  describe("relu() / sigmoid() / tanh() / power()", function()
    it("match PyTorch", function()
      local f = load("elementwise")
      assert_close(nn.relu(f.x, 0.1), f.relu, "relu")
      assert_close(nn.sigmoid(f.x), f.sigmoid, "sigmoid")
      assert_close(nn.tanh(f.x), f.tanh, "tanh")
      assert_close(nn.power(f.x, {power = 3, scale = 0.5, shift = 1.5}), f.power, "power")
      assert.same({{0, 0, 2}}, nn.relu(cv.tensor{{-1, 0, 2}}):totable())
    end)

    it("pass finite differences", function()
      local x = spread(3, 5)
      local r = rand(3, 5)
      local function check(fwd, back)
        fdcheck(fwd, x, r, back(), {eps = 1e-3})
      end
      check(function() return nn.relu(x, 0.2) end, function() return nn.relu_backward(x, r, 0.2) end)
      check(function() return nn.sigmoid(x) end, function() return nn.sigmoid_backward(nn.sigmoid(x), r) end)
      check(function() return nn.tanh(x) end, function() return nn.tanh_backward(nn.tanh(x), r) end)
      local p = {power = 2.5, scale = 0.3, shift = 3}
      check(function() return nn.power(x, p) end, function() return nn.power_backward(x, r, p) end)
    end)

    it("give relu Caffe's values across threads: +0 below zero at slope 0, NaN kept", function()
      local n = 100003 -- parallel, with a tail past the vectors
      local x = cv.randn(n)
      x[{7}] = 0 / 0
      x[{8}] = -2
      local y, d = nn.relu(x), nn.relu_backward(x, x, 0.5)
      local xs, ys, ds = x:totable(), y:totable(), d:totable()
      for i = 1, n, 97 do
        if i ~= 7 then
          assert.are.equal(xs[i] > 0 and xs[i] or 0, ys[i])
          assert.are.equal(xs[i] > 0 and xs[i] or 0.5 * xs[i], ds[i])
        end
      end
      assert.is_true(ys[7] ~= ys[7] and ds[7] ~= ds[7])
      assert.are.equal(math.huge, 1 / ys[8]) -- +0, not -0
    end)

    it("give power 0 a zero gradient and check shapes", function()
      local x = cv.tensor{1, 2}
      assert.same({1, 1}, nn.power(x, {power = 0}):totable())
      assert.same({0, 0}, nn.power_backward(x, cv.tensor{1, 1}, {power = 0}):totable())
      assert.has.error(function() nn.relu_backward(x, cv.zeros(3)) end,
        "relu: output gradient is 3 but input is 2")
    end)
  end)

  describe("dropout()", function()
    it("is the identity at test time", function()
      local x = rand(4, 5)
      local y, mask = nn.dropout(x, 0.5)
      assert.same(x:totable(), y:totable())
      assert.same(cv.ones(4, 5):totable(), mask:totable())
    end)

    it("keeps 1 - ratio of the units at train time, scaled by 1/(1 - ratio)", function()
      local x = cv.ones(100, 100)
      local y, mask = nn.dropout(x, 0.75, true)
      local kept = 0
      for _, v in ipairs(flat(y)) do
        assert.is_true(v == 0 or v == 4)
        if v == 4 then kept = kept + 1 end
      end
      assert.near(0.25, kept / 10000, 0.02)
      assert.same(y:totable(), mask:totable())
      local dx = nn.dropout_backward(mask, cv.full(100, 100, 0.5))
      assert.same(flat(dx)[1], flat(mask)[1] * 0.5)
      cv.manual_seed(7)
      local _, again = nn.dropout(x, 0.75, true)
      assert.same(mask:totable(), again:totable())
    end)

    it("rejects a ratio outside [0, 1)", function()
      assert.has.error(function() nn.dropout(cv.zeros(2), 1) end,
        "dropout: ratio 1 must be in [0, 1)")
    end)
  end)

  describe("softmax() / softmax_loss() / accuracy()", function()
    it("softmax matches PyTorch along dim 2, forward and backward", function()
      local f = load("softmax")
      local y = nn.softmax(f.x, 2)
      assert_close(y, f.y, "softmax y")
      assert_close(nn.softmax_backward(y, f.dy, 2), f.dx, "softmax dx")
    end)

    it("softmax subtracts the max (no overflow) and passes finite differences", function()
      local y = flat(nn.softmax(cv.tensor{1000, 1000}, 1))
      assert.same({0.5, 0.5}, y)
      local x, r = rand(3, 4, 2), rand(3, 4, 2)
      local dx = nn.softmax_backward(nn.softmax(x, 2), r, 2)
      fdcheck(function() return nn.softmax(x, 2) end, x, r, dx, {eps = 1e-2, floor = 1e-1})
    end)

    it("softmax_loss is the mean over counted samples, skipping ignore_label", function()
      local f = load("softmax_loss")
      local opts = {ignore_label = 255}
      local loss, prob = nn.softmax_loss(f.x, f.labels, opts)
      assert.near(f.loss, loss, 1e-4 * f.loss)
      assert_close(nn.softmax_loss_backward(prob, f.labels, opts), f.dx, "loss dx")
    end)

    it("softmax_loss divides as Caffe's normalization says", function()
      -- two samples of 2 classes with equal scores: each costs log 2; one ignored
      local x, labels = cv.zeros(2, 2), cv.tensor{1, 5}
      local l2 = math.log(2)
      local function loss(norm)
        return (nn.softmax_loss(x, labels, {ignore_label = 5, normalization = norm}))
      end
      assert.near(l2, loss("valid"), 1e-7)
      assert.near(l2 / 2, loss("full"), 1e-7)
      assert.near(l2 / 2, loss("batch_size"), 1e-7)
      assert.near(l2, loss("none"), 1e-7)
      local _, prob = nn.softmax_loss(x, labels, {ignore_label = 5})
      local dx = nn.softmax_loss_backward(prob, labels, {ignore_label = 5, normalization = "full"})
      assert.same({{0.25, -0.25}, {0, 0}}, dx:totable())
    end)

    it("softmax_loss passes finite differences and names a bad label", function()
      local x, labels = rand(4, 3), cv.tensor{2, 0, 1, 1}
      local _, prob = nn.softmax_loss(x, labels)
      local dx = nn.softmax_loss_backward(prob, labels)
      local one = cv.ones(1)
      fdcheck(function() return cv.tensor{(nn.softmax_loss(x, labels))} end, x, one, dx,
        {floor = 1e-1})
      assert.has.error(function() nn.softmax_loss(x, cv.tensor{2, 0, 3, 1}) end,
        "softmax_loss: label 3 at sample 2 is not a class in [0, 3)")
      assert.has.error(function() nn.softmax_loss(x, cv.tensor{1, 2}) end,
        "softmax_loss: labels 2 must have one value per sample of input 4x3 (4)")
    end)

    it("accuracy counts top_k hits; ties count against the label", function()
      local x = cv.tensor{{0.1, 0.7, 0.2}, {0.5, 0.3, 0.2}, {0.4, 0.4, 0.2}}
      local labels = cv.tensor{1, 1, 0}
      assert.near(1 / 3, nn.accuracy(x, labels), 1e-12)
      assert.near(1, nn.accuracy(x, labels, {top_k = 2}), 1e-12)
      assert.near(1 / 2, nn.accuracy(x, labels, {ignore_label = 0}), 1e-12)
      assert.has.error(function() nn.accuracy(x, labels, {top_k = 0}) end,
        "accuracy: top_k 0 must be positive")
    end)
  end)

  describe("concat() / eltwise() / split_backward()", function()
    it("concatenates along a dim and splits the gradient back", function()
      local a, b = cv.tensor{{1, 2}, {3, 4}}, cv.tensor{{5}, {6}}
      local y = nn.concat({a, b}, 2)
      assert.same({{1, 2, 5}, {3, 4, 6}}, y:totable())
      assert.same({{1, 2}, {3, 4}, {9, 9}}, nn.concat({a, cv.full(1, 2, 9)}, 1):totable())
      local g = nn.concat_backward(cv.tensor{{1, 2, 3}, {4, 5, 6}}, {a, b}, 2)
      assert.same({{1, 2}, {4, 5}}, g[1]:totable())
      assert.same({{3}, {6}}, g[2]:totable())
      assert.has.error(function() nn.concat({a, cv.zeros(3, 1)}, 2) end,
        "concat: input 2 is 3x1 but input 1 is 2x2 (only axis 1 may differ)")
    end)

    it("adds with coefficients, multiplies and takes the max", function()
      local a, b = cv.tensor{1, -2, 3}, cv.tensor{2, 5, -1}
      assert.same({0, -9, 7}, nn.eltwise({a, b}, {coeffs = {2, -1}}):totable())
      assert.same({2, -10, -3}, nn.eltwise({a, b}, {op = "prod"}):totable())
      assert.same({2, 5, 3}, nn.eltwise({a, b}, {op = "max"}):totable())
      local g = nn.eltwise_backward({a, cv.tensor{1, 5, 0}}, cv.tensor{1, 1, 1}, {op = "max"})
      assert.same({1, 0, 1}, g[1]:totable()) -- the tie at 1 goes to the first input
      assert.same({0, 1, 0}, g[2]:totable())
      assert.has.error(function() nn.eltwise({a, cv.zeros(2)}) end,
        "eltwise: input 2 is 2 but input 1 is 3")
    end)

    it("eltwise passes finite differences for sum, prod and max", function()
      local a, b, c = spread(2, 3), rand(2, 3), rand(2, 3)
      local r = rand(2, 3)
      for _, opts in ipairs{{op = "sum", coeffs = {0.5, -2, 3}}, {op = "prod"}, {op = "max"}} do
        local g = nn.eltwise_backward({a, b, c}, r, opts)
        fdcheck(function() return nn.eltwise({a, b, c}, opts) end, a, r, g[1], {eps = 1e-3})
      end
    end)

    it("split_backward sums the gradients", function()
      assert.same({4, 6}, nn.split_backward({cv.tensor{1, 2}, cv.tensor{3, 4}}):totable())
    end)
  end)

  describe("flatten() / reshape()", function()
    it("follow Caffe's Flatten and Reshape parameters", function()
      local x = cv.zeros(2, 3, 4, 5)
      assert.same({2, 60}, nn.flatten(x):size())
      assert.same({2, 12, 5}, nn.flatten(x, {dim = 2, end_dim = 3}):size())
      assert.same({2, 3, 20}, nn.reshape(x, {0, 0, -1}):size())
      assert.same({2, 3, 2, 2, 5}, nn.reshape(x, {2, 2}, {dim = 3, num_axes = 1}):size())
      assert.has.error(function() nn.reshape(x, {7, -1}) end,
        "reshape: cannot infer the -1 dim for input 2x3x4x5")
      assert.has.error(function() nn.reshape(x, {2, 3}) end,
        "reshape: input 2x3x4x5 (120 elements) cannot become 2x3 (6)")
    end)
  end)

  describe("batch_norm() / scale()", function()
    it("match PyTorch with global statistics and Caffe's scale factor", function()
      local f = load("batchnorm")
      local y, _, var = nn.batch_norm(f.x, f.mean, f.var, f.factor)
      assert_close(y, f.y_global, "global y")
      local dx = nn.batch_norm_backward(y, var, f.dy, {use_global_stats = true})
      assert_close(dx, f.dx_global, "global dx")
    end)

    it("match PyTorch with batch statistics", function()
      local f = load("batchnorm")
      local y, _, var = nn.batch_norm(f.x)
      assert_close(y, f.y_batch, "batch y")
      assert_close(nn.batch_norm_backward(y, var, f.dy), f.dx_batch, "batch dx", 1e-3)
    end)

    it("scale matches PyTorch forward and backward", function()
      local f = load("batchnorm")
      assert_close(nn.scale(f.x, f.gamma, f.beta), f.y_scale, "scale y")
      local dx, dg, db = nn.scale_backward(f.x, f.gamma, f.dy)
      assert_close(dx, f.dx_scale, "scale dx")
      assert_close(dg, f.dgamma, "dgamma")
      assert_close(db, f.dbeta, "dbeta")
    end)

    it("update the stored statistics as Caffe does in training", function()
      -- x: 2 samples x 1 channel x 2 values: m = 4
      local x = cv.tensor{{{1, 3}}, {{5, 7}}}
      local _, bm, bv = nn.batch_norm(x)
      assert.same({4}, flat(bm))
      assert.same({5}, flat(bv)) -- biased: (9 + 1 + 1 + 9) / 4
      local mean, var, factor = cv.tensor{2}, cv.tensor{1}, cv.tensor{1}
      nn.batch_norm_update(x, bm, bv, mean, var, factor, {moving_average_fraction = 0.5})
      assert.same({5}, flat(mean))                 -- 4 + 0.5 * 2
      assert.near(5 * 4 / 3 + 0.5, flat(var)[1], 1e-6) -- unbiased + 0.5 * 1
      assert.same({1.5}, flat(factor))             -- 0.5 * 1 + 1
    end)

    it("turn a zero scale factor into zero statistics", function()
      local y = nn.batch_norm(cv.full(1, 2, 1, 1, 3), cv.ones(2), cv.ones(2), cv.zeros(1), {eps = 1})
      assert.same({3, 3}, flat(y))
    end)

    it("pass finite differences (batch statistics)", function()
      local x, r = rand(3, 2, 2, 2), rand(3, 2, 2, 2)
      local y, _, var = nn.batch_norm(x)
      fdcheck(function() return (nn.batch_norm(x)) end, x, r, nn.batch_norm_backward(y, var, r),
        {eps = 1e-2, tol = 2e-2, floor = 1e-1})
    end)

    it("scale and global batch_norm pass finite differences", function()
      local x, r = rand(2, 3, 2, 2), rand(2, 3, 2, 2)
      local gamma, beta = rand(3), rand(3)
      local dx, dg, db = nn.scale_backward(x, gamma, r)
      local f = function() return nn.scale(x, gamma, beta) end
      fdcheck(f, x, r, dx)
      fdcheck(f, gamma, r, dg)
      fdcheck(f, beta, r, db)
      local mean, var, factor = rand(3), cv.tensor{0.5, 1, 2}, cv.tensor{2}
      local y, _, v = nn.batch_norm(x, mean, var, factor)
      local gx = nn.batch_norm_backward(y, v, r, {use_global_stats = true})
      fdcheck(function() return (nn.batch_norm(x, mean, var, factor)) end, x, r, gx)
    end)

    it("names the mismatching shapes", function()
      assert.has.error(function() nn.batch_norm(cv.zeros(1, 3, 2), cv.zeros(2), cv.zeros(2)) end,
        "batchnorm: mean is 2, expected 3")
      assert.has.error(function() nn.scale(cv.zeros(1, 3, 2), cv.zeros(2)) end,
        "scale: scale 2 does not match input 1x3x2 from axis 2")
    end)
  end)

  describe("set_num_threads()", function()
    it("sets the count that the kernels use, with the same results", function()
      local before = cv.get_num_threads()
      local x, w = rand(4, 3, 8, 8), rand(5, 3, 3, 3)
      local y = nn.conv2d(x, w, nil, {pad = 1})
      local dy = rand(4, 5, 8, 8)
      local dx, dw, db = nn.conv2d_backward(x, w, dy, {pad = 1})
      cv.set_num_threads(1)
      assert.equal(1, cv.get_num_threads())
      assert_close(nn.conv2d(x, w, nil, {pad = 1}), y, "1 thread", 1e-5)
      local dx1, dw1, db1 = nn.conv2d_backward(x, w, dy, {pad = 1})
      assert_close(dx1, dx, "dx, 1 thread", 1e-5)
      assert_close(dw1, dw, "dw, 1 thread", 1e-5)
      assert_close(db1, db, "db, 1 thread", 1e-5)
      cv.set_num_threads(before)
      assert.equal(before, cv.get_num_threads())
      assert.has.error(function() cv.set_num_threads(0) end)
    end)
  end)

  describe("a small CaffeNet chained from the kernels", function()
    -- The generator's formulas and layer list (spec/fixtures/gen_layers.py).
    local MINI = {
      {"conv1_w", {8, 3, 11, 11}, 0.31, 0.08}, {"conv1_b", {8}, 0.5, 0.1},
      {"conv2_w", {16, 4, 5, 5}, 0.23, 0.15}, {"conv2_b", {16}, 0.6, 0.1},
      {"conv3_w", {24, 16, 3, 3}, 0.17, 0.12}, {"conv3_b", {24}, 0.7, 0.1},
      {"conv4_w", {24, 12, 3, 3}, 0.13, 0.14}, {"conv4_b", {24}, 0.8, 0.1},
      {"conv5_w", {16, 12, 3, 3}, 0.19, 0.14}, {"conv5_b", {16}, 0.9, 0.1},
      {"fc6_w", {32, 16}, 0.29, 0.35}, {"fc6_b", {32}, 1.1, 0.1},
      {"fc7_w", {32, 32}, 0.37, 0.25}, {"fc7_b", {32}, 1.2, 0.1},
      {"fc8_w", {10, 32}, 0.41, 0.25}, {"fc8_b", {10}, 1.3, 0.1},
    }
    local function formula(a, s)
      return function(i) return s * math.sin(a * i + 0.5 * math.cos(0.013 * i)) end
    end
    local LRN = {size = 5, alpha = 1e-4, beta = 0.75, k = 1}
    local POOL = {kernel = 3, stride = 2}

    local P = {}
    for _, m in ipairs(MINI) do P[m[1]] = from(m[2], formula(m[3], m[4])) end
    local x = from({1, 3, 67, 67}, formula(0.37, 2.0))

    -- Forward, keeping what backward needs.
    local B = {}
    local function forward()
      B.conv1 = nn.conv2d(x, P.conv1_w, P.conv1_b, {stride = 4})
      B.relu1 = nn.relu(B.conv1)
      B.pool1 = nn.max_pool2d(B.relu1, POOL)
      B.norm1 = nn.lrn(B.pool1, LRN)
      B.conv2 = nn.conv2d(B.norm1, P.conv2_w, P.conv2_b, {pad = 2, group = 2})
      B.relu2 = nn.relu(B.conv2)
      B.pool2 = nn.max_pool2d(B.relu2, POOL)
      B.norm2 = nn.lrn(B.pool2, LRN)
      B.conv3 = nn.relu(nn.conv2d(B.norm2, P.conv3_w, P.conv3_b, {pad = 1}))
      B.conv4 = nn.relu(nn.conv2d(B.conv3, P.conv4_w, P.conv4_b, {pad = 1, group = 2}))
      B.conv5 = nn.relu(nn.conv2d(B.conv4, P.conv5_w, P.conv5_b, {pad = 1, group = 2}))
      B.pool5 = nn.max_pool2d(B.conv5, POOL)
      B.flat = nn.flatten(B.pool5)
      B.fc6 = nn.relu(nn.linear(B.flat, P.fc6_w, P.fc6_b))
      B.drop6 = nn.dropout(B.fc6, 0.5) -- test time: identity
      B.fc7 = nn.relu(nn.linear(B.drop6, P.fc7_w, P.fc7_b))
      B.fc8 = nn.linear(B.fc7, P.fc8_w, P.fc8_b)
      B.prob = nn.softmax(B.fc8, 2)
    end

    -- d fc8[class] / d every weight, layer by layer (relu'd blobs are their
    -- own relu masks: y > 0 exactly where x > 0).
    local function backward(class)
      local G = {}
      local d = cv.zeros(1, 10)
      d[{1, class + 1}] = 1
      local dx
      dx, G.fc8_w, G.fc8_b = nn.linear_backward(B.fc7, P.fc8_w, d)
      dx = nn.relu_backward(B.fc7, dx)
      dx, G.fc7_w, G.fc7_b = nn.linear_backward(B.drop6, P.fc7_w, dx)
      dx = nn.relu_backward(B.fc6, dx)
      dx, G.fc6_w, G.fc6_b = nn.linear_backward(B.flat, P.fc6_w, dx)
      dx = nn.max_pool2d_backward(B.conv5, dx:view(B.pool5:size()), POOL)
      dx = nn.relu_backward(B.conv5, dx)
      dx, G.conv5_w, G.conv5_b = nn.conv2d_backward(B.conv4, P.conv5_w, dx, {pad = 1, group = 2})
      dx = nn.relu_backward(B.conv4, dx)
      dx, G.conv4_w, G.conv4_b = nn.conv2d_backward(B.conv3, P.conv4_w, dx, {pad = 1, group = 2})
      dx = nn.relu_backward(B.conv3, dx)
      dx, G.conv3_w, G.conv3_b = nn.conv2d_backward(B.norm2, P.conv3_w, dx, {pad = 1})
      dx = nn.lrn_backward(B.pool2, dx, LRN)
      dx = nn.max_pool2d_backward(B.relu2, dx, POOL)
      dx = nn.relu_backward(B.conv2, dx)
      dx, G.conv2_w, G.conv2_b = nn.conv2d_backward(B.norm1, P.conv2_w, dx, {pad = 2, group = 2})
      dx = nn.lrn_backward(B.pool1, dx, LRN)
      dx = nn.max_pool2d_backward(B.relu1, dx, POOL)
      dx = nn.relu_backward(B.conv1, dx)
      dx, G.conv1_w, G.conv1_b = nn.conv2d_backward(x, P.conv1_w, dx, {stride = 4})
      return G
    end

    it("matches PyTorch on every blob", function()
      local f = load("mini_caffenet")
      forward()
      for _, name in ipairs{"conv1", "pool1", "norm1", "conv2", "pool2", "norm2", "conv3",
                            "conv4", "conv5", "pool5", "fc6", "fc7", "fc8", "prob"} do
        assert_close(B[name], f[name], name)
      end
    end)

    it("matches PyTorch autograd on the gradient of one fc8 neuron to every weight", function()
      -- 1e-3 relative per parameter blob (sampled elements, and the blob's
      -- sum of squares), as the full CaffeNet comparison asks.
      local f = load("mini_caffenet")
      forward()
      local G = backward(3)
      for _, m in ipairs(MINI) do
        local name = m[1]
        local g = flat(G[name])
        local got, ss = {}, 0
        for i, j in ipairs(flat(f["d" .. name .. "_index"])) do got[i] = g[j + 1] end
        for _, v in ipairs(g) do ss = ss + v * v end
        assert_close(cv.tensor(got), f["d" .. name .. "_value"], "d" .. name, 1e-3)
        local want = f["d" .. name .. "_sumsq"]
        assert.is_true(math.abs(ss - want) <= 1e-3 * want, "d" .. name .. " sum of squares")
      end
    end)
  end)
end)
