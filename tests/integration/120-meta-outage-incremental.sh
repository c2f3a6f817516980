#!/usr/bin/env bash
# With a metadata device, the remote fails (its table swapped for the error
# target) and stays down for a long stretch of verified writes to a known
# set of regions; after repair and "remote up" exactly those regions are
# copied, and the legs compare equal.  The marks also survive a remove and
# reload while the remote is down.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

meta_legs 64
RS=256                          # 128 KiB regions
RB=$(( RS * 512 ))
T=$(regions "$S" "$RS")
export XREPL_META=$M
X=/dev/mapper/$P-x
xrepl_create x "$L" "$R" nosync region_size "$RS"

step "writes before the outage; a clean suspend clears their marks"
write_at "$X" 0 $(( 8 * RB ))
must "suspend" dmsetup suspend "$P-x"
must "resume" dmsetup resume "$P-x"
assert_status "$X" marked 0
assert_legs_equal "$L" "$R"

step "the remote fails"
K=16
dm_reload "$P-remote" "0 $S error"

step "a long stretch of writes while the remote is down"
fio_verify "$X" down --rw=randwrite --bs=4k --iodepth=8 \
	--offset=$(( 40 * RB )) --size=$(( K * RB )) --number_ios=4000 \
	--randseed=12 || fio_check down $?
fio_check down 0
assert_status "$X" remote degraded
assert_status "$X" degraded_by error
# Every region of the span was written (4000 random 4 KiB writes in 2 MiB).
assert_status "$X" marked "$K"
assert_status "$X" dirty "$K/$T"

step "remove and reload while down: the marks are on disk"
dm_remove "$P-x"
xrepl_create x "$L" "$R" region_size "$RS"
assert_status "$X" dirty "$K/$T"
# The remote is still broken: the resync fails and degrades again.
wait_for_status "$X" remote degraded 60
assert_status "$X" dirty "$K/$T"

step "repair the remote; remote up copies exactly the written regions"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
c0=$(status_field "$X" copied_regions)
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_status "$X" copied_regions $(( c0 + K ))
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R"
