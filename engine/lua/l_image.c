/* l_image.c — image geometry from Lua: cv.image.resize, cv.image.mirror,
 * and the tensor method table that lua/cnnvis/transform.lua extends. */
#include "binding.h"

#include "io/resize.h"

/* cv.image.resize(img, h, w [, filter]) -> C x h x w */
static int l_image_resize(lua_State *L) {
  static const char *const names[] = {"triangle", "box", "cubic", "mitchell",
                                      NULL};
  static const cv_resize_filter filters[] = {
      CV_RESIZE_TRIANGLE, CV_RESIZE_BOX, CV_RESIZE_CUBIC, CV_RESIZE_MITCHELL};
  cv_tensor *img = cvL_checktensor(L, 1);
  lua_Integer h = luaL_checkinteger(L, 2);
  lua_Integer w = luaL_checkinteger(L, 3);
  int f = luaL_checkoption(L, 4, "triangle", names);
  cv_error err;
  cvL_pushtensor(L, cv_image_resize(img, h, w, filters[f], &err), &err);
  return 1;
}

/* cv.image.mirror(img) -> img with its last dimension reversed */
static int l_image_mirror(lua_State *L) {
  cv_tensor *img = cvL_checktensor(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_image_mirror(img, &err), &err);
  return 1;
}

/* core.tensor_methods() -> the table tensors look their methods up in */
static int l_tensor_methods(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, CV_TENSOR_METHODS);
  return 1;
}

void cvL_open_image(lua_State *L) {
  static const luaL_Reg fns[] = {{"tensor_methods", l_tensor_methods},
                                 {NULL, NULL}};
  static const luaL_Reg image[] = {
      {"resize", l_image_resize}, {"mirror", l_image_mirror}, {NULL, NULL}};
  cvL_register(L, fns, NULL); /* stack: module */
  if (lua_getfield(L, -1, "image") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "image");
  }
  luaL_setfuncs(L, image, 0); /* stack: module image */
  lua_pop(L, 1);
}
