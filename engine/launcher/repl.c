/* repl.c — the interactive loop: read a chunk, run it, print its values.
 *
 * As in lua5.4: a line is first tried as an expression ("return line;"),
 * then as statements; a chunk whose syntax error is at <eof> is unfinished
 * and takes more lines after the '>>' prompt. On a terminal, lines come
 * through libedit (editing, history kept in a file); otherwise they are
 * read from stdin as they are, with the prompts still printed.
 */
#include <editline/readline.h>
#include <lauxlib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

#define CHUNKNAME "=stdin"
#define EOF_MARK "<eof>"
#define HISTORY_SIZE 1000
#define DROPPED (-2) /* Ctrl-C at a prompt: the chunk is dropped */

static int use_editline;              /* stdin is a terminal */
static char history_path[PATH_MAX];   /* "" when history is not kept */

/* The history file: $CNNVIS_HISTORY, else ~/.cnnvis_history. */
static void history_open(void) {
  const char *path = getenv("CNNVIS_HISTORY");
  const char *home = getenv("HOME");
  history_path[0] = '\0';
  if (path != NULL)
    snprintf(history_path, sizeof history_path, "%s", path);
  else if (home != NULL && home[0] != '\0')
    snprintf(history_path, sizeof history_path, "%s/.cnnvis_history", home);
  using_history();
  stifle_history(HISTORY_SIZE);
  if (history_path[0] != '\0') read_history(history_path);
}

/* Adds a chunk to the history and rewrites the file at once, so that a
 * crash or a kill loses nothing. */
static void history_add(const char *text) {
  if (!use_editline || text[0] == '\0') return;
  add_history(text);
  if (history_path[0] != '\0') write_history(history_path);
}

static volatile sig_atomic_t prompt_interrupted; /* Ctrl-C at a prompt */

static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* readline() with Ctrl-C dropping what is being typed, not the REPL: the
 * signal interrupts libedit's read (no SA_RESTART), readline returns NULL
 * and the flag tells that apart from end of input. */
static char *edit_line(const char *prompt) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prompt_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  prompt_interrupted = 0;
  char *line = readline(prompt);
  sigaction(SIGINT, &old, NULL);
  if (line == NULL && prompt_interrupted) fputs("^C\n", stdout);
  return line;
}

/* One line, newline removed, in a malloc'd buffer; NULL at end of input
 * or after Ctrl-C (prompt_interrupted set). */
static char *read_line(const char *prompt) {
  if (use_editline) return edit_line(prompt);
  char *line = NULL;
  size_t cap = 0;
  fputs(prompt, stdout);
  fflush(stdout);
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

/* Reads a line with the first or continuation prompt (_PROMPT, _PROMPT2
 * when set) and pushes it: 1, or 0 at end of input, or DROPPED (nothing
 * pushed) after Ctrl-C. */
static int push_line(lua_State *L, int first) {
  lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
  const char *prompt = lua_tostring(L, -1);
  char *line = read_line(prompt != NULL ? prompt : first ? "> " : ">> ");
  lua_pop(L, 1);
  if (line == NULL) return prompt_interrupted ? DROPPED : 0;
  lua_pushstring(L, line);
  free(line);
  return 1;
}

/* Compiles "return <line>;", the line being at the top of the stack;
 * pushes the function and returns LUA_OK, or pushes nothing. */
static int load_expression(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *chunk = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, chunk, strlen(chunk), CHUNKNAME);
  if (status == LUA_OK) {
    lua_remove(L, -2); /* stack: line, function */
    history_add(line);
  } else lua_pop(L, 2);
  return status;
}

/* Whether a syntax error message (at the top) is the end of input. */
static int is_unfinished(lua_State *L, int status) {
  size_t len, mark = sizeof EOF_MARK - 1;
  const char *msg = lua_tolstring(L, -1, &len);
  return status == LUA_ERRSYNTAX && msg != NULL && len >= mark &&
         strcmp(msg + len - mark, EOF_MARK) == 0;
}

/* Compiles the text at the top as statements, reading more lines while
 * it is unfinished; pushes the function or the error message. Returns its
 * status, or DROPPED after Ctrl-C. */
static int load_statements(lua_State *L) {
  for (;;) { /* stack: text */
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int status = luaL_loadbuffer(L, text, len, CHUNKNAME);
    int more = is_unfinished(L, status) ? push_line(L, 0) : 0;
    if (more == DROPPED) return DROPPED;
    if (more == 0) {
      history_add(text);
      return status;
    }
    lua_remove(L, -2); /* stack: text, more */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Reads one chunk onto an empty stack: the function or an error message,
 * with its status; DROPPED after Ctrl-C; -1 at end of input. */
static int read_chunk(lua_State *L) {
  lua_settop(L, 0);
  int got = push_line(L, 1);
  if (got != 1) return got == 0 ? -1 : DROPPED;
  int status = load_expression(L);
  if (status != LUA_OK) status = load_statements(L);
  if (status != DROPPED) lua_remove(L, 1); /* the text */
  return status;
}

/* Prints its arguments through the global print, each first turned into
 * text by cnnvis.format.show when the library is loaded (tables readable,
 * not "table: 0x..."). */
static int show_all(lua_State *L) {
  int n = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int show = lua_getfield(L, -1, "cnnvis.format") == LUA_TTABLE &&
             lua_getfield(L, -1, "show") == LUA_TFUNCTION;
  for (int i = 1; show && i <= n; i++) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
    lua_replace(L, i);
  }
  lua_settop(L, n);
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  lua_call(L, n, 0);
  return 0;
}

/* Prints whatever the chunk returned (show_all). */
static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_pushcfunction(L, show_all);
  lua_insert(L, 1);
  cv_launcher_report(L, cv_launcher_docall(L, n, 0), NULL);
}

void cv_repl_run(lua_State *L) {
  use_editline = isatty(STDIN_FILENO);
  if (use_editline) {
    rl_readline_name = CV_PROGNAME; /* "cnnvis:" lines of ~/.editrc apply */
    rl_catch_signals = 0; /* Ctrl-C is ours: see edit_line */
    history_open();
    cv_complete_init(L);
  }
  int status;
  while ((status = read_chunk(L)) != -1) {
    if (status == DROPPED) continue;
    if (status == LUA_OK) status = cv_launcher_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else cv_launcher_report(L, status, NULL);
  }
  lua_settop(L, 0);
  if (use_editline) cv_complete_done();
  fputc('\n', stdout);
  fflush(stdout);
}
