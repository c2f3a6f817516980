#!/usr/bin/env bash
# The remote leg fails (its table is swapped for the error target) while fio
# writes with verification: no error reaches fio, the remote is degraded by
# the error, a dm event is raised, regions become dirty and nothing more is
# sent to the remote.  After repair and "remote up" the legs resync.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

FAULT_TABLE=${FAULT_TABLE:-error}   # 055 reuses this scenario with dm-flakey

ram_legs 64
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x

ev0=$(event_nr "$X")
# A waiter for the next event: it must return once the remote fails.
bg timeout 120 dmsetup wait "$P-x" "$ev0"
waiter=$BG_PID

step "fio (rate limited, verified) with the remote failing under it"
bg fio_verify "$X" faulty --rw=randwrite --bssplit=4k/50:16k/30:64k/20 \
	--iodepth=4 --size=40M --rate=8m
fio_pid=$BG_PID
sleep 2
case $FAULT_TABLE in
error)  fault="0 $S error" ;;
flakey) fault="0 $S flakey /dev/ram1 0 0 1 1 error_writes" ;;
esac
log "remote leg table -> $fault"
dm_reload "$P-remote" "$fault"
rc=0
wait "$fio_pid" || rc=$?
fio_check faulty "$rc"

step "status shows the failure"
assert_status "$X" remote degraded
assert_status "$X" degraded_by error
assert_cmp "$(status_field "$X" remote_errors)" -gt 0 "remote_errors"
assert_status "$X" local_errors 0
dirty=$(num_of "$(status_field "$X" dirty)")
assert_cmp "$dirty" -gt 0 "dirty regions after the failure"
assert_cmp "$dirty" -le "$T" "dirty regions bounded by the region count"
assert_cmp "$(event_nr "$X")" -gt "$ev0" "event number"
if ! wait "$waiter"; then
	fail "dmsetup wait for an event after $ev0 did not return successfully"
fi
log "ok: dmsetup wait returned"

step "while degraded, writes complete and are not sent to the remote"
rw=$(status_field "$X" remote_writes)
w=$(status_field "$X" writes)
# fio wrote the first 40 MiB; region 126 (at 63 MiB) is still clean.
write_at "$X" $(( 63 << 20 )) 65536 || fail "write while degraded failed"
assert_cmp "$(status_field "$X" writes)" -gt "$w" "writes counted while degraded"
assert_eq "$rw" "$(status_field "$X" remote_writes)" "remote_writes while degraded"
assert_status "$X" dirty "$(( dirty + 1 ))/$T"
dirty=$(( dirty + 1 ))

step "repair the remote, remote up, resync"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
ev1=$(event_nr "$X")
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_status "$X" dirty "0/$T"
assert_status "$X" resync "$dirty/$dirty"
assert_status "$X" degraded_by none
assert_cmp "$(event_nr "$X")" -gt "$ev1" "event number after remote up / resync"
assert_legs_equal "$L" "$R"

step "replication works again after the repair"
rw=$(status_field "$X" remote_writes)
write_at "$X" 0 4096
assert_cmp "$(status_field "$X" remote_writes)" -gt "$rw" "remote_writes after repair"
assert_legs_equal "$L" "$R"
