#!/usr/bin/env bash
# Check that the Postgres and Redis the tests use answer; with --start, start local ones that
# don't. Used by .ci/run and `make services`.
#
#   scripts/wait_services.sh [--start]
#
# Which servers: host and port are read from TASKDECK_TEST_DATABASE_URL and
# TASKDECK_TEST_REDIS_URL (defaults: Postgres 127.0.0.1:5432, Redis 127.0.0.1:6379). Only a
# server on this machine (127.0.0.1 / localhost) is ever started:
#   Postgres: pg_ctlcluster --skip-systemctl-redirect <version> <cluster> start
#             (the newest version under /etc/postgresql, its first cluster)
#   Redis:    redis-server --daemonize yes --bind 127.0.0.1 --port <port> --save "" --appendonly no
# Exits non-zero, saying why, when a server does not answer within WAIT_SECONDS (default 30).
set -euo pipefail

START=0
case "${1:-}" in
    --start) START=1 ;;
    "") ;;
    *) echo "usage: $0 [--start]" >&2; exit 2 ;;
esac

WAIT_SECONDS="${WAIT_SECONDS:-30}"
DB_URL="${TASKDECK_TEST_DATABASE_URL:-postgresql+asyncpg://root@127.0.0.1:5432/postgres}"
REDIS_URL_="${TASKDECK_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"

say() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

# scheme://[user[:password]@]host[:port][/...]  ->  "host port"
host_port() {
    local rest="${1#*://}" default_port="$2" hostport
    rest="${rest%%/*}"
    rest="${rest%%\?*}"
    hostport="${rest##*@}"
    case "$hostport" in
        *:*) printf '%s %s\n' "${hostport%%:*}" "${hostport##*:}" ;;
        "") printf '127.0.0.1 %s\n' "$default_port" ;;
        *) printf '%s %s\n' "$hostport" "$default_port" ;;
    esac
}

is_local() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ] || [ "$1" = ::1 ]; }

# wait_for <what> <command...>: retry once a second until it answers or time runs out
wait_for() {
    local what="$1" i
    shift
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    die "$what did not answer within ${WAIT_SECONDS}s"
}

read -r PG_HOST PG_PORT < <(host_port "$DB_URL" 5432)
read -r REDIS_HOST REDIS_PORT < <(host_port "$REDIS_URL_" 6379)

command -v pg_isready >/dev/null 2>&1 \
    || die "pg_isready not found; install postgresql-client (Debian: apt-get install postgresql)"
command -v redis-cli >/dev/null 2>&1 \
    || die "redis-cli not found; install redis-tools (Debian: apt-get install redis-server)"

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }
redis_up() { [ "$(timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

# --- Postgres ---------------------------------------------------------------------------------
if pg_up; then
    say "postgres at $PG_HOST:$PG_PORT is up"
elif [ "$START" = 1 ] && is_local "$PG_HOST"; then
    command -v pg_ctlcluster >/dev/null 2>&1 \
        || die "postgres at $PG_HOST:$PG_PORT is down and pg_ctlcluster is missing (Debian: apt-get install postgresql)"
    [ -d /etc/postgresql ] && [ -n "$(ls -A /etc/postgresql)" ] \
        || die "postgres at $PG_HOST:$PG_PORT is down and no cluster exists under /etc/postgresql"
    PG_VERSION="$(ls /etc/postgresql | sort -V | tail -n 1)"
    PG_CLUSTER="$(ls "/etc/postgresql/$PG_VERSION" | head -n 1)"
    say "starting postgres cluster $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start \
        || die "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
    wait_for "postgres at $PG_HOST:$PG_PORT" pg_up
    say "postgres at $PG_HOST:$PG_PORT is up"
else
    die "postgres at $PG_HOST:$PG_PORT does not answer (pg_isready)"
fi

# The server answering is not enough: the tests' role must be able to log in.
if command -v psql >/dev/null 2>&1; then
    scheme="${DB_URL%%://*}"
    if ! err="$(PGCONNECT_TIMEOUT=5 psql "${scheme%%+*}://${DB_URL#*://}" -Atqc 'select 1' 2>&1 >/dev/null)"; then
        die "postgres answers but the test URL cannot log in: ${err}
  (trust auth for that role is expected, e.g. as postgres: createuser --superuser root)"
    fi
fi

# --- Redis ------------------------------------------------------------------------------------
if redis_up; then
    say "redis at $REDIS_HOST:$REDIS_PORT is up"
elif [ "$START" = 1 ] && is_local "$REDIS_HOST"; then
    command -v redis-server >/dev/null 2>&1 \
        || die "redis at $REDIS_HOST:$REDIS_PORT is down and redis-server is missing (Debian: apt-get install redis-server)"
    say "starting redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        || die "redis-server failed to start"
    wait_for "redis at $REDIS_HOST:$REDIS_PORT" redis_up
    say "redis at $REDIS_HOST:$REDIS_PORT is up"
else
    die "redis at $REDIS_HOST:$REDIS_PORT does not answer (redis-cli ping)"
fi
