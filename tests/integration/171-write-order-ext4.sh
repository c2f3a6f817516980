#!/usr/bin/env bash
# Write-order fidelity at the remote in async mode, with a file system:
# the remote leg is a dm-log-writes device (over a slow dm-delay remote)
# that records every write reaching it, in order, as in test 170.
# 1. An ext4 file system with fsync-heavy work on the async device: the
#    remote log is replayed up to flushes chosen at random, and each image
#    passes fsck (after its journal is replayed, as a mount would).
# 2. Replication is cut at a random point while ext4 works (the remote's
#    table switched to error): each time the remote image passes fsck,
#    and after "remote up" the resync brings the legs back equal.
# The order of writes and flushes at the remote is what test 170 checks
# on both kernels; this is what a file system makes of it.
# kernels: one
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay
require_target log-writes
command -v e2fsck >/dev/null || skip "e2fsck not installed"

LOGW="$TESTS_DIR/lib/logwrites.py"
ramdisks 4 96
S=$(dev_sectors /dev/ram0)
T=$(regions "$S" 1024)
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

# fsck_image DEV WHAT: replay DEV's ext4 journal, as a mount would, then
# check it read-only; fails the test if e2fsck finds anything.
fsck_image() {
	local dev=$1 what=$2 out rc=0
	e2fsck -E journal_only -p "$dev" >/dev/null 2>&1 || true
	out=$(e2fsck -f -n "$dev" 2>&1) || rc=$?
	if (( rc != 0 )); then
		printf '%s\n' "$out" | sed 's/^/    e2fsck| /' >&2
		fail "$what: e2fsck -f -n exit $rc"
	fi
	log "ok: $what: e2fsck clean"
}

step "ext4 with fsync on the async device; the remote log replayed to flushes"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$X"
mnt=$T_TMP/mnt
mkdir -p "$mnt"
mount "$X" "$mnt"
_MOUNTS+=("$mnt")
sync
must "mark" dmsetup message "$P-rlog" 0 mark mkfs-done
ext4_work() {
	local tag=$1 n=$2 i
	mkdir -p "$mnt/$tag"
	for (( i = 0; i < n; i++ )); do
		dd if=/dev/urandom of="$mnt/$tag/f$i" bs=4k count=$(( 1 + RANDOM % 16 )) \
			conv=fsync status=none
		(( i % 5 == 4 )) && rm -f "$mnt/$tag/f$(( i - 3 ))"
		(( i % 7 == 6 )) && mv "$mnt/$tag/f$(( i - 1 ))" "$mnt/$tag/g$i"
	done
	true
}
ext4_work a 60
umount "$mnt"
unset "_MOUNTS[-1]"
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R" "$S"
dm_remove "$P-x"
dm_remove "$P-remote"
dm_remove "$P-rlog"
# The flushes after mkfs: entries with the flush flag after the mark.
mapfile -t flushes < <(python3 "$LOGW" dump /dev/ram2 |
	awk '/flags=.*mark/ { m = 1 } m && /flags=[a-z|]*flush/ { print $1 }')
log "${#flushes[@]} remote flushes after mkfs"
assert_cmp "${#flushes[@]}" -gt 20 "remote flushes logged"
picks=$(printf '%s\n' "${flushes[@]}" | shuf -n 4 | sort -n | tr '\n' ' ')
log "replaying to the flushes at entries $picks"
for n in $picks; do
	dd if=/dev/zero of=/dev/ram3 bs=1M count=$(( S / 2048 )) status=none
	python3 "$LOGW" replay /dev/ram2 /dev/ram3 --upto $(( n + 1 )) >/dev/null ||
		fail "replay to entry $n"
	fsck_image /dev/ram3 "remote image at flush entry $n"
done

step "replication cut at random points while ext4 works"
make_leg remote "/dev/mapper/$P-rdelay" "$S"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync
mount "$X" "$mnt"
_MOUNTS+=("$mnt")
cut=1
bg ext4_work "c$cut" 100
pid=$BG_PID
at="$(( 1 + RANDOM % 3 )).$(( RANDOM % 10 ))"
sleep "$at"
log "cut $cut after $at s"
dm_reload "$P-remote" "0 $S error"
wait_for_status "$X" remote degraded 60
wait "$pid" || fail "ext4 work after cut $cut failed"
wait_for_status "$X" lag_writes 0 30
dd if=/dev/ram1 of=/dev/ram3 bs=1M status=none
fsck_image /dev/ram3 "remote image at cut $cut"
dm_reload "$P-remote" "$(linear_table "/dev/mapper/$P-rdelay" "$S")"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
umount "$mnt"
unset "_MOUNTS[-1]"
wait_for_status "$X" lag_writes 0 60
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"
fsck_image "$L" "local leg at the end"
