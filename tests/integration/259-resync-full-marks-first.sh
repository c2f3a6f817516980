#!/usr/bin/env bash
# "resync full" while a resync runs: no region joins the resync (and so no
# copy of it starts) before every region's mark is on the metadata device.
# kernels: one
# The target's own order of marks and copies; their I/O runs on both
# kernels in 070-085 and 110-125.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

meta_legs 32
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
export XREPL_META=$M
X=/dev/mapper/$P-x
MS=$(dev_sectors "$M")
xrepl_create x "$L" "$R" nosync resync_rate_kbps 64

step "a slow resync of two regions runs"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 2 * RB )) 4096
write_at "$X" $(( 9 * RB )) 4096
must "remote up" dmsetup message "$P-x" 0 remote up
assert_status "$X" resync_active 1
# The rate allows one region at once: the first may be copied already.
d0=$(num_of "$(status_field "$X" dirty)")
assert_cmp "$d0" -ge 1 "dirty regions before resync full"

step "metadata writes take 4 s; resync full"
dm_reload "$P-meta" "0 $MS delay /dev/ram2 0 0 /dev/ram2 0 4000"
at_exit_first "dmsetup load $P-meta --table '0 $MS linear /dev/ram2 0' && dmsetup resume $P-meta"
bg dmsetup message "$P-x" 0 resync full
sleep 1.5
kill -0 "$BG_PID" 2>/dev/null || fail "resync full did not wait for the marks"
d=$(num_of "$(status_field "$X" dirty)")
(( d <= d0 )) || fail "$d regions joined the resync before their marks were durable"
log "ok: still $d dirty regions while the marks are written"
wait "$BG_PID" || fail "resync full failed"
# Every region joined (one or two may have been copied since).
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -ge $(( T - 2 )) "dirty regions after resync full"

step "the resync completes"
dm_reload "$P-meta" "0 $MS linear /dev/ram2 0"
must "fast resync" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
