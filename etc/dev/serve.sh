#!/bin/sh
# Runs the whole Syncto stack in the foreground (`make serve`):
#
#   PostgreSQL   a private cluster under $SYNCTO_VAR_DIR/pg, created on first
#                run, unless SYNCTO_CACHE_URL points at a database already
#   syncto-migrate, then syncto on the unix socket $SYNCTO_VAR_DIR/run/syncto.sock
#   nginx        on 127.0.0.1:$SYNCTO_PORT, from nginx/*.conf.in
#
# Ctrl-C (or SIGTERM) stops everything it started; so does the death of any
# of them. Settings come from $SYNCTO_INI (default etc/syncto.ini) and the
# SYNCTO_* environment variables, which win over the file.
#
# Environment:
#   SYNCTO_PORT        nginx port (8000)
#   SYNCTO_VAR_DIR     state directory (./var): cluster, socket, secret, logs
#   SYNCTO_BUILD_DIR   where syncto and syncto-migrate are (./build)
#   SYNCTO_INI         settings file (etc/syncto.ini)
#   SYNCTO_CACHE_HMAC_SECRET   default: generated once into $SYNCTO_VAR_DIR/secret
set -eu

SY_PROG=serve
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=etc/dev/common.sh
. "$ROOT/etc/dev/common.sh"

BUILD=${SYNCTO_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VAR=${SYNCTO_VAR_DIR:-$ROOT/var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
SY_INI=${SYNCTO_INI:-$ROOT/etc/syncto.ini}
case $SY_INI in /*) ;; *) SY_INI=$(pwd)/$SY_INI ;; esac
PORT=${SYNCTO_PORT:-8000}

[ -x "$BUILD/syncto" ] || sy_die "$BUILD/syncto not found (run: make build)"
[ -x "$BUILD/syncto-migrate" ] || sy_die "$BUILD/syncto-migrate not found (run: make build)"
[ -r "$SY_INI" ] || sy_die "settings file $SY_INI not found"
NGINX=$(sy_nginx_bin)

sy_service_init
RUN=$VAR/run
LOG=$VAR/log
mkdir -p "$RUN/nginx/tmp" "$LOG"
chmod 0755 "$VAR" "$RUN" "$LOG"

PG_PID=
SLEEP_PID=
SYNCTO_PID=
NGINX_PID=
STOPPING=

cleanup() {
    [ -z "$STOPPING" ] || return 0
    STOPPING=1
    trap - INT TERM HUP
    [ -z "$NGINX_PID$SYNCTO_PID$PG_PID" ] || echo "serve: stopping" >&2
    # nginx first (no new requests), then syncto gracefully, then PostgreSQL with
    # a fast shutdown (it would otherwise wait for its clients).
    sy_stop "$NGINX_PID" TERM 10
    sy_stop "$SYNCTO_PID" TERM 35
    sy_stop "$PG_PID" INT 30
    sy_stop "$SLEEP_PID" TERM 1
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The secret that keys the credential cache must survive restarts, or every
# cached entry becomes garbage: generate it once.
if [ -z "${SYNCTO_CACHE_HMAC_SECRET:-}" ]; then
    if [ ! -s "$VAR/secret" ]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$VAR/secret")
    fi
    SYNCTO_CACHE_HMAC_SECRET=$(cat "$VAR/secret")
fi
export SYNCTO_CACHE_HMAC_SECRET

# PostgreSQL: a private cluster, unless the caller brings a database.
if [ -z "${SYNCTO_CACHE_URL:-}" ]; then
    SY_PGBIN=$(sy_pg_bindir)
    PGDATA=$VAR/pg
    PGPORT=$(sy_free_port)
    # The unix socket lives in $RUN, next to syncto's; a socket path is
    # limited to 107 bytes, so fall back to TCP alone in deep trees.
    PGSOCK=$RUN
    if [ ${#PGSOCK} -gt 90 ]; then
        PGSOCK=
    fi
    if [ -n "$SY_SVC_UID" ]; then
        chown "$SY_SVC_UID:$SY_SVC_GID" "$RUN"
        if ! sy_as_svc test -x "$RUN"; then
            sy_die "the $SY_SERVICE_USER user cannot reach $VAR; set SYNCTO_VAR_DIR to a directory it can traverse"
        fi
    fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        echo "serve: creating a PostgreSQL cluster in $PGDATA" >&2
        rm -rf "$PGDATA"
        mkdir -p "$PGDATA"
        chmod 0700 "$PGDATA"
        sy_chown_svc "$PGDATA"
        sy_pg_init "$PGDATA" "$LOG/initdb.log"
        NEWDB=1
    else
        NEWDB=
    fi
    sy_svc INT "$SY_PGBIN/postgres" -D "$PGDATA" -p "$PGPORT" \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories="$PGSOCK" \
        >>"$LOG/postgres.log" 2>&1 &
    PG_PID=$!
    PGHOST=${PGSOCK:-127.0.0.1}
    if ! sy_pg_wait "$PGHOST" "$PGPORT" "$PG_PID"; then
        tail -n 20 "$LOG/postgres.log" >&2
        sy_die "PostgreSQL did not start (log: $LOG/postgres.log)"
    fi
    if [ -n "$NEWDB" ] || [ -z "$("$SY_PGBIN/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U syncto -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = 'syncto'")" ]; then
        "$SY_PGBIN/createdb" -h "$PGHOST" -p "$PGPORT" -U syncto syncto
    fi
    SYNCTO_CACHE_URL=postgresql://syncto@127.0.0.1:$PGPORT/syncto
fi
export SYNCTO_CACHE_URL

"$BUILD/syncto-migrate" --ini "$SY_INI" || sy_die "syncto-migrate failed"

# syncto on a unix socket (unless SYNCTO_LISTEN says otherwise).
SYNCTO_LISTEN=${SYNCTO_LISTEN:-unix:$RUN/syncto.sock}
export SYNCTO_LISTEN
case $SYNCTO_LISTEN in
unix:*) rm -f "${SYNCTO_LISTEN#unix:}" ;;
esac
sy_self TERM "$BUILD/syncto" --ini "$SY_INI" &
SYNCTO_PID=$!
sy_wait_listen "$SYNCTO_LISTEN" "$SYNCTO_PID" 30 || sy_die "syncto did not start listening on $SYNCTO_LISTEN"
case $SYNCTO_LISTEN in
unix:*)
    # nginx's workers run as the service user when we are root.
    [ -z "$SY_SVC_UID" ] || chmod 0666 "${SYNCTO_LISTEN#unix:}"
    ;;
esac

# nginx from the templates, with the same settings syncto reads.
RATE=$(sy_setting syncto.rate_limit 100)
BURST=$((RATE * 2))
[ "$BURST" -ge 20 ] || BURST=20
if [ "$RATE" -gt 0 ]; then RATE_ON=; else RATE_ON='#'; fi
NGX_USER=
[ -z "$SY_SVC_UID" ] || NGX_USER="user $SY_SERVICE_USER;"
sy_render "$ROOT/nginx/syncto.conf.in" "$RUN/nginx/syncto.conf" \
    LISTEN="127.0.0.1:$PORT" FCGI="$SYNCTO_LISTEN" \
    MAX_BODY="$(sy_setting syncto.max_request_body_bytes 4194304)" \
    RATE="$RATE" BURST="$BURST" RATE_ON="$RATE_ON" \
    RETRY_AFTER="$(sy_setting syncto.retry_after_seconds 30)"
sy_render "$ROOT/nginx/nginx-dev.conf.in" "$RUN/nginx/nginx.conf" \
    RUNDIR="$RUN/nginx" USER="$NGX_USER" SITE="$RUN/nginx/syncto.conf"
"$NGINX" -q -t -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e stderr -g 'daemon off;' ||
    sy_die "nginx configuration rejected ($RUN/nginx/nginx.conf)"
rm -f "$RUN/nginx/nginx.pid"
sy_self QUIT "$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e stderr -g 'daemon off;' &
NGINX_PID=$!
sy_wait_listen "127.0.0.1:$PORT" "$NGINX_PID" 10 || sy_die "nginx did not start on 127.0.0.1:$PORT"

echo "Syncto is running at http://127.0.0.1:$PORT/v1/ (Ctrl-C stops it)"

while sy_alive "$PG_PID" || [ -z "$PG_PID" ]; do
    sy_alive "$SYNCTO_PID" || break
    sy_alive "$NGINX_PID" || break
    sleep 1 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
done
echo "serve: a process of the stack exited; stopping the others" >&2
exit 1
