#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the tests, from the machine's binaries.
#   eval "$(.ci/postgres.sh start)"   # prints: export ORDERSES_TEST_POSTGRES=...; export ORDERSES_PG_DIR=...
#   .ci/postgres.sh stop "$ORDERSES_PG_DIR"
#   eval "$(.ci/postgres.sh start --durable)"   # fsync and synchronous_commit on (the server's defaults), for the
#                                              # bench's durable append figure: ORDERSES_BENCH_POSTGRES_DURABLE, ORDERSES_PG_DURABLE_DIR
# The server refuses to run as root, so the cluster belongs to the `postgres` user.
set -euo pipefail

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  start)
    bin=$(dirname "$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n1)")
    dir=$(mktemp -d /tmp/orderses-pg.XXXXXX)
    chown postgres: "$dir" 2>/dev/null || true
    port=$(free_port)
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Settings for a disposable test server: fast, not durable across a machine crash (unless --durable).
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [ "${2:-}" = --durable ]; then durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"; fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 $durability" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    if [ "${2:-}" = --durable ]; then
      echo "export ORDERSES_BENCH_POSTGRES_DURABLE='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
      echo "export ORDERSES_PG_DURABLE_DIR='$dir'"
    else
      echo "export ORDERSES_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
      echo "export ORDERSES_PG_DIR='$dir'"
    fi
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    bin=$(dirname "$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n1)")
    [ -d "$dir/data" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start [--durable] | stop DIR" >&2
    exit 2
    ;;
esac
