#!/usr/bin/env bash
# Host-side tests of the offline tools, userspace/xrepl-dump and
# userspace/xrepl-check, on metadata images written by mkmeta.py: valid
# ones of several geometries and damaged ones.  Each case checks a tool's
# exit status and its message; xrepl-dump --json must give back exactly
# the bits the image has set, and its text output must match the golden
# files in golden/.  Also runs the unit tests of tests/lib/logwrites.py
# and tests/lib/epochs.py (the dm-log-writes reader and the write-order
# checkers of the async tests) and of scripts/bench-trace.py, and checks
# the files the KUnit builds copy (kunit-copies.sh), and xreplctl's status
# report and metrics (report.c, test_report.py), its bash completion
# (completion.sh), the OCF resource agent (ocf-agent.sh) and backup images
# (backup.sh).  No VM; the
# agent's test wants root (ocf-tester reads the agent as nobody).
#
# Usage: tests/userspace/run.sh [--no-build] [--sanitize] [--results FILE]
#                               [FILTER...]
#   --no-build   use the tools as built (default: make -C userspace first)
#   --sanitize   build the tools with ASan and UBSan into a scratch
#                directory and test those
#   --results F  also write the result lines to F
#   FILTER       run only cases whose name contains one of the words
#
# Prints one line per case, "PASS userspace:<case>" or
# "FAIL userspace:<case>: <why>", and exits 1 if any case failed.
# XREPL_TOOLS_DIR overrides where the binaries are.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MKMETA="$HERE/mkmeta.py"
GOLDEN="$HERE/golden"

build=1 sanitize=0 results=""
while (( $# )); do
	case "$1" in
	--no-build) build=0; shift ;;
	--sanitize) sanitize=1; shift ;;
	--results) results=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
filters=("$@")

W=$(mktemp -d "${TMPDIR:-/tmp}/xrepl-userspace.XXXXXX")
lines="$W/results.txt"
: >"$lines"
cleanup() {
	if [[ -n "$results" ]]; then cp "$lines" "$results"; fi
	rm -rf "$W"
}
trap cleanup EXIT
record() { echo "$*" | tee -a "$lines"; }

TOOLS=${XREPL_TOOLS_DIR:-$REPO/userspace}
if (( sanitize )); then
	TOOLS="$W/asan"
	if ! make -s -C "$REPO/userspace" O="$TOOLS" \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		>"$W/build.log" 2>&1; then
		sed 's/^/    | /' "$W/build.log"
		record "FAIL userspace:build: the sanitizer build of userspace/ failed"
		exit 1
	fi
elif (( build )); then
	if ! make -s -C "$REPO/userspace" >"$W/build.log" 2>&1; then
		sed 's/^/    | /' "$W/build.log"
		record "FAIL userspace:build: make -C userspace failed"
		exit 1
	fi
fi
DUMP="$TOOLS/xrepl-dump"
CHECK="$TOOLS/xrepl-check"
for t in "$DUMP" "$CHECK"; do
	[[ -x "$t" ]] || { record "FAIL userspace:build: $t is missing (make userspace)"; exit 1; }
done

# selected NAME: whether the filters select the case.
selected() {
	local f
	(( ${#filters[@]} )) || return 0
	for f in "${filters[@]}"; do
		[[ "$1" == *"$f"* ]] && return 0
	done
	return 1
}

# img FILE MKMETA-ARGS...: write an image; the default geometry is a
# 192 MiB device (393216 sectors) in 3072 regions of 128 sectors.
img() {
	local f=$1
	shift
	python3 "$MKMETA" "$f" --dev-sectors 393216 --region-size 128 "$@"
}

# tcase NAME RC REGEX CMD...: CMD must exit with RC and its output (stdout
# and stderr) must have a line matching the extended REGEX; the REGEX
# "EMPTY" wants no output at all.
tcase() {
	local name=$1 want=$2 re=$3 rc=0 out
	shift 3
	selected "$name" || return 0
	out=$("$@" 2>&1) || rc=$?
	if (( rc != want )); then
		record "FAIL userspace:$name: exit status $rc, expected $want"
	elif [[ "$re" == EMPTY && -n "$out" ]]; then
		record "FAIL userspace:$name: printed something, expected nothing"
	elif [[ "$re" != EMPTY ]] && ! grep -E -q -- "$re" <<<"$out"; then
		record "FAIL userspace:$name: no line matches /$re/"
	else
		record "PASS userspace:$name"
		return 0
	fi
	printf '%s\n' "$out" | head -n 30 | sed 's/^/    | /'
	echo "    command: $*"
}

# golden NAME FILE CMD...: CMD's stdout, with the scratch directory shown
# as IMGDIR, must equal golden/FILE.
golden() {
	local name=$1 file=$2 rc=0
	shift 2
	selected "$name" || return 0
	"$@" >"$W/out" 2>/dev/null || rc=$?
	sed -i "s|$W|IMGDIR|g" "$W/out"
	if ! diff -u "$GOLDEN/$file" "$W/out" >"$W/diff"; then
		record "FAIL userspace:$name: output differs from golden/$file (exit $rc)"
		sed 's/^/    | /' "$W/diff" | head -n 40
	else
		record "PASS userspace:$name"
	fi
}

# roundtrip NAME MKMETA-ARGS...: the regions xrepl-dump --json reports
# (and the sectors they cover, --sectors) are exactly those mkmeta set.
roundtrip() {
	local name=$1 rc=0 why
	shift
	selected "$name" || return 0
	python3 "$MKMETA" "$W/rt.img" --print-set "$@" >"$W/rt.want"
	"$DUMP" --json --sectors "$W/rt.img" >"$W/rt.json" 2>"$W/rt.err" || rc=$?
	if (( rc != 0 )); then
		record "FAIL userspace:$name: xrepl-dump --json exited with $rc"
		sed 's/^/    | /' "$W/rt.err"
		return 0
	fi
	if why=$(python3 - "$W/rt.want" "$W/rt.json" <<-'EOF'
		import json, sys
		want = json.load(open(sys.argv[1]))
		got = json.load(open(sys.argv[2]))
		sb = got["superblock"]
		rs, dev = sb["region_size"], sb["dev_sectors"]
		sectors = [[a * rs, min((b + 1) * rs, dev) - 1]
		           for a, b in want["dirty_regions"]]
		for key, w, g in (
		        ("state", "valid", got["state"]),
		        ("dirty_regions", want["dirty_regions"], got["dirty_regions"]),
		        ("dirty_count", want["dirty_count"], got["dirty_count"]),
		        ("dirty_sectors", sectors, got["dirty_sectors"]),
		        ("bits_past_end", 0, got["bits_past_end"])):
		    if w != g:
		        print(f"{key}: expected {str(w)[:200]}, got {str(g)[:200]}")
		        sys.exit(1)
		EOF
	); then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: $why"
	fi
}

# ---------------------------------------------------------------------------
# Valid images.
# ---------------------------------------------------------------------------
V="$W/valid.img"
img "$V" --set 0-5,9,12-15
tcase check-valid 0 "^$V: valid: 3072 regions of 128 sectors over 393216 sectors, 11 set, generation 7, flags consistent$" "$CHECK" "$V"
tcase check-valid-sizes 0 ": valid: " "$CHECK" --data-size 393216 --region-size 128 "$V"
tcase check-quiet-valid 0 EMPTY "$CHECK" -q "$V"
tcase check-data-size-differs 1 "^device size differs: dev_sectors is 393216, expected 393344$" \
	"$CHECK" --data-size 393344 "$V"
tcase check-region-size-differs 1 "^region_size differs: region_size is 128, expected 1024$" \
	"$CHECK" --region-size 1024 "$V"
tcase check-quiet-damaged 1 EMPTY "$CHECK" -q --region-size 1024 "$V"
golden dump-text dump-valid.txt "$DUMP" "$V"
golden dump-text-sectors dump-valid-sectors.txt "$DUMP" --sectors "$V"
golden dump-json dump-valid.json "$DUMP" --json "$V"

img "$W/flags0.img" --flags 0 --degraded 2 --ctime 0 --mtime 18446744073709551615
tcase dump-no-flags 0 "^  flags: 0x00000000 none$" "$DUMP" "$W/flags0.img"
tcase dump-degraded-admin 0 "^  degraded: 2 admin$" "$DUMP" "$W/flags0.img"
tcase dump-epoch 0 "^  ctime: 1970-01-01T00:00:00Z \(0\)$" "$DUMP" "$W/flags0.img"
tcase dump-time-out-of-range 0 "^  mtime: 18446744073709551615 \(out of range\)$" "$DUMP" "$W/flags0.img"
tcase dump-json-time-null 0 '"mtime_iso": null' "$DUMP" --json "$W/flags0.img"
img "$W/empty.img"
tcase dump-no-regions 0 "^dirty_regions: none$" "$DUMP" "$W/empty.img"
img "$W/big-meta.img" --meta-size $(( 8 << 20 ))
tcase check-larger-device 0 ": valid: " "$CHECK" "$W/big-meta.img"

# Round trips over several geometries.
roundtrip roundtrip-random --dev-sectors 393216 --region-size 128 --random 500 --seed 1
roundtrip roundtrip-none --dev-sectors 393216 --region-size 128
roundtrip roundtrip-all --dev-sectors 393216 --region-size 128 --set all
# 62501 regions: two bitmap blocks, a short last region, bits on the edges
# of words and blocks.
roundtrip roundtrip-two-blocks --dev-sectors 1000001 --region-size 16 \
	--set 0,63-64,127,32767,32768,62500 --random 5000 --seed 2
roundtrip roundtrip-block-edge --dev-sectors $(( 65536 * 8 )) --region-size 8 \
	--set 32760-32775,65535
roundtrip roundtrip-one-region --dev-sectors 5 --region-size 8 --set 0
roundtrip roundtrip-max-regions --dev-sectors $(( (1 << 27) * 8 )) --region-size 8 \
	--set 0-99999,134217000-134217727 --random 1000 --seed 3
roundtrip roundtrip-max-region-size --dev-sectors $(( (1 << 21) * 3 - 1 )) \
	--region-size $(( 1 << 21 )) --set 1-2

# ---------------------------------------------------------------------------
# Damaged images: one defect each.
# ---------------------------------------------------------------------------
D="$W/damaged.img"
# damaged NAME REGEX MKMETA-ARGS...: xrepl-check exits 1 with a line
# matching REGEX.
damaged() {
	local name=$1 re=$2
	shift 2
	selected "$name" || return 0
	img "$D" --set 1-3 "$@"
	tcase "$name" 1 "$re" "$CHECK" "$D"
}
H='0x[0-9a-f]{8}'
damaged check-csum-flip-generation "^superblock checksum mismatch: stored $H, computed $H$" --flip 56
damaged check-csum-flip-uuid "^superblock checksum mismatch: stored $H, computed $H$" --flip 70=0x01
damaged check-csum-field "^superblock checksum mismatch: stored $H, computed $H$" --bad-csum
damaged check-csum-flip-reserved "^superblock checksum mismatch: stored $H, computed $H$" --flip 511=0x80
damaged check-bad-magic '^bad magic: stored "xreplmX", expected "xreplmd"' --magic xreplmX
damaged check-bad-magic-binary '^bad magic: stored "\\x00xeplmd", expected' --flip 0=0x78 --flip 1=0x0a
damaged check-bad-version "^unsupported format version: version is 3, supported 1 and 2$" --version 3
damaged check-version-zero "^unsupported format version: version is 0, supported 1 and 2$" --version 0
damaged check-unknown-flag "^unknown flags: flags 0x00000021 has bits 0x00000020 outside the known 0x0000000f$" --flags 0x21
damaged check-role-zero "^role: 0 is neither primary \(1\) nor secondary \(2\)$" --role 0
damaged check-role-three "^role: 3 is neither primary" --role 3
damaged check-demoted-primary "^flags: demoted or live on a primary$" --flags 3
damaged check-live-primary "^flags: demoted or live on a primary$" --flags 5
damaged check-reserved1 "^reserved1: not zero \(0x00000001\)$" --reserved1 1
damaged check-v1-role "^version 1: role, data_time, undo_epoch and the secondary's flags must be zero$" --version 1 --role 2
damaged check-undo-consistent "^undo_epoch: set on a consistent copy or a primary$" --role 2 --flags 1 --undo-epoch 7
damaged check-undo-primary "^undo_epoch: set on a consistent copy or a primary$" --role 1 --flags 0 --undo-epoch 7
damaged check-v1-data-time "^version 1: role, data_time" --version 1 --role 0 --data-time 5
damaged check-gen-loop "^generation identifiers repeat, or gen_current is 0: a generation loop$" \
	--gen-bitmap 0x0123456789ABCDEF
damaged check-gen-loop-history "^generation identifiers repeat" --gen-history 7 7
damaged check-gen-current-zero "^generation identifiers repeat" --gen-current 0
damaged check-unknown-flag-high "^unknown flags: flags 0x80000000 has bits 0x80000000" --flags 0x80000000
damaged check-degraded "^degraded: 3 is not a known state \(at most 2\)$" --degraded 3
damaged check-reserved0 "^reserved0: not zero \(0x00000100\)$" --reserved0 0x100
damaged check-reserved "^reserved: 1 non-zero byte, the first at superblock byte 300$" --reserved-byte 300=1
damaged check-block0-tail "^block 0: 2 non-zero bytes after the superblock sector, the first at byte 512$" \
	--block0-byte 512=1 --block0-byte 4095=1
damaged check-region-size-odd "^region_size: 100 is not a power of two from 8 to 2097152$" --region-size-raw 100
damaged check-region-size-small "^region_size: 4 is not a power of two" --region-size-raw 4
damaged check-region-size-large "^region_size: 4194304 is not a power of two" --region-size-raw 4194304
damaged check-nr-regions "^nr_regions: stored 3071, expected 3072 = dev_sectors / region_size rounded up$" --nr-regions 3071
damaged check-bitmap-start "^bitmap_start: stored 2, expected 1$" --bitmap-start 2
damaged check-bitmap-blocks "^bitmap_blocks: stored 2, expected 1 for 3072 regions$" --bitmap-blocks 2
damaged check-bitmap-blocks-zero "^bitmap_blocks: stored 0, expected 1 for 3072 regions$" --bitmap-blocks 0
damaged check-bits-past-end "^bitmap: 1 bit set past nr_regions, the first is bit 3072$" --bits-past-end 1
damaged check-bits-past-end-many "^bitmap: 100 bits set past nr_regions, the first is bit 3072$" --bits-past-end 100
damaged check-truncated "^metadata device too small: 6000 bytes, needs 8192 \(block 0 and 1 bitmap block of 4096 bytes\)$" \
	--truncate 6000
damaged check-truncated-block0 "^metadata device too small: 4096 bytes, needs 8192" --truncate 4096
damaged check-truncated-sector "^metadata device too small: 100 bytes, needs 8192" --truncate 100
damaged check-empty-file "^bad magic: stored \"\", expected" --truncate 0
# Bits past the end in the last word itself (3069 regions), and in the
# short last word of the second block of a two-block bitmap.
if selected check-bits-past-end-in-word; then
	python3 "$MKMETA" "$D" --dev-sectors 392832 --region-size 128 --set 3068 --bits-past-end 1
	tcase check-bits-past-end-in-word 1 "^bitmap: 1 bit set past nr_regions, the first is bit 3069$" "$CHECK" "$D"
fi
if selected check-bits-past-end-block2; then
	python3 "$MKMETA" "$D" --dev-sectors 1000001 --region-size 16 --bits-past-end 2
	tcase check-bits-past-end-block2 1 "^bitmap: 2 bits set past nr_regions, the first is bit 62501$" "$CHECK" "$D"
fi
if selected check-too-many-regions; then
	python3 "$MKMETA" "$D" --dev-sectors $(( ((1 << 27) + 1) * 8 )) --region-size 8
	tcase check-too-many-regions 1 "^nr_regions: 134217729 exceeds the maximum of 134217728$" "$CHECK" "$D"
fi
if selected check-zero-dev-sectors; then
	python3 "$MKMETA" "$D" --dev-sectors 0 --region-size 8 --nr-regions 0 --bitmap-blocks 0 --meta-size 8192
	tcase check-zero-dev-sectors 1 "^dev_sectors: zero$" "$CHECK" "$D"
fi
damaged check-counts-problems "^$D: damaged: 3 problems$" --version 9 --degraded 7 --bitmap-start 0
# Version 1 is still valid (read as a primary's), and so is a secondary's.
if selected check-v1-valid; then
	python3 "$MKMETA" "$D" --version 1 --set 3
	tcase check-v1-valid 0 "" "$CHECK" "$D"
fi
if selected check-secondary-valid; then
	python3 "$MKMETA" "$D" --role 2 --flags 7 --data-time 1700000050 --gen-history 0 0
	tcase check-secondary-valid 0 "" "$CHECK" "$D"
fi

# Every single-byte change of the superblock sector is caught: as a bad
# magic in the first eight bytes, as a checksum mismatch anywhere else.
if selected check-every-byte; then
	img "$V.ref" --set 0-5
	python3 - "$V.ref" "$W/flip" <<-'EOF'
		import os, sys
		ref = open(sys.argv[1], "rb").read()
		os.mkdir(sys.argv[2])
		for off in range(512):
		    b = bytearray(ref)
		    b[off] ^= 0x10
		    open(f"{sys.argv[2]}/{off}.img", "wb").write(b)
		EOF
	bad=""
	for (( off = 0; off < 512; off++ )); do
		rc=0
		out=$("$CHECK" "$W/flip/$off.img" 2>&1) || rc=$?
		want="superblock checksum mismatch"
		(( off < 8 )) && want="bad magic"
		if (( rc != 1 )) || [[ "$out" != *"$want"* ]]; then
			bad+=" $off(exit $rc)"
		fi
	done
	if [[ -z "$bad" ]]; then
		record "PASS userspace:check-every-byte"
	else
		record "FAIL userspace:check-every-byte: not caught at superblock bytes$bad"
	fi
fi

# ---------------------------------------------------------------------------
# The change tracker: checkpoints and the regions changed since each.
# ---------------------------------------------------------------------------
# 3072 regions: one bitmap block; a ring of 4 slots of 2 blocks from block
# 2 needs 10 blocks.  Checkpoints 2 and 3 kept, 3 open; region 5 marked.
TK="$W/trk.img"
trk() { img "$TK" --set 5 --meta-size $(( 10 * 4096 )) --trk 0xab:3:2:4 "$@"; }
trk --trk-slot 2:1-3,100 --trk-slot 3:7
tcase trk-check-valid 0 "valid: 3072 regions" "$CHECK" "$TK"
tcase trk-checkpoints 0 "^  2 1700000000002 cp2$" "$DUMP" --checkpoints "$TK"
tcase trk-checkpoints-open 0 "^  3 1700000000003 cp3 \(open\)$" "$DUMP" --checkpoints "$TK"
tcase trk-since-2 0 "^changed_regions: 1-3 5 7 100$" "$DUMP" --since 2 "$TK"
tcase trk-since-2-count 0 "^changed_count: 6 of 3072 since checkpoint 2$" "$DUMP" --since 2 "$TK"
tcase trk-since-3 0 "^changed_regions: 5 7$" "$DUMP" --since 3 "$TK"
tcase trk-since-json 0 '"changed_count": 2' "$DUMP" --json --since 3 "$TK"
tcase trk-since-json-regions 0 '"changed_regions": \[\[5, 5\], \[7, 7\]\]' "$DUMP" --json --since 3 "$TK"
tcase trk-since-dropped 1 "changes since checkpoint 1: the checkpoint is not kept" "$DUMP" --since 1 "$TK"
tcase trk-since-future 1 "changes since checkpoint 4: the checkpoint is not kept" "$DUMP" --since 4 "$TK"
tcase trk-since-junk 2 "--since: '2x' is not a checkpoint number" "$DUMP" --since 2x "$TK"
tcase trk-since-journal 2 "are for metadata devices" "$DUMP" --journal --since 2 "$TK"
img "$TK" --set 5
tcase trk-since-none 1 "has no change tracker" "$DUMP" --since 1 "$TK"
tcase trk-checkpoints-none 0 "^checkpoints: none$" "$DUMP" --checkpoints "$TK"
trk --trk-slot 2:1:hdr --trk-slot 3:7
tcase trk-hdr-csum 1 "checkpoint 2: bad magic or checksum" "$DUMP" --checkpoints "$TK"
tcase trk-hdr-csum-since 1 "bad magic or checksum" "$DUMP" --since 2 "$TK"
tcase trk-hdr-csum-check 1 "^change tracker: bad magic or checksum$" "$CHECK" "$TK"
trk --trk-slot 2:1:era --trk-slot 3:7
tcase trk-hdr-era 1 "^change tracker: the slot is of another pair, tracker or checkpoint$" "$CHECK" "$TK"
trk --trk-slot 2:1 --trk-slot 3:7:name
tcase trk-hdr-name 1 "^change tracker: a reserved field or the name is damaged$" "$CHECK" "$TK"
trk --trk-slot 2:1 --trk-slot 3:7:past
tcase trk-bits-past 1 "^change tracker: a bitmap of the change tracker has bits past nr_regions$" "$CHECK" "$TK"
# The open slot missing: never written.
trk --trk-slot 2:1
tcase trk-open-missing 1 "^change tracker: bad magic or checksum$" "$CHECK" "$TK"
damaged check-trk-no-id "^change tracker: trk_open, trk_oldest or trk_slots set without a trk_id$" --trk 0:1:1:2
damaged check-trk-secondary "^change tracker: on a secondary, or with an undo epoch$" --role 2 --trk 1:1:1:2
damaged check-trk-slots "^change tracker: trk_slots 1 is not from 2 to 33$" --trk 1:1:1:1
damaged check-trk-full "^change tracker: checkpoints 2 to 5 do not fit 4 slots with one spare$" --trk 1:5:2:4
damaged check-trk-oldest "^change tracker: checkpoints 6 to 5 do not fit" --trk 1:5:6:4
damaged check-trk-fit "^metadata device too small for its change tracker of 4 slots$" --trk 1:1:1:4
damaged check-trk-open-huge "^change tracker: trk_open 4611686018427387905 is past the largest checkpoint number$" \
	--trk 1:0x4000000000000001:0x4000000000000000:4
img "$TK" --set 5 --meta-size $(( 10 * 4096 )) --trk 0xab:1:1:0
tcase trk-force-slots-zero 1 "the change tracker's superblock fields are damaged" "$DUMP" --force --checkpoints "$TK"
tcase trk-force-slots-zero-since 1 "the change tracker's superblock fields are damaged" "$DUMP" --force --since 1 "$TK"

# ---------------------------------------------------------------------------
# xrepl-dump of damaged metadata.
# ---------------------------------------------------------------------------
img "$D" --set 1-3 --flip 56
tcase dump-damaged-refused 1 "^xrepl-dump: $D: damaged metadata; --force dumps it anyway$" "$DUMP" "$D"
tcase dump-damaged-names-problem 1 "^xrepl-dump: $D: superblock checksum mismatch: " "$DUMP" "$D"
# shellcheck disable=SC2016  # expanded by sh -c
tcase dump-damaged-no-stdout 1 EMPTY sh -c '"$1" "$2" 2>/dev/null' sh "$DUMP" "$D"
tcase dump-force-state 1 "^state: damaged$" "$DUMP" --force "$D"
tcase dump-force-problem 1 "^problem: superblock checksum mismatch: stored $H, computed $H$" "$DUMP" --force "$D"
tcase dump-force-csum 1 "^  csum: $H \(mismatch: computed $H\)$" "$DUMP" --force "$D"
tcase dump-force-regions 1 "^dirty_regions: 1-3$" "$DUMP" --force "$D"
if selected dump-force-json; then
	rc=0
	"$DUMP" --force --json "$D" >"$W/f.json" 2>/dev/null || rc=$?
	if (( rc == 1 )) && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "damaged", d["state"]
assert d["problems"][0].startswith("superblock checksum mismatch"), d["problems"]
assert d["superblock"]["csum_ok"] is False
assert d["dirty_regions"] == [[1, 3]] and d["dirty_count"] == 3
' "$W/f.json"; then
		record "PASS userspace:dump-force-json"
	else
		record "FAIL userspace:dump-force-json: exit $rc or wrong content"
		sed 's/^/    | /' "$W/f.json" | head -n 20
	fi
fi
img "$D" --bits-past-end 2
tcase dump-force-bits-past-end 1 "^problem: bitmap: 2 bits set past nr_regions, the first is bit 3072$" "$DUMP" --force "$D"
python3 "$MKMETA" "$D" --dev-sectors 393216 --region-size 128 --nr-regions $(( (1 << 27) + 5 ))
tcase dump-force-unreadable 1 "^dirty_regions: - \(not read: nr_regions is out of range\)$" "$DUMP" --force "$D"
tcase dump-force-unreadable-json 1 '"dirty_regions": null' "$DUMP" --force --json "$D"
img "$D" --magic "ABCD\"\\"
tcase dump-force-magic-escaped 1 '^  magic: ABCD\\x22\\x5c$' "$DUMP" --force "$D"
tcase dump-force-magic-json 1 '"magic": "ABCD\\"\\\\"' "$DUMP" --force --json "$D"

# ---------------------------------------------------------------------------
# Fresh devices (block 0 all zeroes).
# ---------------------------------------------------------------------------
F="$W/fresh.img"
python3 "$MKMETA" "$F" --fresh --meta-size $(( 8 << 20 ))
tcase check-fresh 3 "^$F: fresh: block 0 is all zeroes; a table formats it on first use$" "$CHECK" "$F"
tcase check-fresh-quiet 3 EMPTY "$CHECK" -q "$F"
tcase check-fresh-fits 3 ": fresh: " "$CHECK" --data-size 393216 --region-size 128 "$F"
python3 "$MKMETA" "$W/fresh-small.img" --fresh --meta-size 4096
tcase check-fresh-too-small 1 "^metadata device too small: 4096 bytes, needs 8192" \
	"$CHECK" --data-size 393216 "$W/fresh-small.img"
tcase dump-fresh 3 "^state: fresh$" "$DUMP" "$F"
tcase dump-fresh-json 3 '"state": "fresh"' "$DUMP" --json "$F"

# ---------------------------------------------------------------------------
# Usage and I/O errors.
# ---------------------------------------------------------------------------
for tool in check dump; do
	T=$CHECK
	[[ $tool == dump ]] && T=$DUMP
	tcase "$tool-no-args" 2 "no metadata device given" "$T"
	tcase "$tool-two-args" 2 "one metadata device only" "$T" "$V" "$V"
	tcase "$tool-bad-option" 2 "^Usage: xrepl-$tool " "$T" --bogus "$V"
	tcase "$tool-missing-file" 2 "^xrepl-$tool: $W/nonexistent: No such file or directory$" "$T" "$W/nonexistent"
	tcase "$tool-directory" 2 "not a block device or regular file" "$T" "$W"
	tcase "$tool-char-device" 2 "not a block device or regular file" "$T" /dev/null
	tcase "$tool-help" 0 "^Exit status:$" "$T" --help
	tcase "$tool-version" 0 "^xrepl-$tool \(dm-xrepl\) metadata format 2, journal format 1$" "$T" --version
done
tcase check-data-size-junk 2 "^xrepl-check: --data-size wants a positive number of sectors, not '12x'$" \
	"$CHECK" --data-size 12x "$V"
tcase check-data-size-zero 2 "wants a positive number" "$CHECK" --data-size 0 "$V"
tcase check-data-size-negative 2 "wants a positive number" "$CHECK" --data-size -5 "$V"
tcase check-region-size-invalid 2 "^xrepl-check: --region-size must be a power of two from 8 to 2097152$" \
	"$CHECK" --region-size 100 "$V"

# The manual pages describe the options the tools have.
for tool in check dump; do
	name="man-$tool-options"
	selected "$name" || continue
	T=$CHECK
	[[ $tool == dump ]] && T=$DUMP
	man_opts=$(grep -o -- '\\-\\-[a-z]*\(\\-[a-z]*\)*' "$REPO/userspace/man/xrepl-$tool.8" |
		sed 's/\\//g' | sort -u)
	help_opts=$("$T" --help | grep -o -- '--[a-z-]*' | sort -u)
	if [[ "$man_opts" == "$help_opts" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: options in --help and in man/xrepl-$tool.8 differ"
		diff <(echo "$help_opts") <(echo "$man_opts") | sed 's/^/    | /' || true
	fi
done

# ---------------------------------------------------------------------------
# Journal devices (xrepl-format.h, "The journal device"), written by
# mkjournal.py: xrepl-check --journal and xrepl-dump --journal read the
# log from the tail as a replay would, and refuse what it must refuse.
# ---------------------------------------------------------------------------
MKJNL="$HERE/mkjournal.py"
J="$W/journal.img"
jnl() { python3 "$MKJNL" "$J" --blocks 600 "$@"; }
# jcase NAME RC REGEX MKJOURNAL-ARGS... -- CHECK-ARGS...: xrepl-check on an
# image written with the arguments before "--".
jcase() {
	local name=$1 rc=$2 re=$3 a=()
	shift 3
	selected "$name" || return 0
	while (( $# )) && [[ $1 != -- ]]; do a+=("$1"); shift; done
	shift
	jnl "${a[@]}"
	tcase "$name" "$rc" "$re" "$CHECK" --journal "$@" "$J"
}
E3=w:0:8,w:8:8,w:16:8
jcase jnl-valid 0 "^$J: valid journal: 3 unshipped entries \(12288 bytes\) from seq 1 at block 1$" --entries $E3 --
jcase jnl-valid-tail 0 "valid journal: 2 unshipped entries \(8192 bytes\) from seq 7 at block 4$" \
	--first-seq 5 --tail-seq 7 --entries w:0:8,f,w:8:8,wf:16:8 --
jcase jnl-empty 0 "valid journal: 0 unshipped entries \(0 bytes\) from seq 1 at block 1$" --
jcase jnl-bypassed 0 "valid journal: 3 unshipped entries .*, bypassed$" --flags 1 --entries $E3 --
# A cut append: the log ends at the torn entry; whole ones after it (appends
# that ran in parallel, none acknowledged) are dropped with it.
jcase jnl-torn-last 0 "entry 3 at block 5 is torn \(data checksum mismatch\): a cut append; 0 whole entries after it are dropped" \
	--entries $E3 --torn 3 --
jcase jnl-torn-parallel 0 "entry 2 at block 3 is torn .* 1 whole entry after it is dropped" --entries $E3 --torn 2 --
jcase jnl-gap 1 "^log: entry 2 at block 3: sequence gap: expected 2, found 3 \(a replay stops there\)$" --entries $E3 --gap 2 --
jcase jnl-hdr-csum 1 "^log: entry 3 at block 5: header checksum mismatch" --entries $E3 --hdr-byte 3 --
jcase jnl-bad-op 1 "^log: entry 1 at block 1: unknown op" --entries $E3 --bad-op 1 --
jcase jnl-past-log 1 "^log: entry 2 at block 3: blocks do not match bytes" --entries $E3 --past-end 2 --
jcase jnl-past-device 1 "^log: entry 3 at block 5: sectors 16\+8 run past the end of the device \(20 sectors\)" \
	--entries $E3 -- --data-size 20
jcase jnl-within-device 0 "valid journal: 3 unshipped" --entries $E3 -- --data-size 24
# An entry of an earlier format of the device ends the log: it is not this one's.
jcase jnl-other-id 0 "valid journal: 2 unshipped entries" --entries $E3 --other-id 3 --
# Wrap-around: an entry that does not fit before the end starts at block 1.
# Incarnations: an entry a crash left after the end of the log, its seq
# used again by the next incarnation, never joins it; the same entry of the
# current incarnation would.
jcase jnl-stale-incarnation 0 "valid journal: 3 unshipped entries \(12288 bytes\) from seq 1 at block 1$" \
	--incarnation 2 --entries $E3 --extra 7:4:1 --
jcase jnl-stale-control 0 "valid journal: 4 unshipped entries \(16384 bytes\)" \
	--incarnation 2 --entries $E3 --extra 7:4:2 --
jcase jnl-incarnations 0 "valid journal: 3 unshipped entries" \
	--incarnation 3 --entry-inc 1:1 --entry-inc 2:2 --entries $E3 --
jcase jnl-incarnation-back 0 "valid journal: 1 unshipped entry " \
	--incarnation 2 --entry-inc 2:1 --entries $E3 --
jcase jnl-incarnation-tail 0 "valid journal: 0 unshipped entries" \
	--incarnation 2 --tail-incarnation 2 --entry-inc 1:1 --entries $E3 --
jcase jnl-incarnation-not-begun 1 "^log: entry 2 at block 3: an incarnation not begun \(2, the superblock's is 1\) \(a replay stops there\)$" \
	--entry-inc 2:2 --entries $E3 --
# durable_seq: the log may end (torn or not) only after it.
jcase jnl-durable-torn 1 "^log: entry 3 at block 5: data checksum mismatch, but entries up to 3 were made durable \(a replay stops there\)$" \
	--entries $E3 --torn 3 --durable-seq 3 --
jcase jnl-durable-missing 1 "^log: entry 4 at block 7: no entry header, but entries up to 5 were made durable" \
	--entries $E3 --durable-seq 5 --
jcase jnl-durable-torn-after 0 "entry 3 at block 5 is torn" --entries $E3 --torn 3 --durable-seq 2 --
jcase jnl-held 0 "valid journal: 3 unshipped entries .*, held$" --flags 2 --entries $E3 --
jcase jnl-wrap 0 "valid journal: 4 unshipped entries \(1060864 bytes\) from seq 1 at block 580" \
	--first-block 580 --entries w:0:8,w:8:8,w:0:2048,w:16:8 --
# The walk across the wrap reads no uninitialised memory.
if selected jnl-wrap-memcheck; then
	if (( sanitize )); then
		record "SKIP userspace:jnl-wrap-memcheck: the tools are built with ASan, which valgrind cannot run"
	elif command -v valgrind >/dev/null; then
		jnl --first-block 580 --entries w:0:8,w:8:8,w:0:2048,w:16:8
		tcase jnl-wrap-memcheck 0 "valid journal: 4 unshipped entries" \
			valgrind -q --error-exitcode=9 "$CHECK" --journal "$J"
	else
		record "SKIP userspace:jnl-wrap-memcheck: valgrind is not installed"
	fi
fi
jcase jnl-sb-csum 1 "^superblock checksum mismatch" --bad-csum --entries $E3 --
jcase jnl-sb-magic 1 "^bad magic: stored \"xreplmd\", expected \"xrepljn\" \(not an xrepl journal" --magic xreplmd --
jcase jnl-sb-version 1 "^version: 2 \(this format is 1\)$" --version 2 --
jcase jnl-sb-flags 1 "^flags: unknown bits 0x4$" --flags 4 --
jcase jnl-sb-block-size 1 "^block_size: 512 \(must be 4096\)$" --block-size 512 --
jcase jnl-sb-reserved 1 "^reserved: 1 non-zero bytes$" --sb-reserved --
jcase jnl-sb-too-small 1 "^nr_blocks: 100 \(at least 515\)$" --nr-blocks 100 --
jcase jnl-sb-past-device 1 "^nr_blocks: 700, but the device holds 600 blocks$" --nr-blocks 700 --
jcase jnl-sb-tail-block 1 "^tail_block: 600 \(the log is blocks 1 to 599\)$" --tail-block 600 --
jcase jnl-sb-tail-seq 1 "^tail_seq: 0 \(sequence numbers start at 1\)$" --tail-seq 0 --
jcase jnl-sb-tail-inc-0 1 "^tail_incarnation: 0 \(from 1 to the incarnation, 1\)$" --tail-incarnation 0 --
jcase jnl-sb-tail-inc-past 1 "^tail_incarnation: 2 \(from 1 to the incarnation, 1\)$" --tail-incarnation 2 --
jcase jnl-sb-durable 1 "^durable_seq: 1, but the entries before the tail \(seq 3\) were shipped$" --tail-seq 3 --durable-seq 1 --
if selected jnl-fresh; then
	truncate -s 0 "$J"; truncate -s $(( 600 * 4096 )) "$J"
	tcase jnl-fresh 3 "fresh: block 0 is all zeroes" "$CHECK" --journal "$J"
	truncate -s 0 "$J"; truncate -s $(( 514 * 4096 )) "$J"
	tcase jnl-fresh-too-small 1 "^device: 2105344 bytes, too small for a journal \(at least 2109440\)$" \
		"$CHECK" --journal "$J"
fi
# The pair: --meta names the metadata device the journal must belong to.
if selected jnl-meta; then
	img "$W/jmeta.img"
	jnl --entries $E3
	tcase jnl-meta-same 0 "valid journal" "$CHECK" --journal --meta "$W/jmeta.img" "$J"
	jnl --uuid 000102030405060708090a0b0c0d0eff --entries $E3
	tcase jnl-meta-other 1 "^uuid: 00010203-0405-0607-0809-0a0b0c0d0eff, but .*jmeta.img belongs to pair 00010203-0405-0607-0809-0a0b0c0d0e0f: the journal of another pair$" \
		"$CHECK" --journal --meta "$W/jmeta.img" "$J"
	tcase jnl-meta-not-meta 2 "not valid metadata" "$CHECK" --journal --meta "$J" "$J"
fi
tcase jnl-meta-without-journal 2 "^xrepl-check: --meta goes with --journal$" "$CHECK" --meta "$J" "$J"
tcase jnl-region-size 2 "^xrepl-check: --region-size is for metadata devices$" "$CHECK" --journal --region-size 8 "$J"
tcase jnl-dump-all-alone 2 "^xrepl-dump: --all goes with --journal$" "$DUMP" --all "$J"
tcase jnl-dump-sectors 2 "^xrepl-dump: --sectors is for metadata devices, not --journal$" "$DUMP" --journal --sectors "$J"
# xrepl-dump --journal --all --json lists exactly the entries written,
# shipped (before the tail) or not, wrap-around included.
for spec in "1 1 w:0:8,w:8:8,f,w:64:16,wf:8:8,d:128:64,z:256:8,w:0:2048" \
	"3 9 w:0:8,w:8:8,w:0:2048,f,w:16:8" "1 4 w:0:2048,w:0:2048,w:8:8"; do
	read -r first tail entries <<<"$spec"
	name="jnl-dump-roundtrip-$first-$tail"
	selected "$name" || continue
	want=$(python3 "$MKJNL" "$J" --blocks 600 --first-seq "$first" --tail-seq "$tail" \
		--first-block 400 --entries "$entries" --print-json)
	rc=0
	got=$("$DUMP" --journal --all --json "$J" | python3 -c '
import json, sys
d = json.load(sys.stdin)
keys = ("seq", "block", "op", "sector", "nr_sectors", "bytes", "epoch", "incarnation", "shipped")
print(json.dumps(sorted(({k: e[k] for k in keys} for e in d["entries"]), key=lambda e: e["seq"])))
') || rc=$?
	want=$(python3 -c 'import json, sys; print(json.dumps(sorted(json.loads(sys.argv[1]), key=lambda e: e["seq"])))' "$want")
	if (( rc == 0 )) && [[ "$got" == "$want" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: xrepl-dump lists other entries (exit $rc)"
		diff <(tr '}' '\n' <<<"$want") <(tr '}' '\n' <<<"$got") | head -20 | sed 's/^/    | /' || true
	fi
done
if selected jnl-dump-text; then
	jnl --first-seq 1 --tail-seq 3 --entries w:0:8,f,w:8:8,wf:16:8 --torn 4 \
		--flags 2 --ship-until-ms 1700000123456 --delay-ms 60000 \
		--sent-ms 1700000123456 \
		--incarnation 2 --entry-inc 1:1 --entry-inc 2:1
	golden jnl-dump-text journal-dump.txt "$DUMP" --journal --all "$J"
	# A time too far off to print in ns is said to be so, not wrapped.
	jnl --ship-until-ms 18446744073709551615
	tcase jnl-dump-until-range 0 "^  ship_until: out-of-range \(18446744073709551615 ms\)$" "$DUMP" --journal "$J"
	jnl --bad-csum
	tcase jnl-dump-damaged 1 "^xrepl-dump: .*: damaged journal; --force dumps it anyway$" "$DUMP" --journal "$J"
	tcase jnl-dump-damaged-force 1 "^problem: superblock checksum mismatch" "$DUMP" --journal --force "$J"
	jnl --entries $E3 --gap 2
	tcase jnl-dump-log-damaged 1 "^log_end: block 3, seq 2: damaged \(sequence gap: expected 2, found 3\)$" "$DUMP" --journal "$J"
fi

# ---------------------------------------------------------------------------
# xreplctl: the command line contract.  --dry-run prints the table lines
# and messages (golden files); every bad argument exits 2 with its message
# before anything reaches device-mapper (the host has none: a test that
# got that far would fail with exit 1).
# ---------------------------------------------------------------------------
CTL="$TOOLS/xreplctl"
truncate -s 64M "$W/local.img"
LI="$W/local.img"
golden ctl-dry-create-sync ctl-create-sync.txt \
	"$CTL" --dry-run create vm1 --local "$LI" --remote /dev/nbd0 --no-meta
golden ctl-dry-create-async ctl-create-async.txt \
	"$CTL" create vm2 -n --local "$LI" --remote /dev/nbd1 --meta /dev/vg/vm2-meta \
	--mode async --region-size 1M --nosync --option max_lag_kb=262144 \
	--option congestion=degrade --option resync_rate_kbps=51200
golden ctl-dry-create-semi ctl-create-semi.txt \
	"$CTL" -n create --mode semi-sync --option semi_timeout_ms=20 \
	--local "$LI" --remote /dev/sdb --meta /dev/sdc1 vm3
# Every message, in the words the target takes.
ctl_messages() {
	"$CTL" -n mode vm1 async && "$CTL" -n mode vm1 semi-sync &&
		"$CTL" -n mode vm1 sync && "$CTL" -n resync vm1 &&
		"$CTL" -n resync vm1 --full &&
		"$CTL" -n set vm1 resync_rate_kbps 0 &&
		"$CTL" -n set vm1 semi_timeout_ms 60000 &&
		"$CTL" -n set vm1 max_lag_kb 256 &&
		"$CTL" -n set vm1 congestion block &&
		"$CTL" -n remote-down vm1 && "$CTL" -n remote-up vm1 &&
		"$CTL" -n remove vm1
}
golden ctl-dry-messages ctl-messages.txt ctl_messages
# Configuration files for up and down.
CD="$W/conf"
mkdir -p "$CD"
cat >"$CD/vm1.conf" <<CONF
# a replicated volume
local = $LI
remote = /dev/nbd0   # the WAN leg
meta = /dev/vg/vm1-meta
mode = async
region_size = 1M
max_lag_kb = 262144
congestion = degrade
nosync = yes
CONF
printf 'local=%s\nremote=/dev/nbd1\nmeta=none\nsemi_timeout_ms = 20\nmode = semi-sync\n' "$LI" >"$CD/vm2.conf"
golden ctl-dry-up ctl-up.txt "$CTL" -n -c "$CD" up vm1
golden ctl-dry-up-all ctl-up-all.txt "$CTL" --dry-run --config-dir "$CD" up --all
golden ctl-dry-down-all ctl-down-all.txt "$CTL" -n -c "$CD" down --all
CB="$W/confbad"
mkdir -p "$CB"
# conf_case NAME LINES REGEX: a file with LINES is refused with REGEX.
conf_case() {
	printf '%b' "$2" >"$CB/$1.conf"
	tcase "ctl-conf-$1" 2 "$3" "$CTL" -n -c "$CB" up "$1"
}
conf_case unknown-key "local = $LI\nremot = /x\n" "^xreplctl: $CB/unknown-key.conf:2: unknown key 'remot'$"
conf_case twice "local = $LI\nremote = /x\nremote = /y\n" "^xreplctl: $CB/twice.conf:3: key 'remote' given twice$"
conf_case no-eq "local $LI\n" "^xreplctl: $CB/no-eq.conf:1: expected 'key = value', got 'local $LI'$"
conf_case empty-value "local = $LI\nremote =\n" "^xreplctl: $CB/empty-value.conf:2: key 'remote' has no value$"
conf_case bad-mode "mode = fast\n" "^xreplctl: $CB/bad-mode.conf:1: mode: invalid value 'fast': expected sync, semi-sync, async or periodic$"
conf_case bad-lag "max_lag_kb = 12\n" "^xreplctl: $CB/bad-lag.conf:1: max_lag_kb: invalid value '12': expected a number of KiB from 256 to 16777216$"
conf_case bad-region "region_size = 3K\n" "region_size: invalid value '3K'"
conf_case bad-nosync "nosync = 1\n" "nosync: invalid value '1': expected yes or no$"
conf_case missing-remote "local = $LI\nmeta = none\n" "^xreplctl: $CB/missing-remote.conf: missing key 'remote'$"
conf_case missing-meta "local = $LI\nremote = /x\n" "missing key 'meta' \\(a device, or none\\)$"
conf_case fail-async "local = $LI\nremote = /x\nmeta = none\nmode = async\non_remote_error = fail\n" "on_remote_error = fail needs mode = sync$"
# Odd values a file could carry: each refused, naming the file and line.
conf_case hash-in-value "local = $LI\nremote = /dev/x#1\nmeta = none\n" \
	"^xreplctl: $CB/hash-in-value.conf:2: '#' inside a value: a comment starts after a blank$"
conf_case two-words "local = $LI\nremote = /dev/x 1 nosync\nmeta = none\n" \
	"^xreplctl: $CB/two-words.conf:2: key 'remote': the value must be one word, without spaces or control characters$"
conf_case tab-word "local = $LI\nremote = /dev/x\tnosync\nmeta = none\n" \
	"^xreplctl: $CB/tab-word.conf:2: key 'remote': the value must be one word"
# The same leg under another path: by device, not by name.
mkdir -p "$W/sub"
ln -sf "$LI" "$W/link.img"
conf_case symlink-leg "local = $LI\nremote = $W/link.img\nmeta = none\n" \
	"^xreplctl: $CB/symlink-leg.conf: local and remote are the same device$"
conf_case dotdot-leg "local = $LI\nremote = $W/sub/../$(basename "$LI")\nmeta = none\n" \
	"^xreplctl: $CB/dotdot-leg.conf: local and remote are the same device$"
conf_case meta-is-leg "local = $LI\nremote = /dev/x\nmeta = $W/link.img\n" \
	"^xreplctl: $CB/meta-is-leg.conf: meta must differ from the legs$"
# up --all takes a device name from a file name only if up NAME would.
CN="$W/confnames"
mkdir -p "$CN"
# shellcheck disable=SC2016  # a literal $(id) in a file name
for f in 'x$(id)' 'a b' '-n' $'esc\e[31m' good; do
	printf 'local = %s\nremote = /dev/nbd9\nmeta = none\n' "$LI" >"$CN/$f.conf"
done
name=ctl-up-all-bad-names
if selected "$name"; then
	rc=0
	out=$("$CTL" -n -c "$CN" up --all 2>&1) || rc=$?
	bad=$(grep -c "^xreplctl: $CN/.*: not a valid device name: .*; file skipped$" <<<"$out" || true)
	if (( rc != 2 )) || (( bad != 4 )) || ! grep -q '^create good: ' <<<"$out" ||
		grep -q '^create [^g]' <<<"$out"; then
		record "FAIL userspace:$name: exit $rc, $bad of 4 files refused"
		printf '%s\n' "$out" | cat -v | sed 's/^/    | /'
	else
		record "PASS userspace:$name"
	fi
fi
tcase ctl-conf-missing-file 2 "^xreplctl: $CB/nope.conf: No such file or directory$" "$CTL" -n -c "$CB" up nope
tcase ctl-up-no-name 2 "^xreplctl: up wants <name> or --all$" "$CTL" -n up
tcase ctl-up-all-bad 2 "unknown key 'remot'" "$CTL" -n -c "$CB" up --all

tcase ctl-monitor-bad-option 2 "^xreplctl: monitor: bad option$" "$CTL" monitor --bogus
tcase ctl-monitor-dry 2 "makes no sense" "$CTL" -n monitor vm1
tcase ctl-monitor-bad-name 2 "^xreplctl: invalid device name 'a b'" "$CTL" monitor 'a b'
tcase ctl-monitor-bad-interval 2 "^xreplctl: monitor: invalid value '0' for --probe-interval$" \
	"$CTL" monitor --probe-interval 0
tcase ctl-monitor-bad-fail 2 "invalid value 'x' for --probe-fail" "$CTL" monitor --probe-fail x
tcase ctl-monitor-nothing 2 "leave nothing to do" "$CTL" monitor --no-events --no-probe
tcase ctl-monitor-bad-lag-kb 2 "^xreplctl: monitor: invalid value '0' for --lag-kb$" \
	"$CTL" monitor --lag-kb 0
tcase ctl-monitor-bad-lag-ms 2 "invalid value '5s' for --lag-ms" "$CTL" monitor --lag-ms 5s
tcase ctl-monitor-bad-lag-interval 2 "invalid value '99999999' for --lag-interval" \
	"$CTL" monitor --lag-interval 99999999
# Remote-less devices, the remote site's metadata, promote, demote, attach.
tcase ctl-create-no-remote-dry 0 "^create a: 0 [0-9]+ xrepl $LI - /m sync$" \
	"$CTL" -n create a --local "$LI" --remote - --meta /m
tcase ctl-create-no-remote-no-meta 2 "^xreplctl: --remote - \(no remote yet\) needs --meta$" \
	"$CTL" -n create a --local "$LI" --remote - --no-meta
tcase ctl-create-remote-meta-dry 0 "^create a: 0 [0-9]+ xrepl $LI /x /m async 2 remote_meta /rm$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --remote-meta /rm --mode async
tcase ctl-create-remote-meta-no-remote 2 "^xreplctl: --remote-meta needs a remote$" \
	"$CTL" -n create a --local "$LI" --remote - --meta /m --remote-meta /rm
tcase ctl-create-remote-meta-no-meta 2 "^xreplctl: --remote-meta needs --meta$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --remote-meta /rm
tcase ctl-create-remote-meta-is-meta 2 "must differ from the legs and --meta" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --remote-meta /m
tcase ctl-create-fail-no-remote 2 "on_remote_error=fail needs a remote" \
	"$CTL" -n create a --local "$LI" --remote - --meta /m --option on_remote_error=fail
# A journal and a delay: in the table line, and what the target would
# refuse, refused first (create and the configuration files alike).
truncate -s 8M "$W/jnl.img"
JI="$W/jnl.img"
tcase ctl-create-journal-dry 0 "^create a: 0 [0-9]+ xrepl $LI /x /m async 4 delay_ms 600000 journal $JI$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode async --journal "$JI" \
	--option delay_ms=600000
tcase ctl-create-journal-semi-dry 0 "^create a: 0 [0-9]+ xrepl $LI /x /m semi-sync 2 journal $JI$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode semi-sync -J "$JI"
tcase ctl-create-journal-no-meta 2 "^xreplctl: a journal needs a metadata device$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --mode async --journal "$JI"
tcase ctl-create-journal-periodic 2 "^xreplctl: a journal does not go with periodic mode$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode periodic --journal "$JI"
tcase ctl-create-journal-is-leg 2 "^xreplctl: the journal must differ from the legs and the metadata devices$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode async --journal "$W/link.img"
tcase ctl-create-journal-is-meta 2 "^xreplctl: the journal must differ from the legs and the metadata devices$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta "$JI" --mode async --journal "$JI"
tcase ctl-create-delay-no-journal 2 "^xreplctl: delay_ms needs a journal$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode async --option delay_ms=1000
tcase ctl-create-delay-semi 2 "^xreplctl: delay_ms needs async mode$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode semi-sync --journal "$JI" \
	--option delay_ms=1000
tcase ctl-create-delay-zero-sync 0 "^create a: 0 [0-9]+ xrepl $LI /x /m sync 4 delay_ms 0 journal $JI$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --journal "$JI" --option delay_ms=0
tcase ctl-create-delay-range 2 "^xreplctl: --option delay_ms: invalid value '604800001': expected a number of milliseconds from 0 to 604800000$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode async --journal "$JI" \
	--option delay_ms=604800001
tcase ctl-create-delay-twice 2 "^xreplctl: --option delay_ms given twice$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --mode async --journal "$JI" \
	--option delay_ms=1 --option delay_ms=2
printf 'local = %s\nremote = /dev/nbd3\nmeta = /m\nmode = async\njournal = %s\ndelay_ms = 900000\n' \
	"$LI" "$JI" >"$CD/vmj.conf"
tcase ctl-conf-journal-dry 0 "^create vmj: 0 [0-9]+ xrepl $LI /dev/nbd3 /m async 4 delay_ms 900000 journal $JI$" \
	"$CTL" -n -c "$CD" up vmj
rm "$CD/vmj.conf"
conf_case journal-no-meta "local = $LI\nremote = /x\nmeta = none\nmode = async\njournal = $JI\n" \
	"^xreplctl: $CB/journal-no-meta.conf: a journal needs a metadata device$"
conf_case journal-periodic "local = $LI\nremote = /x\nmeta = /m\nmode = periodic\njournal = $JI\n" \
	"^xreplctl: $CB/journal-periodic.conf: a journal does not go with periodic mode$"
conf_case journal-is-remote "local = $LI\nremote = $JI\nmeta = /m\nmode = async\njournal = $JI\n" \
	"the journal must differ from the legs and the metadata devices$"
conf_case delay-no-journal "local = $LI\nremote = /x\nmeta = /m\nmode = async\ndelay_ms = 10\n" \
	"^xreplctl: $CB/delay-no-journal.conf: delay_ms needs a journal$"
conf_case delay-sync "local = $LI\nremote = /x\nmeta = /m\njournal = $JI\ndelay_ms = 10\n" \
	"^xreplctl: $CB/delay-sync.conf: delay_ms needs async mode$"
conf_case delay-bad "local = $LI\nremote = /x\nmeta = /m\nmode = async\njournal = $JI\ndelay_ms = 1s\n" \
	"^xreplctl: $CB/delay-bad.conf:6: delay_ms: invalid value '1s': expected a number of milliseconds from 0 to 604800000$"
tcase ctl-demote-no-meta 2 "demote wants --meta DEV" "$CTL" demote
tcase ctl-promote-no-meta 2 "promote needs --local and --meta" "$CTL" promote a --local "$LI"
tcase ctl-attach-no-remote 2 "no --remote, and no usable" "$CTL" -c "$W" attach a
# status --meta: what a metadata device records, as it is read (images).
SM="$W/smeta.img"
now=$(date +%s)
python3 "$MKMETA" "$SM" --dev-sectors 8192 --region-size 1024 --role 2 --flags 1 \
	--data-time $(( now - 7200 )) --gen-current 0x1234abcd --gen-history 0 0
tcase ctl-meta-status-stopped 0 "^  data time   [0-9-]+ [0-9:]+ UTC \(2 h 0 min ago\)$" "$CTL" status --meta "$SM"
tcase ctl-meta-status-fields 0 "^  role        secondary$" "$CTL" status --meta "$SM"
tcase ctl-meta-status-gen 0 "^  generation  000000001234abcd$" "$CTL" status --meta "$SM"
tcase ctl-meta-status-json 0 '"role": "secondary".*"consistent": true, "state": "stopped", "data_time": [0-9]+' \
	"$CTL" status --meta "$SM" --json
name=ctl-meta-status-json-valid
if selected "$name"; then
	if "$CTL" status --meta "$SM" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["regions"] == 8 and d["generation"] == "000000001234abcd", d'; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: status --meta --json is not the JSON expected"
	fi
fi
python3 "$MKMETA" "$SM" --dev-sectors 8192 --region-size 1024 --role 2 --flags 5 --gen-history 0 0
tcase ctl-meta-status-live 0 "^  state       live$" "$CTL" status --meta "$SM"
python3 "$MKMETA" "$SM" --dev-sectors 8192 --region-size 1024 --role 2 --flags 0 --gen-history 0 0
tcase ctl-meta-status-copying 0 "^  consistent  no \(a resync was copying to it\)$" "$CTL" status --meta "$SM"
python3 "$MKMETA" "$SM" --dev-sectors 8192 --region-size 1024 --bad-csum
tcase ctl-meta-status-damaged 1 "damaged metadata" "$CTL" status --meta "$SM"
truncate -s 0 "$SM"; truncate -s 1M "$SM"
tcase ctl-meta-status-blank 1 "never formatted" "$CTL" status --meta "$SM"
tcase ctl-meta-status-missing 2 "No such file" "$CTL" status --meta "$W/nope.img"
tcase ctl-meta-status-with-name 2 "takes no device name" "$CTL" status --meta "$SM" vm1
tcase ctl-meta-status-check 4 "takes no device name and no option" "$CTL" status --meta "$SM" --check
# verify: what is refused before anything is sent.
tcase ctl-verify-no-name 2 "^xreplctl: verify wants one device name$" "$CTL" verify
tcase ctl-verify-stop-and 2 "verify --stop takes no other option" "$CTL" verify vm1 --stop --wait
tcase ctl-verify-start-resume 2 "exclude each other" "$CTL" verify vm1 --start 3 --resume
tcase ctl-verify-timeout-alone 2 "--timeout goes with --wait" "$CTL" verify vm1 --timeout 5
tcase ctl-verify-bad-start 2 "wants a region number" "$CTL" verify vm1 --start x
tcase ctl-verify-dry 0 "^message vm1 0 verify repair 7$" "$CTL" -n verify vm1 --repair --start 7
tcase ctl-verify-dry-stop 0 "^message vm1 0 verify stop$" "$CTL" -n verify vm1 --stop
tcase ctl-verify-dry-wait 2 "makes no sense" "$CTL" -n verify vm1 --wait
# cycle: what is refused before anything is sent.
tcase ctl-checkpoint-dry 0 "^message vm1 0 checkpoint weekly-2026.12:07$" "$CTL" -n checkpoint vm1 weekly-2026.12:07
tcase ctl-checkpoint-no-label 2 "checkpoint wants <name> <label>" "$CTL" checkpoint vm1
tcase ctl-checkpoint-bad-label 2 "a label is 1 to 63 characters" "$CTL" -n checkpoint vm1 a/b
tcase ctl-checkpoint-long-label 2 "a label is 1 to 63 characters" "$CTL" -n checkpoint vm1 "$(printf 'x%.0s' {1..64})"
tcase ctl-cycle-no-name 2 "^xreplctl: cycle wants one device name$" "$CTL" cycle
tcase ctl-cycle-timeout-alone 2 "--timeout goes with --wait" "$CTL" cycle vm1 --timeout 5
tcase ctl-cycle-bad-timeout 2 "cycle wants <name> \[--wait" "$CTL" cycle vm1 --wait --timeout 0
tcase ctl-cycle-dry 0 "^message vm1 0 cycle$" "$CTL" -n cycle vm1
tcase ctl-cycle-dry-wait 2 "makes no sense" "$CTL" -n cycle vm1 --wait
name=ctl-demote-trk
if selected "$name" && command -v jq >/dev/null; then
	python3 "$MKMETA" "$W/trk-role.img" --dev-sectors 8192 --region-size 1024 \
		--meta-size $(( 6 * 4096 )) --trk 0xab:1:1:2 --trk-slot 1:3
	why=""
	"$CHECK" -q "$W/trk-role.img" || why="a primary with a tracker is refused"
	"$CTL" demote --meta "$W/trk-role.img" >/dev/null 2>&1 || why=${why:-"demote failed"}
	trk_id=$("$DUMP" --json "$W/trk-role.img" | jq -r .superblock.trk_id)
	[[ -n "$why" || "$trk_id" == 0000000000000000 ]] || why="demote kept the tracker ($trk_id)"
	"$CHECK" -q "$W/trk-role.img" || why=${why:-"the demoted copy is refused"}
	if [[ -z "$why" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: $why"
	fi
fi
RM_IMG="$W/role.img"
role_dump() { "$DUMP" --json "$RM_IMG" | jq -r "$1"; }
# The role tests' local device: 8192 sectors, as their metadata says.
RL="$W/role-local.img"
truncate -s 4M "$RL"
name=ctl-demote-promote
if selected "$name" && command -v jq >/dev/null; then
	why=""
	# A primary's metadata with regions 3-5 marked.
	python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 --set 3-5
	out=$("$CTL" demote --meta "$RM_IMG" 2>&1) || why="demote failed: $out"
	[[ -z "$why" && "$out" == *"3 regions written here"* ]] || why=${why:-"demote said: $out"}
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == secondary ]] || why="not a secondary after demote"
	[[ -n "$why" || "$(role_dump '.superblock.flag_names | join(",")')" == consistent,demoted ]] ||
		why=${why:-"flags after demote: $(role_dump '.superblock.flag_names')"}
	[[ -n "$why" || "$(role_dump '.dirty_count')" == 3 ]] || why=${why:-"demote changed the bitmap"}
	"$CTL" demote --meta "$RM_IMG" >/dev/null 2>&1 && why=${why:-"a second demote was accepted"}
	# Promote it back: the demotion undone, the bitmap and generations kept
	# (exit 1: no device-mapper here to create the device).
	cur=$(role_dump '.superblock.gen_current')
	"$CTL" promote a --local "$RL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 || true
	grep -q "demotion is undone" "$W/promote.out" || why=${why:-"promote of a demoted copy: $(cat "$W/promote.out")"}
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == primary ]] || why="not a primary after promote"
	[[ -n "$why" || "$(role_dump '.dirty_count')" == 3 ]] || why=${why:-"the demoted copy's bitmap was not kept"}
	[[ -n "$why" || "$(role_dump '.superblock.gen_current')" == "$cur" ]] || why=${why:-"generation changed"}
	# A local device of another size than the metadata's: refused, nothing
	# written.
	"$CTL" demote --meta "$RM_IMG" >/dev/null 2>&1 || why=${why:-"second demote failed"}
	sb0=$(role_dump '.superblock')
	"$CTL" promote a --local "$LI" --meta "$RM_IMG" >"$W/promote.out" 2>&1 &&
		why=${why:-"a promote with the wrong --local was accepted"}
	grep -q "has 131072 sectors, but .* describes a device of 8192: the wrong --local or --meta? Nothing written" \
		"$W/promote.out" || why=${why:-"wrong size: $(cat "$W/promote.out")"}
	[[ -n "$why" || "$(role_dump '.superblock')" == "$sb0" ]] || why="a refused promote changed the superblock"
	# A secondary's, not consistent: refused without --force.
	python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 --set 1 \
		--role 2 --flags 0 --gen-history 0 0
	"$CTL" promote a --local "$RL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 &&
		why=${why:-"an inconsistent copy was promoted without --force"}
	grep -q "not consistent" "$W/promote.out" || why=${why:-"refusal: $(cat "$W/promote.out")"}
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == secondary ]] || why="refused promote changed the role"
	"$CTL" promote a --local "$RL" --meta "$RM_IMG" --force >"$W/promote.out" 2>&1 || true
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == primary ]] || why="--force did not promote"
	[[ -n "$why" || "$(role_dump '.superblock.gen_bitmap')" == 0123456789abcdef ]] ||
		why=${why:-"gen_bitmap is not the old gen_current: $(role_dump '.superblock.gen_bitmap')"}
	[[ -n "$why" || "$(role_dump '.superblock.gen_current')" != 0123456789abcdef ]] || why="no new generation"
	[[ -n "$why" || "$(role_dump '.dirty_count')" == 0 ]] || why=${why:-"the secondary's bitmap was not cleared"}
	[[ -n "$why" || "$(role_dump '.superblock.degraded_name')" == error ]] || why=${why:-"not degraded"}
	"$CHECK" "$RM_IMG" >/dev/null 2>&1 || why=${why:-"xrepl-check refuses the promoted metadata"}
	# A live secondary's data time is reported as such.
	python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 \
		--role 2 --flags 5 --gen-history 0 0
	"$CTL" -n promote a --local "$RL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 ||
		why=${why:-"dry-run promote failed: $(cat "$W/promote.out")"}
	grep -q "replicating every write to it" "$W/promote.out" || why=${why:-"live: $(cat "$W/promote.out")"}
	grep -q "^create a: 0 [0-9]* xrepl $RL - $RM_IMG sync$" "$W/promote.out" || why=${why:-"dry run: $(cat "$W/promote.out")"}
	[[ "$(role_dump '.superblock.role_name')" == secondary ]] || why=${why:-"a dry run wrote"}
	if [[ -n "$why" ]]; then
		record "FAIL userspace:$name: $why"
	else
		record "PASS userspace:$name"
	fi
fi
# A primary whose metadata relies on its journal (flag journaled): the
# log may hold writes its bitmap does not mark, so demote marks every
# region, and says so.
name=ctl-demote-journaled
if selected "$name" && command -v jq >/dev/null; then
	why=""
	python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 --set 3 --flags 9
	out=$("$CTL" demote --meta "$RM_IMG" 2>&1) || why="demote failed: $out"
	[[ -n "$why" || "$out" == *"its journal may hold writes its bitmap does not mark: every region is marked"* ]] ||
		why=${why:-"demote said: $out"}
	[[ -n "$why" || "$out" == *"8 regions written here"* ]] || why=${why:-"demote said: $out"}
	[[ -n "$why" || "$(role_dump '.dirty_count')" == 8 ]] ||
		why=${why:-"regions marked after demote: $(role_dump '.dirty_count')"}
	[[ -n "$why" || "$(role_dump '.superblock.flag_names | join(",")')" == consistent,demoted ]] ||
		why=${why:-"flags after demote: $(role_dump '.superblock.flag_names')"}
	# A dry run changes nothing.
	python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 --set 3 --flags 9
	"$CTL" -n demote --meta "$RM_IMG" >/dev/null 2>&1 || why=${why:-"demote --dry-run failed"}
	[[ -n "$why" || "$(role_dump '.dirty_count')" == 1 ]] || why=${why:-"a dry run marked regions"}
	if [[ -z "$why" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: $why"
	fi
fi
# Promote of a copy a periodic cycle was overwriting, with an undo area:
# the slots of the epoch are written back first.  8 regions of 512 KiB;
# undo slots of 129 blocks from block 2.
name=ctl-promote-undo
if selected "$name" && command -v jq >/dev/null; then
	why=""
	UL="$W/undo-local.img"
	undo_meta() {
		python3 "$MKMETA" "$RM_IMG" --dev-sectors 8192 --region-size 1024 \
			--role 2 --flags 0 --gen-history 0 0 --data-time 1700000000 \
			--undo-epoch 0x5eed --meta-size $(( (2 + 4 * 129) * 4096 )) "$@"
	}
	undo_local() { python3 -c 'import sys; sys.stdout.buffer.write(b"\x11" * 4194304)' >"$UL"; }
	# region R of the local image: its first and last byte, as hex.
	region_bytes() {
		od -An -tx1 -j $(( $1 * 524288 )) -N1 "$UL" | tr -d ' \n'
		od -An -tx1 -j $(( $1 * 524288 + 524287 )) -N1 "$UL" | tr -d ' \n'
	}
	# Two regions saved; status --meta and xrepl-check accept it.
	undo_meta --undo-slot 0:2:0xaa --undo-slot 2:5:0xbb
	"$CHECK" "$RM_IMG" >/dev/null 2>&1 || why="xrepl-check refuses metadata with an undo epoch"
	"$CTL" status --meta "$RM_IMG" | grep -q "^  state       cycling$" ||
		why=${why:-"status --meta: $("$CTL" status --meta "$RM_IMG")"}
	undo_local
	md0=$(md5sum <"$UL")
	"$CTL" -n promote a --local "$UL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 ||
		why=${why:-"dry-run promote failed: $(cat "$W/promote.out")"}
	grep -q "would write back 2 regions from the undo area" "$W/promote.out" ||
		why=${why:-"dry run: $(cat "$W/promote.out")"}
	[[ "$(md5sum <"$UL")" == "$md0" ]] || why=${why:-"a dry run wrote the data"}
	# Exit 1: no device-mapper here to create the device.
	"$CTL" promote a --local "$UL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 || true
	grep -q "wrote back 2 regions from the undo area, back to its point in time" "$W/promote.out" ||
		why=${why:-"promote: $(cat "$W/promote.out")"}
	[[ "$(region_bytes 2)$(region_bytes 5)$(region_bytes 1)$(region_bytes 7)" == aaaabbbb11111111 ]] ||
		why=${why:-"regions after the rollback: $(region_bytes 2) $(region_bytes 5) $(region_bytes 1) $(region_bytes 7)"}
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == primary ]] || why="not a primary after promote"
	[[ -n "$why" || "$(role_dump '.superblock.undo_epoch')" == 0000000000000000 ]] || why="undo epoch kept"
	# A region saved twice with the same data (a save retried after its
	# header landed): written back once.
	undo_meta --undo-slot 0:2:0xaa --undo-slot 1:2:0xaa --undo-slot 3:5:0xbb
	undo_local
	"$CTL" promote a --local "$UL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 || true
	grep -q "wrote back 2 regions from the undo area" "$W/promote.out" ||
		why=${why:-"a region saved twice with the same data: $(cat "$W/promote.out")"}
	[[ "$(region_bytes 2)$(region_bytes 5)" == aaaabbbb ]] || why=${why:-"regions after a rollback with a retried save"}
	# Damaged: a data checksum, a header, a region saved twice.  Refused,
	# nothing written; --force promotes the copy as it is.
	for dmg in "0:2:0xaa --undo-slot 1:5:0xbb:data" "0:2:0xaa:hdr" "0:2:0xaa --undo-slot 1:2:0xcc"; do
		# shellcheck disable=SC2086
		undo_meta --undo-slot $dmg
		undo_local
		sb0=$(role_dump '.superblock')
		"$CTL" promote a --local "$UL" --meta "$RM_IMG" >"$W/promote.out" 2>&1 &&
			why=${why:-"promote with a damaged undo area ($dmg) accepted"}
		grep -q "cannot return to its point: refused" "$W/promote.out" ||
			why=${why:-"damaged undo ($dmg): $(cat "$W/promote.out")"}
		[[ "$(md5sum <"$UL")" == "$md0" && "$(role_dump '.superblock')" == "$sb0" ]] ||
			why=${why:-"a refused promote ($dmg) wrote"}
	done
	"$CTL" promote a --local "$UL" --meta "$RM_IMG" --force >"$W/promote.out" 2>&1 || true
	grep -q "NOT consistent" "$W/promote.out" || why=${why:-"--force: $(cat "$W/promote.out")"}
	[[ -n "$why" || "$(role_dump '.superblock.role_name')" == primary ]] || why="--force did not promote"
	if [[ -n "$why" ]]; then
		record "FAIL userspace:$name: $why"
	else
		record "PASS userspace:$name"
	fi
fi
tcase ctl-no-command 2 "^xreplctl: no command$" "$CTL"
tcase ctl-unknown-command 2 "^xreplctl: unknown command 'frob'$" "$CTL" frob
tcase ctl-bad-option 2 "^xreplctl: bad option$" "$CTL" --bogus status
tcase ctl-help 0 "^Exit status:$" "$CTL" --help
tcase ctl-version 0 "^xreplctl 1\.0 \(dm-xrepl target 1\.3\)$" "$CTL" --version
tcase ctl-create-no-name 2 "create wants exactly one device name" \
	"$CTL" -n create --local "$LI" --remote /x --no-meta
tcase ctl-create-two-names 2 "create wants exactly one device name" \
	"$CTL" -n create a b --local "$LI" --remote /x --no-meta
tcase ctl-create-no-remote 2 "create needs --local and --remote" \
	"$CTL" -n create a --local "$LI" --no-meta
tcase ctl-create-no-meta-choice 2 "create needs one of --meta DEV and --no-meta" \
	"$CTL" -n create a --local "$LI" --remote /x
tcase ctl-create-both-meta 2 "create needs one of --meta DEV and --no-meta" \
	"$CTL" -n create a --local "$LI" --remote /x --meta /m --no-meta
tcase ctl-create-same-legs 2 "are the same device" \
	"$CTL" -n create a --local "$LI" --remote "$LI" --no-meta
tcase ctl-create-meta-is-leg 2 "^xreplctl: --meta must differ from the legs$" \
	"$CTL" -n create a --local "$LI" --remote /x --meta "$LI"
tcase ctl-create-bad-mode 2 "^xreplctl: --mode: 'fast' is not sync, semi-sync, async or periodic$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --mode fast
tcase ctl-create-region-not-pow2 2 "^xreplctl: --region-size: a power of two from 4K to 1G$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --region-size 3K
tcase ctl-create-region-junk 2 "^xreplctl: --region-size: '1Q' is not a size$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --region-size 1Q
tcase ctl-create-region-too-big 2 "a power of two from 4K to 1G" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --region-size 2G
tcase ctl-create-option-no-eq 2 "^xreplctl: --option wants key=value, got 'nosync'$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --option nosync
tcase ctl-create-option-unknown 2 "^xreplctl: --option: unknown key 'region_size'" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --option region_size=8
tcase ctl-create-option-bad-value 2 "^xreplctl: --option max_lag_kb: invalid value '255': expected a number of KiB from 256 to 16777216$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --option max_lag_kb=255
tcase ctl-create-option-twice 2 "^xreplctl: --option congestion given twice$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta \
	--option congestion=block --option congestion=degrade
tcase ctl-create-fail-async 2 "^xreplctl: on_remote_error=fail needs --mode sync$" \
	"$CTL" -n create a --local "$LI" --remote /x --no-meta --mode async \
	--option on_remote_error=fail
tcase ctl-create-missing-local 2 "^xreplctl: cannot open $W/none: No such file or directory$" \
	"$CTL" -n create a --local "$W/none" --remote /x --no-meta
tcase ctl-create-bad-name 2 "^xreplctl: invalid device name 'a/b'" \
	"$CTL" -n create a/b --local "$LI" --remote /x --no-meta
tcase ctl-create-long-name 2 "^xreplctl: invalid device name '$(printf 'x%.0s' {1..128})': 1 to 127 characters$" \
	"$CTL" -n create "$(printf 'x%.0s' {1..128})" --local "$LI" --remote /x --no-meta
tcase ctl-mode-bad 2 "^xreplctl: mode wants <name> sync\|semi-sync\|async\|periodic$" "$CTL" -n mode vm1 fast
tcase ctl-mode-missing 2 "mode wants <name>" "$CTL" -n mode vm1
tcase ctl-hold 0 "^message vm1 0 hold$" "$CTL" -n hold vm1
tcase ctl-release 0 "^message vm1 0 release$" "$CTL" -n release vm1
tcase ctl-hold-extra 2 "^xreplctl: hold takes one device name$" "$CTL" -n hold vm1 now
tcase ctl-set-delay 0 "^message vm1 0 set delay_ms 60000$" "$CTL" -n set vm1 delay_ms 60000
tcase ctl-set-delay-range 2 "^xreplctl: set delay_ms: invalid value '604800001': expected a number of milliseconds from 0 to 604800000$" \
	"$CTL" -n set vm1 delay_ms 604800001
# ship-until: ms since the epoch, @seconds, a date (UTC with Z, else local).
tcase ctl-until-ms 0 "^message vm1 0 ship_until 1796565729000$" "$CTL" -n ship-until vm1 1796565729000
tcase ctl-until-utc 0 "^message vm1 0 ship_until 1796565729000$" "$CTL" -n ship-until vm1 "2026-12-06 14:02:09Z"
tcase ctl-until-utc-t 0 "^message vm1 0 ship_until 1796565729500$" "$CTL" -n ship-until vm1 "2026-12-06T14:02:09.5Z"
tcase ctl-until-secs 0 "^message vm1 0 ship_until 1796565729250$" "$CTL" -n ship-until vm1 @1796565729.25
tcase ctl-until-local 0 "^message vm1 0 ship_until 1796565729000$" env TZ=Europe/Berlin "$CTL" -n ship-until vm1 "2026-12-06 15:02:09"
for bad in soon 0 @ @1.x "2026-12-06 14:02:09.Z" "2026-12-06 14:02:09x" 99999999999999999999; do
	tcase "ctl-until-bad-${bad//[^0-9a-z]/_}" 2 "^xreplctl: ship-until: '.*' is not a time: ms since the epoch, @SECONDS\[.FRACTION\] or 'YYYY-MM-DD HH:MM:SS\[.fff\]\[Z\]'$" \
		"$CTL" -n ship-until vm1 "$bad"
done
tcase ctl-until-missing 2 "^xreplctl: ship-until wants <name> <time> \[--no-wait \| --timeout SECONDS\]$" "$CTL" -n ship-until vm1
tcase ctl-until-nowait-timeout 2 "^xreplctl: ship-until: --timeout goes with waiting, not --no-wait$" \
	"$CTL" -n ship-until vm1 1 --no-wait --timeout 3
tcase ctl-set-unknown 2 "^xreplctl: set: unknown key 'on_remote_error'" \
	"$CTL" -n set vm1 on_remote_error fail
tcase ctl-set-bad-value 2 "^xreplctl: set semi_timeout_ms: invalid value '0': expected a number of milliseconds from 1 to 60000$" \
	"$CTL" -n set vm1 semi_timeout_ms 0
tcase ctl-set-rate-sign 2 "invalid value '\+5'" "$CTL" -n set vm1 resync_rate_kbps +5
tcase ctl-set-congestion 2 "invalid value 'drop': expected block or degrade" \
	"$CTL" -n set vm1 congestion drop
tcase ctl-set-missing 2 "^xreplctl: set wants <name> <key> <value>$" "$CTL" -n set vm1 max_lag_kb
tcase ctl-resync-junk 2 "^xreplctl: resync wants <name> \[--full\]$" "$CTL" -n resync vm1 now
tcase ctl-remote-extra 2 "^xreplctl: remote-down takes one device name$" "$CTL" -n remote-down vm1 now
tcase ctl-remove-none 2 "^xreplctl: remove wants a device name$" "$CTL" -n remove
tcase ctl-status-extra 2 "^xreplctl: status: bad option$" "$CTL" status a --bogus
tcase ctl-status-dry 2 "makes no sense" "$CTL" -n status

# status_fails NAME ARGS...: with no device-mapper to talk to (an empty
# DM_DEV_DIR), status fails: an error on stderr, a non-zero exit, and
# nothing on stdout (an empty list or '{"devices": []}' would read as
# "nothing degraded" to a script).
status_fails() {
	local name=$1 rc=0 out
	shift
	selected "$name" || return 0
	mkdir -p "$W/nodm"
	out=$(DM_DEV_DIR=$W/nodm "$CTL" status "$@" 2>"$W/status.err") || rc=$?
	if (( rc == 0 )); then
		record "FAIL userspace:$name: exit status 0 without device-mapper"
	elif [[ -n "$out" ]]; then
		record "FAIL userspace:$name: printed on stdout: $(head -c 200 <<<"$out")"
	elif ! grep -q '^xreplctl: status: ' "$W/status.err"; then
		record "FAIL userspace:$name: no 'xreplctl: status:' error on stderr"
		sed 's/^/    | /' "$W/status.err"
	else
		record "PASS userspace:$name"
	fi
}
# monitor: no fixed limit on the number of devices: 70 names are taken,
# and it goes on to look them up (and fails there: no device-mapper).
name=ctl-monitor-many-devices
if selected "$name"; then
	mkdir -p "$W/nodm"
	rc=0
	# shellcheck disable=SC2046
	out=$(DM_DEV_DIR=$W/nodm "$CTL" monitor $(seq -f 'vol%g' 1 70) 2>&1) || rc=$?
	if grep -q 'at most' <<<"$out" || (( rc == 2 )); then
		record "FAIL userspace:$name: 70 devices refused (exit $rc): $(head -n 2 <<<"$out")"
	else
		record "PASS userspace:$name"
	fi
fi
status_fails ctl-status-error-json --json
status_fails ctl-status-error-table
status_fails ctl-status-error-name vm1 --json

# The manual page describes the options and commands xreplctl has.
name=man-xreplctl-options
if selected "$name"; then
	man_opts=$(grep -o -- '\\-\\-[a-z]*\(\\-[a-z]*\)*' "$REPO/userspace/man/xreplctl.8" |
		sed 's/\\//g' | sort -u)
	help_opts=$("$CTL" --help | grep -o -- '--[a-z-]*' | sort -u)
	# The tags of the COMMANDS section: ".TP" then ".B command ...".
	man_cmds=$(awk '/^\.SH COMMANDS/ { c = 1; next } /^\.SH/ { c = 0 }
		c && prev == ".TP" && /^\.B / { print $2 } { prev = $0 }' \
		"$REPO/userspace/man/xreplctl.8" | sed 's/\\//g' | sort -u)
	help_cmds=$("$CTL" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
	if [[ "$man_opts" == "$help_opts" && "$man_cmds" == "$help_cmds" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: options or commands in --help and in man/xreplctl.8 differ"
		diff <(echo "$help_opts"; echo "$help_cmds") <(echo "$man_opts"; echo "$man_cmds") |
			sed 's/^/    | /' || true
	fi
fi

# The tests' "# budget:" and "# kernels:" lines are read where they are
# (the runners once read only the first 20 or 25 lines, and a budget on
# line 24 was ignored).
name=test-headers
if selected "$name"; then
	# shellcheck source=tests/lib/header.sh
	. "$REPO/tests/lib/header.sh"
	bad=""
	for f in "$REPO"/tests/integration/[0-9]*.sh "$REPO"/tests/crash/[0-9]*.sh; do
		for key in budget kernels; do
			want=$(sed -n "s/^# $key: *\([^ ]*\) *\$/\1/p" "$f" | head -n 1)
			got=$(test_header "$f" "$key")
			[[ "$want" == "$got" ]] || bad+=" $(basename "$f"):$key='$got'(want '$want')"
		done
	done
	if [[ -z "$bad" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name:$bad"
	fi
fi

# --help's Commands: each command has its own description, under its
# synopsis and before the next command's, and no line is wider than 80.
name=ctl-help-layout
if selected "$name"; then
	bad=$("$CTL" --help | awk '
		/^Commands:/ { c = 1; next }
		c && /^$/ { c = 0 }
		!c { next }
		length > 80 { print "wider than 80: " $0 }
		/^  [a-z][a-z-]* / {
			if ($1 != cmd) {
				if (cmd != "" && !desc) print "no description of " cmd
				cmd = $1; desc = 0
			}
		}
		# The descriptions start in column 26.
		substr($0, 25, 1) == " " && substr($0, 26, 1) ~ /[^ ]/ { desc = 1 }
		END { if (cmd != "" && !desc) print "no description of " cmd }')
	if [[ -z "$bad" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: xreplctl --help: $(echo "$bad" | paste -sd';')"
	fi
fi

# The dm-log-writes reader and write-order checkers of the async tests
# (tests/lib/logwrites.py, tests/lib/epochs.py), on synthetic logs, and
# the benchmark's trace analyser (scripts/bench-trace.py) on synthetic
# traces: one line per unittest case.
for name in logwrites epochs bench_trace; do
	selected "$name" || continue
	out=$(cd "$REPO" && python3 -m unittest -v "tests/userspace/test_$name.py" 2>&1) || true
	while read -r tc result; do
		record "$result userspace:$name.$tc"
	done < <(sed -n 's/^\(test[a-z0-9_]*\) (.*) \.\.\. \(ok\|FAIL\|ERROR\)$/\1 \2/p' <<<"$out" |
		sed 's/ ok$/ PASS/; s/ ERROR$/ FAIL/')
	if ! grep -q '^OK$' <<<"$out"; then
		record "FAIL userspace:$name: unittest did not end with OK"
		tail -n 20 <<<"$out" | sed 's/^/    | /'
	fi
done

# scripts/setup.sh picks the guest kernel's image package from the
# package lists: the signed linux-image-KVER, or linux-image-KVER-unsigned
# (same kernel and modules) while the signed one is not published yet.
# A stub apt-cache stands for the package lists.
image_pkg_case() {
	local name=$1 have=$2 want=$3 out
	selected "$name" || return 0
	mkdir -p "$W/apt-$name"
	cat >"$W/apt-$name/apt-cache" <<-STUB
	#!/bin/sh
	[ "\$1" = policy ] || exit 1
	echo "\$2:"
	case " $have " in
	*" \$2 "*) echo "  Candidate: 1.0" ;;
	*) echo "  Candidate: (none)" ;;
	esac
	STUB
	chmod +x "$W/apt-$name/apt-cache"
	out=$(PATH="$W/apt-$name:$PATH" bash -c '. "$1/scripts/lib.sh"; guest_image_pkg 6.12.9+deb12-amd64' _ "$REPO" 2>&1) || true
	if [[ "$out" == "$want" ]]; then
		record "PASS userspace:$name"
	else
		record "FAIL userspace:$name: got '$out', expected '$want'"
	fi
}
image_pkg_case image-pkg-signed "linux-image-6.12.9+deb12-amd64 linux-image-6.12.9+deb12-amd64-unsigned" \
	linux-image-6.12.9+deb12-amd64
image_pkg_case image-pkg-unsigned-only "linux-image-6.12.9+deb12-amd64-unsigned" \
	linux-image-6.12.9+deb12-amd64-unsigned
image_pkg_case image-pkg-none "linux-image-6.12.8+deb12-amd64" ""

# The KUnit builds compile current copies of what dm-xrepl/Kbuild names
# (scripts/kunit.sh, scripts/lint.sh, scripts/check-debug.sh), and those
# lists leave no source out.
for s in kunit lint check-debug kbuild; do
	tcase "kunit-copies-$s" 0 "^ok$" bash "$HERE/kunit-copies.sh" "$s"
done

# The hostile-input generator of the integration test 240: it must never
# emit a case the target's grammar accepts.
tcase fuzz-selftest 0 "^fuzz.py selftest: ok" python3 "$REPO/tests/lib/fuzz.py" selftest

# The status parser from several threads at once, as the monitor's
# threads call it (built with the sanitizers too under --sanitize).
if selected status-threads; then
	sflags=(-O2)
	(( sanitize )) && sflags=(-O1 -g "-fsanitize=address,undefined" -fno-sanitize-recover=all)
	if ! cc -D_GNU_SOURCE -std=gnu11 -Wall -Wextra -Werror "${sflags[@]}" \
		-I"$REPO/userspace" -pthread -o "$W/status-threads" \
		"$HERE/status-threads.c" "$REPO/userspace/lib/status.c" >"$W/st-build.log" 2>&1; then
		sed 's/^/    | /' "$W/st-build.log"
		record "FAIL userspace:status-threads: does not build"
	else
		tcase status-threads 0 "every field right$" "$W/status-threads"
	fi
fi

# xreplctl's status report (libdevmapper's report engine), health and
# metrics: the real code fed known status lines (report.c); the metrics
# are parsed strictly and linted with promtool (scripts/setup.sh fetches
# it; the case fails without it, rather than checking less).
if selected report; then
	sflags=(-O2)
	(( sanitize )) && sflags=(-O1 -g "-fsanitize=address,undefined" -fno-sanitize-recover=all)
	promtool=${PROMTOOL:-${XREPL_CACHE:-${HOME:-/root}/.cache/dm-xrepl}/tools/promtool}
	if ! cc -D_GNU_SOURCE -std=gnu11 -Wall -Wextra -Werror "${sflags[@]}" \
		-I"$REPO/userspace" -I"$REPO/dm-xrepl" -o "$W/report" "$HERE/report.c" \
		"$REPO/userspace/xreplctl-report.c" "$REPO/userspace/xreplctl-metrics.c" \
		"$REPO/userspace/xreplctl-dm.c" "$REPO/userspace/lib/status.c" -ldevmapper \
		>"$W/rep-build.log" 2>&1; then
		sed 's/^/    | /' "$W/rep-build.log"
		record "FAIL userspace:report: does not build"
	elif [[ ! -x "$promtool" ]]; then
		record "FAIL userspace:report: $promtool missing (run scripts/setup.sh)"
	else
		tcase report 0 "^ok$" python3 "$HERE/test_report.py" "$W/report" "$promtool"
	fi
fi

# The OCF resource agent's protocol (ocf-tester, monitor codes per role),
# against stand-ins for the tools (ocf-agent.sh).
tcase ocf-agent 0 "^ok$" bash "$HERE/ocf-agent.sh"

# xreplctl drill's processes and signals, against a stand-in for lvm
# (drill.sh).
tcase drill 0 "^ok$" bash "$HERE/drill.sh" "$CTL"

# Backup images: xreplctl restore of full, incremental and differential
# chains, refused chains and damaged images, xrepl-dump --backup
# (backup.sh, images written by mkbackup.py).
tcase backup 0 "^ok$" bash "$HERE/backup.sh" "$TOOLS"

# The bash completion: commands, options, device and configuration names,
# report fields (completion.sh, against the xreplctl built here).
tcase completion 0 "^ok$" bash "$HERE/completion.sh" "$TOOLS"

p=$(grep -c '^PASS ' "$lines" || true)
f=$(grep -c '^FAIL ' "$lines" || true)
echo "userspace tests: $p passed, $f failed"
(( f == 0 ))
