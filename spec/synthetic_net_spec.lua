local cv = require "cnnvis"
local lfs = require "lfs"
local support = require "spec.support"

-- A user's model as third-party Caffe models are: the synthetic net of
-- spec/fixtures/gen_synthetic.lua has `/` in every name (and "conv/1"
-- beside "conv_1"), a Slice and a Concat, PReLU, no Softmax (it ends in a
-- global average pooling), and a caffemodel that is a training snapshot
-- (data, split, loss and accuracy layers and an unused weighted head).
local DIR = "spec/fixtures/synthetic/"
local DEPLOY, WEIGHTS = DIR .. "deploy.prototxt", DIR .. "snapshot.caffemodel"
local BIN = support.BIN
local q = support.quote

local function softmax(v)
  local e = (v - v:max()):exp()
  return e / e:sum()
end

describe("the synthetic net", function()
  local net
  setup(function() net = cv.caffe.load(DEPLOY, WEIGHTS) end)

  it("loads with one warning: the snapshot's weighted head goes unused", function()
    assert.same({WEIGHTS .. ": layer 'fc/old' (InnerProduct) holds 2 blob(s) that " .. DEPLOY ..
      " does not use (it has no layer of that name)"}, net.warnings)
    assert.has.error(function() cv.caffe.load(DEPLOY, WEIGHTS, {strict = true}) end,
      WEIGHTS .. ": layer 'fc/old' (InnerProduct) holds 2 blob(s) that " .. DEPLOY ..
      " does not use (it has no layer of that name); {strict = true} refuses it")
  end)

  describe("cv.caffe.classify()", function()
    it("gives probabilities that sum to 1: the softmax of the scores", function()
      cv.manual_seed(2)
      local img = cv.rand(3, 16, 16) * 255
      local r = cv.caffe.classify(net, img, {top = 5})[1]
      assert.equal("pool/10", r.blob)
      assert.equal("softmax", r.probabilities)
      assert.equal(5, #r)
      local sum = 0
      for _, c in ipairs(r) do sum = sum + c.prob end
      assert.near(1, sum, 1e-5)
      -- against the blob itself, read by a forward of our own
      net:forward(img:caffe_input(net))
      local scores = net.blobs["pool/10"]:view(-1)
      local p = softmax(scores)
      for k, c in ipairs(r) do
        assert.near(scores[c.class + 1]:item(), c.score, 1e-5)
        assert.near(p[c.class + 1]:item(), c.prob, 1e-6)
        if k > 1 then assert.is_true(c.prob <= r[k - 1].prob) end
      end
    end)

    it("takes a Softmax net's output as it is", function()
      local lenet = support.shared("caffe/")
      local n = cv.caffe.load(lenet .. "lenet.prototxt", lenet .. "lenet_iter_10000.caffemodel")
      local r = cv.caffe.classify(n, cv.zeros(1, 28, 28), {top = 10})[1]
      assert.equal("prob", r.blob)
      assert.equal("net", r.probabilities)
      local sum = 0
      for _, c in ipairs(r) do
        assert.equal(c.score, c.prob)
        sum = sum + c.prob
      end
      assert.near(1, sum, 1e-5)
    end)
  end)

  describe("scripts/report.lua", function()
    local dir, out, html, status
    setup(function()
      dir = support.temp_dir("synthetic")
      local labels = assert(io.open(dir .. "/labels.txt", "w"))
      cv.manual_seed(9)
      lfs.mkdir(dir .. "/images")
      for c = 0, 4 do
        labels:write(string.format("k%d class/%d\n", c, c))
        lfs.mkdir(dir .. "/images/k" .. c)
        for i = 1, 2 do
          cv.image.save(cv.rand(3, 16, 16) * 255, string.format("%s/images/k%d/%d.png", dir, c, i))
        end
      end
      labels:close()
      local p = assert(io.popen(table.concat({q(BIN), "scripts/report.lua",
        "--prototxt", q(DEPLOY), "--caffemodel", q(WEIGHTS), "--images", q(dir .. "/images"),
        "--labels", q(dir .. "/labels.txt"), "--batch", "4", "--out", q(dir .. "/out"), "2>&1"}, " ")))
      out = p:read("a")
      status = p:close()
      html = support.read(dir .. "/out/index.html")
    end)
    teardown(function() os.execute("rm -rf " .. q(dir)) end)

    it("runs to the end, telling the snapshot's warning", function()
      assert.is_true(status, out)
      assert.matches("^report: warning: " .. WEIGHTS:gsub("%p", "%%%0") .. ": layer 'fc/old'", out)
      assert.matches("\nreport: .*/out/index%.html %(accuracy [%d.]+%% on 10 images, [%d.]+ s%)\n$", out)
      assert.truthy(html:find("from blob <code>pool/10</code>", 1, true))
    end)

    it("keeps the real names in the page and makes the file names safe and unique", function()
      assert.truthy(html:find("<td>fire2/concat</td><td>Concat</td><td>1x8x8x8</td>", 1, true))
      local count = 0
      for src in html:gmatch('<img[^>]- src="([^"]+)"') do
        count = count + 1
        local base = src:match("[^/]+$")
        assert.truthy(base:match("^[%w%._%-]+$"), src)
        assert.equal("file", lfs.attributes(dir .. "/out/" .. src, "mode"), src)
      end
      assert.is_true(count > 10)
      -- conv/1 and conv_1 are the first two conv layers: a file each
      assert.equal("file", lfs.attributes(dir .. "/out/volume-1/conv_1.nrrd", "mode"))
      assert.equal("file", lfs.attributes(dir .. "/out/volume-2/conv_1.nrrd", "mode"))
    end)
  end)

  describe("every analysis script", function()
    local dir
    setup(function()
      dir = support.temp_dir("synthetic_scripts")
      cv.manual_seed(9)
      lfs.mkdir(dir .. "/images")
      for c = 0, 4 do
        lfs.mkdir(dir .. "/images/" .. c)
        for i = 1, 2 do
          cv.image.save(cv.rand(3, 16, 16) * 255, string.format("%s/images/%d/%d.png", dir, c, i))
        end
      end
    end)
    teardown(function() os.execute("rm -rf " .. q(dir)) end)

    -- The class neurons are the global pooling's outputs (no InnerProduct,
    -- no Softmax): each script runs to the end and names the real layers.
    local runs = {
      {"activations"}, {"volume", "--frames", "2", "--size", "32"},
      {"reorder", "--k", "3,5", "--fine", "6", "--frames", "2", "--size", "32"},
      {"gradients", "--check", "4"}, {"compare_classes", "--reference", "1", "--similar", "2",
                                      "--dissimilar", "3"},
      {"importance", "--class", "1"}, {"removal", "--class", "1", "--layer", "conv/1"},
      {"threshold", "--class", "1", "--layer", "conv/1"},
      {"validate_importance", "--class", "1"},
    }
    for _, r in ipairs(runs) do
      it(r[1] .. ".lua", function()
        local out = dir .. "/out_" .. r[1]
        local args = {q(BIN), "scripts/" .. r[1] .. ".lua", "--prototxt", q(DEPLOY), "--caffemodel",
                      q(WEIGHTS), "--images", q(dir .. "/images"), "--out", q(out)}
        for k = 2, #r do args[#args + 1] = q(r[k]) end
        local p = assert(io.popen(table.concat(args, " ") .. " 2>&1"))
        local text = p:read("a")
        assert.is_true(p:close(), text)
        local json_name = r[1] == "compare_classes" and "compare" or r[1]
        local result = cv.json.read(out .. "/" .. json_name .. ".json")
        local names = cv.json.encode(result)
        assert.truthy(names:find("conv/1", 1, true) or names:find("fire2/", 1, true) or
                      r[1] == "volume", names:sub(1, 200))
      end)
    end
  end)
end)
