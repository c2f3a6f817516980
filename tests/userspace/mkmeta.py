#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write dm-xrepl metadata images, valid or damaged, for testing the tools.

Usage: mkmeta.py OUT [options]

The layout is dm-xrepl/xrepl-format.h: the superblock in the first 512-byte
sector of 4 KiB block 0, crc32c (Castagnoli, seed 0xffffffff, no final
inversion) over that sector with its csum field as 0, the bitmap from
block 1 as little-endian 64-bit words.

A valid image:
  mkmeta.py meta.img --dev-sectors 393216 --region-size 128 --set 0-5,9,12-15

Damage (applied before the checksum is computed, so only the named field
is wrong, unless noted): --magic, --version, --flags, --degraded,
--reserved0, --reserved-byte, --block0-byte, --nr-regions, --bitmap-start,
--bitmap-blocks, --region-size-raw, --bits-past-end; after the checksum:
--flip (xor a superblock byte), --bad-csum; --truncate cuts the file.

--undo-epoch E names an undo epoch in the superblock (offset 168), and
--undo-slot SLOT:REGION:BYTE[:damage] writes undo slot SLOT of that epoch
(xrepl-format.h, "The undo area"): REGION's data, every byte BYTE; damage
"data" spoils the data checksum, "hdr" the header's.

--trk ID:OPEN:OLDEST:SLOTS writes a change tracker's superblock fields
(offset 176), and --trk-slot ERA:SET[:hdr|era|name|past] the slot of
checkpoint ERA (xrepl-format.h, "The change tracker of a primary"): its
header (name "cp<ERA>", time 1700000000000 + ERA ms) and the regions of
SET in its bitmap ("-" for none); damage "hdr" spoils the header's
checksum, "era" records another era, "name" a bad name, "past" sets a bit
past nr_regions.

--print-set prints {"dirty_regions": [[first, last], ...], "dirty_count": N}
for the bits set below nr_regions, the shape xrepl-dump --json uses.
"""
import argparse
import json
import random
import struct
import sys

BLOCK = 4096
SB_SIZE = 512
BITS_PER_BLOCK = BLOCK * 8
MAGIC = b"xreplmd\0"
VERSION = 2
F_CONSISTENT = 1
CSUM_SEED = 0xFFFFFFFF
CSUM_OFF = 8
# Fields up to and including data_time; undo_epoch at 168, reserved[] at 176.
SB_FMT = "<8s4I5Q16s2Q2I2Q2Q2Q2IQ"
UNDO_EPOCH_OFF = 168
RESERVED_OFF = 176
assert struct.calcsize(SB_FMT) == UNDO_EPOCH_OFF
UNDO_MAGIC = b"xreplun\0"
# magic, csum, data_csum, epoch, slot, region, sectors, reserved0, uuid
UNDO_FMT = "<8s2I3Q2I16s"
TRK_OFF = 176
TRK_MAGIC = b"xrepltk\0"
# magic, csum, reserved0, trk_id, era, time_ms, uuid, name
TRK_FMT = "<8s2I3Q16s64s"


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(crc, data):
    """The kernel's __crc32c_le(crc, data, len): no inversion either side."""
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


# The standard crc32c check value is 0xe3069283 (with both inversions).
assert crc32c(0xFFFFFFFF, b"123456789") ^ 0xFFFFFFFF == 0xE3069283


def sb_csum(sector):
    s = bytearray(sector[:SB_SIZE])
    s[CSUM_OFF:CSUM_OFF + 4] = b"\0\0\0\0"
    return crc32c(CSUM_SEED, s)


def bitmap_blocks(nr_regions):
    return (nr_regions + BITS_PER_BLOCK - 1) // BITS_PER_BLOCK


def parse_set(spec, nr):
    """'0-5,9,12-15', 'all' or 'none' -> list of [first, last] runs."""
    if spec in ("", "none"):
        return []
    if spec == "all":
        return [[0, nr - 1]]
    runs = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        runs.append([int(a), int(b or a)])
    return runs


def merge(runs):
    """Sorted, disjoint, non-adjacent runs."""
    res = []
    for first, last in sorted(runs):
        if res and first <= res[-1][1] + 1:
            res[-1][1] = max(res[-1][1], last)
        else:
            res.append([first, last])
    return res


def set_bits(img, base, first, last):
    """Set bits first..last of the bitmap at byte offset base."""
    # Bit r is bit r % 64 of little-endian word r // 64: bit r % 8 of
    # byte r // 8.  Whole bytes in the middle of a run at once.
    while first <= last and first % 8:
        img[base + first // 8] |= 1 << (first % 8)
        first += 1
    while first <= last and (last + 1) % 8:
        img[base + last // 8] |= 1 << (last % 8)
        last -= 1
    if first <= last:
        img[base + first // 8:base + (last + 1) // 8] = b"\xff" * ((last + 1 - first) // 8)


def int0(s):
    return int(s, 0)


def offval(s):
    off, _, val = s.partition("=")
    return int(off, 0), int(val or "0xff", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("out")
    ap.add_argument("--dev-sectors", type=int, default=393216)
    ap.add_argument("--region-size", type=int, default=1024)
    ap.add_argument("--set", default="", help="regions: '0-5,9', 'all', 'none'")
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="also set N random regions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flags", type=int0, default=F_CONSISTENT)
    ap.add_argument("--generation", type=int, default=7)
    ap.add_argument("--uuid", default="000102030405060708090a0b0c0d0e0f")
    ap.add_argument("--ctime", type=int, default=1700000000)
    ap.add_argument("--mtime", type=int, default=1700000100)
    ap.add_argument("--degraded", type=int, default=0)
    ap.add_argument("--gen-current", type=int0, default=0x0123456789ABCDEF)
    ap.add_argument("--gen-bitmap", type=int0, default=0)
    ap.add_argument("--gen-history", type=int0, nargs=2,
                    default=[0xFEDCBA9876543210, 0])
    ap.add_argument("--resync-count", type=int, default=1)
    ap.add_argument("--degrade-count", type=int, default=2)
    ap.add_argument("--role", type=int, default=None,
                    help="1 primary (default in version 2), 2 secondary")
    ap.add_argument("--data-time", type=int, default=0)
    ap.add_argument("--reserved1", type=int0, default=0)
    ap.add_argument("--meta-size", type=int, default=0,
                    help="image size in bytes (default: the minimum)")
    ap.add_argument("--fresh", action="store_true",
                    help="all zeroes: a device not formatted yet")
    # Damage.
    ap.add_argument("--magic", help="stored magic (8 bytes, NUL padded)")
    ap.add_argument("--version", type=int, default=VERSION)
    ap.add_argument("--reserved0", type=int0, default=0)
    ap.add_argument("--reserved-byte", type=offval, action="append",
                    default=[], metavar="OFF[=VAL]",
                    help="set superblock byte OFF (>= 168) to VAL")
    ap.add_argument("--block0-byte", type=offval, action="append",
                    default=[], metavar="OFF[=VAL]",
                    help="set byte OFF (512..4095) of block 0 to VAL")
    ap.add_argument("--nr-regions", type=int, help="stored nr_regions")
    ap.add_argument("--bitmap-start", type=int, default=1)
    ap.add_argument("--bitmap-blocks", type=int, help="stored bitmap_blocks")
    ap.add_argument("--region-size-raw", type=int,
                    help="stored region_size (geometry still from --region-size)")
    ap.add_argument("--bits-past-end", type=int, default=0, metavar="N",
                    help="set N bits from nr_regions on")
    ap.add_argument("--flip", type=offval, action="append", default=[],
                    metavar="OFF[=MASK]",
                    help="xor superblock byte OFF with MASK after the checksum")
    ap.add_argument("--bad-csum", action="store_true",
                    help="store the checksum plus one")
    ap.add_argument("--truncate", type=int, metavar="BYTES",
                    help="cut the image to BYTES")
    ap.add_argument("--print-set", action="store_true")
    ap.add_argument("--undo-epoch", type=int0, default=0)
    ap.add_argument("--undo-slot", action="append", default=[],
                    metavar="SLOT:REGION:BYTE[:data|hdr]")
    ap.add_argument("--trk", metavar="ID:OPEN:OLDEST:SLOTS")
    ap.add_argument("--trk-slot", action="append", default=[],
                    metavar="ERA:SET[:hdr|era|name|past]")
    a = ap.parse_args()

    rs = a.region_size
    nr = (a.dev_sectors + rs - 1) // rs
    blocks = bitmap_blocks(nr)
    size = a.meta_size or (1 + blocks) * BLOCK
    img = bytearray(size)

    runs = parse_set(a.set, nr)
    if a.random:
        runs += [[r, r] for r in random.Random(a.seed).sample(range(nr), a.random)]
    runs = merge(runs)
    if a.print_set:
        json.dump({"dirty_regions": runs,
                   "dirty_count": sum(b - a + 1 for a, b in runs)}, sys.stdout)
        print()

    if not a.fresh:
        if runs and runs[-1][1] >= nr:
            sys.exit(f"mkmeta: a set region is past the last one ({nr - 1})")
        if a.bits_past_end:
            runs.append([nr, nr + a.bits_past_end - 1])
        for first, last in runs:
            if BLOCK + last // 8 >= size:
                sys.exit(f"mkmeta: bit {last} lies past the end of the image")
            set_bits(img, BLOCK, first, last)

        magic = MAGIC if a.magic is None else a.magic.encode().ljust(8, b"\0")[:8]
        sb = struct.pack(
            SB_FMT, magic, 0, a.version, a.flags,
            rs if a.region_size_raw is None else a.region_size_raw,
            a.dev_sectors, nr if a.nr_regions is None else a.nr_regions,
            a.bitmap_start, blocks if a.bitmap_blocks is None else a.bitmap_blocks,
            a.generation, bytes.fromhex(a.uuid), a.ctime, a.mtime,
            a.degraded, a.reserved0, a.gen_current, a.gen_bitmap,
            a.gen_history[0], a.gen_history[1], a.resync_count, a.degrade_count,
            (1 if a.version != 1 else 0) if a.role is None else a.role,
            a.reserved1, a.data_time)
        img[:len(sb)] = sb
        img[UNDO_EPOCH_OFF:UNDO_EPOCH_OFF + 8] = struct.pack("<Q", a.undo_epoch)
        stride = 1 + (rs + 7) // 8
        for spec in a.undo_slot:
            f = spec.split(":")
            slot, region, byte = int(f[0]), int(f[1]), int0(f[2])
            sectors = min(rs, a.dev_sectors - region * rs)
            data = bytes([byte]) * (sectors * 512)
            dcrc = crc32c(CSUM_SEED, data)
            if f[3:] == ["data"]:
                dcrc ^= 1
            hdr = bytearray(SB_SIZE)
            hdr[:struct.calcsize(UNDO_FMT)] = struct.pack(
                UNDO_FMT, UNDO_MAGIC, 0, dcrc, a.undo_epoch, slot, region,
                sectors, 0, bytes.fromhex(a.uuid))
            csum = sb_csum(hdr)
            if f[3:] == ["hdr"]:
                csum ^= 1
            hdr[CSUM_OFF:CSUM_OFF + 4] = struct.pack("<I", csum)
            off = (1 + blocks + slot * stride) * BLOCK
            if off + (1 + (sectors * 512 + BLOCK - 1) // BLOCK) * BLOCK > size:
                sys.exit(f"mkmeta: undo slot {slot} lies past the end of the image")
            img[off:off + SB_SIZE] = hdr
            img[off + BLOCK:off + BLOCK + len(data)] = data
        trk = [int0(x) for x in a.trk.split(":")] if a.trk else [0, 0, 0, 0]
        img[TRK_OFF:TRK_OFF + 28] = struct.pack("<3QI", *trk)
        for spec in a.trk_slot:
            f = spec.split(":")
            era = int(f[0])
            dmg = f[2] if len(f) > 2 else ""
            off = (1 + blocks + (era % trk[3]) * (1 + blocks)) * BLOCK
            if off + (1 + blocks) * BLOCK > size:
                sys.exit(f"mkmeta: tracker slot of era {era} lies past the end of the image")
            name = b"bad name" if dmg == "name" else b"cp%d" % era
            hdr = bytearray(SB_SIZE)
            hdr[:struct.calcsize(TRK_FMT)] = struct.pack(
                TRK_FMT, TRK_MAGIC, 0, 0, trk[0],
                era + 1 if dmg == "era" else era, 1700000000000 + era,
                bytes.fromhex(a.uuid), name.ljust(64, b"\0"))
            csum = sb_csum(hdr)
            if dmg == "hdr":
                csum ^= 1
            hdr[CSUM_OFF:CSUM_OFF + 4] = struct.pack("<I", csum)
            img[off:off + SB_SIZE] = hdr
            if f[1] != "-":
                for first, last in merge(parse_set(f[1], nr)):
                    set_bits(img, off + BLOCK, first, last)
            if dmg == "past":
                set_bits(img, off + BLOCK, nr, nr)
        for off, val in a.reserved_byte:
            assert RESERVED_OFF <= off < SB_SIZE
            img[off] = val
        for off, val in a.block0_byte:
            assert SB_SIZE <= off < BLOCK
            img[off] = val
        csum = sb_csum(img)
        if a.bad_csum:
            csum = (csum + 1) & 0xFFFFFFFF
        img[CSUM_OFF:CSUM_OFF + 4] = struct.pack("<I", csum)
        for off, mask in a.flip:
            assert 0 <= off < SB_SIZE
            img[off] ^= mask

    if a.truncate is not None:
        img = img[:a.truncate]
    with open(a.out, "wb") as f:
        f.write(img)


if __name__ == "__main__":
    main()
