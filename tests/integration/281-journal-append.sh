#!/usr/bin/env bash
# The journal of async mode: every write that ships is appended, in order,
# and shipped from the log's order.
#   1. with the remote stalled, each write is one entry, in sequence order,
#      with its sector and op; its data in the log is the data written,
#      byte for byte; the offline checker finds the log valid; status
#      shows the log's size and use, and the remote's point in time (the
#      first stalled write's)
#   2. a FUA write and a flush are epochs of their own; a discard is
#      journaled as one
#   3. the remote returns: it gets every write (the legs are equal) and a
#      tail commit leaves the log empty, its tail at the head; the point
#      is the last write's; a flush the remote got serves as the next
#      tail commit, which flushes the remote no second time
#   4. fio with verification in async and semi-sync mode: the legs are
#      equal, and the log's tail moved past every entry; a switch to sync
#      drains the lag, the writes meanwhile journaled and waiting for the
#      remote; in sync mode nothing is journaled, back in async mode
#      writes are again
#   5. a log left by a crash (the devices put back as at step 1) is
#      walked and judged when the table loads: the kernel log says how
#      many entries it holds, and where and why it ends (a torn append,
#      the whole entries after it dropped; damage in a header); a log
#      whole, or torn, is replayed with a new incarnation, the remote
#      consistent and nothing resynced; a damaged one is not: every
#      region becomes dirty and is resynced
# The legs are loop devices (a volatile write cache, so that FUA and
# flushes reach the target, and discard), each under a dm-linear that a
# suspend stalls.
# budget: 200
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
CHECK=$(xrepl_tool xrepl-check)
DUMP=$(xrepl_tool xrepl-dump)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
# Its waits for marks to go take a second or two each, not 5 to 10.
fast_cleaner 1000

step "each write is one entry, in order, its data in the log"
jx "$J"
wait_for_status "$X" remote insync 60
# The initial sync's marks gone: the copy of step 5 marks the writes'.
wait_for_status "$X" marked 0 60
assert_eq 0 "$(unshipped)" "entries in a fresh journal"
tail0=$(jq_py 'j["superblock"]["tail_seq"]')
# 32 MiB less the superblock; nothing in use; no write yet.
assert_status "$X" journal_size_kb $(( 32 * 1024 - 4 ))
assert_status "$X" journal_used_kb 0
assert_status "$X" ship_point_ms 0
stall
declare -a offs=(7 3 100 12 55 4 999 31)
t_first=$(date +%s%3N)
for i in "${!offs[@]}"; do
	head -c 4096 /dev/urandom >"$T_TMP/w$i"
	write_at "$X" $(( offs[i] * 4096 )) 4096 "$T_TMP/w$i" ||
		fail "write $i did not complete with the remote stalled"
	(( i == 0 )) && t_second=$(date +%s%3N)
done
t_last=$(date +%s%3N)
# Kept for step 5: the devices as a crash would leave them, the log
# before the cleaner recorded entries durable (it may have by now:
# durable_seq is reset to the tail in the copy).  The metadata first: the
# marks it holds go only once durable_seq covers them.
for d in "$M:meta" "$LOOP_L:local" "$LOOP_R:remote"; do
	dd if="${d%%:*}" of="$T_TMP/crashed-${d##*:}" bs=1M iflag=direct \
		status=none || fail "cannot copy ${d%%:*}"
done
dd if="$J" of="$T_TMP/crashed-jnl" bs=1M iflag=direct status=none ||
	fail "cannot copy the journal"
python3 - "$T_TMP/crashed-jnl" "$TESTS_DIR/userspace" <<'PY' ||
import struct, sys
sys.path.insert(0, sys.argv[2])
from mkjournal import seal
with open(sys.argv[1], "r+b") as f:
    sb = bytearray(f.read(512))
    struct.pack_into("<Q", sb, 112, struct.unpack_from("<Q", sb, 56)[0] - 1)
    f.seek(0)
    f.write(seal(sb))
PY
	fail "cannot reset durable_seq in the copy of the journal"
assert_status "$X" lag_writes ${#offs[@]}
# Each entry a header block and a data block.
assert_status "$X" journal_used_kb $(( ${#offs[@]} * 8 ))
# The remote has every write before the first stalled one, and not it.
pt=$(status_field "$X" ship_point_ms)
(( pt >= t_first && pt <= t_second )) ||
	fail "ship_point_ms=$pt with the remote stalled: not the first stalled write's time ($t_first..$t_second)"
jdump
assert_eq ${#offs[@]} "$(jq_py 'j["unshipped_entries"]')" "entries in the log"
assert_eq valid "$(jq_py 'j["state"]')" "the log's state"
# One line per entry, "seq op sector nr_sectors bytes block" (one Python
# start: each is slow under emulation).
mapfile -t ents < <(jq_py "'\\n'.join(' '.join(str(e[k]) for k in ('seq', 'op', 'sector', 'nr_sectors', 'bytes', 'block')) for e in j['entries'])")
for i in "${!offs[@]}"; do
	read -r seq op sec nr bytes b <<<"${ents[i]}"
	assert_eq $(( tail0 + i )) "$seq" "seq of entry $i"
	assert_eq "write $(( offs[i] * 8 )) 8 4096" "$op $sec $nr $bytes" "entry $i"
	read_at "$J" $(( (b + 1) * 4096 )) 4096 | cmp -s - "$T_TMP/w$i" ||
		fail "entry $i: the log's data is not what was written"
done
must "the offline checker finds the log valid" "$CHECK" --journal --meta "$M" "$J"
"$CHECK" --journal --meta "$M" "$J" | grep -q "valid journal: ${#offs[@]} unshipped entries" ||
	fail "xrepl-check: $("$CHECK" --journal --meta "$M" "$J")"

step "a FUA write and a flush are epochs of their own; a discard is journaled"
write_at "$X" $(( 200 * 4096 )) 4096
dd if=/dev/urandom of="$X" bs=4k seek=201 count=1 oflag=direct,dsync status=none ||
	fail "FUA write"
write_at "$X" $(( 202 * 4096 )) 4096
sync "$X" || fail "flush"
blkdiscard -o $(( 8 << 20 )) -l $(( 1 << 20 )) "$X" || fail "blkdiscard"
jdump
n=${#offs[@]}
ops=$(jq_py "' '.join(e['op'] + ':' + e['op_flags'] for e in j['entries'][$n:])")
log "entries: $ops"
# The flush before the discard.  The O_DSYNC write may be followed by a
# flush of its own: the device does not advertise FUA (loop does not).
[[ "$ops" =~ ^write:none\ write:[a-z,]*fua[a-z,]*\ (flush:preflush\ )?write:none\ flush:[a-z,]*preflush[a-z,]*\ discard: ]] ||
	fail "entries after the writes: $ops"
# Up to the first discard, each entry is an epoch of its own: a plain
# write between two barriers.
ep=$(jq_py "' '.join(str(e['epoch']) for e in j['entries'][$n:] if e['op'] != 'discard')")
prev=0
for e in $ep; do
	(( e > prev )) || fail "epochs around the FUA write and the flush: $ep"
	prev=$e
done
head=$(jq_py 'j["entries"][-1]["seq"] + 1')

step "the remote returns: it gets every write; the log empties"
unstall
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
log_empties "entries left once the remote has them (a tail commit)"
assert_eq "$head" "$(jq_py 'j["superblock"]["tail_seq"]')" "the tail on disk, at the head"
assert_status "$X" journal_used_kb 0
# The log empty: the newest write's time (a write after the stalled ones).
pt=$(status_field "$X" ship_point_ms)
(( pt >= t_last && pt <= $(date +%s%3N) )) ||
	fail "ship_point_ms=$pt once the remote has it all: not the last write's time (after $t_last)"

step "a flush the remote got stands for a tail commit: no flush of its own"
# No mark left to clear (the cleaner flushes the remote when it clears
# some), the tail on disk at the head.
wait_for_status "$X" marked 0 60
# rflushes: the flushes the remote's loop device completed.
rflushes() { awk '{ print $16 }' "/sys/block/${LOOP_R#/dev/}/stat"; }
f0=$(rflushes)
sync "$X" || fail "flush"
for (( i = 0; i < 50; i++ )); do
	jdump
	[[ "$(jq_py 'j["superblock"]["tail_seq"]')" == $(( head + 1 )) ]] && break
	sleep 0.2
done
assert_eq $(( head + 1 )) "$(jq_py 'j["superblock"]["tail_seq"]')" "the tail on disk, past the flush"
assert_eq 1 $(( $(rflushes) - f0 )) "flushes of the remote for a flush and the tail commit after it"

step "fio with verification, async then semi-sync"
rc=0
fio_verify "$X" async --rw=randwrite --bs=4k --iodepth=16 --size=32m \
	--runtime=15 --time_based=0 || rc=$?
fio_check async "$rc"
# Two writers, each fsync()ing after every write: flushes (barrier
# appends) from two tasks at once.
rc=0
fio_verify "$X" fsyncs --rw=randwrite --bs=4k --iodepth=1 --size=8m \
	--numjobs=2 --offset_increment=8m --fsync=1 --runtime=5 \
	--time_based=0 || rc=$?
fio_check fsyncs "$rc"
dm_reload "$P-x" "$(XREPL_MODE=semi-sync XREPL_META=$M xrepl_table "$L" "$R" max_lag_kb 65536 journal "$J")"
assert_status "$X" mode semi-sync
kmsg_mark
if dmsetup message "$P-x" 0 mode periodic 2>/dev/null; then
	fail "mode periodic accepted with a journal"
fi
assert_dmesg_contains "the journal does not go with periodic mode" "mode periodic"
assert_status "$X" mode semi-sync
rc=0
fio_verify "$X" semi --rw=randwrite --bs=16k --iodepth=8 --size=16m \
	--offset=32m --runtime=15 --time_based=0 || rc=$?
fio_check semi "$rc"

step "mode switches: to sync, the lag draining through the log; back to async"
stall
for (( i = 0; i < 8; i++ )); do
	write_at "$X" $(( (300 + i) * 4096 )) 4096 "$T_TMP/w$i" ||
		fail "write $i did not complete with the remote stalled"
done
must "mode sync" dmsetup message "$P-x" 0 mode sync
assert_status "$X" draining 1
# A write now waits for the remote, behind the lag: journaled too.
h0=$(jhead "$J")
bg write_at "$X" $(( 310 * 4096 )) 4096 "$T_TMP/w1"
W=$BG_PID
sleep 1
kill -0 "$W" 2>/dev/null && wr=running || wr=ended
assert_eq running "$wr" "a write during the drain, the remote stalled"
assert_eq $(( h0 + 1 )) "$(jhead "$J")" "the log's head after a write during the drain"
unstall
wait "$W" || fail "the write during the drain failed"
wait_for_status "$X" draining 0 60
assert_status "$X" mode sync
assert_status "$X" lag_writes 0
# In sync mode nothing ships through the log.
h0=$(jhead "$J")
write_at "$X" $(( 311 * 4096 )) 4096 || fail "a write in sync mode"
assert_eq "$h0" "$(jhead "$J")" "the log's head after a write in sync mode"
must "mode async" dmsetup message "$P-x" 0 mode async
write_at "$X" $(( 312 * 4096 )) 4096 || fail "a write back in async mode"
assert_eq $(( h0 + 1 )) "$(jhead "$J")" "the log's head after a write back in async mode"
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
must "suspend" dmsetup suspend "$P-x"
jdump
assert_eq 0 "$(jq_py 'j["unshipped_entries"]')" "entries left after a clean suspend"
t=$(jq_py 'j["superblock"]["tail_seq"]')
assert_cmp "$t" -gt $(( head + 1000 )) "tail_seq after fio (every write journaled)"
must "resume" dmsetup resume "$P-x"
dm_remove "$P-x"

step "a log left by a crash: walked and judged; replayed unless damaged"
# put_crashed_log: the devices of step 1 back, the log on the journal.
put_crashed_log() {
	local d
	for d in "$M:meta" "$LOOP_L:local" "$LOOP_R:remote" "$J:jnl"; do
		dd if="$T_TMP/crashed-${d##*:}" of="${d%%:*}" bs=1M \
			oflag=direct status=none ||
			fail "cannot put ${d%%:*} back as at the crash"
	done
}
# flip_byte OFFSET: one byte of the journal device inverted.
flip_byte() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
b = os.pread(fd, 1, int(sys.argv[2]))
os.pwrite(fd, bytes([b[0] ^ 0xff]), int(sys.argv[2]))
os.fsync(fd)' "$J" "$1" || fail "cannot damage the journal at byte $1"
}
# The blocks of entries 3 and 5 of step 1.
read -r _ _ _ _ _ b3 <<<"${ents[3]}"
read -r _ _ _ _ _ b5 <<<"${ents[5]}"
# Entry 3's data damaged: a torn append there, as after a power cut in
# the middle of it; the 4 whole entries after it are dropped with it.
put_crashed_log
flip_byte $(( (b3 + 1) * 4096 + 17 ))
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: a log from before a crash, entries: 3 (seq $tail0 to $(( tail0 + 2 )))" "the walk of a torn log"
assert_dmesg_contains "journal: a torn append ends the log at entry $(( tail0 + 3 )), block $b3" "the walk of a torn log"
assert_dmesg_contains "journal: whole entries after it, dropped: 4" "the walk of a torn log"
# Torn: the entries before it replayed, the marked regions rolled forward.
assert_dmesg_contains "journal: replaying the log: 3 entries, " "the replay of a torn log"
wait_for_status "$X" lag_writes 0 60
assert_dmesg_contains "journal: the log is replayed" "the replay of a torn log"
assert_status "$X" copied_regions 0
dm_remove "$P-x"
# Entry 5's header damaged: damage, named.
put_crashed_log
flip_byte $(( b5 * 4096 + 100 ))
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: a log from before a crash, entries: 5 (seq $tail0 to $(( tail0 + 4 )))" "the walk of a damaged log"
assert_dmesg_contains "journal: damage at entry $(( tail0 + 5 )), block $b5: header checksum mismatch" "the walk of a damaged log"
assert_dmesg_contains "journal: the log cannot be read whole; every region is resynced" "a damaged log"
dm_remove "$P-x"
# The log whole.
put_crashed_log
assert_eq ${#offs[@]} "$(unshipped)" "entries in the log put back"
inc=$(jq_py 'j["superblock"]["incarnation"]')
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: a log from before a crash, entries: ${#offs[@]} (seq $tail0 to $(( tail0 + ${#offs[@]} - 1 )))" "the walk of the log"
assert_dmesg_contains "journal: its data: 32768 bytes, written over" "the walk of the log"
# Replayed: the remote gets the log, in order, and nothing is resynced.
assert_dmesg_contains "journal: replaying the log: ${#offs[@]} entries, " "the kernel log"
assert_status "$X" consistent yes
wait_for_status "$X" lag_writes 0 60
assert_dmesg_contains "journal: the log is replayed" "the kernel log"
assert_status "$X" copied_regions 0
assert_status "$X" resync_active 0
assert_status "$X" remote insync
assert_legs_equal "$L" "$R"
log_empties "entries in the log once replayed"
jdump
assert_eq $(( inc + 1 )) "$(jq_py 'j["superblock"]["incarnation"]')" "a new incarnation"
write_at "$X" 0 $(( 1 << 20 ))
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
