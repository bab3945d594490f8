/* l_mpi.c — `cnnvis.mpi`: the few Open MPI calls a sharded analysis needs
 * (who am I, how many are we, wait for all, bring every rank's partial
 * result to rank 0). Its own shared object, built only where mpi.h is, so
 * that cnnvis.core and the launcher never depend on MPI.
 *
 * MPI starts on the first call that needs it (MPI_Init_thread, FUNNELED:
 * OpenMP threads compute, only the main thread talks to MPI) and stops at
 * exit or on finalize(), once. Errors return to Lua (MPI_ERRORS_RETURN on
 * the world communicator) instead of killing the job.
 */
#include <lauxlib.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cnnvis_mpi(lua_State *L);

/* Where MPI is in its life; MPI itself cannot start again after finalize. */
static enum { MPI_STATE_NEW, MPI_STATE_UP, MPI_STATE_DONE } state = MPI_STATE_NEW;
static int world_rank, world_size, thread_level;

/* Raises "what: MPI's message for code". */
static int mpi_fail(lua_State *L, const char *what, int code) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len] = '\0';
  return luaL_error(L, "cnnvis.mpi: %s failed: %s", what, len > 0 ? msg : "unknown error");
}

static void finalize_at_exit(void) {
  int finalized = 0;
  if (state == MPI_STATE_UP && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
    MPI_Finalize();
  state = MPI_STATE_DONE;
}

/* Starts MPI once; raises when it was finalized or does not start. */
static void ensure_up(lua_State *L) {
  if (state == MPI_STATE_UP) return;
  if (state == MPI_STATE_DONE)
    luaL_error(L, "cnnvis.mpi: MPI was finalized and cannot start again in this process");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &thread_level);
    if (rc != MPI_SUCCESS) mpi_fail(L, "MPI_Init_thread", rc);
    atexit(finalize_at_exit);
  } else {
    MPI_Query_thread(&thread_level);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  state = MPI_STATE_UP;
}

/* mpi.init() -> rank, size (0-based rank; starting twice is a no-op) */
static int l_init(lua_State *L) {
  ensure_up(L);
  lua_pushinteger(L, world_rank);
  lua_pushinteger(L, world_size);
  return 2;
}

/* mpi.rank() -> this process's 0-based rank in MPI_COMM_WORLD */
static int l_rank(lua_State *L) {
  ensure_up(L);
  lua_pushinteger(L, world_rank);
  return 1;
}

/* mpi.size() -> the number of processes in MPI_COMM_WORLD */
static int l_size(lua_State *L) {
  ensure_up(L);
  lua_pushinteger(L, world_size);
  return 1;
}

/* mpi.barrier(): returns when every rank has called it */
static int l_barrier(lua_State *L) {
  ensure_up(L);
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "MPI_Barrier", rc);
  return 0;
}

/* Raises unless the lengths fit MPI's int counts and displacements (every
 * rank sees every length, so all of them raise together). */
static void check_total(lua_State *L, const long long *len, int n) {
  long long total = 0;
  for (int r = 0; r < n; r++) {
    total += len[r];
    if (total > 0x7fffffff)
      luaL_error(L, "cnnvis.mpi: gather: %lld bytes from ranks 0-%d are more than one "
                    "gather carries (2 GiB)", total, r);
  }
}

/* Brings every rank's string s (at 1) to rank 0 (everywhere when all):
 * pushes the table of them in rank order, or nil on ranks that get none. */
static int collect(lua_State *L, int all) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  ensure_up(L);
  int size = world_size, root = all || world_rank == 0;
  long long mine = (long long)n;
  long long *len = lua_newuserdatauv(L, sizeof *len * (size_t)size, 0);
  int rc = MPI_Allgather(&mine, 1, MPI_LONG_LONG, len, 1, MPI_LONG_LONG, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) mpi_fail(L, "MPI_Allgather", rc);
  check_total(L, len, size);
  int *count = lua_newuserdatauv(L, sizeof *count * (size_t)size * 2, 0);
  int *displ = count + size;
  long long total = 0;
  for (int r = 0; r < size; r++) {
    count[r] = (int)len[r];
    displ[r] = (int)total;
    total += len[r];
  }
  char *buf = root ? lua_newuserdatauv(L, (size_t)total + 1, 0) : NULL;
  if (all) {
    rc = MPI_Allgatherv(s, (int)n, MPI_CHAR, buf, count, displ, MPI_CHAR, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) mpi_fail(L, "MPI_Allgatherv", rc);
  } else {
    rc = MPI_Gatherv(s, (int)n, MPI_CHAR, buf, count, displ, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) mpi_fail(L, "MPI_Gatherv", rc);
  }
  if (!root) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, size, 0); /* stack: s, len, count, buf, result */
  for (int r = 0; r < size; r++) {
    lua_pushlstring(L, buf + displ[r], (size_t)count[r]);
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

/* mpi.gather(s) -> on rank 0 a table of every rank's string in rank order,
 * nil on the others (a collective: every rank calls it) */
static int l_gather(lua_State *L) {
  return collect(L, 0);
}

/* mpi.allgather(s) -> on every rank the table of every rank's string, in
 * rank order (a collective) */
static int l_allgather(lua_State *L) {
  return collect(L, 1);
}

/* mpi.finalize(): stops MPI (after it, every call but this one raises);
 * safe to call twice and when MPI never started */
static int l_finalize(lua_State *L) {
  (void)L;
  finalize_at_exit();
  return 0;
}

/* mpi.initialized() -> true while MPI runs in this process */
static int l_initialized(lua_State *L) {
  lua_pushboolean(L, state == MPI_STATE_UP);
  return 1;
}

/* mpi.thread_level() -> "single", "funneled", "serialized" or "multiple":
 * what the library granted for FUNNELED */
static int l_thread_level(lua_State *L) {
  ensure_up(L);
  const char *name = thread_level == MPI_THREAD_SINGLE       ? "single"
                     : thread_level == MPI_THREAD_FUNNELED   ? "funneled"
                     : thread_level == MPI_THREAD_SERIALIZED ? "serialized"
                                                             : "multiple";
  lua_pushstring(L, name);
  return 1;
}

int luaopen_cnnvis_mpi(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"init", l_init},           {"rank", l_rank},
      {"size", l_size},           {"barrier", l_barrier},
      {"gather", l_gather},       {"allgather", l_allgather},
      {"finalize", l_finalize},
      {"initialized", l_initialized}, {"thread_level", l_thread_level},
      {NULL, NULL},
  };
  luaL_newlib(L, fns); /* stack: module */
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(version, &len) == MPI_SUCCESS) {
    char *nl = memchr(version, '\n', (size_t)len);
    lua_pushlstring(L, version, nl != NULL ? (size_t)(nl - version) : (size_t)len);
    lua_setfield(L, -2, "library");
  }
  return 1;
}
