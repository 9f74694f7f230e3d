#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the scheduler tests (start|stop).
# start: initdb + pg_ctl as the `postgres` user in a temp dir, listening only on a unix socket in
# that dir on a free port number; appends SAFEHOLD_TEST_PG_URL=postgresql://… to $SAFEHOLD_SERVICE_ENV.
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
STATE=${SAFEHOLD_SERVICE_ENV:-/tmp/safehold-services}.postgres
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
  start)
    if [ ! -x "$BIN/initdb" ]; then
      echo "postgres.sh: $BIN/initdb not found (apt-get install postgresql); PostgreSQL tests will be skipped" >&2
      exit 0
    fi
    dir=$(mktemp -d /tmp/safehold-pg-XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    # A free port number: nothing listens on TCP here, but the socket file name carries it.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -k $dir -p $port -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$dir" >"$STATE"
    # The socket folder goes percent-encoded in the host part: no '&' or '?' for the shell to eat.
    url="postgresql://postgres@${dir//\//%2F}:$port/postgres"
    if [ -n "${SAFEHOLD_SERVICE_ENV:-}" ]; then
      echo "SAFEHOLD_TEST_PG_URL='$url'" >>"$SAFEHOLD_SERVICE_ENV"
    fi
    echo "postgres.sh: cluster at $dir, $url"
    ;;
  stop)
    [ -f "$STATE" ] || exit 0
    dir=$(cat "$STATE")
    if [ -d "$dir/data" ]; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" "$STATE"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 1
    ;;
esac
