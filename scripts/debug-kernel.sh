#!/usr/bin/env bash
# Build (once; cached) the debug kernel of `make check-debug` from Debian's
# 6.1 source (the tree scripts/kunit.sh extracts): x86_64_defconfig +
# kvm_guest.config + scripts/debug-kernel/debug.config, i.e. what the test
# guest needs plus KASAN, lockdep (PROVE_LOCKING), kmemleak, debug objects,
# SLUB debugging, hung-task detection and KUnit.  Installs it where the VM
# runner looks for a guest kernel, $XREPL_CACHE/kernel/<release>, with its
# modules and initramfs, and prints "KVER=<release> KDIR=<build dir>".
# The build is redone only when the configuration fragment changes.
# About 40 minutes on 2 cores the first time.
#
# Usage: scripts/debug-kernel.sh [--print]   (--print: only the variables,
#        failing if the kernel is not built yet)
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

print_only=0
[[ "${1:-}" == --print ]] && print_only=1
SRC="$CACHE/linux-source-6.1"
BUILD="$CACHE/debug-kernel/build"
FRAG="$SCRIPTS_DIR/debug-kernel/debug.config"
STAMP="$CACHE/debug-kernel/stamp"
want=$(sha256sum "$FRAG" | cut -c1-16)

release() { make -s -C "$SRC" O="$BUILD" kernelrelease 2>/dev/null; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
	rel=$(release)
	KVER=$rel KDIR=$BUILD init_paths
	if guest_ready; then
		echo "KVER=$rel KDIR=$BUILD"
		exit 0
	fi
fi
(( print_only )) && die "the debug kernel is not built (scripts/debug-kernel.sh)"

if [[ ! -f "$SRC/Makefile" ]]; then
	tarball=/usr/src/linux-source-6.1.tar.xz
	[[ -r "$tarball" ]] || die "$tarball missing (package linux-source-6.1)"
	log "extracting $tarball into $CACHE (scripts/kunit.sh shares it)"
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xJf "$tarball" -C "$SRC.tmp" --strip-components=1
	mv "$SRC.tmp" "$SRC"
fi
mkdir -p "$BUILD"
log "configuring the debug kernel in $BUILD"
make -s -C "$SRC" O="$BUILD" x86_64_defconfig >&2
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" \
	"$SRC/kernel/configs/kvm_guest.config" "$FRAG" >&2
make -s -C "$SRC" O="$BUILD" olddefconfig >&2
# Every line of the fragment must have stuck (a dependency may drop one).
missing=0
while IFS= read -r line; do
	[[ "$line" =~ ^CONFIG_ ]] || continue
	opt=${line%%=*} val=${line#*=}
	if [[ "$val" == n ]]; then
		! grep -q "^$opt=" "$BUILD/.config" && continue
	elif grep -qx "$opt=$val" "$BUILD/.config"; then
		continue
	fi
	echo "debug-kernel: $line did not stick: $(grep "^$opt=\|$opt is not set" "$BUILD/.config")" >&2
	missing=1
done <"$FRAG"
(( missing == 0 )) || die "the debug configuration is incomplete"
log "building the debug kernel ($(nproc) jobs; about 40 minutes the first time)"
make -s -C "$SRC" O="$BUILD" -j"$(nproc)" bzImage modules >&2
rel=$(release)
KVER=$rel KDIR=$BUILD init_paths
rm -rf "$KERNEL_ROOT"
mkdir -p "$KERNEL_ROOT/boot"
cp "$BUILD/arch/x86/boot/bzImage" "$VMLINUZ"
make -s -C "$SRC" O="$BUILD" modules_install INSTALL_MOD_PATH="$KERNEL_ROOT" \
	INSTALL_MOD_STRIP=1 >&2
mkdir -p "$INITRAMFS_DIR"
bash "$SCRIPTS_DIR/mkinitramfs.sh" "$KVER" "$MODDIR" "$INITRAMFS.tmp" >&2
mv "$INITRAMFS.tmp" "$INITRAMFS"
# The guest mounts the modules over /lib/modules/$KVER.
mkdir -p "/lib/modules/$KVER"
echo "$want" >"$STAMP"
echo "KVER=$rel KDIR=$BUILD"
