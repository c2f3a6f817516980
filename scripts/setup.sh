#!/usr/bin/env bash
# Prepare this machine for building and testing dm-xrepl.  Idempotent: when
# everything is already in place it only prints a one-line summary.
#
#  1. installs the Debian packages needed by the build, the tests and the demo
#  2. downloads the stock Debian kernel image (linux-image-$KVER, or its
#     -unsigned twin while the signed one is not yet published) and
#     extracts it into $XREPL_CACHE/kernel/$KVER (never installed on the host)
#  3. builds the busybox initramfs used by scripts/vm.sh (cached, keyed by
#     kernel version and by the hash of mkinitramfs.sh + guest-init.sh)
#  4. takes promtool out of Debian's prometheus package into
#     $XREPL_CACHE/tools (the metrics test lints with it)
#
# Usage: scripts/setup.sh [--force-initramfs]
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

force_initramfs=0
for a in "$@"; do
	case "$a" in
	--force-initramfs) force_initramfs=1 ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) die "unknown argument: $a" ;;
	esac
done

# Packages that do not depend on the kernel version.
BASE_PACKAGES=(
	build-essential bc flex bison libelf-dev libssl-dev rsync kmod cpio
	sparse python3 jq
	qemu-system-x86 busybox-static
	dmsetup libdevmapper-dev fio blktrace util-linux e2fsprogs
	gnuplot-nox iproute2 shellcheck
	# the userspace tools' memory checks
	valgrind
	# the benchmark's peers and remote transports (all used in the guest,
	# which runs on this machine's root file system)
	mdadm drbd-utils nvme-cli nbdkit nbd-client open-iscsi linux-perf
	# LVM stacking tests; the dkms build of the packaging tests
	lvm2 dkms
	# drills: thin and classic LVM snapshots, LUKS over the remote
	thin-provisioning-tools cryptsetup-bin
	# the OCF resource agent's tests (ocf-tester, the DTD it validates
	# against)
	resource-agents libxml2-utils
	# make deb (Debian packages), built by the packaging tests
	debhelper dh-dkms
	linux-source-6.1
)

# apt-get wants to run as root.
SUDO=()
if (( EUID != 0 )); then
	command -v sudo >/dev/null || die "run as root (or install sudo)"
	SUDO=(sudo)
fi

apt_updated=0
apt_update_once() {
	(( apt_updated )) && return 0
	log "apt-get update"
	"${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
	apt_updated=1
}

# Print the packages from "$@" that are not installed.
missing_packages() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		[[ "$st" == ii* ]] || echo "$p"
	done
}

install_packages() {
	local -a miss
	mapfile -t miss < <(missing_packages "$@")
	(( ${#miss[@]} )) || return 0
	apt_update_once
	log "installing packages: ${miss[*]}"
	DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
		--no-install-recommends "${miss[@]}" >&2 ||
		die "apt-get install failed for: ${miss[*]}"
}

# --- 1. packages -------------------------------------------------------------
install_packages "${BASE_PACKAGES[@]}"

# The kernel version comes from the package lists; make sure they exist.
if [[ -z "${KVER:-}" ]] && ! apt-cache depends linux-headers-amd64 >/dev/null 2>&1; then
	apt_update_once
fi
# A series (KVER=6.12) resolves through the package lists too.
if [[ "${KVER:-}" =~ ^[0-9]+\.[0-9]+$ ]] && ! detect_kver >/dev/null; then
	apt_update_once
fi
init_paths
install_packages "linux-headers-$KVER"

# --- 2. guest kernel -----------------------------------------------------------
if [[ ! -f "$VMLINUZ" || ! -f "$MODDIR/modules.dep" ]]; then
	pkg=$(guest_image_pkg "$KVER") || {
		apt_update_once
		pkg=$(guest_image_pkg "$KVER")
	} || die "the package lists have neither linux-image-$KVER nor linux-image-$KVER-unsigned"
	log "fetching guest kernel $pkg into $KERNEL_ROOT"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory; it does not
	# need root, but the _apt sandbox user must be able to write there.
	chmod 777 "$tmp"
	(cd "$tmp" && apt-get download -q "$pkg" >&2) || die "cannot download $pkg"
	rm -rf "$KERNEL_ROOT.tmp"
	mkdir -p "$KERNEL_ROOT.tmp"
	dpkg-deb -x "$tmp/$pkg"_*.deb "$KERNEL_ROOT.tmp"
	info "running depmod for $KVER"
	depmod -b "$KERNEL_ROOT.tmp" "$KVER"
	rm -rf "$KERNEL_ROOT"
	mv "$KERNEL_ROOT.tmp" "$KERNEL_ROOT"
	rm -rf "$tmp"
	trap - EXIT
fi
[[ -r "$VMLINUZ" ]] || die "missing $VMLINUZ"

# --- 3. initramfs ------------------------------------------------------------
if [[ ! -f "$INITRAMFS" ]] || (( force_initramfs )); then
	log "building initramfs $INITRAMFS"
	mkdir -p "$INITRAMFS_DIR"
	bash "$SCRIPTS_DIR/mkinitramfs.sh" "$KVER" "$MODDIR" "$INITRAMFS.tmp"
	mv "$INITRAMFS.tmp" "$INITRAMFS"
	# Drop stale images of this kernel built from older scripts.
	find "$INITRAMFS_DIR" -name "initramfs-$KVER-*.cpio.gz" ! -path "$INITRAMFS" -delete
fi

# --- 4. promtool ---------------------------------------------------------------
# The metrics test checks xreplctl's output with Prometheus' own linter.
# Only promtool is wanted, not the server and its service: it is taken out
# of Debian's prometheus package rather than installed.
PROMTOOL="$CACHE/tools/promtool"
if [[ ! -x "$PROMTOOL" ]]; then
	log "fetching promtool (from Debian's prometheus package) into $CACHE/tools"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	chmod 777 "$tmp"
	(cd "$tmp" && apt-get download -q prometheus >&2) || {
		apt_update_once
		(cd "$tmp" && apt-get download -q prometheus >&2)
	} || die "cannot download prometheus (for promtool)"
	dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
	mkdir -p "$CACHE/tools"
	install -m 0755 "$tmp/x/usr/bin/promtool" "$PROMTOOL.tmp"
	mv "$PROMTOOL.tmp" "$PROMTOOL"
	rm -rf "$tmp"
	trap - EXIT
fi

# The guest mounts the extracted modules over /lib/modules/$KVER, which must
# therefore exist on the host (the headers package normally creates it).
if [[ ! -d "/lib/modules/$KVER" ]]; then
	"${SUDO[@]}" mkdir -p "/lib/modules/$KVER"
fi

info "setup ok: kernel $KVER, KDIR=$KDIR, cache $CACHE"
