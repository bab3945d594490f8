/*
 * launcher.h — what the files of the `cnnvis` launcher share.
 *
 * The launcher is a Lua 5.4 interpreter with cnnvis.core linked in:
 *   main.c   options, the `arg` table, scripts, -e chunks, stdin
 *   call.c   protected calls with a traceback, Ctrl-C, error reports
 *   paths.c  finds the Lua library next to the executable
 *   repl.c   the interactive loop (libedit on a terminal)
 *   complete.c  Tab completion of names, fields and methods
 * Unlike the engine, these files talk to Lua and print: they are the
 * program's front end, linked only into the executable.
 */
#ifndef CV_LAUNCHER_H
#define CV_LAUNCHER_H

#include <lua.h>

#define CV_VERSION "0.1.0"
#define CV_PROGNAME "cnnvis"

/* Calls the function under its narg arguments at the top of the stack,
 * in protected mode, with a traceback added to string errors; Ctrl-C
 * stops the call with "interrupted!". Returns the lua_pcall status;
 * on error the message is left on the stack. */
int cv_launcher_docall(lua_State *L, int narg, int nres);
/* Prints the message on top of the stack to stderr when status is an
 * error, after "progname: " unless progname is NULL; pops it. Returns
 * status. */
int cv_launcher_report(lua_State *L, int status, const char *progname);
/* Prints one line naming cnnvis and Lua with their versions; for the REPL
 * (repl != 0) it adds how to start and stop. */
void cv_launcher_version(int repl);

/* Prepends the folder of the cnnvis Lua library that belongs to this
 * executable (build tree or install prefix) to package.path, and the
 * folder of its C modules to package.cpath, when found. */
void cv_launcher_addpath(lua_State *L);

/* Sets the global `cv` to require "cnnvis" (once). Returns a status;
 * on error the message is left on the stack. */
int cv_launcher_setcv(lua_State *L);

/* Reads, evaluates and prints chunks from stdin until end of input. */
void cv_repl_run(lua_State *L);

/* Hooks Tab completion over L's values into libedit; _done frees what the
 * last completion kept. */
void cv_complete_init(lua_State *L);
void cv_complete_done(void);

#endif
