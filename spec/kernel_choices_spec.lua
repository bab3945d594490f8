local cv = require "cnnvis"

describe("cv.nn.kernel_choices()", function()
  -- The kernel last noted for op on shape, and its call count.
  local function find(op, shape)
    for _, c in ipairs(cv.nn.kernel_choices()) do
      if c.op == op and c.shape == shape then return c.kernel, c.calls end
    end
  end

  before_each(function() cv.nn.kernel_choices{reset = true} end)

  it("names the build's instruction set and its vector width", function()
    local k = cv.nn.kernel_choices()
    local lanes = {avx512 = 16, ["avx2+fma"] = 8, avx = 8, sse2 = 4}
    assert.are.equal(lanes[k.isa], k.lanes)
    assert.are.equal(0, #k)
    assert.are.equal(0, k.dropped)
  end)

  it("gives each InnerProduct path by rows, with the skinny blocks of the width", function()
    local w = cv.randn(10, 100)
    cv.nn.linear(cv.randn(1, 100), w)
    cv.nn.linear(cv.randn(8, 100), w)
    cv.nn.linear(cv.randn(8, 100), w)
    cv.nn.linear(cv.randn(40, 100), w)
    cv.nn.linear(cv.randn(1, 10), w, nil, {transpose = true})
    local lanes = cv.nn.kernel_choices().lanes
    local skinny = string.format("skinny, 4x%d blocks of %d lanes", lanes == 16 and 4 or 2, lanes)
    assert.are.equal(skinny, find("linear forward", "1x100 -> 10"))
    assert.are.equal("sgemv", find("linear forward", "1x10 -> 100 transposed"))
    local kernel, calls = find("linear forward", "8x100 -> 10")
    assert.are.equal(skinny, kernel)
    assert.are.equal(2, calls)
    assert.are.equal("sgemm", find("linear forward", "40x100 -> 10"))
  end)

  it("gives the weight gradient's kernel on the tape", function()
    local w = cv.randn(10, 100):requires_grad_()
    cv.nn.linear(cv.randn(8, 100), w):sum():backward()
    cv.nn.linear(cv.randn(1, 100), w):sum():backward()
    local lanes = cv.nn.kernel_choices().lanes
    assert.are.equal(string.format("skinny, %dx4 blocks of %d lanes", lanes == 16 and 4 or 2,
      lanes), find("linear weight grad", "8x100 -> 10"))
    assert.are.equal("sger", find("linear weight grad", "1x100 -> 10"))
  end)

  it("gives Winograd from 9 output blocks, im2col below and when forced", function()
    local w = cv.randn(16, 16, 3, 3)
    cv.nn.conv2d(cv.randn(1, 16, 5, 5), w, nil, {pad = 1})  -- 3 x 3 blocks
    cv.nn.conv2d(cv.randn(2, 16, 3, 3), w, nil, {pad = 1})  -- 2 x 4 blocks
    assert.are.equal("winograd F(2x2,3x3)", find("conv2d forward", "1x16x5x5 k3x3 s1 p1 g1 -> 16"))
    assert.matches("^im2col %+ ", find("conv2d forward", "2x16x3x3 k3x3 s1 p1 g1 -> 16"))
    cv.nn.conv2d(cv.randn(1, 16, 5, 5), w, nil, {pad = 1, algorithm = "im2col"})
    -- the forced run replaced the first choice of that shape
    local kernel, calls = find("conv2d forward", "1x16x5x5 k3x3 s1 p1 g1 -> 16")
    assert.matches("^im2col %+ ", kernel)
    assert.are.equal(2, calls)
  end)

  it("gives the backward's kernels for the input and the weight gradient", function()
    local x, w = cv.randn(4, 16, 16, 16), cv.randn(8, 16, 5, 5)
    local y = cv.nn.conv2d(x, w, nil, {pad = 2})
    cv.nn.conv2d_backward(x, w, cv.ones(y:size()), {pad = 2})
    -- dx's convolution has 8 channels in per group: below 16, im2col
    assert.matches("^im2col %+ ", find("conv2d input grad", "4x16x16x16 k5x5 s1 p2 g1 -> 8"))
    assert.matches("^im2col %+ ", find("conv2d weight grad", "4x16x16x16 k5x5 s1 p2 g1 -> 8"))
    cv.nn.conv2d_backward(x, w, cv.ones(y:size()), {pad = 2, algorithm = "winograd"})
    assert.are.equal("winograd F(2x2,5x5)",
      find("conv2d weight grad", "4x16x16x16 k5x5 s1 p2 g1 -> 8"))
  end)

  it("forgets them on reset, after returning them", function()
    cv.nn.linear(cv.randn(8, 100), cv.randn(10, 100))
    assert.are.equal(1, #cv.nn.kernel_choices{reset = true})
    assert.are.equal(0, #cv.nn.kernel_choices())
  end)

  it("rejects options that are not a table", function()
    assert.has.error(function() cv.nn.kernel_choices(1) end,
      "bad argument #1 to 'kernel_choices' (table expected, got number)")
  end)
end)
