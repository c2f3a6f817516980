#!/usr/bin/env bash
# Marks cleared by the journal's log: while the journal is in use, the
# cleaner clears a region's mark once its writes are durable in the log,
# whether or not the remote has them; whatever the remote no longer gets
# from the log becomes dirty and is marked on disk again.
#   1. with the remote stalled, the marks of 4 writes go once the log
#      holds them (durable_seq recorded); a crash then (the log, the
#      metadata and the remote put back as they were): the log is
#      replayed, the remote stays consistent, nothing is resynced, and
#      the legs end equal
#   2. entries given up on after their marks went by the log (remote
#      down, the remote stalled): their regions are marked on disk again
#      before a tail commit takes them out of the log
#   3. the remote completes writes but its flushes hang, their marks go
#      by the log; it degrades (remote down): its unflushed writes'
#      regions become dirty at once, and are marked on disk before the
#      tail passes them
#   4. a crash as in 1, the device created in sync mode with the remote
#      stalled: the replay waits for it, writes drain behind it; remote
#      down stops it, and the regions of the log become dirty; remote up
#      resyncs them
#   5. that crash again, the device created without its journal: the
#      metadata relied on the log, which is gone, so every region is
#      resynced
# The legs are loop devices (a volatile write cache, so that flushes
# reach the target), each under a dm-linear that a suspend stalls.
# kernels: one
# Which regions stay marked is the target's own logic; the journal and
# metadata I/O it issues (appends, superblock writes with PREFLUSH and
# FUA, tail commits, bitmap writes) runs on both kernels in 280-282 and
# 110-125 and 250-259.
# budget: 180
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay
DUMP=$(xrepl_tool xrepl-dump)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
# Its waits for marks to go take a second or two each, not 5 to 10.
fast_cleaner 1000

jx "$J"
wait_for_status "$X" remote insync 60

step "marks go once the log holds the writes; after a crash, the log is replayed"
# A region not written for a cleaning interval (1 s here) loses its mark once
# its writes' entries are durable in the log, the remote stalled: the
# log carries what the remote lacks.
wait_for_status "$X" marked 0 60
stall
declare -a far=(3000 6000 9000 12000)
for b in "${far[@]}"; do
	write_at "$X" $(( b * 4096 )) 4096 || fail "write at block $b"
done
assert_status "$X" lag_writes ${#far[@]}
assert_cmp "$(status_field "$X" marked)" -gt 0 "regions marked after the writes"
wait_for_status "$X" marked 0 60
assert_status "$X" lag_writes ${#far[@]}
jdump
assert_cmp "$(jq_py 'j["superblock"]["durable_seq"]')" -ge \
	"$(jq_py 'j["entries"][-1]["seq"]')" "durable_seq, against the last entry"
# A crash now: the metadata, the log and the remote as they are.
crash_copy 1 "$M" "$J" "$LOOP_R"
unstall
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
crash_restore 1 "$M" "$J" "$LOOP_R"
cmp -s "$L" "$R" && fail "the legs are equal: the remote put back has the writes"
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: replaying the log: ${#far[@]} entries, 0 regions rolled" "the kernel log"
assert_status "$X" consistent yes
wait_for_status "$X" lag_writes 0 60
assert_dmesg_contains "journal: the log is replayed" "the kernel log"
assert_status "$X" remote insync
assert_status "$X" consistent yes
assert_status "$X" copied_regions 0
assert_status "$X" resync_active 0
assert_legs_equal "$L" "$R"

step "entries given up on: their regions marked again before the tail passes them"
# B, C and D wait behind a flush, which waits for A, all in the log, the
# remote stalled; their marks go by the log.  remote down gives B, C and
# D up: their regions become dirty, and must be marked on disk again
# before a tail commit takes their entries out of the log.
wait_for_status "$X" marked 0 60
stall
write_at "$X" $(( 3000 * 4096 )) 4096 || fail "write A"
sync "$X" || fail "flush"
for b in 6000 9000 12000; do
	write_at "$X" $(( b * 4096 )) 4096 || fail "write at block $b"
done
wait_for_status "$X" marked 0 60
must "remote down" dmsetup message "$P-x" 0 remote down
assert_status "$X" dirty 3/128
# A and the flush complete: the tail commit passes every entry.
unstall
log_empties "entries in the log once A and the flush completed"
assert_cmp "$(status_field "$X" marked)" -ge 3 "regions marked on disk, 3 dirty"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"

step "the remote degrades with writes it completed unflushed: their regions dirty"
# The remote completes 4 writes, but its flushes hang: no tail commit
# records them, and their marks go by the log.  Degraded, the remote may
# lose them (it never flushed): once a tail commit passes them, their
# regions must be dirty, and marked on disk.
# No mark left: the cleaner flushed the remote after the resync's copies.
wait_for_status "$X" marked 0 60
S_R=$(dev_sectors "$LOOP_R")
must "the remote's flushes hang" dmsetup load "$P-remote" --table \
	"0 $S_R delay $LOOP_R 0 0 $LOOP_R 0 0 $LOOP_R 0 300000"
must "resume the remote" dmsetup resume "$P-remote"
at_exit_first "dmsetup load $P-remote --table '$(linear_table "$LOOP_R")' && dmsetup resume $P-remote"
for b in 3100 6100 9100 12100; do
	write_at "$X" $(( b * 4096 )) 4096 || fail "write at block $b"
done
wait_for_status "$X" lag_writes 0 60
wait_for_status "$X" marked 0 60
assert_status "$X" dirty 0/128
must "remote down" dmsetup message "$P-x" 0 remote down
# Dirty as it degrades, not only once a tail commit passes them: the
# remote may come back first.
assert_status "$X" dirty 4/128
log_empties "entries in the log once degraded"
assert_cmp "$(status_field "$X" marked)" -ge 4 "regions marked on disk, 4 dirty"
must "the remote's flushes return" dmsetup load "$P-remote" --table "$(linear_table "$LOOP_R")"
must "resume the remote" dmsetup resume "$P-remote"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"

step "the replay waits for a stalled remote; remote down stops it, its regions dirty"
wait_for_status "$X" marked 0 60
stall
declare -a far4=(3200 6200 9200 12200)
for b in "${far4[@]}"; do
	write_at "$X" $(( b * 4096 )) 4096 || fail "write at block $b"
done
wait_for_status "$X" marked 0 60
crash_copy 4 "$M" "$J" "$LOOP_R"
unstall
wait_for_status "$X" lag_writes 0 60
dm_remove "$P-x"
crash_restore 4 "$M" "$J" "$LOOP_R"
stall
kmsg_mark
MODE=sync jx "$J"
assert_dmesg_contains "journal: replaying the log: ${#far4[@]} entries, 0 regions rolled" "the kernel log"
# The replay holds the lag while its entries wait for the remote, and
# writes in sync mode queue behind it.
assert_status "$X" lag_writes 1
assert_status "$X" draining 1
assert_status "$X" dirty 0/128
must "remote down" dmsetup message "$P-x" 0 remote down
assert_dmesg_contains "journal: the replay stops (degraded): its regions are resynced" "the kernel log"
assert_status "$X" dirty ${#far4[@]}/128
# It ends once the remote is done with the entries it was sent.
assert_status "$X" lag_writes 1
unstall
wait_for_status "$X" lag_writes 0 60
wait_for_status "$X" draining 0 30
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"

step "the log the metadata relies on is gone: every region resynced"
dm_remove "$P-x"
crash_restore 4 "$M" "$J" "$LOOP_R"
cmp -s "$L" "$R" && fail "the legs are equal: the remote put back has the writes"
kmsg_mark
XREPL_MODE=async XREPL_META=$M xrepl_create x "$L" "$R" max_lag_kb 65536
assert_dmesg_contains "journal: the log the metadata relies on is gone: all resynced" "the kernel log"
wait_for_status "$X" remote insync 60
assert_cmp "$(status_field "$X" copied_regions)" -ge ${#far4[@]} "regions copied"
assert_legs_equal "$L" "$R"
