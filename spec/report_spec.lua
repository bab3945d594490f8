local cv = require "cnnvis"
local lfs = require "lfs"

local support = require "spec.support"

local BIN = support.BIN
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

-- base64 text as bytes (for the volumes written beside the page).
local function unbase64(s)
  local digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local out, bits, n = {}, 0, 0
  for c in s:gmatch("[^=]") do
    bits, n = bits << 6 | (digits:find(c, 1, true) - 1), n + 6
    if n >= 8 then
      n = n - 8
      out[#out + 1] = string.char(bits >> n & 255)
    end
  end
  return table.concat(out)
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

  describe("viewers", function()
    local dir, page, html
    setup(function()
      dir = temp_dir()
      page = cv.report.new{title = "viewers", dir = dir}
      page:section("Volumes", 2, "volumes")
      page:section("Again", 2, "volumes")
      page:note("stage <x> failed")
      local t = cv.zeros(3, 2, 4)
      t[{2, 1, 3}] = 2
      t[{3, 2, 4}] = -1
      page:volume{name = "conv1", data = t, range = {-1, 3}, axes = {"x", "y", "<map>"},
                  frames = {"a b/f<1>.png"}, links = {{"v/conv1.nrrd", "conv1 <NRRD>"}}}
      page:player{frames = {{src = "p/1.png", label = "one <b>"}, "p/2.png"},
                  scale = {lo = -0.5, hi = 0.5, colormap = "diverging", label = "one scale"}}
      page:file_image("stage/x&y.png", {caption = "a <caption>"})
      html = support.read(page:save())
    end)
    teardown(function() rm_tree(dir) end)

    it("gives sections the ids asked for, unique on the page", function()
      assert.truthy(html:find('<h2 id="volumes">Volumes</h2>', 1, true))
      assert.truthy(html:find('<h2 id="volumes-2">Again</h2>', 1, true))
      assert.truthy(html:find('<a href="#volumes-2">Again</a>', 1, true))
    end)

    it("writes a volume's values as bytes over its range, base64, in a script beside the page", function()
      local js = support.read(dir .. "/conv1.vol.js")
      assert.truthy(js:find('^%(window%.cnnvisVolumes = window%.cnnvisVolumes || {}%)%["conv1"%] = {'))
      assert.truthy(js:find('"dims":[4,2,3]', 1, true))
      local bytes = unbase64(js:match('"data":"([^"]+)"'))
      assert.equal(24, #bytes)
      -- 0 is 64 of 0..255 over -1..3, 2 is 191 (rounded), -1 is 0
      assert.equal(64, bytes:byte(1))
      assert.equal(191, bytes:byte(8 + 3))
      assert.equal(0, bytes:byte(16 + 8))
      assert.truthy(html:find('<script src="conv1.vol.js"></script>', 1, true))
    end)

    it("puts the viewers' code inline, and no address outside the page", function()
      assert.truthy(html:find("<script>\n// The report page's viewers", 1, true))
      assert.truthy(html:find("getContext('webgl2'", 1, true))
      assert.is_nil(html:find("https?://"))
    end)

    it("escapes names and encodes paths in the viewers", function()
      assert.truthy(html:find("cut &lt;map&gt; at", 1, true))
      assert.truthy(html:find('<img src="a%20b/f%3C1%3E.png"', 1, true))
      assert.truthy(html:find('<a class="file" href="v/conv1.nrrd">conv1 &lt;NRRD&gt;</a>', 1, true))
      assert.truthy(html:find('data-label="one &lt;b&gt;"', 1, true))
      assert.truthy(html:find('<img src="stage/x%26y.png" alt="a &lt;caption&gt;">', 1, true))
      assert.truthy(html:find('<p class="note">stage &lt;x&gt; failed</p>', 1, true))
    end)

    it("draws the player's one colour scale with its ends", function()
      assert.truthy(html:find('<div class="cv-scale"><span>-0.5</span><i style="background:linear-gradient(' ..
        'to right, #2166ac, #67a9cf, #d1e5f0, #f7f7f7, #fddbc7, #ef8a62, #b2182b)"></i><span>0.5</span>' ..
        '<em>one scale</em></div>', 1, true))
    end)

    it("refuses paths that leave the page's folder, and volumes that are not D x H x W", function()
      assert.has.error(function() page:file_image("../x.png") end,
        "report: file path '../x.png' leaves the page's folder")
      assert.has.error(function() page:file_image("/etc/x.png") end,
        "report: a file beside the page needs a relative path, got /etc/x.png")
      assert.has.error(function() page:volume{name = "flat", data = cv.zeros(2, 2)} end,
        "report: volume flat: data must be D x H x W, got 2x2")
      assert.has.error(function() page:volume{name = "a/b", data = cv.zeros(1, 1, 1)} end,
        "report: volume name 'a/b' has characters other than letters, digits, _ -")
    end)

    it("writes base64 as RFC 4648 does", function()
      assert.equal("", cv.report.base64(""))
      assert.equal("TQ==", cv.report.base64("M"))
      assert.equal("TWE=", cv.report.base64("Ma"))
      assert.equal("TWFu", cv.report.base64("Man"))
      assert.equal("AP8A/w==", cv.report.base64("\0\255\0\255"))
    end)
  end)

  describe("scripts/report.lua", function()
    -- LeNet on two classes of two images each, all the same vertical bar
    -- (which LeNet calls a 1, see the fixture's README): class 1 is right,
    -- class 0 wrong, so the accuracy is 50% by construction. The analysis
    -- stages are the stand-ins of spec/fixtures/report_stages, which log
    -- their runs to dir/log.
    local dir, out, html, status
    local seen = 0

    -- Runs the report with the stand-ins; env: "NAME=value ..." before it.
    local function report(extra, env)
      local cmd = {"env", "STANDIN_LOG=" .. q(dir .. "/log"), env or "", q(BIN), "scripts/report.lua",
        "--prototxt", q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(dir .. "/images"), "--labels", q(dir .. "/labels.txt"), "--scale", "0.00390625",
        "--batch", "3", "--scripts", "spec/fixtures/report_stages", "--out", q(dir .. "/out")}
      for _, a in ipairs(extra or {}) do cmd[#cmd + 1] = q(a) end
      local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1"))
      local text = p:read("a")
      return text, p:close()
    end

    -- The stages that ran since the last call (from the stand-ins' log).
    local function ran()
      local names, k = {}, 0
      for line in (io.open(dir .. "/log") and slurp(dir .. "/log") or ""):gmatch("[^\n]+") do
        k = k + 1
        if k > seen then names[#names + 1] = line:match("^(%S+)") end
      end
      seen = k
      return names
    end

    setup(function()
      dir = temp_dir()
      lfs.mkdir(dir)
      lfs.mkdir(dir .. "/images")
      for _, class in ipairs({"d0", "d1"}) do
        lfs.mkdir(dir .. "/images/" .. class)
        for i = 1, 2 do
          local img = cv.zeros(1, 28, 28)
          img[{1, {5, 24}, {14, 16}}] = 255
          cv.image.save(img, string.format("%s/images/%s/%d.png", dir, class, i))
        end
      end
      local f = assert(io.open(dir .. "/labels.txt", "w"))
      for c = 0, 9 do f:write("d", c, " digit ", c, "\n") end
      f:close()
      out, status = report()
      html = slurp(dir .. "/out/index.html")
    end)
    teardown(function() rm_tree(dir) end)

    it("says where the report is, the accuracy it measured and each stage's time", function()
      assert.is_true(status)
      assert.matches("\nreport: .*/out/index%.html %(accuracy 50%.00%% on 4 images, [%d.]+ s%)\n$", "\n" .. out)
      for _, name in ipairs({"model", "activations-0", "activations-1", "volume-1", "volume-2", "reorder",
                             "gradients", "compare_classes", "importance", "removal", "threshold",
                             "validate_importance"}) do
        assert.matches("\nreport: " .. name:gsub("%-", "%%-") .. " +[%d.]+ s  ok\n", "\n" .. out)
      end
    end)

    it("runs every analysis once, with the model's options and the cast from the confusion matrix", function()
      local log = slurp(dir .. "/log")
      assert.same({"activations", "activations", "volume", "volume", "reorder", "gradients",
                   "compare_classes", "importance", "removal", "threshold", "validate_importance"}, ran())
      -- class 0 has the highest error (100%), its images are taken for 1;
      -- no other class has images, so the dissimilar one is the next, 2
      assert.truthy(log:find("compare_classes --prototxt " .. FIX .. "lenet.prototxt --caffemodel " ..
        FIX .. "lenet_iter_10000.caffemodel --scale 0.00390625 --seed 1 --labels " .. dir ..
        "/labels.txt --images " .. dir .. "/images --reference 0 --similar 1 --dissimilar 2 --batch 3 --out " ..
        dir .. "/out/compare_classes\n", 1, true))
      local function logged(name, part)
        for line in log:gmatch("[^\n]+") do
          if line:sub(1, #name + 1) == name .. " " and line:find(part, 1, true) then return true end
        end
        return false
      end
      assert.is_true(logged("volume", " --image " .. dir .. "/images/d0/1.png --layer conv2 "))
      assert.is_true(logged("activations", " --image " .. dir .. "/images/d1/1.png "))
      assert.is_true(logged("removal", " --class 0 --layer conv1 "))
    end)

    it("has the sections in the report's order, each with its id, and a table of contents", function()
      local ids = {}
      for id in html:gmatch('<h2 id="([^"]+)"') do ids[#ids + 1] = id end
      local order = {"model", "activations", "volumes", "reordering", "gradients", "comparison",
                     "importance", "removal", "threshold", "validation", "findings", "run"}
      assert.same(order, ids)
      local toc = {}
      for id in html:match('<nav class="toc">(.-)</nav>'):gmatch('href="#([^"]+)"') do toc[#toc + 1] = id end
      assert.same(order, toc)
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

    it("shows each stage's pictures from its folder", function()
      for _, src in ipairs({"activations-0/conv1.png", "activations-1/pool1.png", "reorder/kmeans_7.png",
                            "gradients/scatter.svg", "importance/importance_conv1.png",
                            "threshold/threshold.svg"}) do
        assert.truthy(html:find('<img src="' .. src .. '"', 1, true), src)
      end
    end)

    it("puts each volume in a viewer, with its data beside the page, the turntable and the NRRD link", function()
      assert.truthy(html:find('<div class="cv-volume" data-volume="v2"', 1, true))
      assert.truthy(html:find('<script src="v1.vol.js"></script>', 1, true))
      assert.truthy(html:find('<a class="file" href="volume-1/volume.nrrd">', 1, true))
      assert.truthy(html:find('<img src="volume-1/frame_02.png"', 1, true))
      -- 10 maps of 12 x 14 over the range 0..5: the ball's centre (5) is 255
      local js = slurp(dir .. "/out/v1.vol.js")
      assert.truthy(js:find('"dims":[14,12,10]', 1, true))
      assert.truthy(js:find('"range":[0,5]', 1, true))
      local bytes = unbase64(js:match('"data":"([^"]+)"'))
      assert.equal(14 * 12 * 10, #bytes)
      local function at(x, y, z) return bytes:byte(((z - 1) * 12 + (y - 1)) * 14 + x) end
      assert.equal(255, at(8, 6, 5))                  -- 5 of 0..5
      assert.equal(153, at(2, 1, 1))                  -- the plane: 3 of 0..5
      assert.equal(0, at(14, 12, 10))
    end)

    it("plays the class comparison's frames on one colour scale and tables the norms", function()
      local player = html:match('<h2 id="comparison">.-<h2 ')
      assert.truthy(player)
      for k = 1, 6 do assert.truthy(player:find('compare_classes/frame_' .. k .. '.png', 1, true)) end
      assert.truthy(html:find('<th class="num">|grad conv1|</th>', 1, true) or html:find("|grad conv1|", 1, true))
    end)

    it("states the findings with the numbers of the stages' results", function()
      assert.truthy(html:find("conv1, 0 digit 0: error 50.00% with nothing removed, 50.00% without the " ..
        "least important filter (2), 100.00% without the most important (3)", 1, true))
      assert.truthy(html:find("Spearman against the oracle: conv1: gradient norm 0.80, Taylor -0.20, L1 0.10", 1, true))
      local findings = cv.json.decode(slurp(dir .. "/out/findings.json"))
      assert.equal(8, #findings)
      assert.equal("removal", findings[6].section)
      -- (0.5 + 0.25 + 1 + 0.75) / 4 over 0.25
      assert.equal("mean importance for class 0 digit 0 over its own images / over the other 1 " ..
        "classes' images: conv1 2.50", findings[5].measured)
    end)

    it("runs nothing again when nothing changed", function()
      ran()
      local text, ok = report()
      assert.is_true(ok)
      assert.same({}, ran())
      assert.equal(12, select(2, text:gsub(" s  cached\n", "")))
      -- the same page, but for the date and the table of timings
      local function body(page)
        return (page:gsub("%d%d%d%d%-%d%d%-%d%d %d%d:%d%d UTC", ""):gsub('<h2 id="run">.-</table>', ""))
      end
      assert.equal(body(html), body(slurp(dir .. "/out/index.html")))
    end)

    it("runs again only the stages an option changes", function()
      ran()
      assert.is_true(select(2, report({"--layer", "conv2"})))
      assert.same({"reorder", "removal", "threshold", "validate_importance"}, ran())
      assert.is_true(select(2, report({"--layer", "conv2", "--class", "1"})))
      -- a new reference class: its first image goes to the one-image stages too
      assert.same({"volume", "volume", "reorder", "gradients", "compare_classes", "importance", "removal",
                   "threshold", "validate_importance"}, ran())
    end)

    it("runs every stage again with --fresh", function()
      ran()
      assert.is_true(select(2, report({"--fresh"})))
      assert.equal(11, #ran())
    end)

    it("leaves a note where a stage fails, writes the rest, and exits with status 1", function()
      local text, ok = report({"--fresh"}, "STANDIN_FAIL=removal")
      assert.is_nil(ok)
      assert.truthy(text:find("report: removal +[%d.]+ s  FAILED: removal: no misclassified image of class 3\n"))
      assert.truthy(text:find("report: failed stages: removal\n", 1, true))
      local page = slurp(dir .. "/out/index.html")
      local section = page:match('<h2 id="removal">.-<h2 ')
      assert.truthy(section:find('<p class="note">The stage removal did not run to the end: removal: ' ..
        "no misclassified image of class 3</p>", 1, true))
      assert.truthy(page:find('<h2 id="threshold">', 1, true))
      assert.truthy(page:find("not measured: removal: no misclassified image of class 3", 1, true))
    end)

    it("escapes every name from the model and the label file", function()
      local evil = "<img src=x onerror=alert(1)>"
      local def = slurp(FIX .. "lenet.prototxt"):gsub('name: "conv1"', 'name: "' .. evil .. '"')
      local proto = support.write(dir .. "/evil.prototxt", def)
      local labels = dir .. "/evil_labels.txt"
      local f = assert(io.open(labels, "w"))
      for c = 0, 9 do f:write("d", c, " <b>digit</b> & ", c, "\n") end
      f:close()
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua", "--prototxt", q(proto),
        "--caffemodel", "none", "--images", q(dir .. "/images"), "--labels", q(labels),
        "--stages", "gradients", "--scripts", "spec/fixtures/report_stages",
        "--out", q(dir .. "/evil"), "2>&1"}, " "))
      local text = p:read("a")
      assert.is_true(p:close(), text)
      local page = slurp(dir .. "/evil/index.html")
      assert.truthy(page:find("<td>&lt;img src=x onerror=alert(1)&gt;</td><td>Convolution</td>", 1, true))
      assert.is_nil(page:find("<img src=x", 1, true))
      assert.is_nil(page:find("<b>digit", 1, true))
      assert.truthy(page:find("&lt;b&gt;digit&lt;/b&gt; &amp; 0", 1, true))
    end)

    it("takes the classes of folders named by WordNet ids from the label file", function()
      -- one folder, n00000002, which is class 1 in the label file: the bars
      -- are all right
      local d = temp_dir()
      lfs.mkdir(d)
      lfs.mkdir(d .. "/img")
      lfs.mkdir(d .. "/img/n00000002")
      local img = cv.zeros(1, 28, 28)
      img[{1, {5, 24}, {14, 16}}] = 255
      cv.image.save(img, d .. "/img/n00000002/bar.png")
      local f = assert(io.open(d .. "/synsets.txt", "w"))
      for c = 0, 9 do f:write(string.format("n%08d digit %d\n", c + 1, c)) end
      f:close()
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua",
        "--prototxt", q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(d .. "/img"), "--labels", q(d .. "/synsets.txt"), "--scale", "0.00390625",
        "--stages", "gradients", "--scripts", "spec/fixtures/report_stages", "--out", q(d .. "/out"), "2>&1"}, " "))
      local text = p:read("a")
      p:close()
      local page = slurp(d .. "/out/index.html")
      rm_tree(d)
      assert.matches("accuracy 100%.00%% on 1 images", text)
      assert.truthy(page:find('<td class="num">1</td><td>digit 1</td><td class="num">1</td>', 1, true))
    end)

    it("runs the real 3.1 scripts on CaffeNet's definition with fillers and a folder of photos", function()
      local d = temp_dir()
      lfs.mkdir(d)
      lfs.mkdir(d .. "/img")
      local images = support.shared("images/")
      for class, files in pairs({n01440764 = {"fish-bike.jpg"}, n02123045 = {"cat.jpg", "cat_gray.jpg"}}) do
        lfs.mkdir(d .. "/img/" .. class)
        for _, file in ipairs(files) do
          support.write(d .. "/img/" .. class .. "/" .. file, slurp(images .. file))
        end
      end
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua", "--prototxt",
        q(FIX .. "caffenet_deploy.prototxt"), "--caffemodel", "none", "--mean",
        q(FIX .. "imagenet_mean.binaryproto"), "--labels", q(FIX .. "synset_words.txt"),
        "--images", q(d .. "/img"), "--batch", "3", "--stages", "activations,volumes,reordering",
        "--show", "1", "--out", q(d .. "/out"), "2>&1"}, " "))
      local text = p:read("a")
      local ok = p:close()
      local page = slurp(d .. "/out/index.html")
      local volume = cv.json.decode(slurp(d .. "/out/volume-1/volume.json"))
      rm_tree(d)
      assert.is_true(ok, text)
      assert.matches("accuracy [%d.]+%% on 3 images", text)
      for _, name in ipairs({"activations-0", "volume-1", "volume-5", "reorder"}) do
        assert.truthy(text:find("report: " .. name:gsub("%-", "%%-") .. " +[%d.]+ s  ok\n"), name)
      end
      -- conv1's 96 maps of 55 x 55, in a viewer, and the reordering's numbers
      assert.same({96, 55, 55}, volume.shape)
      assert.truthy(page:find('<div class="cv-volume" data-volume="v1"', 1, true))
      assert.truthy(page:find("neighbour correlation before", 1, true))
    end)

    it("names a layer that --layer asks for and the net does not have", function()
      local p = io.popen(table.concat({q(BIN), "scripts/report.lua", "--prototxt",
        q(FIX .. "lenet.prototxt"), "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"),
        "--images", q(dir .. "/images"), "--layer", "conv9", "--out", q(dir .. "/out2"), "2>&1"}, " "))
      local msg = p:read("a")
      assert.is_nil(p:close())
      assert.equal("report: --layer: the net has no Convolution layer 'conv9'; it has: conv1, conv2\n", msg)
    end)

    it("prints its usage with --help and refuses an unknown option", function()
      local help = io.popen(q(BIN) .. " scripts/report.lua --help"):read("a")
      assert.truthy(help:find("usage: cnnvis scripts/report.lua [options]", 1, true))
      assert.truthy(help:find("--caffemodel FILE", 1, true))
      assert.truthy(help:find("--fresh ", 1, true))
      local p = io.popen(q(BIN) .. " scripts/report.lua --colour 2>&1")
      local msg = p:read("a")
      assert.is_nil(p:close())
      assert.equal("report: unknown option '--colour' (see --help)\n", msg)
    end)
  end)
end)
