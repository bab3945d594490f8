--- CaffeNet backward: cnnvis beside PyTorch (scripts/bench/caffenet_backward_torch.py).
-- Usage: cnnvis scripts/bench/caffenet_backward.lua [threads [runs [rounds]]]
-- Random weights (seeded), 227x227, the same thread count. Each run is a
-- forward recording the tape and the backward of one fc8 neuron (class 281,
-- summed over the batch) to every weight and bias; gradients are dropped
-- before each run in both (zero_grad / set_to_none), so each run writes
-- them afresh. The two sides take turns, `rounds` times (default 2), so that
-- a slow spell of a shared machine falls on both; the table gives the
-- medians (and the fastest runs) of all their runs at batch 1 and 16, the
-- peer's ratio, and net:per_sample_norms for 16 images beside one batched
-- backward of 16.
local cv = require "cnnvis"

local PROTO = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local PEER = "scripts/bench/caffenet_backward_torch.py"
local CLASS = 281
local threads = tonumber(arg[1]) or tonumber(os.getenv("BENCH_THREADS") or "") or 2
local runs = tonumber(arg[2]) or 7
local rounds = tonumber(arg[3]) or 2

local bench = require "scripts.bench.support"

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

local function main()
  cv.set_num_threads(threads)
  local net = bench.random_net(PROTO)
  cv.manual_seed(2)
  local x1, x16 = cv.randn(1, 3, 227, 227) * 50, cv.randn(16, 3, 227, 227) * 50
  local function norms()
    zero_grads(net)
    net:per_sample_norms({"fc8", class = CLASS})
  end
  cv.nn.kernel_choices{reset = true}
  local choices
  local ours = {b1 = {}, b16 = {}, norms = {}}
  local theirs = {b1 = {}, b16 = {}}
  local n16 = runs
  for _ = 1, rounds do
    step(net, x1)
    bench.times(function() step(net, x1) end, runs, ours.b1)
    step(net, x16)
    bench.times(function() step(net, x16) end, n16, ours.b16)
    -- per_sample_norms runs its own backward of the net's last forward
    net:forward(x16)
    norms()
    bench.times(norms, n16, ours.norms)
    zero_grads(net)
    choices = choices or cv.nn.kernel_choices()
    cv.free_cached_memory() -- the peer's turn: give it the memory back
    collectgarbage()
    local p = bench.peer(PEER, threads, runs)
    for _, t in ipairs(p.batch1 or {}) do theirs.b1[#theirs.b1 + 1] = t end
    for _, t in ipairs(p.batch16 or {}) do theirs.b16[#theirs.b16 + 1] = t end
  end

  print(string.format("CaffeNet forward + backward of one fc8 neuron, 227x227, random weights, "
    .. "%d threads; medians (fastest) of %d rounds taken in turn with the peer", threads, rounds))
  print(string.format("%-30s %20s %20s %16s  %s", "", "cnnvis", "pytorch", "peer/ours", "target"))
  local function row(name, a, b, target)
    local ma, mb = bench.median(a), #b > 0 and bench.median(b) or 0 / 0
    local fa, fb = bench.min(a), #b > 0 and bench.min(b) or 0 / 0
    print(string.format("%-30s %8.1f (%6.1f) ms %8.1f (%6.1f) ms %7.2fx (%5.2fx)  %s", name,
      ma * 1e3, fa * 1e3, mb * 1e3, fb * 1e3, mb / ma, fb / fa, target))
  end
  row("fwd+bwd batch 1", ours.b1, theirs.b1, ">= 2.5 (goal 3.5)")
  row("fwd+bwd batch 16", ours.b16, theirs.b16, ">= 1.2 (goal 1.5)")
  local tn, t16 = bench.median(ours.norms), bench.median(ours.b16)
  print(string.format("%-30s %8.1f ms vs %.1f ms: %.2fx  %s", "per_sample_norms 16 vs fwd+bwd 16",
    tn * 1e3, t16 * 1e3, tn / t16, "ours/batched <= 2.0"))
  print(string.format("kernels chosen by fwd+bwd at batch 1 and 16 and per_sample_norms (%s, %d lanes):",
    choices.isa, choices.lanes))
  for _, c in ipairs(choices) do
    print(string.format("  %-26s %-40s %s", c.op, c.shape, c.kernel))
  end
end

main()
