/* main.c — the `cnnvis` launcher: runs a script, a chunk, or a REPL. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

int luaopen_cnnvis_core(lua_State *L);

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cnnvis_core);
  lua_setfield(L, -2, "cnnvis.core");
  lua_pop(L, 1);
  int status = LUA_OK;
  if (argc > 1) status = luaL_dofile(L, argv[1]);
  if (status != LUA_OK) fprintf(stderr, "cnnvis: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
