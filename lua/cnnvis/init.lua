--- cnnvis: look inside convolutional networks from Lua.
-- `local cv = require "cnnvis"` gives the C core's functions (tensors, files,
-- nets) together with the Lua library's parts.
local core = require "cnnvis.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

M.format = require "cnnvis.format"
M.caffe = require "cnnvis.caffe"
local gradcheck = require "cnnvis.gradcheck"
M.gradcheck = gradcheck.gradcheck
M.validate_weight_gradient = gradcheck.validate_weight_gradient
M.gradients = require "cnnvis.gradients"
M.image = require "cnnvis.image"
M.transform = require "cnnvis.transform"
M.data = require "cnnvis.data"
M.vis = require "cnnvis.vis"
M.plot = require "cnnvis.plot"
M.report = require "cnnvis.report"
M.activations = require "cnnvis.activations"
M.volume = require "cnnvis.volume"
M.reorder = require "cnnvis.reorder"
M.json = require "cnnvis.json"
M.files = require "cnnvis.files"
M.progress = require "cnnvis.progress"
M.sweep = require "cnnvis.sweep"
M.shards = require "cnnvis.shards"
M.inputs = require "cnnvis.inputs"
M.evaluate = require("cnnvis.evaluate").evaluate
getmetatable(core.zeros(0)).__tostring = M.format.tensor

-- t:size() (all dims) gives a size object: a plain list that prints as one.
local methods = core.tensor_methods()
local size = methods.size
methods.size = function(t, dim)
  if dim ~= nil then return size(t, dim) end
  return setmetatable(size(t), M.format.Size)
end

return M
