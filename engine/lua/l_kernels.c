/* l_kernels.c — cv.nn.kernel_choices(): which kernel served which shape
 * (layers/kernel_choice.h), for users and the benchmarks. */
#include "layers/kernel_choice.h"
#include "binding.h"

/* kernel_choices([{reset = true}]) -> {isa =, lanes =, dropped =, {op =,
 * shape =, kernel =, calls =}, ...}; reset forgets them after reading. */
static int l_kernel_choices(lua_State *L) {
  int reset = 0;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "reset");
    reset = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  int n = cv_kernel_choice_count();
  lua_createtable(L, n, 3); /* stack: result */
  lua_pushstring(L, cv_kernel_isa());
  lua_setfield(L, -2, "isa");
  lua_pushinteger(L, cv_kernel_lanes());
  lua_setfield(L, -2, "lanes");
  lua_pushinteger(L, cv_kernel_choice_dropped());
  lua_setfield(L, -2, "dropped");
  for (int i = 0; i < n; i++) {
    const char *op, *shape, *kernel;
    long calls;
    cv_kernel_choice_get(i, &op, &shape, &kernel, &calls);
    lua_createtable(L, 0, 4); /* stack: result entry */
    lua_pushstring(L, op);
    lua_setfield(L, -2, "op");
    lua_pushstring(L, shape);
    lua_setfield(L, -2, "shape");
    lua_pushstring(L, kernel);
    lua_setfield(L, -2, "kernel");
    lua_pushinteger(L, calls);
    lua_setfield(L, -2, "calls");
    lua_rawseti(L, -2, i + 1);
  }
  if (reset) cv_kernel_choice_reset();
  return 1;
}

void cvL_open_kernels(lua_State *L) {
  lua_getfield(L, -1, "nn"); /* stack: module nn */
  lua_pushcfunction(L, l_kernel_choices);
  lua_setfield(L, -2, "kernel_choices");
  lua_pop(L, 1);
}
