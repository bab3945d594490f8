--- Progress of long work (a pass over a data set, a sweep, a stage of the
-- report): a bar on stderr when stderr is a terminal, nothing otherwise.
--
--   local bar = cv.progress.new("importance", #set)
--   for ... do ...; bar:update(done) end
--   local seconds = bar:finish()
local core = require "cnnvis.core"

local M = {}

local is_tty

--- Whether stderr is a terminal (asked once).
function M.is_terminal()
  if is_tty == nil then
    local ok = os.execute("test -t 2")
    is_tty = ok == true or ok == 0
  end
  return is_tty
end

local Bar = {}
Bar.__index = Bar

local WIDTH = 30

local function clock_str(seconds)
  seconds = math.max(0, math.floor(seconds + 0.5))
  return string.format("%d:%02d", seconds // 60, seconds % 60)
end

--- A bar for `total` units of work named `label`. opts.unit names the
-- units in the rate ("images"); opts.quiet shows nothing even on a terminal.
function M.new(label, total, opts)
  opts = opts or {}
  return setmetatable({label = label, total = math.max(total or 0, 0), done = 0,
                       unit = opts.unit or "images", t0 = core.clock(), shown = false,
                       visible = not opts.quiet and M.is_terminal()}, Bar)
end

--- Sets the work done so far (and redraws the bar).
function Bar:update(done, note)
  self.done = done
  if not self.visible then return end
  local frac = self.total > 0 and math.min(done / self.total, 1) or 1
  local filled = math.floor(frac * WIDTH)
  local elapsed = core.clock() - self.t0
  local rate = done / math.max(elapsed, 1e-9)
  local eta = rate > 0 and (self.total - done) / rate or 0
  io.stderr:write(string.format("\r%s [%s%s] %d/%d  %.0f %s/s  ETA %s %s", self.label,
    string.rep("#", filled), string.rep(".", WIDTH - filled), done, self.total, rate, self.unit,
    clock_str(eta), note or ""))
  self.shown = true
end

--- Ends the bar's line; returns the seconds since the bar began.
function Bar:finish()
  if self.shown then io.stderr:write("\n") end
  self.shown = false
  return core.clock() - self.t0
end

return M
