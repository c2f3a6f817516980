#!/usr/bin/env bash
# make check-all: the whole of make check (scripts/check.sh) on each kernel
# of the matrix, one after the other: Debian 12's default kernel (6.1)
# and its 6.12 kernel.  KUnit runs once (on UML, from the 6.1 source; it
# does not depend on the guest kernel), and so do the integration tests of
# userspace ("# kernels: one", see tests/run-integration.sh).  Ends with the line
# "N passed, N failed, N skipped" over all of them and exits non-zero if
# anything failed on any kernel.
#
# Usage: scripts/check-all.sh [FILTER...]
#   XREPL_KERNELS   the kernels, as series or full versions (default "6.1 6.12")
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

read -r -a kernels <<<"${XREPL_KERNELS:-6.1 6.12}"
t0=$(date +%s)
tp=0 tf=0 ts=0 first=1 lines=()
for k in "${kernels[@]}"; do
	phase_begin "make check on kernel $k"
	log_f=$(mktemp)
	skip_kunit=${XREPL_SKIP_KUNIT:-0} one_done=${XREPL_ONE_KERNEL_DONE:-0}
	(( first )) || { skip_kunit=1; one_done=1; }
	KVER=$k XREPL_SKIP_KUNIT=$skip_kunit XREPL_ONE_KERNEL_DONE=$one_done \
		"$SCRIPTS_DIR/check.sh" "$@" 2>&1 | tee "$log_f"
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log_f" | tail -n1)
	rm -f "$log_f"
	if [[ -z "$sum" ]]; then
		sum="0 passed, 1 failed, 0 skipped"
		echo "FAIL check-all: make check on $k printed no summary"
	fi
	read -r p _ f _ s _ <<<"${sum//,/}"
	tp=$(( tp + p )) tf=$(( tf + f )) ts=$(( ts + s ))
	lines+=("kernel $k: $sum")
	phase_end "$sum"
	first=0
done
echo
echo "=== check-all summary ($(( $(date +%s) - t0 ))s) ==="
printf '%s\n' "${lines[@]}"
echo "$tp passed, $tf failed, $ts skipped"
(( tf == 0 ))
