--- What the specs share: files in and out, temporary paths, the shared
-- fixtures. `local support = require "spec.support"` (specs run from the
-- repository root).
local lfs = require "lfs"

local M = {}

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

return M
