-- The importance scripts end to end: on the shipped model (a few hundred
-- test images) and on CaffeNet's definition with filler weights and a tiny
-- folder of photos.
local cv = require "cnnvis"
local imp = require "cnnvis.importance"
local support = require "spec.support"
local BIN = support.BIN
local lfs = require "lfs"

local MODEL = "examples/models/fashion_caffenet"

-- Runs a script with args; returns its output (stdout and stderr) and status.
local function run(script, args)
  local text = io.popen(string.format("%s scripts/%s.lua %s 2>&1; echo \"status $?\"", BIN,
    script, args)):read("a")
  local body, status = text:match("^(.-)status (%d+)\n$")
  return body, tonumber(status)
end

local function shipped()
  return cv.caffe.load(MODEL .. ".prototxt", MODEL .. ".caffemodel")
end

-- The first n Fashion-MNIST test images.
local function first(n)
  local positions = {}
  for i = 1, n do positions[i] = i end
  return cv.data.fashion_mnist("test"):subset(positions)
end

describe("importance scripts", function()
  local dir
  setup(function() dir = support.temp_dir("importance_scripts") end)

  it("importance.lua: every layer's values over a class's images, other classes' with --compare", function()
    local out = dir .. "/imp"
    local text, status = run("importance", "--class 6 --limit 200 --compare --out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/importance.json")
    assert.equal(6, r.class)
    assert.equal(6, r.input_class)
    local want = imp.importance(shipped(), first(200):of_class(6), {class = 6})
    assert.equal(want.images, r.images)
    for _, name in ipairs{"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"} do
      support.assert_near(want.layers[name], r.layers[name], 1e-9)
      assert.is_truthy(lfs.attributes(out .. "/" .. r.grids[name]))
    end
    assert.same({6, 8}, r.grid_shapes.conv1)
    assert.same({16, 16}, r.grid_shapes.fc6)
    assert.equal(9, #r.compare)
    local other = imp.importance(shipped(), first(200):of_class(7), {class = 6, layers = {"conv2"}})
    assert.equal(7, r.compare[7].input_class)
    support.assert_near(other.layers.conv2, r.compare[7].layers.conv2, 1e-9)
  end)

  it("removal.lua: the least and most important filter and the error rates without each", function()
    local out = dir .. "/rem"
    local text, status = run("removal", "--class 6 --layer conv5 --limit 300 --out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/removal.json")
    local net, set = shipped(), first(300)
    local values = imp.importance(net, set:of_class(6), {class = 6, layers = {"conv5"}}).layers.conv5
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(values) do lo, hi = math.min(lo, v), math.max(hi, v) end
    assert.equal(lo, values[r.least.filter])
    assert.equal(hi, values[r.most.filter])
    assert.near(hi, r.most.importance, 1e-9 * hi)
    assert.same(imp.error_rates(net, set).per_class, r.error_rates.baseline)
    local without = imp.with_removed(net, "conv5", {r.most.filter}, nil, function()
      return imp.error_rates(net, set)
    end)
    assert.same(without.per_class, r.error_rates.most_removed)
    assert.equal(10, #r.error_rates.least_removed)
    local csv = support.read(out .. "/" .. r.csv)
    assert.truthy(csv:match("^class,name,images,initial error rate %(%%%),"))
    assert.truthy(support.read(out .. "/index.html"):find("Shirt", 1, true))
  end)

  it("threshold.lua: errors against the threshold and the fraction removed", function()
    local out = dir .. "/thr"
    local text, status = run("threshold", "--class 6 --layer conv4 --limit 200 --out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/threshold.json")
    assert.equal("conv4", r.layer)
    assert.equal(0, r.removed[1])
    assert.equal(96, r.removed[#r.removed])
    for i = 2, #r.removed do assert.is_true(r.removed[i] >= r.removed[i - 1]) end
    local base = imp.error_rates(shipped(), first(200))
    assert.equal(base.overall, r.overall_error[1])
    assert.equal(base.per_class[7], r.class_error[1])
    assert.equal(#r.thresholds, #r.class_error)
    assert.is_truthy(lfs.attributes(out .. "/" .. r.plots.fraction))
    text, status = run("threshold", "--class 6 --layer conv4 --thresholds 0.5,x --out " .. out)
    assert.equal(1, status)
    assert.equal("threshold: --thresholds wants comma-separated numbers, got '0.5,x'\n", text)
  end)

  it("validate_importance.lua: the oracle against three measures, by Spearman", function()
    local out = dir .. "/val"
    local text, status = run("validate_importance", "--class 1 --layers conv5,fc7 --limit 150 --out " .. out)
    assert.equal(0, status, text)
    local r = cv.json.read(out .. "/validate_importance.json")
    assert.equal(1, r.class)
    local net = shipped()
    local o = imp.oracle(net, first(150):of_class(1), {class = 1, layers = {"conv5"}})
    assert.equal(o.images, r.images)
    local l = r.layers.conv5
    support.assert_near(o.layers.conv5.loss, l.oracle.loss, 1e-9)
    assert.same(o.layers.conv5.error, l.oracle.error)
    support.assert_near(imp.l1(net, "conv5"), l.measures.l1, 1e-12)
    for _, m in ipairs{"gradnorm", "taylor", "l1"} do
      assert.near(imp.spearman(l.measures[m], l.oracle.loss), l.spearman[m], 1e-12)
    end
    assert.equal(256, #r.layers.fc7.measures.taylor)
    assert.is_truthy(lfs.attributes(out .. "/" .. l.scatter))
  end)

  it("say what is wrong: a class out of range, a layer without filters, an empty class", function()
    local out = dir .. "/bad"
    local text, status = run("importance", "--class 10 --out " .. out)
    assert.equal(1, status)
    assert.equal("importance: --class 10 is out of range (the net has 10 classes, 0 to 9)\n", text)
    text, status = run("removal", "--class 3 --layer pool2 --out " .. out)
    assert.equal(1, status)
    assert.equal("removal: layer 'pool2' is a Pooling, not a Convolution or InnerProduct layer "
      .. "(those are: conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8)\n", text)
    text, status = run("validate_importance", "--class 0 --limit 5 --out " .. out)
    assert.equal(1, status)
    assert.equal("validate_importance: no images of class 0 (T-shirt/top) in the "
      .. "Fashion-MNIST test set\n", text)
    text, status = run("importance", "--class 1 --input-class 12 --out " .. out)
    assert.equal("importance: --input-class 12 is out of range (the net has 10 classes, 0 to 9)\n", text)
  end)

  describe("on CaffeNet's definition with filler weights", function()
    local images, args
    setup(function()
      images = dir .. "/photos"
      local shared = support.shared("images/")
      for sub, files in pairs{n02123045 = {"cat.jpg", "cat_gray.jpg"}, n01440764 = {"fish-bike.jpg"}} do
        lfs.mkdir(images)
        lfs.mkdir(images .. "/" .. sub)
        for _, f in ipairs(files) do
          support.write(images .. "/" .. sub .. "/" .. f, support.read(shared .. f))
        end
      end
      local caffe = support.shared("caffe/")
      args = string.format("--prototxt %scaffenet_deploy.prototxt --caffemodel none --labels "
        .. "%ssynset_words.txt --mean %simagenet_mean.binaryproto --images %s --batch 2 ",
        caffe, caffe, caffe, images)
    end)

    it("importance.lua shows conv1's 96 filters as the report's 16 x 6", function()
      local out = dir .. "/cn_imp"
      local text, status = run("importance", args .. "--class 281 --layers conv1,fc8 --out " .. out)
      assert.equal(0, status, text)
      local r = cv.json.read(out .. "/importance.json")
      assert.equal(2, r.images)
      assert.same({6, 16}, r.grid_shapes.conv1)
      assert.equal(96, #r.layers.conv1)
      assert.equal(1000, #r.layers.fc8)
      local img = cv.image.load(out .. "/" .. r.grids.conv1)
      assert.is_true(img:size(3) > 2 * img:size(2))
    end)

    it("removal.lua, threshold.lua and validate_importance.lua run on it", function()
      local text, status = run("removal", args .. "--class 281 --layer conv5 --out " .. dir .. "/cn_rem")
      assert.equal(0, status, text)
      local r = cv.json.read(dir .. "/cn_rem/removal.json")
      assert.equal(1000, #r.error_rates.baseline)
      text, status = run("threshold", args .. "--class 0 --layer fc7 --thresholds 0,1e9 --out "
        .. dir .. "/cn_thr")
      assert.equal(0, status, text)
      r = cv.json.read(dir .. "/cn_thr/threshold.json")
      assert.same({0, 4096}, r.removed)
      text, status = run("validate_importance", args .. "--class 281 --layers conv5 --out "
        .. dir .. "/cn_val")
      assert.equal(0, status, text)
      r = cv.json.read(dir .. "/cn_val/validate_importance.json")
      assert.equal(256, #r.layers.conv5.oracle.loss)
    end)
  end)
end)
