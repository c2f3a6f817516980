#!/usr/bin/env bash
# LVM stacking, both ways:
#   - below: xreplctl creates the xrepl device on logical volumes (local
#     and metadata LVs in one volume group, the remote LV in another);
#   - above: the xrepl device is an LVM physical volume, with a volume
#     group, a logical volume and an ext4 file system on it.
# Files are written, the remote LV fails under them (its table swapped
# for the error target) and more are written; the remote LV comes back,
# remote up, the resync completes; the legs are equal, fsck -n is clean,
# and the remote copy, activated on its own as the volume group after the
# xrepl device is gone (a failover), holds every file intact.
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v lvm >/dev/null || skip "lvm2 is not installed"

CTL=$(xrepl_tool xreplctl)
ramdisks 2 64
# Only the RAM disks and this test's dm devices are scanned.
lvm_scratch '^/dev/ram[01]$' "^/dev/mapper/$P-"
SRC=${P}src DST=${P}dst VM=${P}vm
at_exit "vgremove -ff $DST"
at_exit "vgremove -ff $SRC"
at_exit_first "vgchange -an $VM"

step "xreplctl creates the device on logical volumes"
lvm_must pvcreate -q /dev/ram0 /dev/ram1
lvm_must vgcreate -q "$SRC" /dev/ram0
lvm_must vgcreate -q "$DST" /dev/ram1
lvm_must lvcreate -q -y -L 40M -n data "$SRC"
lvm_must lvcreate -q -y -L 4M -n meta "$SRC"
lvm_must lvcreate -q -y -L 40M -n data "$DST"
LL=/dev/$SRC/data LR=/dev/$DST/data LM=/dev/$SRC/meta
for d in "$LL" "$LR" "$LM"; do udev_settle_node "$d"; done
dd if=/dev/zero of="$LM" bs=1M count=4 oflag=direct status=none
must "xreplctl create" "$CTL" create "$P-x" --local "$LL" --remote "$LR" --meta "$LM"
_DM_DEVS+=("$P-x")
X=/dev/mapper/$P-x
udev_settle_node "$X"
wait_for_status "$X" remote insync 60
S=$(dev_sectors "$X")

step "an LVM physical volume, volume group and file system on the device"
lvm_must pvcreate -q "$X"
lvm_must vgcreate -q "$VM" "$X"
lvm_must lvcreate -q -y -L 24M -n fs "$VM"
FS=/dev/$VM/fs
udev_settle_node "$FS"
mnt=$T_TMP/mnt
mkfs.ext4 -q -F -E nodiscard "$FS" || fail "mkfs.ext4 failed"
mkdir -p "$mnt"
mount "$FS" "$mnt" || fail "mount failed"
at_exit_first "! mountpoint -q $mnt || umount $mnt"
for i in 1 2 3; do
	dd if=/dev/urandom of="$mnt/before.$i" bs=1M count=2 status=none
done
sync -f "$mnt"

step "the remote LV fails under the file system: writes go on"
rtable=$(dmsetup table "$DST-data")
dm_reload "$DST-data" "0 $(dev_sectors "$LR") error"
for i in 1 2 3; do
	dd if=/dev/urandom of="$mnt/during.$i" bs=1M count=2 status=none
	sync -f "$mnt"
done
wait_for_status "$X" degraded_by error 20
(( $(num_of "$(status_field "$X" dirty)") > 0 )) || fail "no dirty region after the outage"
(cd "$mnt" && sha256sum before.* during.*) >"$T_TMP/sums"

step "the remote LV is back: remote up, resync, legs equal, fsck clean"
dm_reload "$DST-data" "$rtable"
must "xreplctl remote-up" "$CTL" remote-up "$P-x"
wait_for_status "$X" remote insync 60
umount "$mnt" || fail "umount failed"
fsck.ext4 -n -f "$FS" >"$T_TMP/fsck.log" 2>&1 || { cat "$T_TMP/fsck.log" >&2; fail "fsck -n found problems"; }
log "ok: fsck -n clean on $FS"
lvm_must vgchange -q -an "$VM"
assert_legs_equal "$LL" "$LR" "$S"

step "failover: the remote copy alone holds the volume group and every file"
must "xreplctl remove" "$CTL" remove "$P-x"
dm_create "$P-failover" "$(linear_table "$LR")"
lvm_must pvscan -q --cache
lvm_must vgchange -q -ay "$VM"
udev_settle_node "$FS"
pv=$(lvm pvs --noheadings -o pv_name --select "vg_name=$VM" | tr -d ' ')
assert_eq "/dev/mapper/$P-failover" "$pv" "the PV of $VM"
fsck.ext4 -n -f "$FS" >"$T_TMP/fsck2.log" 2>&1 || { cat "$T_TMP/fsck2.log" >&2; fail "fsck -n of the remote copy found problems"; }
mount -o ro "$FS" "$mnt" || fail "mount of the remote copy failed"
(cd "$mnt" && sha256sum -c --quiet "$T_TMP/sums") || fail "files differ on the remote copy"
log "ok: the remote copy has all $(wc -l <"$T_TMP/sums") files intact"
umount "$mnt"
lvm_must vgchange -q -an "$VM"
