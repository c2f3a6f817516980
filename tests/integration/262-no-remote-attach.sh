#!/usr/bin/env bash
# A pair without a remote ("-" in the remote position): degraded from the
# start (degraded_by=absent), every write marked; "remote up" is refused
# and "remote down" changes nothing.  A remote attached later by a table
# reload gets exactly the marked regions; detached again and reattached,
# again exactly what was written meanwhile; a different remote device,
# about which nothing is known, gets every region.  A table without a
# remote needs a metadata device, and on_remote_error fail needs a remote.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ramdisks 4 32
make_leg local /dev/ram0
make_leg remote /dev/ram1
make_leg meta /dev/ram2 8192
make_leg other /dev/ram3
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote M=/dev/mapper/$P-meta
R2=/dev/mapper/$P-other
S=$(dev_sectors "$L")
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
X=/dev/mapper/$P-x
opts="region_size 1024 nosync"

step "refused: no remote and no metadata; on_remote_error fail without a remote"
kmsg_mark
dm_try_create "$P-bad" "0 $S xrepl $L - - sync" >/dev/null &&
	fail "a table without remote and metadata was accepted"
assert_dmesg_contains "A device without a remote needs a metadata device" "no remote, no metadata"
dm_try_create "$P-bad" "0 $S xrepl $L - $M sync 2 on_remote_error fail" >/dev/null &&
	fail "on_remote_error fail without a remote was accepted"
assert_dmesg_contains "on_remote_error fail needs a remote device" "fail policy"

step "a pair without a remote: absent, every write marked"
dm_create "$P-x" "0 $S xrepl $L - $M sync 3 $opts"
assert_status "$X" remote degraded
assert_status "$X" degraded_by absent
assert_status "$X" dirty "0/$T"
assert_match "^0 $S xrepl [0-9]+:[0-9]+ - " "$(dmsetup table "$P-x")" "table line shows '-'"
for r in 1 5 6; do write_at "$X" $(( r * RB )) 4096; done
assert_status "$X" dirty "3/$T"
assert_status "$X" marked 3
expect_fail "remote up without a remote" dmsetup message "$P-x" 0 remote up
must "remote down without a remote" dmsetup message "$P-x" 0 remote down
assert_status "$X" degraded_by absent

step "attach the remote by a reload: exactly the marked regions are copied"
assert_status "$X" copied_regions 0
dm_reload "$P-x" "0 $S xrepl $L $R $M sync 3 $opts"
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 3
assert_status "$X" degraded_by none
# nosync: the legs were equal (zero) before the first write.
assert_legs_equal "$L" "$R"

step "detach, write, reattach: what was written meanwhile"
dm_reload "$P-x" "0 $S xrepl $L - $M sync 3 $opts"
assert_status "$X" degraded_by absent
for r in 7 8; do write_at "$X" $(( r * RB )) 4096; done
dm_reload "$P-x" "0 $S xrepl $L $R $M sync 3 $opts"
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 5
assert_legs_equal "$L" "$R"

step "another remote device after a detach: every region"
dm_reload "$P-x" "0 $S xrepl $L - $M sync 3 $opts"
write_at "$X" $(( 2 * RB )) 4096
dm_reload "$P-x" "0 $S xrepl $L $R2 $M sync 3 $opts"
wait_for_status "$X" remote insync 120
assert_status "$X" copied_regions $(( 5 + T ))
assert_legs_equal "$L" "$R2"

step "the same after a restart: the bitmap persisted, the remote attached"
dm_remove "$P-x"
dm_create "$P-x" "0 $S xrepl $L - $M sync 2 region_size 1024"
write_at "$X" $(( 11 * RB )) 4096
dm_remove "$P-x"
dm_create "$P-x" "0 $S xrepl $L $R2 $M sync 2 region_size 1024"
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 1
assert_legs_equal "$L" "$R2"
dm_remove "$P-x"
