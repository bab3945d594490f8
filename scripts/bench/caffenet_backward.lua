--- CaffeNet backward: cnnvis beside PyTorch (scripts/bench/caffenet_backward_torch.py).
-- Usage: cnnvis scripts/bench/caffenet_backward.lua [threads [runs]]
-- Random weights (seeded), 227x227, the same thread count. Each run is a
-- forward recording the tape and the backward of one fc8 neuron (class 281,
-- summed over the batch) to every weight and bias; gradients are dropped
-- before each run in both (zero_grad / set_to_none), so each run writes
-- them afresh. Prints medians at batch 1 and 16, the peer's ratio, and
-- net:per_sample_norms for 16 images beside one batched backward of 16.
local cv = require "cnnvis"

local PROTO = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local PEER = "scripts/bench/caffenet_backward_torch.py"
local CLASS = 281
local threads = tonumber(arg[1]) or tonumber(os.getenv("BENCH_THREADS") or "") or 2
local runs = tonumber(arg[2]) or 7

local median = require("scripts.bench.support").time

local function random_net() return require("scripts.bench.support").random_net(PROTO) end

local function zero_grads(net)
  for _, p in pairs(net.params) do
    p.weight:zero_grad()
    p.bias:zero_grad()
  end
end

local function step(net, x)
  zero_grads(net)
  net:forward(x, {upto = "fc8"})
  net:neuron("fc8", {class = CLASS}):backward()
end

local function peer()
  return require("scripts.bench.support").peer(PEER, threads, runs)
end

local function main()
  cv.set_num_threads(threads)
  local net = random_net()
  cv.manual_seed(2)
  local x1, x16 = cv.randn(1, 3, 227, 227) * 50, cv.randn(16, 3, 227, 227) * 50
  step(net, x1)
  local t1 = median(function() step(net, x1) end, runs)
  step(net, x16)
  local t16 = median(function() step(net, x16) end, math.max(3, runs // 2))
  -- per_sample_norms runs its own forward (of the net's last input) and backward
  net:forward(x16)
  local function norms()
    zero_grads(net)
    net:per_sample_norms({"fc8", class = CLASS})
  end
  norms()
  local tn = median(norms, math.max(3, runs // 2))
  zero_grads(net)
  net = nil
  collectgarbage()
  local p = peer()

  print(string.format("CaffeNet forward + backward of one fc8 neuron, 227x227, random weights, "
    .. "%d threads, medians of %d runs (one run; 2 shared cores: times are noisy)", threads, runs))
  print(string.format("%-30s %12s %12s %10s  %s", "", "cnnvis", "pytorch", "peer/ours", "target"))
  local function row(name, ours, theirs, target)
    print(string.format("%-30s %9.1f ms %9.1f ms %9.2fx  %s", name, ours * 1e3, theirs * 1e3,
      theirs / ours, target))
  end
  row("fwd+bwd batch 1", t1, p.batch1 or 0 / 0, ">= 2.0 (goal 3.5)")
  row("fwd+bwd batch 16", t16, p.batch16 or 0 / 0, ">= 1.0 (goal 1.5)")
  print(string.format("%-30s %9.1f ms %9.1f ms %9.2fx  %s", "per_sample_norms 16 vs fwd+bwd 16",
    tn * 1e3, t16 * 1e3, tn / t16, "ours/batched <= 2.0"))
end

main()
