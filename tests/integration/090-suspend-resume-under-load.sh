#!/usr/bin/env bash
# Suspend/resume cycles and same-table reloads while fio writes with
# verification: nothing is lost, nothing errors, the legs stay equal.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 64
T=$(regions "$S" 1024)
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
table=$(dmsetup table "$P-x")

step "fio with verification; suspend/resume and reload under it"
bg fio_verify "$X" load --rw=randwrite --bssplit=4k/50:32k/30:128k/20 \
	--iodepth=8 --size=48M --rate=6m
fio_pid=$BG_PID
sleep 1
for i in 1 2 3 4; do
	must "suspend $i" dmsetup suspend "$P-x"
	sleep 0.3
	must "resume $i" dmsetup resume "$P-x"
	sleep 0.5
done
log "ok: 4 suspend/resume cycles"
for i in 1 2; do
	dm_reload "$P-x" "$table"
	sleep 0.5
done
log "ok: 2 reloads with the same table"
# Suspend without flushing (noflush) too: in-flight I/O must survive.
must "noflush suspend" dmsetup suspend --noflush "$P-x"
sleep 0.3
must "resume after noflush" dmsetup resume "$P-x"
rc=0
wait "$fio_pid" || rc=$?
fio_check load "$rc"

step "state and data after the storm"
assert_status "$X" remote insync
assert_status "$X" dirty "0/$T"
assert_status "$X" remote_errors 0
assert_status "$X" local_errors 0
assert_eq "$table" "$(dmsetup table "$P-x")" "table unchanged"
assert_legs_equal "$L" "$R"
