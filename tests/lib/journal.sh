# shellcheck shell=bash
# The journal tests' helpers (281, 283, 284), sourced after
# tests/lib/common.sh, with DUMP (xrepl-dump) set.

# journal_devices: the legs (64 MiB), the metadata (4 MiB) and the journal
# (32 MiB): loop devices on a scratch file system (a volatile write cache,
# so that FUA and flushes reach the target, and discard), the legs and the
# journal each under a dm-linear that a suspend stalls.  Sets LOOP_L,
# LOOP_R, LOOP_M, LOOP_J, L, R, M, J and X.
journal_devices() {
	ramdisks 1 200
	scratch_fs /dev/ram0 "$T_TMP/fs"
	loopdisk 64 "$T_TMP/fs"; LOOP_L=$LOOPDEV
	loopdisk 64 "$T_TMP/fs"; LOOP_R=$LOOPDEV
	loopdisk 4 "$T_TMP/fs"; LOOP_M=$LOOPDEV
	loopdisk 32 "$T_TMP/fs"; LOOP_J=$LOOPDEV
	make_leg local "$LOOP_L"
	make_leg remote "$LOOP_R"
	make_leg jnl "$LOOP_J"
	L=/dev/mapper/$P-local R=/dev/mapper/$P-remote J=/dev/mapper/$P-jnl
	M=$LOOP_M
	# shellcheck disable=SC2034 # the tests use it
	X=/dev/mapper/$P-x
	# A test that fails while the remote is stalled must not hang the
	# cleanup.
	at_exit_first "dmsetup resume $P-remote 2>/dev/null || true"
}

# jdump [DEV]: the journal as JSON.
jdump() {
	"$DUMP" --journal --json "${1:-$J}" >"$T_TMP/j.json" ||
		fail "xrepl-dump --journal ${1:-$J}"
}
# jq_py EXPR: EXPR of the journal j (the last jdump), in Python.
jq_py() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T_TMP/j.json" "$1" || fail "cannot read the journal dump: $1"
}
# jhead [DEV]: the log's next sequence number (of the last entry on disk, or the
# tail recorded).
jhead() {
	jdump "${1:-$J}"
	jq_py 'j["entries"][-1]["seq"] + 1 if j["entries"] else j["superblock"]["tail_seq"]'
}
# unshipped [DEV]: the entries of the log, as the offline checker counts.
unshipped() {
	jdump "${1:-$J}"
	jq_py 'j["unshipped_entries"]'
}

# log_empties WHAT: the log empties (a tail commit) within 10 s.
log_empties() {
	local i
	for (( i = 0; i < 50; i++ )); do
		[[ "$(unshipped "$J")" == 0 ]] && return
		sleep 0.2
	done
	assert_eq 0 "$(unshipped "$J")" "$1"
}

jx() {
	XREPL_MODE=${MODE:-async} XREPL_META=$M xrepl_create x "$L" "$R" \
		max_lag_kb 65536 journal "$@"
}
stall() { must "stall the remote" dmsetup suspend "$P-remote"; }
unstall() { must "the remote returns" dmsetup resume "$P-remote"; }

# crash_copy NAME DEV...: the devices as a crash would leave them, kept as
# NAME; name the metadata before the journal (its marks go only once the
# log made their writes durable).
crash_copy() {
	local name=$1 d
	shift
	for d in "$@"; do
		dd if="$d" of="$T_TMP/crash-$name-${d##*/}" bs=1M iflag=direct \
			status=none || fail "cannot copy $d"
	done
}
# crash_restore NAME DEV...: the devices put back as crash_copy kept them.
crash_restore() {
	local name=$1 d
	shift
	for d in "$@"; do
		dd if="$T_TMP/crash-$name-${d##*/}" of="$d" bs=1M oflag=direct \
			status=none || fail "cannot put $d back"
	done
}
