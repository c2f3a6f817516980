#!/usr/bin/env bash
# A site never refuses to start its local volume because the other site is
# down: "xreplctl up" creates a device whose remote cannot be opened
# without it (and says so), and the monitor attaches the remote of its
# configuration file once it appears; the attach is compared like any
# connection (a fresh remote site's metadata: a full copy) and the legs end
# up equal.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

CTL=$(xrepl_tool xreplctl)
ramdisks 4 32
make_leg local /dev/ram0
make_leg meta /dev/ram2 8192
L=/dev/mapper/$P-local M=/dev/mapper/$P-meta
R=/dev/mapper/$P-late RM=/dev/mapper/$P-laterm
RB=$(( 1024 * 512 ))
X=/dev/mapper/$P-x
CONF=$T_TMP/conf
mkdir -p "$CONF"
cat >"$CONF/$P-x.conf" <<EOF
local = $L
remote = $R
meta = $M
remote_meta = $RM
mode = sync
EOF

step "up while the remote site is unreachable: the local volume starts without it"
out=$("$CTL" -c "$CONF" up "$P-x" 2>&1) || fail "up failed: $out"
_DM_DEVS+=("$P-x")
log "up said: $out"
assert_match "not reachable: starting without its remote" "$out" "up explains"
assert_status "$X" degraded_by absent
assert_status "$X" peer none
write_at "$X" $(( 1 * RB )) 4096
write_at "$X" $(( 6 * RB )) 4096

step "the monitor attaches the remote when it appears"
bg "$CTL" -c "$CONF" monitor "$P-x" --probe-interval 200 2>"$T_TMP/monitor.log"
T_FAIL_LOGS+=("$T_TMP/monitor.log")
sleep 1
assert_status "$X" degraded_by absent
# The remote appears in steps, as a remote site that is still coming up:
# first a node without a size (a device-mapper device with no table yet),
# then too small (the attach is refused, once), then whole.  The monitor
# neither gives up on the first nor loops on the second.
must "create $P-late without a table" dmsetup create "$P-late" --notable
_DM_DEVS+=("$P-late")
[[ -b "$R" ]] || dmsetup mknodes "$P-late" >/dev/null 2>&1 || true
make_leg laterm /dev/ram3 8192
sleep 2
assert_status "$X" degraded_by absent
grep -q "event=attach" "$T_TMP/monitor.log" &&
	fail "the monitor tried to attach a remote without a size"
log "ok: no attach to a remote without a size"
must "load $P-late (too small)" dmsetup load "$P-late" --table "$(linear_table /dev/ram1 8192)"
must "resume $P-late" dmsetup resume "$P-late"
for _ in $(seq 100); do
	grep -q "event=attach-refused" "$T_TMP/monitor.log" && break
	sleep 0.3
done
grep -q "device=$P-x event=attach-refused" "$T_TMP/monitor.log" ||
	fail "the monitor did not report the refused attach of a too small remote"
sleep 2
assert_eq 1 "$(grep -c "event=attach-refused" "$T_TMP/monitor.log")" \
	"attach-refused reports (once, not in a loop)"
assert_status "$X" degraded_by absent
dm_reload "$P-late" "$(linear_table /dev/ram1)"
wait_for_status "$X" degraded_by none 30
assert_status "$X" peer ok
# xreplctl status shows what the remote site's metadata said.
assert_eq ok "$("$CTL" status --json "$P-x" | jq -r '.devices[0].peer')" "peer in status --json"
assert_match "^$P-x .* ok +[0-9]+/[0-9]+$" "$("$CTL" status "$P-x" | tail -n1)" "PEER in the status row"
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"
grep -q "device=$P-x event=attached" "$T_TMP/monitor.log" ||
	{ sed 's/^/    | /' "$T_TMP/monitor.log" >&2; fail "the monitor did not report the attach"; }
log "ok: the monitor reported the attach"
assert_match "xrepl [0-9]+:[0-9]+ [0-9]+:[0-9]+ .* remote_meta [0-9]+:[0-9]+$" \
	"$(dmsetup table "$P-x")" "the table has the remote and remote_meta"
write_at "$X" $(( 9 * RB )) 4096
assert_legs_equal "$L" "$R"
# The monitor holds the remote open (its probe): stop it, then the device.
kill "$BG_PID" 2>/dev/null || true
wait "$BG_PID" 2>/dev/null || true
dm_remove "$P-x"
