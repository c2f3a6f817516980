#!/usr/bin/env bash
# A remote that advertises write-zeroes but answers "not supported" (a loop
# device over a tmpfs file, which has no FALLOC_FL_ZERO_RANGE) is not a
# failed remote: the pair must not degrade.  The caller gets EOPNOTSUPP and
# falls back to writing zeroes; the region is resynced either way, so the
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
