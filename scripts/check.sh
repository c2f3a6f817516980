#!/usr/bin/env bash
# What `make check` runs:
#   1. setup      scripts/setup.sh (packages, guest kernel, initramfs)
#   2. build      dm-xrepl.ko against the guest kernel headers with W=1;
#                 any compiler or modpost warning is a failure
#   2b. userspace the userspace tools (userspace/: xrepl-dump, xrepl-check,
#                 xreplctl) and their host-side tests, tests/userspace/run.sh; its
#                 "PASS userspace:<case>" / "FAIL userspace:<case>" lines count
#   2c. packaging tests/packaging.sh: make install, a dkms build and the
#                 Debian packages (make deb), in scratch trees
#                 ("PASS packaging:<case>" lines)
#   3. kunit      scripts/kunit.sh, when present and executable; its
#                 "PASS kunit:<case>" / "FAIL kunit:<case>" lines count
#   3b. lint      scripts/lint.sh: checkpatch --strict, sparse, W=1 (also
#                 of the KUnit file in the UML tree)
#   4. integration  tests/run-integration.sh: the suite in one QEMU guest
#   5. crash      tests/run-crash.sh: crash tests, two guest boots each on
#                 persistent disk images ("PASS crash:<name>" lines)
# and finally the line "N passed, N failed, N skipped".  Exits non-zero if
# anything failed, including a kernel BUG/WARNING/oops seen by vm.sh.
#
# Usage: scripts/check.sh [FILTER...]   (or T=<filter> make check)
#   FILTER selects integration tests by name glob/substring; setup, build
#   and kunit always run.  XREPL_SKIP_KUNIT=1 skips the kunit phase,
#   XREPL_SKIP_CRASH=1 the crash phase.  XREPL_ONE_KERNEL_DONE=1 (the second
#   kernel of .ci/run and make check-all) skips what does not depend on the
#   kernel and ran with the first: the userspace and packaging phases, the
#   kernel-independent lint steps and the "# kernels: one" integration
#   tests.
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

results_init check

# --- 1. setup ---------------------------------------------------------------
phase_begin "setup"
if ! "$SCRIPTS_DIR/setup.sh"; then
	phase_end "FAILED"
	add_result "FAIL setup: scripts/setup.sh failed"
	summary summary
	exit 1
fi
init_paths
phase_end "ok"

# --- 2. build ---------------------------------------------------------------
phase_begin "build dm-xrepl.ko (W=1, warnings are errors) against $KVER"
brc=0
build_module "$run_dir/build.log" || brc=$?
case $brc in
0) add_result "PASS build"; phase_end "ok" ;;
2) add_result "FAIL build: compiler warnings (see $run_dir/build.log)"; phase_end "warnings" ;;
*) add_result "FAIL build: see $run_dir/build.log"; phase_end "FAILED" ;;
esac

# --- 2b. userspace -------------------------------------------------------------
if [[ "${XREPL_ONE_KERNEL_DONE:-0}" == 1 ]]; then
	add_result "SKIP userspace: host-side, run with the first kernel (XREPL_ONE_KERNEL_DONE=1)"
	add_result "SKIP packaging: host-side, run with the first kernel (XREPL_ONE_KERNEL_DONE=1)"
else
phase_begin "userspace tools (userspace/) and their host-side tests"
urc=0
"$REPO_ROOT/tests/userspace/run.sh" --results "$run_dir/userspace.txt" \
	>"$run_dir/userspace.log" 2>&1 || urc=$?
if [[ -f "$run_dir/userspace.txt" ]]; then
	cat "$run_dir/userspace.txt" >>"$results"
	# Only what failed, with its details, and the count.
	grep -v '^PASS ' "$run_dir/userspace.log" || true
else
	cat "$run_dir/userspace.log"
	add_result "FAIL userspace: tests/userspace/run.sh produced no results (exit $urc)"
fi
phase_end "exit status $urc, $(grep -c '^PASS ' "$run_dir/userspace.txt" 2>/dev/null || true) passed"

# --- 2c. packaging -------------------------------------------------------------
phase_begin "packaging (make install, systemd units, dkms build, make deb; scratch trees)"
prc=0
"$REPO_ROOT/tests/packaging.sh" >"$run_dir/packaging.log" 2>&1 || prc=$?
grep -E '^(PASS|FAIL|SKIP) packaging:' "$run_dir/packaging.log" >>"$results" || true
grep -v '^PASS ' "$run_dir/packaging.log" || true
if ! grep -q '^packaging tests:' "$run_dir/packaging.log"; then
	add_result "FAIL packaging: tests/packaging.sh did not finish (exit $prc)"
fi
phase_end "exit status $prc"
fi

# --- 3. kunit -----------------------------------------------------------------
kunit="$SCRIPTS_DIR/kunit.sh"
if [[ "${XREPL_SKIP_KUNIT:-0}" == 1 ]]; then
	add_result "SKIP kunit: XREPL_SKIP_KUNIT=1"
elif [[ -x "$kunit" ]]; then
	phase_begin "kunit (scripts/kunit.sh)"
	krc=0
	"$kunit" 2>&1 | tee "$run_dir/kunit.log" || krc=$?
	grep -E '^(PASS|FAIL|SKIP) kunit:' "$run_dir/kunit.log" >>"$results" || true
	if (( krc != 0 )) && ! grep -E -q '^FAIL kunit:' "$run_dir/kunit.log"; then
		add_result "FAIL kunit: scripts/kunit.sh exited with status $krc (see $run_dir/kunit.log)"
	fi
	phase_end "exit status $krc, $(grep -E -c '^PASS kunit:' "$run_dir/kunit.log") passed, $(grep -E -c '^FAIL kunit:' "$run_dir/kunit.log") failed"
else
	info "scripts/kunit.sh not present or not executable: no kunit phase"
fi

# --- 3b. lint -----------------------------------------------------------------
phase_begin "lint (checkpatch --strict, sparse C=2)"
# The second kernel lints only what depends on it (the module's sparse and
# W=1 builds); the rest ran with the first.
lint_kernel_only=0
[[ "${XREPL_ONE_KERNEL_DONE:-0}" == 1 ]] && lint_kernel_only=1
if XREPL_LINT_KERNEL_ONLY=$lint_kernel_only "$SCRIPTS_DIR/lint.sh" >"$run_dir/lint.log" 2>&1; then
	add_result "PASS lint"
	phase_end "ok"
else
	cat "$run_dir/lint.log"
	add_result "FAIL lint: see $run_dir/lint.log"
	phase_end "FAILED"
fi

# --- 4. integration -----------------------------------------------------------
phase_begin "integration tests in QEMU"
run_suite integration "$REPO_ROOT/tests/run-integration.sh" --no-setup --no-build "$@"

# --- 5. crash -------------------------------------------------------------------
if [[ "${XREPL_SKIP_CRASH:-0}" == 1 ]]; then
	add_result "SKIP crash: XREPL_SKIP_CRASH=1"
else
	phase_begin "crash tests in QEMU (two boots each)"
	run_suite crash "$REPO_ROOT/tests/run-crash.sh" --no-setup --no-build
fi

summary summary
