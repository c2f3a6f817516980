#!/usr/bin/env bash
# Each write is accounted once on the mapped device, whichever task submits
# its remote clone (the writer, or the remote submitter for large writes
# and while it polls): once idle, /sys/block/dm-N/inflight reads 0 0.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 64
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
DMN=dm-$(dmsetup info -c --noheadings -o minor "$P-x" | tr -d ' ')
POLL=/sys/module/dm_xrepl/parameters/remote_poll_us
[[ -w "$POLL" ]] || fail "no $POLL"
at_exit "echo 0 >$POLL"

# inflight_idle WHAT: the device's in-flight counters return to 0 0.
inflight_idle() {
	local v i
	for (( i = 0; i < 100; i++ )); do
		v=$(tr -s ' ' <"/sys/block/$DMN/inflight" | sed 's/^ //')
		[[ "$v" == "0 0" ]] && { log "ok: $1: inflight '$v'"; return 0; }
		sleep 0.1
	done
	fail "$1: /sys/block/$DMN/inflight reads '$v' with no I/O running"
}

step "64 KiB writes (remote clones submitted by the remote submitter)"
fio_verify "$X" big --rw=randwrite --bs=64k --iodepth=16 --numjobs=2 \
	--size=16m --offset_increment=16m --group_reporting || fio_check big $?
fio_check big 0
inflight_idle "64 KiB writes"

step "4 KiB writes while the remote submitter polls"
echo 200 >"$POLL"
fio_verify "$X" poll --rw=randwrite --bs=4k --iodepth=16 --numjobs=2 \
	--size=8m --offset_increment=16m --group_reporting || fio_check poll $?
fio_check poll 0
echo 0 >"$POLL"
inflight_idle "4 KiB writes, polling"
assert_legs_equal "$L" "$R"
