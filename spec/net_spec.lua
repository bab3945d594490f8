local cv = require "cnnvis"
local support = require "spec.support"

local FIX = support.shared("caffe/")
local LENET, LENET_W = FIX .. "lenet.prototxt", FIX .. "lenet_iter_10000.caffemodel"
local write_temp = support.write_temp

local function lenet_text() return support.read(LENET) end

-- The bar the fixture README describes: rows 4-23, cols 13-15 (0-based).
local function vertical_bar()
  local x = cv.zeros(1, 1, 28, 28)
  x[{1, 1, {5, 24}, {14, 16}}] = 1
  return x
end

describe("net", function()
  describe("caffe.load()", function()
    it("loads LeNet with its weights: the fixture's layers and float count", function()
      local net = cv.caffe.load(LENET, LENET_W)
      assert.same({20, 1, 5, 5}, net.params.conv1.weight:size())
      assert.same({20}, net.params.conv1.bias:size())
      assert.same({50, 20, 5, 5}, net.params.conv2.weight:size())
      assert.same({500, 800}, net.params.ip1.weight:size())
      assert.same({10, 500}, net.params.ip2.weight:size())
      local total = 0
      for _, p in pairs(net.params) do
        for _, t in ipairs(p) do total = total + t:numel() end
      end
      assert.equal(431080, total)
    end)

    it("classifies the vertical bar as 1 with a logit of about 15.06", function()
      local net = cv.caffe.load(LENET, LENET_W)
      local out = net:forward(vertical_bar())
      local logits = net.blobs.ip2
      local best, best_v = 0, -math.huge
      for c = 1, 10 do
        local v = logits[{1, c}]:item()
        if v > best_v then best, best_v = c - 1, v end
      end
      assert.equal(1, best)
      assert.near(15.06, best_v, 0.01)
      assert.same({1, 10}, out.prob:size())
    end)

    it("takes any batch size", function()
      local net = cv.caffe.load(LENET, LENET_W)
      net:forward(cv.zeros(3, 1, 28, 28))
      assert.same({3, 10}, net.blobs.prob:size())
    end)

    it("stops early with upto", function()
      local net = cv.caffe.load(LENET, LENET_W)
      local out = net:forward(vertical_bar(), {upto = "pool1"})
      assert.same({1, 20, 12, 12}, out.pool1:size())
      assert.is_nil(net.blobs.ip1)
    end)

    it("fills a net without weights from its fillers, seeded", function()
      cv.manual_seed(3)
      local a = cv.caffe.load(LENET).params.conv1.weight:totable()
      cv.manual_seed(3)
      local b = cv.caffe.load(LENET).params.conv1.weight:totable()
      assert.same(a, b)
      -- xavier: uniform in +-sqrt(3 / fan_in), fan_in = 1*5*5
      local bound = math.sqrt(3 / 25)
      for _, v in ipairs(cv.caffe.load(LENET).params.conv1.weight:view(-1):totable()) do
        assert.is_true(math.abs(v) <= bound)
      end
    end)

    it("fills the layers a caffemodel lacks from their fillers, as Caffe does", function()
      local full = cv.caffe.read_weights(LENET_W)
      local path = os.tmpname()
      cv.caffe.write_weights(path, {full[2]}) -- conv1 only
      local net = cv.caffe.load(LENET, path)
      os.remove(path)
      assert.same(full[2].blobs[1]:view(-1):totable(), net.params.conv1.weight:view(-1):totable())
      local bound = math.sqrt(3 / (20 * 5 * 5)) -- conv2: xavier over fan_in 20*5*5
      assert.is_true(net.params.conv2.weight:abs():max():item() <= bound)
      assert.is_true(net.params.conv2.weight:abs():max():item() > 0)
      assert.equal(0, net.params.conv2.bias:abs():max():item())
    end)

    it("prints a table of layers, shapes and parameter counts", function()
      local text = tostring(cv.caffe.load(LENET))
      assert.matches("conv1%s+Convolution%s+64x20x24x24%s+520", text)
      assert.matches("total%s+431080", text)
    end)
  end)

  describe("bad input", function()
    it("names the layer and both shapes when weights do not fit", function()
      local path = write_temp((lenet_text():gsub("num_output: 20", "num_output: 21", 1)))
      assert.has.error(function() cv.caffe.load(path, LENET_W) end,
        LENET_W .. ": layer 'conv1' blob 1 has shape 20x1x5x5 in the weights but the definition needs 21x1x5x5")
      os.remove(path)
    end)

    it("names an unknown layer type and lists the supported ones", function()
      local path = write_temp((lenet_text():gsub('type: "ReLU"', 'type: "Swish"', 1)))
      local ok, msg = pcall(cv.caffe.load, path)
      assert.is_false(ok)
      assert.matches("layer 'relu1' has type 'Swish', which cnnvis does not support %(supported: Input, Convolution, .*ReLU", msg)
      os.remove(path)
    end)

    it("names a bottom that no layer produces", function()
      local path = write_temp((lenet_text():gsub('bottom: "pool1"', 'bottom: "pool9"', 1)))
      assert.has.error(function() cv.caffe.load(path) end,
        path .. ": layer 'conv2' reads blob 'pool9', which no earlier layer produces")
      os.remove(path)
    end)

    it("names the input when its shape does not fit", function()
      local net = cv.caffe.load(LENET)
      assert.has.error(function() net:forward(cv.zeros(1, 3, 28, 28)) end,
        "forward: input 'data' has shape 1x3x28x28, the net takes Nx1x28x28")
    end)

    it("names a layer that upto cannot find, and lists the layers", function()
      local net = cv.caffe.load(LENET)
      assert.has.error(function() net:forward(cv.zeros(1, 1, 28, 28), {upto = "conv9"}) end,
        "forward: the net has no layer 'conv9' (its layers: data, conv1, pool1, conv2, pool2, " ..
        "ip1, relu1, ip2, prob)")
    end)

    it("names a blob that neuron cannot find, and lists the blobs", function()
      local net = cv.caffe.load(LENET)
      assert.has.error(function() net:neuron("prob", {class = 1}) end,
        "neuron: blob 'prob' has no value: run forward first (keeping it)")
      net:forward(cv.zeros(1, 1, 28, 28))
      assert.has.error(function() net:neuron("fc9", {class = 1}) end,
        "neuron: the net has no blob 'fc9' (its blobs: data, conv1, pool1, conv2, pool2, " ..
        "ip1, ip2, prob)")
    end)

    it("names a layer that per-sample norms cannot find, and lists the layers", function()
      local net = cv.caffe.load(LENET)
      net:forward(cv.zeros(2, 1, 28, 28))
      assert.has.error(function() net:per_sample_norms({"ip2", class = 1}, {layers = {"ip9"}}) end,
        "the net has no layer 'ip9' (its layers: data, conv1, pool1, conv2, pool2, ip1, " ..
        "relu1, ip2, prob)")
    end)
  end)

  describe("save()", function()
    it("writes a caffemodel that loads back exactly", function()
      local net = cv.caffe.load(LENET, LENET_W)
      local path = os.tmpname()
      cv.caffe.save(net, path)
      local again = cv.caffe.load(LENET, path)
      for name, p in pairs(net.params) do
        for i, t in ipairs(p) do
          assert.same(t:view(-1):totable(), again.params[name][i]:view(-1):totable())
        end
      end
      os.remove(path)
    end)
  end)
end)
