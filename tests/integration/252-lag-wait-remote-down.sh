#!/usr/bin/env bash
# Async with a small lag bound and a hung remote: writers wait for lag
# room, in order: a small write that would fit waits behind a larger one
# that came first (else a stream of small writes could starve it);
# "remote down" lets them go at once (to the local leg, their regions
# dirty), even though every held write is in flight to the hung remote.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 32
XREPL_MODE=async xrepl_create x "$L" "$R" nosync max_lag_kb 256
X=/dev/mapper/$P-x

step "the remote hangs (writes take 200 s)"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 200000"
# Sends the held writes on, so that a writer waiting for them can exit
# and the removal does not wait for them.
at_exit_unhang "dmsetup load $P-remote --table '$(linear_table /dev/ram1)' && dmsetup resume $P-remote"

step "200 of the 256 KiB fill the lag; a 128 KiB writer waits for room"
must "the first 200 KiB" dd if=/dev/urandom of="$X" bs=200k count=1 iflag=fullblock oflag=direct status=none
assert_status "$X" lag_bytes $(( 200 * 1024 ))
assert_status "$X" lag_waits 0
bg dd if=/dev/urandom of="$X" bs=128k count=1 seek=8 oflag=direct status=none
big=$BG_PID
wait_for_cmp "$X" lag_waits -ge 1 60
kill -0 "$big" 2>/dev/null || fail "the 128 KiB writer did not wait for lag room"

step "a 4 KiB writer that would fit waits behind it"
bg dd if=/dev/urandom of="$X" bs=4k count=1 seek=512 oflag=direct status=none
wait_for_cmp "$X" lag_waits -ge 2 20
kill -0 "$BG_PID" 2>/dev/null || fail "the 4 KiB writer passed the writer that waited before it"
kill -0 "$big" 2>/dev/null || fail "the 128 KiB writer completed with the remote hung"
assert_status "$X" lag_bytes $(( 200 * 1024 ))

step "remote down: the writers complete"
must "remote down" dmsetup message "$P-x" 0 remote down
bg_done_within 30 "the 4 KiB writer, after remote down,"
BG_PID=$big
bg_done_within 30 "the 128 KiB writer, after remote down,"
assert_status "$X" remote degraded
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -ge 1 "dirty regions"

step "the remote comes back: resync, legs equal"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
