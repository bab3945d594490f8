/* l_volume.c — volumes: cv.io.save_nrrd / load_nrrd (engine/io/nrrd.c) and
 * core.render.raycast (engine/render/raycast.c). The user-facing defaults of
 * rendering (range from the data, turntables, slices) are in
 * lua/cnnvis/volume.lua. */
#include <math.h>
#include <string.h>

#include "io/nrrd.h"
#include "render/raycast.h"
#include "binding.h"

/* Raises "fn: unknown option 'x'" for a key of the table at idx not in known. */
static void check_known(lua_State *L, int idx, const char *fn, const char *const *known) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = known; *k; k++) ok |= strcmp(*k, lua_tostring(L, -1)) == 0;
    if (!ok) luaL_error(L, "%s: unknown option '%s'", fn, luaL_tolstring(L, -1, NULL));
  }
}

/* n numbers from the option `name` (a table of n, or with one_ok a number
 * for all) into v; absent leaves v alone. Returns 1 when present. */
static int numbers_option(lua_State *L, int idx, const char *fn, const char *name, int n,
                          int one_ok, double *v) {
  int t = lua_getfield(L, idx, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (one_ok && t == LUA_TNUMBER) {
    for (int i = 0; i < n; i++) v[i] = lua_tonumber(L, -1);
  } else {
    if (t != LUA_TTABLE || luaL_len(L, -1) != n)
      luaL_error(L, "%s: %s must be a table of %d numbers%s", fn, name, n,
                 one_ok ? " or one number" : "");
    for (int i = 0; i < n; i++) {
      lua_geti(L, -1, i + 1);
      int ok;
      v[i] = lua_tonumberx(L, -1, &ok);
      if (!ok) luaL_error(L, "%s: %s[%d] must be a number, got %s", fn, name, i + 1,
                          luaL_typename(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return 1;
}

/* cv.io.save_nrrd(t, path, {spacing =, labels =, kinds =, encoding = "raw"|"gzip"}):
 * per-dim options in the tensor's order. */
static int l_save_nrrd(lua_State *L) {
  static const char *const known[] = {"spacing", "labels", "kinds", "encoding", NULL};
  cv_tensor *t = cvL_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_nrrd_meta m = cv_nrrd_meta_none(t->ndim);
  cv_nrrd_encoding enc = CV_NRRD_RAW;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    check_known(L, 3, "save_nrrd", known);
    numbers_option(L, 3, "save_nrrd", "spacing", t->ndim, 0, m.spacing);
    const char *fields[2] = {"labels", "kinds"};
    for (int f = 0; f < 2; f++) {
      int ty = lua_getfield(L, 3, fields[f]);
      if (ty != LUA_TNIL) {
        if (ty != LUA_TTABLE || luaL_len(L, -1) != t->ndim)
          luaL_error(L, "save_nrrd: %s must be a table of %d strings (one per dim)", fields[f],
                     t->ndim);
        for (int i = 0; i < t->ndim; i++) {
          lua_geti(L, -1, i + 1);
          size_t len;
          const char *s = lua_tolstring(L, -1, &len);
          size_t cap = f ? CV_NRRD_KIND_MAX : CV_NRRD_LABEL_MAX;
          if (!s || len >= cap)
            luaL_error(L, "save_nrrd: %s[%d] must be a string of at most %d bytes", fields[f],
                       i + 1, (int)cap - 1);
          memcpy(f ? m.kind[i] : m.label[i], s, len + 1);
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
    if (lua_getfield(L, 3, "encoding") != LUA_TNIL) {
      const char *e = lua_tostring(L, -1);
      if (e && strcmp(e, "gzip") == 0) enc = CV_NRRD_GZIP;
      else if (!e || strcmp(e, "raw") != 0)
        luaL_error(L, "save_nrrd: encoding must be \"raw\" or \"gzip\", got %s",
                   luaL_tolstring(L, -1, NULL));
    }
    lua_pop(L, 1);
  }
  cv_error err;
  if (cv_nrrd_save(t, path, &m, enc, &err) < 0) return cvL_raise(L, &err);
  return 0;
}

/* cv.io.load_nrrd(path) -> tensor, {spacing =, labels =, kinds =} (what the
 * header gives, in the tensor's order; spacing NaN / label "" where not given) */
static int l_load_nrrd(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cv_nrrd_meta m;
  cv_error err;
  cvL_pushtensor(L, cv_nrrd_load(path, &m, &err), &err);
  lua_createtable(L, 0, 3);
  for (int f = 0; f < 3; f++) {
    lua_createtable(L, m.ndim, 0);
    for (int i = 0; i < m.ndim; i++) {
      if (f == 0) lua_pushnumber(L, m.spacing[i]);
      else lua_pushstring(L, f == 1 ? m.label[i] : m.kind[i]);
      lua_seti(L, -2, i + 1);
    }
    lua_setfield(L, -2, f == 0 ? "spacing" : f == 1 ? "labels" : "kinds");
  }
  return 2;
}

/* core.render.raycast(vol, {mode = "composite"|"mip"|"max", azimuth =,
 * elevation =, width =, height =, zoom =, spacing = {3}, step =,
 * range = {lo, hi}, colormap =, opacity = {u0, u1, a}, background =})
 * -> 3 x h x w picture ("max": 1 x h x w raw maxima, NaN off the volume) */
static int l_raycast(lua_State *L) {
  static const char *const known[] = {"mode", "azimuth", "elevation", "width", "height",
                                      "zoom", "spacing", "step", "range", "colormap",
                                      "opacity", "background", NULL};
  cv_tensor *vol = cvL_checktensor(L, 1);
  cv_raycast_params p = cv_raycast_defaults();
  const char *mode = "composite";
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    check_known(L, 2, "raycast", known);
    double v[3];
    const char *scalars[] = {"azimuth", "elevation", "zoom", "step", "width", "height"};
    for (int i = 0; i < 6; i++)
      if (numbers_option(L, 2, "raycast", scalars[i], 1, 1, v)) {
        if (i == 0) p.azimuth = v[0];
        if (i == 1) p.elevation = v[0];
        if (i == 2) p.zoom = v[0];
        if (i == 3) p.step = v[0];
        if (i >= 4) {
          if (v[0] != floor(v[0]) || !(fabs(v[0]) < 1e9))
            luaL_error(L, "raycast: %s must be an integer, got %g", scalars[i], v[0]);
          *(i == 4 ? &p.width : &p.height) = (int64_t)v[0];
        }
      }
    numbers_option(L, 2, "raycast", "spacing", 3, 1, p.spacing);
    if (numbers_option(L, 2, "raycast", "range", 2, 0, v)) p.lo = (float)v[0], p.hi = (float)v[1];
    if (numbers_option(L, 2, "raycast", "opacity", 3, 0, v))
      for (int i = 0; i < 3; i++) p.opacity[i] = (float)v[i];
    if (numbers_option(L, 2, "raycast", "background", 3, 1, v))
      for (int i = 0; i < 3; i++) p.background[i] = (float)v[i];
    if (lua_getfield(L, 2, "colormap") != LUA_TNIL) {
      const char *name = lua_tostring(L, -1);
      int map = name ? cv_colormap_find(name) : -1;
      if (map < 0)
        luaL_error(L, "raycast: unknown colormap '%s' (gray, viridis or diverging)",
                   luaL_tolstring(L, -1, NULL));
      p.colormap = (cv_colormap)map;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "mode") != LUA_TNIL) mode = lua_tostring(L, -1);
    if (!mode || (strcmp(mode, "composite") && strcmp(mode, "mip") && strcmp(mode, "max")))
      luaL_error(L, "raycast: mode must be \"composite\", \"mip\" or \"max\", got %s",
                 luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
  }
  cv_error err;
  cv_tensor *out = strcmp(mode, "composite") == 0 ? cv_raycast_composite(vol, &p, &err)
                   : strcmp(mode, "mip") == 0     ? cv_raycast_mip_rgb(vol, &p, &err)
                                                  : cv_raycast_mip(vol, &p, &err);
  cvL_pushtensor(L, out, &err);
  return 1;
}

void cvL_open_volume(lua_State *L) {
  static const luaL_Reg io[] = {{"save_nrrd", l_save_nrrd}, {"load_nrrd", l_load_nrrd},
                                {NULL, NULL}};
  /* stack: module */
  if (lua_getfield(L, -1, "io") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "io");
  }
  luaL_setfuncs(L, io, 0);
  lua_pop(L, 1);
  /* stack: module; render is opened before this */
  lua_getfield(L, -1, "render");
  lua_pushcfunction(L, l_raycast);
  lua_setfield(L, -2, "raycast");
  lua_pop(L, 1);
}
