#!/usr/bin/env bash
# Packaging tests, on the host, in scratch trees (nothing is installed on
# this machine):
#   - make install into a scratch prefix: the tools, manual pages, systemd
#     units and configuration files are where they belong, the units name
#     the installed paths and pass systemd-analyze verify, the manual pages
#     render without warnings
#   - dkms.conf: dkms add and build in a scratch dkms tree, against the
#     headers of the guest kernel; the module it builds has the version of
#     dkms.conf and the kernel's vermagic
# Prints "PASS packaging:<case>" / "FAIL packaging:<case>" lines; exits
# non-zero if any failed.
#
# Usage: tests/packaging.sh [--kver KVER]   (default: the guest kernel)
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
kver=
while (( $# )); do
	case "$1" in
	--kver) kver=$2; shift ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done
if [[ -z "$kver" ]]; then
	init_paths
	kver=$KVER
fi
kdir=${KDIR:-/usr/src/linux-headers-$kver}

W=$(mktemp -d "${TMPDIR:-/tmp}/xrepl-packaging.XXXXXX")
trap 'rm -rf "$W"' EXIT
npass=0 nfail=0
pass() { echo "PASS packaging:$1"; npass=$(( npass + 1 )); }
failc() {
	echo "FAIL packaging:$1: $2"
	[[ -s "$W/out" ]] && sed 's/^/    | /' "$W/out" | tail -n 30
	nfail=$(( nfail + 1 ))
}

# --- make install --------------------------------------------------------
# The prefix is the scratch tree itself (not DESTDIR), so that the paths
# in the units exist and systemd-analyze can check them.
root=$W/root
if make -s -C "$REPO" install PREFIX="$root/usr" SYSCONFDIR="$root/etc" \
	O="$W/build" >"$W/out" 2>&1; then
	pass install
else
	failc install "make install failed"
fi
missing=()
for f in usr/sbin/xreplctl usr/sbin/xrepl-dump usr/sbin/xrepl-check \
	usr/share/man/man8/xreplctl.8 usr/share/man/man8/xrepl-dump.8 \
	usr/share/man/man8/xrepl-check.8 \
	usr/lib/systemd/system/xrepl-volumes.service \
	usr/lib/systemd/system/xrepl-monitor.service \
	etc/default/xrepl-monitor; do
	[[ -f "$root/$f" ]] || missing+=("$f")
done
[[ -d "$root/etc/xrepl" ]] || missing+=(etc/xrepl/)
if (( ${#missing[@]} )); then
	: >"$W/out"
	failc install-files "not installed: ${missing[*]}"
else
	pass install-files
fi
if "$root/usr/sbin/xreplctl" --help >"$W/out" 2>&1; then
	pass install-runs
else
	failc install-runs "the installed xreplctl --help failed"
fi

# The units start the installed binary with the installed paths.
u=$root/usr/lib/systemd/system
if grep -q "^ExecStart=$root/usr/sbin/xreplctl --config-dir $root/etc/xrepl up --all$" \
	"$u/xrepl-volumes.service" &&
   grep -q "^ExecStop=$root/usr/sbin/xreplctl --config-dir $root/etc/xrepl down --all$" \
	"$u/xrepl-volumes.service" &&
   grep -q "^ExecStart=$root/usr/sbin/xreplctl monitor \$XREPL_MONITOR_OPTS$" \
	"$u/xrepl-monitor.service" &&
   grep -q "^EnvironmentFile=-$root/etc/default/xrepl-monitor$" "$u/xrepl-monitor.service" &&
   ! grep -q '@[A-Z]*@' "$u"/xrepl-*.service; then
	pass units-paths
else
	grep -H 'Exec\|Environment\|@' "$u"/xrepl-*.service >"$W/out"
	failc units-paths "the units do not name the installed paths"
fi
if command -v systemd-analyze >/dev/null; then
	if systemd-analyze verify --man=no "$u"/xrepl-*.service >"$W/out" 2>&1 &&
	   ! grep -q . "$W/out"; then
		pass units-verify
	else
		failc units-verify "systemd-analyze verify complained"
	fi
else
	echo "SKIP packaging:units-verify: no systemd-analyze"
fi

# A configuration written once is the operator's: install keeps it.
echo 'XREPL_MONITOR_OPTS="--lag-ms 1000"' >"$root/etc/default/xrepl-monitor"
make -s -C "$REPO" install PREFIX="$root/usr" SYSCONFDIR="$root/etc" \
	O="$W/build" >"$W/out" 2>&1
if grep -q -- '--lag-ms 1000' "$root/etc/default/xrepl-monitor"; then
	pass install-keeps-config
else
	failc install-keeps-config "make install overwrote etc/default/xrepl-monitor"
fi

if command -v groff >/dev/null; then
	bad=0
	for m in "$root"/usr/share/man/man8/*.8; do
		if ! groff -man -ww -z "$m" >"$W/out" 2>&1 || grep -q . "$W/out"; then
			bad=1
			break
		fi
	done
	if (( bad )); then
		failc man-render "groff warns about $(basename "$m")"
	else
		pass man-render
	fi
fi

# --- dkms ------------------------------------------------------------------
ver=$(sed -n 's/^VERSION := //p' "$REPO/Makefile")
conf_ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO/dkms.conf")
target_ver=$(sed -n 's/^\t\.version\t *= {\([0-9]*\), \([0-9]*\), \([0-9]*\)},$/\1.\2.\3/p' \
	"$REPO/dm-xrepl/dm-xrepl-target.c")
if [[ -n "$ver" && "$ver" == "$conf_ver" && "$ver" == "$target_ver" ]]; then
	pass versions
else
	: >"$W/out"
	failc versions "Makefile says '$ver', dkms.conf '$conf_ver', the target '$target_ver'"
fi

if ! command -v dkms >/dev/null; then
	echo "SKIP packaging:dkms: dkms is not installed (make setup)"
elif [[ ! -d "$kdir" ]]; then
	echo "SKIP packaging:dkms: no headers for $kver in $kdir"
else
	src=$W/src dkt=$W/dkms
	mkdir -p "$dkt"
	# dkms signs what it builds, with a key it creates when there is
	# none: a scratch one, not the machine's /var/lib/dkms/mok.key.
	export mok_signing_key=$W/mok.key mok_certificate=$W/mok.pub
	if make -s -C "$REPO" dkms-source DESTDIR="$src" >"$W/out" 2>&1 &&
	   dkms add --sourcetree "$src/usr/src" --dkmstree "$dkt" \
		-m dm-xrepl -v "$ver" >>"$W/out" 2>&1 &&
	   dkms build --sourcetree "$src/usr/src" --dkmstree "$dkt" \
		-m dm-xrepl -v "$ver" -k "$kver" --kernelsourcedir "$kdir" \
		>>"$W/out" 2>&1; then
		ko=$(find "$dkt/dm-xrepl/$ver/$kver" -name 'dm-xrepl.ko*' | head -n1)
		if [[ -n "$ko" ]]; then
			pass dkms-build
			vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
			desc=$(modinfo -F description "$ko" 2>/dev/null)
			if [[ "$vm" == "$kver "* && "$desc" == *"remote block device"* ]]; then
				pass dkms-module
			else
				: >"$W/out"
				failc dkms-module "vermagic '$vm', description '$desc'"
			fi
		else
			find "$dkt" >"$W/out"
			failc dkms-build "dkms built no dm-xrepl.ko"
		fi
	else
		cat "$dkt"/dm-xrepl/"$ver"/build/make.log >>"$W/out" 2>/dev/null
		failc dkms-build "dkms add or build failed"
	fi
fi

echo "packaging tests: $npass passed, $nfail failed"
(( nfail == 0 ))
