#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests: Debian's `postgresql` server binaries, a data
# directory in a temporary folder, loopback only (127.0.0.1, a free port, no Unix socket),
# trust authentication, fsync off. Never for production.
#
#   scripts/postgres.sh start     start it (or find it running); prints the admin URL
#   scripts/postgres.sh url       prints the admin URL of the running server (exit 1 if none)
#   scripts/postgres.sh env       prints `export CANO_TEST_POSTGRES_URL=... CANO_POSTGRES_HOME=...`
#                                 for `eval "$(scripts/postgres.sh env)"` (starts it if needed)
#   scripts/postgres.sh restart   pg_ctl restart (same port, same data)
#   scripts/postgres.sh stop      stop it; the data stays, `start` brings back the same URL
#   scripts/postgres.sh destroy   stop it and delete its folder
#   scripts/postgres.sh status    exit 0 if running
#
# The admin URL is postgres://postgres@127.0.0.1:PORT/postgres (superuser `postgres`, no
# password: trust on loopback). Tests create a database each from it
# (Tests/TestSupport/PostgresServer.swift).
#
# State lives in $CANO_POSTGRES_HOME (default: ${TMPDIR:-/tmp}/cano-postgres-<uid>): data/,
# postgres.log and `state` (BIN, DATA, PORT, URL), so a later call, another shell or a
# Swift test process finds the same server. Calls on one home are serialised (flock).
#
# initdb refuses to run as root: as root the server runs as Debian's `postgres` system
# user (runuser), which owns the home folder; otherwise as the calling user.
#
# With CANO_POSTGRES_OWNER_PID set, `start` also leaves a watchdog that destroys the server
# once that process is gone (a test process that crashed before its exit handler ran).
set -euo pipefail

# Close every descriptor inherited beyond stdin/out/err before anything is started: the
# server and the watchdog outlive this script, and a caller's descriptor they kept open
# would keep that caller waiting (Foundation's Process watches a socket it passes to the
# child to learn that the child exited).
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [[ $fd =~ ^[0-9]+$ ]] && (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
done

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
home=${CANO_POSTGRES_HOME:-${TMPDIR:-/tmp}/cano-postgres-$(id -u)}
home=${home%/}
state=$home/state

die() { echo "postgres.sh: $*" >&2; exit "${2:-1}"; }

# The newest /usr/lib/postgresql/<version>/bin with initdb, else CANO_POSTGRES_BIN, else PATH.
find_bin() {
    if [[ -n ${CANO_POSTGRES_BIN:-} ]]; then echo "$CANO_POSTGRES_BIN"; return; fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r d; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] && echo "$d"; done | tail -n 1)
    if [[ -z $dir ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dir=$(dirname "$(command -v initdb)")
    fi
    [[ -n $dir ]] || die "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them: apt-get install postgresql (scripts/install-deps.sh does), or set CANO_POSTGRES_BIN to their folder." 2
    echo "$dir"
}

# Runs a command as the server's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

load_state() {
    [[ -f $state ]] || return 1
    # shellcheck disable=SC1090
    source "$state"
    [[ -n ${DATA:-} && -n ${PORT:-} && -n ${BIN:-} ]]
}

running() {
    load_state && [[ -f $DATA/PG_VERSION ]] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Waits until the server accepts queries (pg_ctl -w waits for the postmaster; this also
# covers the end of crash recovery after a restart).
wait_ready() {
    local i
    for i in $(seq 1 300); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres && return 0
        sleep 0.1
    done
    die "the server on port $PORT did not become ready; its log: $home/postgres.log"
}

init() {
    BIN=$(find_bin)
    DATA=$home/data
    if [[ $(id -u) -eq 0 ]]; then
        getent passwd postgres >/dev/null || die "running as root needs the 'postgres' system user (created by Debian's postgresql package: apt-get install postgresql)" 2
        chown postgres: "$home"
        runuser -u postgres -- test -x "$home" || die "user postgres cannot reach $home (set CANO_POSTGRES_HOME or TMPDIR to a folder under /tmp)"
    fi
    rm -rf "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-locale --encoding=UTF8 --no-sync \
        >"$home/initdb.log" 2>&1 || die "initdb failed: $(cat "$home/initdb.log")"
    PORT=$(free_port)
    # Loopback only, no Unix socket (its default folder may not exist); fast and unsafe.
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF
# scripts/postgres.sh: a disposable test server
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
    URL="postgres://postgres@127.0.0.1:$PORT/postgres"
    printf 'BIN=%q\nDATA=%q\nPORT=%q\nURL=%q\n' "$BIN" "$DATA" "$PORT" "$URL" >"$state.tmp"
    mv "$state.tmp" "$state"
}

pg_start() {
    local tries
    for tries in 1 2 3; do
        if as_owner "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -l "$home/postgres.log" >/dev/null 2>&1 9>&-; then
            wait_ready
            return 0
        fi
        # The port may have been taken since: pick another one, keep the data.
        grep -q "could not bind\|already in use" "$home/postgres.log" 2>/dev/null || break
        PORT=$(free_port)
        as_owner sed -i "s/^port = .*/port = $PORT/" "$DATA/postgresql.conf"
        URL="postgres://postgres@127.0.0.1:$PORT/postgres"
        printf 'BIN=%q\nDATA=%q\nPORT=%q\nURL=%q\n' "$BIN" "$DATA" "$PORT" "$URL" >"$state"
    done
    die "pg_ctl start failed; the end of $home/postgres.log:
$(tail -n 20 "$home/postgres.log" 2>/dev/null)"
}

watchdog() {
    local owner=${CANO_POSTGRES_OWNER_PID:-}
    [[ -n $owner ]] || return 0
    CANO_POSTGRES_HOME=$home setsid bash -c '
        while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
        [ -d "$2" ] && exec "$3" destroy' watchdog "$owner" "$home" "$script" \
        </dev/null >/dev/null 2>&1 9>&- &
}

cmd_start() {
    if running; then echo "$URL"; return 0; fi
    if load_state && [[ -f $DATA/PG_VERSION ]]; then
        pg_start                                  # stopped earlier: same data, same port
    else
        init
        pg_start
        watchdog
    fi
    echo "$URL"
}

cmd_stop() {
    if running; then as_owner "$BIN/pg_ctl" stop -w -t 60 -m fast -D "$DATA" >/dev/null; fi
}

cmd_restart() {
    running || die "no server running in $home (scripts/postgres.sh start)"
    as_owner "$BIN/pg_ctl" restart -w -t 60 -m fast -D "$DATA" -l "$home/postgres.log" >/dev/null 2>&1 9>&- \
        || die "pg_ctl restart failed; the end of $home/postgres.log:
$(tail -n 20 "$home/postgres.log" 2>/dev/null)"
    wait_ready
}

command=${1:-}
case $command in
    start|stop|restart|destroy|url|env|status) ;;
    *) die "usage: scripts/postgres.sh start|url|env|restart|stop|destroy|status" 64 ;;
esac

if [[ $command == destroy && ! -d $home ]]; then exit 0; fi
if [[ ($command == url || $command == status) && ! -f $state ]]; then
    [[ $command == url ]] && echo "postgres.sh: no server in $home (scripts/postgres.sh start)" >&2
    exit 1
fi
mkdir -p "$home"
# The lock's descriptor must not leak into the server or the watchdog (they would hold it):
# every long-lived child below is started with 9>&-.
exec 9>"$home/call.lock"
flock 9

case $command in
    start) cmd_start ;;
    env)
        cmd_start >/dev/null
        printf 'export CANO_TEST_POSTGRES_URL=%q CANO_POSTGRES_HOME=%q\n' "$URL" "$home" ;;
    url) running || die "no server running in $home (scripts/postgres.sh start)"; echo "$URL" ;;
    status) running ;;
    restart) cmd_restart ;;
    stop) cmd_stop ;;
    destroy)
        cmd_stop
        rm -rf "$home" ;;
esac
