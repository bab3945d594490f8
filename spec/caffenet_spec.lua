local cv = require "cnnvis"

local GOLD = "spec/fixtures/caffenet/"
local DEPLOY = "../shared/fixtures/caffe/caffenet_deploy.prototxt"

-- The generator's input formula (gen_caffenet.py): element i in C order is
-- ((i * 7919) % 1009 - 504) / 5.
local function formula_input(n, c, h, w)
  local vals = {}
  for i = 0, n * c * h * w - 1 do vals[i + 1] = ((i * 7919) % 1009 - 504) / 5 end
  return cv.tensor(vals):view(n, c, h, w)
end

local function formula_conv1()
  local w, b = {}, {}
  for j = 0, 96 * 3 * 11 * 11 - 1 do w[j + 1] = ((j * 104729) % 997 - 498) / 498 * 0.05 end
  for m = 0, 95 do b[m + 1] = (m % 7 - 3) * 0.1 end
  return cv.tensor(w):view(96, 3, 11, 11), cv.tensor(b)
end

-- The comparison rule: |a - b| <= 1e-4 * max(1, |b|) for every element.
local function assert_close(name, got, want)
  assert.same(want:size(), got:size(), name .. ": shape")
  local diff = (got - want):abs()
  local bound = want:abs():clamp(1, math.huge) * 1e-4
  local worst = (diff - bound):max():item()
  assert(worst <= 0, string.format("blob %s: an element is %.3g beyond the bound "
    .. "(max |diff| %.3g)", name, worst, diff:max():item()))
end

local function set_param(net, layer, k, t)
  cv.no_grad(function() net.params[layer][k]:copy_(t) end)
end

describe("caffenet", function()
  describe("a small CaffeNet against PyTorch", function()
    local net = cv.caffe.load(GOLD .. "caffenet_small.prototxt")
    for _, l in ipairs(net.layers) do
      if #l.params > 0 then
        set_param(net, l.name, 1, cv.load_npy(GOLD .. l.name .. "_w.npy"))
        set_param(net, l.name, 2, cv.load_npy(GOLD .. l.name .. "_b.npy"))
      end
    end
    local blobs = {"conv1", "pool1", "norm1", "conv2", "pool2", "norm2", "conv3",
                   "conv4", "conv5", "pool5", "fc6", "fc7", "fc8", "prob"}

    it("matches every blob within 1e-4 relative", function()
      local out = net:forward(formula_input(2, 3, 71, 71))
      assert.truthy(out.prob)
      for _, name in ipairs(blobs) do
        assert_close(name, net.blobs[name], cv.load_npy(GOLD .. "blob_" .. name .. ".npy"))
      end
    end)

    it("matches without the tape too, where ReLU runs in place", function()
      local x = formula_input(2, 3, 71, 71)
      local held = cv.no_grad(function()
        net:forward(x)
        return net.blobs.fc7 -- held: the next forward must not overwrite it
      end)
      local copy = held:clone()
      cv.no_grad(function() net:forward(x * 0.5) end)
      assert.is_true(cv.allclose(held, copy, 0, 0))
      cv.no_grad(function() net:forward(x) end)
      for _, name in ipairs(blobs) do
        assert_close(name, net.blobs[name], cv.load_npy(GOLD .. "blob_" .. name .. ".npy"))
      end
    end)

    it("pools in Caffe's ceil mode (16 -> 8, 8 -> 4, 4 -> 2)", function()
      net:forward(formula_input(2, 3, 71, 71))
      assert.same({2, 8, 8, 8}, net.blobs.pool1:size())
      assert.same({2, 16, 4, 4}, net.blobs.pool2:size())
      assert.same({2, 16, 2, 2}, net.blobs.pool5:size())
    end)

    it("gives each sample of a batch what it gets alone", function()
      net:forward(formula_input(2, 3, 71, 71))
      local both = net.blobs.prob:clone()
      net:forward(formula_input(2, 3, 71, 71):narrow(1, 2, 1))
      assert.is_true(cv.allclose(net.blobs.prob[1], both[2], 1e-5, 1e-6))
    end)
  end)

  describe("Concat, Eltwise, Flatten, Reshape, BatchNorm, Scale against PyTorch", function()
    local net = cv.caffe.load(GOLD .. "branchy.prototxt")
    for _, l in ipairs(net.layers) do
      for k = 1, #l.params do
        set_param(net, l.name, k, cv.load_npy(GOLD .. "branchy_" .. l.name .. "_" .. k .. ".npy"))
      end
    end

    it("matches every blob within 1e-4 relative", function()
      net:forward(formula_input(2, 4, 5, 5) / 50)
      for _, name in ipairs{"bn", "sc", "sum", "prod", "emax", "cat", "resh", "ip"} do
        assert_close(name, net.blobs[name], cv.load_npy(GOLD .. "branchy_blob_" .. name .. ".npy"))
      end
    end)

    it("gives BatchNorm its three blobs and Scale gamma 1, beta 0 without fillers", function()
      local fresh = cv.caffe.load(GOLD .. "branchy.prototxt")
      assert.same({6}, fresh.params.bn[1]:size())
      assert.same({1}, fresh.params.bn[3]:size())
      assert.same({1, 1, 1, 1, 1, 1}, fresh.params.scale.weight:totable())
      assert.same({0, 0, 0, 0, 0, 0}, fresh.params.scale.bias:totable())
    end)

    it("reshapes for another batch size", function()
      net:forward(formula_input(3, 4, 5, 5))
      assert.same({3, 450}, net.blobs.flat:size())
      assert.same({3, 50, 9}, net.blobs.resh:size())
    end)

    it("names what does not fit", function()
      local f = assert(io.open(GOLD .. "branchy.prototxt"))
      local text = f:read("a")
      f:close()
      local bad = text:gsub('coeff: 1 coeff: %-0.5', 'coeff: 1')
      local path = os.tmpname()
      f = assert(io.open(path, "w"))
      f:write(bad)
      f:close()
      local ok, msg = pcall(cv.caffe.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.matches("layer 'sum' %(Eltwise%): has 1 coeff for 2 bottoms", msg)
    end)
  end)

  describe("caffenet_deploy.prototxt", function()
    local net = cv.caffe.load(DEPLOY)

    it("runs the real-size conv1 on a 227x227 input as PyTorch does", function()
      local w, b = formula_conv1()
      set_param(net, "conv1", 1, w)
      set_param(net, "conv1", 2, b)
      local y = cv.no_grad(function()
        return net:forward(formula_input(1, 3, 227, 227), {upto = "conv1"}).conv1
      end)
      assert.same({1, 96, 55, 55}, y:size())
      local sums = cv.load_npy(GOLD .. "conv1_full_sums.npy")
      local got = y:sum(4):sum(3):view(96)
      for c = 1, 96 do
        local want = sums[c]:item()
        assert(math.abs(got[c]:item() - want) <= 1e-4 * math.max(1, math.abs(want)) * 55,
          string.format("conv1 channel %d: sum %.4f, PyTorch %.4f", c, got[c]:item(), want))
      end
      local samples = cv.load_npy(GOLD .. "conv1_full_samples.npy")
      for k = 1, samples:size(1) do
        local r = samples[k]
        local idx = {}
        for d = 1, 4 do idx[d] = math.tointeger(r[d]:item()) + 1 end
        local want = r[5]:item()
        assert(math.abs(y[idx]:item() - want) <= 1e-4 * math.max(1, math.abs(want)),
          string.format("conv1 at %s: %.5f, PyTorch %.5f", table.concat(idx, ","),
            y[idx]:item(), want))
      end
    end)

    it("forwards 1x3x227x227 with random weights and the documented blob shapes", function()
      cv.manual_seed(7)
      cv.no_grad(function()
        for _, p in pairs(net.params) do
          p.weight:copy_(cv.randn(p.weight:size()) * 0.01)
        end
        net:forward(cv.randn(1, 3, 227, 227) * 50)
      end)
      local want = {
        conv1 = {1, 96, 55, 55}, pool1 = {1, 96, 27, 27}, norm1 = {1, 96, 27, 27},
        conv2 = {1, 256, 27, 27}, pool2 = {1, 256, 13, 13}, norm2 = {1, 256, 13, 13},
        conv3 = {1, 384, 13, 13}, conv4 = {1, 384, 13, 13}, conv5 = {1, 256, 13, 13},
        pool5 = {1, 256, 6, 6}, fc6 = {1, 4096}, fc7 = {1, 4096}, fc8 = {1, 1000},
        prob = {1, 1000},
      }
      for name, shape in pairs(want) do
        assert.same(shape, net.blobs[name]:size(), name)
      end
      assert.near(1, net.blobs.prob:sum():item(), 1e-4)
    end)

    it("classifies with classify.py's defaults: the 10 crops' probabilities averaged", function()
      cv.manual_seed(8)
      cv.no_grad(function()
        for _, p in pairs(net.params) do
          p.weight:copy_(cv.randn(p.weight:size()) * (1 / math.sqrt(p.weight:numel() / p.weight:size(1))))
        end
      end)
      local img = "../shared/fixtures/images/fish-bike.jpg"
      local x = cv.image.load(img):caffe_input(net, {crop = "oversample"})
      assert.same({10, 3, 227, 227}, x:size())
      local probs = cv.no_grad(function() return net:forward(x).prob:mean(1) end)
      local want_p, want_i = probs:topk(3)
      local got = cv.caffe.classify(net, img, {top = 3})[1]
      for k = 1, 3 do
        assert.same(math.tointeger(want_i[k]:item()) - 1, got[k].class)
        assert.near(want_p[k]:item(), got[k].prob, 1e-6)
        assert.same(tostring(got[k].class), got[k].label)
      end
    end)
  end)
end)
