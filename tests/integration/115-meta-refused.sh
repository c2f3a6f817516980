#!/usr/bin/env bash
# A damaged or mismatching metadata device is refused with a message that
# names the problem, is never rewritten, and xrepl-check reports it.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
check=$(xrepl_tool xrepl-check)

meta_legs 32
RS=1024
T=$(regions "$S" "$RS")         # 64 regions
export XREPL_META=$M
X=/dev/mapper/$P-x

step "a good metadata device"
xrepl_create x "$L" "$R" nosync
assert_status "$X" dirty "0/$T"
dm_remove "$P-x"
good="$T_TMP/good.img"
dd if="$M" of="$good" bs=4k count=2 status=none
assert_eq 0 "$(rc=0; "$check" --quiet "$M" || rc=$?; echo "$rc")" "xrepl-check of the good device"
before=$(dmsetup ls | sort)

# put_good: restore the good metadata.
put_good() { dd if="$good" of="$M" bs=4k count=2 oflag=direct conv=notrunc status=none; }

# poke OFFSET HEXBYTE: overwrite one byte of the metadata device.
poke() {
	printf '%b' "\\x$2" | dd of="$M" bs=1 seek="$1" count=1 conv=notrunc status=none
	sync
}

# refused WHAT KERNEL_TEXT [TABLE]: the load fails with TEXT in the kernel
# log, nothing is left behind and the metadata is not changed.
refused() {
	local what=$1 text=$2 table=${3:-$(xrepl_table "$L" "$R")} sum
	step "$what"
	sum=$(md5sum <"$M")
	kmsg_mark
	if dm_try_create "$P-x" "$table" >"$T_TMP/out" 2>&1; then
		fail "$what: the table was accepted"
	fi
	assert_match "Invalid argument" "$(cat "$T_TMP/out")" "$what: dmsetup error"
	assert_dmesg_contains "xrepl: $text" "$what"
	assert_eq "$before" "$(dmsetup ls | sort)" "$what: dm devices"
	assert_eq "$sum" "$(md5sum <"$M")" "$what: metadata device unchanged"
}

# damaged WHAT OFFSET HEXBYTE KERNEL_TEXT: a byte changed on disk.
damaged() {
	put_good
	poke "$2" "$3"
	refused "$1" "$4"
	local rc=0
	"$check" "$M" >"$T_TMP/check.out" 2>&1 || rc=$?
	assert_eq 1 "$rc" "$1: xrepl-check exit status ($(tr '\n' ' ' <"$T_TMP/check.out"))"
}

damaged "bad magic" 0 58 "Metadata: bad magic"
damaged "byte flip in the superblock" 30 ff "Metadata: superblock checksum mismatch"
damaged "byte flip in the checksum" 9 00 "Metadata: superblock checksum mismatch"
damaged "junk after the superblock" 1000 01 "Metadata: corrupt superblock"
# Region 64 is the first bit past the last region (bit 0 of byte 8 of block 1).
damaged "bitmap bit past the last region" $(( 4096 + 8 )) 01 "Metadata: corrupt bitmap"

put_good
refused "device size differs" "Metadata: device size differs" \
	"$(XREPL_LEN=$(( S - 8 )) xrepl_table "$L" "$R")"
refused "region size differs" "Metadata: region_size differs from the table" \
	"$(xrepl_table "$L" "$R" region_size 2048)"

step "a metadata device too small for its bitmap"
dm_create "$P-tiny" "0 8 linear /dev/ram2 0"
before=$(dmsetup ls | sort)
refused "truncated metadata device" "Metadata device too small" \
	"$(XREPL_META=/dev/mapper/$P-tiny xrepl_table "$L" "$R")"
dm_remove "$P-tiny"
before=$(dmsetup ls | sort)

step "a fresh metadata device too small for the bitmap"
dd if=/dev/zero of=/dev/ram2 bs=4k count=1 seek=100 oflag=direct status=none
dm_create "$P-tiny" "0 8 linear /dev/ram2 800"
before=$(dmsetup ls | sort)
refused "fresh and too small" "Metadata device too small" \
	"$(XREPL_META=/dev/mapper/$P-tiny xrepl_table "$L" "$R")"
dm_remove "$P-tiny"

step "the good metadata still loads"
put_good
xrepl_create x "$L" "$R"
assert_status "$X" dirty "0/$T"
assert_status "$X" consistent yes
