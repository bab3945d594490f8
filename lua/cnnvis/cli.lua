--- The launcher's subcommands: `cnnvis train solver.prototxt ...`,
-- `cnnvis merge DIR...`.
local M = {}

local USAGE = [[
usage: cnnvis train solver.prototxt [--resume snapshot.caffemodel] [--iters n] [--quiet]
  --resume file   start from a snapshot (its .solverstate beside it restores
                  the momentum history and the iteration)
  --iters n       stop after n iterations in all (in place of max_iter)
  --quiet         no progress bar, even on a terminal]]

-- Parses `solver [--resume f] [--iters n] [--quiet]` into a table.
function M.parse_train(args)
  local opts, i = {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--resume" or a == "--iters" then
      local v = args[i + 1]
      if not v then error(a .. " needs a value\n" .. USAGE, 0) end
      if a == "--resume" then
        opts.resume = v
      else
        opts.max_iter = math.tointeger(tonumber(v))
        if not opts.max_iter or opts.max_iter < 0 then
          error("--iters wants a non-negative integer, got '" .. v .. "'", 0)
        end
      end
      i = i + 2
    elseif a == "--quiet" then
      opts.quiet, i = true, i + 1
    elseif a == "-h" or a == "--help" then
      opts.help, i = true, i + 1
    elseif a:sub(1, 2) == "--" or opts.solver then
      error("train: unexpected argument '" .. a .. "'\n" .. USAGE, 0)
    else
      opts.solver, i = a, i + 1
    end
  end
  if not opts.solver and not opts.help then error("train: give a solver file\n" .. USAGE, 0) end
  return opts
end

local MERGE_USAGE = [[
usage: cnnvis merge DIR...
  merges the shard files (<script>.shard-I-of-N.json, written by an analysis
  script run with --shard I/N) of one run found in the folders, and runs the
  script on to its result, written to the first DIR as one process writes it]]

local commands = {}

function commands.merge(...)
  local dirs = {...}
  if dirs[1] == "-h" or dirs[1] == "--help" then
    print(MERGE_USAGE)
    return
  end
  for _, d in ipairs(dirs) do
    if d:sub(1, 1) == "-" then error("merge: unexpected option '" .. d .. "'\n" .. MERGE_USAGE, 0) end
  end
  require("cnnvis.shards").merge(dirs)
end

function commands.train(...)
  local opts = M.parse_train({...})
  if opts.help then
    print(USAGE)
    return
  end
  local result = require("cnnvis.train").run(opts.solver, opts)
  print(string.format("trained %d iterations in %.1f s; weights: %s", result.iter,
    result.seconds, result.snapshot or "(not saved)"))
end

--- Runs subcommand word with its arguments (strings). A failure prints
-- "cnnvis: message" on stderr (no traceback: the message names the file
-- and what is wrong) and exits with status 1.
function M.main(word, ...)
  local command = commands[word]
  local args = table.pack(...)
  local ok, err = pcall(function()
    if not command then error("unknown command '" .. tostring(word) .. "'", 0) end
    command(table.unpack(args, 1, args.n))
  end)
  if not ok then
    io.stderr:write("cnnvis: ", (tostring(err):gsub("^[^:]*%.lua:%d+: ", "")), "\n")
    os.exit(1, true)
  end
end

return M
