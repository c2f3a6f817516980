#!/usr/bin/env bash
# dm-xrepl demo: boot a test VM and show synchronous replication at work.
#
# Usage: scripts/demo.sh          (or: make demo)
#
# On the host it runs setup, builds the module and boots the guest, where it
# re-runs itself with --in-guest to:
#   - build a local leg (ramdisk) and a slow "remote" leg (dm-delay over a
#     ramdisk, 2 ms per write) and an xrepl device in sync mode on top
#   - write data, take the remote down (its table becomes the error target),
#     write more, bring it back and resync only what changed
#   - verify that both legs hold the same bytes
#   - periodic mode: a hot set written over and over for 10 s, then one
#     cycle, which ships each region once (written vs shipped)
#   - compare 4k random-write latency at queue depth 1: bare local, bare
#     remote and xrepl in each mode (sync, semi-sync, async, periodic), as
#     ratios to the bare local device
# Takes about three minutes (QEMU without KVM is slow; numbers are only
# meaningful relative to each other).
set -euo pipefail

if [[ "${1:-}" != --in-guest ]]; then
	# shellcheck source=scripts/lib.sh
	. "$(dirname "$0")/lib.sh"
	t0=$(date +%s)
	log "setup (packages, guest kernel, initramfs)"
	"$SCRIPTS_DIR/setup.sh"
	init_paths
	log "building dm-xrepl.ko against $KDIR"
	brc=0
	build_module "$CACHE/demo-build.log" || brc=$?
	(( brc == 1 )) && die "the module does not build; see $CACHE/demo-build.log"
	(( brc == 2 )) && warn "the module built with warnings (see $CACHE/demo-build.log)"
	hz=$(sed -n 's/^CONFIG_HZ=//p' "$KERNEL_ROOT/boot/config-$KVER" 2>/dev/null || true)
	log "booting the demo VM"
	rc=0
	color=0
	[[ -t 1 ]] && color=1
	"$SCRIPTS_DIR/vm.sh" --timeout 600 --env "XREPL_HZ=${hz:-250}" --env "XREPL_COLOR=$color" \
		-- scripts/demo.sh --in-guest || rc=$?
	log "demo finished in $(( $(date +%s) - t0 ))s (status $rc)"
	exit "$rc"
fi

# ============================ inside the guest ==============================
export DM_DISABLE_UDEV=1
KO=dm-xrepl/dm-xrepl.ko
HZ_GUEST=${XREPL_HZ:-250}
DELAY_MS=2
MIB=128

if [[ "${XREPL_COLOR:-0}" == 1 ]]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
say()   { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run()   { printf '$ %s\n' "$*"; "$@"; }
note()  { printf '   %s\n' "$*"; }
status() { printf '   %s\n' "$(dmsetup status demo-x | cut -d' ' -f4-)"; }

cleanup() {
	set +e
	for d in demo-x demo-remote demo-local; do
		dmsetup remove --retry "$d" >/dev/null 2>&1
	done
	rmmod brd 2>/dev/null
	return 0
}
trap cleanup EXIT

wait_insync() {
	local i
	for (( i = 0; i < 600; i++ )); do
		[[ "$(dmsetup status demo-x)" == *" remote=insync "* ]] && return 0
		sleep 0.2
	done
	echo "remote did not get back in sync" >&2
	return 1
}

say "Loading modules"
modprobe dm-mod
modprobe dm-delay
for d in $(modinfo -F depends "$KO" | tr ',' ' '); do modprobe "$d"; done
run insmod "$KO"
modprobe brd rd_nr=2 rd_size=$(( MIB * 1024 ))
S=$(( MIB * 2048 ))

say "Legs: local = ramdisk, remote = ramdisk behind dm-delay (${DELAY_MS} ms per write)"
run dmsetup create demo-local --table "0 $S linear /dev/ram0 0"
REMOTE_TABLE="0 $S delay /dev/ram1 0 0 /dev/ram1 0 $DELAY_MS"
run dmsetup create demo-remote --table "$REMOTE_TABLE"
note "dm-delay uses jiffy timers: with HZ=$HZ_GUEST a ${DELAY_MS} ms delay is rounded up to at"
note "least one jiffy ($(( 1000 / HZ_GUEST )) ms), in practice about two: expect ~$(( 2000 / HZ_GUEST )) ms per remote"
note "write (see the latency table at the end), like a long-distance link."

say "The replicated device (sync mode; initial copy of the local leg runs in the background)"
run dmsetup create demo-x --table "0 $S xrepl /dev/mapper/demo-local /dev/mapper/demo-remote - sync"
dmsetup mknodes >/dev/null 2>&1 || true
run dmsetup table demo-x
status
wait_insync
note "after the initial sync:"
status

say "Writing 16 MiB of random data through xrepl"
run dd if=/dev/urandom of=/dev/mapper/demo-x bs=1M count=16 oflag=direct status=none
status

say "Remote outage: the remote leg's table is replaced by the 'error' target"
ev=$(dmsetup info -c --noheadings -o events demo-x | tr -d ' ')
run dmsetup load demo-remote --table "0 $S error"
run dmsetup suspend demo-remote
run dmsetup resume demo-remote
note "writing 8 MiB at offset 64 MiB while the remote is down (must succeed):"
run dd if=/dev/urandom of=/dev/mapper/demo-x bs=1M seek=64 count=8 oflag=direct status=none
status
note "dm event number: $ev -> $(dmsetup info -c --noheadings -o events demo-x | tr -d ' ')"

say "Remote repaired: restore its table and tell xrepl ('remote up')"
run dmsetup load demo-remote --table "$REMOTE_TABLE"
run dmsetup suspend demo-remote
run dmsetup resume demo-remote
run dmsetup message demo-x 0 remote up
status
wait_insync
note "after the resync (only the dirty regions were copied):"
status

say "Verifying that both legs hold identical data"
if python3 tests/lib/cmpdev.py /dev/mapper/demo-local /dev/mapper/demo-remote $(( S * 512 )); then
	note "OK: local and remote legs are byte-for-byte identical ($MIB MiB)"
else
	echo "   MISMATCH between the legs" >&2
	exit 1
fi

say "Periodic mode: a hot set written over and over, shipped once per cycle"
run dmsetup message demo-x 0 mode periodic
note "between cycles writes reach the local leg only; 10 s of 4k random writes,"
note "most of them to a few regions (fio random_distribution=zipf:1.2):"
fio --name=hot --filename=/dev/mapper/demo-x --rw=randwrite --bs=4k --iodepth=4 \
	--ioengine=libaio --direct=1 --size=64M --time_based --runtime=10 \
	--random_distribution=zipf:1.2 --eta=never --output=/dev/null
status
c0=$(dmsetup status demo-x | tr ' ' '\n' | sed -n 's/^cycles=//p')
run dmsetup message demo-x 0 cycle
for (( i = 0; i < 600; i++ )); do
	st=$(dmsetup status demo-x)
	[[ "$st" == *" cycles=$(( c0 + 1 )) cycling=0 "* ]] && break
	sleep 0.2
done
status
w=$(tr ' ' '\n' <<<"$st" | sed -n 's/^written_kb=//p')
sh=$(tr ' ' '\n' <<<"$st" | sed -n 's/^shipped_kb=//p')
note "the cycle copied each region written since the last one once: the remote is the"
note "image as of the cycle's start.  Over the device's life: $(( w / 1024 )) MiB written,"
note "$(( sh / 1024 )) MiB shipped (the initial sync and the resync included)."

say "Latency: fio 4k random writes, queue depth 1, O_DIRECT, 5 s each"
# fio_lat DEV: prints "iops p50_us p99_us"
fio_lat() {
	fio --name=lat --filename="$1" --rw=randwrite --bs=4k --iodepth=1 \
		--ioengine=psync --direct=1 --size=64M --time_based --runtime=5 \
		--output-format=json 2>/dev/null |
		jq -r '.jobs[0].write | [.iops, .clat_ns.percentile["50.000000"] / 1000,
			.clat_ns.percentile["99.000000"] / 1000] | @tsv'
}
# One mode after the other on the same pair, in sync (nosync: the legs
# are equal now).
declare -A m_iops m_p50 m_p99
MODES="sync semi-sync async periodic"
dmsetup remove demo-x
for m in $MODES; do
	case $m in
	semi-sync) opts="3 nosync semi_timeout_ms 1" ;;
	periodic) opts="3 nosync period_s 86400" ;;
	*) opts="1 nosync" ;;
	esac
	dmsetup create demo-x --table "0 $S xrepl /dev/mapper/demo-local /dev/mapper/demo-remote - $m $opts"
	read -r "m_iops[$m]" "m_p50[$m]" "m_p99[$m]" < <(fio_lat /dev/mapper/demo-x)
	dmsetup remove --retry demo-x
done
read -r l_iops l_p50 l_p99 < <(fio_lat /dev/mapper/demo-local)
read -r r_iops r_p50 r_p99 < <(fio_lat /dev/mapper/demo-remote)
printf '\n   %-16s %10s %10s %10s   %s\n' device IOPS "p50 (us)" "p99 (us)" "ratio to bare local (IOPS / p50 / p99)"
row() {
	printf '   %-16s %10.0f %10.1f %10.1f   %.3gx / %.3gx / %.3gx\n' "$1" "$2" "$3" "$4" \
		"$(echo "$2 / $l_iops" | bc -l)" "$(echo "$3 / $l_p50" | bc -l)" "$(echo "$4 / $l_p99" | bc -l)"
}
row "bare local" "$l_iops" "$l_p50" "$l_p99"
row "bare remote" "$r_iops" "$r_p50" "$r_p99"
for m in $MODES; do
	row "xrepl $m" "${m_iops[$m]}" "${m_p50[$m]}" "${m_p99[$m]}"
done
note "sync completes a write when both legs have it: its latency follows the remote's."
note "semi-sync waits for the remote at most semi_timeout_ms (1 ms here); async and"
note "periodic complete with the local leg, and the remote follows in order or per cycle."
note "(QEMU TCG: absolute numbers are far below real hardware; compare the ratios.)"
say "Done"
