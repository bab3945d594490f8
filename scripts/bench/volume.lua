--- The ray caster (core.render.raycast) on a CaffeNet conv1 volume: the
-- 96 x 55 x 55 output of CaffeNet with random weights on the shared cat
-- picture, a turntable of 12 frames of 512 x 512, compositing and MIP; wall
-- time and process CPU time (the second is the kernels' own cost on a busy
-- machine). There is no peer: the goal is the issue's, 12 frames well under
-- a second on 2 cores.
-- Usage: cnnvis scripts/bench/volume.lua [threads] [reps]
local cv = require "cnnvis"
local bench = require "scripts.bench.support"

local threads = tonumber(arg and arg[1]) or tonumber(os.getenv("BENCH_THREADS"))
local reps = tonumber(arg and arg[2]) or 3
if threads then cv.set_num_threads(threads) end

local net = bench.random_net("../shared/fixtures/caffe/caffenet_deploy.prototxt")
local x = cv.image.load("../shared/fixtures/images/cat.jpg"):caffe_input(net)
cv.no_grad(function() net:forward(x) end)
local vol = net.blobs.conv1[1]:contiguous() -- 96 x 55 x 55
local hi = vol:max():item()

for _, mode in ipairs{"composite", "mip"} do
  local walls, cpus = {}, {}
  for _ = 1, reps do
    local c0, w0 = os.clock(), cv.clock()
    for f = 0, 11 do
      cv.render.raycast(vol, {mode = mode, azimuth = f * 30, elevation = 20,
                              width = 512, height = 512, range = {0, hi}})
    end
    walls[#walls + 1], cpus[#cpus + 1] = cv.clock() - w0, os.clock() - c0
  end
  print(string.format("%-34s %9.0f ms %9.0f ms CPU %7.1f ms/frame  goal < 1000 ms",
    "conv1 96x55x55, 12 x 512^2 " .. mode, bench.median(walls) * 1e3,
    bench.median(cpus) * 1e3, bench.median(walls) / 12 * 1e3))
end
print(string.format("(medians of %d turntables, %s threads)", reps, tostring(threads or "all")))
