# A thin wrapper over CMake and ctest. `make demo` and `make test` work on a fresh Debian 12:
# tools/bootstrap.sh installs whatever packages are missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
VG_BUILD   ?= build-valgrind
FUZZ_SECONDS ?= 30
FUZZ_WORK  ?= $(FUZZ_BUILD)/fuzz-work
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
H2C = $(BUILD)/h2c

.PHONY: all bootstrap build test asan fuzz valgrind demo bench plots clean

all: build

bootstrap:
	@./tools/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer build (clang), whole suite
asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DH2C_SANITIZE=ON -DCMAKE_C_COMPILER=clang-14 $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# the libFuzzer harnesses (clang-14), each run for FUZZ_SECONDS from its corpus (docs/fuzzing.md)
fuzz: bootstrap
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH2C_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	FUZZ_WORK=$(FUZZ_WORK) ./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# a subset of the suite under valgrind, on a build without -march=native (tests/valgrind.sh)
valgrind: bootstrap
	@cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH2C_NATIVE=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(VG_BUILD) -j $(JOBS)
	./tests/valgrind.sh $(VG_BUILD)

demo: build
	@./tools/demo.sh $(H2C)

bench: build
	@cmake --build $(BUILD) --target benchmarks -j $(JOBS)
	@./bench/run.sh $(BUILD)

# The long-context sweep (examples/llama3-8b-longctx.h2) as a CSV and SVG plots in $(PLOTS):
# sweep.svg (speedup and energy gain of the sparse plan vs context), decode.svg (the dense baseline)
PLOTS ?= $(BUILD)/plots
plots: build
	@mkdir -p $(PLOTS)
	$(H2C) explore -q examples/llama3-8b-longctx.h2 --csv $(PLOTS)/llama3-8b-longctx.csv
	gnuplot -e "csv='$(PLOTS)/llama3-8b-longctx.csv'; out='$(PLOTS)'" tools/plot-sweep.gp
	@echo "plots: $(PLOTS)/sweep.svg $(PLOTS)/decode.svg"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(VG_BUILD)
