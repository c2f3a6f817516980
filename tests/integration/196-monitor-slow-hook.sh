#!/usr/bin/env bash
# A slow hook holds up neither the monitor's action nor another device:
# two devices whose remotes fail together, and a hook that sleeps 20 s on
# the first one's probe-failed.  Both remotes are taken down in the usual
# time, the second device's events and hooks come at once, and the
# sleeping hook is killed at --hook-timeout.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

CTL=$(xrepl_tool xreplctl)
ramdisks 4 16
make_leg l1 /dev/ram0
make_leg r1 /dev/ram1
make_leg l2 /dev/ram2
make_leg r2 /dev/ram3
D=/dev/mapper/$P
S=$(dev_sectors "$D-l1")
xrepl_create a "$D-l1" "$D-r1" nosync
xrepl_create b "$D-l2" "$D-r2" nosync
HOOKLOG=$T_TMP/hooks.log HOOK=$T_TMP/hook.sh MLOG=$T_TMP/monitor.log
cat >"$HOOK" <<HOOKEOF
#!/bin/sh
echo "\$XREPL_DEVICE \$XREPL_EVENT" >>"$HOOKLOG"
if [ "\$XREPL_DEVICE" = "$P-a" ] && [ "\$XREPL_EVENT" = probe-failed ]; then
	sleep 20
fi
exit 0
HOOKEOF
chmod +x "$HOOK"
: >"$HOOKLOG"

# log_within SECS REGEX FILE: a line matching REGEX appears in FILE in time.
log_within() {
	local i
	for (( i = 0; i < $1 * 10; i++ )); do
		grep -E -q "$2" "$3" && { log "ok: '$2' after $(( i / 10 )).$(( i % 10 ))s"; return 0; }
		sleep 0.1
	done
	cat "$3" >&2
	fail "no line matching '$2' in $(basename "$3") within $1 s"
}

bg "$CTL" monitor "$P-a" "$P-b" --hook "$HOOK" --hook-timeout 8 \
	--probe-interval 200 --probe-timeout 500 --probe-fail 3 --probe-ok 2 2>"$MLOG"
log_within 20 "^$P-b watching$" "$HOOKLOG"
log_within 20 "^$P-a watching$" "$HOOKLOG"

step "both remotes fail; the first device's hook sleeps"
dm_reload "$P-r1" "0 $S error"
dm_reload "$P-r2" "0 $S error"
wait_for_status "$D-a" degraded_by probe 10
wait_for_status "$D-b" degraded_by probe 10
log_within 5 "device=$P-b event=probe-failed " "$MLOG"
log_within 5 "^$P-b probe-failed$" "$HOOKLOG"
log_within 5 "^$P-b remote-down$" "$HOOKLOG"

step "the sleeping hook is killed at its timeout"
log_within 20 "device=$P-a event=probe-failed hook-timeout seconds=8$" "$MLOG"
log_within 10 "^$P-a remote-down$" "$HOOKLOG"

step "the remotes answer again: both are brought back"
dm_reload "$P-r1" "$(linear_table /dev/ram1)"
dm_reload "$P-r2" "$(linear_table /dev/ram3)"
wait_for_status "$D-a" remote insync 60
wait_for_status "$D-b" remote insync 60
assert_legs_equal "$D-l1" "$D-r1"
assert_legs_equal "$D-l2" "$D-r2"
