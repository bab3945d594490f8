--- A layer's output as a volume (the report's 3.1.2): the C x H x W maps of
-- one image stacked, rendered by the C ray caster (`cnnvis.core`.render.raycast)
-- from any side, as a turntable, and cut in three mid-slices.
--
--   local vol = cv.volume.of_blob(net.blobs.conv1)     -- 96 x 55 x 55
--   cv.io.save_nrrd(vol, "conv1.nrrd", cv.volume.nrrd_options())
--   local frames = cv.volume.turntable(vol, 12, {elevation = 20})
--   local slices = cv.volume.slices(vol)              -- {filter =, row =, column =}
local core = require "cnnvis.core"
local vis = require "cnnvis.vis"

local M = {}

--- Image i (default 1) of an N x C x H x W blob as a contiguous C x H x W volume.
function M.of_blob(blob, i)
  local s = blob:size()
  if #s ~= 4 then
    error(string.format("volume.of_blob: expected an N x C x H x W blob, got %s",
      table.concat(s, "x")), 2)
  end
  return blob[i or 1]:contiguous()
end

--- The save_nrrd options of a C x H x W activation volume: labels and kinds.
function M.nrrd_options(encoding)
  return {labels = {"filter", "y", "x"}, kinds = {"domain", "domain", "domain"},
          encoding = encoding or "raw"}
end

--- The value range to render: {lo, hi} from the data, hi at the `clip`
-- percentile of the values when given (so that a few outliers do not leave
-- the rest dark; values above saturate), else the largest; hi > lo always.
function M.range(vol, clip)
  local lo, hi = vol:min():item(), vol:max():item()
  if clip and clip < 100 then
    local sorted = vol:contiguous():view(-1):sort()
    local n = sorted:size(1)
    hi = sorted[math.max(1, math.min(n, math.ceil(clip / 100 * n)))]:item()
  end
  if lo == 0 then lo = 0.0 end -- not -0 (a ReLU's), which prints as "-0"
  if not (hi > lo) then hi = lo + 1 end
  return {lo, hi}
end

local RENDER = {mode = true, azimuth = true, elevation = true, width = true, height = true,
  zoom = true, spacing = true, step = true, range = true, colormap = true, opacity = true,
  background = true}

local function settings(vol, opts)
  local o = {}
  for k, v in pairs(opts or {}) do
    if not RENDER[k] then error("volume: unknown option '" .. tostring(k) .. "'", 3) end
    o[k] = v
  end
  o.range = o.range or M.range(vol)
  return o
end

--- One picture of vol (C x H x W), 3 x height x width. opts as
-- core.render.raycast (mode "composite" or "mip", azimuth, elevation, width,
-- height, colormap, opacity = {u0, u1, a}, step, ...); range defaults to the
-- volume's min..max.
function M.render(vol, opts)
  return core.render.raycast(vol, settings(vol, opts))
end

--- n pictures turning the camera all the way round (azimuths 0, 360/n, ...),
-- one range for all; returns the pictures and the azimuths.
function M.turntable(vol, n, opts)
  local o = settings(vol, opts)
  local frames, azimuths = {}, {}
  local base = o.azimuth or 0
  for f = 0, n - 1 do
    o.azimuth = base + f * 360 / n
    frames[#frames + 1] = core.render.raycast(vol, o)
    azimuths[#azimuths + 1] = o.azimuth
  end
  return frames, azimuths
end

--- The three orthogonal mid-slices of vol (C x H x W) through its colormap,
-- on the volume's range: filter = map C/2 (H x W), row = row H/2 of every map
-- (C x W), column = column W/2 of every map (C x H); each {image =, index =
-- (1-based), shape =}. opts: colormap (viridis), range, scale (default:
-- slices of about 256 pixels).
function M.slices(vol, opts)
  opts = opts or {}
  local s = vol:size()
  local range = opts.range or M.range(vol)
  local scale = opts.scale or math.max(1, math.floor(256 / math.max(s[1], s[2], s[3])))
  local cuts = {
    {"filter", s[1] // 2 + 1, function(i) return vol[i] end},
    {"row", s[2] // 2 + 1, function(i) return vol[{{}, i}] end},
    {"column", s[3] // 2 + 1, function(i) return vol[{{}, {}, i}] end},
  }
  local out = {}
  for _, c in ipairs(cuts) do
    local plane = c[3](c[2]):contiguous()
    out[c[1]] = {index = c[2], shape = plane:size(),
      image = vis.grid(plane:unsqueeze(1), {normalize = range, colormap = opts.colormap or "viridis",
        pad = 0, scale = scale})}
  end
  return out
end

return M
