# Syncto: `make serve` runs the whole stack, `make tests` runs every test.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= 2
# Seconds of fuzzing per target: `make fuzz`, and the short run of `make tests`.
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5

.PHONY: all deps build build-asan build-fuzz serve tests unit unit-asan valgrind fuzz fuzz-smoke integration integration-asan e2e format-check lint clean

all: build

deps:
	@sh etc/dev/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD_ASAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSY_SANITIZE=address,undefined >/dev/null

build-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j$(JOBS)

# libFuzzer targets (tests/fuzz): clang, ASan/UBSan, coverage instrumentation.
$(BUILD_FUZZ)/CMakeCache.txt:
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSY_FUZZ=ON -DSY_TESTS=OFF >/dev/null

build-fuzz: deps $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz_targets

serve: build
	@SYNCTO_BUILD_DIR=$(BUILD) sh etc/dev/serve.sh

# Unit tests: cmocka binaries, plain, then under ASan/UBSan, then valgrind.
unit: build
	@sh tests/run-unit.sh $(BUILD)

unit-asan: build-asan
	@sh tests/run-unit.sh $(BUILD_ASAN)

valgrind: build
	@sh tests/run-unit.sh $(BUILD) valgrind

# Fuzzing: every target for FUZZ_SECONDS (new inputs kept in
# $(BUILD_FUZZ)/fuzz-corpus); the smoke run replays the seed corpus and
# fuzzes each target for FUZZ_SMOKE_SECONDS. Both fail on any crash.
fuzz: build-fuzz
	@sh tests/fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

fuzz-smoke: build-fuzz
	@sh tests/fuzz/run.sh --smoke $(BUILD_FUZZ) $(FUZZ_SMOKE_SECONDS)

# Integration and end-to-end tests: real nginx, PostgreSQL, syncto and the
# test Sync server, driven over HTTP by node's test runner.
integration: build
	@SYNCTO_BUILD_DIR=$(BUILD) sh tests/run-node.sh integration

# The same suite against the ASan/UBSan build: every syncto process checks
# its leaks at exit, and any sanitizer report fails its test file
# (tests/lib/stack.js; third-party leaks left out are in tests/lsan.supp).
integration-asan: build-asan
	@SYNCTO_BUILD_DIR=$(BUILD_ASAN) sh tests/run-node.sh integration

e2e: build
	@SYNCTO_BUILD_DIR=$(BUILD) sh tests/run-node.sh e2e

tests: format-check lint unit unit-asan valgrind fuzz-smoke integration integration-asan e2e

# The C sources as .clang-format lays them out; changes nothing.
FORMAT_FILES = $(wildcard src/*.c include/syncto/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/fuzz/*.h tests/bench/*.c)
format-check: deps
	clang-format --dry-run --Werror $(FORMAT_FILES)

# Static checks, which must find nothing: include cycles between modules,
# cppcheck and clang-tidy (tests/tools/lint.sh; the checks and why are in
# .clang-tidy). They read the compile commands of $(BUILD), which only
# needs to be configured.
lint: deps $(BUILD)/CMakeCache.txt
	@cmake -S . -B $(BUILD) >/dev/null
	@sh tests/tools/lint.sh $(BUILD) $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) tests/artifacts
