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
#   3. a write that waits for room in a full log keeps its place: an
#      overlapping write after it goes after it, to the log and to the
#      local leg, and the legs end equal.
#   4. the journal fails under a write whose append failed while an
#      earlier append is still in flight: an overlapping write after it
#      (unjournaled now) must wait until it joined the ship queue, or the
#      remote gets the two in the other order.
#   5. a rewrite of a block the remote completed waits for a tail commit
#      that passed the write it overwrites: a replay from the tail on disk
#      would otherwise undo it while the remote holds later writes.  Each
#      of 30 rewrites of one block, after the first, ships only after a
#      superblock write.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
DUMP=$(xrepl_tool xrepl-dump)

ramdisks 4 32
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

# sb_generation: the journal superblock's generation (+1 at every write).
sb_generation() {
	"$DUMP" --journal --json "$J" | python3 -c '
import json, sys
print(json.load(sys.stdin)["superblock"]["generation"])' ||
		fail "xrepl-dump --journal $J"
}

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
	for (( r = 1; r <= 1; r++ )); do
		overlap "$mode-$r"
		wait_for_status "$X" lag_writes 0 60 >/dev/null
		read_at "$L" 0 65536 >"$T_TMP/l"
		read_at "$R" 0 65536 >"$T_TMP/r"
		cmp "$T_TMP/l" "$T_TMP/r" ||
			fail "round $r: the legs differ after overlapping writes"
	done
	log "ok: $(grep -o 'IOPS=[^,]*' "$T_TMP/$mode-1.fio"): the legs equal after the round"
	assert_legs_equal "$L" "$R"
	# Every write journaled: none went unjournaled for want of room.
	must "suspend" dmsetup suspend "$P-x"
	h1=$(seq_head)
	w1=$(status_field "$X" writes)
	assert_eq $(( w1 - w0 )) $(( h1 - h0 )) "entries journaled for the writes"
	must "resume" dmsetup resume "$P-x"
	dm_remove "$P-x"
done

step "a write waiting for room in a full log, then an overlapping one"
# W1 finds the log full and waits for room (congestion block); W2, to the
# same block, comes after it.  When room comes, W1 takes its place in the
# log, its local write stalled; W2 must wait for it, and not be placed
# first nor reach the local leg first.
make_leg jsmall /dev/ram2 4160
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" max_lag_kb 65536 \
	journal "/dev/mapper/$P-jsmall"
wait_for_status "$X" remote insync 60
must "stall the remote" dmsetup suspend "$P-remote"
at_exit_first "dmsetup resume $P-remote 2>/dev/null || true"
# Fill the log (2076 KiB): 1.5 MiB, then as many 4 KiB writes (8 KiB each
# with their header) as the rest holds.  (More would wait for room.)
dd if=/dev/urandom of="$X" bs=512k count=3 seek=2 oflag=direct status=none ||
	fail "the first writes"
used=$(status_field "$X" journal_used_kb)
dd if=/dev/urandom of="$X" bs=4k count=$(( (2076 - used) / 8 )) seek=1024 \
	oflag=direct status=none || fail "the writes that fill the log"
used=$(status_field "$X" journal_used_kb)
log "the log: $used of $(status_field "$X" journal_size_kb) KiB in use"
assert_cmp "$used" -gt $(( 2076 - 8 )) "KiB of the log in use (full)"
must "stall the local leg" dmsetup suspend "$P-local"
at_exit_first "dmsetup resume $P-local 2>/dev/null || true"
head -c 4096 /dev/urandom >"$T_TMP/w1"
head -c 4096 /dev/urandom >"$T_TMP/w2"
lw=$(status_field "$X" lag_waits)
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/w1"
W1=$BG_PID
wait_for_cmp "$X" lag_waits -gt "$lw" 30
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/w2"
W2=$BG_PID
sleep 0.5
assert_status "$X" journal_used_kb "$used"
must "the remote returns" dmsetup resume "$P-remote"
wait_for_cmp "$X" journal_used_kb -lt "$used" 30
sleep 1
must "the local leg returns" dmsetup resume "$P-local"
wait "$W1" || fail "W1 failed"
wait "$W2" || fail "W2 failed"
wait_for_status "$X" lag_writes 0 60
read_at "$L" $(( 7 * 4096 )) 4096 | cmp -s - "$T_TMP/w2" ||
	fail "the local leg does not hold the later write"
assert_legs_equal "$L" "$R"
dm_remove "$P-x"

step "the journal fails with an earlier append in flight: an unjournaled write waits"
# The journal: its first 3 blocks (the superblock, then E's entry) 1 s
# late (5 s on a debug kernel), the rest failing.  E's append is slow; A's fails (the journal
# fails) while E's is in flight, so A joins the ship queue only after E;
# B, to A's block, ships unjournaled, and must not pass A.
Sj=$(dev_sectors /dev/ram3)
dm_create "$P-jfail" "0 24 delay /dev/ram3 0 $(( 1000 * TIME_SCALE ))
24 $(( Sj - 24 )) error"
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" max_lag_kb 65536 \
	journal "/dev/mapper/$P-jfail"
wait_for_status "$X" remote insync 60
head -c 4096 /dev/urandom >"$T_TMP/wa"
head -c 4096 /dev/urandom >"$T_TMP/wb"
kmsg_mark
bg write_at "$X" $(( 100 * 4096 )) 4096
E=$BG_PID
sleep 0.2
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/wa"
A=$BG_PID
dmesg_wait "journal: an append failed" || fail "A's append did not fail"
bg write_at "$X" $(( 7 * 4096 )) 4096 "$T_TMP/wb"
B=$BG_PID
wait "$E" || fail "E failed"
wait "$A" || fail "A failed"
wait "$B" || fail "B failed"
wait_for_status "$X" lag_writes 0 60
read_at "$L" $(( 7 * 4096 )) 4096 | cmp -s - "$T_TMP/wb" ||
	fail "the local leg does not hold the later write"
assert_legs_equal "$L" "$R"
dm_remove "$P-x"

step "a rewrite of a block the remote completed waits for a tail commit"
write_at "$M" 0 $(( 1 << 20 )) /dev/zero
write_at "$J" 0 4096 /dev/zero
XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" max_lag_kb 65536 \
	journal "$J"
wait_for_status "$X" remote insync 60
g0=$(sb_generation)
n=30
fio --name=rewrite --filename="$X" --direct=1 --ioengine=psync --rw=write \
	--bs=4k --size=4k --loops=$n --refill_buffers \
	--output="$T_TMP/rewrite.fio" ||
	fail "fio rewrite failed: $(cat "$T_TMP/rewrite.fio")"
wait_for_status "$X" lag_writes 0 60
g1=$(sb_generation)
log "superblock writes during $n rewrites of one block: $(( g1 - g0 ))"
assert_cmp $(( g1 - g0 )) -ge $(( n - 1 )) \
	"superblock writes (tail commits) for $n rewrites of one block"
assert_legs_equal "$L" "$R"
