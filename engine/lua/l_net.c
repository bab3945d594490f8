/* l_net.c — the net userdata: load, forward, blobs, layers, save. The
 * friendly object scripts use (net.blobs, net.params, print(net)) is built
 * on this in lua/cnnvis/net.lua. */
#include <stdlib.h>
#include <string.h>

#include "caffe/caffe_io.h"
#include "net.h"
#include "binding.h"

#define CV_NET_MT "cnnvis.Net"

typedef struct {
  cv_net *net; /* NULL once released */
} net_box;

static cv_net *check_net(lua_State *L, int idx) {
  net_box *b = luaL_checkudata(L, idx, CV_NET_MT);
  if (!b->net) luaL_argerror(L, idx, "net was released");
  return b->net;
}

static int l_net_release(lua_State *L) {
  net_box *b = luaL_checkudata(L, 1, CV_NET_MT);
  cv_net_free(b->net);
  b->net = NULL;
  return 0;
}

/* Builds the net of a definition and, when given, loads its weights. */
static cv_net *load(const char *prototxt, const char *caffemodel, int train,
                    cv_error *err) {
  Caffe__NetParameter *def = cv_caffe_read_net_def(
      prototxt, train ? CAFFE__PHASE__TRAIN : CAFFE__PHASE__TEST, err);
  if (!def) return NULL;
  /* Weights about to be loaded make the fillers' work wasted. */
  cv_net *net = cv_net_build(def, prototxt, train, caffemodel == NULL, err);
  if (!net || !caffemodel) {
    cv_caffe_net_free(def);
    return net;
  }
  Caffe__NetParameter *w = cv_caffe_read_weights(caffemodel, err);
  int rc = !w || cv_net_load_weights(net, w, caffemodel, err);
  cv_caffe_net_free(w);
  rc = rc || cv_net_fill_unloaded(net, def, err);
  cv_caffe_net_free(def);
  if (rc) {
    cv_net_free(net);
    return NULL;
  }
  return net;
}

/* core.net_load(prototxt [, caffemodel [, phase]]) */
static int l_net_load(lua_State *L) {
  const char *prototxt = luaL_checkstring(L, 1);
  const char *caffemodel = luaL_optstring(L, 2, NULL);
  static const char *const phases[] = {"test", "train", NULL};
  int train = luaL_checkoption(L, 3, "test", phases);
  net_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->net = NULL;
  luaL_setmetatable(L, CV_NET_MT);
  cv_error err;
  if (!(b->net = load(prototxt, caffemodel, train, &err))) cvL_raise(L, &err);
  return 1;
}

/* Reads forward's inputs: one tensor, or a table {blob_name = tensor}
 * (given in the net's input order). */
static int forward_inputs(lua_State *L, cv_net *net, int idx, cv_tensor **in) {
  if (cvL_totensor(L, idx)) {
    in[0] = cvL_totensor(L, idx);
    return 1;
  }
  luaL_argexpected(L, lua_istable(L, idx), idx, "tensor or table of tensors");
  int n = 0;
  for (int k = 0; k < net->n_inputs; k++) {
    lua_getfield(L, idx, net->blob_names[net->input_blobs[k]]);
    cv_tensor *t = cvL_totensor(L, -1);
    lua_pop(L, 1);
    if (!t) break; /* the tensor stays referenced by the argument table */
    in[n++] = t;
  }
  if (n == 0)
    luaL_error(L, "forward: the table holds no tensor for input '%s'",
               net->n_inputs ? net->blob_names[net->input_blobs[0]] : "?");
  return n;
}

/* The keep mask from a list of blob names at idx (a userdatum on the
 * stack owns it), or NULL when idx is nil. */
static unsigned char *keep_mask(lua_State *L, cv_net *net, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  luaL_checktype(L, idx, LUA_TTABLE);
  unsigned char *keep = lua_newuserdatauv(L, (size_t)net->n_blobs + 1, 0);
  memset(keep, 0, (size_t)net->n_blobs + 1);
  lua_Integer n = luaL_len(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    const char *name = lua_tostring(L, -1);
    int id = name ? cv_net_blob_id(net, name) : -1;
    if (id < 0)
      luaL_error(L, "forward: keep names blob '%s', which the net does not "
                 "have", name ? name : luaL_typename(L, -1));
    keep[id] = 1;
    lua_pop(L, 1);
  }
  return keep;
}

/* Gives the net the blobs of table idx ({name = tensor}), for a forward
 * from a layer on. */
static void set_blobs(lua_State *L, cv_net *net, int idx) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_argexpected(L, lua_istable(L, idx), idx, "table of blobs by name");
  cv_error err;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* stack: ..., name, tensor */
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    cv_tensor *t = cvL_totensor(L, -1);
    if (!name || !t)
      luaL_error(L, "forward: from a layer on, give blobs as {name = tensor}");
    if (cv_net_set_blob(net, name, t, &err)) cvL_raise(L, &err);
    lua_pop(L, 1);
  }
}

/* net:forward(x [, upto [, keep [, from]]]) runs the layers; blobs are read
 * with net:blob. keep: a list of blob names, the only ones kept. With from
 * (a layer name), x is nil or a table {blob = tensor} of blobs to set, and
 * only the layers from `from` on run, on the blobs the net holds. */
static int l_net_forward(lua_State *L) {
  cv_net *net = check_net(L, 1);
  if (!lua_isnoneornil(L, 5)) {
    const char *from = luaL_checkstring(L, 5);
    const char *upto = luaL_optstring(L, 3, NULL);
    unsigned char *keep = keep_mask(L, net, 4);
    set_blobs(L, net, 2);
    cv_error err;
    if (cv_net_forward_from(net, from, upto, keep, &err)) return cvL_raise(L, &err);
    return 0;
  }
  cv_tensor *in[CV_LAYER_MAX_TOPS * 4];
  if (net->n_inputs > (int)(sizeof in / sizeof in[0]))
    return luaL_error(L, "forward: too many inputs");
  int n = forward_inputs(L, net, 2, in);
  const char *upto = luaL_optstring(L, 3, NULL);
  unsigned char *keep = keep_mask(L, net, 4);
  cv_error err;
  if (cv_net_forward_keep(net, n, in, upto, keep, &err))
    return cvL_raise(L, &err);
  return 0;
}

static int l_net_blob(lua_State *L) {
  cv_net *net = check_net(L, 1);
  cv_tensor *t = cv_net_blob(net, luaL_checkstring(L, 2));
  if (!t) return 0;
  cvL_pushtensor(L, cv_tensor_retain(t), NULL);
  return 1;
}

static void push_strings(lua_State *L, int n, const int *ids, char **names) {
  lua_createtable(L, n, 0);
  for (int k = 0; k < n; k++) {
    lua_pushstring(L, names[ids[k]]);
    lua_rawseti(L, -2, k + 1);
  }
}

static void push_shape(lua_State *L, const cv_shape *s) {
  lua_createtable(L, s->ndim, 0);
  for (int d = 0; d < s->ndim; d++) {
    lua_pushinteger(L, s->size[d]);
    lua_rawseti(L, -2, d + 1);
  }
}

/* net:layers() -> { {name=, type=, bottoms=, tops=, top_shapes=, params=}, ... } */
static int l_net_layers(lua_State *L) {
  cv_net *net = check_net(L, 1);
  lua_createtable(L, net->n_layers, 0);
  for (int i = 0; i < net->n_layers; i++) {
    const cv_net_layer *l = &net->layers[i];
    lua_createtable(L, 0, 6);
    lua_pushstring(L, l->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, l->type->name);
    lua_setfield(L, -2, "type");
    push_strings(L, l->n_bottom, l->bottom, net->blob_names);
    lua_setfield(L, -2, "bottoms");
    push_strings(L, l->n_top, l->top, net->blob_names);
    lua_setfield(L, -2, "tops");
    lua_createtable(L, l->n_top, 0);
    for (int k = 0; k < l->n_top; k++) {
      push_shape(L, &l->top_shape[k]);
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "top_shapes");
    lua_createtable(L, l->n_param, 0);
    for (int k = 0; k < l->n_param; k++) {
      cvL_pushtensor(L, cv_tensor_retain(l->param[k]), NULL);
      lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "params");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* net:inputs() -> { {name=, shape=}, ... } */
static int l_net_inputs(lua_State *L) {
  cv_net *net = check_net(L, 1);
  lua_createtable(L, net->n_inputs, 0);
  for (int k = 0; k < net->n_inputs; k++) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, net->blob_names[net->input_blobs[k]]);
    lua_setfield(L, -2, "name");
    push_shape(L, &net->input_shapes[k]);
    lua_setfield(L, -2, "shape");
    lua_rawseti(L, -2, k + 1);
  }
  return 1;
}

/* A V2 NetParameter holding each layer's name, type and parameter blobs. */
static Caffe__NetParameter *weights_of(const cv_net *net, cv_error *err) {
  Caffe__NetParameter *w = calloc(1, sizeof *w);
  if (!w) goto oom;
  caffe__net_parameter__init(w);
  w->layer = calloc((size_t)net->n_layers + 1, sizeof *w->layer);
  if (!w->layer) goto oom;
  for (int i = 0; i < net->n_layers; i++) {
    const cv_net_layer *l = &net->layers[i];
    Caffe__LayerParameter *lp = calloc(1, sizeof *lp);
    if (!lp) goto oom;
    caffe__layer_parameter__init(lp);
    w->layer[w->n_layer++] = lp;
    lp->name = strdup(l->name);
    lp->type = strdup(l->type->name);
    lp->blobs = calloc((size_t)l->n_param + 1, sizeof *lp->blobs);
    if (!lp->name || !lp->type || !lp->blobs) goto oom;
    for (int k = 0; k < l->n_param; k++) {
      if (!(lp->blobs[k] = cv_caffe_blob_from_tensor(l->param[k], err))) {
        cv_caffe_net_free(w);
        return NULL;
      }
      lp->n_blobs++;
    }
  }
  return w;
oom:
  cv_caffe_net_free(w);
  cv_error_set(err, "out of memory");
  return NULL;
}

/* net:save_weights(path) writes a V2 caffemodel. */
static int l_net_save_weights(lua_State *L) {
  cv_net *net = check_net(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_error err;
  Caffe__NetParameter *w = weights_of(net, &err);
  int rc = w ? cv_caffe_write_weights(path, w, &err) : -1;
  cv_caffe_net_free(w);
  if (rc) return cvL_raise(L, &err);
  return 0;
}

/* The layer named at idx, as an id. */
static int check_layer(lua_State *L, cv_net *net, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int id = cv_net_layer_id(net, name);
  if (id < 0) luaL_error(L, "the net has no layer '%s'", name);
  return id;
}

/* net:keep_output_grad(layer) before a backward (see net.h). */
static int l_net_keep_output_grad(lua_State *L) {
  cv_net *net = check_net(L, 1);
  cv_error err;
  if (cv_net_keep_output_grad(net, check_layer(L, net, 2), &err))
    return cvL_raise(L, &err);
  return 0;
}

/* net:output_grad(layer) -> y, dy: the layer's output and its kept
 * gradient, after the backward. */
static int l_net_output_grad(lua_State *L) {
  cv_net *net = check_net(L, 1);
  cv_tensor *y, *dy;
  cv_error err;
  if (cv_net_output_grad(net, check_layer(L, net, 2), &y, &dy, &err))
    return cvL_raise(L, &err);
  cvL_pushtensor(L, cv_tensor_retain(y), NULL);
  cvL_pushtensor(L, cv_tensor_retain(dy), NULL);
  return 2;
}

/* net:filter_norms(layer) -> N x filters, after the backward. */
static int l_net_filter_norms(lua_State *L) {
  cv_net *net = check_net(L, 1);
  cv_error err;
  cvL_pushtensor(L, cv_net_filter_norms(net, check_layer(L, net, 2), &err), &err);
  return 1;
}

void cvL_open_net(lua_State *L) {
  static const luaL_Reg fns[] = {{"net_load", l_net_load}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"forward", l_net_forward},   {"blob", l_net_blob},
      {"layers", l_net_layers},     {"inputs", l_net_inputs},
      {"save_weights", l_net_save_weights},
      {"keep_output_grad", l_net_keep_output_grad},
      {"filter_norms", l_net_filter_norms},
      {"output_grad", l_net_output_grad},
      {"__gc", l_net_release},      {"__close", l_net_release},
      {NULL, NULL}};
  cvL_register(L, fns, NULL);
  luaL_newmetatable(L, CV_NET_MT);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
