# hakgal — top-level commands. See README.md.
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan test test-fast fuzz run bench clean format check-format deb

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHK_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every test, in the normal build and again under ASan + UBSan.
test: build build-asan
	@bash scripts/check-format.sh
	@bash scripts/test-setup.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# Normal build only (quick iteration).
test-fast: build
	@bash scripts/test-setup.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The fuzz targets as libFuzzer binaries (clang, ASan + UBSan), each run
# over its corpus and fuzzed for FUZZ_SECONDS (tests/fuzz/README.md).
fuzz:
	@bash scripts/deps.sh fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=Debug -DHK_SANITIZE=ON \
	  -DHK_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-targets
	cd $(FUZZ_BUILD) && ctest --output-on-failure -R '^fuzz/'

run: build
	@bash scripts/run.sh

bench: build
	@bash bench/run.sh

# Debian package of the normal build (scripts/build-deb.sh, deploy/debian/).
deb: build
	@bash scripts/build-deb.sh $(BUILD)/hakgal $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@bash scripts/check-format.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
