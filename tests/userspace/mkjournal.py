#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write dm-xrepl journal images, valid or damaged, for testing the tools.

Usage: mkjournal.py OUT [options]

The layout is dm-xrepl/xrepl-format.h ("The journal device"): the
superblock in the first 512-byte sector of 4 KiB block 0, the log from
block 1; an entry is a header block (its first sector the header) and its
data padded to whole blocks; one that would not fit before the end starts
at block 1.  Checksums are crc32c (Castagnoli, seed 0xffffffff, no final
inversion), over a header sector with its csum field as 0, and over the
data.

  mkjournal.py j.img --blocks 600 --entries w:0:8,w:64:16,f,wf:8:8,d:128:64

writes entries from seq --first-seq (default: --tail-seq) at block
--first-block (default: --tail-block).  Ops: w (write), wf (write with
FUA), f (flush), d (discard), z (write zeroes).  Entry seq's data is every
byte (seq & 0xff).  Entries before --tail-seq are shipped ones.

Every entry is of incarnation --incarnation (the superblock's, default
1), or INC with --entry-inc SEQ:INC.  --extra BLOCK:SEQ:INC writes one
more valid write entry (sector 0, 8 sectors) at BLOCK after the others:
an entry a crash left behind.

Damage to entry SEQ: --torn SEQ (a data byte), --hdr-byte SEQ (a header
byte after its checksum), --gap SEQ (written as SEQ+1), --past-end SEQ
(blocks too large, checksum right), --bad-op SEQ, --other-id SEQ (another
journal_id).  To the superblock: --magic, --version, --flags,
--block-size, --nr-blocks, --tail-incarnation, --durable-seq (default
tail_seq - 1), --sb-reserved (before the checksum), --bad-csum (after
it).

--print-json prints the entries as xrepl-dump --journal --json lists them:
[{"seq", "block", "op", "sector", "nr_sectors", "bytes", "epoch",
"shipped"}, ...].
"""
import argparse
import json
import struct
import sys

BLOCK = 4096
SECTOR = 512
SB_MAGIC = b"xrepljn\0"
HDR_MAGIC = b"xreplje\0"
SEED = 0xFFFFFFFF
CSUM_OFF = 8
# magic csum version flags block_size uuid journal_id nr_blocks tail_seq
# tail_block generation ctime mtime incarnation tail_incarnation
# durable_seq ship_until_ms delay_ms sent_ms
SB_FMT = "<8s4I16s11QIQ"
# magic csum data_csum journal_id seq epoch sector nr_sectors bytes op
# op_flags time_ns blocks pad incarnation
HDR_FMT = "<8s2I4Q4IQ2IQ"
assert struct.calcsize(SB_FMT) == 140
assert struct.calcsize(HDR_FMT) == 88
OPS = {"w": 1, "wf": 1, "d": 2, "z": 3, "f": 4}
OP_NAMES = {1: "write", 2: "discard", 3: "write-zeroes", 4: "flush"}
PREFLUSH, FUA = 1, 2


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


TABLE = _table()


def crc32c(crc, data):
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def seal(sector):
    """Put the checksum into a 512-byte sector (csum field at offset 8)."""
    s = bytearray(sector)
    s[CSUM_OFF:CSUM_OFF + 4] = b"\0\0\0\0"
    struct.pack_into("<I", s, CSUM_OFF, crc32c(SEED, bytes(s)))
    return s


def entry_blocks(nbytes):
    return 1 + (nbytes + BLOCK - 1) // BLOCK


def parse_entries(spec):
    out = []
    for item in filter(None, spec.split(",")):
        parts = item.split(":")
        op = parts[0]
        if op not in OPS:
            sys.exit(f"mkjournal: unknown op '{op}'")
        if op == "f":
            out.append((op, 0, 0))
        else:
            out.append((op, int(parts[1]), int(parts[2])))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("out")
    ap.add_argument("--blocks", type=int, default=600)
    ap.add_argument("--uuid", default="000102030405060708090a0b0c0d0e0f")
    ap.add_argument("--journal-id", type=lambda s: int(s, 0),
                    default=0x1122334455667788)
    ap.add_argument("--tail-seq", type=int, default=1)
    ap.add_argument("--tail-block", type=int, default=None,
                    help="default: where entry --tail-seq is written, or 1")
    ap.add_argument("--first-seq", type=int, default=None)
    ap.add_argument("--first-block", type=int, default=None)
    ap.add_argument("--entries", default="")
    ap.add_argument("--flags", type=int, default=0)
    ap.add_argument("--generation", type=int, default=3)
    ap.add_argument("--incarnation", type=int, default=1)
    ap.add_argument("--tail-incarnation", type=int, default=1)
    ap.add_argument("--durable-seq", type=int, default=None)
    ap.add_argument("--ship-until-ms", type=int, default=0)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--sent-ms", type=int, default=0)
    ap.add_argument("--entry-inc", action="append", default=[])
    ap.add_argument("--extra", action="append", default=[])
    for dmg in ("torn", "hdr-byte", "gap", "past-end", "bad-op",
                "other-id"):
        ap.add_argument("--" + dmg, type=int, action="append", default=[])
    ap.add_argument("--magic", default=None)
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--block-size", type=int, default=BLOCK)
    ap.add_argument("--nr-blocks", type=int, default=None)
    ap.add_argument("--sb-reserved", action="store_true")
    ap.add_argument("--bad-csum", action="store_true")
    ap.add_argument("--print-json", action="store_true")
    a = ap.parse_args()

    img = bytearray(a.blocks * BLOCK)
    entry_inc = {int(k): int(v) for k, v in
                 (x.split(":") for x in a.entry_inc)}

    def header(jid, seq, epoch, sector, nr, nbytes, code, flags, nblk,
               inc, data):
        hdr = bytearray(SECTOR)
        struct.pack_into(HDR_FMT, hdr, 0, HDR_MAGIC, 0, crc32c(SEED, data),
                         jid, seq, epoch, sector, nr, nbytes, code, flags,
                         1700000000 * 10**9 + seq * 10**6, nblk, 0, inc)
        return seal(hdr)

    seq = a.tail_seq if a.first_seq is None else a.first_seq
    if a.first_block is not None:
        block = a.first_block
    else:
        block = 1 if a.tail_block is None else a.tail_block
    tail_block = a.tail_block
    epoch = 5
    listed = []
    for op, sector, nr in parse_entries(a.entries):
        code = OPS[op]
        nbytes = nr * SECTOR if code == 1 else 0
        nblk = entry_blocks(nbytes)
        if block + nblk > a.blocks:
            block = 1
        flags = PREFLUSH if op == "f" else FUA if op == "wf" else 0
        # A flush or FUA entry is an epoch of its own.
        if flags:
            epoch += 1
        data = bytes([seq & 0xFF]) * nbytes
        jid = a.journal_id ^ 1 if seq in a.other_id else a.journal_id
        hdr = header(jid, seq + 1 if seq in a.gap else seq, epoch, sector,
                     nr, nbytes, 9 if seq in a.bad_op else code, flags,
                     nblk + 1000000 if seq in a.past_end else nblk,
                     entry_inc.get(seq, a.incarnation), data)
        if seq in a.hdr_byte:
            hdr[40] ^= 0x01
        if seq == a.tail_seq and tail_block is None:
            tail_block = block
        off = block * BLOCK
        img[off:off + SECTOR] = hdr
        img[off + BLOCK:off + BLOCK + nbytes] = data
        if seq in a.torn:
            img[off + BLOCK + nbytes - 1] ^= 0xFF
        listed.append({"seq": seq, "block": block, "op": OP_NAMES[code],
                       "sector": sector, "nr_sectors": nr, "bytes": nbytes,
                       "epoch": epoch,
                       "incarnation": entry_inc.get(seq, a.incarnation),
                       "shipped": seq < a.tail_seq})
        if flags:
            epoch += 1
        seq += 1
        block += nblk
        if block >= a.blocks:
            block = 1
    if tail_block is None:
        tail_block = block
    for x in a.extra:
        xblock, xseq, xinc = (int(v) for v in x.split(":"))
        data = bytes([xseq & 0xFF]) * 4096
        off = xblock * BLOCK
        img[off:off + SECTOR] = header(a.journal_id, xseq, 1, 0, 8, 4096, 1,
                                       0, 2, xinc, data)
        img[off + BLOCK:off + 2 * BLOCK] = data
    durable = a.tail_seq - 1 if a.durable_seq is None else a.durable_seq
    sb = bytearray(SECTOR)
    magic = SB_MAGIC if a.magic is None else a.magic.encode()[:8].ljust(8, b"\0")
    struct.pack_into(SB_FMT, sb, 0, magic, 0, a.version, a.flags,
                     a.block_size, bytes.fromhex(a.uuid), a.journal_id,
                     a.blocks if a.nr_blocks is None else a.nr_blocks,
                     a.tail_seq, tail_block, a.generation, 1700000000,
                     1700000100, a.incarnation, a.tail_incarnation,
                     max(durable, 0), a.ship_until_ms, a.delay_ms,
                     a.sent_ms)
    if a.sb_reserved:
        sb[300] = 1
    sb = seal(sb)
    if a.bad_csum:
        sb[20] ^= 0x10
    img[0:SECTOR] = sb
    with open(a.out, "wb") as f:
        f.write(img)
    if a.print_json:
        print(json.dumps(listed))


if __name__ == "__main__":
    main()
