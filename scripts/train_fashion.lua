--- Trains the shipped default model from scratch and installs it:
--   build/bin/cnnvis scripts/train_fashion.lua [solver.prototxt]
-- Runs the solver (examples/models/fashion_caffenet_solver.prototxt: seeded,
-- so the same run gives the same model), copies the final weights to
-- examples/models/fashion_caffenet.caffemodel and prints the test accuracy
-- of the deploy net with them (scripts/evaluate.lua prints the details).
local cv = require "cnnvis"
local train = require "cnnvis.train"

io.stdout:setvbuf("line") -- a log file shows each line as it comes

local solver = arg and arg[1] or "examples/models/fashion_caffenet_solver.prototxt"
local deploy = "examples/models/fashion_caffenet.prototxt"
local target = "examples/models/fashion_caffenet.caffemodel"

local result = train.run(solver)
print(string.format("trained %d iterations in %.1f minutes", result.iter, result.seconds / 60))

-- The deploy net takes the trained weights by layer name; saving it keeps
-- only the layers it has.
local net = cv.caffe.load(deploy, result.snapshot)
cv.caffe.save(net, target)
local r = train.evaluate(net, cv.data.fashion_mnist("test"))
print(string.format("%s: test accuracy %.2f%%", target, 100 * r.accuracy))
