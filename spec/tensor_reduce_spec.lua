-- Reductions, sort and top-k. Expected values are worked by hand or, where
-- marked, printed by spec/fixtures/math_golden.py (NumPy, float32 input).
local cv = require "cnnvis"

local assert_near = require("spec.support").assert_near

local nan = 0 / 0

describe("tensor reductions", function()
  local a, m
  before_each(function()
    a = cv.tensor{{1, 2, 3}, {4, 5, 6}}
    m = cv.tensor{{1, 4, 2, 8}, {3, -1, 5, 0}, {7, 2, -6, 1}}
  end)

  describe("sum()", function()
    it("over every element gives a 0-d tensor", function()
      local s = a:sum()
      assert.equal(0, s:dim())
      assert.equal(21, s:item())
      assert.equal(21, cv.sum(a):item())
    end)

    it("along a dim drops it, or keeps it as size 1", function()
      assert.same({5, 7, 9}, a:sum(1):totable())
      assert.same({6, 15}, a:sum(2):totable())
      assert.same({6, 15}, a:sum(-1):totable())
      assert.same({{6}, {15}}, a:sum(2, true):totable())
      assert.same({{5, 7, 9}}, a:sum(1, {keepdim = true}):totable())
      assert.same({1, 3}, a:sum(1, true):size())
    end)

    it("reads strided views", function()
      assert.same({6, 15}, a:transpose():sum(1):totable())
      local s3 = cv.arange(24):view(2, 3, 4)
      -- hand: sum over dim 2 of k*... = rows of 3 consecutive blocks of 4
      assert.same({{12, 15, 18, 21}, {48, 51, 54, 57}}, s3:sum(2):totable())
      assert.same({{{12, 14, 16, 18}, {20, 22, 24, 26}, {28, 30, 32, 34}}},
        s3:sum(1, true):totable())
    end)

    it("accumulates in double", function()
      -- in float32, 1e8 + 1 rounds back to 1e8 and the 1 is lost
      assert.equal(1, cv.tensor{1e8, 1, -1e8}:sum():item())
      assert.same({1}, cv.tensor{{1e8, 1, -1e8}}:sum(2):totable())
    end)

    it("reduces leading dims in blocks of columns, past a block's edge", function()
      -- 3x300, column j (0-based) holds j, 300 + j, 600 + j: sum 900 + 3j
      local c = cv.arange(900):view(3, 300):sum(1)
      local r = c:totable()
      assert.equal(300, #r)
      assert.same({900, 903, 900 + 3 * 255, 900 + 3 * 256, 900 + 3 * 299},
        {r[1], r[2], r[256], r[257], r[300]})
      -- 2x3x2 over the middle dim: outer 2, inner 2
      local t = cv.arange(12):view(2, 3, 2)
      assert.same({{6, 9}, {24, 27}}, t:sum(2):totable())
      assert.same({{{6, 9}}, {{24, 27}}}, t:sum(2, true):totable())
      assert.same({{4, 5}, {10, 11}}, t:max(2):totable())
      assert.same({{0, 1}, {6, 7}}, t:min(2):totable())
    end)

    it("is 0 over nothing", function()
      assert.equal(0, cv.zeros(0):sum():item())
      assert.same({0, 0}, cv.zeros(2, 0):sum(2):totable())
      assert.same({0, 0, 0}, cv.zeros(0, 3):sum(1):totable())
      assert_near({nan, nan}, cv.zeros(0, 2):mean(1))
    end)

    it("names a dimension out of range", function()
      assert.has.error(function() a:sum(3) end,
        "bad argument #2 (dimension 3 out of range for a 2-d tensor)")
      assert.has.error(function() a:sum(1, "x") end,
        "bad argument #2 to 'sum' (boolean or table of options expected, got string)")
    end)

    it("is parallel-safe on large tensors", function()
      local n = 1000 * 1000
      local x = cv.ones(1000, 1000)
      assert.equal(n, x:sum():item())
      assert.equal(n, x:transpose():sum():item())
      local r = x:sum(2):totable()
      assert.equal(1000, r[1])
      assert.equal(1000, r[1000])
      -- n (n - 1) / 2 for 0 .. n-1: exact in double, then rounded once to
      -- the float32 result
      local f32 = string.unpack("f", string.pack("f", n * (n - 1) / 2))
      assert.equal(f32, cv.arange(n):sum():item())
    end)
  end)

  describe("mean()", function()
    it("averages over everything or along a dim", function()
      assert.equal(3.5, a:mean():item())
      assert.same({2.5, 3.5, 4.5}, a:mean(1):totable())
      assert.same({{2}, {5}}, a:mean(2, true):totable())
      -- golden (NumPy): m.mean(axis=1)
      assert.same({3.75, 1.75, 1}, m:mean(2):totable())
    end)

    it("is NaN over nothing", function()
      assert_near(nan, cv.zeros(0):mean():item())
    end)
  end)

  describe("var() and std()", function()
    it("are unbiased by default, like PyTorch", function()
      -- golden (NumPy): np.var(m, ddof=1), np.var(m)
      assert_near(13.969697, m:var():item())
      assert_near(12.8055563, m:var({unbiased = false}):item())
      -- hand: {1, 2, 3, 4, 5, 6} has mean 3.5, squares sum 17.5
      assert_near(17.5 / 5, a:var():item())
      assert_near(math.sqrt(17.5 / 6), a:std({unbiased = false}):item())
    end)

    it("work along a dim with keepdim", function()
      -- golden (NumPy): np.var(m, axis=0, ddof=1)
      assert_near({9.33333397, 6.33333302, 32.3333359, 19}, m:var(1))
      -- golden (NumPy): np.std(m, axis=1, ddof=1), np.std(m, axis=1)
      assert_near({3.09569597, 2.75378537, 5.35412598}, m:std(2))
      assert_near({{2.68095136}, {2.38484812}, {4.63680935}},
        m:std(2, {keepdim = true, unbiased = false}))
    end)

    it("give NaN for one sample when unbiased", function()
      assert_near(nan, cv.tensor{3}:var():item())
      assert.equal(0, cv.tensor{3}:var({unbiased = false}):item())
    end)

    it("are exact for a large offset (two passes, double)", function()
      local t = cv.tensor{1e4 + 1, 1e4 + 2, 1e4 + 3}
      assert.equal(1, t:var():item())
    end)
  end)

  describe("norm()", function()
    it("takes p = 1, 2 or math.huge over everything", function()
      local v = cv.tensor{3, -4}
      assert.equal(5, v:norm():item())
      assert.equal(5, v:norm(2):item())
      assert.equal(7, v:norm(1):item())
      assert.equal(4, v:norm(math.huge):item())
      -- golden (NumPy): np.linalg.norm(m)
      assert_near(14.4913769, m:norm():item())
    end)

    it("works along a dim", function()
      -- golden (NumPy): np.linalg.norm(m, axis=1)
      assert_near({9.21954441, 5.91608, 9.48683262}, m:norm(2, 2))
      assert.same({{11, 7, 13, 9}}, m:norm(1, 1, true):totable())
      assert.same({7, 4, 6, 8}, m:norm(math.huge, 1):totable())
    end)

    it("rejects other p", function()
      assert.has.error(function() m:norm(3) end,
        "norm: p must be 1, 2 or infinity, not 3")
    end)
  end)

  describe("max() and min()", function()
    it("over everything give the value", function()
      assert.equal(8, m:max():item())
      assert.equal(-6, m:min():item())
      assert.equal(0, m:max():dim())
    end)

    it("along a dim give values and 1-based indices", function()
      local v, i = m:max(2)
      assert.same({8, 5, 7}, v:totable())
      assert.same({4, 3, 1}, i:totable())
      v, i = m:min(1)
      assert.same({1, -1, -6, 0}, v:totable())
      assert.same({1, 2, 3, 2}, i:totable())
      v, i = m:max(1, true)
      assert.same({{7, 4, 5, 8}}, v:totable())
      assert.same({{3, 1, 2, 1}}, i:totable())
    end)

    it("read strided views", function()
      local v, i = m:transpose():max(1) -- not contiguous: the line path
      assert.same({8, 5, 7}, v:totable())
      assert.same({4, 3, 1}, i:totable())
      assert.same({1, -1, -6, 0}, m:transpose():min(2):totable())
    end)

    it("pick the first of equal values", function()
      local _, i = cv.tensor{{2, 5, 5, 1}, {0, 0, 0, 0}}:max(2)
      assert.same({2, 1}, i:totable())
      _, i = cv.tensor{3, 1, 1}:min(1)
      assert.same(2, i:item())
    end)

    it("propagate NaN, as PyTorch does", function()
      local v, i = cv.tensor{1, nan, 3}:max(1)
      assert_near(nan, v:item())
      assert.equal(2, i:item())
      -- along a leading dim (the column path): NaN in row 2 of column 1
      v, i = cv.tensor{{1, 5}, {nan, 2}, {9, 7}}:max(1)
      assert_near({nan, 7}, v)
      assert.same({2, 3}, i:totable())
      v, i = cv.tensor{{1, 5}, {nan, 2}, {9, 7}}:min(1)
      assert_near({nan, 2}, v)
      assert.same({2, 2}, i:totable())
      assert_near(nan, cv.tensor{1, nan, 3}:min():item())
    end)

    it("refuse an empty tensor", function()
      assert.has.error(function() cv.zeros(0):max() end,
        "max: cannot reduce an empty tensor")
      assert.has.error(function() cv.zeros(2, 0):min(2) end,
        "min: cannot reduce an empty tensor")
    end)
  end)

  describe("argmax() and argmin()", function()
    it("give 1-based positions", function()
      assert.same({4, 3, 1}, m:argmax(2):totable())
      assert.same({1, 2, 3, 2}, m:argmin(1):totable())
      assert.same({{1}, {2}, {3}}, m:argmin(2, true):totable())
    end)

    it("over everything give the flat 1-based position", function()
      assert.equal(4, m:argmax():item())
      assert.equal(11, m:argmin():item())
      -- a transposed view counts in its own row-major order
      assert.equal(10, m:transpose():argmax():item())
    end)
  end)

  describe("sort()", function()
    it("sorts the last dim ascending by default", function()
      local v, i = cv.tensor{{3, 1, 2}, {0, 9, -1}}:sort()
      assert.same({{1, 2, 3}, {-1, 0, 9}}, v:totable())
      assert.same({{2, 3, 1}, {3, 1, 2}}, i:totable())
    end)

    it("sorts along a dim, descending", function()
      local v, i = m:sort(1, true)
      assert.same({{7, 4, 5, 8}, {3, 2, 2, 1}, {1, -1, -6, 0}}, v:totable())
      assert.same({{3, 1, 2, 1}, {2, 3, 1, 3}, {1, 2, 3, 2}}, i:totable())
    end)

    it("is stable both ways", function()
      local t = cv.tensor{2, 1, 2, 1, 2}
      local _, i = t:sort()
      assert.same({2, 4, 1, 3, 5}, i:totable())
      _, i = t:sort(1, true)
      assert.same({1, 3, 5, 2, 4}, i:totable())
    end)

    it("puts NaN above every number", function()
      local v, i = cv.tensor{1, nan, -math.huge, math.huge}:sort()
      local r = v:totable()
      assert.same({-math.huge, 1, math.huge}, {r[1], r[2], r[3]})
      assert.is_true(r[4] ~= r[4])
      assert.same({3, 1, 4, 2}, i:totable())
    end)

    it("names a dimension out of range", function()
      assert.has.error(function() m:sort(3) end,
        "bad argument #2 (dimension 3 out of range for a 2-d tensor)")
    end)
  end)

  describe("topk()", function()
    it("gives the k largest in order, with 1-based indices", function()
      local v, i = cv.tensor{5, 1, 9, 3, 7}:topk(3)
      assert.same({9, 7, 5}, v:totable())
      assert.same({3, 5, 1}, i:totable())
    end)

    it("gives the k smallest when largest is false", function()
      local v, i = cv.tensor{5, 1, 9, 3, 7}:topk(2, 1, false)
      assert.same({1, 3}, v:totable())
      assert.same({2, 4}, i:totable())
    end)

    it("works along a dim", function()
      local v, i = m:topk(2, 1)
      assert.same({{7, 4, 5, 8}, {3, 2, 2, 1}}, v:totable())
      assert.same({{3, 1, 2, 1}, {2, 3, 1, 3}}, i:totable())
      v = m:topk(0, 2)
      assert.same({3, 0}, v:size())
    end)

    it("names k out of range", function()
      assert.has.error(function() m:topk(5) end,
        "topk: k = 5 is out of range for dimension 2 of size 4")
      assert.has.error(function() m:topk(-1, 1) end,
        "topk: k = -1 is out of range for dimension 1 of size 3")
      assert.has.error(function() m:topk("x") end,
        "bad argument #1 to 'topk' (number expected, got string)")
    end)
  end)
end)
