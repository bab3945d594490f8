/* main.c — the `cnnvis` launcher: Lua 5.4's command line with cnnvis.core
 * built in. Options, `arg` and exit statuses follow lua5.4's. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

int luaopen_cnnvis_core(lua_State *L);

static const char usage_line[] = "usage: " CV_PROGNAME " [options] [script [args]]\n";

static const char help_text[] =
    "Runs Lua " LUA_VERSION_MAJOR "." LUA_VERSION_MINOR " scripts with cnnvis "
    "built in (require \"cnnvis\"), or opens a REPL.\n"
    "  script args    run script; arg[0] is script, arg[1..] and ... are args\n"
    "  -              run the script read from stdin\n"
    "  train solver.prototxt [--resume x.caffemodel] [--iters n]\n"
    "                 train a Caffe net from its solver file\n"
    "  merge DIR...   merge the --shard i/n parts of an analysis script's run\n"
    "  -e chunk       run the Lua chunk (repeatable; the global cv is set first)\n"
    "  -l mod         require mod into the global mod (-l g=mod: into global g)\n"
    "  -i             open the REPL after the chunks and the script\n"
    "  -v, --version  show the versions of cnnvis and Lua\n"
    "  -E             ignore LUA_PATH, LUA_CPATH and LUA_INIT\n"
    "  -W             turn warnings on\n"
    "  --             stop handling options\n"
    "  -h, --help     show this help\n"
    "With no script and no -e, a REPL opens when stdin is a terminal; otherwise\n"
    "the program is read from stdin. In the REPL the global cv is require \"cnnvis\",\n"
    "an expression prints its values, an unfinished chunk continues after '>>',\n"
    "Tab completes names, Ctrl-C stops a running chunk, Ctrl-D quits. History is\n"
    "kept in ~/.cnnvis_history ($CNNVIS_HISTORY names another file; empty: none).\n"
    "Errors print \"" CV_PROGNAME ": message\" and a traceback on stderr and exit with 1.\n"
    "The cnnvis library beside this executable (the build tree's lua/ or\n"
    "<prefix>/share/lua/5.4/) comes first in package.path; LUA_PATH and LUA_CPATH\n"
    "work as in lua5.4 for everything else.\n";

/* What the command line asks for. */
struct options {
  int script;      /* argv index of the script, 0 when none */
  int interactive; /* -i */
  int version;     /* -v, --version */
  int exec;        /* -e or -l */
  int noenv;       /* -E */
  int help;        /* -h, --help */
};

/* Prints a command-line error and the usage line; returns -1. */
static int bad_usage(const char *fmt, const char *what) {
  fprintf(stderr, "%s: ", CV_PROGNAME);
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n%sTry '%s --help' for more.\n", usage_line, CV_PROGNAME);
  return -1;
}

/* Reads the options before the script into o; 0, or -1 after printing why. */
static int parse_args(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) { o->script = i; return 0; }
    if (strcmp(a, "--") == 0) { o->script = i + 1 < argc ? i + 1 : 0; return 0; }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) o->help = 1;
    else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) o->version = 1;
    else if (strcmp(a, "-i") == 0) o->interactive = 1;
    else if (strcmp(a, "-E") == 0) o->noenv = 1;
    else if (strcmp(a, "-W") == 0) continue;
    else if (a[1] == 'e' || a[1] == 'l') {
      o->exec = 1;
      if (a[2] == '\0' && ++i >= argc) return bad_usage("'%s' needs argument", a);
    } else return bad_usage("unrecognized option '%s'", a);
  }
  return 0;
}

/* The global `arg`: the script at 0, its arguments after, the launcher and
 * its options at negative indices (everything from 0 without a script). */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* Runs the loaded chunk (status from its load) and reports errors. */
static int run_loaded(lua_State *L, int status, int narg) {
  if (status == LUA_OK) status = cv_launcher_docall(L, narg, 0);
  else lua_pop(L, narg); /* stack: error message */
  return cv_launcher_report(L, status, CV_PROGNAME);
}

static int run_string(lua_State *L, const char *s, const char *name) {
  return run_loaded(L, luaL_loadbuffer(L, s, strlen(s), name), 0);
}

/* -l mod or -l g=mod: require mod, store it in the global mod or g. */
static int run_library(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq != NULL ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = cv_launcher_docall(L, 1, 1);
  if (status == LUA_OK) {
    lua_pushlstring(L, spec, eq != NULL ? (size_t)(eq - spec) : strlen(spec));
    lua_insert(L, -2); /* stack: name, module */
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return cv_launcher_report(L, status, CV_PROGNAME);
}

/* LUA_INIT_5_4 or LUA_INIT: a chunk, or @file, run before anything else. */
static int run_init(lua_State *L) {
  const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return run_loaded(L, luaL_loadfile(L, init + 1), 0);
  return run_string(L, init, name);
}

/* -e, -l and -W, in command-line order; stops at the first error. */
static int run_options(lua_State *L, char **argv, int end) {
  for (int i = 1; i < end; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l' && a[1] != 'W')) continue;
    if (strcmp(a, "-W") == 0) {
      lua_warning(L, "@on", 0);
      continue;
    }
    const char *value = a[2] != '\0' ? a + 2 : argv[++i];
    int status;
    if (a[1] == 'l') status = run_library(L, value);
    else {
      status = cv_launcher_report(L, cv_launcher_setcv(L), CV_PROGNAME);
      if (status == LUA_OK) status = run_string(L, value, "=(command line)");
    }
    if (status != LUA_OK) return status;
  }
  return LUA_OK;
}

/* `cnnvis train ...`: a word of cnnvis.cli's that names no file here runs
 * cli.main(word, args...). */
static int run_subcommand(lua_State *L, char **argv, int argc, int at) {
  static const char *const words[] = {"train", "merge", NULL};
  int known = 0;
  for (int i = 0; words[i] != NULL; i++) known |= strcmp(argv[at], words[i]) == 0;
  FILE *f = known ? fopen(argv[at], "r") : NULL;
  if (!known || f != NULL) {
    if (f != NULL) fclose(f);
    return -1;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, "cnnvis.cli");
  int status = cv_launcher_docall(L, 1, 1);
  if (status != LUA_OK) return cv_launcher_report(L, status, CV_PROGNAME);
  lua_getfield(L, -1, "main");
  luaL_checkstack(L, argc - at, "too many arguments");
  for (int i = at; i < argc; i++) lua_pushstring(L, argv[i]);
  return cv_launcher_report(L, cv_launcher_docall(L, argc - at, 0), CV_PROGNAME);
}

/* The script at argv[script] ("-": stdin) with the rest as its `...`. */
static int run_script(lua_State *L, char **argv, int argc, int script) {
  int sub = run_subcommand(L, argv, argc, script);
  if (sub >= 0) return sub;
  const char *fname = argv[script];
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
    fname = NULL; /* stdin */
  int status = luaL_loadfile(L, fname);
  int narg = argc - script - 1;
  luaL_checkstack(L, narg, "too many arguments to script");
  for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return run_loaded(L, status, narg);
}

/* Opens the REPL, with cv set (a failure to load cnnvis is shown, not fatal). */
static void open_repl(lua_State *L) {
  cv_launcher_version(1);
  cv_launcher_report(L, cv_launcher_setcv(L), CV_PROGNAME);
  cv_repl_run(L);
}

/* Everything, under lua_pcall so that memory errors are caught too.
 * Returns a boolean: whether all went well. */
static int protected_main(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  luaL_checkversion(L);
  struct options o;
  if (parse_args(argc, argv, &o) != 0) return lua_pushboolean(L, 0), 1;
  if (o.help) {
    printf("%s%s", usage_line, help_text);
    return lua_pushboolean(L, 1), 1;
  }
  if (o.version) cv_launcher_version(0);
  if (o.noenv) { /* read by the package library when it opens */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_cnnvis_core);
  lua_setfield(L, -2, "cnnvis.core");
  lua_pop(L, 1);
  cv_launcher_addpath(L);
  create_arg_table(L, argv, argc, o.script);
  lua_gc(L, LUA_GCGEN, 0, 0); /* as lua5.4 does */
  int ok = (o.noenv || run_init(L) == LUA_OK) &&
           run_options(L, argv, o.script > 0 ? o.script : argc) == LUA_OK &&
           (o.script == 0 || run_script(L, argv, argc, o.script) == LUA_OK);
  if (!ok) return lua_pushboolean(L, 0), 1;
  if (o.interactive) open_repl(L);
  else if (o.script == 0 && !o.exec && !o.version) {
    if (isatty(STDIN_FILENO)) open_repl(L);
    else if (run_loaded(L, luaL_loadfile(L, NULL), 0) != LUA_OK)
      return lua_pushboolean(L, 0), 1;
  }
  return lua_pushboolean(L, 1), 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create a Lua state: not enough memory\n", CV_PROGNAME);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, protected_main);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int ok = status == LUA_OK && lua_toboolean(L, -1);
  cv_launcher_report(L, status, CV_PROGNAME);
  lua_close(L);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
