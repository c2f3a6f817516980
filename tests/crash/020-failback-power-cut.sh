#!/usr/bin/env bash
# A power cut during the reverse resync of a failback, then the table
# loaded again: the resync finishes.  Four sparse disk images: site A's
# data and metadata (/dev/vda, /dev/vdb), site B's (/dev/vdc, /dev/vdd).
#
# Boot 1: A replicates to B (sync, remote_meta) and is removed cleanly;
#   B is promoted (xreplctl promote) and writes into every region; A is
#   demoted; B attaches A with a slow resync (the union of both bitmaps:
#   every region) and the machine is killed once some regions are copied.
#   Before the kill A's metadata must say "not consistent" (a copy is
#   running: A's data is no state B ever had).
# Boot 2: both metadata devices are valid (xrepl-check); A's still says
#   not consistent and the legs differ (else the test proves nothing).  B's
#   table with A as remote and remote_meta is loaded again: the connection
#   is accepted, the resync finishes, the legs are equal, B's data is what
#   it was before the cut, and A's metadata says consistent and live, then
#   stopped and consistent after a clean removal.
#
# What it checks is the failback's records on both sites and the decisions
# taken on them after the cut; 010 runs a power cut with writes and
# flushes in flight, and the resync after it, on both kernels.
# kernels: one
#
# Usage: tests/crash/020-failback-power-cut.sh  (usually via tests/run-crash.sh)
# Environment: see tests/crash/lib.sh.
set -euo pipefail

LEG_MIB=64           # data devices: 128 regions of 512 KiB
META_MIB=8
RATE_KBPS=2048       # the resync of boot 1: 64 MiB take about 30 s

# ============================ inside the guest ==============================
if [[ "${1:-}" == --guest ]]; then
	phase=${2:-}
	# shellcheck source=tests/lib/common.sh
	. "$(dirname "$0")/../lib/common.sh"
	# shellcheck source=tests/crash/lib.sh
	. "$TESTS_DIR/crash/lib.sh"
	OUT=${XREPL_OUT:-/run/xrepl-out}
	CTL=$(xrepl_tool xreplctl)
	ctl() { must "xreplctl $*" "$CTL" "$@"; }
	L=/dev/vda M=/dev/vdb R=/dev/vdc RM=/dev/vdd
	A=/dev/mapper/$P-a B=/dev/mapper/$P-b
	show_status() { log "status: $(xrepl_status "$B")"; }

	case $phase in
	boot1)
		crash_load_modules 4
		S=$(dev_sectors "$L")

		step "A replicates to B, then is removed cleanly"
		ctl create "$P-a" --local "$L" --remote "$R" --meta "$M" --remote-meta "$RM" --mode sync
		_DM_DEVS+=("$P-a")
		wait_for_status "$A" remote insync 120
		write_at "$A" 0 $(( 4 * 1024 * 1024 ))
		assert_legs_equal "$L" "$R"
		ctl remove "$P-a"

		step "B is promoted and writes into every region"
		ctl promote "$P-b" --local "$R" --meta "$RM" --mode sync
		_DM_DEVS+=("$P-b")
		assert_status "$B" degraded_by absent
		for (( off = 0; off < S * 512; off += 512 * 1024 )); do
			write_at "$B" $(( off + 8192 )) 4096
		done
		dev_md5 "$B" >"$OUT/b.md5"
		T=$(regions "$S" "$(status_field "$B" region_size)")
		assert_status "$B" dirty "$T/$T"

		step "A is demoted; B attaches it with a slow resync; the power is cut mid-copy"
		ctl demote --meta "$M"
		must "slow resync" dmsetup message "$P-b" 0 set resync_rate_kbps "$RATE_KBPS"
		ctl attach "$P-b" --remote "$L" --remote-meta "$M"
		assert_status "$B" peer ok
		assert_status "$B" resync_rate_kbps "$RATE_KBPS"
		wait_for_cmp "$B" copied_regions -ge 4 60
		show_status
		assert_eq 0 "$(sbe "$M" get flags)" "A's metadata while copying (not consistent)"
		assert_cmp "$(status_field "$B" dirty | cut -d/ -f1)" -gt 0 "regions left to copy"
		crash_kill
		;;
	boot2)
		crash_load_modules 4
		S=$(dev_sectors "$L")
		[[ -s "$OUT/b.md5" ]] || fail "no checksum of B's data from boot 1 in $OUT"

		step "after the cut: both metadata devices valid, A not consistent, the legs differ"
		crash_check_meta "$M" "$RM"
		assert_eq 0 "$(sbe "$M" get flags)" "A's metadata after the cut (not consistent)"
		legs_equal "$L" "$R" &&
			fail "the legs are equal after the cut: the copy was not interrupted, the test proves nothing"
		log "ok: the legs differ"

		step "B's table with A is loaded again: the resync finishes"
		ctl create "$P-b" --local "$R" --remote "$L" --meta "$RM" --remote-meta "$M" --mode sync
		_DM_DEVS+=("$P-b")
		assert_status "$B" peer ok
		wait_for_status "$B" remote insync 180
		wait_for_status "$B" resync_active 0 60
		show_status
		log "boot 2 copied $(status_field "$B" copied_regions) regions"
		assert_legs_equal "$R" "$L"
		assert_eq "$(cat "$OUT/b.md5")" "$(dev_md5 "$B")" "B's data as before the cut"
		# Written once the resync ended, by the peer work: poll.
		for (( i = 0; i < 60; i++ )); do
			[[ "$(sbe "$M" get flags)" == 5 ]] && break
			sleep 0.5
		done
		assert_eq 5 "$(sbe "$M" get flags)" "A's metadata in sync (consistent, live)"
		assert_eq "$(sbe "$RM" get gen_current)" "$(sbe "$M" get gen_current)" \
			"A at B's generation"

		step "clean removal: A stopped and consistent, both metadata devices valid"
		ctl remove "$P-b"
		assert_eq 1 "$(sbe "$M" get flags)" "A's metadata after removal"
		crash_check_meta "$M" "$RM"
		log "passed"
		;;
	*)
		fail "unknown guest phase '$phase'"
		;;
	esac
	exit 0
fi

# ============================== on the host =================================
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../../scripts/lib.sh"
# shellcheck source=tests/crash/lib.sh
. "$(dirname "$0")/lib.sh"
TEST_NAME=$(basename "$0" .sh)

crash_between() { crash_carry b.md5 "checksum of B's data"; }

crash_run a-data:$LEG_MIB a-meta:$META_MIB b-data:$LEG_MIB b-meta:$META_MIB
