#!/usr/bin/env bash
# Async with a small lag bound and a hung remote: writers wait for lag
# room; "remote down" lets them go at once (to the local leg, their
# regions dirty), even though every held write is in flight to the hung
# remote.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 32
XREPL_MODE=async xrepl_create x "$L" "$R" nosync max_lag_kb 256
X=/dev/mapper/$P-x

step "the remote hangs (writes take 200 s)"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 200000"
# Sends the held writes on, so that the removal does not wait for them.
at_exit_first "dmsetup load $P-remote --table '$(linear_table /dev/ram1)' && dmsetup resume $P-remote"

step "a writer fills the lag and waits for room"
bg dd if=/dev/urandom of="$X" bs=64k count=32 oflag=direct status=none
wait_for_cmp "$X" lag_waits -ge 1 60
kill -0 "$BG_PID" 2>/dev/null || fail "the writer did not wait for lag room"

step "remote down: the writer completes"
must "remote down" dmsetup message "$P-x" 0 remote down
bg_done_within 30 "the writer, after remote down,"
assert_status "$X" remote degraded
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -ge 1 "dirty regions"

step "the remote comes back: resync, legs equal"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
