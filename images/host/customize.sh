#!/bin/sh
# Runs inside the debootstrapped rootfs (chroot) of the host test image:
# Debian 13 with systemd as PID 1, the stand-in for an Ubuntu server.
set -eu
# Units that cannot work in a container and would only add noise.
for unit in systemd-modules-load.service sys-kernel-config.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount systemd-firstboot.service \
    systemd-udevd.service systemd-remount-fs.service getty.target \
    console-getty.service; do
  ln -sf /dev/null "/etc/systemd/system/${unit}"
done
# A fresh machine-id at every boot, as on a newly provisioned server.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# Keep downloaded packages (a shared apt cache may be mounted over this).
rm -f /etc/apt/apt.conf.d/docker-clean
printf 'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian trixie-updates main\ndeb http://deb.debian.org/debian-security trixie-security main\n' \
  > /etc/apt/sources.list
apt-get clean
rm -rf /var/lib/apt/lists/*
# An empty package list that looks old, as on a fresh server: apt caches must update.
touch -d @0 /var/lib/apt/lists
