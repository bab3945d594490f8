-- The report opened in a real browser: Debian's chromium, headless, driven
-- by playwright-core (spec/browser/check.js; `make deps-test` installs
-- both). The page is the report of LeNet on a tiny folder with the
-- stand-in stages of spec/fixtures/report_stages, and a label file whose
-- names are markup.
local cv = require "cnnvis"
local lfs = require "lfs"
local support = require "spec.support"

local BIN = support.BIN
local FIX = support.shared("caffe/")
local q = support.quote
local CHROMIUM = os.getenv("CNNVIS_CHROMIUM") or "/usr/bin/chromium"

describe("the report in chromium", function()
  local dir, result, raw

  setup(function()
    assert(lfs.attributes(CHROMIUM), CHROMIUM .. " is missing: make deps-test installs chromium")
    assert(lfs.attributes("spec/browser/node_modules/playwright-core"),
      "spec/browser/node_modules is missing: make deps-test (npm ci) installs playwright-core")
    dir = support.temp_dir("browser")
    lfs.mkdir(dir .. "/images")
    for _, class in ipairs({"d0", "d1"}) do
      lfs.mkdir(dir .. "/images/" .. class)
      local img = cv.zeros(1, 28, 28)
      img[{1, {5, 24}, {14, 16}}] = 255
      cv.image.save(img, string.format("%s/images/%s/1.png", dir, class))
    end
    local f = assert(io.open(dir .. "/labels.txt", "w"))
    for c = 0, 9 do f:write("d", c, " <img src=x onerror=alert(1)><b>", c, "</b>\n") end
    f:close()
    local p = io.popen(table.concat({q(BIN), "scripts/report.lua", "--prototxt", q(FIX .. "lenet.prototxt"),
      "--caffemodel", q(FIX .. "lenet_iter_10000.caffemodel"), "--images", q(dir .. "/images"),
      "--labels", q(dir .. "/labels.txt"), "--scale", "0.00390625", "--scripts",
      "spec/fixtures/report_stages", "--out", q(dir .. "/out"), "2>&1"}, " "))
    local text = p:read("a")
    assert(p:close(), text)
    -- a sanitizer preloaded by make asan is not for node and chromium
    p = io.popen("env -u LD_PRELOAD node spec/browser/check.js " .. q(dir .. "/out/index.html") .. " 2>&1")
    raw = p:read("a")
    p:close()
    local ok, r = pcall(cv.json.decode, raw)
    assert(ok, "check.js: " .. raw)
    result = r
  end)
  teardown(function() if dir then os.execute("rm -rf " .. q(dir)) end end)

  it("logs no console error, no page error, no failed request, no dialog", function()
    assert.same({}, result.console_errors)
    assert.same({}, result.page_errors)
    assert.same({}, result.failed_requests)
    assert.same({}, result.dialogs)
    assert.equal(0, result.injected)
  end)

  it("loads every picture", function()
    assert.is_true(#result.images > 20)
    for _, img in ipairs(result.images) do
      assert.is_true(img.naturalWidth > 0, img.src)
    end
  end)

  it("has every section the contents list", function()
    assert.same({"model", "activations", "volumes", "reordering", "gradients", "comparison", "importance",
                 "removal", "threshold", "validation", "findings", "run"}, result.ids)
    for i, id in ipairs(result.ids) do assert.equal("#" .. id, result.toc[i]) end
  end)

  it("draws each volume with WebGL2, and the picture changes when a slice slider moves or the mouse turns it", function()
    assert.is_true(result.webgl2)
    assert.equal(2, #result.volumes)
    for _, v in ipairs(result.volumes) do
      assert.is_false(v.nogl)
      -- 360 x 360, most of it the volume (the rest is the background)
      assert.is_true(v.nonwhite > 360 * 360 // 10, v.name .. ": " .. v.nonwhite)
      assert.is_true(v.changed_pixels > 500, v.name .. ": " .. v.changed_pixels)
      assert.is_true(v.screenshots_differ)
      assert.is_true(v.turned_pixels > 500, v.name .. ": " .. v.turned_pixels)
    end
  end)

  it("steps and plays the class comparison's frames", function()
    assert.equal(1, #result.players)
    local pl = result.players[1]
    assert.equal(6, pl.frames)
    assert.equal("0", pl.first)
    assert.equal("1", pl.after_step)
    assert.are_not.equal("1", pl.after_play)
    assert.equal(1, pl.shown)
  end)
end)
