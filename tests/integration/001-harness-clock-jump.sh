#!/usr/bin/env bash
# Self-test of the runner: a run during which the guest's clock jumps is
# void and runs again (tests/guest/run-tests.sh), and what the kernel said
# in it is not held against the suite (scripts/vm.sh).  The first run
# moves the wall clock three days ahead, as a jump of the host's TSC does,
# and logs the soft lockup such a jump makes the kernel report; the second
# checks that the runner put the clock back on the RTC's and voided that run.
# Without the runner's handling the suite fails on the kernel log.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

rtc=/sys/class/rtc/rtc0/since_epoch
[[ -r "$rtc" ]] || skip "the guest has no RTC to tell a clock jump by"
# The first run leaves this behind (the guest's /tmp lives as long as it).
done_file=/tmp/$TEST_NAME.jumped

if [[ ! -e "$done_file" ]]; then
	step "first run: jump the wall clock three days ahead"
	: >"$done_file"
	date -s "@$(( $(date +%s) + 259200 ))" >/dev/null || fail "cannot set the clock"
	echo "BUG: soft lockup - CPU#0 stuck for 259200s! [simulated by $TEST_NAME]" >/dev/kmsg
	# Whatever this run says, it is void: the runner must not judge it.
	exit 0
fi

step "second run: the clock is back on the RTC's and the first run is void"
assert_eq 2 "${XREPL_TEST_ATTEMPT:-}" "the runner's attempt number"
skew=$(( $(date +%s) - $(cat "$rtc") ))
(( skew >= -5 && skew <= 5 )) || fail "the wall clock is ${skew}s off the RTC's after the jump"
log "ok: the wall clock is ${skew}s off the RTC's"
dmesg | grep -q "xrepl-tests: CLOCK-JUMP $TEST_NAME " ||
	fail "the kernel log has no CLOCK-JUMP marker for the first run"
log "ok: the first run is marked void in the kernel log"
