local cv = require "cnnvis"

-- Goldens written by spec/fixtures/gen_caffenet_backward.py: PyTorch autograd
-- (in double) on the small CaffeNet of gen_caffenet.py, the gradient of fc8's
-- class 3 summed over the batch of 2 for every parameter blob.
local GOLD = "spec/fixtures/caffenet/"
local CLASS = 3

local function formula_input(n, c, h, w)
  local vals = {}
  for i = 0, n * c * h * w - 1 do vals[i + 1] = ((i * 7919) % 1009 - 504) / 5 end
  return cv.tensor(vals):view(n, c, h, w)
end

-- The rule per parameter blob: max |a - b| <= 1e-3 * max |b|.
local function assert_blob_close(name, got, want)
  assert.same(want:size(), got:size(), name .. ": shape")
  local diff = (got - want):abs():max():item()
  local scale = want:abs():max():item()
  assert(scale > 0, name .. ": the golden gradient is all zero")
  assert(diff <= 1e-3 * scale, string.format("%s: max |diff| %.3g > 1e-3 * max |golden| %.3g",
    name, diff, 1e-3 * scale))
end

local function load_small()
  local net = cv.caffe.load(GOLD .. "caffenet_small.prototxt")
  cv.no_grad(function()
    for _, l in ipairs(net.layers) do
      if #l.params > 0 then
        net.params[l.name].weight:copy_(cv.load_npy(GOLD .. l.name .. "_w.npy"))
        net.params[l.name].bias:copy_(cv.load_npy(GOLD .. l.name .. "_b.npy"))
      end
    end
  end)
  return net
end

describe("caffenet backward", function()
  describe("a small CaffeNet against PyTorch autograd", function()
    local layers = {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}

    it("gives every parameter blob's gradient within 1e-3 relative", function()
      local net = load_small()
      net:forward(formula_input(2, 3, 71, 71))
      -- Caffe's ceil-mode pooling agrees with torch's ceil_mode=True on these
      -- shapes (no window starts in padding): the goldens rely on it.
      assert.same({2, 8, 8, 8}, net.blobs.pool1:size())
      assert.same({2, 16, 4, 4}, net.blobs.pool2:size())
      assert.same({2, 16, 2, 2}, net.blobs.pool5:size())
      net:neuron("fc8", {class = CLASS}):backward()
      for _, name in ipairs(layers) do
        local p = net.params[name]
        assert_blob_close(name .. ".weight", p.weight.grad, cv.load_npy(GOLD .. "grad_" .. name .. "_w.npy"))
        assert_blob_close(name .. ".bias", p.bias.grad, cv.load_npy(GOLD .. "grad_" .. name .. "_b.npy"))
      end
    end)

    it("accumulates: a second backward doubles every gradient", function()
      local net = load_small()
      net:forward(formula_input(2, 3, 71, 71))
      net:neuron("fc8", {class = CLASS}):backward()
      net:forward(formula_input(2, 3, 71, 71))
      net:neuron("fc8", {class = CLASS}):backward()
      for _, name in ipairs(layers) do
        local want = cv.load_npy(GOLD .. "grad_" .. name .. "_w.npy") * 2
        assert_blob_close(name .. ".weight", net.params[name].weight.grad, want)
      end
    end)

    it("sums the batch: the two samples' gradients add up to the batch's", function()
      local net = load_small()
      local x = formula_input(2, 3, 71, 71)
      for i = 1, 2 do
        net:forward(x:narrow(1, i, 1):contiguous())
        net:neuron("fc8", {class = CLASS}):backward()
      end
      for _, name in ipairs(layers) do
        assert_blob_close(name .. ".weight", net.params[name].weight.grad,
          cv.load_npy(GOLD .. "grad_" .. name .. "_w.npy"))
      end
    end)
  end)
end)
