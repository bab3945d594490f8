--- How well a net classifies a data set: the confusion counts, the
-- accuracy and each class's error rate, from one pass without the tape.
--
--   local r = cv.evaluate(net, set, {batch = 100})
--   r.accuracy              --> 92.35   (percent)
--   r.error_rate[6 + 1]     --> 24.6    (class 6: misclassified / images of the class, %)
--   r.confusion[t + 1][p + 1]  -- images of class t taken for class p
--
-- The pass is a cv.sweep, so opts.shard and merged partials give the same
-- numbers as one process.
local core = require "cnnvis.core"
local sweep = require "cnnvis.sweep"

local M = {}

--- The blob a net's answer is read from: its last output.
function M.answer_blob(net)
  return net.outputs[#net.outputs]
end

--- The value of one batch: {images =, correct =, confusion = k x k counts}.
function M.batch_value(net, batch, blob)
  local scores = net:forward(batch.images)[blob]
  if not scores then error("evaluate: the net has no output blob '" .. tostring(blob) .. "'", 0) end
  scores = scores:reshape(batch.images:size(1), -1)
  local k = scores:size(2)
  local predicted, labels = scores:argmax(2):totable(), batch.labels:totable()
  local confusion, correct = {}, 0
  for t = 1, k do
    confusion[t] = {}
    for p = 1, k do confusion[t][p] = 0 end
  end
  for i, p in ipairs(predicted) do
    local t = math.tointeger(labels[i])
    if t < 0 or t >= k then
      error(string.format("evaluate: image %d has label %d, the blob '%s' only %d classes",
        batch.positions[i], t, blob, k), 0)
    end
    confusion[t + 1][p] = confusion[t + 1][p] + 1
    if t + 1 == p then correct = correct + 1 end
  end
  return {images = #predicted, correct = correct, confusion = confusion}
end

--- The figures of a folded pass (or of the sum of batch values).
function M.summarize(total)
  if not total then
    return {total = 0, correct = 0, accuracy = 0 / 0, confusion = {}, error_rate = {}, counts = {}}
  end
  local error_rate, counts = {}, {}
  for t, row in ipairs(total.confusion) do
    local n = 0
    for _, v in ipairs(row) do n = n + v end
    counts[t] = n
    error_rate[t] = n > 0 and 100 * (n - row[t]) / n or 0 / 0
  end
  return {total = total.images, correct = total.correct,
          accuracy = total.images > 0 and 100 * total.correct / total.images or 0 / 0,
          confusion = total.confusion, error_rate = error_rate, counts = counts}
end

--- Classifies every image of set with net. opts: batch (default 100),
-- blob (default: the net's last output), shard, key and progress as
-- cv.sweep.map takes them, sweep (a function(set, opts, fn) standing in
-- for cv.sweep.run: a script's sharded or MPI sweep). Returns {accuracy,
-- total, correct, confusion, error_rate (per class, %, NaN for a class
-- without images), counts (images per class)}.
function M.evaluate(net, set, opts)
  opts = opts or {}
  local blob = opts.blob or M.answer_blob(net)
  local run = opts.sweep or sweep.run
  local total = core.no_grad(function()
    return run(set, {batch = opts.batch or 100, shard = opts.shard, key = opts.key,
                     progress = opts.progress},
      function(batch) return M.batch_value(net, batch, blob) end)
  end)
  return M.summarize(total)
end

return M
