#!/usr/bin/env bash
# Host side of the dm-xrepl integration suite: build the module with W=1
# against the guest kernel's headers, boot one VM and run
# tests/guest/run-tests.sh in it, then report one line per test.
#
# Usage: tests/run-integration.sh [--no-build] [--no-setup] [--results FILE]
#                                 [--out DIR] [FILTER...]
#   FILTER  test name glob/substring (default: $T, else all tests)
#   --results FILE  also write the PASS/FAIL/SKIP lines to FILE
#
# Each test has a budget: its "# budget: N" line, else XREPL_TEST_TIMEOUT
# (180 s), times XREPL_TIME_SCALE (1).  The guest kills a test that runs
# out of it, which then fails alone.  The host watches the guest: if a test
# has not reported 90 s after its budget ran out (the guest hangs), or the
# guest dies (panic, timeout), the test that was running fails, and the
# tests after it run in a fresh guest (up to XREPL_MAX_BOOTS boots, 4).
# Each guest's timeout is the sum of its tests' budgets plus 5 minutes
# (XREPL_SUITE_TIMEOUT overrides it).
#
# A test with a "# kernels: one" line tests what does not depend on the
# kernel under the target: userspace (xreplctl and its services), the
# benchmark's scripts, or the target's own logic (the refusal of bad
# table lines, messages and metadata; resync pacing; the remote site's
# records and the decisions taken on them, whose I/O is the metadata
# I/O that other tests run on both kernels; verify and periodic mode,
# whose I/O is the resync's; a file system over the write order that
# another test checks on both).  It runs on one
# kernel: with XREPL_ONE_KERNEL_DONE=1 (the second kernel of .ci/run and
# make check-all) it is skipped.  Whatever touches the block layer (the
# I/O path, flushes, metadata I/O, resync, teardown, transports) runs on
# both.
#
# Environment: XREPL_SUITE_TIMEOUT, XREPL_TEST_TIMEOUT, XREPL_TIME_SCALE,
# XREPL_MAX_BOOTS, XREPL_ONE_KERNEL_DONE, KVER, XREPL_CACHE.
# Exit status: 0 when nothing failed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=tests/lib/header.sh
. "$(dirname "$0")/lib/header.sh"

do_build=1 do_setup=1 results="" out=""
while (( $# )); do
	case "$1" in
	--no-build) do_build=0; shift ;;
	--no-setup) do_setup=0; shift ;;
	--results) results=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
filters=("$@")
if (( ${#filters[@]} == 0 )) && [[ -n "${T:-}" ]]; then
	read -r -a filters <<<"$T"
fi

(( do_setup )) && "$SCRIPTS_DIR/setup.sh"
init_paths

if [[ -z "$out" ]]; then
	mkdir -p "$CACHE/runs"
	out=$(mktemp -d "$CACHE/runs/integration.$(date +%Y%m%d-%H%M%S).XXXX")
fi
mkdir -p "$out"
lines="$out/results.txt"
: >"$lines"
record() { echo "$*" | tee -a "$lines"; }

# --- build --------------------------------------------------------------------
ko_env=()
if (( do_build )); then
	log "building dm-xrepl.ko against $KDIR with W=1"
	brc=0
	build_module "$out/build.log" || brc=$?
	case $brc in
	0) record "PASS build" ;;
	2) record "FAIL build: compiler warnings (see $out/build.log)" ;;
	*) record "FAIL build: see $out/build.log" ;;
	esac
	# The offline tools, which the metadata tests use in the guest.
	log "building the offline tools (userspace/)"
	if make -C "$REPO_ROOT/userspace" >"$out/userspace-build.log" 2>&1; then
		record "PASS build-userspace"
	else
		record "FAIL build-userspace: see $out/userspace-build.log"
	fi
fi
if [[ ! -f "$MODULE_KO" ]]; then
	warn "no $MODULE_KO: xrepl tests will be skipped"
	ko_env=(--env XREPL_KO=none)
fi

# --- the suite in one VM ------------------------------------------------------
# The tests that should report, to notice ones lost to a crash or hang.
expected=()
one_kernel=()
for f in "$REPO_ROOT"/tests/integration/[0-9][0-9][0-9]-*.sh; do
	[[ -e "$f" ]] || continue
	name=$(basename "$f" .sh)
	# "# kernels: one": it does not depend on the kernel; it ran on the
	# first kernel of this run (XREPL_ONE_KERNEL_DONE=1).
	if [[ "${XREPL_ONE_KERNEL_DONE:-}" == 1 ]] &&
	   [[ "$(test_header "$f" kernels)" == one ]]; then
		one_kernel+=("$name")
		continue
	fi
	if (( ${#filters[@]} == 0 )); then expected+=("$name"); continue; fi
	for pat in "${filters[@]}"; do
		# shellcheck disable=SC2053
		if [[ "$name" == $pat || "$name" == *"$pat"* ]]; then expected+=("$name"); break; fi
	done
done
(( ${#expected[@]} )) || die "no test matches: ${filters[*]}"
for name in "${one_kernel[@]}"; do
	record "SKIP $name: kernel-independent, run on the first kernel (# kernels: one)"
done

# budget_of NAME: the seconds test NAME may take (the guest's rule).
budget_of() {
	local b
	b=$(test_header "$REPO_ROOT/tests/integration/$1.sh" budget)
	[[ "$b" =~ ^[0-9]+$ ]] || b=${XREPL_TEST_TIMEOUT:-180}
	echo $(( b * ${XREPL_TIME_SCALE:-1} ))
}

# has_result NAME: a verdict for NAME was recorded.
has_result() { grep -E -q "^(PASS|FAIL|SKIP) $1( |:|$)" "$lines"; }

# (Under set -e: every command here that may find nothing ends in || true;
# vm.sh may still wait for its lock, with no output.log yet.)
# watch_guest PID DIR: kill the guest of vm.sh PID (logs in DIR) when the
# test it runs has not reported 90 s after its budget ran out: the guest
# no longer makes progress.  The test's name is left in DIR/hung.
watch_guest() {
	local vpid=$1 dir=$2 last="" since now name budget
	since=$(date +%s)
	while kill -0 "$vpid" 2>/dev/null; do
		sleep 5
		line=$(grep -E '^RUN ' "$dir/output.log" 2>/dev/null | tail -n 1 || true)
		now=$(date +%s)
		if [[ "$line" != "$last" ]]; then
			last=$line since=$now
			continue
		fi
		[[ -n "$line" ]] || continue
		read -r _ name budget _ <<<"$line"
		grep -E -q "^(PASS|FAIL|SKIP) $name( |:|$)" "$dir/output.log" && continue
		if (( now - since > budget + 90 )); then
			warn "$name has not reported 90 s after its budget of ${budget}s: killing the guest"
			echo "$name" >"$dir/hung"
			kill -KILL "$(cat "$dir/qemu.pid" 2>/dev/null)" 2>/dev/null || true
			return
		fi
	done
}

log "running ${#expected[@]} integration test(s) in the VM (logs: $out)"
t0=$(date +%s)
remaining=("${expected[@]}")
boot=0
max_boots=${XREPL_MAX_BOOTS:-4}
while (( ${#remaining[@]} && boot < max_boots )); do
	boot=$(( boot + 1 ))
	bout=$out
	(( boot == 1 )) || { bout=$out/boot$boot; mkdir -p "$bout"; }
	sum=300
	for name in "${remaining[@]}"; do
		sum=$(( sum + $(budget_of "$name") + 15 ))
	done
	(( boot == 1 )) || log "a fresh guest for the ${#remaining[@]} test(s) left (boot $boot)"
	vrc=0
	"$SCRIPTS_DIR/vm.sh" --timeout "${XREPL_SUITE_TIMEOUT:-$sum}" --out "$bout" "${ko_env[@]}" \
		-- tests/guest/run-tests.sh "${remaining[@]}" &
	vpid=$!
	watch_guest "$vpid" "$bout"
	wait "$vpid" || vrc=$?

	# Per-test verdicts from this guest.
	grep -E '^(PASS|FAIL|SKIP) ' "$bout/output.log" >>"$lines" || true
	case $vrc in
	0|1) ;;   # 1: some test failed, already reported
	90) record "FAIL kernel-log: the guest console shows a kernel BUG/WARNING/oops (see $bout/console.log)" ;;
	91) record "FAIL vm: the guest was killed (timeout or no progress; see $bout/console.log)" ;;
	92) record "FAIL vm: the guest stopped without an exit status (panic?)" ;;
	*) record "FAIL vm: vm.sh exited with status $vrc" ;;
	esac
	# The test that was running when the guest died fails alone.
	running=$(grep -E '^RUN ' "$bout/output.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2 || true)
	if [[ -n "$running" ]] && ! has_result "$running"; then
		if [[ -s "$bout/hung" ]]; then
			record "FAIL $running: the guest stopped making progress during it (budget $(budget_of "$running")s)"
		else
			record "FAIL $running: the guest died during it (vm.sh exit $vrc; see $bout/console.log)"
		fi
	fi
	left=()
	for name in "${remaining[@]}"; do
		has_result "$name" || left+=("$name")
	done
	remaining=("${left[@]}")
done
log "integration suite took $(( $(date +%s) - t0 ))s in $boot guest(s)"
for name in "${remaining[@]}"; do
	record "FAIL $name: no result (the guest died $boot times; see $out)"
done
# The slowest tests, for whoever sets budgets.
sed -n 's/^PASS \([0-9][0-9]*-[^ ]*\) (\([0-9][0-9]*\)s)$/\2 \1/p' "$lines" | sort -rn | head -n 5 |
	awk 'BEGIN { printf "slowest:" } { printf " %s (%ss)", $2, $1 } END { print "" }'

echo
echo "=== integration results ==="
grep -E '^(PASS|FAIL|SKIP) ' "$lines"
[[ -n "$results" ]] && cp "$lines" "$results"
! grep -q '^FAIL ' "$lines"
