/* l_autograd.c — backward, gradients and grad mode from Lua. */
#include "autograd.h"
#include "nn.h"
#include "layers/winograd_cache.h"
#include "tensor/storage_cache.h"
#include "binding.h"

/* t:backward([grad], [{retain = bool}]) */
static int l_backward(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int opts = lua_istable(L, 2) && !cvL_totensor(L, 2) ? 2 : 3;
  cv_tensor *g = opts == 3 && !lua_isnoneornil(L, 2) ? cvL_checktensor(L, 2)
                                                     : NULL;
  int retain = 0;
  if (lua_istable(L, opts)) {
    lua_getfield(L, opts, "retain");
    retain = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  cv_error err;
  if (cv_autograd_backward(t, g, retain, &err)) return cvL_raise(L, &err);
  return 0;
}

static int l_zero_grad(lua_State *L) {
  cv_tensor_zero_grad(cvL_checktensor(L, 1));
  lua_settop(L, 1);
  return 1;
}

static int l_requires_grad_(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  if (t->node)
    return luaL_error(L, "requires_grad_: only a leaf tensor can require a "
                      "gradient (this one was computed by %s); use detach()",
                      t->node->op);
  t->requires_grad = lua_isnone(L, 2) ? 1 : lua_toboolean(L, 2);
  lua_settop(L, 1);
  return 1;
}

/* A new leaf over the same storage, off the tape. */
static int l_detach(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_tensor_alias(t, &err), &err);
  return 1;
}

/* cv.no_grad(fn, ...): fn(...) without recording; returns fn's results. */
static int l_no_grad(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int was = cv_autograd_set_enabled(0);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  cv_autograd_set_enabled(was);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

/* cv.free_cached_memory(): gives back what is kept for reuse: freed tensor
 * blocks (storage_cache.h), the backward's scratch (nn.h) and transformed
 * weights (winograd_cache.h). */
static int l_free_cached_memory(lua_State *L) {
  (void)L;
  cv_nn_free_scratch();
  cv_winograd_cache_clear(); /* first: its buffers go to the storage cache */
  cv_storage_cache_clear();
  return 0;
}

/* cv.cached_memory(): bytes kept by those three (the scratch: this
 * thread's). */
static int l_cached_memory(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)((int64_t)cv_nn_scratch_bytes() +
                                   (int64_t)cv_storage_cache_bytes() +
                                   (int64_t)cv_winograd_cache_bytes()));
  return 1;
}

static int l_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, cv_autograd_set_enabled(lua_toboolean(L, 1)));
  return 1;
}

static int l_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, cv_autograd_enabled());
  return 1;
}

void cvL_open_autograd(lua_State *L) {
  static const luaL_Reg fns[] = {{"no_grad", l_no_grad},
                                 {"set_grad_enabled", l_set_grad_enabled},
                                 {"is_grad_enabled", l_is_grad_enabled},
                                 {"free_cached_memory", l_free_cached_memory},
                                 {"cached_memory", l_cached_memory},
                                 {NULL, NULL}};
  static const luaL_Reg methods[] = {{"backward", l_backward},
                                     {"zero_grad", l_zero_grad},
                                     {"requires_grad_", l_requires_grad_},
                                     {"detach", l_detach},
                                     {NULL, NULL}};
  cvL_register(L, fns, methods);
}
