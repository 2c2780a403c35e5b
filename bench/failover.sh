#!/usr/bin/env bash
# Failover time of a local cluster (scripts/cluster.sh up must be running):
# ROUNDS times, SIGKILL the leader of partition 0 of topic `failover`
# (3 replicas), and time how long until an acks=all produce to that
# partition succeeds (the CLI's own retries ride through the election);
# then restart the broker and let it catch up. Prints each time, then the
# median and p99 in ms.
#   bench/failover.sh [ROUNDS]   default 20
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
CAIRN=build/bin/cairn
export CAIRN_BROKERS="127.0.0.1:7070,127.0.0.1:7071,127.0.0.1:7072"

$CAIRN topic describe failover > /dev/null 2>&1 ||
  $CAIRN topic create failover --partitions 1 --replication-factor 3 > /dev/null
now_ms() { date +%s%3N; }
leader_of_0() { $CAIRN topic describe failover | awk '$1 == "0" { print $2 }'; }

times=()
for round in $(seq 1 "$ROUNDS"); do
  echo warm | $CAIRN produce failover --partition 0 --acks all > /dev/null
  leader=$(leader_of_0)
  [[ "$leader" =~ ^[0-9]+$ ]] || { echo "no leader for failover/0" >&2; exit 1; }
  start=$(now_ms)
  kill -9 "$(cat "data/broker-$leader.pid")"
  echo "after-kill-$round" | $CAIRN produce failover --partition 0 --acks all > /dev/null
  elapsed=$(( $(now_ms) - start ))
  times+=("$elapsed")
  echo "round $round: killed broker $leader; acks=all produce succeeded after $elapsed ms"
  CAIRN_SKIP_BUILD=1 bash scripts/cluster.sh up > /dev/null
  sleep 7  # catch up, and let leadership go back to the preferred replica
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
p99_index=$(( (n * 99 + 99) / 100 - 1 ))
echo "failover over $n kills: median ${sorted[$((n / 2))]} ms, p99 ${sorted[$p99_index]} ms, max ${sorted[$((n - 1))]} ms"
