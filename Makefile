# Syncto: `make serve` runs the whole stack, `make tests` runs every test.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= 2

.PHONY: all deps build build-asan serve tests unit unit-asan valgrind integration integration-asan e2e format-check clean

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

serve: build
	@SYNCTO_BUILD_DIR=$(BUILD) sh etc/dev/serve.sh

# Unit tests: cmocka binaries, plain, then under ASan/UBSan, then valgrind.
unit: build
	@sh tests/run-unit.sh $(BUILD)

unit-asan: build-asan
	@sh tests/run-unit.sh $(BUILD_ASAN)

valgrind: build
	@sh tests/run-unit.sh $(BUILD) valgrind

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

tests: format-check unit unit-asan valgrind integration integration-asan e2e

# The C sources as .clang-format lays them out; changes nothing.
FORMAT_FILES = $(wildcard src/*.c include/syncto/*.h tests/unit/*.c tests/unit/*.h)
format-check: deps
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) tests/artifacts
