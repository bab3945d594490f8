--- cnnvis.image: pictures in and out.
-- The functions come from the C core's `image` table, which other parts of
-- the engine may add to; this module is that same table, so `cv.image` and
-- `require "cnnvis.image"` are one thing.
--
-- `load(path)` reads PNG or JPEG, chosen from the file's first bytes, into a
-- C x H x W float tensor with values 0..255 (C = 1 gray, 2 gray+alpha, 3 RGB,
-- 4 RGBA; 16-bit PNG samples become v / 257). `save(t, path)` writes PNG,
-- 8 bits, values clamped to 0..255 and rounded; `t:save_png(path)` is the same.
-- @usage local img = cv.image.load("cat.jpg")   -- 3x360x480
-- cv.image.save(img, "cat.png")
local core = require "cnnvis.core"

local M = core.image

return M
