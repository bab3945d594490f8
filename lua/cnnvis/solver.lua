--- Caffe's SGD solver: learning-rate policies, per-blob lr_mult and
-- decay_mult, momentum and L2 weight decay, applied as Caffe's SGDSolver:
--   V = momentum * V + lr * lr_mult * (grad + weight_decay * decay_mult * W)
--   W = W - V
--
--   local sp = solver.read("solver.prototxt")
--   local s = solver.new(net, sp, cv.caffe.read_net_def(sp.net, "TRAIN"))
--   for iter = 0, sp.max_iter - 1 do
--     s:zero_grad()
--     net:forward(batch).loss:backward()
--     s:update(iter)
--   end
local core = require "cnnvis.core"

local M = {}

-- caffe.proto's defaults for the fields the solver reads.
local DEFAULTS = {
  lr_policy = "fixed", momentum = 0, weight_decay = 0, gamma = 0, power = 0,
  stepsize = 0, test_interval = 0, display = 0, snapshot = 0, max_iter = 0,
  random_seed = -1, test_initialization = true, snapshot_after_train = true,
  regularization_type = "L2", type = "SGD", clip_gradients = -1, iter_size = 1,
  average_loss = 1,
}

--- Reads a solver.prototxt into a table with Caffe's defaults filled in.
function M.read(path)
  local sp = core.caffe.read_text(path, "SolverParameter")
  for k, v in pairs(DEFAULTS) do
    if sp[k] == nil then sp[k] = v end
  end
  sp.stepvalue, sp.test_iter = sp.stepvalue or {}, sp.test_iter or {}
  if not sp.base_lr then error(path .. ": the solver gives no base_lr", 2) end
  if sp.type ~= "SGD" or (sp.solver_type and sp.solver_type ~= "SGD") then
    error(path .. ": only the SGD solver is supported (type: " ..
      tostring(sp.solver_type or sp.type) .. ")", 2)
  end
  if sp.regularization_type ~= "L2" then
    error(path .. ": only L2 regularization is supported", 2)
  end
  return sp
end

-- Caffe's SGDSolver::GetLearningRate, one policy each.
local POLICIES = {
  fixed = function(sp) return sp.base_lr end,
  step = function(sp, iter)
    return sp.base_lr * sp.gamma ^ (iter // sp.stepsize)
  end,
  exp = function(sp, iter) return sp.base_lr * sp.gamma ^ iter end,
  inv = function(sp, iter)
    return sp.base_lr * (1 + sp.gamma * iter) ^ (-sp.power)
  end,
  multistep = function(sp, iter)
    local step = 0
    while step < #sp.stepvalue and iter >= sp.stepvalue[step + 1] do step = step + 1 end
    return sp.base_lr * sp.gamma ^ step
  end,
  poly = function(sp, iter)
    return sp.base_lr * (1 - iter / sp.max_iter) ^ sp.power
  end,
  sigmoid = function(sp, iter)
    return sp.base_lr / (1 + math.exp(-sp.gamma * (iter - sp.stepsize)))
  end,
}

--- The learning rate at iteration iter (0-based, as Caffe counts).
function M.learning_rate(sp, iter)
  local policy = POLICIES[sp.lr_policy]
  if not policy then
    error("solver: unknown lr_policy '" .. tostring(sp.lr_policy) ..
      "' (fixed, step, exp, inv, multistep, poly, sigmoid)", 2)
  end
  if sp.lr_policy == "step" and sp.stepsize <= 0 then
    error("solver: lr_policy step needs a positive stepsize", 2)
  end
  return policy(sp, iter)
end

local Solver = {}
Solver.__index = Solver

-- lr_mult / decay_mult of each parameter blob, from the layer's param { }.
local function multipliers(net_def)
  local mult = {}
  for _, l in ipairs(net_def and net_def.layer or {}) do
    local specs = {}
    for k, p in ipairs(l.param or {}) do
      specs[k] = {lr = p.lr_mult or 1, decay = p.decay_mult or 1}
    end
    mult[l.name] = specs
  end
  return mult
end

--- A solver for net's parameters. net_def (a read_net_def table, optional)
-- gives the layers' param { lr_mult decay_mult }; both default to 1.
function M.new(net, sp, net_def)
  local mult = multipliers(net_def)
  local blobs = {}
  for _, l in ipairs(net.layers) do
    for k, w in ipairs(l.params) do
      local m = (mult[l.name] or {})[k] or {lr = 1, decay = 1}
      blobs[#blobs + 1] = {layer = l.name, index = k, weight = w,
                           history = core.zeros(w:size()),
                           lr_mult = m.lr, decay_mult = m.decay}
    end
  end
  return setmetatable({net = net, param = sp, blobs = blobs, iter = 0}, Solver)
end

--- Clears every parameter's gradient (they accumulate across backward calls).
function Solver:zero_grad()
  for _, b in ipairs(self.blobs) do b.weight:zero_grad() end
end

--- Applies one update with the rate of iteration iter (default self.iter),
-- then advances self.iter. Returns the rate used.
function Solver:update(iter)
  iter = iter or self.iter
  local sp = self.param
  local rate = M.learning_rate(sp, iter)
  for _, b in ipairs(self.blobs) do
    if b.lr_mult ~= 0 then
      core.sgd_update_(b.weight, b.history, b.weight.grad, rate * b.lr_mult,
        sp.momentum, sp.weight_decay * b.decay_mult)
    end
  end
  self.iter = iter + 1
  return rate
end

--- Writes the momentum history and the iteration as a caffemodel-format
-- file: one layer per parameter layer, plus a layer "iter".
function Solver:save_state(path)
  local layers, by_layer = {}, {}
  for _, b in ipairs(self.blobs) do
    if not by_layer[b.layer] then
      by_layer[b.layer] = {name = b.layer, type = "History", blobs = {}}
      layers[#layers + 1] = by_layer[b.layer]
    end
    by_layer[b.layer].blobs[b.index] = b.history
  end
  layers[#layers + 1] = {name = "iter", type = "Iteration", blobs = {core.tensor{self.iter}}}
  core.caffe.write_weights(path, layers)
end

--- Reads a state written by save_state: history and iteration.
function Solver:load_state(path)
  local by_name = {}
  for _, l in ipairs(core.caffe.read_weights(path)) do by_name[l.name] = l end
  if not by_name.iter then error(path .. ": not a solver state (no layer 'iter')", 2) end
  for _, b in ipairs(self.blobs) do
    local l = by_name[b.layer]
    local h = l and l.blobs[b.index]
    if not h or h:numel() ~= b.history:numel() then
      error(string.format("%s: no history of the right size for layer '%s' blob %d",
        path, b.layer, b.index), 2)
    end
    b.history:copy_(h:view(b.history:size()))
  end
  self.iter = math.tointeger(by_name.iter.blobs[1][1]:item())
end

return M
