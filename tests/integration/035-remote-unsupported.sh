#!/usr/bin/env bash
# A remote that advertises write-zeroes but answers "not supported" (a loop
# device over a tmpfs file, which has no FALLOC_FL_ZERO_RANGE) is not a
# failed remote: the pair must not degrade.  The caller gets EOPNOTSUPP and
# falls back to writing zeroes (in async mode the answer comes after the
# write completed); the region is resynced either way, so the
# legs end up equal and zeroed.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ramdisks 1 96
scratch_fs /dev/ram0 "$T_TMP/fs"
loopdisk 32 "$T_TMP/fs"; L=$LOOPDEV	# ext4 file: zero-range works
loopdisk 32; R=$LOOPDEV			# tmpfs file: zero-range fails
fill_random "$L"
dd if="$L" of="$R" bs=1M iflag=direct oflag=direct status=none
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
q=/sys/dev/block/$(devno "$X")/queue
(( $(cat "$q/write_zeroes_max_bytes") > 0 )) ||
	skip "loop devices do not advertise write-zeroes on this kernel"

step "write-zeroes of 1 MiB at 4 MiB: succeeds through the fallback"
blkdiscard -z -o $(( 4 << 20 )) -l $(( 1 << 20 )) "$X" ||
	fail "blkdiscard -z on the xrepl device failed"
assert_status "$X" degraded_by none
assert_status "$X" remote_errors 0
wait_for_status "$X" remote insync 60
assert_eq "$(read_at "$X" $(( 4 << 20 )) $(( 1 << 20 )) | tr -d '\0' | wc -c)" 0 \
	"zeroed range reads as zeroes"
legs_equal "$L" "$R" || fail "legs differ after write-zeroes"

step "discard: the remote's answer never degrades the pair, legs end equal"
blkdiscard -o $(( 8 << 20 )) -l $(( 1 << 20 )) "$X" || fail "discard failed"
assert_status "$X" degraded_by none
wait_for_status "$X" remote insync 60
legs_equal "$L" "$R" || fail "legs differ after discard"

step "async mode: the remote's 'not supported' comes later; the region is resynced"
dm_remove "$P-x"
# Fresh legs: after its first refusal a loop device may stop advertising
# write-zeroes, and the writes would then come as plain zeroes.
loopdisk 32 "$T_TMP/fs"; L=$LOOPDEV
loopdisk 32; R=$LOOPDEV
fill_random "$L"
dd if="$L" of="$R" bs=1M iflag=direct oflag=direct status=none
XREPL_MODE=async xrepl_create y "$L" "$R" nosync
Y=/dev/mapper/$P-y
(( $(cat "/sys/dev/block/$(devno "$Y")/queue/write_zeroes_max_bytes") > 0 )) ||
	fail "the async device over fresh loop devices does not advertise write-zeroes"
c0=$(status_field "$Y" copied_regions)
write_at "$Y" $(( 12 << 20 )) $(( 1 << 20 ))
blkdiscard -z -o $(( 12 << 20 )) -l $(( 1 << 20 )) "$Y" ||
	fail "blkdiscard -z on the async device failed"
wait_for_status "$Y" lag_writes 0 60
wait_for_status "$Y" remote insync 60
assert_status "$Y" degraded_by none
assert_status "$Y" remote_errors 0
assert_cmp "$(status_field "$Y" copied_regions)" -gt "$c0" "regions resynced after the refused write-zeroes"
assert_eq "$(read_at "$Y" $(( 12 << 20 )) $(( 1 << 20 )) | tr -d '\0' | wc -c)" 0 \
	"zeroed range reads as zeroes"
legs_equal "$L" "$R" || fail "legs differ after write-zeroes in async mode"
blkdiscard -o $(( 16 << 20 )) -l $(( 1 << 20 )) "$Y" || fail "discard failed"
wait_for_status "$Y" lag_writes 0 60
wait_for_status "$Y" remote insync 60
assert_status "$Y" degraded_by none
legs_equal "$L" "$R" || fail "legs differ after discard in async mode"
