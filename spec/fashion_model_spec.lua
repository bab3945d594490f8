local cv = require "cnnvis"
local train = require "cnnvis.train"

local DEPLOY = "examples/models/fashion_caffenet.prototxt"
local WEIGHTS = "examples/models/fashion_caffenet.caffemodel"

describe("the shipped default model", function()
  local net = cv.caffe.load(DEPLOY, WEIGHTS)

  it("has CaffeNet's layer types in CaffeNet's order, 48 filters or more in conv1", function()
    local types = {}
    for _, l in ipairs(net.layers) do
      if l.type ~= "Input" and l.type ~= "Power" then types[#types + 1] = l.type end
    end
    assert.same({"Convolution", "ReLU", "Pooling", "LRN", "Convolution", "ReLU", "Pooling",
      "LRN", "Convolution", "ReLU", "Convolution", "ReLU", "Convolution", "ReLU", "Pooling",
      "InnerProduct", "ReLU", "Dropout", "InnerProduct", "ReLU", "Dropout", "InnerProduct",
      "Softmax"}, types)
    assert.is_true(net.params.conv1.weight:size(1) >= 48)
  end)

  it("keeps its weights under 10 MB", function()
    local f = assert(io.open(WEIGHTS, "rb"))
    local size = f:seek("end")
    f:close()
    assert.is_true(size < 10 * 1024 * 1024, size .. " bytes")
  end)

  it("classifies raw test images (0..255) well", function()
    local test = cv.data.fashion_mnist("test")
    local first = {}
    for i = 1, 500 do first[i] = i end
    local r = train.evaluate(net, test:subset(first))
    assert.is_true(r.accuracy >= 0.9, "accuracy " .. r.accuracy)
  end)

  it("gives the same gradients by Winograd's convolutions as by im2col, at batch 32", function()
    -- At batch 32 every conv layer but conv1 (one input channel) is big
    -- enough for Winograd by default (and with it forced, conv1 too); the
    -- fc8 outputs and the weights' gradients of a class neuron must agree
    -- with im2col's within float32's rounding (2e-5 of the largest value).
    local images = cv.data.fashion_mnist("test"):batches(32)().images
    local function gradients(algorithm)
      local before = cv.nn.set_conv_algorithm(algorithm)
      for _, p in pairs(net.params) do
        p.weight:zero_grad()
        p.bias:zero_grad()
      end
      local out = net:forward(images, {upto = "fc8"})
      net:neuron("fc8", {class = 3}):backward()
      cv.nn.set_conv_algorithm(before)
      local g = {fc8 = out.fc8:detach()}
      for name, p in pairs(net.params) do g[name] = p.weight.grad:clone() end
      return g
    end
    local im2col = gradients("im2col")
    local function off(g, name) return (g[name] - im2col[name]):abs():max():item() end
    for _, other in ipairs{gradients("auto"), gradients("winograd")} do
      for name, g in pairs(im2col) do
        local big = g:abs():max():item()
        assert.is_true(off(other, name) <= 2e-5 * big,
          string.format("%s: off by %.3g, largest %.3g", name, off(other, name), big))
      end
      assert.is_true(off(other, "conv3") > 0, "Winograd was not used")
    end
  end)

  it("names its ten classes in the label file, in the dataset's order", function()
    local labels = cv.data.read_labels("examples/models/fashion_labels.txt")
    assert.same(cv.data.FASHION_MNIST_CLASSES, labels.names)
  end)
end)
