#!/usr/bin/env python3
"""Write a workload with known epochs, and check a remote log against it.

The writer issues 4 KiB O_DIRECT writes to a block device in epochs: in
each epoch several threads write blocks concurrently (a thread sometimes
writes the same block again, after its first write completed), then the
epoch ends with fdatasync() (an empty flush) or with an O_DSYNC write
(FUA, plus the flush the kernel issues for O_DSYNC).  Every block carries
a header naming its epoch, a unique sequence number, its offset and its
thread, and a body derived from the sequence number, so a block found in
a log tells exactly which write it is.  The writer saves a manifest (one
JSON object per write, in the order they were issued) for the checker.

Write-order fidelity at the remote (what the replication promises) is,
for such a workload:

 1. every write in the remote log is a write of the manifest, with its
    data intact;
 2. remote writes go by nondecreasing epoch;
 3. before the first remote write of epoch e, every write of the earlier
    epochs is on the remote;
 4. where the epoch rises between two consecutive remote writes there is
    a remote flush between them (it may be the preflush of the later
    write);
 5. a block a thread wrote twice in one epoch reaches the remote in that
    order;
 6. with --complete: every write of the manifest is on the remote.

The remote log is a dm-log-writes log (see logwrites.py), which records
the writes in the order they completed at the remote device.

Usage:
  epochs.py write DEV MANIFEST [--epochs N] [--threads T] [--writes W]
                  [--span BYTES] [--offset BYTES] [--seed S]
  epochs.py check REMOTE_LOG MANIFEST [--complete]

Exit status: 0 on success, 1 when check finds violations, 2 on bad
arguments or an unreadable log.
"""
import argparse
import json
import mmap
import os
import random
import struct
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import logwrites  # noqa: E402

BLOCK = 4096
MAGIC = b"XREPLEPO"
_HEADER = struct.Struct("<8sQQQQQ")  # magic epoch seq offset thread order


def block_data(epoch, seq, offset, thread, order):
    """The 4 KiB a write carries: header, then bytes derived from seq."""
    header = _HEADER.pack(MAGIC, epoch, seq, offset, thread, order)
    body = random.Random(seq).randbytes(BLOCK - len(header))
    return header + body


def parse_block(data):
    """(epoch, seq, offset, thread, order) of a block, or None."""
    if len(data) != BLOCK or data[:8] != MAGIC:
        return None
    _, epoch, seq, offset, thread, order = _HEADER.unpack_from(data)
    if data != block_data(epoch, seq, offset, thread, order):
        return None
    return epoch, seq, offset, thread, order


class _Writer:
    def __init__(self, dev, base, span, seed):
        self.dev = dev
        self.base = base
        self.nblocks = span // BLOCK
        self.rng = random.Random(seed)
        self.lock = threading.Lock()  # protects seq and manifest
        self.seq = 0
        self.manifest = []
        self.fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
        self.dsync_fd = os.open(dev, os.O_WRONLY | os.O_DIRECT | os.O_DSYNC)

    def close(self):
        os.close(self.fd)
        os.close(self.dsync_fd)

    def _next(self, epoch, offset, thread, order, kind):
        with self.lock:
            self.seq += 1
            rec = {"epoch": epoch, "seq": self.seq, "offset": offset,
                   "thread": thread, "order": order, "kind": kind}
            self.manifest.append(rec)
            return rec

    def _pwrite(self, fd, buf, rec):
        buf[:] = block_data(rec["epoch"], rec["seq"], rec["offset"],
                            rec["thread"], rec["order"])
        n = os.pwrite(fd, buf, rec["offset"])
        if n != BLOCK:
            raise OSError(f"short write at {rec['offset']}: {n}")

    def _thread(self, epoch, thread, writes, offsets, errors):
        buf = mmap.mmap(-1, BLOCK)
        try:
            last = None
            for order in range(writes):
                if last is not None and order % 3 == 2:
                    offset = last  # the same block again
                else:
                    offset = offsets[order]
                rec = self._next(epoch, offset, thread, order, "write")
                self._pwrite(self.fd, buf, rec)
                last = offset
        except OSError as e:
            errors.append(f"thread {thread}: {e}")
        finally:
            buf.close()

    def epoch(self, epoch, threads, writes):
        errors = []
        offsets = [[self.base + self.rng.randrange(self.nblocks) * BLOCK
                    for _ in range(writes)] for _ in range(threads)]
        workers = [threading.Thread(target=self._thread,
                                    args=(epoch, t, writes, offsets[t],
                                          errors))
                   for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if errors:
            raise OSError("; ".join(errors))
        if epoch % 3 == 2:
            # A FUA write ends the epoch (O_DSYNC adds a flush after it).
            buf = mmap.mmap(-1, BLOCK)
            offset = self.base + self.rng.randrange(self.nblocks) * BLOCK
            rec = self._next(epoch, offset, threads, 0, "fua")
            self._pwrite(self.dsync_fd, buf, rec)
            buf.close()
        else:
            os.fdatasync(self.fd)


def cmd_write(args):
    w = _Writer(args.dev, args.offset, args.span, args.seed)
    try:
        for e in range(args.epochs):
            w.epoch(e, args.threads, args.writes)
    finally:
        w.close()
        with open(args.manifest, "w", encoding="utf-8") as f:
            for rec in w.manifest:
                f.write(json.dumps(rec) + "\n")
    print(f"epochs: {args.epochs} epochs, {len(w.manifest)} writes")
    return 0


def read_manifest(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check(entries, manifest, complete=False):
    """Violations of the rules in the module comment, as messages."""
    by_seq = {r["seq"]: r for r in manifest}
    by_epoch = {}
    for r in manifest:
        by_epoch.setdefault(r["epoch"], set()).add(r["seq"])
    violations = []
    seen = set()
    top = -1            # highest epoch on the remote so far
    last_write = -1     # position of the latest remote write
    last_flush = -1     # position of the latest remote flush
    # (thread, epoch, offset) -> order of the latest remote write of it
    latest = {}
    pos = 0
    for entry in entries:
        pos += 1
        if "flush" in entry.flags:
            last_flush = pos
        if not entry.is_io:
            continue
        if entry.data is None:
            violations.append(f"rule 1: remote #{entry.index}"
                              f" ({entry.describe()}) is a discard")
            continue
        for i in range(0, len(entry.data), BLOCK):
            pos += 1
            what = f"remote #{entry.index} block {i // BLOCK}"
            blk = parse_block(entry.data[i:i + BLOCK])
            if blk is None or blk[1] not in by_seq:
                violations.append(f"rule 1: {what} is not a write of the"
                                  " workload (or its data is damaged)")
                continue
            epoch, seq, offset, thread, order = blk
            rec = by_seq[seq]
            if entry.sector * 512 + i != offset:
                violations.append(f"rule 1: {what} (seq {seq}) at byte"
                                  f" {entry.sector * 512 + i}, written at"
                                  f" {offset}")
            if epoch < top:
                violations.append(f"rule 2: {what} (seq {seq}, epoch"
                                  f" {epoch}) after a write of epoch {top}")
            elif epoch > top:
                for e in range(top if top >= 0 else 0, epoch):
                    missing = by_epoch.get(e, set()) - seen
                    if missing:
                        violations.append(
                            f"rule 3: {len(missing)} write(s) of epoch {e}"
                            f" (seqs {sorted(missing)[:5]}...) not on the"
                            f" remote before the first write of epoch"
                            f" {epoch} ({what}, seq {seq})")
                if top >= 0 and last_flush < last_write:
                    violations.append(f"rule 4: no remote flush between"
                                      f" epoch {top} and epoch {epoch}"
                                      f" ({what}, seq {seq})")
                top = epoch
            key = (thread, epoch, offset)
            if rec["kind"] == "write" and latest.get(key, -1) > order:
                violations.append(f"rule 5: {what} (seq {seq}) overwrote"
                                  f" a later write of thread {thread} to"
                                  f" byte {offset} in epoch {epoch}")
            latest[key] = max(latest.get(key, -1), order)
            seen.add(seq)
            last_write = pos
    if complete:
        missing = set(by_seq) - seen
        if missing:
            violations.append(f"rule 6: {len(missing)} write(s) never"
                              f" reached the remote (seqs"
                              f" {sorted(missing)[:5]}...)")
    return violations


def cmd_check(args):
    try:
        entries = logwrites.read_log(args.remote_log)
        manifest = read_manifest(args.manifest)
    except (OSError, ValueError, logwrites.LogError) as e:
        print(f"epochs: {e}", file=sys.stderr)
        return 2
    violations = check(entries, manifest, args.complete)
    for v in violations[:50]:
        print(v)
    epochs = len({r["epoch"] for r in manifest})
    print(f"epochs: {len(manifest)} writes in {epochs} epochs,"
          f" {len(entries)} remote log entries:"
          f" {len(violations)} violation(s)")
    return 1 if violations else 0


def _positive(text):
    value = int(text, 0)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text}")
    return value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write", help="run the workload on a device")
    p.add_argument("dev")
    p.add_argument("manifest")
    p.add_argument("--epochs", type=_positive, default=30)
    p.add_argument("--threads", type=_positive, default=4)
    p.add_argument("--writes", type=_positive, default=8)
    p.add_argument("--span", type=_positive, default=8 << 20)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("check", help="check a remote log")
    p.add_argument("remote_log")
    p.add_argument("manifest")
    p.add_argument("--complete", action="store_true")
    args = ap.parse_args(argv)
    if args.cmd == "write":
        if args.span < BLOCK or args.offset % BLOCK:
            ap.error("--span must hold a block, --offset be 4 KiB aligned")
        return cmd_write(args)
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
