#!/usr/bin/env bash
# The OCF resource agent's protocol, on the host, against stand-ins for
# xreplctl, xrepl-dump and dmsetup (ocf-fake.sh): resource-agents'
# ocf-tester runs its whole sequence (meta-data against the DTD, monitor
# codes, start, promote and demote twice, stop, repeated actions), then
# the monitor's codes are checked for each role: 8 promoted (also with the
# other site refused), 9 promoted with a failed metadata device, an error
# when the state cannot be read, 0 unpromoted, 7 stopped; a primary's
# metadata is demoted at start, but not under a running device; a file
# without "boot = no" is refused; with no usable file, stop still removes
# a running device and monitor still says it runs.  The agent against the
# kernel is integration test 269.
# Prints "ok", or what failed, and exits 1.
#
# Usage: ocf-agent.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
command -v ocf-tester >/dev/null || { echo "ocf-tester missing (resource-agents: scripts/setup.sh)"; exit 1; }
# ocf-tester reads the agent as nobody: a directory everyone can enter.
W=$(mktemp -d /tmp/xrepl-ocf.XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
export FAKE=$W/fake
mkdir -p "$FAKE/dev" "$W/bin" "$W/conf" "$W/agent" "$W/run"
for t in xreplctl xrepl-dump dmsetup; do
	ln -s "$HERE/ocf-fake.sh" "$W/bin/$t"
done
echo secondary >"$FAKE/role"
printf 'local = /dev/ramX\nremote = /dev/nbd9\nmeta = /dev/ramY  # here\nmode = async\nboot = no\n' \
	>"$W/conf/vol.conf"
sed -e "s|@SBINDIR@|$W/bin|g" -e "s|@CONFDIR@|$W/conf|g" "$REPO/userspace/ocf/xrepl.in" \
	>"$W/agent/xrepl"
chmod 755 "$W/agent" "$W/agent/xrepl"
export PATH=$W/bin:$PATH HA_RSCTMP=$W/run

bad=0
if ! ocf-tester -n vol -o name=vol "$W/agent/xrepl" >"$W/tester.out" 2>&1; then
	sed 's/^/    | /' "$W/tester.out"
	echo "ocf-tester failed"
	bad=1
fi
grep -q "xreplctl promote vol --local /dev/ramX --meta /dev/ramY --mode async" "$FAKE/calls" ||
	{ echo "promote did not pass the configuration's devices and mode"; bad=1; }

# act ACTION WANT: the agent's exit status for ACTION.
act() {
	local rc=0
	__OCF_ACTION=$1 OCF_RESKEY_name=vol OCF_RESKEY_CRM_meta_interval=10000 \
		"$W/agent/xrepl" "$1" >/dev/null 2>&1 || rc=$?
	if (( rc != $2 )); then
		echo "$1: exit $rc, wanted $2 ($3)"
		bad=1
	fi
}
act monitor 7 "stopped"
echo primary >"$FAKE/role"
act start 0 "start"
[[ "$(cat "$FAKE/role")" == secondary ]] || { echo "start did not demote a primary's metadata"; bad=1; }
act monitor 0 "unpromoted"
act promote 0 "promote"
grep -q "xreplctl --config-dir $W/conf adjust vol" "$FAKE/calls" ||
	{ echo "promote did not apply the file's options (adjust)"; bad=1; }
act monitor 8 "promoted"
echo 2 >"$FAKE/check"
echo meta-failed >"$FAKE/reason"
act monitor 9 "promoted, its metadata device failed"
: >"$FAKE/calls"
act start 1 "start on a failed primary"
grep -q demote "$FAKE/calls" && { echo "start demoted the metadata of a running device"; bad=1; }
echo peer-refused >"$FAKE/reason"
act monitor 8 "promoted, the other site refused"
echo 4 >"$FAKE/check"
act monitor 1 "promoted, the state cannot be read"
echo 0 >"$FAKE/check"
act demote 0 "demote"
act monitor 0 "unpromoted again"
act stop 0 "stop"
act monitor 7 "stopped again"
sed -i '/^boot/d' "$W/conf/vol.conf"
act validate-all 6 "a file without boot = no"
echo 'boot = no' >>"$W/conf/vol.conf"
act promote 0 "promote"
mv "$W/conf/vol.conf" "$W/vol.conf.away"
act validate-all 5 "no configuration file"
act monitor 8 "a running device without its file"
act stop 0 "stop without a configuration file"
[[ -e "$FAKE/dev/vol" ]] && { echo "stop without a file left the device running"; bad=1; }
act monitor 7 "stopped, without its file"

(( bad == 0 )) && echo ok
exit "$bad"
