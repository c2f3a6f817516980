#!/usr/bin/env bash
# A remote whose flushes hang.  The cleaner waits for the remote's flush
# without holding what the marks of new writes need, so a write to an
# unmarked region completes; "remote down" then frees the cleaner, and a
# suspend completes.  The flush that ends a resync is waited for in a
# work of its own: after "remote down" a suspend completes too, the
# remote stays not consistent, and "remote up" finishes the job.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ramdisks 2 32
# A loop device has a volatile write cache: flushes reach dm-delay (the
# block layer drops them on the way to a ramdisk).
loopdisk 32
make_leg local /dev/ram0
dm_create "$P-remote" "$(linear_table "$LOOPDEV")"
make_leg meta /dev/ram1 8192
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote M=/dev/mapper/$P-meta
S=$(dev_sectors "$L")
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
X=/dev/mapper/$P-x
export XREPL_META=$M
xrepl_create x "$L" "$R" nosync
HANG="0 $S delay $LOOPDEV 0 0 $LOOPDEV 0 0 $LOOPDEV 0 300000"
at_exit_first "dmsetup load $P-remote --table '$(linear_table "$LOOPDEV")' && dmsetup resume $P-remote"

# completes_within SECS WHAT CMD...: CMD finishes (successfully) in time.
completes_within() {
	local secs=$1 what=$2
	shift 2
	bg "$@"
	bg_done_within "$secs" "$what"
}

step "a region is written; the remote's flushes hang"
t0=$SECONDS
write_at "$X" $(( 3 * RB )) 4096
marked=$(status_field "$X" marked)
dm_reload "$P-remote" "$HANG"
# The premise: the remote hangs before the cleaner (every 5 s) could
# clear the mark with a healthy remote.
(( SECONDS - t0 < 4 )) ||
	skip "writing a region and hanging the remote took $(( SECONDS - t0 )) s, more than the cleaner's interval: this machine is too slow for the test's premise"
assert_eq 1 "$marked" "regions marked after the write"

step "the cleaner picks the idle region and waits for the remote's flush"
sleep 12
assert_status "$X" marked 1
completes_within 20 "a write to an unmarked region" write_at "$X" $(( 20 * RB )) 4096
assert_status "$X" marked 2

step "remote down frees the cleaner: suspend and resume complete"
must "remote down" dmsetup message "$P-x" 0 remote down
completes_within 30 "suspend" dmsetup suspend "$P-x"
must "resume" dmsetup resume "$P-x"
dm_reload "$P-remote" "$(linear_table "$LOOPDEV")"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"

step "a full resync whose final flush hangs"
dm_reload "$P-remote" "$HANG"
must "resync full" dmsetup message "$P-x" 0 resync full
wait_for_status "$X" dirty "0/$T" 120
assert_status "$X" consistent no
completes_within 20 "a write while the flush hangs" write_at "$X" $(( 30 * RB )) 4096
must "remote down" dmsetup message "$P-x" 0 remote down
completes_within 30 "suspend" dmsetup suspend "$P-x"
must "resume" dmsetup resume "$P-x"
assert_status "$X" consistent no

step "the remote recovers: remote up flushes it and calls it consistent"
dm_reload "$P-remote" "$(linear_table "$LOOPDEV")"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
wait_for_status "$X" consistent yes 60
assert_legs_equal "$L" "$R"
