#!/usr/bin/env bash
# Write-order fidelity at the remote in the asynchronous modes.
#
# 1. The remote leg is a dm-log-writes device (over a slow dm-delay
#    remote) that records every write reaching it, in order.  A workload
#    of concurrent 4 KiB writes in epochs ended by fdatasync() or by an
#    O_DSYNC (FUA) write runs on the xrepl device while the mode cycles
#    through async, semi-sync (with a timeout shorter than the remote) and
#    sync; tests/lib/epochs.py then proves from the log that the remote
#    only ever held all of the earlier epochs plus part of the current
#    one, with a flush before each new epoch, and that every write
#    arrived.
# Test 171 runs ext4 over the same chain.
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay
require_target log-writes

EPOCHS="$TESTS_DIR/lib/epochs.py"
ramdisks 4 96
S=$(dev_sectors /dev/ram0)
make_leg local /dev/ram0
dm_create "$P-rdelay" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 5"
# remote_chain: the remote leg, a linear device over log-writes (log on
# ram2) over the delayed ram1.
remote_chain() {
	dm_create "$P-rlog" "0 $S log-writes /dev/mapper/$P-rdelay /dev/ram2"
	make_leg remote "/dev/mapper/$P-rlog" "$S"
}
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
remote_chain

step "epochs of concurrent writes, fdatasync and FUA, modes cycling"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync semi_timeout_ms 2
X=/dev/mapper/$P-x
bg python3 "$EPOCHS" write "$X" "$T_TMP/manifest" --epochs 150 --threads 4 \
	--writes 6 --span $(( 32 << 20 ))
pid=$BG_PID
while kill -0 "$pid" 2>/dev/null; do
	for m in semi-sync sync async; do
		sleep 0.4
		must "mode $m" dmsetup message "$P-x" 0 mode "$m"
	done
done
wait "$pid" || fail "the epoch workload failed"
wait_for_status "$X" draining 0 60
wait_for_status "$X" lag_writes 0 60
assert_status "$X" remote_errors 0
log "semi-sync writes acknowledged on the timeout: $(status_field "$X" semi_timeouts)"
assert_legs_equal "$L" "$R" "$S"
dm_remove "$P-x"
dm_remove "$P-remote"
dm_remove "$P-rlog"
out=$(python3 "$EPOCHS" check /dev/ram2 "$T_TMP/manifest" --complete) ||
	{ printf '%s\n' "$out" | sed 's/^/    epochs| /' >&2; fail "write order at the remote"; }
log "ok: $(tail -n1 <<<"$out")"

