# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# What the benchmark says and records: a line of progress (say), a JSON
# object a line in $records for every job, configuration and resync, the
# guest's CPU use, and at the end the summary bench-guest.json that
# scripts/bench-report.py reads.  Sourced by scripts/bench-guest.sh, whose
# settings the summary records.

say() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }

# record JSON: append one JSON object (a line) to the records.
record() { printf '%s\n' "$1" >>"$records"; }

# record_cfg REMOTE CONFIG STATUS REASON: a configuration without jobs.
record_cfg() {
	record "$(jq -c -n --arg r "$1" --arg c "$2" --arg s "$3" --arg why "$4" \
		'{remote: $r, config: $c, job: null, status: $s, reason: $why}')"
}

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# elapsed T0 T1: T1 - T0 in seconds, three decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# cpu_busy PRE POST: the fraction of the guest's CPU time that was busy
# (neither idle nor waiting for I/O) between two copies of /proc/stat's
# first line; null if they cannot be read.
cpu_busy() {
	local -a a b
	if ! read -r -a a <"$1" || ! read -r -a b <"$2" ||
	   [[ "${a[0]}" != cpu || "${b[0]}" != cpu ]]; then
		echo null
		return
	fi 2>/dev/null
	awk -v a="${a[*]:1:8}" -v b="${b[*]:1:8}" 'BEGIN {
		split(a, x); split(b, y)
		for (i = 1; i <= 8; i++) { d = y[i] - x[i]; t += d; if (i == 4 || i == 5) idle += d }
		if (t > 0) printf "%.3f\n", (t - idle) / t; else print "null" }'
}

# status_num STATUS KEY: the number of KEY=<n> in a status line (0 if none).
status_num() {
	local v
	v=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=\([0-9]*\)\$/\1/p")
	echo "${v:-0}"
}

# record_meta REMOTE CONFIG STATUS_BEFORE STATUS_AFTER: the metadata writes
# and data writes the fio run caused, from the status counters.
record_meta() {
	local mw w
	mw=$(( $(status_num "$4" meta_writes) - $(status_num "$3" meta_writes) ))
	w=$(( $(status_num "$4" writes) - $(status_num "$3" writes) ))
	say "  metadata: $mw metadata writes for $w data writes"
	record "$(jq -c -n --arg r "$1" --arg c "$2" --argjson mw "$mw" --argjson w "$w" \
		'{remote: $r, config: $c, job: "meta", status: "ok", meta_writes: $mw,
		  writes: $w, ratio: (if $w > 0 then $mw / $w else null end)}')"
}

# write_summary: $out/bench-guest.json: the guest, the settings and every
# record of the run.
write_summary() {
	local cpu_model drbd_version nbdkit_version
	cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	drbd_version=$(sed -n 's/^version: \([^ ]*\).*/\1/p' /proc/drbd 2>/dev/null | head -n1)
	nbdkit_version=$(nbdkit --version 2>/dev/null | awk '{ print $2; exit }')
	jq -n --slurpfile recs "$records" \
		--arg kernel "$(uname -r)" --arg cpu "$cpu_model" --argjson ncpu "$(nproc)" \
		--argjson mem "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" \
		--arg fio "$(jq -r '."fio version" // empty' "$out"/fio/*.json 2>/dev/null | head -n1)" --arg ko "$ko_info" \
		--arg configs "$configs" --arg remotes "$remotes" --arg jobs "$jobs_list" \
		--argjson runtime "$runtime" --argjson ramp "$ramp" --argjson size "$size_mb" \
		--argjson span "$span_mb" --argjson lat "$remote_lat_us" --argjson seed "$seed" \
		--argjson rsmb "$resync_mb" --arg rsremote "$resync_remote" \
		--arg variantremote "$VARIANT_REMOTE" --argjson pollus "$POLL_US" \
		--argjson semims "$semi_ms" \
		--arg premote "$P_REMOTE" --argjson prt "$prt" \
		--arg drbdv "$drbd_version" --arg nbdkitv "${nbdkit_version:-?}" \
		--arg drbdrs "${DRBD_RESYNC_DISK_OPTS[*]} ${DRBD_RESYNC_NET_OPTS[*]}" \
		--argjson jlat "$JLAT_US" \
		--argjson nvport "$NVME_TCP_PORT" --argjson nbdport "$NBD_PORT" --argjson iscsiport "$ISCSI_PORT" \
		--arg thp "$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP" 2>/dev/null)" \
		--argjson secs "$(( $(date +%s) - t_start ))" \
		--arg profiles "${profiles[*]}" '
		{guest: {kernel: $kernel, cpu_model: $cpu, cpus: $ncpu, mem_mib: $mem,
			 fio: $fio, xrepl_module: $ko, drbd: $drbdv, transparent_hugepage: $thp,
			 seconds: $secs},
		 params: {configs: ($configs | split(",")), remotes: ($remotes | split(",")),
			  jobs: ($jobs | split(",")), runtime_s: $runtime, ramp_s: $ramp,
			  leg_size_mib: $size, span_mib: $span, seed: $seed,
			  remote_latency_us: $lat, journal_latency_legs_us: $jlat, resync_mib: $rsmb, resync_remote: $rsremote,
			  variant_remote: $variantremote, remote_poll_us: $pollus,
			  semi_timeout_ms: $semims,
			  periodic_remote: $premote, periodic_runtime_s: $prt,
			  local_leg: "null_blk memory_backed=1 irqmode=0 blocksize=4096",
			  transports: {
			    ram: "null_blk memory_backed=1 irqmode=0 blocksize=4096 (same as the local leg)",
			    delay: "null_blk memory_backed=1 irqmode=2 (hrtimer) completion_nsec=\($lat * 1000)",
			    "nvme-tcp": "NVMe/TCP over loopback: nvme-tcp initiator (one I/O queue per vCPU) to the kernel target nvmet-tcp on 127.0.0.1:\($nvport), namespace on a null_blk like the local leg",
			    nbd: "NBD over loopback TCP: nbd.ko (2 connections, 4 KiB blocks) to nbdkit \($nbdkitv) file plugin on 127.0.0.1:\($nbdport) (server page cache, flush = fdatasync) over a null_blk like the local leg",
			    iscsi: "iSCSI over loopback TCP: open-iscsi (iscsi_tcp, one session, default queue depth) to the kernel target LIO (iscsi_target_mod) on 127.0.0.1:\($iscsiport), iblock LUN on a null_blk like the local leg"},
			  drbd: ("DRBD " + (if $drbdv == "" then "8.4" else $drbdv end)
				 + " (in-kernel), resources on minors 10 and 11 replicating over loopback TCP; "
				 + "peer disk: the RAM disk behind the nvme-tcp remote; external flexible meta data "
				 + "on 16 MiB null_blk devices; defaults otherwise; the pair is declared in sync "
				 + "(new-current-uuid --clear-bitmap), then reconnected for each protocol"),
			  drbd_resync: ("protocol C, " + $drbdrs)},
		 profiles: ($profiles | split(" ") | map(select(. != ""))),
		 records: $recs}' >"$out/bench-guest.json.tmp" && mv "$out/bench-guest.json.tmp" "$out/bench-guest.json"
}
