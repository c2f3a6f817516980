#!/usr/bin/env bash
# A pair that replaces one degraded by congestion (a reload with another
# region size) returns to replicating by itself, as its predecessor would
# have; concurrent "set" messages do not undo each other; a zoned
# metadata device is refused.
# kernels: one
# The target's own logic (a successor's return, the set messages, a
# refusal at load); the suspend, reload and asynchronous paths it uses
# run on both kernels in 090, 095 and 130.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 32
XREPL_MODE=async xrepl_create x "$L" "$R" nosync max_lag_kb 256 congestion degrade
X=/dev/mapper/$P-x
LMM=$(devno "$L") RMM=$(devno "$R")

step "a slow remote: the lag bound degrades the pair (congestion)"
# Slow enough that the congestion lasts until the reload below.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 5000"
at_exit_first "dmsetup load $P-remote --table '$(linear_table /dev/ram1)' && dmsetup resume $P-remote"
# One write in flight at the slow remote first: the congestion that the
# burst below causes lasts until it completed, whatever the timing of the
# ship worker (with nothing in flight, it would end at once).
write_at "$X" 0 65536 || fail "write failed"
sleep 0.5
assert_cmp "$(status_field "$X" lag_writes)" -ge 1 "a write in flight at the remote"
dd if=/dev/urandom of="$X" bs=64k count=32 oflag=direct status=none || fail "write failed"
assert_status "$X" degraded_by congestion

step "reload with another region size: the successor inherits the congestion"
dm_reload "$P-x" "0 $S xrepl $LMM $RMM - async 6 region_size 2048 max_lag_kb 256 congestion degrade"
assert_status "$X" region_size 2048
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
step "it returns by itself and resyncs everything"
wait_for_status "$X" degraded_by none 60
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"

step "concurrent set messages each keep the other's value"
for (( i = 1; i <= 150; i++ )); do
	dmsetup message "$P-x" 0 set semi_timeout_ms "$i" || exit 1
done &
sp=$!
for (( i = 1; i <= 150; i++ )); do
	dmsetup message "$P-x" 0 set max_lag_kb $(( 1024 + i )) || exit 1
done
wait "$sp" || fail "a set message failed"
tbl=$(dmsetup table "$P-x")
log "table: $tbl"
assert_match ' semi_timeout_ms 150( |$)' "$tbl" "semi_timeout_ms after the race"
assert_match ' max_lag_kb 1174( |$)' "$tbl" "max_lag_kb after the race"

step "a zoned metadata device is refused"
if modprobe null_blk nr_devices=0 2>/dev/null &&
	mkdir /sys/kernel/config/nullb/"$P"z 2>/dev/null; then
	nb=/sys/kernel/config/nullb/"$P"z
	at_exit "rmdir $nb; rmmod null_blk 2>/dev/null || true"
	echo 64 >"$nb/size"
	# A kernel without zoned block devices (the debug kernel) refuses
	# the attributes, or the power-on of a zoned null_blk.
	if ! { echo 1 >"$nb/zoned" && echo 4 >"$nb/zone_size" &&
	       echo 1 >"$nb/memory_backed" && echo 1 >"$nb/power"; } 2>/dev/null; then
		log "this kernel has no zoned block devices: zoned check not run"
		exit 0
	fi
	# No udev in the guest: make the node from sysfs.
	zdev=$T_TMP/${P}z
	# The disk is named after its configfs directory.
	IFS=: read -r zmaj zmin <"/sys/block/${P}z/dev"
	mknod "$zdev" b "$zmaj" "$zmin" || fail "mknod $zdev failed"
	kmsg_mark
	out=$(dm_try_create "$P-z" "$(XREPL_META=$zdev xrepl_table "$L" "$R")") &&
		fail "a zoned metadata device was accepted"
	log "refused: $out"
	dmesg_wait -E 'xrepl: .*[Zz]oned' || fail "no error naming the zoned metadata device"
else
	log "null_blk with configfs not available: zoned check not run"
fi
