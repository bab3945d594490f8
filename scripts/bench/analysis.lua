--- PCA and k-means (engine/analysis/) beside NumPy doing the same work
-- (scripts/bench/analysis_numpy.py): a CaffeNet conv1 slice (the 96 x 55
-- rows that scripts/reorder.lua clusters: column 15 of every map, CaffeNet
-- with random weights on the shared cat picture) and a 10,000 x 256 normal
-- matrix. PCA: covariance, every eigenvalue, projection on 10 components.
-- k-means: k = 10, one restart, to convergence; iterations differ with the
-- seeding, so the time per Lloyd iteration is compared too.
-- Usage: cnnvis scripts/bench/analysis.lua [threads] [reps]
local cv = require "cnnvis"
local bench = require "scripts.bench.support"

local threads = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_THREADS"))
local reps = tonumber(arg and arg[2]) or 5
if threads then cv.set_num_threads(threads) end
local PROTO = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local CAT = "../shared/fixtures/images/cat.jpg"

local function conv1_slice()
  local net = bench.random_net(PROTO)
  local x = cv.image.load(CAT):caffe_input(net)
  cv.no_grad(function() net:forward(x) end)
  return net.blobs.conv1[1][{{}, {}, 15}]:contiguous() -- 96 x 55
end

local function row(name, mine, theirs)
  print(string.format("%-34s %9.2f ms %9.2f ms %8.2f", name, mine * 1e3, theirs * 1e3,
    theirs / mine))
end

cv.manual_seed(1)
local cases = {{"conv1 slice 96x55", conv1_slice()}, {"matrix 10000x256", cv.randn(10000, 256)}}
local peer_env = threads and ("OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d "):format(threads, threads) or ""
for _, c in ipairs(cases) do
  local name, x = c[1], c[2]
  local path = os.tmpname() .. ".npy"
  x:save_npy(path)
  local t_pca = bench.time(function() cv.pca(x, {k = 10}) end, reps)
  local km
  local t_km = bench.time(function() km = cv.kmeans(x, 10, {restarts = 1}) end, reps)
  local p = assert(io.popen(peer_env .. "/usr/bin/python3 scripts/bench/analysis_numpy.py " ..
    path .. " 10 " .. reps))
  local theirs = {}
  for line in p:lines() do
    local k, v = line:match("^(%S+)%s+(%S+)$")
    if k then theirs[k] = tonumber(v) end
  end
  p:close()
  os.remove(path)
  row("pca " .. name .. " (vs eigh)", t_pca, theirs.pca_s)
  row("kmeans " .. name, t_km, theirs.kmeans_s)
  row(string.format("  per iteration (%d vs %d iters)", km.iterations, theirs.kmeans_iters),
    t_km / km.iterations, theirs.kmeans_s / theirs.kmeans_iters)
end
print("(medians of " .. reps .. " runs; ratio = NumPy / cnnvis, above 1: cnnvis faster)")
