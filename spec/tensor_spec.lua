local cv = require "cnnvis"

describe("tensor", function()
  describe("tensor()", function()
    it("builds from nested tables", function()
      local t = cv.tensor{{1, 2, 3}, {4, 5, 6}}
      assert.same({2, 3}, t:size())
      assert.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
    end)

    it("rejects a ragged table, naming the depth", function()
      assert.has.error(function() cv.tensor{{1, 2}, {3}} end,
        "tensor: the nested table is ragged at depth 2 (expected 2 elements)")
    end)

    it("rejects a non-number element", function()
      assert.has.error(function() cv.tensor{1, "x"} end,
        "tensor: expected a number in the table, got string")
    end)
  end)

  describe("zeros/ones/full/empty", function()
    it("take sizes as numbers or one table", function()
      assert.same({2, 3}, cv.zeros(2, 3):size())
      assert.same({2, 3}, cv.ones{2, 3}:size())
      assert.same({{7, 7}}, cv.full(1, 2, 7):totable())
      assert.same({4}, cv.empty(4):size())
      assert.equal(6, cv.ones(2, 3):numel())
    end)

    it("reject a shape too large, even with a zero size", function()
      assert.has.error(function() cv.zeros(0, 2 ^ 31, 2 ^ 31) end,
        "a tensor of that shape is too large")
    end)

    it("reject a negative size", function()
      assert.has.error(function() cv.zeros(2, -1) end,
        "size -1 of dimension 2 is negative")
    end)

    it("reject a wrong argument type", function()
      assert.has.error(function() cv.zeros("x") end)
      local ok, msg = pcall(cv.zeros, "x")
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*zeros' %(number expected, got string%)", msg)
    end)
  end)

  describe("arange()", function()
    it("counts like PyTorch, stop excluded", function()
      assert.same({0, 1, 2}, cv.arange(3):totable())
      assert.same({1, 3}, cv.arange(1, 5, 2):totable())
      assert.same({}, cv.arange(0):totable())
    end)
  end)

  describe("rand/randn", function()
    it("repeat with the same seed", function()
      cv.manual_seed(42)
      local a = cv.randn(5):totable()
      cv.manual_seed(42)
      assert.same(a, cv.randn(5):totable())
    end)

    it("give the same numbers on every machine", function()
      -- xoshiro256** seeded by splitmix64(0): integer arithmetic only.
      cv.manual_seed(0)
      local u = cv.rand(1):item()
      assert.is_true(u >= 0 and u < 1)
      cv.manual_seed(0)
      assert.equal(u, cv.rand(1):item())
    end)

    it("have the right moments", function()
      cv.manual_seed(1)
      local t = cv.randn(100000):totable()
      local s, s2 = 0, 0
      for _, v in ipairs(t) do s = s + v; s2 = s2 + v * v end
      assert.near(0, s / #t, 0.02)
      assert.near(1, s2 / #t, 0.02)
    end)
  end)

  describe("size/dim/numel/#", function()
    it("describe the shape", function()
      local t = cv.zeros(2, 3, 4)
      assert.equal(3, t:dim())
      assert.equal(3, t:size(2))
      assert.equal(4, t:size(-1))
      assert.equal(24, t:numel())
      assert.equal(2, #t)
    end)

    it("reject a dimension out of range", function()
      assert.has.error(function() cv.zeros(2, 3):size(3) end,
        "bad argument #2 (dimension 3 out of range for a 2-d tensor)")
    end)
  end)

  describe("item()", function()
    it("reads a one-element tensor", function()
      assert.equal(5, cv.tensor{{5}}:item())
      assert.equal(2.5, cv.tensor(2.5):item())
    end)

    it("refuses more than one element", function()
      assert.has.error(function() cv.zeros(2):item() end,
        "item: the tensor has 2 elements, not 1")
    end)
  end)

  describe("views", function()
    it("view shares storage and infers -1", function()
      local t = cv.arange(6)
      local v = t:view(2, -1)
      assert.same({2, 3}, v:size())
      v[{1, 1}] = 100
      assert.equal(100, t[1]:item())
    end)

    it("view refuses a mismatched count, naming both shapes", function()
      assert.has.error(function() cv.arange(6):view(4, 2) end,
        "view: shape 4x2 is invalid for a tensor of shape 6 (6 elements)")
    end)

    it("view refuses a layout that needs a copy; reshape copies", function()
      local t = cv.arange(6):view(2, 3):transpose()
      assert.is_false(t:is_contiguous())
      assert.has.error(function() t:view(6) end,
        "view: a non-contiguous tensor of shape 3x2 cannot be viewed as 6 (call contiguous() or reshape)")
      assert.same({0, 3, 1, 4, 2, 5}, t:reshape(6):totable())
      assert.same({0, 3, 1, 4, 2, 5}, t:contiguous():view(6):totable())
    end)

    it("transpose and permute swap strides", function()
      local t = cv.arange(24):view(2, 3, 4)
      assert.same({4, 3, 2}, t:permute(3, 2, 1):size())
      assert.same({1, 12, 4}, t:permute(3, 1, 2):stride())
      assert.equal(13, t:transpose(1, 3)[{2, 1, 2}]:item())
    end)

    it("narrow and select pick ranges and positions", function()
      local t = cv.arange(12):view(3, 4)
      assert.same({{1, 2}, {5, 6}, {9, 10}}, t:narrow(2, 2, 2):totable())
      assert.same({4, 5, 6, 7}, t:select(1, 2):totable())
      assert.same({3, 7, 11}, t:select(2, -1):totable())
      assert.has.error(function() t:narrow(2, 4, 2) end,
        "narrow: positions 4 to 5 are out of range for dimension 2 of size 4")
    end)

    it("unsqueeze, squeeze and expand", function()
      local t = cv.arange(3)
      assert.same({1, 3}, t:unsqueeze(1):size())
      assert.same({3, 1}, t:unsqueeze(2):size())
      assert.same({3}, t:view(1, 3, 1):squeeze():size())
      assert.same({1, 3}, t:view(1, 3, 1):squeeze(3):size())
      local e = t:view(1, 3):expand(2, 3)
      assert.same({{0, 1, 2}, {0, 1, 2}}, e:totable())
      assert.same({0, 1}, e:stride())
      assert.has.error(function() t:expand(2, 4) end,
        "expand: a tensor of shape 3 cannot be expanded to 2x4")
    end)

    it("clone copies, contiguous keeps a contiguous tensor", function()
      local t = cv.arange(3)
      local c = t:clone()
      c[1] = 9
      assert.equal(0, t[1]:item())
    end)
  end)

  describe("indexing", function()
    local t
    before_each(function() t = cv.arange(12):view(3, 4) end)

    it("t[i] selects along the first dim", function()
      assert.same({8, 9, 10, 11}, t[3]:totable())
      assert.same({8, 9, 10, 11}, t[-1]:totable())
    end)

    it("t[{i, {a, b}}] selects and narrows (inclusive)", function()
      assert.same({5, 6}, t[{2, {2, 3}}]:totable())
      assert.same({{1}, {5}, {9}}, t[{{}, {2}}]:totable())
      assert.equal(11, t[{3, 4}]:item())
    end)

    it("assignment fills or copies with broadcasting", function()
      t[{{}, 1}] = -1
      assert.same({-1, -1, -1}, t:select(2, 1):totable())
      t[2] = cv.tensor{1, 2, 3, 4}
      assert.same({1, 2, 3, 4}, t[2]:totable())
      t[{{1, 2}, {}}] = cv.tensor{7, 8, 9, 10}
      assert.same({7, 8, 9, 10}, t[1]:totable())
    end)

    it("names the dimension and size when out of range", function()
      assert.has.error(function() return t[4] end,
        "index 4 is out of range for dimension 1 of size 3")
      assert.has.error(function() return t[{1, 5}] end,
        "index 5 is out of range for dimension 1 of size 4")
    end)

    it("refuses too many indices", function()
      assert.has.error(function() return t[{1, 1, 1}] end,
        "3 indices given for a 2-d tensor")
    end)
  end)

  describe("fill_/zero_/copy_", function()
    it("work in place and return the tensor", function()
      local t = cv.zeros(2, 2)
      assert.equal(t, t:fill_(3))
      assert.same({{3, 3}, {3, 3}}, t:totable())
      t:zero_()
      assert.same({{0, 0}, {0, 0}}, t:totable())
      t:copy_(cv.tensor{1, 2})
      assert.same({{1, 2}, {1, 2}}, t:totable())
      assert.has.error(function() t:copy_(cv.zeros(3)) end,
        "copy: expand: a tensor of shape 3 cannot be expanded to 2x2")
    end)
  end)

  describe("__tostring", function()
    it("prints values and shape", function()
      assert.equal("tensor([[1, 2],\n        [3, 4]], size 2x2)",
        tostring(cv.tensor{{1, 2}, {3, 4}}))
      assert.equal("tensor([0.5000, 1.2500], size 2)", tostring(cv.tensor{0.5, 1.25}))
    end)

    it("abbreviates large tensors", function()
      assert.equal("tensor([   0,    1,    2, ..., 1997, 1998, 1999], size 2000)",
        tostring(cv.arange(2000)))
    end)
  end)

  describe("memory kept for reuse", function()
    it("reuses a freed block for the next tensor of its size, zeroed when asked", function()
      cv.free_cached_memory()
      assert.equal(0, cv.cached_memory())
      local a = cv.ones(300000) -- 1.2 MB: a size that is kept
      a = nil
      collectgarbage()
      collectgarbage()
      local kept = cv.cached_memory()
      assert.is_true(kept >= 1200000, "kept " .. kept)
      local b = cv.zeros(300000)
      assert.equal(0, b:abs():sum():item())
      assert.equal(kept - cv.cached_memory(), 1200128) -- the block went back out
      b = nil
      collectgarbage()
      cv.free_cached_memory()
      assert.equal(0, cv.cached_memory())
    end)

    it("keeps small tensors out of it", function()
      cv.free_cached_memory()
      local a = cv.ones(1000)
      a = nil
      collectgarbage()
      assert.equal(0, cv.cached_memory())
    end)
  end)
end)
