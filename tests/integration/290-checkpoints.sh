#!/usr/bin/env bash
# The change tracker: "checkpoint <name>" starts a new era and replies its
# number; the metadata device then tells which regions were written since
# any checkpoint kept (xrepl-dump --since), exactly:
#   1. refused, changing nothing: a table without a metadata device, a
#      bad or too long name, a metadata device with no room for the ring
#   2. checkpoints 1 and 2 with writes between and after: the regions
#      since each are exactly the ones written; the checkpoints are
#      listed with their names
#   3. a crash right after writes whose regions were not yet folded into
#      the open era's slot (only their marks say so): the table loads,
#      the numbering goes on, and once the resync and the cleaner cleared
#      those marks the regions are still known as changed (the load added
#      them to the open era)
#   4. a table reload keeps the tracker; one with another metadata device
#      drops it, saying so; the offline checker finds the device valid
#   5. steady writes to a hot set of regions with a tracker cost no more
#      metadata writes than without: below 0.01 per data write
#   6. a damaged slot header, or tracker fields that do not fit, make the
#      table load refuse the metadata
# The metadata device is a dm-linear, so that its I/O can be stopped to
# take a crash image.
# kernels: one
# The tracker is the target's own format and message; its I/O is the
# metadata device's, which runs on both kernels in 095, 120 and 255.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
CHECK=$(xrepl_tool xrepl-check)
DUMP=$(xrepl_tool xrepl-dump)

meta_legs 64
RS=256                          # 128 KiB regions
RB=$(( RS * 512 ))
X=/dev/mapper/$P-x
fast_cleaner 500

# shellcheck source=tests/lib/checkpoints.sh
. "$TESTS_DIR/lib/checkpoints.sh"

step "refused: no metadata device, bad names, no room"
xrepl_create x "$L" "$R" nosync region_size "$RS"
expect_fail "checkpoint without metadata" dmsetup message "$P-x" 0 checkpoint a
dm_remove "$P-x"
export XREPL_META=$M
# Block 0 and one bitmap block: no room for a ring of two slots.
dm_reload "$P-meta" "$(linear_table /dev/ram2 16)"
xrepl_create x "$L" "$R" nosync region_size "$RS"
kmsg_mark
expect_fail "checkpoint with no room" dmsetup message "$P-x" 0 checkpoint a
assert_dmesg_contains "cannot checkpoint: the metadata device has no room for a change tracker" "no room"
expect_fail "a name with a slash" dmsetup message "$P-x" 0 checkpoint a/b
expect_fail "a name of 64 characters" dmsetup message "$P-x" 0 checkpoint "$(printf 'n%.0s' {1..64})"
dm_remove "$P-x"
dm_reload "$P-meta" "$(linear_table /dev/ram2 8192)"
assert_eq 0 "$(sbe "$M" get trk_id)" "trk_id after refused checkpoints"

step "checkpoints 1 and 2: exactly the regions written since each"
xrepl_create x "$L" "$R" nosync region_size "$RS"
assert_eq 1 "$(checkpoint full-1)" "the first checkpoint's number"
assert_eq 1 "$(sbe "$M" get trk_open)" "trk_open"
assert_eq "" "$(changed 1)" "changes right after checkpoint 1"
write_regions 3 10 11
# Folded into the open era's slot once the cleaner clears their marks.
wait_for_status "$X" marked 0 30
assert_eq " 3 10-11" "$(changed 1)" "changes since 1 (folded)"
assert_eq 2 "$("$REPO_ROOT/userspace/xreplctl" checkpoint "$P-x" daily.2)" "the second checkpoint's number (xreplctl)"
# The next writes' marks stay for 10 s at least (a region is cleaned
# after a whole interval idle), so the crash image below has them.
fast_cleaner 10000
sleep 1
write_regions 20 300
assert_eq " 3 10-11 20 300" "$(changed 1)" "changes since 1"
assert_eq " 20 300" "$(changed 2)" "changes since 2"
list=$("$DUMP" --checkpoints "$M") || fail "xrepl-dump --checkpoints"
assert_match $'\n  1 [0-9]+ full-1\n  2 [0-9]+ daily.2 \\(open\\)' "$list" "the checkpoints listed"

step "crash before the fold: the marks carry the open era's regions"
# The metadata's I/O stops: what it holds now is what a power cut leaves.
must "stop metadata I/O" dmsetup suspend --noflush "$P-meta"
dd if=/dev/ram2 of="$T_TMP/crashed-meta" bs=1M count=4 iflag=direct status=none ||
	fail "cannot copy the metadata"
python3 - "$T_TMP/crashed-meta" <<'PY' || fail "the crash image does not mark regions 20 and 300"
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(4096)
    bm = f.read(4096)
marked = [r for r in range(512) if bm[r // 8] >> (r % 8) & 1]
assert 20 in marked and 300 in marked, marked
PY
dm_reload "$P-meta" "0 8192 error"
dm_remove "$P-x"
dm_reload "$P-meta" "$(linear_table /dev/ram2 8192)"
dd if="$T_TMP/crashed-meta" of=/dev/ram2 bs=1M oflag=direct status=none ||
	fail "cannot put the crash image back"
fast_cleaner 500
kmsg_mark
xrepl_create x "$L" "$R" region_size "$RS"
wait_for_status "$X" remote insync 60
wait_for_status "$X" marked 0 30
assert_eq " 20 300" "$(changed 2)" "changes since 2 after the crash, marks gone"
assert_eq " 3 10-11 20 300" "$(changed 1)" "changes since 1 after the crash"
assert_eq 3 "$(checkpoint after-crash)" "the numbering after a crash"
assert_eq "" "$(changed 3)" "a resync writes nothing into the tracker"

step "a reload keeps the tracker; another metadata device drops it"
dm_reload "$P-x" "$(xrepl_table "$L" "$R" region_size "$RS")"
write_regions 7
assert_eq 4 "$(checkpoint reloaded)" "the numbering after a reload"
assert_eq " 7" "$(changed 3)" "changes since 3 after a reload"
# A second metadata device: the other half of the third ramdisk.
dd if=/dev/zero of=/dev/ram2 bs=1M seek=4 count=4 oflag=direct status=none ||
	fail "cannot zero the second metadata device"
dm_create "$P-meta2" "$(linear_table /dev/ram2 8192 8192)"
M2=/dev/mapper/$P-meta2
kmsg_mark
dm_reload "$P-x" "$(XREPL_META=$M2 xrepl_table "$L" "$R" region_size "$RS")"
assert_dmesg_contains "new metadata device: checkpoints dropped; the next backup is full" "reset"
assert_eq 0 "$(sbe "$M2" get trk_id)" "trk_id of the new metadata device"
wait_for_status "$X" remote insync 60
dm_remove "$P-x"
assert_eq 0 "$(rc=0; "$CHECK" --quiet "$M" || rc=$?; echo "$rc")" "xrepl-check of a device with a tracker"
assert_eq 4 "$(sbe "$M" get trk_open)" "the old device's tracker, as the old pair left it"
M=$M2
export XREPL_META=$M2

step "a hot set with a tracker: below 0.01 metadata writes per data write"
xrepl_create x "$L" "$R" region_size "$RS"
wait_for_status "$X" marked 0 30
assert_eq 1 "$(checkpoint hot)" "a new tracker starts at 1"
mw0=$(status_field "$X" meta_writes) w0=$(status_field "$X" writes)
fio --name=hot --filename="$X" --direct=1 --ioengine=libaio --rw=randwrite \
	--bs=4k --iodepth=4 --offset=$(( 100 * RB )) --size=$(( 4 * RB )) \
	--norandommap --io_size=$(( 3000 * 4096 )) --randseed=7 --output="$T_TMP/hot.fio" ||
	fail "fio hot-set run failed"
# The cleaner's fold counted too.
wait_for_status "$X" marked 0 30
mw=$(( $(status_field "$X" meta_writes) - mw0 ))
w=$(( $(status_field "$X" writes) - w0 ))
log "hot set with a tracker: $mw metadata writes for $w data writes"
assert_cmp "$w" -ge 3000 "data writes"
assert_cmp $(( mw * 100 )) -lt "$w" "metadata writes x 100 (ratio below 0.01)"
assert_eq " 100-103" "$(changed 1)" "the hot set's regions"
dm_remove "$P-x"

step "damage is refused"
blk=$(( 2 + 2 * 1 ))    # the slot header of checkpoint 1: start 2, stride 2
flip() {
	python3 - "$M" $(( blk * 4096 + 60 )) <<'PY' || fail "cannot flip a byte of the slot"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
b = bytearray(os.pread(fd, 1, int(sys.argv[2])))
b[0] ^= 0xff
os.pwrite(fd, bytes(b), int(sys.argv[2]))
os.fsync(fd)
os.close(fd)
PY
}
flip
kmsg_mark
expect_fail "a damaged slot header" dm_try_create "$P-x" "$(xrepl_table "$L" "$R" region_size "$RS")"
assert_dmesg_contains "Metadata: corrupt change tracker slot" "damaged slot"
expect_fail "xrepl-dump --checkpoints of a damaged slot" "$DUMP" --checkpoints "$M"
flip
sbe "$M" set trk_oldest=2
kmsg_mark
expect_fail "trk_oldest past trk_open" dm_try_create "$P-x" "$(xrepl_table "$L" "$R" region_size "$RS")"
assert_dmesg_contains "Metadata: corrupt change tracker" "tracker fields"
sbe "$M" set trk_oldest=1
xrepl_create x "$L" "$R" region_size "$RS"
assert_eq 2 "$(checkpoint repaired)" "the tracker as it was"
assert_eq " 100-103" "$(changed 1)" "the changes as they were"
