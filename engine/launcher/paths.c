/* paths.c — finds the cnnvis Lua library that belongs to this executable.
 *
 * The core is linked into the launcher, so the Lua half must come from
 * the same tree or install: <tree>/build/bin/cnnvis uses <tree>/lua/,
 * <prefix>/bin/cnnvis uses <prefix>/share/lua/5.4/. That folder goes in
 * front of package.path; the rest of the path (LUA_PATH or Lua's
 * default) stays as it is for every other module. The C modules built
 * beside core.so (cnnvis.mpi) are found the same way, through
 * package.cpath: <tree>/build/lib/, <prefix>/lib/lua/5.4/.
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

/* Where its C modules may be, likewise. */
static const char *const c_candidates[] = {
    "../lib",             /* build tree: <tree>/<build>/lib/cnnvis/core.so */
    "../lib/lua/5.4",     /* installed */
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

/* The first of candidates holding file, resolved, into found. */
static int find_library(const char *dir, const char *const *cands, const char *file,
                        char *found) {
  char base[PATH_MAX], probe[PATH_MAX + 32];
  for (int i = 0; cands[i] != NULL; i++) {
    int n = snprintf(base, sizeof base, "%s/%s", dir, cands[i]);
    if (n < 0 || (size_t)n >= sizeof base) continue;
    snprintf(probe, sizeof probe, "%s/%s", base, file);
    if (access(probe, R_OK) == 0 && realpath(base, found) != NULL) return 0;
  }
  return -1;
}

/* package[field] = prefix .. package[field]. */
static void prepend(lua_State *L, const char *field, const char *prefix) {
  lua_getglobal(L, "package");  /* stack: package */
  lua_getfield(L, -1, field);   /* stack: package, path */
  const char *path = lua_tostring(L, -1);
  lua_pushfstring(L, "%s%s", prefix, path != NULL ? path : "");
  lua_setfield(L, -3, field);
  lua_pop(L, 2);
}

void cv_launcher_addpath(lua_State *L) {
  char dir[PATH_MAX], lib[PATH_MAX], entry[2 * PATH_MAX + 32];
  if (exe_folder(dir) != 0) return;
  if (find_library(dir, candidates, "cnnvis/init.lua", lib) == 0) {
    snprintf(entry, sizeof entry, "%s/?.lua;%s/?/init.lua;", lib, lib);
    prepend(L, "path", entry);
  }
  if (find_library(dir, c_candidates, "cnnvis/core.so", lib) == 0) {
    snprintf(entry, sizeof entry, "%s/?.so;", lib);
    prepend(L, "cpath", entry);
  }
}
