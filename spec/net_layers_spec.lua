local cv = require "cnnvis"

-- The layer types beyond LeNet's, checked against the same arithmetic done
-- with tensor ops (a separate code path from the layer kernels).
local PROTOTXT = [[
name: "mix"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "a" type: "Convolution" bottom: "data" top: "a"
  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "b" type: "Convolution" bottom: "data" top: "b"
  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" eltwise_param { coeff: 2 coeff: -1 } }
layer { name: "prod" type: "Eltwise" bottom: "a" bottom: "b" top: "prod" eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "a" bottom: "b" top: "max" eltwise_param { operation: MAX } }
layer { name: "bn" type: "BatchNorm" bottom: "cat" top: "bn" }
layer { name: "sc" type: "Scale" bottom: "bn" top: "sc" scale_param { bias_term: true } }
layer { name: "flat" type: "Flatten" bottom: "sc" top: "flat" }
layer { name: "re" type: "Reshape" bottom: "max" top: "re" reshape_param { shape { dim: 0 dim: -1 dim: 4 } } }
]]

local write_temp = require("spec.support").write_temp

local function close(a, b)
  assert.same(a:size(), b:size())
  assert.is_true(cv.allclose(a, b, 1e-5, 1e-5))
end

describe("net layer types", function()
  local net, x, path
  before_each(function()
    cv.manual_seed(11)
    path = write_temp(PROTOTXT)
    net = cv.caffe.load(path)
    x = cv.randn(2, 3, 4, 4)
    cv.no_grad(function()
      net.params.bn[1]:copy_(cv.tensor{1, -1, 0.5, 2})      -- mean * factor
      net.params.bn[2]:copy_(cv.tensor{4, 1, 0.25, 9})      -- var * factor
      net.params.bn[3]:fill_(2)                             -- the factor
      net.params.sc.weight:copy_(cv.tensor{1, 2, 3, 4})
      net.params.sc.bias:copy_(cv.tensor{0.5, 0, -1, 1})
    end)
    net:forward(x)
  end)
  after_each(function() os.remove(path) end)

  it("Concat joins along channels", function()
    close(net.blobs.cat, cv.cat({net.blobs.a, net.blobs.b}, 2))
  end)

  it("Eltwise SUM with coefficients, PROD and MAX", function()
    local a, b = net.blobs.a, net.blobs.b
    close(net.blobs.sum, a * 2 - b)
    close(net.blobs.prod, a * b)
    close(net.blobs.max, cv.where(a:ge(b), a, b))
  end)

  it("BatchNorm with global statistics divides by the scale factor", function()
    local mean = cv.tensor{1, -1, 0.5, 2}:view(1, 4, 1, 1) / 2
    local var = cv.tensor{4, 1, 0.25, 9}:view(1, 4, 1, 1) / 2
    close(net.blobs.bn, (net.blobs.cat - mean) / (var + 1e-5):sqrt())
  end)

  it("Scale multiplies per channel and adds its bias", function()
    local g = cv.tensor{1, 2, 3, 4}:view(1, 4, 1, 1)
    local b = cv.tensor{0.5, 0, -1, 1}:view(1, 4, 1, 1)
    close(net.blobs.sc, net.blobs.bn * g + b)
  end)

  it("Flatten and Reshape are views of their bottom", function()
    close(net.blobs.flat, net.blobs.sc:reshape(2, 64))
    close(net.blobs.re, net.blobs.max:reshape(2, 8, 4))
  end)

  it("passes gradients back to the input through every type", function()
    local r = cv.randn(2, 64)
    local xin = x:clone()
    xin.requires_grad = true
    local ok, worst = cv.gradcheck(function(v)
      net:forward(v)
      return (net.blobs.flat * r):sum() + (net.blobs.re * 0.5):sum() + net.blobs.sum:sum()
        + net.blobs.prod:sum()
    end, {xin}, {eps = 1e-2, rtol = 1e-2, atol = 1e-3})
    assert(ok, string.format("worst at {%s}: %g vs %g", table.concat(worst.index, ","), worst.analytic, worst.numeric))
  end)

  it("BatchNorm with batch statistics normalizes each channel", function()
    local p = write_temp((PROTOTXT:gsub('type: "BatchNorm" bottom: "cat" top: "bn" }',
      'type: "BatchNorm" bottom: "cat" top: "bn" batch_norm_param { use_global_stats: false } }')))
    local n = cv.caffe.load(p)
    os.remove(p)
    n:forward(x)
    local cat = n.blobs.cat:transpose(1, 2):reshape(4, -1)
    local mean = cat:mean(2, true)
    local var = cat:var(2, {keepdim = true, unbiased = false})
    local want = ((cat - mean) / (var + 1e-5):sqrt()):reshape(4, 2, 4, 4):transpose(1, 2)
    close(n.blobs.bn, want:contiguous())
  end)

end)

describe("net layer definitions that cannot be built", function()
  local HEAD = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }\n'
  local CASES = {
    {'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { kernel_size: 3 } }',
     "layer 'c' (Convolution): has no convolution_param { num_output }"},
    {'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 } }',
     "layer 'c' (Convolution): needs kernel_size (or kernel_h and kernel_w)"},
    {'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 3 kernel_size: 3 group: 2 } }',
     "layer 'c' (Convolution): conv2d: group 2 does not divide input channels 2 and output channels 3"},
    {'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: STOCHASTIC kernel_size: 2 } }',
     "layer 'p' (Pooling): STOCHASTIC pooling is not supported (MAX, AVE)"},
    {'layer { name: "p" type: "Pooling" bottom: "data" top: "p" }',
     "layer 'p' (Pooling): has no pooling_param"},
    {'layer { name: "n" type: "LRN" bottom: "data" top: "n" lrn_param { local_size: 4 } }',
     "layer 'n' (LRN): local_size 4 must be odd"},
    {'layer { name: "f" type: "InnerProduct" bottom: "data" top: "f" }',
     "layer 'f' (InnerProduct): has no inner_product_param { num_output }"},
    {'layer { name: "r" type: "Reshape" bottom: "data" top: "r" }',
     "layer 'r' (Reshape): has no reshape_param { shape }"},
    {'layer { name: "e" type: "Eltwise" bottom: "data" top: "e" }',
     "layer 'e' (Eltwise): takes 2 to 8 bottoms, has 1"},
    {'layer { name: "d" type: "Dropout" bottom: "data" top: "d" dropout_param { dropout_ratio: 1.5 } }',
     "layer 'd' (Dropout): dropout_ratio 1.5 must be in [0, 1)"},
    {'layer { name: "c" type: "Concat" bottom: "data" bottom: "data" top: "c" concat_param { axis: 7 } }',
     "layer 'c' (Concat): axis 7 is out of range for 4-d bottom"},
  }
  for _, case in ipairs(CASES) do
    it("names the layer and the fault: " .. case[2]:match("%): (.*)$"), function()
      local path = write_temp(HEAD .. case[1] .. "\n")
      local ok, msg = pcall(cv.caffe.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.equal(path .. ": " .. case[2], msg)
    end)
  end
end)
