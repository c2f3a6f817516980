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
#   3. a write that found the log full and ships unjournaled is
#      serialised with an overlapping one journaled later: the legs end
#      equal.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
DUMP=$(xrepl_tool xrepl-dump)

ramdisks 3 32
make_leg local /dev/ram0
make_leg remote /dev/ram1
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
loopdisk 4; M=$LOOPDEV
X=/dev/mapper/$P-x
modprobe null_blk nr_devices=0 2>/dev/null || skip "null_blk is not available"
[[ -d /sys/kernel/config/nullb ]] || skip "null_blk has no configfs"
# nullb NAME SETTING=VALUE...: a null_blk device of 32 MiB, kept in
# memory, its node made (no udev in the guest) as $T_TMP/NAME.
nullb() {
	local name=$1 nb=/sys/kernel/config/nullb/$1 kv maj min
	shift
	mkdir "$nb" || fail "cannot make a null_blk device"
	at_exit "rmdir $nb; rmmod null_blk 2>/dev/null || true"
	for kv in size=32 memory_backed=1 "$@"; do
		echo "${kv#*=}" >"$nb/${kv%%=*}" || fail "null_blk $kv"
	done
	echo 1 >"$nb/power" || fail "cannot power the null_blk device on"
	IFS=: read -r maj min <"/sys/block/$name/dev"
	mknod "$T_TMP/$name" b "$maj" "$min" || fail "mknod $T_TMP/$name failed"
}
# The journal: a queue per CPU, one request deep, completing 200 us after
# submission.
nullb "$P-j" submit_queues=2 hw_queue_depth=1 irqmode=2 completion_nsec=200000
J=$T_TMP/$P-j

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
	for (( r = 1; r <= 2; r++ )); do
		overlap "$mode-$r"
		wait_for_status "$X" lag_writes 0 60 >/dev/null
		read_at "$L" 0 65536 >"$T_TMP/l"
		read_at "$R" 0 65536 >"$T_TMP/r"
		cmp "$T_TMP/l" "$T_TMP/r" ||
			fail "round $r: the legs differ after overlapping writes"
	done
	log "ok: 2 rounds, $(grep -o 'IOPS=[^,]*' "$T_TMP/$mode-2.fio"): the legs equal after each"
	assert_legs_equal "$L" "$R"
	# Every write journaled: none went unjournaled for want of room.
	must "suspend" dmsetup suspend "$P-x"
	h1=$(seq_head)
	w1=$(status_field "$X" writes)
	assert_eq $(( w1 - w0 )) $(( h1 - h0 )) "entries journaled for the writes"
	must "resume" dmsetup resume "$P-x"
	dm_remove "$P-x"
done

step "a write that ships unjournaled, then an overlapping one journaled"
# W1 finds the log full and ships unjournaled, its local write stalled;
# the log empties; W2, to the same block, is journaled.  W2 must wait for
# W1: else the remote gets W2 (its append done), then W1 (its local write
# done), while the local leg applied W1, then W2.
make_leg jsmall /dev/ram2 4160
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" max_lag_kb 65536 \
	journal "/dev/mapper/$P-jsmall"
wait_for_status "$X" remote insync 60
must "stall the remote" dmsetup suspend "$P-remote"
at_exit_first "dmsetup resume $P-remote 2>/dev/null || true"
# Fill the log (2076 KiB): three 512 KiB writes, then 4 KiB ones past
# what it holds.
dd if=/dev/urandom of="$X" bs=512k count=3 seek=2 oflag=direct status=none ||
	fail "the first writes"
dd if=/dev/urandom of="$X" bs=4k count=80 seek=1024 oflag=direct status=none ||
	fail "the writes that fill the log"
used=$(status_field "$X" journal_used_kb)
log "the log: $used of $(status_field "$X" journal_size_kb) KiB in use"
assert_cmp "$used" -gt $(( 2076 - 8 )) "KiB of the log in use (full)"
must "stall the local leg" dmsetup suspend "$P-local"
at_exit_first "dmsetup resume $P-local 2>/dev/null || true"
head -c 4096 /dev/urandom >"$T_TMP/w1"
head -c 4096 /dev/urandom >"$T_TMP/w2"
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/w1"
W1=$BG_PID
sleep 0.5
assert_status "$X" journal_used_kb "$used"
must "the remote returns" dmsetup resume "$P-remote"
wait_for_status "$X" journal_used_kb 0 30
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/w2"
W2=$BG_PID
sleep 1
must "the local leg returns" dmsetup resume "$P-local"
wait "$W1" || fail "W1 failed"
wait "$W2" || fail "W2 failed"
wait_for_status "$X" lag_writes 0 60
read_at "$L" $(( 7 * 4096 )) 4096 | cmp -s - "$T_TMP/w2" ||
	fail "the local leg does not hold the later write"
assert_legs_equal "$L" "$R"
