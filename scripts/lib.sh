# shellcheck shell=bash
# Common environment and helpers for the dm-xrepl host-side scripts.
#
# Source this file; it does not change shell options of the caller.
#
# Environment knobs (all optional):
#   XREPL_CACHE   cache directory for the guest kernel and initramfs
#                 (default: $HOME/.cache/dm-xrepl)
#   KVER          Debian kernel flavour to boot and build against, e.g.
#                 6.1.0-56-amd64 (default: what linux-headers-amd64 depends on)
#   KDIR          kernel build directory (default: /usr/src/linux-headers-$KVER)
#   XREPL_VERBOSE set to 1 for more chatter from the helpers

# Absolute path of the repository root (parent of scripts/).
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS_DIR="$REPO_ROOT/scripts"
export REPO_ROOT

CACHE=${XREPL_CACHE:-${HOME:-/root}/.cache/dm-xrepl}

# ---------------------------------------------------------------------------
# Logging.  Everything goes to stderr so that stdout stays usable for data.
# ---------------------------------------------------------------------------
if [[ -t 2 ]]; then
	_c_info=$'\e[1;34m' _c_warn=$'\e[1;33m' _c_err=$'\e[1;31m' _c_off=$'\e[0m'
else
	_c_info='' _c_warn='' _c_err='' _c_off=''
fi

log()  { printf '%s==>%s %s\n' "$_c_info" "$_c_off" "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_c_warn" "$_c_off" "$*" >&2; }
err()  { printf '%serror:%s %s\n' "$_c_err" "$_c_off" "$*" >&2; }
die()  { err "$*"; exit 1; }
vlog() { [[ "${XREPL_VERBOSE:-0}" == 1 ]] && info "$*"; return 0; }

# Print a phase header and remember when it started; phase_end prints the
# elapsed time.  Used by check.sh and demo.sh.
phase_begin() {
	_phase_name=$1
	_phase_t0=$(date +%s)
	printf '\n%s======== %s ========%s\n' "$_c_info" "$1" "$_c_off" >&2
}
phase_end() {
	local t=$(( $(date +%s) - _phase_t0 ))
	printf '%s-------- %s: %s (%ds) --------%s\n' "$_c_info" "$_phase_name" "${1:-done}" "$t" "$_c_off" >&2
}

# ---------------------------------------------------------------------------
# Kernel version selection.
# ---------------------------------------------------------------------------

# Print the kernel flavour to use.  Order: $KVER, the dependency of the
# linux-headers-amd64 metapackage, the newest installed amd64 headers.
# KVER may name a series ("6.1", "6.12"): the newest amd64 flavour of it
# in the package lists, or else installed.
detect_kver() {
	local k
	if [[ "${KVER:-}" =~ ^[0-9]+\.[0-9]+$ ]]; then
		k=$( { apt-cache pkgnames "linux-headers-$KVER" 2>/dev/null
			find /usr/src -maxdepth 1 -name "linux-headers-$KVER*-amd64" -printf '%f\n' 2>/dev/null; } |
			grep -E "^linux-headers-${KVER//./\\.}[.-][0-9][0-9.]*(-[0-9]+|\\+deb[0-9]+)-amd64\$" |
			sed 's/^linux-headers-//' | sort -V | tail -n1)
		[[ -n "$k" ]] || return 1
		echo "$k"
		return 0
	fi
	if [[ -n "${KVER:-}" ]]; then
		echo "$KVER"
		return 0
	fi
	k=$(apt-cache depends linux-headers-amd64 2>/dev/null |
		awk '/Depends: linux-headers-[0-9]/ { sub("linux-headers-", "", $2); print $2; exit }')
	if [[ -z "$k" ]]; then
		# No package lists yet: fall back to whatever headers are installed.
		k=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' -printf '%f\n' 2>/dev/null |
			sed 's/^linux-headers-//' | sort -V | tail -n1)
	fi
	[[ -n "$k" ]] || return 1
	echo "$k"
}

# guest_image_pkg KVER: print the package that carries KVER's image and
# modules: linux-image-KVER (signed), or linux-image-KVER-unsigned, the
# same kernel, which the archive sometimes publishes first.  Prints
# nothing if the package lists have neither.
guest_image_pkg() {
	local p c
	for p in "linux-image-$1" "linux-image-$1-unsigned"; do
		c=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
		if [[ -n "$c" && "$c" != "(none)" ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Set KVER, KDIR and the derived cache paths.  Call after detect_kver works
# (i.e. after setup.sh has run apt-get update at least once).
init_paths() {
	KVER=$(detect_kver) || die "cannot determine the kernel version (run scripts/setup.sh, or set KVER)"
	export KVER
	KDIR=${KDIR:-/usr/src/linux-headers-$KVER}
	export KDIR
	KERNEL_ROOT="$CACHE/kernel/$KVER"           # extracted linux-image .deb
	VMLINUZ="$KERNEL_ROOT/boot/vmlinuz-$KVER"
	MODDIR="$KERNEL_ROOT/lib/modules/$KVER"
	INITRAMFS_DIR="$CACHE/initramfs"
	# The initramfs is keyed by kernel version and by the hash of the
	# scripts that define it, so editing them rebuilds it automatically.
	local h
	h=$(cat "$SCRIPTS_DIR/mkinitramfs.sh" "$SCRIPTS_DIR/guest-init.sh" | sha256sum | cut -c1-12)
	INITRAMFS="$INITRAMFS_DIR/initramfs-$KVER-$h.cpio.gz"
	MODULE_SRC="$REPO_ROOT/dm-xrepl"
	MODULE_KO="$MODULE_SRC/dm-xrepl.ko"
}

# True when the guest kernel and initramfs are ready to boot.
guest_ready() {
	[[ -f "$VMLINUZ" && -f "$MODDIR/modules.dep" && -f "$INITRAMFS" ]]
}

# ---------------------------------------------------------------------------
# Module build.
# ---------------------------------------------------------------------------

# build_module LOGFILE: build dm-xrepl.ko with W=1 against $KDIR.
# Returns 0 on a clean build, 1 on a build error, 2 when the build succeeded
# but the compiler or modpost printed warnings.  Output goes to LOGFILE and
# the warnings (if any) are repeated on stderr.
build_module() {
	local logf=$1 rc=0
	if [[ ! -d "$MODULE_SRC" ]]; then
		echo "module source directory $MODULE_SRC does not exist" >"$logf"
		err "module source directory $MODULE_SRC does not exist"
		return 1
	fi
	[[ -d "$KDIR" ]] || die "kernel build directory $KDIR missing (run scripts/setup.sh)"
	make -C "$KDIR" M="$MODULE_SRC" W=1 -j"$(nproc)" modules >"$logf" 2>&1 || rc=$?
	if (( rc != 0 )); then
		err "module build failed (exit $rc); last lines of $logf:"
		tail -n 40 "$logf" >&2
		return 1
	fi
	# Compiler diagnostics look like "file.c:12:3: warning: ..." and
	# modpost says "WARNING: modpost: ...".  Either fails the build.
	if grep -E -q '(: warning: |^WARNING: )' "$logf"; then
		err "module build produced warnings (treated as errors):"
		grep -E -A4 '(: warning: |^WARNING: )' "$logf" >&2
		return 2
	fi
	[[ -f "$MODULE_KO" ]] || { err "build succeeded but $MODULE_KO is missing"; return 1; }
	return 0
}

# ---------------------------------------------------------------------------
# Results of a check run (scripts/check.sh, scripts/check-debug.sh).
# ---------------------------------------------------------------------------

# results_init NAME: a run directory $CACHE/runs/NAME.<date>.XXXX (run_dir)
# with an empty results file (results); starts the clock.
results_init() {
	t_start=$(date +%s)
	mkdir -p "$CACHE/runs"
	run_dir=$(mktemp -d "$CACHE/runs/$1.$(date +%Y%m%d-%H%M%S).XXXX")
	results="$run_dir/results.txt"
	: >"$results"
}

# add_result LINE: record and show one "PASS|FAIL|SKIP name[: reason]" line.
add_result() { echo "$*" | tee -a "$results"; }

# summary [TITLE]: the failures, the skips and "N passed, N failed, N
# skipped"; false if anything failed.
summary() {
	local p f s
	p=$(grep -c '^PASS ' "$results")
	f=$(grep -c '^FAIL ' "$results")
	s=$(grep -c '^SKIP ' "$results")
	echo
	echo "=== ${1:-summary} ($(( $(date +%s) - t_start ))s, logs in $run_dir) ==="
	if (( f )); then
		echo "failures:"
		grep '^FAIL ' "$results" | sed 's/^/  /'
	fi
	if (( s )); then
		echo "skipped:"
		grep '^SKIP ' "$results" | sed 's/^/  /'
	fi
	# How long the slowest tests took (the lines that say it).
	local slow
	slow=$(sed -n 's/^[A-Z]* \([^ ]*\) (\([0-9][0-9]*\)s).*/\2 \1/p' "$results" |
		sort -rn | head -n 5 | awk '{ printf " %s (%ss)", $2, $1 }')
	[[ -z "$slow" ]] || echo "slowest:$slow"
	echo "$p passed, $f failed, $s skipped"
	(( f == 0 ))
}

# run_suite NAME SCRIPT ARGS...: run a suite runner (tests/run-*.sh) with
# --out $run_dir/NAME --results $run_dir/NAME.txt and ARGS, and take its
# PASS/FAIL/SKIP lines into the results; a runner that wrote none fails.
run_suite() {
	local name=$1 script=$2 rc=0
	shift 2
	"$script" --out "$run_dir/$name" --results "$run_dir/$name.txt" "$@" || rc=$?
	if [[ -f "$run_dir/$name.txt" ]]; then
		cat "$run_dir/$name.txt" >>"$results"
	else
		add_result "FAIL $name: ${script#"$REPO_ROOT"/} produced no results (exit $rc)"
	fi
	phase_end "exit status $rc"
}
