#!/usr/bin/env bash
# Backup images (userspace/lib/backup.h), written by mkbackup.py from
# files that stand for a device at three checkpoints: xreplctl restore
# applies a full image and a chain of incrementals, or a differential,
# byte for byte; refuses a chain with a gap, out of order, of another
# pair, or not starting with a full image, and every damaged or truncated
# image, leaving the device untouched; xrepl-dump --backup prints and
# checks an image.  Prints "ok" or the first failure.
#
# Usage: tests/userspace/backup.sh TOOLS_DIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$1
CTL=$TOOLS/xreplctl DUMP=$TOOLS/xrepl-dump
MK=$HERE/mkbackup.py
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# Three states of a device of 8.5 regions of 64 KiB (the last is short).
python3 - "$W" <<'EOF'
import os, sys
w = sys.argv[1]
R = 65536
v0 = bytearray(os.urandom(8 * R + R // 2))
v1 = bytearray(v0)
for r in (1, 5):
    v1[r * R:(r + 1) * R] = os.urandom(R)
v2 = bytearray(v1)
v2[2 * R:3 * R] = os.urandom(R)
v2[3 * R:4 * R] = bytes(R)
v2[8 * R:] = os.urandom(R // 2)
for n, v in (("v0", v0), ("v1", v1), ("v2", v2)):
    open(f"{w}/{n}", "wb").write(v)
open(f"{w}/junk", "wb").write(os.urandom(len(v0)))
EOF
mk() { python3 "$MK" "$@" || fail "mkbackup.py $*"; }
mk "$W/full" --dev "$W/v0" --to 1
mk "$W/inc1" --dev "$W/v1" --base "$W/v0" --from 1 --to 2
mk "$W/inc2" --dev "$W/v2" --base "$W/v1" --from 2 --to 3 --zero-records
mk "$W/diff" --dev "$W/v2" --base "$W/v0" --from 1 --to 3

# restore WANT IMAGE...: restored over junk, the device equals WANT.
restore() {
	local want=$1 out
	shift
	cp "$W/junk" "$W/dev"
	out=$("$CTL" restore --to "$W/dev" "$@" 2>&1) || fail "restore $*: $out"
	cmp -s "$W/dev" "$W/$want" || fail "restore $* does not give $want"
	[[ "$out" == *"at checkpoint"* ]] || fail "restore $*: no report: $out"
}
restore v0 "$W/full"
restore v1 "$W/full" "$W/inc1"
restore v2 "$W/full" "$W/inc1" "$W/inc2"
restore v2 "$W/full" "$W/diff"

# An image of changes holds the changed regions only: header, two
# regions of 64 KiB with their record headers, the end record.
size=$(stat -c %s "$W/inc1")
(( size == 512 + 2 * (512 + 65536) + 512 )) || fail "inc1 is $size bytes, not 2 regions' worth"

# refused WHY-REGEX IMAGE...: restore fails naming why; the device is untouched.
refused() {
	local re=$1 out rc=0
	shift
	cp "$W/junk" "$W/dev"
	out=$("$CTL" restore --to "$W/dev" "$@" 2>&1) || rc=$?
	(( rc == 1 )) || fail "restore $* exited $rc, not 1: $out"
	[[ "$out" =~ $re ]] || fail "restore $*: '$out' does not match '$re'"
	cmp -s "$W/dev" "$W/junk" || fail "restore $* changed the device"
}
refused "inc2: a gap: it starts after checkpoint 2, the chain is at checkpoint 1" "$W/full" "$W/inc2"
refused "inc1: out of order: it starts after checkpoint 1, the chain is at checkpoint 2" \
	"$W/full" "$W/inc1" "$W/inc1"
refused "inc1: not a full image" "$W/inc1" "$W/inc2"
refused "full: a full image after the first" "$W/full" "$W/full"
mk "$W/other" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --uuid 000102030405060708090a0b0c0d0eff
refused "other: of another device \(pair 000102030405060708090a0b0c0d0eff" "$W/full" "$W/other"
mk "$W/othertrk" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --tracker 8
refused "othertrk: of another device" "$W/full" "$W/othertrk"

# Damaged images, first or later in the chain: nothing is written.
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --corrupt header
refused "bad: header checksum mismatch" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --corrupt record
refused "bad: record 0: header checksum mismatch" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --corrupt data
refused "bad: record 0: region 1: data checksum mismatch" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --corrupt end
refused "bad: record 2: header checksum mismatch" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --past-device
refused "bad: record 1: region 9 past the device's 9" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --reorder
refused "bad: record 1: region 1 after region 5" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --no-end
refused "bad: truncated: no end record after 2 records" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v0" --corrupt data
refused "bad: record 0: region 0: data checksum mismatch" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --drop-record
refused "bad: end record: 2 records of 256 sectors, read 1 of 128" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v0" --drop-record
refused "bad: record 0: region 1 after region -1|end record" "$W/bad"
mk "$W/bad" --dev "$W/v1" --base "$W/v0" --from 1 --to 2 --trailing
refused "bad: data after the end record" "$W/full" "$W/bad"
mk "$W/bad" --dev "$W/v2" --base "$W/v1" --from 2 --to 3 --zero-records --zero-csum
refused "bad: record 1: a zero record with a data checksum" "$W/full" "$W/inc1" "$W/bad"
mk "$W/bad" --dev "$W/v0" --bad-field version
refused "bad: image version 2 \(this tool reads 1\)" "$W/bad"
mk "$W/bad" --dev "$W/v0" --bad-field flags
refused "bad: unknown flags 0x5" "$W/bad"
mk "$W/bad" --dev "$W/v0" --bad-field region
refused "bad: bad region size of 96 sectors" "$W/bad"
mk "$W/bad" --dev "$W/v0" --bad-field nr
refused "bad: 10 regions for 1088 sectors of 128" "$W/bad"
# Each image is read twice: a pipe is refused before anything is written.
cp "$W/junk" "$W/dev"
rc=0
out=$("$CTL" restore --to "$W/dev" "$W/full" <(cat "$W/inc1") 2>&1) || rc=$?
if (( rc != 1 )) || [[ "$out" != *"not a regular file"* ]]; then
	fail "restore from a pipe exited $rc: $out"
fi
cmp -s "$W/dev" "$W/junk" || fail "restore from a pipe changed the device"
mk "$W/huge" --dev "$W/v0" --claim-sectors $(( 1 << 60 ))
refused "huge: a device of 1152921504606846976 sectors: too large" "$W/huge"
full=$(stat -c %s "$W/full")
for cut in 0 100 512 1000 66000 $(( full - 512 )) $(( full - 1 )); do
	head -c "$cut" "$W/full" >"$W/cut"
	refused "cut: (truncated|not a dm-xrepl backup image)" "$W/cut"
done
printf 'not an image at all, just some text that is long enough to fill a header sector. %.0s' {1..8} >"$W/text"
refused "text: not a dm-xrepl backup image \(bad magic\)" "$W/text"

# The device must hold the images.
head -c 65536 "$W/junk" >"$W/small"
out=$("$CTL" restore --to "$W/small" "$W/full" 2>&1) && fail "restore to a small device: $out"
[[ "$out" == *"65536 bytes, the images are of 557056"* ]] || fail "small device: $out"

# --dry-run checks the chain and writes nothing.
cp "$W/junk" "$W/dev"
out=$("$CTL" --dry-run restore --to "$W/dev" "$W/full" "$W/diff" 2>&1) || fail "dry run: $out"
[[ "$out" == *"2 image(s) checked, the device at checkpoint 3"* ]] || fail "dry run: $out"
cmp -s "$W/dev" "$W/junk" || fail "--dry-run changed the device"

# The usage.
out=$("$CTL" restore "$W/full" 2>&1) && fail "restore without --to: $out"
[[ "$out" == *"restore wants --to"* ]] || fail "restore without --to: $out"

# xrepl-dump --backup.
out=$("$DUMP" --backup "$W/inc2" 2>&1) || fail "dump inc2: $out"
for want in "kind: changes" "pair: 000102030405060708090a0b0c0d0e0f" "from: 2" "to: 3" \
	"region 2 sectors 128 data" "region 3 sectors 128 zero crc 00000000" \
	"region 8 sectors 64 data" "end: 3 records, 192 data sectors"; do
	[[ "$out" == *"$want"* ]] || fail "dump inc2 lacks '$want': $out"
done
out=$("$DUMP" --backup "$W/full" 2>&1) || fail "dump full: $out"
[[ "$out" == *"kind: full"* && "$out" == *"end: 9 records, 1088 data sectors"* ]] ||
	fail "dump full: $out"
mk "$W/bad" --dev "$W/v0" --corrupt data
rc=0
out=$("$DUMP" --backup "$W/bad" 2>&1) || rc=$?
if (( rc != 1 )) || [[ "$out" != *"damaged: record 0: region 0: data checksum mismatch"* ]]; then
	fail "dump of a damaged image exited $rc: $out"
fi
rc=0
out=$("$DUMP" --backup --json "$W/full" 2>&1) || rc=$?
(( rc == 2 )) || fail "dump --backup --json exited $rc: $out"
echo ok
