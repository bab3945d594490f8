/* l_math.c — element-wise arithmetic, operators, where, allclose, matmul.
 *
 * The ops of one family share one C function, told apart by an upvalue that
 * holds the op: `cv.add`, `t:add`, `t:add_` and `__add` are closures of the
 * same three functions. Numbers become 0-d headers on the C stack, so
 * `t * 2` allocates only its result. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "l_math.h"
#include "tensor/iter.h"
#include "tensor_grad.h"

/* Lua sees only the small box of a tensor, not its data, so a loop of large
 * temporaries would never make the collector run. The bytes of the results
 * pushed since the last full collection are counted in the registry (one
 * count per Lua state), and every GC_THRESHOLD of them pays for one. */
#define GC_PENDING_KEY "cnnvis.gc.pending"
#define GC_THRESHOLD ((lua_Integer)256 << 20)

void cvL_push_result(lua_State *L, cv_tensor *t, cv_error *err) {
  cvL_pushtensor(L, t, err);
  lua_getfield(L, LUA_REGISTRYINDEX, GC_PENDING_KEY);
  lua_Integer pending = lua_tointeger(L, -1) +
                        cv_tensor_numel(t) * (lua_Integer)sizeof(float);
  lua_pop(L, 1);
  if (pending > GC_THRESHOLD) {
    pending = 0;
    lua_gc(L, LUA_GCCOLLECT);
  }
  lua_pushinteger(L, pending);
  lua_setfield(L, LUA_REGISTRYINDEX, GC_PENDING_KEY);
}

/* A stack slot that holds a number as a tensor operand. */
typedef struct {
  float value;
  cv_storage storage;
  cv_tensor header;
} number_operand;

/* The tensor or number at idx as an operand (borrowed either way). */
static cv_tensor *check_operand(lua_State *L, int idx, number_operand *n) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    n->value = (float)lua_tonumber(L, idx);
    cv_iter_scalar(&n->value, &n->storage, &n->header);
    return &n->header;
  }
  if (!luaL_testudata(L, idx, CV_TENSOR_MT))
    luaL_typeerror(L, idx, "tensor or number");
  return cvL_checktensor(L, idx);
}

/* add(a, b[, out]): either side may be a number, not both. */
static int l_binary(lua_State *L) {
  cv_binary_op op = (cv_binary_op)lua_tointeger(L, lua_upvalueindex(1));
  number_operand na, nb;
  cv_tensor *a = check_operand(L, 1, &na), *b = check_operand(L, 2, &nb);
  if (a == &na.header && b == &nb.header)
    luaL_typeerror(L, 1, "tensor");
  cv_error err;
  if (lua_isnoneornil(L, 3)) {
    cv_tensor *y = a == &na.header ? cv_op_binary_scalar(op, b, na.value, 1, &err)
                 : b == &nb.header ? cv_op_binary_scalar(op, a, nb.value, 0, &err)
                                   : cv_op_binary(op, a, b, &err);
    cvL_push_result(L, y, &err);
    return 1;
  }
  cv_tensor *out = cvL_checktensor(L, 3);
  if (cv_tensor_binary_out(op, out, a, b, &err)) return cvL_raise(L, &err);
  lua_settop(L, 3);
  return 1;
}

/* t:add_(x): t = t op x, x broadcast into t. Returns t. */
static int l_binary_(lua_State *L) {
  cv_binary_op op = (cv_binary_op)lua_tointeger(L, lua_upvalueindex(1));
  cv_tensor *self = cvL_checktensor(L, 1);
  number_operand nb;
  cv_tensor *b = check_operand(L, 2, &nb);
  cv_error err;
  if (cv_op_check_inplace(self, cv_binary_op_name(op), &err) ||
      cv_tensor_binary_(op, self, b, &err))
    return cvL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int l_unary(lua_State *L) {
  cv_unary_op op = (cv_unary_op)lua_tointeger(L, lua_upvalueindex(1));
  cv_error err;
  cvL_push_result(L, cv_op_unary(op, cvL_checktensor(L, 1), &err), &err);
  return 1;
}

static int l_unary_(lua_State *L) {
  cv_unary_op op = (cv_unary_op)lua_tointeger(L, lua_upvalueindex(1));
  cv_error err;
  cv_tensor *t = cvL_checktensor(L, 1);
  if (cv_op_check_inplace(t, cv_unary_op_name(op), &err) ||
      cv_tensor_unary_(op, t, &err))
    return cvL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* clamp(t, min, max): either limit may be nil, not both. */
static void check_limits(lua_State *L, float *lo, float *hi) {
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
    luaL_argerror(L, 2, "clamp needs a min, a max or both");
  *lo = (float)luaL_optnumber(L, 2, -HUGE_VAL);
  *hi = (float)luaL_optnumber(L, 3, HUGE_VAL);
}

static int l_clamp(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  float lo, hi;
  check_limits(L, &lo, &hi);
  cv_error err;
  cvL_push_result(L, cv_op_clamp(t, lo, hi, &err), &err);
  return 1;
}

static int l_clamp_(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  float lo, hi;
  check_limits(L, &lo, &hi);
  cv_error err;
  if (cv_op_check_inplace(t, "clamp_", &err) || cv_tensor_clamp_(t, lo, hi, &err))
    return cvL_raise(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* The tensor at idx, or a number made a 0-d tensor that the stack owns
 * (the tape may keep it). */
static cv_tensor *check_tensor_or_number(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TNUMBER) return cvL_checktensor(L, idx);
  cv_error err;
  cv_tensor *t = cv_tensor_scalar((float)lua_tonumber(L, idx), &err);
  cvL_pushtensor(L, t, &err);
  lua_replace(L, idx);
  return t;
}

/* where(cond, a, b): a and b may be numbers. */
static int l_where(lua_State *L) {
  cv_tensor *cond = cvL_checktensor(L, 1);
  cv_tensor *a = check_tensor_or_number(L, 2), *b = check_tensor_or_number(L, 3);
  cv_error err;
  cvL_push_result(L, cv_op_where(cond, a, b, &err), &err);
  return 1;
}

/* allclose(a, b[, rtol[, atol]]), PyTorch's defaults. */
static int l_allclose(lua_State *L) {
  cv_tensor *a = cvL_checktensor(L, 1), *b = cvL_checktensor(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  cv_error err;
  int close = cv_tensor_allclose(a, b, rtol, atol, &err);
  if (close < 0) return cvL_raise(L, &err);
  lua_pushboolean(L, close);
  return 1;
}

/* matmul(a, b[, out]) */
static int l_matmul(lua_State *L) {
  cv_tensor *a = cvL_checktensor(L, 1), *b = cvL_checktensor(L, 2);
  cv_error err;
  if (lua_isnoneornil(L, 3)) {
    cvL_push_result(L, cv_op_matmul(a, b, &err), &err);
    return 1;
  }
  if (cv_tensor_matmul_out(cvL_checktensor(L, 3), a, b, &err))
    return cvL_raise(L, &err);
  lua_settop(L, 3);
  return 1;
}

/* cv.clock() -> seconds from a monotonic clock, for timing scripts. */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
  return 1;
}

/* Sets name = fn(op) in the tables at module_idx and methods_idx (either
 * 0 to skip). */
static void set_op(lua_State *L, int module_idx, int methods_idx,
                   const char *name, lua_CFunction fn, int op) {
  for (int k = 0; k < 2; k++) {
    int t = k ? methods_idx : module_idx;
    if (!t) continue;
    lua_pushinteger(L, op);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, t, name);
  }
}

static void open_ops(lua_State *L, int module_idx, int methods_idx,
                     int meta_idx) {
  char name[32];
  for (int op = 0; op < CV_OP_BINARY_COUNT; op++) {
    const char *base = cv_binary_op_name(op);
    set_op(L, module_idx, methods_idx, base, l_binary, op);
    if (op <= CV_OP_POW) {
      snprintf(name, sizeof name, "%s_", base);
      set_op(L, 0, methods_idx, name, l_binary_, op);
      snprintf(name, sizeof name, "__%s", base);
      set_op(L, meta_idx, 0, name, l_binary, op);
    }
  }
  for (int op = 0; op < CV_OP_UNARY_COUNT; op++) {
    const char *base = cv_unary_op_name(op);
    set_op(L, module_idx, methods_idx, base, l_unary, op);
    snprintf(name, sizeof name, "%s_", base);
    set_op(L, 0, methods_idx, name, l_unary_, op);
  }
  set_op(L, meta_idx, 0, "__unm", l_unary, CV_OP_NEG);
}

void cvL_open_math(lua_State *L) {
  static const luaL_Reg fns[] = {{"where", l_where}, {"clock", l_clock},
                                 {NULL, NULL}};
  static const luaL_Reg both[] = {{"clamp", l_clamp},
                                  {"allclose", l_allclose},
                                  {"matmul", l_matmul},
                                  {NULL, NULL}};
  static const luaL_Reg methods[] = {{"clamp_", l_clamp_}, {NULL, NULL}};
  cvL_register(L, fns, methods);
  cvL_register(L, both, both);
  /* stack: module */
  int module_idx = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, CV_TENSOR_METHODS);
  luaL_getmetatable(L, CV_TENSOR_MT); /* stack: module methods meta */
  open_ops(L, module_idx, module_idx + 1, module_idx + 2);
  lua_pop(L, 2);
  cvL_open_reduce(L);
}
