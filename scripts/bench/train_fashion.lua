-- Training throughput of the default model (batch 64, SGD with momentum,
-- mirror) against PyTorch training the same net with the same threads
-- (train_fashion_torch.py). Prints rows of the table run.sh heads: the time
-- of one iteration on each side; a ratio is peer time / cnnvis time.
-- BENCH_TRAIN_ITERS (default 300) iterations a side, in 3 interleaved rounds
-- so that load from elsewhere on the machine hits both alike.
local cv = require "cnnvis"
local solver = require "cnnvis.solver"

local PROTOTXT = "examples/models/fashion_caffenet_train_val.prototxt"
local SOLVER = "examples/models/fashion_caffenet_solver.prototxt"
local threads = tonumber(os.getenv("BENCH_THREADS") or "") or 2
local iters = tonumber(os.getenv("BENCH_TRAIN_ITERS") or "") or 300
local rounds = 3
local per_round = math.max(1, iters // rounds)
cv.set_num_threads(threads)

local median = require("scripts.bench.support").median

-- cnnvis: the training loop of cnnvis.train, without tests and snapshots.
cv.manual_seed(1)
local net = cv.caffe.load(PROTOTXT, nil, {phase = "train"})
local s = solver.new(net, solver.read(SOLVER), cv.caffe.read_net_def(PROTOTXT, "TRAIN"))
local set = cv.data.fashion_mnist("train")
local epoch, batches = 0, nil
local function step()
  local b = batches and batches()
  if not b then
    batches = set:batches(64, {shuffle = 1, epoch = epoch, mirror = true, drop_last = true})
    epoch = epoch + 1
    b = batches()
  end
  s:zero_grad()
  net:forward({data = b.images, label = b.labels}).loss:backward()
  s:update()
  collectgarbage()
end

local function mine()
  local t0 = cv.clock()
  for _ = 1, per_round do step() end
  return (cv.clock() - t0) / per_round
end

local function theirs()
  local p = io.popen(string.format("/usr/bin/python3 scripts/bench/train_fashion_torch.py %d %d",
    per_round, threads))
  local out = p:read("a")
  p:close()
  return tonumber(out)
end

for _ = 1, 5 do step() end -- warm-up, as the peer does
local m, t, ratios = {}, {}, {}
for r = 1, rounds do
  t[r] = theirs()
  m[r] = mine()
  ratios[r] = t[r] and t[r] / m[r]
end
local mine_s, peer_s = median(m), t[1] and median(t)
local ratio = t[1] and median(ratios)
print(string.format("%-34s %12s %12s %8s  %s",
  string.format("train fashion_caffenet b64 %dt", threads),
  string.format("%9.2f ms", mine_s * 1e3),
  peer_s and string.format("%9.2f ms", peer_s * 1e3) or "n/a",
  ratio and string.format("%8.2f", ratio) or "n/a",
  string.format(">= 1.3 (%.0f vs %s img/s)", 64 / mine_s,
    peer_s and string.format("%.0f", 64 / peer_s) or "n/a")))
