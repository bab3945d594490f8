local cv = require "cnnvis"

describe("autograd", function()
  describe("backward() through views", function()
    it("routes the gradient of one selected element", function()
      local x = cv.arange(6):view(2, 3):contiguous()
      x.requires_grad = true
      x[{2, 3}]:backward()
      assert.same({{0, 0, 0}, {0, 0, 1}}, x.grad:totable())
    end)

    it("follows transpose, narrow and select", function()
      local x = cv.zeros(2, 3)
      x.requires_grad = true
      local y = x:transpose()[{{2, 3}, 1}]   -- x[1][2], x[1][3]
      y:backward(cv.tensor{10, 20})
      assert.same({{0, 10, 20}, {0, 0, 0}}, x.grad:totable())
    end)

    it("sums over expanded dims", function()
      local x = cv.zeros(3)
      x:requires_grad_()
      x:view(1, 3):expand(4, 3):backward(cv.ones(4, 3))
      assert.same({4, 4, 4}, x.grad:totable())
    end)

    it("maps a reshape that had to copy", function()
      local x = cv.zeros(2, 3)
      x.requires_grad = true
      x:transpose():reshape(6):backward(cv.arange(6))
      -- x:transpose() in row-major order is x11 x21 x12 x22 x13 x23
      assert.same({{0, 2, 4}, {1, 3, 5}}, x.grad:totable())
    end)

    it("accumulates until zero_grad", function()
      local x = cv.zeros(2)
      x.requires_grad = true
      x[1]:backward()
      x[1]:backward()
      assert.same({2, 0}, x.grad:totable())
      x:zero_grad()
      assert.is_nil(x.grad)
    end)

    it("frees the graph unless retained", function()
      local x = cv.zeros(2)
      x.requires_grad = true
      local y = x[2]
      y:backward(nil, {retain = true})
      y:backward()
      assert.same({0, 2}, x.grad:totable())
      assert.has.error(function() y:backward() end,
        "backward: the graph was freed by an earlier backward (pass {retain = true} to keep it)")
    end)
  end)

  describe("errors", function()
    it("backward on a tensor that needs no gradient", function()
      assert.has.error(function() cv.zeros(1):backward() end,
        "backward: the tensor does not require a gradient (nothing it was computed from has requires_grad)")
    end)

    it("backward on many elements without a gradient", function()
      local x = cv.zeros(3)
      x.requires_grad = true
      assert.has.error(function() x:view(3, 1):backward() end,
        "backward: the output has 3 elements; give its gradient, or reduce it to one number first")
    end)

    it("a gradient of the wrong shape", function()
      local x = cv.zeros(3)
      x.requires_grad = true
      assert.has.error(function() x:view(3, 1):backward(cv.ones(3)) end,
        "backward: the gradient has shape 3 but the output has shape 3x1")
    end)

    it("requires_grad on a computed tensor", function()
      local x = cv.zeros(3)
      x.requires_grad = true
      assert.has.error(function() x[1].requires_grad = false end,
        "requires_grad can only be set on a leaf tensor (this one was computed by index); use detach()")
    end)
  end)

  describe("in-place changes", function()
    it("a leaf changed after the forward stops its backward", function()
      local w = cv.ones(3)
      w.requires_grad = true
      local y = (w * w):sum()
      w[1] = 5 -- e.g. pruning a weight between forward and backward
      assert.has.error(function() y:backward() end,
        "backward: input 1 of mul was changed in place after the forward that used it; run the forward again")
      y = (w * w):sum()
      y:backward()
      assert.same({10, 2, 2}, w.grad:totable())
    end)
  end)

  describe("no_grad()", function()
    it("records nothing and returns fn's results", function()
      local x = cv.zeros(3)
      x.requires_grad = true
      local y, n = cv.no_grad(function(a) return x[1], a end, 7)
      assert.is_false(y.requires_grad)
      assert.equal(7, n)
      assert.is_true(cv.is_grad_enabled())
    end)

    it("restores grad mode after an error", function()
      assert.has.error(function() cv.no_grad(function() error("boom", 0) end) end, "boom")
      assert.is_true(cv.is_grad_enabled())
    end)
  end)

  describe("detach()", function()
    it("shares storage and leaves the tape", function()
      local x = cv.zeros(3)
      x.requires_grad = true
      local d = x[{{1, 2}}]:detach()
      assert.is_false(d.requires_grad)
      d[1] = 5
      assert.equal(5, x[1]:item())
    end)
  end)
end)
