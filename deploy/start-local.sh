#!/usr/bin/env bash
# Starts the system on this machine: services if they are down, a release build, the
# migrations, then the API (on API_ADDR, default 127.0.0.1:8080) and IMPORTS_WORKERS workers
# (default 2), until Ctrl-C or SIGTERM, which stops them gracefully.
# Configuration: the variables of docs/operations.md (DATABASE_URL, AMQP_URL, IMPORTS_QUEUE...).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/services-up.sh
cargo build --release --bins
target/release/imports-api migrate

pids=()
stop() {
  echo "start-local: stopping"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

target/release/imports-api serve &
pids+=($!)
# Each worker serves /livez, /readyz and /metrics on its own port: 9090, 9091...
for i in $(seq 1 "${IMPORTS_WORKERS:-2}"); do
  WORKER_HTTP_ADDR="127.0.0.1:$((9089 + i))" \
    target/release/imports-worker run &
  pids+=($!)
done
echo "start-local: API on ${API_ADDR:-127.0.0.1:8080} and ${IMPORTS_WORKERS:-2} workers running; Ctrl-C stops them"
echo "start-local: create a token with: target/release/imports-api tokens create --organization acme --mode test"
wait "${pids[@]}"
