#!/usr/bin/env python3
"""Grows a real app database into a benchmark one (bench/chat_peer.sh, docs/BENCHMARKS.md).

  chat_peer_gen.py SRC DST TABLE BODY N [DELETE_MOD]

Copies SRC to DST, then appends copies of TABLE's rows until it holds N rows: the INTEGER PRIMARY
KEY gets a new value, BODY becomes a synthetic text ("generated message K"), and every other text
column keeps its value with "-gK" appended where a UNIQUE index covers it. With DELETE_MOD, every
row whose rowid % DELETE_MOD == 3 is then deleted (secure_delete off), so deleted-row recovery has
something to find. The schema stays the app's own, so both readers see a database they know.
"""
import shutil
import sqlite3
import sys

src, dst, table, body, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
mod = int(sys.argv[6]) if len(sys.argv) > 6 else 0
shutil.copyfile(src, dst)
db = sqlite3.connect(dst)
db.execute("PRAGMA secure_delete=OFF")
cols = db.execute(f'PRAGMA table_info("{table}")').fetchall()
names = [c[1] for c in cols]
pk = [c[1] for c in cols if c[5] == 1 and c[2].upper() == "INTEGER"]
unique = set()
for idx in db.execute(f'PRAGMA index_list("{table}")').fetchall():
    if idx[2]:
        unique.update(r[2] for r in db.execute(f'PRAGMA index_info("{idx[1]}")'))
rows = db.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in names)} FROM "{table}"').fetchall()
rows = [r for r in rows if any(v is not None for v in r)]
if not rows:
    sys.exit(f"{src}: {table} has no row to copy")
have = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
k = 0
ph = ", ".join("?" for _ in names)
while have < n:
    k += 1
    r = list(rows[k % len(rows)])
    for i, c in enumerate(names):
        if c in pk:
            r[i] = None
        elif c == body:
            r[i] = f"generated message {k}"
        elif c in unique and isinstance(r[i], str):
            r[i] = f"{r[i]}-g{k}"
        elif c in unique and isinstance(r[i], int):
            r[i] = 10**12 + k
    db.execute(f'INSERT INTO "{table}" VALUES ({ph})', r)
    have += 1
db.commit()
if mod:
    db.execute(f'DELETE FROM "{table}" WHERE rowid % {mod} = 3')
    db.commit()
print(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0], "rows left in", table)
db.close()
