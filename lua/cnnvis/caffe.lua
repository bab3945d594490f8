--- Caffe's files: nets, weights and means. The readers and writers of
-- `cnnvis.core` plus `load` / `save` of whole nets.
local core = require "cnnvis.core"
local net = require "cnnvis.net"

local M = {}
for k, v in pairs(core.caffe or {}) do M[k] = v end

--- A net from a prototxt and (optionally) its caffemodel. Without weights,
-- parameters come from the definition's fillers (seeded: cv.manual_seed).
-- Layers of the caffemodel that the definition does not name are ignored
-- (a training snapshot's data, split, loss and accuracy layers); one that
-- holds weights, and a layer of the definition that gets none, are told in
-- `net.warnings` (a list of sentences, empty when the two agree), or refused
-- with `{strict = true}`. opts.phase: "test" (default) or "train".
function M.load(prototxt, caffemodel, opts)
  opts = opts or {}
  local n = net.wrap(core.net_load(prototxt, caffemodel, opts.phase, opts.strict))
  return n
end

M.classify = require("cnnvis.transform").classify

--- Writes a net's weights as a V2 caffemodel.
function M.save(n, path)
  n:save(path)
end

return M
