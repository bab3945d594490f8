-- scripts/activations.lua, volume.lua and reorder.lua (the report's 3.1) run
-- as a user runs them, on the shipped model and on the CaffeNet fixture
-- definition (--caffemodel none) with the shared cat picture; their JSON is
-- checked against the net run here and against the files they wrote (read
-- back by us and by teem's unu).
local cv = require "cnnvis"
local support = require "spec.support"
local BIN = support.BIN
local lfs = require "lfs"

local q = support.quote
local SHIPPED = {"examples/models/fashion_caffenet.prototxt",
                 "examples/models/fashion_caffenet.caffemodel"}
local CAFFENET = {"--prototxt", support.shared("caffe/") .. "caffenet_deploy.prototxt",
                  "--caffemodel", "none", "--image", support.shared("images/") .. "cat.jpg"}

-- Runs a script; its output, exit status and (on success) its JSON.
local function run(script, args, out)
  local parts = {q(BIN), "scripts/" .. script .. ".lua", "--out", q(out)}
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local p = assert(io.popen(table.concat(parts, " ") .. " 2>&1"))
  local text = p:read("a")
  local _, _, status = p:close()
  local json
  if status == 0 then json = cv.json.decode(support.read(out .. "/" .. script .. ".json")) end
  return text, status, json
end

local function rm_tree(path) os.execute("rm -rf " .. q(path)) end

-- The mean correlation of adjacent rows of a Lua matrix in `order`,
-- constant rows skipped: written here again, in double, from the definition.
local function adjacent_correlation(m, order)
  local sum, count = 0, 0
  for k = 1, #order - 1 do
    local a, b = m[order[k]], m[order[k + 1]]
    local ma, mb = 0, 0
    for j = 1, #a do ma, mb = ma + a[j], mb + b[j] end
    ma, mb = ma / #a, mb / #b
    local sab, saa, sbb = 0, 0, 0
    for j = 1, #a do
      sab = sab + (a[j] - ma) * (b[j] - mb)
      saa, sbb = saa + (a[j] - ma) ^ 2, sbb + (b[j] - mb) ^ 2
    end
    if saa > 0 and sbb > 0 then sum, count = sum + sab / math.sqrt(saa * sbb), count + 1 end
  end
  return count > 0 and sum / count or nil
end

local function assert_permutation(order, n)
  assert.are.equal(n, #order)
  local seen = {}
  for _, i in ipairs(order) do
    assert.is_true(math.type(i) == "integer" and i >= 1 and i <= n and not seen[i])
    seen[i] = true
  end
end

local function sum(list)
  local s = 0
  for _, v in ipairs(list) do s = s + v end
  return s
end

-- The shipped net run here on the first test image (what the scripts take
-- by default): the independent value of every blob.
local shipped_net
local function shipped_blobs()
  if not shipped_net then
    shipped_net = cv.caffe.load(SHIPPED[1], SHIPPED[2])
    cv.no_grad(function()
      shipped_net:forward(cv.data.fashion_mnist("test")[1].image:unsqueeze(1))
    end)
  end
  return shipped_net
end

describe("analysis scripts", function()
  local dir
  before_each(function() dir = support.temp_dir("scripts") end)
  after_each(function() rm_tree(dir) end)

  describe("activations.lua", function()
    it("writes a grid per map layer and lists their shapes (shipped model)", function()
      local text, status, j = run("activations", {"--colormap", "gray"}, dir)
      assert.are.equal(0, status, text)
      local net = shipped_blobs()
      local want = {"input"}
      for _, l in ipairs(net.layers) do
        if l.type == "Convolution" or l.type == "Pooling" or l.type == "LRN" then
          want[#want + 1] = l.name
        end
      end
      local names = {}
      for i, l in ipairs(j.layers) do
        names[i] = l.layer
        local blob = net.blobs[l.layer == "input" and net.inputs[1].name or l.blob]
        local s = blob:size()
        assert.same({s[2], s[3], s[4]}, l.shape)
        local img = cv.image.load(dir .. "/" .. l.file)
        assert.are.equal(3, img:size(1))
        assert.is_true(img:size(2) >= s[3] and img:size(3) >= s[4])
        -- gray: every pixel has R = G = B (the numbers are gray ink too)
        assert.are.equal(0, (img[1] - img[2]):abs():max():item())
      end
      assert.same(want, names)
      assert.are.equal("gray", j.options.colormap)
    end)

    it("runs on CaffeNet with filler weights and a JPEG", function()
      local text, status, j = run("activations", CAFFENET, dir)
      assert.are.equal(0, status, text)
      assert.same({3, 227, 227}, j.layers[1].shape)
      assert.same({"conv1", {96, 55, 55}}, {j.layers[2].layer, j.layers[2].shape})
      assert.same({"pool5", {256, 6, 6}}, {j.layers[#j.layers].layer, j.layers[#j.layers].shape})
      for _, l in ipairs(j.layers) do assert.truthy(lfs.attributes(dir .. "/" .. l.file)) end
    end)

    it("refuses an unknown colormap", function()
      local text, status = run("activations", {"--colormap", "jet"}, dir)
      assert.are.equal(1, status)
      assert.are.equal("activations: --colormap: unknown colormap 'jet' (gray, viridis or diverging)\n", text)
    end)
  end)

  describe("volume.lua", function()
    it("writes the layer's volume as NRRD, a turntable and three slices (shipped model)", function()
      local text, status, j = run("volume", {"--layer", "conv2", "--frames", "3", "--size", "96"}, dir)
      assert.are.equal(0, status, text)
      local vol, meta = cv.io.load_nrrd(dir .. "/" .. j.nrrd)
      local blob = shipped_blobs().blobs.conv2[1]
      assert.same(blob:size(), vol:size())
      assert.are.equal(0, (vol - blob):abs():max():item())
      assert.same({"filter", "y", "x"}, meta.labels)
      -- teem's reader agrees on the range the JSON states
      local p = io.popen("teem-unu minmax " .. q(dir .. "/" .. j.nrrd))
      local mm = p:read("a")
      p:close()
      assert.is_true(math.abs(tonumber(mm:match("max:%s*(%S+)")) - j.max) < 1e-6 * j.max)
      assert.are.equal(0, tonumber(mm:match("min:%s*(%S+)")))
      assert.are.equal(0, j.min)
      -- shown: 0 up to the 99.5th percentile of the values
      local sorted = vol:contiguous():view(-1):totable()
      table.sort(sorted)
      assert.same({0, sorted[math.ceil(0.995 * #sorted)]}, j.range)
      assert.are.equal(3, #j.frames)
      assert.same({0, 120, 240}, j.render.azimuths)
      for _, f in ipairs(j.frames) do
        assert.same({3, 96, 96}, cv.image.load(dir .. "/" .. f):size())
      end
      local s = blob:size()
      assert.same({"filter", "row", "column"}, {j.slices[1].cut, j.slices[2].cut, j.slices[3].cut})
      assert.same({{s[2], s[3]}, {s[1], s[3]}, {s[1], s[2]}},
                  {j.slices[1].shape, j.slices[2].shape, j.slices[3].shape})
      for _, sl in ipairs(j.slices) do assert.truthy(lfs.attributes(dir .. "/" .. sl.file)) end
    end)

    it("defaults to the first Convolution, and runs on CaffeNet", function()
      local text, status, j = run("volume", {"--frames", "2", "--size", "64", "--mode", "mip",
        "--encoding", "gzip", table.unpack(CAFFENET)}, dir)
      assert.are.equal(0, status, text)
      assert.are.equal("conv1", j.layer)
      assert.same({96, 55, 55}, cv.io.load_nrrd(dir .. "/" .. j.nrrd):size())
      assert.truthy(support.read(dir .. "/" .. j.nrrd):find("encoding: gzip", 1, true))
    end)

    it("names the layers there are when --layer is wrong", function()
      local text, status = run("volume", {"--layer", "fc6"}, dir)
      assert.are.equal(1, status)
      assert.are.equal("volume: --layer: the net has no Convolution/LRN/Pooling layer 'fc6'; " ..
        "it has: conv1, pool1, norm1, conv2, pool2, norm2, conv3, conv4, conv5, pool5\n", text)
      assert.is_nil(lfs.attributes(dir .. "/volume.json"))
    end)
  end)

  describe("reorder.lua", function()
    -- Checks every method's figures against the NRRD of the reordered volume.
    local function check(j, vol)
      local c, h, w = table.unpack(j.shape)
      local fp = j.methods.filters_pca
      assert_permutation(fp.order, c)
      local reordered = cv.io.load_nrrd(dir .. "/" .. fp.nrrd)
      assert.same({c, h, w}, reordered:size())
      -- undo the permutation: the volume the script started from
      local original = {}
      local r = reordered:view(c, h * w):totable()
      for k, i in ipairs(fp.order) do original[i] = r[k] end
      if vol then
        assert.same(vol:view(c, h * w):totable(), original)
      end
      local identity = {}
      for i = 1, c do identity[i] = i end
      local function same(want, got, what)
        if want == nil then assert.is_nil(got, what) return end
        assert.is_true(math.abs(want - got) < 1e-9, what .. (": %.12g vs %.12g"):format(got, want))
      end
      same(adjacent_correlation(original, identity), fp.before, "maps before")
      same(adjacent_correlation(r, identity), fp.after, "maps after")
      -- the slice: column `slice` of every map
      local rows = {}
      for i = 1, c do
        rows[i] = {}
        for y = 1, h do rows[i][y] = original[i][(y - 1) * w + j.slice] end
      end
      for name, m in pairs(j.methods) do
        if name ~= "filters_pca" then
          assert_permutation(m.order, c)
          same(adjacent_correlation(rows, identity), m.before, name .. " before")
          same(adjacent_correlation(rows, m.order), m.after, name .. " after")
          assert.truthy(lfs.attributes(dir .. "/" .. m.file), name)
          if m.groups then assert.are.equal(c, sum(m.groups)) end
        end
      end
      assert.are.equal(7, #j.methods.kmeans7.groups)
      assert.are.equal(10, #j.methods.kmeans10.groups)
      assert.are.equal(5, #j.methods.kmeans20x5.groups)
      assert.are.equal(20, #j.methods.kmeans20x5.fine_groups)
    end

    it("measures each reordering of the shipped model's conv1", function()
      local text, status, j = run("reorder", {"--layer", "conv1", "--slice", "15",
        "--frames", "2", "--size", "64"}, dir)
      assert.are.equal(0, status, text)
      assert.are.equal(15, j.slice)
      check(j, shipped_blobs().blobs.conv1[1])
      -- the figures are printed too
      assert.truthy(text:find(("kmeans7        neighbour correlation %.4f -> %.4f"):format(
        j.methods.kmeans7.before, j.methods.kmeans7.after), 1, true))
      -- PCA's order is increasing first principal coordinate: rows sorted
      -- by it correlate better than in the net's order
      assert.is_true(j.methods.pca.after > j.methods.pca.before)
      assert.is_true(j.methods.filters_pca.after > j.methods.filters_pca.before)
    end)

    it("runs on CaffeNet with random weights (no fillers in the deploy prototxt)", function()
      local text, status, j = run("reorder", {"--frames", "2", "--size", "48",
        table.unpack(CAFFENET)}, dir)
      assert.are.equal(0, status, text)
      assert.same({96, 55, 55}, j.shape)
      check(j)
      assert.is_true(j.methods.pca.after > j.methods.pca.before)
    end)

    it("refuses a slice outside the maps and impossible cluster counts", function()
      local text, status = run("reorder", {"--slice", "29"}, dir)
      assert.are.equal(1, status)
      assert.are.equal("reorder: --slice 29: outside conv1's maps of 28 columns\n", text)
      text, status = run("reorder", {"--k", "7,49"}, dir)
      assert.are.equal(1, status)
      assert.are.equal("reorder: --k 49: k-means needs 1 to 48 clusters (the slice's rows)\n", text)
      text, status = run("reorder", {"--k", "0"}, dir)
      assert.are.equal("reorder: --k 0: k-means needs 1 to 48 clusters (the slice's rows)\n", text)
      text, status = run("reorder", {"--fine", "60"}, dir)
      assert.are.equal("reorder: --fine 60: more clusters than the slice's 48 rows\n", text)
      text, status = run("reorder", {"--layer", "fc6"}, dir)
      assert.are.equal(1, status)
      assert.truthy(text:find("reorder: --layer: the net has no Convolution/LRN/Pooling layer 'fc6'", 1, true))
    end)

    it("refuses an output folder it cannot make", function()
      local file = support.write(dir .. "/a_file", "x")
      local text, status = run("reorder", {}, file .. "/out")
      assert.are.equal(1, status)
      assert.truthy(text:find("^reorder: cannot make folder"), text)
    end)
  end)
end)
