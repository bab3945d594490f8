--- Test accuracy, per-class error rates and the confusion matrix of a
-- Fashion-MNIST model on the 10,000 test images.
--   build/bin/cnnvis scripts/evaluate.lua [deploy.prototxt model.caffemodel]
-- Defaults to the shipped model in examples/models/.
local cv = require "cnnvis"
local train = require "cnnvis.train"

local prototxt = arg and arg[1] or "examples/models/fashion_caffenet.prototxt"
local weights = arg and arg[2] or "examples/models/fashion_caffenet.caffemodel"
local net = cv.caffe.load(prototxt, weights)
local set = cv.data.fashion_mnist("test")
local r = train.evaluate(net, set)

print(string.format("%s on %s: test accuracy %.2f%% (%d images)", weights, set.name,
  100 * r.accuracy, r.total))
print("\nper-class error rate (misclassified images of the class / images of the class)")
for c, name in ipairs(set.classes) do
  print(string.format("  %d  %-12s %6.2f%%", c - 1, name, 100 * r.error_rate[c]))
end
print("\nconfusion matrix (rows: true class, columns: predicted class)")
local header = {"      "}
for c = 1, #set.classes do header[#header + 1] = string.format("%5d", c - 1) end
print(table.concat(header))
for t, name in ipairs(set.classes) do
  local row = {string.format("%-3d%-3s", t - 1, name:sub(1, 2))}
  for c = 1, #set.classes do row[#row + 1] = string.format("%5d", r.confusion[t][c]) end
  print(table.concat(row))
end
