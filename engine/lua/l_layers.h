/*
 * l_layers.h — what l_layers.c (the raw kernels of layers/layers.h) gives
 * l_nn.c (the differentiable ops of nn.h): both fill the one table cv.nn.
 *
 * Every function of cv.nn has the module's workspace as upvalue 1. The
 * option readers take the options table at idx (nil: the defaults) and
 * raise a Lua error on a bad option.
 */
#ifndef CV_L_LAYERS_H
#define CV_L_LAYERS_H

#include "layers/layers.h"
#include "binding.h"

/* The scratch memory the functions of cv.nn share (upvalue 1). */
cv_workspace *cvL_nn_workspace(lua_State *L);

cv_conv_params cvL_conv_opts(lua_State *L, int idx, const cv_tensor *w);
cv_pool_params cvL_pool_opts(lua_State *L, int idx, cv_pool_method m);
cv_lrn_params cvL_lrn_opts(lua_State *L, int idx);
cv_linear_params cvL_linear_opts(lua_State *L, int idx, const cv_tensor *x);

/* The forwards of the raw kernels, for calls off the tape: the same
 * arguments as their cv.nn names, `out=` where the kernel takes one. */
int cvL_layers_conv2d(lua_State *L);
int cvL_layers_max_pool2d(lua_State *L);
int cvL_layers_avg_pool2d(lua_State *L);
int cvL_layers_lrn(lua_State *L);
int cvL_layers_linear(lua_State *L);
int cvL_layers_relu(lua_State *L);
int cvL_layers_sigmoid(lua_State *L);
int cvL_layers_tanh(lua_State *L);
int cvL_layers_softmax(lua_State *L);

/* The functions of cv.nn that only the raw kernels serve (every
 * `_backward`, ...), and those of the module itself (threads). */
extern const luaL_Reg cvL_layers_fns[];
extern const luaL_Reg cvL_layers_module_fns[];

#endif
