/* l_tensor.c — the tensor userdata: making, looking, views and indexing. */
#include <math.h>
#include <string.h>

#include "autograd.h"
#include "binding.h"
#include "tensor/random.h"
#include "tensor_grad.h"

typedef struct {
  cv_tensor *t; /* NULL once released */
} tensor_box;

/* ---- shared helpers (binding.h) ------------------------------------- */

cv_tensor *cvL_totensor(lua_State *L, int idx) {
  tensor_box *b = luaL_testudata(L, idx, CV_TENSOR_MT);
  return b ? b->t : NULL;
}

cv_tensor *cvL_checktensor(lua_State *L, int idx) {
  tensor_box *b = luaL_testudata(L, idx, CV_TENSOR_MT);
  if (!b) {
    luaL_typeerror(L, idx, "tensor");
    return NULL;
  }
  if (!b->t) luaL_argerror(L, idx, "tensor was released");
  return b->t;
}

cv_tensor *cvL_checktensorish(lua_State *L, int idx) {
  cv_tensor *t = cvL_totensor(L, idx);
  if (t) return cv_tensor_retain(t);
  if (lua_type(L, idx) != LUA_TNUMBER) luaL_typeerror(L, idx, "tensor or number");
  cv_error err;
  t = cv_tensor_scalar((float)lua_tonumber(L, idx), &err);
  if (!t) cvL_raise(L, &err);
  return t;
}

/* The engine's messages name the file, layer or shape involved; the Lua
 * position in front of them would name the library's own wrappers. */
int cvL_raise(lua_State *L, cv_error *err) {
  lua_pushstring(L, err->msg);
  return lua_error(L);
}

void cvL_pushtensor(lua_State *L, cv_tensor *t, cv_error *err) {
  if (!t) cvL_raise(L, err);
  /* The box starts empty so that a failed allocation leaks nothing. */
  tensor_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL;
  luaL_setmetatable(L, CV_TENSOR_MT);
  b->t = t;
}

int cvL_checksizes(lua_State *L, int idx, int64_t *size) {
  int n = 0;
  if (lua_istable(L, idx)) {
    n = (int)luaL_len(L, idx);
    luaL_argcheck(L, n <= CV_MAX_DIMS, idx, "too many dimensions");
    for (int i = 0; i < n; i++) {
      lua_geti(L, idx, i + 1);
      int ok;
      size[i] = lua_tointegerx(L, -1, &ok);
      lua_pop(L, 1);
      if (!ok) luaL_argerror(L, idx, "sizes must be integers");
    }
    return n;
  }
  int top = lua_gettop(L);
  luaL_argcheck(L, top - idx + 1 <= CV_MAX_DIMS, idx, "too many dimensions");
  for (int i = idx; i <= top; i++) size[n++] = luaL_checkinteger(L, i);
  return n;
}

int cvL_checkdim(lua_State *L, int idx, int ndim) {
  lua_Integer d = luaL_checkinteger(L, idx);
  if (d < 0) d += ndim + 1;
  if (d < 1 || d > ndim)
    luaL_error(L, "bad argument #%d (dimension %d out of range for a %d-d "
               "tensor)", idx, (int)luaL_checkinteger(L, idx), ndim);
  return (int)d - 1;
}

void cvL_register(lua_State *L, const luaL_Reg *fns, const luaL_Reg *methods) {
  if (fns) luaL_setfuncs(L, fns, 0);
  if (methods) {
    lua_getfield(L, LUA_REGISTRYINDEX, CV_TENSOR_METHODS);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
  }
}

/* ---- making ---------------------------------------------------------- */

/* The shape of a nested table (first element of each level). */
static int table_shape(lua_State *L, int idx, int64_t *size) {
  int n = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (n == CV_MAX_DIMS) luaL_error(L, "tensor: too many nesting levels");
    size[n++] = (int64_t)luaL_len(L, -1);
    if (size[n - 1] == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return n;
}

/* Copies the nested table at the top of the stack into data, checking that
 * every level has the size the first element promised. */
static void table_fill(lua_State *L, int depth, int ndim, const int64_t *size,
                       float **data) {
  if (depth == ndim) {
    int ok;
    lua_Number v = lua_tonumberx(L, -1, &ok);
    if (!ok) luaL_error(L, "tensor: expected a number in the table, got %s",
                        luaL_typename(L, -1));
    *(*data)++ = (float)v;
    return;
  }
  if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != size[depth])
    luaL_error(L, "tensor: the nested table is ragged at depth %d (expected "
               "%I elements)", depth + 1, (lua_Integer)size[depth]);
  for (int64_t i = 1; i <= size[depth]; i++) {
    lua_geti(L, -1, i);
    table_fill(L, depth + 1, ndim, size, data);
    lua_pop(L, 1);
  }
}

static int l_tensor(lua_State *L) {
  cv_error err;
  if (lua_type(L, 1) == LUA_TNUMBER && lua_gettop(L) == 1) {
    cvL_pushtensor(L, cv_tensor_scalar((float)lua_tonumber(L, 1), &err), &err);
    return 1;
  }
  cv_tensor *src = cvL_totensor(L, 1);
  if (src) {
    cvL_pushtensor(L, cv_tensor_clone(src, &err), &err);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  int64_t size[CV_MAX_DIMS];
  int n = table_shape(L, 1, size);
  /* Push the (empty-boxed) result first so an error in the table frees it. */
  cvL_pushtensor(L, cv_tensor_empty(n, size, &err), &err);
  float *data = cv_tensor_data(cvL_totensor(L, -1));
  lua_pushvalue(L, 1);
  table_fill(L, 0, n, size, &data);
  lua_pop(L, 1);
  return 1;
}

static int push_filled(lua_State *L, int first_size, float v) {
  int64_t size[CV_MAX_DIMS];
  int n = cvL_checksizes(L, first_size, size);
  cv_error err;
  cv_tensor *t = cv_tensor_new(n, size, &err);
  cvL_pushtensor(L, t, &err);
  if (v != 0.0f) cv_tensor_fill(t, v);
  return 1;
}

static int l_zeros(lua_State *L) { return push_filled(L, 1, 0.0f); }
static int l_ones(lua_State *L) { return push_filled(L, 1, 1.0f); }
static int l_empty(lua_State *L) {
  int64_t size[CV_MAX_DIMS];
  int n = cvL_checksizes(L, 1, size);
  cv_error err;
  cvL_pushtensor(L, cv_tensor_empty(n, size, &err), &err);
  return 1;
}

/* full(sizes..., value) or full({sizes}, value) */
static int l_full(lua_State *L) {
  float v = (float)luaL_checknumber(L, lua_gettop(L));
  lua_pop(L, 1);
  return push_filled(L, 1, v);
}

/* arange(stop) | arange(start, stop[, step]): stop excluded, as in PyTorch. */
static int l_arange(lua_State *L) {
  double start = 0, stop, step = 1;
  if (lua_gettop(L) == 1) {
    stop = luaL_checknumber(L, 1);
  } else {
    start = luaL_checknumber(L, 1);
    stop = luaL_checknumber(L, 2);
    step = luaL_optnumber(L, 3, 1);
  }
  luaL_argcheck(L, step != 0, 3, "step must not be zero");
  double count = ceil((stop - start) / step);
  int64_t n = count > 0 ? (int64_t)count : 0;
  cv_error err;
  cv_tensor *t = cv_tensor_empty(1, &n, &err);
  cvL_pushtensor(L, t, &err);
  float *d = cv_tensor_data(t);
  for (int64_t i = 0; i < n; i++) d[i] = (float)(start + (double)i * step);
  return 1;
}

static int l_rand(lua_State *L) {
  push_filled(L, 1, 0.0f);
  cv_tensor_uniform_(cvL_totensor(L, -1), 0.0f, 1.0f);
  return 1;
}

static int l_randn(lua_State *L) {
  push_filled(L, 1, 0.0f);
  cv_tensor_normal_(cvL_totensor(L, -1), 0.0f, 1.0f);
  return 1;
}

static int l_manual_seed(lua_State *L) {
  cv_manual_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

/* ---- looking --------------------------------------------------------- */

static int l_size(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->size[cvL_checkdim(L, 2, t->ndim)]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->size[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int l_stride(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->stride[d]);
    lua_rawseti(L, -2, d + 1);
  }
  return 1;
}

static int l_dim(lua_State *L) {
  lua_pushinteger(L, cvL_checktensor(L, 1)->ndim);
  return 1;
}

static int l_numel(lua_State *L) {
  lua_pushinteger(L, cv_tensor_numel(cvL_checktensor(L, 1)));
  return 1;
}

static int l_len(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "# of a 0-d tensor");
  lua_pushinteger(L, t->size[0]);
  return 1;
}

static int l_is_contiguous(lua_State *L) {
  lua_pushboolean(L, cv_tensor_is_contiguous(cvL_checktensor(L, 1)));
  return 1;
}

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, cvL_totensor(L, 1) != NULL);
  return 1;
}

static int l_item(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  if (cv_tensor_numel(t) != 1)
    return luaL_error(L, "item: the tensor has %I elements, not 1",
                      (lua_Integer)cv_tensor_numel(t));
  int64_t zero[CV_MAX_DIMS] = {0};
  lua_pushnumber(L, *cv_tensor_at(t, zero));
  return 1;
}

static void push_table_of(lua_State *L, const cv_tensor *t, int depth,
                          int64_t offset) {
  if (depth == t->ndim) {
    lua_pushnumber(L, t->storage->data[offset]);
    return;
  }
  lua_createtable(L, (int)t->size[depth], 0);
  for (int64_t i = 0; i < t->size[depth]; i++) {
    push_table_of(L, t, depth + 1, offset + i * t->stride[depth]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int l_totable(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  luaL_checkstack(L, t->ndim + 4, "totable");
  push_table_of(L, t, 0, t->offset);
  return 1;
}

/* ---- views ------------------------------------------------------------ */

/* Pushes a view of `in` made by `op`, recorded on the tape when in needs a
 * gradient. Takes over the reference to out. */
static void push_view(lua_State *L, cv_tensor *out, cv_tensor *in,
                      const char *op, cv_error *err) {
  cvL_pushtensor(L, out, err);
  if (out == in) return; /* contiguous() of a contiguous tensor */
  int rc = out->storage == in->storage ? cv_tensor_record_view(out, in, op, err)
                                       : cv_tensor_record_copy(out, in, op, err);
  if (rc) cvL_raise(L, err);
}

static int l_view(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int64_t size[CV_MAX_DIMS];
  int n = cvL_checksizes(L, 2, size);
  cv_error err;
  push_view(L, cv_tensor_view(t, n, size, &err), t, "view", &err);
  return 1;
}

static int l_reshape(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int64_t size[CV_MAX_DIMS];
  int n = cvL_checksizes(L, 2, size);
  cv_error err;
  push_view(L, cv_tensor_reshape(t, n, size, &err), t, "reshape", &err);
  return 1;
}

static int l_transpose(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int d0, d1;
  if (lua_isnoneornil(L, 2)) {
    luaL_argcheck(L, t->ndim == 2, 1, "transpose() without dims needs a 2-d "
                  "tensor");
    d0 = 0, d1 = 1;
  } else {
    d0 = cvL_checkdim(L, 2, t->ndim);
    d1 = cvL_checkdim(L, 3, t->ndim);
  }
  cv_error err;
  push_view(L, cv_tensor_transpose(t, d0, d1, &err), t, "transpose", &err);
  return 1;
}

static int l_permute(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int64_t order64[CV_MAX_DIMS];
  int n = cvL_checksizes(L, 2, order64);
  if (n != t->ndim)
    return luaL_error(L, "permute: %d dims given for a %d-d tensor", n,
                      t->ndim);
  int order[CV_MAX_DIMS];
  for (int d = 0; d < n; d++)
    order[d] = (int)(order64[d] < 0 ? order64[d] + n : order64[d] - 1);
  cv_error err;
  push_view(L, cv_tensor_permute(t, order, &err), t, "permute", &err);
  return 1;
}

static int l_narrow(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int dim = cvL_checkdim(L, 2, t->ndim);
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  cv_error err;
  push_view(L, cv_tensor_narrow(t, dim, start - 1, len, &err), t, "narrow", &err);
  return 1;
}

static int l_select(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int dim = cvL_checkdim(L, 2, t->ndim);
  lua_Integer i = luaL_checkinteger(L, 3);
  if (i < 0) i += t->size[dim] + 1;
  cv_error err;
  push_view(L, cv_tensor_select(t, dim, i - 1, &err), t, "select", &err);
  return 1;
}

static int l_unsqueeze(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int dim = cvL_checkdim(L, 2, t->ndim + 1);
  cv_error err;
  push_view(L, cv_tensor_unsqueeze(t, dim, &err), t, "unsqueeze", &err);
  return 1;
}

static int l_squeeze(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int dim = lua_isnoneornil(L, 2) ? -1 : cvL_checkdim(L, 2, t->ndim);
  cv_error err;
  push_view(L, cv_tensor_squeeze(t, dim, &err), t, "squeeze", &err);
  return 1;
}

static int l_expand(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int64_t size[CV_MAX_DIMS];
  int n = cvL_checksizes(L, 2, size);
  cv_error err;
  push_view(L, cv_tensor_expand(t, n, size, &err), t, "expand", &err);
  return 1;
}

static int l_contiguous(lua_State *L) {
  cv_error err;
  cv_tensor *t = cvL_checktensor(L, 1);
  push_view(L, cv_tensor_contiguous(t, &err), t, "contiguous", &err);
  return 1;
}

static int l_clone(lua_State *L) {
  cv_error err;
  cv_tensor *t = cvL_checktensor(L, 1);
  push_view(L, cv_tensor_clone(t, &err), t, "clone", &err);
  return 1;
}

/* ---- in place --------------------------------------------------------- */

/* Raises when t may not change in place (it needs a gradient). */
static void check_inplace(lua_State *L, const cv_tensor *t, const char *op) {
  cv_error err;
  if (cv_op_check_inplace(t, op, &err)) cvL_raise(L, &err);
}

static int l_fill_(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  float v = (float)luaL_checknumber(L, 2);
  check_inplace(L, t, "fill_");
  cv_tensor_fill(t, v);
  lua_settop(L, 1);
  return 1;
}

static int l_zero_(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  check_inplace(L, t, "zero_");
  cv_tensor_fill(t, 0.0f);
  lua_settop(L, 1);
  return 1;
}

static int l_copy_(lua_State *L) {
  cv_tensor *dst = cvL_checktensor(L, 1), *src = cvL_checktensor(L, 2);
  check_inplace(L, dst, "copy_");
  cv_error err;
  if (cv_tensor_copy(dst, src, &err)) return cvL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* ---- indexing: t[i], t[{i, {a, b}, {}}], t[...] = x ------------------- */

/* A view of t selected by the key at idx: a number selects along dim 1;
 * a table holds one entry per leading dim: a number (select), {a, b}
 * (positions a..b inclusive, negative from the end), {a} or {} (all). */
static cv_tensor *index_view(lua_State *L, cv_tensor *t, int idx,
                             cv_error *err) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    if (t->ndim == 0) {
      cv_error_set(err, "cannot index a 0-d tensor");
      return NULL;
    }
    lua_Integer i = lua_tointeger(L, idx);
    if (i < 0) i += t->size[0] + 1;
    return cv_tensor_select(t, 0, i - 1, err);
  }
  int n = (int)luaL_len(L, idx);
  if (n > t->ndim) {
    cv_error_set(err, "%d indices given for a %d-d tensor", n, t->ndim);
    return NULL;
  }
  cv_tensor *v = cv_tensor_retain(t);
  int dim = 0;
  for (int k = 1; k <= n && v; k++) {
    cv_tensor *next = NULL;
    int type = lua_geti(L, idx, k);
    int64_t size = v->size[dim];
    if (type == LUA_TNUMBER) {
      lua_Integer i = lua_tointeger(L, -1);
      if (i < 0) i += size + 1;
      next = cv_tensor_select(v, dim, i - 1, err);
    } else if (type == LUA_TTABLE) {
      lua_geti(L, -1, 1);
      lua_geti(L, -2, 2);
      lua_Integer a = luaL_optinteger(L, -2, 1), b = luaL_optinteger(L, -1,
                                                      lua_isnil(L, -2) ? size : a);
      lua_pop(L, 2);
      if (a < 0) a += size + 1;
      if (b < 0) b += size + 1;
      next = cv_tensor_narrow(v, dim, a - 1, b - a + 1, err);
      dim++;
    } else {
      cv_error_set(err, "index %d: expected a number or a {first, last} "
                   "table, got %s", k, lua_typename(L, type));
    }
    lua_pop(L, 1);
    cv_tensor_release(v);
    v = next;
  }
  return v;
}

static int l_index(lua_State *L) {
  int kt = lua_type(L, 2);
  if (kt == LUA_TNUMBER || kt == LUA_TTABLE) {
    cv_error err;
    cv_tensor *t = cvL_checktensor(L, 1);
    push_view(L, index_view(L, t, 2, &err), t, "index", &err);
    return 1;
  }
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "grad") == 0) {
    cv_tensor *t = cvL_checktensor(L, 1);
    if (!t->grad) return 0;
    cvL_pushtensor(L, cv_tensor_retain(t->grad), NULL);
    return 1;
  }
  if (key && strcmp(key, "requires_grad") == 0) {
    lua_pushboolean(L, cv_tensor_requires_grad(cvL_checktensor(L, 1)));
    return 1;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, CV_TENSOR_METHODS);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int l_newindex(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  int kt = lua_type(L, 2);
  if (kt == LUA_TSTRING && strcmp(lua_tostring(L, 2), "requires_grad") == 0) {
    luaL_checktype(L, 3, LUA_TBOOLEAN);
    if (t->node)
      return luaL_error(L, "requires_grad can only be set on a leaf tensor "
                        "(this one was computed by %s); use detach()",
                        t->node->op);
    t->requires_grad = lua_toboolean(L, 3);
    return 0;
  }
  if (kt != LUA_TNUMBER && kt != LUA_TTABLE)
    return luaL_error(L, "tensors take only number or table keys, not %s",
                      luaL_typename(L, 2));
  check_inplace(L, t, "assignment");
  cv_error err;
  cvL_pushtensor(L, index_view(L, t, 2, &err), &err); /* stack: t k x view */
  cv_tensor *view = cvL_totensor(L, -1), *src = cvL_totensor(L, 3);
  if (src) {
    if (cv_tensor_copy(view, src, &err)) return cvL_raise(L, &err);
  } else if (lua_type(L, 3) == LUA_TNUMBER) {
    cv_tensor_fill(view, (float)lua_tonumber(L, 3));
  } else {
    return luaL_typeerror(L, 3, "tensor or number");
  }
  return 0;
}

/* One release for __gc and __close, safe to call twice. */
static int l_release(lua_State *L) {
  tensor_box *b = luaL_checkudata(L, 1, CV_TENSOR_MT);
  cv_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

void cvL_open_tensor(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"tensor", l_tensor},   {"zeros", l_zeros},   {"ones", l_ones},
      {"empty", l_empty},     {"full", l_full},     {"arange", l_arange},
      {"rand", l_rand},       {"randn", l_randn},   {"manual_seed", l_manual_seed},
      {"is_tensor", l_is_tensor}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"size", l_size},         {"stride", l_stride},
      {"dim", l_dim},           {"numel", l_numel},
      {"is_contiguous", l_is_contiguous},
      {"item", l_item},         {"totable", l_totable},
      {"view", l_view},         {"reshape", l_reshape},
      {"transpose", l_transpose}, {"permute", l_permute},
      {"narrow", l_narrow},     {"select", l_select},
      {"unsqueeze", l_unsqueeze}, {"squeeze", l_squeeze},
      {"expand", l_expand},     {"contiguous", l_contiguous},
      {"clone", l_clone},       {"fill_", l_fill_},
      {"zero_", l_zero_},       {"copy_", l_copy_},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {
      {"__index", l_index}, {"__newindex", l_newindex}, {"__len", l_len},
      {"__gc", l_release},  {"__close", l_release},     {NULL, NULL}};
  cvL_register(L, fns, methods);
  luaL_getmetatable(L, CV_TENSOR_MT);
  luaL_setfuncs(L, meta, 0);
  lua_pop(L, 1);
}
