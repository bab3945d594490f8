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

  it("names its ten classes in the label file, in the dataset's order", function()
    local labels = cv.data.read_labels("examples/models/fashion_labels.txt")
    assert.same(cv.data.FASHION_MNIST_CLASSES, labels.names)
  end)
end)
