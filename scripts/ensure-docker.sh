#!/usr/bin/env bash
# Make sure a Docker engine answers. Where systemd manages it, start the unit;
# where nothing does (CI machines run without systemd as PID 1), start dockerd.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl start docker || true
else
  command -v dockerd >/dev/null || { echo "ensure-docker: dockerd is not installed (run make setup)" >&2; exit 1; }
  echo "ensure-docker: starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: the Docker engine did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1
