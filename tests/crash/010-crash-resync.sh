#!/usr/bin/env bash
# A crash of the source host with writes in flight, then a resync from the
# persistent bitmap.  Run on the host: it boots the test VM twice on the
# same three sparse disk images (scripts/vm.sh --drive), local, remote and
# metadata, seen in the guest as /dev/vda, /dev/vdb and /dev/vdc.
#
# Boot 1: xrepl over local=/dev/vda, remote=dm-delay over /dev/vdb (20 ms
#   per write, so that at any moment writes have reached the local leg but
#   not the remote), meta=/dev/vdc, nosync, region_size 128.  A writer
#   (crashtool.py) writes 4 KiB blocks with unique contents at random
#   offsets from 16 threads with O_DIRECT, calls fdatasync every 4 writes
#   and logs the writes it made durable; after a few seconds it creates
#   the kill file and vm.sh kills QEMU (SIGKILL) with writes in flight.
# Boot 2: before the device exists, xrepl-check and xrepl-dump of the
#   metadata; the legs must differ (else the test proves nothing) and only
#   in regions set in the bitmap (the write-intent invariant).  Then the
#   xrepl device (remote without delay) must resync to dirty=0 and
#   resync_active=0, the legs must be equal, every write logged durable
#   must be on the device (that one or a later one of the block), and
#   xrepl-check must pass again after the device is removed.
#
# The machine is killed, not the host: what the virtual disks completed
# survives whatever flushes the guest sent, so this checks what a crash
# leaves on the devices and how the next table loads it, not the kernel's
# flushes (the metadata and resync tests run those on both kernels).
# kernels: one
#
# Usage: tests/crash/010-crash-resync.sh        (usually via tests/run-crash.sh)
# Needs dm-xrepl/dm-xrepl.ko built against the guest kernel (run-crash.sh
# builds it); builds the offline tools in userspace/ if needed.
#
# Environment:
#   XREPL_CRASH_OUT      work directory: images, per-boot logs (default: a
#                        new directory under $XREPL_CACHE/runs)
#   XREPL_CRASH_TIMEOUT  VM timeout per boot in seconds (default 400)
#   XREPL_CRASH_KEEP=1   keep the images after a pass (they are always kept
#                        after a failure)
# Exit status 0 when the test passed, 1 when it failed.  A failure ends
# with a line "[010-crash-resync] FAILED: <reason>".
set -euo pipefail

LEG_MIB=192          # local and remote legs
META_MIB=8
REGION=128           # sectors: 64 KiB regions, 3072 of them
DELAY_MS=20          # remote write latency in boot 1
WRITE_SECONDS=5      # of writing before the kill
WRITERS=16           # threads, each with at most one write in flight

# ============================ inside the guest ==============================
if [[ "${1:-}" == --guest ]]; then
	phase=${2:-}
	# shellcheck source=tests/lib/common.sh
	. "$(dirname "$0")/../lib/common.sh"
	# shellcheck source=tests/crash/lib.sh
	. "$TESTS_DIR/crash/lib.sh"
	CRASHTOOL="$TESTS_DIR/crash/crashtool.py"
	TOOLS=${XREPL_TOOLS_DIR:-$REPO_ROOT/userspace}
	OUT=${XREPL_OUT:-/run/xrepl-out}
	X=/dev/mapper/$P-x

	# create_xrepl TABLE: create $X, or fail saying what the target said.
	create_xrepl() {
		local table=$1 kerr hint=""
		kmsg_mark
		# Not in $(...): dm_try_create registers the device for cleanup.
		if ! dm_try_create "$P-x" "$table" >"$T_TMP/create.out"; then
			sed 's/^/    | /' "$T_TMP/create.out" >&2
			kerr=$(dmesg_since_mark | grep -o 'xrepl: .*' | tail -n 1 || true)
			[[ "$kerr" == *"not supported yet"* ]] &&
				hint=" (this dm-xrepl.ko does not support metadata devices yet)"
			fail "the xrepl target refused the table with a metadata device: '${kerr:-no kernel message}'$hint; table: $table"
		fi
		udev_settle_node "$X"
	}

	show_status() { log "status: $(xrepl_status "$X")"; }
	# shellcheck disable=SC2317  # run through bg
	status_loop() { while sleep 1; do show_status; done; }

	case $phase in
	boot1)
		crash_load_modules 3
		require_target delay
		S=$(dev_sectors /dev/vda)
		T=$(regions "$S" "$REGION")
		rm -f "$OUT/durable.log"

		step "xrepl over a slow remote (dm-delay, ${DELAY_MS} ms writes), meta=/dev/vdc, nosync"
		dm_create "$P-rdelay" "0 $S delay /dev/vdb 0 0 /dev/vdb 0 $DELAY_MS"
		create_xrepl "0 $S xrepl /dev/vda /dev/mapper/$P-rdelay /dev/vdc sync 3 region_size $REGION nosync"
		show_status
		assert_ne - "$(status_field "$X" meta)" "meta"
		assert_status "$X" dirty "0/$T"
		assert_status "$X" remote insync

		step "writing for ${WRITE_SECONDS}s, then the kill with writes in flight"
		bg status_loop
		rc=0
		python3 -B "$CRASHTOOL" write "$X" --log "$OUT/durable.log" \
			--kill-file "$OUT/$KILL_FILE" --seconds "$WRITE_SECONDS" \
			--threads "$WRITERS" --sync-every 4 || rc=$?
		show_status
		fail "the writer ended (status $rc) and the machine was not killed"
		;;
	boot2)
		crash_load_modules 3
		S=$(dev_sectors /dev/vda)
		T=$(regions "$S" "$REGION")
		[[ -s "$OUT/durable.log" ]] || fail "no log of durable writes from boot 1 in $OUT"

		step "the metadata after the crash"
		rc=0
		"$TOOLS/xrepl-check" --data-size "$S" --region-size "$REGION" /dev/vdc || rc=$?
		(( rc == 0 )) || fail "xrepl-check of the metadata after the crash exited with $rc (0 = valid)"
		rc=0
		"$TOOLS/xrepl-dump" --json /dev/vdc >"$OUT/dump-after-crash.json" || rc=$?
		(( rc == 0 )) || fail "xrepl-dump --json /dev/vdc exited with $rc"
		"$TOOLS/xrepl-dump" /dev/vdc | cut -c 1-300 | sed 's/^/    | /'

		step "write intent: the legs differ only in regions set in the bitmap"
		rc=0
		python3 -B "$CRASHTOOL" intent /dev/vda /dev/vdb "$OUT/dump-after-crash.json" \
			--out "$OUT/intent.json" || rc=$?
		case $rc in
		0) log "ok: every differing block lies in a set region" ;;
		1) fail "write-intent invariant violated: blocks differ in regions whose bit is clear (see $OUT/intent.json)" ;;
		3) fail "the legs are equal after the crash: no write was in flight to the remote at the kill, so the test proves nothing" ;;
		*) fail "crashtool.py intent failed (exit $rc)" ;;
		esac

		step "resync from the bitmap (remote without delay)"
		create_xrepl "0 $S xrepl /dev/vda /dev/vdb /dev/vdc sync"
		show_status
		assert_status "$X" region_size "$REGION"
		wait_for_status "$X" dirty "0/$T" 180
		wait_for_status "$X" resync_active 0 60
		assert_status "$X" remote insync
		show_status

		step "the legs are equal"
		assert_legs_equal /dev/vda /dev/vdb "$S"

		step "every write logged durable before the crash is on the device"
		python3 -B "$CRASHTOOL" verify "$X" "$OUT/durable.log" ||
			fail "writes made durable by fdatasync before the crash are missing or damaged"

		step "the metadata after removing the device"
		dm_remove "$P-x"
		rc=0
		"$TOOLS/xrepl-check" --data-size "$S" --region-size "$REGION" /dev/vdc || rc=$?
		(( rc == 0 )) || fail "xrepl-check after the test exited with $rc (0 = valid)"
		"$TOOLS/xrepl-dump" /dev/vdc | grep -E '^(state|  flags|  generation|dirty_count)' | sed 's/^/    | /'
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
	crash_carry durable.log "log of durable writes before the kill"
	log "boot 1: $(wc -l <"$work/boot1/durable.log") writes were logged durable"
}

# The image as the host sees it, for good measure.
crash_after() {
	local rc=0
	"$REPO_ROOT/userspace/xrepl-check" --data-size $(( LEG_MIB * 2048 )) \
		--region-size "$REGION" "$work/meta.img" || rc=$?
	(( rc == 0 )) || crash_fail "xrepl-check of meta.img on the host exited with $rc"
}

crash_run local:$LEG_MIB remote:$LEG_MIB meta:$META_MIB
