#!/usr/bin/env bash
# Online verify: the legs compared region by region while the device is in
# use, with the writes to each region held while it is read from both.
#   1. silent loss: writes behind xrepl's back to chosen ranges of the
#      remote leg (a remote that lost acknowledged writes); verify reports
#      exactly those regions, verify repair resyncs them, the legs are
#      byte-equal and a new pass finds nothing
#   2. no false alarms: passes under checksummed fio randwrite, in sync,
#      async and semi-sync mode (these two with a remote 2 ms slower than
#      the local leg, so that writes are in flight to it) and on several
#      region sizes, find no mismatch
#   3. in pieces: verify stop and a resumed pass; a pass interrupted by
#      remote down (refused while degraded, resumed after the resync); a
#      pass paused by a table reload (and one sent while suspended) goes
#      on after the resume; a "verify repair" pass stopped short repairs
#      what it found
#   4. the pass rests after each region while the device is written, even
#      when one compare takes longer than the activity window and when the
#      writer waits on the region being compared; an idle device is
#      verified without rests
#   5. bad messages are refused and change nothing; a table without a
#      remote cannot be verified
# The pass's I/O is the resync's (its copy slots read both legs, the region
# gate holds the writes), which the resync tests run on both kernels; this
# is the comparison, its report, its pacing and its lifecycle.
# kernels: one
# budget: 400
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
CTL=$(xrepl_tool xreplctl)
meta_legs 32
X=/dev/mapper/$P-x

# new_pair MODE REGION_SECTORS: /dev/mapper/$P-x over fresh legs, in sync;
# NR is its number of regions.
new_pair() {
	if dmsetup info "$P-x" >/dev/null 2>&1; then
		must "remove the pair" dmsetup remove "$P-x"
	fi
	write_at "$M" 0 $(( 1 << 20 )) /dev/zero
	XREPL_MODE=$1 XREPL_META=$M xrepl_create x "$L" "$R" region_size "$2"
	wait_for_status "$X" remote insync 120
	NR=$(den_of "$(status_field "$X" dirty)")
}

RS=128				# 64 KiB regions
RB=$(( RS * 512 ))

step "silent loss: the remote leg loses writes xrepl never saw"
new_pair sync $RS
assert_status "$X" verify 0/0
assert_status "$X" verify_active 0
fio_verify "$X" fill --rw=write --bs=256k --iodepth=4 --size=32M || fio_check fill $?
assert_legs_equal "$L" "$R"
# Regions 5 (4 KiB at 8 KiB in), 77 (its last 4 KiB), 130 and 131 (8 KiB across
# their border) and 300.
write_at /dev/ram1 $(( 5 * RB + 8192 )) 4096
write_at /dev/ram1 $(( 78 * RB - 4096 )) 4096
write_at /dev/ram1 $(( 131 * RB - 4096 )) 8192
write_at /dev/ram1 $(( 300 * RB )) 4096
kmsg_mark
ctl_rc 5 "verify finds the regions that differ" verify "$P-x" --wait --timeout 120
assert_status "$X" verify "$NR/$NR"
assert_status "$X" verify_mismatches 5
assert_status "$X" verify_active 0
assert_status "$X" remote insync
got=$(dmesg_since_mark | sed -n 's/.*verify: region \([0-9]*\) differs.*/\1/p' | tr '\n' ' ')
assert_eq "5 77 130 131 300 " "$got" "regions the kernel log names"
dmesg_since_mark | grep -q "verify: region 5 differs (sectors $(( 5 * RS ))-$(( 6 * RS - 1 )), first at $(( 5 * RS + 16 )))" ||
	fail "the log does not give region 5's sectors and first difference"
legs_equal "$L" "$R" 2>/dev/null && fail "verify changed the remote leg"

step "verify repair resyncs exactly those regions"
copied=$(status_field "$X" copied_regions)
ctl_rc 5 "verify repair" verify "$P-x" --repair --wait --timeout 120
ctl_rc 0 "the repair's resync ends" wait "$P-x" --timeout 120
assert_eq $(( copied + 5 )) "$(status_field "$X" copied_regions)" "regions copied by the repair"
assert_legs_equal "$L" "$R"
ctl_rc 0 "a new pass finds nothing" verify "$P-x" --wait --timeout 120
assert_status "$X" verify_mismatches 0
assert_status "$X" consistent yes

step "no false alarms under checksummed writes"
for cfg in "sync 32" "async 128" "semi-sync 2048"; do
	read -r mode rs <<<"$cfg"
	new_pair "$mode" "$rs"
	if [[ "$mode" != sync ]]; then
		# Writes 2 ms behind at the remote: in flight there while the
		# local leg has them already.
		dm_reload "$P-remote" "0 $(dev_sectors /dev/ram1) delay /dev/ram1 0 0 /dev/ram1 0 2"
	fi
	bg fio_verify "$X" "busy-$mode-$rs" --rw=randwrite --bs=4k --iodepth=8 --size=32M \
		--time_based --runtime=3 --randseed="$rs"
	FIO=$BG_PID
	passes=0
	while kill -0 "$FIO" 2>/dev/null; do
		ctl_rc 0 "a pass under writes ($mode, ${rs}-sector regions)" verify "$P-x" --wait --timeout 120
		passes=$(( passes + 1 ))
	done
	rc=0
	wait "$FIO" || rc=$?
	fio_check "busy-$mode-$rs" "$rc"
	(( passes > 0 )) || fail "no pass ran under writes"
	wait_for_status "$X" lag_bytes 0 60
	assert_legs_equal "$L" "$R"
	[[ "$mode" == sync ]] || dm_reload "$P-remote" "$(linear_table /dev/ram1)"
done

step "the pass yields to writes, even when a compare outlasts the 100 ms window"
# Without a metadata device: its commits would wake the resync's work,
# which samples the writes, during the compare.
must "remove the pair" dmsetup remove "$P-x"
XREPL_MODE=sync xrepl_create x "$L" "$R" region_size $RS
wait_for_status "$X" remote insync 120
NR=$(den_of "$(status_field "$X" dirty)")
# The remote leg's reads 120 ms late: every compare takes longer than the
# window in which the resync's work counts a write as activity.
dm_reload "$P-remote" "0 $(dev_sectors /dev/ram1) delay /dev/ram1 0 120 /dev/ram1 0 0"
w0=$(status_field "$X" writes)
# Over the first regions only: the writer soon waits on the region being
# compared and writes nothing more until the compare ends.  That wait is
# activity too.
# 10 s, 30 s on a slow (debug) kernel, where fio takes a while to start:
# the pass must meet writes until its fifth region (about 5 s).
rt=10
(( TIME_SCALE == 1 )) || rt=30
bg fio_verify "$X" slow-compare --rw=randwrite --bs=4k --iodepth=1 \
	--size=$(( 3 * RS * 512 )) --time_based --runtime=$rt --randseed=3
FIO=$BG_PID
wait_for_cmp "$X" writes -gt $(( w0 + 1000 )) 60
t0=$(date +%s%N)
ctl_rc 0 "verify starts under writes" verify "$P-x"
# The regions and the rests read from one status line, while fio writes.
n=0 rests=0
for (( i = 0; i < 300; i++ )); do
	st=" $(xrepl_status "$X") "
	[[ $st =~ \ verify=([0-9]+)/ ]] && n=${BASH_REMATCH[1]}
	[[ $st =~ \ verify_rests=([0-9]+)\  ]] && rests=${BASH_REMATCH[1]}
	(( n >= 5 )) && break
	sleep 0.1
done
t1=$(date +%s%N)
kill -0 "$FIO" 2>/dev/null || fail "fio ended before the pass compared 5 regions"
must "verify stop" dmsetup message "$P-x" 0 verify stop
wait_for_status "$X" verify_active 0 10
ms=$(( (t1 - t0) / 1000000 ))
log "under writes: $rests rests after $n regions, in $ms ms"
(( n >= 5 )) || fail "the pass compared $n regions in $rt s under writes"
(( rests >= n - 1 )) || fail "the pass compared $n regions under writes but rested after $rests"
# Each compare takes 120 ms at least, each rest ten times that (at most
# 2 s): four rests before the fifth region, 4.8 s; without them, 0.6 s.
(( ms >= 4000 )) || fail "5 regions compared under writes in $ms ms: the pass did not rest"
rc=0
wait "$FIO" || rc=$?
fio_check slow-compare "$rc"
# An idle device, its remote fast again: no compare outlasts the window
# in which a write counts as activity, and none is to be counted.
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
sleep 0.5
must "verify the last 4 regions, idle" dmsetup message "$P-x" 0 verify $(( NR - 4 ))
wait_for_status "$X" verify_active 0 60
assert_status "$X" verify "4/4"
assert_status "$X" verify_rests 0
assert_status "$X" verify_mismatches 0

step "in pieces: verify stop, then resume"
new_pair sync $RS
must "slow the verify" dmsetup message "$P-x" 0 set resync_rate_kbps 4096
"$CTL" verify "$P-x" --wait --timeout 120 >"$T_TMP/waited.out" 2>&1 &
WAITER=$!
wait_for_cmp "$X" verify_active -eq 1 10
sleep 2
ctl_rc 0 "verify --stop" verify "$P-x" --stop
rc=0
wait "$WAITER" || rc=$?
cat "$T_TMP/waited.out"
assert_eq 6 "$rc" "verify --wait on a pass that was stopped"
grep -q "the pass stopped before its end" "$T_TMP/waited.out" || fail "verify --wait does not say the pass stopped"
assert_status "$X" verify_active 0
v=$(status_field "$X" verify)
(( $(num_of "$v") > 0 && $(num_of "$v") < NR )) || fail "a stopped pass should be part-way: verify=$v"
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
ctl_rc 0 "the resumed pass ends" verify "$P-x" --resume --wait --timeout 120
v2=$(status_field "$X" verify)
assert_eq "$(( NR - $(num_of "$v") ))" "$(den_of "$v2")" \
	"the resumed pass covers the regions from where the last one stopped"
assert_eq "$(den_of "$v2")" "$(num_of "$v2")" "the resumed pass compared all of them"
ctl_rc 1 "nothing left to resume" verify "$P-x" --resume

step "in pieces: remote down interrupts a pass; it is refused while degraded"
must "slow the verify" dmsetup message "$P-x" 0 set resync_rate_kbps 4096
ctl_rc 0 "verify starts" verify "$P-x"
sleep 2
ev=$(event_nr "$X")
must "remote down" dmsetup message "$P-x" 0 remote down
wait_for_status "$X" verify_active 0 10
(( $(event_nr "$X") > ev )) || fail "no event"
expect_fail "verify while degraded" dmsetup message "$P-x" 0 verify
assert_status "$X" verify_active 0
fio_verify "$X" degraded --rw=randwrite --bs=4k --iodepth=4 --size=4M --randseed=9 ||
	fio_check degraded $?
must "remote up" dmsetup message "$P-x" 0 remote up
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" remote insync 120
ctl_rc 0 "the interrupted pass, resumed, ends" verify "$P-x" --resume --wait --timeout 120
assert_status "$X" verify_mismatches 0

step "in pieces: a table reload pauses a pass, which goes on after it"
# 16 regions a second: the pass is still running after the reload, even
# on the slow debug kernel.
must "slow the verify" dmsetup message "$P-x" 0 set resync_rate_kbps 1024
ctl_rc 0 "verify starts" verify "$P-x"
sleep 2
table=$(dmsetup table "$P-x")
must "load" dmsetup load "$P-x" --table "$table"
must "suspend" dmsetup suspend "$P-x"
before=$(num_of "$(status_field "$X" verify)")
sleep 1
assert_eq "$before" "$(num_of "$(status_field "$X" verify)")" "no region compared while suspended"
must "resume" dmsetup resume "$P-x"
(( before > 0 )) || fail "the pass had not started before the reload"
assert_status "$X" verify_active 1
after=$(num_of "$(status_field "$X" verify)")
(( after >= before )) || fail "the pass started over after the reload: $before, then $after"
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" verify_active 0 120
assert_status "$X" verify "$NR/$NR"
assert_status "$X" verify_mismatches 0
log "ok: the pass was at region $before at the reload and went on to the end"

step "a verify sent while suspended runs after the resume"
must "suspend" dmsetup suspend "$P-x"
must "verify while suspended" dmsetup message "$P-x" 0 verify
sleep 1
assert_status "$X" verify "0/$NR"
must "resume" dmsetup resume "$P-x"
wait_for_status "$X" verify_active 0 120
assert_status "$X" verify "$NR/$NR"

step "a verify repair pass stopped short repairs what it found"
write_at /dev/ram1 $(( 3 * RB )) 4096
write_at /dev/ram1 $(( 400 * RB )) 4096
must "slow the verify" dmsetup message "$P-x" 0 set resync_rate_kbps 1024
must "verify repair" dmsetup message "$P-x" 0 verify repair
wait_for_cmp "$X" verify_mismatches -ge 1 60
must "verify stop" dmsetup message "$P-x" 0 verify stop
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" verify_active 0 60
ctl_rc 0 "the repair's resync ends" wait "$P-x" --timeout 120
legs_equal "$L" "$R" $(( 4 * RS )) || fail "region 3 was not repaired"
legs_equal "$L" "$R" 2>/dev/null && fail "region 400 was repaired by a pass that never reached it"
ctl_rc 5 "the rest, resumed with repair" verify "$P-x" --repair --resume --wait --timeout 120
ctl_rc 0 "the repair's resync ends" wait "$P-x" --timeout 120
assert_legs_equal "$L" "$R"

step "bad messages are refused and change nothing"
v=$(status_field "$X" verify)
for m in "verify $NR" "verify 99999999999999999999999" "verify foo" "verify repair 1 2" \
	"verify stop now" "verify repair repair" "verify 0x10"; do
	# shellcheck disable=SC2086  # the words are the message's
	expect_fail "message '$m'" dmsetup message "$P-x" 0 $m
done
assert_status "$X" verify "$v"
assert_status "$X" verify_active 0
must "slow the verify" dmsetup message "$P-x" 0 set resync_rate_kbps 2048
must "verify 10" dmsetup message "$P-x" 0 verify 10
expect_fail "a second verify while one runs" dmsetup message "$P-x" 0 verify
assert_eq "$(( NR - 10 ))" "$(den_of "$(status_field "$X" verify)")" "the pass's regions from 10 on"
must "verify stop" dmsetup message "$P-x" 0 verify stop
must "verify stop again (nothing runs)" dmsetup message "$P-x" 0 verify stop
wait_for_status "$X" verify_active 0 10
ctl_rc 2 "xreplctl refuses --stop with --repair" verify "$P-x" --stop --repair

step "a table without a remote cannot be verified"
dm_reload "$P-x" "$(XREPL_META=$M xrepl_table "$L" - region_size $RS)"
assert_status "$X" degraded_by absent
expect_fail "verify without a remote" dmsetup message "$P-x" 0 verify
assert_status "$X" verify_active 0
