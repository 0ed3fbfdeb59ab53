#!/bin/bash
# Backend stand-in of molecule/cutover: like the MS5.0 backend it connects as
# ms5_user_production to host `postgres` on ms5_network_production (PG* variables)
# and writes one metric_hist row per second, a new connection each time (as a pool
# reconnects). Every attempt is logged to /standin/writes.log as
#   ok <unix time> <value>     or     fail <unix time> <error>
# so the scenario can count failed writes and find the gap of the write pause.
set -uo pipefail
# docker stop: finish (and log) the write in flight, then leave.
stop=""
trap 'stop=1' TERM INT
log=/standin/writes.log
n=$(( $(grep -c '^ok ' "$log" 2>/dev/null || echo 0) + 1 ))
while [ -z "$stop" ]; do
  now=$(date +%s.%N)
  if out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c \
      "INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_int)
       SELECT id, now(), $n FROM factory_telemetry.metric_def
       WHERE equipment_code = 'STANDIN' AND metric_key = 'heartbeat' RETURNING value_int" 2>&1) \
     && [ "$out" = "$n" ]; then
    echo "ok $now $n" >> "$log"
    n=$((n + 1))
  else
    echo "fail $now $(echo "$out" | tr '\n' ' ' | cut -c1-200)" >> "$log"
  fi
  [ -n "$stop" ] || { sleep 1 & wait $!; }
done
