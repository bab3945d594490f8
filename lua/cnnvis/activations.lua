--- Activations of one image, layer by layer (the report's 3.1.1): which
-- layers have maps, their outputs as grids of numbered maps.
--
--   net:forward(x)
--   for _, g in ipairs(cv.activations.grids(net, x, {colormap = "viridis"})) do
--     cv.image.save(g.image, g.layer .. ".png")   -- g.blob, g.shape too
--   end
local vis = require "cnnvis.vis"

local M = {}

--- The layer types whose outputs are maps (C x H x W per image).
M.TYPES = {Convolution = true, Pooling = true, LRN = true}

--- The layers of net of the given types (default M.TYPES) whose first top
-- is N x C x H x W, in the net's order.
function M.spatial_layers(net, types)
  types = types or M.TYPES
  local list = {}
  for _, l in ipairs(net.layers) do
    if types[l.type] and l.top_shapes[1] and #l.top_shapes[1] == 4 then list[#list + 1] = l end
  end
  return list
end

-- The scale that makes maps of side `side` about `target` pixels.
local function auto_scale(side, target)
  return math.max(1, math.floor(target / math.max(side, 1)))
end

local OPTS = {colormap = true, normalize = true, scale = true, cols = true, layers = true}

--- Grids of every map layer's output for image 1 of the batch that net
-- last ran on (x is that batch, N x C x H x W).
-- @param opts colormap ("gray", "viridis", "diverging"; default "gray"),
--   normalize ("each": each map on its own range, "all": one range for the
--   layer), scale (default: maps of about 48 pixels), cols, layers (a list
--   of layer tables, default M.spatial_layers(net)).
-- @return a list of {layer =, type =, blob =, shape = {C, H, W}, image = 3 x H' x W'},
--   the input first (layer "input", shown as a colour picture when it has
--   3 channels, else as numbered maps)
function M.grids(net, x, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTS[k] then error("activations.grids: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local normalize = opts.normalize or "each"
  if normalize ~= "each" and normalize ~= "all" then
    error("activations.grids: normalize must be \"each\" or \"all\", got " .. tostring(normalize), 2)
  end
  local colormap = opts.colormap or "gray"
  local out = {}
  local input = x[1]
  local s = input:size()
  local in_img
  if s[1] == 3 then
    -- one picture, the channels on one range (as the net sees them: BGR
    -- nets show swapped colours, which is what they are fed)
    in_img = vis.grid(input:unsqueeze(1), {normalize = "all", pad = 0,
      scale = opts.scale or auto_scale(s[2], 192)})
  else
    in_img = vis.grid(input, {normalize = normalize, colormap = colormap, numbers = s[1] > 1,
      scale = opts.scale or auto_scale(s[2], 96)})
  end
  out[1] = {layer = "input", type = "Input", blob = net.inputs[1] and net.inputs[1].name, shape = s, image = in_img}
  for _, l in ipairs(opts.layers or M.spatial_layers(net)) do
    local blob = net.blobs[l.tops[1]]
    if not blob then error("activations.grids: blob '" .. l.tops[1] .. "' was not kept", 2) end
    local maps = blob[1]
    local shape = maps:size()
    out[#out + 1] = {layer = l.name, type = l.type, blob = l.tops[1], shape = shape,
      image = vis.grid(maps, {normalize = normalize, colormap = colormap, numbers = true,
        cols = opts.cols, scale = opts.scale or auto_scale(shape[2], 48)})}
  end
  return out
end

--- Smallest and largest value of a tensor, as numbers.
function M.range(t)
  return t:min():item(), t:max():item()
end

return M
