#!/usr/bin/env bash
# Builds the Debian package from a configured and built tree (`make deb` calls it):
#   packaging/build-deb.sh BUILD_DIR OUTDIR      -> OUTDIR/safehold_<version>_<arch>.deb
# Installs the tree into a staging root with `cmake --install --prefix /usr --strip` (binary, man
# pages, units, docs), gzips the man pages, adds the copyright file, computes Depends from the
# shared libraries the binary really links (dpkg-shlibdeps: runtime libraries only, never -dev or
# build tools), and builds with dpkg-deb (root-owned files, md5sums). Prints the .deb's path.
# DEB_COMPRESS (default xz) is dpkg-deb's -Z: the package test of a sanitizer build uses gzip,
# which packs its ~100 MB binary in seconds where xz takes minutes.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUTDIR" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root

DESTDIR=$root cmake --install "$build" --prefix /usr --strip >"$stage/install.log" ||
  { cat "$stage/install.log" >&2; exit 1; }
[ -x "$root/usr/bin/safehold" ] || { echo "build-deb: no usr/bin/safehold after install" >&2; exit 1; }
gzip -9n "$root"/usr/share/man/man1/*.1
install -D -m 0644 "$src/packaging/debian/copyright" "$root/usr/share/doc/safehold/copyright"
# Whatever the umask of the caller: directories 0755, files 0644, the binary 0755.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$root/usr/bin/safehold"

version=$("$root/usr/bin/safehold" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
# dpkg-shlibdeps reads debian/control of a source tree: give it a minimal one.
mkdir -p "$stage/src/debian"
printf 'Source: safehold\n\nPackage: safehold\nArchitecture: any\n' >"$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O -e"$root/usr/bin/safehold" 2>"$stage/shlibdeps.log" |
  sed -n 's/^shlibs:Depends=//p') || { cat "$stage/shlibdeps.log" >&2; exit 1; }
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --apparent-size "$root/usr" | cut -f1)

mkdir -p "$root/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  "$src/packaging/debian/control.in" >"$root/DEBIAN/control"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
deb="$out/safehold_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
