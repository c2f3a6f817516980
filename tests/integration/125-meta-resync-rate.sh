#!/usr/bin/env bash
# Resync pacing: resync_rate_kbps (table and "set" message) is honoured
# within 20%, status reports the rate and consistent=no while copying; an
# unlimited full resync raced by verified writes leaves the legs equal.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

meta_legs 32
RS=128                          # 64 KiB regions
fill_random "$L"
export XREPL_META=$M
X=/dev/mapper/$P-x
RATE=4096                       # KiB/s: 32 MiB in 8 s

# rate_between DEV SECS: KiB/s of resync seen from outside, from the
# copied_regions counter sampled SECS apart by the host clock.
RB=$(( RS * 512 ))
rate_between() {
	local c0 c1 t0 t1
	c0=$(status_field "$1" copied_regions) t0=$(date +%s.%N)
	sleep "$2"
	c1=$(status_field "$1" copied_regions) t1=$(date +%s.%N)
	echo "($c1 - $c0) * $RB / 1024 / ($t1 - $t0)" | bc
}

step "initial full sync at $RATE KiB/s (table option)"
xrepl_create x "$L" "$R" region_size "$RS" resync_rate_kbps "$RATE"
assert_match "resync_rate_kbps $RATE" "$(dmsetup table "$P-x")" "table line"
sleep 2
assert_status "$X" consistent no
assert_status "$X" remote resyncing
r=$(status_field "$X" resync_rate)
assert_cmp "$r" -ge $(( RATE * 8 / 10 )) "resync_rate in status"
assert_cmp "$r" -le $(( RATE * 12 / 10 )) "resync_rate in status"
r=$(rate_between "$X" 3)
log "measured resync rate: $r KiB/s (limit $RATE)"
assert_cmp "$r" -ge $(( RATE * 8 / 10 )) "resync rate"
assert_cmp "$r" -le $(( RATE * 12 / 10 )) "resync rate"
wait_for_status "$X" remote insync 60
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R"

step "set resync_rate_kbps at run time"
must "set rate" dmsetup message "$P-x" 0 set resync_rate_kbps $(( RATE / 2 ))
assert_match "resync_rate_kbps $(( RATE / 2 ))" "$(dmsetup table "$P-x")" "table line"
must "resync full" dmsetup message "$P-x" 0 resync full
sleep 1
r=$(rate_between "$X" 4)
log "measured resync rate: $r KiB/s (limit $(( RATE / 2 )))"
assert_cmp "$r" -ge $(( RATE * 8 / 20 )) "resync rate"
assert_cmp "$r" -le $(( RATE * 12 / 20 )) "resync rate"
HI=$(( RATE * 3 / 2 ))
must "set rate" dmsetup message "$P-x" 0 set resync_rate_kbps "$HI"
must "resync full" dmsetup message "$P-x" 0 resync full
sleep 1
r=$(rate_between "$X" 2)
log "measured resync rate: $r KiB/s (limit $HI)"
assert_cmp "$r" -ge $(( HI * 8 / 10 )) "resync rate"
assert_cmp "$r" -le $(( HI * 12 / 10 )) "resync rate"
wait_for_status "$X" remote insync 60

step "bad set messages are refused"
kmsg_mark
for m in "set resync_rate_kbps" "set resync_rate_kbps -1" "set resync_rate_kbps 1x" \
	 "set bogus 1" "set resync_rate_kbps 99999999999"; do
	# shellcheck disable=SC2086
	if dmsetup message "$P-x" 0 $m 2>/dev/null; then
		fail "message '$m' was accepted"
	fi
done
assert_dmesg_contains "$(dmsetup info -c --noheadings -o major,minor "$P-x" | tr -d ' ')" "messages name the device"
assert_match "resync_rate_kbps $HI" "$(dmsetup table "$P-x")" "rate unchanged"

step "unlimited full resync raced by verified writes"
must "unlimited" dmsetup message "$P-x" 0 set resync_rate_kbps 0
must "resync full" dmsetup message "$P-x" 0 resync full
fio_verify "$X" race --rw=randwrite --bssplit=4k/60:64k/30:256k/10 \
	--iodepth=8 --size=32M --number_ios=3000 --randseed=5 || fio_check race $?
fio_check race 0
wait_for_status "$X" remote insync 120
assert_status "$X" consistent yes
assert_legs_equal "$L" "$R"
