# dispflow — build, run, test, bench.
#   make run    install missing Debian packages (as root), build, run the main job
#   make test   the same set-up, then the whole test suite
#   make bench  the join benchmark against QGIS and GeoPandas
#   make SANITIZER=address|undefined test    the suite under a sanitizer
#   make install [PREFIX=/usr/local] [DESTDIR=staging]   the library, header,
#               dispflow.pc, the CLI, its man page and share/dispflow/shapes
#   make python the Python module (build/python/dispflow; docs/python.md)
#   make MPI=1  also build/dispflow-mpi, the CLI for mpirun (docs/scale.md)

CC      ?= cc
PKGS    := gdal proj geos json-c cairo pangocairo inih libcrypto sqlite3
BUILD   := build
OUT     := out

# Debian packages the build, the tests and the benchmark need. Installed with
# --no-install-recommends, so every package a test imports is named here, even
# one that another only recommends (python3-rtree, for GeoPandas' sjoin);
# tests/check_deps.sh checks them before the suite runs.
# The Python module `dispflow` the tests import is this project's own, built
# by `make python` (a prerequisite of `make test`), not a Debian package.
DEB_BUILD := gcc make pkg-config libgdal-dev libproj-dev libgeos-dev libjson-c-dev gdal-bin \
             libcairo2-dev libpango1.0-dev fonts-dejavu-core libinih-dev libssl-dev libsqlite3-dev pandoc libjs-leaflet
DEB_TEST  := $(DEB_BUILD) g++ python3-cffi python3-numpy python3-gdal python3-pandas python3-geopandas python3-rtree python3-shapely \
             python3-pyproj qgis python3-qgis clang-format man-db poppler-utils postgresql-15-postgis-3 chromium \
             libopenmpi-dev openmpi-bin
DEB_BENCH := $(DEB_TEST) qgis python3-qgis python3-pyproj time

WARN    := -Wall -Wextra -Wshadow -Wvla -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude -Iengine
LDLIBS  += -lm -lpthread

# The library is built position-independent with only the DF_API symbols of
# include/dispflow.h visible; the same objects make libdispflow.a and
# libdispflow.so.$(VERSION) (soname libdispflow.so.$(SOVERSION)).
VERSION   := $(shell sed -n 's/^\#define DISPFLOW_VERSION *"\(.*\)"/\1/p' include/dispflow.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
CFLAGS    += -fPIC -fvisibility=hidden

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man

ifeq ($(SANITIZER),address)
CFLAGS  += -fsanitize=address -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address
BUILD   := build-asan
else ifeq ($(SANITIZER),undefined)
CFLAGS  += -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer
LDFLAGS += -fsanitize=undefined,float-cast-overflow
BUILD   := build-ubsan
endif

# The fault-injection shim of test_faults (tests/alloc/failmalloc.c; see below).
ifeq ($(SANITIZER),address)
SHIM :=
else
SHIM := $(BUILD)/tests/failmalloc.so
endif

# engine/mpi/ (MPI calls only) is not in the library: the plain build has no
# MPI dependency; `make MPI=1` (and make test) adds build/dispflow-mpi.
LIB_SRC := $(filter-out engine/cli.c,$(wildcard engine/*.c))
# Every object depends on every engine header (dfint.h and the df_*.h of each area).
ENGINE_H := $(wildcard engine/*.h)
LIB_OBJ := $(LIB_SRC:engine/%.c=$(BUILD)/obj/%.o)
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCHES := $(patsubst benchmarks/%.c,$(BUILD)/bench/%,$(wildcard benchmarks/*.c))

.PHONY: all deps deps-test deps-bench run test bench format format-check clean valgrind install python

all: $(BUILD)/dispflow $(TESTS) $(SHIM) $(BUILD)/libdispflow.so
ifeq ($(MPI),1)
all: $(BUILD)/dispflow-mpi
endif

# Install what is missing when root; otherwise say exactly what to install.
deps:
	@./.ci/deps.sh $(DEB_BUILD)

# After deps, never beside it: two apt-get at once fail on dpkg's lock (make -j).
deps-test: deps
	@./.ci/deps.sh $(DEB_TEST)

deps-bench: deps-test
	@./.ci/deps.sh $(DEB_BENCH)

$(BUILD)/.flags: deps
	@mkdir -p $(BUILD)
	@echo "$(CFLAGS) $$(pkg-config --cflags $(PKGS))" > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(BUILD)/obj/%.o: engine/%.c $(ENGINE_H) include/dispflow.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -c $< -o $@

# Where shapes/ is found at run time (engine/install.c): beside the installed
# library or program first, then PREFIX's, then this checkout's. The stamp
# remakes install.o and dispflow.pc alone when the install folders change.
$(BUILD)/.prefix: FORCE
	@mkdir -p $(BUILD)
	@echo "$(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(DATADIR) $(CURDIR)" > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(BUILD)/obj/install.o: engine/install.c $(ENGINE_H) include/dispflow.h $(BUILD)/.flags $(BUILD)/.prefix
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DDF_INSTALL_SHAPES='"$(DATADIR)/dispflow/shapes"' -DDF_BUILD_SHAPES='"$(CURDIR)/shapes"' \
	    $$(pkg-config --cflags $(PKGS)) -c $< -o $@

$(BUILD)/libdispflow.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/libdispflow.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libdispflow.so.$(SOVERSION) -Wl,--no-undefined $^ -o $@ $(LDFLAGS) \
	    $$(pkg-config --libs $(PKGS)) $(LDLIBS)

$(BUILD)/libdispflow.so: $(BUILD)/libdispflow.so.$(VERSION)
	ln -sf libdispflow.so.$(VERSION) $(BUILD)/libdispflow.so.$(SOVERSION)
	ln -sf libdispflow.so.$(VERSION) $@

# The CLI links the static library: one file to install, no run path.
$(BUILD)/dispflow: engine/cli.c $(BUILD)/libdispflow.a
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) $< $(BUILD)/libdispflow.a -o $@ $(LDFLAGS) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# The same CLI for mpirun (issue 12 item 4): one process per rank, each
# reading its share of the records; engine/mpi/mpi.c holds every MPI call.
MPICC ?= mpicc
$(BUILD)/dispflow-mpi: engine/cli.c engine/mpi/mpi.c $(ENGINE_H) $(BUILD)/libdispflow.a
	$(MPICC) $(CFLAGS) -DDF_MPI $$(pkg-config --cflags $(PKGS)) engine/cli.c engine/mpi/mpi.c $(BUILD)/libdispflow.a \
	    -o $@ $(LDFLAGS) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# pkg-config file: the GDAL, PROJ ... dependencies are private (a program
# linking the shared library needs only -ldispflow).
$(BUILD)/dispflow.pc: Makefile include/dispflow.h $(BUILD)/.prefix
	@mkdir -p $(BUILD)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' 'Name: dispflow' \
	    'Description: displacement counts joined to admin boundaries, flows and density' \
	    'Version: $(VERSION)' \
	    'Requires.private: $(PKGS)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -ldispflow' \
	    'Libs.private: -lm -lpthread' > $@

# The man page dispflow(1), made from docs/cli.md by pandoc.
$(BUILD)/dispflow.1: docs/cli.md
	@mkdir -p $(BUILD)
	pandoc -s -f gfm -t man -M title=DISPFLOW -M section=1 -M header="dispflow manual" \
	    -M footer="dispflow $(VERSION)" $< -o $@

install: $(BUILD)/dispflow $(BUILD)/libdispflow.a $(BUILD)/libdispflow.so $(BUILD)/dispflow.pc $(BUILD)/dispflow.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/dispflow
	install -m 755 $(BUILD)/dispflow $(DESTDIR)$(BINDIR)/dispflow
	install -m 644 include/dispflow.h $(DESTDIR)$(INCLUDEDIR)/dispflow.h
	install -m 644 $(BUILD)/libdispflow.a $(DESTDIR)$(LIBDIR)/libdispflow.a
	install -m 755 $(BUILD)/libdispflow.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libdispflow.so.$(VERSION)
	ln -sf libdispflow.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libdispflow.so.$(SOVERSION)
	ln -sf libdispflow.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libdispflow.so
	install -m 644 $(BUILD)/dispflow.pc $(DESTDIR)$(LIBDIR)/pkgconfig/dispflow.pc
	install -m 644 $(BUILD)/dispflow.1 $(DESTDIR)$(MANDIR)/man1/dispflow.1
	rm -rf $(DESTDIR)$(DATADIR)/dispflow/shapes
	cp -R shapes $(DESTDIR)$(DATADIR)/dispflow/shapes

# The Python module (python/dispflow; docs/python.md): cffi in ABI mode over
# libdispflow.so, with the declarations of include/dispflow.h preprocessed.
python: $(BUILD)/python/dispflow/__init__.py

$(BUILD)/python/dispflow/__init__.py: python/dispflow/__init__.py python/gen_cdef.py include/dispflow.h \
                                      $(BUILD)/libdispflow.so
	@mkdir -p $(dir $@)
	/usr/bin/python3 python/gen_cdef.py include/dispflow.h $(CC) > $(dir $@)_cdef.py
	cp $< $@

FORCE:

$(BUILD)/tests/%: tests/%.c tests/harness.h $(BUILD)/libdispflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) $< $(BUILD)/libdispflow.a -o $@ $(LDFLAGS) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# The fault-injection shim of test_faults (tests/alloc/failmalloc.c), preloaded
# into the CLI: fails dispflow's Nth allocation, or writes after N bytes. Not in
# ASan builds (ASan's allocator must be the first library loaded: SHIM is
# empty there); built without sanitizers, so that it can run in any process.
$(BUILD)/tests/failmalloc.so: tests/alloc/failmalloc.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 $(WARN) -fPIC -shared $< -o $@ -ldl

$(BUILD)/bench/%: benchmarks/%.c $(BUILD)/libdispflow.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) $< $(BUILD)/libdispflow.a -o $@ $(LDFLAGS) $$(pkg-config --libs $(PKGS)) $(LDLIBS)

# The main job on the embedded default: the sample records joined to the
# Natural Earth governorates shipped in shapes/, every product of a data
# round in out/bundle/ (jobs/default.ini says what).
run: $(BUILD)/dispflow
	@mkdir -p $(OUT)
	$(BUILD)/dispflow sample -o $(OUT)/sample_records.csv
	$(BUILD)/dispflow run jobs/default.ini
	@echo "open $(abspath $(OUT))/bundle/sitrep.html, or project.qgs in QGIS"

test: deps-test $(BUILD)/dispflow $(BUILD)/dispflow-mpi $(TESTS) $(SHIM) python
	@./tests/check_deps.sh
	@./tests/run.sh $(BUILD)
	@$(MAKE) -s format-check

# Every test binary and the CLI under valgrind (slow: tens of minutes; not part
# of make test). VALGRIND_TESTS="test_csv test_job" picks some.
valgrind: deps-test $(BUILD)/dispflow $(TESTS)
	@command -v valgrind > /dev/null || { echo "valgrind is missing: apt-get install valgrind"; exit 1; }
	@./tests/valgrind.sh $(BUILD) $(VALGRIND_TESTS)

bench: deps-bench $(BUILD)/dispflow $(BUILD)/dispflow-mpi $(BENCHES)
	@./benchmarks/run.sh $(BUILD)

FORMAT_SRC := $(wildcard include/*.h engine/*.c engine/*.h engine/mpi/*.c tests/*.c tests/*.h tests/fuzz/*.c tests/alloc/*.c \
                          benchmarks/*.c)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: ok"

clean:
	rm -rf build build-asan build-ubsan build-fuzz $(OUT)

# ---- fuzzing (libFuzzer; see docs/robustness.md) ---------------------------
#   make fuzz                        each harness for FUZZ_SECONDS, one after another
#   make fuzz FUZZ_SECONDS=60 FUZZ_HARNESSES=names
# The engine is compiled with clang, libFuzzer, ASan and UBSan into
# build-fuzz/. A crashing input is written to tests/fuzz/<harness>/regressions/
# (keep it: test_hostile replays every file there); the growing corpus stays
# in build-fuzz/corpus/<harness>/, the seeds in tests/fuzz/<harness>/.
FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 600
FUZZ_HARNESSES ?= records names fields job
FUZZ_BUILD     := build-fuzz
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS    := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -Iinclude -Iengine $(FUZZ_SAN)
FUZZ_OBJ       := $(LIB_SRC:engine/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BINS      := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_BUILD)/obj/%.o: engine/%.c $(ENGINE_H) include/dispflow.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $$(pkg-config --cflags $(PKGS)) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $$(pkg-config --cflags $(PKGS)) $< $(FUZZ_OBJ) -o $@ \
	    $$(pkg-config --libs $(PKGS)) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@failed=""; for h in $(FUZZ_HARNESSES); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$h tests/fuzz/$$h/regressions; \
	    echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=tests/fuzz/$$h/regressions/ \
	        $(FUZZ_BUILD)/corpus/$$h tests/fuzz/$$h || failed="$$failed $$h"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: findings in:$$failed (see tests/fuzz/*/regressions/)"; exit 1; fi
