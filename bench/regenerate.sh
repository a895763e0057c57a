#!/usr/bin/env bash
# Regenerates docs/benchmarks.md and docs/append-throughput.png in one command (run from anywhere):
#   bench/regenerate.sh            # the full run (7 rounds per contender; about 25 minutes on 2 cores)
#   bench/regenerate.sh --quick    # the CI smoke run, writes nothing
# Starts a private throwaway PostgreSQL (a shared server's transactions hold back the gap-safe read-all and would
# skew freshness), uses the broker of ORDERSES_TEST_RABBITMQ_URL or starts one, and stops what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:---full}"

eval "$(.ci/postgres.sh start)"
started_rabbit=""
cleanup() {
  .ci/postgres.sh stop "$ORDERSES_PG_DIR"
  if [ -n "$started_rabbit" ]; then .ci/rabbitmq.sh stop; fi
}
trap cleanup EXIT
if [ -z "${ORDERSES_TEST_RABBITMQ_URL:-}" ]; then
  eval "$(.ci/rabbitmq.sh start)"
  started_rabbit=1
fi

dotnet run -c Release --project bench -- "$mode"
