#!/usr/bin/env python3
"""Builds an iTunes/Finder-style backup (iOS 10 and later layout) of a tree, as the extraction tests
read it (tests/fs/test_extractions.cpp): every file and folder under TREE/private/var/mobile goes
into HomeDomain, stored as XX/<sha1(domain-relativePath)>, listed in Manifest.db's Files table with
an NSKeyedArchiver MBFile (Size, LastModified, Birth, LastStatusChange, Mode, UserID, GroupID,
Target) made with plistlib, beside a binary Manifest.plist. Times and sizes are the tree's.
usage: make_itunes_backup.py TREE OUT"""
import hashlib
import os
import plistlib
import shutil
import sqlite3
import sys

tree, out = sys.argv[1], sys.argv[2]
home = os.path.join(tree, "private", "var", "mobile")
os.makedirs(out)
db = sqlite3.connect(os.path.join(out, "Manifest.db"))
db.execute("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
           "flags INTEGER, file BLOB)")
db.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")


def mbfile(rel, st, target):
    obj = {"$class": plistlib.UID(3), "Size": st.st_size, "LastModified": int(st.st_mtime),
           "Birth": int(st.st_mtime), "LastStatusChange": int(st.st_ctime), "Mode": st.st_mode,
           "UserID": 501, "GroupID": 501, "RelativePath": plistlib.UID(2), "Flags": 0,
           "ProtectionClass": 3, "InodeNumber": st.st_ino}
    objects = ["$null", obj, rel, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]
    if target is not None:
        obj["Target"] = plistlib.UID(4)
        objects.append(target)
    return plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver",
                           "$top": {"root": plistlib.UID(1)}, "$objects": objects},
                          fmt=plistlib.FMT_BINARY)


for base, dirs, files in os.walk(home):
    for name in sorted(dirs) + sorted(files):
        full = os.path.join(base, name)
        rel = os.path.relpath(full, home)
        st = os.lstat(full)
        fid = hashlib.sha1(("HomeDomain-" + rel).encode()).hexdigest()
        target = os.readlink(full) if os.path.islink(full) else None
        flags = 4 if target is not None else 2 if os.path.isdir(full) else 1
        if flags == 1:
            os.makedirs(os.path.join(out, fid[:2]), exist_ok=True)
            shutil.copyfile(full, os.path.join(out, fid[:2], fid))
        db.execute("INSERT INTO Files VALUES (?, ?, ?, ?, ?)",
                   (fid, "HomeDomain", rel, flags, mbfile(rel, st, target)))
db.commit()
db.close()
with open(os.path.join(out, "Manifest.plist"), "wb") as f:
    plistlib.dump({"IsEncrypted": False, "Version": "10.0", "Lockdown": {"ProductVersion": "17.1"}},
                  f, fmt=plistlib.FMT_BINARY)
