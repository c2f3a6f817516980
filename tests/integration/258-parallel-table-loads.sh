#!/usr/bin/env bash
# Table loads of different devices do not wait for each other's metadata
# I/O: while one device formats a metadata device whose writes take 5 s
# each, another device is created at once.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ramdisks 5 16
make_leg la /dev/ram0
make_leg ra /dev/ram1
dm_create "$P-ma" "0 8192 delay /dev/ram2 0 0 /dev/ram2 0 5000"
make_leg lb /dev/ram3
make_leg rb /dev/ram4
D=/dev/mapper/$P

step "device a formats a slow metadata device"
bg dmsetup create "$P-a" --table "$(XREPL_META=$D-ma xrepl_table "$D-la" "$D-ra" nosync)"
a_pid=$BG_PID
at_exit_first "dmsetup remove --retry $P-a 2>/dev/null || true"
sleep 1
kill -0 "$a_pid" 2>/dev/null || fail "device a did not wait for its metadata writes"

step "device b is created meanwhile"
t0=$(date +%s%N)
xrepl_create b "$D-lb" "$D-rb" nosync
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "device b created in $ms ms"
kill -0 "$a_pid" 2>/dev/null || fail "device a finished first: the test proves nothing"
wait "$a_pid" || fail "device a could not be created"
assert_status "/dev/mapper/$P-a" meta "$(devno "$D-ma")"
write_at "/dev/mapper/$P-b" 0 4096
assert_legs_equal "$D-lb" "$D-rb"
