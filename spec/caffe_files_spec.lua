local cv = require "cnnvis"
local lfs = require "lfs"

-- The shared Caffe fixtures sit beside the repository (one level further up
-- when the repository is a worktree).
local support = require "spec.support"
local F = support.shared("caffe/")
local slurp, spit = support.read, support.write

local tmp = os.tmpname()
local function tmpfile(suffix) return tmp .. suffix end

local function error_of(fn, ...)
  local ok, msg = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return msg
end

-- name, type, bottoms, tops of each layer from the first named one on.
local function wiring(net, from)
  local out, on = {}, false
  for _, l in ipairs(net.layer) do
    on = on or l.name == from
    if on then out[#out + 1] = {l.name, l.type, l.bottom or {}, l.top or {}} end
  end
  return out
end

-- Protobuf wire format by hand, for files no fixture has.
local function varint(n)
  local s = ""
  repeat
    local b = n % 128
    n = n // 128
    s = s .. string.char(n > 0 and b + 128 or b)
  until n == 0
  return s
end
local function field(id, wire, payload)
  if wire == 2 then return varint(id * 8 + 2) .. varint(#payload) .. payload end
  return varint(id * 8 + wire) .. payload
end

describe("caffe files", function()
  describe("read_net_def()", function()
    it("loads every prototxt of the fixtures", function()
      local count = 0
      for file in lfs.dir(F) do
        if file:match("%.prototxt$") then
          local net = cv.caffe.read_net_def(F .. file)
          assert.is_true(#net.layer > 5, file)
          assert.equal("Input", net.layer[1].type, file)
          for _, l in ipairs(net.layer) do
            assert.is_nil(l.include, file) -- phase rules were applied
          end
          count = count + 1
        end
      end
      assert.equal(12, count)
    end)

    it("gives every CaffeNet variant the same layers and input", function()
      local ref = cv.caffe.read_net_def(F .. "caffenet_deploy.prototxt")
      local body = wiring(ref, "conv1")
      assert.equal(23, #body)
      for _, file in ipairs{"caffenet_deploy_input_dim.prototxt",
                            "caffenet_deploy_input_shape.prototxt",
                            "caffenet_deploy_v1.prototxt"} do
        local net = cv.caffe.read_net_def(F .. file)
        assert.same(body, wiring(net, "conv1"), file)
        local input = net.layer[1]
        assert.same({"input", "Input", {"data"}},
                    {input.name, input.type, input.top}, file)
        assert.same({10, 3, 227, 227}, input.input_param.shape[1].dim, file)
      end
      for _, file in ipairs{"caffenet_train_val.prototxt",
                            "caffenet_train_val_v1.prototxt"} do
        local net = cv.caffe.read_net_def(F .. file)
        local w = wiring(net, "conv1")
        for i = 1, 22 do assert.same(body[i], w[i], file) end -- up to fc8
        assert.same({"accuracy", "Accuracy", {"fc8", "label"}, {"accuracy"}}, w[23])
        assert.same({"loss", "SoftmaxWithLoss", {"fc8", "label"}, {"loss"}}, w[24])
        local input = net.layer[1]
        assert.same({"data", "Input", {"data", "label"}},
                    {input.name, input.type, input.top}, file)
        assert.same({{dim = {50, 3, 227, 227}}, {dim = {50}}},
                    input.input_param.shape, file)
      end
    end)

    it("upgrades a V1 train_val to the structure of its V2 version", function()
      local v1 = cv.caffe.read_net_def(F .. "caffenet_train_val_v1.prototxt")
      local v2 = cv.caffe.read_net_def(F .. "caffenet_train_val.prototxt")
      assert.same({{lr_mult = 1, decay_mult = 1}, {lr_mult = 2, decay_mult = 0}},
                  v1.layer[2].param)
      assert.same(v2.layer[2].param, v1.layer[2].param)
      assert.same(v2.layer[2].convolution_param, v1.layer[2].convolution_param)
      assert.same(v2.layer[5].lrn_param, v1.layer[5].lrn_param)
      assert.same({local_size = 5, alpha = 0.0001, beta = 0.75},
                  v1.layer[5].lrn_param)
      assert.same(v2.layer[1].transform_param, v1.layer[1].transform_param)
    end)

    it("keeps the layers of the asked phase", function()
      local test = cv.caffe.read_net_def(F .. "caffenet_train_val.prototxt")
      local train = cv.caffe.read_net_def(F .. "caffenet_train_val.prototxt", "TRAIN")
      assert.same({256, 3, 227, 227}, train.layer[1].input_param.shape[1].dim)
      assert.is_true(train.layer[1].transform_param.mirror)
      assert.is_false(test.layer[1].transform_param.mirror)
      assert.equal("accuracy", test.layer[#test.layer - 1].name)
      assert.equal("fc8", train.layer[#train.layer - 1].name) -- no accuracy
    end)

    it("turns LeNet's MNIST data layer into a 1x28x28 input and keeps its scale", function()
      for _, file in ipairs{"lenet_train_test.prototxt", "lenet_train_test_v1.prototxt"} do
        local l = cv.caffe.read_net_def(F .. file).layer[1]
        assert.equal("Input", l.type)
        assert.same({{dim = {100, 1, 28, 28}}, {dim = {100}}}, l.input_param.shape)
        assert.same({scale = 0.00390625}, l.transform_param)
        assert.is_nil(l.data_param)
      end
      local deploy = cv.caffe.read_net_def(F .. "lenet.prototxt").layer[1]
      assert.same({64, 1, 28, 28}, deploy.input_param.shape[1].dim)
    end)

    it("reads every number, string and block form of the text format", function()
      local p = spit(tmpfile(".prototxt"), table.concat({
        "# a comment",
        "name: 'a\\n\\\"b\\x41\\101' \"c\" # after a value",
        "layer: { name: \"p\" type: \"Power\"",
        "  power_param < power: -.5 scale: 1e-4 shift: 0. >",
        "  loss_weight: inf loss_weight: -inf loss_weight: 1.5f;",
        "  loss_weight: [2, 3.25]",
        "  propagate_down: true propagate_down: False",
        "}",
        "layer { name: \"e\" type: \"Eltwise\" eltwise_param { operation: 2 } }",
      }, "\n"))
      local net = cv.caffe.read_net_def(p)
      assert.equal('a\n"bAAc', net.name)
      local l = net.layer[1]
      assert.same({power = -0.5, scale = 0.0001, shift = 0}, l.power_param)
      assert.same({math.huge, -math.huge, 1.5, 2, 3.25}, l.loss_weight)
      assert.same({true, false}, l.propagate_down)
      assert.equal("MAX", net.layer[2].eltwise_param.operation)
    end)

    it("reports an unknown field with file, line and column", function()
      local p = spit(tmpfile(".prototxt"), 'name: "x"\nlayer {\n  name: "a"\n  tipe: "ReLU"\n}\n')
      assert.equal(p .. ":4:3: unknown field 'tipe' in caffe.LayerParameter",
        error_of(function() cv.caffe.read_net_def(p) end))
    end)

    it("skips the parameters of layer types Caffe has and cnnvis lacks", function()
      local p = spit(tmpfile(".prototxt"), table.concat({
        'layer { name: "c" type: "Crop" crop_param { axis: 2 offset: 1 } top: "c" }',
        'layer { name: "r" type: "ELU" elu_param: { alpha: 0.5 } }',
      }, "\n"))
      local net = cv.caffe.read_net_def(p)
      assert.same({{name = "c", type = "Crop", top = {"c"}}, {name = "r", type = "ELU"}},
                  net.layer)
      p = spit(tmpfile(".prototxt"), 'layer { crop_param { axis: 2 }')
      assert.equal(p .. ":1:31: expected '}', found the end of the file",
        error_of(function() cv.caffe.read_net_def(p) end))
    end)

    it("reports syntax errors with line and column", function()
      local cases = {
        {'name: "x"\nlayer {\n  name: "a"\n', ":4:1: expected '}', found the end of the file"},
        {'name: "x\nlayer', ":1:7: a string runs past the line"},
        {'layer { name "a" }', ":1:14: expected ':', found '\"a\"'"},
        {'layer { name: }', ":1:15: expected a quoted string, found '}'"},
        {'layer {\n  convolution_param { num_output: 1.5 } }',
         ":2:35: '1.5' is not an unsigned 32-bit integer"},
        {'layer { pooling_param { stride: -1 } }',
         ":1:33: '-1' is not an unsigned 32-bit integer"},
        {'layer { pooling_param { pool: MIN } }',
         ":1:31: 'MIN' is not a value of caffe.PoolingParameter.PoolMethod (one of: AVE MAX STOCHASTIC)"},
        {'layer { name: "p" name: "q" }',
         ":1:19: field 'name' is given twice but is not repeated"},
        {'layer { dropout_param { dropout_ratio: 0.5x } }',
         ":1:40: expected a number, found '0.5x'"},
        {'layer { name: "a\\q" }', ":1:15: unknown escape sequence in a string"},
        {'name: "a" }', ":1:11: expected a field name, found '}'"},
      }
      for _, c in ipairs(cases) do
        local p = spit(tmpfile(".prototxt"), c[1])
        assert.equal(p .. c[2], error_of(function() cv.caffe.read_net_def(p) end))
      end
    end)

    it("refuses a V0 file, saying how to upgrade it", function()
      local p = spit(tmpfile(".prototxt"),
        'name: "old"\nlayers {\n  layer {\n    name: "conv1"\n    type: "conv"\n  }\n}\n')
      assert.equal(p .. ":3:3: this is the V0 prototxt format of 2014 (`layers { layer { ... } }`), "
          .. "which cnnvis does not read; upgrade it with Caffe's upgrade_net_proto_text tool",
        error_of(function() cv.caffe.read_net_def(p) end))
    end)

    it("checks the deprecated inputs and data layers", function()
      local p = spit(tmpfile(".prototxt"), 'input: "data" input_dim: 1 input_dim: 3')
      assert.has.error(function() cv.caffe.read_net_def(p) end,
        p .. ": 1 input names need 4 input_dim values (4 each), found 2")
      p = spit(tmpfile(".prototxt"),
        'layer { name: "d" type: "Data" top: "data" data_param { source: "x_lmdb" batch_size: 4 } }')
      assert.has.error(function() cv.caffe.read_net_def(p) end,
        p .. ": cannot tell the image size of Data layer 'd' (no crop_size or new_height/new_width, "
          .. "and source 'x_lmdb' is not a known data set); give it a transform_param { crop_size } "
          .. "or use an Input layer")
      p = spit(tmpfile(".prototxt"), 'layer { name: "d" type: "ImageData" top: "data" top: "label" '
        .. 'image_data_param { source: "list.txt" batch_size: 8 new_height: 40 new_width: 30 is_color: false } }')
      assert.same({{dim = {8, 1, 40, 30}}, {dim = {8}}},
                  cv.caffe.read_net_def(p).layer[1].input_param.shape)
      p = spit(tmpfile(".prototxt"), 'layer { name: "a" include { phase: TEST } exclude { phase: TRAIN } }')
      assert.has.error(function() cv.caffe.read_net_def(p) end,
        p .. ": layer 'a' has both include and exclude rules; Caffe allows one kind only")
    end)

    it("rejects a missing file and a bad phase", function()
      assert.has.error(function() cv.caffe.read_net_def("no/such.prototxt") end,
        "no/such.prototxt: cannot open: No such file or directory")
      assert.matches("invalid option 'VAL'",
        error_of(cv.caffe.read_net_def, F .. "lenet.prototxt", "VAL"))
    end)
  end)

  describe("read_solver()", function()
    it("reads a solver with its net inline", function()
      local p = spit(tmpfile(".prototxt"), table.concat({
        'net: "lenet_train_test.prototxt"', "base_lr: 0.01", "momentum: 0.9",
        'lr_policy: "inv"', "gamma: 0.0001", "power: 0.75", "max_iter: 10000",
        "solver_mode: CPU", "test_iter: 100", "random_seed: -1",
        'train_net_param { layer { name: "a" type: "ReLU" } }'}, "\n"))
      assert.same({net = "lenet_train_test.prototxt", base_lr = 0.01, momentum = 0.9,
                   lr_policy = "inv", gamma = 0.0001, power = 0.75, max_iter = 10000,
                   solver_mode = "CPU", test_iter = {100}, random_seed = -1,
                   train_net_param = {layer = {{name = "a", type = "ReLU"}}}},
                  cv.caffe.read_solver(p))
      p = spit(tmpfile(".prototxt"), "base_lr: 0.01\nmax_itr: 3\n")
      assert.equal(p .. ":2:1: unknown field 'max_itr' in caffe.SolverParameter",
        error_of(function() cv.caffe.read_solver(p) end))
    end)
  end)

  describe("write_net_def()", function()
    it("writes V2 text that reads back to the same net", function()
      for file in lfs.dir(F) do
        if file:match("%.prototxt$") then
          local net = cv.caffe.read_net_def(F .. file)
          local p = tmpfile(".prototxt")
          assert.is_true(cv.caffe.write_net_def(p, net))
          assert.same(net, cv.caffe.read_net_def(p), file)
          assert.is_nil(slurp(p):match("layers"), file) -- V1 came out V2
        end
      end
    end)

    it("writes what Caffe writes for a small net", function()
      local text = cv.caffe.net_def_text{name = "n", layer = {
        {name = "ip", type = "InnerProduct", bottom = {"x"}, top = {"y"},
         inner_product_param = {num_output = 10, weight_filler = {type = "xavier", std = 0.01}}}}}
      assert.equal(table.concat({
        'name: "n"', "layer {", '  name: "ip"', '  type: "InnerProduct"', '  bottom: "x"',
        '  top: "y"', "  inner_product_param {", "    num_output: 10", "    weight_filler {",
        '      type: "xavier"', "      std: 0.01", "    }", "  }", "}", ""}, "\n"), text)
    end)

    it("rejects unknown fields and wrong types", function()
      local p = tmpfile(".prototxt")
      assert.has.error(function() cv.caffe.write_net_def(p, {layer = {{nme = "x"}}}) end,
        "unknown field 'nme' in caffe.LayerParameter")
      assert.has.error(function() cv.caffe.write_net_def(p, {layer = {{name = 3}}}) end,
        "field 'name' wants a string, got number")
      assert.has.error(function() cv.caffe.write_net_def(p, {layer = {{phase = "VAL"}}}) end,
        "field 'phase': VAL is not a value of caffe.Phase")
      assert.has.error(function() cv.caffe.write_net_def(p, {layer = {
        {convolution_param = {num_output = -1}}}}) end,
        "field 'num_output': -1 is out of range")
      assert.has.error(function() cv.caffe.write_net_def(p, {layer = "x"}) end,
        "repeated field 'layer' wants an array, got string")
    end)
  end)

  describe("read_weights()", function()
    local lenet = F .. "lenet_iter_10000.caffemodel"

    it("loads LeNet's caffemodel with the README's layers and shapes", function()
      local layers = cv.caffe.read_weights(lenet)
      local got, total = {}, 0
      for _, l in ipairs(layers) do
        local shapes = {}
        for _, b in ipairs(l.blobs) do
          shapes[#shapes + 1] = b:size()
          total = total + b:numel()
        end
        got[#got + 1] = {l.name, l.type, shapes}
      end
      assert.same({
        {"mnist", "Data", {}},
        {"conv1", "Convolution", {{20, 1, 5, 5}, {20}}},
        {"pool1", "Pooling", {}},
        {"conv2", "Convolution", {{50, 20, 5, 5}, {50}}},
        {"pool2", "Pooling", {}},
        {"ip1", "InnerProduct", {{500, 800}, {500}}},
        {"relu1", "ReLU", {}},
        {"ip2", "InnerProduct", {{10, 500}, {10}}},
        {"loss", "SoftmaxWithLoss", {}},
      }, got)
      assert.equal(431080, total)
    end)

    it("gives each blob exactly the floats stored in the file", function()
      local bytes = slurp(lenet)
      for _, l in ipairs(cv.caffe.read_weights(lenet)) do
        for _, b in ipairs(l.blobs) do
          local flat = b:view(b:numel()):totable()
          local packed = string.pack("<" .. string.rep("f", #flat), table.unpack(flat))
          assert.truthy(bytes:find(packed, 1, true), l.name)
        end
      end
    end)

    it("gives a clean error for the file cut at 64 lengths", function()
      local bytes = slurp(lenet)
      local p = tmpfile(".caffemodel")
      for i = 0, 63 do
        local n = i * #bytes // 64
        spit(p, bytes:sub(1, n))
        local msg = error_of(cv.caffe.read_weights, p)
        if n == 0 then
          assert.equal(p .. ": the file is empty", msg)
        else
          assert.matches(p:gsub("%p", "%%%0") .. ": not a valid caffe.NetParameter: byte offset %d+", msg)
        end
      end
      spit(p, bytes:sub(1, 200000))
      assert.has.error(function() cv.caffe.read_weights(p) end,
        p .. ": not a valid caffe.NetParameter: byte offset 102678: field 'layer' declares "
          .. "1602103 bytes but only 97317 remain (truncated, or a corrupt length)")
      spit(p, bytes:sub(1, 102678 + 5 + 7))
      assert.has.error(function() cv.caffe.read_weights(p) end,
        p .. ": not a valid caffe.NetParameter: byte offset 102678: field 'layer' declares "
          .. "1602103 bytes but only 7 remain (truncated, or a corrupt length)")
    end)

    it("rejects files that are not caffemodels", function()
      local p = tmpfile(".caffemodel")
      assert.has.error(function() cv.caffe.read_weights(spit(p, "hello, this is text\n")) end,
        p .. ": not a valid caffe.NetParameter: byte offset 2: wire type 4 (field 13) is not "
          .. "used by Caffe's files: this is not a caffe.NetParameter")
      assert.has.error(function() cv.caffe.read_weights(spit(p, "\x0a\xff\xff\xff\xff\x0f")) end,
        p .. ": not a valid caffe.NetParameter: byte offset 0: field 'name' declares "
          .. "4294967295 bytes but only 0 remain (truncated, or a corrupt length)")
      assert.has.error(function() cv.caffe.read_weights(F .. "imagenet_mean.binaryproto") end,
        F .. "imagenet_mean.binaryproto: not a valid caffe.NetParameter: byte offset 0: field "
          .. "'name' (1) has wire type 0, expected 2: corrupt or not a caffe.NetParameter")
      assert.has.error(function() cv.caffe.read_weights(spit(p, field(1, 2, "net"))) end,
        p .. ": no layers in this NetParameter (not a caffemodel?)")
      assert.has.error(function() cv.caffe.read_weights("no/such.caffemodel") end,
        "no/such.caffemodel: cannot open: No such file or directory")
    end)

    it("reports the field path of a broken nested blob", function()
      local blob = field(5, 2, string.pack("<fff", 1, 2, 3):sub(1, 10))
      local p = spit(tmpfile(".caffemodel"),
        field(100, 2, field(1, 2, "a") .. field(7, 2, blob)))
      assert.has.error(function() cv.caffe.read_weights(p) end,
        p .. ": not a valid caffe.NetParameter: byte offset 8 (in layer[0].blobs[0]): "
          .. "packed field 'data' holds 10 bytes, not a multiple of 4")
    end)

    it("upgrades a V1 caffemodel: enum type, legacy dims", function()
      -- NetParameter { layers { name: "ip" type: INNER_PRODUCT
      --   blobs { num: 1 channels: 1 height: 2 width: 3 data: [1..6] } } }
      local blob = field(1, 0, varint(1)) .. field(2, 0, varint(1)) ..
                   field(3, 0, varint(2)) .. field(4, 0, varint(3)) ..
                   field(5, 2, string.pack("<ffffff", 1, 2, 3, 4, 5, 6))
      local layer = field(4, 2, "ip") .. field(5, 0, varint(14)) .. field(6, 2, blob) ..
                    field(7, 5, string.pack("<f", 1))  -- blobs_lr, unpacked
      local p = spit(tmpfile(".caffemodel"), field(2, 2, layer))
      local layers = cv.caffe.read_weights(p)
      assert.equal(1, #layers)
      assert.same({"ip", "InnerProduct"}, {layers[1].name, layers[1].type})
      assert.same({1, 1, 2, 3}, layers[1].blobs[1]:size())
      assert.same({{{{1, 2, 3}, {4, 5, 6}}}}, layers[1].blobs[1]:totable())
    end)

    it("refuses a V0 caffemodel", function()
      local p = spit(tmpfile(".caffemodel"),
        field(2, 2, field(1, 2, field(1, 2, "conv1") .. field(2, 2, "conv"))))
      assert.has.error(function() cv.caffe.read_weights(p) end,
        p .. ": layer 1 ('conv1') is in the V0 format of 2014, which cnnvis does not read; "
          .. "upgrade the file with Caffe's upgrade_net_proto_text (or upgrade_net_proto_binary) tool")
    end)

    it("checks a blob's shape against its value count", function()
      local blob = field(7, 2, field(1, 2, varint(2) .. varint(2))) ..
                   field(5, 2, string.pack("<fff", 1, 2, 3))
      local p = spit(tmpfile(".caffemodel"),
        field(100, 2, field(1, 2, "fc") .. field(2, 2, "InnerProduct") .. field(7, 2, blob)))
      assert.has.error(function() cv.caffe.read_weights(p) end,
        p .. ": layer 'fc' blob 1: blob shape 2x2 holds 4 values but the blob has 3")
    end)
  end)

  describe("write_weights()", function()
    it("round-trips LeNet exactly", function()
      local a = cv.caffe.read_weights(F .. "lenet_iter_10000.caffemodel")
      local p, q = tmpfile("a.caffemodel"), tmpfile("b.caffemodel")
      assert.is_true(cv.caffe.write_weights(p, a))
      local b = cv.caffe.read_weights(p)
      assert.equal(#a, #b)
      for i, l in ipairs(a) do
        assert.same({l.name, l.type, #l.blobs}, {b[i].name, b[i].type, #b[i].blobs})
        for j, t in ipairs(l.blobs) do
          assert.same(t:size(), b[i].blobs[j]:size())
          assert.same(t:view(t:numel()):totable(), b[i].blobs[j]:view(t:numel()):totable())
        end
      end
      cv.caffe.write_weights(q, b)
      assert.equal(slurp(p), slurp(q))
      os.remove(p)
      os.remove(q)
    end)

    it("files a read blob's memory under its own size when it is freed", function()
      -- 300000 floats: the reader's array becomes the tensor's storage. Freed,
      -- it may be kept for reuse, but only for a request of its true size,
      -- never for the page-rounded 300000-float tensors the engine makes.
      local p = tmpfile("big.caffemodel")
      cv.caffe.write_weights(p, {{name = "fc", type = "InnerProduct", blobs = {cv.ones(300000)}}})
      local blob = cv.caffe.read_weights(p)[1].blobs[1]
      os.remove(p)
      assert.equal(300000, blob:sum():item())
      collectgarbage()
      collectgarbage()
      cv.free_cached_memory()
      blob = nil
      collectgarbage()
      collectgarbage()
      assert.equal(1200000, cv.cached_memory()) -- the blob's array, filed under its size
      local t = cv.empty(300000)
      t:fill_(2)
      assert.equal(1200000, cv.cached_memory(), "the blob's block was handed out for a bigger tensor")
      assert.equal(600000, t:sum():item())
      cv.free_cached_memory()
    end)

    it("writes a V1 file back as V2", function()
      local blob = field(1, 0, varint(1)) .. field(2, 0, varint(1)) ..
                   field(3, 0, varint(1)) .. field(4, 0, varint(2)) ..
                   field(5, 2, string.pack("<ff", 0.5, -2))
      local p = spit(tmpfile(".caffemodel"),
        field(2, 2, field(4, 2, "r") .. field(5, 0, varint(18)) .. field(6, 2, blob)))
      local q = tmpfile("v2.caffemodel")
      cv.caffe.write_weights(q, cv.caffe.read_weights(p))
      -- fields in number order, as Caffe writes them: data (5) before shape (7)
      local expect = field(100, 2, field(1, 2, "r") .. field(2, 2, "ReLU") ..
        field(7, 2, field(5, 2, string.pack("<ff", 0.5, -2)) ..
                    field(7, 2, field(1, 2, varint(1) .. varint(1) .. varint(1) .. varint(2)))))
      assert.equal(expect, slurp(q))
      os.remove(q)
    end)

    it("rejects a layer table of the wrong shape", function()
      local p = tmpfile(".caffemodel")
      assert.has.error(function() cv.caffe.write_weights(p, {{name = "a", type = "b", blobs = {3}}}) end,
        "layer 1 blob 1: a tensor expected")
      assert.has.error(function() cv.caffe.write_weights(p, {{name = "a"}}) end,
        "layer 1: type must be a string")
      assert.has.error(function() cv.caffe.write_weights(p, {"x"}) end,
        "bad argument #2 to 'write_weights' (layer 1 is not a table)")
      assert.has.error(function() cv.caffe.write_weights("no/such/dir/x.caffemodel", {}) end,
        "no/such/dir/x.caffemodel: cannot open for writing")
    end)
  end)

  describe("load_mean()", function()
    it("reads the ImageNet mean with the README's channel means", function()
      local m = cv.caffe.load_mean(F .. "imagenet_mean.binaryproto")
      assert.same({1, 3, 256, 256}, m:size())
      local planes = m:view(3, 256 * 256):totable()
      local expect = {104.00699, 116.66877, 122.67891} -- B, G, R
      for c = 1, 3 do
        local sum = 0
        for _, v in ipairs(planes[c]) do sum = sum + v end
        assert.near(expect[c], sum / (256 * 256), 1e-4)
      end
    end)

    it("round-trips through save_mean()", function()
      local t = cv.tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8.5}}}
      local p = tmpfile(".binaryproto")
      assert.is_true(cv.caffe.save_mean(t, p))
      local m = cv.caffe.load_mean(p)
      assert.same({1, 2, 2, 2}, m:size())
      assert.same({t:totable()}, m:totable())
      -- legacy dims only (num 1, channels 2, height 2, width 2), then the data
      assert.equal(field(1, 0, varint(1)) .. field(2, 0, varint(2)) ..
                   field(3, 0, varint(2)) .. field(4, 0, varint(2)) ..
                   field(5, 2, string.pack("<ffffffff", 1, 2, 3, 4, 5, 6, 7, 8.5)), slurp(p))
      os.remove(p)
    end)

    it("rejects what is not a mean", function()
      local p = tmpfile(".binaryproto")
      assert.has.error(function() cv.caffe.load_mean(F .. "lenet_iter_10000.caffemodel") end,
        F .. "lenet_iter_10000.caffemodel: not a valid caffe.BlobProto: byte offset 0: field "
          .. "'num' (1) has wire type 2, expected 0: corrupt or not a caffe.BlobProto")
      assert.has.error(function() cv.caffe.load_mean(spit(p, field(1, 0, varint(1)))) end,
        p .. ": the BlobProto holds no values (not a mean binaryproto?)")
      assert.has.error(function() cv.caffe.save_mean(cv.zeros(4), p) end,
        p .. ": a mean is C x H x W or N x C x H x W, not 4")
      assert.matches("bad argument #1 to '.-' %(tensor expected, got string%)",
        error_of(cv.caffe.save_mean, "x", p))
    end)
  end)
end)

os.remove(tmp)
for _, s in ipairs{".prototxt", ".caffemodel", ".binaryproto"} do os.remove(tmp .. s) end
