--- What the specs share: files in and out, temporary paths, the shared
-- fixtures. `local support = require "spec.support"` (specs run from the
-- repository root).
local lfs = require "lfs"
local luassert = require "luassert" -- busted's assert (specs get it as `assert`)

local M = {}

--- The cnnvis launcher the specs run: $CNNVIS_BIN (`make test` sets it to
-- the tree's build), else the tree's build/bin/cnnvis.
M.BIN = os.getenv("CNNVIS_BIN") or (lfs.currentdir() .. "/build/bin/cnnvis")

--- The whole file at path, as bytes.
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- Writes bytes s to path; returns path.
function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

--- A new temporary file holding s (remove it with os.remove).
function M.write_temp(s)
  return M.write(os.tmpname(), s)
end

--- A new empty directory under the system's temporary one; its name ends in
-- "_" .. tag.
function M.temp_dir(tag)
  local base = os.tmpname()
  os.remove(base)
  local dir = base .. "_" .. tag
  assert(lfs.mkdir(dir))
  return dir
end

--- s quoted for sh.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The shared fixtures folder `sub` (e.g. "caffe/"), which sits beside the
-- repository (one level further up when the repository is a git worktree).
function M.shared(sub)
  for _, d in ipairs{"../shared/fixtures/", "../../shared/fixtures/"} do
    if lfs.attributes(d .. sub) then return d .. sub end
  end
  error("the shared fixtures are missing: ../shared/fixtures/" .. sub)
end

--- Element by element, |expected - actual| <= tol * max(1, |expected|)
-- (expected: a number or nested tables; NaN matches NaN).
function M.assert_near(expected, t, tol)
  tol = tol or 1e-6
  local actual = type(t) == "userdata" and t:totable() or t
  if type(expected) == "number" then
    if expected ~= expected then
      luassert.is_true(actual ~= actual, "expected nan, got " .. tostring(actual))
    else
      luassert.near(expected, actual, tol * math.max(1, math.abs(expected)))
    end
    return
  end
  luassert.equal(#expected, #actual)
  for i = 1, #expected do M.assert_near(expected[i], actual[i], tol) end
end

--- A normal random tensor that requires a gradient.
function M.leaf(...)
  local cv = require "cnnvis"
  local t = cv.randn(...)
  t.requires_grad = true
  return t
end

--- Asserts that cv.gradcheck(f, inputs, tol) passes, naming the worst element.
function M.assert_gradcheck(f, inputs, tol)
  local cv = require "cnnvis"
  local ok, worst = cv.gradcheck(f, inputs, tol)
  assert(ok, string.format("input %d at {%s}: analytic %.6g, numeric %.6g",
    worst.input or 0, table.concat(worst.index or {}, ","), worst.analytic or 0,
    worst.numeric or 0))
end

--- Runs sh command cmd; returns its stdout, stderr and exit status.
function M.sh(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(string.format("( %s ) >%s 2>%s", cmd, out, err))
  local o, e = M.read(out), M.read(err)
  os.remove(out)
  os.remove(err)
  return o, e, code
end

--- The front of a command line that starts n processes under Open MPI's
-- mpirun, as root in a container too (its two variables) and on more ranks
-- than cores (--oversubscribe).
function M.mpirun(n)
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " ..
    "mpirun --oversubscribe -np " .. n .. " "
end

--- Runs `cnnvis args` (M.BIN; under n ranks of mpirun when n is given);
-- returns its stdout, stderr and exit status.
function M.cnnvis(args, n)
  return M.sh((n and M.mpirun(n) or "") .. M.quote(M.BIN) .. " " .. args)
end

--- Runs `cnnvis args` as M.cnnvis does and asserts that it succeeded;
-- returns its stderr.
function M.cnnvis_ok(args, n)
  local _, err, code = M.cnnvis(args, n)
  luassert.equal(0, code, err)
  return err
end

return M
