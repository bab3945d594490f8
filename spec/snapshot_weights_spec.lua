local cv = require "cnnvis"
local support = require "spec.support"

-- Real caffemodels are training snapshots: they hold layers a deploy
-- definition lacks. Those without blobs are ignored; a weighted one that
-- goes unused, and a layer of the definition that gets no weights, are
-- told in net.warnings, and {strict = true} refuses them.
local DEPLOY = [[
name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
layer { name: "conv/1" type: "Convolution" bottom: "data" top: "conv/1"
  convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "fc/1" type: "InnerProduct" bottom: "conv/1" top: "fc/1"
  inner_product_param { num_output: 3 } }
]]

local function snapshot(path, extra)
  local layers = {
    {name = "data", type = "Data", blobs = {}},
    {name = "conv/1", type = "Convolution", blobs = {cv.randn(2, 2, 3, 3), cv.randn(2)}},
    {name = "conv/1_split", type = "Split", blobs = {}},
    {name = "fc/1", type = "InnerProduct", blobs = {cv.randn(3, 2), cv.randn(3)}},
    {name = "loss", type = "SoftmaxWithLoss", blobs = {}},
    {name = "accuracy", type = "Accuracy", blobs = {}},
  }
  for _, l in ipairs(extra or {}) do layers[#layers + 1] = l end
  cv.caffe.write_weights(path, layers)
  return layers
end

describe("cv.caffe.load() of a training snapshot", function()
  local dir, deploy, weights
  setup(function()
    dir = support.temp_dir("snapshot")
    deploy = support.write(dir .. "/deploy.prototxt", DEPLOY)
    weights = dir .. "/snap.caffemodel"
  end)
  teardown(function() os.execute("rm -rf " .. support.quote(dir)) end)

  it("ignores data, split, loss and accuracy layers: no warnings", function()
    local layers = snapshot(weights)
    local net = cv.caffe.load(deploy, weights)
    assert.same({}, net.warnings)
    assert.is_true(cv.allclose(net.params["fc/1"].weight, layers[4].blobs[1]))
    net = cv.caffe.load(deploy, weights, {strict = true})
    assert.same({}, net.warnings)
  end)

  it("tells of a weighted head the definition does not use", function()
    snapshot(weights, {{name = "fc/old", type = "InnerProduct", blobs = {cv.randn(5, 2), cv.randn(5)}}})
    local net = cv.caffe.load(deploy, weights)
    assert.same({weights .. ": layer 'fc/old' (InnerProduct) holds 2 blob(s) that " ..
      deploy .. " does not use (it has no layer of that name)"}, net.warnings)
    assert.matches("\nwarning: " .. weights:gsub("%p", "%%%0") .. ": layer 'fc/old'", tostring(net))
    assert.has.error(function() cv.caffe.load(deploy, weights, {strict = true}) end,
      weights .. ": layer 'fc/old' (InnerProduct) holds 2 blob(s) that " .. deploy ..
      " does not use (it has no layer of that name); {strict = true} refuses it")
  end)

  it("tells of a layer of the definition that the weights lack", function()
    cv.caffe.write_weights(weights, {{name = "conv/1", type = "Convolution",
      blobs = {cv.randn(2, 2, 3, 3), cv.randn(2)}}})
    local net = cv.caffe.load(deploy, weights)
    assert.same({deploy .. ": layer 'fc/1' (InnerProduct) has no weights in " .. weights ..
      ": its 2 parameter blob(s) come from its fillers"}, net.warnings)
    assert.has.error(function() cv.caffe.load(deploy, weights, {strict = true}) end,
      deploy .. ": layer 'fc/1' (InnerProduct) has no weights in " .. weights ..
      ": its 2 parameter blob(s) come from its fillers; {strict = true} refuses it")
  end)

  it("has no warnings without weights", function()
    assert.same({}, cv.caffe.load(deploy).warnings)
  end)
end)
