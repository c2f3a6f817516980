#!/usr/bin/env bash
# make check-debug: the KUnit suites and the integration suite on a debug
# kernel (scripts/debug-kernel.sh: Debian's 6.1 source with KASAN, lockdep,
# kmemleak, debug objects, SLUB debugging and hung-task detection).  Any
# KASAN, lockdep, kmemleak (through dm-xrepl) or hung-task report fails
# the run.  The first run builds the kernel (about 40 minutes); later ones
# reuse it.  Tests take several times longer than on the stock kernel.
#
# Usage: scripts/check-debug.sh [FILTER...]
# Ends with "N passed, N failed, N skipped".
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/kunit-lib.sh
. "$SCRIPTS_DIR/kunit-lib.sh"

results_init check-debug

phase_begin "setup (host packages) and the debug kernel"
if ! "$SCRIPTS_DIR/setup.sh" >"$run_dir/setup.log" 2>&1; then
	cat "$run_dir/setup.log"
	add_result "FAIL setup: scripts/setup.sh failed"
	summary
	exit 1
fi
if ! vars=$("$SCRIPTS_DIR/debug-kernel.sh" 2> >(tee "$run_dir/debug-kernel.log" >&2) | tail -n 1); then
	add_result "FAIL debug-kernel: scripts/debug-kernel.sh failed (see $run_dir/debug-kernel.log)"
	summary
	exit 1
fi
KVER=$(sed -n 's/^KVER=\([^ ]*\) .*/\1/p' <<<"$vars")
KDIR=$(sed -n 's/.* KDIR=\(.*\)$/\1/p' <<<"$vars")
export KVER KDIR
phase_end "kernel $KVER"

phase_begin "the KUnit suites as a module of the debug kernel"
kmod="$CACHE/debug-kernel/kunit-module"
rm -rf "$kmod"
if { kunit_lists && kunit_copy "$kmod" && kunit_kbuild m >"$kmod/Kbuild"; } >"$run_dir/kunit-build.log" 2>&1 &&
	make -C "$KDIR" M="$kmod" -j"$(nproc)" modules >>"$run_dir/kunit-build.log" 2>&1; then
	add_result "PASS kunit-module-build"
	export XREPL_KUNIT_KO="$kmod/dm-xrepl-kunit.ko"
else
	tail -n 30 "$run_dir/kunit-build.log"
	add_result "FAIL kunit-module-build: see $run_dir/kunit-build.log"
fi
phase_end

phase_begin "integration tests on the debug kernel"
# The benchmark's smoke test without NVMe/TCP: 6.1's nvmet-tcp draws a
# lockdep report of its own when a controller goes (900-bench-smoke.sh).
export XREPL_BENCH_SMOKE_REMOTE=${XREPL_BENCH_SMOKE_REMOTE:-delay}
# Every test's budget five times over (180 s: 900 s); the guests' timeouts
# follow from the budgets.
export XREPL_TIME_SCALE=${XREPL_TIME_SCALE:-5}
run_suite integration "$REPO_ROOT/tests/run-integration.sh" --no-setup "$@"
summary "check-debug summary"
