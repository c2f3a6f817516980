#!/usr/bin/env bash
# A metadata write that fails is retried: once the metadata device works
# again everything is written anew, meta_failed clears (with an event),
# and the marks on disk again cover the regions being written.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

meta_legs 32
RB=$(( 1024 * 512 ))
export XREPL_META=$M
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
MS=$(dev_sectors "$M")
dump=$(xrepl_tool xrepl-dump)

step "the metadata device fails while a region is marked"
dm_reload "$P-meta" "0 $MS error"
at_exit_first "dmsetup load $P-meta --table '0 $MS linear /dev/ram2 0' && dmsetup resume $P-meta"
write_at "$X" $(( 5 * RB )) 4096
assert_status "$X" meta_failed 1
ev0=$(event_nr "$X")

step "the metadata device works again; the same region is written again"
dm_reload "$P-meta" "0 $MS linear /dev/ram2 0"
# Keep the region busy so that the cleaner does not clear its mark.
bg sh -c "while :; do dd if=/dev/urandom of=$X bs=4096 seek=$(( 5 * RB / 4096 )) count=1 oflag=direct status=none; sleep 0.2; done"
wait_for_status "$X" meta_failed 0 60
assert_cmp "$(event_nr "$X")" -gt "$ev0" "event number"
json=$("$dump" --json "$M")
log "on disk: $json"
assert_match '"dirty_count": *[1-9]' "$json" "marks on disk"
assert_match '"dirty_regions": \[\[5, 5\]' "$json" "region 5 marked on disk"
kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
assert_legs_equal "$L" "$R"
