# shellcheck shell=bash
# The journal tests' helpers (281, 283), sourced after tests/lib/common.sh,
# with DUMP (xrepl-dump), J (the journal), L, R, M and X set.

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
