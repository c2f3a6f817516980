#!/usr/bin/env bash
# The Pacemaker resource agent ocf:xrepl:xrepl against the kernel, at
# site B of a pair that site A created and stopped: resource-agents'
# ocf-tester passes its whole sequence (start, promote and demote twice,
# stop, repeated actions) with the installed agent; then, by hand, the
# monitor says 0 unpromoted, 8 promoted, 9 promoted with a failed
# metadata device, 7 stopped; a promote after site A's metadata was
# demoted attaches A as the remote, applies the file's options, and
# resyncs B's writes to A (the legs compare equal), and a demote removes
# the device with B's metadata a secondary's again.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v ocf-tester >/dev/null || fail "ocf-tester missing (resource-agents: scripts/setup.sh)"

site_legs 32
# Site A: data L, metadata M.  Site B: data R, metadata RM.
root=$T_TMP/root
must "make install" make -s -C "$REPO_ROOT/userspace" install O="$REPO_ROOT/userspace" \
	PREFIX="$root/usr" SYSCONFDIR="$root/etc"
CTL=$root/usr/sbin/xreplctl
DUMP=$root/usr/sbin/xrepl-dump
# ocf-tester runs the agent as nobody too: a copy everyone can read.
AGENTDIR=$(mktemp -d /tmp/xrepl-ocf.XXXXXX)
at_exit "rm -rf '$AGENTDIR'"
chmod 755 "$AGENTDIR"
install -m 0755 "$root/usr/lib/ocf/resource.d/xrepl/xrepl" "$AGENTDIR/xrepl"
AGENT=$AGENTDIR/xrepl
export HA_RSCTMP=$T_TMP/run
mkdir -p "$HA_RSCTMP"

step "site A replicates to B, then stops: B's metadata is a consistent secondary's"
fill_random "$L"
must "create at A" "$CTL" create "$P-a" --local "$L" --remote "$R" --meta "$M" --remote-meta "$RM"
_DM_DEVS+=("$P-a")
wait_for_status "/dev/mapper/$P-a" remote insync 120
must "remove at A" "$CTL" remove "$P-a"
assert_match "role: 2 secondary" "$("$DUMP" "$RM")" "B's role"
cat >"$root/etc/xrepl/$P-b.conf" <<CONF
# site B: its data and metadata, and site A's as B reaches them
local = $R
meta = $RM
remote = $L
remote_meta = $M
mode = sync
max_lag_kb = 8192
boot = no
CONF

step "ocf-tester"
if ! ocf-tester -n "$P-b" -o name="$P-b" -o config_dir="$root/etc/xrepl" "$AGENT" \
	>"$T_TMP/tester.out" 2>&1; then
	sed 's/^/    | /' "$T_TMP/tester.out"
	fail "ocf-tester failed"
fi
log "$(tail -n 1 "$T_TMP/tester.out")"
dmsetup info "$P-b" >/dev/null 2>&1 && fail "$P-b still exists after ocf-tester's last stop"

# act ACTION WANT: the agent's exit status for ACTION is WANT.
act() {
	local rc=0
	__OCF_ACTION=$1 OCF_RESKEY_name=$P-b OCF_RESKEY_config_dir=$root/etc/xrepl \
		OCF_RESKEY_CRM_meta_interval=10000 "$AGENT" "$1" >"$T_TMP/act.out" 2>&1 || rc=$?
	if (( rc != $2 )); then
		sed 's/^/    | /' "$T_TMP/act.out"
		fail "agent $1: exit $rc, expected $2"
	fi
	log "ok: agent $1: exit $rc"
}

step "the roles by hand: stopped, unpromoted, promoted with its remote"
act monitor 7
act start 0
act monitor 0
# Site A is demoted (its failback): B's promote can attach it.
assert_match "role: 1 primary" "$("$DUMP" "$M")" "A's role before its demote"
must "demote at A" "$CTL" demote --meta "$M"
act promote 0
act monitor 8
B=/dev/mapper/$P-b
_DM_DEVS+=("$P-b")
# The file's options, not only its devices and mode.
assert_match " max_lag_kb 8192" "$(dmsetup table "$P-b")" "the promoted device's table"
assert_match "role: 1 primary" "$("$DUMP" "$RM")" "B's role once promoted"
wait_for_status "$B" remote insync 120
assert_status "$B" peer ok
write_at "$B" 0 $(( 1024 * 1024 ))
assert_legs_equal "$R" "$L"

step "a failed metadata device: monitor says 9"
MS=$(dev_sectors "$RM")
dm_reload "$P-rmeta" "0 $MS error"
at_exit_first "dmsetup load $P-rmeta --table '0 $MS linear /dev/ram3 0' && dmsetup resume $P-rmeta"
write_at "$B" $(( 9 * 1024 * 512 )) 4096
assert_status "$B" meta_failed 1
act monitor 9
dm_reload "$P-rmeta" "0 $MS linear /dev/ram3 0"
# The next write retries the metadata.
write_at "$B" $(( 9 * 1024 * 512 )) 4096
wait_for_status "$B" meta_failed 0 60
act monitor 8

step "demote: the device is removed, B's metadata a secondary's; stop"
act demote 0
dmsetup info "$P-b" >/dev/null 2>&1 && fail "$P-b still exists after demote"
assert_match "role: 2 secondary" "$("$DUMP" "$RM")" "B's role once demoted"
act monitor 0
act stop 0
act monitor 7
assert_legs_equal "$R" "$L"
