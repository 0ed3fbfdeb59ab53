#!/bin/sh
# Runs inside the debootstrapped rootfs of the Prometheus test image.
set -eu
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
