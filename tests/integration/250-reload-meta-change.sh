#!/usr/bin/env bash
# A reload that changes only the metadata device ("-" to a device and
# back) continues the replication state of the table it replaces: nosync
# in the new table is not honoured, a degraded remote stays degraded, and
# what was dirty stays dirty (the old bitmap cannot be carried over, so
# every region becomes dirty).  The legs never read as in sync while they
# differ.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

meta_legs 32
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
LMM=$(devno "$L") RMM=$(devno "$R") MMM=$(devno "$M")

step "degrade and write: the legs differ"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 2 * RB )) 4096
assert_status "$X" dirty "1/$T"
legs_equal "$L" "$R" >/dev/null && fail "the legs should differ"

step "reload with a metadata device in place of '-', nosync in the table"
dm_reload "$P-x" "0 $S xrepl $LMM $RMM $MMM sync 3 region_size 1024 nosync"
assert_status "$X" meta "$MMM"
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "$T/$T"
assert_status "$X" marked "$T"
# The remote still holds the image it had when it was taken down.
assert_status "$X" consistent yes

step "remote up: the resync makes the legs equal"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R"

step "degrade, write, and reload back to '-': the state is kept again"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 5 * RB )) 4096
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - sync 3 region_size 1024 nosync"
assert_status "$X" meta -
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "$T/$T"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"

step "a resyncing remote is not consistent in the successor either"
must "slow remote" dmsetup message "$P-x" 0 set resync_rate_kbps 64
must "resync full" dmsetup message "$P-x" 0 resync full
wait_for_status "$X" consistent no 60
dm_reload "$P-x" "0 $S xrepl $LMM $RMM $MMM sync 5 region_size 1024 resync_rate_kbps 64 nosync"
assert_status "$X" consistent no
must "fast resync" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" remote insync 120
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R"
