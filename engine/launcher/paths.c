/* paths.c — finds the cnnvis Lua library that belongs to this executable.
 *
 * The core is linked into the launcher, so the Lua half must come from
 * the same tree or install: <tree>/build/bin/cnnvis uses <tree>/lua/,
 * <prefix>/bin/cnnvis uses <prefix>/share/lua/5.4/. That folder goes in
 * front of package.path; the rest of the path (LUA_PATH or Lua's
 * default) stays as it is for every other module.
 */
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

/* Where the library may be, relative to the executable's folder. */
static const char *const candidates[] = {
    "../../lua",          /* build tree: <tree>/<build>/bin/cnnvis */
    "../share/lua/5.4",   /* installed: <prefix>/bin/cnnvis */
    NULL,
};

/* The executable's folder into dir (PATH_MAX bytes); 0 or -1. */
static int exe_folder(char *dir) {
  ssize_t n = readlink("/proc/self/exe", dir, PATH_MAX - 1);
  if (n <= 0) return -1;
  dir[n] = '\0';
  char *slash = strrchr(dir, '/');
  if (slash == NULL) return -1;
  *slash = '\0';
  return 0;
}

/* The first candidate holding cnnvis/init.lua, resolved, into found. */
static int find_library(const char *dir, char *found) {
  char base[PATH_MAX], probe[PATH_MAX + 32];
  for (int i = 0; candidates[i] != NULL; i++) {
    int n = snprintf(base, sizeof base, "%s/%s", dir, candidates[i]);
    if (n < 0 || (size_t)n >= sizeof base) continue;
    snprintf(probe, sizeof probe, "%s/cnnvis/init.lua", base);
    if (access(probe, R_OK) == 0 && realpath(base, found) != NULL) return 0;
  }
  return -1;
}

void cv_launcher_addpath(lua_State *L) {
  char dir[PATH_MAX], lib[PATH_MAX];
  if (exe_folder(dir) != 0 || find_library(dir, lib) != 0) return;
  lua_getglobal(L, "package"); /* stack: package */
  lua_getfield(L, -1, "path"); /* stack: package, path */
  const char *path = lua_tostring(L, -1);
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lib, lib,
                  path != NULL ? path : "");
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}
