-- Analysis scripts split into shards: --shard i/n and `cnnvis merge`, and
-- the ranks of mpirun, write the very bytes one process writes.
local support = require "spec.support"
local q, read = support.quote, support.read
local cnnvis, ok = support.cnnvis, support.cnnvis_ok
local tmp

local function cv_json_read(path)
  return require("cnnvis").json.read(path)
end

local EVALUATE = "scripts/evaluate.lua --limit 130 --batch 50"

describe("shards", function()
  setup(function()
    tmp = support.temp_dir("shards")
  end)

  teardown(function()
    os.execute("rm -rf " .. q(tmp))
  end)

  describe("scripts/evaluate.lua", function()
    it("writes the same bytes in one process, as 2 shards merged and on 2 MPI ranks", function()
      ok(EVALUATE .. " --out " .. q(tmp .. "/one"))
      local err = ok(EVALUATE .. " --shard 0/2 --out " .. q(tmp .. "/sh"))
      assert.equal("evaluate: shard 0/2 of loop 1 written to " .. tmp ..
        "/sh/evaluate.shard-0-of-2.json; when all 2 are there: cnnvis merge " .. tmp .. "/sh\n", err)
      ok(EVALUATE .. " --shard 1/2 --out " .. q(tmp .. "/sh"))
      assert.is_nil(io.open(tmp .. "/sh/evaluate.json"))
      ok("merge " .. q(tmp .. "/sh"))
      ok(EVALUATE .. " --out " .. q(tmp .. "/mpi"), 2)
      local one = read(tmp .. "/one/evaluate.json")
      assert.equal(one, read(tmp .. "/sh/evaluate.json"))
      assert.equal(one, read(tmp .. "/mpi/evaluate.json"))
      -- and it holds what a forward of the 130 images says, counted by hand
      local cv = require "cnnvis"
      local net = cv.caffe.load("examples/models/fashion_caffenet.prototxt",
        "examples/models/fashion_caffenet.caffemodel")
      local set = cv.data.fashion_mnist("test")
      local correct = 0
      cv.no_grad(function()
        for i = 1, 130 do
          local x, label = set:get(i)
          local y = net:forward(x:unsqueeze(1))[net.outputs[#net.outputs]]
          if y:view(-1):argmax(1):item() - 1 == label then correct = correct + 1 end
        end
      end)
      local r = cv.json.decode(one)
      assert.equal(130, r.total)
      assert.equal(correct, r.correct)
    end)

    it("merges 5 shards of 3 batches (2 of them empty) into the same bytes", function()
      for i = 0, 4 do ok(EVALUATE .. " --shard " .. i .. "/5 --out " .. q(tmp .. "/five")) end
      assert.same({}, cv_json_read(tmp .. "/five/evaluate.shard-0-of-5.json").partial.batches)
      assert.same({}, cv_json_read(tmp .. "/five/evaluate.shard-2-of-5.json").partial.batches)
      ok("merge " .. q(tmp .. "/five"))
      assert.equal(read(tmp .. "/one/evaluate.json"), read(tmp .. "/five/evaluate.json"))
    end)

    it("runs 5 MPI ranks over 3 batches", function()
      ok(EVALUATE .. " --out " .. q(tmp .. "/mpi5"), 5)
      assert.equal(read(tmp .. "/one/evaluate.json"), read(tmp .. "/mpi5/evaluate.json"))
    end)
  end)

  describe("cv.shards.run", function()
    it("shares a library loop among MPI ranks and gives every rank all of it", function()
      local chunk = [[
local net = cv.caffe.load("examples/models/fashion_caffenet.prototxt",
  "examples/models/fashion_caffenet.caffemodel")
local set = cv.data.fashion_mnist("test"):subset((function()
  local t = {} for i = 1, 130 do t[i] = i end return t end)())
local r = cv.evaluate(net, set, {batch = 50, sweep = cv.shards.run})
io.write(cv.json.encode{r.correct, r.total, r.confusion}, "\n")
]]
      local one, err, code = cnnvis("-e " .. q(chunk))
      assert.equal("", err)
      assert.equal(0, code)
      local both
      both, err, code = cnnvis("-e " .. q(chunk), 2)
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(one .. one, both)
      local r = cv_json_read(tmp .. "/one/evaluate.json")
      assert.equal(require("cnnvis").json.encode{r.correct, r.total, r.confusion} .. "\n", one)
    end)
  end)

  describe("cnnvis merge", function()
    local function refused(dirs, message)
      local out, err, code = cnnvis("merge " .. dirs)
      assert.equal("", out)
      assert.equal("cnnvis: " .. message .. "\n", err)
      assert.equal(1, code)
    end

    it("refuses the shards of another model, of other options, a missing or doubled shard", function()
      local a, b = tmp .. "/a", tmp .. "/b"
      local b2, b3 = tmp .. "/b2", tmp .. "/b3"
      ok(EVALUATE .. " --shard 0/2 --out " .. q(a))
      refused(q(a), "merge: shard 1/2 is missing")
      refused(q(a) .. " " .. q(a), "merge: shard 0/2 is given twice")
      ok(EVALUATE .. " --shard 1/2 --caffemodel none --prototxt " ..
        "examples/models/fashion_caffenet.prototxt --out " .. q(b))
      refused(q(a) .. " " .. q(b), "merge: " .. a .. "/evaluate.shard-0-of-2.json and " .. b ..
        "/evaluate.shard-1-of-2.json are shards of different runs: --caffemodel is " ..
        '"examples/models/fashion_caffenet.caffemodel" in one, "none" in the other')
      ok(EVALUATE .. " --shard 1/2 --limit 120 --out " .. q(b2))
      refused(q(a) .. " " .. q(b2), "merge: " .. a .. "/evaluate.shard-0-of-2.json and " .. b2 ..
        "/evaluate.shard-1-of-2.json are shards of different runs: --limit is 130 in one, " ..
        "120 in the other")
      ok(EVALUATE .. " --shard 1/3 --out " .. q(b3))
      refused(q(a) .. " " .. q(b3), "merge: partial 2 splits other work (130 items in batches " ..
        "of 50, 3 shards) than partial 1 (130 in batches of 50, 2 shards)")
      refused(q(tmp .. "/one"), "merge: no shard files (<script>.shard-I-of-N.json) in " ..
        tmp .. "/one")
      refused(q(tmp .. "/nowhere"), "merge: no folder '" .. tmp .. "/nowhere'")
    end)
  end)

  describe("a script of two loops, the second on the first's result", function()
    local script
    setup(function()
      script = support.write(tmp .. "/twoloops.lua", [[
local cv = require "cnnvis"
require("cnnvis.script").run {
  name = "twoloops",
  options = {{"fail_at", "count", "raise in this batch of the second loop"}},
  main = function(ctx)
    local set, blob = ctx:inputs().set, ctx.net.outputs[1]
    local first = ctx:sweep(set, {}, function(b)
      return {n = b.images:size(1), s = ctx.net:forward(b.images)[blob]:max(2):sum():item()}
    end)
    local mean = first.s / first.n
    local second = ctx:sweep(set, {key = {mean = mean}}, function(b)
      if b.index == ctx.opts.fail_at then error("batch " .. b.index .. " is bad", 0) end
      local d = ctx.net:forward(b.images)[blob]:max(2) - mean
      return {d = (d * d):sum():item()}
    end)
    ctx:save_json{n = first.n, mean = mean, var = second.d / first.n}
  end,
}
]])
    end)

    it("needs two rounds of shards and merges, and one mpirun, for the one-process bytes", function()
      local run = q(script) .. " --limit 230 --batch 40"
      ok(run .. " --out " .. q(tmp .. "/two1"))
      local dir = tmp .. "/two3"
      for i = 0, 2 do ok(run .. " --shard " .. i .. "/3 --out " .. q(dir)) end
      local err = ok("merge " .. q(dir))
      assert.equal("twoloops: loop 1 merged into " .. dir .. "/twoloops.merged.json; loop 2 " ..
        "needs the shards again: rerun them with the same options and --out, then cnnvis " ..
        "merge " .. dir .. "\n", err)
      assert.is_nil(io.open(dir .. "/twoloops.json"))
      for i = 0, 2 do
        assert.matches("of loop 2 written", ok(run .. " --shard " .. i .. "/3 --out " .. q(dir)))
      end
      ok("merge " .. q(dir))
      local one = read(tmp .. "/two1/twoloops.json")
      assert.equal(one, read(dir .. "/twoloops.json"))
      ok(run .. " --out " .. q(tmp .. "/two_mpi"), 3)
      assert.equal(one, read(tmp .. "/two_mpi/twoloops.json"))
      assert.equal(230, cv_json_read(tmp .. "/two1/twoloops.json").n)
    end)

    it("refuses a shard of a later loop among those of an earlier one", function()
      local run = q(script) .. " --limit 230 --batch 40"
      local dir = tmp .. "/mixed"
      for i = 0, 1 do ok(run .. " --shard " .. i .. "/2 --out " .. q(dir)) end
      ok("merge " .. q(dir))
      ok(run .. " --shard 0/2 --out " .. q(dir))
      local _, err, code = cnnvis("merge " .. q(dir))
      assert.equal("cnnvis: merge: " .. dir .. "/twoloops.shard-1-of-2.json is a shard of loop " ..
        "1, " .. dir .. "/twoloops.shard-0-of-2.json of loop 2: rerun the older shards\n", err)
      assert.equal(1, code)
    end)

    it("ends every MPI rank when one rank's loop fails, rank 0 saying why", function()
      -- 6 batches over 2 ranks: batch 5 is rank 1's
      local out, err, code = cnnvis(q(script) .. " --limit 230 --batch 40 --fail_at 5 --out " ..
        q(tmp .. "/fail"), 2)
      assert.equal("", out)
      assert.not_equal(0, code)
      assert.truthy(err:find("twoloops: batch 5 is bad (rank 1 of 2)\n", 1, true), err)
      local _, count = err:gsub("twoloops:", "")
      assert.equal(1, count)
      assert.is_nil(io.open(tmp .. "/fail/twoloops.json"))
    end)

    it("refuses --shard under mpirun", function()
      local _, err, code = cnnvis(q(script) .. " --limit 230 --shard 0/2 --out " ..
        q(tmp .. "/both"), 2)
      assert.not_equal(0, code)
      assert.truthy(err:find("twoloops: --shard 0/2 under mpirun: each of its 2 ranks takes " ..
        "its own shard already\n", 1, true), err)
    end)
  end)
end)
