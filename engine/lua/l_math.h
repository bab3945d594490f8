/* l_math.h — how l_math.c opens its sibling l_reduce.c (private). */
#ifndef CV_L_MATH_H
#define CV_L_MATH_H

#include "binding.h"

/* Registers the reductions, sort/topk and cat/stack (module on top). */
void cvL_open_reduce(lua_State *L);

#endif
