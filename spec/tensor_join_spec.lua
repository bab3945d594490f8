local cv = require "cnnvis"

describe("tensor joins", function()
  local a, b
  before_each(function()
    a = cv.tensor{{1, 2}, {3, 4}}
    b = cv.tensor{{5, 6}}
  end)

  describe("cat()", function()
    it("joins end to end along dim 1 by default", function()
      local c = cv.cat{a, b}
      assert.same({{1, 2}, {3, 4}, {5, 6}}, c:totable())
    end)

    it("joins along any dim, negative from the end", function()
      local c = cv.tensor{{7}, {8}}
      assert.same({{1, 2, 7}, {3, 4, 8}}, cv.cat({a, c}, 2):totable())
      assert.same({{1, 2, 7, 1, 2}, {3, 4, 8, 3, 4}},
        cv.cat({a, c, a}, -1):totable())
    end)

    it("reads strided views and copies", function()
      local c = cv.cat({a:transpose(), a}, 1)
      assert.same({{1, 3}, {2, 4}, {1, 2}, {3, 4}}, c:totable())
      c[1][1] = 99
      assert.same({{1, 2}, {3, 4}}, a:totable())
    end)

    it("takes one tensor and empty ones", function()
      assert.same({{1, 2}, {3, 4}}, cv.cat{a}:totable())
      assert.same({{1, 2}, {3, 4}}, cv.cat{a, cv.zeros(0, 2)}:totable())
    end)

    it("names the shapes that do not match", function()
      assert.has.error(function() cv.cat({a, b}, 2) end,
        "cat: tensor 2 has shape 1x2, which does not match tensor 1's " ..
        "shape 2x2 outside dimension 2")
      assert.has.error(function() cv.cat{a, cv.ones(2)} end,
        "cat: tensor 2 has shape 2, which does not match tensor 1's " ..
        "shape 2x2 outside dimension 1")
    end)

    it("rejects bad lists and dims", function()
      assert.has.error(function() cv.cat{} end,
        "cat: expects at least one tensor")
      assert.has.error(function() cv.cat({a, b}, 3) end,
        "bad argument #2 (dimension 3 out of range for a 2-d tensor)")
      local ok, msg = pcall(cv.cat, {a, "x"})
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*cat' %(tensor expected at " ..
        "position 2, got string%)", msg)
      ok, msg = pcall(cv.cat, a)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*cat' %(table expected, got " ..
        "cnnvis.Tensor%)", msg)
    end)
  end)

  describe("stack()", function()
    it("stacks along a new first dim by default", function()
      local s = cv.stack{a, a * 10}
      assert.same({2, 2, 2}, s:size())
      assert.same({{{1, 2}, {3, 4}}, {{10, 20}, {30, 40}}}, s:totable())
    end)

    it("stacks along any dim up to a new last one", function()
      local x, y = cv.tensor{1, 2, 3}, cv.tensor{4, 5, 6}
      assert.same({{1, 2, 3}, {4, 5, 6}}, cv.stack({x, y}, 1):totable())
      assert.same({{1, 4}, {2, 5}, {3, 6}}, cv.stack({x, y}, 2):totable())
      assert.same({{1, 4}, {2, 5}, {3, 6}}, cv.stack({x, y}, -1):totable())
      local s = cv.stack({a, a * 10}, 2)
      assert.same({{{1, 2}, {10, 20}}, {{3, 4}, {30, 40}}}, s:totable())
      s = cv.stack({a, a * 10}, 3)
      assert.same({{{1, 10}, {2, 20}}, {{3, 30}, {4, 40}}}, s:totable())
    end)

    it("stacks 0-d tensors into a vector", function()
      assert.same({3, 4}, cv.stack{cv.tensor(3), cv.tensor(4)}:totable())
    end)

    it("names shapes that differ", function()
      assert.has.error(function() cv.stack{a, b} end,
        "stack: tensor 2 has shape 1x2, tensor 1 has 2x2")
      assert.has.error(function() cv.stack({a, a}, 4) end,
        "bad argument #2 (dimension 4 out of range for a 3-d tensor)")
      assert.has.error(function() cv.stack{} end,
        "stack: expects at least one tensor")
    end)
  end)
end)
