#!/usr/bin/env bash
# What the crash tests share.  A crash test is one script that runs on the
# host and, given "--guest PHASE", in the guest; it boots the test VM
# twice on the same sparse disk images (vm.sh --drive): boot 1 sets up and
# asks to be killed (SIGKILL, a power cut), boot 2 checks what is left.
#
# In the guest (after tests/lib/common.sh):
#   crash_load_modules N   the first N virtio disks, dm-mod and dm-xrepl.ko
# On the host (after scripts/lib.sh):
#   crash_run IMAGE:MIB... run both boots on those images (created sparse
#                          in the work directory $work, seen in the guest
#                          as /dev/vda, /dev/vdb, ... in that order);
#                          calls crash_between (if defined) between the
#                          boots and crash_after (if defined) after boot 2
#
# Environment (host):
#   XREPL_CRASH_OUT      work directory: images, per-boot logs (default: a
#                        new directory under $XREPL_CACHE/runs)
#   XREPL_CRASH_TIMEOUT  VM timeout per boot in seconds (default 400)
#   XREPL_CRASH_KEEP=1   keep the images after a pass (they are always kept
#                        after a failure)

# The kill file a guest creates in $XREPL_OUT to be killed.
KILL_FILE=crash-now

# ============================ inside the guest ==============================
# crash_load_modules N: virtio_blk with the first N drives of vm.sh
# --drive checked by serial, dm-mod, and dm-xrepl.ko with its dependencies.
crash_load_modules() {
	local n=$1 i d ko deps out serial letters=(a b c d e f g h)
	modprobe virtio_blk || fail "cannot load virtio_blk"
	modprobe dm-mod || fail "cannot load dm-mod"
	# vm.sh gives drive number i the serial xrepl-drive<i>.
	for (( i = 0; i < n; i++ )); do
		d=vd${letters[$i]}
		udev_settle_node "/dev/$d"
		serial=$(cat "/sys/block/$d/serial" 2>/dev/null || true)
		[[ "$serial" == "xrepl-drive$i" ]] ||
			fail "/dev/$d is not drive $i of vm.sh --drive (serial '$serial')"
	done
	ko=${XREPL_KO:-$REPO_ROOT/dm-xrepl/dm-xrepl.ko}
	[[ -f "$ko" ]] || fail "$ko does not exist"
	deps=$(modinfo -F depends "$ko" 2>/dev/null | tr ',' ' ')
	for d in $deps; do
		modprobe "$d" || fail "cannot load $d, which dm-xrepl needs"
	done
	out=$(insmod "$ko" 2>&1) || fail "insmod $ko: $out"
}

# crash_check_meta DEV...: xrepl-check finds each metadata device valid,
# after a cut as after a clean stop.
crash_check_meta() {
	local dev rc check
	check=$(xrepl_tool xrepl-check)
	for dev in "$@"; do
		rc=0
		"$check" "$dev" >"$T_TMP/check.out" 2>&1 || rc=$?
		sed 's/^/    | /' "$T_TMP/check.out"
		(( rc == 0 )) || fail "xrepl-check $dev exited with $rc (0 = valid)"
	done
}

# crash_kill: ask vm.sh to kill the machine now, and wait for it.
crash_kill() {
	touch "${XREPL_OUT:-/run/xrepl-out}/$KILL_FILE"
	sleep 600
	fail "the machine was not killed"
}

# ============================== on the host =================================
crash_fail() {
	printf '[%s] FAILED: %s\n' "$TEST_NAME" "$*" >&2
	[[ -n "${work:-}" ]] && echo "[$TEST_NAME] logs and images kept in $work" >&2
	exit 1
}

# guest_reason DIR: the guest's own failure message, if it gave one.
crash_guest_reason() {
	grep -o 'FAILED: .*' "$1/output.log" 2>/dev/null | tail -n 1 | sed 's/^FAILED: //' || true
}

# crash_carry FILE WHAT: FILE, which boot 1 wrote in its out directory, is
# there and not empty (else the test fails, saying boot 1 left no WHAT), and
# goes to boot 2's.
crash_carry() {
	[[ -s "$work/boot1/$1" ]] || crash_fail "boot 1 left no $2"
	cp "$work/boot1/$1" "$work/boot2/"
}

# crash_run IMAGE:MIB...: see the top of this file.  Sets $work.
crash_run() {
	local self="tests/crash/$TEST_NAME.sh" spec img drives=() imgs=() tmo rc why
	init_paths
	[[ -f "$MODULE_KO" ]] ||
		crash_fail "$MODULE_KO is not built (tests/run-crash.sh builds it, or: make KDIR=$KDIR)"
	make -s -C "$REPO_ROOT/userspace" >/dev/null || crash_fail "the offline tools in userspace/ do not build"

	if [[ -n "${XREPL_CRASH_OUT:-}" ]]; then
		work=$XREPL_CRASH_OUT
		mkdir -p "$work"
	else
		mkdir -p "$CACHE/runs"
		work=$(mktemp -d "$CACHE/runs/crash-$TEST_NAME.$(date +%Y%m%d-%H%M%S).XXXX")
	fi
	work=$(cd "$work" && pwd)
	rm -rf "$work/boot1" "$work/boot2"
	for spec in "$@"; do
		img="$work/${spec%%:*}.img"
		rm -f "$img"
		truncate -s "${spec##*:}M" "$img"
		imgs+=("$img")
		drives+=(--drive "$img")
	done
	tmo=${XREPL_CRASH_TIMEOUT:-400}

	log "$TEST_NAME: boot 1, killed when it asks (work dir $work)"
	rc=0
	"$SCRIPTS_DIR/vm.sh" --timeout "$tmo" --out "$work/boot1" "${drives[@]}" \
		--kill-file "$KILL_FILE" -- bash "$self" --guest boot1 || rc=$?
	case $rc in
	93) log "boot 1: the machine was killed" ;;
	0) crash_fail "boot 1: the guest finished without asking to be killed" ;;
	*)
		why=$(crash_guest_reason "$work/boot1")
		crash_fail "boot 1 failed before the kill (vm.sh status $rc): ${why:-see $work/boot1/output.log and console.log}"
		;;
	esac
	mkdir -p "$work/boot2"
	if declare -F crash_between >/dev/null; then
		crash_between
	fi

	log "$TEST_NAME: boot 2"
	rc=0
	"$SCRIPTS_DIR/vm.sh" --timeout "$tmo" --out "$work/boot2" "${drives[@]}" \
		-- bash "$self" --guest boot2 || rc=$?
	if (( rc != 0 )); then
		why=$(crash_guest_reason "$work/boot2")
		crash_fail "boot 2 (vm.sh status $rc): ${why:-see $work/boot2/output.log and console.log}"
	fi
	if declare -F crash_after >/dev/null; then
		crash_after
	fi

	if [[ "${XREPL_CRASH_KEEP:-0}" == 1 ]]; then
		log "$TEST_NAME: passed; images kept in $work"
	else
		rm -f "${imgs[@]}"
		log "$TEST_NAME: passed (logs in $work)"
	fi
}
