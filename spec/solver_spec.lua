local cv = require "cnnvis"
local solver = require "cnnvis.solver"

local support = require "spec.support"
local DIR = support.temp_dir("solver")
local write = support.write

-- A linear classifier: ip (lr_mult 1, decay_mult 1 on the weight; lr_mult 2,
-- decay_mult 0 on the bias), as CaffeNet's layers are set.
local NET = write(DIR .. "/net.prototxt", [[
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 4 dim: 3 } shape { dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 2
    weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
]])

local X = cv.tensor{{1, 2, 0}, {0, 1, -1}, {2, 0, 1}, {-1, 1, 1}}
local Y = cv.tensor{0, 1, 1, 0}

local function flat(t) return t:contiguous():view(t:numel()):totable() end

local function close(expected, actual, tol)
  assert.equal(#expected, #actual)
  for i = 1, #expected do
    assert(math.abs(expected[i] - actual[i]) <= tol * (1 + math.abs(expected[i])),
      string.format("element %d: expected %.7g, got %.7g", i, expected[i], actual[i]))
  end
end

describe("solver", function()
  describe("learning_rate()", function()
    local base = {base_lr = 0.1, gamma = 0.5, power = 0.75, stepsize = 10,
                  stepvalue = {5, 8}, max_iter = 20}
    local function at(policy, iter)
      local sp = {}
      for k, v in pairs(base) do sp[k] = v end
      sp.lr_policy = policy
      return solver.learning_rate(sp, iter)
    end

    it("follows Caffe's formulas", function()
      assert.equal(0.1, at("fixed", 123))
      assert.near(0.1, at("step", 9), 1e-12)
      assert.near(0.05, at("step", 10), 1e-12)
      assert.near(0.025, at("step", 25), 1e-12)
      assert.near(0.1, at("multistep", 4), 1e-12)
      assert.near(0.05, at("multistep", 5), 1e-12)
      assert.near(0.025, at("multistep", 9), 1e-12)
      assert.near(0.1 * (1 + 0.5 * 4) ^ -0.75, at("inv", 4), 1e-12)
      assert.near(0.1 * 0.5 ^ 3, at("exp", 3), 1e-12)
      assert.near(0.1 * (1 - 5 / 20) ^ 0.75, at("poly", 5), 1e-12)
    end)

    it("rejects an unknown policy", function()
      assert.has.error(function() at("cosine", 1) end, "solver: unknown lr_policy 'cosine' "
        .. "(fixed, step, exp, inv, multistep, poly, sigmoid)")
    end)
  end)

  describe("read()", function()
    it("reads a solver.prototxt with Caffe's defaults", function()
      local p = write(DIR .. "/s.prototxt", 'net: "n.prototxt"\nbase_lr: 0.01\n'
        .. 'lr_policy: "multistep"\nstepvalue: 100\nstepvalue: 200\ngamma: 0.1\n')
      local sp = solver.read(p)
      assert.equal("n.prototxt", sp.net)
      assert.near(0.01, sp.base_lr, 1e-9)
      assert.same({100, 200}, sp.stepvalue)
      assert.equal(0, sp.momentum)
      assert.equal(-1, sp.random_seed)
    end)

    it("rejects a solver without base_lr", function()
      local p = write(DIR .. "/no_lr.prototxt", 'net: "n.prototxt"\n')
      assert.has.error(function() solver.read(p) end, p .. ": the solver gives no base_lr")
    end)

    it("rejects solvers other than SGD", function()
      local p = write(DIR .. "/adam.prototxt", 'base_lr: 0.1\ntype: "Adam"\n')
      assert.has.error(function() solver.read(p) end,
        p .. ": only the SGD solver is supported (type: Adam)")
    end)

    it("names the line of a field the schema lacks", function()
      local p = write(DIR .. "/typo.prototxt", 'base_lr: 0.1\nlearning_rate: 3\n')
      local ok, msg = pcall(solver.read, p)
      assert.is_false(ok)
      assert.matches("typo%.prototxt:2", msg)
    end)
  end)

  describe("update()", function()
    -- Two steps checked against the update rule computed here in double:
    --   V = m V + lr lr_mult (g + wd decay_mult W);  W = W - V
    it("applies momentum, weight decay and the per-blob multipliers as Caffe does", function()
      cv.manual_seed(3)
      local net = cv.caffe.load(NET, nil, {phase = "train"})
      local sp = {base_lr = 0.1, lr_policy = "step", gamma = 0.5, stepsize = 1,
                  momentum = 0.9, weight_decay = 0.01}
      local s = solver.new(net, sp, cv.caffe.read_net_def(NET, "TRAIN"))
      local w, b = net.params.ip.weight, net.params.ip.bias
      local expect = {w = flat(w), b = flat(b)}
      local hist = {w = {}, b = {}}
      for k = 1, #expect.w do hist.w[k] = 0 end
      for k = 1, #expect.b do hist.b[k] = 0 end
      local mult = {w = {lr = 1, decay = 1}, b = {lr = 2, decay = 0}}
      for iter = 0, 1 do
        s:zero_grad()
        net:forward({data = X, label = Y}).loss:backward()
        local grads = {w = flat(w.grad), b = flat(b.grad)}
        local rate = 0.1 * 0.5 ^ iter
        for _, key in ipairs({"w", "b"}) do
          for k = 1, #expect[key] do
            hist[key][k] = 0.9 * hist[key][k] + rate * mult[key].lr *
              (grads[key][k] + 0.01 * mult[key].decay * expect[key][k])
            expect[key][k] = expect[key][k] - hist[key][k]
          end
        end
        assert.near(rate, s:update(), 1e-12)
      end
      assert.equal(2, s.iter)
      close(expect.w, flat(w), 1e-5)
      close(expect.b, flat(b), 1e-5)
    end)

    it("leaves a blob with lr_mult 0 alone", function()
      local frozen = write(DIR .. "/frozen.prototxt", (io.open(NET):read("a")
        :gsub("param { lr_mult: 1 decay_mult: 1 }", "param { lr_mult: 0 decay_mult: 1 }")))
      local net = cv.caffe.load(frozen, nil, {phase = "train"})
      local s = solver.new(net, {base_lr = 1, lr_policy = "fixed", momentum = 0,
                                 weight_decay = 0}, cv.caffe.read_net_def(frozen, "TRAIN"))
      local before = flat(net.params.ip.weight)
      net:forward({data = X, label = Y}).loss:backward()
      s:update()
      assert.same(before, flat(net.params.ip.weight))
    end)

    it("lowers the loss on a separable problem", function()
      cv.manual_seed(5)
      local net = cv.caffe.load(NET, nil, {phase = "train"})
      local s = solver.new(net, {base_lr = 0.1, lr_policy = "fixed", momentum = 0.9,
                                 weight_decay = 0}, cv.caffe.read_net_def(NET, "TRAIN"))
      local first, last
      for _ = 1, 30 do
        s:zero_grad()
        local loss = net:forward({data = X, label = Y}).loss
        first = first or loss:item()
        last = loss:item()
        loss:backward()
        s:update()
      end
      assert.is_true(last < 0.5 * first)
    end)
  end)

  describe("save_state() / load_state()", function()
    it("restores the momentum history and the iteration", function()
      local net = cv.caffe.load(NET, nil, {phase = "train"})
      local sp = {base_lr = 0.1, lr_policy = "fixed", momentum = 0.9, weight_decay = 0}
      local s = solver.new(net, sp)
      net:forward({data = X, label = Y}).loss:backward()
      s:update()
      s:save_state(DIR .. "/state.solverstate")
      local t = solver.new(net, sp)
      t:load_state(DIR .. "/state.solverstate")
      assert.equal(1, t.iter)
      assert.same(flat(s.blobs[1].history), flat(t.blobs[1].history))
      assert.same(flat(s.blobs[2].history), flat(t.blobs[2].history))
    end)

    it("rejects a file that is not a solver state", function()
      local net = cv.caffe.load(NET, nil, {phase = "train"})
      local s = solver.new(net, {base_lr = 0.1})
      cv.caffe.save(net, DIR .. "/weights.caffemodel")
      assert.has.error(function() s:load_state(DIR .. "/weights.caffemodel") end,
        DIR .. "/weights.caffemodel: not a solver state (no layer 'iter')")
    end)
  end)

  describe("sgd_update_()", function()
    it("rejects a history of another shape", function()
      assert.has.error(function() cv.sgd_update_(cv.zeros(2, 3), cv.zeros(3), nil, 1, 0, 0) end,
        "sgd: the parameter has shape 2x3 but its history has shape 3")
    end)
  end)
end)
