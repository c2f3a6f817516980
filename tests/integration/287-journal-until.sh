#!/usr/bin/env bash
# ship_until: rolling the remote of an async pair with a journal to a
# point in time, and holding it there.
#   1. writes made over time while held; ship_until a point between them:
#      the remote gets exactly the writes made before it, block by block,
#      and holds; status ship_until_ms= and ship_point_ms at the point; the
#      journal records the hold, the point and the bound of what the
#      remote has; a point the remote may be past is refused; a later
#      point rolls it further, and a dm event says when the remote is
#      there (the remote stalled until the message's own event is in)
#   2. the point outlives the table: the device removed and created again
#      replays its log held at the point; a later point ships the entries
#      read from the log up to it, and no further (xreplctl ship-until)
#   2b. held at no point and created again: xreplctl ship-until, which
#      waits on dm events, returns when the replay read the entry after
#      the point (the journal's reads slowed so that it waits first), and
#      when the replay ends at a point after its last entry (the remote
#      stalled so that it waits first)
#   3. a point after the last write: the log empties, ship_point_ms is
#      the point; a write made after it waits; hold ends the point
#      (ship_until_ms=0), release ships the rest, nothing copied; a point
#      to come is refused
#   4. bad input: no journal, sync mode, a remote degraded, words and
#      times out of range, a point before the load; a point before sync
#      mode was left (by a message, or by an async table replacing a sync
#      one) is refused, one after it rolls the remote there
#   5. the worked recovery example: ext4, a file deleted while the remote
#      lags by delay_ms; xreplctl hold, xreplctl ship-until the time before
#      the deletion (as a date), which waits (on dm events) until the
#      remote is there;
#      the remote's copy (as the remote site promotes it) passes fsck and
#      holds the file as it was
# The legs are loop devices, each under a dm-linear that a suspend stalls.
# kernels: one
# What it needs of the kernel (appends, read-backs, a replay) runs on
# both kernels in 280-282.
# budget: 240
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed"
DUMP=$(xrepl_tool xrepl-dump)
CTL=$(xrepl_tool xreplctl)

# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
MIB=$(( 1 << 20 ))
U=$(( 32 * MIB ))

now_ms() { date +%s%3N; }
# on_remote I: does the remote hold write I (4 KiB at U + I * 4 KiB)?
on_remote() {
	read_at "$R" $(( U + $1 * 4096 )) 4096 | cmp -s - "$T_TMP/u$1"
}
# remote_holds FIRST LAST: the remote holds writes FIRST..LAST-1 of the 8,
# and none of the others.
remote_holds() {
	local i
	for (( i = $1; i < 8; i++ )); do
		if on_remote "$i"; then
			(( i < $2 )) || fail "write $i, made after the point, is on the remote"
		else
			(( i >= $2 )) || fail "write $i, made before the point, is not on the remote"
		fi
	done
	log "ok: the remote holds writes $1..$(( $2 - 1 )) and none after"
}
# until_msg T: ship_until T accepted; status ship_until_ms=T, held=1, a dm
# event, and the remote reaches the point (ship_point_ms >= T).
until_msg() {
	local ev
	ev=$(event_nr "$X")
	kmsg_mark
	must "ship_until $1" dmsetup message "$P-x" 0 ship_until "$1"
	assert_status "$X" ship_until_ms "$1"
	assert_status "$X" held 1
	assert_dmesg_contains "journal: shipping until $1, then held" "the kernel log"
	events_past "$ev" "a dm event"
	wait_for_cmp "$X" ship_point_ms -ge "$1" 60
}
# events_past N WHAT: the device's event counter passes N within 10 s.
events_past() {
	local i
	for (( i = 0; i < 100; i++ )); do
		(( $(event_nr "$X") > $1 )) && { log "ok: $2"; return; }
		sleep 0.1
	done
	fail "$2: the event counter stayed at $(event_nr "$X")"
}
# refused WHY ARGS...: the message ARGS is refused, the kernel log says WHY.
refused() {
	local why=$1
	shift
	kmsg_mark
	dmsetup message "$P-x" 0 "$@" 2>/dev/null && fail "'$*' was accepted"
	assert_dmesg_contains "$why" "the kernel log"
}

step "ship_until: the remote rolls to a point in time, block by block, and holds"
jx "$J"
wait_for_status "$X" remote insync 60
assert_status "$X" ship_until_ms 0
cp0=$(status_field "$X" copied_regions)
must "hold" dmsetup message "$P-x" 0 hold
# 8 writes of 4 KiB made over time; t[i] is taken between write i-1 and
# write i.
declare -a t
for i in {0..7}; do
	head -c 4096 /dev/urandom >"$T_TMP/u$i"
	sleep 0.05
	t[i]=$(now_ms)
	sleep 0.05
	write_at "$X" $(( U + i * 4096 )) 4096 "$T_TMP/u$i" || fail "write $i while held"
done
assert_status "$X" lag_writes 8
until_msg "${t[4]}"
assert_status "$X" lag_writes 4
remote_holds 0 4
jdump
assert_eq True "$(jq_py 'j["superblock"]["held"]')" "the journal's held flag"
assert_eq "${t[4]}" "$(jq_py 'j["superblock"]["ship_until_ms"]')" "the journal's ship_until_ms"
assert_eq "${t[4]}" "$(jq_py 'j["superblock"]["sent_ms"]')" "the journal's sent_ms"
sleep 1
assert_status "$X" lag_writes 4
remote_holds 0 4
# Write 3, made after t[3], is on the remote: it cannot go back there.
refused "cannot ship_until ${t[3]}: the remote may have writes made at or after that time" \
	ship_until "${t[3]}"
assert_status "$X" ship_until_ms "${t[4]}"
# A later point rolls it further, and the remote reaching it raises a
# dm event of its own: the remote stalls until the message's event is in.
stall
ev=$(event_nr "$X")
must "ship_until ${t[6]}" dmsetup message "$P-x" 0 ship_until "${t[6]}"
events_past "$ev" "the message's dm event"
sleep 0.5
ev=$(event_nr "$X")
assert_cmp "$(status_field "$X" ship_point_ms)" -lt "${t[6]}" "the ship point, the remote stalled"
unstall
wait_for_cmp "$X" ship_point_ms -ge "${t[6]}" 60
events_past "$ev" "a dm event when the remote reached the point"
assert_status "$X" lag_writes 2
remote_holds 0 6
assert_status "$X" copied_regions "$cp0"

step "the point outlives the table: created again, the log is replayed held at it"
dm_remove "$P-x"
assert_eq 2 "$(unshipped)" "entries the removed device left in the log"
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: replaying the log: 2 entries, " "the kernel log"
assert_status "$X" held 1
assert_status "$X" ship_until_ms "${t[6]}"
assert_status "$X" consistent yes
sleep 1
remote_holds 0 6
# The bound recorded is the point: one before it is refused.
refused "cannot ship_until ${t[5]}: the remote may have writes made at or after that time" \
	ship_until "${t[5]}"
# The bound recorded is the point, not the time of the load: a later
# point is taken, and the entry before it is read from the log and sent
# (xreplctl ship-until, which waits on dm events).
"$CTL" ship-until "$P-x" "${t[7]}" --timeout 30 >"$T_TMP/until7.out" 2>&1 ||
	fail "xreplctl ship-until ${t[7]} during the replay: $(cat "$T_TMP/until7.out")"
assert_status "$X" ship_until_ms "${t[7]}"
assert_status "$X" held 1
remote_holds 0 7
assert_status "$X" copied_regions 0

step "a point reached as a replay reads the entry after it, and as it ends: dm events"
# The log starts at write 7 once a tail commit passed write 6 (the
# replay's roll forward follows it).
s7=$(( (U + 7 * 4096) / 512 ))
for (( i = 0; i < 50; i++ )); do
	jdump
	[[ "$(jq_py 'j["entries"][0]["sector"]')" == "$s7" ]] && break
	sleep 0.2
done
assert_eq "$s7" "$(jq_py 'j["entries"][0]["sector"]')" "the log's first entry, once the tail passed write 6"
# Held at no point, the device created again: the replay reads nothing.
must "hold" dmsetup message "$P-x" 0 hold
dm_remove "$P-x"
n=$(unshipped)
assert_eq "$s7" "$(jq_py 'j["entries"][0]["sector"]')" "the log's first entry after the removal"
kmsg_mark
jx "$J"
assert_dmesg_contains "journal: replaying the log: $n entries, " "the kernel log"
assert_status "$X" held 1
assert_status "$X" ship_until_ms 0
remote_holds 0 7
# A point before write 7 (made 50 ms after t[7] at least): the remote is
# there once the replay read write 7, and no completion follows.  The
# journal's reads are slowed to 1 s, so that xreplctl waits before.
jtable=$(dmsetup table "$P-jnl")
at_exit_first "dmsetup resume $P-jnl 2>/dev/null || true"
must "slow the journal's reads" dmsetup suspend "$P-jnl"
must "load a delay" dmsetup load "$P-jnl" --table \
	"0 $(blockdev --getsz "$LOOP_J") delay $LOOP_J 0 1000 $LOOP_J 0 0"
must "resume the journal" dmsetup resume "$P-jnl"
tp=$(( t[7] + 10 ))
"$CTL" ship-until "$P-x" "$tp" --timeout 20 >"$T_TMP/untilp.out" 2>&1 ||
	fail "xreplctl ship-until $tp, read by the replay: $(cat "$T_TMP/untilp.out")"
must "suspend the journal" dmsetup suspend "$P-jnl"
must "load its table" dmsetup load "$P-jnl" --table "$jtable"
must "resume the journal" dmsetup resume "$P-jnl"
assert_status "$X" ship_until_ms "$tp"
remote_holds 0 7
# A point after write 7, the last entry: the remote is there as the
# replay ends.  The remote stalls until xreplctl waits.
stall
ev=$(event_nr "$X")
tn=$(now_ms)
"$CTL" ship-until "$P-x" "$tn" --timeout 60 >"$T_TMP/untiln.out" 2>&1 &
pid=$!
wait_for_status "$X" ship_until_ms "$tn" 20
events_past "$ev" "the message's dm event"
sleep 0.5
kill -0 "$pid" 2>/dev/null ||
	fail "xreplctl ship-until returned with the remote stalled: $(cat "$T_TMP/untiln.out")"
assert_cmp "$(status_field "$X" ship_point_ms)" -lt "$tn" "the ship point, the remote stalled"
unstall
wait "$pid" || fail "xreplctl ship-until $tn, the replay's end: $(cat "$T_TMP/untiln.out")"
assert_dmesg_contains "journal: the log is replayed" "the kernel log"
remote_holds 0 8
assert_status "$X" lag_writes 0
assert_status "$X" copied_regions 0

step "the remote reaches a point after its last write; a point to come is refused"
must "release" dmsetup message "$P-x" 0 release
wait_for_status "$X" lag_writes 0 60
assert_status "$X" ship_until_ms 0
remote_holds 0 8
tf=$(( $(now_ms) + 60000 ))
refused "cannot ship_until $tf: the point is to come" ship_until "$tf"
assert_status "$X" held 0
must "hold" dmsetup message "$P-x" 0 hold
SZ=$(( 64 << 10 ))
head -c "$SZ" /dev/urandom >"$T_TMP/a"
write_at "$X" 0 "$SZ" "$T_TMP/a" || fail "a write while held"
sleep 0.2
tn=$(now_ms)
sleep 0.2
must "ship_until $tn" dmsetup message "$P-x" 0 ship_until "$tn"
wait_for_status "$X" lag_writes 0 30
read_at "$R" 0 "$SZ" | cmp -s - "$T_TMP/a" ||
	fail "a write made before the point is not on the remote"
# Every write made before the point is on the remote, the log empty:
# the ship point is the point itself.
wait_for_status "$X" ship_point_ms "$tn" 10
assert_status "$X" held 1
head -c "$SZ" /dev/urandom >"$T_TMP/b"
write_at "$X" $(( 4 * MIB )) "$SZ" "$T_TMP/b" || fail "a write after the point"
sleep 1
assert_status "$X" lag_writes 16
read_at "$R" $(( 4 * MIB )) "$SZ" | cmp -s - "$T_TMP/b" &&
	fail "a write made after the point reached the remote"
# hold: held where it is, the point gone.
must "hold" dmsetup message "$P-x" 0 hold
assert_status "$X" ship_until_ms 0
assert_status "$X" held 1
jdump
assert_eq 0 "$(jq_py 'j["superblock"]["ship_until_ms"]')" "the journal's ship_until_ms after hold"
must "release" dmsetup message "$P-x" 0 release
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
assert_status "$X" copied_regions 0
jdump
assert_eq 0 "$(jq_py 'j["superblock"]["sent_ms"]')" "the journal's sent_ms once released"
dm_remove "$P-x"

step "bad input: no journal, sync mode, a degraded remote, bad words and times"
tb=$(now_ms)
sleep 0.1
jx "$J"
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
wait_for_status "$X" lag_writes 0 60
refused "invalid 'ship_until soon'" ship_until soon
refused "invalid 'ship_until 0'" ship_until 0
refused "invalid 'ship_until 99999999999999999999'" ship_until 99999999999999999999
refused "invalid ship_until 18446744073709552" ship_until 18446744073709552
refused "unsupported message 'ship_until' with 2 argument(s)" ship_until 1 2
# Loaded after tb, the remote may have any write made before the load.
refused "cannot ship_until $tb: the remote may have writes made at or after that time" \
	ship_until "$tb"
must "remote down" dmsetup message "$P-x" 0 remote down
tl=$(( $(now_ms) + 60000 ))
refused "cannot ship_until $tl: the remote is degraded" ship_until "$tl"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
must "mode sync" dmsetup message "$P-x" 0 mode sync
wait_for_status "$X" draining 0 60
refused "cannot ship_until" ship_until $(( $(now_ms) + 60000 ))
assert_dmesg_contains "only async mode holds" "the kernel log"
# Sync mode wrote to the remote directly: a point before leaving it is
# past; one after it is not, and the writes since go no further.
write_at "$X" 0 4096 || fail "a write in sync mode"
ts=$(now_ms)
sleep 0.2
must "mode async" dmsetup message "$P-x" 0 mode async
refused "the remote may have writes made at or after that time" ship_until "$ts"
assert_status "$X" held 0
assert_status "$X" ship_until_ms 0
must "set delay_ms 60000" dmsetup message "$P-x" 0 set delay_ms 60000
head -c 4096 /dev/urandom >"$T_TMP/s1"
write_at "$X" $(( 8 * MIB )) 4096 "$T_TMP/s1" || fail "a write in async mode"
sleep 0.2
ta=$(now_ms)
sleep 0.2
head -c 4096 /dev/urandom >"$T_TMP/s2"
write_at "$X" $(( 8 * MIB + 4096 )) 4096 "$T_TMP/s2" || fail "a write in async mode"
must "hold" dmsetup message "$P-x" 0 hold
must "ship_until $ta" dmsetup message "$P-x" 0 ship_until "$ta"
must "set delay_ms 0" dmsetup message "$P-x" 0 set delay_ms 0
wait_for_status "$X" lag_writes 1 30
read_at "$R" $(( 8 * MIB )) 4096 | cmp -s - "$T_TMP/s1" ||
	fail "a write made before the point is not on the remote"
read_at "$R" $(( 8 * MIB + 4096 )) 4096 | cmp -s - "$T_TMP/s2" &&
	fail "a write made after the point reached the remote"
must "release" dmsetup message "$P-x" 0 release
wait_for_status "$X" lag_writes 0 30
assert_legs_equal "$L" "$R"
# A table in sync mode wrote to the remote directly: once an async table
# replaced it, a point before that write is past.
table=$(dmsetup table "$P-x")
sleep 0.1
tw=$(now_ms)
sleep 0.1
dm_reload "$P-x" "${table/ async / sync }"
assert_status "$X" mode sync
write_at "$X" $(( 12 * MIB )) 4096 || fail "a write in sync mode"
dm_reload "$P-x" "$table"
assert_status "$X" mode async
refused "cannot ship_until $tw: the remote may have writes made at or after that time" \
	ship_until "$tw"
dm_remove "$P-x"
XREPL_MODE=async xrepl_create x "$L" "$R"
refused "cannot ship_until: the table has no journal" ship_until $(( $(now_ms) + 60000 ))
dm_remove "$P-x"

step "recovery: a file deleted, the remote rolled to the time before, fsck clean"
# The remote lags by 15 s on purpose: the deletion is noticed within it.
jx "$J" delay_ms 15000
wait_for_status "$X" remote insync 60
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$X" >/dev/null ||
	fail "mkfs.ext4 on the device"
mkdir -p "$T_TMP/mnt" "$T_TMP/b-mnt"
must "mount" mount "$X" "$T_TMP/mnt"
at_exit "umount $T_TMP/mnt 2>/dev/null || true"
head -c $(( 2 * MIB )) /dev/urandom >"$T_TMP/precious"
cp "$T_TMP/precious" "$T_TMP/mnt/precious"
sync
sleep 0.5
tp=$(now_ms)
sleep 0.5
# The mistake: the file deleted, its blocks reused.
rm "$T_TMP/mnt/precious"
head -c $(( 2 * MIB )) /dev/zero >"$T_TMP/mnt/junk"
sync
must "xreplctl hold" "$CTL" hold "$P-x"
(( $(now_ms) < tp + 15000 )) || skip "the guest took 15 s to notice the deletion"
assert_status "$X" held 1
# As an operator would: the point as a date, and xreplctl waits for it.
tpd="$(date -u -d "@$(( tp / 1000 ))" '+%Y-%m-%d %H:%M:%S').$(printf '%03d' $(( tp % 1000 )))Z"
"$CTL" ship-until "$P-x" "$tpd" --timeout 60 >"$T_TMP/until.out" 2>&1 ||
	fail "xreplctl ship-until $tpd: $(cat "$T_TMP/until.out")"
grep -q "^$P-x: the remote is at .* ($tp ms): every write made before it, none after; shipping is held$" "$T_TMP/until.out" ||
	fail "xreplctl ship-until said: $(cat "$T_TMP/until.out")"
assert_status "$X" ship_until_ms "$tp"
assert_cmp "$(status_field "$X" ship_point_ms)" -ge "$tp" "ship_point_ms"
must "umount" umount "$T_TMP/mnt"
# What the remote site promotes: the remote leg as it is.
dd if="$R" of="$T_TMP/b.img" bs=1M iflag=direct status=none ||
	fail "cannot read the remote leg"
# The image is crash-consistent: ext4's journal is recovered, then a
# full check finds nothing.
e2fsck -p "$T_TMP/b.img" >"$T_TMP/fsck1.log" 2>&1 || {
	rc=$?
	(( rc <= 1 )) || fail "e2fsck -p of the remote's copy: $rc ($(cat "$T_TMP/fsck1.log"))"
}
e2fsck -fn "$T_TMP/b.img" >"$T_TMP/fsck2.log" 2>&1 ||
	fail "e2fsck -fn of the remote's copy found errors: $(cat "$T_TMP/fsck2.log")"
log "ok: the remote's copy is clean (e2fsck -fn)"
must "mount the remote's copy" mount -o ro,loop "$T_TMP/b.img" "$T_TMP/b-mnt"
at_exit "umount $T_TMP/b-mnt 2>/dev/null || true"
cmp -s "$T_TMP/b-mnt/precious" "$T_TMP/precious" ||
	fail "the file is not on the remote's copy as it was before the deletion"
[[ ! -e "$T_TMP/b-mnt/junk" ]] || fail "the remote's copy has a file written after the point"
log "ok: the remote's copy has the file as it was, and not what came after"
must "umount the remote's copy" umount "$T_TMP/b-mnt"
must "xreplctl set delay_ms 0" "$CTL" set "$P-x" delay_ms 0
must "xreplctl release" "$CTL" release "$P-x"
wait_for_status "$X" lag_writes 0 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
