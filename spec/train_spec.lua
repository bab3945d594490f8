local cv = require "cnnvis"
local train = require "cnnvis.train"

local support = require "spec.support"
local DIR = support.temp_dir("train")
local write = support.write

-- An easy task on 28x28 images: class 0 is bright on the left half, class 1
-- on the right, over a fixed pattern of noise. Written as an IDX pair named
-- like MNIST's files, so the Data layer knows the image size.
local function idx_pair(prefix, n)
  local images = {string.pack(">BBBBI4I4I4", 0, 0, 8, 3, n, 28, 28)}
  local labels = {string.pack(">BBBBI4", 0, 0, 8, 1, n)}
  for i = 1, n do
    local class = i % 2
    labels[#labels + 1] = string.pack("B", class)
    for r = 0, 27 do
      for c = 0, 27 do
        local bright = (c < 14) == (class == 0)
        images[#images + 1] = string.pack("B", (bright and 150 or 20) + (i * 7 + r * 3 + c) % 50)
      end
    end
  end
  write(DIR .. "/" .. prefix .. "-images-idx3-ubyte", table.concat(images))
  write(DIR .. "/" .. prefix .. "-labels-idx1-ubyte", table.concat(labels))
end
idx_pair("easy-mnist-train", 64)
idx_pair("easy-mnist-test", 32)

local NET = write(DIR .. "/train_val.prototxt", [[
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  data_param { source: "easy-mnist-train-images-idx3-ubyte" batch_size: 8 } }
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  data_param { source: "easy-mnist-test-images-idx3-ubyte" batch_size: 8 } }
layer { name: "scale" type: "Power" bottom: "data" top: "scale" power_param { scale: 0.01 } }
layer { name: "conv1" type: "Convolution" bottom: "scale" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 4 stride: 4
    weight_filler { type: "msra" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "ip" type: "InnerProduct" bottom: "conv1" top: "ip"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy"
  include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
]])

local function solver_file(name, fields)
  return write(DIR .. "/" .. name, 'net: "train_val.prototxt"\nbase_lr: 0.05\n'
    .. 'momentum: 0.9\nweight_decay: 0.0005\nlr_policy: "fixed"\nrandom_seed: 3\n'
    .. 'test_iter: 4\ntest_initialization: false\n' .. fields)
end

local function quiet_run(path, opts)
  local lines = {}
  opts = opts or {}
  opts.quiet, opts.print = true, function(line) lines[#lines + 1] = line end
  local result = train.run(path, opts)
  return result, lines
end

local function weights(net)
  local out = {}
  for _, name in ipairs({"conv1", "ip"}) do
    for k, t in ipairs(net.params[name]) do
      out[name .. k] = t:contiguous():view(t:numel()):totable()
    end
  end
  return out
end

describe("train", function()
  describe("run()", function()
    it("trains from a solver file: the loss falls and the test pass sees it", function()
      local path = solver_file("s.prototxt", 'max_iter: 40\ndisplay: 10\naverage_loss: 10\n'
        .. 'test_interval: 40\nsnapshot: 20\nsnapshot_prefix: "' .. DIR .. '/easy"\n')
      local result, lines = quiet_run(path)
      assert.equal(40, result.iter)
      local first = tonumber(lines[1]:match("loss ([%d.]+)"))
      local last
      for _, l in ipairs(lines) do last = tonumber(l:match("^iter %d+: loss ([%d.]+)")) or last end
      assert.is_true(last < first, lines[1] .. " / " .. last)
      assert.is_true(result.test.accuracy >= 0.9, "accuracy " .. result.test.accuracy)
      assert.equal(DIR .. "/easy_iter_40.caffemodel", result.snapshot)
      assert.truthy(io.open(DIR .. "/easy_iter_20.caffemodel"))
      assert.truthy(io.open(DIR .. "/easy_iter_20.solverstate"))
    end)

    it("gives the same model from the same seed", function()
      local path = solver_file("seeded.prototxt", 'max_iter: 12\nsnapshot_after_train: false\n')
      local a = quiet_run(path)
      local b = quiet_run(path)
      assert.same(weights(a.net), weights(b.net))
    end)

    it("resumes from a snapshot where the run left off", function()
      local path = solver_file("resume.prototxt", 'max_iter: 12\nsnapshot: 6\n'
        .. 'display: 3\naverage_loss: 4\nsnapshot_prefix: "' .. DIR .. '/res"\n')
      local whole = quiet_run(path)
      local resumed, lines = quiet_run(path, {resume = DIR .. "/res_iter_6.caffemodel"})
      assert.equal(12, resumed.iter)
      local shown = tonumber(lines[1]:match("^iter 9: loss ([%d.]+)"))
      assert.is_true(shown > 0, lines[1]) -- the mean over the iterations run since resuming
      local a, b = weights(whole.net), weights(resumed.net)
      for name, values in pairs(a) do
        for i, v in ipairs(values) do
          assert(math.abs(v - b[name][i]) <= 1e-5 * (1 + math.abs(v)), name .. "[" .. i .. "]")
        end
      end
    end)

    it("names a data source it cannot tell", function()
      local net = write(DIR .. "/odd_net.prototxt", (io.open(NET):read("a")
        :gsub("easy%-mnist%-train%-images%-idx3%-ubyte", "mnist.lmdb")))
      local path = write(DIR .. "/odd.prototxt", 'net: "odd_net.prototxt"\nbase_lr: 0.1\nmax_iter: 1\n')
      assert.has.error(function() quiet_run(path) end, DIR .. "/odd_net.prototxt: cannot tell "
        .. "what data source 'mnist.lmdb' is (an IDX images file named *images-idx3*, a folder, "
        .. "or a list file)")
    end)
  end)

  describe("loss_blob()", function()
    it("finds the SoftmaxWithLoss top, or names the file that lacks one", function()
      local net = cv.caffe.load(NET, nil, {phase = "train"})
      assert.equal("loss", train.loss_blob(net, NET))
      local two = write(DIR .. "/two_outputs.prototxt", [[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "a" type: "InnerProduct" bottom: "data" top: "a" inner_product_param { num_output: 2 } }
layer { name: "b" type: "InnerProduct" bottom: "data" top: "b" inner_product_param { num_output: 2 } }
]])
      assert.has.error(function() train.loss_blob(cv.caffe.load(two), two) end,
        two .. ": no SoftmaxWithLoss layer gives the training loss")
    end)
  end)

  describe("evaluate()", function()
    it("counts a confusion matrix and per-class error rates", function()
      -- A net that always answers class 1 (bias only).
      local always = write(DIR .. "/always.prototxt", [[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 2 bias_filler { type: "constant" value: 0 } } }
]])
      local net = cv.caffe.load(always)
      net.params.ip.bias:copy_(cv.tensor{0, 1})
      local set = cv.data.idx(DIR .. "/easy-mnist-test-images-idx3-ubyte",
                              DIR .. "/easy-mnist-test-labels-idx1-ubyte")
      local r = train.evaluate(net, set, {batch = 5})
      assert.equal(32, r.total)
      assert.equal(0.5, r.accuracy)
      assert.same({{0, 16}, {0, 16}}, r.confusion)
      assert.same({1, 0}, r.error_rate)
    end)
  end)

  describe("cnnvis train", function()
    local bin = support.quote(support.BIN)

    it("trains from the command line, quiet when not on a terminal", function()
      local path = solver_file("cli.prototxt", 'max_iter: 4\nsnapshot_prefix: "' .. DIR .. '/cli"\n')
      local p = io.popen(bin .. " train " .. path .. " 2>&1")
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, out)
      assert.matches("trained 4 iterations in [%d.]+ s; weights: " .. DIR:gsub("%p", "%%%0")
        .. "/cli_iter_4%.caffemodel", out)
      assert.is_nil(out:find("\r", 1, true))
    end)

    it("fails with a message and status 1 on a bad argument", function()
      local p = io.popen(bin .. " train " .. DIR .. "/cli.prototxt --iters x 2>&1")
      local out = p:read("a")
      local ok, _, code = p:close()
      assert.is_falsy(ok)
      assert.equal(1, code)
      assert.equal("cnnvis: --iters wants a non-negative integer, got 'x'\n", out)
    end)
  end)
end)
