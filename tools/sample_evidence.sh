#!/usr/bin/env bash
# Generates Safehold's sample evidence with real tools: three small disk images of different kinds,
# holding synthetic media (colour fields, shapes, noise, test patterns) made by real encoders and
# chat databases made by sqlite3. Needs root (ntfs-3g through FUSE).
#   tools/sample_evidence.sh OUTDIR
# OUTDIR/phone.raw     ext4 "Android" user-data partition (no partition table): SMS and WhatsApp
#                      databases, camera pictures and a video, a deleted picture
# OUTDIR/laptop.raw    MBR disk: NTFS (user pictures, a JPEG disguised as .dll, deleted files) and
#                      FAT32 (a video and a GIF)
# OUTDIR/usb.raw       FAT32 stick without a partition table: camera folder, deleted pictures
set -euo pipefail
out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/mnt"
MIB=$((1024 * 1024))
export MTOOLS_SKIP_CHECK=1

img() { convert "$@" 2>/dev/null; }
picture() { # picture FILE KIND N: synthetic pictures only
  case $2 in
    gradient) img -size 640x480 "gradient:#$(printf '%06x' $((($3 * 2654435761) % 16777215)))-#203060" -quality 90 "$1" ;;
    shapes) img -size 480x360 xc:"#e0e0d0" -fill "#$(printf '%06x' $((($3 * 40503) % 16777215)))" \
                -draw "circle 240,180 240,$((60 + $3 % 80))" -fill "#3060c0" -draw "rectangle 20,20 $((100 + $3)),120" "$1" ;;
    noise) img -size 400x300 xc:gray +noise Random -blur 0x$((1 + $3 % 3)) "$1" ;;
    progressive) img -size 800x600 "gradient:#c04020-#2040c0" -interlace Plane -quality 85 "$1" ;;
    exif) img -size 1024x768 "gradient:#408040-#f0f0a0" -quality 92 -set comment "Safehold sample" "$1" ;;
  esac
}
video() { # video FILE SECONDS
  ffmpeg -loglevel error -y -f lavfi -i "testsrc=duration=$2:size=320x240:rate=10" -pix_fmt yuv420p "$1"
}

sms_db() {
  sqlite3 "$1" <<'SQL'
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
  date_sent INTEGER, protocol INTEGER, read INTEGER, status INTEGER, type INTEGER, body TEXT);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY, thread_id INTEGER, date INTEGER, msg_box INTEGER);
CREATE TABLE addr (_id INTEGER PRIMARY KEY, msg_id INTEGER, address TEXT, type INTEGER);
CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, ct TEXT, text TEXT, _data TEXT);
INSERT INTO sms (thread_id, address, date, date_sent, read, type, body) VALUES
  (1, '+447700900001', 1764400000000, 1764400000000, 1, 1, 'Sample message one'),
  (1, '+447700900001', 1764400060000, 1764400060000, 1, 2, 'Sample reply two'),
  (2, '+447700900002', 1764403600000, 1764403600000, 0, 1, 'Sample message three');
SQL
}
whatsapp_db() {
  sqlite3 "$1" <<'SQL'
CREATE TABLE jid (_id INTEGER PRIMARY KEY, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY, jid_row_id INTEGER, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY, chat_row_id INTEGER, from_me INTEGER, key_id TEXT,
  sender_jid_row_id INTEGER, timestamp INTEGER, message_type INTEGER, text_data TEXT);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
  file_size INTEGER, mime_type TEXT);
INSERT INTO jid VALUES (1, '447700900003', 's.whatsapp.net', '447700900003@s.whatsapp.net');
INSERT INTO chat VALUES (1, 1, NULL);
INSERT INTO message VALUES
  (1, 1, 0, 'K1', 0, 1764410000000, 0, 'Sample chat message'),
  (2, 1, 1, 'K2', 0, 1764410030000, 0, 'Sample answer'),
  (3, 1, 0, 'K3', 0, 1764410090000, 1, NULL);
INSERT INTO message_media VALUES (3, 1, 'Media/WhatsApp Images/IMG-20251129-WA0001.jpg', 0, 'image/jpeg');
SQL
}

# --- phone: ext4 user-data partition, 48 MiB
p="$work/phone"
mkdir -p "$p/data/com.android.providers.telephony/databases" "$p/data/com.whatsapp/databases" \
         "$p/media/DCIM/Camera" "$p/media/WhatsApp/Media/WhatsApp Images"
sms_db "$p/data/com.android.providers.telephony/databases/mmssms.db"
whatsapp_db "$p/data/com.whatsapp/databases/msgstore.db"
picture "$p/media/DCIM/Camera/IMG_20251129_101500.jpg" exif 1
picture "$p/media/DCIM/Camera/IMG_20251129_101502.jpg" progressive 2
picture "$p/media/WhatsApp/Media/WhatsApp Images/IMG-20251129-WA0001.jpg" gradient 3
picture "$p/media/DCIM/Camera/Screenshot_1.png" shapes 4
video "$p/media/DCIM/Camera/VID_20251129_1016.mp4" 2
picture "$p/media/DCIM/Camera/IMG_20251129_101600.jpg" gradient 5   # deleted below
truncate -s $((48 * MIB)) "$out/phone.raw"
mke2fs -q -t ext4 -L userdata -d "$p" "$out/phone.raw"
debugfs -w -R "rm /media/DCIM/Camera/IMG_20251129_101600.jpg" "$out/phone.raw" >/dev/null 2>&1

# --- laptop: MBR, NTFS 40 MiB + FAT32 40 MiB
l="$work/laptop"
mkdir -p "$l/Users/sample/Pictures" "$l/Users/sample/AppData"
picture "$l/Users/sample/Pictures/holiday_01.jpg" gradient 11
picture "$l/Users/sample/Pictures/holiday_02.jpg" noise 12
picture "$l/Users/sample/Pictures/diagram.png" shapes 13
picture "$work/helper.jpg" gradient 14
mv "$work/helper.jpg" "$l/Users/sample/AppData/helper.dll"      # a JPEG named .dll
img -size 200x200 xc:"#10a010" -fill "#a01010" -draw "rectangle 50,50 150,150" "$l/Users/sample/Pictures/icon.bmp"
picture "$l/Users/sample/Pictures/deleted_03.jpg" shapes 15    # deleted below
ntfs="$work/ntfs.img"
truncate -s $((40 * MIB)) "$ntfs"
mkntfs -q -F -Q -L LAPTOP "$ntfs" >/dev/null 2>&1
ntfs-3g "$ntfs" "$work/mnt"
cp -r "$l/." "$work/mnt/"
sync
rm "$work/mnt/Users/sample/Pictures/deleted_03.jpg"
umount "$work/mnt"
fat="$work/fat.img"
truncate -s $((40 * MIB)) "$fat"
mkfs.vfat -F 32 -n DATA "$fat" >/dev/null
video "$work/clip.avi" 2
img -size 120x90 -delay 20 xc:red xc:green xc:blue -loop 0 "$work/anim.gif"
mmd -i "$fat" ::/Videos
mcopy -i "$fat" "$work/clip.avi" "$work/anim.gif" ::/Videos/
truncate -s $((82 * MIB)) "$out/laptop.raw"
sfdisk -q "$out/laptop.raw" <<SF
label: dos
start=2048, size=$((40 * 2048)), type=7
start=$((41 * 2048)), size=$((40 * 2048)), type=c
SF
dd if="$ntfs" of="$out/laptop.raw" bs=1M seek=1 conv=notrunc status=none
dd if="$fat" of="$out/laptop.raw" bs=1M seek=41 conv=notrunc status=none

# --- usb: FAT32 superfloppy, 36 MiB
u="$work/usb.img"
truncate -s $((36 * MIB)) "$u"
mkfs.vfat -F 32 -n STICK "$u" >/dev/null
mmd -i "$u" ::/DCIM ::/DCIM/100CAM
for i in 1 2 3 4; do picture "$work/P$i.jpg" gradient $((20 + i)); mcopy -i "$u" "$work/P$i.jpg" ::/DCIM/100CAM/; done
picture "$work/P5.png" shapes 25
mcopy -i "$u" "$work/P5.png" ::/DCIM/100CAM/
mdel -i "$u" ::/DCIM/100CAM/P2.jpg ::/DCIM/100CAM/P5.png
cp "$u" "$out/usb.raw"
echo "sample evidence in $out: phone.raw laptop.raw usb.raw"
