# shellcheck shell=bash
# Helpers for the dm-xrepl integration tests (tests/integration/NNN-*.sh).
#
# Each test is a small bash script that runs as root inside the test guest
# (see tests/guest/run-tests.sh) and starts with
#
#     . "$(dirname "$0")/../lib/common.sh"
#
# which turns on `set -euo pipefail`, names the test after its file and
# installs an EXIT trap that removes every dm device the test created (in
# reverse order), stops background jobs, detaches loop devices and unloads
# brd, so the next test starts clean.
#
# Conventions:
#   - every dm device a test creates is called "$P-<something>" where $P is
#     "xt<NNN>" (from the file name); create them with dm_create so they are
#     cleaned up
#   - a test fails by calling fail (or any command failing under set -e);
#     it is skipped with skip "reason"
#   - all sizes are in 512-byte sectors unless a name says otherwise
set -euo pipefail

TEST_NAME=${XREPL_TEST_NAME:-$(basename "$0" .sh)}
TEST_NUM=${TEST_NAME%%-*}
P="xt$TEST_NUM"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=${REPO_ROOT:-$(cd "$TESTS_DIR/.." && pwd)}
export DM_DISABLE_UDEV=1
# How much slower than the stock kernel the guest runs (make check-debug's
# kernel: 5); a test whose premise is a ratio of two times scales them.
# shellcheck disable=SC2034  # used by the tests
TIME_SCALE=${XREPL_TIME_SCALE:-1}
T_TMP=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
# The repository is read-only in the guest: work in the scratch directory.
cd "$T_TMP"

_DM_DEVS=()        # dm devices created by this test, in creation order
_LOOP_DEVS=()      # loop devices attached by this test
_BG_PIDS=()        # background jobs to stop on exit
_BRD_LOADED=0
_EXIT_CMDS=()      # at_exit commands, run after the dm devices are removed
_FIRST_CMDS=()     # at_exit_first commands, run before
_UNHANG_CMDS=()    # at_exit_unhang commands, run before background jobs are reaped

# ---------------------------------------------------------------------------
# Logging and assertions
# ---------------------------------------------------------------------------

# Lines carry the seconds since the test started.
log()  { printf '[%s %3ds] %s\n' "$TEST_NAME" "$SECONDS" "$*"; }
step() { printf '[%s %3ds] --- %s\n' "$TEST_NAME" "$SECONDS" "$*"; }

# Files whose contents a failure prints (a background tool's log, say):
# a test adds to it with T_FAIL_LOGS+=(FILE).
T_FAIL_LOGS=()

# fail MESSAGE...: stop the test with a failure.
fail() {
	local f
	printf '[%s] FAILED: %s\n' "$TEST_NAME" "$*" >&2
	for f in "${T_FAIL_LOGS[@]}"; do
		[[ -s "$f" ]] || continue
		printf '    --- %s:\n' "${f##*/}" >&2
		sed 's/^/    | /' "$f" >&2
	done
	exit 1
}

# skip REASON: stop the test and report it as skipped.
skip() {
	printf '[%s] skipped: %s\n' "$TEST_NAME" "$*"
	[[ -n "${TEST_SKIP_FILE:-}" ]] && printf '%s\n' "$*" >"$TEST_SKIP_FILE"
	exit 77
}

# assert_eq EXPECTED SEEN WHAT
assert_eq() {
	[[ "$1" == "$2" ]] || fail "$3: expected '$1', seen '$2'"
	log "ok: $3 = '$2'"
}

# assert_ne UNEXPECTED SEEN WHAT
assert_ne() {
	[[ "$1" != "$2" ]] || fail "$3: expected anything but '$1', seen '$2'"
	log "ok: $3 = '$2' (not '$1')"
}

# assert_cmp A OP B WHAT: integer comparison, OP one of -eq -ne -lt -le -gt -ge
assert_cmp() {
	[[ "$1" =~ ^-?[0-9]+$ && "$3" =~ ^-?[0-9]+$ ]] ||
		fail "$4: not a number: '$1' / '$3'"
	test "$1" "$2" "$3" || fail "$4: expected $1 $2 $3 to hold"
	log "ok: $4 ($1 $2 $3)"
}

# assert_match REGEX SEEN WHAT
assert_match() {
	[[ "$2" =~ $1 ]] || fail "$3: expected to match /$1/, seen '$2'"
	log "ok: $3 = '$2'"
}

# expect_fail WHAT CMD...: CMD must exit non-zero.  Its output is shown.
expect_fail() {
	local what=$1 rc=0 out
	shift
	out=$("$@" 2>&1) || rc=$?
	[[ -n "$out" ]] && printf '%s\n' "$out" | sed 's/^/    | /'
	(( rc != 0 )) || fail "$what: '$*' succeeded but must fail"
	log "ok: $what: failed as required (exit $rc)"
}

# must WHAT CMD...: CMD must succeed; on failure its output is shown.
must() {
	local what=$1 rc=0 out
	shift
	out=$("$@" 2>&1) || rc=$?
	(( rc == 0 )) || { printf '%s\n' "$out" | sed 's/^/    | /' >&2; fail "$what: '$*' failed (exit $rc)"; }
	return 0
}

# ---------------------------------------------------------------------------
# Kernel log
# ---------------------------------------------------------------------------

_MARK=""
# kmsg_mark: put a unique marker in the kernel log; dmesg_since_mark prints
# what the kernel logged after it.
kmsg_mark() {
	_MARK="xrepl-test-mark $TEST_NAME $RANDOM$RANDOM"
	echo "$_MARK" >/dev/kmsg
}
dmesg_since_mark() {
	[[ -n "$_MARK" ]] || fail "dmesg_since_mark without kmsg_mark"
	dmesg | awk -v m="$_MARK" 'found { print } index($0, m) { found = 1 }'
}

# dmesg_wait GREP_ARGS...: the last line of grep's output on the kernel log
# since the mark, waiting up to 2 s for there to be one (printk is
# asynchronous with respect to the ioctl return); 1 if there is none.
dmesg_wait() {
	local out i
	for (( i = 0; i < 20; i++ )); do
		out=$(dmesg_since_mark | grep "$@" | tail -n1)
		[[ -n "$out" ]] && { echo "$out"; return 0; }
		sleep 0.1
	done
	return 1
}

# assert_dmesg_contains TEXT WHAT: the kernel logged TEXT since the mark.
assert_dmesg_contains() {
	local text=$1 what=$2
	dmesg_wait -F -- "$text" >/dev/null && { log "ok: $what: kernel logged '$text'"; return 0; }
	echo "    kernel log since the mark:" >&2
	dmesg_since_mark | sed 's/^/    | /' >&2
	fail "$what: expected the kernel to log '$text'"
}

# ---------------------------------------------------------------------------
# Device fixtures
# ---------------------------------------------------------------------------

# dev_sectors DEV: size of a block device in sectors.
dev_sectors() { blockdev --getsz "$1"; }

# devno DEV: "major:minor" of a block device.
devno() {
	local d
	d=$(readlink -f "$1")
	printf '%d:%d\n' "0x$(stat -c %t "$d")" "0x$(stat -c %T "$d")"
}

# ramdisks N SIZE_MIB: load brd with N ramdisks of SIZE_MIB each
# (/dev/ram0 .. /dev/ram$((N-1))).  Unloaded again on exit.
ramdisks() {
	local n=$1 mib=$2
	if grep -q '^brd ' /proc/modules; then
		rmmod brd 2>/dev/null || fail "brd is loaded and busy (leftover from an earlier test?)"
	fi
	modprobe brd rd_nr="$n" rd_size=$(( mib * 1024 )) max_part=0 ||
		fail "cannot load brd"
	_BRD_LOADED=1
	local i
	for (( i = 0; i < n; i++ )); do
		udev_settle_node "/dev/ram$i"
	done
}

# loopdisk SIZE_MIB [DIR]: create a loop device backed by a file in DIR
# (default: the test's tmpfs scratch directory); its path is left in
# LOOPDEV.  Loop devices have a volatile write cache (flushes are passed
# on) and support discard; write-zeroes needs a file system with
# FALLOC_FL_ZERO_RANGE (e.g. ext4, see scratch_fs), which tmpfs lacks.
# (Helpers that register things for cleanup must not run in $(...).)
loopdisk() {
	local mib=$1 dir=${2:-$T_TMP} f
	modprobe loop 2>/dev/null || true
	f=$(mktemp "$dir/loop.XXXXXX")
	truncate -s "${mib}M" "$f"
	LOOPDEV=$(losetup --find --show "$f") || fail "losetup failed"
	_LOOP_DEVS+=("$LOOPDEV")
	udev_settle_node "$LOOPDEV"
}

# scratch_fs DEV DIR: make an ext4 file system on DEV and mount it on DIR
# (unmounted on exit).
_MOUNTS=()
scratch_fs() {
	local dev=$1 dir=$2
	mkfs.ext4 -q -F -E nodiscard "$dev" || fail "mkfs.ext4 $dev failed"
	mkdir -p "$dir"
	mount "$dev" "$dir" || fail "mount $dev failed"
	_MOUNTS+=("$dir")
}

# Wait for a device node to appear (there is no udev in the guest).
udev_settle_node() {
	local node=$1 i
	for (( i = 0; i < 50; i++ )); do
		[[ -b "$node" ]] && return 0
		sleep 0.1
	done
	fail "device node $node did not appear"
}

# dm_create NAME TABLE: create a dm device; it is removed on exit.
# The table may hold several lines.
dm_create() {
	local name=$1 table=$2 out
	out=$(dmsetup create "$name" --table "$table" 2>&1) || {
		printf '%s\n' "$out" | sed 's/^/    | /' >&2
		echo "    table: $table" >&2
		fail "dmsetup create $name failed"
	}
	_DM_DEVS+=("$name")
	# Without udev libdevmapper makes the node itself; mknodes is a fallback.
	[[ -b "/dev/mapper/$name" ]] || dmsetup mknodes "$name" >/dev/null 2>&1 || true
	udev_settle_node "/dev/mapper/$name"
}

# dm_try_create NAME TABLE: like dm_create but returns dmsetup's status
# instead of failing (for tests of refused tables); output on stdout.
dm_try_create() {
	local name=$1 table=$2
	if dmsetup create "$name" --table "$table" 2>&1; then
		_DM_DEVS+=("$name")
		return 0
	fi
	return 1
}

# dm_remove NAME: remove a device created by dm_create.
dm_remove() {
	local name=$1 i
	dmsetup remove --retry "$name" >/dev/null || fail "dmsetup remove $name failed"
	for i in "${!_DM_DEVS[@]}"; do
		[[ "${_DM_DEVS[$i]}" == "$name" ]] && unset '_DM_DEVS[i]'
	done
	_DM_DEVS=("${_DM_DEVS[@]}")
}

# dm_reload NAME TABLE: load a new table and swap it in (suspend + resume).
dm_reload() {
	local name=$1 table=$2
	must "load new table into $name" dmsetup load "$name" --table "$table"
	must "suspend $name" dmsetup suspend "$name"
	must "resume $name" dmsetup resume "$name"
}

# linear_table DEV [SECTORS [OFFSET]]: one-line dm-linear table.
linear_table() {
	local dev=$1 len=${2:-} off=${3:-0}
	[[ -n "$len" ]] || len=$(dev_sectors "$dev")
	echo "0 $len linear $dev $off"
}

# make_leg NAME DEV [SECTORS]: dm-linear device /dev/mapper/$P-NAME over
# DEV, so that faults can be injected later by reloading its table.
make_leg() {
	local name=$1 dev=$2 len=${3:-}
	dm_create "$P-$name" "$(linear_table "$dev" "$len")"
}

# ram_legs SIZE_MIB: the usual fixture: two ramdisks with a dm-linear leg
# over each (so faults can be injected by reloading them); sets L (local),
# R (remote) and S (their size in sectors).
ram_legs() {
	ramdisks 2 "$1"
	make_leg local /dev/ram0
	make_leg remote /dev/ram1
	L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
	S=$(dev_sectors "$L")
}

# meta_legs SIZE_MIB: ram_legs plus a zeroed metadata device M (dm-linear
# over a third ramdisk, 4 MiB, so it can be reloaded to inject faults).
meta_legs() {
	ramdisks 3 "$1"
	make_leg local /dev/ram0
	make_leg remote /dev/ram1
	make_leg meta /dev/ram2 8192
	L=/dev/mapper/$P-local R=/dev/mapper/$P-remote M=/dev/mapper/$P-meta
	S=$(dev_sectors "$L")
}

# site_legs SIZE_MIB: two sites, each a data and a metadata device
# (dm-linear, so a link failure can be injected): site A's data L and
# metadata M, site B's data R and metadata RM; S is the size in sectors.
site_legs() {
	ramdisks 4 "$1"
	make_leg local /dev/ram0
	make_leg remote /dev/ram1
	make_leg meta /dev/ram2 8192
	make_leg rmeta /dev/ram3 8192
	L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
	M=/dev/mapper/$P-meta RM=/dev/mapper/$P-rmeta
	S=$(dev_sectors "$L")
}

# sbe DEV CMD...: read or change a metadata device's superblock
# (tests/lib/sbedit.py); the test fails if it cannot.
sbe() { python3 "$TESTS_DIR/lib/sbedit.py" "$@" || fail "sbedit.py $*"; }

# xrepl_tool NAME: path of an offline tool (xrepl-check, xrepl-dump).
xrepl_tool() {
	local t="$REPO_ROOT/userspace/$1"
	[[ -x "$t" ]] || fail "$t is not built (make userspace)"
	echo "$t"
}

# fill_random DEV [BYTES]: fill a device with random data (O_DIRECT).
fill_random() {
	local dev=$1 bytes=${2:-}
	[[ -n "$bytes" ]] || bytes=$(( $(dev_sectors "$dev") * 512 ))
	dd if=/dev/urandom of="$dev" bs=1M iflag=count_bytes count="$bytes" \
		oflag=direct status=none || fail "cannot fill $dev"
}

# write_at DEV OFFSET_BYTES LEN_BYTES [SOURCE]: O_DIRECT write of LEN bytes
# of SOURCE (default /dev/urandom) at OFFSET.  Both must be 4 KiB aligned.
write_at() {
	local dev=$1 off=$2 len=$3 src=${4:-/dev/urandom}
	dd if="$src" of="$dev" bs=4096 seek="$(( off / 4096 ))" count="$(( len / 4096 ))" \
		iflag=fullblock oflag=direct conv=notrunc status=none
}

# read_at DEV OFFSET_BYTES LEN_BYTES: O_DIRECT read to stdout.
read_at() {
	local dev=$1 off=$2 len=$3
	dd if="$dev" bs=4096 skip="$(( off / 4096 ))" count="$(( len / 4096 ))" \
		iflag=direct status=none
}

# dev_md5 DEV [SECTORS]: md5 of the first SECTORS (default all) read with
# O_DIRECT, so that no stale page cache of a lower device is used.
dev_md5() {
	local dev=$1 len=${2:-}
	[[ -n "$len" ]] || len=$(dev_sectors "$dev")
	dd if="$dev" bs=1M iflag=direct,count_bytes count=$(( len * 512 )) status=none |
		md5sum | cut -d' ' -f1
}

# legs_equal A B [SECTORS]: compare two devices byte for byte over SECTORS
# (default: the size of A) with O_DIRECT reads (tests/lib/cmpdev.py).
# Returns 0 when equal; on a difference prints where and returns 1.
legs_equal() {
	local a=$1 b=$2 len=${3:-} rc=0
	[[ -n "$len" ]] || len=$(dev_sectors "$a")
	python3 "$TESTS_DIR/lib/cmpdev.py" "$a" "$b" $(( len * 512 )) || rc=$?
	(( rc == 2 )) && fail "cannot compare $a and $b"
	return "$rc"
}

# assert_legs_equal A B [SECTORS]
assert_legs_equal() {
	legs_equal "$@" || fail "legs $1 and $2 differ"
	log "ok: $1 and $2 are identical over ${3:-$(dev_sectors "$1")} sectors"
}

# ---------------------------------------------------------------------------
# xrepl helpers
# ---------------------------------------------------------------------------

# The status keys, in the order the target must print them.
# shellcheck disable=SC2034  # used by the tests
XREPL_STATUS_KEYS="mode remote dirty resync remote_errors local_errors region_size on_remote_error degraded_by resync_active copied_regions writes remote_writes consistent resync_rate resync_rate_kbps meta meta_writes marked meta_failed lag_bytes lag_writes oldest_lag_ms draining lag_waits semi_timeouts peer peer_meta_writes local_read_errors remote_reads verify verify_mismatches verify_active verify_rests cycles cycling cycle point_age_ms copies_for_writes written_kb shipped_kb undo undo_slots undo_saves undo_overflows journal_used_kb journal_size_kb ship_point_ms held delay_ms ship_until_ms"

require_xrepl() {
	dmsetup targets 2>/dev/null | grep -q '^xrepl ' ||
		skip "the xrepl target is not available (dm-xrepl.ko not built or not loaded)"
}

# The cleaner's rounds every $1 ms (default 1000) for the rest of the test,
# instead of every 5 s, for a test that waits for marks to go many times.
# It takes effect once the round already queued ran; the cleanup puts the
# default back.
fast_cleaner() {
	local p=/sys/module/dm_xrepl/parameters/clean_interval_ms

	[[ -w $p ]] || fail "no module parameter clean_interval_ms"
	echo "${1:-1000}" >"$p"
}

# lvm_scratch REGEX...: LVM without udev, its configuration and state in
# the scratch directory (the root file system is read-only in the guest):
# only the devices whose path matches a REGEX are scanned, and LVs are not
# (scan_lvs=0).  lvm_must runs an lvm command that must succeed.
lvm_scratch() {
	local f="" r
	for r in "$@"; do
		f+="\"a|$r|\", "
	done
	export LVM_SYSTEM_DIR=$T_TMP/lvm
	mkdir -p "$LVM_SYSTEM_DIR/lock"
	cat >"$LVM_SYSTEM_DIR/lvm.conf" <<CONF
devices {
	obtain_device_list_from_udev = 0
	external_device_info_source = "none"
	use_devicesfile = 0
	scan_lvs = 0
	global_filter = [ $f"r|.*|" ]
}
activation {
	udev_sync = 0
	udev_rules = 0
	verify_udev_operations = 1
	monitoring = 0
}
backup {
	backup = 0
	archive = 0
}
global {
	locking_dir = "$LVM_SYSTEM_DIR/lock"
}
CONF
}
lvm_must() { must "$*" lvm "$@"; }

# ctl_rc WANT WHAT ARGS...: "$CTL ARGS" (xreplctl) exits with WANT; its
# standard output is left in $out (both outputs are shown on failure).
ctl_rc() {
	local want=$1 what=$2 rc=0
	shift 2
	"$CTL" "$@" >"$T_TMP/ctl.out" 2>"$T_TMP/ctl.err" || rc=$?
	out=$(cat "$T_TMP/ctl.out")
	if (( rc != want )); then
		sed 's/^/    | /' "$T_TMP/ctl.out" "$T_TMP/ctl.err" >&2
		fail "$what: xreplctl $* exited $rc, expected $want"
	fi
	log "ok: $what (exit $rc)${out:+: $(head -n 1 <<<"$out")}"
}

# require_modules MODULE...: skip unless the guest kernel has every one
# (built in or as a module; make check-debug's kernel has fewer than the
# stock ones), then load them.
require_modules() {
	local m
	for m in "$@"; do
		modinfo -n "$m" >/dev/null 2>&1 || skip "kernel $(uname -r) has no $m"
	done
	for m in "$@"; do
		modprobe "$m" || fail "cannot load $m"
	done
}

# require_target NAME [MODULE]: skip unless a dm target can be loaded.
require_target() {
	local t=$1 m=${2:-dm-$1}
	dmsetup targets | grep -q "^$t " && return 0
	modprobe "$m" 2>/dev/null || true
	dmsetup targets | grep -q "^$t " || skip "dm target $t not available"
}

# xrepl_table LOCAL REMOTE [OPT...]: table line for an xrepl device the size
# of LOCAL (override with XREPL_LEN=sectors) in mode XREPL_MODE (default
# sync), with the metadata device XREPL_META (default "-"); OPTs become the
# optional arguments, with their count prepended.
xrepl_table() {
	local l=$1 r=$2
	shift 2
	local len=${XREPL_LEN:-$(dev_sectors "$l")} m=${XREPL_META:--}
	local mode=${XREPL_MODE:-sync}
	if (( $# )); then
		echo "0 $len xrepl $l $r $m $mode $# $*"
	else
		echo "0 $len xrepl $l $r $m $mode"
	fi
}

# xrepl_create NAME LOCAL REMOTE [OPT...]: create /dev/mapper/$P-NAME.
xrepl_create() {
	local name=$1
	shift
	dm_create "$P-$name" "$(xrepl_table "$@")"
}

# dm_name DEV: the dm name of /dev/mapper/NAME or NAME.
dm_name() { echo "${1##*/}"; }

# xrepl_status DEV: the key=value part of the status line.
xrepl_status() {
	local s
	s=$(dmsetup status "$(dm_name "$1")") || fail "dmsetup status $1 failed"
	[[ "$s" =~ ^0\ [0-9]+\ xrepl\ (.*)$ ]] || fail "unexpected status line for $1: '$s'"
	echo "${BASH_REMATCH[1]}"
}

# status_field DEV KEY: the value of KEY in the status line.
status_field() {
	local dev=$1 key=$2 tok
	for tok in $(xrepl_status "$dev"); do
		if [[ "$tok" == "$key="* ]]; then
			echo "${tok#*=}"
			return 0
		fi
	done
	fail "status of $dev has no key '$key': $(xrepl_status "$dev")"
}

# Parts of "a/b" values (dirty=, resync=).
num_of() { echo "${1%%/*}"; }
den_of() { echo "${1##*/}"; }

# assert_status DEV KEY EXPECTED
assert_status() {
	local v
	v=$(status_field "$1" "$2")
	[[ "$v" == "$3" ]] || fail "status $2 of $(dm_name "$1"): expected '$3', seen '$v' (status: $(xrepl_status "$1"))"
	log "ok: $(dm_name "$1") $2=$v"
}

# poll_status DEV KEY TIMEOUT_SECS WHAT TEST_ARGS...: poll until the status
# field KEY passes `test "$value" TEST_ARGS...`; WHAT describes the
# condition in the failure message.
poll_status() {
	local dev=$1 key=$2 tmo=$3 what=$4 v t0
	shift 4
	t0=$(date +%s%N)
	while :; do
		v=$(status_field "$dev" "$key")
		if test "$v" "$@"; then
			t0=$(( ($(date +%s%N) - t0) / 100000000 ))
			log "ok: $(dm_name "$dev") $key=$v after $(( t0 / 10 )).$(( t0 % 10 ))s"
			return 0
		fi
		(( $(date +%s%N) - t0 <= tmo * 1000000000 )) ||
			fail "$(dm_name "$dev"): $key did not become $what within ${tmo}s (status: $(xrepl_status "$dev"))"
		sleep 0.05
	done
}

# wait_for_status DEV KEY VALUE TIMEOUT_SECS: poll until KEY=VALUE.
wait_for_status() { poll_status "$1" "$2" "$4" "'$3'" = "$3"; }

# wait_for_cmp DEV KEY OP N TIMEOUT_SECS: poll until the numeric status
# field KEY satisfies "KEY OP N" (OP as for test: -gt, -ge, -eq, ...).
# For conditions that need some I/O to have started, however slowly the
# guest starts it.
wait_for_cmp() { poll_status "$1" "$2" "$5" "$3 $4" "$3" "$4"; }

# periodic_point DEV N: the Nth cycle of DEV (periodic mode) completed,
# with the remote at its point in time.
periodic_point() {
	wait_for_cmp "$1" cycles -ge "$2" 120
	wait_for_status "$1" cycling 0 30
	assert_status "$1" remote point
	assert_status "$1" consistent yes
}

# event_nr DEV: dm event counter of a device.
event_nr() {
	dmsetup info -c --noheadings -o events "$(dm_name "$1")" | tr -d ' '
}

# open_count DEV
open_count() {
	dmsetup info -c --noheadings -o open "$(dm_name "$1")" | tr -d ' '
}

# regions LEN REGION_SIZE: number of regions of a device.
regions() { echo $(( ($1 + $2 - 1) / $2 )); }

# ---------------------------------------------------------------------------
# fio
# ---------------------------------------------------------------------------

# fio_verify DEV NAME [FIO-ARGS...]: run fio against DEV with crc32c
# verification; output in $T_TMP/NAME.fio.  Returns fio's status.
fio_verify() {
	local dev=$1 name=$2
	shift 2
	fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
		--output="$T_TMP/$name.fio" "$@"
}

# fio_check NAME RC: fail with fio's report when RC != 0 or fio saw errors.
fio_check() {
	local name=$1 rc=$2 f="$T_TMP/$1.fio"
	if (( rc != 0 )) || ! grep -q 'err= 0' "$f" || grep -q 'verify:' "$f"; then
		sed 's/^/    fio| /' "$f" >&2
		fail "fio job $name failed (exit $rc)"
	fi
	log "ok: fio $name: no errors, data verified ($(grep -o 'IOPS=[^,]*' "$f" | head -n1))"
}

# at_exit CMD: a command line (for eval) to run on exit, once the dm
# devices are removed; e.g. to disconnect what lies below them.
at_exit() { _EXIT_CMDS+=("$1"); }
# at_exit_first CMD: the same, before the dm devices are removed (e.g. to
# unmount or deactivate what lies on top of them); last registered first.
at_exit_first() { _FIRST_CMDS+=("$1"); }
# at_exit_unhang CMD: a command line that lets I/O a test hung on purpose
# complete (e.g. a hung remote replaced by a linear table), run on exit
# as soon as the background jobs are signalled: a writer blocked in
# that I/O cannot die before it completes.
at_exit_unhang() { _UNHANG_CMDS+=("$1"); }

# bg JOB...: run a command in the background; it is killed on exit.
# Sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	_BG_PIDS+=("$BG_PID")
}

# bg_done_within SECS WHAT: the last bg command finishes, successfully,
# within SECS seconds.
bg_done_within() {
	local secs=$1 what=$2 i
	for (( i = 0; i < secs * 10; i++ )); do
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$BG_PID" 2>/dev/null && fail "$what did not complete within ${secs}s"
	wait "$BG_PID" || fail "$what failed"
	log "ok: $what completed"
}

# ---------------------------------------------------------------------------
# xreplctl monitor
# ---------------------------------------------------------------------------

# hook_setup: a hook for `xreplctl monitor --hook "$HOOK"` that appends
# "DEVICE EVENT REMOTE DEGRADED_BY" to $HOOKLOG; the monitor's stderr is
# expected in $T_TMP/monitor.log.
hook_setup() {
	HOOKLOG=$T_TMP/hooks.log HOOK=$T_TMP/hook.sh
	cat >"$HOOK" <<HOOKEOF
#!/bin/sh
echo "\$XREPL_DEVICE \$XREPL_EVENT \$XREPL_REMOTE \$XREPL_DEGRADED_BY" >>"$HOOKLOG"
HOOKEOF
	chmod +x "$HOOK"
	: >"$HOOKLOG"
}

# _hook_fail WHAT: fail with the hook runs and the monitor's log.
_hook_fail() {
	sed 's/^/    hook| /' "$HOOKLOG" >&2
	sed 's/^/    monitor| /' "$T_TMP/monitor.log" >&2
	fail "$1"
}

# wait_hooks N SECS: until the hook ran N times in all.
wait_hooks() {
	local i
	for (( i = 0; i < $2 * 10; i++ )); do
		(( $(wc -l <"$HOOKLOG") >= $1 )) && return 0
		sleep 0.1
	done
	_hook_fail "the hook ran $(wc -l <"$HOOKLOG") times, expected $1"
}

# wait_hook_event EVENT N SECS: until the hook ran N times for EVENT.
wait_hook_event() {
	local i
	for (( i = 0; i < $3 * 10; i++ )); do
		(( $(grep -c " $1 " "$HOOKLOG") >= $2 )) && return 0
		sleep 0.1
	done
	_hook_fail "the hook ran $(grep -c " $1 " "$HOOKLOG") times for $1, expected $2"
}

# ---------------------------------------------------------------------------
# blktrace: which bios a device was sent
# ---------------------------------------------------------------------------

declare -A _TRACE_PIDS=()
# trace_start NAME:DEV...: start tracing each DEV (binary trace in $T_TMP)
# under the short NAME used by trace_stop/trace_has.
trace_start() {
	local nd name dev i
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug ||
		skip "debugfs not available for blktrace"
	for nd in "$@"; do
		name=${nd%%:*} dev=${nd#*:}
		blktrace -d "$dev" -D "$T_TMP" -o "trace-$name" >"$T_TMP/trace-$name.out" 2>&1 &
		_TRACE_PIDS[$name]=$!
		_BG_PIDS+=("$!")
	done
	for nd in "$@"; do
		name=${nd%%:*}
		for (( i = 0; i < 50; i++ )); do
			compgen -G "$T_TMP/trace-$name.blktrace.*" >/dev/null && break
			sleep 0.1
		done
		(( i < 50 )) || { cat "$T_TMP/trace-$name.out" >&2; fail "blktrace did not start on ${nd#*:}"; }
	done
	# The files appear at setup; tracing starts just after.
	sleep 1
}

# trace_stop NAME...: stop tracing and write "RWBS SECTOR NSECTORS" lines of
# the queue (Q) events to $T_TMP/NAME.q
trace_stop() {
	local name pid
	sleep 1   # let the last events reach the relay buffers
	for name in "$@"; do
		kill -INT "${_TRACE_PIDS[$name]}" 2>/dev/null
	done
	for name in "$@"; do
		pid=${_TRACE_PIDS[$name]}
		wait "$pid" 2>/dev/null || true
		blkparse -q -i "trace-$name" -D "$T_TMP" -f '%a %d %S %n\n' 2>/dev/null |
			awk '$1 == "Q" { print $2, $3, $4 }' >"$T_TMP/$name.q"
		log "trace $name: $(wc -l <"$T_TMP/$name.q") queued bios"
	done
}

# trace_has NAME RWBS_REGEX [FIRST_SECTOR LAST_SECTOR] WHAT: the trace
# holds a bio whose RWBS matches and (optionally) which starts in the range.
trace_has() {
	local name=$1 re=$2 what=${*: -1} lo=-1 hi=-1
	(( $# == 5 )) && { lo=$3; hi=$4; }
	if awk -v re="$re" -v lo="$lo" -v hi="$hi" '
		$1 ~ re && (lo < 0 || ($2 >= lo && $2 <= hi)) { found = 1 }
		END { exit !found }' "$T_TMP/$name.q"; then
		log "ok: $what"
		return 0
	fi
	echo "    queued bios on $name (RWBS sector sectors):" >&2
	head -n 50 "$T_TMP/$name.q" | sed 's/^/    | /' >&2
	fail "$what: no bio matching /$re/ ${lo#-1}${hi#-1} in the trace of $name"
}

# trace_sectors NAME RWBS_REGEX FIRST LAST: total sectors of matching bios
# that lie within [FIRST, LAST].
trace_sectors() {
	awk -v re="$2" -v lo="$3" -v hi="$4" '
		$1 ~ re && $2 >= lo && $2 + $3 - 1 <= hi { n += $3 }
		END { print n + 0 }' "$T_TMP/$1.q"
}

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------

# _descendants PID: the processes below PID, deepest last.
_descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		_descendants "$c"
	done
}

_cleanup() {
	local rc=$? i name
	set +e
	# A background job is often a shell function in a subshell: killing
	# the subshell alone would leave its fio holding the devices open.
	for i in "${_BG_PIDS[@]}"; do
		# shellcheck disable=SC2046
		kill "$i" $(_descendants "$i") 2>/dev/null
	done
	for (( i = ${#_UNHANG_CMDS[@]} - 1; i >= 0; i-- )); do
		eval "${_UNHANG_CMDS[$i]}" >/dev/null 2>&1 ||
			echo "[$TEST_NAME] cleanup: '${_UNHANG_CMDS[$i]}' failed" >&2
	done
	for i in "${_BG_PIDS[@]}"; do
		wait "$i" 2>/dev/null
	done
	# Anything else still running (e.g. a reader killed by a failing
	# assertion) would keep devices open.
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	# Resume anything left suspended, then remove in reverse order.
	for (( i = ${#_DM_DEVS[@]} - 1; i >= 0; i-- )); do
		name=${_DM_DEVS[$i]}
		dmsetup info "$name" >/dev/null 2>&1 || continue
		if dmsetup info "$name" | grep -q SUSPENDED; then
			dmsetup resume "$name" >/dev/null 2>&1
		fi
	done
	for (( i = ${#_FIRST_CMDS[@]} - 1; i >= 0; i-- )); do
		eval "${_FIRST_CMDS[$i]}" >/dev/null 2>&1 ||
			echo "[$TEST_NAME] cleanup: '${_FIRST_CMDS[$i]}' failed" >&2
	done
	# In reverse order, in passes: a device created early may use one
	# created later (a remote attached by a reload), which can only go
	# once its user has gone.
	local progress=1 left
	while (( progress )); do
		progress=0 left=0
		for (( i = ${#_DM_DEVS[@]} - 1; i >= 0; i-- )); do
			name=${_DM_DEVS[$i]}
			dmsetup info "$name" >/dev/null 2>&1 || continue
			if dmsetup remove "$name" >/dev/null 2>&1; then
				progress=1
			else
				left=1
			fi
		done
		(( left )) || break
	done
	for (( i = ${#_DM_DEVS[@]} - 1; i >= 0; i-- )); do
		name=${_DM_DEVS[$i]}
		dmsetup info "$name" >/dev/null 2>&1 || continue
		dmsetup remove --retry "$name" >/dev/null 2>&1 ||
			echo "[$TEST_NAME] cleanup: cannot remove $name" >&2
	done
	for (( i = ${#_EXIT_CMDS[@]} - 1; i >= 0; i-- )); do
		eval "${_EXIT_CMDS[$i]}" >/dev/null 2>&1 ||
			echo "[$TEST_NAME] cleanup: '${_EXIT_CMDS[$i]}' failed" >&2
	done
	for i in "${_LOOP_DEVS[@]}"; do
		losetup -d "$i" 2>/dev/null
	done
	for (( i = ${#_MOUNTS[@]} - 1; i >= 0; i-- )); do
		umount "${_MOUNTS[$i]}" 2>/dev/null ||
			echo "[$TEST_NAME] cleanup: cannot unmount ${_MOUNTS[$i]}" >&2
	done
	if (( _BRD_LOADED )); then
		rmmod brd 2>/dev/null || echo "[$TEST_NAME] cleanup: cannot unload brd" >&2
	fi
	# Module parameters back to their defaults for the next test.
	if [[ -w /sys/module/dm_xrepl/parameters/remote_poll_us ]]; then
		echo 0 >/sys/module/dm_xrepl/parameters/remote_poll_us
	fi
	if [[ -w /sys/module/dm_xrepl/parameters/clean_interval_ms ]]; then
		echo 5000 >/sys/module/dm_xrepl/parameters/clean_interval_ms
	fi
	rm -rf "$T_TMP"
	exit "$rc"
}
trap _cleanup EXIT
