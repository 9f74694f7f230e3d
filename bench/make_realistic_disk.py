#!/usr/bin/env python3
"""Builds a benchmark disk like the ones labs receive: three partitions (FAT32 camera card, ext4
phone storage, NTFS computer), each first filled with old files (photos, video clips, text,
compressed archives, random data) that are then deleted, so free space is full of old content and
fragments, not zeros; then the live files, written by the kernel's own filesystem drivers:
camera-sized JPEGs (8-12 MP, EXIF with an embedded thumbnail), HEIC, H.264 MP4 phone videos, PNG
screenshots and chat databases; a quarter of the live files of every type is deleted.

Synthetic content only: colour fields, gradients, shapes, noise, test patterns (ffmpeg lavfi,
ImageMagick), never anything resembling a person. Content is seeded (same seed, same files);
where the kernel places them may vary slightly between runs. FAT32 is written with mtools (no
vfat module needed), ext4 and NTFS through the kernel's ext4 driver and ntfs-3g.

usage: make_realistic_disk.py OUTDIR [--size-mib 4096] [--seed 22] [--chat-fixtures DIR]
  --size-mib from 256 to 32768 (32 GiB); the amount of every kind of content scales with it.
Writes OUTDIR/disk.raw (sparse where nothing was written) and OUTDIR/truth.json, the same format as
tests/carve/make_disk.py: one entry per media or database file with its SHA-256, filesystem, path,
type and "expect": allocated, deleted, carved (an old file still whole in free space) or damaged
(an old file partly overwritten). Needs root (loop mounts) and ffmpeg, ImageMagick, heif-enc,
mkfs.vfat, mkfs.ext4, mkntfs, ntfs-3g, sfdisk, losetup.
"""
import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zipfile

MiB = 1 << 20
WORDS = ("evidence parcel meeting tomorrow invoice station account delivery garden window river "
         "report camera bridge yellow orange ticket school dinner weekend transfer payment code "
         "address number please call later today morning train office printer update").split()


def sh(*args, **kw):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        sys.exit("make_realistic_disk: %s failed: %s" % (" ".join(map(str, args)),
                                                         r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def ffmpeg(*args):
    sh("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------- EXIF
def tiff_ifd(entries, offset, next_ifd):
    """One little-endian IFD at `offset`: entries are (tag, type, count, value bytes)."""
    head = struct.pack("<H", len(entries))
    data_at = offset + 2 + 12 * len(entries) + 4
    body, extra = b"", b""
    for tag, typ, count, value in sorted(entries):
        if len(value) <= 4:
            body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            body += struct.pack("<HHII", tag, typ, count, data_at + len(extra))
            extra += value + (b"\0" if len(value) % 2 else b"")
    return head + body + struct.pack("<I", next_ifd) + extra


def exif_app1(thumb, width, height, when, model):
    """APP1 Exif as a phone writes it: IFD0 (make, model, date), the Exif IFD (date taken, size),
    IFD1 with a JPEG thumbnail."""
    def ascii(s):
        return s.encode() + b"\0"

    def short(v):
        return struct.pack("<H", v)

    def long(v):
        return struct.pack("<I", v)

    ifd0_entries = [(0x010F, 2, 13, ascii("SafeholdCam")), (0x0110, 2, len(model) + 1, ascii(model)),
                    (0x0112, 3, 1, short(1)), (0x0132, 2, 20, ascii(when)), (0x8769, 4, 1, long(0))]
    ifd0_len = len(tiff_ifd(ifd0_entries, 8, 0))
    exif_at = 8 + ifd0_len
    exif_entries = [(0x9003, 2, 20, ascii(when)), (0xA002, 4, 1, long(width)), (0xA003, 4, 1, long(height))]
    exif = tiff_ifd(exif_entries, exif_at, 0)
    ifd1_at = exif_at + len(exif)
    thumb_at = ifd1_at + 2 + 12 * 3 + 4
    ifd1 = tiff_ifd([(0x0103, 3, 1, short(6)), (0x0201, 4, 1, long(thumb_at)),
                     (0x0202, 4, 1, long(len(thumb)))], ifd1_at, 0)
    ifd0_entries[-1] = (0x8769, 4, 1, long(exif_at))
    tiff = b"II*\0" + long(8) + tiff_ifd(ifd0_entries, 8, ifd1_at) + exif + ifd1 + thumb
    payload = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def add_exif(jpeg_path, thumb_path, width, height, when, model):
    with open(thumb_path, "rb") as f:
        thumb = f.read()
    with open(jpeg_path, "rb") as f:
        j = f.read()
    rest = j[2:]
    if rest[:2] == b"\xff\xe0":  # a camera writes Exif, not JFIF
        rest = rest[2 + struct.unpack(">H", rest[2:4])[0]:]
    with open(jpeg_path, "wb") as f:
        f.write(b"\xff\xd8" + exif_app1(thumb, width, height, when, model) + rest)
    return sha256(thumb_path)


# ------------------------------------------------------------------------------- media
class Media:
    """Makes media with real encoders in batches (ffmpeg writes a whole series in one run)."""

    SOURCES = ["testsrc2", "gradients", "cellauto", "mandelbrot", "life", "smptehdbars", "rgbtestsrc"]

    def __init__(self, work, rnd):
        self.work = work
        self.rnd = rnd
        self.n = 0

    def folder(self):
        self.n += 1
        d = os.path.join(self.work, "b%05d" % self.n)
        os.makedirs(d)
        return d

    def source(self, w, h, rate=1):
        src = self.rnd.choice(self.SOURCES)
        seed = self.rnd.randrange(1 << 30)
        if src == "gradients":
            return "gradients=s=%dx%d:r=%d:seed=%d:n=%d:speed=0.05" % (w, h, rate, seed, self.rnd.randint(2, 8))
        if src == "cellauto":
            return "cellauto=s=%dx%d:r=%d:seed=%d:rule=%d" % (w // 4, h // 4, rate, seed, self.rnd.choice([18, 30, 90, 110]))
        if src == "life":
            return "life=s=%dx%d:r=%d:seed=%d:mold=10:life_color=#%06x:death_color=#%06x" % (
                w // 4, h // 4, rate, seed, self.rnd.randrange(1 << 24), self.rnd.randrange(1 << 24))
        if src == "mandelbrot":
            return "mandelbrot=s=%dx%d:r=%d:start_scale=%f" % (w // 4, h // 4, rate, self.rnd.uniform(0.5, 3))
        return "%s=s=%dx%d:r=%d" % (src, w // 2, h // 2, rate)

    def frames_filter(self, w, h, noise, shapes=3):
        boxes = ",".join("drawbox=x=%d:y=%d:w=%d:h=%d:color=0x%06x@0.8:t=fill" % (
            self.rnd.randrange(w), self.rnd.randrange(h), self.rnd.randint(w // 20, w // 3),
            self.rnd.randint(h // 20, h // 3), self.rnd.randrange(1 << 24)) for _ in range(shapes))
        hue = "hue=H=%f*t:s=%f" % (self.rnd.uniform(0.2, 2.0), self.rnd.uniform(0.6, 1.6))
        return "scale=%d:%d:flags=bicubic,%s,%s,noise=alls=%d:allf=t+u:all_seed=%d" % (
            w, h, hue, boxes, noise, self.rnd.randrange(1 << 30))

    def jpegs(self, count, w, h, quality, thumbs=False):
        """`count` distinct JPEGs (frames of one moving scene, sensor-like noise); with thumbs, a
        160-pixel thumbnail of each."""
        d = self.folder()
        chain = self.frames_filter(w, h, self.rnd.randint(4, 14))
        out = ["-map", "[a]", "-q:v", str(quality), "-frames:v", str(count), os.path.join(d, "f%05d.jpg")]
        graph = "[0:v]%s[a]" % chain
        if thumbs:
            graph = "[0:v]%s,split[a][t0];[t0]scale=160:-2[t]" % chain
            out += ["-map", "[t]", "-q:v", "5", "-frames:v", str(count), os.path.join(d, "t%05d.jpg")]
        ffmpeg("-f", "lavfi", "-i", self.source(w, h), "-filter_complex", graph, "-pix_fmt", "yuvj420p", *out)
        files = sorted(glob.glob(os.path.join(d, "f*.jpg")))
        if thumbs:
            return list(zip(files, sorted(glob.glob(os.path.join(d, "t*.jpg")))))
        return files

    def video(self, w, h, secs, mbps, faststart):
        d = self.folder()
        p = os.path.join(d, "v.mp4")
        ffmpeg("-f", "lavfi", "-i", self.source(w, h, 30), "-f", "lavfi", "-i",
               "sine=frequency=%d:duration=%d" % (self.rnd.randint(200, 900), secs),
               "-vf", self.frames_filter(w, h, self.rnd.randint(3, 8), 2), "-t", str(secs),
               "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "%dM" % mbps, "-maxrate", "%dM" % mbps,
               "-bufsize", "%dM" % (2 * mbps), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
               "-threads", "2", *(["-movflags", "+faststart"] if faststart else []), p)
        return p

    def heic(self, w, h):
        d = self.folder()
        png = os.path.join(d, "h.png")
        ffmpeg("-f", "lavfi", "-i", self.source(w, h), "-vf", self.frames_filter(w, h, 6), "-frames:v", "1", png)
        p = os.path.join(d, "h.heic")
        sh("heif-enc", "-q", str(self.rnd.randint(45, 70)), "-p", "preset=ultrafast", "-o", p, png)
        os.remove(png)
        return p

    def screenshot(self, w, h):
        """A UI-like screenshot: bars, message bubbles and word-like bars on a flat background."""
        d = self.folder()
        p = os.path.join(d, "s.png")
        r = self.rnd
        draw = ["-fill", "#%06x" % r.randrange(1 << 24), "-draw", "rectangle 0,0 %d,%d" % (w, h // 12)]
        y = h // 10
        while y < h - 60:
            draw += ["-fill", "#%06x" % r.choice([0xF2F2F7, 0xDCF8C6, 0xFFFFFF, 0xE5E5EA, 0x2C2C2E]),
                     "-draw", "roundrectangle %d,%d %d,%d 18,18" % (r.randint(10, w // 4), y, r.randint(w // 2, w - 10), y + 70)]
            x = w // 4 + 30
            for _ in range(r.randint(2, 7)):  # words as dark bars: no font needed
                n = r.randint(30, 120)
                draw += ["-fill", "#202020", "-draw", "rectangle %d,%d %d,%d" % (x, y + 26, x + n, y + 44)]
                x += n + 14
            y += r.randint(90, 160)
        sh("convert", "-size", "%dx%d" % (w, h), "xc:#%06x" % r.choice([0xFFFFFF, 0x000000, 0xECE5DD]), *draw, p)
        return p


# ------------------------------------------------------------------------------- old content
def old_text(rnd, size):
    lines, n = [], 0
    while n < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 14))) + "\n"
        lines.append(line)
        n += len(line)
    return "".join(lines).encode()[:size]


class OldFiles:
    """Fills a mounted filesystem with old files until it is full, and remembers the media among
    them (which may survive whole in free space once they are deleted)."""

    def __init__(self, media, rnd):
        self.media, self.rnd = media, rnd
        self.pool = []
        self.survivors = []  # (sha256, type, size, sha256 of the first 64 KiB) of old media
        self.words = old_text(rnd, 8 * MiB)  # slices of it: generating text word by word is slow

    def text(self, size):
        at = self.rnd.randrange(len(self.words))
        data = self.words[at:] + self.words * (size // len(self.words) + 1)
        return b"note %d\n" % self.rnd.randrange(1 << 40) + data[:size]

    def archive(self, size):
        buf = io.BytesIO()
        if self.rnd.random() < 0.5:
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
                for i in range(self.rnd.randint(2, 5)):
                    z.writestr("doc%d.txt" % i, self.text(size // 2))
                    z.writestr("blob%d.bin" % i, self.rnd.randbytes(size // 8))
        else:
            buf.write(gzip.compress(self.text(size * 2) + self.rnd.randbytes(size // 4), compresslevel=1, mtime=0))
        return buf.getvalue()

    def next_media(self):
        if not self.pool:
            if self.rnd.random() < 0.9:
                w, h = self.rnd.choice([(2048, 1536), (2592, 1944), (1600, 1200), (3264, 2448)])
                self.pool = [(p, "jpeg") for p in self.media.jpegs(24, w, h, self.rnd.randint(3, 8))]
            else:
                self.pool = [(self.media.video(640, 360, self.rnd.randint(4, 12), 2, self.rnd.random() < 0.5), "mp4")]
        return self.pool.pop()

    def fill(self, part):
        """Old files into `part` until it is full, then all of them deleted."""
        part.mkdirs("/old")
        i = 0
        while True:
            i += 1
            free = part.free()
            if free < 2 * MiB:
                break
            kind = self.rnd.choices(["media", "text", "archive", "random"], [45, 20, 15, 20])[0]
            size = min(free - MiB, self.rnd.randint(64 * 1024, 6 * MiB))
            path = "/old/f%06d" % i
            try:
                if kind == "media":
                    src, typ = self.next_media()
                    if os.path.getsize(src) > free - MiB:
                        continue
                    part.put(src, path)
                    with open(src, "rb") as f:
                        head = hashlib.sha256(f.read(64 * 1024)).hexdigest()
                    self.survivors.append((sha256(src), typ, os.path.getsize(src), head))
                    os.remove(src)
                else:
                    data = {"text": self.text, "archive": self.archive, "random": self.rnd.randbytes}[kind](size)
                    part.put_bytes(data[:max(0, free - MiB)], path)
            except OSError:  # full: the last file is cut short, as on a real disk
                break
        part.rmtree("/old")


# ------------------------------------------------------------------------------- chat
def chat_db(path, rnd, app):
    """A message database of a few thousand rows (WhatsApp- or SMS-like columns)."""
    con = sqlite3.connect(path)
    if app == "whatsapp":
        con.execute("CREATE TABLE messages (_id INTEGER PRIMARY KEY, key_remote_jid TEXT, key_from_me INTEGER, "
                    "data TEXT, timestamp INTEGER, media_mime_type TEXT)")
        rows = [(i, "44%010d@s.whatsapp.net" % rnd.randrange(10 ** 10), rnd.randint(0, 1),
                 " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 20))),
                 1600000000000 + i * 61000, rnd.choice([None, None, "image/jpeg", "video/mp4"])) for i in range(1, 4001)]
        con.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?)", rows)
    else:
        con.execute("CREATE TABLE sms (_id INTEGER PRIMARY KEY, address TEXT, date INTEGER, type INTEGER, body TEXT)")
        rows = [(i, "+447%09d" % rnd.randrange(10 ** 9), 1600000000000 + i * 97000, rnd.randint(1, 2),
                 " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 25)))) for i in range(1, 3001)]
        con.executemany("INSERT INTO sms VALUES (?,?,?,?,?)", rows)
    con.commit()
    con.close()


# ------------------------------------------------------------------------------- the disk
class Partition:
    """A partition of disk.raw attached to a loop device, mounted while content is written."""

    def __init__(self, disk, name, start, size, fstype, mnt):
        self.disk, self.name, self.start, self.size, self.fstype, self.mnt = disk, name, start, size, fstype, mnt
        self.dev = None

    def __enter__(self):
        self.dev = sh("losetup", "--find", "--show", "--offset", str(self.start), "--sizelimit",
                      str(self.size), self.disk).decode().strip()
        return self

    def mkfs(self):
        if self.fstype == "fat32":
            # 4 KiB clusters as cards have, unless that leaves too few clusters for FAT32.
            self.cluster = 4096 if self.size >= 512 * MiB else 512
            sh("mkfs.vfat", "-F", "32", "-s", str(self.cluster // 512), "-n", "CAMERA", "-i", "5AFE0022", self.dev)
        elif self.fstype == "ext4":
            sh("mkfs.ext4", "-q", "-F", "-L", "phone", "-U", "5afe0022-0000-4000-8000-000000000022",
               "-E", "hash_seed=5afe0022-0000-4000-8000-000000000023", self.dev)
        else:
            sh("mkntfs", "-F", "-Q", "-q", "-c", "4096", "-L", "WIN", self.dev)

    def mount(self):
        os.makedirs(self.mnt, exist_ok=True)
        self.dirs = set()
        if self.fstype == "fat32":
            return
        if self.fstype == "ntfs":
            sh("ntfs-3g", self.dev, self.mnt)
        else:
            sh("mount", "-t", "vfat" if self.fstype == "fat32" else "ext4", self.dev, self.mnt)

    def umount(self):
        if self.fstype != "fat32":
            sh("sync")
            sh("umount", self.mnt)

    # File operations: through the kernel's driver for ext4 and NTFS, through mtools for FAT32
    # (containers often lack the vfat module).
    def mtools(self, cmd, *args):
        env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
        r = subprocess.run([cmd, "-i", self.dev, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if r.returncode != 0:
            raise OSError("%s %s: %s" % (cmd, " ".join(args), r.stderr.decode(errors="replace")[-500:]))
        return r.stdout.decode(errors="replace")

    def free(self):
        if self.fstype == "fat32":
            return int(self.mtools("minfo", "::").split("free clusters=")[1].split()[0]) * self.cluster
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def mkdirs(self, path):
        if self.fstype != "fat32":
            os.makedirs(self.mnt + path, exist_ok=True)
            return
        parts = path.strip("/").split("/")
        for k in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:k])
            if d not in self.dirs:
                self.mtools("mmd", "::" + d)
                self.dirs.add(d)

    def put(self, src, path):
        self.mkdirs(os.path.dirname(path))
        if self.fstype == "fat32":
            self.mtools("mcopy", "-o", src, "::" + path)
        else:
            shutil.copyfile(src, self.mnt + path)

    def put_bytes(self, data, path):
        tmp = os.path.join(os.path.dirname(self.mnt), "put.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        self.put(tmp, path)
        os.remove(tmp)

    def remove(self, path):
        if self.fstype == "fat32":
            self.mtools("mdel", "::" + path)
        else:
            os.remove(self.mnt + path)

    def rmtree(self, path):
        if self.fstype == "fat32":
            self.mtools("mdeltree", "::" + path)
            self.dirs = {d for d in self.dirs if not d.startswith(path)}
        else:
            shutil.rmtree(self.mnt + path)
            sh("sync")

    def __exit__(self, *exc):
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", self.mnt])
        subprocess.run(["sync"])
        subprocess.run(["losetup", "-d", self.dev])


def live_content(media, rnd, scale, chat_fixtures):
    """Every live file: (source path, type, fs, path on it, extra truth fields)."""
    items = []
    n_jpeg = max(4, round(40 * scale))
    sizes = [(4000, 3000), (4032, 3024), (3264, 2448), (3024, 4032), (4000, 2250), (3456, 3456)]
    k = 0
    while k < n_jpeg:
        w, h = rnd.choice(sizes)
        batch = min(n_jpeg - k, rnd.randint(4, 10))
        for src, thumb in media.jpegs(batch, w, h, rnd.choice([2, 2, 3]), thumbs=True):
            k += 1
            when = "2024:%02d:%02d %02d:%02d:%02d" % (rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23),
                                                      rnd.randint(0, 59), rnd.randint(0, 59))
            t = add_exif(src, thumb, w, h, when, rnd.choice(["SynthPhone 12", "SynthCam X100"]))
            fs = rnd.choices(["fat32", "ext4", "ntfs"], [35, 45, 20])[0]
            path = {"fat32": "/DCIM/100CAMRA/IMG_%04d.JPG" % k, "ext4": "/media/0/DCIM/Camera/IMG_%06d.jpg" % k,
                    "ntfs": "/Users/x/Pictures/Phone/IMG_%04d.jpg" % k}[fs]
            items.append((src, "jpeg", fs, path, {"thumbnail": t}))
    for k in range(max(1, round(6 * scale))):
        items.append((media.heic(2016, 1512), "heif", "ext4", "/media/0/DCIM/Camera/IMG_%04d.HEIC" % (5000 + k), {}))
    total, k = 0, 0
    while total < 75 * MiB * scale:
        k += 1
        w, h = rnd.choice([(1920, 1080), (1280, 720), (1080, 1920)])
        p = media.video(w, h, rnd.randint(6, 20), rnd.choice([6, 8, 12]), rnd.random() < 0.5)
        total += os.path.getsize(p)
        fs = rnd.choices(["fat32", "ext4", "ntfs"], [30, 50, 20])[0]
        path = {"fat32": "/DCIM/100CAMRA/VID_%04d.MP4" % k, "ext4": "/media/0/DCIM/Camera/VID_%06d.mp4" % k,
                "ntfs": "/Users/x/Videos/clip %d.mp4" % k}[fs]
        items.append((p, "mp4", fs, path, {}))
    for k in range(max(2, round(15 * scale))):
        w, h = rnd.choice([(1170, 2532), (1080, 2400), (1920, 1080)])
        fs = rnd.choices(["ext4", "ntfs"], [60, 40])[0]
        path = {"ext4": "/media/0/Pictures/Screenshots/Screenshot_%04d.png" % k,
                "ntfs": "/Users/x/Desktop/Screenshot %d.png" % k}[fs]
        items.append((media.screenshot(w, h), "png", fs, path, {}))
    for app, path in [("whatsapp", "/data/com.whatsapp/databases/msgstore.db"),
                      ("sms", "/data/com.android.providers.telephony/databases/sms.db")]:
        p = os.path.join(media.folder(), os.path.basename(path))
        chat_db(p, rnd, app)
        items.append((p, "sqlite", "ext4", path, {}))
    if chat_fixtures:
        for name in ["mmssms.db", "wal_database.db"]:
            src = os.path.join(chat_fixtures, name)
            if os.path.exists(src):
                items.append((src, "sqlite", "ext4", "/data/fixtures/" + name, {}))
    return items


def old_media_state(disk, survivors, parts):
    """Which old media are still whole, contiguous, in the disk image: every sector-aligned JPEG or
    MP4 start is hashed over its first 64 KiB and matched against the old files'."""
    by_head = {}
    for sha, typ, size, head in survivors:
        by_head.setdefault(head, []).append((sha, typ, size))
    found = {}
    with open(disk, "rb") as f:
        pos = 0
        while True:
            chunk = f.read(64 * MiB)
            if not chunk:
                break
            for sig, back in [(b"\xff\xd8\xff", 0), (b"ftyp", 4)]:
                i = chunk.find(sig)
                while i >= 0:
                    at = pos + i - back
                    if at >= 0 and at % 512 == 0:
                        here = f.tell()
                        f.seek(at)
                        head = hashlib.sha256(f.read(64 * 1024)).hexdigest()
                        for sha, typ, size in by_head.get(head, []):
                            f.seek(at)
                            h = hashlib.sha256()
                            left = size
                            while left:
                                b = f.read(min(left, 4 * MiB))
                                if not b:
                                    break
                                h.update(b)
                                left -= len(b)
                            if h.hexdigest() == sha:
                                found[sha] = at
                        f.seek(here)
                    i = chunk.find(sig, i + 1)
            pos += len(chunk)
            # A signature across the chunk boundary is at most 4 bytes long: step back.
            if len(chunk) == 64 * MiB:
                pos -= 8
                f.seek(pos)
    out = []
    for sha, typ, size, _ in survivors:
        at = found.get(sha)
        fs = next((p.name for p in parts if at is not None and p.start <= at < p.start + p.size), None)
        out.append({"sha256": sha, "fs": fs, "path": None, "expect": "carved" if at is not None else "damaged",
                    "type": typ, "size": size, "old": True})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--size-mib", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--chat-fixtures", default="")
    a = ap.parse_args()
    if not 256 <= a.size_mib <= 32768:
        sys.exit("make_realistic_disk: --size-mib must be 256..32768")
    os.makedirs(a.outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="safehold-rdisk-", dir=a.outdir)
    rnd = random.Random(a.seed)
    media = Media(os.path.join(work, "media"), rnd)
    os.makedirs(media.work)
    scale = a.size_mib / 1024

    disk = os.path.join(a.outdir, "disk.raw")
    if os.path.exists(disk):
        os.remove(disk)
    sh("truncate", "-s", "%dM" % a.size_mib, disk)
    usable = a.size_mib - 3  # 1 MiB before the first partition, 1 MiB gap, 1 MiB at the end
    sizes = [usable * 25 // 100, usable * 40 // 100]
    sizes.append(usable - sum(sizes))
    starts = [1, 1 + sizes[0], 2 + sizes[0] + sizes[1]]  # a 1 MiB unpartitioned gap before NTFS
    table = "label: dos\n" + "".join("start=%d, size=%d, type=%s\n" % (s * MiB // 512, z * MiB // 512, t)
                                     for s, z, t in zip(starts, sizes, ["c", "83", "7"]))
    subprocess.run(["sfdisk", "-q", disk], input=table.encode(), check=True, stdout=subprocess.DEVNULL)
    parts = [Partition(disk, n, s * MiB, z * MiB, n, os.path.join(work, "mnt_" + n))
             for n, s, z in zip(["fat32", "ext4", "ntfs"], starts, sizes)]

    print("live content ...", flush=True)
    items = live_content(media, rnd, scale, a.chat_fixtures)
    deleted = set()
    for typ in sorted({i[1] for i in items}):
        of_type = [k for k, i in enumerate(items) if i[1] == typ]
        deleted.update(rnd.sample(of_type, len(of_type) // 4))
    truth = []
    old = OldFiles(media, rnd)
    for part in parts:
        print("%s: old files, then %d live files ..." % (part.name, sum(1 for i in items if i[2] == part.name)), flush=True)
        with part:
            part.mkfs()
            part.mount()
            old.fill(part)
            mine = [(k, i) for k, i in enumerate(items) if i[2] == part.name]
            for k, (src, typ, fs, path, extra) in mine:
                part.put(src, path)
                t = {"sha256": sha256(src), "fs": fs, "path": path, "expect": "deleted" if k in deleted else "allocated",
                     "type": typ, "size": os.path.getsize(src)}
                t.update(extra)
                truth.append(t)
            for k, (src, typ, fs, path, extra) in mine:
                if k in deleted:
                    part.remove(path)
            part.umount()
    # The old media with a hash of their first 64 KiB, to find the ones still whole.
    print("finding old media still whole in free space ...", flush=True)
    truth += old_media_state(disk, old.survivors, parts)
    with open(os.path.join(a.outdir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    shutil.rmtree(work)
    kinds = {}
    for t in truth:
        key = (t["type"], t["expect"])
        kinds[key] = kinds.get(key, 0) + 1
    print("disk.raw %d MiB; %s" % (a.size_mib, ", ".join("%s %s: %d" % (k[0], k[1], v) for k, v in sorted(kinds.items()))))


if __name__ == "__main__":
    main()
