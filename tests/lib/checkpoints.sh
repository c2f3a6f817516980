# shellcheck shell=bash
# The change tracker tests' helpers (290, 291), sourced after
# tests/lib/common.sh, with DUMP (xrepl-dump), M (the metadata device), X
# (the xrepl device, $P-x) and RB (bytes per region) set.

# changed SINCE: the regions written since checkpoint SINCE, as xrepl-dump
# prints them (" 3 10-11"; "" for none).
changed() {
	local out
	out=$("$DUMP" --since "$1" "$M") || fail "xrepl-dump --since $1 failed"
	sed -n 's/^changed_regions://p' <<<"$out" | sed 's/^ none$//'
}

# checkpoint NAME: send the message; prints its reply.
checkpoint() {
	dmsetup message "$P-x" 0 checkpoint "$1" || fail "checkpoint $1 refused"
}

# write_regions R...: 4 KiB into each region R (at 8 KiB into it).
write_regions() {
	local r
	for r in "$@"; do
		write_at "$X" $(( r * RB + 8192 )) 4096 || fail "write to region $r"
	done
}
