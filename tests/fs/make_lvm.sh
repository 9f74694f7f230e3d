#!/usr/bin/env bash
# Generates the LVM2 images the LVM tests read (tests/fs/test_lvm.cpp), in DIR, with LVM's own
# tools on loop devices (losetup: needs root) and activation off (global/activation=0): no
# device-mapper is needed, so the logical volumes' data is written into their extents with dd at
# the offsets `pvs`/`vgs`/`lvs` report.
#   DIR/lvone.fs   ext4 (12 MiB, 1 KiB blocks): a JPEG, a text file, a 9 MB file that spans
#                  the logical volume's extents
#   DIR/lvtwo.fs   FAT12 (4 MiB): a text file
#   DIR/pv.img     a 24 MiB physical volume (the whole image) of volume group $vg: lvone (8 MiB,
#                  then extended by 4 MiB after lvtwo was made: two segments, not contiguous)
#                  and lvtwo (4 MiB), holding lvone.fs and lvtwo.fs
#   DIR/disk.img   an MBR disk whose partition 1 (type 0x8e, from 1 MiB) is pv.img
#   DIR/half.img   the first of the two physical volumes of volume group ${vg}b: lvhere lies on
#                  it and holds lvtwo.fs, lvthere on the missing second one
#   DIR/layout.txt the extents written: "LV LE_START PE_FIRST PE_LAST" a line
#   DIR/other-uuid.txt the UUID of the second physical volume of ${vg}b (not in half.img)
# usage: tests/fs/make_lvm.sh DIR VG   (VG: a volume group name no other run uses)
set -euo pipefail
dir=$1
vg=$2
cd "$dir"
loops=()
cleanup() {
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT
attach() { # FILE: attaches it; the loop device is then "${loops[-1]}" (detached at exit)
  loops+=("$(losetup -f --show "$1")")
}
lvmc() { # CMD DEVICES... -- ARGS: an LVM command seeing only DEVICES, activation off, no backups
  local cmd=$1 filter="" dev
  shift
  while [ "$1" != "--" ]; do
    filter+="\"a|^$1\$|\","
    shift
  done
  shift
  LVM_SUPPRESS_FD_WARNINGS=1 "$cmd" --config "devices{filter=[${filter}\"r|.*|\"] \
    obtain_device_list_from_udev=0} global{activation=0 use_lvmetad=0} \
    activation{udev_sync=0 udev_rules=0} backup{backup=0 archive=0}" "$@" 2>/dev/null
}

mkdir -p src1/DCIM src2
convert -size 160x120 plasma:fractal src1/DCIM/IMG_0001.jpg
printf 'hello from lvone\n' >src1/a.txt
head -c 9000000 /dev/urandom >src1/big.bin
printf 'hello from lvtwo\n' >src2/B.TXT
truncate -s 12M lvone.fs
mkfs.ext4 -q -F -b 1024 -d src1 lvone.fs
mkfs.fat -C -F 12 lvtwo.fs 4096 >/dev/null
mcopy -i lvtwo.fs src2/B.TXT ::/B.TXT

# pv.img: lvone, lvtwo, lvone extended (so lvone's extents are 0-1 and 3).
truncate -s 24M pv.img
attach pv.img
l=${loops[-1]}
lvmc pvcreate "$l" -- -ff -y "$l" >/dev/null
lvmc vgcreate "$l" -- "$vg" "$l" >/dev/null
lvmc lvcreate "$l" -- -an -Zn -L 8M -n lvone "$vg" >/dev/null
lvmc lvcreate "$l" -- -an -Zn -L 4M -n lvtwo "$vg" >/dev/null
lvmc lvextend "$l" -- -L +4M "$vg/lvone" >/dev/null
pe_start=$(lvmc pvs "$l" -- --noheadings --units b --nosuffix -o pe_start "$l" | tr -d ' ')
extent=$(lvmc vgs "$l" -- --noheadings --units b --nosuffix -o vg_extent_size "$vg" | tr -d ' ')
# "lvone 0 /dev/loop0:0-1" a segment: LV, its first logical extent, PV:first-last physical extent
lvmc lvs "$l" -- --noheadings --separator ' ' -o lv_name,seg_start_pe,seg_pe_ranges "$vg" |
  sed 's/^ *//; s/ [^ ]*:/ /; s/-/ /' >layout.txt
while read -r lv le first last; do
  dd if="$lv.fs" of=pv.img bs="$extent" skip="$le" count=$((last - first + 1)) \
    oflag=seek_bytes conv=notrunc status=none seek=$((pe_start + first * extent))
done <layout.txt

# disk.img: the same physical volume as MBR partition 1.
truncate -s 26M disk.img
echo 'start=2048, size=49152, type=8e' | sfdisk -q disk.img
dd if=pv.img of=disk.img bs=1M seek=1 conv=notrunc status=none

# half.img: the first physical volume of a group of two.
truncate -s 12M half.img other.img
attach half.img
a=${loops[-1]}
attach other.img
b=${loops[-1]}
lvmc pvcreate "$a" "$b" -- -ff -y "$a" "$b" >/dev/null
lvmc vgcreate "$a" "$b" -- "${vg}b" "$a" "$b" >/dev/null
lvmc lvcreate "$a" "$b" -- -an -Zn -L 4M -n lvhere "${vg}b" "$a" >/dev/null
lvmc lvcreate "$a" "$b" -- -an -Zn -L 4M -n lvthere "${vg}b" "$b" >/dev/null
pe_a=$(lvmc pvs "$a" "$b" -- --noheadings --units b --nosuffix -o pe_start "$a" | tr -d ' ')
first=$(lvmc lvs "$a" "$b" -- --noheadings -o seg_pe_ranges "${vg}b/lvhere" | sed 's/.*://; s/-.*//')
dd if=lvtwo.fs of=half.img bs=1M oflag=seek_bytes seek=$((pe_a + first * extent)) \
  conv=notrunc status=none
lvmc pvs "$a" "$b" -- --noheadings -o pv_uuid "$b" | tr -d ' ' >other-uuid.txt
