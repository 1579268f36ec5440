#!/bin/sh
# Runs every cmocka unit test binary of a build directory:
#
#   sh tests/run-unit.sh BUILD_DIR [valgrind]
#
# A throwaway PostgreSQL cluster (unix socket only, in a temporary directory)
# runs meanwhile; SYNCTO_TEST_CACHE_URL points at its database for the tests
# that need one. With "valgrind", each binary runs under memcheck and any
# error or definite leak fails it.
set -eu

SY_PROG=run-unit
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=etc/dev/common.sh
. "$ROOT/etc/dev/common.sh"

[ $# -ge 1 ] || sy_die "usage: $0 BUILD_DIR [valgrind]"
BUILD=$1
MODE=${2:-}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case $MODE in "" | valgrind) ;; *) sy_die "unknown mode: $MODE" ;; esac

set -- "$BUILD"/test_*
[ -x "$1" ] || sy_die "no unit test binaries in $BUILD (run: make build)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/syncto-unit.XXXXXX")
chmod 0755 "$TMP"
PG_PID=
cleanup() {
    sy_stop "$PG_PID" INT 20
    rm -rf "$TMP"
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The cluster: owned by the unprivileged service account when root.
sy_service_init
SY_PGBIN=$(sy_pg_bindir)
mkdir -m 0700 "$TMP/data"
sy_chown_svc "$TMP"
sy_pg_init "$TMP/data" "$TMP/initdb.log"
PGPORT=$(sy_free_port)
sy_svc INT "$SY_PGBIN/postgres" -D "$TMP/data" -p "$PGPORT" -k "$TMP" \
    -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    >"$TMP/postgres.log" 2>&1 &
PG_PID=$!
if ! sy_pg_wait "$TMP" "$PGPORT" "$PG_PID"; then
    cat "$TMP/postgres.log" >&2
    sy_die "PostgreSQL did not start"
fi
"$SY_PGBIN/createdb" -h "$TMP" -p "$PGPORT" -U syncto syncto_test
SYNCTO_TEST_CACHE_URL="postgresql://syncto@/syncto_test?host=$TMP&port=$PGPORT"
export SYNCTO_TEST_CACHE_URL

# Sanitizer builds: report every problem with a stack and fail at once.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

total=0
nfail=0
failed=
cd "$ROOT"
for bin in "$@"; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    total=$((total + 1))
    echo "== $name"
    if [ "$MODE" = valgrind ]; then
        set -- timeout 900 valgrind --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite -q "$bin"
    else
        set -- timeout 300 "$bin"
    fi
    if "$@"; then
        :
    else
        rc=$?
        [ "$rc" -ne 124 ] || echo "$name: timed out" >&2
        failed="$failed $name"
        nfail=$((nfail + 1))
    fi
done

if [ -n "$failed" ]; then
    echo "unit tests${MODE:+ ($MODE)}: $((total - nfail)) passed, $nfail failed:$failed"
    exit 1
fi
echo "unit tests${MODE:+ ($MODE)}: $total binaries, all passed"
