/* l_render.c — core.render: colormaps, grids and text on pictures. The
 * options and defaults users see (cv.vis.grid, cv.vis.heatmap) are in
 * lua/cnnvis/vis.lua. Pixel positions are 1-based here, as all Lua positions. */
#include "render/render.h"
#include "binding.h"

static cv_colormap check_colormap(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int map = cv_colormap_find(name);
  if (map < 0)
    luaL_error(L, "unknown colormap '%s' (gray, viridis or diverging)", name);
  return (cv_colormap)map;
}

/* Reads 3 numbers from the table at idx. */
static void check_rgb(lua_State *L, int idx, float rgb[3]) {
  luaL_checktype(L, idx, LUA_TTABLE);
  for (int c = 0; c < 3; c++) {
    lua_geti(L, idx, c + 1);
    int ok;
    rgb[c] = (float)lua_tonumberx(L, -1, &ok);
    if (!ok) luaL_argerror(L, idx, "expected a colour {r, g, b}");
    lua_pop(L, 1);
  }
}

/* A number (for every item) or a table of n numbers, into scratch memory
 * owned by a userdata left on the stack (freed by the GC, even on errors). */
static float *check_limits(lua_State *L, int idx, int64_t n) {
  float *v = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *v, 0);
  if (lua_isnumber(L, idx)) {
    for (int64_t i = 0; i < n; i++) v[i] = (float)lua_tonumber(L, idx);
    return v;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  if (luaL_len(L, idx) != n)
    luaL_error(L, "colorize: expected %I limits, one per item, got %I",
               (lua_Integer)n, (lua_Integer)luaL_len(L, idx));
  for (int64_t i = 0; i < n; i++) {
    lua_geti(L, idx, (lua_Integer)i + 1);
    v[i] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return v;
}

/* render.colorize(x, colormap, lo, hi) -> N x 3 x H x W */
static int l_colorize(lua_State *L) {
  cv_tensor *x = cvL_checktensor(L, 1);
  cv_colormap map = check_colormap(L, 2);
  int64_t n = x->ndim > 0 ? x->size[0] : 0;
  float *lo = check_limits(L, 3, n);
  float *hi = check_limits(L, 4, n);
  cv_error err;
  cvL_pushtensor(L, cv_render_colorize(x, map, lo, hi, &err), &err);
  return 1;
}

/* render.range(x) -> {lo per item}, {hi per item} */
static int l_range(lua_State *L) {
  cv_tensor *x = cvL_checktensor(L, 1);
  int64_t n = x->ndim > 0 ? x->size[0] : 0;
  float *v = lua_newuserdatauv(L, 2 * (size_t)(n ? n : 1) * sizeof *v, 0);
  cv_error err;
  if (cv_render_range(x, v, v + n, &err) < 0) return cvL_raise(L, &err);
  for (int k = 0; k < 2; k++) {
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
      lua_pushnumber(L, v[k * n + i]);
      lua_seti(L, -2, (lua_Integer)i + 1);
    }
  }
  return 2;
}

/* render.tile(rgb, cols, pad, {r, g, b}, scale) -> 3 x H' x W' */
static int l_tile(lua_State *L) {
  cv_tensor *rgb = cvL_checktensor(L, 1);
  lua_Integer cols = luaL_checkinteger(L, 2);
  lua_Integer pad = luaL_checkinteger(L, 3);
  float pad_rgb[3];
  check_rgb(L, 4, pad_rgb);
  lua_Integer scale = luaL_checkinteger(L, 5);
  cv_error err;
  cvL_pushtensor(L, cv_render_tile(rgb, cols, pad, pad_rgb, scale, &err), &err);
  return 1;
}

/* render.text(img, s, x, y, scale, vertical, {r, g, b}): draws in place */
static int l_text(lua_State *L) {
  cv_tensor *img = cvL_checktensor(L, 1);
  const char *s = luaL_checkstring(L, 2);
  lua_Integer x = luaL_checkinteger(L, 3), y = luaL_checkinteger(L, 4);
  lua_Integer scale = luaL_checkinteger(L, 5);
  int vertical = lua_toboolean(L, 6);
  float rgb[3];
  check_rgb(L, 7, rgb);
  cv_error err;
  /* 1-based to 0-based; the smallest integer stays (it is far off anyway) */
  x -= x > LUA_MININTEGER;
  y -= y > LUA_MININTEGER;
  if (cv_render_text(img, s, x, y, scale, vertical, rgb, &err) < 0)
    return cvL_raise(L, &err);
  return 0;
}

/* render.text_size(s, scale) -> w, h (upright) */
static int l_text_size(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  lua_Integer scale = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, scale >= 1, 2, "scale must be >= 1");
  int64_t w, h;
  cv_render_text_size(s, scale, &w, &h);
  lua_pushinteger(L, (lua_Integer)w);
  lua_pushinteger(L, (lua_Integer)h);
  return 2;
}

/* render.color(colormap, u) -> r, g, b (0..255) */
static int l_color(lua_State *L) {
  cv_colormap map = check_colormap(L, 1);
  float u = (float)luaL_checknumber(L, 2), rgb[3];
  cv_colormap_rgb(map, u, rgb);
  for (int c = 0; c < 3; c++) lua_pushinteger(L, (lua_Integer)rgb[c]);
  return 3;
}

void cvL_open_render(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"colorize", l_colorize}, {"range", l_range},   {"tile", l_tile},
      {"text", l_text},         {"text_size", l_text_size}, {"color", l_color},
      {NULL, NULL}};
  /* stack: module */
  luaL_newlib(L, fns);
  lua_setfield(L, -2, "render");
}
