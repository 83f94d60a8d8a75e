#!/usr/bin/env bash
# Starts the system on this machine: services, release build, migrations, then the workers
# (IMPORTS_WORKERS processes, default 2) until Ctrl-C or SIGTERM, which stops them gracefully.
# Configuration: the variables of README.md (DATABASE_URL, AMQP_URL, IMPORTS_QUEUE...).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/services-up.sh
cargo build --release --bins
target/release/imports-worker migrate

pids=()
stop() {
  echo "start-local: stopping workers"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM

for _ in $(seq 1 "${IMPORTS_WORKERS:-2}"); do
  target/release/imports-worker run &
  pids+=($!)
done
echo "start-local: ${#pids[@]} workers running (pids ${pids[*]}); Ctrl-C stops them"
wait "${pids[@]}"
