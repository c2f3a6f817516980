#!/usr/bin/env bash
# Async mode against a slow remote (dm-delay, 20 ms writes): writes complete
# at local speed while a lag builds up (lag_writes > 0 seen during the
# run), fio's verified writes and an ext4 workload with fsync succeed, the
# lag drains to zero, every write reached the remote and the legs compare
# equal.  A suspend drains the lag.  The remote failing under async writes
# degrades the pair (the writes not yet sent become dirty regions), and
# "remote up" resyncs the legs equal; so does "remote down" with writes
# queued.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 64
T=$(regions "$S" 1024)
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 20"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
assert_status "$X" mode async
assert_status "$X" lag_writes 0

# max_lag SECONDS: the largest lag_writes seen while a job runs in the
# background (pid in $1); prints it.
max_lag() {
	local pid=$1 max=0 n
	while kill -0 "$pid" 2>/dev/null; do
		n=$(status_field "$X" lag_writes)
		(( n > max )) && max=$n
		sleep 0.2
	done
	echo "$max"
}

step "verified random writes: a lag builds up, then drains"
bg fio_verify "$X" async --rw=randwrite --bssplit=4k/60:16k/20:64k/20 \
	--iodepth=8 --size=24M --offset=4M
pid=$BG_PID
lag=$(max_lag "$pid")
rc=0
wait "$pid" || rc=$?
fio_check async "$rc"
log "largest lag seen: $lag writes"
assert_cmp "$lag" -gt 0 "lag_writes seen during the run"
wait_for_status "$X" lag_writes 0 120
assert_status "$X" lag_bytes 0
assert_status "$X" oldest_lag_ms 0
assert_status "$X" remote insync
assert_status "$X" remote_errors 0
assert_eq "$(status_field "$X" writes)" "$(status_field "$X" remote_writes)" \
	"every write reached the remote"
assert_legs_equal "$L" "$R" "$S"

step "ext4 with fsync on the async device; suspend drains the lag"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$X"
mnt=$T_TMP/mnt
mkdir -p "$mnt"
mount "$X" "$mnt"
_MOUNTS+=("$mnt")
for i in $(seq 1 20); do
	dd if=/dev/urandom of="$mnt/f$i" bs=16k count=4 conv=fsync status=none
done
sync
umount "$mnt"
unset "_MOUNTS[-1]"
dmsetup suspend "$P-x"
assert_status "$X" lag_writes 0
assert_legs_equal "$L" "$R" "$S"
dmsetup resume "$P-x"

step "the remote fails under async writes: degraded, dirty, resynced"
bg fio_verify "$X" fault --rw=randwrite --bs=4k --iodepth=8 --size=24M --offset=32M
pid=$BG_PID
# The remote (20 ms a write) is far behind: the cut finds writes queued.
wait_for_cmp "$X" lag_writes -gt 0 60
dm_reload "$P-remote" "0 $S error"
rc=0
wait "$pid" || rc=$?
fio_check fault "$rc"
wait_for_status "$X" lag_writes 0 60
assert_status "$X" remote degraded
assert_status "$X" degraded_by error
d=$(num_of "$(status_field "$X" dirty)")
assert_cmp "$d" -gt 0 "dirty regions after the failure"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
wait_for_status "$X" lag_writes 0 60
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"

step "remote down while writes are queued: they become dirty regions at once"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 20"
bg fio_verify "$X" down --rw=randwrite --bs=4k --iodepth=8 --size=24M --offset=32M
pid=$BG_PID
wait_for_cmp "$X" lag_writes -gt 0 60
must "remote down" dmsetup message "$P-x" 0 remote down
# Only the writes already sent (at most 32, 20 ms each) are waited for.
wait_for_status "$X" lag_writes 0 10
assert_status "$X" degraded_by admin
rc=0
wait "$pid" || rc=$?
fio_check down "$rc"
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -gt 0 "dirty regions"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
wait_for_status "$X" lag_writes 0 60
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"
