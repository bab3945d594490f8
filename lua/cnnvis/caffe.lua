--- Caffe's files: nets, weights and means. The readers and writers of
-- `cnnvis.core` plus `load` / `save` of whole nets.
local core = require "cnnvis.core"
local net = require "cnnvis.net"

local M = {}
for k, v in pairs(core.caffe or {}) do M[k] = v end

--- A net from a prototxt and (optionally) its caffemodel. Without weights,
-- parameters come from the definition's fillers (seeded: cv.manual_seed).
-- opts.phase: "test" (default) or "train".
function M.load(prototxt, caffemodel, opts)
  return net.wrap(core.net_load(prototxt, caffemodel, opts and opts.phase))
end

M.classify = require("cnnvis.transform").classify

--- Writes a net's weights as a V2 caffemodel.
function M.save(n, path)
  n:save(path)
end

return M
