#!/usr/bin/env bash
# Build one local test image from Debian packages (debootstrap + docker import),
# cached by a hash of its recipe: images/NAME/{packages,customize.sh,image.conf,rootfs/,suite}.
#   packages     one Debian package per line; a line "@OTHER" includes images/OTHER/packages
#   customize.sh runs in the chroot after debootstrap (and after OTHER's customize.sh for
#                every "@OTHER" line, in order)
#   suite        optional: the Debian suite (default trixie), e.g. bookworm
#   nested       optional marker: the image runs inside the test hosts' own engines, so
#                it is also exported as a tarball for `docker load` there
# Usage: scripts/build-test-image.sh NAME
# Result: docker image ms5-test-NAME:<hash> tagged :latest too and, for nested images,
# the tarball $MS5_IMAGE_CACHE/ms5-test-NAME.tar.
set -euo pipefail

name="${1:?usage: build-test-image.sh NAME}"
here="$(cd "$(dirname "$0")/.." && pwd)"
recipe="$here/images/$name"
suite="trixie"
mirror="${MS5_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${MS5_IMAGE_CACHE:-/var/cache/ms5-test-images}"
image="ms5-test-$name"

[ -d "$recipe" ] || { echo "build-test-image: no recipe at $recipe" >&2; exit 2; }
if [ -s "$recipe/suite" ]; then
  suite="$(tr -d '[:space:]' < "$recipe/suite")"
fi
suite="${MS5_DEBIAN_SUITE:-$suite}"

# Recipes this one includes ("@OTHER" lines in packages), in order.
includes=()
while IFS= read -r line; do
  case "$line" in
    @*) other="${line#@}"; [ -d "$here/images/$other" ] || { echo "build-test-image: $name includes unknown recipe $other" >&2; exit 2; }
        includes+=("$other") ;;
  esac
done < "$recipe/packages"

hash="$( (for r in "${includes[@]}" "$name"; do
            (cd "$here/images/$r" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|  \./|  $r/|")
          done; echo "$suite") | sha256sum | cut -c1-12)"

mkdir -p "$cache"
tarball="$cache/$image.tar"
stamp="$cache/$image.hash"
if docker image inspect "$image:$hash" >/dev/null 2>&1; then
  echo "build-test-image: $image:$hash is up to date"
  docker tag "$image:$hash" "$image:latest"
  if [ -f "$recipe/nested" ] && { [ ! -s "$tarball" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; }; then
    docker save "$image:latest" -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
    echo "$hash" > "$stamp"
  fi
  exit 0
fi

echo "build-test-image: building $image:$hash from Debian $suite"
root="$(mktemp -d /var/tmp/ms5-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
include="$(for r in "${includes[@]}" "$name"; do grep -v -e '^#' -e '^@' "$here/images/$r/packages"; done | xargs | tr ' ' ',')"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
  > "$root.log" 2>&1 || { tail -30 "$root.log" >&2; exit 1; }
rm -f "$root.log"
for r in "${includes[@]}" "$name"; do
  if [ -d "$here/images/$r/rootfs" ]; then
    cp -a "$here/images/$r/rootfs/." "$root/"
  fi
  cp "$here/images/$r/customize.sh" "$root/tmp/customize.sh"
  chroot "$root" /bin/sh /tmp/customize.sh
  rm -f "$root/tmp/customize.sh"
done

# image.conf: the recipe's own, or the last included recipe's when it has none.
conf="$recipe/image.conf"
if [ ! -f "$conf" ] && [ "${#includes[@]}" -gt 0 ]; then
  conf="$here/images/${includes[-1]}/image.conf"
fi
changes=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  changes+=(--change "$line")
done < "$conf"

tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$image:$hash"
docker tag "$image:$hash" "$image:latest"
if [ -f "$recipe/nested" ]; then
  docker save "$image:latest" -o "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
  echo "$hash" > "$stamp"
fi
echo "build-test-image: built $image:$hash"
