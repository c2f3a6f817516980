#!/usr/bin/env bash
# An iSCSI remote: the remote leg is a LUN of the kernel's iSCSI target
# (LIO, set up through configfs over a RAM disk: the remote site's disk)
# reached with open-iscsi over loopback.
#   1. the initial full sync and verified fio through the pair; the legs
#      (the local RAM disk and the target's backing RAM disk) are equal
#   2. the target is disabled under verified fio: once the session's
#      replacement timeout (5 s here) ends the queued I/O, the remote is
#      degraded for the error and fio sees no error
#   3. the target is enabled again: the session recovers, "remote up"
#      resyncs what the remote missed, the legs are equal
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
if ! command -v iscsiadm >/dev/null || ! command -v iscsid >/dev/null; then
	fail "open-iscsi is not installed (scripts/setup.sh installs it)"
fi
# sd_mod too: no udev here to load it for the new SCSI disk.
require_modules target_core_mod target_core_iblock iscsi_target_mod iscsi_tcp sd_mod
ip link set lo up

ramdisks 3 64
make_leg local /dev/ram0
make_leg meta /dev/ram2 8192
L=/dev/mapper/$P-local M=/dev/mapper/$P-meta
S=$(dev_sectors "$L")

step "LIO exports /dev/ram1 on 127.0.0.1:3260"
CFG=/sys/kernel/config/target
[[ -d $CFG ]] || fail "no $CFG (configfs, target_core_mod)"
IQN=iqn.2026-12.org.xrepl:$P
BS=$CFG/core/iblock_0/$P
TPG=$CFG/iscsi/$IQN/tpgt_1
# Undone in reverse order on exit, after the devices above it are gone.
at_exit "rmdir '$BS' '$CFG/core/iblock_0' 2>/dev/null"
at_exit "rmdir '$TPG' '$CFG/iscsi/$IQN' 2>/dev/null"
at_exit "rmdir '$TPG/np/127.0.0.1:3260' 2>/dev/null"
at_exit "rm -f '$TPG/lun/lun_0/$P'; rmdir '$TPG/lun/lun_0' 2>/dev/null"
mkdir -p "$BS" || fail "cannot create the iblock backstore"
echo "udev_path=/dev/ram1" >"$BS/control"
echo 1 >"$BS/enable"
mkdir -p "$TPG/lun/lun_0"
ln -s "$BS" "$TPG/lun/lun_0/$P"
mkdir "$TPG/np/127.0.0.1:3260" || fail "cannot create the portal"
echo 0 >"$TPG/attrib/authentication"
echo 1 >"$TPG/attrib/generate_node_acls"
echo 1 >"$TPG/attrib/cache_dynamic_acls"
echo 0 >"$TPG/attrib/demo_mode_write_protect"
echo 1 >"$TPG/enable"

step "open-iscsi logs in (its configuration on a tmpfs: the root is read-only)"
cp -a /etc/iscsi "$T_TMP/iscsi-etc"
mount -t tmpfs -o mode=755 tmpfs /etc/iscsi || fail "cannot mount a tmpfs on /etc/iscsi"
at_exit "umount /etc/iscsi"
cp -a "$T_TMP/iscsi-etc/." /etc/iscsi/
echo "InitiatorName=iqn.2026-12.org.xrepl:initiator" >/etc/iscsi/initiatorname.iscsi
# No systemd here: iscsid is started by hand, not by iscsiadm.
sed -i 's/^iscsid.startup = .*/iscsid.startup = \/bin\/true/' /etc/iscsi/iscsid.conf
# A daemon (not a job of this shell, which the exit path kills first):
# the logout on exit, after the devices above the LUN are gone, needs it.
iscsid || fail "iscsid did not start"
# shellcheck disable=SC2016  # the pid is read at exit
at_exit 'kill "$(cat /run/iscsid.pid)"'
at_exit "iscsiadm -m node -T $IQN -p 127.0.0.1:3260 --logout"
for (( i = 0; i < 50; i++ )); do
	iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260 >"$T_TMP/disc.out" 2>&1 && break
	sleep 0.2
done
grep -q "$IQN" "$T_TMP/disc.out" || fail "discovery: $(cat "$T_TMP/disc.out")"
must "replacement timeout" iscsiadm -m node -T "$IQN" -p 127.0.0.1:3260 -o update \
	-n node.session.timeo.replacement_timeout -v 5
must "login" iscsiadm -m node -T "$IQN" -p 127.0.0.1:3260 --login
sd=""
for (( i = 0; i < 100 && !${#sd}; i++ )); do
	for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:*/block/*; do
		[[ -e "$b" ]] && sd=${b##*/}
	done
	[[ -n "$sd" ]] || sleep 0.2
done
[[ -n "$sd" ]] || fail "no SCSI disk after the login"
udev_settle_node "/dev/$sd"
assert_eq "$S" "$(dev_sectors "/dev/$sd")" "the LUN's size"
R=/dev/$sd
log "remote leg: $R (iSCSI LUN of /dev/ram1)"

step "initial sync and verified writes"
export XREPL_META=$M
xrepl_create x "$L" "$R"
X=/dev/mapper/$P-x
wait_for_status "$X" remote insync 120
fio_verify "$X" up --rw=randwrite --bs=4k --iodepth=8 --size=16M --number_ios=2000 \
	--randseed=3 || fio_check up $?
fio_check up 0
assert_legs_equal "$L" /dev/ram1

step "the target is disabled under verified writes: degraded, no error"
bg fio_verify "$X" down --rw=randwrite --bs=4k --iodepth=4 --offset=16M --size=16M \
	--time_based --runtime=15 --randseed=4
FIO=$BG_PID
sleep 2
echo 0 >"$TPG/enable"
wait_for_status "$X" remote degraded 60
assert_status "$X" degraded_by error
rc=0
wait "$FIO" || rc=$?
fio_check down "$rc"
assert_cmp "$(num_of "$(status_field "$X" dirty)")" -gt 0 "dirty regions"

step "the target comes back: remote up resyncs, the legs are equal"
echo 1 >"$TPG/enable"
ok=0
for (( i = 0; i < 60; i++ )); do
	if dd if="$R" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null; then
		ok=1
		break
	fi
	sleep 1
done
(( ok )) || fail "the LUN did not come back within 60 s"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" /dev/ram1
