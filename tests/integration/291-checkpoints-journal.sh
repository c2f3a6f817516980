#!/usr/bin/env bash
# The change tracker of an async pair with a journal, where the cleaner
# clears a mark as soon as the log carries the write, long before the
# remote has it:
#   1. with shipping held, writes after a checkpoint: once their marks are
#      gone (by the log), the metadata device still knows their regions as
#      changed since the checkpoint: the tracker wrote them first
#   2. a second checkpoint while held: the changes since each are exact;
#      a crash image then loads with the tracker as it was, the log
#      replayed held
#   3. release: the remote gets every write, the legs are equal, and the
#      shipping changed nothing in the tracker
# kernels: one
# The tracker's format and its I/O run on both kernels in 290's companions
# (095, 120, 255); this adds the journal's clearing of marks.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
DUMP=$(xrepl_tool xrepl-dump)
# shellcheck source=tests/lib/journal.sh
. "$TESTS_DIR/lib/journal.sh"
journal_devices
fast_cleaner 500
RS=256                          # 128 KiB regions
RB=$(( RS * 512 ))

# shellcheck source=tests/lib/checkpoints.sh
. "$TESTS_DIR/lib/checkpoints.sh"

step "held: marks go by the log, the tracker keeps the regions"
jx "$J" region_size "$RS"
wait_for_status "$X" remote insync 60
wait_for_status "$X" marked 0 60
assert_eq 1 "$(checkpoint before-hold)" "checkpoint 1"
must "hold" dmsetup message "$P-x" 0 hold
assert_status "$X" held 1
write_regions 3 9 200
# The remote has none of them; the log carries them, so the marks go.
wait_for_status "$X" marked 0 60
assert_eq " 3 9 200" "$(changed 1)" "changes since 1, the marks gone by the log"

step "a checkpoint while held; a crash image loads with the tracker"
assert_eq 2 "$(checkpoint while-held)" "checkpoint 2"
write_regions 9 40
wait_for_status "$X" marked 0 60
assert_eq " 9 40" "$(changed 2)" "changes since 2"
assert_eq " 3 9 40 200" "$(changed 1)" "changes since 1"
crash_copy held "$M" "$J" "$L" "$R"
dm_remove "$P-x"
crash_restore held "$M" "$J" "$L" "$R"
jx "$J" region_size "$RS"
assert_status "$X" held 1
assert_eq " 9 40" "$(changed 2)" "changes since 2 after the crash"
assert_eq " 3 9 40 200" "$(changed 1)" "changes since 1 after the crash"

step "release: the remote gets everything; shipping is no change"
must "release" dmsetup message "$P-x" 0 release
wait_for_status "$X" lag_writes 0 60
log_empties "the log once released"
wait_for_status "$X" marked 0 60
assert_eq 3 "$(checkpoint released)" "checkpoint 3"
assert_eq "" "$(changed 3)" "changes since 3"
assert_eq " 3 9 40 200" "$(changed 1)" "changes since 1 after the release"
must "suspend" dmsetup suspend "$P-x"
assert_legs_equal "$L" "$R"
must "resume" dmsetup resume "$P-x"
