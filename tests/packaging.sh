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
#   - make deb: the Debian source and binary packages build; their files,
#     dependencies, conffiles and maintainer scripts; dkms builds the
#     packaged module source
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
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# verdict CASE WHAT: pass CASE when the array "missing" is empty, else fail
# it listing the entries after WHAT.
verdict() {
	if (( ${#missing[@]} )); then
		: >"$W/out"
		failc "$1" "$2: ${missing[*]}"
	else
		pass "$1"
	fi
}

# runs CASE XREPLCTL: an installed xreplctl runs (--help).
runs() {
	if "$2" --help >"$W/out" 2>&1; then
		pass "$1"
	else
		failc "$1" "$2 --help failed"
	fi
}

# dkms_build SOURCETREE DKMSTREE: dkms add and build dm-xrepl $ver for
# $kver in scratch trees (output appended to $W/out); prints the module
# built.  dkms signs what it builds, with a key it creates when there is
# none: a scratch one, not the machine's /var/lib/dkms/mok.key.
dkms_build() {
	mkdir -p "$2"
	if ! (
		export mok_signing_key=$W/mok.key mok_certificate=$W/mok.pub
		dkms add --sourcetree "$1" --dkmstree "$2" -m dm-xrepl -v "$ver" &&
		dkms build --sourcetree "$1" --dkmstree "$2" -m dm-xrepl -v "$ver" \
			-k "$kver" --kernelsourcedir "$kdir"
	) >>"$W/out" 2>&1; then
		cat "$2/dm-xrepl/$ver/build/make.log" >>"$W/out" 2>/dev/null
		return 1
	fi
	find "$2/dm-xrepl/$ver/$kver" -name 'dm-xrepl.ko*' | head -n1
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
	usr/share/man/man8/xrepl-check.8 usr/share/man/man5/xrepl.conf.5 \
	usr/share/bash-completion/completions/xreplctl \
	usr/lib/systemd/system/xrepl-volumes.target \
	usr/lib/systemd/system/xrepl@.service \
	usr/lib/systemd/system/xrepl-monitor.service \
	usr/lib/systemd/system/xrepl-verify@.service \
	usr/lib/systemd/system/xrepl-verify@.timer \
	usr/lib/systemd/system-generators/xrepl-volumes-generator \
	usr/lib/ocf/resource.d/xrepl/xrepl \
	etc/default/xrepl-monitor; do
	[[ -f "$root/$f" ]] || missing+=("$f")
done
[[ -d "$root/etc/xrepl" ]] || missing+=(etc/xrepl/)
verdict install-files "not installed"
runs install-runs "$root/usr/sbin/xreplctl"

# The units start the installed binary with the installed paths.
u=$root/usr/lib/systemd/system
if grep -q "^ExecStart=$root/usr/sbin/xreplctl --config-dir $root/etc/xrepl up %i$" \
	"$u/xrepl@.service" &&
   grep -q "^ExecStop=$root/usr/sbin/xreplctl --config-dir $root/etc/xrepl down %i$" \
	"$u/xrepl@.service" &&
   grep -q "^ConditionPathExists=$root/etc/xrepl/%i.conf$" "$u/xrepl@.service" &&
   grep -q "^ExecStart=$root/usr/sbin/xreplctl monitor \$XREPL_MONITOR_OPTS$" \
	"$u/xrepl-monitor.service" &&
   grep -q "^EnvironmentFile=-$root/etc/default/xrepl-monitor$" "$u/xrepl-monitor.service" &&
   grep -q "^ExecStart=$root/usr/sbin/xreplctl verify %i --wait$" "$u/xrepl-verify@.service" &&
   ! grep -q '@[A-Z]*@' "$u"/xrepl-*.service "$u"/xrepl-*.target "$u"/xrepl@.service \
	"$root/usr/lib/systemd/system-generators/xrepl-volumes-generator"; then
	pass units-paths
else
	grep -H 'Exec\|Environment\|Condition\|@' "$u"/xrepl* >"$W/out"
	failc units-paths "the units do not name the installed paths"
fi
if command -v systemd-analyze >/dev/null; then
	# A template is verified through an instance of it.
	mkdir -p "$W/inst"
	cp "$u/xrepl@.service" "$W/inst/xrepl@vm1.service"
	cp "$u/xrepl-verify@.service" "$W/inst/xrepl-verify@vm1.service"
	cp "$u/xrepl-verify@.timer" "$W/inst/xrepl-verify@vm1.timer"
	if systemd-analyze verify --man=no "$u"/xrepl-monitor.service "$u"/xrepl-volumes.target \
		"$W/inst/xrepl@vm1.service" "$W/inst/xrepl-verify@vm1.service" \
		"$W/inst/xrepl-verify@vm1.timer" >"$W/out" 2>&1 && ! grep -q . "$W/out"; then
		pass units-verify
	else
		failc units-verify "systemd-analyze verify complained"
	fi
	# The sandbox: the exposure systemd rates below 5 (the figure the
	# documentation gives is checked against it too).
	insecure=()
	for unit in "$u/xrepl-monitor.service" "$W/inst/xrepl@vm1.service" \
		"$W/inst/xrepl-verify@vm1.service"; do
		score=$(systemd-analyze security --offline=true "$unit" 2>&1 |
			sed -n 's/.*Overall exposure level for [^ ]*: \([0-9.]*\) .*/\1/p')
		echo "${unit##*/}: exposure $score" >>"$W/scores"
		if [[ -z "$score" ]] || ! awk -v s="$score" 'BEGIN { exit !(s < 5) }'; then
			insecure+=("${unit##*/}: ${score:-no score}")
		fi
	done
	mscore=$(sed -n 's/^xrepl-monitor.service: exposure //p' "$W/scores")
	grep -q "rates it $mscore\." "$REPO/userspace/systemd/xrepl-monitor.service.in" ||
		insecure+=("xrepl-monitor.service.in does not give the score $mscore")
	grep -q "exposure level of $mscore" "$REPO/Documentation/dm-xrepl.rst" ||
		insecure+=("dm-xrepl.rst does not give the monitor's score $mscore")
	if (( ${#insecure[@]} )); then
		cp "$W/scores" "$W/out"
		failc units-security "systemd-analyze security: ${insecure[*]}"
	else
		pass units-security
	fi
else
	echo "SKIP packaging:units-verify: no systemd-analyze"
	echo "SKIP packaging:units-security: no systemd-analyze"
fi

# The generator: xrepl-volumes.target wants xrepl@<name> for each valid
# <name>.conf of the configuration directory, and skips the others and
# those with "boot = no".
gen=$root/usr/lib/systemd/system-generators/xrepl-volumes-generator
mkdir -p "$W/gconf" "$W/gout"
touch "$W/gconf/vm-1.conf" "$W/gconf/db_2.conf" "$W/gconf/-x.conf" "$W/gconf/a+b.conf" \
	"$W/gconf/notes.txt"
# A volume of the cluster manager's: not started at boot.
printf 'local = /dev/a\nboot = no  # Pacemaker\n' >"$W/gconf/clu.conf"
if XREPL_CONFIG_DIR=$W/gconf "$gen" "$W/gout" "$W/ge" "$W/gl" >"$W/out" 2>&1 &&
   [[ "$(find "$W/gout/xrepl-volumes.target.wants" -mindepth 1 -printf '%f\n' | sort |
	 tr '\n' ' ')" == "xrepl@db_2.service xrepl@vm-1.service " ]] &&
   [[ "$(readlink "$W/gout/xrepl-volumes.target.wants/xrepl@vm-1.service")" == "$u/xrepl@.service" ]] &&
   grep -q '"-x" cannot be a unit instance' "$W/out" && grep -q '"a+b" cannot be' "$W/out"; then
	pass units-generator
else
	ls -lR "$W/gout" >>"$W/out" 2>&1
	failc units-generator "the generator did not make exactly the wanted instances"
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
	for m in "$root"/usr/share/man/man8/*.8 "$root"/usr/share/man/man5/*.5; do
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
deb_ver=$(sed -n '1s/^dm-xrepl (\([^)]*\)).*/\1/p' "$REPO/debian/changelog")
if [[ -n "$ver" && "$ver" == "$conf_ver" && "$ver" == "$target_ver" &&
      "$ver" == "$deb_ver" ]]; then
	pass versions
else
	: >"$W/out"
	failc versions "Makefile says '$ver', dkms.conf '$conf_ver', the target '$target_ver', debian/changelog '$deb_ver'"
fi

if ! command -v dkms >/dev/null; then
	echo "SKIP packaging:dkms: dkms is not installed (make setup)"
elif [[ ! -d "$kdir" ]]; then
	echo "SKIP packaging:dkms: no headers for $kver in $kdir"
else
	src=$W/src dkt=$W/dkms
	if make -s -C "$REPO" dkms-source DESTDIR="$src" >"$W/out" 2>&1 &&
	   ko=$(dkms_build "$src/usr/src" "$dkt"); then
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
		failc dkms-build "dkms add or build failed"
	fi
fi

# --- Debian packages -------------------------------------------------------
# make deb: the source package and the binary packages dm-xrepl-dkms and
# xrepl-utils; their contents, dependencies and maintainer scripts; and a
# dkms build from the packaged module source.
if ! command -v dpkg-buildpackage >/dev/null || [[ ! -x /usr/bin/dh_dkms ]]; then
	echo "SKIP packaging:deb: needs dpkg-dev, debhelper and dh-dkms (make setup)"
else
	deb=$W/deb
	if make -s -C "$REPO" deb DEB_OUT="$deb" >"$W/out" 2>&1 &&
	   [[ -f "$deb/dm-xrepl_${ver}.dsc" && -f "$deb/dm-xrepl_${ver}.tar.xz" &&
	      -f "$deb/dm-xrepl-dkms_${ver}_all.deb" ]] &&
	   ls "$deb"/xrepl-utils_"${ver}"_*.deb >/dev/null 2>&1; then
		pass deb-build
	else
		ls -l "$deb" >>"$W/out" 2>&1
		failc deb-build "make deb failed or built the wrong files"
	fi
	udeb=$(find "$deb" -maxdepth 1 -name "xrepl-utils_${ver}_*.deb" | head -n1)
	ddeb=$deb/dm-xrepl-dkms_${ver}_all.deb
	if [[ -f "$udeb" && -f "$ddeb" ]]; then
		dpkg-deb -x "$udeb" "$deb/u" && dpkg-deb -e "$udeb" "$deb/u-ctl"
		dpkg-deb -x "$ddeb" "$deb/d" && dpkg-deb -e "$ddeb" "$deb/d-ctl"
		missing=()
		for f in usr/sbin/xreplctl usr/sbin/xrepl-dump usr/sbin/xrepl-check \
			usr/share/man/man8/xreplctl.8.gz usr/share/man/man5/xrepl.conf.5.gz \
			usr/share/bash-completion/completions/xreplctl \
			lib/systemd/system/xrepl-volumes.target lib/systemd/system/xrepl@.service \
			lib/systemd/system-generators/xrepl-volumes-generator \
			usr/lib/ocf/resource.d/xrepl/xrepl \
			lib/systemd/system/xrepl-monitor.service etc/default/xrepl-monitor \
			lib/systemd/system/xrepl-verify@.service lib/systemd/system/xrepl-verify@.timer \
			usr/share/doc/xrepl-utils/copyright; do
			[[ -f "$deb/u/$f" ]] || missing+=("xrepl-utils:$f")
		done
		for f in dkms.conf Kbuild dm-xrepl/Kbuild dm-xrepl/dm-xrepl-target.c \
			dm-xrepl/xrepl-format.h; do
			[[ -f "$deb/d/usr/src/dm-xrepl-$ver/$f" ]] || missing+=("dm-xrepl-dkms:$f")
		done
		grep -q "^ExecStart=/usr/sbin/xreplctl --config-dir /etc/xrepl up %i$" \
			"$deb/u/lib/systemd/system/xrepl@.service" ||
			missing+=("xrepl@.service naming /usr/sbin/xreplctl")
		grep -q "^template=/lib/systemd/system/xrepl@.service$" \
			"$deb/u/lib/systemd/system-generators/xrepl-volumes-generator" ||
			missing+=("the generator naming /lib/systemd/system/xrepl@.service")
		grep -qx /etc/default/xrepl-monitor "$deb/u-ctl/conffiles" ||
			missing+=("conffile /etc/default/xrepl-monitor")
		grep -q '^Depends:.*libdevmapper' "$deb/u-ctl/control" ||
			missing+=("xrepl-utils Depends: libdevmapper")
		grep -q '^Depends:.*dkms' "$deb/d-ctl/control" ||
			missing+=("dm-xrepl-dkms Depends: dkms")
		{ grep -q "^DKMS_NAME=dm-xrepl$" "$deb/d-ctl/postinst" &&
		  grep -q "^DKMS_VERSION=$ver$" "$deb/d-ctl/postinst" &&
		  grep -q "/usr/lib/dkms/common.postinst" "$deb/d-ctl/postinst"; } ||
			missing+=("dm-xrepl-dkms postinst running dkms")
		# The volumes are the operator's: the package enables their
		# target for the next boot but never starts or stops it.
		grep -q "deb-systemd-helper .*enable.*xrepl-volumes.target" "$deb/u-ctl/postinst" ||
			missing+=("enable of xrepl-volumes.target in postinst")
		if grep -q "deb-systemd-invoke .*xrepl-volumes\|deb-systemd-invoke .*xrepl@" \
			"$deb/u-ctl/postinst"; then
			missing+=("no start of the volumes in postinst")
		fi
		grep -q "deb-systemd-invoke .*xrepl-monitor" "$deb/u-ctl/postinst" ||
			missing+=("start of xrepl-monitor.service in postinst")
		# The verify timer is off until the operator enables it.
		if grep -q "xrepl-verify" "$deb/u-ctl/postinst"; then
			missing+=("no enable of the verify timer in postinst")
		fi
		verdict deb-contents "missing or wrong"
		runs deb-runs "$deb/u/usr/sbin/xreplctl"
		# The packaged module source builds, as the postinst would.
		if command -v dkms >/dev/null && [[ -d "$kdir" ]]; then
			: >"$W/out"
			if ko=$(dkms_build "$deb/d/usr/src" "$W/dkms-deb") && [[ -n "$ko" ]]; then
				pass deb-dkms-build
			else
				failc deb-dkms-build "dkms could not build the packaged source"
			fi
		fi
	fi
fi

echo "packaging tests: $npass passed, $nfail failed"
(( nfail == 0 ))
