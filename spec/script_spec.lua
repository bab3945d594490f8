-- The analysis scripts' foundation: JSON, output files, sweeps over data
-- sets (shards merged give the same bits), evaluation, the script runner.
local cv = require "cnnvis"
local support = require "spec.support"
local script = require "cnnvis.script"

local BIN = support.BIN

describe("cv.json", function()
  it("writes keys sorted and numbers that read back exactly", function()
    local v = {b = 0.1, a = {1, 2, 3}, c = 1 / 3, d = 3, e = 1e300, f = "x\"\n",
               g = 2.0, h = 1e-310}
    local text = cv.json.encode(v)
    assert.equal('{"a":[1,2,3],"b":0.1,"c":0.3333333333333333,"d":3,"e":1e+300,' ..
      '"f":"x\\"\\n","g":2,"h":9.99999999999997e-311}', text) -- a subnormal
    local back = cv.json.decode(text)
    assert.equal(1 / 3, back.c)
    assert.equal(1e-310, back.h)
    assert.equal(text, cv.json.encode(back))
  end)

  it("writes NaN as null, an empty table as [] or, marked, as {}", function()
    assert.equal('{"a":null,"b":[],"c":{}}', cv.json.encode{a = 0 / 0, b = {}, c = cv.json.object()})
  end)

  it("writes tensors as nested arrays", function()
    assert.equal("[[1,2],[3,4.5]]", cv.json.encode(cv.tensor{{1, 2}, {3, 4.5}}))
  end)

  it("decodes escapes, nesting and literals", function()
    local v = cv.json.decode(' {"s": "a\\u00e9\\n", "l": [true, false, null, -1.5e2], "o": {}} ')
    assert.equal("a\u{e9}\n", v.s)
    assert.same({true, false}, {v.l[1], v.l[2]})
    assert.equal(-150, v.l[4])
  end)

  it("names the place of a syntax error", function()
    assert.has.error(function() cv.json.decode('{"a": 1,\n "b" 2}') end,
      "json: expected ':' at line 2, column 6")
    assert.has.error(function() cv.json.decode("[1, 2") end, "json: expected ',' or ']' at line 1, column 6")
  end)

  it("refuses values JSON cannot hold", function()
    assert.has.error(function() cv.json.encode{f = print} end, "json.encode: value.f is a function")
  end)
end)

describe("cv.files", function()
  it("makes safe names that never collide", function()
    local name = cv.files.namer()
    assert.equal("fire2_squeeze1x1.png", name("fire2/squeeze1x1", ".png"))
    assert.equal("fire2_squeeze1x1-2.png", name("fire2_squeeze1x1", ".png"))
    assert.equal("fire2_squeeze1x1.png", name("fire2/squeeze1x1", ".png"))
    assert.equal("_img_src_x_onerror_alert_1__", cv.files.safe_name("<img src=x onerror=alert(1)>"))
    assert.equal("_hidden", cv.files.safe_name(".hidden"))
  end)

  it("writes through a temporary name, and says why it cannot", function()
    local dir = support.temp_dir("files")
    cv.files.mkdir(dir .. "/a/b")
    cv.files.write(dir .. "/a/b/x.txt", "hello")
    assert.equal("hello", support.read(dir .. "/a/b/x.txt"))
    assert.has.error(function() cv.files.write(dir .. "/none/x.txt", "x") end,
      "cannot write '" .. dir .. "/none/x.txt': No such file or directory")
    support.write(dir .. "/plain", "")
    assert.has.error(function() cv.files.mkdir(dir .. "/plain/sub") end,
      "cannot make folder '" .. dir .. "/plain': a file of that name is in the way")
    -- a saver that fails leaves nothing behind
    assert.has.error(function() cv.files.save_with(dir .. "/y.png", function() error("bad", 0) end) end, "bad")
    local left = {}
    for f in require("lfs").dir(dir) do left[#left + 1] = f end
    table.sort(left)
    assert.same({".", "..", "a", "plain"}, left)
  end)
end)

describe("cv.sweep", function()
  -- 23 "images" whose values are awkward doubles: sums depend on order.
  local function toy_set()
    local images = {}
    for i = 1, 23 do images[i] = cv.full({1, 1, 1}, 1 / (i + 0.3)) end
    return cv.data.new{n = 23, labels = {}, load = function(i) return images[i], i % 3 end}
  end
  local function value(batch)
    local s = 0.0
    for _, v in ipairs(batch.images:view(-1):totable()) do s = s + v * 1e-3 + v end
    return {sum = s, count = #batch.positions, first = {batch.positions[1]}}
  end

  it("gives the same bits for 1, 2, 3 and 7 shards", function()
    local set = toy_set()
    local whole = cv.sweep.run(set, {batch = 4}, value)
    assert.equal(23, whole.count)
    for _, n in ipairs{2, 3, 7} do
      local parts = {}
      for i = n - 1, 0, -1 do -- any order
        parts[#parts + 1] = cv.json.decode(cv.json.encode(cv.sweep.map(set, {batch = 4, shard = {i, n}}, value)))
      end
      local merged = cv.sweep.fold(cv.sweep.merge(parts))
      assert.equal(cv.json.encode(whole), cv.json.encode(merged))
    end
  end)

  it("gives shards beyond the batches nothing to do", function()
    local p = cv.sweep.map(toy_set(), {batch = 10, shard = "4/9"}, value)
    assert.same({}, p.batches)
    local first, last, batches = cv.sweep.plan(23, 10, {8, 9})
    assert.same({3, 3, 3}, {first, last, batches})
  end)

  it("searches: stops at the first batch that answers, in one process and in shards", function()
    local set, seen = toy_set(), {}
    -- the first position of label 2 and the first of label 0
    local function firsts(batch)
      seen[#seen + 1] = batch.index
      local f = {}
      for k, p in ipairs(batch.positions) do
        local c = tostring(math.tointeger(batch.labels[k]:item()))
        f[c] = f[c] or p
      end
      return f
    end
    local function combine(acc, v)
      local out = {}
      for c, p in pairs(acc) do out[c] = p end
      for c, p in pairs(v) do out[c] = out[c] or p end
      return out
    end
    local function enough(acc) return acc["2"] ~= nil and acc["0"] ~= nil end
    local opts = {batch = 1, combine = combine, enough = enough}
    local whole = cv.sweep.run(set, opts, firsts)
    assert.same({["1"] = 1, ["2"] = 2, ["0"] = 3}, whole)
    assert.same({1, 2, 3}, seen) -- no batch after the answer
    seen = {}
    local parts = {}
    for i = 0, 2 do
      parts[#parts + 1] = cv.sweep.map(set, {batch = 1, shard = {i, 3}, combine = combine,
                                             enough = enough}, firsts)
    end
    assert.same({1, 2, 3, 8, 9, 16, 17, 18}, seen) -- shards 1..7, 8..15, 16..23, each to its answer
    assert.same(whole, cv.sweep.fold(cv.sweep.merge(parts), combine, enough))
  end)

  it("gives a batch the positions of the images that loaded, and of those that did not", function()
    local set = cv.data.new{n = 5, labels = {}, load = function(i)
      if i == 2 or i == 5 then error("broken image " .. i, 0) end
      return cv.zeros(1, 1, 1), 0
    end}
    local stderr = io.stderr
    io.stderr = io.open("/dev/null", "w") -- the warnings of skipped images
    local got = cv.sweep.map(set, {batch = 3}, function(b) return {b.positions, b.skipped} end)
    io.stderr:close()
    io.stderr = stderr
    assert.same({{{1, 3}, {2}}, {{4}, {5}}}, {got.batches[1].value, got.batches[2].value})
  end)

  it("refuses partials that do not belong together", function()
    local set = toy_set()
    local a = cv.sweep.map(set, {batch = 4, shard = {0, 2}, key = {model = "a"}}, value)
    local b = cv.sweep.map(set, {batch = 4, shard = {1, 2}, key = {model = "b"}}, value)
    assert.has.error(function() cv.sweep.merge({a, b}) end,
      'merge: partial 2 was computed with other settings ({"model":"b"}) than partial 1 ({"model":"a"})')
    assert.has.error(function() cv.sweep.merge({a}) end, "merge: shard 1/2 is missing")
    assert.has.error(function() cv.sweep.merge({a, a}) end, "merge: shard 0/2 is given twice")
    local c = cv.sweep.map(set, {batch = 5, shard = {1, 2}, key = {model = "a"}}, value)
    assert.has.error(function() cv.sweep.merge({a, c}) end,
      "merge: partial 2 splits other work (23 items in batches of 5, 2 shards) than partial 1 " ..
      "(23 in batches of 4, 2 shards)")
    assert.has.error(function() cv.sweep.parse_shard("2/2") end,
      "--shard wants i/n with 0 <= i < n (shards count from 0), got '2/2'")
  end)
end)

describe("cv.evaluate()", function()
  it("counts a confusion matrix and per-class error rates in percent", function()
    local dir = support.temp_dir("evaluate")
    local path = support.write(dir .. "/always.prototxt", [[
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 3 weight_filler { type: "constant" value: 0 } } }
]])
    local net = cv.caffe.load(path)
    net.params.ip.bias:copy_(cv.tensor{0, 1, 0}) -- always class 1
    local labels = {0, 1, 1, 2, 0, 1, 1}
    local set = cv.data.new{n = #labels, labels = labels,
                            load = function(i) return cv.zeros(1, 2, 2), labels[i] end}
    local r = cv.evaluate(net, set, {batch = 3})
    assert.equal(7, r.total)
    assert.equal(400 / 7, r.accuracy)
    assert.same({{0, 2, 0}, {0, 4, 0}, {0, 1, 0}}, r.confusion)
    assert.same({100, 0, 100}, r.error_rate)
    assert.same({2, 4, 1}, r.counts)
  end)
end)

describe("cnnvis.script", function()
  local spec = {name = "demo", options = {{"layer", "string", "a layer"},
                                          {"ks", "numbers", "k values"},
                                          {"class", "class", "a class"},
                                          {"quick", "flag", "fewer images"}}}

  it("parses the shared and the script's options", function()
    local o = script.parse(spec, {"--layer", "conv1", "--ks", "7,10", "--class", "0", "--quick",
                                  "--shard", "1/4"})
    assert.equal("conv1", o.layer)
    assert.same({7, 10}, o.ks)
    assert.equal(0, o.class)
    assert.is_true(o.quick)
    assert.same({1, 4}, o.shard)
    assert.equal(50, o.batch)
    assert.equal("out/demo", o.out)
    assert.truthy(o.prototxt:match("fashion_caffenet%.prototxt$"))
  end)

  it("says what is wrong with an option", function()
    assert.has.error(function() script.parse(spec, {"--class", "-1"}) end,
      "--class wants a class number (0-based, as in Caffe), got '-1'")
    assert.has.error(function() script.parse(spec, {"--bogus"}) end, "unknown option '--bogus' (see --help)")
    assert.has.error(function() script.parse(spec, {"--layer"}) end, "--layer needs a value")
    assert.has.error(function() script.parse(spec, {"--prototxt", "x.prototxt"}) end,
      "--prototxt x.prototxt needs --caffemodel FILE (or --caffemodel none for its fillers)")
  end)

  it("runs a script: JSON with its options, files, and errors with status 1", function()
    local dir = support.temp_dir("script")
    local path = support.write(dir .. "/demo.lua", [[
local cv = require "cnnvis"
require("cnnvis.script").run {
  name = "demo",
  options = {{"layer", "string", "a layer"}},
  main = function(ctx)
    local x, info = ctx:input()
    local l = ctx:layer(ctx.opts.layer or "conv1", {Convolution = true})
    local y = ctx.net:forward(x, {upto = l.name})[l.tops[1] ]
    ctx:save_json{layer = l.name, shape = y:size(), source = info.source, label = info.label,
                  file = ctx:save_png(cv.vis.grid(y[1]), "a/" .. l.name)}
  end,
}
]])
    local out = dir .. "/out"
    local cmd = string.format("cd %s && %s %s --out %s 2>&1; echo status $?", support.quote(
      require("lfs").currentdir()), BIN, support.quote(path), support.quote(out))
    local text = io.popen(cmd):read("a")
    assert.equal("status 0\n", text)
    local r = cv.json.read(out .. "/demo.json")
    assert.equal("conv1", r.layer)
    assert.equal("a_conv1.png", r.file)
    assert.equal(cv.data.fashion_mnist("test"):label(1), r.label)
    assert.equal(50, r.options.batch)
    assert.is_truthy(require("lfs").attributes(out .. "/a_conv1.png"))
    local bad = io.popen(string.format("%s %s --out %s --layer pool1 2>&1; echo status $?", BIN,
      support.quote(path), support.quote(out))):read("a")
    assert.truthy(bad:match("^demo: %-%-layer: the net has no Convolution layer 'pool1'; it has: conv1, "))
    assert.truthy(bad:match("status 1\n$"))
  end)
end)
