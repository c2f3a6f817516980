#!/usr/bin/env bash
# Semi-sync mode: a write is acknowledged when the remote has it or
# semi_timeout_ms after it was issued, whichever comes first.  With a
# remote faster than the timeout every acknowledged write is already on
# the remote; with a remote slower than the timeout the write latency is
# bounded by about local + timeout and the writes follow as async; when
# the remote fails, the writes waiting for it are acknowledged at once and
# their regions resynced later.
# kernels: one
# The timeout and the acknowledgement are the target's own logic; its
# I/O (semi-sync writes acknowledged on the timeout, with the remote
# slower) runs on both kernels in 170, 281 and 282.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 64
T=$(regions "$S" 1024)
# delay_remote MS: the remote's writes take MS (dm-delay; reads are not delayed).
delay_remote() {
	dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 $1"
}
delay_remote 30
XREPL_MODE=semi-sync xrepl_create x "$L" "$R" nosync semi_timeout_ms 1000
X=/dev/mapper/$P-x
assert_status "$X" mode semi-sync
assert_match ' semi-sync 5 region_size 1024 nosync semi_timeout_ms 1000$' \
	"$(dmsetup table "$P-x")" "table of a semi-sync pair"

step "remote faster than the timeout: a completed write is on the remote"
for i in 1 2 3 4 5; do
	off=$(( i * 1048576 ))
	write_at "$X" "$off" 4096
	assert_eq "$(read_at "$L" "$off" 4096 | md5sum)" "$(read_at "$R" "$off" 4096 | md5sum)" \
		"remote copy of write $i as soon as it completed"
	assert_status "$X" lag_writes 0
done
assert_status "$X" semi_timeouts 0

step "verified writes at queue depth 4: none times out, legs equal"
fio_verify "$X" semi --rw=randwrite --bssplit=4k/70:64k/30 --iodepth=4 \
	--size=4M --offset=8M || fio_check semi $?
fio_check semi 0
assert_status "$X" semi_timeouts 0
assert_status "$X" lag_writes 0
assert_status "$X" remote insync
assert_legs_equal "$L" "$R" "$S"

step "remote slower than the timeout: latency about local + timeout"
delay_remote 400
must "set semi_timeout_ms" dmsetup message "$P-x" 0 set semi_timeout_ms 20
fio --name=lat --filename="$X" --direct=1 --ioengine=psync --rw=randwrite \
	--bs=4k --size=4M --offset=16M --number_ios=50 --output-format=json \
	--output="$T_TMP/lat.json" || fail "fio latency job failed"
read -r n max_ms mean_ms < <(python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))["jobs"][0]["write"]
print(w["total_ios"], int(w["clat_ns"]["max"] / 1e6), int(w["clat_ns"]["mean"] / 1e6))
' "$T_TMP/lat.json")
log "50 writes, remote 400 ms, timeout 20 ms: mean ${mean_ms} ms, max ${max_ms} ms"
assert_eq 50 "$n" "writes done"
# Bounded by the timeout, not by the remote: far below its 400 ms.
assert_cmp "$max_ms" -lt 200 "largest write latency (ms)"
assert_cmp "$mean_ms" -ge 15 "mean latency (ms): the writes waited for the timeout"
assert_cmp "$(status_field "$X" semi_timeouts)" -ge 50 "writes acknowledged on the timeout"
wait_for_status "$X" lag_writes 0 60
assert_status "$X" remote insync
assert_legs_equal "$L" "$R" "$S"

step "the remote fails while writes wait for it: they complete at once"
must "set semi_timeout_ms" dmsetup message "$P-x" 0 set semi_timeout_ms 60000
delay_remote 300
bg fio_verify "$X" fault --rw=randwrite --bs=4k --iodepth=4 --size=1M --offset=24M
pid=$BG_PID
wait_for_cmp "$X" lag_writes -gt 0 60
t0=$SECONDS
dm_reload "$P-remote" "0 $S error"
rc=0
wait "$pid" || rc=$?
fio_check fault "$rc"
log "the job ended $(( SECONDS - t0 )) s after the remote failed"
assert_cmp $(( SECONDS - t0 )) -lt 40 "seconds until the writes completed (the timeout is 60)"
wait_for_status "$X" lag_writes 0 60
assert_status "$X" remote degraded
assert_status "$X" degraded_by error
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -gt 0 "dirty regions"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_status "$X" dirty "0/$T"
assert_legs_equal "$L" "$R" "$S"
