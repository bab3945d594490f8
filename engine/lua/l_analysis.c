/* l_analysis.c — cv.pca and cv.kmeans on any n x d tensor (engine/analysis/). */
#include "analysis/kmeans.h"
#include "analysis/pca.h"
#include <string.h>

#include "binding.h"

/* Raises "fn: unknown option 'x'" for a key of the table at idx not in known. */
static void check_options(lua_State *L, int idx, const char *fn, const char *const *known) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = known; *k; k++) ok |= strcmp(*k, lua_tostring(L, -1)) == 0;
    if (!ok) luaL_error(L, "%s: unknown option '%s'", fn, luaL_tolstring(L, -1, NULL));
  }
}

/* The integer option `name` of the table at idx, or def. */
static lua_Integer int_option(lua_State *L, int idx, const char *fn, const char *name,
                              lua_Integer def) {
  if (lua_isnoneornil(L, idx)) return def;
  lua_getfield(L, idx, name);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: %s must be an integer, got %s", fn, name, luaL_tolstring(L, -1, NULL));
  }
  lua_pop(L, 1);
  return v;
}

static void set_tensor(lua_State *L, const char *name, cv_tensor *t) {
  cv_error err;
  cvL_pushtensor(L, t, &err);
  lua_setfield(L, -2, name);
}

/* cv.pca(x, {k =}) -> {components = k x d, explained = k, mean = d,
 * projection = n x k}; k defaults to min(n, d). */
static int l_pca(lua_State *L) {
  static const char *const known[] = {"k", NULL};
  cv_tensor *x = cvL_checktensor(L, 1);
  check_options(L, 2, "pca", known);
  lua_Integer m = x->ndim == 2 ? (x->size[0] < x->size[1] ? x->size[0] : x->size[1]) : 1;
  lua_Integer k = int_option(L, 2, "pca", "k", m);
  cv_pca_result r;
  cv_error err;
  if (cv_pca(x, k, &r, &err) < 0) return cvL_raise(L, &err);
  lua_createtable(L, 0, 4); /* stack: x [opts] result */
  set_tensor(L, "components", r.components);
  set_tensor(L, "explained", r.explained);
  set_tensor(L, "mean", r.mean);
  set_tensor(L, "projection", r.projection);
  return 1;
}

/* cv.kmeans(x, k, {seed =, restarts =, iters =}) -> {assign = {1-based
 * cluster of each row}, centroids = k x d, inertia =, iterations =, converged =} */
static int l_kmeans(lua_State *L) {
  static const char *const known[] = {"seed", "restarts", "iters", NULL};
  cv_tensor *x = cvL_checktensor(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  check_options(L, 3, "kmeans", known);
  cv_kmeans_opts o = cv_kmeans_defaults();
  o.seed = (uint64_t)int_option(L, 3, "kmeans", "seed", (lua_Integer)o.seed);
  o.restarts = int_option(L, 3, "kmeans", "restarts", o.restarts);
  o.iters = int_option(L, 3, "kmeans", "iters", o.iters);
  cv_kmeans_result r;
  cv_error err;
  if (cv_kmeans(x, k, &o, &r, &err) < 0) return cvL_raise(L, &err);
  int64_t n = x->size[0];
  /* stack: x k [opts] */
  lua_createtable(L, 0, 5);
  lua_createtable(L, (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)r.assign[i] + 1);
    lua_seti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "assign");
  cv_tensor *c = r.centroids;
  r.centroids = NULL; /* pushed below, which takes the reference */
  double inertia = r.inertia;
  lua_Integer iterations = r.iterations;
  int converged = r.converged;
  cv_kmeans_result_free(&r);
  set_tensor(L, "centroids", c);
  lua_pushnumber(L, inertia);
  lua_setfield(L, -2, "inertia");
  lua_pushinteger(L, iterations);
  lua_setfield(L, -2, "iterations");
  lua_pushboolean(L, converged);
  lua_setfield(L, -2, "converged");
  return 1;
}

void cvL_open_analysis(lua_State *L) {
  static const luaL_Reg fns[] = {{"pca", l_pca}, {"kmeans", l_kmeans}, {NULL, NULL}};
  cvL_register(L, fns, NULL);
}
