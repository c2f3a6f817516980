#!/usr/bin/env bash
# The lag bound of the asynchronous modes (max_lag_kb).  With a remote
# slower than the writer, "congestion block" keeps the data held for the
# remote within the bound (writers wait: lag_waits grows) and the remote
# in sync; "congestion degrade" drops the buffer into the dirty bitmap
# instead, goes on at local speed, and once the remote has caught up
# replicates again and resyncs the legs equal.
# kernels: one
# The lag bound's accounting is the target's own; the asynchronous
# write path it bounds runs on both kernels in 130, 140 and 252.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 96
T=$(regions "$S" 1024)
MAX_KB=1024
# 100 ms a write: the remote takes at most MAX_KB per 100 ms, 10 MiB/s,
# slower than the writer even on a slow (debug) kernel.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 100"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync max_lag_kb "$MAX_KB"
X=/dev/mapper/$P-x

# watch_lag PID: sample the status while PID runs; prints the largest
# lag_bytes and whether degraded_by=congestion was seen.
watch_lag() {
	local pid=$1 max=0 seen=0 st b
	while kill -0 "$pid" 2>/dev/null; do
		st=$(xrepl_status "$X")
		b=$(sed -n 's/.* lag_bytes=\([0-9]*\).*/\1/p' <<<"$st")
		(( b > max )) && max=$b
		[[ "$st" == *"degraded_by=congestion"* ]] && seen=1
		sleep 0.05
	done
	echo "$max $seen"
}

step "congestion block: the lag stays within max_lag_kb, writers wait"
bg fio_verify "$X" block --rw=randwrite --bssplit=4k/50:64k/50 --iodepth=16 \
	--size=24M --offset=0
pid=$BG_PID
read -r max _ < <(watch_lag "$pid")
rc=0
wait "$pid" || rc=$?
fio_check block "$rc"
log "largest lag: $max bytes (bound $(( MAX_KB * 1024 )))"
assert_cmp "$max" -gt 0 "lag seen"
assert_cmp "$max" -le $(( MAX_KB * 1024 )) "largest lag_bytes"
# The premise: the writer outruns the remote up to the bound.
if (( $(status_field "$X" lag_waits) == 0 && max < MAX_KB * 1024 * 9 / 10 )); then
	skip "the writer never came near the lag bound ($max of $(( MAX_KB * 1024 )) bytes): this machine is too slow for the test's premise"
fi
assert_cmp "$(status_field "$X" lag_waits)" -gt 0 "writes that waited for room"
wait_for_status "$X" lag_writes 0 60
assert_status "$X" degraded_by none
assert_status "$X" remote insync
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R" "$S"

step "congestion degrade: the buffer becomes dirty regions, then a resync"
must "set congestion degrade" dmsetup message "$P-x" 0 set congestion degrade
kmsg_mark
ev=$(event_nr "$X")
bg fio_verify "$X" degrade --rw=randwrite --bs=64k --iodepth=16 --size=32M --offset=32M
pid=$BG_PID
read -r max seen < <(watch_lag "$pid")
rc=0
wait "$pid" || rc=$?
fio_check degrade "$rc"
log "largest lag: $max bytes; degraded_by=congestion seen: $seen"
assert_cmp "$max" -le $(( MAX_KB * 1024 )) "largest lag_bytes"
assert_dmesg_contains "lag bound of $MAX_KB KiB reached, replication degraded" \
	"degradation at the lag bound"
assert_dmesg_contains "caught up: replicating again" "automatic return"
assert_cmp "$(event_nr "$X")" -gt "$ev" "event number after the degradation"
wait_for_status "$X" remote insync 180
wait_for_status "$X" lag_writes 0 60
assert_status "$X" degraded_by none
assert_status "$X" dirty "0/$T"
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R" "$S"
