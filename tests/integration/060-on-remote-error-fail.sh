#!/usr/bin/env bash
# on_remote_error fail: the write that hits the remote error gets EIO, later
# writes fail at once without reaching either leg, reads keep working, and
# "remote up" after the repair brings back replication with equal legs.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 32
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" on_remote_error fail nosync
X=/dev/mapper/$P-x
assert_status "$X" on_remote_error fail
expect_fail "mode async with on_remote_error fail" dmsetup message "$P-x" 0 mode async
assert_status "$X" mode sync

step "writes succeed while the remote is healthy"
write_at "$X" 0 65536 || fail "write with a healthy remote failed"
assert_legs_equal "$L" "$R"

step "the remote fails: the writer sees EIO"
dm_reload "$P-remote" "0 $S error"
ev0=$(event_nr "$X")
out=$(write_at "$X" $(( 1 << 20 )) 4096 2>&1) && fail "write with a failed remote succeeded"
log "ok: write failed: $out"
[[ "$out" == *"Input/output error"* ]] || fail "expected EIO, dd said: $out"
assert_status "$X" remote degraded
assert_status "$X" degraded_by error
assert_cmp "$(status_field "$X" remote_errors)" -gt 0 "remote_errors"
assert_cmp "$(event_nr "$X")" -gt "$ev0" "event number"

step "later writes fail at once and reach neither leg"
# Both legs get a known pattern at 2 MiB behind the target's back (the
# remote through its ramdisk, as its dm device is the error target now).
write_at "$L" $(( 2 << 20 )) 65536 /dev/zero
write_at /dev/ram1 $(( 2 << 20 )) 65536 /dev/zero
lw=$(status_field "$X" local_errors)
rw=$(status_field "$X" remote_writes)
for i in 1 2 3; do
	out=$(write_at "$X" $(( 2 << 20 )) 65536 2>&1) && fail "write $i while failed succeeded"
	[[ "$out" == *"Input/output error"* ]] || fail "expected EIO, dd said: $out"
done
log "ok: three writes failed with EIO"
zero=$(head -c 65536 /dev/zero | md5sum)
assert_eq "$zero" "$(read_at "$L" $(( 2 << 20 )) 65536 | md5sum)" "local leg untouched by refused writes"
assert_eq "$zero" "$(read_at /dev/ram1 $(( 2 << 20 )) 65536 | md5sum)" "remote leg untouched by refused writes"
assert_eq "$rw" "$(status_field "$X" remote_writes)" "remote_writes while failed"
assert_eq "$lw" "$(status_field "$X" local_errors)" "local_errors while failed"

step "reads still work"
assert_eq "$(read_at "$L" 0 65536 | md5sum)" "$(read_at "$X" 0 65536 | md5sum)" "read through xrepl"
assert_eq "$(dev_md5 "$L")" "$(dev_md5 "$X")" "whole device read through xrepl"

step "repair, remote up, writes work again"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_status "$X" degraded_by none
assert_status "$X" dirty "0/$T"
write_at "$X" $(( 2 << 20 )) 65536 || fail "write after remote up failed"
write_at "$X" $(( 1 << 20 )) 4096 || fail "write after remote up failed"
assert_legs_equal "$L" "$R"
