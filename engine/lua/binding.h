/*
 * binding.h — what the l_*.c files share: the tensor userdata and errors.
 *
 * A tensor reaches Lua as a full userdata holding one cv_tensor reference,
 * with the metatable CV_TENSOR_MT. Its methods live in one table (the
 * registry's CV_TENSOR_METHODS) that every area adds to when the module opens.
 */
#ifndef CV_BINDING_H
#define CV_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "tensor/tensor.h"

#define CV_TENSOR_MT "cnnvis.Tensor"
#define CV_TENSOR_METHODS "cnnvis.Tensor.methods"

/* The tensor at idx, or a "bad argument #idx (tensor expected, got X)" error. */
cv_tensor *cvL_checktensor(lua_State *L, int idx);
/* The tensor at idx, or NULL when the value is not a tensor. */
cv_tensor *cvL_totensor(lua_State *L, int idx);
/* A tensor, or a number turned into a 0-d tensor (a new reference either
 * way: release it), for arguments that take both. */
cv_tensor *cvL_checktensorish(lua_State *L, int idx);
/* Pushes t, taking over the caller's reference. t == NULL raises err. */
void cvL_pushtensor(lua_State *L, cv_tensor *t, cv_error *err);
/* Raises err->msg as a Lua error, as it is (no position in front). */
int cvL_raise(lua_State *L, cv_error *err);
/* Reads sizes given either as numbers from idx on, or as one table at idx
 * (`zeros(2, 3)` or `zeros{2, 3}`). Returns the count. */
int cvL_checksizes(lua_State *L, int idx, int64_t *size);
/* A 1-based dimension argument (negative counts from the end) as 0-based. */
int cvL_checkdim(lua_State *L, int idx, int ndim);

/* Adds fns to the module table at the top of the stack and methods to the
 * tensor method table. Either may be NULL. */
void cvL_register(lua_State *L, const luaL_Reg *fns, const luaL_Reg *methods);

/* Each area of the engine opens here, with the module table on top. */
void cvL_open_tensor(lua_State *L);
void cvL_open_autograd(lua_State *L);
void cvL_open_nn(lua_State *L);
void cvL_open_net(lua_State *L);
void cvL_open_caffe(lua_State *L);
void cvL_open_math(lua_State *L);
void cvL_open_io(lua_State *L);
void cvL_open_image(lua_State *L);
void cvL_open_data(lua_State *L);
void cvL_open_render(lua_State *L);
void cvL_open_analysis(lua_State *L);
void cvL_open_volume(lua_State *L);
/* After cvL_open_nn: adds cv.nn.kernel_choices (l_kernels.c). */
void cvL_open_kernels(lua_State *L);

#endif
