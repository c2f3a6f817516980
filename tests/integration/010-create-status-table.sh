#!/usr/bin/env bash
# Create/remove, the exact format of status and table, and the write
# counters; reads are served by the local leg.
# kernels: one
# The format of the status and table lines is the target's own; creation,
# removal, writes and reads run on both kernels in every other test.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 32
LMM=$(devno "$L") RMM=$(devno "$R")
T=$(regions "$S" 1024)

step "nosync pair: starts in sync, exact table and status format"
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
assert_eq "0 $S xrepl $LMM $RMM - sync 3 region_size 1024 nosync" \
	"$(dmsetup table "$P-x")" "table of a nosync pair"
st=$(xrepl_status "$X")
log "status: $st"
keys=$(for t in $st; do echo -n "${t%%=*} "; done)
assert_eq "$XREPL_STATUS_KEYS" "${keys% }" "status keys and their order"
for t in $st; do
	[[ "$t" == *=* ]] || fail "status token '$t' is not key=value"
done
assert_status "$X" mode sync
assert_status "$X" remote insync
assert_status "$X" dirty "0/$T"
assert_match '^[0-9]+/[0-9]+$' "$(status_field "$X" resync)" "resync format"
assert_status "$X" remote_errors 0
assert_status "$X" local_errors 0
assert_status "$X" region_size 1024
assert_status "$X" on_remote_error degrade
assert_status "$X" degraded_by none
assert_status "$X" resync_active 0
assert_status "$X" copied_regions 0
assert_status "$X" writes 0
assert_status "$X" remote_writes 0
assert_status "$X" meta -
assert_eq "$S" "$(dev_sectors "$X")" "size of the xrepl device"

step "writes are counted and go to both legs"
for i in 0 1 2 3; do
	write_at "$X" $(( i * 1048576 + 8192 )) 4096
done
assert_status "$X" writes 4
assert_status "$X" remote_writes 4
for i in 0 1 2 3; do
	off=$(( i * 1048576 + 8192 ))
	want=$(read_at "$X" "$off" 4096 | md5sum)
	assert_eq "$want" "$(read_at "$R" "$off" 4096 | md5sum)" "remote copy of write $i"
	assert_eq "$want" "$(read_at "$L" "$off" 4096 | md5sum)" "local copy of write $i"
done
assert_status "$X" dirty "0/$T"

step "reads come from the local leg"
# Make the legs differ behind the target's back, then read through it.
write_at "$R" 65536 4096 /dev/zero
write_at "$L" 65536 4096
assert_eq "$(read_at "$L" 65536 4096 | md5sum)" "$(read_at "$X" 65536 4096 | md5sum)" \
	"data read through xrepl equals the local leg"
assert_status "$X" writes 4

step "remove leaves no trace"
dm_remove "$P-x"
[[ ! -e "$X" ]] || fail "$X still exists after remove"
assert_eq 0 "$(open_count "$L")" "open count of the local leg after remove"
assert_eq 0 "$(open_count "$R")" "open count of the remote leg after remove"

step "major:minor legs and every optional argument; table echoes them"
XREPL_LEN=$S xrepl_create y "$LMM" "$RMM" region_size 4096 on_remote_error fail
Y=/dev/mapper/$P-y
T4=$(regions "$S" 4096)
assert_eq "0 $S xrepl $LMM $RMM - sync 4 region_size 4096 on_remote_error fail" \
	"$(dmsetup table "$P-y")" "table with region_size and on_remote_error"
assert_status "$Y" region_size 4096
assert_status "$Y" on_remote_error fail
wait_for_status "$Y" remote insync 60
assert_status "$Y" dirty "0/$T4"
dm_remove "$P-y"

step "no optional arguments: region_size is still printed; initial sync runs"
fill_random "$L" $(( 4 * 1048576 ))
xrepl_create z "$L" "$R"
Z=/dev/mapper/$P-z
assert_eq "0 $S xrepl $LMM $RMM - sync 2 region_size 1024" \
	"$(dmsetup table "$P-z")" "table without optional arguments"
assert_match '^(resyncing|insync)$' "$(status_field "$Z" remote)" "remote state right after creation"
wait_for_status "$Z" remote insync 60
assert_status "$Z" dirty "0/$T"
assert_status "$Z" resync "$T/$T"
assert_status "$Z" copied_regions "$T"
assert_status "$Z" resync_active 0
assert_legs_equal "$L" "$R"
dm_remove "$P-z"
