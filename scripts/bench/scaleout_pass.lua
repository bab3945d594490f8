--- One class-importance pass (cnnvis.importance over the test images of a
-- class of the shipped model), alone or as a rank of mpirun, through
-- cnnvis.shards.run: prints "seconds S" and "cpu S" (the pass only, wall and
-- process CPU time, on rank 0; an MPI rank's CPU time counts its wait in the
-- gather, which Open MPI spends polling), "images N", and
-- writes the result as JSON to the given file (rank 0).
--   cnnvis scripts/bench/scaleout_pass.lua out.json [class [limit]]
local cv = require "cnnvis"
local importance = require "cnnvis.importance"
local shards = require "cnnvis.shards"

local out = assert(arg[1], "give the JSON file to write")
local class = math.tointeger(tonumber(arg[2] or "")) or 6
local limit = math.tointeger(tonumber(arg[3] or "")) or 1000

local net = cv.caffe.load("examples/models/fashion_caffenet.prototxt",
  "examples/models/fashion_caffenet.caffemodel")
local set = cv.data.fashion_mnist("test")
local positions = {}
for i = 1, #set do
  if set:label(i) == class and #positions < limit then positions[#positions + 1] = i end
end
set = set:subset(positions)

local rank = shards.mpi_world() or 0
local t0, c0 = cv.clock(), os.clock()
local r = importance.importance(net, set, {class = class, batch = 50, sweep = shards.run})
local seconds, cpu = cv.clock() - t0, os.clock() - c0
if rank == 0 then
  cv.files.write(out, cv.json.encode(r) .. "\n")
  print(string.format("seconds %.6f", seconds))
  print(string.format("cpu %.6f", cpu))
  print(string.format("images %d", r.images))
end
