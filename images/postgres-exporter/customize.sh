#!/bin/sh
# Runs inside the debootstrapped rootfs of the postgres_exporter test image.
# The official image is busybox with /bin/postgres_exporter; the role relies on
# that path, on DATA_SOURCE_URI / DATA_SOURCE_USER / DATA_SOURCE_PASS_FILE, on
# --extend.query-path, on port 9187 and on `wget` and `sh` for its health check.
set -eu
ln -sf /usr/bin/prometheus-postgres-exporter /bin/postgres_exporter
[ -e /bin/wget ] || ln -s /bin/busybox /bin/wget
# The Debian service and its defaults are not used in a container.
rm -f /etc/default/prometheus-postgres-exporter
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
