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
# Environment: XREPL_SUITE_TIMEOUT (VM timeout, default 1200 s),
# XREPL_TEST_TIMEOUT (per test, default 180 s), KVER, XREPL_CACHE.
# Exit status: 0 when nothing failed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"

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
for f in "$REPO_ROOT"/tests/integration/[0-9][0-9][0-9]-*.sh; do
	[[ -e "$f" ]] || continue
	name=$(basename "$f" .sh)
	if (( ${#filters[@]} == 0 )); then expected+=("$name"); continue; fi
	for pat in "${filters[@]}"; do
		# shellcheck disable=SC2053
		if [[ "$name" == $pat || "$name" == *"$pat"* ]]; then expected+=("$name"); break; fi
	done
done
(( ${#expected[@]} )) || die "no test matches: ${filters[*]}"

log "running ${#expected[@]} integration test(s) in the VM (logs: $out)"
t0=$(date +%s)
vrc=0
"$SCRIPTS_DIR/vm.sh" --timeout "${XREPL_SUITE_TIMEOUT:-1200}" --out "$out" "${ko_env[@]}" \
	-- tests/guest/run-tests.sh "${filters[@]}" || vrc=$?
log "integration suite took $(( $(date +%s) - t0 ))s"

# Per-test verdicts from the guest.
grep -E '^(PASS|FAIL|SKIP) ' "$out/output.log" >>"$lines" || true
for name in "${expected[@]}"; do
	if ! grep -E -q "^(PASS|FAIL|SKIP) $name( |:|$)" "$lines"; then
		record "FAIL $name: no result (guest crashed, hung or was killed; see $out/console.log)"
	fi
done
case $vrc in
0|1) ;;   # 1: some test failed, already reported
90) record "FAIL kernel-log: the guest console shows a kernel BUG/WARNING/oops (see $out/console.log)" ;;
91) record "FAIL vm: the guest timed out" ;;
92) record "FAIL vm: the guest stopped without an exit status (panic?)" ;;
*) record "FAIL vm: vm.sh exited with status $vrc" ;;
esac

echo
echo "=== integration results ==="
grep -E '^(PASS|FAIL|SKIP) ' "$lines"
[[ -n "$results" ]] && cp "$lines" "$results"
! grep -q '^FAIL ' "$lines"
