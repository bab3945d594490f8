-- cv.io.save_nrrd / load_nrrd (engine/io/nrrd.c): round trips, and teem's own
-- tools (Debian's teem-apps, `teem-unu`) as the independent reader and writer.
local cv = require "cnnvis"
local support = require "spec.support"
local lfs = require "lfs"

local UNU = "teem-unu"

-- Runs a unu command; its standard output.
local function unu(args)
  local p = assert(io.popen(UNU .. " " .. args .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  if not ok then error("teem-unu " .. args .. " failed (" .. tostring(code) .. "): " .. out, 2) end
  return out
end

local function files_in(dir)
  local names = {}
  for f in lfs.dir(dir) do if f ~= "." and f ~= ".." then table.insert(names, f) end end
  table.sort(names)
  return names
end

describe("nrrd", function()
  local dir
  before_each(function() dir = support.temp_dir("nrrd") end)
  after_each(function()
    for _, f in ipairs(files_in(dir)) do os.remove(dir .. "/" .. f) end
    lfs.rmdir(dir)
  end)

  it("writes a NRRD0004 header with sizes fastest axis first", function()
    local t = cv.zeros(4, 3, 2) -- C x H x W
    local path = dir .. "/v.nrrd"
    cv.io.save_nrrd(t, path, {labels = {"filter", "y", "x"}, spacing = {2, 1, 0.5}})
    local s = support.read(path)
    local header = s:sub(1, s:find("\n\n", 1, true))
    assert.are.equal(table.concat({
      "NRRD0004",
      "# Complete NRRD file format specification at:",
      "# http://teem.sourceforge.net/nrrd/format.html",
      "type: float", "dimension: 3", "sizes: 2 3 4", "spacings: 0.5 1 2",
      "kinds: domain domain domain", 'labels: "x" "y" "filter"', "endian: little",
      "encoding: raw", ""}, "\n"), header)
    assert.are.equal(#header + 1 + 4 * 24, #s)
    assert.same({"v.nrrd"}, files_in(dir)) -- no temporary left beside it
  end)

  for _, enc in ipairs{"raw", "gzip"} do
    it("round-trips values, labels, spacings and kinds (" .. enc .. ")", function()
      cv.manual_seed(4)
      local t = cv.randn(3, 5, 7)
      local path = dir .. "/t.nrrd"
      cv.io.save_nrrd(t, path, {encoding = enc, labels = {"c", "y", "x"},
        spacing = {3, 1, 1}, kinds = {"list", "space", "space"}})
      local u, meta = cv.io.load_nrrd(path)
      assert.same(t:size(), u:size())
      assert.are.equal(0, (u - t):abs():max():item())
      assert.same({"c", "y", "x"}, meta.labels)
      assert.same({3, 1, 1}, meta.spacing)
      assert.same({"list", "space", "space"}, meta.kinds)
    end)
  end

  it("round-trips 1-d, 4-d and strided tensors, and a large gzip volume", function()
    local v = cv.tensor{1.5, -2, 3e-8}
    cv.io.save_nrrd(v, dir .. "/a.nrrd")
    assert.same(v:totable(), cv.io.load_nrrd(dir .. "/a.nrrd"):totable())
    local q = cv.randn(2, 3, 4, 5):transpose(2, 4)
    cv.io.save_nrrd(q, dir .. "/q.nrrd", {encoding = "gzip"})
    local back = cv.io.load_nrrd(dir .. "/q.nrrd")
    assert.same(q:size(), back:size())
    assert.are.equal(0, (back - q):abs():max():item())
    local big = cv.randn(96, 55, 55) -- more than one deflate chunk
    cv.io.save_nrrd(big, dir .. "/big.nrrd", {encoding = "gzip"})
    assert.are.equal(0, (cv.io.load_nrrd(dir .. "/big.nrrd") - big):abs():max():item())
  end)

  describe("read by teem's unu", function()
    it("unu head and unu minmax read our raw and gzip files", function()
      cv.manual_seed(5)
      local t = cv.randn(6, 4, 5)
      t[{2, 3, 4}] = 7.25
      t[{6, 1, 1}] = -9.5
      for _, enc in ipairs{"raw", "gzip"} do
        local path = dir .. "/m_" .. enc .. ".nrrd"
        cv.io.save_nrrd(t, path, {encoding = enc, labels = {"filter", "y", "x"}})
        local head = unu("head " .. support.quote(path))
        assert.truthy(head:find("sizes: 5 4 6", 1, true))
        assert.truthy(head:find('labels: "x" "y" "filter"', 1, true))
        local mm = unu("minmax " .. support.quote(path))
        assert.are.equal(-9.5, tonumber(mm:match("min:%s*(%S+)")))
        assert.are.equal(7.25, tonumber(mm:match("max:%s*(%S+)")))
      end
    end)

    it("unu save rewrites our gzip file as raw, and we read its file back", function()
      cv.manual_seed(6)
      local t = cv.randn(3, 4, 5)
      local ours, theirs = dir .. "/ours.nrrd", dir .. "/theirs.nrrd"
      cv.io.save_nrrd(t, ours, {encoding = "gzip", spacing = {2, 1, 1}})
      unu("save -f nrrd -e raw -i " .. support.quote(ours) .. " -o " .. support.quote(theirs))
      local u, meta = cv.io.load_nrrd(theirs)
      assert.same({3, 4, 5}, u:size())
      assert.are.equal(0, (u - t):abs():max():item())
      assert.same({2, 1, 1}, meta.spacing)
    end)

    it("we read unu's ascii, big-endian and double files", function()
      local t = cv.tensor{{{1, -2.5}, {3, 4}}, {{5, 6}, {7, 8.125}}}
      local ours = dir .. "/o.nrrd"
      cv.io.save_nrrd(t, ours)
      local cases = {
        {"save -f nrrd -e ascii", "ascii"},
        {"save -f nrrd -en big -e raw", "big"},
        {"convert -t double", "double"},
        {"convert -t short", "short"},
      }
      for _, c in ipairs(cases) do
        local out = dir .. "/" .. c[2] .. ".nrrd"
        unu(c[1] .. " -i " .. support.quote(ours) .. " -o " .. support.quote(out))
        local u = cv.io.load_nrrd(out)
        local want = t:totable()
        if c[2] == "short" then -- unu rounds towards zero into short
          want = {{{1, -2}, {3, 4}}, {{5, 6}, {7, 8}}}
        end
        assert.same(want, u:totable(), c[2])
      end
    end)

    it("unu's maximum along the filter axis is our MIP seen head-on", function()
      cv.manual_seed(7)
      local t = cv.randn(5, 6, 7)
      local path, proj = dir .. "/p.nrrd", dir .. "/proj.nrrd"
      cv.io.save_nrrd(t, path)
      unu("project -a 2 -m max -i " .. support.quote(path) .. " -o " .. support.quote(proj))
      local theirs = cv.io.load_nrrd(proj)
      local mip = cv.render.raycast(t, {mode = "max", azimuth = 0, elevation = 0,
        zoom = 1, width = 7, height = 6, step = 1})
      assert.same({6, 7}, theirs:size())
      assert.is_true(cv.allclose(mip[1], theirs, 1e-5, 1e-5))
    end)
  end)

  describe("errors", function()
    it("names the file and what is wrong", function()
      local p = support.write(dir .. "/x.nrrd", "P5 not nrrd")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": not a NRRD file (no NRRD0001-NRRD0005 magic)")
      support.write(p, "NRRD0004\ntype: float\ndimension: 2\nsizes: 2 2\nendian: little\n" ..
        "encoding: raw\n\n" .. string.rep("\0", 12))
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": data: expected 16 bytes, found 12")
      support.write(p, "NRRD0004\ntype: float\ndimension: 2\nsizes: 2\n\n")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": line 4: 'sizes' needs 2 values, got 1")
      support.write(p, "NRRD0004\ntype: quaternion\n\n")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": line 2: unsupported type 'quaternion'")
      support.write(p, "NRRD0004\ntype: float\ndimension: 1\nsizes: 2\nencoding: raw\n\n")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": the header has no 'endian' field (needed for 4-byte values)")
      support.write(p, "NRRD0004\ntype: float\ndimension: 1\nsizes: 2\ndata file: x.raw\n\n")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": line 5: detached data files are not read: the data must follow the header")
      support.write(p, "NRRD0004\ntype: float\ndimension: 1\nsizes: 4\nendian: little\n" ..
        "encoding: gzip\n\nnot gzip at all")
      assert.has.error(function() cv.io.load_nrrd(p) end,
        p .. ": gzip data: corrupt after 0 of 16 bytes")
    end)

    it("refuses what it cannot write, leaving nothing behind", function()
      local t = cv.zeros(2, 2)
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/no/such/dir/v.nrrd") end,
        dir .. "/no/such/dir/v.nrrd: cannot open for writing (No such file or directory)")
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/v.nrrd", {encoding = "bz2"}) end,
        'save_nrrd: encoding must be "raw" or "gzip", got bz2')
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/v.nrrd", {labels = {"a"}}) end,
        "save_nrrd: labels must be a table of 2 strings (one per dim)")
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/v.nrrd", {kinds = {"x", "y"}}) end,
        dir .. "/v.nrrd: unknown NRRD kind 'x' for dim 1 (domain, space, time, list, ...)")
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/v.nrrd", {spacing = {1, -1}}) end,
        dir .. "/v.nrrd: spacing of dim 2 must be a positive number, got -1")
      assert.has.error(function() cv.io.save_nrrd(cv.tensor(3), dir .. "/v.nrrd") end,
        dir .. "/v.nrrd: NRRD needs a tensor of 1 to 8 dims, got scalar")
      assert.has.error(function() cv.io.save_nrrd(t, dir .. "/v.nrrd", {gzip = true}) end,
        "save_nrrd: unknown option 'gzip'")
      assert.same({}, files_in(dir))
    end)
  end)
end)
