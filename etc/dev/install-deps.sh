#!/bin/sh
# Installs the Debian packages Syncto needs to build, serve and test.
# Idempotent and silent when everything is already there; run by `make deps`
# (and so by `make serve` and `make tests`).
set -eu

# Package, then the command that also counts as "installed" (for tools that
# may come from elsewhere, e.g. Node.js from another apt repository, which
# bundles npm and conflicts with Debian's npm package), or "-".
PACKAGES='
build-essential     -
cmake               -
pkg-config          -
git                 git
ca-certificates     -
libfcgi-dev         -
libfcgi-bin         -
libcurl4-openssl-dev -
libjson-c-dev       -
libpq-dev           -
libsodium-dev       -
libcmocka-dev       -
nginx-light         nginx
postgresql          -
postgresql-client   psql
util-linux          setpriv
passwd              useradd
valgrind            -
clang-format        clang-format
clang-tidy          clang-tidy
cppcheck            cppcheck
python3             python3
clang               -
libclang-rt-14-dev  -
nodejs              node
npm                 npm
chromium            chromium
wrk                 wrk
linux-perf          perf
'

installed() {
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = installed ]
}

has_command() {
    [ "$1" != - ] || return 1
    command -v "$1" >/dev/null 2>&1 && return 0
    # sbin directories are not always on a non-root PATH
    [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=
while read -r pkg cmd; do
    [ -n "$pkg" ] || continue
    if ! installed "$pkg" && ! has_command "$cmd"; then
        missing="$missing $pkg"
    fi
done <<END
$PACKAGES
END
missing=${missing# }

# The test suites need Node.js 20 or later (node:test options, the Kinto
# clients); an older one from the distribution is not enough.
node_check() {
    command -v node >/dev/null 2>&1 || return 0
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    [ "$major" -ge 20 ] ||
        echo "install-deps: warning: Node.js $(node --version) found, the tests need 20 or later" >&2
}

if [ -z "$missing" ]; then
    node_check
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "install-deps: missing packages: $missing" >&2
    echo "install-deps: run as root: apt-get install $missing" >&2
    exit 1
fi

echo "install-deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086 # word splitting of the package list is wanted
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: apt-get failed" >&2
    exit 1
fi
echo "install-deps: done"
node_check
