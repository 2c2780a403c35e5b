#!/usr/bin/env bash
# A local three-broker Cairn cluster on 127.0.0.1, in the background.
#   scripts/cluster.sh up       installs what is missing, builds, starts brokers 1..3
#                               on ports 7070..7072 (data and logs in ./data/broker-N),
#                               metrics on 9070..9072 (GET /metrics)
#   scripts/cluster.sh restart  a rolling restart: one broker at a time, each stopped
#                               cleanly (leaderships handed over) and caught up again
#   scripts/cluster.sh status   which brokers run, and the cluster as they see it
#   scripts/cluster.sh down     stops them cleanly (SIGTERM; data stays)
# Each broker reads data/broker-N.conf, written here: the format of
# deploy/cairnd.conf (docker-compose.yml) and docs/cairnd.conf.example.
# Extra arguments to `up` go to every cairnd (cairnd --help lists them);
# `up` starts only the brokers that are not running, and with
# CAIRN_SKIP_BUILD=1 it neither installs nor builds.
# The cairn CLI finds broker 1 at 127.0.0.1:7070 by default; any broker will do.
set -euo pipefail
cd "$(dirname "$0")/.."

BROKERS=(1 2 3)
port_of() { echo $((7069 + $1)); }
port_of_metrics_base=9069  # broker N serves /metrics on 127.0.0.1:9069+N
VOTERS="1@127.0.0.1:7070,2@127.0.0.1:7071,3@127.0.0.1:7072"
export CAIRN_BROKERS="127.0.0.1:7070,127.0.0.1:7071,127.0.0.1:7072"

# A killed broker whose parent is gone may linger as a zombie: not running.
running() {
  local pid state
  pid=$(cat "data/broker-$1.pid" 2>/dev/null) || return 1
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ "$state" != Z* ]]
}

# Starts broker $1 in the background with its config file; the rest of
# the arguments go to cairnd.
start_broker() {
  local id=$1
  shift
  cat > "data/broker-$id.conf" <<CONF
# Written by scripts/cluster.sh; every option: docs/cairnd.conf.example.
node-id = $id
listen = 127.0.0.1:$(port_of "$id")
metrics-listen = 127.0.0.1:$((port_of_metrics_base + id))
data-dir = data/broker-$id
controller-voters = $VOTERS
CONF
  build/bin/cairnd --config "data/broker-$id.conf" "$@" >> "data/broker-$id.log" 2>&1 &
  echo $! > "data/broker-$id.pid"
}

# SIGTERM: a clean shutdown, which first hands the broker's leaderships to
# caught-up followers. After 60 s, SIGKILL (what the log says then matters).
stop_broker() {
  kill -TERM "$(cat "data/broker-$1.pid")" 2>/dev/null || true
  local give_up=$((SECONDS + 60))
  while running "$1"; do
    if ((SECONDS >= give_up)); then
      echo "broker $1 did not stop within 60 s; killing it (see data/broker-$1.log)" >&2
      kill -KILL "$(cat "data/broker-$1.pid")" 2>/dev/null || true
    fi
    sleep 0.1
  done
}

up() {
  if [[ -z "${CAIRN_SKIP_BUILD:-}" ]]; then
    bash scripts/install-deps.sh
    bash scripts/build.sh
  fi
  mkdir -p data
  for id in "${BROKERS[@]}"; do
    if running "$id"; then
      echo "broker $id already runs (pid $(cat "data/broker-$id.pid"))"
      continue
    fi
    start_broker "$id" "$@"
  done
  # Serving once each answers; the cluster once a controller is elected.
  for _ in $(seq 1 100); do
    if build/bin/cairn cluster describe > /dev/null 2>&1; then
      build/bin/cairn cluster describe
      echo "logs: data/broker-N.log; try: build/bin/cairn topic create demo --partitions 3 --replication-factor 3"
      return 0
    fi
    for id in "${BROKERS[@]}"; do
      if ! running "$id"; then
        echo "broker $id exited; the end of data/broker-$id.log says why:" >&2
        tail -n 5 "data/broker-$id.log" >&2
        return 1
      fi
    done
    sleep 0.2
  done
  echo "the cluster did not elect a controller within 20 s; see data/broker-N.log" >&2
  return 1
}

down() {
  for id in "${BROKERS[@]}"; do
    if running "$id"; then
      stop_broker "$id"
      echo "broker $id stopped"
    fi
    rm -f "data/broker-$id.pid"
  done
}

# A rolling restart (after an upgrade or a config change): one broker at a
# time is stopped cleanly (its leaderships move first, so each partition is
# without a leader for one transfer), started again, and waited for until
# `cairn cluster health` says every replica caught up; then leaders go back
# to their preferred brokers.
restart() {
  for id in "${BROKERS[@]}"; do
    if running "$id"; then
      stop_broker "$id"
      echo "broker $id stopped (its leaderships handed over)"
    fi
    start_broker "$id" "$@"
    local healthy="" give_up=$((SECONDS + 60))
    # Caught up is what the leaders saw in the last 5 s: wait that long first.
    sleep 5
    while ((SECONDS < give_up)); do
      if build/bin/cairn cluster health > /dev/null 2>&1; then healthy=yes; break; fi
      if ! running "$id"; then
        echo "broker $id exited; the end of data/broker-$id.log says why:" >&2
        tail -n 5 "data/broker-$id.log" >&2
        return 1
      fi
      sleep 0.1
    done
    if [[ -z "$healthy" ]]; then
      echo "broker $id is back but the cluster is not healthy after 60 s; stopping here:" >&2
      build/bin/cairn cluster health >&2 || true
      return 1
    fi
    echo "broker $id back, every replica caught up"
  done
  build/bin/cairn cluster rebalance-leaders
}

status() {
  for id in "${BROKERS[@]}"; do
    if running "$id"; then
      echo "broker $id: running (pid $(cat "data/broker-$id.pid")) on 127.0.0.1:$(port_of "$id")"
    else
      echo "broker $id: not running"
    fi
  done
  build/bin/cairn cluster describe || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  restart) shift; restart "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up [cairnd flags...] | restart [cairnd flags...] | status | down" >&2; exit 2 ;;
esac
