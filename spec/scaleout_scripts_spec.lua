-- The analysis scripts beyond one process, on the shipped model: one
-- process, --shard i/n merged by `cnnvis merge` (in as many rounds as the
-- script has loops) and `mpirun -np 2` write the very same JSON bytes.
local support = require "spec.support"
local q, read = support.quote, support.read
local cnnvis, ok = support.cnnvis, support.cnnvis_ok

local tmp

-- Runs `script args` as n shards into dir, merging after each round, until
-- the merge writes the result; returns the number of rounds.
local function sharded(script, args, n, dir)
  for round = 1, 10 do
    for i = 0, n - 1 do
      ok(string.format("scripts/%s.lua %s --shard %d/%d --out %s", script, args, i, n, q(dir)))
    end
    local err = ok("merge " .. q(dir))
    if not err:find("needs the shards again", 1, true) then return round end
  end
  error(script .. ": still not merged after 10 rounds")
end

-- Asserts the files a and b hold the same bytes; tells where they part.
local function assert_same_file(a, b)
  local x, y = read(a), read(b)
  if x == y then return x end
  local at = 1
  while x:sub(at, at) == y:sub(at, at) do at = at + 1 end
  error(string.format("%s and %s differ from byte %d: ...%s... against ...%s...", a, b, at,
    x:sub(math.max(1, at - 60), at + 40), y:sub(math.max(1, at - 60), at + 40)), 2)
end

-- The JSON `name` of script with args: one process, n shards, 2 MPI ranks;
-- asserts the three are the same bytes and returns them and the rounds.
local function same_everywhere(script, args, name, n)
  local base = tmp .. "/" .. script .. n
  ok(string.format("scripts/%s.lua %s --out %s", script, args, q(base .. "_one")))
  local rounds = sharded(script, args, n, base .. "_shards")
  ok(string.format("scripts/%s.lua %s --out %s", script, args, q(base .. "_mpi")), 2)
  local one = base .. "_one/" .. name .. ".json"
  assert_same_file(one, base .. "_shards/" .. name .. ".json")
  return assert_same_file(one, base .. "_mpi/" .. name .. ".json"), rounds
end

describe("analysis scripts in shards and on MPI ranks", function()
  local cv = require "cnnvis"

  setup(function() tmp = support.temp_dir("scaleout_scripts") end)
  teardown(function() os.execute("rm -rf " .. q(tmp)) end)

  -- The number of images of class c among the first n test images.
  local function class_count(c, n)
    local set, count = cv.data.fashion_mnist("test"), 0
    for i = 1, n do if set:label(i) == c then count = count + 1 end end
    return count
  end

  it("importance.lua --compare: every class's loop, 2 shards", function()
    local one, rounds = same_everywhere("importance", "--class 6 --limit 150 --batch 20 --compare",
      "importance", 2)
    local r = cv.json.decode(one)
    assert.equal(class_count(6, 150), r.images)
    -- one loop per class present among the images; the others are compared
    local present = 0
    for c = 0, 9 do if class_count(c, 150) > 0 then present = present + 1 end end
    assert.equal(present, rounds)
    assert.equal(present - 1, #r.compare)
  end)

  it("removal.lua: the importance, then three error-rate loops, 3 shards", function()
    local one, rounds = same_everywhere("removal", "--class 6 --layer conv2 --limit 120 --batch 25",
      "removal", 3)
    assert.equal(4, rounds)
    local r = cv.json.decode(one)
    assert.equal(120, r.images)
    assert.not_equal(r.least.filter, r.most.filter)
  end)

  it("threshold.lua: 2 shards", function()
    local one = same_everywhere("threshold", "--class 6 --layer conv3 --limit 100 --batch 30 " ..
      "--thresholds 0,1e9", "threshold", 2)
    local r = cv.json.decode(one)
    assert.same({0, 1e9}, r.thresholds)
    assert.same({0, 96}, r.removed)
  end)

  it("compare_classes.lua: the search for its images stops where one process stops", function()
    local one, rounds = same_everywhere("compare_classes", "--limit 3000 --batch 40 --layers conv1",
      "compare", 2)
    assert.equal(1, rounds)
    local r = cv.json.decode(one)
    assert.equal(6, #r.images)
    -- shard 0 found all six before the end of its half of the batches
    local partial = cv.json.read(tmp .. "/compare_classes2_shards/compare_classes.shard-0-of-2.json").partial
    local batches = (partial.count + partial.batch - 1) // partial.batch
    assert.is_true(#partial.batches < batches // 2, #partial.batches .. " of " .. batches // 2)
  end)

  it("runs 7 shards and 3 ranks over 3 images", function()
    local args = "--class 6 --limit 30 --batch 1 --layers conv1"
    local one = tmp .. "/few_one"
    ok("scripts/importance.lua " .. args .. " --out " .. q(one))
    assert.equal(1, sharded("importance", args, 7, tmp .. "/few_shards"))
    ok("scripts/importance.lua " .. args .. " --out " .. q(tmp .. "/few_mpi"), 3)
    assert_same_file(one .. "/importance.json", tmp .. "/few_shards/importance.json")
    local bytes = assert_same_file(one .. "/importance.json", tmp .. "/few_mpi/importance.json")
    assert.equal(3, cv.json.decode(bytes).images)
  end)

  it("refuses to merge the shards of another class", function()
    local dir = tmp .. "/mixed"
    ok("scripts/importance.lua --class 6 --limit 60 --layers conv1 --shard 0/2 --out " .. q(dir))
    ok("scripts/importance.lua --class 5 --limit 60 --layers conv1 --shard 1/2 --out " .. q(dir))
    local _, err, code = cnnvis("merge " .. q(dir))
    assert.equal(1, code)
    assert.equal("cnnvis: merge: " .. dir .. "/importance.shard-0-of-2.json and " .. dir ..
      "/importance.shard-1-of-2.json are shards of different runs: --class is 6 in one, " ..
      "5 in the other\n", err)
  end)
end)
