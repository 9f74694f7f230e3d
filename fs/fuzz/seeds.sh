#!/usr/bin/env bash
# Seeds for fs/'s fuzz targets that .ci/fuzz.sh runs: the LUKS reader's (SEEDS/luks),
# cryptsetup luksFormat headers on small files (no mapping needed), with few PBKDF2 iterations so
# that they unlock with fuzz_luks's passphrase "fuzz". fs/fuzz/run.sh makes the E01, filesystem
# and container seeds.  usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
mkdir -p "$seeds/luks"
luks() {
  truncate -s 1200k "$seeds/luks/$1"
  printf fuzz | cryptsetup luksFormat --batch-mode --pbkdf-force-iterations 1000 -d - \
    "${@:2}" "$seeds/luks/$1" >/dev/null 2>&1 || true
}
luks luks1-essiv --type luks1 -c aes-cbc-essiv:sha256 -s 128 --align-payload 2048
luks luks2 --type luks2 --pbkdf pbkdf2 --luks2-metadata-size 16k --luks2-keyslots-size 256k -s 256
# LVM2 seeds (SEEDS/lvm): the first 64 KiB (label, metadata area header and text) of physical
# volumes made by pvcreate/vgcreate/lvcreate on a loop device with activation off; only as root.
mkdir -p "$seeds/lvm" "$seeds/bitlocker"
if [ "$(id -u)" = 0 ] && command -v pvcreate >/dev/null; then
  pv=$(mktemp)
  truncate -s 16M "$pv"
  if loop=$(losetup -f --show "$pv" 2>/dev/null); then
    cfg="devices{filter=[\"a|^$loop\$|\",\"r|.*|\"]} global{activation=0}
      activation{udev_sync=0 udev_rules=0} backup{backup=0 archive=0}"
    vg=fuzz$$
    { pvcreate --config "$cfg" -ff -y "$loop" && vgcreate --config "$cfg" "$vg" "$loop" &&
      lvcreate --config "$cfg" -an -Zn -L 4M -n a "$vg" &&
      lvcreate --config "$cfg" -an -Zn -L 4M -n b "$vg" &&
      lvextend --config "$cfg" -L +4M "$vg/a"; } >/dev/null 2>&1 || true
    losetup -d "$loop"
    head -c 65536 "$pv" >"$seeds/lvm/pv"
    # The current metadata text alone (its offset: the area header's first raw location).
    at=$(od -An -tu8 -j $((4096 + 40)) -N8 "$pv" | tr -d ' ')
    len=$(od -An -tu8 -j $((4096 + 48)) -N8 "$pv" | tr -d ' ')
    tail -c +$((4096 + at + 1)) "$pv" | head -c "$len" >"$seeds/lvm/text"
  fi
  rm -f "$pv"
fi
# BitLocker seeds (SEEDS/bitlocker): a boot sector with BitLocker's OEM name and little else.
printf '\353\130\220-FVE-FS-' >"$seeds/bitlocker/fve"
head -c 501 /dev/zero >>"$seeds/bitlocker/fve"
# fuzz_fs_open seeds (SEEDS/fs_open): a small FAT and a small ext2 made by mkfs, each with a file
# (under the 64 KiB .ci/fuzz.sh gives inputs). fs/fuzz/run.sh adds E01s and larger images.
mkdir -p "$seeds/fs_open"
fsdir=$(mktemp -d)
echo "seed file" >"$fsdir/a.txt"
mkfs.fat -C -n SEED "$fsdir/fat.raw" 64 >/dev/null 2>&1 && mcopy -i "$fsdir/fat.raw" "$fsdir/a.txt" ::/a.txt >/dev/null 2>&1 &&
  cp "$fsdir/fat.raw" "$seeds/fs_open/fat.raw"
mkdir -p "$fsdir/tree" && cp "$fsdir/a.txt" "$fsdir/tree/"
truncate -s 64k "$fsdir/ext2.raw" && mke2fs -q -t ext2 -b 1024 -N 16 -d "$fsdir/tree" "$fsdir/ext2.raw" >/dev/null 2>&1 &&
  cp "$fsdir/ext2.raw" "$seeds/fs_open/ext2.raw"
rm -rf "$fsdir"
