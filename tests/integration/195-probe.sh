#!/usr/bin/env bash
# xreplctl monitor, active detection: a read of the remote every
# --probe-interval with a --probe-timeout deadline.  A remote that fails
# its reads is taken down (remote down) before any write notices, and one
# that hangs is taken down so that new writes stop waiting for it (fio
# sees no error); when the remote answers again the monitor sends remote
# up, the resync runs and the legs end equal.  A remote the administrator
# took down is left alone.  A probe that misses its deadline while the
# resync copies regions does not count: that remote is busy, not gone.
# The target records that a probe took the remote down (degraded_by=probe),
# so a monitor started again brings it back.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

CTL=$(xrepl_tool xreplctl)
ram_legs 64
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
hook_setup
# A round is a probe (500 ms deadline) and a pause; on a slower kernel
# (check-debug) the pause grows, so that a round still spans a copy of the
# resync (the "busy, not down" step) while a hang is still found within
# the waits below.
bg "$CTL" monitor "$P-x" --hook "$HOOK" --probe-interval $(( 200 * TIME_SCALE )) \
	--probe-timeout 500 --probe-fail 3 --probe-ok 2 2>"$T_TMP/monitor.log"
mon=$BG_PID

wait_hook_event watching 1 20

step "a remote whose reads fail is taken down before any write notices"
t0=$SECONDS
dm_reload "$P-remote" "0 $S error"
wait_for_status "$X" degraded_by probe 20
log "taken down after about $(( SECONDS - t0 )) s"
assert_status "$X" remote_errors 0
wait_hook_event probe-failed 1 20
wait_hook_event remote-down 1 20
write_at "$X" $(( 2 << 20 )) 65536

step "it answers again: remote up by the monitor, resync, legs equal"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" remote insync 30
wait_hook_event probe-ok 1 20
wait_hook_event resync-done 1 20
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"

step "a remote that hangs: taken down, writes go on without errors"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 10000 /dev/ram1 0 10000"
bg fio_verify "$X" hang --rw=randwrite --bs=4k --iodepth=4 --size=4M --offset=16M
pid=$BG_PID
wait_for_status "$X" degraded_by probe 20
wait_hook_event probe-failed 2 20
rc=0
wait "$pid" || rc=$?
fio_check hang "$rc"
assert_status "$X" remote degraded
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" remote insync 60
wait_hook_event probe-ok 2 20
assert_legs_equal "$L" "$R" "$S"

step "a remote the administrator took down stays down"
must "remote down" dmsetup message "$P-x" 0 remote down
sleep 2
assert_status "$X" degraded_by admin
assert_eq 2 "$(grep -c ' probe-ok ' "$HOOKLOG")" "probe-ok hooks"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60

step "reads slower than the deadline while the resync copies: busy, not down"
pf=$(grep -c ' probe-failed ' "$HOOKLOG")
# The copies run first: reads made slow before them would take the remote
# down before the resync starts, as the next step shows.  A full resync
# at 8 MiB/s takes 8 s.
must "set resync_rate_kbps" dmsetup message "$P-x" 0 set resync_rate_kbps 8192
must "resync full" dmsetup message "$P-x" 0 resync full
# Reads take 2 s (the probe's deadline is 500 ms), writes go at once.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 2000 /dev/ram1 0 0"
assert_status "$X" resync_active 1
# Every region copied proves the monitor left the remote up while the
# copies ran: a take-down ends the resync with regions still dirty, and
# the slow reads never let a probe bring it back (nothing writes, so
# none become dirty).  Once the copies stopped it may be taken down at
# any moment, even before "insync" can be seen (the next step).
wait_for_status "$X" dirty "0/$T" 60
assert_status "$X" resync "$T/$T"

step "the same slow reads once the copies stopped: taken down"
wait_for_status "$X" degraded_by probe 20
wait_hook_event probe-failed $(( pf + 1 )) 20
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R" "$S"

step "a monitor started again brings back a remote an earlier one took down"
dm_reload "$P-remote" "0 $S error"
wait_for_status "$X" degraded_by probe 20
kill "$mon"
wait "$mon" 2>/dev/null || true
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
write_at "$X" $(( 5 << 20 )) 4096
bg "$CTL" monitor "$P-x" --probe-interval 200 --probe-timeout 500 \
	--probe-fail 3 --probe-ok 2 2>"$T_TMP/monitor2.log"
wait_for_status "$X" remote insync 60
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"

step "and leaves a remote the administrator took down alone"
must "remote down" dmsetup message "$P-x" 0 remote down
sleep 2
assert_status "$X" degraded_by admin
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
