#!/usr/bin/env bash
# Builds the hakgal Debian package from a built binary (`make deb`).
#   scripts/build-deb.sh [BINARY] [OUTDIR]     (defaults: build/hakgal, build)
# Contents: /usr/bin/hakgal (stripped), its man page generated from --help by
# help2man, the systemd unit, /etc/hakgal/hakgal.conf and /etc/default/hakgal
# (conffiles), and maintainer scripts that create the hakgal system user and
# /var/lib/hakgal (deploy/debian/). Depends are computed by dpkg-shlibdeps.
# Prints the path of the .deb on stdout.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$SRC/build/hakgal}"
OUT="${2:-$SRC/build}"
DEB="$SRC/deploy/debian"
for tool in dpkg-deb dpkg-shlibdeps help2man fakeroot; do
  command -v "$tool" >/dev/null ||
    { echo "build-deb: $tool missing (bash scripts/deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "build-deb: no binary at $BIN (make build)" >&2; exit 1; }
BIN="$(realpath "$BIN")"
mkdir -p "$OUT"
OUT="$(realpath "$OUT")"

VERSION="$("$BIN" --version | awk '{print $2}')"
ARCH="$(dpkg --print-architecture)"
WORK="$(mktemp -d "$OUT/deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"

install -d "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/usr/share/man/man1" \
  "$ROOT/lib/systemd/system" "$ROOT/etc/hakgal" "$ROOT/etc/default" \
  "$ROOT/usr/share/doc/hakgal"
install -m 0755 "$BIN" "$ROOT/usr/bin/hakgal"
strip --strip-unneeded "$ROOT/usr/bin/hakgal"
# the web explorer built next to the binary, found by `hakgal serve` as
# /usr/share/hakgal/web (../share/hakgal/web from /usr/bin)
WEB="$(dirname "$BIN")/web"
if [ -f "$WEB/index.html" ]; then
  install -d "$ROOT/usr/share/hakgal"
  cp -r "$WEB" "$ROOT/usr/share/hakgal/web"
  find "$ROOT/usr/share/hakgal/web" -type d -exec chmod 0755 {} +
  find "$ROOT/usr/share/hakgal/web" -type f -exec chmod 0644 {} +
fi
install -m 0644 "$DEB/hakgal.service" "$ROOT/lib/systemd/system/hakgal.service"
install -m 0644 "$DEB/hakgal.conf" "$ROOT/etc/hakgal/hakgal.conf"
install -m 0644 "$DEB/default" "$ROOT/etc/default/hakgal"
for s in postinst prerm postrm; do
  install -m 0755 "$DEB/$s" "$ROOT/DEBIAN/$s"
done
printf '/etc/hakgal/hakgal.conf\n/etc/default/hakgal\n' >"$ROOT/DEBIAN/conffiles"

# Man page: `hakgal --help`, with `hakgal serve --help` as a section.
{
  echo "[SERVE]"
  "$BIN" serve --help | sed -e 's/^\([^ ]\)/\1/' -e 's/\\/\\\\/g'
  echo
  echo "[FILES]"
  echo "/etc/hakgal/hakgal.conf, /etc/default/hakgal, /var/lib/hakgal/kb"
} >"$WORK/serve.h2m"
help2man --no-info --no-discard-stderr --section 1 \
  --name "knowledge-graph fact store, server and CLI" \
  --include "$WORK/serve.h2m" --output "$WORK/hakgal.1" "$BIN"
gzip -9n <"$WORK/hakgal.1" >"$ROOT/usr/share/man/man1/hakgal.1.gz"
gzip -9n <"$SRC/README.md" >"$ROOT/usr/share/doc/hakgal/README.md.gz"
cat >"$ROOT/usr/share/doc/hakgal/copyright" <<'COPY'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hakgal
Files: *
Copyright: HAK-GAL maintainers
License: see the source repository
COPY

# Shared-library dependencies, as Debian's own packages compute them.
mkdir -p "$WORK/src/debian"
printf 'Source: hakgal\n\nPackage: hakgal\nArchitecture: any\n' \
  >"$WORK/src/debian/control"
DEPENDS="$(cd "$WORK/src" && dpkg-shlibdeps -O "$ROOT/usr/bin/hakgal" \
  2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$DEPENDS" ] || { echo "build-deb: dpkg-shlibdeps found nothing" >&2; exit 1; }
SIZE="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
  -e "s/@DEPENDS@/$DEPENDS/" -e "s/@SIZE@/$SIZE/" \
  "$DEB/control.in" >"$ROOT/DEBIAN/control"

PKG="$OUT/hakgal_${VERSION}_${ARCH}.deb"
fakeroot dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$PKG" >/dev/null
echo "$PKG"
