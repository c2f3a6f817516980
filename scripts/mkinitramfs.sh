#!/usr/bin/env bash
# Build the busybox initramfs for the test guest.
#
# Usage: scripts/mkinitramfs.sh <kver> <extracted-module-dir> <output.cpio.gz>
#
# The image holds a static busybox, /init (scripts/guest-init.sh) and the
# virtio, 9p and configfs modules of the guest kernel with their
# dependencies, in load order (/modules.order).  Modules built into the
# kernel are skipped.
set -euo pipefail

kver=$1 moddir=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)

# Wanted modules, in the order they must be loaded; dependencies are added
# from modules.dep automatically.
WANTED=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	netfs fscache 9pnet 9pnet_virtio 9p configfs)

busybox=$(command -v busybox || true)
[[ -n "$busybox" ]] || { echo "busybox not found (install busybox-static)" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' &&
   ldd "$busybox" >/dev/null 2>&1; then
	echo "$busybox is not statically linked (install busybox-static)" >&2
	exit 1
fi
[[ -f "$moddir/modules.dep" ]] || { echo "no modules.dep in $moddir" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do
	[[ "$applet" == busybox ]] && continue
	ln -sf busybox "$stage/bin/$applet"
done
install -m 0755 "$here/guest-init.sh" "$stage/init"

# Normalise a module name: '-' and '_' are interchangeable.
norm() { echo "${1//-/_}"; }

# Find the modules.dep line of a module by name; print "path: deps...".
dep_line() {
	local name
	name=$(norm "$1")
	awk -v n="$name" -F: '{
		f = $1; sub(".*/", "", f); sub("\\.ko.*$", "", f); gsub("-", "_", f)
		if (f == n) { print; exit }
	}' "$moddir/modules.dep"
}

builtin() {
	local name
	name=$(norm "$1")
	[[ -f "$moddir/modules.builtin" ]] &&
		sed 's|.*/||; s|\.ko$||; s|-|_|g' "$moddir/modules.builtin" | grep -qx "$name"
}

declare -A seen=()
order=()
add_path() {  # add one module file (path relative to moddir) once
	local p=$1
	[[ -n "${seen[$p]:-}" ]] && return 0
	seen[$p]=1
	order+=("$p")
}

for m in "${WANTED[@]}"; do
	line=$(dep_line "$m")
	if [[ -z "$line" ]]; then
		builtin "$m" || echo "note: module $m neither modular nor built in; skipped" >&2
		continue
	fi
	path=${line%%:*}
	read -r -a deps <<<"${line#*:}"
	# modules.dep lists dependencies so that loading them last-to-first works.
	for (( i = ${#deps[@]} - 1; i >= 0; i-- )); do
		add_path "${deps[$i]}"
	done
	add_path "$path"
done

: >"$stage/modules.order"
for p in "${order[@]}"; do
	base=${p##*/}
	case "$base" in
	*.ko)     cp "$moddir/$p" "$stage/lib/modules/$base" ;;
	*.ko.xz)  base=${base%.xz};  xz -dc "$moddir/$p" >"$stage/lib/modules/$base" ;;
	*.ko.zst) base=${base%.zst}; zstd -qdc "$moddir/$p" >"$stage/lib/modules/$base" ;;
	*.ko.gz)  base=${base%.gz};  gzip -dc "$moddir/$p" >"$stage/lib/modules/$base" ;;
	*) echo "unsupported module file $p" >&2; exit 1 ;;
	esac
	echo "$base" >>"$stage/modules.order"
done
echo "$kver" >"$stage/kver"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet) | gzip -9 >"$out"
echo "initramfs: $(wc -l <"$stage/modules.order") modules: $(tr '\n' ' ' <"$stage/modules.order")" >&2
