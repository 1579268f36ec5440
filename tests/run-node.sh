#!/bin/sh
# Runs a Node test suite against the real stack:
#
#   sh tests/run-node.sh integration   tests/integration/*.test.js (and the
#                                      test Sync server's own tests)
#   sh tests/run-node.sh e2e           tests/e2e/**/*.test.js (real Kinto clients)
#
# npm dependencies come from the lock files (npm ci). The stack is built from
# $SYNCTO_BUILD_DIR (default: build). One test file at a time: each one
# starts its own PostgreSQL, syncto and nginx.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${1:-}
case $SUITE in
integration | e2e) ;;
*)
    echo "usage: $0 integration|e2e" >&2
    exit 2
    ;;
esac

npm_ci() {
    [ -f "$1/package.json" ] || return 0
    if [ -f "$1/package-lock.json" ]; then
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    else
        (cd "$1" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

# Test files of a directory, node_modules left out, one per line.
test_files() {
    [ -d "$1" ] || return 0
    find "$1" -name node_modules -prune -o -type f -name '*.test.js' -print | sort
}

case $SUITE in
integration)
    files=$(test_files "$ROOT/tests/integration"; test_files "$ROOT/tests/syncserver/test")
    dirs=$ROOT/tests
    ;;
e2e)
    files=
    [ ! -f "$ROOT/tests/e2e/package.json" ] || files=$(test_files "$ROOT/tests/e2e")
    dirs="$ROOT/tests $ROOT/tests/e2e"
    ;;
esac

if [ -z "$files" ]; then
    echo "$SUITE: no tests"
    exit 0
fi

# kinto (Kinto.js) depends on playwright; the browser suite drives Debian's
# chromium, so npm must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for d in $dirs; do
    npm_ci "$d"
done

export SYNCTO_BUILD_DIR="${SYNCTO_BUILD_DIR:-build}"
cd "$ROOT"
# shellcheck disable=SC2086 # one argument per file
exec node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-concurrency=1 --test-timeout=300000 $files
