#!/usr/bin/env bash
# "mode" messages under load, in every direction (sync -> async ->
# semi-sync -> sync -> semi-sync -> async -> sync, repeated while the
# writer runs): no I/O error, fio verifies its data and the legs end
# equal.  Switching from async to sync while a lag is buffered drains it
# first: the status shows draining=1 until the lag is gone, and the
# writes keep going meanwhile.  (The order in which writes reach the
# remote across switches is checked by 170.)
# kernels: one
# The switches and the drain are the target's own logic; the I/O under
# them (each mode's writes, switches under writes, suspends) runs on
# both kernels in 020, 090, 130 and 170.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 96
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 10"
xrepl_create x "$L" "$R" nosync semi_timeout_ms 5
X=/dev/mapper/$P-x

step "every direction, repeatedly, under verified writes"
bg fio_verify "$X" switch --rw=randwrite --bssplit=4k/70:64k/30 --iodepth=8 \
	--size=48M --offset=0
pid=$BG_PID
prev=sync switches=0 drains=0 cycles=0
while kill -0 "$pid" 2>/dev/null || (( cycles == 0 )); do
	for m in async semi-sync sync semi-sync async sync; do
		sleep 0.5
		must "mode $m" dmsetup message "$P-x" 0 mode "$m"
		st=$(xrepl_status "$X")
		[[ "$st" == "mode=$m "* ]] || fail "status after 'mode $m': $st"
		[[ "$m" == sync && "$st" == *" draining=1 "* ]] && drains=$(( drains + 1 ))
		switches=$(( switches + 1 ))
		prev=$m
	done
	cycles=$(( cycles + 1 ))
done
rc=0
wait "$pid" || rc=$?
fio_check switch "$rc"
log "$switches mode switches in $cycles cycles ($drains switches to sync found a lag to drain)"
wait_for_status "$X" draining 0 60
wait_for_status "$X" lag_writes 0 60
assert_status "$X" mode "$prev"
assert_status "$X" remote insync
assert_status "$X" remote_errors 0
assert_status "$X" local_errors 0
assert_legs_equal "$L" "$R" "$S"

step "async -> sync with a lag: the lag drains first, writes go on"
must "mode async" dmsetup message "$P-x" 0 mode async
# A remote of 3 s a write: the drain outlasts however slow a status read is.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 3000"
bg fio_verify "$X" drain --rw=randwrite --bs=4k --iodepth=8 --size=16M --offset=64M
pid=$BG_PID
wait_for_cmp "$X" lag_writes -gt 0 60
must "mode sync" dmsetup message "$P-x" 0 mode sync
st=$(xrepl_status "$X")
log "status right after 'mode sync': $st"
[[ "$st" == "mode=sync "* && "$st" == *" draining=1 "* ]] ||
	fail "expected mode=sync with draining=1 right after the switch: $st"
# The remote fast again (the reload sends on what dm-delay holds).
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 10"
rc=0
wait "$pid" || rc=$?
fio_check drain "$rc"
wait_for_status "$X" draining 0 60
assert_status "$X" lag_writes 0
assert_status "$X" lag_bytes 0
# In sync mode again, a completed write is on the remote.
write_at "$X" $(( 90 << 20 )) 4096
assert_eq "$(read_at "$L" $(( 90 << 20 )) 4096 | md5sum)" \
	"$(read_at "$R" $(( 90 << 20 )) 4096 | md5sum)" "a sync write after the drain"
assert_legs_equal "$L" "$R" "$S"
