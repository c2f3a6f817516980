#!/usr/bin/env bash
# Target messages: garbage is refused (dmsetup fails, the kernel logs an
# error naming the device) and changes nothing; "resync" is refused while
# degraded; "resync" and "resync full" work when the remote is up.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 16
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
MM=$(devno "$X")
write_at "$X" 0 4096

# bad_message ARGS...: the message is refused and the status unchanged.
bad_message() {
	local before
	before=$(xrepl_status "$X")
	kmsg_mark
	expect_fail "message '$*'" dmsetup message "$P-x" 0 "$@"
	assert_eq "$before" "$(xrepl_status "$X")" "status after message '$*'"
	local k
	for (( k = 0; k < 20; k++ )); do
		dmesg_since_mark | grep -E -q "xrepl.*($P-x|$MM|dm-${MM#*:})" && break
		sleep 0.1
	done
	dmesg_since_mark | grep -E -q "xrepl.*($P-x|$MM|dm-${MM#*:})" ||
		{ dmesg_since_mark >&2; fail "no kernel error naming the device for message '$*'"; }
	log "ok: kernel error names the device: $(dmesg_since_mark | grep -E "xrepl" | tail -n1)"
}

step "garbage messages"
bad_message frobnicate
bad_message remote
bad_message remote sideways
bad_message remote up now
bad_message resync partial
bad_message 42
bad_message mode
bad_message mode fast
bad_message mode SYNC-ish
bad_message mode async now
bad_message set max_lag_kb 1
bad_message set max_lag_kb
bad_message set semi_timeout_ms 0
bad_message set congestion drop
bad_message set region_size 64
bad_message set nosync 1

step "tunables: set changes them and the table line shows them"
must "set max_lag_kb" dmsetup message "$P-x" 0 set max_lag_kb 2048
must "set semi_timeout_ms" dmsetup message "$P-x" 0 set semi_timeout_ms 7
must "set congestion" dmsetup message "$P-x" 0 set congestion degrade
assert_match ' semi_timeout_ms 7 max_lag_kb 2048 congestion degrade$' \
	"$(dmsetup table "$P-x")" "table after set"
ev=$(event_nr "$X")
must "mode async" dmsetup message "$P-x" 0 mode async
assert_status "$X" mode async
assert_match ' async ' "$(dmsetup table "$P-x")" "table shows the new mode"
assert_cmp "$(event_nr "$X")" -gt "$ev" "event number after a mode change"
must "mode semi-sync" dmsetup message "$P-x" 0 mode semi-sync
assert_status "$X" mode semi-sync
must "mode sync" dmsetup message "$P-x" 0 mode sync
assert_status "$X" mode sync
assert_status "$X" draining 0

step "resync is refused while degraded"
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 3 << 20 )) 4096
bad_message resync
bad_message resync full
assert_status "$X" remote degraded
assert_status "$X" dirty "1/$T"

step "remote up; resync with nothing dirty"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
c0=$(status_field "$X" copied_regions)
must "resync" dmsetup message "$P-x" 0 resync
sleep 1
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions "$c0"
assert_status "$X" dirty "0/$T"

step "resync full copies every region"
# Make the legs differ behind the target's back: resync full must repair it.
write_at "$R" $(( 5 << 20 )) 65536 /dev/zero
write_at "$L" $(( 5 << 20 )) 65536
ev=$(event_nr "$X")
must "resync full" dmsetup message "$P-x" 0 resync full
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
assert_status "$X" resync "$T/$T"
assert_status "$X" copied_regions $(( c0 + T ))
assert_status "$X" dirty "0/$T"
assert_cmp "$(event_nr "$X")" -gt "$ev" "event number after resync full"
assert_legs_equal "$L" "$R"
