#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Read and change the superblock of a dm-xrepl metadata device, in place.

For the integration tests: what the remote site's metadata says, and
hostile or hand-made versions of it.  O_DIRECT, so that what the target
wrote with its own bios is what is read.

Usage:
  sbedit.py DEV get [FIELD]      all fields as JSON, or one field's value
  sbedit.py DEV bits             the number of regions the bitmap marks
  sbedit.py DEV list             those regions, one per line
  sbedit.py DEV set F=V...       set fields (integers; uuid as 32 hex
                                 digits), re-checksum, write
  sbedit.py DEV badcsum          write a wrong checksum
  sbedit.py DEV save FILE        copy block 0 and the bitmap to FILE
  sbedit.py DEV restore FILE     write them back
  sbedit.py DEV promote          as xreplctl promote edits it: a primary
                                 (from a demoted one: the demote undone)
  sbedit.py DEV demote           as xreplctl demote edits it
"""
import json
import mmap
import os
import random
import struct
import sys
import time

# The checksum as the tools' image writer computes it (one crc32c).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "userspace"))
from mkmeta import BLOCK, CSUM_OFF, sb_csum as csum  # noqa: E402

FIELDS = [
    ("magic", "8s"), ("csum", "I"), ("version", "I"), ("flags", "I"),
    ("region_size", "I"), ("dev_sectors", "Q"), ("nr_regions", "Q"),
    ("bitmap_start", "Q"), ("bitmap_blocks", "Q"), ("generation", "Q"),
    ("uuid", "16s"), ("ctime", "Q"), ("mtime", "Q"), ("degraded", "I"),
    ("reserved0", "I"), ("gen_current", "Q"), ("gen_bitmap", "Q"),
    ("gen_history0", "Q"), ("gen_history1", "Q"), ("resync_count", "Q"),
    ("degrade_count", "Q"), ("role", "I"), ("reserved1", "I"),
    ("data_time", "Q"), ("undo_epoch", "Q"), ("trk_id", "Q"),
    ("trk_open", "Q"), ("trk_oldest", "Q"), ("trk_slots", "I"),
    ("reserved2", "I"),
]
FMT = "<" + "".join(f for _, f in FIELDS)
assert struct.calcsize(FMT) == 208


def read(dev, off, length):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, length)
        n = os.preadv(fd, [buf], off)
        if n != length:
            sys.exit(f"sbedit: short read of {dev}")
        return bytes(buf)
    finally:
        os.close(fd)


def write(dev, off, data):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT | os.O_SYNC)
    try:
        buf = mmap.mmap(-1, len(data))
        buf.write(data)
        if os.pwritev(fd, [buf], off) != len(data):
            sys.exit(f"sbedit: short write to {dev}")
    finally:
        os.close(fd)


def decode(block0):
    vals = struct.unpack_from(FMT, block0)
    d = {}
    for (name, _), v in zip(FIELDS, vals):
        d[name] = v.hex() if isinstance(v, bytes) else v
    return d


def encode(block0, d, fix_csum=True):
    vals = []
    for name, f in FIELDS:
        v = d[name]
        vals.append(bytes.fromhex(v) if f.endswith("s") else v)
    b = bytearray(block0)
    struct.pack_into(FMT, b, 0, *vals)
    if fix_csum:
        struct.pack_into("<I", b, CSUM_OFF, csum(b))
    return bytes(b)


def bitmap_bytes(d):
    return d["bitmap_blocks"] * BLOCK


GENS = ("gen_current", "gen_bitmap", "gen_history0", "gen_history1")
F_CONSISTENT, F_DEMOTED = 1, 2


def new_gen(d):
    while True:
        g = random.getrandbits(64)
        if g and g not in [d[k] for k in GENS]:
            return g


def promote(dev, block0, d):
    if d["role"] != 2:
        sys.exit("sbedit: not a secondary's")
    demoted = d["flags"] & F_DEMOTED
    d.update(role=1, flags=0, degraded=1, data_time=0)
    d["generation"] += 1
    d["mtime"] = int(time.time())
    if not demoted:
        if not d["gen_bitmap"]:
            d["gen_bitmap"] = d["gen_current"]
            d["gen_current"] = new_gen(d)
        write(dev, BLOCK, bytes(bitmap_bytes(d)))
    write(dev, 0, encode(block0, d))


def demote(dev, block0, d):
    if d["role"] != 1:
        sys.exit("sbedit: not a primary's")
    d.update(role=2, flags=F_CONSISTENT | F_DEMOTED, data_time=d["mtime"],
             trk_id=0, trk_open=0, trk_oldest=0, trk_slots=0)
    d["generation"] += 1
    d["mtime"] = int(time.time())
    write(dev, 0, encode(block0, d))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    dev, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    block0 = read(dev, 0, BLOCK)
    d = decode(block0)
    if cmd == "get":
        if args:
            print(d[args[0]])
        else:
            print(json.dumps(d, indent=1))
    elif cmd == "bits":
        bm = read(dev, BLOCK, bitmap_bytes(d))
        print(sum(bin(b).count("1") for b in bm))
    elif cmd == "list":
        bm = read(dev, BLOCK, bitmap_bytes(d))
        for i, b in enumerate(bm):
            for j in range(8):
                if b >> j & 1:
                    print(i * 8 + j)
    elif cmd == "set":
        for a in args:
            k, v = a.split("=", 1)
            if k not in d:
                sys.exit(f"sbedit: no field {k}")
            d[k] = v if k in ("uuid", "magic") else int(v, 0)
        write(dev, 0, encode(block0, d))
    elif cmd == "promote":
        promote(dev, block0, d)
    elif cmd == "demote":
        demote(dev, block0, d)
    elif cmd == "badcsum":
        b = bytearray(block0)
        struct.pack_into("<I", b, CSUM_OFF, csum(b) ^ 0x1)
        write(dev, 0, bytes(b))
    elif cmd == "save":
        data = read(dev, 0, BLOCK + bitmap_bytes(d))
        with open(args[0], "wb") as f:
            f.write(data)
    elif cmd == "restore":
        with open(args[0], "rb") as f:
            write(dev, 0, f.read())
    else:
        sys.exit(f"sbedit: unknown command {cmd}")


if __name__ == "__main__":
    main()
