#!/usr/bin/env bash
# Regenerates docs/benchmarks.md and docs/append-throughput.png in one command (run from anywhere):
#   bench/regenerate.sh            # the full run (7 rounds per contender; about 25 minutes on 2 cores)
#   bench/regenerate.sh --quick    # the CI smoke run, writes nothing
# Starts a private throwaway PostgreSQL (a shared server's transactions hold back the gap-safe read-all and would
# skew freshness), uses the broker of ORDERSES_TEST_RABBITMQ_URL or starts one, and stops what it started.
# The full run also starts a second server with fsync and synchronous_commit on, for the durable append figure,
# and measures the disk's own flush rate with pg_test_fsync (fdatasync, one 8 kB write: PostgreSQL's WAL flush on Linux).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:---full}"

eval "$(.ci/postgres.sh start)"
started_rabbit=""
cleanup() {
  .ci/postgres.sh stop "$ORDERSES_PG_DIR"
  if [ -n "${ORDERSES_PG_DURABLE_DIR:-}" ]; then .ci/postgres.sh stop "$ORDERSES_PG_DURABLE_DIR"; fi
  if [ -n "$started_rabbit" ]; then .ci/rabbitmq.sh stop; fi
}
trap cleanup EXIT
if [ "$mode" != --quick ]; then
  eval "$(.ci/postgres.sh start --durable)"
  export ORDERSES_BENCH_POSTGRES_DURABLE
  # The file goes beside the durable server's data, on the same disk.
  pg_test_fsync=$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | tail -n1 || true)
  if [ -n "$pg_test_fsync" ]; then
    # awk reads to the end: an early exit would kill pg_test_fsync with SIGPIPE, and pipefail this script.
    ORDERSES_BENCH_DISK_FSYNC_OPS=$("$pg_test_fsync" -s 2 -f "$ORDERSES_PG_DURABLE_DIR/fsync.test" \
      | awk '/one 8kB write/ { one = 1 } one && !found && $1 == "fdatasync" { print $2; found = 1 }') || true
    export ORDERSES_BENCH_DISK_FSYNC_OPS
  fi
fi
if [ -z "${ORDERSES_TEST_RABBITMQ_URL:-}" ]; then
  eval "$(.ci/rabbitmq.sh start)"
  started_rabbit=1
fi

dotnet run -c Release --project bench -- "$mode"
