#!/usr/bin/env bash
# Generates the phone trees the extraction tests read (tests/fs/test_extractions.cpp), in DIR:
#   DIR/android/Dump/...   an Android full-file-system layout under a "Dump/" wrapper: a SQLite
#                          chat database (sqlite3), a camera JPEG (ImageMagick), a text file, a
#                          long path (> 100 bytes, for TAR's long names), a symbolic link
#   DIR/ios/private/var/... an iOS layout at the top: an SMS-style database and a JPEG
# Every file and folder has a fixed modification time. Then the archives made from them by real
# tools: android.zip (zip -r -y: deflate, the JPEG stored), android64.zip (zip64 records, -fz),
# android-stream.zip (written to a pipe: data descriptors), android.tar (GNU), android-pax.tar
# (pax), ios.zip, ios.tar.
# usage: tests/fs/make_extraction.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
a=android/Dump
mkdir -p "$a/data/data/com.example.chat/databases" "$a/data/media/0/DCIM/Camera" \
  "$a/data/media/0/Download" "$a/system"
sqlite3 "$a/data/data/com.example.chat/databases/chat.db" <<'SQL'
CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, thread TEXT, sender_id INTEGER, sent_at INTEGER,
                       text TEXT, outgoing INTEGER);
INSERT INTO contacts VALUES (1, 'Alice'), (2, 'Bob');
INSERT INTO messages VALUES (1, 't1', 1, 1700000000000, 'first message', 0),
                            (2, 't1', 2, 1700000060000, 'second message', 1);
SQL
convert -size 320x240 gradient:red-blue -fill yellow -draw 'circle 160,120 160,60' \
  "$a/data/media/0/DCIM/Camera/IMG_0001.jpg"
printf 'shopping list\n' >"$a/data/media/0/Download/notes.txt"
printf 'ro.build.version.release=14\n' >"$a/system/build.prop"
long="$a/data/media/0/Download/a_very_long_folder_name_that_goes_past_one_hundred_bytes_of_path"
mkdir -p "$long"
printf 'deep\n' >"$long/file_with_a_long_name_too.txt"
ln -s DCIM "$a/data/media/0/camera_link"
i=ios/private/var
mkdir -p "$i/mobile/Library/SMS" "$i/mobile/Media/DCIM/100APPLE"
sqlite3 "$i/mobile/Library/SMS/sms.db" \
  "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, text TEXT, date INTEGER);
   INSERT INTO message VALUES (1, 'hello from ios', 700000000);"
convert -size 200x100 gradient:green-white "$i/mobile/Media/DCIM/100APPLE/IMG_0002.JPG"
# Fixed times, deepest first so that a folder's time is not changed by what is made in it.
find android ios -depth -exec touch -h -d '2023-11-14 22:13:20 UTC' {} +
touch -d '2024-02-03 04:05:06 UTC' "$a/data/media/0/DCIM/Camera/IMG_0001.jpg"
(cd android && zip -q -r -y -n .jpg ../android.zip Dump)
(cd android && zip -q -r -y -fz ../android64.zip Dump)
# Streamed (to a pipe): every member with a data descriptor after its data; links followed.
(cd android && zip -q -r - Dump | cat >../android-stream.zip)
(cd android && tar --format=gnu -cf ../android.tar Dump)
(cd android && tar --format=pax -cf ../android-pax.tar Dump)
(cd ios && zip -q -r -y ../ios.zip private)
(cd ios && tar --format=gnu -cf ../ios.tar private)
