local cv = require "cnnvis"

local FIX = "../shared/fixtures/caffe/"

describe("net:per_sample_norms()", function()
  local net, x
  before_each(function()
    net = cv.caffe.load(FIX .. "lenet.prototxt", FIX .. "lenet_iter_10000.caffemodel")
    cv.manual_seed(3)
    x = cv.rand(4, 1, 28, 28)
    net:forward(x)
  end)

  it("matches one backward per image, for every conv and fc layer", function()
    local norms = net:per_sample_norms({"ip2", class = 3})
    for i = 1, 4 do
      for _, p in pairs(net.params) do for _, t in ipairs(p) do t:zero_grad() end end
      net:forward(x[{{i}}])
      net:neuron("ip2", {class = 3}):backward()
      for _, name in ipairs{"conv1", "conv2", "ip1", "ip2"} do
        local g = net.params[name].weight.grad
        local want = g:view(g:size(1), -1):norm(2, 2)
        assert.same({4, g:size(1)}, norms[name]:size())
        assert.is_true(cv.allclose(norms[name][i], want, 1e-4, 1e-5),
          name .. ": image " .. i .. " differs")
      end
    end
  end)

  it("uses the last forward when its tape is whole, and runs it again when not", function()
    local a = net:per_sample_norms({"ip2", class = 3}, {layers = {"conv1"}}).conv1
    cv.no_grad(function() net:forward(x) end) -- no tape now
    local b = net:per_sample_norms({"ip2", class = 3}, {layers = {"conv1"}}).conv1
    assert.is_true(cv.allclose(a, b))
    local c = net:per_sample_norms({"ip2", class = 3}, {layers = {"conv1"}}).conv1 -- the kept tape again
    assert.is_true(cv.allclose(a, c))
  end)

  it("takes a list of layers", function()
    local norms = net:per_sample_norms({"ip2", class = 0}, {layers = {"conv1"}})
    assert.same({4, 20}, norms.conv1:size())
    assert.is_nil(norms.ip1)
  end)

  it("names a layer without filters", function()
    assert.has.error(function() net:per_sample_norms({"ip2", class = 0}, {layers = {"pool1"}}) end,
      "per-sample norms: layer 'pool1' is a Pooling, not a Convolution or InnerProduct layer")
  end)

  it("needs the forward on the tape", function()
    cv.no_grad(function() net:forward(x) end)
    local ok, msg = pcall(function() net._net:keep_output_grad("conv1") end)
    assert.is_false(ok)
    assert.matches("layer 'conv1' has no output on the tape", msg)
  end)
end)
