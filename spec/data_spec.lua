local cv = require "cnnvis"

-- Small IDX files written byte by byte from the format's definition.
local support = require "spec.support"
local DIR = support.temp_dir("data")
local write = support.write

-- IDX ubyte file: 00 00 08 ndim, dims big-endian, then the values.
local function idx_bytes(dims, values, type_code)
  local parts = {string.pack("BBBB", 0, 0, type_code or 8, #dims)}
  for _, d in ipairs(dims) do parts[#parts + 1] = string.pack(">I4", d) end
  for _, v in ipairs(values) do parts[#parts + 1] = string.pack("B", v) end
  return table.concat(parts)
end

local function gzip(path)
  assert(os.execute("gzip -c " .. path .. " > " .. path .. ".gz"))
  return path .. ".gz"
end

-- Three 2x3 images: image k holds 10k + 0..5; labels 2, 0, 2.
local IMAGE_VALUES = {}
for k = 0, 2 do for v = 0, 5 do IMAGE_VALUES[#IMAGE_VALUES + 1] = 10 * k + v end end
local images = write(DIR .. "/images-idx3-ubyte", idx_bytes({3, 2, 3}, IMAGE_VALUES))
local labels = write(DIR .. "/labels-idx1-ubyte", idx_bytes({3}, {2, 0, 2}))

describe("data", function()
  describe("load_idx()", function()
    it("reads a plain IDX file into its shape", function()
      local t = cv.load_idx(images)
      assert.same({3, 2, 3}, t:size())
      assert.same({{20, 21, 22}, {23, 24, 25}}, t[3]:totable())
    end)

    it("reads a gzipped IDX file the same", function()
      assert.same(cv.load_idx(images):totable(), cv.load_idx(gzip(images)):totable())
    end)

    it("reads big-endian int32 and float values", function()
      local p = write(DIR .. "/ints", string.pack("BBBB>I4>i4>i4", 0, 0, 0x0C, 1, 2, -7, 70000))
      assert.same({-7, 70000}, cv.load_idx(p):totable())
      local q = write(DIR .. "/floats", string.pack("BBBB>I4>f", 0, 0, 0x0D, 1, 1, 1.5))
      assert.same({1.5}, cv.load_idx(q):totable())
    end)

    it("rejects a wrong magic number, naming the file and the bytes", function()
      local p = write(DIR .. "/bad_magic", "\1\2\8\1" .. string.pack(">I4", 1) .. "\0")
      assert.has.error(function() cv.load_idx(p) end, p .. ": not an IDX file (magic bytes "
        .. "01 02 08 01 at byte offset 0; expected 00 00 <type 08..0e> <dims>)")
    end)

    it("rejects a truncated header", function()
      local p = write(DIR .. "/short_header", "\0\0\8\3" .. string.pack(">I4", 3))
      assert.has.error(function() cv.load_idx(p) end,
        p .. ": truncated header: 0 of 4 bytes at byte offset 8")
    end)

    it("rejects truncated data, naming where the file ends", function()
      local p = write(DIR .. "/short_data", idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5}))
      assert.has.error(function() cv.load_idx(p) end, p .. ": truncated data: the header "
        .. "promises 8 values of 1 byte(s) after byte offset 16, the file ends at byte offset 21")
    end)

    it("rejects a truncated gzipped file", function()
      local values = {}
      for k = 1, 4000 do values[k] = k % 251 end
      local gz = gzip(write(DIR .. "/whole", idx_bytes({10, 20, 20}, values)))
      local f = assert(io.open(gz, "rb"))
      local bytes = f:read("a")
      f:close()
      local p = write(DIR .. "/cut.gz", bytes:sub(1, #bytes - 10))
      local ok, msg = pcall(cv.load_idx, p)
      assert.is_false(ok)
      assert.matches(p:gsub("%p", "%%%0") .. ": truncated data", msg)
    end)

    it("names a file that cannot be opened", function()
      assert.has.error(function() cv.load_idx(DIR .. "/none") end, DIR .. "/none: cannot open")
    end)
  end)

  describe("idx()", function()
    local set = cv.data.idx(images, labels)

    it("gives #set, set[i] and set:get(i) with 0-based labels", function()
      assert.equal(3, #set)
      assert.same({1, 2, 3}, set[2].image:size())
      assert.equal(0, set[2].label)
      local image, label = set:get(3)
      assert.same({{{20, 21, 22}, {23, 24, 25}}}, image:totable())
      assert.equal(2, label)
    end)

    it("rejects a position out of range", function()
      assert.has.error(function() set:get(4) end,
        "data set: sample 4 is out of range (the set has 3)")
    end)

    it("rejects counts that do not match", function()
      local two = write(DIR .. "/two-labels", idx_bytes({2}, {1, 1}))
      assert.has.error(function() cv.data.idx(images, two) end,
        two .. " holds 2 labels but " .. images .. " holds 3 images")
    end)

    it("picks a class with of_class()", function()
      local twos = set:of_class(2)
      assert.equal(2, #twos)
      assert.equal(2, twos[2].label)
      assert.equal(20, twos[2].image[1][1][1]:item())
      assert.equal(0, #set:of_class(1))
    end)

    it("transforms images with map()", function()
      local doubled = set:map(function(x) return x * 2 end)
      assert.equal(3, #doubled)
      assert.equal(40, doubled[3].image[1][1][1]:item())
      assert.equal(2, doubled[3].label)
    end)
  end)

  describe("batches()", function()
    local set = cv.data.idx(images, labels)

    it("covers every sample once, in order without shuffle", function()
      local got = {}
      for b in set:batches(2) do got[#got + 1] = {b.images:size(1), b.labels:totable()} end
      assert.same({{2, {2, 0}}, {1, {2}}}, got)
    end)

    it("shuffles by seed: the same seed, the same order", function()
      local function order(seed)
        local o = {}
        for b in set:batches(1, {shuffle = seed}) do o[#o + 1] = b.positions[1] end
        return o
      end
      assert.same(order(7), order(7))
      local sorted = order(7)
      table.sort(sorted)
      assert.same({1, 2, 3}, sorted)
    end)

    it("drops a short last batch when asked", function()
      local n = 0
      for _ in set:batches(2, {drop_last = true}) do n = n + 1 end
      assert.equal(1, n)
    end)

    it("mirrors images left-right", function()
      local flipped, plain = 0, 0
      for b in set:batches(3, {mirror = true, shuffle = 1}) do
        for k, i in ipairs(b.positions) do
          local row = b.images[k][1][1]:totable()
          local base = 10 * (i - 1)
          if row[1] == base + 2 then
            assert.same({base + 2, base + 1, base}, row)
            flipped = flipped + 1
          else
            assert.same({base, base + 1, base + 2}, row)
            plain = plain + 1
          end
        end
      end
      assert.equal(3, flipped + plain)
    end)

    it("rejects a bad batch size", function()
      assert.has.error(function() set:batches(0) end,
        "batches: the batch size must be a positive integer")
    end)
  end)

  describe("fashion_mnist()", function()
    it("reads Debian's files with the classes in the dataset's order", function()
      local test = cv.data.fashion_mnist("test")
      assert.equal(10000, #test)
      assert.same({1, 28, 28}, test[1].image:size())
      assert.equal(9, test[1].label) -- the first test image is an ankle boot
      assert.equal("Ankle boot", test.classes[10])
      assert.equal("T-shirt/top", test.classes[1])
      assert.equal(1000, #test:of_class(6))
    end)

    it("rejects an unknown split", function()
      assert.has.error(function() cv.data.fashion_mnist("val") end,
        "fashion_mnist: give \"train\" or \"test\", not val")
    end)
  end)

  describe("folder()", function()
    local root = DIR .. "/folder"
    os.execute("mkdir -p " .. root .. "/n002 " .. root .. "/n001")
    cv.image.save(cv.full(1, 4, 4, 10), root .. "/n001/a.png")
    cv.image.save(cv.full(1, 4, 4, 20), root .. "/n002/b.png")
    cv.image.save(cv.full(1, 4, 4, 30), root .. "/n002/c.png")
    local words = write(DIR .. "/synsets.txt", "n002 second class\nn001 first class\n")

    it("maps sub-folders to classes through the label file", function()
      local set = cv.data.folder(root, {labels = words})
      assert.equal(3, #set)
      assert.equal(1, set[1].label) -- n001 is on line 2: class 1
      assert.equal(0, set[2].label)
      assert.equal(20, set[2].image[1][1][1]:item())
      assert.equal("second class", set.classes[1])
    end)

    it("without a label file, numbers the sorted sub-folders", function()
      local set = cv.data.folder(root)
      assert.equal(0, set[1].label)
      assert.equal(1, set[3].label)
    end)

    it("rejects a sub-folder the label file lacks", function()
      local other = write(DIR .. "/other.txt", "n002 only\n")
      assert.has.error(function() cv.data.folder(root, {labels = other}) end,
        "folder: " .. root .. "/n001 is not a class of label file " .. other)
    end)

    it("warns about an image that does not decode and skips it in batches", function()
      local bad_root = DIR .. "/bad_folder"
      os.execute("mkdir -p " .. bad_root .. "/a")
      cv.image.save(cv.full(1, 4, 4, 5), bad_root .. "/a/1.png")
      write(bad_root .. "/a/2.png", "not a png at all")
      local set = cv.data.folder(bad_root)
      local err_path = DIR .. "/stderr.txt"
      local saved = io.stderr
      io.stderr = assert(io.open(err_path, "w"))
      local sizes = {}
      local ok, msg = pcall(function()
        for b in set:batches(2) do sizes[#sizes + 1] = b.images:size(1) end
      end)
      io.stderr:close()
      io.stderr = saved
      assert.is_true(ok, msg)
      assert.same({1}, sizes)
      local f = io.open(err_path)
      local warning = f:read("a")
      f:close()
      assert.matches("warning: skipping sample 2: .*2%.png", warning)
    end)
  end)

  describe("list()", function()
    local root = DIR .. "/folder"

    it("reads `path label` lines relative to the list's folder", function()
      local list = write(DIR .. "/list.txt", "folder/n001/a.png 4\n\nfolder/n002/c.png 0\n")
      local set = cv.data.list(list)
      assert.equal(2, #set)
      assert.equal(4, set[1].label)
      assert.equal(30, set[2].image[1][1][1]:item())
    end)

    it("names the file and line of a malformed line", function()
      local list = write(DIR .. "/bad_list.txt", root .. "/n001/a.png 1\njust-a-path\n")
      assert.has.error(function() cv.data.list(list) end,
        list .. ":2: expected 'path label' with an integer label")
    end)

    it("names the file and line of a label outside the label file", function()
      local words = write(DIR .. "/two.txt", "a\nb\n")
      local list = write(DIR .. "/far_list.txt", root .. "/n001/a.png 1\n" .. root .. "/n001/a.png 2\n")
      assert.has.error(function() cv.data.list(list, {labels = words}) end,
        list .. ":2: label 2 is outside label file " .. words .. " (2 classes)")
    end)

    it("reports an image that does not decode when it is read", function()
      local list = write(DIR .. "/missing_list.txt", "nowhere.png 0\n")
      local ok, msg = pcall(function() return cv.data.list(list)[1] end)
      assert.is_false(ok)
      assert.matches("nowhere%.png", msg)
    end)
  end)

  describe("gather()", function()
    it("copies samples in the given order, mirrored when asked", function()
      local src = cv.tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}
      local out = cv.gather(src, {2, 1}, {true, false})
      assert.same({{{6, 5}, {8, 7}}, {{1, 2}, {3, 4}}}, out:totable())
    end)

    it("rejects a position out of range", function()
      assert.has.error(function() cv.gather(cv.zeros(2, 3), {3}) end,
        "gather: sample 3 is out of range (the source has 2)")
    end)
  end)
end)
