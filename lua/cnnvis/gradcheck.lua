--- Checking gradients against finite differences: the report's equation 1,
-- Gradient = Δ neuron activation / Δ filter weight, as library functions.
local core = require "cnnvis.core"

local M = {}

-- 1-based multi-index of flat position k (1-based) in a tensor of `size`.
local function unflatten(k, size)
  local idx, rest = {}, k - 1
  for d = #size, 1, -1 do
    idx[d] = rest % size[d] + 1
    rest = rest // size[d]
  end
  return idx
end

-- f(x + eps at k) and f(x - eps at k), x restored after.
local function central(flat, k, eps, eval)
  local v = flat[k]:item()
  flat[k] = v + eps
  local up = eval()
  flat[k] = v - eps
  local down = eval()
  flat[k] = v
  return (up - down) / (2 * eps)
end

-- The spacing of float32 numbers around x: what one rounding can change.
local function ulp(x)
  local m, e = math.frexp(math.abs(x))
  if m == 0 then return 2 ^ -149 end
  return 2 ^ (e - 24)
end

-- Δf/Δw at w, from the largest of h = eps, eps/2, eps/4, eps/8 on which
-- f is smooth around w: the one-sided slopes (f(w+h) - f(w))/h and
-- (f(w) - f(w-h))/h agree within 1%, and the central difference at h agrees
-- with the one at h/2 within 0.5% (each plus what float32 rounding of f can
-- make of them). The second test catches many small kinks within h (ReLUs
-- and pool winners switching all along [w-h, w+h]): they bend the central
-- difference while the one-sided slopes still agree. Returns the mean of
-- the central differences at h and h/2 (a kink between h/2 and h that the
-- tests let pass bends the first; float32 rounding of f, a few ulps in a
-- whole forward pass, bends the second twice as much as the first: the mean
-- halves the worse of the two), whether a smooth h was found, and the
-- rounding resolution ulp(f)/(h/2).
local function smooth_difference(flat, k, eps, eval)
  local v = flat[k]:item()
  local mid = eval()
  local steps = {}
  local function at(j)
    if not steps[j] then
      local h = eps / 2 ^ (j - 1)
      flat[k] = v + h
      local up = eval()
      flat[k] = v - h
      local down = eval()
      flat[k] = v
      steps[j] = {fwd = (up - mid) / h, bwd = (mid - down) / h, central = (up - down) / (2 * h),
                  resolution = ulp(mid) / h}
    end
    return steps[j]
  end
  for j = 1, 4 do
    local a = at(j)
    local slack = 1e-2 * math.max(math.abs(a.fwd), math.abs(a.bwd)) + 4 * a.resolution
    if math.abs(a.fwd - a.bwd) <= slack then
      local b = at(j + 1)
      local drift = 5e-3 * math.max(math.abs(a.central), math.abs(b.central)) + 4 * b.resolution
      if math.abs(a.central - b.central) <= drift then
        return (a.central + b.central) / 2, true, b.resolution
      end
    end
  end
  return at(5).central, false, at(5).resolution
end

local function scalar_of(y, who)
  if not core.is_tensor(y) or y:numel() ~= 1 then
    error(who .. ": the function must return a one-element tensor", 3)
  end
  return y
end

--- Compares the gradient backward gives with central differences for every
-- element of every input that requires a gradient.
-- f(inputs...) must return a one-element tensor; inputs are contiguous.
-- opts: eps (1e-3), rtol (1e-2), atol (1e-3): an element agrees when
-- |analytic - numeric| <= atol + rtol * |numeric|.
-- Returns ok, worst = {input =, index = {...}, analytic =, numeric =, error =}.
function M.gradcheck(f, inputs, opts)
  opts = opts or {}
  local eps, rtol, atol = opts.eps or 1e-3, opts.rtol or 1e-2, opts.atol or 1e-3
  for _, x in ipairs(inputs) do
    if x.requires_grad then x:zero_grad() end
  end
  scalar_of(f(table.unpack(inputs)), "gradcheck"):backward()
  local ok, worst = true, {error = -1}
  for i, x in ipairs(inputs) do
    if x.requires_grad then
      assert(x:is_contiguous(), "gradcheck: input " .. i .. " must be contiguous")
      local grad = x.grad and x.grad:view(-1) or core.zeros(x:numel())
      local flat = x:detach():view(-1)
      local eval = function() return f(table.unpack(inputs)):item() end
      core.no_grad(function()
        for k = 1, x:numel() do
          local numeric = central(flat, k, eps, eval)
          local analytic = grad[k]:item()
          local e = math.abs(analytic - numeric)
          if e > atol + rtol * math.abs(numeric) then ok = false end
          if e > worst.error then
            worst = {input = i, index = unflatten(k, x:size()), analytic = analytic,
                     numeric = numeric, error = e}
          end
        end
      end)
    end
  end
  return ok, worst
end

-- The neuron's value after a forward on the net's last input.
local function neuron_value(net, neuron)
  net:forward(net.last_input)
  return net:neuron(neuron[1] or neuron.blob, neuron):item()
end

--- Perturbs `count` weights of `layer` one at a time (a seeded sample),
-- measures Δneuron/Δweight on the net's last input by central differences,
-- and compares with the gradient backward gives. neuron = {blob, class = c
-- [, sample = i]}.
-- A net of ReLUs and max pools is piecewise smooth in each weight: where a
-- pool window changes its winner or a ReLU crosses zero, the slope jumps, and
-- a central difference across the jump averages two slopes. So each weight
-- is measured at eps, eps/2, eps/4 and eps/8 until the one-sided slopes on
-- both sides agree within 1% (no jump within ±h) and the central difference
-- holds within 0.5% when h is halved (no crowd of small jumps either); the
-- mean of the central differences at h and h/2 is the numeric value. Rules:
--  * kink: no step size is smooth (a jump sits at the weight itself, e.g. an
--    exact tie in a pool window); the row is reported, not judged;
--  * tiny: a gradient below `tiny` (5e-2) times the layer's largest
--    |gradient|, or below 128 times the rounding resolution of the
--    difference (ulp(neuron) / (h/2): a forward pass's rounding moves the
--    neuron by an ulp or so, which would cost such a gradient 1%), is
--    reported, not judged.
-- opts: count (10), eps (2e-2 times the layer's largest |weight|), seed (1),
-- tiny (5e-2), largest (0: the first `largest` of the count weights are
-- those of the largest |gradient|, the others a seeded sample of the rest,
-- so that a layer whose gradient is mostly zero, fc8's, is judged at all).
-- Returns a list of rows {index =, analytic =, numeric =,
-- rel_error =, tiny =, kink =} and a summary {max_rel_error =, judged =,
-- tiny_bound =, eps =}.
function M.validate_weight_gradient(net, neuron, layer, opts)
  opts = opts or {}
  local p = net.params[layer]
  if not p then error("validate_weight_gradient: the net has no parameters in layer '" .. tostring(layer) .. "'", 2) end
  if not net.last_input then error("validate_weight_gradient: run net:forward(x) first", 2) end
  local w = p.weight
  for _, q in pairs(net.params) do for _, t in ipairs(q) do t:zero_grad() end end
  net:forward(net.last_input)
  net:neuron(neuron[1] or neuron.blob, neuron):backward()
  local grad = w.grad:view(-1)
  local flat = w:detach():view(-1)
  local gmax, wmax = grad:abs():max():item(), w:detach():abs():max():item()
  local eps = opts.eps or 2e-2 * math.max(wmax, 1e-3)
  local tiny = (opts.tiny or 5e-2) * gmax
  local eval = function() return neuron_value(net, neuron) end
  local rows, worst, judged = {}, 0, 0
  local state = opts.seed or 1
  local count = math.min(opts.count or 10, w:numel())
  local picks, taken = {}, {}
  if opts.largest and opts.largest > 0 then
    local _, top = grad:abs():topk(math.min(opts.largest, count))
    for _, k in ipairs(top:totable()) do
      k = math.tointeger(k)
      picks[#picks + 1], taken[k] = k, true
    end
  end
  while #picks < count do
    state = (state * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    local k = state % w:numel() + 1
    if not taken[k] then picks[#picks + 1] = k end
  end
  core.no_grad(function()
    for r, k in ipairs(picks) do
      local numeric, smooth, resolution = smooth_difference(flat, k, eps, eval)
      local analytic = grad[k]:item()
      local scale = math.max(math.abs(analytic), math.abs(numeric), 1e-30)
      local bound = math.max(tiny, 128 * resolution)
      local row = {index = unflatten(k, w:size()), analytic = analytic, numeric = numeric,
                   rel_error = math.abs(analytic - numeric) / scale,
                   tiny = math.abs(analytic) < bound and math.abs(numeric) < bound,
                   kink = not smooth}
      if not row.tiny and not row.kink then
        judged = judged + 1
        worst = math.max(worst, row.rel_error)
      end
      rows[r] = row
    end
  end)
  net:forward(net.last_input)
  return rows, {max_rel_error = worst, judged = judged, tiny_bound = tiny, eps = eps}
end

return M
