#!/usr/bin/env python3
"""Builds an Android `adb backup` file of a tree as the extraction tests read it
(tests/fs/test_extractions.cpp): the app folders of TREE/data/data/<package>/{databases,files,
shared_prefs} become apps/<package>/{db,f,sp}/..., TREE/data/media/0 becomes shared/0/..., in a
pax TAR (Python's tarfile, times and modes kept) after the header "ANDROID BACKUP", version 5,
the compression flag and "none"; with COMPRESS 1 the TAR is zlib-deflated as adb writes it.
usage: make_adb_backup.py TREE OUT COMPRESS"""
import io
import os
import sys
import tarfile
import zlib

tree, out, compress = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
tokens = {"databases": "db", "files": "f", "shared_prefs": "sp"}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    apps = os.path.join(tree, "data", "data")
    for pkg in sorted(os.listdir(apps)):
        for folder, token in tokens.items():
            top = os.path.join(apps, pkg, folder)
            for base, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(base, name)
                    t.add(full, arcname="apps/%s/%s/%s" % (pkg, token, os.path.relpath(full, top)),
                          recursive=False)
    shared = os.path.join(tree, "data", "media", "0")
    for base, dirs, files in os.walk(shared):
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(base, d))):
            full = os.path.join(base, name)
            t.add(full, arcname="shared/0/" + os.path.relpath(full, shared), recursive=False)
payload = buf.getvalue()
with open(out, "wb") as f:
    f.write(b"ANDROID BACKUP\n5\n%d\nnone\n" % (1 if compress else 0))
    f.write(zlib.compress(payload, 6) if compress else payload)
