#!/usr/bin/env bash
# A pair created without nosync whose legs hold different data starts with
# every region dirty and copies local -> remote until the legs are equal.
# The remote sits on dm-delay (10 s writes) at first, so the starting state
# can be observed before any region finishes; suspending the delay device
# for the reload releases the held writes at once.  Then the remote is
# taken down while the flush that ends a resync is in flight (dm-delay
# holds flushes): the pair is not called in sync, and on remote up a pass
# with nothing to copy makes it consistent.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ramdisks 2 32
fill_random /dev/ram0
fill_random /dev/ram1
make_leg local /dev/ram0
L=/dev/mapper/$P-local
S=$(dev_sectors "$L")
dm_create "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 10000"
R=/dev/mapper/$P-remote
RS=2048
T=$(regions "$S" "$RS")
local_md5=$(dev_md5 "$L")
if legs_equal "$L" "$R" 2>/dev/null; then
	fail "legs start equal; the test needs different data"
fi

step "create without nosync: all regions dirty, resync running"
xrepl_create x "$L" "$R" region_size "$RS"
X=/dev/mapper/$P-x
# One snapshot, so that the fields are consistent with each other.
st=$(xrepl_status "$X")
log "status right after creation: $st"
for kv in remote=resyncing "dirty=$T/$T" "resync=0/$T" resync_active=1 copied_regions=0; do
	[[ " $st " == *" $kv "* ]] || fail "expected $kv right after creation"
	log "ok: $kv"
done

step "speed the remote up and wait for the initial sync"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0"
wait_for_status "$X" remote insync 120
assert_status "$X" resync "$T/$T"
assert_status "$X" copied_regions "$T"
assert_status "$X" dirty "0/$T"
assert_status "$X" resync_active 0
assert_legs_equal "$L" "$R"
assert_eq "$local_md5" "$(dev_md5 "$L")" "local data unchanged (copied local -> remote)"

step "taken down while the flush that ends a resync is in flight: not called in sync"
# Flushes of the remote now take 30 s (longer than the slowest guest
# takes to see the copies end: a debug kernel under emulation took 9 s);
# reads and writes go at once.  Its disk is a loop device: brd has no
# write cache, so the block layer would drop the flush before dm-delay
# sees it.  The resync copies all.
loopdisk 32
dm_reload "$P-remote" "0 $S delay $LOOPDEV 0 0 $LOOPDEV 0 0 $LOOPDEV 0 30000"
kmsg_mark
must "resync full" dmsetup message "$P-x" 0 resync full
wait_for_status "$X" dirty "0/$T" 30
assert_status "$X" consistent no
must "remote down" dmsetup message "$P-x" 0 remote down
for (( i = 0; i < 5; i++ )); do
	dmesg_wait -F 'resync pass done' >/dev/null && break
done
assert_dmesg_contains "resync pass done, remote not in sync: degraded or dirtied again" \
	"the end of a resync whose remote degraded during its last flush"
if dmesg_since_mark | grep -F 'remote in sync (' >&2; then
	fail "a remote that degraded during the resync's last flush was called in sync"
fi
assert_status "$X" remote degraded
assert_status "$X" consistent no

step "remote up: a pass with nothing to copy flushes it and makes it consistent"
# Flushes at once again (the reload sends the held flush on).
dm_reload "$P-remote" "0 $S delay $LOOPDEV 0 0"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" consistent yes 30
assert_status "$X" remote insync
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R"
