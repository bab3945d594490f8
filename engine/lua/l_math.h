/* l_math.h — how l_math.c opens its sibling l_reduce.c (private). */
#ifndef CV_L_MATH_H
#define CV_L_MATH_H

#include "binding.h"

/* cvL_pushtensor, counting the tensor's bytes: Lua sees only the small box,
 * and its generational collector (lua5.4's default) leaves such boxes for a
 * major collection that a small Lua heap never triggers, so loops of large
 * temporaries would pile up gigabytes. Every 256 MB of results pushed, a
 * full collection runs. */
void cvL_push_result(lua_State *L, cv_tensor *t, cv_error *err);

/* Registers the reductions, sort/topk and cat/stack (module on top). */
void cvL_open_reduce(lua_State *L);

#endif
