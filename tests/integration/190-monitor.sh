#!/usr/bin/env bash
# xreplctl monitor, passive detection: it waits for the target's dm
# events, logs each change of state in one greppable line, and runs the
# hook once per change with the device and the event in its environment:
# a remote taken down by message and one that fails under writes
# (remote-down), its return (remote-back) and the end of the resync
# (resync-done).  With --lag-kb, a lag that builds up behind a slow remote
# in async mode is reported (lag-high) and so is its end (lag-ok).
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

CTL=$(xrepl_tool xreplctl)
ram_legs 32
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
hook_setup
bg "$CTL" monitor "$P-x" --no-probe --hook "$HOOK" 2>"$T_TMP/monitor.log"
mon=$BG_PID

step "the monitor watches the device"
wait_hooks 1 10
assert_eq "$P-x watching insync none" "$(sed -n 1p "$HOOKLOG")" "first hook"

step "remote down by message, writes, remote up: down, back, resync done"
must "remote down" dmsetup message "$P-x" 0 remote down
wait_hooks 2 10
write_at "$X" $(( 2 << 20 )) 4096
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
wait_hook_event resync-done 1 10
sleep 1
assert_eq "$P-x remote-down degraded admin" "$(sed -n 2p "$HOOKLOG")" "hook 2"
assert_eq "remote-back" "$(sed -n 3p "$HOOKLOG" | cut -d' ' -f2)" "hook 3"
grep -q "^$P-x resync-done insync none$" "$HOOKLOG" || fail "no resync-done hook"
assert_eq 1 "$(grep -c ' remote-down ' "$HOOKLOG")" "remote-down hooks"
assert_eq 1 "$(grep -c ' remote-back ' "$HOOKLOG")" "remote-back hooks"
assert_eq 1 "$(grep -c ' resync-done ' "$HOOKLOG")" "resync-done hooks"

step "the remote fails under writes: remote-down with degraded_by=error"
n=$(wc -l <"$HOOKLOG")
dm_reload "$P-remote" "0 $S error"
write_at "$X" $(( 4 << 20 )) 4096
wait_for_status "$X" degraded_by error 30
wait_hooks $(( n + 1 )) 10
assert_eq "$P-x remote-down degraded error" "$(sed -n "$(( n + 1 ))p" "$HOOKLOG")" "hook after the failure"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
wait_hook_event resync-done 2 10
assert_eq 2 "$(grep -c ' remote-back ' "$HOOKLOG")" "remote-back hooks"
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"

step "log lines: one per change, greppable"
grep -E -q "^xreplctl monitor: device=$P-x event=remote-down remote=degraded degraded_by=admin dirty=[0-9]+/$T lag_kb=0 lag_ms=0$" \
	"$T_TMP/monitor.log" || { cat "$T_TMP/monitor.log" >&2; fail "no remote-down log line"; }
assert_eq "$(wc -l <"$HOOKLOG")" "$(grep -c '^xreplctl monitor: device=.* event=[a-z-]* remote=' "$T_TMP/monitor.log")" \
	"log lines and hook runs"
kill "$mon"
wait "$mon" 2>/dev/null || true

step "lag above --lag-kb in async mode: lag-high once, lag-ok once"
cat >"$T_TMP/lag-hook.sh" <<HOOKEOF
#!/bin/sh
echo "\$XREPL_DEVICE \$XREPL_EVENT \$XREPL_LAG_KB \$XREPL_LAG_MS" >>"$T_TMP/lag.log"
HOOKEOF
chmod +x "$T_TMP/lag-hook.sh"
: >"$T_TMP/lag.log"
must "mode async" dmsetup message "$P-x" 0 mode async
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 1500"
bg "$CTL" monitor "$P-x" --no-events --no-probe --lag-kb 256 --lag-interval 100 \
	--hook "$T_TMP/lag-hook.sh" 2>"$T_TMP/lag-monitor.log"
sleep 1
dd if=/dev/urandom of="$X" bs=64k count=64 seek=128 oflag=direct status=none
for (( i = 0; i < 300; i++ )); do
	grep -q ' lag-ok ' "$T_TMP/lag.log" && break
	sleep 0.1
done
sed 's/^/    lag hook| /' "$T_TMP/lag.log"
read -r dev ev kb ms < <(grep ' lag-high ' "$T_TMP/lag.log")
assert_eq "$P-x lag-high" "$dev $ev" "first lag hook"
(( kb >= 256 )) || fail "lag-high with XREPL_LAG_KB=$kb, below the threshold"
[[ "$ms" =~ ^[0-9]+$ ]] || fail "XREPL_LAG_MS='$ms'"
read -r dev ev kb ms < <(grep ' lag-ok ' "$T_TMP/lag.log") ||
	{ cat "$T_TMP/lag-monitor.log" >&2; fail "no lag-ok within 30 s"; }
(( kb < 128 )) || fail "lag-ok with XREPL_LAG_KB=$kb, not below half the threshold"
assert_eq 2 "$(wc -l <"$T_TMP/lag.log")" "lag hooks"
grep -E -q "^xreplctl monitor: device=$P-x event=lag-high .* lag_kb=[0-9]+ lag_ms=[0-9]+$" \
	"$T_TMP/lag-monitor.log" || { cat "$T_TMP/lag-monitor.log" >&2; fail "no lag-high log line"; }
assert_status "$X" lag_bytes 0
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
assert_legs_equal "$L" "$R" "$S"
