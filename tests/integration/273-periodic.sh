#!/usr/bin/env bash
# Periodic mode (mode periodic, period_s), with the remote site's metadata:
#   - the first cycle copies everything; between cycles writes reach the
#     local leg only: remote=point, the remote is unchanged by a byte,
#     written_kb grows and shipped_kb does not
#   - a hot set written ten times crosses once in the next cycle
#   - a cycle under a writer that keeps overwriting the frozen regions
#     leaves the remote at exactly one point in time, within the window
#     of the "cycle" message: every block holds the last write to it
#     before that point (tests/lib/pitwrite.py); the writes that met a
#     frozen region had it copied first (copies_for_writes)
#   - the remote site's metadata records each point: consistent, not live,
#     its data time, and the generation our bitmap counts from
#   - the period's timer starts cycles by itself
#   - a degradation during a cycle ends it; "remote up" starts a new one
#   - mode switches under verified fio (periodic -> sync after a final
#     cycle, sync -> periodic, periodic -> async -> periodic); the legs
#     are equal at the end
#   - bad table lines and messages are refused and change nothing
# A cycle's I/O is the resync's, and a write that meets a frozen region
# waits as a write does at the region gate, which the resync tests run on
# both kernels; this is periodic mode's logic and the remote site's
# records.
# kernels: one
# budget: 420
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

PIT="$TESTS_DIR/lib/pitwrite.py"
site_legs 32
RS=128				# 64 KiB regions
RB=$(( RS * 512 ))
T=$(regions "$S" "$RS")
X=/dev/mapper/$P-x
table() { echo "0 $S xrepl $L $R $M periodic 6 region_size $RS period_s 86400 remote_meta $RM"; }
kb() { status_field "$X" "$1"; }
cycles() { status_field "$X" cycles; }
cycle_done() { periodic_point "$X" "$1"; }

step "a new pair in periodic mode: the first cycle copies everything"
fill_random "$L"
dm_create "$P-x" "$(table)"
assert_status "$X" mode periodic
cycle_done 1
assert_status "$X" cycle "$T/$T"
assert_legs_equal "$L" "$R"
assert_match "periodic [0-9]+ .*period_s 86400" "$(dmsetup table "$P-x")" "table line"

step "between cycles: the local leg only, the remote unchanged"
remote_md5=$(dev_md5 "$R")
w0=$(kb written_kb) s0=$(kb shipped_kb)
for i in $(seq 10); do write_at "$X" $(( 4 * RB )) $(( 16 * RB )); done
assert_status "$X" remote point
assert_status "$X" dirty "16/$T"
assert_eq "$remote_md5" "$(dev_md5 "$R")" "remote leg between cycles"
assert_eq $(( w0 + 10 * 16 * RB / 1024 )) "$(kb written_kb)" "written_kb"
assert_eq "$s0" "$(kb shipped_kb)" "shipped_kb between cycles"
assert_cmp "$(status_field "$X" point_age_ms)" -gt 0 "point_age_ms"

step "a cycle ships the hot set once"
c=$(cycles)
must "cycle" dmsetup message "$P-x" 0 cycle
cycle_done $(( c + 1 ))
assert_status "$X" cycle "16/16"
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R"
assert_eq $(( s0 + 16 * RB / 1024 )) "$(kb shipped_kb)" "shipped_kb: each region once"

step "the remote site's metadata records the point"
# Both superblocks are written after the cycle ended: wait for them.
for (( i = 0; i < 100; i++ )); do
	[[ "$(sbe "$RM" get flags)" == 1 &&
	   "$(sbe "$M" get gen_bitmap)" == "$(sbe "$RM" get gen_current)" ]] && break
	sleep 0.1
done
assert_eq 1 "$(sbe "$RM" get flags)" "remote site's flags (consistent, not live)"
now=$(date +%s)
dt=$(sbe "$RM" get data_time)
assert_cmp "$dt" -le "$now" "data time not in the future"
assert_cmp "$dt" -ge $(( now - 60 )) "data time recent"
assert_eq "$(sbe "$M" get gen_bitmap)" "$(sbe "$RM" get gen_current)" \
	"remote site at the generation our bitmap counts from"

step "one point in time while writes overwrite the frozen regions"
# The hot area starts zeroed on both legs: blocks never written read as zeroes.
write_at "$X" 0 $(( 8 << 20 )) /dev/zero
c=$(cycles)
must "cycle" dmsetup message "$P-x" 0 cycle
cycle_done $(( c + 1 ))
must "pace the cycle" dmsetup message "$P-x" 0 set resync_rate_kbps 2048
rm -f "$T_TMP/stop"
# 8 MiB of hot blocks: 128 regions, frozen, copied in about 4 s.
bg python3 "$PIT" write "$X" "$T_TMP/pit.log" "$T_TMP/stop" --hot 2048 --seed "$RANDOM"
WRITER=$BG_PID
for (( i = 0; i < 100; i++ )); do
	(( $(wc -l <"$T_TMP/pit.log") > 2000 )) && break
	sleep 0.1
done
c=$(cycles) cbw=$(status_field "$X" copies_for_writes)
lo=$(wc -l <"$T_TMP/pit.log")
must "cycle" dmsetup message "$P-x" 0 cycle
# The cycle starts once both sites record it: its point is before hi.
for (( i = 0; i < 400; i++ )); do
	[[ "$(status_field "$X" cycling)" == 1 || "$(cycles)" -gt "$c" ]] && break
	sleep 0.05
done
hi=$(wc -l <"$T_TMP/pit.log")
log "the cycle started between writes $lo and $hi"
cycle_done $(( c + 1 ))
touch "$T_TMP/stop"
wait "$WRITER" || fail "the writer failed"
assert_cmp "$(status_field "$X" copies_for_writes)" -gt "$cbw" "copies made before a write"
v=$(status_field "$X" cycle)
assert_eq "${v%/*}" "${v#*/}" "every frozen region copied ($v)"
# The remote leg as it is: writes since the cycle's start are not on it.
blockdev --flushbufs "$R"
out=$(python3 "$PIT" check "$R" "$T_TMP/pit.log" --blocks 2048 --min "$lo" --max $(( hi + 1 ))) ||
	{ printf '%s\n' "$out" | tail -n 20 >&2; fail "the remote is not the point in time of the cycle"; }
log "ok: $out"
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
must "cycle" dmsetup message "$P-x" 0 cycle
cycle_done $(( c + 2 ))
assert_legs_equal "$L" "$R"

step "the period's timer starts cycles by itself; xreplctl wait waits for one"
c=$(cycles)
must "period 5 s" dmsetup message "$P-x" 0 set period_s 5
write_at "$X" 0 4096
# Returns once the remote holds a point taken after the call.
must "xreplctl wait" "$(xrepl_tool xreplctl)" wait "$P-x" --timeout 120
assert_cmp "$(cycles)" -ge $(( c + 1 )) "cycles after xreplctl wait"
assert_status "$X" remote point
assert_status "$X" dirty "0/$T"
assert_match "period_s 5" "$(dmsetup table "$P-x")" "table line after set period_s"
must "period back" dmsetup message "$P-x" 0 set period_s 86400

step "a degradation during a cycle ends it; remote up starts a new one"
# 64 regions at 256 KiB/s take 16 s: the cycle is cut part-way, however
# slowly this guest polls.
must "slow" dmsetup message "$P-x" 0 set resync_rate_kbps 256
write_at "$X" 0 $(( 64 * RB ))
c=$(cycles)
must "cycle" dmsetup message "$P-x" 0 cycle
wait_for_status "$X" cycling 1 30
for _ in $(seq 600); do
	part=$(status_field "$X" cycle)
	(( $(num_of "$part") > 0 )) && break
	sleep 0.05
done
assert_eq 64 "${part#*/}" "regions frozen"
assert_cmp "$(num_of "$part")" -lt 64 "regions copied before the remote goes down ($part)"
must "remote down" dmsetup message "$P-x" 0 remote down
wait_for_status "$X" cycling 0 10
assert_status "$X" remote degraded
assert_status "$X" consistent no
assert_eq "$c" "$(cycles)" "no cycle completed"
expect_fail "cycle while degraded" dmsetup message "$P-x" 0 cycle
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
must "remote up" dmsetup message "$P-x" 0 remote up
cycle_done $(( c + 1 ))
assert_legs_equal "$L" "$R"

step "mode switches under verified writes"
bg fio_verify "$X" switches --rw=randwrite --bs=4k --iodepth=8 --size=16M \
	--time_based --runtime=10
FIO=$BG_PID
sleep 1
must "mode sync" dmsetup message "$P-x" 0 mode sync
wait_for_status "$X" mode sync 60
sleep 1
must "mode periodic" dmsetup message "$P-x" 0 mode periodic
assert_status "$X" mode periodic
sleep 1
must "mode async" dmsetup message "$P-x" 0 mode async
wait_for_status "$X" mode async 60
sleep 1
must "mode periodic" dmsetup message "$P-x" 0 mode periodic
rc=0
wait "$FIO" || rc=$?
fio_check switches "$rc"
c=$(cycles)
must "cycle" dmsetup message "$P-x" 0 cycle
cycle_done $(( c + 1 ))
assert_legs_equal "$L" "$R"

step "bad input is refused and changes nothing"
before=$(xrepl_status "$X")
for msg in "set period_s 4" "set period_s 86401" "set period_s 1m" "cycle now" "mode periodical"; do
	# shellcheck disable=SC2086
	expect_fail "message '$msg'" dmsetup message "$P-x" 0 $msg
done
after=$(xrepl_status "$X")
assert_eq "${before%% point_age_ms*}" "${after%% point_age_ms*}" "status after refused messages"
must "mode sync" dmsetup message "$P-x" 0 mode sync
wait_for_status "$X" mode sync 60
expect_fail "cycle in sync mode" dmsetup message "$P-x" 0 cycle
dm_remove "$P-x"
devs=$(dmsetup ls | sort)
for t in "periodic 2 period_s 4" "periodic 2 period_s 86401" "periodic 2 on_remote_error fail"; do
	if out=$(dm_try_create "$P-bad" "0 $S xrepl $L $R - $t"); then
		fail "table '$t' was accepted"
	fi
	log "ok: refused '$t': $out"
done
assert_eq "$devs" "$(dmsetup ls | sort)" "no device left by refused tables"
