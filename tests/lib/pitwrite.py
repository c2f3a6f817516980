#!/usr/bin/env python3
"""Write tagged blocks one at a time, and check an image is a point in time.

The writer issues 4 KiB O_DIRECT writes to random blocks of a device, one
at a time (each waits for the previous one), until a stop file appears.
Every block carries a header naming its write's sequence number (from 1)
and its block, and a body derived from both.  After each write completed,
the writer appends "SEQ BLOCK" to a log, unbuffered: so at any moment the
log's length is the number of writes that completed.

An image of the device (the remote leg after a periodic cycle) is a point
in time of that workload if there is a k such that every block holds the
last write to it among writes 1..k (or zeroes, if none of them wrote it).
Since the writer has one write in flight at a time, k is the largest
sequence number found in the image.  check prints k, and fails if the image
is no such point, or if k is not within [--min, --max].

Usage:
  pitwrite.py write DEV LOG STOPFILE [--blocks N] [--seed S] [--hot N]
  pitwrite.py check IMAGE LOG [--blocks N] [--min K] [--max K]

Exit status: 0 on success, 1 when check finds the image is no point in
time, 2 on bad arguments or an unreadable image.
"""
import argparse
import hashlib
import mmap
import os
import random
import struct
import sys

BLOCK = 4096
MAGIC = b"XREPLPIT"
_HEADER = struct.Struct("<8sQQ")  # magic seq block


def block_data(seq, block):
    """The 4 KiB write seq carries to block."""
    header = _HEADER.pack(MAGIC, seq, block)
    seed = hashlib.sha256(header).digest()
    body = (seed * (BLOCK // len(seed) + 1))[:BLOCK - len(header)]
    return header + body


def write(args):
    rng = random.Random(args.seed)
    fd = os.open(args.dev, os.O_WRONLY | os.O_DIRECT)
    log = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                  0o644)
    buf = mmap.mmap(-1, BLOCK)
    hot = args.hot or args.blocks
    seq = 0
    while not os.path.exists(args.stopfile):
        seq += 1
        block = rng.randrange(hot)
        buf.seek(0)
        buf.write(block_data(seq, block))
        if os.pwritev(fd, [buf], block * BLOCK) != BLOCK:
            print(f"pitwrite: short write at block {block}", file=sys.stderr)
            return 2
        os.write(log, f"{seq} {block}\n".encode())
    os.close(fd)
    os.close(log)
    print(f"pitwrite: {seq} writes")
    return 0


def read_log(path):
    writes = []
    with open(path) as f:
        for line in f:
            seq, block = line.split()
            writes.append((int(seq), int(block)))
    for i, (seq, _) in enumerate(writes):
        if seq != i + 1:
            raise ValueError(f"log line {i + 1} has seq {seq}")
    return writes


def check(args):
    try:
        writes = read_log(args.log)
        with open(args.image, "rb") as f:
            image = f.read(args.blocks * BLOCK)
    except (OSError, ValueError) as e:
        print(f"pitwrite: {e}", file=sys.stderr)
        return 2
    if len(image) < args.blocks * BLOCK:
        print("pitwrite: the image is shorter than --blocks", file=sys.stderr)
        return 2
    found = {}
    bad = 0
    for b in range(args.blocks):
        data = image[b * BLOCK:(b + 1) * BLOCK]
        if data == bytes(BLOCK):
            found[b] = 0
            continue
        magic, seq, block = _HEADER.unpack_from(data)
        if magic != MAGIC or block != b or data != block_data(seq, block):
            print(f"block {b}: not a write of this workload (seq {seq})")
            bad += 1
            found[b] = -1
            continue
        found[b] = seq
    k = max(found.values())
    # The last write to each block among 1..k.  A write that is in the
    # image but not in the log completed after the log was read: it can
    # only be the one write in flight then, k = len(writes) + 1.
    if k > len(writes) + 1:
        print(f"the image holds write {k}, the log knows {len(writes)}")
        return 1
    expect = {}
    for seq, block in writes[:k]:
        expect[block] = seq
    for b in range(args.blocks):
        want = expect.get(b, 0)
        if k == len(writes) + 1 and found[b] == k:
            continue
        if found[b] != want:
            print(f"block {b}: holds write {found[b]}, the point after write {k} has {want}")
            bad += 1
    print(f"pitwrite: the image is the point after write {k} of {len(writes)}"
          + (f", with {bad} blocks off" if bad else ""))
    if bad:
        return 1
    if args.min is not None and k < args.min:
        print(f"pitwrite: point {k} is before --min {args.min}")
        return 1
    if args.max is not None and k > args.max:
        print(f"pitwrite: point {k} is after --max {args.max}")
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("dev")
    w.add_argument("log")
    w.add_argument("stopfile")
    w.add_argument("--blocks", type=int, default=4096)
    w.add_argument("--hot", type=int, default=0,
                   help="write only the first N blocks")
    w.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("check")
    c.add_argument("image")
    c.add_argument("log")
    c.add_argument("--blocks", type=int, default=4096)
    c.add_argument("--min", type=int)
    c.add_argument("--max", type=int)
    args = p.parse_args()
    return write(args) if args.cmd == "write" else check(args)


if __name__ == "__main__":
    sys.exit(main())
