#!/usr/bin/env bash
# Guest side of the dm-xrepl benchmark: runs inside the test VM (see
# scripts/bench.sh, which boots it, and tests/integration/900-bench-smoke.sh,
# which runs a tiny subset), as root.
#
# Usage: scripts/bench-guest.sh [options]
#   --out DIR          results directory (default: $XREPL_OUT, else
#                      /tmp/xrepl-bench); fio's JSON goes to DIR/fio/, the
#                      summary to DIR/bench-guest.json
#   --configs LIST     comma separated, default all, in this order:
#                      raw-local,raw-remote,dm-linear,dm-mirror,
#                      md-raid1-writebehind,xrepl-sync,xrepl-semi-sync,xrepl-async
#   --remotes LIST     slow,fast (default both): the remote leg is a null_blk
#                      with timer completion after the emulated latency, or a
#                      null_blk exactly like the local leg
#   --jobs LIST        qd1,qd32,seq1m (default all)
#   --runtime S        seconds measured per job            (default 10)
#   --ramp S           seconds of ramp before measuring    (default 2)
#   --size MIB         size of each RAM-backed leg         (default 256)
#   --remote-lat-us N  emulated write latency of the slow remote (default 1000)
#   --seed N           fio --randseed                       (default 4242)
#   --prefix NAME      name prefix of every device made     (default xbench)
#   --ko PATH|none     dm-xrepl module to insmod when the xrepl target is not
#                      registered yet (default dm-xrepl/dm-xrepl.ko)
#   --profile          afterwards, profile dm-linear and xrepl-sync (QD32,
#                      fast remote) with `perf record -a -g`
#
# Every option also has an environment default: XREPL_BENCH_CONFIGS,
# XREPL_BENCH_REMOTES, XREPL_BENCH_JOBS, XREPL_BENCH_RUNTIME,
# XREPL_BENCH_RAMP, XREPL_BENCH_SIZE_MB, XREPL_BENCH_REMOTE_LAT_US,
# XREPL_BENCH_SEED, XREPL_BENCH_PROFILE=1.
#
# A configuration whose device cannot be created is recorded as
# "unsupported" (xrepl modes the target refuses) or "failed"; the run goes
# on.  Every device made is removed on exit.  Exit status: 0 when every
# supported configuration ran all its jobs, 1 otherwise, 2 on bad usage.
set -uo pipefail

ALL_CONFIGS="raw-local,raw-remote,dm-linear,dm-mirror,md-raid1-writebehind,xrepl-sync,xrepl-semi-sync,xrepl-async"
repo=$(cd "$(dirname "$0")/.." && pwd)

out=${XREPL_OUT:-/tmp/xrepl-bench}
configs=${XREPL_BENCH_CONFIGS:-$ALL_CONFIGS}
remotes=${XREPL_BENCH_REMOTES:-slow,fast}
jobs_list=${XREPL_BENCH_JOBS:-qd1,qd32,seq1m}
runtime=${XREPL_BENCH_RUNTIME:-10}
ramp=${XREPL_BENCH_RAMP:-2}
size_mb=${XREPL_BENCH_SIZE_MB:-256}
remote_lat_us=${XREPL_BENCH_REMOTE_LAT_US:-1000}
seed=${XREPL_BENCH_SEED:-4242}
prefix=xbench
ko=${XREPL_KO:-$repo/dm-xrepl/dm-xrepl.ko}
profile=${XREPL_BENCH_PROFILE:-0}

usage() { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (( $# )); do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--configs) configs=$2; shift 2 ;;
	--remotes) remotes=$2; shift 2 ;;
	--jobs) jobs_list=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--ramp) ramp=$2; shift 2 ;;
	--size) size_mb=$2; shift 2 ;;
	--remote-lat-us) remote_lat_us=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--prefix) prefix=$2; shift 2 ;;
	--ko) ko=$2; shift 2 ;;
	--profile) profile=1; shift ;;
	-h|--help) usage 0 ;;
	*) echo "bench-guest: unknown argument $1" >&2; usage ;;
	esac
done
for v in runtime ramp size_mb remote_lat_us seed; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || { echo "bench-guest: $v must be a number, got '${!v}'" >&2; exit 2; }
done
(( size_mb >= 32 )) || { echo "bench-guest: --size must be at least 32 MiB" >&2; exit 2; }
(( runtime >= 1 )) || { echo "bench-guest: --runtime must be at least 1 s" >&2; exit 2; }

export DM_DISABLE_UDEV=1
mkdir -p "$out/fio" || exit 2
records="$out/bench-records.jsonl"
: >"$records"
t_start=$(date +%s)

say() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }

# The fio span leaves room for md's superblock and data offset at the start
# of the legs, so every configuration writes the same amount of space.
span_mb=$(( size_mb - 8 ))
CFGFS=/sys/kernel/config/nullb

# --- cleanup ------------------------------------------------------------------
nullb_made=()       # configfs directories we created
nullb_loaded=0      # we loaded null_blk
xrepl_loaded=0      # we insmod'ed dm-xrepl
md_dev=""           # md array currently assembled
dm_dev=""           # dm device currently existing
fio_pid=""

teardown_config() {
	if [[ -n "$dm_dev" ]]; then
		dmsetup remove --retry "$dm_dev" >/dev/null 2>&1 ||
			say "cleanup: cannot remove dm device $dm_dev"
		dm_dev=""
	fi
	if [[ -n "$md_dev" ]]; then
		mdadm --stop "$md_dev" >/dev/null 2>&1 || say "cleanup: cannot stop $md_dev"
		# The superblocks would make later configurations look like md members.
		mdadm --zero-superblock "$LOCAL" "$REMOTE" >/dev/null 2>&1
		md_dev=""
	fi
}

cleanup() {
	local rc=$? d
	trap - EXIT INT TERM
	[[ -n "$fio_pid" ]] && kill "$fio_pid" 2>/dev/null
	teardown_config
	for (( i = ${#nullb_made[@]} - 1; i >= 0; i-- )); do
		d=${nullb_made[$i]}
		echo 0 >"$d/power" 2>/dev/null
		rmdir "$d" 2>/dev/null || say "cleanup: cannot remove $d"
	done
	if (( nullb_loaded )); then
		for i in 1 2 3 4 5; do
			rmmod null_blk 2>/dev/null && break
			sleep 0.5
		done
		[[ -d /sys/module/null_blk ]] &&
			say "cleanup: cannot unload null_blk (refcnt $(cat /sys/module/null_blk/refcnt 2>/dev/null), $(ls "$CFGFS" 2>/dev/null | tr '\n' ' '))"
	fi
	(( xrepl_loaded )) && { rmmod dm-xrepl 2>/dev/null || say "cleanup: cannot unload dm-xrepl"; }
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ------------------------------------------------------------------
# record JSON: append one JSON object (a line) to the records.
record() { printf '%s\n' "$1" >>"$records"; }

# record_cfg REMOTE CONFIG STATUS REASON: a configuration without jobs.
record_cfg() {
	record "$(jq -c -n --arg r "$1" --arg c "$2" --arg s "$3" --arg why "$4" \
		'{remote: $r, config: $c, job: null, status: $s, reason: $why}')"
}

wait_node() {
	local i
	for (( i = 0; i < 50; i++ )); do
		[[ -b "$1" ]] && return 0
		sleep 0.1
	done
	return 1
}

# nullb_make NAME ATTR=VALUE...: a configfs null_blk device; its node is left
# in NB_DEV (not printed: the directory must be remembered for the cleanup,
# which a $(...) subshell would forget).
nullb_make() {
	local name=$1 d=$CFGFS/$1 kv idx
	shift
	mkdir "$d" || return 1
	nullb_made+=("$d")
	for kv in "$@"; do
		echo "${kv#*=}" >"$d/${kv%%=*}" || { echo "cannot set null_blk $kv" >&2; return 1; }
	done
	echo 1 >"$d/power" || return 1
	# Since 5.19 the disk is named after the configfs directory; before,
	# it was nullb<index>.
	idx=$(cat "$d/index")
	if wait_node "/dev/$name"; then
		NB_DEV=/dev/$name
	elif wait_node "/dev/nullb$idx"; then
		NB_DEV=/dev/nullb$idx
	else
		echo "no device node for null_blk $name" >&2
		return 1
	fi
}

# prefill DEV: write the whole device once so that no later configuration
# pays for null_blk's page allocation.
prefill() {
	dd if=/dev/zero of="$1" bs=1M oflag=direct status=none 2>/dev/null
	return 0   # dd stops with ENOSPC at the end
}

job_args() {
	case "$1" in
	qd1)   echo "--rw=randwrite --bs=4k --iodepth=1" ;;
	qd32)  echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	seq1m) echo "--rw=write --bs=1M --iodepth=8" ;;
	*) return 1 ;;
	esac
}

# run_jobs REMOTE CONFIG DEV: every job of the list against DEV, one after
# the other (stonewall) in one fio process (starting fio is slow under
# TCG); one record per job.  Returns the number of failed jobs.
run_jobs() {
	local rk=$1 cfg=$2 dev=$3 f rc=0 job args nbad=0 rec
	local -a fargs=(--direct=1 --ioengine=libaio --randseed="$seed" --norandommap=1
		--time_based=1 --ramp_time="$ramp" --runtime="$runtime" --size="${span_mb}M"
		--percentile_list=50:99:99.9 --filename="$dev")
	local -a jargs=()
	for job in ${jobs_list//,/ }; do
		args=$(job_args "$job") || { record_cfg "$rk" "$cfg" failed "unknown job $job"; return 1; }
		# shellcheck disable=SC2206
		jargs+=(--name="$job" --stonewall $args)
	done
	f="$out/fio/$rk-$cfg.json"
	fio "${fargs[@]}" --output-format=json --output="$f" "${jargs[@]}" >"$f.stderr" 2>&1 &
	fio_pid=$!
	wait "$fio_pid" || rc=$?
	fio_pid=""
	(( rc == 0 )) || say "  fio exit status $rc: $(tail -n 3 "$f.stderr" | tr '\n' ' ')"
	for job in ${jobs_list//,/ }; do
		if ! jq -e --arg j "$job" '.jobs[] | select(.jobname == $j) |
				.write.io_bytes > 0 and .error == 0' "$f" >/dev/null 2>&1; then
			say "  $job: FAILED (fio exit $rc)"
			record "$(jq -c -n --arg r "$rk" --arg c "$cfg" --arg j "$job" \
				--arg why "fio exit $rc: $(tail -n 3 "$f.stderr" | tr '\n' ' ')" \
				'{remote: $r, config: $c, job: $j, status: "failed", reason: $why}')"
			nbad=$((nbad + 1))
			continue
		fi
		rec=$(jq -c --arg r "$rk" --arg c "$cfg" --arg j "$job" --arg dev "$dev" '
			.jobs[] | select(.jobname == $j) |
			. as $J | $J.write as $w | $w.clat_ns.percentile as $p |
			{remote: $r, config: $c, job: $j, status: "ok", device: $dev,
			 iops: $w.iops, mbps: ($w.bw_bytes / 1e6),
			 clat_us: {mean: ($w.clat_ns.mean / 1e3), p50: ($p["50.000000"] / 1e3),
				   p99: ($p["99.000000"] / 1e3), p99_9: ($p["99.900000"] / 1e3),
				   max: ($w.clat_ns.max / 1e3)},
			 lat_us_mean: ($w.lat_ns.mean / 1e3),
			 ios: $w.total_ios, runtime_ms: $w.runtime,
			 cpu: {usr: $J.usr_cpu, sys: $J.sys_cpu}}' "$f") || {
			record_cfg "$rk" "$cfg" failed "cannot parse $f"
			nbad=$((nbad + 1))
			continue
		}
		record "$rec"
		say "  $job: $(jq -r '"IOPS \(.iops|floor)  \(.mbps*10|floor/10) MB/s  p50 \(.clat_us.p50) us  p99 \(.clat_us.p99) us  p99.9 \(.clat_us.p99_9) us"' <<<"$rec")"
	done
	return "$nbad"
}

# setup_config REMOTE_KIND CONFIG: create the device under test; its node in
# DEV.  Returns 1 for "failed", 3 for "unsupported" (message in WHY).
setup_config() {
	local name="$prefix-$2" S rc
	S=$(blockdev --getsz "$LOCAL")
	WHY=""
	case "$2" in
	raw-local) DEV=$LOCAL; return 0 ;;
	raw-remote) DEV=$REMOTE; return 0 ;;
	dm-linear) TABLE="0 $S linear $LOCAL 0" ;;
	dm-mirror) TABLE="0 $S mirror core 2 1024 nosync 2 $LOCAL 0 $REMOTE 0 1 handle_errors" ;;
	md-raid1-writebehind)
		if ! command -v mdadm >/dev/null; then
			WHY="mdadm is not installed"
			return 1
		fi
		md_dev=/dev/md/$name
		if ! WHY=$(mdadm --create "$md_dev" --run --quiet --level=1 --raid-devices=2 \
				--metadata=1.2 --assume-clean --bitmap=internal --write-behind=256 \
				"$LOCAL" --write-mostly "$REMOTE" 2>&1); then
			md_dev=""
			mdadm --zero-superblock "$LOCAL" "$REMOTE" >/dev/null 2>&1
			return 1
		fi
		wait_node "$md_dev" || { WHY="no node $md_dev"; return 1; }
		DEV=$md_dev
		return 0 ;;
	xrepl-*)
		if ! dmsetup targets | grep -q '^xrepl '; then
			WHY="the xrepl target is not loaded"
			return 1
		fi
		TABLE="0 $S xrepl $LOCAL $REMOTE - ${2#xrepl-} 1 nosync" ;;
	*) WHY="unknown configuration"; return 1 ;;
	esac
	rc=0
	local mark="xrepl-bench-mark $RANDOM$RANDOM" kmsg
	echo "$mark" >/dev/kmsg 2>/dev/null
	WHY=$(dmsetup create "$name" --table "$TABLE" 2>&1) || rc=$?
	if (( rc != 0 )); then
		# dmsetup may leave an empty device behind after a failed load.
		dmsetup remove "$name" >/dev/null 2>&1
		# The target's own reason (ti->error) is only in the kernel log.
		kmsg=$(dmesg | awk -v m="$mark" 'found { print } index($0, m) { found = 1 }' |
			grep -m1 -o 'device-mapper: table: .*' | sed 's/^device-mapper: table: [0-9:]*: //')
		WHY="$(printf '%s' "$WHY" | grep -v '^Command failed' | tr '\n' ' ' | sed 's/ *$//')"
		WHY="${kmsg:-${WHY:-dmsetup create failed}} (table: $TABLE)"
		case "$2" in xrepl-*) return 3 ;; esac
		return 1
	fi
	dm_dev=$name
	dmsetup mknodes "$name" >/dev/null 2>&1
	wait_node "/dev/mapper/$name" || { WHY="no node /dev/mapper/$name"; return 1; }
	DEV=/dev/mapper/$name
	return 0
}

# --- environment --------------------------------------------------------------
nfail=0
say "kernel $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
say "configs=$configs remotes=$remotes jobs=$jobs_list runtime=${runtime}s ramp=${ramp}s size=${size_mb}MiB span=${span_mb}MiB remote_lat=${remote_lat_us}us seed=$seed"

modprobe dm-mod || { echo "cannot load dm-mod" >&2; exit 1; }
modprobe dm-mirror 2>/dev/null
modprobe raid1 2>/dev/null
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

modprobe configfs 2>/dev/null
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
if [[ ! -d /sys/module/null_blk ]]; then
	modprobe null_blk nr_devices=0 || { echo "cannot load null_blk" >&2; exit 1; }
	nullb_loaded=1
fi
[[ -d $CFGFS ]] || { echo "null_blk has no configfs interface" >&2; exit 1; }

# Both RAM legs are memory-backed null_blk devices completing in the
# submitting context (irqmode=0); the slow remote completes from an hrtimer
# after the emulated latency (irqmode=2, completion_nsec).
NB_COMMON=(size="$size_mb" memory_backed=1 blocksize=4096 hw_queue_depth=64)
nullb_make "$prefix-local" "${NB_COMMON[@]}" irqmode=0 ||
	{ echo "cannot create the local null_blk" >&2; exit 1; }
LOCAL=$NB_DEV
say "local leg $LOCAL: null_blk memory_backed irqmode=0, ${size_mb} MiB; prefilling"
prefill "$LOCAL"

declare -A REMOTE_OF=()
for rk in ${remotes//,/ }; do
	case $rk in
	slow) nullb_make "$prefix-rslow" "${NB_COMMON[@]}" irqmode=2 \
			completion_nsec=$(( remote_lat_us * 1000 )) ||
			{ echo "cannot create the slow remote" >&2; exit 1; } ;;
	fast) nullb_make "$prefix-rfast" "${NB_COMMON[@]}" irqmode=0 ||
			{ echo "cannot create the fast remote" >&2; exit 1; } ;;
	*) echo "unknown remote kind $rk (slow, fast)" >&2; exit 2 ;;
	esac
	REMOTE_OF[$rk]=$NB_DEV
	say "$rk remote ${REMOTE_OF[$rk]}; prefilling"
	prefill "${REMOTE_OF[$rk]}"
done

# The first fio run of a boot is slower (TCG translates fio's and the block
# layer's code the first time it runs): warm up on the local leg, unrecorded.
say "warm-up (not recorded)"
fio --name=warmup --filename="$LOCAL" --direct=1 --ioengine=libaio --randseed="$seed" \
	--norandommap=1 --time_based=1 --runtime=$(( runtime < 3 ? runtime : 3 )) \
	--size="${span_mb}M" --rw=randwrite --bs=4k --iodepth=8 \
	--output=/dev/null >/dev/null 2>&1

# --- the matrix -----------------------------------------------------------------
for rk in ${remotes//,/ }; do
	REMOTE=${REMOTE_OF[$rk]}
	say "=== $rk remote ($REMOTE) ==="
	for cfg in ${configs//,/ }; do
		DEV="" WHY=""
		rc=0
		setup_config "$rk" "$cfg" || rc=$?
		if (( rc == 3 )); then
			say "$cfg: not supported: $WHY"
			record_cfg "$rk" "$cfg" unsupported "$WHY"
			teardown_config
			continue
		elif (( rc != 0 )); then
			say "$cfg: FAILED to set up: $WHY"
			record_cfg "$rk" "$cfg" failed "$WHY"
			nfail=$((nfail + 1))
			teardown_config
			continue
		fi
		say "$cfg on $DEV"
		rc=0
		run_jobs "$rk" "$cfg" "$DEV" || rc=$?
		nfail=$((nfail + rc))
		if [[ "$cfg" == xrepl-* ]]; then
			st=$(dmsetup status "$dm_dev" 2>&1)
			say "  status: $st"
			record "$(jq -c -n --arg r "$rk" --arg c "$cfg" --arg s "$st" \
				'{remote: $r, config: $c, job: "dm-status", status: "info", reason: $s}')"
			if [[ "$st" != *remote=insync* ]]; then
				say "  $cfg: remote is not in sync after the run: the figures are not valid"
				record_cfg "$rk" "$cfg" failed "remote not in sync after the run: $st"
				nfail=$((nfail + 1))
			fi
		fi
		teardown_config
	done
done

# --- profile ----------------------------------------------------------------------
profiles=()
if (( profile )) && [[ -n "${REMOTE_OF[fast]:-}" ]]; then
	if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
		REMOTE=${REMOTE_OF[fast]}
		mkdir -p "$out/profile"
		for cfg in dm-linear xrepl-sync; do
			setup_config fast "$cfg" || { say "profile: cannot set up $cfg: $WHY"; teardown_config; continue; }
			say "profiling $cfg (QD32, fast remote)"
			pd="$out/profile/$cfg"
			perf record -q -a -g -e cpu-clock -o "/tmp/perf-$cfg.data" -- \
				fio --name=prof --filename="$DEV" --direct=1 --ioengine=libaio \
				--randseed="$seed" --norandommap=1 --time_based=1 --runtime="$runtime" \
				--size="${span_mb}M" --rw=randwrite --bs=4k --iodepth=32 \
				--output-format=json --output="$pd.fio.json" >"$pd.perf.log" 2>&1
			teardown_config
			# Self time per symbol, then time including callees
			# (which shows what the dm target's own paths cost).
			# Under TCG the timer interrupt that takes a sample is
			# only delivered when interrupts get enabled again, so
			# time spent with interrupts off is charged to the
			# unlock that enables them (_raw_spin_unlock_irq...).
			perf report -i "/tmp/perf-$cfg.data" --no-children --sort dso,sym \
				--stdio -g none --percent-limit 0.3 2>/dev/null |
				grep -v -e '^$' -e '^# *$' >"$pd.self.txt"
			perf report -i "/tmp/perf-$cfg.data" --children --sort sym \
				--stdio -g none --percent-limit 1 2>/dev/null |
				grep -v -e '^$' -e '^# *$' >"$pd.children.txt"
			rm -f "/tmp/perf-$cfg.data"
			profiles+=("$cfg")
		done
	else
		say "profile: perf is not usable here"
	fi
fi

# --- summary --------------------------------------------------------------------
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
jq -n --slurpfile recs "$records" \
	--arg kernel "$(uname -r)" --arg cpu "$cpu_model" --argjson ncpu "$(nproc)" \
	--argjson mem "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" \
	--arg fio "$(jq -r '."fio version" // empty' "$out"/fio/*.json 2>/dev/null | head -n1)" --arg ko "$ko_info" \
	--arg configs "$configs" --arg remotes "$remotes" --arg jobs "$jobs_list" \
	--argjson runtime "$runtime" --argjson ramp "$ramp" --argjson size "$size_mb" \
	--argjson span "$span_mb" --argjson lat "$remote_lat_us" --argjson seed "$seed" \
	--argjson secs "$(( $(date +%s) - t_start ))" \
	--arg profiles "${profiles[*]}" '
	{guest: {kernel: $kernel, cpu_model: $cpu, cpus: $ncpu, mem_mib: $mem,
		 fio: $fio, xrepl_module: $ko, seconds: $secs},
	 params: {configs: ($configs | split(",")), remotes: ($remotes | split(",")),
		  jobs: ($jobs | split(",")), runtime_s: $runtime, ramp_s: $ramp,
		  leg_size_mib: $size, span_mib: $span, seed: $seed,
		  remote_latency_us: $lat,
		  remote_emulation: "null_blk memory_backed=1 irqmode=2 (hrtimer) completion_nsec=\($lat * 1000)",
		  local_leg: "null_blk memory_backed=1 irqmode=0 blocksize=4096",
		  fast_remote: "null_blk memory_backed=1 irqmode=0 blocksize=4096 (same as the local leg)"},
	 profiles: ($profiles | split(" ") | map(select(. != ""))),
	 records: $recs}' >"$out/bench-guest.json.tmp" && mv "$out/bench-guest.json.tmp" "$out/bench-guest.json"
say "done in $(( $(date +%s) - t_start ))s; $nfail failure(s); summary in $out/bench-guest.json"
(( nfail == 0 ))
