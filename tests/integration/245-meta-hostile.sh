#!/usr/bin/env bash
# Hostile metadata: random byte changes (from a logged seed) in the
# superblock block and in the unused bits past the last region of the
# bitmap are each refused with a "Metadata:" error and leave the device
# as it was; a change inside the bitmap's regions is accepted as the
# documented failure mode of an unchecksummed bitmap: the regions whose
# bits it sets are resynced (a cleared bit is not detectable, as in md's
# and DRBD's bitmaps; see Known limits).  A metadata device that shrank
# or a pair whose size changed between loads is refused.  (The parser
# itself meets every single-byte change of the superblock in KUnit
# (xrepl_sb_byte_flip_test); 20 random changes here prove the load path
# refuses them and changes nothing.)
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

SEED=${XREPL_FUZZ_SEED:-$(( RANDOM * 32768 + RANDOM ))}
N=${XREPL_META_FUZZ_COUNT:-20}
log "seed $SEED, $N changes (XREPL_FUZZ_SEED=$SEED to repeat)"
RANDOM=$SEED
meta_legs 32
# 32 MiB in regions of 1024 sectors: 64 regions, bits 0-63 of block 1.
export XREPL_META=$M
X=/dev/mapper/$P-x
xrepl_create x "$L" "$R" nosync
dm_remove "$P-x"
good=$T_TMP/good.img
dd if="$M" of="$good" bs=4k count=2 status=none
put_good() { dd if="$good" of="$M" bs=4k count=2 oflag=direct conv=notrunc status=none; }
devs=$(dmsetup ls | sort)
# The blocks the target could write: superblock and bitmap.
meta_sum() { dd if="$M" bs=4k count=2 iflag=direct status=none | sha256sum; }

# change OFFSET: xor the byte at OFFSET with a random non-zero value.
change() {
	local off=$1 b x
	b=$(od -An -tu1 -j "$off" -N1 "$good" | tr -d ' ')
	x=$(( (RANDOM % 255) + 1 ))
	printf '%b' "\\x$(printf '%02x' $(( b ^ x )))" |
		dd of="$M" bs=1 seek="$off" count=1 conv=notrunc,fsync status=none
}

step "$N random changes in the superblock block and past the last region"
bad=0
for (( i = 0; i < N; i++ )); do
	put_good
	if (( i % 4 == 3 )); then
		# bitmap block 1, bytes 8..4095: bits of no region
		off=$(( 4096 + 8 + RANDOM % 4088 ))
	else
		off=$(( RANDOM % 4096 ))
	fi
	change "$off"
	sum=$(meta_sum)
	kmsg_mark
	if dm_try_create "$P-x" "$(xrepl_table "$L" "$R")" >/dev/null 2>&1; then
		echo "    accepted: byte $off changed" >&2
		dm_remove "$P-x"
		bad=$(( bad + 1 ))
		continue
	fi
	dmesg_since_mark | grep -q 'xrepl: Metadata' ||
		fail "byte $off: refused without a Metadata error: $(dmesg_since_mark | tail -n 2 | tr '\n' ' ')"
	[[ "$sum" == "$(meta_sum)" ]] || fail "byte $off: the refused metadata device was written"
done
(( bad == 0 )) || fail "$bad changed metadata devices were accepted"
log "ok: all $N refused with a Metadata error, none written"
assert_eq "$devs" "$(dmsetup ls | sort)" "dm devices"

step "a change inside the bitmap's regions: those regions are resynced"
put_good
byte=$(( RANDOM % 8 ))
printf '\xff' | dd of="$M" bs=1 seek=$(( 4096 + byte )) count=1 conv=notrunc,fsync status=none
xrepl_create x "$L" "$R"
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 8
assert_legs_equal "$L" "$R" "$S"
dm_remove "$P-x"

step "a shrunken metadata device and a changed size are refused"
put_good
kmsg_mark
dm_create "$P-short" "0 8 linear $M 0"
XREPL_META=/dev/mapper/$P-short dm_try_create "$P-x" \
	"$(XREPL_META=/dev/mapper/$P-short xrepl_table "$L" "$R")" >/dev/null 2>&1 &&
	fail "a metadata device cut to its superblock was accepted"
dmesg_since_mark | grep -q 'xrepl: Metadata device too small' || fail "no 'too small' error"
dm_remove "$P-short"
kmsg_mark
dm_try_create "$P-x" "$(XREPL_LEN=$(( S / 2 )) xrepl_table "$L" "$R")" >/dev/null 2>&1 &&
	fail "a pair whose size changed was accepted"
dmesg_since_mark | grep -q 'xrepl: Metadata: device size differs' || fail "no 'size differs' error"
log "ok: both refused"
