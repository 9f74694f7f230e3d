#!/usr/bin/env python3
"""Generated Tango, Badoo and Tinder Android databases for bench/chat_peer.sh (issue 19).

usage: bench/chat_gen_android19.py DST N

Writes DST/tango/data/data/com.sgiggle.production/files/tc.db,
DST/badoo/data/data/com.badoo.mobile/databases/ChatComDatabase and
DST/tinder/data/data/com.tinder/databases/tinder-3.db (the folder trees ALEAPP's path patterns
need), each with N messages over 50 conversations in the tables and columns ALEAPP's
tangomessage, BadooChat and tinder modules read (the same schemas as tests/chat/
chat_readers19c_test.cpp), then deletes every message whose rowid % 10 = 3 (secure_delete off).
No public database of these apps was found; these are generated, not real.
"""
import base64
import os
import sqlite3
import sys


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(field, data):
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_varint(field, v):
    return varint(field << 3) + varint(v)


def connect(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete=OFF")
    return con


def text(k):
    return f"generated message {k} " + "the quick brown fox jumps over the lazy dog"[: 10 + k % 30]


def tango(dst, n):
    con = connect(os.path.join(dst, "tango/data/data/com.sgiggle.production/files/tc.db"))
    con.execute("CREATE TABLE messages (msg_id INTEGER PRIMARY KEY, conv_id TEXT, type INTEGER, "
                "payload TEXT, create_time INTEGER, direction INTEGER, status INTEGER)")
    rows = []
    for k in range(1, n + 1):
        conv = f"conv{k % 50:04d}Xk0b3Zq9wMg"
        blob = pb_varint(1, k) + pb_bytes(2, conv.encode()) + pb_bytes(4, text(k).encode())
        rows.append((conv, 0, base64.b64encode(blob).decode(), 1600000000000 + k * 1000,
                     1 + k % 2, 2))
    con.executemany("INSERT INTO messages (conv_id, type, payload, create_time, direction, status)"
                    " VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("DELETE FROM messages WHERE msg_id % 10 = 3")
    con.commit()
    con.close()


def badoo(dst, n):
    con = connect(os.path.join(dst, "badoo/data/data/com.badoo.mobile/databases/ChatComDatabase"))
    con.execute("CREATE TABLE conversation_info (user_id TEXT PRIMARY KEY, gender INTEGER, "
                "user_name TEXT, user_image_url TEXT, age INTEGER, user_photos TEXT, work TEXT, "
                "education TEXT, encrypted_user_id TEXT)")
    con.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, conversation_id TEXT, sender_id "
                "TEXT, recipient_id TEXT, created_timestamp INTEGER, modified_timestamp INTEGER, "
                "payload TEXT, payload_type TEXT, is_incoming INTEGER)")
    users = [(f"6060{u:05d}", u % 2, f"User {u}", None, 20 + u % 30, "[]", None, None,
              f"zAgEAAQZ{u:08d}") for u in range(50)]
    con.executemany("INSERT INTO conversation_info VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", users)
    rows = []
    for k in range(1, n + 1):
        u = users[k % 50]
        incoming = k % 2
        owner = "zAgEAAQZowner000"
        sender, recipient = (u[8], owner) if incoming else (owner, u[8])
        rows.append((u[0], sender, recipient, 1600000000000 + k * 1000,
                     '{"text": "%s"}' % text(k), "TEXT", incoming))
    con.executemany("INSERT INTO message (conversation_id, sender_id, recipient_id, "
                    "created_timestamp, payload, payload_type, is_incoming) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("DELETE FROM message WHERE id % 10 = 3")
    con.commit()
    con.close()


def tinder(dst, n):
    con = connect(os.path.join(dst, "tinder/data/data/com.tinder/databases/tinder-3.db"))
    con.execute("CREATE TABLE match_person (id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
                "bio TEXT, birth_date INTEGER, gender BLOB, photos BLOB, membership_status TEXT)")
    con.execute("CREATE TABLE `match` (id TEXT NOT NULL PRIMARY KEY, person_id TEXT NOT NULL, "
                "creation_date INTEGER, last_activity_date INTEGER, is_blocked INTEGER, "
                "is_muted INTEGER, type TEXT, attribution TEXT)")
    con.execute("CREATE TABLE message (id TEXT NOT NULL PRIMARY KEY, match_id TEXT NOT NULL, "
                "to_id TEXT NOT NULL, from_id TEXT NOT NULL, text TEXT NOT NULL, sent_date INTEGER "
                "NOT NULL, is_liked INTEGER, is_seen INTEGER, type TEXT, delivery_status TEXT, "
                "raw_message_data TEXT)")
    owner = "60c0ffee60c0ffee60c0ffee"
    people = [f"5f1a2b3c4d5e6f7a8b9c{p:04x}" for p in range(50)]
    con.executemany("INSERT INTO match_person (id, name) VALUES (?, ?)",
                    [(p, f"Person {i}") for i, p in enumerate(people)])
    con.executemany("INSERT INTO `match` (id, person_id, creation_date) VALUES (?, ?, ?)",
                    [(p + owner, p, 1600000000000) for p in people])
    rows = []
    for k in range(1, n + 1):
        p = people[k % 50]
        frm, to = (p, owner) if k % 2 else (owner, p)
        rows.append((f"m{k:08d}", p + owner, to, frm, text(k), 1600000000000 + k * 1000, 0, 1,
                     "UNKNOWN", "SUCCESS", '{"_id": "m%08d"}' % k))
    con.executemany("INSERT INTO message VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("DELETE FROM message WHERE rowid % 10 = 3")
    con.commit()
    con.close()


def main():
    dst, n = sys.argv[1], int(sys.argv[2])
    tango(dst, n)
    badoo(dst, n)
    tinder(dst, n)


if __name__ == "__main__":
    main()
