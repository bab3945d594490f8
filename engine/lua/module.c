/* module.c — opens `cnnvis.core`: the tensor metatable, then every area. */
#include "binding.h"

int luaopen_cnnvis_core(lua_State *L);

int luaopen_cnnvis_core(lua_State *L) {
  lua_newtable(L); /* stack: module */
  luaL_newmetatable(L, CV_TENSOR_MT);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, CV_TENSOR_METHODS);
  cvL_open_tensor(L);
  cvL_open_autograd(L);
  cvL_open_nn(L);
  cvL_open_kernels(L);
  cvL_open_net(L);
  cvL_open_caffe(L);
  cvL_open_math(L);
  cvL_open_io(L);
  cvL_open_image(L);
  cvL_open_data(L);
  cvL_open_render(L);
  cvL_open_analysis(L);
  cvL_open_volume(L);
  return 1;
}
