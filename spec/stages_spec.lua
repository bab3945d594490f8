local stages = require "cnnvis.stages"
local support = require "spec.support"

local q = support.quote

-- A stand-in script: logs its arguments to the file its first argument
-- names, then writes job.json from its second (or fails on "fail", or
-- writes nothing on "nothing").
local SCRIPT = [[
local out
for i = 1, #arg do if arg[i] == "--out" then out = arg[i + 1] end end
local f = assert(io.open(arg[1], "a"))
f:write(table.concat(arg, " ", 2), "\n")
f:close()
if arg[2] == "fail" then
  io.stderr:write("job: no image of class 3\nstack traceback:\n  [C]: in ?\n")
  os.exit(1)
end
if arg[2] ~= "nothing" then
  f = assert(io.open(out .. "/job.json", "w"))
  f:write('{"value": ' .. arg[2] .. ', "name": "a\\"b\\u00e9", "list": [1, 2.5e3, true, {"x": []}]}')
  f:close()
end
]]

describe("stages", function()
  local dir, script, log, seen

  -- The lines the script logged since the last call.
  local function new_runs()
    local all = {}
    for line in support.read(log):gmatch("[^\n]+") do all[#all + 1] = line end
    local new = {table.unpack(all, seen + 1)}
    seen = #all
    return new
  end

  local function runner(opts)
    opts = opts or {}
    opts.dir, opts.tty = dir .. "/out", false
    local written = {}
    opts.write = function(s) written[#written + 1] = s end
    return stages.new(opts), written
  end

  local function work(run, value, extra)
    local spec = {name = "job", script = script, args = {log, value}, files = {dir .. "/model"}}
    for k, v in pairs(extra or {}) do spec[k] = v end
    return run:stage(spec)
  end

  before_each(function()
    dir = support.temp_dir("stages")
    script = support.write(dir .. "/job.lua", SCRIPT)
    log = support.write(dir .. "/log", "")
    support.write(dir .. "/model", "weights 1")
    seen = 0
  end)
  after_each(function() os.execute("rm -rf " .. q(dir)) end)

  describe("stage()", function()
    it("runs a script with --out DIR/<name> and reads its JSON back", function()
      local run, written = runner()
      local r = work(run, "7")
      assert.is_true(r.ok)
      assert.is_nil(r.cached)
      assert.same({value = 7, name = 'a"b\u{e9}', list = {1, 2500.0, true, {x = {}}}}, r.result)
      assert.same({"7 --out " .. dir .. "/out/job"}, new_runs())
      assert.matches("^report: job +[%d.]+ s  ok\n$", table.concat(written))
      assert.equal("job", r.dir)
    end)

    it("takes the cached result when the files, arguments and script are the same", function()
      work(runner(), "7")
      new_runs()
      local run, written = runner()
      local r = work(run, "7")
      assert.is_true(r.ok and r.cached)
      assert.equal(7, r.result.value)
      assert.same({}, new_runs())
      assert.matches("^report: job +[%d.]+ s  cached\n$", table.concat(written))
    end)

    it("runs again when an argument, a file's content, the script or the key changes", function()
      work(runner(), "7")
      assert.equal(1, #new_runs())
      assert.equal(8, work(runner(), "8").result.value)
      assert.equal(1, #new_runs())
      support.write(dir .. "/model", "weights 2")   -- same size, new content
      assert.is_nil(work(runner(), "8").cached)
      assert.equal(1, #new_runs())
      support.write(script, SCRIPT .. "\n-- changed\n")
      assert.is_nil(work(runner(), "8").cached)
      assert.equal(1, #new_runs())
      assert.is_nil(work(runner(), "8", {key = {limit = 5}}).cached)
      assert.equal(1, #new_runs())
      assert.is_true(work(runner(), "8", {key = {limit = 5}}).cached)
      assert.equal(0, #new_runs())
    end)

    it("runs everything again with fresh", function()
      work(runner(), "7")
      new_runs()
      local r = work(runner{fresh = true}, "7")
      assert.is_true(r.ok)
      assert.is_nil(r.cached)
      assert.equal(1, #new_runs())
    end)

    it("keys a folder by its listing", function()
      local images = dir .. "/images"
      require("lfs").mkdir(images)
      support.write(images .. "/a.png", "x")
      work(runner(), "7", {dirs = {images}})
      assert.is_true(work(runner(), "7", {dirs = {images}}).cached)
      support.write(images .. "/b.png", "y")
      assert.is_nil(work(runner(), "7", {dirs = {images}}).cached)
    end)

    it("reports a failing script by its message, without the traceback, and caches no failure", function()
      local run, written = runner()
      local r = work(run, "fail")
      assert.is_false(r.ok)
      assert.equal("job: no image of class 3", r.error)
      assert.matches("^report: job +[%d.]+ s  FAILED: job: no image of class 3\n$", table.concat(written))
      assert.is_false(run:all_ok())
      new_runs()
      assert.is_false(work(runner(), "fail").ok)
      assert.equal(1, #new_runs())
    end)

    it("fails a stage whose script writes no JSON, or is missing", function()
      local r = work(runner(), "nothing")
      assert.is_false(r.ok)
      assert.equal(script .. " wrote no " .. dir .. "/out/job/job.json", r.error)
      local m = runner():stage{name = "gone", script = dir .. "/gone.lua"}
      assert.is_false(m.ok)
      assert.equal(dir .. "/gone.lua is not in this tree", m.error)
    end)

    it("starts a stage that runs again from an empty folder", function()
      work(runner(), "7")
      support.write(dir .. "/out/job/stale.png", "old")
      work(runner(), "8")
      assert.is_nil(io.open(dir .. "/out/job/stale.png"))
    end)

    it("runs a function in this process, writes its JSON and caches it by key", function()
      local calls = 0
      local function spec(k)
        return {name = "model", key = {limit = k}, run = function(d, progress)
          calls = calls + 1
          progress(1, 2)
          support.write(d .. "/picture.png", "p")
          return {accuracy = 91.5, limit = k}
        end}
      end
      local r = runner():stage(spec(3))
      assert.is_true(r.ok)
      assert.same({accuracy = 91.5, limit = 3}, require("cnnvis.json").decode(support.read(dir .. "/out/model/model.json")))
      assert.is_true(runner():stage(spec(3)).cached)
      assert.equal(1, calls)
      assert.is_nil(runner():stage(spec(4)).cached)
      assert.equal(2, calls)
    end)

    it("gives a function's error as the stage's message", function()
      local r = runner():stage{name = "model", run = function() error("no image could be read", 0) end}
      assert.is_false(r.ok)
      assert.equal("no image could be read", r.error)
    end)

    it("fails a stage whose needs failed, without running it", function()
      local run = runner()
      local bad = work(run, "fail")
      new_runs()
      local r = run:stage{name = "after", script = script, args = {log, "1"}, needs = {bad}}
      assert.is_false(r.ok)
      assert.equal("needs job, which failed", r.error)
      assert.same({}, new_runs())
    end)

    it("lists the time of each stage", function()
      local run = runner()
      work(run, "7")
      work(run, "fail")
      local t = run:timings()
      assert.equal(2, #t)
      assert.same({"job", "job"}, {t[1].name, t[2].name})
      assert.is_true(t[1].ok)
      assert.is_false(t[2].ok)
      assert.is_true(t[1].seconds > 0)
    end)

    it("refuses a name that is not a folder name, and a stage with neither script nor run", function()
      assert.has.error(function() runner():stage{name = "../x", script = script} end,
        "stages: a stage needs a name of letters, digits, _ -")
      assert.has.error(function() runner():stage{name = "x"} end,
        "stages: stage x needs script or run (one of them)")
    end)
  end)
end)
