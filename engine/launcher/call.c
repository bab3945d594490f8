/* call.c — protected calls for the launcher: tracebacks, Ctrl-C, reports. */
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>

#include "launcher.h"

/* The state running a call, for the SIGINT handler. */
static lua_State *running_state = NULL;

/* A hook set by the signal handler: raises the error at the next Lua
 * event, where it is safe to do so. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* Ctrl-C while Lua runs: a second Ctrl-C kills the process as usual,
 * since the default action is restored first. lua_sethook is the one
 * Lua call that is safe inside a signal handler. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(running_state, stop_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Message handler: a traceback after string errors; error objects that
 * are not strings are shown through __tostring, or by their type. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1; /* that string is the whole message */
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int cv_launcher_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg; /* the function's index */
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base); /* stack: msghandler, function, args */
  running_state = L;
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_sethook(L, NULL, 0, 0); /* in case Ctrl-C came after the last event */
  lua_remove(L, base);
  return status;
}

int cv_launcher_report(lua_State *L, int status, const char *progname) {
  if (status == LUA_OK) return status;
  const char *msg = lua_tostring(L, -1);
  if (msg == NULL) msg = "(error object is not a string)";
  if (progname != NULL) fprintf(stderr, "%s: ", progname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
  lua_pop(L, 1);
  return status;
}

void cv_launcher_version(int repl) {
  printf("%s %s (%s)%s\n", CV_PROGNAME, CV_VERSION, LUA_RELEASE,
         repl ? ": cv = require \"cnnvis\"; Ctrl-D quits" : "");
  fflush(stdout);
}

int cv_launcher_setcv(lua_State *L) {
  if (lua_getglobal(L, "cv") != LUA_TNIL) {
    lua_pop(L, 1);
    return LUA_OK;
  }
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cnnvis");
  int status = cv_launcher_docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, "cv");
  return status;
}
