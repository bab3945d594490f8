--- 3.1.2: a layer's output for one image stacked into a C x H x W volume,
-- written as NRRD (teem, ParaView, 3D Slicer, napari open it) and rendered
-- by the ray caster: a turntable and the three orthogonal mid-slices.
--   build/bin/cnnvis scripts/volume.lua --layer conv1 [--mode mip] [--frames 12]
local cv = require "cnnvis"

require("cnnvis.script").run {
  name = "volume",
  summary = "3.1.2: a layer's output as a volume (NRRD), rendered as a turntable and slices",
  options = {
    {"layer", "string", "the layer (default: the first Convolution)"},
    {"mode", "string", "composite (emission-absorption) or mip (default composite)",
      default = "composite"},
    {"frames", "count", "turntable frames (default 12)", default = 12},
    {"size", "count", "frame width and height in pixels (default 512)", default = 512},
    {"elevation", "number", "camera elevation in degrees (default 20)", default = 20},
    {"colormap", "string", "gray, viridis or diverging (default viridis)", default = "viridis"},
    {"opacity", "numbers", "u0,u1,a: opacity 0 up to u0, rising to a at u1, where u is 0..1 "
      .. "over the shown range (default 0.05,0.6,0.6)", default = {0.05, 0.6, 0.6}},
    {"clip", "number", "the percentile of the values shown brightest; above it they saturate "
      .. "(default 99.5; 100: the largest)", default = 99.5},
    {"encoding", "string", "NRRD encoding, raw or gzip (default raw)", default = "raw"},
  },
  main = function(ctx)
    local o = ctx.opts
    local layer = o.layer and ctx:layer(o.layer, cv.activations.TYPES)
                  or ctx:layers_of({Convolution = true})[1]
    if not layer then ctx:fail("--layer: the net has no Convolution layer") end
    if #layer.top_shapes[1] ~= 4 then
      ctx:fail("--layer %s: its output %s has no maps", layer.name, table.concat(layer.top_shapes[1], "x"))
    end
    if o.mode ~= "composite" and o.mode ~= "mip" then
      ctx:fail("--mode wants composite or mip, got '%s'", o.mode)
    end
    if o.encoding ~= "raw" and o.encoding ~= "gzip" then
      ctx:fail("--encoding wants raw or gzip, got '%s'", o.encoding)
    end
    if #o.opacity ~= 3 then ctx:fail("--opacity wants three numbers u0,u1,a") end
    if not (o.clip > 0 and o.clip <= 100) then ctx:fail("--clip wants a percentile 0 < p <= 100, got %s", o.clip) end
    local x, info = ctx:input()
    cv.no_grad(function() ctx.net:forward(x) end)
    local vol = cv.volume.of_blob(ctx.net.blobs[layer.tops[1]])
    local range = cv.volume.range(vol, o.clip)
    local lo, hi = vol:min():item() + 0.0, vol:max():item()
    local nrrd = ctx:save_nrrd(vol, layer.name, cv.volume.nrrd_options(o.encoding))
    local render = {mode = o.mode, elevation = o.elevation, width = o.size, height = o.size,
                    colormap = o.colormap, opacity = o.opacity, range = range, step = 1}
    local t0 = cv.clock()
    local frames, azimuths = cv.volume.turntable(vol, o.frames, render)
    local seconds = cv.clock() - t0
    local names = {}
    for i, img in ipairs(frames) do
      names[i] = ctx:save_png(img, string.format("%s_frame%02d", layer.name, i))
    end
    local slices = {}
    for _, which in ipairs{"filter", "row", "column"} do
      local s = cv.volume.slices(vol, {colormap = o.colormap, range = range})[which]
      slices[#slices + 1] = {cut = which, index = s.index, shape = s.shape,
        file = ctx:save_png(s.image, string.format("%s_%s%d", layer.name, which, s.index))}
    end
    render.azimuths = azimuths
    ctx:say("%s: %s volume %s, values %.4g..%.4g, shown %.4g..%.4g; %d frames in %.2f s",
      layer.name, table.concat(vol:size(), "x"), nrrd, lo, hi, range[1], range[2], #frames, seconds)
    ctx:save_json{layer = layer.name, blob = layer.tops[1], shape = vol:size(), nrrd = nrrd,
      range = range, min = lo, max = hi, frames = names, slices = slices, render = render, input = info.source,
      seconds = seconds}
  end,
}
