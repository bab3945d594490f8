/* l_data.c — data sets and training from Lua: IDX files, batch gathering
 * and Caffe's SGD update (the Lua side lives in cnnvis.data and
 * cnnvis.solver). */
#include <stdlib.h>

#include "binding.h"

#include "io/idx.h"
#include "sgd.h"
#include "tensor/gather.h"

/* cv.load_idx(path) -> tensor (gzipped or plain IDX) */
static int l_load_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_idx_load(path, &err), &err);
  return 1;
}

/* Reads table t[1..n] of 1-based positions into 0-based index; flips from
 * the optional table at flip_idx (booleans). */
static void check_positions(lua_State *L, int64_t n, int64_t *index,
                            unsigned char *flip, int flip_idx) {
  for (int64_t i = 0; i < n; i++) {
    lua_geti(L, 2, (lua_Integer)i + 1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    lua_pop(L, 1);
    if (!ok) luaL_error(L, "gather: position %I is not an integer", (lua_Integer)i + 1);
    index[i] = (int64_t)v - 1;
    flip[i] = 0;
    if (flip_idx) {
      lua_geti(L, flip_idx, (lua_Integer)i + 1);
      flip[i] = (unsigned char)lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
}

/* cv.gather(src, {i1, i2, ...} [, {flip1, ...}]) -> #positions x ... tensor:
 * samples of src along dim 1 (1-based), each mirrored left-right when its
 * flip is true. */
static int l_gather(lua_State *L) {
  cv_tensor *src = cvL_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int flip_idx = lua_isnoneornil(L, 3) ? 0 : 3;
  if (flip_idx) luaL_checktype(L, 3, LUA_TTABLE);
  luaL_argcheck(L, src->ndim >= 1, 1, "a tensor of samples along dim 1 expected");
  int64_t n = (int64_t)luaL_len(L, 2);
  int64_t *index = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(n + 1), 0);
  unsigned char *flip = lua_newuserdatauv(L, (size_t)n + 1, 0);
  check_positions(L, n, index, flip, flip_idx);
  int64_t size[CV_MAX_DIMS];
  for (int d = 0; d < src->ndim; d++) size[d] = src->size[d];
  size[0] = n;
  cv_error err;
  cv_tensor *c = cv_tensor_contiguous(src, &err), *out = NULL;
  if (c && (out = cv_tensor_empty(src->ndim, size, &err)) &&
      cv_tensor_gather(c, n, index, flip, out, &err)) {
    cv_tensor_release(out);
    out = NULL;
  }
  cv_tensor_release(c);
  cvL_pushtensor(L, out, &err);
  return 1;
}

/* cv.sgd_update_(w, history, grad|nil, local_lr, momentum, local_decay) */
static int l_sgd_update_(lua_State *L) {
  cv_tensor *w = cvL_checktensor(L, 1), *h = cvL_checktensor(L, 2);
  cv_tensor *g = lua_isnil(L, 3) ? NULL : cvL_checktensor(L, 3);
  double lr = luaL_checknumber(L, 4), m = luaL_checknumber(L, 5);
  double decay = luaL_checknumber(L, 6);
  cv_error err;
  if (cv_sgd_update(w, h, g, lr, m, decay, &err)) return cvL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

void cvL_open_data(lua_State *L) {
  static const luaL_Reg fns[] = {{"load_idx", l_load_idx},
                                 {"gather", l_gather},
                                 {"sgd_update_", l_sgd_update_},
                                 {NULL, NULL}};
  cvL_register(L, fns, NULL);
}
