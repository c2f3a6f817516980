#!/usr/bin/env bash
# A reload with the same legs and region size keeps the dirty bitmap and the
# remote state (even when the new table says nosync); a reload with another
# region size makes every region dirty.  Resync afterwards gives equal legs.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 32
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
LMM=$(devno "$L") RMM=$(devno "$R")

step "degrade and dirty 3 regions"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 2 * RB )) 4096
write_at "$X" $(( 10 * RB )) 4096
write_at "$X" $(( 20 * RB )) 4096
assert_status "$X" dirty "3/$T"

step "reload with the same table: state kept"
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - sync 2 region_size 1024"
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "3/$T"

step "reload with nosync added: state still kept"
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - sync 3 region_size 1024 nosync"
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "3/$T"
write_at "$X" $(( 30 * RB )) 4096
assert_status "$X" dirty "4/$T"

step "reload with another region size: every region dirty"
# Slow remote writes (10 s) so that no region can be copied before we look.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 10000"
T2=$(regions "$S" 2048)
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - sync 3 region_size 2048 nosync"
assert_status "$X" region_size 2048
assert_status "$X" dirty "$T2/$T2"

step "resync everything"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_status "$X" dirty "0/$T2"
assert_status "$X" resync "$T2/$T2"
assert_legs_equal "$L" "$R"
