#!/bin/sh
# Runs the libFuzzer targets of a build directory (cmake -DSY_FUZZ=ON):
#
#   sh tests/fuzz/run.sh [--smoke] BUILD_DIR SECONDS [TARGET...]
#
# Each target (every BUILD_DIR/fuzz_* by default) first replays its whole
# seed corpus (tests/fuzz/corpus/<target>/), then fuzzes for SECONDS with
# its dictionary (tests/fuzz/dict/<name>.dict). New inputs go to
# BUILD_DIR/fuzz-corpus/<target>/ (kept between runs, never into the
# repository); with --smoke to a throwaway directory, so that a smoke run
# always starts from the seeds alone. One line per target says how many
# inputs were executed and whether anything crashed; a crash, a sanitizer
# report or a failed invariant prints the report, leaves the input in
# tests/artifacts/fuzz/ and makes the run fail. Extra libFuzzer flags:
# FUZZ_FLAGS (e.g. FUZZ_FLAGS=-max_len=65536).
set -eu

SY_PROG=fuzz
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=etc/dev/common.sh
. "$ROOT/etc/dev/common.sh"

SMOKE=
if [ "${1:-}" = --smoke ]; then
    SMOKE=1
    shift
fi
[ $# -ge 2 ] || sy_die "usage: $0 [--smoke] BUILD_DIR SECONDS [TARGET...]"
BUILD=$1
SECONDS_EACH=$2
shift 2
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case $SECONDS_EACH in '' | *[!0-9]*) sy_die "SECONDS must be a whole number: $SECONDS_EACH" ;; esac

if [ $# -eq 0 ]; then
    set -- "$BUILD"/fuzz_*
    [ -x "$1" ] || sy_die "no fuzz targets in $BUILD (run: make build-fuzz)"
else
    targets=
    for t in "$@"; do targets="$targets $BUILD/$t"; done
    # shellcheck disable=SC2086 # one word per target
    set -- $targets
fi

ARTIFACTS=$ROOT/tests/artifacts/fuzz
LOGS=$BUILD/fuzz-logs
mkdir -p "$ARTIFACTS" "$LOGS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/syncto-fuzz.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leaks count as failures; UBSan already aborts (-fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# The value of "stat::<name>: N" in a libFuzzer log, or "?".
stat() {
    v=$(sed -n "s/^stat::$1: *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1)
    echo "${v:-?}"
}

total=0
nfail=0
failed=
for bin in "$@"; do
    [ -x "$bin" ] || sy_die "not a fuzz target: $bin"
    name=$(basename "$bin")
    short=${name#fuzz_}
    seeds=$ROOT/tests/fuzz/corpus/$name
    dict=$ROOT/tests/fuzz/dict/$short.dict
    log=$LOGS/$name.log
    total=$((total + 1))
    mkdir -p "$seeds"
    if [ -n "$SMOKE" ]; then
        work=$TMP/$name
    else
        work=$BUILD/fuzz-corpus/$name
    fi
    mkdir -p "$work"
    set -- -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$name-"
    [ ! -f "$dict" ] || set -- "$@" -dict="$dict"

    # 1. every seed, once
    nseeds=$(find "$seeds" -type f | wc -l | tr -d ' ')
    if ! "$bin" "$@" -runs=0 "$seeds" >"$log" 2>&1; then
        echo "$name: FAILED replaying the seed corpus ($nseeds inputs)"
        tail -n 40 "$log"
        failed="$failed $name"
        nfail=$((nfail + 1))
        continue
    fi

    # 2. fuzzing for SECONDS_EACH, new inputs into $work
    started=$(date +%s)
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    if "$bin" "$@" ${FUZZ_FLAGS:-} -max_total_time="$SECONDS_EACH" "$work" "$seeds" >>"$log" 2>&1; then
        status=ok
    else
        status=FAILED
    fi
    elapsed=$(($(date +%s) - started))
    execs=$(stat number_of_executed_units "$log")
    rate=$(stat average_exec_per_sec "$log")
    cov=$(sed -n 's/.* cov: \([0-9][0-9]*\) .*/\1/p' "$log" | tail -n 1)
    ncorpus=$(find "$work" "$seeds" -type f | wc -l | tr -d ' ')
    echo "$name: $status: $execs executions in $elapsed s ($rate/s), seeds $nseeds," \
        "corpus $ncorpus, coverage ${cov:-?} edges"
    if [ "$status" != ok ]; then
        # the report: from the sanitizer's or the invariant's first line
        sed -n '/invariant failed\|ERROR: \|runtime error\|==[0-9]*==/,$p' "$log" | head -n 60
        ls -1 "$ARTIFACTS"/"$name"-* 2>/dev/null | sed 's/^/  input saved: /'
        failed="$failed $name"
        nfail=$((nfail + 1))
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz${SMOKE:+ (smoke)}: $((total - nfail)) passed, $nfail failed:$failed (logs in $LOGS)"
    exit 1
fi
echo "fuzz${SMOKE:+ (smoke)}: $total targets, no crash (logs in $LOGS)"
