local cv = require "cnnvis"

local FIX = "../shared/fixtures/"
local IMG, CAFFE = FIX .. "images/", FIX .. "caffe/"
local GOLD = "spec/fixtures/transform/"

-- Nets stand in by their input shape: caffe_input reads nothing else.
local CAFFENET = {inputs = {{name = "data", shape = {10, 3, 227, 227}}}}
local MNIST = {inputs = {{name = "data", shape = {64, 1, 28, 28}}}}

-- Compares a batch with the generator's golden values (gen_transform.py):
-- per-crop channel means without a 3-pixel rim, and sampled pixels. The
-- golden side resizes with PIL's tent filter, the same algorithm as stb's
-- away from the border; the two agree there to about 2e-3 on 0..255.
local function assert_golden(case, x)
  local means, samples = cv.load_npy(GOLD .. case .. "_means.npy"),
                         cv.load_npy(GOLD .. case .. "_samples.npy")
  assert.same(means:size(1), x:size(1))
  assert.same(means:size(2), x:size(2))
  local h, w = x:size(3), x:size(4)
  local inner = x:narrow(3, 4, h - 6):narrow(4, 4, w - 6)
  local got = inner:mean(4):mean(3)
  for n = 1, means:size(1) do
    for c = 1, means:size(2) do
      local want = means[n][c]:item()
      local diff = math.abs(got[n][c]:item() - want)
      assert(diff <= 1e-3 * math.max(1, math.abs(want)),
        string.format("%s crop %d channel %d: mean %.6f, golden %.6f", case, n, c,
          got[n][c]:item(), want))
    end
  end
  for k = 1, samples:size(1) do
    local r = samples[k]
    local n, c, y, xx = r[1]:item() + 1, r[2]:item() + 1, r[3]:item() + 1, r[4]:item() + 1
    local want = r[5]:item()
    local v = x[{math.tointeger(n), math.tointeger(c), math.tointeger(y), math.tointeger(xx)}]:item()
    assert(math.abs(v - want) <= 5e-3 * math.max(1, math.abs(want)),
      string.format("%s sample %d at (%d,%d,%d,%d): %.5f, golden %.5f", case, k, n, c, y, xx,
        v, want))
  end
end

describe("transform", function()
  describe("image.resize()", function()
    it("keeps a constant image constant and gives the asked size", function()
      local r = cv.image.resize(cv.full({3, 5, 7}, 42), 11, 4)
      assert.same({3, 11, 4}, r:size())
      assert.is_true(cv.allclose(r, cv.full({3, 11, 4}, 42)))
    end)

    it("leaves an image of the same size as it is", function()
      cv.manual_seed(5)
      local x = cv.rand(3, 17, 23) * 255
      assert.is_true(cv.allclose(cv.image.resize(x, 17, 23), x, 0, 0))
    end)

    it("doubles a 2-pixel row bilinearly (hand-computed, half-pixel centres)", function()
      -- Output centres at 0.25, 0.75, 1.25, 1.75 input pixels; edges clamp.
      local r = cv.image.resize(cv.tensor{{{0, 8}}}, 1, 4)
      assert.is_true(cv.allclose(r, cv.tensor{{{0, 2, 6, 8}}}, 1e-5, 1e-5))
    end)

    it("averages 2x2 blocks when halving with the box filter", function()
      local img = cv.tensor{{{1, 3, 5, 7}, {1, 3, 5, 7}}}
      local r = cv.image.resize(img, 1, 2, "box")
      assert.is_true(cv.allclose(r, cv.tensor{{{2, 6}}}, 1e-5, 1e-5))
    end)

    it("rejects a non-image and an empty size", function()
      assert.has.error(function() cv.image.resize(cv.zeros(4, 4), 2, 2) end,
        "resize: the image must be CxHxW, not 4x4")
      assert.has.error(function() cv.image.resize(cv.zeros(1, 4, 4), 0, 2) end,
        "resize: the new size 0x2 must be 1 to 1048576 on each side")
      assert.has.error(function() cv.image.resize(cv.zeros(1, 4, 4), 2, 2, "lanczos") end,
        "bad argument #4 to 'resize' (invalid option 'lanczos')")
    end)
  end)

  describe("image.mirror()", function()
    it("reverses the last dimension", function()
      local m = cv.image.mirror(cv.tensor{{{1, 2, 3}, {4, 5, 6}}})
      assert.same({{{3, 2, 1}, {6, 5, 4}}}, m:totable())
    end)
  end)

  describe("caffe_input()", function()
    it("cat.jpg: 256 resize, center crop, BGR, pixel mean from the binaryproto", function()
      local x = cv.image.load(IMG .. "cat.jpg"):caffe_input(CAFFENET,
        {mean = CAFFE .. "imagenet_mean.binaryproto"})
      assert.same({1, 3, 227, 227}, x:size())
      assert_golden("cat_center", x)
    end)

    it("cat_gray.jpg (1 channel): replicated, 10-crop oversample, npy mean", function()
      local x = cv.transform.caffe_input(IMG .. "cat_gray.jpg", CAFFENET,
        {mean = CAFFE .. "ilsvrc_2012_mean.npy", crop = "oversample"})
      assert.same({10, 3, 227, 227}, x:size())
      assert_golden("gray_oversample", x)
      -- Crop 6 is crop 1 mirrored, pixel for pixel.
      assert.is_true(cv.allclose(x[6], cv.image.mirror(x[1]), 0, 0))
    end)

    it("fish-bike.jpg (odd width): direct resize, channel means, input_scale", function()
      local x = cv.image.load(IMG .. "fish-bike.jpg"):caffe_input(CAFFENET,
        {resize = false, mean = {104, 117, 123}, input_scale = 0.5})
      assert.same({1, 3, 227, 227}, x:size())
      assert_golden("fish_direct", x)
    end)

    it("a 1-channel 28x28 net: luma, plain resize, values 0..1 (no swap, no mean)", function()
      local x = cv.image.load(IMG .. "cat.jpg"):caffe_input(MNIST)
      assert.same({1, 1, 28, 28}, x:size())
      assert_golden("cat_mnist", x)
    end)

    it("drops an alpha channel", function()
      local rgba = cv.cat({cv.full({3, 4, 4}, 255), cv.zeros(1, 4, 4)}, 1)
      local x = rgba:caffe_input(CAFFENET, {resize = {227, 227}, mean = {0, 0, 0}})
      assert.is_true(cv.allclose(x, cv.full({1, 3, 227, 227}, 255), 1e-4, 1e-4))
    end)

    it("defaults to classify.py's settings for an ImageNet-size net", function()
      local img = cv.full({3, 8, 8}, 200)
      local x = img:caffe_input(CAFFENET)
      local m = cv.transform.ILSVRC_MEAN
      assert.near(200 - m[1], x[1][1][1][1]:item(), 1e-3)
      assert.near(200 - m[3], x[1][3][100][100]:item(), 1e-3)
    end)

    it("names what is wrong with bad options", function()
      local img = cv.zeros(3, 8, 8)
      assert.has.error(function() img:caffe_input(CAFFENET, {crop = "corner"}) end,
        "caffe_input: crop must be \"center\" or \"oversample\", not corner")
      assert.has.error(function() img:caffe_input(CAFFENET, {resize = 200}) end,
        "caffe_input: resize 200x200 is smaller than the net's input 227x227")
      assert.has.error(function() img:caffe_input(CAFFENET, {mean = {1, 2}}) end,
        "caffe_input: mean has 2 values, the net 3 channels")
      assert.has.error(function() img:caffe_input(CAFFENET, {channel_swap = {3, 2}}) end,
        "caffe_input: channel_swap has 2 entries, the image 3 channels")
      assert.has.error(function() cv.zeros(5, 8, 8):caffe_input(CAFFENET) end,
        "caffe_input: cannot make a 5-channel image into the net's 3 channels")
      assert.has.error(function() img:caffe_input(CAFFENET, {mean = cv.zeros(3, 100, 100)}) end,
        "caffe_input: the mean is 100x100, smaller than the net's input 227x227")
      assert.has.error(function() img:caffe_input("net") end,
        "caffe_input: the second argument must be a net (cv.caffe.load)")
    end)
  end)

  describe("caffe.classify()", function()
    local lenet = FIX .. "caffe/lenet.prototxt"
    local weights = FIX .. "caffe/lenet_iter_10000.caffemodel"

    it("ranks classes with 0-based ids, labels and probabilities", function()
      local net = cv.caffe.load(lenet, weights)
      -- The README's bar, as an image of 0..255 values: LeNet calls it a 1.
      local img = cv.zeros(1, 28, 28)
      img[{1, {5, 24}, {14, 16}}] = 255
      local labels = {}
      for i = 0, 9 do labels[i + 1] = "digit " .. i end
      local r = cv.caffe.classify(net, {img, img}, {labels = labels, top = 3, raw_scale = 1})
      assert.same(2, #r)
      assert.same(3, #r[1])
      assert.same(1, r[1][1].class)
      assert.same("digit 1", r[1][1].label)
      assert.is_true(r[1][1].prob > 0.5 and r[1][1].prob <= 1)
      assert.is_true(r[1][1].prob >= r[1][2].prob and r[1][2].prob >= r[1][3].prob)
    end)

    it("reads synset_words.txt labels, dropping the WordNet id", function()
      local labels = cv.transform.read_labels(CAFFE .. "synset_words.txt")
      assert.same(1000, #labels)
      assert.same("tabby, tabby cat", labels[281 + 1])
    end)
  end)
end)
