#!/usr/bin/env python3
"""Read, write, replay and check logs of the dm-log-writes target.

The format is the one drivers/md/dm-log-writes.c (Linux 6.1) writes and
the replay-log tool of xfstests reads.  All numbers are little endian.
The log is cut into blocks of SECTORSIZE bytes, the logical block size of
the *data* device the target was created on (recorded in the super block):

  block 0   struct log_write_super {u64 magic, version, nr_entries;
            u32 sectorsize}, zero padded (the 4 padding bytes of the C
            struct come from the kernel stack and are not checked)
  then, for each of nr_entries entries:
    1 block   struct log_write_entry {u64 sector, nr_sectors, flags,
              data_len}, zero padded; a MARK entry has its name (data_len
              bytes, no NUL) right after the 32-byte header
    N blocks  the data written, nr_sectors blocks; none for a DISCARD, a
              MARK or an empty FLUSH

sector and nr_sectors count blocks of SECTORSIZE bytes, not 512-byte
sectors.  Entry converts them to 512-byte sectors.  A plain write is
logged only when a later FLUSH completes (just before the flush entry)
or when the table is removed; a FUA write is logged when it completes.
The kernel rewrites nr_entries only after logging a FUA write or a mark,
and logs the mark "dm-log-writes-end" when the table is removed.  Like
replay-log, this reader trusts nr_entries.

Usage:
  logwrites.py dump LOG                      one line per entry
  logwrites.py check SOURCE_LOG REMOTE_LOG   ordering check, see check_epochs
  logwrites.py replay LOG DEV [--upto N]     apply the first N entries to DEV

Exit status: 0 on success, 1 when check finds violations, 2 when a log
cannot be read or the arguments are wrong.
"""
import argparse
import os
import struct
import sys
import zlib
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import NamedTuple, Optional

SECTOR_SIZE = 512
WRITE_LOG_MAGIC = 0x6a736677736872
WRITE_LOG_VERSION = 1
FLAGS = {
    "flush": 1 << 0,
    "fua": 1 << 1,
    "discard": 1 << 2,
    "mark": 1 << 3,
    "metadata": 1 << 4,
}
ALL_FLAGS = sum(FLAGS.values())

_SUPER = struct.Struct("<QQQI")   # struct log_write_super without padding
_ENTRY = struct.Struct("<QQQQ")   # struct log_write_entry
_ZERO_CHUNK = 1 << 20             # bytes of zeros written at a time


class LogError(Exception):
    """The file is not a valid dm-log-writes log."""


@dataclass(frozen=True)
class Entry:
    """One log entry; sector and nr_sectors count 512-byte sectors.

    data holds the bytes written (None for discards, marks and empty
    flushes); mark holds the name of a MARK entry.
    """

    index: int
    sector: int
    nr_sectors: int
    flags: frozenset
    data: Optional[bytes] = None
    mark: Optional[str] = None

    @property
    def is_io(self):
        """True for a write or a discard, False for a mark or empty flush."""
        return "mark" not in self.flags and self.nr_sectors > 0

    @property
    def end(self):
        """The first sector after the range this entry covers."""
        return self.sector + self.nr_sectors

    def describe(self):
        """The sector range, as used in messages."""
        return f"sectors {self.sector}-{self.end - 1}"


def _valid_sectorsize(sectorsize):
    return sectorsize >= SECTOR_SIZE and not sectorsize & (sectorsize - 1)


def _has_data(flags, nr_sectors):
    """True if the log holds data blocks for an entry like this."""
    return bool(nr_sectors) and not flags & {"mark", "discard"}


def _read_exact(f, size, what, path):
    offset = f.tell()
    buf = f.read(size)
    if len(buf) != size:
        raise LogError(f"{path}: truncated {what} at byte {offset}:"
                       f" {len(buf)} of {size} bytes")
    return buf


def _read_entry(f, index, sectorsize, path):
    where = f"{path}: entry {index}"
    block = _read_exact(f, sectorsize, f"header of entry {index}", path)
    sector, nr_sectors, bits, data_len = _ENTRY.unpack_from(block)
    if bits & ~ALL_FLAGS:
        raise LogError(f"{where}: unknown flags {bits & ~ALL_FLAGS:#x}")
    if not bits and not nr_sectors:
        raise LogError(f"{where}: empty entry header (nr_entries larger"
                       " than the log written?)")
    flags = frozenset(name for name, bit in FLAGS.items() if bits & bit)
    mark = None
    if "mark" in flags:
        if nr_sectors or data_len > sectorsize - _ENTRY.size:
            raise LogError(f"{where}: bad mark, nr_sectors {nr_sectors},"
                           f" data_len {data_len}")
        name_end = _ENTRY.size + data_len
        mark = block[_ENTRY.size:name_end].decode(errors="backslashreplace")
    elif data_len:
        raise LogError(f"{where}: data_len {data_len} on an entry that is"
                       " not a mark")
    else:
        name_end = _ENTRY.size
    if block[name_end:].strip(b"\0"):
        raise LogError(f"{where}: header block is not zero padded")
    data = None
    if _has_data(flags, nr_sectors):
        data = _read_exact(f, nr_sectors * sectorsize,
                           f"data of entry {index}", path)
    scale = sectorsize // SECTOR_SIZE
    return Entry(index, sector * scale, nr_sectors * scale, flags, data,
                 mark)


def iter_log(path):
    """Yield the entries of the log at path one by one.

    Raises LogError on a bad super block as soon as iteration starts, and
    on a malformed or truncated entry when it is reached.
    """
    with open(path, "rb") as f:
        raw = f.read(_SUPER.size)
        if len(raw) < _SUPER.size:
            raise LogError(f"{path}: truncated super block: {len(raw)} of"
                           f" {_SUPER.size} bytes")
        magic, version, nr_entries, sectorsize = _SUPER.unpack(raw)
        if magic != WRITE_LOG_MAGIC:
            raise LogError(f"{path}: bad magic {magic:#x}, expected"
                           f" {WRITE_LOG_MAGIC:#x}")
        if version != WRITE_LOG_VERSION:
            raise LogError(f"{path}: unsupported version {version}, expected"
                           f" {WRITE_LOG_VERSION}")
        if not _valid_sectorsize(sectorsize):
            raise LogError(f"{path}: bad sectorsize {sectorsize}")
        f.seek(sectorsize)
        for index in range(nr_entries):
            yield _read_entry(f, index, sectorsize, path)


def read_log(path):
    """Return the list of entries of the log at path; LogError if invalid."""
    return list(iter_log(path))


def _encode_entry(entry, sectorsize):
    scale = sectorsize // SECTOR_SIZE
    if entry.sector % scale or entry.nr_sectors % scale:
        raise ValueError(f"entry {entry.index}: {entry.describe()} not"
                         f" aligned to the {sectorsize}-byte log sector")
    if not entry.flags <= FLAGS.keys():
        raise ValueError(f"entry {entry.index}: unknown flags"
                         f" {sorted(entry.flags - FLAGS.keys())}")
    bits = sum(FLAGS[name] for name in entry.flags)
    payload = b""
    data_len = 0
    if "mark" in entry.flags:
        payload = entry.mark.encode()
        data_len = len(payload)
        # log_mark() keeps at most sectorsize - sizeof(entry) - 1 bytes.
        if entry.nr_sectors or data_len >= sectorsize - _ENTRY.size:
            raise ValueError(f"entry {entry.index}: bad mark")
    size = entry.nr_sectors * SECTOR_SIZE
    if _has_data(entry.flags, entry.nr_sectors):
        if entry.data is None or len(entry.data) != size:
            raise ValueError(f"entry {entry.index}: data must be {size}"
                             " bytes")
    elif entry.data is not None:
        raise ValueError(f"entry {entry.index}: takes no data")
    header = _ENTRY.pack(entry.sector // scale, entry.nr_sectors // scale,
                         bits, data_len) + payload
    return header.ljust(sectorsize, b"\0") + (entry.data or b"")


def write_log(path, entries, sectorsize=SECTOR_SIZE):
    """Write entries to path as dm-log-writes lays them out on its log.

    Entry.index is ignored.  sectorsize is the log sector size of the
    emulated data device; sectors and lengths must be multiples of it.
    Raises ValueError for an entry the kernel would not log this way.
    """
    if not _valid_sectorsize(sectorsize):
        raise ValueError(f"bad sectorsize {sectorsize}")
    entries = list(entries)
    blocks = [_encode_entry(e, sectorsize) for e in entries]
    super_block = _SUPER.pack(WRITE_LOG_MAGIC, WRITE_LOG_VERSION,
                              len(entries), sectorsize)
    with open(path, "wb") as f:
        f.write(super_block.ljust(sectorsize, b"\0"))
        for block in blocks:
            f.write(block)


def _pwrite_all(fd, data, offset):
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view = view[done:]
        offset += done


def replay(entries, dev, upto=None):
    """Apply entries to dev (a block device or an existing image file).

    Writes go to entry.sector * 512; discards are replayed as zeros; marks
    and empty flushes change nothing.  Only the first upto entries are
    applied when upto is given.  Returns the number of entries applied.
    """
    applied = 0
    fd = os.open(dev, os.O_WRONLY)
    try:
        for entry in entries:
            if upto is not None and applied >= upto:
                break
            offset = entry.sector * SECTOR_SIZE
            if entry.data is not None:
                _pwrite_all(fd, entry.data, offset)
            elif entry.is_io and "discard" in entry.flags:
                left = entry.nr_sectors * SECTOR_SIZE
                while left:
                    n = min(left, _ZERO_CHUNK)
                    _pwrite_all(fd, bytes(n), offset)
                    offset += n
                    left -= n
            applied += 1
        os.fsync(fd)
    finally:
        os.close(fd)
    return applied


def source_epochs(source_log):
    """Map the index of each write or discard of source_log to its epoch.

    Epoch 0 starts the log.  A FLUSH-flagged entry starts a new epoch and
    a write carrying it belongs to the new one (its preflush covers all
    before it).  A FUA write belongs to the current epoch and the next
    write starts a new one, unless a FLUSH starts it first.
    """
    epochs = {}
    epoch = 0
    fua_pending = False
    for entry in source_log:
        if "mark" in entry.flags:
            continue
        if "flush" in entry.flags or (fua_pending and entry.is_io):
            epoch += 1
            fua_pending = False
        if entry.is_io:
            epochs[entry.index] = epoch
        if "fua" in entry.flags:
            fua_pending = True
    return epochs


def _payload_key(entry):
    if "discard" in entry.flags:
        return ("discard", entry.sector, entry.nr_sectors)
    return ("write", entry.sector, entry.nr_sectors, entry.data)


class _Match(NamedTuple):
    pos: int        # position in the remote log
    remote: Entry
    source: Entry
    epoch: int

    def describe(self):
        return (f"remote #{self.remote.index} (source #{self.source.index},"
                f" epoch {self.epoch}, {self.source.describe()})")


def _overlap_violations(matches):
    """Rule 5: overlapping writes of one epoch keep their source order."""
    violations = []
    by_epoch = defaultdict(list)
    for m in matches:
        by_epoch[m.epoch].append(m)
    for epoch, group in sorted(by_epoch.items()):
        active = []
        for m in sorted(group, key=lambda m: m.source.sector):
            active = [a for a in active if a.source.end > m.source.sector]
            for a in active:
                if (a.source.index < m.source.index) != (a.pos < m.pos):
                    first, second = sorted((a, m), key=lambda x: x.pos)
                    violations.append(
                        f"rule 5 (overlap order): {second.describe()}"
                        f" overlaps {first.describe()} in the same epoch and"
                        " comes first in the source log, but later in the"
                        " remote log")
            active.append(m)
    return violations


def check_epochs(source_log, remote_log):
    """Check that remote_log replays source_log with write-order fidelity.

    Both arguments are lists of Entry as read_log returns them.  Returns
    a list of violation messages, empty when the remote order is valid:

    1. every remote write or discard is the next unused source write with
       the same sector, nr_sectors and data (discards: no data);
    2. remote writes go by nondecreasing epoch (see source_epochs);
    3. before the first remote write of an epoch, every source write of
       the earlier epochs is on the remote;
    4. where the epoch rises between two consecutive remote writes,
       there is a remote FLUSH between them, which may be the preflush of
       the later write; an epoch with no remote writes needs no flush of
       its own;
    5. overlapping source writes of one epoch reach the remote in source
       order.

    The remote log may stop anywhere; only the entries it holds are
    checked.
    """
    epochs = source_epochs(source_log)
    source_writes = [e for e in source_log if e.is_io]
    unused = defaultdict(deque)
    for entry in source_writes:
        unused[_payload_key(entry)].append(entry)
    violations = []
    matches = []
    seen = set()
    required = 0        # source_writes[:required] were checked by rule 3
    top = None          # the remote write that reached the highest epoch
    last_flush = -1     # position of the latest FLUSH-flagged remote entry
    for pos, remote in enumerate(remote_log):
        if "flush" in remote.flags:
            last_flush = pos
        if not remote.is_io:
            continue
        candidates = unused[_payload_key(remote)]
        if not candidates:
            violations.append(
                f"rule 1 (unknown write): remote #{remote.index}"
                f" ({remote.describe()}) has no unused counterpart in the"
                " source log")
            continue
        source = candidates.popleft()
        m = _Match(pos, remote, source, epochs[source.index])
        if top is not None and m.epoch < top.epoch:
            violations.append(
                f"rule 2 (epoch order): {m.describe()} comes after"
                f" {top.describe()}")
        elif top is None or m.epoch > top.epoch:
            while (required < len(source_writes)
                   and epochs[source_writes[required].index] < m.epoch):
                missing = source_writes[required]
                if missing.index not in seen:
                    violations.append(
                        f"rule 3 (completeness): source #{missing.index}"
                        f" (epoch {epochs[missing.index]},"
                        f" {missing.describe()}) is not on the remote before"
                        f" {m.describe()}")
                required += 1
            if matches and last_flush <= matches[-1].pos:
                violations.append(
                    f"rule 4 (flush at epoch boundary): no remote flush"
                    f" between {matches[-1].describe()} and {m.describe()}")
            top = m
        seen.add(source.index)
        matches.append(m)
    return violations + _overlap_violations(matches)


def _dump_line(entry):
    flags = "|".join(n for n in FLAGS if n in entry.flags) or "none"
    line = (f"{entry.index} sector={entry.sector}"
            f" nr_sectors={entry.nr_sectors} flags={flags}")
    if entry.data is not None:
        line += f" crc32={zlib.crc32(entry.data):08x}"
    if entry.mark is not None:
        line += f" mark={entry.mark}"
    return line


def _cmd_dump(args):
    for entry in iter_log(args.log):
        print(_dump_line(entry))
    return 0


def _cmd_check(args):
    source_log = read_log(args.source_log)
    remote_log = read_log(args.remote_log)
    violations = check_epochs(source_log, remote_log)
    for v in violations:
        print(v)
    if violations:
        return 1
    remote_writes = sum(e.is_io for e in remote_log)
    print(f"ok: {remote_writes} remote writes in order with"
          f" {sum(e.is_io for e in source_log)} source writes")
    return 0


def _cmd_replay(args):
    applied = replay(iter_log(args.log), args.dev, args.upto)
    if args.upto is not None and applied < args.upto:
        print(f"logwrites.py: {args.log} has only {applied} entries,"
              f" replayed them all", file=sys.stderr)
        return 2
    return 0


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="Read, check and replay dm-log-writes logs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("dump", help="print one line per entry")
    p.add_argument("log")
    p.set_defaults(func=_cmd_dump)
    p = sub.add_parser("check", help="check the remote log's write order")
    p.add_argument("source_log")
    p.add_argument("remote_log")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("replay", help="apply entries to a device or image")
    p.add_argument("log")
    p.add_argument("dev")
    p.add_argument("--upto", type=_non_negative, metavar="N",
                   help="apply only the first N entries (default: all)")
    p.set_defaults(func=_cmd_replay)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (dump | head): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (LogError, OSError) as e:
        print(f"logwrites.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
