#!/usr/bin/env bash
# Build one local test image from Debian packages (debootstrap + docker import),
# cached by a hash of its recipe: images/NAME/{packages,customize.sh,image.conf,rootfs/}.
# Usage: scripts/build-test-image.sh NAME
# Result: docker image ms5-test-NAME:<hash> tagged :latest too, and an exported
# tarball $MS5_IMAGE_CACHE/ms5-test-NAME.tar (for loading into nested engines).
set -euo pipefail

name="${1:?usage: build-test-image.sh NAME}"
here="$(cd "$(dirname "$0")/.." && pwd)"
recipe="$here/images/$name"
suite="${MS5_DEBIAN_SUITE:-trixie}"
mirror="${MS5_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${MS5_IMAGE_CACHE:-/var/cache/ms5-test-images}"
image="ms5-test-$name"

[ -d "$recipe" ] || { echo "build-test-image: no recipe at $recipe" >&2; exit 2; }

hash="$( (cd "$recipe" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$suite") \
  | sha256sum | cut -c1-12)"

mkdir -p "$cache"
tarball="$cache/$image.tar"
stamp="$cache/$image.hash"
if docker image inspect "$image:$hash" >/dev/null 2>&1; then
  echo "build-test-image: $image:$hash is up to date"
  docker tag "$image:$hash" "$image:latest"
  if [ ! -s "$tarball" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    docker save "$image:latest" -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
    echo "$hash" > "$stamp"
  fi
  exit 0
fi

echo "build-test-image: building $image:$hash from Debian $suite"
root="$(mktemp -d /var/tmp/ms5-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
include="$(grep -v '^#' "$recipe/packages" | xargs | tr ' ' ',')"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
  > "$root.log" 2>&1 || { tail -30 "$root.log" >&2; exit 1; }
rm -f "$root.log"
if [ -d "$recipe/rootfs" ]; then
  cp -a "$recipe/rootfs/." "$root/"
fi
cp "$recipe/customize.sh" "$root/tmp/customize.sh"
chroot "$root" /bin/sh /tmp/customize.sh
rm -f "$root/tmp/customize.sh"

changes=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  changes+=(--change "$line")
done < "$recipe/image.conf"

tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$image:$hash"
docker tag "$image:$hash" "$image:latest"
docker save "$image:latest" -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
echo "$hash" > "$stamp"
echo "build-test-image: built $image:$hash"
