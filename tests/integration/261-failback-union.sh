#!/usr/bin/env bash
# Failover and failback on the target alone (the metadata edits of
# promote and demote are made as xreplctl makes them): A replicates to B;
# the link fails and A writes on; B takes over without a remote ("-") and
# writes; A restarted as a primary towards the promoted B is refused and
# B's data does not change; A is demoted; B attaches A with remote_meta
# and copies exactly the union of both bitmaps, logging how many of A's
# regions it overwrites; a planned switchover back to A then copies
# nothing.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

site_legs 32
# Site A: data L, metadata M.  Site B: data R, metadata RM.
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
A=/dev/mapper/$P-a B=/dev/mapper/$P-b
opts="region_size 1024"

step "A replicates to B, in sync, every mark cleaned"
fill_random "$L"
dm_create "$P-a" "0 $S xrepl $L $R $M sync 4 $opts remote_meta $RM"
wait_for_status "$A" remote insync 120
wait_for_status "$A" marked 0 60
assert_legs_equal "$L" "$R"

step "the link fails; A writes regions 2, 3 and 4 alone"
must "link down" dmsetup reload "$P-remote" --table "0 $S error"
must "link down" dmsetup suspend --noflush "$P-remote"
must "link down" dmsetup resume "$P-remote"
for r in 2 3 4; do write_at "$A" $(( r * RB )) 4096; done
assert_status "$A" degraded_by error
assert_status "$A" dirty "3/$T"
# A's failing remote is not written to: the remote site still says live.
assert_eq 5 "$(sbe "$RM" get flags)" "B's record: live when A lost it"

step "A dies; the link comes back"
dm_remove "$P-a"
assert_eq 3 "$(sbe "$M" bits)" "A's bitmap: its three regions"
must "link up" dmsetup reload "$P-remote" --table "$(linear_table /dev/ram1)"
must "link up" dmsetup suspend "$P-remote"
must "link up" dmsetup resume "$P-remote"

step "B is promoted and runs without a remote; it writes regions 4, 9, 10"
sbe "$RM" promote
dm_create "$P-b" "0 $S xrepl $R - $RM sync 2 $opts"
assert_status "$B" degraded_by absent
assert_status "$B" peer none
for r in 4 9 10; do write_at "$B" $(( r * RB )) 4096; done
assert_status "$B" dirty "3/$T"
kmsg_mark
expect_fail "remote up without a remote" dmsetup message "$P-b" 0 remote up
assert_dmesg_contains "the table has no remote" "remote up explains"
dm_remove "$P-b"
b_md5=$(dev_md5 "$R")

step "A restarted as a primary towards the promoted B: refused"
kmsg_mark
if dm_try_create "$P-a" "0 $S xrepl $L $R $M sync 4 $opts remote_meta $RM" >/dev/null; then
	fail "A's table towards a promoted B was accepted"
fi
assert_dmesg_contains "connection refused: promoted" "the case is named"
assert_eq "$b_md5" "$(dev_md5 "$R")" "B's data unchanged"
assert_eq 1 "$(sbe "$RM" get role)" "B still a primary"

step "A is demoted; B attaches it: the union of both bitmaps is copied"
sbe "$M" demote
dm_create "$P-b" "0 $S xrepl $R - $RM sync 2 $opts"
copied=$(status_field "$B" copied_regions)
kmsg_mark
dm_reload "$P-b" "0 $S xrepl $R $L $RM sync 4 $opts remote_meta $M"
assert_status "$B" peer ok
wait_for_status "$B" remote insync 60
assert_status "$B" copied_regions $(( copied + 5 ))
assert_dmesg_contains "failback: 3 regions written at the demoted site are overwritten" \
	"the discarded writes of A are counted"
assert_legs_equal "$R" "$L"
assert_eq "$b_md5" "$(dev_md5 "$R")" "B's data is what B wrote"
wait_for_status "$B" marked 0 60
assert_eq 5 "$(sbe "$M" get flags)" "A's record: live, no longer demoted"

step "planned switchover back to A: nothing to copy"
dm_remove "$P-b"
sbe "$RM" demote
sbe "$M" promote
dm_create "$P-a" "0 $S xrepl $L $R $M sync 4 $opts remote_meta $RM"
assert_status "$A" peer ok
wait_for_status "$A" remote insync 60
assert_status "$A" copied_regions 0
assert_legs_equal "$L" "$R"
write_at "$A" $(( 12 * RB )) 4096
assert_legs_equal "$L" "$R"
wait_for_status "$A" marked 0 60
dm_remove "$P-a"

step "B takes over again and writes; A, its demotion undone, restarts with its remote: B's writes are copied"
sbe "$M" demote
sbe "$RM" promote
dm_create "$P-b" "0 $S xrepl $R - $RM sync 2 $opts"
write_at "$B" $(( 20 * RB )) 4096
dm_remove "$P-b"
sbe "$RM" demote
sbe "$M" promote
# Created at once with its remote: a pair with nothing of its own to copy.
dm_create "$P-a" "0 $S xrepl $L $R $M sync 4 $opts remote_meta $RM"
assert_status "$A" peer ok
wait_for_status "$A" remote insync 60
assert_status "$A" copied_regions 1
assert_legs_equal "$L" "$R"
dm_remove "$P-a"
