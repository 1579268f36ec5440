#!/bin/sh
# The static checks of `make lint`, which must find nothing:
#
#   sh tests/tools/lint.sh BUILD_DIR [JOBS]
#
# 1. no include cycle between modules (include-cycles.py);
# 2. cppcheck over src/ and tests/unit/ (the compile commands of BUILD_DIR)
#    and tests/fuzz/;
# 3. clang-tidy over the same files, with the checks of .clang-tidy (and
#    tests/unit/.clang-tidy), each chosen or left out there with a reason.
#
# BUILD_DIR only needs to be configured (compile_commands.json, the
# generated headers). The files of PENDING have known findings still to
# fix; they are named at each run and left out until then.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [JOBS]" >&2; exit 2; }
BUILD=$1
JOBS=${2:-2}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
[ -f "$BUILD/compile_commands.json" ] || { echo "lint: no $BUILD/compile_commands.json (configure it with cmake)" >&2; exit 2; }
cd "$ROOT"

PENDING="src/sy_http.c src/sy_kinto.c src/sy_sync.c tests/unit/test_sy_http.c
tests/unit/test_sy_kinto.c tests/fuzz/fuzz_sync_answer.c"

# Files of the given globs, the pending ones left out, one per line.
files() {
    for f in "$@"; do
        [ -f "$f" ] || continue
        case " $(echo $PENDING) " in *" $f "*) continue ;; esac
        echo "$f"
    done
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/syncto-lint.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
files src/*.c tests/unit/*.c >"$TMP/units"
files tests/fuzz/*.c >"$TMP/fuzz"
failed=

echo "== include cycles"
python3 tests/tools/include-cycles.py || failed="$failed include-cycles"

echo "== cppcheck ($(cppcheck --version))"
# variableScope: the house style declares a block's variables at its top.
set -- --enable=warning,style,performance,portability --std=c11 --library=posix \
    --inline-suppr --error-exitcode=1 --quiet -j"$JOBS" --suppress=variableScope
ignore=
for f in $PENDING; do ignore="$ignore -i $ROOT/$f"; done
# shellcheck disable=SC2086 # "-i FILE" per pending file
cppcheck "$@" --project="$BUILD/compile_commands.json" $ignore || failed="$failed cppcheck"
# shellcheck disable=SC2046 # one argument per file
cppcheck "$@" -D_GNU_SOURCE -Iinclude -I"$BUILD/generated" $(cat "$TMP/fuzz") ||
    failed="$failed cppcheck-fuzz"

echo "== clang-tidy ($(clang-tidy --version | sed -n 's/.*LLVM version //p'))"
# Its count of the warnings it hid (system headers) is left out.
tidy_ok=true
xargs -P "$JOBS" -I{} clang-tidy --quiet -p "$BUILD" {} <"$TMP/units" >"$TMP/tidy" 2>&1 ||
    tidy_ok=false
xargs -P "$JOBS" -I{} clang-tidy --quiet {} -- -std=c11 -D_GNU_SOURCE -Iinclude \
    -I"$BUILD/generated" <"$TMP/fuzz" >>"$TMP/tidy" 2>&1 || tidy_ok=false
grep -v '^[0-9]* warnings\{0,1\} generated\.$' "$TMP/tidy" || :
$tidy_ok || failed="$failed clang-tidy"

echo "lint: pending, not checked:" $PENDING
if [ -n "$failed" ]; then
    echo "lint: findings from:$failed"
    exit 1
fi
echo "lint: $(wc -l <"$TMP/units") + $(wc -l <"$TMP/fuzz") files, no findings"
