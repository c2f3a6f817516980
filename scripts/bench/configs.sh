# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# The rows of the benchmark: a configuration (raw legs, dm-linear,
# dm-mirror, md raid1 write-behind, an xrepl mode, a DRBD protocol) is set
# up over LOCAL and REMOTE, measured with fio, checked and torn down.
# Sourced by scripts/bench-guest.sh; uses its settings, the records
# (records.sh), the transports (transports.sh) and DRBD (drbd.sh).  What a
# configuration made is remembered below, for teardown_config.

md_dev=""           # md array currently assembled
dm_dev=""           # dm device currently existing
meta_nb=""          # null_blk holding xrepl-sync-meta's metadata
jnl_nb=""           # null_blk holding xrepl-async-journal's journal
poll_set=0          # remote_poll_us was set for xrepl-sync-poll
fio_pid=""

# teardown_config: remove what setup_config made.
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
	if [[ -n "$meta_nb" ]]; then
		nullb_remove "$meta_nb"
		meta_nb=""
	fi
	if [[ -n "$jnl_nb" ]]; then
		nullb_remove "$jnl_nb"
		jnl_nb=""
	fi
	if (( poll_set )); then
		echo 0 >"$POLL_PARAM" 2>/dev/null
		poll_set=0
	fi
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
# TCG); one record per job, with the guest's CPU use over the job (ramp
# included) from /proc/stat copied before and after it (fio's
# exec_prerun and exec_postrun leave a command's output in
# JOB.prerun.txt and JOB.postrun.txt in fio's working directory).
# Returns the number of failed jobs.
run_jobs() {
	local rk=$1 cfg=$2 dev=$3 f rc=0 job args nbad=0 rec c
	local -a fargs=(--direct=1 --ioengine=libaio --randseed="$seed" --norandommap=1
		--time_based=1 --ramp_time="$ramp" --runtime="$runtime" --size="${span_mb}M"
		--percentile_list=50:99:99.9 --lat_percentiles=1 --filename="$dev")
	local -a jargs=()
	# XREPL_BENCH_FIO_CPUS: the vCPUs fio may run on (fio --cpus_allowed).
	[[ -n "${XREPL_BENCH_FIO_CPUS:-}" ]] && fargs+=(--cpus_allowed="$XREPL_BENCH_FIO_CPUS")
	for job in ${jobs_list//,/ }; do
		args=$(job_args "$job") || { record_cfg "$rk" "$cfg" failed "unknown job $job"; return 1; }
		# shellcheck disable=SC2206
		jargs+=(--name="$job" --stonewall $args
			--exec_prerun="head -n1 /proc/stat" --exec_postrun="head -n1 /proc/stat")
	done
	f=$(realpath -m "$out/fio/$rk-$cfg.json")
	c=$(realpath -m "$out/cpu/$rk-$cfg")
	rm -rf "$c" && mkdir -p "$c" || return 1
	(cd "$c" && exec fio "${fargs[@]}" --output-format=json --output="$f" "${jargs[@]}") >"$f.stderr" 2>&1 &
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
		rec=$(jq -c --arg r "$rk" --arg c "$cfg" --arg j "$job" --arg dev "$dev" \
			--argjson busy "$(cpu_busy "$c/$job.prerun.txt" "$c/$job.postrun.txt")" --argjson ncpu "$(nproc)" '
			.jobs[] | select(.jobname == $j) |
			. as $J | $J.write as $w | $w.clat_ns.percentile as $p |
			$w.lat_ns.percentile as $q |
			{remote: $r, config: $c, job: $j, status: "ok", device: $dev,
			 iops: $w.iops, mbps: ($w.bw_bytes / 1e6),
			 lat_us: {mean: ($w.lat_ns.mean / 1e3), p50: ($q["50.000000"] / 1e3),
				  p99: ($q["99.000000"] / 1e3), p99_9: ($q["99.900000"] / 1e3),
				  max: ($w.lat_ns.max / 1e3)},
			 clat_us: {mean: ($w.clat_ns.mean / 1e3), p50: ($p["50.000000"] / 1e3),
				   p99: ($p["99.000000"] / 1e3), p99_9: ($p["99.900000"] / 1e3),
				   max: ($w.clat_ns.max / 1e3)},
			 slat_us_mean: ($w.slat_ns.mean / 1e3),
			 lat_us_mean: ($w.lat_ns.mean / 1e3),
			 ios: $w.total_ios, runtime_ms: $w.runtime,
			 cpu: {usr: $J.usr_cpu, sys: $J.sys_cpu},
			 vcpu_busy: $busy,
			 vcpu_us_per_io: (if $busy != null and $w.iops > 0
					  then $busy * $ncpu * 1e6 / $w.iops else null end)}' "$f") || {
			record_cfg "$rk" "$cfg" failed "cannot parse $f"
			nbad=$((nbad + 1))
			continue
		}
		record "$rec"
		say "  $job: $(jq -r '"IOPS \(.iops|floor)  \(.mbps*10|floor/10) MB/s  latency p50 \(.lat_us.p50) us  p99 \(.lat_us.p99) us  p99.9 \(.lat_us.p99_9) us  vCPUs busy \(if .vcpu_busy then "\(.vcpu_busy*100|floor)%, \(.vcpu_us_per_io|floor) us/IO" else "?" end)"' <<<"$rec")"
	done
	return "$nbad"
}

# dm_create_logged NAME TABLE: dmsetup create; on failure WHY holds the
# target's own reason (ti->error, only in the kernel log) or dmsetup's.
dm_create_logged() {
	local name=$1 table=$2 rc=0 mark="xrepl-bench-mark $RANDOM$RANDOM" kmsg
	echo "$mark" >/dev/kmsg 2>/dev/null
	WHY=$(dmsetup create "$name" --table "$table" 2>&1) || rc=$?
	if (( rc != 0 )); then
		# dmsetup may leave an empty device behind after a failed load.
		dmsetup remove "$name" >/dev/null 2>&1
		kmsg=$(dmesg | awk -v m="$mark" 'found { print } index($0, m) { found = 1 }' |
			grep -m1 -o 'device-mapper: table: .*' | sed 's/^device-mapper: table: [0-9:]*: //')
		WHY="$(printf '%s' "$WHY" | grep -v '^Command failed' | tr '\n' ' ' | sed 's/ *$//')"
		WHY="${kmsg:-${WHY:-dmsetup create failed}} (table: $table)"
		return 1
	fi
	dm_dev=$name
	dmsetup mknodes "$name" >/dev/null 2>&1
	wait_node "/dev/mapper/$name" || { WHY="no node /dev/mapper/$name"; return 1; }
	return 0
}

# make_journal [MIB]: a fresh journal device, a null_blk like the local leg
# (not prefilled) of MIB MiB (default JOURNAL_MB); its node in NB_DEV.
make_journal() {
	jnl_nb=$prefix-jnl
	nullb_make "$jnl_nb" size="${1:-$JOURNAL_MB}" memory_backed=1 blocksize=4096 \
		hw_queue_depth=64 irqmode=0
}

# setup_config REMOTE_KIND CONFIG: create the device under test; its node in
# DEV.  Returns 1 for "failed", 3 for "unsupported" (message in WHY).
setup_config() {
	local name="$prefix-$2" S
	S=$(blockdev --getsz "$LOCAL")
	WHY=""
	case "$2" in
	raw-local) DEV=$LOCAL; return 0 ;;
	raw-remote) DEV=$REMOTE; return 0 ;;
	raw-journal)
		# The journal's device alone, as xrepl-async-journal gets it,
		# large enough for fio's span.
		make_journal $(( JOURNAL_MB > span_mb ? JOURNAL_MB : span_mb )) ||
			{ WHY="cannot create the journal null_blk"; return 1; }
		DEV=$NB_DEV
		return 0 ;;
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
		if [[ "$2" == xrepl-sync-meta ]]; then
			# A fresh (all zero) RAM disk: formatted by the target.
			meta_nb=$prefix-meta
			nullb_make "$meta_nb" size=16 memory_backed=1 blocksize=4096 irqmode=0 ||
				{ WHY="cannot create the metadata null_blk"; return 1; }
			TABLE="0 $S xrepl $LOCAL $REMOTE $NB_DEV sync 1 nosync"
		elif [[ "$2" == xrepl-sync-poll ]]; then
			if ! echo "$POLL_US" >"$POLL_PARAM" 2>/dev/null; then
				WHY="cannot set $POLL_PARAM"
				return 1
			fi
			poll_set=1
			TABLE="0 $S xrepl $LOCAL $REMOTE - sync 1 nosync"
		elif [[ "$2" == xrepl-async-journal ]]; then
			# Fresh (all zero) RAM disks: formatted by the target.
			meta_nb=$prefix-meta
			nullb_make "$meta_nb" size=16 memory_backed=1 blocksize=4096 irqmode=0 ||
				{ WHY="cannot create the metadata null_blk"; return 1; }
			local meta=$NB_DEV
			make_journal || { WHY="cannot create the journal null_blk"; return 1; }
			TABLE="0 $S xrepl $LOCAL $REMOTE $meta async 3 nosync journal $NB_DEV"
		elif [[ "$2" == xrepl-semi-sync ]]; then
			TABLE="0 $S xrepl $LOCAL $REMOTE - semi-sync 3 nosync semi_timeout_ms $semi_ms"
		else
			TABLE="0 $S xrepl $LOCAL $REMOTE - ${2#xrepl-} 1 nosync"
		fi ;;
	drbd-[ABC])
		# One pair for the three rows: created (legs declared equal,
		# no initial sync) for the first, reconnected with another
		# protocol for the next ones.
		local p=${2#drbd-}
		DRBD_DISK_OPTS=() DRBD_NET_OPTS=()
		if (( ${#drbd_res[@]} == 0 )); then
			drbd_pair_up "$LOCAL" "$REMOTE_BACKING" "$p" || return 1
			drbd_cmd new-current-uuid --clear-bitmap "$DRBD_MINOR_A" || return 1
			drbd_cmd primary "$DRBD_MINOR_A" || return 1
		elif [[ "$drbd_proto" != "$p" ]]; then
			drbd_disconnect || return 1
			drbd_connect "$p" || return 1
		fi
		drbd_wait_insync 30 || return 1
		wait_node "/dev/drbd$DRBD_MINOR_A" || { WHY="no node /dev/drbd$DRBD_MINOR_A"; return 1; }
		DEV=/dev/drbd$DRBD_MINOR_A
		return 0 ;;
	*) WHY="unknown configuration"; return 1 ;;
	esac
	if ! dm_create_logged "$name" "$TABLE"; then
		case "$2" in xrepl-*) return 3 ;; esac
		return 1
	fi
	DEV=/dev/mapper/$name
	return 0
}

# status_key DEV KEY: a key=value field of DEV's xrepl status.
status_key() {
	dmsetup status "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# journal_burst REMOTE: a pair of its own over the local leg, async with a
# journal, whose remote is slow in throughput too: a null_blk completing
# after the delay remote's latency and throttled to BURST_MBPS MB/s.  With
# max_lag_kb BURST_LAG_KB, a burst of BURST_X times that (64 KiB random
# writes, each block once, QD32): does the journal absorb it, no writer
# waiting and no degradation?  The status is sampled every 0.1 s for the
# peak of the lag (the data written and not yet sent: written_kb less
# shipped_kb, for lag_bytes does not count the entries spilled to the
# log), and any degradation; a burst whose lag never passed
# max_lag_kb proves nothing and is recorded as failed.  One record,
# config "journal-burst", job "burst" (the report shows it with the
# journal's row).
BURST_LAG_KB=8192
BURST_X=4
BURST_MBPS=8		# null_blk's mbps: MiB/s
journal_burst() {
	local rk=$1 mb=$(( BURST_LAG_KB * BURST_X / 1024 )) waits=0 peak=0 lag
	local deg="" d t0 t1 rc=0 pid S meta slow why="" st wk sk
	S=$(blockdev --getsz "$LOCAL")
	if ! nullb_make "$prefix-bslow" size="$size_mb" memory_backed=1 blocksize=4096 \
			irqmode=2 completion_nsec=$(( remote_lat_us * 1000 )) mbps="$BURST_MBPS"; then
		why="cannot create the slow remote"
	else
		slow=$NB_DEV
		meta_nb=$prefix-meta
		if ! nullb_make "$meta_nb" size=16 memory_backed=1 blocksize=4096 irqmode=0; then
			why="cannot create the metadata null_blk"
		else
			meta=$NB_DEV
			if ! make_journal; then
				why="cannot create the journal null_blk"
			elif ! dm_create_logged "$prefix-burst" \
				"0 $S xrepl $LOCAL $slow $meta async 5 nosync max_lag_kb $BURST_LAG_KB journal $NB_DEV"; then
				why="burst: $WHY"
			fi
		fi
	fi
	if [[ -z "$why" ]]; then
		t0=$(date +%s%N)
		fio --name=burst --filename="/dev/mapper/$prefix-burst" --direct=1 --ioengine=libaio \
			--randseed="$seed" --rw=randwrite --bs=64k --iodepth=32 --size="${mb}M" \
			--io_size="${mb}M" --output=/dev/null >/dev/null 2>&1 &
		pid=$!
		# A degradation may end by itself before fio does: any seen counts.
		deg=none
		while kill -0 "$pid" 2>/dev/null; do
			st=$(dmsetup status "$dm_dev" 2>/dev/null | tr ' ' '\n')
			wk=$(sed -n 's/^written_kb=//p' <<<"$st")
			sk=$(sed -n 's/^shipped_kb=//p' <<<"$st")
			lag=$(( (${wk:-0} - ${sk:-0}) * 1024 ))
			(( lag > peak )) && peak=$lag
			d=$(sed -n 's/^degraded_by=//p' <<<"$st")
			[[ "${d:-none}" == none ]] || deg=$d
			sleep 0.1
		done
		wait "$pid" || rc=$?
		t1=$(date +%s%N)
		waits=$(status_key "$dm_dev" lag_waits)
		d=$(status_key "$dm_dev" degraded_by)
		[[ "${d:-none}" == none ]] || deg=$d
		[[ -n "$waits" ]] || why="burst: no status after the burst"
		(( rc == 0 )) || why="burst: fio exit $rc"
		(( rc != 0 || peak > BURST_LAG_KB * 1024 )) ||
			why="burst: the lag peaked at $(( peak / 1024 )) KiB, never past max_lag_kb $BURST_LAG_KB: it proves nothing"
	fi
	# Removing the device waits until the slow remote has the whole log.
	teardown_config
	nullb_remove "$prefix-bslow"
	if [[ -n "$why" ]]; then
		say "  $why"
		record "$(jq -c -n --arg r "$rk" --arg why "$why" \
			'{remote: $r, config: "journal-burst", job: "burst", status: "failed", reason: $why}')"
		nfail=$((nfail + 1))
		return
	fi
	say "  burst of ${mb} MiB, ${BURST_X} x max_lag_kb $BURST_LAG_KB, remote at $BURST_MBPS MB/s: $(( (t1 - t0) / 1000000 )) ms, peak lag $(( peak / 1024 )) KiB, writers that waited $waits, degraded_by=$deg"
	record "$(jq -c -n --arg r "$rk" --argjson mb "$mb" --argjson lag "$BURST_LAG_KB" \
		--argjson peak "$peak" --argjson waits "$waits" --arg deg "$deg" \
		--argjson mbps "$BURST_MBPS" --argjson ms "$(( (t1 - t0) / 1000000 ))" \
		'{remote: $r, config: "journal-burst", job: "burst", status: "ok",
		  burst_mb: $mb, max_lag_kb: $lag, remote_mbps: $mbps, peak_lag_kb: ($peak / 1024),
		  peak_lag_ratio: ($peak / 1024 / $lag), lag_waits: $waits,
		  degraded_by: $deg, ms: $ms}')"
}

# journal_latency REMOTE: the journal's QD1 target with legs that complete
# as disks do, by interrupt after a delay.  The bench's other legs are
# null_blk devices that complete in the submitter's context (irqmode=0):
# two such devices can never be busy at once, so any write that goes to
# two of them (the local leg and the journal's append) costs the sum of
# both, whatever the target does.  Here the local leg and the journal
# device are null_blk devices of their own (irqmode=2, hrtimer) that
# complete JLAT_US after they were issued, prefilled; QD1 4 KiB random
# writes on each alone, then on async without and with the journal over
# REMOTE.  Run after xrepl-async-journal's row with the remote
# JLAT_REMOTE (XREPL_BENCH_JOURNAL_LAT_REMOTE, default delay, whose
# target it serves).  Records of configurations "jlat-raw-local", "jlat-raw-journal",
# "jlat-xrepl-async" and "jlat-xrepl-async-journal", job qd1.
JLAT_US=${XREPL_BENCH_JOURNAL_LAT_US:-100}
JLAT_REMOTE=${XREPL_BENCH_JOURNAL_LAT_REMOTE:-delay}
journal_latency() {
	local rk=$1 S loc jdev meta cfg dev rc saved_jobs=$jobs_list why=""
	local -a nbs=("$prefix-jlloc" "$prefix-jljnl" "$prefix-jlmeta")
	say "journal latency: legs completing after ${JLAT_US} us (null_blk irqmode=2)"
	if ! nullb_make "${nbs[0]}" size="$size_mb" memory_backed=1 blocksize=4096 \
			hw_queue_depth=64 irqmode=2 completion_nsec=$(( JLAT_US * 1000 )); then
		why="cannot create the local leg"
	else
		loc=$NB_DEV
		# As raw-journal's: large enough for fio's span.
		if ! nullb_make "${nbs[1]}" size=$(( JOURNAL_MB > span_mb ? JOURNAL_MB : span_mb )) \
				memory_backed=1 blocksize=4096 \
				hw_queue_depth=64 irqmode=2 completion_nsec=$(( JLAT_US * 1000 )); then
			why="cannot create the journal device"
		else
			jdev=$NB_DEV
			if ! nullb_make "${nbs[2]}" size=16 memory_backed=1 blocksize=4096 irqmode=0; then
				why="cannot create the metadata null_blk"
			else
				meta=$NB_DEV
			fi
		fi
	fi
	if [[ -n "$why" ]]; then
		say "  $why"
		for cfg in raw-local raw-journal xrepl-async xrepl-async-journal; do
			record_cfg "$rk" "jlat-$cfg" failed "$why"
		done
		nfail=$((nfail + 1))
	else
		prefill "$loc"
		prefill "$jdev"
		S=$(blockdev --getsz "$loc")
		jobs_list=qd1
		for cfg in raw-local raw-journal xrepl-async xrepl-async-journal; do
			dev=""
			case "$cfg" in
			raw-local) dev=$loc ;;
			raw-journal) dev=$jdev ;;
			xrepl-async)
				dm_create_logged "$prefix-jla" "0 $S xrepl $loc $REMOTE - async 1 nosync" &&
					dev=/dev/mapper/$prefix-jla ;;
			xrepl-async-journal)
				# The target formats a journal and metadata it finds zeroed.
				dd if=/dev/zero of="$jdev" bs=1M count=1 oflag=direct status=none
				dm_create_logged "$prefix-jlj" \
					"0 $S xrepl $loc $REMOTE $meta async 3 nosync journal $jdev" &&
					dev=/dev/mapper/$prefix-jlj ;;
			esac
			if [[ -z "$dev" ]]; then
				say "  jlat-$cfg: FAILED to set up: $WHY"
				record_cfg "$rk" "jlat-$cfg" failed "$WHY"
				nfail=$((nfail + 1))
				continue
			fi
			say "  jlat-$cfg on $dev"
			rc=0
			run_jobs "$rk" "jlat-$cfg" "$dev" || rc=$?
			nfail=$((nfail + rc))
			if [[ "$cfg" == xrepl-* ]]; then
				[[ "$(dmsetup status "$dm_dev" 2>&1)" == *remote=insync* ]] || {
					say "  jlat-$cfg: remote is not in sync after the run: the figures are not valid"
					record_cfg "$rk" "jlat-$cfg" failed "remote not in sync after the run"
					nfail=$((nfail + 1))
				}
				teardown_config
			fi
		done
		jobs_list=$saved_jobs
	fi
	teardown_config
	for cfg in "${nbs[@]}"; do
		nullb_remove "$cfg"
	done
}

# run_config SET CONFIG: set up, measure, check and tear down one row.
run_config() {
	local rk=$1 cfg=$2 rc=0 st
	DEV="" WHY=""
	setup_config "$rk" "$cfg" || rc=$?
	if (( rc == 3 )); then
		say "$cfg: not supported: $WHY"
		record_cfg "$rk" "$cfg" unsupported "$WHY"
		teardown_config
		return
	elif (( rc != 0 )); then
		say "$cfg: FAILED to set up: $WHY"
		record_cfg "$rk" "$cfg" failed "$WHY"
		nfail=$((nfail + 1))
		teardown_config
		return
	fi
	say "$cfg on $DEV"
	local st0=""
	[[ "$cfg" == xrepl-* ]] && st0=$(dmsetup status "$dm_dev" 2>&1)
	rc=0
	run_jobs "$rk" "$cfg" "$DEV" || rc=$?
	nfail=$((nfail + rc))
	case "$cfg" in
	xrepl-*)
		st=$(dmsetup status "$dm_dev" 2>&1)
		say "  status: $st"
		record "$(jq -c -n --arg r "$rk" --arg c "$cfg" --arg s "$st" \
			'{remote: $r, config: $c, job: "dm-status", status: "info", reason: $s}')"
		[[ "$cfg" == xrepl-sync-meta ]] && record_meta "$rk" "$cfg" "$st0" "$st"
		if [[ "$st" != *remote=insync* ]]; then
			say "  $cfg: remote is not in sync after the run: the figures are not valid"
			record_cfg "$rk" "$cfg" failed "remote not in sync after the run: $st"
			nfail=$((nfail + 1))
		fi ;;
	drbd-*)
		if ! drbd_wait_insync 30; then
			say "  $cfg: $WHY: the figures are not valid"
			record_cfg "$rk" "$cfg" failed "$WHY"
			nfail=$((nfail + 1))
		fi ;;
	esac
	teardown_config
	[[ "$cfg" == xrepl-async-journal && "$rk" == delay ]] && journal_burst "$rk"
	[[ "$cfg" == xrepl-async-journal && "$rk" == "$JLAT_REMOTE" ]] && journal_latency "$rk"
	return 0
}
