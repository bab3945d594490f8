/* l_io.c — files from Lua: .npy, and the `image` table (PNG and JPEG). */
#include "binding.h"

#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"

/* cv.load_npy(path) -> tensor */
static int l_load_npy(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_npy_load(path, &err), &err);
  return 1;
}

/* t:save_npy(path): float32, format 1.0 */
static int l_save_npy(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_error err;
  if (cv_npy_save(t, path, &err) < 0) return cvL_raise(L, &err);
  return 0;
}

/* t:save_png(path): C x H x W (C = 1..4) or H x W, clamped to 0..255 */
static int l_save_png(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_error err;
  if (cv_png_save(t, path, &err) < 0) return cvL_raise(L, &err);
  return 0;
}

/* cv.image.load(path) -> C x H x W tensor, 0..255; format from the bytes */
static int l_image_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_image_load(path, &err), &err);
  return 1;
}

/* cv.image.save(t, path): PNG */
static int l_image_save(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_error err;
  if (cv_image_save(t, path, &err) < 0) return cvL_raise(L, &err);
  return 0;
}

/* Adds fns to module.image, making the table if no other area did. */
static void add_to_image_table(lua_State *L, const luaL_Reg *fns) {
  /* stack: module */
  if (lua_getfield(L, -1, "image") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "image");
  }
  /* stack: module image */
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}

void cvL_open_io(lua_State *L) {
  static const luaL_Reg fns[] = {{"load_npy", l_load_npy}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"save_npy", l_save_npy}, {"save_png", l_save_png}, {NULL, NULL}};
  static const luaL_Reg image[] = {
      {"load", l_image_load}, {"save", l_image_save}, {NULL, NULL}};
  cvL_register(L, fns, methods);
  add_to_image_table(L, image);
}
