# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153,SC2154 # variables shared with bench-guest.sh
# The periodic rows of the benchmark, over the nvme-tcp remote (DRBD's;
# XREPL_BENCH_PERIODIC_REMOTE chooses another):
#   periodic-ship: bytes shipped per byte written by a hot-set writer (fio
#     randwrite 4 KiB, random_distribution=zipf:1.2, QD4, $prt seconds) in
#     async, in periodic mode at several periods (each run ends with a
#     cycle, so that everything written has reached the remote), and with
#     DRBD protocol A (KiB sent over its connection; when drbd-A is
#     selected too);
#   periodic-latency: QD1 4 KiB random writes on dm-linear over the local
#     leg, on a periodic pair between cycles, and on that pair while
#     cycles run back to back.
# Every xrepl pair has 64 KiB regions and a fresh 16 MiB metadata RAM disk.
# Sourced by scripts/bench-guest.sh; uses its settings, selected and
# records.sh, transports.sh, drbd.sh and resync.sh (fio_lat, fio_clat).

# The run of each periodic-ship row, and the periods measured.
prt=${XREPL_BENCH_PERIODIC_RUNTIME:-60}
PERIODS=${XREPL_BENCH_PERIODS:-5 15 60}
PRS=128				# region size of the pairs, sectors
P_REMOTE=${XREPL_BENCH_PERIODIC_REMOTE:-nvme-tcp}

# p_fio DEV OUT [ARGS...]: the hot-set writer on DEV, JSON to OUT.
p_fio() {
	local dev=$1 o=$2
	shift 2
	fio --name=w --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--size="${span_mb}M" --randseed="$seed" --time_based=1 --output-format=json \
		--lat_percentiles=1 --output="$o" "$@" >/dev/null 2>&1
}

# p_pair NAME MODE [OPTS...]: a pair over LOCAL and REMOTE with a fresh
# metadata device (P_META zeroed).
p_pair() {
	local name=$1 mode=$2 S n
	shift 2
	S=$(blockdev --getsz "$LOCAL")
	dd if=/dev/zero of="$P_META" bs=1M count=1 oflag=direct status=none || return 1
	n=$(( 3 + $# ))
	dm_create_logged "$name" "0 $S xrepl $LOCAL $REMOTE $P_META $mode $n region_size $PRS nosync $*"
}

# p_cycle NAME: a cycle now, and wait until it completed (120 s at most).
p_cycle() {
	local st c i
	st=$(dmsetup status "$1") || return 1
	c=$(status_num "$st" cycles)
	(( $(status_num "$st" cycling) )) && c=$(( c + 1 ))
	dmsetup message "$1" 0 cycle || return 1
	for (( i = 0; i < 1200; i++ )); do
		st=$(dmsetup status "$1")
		(( $(status_num "$st" cycles) > c && ! $(status_num "$st" cycling) )) && return 0
		sleep 0.1
	done
	return 1
}

# p_ship LABEL MODE [OPTS...]: one periodic-ship row of an xrepl pair.
p_ship() {
	local label=$1 name="$prefix-p" st w s cycles fail="" i
	shift
	if ! p_pair "$name" "$@"; then
		fail="cannot create the pair: $WHY"
	elif ! p_fio "/dev/mapper/$name" "$out/fio/ship-$label.json" \
			--iodepth=4 --random_distribution=zipf:1.2 --runtime="$prt"; then
		fail="fio failed"
	elif [[ "$1" == periodic ]] && ! p_cycle "$name"; then
		fail="the final cycle did not complete"
	elif [[ "$1" == async ]]; then
		# Everything written has reached the remote once the lag is 0.
		for (( i = 0; i < 600; i++ )); do
			[[ "$(dmsetup status "$name")" == *" lag_bytes=0 "* ]] && break
			sleep 0.1
		done
		(( i < 600 )) || fail="the lag did not drain"
	fi
	st=$(dmsetup status "$name" 2>/dev/null)
	dmsetup remove --retry "$name" >/dev/null 2>&1
	w=$(status_num "$st" written_kb) s=$(status_num "$st" shipped_kb) cycles=$(status_num "$st" cycles)
	[[ -n "$fail" || "$w" -gt 0 ]] || fail="nothing written: $st"
	p_record "$label" "$fail" "$w" "$s" "$cycles"
}

# p_record LABEL FAIL WRITTEN_KB SHIPPED_KB CYCLES
p_record() {
	if [[ -n "$2" ]]; then
		say "  periodic-ship $1: FAILED: $2"
		record "$(jq -c -n --arg l "$1" --arg why "$2" '{remote: "periodic", config: "periodic-ship", job: $l, status: "failed", reason: $why}')"
		nfail=$((nfail + 1))
		return
	fi
	say "  periodic-ship $1: $3 KiB written, $4 KiB shipped ($(awk -v w="$3" -v s="$4" 'BEGIN { printf "%.3f", s / w }') per byte written), $5 cycles"
	record "$(jq -c -n --arg l "$1" --argjson w "$3" --argjson s "$4" --argjson c "$5" \
		'{remote: "periodic", config: "periodic-ship", job: $l, status: "ok",
		  written_kb: $w, shipped_kb: $s, ratio: ($s / $w), cycles: $c}')"
}

# p_drbd: the periodic-ship row of DRBD protocol A (KiB sent over its
# connection per KiB written to its disk).
p_drbd() {
	local fail="" line ns dw
	DRBD_DISK_OPTS=() DRBD_NET_OPTS=()
	if ! drbd_pair_up "$LOCAL" "$REMOTE_BACKING" A ||
	   ! drbd_cmd new-current-uuid --clear-bitmap "$DRBD_MINOR_A" ||
	   ! drbd_cmd primary "$DRBD_MINOR_A" || ! drbd_wait_insync 30 ||
	   ! wait_node "/dev/drbd$DRBD_MINOR_A"; then
		fail="DRBD: ${WHY:-no device}"
	elif ! p_fio "/dev/drbd$DRBD_MINOR_A" "$out/fio/ship-drbd-A.json" \
			--iodepth=4 --random_distribution=zipf:1.2 --runtime="$prt"; then
		fail="fio failed"
	elif ! drbd_wait_insync 120; then
		fail="DRBD: $WHY"
	fi
	line=$(grep -A1 "^ *$DRBD_MINOR_A:" /proc/drbd | tr -s ' \n' ' ')
	drbd_down
	ns=$(sed -n 's/.* ns:\([0-9]*\) .*/\1/p' <<<"$line")
	dw=$(sed -n 's/.* dw:\([0-9]*\) .*/\1/p' <<<"$line")
	[[ -n "$fail" || ( -n "$ns" && -n "$dw" && "$dw" -gt 0 ) ]] || fail="no counters in /proc/drbd: $line"
	p_record drbd-A "$fail" "${dw:-0}" "${ns:-0}" 0
}

# p_lat LABEL DEV OUT: QD1 writes on DEV for $runtime seconds.
p_lat() {
	p_fio "$2" "$3" --iodepth=1 --ramp_time="$ramp" --runtime="$runtime" ||
		{ fail="fio ($1) failed"; return 1; }
}

# p_latency: the periodic-latency record.
p_latency() {
	local name="$prefix-p" lin="$prefix-plin" S fail="" stopf="$out/periodic.stop" cpid st
	local f0="$out/fio/periodic-linear.json" f1="$out/fio/periodic-between.json" f2="$out/fio/periodic-during.json"
	S=$(blockdev --getsz "$LOCAL")
	if dm_create_logged "$lin" "0 $S linear $LOCAL 0"; then
		p_lat dm-linear "/dev/mapper/$lin" "$f0"
		dmsetup remove --retry "$lin" >/dev/null 2>&1
	else
		fail="cannot create dm-linear: $WHY"
	fi
	if [[ -z "$fail" ]] && ! p_pair "$name" periodic period_s 86400; then
		fail="cannot create the pair: $WHY"
	fi
	if [[ -z "$fail" ]]; then
		# Between cycles: the regions the run writes are marked as it goes.
		p_lat between "/dev/mapper/$name" "$f1"
	fi
	if [[ -z "$fail" ]]; then
		rm -f "$stopf"
		(
			while [[ ! -e "$stopf" ]]; do
				[[ "$(dmsetup status "$name")" == *cycling=0* ]] && dmsetup message "$name" 0 cycle
				sleep 0.05
			done
		) &
		cpid=$!
		p_lat during "/dev/mapper/$name" "$f2"
		touch "$stopf"
		wait "$cpid"
		st=$(dmsetup status "$name")
	fi
	dmsetup remove --retry "$name" >/dev/null 2>&1
	if [[ -n "$fail" ]]; then
		say "periodic-latency: FAILED: $fail"
		record "$(jq -c -n --arg why "$fail" '{remote: "periodic", config: "periodic-latency", job: "qd1", status: "failed", reason: $why}')"
		nfail=$((nfail + 1))
		return
	fi
	record "$(jq -c -n --argjson a "$(fio_lat "$f0" 50)" --argjson b "$(fio_lat "$f0" 99)" \
		--argjson c "$(fio_lat "$f1" 50)" --argjson d "$(fio_lat "$f1" 99)" \
		--argjson e "$(fio_lat "$f2" 50)" --argjson f "$(fio_lat "$f2" 99)" \
		--argjson ca "$(fio_clat "$f0" 99)" --argjson cb "$(fio_clat "$f1" 99)" \
		--argjson cc "$(fio_clat "$f2" 99)" \
		--argjson n "$(status_num "$st" cycles)" --argjson cbw "$(status_num "$st" copies_for_writes)" \
		'{remote: "periodic", config: "periodic-latency", job: "qd1", status: "ok",
		  linear_p50_us: $a, linear_p99_us: $b, between_p50_us: $c, between_p99_us: $d,
		  during_p50_us: $e, during_p99_us: $f, cycles: $n, copies_for_writes: $cbw,
		  clat_p99_us: {linear: $ca, between: $cb, during: $cc}}')"
	say "  periodic-latency: QD1 p50/p99 µs: dm-linear $(fio_lat "$f0" 50)/$(fio_lat "$f0" 99), between cycles $(fio_lat "$f1" 50)/$(fio_lat "$f1" 99), during cycles $(fio_lat "$f2" 50)/$(fio_lat "$f2" 99) ($(status_num "$st" cycles) cycles, $(status_num "$st" copies_for_writes) copies for writes)"
}

# run_periodic: the selected periodic rows.
run_periodic() {
	local p
	selected periodic-ship || selected periodic-latency || return 0
	say "=== periodic mode (remote over $P_REMOTE, 64 KiB regions) ==="
	if ! dmsetup targets | grep -q '^xrepl '; then
		record "$(jq -c -n '{remote: "periodic", config: "periodic-ship", job: null, status: "failed", reason: "the xrepl target is not loaded"}')"
		nfail=$((nfail + 1))
		return
	fi
	if ! transport_up "$P_REMOTE"; then
		record "$(jq -c -n --arg why "$P_REMOTE remote: $WHY" '{remote: "periodic", config: "periodic-ship", job: null, status: "failed", reason: $why}')"
		nfail=$((nfail + 1))
		transport_down "$P_REMOTE"
		return
	fi
	nullb_make "$prefix-pmeta" size=16 memory_backed=1 blocksize=4096 irqmode=0 ||
		{ say "cannot create the metadata null_blk"; transport_down "$P_REMOTE"; return; }
	P_META=$NB_DEV
	if selected periodic-ship; then
		say "periodic-ship: fio randwrite 4 KiB zipf:1.2 QD4, ${prt}s per row"
		p_ship xrepl-async async
		for p in $PERIODS; do
			p_ship "xrepl-periodic-${p}s" periodic period_s "$p"
		done
		selected drbd-A && p_drbd
	fi
	selected periodic-latency && p_latency
	nullb_remove "$prefix-pmeta"
	transport_down "$P_REMOTE"
}
