#!/usr/bin/env python3
"""Write a dm-xrepl backup image (userspace/lib/backup.h) for the tests.

Usage: mkbackup.py OUT --dev FILE [--base FILE] [options]

The image holds the regions of FILE: all of them (a full image, without
--base), or those that differ from --base (an image of the changes, from
checkpoint --from to --to).  Options that damage the image on purpose:
--corrupt header|record|data|end, --past-device (a record of a region
past the device), --reorder (the first two records swapped), --no-end,
--claim-sectors N (the header claims a device of N sectors),
--bad-field (a header field wrong under a valid checksum), --drop-record
(a record missing, the end record counting it), --trailing (bytes after
the end), --zero-csum (zero records with a data checksum).
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkmeta import crc32c  # noqa: E402  (the kernel's crc32c, shared)

SECTOR = 512
TAG_DATA, TAG_ZERO, TAG_END = 0x52424B58, 0x5A424B58, 0x45424B58
SEED = 0xFFFFFFFF


def sealed(sector, off):
    """sector (512 bytes) with its crc32c (csum taken as zero) at off."""
    s = bytearray(sector)
    s[off:off + 4] = b"\0\0\0\0"
    s[off:off + 4] = struct.pack("<I", crc32c(SEED, bytes(s)))
    return bytes(s)


def header(a, dev_sectors):
    nr = -(-dev_sectors // a.region_sectors)
    s = bytearray(SECTOR)
    s[0:8] = b"xreplbk\0"
    version, flags, rs = 1, 0 if a.base else 1, a.region_sectors
    if a.bad_field == "version":
        version = 2
    elif a.bad_field == "flags":
        flags |= 4
    elif a.bad_field == "region":
        rs = 96
    elif a.bad_field == "nr":
        nr += 1
    struct.pack_into("<III", s, 12, version, flags, rs)
    struct.pack_into("<QQ", s, 24, dev_sectors, nr)
    s[40:56] = bytes.fromhex(a.uuid)
    struct.pack_into("<QQQQ", s, 56, a.tracker, a.frm if a.base else 0, a.to, 1796600000000)
    return sealed(s, 8)


def record(tag, region, sectors, data_csum):
    s = bytearray(SECTOR)
    struct.pack_into("<I", s, 0, tag)
    struct.pack_into("<QII", s, 8, region, sectors, data_csum)
    return sealed(s, 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--base")
    ap.add_argument("--region-sectors", type=int, default=128)
    ap.add_argument("--uuid", default="000102030405060708090a0b0c0d0e0f")
    ap.add_argument("--tracker", type=int, default=7)
    ap.add_argument("--from", dest="frm", type=int, default=1)
    ap.add_argument("--to", type=int, default=1)
    ap.add_argument("--zero-records", action="store_true",
                    help="all-zero regions as zero records")
    ap.add_argument("--corrupt", choices=["header", "record", "data", "end"])
    ap.add_argument("--past-device", action="store_true")
    ap.add_argument("--reorder", action="store_true")
    ap.add_argument("--no-end", action="store_true")
    ap.add_argument("--claim-sectors", type=int,
                    help="the device size the header claims (sectors)")
    ap.add_argument("--bad-field", choices=["version", "flags", "region", "nr"],
                    help="a header field wrong, the header sealed over it")
    ap.add_argument("--drop-record", action="store_true",
                    help="the first record left out, the end record counting it")
    ap.add_argument("--trailing", action="store_true",
                    help="bytes after the end record")
    ap.add_argument("--zero-csum", action="store_true",
                    help="zero records carry a data checksum")
    a = ap.parse_args()

    dev = open(a.dev, "rb").read()
    base = open(a.base, "rb").read() if a.base else None
    if len(dev) % SECTOR or (base is not None and len(base) != len(dev)):
        sys.exit("mkbackup: the files must be as long, in whole sectors")
    rb = a.region_sectors * SECTOR
    recs = []
    for region in range(-(-len(dev) // rb)):
        chunk = dev[region * rb:(region + 1) * rb]
        if base is not None and chunk == base[region * rb:(region + 1) * rb]:
            continue
        recs.append((region, chunk))
    out = [header(a, a.claim_sectors or len(dev) // SECTOR)]
    body = []
    total, csums = 0, SEED
    for region, chunk in recs:
        sectors = len(chunk) // SECTOR
        if a.zero_records and not chunk.strip(b"\0"):
            zc = 1 if a.zero_csum else 0
            body.append([record(TAG_ZERO, region, sectors, zc), b""])
            csums = crc32c(csums, struct.pack("<I", zc))
            continue
        c = crc32c(SEED, chunk)
        body.append([record(TAG_DATA, region, sectors, c), chunk])
        total += sectors
        csums = crc32c(csums, struct.pack("<I", c))
    if a.past_device and body:
        nr = -(-len(dev) // rb)
        body[-1][0] = record(TAG_DATA, nr, a.region_sectors,
                             struct.unpack_from("<I", body[-1][0], 20)[0])
    if a.reorder and len(body) > 1:
        body[0], body[1] = body[1], body[0]
    if a.corrupt == "record" and body:
        r = bytearray(body[0][0])
        r[8] ^= 1
        body[0][0] = bytes(r)
    if a.corrupt == "data":
        for b in body:
            if b[1]:
                d = bytearray(b[1])
                d[len(d) // 2] ^= 0x40
                b[1] = bytes(d)
                break
    count = len(body)
    if a.drop_record and body:
        body = body[1:]
    for r, d in body:
        out += [r, d]
    end = bytearray(SECTOR)
    struct.pack_into("<I", end, 0, TAG_END)
    struct.pack_into("<QQI", end, 8, count, total, csums)
    end = sealed(end, 4)
    if a.corrupt == "end":
        e = bytearray(end)
        e[8] ^= 1
        end = bytes(e)
    if not a.no_end:
        out.append(end)
    if a.trailing:
        out.append(b"more")
    img = b"".join(out)
    if a.corrupt == "header":
        h = bytearray(img)
        h[30] ^= 1
        img = bytes(h)
    with open(a.out, "wb") as f:
        f.write(img)


if __name__ == "__main__":
    main()
