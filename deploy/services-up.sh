#!/usr/bin/env bash
# Starts the local PostgreSQL and RabbitMQ when they are not running, and waits for both.
# Used by .ci/run and by deploy/start-local.sh; does nothing when both already answer.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
amqp_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if ! pg_up; then
  echo "services-up: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
fi
if ! amqp_up; then
  echo "services-up: starting RabbitMQ"
  rabbitmq-server -detached || true
fi

for _ in $(seq 1 120); do
  if pg_up && amqp_up; then
    # RabbitMQ accepts TCP a little before it serves AMQP; wait for the app itself.
    if command -v rabbitmqctl >/dev/null 2>&1; then
      rabbitmqctl -q await_startup >/dev/null 2>&1 || { sleep 1; continue; }
    fi
    echo "services-up: PostgreSQL and RabbitMQ are up"
    exit 0
  fi
  sleep 1
done
pg_up || echo "services-up: PostgreSQL did not come up on 127.0.0.1:5432" >&2
amqp_up || echo "services-up: RabbitMQ did not come up on 127.0.0.1:5672" >&2
exit 1
