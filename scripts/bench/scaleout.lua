--- Scale-out: the class-importance pass (cnnvis.importance, through
-- cnnvis.shards.run; scripts/bench/scaleout_pass.lua) over the 1,000 test
-- images of class 6 (Shirt) of the shipped model, run as
--   1 process at 1 thread, `mpirun -np 2` at 1 thread per rank, and
--   1 process at 2 threads,
-- in turns (ROUNDS of each). The speed-ups are of the pass itself (rank 0's
-- clock around it, the gather of the partials included) and, beside them,
-- of whole runs timed from outside (process and mpirun start, data and
-- model loading included). The MPI run must write the bytes the single
-- process writes. Then the same pass on CaffeNet (random weights, 227x227,
-- batch 16: forward + net:per_sample_norms) at 1 and 2 threads, in seconds
-- per image, and what that makes of ImageNet's 1,300 images per class and
-- 1.28 M images on N nodes of C cores.
--   build/bin/cnnvis scripts/bench/scaleout.lua [rounds]
local cv = require "cnnvis"
local bench = require "scripts.bench.support"

local ROUNDS = math.tointeger(tonumber(arg and arg[1] or "")) or 3
local BIN = os.getenv("CNNVIS_BIN") or "build/bin/cnnvis"
local PASS = "scripts/bench/scaleout_pass.lua"
local MPIRUN = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun " ..
  "--oversubscribe --bind-to core -x OMP_NUM_THREADS=1 -np 2 "

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp))

local CONFIGS = {
  {name = "1x1", front = "OMP_NUM_THREADS=1 "},
  {name = "mpi2x1", front = MPIRUN},
  {name = "1x2", front = "OMP_NUM_THREADS=2 "},
}

-- Runs the pass under front, writing file; its wall time, the pass's own
-- seconds and the number of images.
local function run(front, file)
  local cmd = front .. BIN .. " " .. PASS .. " " .. file
  local t0 = cv.clock()
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  local wall = cv.clock() - t0
  local seconds, images = out:match("seconds (%S+)"), out:match("images (%d+)")
  if not ok or not seconds then error("scaleout bench: " .. cmd .. " failed:\n" .. out, 0) end
  return wall, tonumber(seconds), tonumber(images), tonumber(out:match("cpu (%S+)"))
end

local wall, pass, cpu, images = {}, {}, {}, 0
for _, c in ipairs(CONFIGS) do wall[c.name], pass[c.name], cpu[c.name] = {}, {}, {} end
for r = 1, ROUNDS do
  for _, c in ipairs(CONFIGS) do
    local w, s, n, u = run(c.front, tmp .. "/" .. c.name .. r .. ".json")
    table.insert(wall[c.name], w)
    table.insert(pass[c.name], s)
    table.insert(cpu[c.name], u)
    images = n
  end
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local same = true
for r = 1, ROUNDS do
  same = same and slurp(tmp .. "/1x11.json") == slurp(tmp .. "/mpi2x1" .. r .. ".json")
end
os.execute("rm -rf " .. tmp)

local function m(t, name) return bench.median(t[name]) end
local function row(name, mine, peer, goal)
  print(string.format("%-34s %12s %12s %8s  %s", name, string.format("%9.2f s", mine),
    string.format("%9.2f s", peer), string.format("%8.2f", peer / mine), goal))
end
row(string.format("importance %d img mpirun -np 2x1t", images), m(pass, "mpi2x1"), m(pass, "1x1"),
  ">= 1.8 vs 1 process at 1 thread")
row(string.format("importance %d img 1 process 2t", images), m(pass, "1x2"), m(pass, "1x1"),
  "(beside it)")
print(string.format("  whole runs (start, loading, mpirun included): 1x1 %.2f s, mpirun 2x1 %.2f s "
  .. "(%.2fx), 1x2 %.2f s (%.2fx); mpirun wrote the bytes of 1 process: %s",
  m(wall, "1x1"), m(wall, "mpi2x1"), m(wall, "1x1") / m(wall, "mpi2x1"), m(wall, "1x2"),
  m(wall, "1x1") / m(wall, "1x2"), same and "yes" or "NO"))
print(string.format("  shipped model: %.2f ms per image for the pass at 1 thread (%.2f ms of CPU); "
  .. "CPU time of the pass: rank 0 of mpirun %.2f s (%.2fx less than 1 process), 1x2 %.2f s",
  1e3 * m(pass, "1x1") / images, 1e3 * m(cpu, "1x1") / images, m(cpu, "mpi2x1"),
  m(cpu, "1x1") / m(cpu, "mpi2x1"), m(cpu, "1x2")))
if not same then error("scaleout bench: mpirun wrote other bytes than one process", 0) end

-- The class-importance pass of one batch of CaffeNet, seconds per image.
local PROTO = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local function caffenet_pass(threads)
  cv.set_num_threads(threads)
  local net = bench.random_net(PROTO)
  cv.manual_seed(2)
  local x = cv.randn(16, 3, 227, 227) * 50
  local function pass()
    for _, p in pairs(net.params) do
      p.weight:zero_grad()
      p.bias:zero_grad()
    end
    net:forward(x)
    net:per_sample_norms({"fc8", class = 281})
  end
  pass()
  local c0 = os.clock()
  local t = bench.time(pass, 3) / 16
  local c = (os.clock() - c0) / 3 / 16
  net = nil
  collectgarbage()
  cv.free_cached_memory()
  return t, c
end
local c1, u1 = caffenet_pass(1)
local c2 = caffenet_pass(2)
print(string.format("  CaffeNet class-importance pass (fwd + per-image norms, batch 16): %.1f ms per "
  .. "image at 1 thread (%.1f ms of CPU), %.1f ms at 2 (%.2fx)", 1e3 * c1, 1e3 * u1, 1e3 * c2, c1 / c2))
print(string.format("  ImageNet at 1 thread's rate on N nodes of C cores: 1,300 images of a class "
  .. "%.0f s / (N C), all 1.28 M images %.1f h / (N C)", 1300 * c1, 1.28e6 * c1 / 3600))
