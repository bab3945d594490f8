local cv = require "cnnvis"
local nn = cv.nn
local support = require "spec.support"

-- PReLU and Slice, the layers of face-detection and landmark nets: values
-- against PyTorch goldens (spec/fixtures/gen_prelu_slice.py, float64),
-- gradients against central differences (cv.gradcheck) and PyTorch's
-- autograd, and the net layers against the same arithmetic in tensor ops.
local FIX = "spec/fixtures/layers/"
local TOL = {eps = 1e-3, rtol = 1e-2, atol = 1e-3}

local function load(name)
  local out = {}
  for k, v in pairs(dofile(FIX .. name .. ".lua")) do
    out[k] = cv.tensor(v.data):view(v.shape)
  end
  return out
end

local function close(got, want, tol)
  assert.same(want:size(), got:size())
  assert.is_true(cv.allclose(got, want, tol or 1e-5, tol or 1e-5),
    "largest difference " .. tostring((got - want):abs():max():item()))
end

local function leaf(t)
  t = t:clone()
  t.requires_grad = true
  return t
end

local function net_of(text)
  local path = support.write_temp(text)
  local ok, net = pcall(cv.caffe.load, path)
  os.remove(path)
  if not ok then error(net, 0) end
  return net
end

local INPUT = [[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 6 dim: 3 dim: 2 } } }
]]

describe("PReLU", function()
  local g = load("prelu")

  describe("nn.prelu()", function()
    it("gives PyTorch's values with one slope per channel and one shared", function()
      close(nn.prelu(g.x, g.slope), g.y)
      close(nn.prelu(g.x, g.slope_shared), g.y_shared)
    end)

    it("works on a view (made contiguous)", function()
      local xt = g.x:transpose(3, 4)
      close(nn.prelu(xt, g.slope), nn.prelu(xt:contiguous(), g.slope))
    end)

    it("gives PyTorch's gradients, raw and on the tape", function()
      for _, tag in ipairs{"", "_shared"} do
        local dx, ds = nn.prelu_backward(g.x, g["slope" .. tag], g.dy)
        close(dx, g["dx" .. tag])
        close(ds, g["dslope" .. tag], 1e-4)
        local x, s = leaf(g.x), leaf(g["slope" .. tag]);
        (nn.prelu(x, s) * g.dy):sum():backward()
        close(x.grad, g["dx" .. tag])
        close(s.grad, g["dslope" .. tag], 1e-4)
      end
    end)

    it("passes gradcheck for the input and the slopes", function()
      cv.manual_seed(3)
      local x, s = support.leaf(2, 3, 3, 2), leaf(cv.tensor{0.25, -0.5, 2})
      local r = cv.randn(2, 3, 3, 2)
      support.assert_gradcheck(function(a, b) return (nn.prelu(a, b) * r):sum() end, {x, s}, TOL)
      local one = leaf(cv.tensor{0.3})
      support.assert_gradcheck(function(a, b) return (nn.prelu(a, b) * r):sum() end, {x, one}, TOL)
    end)

    it("refuses a slope that is neither one nor one per channel", function()
      assert.has.error(function() nn.prelu(cv.zeros(2, 3, 4), cv.zeros(2)) end,
        "prelu: input 2x3x4 needs 1 slope or one per channel (3), got 2")
    end)
  end)

  describe("the PReLU layer", function()
    it("starts from Caffe's 0.25, per channel or shared (a 0-d blob)", function()
      local net = net_of(INPUT .. [[
layer { name: "p/1" type: "PReLU" bottom: "data" top: "data" }
layer { name: "p/2" type: "PReLU" bottom: "data" top: "q" prelu_param { channel_shared: true } }
layer { name: "p/3" type: "PReLU" bottom: "q" top: "r"
  prelu_param { filler { type: "constant" value: -2 } } }
]])
      assert.same({6}, net.params["p/1"].weight:size())
      assert.same({}, net.params["p/2"].weight:size())
      close(net.params["p/1"].weight, cv.full({6}, 0.25))
      close(net.params["p/3"].weight, cv.full({6}, -2))
      local x = cv.randn(2, 6, 3, 2)
      net:forward(x)
      local function prelu(t, a) return cv.where(t:gt(0), t, t * a) end
      close(net.blobs.r, prelu(prelu(prelu(x, 0.25), 0.25), -2))
    end)

    it("learns its slopes: the net's gradient is the kernel's", function()
      local net = net_of(INPUT .. [[
layer { name: "p" type: "PReLU" bottom: "data" top: "p" }
]])
      cv.manual_seed(5)
      local x, r = cv.randn(2, 6, 3, 2), cv.randn(2, 6, 3, 2)
      net:forward(x);
      (net.blobs.p * r):sum():backward()
      local _, ds = nn.prelu_backward(x, net.params.p.weight:detach(), r)
      close(net.params.p.weight.grad, ds, 1e-4)
    end)

    it("refuses a bottom without channels", function()
      local path = support.write_temp([[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 5 } } }
layer { name: "p" type: "PReLU" bottom: "data" top: "p" }
]])
      assert.has.error(function() cv.caffe.load(path) end,
        path .. ": layer 'p' (PReLU): needs a bottom with channels (N x C x ...), not 5")
      os.remove(path)
    end)
  end)
end)

describe("Slice", function()
  local g = load("slice")

  describe("nn.slice()", function()
    it("cuts at Caffe's slice points as torch.split does", function()
      local ys = nn.slice(g.x, {dim = 2, points = {1, 3}})
      assert.equal(3, #ys)
      close(ys[1], g.y1)
      close(ys[2], g.y2)
      close(ys[3], g.y3)
    end)

    it("cuts into equal parts without points", function()
      local x = cv.tensor{{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}}
      local ys = nn.slice(x, {dim = 2, count = 3})
      assert.same({{0, 1}, {6, 7}}, ys[1]:totable())
      assert.same({{4, 5}, {10, 11}}, ys[3]:totable())
      local rows = nn.slice(x, {dim = 1, count = 2})
      assert.same({{6, 7, 8, 9, 10, 11}}, rows[2]:totable())
    end)

    it("gives PyTorch's gradient, raw and on the tape", function()
      close(nn.slice_backward({g.dy1, g.dy2, g.dy3}, {dim = 2}), g.dx)
      local x = leaf(g.x)
      local ys = nn.slice(x, {dim = 2, points = {1, 3}});
      ((ys[1] * g.dy1):sum() + (ys[2] * g.dy2):sum() + (ys[3] * g.dy3):sum()):backward()
      close(x.grad, g.dx)
    end)

    it("passes gradcheck, a part used twice and a part unused", function()
      cv.manual_seed(4)
      local x, r = support.leaf(3, 5, 2), cv.randn(3, 2, 2)
      support.assert_gradcheck(function(a)
        local ys = nn.slice(a, {dim = 2, points = {2, 4}})
        return (ys[1] * r):sum() + (ys[1] * ys[2]):sum()
      end, {x}, TOL)
    end)

    it("names what is wrong with the points", function()
      local x = cv.zeros(2, 6)
      assert.has.error(function() nn.slice(x, {dim = 2, count = 4}) end,
        "slice: axis 1 has size 6, which 4 outputs do not divide evenly (give slice_point)")
      assert.has.error(function() nn.slice(x, {dim = 2, points = {3, 2}}) end,
        "slice: slice point 2 is out of order or outside (3, 6] along axis 1 (size 6)")
      assert.has.error(function() nn.slice(x, {dim = 2, points = {6}}) end,
        "slice: slice point 6 is out of order or outside (6, 6] along axis 1 (size 6)")
    end)
  end)

  describe("the Slice layer", function()
    it("has several tops, from axis, legacy slice_dim or an even split", function()
      local net = net_of(INPUT .. [[
layer { name: "s/a" type: "Slice" bottom: "data" top: "a/1" top: "a/2" top: "a/3"
  slice_param { axis: 1 slice_point: 1 slice_point: 4 } }
layer { name: "s/b" type: "Slice" bottom: "data" top: "b/1" top: "b/2" slice_param { slice_dim: 3 } }
layer { name: "s/c" type: "Slice" bottom: "data" top: "c/1" top: "c/2" top: "c/3" }
layer { name: "s/d" type: "Slice" bottom: "data" top: "d/1" top: "d/2" slice_param { axis: -1 } }
]])
      local x = cv.randn(2, 6, 3, 2)
      net:forward(x)
      close(net.blobs["a/1"], x:narrow(2, 1, 1))
      close(net.blobs["a/2"], x:narrow(2, 2, 3))
      close(net.blobs["a/3"], x:narrow(2, 5, 2))
      close(net.blobs["b/1"], x:narrow(4, 1, 1))
      close(net.blobs["b/2"], x:narrow(4, 2, 1))
      close(net.blobs["c/2"], x:narrow(2, 3, 2))
      close(net.blobs["d/2"], x:narrow(4, 2, 1))
      assert.same({{2, 1, 3, 2}, {2, 3, 3, 2}, {2, 2, 3, 2}}, net.layers[2].top_shapes)
    end)

    it("passes each top's gradient back to its part of the bottom", function()
      local net = net_of(INPUT .. [[
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
  convolution_param { num_output: 4 kernel_size: 1 weight_filler { type: "gaussian" std: 1 } } }
layer { name: "s" type: "Slice" bottom: "c" top: "s1" top: "s2" slice_param { slice_point: 1 } }
]])
      local x = cv.randn(2, 6, 3, 2)
      net:forward(x)
      net.blobs.s2:sum():backward()
      -- d sum(s2) / d w[o] = sum of x over the batch and space for o >= 2, 0 for o = 1
      local want = x:sum(1):sum(2):sum(2):view(1, 6, 1, 1)
      close(net.params.c.weight.grad[1], cv.zeros(6, 1, 1))
      for o = 2, 4 do close(net.params.c.weight.grad[o], want:view(6, 1, 1), 1e-4) end
    end)

    it("refuses slice points that do not match the tops", function()
      local path = support.write_temp(INPUT .. [[
layer { name: "s" type: "Slice" bottom: "data" top: "a" top: "b" slice_param { slice_point: 1 slice_point: 2 } }
]])
      assert.has.error(function() cv.caffe.load(path) end,
        path .. ": layer 's' (Slice): slice: 2 outputs need 1 slice points, got 2")
      os.remove(path)
      path = support.write_temp(INPUT .. [[
layer { name: "s" type: "Slice" bottom: "data" top: "a" top: "b" slice_param { axis: 1 slice_dim: 1 } }
]])
      assert.has.error(function() cv.caffe.load(path) end,
        path .. ": layer 's' (Slice): slice_param gives both axis and slice_dim; give one")
      os.remove(path)
    end)
  end)
end)

describe("an unsupported layer type", function()
  it("is refused at load by layer name and type, with the supported list", function()
    local path = support.write_temp(INPUT .. [[
layer { name: "roi/pool" type: "ROIPooling" bottom: "data" top: "r" }
]])
    assert.has.error(function() cv.caffe.load(path) end,
      path .. ": layer 'roi/pool' has type 'ROIPooling', which cnnvis does not support " ..
      "(supported: Input, Convolution, Pooling, LRN, InnerProduct, ReLU, Sigmoid, TanH, " ..
      "PReLU, Power, Dropout, Split, Softmax, SoftmaxWithLoss, Accuracy, Concat, Slice, " ..
      "Eltwise, Flatten, Reshape, BatchNorm, Scale)")
    os.remove(path)
  end)
end)
