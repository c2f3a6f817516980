#!/usr/bin/env bash
# xreplctl monitor, active detection: a read of the remote every
# --probe-interval with a --probe-timeout deadline.  A remote that fails
# its reads is taken down (remote down) before any write notices, and one
# that hangs is taken down so that new writes stop waiting for it (fio
# sees no error); when the remote answers again the monitor sends remote
# up, the resync runs and the legs end equal.  A remote the administrator
# took down is left alone.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

CTL=$(xrepl_tool xreplctl)
ram_legs 64
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
hooklog=$T_TMP/hooks.log
cat >"$T_TMP/hook.sh" <<HOOK
#!/bin/sh
echo "\$XREPL_DEVICE \$XREPL_EVENT \$XREPL_REMOTE \$XREPL_DEGRADED_BY" >>"$hooklog"
HOOK
chmod +x "$T_TMP/hook.sh"
: >"$hooklog"
bg "$CTL" monitor "$P-x" --hook "$T_TMP/hook.sh" --probe-interval 200 \
	--probe-timeout 500 --probe-fail 3 --probe-ok 2 2>"$T_TMP/monitor.log"

# wait_event EVENT N: until the hook ran N times for EVENT (20 s at most).
wait_event() {
	local i
	for (( i = 0; i < 200; i++ )); do
		(( $(grep -c " $1 " "$hooklog") >= $2 )) && return 0
		sleep 0.1
	done
	sed 's/^/    hook| /' "$hooklog" >&2
	sed 's/^/    monitor| /' "$T_TMP/monitor.log" >&2
	fail "the hook ran $(grep -c " $1 " "$hooklog") times for $1, expected $2"
}
wait_event watching 1

step "a remote whose reads fail is taken down before any write notices"
t0=$SECONDS
dm_reload "$P-remote" "0 $S error"
wait_for_status "$X" degraded_by admin 20
log "taken down after about $(( SECONDS - t0 )) s"
assert_status "$X" remote_errors 0
wait_event probe-failed 1
wait_event remote-down 1
write_at "$X" $(( 2 << 20 )) 65536

step "it answers again: remote up by the monitor, resync, legs equal"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" remote insync 30
wait_event probe-ok 1
wait_event resync-done 1
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"

step "a remote that hangs: taken down, writes go on without errors"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 10000 /dev/ram1 0 10000"
bg fio_verify "$X" hang --rw=randwrite --bs=4k --iodepth=4 --size=4M --offset=16M
pid=$BG_PID
wait_for_status "$X" degraded_by admin 20
wait_event probe-failed 2
rc=0
wait "$pid" || rc=$?
fio_check hang "$rc"
assert_status "$X" remote degraded
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" remote insync 60
wait_event probe-ok 2
assert_legs_equal "$L" "$R" "$S"

step "a remote the administrator took down stays down"
must "remote down" dmsetup message "$P-x" 0 remote down
sleep 2
assert_status "$X" degraded_by admin
assert_eq 2 "$(grep -c ' probe-ok ' "$hooklog")" "probe-ok hooks"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
