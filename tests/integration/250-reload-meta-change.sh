#!/usr/bin/env bash
# A reload that changes only the metadata device ("-" to a device and
# back) continues the replication state of the table it replaces: nosync
# in the new table is not honoured, a degraded remote stays degraded, and
# what was dirty stays dirty (the old bitmap cannot be carried over, so
# every region becomes dirty).  The legs never read as in sync while they
# differ.  The state is taken over when the new table is resumed, so a
# "remote up" sent to the old table after the new one was loaded counts.
# A metadata device in use with other legs is refused, and so is a
# successor whose metadata device fails the rewrite.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target flakey

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

step "'remote up' sent to the old table after the new one was loaded is kept"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 7 * RB )) 4096
must "load a table without the metadata device" \
	dmsetup load "$P-x" --table "0 $S xrepl $LMM $RMM - sync 3 region_size 1024 nosync"
# Messages go to the live (old) table.
must "remote up" dmsetup message "$P-x" 0 remote up
must "suspend" dmsetup suspend "$P-x"
must "resume" dmsetup resume "$P-x"
assert_status "$X" meta -
assert_status "$X" degraded_by none
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"

step "the same metadata device with another remote leg is refused"
loopdisk 32
R2MM=$(devno "$LOOPDEV")
dm_reload "$P-x" "0 $S xrepl $LMM $RMM $MMM sync 3 region_size 1024 nosync"
assert_status "$X" meta "$MMM"
wait_for_status "$X" remote insync 120
kmsg_mark
expect_fail "another remote with the metadata device of the live table" \
	dmsetup load "$P-x" --table "0 $S xrepl $LMM $R2MM $MMM sync 3 region_size 1024 nosync"
dmesg_wait -F 'Metadata device in use with other legs' >/dev/null ||
	fail "no error naming the metadata device in use"

step "a successor whose metadata device cannot be written is refused"
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - sync 3 region_size 1024 nosync"
MS=$(dev_sectors "$M")
dm_reload "$P-meta" "0 $MS flakey /dev/ram2 0 0 1 1 error_writes"
at_exit_first "dmsetup load $P-meta --table '0 $MS linear /dev/ram2 0' && dmsetup resume $P-meta"
expect_fail "a successor with a metadata device that fails writes" \
	dmsetup load "$P-x" --table "0 $S xrepl $LMM $RMM $MMM sync 3 region_size 1024 nosync"
assert_status "$X" meta -
dm_reload "$P-meta" "0 $MS linear /dev/ram2 0"
