--- Loading a full-size CaffeNet caffemodel (61M floats, ~233 MB, random
-- weights): time against reading the file into memory, and memory (peak
-- while loading, and after) against the file size.
-- Usage: cnnvis scripts/bench/caffe_load.lua [path]   (lua5.4 works too)
local cv = require "cnnvis"

local MB = 1024 * 1024

local function status(field)
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^" .. field .. ":%s+(%d+) kB")
    if kb then return tonumber(kb) * 1024 end
  end
end

-- CaffeNet's parameter shapes (BVLC reference model: groups of 2 in
-- conv2, conv4, conv5).
local shapes = {
  {"conv1", "Convolution", {96, 3, 11, 11}, 96},
  {"conv2", "Convolution", {256, 48, 5, 5}, 256},
  {"conv3", "Convolution", {384, 256, 3, 3}, 384},
  {"conv4", "Convolution", {384, 192, 3, 3}, 384},
  {"conv5", "Convolution", {256, 192, 3, 3}, 256},
  {"fc6", "InnerProduct", {4096, 9216}, 4096},
  {"fc7", "InnerProduct", {4096, 4096}, 4096},
  {"fc8", "InnerProduct", {1000, 4096}, 1000},
}

local function make(path)
  cv.manual_seed(1)
  local layers = {}
  for _, s in ipairs(shapes) do
    layers[#layers + 1] = {name = s[1], type = s[2],
                           blobs = {cv.randn(s[3]), cv.randn(s[4])}}
  end
  cv.caffe.write_weights(path, layers)
end

-- Runs in a fresh process so that the peak belongs to the load alone.
local function load(path)
  local t0 = os.clock()
  local f = assert(io.open(path, "rb"))
  local bytes = f:read("a")
  f:close()
  local t_read = os.clock() - t0
  local size = #bytes
  bytes = nil
  collectgarbage()
  local base = status("VmRSS")
  t0 = os.clock()
  local layers = cv.caffe.read_weights(path)
  local t_load = os.clock() - t0
  collectgarbage()
  local floats = 0
  for _, l in ipairs(layers) do
    for _, b in ipairs(l.blobs) do floats = floats + b:numel() end
  end
  print(string.format("file            %8.1f MB, %d floats", size / MB, floats))
  print(string.format("read file       %8.3f s CPU (Lua io read \"a\")", t_read))
  print(string.format("read_weights    %8.3f s CPU (%.2fx the read; target <= 2x)",
                      t_load, t_load / t_read))
  print(string.format("peak RSS        %8.1f MB  (%.2fx the file over the %.0f MB "
                      .. "before loading; target < 2.2x)", status("VmHWM") / MB,
                      (status("VmHWM") - base) / size, base / MB))
  print(string.format("RSS after load  %8.1f MB  (weights %.1f MB; target <= +10%%)",
                      (status("VmRSS") - base) / MB, floats * 4 / MB))
end

-- The same for a whole net: cv.caffe.load of CaffeNet's deploy.prototxt
-- with the weights, its parameters being the file's arrays.
local DEPLOY = "../shared/fixtures/caffe/caffenet_deploy.prototxt"
local function load_net(path)
  local size = assert(io.open(path, "rb")):seek("end")
  collectgarbage()
  local base = status("VmRSS")
  local t0 = os.clock()
  local net = cv.caffe.load(DEPLOY, path)
  local t_load = os.clock() - t0
  collectgarbage()
  local floats = 0
  for _, p in pairs(net.params) do
    for _, t in ipairs(p) do floats = floats + t:numel() end
  end
  print(string.format("caffe.load net  %8.3f s CPU, peak %.2fx the file, after "
                      .. "%.1f MB (weights %.1f MB)", t_load,
                      (status("VmHWM") - base) / size,
                      (status("VmRSS") - base) / MB, floats * 4 / MB))
end

local path = arg[2] and arg[2]:match("^%-%-load") and arg[1]
             or (arg[1] or os.tmpname() .. ".caffemodel")
if arg[2] == "--load" then
  load(path)
elseif arg[2] == "--load-net" then
  load_net(path)
else
  local made = not arg[1] or not io.open(path)
  if made then make(path) end
  local lua = arg[-1] or "lua5.4"
  os.execute(string.format("%q %q %q --load", lua, arg[0], path))
  os.execute(string.format("%q %q %q --load-net", lua, arg[0], path))
  if made and not arg[1] then os.remove(path) end
end
