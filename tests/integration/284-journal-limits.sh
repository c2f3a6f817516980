#!/usr/bin/env bash
# The journal of async mode at its limits, and when it fails:
#   1. a burst of 4 times max_lag_kb, the remote stalled: no congestion,
#      and the memory stays within the bound; the entries past its half
#      are spilled (held by the log only) and read back from the log when
#      they ship, with no resync
#   2. an entry whose data was damaged in the log fails its read-back and
#      the journal: the remote degrades (degraded_by=journal) and returns
#      with a resync; the remote gets every write
#   3. the journal device fails: a dm event, writes go on unjournaled,
#      and the remote gets them all; the point is no longer known; the
#      metadata no longer says the log holds what the remote lacks
#   4. a full log under congestion block: the writes wait (lag_waits),
#      in order, until the remote has the log's entries; every write is
#      journaled, and the remote gets them all; with the remote hung,
#      remote down lets the writes waiting for room go
#   5. a full log under congestion degrade: the remote degrades (an
#      event), writes go on; once the remote has what it was sent, it
#      returns and the resync copies the rest: the legs are equal
# The legs are loop devices, each under a dm-linear that a suspend stalls.
# kernels: one
# What these steps need of the kernel (journal appends and read-backs,
# FUA, flushes, a failed bio) runs on both kernels in 280-282.
# budget: 180
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
DUMP=$(xrepl_tool xrepl-dump)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
loopdisk 3 "$T_TMP/fs"; LOOP_JS=$LOOPDEV
JS=$LOOP_JS
jx "$J"
wait_for_status "$X" remote insync 60

step "a burst of 4 times max_lag_kb: the entries past it are read back from the log"
must "max_lag_kb 1024" dmsetup message "$P-x" 0 set max_lag_kb 1024
lw=$(status_field "$X" lag_waits)
cp0=$(status_field "$X" copied_regions)
# burst SEEK: 1024 writes of 4 KiB at block SEEK with the remote stalled,
# 4 times the bound, each an entry of two blocks; no write waits: 128
# are kept in memory (half the bound), the others are spilled, held by
# the log only (counted as one write).  Before, each of those kept a
# descriptor (1 KiB of the bound), and writers waited once they filled it.
burst() {
	stall
	head -c $(( 1024 * 4096 )) /dev/urandom >"$T_TMP/rb"
	bg dd if="$T_TMP/rb" of="$X" bs=4k seek="$1" oflag=direct status=none
	bg_done_within 60 "4 MiB of writes, 4 times max_lag_kb, the remote stalled"
	assert_status "$X" lag_waits "$lw"
	assert_status "$X" degraded_by none
	assert_status "$X" lag_bytes $(( 128 * 4096 ))
	assert_status "$X" lag_writes 129
	assert_cmp "$(status_field "$X" journal_used_kb)" -ge $(( 1024 * 8 )) "journal_used_kb"
}
kmsg_mark
burst 1024
unstall
wait_for_status "$X" lag_writes 0 60
assert_status "$X" lag_waits "$lw"
# Shipped from the log, not copied by a resync.
assert_status "$X" copied_regions "$cp0"
assert_status "$X" degraded_by none
dmesg_since_mark | grep "journal:" &&
	fail "the kernel logged a journal message for a clean read-back"
assert_legs_equal "$L" "$R"
lw=$(status_field "$X" lag_waits)

step "an entry damaged in the log: the journal fails, the remote degrades and returns"
ev=$(event_nr "$X")
cp0=$(status_field "$X" copied_regions)
h0=$(jhead)
burst 2048
# Damage the data of the burst's entry 200: its read-back fails its
# checksum.  The entries after it are given up on, and resynced.
jdump
bad=$(jq_py "[e['block'] for e in j['entries'] if e['seq'] == $(( h0 + 199 ))][0]")
head -c 4096 /dev/urandom >"$T_TMP/junk"
write_at "$J" $(( (bad + 1) * 4096 )) 4096 "$T_TMP/junk" ||
	fail "cannot damage the log"
kmsg_mark
unstall
wait_for_status "$X" lag_writes 0 60
assert_dmesg_contains "journal: entry $(( h0 + 199 )) at block $bad: data checksum mismatch" "the kernel log"
assert_eq 1 "$(dmesg_since_mark | grep -c 'journal: entry ')" \
	"entries that failed their read-back"
assert_dmesg_contains "journal: a read-back failed" "the kernel log"
assert_dmesg_contains "writes only in the log: degraded until a resync" "the kernel log"
assert_cmp "$(event_nr "$X")" -gt "$ev" "dm events"
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
assert_cmp "$(status_field "$X" copied_regions)" -gt "$cp0" "regions resynced"
assert_legs_equal "$L" "$R"
assert_status "$X" consistent yes
assert_status "$X" degraded_by none
dm_remove "$P-x"
jx "$J"
wait_for_status "$X" remote insync 60

step "the journal device fails: an event; writes go on, the remote gets them"
# The metadata vouches for the log while the journal is in use.
"$DUMP" "$M" | grep -q '^  flags: .*journaled' ||
	fail "the metadata does not say journaled: $("$DUMP" "$M" | grep flags)"
ev=$(event_nr "$X")
kmsg_mark
dm_reload "$P-jnl" "0 $(dev_sectors "$J") error"
write_at "$X" $(( 2 << 20 )) $(( 1 << 20 )) || fail "writes after the journal failed"
assert_dmesg_contains "journal: an append failed" "the kernel log"
assert_cmp "$(event_nr "$X")" -gt "$ev" "dm events"
assert_status "$X" ship_point_ms 0
write_at "$X" $(( 3 << 20 )) $(( 1 << 20 )) || fail "writes with the journal failed"
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
# No longer: marks went without the log, which a load must not replay.
"$DUMP" "$M" | grep -q '^  flags: .*journaled' &&
	fail "the metadata still says journaled after the journal failed"
dm_reload "$P-jnl" "$(linear_table "$LOOP_J")"

step "a full log, congestion block: writes wait for room, every one journaled"
jx "$JS"
wait_for_status "$X" remote insync 60
h0=$(jhead "$JS")
lw=$(status_field "$X" lag_waits)
stall
# 64 writes of 64 KiB (17 blocks each) into a log of 767 blocks: 45 fit.
bg dd if=/dev/urandom of="$X" bs=64k count=64 seek=256 oflag=direct status=none
D=$BG_PID
wait_for_cmp "$X" lag_waits -gt "$lw" 60
sleep 1
kill -0 "$D" 2>/dev/null && wr=waiting || wr=ended
assert_eq waiting "$wr" "the writer, the log full and the remote stalled"
assert_eq 45 "$(unshipped "$JS")" "entries in the small log"
assert_status "$X" lag_writes 46
unstall
wait "$D" || fail "the writes that waited for room"
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
assert_eq $(( h0 + 64 )) "$(jhead "$JS")" "the log's head: every write journaled"
assert_status "$X" degraded_by none

step "remote down lets the writes waiting for room go, the remote hung"
for (( i = 0; i < 50; i++ )); do
	[[ "$(unshipped "$JS")" == 0 ]] && break
	sleep 0.2
done
lw=$(status_field "$X" lag_waits)
stall
bg dd if=/dev/urandom of="$X" bs=64k count=64 seek=768 oflag=direct status=none
wait_for_cmp "$X" lag_waits -gt "$lw" 60
# The log's entries were sent to the remote, which never answers: no
# tail commit can make room.
must "remote down" dmsetup message "$P-x" 0 remote down
bg_done_within 30 "the writes waiting for room, after remote down"
assert_status "$X" degraded_by admin
unstall
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"

step "a full log, congestion degrade: the remote degrades, writes go on; it returns"
must "congestion degrade" dmsetup message "$P-x" 0 set congestion degrade
stall
ev=$(event_nr "$X")
kmsg_mark
bg dd if=/dev/urandom of="$X" bs=64k count=64 seek=512 oflag=direct status=none
bg_done_within 60 "64 writes, the log full, under congestion degrade"
assert_status "$X" degraded_by congestion
assert_dmesg_contains "journal full, replication degraded" "the kernel log"
assert_cmp "$(event_nr "$X")" -gt "$ev" "dm events"
unstall
wait_for_status "$X" remote insync 60
wait_for_status "$X" lag_writes 0 60
wait_for_status "$X" resync_active 0 60
assert_legs_equal "$L" "$R"
assert_status "$X" consistent yes
dm_remove "$P-x"
