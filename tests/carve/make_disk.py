#!/usr/bin/env python3
"""Builds a three-partition test disk (FAT32, ext4, NTFS) holding media made by real encoders
(ImageMagick, ffmpeg, heif-enc), some deleted, some renamed, one partly overwritten, two JPEGs in
two fragments, one JPEG in unpartitioned space, and SQLite databases with a WAL companion.

usage: make_disk.py OUTDIR [--scale N] [--chat-fixtures DIR]
Writes OUTDIR/disk.raw and OUTDIR/truth.json: every file put on the disk with its SHA-256 and how
it can be recovered ("expect": allocated, deleted, carved, or "damaged" for content that no tool
can give back whole). Synthetic content only. Needs root for the NTFS (ntfs-3g FUSE) step.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

MiB = 1 << 20


def sh(*args, **kw):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)
    if r.returncode != 0:
        sys.exit("make_disk: %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Media:
    """Makes media files with real encoders into a work folder."""

    def __init__(self, work, seed):
        self.work = work
        self.n = 0
        self.seed = seed

    def path(self, ext):
        self.n += 1
        return os.path.join(self.work, "m%04d.%s" % (self.n, ext))

    def image(self, ext, w=320, h=240, extra=()):
        p = self.path(ext)
        self.seed += 1
        kind = ["plasma:fractal", "gradient:red-blue", "pattern:checkerboard", "plasma:green-yellow"][self.seed % 4]
        sh("/usr/bin/convert", "-seed", str(self.seed), "-size", "%dx%d" % (w, h), kind,
           "-fill", "white", "-draw", "circle %d,%d %d,%d" % (w // 2, h // 2, w // 2 + self.seed % 40 + 5, h // 2),
           *extra, p)
        return p

    def jpeg(self, w=320, h=240, progressive=False, thumbnail=False, noise=False):
        extra = ["-attenuate", "0.4", "+noise", "Gaussian"] if noise else []
        p = self.image("jpg", w, h, extra + ["-quality", "85"] + (["-interlace", "Plane"] if progressive else []))
        if thumbnail:
            t = self.image("jpg", 80, 60, ["-quality", "70"])
            add_exif_thumbnail(p, t)
            self.last_thumb = sha256(t)
        return p

    def heic(self):
        src = self.image("png", 128, 96)
        p = self.path("heic")
        sh("heif-enc", "-q", "50", "-o", p, src)
        return p

    def video(self, ext, fmt, codec, size="160x120", secs=1, extra=()):
        p = self.path(ext)
        self.seed += 1
        sh("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
           "testsrc=duration=%d:size=%s:rate=10" % (secs, size), "-f", "lavfi", "-i",
           "sine=frequency=%d:duration=%d" % (300 + self.seed * 10, secs), "-threads", "1",
           "-c:v", codec, *extra, "-shortest", "-fflags", "+bitexact", "-flags:v", "+bitexact",
           "-f", fmt, p)
        return p


def add_exif_thumbnail(jpeg_path, thumb_path):
    """Inserts an APP1 Exif segment whose IFD1 carries a JPEG thumbnail (as cameras write it)."""
    with open(thumb_path, "rb") as f:
        thumb = f.read()
    # TIFF little-endian: header, IFD0 with one entry (Orientation), IFD1 with the thumbnail.
    ifd0 = 8
    ifd0_size = 2 + 12 + 4
    ifd1 = ifd0 + ifd0_size
    ifd1_size = 2 + 3 * 12 + 4
    data = ifd1 + ifd1_size
    tiff = b"II*\x00" + struct.pack("<I", ifd0)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<I", ifd1)
    tiff += struct.pack("<H", 3)
    tiff += struct.pack("<HHII", 0x0103, 3, 1, 6)  # compression: JPEG
    tiff += struct.pack("<HHII", 0x0201, 4, 1, data)
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    tiff += struct.pack("<I", 0)
    tiff += thumb
    app1 = b"Exif\x00\x00" + tiff
    with open(jpeg_path, "rb") as f:
        j = f.read()
    out = j[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + j[2:]
    with open(jpeg_path, "wb") as f:
        f.write(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=int, default=1, help="copies of the media set per partition")
    ap.add_argument("--chat-fixtures", default="")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="safehold-disk-", dir=a.outdir)
    rnd = random.Random(a.seed)
    m = Media(work, a.seed)
    truth = []

    def note(src, fs, path, expect, kind, **extra):
        t = {"sha256": sha256(src), "fs": fs, "path": path, "expect": expect, "type": kind, "size": os.path.getsize(src)}
        t.update(extra)
        truth.append(t)

    scale = a.scale
    fat_mib = 40 + 24 * (scale - 1)
    ext_mib = 24 + 24 * (scale - 1)
    ntfs_mib = 32 + 24 * (scale - 1)

    # ---------------------------------------------------------------- FAT32 (mtools)
    fat = os.path.join(work, "fat.img")
    sh("truncate", "-s", "%dM" % fat_mib, fat)
    sh("mkfs.vfat", "-F", "32", "-s", "1", "-n", "CAMERA", fat)

    def mcopy(src, dst):
        sh("mcopy", "-m", "-i", fat, src, "::" + dst)

    def first_fit():
        # FSINFO's next-free hint = unknown: mtools then allocates from the first free cluster.
        with open(fat, "r+b") as f:
            f.seek(512 + 492)
            f.write(b"\xff\xff\xff\xff")

    def hint(value=None):
        with open(fat, "r+b") as f:
            f.seek(512 + 492)
            if value is None:
                return struct.unpack("<I", f.read(4))[0]
            f.write(struct.pack("<I", value))

    for d in ["/DCIM", "/pics", "/system", "/video"]:
        sh("mmd", "-i", fat, "::" + d)
    to_delete = []
    # A JPEG in two fragments around an allocated file, later deleted: the filesystem's own
    # recovery (contiguous) is wrong; carving the unallocated space end to end gets it back.
    hole = os.path.join(work, "hole.bin")
    with open(hole, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(16384)))
    keep = os.path.join(work, "keep.txt")
    with open(keep, "w") as f:
        f.write("".join("line %d of a note that stays allocated\n" % i for i in range(400)))
    mcopy(hole, "/hole.bin")
    mcopy(keep, "/keep.txt")
    sh("mdel", "-i", fat, "::/hole.bin")
    first_fit()
    frag = m.jpeg(640, 480, noise=True)
    mcopy(frag, "/DCIM/fragmented photo.jpg")
    note(frag, "fat32", "/DCIM/fragmented photo.jpg", "deleted", "jpeg", fragmented=True)
    to_delete.append("/DCIM/fragmented photo.jpg")
    # A deleted JPEG whose first clusters another file later takes over: damaged for every tool.
    over_at = hint()
    over = m.jpeg(400, 300, noise=True)
    mcopy(over, "/DCIM/overwritten photo.jpg")
    note(over, "fat32", "/DCIM/overwritten photo.jpg", "damaged", "jpeg")
    to_delete.append("/DCIM/overwritten photo.jpg")
    for i in range(scale):
        s = "" if i == 0 else "_%d" % i
        p = m.jpeg(thumbnail=True); mcopy(p, "/DCIM/IMG_%04d%s.JPG" % (1, s)); note(p, "fat32", "/DCIM/IMG_0001%s.JPG" % s, "allocated", "jpeg", thumbnail=m.last_thumb)
        p = m.jpeg(progressive=True); mcopy(p, "/DCIM/Holiday photo 0002%s.jpg" % s); note(p, "fat32", "/DCIM/Holiday photo 0002%s.jpg" % s, "deleted", "jpeg", progressive=True)
        to_delete.append("/DCIM/Holiday photo 0002%s.jpg" % s)
        p = m.image("png"); mcopy(p, "/pics/photo%s.png" % s); note(p, "fat32", "/pics/photo%s.png" % s, "allocated", "png")
        p = m.image("gif"); mcopy(p, "/pics/animated banner%s.gif" % s); note(p, "fat32", "/pics/animated banner%s.gif" % s, "deleted", "gif")
        to_delete.append("/pics/animated banner%s.gif" % s)
        p = m.image("bmp", 120, 90); mcopy(p, "/pics/old%s.bmp" % s); note(p, "fat32", "/pics/old%s.bmp" % s, "allocated", "bmp")
        p = m.jpeg(); mcopy(p, "/system/evil%s.dll" % s); note(p, "fat32", "/system/evil%s.dll" % s, "allocated", "jpeg", mismatch=True)
        p = m.video("avi", "avi", "mpeg4"); mcopy(p, "/video/birthday clip%s.avi" % s); note(p, "fat32", "/video/birthday clip%s.avi" % s, "deleted", "avi")
        to_delete.append("/video/birthday clip%s.avi" % s)
        p = m.video("wmv", "asf", "wmv2", extra=["-c:a", "wmav2"]); mcopy(p, "/video/clip%s.wmv" % s); note(p, "fat32", "/video/clip%s.wmv" % s, "allocated", "asf")
    # Deleting last keeps the directory slots from being reused.
    for d in to_delete:
        sh("mdel", "-i", fat, "::" + d)
    hint(over_at)
    newer = os.path.join(work, "newer.txt")
    with open(newer, "w") as f:
        f.write("x" * 6000)
    mcopy(newer, "/notes.txt")

    # ---------------------------------------------------------------- ext4 (mke2fs -d, debugfs)
    root = os.path.join(work, "extroot")
    os.makedirs(root + "/home/u/Pictures")
    os.makedirs(root + "/home/u/Videos")
    os.makedirs(root + "/data/sms")
    ext_deleted = []
    for i in range(scale):
        s = "" if i == 0 else "_%d" % i
        items = [
            (m.jpeg(), "/home/u/Pictures/a%s.jpg" % s, "allocated", "jpeg"),
            (m.image("webp"), "/home/u/Pictures/b%s.webp" % s, "allocated", "webp"),
            (m.heic(), "/home/u/Pictures/g%s.heic" % s, "allocated", "heif"),
            (m.image("tiff", 160, 120, ["-compress", "none"]), "/home/u/Pictures/h%s.tiff" % s, "deleted", "tiff"),
            (m.video("mp4", "mp4", "libx264", extra=["-pix_fmt", "yuv420p"]), "/home/u/Videos/c%s.mp4" % s, "allocated", "mp4"),
            (m.video("mov", "mov", "mpeg4"), "/home/u/Videos/d%s.mov" % s, "deleted", "mov"),
            (m.video("mkv", "matroska", "mpeg4"), "/home/u/Videos/e%s.mkv" % s, "deleted", "mkv"),
            (m.video("webm", "webm", "libvpx", extra=["-c:a", "libvorbis"]), "/home/u/Videos/f%s.webm" % s, "allocated", "webm"),
            (m.video("3gp", "3gp", "h263", size="176x144", extra=["-c:a", "aac", "-ar", "8000", "-ac", "1"]), "/home/u/Videos/i%s.3gp" % s, "allocated", "3gp"),
            (m.video("m4v", "ipod", "libx264", extra=["-pix_fmt", "yuv420p"]), "/home/u/Videos/j%s.m4v" % s, "allocated", "m4v"),
        ]
        for src, dst, expect, kind in items:
            shutil.copy(src, root + dst)
            os.utime(root + dst, (1614834368, 1614834368))  # 2021-03-04T05:06:08Z
            note(src, "ext4", dst, expect, kind, mtime="2021-03-04T05:06:08Z")
            if expect == "deleted":
                ext_deleted.append(dst)
    if a.chat_fixtures:
        for name in ["mmssms.db", "wal_database.db", "wal_database.db-wal"]:
            shutil.copy(os.path.join(a.chat_fixtures, name), root + "/data/sms/" + name)
        note(root + "/data/sms/mmssms.db", "ext4", "/data/sms/mmssms.db", "allocated", "sqlite")
        note(root + "/data/sms/wal_database.db", "ext4", "/data/sms/wal_database.db", "allocated", "sqlite", wal=sha256(root + "/data/sms/wal_database.db-wal"))
    ext = os.path.join(work, "ext4.img")
    sh("mke2fs", "-q", "-t", "ext4", "-b", "4096", "-O", "^has_journal", "-E", "root_owner=0:0",
       "-L", "home", "-d", root, ext, "%dM" % ext_mib)
    for d in ext_deleted:
        sh("debugfs", "-w", "-R", "rm " + d, ext)
    # The second fragmented JPEG: written straight into ext4 free space near the end, with a
    # gap of noise (also free space) between its fragments.
    frag2 = m.jpeg(640, 480, noise=True)
    with open(frag2, "rb") as f:
        data = f.read()
    cut = (len(data) // 2) // 4096 * 4096
    gap = 3 * 4096
    base = (ext_mib * MiB) - 2 * MiB
    with open(ext, "r+b") as f:
        f.seek(base)
        f.write(data[:cut])
        f.write(bytes(rnd.getrandbits(8) for _ in range(gap)))
        f.write(data[cut:])
    note(frag2, "ext4", None, "carved", "jpeg", fragmented=True, gap=gap)

    # ---------------------------------------------------------------- NTFS (mkntfs, ntfs-3g)
    ntfs = os.path.join(work, "ntfs.img")
    sh("truncate", "-s", "%dM" % ntfs_mib, ntfs)
    sh("mkntfs", "-F", "-Q", "-q", "-c", "4096", "-L", "WIN", ntfs)
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    sh("ntfs-3g", ntfs, mnt)
    ntfs_deleted = []
    try:
        os.makedirs(mnt + "/Users/x/Desktop")
        for i in range(scale):
            s = "" if i == 0 else "_%d" % i
            for src, dst, expect, kind in [
                (m.jpeg(), "/Users/x/Desktop/p%s.jpg" % s, "allocated", "jpeg"),
                (m.image("png", 300, 200), "/Users/x/Desktop/q%s.png" % s, "deleted", "png"),
                (m.video("mp4", "mp4", "libx264", extra=["-pix_fmt", "yuv420p"]), "/Users/x/Desktop/r%s.mp4" % s, "deleted", "mp4"),
                (m.image("gif", 200, 150), "/Users/x/Desktop/s%s.gif" % s, "allocated", "gif"),
            ]:
                shutil.copy(src, mnt + dst)
                note(src, "ntfs", dst, expect, kind)
                if expect == "deleted":
                    ntfs_deleted.append(mnt + dst)
        for d in ntfs_deleted:
            os.remove(d)
    finally:
        sh("umount", mnt)

    # ---------------------------------------------------------------- the disk
    p1 = 1 * MiB
    p2 = p1 + fat_mib * MiB
    p3 = p2 + ext_mib * MiB + 1 * MiB  # a 1 MiB unpartitioned gap before NTFS
    end = p3 + ntfs_mib * MiB + 1 * MiB
    disk = os.path.join(a.outdir, "disk.raw")
    sh("truncate", "-s", str(end), disk)
    table = "label: dos\nstart=%d, size=%d, type=c\nstart=%d, size=%d, type=83\nstart=%d, size=%d, type=7\n" % (
        p1 // 512, fat_mib * MiB // 512, p2 // 512, ext_mib * MiB // 512, p3 // 512, ntfs_mib * MiB // 512)
    subprocess.run(["sfdisk", "-q", disk], input=table.encode(), check=True, stdout=subprocess.DEVNULL)
    with open(disk, "r+b") as out:
        for img, off in [(fat, p1), (ext, p2), (ntfs, p3)]:
            with open(img, "rb") as f:
                out.seek(off)
                shutil.copyfileobj(f, out, 4 * MiB)
        gapjpg = m.jpeg(200, 150)
        with open(gapjpg, "rb") as f:
            out.seek(p2 + ext_mib * MiB + 64 * 1024)
            out.write(f.read())
        note(gapjpg, None, None, "carved", "jpeg", unpartitioned=True)
    with open(os.path.join(a.outdir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
