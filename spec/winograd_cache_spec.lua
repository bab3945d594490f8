local cv = require "cnnvis"
local nn = cv.nn

-- Winograd's transform of a convolution's weights is kept between calls
-- until the weights are written to: every way of writing them must show in
-- the next convolution, which is checked against im2col's (nothing kept).
describe("Winograd's kept weight transforms", function()
  local opts = {pad = 1, algorithm = "winograd"}
  local im2col = {pad = 1, algorithm = "im2col"}

  -- y by Winograd equals y by im2col up to float32 rounding.
  local function agrees(x, w, what)
    local got, want = nn.conv2d(x, w, nil, opts), nn.conv2d(x, w, nil, im2col)
    local d = (got - want):abs():max():item()
    local big = want:abs():max():item()
    assert.is_true(d <= 1e-5 * big, string.format("%s: off by %.3g, largest %.3g", what, d, big))
    return got
  end

  local function differs(a, b) return (a - b):abs():max():item() > 0 end

  it("are reused: the same weights give the same bits, and take memory until freed", function()
    cv.free_cached_memory()
    local x, w = cv.randn(1, 32, 9, 9), cv.randn(32, 32, 3, 3)
    local first = nn.conv2d(x, w, nil, opts)
    local kept = cv.cached_memory()
    assert.is_true(kept >= 32 * 32 * 16 * 4, "kept " .. kept)
    assert.equal(0, (nn.conv2d(x, w, nil, opts) - first):abs():max():item())
    assert.equal(kept, cv.cached_memory(), "the second call kept nothing more")
    cv.free_cached_memory()
    assert.equal(0, cv.cached_memory())
  end)

  for _, case in ipairs{
    {"fill_", function(w) w:fill_(0.5) end},
    {"zero_ on one filter", function(w) w[3]:zero_() end},
    {"copy_", function(w) w:copy_(cv.randn(table.unpack(w:size()))) end},
    {"assignment", function(w) w[{2, 5, 1, 1}] = 7 end},
    {"clamp_", function(w) w:clamp_(-0.1, 0.1) end},
    {"sgd_update_", function(w)
      cv.sgd_update_(w, cv.zeros(table.unpack(w:size())), cv.ones(table.unpack(w:size())), 0.1, 0.9, 0)
    end},
    {"an op's out", function(w)
      nn.conv2d(cv.randn(32, 32, 3, 3), cv.randn(32, 32, 1, 1), nil, {out = w})
    end},
  } do
    local how, write = table.unpack(case)
    it("are made anew after a write by " .. how, function()
      local x, w = cv.randn(1, 32, 9, 9), cv.randn(32, 32, 3, 3)
      local before = agrees(x, w, "before")
      write(w)
      assert.is_true(differs(agrees(x, w, "after"), before), "the write changed nothing")
    end)
  end

  it("are made anew after a write through a view of the weights' storage", function()
    local x, w = cv.randn(1, 32, 9, 9), cv.randn(32, 32, 3, 3)
    local flat = w:view(-1)
    local before = agrees(x, w, "before")
    flat[{{1, 100}}] = 0
    assert.is_true(differs(agrees(x, w, "after"), before))
  end)

  it("are told apart for two views of one storage and for a new tensor at a freed one's place", function()
    local x, both = cv.randn(1, 32, 9, 9), cv.randn(64, 32, 3, 3)
    local a, b = both[{{1, 32}}], both[{{33, 64}}]
    local ya = agrees(x, a, "first half")
    assert.is_true(differs(agrees(x, b, "second half"), ya))
    for i = 1, 3 do
      local w = cv.randn(32, 32, 3, 3)
      agrees(x, w, "fresh weights " .. i)
      w = nil
      collectgarbage()
    end
  end)

  it("go with their weights: weights made afresh for each call keep one block, not one per call", function()
    cv.free_cached_memory()
    -- 64 x 64 x 3 x 3 weights: a transform of 256 KB, a block size the
    -- storage cache keeps
    local x, w = cv.randn(1, 64, 13, 13), cv.randn(64, 64, 3, 3)
    local kept
    for i = 1, 8 do
      local fresh = w * 1
      assert.equal(0, (nn.conv2d(x, fresh, nil, opts) - nn.conv2d(x, w, nil, opts)):abs():max():item())
      fresh = nil
      collectgarbage()
      if i == 2 then kept = cv.cached_memory() end
    end
    assert.equal(kept, cv.cached_memory())
    cv.free_cached_memory()
    assert.equal(0, cv.cached_memory())
  end)

  it("drop the least recently used beyond their 64 slots, and make them anew when asked again", function()
    cv.free_cached_memory()
    local x, ws = cv.randn(1, 16, 7, 7), {}
    for i = 1, 70 do ws[i] = cv.randn(16, 16, 3, 3) end
    local first = {}
    for i = 1, 70 do first[i] = agrees(x, ws[i], "weights " .. i) end
    assert.is_true(cv.cached_memory() <= 64 * 16 * 16 * 16 * 4 + 64 * 4096,
      "kept " .. cv.cached_memory())
    for _, i in ipairs{1, 2, 70, 35} do
      assert.equal(0, (nn.conv2d(x, ws[i], nil, opts) - first[i]):abs():max():item(), "weights " .. i)
    end
    cv.free_cached_memory()
  end)

  it("keep the forward's and the input gradient's apart, for the net's backward too", function()
    local x, w = cv.randn(2, 32, 9, 9), cv.randn(48, 32, 3, 3)
    for round = 1, 2 do
      local y = agrees(x, w, "y, round " .. round)
      local dy = cv.randn(table.unpack(y:size()))
      local dx = nn.conv2d_backward(x, w, dy, opts)
      local want = nn.conv2d_backward(x, w, dy, im2col)
      local d = (dx - want):abs():max():item()
      assert.is_true(d <= 1e-5 * want:abs():max():item(), "dx, round " .. round)
      w:mul_(-1)
    end
  end)
end)
