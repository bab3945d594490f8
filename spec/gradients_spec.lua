local cv = require "cnnvis"

-- Goldens written by spec/fixtures/gen_fashion_gradients.py: PyTorch (in double)
-- on the shipped model, read from its caffemodel by the script's own reader,
-- for test image 5 (the first Shirt) and fc8's class 6 (Shirt).
local GOLD = "spec/fixtures/fashion_gradients/"
local MODEL = "examples/models/fashion_caffenet"
local IMAGE, CLASS = 5, 6
local LAYERS = {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}

local function shipped()
  return cv.caffe.load(MODEL .. ".prototxt", MODEL .. ".caffemodel")
end

-- max |got - want| <= tol * scale, naming the blob.
local function assert_within(name, got, want, scale, tol)
  local diff = (got - want):abs():max():item()
  assert(scale > 0, name .. ": the golden is all zero")
  assert(diff <= tol * scale, string.format("%s: max |diff| %.3g > %g * %.3g", name, diff,
    tol, scale))
end

-- The class the net answers for each image of x (N x C x H x W), 0-based.
local function predictions(net, x)
  local out
  cv.no_grad(function() out = net:forward(x).prob end)
  local pred = {}
  for i, v in ipairs(out:argmax(2):totable()) do pred[i] = math.tointeger(v - 1) end
  return pred
end

describe("cv.gradients", function()
  local set = cv.data.fashion_mnist("test")

  describe("of_neuron()", function()
    local net, x
    before_each(function()
      net = shipped()
      x = set:get(IMAGE):unsqueeze(1)
    end)

    it("gives the shipped model's weight gradients as PyTorch does, within 1e-4 of each blob's largest value", function()
      local g, info = cv.gradients.of_neuron(net, x, {class = CLASS})
      assert.same(LAYERS, info.layers)
      assert.equal("fc8", info.blob)
      local fc8 = cv.load_npy(GOLD .. "fc8.npy")
      assert.near(fc8[CLASS + 1]:item(), info.value, 1e-4 * fc8:abs():max():item())
      for _, name in ipairs(LAYERS) do
        local w, b = g[name].weight, g[name].bias
        assert.same(net.params[name].weight:size(), w:size())
        local rows = cv.load_npy(GOLD .. name .. "_w_at.npy")
        local flat = w:view(-1)
        local gmax = rows[{{}, 2}]:abs():max():item() -- the blob's largest is among the rows
        assert.near(gmax, flat:abs():max():item(), 1e-4 * gmax)
        for _, r in ipairs(rows:totable()) do
          local k = math.tointeger(r[1]) + 1
          assert(math.abs(flat[k]:item() - r[2]) <= 1e-4 * gmax, string.format(
            "%s weight %d: %.6g, PyTorch %.6g", name, k, flat[k]:item(), r[2]))
        end
        local norms = cv.load_npy(GOLD .. name .. "_w_norms.npy")
        assert_within(name .. " filter norms", w:view(w:size(1), -1):norm(2, 2), norms,
          norms:max():item(), 1e-4)
        local bias = cv.load_npy(GOLD .. name .. "_b.npy")
        assert_within(name .. ".bias", b, bias, bias:abs():max():item(), 1e-4)
      end
    end)

    it("takes fc8 and the predicted class by default, and C x H x W images", function()
      local g, info = cv.gradients.of_neuron(net, (set:get(IMAGE)))
      assert.equal("fc8", info.blob)
      assert.equal(predictions(net, x)[1], info.predicted)
      assert.equal(info.predicted, info.class)
      local g2 = cv.gradients.of_neuron(net, x, {blob = "fc8", class = info.class})
      assert.is_true(cv.allclose(g.conv1.weight, g2.conv1.weight, 0, 0))
    end)

    it("leaves nothing behind: no gradient, a freed tape, the same result twice", function()
      local a = cv.gradients.of_neuron(net, x, {class = CLASS, layers = {"conv2", "fc7"}})
      for _, l in ipairs(net.layers) do
        for k, t in ipairs(l.params) do
          assert.is_nil(t.grad, l.name .. " parameter " .. k .. " keeps a gradient")
        end
      end
      assert.has.error(function() net.blobs.fc8:backward(cv.ones(1, 10)) end,
        "backward: the graph was freed by an earlier backward (pass {retain = true} to keep it)")
      assert.is_nil(a.conv1)
      local b = cv.gradients.of_neuron(net, x, {class = CLASS, layers = {"conv2", "fc7"}})
      assert.is_true(cv.allclose(a.conv2.weight, b.conv2.weight, 0, 0))
      assert.is_true(cv.allclose(a.fc7.bias, b.fc7.bias, 0, 0))
      -- copies: the next call does not change them
      local before = a.fc7.weight:clone()
      cv.gradients.of_neuron(net, (set:get(1)), {class = 0})
      assert.is_true(cv.allclose(before, a.fc7.weight, 0, 0))
    end)

    it("gives zeros for layers after the blob", function()
      -- fc7's largest neuron (after the ReLU it shares the blob with): alive
      local g, info = cv.gradients.of_neuron(net, x, {blob = "fc7", layers = {"fc6", "fc8"}})
      assert.is_true(info.value > 0)
      assert.equal(0, g.fc8.weight:abs():max():item())
      assert.is_true(g.fc6.weight:abs():max():item() > 0)
    end)

    it("refuses a class outside the blob, saying the blob's size", function()
      assert.has.error(function() cv.gradients.of_neuron(net, x, {class = 10}) end,
        "of_neuron: class 10 is outside blob 'fc8', which has 10 classes (0 to 9)")
      assert.has.error(function() cv.gradients.of_neuron(net, x, {class = -1}) end,
        "of_neuron: class -1 is outside blob 'fc8', which has 10 classes (0 to 9)")
    end)

    it("refuses a name that is not a blob, listing the blobs", function()
      assert.has.error(function() cv.gradients.of_neuron(net, x, {blob = "fc9", class = 0}) end,
        "of_neuron: the net has no blob 'fc9' (its blobs: data, scale, conv1, pool1, norm1, "
        .. "conv2, pool2, norm2, conv3, conv4, conv5, pool5, fc6, fc7, fc8, prob)")
    end)

    it("refuses a blob that no weight changes", function()
      assert.has.error(function() cv.gradients.of_neuron(net, x, {blob = "data", class = 0}) end,
        "of_neuron: blob 'data' comes before every Convolution and InnerProduct layer, so no "
        .. "weight changes it (blobs after one: conv1, pool1, norm1, conv2, pool2, norm2, "
        .. "conv3, conv4, conv5, pool5, fc6, fc7, fc8, prob)")
    end)

    it("refuses layers without weights and more than one image", function()
      assert.has.error(function() cv.gradients.of_neuron(net, x, {class = 0, layers = {"pool1"}}) end,
        "of_neuron: layer 'pool1' has no weights (layers with weights: conv1, conv2, conv3, "
        .. "conv4, conv5, fc6, fc7, fc8)")
      assert.has.error(function() cv.gradients.of_neuron(net, cv.zeros(2, 1, 28, 28), {class = 0}) end,
        "of_neuron: give one image (1 x C x H x W), got 2x1x28x28")
    end)
  end)

  describe("find_examples()", function()
    local net = shipped()
    local classes = {6, 0, 7}

    it("finds the first correctly and the first wrongly classified image of each class", function()
      local found = cv.gradients.find_examples(net, set, classes, {batch = 64})
      for _, c in ipairs(classes) do
        local f = found[c]
        assert.equal(1000, f.count)
        local last = math.max(f.correct.index, f.wrong.index)
        -- every image of the class up to the later of the two, by a forward of its own
        local positions, images = {}, {}
        for i = 1, last do
          if set:label(i) == c then positions[#positions + 1], images[#images + 1] = i, (set:get(i)) end
        end
        local pred = predictions(net, cv.stack(images, 1))
        local first = {}
        for k, i in ipairs(positions) do
          local role = pred[k] == c and "correct" or "wrong"
          first[role] = first[role] or {index = i, predicted = pred[k]}
        end
        assert.equal(first.correct.index, f.correct.index)
        assert.equal(first.wrong.index, f.wrong.index)
        assert.equal(c, f.correct.predicted)
        assert.equal(first.wrong.predicted, f.wrong.predicted)
        assert.are_not.equal(c, f.wrong.predicted)
        assert.equal(c, f.correct.class)
      end
    end)

    it("does not depend on the batch size", function()
      local a = cv.gradients.find_examples(net, set, {6}, {batch = 7})
      local b = cv.gradients.find_examples(net, set, {6}, {batch = 100})
      assert.same({a[6].correct.index, a[6].wrong.index}, {b[6].correct.index, b[6].wrong.index})
    end)

    it("leaves the wrong image out when the class has none", function()
      local small = set:subset({3, 5}) -- a Trouser and a Shirt that the net gets right
      assert.same({1, 6}, predictions(net, cv.stack({(small:get(1)), (small:get(2))}, 1)))
      local found = cv.gradients.find_examples(net, small, {6, 1})
      assert.same({count = 1, correct = {index = 2, class = 6, predicted = 6,
                                         score = found[6].correct.score}}, found[6])
      assert.is_nil(found[1].wrong)
      assert.equal(1, found[1].correct.index)
    end)

    it("refuses a class the set has no image of", function()
      local shirts = set:subset({5})
      shirts.name = "five"
      assert.has.error(function() cv.gradients.find_examples(net, shirts, {6, 7}) end,
        "find_examples: data set 'five' has no image of class 7 (Sneaker)")
      assert.has.error(function() cv.gradients.find_examples(net, shirts, {10}) end,
        "find_examples: class 10 is outside blob 'prob', which has 10 classes (0 to 9)")
    end)
  end)

  describe("volume(), filter_norms(), norms()", function()
    local net = shipped()

    it("stacks a conv gradient's F*C maps along z, or lays it out filter by filter", function()
      local g = cv.randn(4, 3, 2, 5)
      local v = cv.gradients.volume(net, "conv2", g)
      assert.same({12, 2, 5}, v:size())
      assert.is_true(cv.allclose(g[{3, 2}], v[(3 - 1) * 3 + 2], 0, 0))
      local b = cv.gradients.volume(net, "conv2", g, "filters")
      assert.same({4, 3, 10}, b:size())
      assert.is_true(cv.allclose(g[{4, 1}]:reshape(10), b[{4, 1}], 0, 0))
    end)

    it("gives an InnerProduct gradient the maps of its input blob, or one slice", function()
      local fc6 = cv.gradients.volume(net, "fc6", cv.randn(256, 576)) -- pool5: 64 x 3 x 3
      assert.same({256 * 64, 3, 3}, fc6:size())
      assert.same({256, 64, 9}, cv.gradients.volume(net, "fc6", cv.randn(256, 576), "filters"):size())
      assert.same({1, 256, 256}, cv.gradients.volume(net, "fc7", cv.randn(256, 256)):size())
      assert.same({10, 1, 256}, cv.gradients.volume(net, "fc8", cv.randn(10, 256), "filters"):size())
    end)

    it("measures each filter's norm, the whole norm and the mean filter norm", function()
      local g = cv.tensor{{{{3, 4}}}, {{{0, 1}}}} -- 2 filters of 1 x 1 x 2
      assert.is_true(cv.allclose(cv.tensor{5, 1}, cv.gradients.filter_norms(g), 0, 0))
      local n = cv.gradients.norms({conv1 = {weight = g}}).conv1
      assert.near(math.sqrt(26), n.l2, 1e-6)
      assert.near(3, n.mean_filter, 1e-6)
    end)
  end)

  describe("validate()", function()
    it("sums up equation 1 per layer and leaves no gradient", function()
      local net = shipped()
      net:forward(set:get(IMAGE):unsqueeze(1))
      local v = cv.gradients.validate(net, {"fc8", class = CLASS}, {"conv3", "fc8"}, 6)
      for _, name in ipairs{"conv3", "fc8"} do
        local s, errors = v[name], {}
        assert.equal(6, #s.rows)
        assert.equal(6, s.judged + s.tiny + s.kink)
        for _, r in ipairs(s.rows) do
          if not r.tiny and not r.kink then errors[#errors + 1] = r.rel_error end
        end
        table.sort(errors)
        assert.equal(s.judged, #errors)
        assert.equal(errors[#errors], s.max_rel_error)
        local m = (#errors + 1) // 2
        assert.equal(#errors % 2 == 1 and errors[m] or (errors[m] + errors[m + 1]) / 2,
          s.median_rel_error)
        assert.is_true(s.max_rel_error < 0.01)
      end
      for _, l in ipairs(net.layers) do
        for _, t in ipairs(l.params) do assert.is_nil(t.grad) end
      end
      assert.has.error(function() cv.gradients.validate(net, {"fc8", class = 0}, {"conv1"}, 0) end,
        "validate: count must be a positive integer (weights per layer), got 0")
    end)
  end)

  describe("net:zero_grad()", function()
    it("drops the gradient of every parameter", function()
      local net = shipped()
      net:forward(set:get(1):unsqueeze(1))
      net:neuron("fc8", {class = 2}):backward()
      assert.is_not_nil(net.params.conv3.bias.grad)
      net:zero_grad()
      for _, l in ipairs(net.layers) do
        for _, t in ipairs(l.params) do assert.is_nil(t.grad) end
      end
    end)
  end)

  describe("net:per_sample_norms()", function()
    local net = shipped()
    local x = cv.stack({(set:get(1)), (set:get(5))}, 1)

    it("takes the neuron as net:neuron returns it", function()
      net:forward(x)
      local n = net:neuron("fc8", {class = CLASS})
      local a = net:per_sample_norms(n, {layers = {"conv1", "fc7"}})
      net:zero_grad()
      local b = net:per_sample_norms({"fc8", class = CLASS}, {layers = {"conv1", "fc7"}})
      assert.is_true(cv.allclose(a.conv1, b.conv1, 0, 0))
      assert.is_true(cv.allclose(a.fc7, b.fc7, 0, 0))
      net:zero_grad()
    end)

    it("takes one sample's neuron: the other rows are zero", function()
      net:forward(x)
      local norms = net:per_sample_norms(net:neuron("fc8", {class = CLASS, sample = 2}),
        {layers = {"conv2"}}).conv2
      assert.equal(0, norms[1]:abs():max():item())
      net:zero_grad()
      net:forward(x[{{2}}])
      net:neuron("fc8", {class = CLASS}):backward()
      local g = net.params.conv2.weight.grad
      assert.is_true(cv.allclose(norms[2], g:view(g:size(1), -1):norm(2, 2), 1e-4, 1e-5))
      net:zero_grad()
    end)

    it("refuses other things, saying what it takes", function()
      net:forward(x)
      assert.has.error(function() net:per_sample_norms(net.blobs.fc8:sum()) end,
        "per_sample_norms: give the neuron as net:neuron(blob, {class = c}) returns it, or as "
        .. "{blob, class = c}; got a tensor that is not a neuron of this net")
      assert.has.error(function() net:per_sample_norms(6) end,
        "per_sample_norms: give the neuron as net:neuron(blob, {class = c}) returns it, or as "
        .. "{blob, class = c}; got number")
    end)
  end)
end)
