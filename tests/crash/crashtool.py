#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writer and checkers of the dm-xrepl crash tests (run in the guest).

  crashtool.py write DEV --log FILE --kill-file FILE [--seconds S]
               [--threads N] [--sync-every K] [--seed X]
      Write 4 KiB blocks with unique contents at random offsets of DEV with
      O_DIRECT from N threads.  Each thread owns the blocks b with
      b % N == its number, so the writes to one block are ordered and
      their sequence numbers increase.  After every K writes a thread calls
      fdatasync and then appends the (block, seq) pairs it knows durable
      to FILE ("block seq" lines; the log is fsynced).  After S seconds
      the kill file is created while the writes go on; the host kills the
      machine when it sees it.  Exits 4 if still alive a minute later.

  crashtool.py intent LOCAL REMOTE DUMP_JSON [--out FILE]
      Compare the legs block by block and check the write-intent invariant:
      every 4 KiB block that differs lies in a region whose bit is set in
      the bitmap (DUMP_JSON is the output of xrepl-dump --json).  Exit 0
      when it holds, 1 when a differing block lies in a clean region, 3
      when the legs are equal (the crash left nothing to check).

  crashtool.py verify DEV LOG
      Every logged (block, seq) must be on DEV with that seq or a later
      one; every block must be zero (never written) or a well-formed
      block written for that very offset.  Exit 0 or 1.

  crashtool.py prefix DEV --blocks N --sync-every K [--seed X]
      For a run of write with --threads 1 (only: each write waits for the one
      before; fdatasync after every K writes) on a device of N blocks of
      4 KiB: is DEV (the remote, read raw) a state that a crash of the
      source could have left?  With M the newest write DEV holds, every
      write of an epoch (the K writes between two fdatasyncs) before M's
      must be there (that one or a later write of its block); M's epoch
      may be there in part, in any order.  Prints M and the writes DEV
      lacks; exit 0 when it holds, 1 when not, 3 when DEV holds no write.

A block holds: "XRCRASH1", the block number and the sequence number
(little-endian 64 bits each), a crc32 of the rest of the block, then
bytes derived from (block, seq).
"""
import argparse
import hashlib
import mmap
import os
import random
import struct
import sys
import threading
import time
import zlib

BLOCK = 4096
SECTOR = 512
MAGIC = b"XRCRASH1"
HDR = struct.Struct("<8sQQI")       # magic, block, seq, crc32
CHUNK = 1 << 20                     # read size of the comparisons


def make_block(block, seq):
    payload = hashlib.sha256(struct.pack("<QQ", block, seq)).digest()
    body = (payload * (BLOCK // len(payload) + 1))[:BLOCK - HDR.size]
    head = MAGIC + struct.pack("<QQ", block, seq)
    crc = zlib.crc32(head + body)
    return HDR.pack(MAGIC, block, seq, crc) + body


def parse_block(data):
    """(block, seq) of a well-formed block, None for zeroes, else 'bad'."""
    if data.count(0) == len(data):
        return None
    magic, block, seq, crc = HDR.unpack_from(data)
    if magic != MAGIC or zlib.crc32(data[:HDR.size - 4] + data[HDR.size:]) != crc:
        return "bad"
    return block, seq


def dev_bytes(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def read_chunks(path, total):
    """Yield (offset, bytes) of path in CHUNK pieces, read with O_DIRECT."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, CHUNK)
    try:
        off = 0
        while off < total:
            n = min(CHUNK, total - off)
            got = os.preadv(fd, [memoryview(buf)[:n]], off)
            if got != n:
                raise OSError(f"short read of {path} at byte {off}")
            yield off, bytes(buf[:n])
            off += n
    finally:
        os.close(fd)


# --- write ---------------------------------------------------------------

class Writer:
    def __init__(self, a):
        self.a = a
        self.nblocks = dev_bytes(a.dev) // BLOCK
        self.log = open(a.log, "a")
        self.lock = threading.Lock()
        self.writes = 0
        self.logged = 0
        self.error = None

    def thread(self, tid):
        a = self.a
        rng = random.Random(a.seed * 1000 + tid)
        fd = os.open(a.dev, os.O_WRONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, BLOCK)
        own = (self.nblocks - tid + a.threads - 1) // a.threads
        done = []
        i = 0
        try:
            while self.error is None:
                block = rng.randrange(own) * a.threads + tid
                # Unique over all threads, increasing within one.
                seq = i * a.threads + tid + 1
                i += 1
                buf[:] = make_block(block, seq)
                if os.pwrite(fd, buf, block * BLOCK) != BLOCK:
                    raise OSError(f"short write at block {block}")
                done.append((block, seq))
                with self.lock:
                    self.writes += 1
                if len(done) >= a.sync_every:
                    os.fdatasync(fd)
                    with self.lock:
                        self.log.write("".join(f"{b} {s}\n" for b, s in done))
                        self.log.flush()
                        os.fsync(self.log.fileno())
                        self.logged += len(done)
                    done = []
        except OSError as e:
            self.error = f"thread {tid}: {e}"
        finally:
            os.close(fd)

    def run(self):
        a = self.a
        threads = [threading.Thread(target=self.thread, args=(t,), daemon=True)
                   for t in range(a.threads)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        killed_at = None
        while True:
            time.sleep(0.5)
            now = time.monotonic() - t0
            with self.lock:
                print(f"writer: {now:5.1f}s {self.writes} writes, "
                      f"{self.logged} logged durable", flush=True)
            if self.error:
                print(f"writer: FAILED: {self.error}", flush=True)
                return 1
            if killed_at is None and now >= a.seconds:
                print(f"writer: creating {a.kill_file} with writes in flight",
                      flush=True)
                fd = os.open(a.kill_file, os.O_WRONLY | os.O_CREAT, 0o644)
                os.fsync(fd)
                os.close(fd)
                killed_at = now
            if killed_at is not None and now - killed_at > 60:
                print("writer: FAILED: still running a minute after the kill file",
                      flush=True)
                return 4


def cmd_write(a):
    return Writer(a).run()


# --- prefix --------------------------------------------------------------

def read_written(dev, total):
    """({block: seq} of the blocks of dev written, [malformed blocks])."""
    found = {}
    bad = []
    for off, data in read_chunks(dev, total):
        for o in range(0, len(data), BLOCK):
            b = (off + o) // BLOCK
            p = parse_block(data[o:o + BLOCK])
            if p is None:
                continue
            if p == "bad" or p[0] != b:
                bad.append(b)
                continue
            found[b] = p[1]
    return found, bad


def cmd_prefix(a):
    found, bad = read_written(a.dev, a.blocks * BLOCK)
    for b in bad[:5]:
        print(f"prefix: block {b} is neither zero nor a block written there")
    if bad:
        return 1
    if not found:
        print("prefix: the device holds no write")
        return 3
    newest = max(found.values())
    # The writer's blocks, write by write: thread 0 of Writer.thread().
    rng = random.Random(a.seed * 1000)
    blocks = [rng.randrange(a.blocks) for _ in range(newest)]
    for b, s in found.items():
        if s < 1:
            print(f"prefix: block {b} holds write {s}, which the writer never made")
            return 1
        if blocks[s - 1] != b:
            print(f"prefix: block {b} holds write {s}, which went to block {blocks[s - 1]}")
            return 1
    epoch = (newest - 1) // a.sync_every
    missing = [s for s in range(1, epoch * a.sync_every + 1)
               if found.get(blocks[s - 1], 0) < s]
    part = [s for s in range(epoch * a.sync_every + 1, newest + 1)
            if found.get(blocks[s - 1], 0) < s]
    print(f"prefix: the newest write held is {newest} (epoch {epoch}); "
          f"{len(missing)} writes of earlier epochs are missing, "
          f"{len(part)} of its own epoch")
    for s in missing[:5]:
        print(f"prefix: write {s} (block {blocks[s - 1]}, epoch "
              f"{(s - 1) // a.sync_every}) is missing: the device has "
              f"{found.get(blocks[s - 1], 'nothing')}")
    return 1 if missing else 0


# --- intent --------------------------------------------------------------

def cmd_intent(a):
    import bisect
    import json
    dump = json.load(open(a.dump))
    if dump.get("state") != "valid":
        print(f"intent: the metadata is not valid: {dump.get('state')}")
        return 1
    rs = dump["superblock"]["region_size"]
    runs = dump["dirty_regions"]
    firsts = [r[0] for r in runs]

    def region_set(r):
        i = bisect.bisect_right(firsts, r) - 1
        return i >= 0 and runs[i][0] <= r <= runs[i][1]

    total = min(dev_bytes(a.local), dev_bytes(a.remote))
    diff = []
    chunks_b = read_chunks(a.remote, total)
    for off, x in read_chunks(a.local, total):
        _, y = next(chunks_b)
        if x == y:
            continue
        for o in range(0, len(x), BLOCK):
            if x[o:o + BLOCK] != y[o:o + BLOCK]:
                diff.append((off + o) // BLOCK)
    bad = [b for b in diff if not region_set(b * (BLOCK // SECTOR) // rs)]
    regions = sorted({b * (BLOCK // SECTOR) // rs for b in diff})
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"differing_blocks": diff, "regions": regions,
                       "outside_bitmap": bad}, f)
    print(f"intent: {len(diff)} blocks of 4 KiB differ, in {len(regions)} "
          f"regions; {dump['dirty_count']} regions are set in the bitmap")
    if not diff:
        return 3
    if bad:
        print(f"intent: {len(bad)} differing blocks lie in regions whose bit "
              f"is clear, e.g. block {bad[0]} (region "
              f"{bad[0] * (BLOCK // SECTOR) // rs})")
        return 1
    print("intent: every differing block lies in a set region")
    return 0


# --- verify --------------------------------------------------------------

def cmd_verify(a):
    want = {}
    entries = 0
    with open(a.log) as f:
        for line in f:
            b, s = map(int, line.split())
            want[b] = max(want.get(b, 0), s)
            entries += 1
    total = dev_bytes(a.dev)
    found, bad = read_written(a.dev, total - total % BLOCK)
    written = len(found)
    lost = [(b, s, found.get(b)) for b, s in sorted(want.items())
            if found.get(b, 0) < s]
    print(f"verify: {entries} durable writes logged to {len(want)} blocks; "
          f"{written} blocks hold written data, {len(bad)} are malformed, "
          f"{len(lost)} lost a durable write")
    for b in bad[:5]:
        print(f"verify: block {b} is neither zero nor a block written there")
    for b, s, got in lost[:5]:
        print(f"verify: block {b}: logged seq {s} durable, the device has "
              f"{'nothing' if got is None else 'seq %d' % got}")
    return 1 if bad or lost else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("dev")
    w.add_argument("--log", required=True)
    w.add_argument("--kill-file", required=True)
    w.add_argument("--seconds", type=float, default=5)
    w.add_argument("--threads", type=int, default=8)
    w.add_argument("--sync-every", type=int, default=4)
    w.add_argument("--seed", type=int, default=1)
    i = sub.add_parser("intent")
    i.add_argument("local")
    i.add_argument("remote")
    i.add_argument("dump")
    i.add_argument("--out")
    p = sub.add_parser("prefix")
    p.add_argument("dev")
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--sync-every", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    v = sub.add_parser("verify")
    v.add_argument("dev")
    v.add_argument("log")
    a = ap.parse_args()
    return {"write": cmd_write, "intent": cmd_intent, "prefix": cmd_prefix,
            "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print(f"crashtool: {e}", file=sys.stderr)
        sys.exit(2)
