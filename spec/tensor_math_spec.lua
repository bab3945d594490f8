-- Element-wise math. Expected values are worked by hand or, where marked,
-- printed by spec/fixtures/math_golden.py (NumPy / PyTorch, float32).
local cv = require "cnnvis"

local assert_near = require("spec.support").assert_near

local nan = 0 / 0

describe("tensor math", function()
  local a, row, col
  before_each(function()
    a = cv.tensor{{1, 2, 3}, {4, 5, 6}}
    row = cv.tensor{10, 20, 30}
    col = cv.tensor{{1}, {2}}
  end)

  describe("+ - * / operators", function()
    it("work element by element on equal shapes", function()
      local b = cv.tensor{{6, 5, 4}, {3, 2, 1}}
      assert.same({{7, 7, 7}, {7, 7, 7}}, (a + b):totable())
      assert.same({{-5, -3, -1}, {1, 3, 5}}, (a - b):totable())
      assert.same({{6, 10, 12}, {12, 10, 6}}, (a * b):totable())
      assert_near({{1 / 6, 2 / 5, 3 / 4}, {4 / 3, 5 / 2, 6}}, a / b)
    end)

    it("are element-wise, not a matrix product", function()
      local s = cv.tensor{{1, 2}, {3, 4}}
      assert.same({{1, 4}, {9, 16}}, (s * s):totable())
    end)

    it("broadcast like PyTorch", function()
      assert.same({{11, 22, 33}, {14, 25, 36}}, (a + row):totable())
      assert.same({{0, 1, 2}, {2, 3, 4}}, (a - col):totable())
      -- 2x1 against 3 gives 2x3
      assert.same({{10, 20, 30}, {20, 40, 60}}, (col * row):totable())
      local b = cv.tensor{{{1, 2, 3}}, {{-1, -2, -3}}} -- 2x1x3
      assert.same({2, 2, 3}, (b + a):size())
      assert.same({{{2, 4, 6}, {5, 7, 9}}, {{0, 0, 0}, {3, 3, 3}}},
        (b + a):totable())
    end)

    it("take numbers on either side", function()
      assert.same({{2, 3, 4}, {5, 6, 7}}, (a + 1):totable())
      assert.same({{2, 3, 4}, {5, 6, 7}}, (1 + a):totable())
      assert.same({{9, 8, 7}, {6, 5, 4}}, (10 - a):totable())
      assert.same({{0, 1, 2}, {3, 4, 5}}, (a - 1):totable())
      assert.same({{2, 4, 6}, {8, 10, 12}}, (2 * a):totable())
      assert.same({{0.5, 1, 1.5}, {2, 2.5, 3}}, (a / 2):totable())
      assert_near({{12, 6, 4}, {3, 12 / 5, 2}}, 12 / a)
    end)

    it("read strided views", function()
      local t = a:transpose() -- 3x2, not contiguous
      assert.is_false(t:is_contiguous())
      assert.same({{2, 8}, {4, 10}, {6, 12}}, (t + t):totable())
      assert.same({{11, 24}, {12, 25}, {13, 26}}, (t + cv.tensor{10, 20}):totable())
      assert.same({{-1, -4}, {-2, -5}, {-3, -6}}, (-t):totable())
    end)

    it("leave their operands alone", function()
      local _ = a + row
      assert.same({{1, 2, 3}, {4, 5, 6}}, a:totable())
      assert.same({10, 20, 30}, row:totable())
    end)

    it("follow IEEE rules for division by zero", function()
      local r = (cv.tensor{1, -1, 0} / 0):totable()
      assert.equal(math.huge, r[1])
      assert.equal(-math.huge, r[2])
      assert.is_true(r[3] ~= r[3])
    end)

    it("name both shapes when they do not broadcast", function()
      assert.has.error(function() return a + cv.ones(4) end,
        "add: shapes 2x3 and 4 do not broadcast")
      assert.has.error(function() return a * cv.ones(3, 3) end,
        "mul: shapes 2x3 and 3x3 do not broadcast")
      assert.has.error(function() return a - cv.ones(2) end,
        "sub: shapes 2x3 and 2 do not broadcast")
      assert.has.error(function() return cv.ones(2, 2, 3) / cv.ones(3, 3) end,
        "div: shapes 2x2x3 and 3x3 do not broadcast")
    end)

    it("reject what is neither a tensor nor a number", function()
      assert.has.error(function() return a + "x" end,
        "bad argument #2 to 'add' (tensor or number expected, got string)")
      assert.has.error(function() return a * {} end,
        "bad argument #2 to 'mul' (tensor or number expected, got table)")
      assert.has.error(function() return a:sub(true) end,
        "bad argument #1 to 'sub' (tensor or number expected, got boolean)")
    end)
  end)

  describe("unary minus", function()
    it("negates every element", function()
      assert.same({{-1, -2, -3}, {-4, -5, -6}}, (-a):totable())
      assert.same({1, -2}, (-cv.tensor{-1, 2}):totable())
    end)
  end)

  describe("add/sub/mul/div()", function()
    it("are methods and module functions", function()
      assert.same({{11, 22, 33}, {14, 25, 36}}, a:add(row):totable())
      assert.same({{11, 22, 33}, {14, 25, 36}}, cv.add(a, row):totable())
      assert.same({{9, 18, 27}, {6, 15, 24}}, cv.sub(row, a):totable())
      assert.same({{3, 6, 9}, {12, 15, 18}}, a:mul(3):totable())
      assert.same({{10, 10, 10}, {2.5, 4, 5}}, cv.div(row, a):totable())
      assert.same({{9, 8, 7}, {6, 5, 4}}, cv.sub(10, a):totable())
    end)

    it("write into an out tensor and return it", function()
      local out = cv.zeros(2, 3)
      local r = cv.add(a, row, out)
      assert.equal(out, r)
      assert.same({{11, 22, 33}, {14, 25, 36}}, out:totable())
      cv.mul(a, 2, out)
      assert.same({{2, 4, 6}, {8, 10, 12}}, out:totable())
    end)

    it("accept an operand as the out tensor", function()
      cv.add(a, a, a)
      assert.same({{2, 4, 6}, {8, 10, 12}}, a:totable())
    end)

    it("name the out tensor's wrong shape", function()
      assert.has.error(function() cv.add(a, row, cv.zeros(3, 2)) end,
        "add: the output has shape 3x2, the result 2x3")
    end)

    it("reject two numbers", function()
      assert.has.error(function() cv.add(1, 2) end,
        "bad argument #1 to 'add' (tensor expected, got number)")
    end)
  end)

  describe("in-place add_/sub_/mul_/div_/pow_()", function()
    it("change self and return it", function()
      local r = a:add_(1)
      assert.equal(a, r)
      assert.same({{2, 3, 4}, {5, 6, 7}}, a:totable())
      a:sub_(row)
      assert.same({{-8, -17, -26}, {-5, -14, -23}}, a:totable())
      a:mul_(col)
      assert.same({{-8, -17, -26}, {-10, -28, -46}}, a:totable())
      a:div_(-2)
      assert.same({{4, 8.5, 13}, {5, 14, 23}}, a:totable())
      cv.tensor{2, 3}:pow_(2)
      local p = cv.tensor{2, 3}
      p:pow_(cv.tensor{3, 2})
      assert.same({8, 9}, p:totable())
    end)

    it("write through a view into its base", function()
      a:select(1, 2):mul_(10)
      assert.same({{1, 2, 3}, {40, 50, 60}}, a:totable())
      a:transpose():add_(cv.tensor{1, 2}) -- a column vector in a's terms
      assert.same({{2, 3, 4}, {42, 52, 62}}, a:totable())
    end)

    it("broadcast the operand into self only", function()
      assert.has.error(function() col:add_(row) end,
        "add_: shapes 2x1 and 3 do not broadcast to the output's shape 2x1")
    end)

    it("refuse to write into an expanded tensor", function()
      local e = row:view(1, 3):expand(2, 3)
      assert.has.error(function() e:add_(1) end,
        "add_: cannot write into an expanded tensor of shape 2x3 " ..
        "(dimension 1 has stride 0)")
      assert.has.error(function() e:exp_() end,
        "exp_: cannot write into an expanded tensor of shape 2x3 " ..
        "(dimension 1 has stride 0)")
    end)
  end)

  describe("pow() and ^", function()
    it("raise a tensor to a number, a tensor, or a number to a tensor", function()
      assert.same({{1, 4, 9}, {16, 25, 36}}, (a ^ 2):totable())
      assert.same({{1, 4, 27}, {4, 25, 216}},
        a:pow(cv.tensor{{1, 2, 3}, {1, 2, 3}}):totable())
      assert.same({2, 4, 8}, (2 ^ cv.tensor{1, 2, 3}):totable())
      assert.same({{1, 4, 27}, {256, 3125, 46656}}, (a ^ a):totable())
      assert.same({{1, 2, 3}, {4, 5, 6}}, cv.pow(a, 1):totable())
      -- golden (NumPy): p ** 1.5
      assert_near({0.125, 1, 2.82842708, 27}, cv.tensor{0.25, 1, 2, 9} ^ 1.5)
    end)

    it("give NaN for a negative base and a fractional power", function()
      assert_near({nan}, cv.tensor{-8} ^ (1 / 3))
    end)
  end)

  describe("exp/log/sqrt/abs/sigmoid/tanh()", function()
    local x = {-2, -0.5, 0, 0.5, 2}
    local p = {0.25, 1, 2, 9}
    it("match NumPy and PyTorch", function()
      -- golden (NumPy / torch.sigmoid), printed by math_golden.py
      assert_near({0.135335281, 0.606530666, 1, 1.64872122, 7.38905573},
        cv.tensor(x):exp())
      assert_near({0.119202919, 0.377540678, 0.5, 0.622459352, 0.880797029},
        cv.tensor(x):sigmoid())
      assert_near({-0.964027584, -0.462117195, 0, 0.462117195, 0.964027584},
        cv.tensor(x):tanh())
      assert_near({-1.38629436, 0, 0.693147182, 2.19722462}, cv.log(cv.tensor(p)))
      assert_near({0.5, 1, 1.41421354, 3}, cv.sqrt(cv.tensor(p)))
      assert.same({2, 0.5, 0, 0.5, 2}, cv.tensor(x):abs():totable())
    end)

    it("follow IEEE rules at the edges", function()
      local l = cv.tensor{0, -1}:log():totable()
      assert.equal(-math.huge, l[1])
      assert.is_true(l[2] ~= l[2])
      assert.same({0, 1}, cv.tensor{-1000, 1000}:sigmoid():totable())
    end)

    it("have in-place forms", function()
      local t = cv.tensor{0, 1}
      assert.equal(t, t:exp_())
      assert_near({1, math.exp(1)}, t)
      t:log_()
      assert_near({0, 1}, t)
      local s = cv.tensor{4, 9}
      s:sqrt_()
      assert.same({2, 3}, s:totable())
      s:neg_():abs_()
      assert.same({2, 3}, s:totable())
      local g = cv.tensor{0}
      g:sigmoid_()
      assert.same({0.5}, g:totable())
      g:tanh_()
      assert_near({math.tanh(0.5)}, g)
    end)

    it("reject a non-tensor", function()
      assert.has.error(function() cv.exp(3) end,
        "bad argument #1 to 'exp' (tensor expected, got number)")
    end)
  end)

  describe("relu() and clamp()", function()
    it("relu zeroes the negatives and keeps NaN", function()
      local r = cv.tensor{-2, -0.5, 0, 3, nan}:relu():totable()
      assert.same({0, 0, 0, 3}, {r[1], r[2], r[3], r[4]})
      assert.is_true(r[5] ~= r[5])
    end)

    it("relu_ works in place", function()
      local t = cv.tensor{{-1, 2}, {3, -4}}
      assert.equal(t, t:relu_())
      assert.same({{0, 2}, {3, 0}}, t:totable())
    end)

    it("clamp limits from below, above or both", function()
      local t = cv.tensor{-3, -1, 0, 2, 5}
      assert.same({-1, -1, 0, 2, 2}, t:clamp(-1, 2):totable())
      assert.same({0, 0, 0, 2, 5}, t:clamp(0):totable())
      assert.same({-3, -1, 0, 1, 1}, t:clamp(nil, 1):totable())
      assert.same({-3, -1, 0, 2, 5}, t:totable())
    end)

    it("clamp_ works in place and keeps NaN", function()
      local t = cv.tensor{-3, 7, nan}
      assert.equal(t, t:clamp_(0, 5))
      local r = t:totable()
      assert.same({0, 5}, {r[1], r[2]})
      assert.is_true(r[3] ~= r[3])
    end)

    it("clamp needs at least one limit", function()
      assert.has.error(function() a:clamp() end,
        "bad argument #1 to 'clamp' (clamp needs a min, a max or both)")
      assert.has.error(function() a:clamp("x") end,
        "bad argument #1 to 'clamp' (number expected, got string)")
    end)
  end)

  describe("lt/le/gt/ge/eq/ne()", function()
    it("return 0/1 float tensors, broadcasting", function()
      local t = cv.tensor{1, 2, 3}
      assert.same({1, 0, 0}, t:lt(2):totable())
      assert.same({1, 1, 0}, t:le(2):totable())
      assert.same({0, 0, 1}, t:gt(2):totable())
      assert.same({0, 1, 1}, t:ge(2):totable())
      assert.same({0, 1, 0}, t:eq(2):totable())
      assert.same({1, 0, 1}, t:ne(2):totable())
      assert.same({{0, 0, 0}, {1, 0, 0}}, cv.gt(col, t):totable())
      assert.same({1, 1, 0}, cv.gt(3, t):totable())
    end)

    it("treat NaN as unequal to everything", function()
      local t = cv.tensor{nan}
      assert.same({0}, t:eq(t):totable())
      assert.same({1}, t:ne(t):totable())
      assert.same({0}, t:lt(1):totable())
    end)

    it("name both shapes when they do not broadcast", function()
      assert.has.error(function() a:lt(cv.ones(2)) end,
        "lt: shapes 2x3 and 2 do not broadcast")
    end)
  end)

  describe("where()", function()
    it("picks from a where cond is non-zero, else from b", function()
      local cond = cv.tensor{{1, 0, 1}, {0, 0, 2}}
      assert.same({{1, 20, 3}, {10, 20, 6}}, cv.where(cond, a, row):totable())
      assert.same({{1, -1, 3}, {-1, -1, 6}}, cv.where(cond, a, -1):totable())
      assert.same({{0, 2, 3}, {4, 5, 6}}, cv.where(a:gt(1), a, 0):totable())
    end)

    it("broadcasts all three", function()
      local r = cv.where(cv.tensor{1, 0, 1}, col, 7)
      assert.same({{1, 7, 1}, {2, 7, 2}}, r:totable())
    end)

    it("names the shapes that do not broadcast", function()
      assert.has.error(function() cv.where(cv.ones(2), a, 0) end,
        "where: shapes 2 and 2x3 do not broadcast")
    end)

    it("needs a tensor condition", function()
      assert.has.error(function() cv.where(1, a, 0) end)
      local ok, msg = pcall(cv.where, 1, a, 0)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '.*where' %(tensor expected, got number%)",
        msg)
    end)
  end)

  describe("allclose()", function()
    it("uses PyTorch's default tolerances", function()
      local one = cv.tensor{1}
      assert.is_true(cv.allclose(one, cv.tensor{1 + 5e-6}))
      assert.is_false(cv.allclose(one, cv.tensor{1 + 5e-5}))
      assert.is_true(cv.allclose(cv.tensor{0}, cv.tensor{5e-9}))
      assert.is_false(cv.allclose(cv.tensor{0}, cv.tensor{5e-8}))
    end)

    it("takes rtol and atol", function()
      assert.is_true(cv.allclose(cv.tensor{1}, cv.tensor{1.05}, 0.1))
      assert.is_true(cv.allclose(cv.tensor{0}, cv.tensor{0.5}, 0, 1))
      assert.is_false(a:allclose(a + 0.5, 0, 0.4))
    end)

    it("never finds NaN close; equal infinities are", function()
      assert.is_false(cv.allclose(cv.tensor{nan}, cv.tensor{nan}))
      assert.is_true(cv.allclose(cv.tensor{math.huge}, cv.tensor{math.huge}))
      assert.is_false(cv.allclose(cv.tensor{math.huge}, cv.tensor{-math.huge}))
    end)

    it("broadcasts, naming shapes that do not", function()
      assert.is_true(cv.allclose(cv.tensor{{2, 2}, {2, 2}}, cv.tensor{2}))
      assert.has.error(function() cv.allclose(a, cv.ones(2)) end,
        "allclose: shapes 2x3 and 2 do not broadcast")
    end)
  end)

  describe("clock()", function()
    it("is a monotonic clock in seconds", function()
      local t0 = cv.clock()
      local t1 = cv.clock()
      assert.is_number(t0)
      assert.is_true(t1 >= t0)
      -- and it measures wall time: os.time moves on together with it
      assert.is_true(t1 - t0 < 1)
    end)
  end)

  describe("large tensors", function()
    -- Above the threshold where loops are split over threads.
    it("give the same result as small ones, contiguous or not", function()
      local n = 300 * 1000
      local x = cv.arange(n):view(300, 1000)
      local y = (x + x:transpose():contiguous():transpose()) * 0.5
      assert.is_true(cv.allclose(x, y, 0, 0))
      local s = (x - 1):relu()
      local v = s:totable()
      assert.equal(0, v[1][1])
      assert.equal(0, v[1][2])
      assert.equal(n - 2, v[300][1000])
      local w = x:transpose() * 2 -- strided input, 1000x300 output
      assert.equal(2 * 999, w:totable()[1000][1])
      assert.equal(2 * 1000, w:totable()[1][2])
    end)
  end)
end)

describe("outputs larger than the caches", function()
  -- 8M + 3 floats from an unaligned offset: the streaming-store loops with
  -- their head and tail, checked against paths that do not stream.
  local n = 8 * 1024 * 1024 + 3
  local x = cv.arange(n + 2):narrow(1, 2, n) -- 1 .. n

  it("add, sub, mul and div give what the other paths give", function()
    local y = x + x
    assert.same({2, 4}, {y[1]:item(), y[2]:item()})
    assert.equal(2 * n, y[n]:item())
    assert.is_true(cv.allclose(y, x * 2, 0, 0))
    assert.equal(0, (x - x):abs():max():item())
    assert.is_true(cv.allclose(x * x, x ^ 2, 0, 0))
    local q = x / x
    assert.same({1, 1}, {q:min():item(), q:max():item()})
  end)

  it("work in place too", function()
    local y = x:clone()
    y:add_(x)
    assert.is_true(cv.allclose(y, x * 2, 0, 0))
  end)
end)

describe("the module", function()
  it("collects large temporaries in loops", function()
    -- Lua sees 8-byte boxes only; without counting the tensors' bytes, no
    -- collection would come round and 60 results of 8 MB would all stay
    -- alive; with it, a collection runs every 256 MB (32 results). A
    -- collected result may linger as a weak key until the next collection,
    -- but its finalizer has released it: it no longer answers numel().
    collectgarbage()
    local x = cv.zeros(2 * 1024 * 1024)
    local alive = setmetatable({}, {__mode = "k"})
    for _ = 1, 60 do alive[x + 1] = true end
    local n = 0
    for t in pairs(alive) do
      if pcall(t.numel, t) then n = n + 1 end
    end
    assert.is_true(n <= 40, n .. " of 60 results are still alive")
  end)

  it("lets the process exit cleanly after parallel work", function()
    -- OpenMP threads outlive the Lua state; unloading the module under them
    -- used to crash about every other exit.
    local script = "local cv = require 'cnnvis'; local a = cv.rand(1000, 1000); " ..
      "for i = 1, 3 do a = a + 1 end; a:matmul(a)"
    for _ = 1, 6 do
      local ok, how, code = os.execute("lua5.4 -e \"" .. script .. "\" 2>/dev/null")
      assert.same({true, "exit", 0}, {ok, how, code})
    end
  end)
end)
