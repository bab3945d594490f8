local cv = require "cnnvis"

-- InnerProduct backward writes a first weight gradient once (an outer
-- product at batch 1) and adds later ones straight into the parameter's
-- .grad; autograd keeps a first gradient without copying it. These check
-- each path against central differences (float32: 1e-2 relative + 1e-3
-- absolute, eps 1e-3) or against the plain sum of two backwards.
local TOL = {eps = 1e-3, rtol = 1e-2, atol = 1e-3}

local support = require "spec.support"
local leaf = support.leaf

local function check(f, inputs) support.assert_gradcheck(f, inputs, TOL) end

describe("linear backward", function()
  before_each(function() cv.manual_seed(11) end)

  describe("gradients", function()
    it("agree with central differences at batch 1, plain and transposed", function()
      local r = cv.randn(1, 4)
      check(function(x, w, b) return (cv.nn.linear(x, w, b) * r):sum() end, {leaf(1, 5), leaf(4, 5), leaf(4)})
      check(function(x, w, b) return (cv.nn.linear(x, w, b, {transpose = true}) * r):sum() end,
        {leaf(1, 5), leaf(5, 4), leaf(4)})
    end)

    it("agree with central differences for a batch, transposed, without a bias", function()
      local r = cv.randn(3, 4)
      check(function(x, w) return (cv.nn.linear(x, w, nil, {transpose = true}) * r):sum() end,
        {leaf(3, 5), leaf(5, 4)})
    end)

    it("give the weight its gradient when the bias needs none", function()
      local x, w, b = cv.randn(1, 3), leaf(2, 3), cv.randn(2)
      cv.nn.linear(x, w, b):sum():backward()
      for i = 1, 2 do
        for j = 1, 3 do assert.near(x[{1, j}]:item(), w.grad[{i, j}]:item(), 1e-6) end
      end
      assert.is_nil(b.grad)
    end)
  end)

  describe("a few rows (the small-batch kernels)", function()
    -- Shapes that leave 0 to 3 rows, columns and inputs over from the
    -- kernels' blocks (4 rows x 4 or 2 weights, vectors of 16 or 8 inputs
    -- and 4 of them, as the build's vector width sizes them), and batch sizes
    -- on both sides of where sgemm takes over; compared with sums in double.
    local function plain(x, w, dy)
      local xt, wt, dt = x:totable(), w:totable(), dy:totable()
      local m, n, k = #xt, #wt, #wt[1]
      local y, dw = {}, {}
      for i = 1, m do
        y[i] = {}
        for j = 1, n do
          local s = 0
          for c = 1, k do s = s + xt[i][c] * wt[j][c] end
          y[i][j] = s
        end
      end
      for j = 1, n do
        dw[j] = {}
        for c = 1, k do
          local s = 0
          for i = 1, m do s = s + dt[i][j] * xt[i][c] end
          dw[j][c] = s
        end
      end
      return cv.tensor(y), cv.tensor(dw)
    end

    for _, shape in ipairs{{2, 3, 5}, {3, 10, 45}, {5, 7, 37}, {7, 5, 70}, {16, 9, 130},
                          {17, 6, 64}, {33, 5, 20}} do
      local m, n, k = shape[1], shape[2], shape[3]
      it(string.format("forward and weight gradient, %d rows, %d outputs, %d inputs", m, n, k), function()
        local x, w, dy = cv.randn(m, k), leaf(n, k), cv.randn(m, n)
        local y = cv.nn.linear(x, w)
        y:backward(dy)
        local want_y, want_dw = plain(x, w:detach(), dy)
        assert.is_true(cv.allclose(y:detach(), want_y, 1e-5, 1e-5), "forward")
        assert.is_true(cv.allclose(w.grad, want_dw, 1e-5, 1e-5), "weight gradient")
      end)
    end
  end)

  describe("weight gradients of 8 MB and more (stored past the caches)", function()
    -- 1024 x 2048 floats: the size from which the stores stream (simd.h);
    -- checked against sgemm on dy^T x, which at one row is exact too.
    for _, m in ipairs{1, 4} do
      it(string.format("equal sgemm's at %d row%s", m, m > 1 and "s" or ""), function()
        local x, w, dy = cv.randn(m, 2048), leaf(1024, 2048), cv.randn(m, 1024)
        cv.nn.linear(x, w):backward(dy)
        local want = cv.matmul(dy:transpose(1, 2):contiguous(), x)
        local tol = m == 1 and 0 or 1e-5
        assert.is_true(cv.allclose(w.grad, want, tol, tol))
        assert.is_true(w.grad:abs():sum():item() > 0)
      end)
    end
  end)

  describe("accumulation", function()
    it("adds a second backward into the existing .grad (batch 1 and 4)", function()
      for _, batch in ipairs{1, 4} do
        local x1, x2 = cv.randn(batch, 6), cv.randn(batch, 6)
        local w, b = leaf(3, 6), leaf(3)
        cv.nn.linear(x1, w, b):sum():backward()
        local g1 = w.grad:clone()
        cv.nn.linear(x2, w, b):sum():backward()
        local both = w.grad:clone()
        w:zero_grad();
        cv.nn.linear(x2, w, b):sum():backward()
        assert.is_true(cv.allclose(both, g1 + w.grad, 1e-5, 1e-6))
        assert.is_true(cv.allclose(b.grad, cv.full({3}, 3 * batch), 0, 0))
      end
    end)

    it("adds into the weight's .grad when only the bias's was dropped", function()
      local x1, x2 = cv.randn(1, 6), cv.randn(1, 6)
      local w, b = leaf(3, 6), leaf(3)
      cv.nn.linear(x1, w, b):sum():backward()
      b:zero_grad()
      cv.nn.linear(x2, w, b):sum():backward()
      local want = cv.zeros(3, 6)
      for i = 1, 3 do want[i] = (x1 + x2)[1] end
      assert.is_true(cv.allclose(w.grad, want, 1e-5, 1e-6))
      assert.is_true(cv.allclose(b.grad, cv.ones(3), 1e-6, 1e-6))
    end)
  end)

  describe("big gradients dropped by zero_grad", function()
    -- 1024 x 1024 weights (4 MB): the memory of a gradient zero_grad drops
    -- is kept for the next one of its size, which must overwrite all of it.
    local function outer(dy, x)
      return cv.matmul(dy:view(-1, 1), x:view(1, -1))
    end

    it("come back whole from the next backward", function()
      local w = leaf(1024, 1024)
      for _ = 1, 3 do
        local x = cv.randn(1, 1024)
        local r = cv.randn(1, 1024)
        collectgarbage()  -- drop the Lua handles on w.grad, so that it is kept
        w:zero_grad();
        (cv.nn.linear(x, w) * r):sum():backward()
        assert.is_true(cv.allclose(w.grad, outer(r, x), 1e-5, 1e-6))
      end
    end)

    it("are not reused while a script still holds them", function()
      local w = leaf(1024, 1024)
      local x1, x2 = cv.randn(1, 1024), cv.ones(1, 1024)
      cv.nn.linear(x1, w):sum():backward()
      local held = w.grad
      local copy = held:clone()
      w:zero_grad()
      cv.nn.linear(x2, w):sum():backward()
      assert.is_true(cv.allclose(held, copy, 0, 0))
      assert.is_true(cv.allclose(w.grad, cv.ones(1024, 1024), 0, 0))
    end)
  end)

  describe("first gradients", function()
    it("sums both sides of a + a into one .grad", function()
      local a = leaf(4);
      (a + a):sum():backward()
      assert.is_true(cv.allclose(a.grad, cv.full({4}, 2), 0, 0));
      (a * 3):sum():backward()
      assert.is_true(cv.allclose(a.grad, cv.full({4}, 5), 0, 0))
    end)

    it("does not share the tensor given to backward", function()
      local a = leaf(3)
      local g = cv.ones(3);
      (a * 1):backward(g)
      g:fill_(7)
      assert.is_true(cv.allclose(a.grad, cv.ones(3), 0, 0))
    end)
  end)
end)
