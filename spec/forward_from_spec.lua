local cv = require "cnnvis"
local support = require "spec.support"

local FIX = support.shared("caffe/")

describe("net:forward{from = ...}", function()
  local net, x
  before_each(function()
    net = cv.caffe.load(FIX .. "lenet.prototxt", FIX .. "lenet_iter_10000.caffemodel")
    cv.manual_seed(5)
    x = cv.rand(3, 1, 28, 28)
  end)

  it("runs only the layers from a given one on, with the values of a full forward", function()
    cv.no_grad(function()
      net:forward(x)
      local want = net.blobs.prob:clone()
      net:forward(x, {upto = "pool1", keep = {"pool1"}})
      local pool1 = net.blobs.pool1
      local out = net:forward({pool1 = pool1}, {from = "conv2"})
      assert.is_true(cv.allclose(out.prob, want, 0, 0))
      assert.is_nil(net.blobs.conv1) -- the layers before conv2 did not run
    end)
  end)

  it("takes the blobs of the last forward when none are given, and stops at upto", function()
    cv.no_grad(function()
      net:forward(x)
      local ip1 = net.blobs.ip1:clone()
      local out = net:forward(nil, {from = "conv2", upto = "relu1"})
      assert.is_true(cv.allclose(out.ip1, ip1, 0, 0))
    end)
  end)

  it("leaves a given blob as it was when an in-place layer follows", function()
    cv.no_grad(function()
      net:forward(x, {upto = "ip1", keep = {"ip1"}})
      local ip1 = net.blobs.ip1
      local before = ip1:clone()
      assert.is_true(ip1:lt(0):sum():item() > 0) -- relu1 has something to change
      net:forward({ip1 = ip1}, {from = "relu1"})
      assert.is_true(cv.allclose(ip1, before, 0, 0))
      assert.is_true(cv.allclose(net.blobs.ip1, before:relu(), 0, 0))
    end)
  end)

  it("records the tape from the first layer it runs", function()
    net:forward(x, {upto = "pool2"})
    local pool2 = net.blobs.pool2:detach()
    net:forward({pool2 = pool2}, {from = "ip1"})
    net:neuron("ip2", {class = 4}):backward()
    assert.is_not_nil(net.params.ip1.weight.grad)
    assert.is_nil(net.params.conv1.weight.grad)
  end)

  it("names a missing blob, an unknown layer or blob, and a range the wrong way round", function()
    assert.has.error(function() net:forward({}, {from = "conv2"}) end,
      "layer 'conv2' reads blob 'pool1', which has no value: give it to forward")
    assert.has.error(function() net:forward({pool9 = x}, {from = "conv2"}) end,
      "forward: the net has no blob 'pool9'")
    assert.has.error(function() net:forward(nil, {from = "conv9"}) end,
      "forward: the net has no layer 'conv9'")
    assert.has.error(function() net:forward(nil, {from = "ip1", upto = "conv2"}) end,
      "forward: layer 'conv2' comes before layer 'ip1'")
    assert.has.error(function() net:forward(x, {from = "ip1"}) end,
      "forward: from a layer on, give blobs as {name = tensor}")
  end)
end)
