#!/usr/bin/env bash
# Delayed replication: delay_ms keeps the remote behind on purpose.
#   1. a table with delay_ms 3000: a write is not on the remote before
#      3 s have passed since it was made, and is there soon after;
#      status delay_ms=3000, ship_point_ms the first write's time meanwhile
#   2. a suspend does not wait for the writes the delay holds back; they
#      ship once old enough after the resume
#   3. set delay_ms 0: what was held back ships at once; set delay_ms
#      again delays the next writes; a delay past max_lag_kb: the writes
#      it holds back past the memory's half are spilled to the log, none
#      waits and the remote does not degrade
#   4. the delay outlives the table: set by a message, the device removed
#      with writes held back and created again without delay_ms, the
#      log is replayed delayed; set delay_ms 0 ships it, nothing copied
#   5. bad input: delay_ms without a journal or in another mode, set
#      delay_ms out of range, another mode while delayed
#   6. xreplctl: up from a configuration file with a journal and
#      delay_ms (the table names both; a write waits); adjust sets the
#      delay the file says, leaves it when the file says none, takes it
#      to 0 before another mode (and sets it after the mode going back
#      to async), refuses another mode while held, changing nothing, and
#      refuses another journal
# The legs are loop devices, each under a dm-linear that a suspend stalls.
# kernels: one
# What a delay needs of the kernel (appends, read-backs, suspend) runs
# on both kernels in 280-282.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
DUMP=$(xrepl_tool xrepl-dump)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
# 16 writes of 4 KiB: made well within the delay, even under emulation.
SZ=$(( 64 << 10 ))
MIB=$(( 1 << 20 ))

# on_remote OFFSET FILE: does the remote leg hold FILE there?
on_remote() { read_at "$R" "$1" "$(stat -c %s "$2")" | cmp -s - "$2"; }
# seen_after OFFSET FILE T0 SECS: the ms from T0 (ms since the epoch) until
# the remote holds FILE at OFFSET, polled; fails after SECS.
seen_after() {
	local i
	for (( i = 0; i < $4 * 10; i++ )); do
		if on_remote "$1" "$2"; then
			echo $(( $(date +%s%3N) - $3 ))
			return
		fi
		sleep 0.1
	done
	fail "the remote did not get the write within $4 s"
}

step "delay_ms 3000: a write reaches the remote 3 s after it was made"
jx "$J" delay_ms 3000
wait_for_status "$X" remote insync 60
assert_status "$X" delay_ms 3000
head -c "$SZ" /dev/urandom >"$T_TMP/a"
t0=$(date +%s%3N)
write_at "$X" 0 "$SZ" "$T_TMP/a" || fail "writes with a delay"
t1=$(date +%s%3N)
# Unless the guest's clock stepped past the delay meanwhile (emulation).
if on_remote 0 "$T_TMP/a" && (( $(date +%s%3N) - t0 < 3000 )); then
	fail "a write reached the remote before its delay"
fi
# Held back, unless the delay passed meanwhile (a debug kernel is slow).
lw=$(status_field "$X" lag_writes)
if (( $(date +%s%3N) - t0 < 3000 )); then
	(( lw > 0 )) || fail "no write held back $(( $(date +%s%3N) - t0 )) ms after the first, delay_ms 3000"
fi
pt=$(status_field "$X" ship_point_ms)
# The first write's time: everything before it is on the remote.
(( pt >= t0 && pt <= t1 )) ||
	fail "ship_point_ms=$pt while the writes are held back: not the first one's time ($t0..$t1)"
ms=$(seen_after 0 "$T_TMP/a" "$t0" 30)
log "the remote got the write $ms ms after it was made ($(( t1 - t0 )) ms to make)"
(( ms >= 3000 )) || fail "the remote got the write $ms ms after it was made, delay_ms 3000"
(( ms <= 3000 + (t1 - t0) + 10000 * TIME_SCALE )) ||
	fail "the remote got the write only $ms ms after it was made"
wait_for_status "$X" lag_writes 0 30
assert_legs_equal "$L" "$R"

step "a suspend does not wait for what the delay holds back"
head -c "$SZ" /dev/urandom >"$T_TMP/b"
t0=$(date +%s%3N)
write_at "$X" $(( 4 * MIB )) "$SZ" "$T_TMP/b" || fail "writes with a delay"
bg dmsetup suspend "$P-x"
bg_done_within 10 "a suspend with writes held back by the delay"
if on_remote $(( 4 * MIB )) "$T_TMP/b" && (( $(date +%s%3N) - t0 < 3000 )); then
	fail "a write reached the remote before its delay (suspended)"
fi
must "resume" dmsetup resume "$P-x"
ms=$(seen_after $(( 4 * MIB )) "$T_TMP/b" "$t0" 30)
(( ms >= 3000 )) || fail "the remote got the write $ms ms after it was made, delay_ms 3000"
wait_for_status "$X" lag_writes 0 30
assert_legs_equal "$L" "$R"

step "set delay_ms 0 ships what was held back; set again, the delay applies"
must "set delay_ms 60000" dmsetup message "$P-x" 0 set delay_ms 60000
assert_status "$X" delay_ms 60000
head -c "$SZ" /dev/urandom >"$T_TMP/c"
write_at "$X" $(( 8 * MIB )) "$SZ" "$T_TMP/c" || fail "writes with a delay"
sleep 2
on_remote $(( 8 * MIB )) "$T_TMP/c" && fail "a write reached the remote before its delay of 60 s"
must "set delay_ms 0" dmsetup message "$P-x" 0 set delay_ms 0
assert_status "$X" delay_ms 0
wait_for_status "$X" lag_writes 0 30
assert_legs_equal "$L" "$R"
dmsetup table "$P-x" | grep -q " delay_ms 0$" ||
	fail "the table line after set delay_ms 0: $(dmsetup table "$P-x")"

step "a delay past max_lag_kb: what it holds back waits in the log"
# 4 MiB of 4 KiB writes, 4 times the bound, under a delay of 60 s: 128
# are kept in memory, the others are spilled (held by the log only).
# Before, each kept a descriptor (1 KiB of the bound), and the remote
# degraded once they filled it.
must "max_lag_kb 1024" dmsetup message "$P-x" 0 set max_lag_kb 1024
must "set delay_ms 60000" dmsetup message "$P-x" 0 set delay_ms 60000
lw=$(status_field "$X" lag_waits)
cp0=$(status_field "$X" copied_regions)
head -c $(( 4 * MIB )) /dev/urandom >"$T_TMP/s"
dd if="$T_TMP/s" of="$X" bs=4k seek=$(( 40 * MIB / 4096 )) oflag=direct status=none ||
	fail "4 MiB of writes under a delay"
# Not degraded, not even for a while (a congestion ends by itself once
# the lag is empty, and the resync then copies).
assert_status "$X" degraded_by none
assert_status "$X" copied_regions "$cp0"
assert_status "$X" lag_waits "$lw"
assert_status "$X" lag_writes 129
on_remote $(( 40 * MIB )) "$T_TMP/s" && fail "writes reached the remote before their delay of 60 s"
must "set delay_ms 0" dmsetup message "$P-x" 0 set delay_ms 0
wait_for_status "$X" lag_writes 0 60
on_remote $(( 40 * MIB )) "$T_TMP/s" || fail "the writes held back are not on the remote"
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions "$cp0"
assert_status "$X" degraded_by none

step "the delay outlives the table: created again, the log is replayed delayed"
must "set delay_ms 60000" dmsetup message "$P-x" 0 set delay_ms 60000
jdump
assert_eq 60000 "$(jq_py 'j["superblock"]["delay_ms"]')" "the journal's delay_ms"
head -c "$SZ" /dev/urandom >"$T_TMP/d"
write_at "$X" $(( 12 * MIB )) "$SZ" "$T_TMP/d" || fail "writes with a delay"
cp0=$(status_field "$X" copied_regions)
dm_remove "$P-x"
assert_eq 16 "$(unshipped)" "entries the removed device left in the log"
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: replaying the log: 16 entries, " "the kernel log"
assert_status "$X" delay_ms 60000
assert_status "$X" consistent yes
sleep 1
on_remote $(( 12 * MIB )) "$T_TMP/d" && fail "a write reached the remote before its delay (created again)"
must "set delay_ms 0" dmsetup message "$P-x" 0 set delay_ms 0
wait_for_status "$X" lag_writes 0 30
assert_dmesg_contains "journal: the log is replayed" "the kernel log"
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions 0
log "copied_regions before the removal: $cp0"

step "bad input: delay_ms without a journal, in another mode, out of range"
kmsg_mark
dmsetup message "$P-x" 0 set delay_ms 604800001 2>/dev/null &&
	fail "set delay_ms above a week was accepted"
assert_dmesg_contains "Invalid delay_ms" "the kernel log"
dmsetup message "$P-x" 0 set delay_ms 5s 2>/dev/null &&
	fail "set delay_ms 5s was accepted"
must "set delay_ms 1000" dmsetup message "$P-x" 0 set delay_ms 1000
dmsetup message "$P-x" 0 mode sync 2>/dev/null &&
	fail "mode sync was accepted while delayed"
assert_dmesg_contains "cannot change to sync mode: shipping is delayed" "the kernel log"
table=$(dmsetup table "$P-x")
dmsetup load "$P-x" --table "${table/ async / semi-sync }" 2>/dev/null &&
	fail "a table in semi-sync mode was loaded while delayed"
must "set delay_ms 0" dmsetup message "$P-x" 0 set delay_ms 0
must "mode sync" dmsetup message "$P-x" 0 mode sync
dmsetup message "$P-x" 0 set delay_ms 1000 2>/dev/null &&
	fail "set delay_ms was accepted in sync mode"
assert_dmesg_contains "cannot set delay_ms 1000: only async mode delays" "the kernel log"
dm_remove "$P-x"
dmsetup create "$P-y" --table "$(XREPL_MODE=async xrepl_table "$L" "$R" delay_ms 1000)" 2>/dev/null &&
	fail "a table with delay_ms and no journal was created"
assert_dmesg_contains "delay_ms needs a journal" "the kernel log"
XREPL_MODE=async xrepl_create x "$L" "$R"
dmsetup message "$P-x" 0 set delay_ms 1000 2>/dev/null &&
	fail "set delay_ms was accepted without a journal"
assert_dmesg_contains "cannot set delay_ms: the table has no journal" "the kernel log"
assert_status "$X" delay_ms 0
dm_remove "$P-x"

step "xreplctl: a configuration with a journal and a delay; adjust changes the delay"
CTL=$(xrepl_tool xreplctl)
CD=$T_TMP/conf
mkdir -p "$CD"
conf=$CD/$P-x.conf
cat >"$conf" <<CONF
local = $L
remote = $R
meta = $M
mode = async
journal = $J
delay_ms = 60000
max_lag_kb = 65536
CONF
must "xreplctl up" "$CTL" -c "$CD" up "$P-x"
table=$(dmsetup table "$P-x")
[[ "$table" == *" journal $(devno "$J") delay_ms 60000" ]] ||
	fail "the table xreplctl up made: $table"
wait_for_status "$X" remote insync 60
assert_status "$X" delay_ms 60000
head -c "$SZ" /dev/urandom >"$T_TMP/e"
write_at "$X" $(( 20 * MIB )) "$SZ" "$T_TMP/e" || fail "writes with a delay"
sed -i 's/^delay_ms = .*/delay_ms = 0/' "$conf"
out=$("$CTL" -c "$CD" --dry-run adjust "$P-x") || fail "adjust --dry-run: $out"
assert_eq "message $P-x 0 set delay_ms 0" "$out" "adjust --dry-run, a delay of 0"
on_remote $(( 20 * MIB )) "$T_TMP/e" && fail "a write reached the remote before its delay (xreplctl up)"
must "xreplctl adjust" "$CTL" -c "$CD" adjust "$P-x"
assert_status "$X" delay_ms 0
wait_for_status "$X" lag_writes 0 30
assert_legs_equal "$L" "$R"
# A file without delay_ms leaves the delay in effect, as up would.
sed -i '/^delay_ms/d' "$conf"
must "xreplctl set delay_ms 5000" "$CTL" set "$P-x" delay_ms 5000
out=$("$CTL" -c "$CD" adjust "$P-x") || fail "adjust without delay_ms: $out"
assert_eq "$P-x: nothing to change" "$out" "adjust, a file without delay_ms"
assert_status "$X" delay_ms 5000
# Another mode: the delay goes first, which the target requires (once,
# with the file's delay_ms 0 too).
sed -i 's/^mode = .*/mode = semi-sync/' "$conf"
printf 'delay_ms = 0\n' >>"$conf"
out=$("$CTL" -c "$CD" --dry-run adjust "$P-x") || fail "adjust --dry-run: $out"
assert_eq "message $P-x 0 set delay_ms 0
message $P-x 0 mode semi-sync" "$out" "adjust --dry-run, to semi-sync while delayed"
must "xreplctl adjust to semi-sync" "$CTL" -c "$CD" adjust "$P-x"
assert_status "$X" mode semi-sync
assert_status "$X" delay_ms 0
# Back to async with a delay: the mode first, then the delay.
sed -i 's/^mode = .*/mode = async/; s/^delay_ms = .*/delay_ms = 4000/' "$conf"
out=$("$CTL" -c "$CD" --dry-run adjust "$P-x") || fail "adjust --dry-run: $out"
assert_eq "message $P-x 0 mode async
message $P-x 0 set delay_ms 4000" "$out" "adjust --dry-run, to async with a delay"
must "xreplctl adjust to async" "$CTL" -c "$CD" adjust "$P-x"
assert_status "$X" mode async
assert_status "$X" delay_ms 4000
# Held, another mode is refused (the target would), and nothing changes:
# not the delay either.
must "xreplctl hold" "$CTL" hold "$P-x"
sed -i 's/^mode = .*/mode = sync/; /^delay_ms/d' "$conf"
rc=0
"$CTL" -c "$CD" adjust "$P-x" >"$T_TMP/adjust.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "adjust's exit status while held ($(cat "$T_TMP/adjust.out"))"
assert_match "shipping is held: 'xreplctl release $P-x' first; nothing changed" \
	"$(cat "$T_TMP/adjust.out")" "adjust's message while held"
assert_status "$X" mode async
assert_status "$X" delay_ms 4000
assert_status "$X" held 1
must "xreplctl release" "$CTL" release "$P-x"
# The journal only changes with a new table: refused, nothing changed.
sed -i "s|^journal = .*|journal = $LOOP_J|" "$conf"
table0=$(dmsetup table "$P-x")
rc=0
"$CTL" -c "$CD" adjust "$P-x" >"$T_TMP/adjust.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "adjust's exit status with another journal ($(cat "$T_TMP/adjust.out"))"
assert_match "journal: the configuration says $LOOP_J" "$(cat "$T_TMP/adjust.out")" \
	"adjust's message"
assert_eq "$table0" "$(dmsetup table "$P-x")" "the table after a refused adjust"
must "xreplctl down" "$CTL" -c "$CD" down "$P-x"
assert_legs_equal "$L" "$R"
