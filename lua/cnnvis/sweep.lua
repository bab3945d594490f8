--- Loops over a data set as map + merge, so that the work can be split
-- into shards (processes, machines, job array tasks) without changing the
-- result by a single bit.
--
--   local partial = cv.sweep.map(set, {batch = 50, shard = {0, 2}, key = {...}},
--     function(batch) return {count = #batch.labels, loss = sum} end)
--   local total = cv.sweep.fold(cv.sweep.merge({partial_0, partial_1}))
--
-- How the result stays the same: batches are cut from the whole set the
-- same way whatever the split (a batch's float32 arithmetic can depend on
-- its size), a shard takes a contiguous run of whole batches, a partial
-- keeps one value per batch, and fold adds the values in batch order in
-- double. A batch's value is a tree of tables and numbers: counts as Lua
-- integers, sums as Lua floats (turn tensors into numbers with :totable()).
-- Shards are numbered from 0, as MPI ranks and most job arrays are.
local core = require "cnnvis.core"
local json = require "cnnvis.json"

local M = {}

local function fail(fmt, ...) error(string.format(fmt, ...), 0) end

--- Parses "i/n" (0 <= i < n) or {i, n} into {i, n}.
function M.parse_shard(s)
  local i, n
  if type(s) == "table" then
    i, n = s[1], s[2]
  elseif type(s) == "string" then
    i, n = s:match("^(%d+)/(%d+)$")
    i, n = math.tointeger(tonumber(i)), math.tointeger(tonumber(n))
  end
  if math.type(i) ~= "integer" or math.type(n) ~= "integer" or n < 1 or i < 0 or i >= n then
    fail("--shard wants i/n with 0 <= i < n (shards count from 0), got '%s'",
      type(s) == "table" and table.concat(s, "/") or tostring(s))
  end
  return {i, n}
end

--- The batches of a set of `count` items in batches of `batch`, and the
-- run of them shard {i, n} takes: first, last (1-based batch numbers;
-- last < first when the shard has none) and the number of batches.
function M.plan(count, batch, shard)
  local batches = (count + batch - 1) // batch
  if not shard then return 1, batches, batches end
  local i, n = shard[1], shard[2]
  return i * batches // n + 1, (i + 1) * batches // n, batches
end

--- Maps fn over the batches of set that shard opts.shard takes (default:
-- all). fn(batch) gets {images = N x C x H x W, labels = N tensor,
-- positions = the 1-based positions in set of its N images, skipped = those
-- of the batch's images that did not load, index = batch number} and
-- returns the batch's value. opts: batch (default 50), shard ({i, n} or
-- "i/n"), key (anything JSON can hold that must agree between partials
-- merged: the model, the options), progress (a cv.progress bar to update),
-- combine and enough (a search: see fold; the shard stops at its first
-- batch where its own values folded are enough, since a later batch of
-- the shard cannot change a search's answer).
-- Returns the partial: {sweep = 1, key =, shard = {i, n}, batch =, count =,
-- batches = {{index =, value =}, ...}}.
function M.map(set, opts, fn)
  opts = opts or {}
  local size = opts.batch or 50
  if math.type(size) ~= "integer" or size < 1 then fail("the batch size must be a positive integer") end
  local shard = opts.shard and M.parse_shard(opts.shard) or {0, 1}
  local count = #set
  local first, last = M.plan(count, size, shard)
  local out, acc = {}, nil
  for b = first, last do
    local positions = {}
    for p = (b - 1) * size + 1, math.min(b * size, count) do positions[#positions + 1] = p end
    local batch = set:subset(positions):batches(#positions)()
    if batch then
      -- the subset's positions (1..#positions) back to the set's
      local kept, skipped = {}, {}
      for k, p in ipairs(batch.positions) do kept[k] = positions[p] end
      for k, p in ipairs(batch.skipped or {}) do skipped[k] = positions[p] end
      batch.positions, batch.skipped, batch.index = kept, skipped, b
      out[#out + 1] = {index = b, value = fn(batch)}
    end
    if opts.progress then opts.progress:update(math.min(b * size, count)) end
    collectgarbage() -- tensors are small userdata holding big C buffers
    if opts.enough and #out > 0 then
      acc = M.fold({out[#out]}, opts.combine, nil, acc)
      if opts.enough(acc) then break end
    end
  end
  return {sweep = 1, key = opts.key or json.object(), shard = shard, batch = size,
          count = count, batches = out}
end

--- One partial of all the given ones (any order): checks that they come
-- from the same work (key, batch size, count) and that every shard of
-- the split is there exactly once, then joins their batches in order.
function M.merge(partials)
  if type(partials) ~= "table" or #partials == 0 then fail("merge: give one or more partial results") end
  local first = partials[1]
  local key_text, n = json.encode(first.key), first.shard[2]
  local seen, batches = {}, {}
  for k, p in ipairs(partials) do
    if p.sweep ~= 1 or type(p.batches) ~= "table" then
      fail("merge: partial %d is not a partial result of cv.sweep", k)
    end
    if json.encode(p.key) ~= key_text then
      fail("merge: partial %d was computed with other settings (%s) than partial 1 (%s)",
        k, json.encode(p.key), key_text)
    end
    if p.batch ~= first.batch or p.count ~= first.count or p.shard[2] ~= n then
      fail("merge: partial %d splits other work (%d items in batches of %d, %d shards) "
        .. "than partial 1 (%d in batches of %d, %d shards)", k, p.count, p.batch, p.shard[2],
        first.count, first.batch, n)
    end
    if seen[p.shard[1]] then fail("merge: shard %d/%d is given twice", p.shard[1], n) end
    seen[p.shard[1]] = true
    for _, b in ipairs(p.batches) do batches[#batches + 1] = b end
  end
  for i = 0, n - 1 do
    if not seen[i] then fail("merge: shard %d/%d is missing", i, n) end
  end
  table.sort(batches, function(a, b) return a.index < b.index end)
  return {sweep = 1, key = first.key, shard = {0, 1}, batch = first.batch, count = first.count,
          batches = batches}
end

-- a + b over trees of numbers: numbers add (integers stay integers),
-- tables add key by key, anything else must be equal.
local function add(a, b, path)
  if a == nil then return b end
  if b == nil then return a end
  local ta, tb = type(a), type(b)
  if ta == "number" and tb == "number" then return a + b end
  if ta == "table" and tb == "table" then
    local out = {}
    for k, v in pairs(a) do out[k] = add(v, b[k], path .. "." .. tostring(k)) end
    for k, v in pairs(b) do if a[k] == nil then out[k] = v end end
    return out
  end
  if a ~= b then fail("fold: batch values differ in kind at %s", path) end
  return a
end

--- The sum of a partial's batch values in batch order (or of a list of
-- values, or of {value =} entries); with combine(acc, value), that function in place of
-- the sum; with enough(acc), the fold stops at the first batch where
-- enough(acc) is true (a search: the first images that answer it), so
-- shards that searched past that batch give the one-process answer.
-- acc (optional): a value to fold on from.
function M.fold(partial, combine, enough, acc)
  local values = partial.batches or partial
  for _, b in ipairs(values) do
    local v = b.value
    if v == nil and partial.batches == nil then v = b end
    acc = combine and (acc == nil and v or combine(acc, v)) or add(acc, v, "value")
    if enough and enough(acc) then break end
  end
  return acc
end

--- map + fold in one process: the folded value of every batch (opts as
-- map's).
function M.run(set, opts, fn)
  opts = opts or {}
  return M.fold(M.map(set, opts, fn), opts.combine, opts.enough)
end

--- Numbers of a tensor as a Lua array (row-major, flattened).
function M.numbers(t)
  return core.is_tensor(t) and t:contiguous():view(-1):totable() or t
end

return M
