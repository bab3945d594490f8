--- Test accuracy, per-class error rates and the confusion matrix of a
-- classifier over a data set (default: the shipped model on the 10,000
-- Fashion-MNIST test images).
--   build/bin/cnnvis scripts/evaluate.lua [--prototxt F --caffemodel F] [--images DIR] ...
-- Writes DIR/evaluate.json: {accuracy, total, correct, error_rate, counts,
-- confusion, classes} (rates in percent; error_rate and counts in class
-- order, confusion[true + 1][predicted + 1]). --shard i/n, `cnnvis merge`
-- and mpirun give the same file as one process.
local cv = require "cnnvis"

require("cnnvis.script").run {
  name = "evaluate",
  summary = "accuracy, per-class error rates and confusion matrix over a data set",
  main = function(ctx)
    local src = ctx:inputs()
    local r = cv.evaluate(ctx.net, src.set, {
      batch = ctx.opts.batch,
      sweep = function(set, settings, fn) return ctx:sweep(set, {batch = settings.batch}, fn) end,
    })
    local classes = {}
    for c = 1, #r.error_rate do classes[c] = ctx:class_name(c - 1) end
    ctx:save_json{accuracy = r.accuracy, total = r.total, correct = r.correct,
                  error_rate = r.error_rate, counts = r.counts, confusion = r.confusion,
                  classes = classes}
    ctx:say("%s on %s: accuracy %.2f%% (%d images)", ctx.opts.caffemodel, src.source,
      r.accuracy, r.total)
    ctx:say("\nper-class error rate (misclassified images of the class / images of the class)")
    for c, name in ipairs(classes) do
      ctx:say("  %d  %-12s %6.2f%%", c - 1, name, r.error_rate[c])
    end
    ctx:say("\nconfusion matrix (rows: true class, columns: predicted class)")
    local header = {"      "}
    for c = 1, #classes do header[#header + 1] = string.format("%5d", c - 1) end
    ctx:say("%s", table.concat(header))
    for t, name in ipairs(classes) do
      local row = {string.format("%-3d%-3s", t - 1, name:sub(1, 2))}
      for c = 1, #classes do row[#row + 1] = string.format("%5d", r.confusion[t][c]) end
      ctx:say("%s", table.concat(row))
    end
  end,
}
