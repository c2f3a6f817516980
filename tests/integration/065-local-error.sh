#!/usr/bin/env bash
# A local write error always reaches the caller and is counted, whatever
# the remote policy.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 16
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
write_at "$X" 0 4096 || fail "write with healthy legs failed"

step "local leg fails writes (flakey error_writes): the writer gets EIO"
require_target flakey
dm_reload "$P-local" "0 $S flakey /dev/ram0 0 0 1 1 error_writes"
out=$(write_at "$X" 8192 4096 2>&1) && fail "write with a failing local leg succeeded"
[[ "$out" == *"Input/output error"* ]] || fail "expected EIO, dd said: $out"
log "ok: write failed: $out"
assert_cmp "$(status_field "$X" local_errors)" -gt 0 "local_errors"
# The remote is not to blame.
assert_status "$X" degraded_by none
assert_status "$X" remote_errors 0

step "reads still come from the local leg"
assert_eq "$(read_at "$L" 0 4096 | md5sum)" "$(read_at "$X" 0 4096 | md5sum)" "read through xrepl"

step "local leg repaired: writes work"
dm_reload "$P-local" "$(linear_table /dev/ram0)"
write_at "$X" 8192 4096 || fail "write after the local repair failed"
assert_eq "$(read_at "$X" 8192 4096 | md5sum)" "$(read_at "$R" 8192 4096 | md5sum)" "remote has the new data"

step "the failed write's region was resynced: the legs are equal again"
wait_for_status "$X" remote insync 60
legs_equal "$L" "$R" || fail "legs differ after the local error was resynced"
