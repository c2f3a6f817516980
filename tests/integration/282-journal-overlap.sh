#!/usr/bin/env bash
# Overlapping writes in flight at once, with a journal: the local leg and
# the log (so the remote) must apply them in one order, or the legs
# differ for good.
#   1. writers on several threads rewrite a few blocks with fresh data,
#      many writes in flight at once, whole or partly overlapping, in
#      rounds; after each, once the remote has caught up, the legs are
#      equal byte for byte.  The journal is a null_blk device with a
#      queue per CPU, one request deep, completing 200 us after
#      submission: a write's append (submitted before its local write, in
#      the writer's thread) waits for its queue, and a write placed later
#      in the log, from the other CPU, may reach the local leg first.
#      Every write was journaled.
#   2. the same in semi-sync mode.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
DUMP=$(xrepl_tool xrepl-dump)

ramdisks 2 32
make_leg local /dev/ram0
make_leg remote /dev/ram1
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
loopdisk 4; M=$LOOPDEV
X=/dev/mapper/$P-x
modprobe null_blk nr_devices=0 2>/dev/null || skip "null_blk is not available"
[[ -d /sys/kernel/config/nullb ]] || skip "null_blk has no configfs"
nb=/sys/kernel/config/nullb/$P-j
mkdir "$nb" || fail "cannot make a null_blk device"
at_exit "rmdir $nb; rmmod null_blk 2>/dev/null || true"
{ echo 32 >"$nb/size" && echo 1 >"$nb/memory_backed" &&
  echo 2 >"$nb/submit_queues" && echo 1 >"$nb/hw_queue_depth" &&
  echo 2 >"$nb/irqmode" && echo 200000 >"$nb/completion_nsec" &&
  echo 1 >"$nb/power"; } || fail "cannot configure the null_blk device"
# No udev in the guest: the node from sysfs.
J=$T_TMP/$P-j
IFS=: read -r jmaj jmin <"/sys/block/$P-j/dev"
mknod "$J" b "$jmaj" "$jmin" || fail "mknod $J failed"

# seq_head: the journal's next sequence number, from its superblock and log.
seq_head() {
	"$DUMP" --journal --json "$J" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["entries"][-1]["seq"] + 1 if j["entries"] else j["superblock"]["tail_seq"])' ||
		fail "xrepl-dump --journal $J"
}

# overlap NAME: four writers, 8 in flight each, 4-16 KiB at random 4 KiB
# offsets in the first 64 KiB, fresh data in every write, for a second.
overlap() {
	fio --name="$1" --filename="$X" --direct=1 --ioengine=libaio \
		--rw=randwrite --bsrange=4k-16k --blockalign=4k --size=64k \
		--iodepth=8 --numjobs=4 --randrepeat=0 --norandommap \
		--refill_buffers --time_based --runtime=1 --group_reporting \
		--output="$T_TMP/$1.fio" || fail "fio $1 failed: $(cat "$T_TMP/$1.fio")"
}

for mode in async semi-sync; do
	step "overlapping writes in flight, $mode: the legs end equal"
	XREPL_MODE=$mode XREPL_META=$M xrepl_create x "$L" "$R" \
		max_lag_kb 65536 journal "$J"
	wait_for_status "$X" remote insync 60
	h0=$(seq_head)
	w0=$(status_field "$X" writes)
	for (( r = 1; r <= 4; r++ )); do
		overlap "$mode-$r"
		wait_for_status "$X" lag_writes 0 60 >/dev/null
		read_at "$L" 0 65536 >"$T_TMP/l"
		read_at "$R" 0 65536 >"$T_TMP/r"
		cmp "$T_TMP/l" "$T_TMP/r" ||
			fail "round $r: the legs differ after overlapping writes"
	done
	log "ok: 4 rounds, $(grep -o 'IOPS=[^,]*' "$T_TMP/$mode-4.fio"): the legs equal after each"
	assert_legs_equal "$L" "$R"
	# Every write journaled: none went unjournaled for want of room.
	must "suspend" dmsetup suspend "$P-x"
	h1=$(seq_head)
	w1=$(status_field "$X" writes)
	assert_eq $(( w1 - w0 )) $(( h1 - h0 )) "entries journaled for the writes"
	must "resume" dmsetup resume "$P-x"
	dm_remove "$P-x"
done
