#!/usr/bin/env bash
# Resync and application writes to the same regions: a newer write must
# never be overwritten at the remote by an older resync copy.
#
# Both legs delay writes (dm-delay, reads undelayed), which opens a wide
# window in which a resync copy could read a region's old data from the
# local leg while a newer write to it is still in flight, and then land that
# old data on the remote after the newer write.  fio hammers the device with
# verified writes while full resyncs run again and again; the last resync
# must finish while fio is still writing, so that nothing re-copies the
# regions afterwards.  Then the legs must be equal.
#
# First, deterministically: a write held for two seconds on the local leg
# while a full resync copies its region.  The resync must wait for it;
# a copy that read the old local data would land it on the remote after
# the write and leave the legs different.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ramdisks 2 16
fill_random /dev/ram0
dd if=/dev/ram0 of=/dev/ram1 bs=1M oflag=direct status=none
S=$(dev_sectors /dev/ram0)
step "a copy waits for the write in flight to its region"
dm_create "$P-dl" "0 $S delay /dev/ram0 0 0 /dev/ram0 0 2000"
make_leg r /dev/ram1
xrepl_create y "/dev/mapper/$P-dl" "/dev/mapper/$P-r" nosync
Y=/dev/mapper/$P-y
# One 64 KiB write, held 2 s (not 16 of 4 KiB, held 2 s each).
dd if=/dev/urandom of="$Y" bs=65536 seek=16 count=1 iflag=fullblock oflag=direct \
	conv=notrunc status=none &
wpid=$!
sleep 0.5
must "resync full" dmsetup message "$P-y" 0 resync full
wait_for_status "$Y" remote insync 30
wait "$wpid" || fail "the held write failed"
assert_legs_equal "/dev/mapper/$P-dl" "/dev/mapper/$P-r"
dm_remove "$P-y"
dm_remove "$P-dl"
dm_remove "$P-r"

ramdisks 2 16
fill_random /dev/ram0
fill_random /dev/ram1
S=$(dev_sectors /dev/ram0)
dm_create "$P-local" "0 $S delay /dev/ram0 0 0 /dev/ram0 0 2"
dm_create "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 2"
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
# Small regions: many copies, each racing with the writes.
xrepl_create x "$L" "$R" region_size 64
X=/dev/mapper/$P-x
# A new pair: the initial full sync runs (or, on a fast machine, is done).
st=$(xrepl_status "$X")
[[ "$st" == *" remote=resyncing "* ||
   ( "$st" == *" remote=insync "* && "$st" == *" copied_regions=$(regions "$S" 64) "* ) ]] ||
	fail "a new pair did not start its full sync: $st"

step "verified random writes while full resyncs run"
fio_verify "$X" hammer --rw=randwrite --bsrange=4k-32k --iodepth=16 \
	--size=$(( S * 512 )) --time_based --runtime=20 --verify_backlog=64 &
fpid=$!
for i in 1 2 3 4; do
	sleep 2
	must "resync full" dmsetup message "$P-x" 0 resync full
	log "resync full #$i: $(xrepl_status "$X")"
done
wait_for_status "$X" remote insync 12
kill -0 "$fpid" 2>/dev/null ||
	skip "fio ended before the last resync finished: this machine is too slow for the test's premise (a resync running under writes)"
log "the last resync finished while fio was still writing"
rc=0; wait "$fpid" || rc=$?
fio_check hammer "$rc"

step "no stale copy won: the legs are equal"
assert_status "$X" remote insync
assert_status "$X" remote_errors 0
assert_legs_equal "$L" "$R"
