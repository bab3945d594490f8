/* l_nn.c — `cv.nn`'s forwards as the differentiable ops of nn.h: when grad
 * mode is on and an input requires a gradient, a call records on the tape
 * (and takes no `out`); otherwise it runs the raw kernel of l_layers.c.
 * cvL_open_nn builds the table from both files. */
#include "autograd.h"
#include "nn.h"
#include "binding.h"
#include "l_layers.h"

/* Do the first n arguments put the call on the autograd tape? */
static int on_tape(lua_State *L, int n) {
  if (!cv_autograd_enabled()) return 0;
  for (int i = 1; i <= n; i++) {
    cv_tensor *t = cvL_totensor(L, i);
    if (t && cv_tensor_requires_grad(t)) return 1;
  }
  return 0;
}

/* The tensor at idx as it is (the tape needs the caller's tensor, not a
 * contiguous copy), or NULL when absent. */
static cv_tensor *opt_original(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : cvL_checktensor(L, idx);
}

static int push(lua_State *L, cv_tensor *y, cv_error *err) {
  cvL_pushtensor(L, y, err);
  return 1;
}

/* conv2d(x, w[, b][, opts]): see cvL_layers_conv2d. */
static int l_conv2d(lua_State *L) {
  lua_settop(L, 4);
  if (!on_tape(L, 3)) return cvL_layers_conv2d(L);
  cv_tensor *x = cvL_checktensor(L, 1), *w = cvL_checktensor(L, 2);
  cv_conv_params p = cvL_conv_opts(L, 4, w);
  cv_error err;
  return push(L, cv_nn_conv2d(&p, x, w, opt_original(L, 3), cvL_nn_workspace(L), &err), &err);
}

static int pool(lua_State *L, cv_pool_method m, lua_CFunction raw) {
  lua_settop(L, 2);
  if (!on_tape(L, 1)) return raw(L);
  cv_pool_params p = cvL_pool_opts(L, 2, m);
  cv_error err;
  return push(L, cv_nn_pool2d(&p, cvL_checktensor(L, 1), &err), &err);
}

static int l_max_pool2d(lua_State *L) { return pool(L, CV_POOL_MAX, cvL_layers_max_pool2d); }
static int l_avg_pool2d(lua_State *L) { return pool(L, CV_POOL_AVE, cvL_layers_avg_pool2d); }

static int l_lrn(lua_State *L) {
  lua_settop(L, 2);
  if (!on_tape(L, 1)) return cvL_layers_lrn(L);
  cv_lrn_params p = cvL_lrn_opts(L, 2);
  cv_error err;
  return push(L, cv_nn_lrn(&p, cvL_checktensor(L, 1), cvL_nn_workspace(L), &err), &err);
}

static int l_linear(lua_State *L) {
  lua_settop(L, 4);
  if (!on_tape(L, 3)) return cvL_layers_linear(L);
  cv_tensor *x = cvL_checktensor(L, 1);
  cv_linear_params p = cvL_linear_opts(L, 4, x);
  cv_error err;
  return push(L, cv_nn_linear(&p, x, cvL_checktensor(L, 2), opt_original(L, 3), &err), &err);
}

static int l_relu(lua_State *L) {
  lua_settop(L, 2);
  if (!on_tape(L, 1)) return cvL_layers_relu(L);
  double slope = luaL_optnumber(L, 2, 0);
  cv_error err;
  return push(L, cv_nn_relu(slope, cvL_checktensor(L, 1), &err), &err);
}

static int l_sigmoid(lua_State *L) {
  if (!on_tape(L, 1)) return cvL_layers_sigmoid(L);
  cv_error err;
  return push(L, cv_nn_sigmoid(cvL_checktensor(L, 1), &err), &err);
}

static int l_tanh(lua_State *L) {
  if (!on_tape(L, 1)) return cvL_layers_tanh(L);
  cv_error err;
  return push(L, cv_nn_tanh(cvL_checktensor(L, 1), &err), &err);
}

/* softmax(x[, dim = 2 (1 for 1-d)]) */
static int l_softmax(lua_State *L) {
  lua_settop(L, 2);
  if (!on_tape(L, 1)) return cvL_layers_softmax(L);
  cv_tensor *x = cvL_checktensor(L, 1);
  int axis = lua_isnoneornil(L, 2) ? (x->ndim < 2 ? 0 : 1) : cvL_checkdim(L, 2, x->ndim);
  cv_error err;
  return push(L, cv_nn_softmax(axis, x, &err), &err);
}

static int ws_gc(lua_State *L) {
  cv_workspace_free(lua_touserdata(L, 1));
  return 0;
}

void cvL_open_nn(lua_State *L) {
  static const luaL_Reg nn[] = {
      {"conv2d", l_conv2d},         {"max_pool2d", l_max_pool2d},
      {"avg_pool2d", l_avg_pool2d}, {"lrn", l_lrn},
      {"linear", l_linear},         {"relu", l_relu},
      {"sigmoid", l_sigmoid},       {"tanh", l_tanh},
      {"softmax", l_softmax},       {NULL, NULL}};
  cvL_register(L, cvL_layers_module_fns, NULL); /* stack: module */
  lua_newtable(L);                        /* stack: module nn */
  cv_workspace *ws = lua_newuserdatauv(L, sizeof *ws, 0);
  ws->data = NULL;
  ws->capacity = 0;
  lua_newtable(L);                        /* stack: module nn ws mt */
  lua_pushcfunction(L, ws_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);                /* stack: module nn ws */
  lua_pushvalue(L, -2);
  lua_pushvalue(L, -2);                   /* stack: module nn ws nn ws */
  luaL_setfuncs(L, cvL_layers_fns, 1);
  lua_pop(L, 1);                          /* stack: module nn ws */
  luaL_setfuncs(L, nn, 1);                /* stack: module nn */
  /* Also package.loaded["cnnvis.nn"]: `require "cnnvis.nn"` works and
   * argument errors name the function ("bad argument #1 to 'cnnvis.nn.relu'"). */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "cnnvis.nn");      /* stack: module nn loaded */
  lua_pop(L, 1);
  lua_setfield(L, -2, "nn");
}
