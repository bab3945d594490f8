--- A Caffe net as scripts use it: `net:forward(x)`, `net.blobs.conv1`,
-- `net.params.conv1.weight`, `net:neuron("fc8", {class = 281})`, `print(net)`.
local core_is_tensor = require("cnnvis.core").is_tensor

local M = {}

local Net = {}
Net.__index = Net

local function shape_str(shape)
  if #shape == 0 then return "scalar" end
  return table.concat(shape, "x")
end

-- Tops that no later layer reads: what forward returns.
local function output_names(layers)
  local read, outputs = {}, {}
  for _, l in ipairs(layers) do
    for _, b in ipairs(l.bottoms) do read[b] = true end
  end
  for i = #layers, 1, -1 do
    for _, t in ipairs(layers[i].tops) do
      if not read[t] and layers[i].type ~= "Input" then
        table.insert(outputs, 1, t)
        read[t] = true
      end
    end
  end
  return outputs
end

--- Wraps a `cnnvis.core` net.
function M.wrap(core_net)
  -- _neurons: what each tensor net:neuron returned stands for (weak keys)
  local self = setmetatable({_net = core_net, _neurons = setmetatable({}, {__mode = "k"})}, Net)
  self.layers = core_net:layers()
  self.inputs = core_net:inputs()
  self.outputs = output_names(self.layers)
  self.params = {}
  for _, l in ipairs(self.layers) do
    if #l.params > 0 then
      local p = {weight = l.params[1], bias = l.params[2]}
      for i, t in ipairs(l.params) do p[i] = t end
      self.params[l.name] = p
    end
  end
  self.blobs = setmetatable({}, {
    __index = function(_, name) return core_net:blob(name) end,
  })
  return self
end

--- Runs the net on x (an NxCxHxW tensor, or a table {input_name = tensor}).
-- opts.upto names the last layer to run; opts.keep lists the only blobs to
-- keep (default: every blob), the others are freed as soon as no later
-- layer reads them. opts.from names the first layer to run: then x is nil
-- or a table {blob = tensor} of the blobs that layer and the later ones
-- read and do not make (by default those of the last forward), and the
-- layers before it do not run -- what a change from layer L on needs:
--   net:forward(x, {upto = "norm2", keep = {"norm2"}})
--   local norm2 = net.blobs.norm2
--   net:forward({norm2 = norm2}, {from = "conv3"})   -- conv3 onwards only
-- Returns a table of the output blobs by name (with upto: that layer's
-- tops) that were kept.
function Net:forward(x, opts)
  local upto = opts and opts.upto
  local keep = opts and opts.keep
  local from = opts and opts.from
  if keep ~= nil and type(keep) ~= "table" then
    error("forward: keep must be a list of blob names", 2)
  end
  if from ~= nil then
    if type(from) ~= "string" then error("forward: from must be a layer name", 2) end
    if x ~= nil and type(x) ~= "table" then
      error("forward: from a layer on, give blobs as {name = tensor}", 2)
    end
    self._net:forward(x, upto, keep, from)
    self.last_input = nil -- no input for the whole net to run again on
  else
    self._net:forward(x, upto, keep)
    self.last_input = x
  end
  local names = self.outputs
  if upto then
    for _, l in ipairs(self.layers) do
      if l.name == upto then names = l.tops end
    end
  end
  local out = {}
  for _, name in ipairs(names) do out[name] = self._net:blob(name) end
  return out
end

--- The scalar a class neuron of blob `name` gives after forward: summed over
-- the batch, or of one sample (`{class = c, sample = i}`, i 1-based).
-- Classes are 0-based, as in Caffe's label files.
function Net:neuron(name, opts)
  assert(type(opts) == "table" and math.type(opts.class) == "integer",
    "neuron: give the class as {class = c} (0-based, as in Caffe)")
  local blob = self._net:blob(name)
  if not blob then error("neuron: the net has no blob '" .. name .. "' (run forward first)", 2) end
  local c = opts.class
  if blob:dim() < 2 or c < 0 or c >= blob:size(2) then
    error(string.format("neuron: class %d is out of range for blob '%s' of shape %s",
      c, name, shape_str(blob:size())), 2)
  end
  local column = blob:select(2, c + 1)
  local n
  if opts.sample then n = column[opts.sample] else n = column:sum() end
  self._neurons[n] = {name, class = c, sample = opts.sample}
  return n
end

--- Zeroes (drops) the gradient of every parameter of the net.
function Net:zero_grad()
  for _, l in ipairs(self.layers) do
    for _, t in ipairs(l.params) do t:zero_grad() end
  end
end

-- per_sample_norms' neuron: {blob, class = c}, or a tensor net:neuron gave.
local function neuron_spec(self, neuron)
  if core_is_tensor(neuron) then
    local spec = self._neurons[neuron]
    if spec then return spec end
  elseif type(neuron) == "table" and (neuron[1] or neuron.blob) then
    return neuron
  end
  error("per_sample_norms: give the neuron as net:neuron(blob, {class = c}) returns it, "
    .. "or as {blob, class = c}; got " .. (core_is_tensor(neuron) and "a tensor that is not "
    .. "a neuron of this net" or type(neuron)), 3)
end

--- Per-image gradient norms of every filter: for a batch of N images (the
-- net's last forward), a table layer name -> N x filters tensor whose row n
-- holds, per output channel (conv) or output neuron (fc), the L2 norm of the
-- gradient of image n's neuron w.r.t. that filter's weights (bias apart) --
-- the report's importance measure, per image. One backward of the neuron
-- summed over the batch gives them all: no N copies of a weight gradient.
-- neuron = {blob, class = c [, sample = i]}, or the tensor net:neuron(blob,
-- {class = c}) returned (after this forward or an earlier one: it stands for
-- the same neuron of the last forward); opts.layers (default: every conv and fc
-- layer). Parameters' .grad receive the batch's summed gradient on the way.
function Net:per_sample_norms(neuron, opts)
  local layers = opts and opts.layers
  if not layers then
    layers = {}
    for _, l in ipairs(self.layers) do
      if l.type == "Convolution" or l.type == "InnerProduct" then layers[#layers + 1] = l.name end
    end
  end
  if not self.last_input then error("per_sample_norms: run net:forward(x) first", 2) end
  neuron = neuron_spec(self, neuron)
  local function keep_grads()
    for _, name in ipairs(layers) do self._net:keep_output_grad(name) end
  end
  -- The last forward serves when its tape is still whole (not run under
  -- no_grad, not used up by a backward); else it runs again.
  if not pcall(keep_grads) then
    self:forward(self.last_input)
    keep_grads()
  end
  local n = self:neuron(neuron[1] or neuron.blob, {class = neuron.class, sample = neuron.sample})
  n:backward(nil, {retain = true})
  local norms = {}
  for _, name in ipairs(layers) do norms[name] = self._net:filter_norms(name) end
  return norms
end

--- Writes the weights as a V2 caffemodel.
function Net:save(path)
  self._net:save_weights(path)
end

function Net:__tostring()
  local rows, total = {{"layer", "type", "output", "params"}}, 0
  for _, l in ipairs(self.layers) do
    local count = 0
    for _, p in ipairs(l.params) do count = count + p:numel() end
    total = total + count
    local shapes = {}
    for i, s in ipairs(l.top_shapes) do shapes[i] = shape_str(s) end
    rows[#rows + 1] = {l.name, l.type, table.concat(shapes, ", "), tostring(count)}
  end
  rows[#rows + 1] = {"total", "", "", tostring(total)}
  local width = {}
  for _, r in ipairs(rows) do
    for i, cell in ipairs(r) do width[i] = math.max(width[i] or 0, #cell) end
  end
  local lines = {}
  for _, r in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(r) do
      cells[i] = i == 4 and string.format("%" .. width[i] .. "s", cell)
                         or string.format("%-" .. width[i] .. "s", cell)
    end
    lines[#lines + 1] = table.concat(cells, "  ")
  end
  return table.concat(lines, "\n")
end

return M
