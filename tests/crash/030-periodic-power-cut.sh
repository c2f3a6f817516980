#!/usr/bin/env bash
# A power cut of the source in the middle of a periodic cycle, then
# promote at the remote site.  Two pairs on eight sparse disk images:
#   pair U (undo):    local /dev/vda, meta /dev/vdb, remote /dev/vdc and
#                     its site's metadata /dev/vdd, large enough for an
#                     undo slot per region
#   pair N (no undo): local /dev/vde, meta /dev/vdf, remote /dev/vdg and
#                     /dev/vdh, too small for the cycle's regions
#
# Boot 1: both pairs in periodic mode complete a first cycle: that is the
#   point in time (the remote's checksum is kept).  Half the regions are
#   written again, a slow cycle starts (undo=guarding on U, undo=off on N)
#   and the machine is killed once some, not all, regions are copied.
# Boot 2: the metadata devices are valid (xrepl-check); both remotes
#   differ from their point (else the test proves nothing).  At the
#   remote site:
#   - U: promote writes the saved regions back: the copy is byte for byte
#     the image of the point, and its metadata is valid afterwards;
#   - N: promote is refused and changes nothing; with --force it promotes
#     the mixed copy and says it is not consistent.
#
# The undo's I/O is the copy's, which the integration tests run on both
# kernels; this is what a power cut leaves on the remote site's devices
# and what promote makes of it.
# kernels: one
#
# Usage: tests/crash/030-periodic-power-cut.sh  (usually via tests/run-crash.sh)
# Environment: see tests/crash/lib.sh.
set -euo pipefail

LEG_MIB=16           # data devices: 256 regions of 64 KiB
REGION=128
META_MIB=4
RMETA_MIB=24         # U's remote site: the bitmap and 256 slots of 68 KiB
RMETA_SMALL_MIB=1    # N's remote site: 14 slots
WRITTEN=128          # regions written again before the cycle
RATE_KBPS=256        # the cycle of boot 1: 4 regions a second

# ============================ inside the guest ==============================
if [[ "${1:-}" == --guest ]]; then
	phase=${2:-}
	# shellcheck source=tests/lib/common.sh
	. "$(dirname "$0")/../lib/common.sh"
	# shellcheck source=tests/crash/lib.sh
	. "$TESTS_DIR/crash/lib.sh"
	OUT=${XREPL_OUT:-/run/xrepl-out}
	CTL=$(xrepl_tool xreplctl)
	# The two pairs: name, local, meta, remote, remote site's metadata.
	# shellcheck disable=SC2034 # used through declare -n
	{
		U=(u /dev/vda /dev/vdb /dev/vdc /dev/vdd)
		N=(n /dev/vde /dev/vdf /dev/vdg /dev/vdh)
	}

	case $phase in
	boot1)
		crash_load_modules 8
		S=$(dev_sectors /dev/vda)
		B=$(( REGION * 512 ))
		for p in U N; do
			declare -n pp=$p
			step "pair ${pp[0]}: periodic mode, a first cycle: the point in time"
			fill_random "${pp[1]}"
			dm_create "$P-${pp[0]}" "0 $S xrepl ${pp[1]} ${pp[3]} ${pp[2]} periodic 6 region_size $REGION period_s 86400 remote_meta ${pp[4]}"
			periodic_point "/dev/mapper/$P-${pp[0]}" 1
			assert_legs_equal "${pp[1]}" "${pp[3]}"
			dev_md5 "${pp[3]}" >"$OUT/${pp[0]}.md5"
			unset -n pp
		done
		assert_status "/dev/mapper/$P-u" undo_slots "0/$(( (RMETA_MIB * 256 - 2) / 17 ))"

		step "half the regions written again; a slow cycle on both pairs"
		for p in u n; do
			X=/dev/mapper/$P-$p
			write_at "$X" 0 $(( WRITTEN * B ))
			must "slow" dmsetup message "$P-$p" 0 set resync_rate_kbps "$RATE_KBPS"
			must "cycle" dmsetup message "$P-$p" 0 cycle
		done
		wait_for_status "/dev/mapper/$P-u" undo guarding 30
		wait_for_status "/dev/mapper/$P-n" undo off 30
		for p in u n; do
			for _ in $(seq 600); do
				part=$(status_field "/dev/mapper/$P-$p" cycle)
				(( $(num_of "$part") >= 4 )) && break
				sleep 0.05
			done
			assert_cmp "$(num_of "$part")" -ge 4 "pair $p: regions copied before the cut ($part)"
			assert_cmp "$(num_of "$part")" -lt "$WRITTEN" "pair $p: regions copied before the cut ($part)"
			log "pair $p: $(xrepl_status "/dev/mapper/$P-$p")"
		done
		assert_cmp "$(status_field "/dev/mapper/$P-u" undo_saves)" -ge 4 "regions saved in U's undo area"
		"$CTL" status --meta /dev/vdd | grep -q "^  state       cycling$" ||
			fail "U's remote site during the cycle: $("$CTL" status --meta /dev/vdd)"
		crash_kill
		;;
	boot2)
		crash_load_modules 8
		for p in u n; do
			[[ -s "$OUT/$p.md5" ]] || fail "no checksum of pair $p's point from boot 1 in $OUT"
		done

		step "after the cut: the metadata devices are valid, the remotes are between two points"
		crash_check_meta /dev/vdb /dev/vdd /dev/vdf /dev/vdh
		for p in U N; do
			declare -n pp=$p
			[[ "$(dev_md5 "${pp[3]}")" != "$(cat "$OUT/${pp[0]}.md5")" ]] ||
				fail "pair ${pp[0]}: the remote equals its point: the cut came after the copies, the test proves nothing"
			unset -n pp
		done
		"$CTL" status --meta /dev/vdd --json >"$T_TMP/u.json" || fail "status --meta --json"
		assert_match '"undo": true' "$(cat "$T_TMP/u.json")" "U's remote site names its undo"

		step "U: promote writes the saved regions back: the image of the point"
		out=$("$CTL" promote "$P-dr" --local /dev/vdc --meta /dev/vdd --mode sync 2>&1) ||
			fail "promote failed: $out"
		_DM_DEVS+=("$P-dr")
		log "$out"
		assert_match "wrote back [0-9]+ regions from the undo area" "$out" "promote's rollback"
		assert_eq "$(cat "$OUT/u.md5")" "$(dev_md5 "/dev/mapper/$P-dr")" \
			"the promoted device: the image of the point"
		must "remove" "$CTL" remove "$P-dr"
		assert_eq "$(cat "$OUT/u.md5")" "$(dev_md5 /dev/vdc)" "U's remote leg: the image of the point"
		crash_check_meta /dev/vdd

		step "N: promote refused, nothing changed; --force promotes the mixed copy"
		before=$(dev_md5 /dev/vdh)
		data=$(dev_md5 /dev/vdg)
		expect_fail "promote of a copy a cycle was overwriting without undo" \
			"$CTL" promote "$P-dr" --local /dev/vdg --meta /dev/vdh --mode sync
		assert_eq "$before" "$(dev_md5 /dev/vdh)" "the refused promote left the metadata alone"
		assert_eq "$data" "$(dev_md5 /dev/vdg)" "the refused promote left the data alone"
		out=$("$CTL" promote "$P-dr" --local /dev/vdg --meta /dev/vdh --mode sync --force 2>&1) ||
			fail "promote --force failed: $out"
		_DM_DEVS+=("$P-dr")
		log "$out"
		assert_match "NOT consistent" "$out" "promote --force says what it promotes"
		assert_eq "$data" "$(dev_md5 "/dev/mapper/$P-dr")" "--force promotes the copy as it is"
		must "remove" "$CTL" remove "$P-dr"
		crash_check_meta /dev/vdh
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

crash_between() {
	local p
	for p in u n; do
		[[ -s "$work/boot1/$p.md5" ]] || crash_fail "boot 1 left no checksum of pair $p's point"
		cp "$work/boot1/$p.md5" "$work/boot2/"
	done
}

crash_run u-data:$LEG_MIB u-meta:$META_MIB u-rdata:$LEG_MIB u-rmeta:$RMETA_MIB \
	n-data:$LEG_MIB n-meta:$META_MIB n-rdata:$LEG_MIB n-rmeta:$RMETA_SMALL_MIB
