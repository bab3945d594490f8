-- The `cnnvis` launcher, run as a program: its command line is lua5.4's,
-- so lua5.4 itself is the reference wherever the two should agree.
local support = require "spec.support"
local BIN = support.BIN
local q, slurp, spit = support.quote, support.read, support.write

local function sh_output(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return (s:gsub("\n$", ""))
end

local ROOT = sh_output("pwd -P") -- specs run from the repo root
local tmp

-- Runs `prog args...` in tmp (or opts.cwd) with opts.stdin as its input and
-- opts.env ("VAR=x ..." or "-u VAR") in front; returns stdout, stderr, status.
local function run(args, opts)
  opts = opts or {}
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  spit(tmp .. "/stdin", opts.stdin or "")
  local cmd = string.format("cd %s && env %s %s %s <%s >%s 2>%s",
    q(opts.cwd or tmp), opts.env or "", q(opts.prog or BIN),
    table.concat(words, " "), q(tmp .. "/stdin"), q(tmp .. "/out"),
    q(tmp .. "/err"))
  local _, how, code = os.execute(cmd)
  assert.equal("exit", how)
  return slurp(tmp .. "/out"), slurp(tmp .. "/err"), code
end

-- The same command under lua5.4, with its program name shown as cnnvis's.
local function run_lua(args, opts)
  opts = opts or {}
  opts.prog = "lua5.4"
  local out, err, code = run(args, opts)
  return out, (err:gsub("lua5%.4: ", "cnnvis: ")), code
end

describe("launcher", function()
  setup(function()
    tmp = sh_output("mktemp -d")
    spit(tmp .. "/args.lua", [[
for i = -3, 3 do io.write(i, "=", tostring(arg[i]), " ") end
print("| n=" .. select("#", ...), ...)
]])
    spit(tmp .. "/boom.lua", "local x = 1\nerror('boom')\n")
  end)

  teardown(function()
    os.execute("rm -rf " .. q(tmp))
  end)

  describe("script", function()
    it("sets arg and ... exactly as lua5.4 does", function()
      local out, err, code = run({"args.lua", "a", "b c", ""})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("-3=nil -2=nil -1=" .. BIN .. " 0=args.lua 1=a 2=b c 3= " ..
        "| n=3\ta\tb c\t\n", out)
      local lua_out = run_lua({"args.lua", "a", "b c", ""})
      assert.equal((lua_out:gsub("lua5%.4", BIN)), out)
    end)

    it("puts the launcher and its options at negative indices", function()
      local args = {"-e", "x = 1", "args.lua", "a"}
      local out = run(args)
      assert.equal("-3=" .. BIN .. " -2=-e -1=x = 1 0=args.lua 1=a 2=nil 3=nil " ..
        "| n=1\ta\n", out)
      assert.equal((run_lua(args):gsub("lua5%.4", BIN)), out)
    end)

    it("finds the cnnvis library with no LUA_PATH, from any folder", function()
      spit(tmp .. "/where.lua", [[
local cv = require "cnnvis"
print(package.searchpath("cnnvis", package.path))
print(cv.zeros(2, 3):numel(), package.preload["cnnvis.core"] ~= nil)
]])
      local out, err, code = run({"where.lua"}, {env = "-u LUA_PATH -u LUA_CPATH"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(ROOT .. "/lua/cnnvis/init.lua\n6\ttrue\n", out)
    end)

    it("finds the library of an install prefix from <prefix>/bin", function()
      local prefix = sh_output("realpath " .. q(tmp)) .. "/prefix"
      local share = prefix .. "/share/lua/5.4/cnnvis"
      os.execute(string.format("mkdir -p %s/bin %s && cp %s %s/bin/cnnvis && cp %s/lua/cnnvis/*.lua %s",
        q(prefix), q(share), q(BIN), q(prefix), q(ROOT), q(share)))
      local out, err, code = run({"-e", "print(package.searchpath('cnnvis', package.path))"},
        {prog = prefix .. "/bin/cnnvis", env = "-u LUA_PATH -u LUA_CPATH"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(share .. "/init.lua\n", out)
    end)

    it("works from `make install PREFIX=...`, as does lua5.4 with the paths set", function()
      local build = BIN:match("^" .. ROOT:gsub("%p", "%%%0") .. "/(.+)/bin/cnnvis$")
      assert.truthy(build, "CNNVIS_BIN is not <repo>/<build>/bin/cnnvis: " .. BIN)
      local prefix = sh_output("realpath " .. q(tmp)) .. "/installed"
      -- MAKEFLAGS may name the calling make's jobserver, which is not ours
      local ok = os.execute(string.format(
        "env -u MAKEFLAGS -u MAKELEVEL make -s -C %s install BUILD=%s PREFIX=%s >/dev/null",
        q(ROOT), q(build), q(prefix)))
      assert.is_true(ok)
      local out, err, code = run({"-e", "print(package.searchpath('cnnvis', package.path), cv.ones(2):numel())"},
        {prog = prefix .. "/bin/cnnvis", env = "-u LUA_PATH -u LUA_CPATH"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(prefix .. "/share/lua/5.4/cnnvis/init.lua\t2\n", out)
      local env = string.format("LUA_PATH=%s LUA_CPATH=%s",
        q(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"),
        q(prefix .. "/lib/lua/5.4/?.so;;"))
      out, err, code = run({"-e", "local cv = require 'cnnvis'; print(package.searchpath('cnnvis.core', package.cpath), cv.ones(3):numel())"},
        {prog = "lua5.4", env = env})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(prefix .. "/lib/lua/5.4/cnnvis/core.so\t3\n", out)
    end)

    it("keeps the user's LUA_PATH for other modules", function()
      spit(tmp .. "/mymod.lua", "return {answer = 42}")
      local out, err = run({"-e", "print(require('mymod').answer)"},
        {env = "LUA_PATH=" .. q(tmp .. "/?.lua;;")})
      assert.equal("", err)
      assert.equal("42\n", out)
    end)

    it("loads Lua C modules such as lfs", function()
      local out, err = run({"-e", "print(type(require('lfs').currentdir()))"})
      assert.equal("", err)
      assert.equal("string\n", out)
    end)

    it("reports an error as 'cnnvis: message' with a traceback, status 1", function()
      local out, err, code = run({"boom.lua"})
      assert.equal("", out)
      assert.equal(1, code)
      assert.equal("cnnvis: boom.lua:2: boom\nstack traceback:\n" ..
        "\t[C]: in function 'error'\n\tboom.lua:2: in main chunk\n\t[C]: in ?\n", err)
      local _, lua_err, lua_code = run_lua({"boom.lua"})
      assert.equal(lua_err, err)
      assert.equal(lua_code, code)
    end)

    it("names a non-string error object by its type or __tostring", function()
      local _, err, code = run({"-e", "error({})"})
      assert.equal(1, code)
      assert.matches("^cnnvis: %(error object is a table value%)\nstack traceback:\n", err)
      _, err, code = run({"-e", "error(setmetatable({}, {__tostring = function() return 'TS' end}))"})
      assert.equal(1, code)
      assert.equal("cnnvis: TS\n", err)
    end)

    it("reports a script that cannot be opened or parsed", function()
      local out, err, code = run({"nope.lua"})
      assert.equal("", out)
      assert.equal(1, code)
      assert.equal("cnnvis: cannot open nope.lua: No such file or directory\n", err)
      spit(tmp .. "/bad.lua", "x = = 1\n")
      _, err, code = run({"bad.lua"})
      assert.equal(1, code)
      assert.equal("cnnvis: bad.lua:1: unexpected symbol near '='\n", err)
    end)

    it("stops a running chunk on SIGINT (Ctrl-C) with 'interrupted!'", function()
      -- The chunk creates the marker once inside the pcall that handles
      -- SIGINT, and the signal goes only after that. sh starts background
      -- jobs with SIGINT ignored, which the launcher overrides as lua5.4
      -- does. A watchdog kills a launcher that ignores the signal; no
      -- background process keeps this shell's stdout (popen's pipe) open.
      local function interrupt(prog)
        local marker = tmp .. "/running"
        os.remove(marker)
        local chunk = string.format("io.open(%q, 'w'):close() while true do end", marker)
        local script = string.format([[
%s -e %s >/dev/null 2>%s & pid=$!
(sleep 10; kill -KILL $pid) >/dev/null 2>&1 & dog=$!
while [ ! -e %s ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
kill -INT $pid; wait $pid; code=$?; kill $dog; echo $code]],
          q(prog), q(chunk), q(tmp .. "/err"), q(marker))
        return sh_output("sh -c " .. q(script)), slurp(tmp .. "/err")
      end
      -- Where the chunk stops varies (in the loop, or still in io.open's
      -- call when the signal comes early), so the position is left out.
      local pattern = "^%s: [^\n]-interrupted!\nstack traceback:\n.*in main chunk\n"
      local code, err = interrupt(BIN)
      assert.equal("1", code)
      assert.matches(pattern:format("cnnvis"), err)
      local lua_code, lua_err = interrupt("lua5.4")
      assert.equal(lua_code, code)
      assert.matches(pattern:format("lua5%.4"), lua_err)
    end)

    it("exits with the status given to os.exit", function()
      local _, _, code = run({"-e", "os.exit(3)"})
      assert.equal(3, code)
    end)
  end)

  describe("-e", function()
    it("runs several chunks in order, then the script", function()
      spit(tmp .. "/x.lua", "print('x is', x)")
      local out, err, code = run({"-e", "x = 1", "-e", "x = x + 1", "x.lua"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("x is\t2\n", out)
    end)

    it("has the global cv set", function()
      local out = run({"-e", "print(cv.zeros(2, 3):numel(), cv == require('cnnvis'))"})
      assert.equal("6\ttrue\n", out)
    end)

    it("stops at the first failing chunk", function()
      local out, err, code = run({"-e", "error('first')", "-e", "print('second')"})
      assert.equal("", out)
      assert.equal(1, code)
      assert.matches("^cnnvis: %(command line%):1: first\nstack traceback:\n", err)
    end)

    it("takes -l mod and -l g=mod like lua5.4", function()
      local out, err = run({"-l", "string", "-l", "m=cnnvis", "-e", "print(string == _G.string, m == cv)"})
      assert.equal("", err)
      assert.equal("true\ttrue\n", out)
    end)

    it("rejects -e without a chunk", function()
      local out, err, code = run({"-e"})
      assert.equal("", out)
      assert.equal(1, code)
      assert.equal("cnnvis: '-e' needs argument\nusage: cnnvis [options] [script [args]]\n" ..
        "Try 'cnnvis --help' for more.\n", err)
    end)
  end)

  describe("stdin", function()
    it("runs the script read from '-' with its args", function()
      local out, err, code = run({"-", "a", "b"}, {stdin = "print(arg[0], ...)"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("-\ta\tb\n", out)
    end)

    it("runs stdin as the program when it is not a terminal", function()
      local out, err, code = run({}, {stdin = "print(1 + 1)\nprint(cv)\n"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("2\nnil\n", out) -- a program, not the REPL: no banner, no cv
    end)

    it("reports an error in stdin like lua5.4", function()
      local opts = {stdin = "print(1\n"}
      local out, err, code = run({}, opts)
      assert.equal("", out)
      assert.equal(1, code)
      assert.equal("cnnvis: stdin:2: ')' expected (to close '(' at line 1) near <eof>\n", err)
      local _, lua_err = run_lua({}, opts)
      assert.equal(lua_err, err)
    end)
  end)

  describe("options", function()
    it("--help and -h explain every option", function()
      local out, err, code = run({"--help"})
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(out, (run({"-h"})))
      assert.matches("^usage: cnnvis %[options%] %[script %[args%]%]\n", out)
      for _, opt in ipairs{"script args", "  -  ", "-e chunk", "-l mod", "-i ",
          "-v, --version", "-E ", "-W ", "-- ", "-h, --help", "REPL",
          "Ctrl-D", "Tab completes", ".cnnvis_history", "LUA_PATH", "share/lua/5.4"} do
        assert.truthy(out:find(opt, 1, true), "help lacks " .. opt)
      end
    end)

    it("--version names cnnvis and Lua's version", function()
      local out, _, code = run({"--version"})
      assert.equal(0, code)
      local lua_version = run_lua({"-e", "io.write(_VERSION)"})
      assert.matches("^cnnvis %d+%.%d+%.%d+ %(" .. lua_version:gsub("%.", "%%.") ..
        "%.%d+%)\n$", out)
    end)

    it("rejects an unknown option", function()
      local out, err, code = run({"-x"})
      assert.equal("", out)
      assert.equal(1, code)
      assert.equal("cnnvis: unrecognized option '-x'\n" ..
        "usage: cnnvis [options] [script [args]]\nTry 'cnnvis --help' for more.\n", err)
    end)

    it("runs LUA_INIT first, unless -E", function()
      local env = "LUA_INIT=" .. q("greeting = 'hi'")
      assert.equal("hi\n", (run({"-e", "print(greeting)"}, {env = env})))
      assert.equal("nil\n", (run({"-E", "-e", "print(greeting)"}, {env = env})))
    end)

    it("-E ignores LUA_PATH", function()
      local env = "LUA_PATH=" .. q("/nowhere/?.lua")
      assert.equal("false\n", (run({"-e", "print(package.path:find('/nowhere', 1, true) ~= nil)", "-E"},
        {env = env})))
      assert.equal("true\n", (run({"-e", "print(package.path:find('/nowhere', 1, true) ~= nil)"},
        {env = env})))
    end)
  end)

  describe("REPL", function()
    it("prints values, tensors through tostring, and goes on after errors", function()
      local out, err, code = run({"-i"}, {stdin = "1 + 1\ncv.zeros(2, 3)\nerror('x')\n" ..
        "1, 'a', nil\nprint('still here')\n"})
      assert.equal(0, code)
      assert.equal('cnnvis', out:match("^(%S+) %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%): " ..
        'cv = require "cnnvis"; Ctrl%-D quits\n'))
      assert.truthy(out:find("> 2\n> " .. tostring(require("cnnvis").zeros(2, 3)) ..
        "\n> > 1\ta\tnil\n> still here\n> \n", 1, true))
      assert.equal("stdin:1: x\nstack traceback:\n\t[C]: in function 'error'\n" ..
        "\tstdin:1: in main chunk\n\t[C]: in ?\n", err)
    end)

    it("prints sizes as sizes, and the API's tables readably", function()
      local out = run({"-i"}, {stdin = table.concat({
        "t = cv.zeros(48, 1, 3, 3)",
        "t:size()",
        "#t:size(), t:size()[1], t:size(4), table.concat(t:size(), 'x'), (select(2, table.unpack(t:size())))",
        "print(t:size())",
        "{image = cv.zeros(1, 2, 2), label = 9, name = 'a/b'}",
        "cv.caffe.load('spec/fixtures/synthetic/deploy.prototxt').params['fire2/prelu']",
        "'text', 0.1", ""}, "\n"), cwd = ROOT})
      assert.truthy(out:find(table.concat({
        "> > {48, 1, 3, 3}",
        "> 4\t48\t3\t48x1x3x3\t1",
        "> {48, 1, 3, 3}",
        '> {image = tensor(size 1x2x2), label = 9, name = "a/b"}',
        "> {tensor(size 8), weight = tensor(size 8)}",
        "> text\t0.1",
        "> \n"}, "\n"), 1, true), out)
    end)

    it("continues an unfinished chunk after '>>'", function()
      local out = run({"-i"}, {stdin = "for i = 1, 3 do\nio.write(i)\nend\n"})
      assert.truthy(out:find("\n> >> >> 123> \n", 1, true))
    end)

    it("reports a chunk left unfinished at the end of input", function()
      local _, err, code = run({"-i"}, {stdin = "for i = 1, 3 do\n"})
      assert.equal(0, code)
      assert.equal("stdin:1: 'end' expected near <eof>\n", err)
    end)

    it("uses _PROMPT and _PROMPT2", function()
      local out = run({"-e", "_PROMPT, _PROMPT2 = 'cv$ ', 'more$ '", "-i"},
        {stdin = "do\nend\n"})
      assert.truthy(out:find("cv$ more$ cv$ \n", 1, true))
    end)

    it("runs the script first with -i", function()
      local out = run({"-i", "args.lua", "a"}, {stdin = "arg[1]\n"})
      assert.truthy(out:find("| n=1\ta\n", 1, true))
      assert.truthy(out:find("> a\n> \n", 1, true))
    end)

    it("edits lines, completes names and keeps history on a terminal", function()
      if os.execute("command -v script >/dev/null") ~= true then
        pending("needs util-linux's script for a pseudo-terminal")
        return
      end
      local hist = tmp .. "/history"
      -- script is not ours: under `make asan` it must not inherit the
      -- sanitizers preloaded into lua5.4 (the launcher is linked with them).
      -- os.exit ends the session: a ^D sent ahead could reach the terminal
      -- before libedit turns canonical mode off, and be lost.
      local out, _, code = run({"-qec", BIN, "/dev/null"}, {prog = "script",
        env = "-u LD_PRELOAD CNNVIS_HISTORY=" .. q(hist) .. " TERM=dumb",
        stdin = "t = cv.ones(2, 2)\nt\nt:num\t()\ncv.zero\t(3)\nstring.upp\t('a')\n" ..
                "os.exit(true, true)\n"})
      assert.equal(0, code)
      out = out:gsub("\r", "")
      assert.truthy(out:find("> t\ntensor([[1, 1],\n        [1, 1]], size 2x2)\n> ", 1, true), out)
      assert.truthy(out:find("> t:numel()\n4\n> ", 1, true), out)
      assert.truthy(out:find("> cv.zeros(3)\ntensor([0, 0, 0], size 3)\n> ", 1, true), out)
      assert.truthy(out:find("> string.upper('a')\nA\n> ", 1, true), out)
      assert.equal("_HiStOrY_V2_\nt\\040=\\040cv.ones(2,\\0402)\nt\nt:numel()\ncv.zeros(3)\n" ..
        "string.upper('a')\nos.exit(true,\\040true)\n", slurp(hist))
    end)
  end)
end)
