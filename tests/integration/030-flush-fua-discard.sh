#!/usr/bin/env bash
# Flush (REQ_PREFLUSH), FUA, discard and write-zeroes reach both legs.
#
# The legs are dm-linear devices over loop devices backed by files on an
# ext4 scratch file system (on a ramdisk): unlike brd they have a volatile
# write cache (so flushes are not dropped by the block layer) and support
# discard and write-zeroes (tmpfs files would not: no FALLOC_FL_ZERO_RANGE).  blktrace on each
# leg records the bios xrepl sends it.  In blkparse's RWBS a leading F is a
# preflush, an F after W/D is FUA, D is a discard.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v blktrace >/dev/null || skip "blktrace not installed"

ramdisks 1 160
scratch_fs /dev/ram0 "$T_TMP/fs"
loopdisk 64 "$T_TMP/fs"; LOOP_L=$LOOPDEV
loopdisk 64 "$T_TMP/fs"; LOOP_R=$LOOPDEV
make_leg local "$LOOP_L"
make_leg remote "$LOOP_R"
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
S=$(dev_sectors "$L")
fill_random "$L"
dd if="$L" of="$R" bs=1M iflag=direct oflag=direct status=none
xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x


step "queue limits of the xrepl device follow the legs"
q=/sys/dev/block/$(devno "$X")/queue
assert_eq "write back" "$(cat "$q/write_cache")" "write cache advertised (legs have one)"
assert_cmp "$(cat "$q/discard_max_bytes")" -gt 0 "discard supported"
assert_cmp "$(cat "$q/write_zeroes_max_bytes")" -gt 0 "write-zeroes supported"

step "O_DSYNC direct write (FUA) and fsync of the device (flush)"
trace_start "l:$L" "r:$R"
# Block 100 (sectors 800..807) written with O_DSYNC: the block layer sets FUA.
dd if=/dev/urandom of="$X" bs=4k seek=100 count=1 oflag=direct,dsync status=none
# fsync(2) on the block device sends an empty REQ_PREFLUSH bio.
sync "$X"
trace_stop l r
for leg in l r; do
	trace_has $leg '^F?WF' 800 800 "leg $leg got the FUA write at sector 800"
	trace_has $leg '^F[WN]' "leg $leg got a preflush"
done
assert_legs_equal "$L" "$R"

step "discard reaches both legs"
trace_start "l:$L" "r:$R"
# 4 MiB at 8 MiB: sectors 16384..24575.
blkdiscard -o $(( 8 << 20 )) -l $(( 4 << 20 )) "$X" || fail "blkdiscard failed"
trace_stop l r
for leg in l r; do
	n=$(trace_sectors $leg '^F?D' 16384 24575)
	assert_eq 8192 "$n" "sectors discarded on leg $leg within the range"
done
# Discarding a file-backed loop device punches a hole: it reads as zeroes.
zero=$(head -c $(( 4 << 20 )) /dev/zero | md5sum)
assert_eq "$zero" "$(read_at "$L" $(( 8 << 20 )) $(( 4 << 20 )) | md5sum)" "discarded range on local"
assert_eq "$zero" "$(read_at "$R" $(( 8 << 20 )) $(( 4 << 20 )) | md5sum)" "discarded range on remote"

step "write-zeroes reaches both legs"
write_at "$X" $(( 20 << 20 )) $(( 2 << 20 ))
trace_start "l:$L" "r:$R"
blkdiscard -z -o $(( 20 << 20 )) -l $(( 2 << 20 )) "$X" || fail "blkdiscard -z failed"
trace_stop l r
for leg in l r; do
	n=$(trace_sectors $leg '^F?W' 40960 45055)
	assert_cmp "$n" -ge 4096 "sectors zeroed on leg $leg within the range"
done
assert_status "$X" remote insync
zero=$(head -c $(( 2 << 20 )) /dev/zero | md5sum)
assert_eq "$zero" "$(read_at "$L" $(( 20 << 20 )) $(( 2 << 20 )) | md5sum)" "zeroed range on local"
assert_eq "$zero" "$(read_at "$R" $(( 20 << 20 )) $(( 2 << 20 )) | md5sum)" "zeroed range on remote"
assert_legs_equal "$L" "$R"

step "ext4 on xrepl: journal commits send preflush and FUA to both legs"
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1 "$X" || fail "mkfs.ext4 failed"
mkdir -p "$T_TMP/mnt"
mount -o data=ordered "$X" "$T_TMP/mnt" || fail "mount failed"
trace_start "l:$L" "r:$R"
dd if=/dev/urandom of="$T_TMP/mnt/file" bs=64k count=16 conv=fsync status=none
dd if=/dev/urandom of="$T_TMP/mnt/file2" bs=4k count=1 oflag=dsync status=none
trace_stop l r
umount "$T_TMP/mnt"
for leg in l r; do
	trace_has $leg '^F' "leg $leg got a preflush from ext4"
	trace_has $leg '^F?WF' "leg $leg got a FUA write from ext4"
done
assert_status "$X" remote insync
assert_status "$X" dirty "0/$(regions "$S" 1024)"
assert_legs_equal "$L" "$R"
