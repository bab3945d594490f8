-- cv.pca and cv.kmeans (engine/analysis/): against NumPy goldens written by
-- spec/fixtures/gen_analysis.py, and against clusterings planted or worked
-- out by hand.
local cv = require "cnnvis"

local FIX = "spec/fixtures/analysis/"

local function golden(name)
  return dofile(FIX .. name .. ".lua")
end

local function tensor(g)
  return cv.tensor(g.data):view(g.shape)
end

local function flat(t)
  return t:contiguous():view(-1):totable()
end

-- Every element within rtol of the largest magnitude of the reference.
local function assert_close(got, want, what, rtol)
  assert.same(want.shape, got:size(), what .. ": shape")
  local g, big = flat(got), 0
  for _, v in ipairs(want.data) do big = math.max(big, math.abs(v)) end
  for i, v in ipairs(want.data) do
    if math.abs(g[i] - v) > rtol * big then
      error(string.format("%s: element %d is %.9g, expected %.9g", what, i, g[i], v), 2)
    end
  end
end

describe("analysis", function()
  describe("pca()", function()
    for _, case in ipairs{"pca_tall", "pca_wide"} do
      it("matches NumPy (" .. case .. ") up to the sign rule", function()
        local g = golden(case)
        local r = cv.pca(tensor(g.x), {k = g.k})
        assert_close(r.components, g.components, "components", 1e-5)
        assert_close(r.explained, g.explained, "explained", 1e-5)
        assert_close(r.mean, g.mean, "mean", 1e-6)
        assert_close(r.projection, g.projection, "projection", 1e-5)
      end)
    end

    it("takes any strides and defaults k to min(rows, columns)", function()
      local g = golden("pca_tall")
      local x = tensor(g.x)
      local xt = x:transpose():contiguous():transpose() -- same values, column-major
      local r = cv.pca(xt)
      assert.same({7, 7}, r.components:size())
      local k4 = cv.pca(x, {k = 4})
      assert.is_true(cv.allclose(r.components:narrow(1, 1, 4), k4.components, 1e-5, 1e-5))
    end)

    it("gives orthonormal components whose largest entry is positive", function()
      cv.manual_seed(3)
      local r = cv.pca(cv.randn(30, 6), {k = 6})
      local gram = r.components:matmul(r.components:transpose())
      local eye = cv.zeros(6, 6)
      for i = 1, 6 do eye[{i, i}] = 1 end
      assert.is_true(cv.allclose(gram, eye, 1e-5, 1e-5))
      for i = 1, 6 do
        local row = r.components[i]:totable()
        local best = 1
        for j = 2, 6 do if math.abs(row[j]) > math.abs(row[best]) then best = j end end
        assert.is_true(row[best] > 0)
        local s = 0
        for j = 1, 6 do s = s + row[j] ^ 2 end
        assert.is_true(math.abs(s - 1) < 1e-5)
      end
      local e = r.explained:totable()
      for i = 2, 6 do assert.is_true(e[i] <= e[i - 1]) end
    end)

    it("refuses bad input with a clear message", function()
      local x = cv.zeros(5, 3)
      assert.has.error(function() cv.pca(x, {k = 0}) end,
        "pca: k must be between 1 and min(rows, columns) = 3 for a 5x3 matrix, got 0")
      assert.has.error(function() cv.pca(x, {k = 4}) end,
        "pca: k must be between 1 and min(rows, columns) = 3 for a 5x3 matrix, got 4")
      assert.has.error(function() cv.pca(cv.zeros(2, 3, 4)) end,
        "pca: expected a 2-d matrix (rows x columns), got 2x3x4")
      assert.has.error(function() cv.pca(cv.zeros(1, 3)) end,
        "pca: needs at least 2 rows, got a 1x3 matrix")
      local bad = cv.zeros(5, 3)
      bad[{4, 2}] = 0 / 0
      assert.has.error(function() cv.pca(bad) end,
        "pca: NaN at row 4, column 2 (1-based) of the 5x3 matrix")
      assert.has.error(function() cv.pca(x, {kk = 2}) end, "pca: unknown option 'kk'")
    end)
  end)

  describe("kmeans()", function()
    -- The clusters as sets of rows, so that cluster numbers do not matter.
    local function partition(assign)
      local groups, keys = {}, {}
      for i, c in ipairs(assign) do
        groups[c] = groups[c] or {}
        table.insert(groups[c], i)
      end
      for _, g in pairs(groups) do table.insert(keys, table.concat(g, ",")) end
      table.sort(keys)
      return keys
    end

    it("recovers a planted clustering and its inertia", function()
      local g = golden("kmeans_planted")
      local r = cv.kmeans(tensor(g.x), g.k, {seed = 7})
      local planted = {}
      for i, l in ipairs(g.labels.data) do planted[i] = math.tointeger(l) + 1 end
      assert.same(partition(planted), partition(r.assign))
      assert.is_true(math.abs(r.inertia - g.inertia) <= 1e-6 * g.inertia,
        string.format("inertia %.9g, expected %.9g", r.inertia, g.inertia))
      assert.is_true(r.converged)
      -- each centroid is its cluster's mean
      local means = g.means.data
      local c = r.centroids:totable()
      for i, l in ipairs(g.labels.data) do
        local k = r.assign[i]
        for j = 1, g.means.shape[2] do
          assert.is_true(math.abs(c[k][j] - means[math.tointeger(l) * g.means.shape[2] + j]) < 1e-4)
        end
      end
    end)

    it("finds a hand-worked clustering", function()
      -- 1-d rows 0, 1, 10, 11, 12: clusters {0, 1} and {10, 11, 12},
      -- inertia 2 * 0.5^2 + (1 + 0 + 1) = 2.5
      local r = cv.kmeans(cv.tensor{{0}, {1}, {10}, {11}, {12}}, 2)
      assert.same({"1,2", "3,4,5"}, partition(r.assign))
      assert.are.equal(2.5, r.inertia)
      local c = r.centroids:view(-1):totable()
      table.sort(c)
      assert.same({0.5, 11}, c)
    end)

    it("is deterministic for a seed, whatever the global generator did", function()
      cv.manual_seed(1)
      local x = cv.randn(200, 4)
      cv.manual_seed(99)
      local a = cv.kmeans(x, 8, {seed = 5, restarts = 3})
      cv.randn(1000)
      local b = cv.kmeans(x, 8, {seed = 5, restarts = 3})
      assert.same(a.assign, b.assign)
      assert.are.equal(a.inertia, b.inertia)
      cv.set_num_threads(1)
      local c = cv.kmeans(x, 8, {seed = 5, restarts = 3})
      cv.set_num_threads(2)
      assert.same(a.assign, c.assign)
      assert.are.equal(a.inertia, c.inertia)
    end)

    it("keeps the best of its restarts", function()
      cv.manual_seed(2)
      local x = cv.randn(150, 3)
      for seed = 1, 5 do
        local one = cv.kmeans(x, 9, {seed = seed, restarts = 1})
        local many = cv.kmeans(x, 9, {seed = seed, restarts = 8})
        -- the first restart of a seed is the same run either way
        assert.is_true(many.inertia <= one.inertia)
      end
    end)

    it("takes k = rows (every row its own cluster, inertia 0)", function()
      local r = cv.kmeans(cv.tensor{{1, 2}, {3, 4}, {5, 7}}, 3)
      assert.same({"1", "2", "3"}, partition(r.assign))
      assert.are.equal(0, r.inertia)
    end)

    it("refuses bad input with a clear message", function()
      local x = cv.zeros(4, 2)
      assert.has.error(function() cv.kmeans(x, 0) end,
        "kmeans: k must be between 1 and the number of rows (4) of the 4x2 matrix, got 0")
      assert.has.error(function() cv.kmeans(x, 5) end,
        "kmeans: k must be between 1 and the number of rows (4) of the 4x2 matrix, got 5")
      assert.has.error(function() cv.kmeans(cv.zeros(8), 2) end,
        "kmeans: expected a 2-d matrix (rows x columns), got 8")
      local bad = cv.zeros(4, 2)
      bad[{1, 1}] = 1 / 0
      assert.has.error(function() cv.kmeans(bad, 2) end,
        "kmeans: infinity at row 1, column 1 (1-based) of the 4x2 matrix")
      bad[{1, 1}] = 0 / 0
      assert.has.error(function() cv.kmeans(bad, 2) end,
        "kmeans: NaN at row 1, column 1 (1-based) of the 4x2 matrix")
      assert.has.error(function() cv.kmeans(x, 2, {restarts = 0}) end,
        "kmeans: restarts must be >= 1, got 0")
      assert.has.error(function() cv.kmeans(x, 2, {iters = 0}) end,
        "kmeans: iters must be >= 1, got 0")
      assert.has.error(function() cv.kmeans(x, 2, {seed = 1.5}) end,
        "kmeans: seed must be an integer, got 1.5")
      assert.has.error(function() cv.kmeans(x, 2, {steps = 1}) end,
        "kmeans: unknown option 'steps'")
    end)
  end)
end)
