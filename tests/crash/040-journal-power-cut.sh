#!/usr/bin/env bash
# A crash of the source host (the machine killed: what the devices had
# completed survives, what was in flight is lost) in async mode with
# a journal, the remote lagging.  Four sparse disk images: local /dev/vda, remote /dev/vdb,
# metadata /dev/vdc, journal /dev/vdd.
#
# Boot 1: xrepl async over local, a slow remote (dm-delay, DELAY_MS per
#   write), the metadata and the journal.  One writer (crashtool.py, one
#   thread: each write waits for the one before) writes 4 KiB blocks with
#   unique contents at random offsets, calls fdatasync after every SYNC
#   writes (an epoch of the ship queue each) and logs the writes it made
#   durable; the machine is killed with the remote behind.  max_lag_kb
#   is 256: 32 entries are kept in memory, those after them are spilled
#   (held by the log only), so the cut finds both.
# Boot 2, before the device exists:
#   - the journal is valid and holds the log of the writes the remote did
#     not complete (xrepl-check, xrepl-dump);
#   - the remote, read raw, is a state a crash of the source could have
#     left: every epoch before the newest write it holds is whole there
#     (crashtool.py prefix), and it lacks writes made durable (else the
#     test proves nothing).
#   Then the device is created (remote without delay): the kernel walks
#   the log and finds the entries the offline tool counted, and replays
#   it, the marked regions rolled forward after it: the remote stays
#   consistent and the resync copies nothing; the legs are equal, every
#   write logged durable is on the device, and the journal is valid and
#   empty after the device goes.
#
# The journal's I/O is tested on both kernels by the integration tests;
# this is what a crash leaves on the devices, and how a table loads it.
# kernels: one
#
# Usage: tests/crash/040-journal-power-cut.sh  (usually via tests/run-crash.sh)
# Environment: see tests/crash/lib.sh.
set -euo pipefail

LEG_MIB=64           # local and remote legs
META_MIB=4
# Room for the log and for the marked regions rolled forward (at most
# the whole device).
JNL_MIB=192
DELAY_MS=100         # remote write latency in boot 1
SYNC=16              # writes between two fdatasyncs
WRITE_SECONDS=5      # of writing before the kill
SEED=7

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

	show_status() { log "status: $(xrepl_status "$X")"; }
	# shellcheck disable=SC2317  # run through bg
	status_loop() { while sleep 1; do show_status; done; }

	case $phase in
	boot1)
		crash_load_modules 4
		require_target delay
		S=$(dev_sectors /dev/vda)
		rm -f "$OUT/durable.log"

		step "xrepl async over a slow remote (dm-delay, ${DELAY_MS} ms writes), meta=/dev/vdc, journal=/dev/vdd"
		dm_create "$P-rdelay" "0 $S delay /dev/vdb 0 0 /dev/vdb 0 $DELAY_MS"
		dm_create "$P-x" "0 $S xrepl /dev/vda /dev/mapper/$P-rdelay /dev/vdc async 5 nosync max_lag_kb 256 journal /dev/vdd"
		udev_settle_node "$X"
		show_status
		assert_status "$X" remote insync
		assert_status "$X" journal_used_kb 0

		step "one writer for ${WRITE_SECONDS}s, fdatasync every $SYNC writes, then the kill with the remote behind"
		bg status_loop
		rc=0
		python3 -B "$CRASHTOOL" write "$X" --log "$OUT/durable.log" \
			--kill-file "$OUT/$KILL_FILE" --seconds "$WRITE_SECONDS" \
			--threads 1 --sync-every "$SYNC" --seed "$SEED" || rc=$?
		show_status
		fail "the writer ended (status $rc) and the machine was not killed"
		;;
	boot2)
		crash_load_modules 4
		S=$(dev_sectors /dev/vda)
		[[ -s "$OUT/durable.log" ]] || fail "no log of durable writes from boot 1 in $OUT"

		step "the journal after the crash: valid, holding the lag"
		rc=0
		"$TOOLS/xrepl-check" --journal --meta /dev/vdc /dev/vdd >"$T_TMP/check.out" 2>&1 || rc=$?
		sed 's/^/    | /' "$T_TMP/check.out"
		(( rc == 0 )) || fail "xrepl-check --journal after the crash exited with $rc (0 = valid)"
		"$TOOLS/xrepl-dump" --journal --json /dev/vdd >"$OUT/journal.json" ||
			fail "xrepl-dump --journal --json /dev/vdd"
		n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["unshipped_entries"])' "$OUT/journal.json")
		log "the log holds $n entries"
		(( n > 0 )) || fail "the log is empty after the crash: the remote did not lag, the test proves nothing"

		step "the remote, read raw, is a state a crash of the source could have left"
		rc=0
		python3 -B "$CRASHTOOL" prefix /dev/vdb --blocks $(( S / 8 )) \
			--sync-every "$SYNC" --seed "$SEED" || rc=$?
		case $rc in
		0) ;;
		1) fail "the remote is not a state a crash could have left (not a write-order prefix, or a block not written there)" ;;
		3) fail "the remote holds no write: the test proves nothing" ;;
		*) fail "crashtool.py prefix failed (exit $rc)" ;;
		esac
		rc=0
		python3 -B "$CRASHTOOL" verify /dev/vdb "$OUT/durable.log" >/dev/null || rc=$?
		(( rc == 1 )) ||
			fail "the remote holds every write made durable: it did not lag, the test proves nothing"

		step "the device created: the log replayed, nothing resynced"
		kmsg_mark
		dm_create "$P-x" "0 $S xrepl /dev/vda /dev/vdb /dev/vdc async 2 journal /dev/vdd"
		udev_settle_node "$X"
		show_status
		assert_dmesg_contains "journal: a log from before a crash, entries: $n (seq" "the walk of the log"
		assert_dmesg_contains "journal: replaying the log: $n entries, " "the kernel log"
		assert_status "$X" consistent yes
		wait_for_status "$X" lag_writes 0 180
		assert_dmesg_contains "journal: the log is replayed" "the kernel log"
		assert_status "$X" remote insync
		assert_status "$X" consistent yes
		assert_status "$X" dirty "0/$(status_field "$X" dirty | cut -d/ -f2)"
		assert_status "$X" resync_active 0
		assert_status "$X" copied_regions 0
		show_status

		step "the legs are equal, and every write made durable is on the device"
		assert_legs_equal /dev/vda /dev/vdb "$S"
		python3 -B "$CRASHTOOL" verify "$X" "$OUT/durable.log" ||
			fail "writes made durable by fdatasync before the crash are missing or damaged"

		step "the journal after the device goes: valid and empty"
		dm_remove "$P-x"
		rc=0
		"$TOOLS/xrepl-check" --journal --meta /dev/vdc /dev/vdd >"$T_TMP/check.out" 2>&1 || rc=$?
		sed 's/^/    | /' "$T_TMP/check.out"
		(( rc == 0 )) || fail "xrepl-check --journal after the test exited with $rc (0 = valid)"
		grep -q "valid journal: 0 unshipped entries" "$T_TMP/check.out" ||
			fail "the log is not empty after a clean stop"
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

crash_run local:$LEG_MIB remote:$LEG_MIB meta:$META_MIB journal:$JNL_MIB
