#!/usr/bin/env bash
# The journal device: opened, formatted and given a new incarnation.
#   1. a fresh journal is formatted on the pair's first resume: the
#      offline checker finds it valid, of this pair, incarnation 1; a
#      reload keeps the incarnation, a new pair of the same metadata
#      raises it
#   2. tables that name a bad journal are refused and change nothing:
#      another pair's, a damaged superblock, too small, a device the table
#      uses otherwise, periodic mode, no metadata device
#   3. a reload may not add, remove or change the journal
# budget: 120
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
CHECK=$(xrepl_tool xrepl-check)
DUMP=$(xrepl_tool xrepl-dump)

ramdisks 6 16
make_leg local /dev/ram0
make_leg remote /dev/ram1
make_leg meta /dev/ram2 8192
make_leg jnl /dev/ram3
make_leg jnl2 /dev/ram4
make_leg jsmall /dev/ram5 2048
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote M=/dev/mapper/$P-meta
J=/dev/mapper/$P-jnl J2=/dev/mapper/$P-jnl2
X=/dev/mapper/$P-x
S=$(dev_sectors "$L")
H="0 $S xrepl"

# jfield KEY: the journal superblock's KEY, as xrepl-dump reads it.
jfield() {
	"$DUMP" --journal --json "${2:-$J}" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["superblock"][sys.argv[1]])' "$1" ||
		fail "xrepl-dump --journal ${2:-$J}"
}

# jx [OPT...]: /dev/mapper/$P-x, async over L and R with metadata M.
jx() { XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" "$@"; }

step "a fresh journal is formatted on the first resume, for this pair"
write_at "$J" 0 $(( 1 << 20 )) /dev/zero
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
jx journal "$J"
wait_for_status "$X" remote insync 60
must "the journal is valid and of this pair" "$CHECK" --journal --meta "$M" "$J"
"$CHECK" --journal --meta "$M" "$J" | grep -q "valid journal: 0 unshipped entries" ||
	fail "a fresh journal should hold no entry"
assert_eq 1 "$(jfield incarnation)" "incarnation of a fresh journal"
assert_eq 1 "$(jfield tail_incarnation)" "tail_incarnation of a fresh journal"

step "a reload keeps the incarnation; a new pair raises it"
dm_reload "$P-x" "$(XREPL_MODE=async XREPL_META=$M xrepl_table "$L" "$R" journal "$J")"
assert_eq 1 "$(jfield incarnation)" "incarnation after a reload"
dm_remove "$P-x"
jx journal "$J"
assert_eq 2 "$(jfield incarnation)" "incarnation of the pair's second life"
assert_eq 2 "$(jfield tail_incarnation)" "tail_incarnation, the log empty"
must "still valid and of this pair" "$CHECK" --journal --meta "$M" "$J"
dmsetup table "$P-x" | grep -q " journal $(devno "$J")\$" ||
	fail "the table line does not name the journal: $(dmsetup table "$P-x")"

step "a reload may not add, remove or change the journal"
for t in "$(XREPL_MODE=async XREPL_META=$M xrepl_table "$L" "$R")" \
	 "$(XREPL_MODE=async XREPL_META=$M xrepl_table "$L" "$R" journal "$J2")"; do
	kmsg_mark
	if dmsetup load "$P-x" --table "$t" 2>/dev/null; then
		fail "reload accepted: $t"
	fi
	assert_dmesg_contains "xrepl: Journal: a reload may not change the journal or the geometry" "reload: $t"
done
must "no table left inactive" dmsetup clear "$P-x"
dm_remove "$P-x"

before=$(dmsetup ls | sort)
# refused WHAT TEXT TABLE [DEV]: the table is refused with TEXT in the
# kernel log; no device appears, and DEV (the journal) is unchanged.
refused() {
	local what=$1 text=$2 table=$3 dev=${4:-$J} sum msum
	step "refused: $what"
	sum=$(read_at "$dev" 0 4096 | md5sum)
	msum=$(read_at "$M" 0 $(( 1 << 20 )) | md5sum)
	kmsg_mark
	if dm_try_create "$P-bad" "$table" >"$T_TMP/out" 2>&1; then
		fail "$what: table '$table' was accepted"
	fi
	assert_dmesg_contains "xrepl: $text" "$what"
	[[ "$before" == "$(dmsetup ls | sort)" ]] || fail "$what: dm devices changed"
	[[ "$sum" == "$(read_at "$dev" 0 4096 | md5sum)" ]] || fail "$what: the journal changed"
	[[ "$msum" == "$(read_at "$M" 0 $(( 1 << 20 )) | md5sum)" ]] ||
		fail "$what: the metadata device changed"
}

# Fresh metadata: a new pair, with a new uuid.
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
refused "the journal of another pair" "Journal: the journal of another pair" \
	"$H $L $R $M async 2 journal $J"
cp_sb=$T_TMP/jsb
read_at "$J" 0 4096 >"$cp_sb"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[60] ^= 1; open(sys.argv[2], "wb").write(b)' \
	"$cp_sb" "$T_TMP/jsb.bad" || fail "cannot damage the superblock"
write_at "$J" 0 4096 "$T_TMP/jsb.bad"
refused "a damaged superblock" "Journal: superblock checksum mismatch" \
	"$H $L $R $M async 2 journal $J"
write_at "$J" 0 4096 "$cp_sb"
refused "too small" "Journal device too small" \
	"$H $L $R $M async 2 journal /dev/mapper/$P-jsmall" "/dev/mapper/$P-jsmall"
refused "the metadata device" "Journal device must differ from the others" \
	"$H $L $R $M async 2 journal $M" "$M"
refused "the local leg" "Journal device must differ from the others" \
	"$H $L $R $M async 2 journal $L" "$L"
refused "periodic mode" "journal does not go with periodic mode" \
	"$H $L $R $M periodic 2 journal $J2" "$J2"
refused "no metadata device" "journal needs a metadata device" \
	"$H $L $R - async 2 journal $J2" "$J2"
