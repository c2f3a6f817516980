#!/usr/bin/env bash
# A read that fails on the local leg is retried on the remote when the
# remote holds its regions (receiving writes, not dirty, nothing in
# flight), in every mode: fio verifies data written before the local leg
# started failing a range, and status counts local_read_errors and
# remote_reads.  While the remote is degraded, or the region is dirty, the
# read fails as the local leg failed it.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

meta_legs 32
RB=$(( 1024 * 512 ))
# The local leg fails every I/O in regions 8..15 (4 MiB at 4 MiB).
BAD0=$(( 8 * 1024 )) BADN=$(( 8 * 1024 ))
fail_range() {
	dm_reload "$P-local" "0 $BAD0 linear /dev/ram0 0
$BAD0 $BADN error
$(( BAD0 + BADN )) $(( S - BAD0 - BADN )) linear /dev/ram0 $(( BAD0 + BADN ))"
}
heal() { dm_reload "$P-local" "$(linear_table /dev/ram0)"; }

for mode in sync async; do
	step "$mode: write verified data, in sync"
	XREPL_META=$M XREPL_MODE=$mode xrepl_create x "$L" "$R" region_size 1024 nosync
	X=/dev/mapper/$P-x
	fio_verify "$X" "w-$mode" --rw=write --bs=64k --size=12M --do_verify=0 ||
		fio_check "w-$mode" $?
	wait_for_status "$X" lag_bytes 0 60
	assert_legs_equal "$L" "$R"

	step "$mode: the local leg fails regions 8..15: reads are served by the remote"
	fail_range
	rc=0
	fio_verify "$X" "v-$mode" --rw=write --bs=64k --size=12M --verify_only=1 || rc=$?
	fio_check "v-$mode" "$rc"
	errs=$(status_field "$X" local_read_errors)
	assert_cmp "$errs" -gt 0 "local_read_errors"
	assert_cmp "$(status_field "$X" remote_reads)" -eq "$errs" \
		"every failed read was served by the remote"
	assert_status "$X" degraded_by none

	step "$mode: a read split by both legs completes once"
	# Inside region 8, at SPLIT, each leg splits a read in two (a
	# device-mapper device at a target boundary): the local leg fails
	# the second half, the remote serves the read, itself in two halves.
	SPLIT=$(( BAD0 + 256 ))
	dm_reload "$P-local" "0 $SPLIT linear /dev/ram0 0
$SPLIT $(( S - SPLIT )) error"
	dm_reload "$P-remote" "0 $SPLIT linear /dev/ram1 0
$SPLIT $(( S - SPLIT )) linear /dev/ram1 $SPLIT"
	reads=$(status_field "$X" remote_reads)
	errs=$(status_field "$X" local_read_errors)
	# One 128 KiB read, 64 KiB on each side (the block layer may cut it
	# in two more: every failed piece is read from the remote once).
	dd if="$X" of="$T_TMP/split.read" bs=131072 count=1 skip=$(( SPLIT * 512 - 65536 )) \
		iflag=direct,skip_bytes status=none ||
		fail "the read across the legs' split failed"
	dd if="$R" bs=131072 count=1 skip=$(( SPLIT * 512 - 65536 )) iflag=direct,skip_bytes \
		status=none | cmp - "$T_TMP/split.read" ||
		fail "the read across the legs' split returned other data than the remote holds"
	errs=$(( $(status_field "$X" local_read_errors) - errs ))
	assert_cmp "$errs" -ge 1 "local read errors of the split read"
	assert_eq "$errs" $(( $(status_field "$X" remote_reads) - reads )) \
		"remote reads of the split read (one per failed read: each completed once)"
	dm_reload "$P-remote" "$(linear_table /dev/ram1)"
	fail_range

	step "$mode: remote degraded: the read fails, nothing from the remote"
	must "remote down" dmsetup message "$P-x" 0 remote down
	reads=$(status_field "$X" remote_reads)
	read_at "$X" $(( 9 * RB )) 4096 >/dev/null 2>&1 &&
		fail "a read of a failing range succeeded while the remote was down"
	assert_status "$X" remote_reads "$reads"
	# The resync reads the local leg.
	heal
	must "remote up" dmsetup message "$P-x" 0 remote up
	wait_for_status "$X" remote insync 60

	step "$mode: a dirty region is not read from the remote"
	wait_for_status "$X" marked 0 60
	must "remote down" dmsetup message "$P-x" 0 remote down
	write_at "$X" $(( 2 * RB )) 4096
	write_at "$X" $(( 11 * RB )) 4096
	fail_range
	# The resync may copy one region at once (2, outside the failing
	# range), then one per 512 s: region 11 stays dirty.
	must "slow resync" dmsetup message "$P-x" 0 set resync_rate_kbps 1
	must "remote up" dmsetup message "$P-x" 0 remote up
	wait_for_status "$X" dirty "1/$(regions "$S" 1024)" 30
	assert_status "$X" degraded_by none
	read_at "$X" $(( 11 * RB )) 4096 >/dev/null 2>&1 &&
		fail "a read of a dirty region came from the remote"
	assert_status "$X" remote_reads "$reads"
	heal
	must "resync at full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
	wait_for_status "$X" remote insync 60
	assert_legs_equal "$L" "$R"
	dm_remove "$P-x"
	# A fresh metadata device for the next mode.
	dd if=/dev/zero of="$M" bs=1M count=4 oflag=direct status=none
done
