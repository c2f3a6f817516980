#!/usr/bin/env bash
# Removal and reload races, in each mode: while fio writes and a resync
# copies (a new pair, rate-limited, behind a slow remote), the table is
# reloaded, the remote taken down and brought back, the rate changed, and
# then the device is removed by force under the writes (its table swapped
# for the error target, which tears the xrepl target down with I/O in
# flight and copies queued for the remote).  Nothing may oops, hang or
# leak a reference: after each round the module's reference count is back
# to zero, and the kernel reports no hung task.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 64
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 20"
kmsg_mark
refcnt() { cat /sys/module/dm_xrepl/refcnt; }
base=$(refcnt)

for mode in sync semi-sync async; do
	step "$mode: reload, remote down/up and rate changes under writes and a resync"
	XREPL_MODE=$mode xrepl_create x "$L" "$R" resync_rate_kbps 2048
	X=/dev/mapper/$P-x
	table=$(dmsetup table "$P-x")
	# fio goes on until the device fails under it; its errors are expected.
	bg fio --name=race --filename="$X" --direct=1 --ioengine=libaio \
		--rw=randwrite --bssplit=4k/60:64k/40 --iodepth=16 --time_based \
		--runtime=60 --output="$T_TMP/race-$mode.fio"
	fio_pid=$BG_PID
	sleep 1
	assert_status "$X" remote resyncing
	for i in 1 2; do
		dm_reload "$P-x" "$table"
		must "set rate" dmsetup message "$P-x" 0 set resync_rate_kbps $(( 1024 * i ))
		must "remote down" dmsetup message "$P-x" 0 remote down
		sleep 0.3
		must "remote up" dmsetup message "$P-x" 0 remote up
		sleep 0.5
	done
	assert_eq "$mode" "$(status_field "$X" mode)" "mode after the reloads"
	(( $(num_of "$(status_field "$X" dirty)") > 0 )) || fail "the resync ended too early"

	step "$mode: removed by force under the writes"
	# The error table goes in at once; the removal itself follows once
	# fio, failing, has closed the device.
	must "remove --force" dmsetup remove --force --retry "$P-x"
	rc=0
	wait "$fio_pid" || rc=$?
	log "fio ended with status $rc after the removal"
	dmsetup info "$P-x" >/dev/null 2>&1 && fail "$P-x still exists"
	assert_eq "$base" "$(refcnt)" "dm_xrepl references after the removal"
done

step "no hung task, nothing reported"
if dmesg_since_mark | grep -E 'blocked for more than|BUG|WARNING|refcount'; then
	fail "the kernel reported a problem"
fi
log "ok: clean kernel log"
