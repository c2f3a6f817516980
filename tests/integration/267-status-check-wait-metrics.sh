#!/usr/bin/env bash
# xreplctl as admins script it, against the kernel: the status report's
# fields (-o, --units, --reportformat json) parsed back; status --check
# exits 0, 1, 2 or 4 for a device in sync, degraded or resyncing, failed
# (a metadata write failed), or missing; wait returns on the timeout with
# the state, returns once a resync ends (and not before), sleeping on dm
# events rather than polling the status, and returns 3 when the device is
# removed under it; metrics pass promtool and carry the device's state.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v jq >/dev/null || skip "jq not installed"
command -v strace >/dev/null || skip "strace not installed"
PROMTOOL=${XREPL_CACHE:-/root/.cache/dm-xrepl}/tools/promtool
[[ -x "$PROMTOOL" ]] || fail "$PROMTOOL missing (scripts/setup.sh fetches it)"

CTL=$(xrepl_tool xreplctl)
meta_legs 32
RS=1024
T=$(regions "$S" "$RS")
X=/dev/mapper/$P-x
MS=$(dev_sectors "$M")

# metric NAME LABELS: the value of the sample NAME{device="$P-x"LABELS}.
metric() {
	awk -v k="$1{device=\"$P-x\"${2:-}}" '$1 == k { print $2 }' <<<"$metrics"
}

step "in sync: the report's fields, JSON, --check 0, metrics"
ctl_rc 0 "create" create "$P-x" --local "$L" --remote "$R" --meta "$M" --nosync \
	--region-size $(( RS * 512 ))
_DM_DEVS+=("$P-x")
ctl_rc 0 "status -o" status "$P-x" -o name,remote,health,size,total_regions \
	--units b --nosuffix --noheadings --separator ,
assert_eq "$P-x,insync,ok,$(( S * 512 )),$T" "$out" "report fields"
ctl_rc 0 "status json" status --reportformat json -o name,mode,dirty_regions "$P-x"
jq -e --arg n "$P-x" '.report[0].xrepl == [{"name": $n, "mode": "sync", "dirty_regions": "0"}]' \
	<<<"$out" >/dev/null || fail "status --reportformat json: $out"
ctl_rc 0 "status --check, in sync" status --check "$P-x"
ctl_rc 0 "metrics" metrics "$P-x"
metrics=$out
"$PROMTOOL" check metrics <<<"$metrics" || fail "promtool check metrics failed"
assert_eq 0 "$(metric xrepl_health)" "xrepl_health"
assert_eq 1 "$(metric xrepl_remote_state ',state="insync"')" "remote state insync"
assert_eq $(( S * 512 )) "$(metric xrepl_size_bytes)" "xrepl_size_bytes"

step "bad report options and missing devices: errors, nothing on stdout"
ctl_rc 2 "unknown field" status -o name,bogus "$P-x"
assert_eq "" "$out" "stdout of a refused report"
ctl_rc 4 "status --check of a missing device" status --check "$P-none"
assert_eq "" "$out" "stdout of a failed check"
ctl_rc 4 "status --check with a bad option" status --check --bogus
ctl_rc 3 "metrics of a missing device" metrics "$P-none"
assert_eq "" "$out" "stdout of failed metrics"

step "degraded: --check 1, wait times out with the state"
ctl_rc 0 "remote-down" remote-down "$P-x"
write_at "$X" 0 $(( 8 * RS * 512 ))
ctl_rc 1 "status --check, degraded" status --check
ctl_rc 0 "metrics, degraded" metrics "$P-x"
metrics=$out
assert_eq 1 "$(metric xrepl_health)" "xrepl_health"
assert_eq 1 "$(metric xrepl_degraded_by ',reason="admin"')" "degraded_by admin"
assert_eq 0 "$(metric xrepl_degraded_by ',reason="none"')" "degraded_by none"
assert_eq 8 "$(metric xrepl_dirty_regions)" "xrepl_dirty_regions"
assert_eq $(( 8 * RS * 512 )) "$(metric xrepl_out_of_sync_bytes)" "xrepl_out_of_sync_bytes"
t0=$SECONDS
ctl_rc 4 "wait on a degraded remote" wait "$P-x" --timeout 2
assert_cmp $(( SECONDS - t0 )) -ge 1 "seconds wait took"
assert_match "not in sync after 2 s: remote=degraded degraded_by=admin dirty=8/$T" \
	"$(cat "$T_TMP/ctl.err")" "the timeout's message"

step "wait returns once the resync ends, on dm events"
# The whole device dirty, copied at 4 MiB/s: about 8 s of resync.
write_at "$X" 0 $(( S * 512 ))
ctl_rc 0 "slow resync" set "$P-x" resync_rate_kbps 4096
strace -f -e trace=ioctl -o "$T_TMP/wait.strace" "$CTL" wait "$P-x" --timeout 300 \
	>"$T_TMP/wait.out" 2>&1 &
wpid=$!
sleep 1
kill -0 "$wpid" 2>/dev/null || fail "wait returned while the remote was down: $(cat "$T_TMP/wait.out")"
ctl_rc 0 "remote-up" remote-up "$P-x"
assert_status "$X" remote resyncing
rc=0
wait "$wpid" || rc=$?
assert_eq 0 "$rc" "wait's exit status ($(cat "$T_TMP/wait.out"))"
# wait returned: the resync must be over already.
assert_status "$X" remote insync
assert_status "$X" resync_active 0
assert_legs_equal "$L" "$R"
waits=$(grep -c 'DM_DEV_WAIT' "$T_TMP/wait.strace" || true)
statuses=$(grep -c 'DM_TABLE_STATUS' "$T_TMP/wait.strace" || true)
log "wait: $waits event waits, $statuses status reads"
assert_cmp "$waits" -ge 1 "event waits"
# A status per event (down, up, resync start, resync end...), not a poll.
assert_cmp "$statuses" -le $(( waits + 2 )) "status reads"
ctl_rc 0 "wait when in sync already" wait "$P-x"
ctl_rc 0 "status --check, in sync again" status --check "$P-x"

step "wait returns 3 when the device is removed under it"
ctl_rc 0 "remote-down" remote-down "$P-x"
write_at "$X" 0 4096
"$CTL" wait "$P-x" >"$T_TMP/wait2.out" 2>&1 &
wpid=$!
sleep 1
kill -0 "$wpid" 2>/dev/null || fail "wait returned early: $(cat "$T_TMP/wait2.out")"
ctl_rc 0 "remove" remove "$P-x"
for (( i = 0; i < 600; i++ )); do
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$wpid" 2>/dev/null && fail "wait did not return within 60 s of the removal"
rc=0
wait "$wpid" || rc=$?
assert_eq 3 "$rc" "wait's exit status after the removal ($(cat "$T_TMP/wait2.out"))"

step "a failed metadata write: --check 2, health failed"
ctl_rc 0 "create again" create "$P-x" --local "$L" --remote "$R" --meta "$M" \
	--region-size $(( RS * 512 ))
# The metadata remembers the administrator's remote down.
assert_status "$X" degraded_by admin
ctl_rc 0 "remote-up" remote-up "$P-x"
wait_for_status "$X" remote insync 120
# The resync's marks gone: the write below must mark its region anew.
wait_for_status "$X" marked 0 60
dm_reload "$P-meta" "0 $MS error"
at_exit_first "dmsetup load $P-meta --table '0 $MS linear /dev/ram2 0' && dmsetup resume $P-meta"
write_at "$X" $(( 5 * RS * 512 )) 4096
assert_status "$X" meta_failed 1
ctl_rc 2 "status --check, metadata failed" status --check
ctl_rc 0 "health fields" status "$P-x" -o health,health_reason --noheadings --separator ,
assert_eq "failed,meta-failed" "$out" "health and reason"
dm_reload "$P-meta" "0 $MS linear /dev/ram2 0"
