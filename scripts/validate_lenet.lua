--- The report's equation 1 on LeNet (fixture weights): for each layer and two
-- ip2 classes, cv.validate_weight_gradient perturbs `count` weights one at a
-- time and compares Δneuron/Δweight with backward's gradient. Prints, per
-- layer, how many rows were judged, tiny or at a kink, and the worst relative
-- error of the judged ones (the rule is in lua/cnnvis/gradcheck.lua).
-- Usage (repository root): cnnvis scripts/validate_lenet.lua [count]
local cv = require "cnnvis"

local FIX = "../shared/fixtures/caffe/"
local count = tonumber(arg[1]) or 200

local net = cv.caffe.load(FIX .. "lenet.prototxt", FIX .. "lenet_iter_10000.caffemodel")
local x = cv.zeros(1, 1, 28, 28)
x[{1, 1, {5, 24}, {14, 16}}] = 1  -- a vertical stroke, a hand-drawn "1"
net:forward(x)
for _, class in ipairs{1, 7} do
  for _, layer in ipairs{"conv1", "conv2", "ip1", "ip2"} do
    local rows, s = cv.validate_weight_gradient(net, {"ip2", class = class}, layer,
                                                {count = count})
    local tiny, kink = 0, 0
    for _, r in ipairs(rows) do
      if r.kink then kink = kink + 1 elseif r.tiny then tiny = tiny + 1 end
    end
    print(string.format("class %d  %-5s rows %d  judged %3d  tiny %3d  kink %d  "
      .. "worst rel. error %.2e  (eps %.3g, tiny below %.3g)", class, layer, #rows,
      s.judged, tiny, kink, s.max_rel_error, s.eps, s.tiny_bound))
  end
end
