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
             -lpng -ljpeg -lz -lprotobuf-c -lm -fopenmp

# Debian packages the build, the tests and the default job need (DESIGN.md).
DEB_PKGS  := make gcc lua5.4 liblua5.4-dev libopenblas-openmp-dev libpng-dev \
             libjpeg-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler \
             libstb-dev libedit-dev lua-filesystem lua-busted dataset-fashion-mnist
# Benchmarks, fixture generators and fuzzing only.
DEB_DEV   := python3-numpy python3-torch clang libclang-rt-14-dev

ENGINE_SRC := $(filter-out engine/main.c,$(shell find engine -name '*.c' -not -path 'engine/lua/*' | sort))
BIND_SRC   := $(sort $(wildcard engine/lua/*.c))
PROTO_SRC  := $(sort $(wildcard engine/caffe/*.proto))
GEN_SRC    := $(patsubst engine/caffe/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_SRC))
ENGINE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(ENGINE_SRC) $(BIND_SRC)) \
              $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRC))
HEADERS    := $(shell find engine -name '*.h') $(GEN_SRC:.c=.h)

MODULE    := $(BUILD)/lib/cnnvis/core.so
LAUNCHER  := $(BUILD)/bin/cnnvis

.PHONY: all deps deps-dev test asan bench fuzz report install clean help
all: $(MODULE) $(LAUNCHER)

help:
	@echo "make deps      install the Debian packages that are missing (as root)"
	@echo "make deps-dev  also those for benchmarks, fixtures and fuzzing"
	@echo "make           build the Lua module and the cnnvis launcher into $(BUILD)/"
	@echo "make test      run every spec; ends with 'N passed, N failed'"
	@echo "make asan      the specs again under AddressSanitizer + UBSan"
	@echo "make bench     benchmarks, side by side with their peers"
	@echo "make install   PREFIX=$(PREFIX)"

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

deps-dev: deps
	$(call apt_missing,$(DEB_DEV))

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: engine/caffe/%.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=engine/caffe --c_out=$(BUILD)/gen $<

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

$(LAUNCHER): $(BUILD)/obj/engine/main.o $(ENGINE_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS) -l$(LUA) -ledit $(LDLIBS)

# Running from the tree: the Lua library and the module, ahead of installed ones.
TREE_ENV := LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
            LUA_CPATH="$(CURDIR)/$(BUILD)/lib/?.so;;" \
            CNNVIS_BIN="$(CURDIR)/$(BUILD)/bin/cnnvis"

test: all
	@$(TREE_ENV) sh spec/run.sh $(LUA)

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer $(ASAN_FLAGS)" \
	  LDFLAGS="$(ASAN_FLAGS)" all
	@$(MAKE) -s BUILD=build-asan asan-run

asan-run:
	@$(TREE_ENV) \
	 LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	 ASAN_OPTIONS=detect_leaks=1 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/spec/lsan.supp:print_suppressions=0 \
	 sh spec/run.sh $(LUA)

bench: deps-dev all
	@$(TREE_ENV) sh scripts/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis \
	  $(DESTDIR)$(PREFIX)/share/lua/5.4/cnnvis
	install -m 755 $(LAUNCHER) $(DESTDIR)$(PREFIX)/bin/cnnvis
	install -m 644 $(MODULE) $(DESTDIR)$(PREFIX)/lib/lua/5.4/cnnvis/core.so
	cp -R lua/cnnvis/. $(DESTDIR)$(PREFIX)/share/lua/5.4/cnnvis/

clean:
	rm -rf build build-asan build-fuzz out
