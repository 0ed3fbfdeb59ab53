#!/bin/sh
# Runs inside the chroot after images/host/customize.sh. Docker is installed but
# not configured: the docker role writes daemon.json and the service drop-in.
set -eu
apt-get clean
rm -rf /var/lib/apt/lists/*
touch -d @0 /var/lib/apt/lists
