-- cnnvis.mpi: Open MPI's rank, size, barrier and gather of strings, run
-- under mpirun (as root in a container too) and as a single process.
local support = require "spec.support"
local BIN = support.BIN
local q = support.quote

-- Runs chunk on n ranks (n = nil: without mpirun); stdout, stderr, status.
local function ranks(n, chunk)
  return support.sh((n and support.mpirun(n) or "") .. q(BIN) .. " -e " .. q(chunk))
end

describe("cnnvis.mpi", function()
  it("is found by the launcher with no LUA_CPATH", function()
    local out, err, code = support.sh("env -u LUA_CPATH " .. q(BIN) .. " -e " ..
      q("print((package.searchpath('cnnvis.mpi', package.cpath):match('[^/]+/[^/]+$')))"))
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("cnnvis/mpi.so\n", out)
  end)

  it("gives each of 3 ranks its rank and brings their strings to rank 0 in rank order", function()
    local out, err, code = ranks(3, [[
local mpi = require "cnnvis.mpi"
local rank, size = mpi.init()
assert(rank == mpi.rank() and size == mpi.size())
-- rank 1 sends nothing, rank 2 a zero byte among its bytes
local parts = mpi.gather(({"zero", "", "two\0" .. string.rep("x", 70000)})[rank + 1])
mpi.barrier()
if rank == 0 then
  print(size, #parts, parts[1], parts[2] == "", #parts[3], parts[3]:sub(1, 5) == "two\0x")
else
  assert(parts == nil)
end
mpi.finalize()
mpi.finalize()
]])
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("3\t3\tzero\ttrue\t70004\ttrue\n", out)
  end)

  it("gives every rank every rank's string with allgather", function()
    local out, err, code = ranks(2, [[
local mpi = require "cnnvis.mpi"
local all = mpi.allgather(string.rep("r", mpi.rank() + 1))
io.write(mpi.rank(), ":", table.concat(all, ","), "\n")
]])
    assert.equal("", err)
    assert.equal(0, code)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    table.sort(lines)
    assert.same({"0:r,rr", "1:r,rr"}, lines)
  end)

  it("asks for FUNNELED threads and gets them", function()
    local out, err, code = ranks(2, [[
local mpi = require "cnnvis.mpi"
if mpi.rank() == 0 then print(mpi.thread_level(), mpi.library:match("^Open MPI") ~= nil) end
]])
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("funneled\ttrue\n", out)
  end)

  it("runs as one rank without mpirun, and refuses to start again after finalize", function()
    local out, err, code = ranks(nil, [[
local mpi = require "cnnvis.mpi"
print(mpi.initialized(), mpi.size(), mpi.rank(), mpi.gather("alone")[1], mpi.initialized())
mpi.finalize()
print(mpi.initialized(), select(2, pcall(mpi.barrier)))
]])
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("false\t1\t0\talone\ttrue\nfalse\tcnnvis.mpi: MPI was finalized " ..
      "and cannot start again in this process\n", out)
  end)

  it("checks its argument before starting MPI", function()
    local out, err, code = ranks(nil, [[
local mpi = require "cnnvis.mpi"
print(select(2, pcall(mpi.gather, {})), mpi.initialized())
]])
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("bad argument #1 to 'cnnvis.mpi.gather' (string expected, got table)\tfalse\n", out)
  end)
end)
