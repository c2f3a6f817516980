#!/usr/bin/env bash
# hold and release: the emergency brake of an async pair with a journal.
#   1. hold: status held=1, a dm event; the writes made since stay off the
#      remote, which keeps its point (the data before the hold); a suspend
#      completes, and a reload keeps the hold; sync mode, a verify and a
#      table in sync mode are refused while held (at load, and at resume
#      for one loaded before the hold)
#   2. release: the remote gets every write, from the log, in order; the
#      resync copies nothing
#   3. the hold outlives the table: removed while held, the journal's
#      superblock says held; created again, the log is replayed held (the
#      remote still lacks the writes), and writes past max_lag_kb join
#      the replay; released, it gets them, and nothing is copied
#   4. a hold past max_lag_kb: the entries past the memory's half are
#      spilled, held by the log only: no writer waits, the remote does not
#      degrade, a reload keeps them; released, the remote gets them all
#      from the log, and nothing is copied
#   5. writes that fill the log while held do not wait (congestion block
#      or not): the remote degrades, and keeps its point until the release,
#      then returns and is resynced
#   6. hold and release under fio with verification
#   7. bad input: hold in sync mode, while a switch to sync drains, and
#      without a journal
# The legs are loop devices, each under a dm-linear that a suspend stalls.
# kernels: one
# What a hold needs of the kernel (appends, read-backs, suspend and
# reload) runs on both kernels in 280-282.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
DUMP=$(xrepl_tool xrepl-dump)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
loopdisk 3 "$T_TMP/fs"; LOOP_JS=$LOOPDEV
MIB=$(( 1 << 20 ))

# off_remote WHAT OFFSET FILE: the remote leg does not hold FILE there.
off_remote() {
	local n
	n=$(stat -c %s "$3")
	if read_at "$R" "$2" "$n" | cmp -s - "$3"; then
		fail "$1 reached the remote while shipping was held"
	fi
	log "ok: $1 is not on the remote"
}
# on_legs WHAT OFFSET FILE: both legs hold FILE there.
on_legs() {
	local n d
	n=$(stat -c %s "$3")
	for d in "$L" "$R"; do
		read_at "$d" "$2" "$n" | cmp -s - "$3" ||
			fail "$1 is not on ${d##*/}"
	done
}
hold() { must "hold" dmsetup message "$P-x" 0 hold; }
# held_burst MIB OFFSET FILE WHAT: MIB MiB of 4 KiB writes of random data
# (kept in FILE) at OFFSET while held, past max_lag_kb: no writer waits,
# and the remote does not degrade.
held_burst() {
	local lw
	lw=$(status_field "$X" lag_waits)
	head -c $(( $1 * MIB )) /dev/urandom >"$3"
	bg dd if="$3" of="$X" bs=4k seek=$(( $2 / 4096 )) oflag=direct status=none
	bg_done_within 120 "$4"
	assert_status "$X" degraded_by none
	assert_status "$X" lag_waits "$lw"
}
release() { must "release" dmsetup message "$P-x" 0 release; }
# ship_msg MSG HELD LOGGED: MSG (hold or release) sent: status held=HELD,
# the kernel log says LOGGED, and a dm event is raised.
ship_msg() {
	local ev
	ev=$(event_nr "$X")
	kmsg_mark
	"$1"
	assert_status "$X" held "$2"
	assert_dmesg_contains "$3" "the kernel log"
	assert_cmp "$(event_nr "$X")" -gt "$ev" "dm events"
}

step "hold: the remote keeps its point; a suspend and a reload keep the hold"
jx "$J"
wait_for_status "$X" remote insync 60
assert_status "$X" held 0
head -c "$MIB" /dev/urandom >"$T_TMP/a"
write_at "$X" 0 "$MIB" "$T_TMP/a"
wait_for_status "$X" lag_writes 0 60
cp0=$(status_field "$X" copied_regions)
ship_msg hold 1 "journal: shipping held"
head -c "$MIB" /dev/urandom >"$T_TMP/b"
write_at "$X" $(( 8 * MIB )) "$MIB" "$T_TMP/b" || fail "writes while held"
assert_status "$X" lag_writes 256
sleep 1
assert_status "$X" lag_writes 256
off_remote "a write made while held" $(( 8 * MIB )) "$T_TMP/b"
on_legs "the data before the hold" 0 "$T_TMP/a"
jdump
assert_eq True "$(jq_py 'j["superblock"]["held"]')" "the journal's held flag"
bg dmsetup suspend "$P-x"
bg_done_within 30 "a suspend while held"
off_remote "a write made while held (suspended)" $(( 8 * MIB )) "$T_TMP/b"
must "resume" dmsetup resume "$P-x"
assert_status "$X" held 1
table=$(dmsetup table "$P-x")
dm_reload "$P-x" "$table"
assert_status "$X" held 1
sleep 1
off_remote "a write made while held (reloaded)" $(( 8 * MIB )) "$T_TMP/b"
# Refused while held: another mode, a verify, a table in sync mode.
kmsg_mark
dmsetup message "$P-x" 0 mode sync 2>/dev/null &&
	fail "mode sync was accepted while held"
assert_dmesg_contains "cannot change to sync mode: shipping is held" "the kernel log"
dmsetup message "$P-x" 0 verify 2>/dev/null &&
	fail "a verify was accepted while held"
assert_dmesg_contains "cannot verify: shipping is held" "the kernel log"
dmsetup load "$P-x" --table "${table/ async / sync }" 2>/dev/null &&
	fail "a table in sync mode was loaded while held"
assert_dmesg_contains "Journal: held: another mode needs 'release' first" "the kernel log"
assert_status "$X" mode async
# A table in sync mode loaded before the hold: its resume is refused.
release
must "load a table in sync mode" dmsetup load "$P-x" --table "${table/ async / sync }"
hold
head -c "$MIB" /dev/urandom >"$T_TMP/b2"
write_at "$X" $(( 9 * MIB )) "$MIB" "$T_TMP/b2" || fail "writes while held"
dmsetup resume "$P-x" 2>/dev/null &&
	fail "a table in sync mode was resumed while held"
assert_dmesg_contains "cannot resume a table in sync mode: shipping is held" "the kernel log"
# The device stays suspended with it until an async table is loaded.
must "load the async table again" dmsetup load "$P-x" --table "$table"
must "resume" dmsetup resume "$P-x"
assert_status "$X" mode async
assert_status "$X" held 1
off_remote "a write made while held (a resume refused)" $(( 9 * MIB )) "$T_TMP/b2"

step "release: the remote gets the writes from the log; nothing copied"
ship_msg release 0 "journal: shipping released"
wait_for_status "$X" lag_writes 0 60
on_legs "a write made while held" $(( 9 * MIB )) "$T_TMP/b2"
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions "$cp0"
assert_status "$X" degraded_by none
log_empties "entries once released"
jdump
assert_eq False "$(jq_py 'j["superblock"]["held"]')" "the journal's held flag"

step "the hold outlives the table: created again, the log is replayed held"
hold
head -c "$MIB" /dev/urandom >"$T_TMP/c"
write_at "$X" $(( 16 * MIB )) "$MIB" "$T_TMP/c" || fail "writes while held"
dm_remove "$P-x"
assert_eq 256 "$(unshipped)" "entries the removed device left in the log"
jdump
assert_eq True "$(jq_py 'j["superblock"]["held"]')" "the journal's held flag"
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: replaying the log: 256 entries, " "the kernel log"
assert_status "$X" held 1
assert_status "$X" consistent yes
sleep 1
off_remote "a write made while held (created again)" $(( 16 * MIB )) "$T_TMP/c"
assert_status "$X" copied_regions 0
# 4 MiB more, 4 times the bound: they follow the log found, in it only.
must "max_lag_kb 1024" dmsetup message "$P-x" 0 set max_lag_kb 1024
held_burst 4 $(( 40 * MIB )) "$T_TMP/c2" "4 MiB of writes while the log found is held"
assert_status "$X" lag_writes 1
off_remote "writes made while the log found is held" $(( 40 * MIB )) "$T_TMP/c2"
release
wait_for_status "$X" lag_writes 0 120
assert_dmesg_contains "journal: the log is replayed" "the kernel log"
on_legs "a write made while held" $(( 16 * MIB )) "$T_TMP/c"
on_legs "writes made while the log found was held" $(( 40 * MIB )) "$T_TMP/c2"
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions 0
assert_status "$X" consistent yes
dm_remove "$P-x"

step "a hold past max_lag_kb: the log, not the memory, holds the writes"
jx "$J"
wait_for_status "$X" remote insync 60
must "max_lag_kb 1024" dmsetup message "$P-x" 0 set max_lag_kb 1024
cp0=$(status_field "$X" copied_regions)
hold
# 8 MiB of 4 KiB writes, 8 times the bound: 128 are kept in memory (half
# the bound), the others are spilled, held by the log only.  Before, each
# kept a descriptor (1 KiB of the bound), and the remote degraded once
# they filled it.
held_burst 8 $(( 24 * MIB )) "$T_TMP/e" "8 MiB of writes while held, 8 times max_lag_kb"
assert_status "$X" held 1
# The kept ones and the spill, counted as one write.
assert_status "$X" lag_writes 129
assert_cmp "$(status_field "$X" lag_bytes)" -le $(( 1024 * 1024 )) "lag_bytes while held past the bound"
assert_cmp "$(status_field "$X" journal_used_kb)" -ge $(( 16 * 1024 )) "journal_used_kb"
off_remote "writes made while held past the bound" $(( 24 * MIB )) "$T_TMP/e"
# A reload keeps them, and the hold.
dm_reload "$P-x" "$(dmsetup table "$P-x")"
assert_status "$X" held 1
assert_status "$X" degraded_by none
off_remote "writes made while held past the bound (reloaded)" $(( 24 * MIB )) "$T_TMP/e"
release
wait_for_status "$X" lag_writes 0 120
on_legs "the writes made while held past the bound" $(( 24 * MIB )) "$T_TMP/e"
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions "$cp0"
assert_status "$X" consistent yes
assert_status "$X" degraded_by none
dm_remove "$P-x"

step "a full log while held: the remote degrades and keeps its point"
jx "$LOOP_JS"
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
assert_status "$X" degraded_by none
cp0=$(status_field "$X" copied_regions)
ev=$(event_nr "$X")
hold
kmsg_mark
# 4 MiB into a log of 3 MiB, congestion block: the writes do not wait.
head -c $(( 4 * MIB )) /dev/urandom >"$T_TMP/d"
bg write_at "$X" $(( 24 * MIB )) $(( 4 * MIB )) "$T_TMP/d"
bg_done_within 60 "writes past a full log while held"
assert_status "$X" degraded_by congestion
assert_dmesg_contains "replication degraded" "the kernel log"
assert_cmp "$(event_nr "$X")" -gt "$ev" "dm events"
sleep 2
# Held: no return, no copy.
assert_status "$X" degraded_by congestion
assert_status "$X" copied_regions "$cp0"
off_remote "a write made while held (degraded)" $(( 24 * MIB )) "$T_TMP/d"
release
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
assert_cmp "$(status_field "$X" copied_regions)" -gt "$cp0" "regions resynced"
assert_legs_equal "$L" "$R"
assert_status "$X" consistent yes
dm_remove "$P-x"

step "hold and release under fio with verification"
jx "$J"
wait_for_status "$X" remote insync 60
bg fio_verify "$X" held --rw=randwrite --bs=4k --iodepth=8 --size=32M \
	--time_based --runtime=4 --randseed=85
FIO=$BG_PID
sleep 1
hold
sleep 1.5
assert_status "$X" held 1
release
rc=0
wait "$FIO" || rc=$?
fio_check held "$rc"
wait_for_status "$X" lag_writes 0 60
wait_for_status "$X" resync_active 0 60
assert_legs_equal "$L" "$R"

step "bad input: hold in sync mode, while a switch to sync drains, and without a journal"
# Back to async while the switch to sync still drains: no hold until it
# ended (its writes wait for the remote).
stall
write_at "$X" 0 4096 || fail "a write with the remote stalled"
must "mode sync" dmsetup message "$P-x" 0 mode sync
assert_status "$X" draining 1
must "mode async" dmsetup message "$P-x" 0 mode async
kmsg_mark
dmsetup message "$P-x" 0 hold 2>/dev/null && fail "hold was accepted while draining"
assert_dmesg_contains "cannot hold: a switch to sync mode drains the lag" "the kernel log"
unstall
wait_for_status "$X" draining 0 60
must "mode sync" dmsetup message "$P-x" 0 mode sync
kmsg_mark
dmsetup message "$P-x" 0 hold 2>/dev/null && fail "hold was accepted in sync mode"
assert_dmesg_contains "cannot hold: only async mode holds" "the kernel log"
assert_status "$X" held 0
must "mode async" dmsetup message "$P-x" 0 mode async
dm_remove "$P-x"
XREPL_MODE=async xrepl_create x "$L" "$R"
kmsg_mark
dmsetup message "$P-x" 0 hold 2>/dev/null && fail "hold was accepted without a journal"
assert_dmesg_contains "cannot hold: the table has no journal" "the kernel log"
assert_status "$X" held 0
dm_remove "$P-x"
