local cv = require "cnnvis"

-- Small files from spec/fixtures/io/make_fixtures.py: .npy written by NumPy,
-- PNGs with NumPy-written <name>.expected.npy values, JPEGs written by PIL.
local D = "spec/fixtures/io/"
-- The shared CaffeNet sample images sit beside the repository.
local support = require "spec.support"
local IMAGES = support.shared("images/")
local read_bytes = support.read

local tmpfiles = {}
local function tmp(suffix)
  local base = os.tmpname()   -- creates the file: remove it too
  local p = base .. (suffix or "")
  tmpfiles[#tmpfiles + 1] = base
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function write_bytes(s, suffix)
  local p = tmp(suffix)
  local f = assert(io.open(p, "wb"))
  f:write(s)
  f:close()
  return p
end

-- s with the bytes at 1-based position i replaced by b
local function patch(s, i, b) return s:sub(1, i - 1) .. b .. s:sub(i + #b) end

local function flat(t) return t:contiguous():view(-1):totable() end

-- every element of t within tol (relative to the size of the expected value)
local function assert_close(expected, t, tol)
  local a, e = flat(t), expected
  assert.equal(#e, #a)
  for i = 1, #e do
    local ok = math.abs(a[i] - e[i]) <= tol * math.max(1, math.abs(e[i]))
    assert(ok, ("element %d: expected %.9g, got %.9g"):format(i, e[i], a[i]))
  end
end

local function at(t, c, y, x) return t[{c, y, x}]:item() end

local function sum(t)
  local s = 0
  for _, v in ipairs(flat(t)) do s = s + v end
  return s
end

teardown(function()
  for _, p in ipairs(tmpfiles) do os.remove(p) end
end)

describe("io", function()
  describe("load_npy()", function()
    it("reads float32 with its shape", function()
      local t = cv.load_npy(D .. "f4.npy")
      assert.same({2, 3}, t:size())
      assert_close({-1.5, 0, 2.25, 3e-3, 1e20, -7}, t, 1e-7)
    end)

    it("reads C order", function()
      local t = cv.load_npy(D .. "c_order3d.npy")
      assert.same({2, 3, 4}, t:size())
      assert.equal(6, at(t, 1, 2, 3))   -- 0*12 + 1*4 + 2
      assert.equal(23, at(t, 2, 3, 4))
    end)

    -- values as NumPy wrote them; float32 rounding where they have more bits
    local dtypes = {
      f8 = {1 / 3, -2.5, 1e10, 0},   -- 5e-324 underflows to 0 in float32
      f4be = {1.5, -2, 3.25, 4e5},
      f2 = {1, -2.5, 65504, 2 ^ -24, 0.0999755859375},   -- 0.1 in half precision
      u1 = {0, 1, 127, 128, 255},
      i1 = {-128, -1, 0, 127},
      u2 = {0, 65535, 300},
      i2 = {-32768, 32767, -5},
      i4 = {-2147483648, -1, 0, 2147483648},  -- 2^31-1 rounds up in float32
      u4 = {4294967296, 7},
      i8 = {-(2 ^ 40), -3, 16777216, 9},      -- 2^24+1 rounds to 2^24
      u8 = {2 ^ 53, 1},
      b1 = {1, 0, 1},
    }
    for name, want in pairs(dtypes) do
      it("reads dtype " .. name .. " as float32", function()
        local t = cv.load_npy(D .. name .. ".npy")
        if name == "f2" then t = t:narrow(1, 1, 5) end   -- the finite ones
        assert_close(want, t, 1e-7)
      end)
    end

    it("reads half precision infinities and NaN", function()
      local t = flat(cv.load_npy(D .. "f2.npy"))
      assert.equal(8, #t)
      assert.equal(math.huge, t[6])
      assert.equal(-math.huge, t[7])
      assert.is_true(t[8] ~= t[8])
    end)

    it("reads format versions 2.0 and 3.0", function()
      for _, v in ipairs{"v2", "v3"} do
        assert.same({{0, 1, 2}, {3, 4, 5}}, cv.load_npy(D .. v .. ".npy"):totable())
      end
    end)

    it("reads a 0-d array and an empty one", function()
      local s = cv.load_npy(D .. "scalar.npy")
      assert.equal(0, s:dim())
      assert.equal(7.5, s:item())
      assert.same({0, 3}, cv.load_npy(D .. "empty.npy"):size())
    end)

    it("refuses Fortran order, naming the field", function()
      assert.has.error(function() cv.load_npy(D .. "fortran.npy") end,
        D .. "fortran.npy: Fortran order is not supported (header field " ..
        "'fortran_order' at byte offset 27); save a C-ordered array, e.g. " ..
        "np.ascontiguousarray(a)")
    end)

    it("refuses an unknown dtype", function()
      assert.has.error(function() cv.load_npy(D .. "complex.npy") end,
        D .. "complex.npy: unsupported dtype '<c8' (header field 'descr' at " ..
        "byte offset 20); supported: f2 f4 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1")
    end)

    it("refuses a bad magic", function()
      local p = write_bytes("hello, world\n")
      assert.has.error(function() cv.load_npy(p) end,
        p .. ": not a .npy file: bad magic (byte offset 0)")
    end)

    it("refuses an unknown format version", function()
      local p = write_bytes(patch(read_bytes(D .. "f4.npy"), 7, "\4"))
      assert.has.error(function() cv.load_npy(p) end,
        p .. ": unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0) " ..
        "(byte offset 6)")
    end)

    it("refuses a header that is cut short, at every length", function()
      local whole = read_bytes(D .. "f4.npy")
      local want = {
        [0] = "not a .npy file: bad magic (byte offset 0)",
        [5] = "not a .npy file: bad magic (byte offset 0)",
        [6] = "truncated header: the file has only 6 bytes (byte offset 6)",
        [9] = "truncated header: the file has only 9 bytes (byte offset 8)",
        [10] = "truncated header: it declares 118 bytes, the file has 0 after " ..
               "this offset (byte offset 10)",
        [127] = "truncated header: it declares 118 bytes, the file has 117 " ..
                "after this offset (byte offset 10)",
      }
      for n, msg in pairs(want) do
        local p = write_bytes(whole:sub(1, n))
        assert.has.error(function() cv.load_npy(p) end, p .. ": " .. msg)
      end
    end)

    it("refuses data that is cut short", function()
      local whole = read_bytes(D .. "f4.npy")
      for _, n in ipairs{128, 140, #whole - 1} do
        local p = write_bytes(whole:sub(1, n))
        assert.has.error(function() cv.load_npy(p) end,
          ("%s: truncated data: the shape needs 24 bytes, the file has %d after " ..
           "this offset (byte offset 128)"):format(p, n - 128))
      end
    end)

    it("refuses a header that is not a dict of the three keys", function()
      local whole = read_bytes(D .. "f4.npy")
      local p = write_bytes(patch(whole, 13, "colr"))   -- 'descr' -> 'colrr'
      assert.has.error(function() cv.load_npy(p) end,
        p .. ": bad header: unknown key 'colrr' (byte offset 11)")
      local i = whole:find("(2, 3)", 1, true)
      p = write_bytes(patch(whole, i, "[2, 3]"))         -- shape as a list
      assert.has.error(function() cv.load_npy(p) end,
        ("%s: bad header: expected '(' to open 'shape' (byte offset %d)"):format(p, i - 1))
    end)

    it("says so when the file is missing", function()
      assert.has.error(function() cv.load_npy("no/such.npy") end,
        "no/such.npy: cannot open (No such file or directory)")
    end)

    it("wants a path", function()
      assert.has.error(function() cv.load_npy() end)
    end)
  end)

  describe("save_npy()", function()
    it("round-trips values and shape", function()
      cv.manual_seed(3)
      local t = cv.randn(2, 3, 4)
      local p = tmp(".npy")
      t:save_npy(p)
      local back = cv.load_npy(p)
      assert.same(t:size(), back:size())
      assert.same(t:totable(), back:totable())
    end)

    it("writes a view in its logical order", function()
      local t = cv.tensor{{1, 2, 3}, {4, 5, 6}}:transpose(1, 2)
      local p = tmp(".npy")
      t:save_npy(p)
      assert.same({{1, 4}, {2, 5}, {3, 6}}, cv.load_npy(p):totable())
    end)

    it("writes 0-d and empty tensors", function()
      local p = tmp(".npy")
      cv.tensor{{2.5}}:view():save_npy(p)   -- 0-d view of one element
      assert.equal(0, cv.load_npy(p):dim())
      assert.equal(2.5, cv.load_npy(p):item())
      cv.zeros(0, 4):save_npy(p)
      assert.same({0, 4}, cv.load_npy(p):size())
    end)

    it("writes format 1.0 as NumPy does: '<f4', 64-byte aligned data", function()
      local p = tmp(".npy")
      cv.tensor{{1, 2, 3}, {4, 5, 6}}:save_npy(p)
      local s = read_bytes(p)
      assert.equal("\147NUMPY\1\0", s:sub(1, 8))
      local hlen = s:byte(9) + 256 * s:byte(10)
      assert.equal(0, (10 + hlen) % 64)
      local dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
      assert.equal(dict, s:sub(11, 10 + #dict))
      assert.equal("\n", s:sub(10 + hlen, 10 + hlen))
      assert.equal(10 + hlen + 24, #s)
      assert.equal(string.pack("<f", 6), s:sub(-4))
      cv.zeros(5):save_npy(p)
      assert.matches("'shape': %(5,%), }", read_bytes(p))
    end)

    it("says why it cannot write", function()
      assert.has.error(function() cv.zeros(2):save_npy("no/such/dir/x.npy") end,
        "no/such/dir/x.npy: cannot open for writing (No such file or directory)")
    end)
  end)

  describe("image.load() of PNG", function()
    local cases = {
      gray1 = 1, gray2 = 1, gray4 = 1, gray8 = 1, gray16 = 1,
      graya8 = 2, graya16 = 2, rgb8 = 3, rgb16 = 3, rgba8 = 4, rgba16 = 4,
      palette = 3, palette_trns = 4, gray_trns = 2,
      rgb8_interlaced = 3, rgb16_interlaced = 3,
    }
    for name, channels in pairs(cases) do
      it("reads " .. name .. " as " .. channels .. " x H x W, 0..255", function()
        local t = cv.image.load(D .. name .. ".png")
        local want = cv.load_npy(D .. name .. ".expected.npy")
        assert.same({channels, 2, 3}, t:size())
        assert.same(want:size(), t:size())
        assert_close(flat(want), t, 1e-6)
      end)
    end

    it("scales 16-bit samples as v / 257", function()
      -- rgb16 sample (c=1, y=0, x=0) is 12345 (make_fixtures.py)
      local t = cv.image.load(D .. "rgb16.png")
      assert.near(12345 / 257, at(t, 1, 1, 1), 1e-4)
    end)

    it("reads a large image that compresses well", function()
      local t = cv.image.load(D .. "gray1_1000x1000.png")
      assert.same({1, 1000, 1000}, t:size())
      assert.equal(0, sum(t))
    end)

    it("refuses forged sizes before allocating", function()
      local p = D .. "forged_1000000.png"
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad PNG: a 1000000x1000000 image of 1 channel is larger than " ..
        "the limit of 1073741824 values (near byte offset 41)")
      p = D .. "forged_30000.png"
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad PNG: truncated file (a 30000x30000 image cannot fit in 67 bytes) " ..
        "(near byte offset 41)")
    end)

    it("picks the reader from the bytes, not the name", function()
      local p = write_bytes(read_bytes(D .. "rgb8.png"), ".jpg")
      assert.same({3, 2, 3}, cv.image.load(p):size())
    end)

    it("refuses a PNG cut short, at several lengths", function()
      local whole = read_bytes(D .. "rgb8.png")
      for _, n in ipairs{8, 20, 33, 40, 60, #whole - 12, #whole - 1} do
        local p = write_bytes(whole:sub(1, n))
        assert.has.error(function() cv.image.load(p) end,
          ("%s: bad PNG: truncated file (it ends at byte offset %d)"):format(p, n))
      end
    end)

    it("refuses a corrupt byte", function()
      local whole = read_bytes(D .. "rgb8.png")
      local p = write_bytes(patch(whole, 20, "\0"))   -- inside IHDR: CRC fails
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad PNG: IHDR: CRC error (near byte offset 33)")
      p = write_bytes(patch(whole, 13, "\28"))        -- the chunk type itself
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad PNG: [1C]HDR: invalid chunk type (near byte offset 16)")
    end)
  end)

  describe("image.load() of JPEG", function()
    -- reference values: PIL's decoder (make_fixtures.py prints them)
    it("reads cat.jpg as 3 x 360 x 480 RGB", function()
      local t = cv.image.load(IMAGES .. "cat.jpg")
      assert.same({3, 360, 480}, t:size())
      local want = {
        {0, 0, {26, 57, 49}}, {100, 200, {155, 121, 86}},
        {359, 479, {184, 175, 158}}, {180, 33, {121, 146, 78}},
      }
      for _, w in ipairs(want) do
        for c = 1, 3 do assert.equal(w[3][c], at(t, c, w[1] + 1, w[2] + 1)) end
      end
    end)

    it("reads cat_gray.jpg as 1 x 360 x 480", function()
      local t = cv.image.load(IMAGES .. "cat_gray.jpg")
      assert.same({1, 360, 480}, t:size())
      local want = {{0, 0, 26}, {100, 200, 155}, {359, 479, 183}, {180, 33, 120}}
      for _, w in ipairs(want) do
        assert.equal(w[3], at(t, 1, w[1] + 1, w[2] + 1))
      end
    end)

    it("reads small baseline, gray and progressive files", function()
      local rgb = cv.image.load(D .. "small_rgb.jpg")
      assert.same({3, 16, 16}, rgb:size())
      assert.same({157, 96, 129}, {at(rgb, 1, 6, 10), at(rgb, 2, 6, 10), at(rgb, 3, 6, 10)})
      assert.equal(95987, sum(rgb))
      local prog = cv.image.load(D .. "small_progressive.jpg")
      assert.equal(95987, sum(prog))
      local gray = cv.image.load(D .. "small_gray.jpg")
      assert.same({1, 16, 16}, gray:size())
      assert.equal(110, at(gray, 1, 6, 10))
      assert.equal(31276, sum(gray))
    end)

    it("refuses CMYK", function()
      assert.has.error(function() cv.image.load(D .. "cmyk.jpg") end,
        D .. "cmyk.jpg: CMYK JPEG files are not supported (only gray and color)")
    end)

    it("refuses a JPEG cut short, at several lengths", function()
      local whole = read_bytes(IMAGES .. "cat.jpg")
      for _, n in ipairs{3, 4, 20, 1000, 1363, 20000, 100000, #whole - 1} do
        local p = write_bytes(whole:sub(1, n))
        assert.has.error(function() cv.image.load(p) end,
          ("%s: bad JPEG: truncated file (it ends at byte offset %d)"):format(p, n))
      end
    end)

    it("refuses corrupt tables and a marker inside the data", function()
      local whole = read_bytes(IMAGES .. "cat.jpg")
      -- the DHT segment starts at byte offset 1158: a table count of 255
      local p = write_bytes(patch(whole, 1166, "\255"))
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad JPEG: Bogus Huffman table definition (near byte offset 1160)")
      -- an end-of-image marker in the middle of the entropy-coded data
      p = write_bytes(patch(whole, 50001, "\255\217"))
      assert.has.error(function() cv.image.load(p) end,
        p .. ": bad JPEG: Corrupt JPEG data: premature end of data segment " ..
        "(near byte offset 49992)")
    end)
  end)

  describe("image.load() of anything else", function()
    it("says which formats it knows", function()
      assert.has.error(function() cv.image.load("Makefile") end,
        "Makefile: unknown image format (the first bytes are neither a PNG " ..
        "signature nor a JPEG start of image; supported: PNG, JPEG)")
      local p = write_bytes("")
      assert.has.error(function() cv.image.load(p) end,
        p .. ": unknown image format (the file is empty; supported: PNG, JPEG)")
      p = write_bytes("\137PNG\r\n")                   -- a PNG too short to be one
      assert.has.error(function() cv.image.load(p) end,
        p .. ": unknown image format (the first bytes are neither a PNG " ..
        "signature nor a JPEG start of image; supported: PNG, JPEG)")
    end)

    it("gives the OS reason for a missing file or a folder", function()
      assert.has.error(function() cv.image.load("no/such.png") end,
        "no/such.png: cannot open (No such file or directory)")
      assert.has.error(function() cv.image.load("spec") end,
        "spec: cannot read (Is a directory)")
    end)

    it("leaves the process usable after errors", function()
      for _ = 1, 20 do pcall(cv.image.load, D .. "cmyk.jpg") end
      assert.same({3, 2, 3}, cv.image.load(D .. "rgb8.png"):size())
    end)
  end)

  describe("inputs the fuzzers found", function()
    -- spec/fixtures/io/fuzz/: each file once crashed or misbehaved a reader
    it("npy: a zero size beside huge ones (strides overflowed)", function()
      local p = D .. "fuzz/npy_zero_dim_huge_shape.npy"
      assert.has.error(function() cv.load_npy(p) end,
        p .. ": 'shape' is too large (byte offset 51)")
    end)

    it("npy: an empty array too large for a tensor (error without the file name)", function()
      local p = D .. "fuzz/npy_tensor_too_large.npy"
      assert.has.error(function() cv.load_npy(p) end,
        p .. ": a tensor of that shape is too large")
    end)
  end)

  describe("image.save() and save_png()", function()
    it("round-trips 1, 2, 3 and 4 channels", function()
      for c = 1, 4 do
        local t = cv.empty(c, 5, 7)
        local v = 0
        for k = 1, c do for y = 1, 5 do for x = 1, 7 do
          t[{k, y, x}] = (v * 37) % 256
          v = v + 1
        end end end
        local p = tmp(".png")
        cv.image.save(t, p)
        assert.same(t:totable(), cv.image.load(p):totable())
      end
    end)

    it("writes an H x W tensor as gray", function()
      local p = tmp(".png")
      cv.tensor{{0, 255}, {128, 7}}:save_png(p)
      assert.same({{{0, 255}, {128, 7}}}, cv.image.load(p):totable())
    end)

    it("clamps to 0..255 and rounds half up; NaN becomes 0", function()
      local p = tmp(".png")
      local t = cv.tensor{{{-5, 0.49, 0.5, 254.5, 300, 1.5}}}
      t[{1, 1, 6}] = 0 / 0
      t:save_png(p)
      assert.same({{{0, 0, 1, 255, 255, 0}}}, cv.image.load(p):totable())
    end)

    it("writes a non-contiguous view", function()
      local p = tmp(".png")
      local t = cv.tensor{{{1, 2}, {3, 4}}}:transpose(2, 3)
      t:save_png(p)
      assert.same({{{1, 3}, {2, 4}}}, cv.image.load(p):totable())
    end)

    it("refuses shapes that are not pictures", function()
      local p = tmp(".png")
      assert.has.error(function() cv.image.save(cv.zeros(5, 2, 2), p) end,
        p .. ": cannot write a 5x2x2 tensor as PNG (expected C x H x W with " ..
        "C = 1, 2, 3 or 4, or H x W, none of them 0)")
      assert.has.error(function() cv.zeros(4):save_png(p) end,
        p .. ": cannot write a 4 tensor as PNG (expected C x H x W with " ..
        "C = 1, 2, 3 or 4, or H x W, none of them 0)")
      assert.has.error(function() cv.zeros(3, 0, 2):save_png(p) end,
        p .. ": cannot write a 3x0x2 tensor as PNG (expected C x H x W with " ..
        "C = 1, 2, 3 or 4, or H x W, none of them 0)")
    end)

    it("refuses a name of another format, and says why it cannot write", function()
      assert.has.error(function() cv.image.save(cv.zeros(1, 2, 2), "out.jpg") end,
        "out.jpg: cannot write this format (images are saved as PNG: use a .png name)")
      assert.has.error(function() cv.image.save(cv.zeros(1, 2, 2), "no/dir/x.png") end,
        "no/dir/x.png: cannot open for writing (No such file or directory)")
    end)

    it("checks its arguments", function()
      local ok, msg = pcall(cv.image.save, "x", "y.png")
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*save' %(tensor expected, got string%)", msg)
    end)
  end)
end)
