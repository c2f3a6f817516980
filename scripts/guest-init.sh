#!/bin/busybox sh
# /init of the test guest (runs as PID 1 from the busybox initramfs built by
# scripts/mkinitramfs.sh).  It:
#   - loads the virtio, 9p and configfs modules listed in /modules.order
#   - mounts the host's root file system (9p tag "hostroot", read-only) on
#     /newroot plus proc, sys, devtmpfs, tmpfs, debugfs and configfs inside it
#   - mounts the writable per-run output directory (9p tag "xreplout") on
#     /newroot/run/xrepl-out, and the repository (9p tag "xreplrepo") at its
#     host path, which may lie under one of the tmpfs mounts
#   - runs /run/xrepl-out/run.sh (written by scripts/vm.sh) chrooted into the
#     host root with its output on the second serial port (ttyS1)
#   - records the exit status in /run/xrepl-out/rc and powers the guest off
# Kernel messages stay on the console (ttyS0), which vm.sh saves to a file.
# shellcheck shell=sh disable=SC2039

PATH=/bin
export PATH

msg() { echo "xrepl-init: $*"; }

# Power off; never return (PID 1 must not exit).
halt() {
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	while :; do sleep 1; done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in $(cat /modules.order); do
	insmod "/lib/modules/$m" || msg "insmod $m failed"
done

mkdir -p /newroot
# 9p2000.L with a large msize; cache=loose is safe because the host root is
# shared read-only and only read during the run.
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro \
		hostroot /newroot; then
	msg "cannot mount the host root file system"
	halt
fi

R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
# What udev would normally provide; bash process substitution needs /dev/fd.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -p $R/run/lock $R/run/xrepl-out
chmod 1777 $R/run/lock
[ -d $R/var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs $R/var/tmp
# /var/lock is a symlink to /run/lock on Debian; mount over a real directory.
[ -d $R/var/lock ] && [ ! -L $R/var/lock ] && mount -t tmpfs tmpfs $R/var/lock
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null || true
# configfs (null_blk, nvmet) is a module of the Debian kernel, and nothing
# loads modules on demand yet (the modprobe helper is set up below): load
# it from the initramfs (mkinitramfs.sh puts it there) before mounting.
grep -qw configfs /proc/filesystems || modprobe configfs 2>/dev/null ||
	insmod /lib/modules/configfs.ko 2>/dev/null || msg "cannot load configfs"
mount -t configfs configfs $R/sys/kernel/config 2>/dev/null || msg "cannot mount configfs"

if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 \
		xreplout $R/run/xrepl-out; then
	msg "cannot mount the output directory"
	halt
fi

# The repository, shared on its own (scripts/vm.sh), at its host path.
REPO=$(cat $R/run/xrepl-out/repo-path)
mkdir -p "$R$REPO" 2>/dev/null
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro \
		xreplrepo "$R$REPO"; then
	msg "cannot mount the repository at $REPO"
	halt
fi

# Module auto-loading (request_module) runs the usermode helper in PID 1's
# root, i.e. this initramfs: forward it to the host's modprobe in the chroot.
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' >/bin/modprobe-chroot
chmod 755 /bin/modprobe-chroot
echo /bin/modprobe-chroot >/proc/sys/kernel/modprobe

# Raw mode: no \n -> \r\n translation on the command's output port.
stty -F /dev/ttyS1 raw -echo 2>/dev/null || true

msg "running command"
chroot $R /bin/bash /run/xrepl-out/run.sh </dev/null >/dev/ttyS1 2>&1
rc=$?
echo "$rc" >$R/run/xrepl-out/rc
msg "command exited with status $rc"
umount $R/run/xrepl-out 2>/dev/null
halt
