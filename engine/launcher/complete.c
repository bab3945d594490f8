/* complete.c — Tab completion in the REPL: globals and keywords, fields of
 * tables (`cv.ra` -> cv.rand, cv.randn), methods after ':' (`t:vi` ->
 * t:view). Only raw reads are made, so completing never runs user code:
 * fields come from tables and from __index tables down their chain; a
 * userdata whose __index is a function offers the table the registry keeps
 * under its metatable's __name .. ".methods" (how cnnvis.core files tensor
 * methods).
 */
#include <ctype.h>
#include <editline/readline.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

#define MAX_DEPTH 8 /* __index tables followed, and path segments resolved */

static lua_State *complete_state;
static char **found; /* this completion's candidates, NULL-terminated */
static size_t next_found;

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for",
    "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
    "return", "then", "true", "until", "while", NULL,
};

static int is_name(const char *s, size_t len) {
  if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
  return 1;
}

/* Replaces the value at the top by the table its fields come from:
 * itself when a table, else its metatable's __index table or the
 * registry's "<__name>.methods" table; nil when there is none. */
static void fields_of(lua_State *L) {
  if (lua_istable(L, -1)) return;
  if (!lua_getmetatable(L, -1)) { lua_pop(L, 1); lua_pushnil(L); return; }
  lua_remove(L, -2); /* stack: metatable */
  lua_pushliteral(L, "__index");
  if (lua_rawget(L, -2) == LUA_TTABLE) { lua_remove(L, -2); return; }
  lua_pop(L, 1);
  lua_pushliteral(L, "__name");
  if (lua_rawget(L, -2) != LUA_TSTRING) { lua_pop(L, 2); lua_pushnil(L); return; }
  lua_pushliteral(L, ".methods");
  lua_concat(L, 2);
  lua_rawget(L, LUA_REGISTRYINDEX); /* stack: metatable, methods */
  lua_remove(L, -2);
  if (!lua_istable(L, -1)) { lua_pop(L, 1); lua_pushnil(L); }
}

/* Adds "<head><key>" to the set at index set for each name key of the
 * table at the top (and its __index chain) starting with part; with
 * functions_only, keys whose value is not a function are left out. */
static void add_keys(lua_State *L, int set, const char *head, const char *part,
                     int functions_only) {
  size_t plen = strlen(part);
  for (int depth = 0; depth < MAX_DEPTH && lua_istable(L, -1); depth++) {
    lua_pushnil(L);
    while (lua_next(L, -2)) { /* stack: table, key, value */
      size_t klen;
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
      if (k != NULL && is_name(k, klen) && strncmp(k, part, plen) == 0 &&
          (!functions_only || lua_isfunction(L, -1))) {
        lua_pushfstring(L, "%s%s", head, k);
        lua_pushboolean(L, 1);
        lua_rawset(L, set);
      }
      lua_pop(L, 1);
    }
    if (!lua_getmetatable(L, -1)) break;
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2); /* stack: table, mt, __index */
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Walks the '.'-separated names of text before its last '.' or ':' from
 * the globals; leaves the value reached (nil if none) on the stack. */
static void resolve_head(lua_State *L, const char *text, const char *last) {
  lua_pushglobaltable(L);
  const char *seg = text;
  for (int depth = 0; depth < MAX_DEPTH; depth++) {
    size_t len = strcspn(seg, ".:");
    if (!is_name(seg, len) || (seg + len != last && seg[len] != '.')) break;
    fields_of(L);
    if (lua_isnil(L, -1)) return;
    lua_pushlstring(L, seg, len);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (seg + len == last) return;
    seg += len + 1;
  }
  lua_pop(L, 1);
  lua_pushnil(L);
}

/* Lua function (text): the set {candidate = true} for text. */
static int collect(lua_State *L) {
  const char *text = luaL_checkstring(L, 1);
  lua_newtable(L); /* stack: text, set */
  const char *last = NULL;
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '.' || *p == ':') last = p;
  if (last == NULL) {
    for (int i = 0; keywords[i] != NULL; i++)
      if (strncmp(keywords[i], text, strlen(text)) == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, 2, keywords[i]);
      }
    lua_pushglobaltable(L);
    add_keys(L, 2, "", text, 0);
    return 1;
  }
  lua_pushlstring(L, text, (size_t)(last - text) + 1); /* 3: the head, kept */
  resolve_head(L, text, last);
  fields_of(L);
  add_keys(L, 2, lua_tostring(L, 3), last + 1, *last == ':');
  lua_settop(L, 2);
  return 1;
}

static void free_found(void) {
  for (size_t i = 0; found != NULL && found[i] != NULL; i++) free(found[i]);
  free(found);
  found = NULL;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills found with the sorted candidates for text (none on any error). */
static void gather(const char *text) {
  lua_State *L = complete_state;
  int top = lua_gettop(L);
  lua_pushcfunction(L, collect);
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) n++;
    found = calloc(n + 1, sizeof *found);
    size_t i = 0;
    for (lua_pushnil(L); found != NULL && lua_next(L, -2); lua_pop(L, 1))
      if ((found[i] = strdup(lua_tostring(L, -2))) != NULL) i++;
    if (found != NULL) qsort(found, i, sizeof *found, compare_strings);
  }
  lua_settop(L, top);
}

/* libedit's generator: the state-th candidate, a copy it will free. */
static char *next_candidate(const char *text, int state) {
  if (state == 0) {
    free_found();
    gather(text);
    next_found = 0;
  }
  if (found == NULL || found[next_found] == NULL) return NULL;
  return strdup(found[next_found++]);
}

static char **attempt(const char *text, int start, int end) {
  (void)start, (void)end;
  rl_attempted_completion_over = 1; /* no file names when nothing fits */
  return rl_completion_matches(text, next_candidate);
}

void cv_complete_init(lua_State *L) {
  /* Everything that cannot be part of a name or a field path. */
  static char breaks[] = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^#~";
  complete_state = L;
  rl_basic_word_break_characters = breaks;
  rl_completer_word_break_characters = breaks;
  rl_completion_append_character = '\0';
  rl_attempted_completion_function = attempt;
}

void cv_complete_done(void) {
  free_found();
  complete_state = NULL;
}
