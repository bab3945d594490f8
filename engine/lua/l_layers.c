/* l_layers.c — `cv.nn`'s raw kernels (layers/layers.h): each function runs
 * a kernel on contiguous copies of its tensors and returns new tensors (or
 * writes `out=`), with every `_backward` beside its forward. The forwards of
 * ops that also run on the tape are called by l_nn.c when no input requires
 * a gradient. Options take one number or {h, w}. Each function first sets the
 * stack to its argument count, so absent arguments read as nil and what it
 * pushes (contiguous copies, results) sits above them. */
#include <math.h>
#include <string.h>

#include "layers/layers.h"
#include "binding.h"
#include "l_layers.h"

/* ---- helpers ----------------------------------------------------------- */

cv_workspace *cvL_nn_workspace(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* The tensor at idx, made contiguous; the contiguous one is pushed on the
 * stack so that the collector owns it whatever happens next. */
static cv_tensor *arg_tensor(lua_State *L, int idx) {
  cv_tensor *t = cvL_checktensor(L, idx);
  cv_error err;
  cv_tensor *c = cv_tensor_contiguous(t, &err);
  cvL_pushtensor(L, c, &err);
  return c;
}

static cv_tensor *opt_tensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : arg_tensor(L, idx);
}

/* A new uninitialised / zeroed tensor, pushed. */
static cv_tensor *push_empty(lua_State *L, int ndim, const int64_t *size) {
  cv_error err;
  cv_tensor *t = cv_tensor_empty(ndim, size, &err);
  cvL_pushtensor(L, t, &err);
  return t;
}

static cv_tensor *push_zeros(lua_State *L, int ndim, const int64_t *size) {
  cv_error err;
  cv_tensor *t = cv_tensor_new(ndim, size, &err);
  cvL_pushtensor(L, t, &err);
  return t;
}

static cv_tensor *push_like(lua_State *L, const cv_tensor *t) {
  return push_empty(L, t->ndim, t->size);
}

static void check_opts(lua_State *L, int idx) {
  if (!lua_isnoneornil(L, idx)) luaL_checktype(L, idx, LUA_TTABLE);
}

/* opts[key] as one number (both) or {h, w}; def when absent. */
static void opt_pair(lua_State *L, int idx, const char *key, int def, int *h,
                     int *w) {
  *h = *w = def;
  if (lua_isnoneornil(L, idx)) return;
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TNUMBER) {
    int ok;
    *h = *w = (int)lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "option '%s' must be an integer or {h, w}", key);
  } else if (t == LUA_TTABLE && luaL_len(L, -1) == 2) {
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    int okh, okw;
    *h = (int)lua_tointegerx(L, -2, &okh);
    *w = (int)lua_tointegerx(L, -1, &okw);
    if (!okh || !okw) luaL_error(L, "option '%s' must be an integer or {h, w}", key);
    lua_pop(L, 2);
  } else if (t != LUA_TNIL) {
    luaL_error(L, "option '%s' must be an integer or {h, w}", key);
  }
  lua_pop(L, 1);
}

static lua_Number opt_number(lua_State *L, int idx, const char *key,
                             lua_Number def) {
  if (lua_isnoneornil(L, idx)) return def;
  int t = lua_getfield(L, idx, key);
  if (t != LUA_TNIL && t != LUA_TNUMBER)
    luaL_error(L, "option '%s' must be a number, got %s", key, lua_typename(L, t));
  lua_Number v = t == LUA_TNIL ? def : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* opts[key] as an int; a non-integer number is an error, not truncated. */
static int opt_int(lua_State *L, int idx, const char *key, int def) {
  lua_Number v = opt_number(L, idx, key, def);
  if (v != floor(v) || v < -2147483647.0 || v > 2147483647.0)
    luaL_error(L, "option '%s' must be an integer, got %f", key, (double)v);
  return (int)v;
}

static int opt_bool(lua_State *L, int idx, const char *key, int def) {
  if (lua_isnoneornil(L, idx)) return def;
  int t = lua_getfield(L, idx, key);
  int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* A 1-based dim option (negative from the end) as a 0-based axis. */
static int opt_dim(lua_State *L, int idx, const char *key, int def, int ndim) {
  int d = opt_int(L, idx, key, def);
  if (d < 0) d += ndim + 1;
  if (d < 1 || d > ndim)
    luaL_error(L, "option '%s' (%d) is out of range for a %d-d tensor", key,
               opt_int(L, idx, key, def), ndim);
  return d - 1;
}

/* Raises "<layer>: <name> must be n-d, got <shape>" unless t has n dims. */
static void need_ndim(lua_State *L, const cv_tensor *t, int n,
                      const char *layer, const char *name) {
  if (t->ndim == n) return;
  char s[CV_SHAPE_STR_MAX];
  luaL_error(L, "%s: %s must be %d-d, got %s", layer, name, n,
             cv_shape_str(t->ndim, t->size, s, sizeof s));
}

/* The output: opts.out when given (written in place, which counts as a
 * write to its storage, and returned, so a loop can reuse one buffer), else
 * a new tensor of the given shape. */
static cv_tensor *push_output(lua_State *L, int opts, int ndim,
                              const int64_t *size) {
  if (!lua_isnoneornil(L, opts) && lua_getfield(L, opts, "out") != LUA_TNIL) {
    cv_tensor *t = cvL_totensor(L, -1);
    if (!t) luaL_error(L, "option 'out' must be a tensor");
    cv_tensor_bump_version(t);
    return t;                                /* stack: ... out */
  }
  if (!lua_isnoneornil(L, opts)) lua_pop(L, 1);
  return push_empty(L, ndim, size);
}

static int check(lua_State *L, int status, cv_error *err) {
  if (status) cvL_raise(L, err);
  return 0;
}

/* ---- convolution ------------------------------------------------------- */

/* Names of cv_conv_algorithm, in its order. */
static const char *const conv_algorithms[] = {"auto", "im2col", "winograd", NULL};

cv_conv_params cvL_conv_opts(lua_State *L, int idx, const cv_tensor *w) {
  cv_conv_params p = cv_conv_params_default();
  check_opts(L, idx);
  p.kernel_h = w->ndim == 4 ? (int)w->size[2] : 1;
  p.kernel_w = w->ndim == 4 ? (int)w->size[3] : 1;
  opt_pair(L, idx, "stride", 1, &p.stride_h, &p.stride_w);
  opt_pair(L, idx, "pad", 0, &p.pad_h, &p.pad_w);
  opt_pair(L, idx, "dilation", 1, &p.dilation_h, &p.dilation_w);
  p.group = opt_int(L, idx, "group", 1);
  if (!lua_isnoneornil(L, idx)) {
    if (lua_getfield(L, idx, "algorithm") != LUA_TNIL)
      p.algorithm = (cv_conv_algorithm)luaL_checkoption(L, -1, NULL, conv_algorithms);
    lua_pop(L, 1);
  }
  return p;
}

/* set_conv_algorithm(name) -> the previous name: what "auto" means from
 * now on, for every convolution (the net's too). */
static int l_set_conv_algorithm(lua_State *L) {
  int a = luaL_checkoption(L, 1, NULL, conv_algorithms);
  lua_pushstring(L, conv_algorithms[cv_conv_set_default_algorithm((cv_conv_algorithm)a)]);
  return 1;
}

/* conv2d(x, w[, b][, {stride =, pad =, dilation =, group =, algorithm =,
 * out =}]); algorithm is "auto" (the default), "im2col" or "winograd". */
int cvL_layers_conv2d(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *b = opt_tensor(L, 3);
  cv_conv_params p = cvL_conv_opts(L, 4, w);
  cv_error err;
  int64_t out[4];
  need_ndim(L, x, 4, "conv2d", "input");
  need_ndim(L, w, 4, "conv2d", "weight");
  if (cv_conv2d_shape(&p, x->size, w->size, 0, out, &err))
    return cvL_raise(L, &err);
  cv_tensor *y = push_output(L, 4, 4, out);
  check(L, cv_conv2d_forward(&p, x, w, b, y, cvL_nn_workspace(L), &err), &err);
  return 1;
}

/* conv2d_backward(x, w, dy[, opts]) -> dx, dw, db */
static int l_conv2d_backward(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_conv_params p = cvL_conv_opts(L, 4, w);
  cv_error err;
  need_ndim(L, x, 4, "conv2d", "input");
  need_ndim(L, w, 4, "conv2d", "weight");
  cv_tensor *dx = push_like(L, x);
  cv_tensor *dw = push_zeros(L, w->ndim, w->size);
  cv_tensor *db = push_zeros(L, 1, &w->size[0]);
  check(L, cv_conv2d_backward(&p, x, w, dy, dx, dw, db, cvL_nn_workspace(L), &err), &err);
  return 3;
}

/* conv2d_filter_grad_norms(x, w, dy[, opts]) -> N x M per-image norms */
static int l_conv2d_filter_grad_norms(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_conv_params p = cvL_conv_opts(L, 4, w);
  need_ndim(L, x, 4, "conv2d", "input");
  need_ndim(L, w, 4, "conv2d", "weight");
  cv_error err;
  int64_t size[2] = {x->size[0], w->size[0]};
  cv_tensor *norms = push_empty(L, 2, size);
  check(L, cv_conv2d_filter_grad_norms(&p, x, w, dy, norms, cvL_nn_workspace(L), &err), &err);
  return 1;
}

/* ---- pooling ----------------------------------------------------------- */

cv_pool_params cvL_pool_opts(lua_State *L, int idx, cv_pool_method m) {
  cv_pool_params p = cv_pool_params_default();
  check_opts(L, idx);
  p.method = m;
  p.global = opt_bool(L, idx, "global", 0);
  opt_pair(L, idx, "kernel", p.global ? 1 : 0, &p.kernel_h, &p.kernel_w);
  if (!p.global && p.kernel_h == 0)
    luaL_error(L, "pool2d: option 'kernel' is required");
  opt_pair(L, idx, "stride", 1, &p.stride_h, &p.stride_w);
  opt_pair(L, idx, "pad", 0, &p.pad_h, &p.pad_w);
  return p;
}

static int pool_forward(lua_State *L, cv_pool_method m) {
  lua_settop(L, 2);
  cv_tensor *x = arg_tensor(L, 1);
  cv_pool_params p = cvL_pool_opts(L, 2, m);
  need_ndim(L, x, 4, "pool2d", "input");
  cv_error err;
  int64_t out[4];
  if (cv_pool2d_shape(&p, x->size, out, &err)) return cvL_raise(L, &err);
  cv_tensor *y = push_empty(L, 4, out);
  check(L, cv_pool2d_forward(&p, x, y, &err), &err);
  return 1;
}

/* *_pool2d_backward(x, dy, opts) -> dx */
static int pool_backward(lua_State *L, cv_pool_method m) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  cv_pool_params p = cvL_pool_opts(L, 3, m);
  need_ndim(L, x, 4, "pool2d", "input");
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  check(L, cv_pool2d_backward(&p, x, dy, dx, &err), &err);
  return 1;
}

int cvL_layers_max_pool2d(lua_State *L) { return pool_forward(L, CV_POOL_MAX); }
int cvL_layers_avg_pool2d(lua_State *L) { return pool_forward(L, CV_POOL_AVE); }
static int l_max_pool2d_backward(lua_State *L) { return pool_backward(L, CV_POOL_MAX); }
static int l_avg_pool2d_backward(lua_State *L) { return pool_backward(L, CV_POOL_AVE); }

/* ---- LRN --------------------------------------------------------------- */

cv_lrn_params cvL_lrn_opts(lua_State *L, int idx) {
  static const char *const regions[] = {"across", "within", NULL};
  cv_lrn_params p = cv_lrn_params_default();
  check_opts(L, idx);
  p.size = opt_int(L, idx, "size", p.size);
  p.alpha = opt_number(L, idx, "alpha", p.alpha);
  p.beta = opt_number(L, idx, "beta", p.beta);
  p.k = opt_number(L, idx, "k", p.k);
  if (!lua_isnoneornil(L, idx)) {
    lua_getfield(L, idx, "region");
    if (!lua_isnil(L, -1)) {
      const char *r = lua_tostring(L, -1);
      int i = 0;
      while (regions[i] && (!r || strcmp(regions[i], r))) i++;
      if (!regions[i]) luaL_error(L, "lrn: region must be \"across\" or \"within\"");
      p.region = i == 0 ? CV_LRN_ACROSS : CV_LRN_WITHIN;
    }
    lua_pop(L, 1);
  }
  return p;
}

int cvL_layers_lrn(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = arg_tensor(L, 1);
  cv_lrn_params p = cvL_lrn_opts(L, 2);
  need_ndim(L, x, 4, "lrn", "input");
  cv_error err;
  cv_tensor *y = push_like(L, x);
  check(L, cv_lrn_forward(&p, x, y, cvL_nn_workspace(L), &err), &err);
  return 1;
}

/* lrn_backward(x, dy, opts) -> dx */
static int l_lrn_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  cv_lrn_params p = cvL_lrn_opts(L, 3);
  need_ndim(L, x, 4, "lrn", "input");
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  check(L, cv_lrn_backward(&p, x, dy, dx, cvL_nn_workspace(L), &err), &err);
  return 1;
}

/* ---- inner product ----------------------------------------------------- */

cv_linear_params cvL_linear_opts(lua_State *L, int idx, const cv_tensor *x) {
  cv_linear_params p;
  check_opts(L, idx);
  p.axis = x->ndim == 1 ? 0 : opt_dim(L, idx, "dim", 2, x->ndim);
  p.transpose = opt_bool(L, idx, "transpose", 0);
  return p;
}

/* linear(x, w[, b][, {dim = 2, transpose = false, out =}]) */
int cvL_layers_linear(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *b = opt_tensor(L, 3);
  cv_linear_params p = cvL_linear_opts(L, 4, x);
  cv_error err;
  int64_t out[CV_MAX_DIMS];
  int nd;
  if (cv_linear_shape(&p, x, w, &nd, out, &err)) return cvL_raise(L, &err);
  cv_tensor *y = push_output(L, 4, nd, out);
  check(L, cv_linear_forward(&p, x, w, b, y, &err), &err);
  return 1;
}

/* linear_backward(x, w, dy[, opts]) -> dx, dw, db */
static int l_linear_backward(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_linear_params p = cvL_linear_opts(L, 4, x);
  need_ndim(L, w, 2, "linear", "weight");
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  cv_tensor *dw = push_zeros(L, 2, w->size);
  cv_tensor *db = push_zeros(L, 1, &w->size[p.transpose ? 1 : 0]);
  check(L, cv_linear_backward(&p, x, w, dy, dx, dw, db, &err), &err);
  return 3;
}

/* linear_filter_grad_norms(x, w, dy[, opts]) -> M x N per-row norms */
static int l_linear_filter_grad_norms(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *x = arg_tensor(L, 1), *w = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_linear_params p = cvL_linear_opts(L, 4, x);
  cv_error err;
  int64_t out[CV_MAX_DIMS];
  int nd;
  if (cv_linear_shape(&p, x, w, &nd, out, &err)) return cvL_raise(L, &err);
  int64_t size[2] = {1, out[nd - 1]};
  for (int d = 0; d < nd - 1; d++) size[0] *= out[d];
  cv_tensor *norms = push_empty(L, 2, size);
  check(L, cv_linear_filter_grad_norms(&p, x, w, dy, norms, &err), &err);
  return 1;
}

/* ---- element-wise ------------------------------------------------------ */

int cvL_layers_relu(lua_State *L) {
  lua_settop(L, 2);
  double slope = luaL_optnumber(L, 2, 0);
  cv_error err;
  cv_tensor *x = arg_tensor(L, 1);
  cv_tensor *y = push_like(L, x);
  check(L, cv_relu_forward(slope, x, y, &err), &err);
  return 1;
}

/* relu_backward(x, dy[, slope]) -> dx */
static int l_relu_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  double slope = luaL_optnumber(L, 3, 0);
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  check(L, cv_relu_backward(slope, x, dy, dx, &err), &err);
  return 1;
}

typedef int (*unary_fn)(const cv_tensor *, cv_tensor *, cv_error *);
typedef int (*unary_back_fn)(const cv_tensor *, const cv_tensor *, cv_tensor *,
                             cv_error *);

static int unary(lua_State *L, unary_fn f) {
  lua_settop(L, 1);
  cv_tensor *x = arg_tensor(L, 1);
  cv_error err;
  cv_tensor *y = push_like(L, x);
  check(L, f(x, y, &err), &err);
  return 1;
}

/* *_backward(y, dy) -> dx: sigmoid and tanh read their output. */
static int unary_back(lua_State *L, unary_back_fn f) {
  lua_settop(L, 2);
  cv_tensor *y = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  cv_error err;
  cv_tensor *dx = push_like(L, y);
  check(L, f(y, dy, dx, &err), &err);
  return 1;
}

int cvL_layers_sigmoid(lua_State *L) { return unary(L, cv_sigmoid_forward); }

int cvL_layers_tanh(lua_State *L) { return unary(L, cv_tanh_forward); }
static int l_sigmoid_backward(lua_State *L) { return unary_back(L, cv_sigmoid_backward); }
static int l_tanh_backward(lua_State *L) { return unary_back(L, cv_tanh_backward); }

static cv_power_params power_opts(lua_State *L, int idx) {
  check_opts(L, idx);
  cv_power_params p = {opt_number(L, idx, "power", 1),
                       opt_number(L, idx, "scale", 1),
                       opt_number(L, idx, "shift", 0)};
  return p;
}

/* power(x, {power =, scale =, shift =}): (shift + scale x)^power */
static int l_power(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = arg_tensor(L, 1);
  cv_power_params p = power_opts(L, 2);
  cv_error err;
  cv_tensor *y = push_like(L, x);
  check(L, cv_power_forward(&p, x, y, &err), &err);
  return 1;
}

static int l_power_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  cv_power_params p = power_opts(L, 3);
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  check(L, cv_power_backward(&p, x, dy, dx, &err), &err);
  return 1;
}

/* dropout(x[, ratio = 0.5][, train = false]) -> y, mask */
static int l_dropout(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1);
  double ratio = luaL_optnumber(L, 2, 0.5);
  int train = lua_toboolean(L, 3);
  cv_error err;
  cv_tensor *y = push_like(L, x), *mask = push_like(L, x);
  check(L, cv_dropout_forward(ratio, train, x, y, mask, &err), &err);
  return 2;
}

/* dropout_backward(mask, dy) -> dx */
static int l_dropout_backward(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *mask = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  cv_error err;
  cv_tensor *dx = push_like(L, mask);
  check(L, cv_dropout_backward(mask, dy, dx, &err), &err);
  return 1;
}

/* prelu(x, slope): slope has one element (shared) or one per channel */
int cvL_layers_prelu(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = arg_tensor(L, 1), *slope = arg_tensor(L, 2);
  cv_error err;
  cv_tensor *y = push_like(L, x);
  check(L, cv_prelu_forward(x, slope, y, &err), &err);
  return 1;
}

/* prelu_backward(x, slope, dy) -> dx, dslope */
static int l_prelu_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *slope = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  cv_tensor *ds = push_zeros(L, slope->ndim, slope->size);
  check(L, cv_prelu_backward(x, slope, dy, dx, ds, &err), &err);
  return 2;
}

/* ---- softmax, loss, accuracy ------------------------------------------ */

/* softmax(x[, dim = 2 (1 for 1-d)]) */
int cvL_layers_softmax(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = cvL_checktensor(L, 1);
  int axis = lua_isnoneornil(L, 2) ? (x->ndim < 2 ? 0 : 1) : cvL_checkdim(L, 2, x->ndim);
  cv_error err;
  x = arg_tensor(L, 1);
  cv_tensor *y = push_like(L, x);
  check(L, cv_softmax_forward(axis, x, y, &err), &err);
  return 1;
}

/* softmax_backward(y, dy[, dim]) -> dx */
static int l_softmax_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *y = arg_tensor(L, 1), *dy = arg_tensor(L, 2);
  int axis = lua_isnoneornil(L, 3) ? (y->ndim < 2 ? 0 : 1) : cvL_checkdim(L, 3, y->ndim);
  cv_error err;
  cv_tensor *dx = push_like(L, y);
  check(L, cv_softmax_backward(axis, y, dy, dx, &err), &err);
  return 1;
}

static cv_loss_params loss_opts(lua_State *L, int idx, const cv_tensor *x) {
  cv_loss_params p;
  check_opts(L, idx);
  p.axis = x->ndim < 2 ? 0 : opt_dim(L, idx, "dim", 2, x->ndim);
  p.top_k = opt_int(L, idx, "top_k", 1);
  p.has_ignore = 0;
  p.ignore_label = 0;
  p.norm = CV_LOSS_VALID;
  if (!lua_isnoneornil(L, idx)) {
    static const char *const norms[] = {"valid", "full", "batch_size", "none", NULL};
    if (lua_getfield(L, idx, "normalization") != LUA_TNIL)
      p.norm = (cv_loss_norm)luaL_checkoption(L, -1, NULL, norms);
    lua_pop(L, 1);
    lua_getfield(L, idx, "ignore_label");
    if (!lua_isnil(L, -1)) {
      p.has_ignore = 1;
      p.ignore_label = (int)luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
  }
  return p;
}

/* softmax_loss(x, labels[, {dim =, ignore_label =, normalization =
 * "valid"|"full"|"batch_size"|"none"}]) -> loss, prob */
static int l_softmax_loss(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *labels = arg_tensor(L, 2);
  cv_loss_params p = loss_opts(L, 3, x);
  cv_error err;
  cv_tensor *prob = push_like(L, x);
  double loss;
  check(L, cv_softmax_loss_forward(&p, x, labels, prob, &loss, &err), &err);
  lua_pushnumber(L, loss);
  lua_insert(L, -2);
  return 2;
}

/* softmax_loss_backward(prob, labels[, opts][, dloss = 1]) -> dx */
static int l_softmax_loss_backward(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *prob = arg_tensor(L, 1), *labels = arg_tensor(L, 2);
  cv_loss_params p = loss_opts(L, 3, prob);
  double dloss = luaL_optnumber(L, 4, 1.0);
  cv_error err;
  cv_tensor *dx = push_like(L, prob);
  check(L, cv_softmax_loss_backward(&p, prob, labels, dloss, dx, &err), &err);
  return 1;
}

/* accuracy(x, labels[, {top_k =, dim =, ignore_label =}]) -> fraction */
static int l_accuracy(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *labels = arg_tensor(L, 2);
  cv_loss_params p = loss_opts(L, 3, x);
  cv_error err;
  double acc;
  check(L, cv_accuracy(&p, x, labels, &acc, &err), &err);
  lua_pushnumber(L, acc);
  return 1;
}

/* ---- several blobs ----------------------------------------------------- */

#define MAX_BLOBS 64

/* The tensors of the table at idx, contiguous (pushed); returns the count. */
static int arg_tensor_list(lua_State *L, int idx, const cv_tensor **ts) {
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)luaL_len(L, idx);
  luaL_argcheck(L, n >= 1 && n <= MAX_BLOBS, idx, "expected 1 to 64 tensors");
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    cv_tensor *t = cvL_totensor(L, -1);
    if (!t) luaL_error(L, "bad argument #%d (tensor expected at position %d, "
                       "got %s)", idx, i + 1, luaL_typename(L, -1));
    int top = lua_gettop(L);
    ts[i] = arg_tensor(L, top);
  }
  return n;
}

/* concat({x1, x2, ...}[, dim = 2]) */
static int l_concat(lua_State *L) {
  lua_settop(L, 2);
  const cv_tensor *xs[MAX_BLOBS];
  int n = arg_tensor_list(L, 1, xs);
  int axis = lua_isnoneornil(L, 2) ? (xs[0]->ndim < 2 ? 0 : 1)
                                   : cvL_checkdim(L, 2, xs[0]->ndim);
  cv_error err;
  int64_t out[CV_MAX_DIMS];
  if (cv_concat_shape(axis, n, xs, out, &err)) return cvL_raise(L, &err);
  cv_tensor *y = push_empty(L, xs[0]->ndim, out);
  check(L, cv_concat_forward(axis, n, xs, y, &err), &err);
  return 1;
}

/* concat_backward(dy, {x1, x2, ...}[, dim = 2]) -> {dx1, dx2, ...} */
static int l_concat_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *dy = arg_tensor(L, 1);
  const cv_tensor *xs[MAX_BLOBS];
  cv_tensor *dxs[MAX_BLOBS];
  int n = arg_tensor_list(L, 2, xs);
  int axis = lua_isnoneornil(L, 3) ? (dy->ndim < 2 ? 0 : 1) : cvL_checkdim(L, 3, dy->ndim);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    dxs[i] = push_like(L, xs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  cv_error err;
  check(L, cv_concat_backward(axis, n, dy, dxs, &err), &err);
  return 1;
}

static cv_eltwise_op eltwise_opts(lua_State *L, int idx, int n, double *coeffs,
                                  int *has_coeffs) {
  static const char *const ops[] = {"prod", "sum", "max", NULL};
  check_opts(L, idx);
  cv_eltwise_op op = CV_ELTWISE_SUM;
  *has_coeffs = 0;
  if (lua_isnoneornil(L, idx)) return op;
  if (lua_getfield(L, idx, "op") != LUA_TNIL)
    op = (cv_eltwise_op)luaL_checkoption(L, -1, NULL, ops);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "coeffs") != LUA_TNIL) {
    luaL_checktype(L, -1, LUA_TTABLE);
    if (luaL_len(L, -1) != n)
      luaL_error(L, "eltwise: %d coefficients for %d inputs", (int)luaL_len(L, -1), n);
    for (int i = 0; i < n; i++) {
      lua_geti(L, -1, i + 1);
      coeffs[i] = luaL_checknumber(L, -1);
      lua_pop(L, 1);
    }
    *has_coeffs = 1;
    if (op != CV_ELTWISE_SUM) luaL_error(L, "eltwise: coefficients need op \"sum\"");
  }
  lua_pop(L, 1);
  return op;
}

int cvL_slice_opts(lua_State *L, int idx, const cv_tensor *x, int *axis,
                   int64_t *lens) {
  check_opts(L, idx);
  *axis = x->ndim < 2 ? 0 : opt_dim(L, idx, "dim", 2, x->ndim);
  int64_t points[MAX_BLOBS];
  int n_points = 0, count = opt_int(L, idx, "count", 0);
  if (!lua_isnoneornil(L, idx) && lua_getfield(L, idx, "points") != LUA_TNIL) {
    luaL_argexpected(L, lua_istable(L, -1), idx, "option 'points' as a table");
    n_points = (int)luaL_len(L, -1);
    if (n_points >= MAX_BLOBS) luaL_error(L, "slice: at most %d points", MAX_BLOBS - 1);
    for (int k = 0; k < n_points; k++) {
      lua_geti(L, -1, k + 1);
      int ok;
      points[k] = lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_error(L, "slice: point %d must be an integer", k + 1);
      lua_pop(L, 1);
    }
    if (count && count != n_points + 1)
      luaL_error(L, "slice: %d points make %d parts, not count = %d", n_points,
                 n_points + 1, count);
    count = n_points + 1;
  }
  if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
  if (count < 1 || count > MAX_BLOBS)
    luaL_error(L, "slice: give points = {...} or count = 1 to %d", MAX_BLOBS);
  cv_error err;
  if (cv_slice_sizes(*axis, count, n_points, points, x->ndim, x->size, lens, &err))
    cvL_raise(L, &err);
  return count;
}

/* slice(x, {dim = 2, points = {p1, ...} | count = n}) -> {y1, y2, ...}:
 * Caffe's Slice; part k ends after points[k] elements along dim. */
int cvL_layers_slice(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = arg_tensor(L, 1);
  int axis;
  int64_t lens[MAX_BLOBS];
  int n = cvL_slice_opts(L, 2, x, &axis, lens);
  cv_tensor *ys[MAX_BLOBS];
  lua_createtable(L, n, 0);
  for (int k = 0; k < n; k++) {
    int64_t size[CV_MAX_DIMS];
    memcpy(size, x->size, sizeof(int64_t) * (size_t)x->ndim);
    size[axis] = lens[k];
    ys[k] = push_empty(L, x->ndim, size);
    lua_rawseti(L, -2, k + 1);
  }
  cv_error err;
  check(L, cv_slice_forward(axis, n, x, ys, &err), &err);
  return 1;
}

/* slice_backward({dy1, dy2, ...}[, {dim = 2}]) -> dx */
static int l_slice_backward(lua_State *L) {
  lua_settop(L, 2);
  const cv_tensor *dys[MAX_BLOBS];
  int n = arg_tensor_list(L, 1, dys);
  check_opts(L, 2);
  int axis = dys[0]->ndim < 2 ? 0 : opt_dim(L, 2, "dim", 2, dys[0]->ndim);
  int64_t size[CV_MAX_DIMS];
  memcpy(size, dys[0]->size, sizeof(int64_t) * (size_t)dys[0]->ndim);
  size[axis] = 0;
  for (int k = 0; k < n; k++)
    size[axis] += dys[k]->ndim == dys[0]->ndim ? dys[k]->size[axis] : 0;
  cv_error err;
  cv_tensor *dx = push_empty(L, dys[0]->ndim, size);
  check(L, cv_slice_backward(axis, n, dys, dx, &err), &err);
  return 1;
}

/* eltwise({x1, x2, ...}[, {op = "sum"|"prod"|"max", coeffs = {...}}]) */
static int l_eltwise(lua_State *L) {
  lua_settop(L, 2);
  const cv_tensor *xs[MAX_BLOBS];
  double coeffs[MAX_BLOBS];
  int has;
  int n = arg_tensor_list(L, 1, xs);
  cv_eltwise_op op = eltwise_opts(L, 2, n, coeffs, &has);
  cv_error err;
  cv_tensor *y = push_like(L, xs[0]);
  check(L, cv_eltwise_forward(op, has ? coeffs : NULL, n, xs, y, &err), &err);
  return 1;
}

/* eltwise_backward({x1, ...}, dy[, opts]) -> {dx1, ...} */
static int l_eltwise_backward(lua_State *L) {
  lua_settop(L, 3);
  const cv_tensor *xs[MAX_BLOBS];
  cv_tensor *dxs[MAX_BLOBS];
  double coeffs[MAX_BLOBS];
  int has;
  int n = arg_tensor_list(L, 1, xs);
  cv_tensor *dy = arg_tensor(L, 2);
  cv_eltwise_op op = eltwise_opts(L, 3, n, coeffs, &has);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    dxs[i] = push_like(L, xs[i]);
    lua_rawseti(L, -2, i + 1);
  }
  cv_error err;
  check(L, cv_eltwise_backward(op, has ? coeffs : NULL, n, xs, dy, dxs, &err), &err);
  return 1;
}

/* flatten(x[, {dim = 2, end_dim = -1}]): a view (or copy) of x */
static int l_flatten(lua_State *L) {
  lua_settop(L, 2);
  cv_tensor *x = cvL_checktensor(L, 1);
  check_opts(L, 2);
  int a = opt_int(L, 2, "dim", 2), e = opt_int(L, 2, "end_dim", -1);
  int64_t out[CV_MAX_DIMS];
  int nd;
  cv_error err;
  if (cv_flatten_shape(a > 0 ? a - 1 : a, e > 0 ? e - 1 : e, x->ndim, x->size,
                       &nd, out, &err))
    return cvL_raise(L, &err);
  cvL_pushtensor(L, cv_tensor_reshape(x, nd, out, &err), &err);
  return 1;
}

/* reshape_caffe(x, {shape...}[, {dim = 1, num_axes = -1}]): Caffe's Reshape,
 * 0 copies a dim, -1 is inferred. */
static int l_reshape_caffe(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = cvL_checktensor(L, 1);
  int64_t shape[CV_MAX_DIMS], out[CV_MAX_DIMS];
  int sn = cvL_checksizes(L, 2, shape);
  luaL_argcheck(L, lua_istable(L, 2), 2, "shape must be a table");
  check_opts(L, 3);
  int a = opt_int(L, 3, "dim", 1), na = opt_int(L, 3, "num_axes", -1);
  int nd;
  cv_error err;
  if (cv_reshape_shape(a > 0 ? a - 1 : a, na, sn, shape, x->ndim, x->size, &nd,
                       out, &err))
    return cvL_raise(L, &err);
  cvL_pushtensor(L, cv_tensor_reshape(x, nd, out, &err), &err);
  return 1;
}

/* split_backward({dy1, dy2, ...}) -> dx */
static int l_split_backward(lua_State *L) {
  lua_settop(L, 1);
  const cv_tensor *dys[MAX_BLOBS];
  int n = arg_tensor_list(L, 1, dys);
  cv_error err;
  cv_tensor *dx = push_like(L, dys[0]);
  check(L, cv_split_backward(n, dys, dx, &err), &err);
  return 1;
}

/* ---- BatchNorm and Scale ----------------------------------------------- */

/* batch_norm(x[, mean, var, factor][, {eps = 1e-5, use_global_stats =}])
 * -> y, mean, var (the statistics used, factor applied). Global stats are
 * the default when mean and var are given. */
static int l_batch_norm(lua_State *L) {
  lua_settop(L, 5);
  cv_tensor *x = arg_tensor(L, 1);
  cv_tensor *mean = opt_tensor(L, 2), *var = opt_tensor(L, 3);
  cv_tensor *factor = opt_tensor(L, 4);
  check_opts(L, 5);
  cv_batchnorm_params p = {opt_bool(L, 5, "use_global_stats", mean != NULL),
                           opt_number(L, 5, "eps", 1e-5)};
  if (p.use_global_stats && (!mean || !var))
    luaL_error(L, "batch_norm: global statistics need mean and var");
  if (x->ndim < 2) luaL_error(L, "batch_norm: input must have channels (dim 2)");
  cv_error err;
  cv_tensor *y = push_like(L, x);
  cv_tensor *m = push_empty(L, 1, &x->size[1]), *v = push_empty(L, 1, &x->size[1]);
  check(L, cv_batchnorm_forward(&p, x, mean, var, factor, y, m, v, &err), &err);
  return 3;
}

/* batch_norm_backward(y, var, dy[, {use_global_stats =}]) -> dx, with y and
 * var as batch_norm returned them. */
static int l_batch_norm_backward(lua_State *L) {
  lua_settop(L, 4);
  cv_tensor *y = arg_tensor(L, 1), *v = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  check_opts(L, 4);
  cv_batchnorm_params p = {opt_bool(L, 4, "use_global_stats", 0),
                           opt_number(L, 4, "eps", 1e-5)};
  cv_error err;
  cv_tensor *dx = push_like(L, y);
  check(L, cv_batchnorm_backward(&p, y, v, dy, dx, &err), &err);
  return 1;
}

/* batch_norm_update(x, batch_mean, batch_var, mean, var, factor[, {
 * moving_average_fraction = 0.999}]): Caffe's training update of the three
 * stored blobs, in place; x gives the count per channel. */
static int l_batch_norm_update(lua_State *L) {
  lua_settop(L, 7);
  cv_tensor *x = cvL_checktensor(L, 1);
  cv_tensor *bm = arg_tensor(L, 2), *bv = arg_tensor(L, 3);
  cv_tensor *mean = cvL_checktensor(L, 4), *var = cvL_checktensor(L, 5);
  cv_tensor *factor = cvL_checktensor(L, 6);
  check_opts(L, 7);
  double maf = opt_number(L, 7, "moving_average_fraction", 0.999);
  int64_t m = x->ndim > 1 && x->size[1] ? cv_tensor_numel(x) / x->size[1] : 0;
  cv_error err;
  check(L, cv_batchnorm_update(maf, m, bm, bv, mean, var, factor, &err), &err);
  return 0;
}

/* scale(x, gamma[, beta]) */
static int l_scale(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *g = arg_tensor(L, 2), *b = opt_tensor(L, 3);
  cv_error err;
  cv_tensor *y = push_like(L, x);
  check(L, cv_scale_forward(x, g, b, y, &err), &err);
  return 1;
}

/* scale_backward(x, gamma, dy) -> dx, dgamma, dbeta */
static int l_scale_backward(lua_State *L) {
  lua_settop(L, 3);
  cv_tensor *x = arg_tensor(L, 1), *g = arg_tensor(L, 2), *dy = arg_tensor(L, 3);
  cv_error err;
  cv_tensor *dx = push_like(L, x);
  cv_tensor *dg = push_zeros(L, g->ndim, g->size), *db = push_zeros(L, g->ndim, g->size);
  check(L, cv_scale_backward(x, g, dy, dx, dg, db, &err), &err);
  return 3;
}

/* ---- threads ----------------------------------------------------------- */

static int l_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be 1 to 1024");
  cv_threads_set((int)n);
  return 0;
}

static int l_get_num_threads(lua_State *L) {
  lua_pushinteger(L, cv_threads_get());
  return 1;
}

/* The functions of cv.nn that only the raw kernels serve (l_nn.c adds
 * the forwards that may run on the tape). */
const luaL_Reg cvL_layers_fns[] = {
    {"conv2d_backward", l_conv2d_backward},
    {"set_conv_algorithm", l_set_conv_algorithm},
    {"conv2d_filter_grad_norms", l_conv2d_filter_grad_norms},
    {"linear_filter_grad_norms", l_linear_filter_grad_norms},
    {"max_pool2d_backward", l_max_pool2d_backward},
    {"avg_pool2d_backward", l_avg_pool2d_backward},
    {"lrn_backward", l_lrn_backward}, {"linear_backward", l_linear_backward},
    {"relu_backward", l_relu_backward},
    {"sigmoid_backward", l_sigmoid_backward}, {"tanh_backward", l_tanh_backward},
    {"power", l_power}, {"power_backward", l_power_backward},
    {"dropout", l_dropout}, {"dropout_backward", l_dropout_backward},
    {"softmax_backward", l_softmax_backward},
    {"softmax_loss", l_softmax_loss},
    {"softmax_loss_backward", l_softmax_loss_backward},
    {"accuracy", l_accuracy},
    {"concat", l_concat}, {"concat_backward", l_concat_backward},
    {"slice_backward", l_slice_backward}, {"prelu_backward", l_prelu_backward},
    {"eltwise", l_eltwise}, {"eltwise_backward", l_eltwise_backward},
    {"flatten", l_flatten}, {"reshape", l_reshape_caffe},
    {"split_backward", l_split_backward},
    {"batch_norm", l_batch_norm}, {"batch_norm_backward", l_batch_norm_backward},
    {"batch_norm_update", l_batch_norm_update},
    {"scale", l_scale}, {"scale_backward", l_scale_backward},
    {NULL, NULL}};

/* cv.set_num_threads and cv.get_num_threads, on the module itself. */
const luaL_Reg cvL_layers_module_fns[] = {
    {"set_num_threads", l_set_num_threads},
    {"get_num_threads", l_get_num_threads}, {NULL, NULL}};
