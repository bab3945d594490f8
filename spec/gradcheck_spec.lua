local cv = require "cnnvis"

-- Every differentiable tensor op against central differences. Inputs are
-- float32, so the tolerance is 1e-2 relative + 1e-3 absolute (eps 1e-3),
-- which float32 rounding stays well inside for these small inputs.
local TOL = {eps = 1e-3, rtol = 1e-2, atol = 1e-3}

local support = require "spec.support"
local leaf = support.leaf

local function positive(...)
  local t = cv.rand(...) + 0.5
  t = t:detach()
  t.requires_grad = true
  return t
end

local function check(f, inputs) support.assert_gradcheck(f, inputs, TOL) end

describe("gradcheck", function()
  before_each(function() cv.manual_seed(7) end)

  describe("element-wise ops", function()
    it("+ - * / with broadcasting", function()
      check(function(a, b) return (a + b):sum() end, {leaf(3, 4), leaf(4)})
      check(function(a, b) return (a - b):sum() end, {leaf(3, 1), leaf(1, 4)})
      check(function(a, b) return (a * b * a):sum() end, {leaf(2, 3), leaf(3)})
      check(function(a, b) return (a / b):sum() end, {leaf(2, 3), positive(2, 3)})
    end)

    it("numbers on either side", function()
      check(function(a) return (2 - a * 3 + 1):sum() end, {leaf(5)})
      check(function(a) return (1 / a + a / 4):sum() end, {positive(5)})
      check(function(a) return (a ^ 3 + 2 ^ a):sum() end, {positive(5)})
      check(function(a) return (-a):sum() end, {leaf(5)})
    end)

    it("pow of two tensors", function()
      check(function(a, b) return (a ^ b):sum() end, {positive(4), leaf(4)})
    end)

    it("exp, log, sqrt, abs, relu, sigmoid, tanh", function()
      check(function(a) return a:exp():sum() end, {leaf(6)})
      check(function(a) return a:log():sum() end, {positive(6)})
      check(function(a) return a:sqrt():sum() end, {positive(6)})
      check(function(a) return (a:abs() * a):sum() end, {leaf(6)})
      check(function(a) return (a:relu() * a):sum() end, {leaf(6)})
      check(function(a) return a:sigmoid():sum() end, {leaf(6)})
      check(function(a) return a:tanh():sum() end, {leaf(6)})
    end)

    it("clamp and where", function()
      local a = cv.tensor{-2, -0.5, 0.3, 0.9, 3}:detach()
      a.requires_grad = true
      check(function(x) return (x:clamp(-1, 1) * x):sum() end, {a})
      local cond = cv.tensor{1, 0, 1, 0}
      check(function(x, y) return cv.where(cond, x, y * 2):sum() end, {leaf(4), leaf(4)})
    end)
  end)

  describe("reductions", function()
    it("sum and mean, over all and along a dim", function()
      check(function(a) return (a:sum(2) * cv.tensor{1, 2, 3}):sum() end, {leaf(3, 4)})
      check(function(a) return (a:mean(1, true) * a):sum() end, {leaf(3, 4)})
      check(function(a) return a:mean() end, {leaf(3, 4)})
    end)

    it("norm with p = 1, 2, inf", function()
      check(function(a) return a:norm() end, {leaf(3, 4)})
      check(function(a) return a:norm(1, 2):sum() end, {leaf(3, 4)})
      check(function(a) return a:norm(math.huge, 1):sum() end, {leaf(3, 4)})
    end)

    it("var and std", function()
      check(function(a) return a:var(2):sum() end, {leaf(3, 5)})
      check(function(a) return a:std():sum() end, {leaf(3, 5)})
      check(function(a) return a:var(1, {unbiased = false}):sum() end, {leaf(3, 5)})
    end)

    it("max and min route to their positions", function()
      check(function(a) return (a:max(2) * cv.tensor{1, 2, 3}):sum() end, {leaf(3, 4)})
      check(function(a) return a:min() end, {leaf(3, 4)})
    end)
  end)

  describe("joins, views and matmul", function()
    it("cat and stack", function()
      check(function(a, b) return (cv.cat({a, b}, 2) * cv.arange(5)):sum() end, {leaf(2, 2), leaf(2, 3)})
      check(function(a, b) return (cv.stack({a, b}, 1) * cv.arange(3)):sum() end, {leaf(3), leaf(3)})
    end)

    it("views and indexing", function()
      check(function(a) return (a:transpose():reshape(6) * cv.arange(6)):sum() end, {leaf(2, 3)})
      check(function(a) return (a[{2, {1, 2}}] * 3):sum() + a[{1, 3}] end, {leaf(2, 3)})
    end)

    it("matmul: 2-d, vector and batched", function()
      check(function(a, b) return cv.matmul(a, b):tanh():sum() end, {leaf(3, 4), leaf(4, 2)})
      check(function(a, b) return cv.matmul(a, b):sum() end, {leaf(4), leaf(4, 2)})
      check(function(a, b) return cv.matmul(a, b) end, {leaf(4), leaf(4)})
      check(function(a, b) return cv.matmul(a, b):tanh():sum() end, {leaf(2, 3, 4), leaf(4, 2)})
    end)
  end)

  describe("layer ops (cv.nn) on the tape", function()
    it("conv2d with stride, padding and groups", function()
      check(function(x, w, b) return cv.nn.conv2d(x, w, b, {stride = 2, pad = 1, group = 2}):tanh():sum() end,
        {leaf(1, 4, 5, 5), leaf(6, 2, 3, 3), leaf(6)})
    end)

    it("max and average pooling (Caffe's ceil mode)", function()
      local r = cv.randn(1, 2, 3, 3)
      check(function(x) return (cv.nn.max_pool2d(x, {kernel = 3, stride = 2}) * r):sum() end, {leaf(1, 2, 6, 6)})
      check(function(x) return (cv.nn.avg_pool2d(x, {kernel = 3, stride = 2, pad = 1}) * r[{{}, {}, {1, 3}, {1, 3}}]):sum() end,
        {leaf(1, 2, 5, 5)})
    end)

    it("LRN across and within channels", function()
      check(function(x) return cv.nn.lrn(x, {size = 3, alpha = 0.5, beta = 0.75}):sum() end, {leaf(1, 4, 3, 3)})
      check(function(x) return cv.nn.lrn(x, {size = 3, alpha = 0.5, beta = 0.75, region = "within"}):sum() end,
        {leaf(1, 2, 4, 4)})
    end)

    it("linear, relu, sigmoid, tanh, softmax", function()
      local r = cv.randn(3, 4)
      check(function(x, w, b) return (cv.nn.linear(x, w, b) * r):sum() end, {leaf(3, 5), leaf(4, 5), leaf(4)})
      check(function(x) return (cv.nn.relu(x, 0.1) * r):sum() end, {leaf(3, 4)})
      check(function(x) return (cv.nn.sigmoid(x) * r):sum() + cv.nn.tanh(x):sum() end, {leaf(3, 4)})
      check(function(x) return (cv.nn.softmax(x) * r):sum() end, {leaf(3, 4)})
    end)
  end)

  describe("errors", function()
    it("refuses in-place changes of a tensor computed on the tape", function()
      local a = leaf(3)
      local b = a * 2
      assert.has.error(function() b:add_(1) end,
        "add: a tensor computed on the tape (by mul) cannot be changed in place while grad mode is on (use cv.no_grad, detach(), or an out-of-place op)")
      cv.no_grad(function() b:add_(1) end)
      a:add_(1) -- a leaf may change: scripts set and prune weights
    end)

    it("needs a one-element result", function()
      assert.has.error(function() cv.gradcheck(function(a) return a * 2 end, {leaf(3)}) end,
        "gradcheck: the function must return a one-element tensor")
    end)
  end)
end)

describe("validate_weight_gradient()", function()
  it("agrees within 1% on every LeNet layer (fixture weights)", function()
    local fix = "../shared/fixtures/caffe/"
    local net = cv.caffe.load(fix .. "lenet.prototxt", fix .. "lenet_iter_10000.caffemodel")
    local x = cv.zeros(1, 1, 28, 28)
    x[{1, 1, {5, 24}, {14, 16}}] = 1
    net:forward(x)
    for _, layer in ipairs{"conv1", "conv2", "ip1", "ip2"} do
      local rows, summary = cv.validate_weight_gradient(net, {"ip2", class = 1}, layer, {count = 60})
      assert.equal(60, #rows)
      assert.is_true(summary.judged >= 3, layer .. ": too few weights judged")
      assert.is_true(summary.max_rel_error < 0.01,
        string.format("%s: worst relative error %.4f", layer, summary.max_rel_error))
    end
  end)

  it("takes the weights of the largest gradients first when asked", function()
    local fix = "../shared/fixtures/caffe/"
    local net = cv.caffe.load(fix .. "lenet.prototxt", fix .. "lenet_iter_10000.caffemodel")
    local x = cv.zeros(1, 1, 28, 28)
    x[{1, 1, {5, 24}, {14, 16}}] = 1
    net:forward(x)
    local rows = cv.validate_weight_gradient(net, {"ip2", class = 1}, "ip2", {count = 6, largest = 3})
    net:zero_grad()
    net:forward(x)
    net:neuron("ip2", {class = 1}):backward()
    local g = net.params.ip2.weight.grad:abs()
    local sorted = g:view(-1):sort(1, true)
    for r = 1, 3 do
      assert.equal(sorted[r]:item(), g[rows[r].index]:item())
    end
    for r = 4, 6 do  -- the others: none of the three again
      for q = 1, 3 do assert.are_not.same(rows[q].index, rows[r].index) end
    end
  end)

  it("names a layer without parameters", function()
    local fix = "../shared/fixtures/caffe/"
    local net = cv.caffe.load(fix .. "lenet.prototxt")
    net:forward(cv.zeros(1, 1, 28, 28))
    assert.has.error(function() cv.validate_weight_gradient(net, {"ip2", class = 1}, "pool1") end,
      "validate_weight_gradient: the net has no parameters in layer 'pool1'")
  end)
end)
