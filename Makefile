# vsr: build with `make`, test with `make check` (AddressSanitizer + UBSan).
# Dependencies come from Debian's packages through pkg-config:
# scripts/install-deps.sh installs them.

PKGS     := libavformat libavcodec libavutil libswscale libmicrohttpd sqlite3 jansson libcurl openssl
CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
BASE     := -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -pthread -Iinclude -Isrc \
            $(shell pkg-config --cflags $(PKGS)) $(WARN)
LIBS     := $(shell pkg-config --libs $(PKGS)) -lm -pthread

REL_FLAGS  := -O2 -g
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))
HDRS     := $(shell find include src tests -name '*.h')

rel_obj  = $(patsubst %.c,build/rel/%.o,$(1))
asan_obj = $(patsubst %.c,build/asan/%.o,$(1))

.PHONY: all check clean format lint bench
all: build/vsr

build/rel/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(REL_FLAGS) $(CFLAGS) -c $< -o $@
build/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(ASAN_FLAGS) $(CFLAGS) -c $< -o $@

build/rel/libvsr.a: $(call rel_obj,$(LIB_SRC))
	ar rcs $@ $^
build/asan/libvsr.a: $(call asan_obj,$(LIB_SRC))
	ar rcs $@ $^

build/vsr: $(call rel_obj,$(CLI_SRC)) build/rel/libvsr.a
	$(CC) $(REL_FLAGS) $^ $(LIBS) -o $@
build/asan/vsr: $(call asan_obj,$(CLI_SRC)) build/asan/libvsr.a
	$(CC) $(ASAN_FLAGS) $^ $(LIBS) -o $@
build/asan/vsr-tests: $(call asan_obj,$(TEST_SRC)) build/asan/libvsr.a
	$(CC) $(ASAN_FLAGS) $^ $(LIBS) -o $@

# The test runner finds the CLI and the shared fixtures through these.
check: build/asan/vsr-tests build/asan/vsr
	VSR_BIN=$(CURDIR)/build/asan/vsr ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/asan/vsr-tests $(TESTS)

bench: build/vsr
	bench/removal.sh

format:
	clang-format -i $$(find include src tests bench -name '*.[ch]')
lint:
	clang-format --dry-run -Werror $$(find include src tests bench -name '*.[ch]')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Iinclude -Isrc src

clean:
	rm -rf build
