local cv = require "cnnvis"

local SMALL = "spec/fixtures/caffenet/caffenet_small.prototxt"

local function small_net()
  cv.manual_seed(11)
  local net = cv.caffe.load(SMALL)
  cv.no_grad(function()
    for _, p in pairs(net.params) do
      p.weight:copy_(cv.randn(p.weight:size()) * 0.1)
    end
  end)
  return net
end

describe("forward", function()
  describe("net:forward{keep = ...}", function()
    local net = small_net()
    cv.manual_seed(12)
    local x = cv.randn(2, 3, 71, 71) * 50

    it("keeps only the named blobs, with the values of a full forward", function()
      net:forward(x)
      local conv1, prob = net.blobs.conv1:clone(), net.blobs.prob:clone()
      local out = net:forward(x, {keep = {"conv1", "prob"}})
      assert.is_true(cv.allclose(out.prob, prob, 0, 0))
      assert.is_true(cv.allclose(net.blobs.conv1, conv1, 0, 0))
      for _, name in ipairs{"data", "pool1", "norm1", "conv5", "fc6", "fc7", "fc8"} do
        assert.is_nil(net.blobs[name], name)
      end
    end)

    it("gives every blob back on a forward without keep", function()
      net:forward(x, {keep = {"prob"}})
      net:forward(x)
      for _, name in ipairs{"data", "conv1", "pool2", "fc7", "prob"} do
        assert.truthy(net.blobs[name], name)
      end
    end)

    it("keeps what upto reached, and nothing else", function()
      local out = net:forward(x, {upto = "pool2", keep = {"pool2"}})
      assert.same({2, 16, 4, 4}, out.pool2:size())
      assert.is_nil(net.blobs.conv2)
      assert.is_nil(net.blobs.prob)
    end)

    it("names a blob the net does not have", function()
      assert.has.error(function() net:forward(x, {keep = {"conv9"}}) end,
        "forward: keep names blob 'conv9', which the net does not have")
      assert.has.error(function() net:forward(x, {keep = "prob"}) end,
        "forward: keep must be a list of blob names")
    end)

    it("records the tape through kept and released blobs alike", function()
      local fresh = small_net()
      fresh:forward(x, {keep = {"prob"}})
      fresh:neuron("prob", {class = 3, sample = 1}):backward()
      local g = fresh.params.conv1.weight.grad
      assert.truthy(g)
      assert.is_true(g:abs():sum():item() > 0)
    end)
  end)

  describe("in-place layers", function()
    it("never overwrite a tensor someone else holds (the caller's input)", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write([[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }
layer { name: "relu2" type: "ReLU" bottom: "data" top: "data" relu_param { negative_slope: 0.5 } }
]])
      f:close()
      local net = cv.caffe.load(path)
      os.remove(path)
      local x = cv.tensor{{{{-1, 2}, {3, -4}}}}
      cv.no_grad(function() net:forward(x) end)
      assert.same({{{{-1, 2}, {3, -4}}}}, x:totable())
      assert.same({{{{0, 2}, {3, 0}}}}, net.blobs.data:totable())
    end)
  end)

  describe("set_num_threads()", function()
    it("sets the count that get_num_threads reads, and results do not depend on it", function()
      local net = small_net()
      cv.manual_seed(13)
      local x = cv.randn(4, 3, 71, 71) * 50
      local before = cv.get_num_threads()
      cv.set_num_threads(1)
      assert.same(1, cv.get_num_threads())
      local one = cv.no_grad(function() return net:forward(x).prob:clone() end)
      cv.set_num_threads(2)
      assert.same(2, cv.get_num_threads())
      local two = cv.no_grad(function() return net:forward(x).prob:clone() end)
      cv.set_num_threads(before)
      assert.is_true(cv.allclose(one, two, 1e-5, 1e-7))
    end)

    it("rejects a count below 1", function()
      assert.has.error(function() cv.set_num_threads(0) end,
        "bad argument #1 to 'set_num_threads' (thread count must be 1 to 1024)")
    end)
  end)
end)
