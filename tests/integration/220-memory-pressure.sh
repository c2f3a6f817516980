#!/usr/bin/env bash
# Memory pressure: verified buffered writes through ext4 on an async
# device (the mode that copies every write into pages of its own) behind a
# slow remote, with the writer in a memory cgroup of 32 MiB, so that its
# page cache is reclaimed and written back all the time, and a hog holding
# all but about 160 MiB of the guest's memory, so that the kernel's own
# allocations compete too.  No deadlock (the run ends), no lost or
# corrupted write (fio verifies, fsck is clean, the legs end equal), no
# hung task; the cgroup really was held at its limit.
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ram_legs 128
# RAM disks take pages as they are written: take them all now, before the
# hog measures what is left.
for d in /dev/ram0 /dev/ram1; do
	dd if=/dev/zero of="$d" bs=1M count=128 oflag=direct status=none
done
# A remote 5 ms away, so that copies wait in the queue.
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 5"
XREPL_MODE=async xrepl_create x "$L" "$R" nosync
X=/dev/mapper/$P-x
mnt=$T_TMP/mnt
scratch_fs "$X" "$mnt"
at_exit_first "! mountpoint -q $mnt || umount $mnt"
kmsg_mark

step "a memory cgroup of 32 MiB for the writer"
cg=/sys/fs/cgroup
if ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
	mount -t cgroup2 none "$cg" || skip "cannot mount cgroup2"
	at_exit "umount $cg"
fi
grep -qw memory "$cg/cgroup.controllers" || skip "no memory controller"
echo +memory >"$cg/cgroup.subtree_control" || fail "cannot enable the memory controller"
mkdir "$cg/$P"
at_exit "rmdir $cg/$P"
echo $(( 32 << 20 )) >"$cg/$P/memory.max"
echo 0 >"$cg/$P/memory.swap.max" 2>/dev/null || true

step "a hog takes all but about 160 MiB of the guest's memory"
avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
hog_mib=$(( avail / 1024 - 160 ))
(( hog_mib > 0 )) || skip "only $(( avail / 1024 )) MiB available"
bg python3 -c '
import mmap, sys, time
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n)
for i in range(0, n, 4096):
    m[i] = 1
print("hog: holding", n >> 20, "MiB", flush=True)
time.sleep(3600)
' "$hog_mib"
hog=$BG_PID
for (( i = 0; i < 600; i++ )); do
	(( $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) < 400 * 1024 )) && break
	sleep 0.1
done
log "MemAvailable now $(( $(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 1024 )) MiB"

step "verified buffered writes in the cgroup, under the pressure"
rc=0
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$cg/$P" \
	fio --name=pressure --directory="$mnt" --size=64M --nrfiles=4 \
	--rw=randwrite --bssplit=4k/40:16k/30:64k/30 --ioengine=psync \
	--fsync=64 --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--verify_state_save=0 --output="$T_TMP/pressure.fio" || rc=$?
fio_check pressure "$rc"
kill -0 "$hog" 2>/dev/null || fail "the hog is gone (OOM?): the pressure did not last"
events=$(awk '$1 == "max" { print $2 }' "$cg/$P/memory.events")
log "cgroup memory.events: max=$events, peak $(( $(cat "$cg/$P/memory.peak" 2>/dev/null || cat "$cg/$P/memory.current") >> 20 )) MiB"
(( events > 0 )) || fail "the writer never reached its cgroup's limit"
kill "$hog"
wait "$hog" 2>/dev/null || true

step "after: no hung task, the remote catches up, fsck clean, legs equal"
if dmesg_since_mark | grep -E 'blocked for more than|page allocation failure|Out of memory'; then
	fail "the kernel reported a hung task, an allocation failure or an OOM"
fi
umount "$mnt"
_MOUNTS=()
must "mode sync" dmsetup message "$P-x" 0 mode sync
wait_for_status "$X" draining 0 120
assert_status "$X" lag_bytes 0
assert_status "$X" remote insync
fsck.ext4 -n -f "$X" >"$T_TMP/fsck.log" 2>&1 || { cat "$T_TMP/fsck.log" >&2; fail "fsck -n found problems"; }
log "ok: fsck -n clean"
assert_legs_equal "$L" "$R" "$S"
