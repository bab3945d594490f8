--- Filter importance and the oracle on the shipped model, beside PyTorch
-- (scripts/bench/importance_torch.py).
-- Usage: cnnvis scripts/bench/importance.lua [threads [rounds [oracle]]]
-- Importance: every conv/fc filter for class 6 (Shirt) over its 1,000 test
-- images -- cnnvis.importance (per_sample_norms, batches of 50) against
-- PyTorch's backward per image and functorch's vmap(grad) per-sample
-- gradients (batches of 50), the same threads, taking turns `rounds` times
-- (default 2); medians. Then the oracle of all 368 conv filters over the
-- same images, once (oracle = 0 skips it).
local cv = require "cnnvis"
local imp = require "cnnvis.importance"
local bench = require "scripts.bench.support"

local MODEL = "examples/models/fashion_caffenet"
local PEER = "scripts/bench/importance_torch.py"
local CLASS, BATCH = 6, 50
local threads = tonumber(arg[1]) or tonumber(os.getenv("BENCH_THREADS") or "") or 2
local rounds = tonumber(arg[2]) or 2
local with_oracle = (tonumber(arg[3]) or 1) ~= 0

local function main()
  cv.set_num_threads(threads)
  local net = cv.caffe.load(MODEL .. ".prototxt", MODEL .. ".caffemodel")
  local set = cv.data.fashion_mnist("test"):of_class(CLASS)
  -- What the peer reads: the weights and the class's images.
  local dir = os.tmpname()
  os.remove(dir)
  assert(require("lfs").mkdir(dir))
  for _, name in ipairs(imp.filter_layers(net)) do
    net.params[name].weight:contiguous():save_npy(dir .. "/" .. name .. "_w.npy")
    net.params[name].bias:contiguous():save_npy(dir .. "/" .. name .. "_b.npy")
  end
  local all = {}
  for i = 1, #set do all[i] = set[i].image end
  cv.stack(all, 1):save_npy(dir .. "/images.npy")

  local ours, loop, vmap, r = {}, {}, {}, nil
  local peer
  for _ = 1, rounds do
    local t0 = cv.clock()
    r = imp.importance(net, set, {class = CLASS, batch = BATCH})
    ours[#ours + 1] = cv.clock() - t0
    cv.free_cached_memory() -- the peer's turn: give it the memory back
    collectgarbage()
    peer = bench.peer(PEER, dir, CLASS, threads, BATCH, 1)
    if not (peer.loop and peer.vmap) then error("the peer " .. PEER .. " gave no times") end
    loop[#loop + 1], vmap[#vmap + 1] = peer.loop, peer.vmap
  end
  local check, filters = 0.0, 0
  for _, values in pairs(r.layers) do
    for _, v in ipairs(values) do check = check + v end
    filters = filters + #values
  end
  for _, name in ipairs(imp.filter_layers(net)) do
    os.remove(dir .. "/" .. name .. "_w.npy")
    os.remove(dir .. "/" .. name .. "_b.npy")
  end
  os.remove(dir .. "/images.npy")
  os.remove(dir)

  print(string.format("importance of every conv/fc filter (%d) for class %d over its %d test "
    .. "images, shipped model, %d threads; medians of %d rounds taken in turn with the peer",
    filters, CLASS, #set, threads, rounds))
  local mo = bench.median(ours)
  local function row(name, t, target)
    print(string.format("%-36s %8.2f s  %8.2f s  %6.2fx  %s", name, mo, t, t / mo, target))
  end
  print(string.format("%-36s %10s  %10s  %7s  %s", "", "cnnvis", "pytorch", "ratio", "target"))
  row("vs backward per image", bench.median(loop), ">= 5")
  row("vs functorch vmap(grad), batch 50", bench.median(vmap), ">= 1.5")
  print(string.format("%-36s sum of every value: cnnvis %.9g, loop %.9g, vmap %.9g "
    .. "(rel. diff %.1e)", "same numbers", check, peer.check_loop, peer.check_vmap,
    math.abs(check - peer.check_vmap) / math.abs(check)))

  if with_oracle then
    local cpu0 = os.clock()
    local t0 = cv.clock()
    local o = imp.oracle(net, set, {class = CLASS, batch = BATCH,
      layers = {"conv1", "conv2", "conv3", "conv4", "conv5"}})
    local t, cpu = cv.clock() - t0, os.clock() - cpu0
    local n = 0
    for _, l in pairs(o.layers) do n = n + #l.loss end
    print(string.format("%-36s %8.1f s (process CPU %.1f s)  %s",
      string.format("oracle of %d conv filters, %d images", n, o.images), t, cpu,
      "<= 120 s on 2 cores"))
  end
end

main()
