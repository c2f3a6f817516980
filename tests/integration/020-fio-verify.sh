#!/usr/bin/env bash
# fio random and sequential writes of mixed block sizes with crc32c
# verification, also with the polling remote submitter (remote_poll_us);
# afterwards both legs must be identical and in sync.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ram_legs 64
T=$(regions "$S" 1024)

xrepl_create x "$L" "$R"
X=/dev/mapper/$P-x
wait_for_status "$X" remote insync 60

step "random writes, 4k..256k, queue depth 8, verified"
rc=0
fio_verify "$X" randmix --rw=randwrite --bssplit=4k/40:8k/20:64k/25:256k/15 \
	--iodepth=8 --size=48M --offset=4M || rc=$?
fio_check randmix "$rc"

step "sequential writes with unaligned-to-region 12k blocks, verified"
rc=0
fio_verify "$X" seq12k --rw=write --bs=12k --iodepth=4 --size=16M --offset=52M || rc=$?
fio_check seq12k "$rc"

step "overwrite with random 4k while reading, verified"
rc=0
fio_verify "$X" rw4k --rw=randrw --rwmixread=30 --bs=4k --iodepth=16 \
	--size=8M --offset=0 --verify_backlog=256 || rc=$?
fio_check rw4k "$rc"

step "with the polling remote submitter (remote_poll_us=200): random writes, verified"
POLL=/sys/module/dm_xrepl/parameters/remote_poll_us
[[ -w "$POLL" ]] || fail "no module parameter remote_poll_us"
echo 200 >"$POLL"
rc=0
fio_verify "$X" poll --rw=randwrite --bssplit=4k/70:16k/10:128k/20 \
	--iodepth=16 --size=32M --offset=8M || rc=$?
fio_check poll "$rc"
echo 0 >"$POLL"

step "both legs identical, nothing dirty"
assert_status "$X" remote insync
assert_status "$X" dirty "0/$T"
assert_status "$X" remote_errors 0
assert_status "$X" local_errors 0
w=$(status_field "$X" writes)
assert_cmp "$w" -gt 1000 "write bios counted"
assert_eq "$w" "$(status_field "$X" remote_writes)" "remote_writes equals writes while in sync"
assert_legs_equal "$L" "$R" "$S"
