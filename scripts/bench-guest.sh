#!/usr/bin/env bash
# Guest side of the dm-xrepl benchmark: runs inside the test VM (see
# scripts/bench.sh, which boots it, and tests/integration/900-bench-smoke.sh,
# which runs a tiny subset), as root.
#
# Usage: scripts/bench-guest.sh [options]
#   --out DIR          results directory (default: $XREPL_OUT, else
#                      /tmp/xrepl-bench); fio's JSON goes to DIR/fio/, the
#                      summary to DIR/bench-guest.json
#   --configs LIST     comma separated, default all:
#                      raw-local,dm-linear: the local leg alone (measured once)
#                      raw-journal: a journal device alone, a RAM disk
#                      like the local leg, not prefilled (measured once)
#                      raw-remote,dm-mirror,md-raid1-writebehind,xrepl-sync,
#                      xrepl-semi-sync,xrepl-async: with every remote
#                      xrepl-sync-meta: xrepl-sync with its bitmap on a
#                      metadata device (a RAM disk); also records metadata
#                      writes per data write
#                      xrepl-sync-poll: xrepl-sync with the module
#                      parameter remote_poll_us=$POLL_US
#                      (these two with one remote only: --variant-remote)
#                      xrepl-async-journal: xrepl-async with a journal
#                      of 128 MiB on a RAM disk like the local leg
#                      (and its metadata on another): with every remote;
#                      with the delay remote, also a burst of 4 x
#                      max_lag_kb on a pair of its own whose remote is
#                      throttled to 8 MiB/s, and QD1 on a local leg and a
#                      journal device that complete by timer after
#                      XREPL_BENCH_JOURNAL_LAT_US (default 100) us: each
#                      alone, async, async with the journal (jlat-* rows)
#                      drbd-C,drbd-B,drbd-A: DRBD 8.4 between the local leg
#                      and the RAM disk behind the nvme-tcp remote
#                      resync-xrepl,resync-drbd: resync of a fully dirty pair
#                      verify-xrepl: a verify pass over that pair once in
#                      sync, and QD1 write p99 idle and during verify
#   --remotes LIST     transports of the remote leg, default all, in order:
#                      ram       null_blk in RAM, like the local leg
#                      delay     null_blk completing after the emulated latency
#                      nvme-tcp  NVMe/TCP over loopback (nvmet-tcp target,
#                                nvme-tcp initiator) to a RAM null_blk
#                      nbd       NBD over loopback TCP (nbdkit, nbd.ko) to a
#                                RAM null_blk
#                      iscsi     iSCSI over loopback (LIO iscsi_target_mod,
#                                open-iscsi) to a RAM null_blk
#                      (fast and slow mean ram and delay)
#                      periodic-ship: bytes shipped per byte written by
#                      a hot-set writer (zipf:1.2) in async, periodic
#                      mode (several periods) and DRBD protocol A
#                      periodic-latency: QD1 write latency of a periodic
#                      pair between cycles and during them, and of
#                      dm-linear (scripts/bench/periodic.sh)
#   --jobs LIST        qd1,qd32,seq1m (default all)
#   --runtime S        seconds measured per job            (default 6)
#   --ramp S           seconds of ramp before measuring    (default 2)
#   --size MIB         size of each leg of the fio runs    (default 256)
#   --resync-mb MIB    size of each leg of the resync pair (default 1024)
#   --resync-remote T  transport of xrepl's remote leg in the resync
#                      (default nvme-tcp)
#   --remote-lat-us N  emulated write latency of the delay remote (default 1000)
#   --variant-remote T the remote of xrepl-sync-meta and -poll (default ram)
#   --seed N           fio --randseed                       (default 4242)
#   --prefix NAME      name prefix of every device made     (default xbench)
#   --ko PATH|none     dm-xrepl module to insmod when the xrepl target is not
#                      registered yet (default dm-xrepl/dm-xrepl.ko)
#   --profile          with the ram remote, profile dm-linear and xrepl-sync
#                      (QD32) with `perf record -a -g`
#                      (XREPL_BENCH_PROFILE_CONFIGS, _REMOTE and _QD
#                      choose others)
#   --trace            as --profile, but record the block, io_submit,
#                      workqueue and softirq events of every write instead
#                      of samples (QD1 unless XREPL_BENCH_PROFILE_QD says
#                      otherwise), into profile/CONFIG.trace.txt.gz, and
#                      print each write's steps (scripts/bench-trace.py)
#                      into profile/CONFIG.steps.txt
#
# Every option also has an environment default: XREPL_BENCH_CONFIGS,
# XREPL_BENCH_REMOTES, XREPL_BENCH_JOBS, XREPL_BENCH_RUNTIME,
# XREPL_BENCH_RAMP, XREPL_BENCH_SIZE_MB, XREPL_BENCH_RESYNC_MB,
# XREPL_BENCH_RESYNC_REMOTE, XREPL_BENCH_REMOTE_LAT_US,
# XREPL_BENCH_JOURNAL_LAT_US, XREPL_BENCH_JOURNAL_LAT_REMOTE (the remote of
# the jlat rows, default delay),
# XREPL_BENCH_SEMI_TIMEOUT_US (semi_timeout_ms of the semi-sync rows, in us),
# XREPL_BENCH_VARIANT_REMOTE, XREPL_BENCH_SEED, XREPL_BENCH_LO_RPS,
# XREPL_BENCH_FIO_CPUS, XREPL_BENCH_LOCAL_MEMORY, XREPL_BENCH_PROFILE=1,
# XREPL_BENCH_TRACE=1, XREPL_BENCH_PERIODIC_RUNTIME (seconds of each
# periodic-ship row, default 60) and XREPL_BENCH_PERIODS (default "5 15 60").
#
# A configuration whose device cannot be created is recorded as
# "unsupported" (xrepl modes the target refuses) or "failed"; the run goes
# on.  Every device, export, connection and module made is removed on exit.
# Exit status: 0 when every supported configuration ran all its jobs, 1
# otherwise, 2 on bad usage.
set -uo pipefail

# The parts of the benchmark live in scripts/bench/, beside this script
# (the guest sees the host's tree at the same path).
BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench
# shellcheck source=scripts/bench/records.sh
. "$BENCH_LIB/records.sh" || exit 2
# shellcheck source=scripts/bench/transports.sh
. "$BENCH_LIB/transports.sh" || exit 2
# shellcheck source=scripts/bench/drbd.sh
. "$BENCH_LIB/drbd.sh" || exit 2
# shellcheck source=scripts/bench/configs.sh
. "$BENCH_LIB/configs.sh" || exit 2
# shellcheck source=scripts/bench/resync.sh
. "$BENCH_LIB/resync.sh" || exit 2
# shellcheck source=scripts/bench/profile.sh
. "$BENCH_LIB/profile.sh" || exit 2
# shellcheck source=scripts/bench/periodic.sh
. "$BENCH_LIB/periodic.sh" || exit 2

ALL_CONFIGS="raw-local,dm-linear,raw-journal,raw-remote,dm-mirror,md-raid1-writebehind,xrepl-sync,xrepl-sync-meta,xrepl-sync-poll,xrepl-semi-sync,xrepl-async,xrepl-async-journal,drbd-C,drbd-B,drbd-A,resync-xrepl,resync-drbd,verify-xrepl,periodic-ship,periodic-latency"
ALL_REMOTES="ram,delay,nvme-tcp,nbd,iscsi"
# Configurations that do not use the remote leg: measured once, before the
# remotes, and recorded with remote "local".
LOCAL_CONFIGS=" raw-local dm-linear raw-journal "
# The journal of xrepl-async-journal (and raw-journal's device), in MiB.
JOURNAL_MB=128
# The DRBD rows are measured with this remote: DRBD replicates over its own
# TCP connection to the RAM disk that this transport exports.
DRBD_REMOTE=nvme-tcp
# xrepl-sync-meta and xrepl-sync-poll are measured with one remote only, by
# default ram: next to xrepl-sync over the fastest remote, what the metadata
# device costs and what polling saves show best.
VARIANT_REMOTE=${XREPL_BENCH_VARIANT_REMOTE:-ram}
POLL_US=200
POLL_PARAM=/sys/module/dm_xrepl/parameters/remote_poll_us
THP=/sys/kernel/mm/transparent_hugepage/enabled
repo=$(cd "$(dirname "$0")/.." && pwd)

out=${XREPL_OUT:-/tmp/xrepl-bench}
configs=${XREPL_BENCH_CONFIGS:-$ALL_CONFIGS}
remotes=${XREPL_BENCH_REMOTES:-$ALL_REMOTES}
jobs_list=${XREPL_BENCH_JOBS:-qd1,qd32,seq1m}
runtime=${XREPL_BENCH_RUNTIME:-6}
ramp=${XREPL_BENCH_RAMP:-2}
size_mb=${XREPL_BENCH_SIZE_MB:-256}
resync_mb=${XREPL_BENCH_RESYNC_MB:-1024}
resync_remote=${XREPL_BENCH_RESYNC_REMOTE:-nvme-tcp}
remote_lat_us=${XREPL_BENCH_REMOTE_LAT_US:-1000}
seed=${XREPL_BENCH_SEED:-4242}
prefix=xbench
ko=${XREPL_KO:-$repo/dm-xrepl/dm-xrepl.ko}
profile=${XREPL_BENCH_PROFILE:-0}
trace=${XREPL_BENCH_TRACE:-0}
# What --profile profiles: configurations, remote, queue depth.
prof_configs=${XREPL_BENCH_PROFILE_CONFIGS:-dm-linear xrepl-sync}
prof_remote=${XREPL_BENCH_PROFILE_REMOTE:-ram}
prof_qd=${XREPL_BENCH_PROFILE_QD:-}

# What the run changes that the libraries do not remember, for the cleanup.
xrepl_loaded=0      # we insmod'ed dm-xrepl
thp_old=""          # transparent hugepage setting to restore

usage() { sed -n '2,87p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

# parse_args ARGS...: the options over their defaults, checked, and the
# names of the remotes made canonical.  Exits 2 on bad usage.
parse_args() {
	local v rk c
	local -a rl=()
	while (( $# )); do
		case "$1" in
		--out) out=$2; shift 2 ;;
		--configs) configs=$2; shift 2 ;;
		--remotes) remotes=$2; shift 2 ;;
		--jobs) jobs_list=$2; shift 2 ;;
		--runtime) runtime=$2; shift 2 ;;
		--ramp) ramp=$2; shift 2 ;;
		--size) size_mb=$2; shift 2 ;;
		--resync-mb) resync_mb=$2; shift 2 ;;
		--resync-remote) resync_remote=$2; shift 2 ;;
		--remote-lat-us) remote_lat_us=$2; shift 2 ;;
		--variant-remote) VARIANT_REMOTE=$2; shift 2 ;;
		--seed) seed=$2; shift 2 ;;
		--prefix) prefix=$2; shift 2 ;;
		--ko) ko=$2; shift 2 ;;
		--profile) profile=1; shift ;;
		--trace) profile=1 trace=1; shift ;;
		-h|--help) usage 0 ;;
		*) echo "bench-guest: unknown argument $1" >&2; usage ;;
		esac
	done
	# A trace shows one write's steps best with no other write in flight.
	[[ -n "$prof_qd" ]] || prof_qd=$(( trace ? 1 : 32 ))
	for v in runtime ramp size_mb resync_mb remote_lat_us seed prof_qd; do
		[[ "${!v}" =~ ^[0-9]+$ ]] || { echo "bench-guest: $v must be a number, got '${!v}'" >&2; exit 2; }
	done
	(( size_mb >= 32 )) || { echo "bench-guest: --size must be at least 32 MiB" >&2; exit 2; }
	(( resync_mb >= 16 )) || { echo "bench-guest: --resync-mb must be at least 16 MiB" >&2; exit 2; }
	(( runtime >= 1 )) || { echo "bench-guest: --runtime must be at least 1 s" >&2; exit 2; }

	for rk in ${remotes//,/ }; do
		c=$(canon_remote "$rk") || { echo "bench-guest: unknown remote $rk (${ALL_REMOTES//,/, })" >&2; exit 2; }
		[[ " ${rl[*]} " == *" $c "* ]] || rl+=("$c")
	done
	remotes=$(IFS=,; echo "${rl[*]}")
	resync_remote=$(canon_remote "$resync_remote") ||
		{ echo "bench-guest: unknown --resync-remote (${ALL_REMOTES//,/, })" >&2; exit 2; }
	VARIANT_REMOTE=$(canon_remote "$VARIANT_REMOTE") ||
		{ echo "bench-guest: unknown --variant-remote (${ALL_REMOTES//,/, })" >&2; exit 2; }
}

# selected CONFIG: true when CONFIG is in the list.
selected() { [[ ",$configs," == *",$1,"* ]]; }

# bench_init: the settings that follow from the options, the results
# directory and an empty records file.
bench_init() {
	export DM_DISABLE_UDEV=1
	mkdir -p "$out/fio" "$out/cpu" || exit 2
	records="$out/bench-records.jsonl"
	: >"$records"
	t_start=$(date +%s)

	# The fio span leaves room for md's superblock and data offset at the
	# start of the legs, so every configuration writes the same amount of
	# space.
	span_mb=$(( size_mb - 8 ))
	DRBD_RES_A=$prefix-a DRBD_RES_B=$prefix-b
	HOSTNQN="nqn.2014-08.io.xrepl:$prefix-host"
	# semi_timeout_ms of the xrepl-semi-sync rows.
	semi_ms=$(( ${XREPL_BENCH_SEMI_TIMEOUT_US:-10000} / 1000 ))
	(( semi_ms >= 1 )) || semi_ms=1
}

cleanup() {
	local rc=$? i n
	trap - EXIT INT TERM
	[[ -n "$fio_pid" ]] && kill "$fio_pid" 2>/dev/null
	teardown_config
	drbd_down
	nbd_unexport
	iscsi_unexport
	for n in "${nvme_nqns[@]}"; do
		nvme_unexport "$n"
	done
	for (( i = ${#nullb_made[@]} - 1; i >= 0; i-- )); do
		nullb_remove "${nullb_made[$i]##*/}"
	done
	(( xrepl_loaded )) && { rmmod dm-xrepl 2>/dev/null || say "cleanup: cannot unload dm-xrepl"; }
	[[ -n "$thp_old" ]] && echo "$thp_old" >"$THP" 2>/dev/null
	for (( i = ${#mods_loaded[@]} - 1; i >= 0; i-- )); do
		n=${mods_loaded[$i]}
		for _ in 1 2 3 4 5; do
			rmmod "$n" 2>/dev/null && break
			sleep 0.5
		done
		[[ -d /sys/module/$n ]] &&
			say "cleanup: cannot unload $n (refcnt $(cat "/sys/module/$n/refcnt" 2>/dev/null))"
	done
	exit "$rc"
}

# load_modules: dm-mod, the targets of the selected peers, and dm-xrepl from
# --ko unless the xrepl target is there already.
load_modules() {
	local d
	modprobe dm-mod || { echo "cannot load dm-mod" >&2; exit 1; }
	selected dm-mirror && modprobe dm-mirror 2>/dev/null
	selected md-raid1-writebehind && modprobe raid1 2>/dev/null
	if ! dmsetup targets | grep -q '^xrepl '; then
		if [[ "$ko" != none && -f "$ko" ]]; then
			for d in $(modinfo -F depends "$ko" 2>/dev/null | tr ',' ' '); do
				modprobe "$d" 2>/dev/null
			done
			if insmod "$ko"; then
				xrepl_loaded=1
			else
				say "cannot insmod $ko: xrepl configurations will fail"
			fi
		else
			say "no xrepl module ($ko): xrepl configurations will fail"
		fi
	fi
	ko_info=""
	[[ -f "$ko" ]] && ko_info=$(md5sum "$ko" | cut -c1-12)
}

# prepare_guest: the loopback interface, no transparent huge pages, and
# null_blk's configfs interface.
prepare_guest() {
	# The network transports and DRBD talk over the loopback interface.
	ip link set lo up 2>/dev/null || say "cannot bring up the loopback interface"
	# XREPL_BENCH_LO_RPS=MASK (hex CPU mask): steer the loopback's receive
	# processing (and with it the nvmet-tcp target's work, which runs where
	# its socket receives) to those CPUs, as if the remote's end ran
	# elsewhere.
	local lo_rps=${XREPL_BENCH_LO_RPS:-}
	if [[ -n "$lo_rps" ]]; then
		echo "$lo_rps" >/sys/class/net/lo/queues/rx-0/rps_cpus ||
			say "cannot set rps_cpus of lo to $lo_rps"
		say "loopback receive steering (rps_cpus of lo): $(cat /sys/class/net/lo/queues/rx-0/rps_cpus)"
	fi

	# No transparent huge pages for the run: with fio's 1 MiB-write buffers
	# in huge pages, a zero-copy send over loopback (nvme-tcp, DRBD) can
	# hand the receiver a fragment that crosses the end of a huge page, and
	# the 6.1 kernel's hardened usercopy check stops it with a BUG ("Kernel
	# memory exposure attempt detected from page alloc") in nvmet-tcp's
	# receive path.
	if [[ -w "$THP" ]]; then
		thp_old=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP")
		echo never >"$THP" || thp_old=""
	fi

	modprobe configfs 2>/dev/null
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
	load_module null_blk nr_devices=0 || { echo "cannot load null_blk" >&2; exit 1; }
	[[ -d $CFGFS ]] || { echo "null_blk has no configfs interface" >&2; exit 1; }
}

# make_local_leg: the local leg (LOCAL), prefilled, and a warm-up run of fio.
make_local_leg() {
	# Both RAM legs are memory-backed null_blk devices completing in the
	# submitting context (irqmode=0); the delay remote completes from an
	# hrtimer after the emulated latency (irqmode=2, completion_nsec).  The
	# remote of each transport is made when its turn comes and removed
	# afterwards.  XREPL_BENCH_LOCAL_MEMORY=0: an experiment's local leg
	# that stores nothing (memory_backed=0), so a local write costs no
	# 4 KiB copy; the remote's rows are unchanged.  Reads of it return
	# zeroes, so only the write rows mean anything.
	local local_mem=${XREPL_BENCH_LOCAL_MEMORY:-1}
	[[ "$local_mem" == 0 ]] || local_mem=1
	nullb_make "$prefix-local" size="$size_mb" memory_backed="$local_mem" blocksize=4096 hw_queue_depth=64 irqmode=0 ||
		{ echo "cannot create the local null_blk" >&2; exit 1; }
	LOCAL=$NB_DEV
	if (( local_mem )); then
		say "local leg $LOCAL: null_blk memory_backed irqmode=0, ${size_mb} MiB; prefilling"
		prefill "$LOCAL"
	else
		say "local leg $LOCAL: null_blk storing nothing (XREPL_BENCH_LOCAL_MEMORY=0), irqmode=0, ${size_mb} MiB"
	fi

	# The first fio run of a boot is slower (TCG translates fio's and the
	# block layer's code the first time it runs): warm up on the local leg,
	# unrecorded.
	say "warm-up (not recorded)"
	fio --name=warmup --filename="$LOCAL" --direct=1 --ioengine=libaio --randseed="$seed" \
		--norandommap=1 --time_based=1 --runtime=$(( runtime < 3 ? runtime : 3 )) \
		--size="${span_mb}M" --rw=randwrite --bs=4k --iodepth=8 \
		--output=/dev/null >/dev/null 2>&1
}

# run_matrix: the configurations on the local leg alone, then those over
# each remote, one remote at a time (profiled with --profile or --trace).
run_matrix() {
	local cfg rk
	local -a local_cfgs=() remote_cfgs=()
	REMOTE=""
	for cfg in ${configs//,/ }; do
		case "$cfg" in
		resync-xrepl|resync-drbd|verify-xrepl|periodic-ship|periodic-latency) ;;
		drbd-*) [[ ",$remotes," == *",$DRBD_REMOTE,"* ]] ||
				say "$cfg: measured only with the $DRBD_REMOTE remote, which is not selected" ;&
		*) if [[ "$LOCAL_CONFIGS" == *" $cfg "* ]]; then local_cfgs+=("$cfg"); else remote_cfgs+=("$cfg"); fi ;;
		esac
	done

	if (( ${#local_cfgs[@]} )); then
		say "=== local leg alone ==="
		for cfg in "${local_cfgs[@]}"; do
			run_config local "$cfg"
		done
	fi

	profiles=()
	for rk in ${remotes//,/ }; do
		(( ${#remote_cfgs[@]} )) || break
		say "=== $rk remote ==="
		if ! transport_up "$rk"; then
			say "cannot set up the $rk remote: $WHY"
			for cfg in "${remote_cfgs[@]}"; do
				[[ "$cfg" == drbd-* && "$rk" != "$DRBD_REMOTE" ]] && continue
				record_cfg "$rk" "$cfg" failed "$rk remote: $WHY"
				nfail=$((nfail + 1))
			done
			transport_down "$rk"
			continue
		fi
		say "$rk remote $REMOTE (RAM disk $REMOTE_BACKING)"
		for cfg in "${remote_cfgs[@]}"; do
			[[ "$cfg" == drbd-* && "$rk" != "$DRBD_REMOTE" ]] && continue
			[[ "$cfg" == xrepl-sync-meta || "$cfg" == xrepl-sync-poll ]] &&
				[[ "$rk" != "$VARIANT_REMOTE" ]] && continue
			run_config "$rk" "$cfg"
		done
		drbd_down

		if (( profile )) && [[ "$rk" == "$prof_remote" ]]; then
			profile_configs "$rk"
		fi
		transport_down "$rk"
	done
}

# main ARGS...: the whole run; true when every supported configuration ran
# all its jobs.
main() {
	parse_args "$@"
	bench_init
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	nfail=0
	say "kernel $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
	say "configs=$configs remotes=$remotes jobs=$jobs_list runtime=${runtime}s ramp=${ramp}s size=${size_mb}MiB span=${span_mb}MiB resync=${resync_mb}MiB over $resync_remote remote_lat=${remote_lat_us}us seed=$seed"
	load_modules
	prepare_guest
	make_local_leg
	run_matrix
	run_resync
	run_periodic
	write_summary
	say "done in $(( $(date +%s) - t_start ))s; $nfail failure(s); summary in $out/bench-guest.json"
	(( nfail == 0 ))
}

main "$@"
