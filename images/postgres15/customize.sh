#!/bin/sh
# Runs inside the debootstrapped rootfs (chroot) of the PostgreSQL 15 test image:
# Debian 12's postgresql-15 laid out like the official postgres:15 image
# (PGDATA=/var/lib/postgresql/data, initdb scripts in /docker-entrypoint-initdb.d).
set -eu
# The Debian package creates a cluster of its own; the entrypoint makes ours.
rm -rf /etc/postgresql/15/main /var/lib/postgresql/15
mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d
chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
chmod 2777 /var/run/postgresql
chmod 0755 /usr/local/bin/docker-entrypoint.sh
sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' /etc/locale.gen
locale-gen >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
