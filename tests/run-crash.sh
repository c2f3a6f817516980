#!/usr/bin/env bash
# Host side of the dm-xrepl crash tests: build the module with W=1 against
# the guest kernel's headers and the offline tools (userspace/), then run
# each tests/crash/NNN-*.sh on the host; every one boots the test VM itself
# (usually twice, on persistent disk images) and exits 0 (pass), 1 (fail)
# or 77 (skip).
#
# Usage: tests/run-crash.sh [--no-build] [--no-setup] [--results FILE]
#                           [--out DIR] [FILTER...]
#   FILTER  test name glob/substring (default: every test)
#   --results FILE  also write the result lines to FILE
#   --out DIR       logs, one directory and one .log per test (default: a
#                   new directory under $XREPL_CACHE/runs)
#
# Prints one line per test: "PASS crash:<name> (Ns)", "SKIP crash:<name>"
# or "FAIL crash:<name>: <reason>" (the test's own FAILED line).
# Environment: see the tests (XREPL_CRASH_TIMEOUT, XREPL_CRASH_KEEP), KVER,
# XREPL_CACHE; XREPL_ONE_KERNEL_DONE=1 skips the tests marked
# "# kernels: one" (as the integration tests).  Exit status: 0 when nothing failed.
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
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
filters=("$@")

(( do_setup )) && "$SCRIPTS_DIR/setup.sh"
init_paths

if [[ -z "$out" ]]; then
	mkdir -p "$CACHE/runs"
	out=$(mktemp -d "$CACHE/runs/crash.$(date +%Y%m%d-%H%M%S).XXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
lines="$out/results.txt"
: >"$lines"
record() { echo "$*" | tee -a "$lines"; }
finish() {
	[[ -n "$results" ]] && cp "$lines" "$results"
	! grep -q '^FAIL ' "$lines"
}

# --- build ------------------------------------------------------------------
if (( do_build )); then
	log "building dm-xrepl.ko against $KDIR with W=1, and userspace/"
	brc=0
	build_module "$out/build.log" || brc=$?
	case $brc in
	0) ;;
	2) record "FAIL crash:build: compiler warnings (see $out/build.log)" ;;
	*) record "FAIL crash:build: see $out/build.log"; finish; exit 1 ;;
	esac
	if ! make -s -C "$REPO_ROOT/userspace" >"$out/userspace-build.log" 2>&1; then
		record "FAIL crash:build: userspace/ does not build (see $out/userspace-build.log)"
		finish
		exit 1
	fi
fi

# --- the tests ----------------------------------------------------------------
selected=()
for f in "$REPO_ROOT"/tests/crash/[0-9][0-9][0-9]-*.sh; do
	[[ -e "$f" ]] || continue
	name=$(basename "$f" .sh)
	# "# kernels: one": it ran on the first kernel of this run.
	if [[ "${XREPL_ONE_KERNEL_DONE:-}" == 1 ]] &&
	   [[ "$(test_header "$f" kernels)" == one ]]; then
		record "SKIP crash:$name: kernel-independent, run on the first kernel (# kernels: one)"
		continue
	fi
	if (( ${#filters[@]} == 0 )); then selected+=("$f"); continue; fi
	for pat in "${filters[@]}"; do
		# shellcheck disable=SC2053
		if [[ "$name" == $pat || "$name" == *"$pat"* ]]; then selected+=("$f"); break; fi
	done
done
(( ${#selected[@]} )) || (( ${#filters[@]} == 0 )) || die "no crash test matches: ${filters[*]}"

for f in "${selected[@]}"; do
	name=$(basename "$f" .sh)
	log "crash test $name"
	t0=$(date +%s)
	rc=0
	XREPL_CRASH_OUT="$out/$name" bash "$f" 2>&1 | tee "$out/$name.log" || rc=$?
	dt=$(( $(date +%s) - t0 ))
	case $rc in
	0) record "PASS crash:$name (${dt}s)" ;;
	77) record "SKIP crash:$name: $(grep -o 'skipped: .*' "$out/$name.log" | tail -n 1 | sed 's/^skipped: //')" ;;
	*)
		why=$(grep -o 'FAILED: .*' "$out/$name.log" | tail -n 1 | sed 's/^FAILED: //' || true)
		record "FAIL crash:$name: ${why:-exit status $rc (see $out/$name.log)}"
		;;
	esac
done

echo
echo "=== crash test results ==="
grep -E '^(PASS|FAIL|SKIP) ' "$lines"
finish
