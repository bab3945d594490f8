/* l_reduce.c — reductions, sort/topk and cat/stack for Lua.
 *
 * Reductions take (dim, opts): dim a 1-based dimension or nil for every
 * element; opts either a boolean (keepdim) or a table {keepdim = bool,
 * unbiased = bool}. A table in dim's place is the options, over every
 * element. Positions come back 1-based. */
#include "tensor_grad.h"
#include "l_math.h"

typedef struct {
  int dim; /* 0-based, -1 for every element */
  int keepdim;
  int unbiased;
} reduce_args;

static void check_opts(lua_State *L, int idx, reduce_args *r) {
  switch (lua_type(L, idx)) {
  case LUA_TNONE:
  case LUA_TNIL: break;
  case LUA_TBOOLEAN: r->keepdim = lua_toboolean(L, idx); break;
  case LUA_TTABLE:
    if (lua_getfield(L, idx, "keepdim") != LUA_TNIL)
      r->keepdim = lua_toboolean(L, -1);
    if (lua_getfield(L, idx, "unbiased") != LUA_TNIL)
      r->unbiased = lua_toboolean(L, -1);
    lua_pop(L, 2);
    break;
  default: luaL_typeerror(L, idx, "boolean or table of options");
  }
}

/* Reads (dim, opts) from idx on. */
static void check_reduce(lua_State *L, int idx, const cv_tensor *t,
                         reduce_args *r) {
  r->dim = -1, r->keepdim = 0, r->unbiased = 1;
  if (lua_istable(L, idx)) {
    check_opts(L, idx, r);
    return;
  }
  if (!lua_isnoneornil(L, idx)) r->dim = cvL_checkdim(L, idx, t->ndim);
  check_opts(L, idx + 1, r);
}

/* Pushes 0-based positions as 1-based ones. */
static void push_positions(lua_State *L, cv_tensor *ix, cv_error *err) {
  if (ix) cv_tensor_binary_scalar_(CV_OP_ADD, ix, 1.0f, NULL);
  cvL_push_result(L, ix, err);
}

typedef cv_tensor *(*reduce_fn)(cv_tensor *, int, int, cv_error *);

static int push_reduce(lua_State *L, reduce_fn fn) {
  cv_tensor *t = cvL_checktensor(L, 1);
  reduce_args r;
  check_reduce(L, 2, t, &r);
  cv_error err;
  cvL_push_result(L, fn(t, r.dim, r.keepdim, &err), &err);
  return 1;
}

static int l_sum(lua_State *L) { return push_reduce(L, cv_op_sum); }
static int l_mean(lua_State *L) { return push_reduce(L, cv_op_mean); }

static int l_argmax(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  reduce_args r;
  check_reduce(L, 2, t, &r);
  cv_error err;
  push_positions(L, cv_tensor_argmax(t, r.dim, r.keepdim, &err), &err);
  return 1;
}

static int l_argmin(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  reduce_args r;
  check_reduce(L, 2, t, &r);
  cv_error err;
  push_positions(L, cv_tensor_argmin(t, r.dim, r.keepdim, &err), &err);
  return 1;
}

typedef cv_tensor *(*moment_fn)(cv_tensor *, int, int, int, cv_error *);

static int push_moment(lua_State *L, moment_fn fn) {
  cv_tensor *t = cvL_checktensor(L, 1);
  reduce_args r;
  check_reduce(L, 2, t, &r);
  cv_error err;
  cvL_push_result(L, fn(t, r.dim, r.keepdim, r.unbiased, &err), &err);
  return 1;
}

static int l_var(lua_State *L) { return push_moment(L, cv_op_var); }
static int l_std(lua_State *L) { return push_moment(L, cv_op_std); }

/* norm(t[, p[, dim[, opts]]]), p = 1, 2 (default) or math.huge. */
static int l_norm(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  double p = luaL_optnumber(L, 2, 2.0);
  reduce_args r;
  check_reduce(L, 3, t, &r);
  cv_error err;
  cvL_push_result(L, cv_op_norm(t, p, r.dim, r.keepdim, &err), &err);
  return 1;
}

typedef cv_tensor *(*extreme_fn)(cv_tensor *, int, int, cv_tensor **,
                                 cv_error *);

/* max(t) -> value; max(t, dim[, keepdim]) -> values, positions. */
static int push_extreme(lua_State *L, extreme_fn fn) {
  cv_tensor *t = cvL_checktensor(L, 1);
  reduce_args r;
  check_reduce(L, 2, t, &r);
  cv_error err;
  if (r.dim < 0) {
    cvL_push_result(L, fn(t, -1, 0, NULL, &err), &err);
    return 1;
  }
  cv_tensor *ix = NULL;
  cvL_push_result(L, fn(t, r.dim, r.keepdim, &ix, &err), &err);
  push_positions(L, ix, &err);
  return 2;
}

static int l_max(lua_State *L) { return push_extreme(L, cv_op_max); }
static int l_min(lua_State *L) { return push_extreme(L, cv_op_min); }

/* The optional dim at idx, the last one by default (as in PyTorch). */
static int opt_last_dim(lua_State *L, int idx, const cv_tensor *t) {
  if (lua_isnoneornil(L, idx)) return t->ndim - 1;
  return cvL_checkdim(L, idx, t->ndim);
}

/* sort(t[, dim[, descending]]) -> values, positions (stable). */
static int l_sort(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int dim = opt_last_dim(L, 2, t);
  int descending = lua_toboolean(L, 3);
  cv_tensor *v, *ix;
  cv_error err;
  if (cv_tensor_sort(t, dim, descending, &v, &ix, &err))
    return cvL_raise(L, &err);
  cvL_push_result(L, v, &err);
  push_positions(L, ix, &err);
  return 2;
}

/* topk(t, k[, dim[, largest]]) -> values, positions, largest by default. */
static int l_topk(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  lua_Integer k = luaL_checkinteger(L, 2);
  int dim = opt_last_dim(L, 3, t);
  int largest = lua_isnoneornil(L, 4) ? 1 : lua_toboolean(L, 4);
  cv_tensor *v, *ix;
  cv_error err;
  if (cv_tensor_topk(t, (int64_t)k, dim, largest, &v, &ix, &err))
    return cvL_raise(L, &err);
  cvL_push_result(L, v, &err);
  push_positions(L, ix, &err);
  return 2;
}

/* The tensors of the list at idx, in a scratch userdata left on the stack
 * (so an error frees it). */
static cv_tensor **check_list(lua_State *L, int idx, int *n) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer len = luaL_len(L, idx);
  luaL_argcheck(L, len < 1 << 20, idx, "too many tensors");
  cv_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)(len + 1), 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, idx, i);
    ts[i - 1] = cvL_totensor(L, -1);
    if (!ts[i - 1]) {
      const char *got = luaL_typename(L, -1);
      luaL_argerror(L, idx, lua_pushfstring(L, "tensor expected at position "
                                            "%I, got %s", i, got));
    }
    lua_pop(L, 1);
  }
  *n = (int)len;
  return ts;
}

/* cat({tensors}[, dim]), stack({tensors}[, dim]); dim 1 by default. */
static int push_join(lua_State *L, int is_stack) {
  int n;
  lua_settop(L, 2); /* the list's scratch goes above the arguments */
  cv_tensor **ts = check_list(L, 1, &n);
  int dim = 0;
  if (n > 0 && !lua_isnoneornil(L, 2))
    dim = cvL_checkdim(L, 2, ts[0]->ndim + is_stack);
  cv_error err;
  cvL_push_result(L, is_stack ? cv_op_stack(n, ts, dim, &err)
                             : cv_op_cat(n, ts, dim, &err), &err);
  return 1;
}

static int l_cat(lua_State *L) { return push_join(L, 0); }
static int l_stack(lua_State *L) { return push_join(L, 1); }

void cvL_open_reduce(lua_State *L) {
  static const luaL_Reg both[] = {
      {"sum", l_sum},       {"mean", l_mean},     {"var", l_var},
      {"std", l_std},       {"norm", l_norm},     {"max", l_max},
      {"min", l_min},       {"argmax", l_argmax}, {"argmin", l_argmin},
      {"sort", l_sort},     {"topk", l_topk},     {NULL, NULL}};
  static const luaL_Reg fns[] = {{"cat", l_cat}, {"stack", l_stack},
                                 {NULL, NULL}};
  cvL_register(L, both, both);
  cvL_register(L, fns, NULL);
}
