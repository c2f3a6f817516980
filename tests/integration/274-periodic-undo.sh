#!/usr/bin/env bash
# Periodic mode's undo area, on the remote site's metadata device:
#   - a cycle from a recorded point saves each region's old content at the
#     remote before overwriting it (copy-before-write included), and the
#     remote site's metadata names the undo epoch: undo=guarding
#   - the link to the remote site is cut in the middle of that cycle and
#     the source dies; at the remote site, promote writes the saved
#     regions back: the copy is byte for byte the image of the point
#   - an undo area too small for a cycle: the cycle runs without undo,
#     says so (undo=off, undo_overflows, a warning), and completes
#   - cut in the middle of such a cycle, the copy cannot return to its
#     point: promote refuses it unless --force, and changes nothing
#   - the source started again goes on from its metadata: its next cycle
#     completes and the legs are equal (nothing acknowledged was lost)
#   - a restart of the source after a completed cycle keeps the remote's
#     recorded point (remote=point, its age), and the next cycle has undo
#   - empty cycles back to back do not stop the next one
#   - leaving periodic mode, no write reaches the remote while the remote
#     site's record still names the undo epoch
# The undo's I/O is the copy's and dm-io's, which 273 (periodic mode) and
# the metadata tests run on both kernels; this is the undo's logic and the
# remote site's records.
# kernels: one
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

CTL=$(xrepl_tool xreplctl)
ctl() { must "xreplctl $*" "$CTL" "$@"; }
ramdisks 5 32
make_leg local /dev/ram0
make_leg remote /dev/ram1
make_leg meta /dev/ram2 8192
make_leg rmeta /dev/ram3
make_leg rmeta2 /dev/ram4 8192
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote M=/dev/mapper/$P-meta
S=$(dev_sectors "$L")
RS=128				# 64 KiB regions
RB=$(( RS * 512 ))
X=/dev/mapper/$P-x
table() { echo "0 $S xrepl $L $R $M periodic 6 region_size $RS period_s 86400 remote_meta $1"; }
cycles() { status_field "$X" cycles; }
cycle_done() { periodic_point "$X" "$1"; }
# link down|up RMETA_NAME RMETA_TABLE: the remote site cut off, or back.
link() {
	local t1=$3 t2=$4
	must "link $1" dmsetup load "$P-remote" --table "$t1"
	must "link $1" dmsetup load "$2" --table "$t2"
	must "link $1" dmsetup suspend --noflush "$P-remote"
	must "link $1" dmsetup suspend --noflush "$2"
	must "link $1" dmsetup resume "$P-remote"
	must "link $1" dmsetup resume "$2"
}
# cut_mid_cycle N: 'cycle' over N newly written regions at 256 KiB/s, and
# the link cut once some, not all, are copied.
cut_mid_cycle() {
	local n=$1 part
	must "slow" dmsetup message "$P-x" 0 set resync_rate_kbps 256
	write_at "$X" 0 $(( n * RB ))
	must "cycle" dmsetup message "$P-x" 0 cycle
	wait_for_status "$X" cycling 1 30
	for _ in $(seq 600); do
		part=$(status_field "$X" cycle)
		(( $(num_of "$part") >= 4 )) && break
		sleep 0.05
	done
	assert_cmp "$(num_of "$part")" -lt "$n" "regions copied before the cut ($part)"
}
wipe_meta() { dd if=/dev/zero of="$1" bs=4096 count=1 oflag=direct status=none || fail "wipe $1"; }

RM=/dev/mapper/$P-rmeta
step "a pair in periodic mode; the first cycle (no point yet: no undo)"
fill_random "$L"
dm_create "$P-x" "$(table "$RM")"
cycle_done 1
assert_status "$X" undo idle
slots=$(status_field "$X" undo_slots)
assert_eq "0/$(( (32 * 256 - 2) / 17 ))" "$slots" "undo slots of a 32 MiB remote_meta (64 KiB regions)"
assert_legs_equal "$L" "$R"
dd if="$R" of="$T_TMP/point.img" bs=1M iflag=direct status=none || fail "save the point's image"

step "cycles back to back, with nothing to copy, within a second: the next one still starts"
for _ in 1 2 3 4; do
	out=$("$CTL" cycle "$P-x" --wait --timeout 30 2>&1) || fail "empty cycle: $out"
done
write_at "$X" 0 "$RB"
out=$("$CTL" cycle "$P-x" --wait --timeout 60 2>&1) || fail "a cycle after empty ones: $out"
assert_match "complete: 1/1 regions copied" "$out" "the cycle after empty ones"
dd if="$R" of="$T_TMP/point.img" bs=1M iflag=direct status=none || fail "save the point's image"

step "a cycle from the recorded point runs under undo; the link is cut half-way"
c=$(cycles)
saves0=$(status_field "$X" undo_saves)
cut_mid_cycle 128
assert_status "$X" undo guarding
# A write to a frozen region not copied yet has it saved and copied first.
cbw0=$(status_field "$X" copies_for_writes)
write_at "$X" $(( 127 * RB )) 4096
assert_cmp "$(status_field "$X" copies_for_writes)" -gt "$cbw0" "copy-before-write"
# Each region is saved before it is copied: read the copies first.
copied=$(num_of "$(status_field "$X" cycle)")
assert_cmp $(( $(status_field "$X" undo_saves) - saves0 )) -ge "$copied" "regions saved before copied"
"$CTL" status --meta "$RM" >"$T_TMP/meta.txt" || fail "status --meta"
assert_match "state +cycling" "$(cat "$T_TMP/meta.txt")" "the remote site's metadata during the cycle"
link down "$P-rmeta" "0 $S error" "0 $(dev_sectors "$RM") error"
wait_for_status "$X" remote degraded 30
assert_eq "$c" "$(cycles)" "no cycle completed"
saves=$(( $(status_field "$X" undo_saves) - saves0 ))
log "regions saved in the undo area before the cut: $saves"

step "the source dies; at the remote site, promote returns the copy to its point"
must "the source dies" dmsetup wipe_table "$P-x"
dm_remove "$P-x"
link up "$P-rmeta" "$(linear_table /dev/ram1)" "$(linear_table /dev/ram3)"
"$CTL" status --meta "$RM" --json >"$T_TMP/meta.json" || fail "status --meta --json"
assert_match '"undo": true' "$(cat "$T_TMP/meta.json")" "status --meta --json names the undo"
if cmp -s "$T_TMP/point.img" "$R"; then
	fail "the copy equals its point already: the cut came after the cycle"
fi
out=$("$CTL" promote "$P-dr" --local "$R" --meta "$RM" --mode sync 2>&1) ||
	fail "promote failed: $out"
_DM_DEVS+=("$P-dr")
log "$out"
assert_match "wrote back $saves regions from the undo area" "$out" "promote's rollback"
ctl remove "$P-dr"
cmp "$T_TMP/point.img" "$R" || fail "the promoted copy is not the image of its point"
log "ok: the promoted copy is byte for byte the image of its point"

step "an undo area too small for a cycle: it runs without undo, and completes"
RM=/dev/mapper/$P-rmeta2
wipe_meta "$M"
dm_create "$P-x" "$(table "$RM")"
cycle_done 1
assert_status "$X" undo_slots "0/$(( (8192 / 8 - 2) / 17 ))"
must "slow" dmsetup message "$P-x" 0 set resync_rate_kbps 1024
write_at "$X" 0 $(( 128 * RB ))
kmsg_mark
must "cycle" dmsetup message "$P-x" 0 cycle
wait_for_status "$X" cycling 1 30
assert_status "$X" undo off
assert_status "$X" undo_overflows 1
assert_dmesg_contains "undo area too small for this cycle" "the overflow is reported"
cycle_done 2
assert_status "$X" undo idle
assert_legs_equal "$L" "$R"

step "cut in the middle of a cycle without undo: promote refuses it unless --force"
cut_mid_cycle 128
assert_status "$X" undo off
link down "$P-rmeta2" "0 $S error" "0 8192 error"
wait_for_status "$X" remote degraded 30
dm_remove "$P-x"
link up "$P-rmeta2" "$(linear_table /dev/ram1)" "$(linear_table /dev/ram4 8192)"
before=$(dev_md5 "$RM")
expect_fail "promote of a copy a cycle was overwriting without undo" \
	"$CTL" promote "$P-dr" --local "$R" --meta "$RM" --mode sync
assert_eq "$before" "$(dev_md5 "$RM")" "the refused promote changed nothing"
out=$("$CTL" promote "$P-dr" --local "$R" --meta "$RM" --mode sync --dry-run --force 2>&1) ||
	fail "promote --force --dry-run failed: $out"
assert_match "NOT consistent" "$out" "promote --force says what it promotes"

step "the source started again goes on: its next cycle completes, nothing lost"
dm_create "$P-x" "$(table "$RM")"
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
c=$(cycles)
out=$("$CTL" cycle "$P-x" --wait --timeout 120 2>&1) || fail "xreplctl cycle --wait: $out"
assert_match "cycle $(( c + 1 )) complete" "$out" "xreplctl cycle --wait"
cycle_done $(( c + 1 ))
assert_legs_equal "$L" "$R"

step "a restart of the source keeps the remote's recorded point; its first cycle has undo"
write_at "$X" 0 $(( 16 * RB ))
sleep 2
dm_remove "$P-x"
# With regions written since the point, the first cycle starts at once
# (16 regions at 32 KiB/s: 32 s, however slowly this guest polls).
dm_create "$P-x" "0 $S xrepl $L $R $M periodic 8 region_size $RS period_s 86400 resync_rate_kbps 32 remote_meta $RM"
assert_cmp "$(status_field "$X" point_age_ms)" -ge 2000 "the point's age after the restart"
wait_for_status "$X" cycling 1 60
assert_status "$X" undo guarding
"$CTL" status --meta "$RM" | grep -q "^  state       cycling$" ||
	fail "the remote site's record during the first cycle: $("$CTL" status --meta "$RM")"
assert_cmp "$(status_field "$X" point_age_ms)" -ge 2000 "the point's age during the first cycle"
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
cycle_done 1
assert_legs_equal "$L" "$R"

step "leaving periodic mode: no write reaches the remote while its site's record names the undo epoch"
RM=/dev/mapper/$P-rmeta
dm_remove "$P-x"
wipe_meta "$M"
wipe_meta "$RM"
dm_create "$P-x" "$(table "$RM")"
cycle_done 1
cut_mid_cycle 64
assert_status "$X" undo guarding
must "suspend" dmsetup suspend "$P-x"
# The remote site's metadata answers after 2 s (4 s on a slow kernel)
# from now on: its record without the epoch is written well after the
# resume.
must "slow remote_meta" dmsetup load "$P-rmeta" --table "0 $(dev_sectors "$RM") delay /dev/ram3 0 $(( 2000 * TIME_SCALE ))"
must "slow remote_meta" dmsetup suspend "$P-rmeta"
must "slow remote_meta" dmsetup resume "$P-rmeta"
must "load sync" dmsetup load "$P-x" --table "0 $S xrepl $L $R $M sync 4 region_size $RS remote_meta $RM"
must "resume in sync mode" dmsetup resume "$P-x"
write_at "$X" $(( 100 * RB )) "$RB"
if [[ "$(read_at "$L" $(( 100 * RB )) "$RB" | md5sum)" == "$(read_at "$R" $(( 100 * RB )) "$RB" | md5sum)" ]]; then
	fail "a write reached the remote while the remote site's record named the undo epoch"
fi
log "ok: the write stayed local while the record named the undo epoch"
must "remote_meta back" dmsetup load "$P-rmeta" --table "$(linear_table /dev/ram3)"
must "remote_meta back" dmsetup suspend "$P-rmeta"
must "remote_meta back" dmsetup resume "$P-rmeta"
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
