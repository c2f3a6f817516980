#!/usr/bin/env bash
# Guest-side runner of the dm-xrepl integration tests.  Runs inside the test
# VM (scripts/vm.sh), as root.
#
# Usage: tests/guest/run-tests.sh [FILTER...]
#   FILTER: a glob or substring of the test name (e.g. 010, '0[1-3]*',
#   remote); several filters select the union.  Without arguments the
#   filters come from $T (space separated); empty selects every test.
#
# Environment:
#   XREPL_KO            module to insmod (default dm-xrepl/dm-xrepl.ko);
#                       "none" runs without it (xrepl tests then skip)
#   XREPL_TEST_TIMEOUT  default budget of a test in seconds (180): a test
#                       may say "# budget: N" in its leading comments
#   XREPL_TIME_SCALE    every budget is multiplied by this (default 1; the
#                       debug kernel runs tests several times slower)
#   XREPL_OUT           directory for per-test logs (default /tmp/xrepl-tests)
#
# Prints "RUN <name> <budget>" as a test starts (the host watches for a
# guest that stops making progress), then one line per test: "PASS <name>
# (Ns)", "FAIL <name> (Ns): <reason>" or "SKIP <name>: <reason>", plus
# "PASS/FAIL module-load" and "PASS/FAIL module-unload".  A failing
# test's log tail is printed after its line.  Exits 1 if anything failed.
#
# A test is run again, once, when the guest's clock jumped during it (see
# clock_skew): the run is void, not failed.  Its share of the kernel log
# then ends with "xrepl-tests: CLOCK-JUMP <name> <seconds>", and
# scripts/vm.sh does not judge the lines from its START to that marker.
# The test sees its attempt in XREPL_TEST_ATTEMPT (1 or 2).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tests_dir="$repo/tests/integration"
ko=${XREPL_KO:-$repo/dm-xrepl/dm-xrepl.ko}
per_test_timeout=${XREPL_TEST_TIMEOUT:-180}
time_scale=${XREPL_TIME_SCALE:-1}
out=${XREPL_OUT:-/tmp/xrepl-tests}/tests
mkdir -p "$out"
export DM_DISABLE_UDEV=1 REPO_ROOT="$repo"

# Patterns of kernel trouble looked for in each test's share of the log.
SPLAT_RE='BUG:|WARNING:|Oops|general protection fault|Call Trace|blocked for more than|KASAN|UBSAN|unreferenced object|Kernel panic'

nfail=0 npass=0 nskip=0

# shellcheck source=tests/lib/header.sh
. "$repo/tests/lib/header.sh"
# test_budget FILE DEFAULT SCALE: the seconds a test may take: its
# "# budget: N" line (in its leading comment block), else DEFAULT; times
# SCALE.
test_budget() {
	local b
	b=$(test_header "$1" budget)
	[[ "$b" =~ ^[0-9]+$ ]] || b=$2
	echo $(( b * $3 ))
}
result() {  # result PASS|FAIL|SKIP "text"
	case "$1" in
	PASS) npass=$((npass + 1)) ;;
	FAIL) nfail=$((nfail + 1)) ;;
	SKIP) nskip=$((nskip + 1)) ;;
	esac
	echo "$1 $2"
}

kmsg() { echo "xrepl-tests: $*" >/dev/kmsg 2>/dev/null || true; }

# Under TCG the guest's clocks run on the host's raw TSC, which jumps when
# the host is itself a virtual machine that is migrated or restored (seen
# once: 487311 s forward in the middle of a test).  Every clock of the
# guest jumps with it: timeout(1) fires at once, and the kernel reports
# soft lockups and hung tasks that never happened.  The emulated RTC follows
# the host's wall clock instead, so the guest's wall clock minus the RTC's
# moves only when such a jump happens (slow drift stays far below
# CLOCK_JUMP_S).
RTC_EPOCH=/sys/class/rtc/rtc0/since_epoch
CLOCK_JUMP_S=60

# clock_skew: the guest's wall clock minus the RTC's, in seconds; empty
# without an RTC.
clock_skew() {
	local rtc
	rtc=$(cat "$RTC_EPOCH" 2>/dev/null) || return 0
	[[ "$rtc" =~ ^[0-9]+$ ]] || return 0
	echo $(( $(date +%s) - rtc ))
}

# clock_jumped BEFORE AFTER: print the jump in seconds and succeed when two
# skews differ by more than CLOCK_JUMP_S.
clock_jumped() {
	local d
	[[ -n "$1" && -n "$2" ]] || return 1
	d=$(( $2 - $1 ))
	(( d > CLOCK_JUMP_S || d < -CLOCK_JUMP_S )) || return 1
	echo "$d"
}

DRBDSETUP=""
for _p in /usr/lib/drbd/drbdsetup-84 /lib/drbd/drbdsetup-84; do
	[[ -x "$_p" ]] && { DRBDSETUP=$_p; break; }
done
NULLB_CFG=/sys/kernel/config/nullb
NVMET_CFG=/sys/kernel/config/nvmet

# DRBD resources that exist (8.4: "resource NAME {" lines of show all).
drbd_resources() {
	[[ -e /proc/drbd && -n "$DRBDSETUP" ]] || return 0
	"$DRBDSETUP" show all 2>/dev/null | awk '$1 == "resource" { print $2 }'
}

# Print one line per kind of device or export a test left behind:
# "<what>: <names>".  dm and loop devices are checked on their own.
find_leaks() {
	local l d
	l=$(find "$NULLB_CFG" -mindepth 1 -maxdepth 1 -type d -printf '%f ' 2>/dev/null)
	[[ -n "$l" ]] && echo "null_blk devices: $l"
	l=$(awk '/^md[0-9]/ { printf "%s ", $1 }' /proc/mdstat 2>/dev/null)
	[[ -n "$l" ]] && echo "md arrays: $l"
	l=$(find "$NVMET_CFG/subsystems" "$NVMET_CFG/ports" "$NVMET_CFG/hosts" -mindepth 1 \
		-maxdepth 1 -printf '%p ' 2>/dev/null | sed "s|$NVMET_CFG/||g")
	[[ -n "$l" ]] && echo "nvmet configfs entries: $l"
	l=""
	for d in /sys/class/nvme-fabrics/ctl/nvme*; do
		[[ -e "$d" ]] && l+="${d##*/} "
	done
	[[ -n "$l" ]] && echo "nvme-fabrics connections: $l"
	l=""
	for d in /sys/block/nbd*; do
		[[ -e "$d/pid" ]] && l+="${d##*/} "
	done
	[[ -n "$l" ]] && echo "connected nbd devices: $l"
	l=$(drbd_resources | tr '\n' ' ')
	[[ -n "$l" ]] && echo "DRBD resources: $l"
	return 0
}

# Remove every dm device (after a test leaked some) and everything else a
# test may leave behind (md arrays, DRBD resources, nbd and nvme-fabrics
# connections, nvmet exports, null_blk, loop and brd devices), in stacking
# order, so later tests start clean.
force_clean() {
	local n d
	for n in $(dmsetup ls 2>/dev/null | awk '$1 != "No" { print $1 }'); do
		dmsetup resume "$n" >/dev/null 2>&1
	done
	dmsetup remove_all --force >/dev/null 2>&1
	command -v mdadm >/dev/null && mdadm --stop --scan >/dev/null 2>&1
	for n in $(drbd_resources); do
		"$DRBDSETUP" down "$n" >/dev/null 2>&1
	done
	for d in /sys/block/nbd*; do
		[[ -e "$d/pid" ]] && nbd-client -d "/dev/${d##*/}" >/dev/null 2>&1
	done
	for d in /sys/class/nvme-fabrics/ctl/nvme*; do
		[[ -e "$d/delete_controller" ]] && echo 1 >"$d/delete_controller" 2>/dev/null
	done
	if [[ -d "$NVMET_CFG" ]]; then
		for d in "$NVMET_CFG"/ports/*; do
			[[ -d "$d" ]] || continue
			rm -f "$d"/subsystems/* "$d"/referrals/* 2>/dev/null
			rmdir "$d" 2>/dev/null
		done
		for d in "$NVMET_CFG"/subsystems/*; do
			[[ -d "$d" ]] || continue
			for n in "$d"/namespaces/*; do
				[[ -d "$n" ]] || continue
				echo 0 >"$n/enable" 2>/dev/null
				rmdir "$n" 2>/dev/null
			done
			rm -f "$d"/allowed_hosts/* 2>/dev/null
			rmdir "$d" 2>/dev/null
		done
		for d in "$NVMET_CFG"/hosts/*; do
			[[ -d "$d" ]] && rmdir "$d" 2>/dev/null
		done
	fi
	for d in "$NULLB_CFG"/*; do
		[[ -d "$d" ]] || continue
		echo 0 >"$d/power" 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
	grep -q '^null_blk ' /proc/modules && rmmod null_blk 2>/dev/null
	grep -q '^drbd ' /proc/modules && rmmod drbd 2>/dev/null
	losetup -D 2>/dev/null
	grep -q '^brd ' /proc/modules && rmmod brd 2>/dev/null
	return 0
}

# --- select the tests -------------------------------------------------------
filters=("$@")
if (( ${#filters[@]} == 0 )) && [[ -n "${T:-}" ]]; then
	read -r -a filters <<<"$T"
fi
selected=()
for f in "$tests_dir"/[0-9][0-9][0-9]-*.sh; do
	[[ -e "$f" ]] || continue
	name=$(basename "$f" .sh)
	if (( ${#filters[@]} == 0 )); then
		selected+=("$f")
		continue
	fi
	for pat in "${filters[@]}"; do
		# shellcheck disable=SC2053
		if [[ "$name" == $pat || "$name" == *"$pat"* ]]; then
			selected+=("$f")
			break
		fi
	done
done
echo "running ${#selected[@]} test(s) on $(uname -r), default budget ${per_test_timeout}s x $time_scale"

# --- modules ----------------------------------------------------------------
# Make hung I/O visible in the log well before the suite times out.
echo 60 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null || true
modprobe dm-mod || { result FAIL "module-load: cannot load dm-mod"; exit 1; }

xrepl_loaded=0
if [[ "$ko" != none ]]; then
	if [[ ! -f "$ko" ]]; then
		result FAIL "module-load: $ko does not exist"
	else
		deps=$(modinfo -F depends "$ko" 2>/dev/null | tr ',' ' ')
		for d in $deps; do
			modprobe "$d" || echo "warning: cannot load dependency $d"
		done
		if out_insmod=$(insmod "$ko" 2>&1); then
			xrepl_loaded=1
			result PASS "module-load"
		else
			result FAIL "module-load: insmod $ko: $out_insmod"
			dmesg | tail -n 20 | sed 's/^/    dmesg| /'
		fi
	fi
fi

# --- run --------------------------------------------------------------------
for f in "${selected[@]}"; do
	name=$(basename "$f" .sh)
	log="$out/$name.log"
	skipf="$out/$name.skip"
	budget=$(test_budget "$f" "$per_test_timeout" "$time_scale")
	rerun_note=""
	for attempt in 1 2; do
		rm -f "$skipf"
		# A second run says so, so that the host's watch starts its
		# budget afresh.
		echo "RUN $name $budget${rerun_note:+ again}"
		# The attempt is in the marker, so that the second run's share of the
		# kernel log starts at its own START.
		kmsg "START $name #$attempt"
		skew0=$(clock_skew)
		t0=$(date +%s)
		XREPL_TEST_ATTEMPT=$attempt TEST_SKIP_FILE="$skipf" \
			timeout -k 10 "$budget" bash "$f" >"$log" 2>&1 </dev/null
		rc=$?
		dt=$(( $(date +%s) - t0 ))
		skew1=$(clock_skew)
		kmsg "END $name #$attempt"
		if (( attempt == 1 )) && jump=$(clock_jumped "$skew0" "$skew1"); then
			# Let the kernel's detectors report the jump inside the window
			# the marker closes, put the wall clock back on the RTC's and
			# clean up whatever the killed run left.
			sleep 5
			kmsg "CLOCK-JUMP $name $jump"
			date -s "@$(cat "$RTC_EPOCH")" >/dev/null
			force_clean
			echo "NOTE $name: the guest's clock jumped ${jump}s against the RTC during it (the host's TSC moved): its run is void and it runs again"
			rerun_note=", run again after a clock jump of ${jump}s"
			continue
		fi
		break
	done
	# This test's part of the kernel log.
	dmesg | awk -v m="xrepl-tests: START $name #$attempt" 'index($0, m) { found = 1 } found' >"$out/$name.dmesg"

	problems=()
	case $rc in
	0) ;;
	77) ;;
	124|137) problems+=("ran out of its budget of ${budget}s") ;;
	*) problems+=("exit status $rc") ;;
	esac
	if grep -E -q "$SPLAT_RE" "$out/$name.dmesg"; then
		problems+=("kernel log shows a BUG/WARNING/oops")
	fi
	leftover=$(dmsetup ls 2>/dev/null | awk '$1 != "No" { print $1 }' | tr '\n' ' ')
	if [[ -n "$leftover" ]]; then
		problems+=("left dm devices behind: $leftover")
		force_clean
	fi
	if losetup -a 2>/dev/null | grep -q .; then
		problems+=("left loop devices behind")
		force_clean
	fi
	mapfile -t leaks < <(find_leaks)
	if (( ${#leaks[@]} )); then
		for l in "${leaks[@]}"; do
			problems+=("left ${l% } behind")
		done
		force_clean
	fi

	if (( ${#problems[@]} )); then
		# Join the reasons with "; ".
		reason=$(printf '%s; ' "${problems[@]}")
		result FAIL "$name (${dt}s${rerun_note}): ${reason%; }"
		echo "    --- last lines of $name's output:"
		tail -n 60 "$log" | sed 's/^/    | /'
		if grep -E -q "$SPLAT_RE" "$out/$name.dmesg"; then
			echo "    --- kernel log:"
			grep -E -B 3 -A 30 "$SPLAT_RE" "$out/$name.dmesg" | head -n 120 | sed 's/^/    | /'
		fi
	elif (( rc == 77 )); then
		result SKIP "$name: $(cat "$skipf" 2>/dev/null || echo 'no reason given')"
	else
		result PASS "$name (${dt}s${rerun_note})"
	fi
done

# --- kmemleak (debug kernels) ---------------------------------------------------
# Scanned while the module is still loaded, so that its symbols resolve in
# the backtraces; a leak is ours when a backtrace passes through it.
kml=/sys/kernel/debug/kmemleak
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if (( xrepl_loaded )) && [[ -w "$kml" ]]; then
	# Twice, as the kernel's documentation advises: objects freed in
	# between are not reported.
	echo scan >"$kml"
	sleep 5
	echo scan >"$kml"
	kml_leaks=$(awk '/^unreferenced object/ { if (obj ~ /xrepl/) print obj; obj = $0; next }
		{ obj = obj "\n" $0 } END { if (obj ~ /xrepl/) print obj }' "$kml")
	if [[ -n "$kml_leaks" ]]; then
		result FAIL "kmemleak: $(grep -c '^unreferenced object' <<<"$kml_leaks") leaked object(s) allocated through dm-xrepl"
		printf '%b\n' "$kml_leaks" | head -n 80 | sed 's/^/    | /'
	else
		result PASS "kmemleak: nothing leaked through dm-xrepl ($(grep -c '^unreferenced object' "$kml") unreferenced objects elsewhere)"
	fi
fi

# --- unload -----------------------------------------------------------------
if (( xrepl_loaded )); then
	if out_rmmod=$(rmmod dm-xrepl 2>&1); then
		result PASS "module-unload"
	else
		result FAIL "module-unload: rmmod dm-xrepl: $out_rmmod (refcount $(cat /sys/module/dm_xrepl/refcnt 2>/dev/null))"
	fi
fi

echo "guest suite finished (pass=$npass fail=$nfail skip=$nskip)"
(( nfail == 0 ))
