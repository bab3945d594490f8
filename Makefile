# cnnvis — build, test and run. `make help` lists the targets.

PREFIX    ?= /usr/local
LUA       ?= lua5.4
BUILD     ?= build
CC        ?= cc

BLAS_DIR  := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC  := /usr/include/x86_64-linux-gnu/openblas-openmp
LUA_INC   := /usr/include/lua5.4

WARN      := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
OPT       ?= -O3 -march=native
CFLAGS    += -std=gnu11 $(OPT) -g -fPIC -fopenmp $(WARN) \
             -I$(BLAS_INC) -I$(LUA_INC) -Iengine -I$(BUILD)/gen
LDLIBS    += -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas \
             -ldnnl -lpng -ljpeg -lz -lprotobuf-c -lm -fopenmp

# Debian packages the build, the tests and the default job need (DESIGN.md).
DEB_PKGS  := make gcc lua5.4 liblua5.4-dev libopenblas-openmp-dev libdnnl-dev libpng-dev \
             libjpeg-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler \
             libstb-dev libedit-dev lua-filesystem lua-busted dataset-fashion-mnist \
             teem-apps \
             openmpi-bin libopenmpi-dev
# The browser spec (spec/report_browser_spec.lua): Debian's chromium, driven
# by playwright-core from npm (spec/browser/; the machine's Node.js >= 20).
DEB_TEST  := chromium
# Benchmarks, fixture generators and fuzzing only.
DEB_DEV   := python3-numpy python3-torch python3-pil clang libclang-rt-14-dev

# engine/launcher/ is the executable's front end (libedit, main): not in the module.
# engine/mpi/ is the cnnvis.mpi module: its own shared object, not in the core.
ENGINE_SRC := $(shell find engine -name '*.c' -not -path 'engine/lua/*' \
                -not -path 'engine/launcher/*' -not -path 'engine/mpi/*' | sort)
LAUNCH_SRC := $(sort $(wildcard engine/launcher/*.c))
BIND_SRC   := $(sort $(wildcard engine/lua/*.c))
PROTO_SRC  := $(sort $(wildcard engine/caffe/*.proto))
GEN_SRC    := $(patsubst engine/caffe/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_SRC))
ENGINE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRC) $(BIND_SRC)) \
              $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRC))
HEADERS    := $(shell find engine -name '*.h') $(GEN_SRC:.c=.h)

MODULE    := $(BUILD)/lib/cnnvis/core.so
LAUNCHER  := $(BUILD)/bin/cnnvis

# cnnvis.mpi, built only where Open MPI's compiler wrapper (or its pkg-config
# file) gives flags under which mpi.h compiles.
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c 2>/dev/null)
HAVE_MPI   := $(shell printf '\043include <mpi.h>\n' | \
                $(CC) $(MPI_CFLAGS) -E -x c - >/dev/null 2>&1 && echo yes)
MPI_MODULE := $(if $(HAVE_MPI),$(BUILD)/lib/cnnvis/mpi.so)

.PHONY: all deps deps-test deps-dev browser-deps test asan asan-run bench fuzz fuzz-build report install uninstall clean help
all: $(MODULE) $(LAUNCHER) $(MPI_MODULE)

help:
	@echo "make deps      install the Debian packages that are missing (as root)"
	@echo "make deps-test chromium and the npm packages of the browser spec (CI runs it)"
	@echo "make deps-dev  also those for benchmarks, fixtures and fuzzing"
	@echo "make           build the Lua module and the cnnvis launcher into $(BUILD)/"
	@echo "make test      run every spec; ends with 'N passed, N failed'"
	@echo "make report    the main job on the shipped model: out/report/index.html"
	@echo "               (REPORT_ARGS='--help' lists its options)"
	@echo "make asan      the specs again under AddressSanitizer + UBSan"
	@echo "make bench     benchmarks, side by side with their peers"
	@echo "make fuzz      each spec/fuzz/fuzz_*.c for FUZZ_SECONDS (FUZZ=fuzz_png: one)"
	@echo "make install   PREFIX=$(PREFIX) (make uninstall removes it)"

# Installs the packages of $(1) that are missing; quiet when none is.
define apt_missing
	@missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_missing,$(DEB_PKGS))

deps-test: deps
	$(call apt_missing,$(DEB_TEST))
	@$(MAKE) -s browser-deps

deps-dev: deps-test
	$(call apt_missing,$(DEB_DEV))

# npm ci again only when the lock file changes.
BROWSER_MODULES := spec/browser/node_modules/.package-lock.json
browser-deps: $(BROWSER_MODULES)
$(BROWSER_MODULES): spec/browser/package.json spec/browser/package-lock.json
	cd spec/browser && npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: engine/caffe/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=engine/caffe --c_out=$(BUILD)/gen $<

# Generated sources are kept: the engine's objects include the header.
.SECONDARY: $(GEN_SRC) $(GEN_SRC:.c=.h)

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# -z nodelete: lua_close unloads C modules, which would unmap OpenMP/OpenBLAS
# code under their still-running worker threads (a crash at exit).
$(MODULE): $(ENGINE_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,nodelete -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/obj/engine/mpi/%.o: engine/mpi/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MPI_CFLAGS) -c $< -o $@

# nodelete too: its exit handler finalizes MPI after lua_close.
$(BUILD)/lib/cnnvis/mpi.so: $(BUILD)/obj/engine/mpi/l_mpi.o
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,nodelete -o $@ $^ $(LDFLAGS) $(MPI_LIBS)

$(LAUNCHER): $(patsubst %.c,$(BUILD)/obj/%.o,$(LAUNCH_SRC)) $(ENGINE_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS) -l$(LUA) -ledit $(LDLIBS)

# Running from the tree: the Lua library and the module, ahead of installed ones.
TREE_ENV := LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
            LUA_CPATH="$(CURDIR)/$(BUILD)/lib/?.so;;" \
            CNNVIS_BIN="$(CURDIR)/$(BUILD)/bin/cnnvis"

test: all $(BROWSER_MODULES)
	@$(TREE_ENV) sh spec/run.sh $(LUA)

# The main job: scripts/report.lua on the shipped model (REPORT_ARGS to change it).
REPORT_ARGS ?=
report: deps
	@$(MAKE) -s all
	@$(TREE_ENV) $(LAUNCHER) scripts/report.lua $(REPORT_ARGS)

# The specs under AddressSanitizer + UBSan, leak detection on. lua5.4 is not
# built with them, so their runtimes are preloaded into it (and so into every
# process the specs start; spec/lsan.supp is for leaks that are not ours).
# (core.so's -z nodelete also lets leak reports name its functions.)
# -O2 -march=native as the default build compiles: the same kernels (vector
# width, FMA) are checked, and the specs that compare a script's bits with
# an in-process computation get the same rounding (GCC fuses multiply-adds
# in plain C only from -O2 on, while the SIMD kernels always fuse them).
# malloc's stacks are unwound in full (not by frame pointers, which Open
# MPI's libraries lack) and its components stay loaded (not dlclosed), so
# that spec/lsan.supp can name Open MPI's own leaks.
# intercept_tls_get_addr=0: GCC 12's runtime misreads some threads' dynamic
# TLS (OpenMP's, Open MPI's) as an old glibc header, and leak checking at
# exit then crashes in its tracer ("Tracer caught signal 11").
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LIBS   = $$($(CC) -print-file-name=libasan.so) \
              $$($(CC) -print-file-name=libubsan.so)
asan:
	@rm -f build-asan/lib/cnnvis/core.so build-asan/bin/cnnvis # relink: make does not track LDFLAGS
	$(MAKE) BUILD=build-asan OPT="-O2 -march=native -fno-omit-frame-pointer $(ASAN_FLAGS)" \
	  LDFLAGS="$(ASAN_FLAGS)" all
	@$(MAKE) -s BUILD=build-asan asan-run

asan-run:
	@$(TREE_ENV) LD_PRELOAD="$(ASAN_LIBS)" \
	 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:intercept_tls_get_addr=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/spec/lsan.supp:print_suppressions=0 \
	 OMPI_MCA_mca_base_component_disable_dlclose=1 \
	 sh spec/run.sh $(LUA)

# The CaffeNet benchmarks run again with a build for AVX2 without AVX-512
# (x86-64-v3) in its own folder: what such machines get.
AVX2_BUILD := build-avx2
AVX2_OPT   := -O3 -march=x86-64-v3
bench: deps-dev all
	@$(MAKE) -s BUILD=$(AVX2_BUILD) OPT="$(AVX2_OPT)" all
	@$(TREE_ENV) BENCH_OPT="$(OPT)" BENCH_AVX2_OPT="$(AVX2_OPT)" \
	  BENCH_AVX2_BIN="$(CURDIR)/$(AVX2_BUILD)/bin/cnnvis" sh scripts/bench/run.sh

# ---- fuzzing -----------------------------------------------------------
# Every spec/fuzz/fuzz_<name>.c is a libFuzzer harness (LLVMFuzzerTestOneInput)
# linked against all engine objects and the generated protobuf code (not the
# Lua binding, not main.c), so a new harness is just a new file. Each runs for
# FUZZ_SECONDS from its seeds in spec/fuzz/corpus/<name>/ (with the tokens of
# spec/fuzz/<name>.dict when there is one); new inputs go to
# build-fuzz/corpus/<name>/, crashes to build-fuzz/crashes/. The engine is
# built serial (OpenMP pragmas ignored) and with a 2^24-value image limit so
# that a forged header stays inside the memory limit.
FUZZ_DIR     := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_RSS_MB  ?= 2048
FUZZ         ?= $(patsubst spec/fuzz/%.c,%,$(sort $(wildcard spec/fuzz/fuzz_*.c)))
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -fno-omit-frame-pointer $(WARN) -Wno-unknown-pragmas \
                -I$(BLAS_INC) -I$(LUA_INC) -Iengine -I$(BUILD)/gen \
                '-DCV_IO_MAX_VALUES=((long long)1 << 24)'
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(ENGINE_SRC)) \
                $(patsubst $(BUILD)/gen/%.c,$(FUZZ_DIR)/obj/gen/%.o,$(GEN_SRC))
FUZZ_LIBS    := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lpng -ljpeg -lz \
                -lprotobuf-c -lm -l:libgomp.so.1

$(FUZZ_DIR)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	  -Wno-missing-prototypes -c $< -o $@

$(FUZZ_DIR)/obj/engine/%.o: engine/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/bin/%: spec/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer $< $(FUZZ_OBJ) \
	  $(FUZZ_LIBS) -o $@

fuzz-build: $(addprefix $(FUZZ_DIR)/bin/,$(FUZZ))

fuzz: fuzz-build
	@for n in $(FUZZ); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$n $(FUZZ_DIR)/crashes spec/fuzz/corpus/$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  dict=; [ -f spec/fuzz/$$n.dict ] && dict=-dict=spec/fuzz/$$n.dict; \
	  nice $(FUZZ_DIR)/bin/$$n -max_total_time=$(FUZZ_SECONDS) $$dict \
	    -max_len=$(FUZZ_MAX_LEN) -rss_limit_mb=$(FUZZ_RSS_MB) -timeout=20 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$n- \
	    $(FUZZ_DIR)/corpus/$$n spec/fuzz/corpus/$$n || exit 1; \
	done

# <prefix>/bin/cnnvis finds <prefix>/share/lua/5.4 by itself; plain lua5.4 needs
# LUA_PATH and LUA_CPATH to name these folders unless PREFIX is /usr/local.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis \
	  $(DESTDIR)$(PREFIX)/share/lua/5.4/cnnvis
	install -m 755 $(LAUNCHER) $(DESTDIR)$(PREFIX)/bin/cnnvis
	install -m 644 $(MODULE) $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis/core.so
	$(if $(MPI_MODULE),install -m 644 $(MPI_MODULE) $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis/mpi.so)
	cp -R lua/cnnvis/. $(DESTDIR)$(PREFIX)/share/lua/5.4/cnnvis/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cnnvis
	rm -rf $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis $(DESTDIR)$(PREFIX)/share/lua/5.4/cnnvis

clean:
	rm -rf build build-avx2 build-asan build-fuzz out
