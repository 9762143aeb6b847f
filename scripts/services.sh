#!/usr/bin/env bash
# Makes sure the servers the tests talk to answer: PostgreSQL on 127.0.0.1:5432 and Redis on
# 127.0.0.1:6379. This machine kind starts both before every session and before CI; a server that
# has stopped is started again with the machine's documented command. A server that still does not
# answer fails the run (tests that need one must never skip silently).
set -euo pipefail

log() { echo "services: $*" >&2; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

wait_for() {
    local name=$1 check=$2
    for _ in $(seq 1 30); do
        "$check" && return 0
        sleep 1
    done
    log "$name does not answer after 30 s"
    return 1
}

if ! pg_up; then
    log "PostgreSQL does not answer on 127.0.0.1:5432: starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    wait_for PostgreSQL pg_up
fi
log "PostgreSQL answers on 127.0.0.1:5432"

if ! redis_up; then
    log "Redis does not answer on 127.0.0.1:6379: starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_for Redis redis_up
fi
log "Redis answers on 127.0.0.1:6379"
