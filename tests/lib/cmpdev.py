#!/usr/bin/env python3
"""Compare two block devices byte for byte with O_DIRECT reads.

Usage: cmpdev.py DEV_A DEV_B BYTES

Exit status 0 when the first BYTES bytes are identical, 1 when they differ
(the first differing byte and the differing 64 KiB chunks are printed on
stderr), 2 on an error.  O_DIRECT keeps stale page cache of a lower device
out of the comparison.
"""
import mmap
import os
import sys

BLOCK = 1 << 20   # read size
CHUNK = 1 << 16   # granularity of the difference report


def main():
    a, b, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fa = os.open(a, os.O_RDONLY | os.O_DIRECT)
    fb = os.open(b, os.O_RDONLY | os.O_DIRECT)
    # mmap gives page-aligned buffers, as O_DIRECT requires.
    ba, bb = mmap.mmap(-1, BLOCK), mmap.mmap(-1, BLOCK)
    first = None
    chunks = []
    off = 0
    while off < total:
        n = min(BLOCK, total - off)
        ra = os.preadv(fa, [memoryview(ba)[:n]], off)
        rb = os.preadv(fb, [memoryview(bb)[:n]], off)
        if ra != n or rb != n:
            print(f"short read at byte {off}: {a} gave {ra}, {b} gave {rb}",
                  file=sys.stderr)
            return 2
        if ba[:n] != bb[:n]:
            for c in range(0, n, CHUNK):
                x, y = ba[c:c + CHUNK], bb[c:c + CHUNK]
                if x != y:
                    if first is None:
                        i = next(i for i in range(len(x)) if x[i] != y[i])
                        first = off + c + i
                    chunks.append((off + c) // CHUNK)
        off += n
    if first is None:
        return 0
    print(f"    {a} and {b} differ: first at byte {first} (sector {first // 512});"
          f" {len(chunks)} of {(total + CHUNK - 1) // CHUNK} 64 KiB chunks differ",
          file=sys.stderr)
    for c in chunks[:8]:
        print(f"      chunk {c} (sector {c * CHUNK // 512}) differs", file=sys.stderr)
    if len(chunks) > 8:
        print(f"      ... and {len(chunks) - 8} more", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print(f"cmpdev: {e}", file=sys.stderr)
        sys.exit(2)
