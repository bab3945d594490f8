-- Matrix products. Goldens marked so are printed by
-- spec/fixtures/math_golden.py (NumPy's @ / torch.matmul).
local cv = require "cnnvis"

-- A plain triple loop over Lua tables: the reference for random matrices.
local function naive(x, y)
  local r = {}
  for i = 1, #x do
    r[i] = {}
    for j = 1, #y[1] do
      local s = 0
      for k = 1, #y do s = s + x[i][k] * y[k][j] end
      r[i][j] = s
    end
  end
  return r
end

local function assert_near(expected, actual, tol)
  if type(expected) == "number" then
    assert.near(expected, actual, tol)
    return
  end
  assert.equal(#expected, #actual)
  for i = 1, #expected do assert_near(expected[i], actual[i], tol) end
end

describe("matmul", function()
  local a, b
  before_each(function()
    a = cv.tensor{{1, 2, -1}, {0, 3, 4}}
    b = cv.tensor{{2, 1}, {-1, 0}, {5, 3}}
  end)

  describe("matmul()", function()
    it("multiplies 2-d matrices", function()
      -- golden (NumPy): a @ b, b @ a
      assert.same({{-5, -2}, {17, 12}}, cv.matmul(a, b):totable())
      assert.same({{2, 7, 2}, {-1, -2, 1}, {5, 19, 7}}, b:matmul(a):totable())
    end)

    it("reads transposed views without copying them first", function()
      -- (a b)^T = b^T a^T
      local r = b:transpose():matmul(a:transpose())
      assert.same({{-5, 17}, {-2, 12}}, r:totable())
      assert.same({{-5, -2}, {17, 12}},
        a:transpose():contiguous():transpose():matmul(b):totable())
    end)

    it("copies views BLAS cannot read", function()
      -- strides (12, 4): neither is 1
      local x = cv.arange(24):view(2, 3, 4):select(3, 1)
      assert.same({{0, 4, 8}, {12, 16, 20}}, x:totable())
      assert.same({{36, 24}, {108, 72}}, x:matmul(b):totable())
    end)

    it("matches a plain loop on random matrices", function()
      cv.manual_seed(7)
      local x, y = cv.randn(20, 30), cv.randn(30, 10)
      assert_near(naive(x:totable(), y:totable()), x:matmul(y):totable(), 1e-4)
      local yt = cv.randn(10, 30):transpose()
      assert_near(naive(x:totable(), yt:totable()), x:matmul(yt):totable(), 1e-4)
    end)

    it("treats 1-d operands as vectors, as PyTorch does", function()
      local v = cv.tensor{1, 2, 3}
      local dot = v:matmul(cv.tensor{4, 5, 6})
      assert.equal(0, dot:dim())
      assert.equal(32, dot:item())
      assert.same({2, -4}, a:matmul(cv.tensor{1, 0, -1}):totable())
      assert.same({1, 5, 3}, cv.tensor{1, 1}:matmul(a):totable())
    end)

    it("multiplies batches, sharing a 2-d operand", function()
      local ba = cv.arange(12):view(2, 2, 3)
      local bb = cv.arange(12):view(2, 3, 2) - 5
      -- golden (NumPy): ba @ bb, ba @ b, ba @ a.T
      assert.same({{{-5, -2}, {-32, -20}}, {{67, 88}, {94, 124}}},
        ba:matmul(bb):totable())
      assert.same({{{9, 6}, {27, 18}}, {{45, 30}, {63, 42}}},
        ba:matmul(b):totable())
      assert.same({{{0, 11}, {6, 32}}, {{12, 53}, {18, 74}}},
        ba:matmul(a:transpose()):totable())
      assert.same({2, 3, 3}, b:matmul(ba):size())
    end)

    it("broadcasts a batch of one", function()
      local ba = cv.arange(6):view(1, 2, 3)
      local bb = cv.arange(12):view(2, 3, 2)
      local r = ba:matmul(bb)
      assert.same({2, 2, 2}, r:size())
      -- each batch against the single left matrix, by hand:
      -- [[0 1 2] [3 4 5]] @ [[0 1] [2 3] [4 5]] = [[10 13] [28 40]]
      -- [[0 1 2] [3 4 5]] @ [[6 7] [8 9] [10 11]] = [[28 31] [100 112]]
      assert.same({{{10, 13}, {28, 40}}, {{28, 31}, {100, 112}}}, r:totable())
    end)

    it("gives zeros for an empty inner dimension", function()
      local out = cv.full(2, 3, 7)
      cv.matmul(cv.zeros(2, 0), cv.zeros(0, 3), out)
      assert.same({{0, 0, 0}, {0, 0, 0}}, out:totable())
      assert.same({0, 3}, cv.matmul(cv.zeros(0, 2), cv.zeros(2, 3)):size())
    end)

    it("writes into an out tensor and returns it", function()
      local out = cv.empty(2, 2)
      assert.equal(out, cv.matmul(a, b, out))
      assert.same({{-5, -2}, {17, 12}}, out:totable())
      assert.equal(out, a:matmul(b, out))
    end)

    it("names a wrong out tensor", function()
      assert.has.error(function() cv.matmul(a, b, cv.empty(3, 3)) end,
        "matmul: the output must be a contiguous tensor of shape 2x2, got 3x3")
      assert.has.error(function() cv.matmul(a, b, cv.empty(2, 2):transpose()) end,
        "matmul: the output must be a contiguous tensor of shape 2x2, got " ..
        "2x2 (not contiguous)")
    end)

    it("names both shapes when inner sizes differ", function()
      assert.has.error(function() a:matmul(a) end,
        "matmul: shapes 2x3 and 2x3 cannot be multiplied (inner sizes 3 " ..
        "and 2 differ)")
      assert.has.error(function() cv.tensor{1, 2}:matmul(cv.tensor{1, 2, 3}) end,
        "matmul: shapes 2 and 3 cannot be multiplied (inner sizes 2 and 3 " ..
        "differ)")
    end)

    it("names batch sizes that differ", function()
      assert.has.error(function() cv.ones(2, 2, 2):matmul(cv.ones(3, 2, 2)) end,
        "matmul: shapes 2x2x2 and 3x2x2 have batch sizes 2 and 3")
    end)

    it("takes 1 to 3 dimensions", function()
      assert.has.error(function() cv.ones(1, 1, 2, 2):matmul(a) end,
        "matmul: shapes 1x1x2x2 and 2x3: each operand must have 1 to 3 " ..
        "dimensions")
      assert.has.error(function() cv.tensor(2):matmul(a) end,
        "matmul: shapes scalar and 2x3: each operand must have 1 to 3 " ..
        "dimensions")
    end)

    it("rejects a non-tensor", function()
      assert.has.error(function() a:matmul(2) end,
        "bad argument #1 to 'matmul' (tensor expected, got number)")
    end)
  end)
end)
