# lsnfs - a FUSE log store.  See README.md.
#
#   make run     install missing packages, build, mount ./var/store at ./mnt
#   make test    install missing packages, build with -Werror, run every test
#   make asan    the same tests, built with -fsanitize=address,undefined
#   make bench   the benchmark table (not part of make test)
#   make stress  the reliability campaign: kill -9, power cuts, damaged stores
#   make fuzz    libFuzzer targets (clang), FUZZ_SECONDS each (default 60)

PKGS      := fuse3 rocksdb libzstd criterion
DEB_PKGS  := libfuse3-dev fuse3 librocksdb-dev libzstd-dev libcriterion-dev attr pkg-config zstd python3 util-linux rsync
BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
COMPDIR   ?= $(PREFIX)/share/bash-completion/completions
# mount(8) runs /sbin/mount.TYPE only.  A plain `make install` (no DESTDIR)
# whose SBINDIR is not /sbin links the helpers there; uninstall removes
# exactly those links.  Packagers (DESTDIR) ship the helper in /sbin or /usr/sbin.
MOUNT_HELPER_DIR ?= /sbin
# The one place the version is set; every program prints it on --version.
VERSION   := $(shell cat VERSION)

CC        ?= cc
WARN      := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings -Wvla
WERROR    ?=
SAN       ?=
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = -std=c17 -DLSN_VERSION='"$(VERSION)"' -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
             $(WARN) $(WERROR) $(SAN) $(CFLAGS) -I. $(shell pkg-config --cflags rocksdb libzstd 2>/dev/null)
# FUSE's headers reach fs/ (and what tests fs/) only: nothing else can include them.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3 2>/dev/null)
LDLIBS_CORE = $(shell pkg-config --libs rocksdb libzstd 2>/dev/null) -lpthread -lm
LDLIBS_FUSE = $(shell pkg-config --libs fuse3 2>/dev/null)
LDLIBS_TEST = $(shell pkg-config --libs criterion 2>/dev/null)

STORAGE_SRC := $(wildcard storage/*.c)
TRIM_SRC    := $(wildcard trim/*.c)
NODE_SRC    := $(wildcard node/*.c)
FS_SRC      := $(wildcard fs/*.c)
LIB_OBJ     := $(patsubst %.c,$(BUILD)/%.o,$(STORAGE_SRC) $(TRIM_SRC) $(NODE_SRC))
FS_OBJ      := $(patsubst %.c,$(BUILD)/%.o,$(FS_SRC))
FS_LIB_OBJ  := $(filter-out $(BUILD)/fs/main.o,$(FS_OBJ))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# Flags that change the build (WERROR, SAN, OPT, CFLAGS, CC) are written to
# a stamp that every object depends on: changing one rebuilds everything.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_TEXT  := $(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS)

PLFS     := $(BUILD)/tests/plfs
LIB      := $(BUILD)/liblsnfs.a
DAEMON   := $(BUILD)/lsnfs
MKFS     := $(BUILD)/mkfs.lsnfs
CTL      := $(BUILD)/lsnfsctl
MOUNTH   := $(BUILD)/mount.lsnfs
PROGRAMS := $(DAEMON) $(MKFS) $(CTL) $(MOUNTH)
COMPLETIONS := lsnfsctl mkfs.lsnfs

.PHONY: all deps run test unit mounted layers stress-short stress fuzz fuzz-deps fuzz-bins fuzz-replay asan bench clean install uninstall FORCE

all: $(PROGRAMS)

# Install what pkg-config cannot find (Debian).  A no-op when all is present.
deps:
	@missing=""; \
	for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	for t in getfattr fusermount3 zstd python3 mountpoint rsync; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: missing$$missing; installing $(DEB_PKGS)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS) >/dev/null; \
	fi

$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(FLAGS_TEXT)' | cmp -s - $@ || echo '$(FLAGS_TEXT)' > $@

$(BUILD)/fs/%.o: fs/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The objects that print the version are rebuilt when it changes.
$(BUILD)/fs/main.o $(BUILD)/mount-helpers/mkfs.o $(BUILD)/mount-helpers/lsnfsctl.o: VERSION

$(MOUNTH): mount-helpers/mount.lsnfs VERSION
	@mkdir -p $(dir $@)
	sed 's|@VERSION@|$(VERSION)|g' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(DAEMON): $(FS_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(FS_OBJ) $(LIB) $(LDLIBS_FUSE) $(LDLIBS_CORE)

$(MKFS): $(BUILD)/mount-helpers/mkfs.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_CORE)

$(CTL): $(BUILD)/mount-helpers/lsnfsctl.o $(BUILD)/mount-helpers/ctl_config.o $(BUILD)/mount-helpers/ctl_logs.o $(BUILD)/mount-helpers/ctl_xattr.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_CORE)

# The power-loss test filesystem (tests/powerloss/plfs.c): FUSE, no lsnfs code.
$(PLFS): tests/powerloss/plfs.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -o $@ $< $(LDLIBS_FUSE)

# Fuzz targets (tests/fuzz/fuzz_*.c).  make test replays their corpus and
# regression inputs with the ordinary compiler (replay.c); make fuzz builds
# them with clang and libFuzzer and runs each for FUZZ_SECONDS.
FUZZ_TARGETS := block config control path store frames xattr
FUZZ_EXTRA_path := $(BUILD)/fs/path.o
FUZZ_EXTRA_frames := $(BUILD)/fs/frames.o
FUZZ_EXTRA_xattr := $(BUILD)/fs/xattr_value.o
FUZZ_EXTRA_ALL := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_EXTRA_$(t)))
REPLAY_BIN  := $(patsubst %,$(BUILD)/fuzz/replay-%,$(FUZZ_TARGETS))
FUZZ_BIN    := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB) $(FUZZ_EXTRA_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_EXTRA_$*) $(LIB) $(LDLIBS_CORE)

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz_%.c $(LIB) $(FUZZ_EXTRA_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_EXTRA_$*) $(LIB) $(LDLIBS_CORE)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(LIB) $(LDLIBS_TEST) $(LDLIBS_CORE)

# The pure parts of fs/ and its xattr table, driven without a mount.
$(BUILD)/tests/test_fs: tests/unit/test_fs.c $(FS_LIB_OBJ) $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(FS_LIB_OBJ) $(LIB) \
		$(LDLIBS_TEST) $(LDLIBS_FUSE) $(LDLIBS_CORE)

# The append.frames parser: pure, needs nothing but its own object.
$(BUILD)/tests/test_frames: tests/unit/test_frames.c $(BUILD)/fs/frames.o $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/fs/frames.o $(LDLIBS_TEST)

# ---- running -------------------------------------------------------------
RUN_STORE ?= var/store
RUN_MNT   ?= mnt
RUN_OPTS  ?=

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(RUN_MNT)
	@[ -e $(RUN_STORE)/lsnfs.store ] || $(MKFS) $(RUN_STORE)
	@echo "lsnfs: mounting $(RUN_STORE) at $(RUN_MNT) in the foreground; stop it with 'fusermount3 -u $(RUN_MNT)' from any shell"
	$(DAEMON) $(RUN_STORE) $(RUN_MNT) -f $(if $(RUN_OPTS),-o $(RUN_OPTS))

# ---- tests ---------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory WERROR=-Werror all $(UNIT_BIN)
	@$(MAKE) --no-print-directory WERROR=-Werror layers unit fuzz-replay mounted stress-short

# The structure map: no include or call cycles, layers point one way.
layers:
	@python3 tests/tools/layers.py

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t --jobs 2 $(CRITERION_ARGS); done

mounted: $(PROGRAMS)
	@BUILD=$(abspath $(BUILD)) tests/mounted/run-all.sh

# The reliability campaign (tests/stress/run.sh): a short run in make test,
# the full one (>= 1,000 kill -9 cycles, 200 power cuts) in make stress.
stress-short: $(PROGRAMS) $(PLFS)
	@BUILD=$(abspath $(BUILD)) tests/stress/run.sh short

stress: deps
	@$(MAKE) --no-print-directory all $(PLFS)
	@BUILD=$(abspath $(BUILD)) tests/stress/run.sh full

fuzz-replay: $(REPLAY_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do printf '== fuzz corpus %s: ' $$t; \
		$(BUILD)/fuzz/replay-$$t tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t; done

fuzz-deps: deps
	@command -v clang >/dev/null 2>&1 && [ -n "$$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null)" ] || { \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq clang libclang-rt-dev >/dev/null; }

fuzz-bins: $(FUZZ_BIN)

FUZZ_SECONDS ?= 60
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
		SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION" fuzz-bins
	@BUILD=$(abspath build-fuzz) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

# Undefined behaviour aborts (in the daemon too), so a mounted test fails.
asan: export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1
asan: export ASAN_OPTIONS = detect_leaks=1:abort_on_error=1
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" WERROR=-Werror test

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(abspath $(BUILD)) bench/run.sh

clean:
	rm -rf build build-asan build-fuzz

# ---- install -------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPDIR)
	install -m 755 $(DAEMON) $(MKFS) $(CTL) $(MOUNTH) $(DESTDIR)$(SBINDIR)/
	ln -sf mount.lsnfs $(DESTDIR)$(SBINDIR)/mount.fuse.lsnfs
	install -m 644 mount-helpers/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' mount-helpers/lsnfs@.service > $(DESTDIR)$(UNITDIR)/lsnfs@.service
	for c in $(COMPLETIONS); do install -m 644 mount-helpers/completion/$$c.bash $(DESTDIR)$(COMPDIR)/$$c || exit 1; done
	@if [ -z "$(DESTDIR)" ] && [ "$$(readlink -f $(SBINDIR))" != "$$(readlink -f $(MOUNT_HELPER_DIR))" ]; then \
		for h in mount.lsnfs mount.fuse.lsnfs; do \
			l=$(MOUNT_HELPER_DIR)/$$h; \
			if [ -e $$l ] && [ ! -L $$l ]; then \
				echo "install: $$l exists and is not a link; left alone (mount -t lsnfs runs it)" >&2; \
			else \
				echo "ln -sfn $(SBINDIR)/$$h $$l"; ln -sfn $(SBINDIR)/$$h $$l || exit 1; \
			fi; \
		done; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lsnfs $(DESTDIR)$(SBINDIR)/mkfs.lsnfs $(DESTDIR)$(SBINDIR)/lsnfsctl \
	      $(DESTDIR)$(SBINDIR)/mount.lsnfs $(DESTDIR)$(SBINDIR)/mount.fuse.lsnfs \
	      $(DESTDIR)$(UNITDIR)/lsnfs@.service
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,lsnfs.8 mkfs.lsnfs.8 mount.lsnfs.8 lsnfsctl.8)
	rm -f $(addprefix $(DESTDIR)$(COMPDIR)/,$(COMPLETIONS))
	@if [ -z "$(DESTDIR)" ]; then \
		for h in mount.lsnfs mount.fuse.lsnfs; do \
			l=$(MOUNT_HELPER_DIR)/$$h; \
			if [ -L $$l ] && [ "$$(readlink $$l)" = "$(SBINDIR)/$$h" ]; then echo "rm -f $$l"; rm -f $$l; fi; \
		done; \
	fi

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
