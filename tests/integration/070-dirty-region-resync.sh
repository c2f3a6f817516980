#!/usr/bin/env bash
# Only dirty regions are copied: with the remote taken down by the admin,
# writes to exactly K known regions make dirty=K/T; "remote up" resyncs
# exactly those K regions and the legs end up equal.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 64
RS=1024                         # region size in sectors: 512 KiB
RB=$(( RS * 512 ))              # region size in bytes
T=$(regions "$S" "$RS")         # 128 regions
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
c0=$(status_field "$X" copied_regions)

step "remote down (admin)"
ev0=$(event_nr "$X")
must "remote down" dmsetup message "$P-x" 0 remote down
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "0/$T"
rw0=$(status_field "$X" remote_writes)

step "write to known regions"
# Regions 0, 7 (twice), 31, 64, the last one, and a write straddling the
# boundary of regions 40 and 41: K = 7 distinct regions.
write_at "$X" 0 4096
write_at "$X" $(( 7 * RB + 8192 )) 4096
write_at "$X" $(( 7 * RB + RB - 4096 )) 4096
write_at "$X" $(( 31 * RB + 65536 )) 131072
write_at "$X" $(( 64 * RB )) "$RB"
write_at "$X" $(( (T - 1) * RB + RB - 4096 )) 4096
write_at "$X" $(( 41 * RB - 4096 )) 8192
K=7
assert_status "$X" dirty "$K/$T"
assert_eq "$rw0" "$(status_field "$X" remote_writes)" "remote_writes while the remote is down"
if legs_equal "$L" "$R" 2>/dev/null; then
	fail "legs are equal although writes were not replicated"
fi

step "remote up: exactly the dirty regions are copied"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_status "$X" resync "$K/$K"
assert_status "$X" copied_regions $(( c0 + K ))
assert_status "$X" dirty "0/$T"
assert_status "$X" degraded_by none
assert_status "$X" resync_active 0
assert_cmp "$(event_nr "$X")" -gt "$ev0" "event number"
assert_legs_equal "$L" "$R"

step "remote up again is a no-op"
c1=$(status_field "$X" copied_regions)
must "second remote up" dmsetup message "$P-x" 0 remote up
sleep 1
assert_status "$X" remote insync
assert_status "$X" copied_regions "$c1"
