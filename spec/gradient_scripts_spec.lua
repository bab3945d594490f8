-- scripts/gradients.lua (3.2.1) and scripts/compare_classes.lua (3.2.2) run
-- end to end; their JSON figures against a computation of the spec's own.
local cv = require "cnnvis"
local support = require "spec.support"
local BIN = support.BIN

local MODEL = "examples/models/fashion_caffenet"
local CAFFE = support.shared("caffe/")
local IMAGES = support.shared("images/")

-- Runs a script; returns its output (stdout and stderr) and exit status.
local function run(script, args)
  local cmd = string.format("%s scripts/%s.lua %s 2>&1; echo \"status $?\"", BIN, script, args)
  local text = io.popen(cmd):read("a")
  local status = tonumber(text:match("status (%d+)\n$"))
  return text:gsub("status %d+\n$", ""), status
end

local function shipped()
  return cv.caffe.load(MODEL .. ".prototxt", MODEL .. ".caffemodel")
end

-- The weight gradients of neuron blob[class] for one image x, by the spec's
-- own forward and backward.
local function grads_of(net, x, blob, class)
  net:zero_grad()
  net:forward(x)
  net:neuron(blob, {class = class}):backward()
  local g = {}
  for name, p in pairs(net.params) do g[name] = p.weight.grad and p.weight.grad:clone() end
  net:zero_grad()
  return g
end

local function close(want, got, tol, what)
  assert(math.abs(want - got) <= tol * math.max(1, math.abs(want)),
    string.format("%s: %.9g, the spec's own %.9g", what, got, want))
end

-- The CaffeNet fixture with its fillers: train_val's layers without the
-- loss and accuracy, one 227 x 227 image in, a Softmax out.
local function caffenet_fillers(dir)
  local def = cv.caffe.read_net_def(CAFFE .. "caffenet_train_val.prototxt")
  local layers = {{name = "data", type = "Input", top = {"data"},
                   input_param = {shape = {{dim = {1, 3, 227, 227}}}}}}
  for _, l in ipairs(def.layer) do
    if l.type ~= "Input" and l.type ~= "Accuracy" and l.type ~= "SoftmaxWithLoss" then
      layers[#layers + 1] = l
    end
  end
  layers[#layers + 1] = {name = "prob", type = "Softmax", bottom = {"fc8"}, top = {"prob"}}
  def.layer = layers
  local path = dir .. "/caffenet_fillers.prototxt"
  cv.caffe.write_net_def(path, def)
  return path
end

-- A folder of the fixture images, one class each: a/cat, b/fish-bike, c/cat_gray.
local function fixture_folder(dir)
  local lfs = require "lfs"
  for sub, file in pairs{a = "cat.jpg", b = "fish-bike.jpg", c = "cat_gray.jpg"} do
    assert(lfs.mkdir(dir .. "/" .. sub))
    support.write(dir .. "/" .. sub .. "/" .. file, support.read(IMAGES .. file))
  end
  return dir
end

describe("scripts/gradients.lua", function()
  local set = cv.data.fashion_mnist("test")

  it("checks every layer of the shipped model: worst judged error under 1%", function()
    local out = support.temp_dir("gradients")
    local text, status = run("gradients", "--check 12 --save-npy --out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/gradients.json")
    local net = shipped()
    local x = set:get(1):unsqueeze(1)
    local pred
    cv.no_grad(function() pred = math.tointeger(net:forward(x).prob:argmax(2):item() - 1) end)
    assert.equal(pred, r.class) -- the default: the predicted class
    assert.equal("fc8", r.blob)
    local g = grads_of(net, x, "fc8", r.class)
    local rows = 0
    for _, name in ipairs{"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"} do
      local l = r.layers[name]
      assert.equal(12, l.judged + l.tiny + l.kink)
      assert.is_true(l.judged >= 3, name .. ": " .. l.judged .. " judged")
      assert.is_true(l.max_rel_error < 0.01, name .. ": " .. l.max_rel_error)
      assert.is_true(l.median_rel_error <= l.max_rel_error)
      close(g[name]:norm():item(), l.l2, 1e-5, name .. " l2")
      close(g[name]:reshape(g[name]:size(1), -1):norm(2, 2):mean():item(), l.mean_filter, 1e-5,
        name .. " mean filter norm")
      assert.is_true(cv.allclose(g[name], cv.load_npy(out .. "/" .. r.files.npy[name]), 1e-5, 1e-6))
      local vol = cv.io.load_nrrd(out .. "/" .. r.files.nrrd[name])
      assert.is_true(cv.allclose(cv.gradients.volume(net, name, g[name]), vol, 1e-5, 1e-6))
      rows = rows + 12
    end
    local csv = support.read(out .. "/" .. r.files.csv)
    local _, lines = csv:gsub("\n", "")
    assert.equal(rows + 1, lines)
    local _, points = support.read(out .. "/" .. r.files.scatter):gsub("<circle", "")
    assert.equal(rows, points)
    assert.is_true(r.max_rel_error < 0.01)
    assert.truthy(text:find("worst judged relative error", 1, true))
  end)

  it("checks LeNet (fixture weights) within 1%", function()
    local out = support.temp_dir("gradients_lenet")
    local text, status = run("gradients", string.format(
      "--prototxt %slenet.prototxt --caffemodel %slenet_iter_10000.caffemodel --scale 0.00390625 "
      .. "--class 3 --check 16 --out %s", CAFFE, CAFFE, out))
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/gradients.json")
    assert.equal(3, r.class)
    assert.equal("ip2", r.blob)
    for _, name in ipairs{"conv1", "conv2", "ip1", "ip2"} do
      assert.is_true(r.layers[name].judged >= 3, name)
      assert.is_true(r.layers[name].max_rel_error < 0.01, name .. ": " .. r.layers[name].max_rel_error)
    end
  end)

  it("runs on the CaffeNet fixture with filler weights and a fixture image", function()
    local out = support.temp_dir("gradients_caffenet")
    local proto = caffenet_fillers(out)
    local text, status = run("gradients", string.format("--prototxt %s --caffemodel none "
      .. "--image %scat.jpg --layers conv1,conv5,fc8 --check 2 --class 281 --out %s",
      proto, IMAGES, out))
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/gradients.json")
    assert.equal(281, r.class)
    assert.equal("conv1_filters.png", r.files.filters)
    local img = cv.image.load(out .. "/conv1_filters.png")
    assert.equal(3, img:size(1))
    for _, name in ipairs{"conv1", "conv5", "fc8"} do
      assert.equal(2, r.layers[name].judged + r.layers[name].tiny + r.layers[name].kink)
      assert.is_true(r.layers[name].l2 > 0)
    end
  end)

  it("refuses a class outside the blob, a blob the net lacks, --check 0 (status 1)", function()
    local out = support.temp_dir("gradients_bad")
    local cases = {
      {"--class 10", "gradients: class 10 is outside blob 'fc8', which has 10 classes (0 to 9)"},
      {"--blob fc9", "gradients: the net has no blob 'fc9' (its blobs: data, scale, conv1, pool1, "
        .. "norm1, conv2, pool2, norm2, conv3, conv4, conv5, pool5, fc6, fc7, fc8, prob)"},
      {"--check 0", "gradients: --check wants at least 1 weight per layer, got 0"},
      {"--layers pool1", "gradients: --layers: the net has no Convolution/InnerProduct layer "
        .. "'pool1'; it has: conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8"},
    }
    for _, c in ipairs(cases) do
      local text, status = run("gradients", c[1] .. " --out " .. out)
      assert.equal(1, status)
      assert.equal(c[2] .. "\n", text)
    end
  end)
end)

describe("scripts/compare_classes.lua", function()
  local set = cv.data.fashion_mnist("test")
  local ROLES = {"reference", "similar", "dissimilar"}

  it("compares a right and a wrong Shirt, T-shirt/top and Sneaker on the shipped model", function()
    local out = support.temp_dir("compare")
    local text, status = run("compare_classes", "--out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/compare.json")
    assert.same({6, 0, 7}, {r.reference, r.similar, r.dissimilar})
    assert.same({"conv1", "conv2", "conv3", "conv4", "conv5"}, r.layers)
    assert.equal(6, #r.images)
    local net = shipped()
    local all = {}
    for k, im in ipairs(r.images) do
      -- the fixed order, and each image what it says by a forward of the spec's own
      assert.equal(ROLES[(k + 1) // 2], im.role)
      assert.equal(k % 2 == 1, im.correct)
      local x, label = set:get(im.index)
      assert.equal(label, im.class)
      local prob
      cv.no_grad(function() prob = net:forward(x:unsqueeze(1)).prob end)
      local pred = math.tointeger(prob:argmax(2):item() - 1)
      assert.equal(pred, im.predicted)
      assert.equal(im.correct, pred == im.class)
      close(prob[{1, 7}]:item(), im.prob_reference, 1e-5, "prob of Shirt")
      -- the first of its kind: every earlier image of its class is of the other kind
      for i = 1, im.index - 1 do
        if set:label(i) == im.class then
          local p
          cv.no_grad(function() p = net:forward((set:get(i)):unsqueeze(1)).prob:argmax(2):item() - 1 end)
          assert.are_not.equal(im.correct, p == im.class, "image " .. i .. " comes first")
        end
      end
      local g = grads_of(net, x:unsqueeze(1), "fc8", 6)
      for _, name in ipairs(r.layers) do
        close(g[name]:norm():item(), im.norms[name].l2, 1e-5, name .. " l2")
        close(g[name]:reshape(g[name]:size(1), -1):norm(2, 2):mean():item(),
          im.norms[name].mean_filter, 1e-5, name .. " mean filter norm")
        all[name] = all[name] or {}
        all[name][k] = g[name]:abs():reshape(-1)
        local vol = cv.io.load_nrrd(out .. "/" .. im.nrrd[name])
        assert.is_true(cv.allclose(cv.gradients.volume(net, name, g[name]), vol, 1e-5, 1e-6))
      end
    end
    for _, name in ipairs(r.layers) do
      -- one range for the six frames: 0 to the 99.5th percentile of all six |gradient|s
      local v = cv.cat(all[name], 1):totable()
      table.sort(v)
      assert.equal(0, r.range[name][1])
      close(v[math.ceil(0.995 * #v)], r.range[name][2], 1e-5, name .. " range")
      assert.equal(6, #r.frames[name])
      for k, file in ipairs(r.frames[name]) do
        assert.equal(string.format("%s_%d_%s_%s.png", name, k, r.images[k].role,
          r.images[k].correct and "correct" or "wrong"), file)
        assert.same({3, 256, 256}, cv.image.load(out .. "/" .. file):size())
      end
      local ratio = r.images[5].norms[name].l2 / r.images[1].norms[name].l2
      close(ratio, r.ratios[name].dissimilar_correct, 1e-12, name .. " ratio")
      assert.truthy(text:find(string.format("%s: dissimilar / correct reference = %.3f", name, ratio),
        1, true))
    end
  end)

  it("runs on the CaffeNet fixture with fillers and a folder of the fixture images", function()
    local out = support.temp_dir("compare_caffenet")
    local proto = caffenet_fillers(out)
    local images = support.temp_dir("compare_images")
    fixture_folder(images)
    local text, status = run("compare_classes", string.format("--prototxt %s --caffemodel none "
      .. "--images %s --reference 0 --similar 1 --dissimilar 2 --layers conv1,conv5 --out %s",
      proto, images, out))
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/compare.json")
    local net
    cv.manual_seed(1) -- the script's fillers: --seed 1
    net = cv.caffe.load(proto)
    local src = cv.inputs.open(net, {images = images})
    -- one image per class: each is either right or wrong, the other is said missing
    assert.equal(3, #r.images)
    local said = 0
    for _ in text:gmatch("classified image of %a+ class %d+ %b() among its 1 in [^\n]-: left out") do said = said + 1 end
    assert.equal(3, said)
    local all = {}
    for k, im in ipairs(r.images) do
      assert.equal(ROLES[k], im.role)
      local x, label = src.set:get(im.index)
      assert.equal(label, im.class)
      local g = grads_of(net, x:unsqueeze(1), "fc8", 0)
      for _, name in ipairs{"conv1", "conv5"} do
        close(g[name]:norm():item(), im.norms[name].l2, 1e-4, name .. " l2")
        all[name] = all[name] or {}
        all[name][k] = g[name]:abs():reshape(-1)
      end
    end
    for _, name in ipairs{"conv1", "conv5"} do
      local sorted = cv.cat(all[name], 1):sort()
      close(sorted[math.ceil(0.995 * sorted:size(1))]:item(), r.range[name][2], 1e-4, name .. " range")
      assert.equal(3, #r.frames[name])
    end
  end)

  it("says why the defaults are what they are", function()
    local text, status = run("compare_classes", "--help")
    assert.equal(0, status)
    assert.truthy(text:find("confusion matrix", 1, true))
  end)

  it("refuses a class the set has no image of, and a class outside the blob", function()
    local out = support.temp_dir("compare_bad")
    local text, status = run("compare_classes", "--limit 9 --out " .. out)
    assert.equal(1, status)
    -- the first 9 test images hold no T-shirt/top (class 0)
    for i = 1, 9 do assert.are_not.equal(0, set:label(i)) end
    assert.equal("compare_classes: data set 'Fashion-MNIST test' has no image of class 0 "
      .. "(T-shirt/top)\n", text)
    text, status = run("compare_classes", "--reference 10 --out " .. out)
    assert.equal(1, status)
    assert.equal("compare_classes: --reference: class 10 is outside blob 'fc8', which has 10 "
      .. "classes (0 to 9)\n", text)
    text, status = run("compare_classes", "--similar 6 --out " .. out)
    assert.equal(1, status)
    assert.equal("compare_classes: --similar 6 is the reference class too: give three different "
      .. "classes\n", text)
  end)
end)
