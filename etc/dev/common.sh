# Shell helpers shared by etc/dev/serve.sh and tests/run-unit.sh (sourced,
# POSIX sh). Every function is prefixed sy_; globals are SY_*.

sy_die() {
    echo "${SY_PROG:-syncto}: $*" >&2
    exit 1
}

# sy_setting KEY DEFAULT: the effective value of a syncto setting as the
# server sees it: the SYNCTO_* environment variable (syncto.rate_limit ->
# SYNCTO_RATE_LIMIT), else the last "key = value" line of the INI file
# "$SY_INI" (any section, key case-insensitive, quotes stripped), else
# DEFAULT (which must be the server's own default).
sy_setting() {
    _name=$(printf '%s' "$1" | tr 'a-z.' 'A-Z_')
    eval "_val=\${$_name-}"
    if [ -z "$_val" ] && [ -r "${SY_INI:-}" ]; then
        _val=$(awk -v key="$1" '
            /^[ \t]*[;#]/ { next }
            {
                line = $0
                sub(/^[ \t]+/, "", line)
                eq = index(line, "=")
                if (eq == 0) next
                k = substr(line, 1, eq - 1)
                sub(/[ \t]+$/, "", k)
                if (tolower(k) != tolower(key)) next
                v = substr(line, eq + 1)
                sub(/^[ \t]+/, "", v)
                sub(/[ \t\r]+$/, "", v)
                if (v ~ /^".*"$/ && length(v) >= 2) v = substr(v, 2, length(v) - 2)
                val = v
            }
            END { if (val != "") print val }' "$SY_INI")
    fi
    [ -n "$_val" ] || _val=$2
    printf '%s\n' "$_val"
}

# The unprivileged account that runs PostgreSQL (initdb refuses root) and
# nginx's workers when the scripts run as root. Created on first use.
SY_SERVICE_USER=syncto

# sy_service_init: when root, makes sure the service account exists and sets
# SY_SVC_UID / SY_SVC_GID; when not root, both stay empty (everything runs as
# the current user).
sy_service_init() {
    SY_SVC_UID=
    SY_SVC_GID=
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id -u "$SY_SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$SY_SERVICE_USER" ||
            sy_die "cannot create the system user $SY_SERVICE_USER"
    fi
    SY_SVC_UID=$(id -u "$SY_SERVICE_USER")
    SY_SVC_GID=$(id -g "$SY_SERVICE_USER")
}

# sy_svc SIGNAL CMD...: execs CMD as the service account (when root) with
# SIGNAL as its parent-death signal, so that it stops if this script dies
# without cleaning up. Use in a background job: `sy_svc TERM prog args &`.
sy_svc() {
    _sig=$1
    shift
    if [ -n "$SY_SVC_UID" ]; then
        exec setpriv --reuid="$SY_SVC_UID" --regid="$SY_SVC_GID" --clear-groups \
            --pdeathsig="$_sig" -- "$@"
    fi
    exec setpriv --pdeathsig="$_sig" -- "$@"
}

# sy_self SIGNAL CMD...: same, keeping the current user.
sy_self() {
    _sig=$1
    shift
    exec setpriv --pdeathsig="$_sig" -- "$@"
}

# sy_as_svc CMD...: runs CMD to completion as the service account.
sy_as_svc() {
    if [ -n "$SY_SVC_UID" ]; then
        setpriv --reuid="$SY_SVC_UID" --regid="$SY_SVC_GID" --clear-groups -- "$@"
    else
        "$@"
    fi
}

# sy_chown_svc PATH...: hands PATH over to the service account (when root).
sy_chown_svc() {
    [ -z "$SY_SVC_UID" ] || chown -R "$SY_SVC_UID:$SY_SVC_GID" "$@"
}

# sy_pg_bindir: the directory holding initdb/postgres (Debian keeps them out
# of PATH, under /usr/lib/postgresql/<major>/bin).
sy_pg_bindir() {
    _d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -n 1)
    if [ -n "$_d" ] && [ -x "$_d/initdb" ]; then
        printf '%s\n' "$_d"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    else
        sy_die "PostgreSQL server binaries not found (run: make deps)"
    fi
}

# sy_free_port: prints a TCP port that is free on 127.0.0.1 right now.
sy_free_port() {
    node -e 'const s = require("net").createServer();
        s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# sy_wait_listen ADDR PID SECONDS: waits until ADDR ("unix:/path" or
# "host:port") accepts connections; fails early if PID dies.
sy_wait_listen() {
    _n=0
    while ! node -e '
        const a = process.argv[1];
        const net = require("net");
        const opts = a.startsWith("unix:") ? { path: a.slice(5) }
            : { host: a.slice(0, a.lastIndexOf(":")), port: +a.slice(a.lastIndexOf(":") + 1) };
        const c = net.connect(opts, () => { c.destroy(); process.exit(0); });
        c.on("error", () => process.exit(1));' "$1" 2>/dev/null; do
        sy_alive "$2" || return 1
        _n=$((_n + 1))
        [ "$_n" -lt $(($3 * 5)) ] || return 1
        sleep 0.2
    done
}

# sy_alive PID: true while PID runs (a zombie counts as dead).
sy_alive() {
    [ -n "$1" ] || return 1
    _st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$_st" ] && [ "$_st" != Z ]
}

# sy_stop PID SIGNAL SECONDS: sends SIGNAL, waits up to SECONDS, then KILL.
sy_stop() {
    sy_alive "$1" || return 0
    kill "-$2" "$1" 2>/dev/null || return 0
    _n=0
    while sy_alive "$1"; do
        _n=$((_n + 1))
        if [ "$_n" -gt $(($3 * 10)) ]; then
            kill -KILL "$1" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$1" 2>/dev/null || true
}

# sy_pg_init DATADIR LOG: creates a cluster whose superuser is "syncto",
# trusting local connections (it only listens on a private socket and
# 127.0.0.1).
sy_pg_init() {
    sy_as_svc "$SY_PGBIN/initdb" -D "$1" -U syncto -A trust -E UTF8 --locale=C \
        --no-instructions >"$2" 2>&1 || { cat "$2" >&2; sy_die "initdb failed"; }
}

# sy_pg_wait SOCKDIR PORT PID: waits (30 s at most) for the server to accept
# connections.
sy_pg_wait() {
    _n=0
    while ! "$SY_PGBIN/pg_isready" -q -h "$1" -p "$2" -U syncto -d postgres; do
        sy_alive "$3" || return 1
        _n=$((_n + 1))
        [ "$_n" -lt 300 ] || return 1
        sleep 0.1
    done
}

# sy_render IN OUT NAME=VALUE...: copies IN to OUT replacing every @NAME@.
sy_render() {
    _in=$1
    _out=$2
    shift 2
    _script=
    for _kv in "$@"; do
        _k=${_kv%%=*}
        _v=$(printf '%s' "${_kv#*=}" | sed 's/[\\|&]/\\&/g')
        _script="${_script}s|@${_k}@|${_v}|g;"
    done
    sed "$_script" "$_in" >"$_out"
    if grep -q '@[A-Z_]*@' "$_out"; then
        sy_die "$_out: placeholders left: $(grep -o '@[A-Z_]*@' "$_out" | sort -u | tr '\n' ' ')"
    fi
}

# sy_nginx_bin: the nginx executable (in /usr/sbin, not always on PATH).
sy_nginx_bin() {
    if command -v nginx >/dev/null 2>&1; then
        command -v nginx
    elif [ -x /usr/sbin/nginx ]; then
        echo /usr/sbin/nginx
    else
        sy_die "nginx not found (run: make deps)"
    fi
}
