local cv = require "cnnvis"
local lfs = require "lfs"

local support = require "spec.support"

local BIN = os.getenv("CNNVIS_BIN")
local FIX = support.shared("caffe/")
local slurp, q = support.read, support.quote

-- A fresh directory under the system's temporary directory.
local function temp_dir()
  local path = os.tmpname()
  os.remove(path)
  return path .. "_d"
end

local function rm_tree(path)
  os.execute("rm -rf " .. q(path))
end

describe("report", function()
  describe("new() and save()", function()
    local dir, page, html
    setup(function()
      dir = temp_dir() .. "/nested/report"
      page = cv.report.new{title = "A <test> & more", dir = dir, subtitle = "sub"}
      page:section("Numbers & names")
      page:text("x < y")
      page:table{header = {"class", "name", "rate"}, rows = {{0, "cat<1>", "1.50"}, {1, "dog", "-"}}}
      page:image(cv.vis.grid(cv.tensor{{{0, 255}}}, {normalize = "none", pad = 0}),
                 {name = "two.png", caption = "two pixels"})
      page:section("Plots")
      page:plot(cv.plot.bar{labels = {"a", "b"}, values = {1, 2}}, {name = "bars.svg"})
      html = slurp(page:save())
    end)
    teardown(function() rm_tree(dir:match("^(.*)/nested")) end)

    it("makes the directory and its parents and writes index.html there", function()
      assert.equal("directory", lfs.attributes(dir, "mode"))
      assert.equal("file", lfs.attributes(dir .. "/index.html", "mode"))
    end)

    it("escapes the title, headings, text and cells", function()
      assert.truthy(html:find("<title>A &lt;test&gt; &amp; more</title>", 1, true))
      assert.truthy(html:find(">Numbers &amp; names</h2>", 1, true))
      assert.truthy(html:find("<p>x &lt; y</p>", 1, true))
      assert.truthy(html:find("<td>cat&lt;1&gt;</td>", 1, true))
    end)

    it("right-aligns columns of numbers, counting '-' as missing", function()
      assert.truthy(html:find('<th class="num">class</th><th>name</th><th class="num">rate</th>', 1, true))
      assert.truthy(html:find('<td class="num">-</td>', 1, true))
    end)

    it("writes pictures beside the page and links them by relative name", function()
      assert.truthy(html:find('<img src="two.png" alt="two pixels">', 1, true))
      local back = cv.image.load(dir .. "/two.png")
      assert.same({{{0, 255}}, {{0, 255}}, {{0, 255}}}, back:totable())
    end)

    it("puts plots inline and saves them beside the page", function()
      assert.equal(1, select(2, html:gsub("<svg ", "")))
      assert.equal("file", lfs.attributes(dir .. "/bars.svg", "mode"))
    end)

    it("needs nothing outside the page: inline CSS, no scripts, no remote links", function()
      assert.truthy(html:find("<style>", 1, true))
      assert.is_nil(html:find("<link", 1, true))
      assert.is_nil(html:find("<script", 1, true))
      assert.is_nil(html:find('src="http', 1, true))
      assert.is_nil(html:find('href="http', 1, true))
    end)

    it("lists the sections with anchors", function()
      assert.truthy(html:find('<a href="#numbers-names">Numbers &amp; names</a>', 1, true))
      assert.truthy(html:find('<h2 id="numbers-names">', 1, true))
    end)

    it("refuses a file name used twice, or with a path in it", function()
      assert.has.error(function() page:image(cv.zeros(3, 1, 1), {name = "two.png"}) end,
        "report: the page already has a file named two.png")
      assert.has.error(function() page:image(cv.zeros(3, 1, 1), {name = "../x.png"}) end,
        "report: file name '../x.png' has characters other than letters, digits, . _ -")
    end)
  end)

  describe("scripts/report.lua", function()
    -- LeNet on two classes of two images each, all the same vertical bar
    -- (which LeNet calls a 1, see the fixture's README): class 1 is right,
    -- class 0 wrong, so the accuracy is 50% by construction.
    local dir, out, html, status
    setup(function()
      dir = temp_dir()
      for _, class in ipairs({"d0", "d1"}) do
        lfs.mkdir(dir) ; lfs.mkdir(dir .. "/" .. class)
        for i = 1, 2 do
          local img = cv.zeros(1, 28, 28)
          img[{1, {5, 24}, {14, 16}}] = 255
          cv.image.save(img, string.format("%s/%s/%d.png", dir, class, i))
        end
      end
      local labels = dir .. "/labels.txt"
      local f = assert(io.open(labels, "w"))
      for c = 0, 9 do f:write("d", c, " digit ", c, "\n") end
      f:close()
      local p = assert(io.popen(table.concat({q(BIN), "scripts/report.lua",
        "--prototxt", q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(dir), "--labels", q(labels), "--scale", "0.00390625", "--batch", "3",
        "--scripts", "spec/fixtures/report_stages", "--out", q(dir .. "/out"), "2>&1"}, " ")))
      out = p:read("a")
      status = p:close()
      html = slurp(dir .. "/out/index.html")
    end)
    teardown(function() rm_tree(dir) end)

    it("says where the report is and the accuracy it measured", function()
      assert.is_true(status)
      assert.matches("\nreport: .*/out/index%.html %(accuracy 50%.00%% on 4 images, [%d.]+ s%)\n$", "\n" .. out)
      assert.matches("\nreport: model +[%d.]+ s  ok\n", "\n" .. out)
    end)

    it("has the table of layers that print(net) gives", function()
      assert.truthy(html:find("<td>conv1</td><td>Convolution</td><td>64x20x24x24</td>" ..
        '<td class="num">520</td>', 1, true))
      assert.truthy(html:find('<td>total</td><td></td><td></td><td class="num">431080</td>', 1, true))
    end)

    it("gives per-class error rates: 100% for class 0, 0% for class 1", function()
      assert.truthy(html:find('<td class="num">0</td><td>digit 0</td><td class="num">2</td>' ..
        '<td class="num">2</td><td class="num">100.00</td>', 1, true))
      assert.truthy(html:find('<td class="num">1</td><td>digit 1</td><td class="num">2</td>' ..
        '<td class="num">0</td><td class="num">0.00</td>', 1, true))
    end)

    it("writes the confusion matrix, the error rates and the filters in model/", function()
      for _, name in ipairs({"confusion.png", "filters.png", "error_rates.svg"}) do
        assert.equal("file", lfs.attributes(dir .. "/out/model/" .. name, "mode"), name)
        assert.truthy(html:find('src="model/' .. name .. '"', 1, true), name)
      end
      -- 20 filters of 5x5 in 5 columns, at scale 8 with 2 pixels of padding
      assert.same({3, 4 * 40 + 5 * 2, 5 * 40 + 6 * 2},
        cv.image.load(dir .. "/out/model/filters.png"):size())
    end)

    it("takes the classes of folders named by WordNet ids from the label file", function()
      -- one folder, n00000002, which is class 1 in the label file: the bars
      -- are all right
      local d = temp_dir()
      lfs.mkdir(d)
      lfs.mkdir(d .. "/n00000002")
      local img = cv.zeros(1, 28, 28)
      img[{1, {5, 24}, {14, 16}}] = 255
      cv.image.save(img, d .. "/n00000002/bar.png")
      local f = assert(io.open(d .. "/synsets.txt", "w"))
      for c = 0, 9 do f:write(string.format("n%08d digit %d\n", c + 1, c)) end
      f:close()
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua",
        "--prototxt", q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(d), "--labels", q(d .. "/synsets.txt"), "--scale", "0.00390625",
        "--stages", "gradients", "--scripts", "spec/fixtures/report_stages", "--out", q(d .. "/out"), "2>&1"}, " "))
      local text = p:read("a")
      p:close()
      local page = slurp(d .. "/out/index.html")
      rm_tree(d)
      assert.matches("accuracy 100%.00%% on 1 images", text)
      assert.truthy(page:find('<td class="num">1</td><td>digit 1</td><td class="num">1</td>', 1, true))
    end)

    it("names a layer that --layer asks for and the net does not have", function()
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua", "--prototxt",
        q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(dir), "--layer", "conv9", "--out", q(dir .. "/out2"), "2>&1"}, " "))
      local msg = p:read("a")
      assert.is_nil(p:close())
      assert.equal("report: the net has no layer 'conv9'\n", msg)
    end)

    it("prints its usage with --help and refuses an unknown option", function()
      local help = io.popen(q(BIN) .. " scripts/report.lua --help"):read("a")
      assert.truthy(help:find("usage: cnnvis scripts/report.lua [options]", 1, true))
      assert.truthy(help:find("--caffemodel FILE", 1, true))
      local p = io.popen(q(BIN) .. " scripts/report.lua --colour 2>&1")
      local msg = p:read("a")
      assert.is_nil(p:close())
      assert.equal("report: unknown option --colour (see --help)\n", msg)
    end)
  end)
end)
