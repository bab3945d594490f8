local cv = require "cnnvis"
local imp = require "cnnvis.importance"
local support = require "spec.support"

local FIX = support.shared("caffe/")

local function lenet()
  return cv.caffe.load(FIX .. "lenet.prototxt", FIX .. "lenet_iter_10000.caffemodel")
end

-- n random images with labels 0..9 as a data set.
local function random_set(n, seed)
  cv.manual_seed(seed)
  local images, labels = cv.rand(n, 1, 28, 28), {}
  for i = 1, n do labels[i] = (i * 7 + seed) % 10 end
  return cv.data.new {
    n = n, labels = labels,
    load = function(i) return images[i], labels[i] end,
  }
end

-- Every parameter value as its float32 bytes.
local function param_bytes(net)
  local out = {}
  for name, p in pairs(net.params) do
    for k, t in ipairs(p) do
      local flat = t:contiguous():view(-1):totable()
      local parts = {}
      for i, v in ipairs(flat) do parts[i] = string.pack("<f", v) end
      out[name .. "/" .. k] = table.concat(parts)
    end
  end
  return out
end

local function zero_grads(net)
  for _, p in pairs(net.params) do for _, t in ipairs(p) do t:zero_grad() end end
end

-- Per image: the gradient of class c's ip2 neuron w.r.t. every filter, by a
-- backward of that image alone.
local function single_image_grads(net, set, c)
  local grads = {}
  for i = 1, #set do
    local image = set[i].image
    zero_grads(net)
    net:forward(image:view(1, 1, 28, 28))
    net:neuron("ip2", {class = c}):backward()
    grads[i] = {}
    for _, name in ipairs{"conv1", "conv2", "ip1", "ip2"} do
      local g = net.params[name].weight.grad
      grads[i][name] = g:view(g:size(1), -1):totable()
    end
  end
  zero_grads(net)
  return grads
end

-- The class scores of a forward of every image of set (no tape), batch
-- images at a time (a kernel's rounding may depend on the batch size).
local function scores(net, set, batch)
  local rows = {}
  cv.no_grad(function()
    for first = 1, #set, batch do
      local images = {}
      for i = first, math.min(first + batch - 1, #set) do images[#images + 1] = set[i].image end
      net:forward(cv.stack(images, 1))
      for _, row in ipairs(net.blobs.ip2:totable()) do rows[#rows + 1] = row end
    end
  end)
  return rows
end

describe("cnnvis.importance", function()
  describe("importance()", function()
    it("is the mean over the images of single-image backward norms, and the Taylor measure too", function()
      local net, set = lenet(), random_set(5, 1)
      local r = imp.importance(net, set, {class = 3, batch = 2, taylor = true})
      local grads = single_image_grads(net, set, 3)
      assert.equal(5, r.images)
      for _, name in ipairs{"conv1", "conv2", "ip1", "ip2"} do
        local w = net.params[name].weight
        w = w:view(w:size(1), -1):totable()
        local norm, taylor = {}, {}
        for f = 1, #w do
          norm[f], taylor[f] = 0, 0
          for i = 1, 5 do
            local ss, dot = 0, 0
            for j, g in ipairs(grads[i][name][f]) do ss, dot = ss + g * g, dot + g * w[f][j] end
            norm[f], taylor[f] = norm[f] + math.sqrt(ss) / 5, taylor[f] + math.abs(dot) / 5
          end
        end
        assert.equal(#w, #r.layers[name])
        support.assert_near(norm, r.layers[name], 1e-4)
        for f = 1, #w do
          assert.near(taylor[f], r.taylor[name][f], 1e-4 * math.max(1e-3, math.abs(taylor[f])),
            name .. " filter " .. f)
        end
      end
    end)

    it("takes a list of layers", function()
      local r = imp.importance(lenet(), random_set(2, 2), {class = 0, layers = {"conv2"}})
      assert.equal(50, #r.layers.conv2)
      assert.is_nil(r.layers.conv1)
    end)

    it("names a class out of range, a layer without filters, and an empty set", function()
      local net, set = lenet(), random_set(2, 3)
      assert.has.error(function() imp.importance(net, set, {class = 10}) end,
        "class 10 is out of range (the net has 10 classes, 0 to 9)")
      assert.has.error(function() imp.importance(net, set, {class = 1, layers = {"pool1"}}) end,
        "layer 'pool1' is a Pooling, not a Convolution or InnerProduct layer "
          .. "(those are: conv1, conv2, ip1, ip2)")
      assert.has.error(function() imp.importance(net, set, {class = 1, layers = {"fc9"}}) end,
        "the net has no layer 'fc9', not a Convolution or InnerProduct layer "
          .. "(those are: conv1, conv2, ip1, ip2)")
      assert.has.error(function() imp.importance(net, set:of_class(9), {class = 9}) end,
        "no images of the input class in the set")
    end)
  end)

  describe("with_removed()", function()
    it("zeroes the filters' weights and biases inside and restores every value bit for bit", function()
      local net = lenet()
      local before = param_bytes(net)
      imp.with_removed(net, "conv1", {2, 5}, nil, function()
        assert.equal(0, net.params.conv1.weight[2]:abs():sum():item())
        assert.equal(0, net.params.conv1.weight[5]:abs():sum():item())
        assert.equal(0, net.params.conv1.bias[2]:item())
        assert.is_true(net.params.conv1.weight[1]:abs():sum():item() > 0)
      end)
      assert.same(before, param_bytes(net))
      imp.with_removed(net, "ip1", {7}, {weights_only = true}, function()
        assert.equal(0, net.params.ip1.weight[7]:abs():sum():item())
        assert.is_true(net.params.ip1.bias[7]:item() ~= 0)
      end)
      assert.same(before, param_bytes(net))
    end)

    it("restores them when a filter of the list is bad after others were zeroed, and when fn fails", function()
      local net = lenet()
      local before = param_bytes(net)
      assert.has.error(function()
        imp.with_removed(net, "conv2", {1, 2, 51}, nil, function() end)
      end, "layer 'conv2' has filters 1 to 50, not 51")
      assert.same(before, param_bytes(net))
      assert.has.error(function()
        imp.with_removed(net, "conv2", {3, 4}, nil, function() error("mid-removal", 0) end)
      end, "mid-removal")
      assert.same(before, param_bytes(net))
      assert.has.error(function() imp.with_removed(net, "pool2", {1}, nil, function() end) end,
        "layer 'pool2' is a Pooling, not a Convolution or InnerProduct layer "
          .. "(those are: conv1, conv2, ip1, ip2)")
    end)

    it("gives the error rates of a forward with the filter zeroed by hand", function()
      local net, set = lenet(), random_set(30, 4)
      local got = imp.with_removed(net, "conv2", {17}, nil, function()
        return imp.error_rates(net, set, {batch = 7})
      end)
      local by_hand = lenet()
      cv.no_grad(function()
        by_hand.params.conv2.weight[17]:zero_()
        by_hand.params.conv2.bias[17] = 0
      end)
      local z = scores(by_hand, set, 7)
      local total, wrong = {}, {}
      for c = 1, 10 do total[c], wrong[c] = 0, 0 end
      for i, row in ipairs(z) do
        local best = 1
        for j = 2, 10 do if row[j] > row[best] then best = j end end
        local t = set:label(i) + 1
        total[t] = total[t] + 1
        if best ~= t then wrong[t] = wrong[t] + 1 end
      end
      local all_wrong = 0
      for c = 1, 10 do
        assert.equal(total[c] > 0 and 100 * wrong[c] / total[c] or 0, got.per_class[c])
        all_wrong = all_wrong + wrong[c]
      end
      assert.equal(100 * all_wrong / 30, got.overall)
      assert.same(total, got.images)
    end)
  end)

  describe("threshold_sweep()", function()
    it("removes the filters below each threshold, as with_removed and error_rates do", function()
      local net, set = lenet(), random_set(20, 5)
      local importance = {}
      for f = 1, 20 do importance[f] = (f * 37) % 20 / 10 end
      local r = imp.threshold_sweep(net, set, {layer = "conv1", class = 4, importance = importance,
                                               thresholds = {0, 0.55, 1.05, 3}, batch = 6})
      assert.same({0, 6, 11, 20}, r.removed)
      for i, t in ipairs(r.thresholds) do
        local below = {}
        for f, v in ipairs(importance) do if v < t then below[#below + 1] = f end end
        local want = imp.with_removed(net, "conv1", below, nil, function()
          return imp.error_rates(net, set)
        end)
        assert.equal(want.per_class[5], r.class_error[i])
        assert.equal(want.overall, r.overall_error[i])
      end
    end)

    it("names a threshold that is not a number", function()
      assert.has.error(function()
        imp.threshold_sweep(lenet(), random_set(2, 6), {layer = "conv1", class = 0,
          importance = {}, thresholds = {0.1, "x"}})
      end, "threshold 2 is not a number: x")
    end)
  end)

  describe("oracle()", function()
    it("is the rise in mean loss and error of removing each filter alone", function()
      local net, set = lenet(), random_set(9, 7)
      local c = 2
      local o = imp.oracle(net, set, {class = c, layers = {"conv2", "ip1", "ip2"}, batch = 4})
      assert.equal(9, o.images)
      local function loss_error(z)
        local loss, wrong = 0, 0
        for _, row in ipairs(z) do
          local m, best = -math.huge, 0
          for j, v in ipairs(row) do if v > m then m, best = v, j end end
          local s = 0
          for _, v in ipairs(row) do s = s + math.exp(v - m) end
          loss = loss + m + math.log(s) - row[c + 1]
          if best ~= c + 1 then wrong = wrong + 1 end
        end
        return loss / #z, 100 * wrong / #z
      end
      local base_loss, base_error = loss_error(scores(net, set, 4))
      for _, case in ipairs{{"conv2", {1, 13, 50}}, {"ip1", {2, 500}}, {"ip2", {3, 10}}} do
        local name = case[1]
        assert.near(base_loss, o.layers[name].base_loss, 1e-9)
        assert.equal(base_error, o.layers[name].base_error)
        for _, f in ipairs(case[2]) do
          local loss, err = imp.with_removed(net, name, {f}, nil, function()
            return loss_error(scores(net, set, 4))
          end)
          assert.near(loss - base_loss, o.layers[name].loss[f], 1e-9)
          assert.equal(err - base_error, o.layers[name].error[f])
        end
      end
    end)

    it("keeps the bias of a filter removed with weights_only", function()
      local net, set = lenet(), random_set(4, 8)
      local o = imp.oracle(net, set, {class = 1, layers = {"ip1"}, weights_only = true})
      local loss = imp.with_removed(net, "ip1", {5}, {weights_only = true}, function()
        local z = scores(net, set, 50)
        local s = 0
        for _, row in ipairs(z) do
          local m = math.max(table.unpack(row))
          local e = 0
          for _, v in ipairs(row) do e = e + math.exp(v - m) end
          s = s + m + math.log(e) - row[2]
        end
        return s / #z
      end)
      assert.near(loss - o.layers.ip1.base_loss, o.layers.ip1.loss[5], 1e-9)
    end)
  end)

  describe("spearman()", function()
    it("ranks ties by their average rank", function()
      assert.same({1, 2.5, 2.5, 4}, imp.ranks({1, 2, 2, 3}))
      assert.same({3, 1, 3, 3}, imp.ranks({5, 0, 5, 5}))
      -- ranks {1, 2.5, 2.5, 4} and {1, 3, 2, 4}: 4.5 / sqrt(4.5 * 5)
      assert.near(4.5 / math.sqrt(22.5), imp.spearman({1, 2, 2, 3}, {10, 30, 20, 40}), 1e-15)
      assert.near(-1, imp.spearman({1, 2, 3}, {3, 2, 1}), 1e-15)
      assert.is_nil(imp.spearman({1, 1, 1}, {1, 2, 3}))
    end)
  end)

  describe("grid_shape()", function()
    it("is the most square layout, and the report's 6 x 16 for CaffeNet's conv1", function()
      assert.same({6, 8}, {imp.grid_shape(48)})
      assert.same({8, 12}, {imp.grid_shape(96)})
      assert.same({6, 16}, {imp.grid_shape(96, {caffenet_conv1 = true})})
      assert.same({1, 7}, {imp.grid_shape(7)})
      assert.same({16, 16}, {imp.grid_shape(256)})
    end)
  end)
end)
