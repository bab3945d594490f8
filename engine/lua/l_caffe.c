/* l_caffe.c — the `caffe` subtable: Caffe's files as Lua tables and tensors.
 *
 * Messages become tables keyed by caffe.proto's field names: repeated fields
 * are arrays, enums are their names, unset fields are absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "caffe/caffe_io.h"
#include "caffe/pbutil.h"

#define HOLDER_MT "cnnvis.caffe.holder"

/* A message under construction or conversion, freed by __gc even when a Lua
 * error interrupts the work. */
typedef struct {
  ProtobufCMessage *m;
} holder;

static int holder_gc(lua_State *L) {
  holder *h = luaL_checkudata(L, 1, HOLDER_MT);
  if (h->m) protobuf_c_message_free_unpacked(h->m, NULL);
  h->m = NULL;
  return 0;
}

/* Pushes an empty holder; the caller fills h->m. */
static holder *push_holder(lua_State *L) {
  holder *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->m = NULL;
  luaL_setmetatable(L, HOLDER_MT);
  return h;
}

/* ---- message -> table ------------------------------------------------------ */

static void push_message(lua_State *L, const ProtobufCMessage *m);

/* The shortest decimal that is the same float, as a double: a file's
 * `alpha: 0.0001` reads back as 0.0001 in Lua, not 9.9999997e-05. */
static double float_as_decimal(float v) {
  char buf[32];
  for (int d = 6; d < 9; d++) {
    snprintf(buf, sizeof buf, "%.*g", d, (double)v);
    double back = strtod(buf, NULL);
    if ((float)back == v) return back;
  }
  return v;
}

static void push_value(lua_State *L, const ProtobufCFieldDescriptor *f,
                       const void *p) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    lua_pushinteger(L, *(const int32_t *)p); break;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    lua_pushinteger(L, *(const uint32_t *)p); break;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    lua_pushinteger(L, (lua_Integer)*(const int64_t *)p); break;
  case PROTOBUF_C_TYPE_FLOAT:
    lua_pushnumber(L, float_as_decimal(*(const float *)p));
    break;
  case PROTOBUF_C_TYPE_DOUBLE: lua_pushnumber(L, *(const double *)p); break;
  case PROTOBUF_C_TYPE_BOOL:
    lua_pushboolean(L, *(const protobuf_c_boolean *)p); break;
  case PROTOBUF_C_TYPE_ENUM: {
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
    if (ev) lua_pushstring(L, ev->name);
    else lua_pushinteger(L, *(const int *)p);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: lua_pushstring(L, *(char *const *)p); break;
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *b = p;
    lua_pushlstring(L, (const char *)b->data, b->len);
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    push_message(L, *(ProtobufCMessage *const *)p); break;
  }
}

static void push_message(lua_State *L, const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  luaL_checkstack(L, 4, "messages nested too deeply");
  lua_newtable(L); /* stack: msg */
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      if (n == 0) continue;
      const char *arr = *(char *const *)(base + f->offset);
      size_t size = cv_pb_type_size(f->type);
      lua_createtable(L, (int)n, 0); /* stack: msg array */
      for (size_t k = 0; k < n; k++) {
        push_value(L, f, arr + k * size);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
      }
    } else if (cv_pb_is_set(m, f)) {
      push_value(L, f, base + f->offset);
    } else {
      continue;
    }
    lua_setfield(L, -2, f->name);
  }
}

/* ---- table -> message -------------------------------------------------------- */

static void fill_message(lua_State *L, int idx, ProtobufCMessage *m);

static lua_Integer check_int(lua_State *L, int idx,
                             const ProtobufCFieldDescriptor *f) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok)
    luaL_error(L, "field '%s' wants an integer, got %s", f->name,
               luaL_typename(L, idx));
  int is32 = cv_pb_type_size(f->type) == 4;
  int is_unsigned = f->type == PROTOBUF_C_TYPE_UINT32 ||
                    f->type == PROTOBUF_C_TYPE_UINT64 ||
                    f->type == PROTOBUF_C_TYPE_FIXED32 ||
                    f->type == PROTOBUF_C_TYPE_FIXED64;
  if ((is_unsigned && v < 0) ||
      (is32 && (is_unsigned ? v > (lua_Integer)UINT32_MAX
                            : (v < INT32_MIN || v > INT32_MAX))))
    luaL_error(L, "field '%s': %I is out of range", f->name, v);
  return v;
}

static int check_enum(lua_State *L, int idx, const ProtobufCFieldDescriptor *f) {
  const ProtobufCEnumDescriptor *e = f->descriptor;
  const ProtobufCEnumValue *ev = NULL;
  if (lua_type(L, idx) == LUA_TSTRING)
    ev = protobuf_c_enum_descriptor_get_value_by_name(e, lua_tostring(L, idx));
  else if (lua_isinteger(L, idx))
    ev = protobuf_c_enum_descriptor_get_value(e, (int)lua_tointeger(L, idx));
  if (!ev)
    luaL_error(L, "field '%s': %s is not a value of %s", f->name,
               luaL_tolstring(L, idx, NULL), e->name);
  return ev->value;
}

/* A malloc'd copy of the string at idx (its length into *len if asked). */
static char *check_string(lua_State *L, int idx,
                          const ProtobufCFieldDescriptor *f, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "field '%s' wants a string, got %s", f->name,
               luaL_typename(L, idx));
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  char *copy = malloc(n + 1);
  if (!copy) luaL_error(L, "out of memory");
  memcpy(copy, s, n + 1);
  if (len) *len = n;
  return copy;
}

/* Frees a converted string or bytes value that could not be stored. */
static void store_or_raise(lua_State *L, ProtobufCMessage *m,
                           const ProtobufCFieldDescriptor *f, void *v) {
  if (cv_pb_store(m, f, v) == 0) return;
  if (f->type == PROTOBUF_C_TYPE_STRING) free(*(char **)v);
  if (f->type == PROTOBUF_C_TYPE_BYTES) free(((ProtobufCBinaryData *)v)->data);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) free(*(void **)v);
  luaL_error(L, "out of memory");
}

/* Converts the value at idx into one element of field f of m. */
static void set_value(lua_State *L, int idx, ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f) {
  union { double d; float fl; int32_t i32; int64_t i64; void *ptr;
          ProtobufCBinaryData b; protobuf_c_boolean bo; } v;
  memset(&v, 0, sizeof v);
  int t = lua_type(L, idx);
  switch (f->type) {
  case PROTOBUF_C_TYPE_FLOAT: v.fl = (float)luaL_checknumber(L, idx); break;
  case PROTOBUF_C_TYPE_DOUBLE: v.d = luaL_checknumber(L, idx); break;
  case PROTOBUF_C_TYPE_BOOL:
    if (t != LUA_TBOOLEAN)
      luaL_error(L, "field '%s' wants a boolean, got %s", f->name,
                 luaL_typename(L, idx));
    v.bo = lua_toboolean(L, idx);
    break;
  case PROTOBUF_C_TYPE_ENUM: v.i32 = check_enum(L, idx, f); break;
  case PROTOBUF_C_TYPE_STRING:
    v.ptr = check_string(L, idx, f, NULL);
    break;
  case PROTOBUF_C_TYPE_BYTES:
    v.b.data = (uint8_t *)check_string(L, idx, f, &v.b.len);
    break;
  case PROTOBUF_C_TYPE_MESSAGE: {
    if (t != LUA_TTABLE)
      luaL_error(L, "field '%s' wants a table, got %s", f->name,
                 luaL_typename(L, idx));
    ProtobufCMessage *sub = cv_pb_new(f->descriptor);
    if (!sub) luaL_error(L, "out of memory");
    v.ptr = sub;
    store_or_raise(L, m, f, &v); /* attached first: freed with the root */
    fill_message(L, idx, sub);
    return;
  }
  default:
    if (cv_pb_type_size(f->type) == 4) v.i32 = (int32_t)check_int(L, idx, f);
    else v.i64 = check_int(L, idx, f);
  }
  store_or_raise(L, m, f, &v);
}

/* Sets every field named in the table at idx. */
static void fill_message(lua_State *L, int idx, ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 6, "tables nested too deeply");
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* stack: key value */
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: field names must be strings", d->name);
    const char *name = lua_tostring(L, -2);
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(d, name);
    if (!f) luaL_error(L, "unknown field '%s' in %s", name, d->name);
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
      set_value(L, -1, m, f);
    } else {
      if (!lua_istable(L, -1))
        luaL_error(L, "repeated field '%s' wants an array, got %s", name,
                   luaL_typename(L, -1));
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, -1, k);
        set_value(L, -1, m, f);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
}

/* ---- functions ---------------------------------------------------------------- */

static const char *const phases[] = {"TRAIN", "TEST", NULL};

/* read_net_def(path [, "TEST"|"TRAIN"]) -> table */
static int l_read_net_def(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int phase = luaL_checkoption(L, 2, "TEST", phases);
  holder *h = push_holder(L);
  cv_error err;
  h->m = (ProtobufCMessage *)cv_caffe_read_net_def(path, phase, &err);
  if (!h->m) return cvL_raise(L, &err);
  push_message(L, h->m);
  return 1;
}

/* read_solver(path) -> the SolverParameter as a table (no normalization) */
static int l_read_solver(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  holder *h = push_holder(L);
  cv_error err;
  size_t n;
  uint8_t *text = cv_pb_read_file(path, &n, &err);
  if (!text) return cvL_raise(L, &err);
  h->m = cv_caffe_parse_text((const char *)text, n, path,
                             &caffe__solver_parameter__descriptor, &err);
  free(text);
  if (!h->m) return cvL_raise(L, &err);
  push_message(L, h->m);
  return 1;
}

/* Pushes {name=, type=, blobs={tensor...}} for layer l of the file path. */
static void push_layer_weights(lua_State *L, Caffe__LayerParameter *l,
                               const char *path) {
  lua_createtable(L, 0, 3); /* stack: layer */
  lua_pushstring(L, l->name ? l->name : "");
  lua_setfield(L, -2, "name");
  lua_pushstring(L, l->type ? l->type : "");
  lua_setfield(L, -2, "type");
  lua_createtable(L, (int)l->n_blobs, 0); /* stack: layer blobs */
  for (size_t j = 0; j < l->n_blobs; j++) {
    cv_error err;
    cv_tensor *t = cv_caffe_blob_take_tensor(l->blobs[j], &err);
    if (!t) {
      cv_error_prefix(&err, "%s: layer '%s' blob %zu", path,
                      l->name ? l->name : "", j + 1);
      cvL_raise(L, &err);
    }
    cvL_push_result(L, t, &err);
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
  lua_setfield(L, -2, "blobs");
}

/* read_weights(path) -> {{name=, type=, blobs={tensor, ...}}, ...} */
static int l_read_weights(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  holder *h = push_holder(L);
  cv_error err;
  Caffe__NetParameter *net = cv_caffe_read_weights(path, &err);
  if (!net) return cvL_raise(L, &err);
  h->m = &net->base;
  lua_createtable(L, (int)net->n_layer, 0);
  for (size_t i = 0; i < net->n_layer; i++) {
    push_layer_weights(L, net->layer[i], path);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* The layer table at idx ({name=, type=, blobs=}) into l. */
static void fill_layer_weights(lua_State *L, int idx, lua_Integer i,
                               Caffe__LayerParameter *l) {
  static const char *const keys[] = {"name", "type"};
  char **slots[] = {&l->name, &l->type};
  for (int k = 0; k < 2; k++) {
    if (lua_getfield(L, idx, keys[k]) != LUA_TSTRING)
      luaL_error(L, "layer %I: %s must be a string", (lua_Integer)i, keys[k]);
    if (cv_pb_set_string(slots[k], lua_tostring(L, -1), NULL) < 0)
      luaL_error(L, "out of memory");
    lua_pop(L, 1);
  }
  int bt = lua_getfield(L, idx, "blobs");
  if (bt != LUA_TNIL && bt != LUA_TTABLE)
    luaL_error(L, "layer %I: blobs must be an array of tensors", i);
  lua_Integer n = bt == LUA_TNIL ? 0 : luaL_len(L, -1);
  for (lua_Integer j = 1; j <= n; j++) {
    lua_geti(L, -1, j);
    cv_tensor *t = cvL_totensor(L, -1);
    if (!t) luaL_error(L, "layer %I blob %I: a tensor expected", i, j);
    cv_error err;
    Caffe__BlobProto *b = cv_caffe_blob_from_tensor(t, &err);
    if (!b) cvL_raise(L, &err);
    if (cv_pb_append(&l->blobs, &l->n_blobs, sizeof b, &b) < 0) {
      cv_caffe_blob_free(b);
      luaL_error(L, "out of memory");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* write_weights(path, {{name=, type=, blobs={tensor...}}, ...}) -> true */
static int l_write_weights(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  holder *h = push_holder(L);
  Caffe__NetParameter *net = cv_pb_new(&caffe__net_parameter__descriptor);
  if (!net) return luaL_error(L, "out of memory");
  h->m = &net->base;
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, 2, i) != LUA_TTABLE)
      return luaL_error(L, "bad argument #2 to 'write_weights' (layer %I is "
                        "not a table)", i);
    Caffe__LayerParameter *l = cv_pb_new(&caffe__layer_parameter__descriptor);
    if (!l || cv_pb_append(&net->layer, &net->n_layer, sizeof l, &l) < 0) {
      free(l);
      return luaL_error(L, "out of memory");
    }
    fill_layer_weights(L, -1, i, l);
    lua_pop(L, 1);
  }
  cv_error err;
  if (cv_caffe_write_weights(path, net, &err) < 0) return cvL_raise(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* The NetParameter of the table at idx, owned by a holder left on the stack. */
static Caffe__NetParameter *check_net_def(lua_State *L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  holder *h = push_holder(L);
  h->m = cv_pb_new(&caffe__net_parameter__descriptor);
  if (!h->m) luaL_error(L, "out of memory");
  fill_message(L, idx, h->m);
  return (Caffe__NetParameter *)h->m;
}

/* write_net_def(path, net_def) -> true */
static int l_write_net_def(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  Caffe__NetParameter *net = check_net_def(L, 2);
  cv_error err;
  if (cv_caffe_write_net_def(path, net, &err) < 0) return cvL_raise(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* net_def_text(net_def) -> the prototxt text */
static int l_net_def_text(lua_State *L) {
  Caffe__NetParameter *net = check_net_def(L, 1);
  cv_error err;
  char *s = cv_caffe_format_text(&net->base, &err);
  if (!s) return cvL_raise(L, &err);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

/* load_mean(path) -> tensor */
static int l_load_mean(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  cv_error err;
  cvL_push_result(L, cv_caffe_read_mean(path, &err), &err);
  return 1;
}

/* save_mean(t, path) -> true */
static int l_save_mean(lua_State *L) {
  cv_tensor *t = cvL_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  cv_error err;
  if (cv_caffe_write_mean(t, path, &err) < 0) return cvL_raise(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_text(path [, "NetParameter"|"SolverParameter"]) -> table: the file
 * as written, without the phase rules and upgrades of read_net_def (a
 * solver, or a net whose data layers' sources are wanted). */
static int l_read_text(lua_State *L) {
  static const char *const types[] = {"NetParameter", "SolverParameter", NULL};
  static const ProtobufCMessageDescriptor *const descs[] = {
      &caffe__net_parameter__descriptor, &caffe__solver_parameter__descriptor};
  const char *path = luaL_checkstring(L, 1);
  int type = luaL_checkoption(L, 2, "NetParameter", types);
  holder *h = push_holder(L);
  cv_error err;
  size_t n;
  uint8_t *buf = cv_pb_read_file(path, &n, &err);
  if (!buf) return cvL_raise(L, &err);
  h->m = cv_caffe_parse_text((const char *)buf, n, path, descs[type], &err);
  free(buf);
  if (!h->m) return cvL_raise(L, &err);
  push_message(L, h->m);
  return 1;
}

static const luaL_Reg caffe_fns[] = {
    {"read_net_def", l_read_net_def},   {"read_weights", l_read_weights},
    {"read_solver", l_read_solver},
    {"write_weights", l_write_weights}, {"write_net_def", l_write_net_def},
    {"net_def_text", l_net_def_text},   {"load_mean", l_load_mean},
    {"save_mean", l_save_mean},         {"read_text", l_read_text},
    {NULL, NULL}};

void cvL_open_caffe(lua_State *L) {
  luaL_newmetatable(L, HOLDER_MT);
  lua_pushcfunction(L, holder_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, caffe_fns); /* stack: module caffe */
  lua_setfield(L, -2, "caffe");
}
