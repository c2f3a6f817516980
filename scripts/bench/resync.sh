# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# The resync rows of the benchmark, and the verify's.  A fully dirty pair of resync_mb MiB
# legs (both prefilled, so that neither pays for page allocation), brought
# in sync by xrepl (a new pair without nosync: the initial full sync) and
# by DRBD (both disks Inconsistent, `primary --force`: its initial full
# sync).  A fresh 1 MiB random pattern in the middle of the local leg,
# zeroes at the remote, must have arrived.  Sourced by
# scripts/bench-guest.sh; uses its settings and selected, and records.sh,
# transports.sh, drbd.sh and configs.sh.

# resync_mark REMOTE_DEV: the pattern on RS_LOCAL, zeroes at REMOTE_DEV.
resync_mark() {
	dd if=/dev/urandom of="$RS_LOCAL" bs=1M seek="$RS_PAT_OFF" count=1 oflag=direct conv=notrunc status=none &&
		dd if=/dev/zero of="$1" bs=1M seek="$RS_PAT_OFF" count=1 oflag=direct conv=notrunc status=none
}

# resync_check REMOTE_DEV: the pattern is at REMOTE_DEV.
resync_check() {
	local a b
	a=$(dd if="$RS_LOCAL" bs=1M skip="$RS_PAT_OFF" count=1 iflag=direct status=none | md5sum)
	b=$(dd if="$1" bs=1M skip="$RS_PAT_OFF" count=1 iflag=direct status=none | md5sum)
	[[ "$a" == "$b" ]]
}

# resync_t0, resync_t1: the time and the guest's CPU counters (copied to
# $out/cpu/resync.pre and .post) when the resync starts and ends.
resync_t0() { mkdir -p "$out/cpu"; head -n1 /proc/stat >"$out/cpu/resync.pre"; now; }
resync_t1() { now; head -n1 /proc/stat >"$out/cpu/resync.post"; }

# record_resync CONFIG T0 T1 TRANSPORT SETTINGS: with how busy the vCPUs
# were meanwhile (the resync is bound by CPU time when they are all busy).
record_resync() {
	local secs busy
	secs=$(elapsed "$2" "$3")
	busy=$(cpu_busy "$out/cpu/resync.pre" "$out/cpu/resync.post")
	record "$(jq -c -n --arg c "$1" --arg t "$4" --arg set "$5" \
		--argjson s "$secs" --argjson b "$(( resync_mb * 1048576 ))" --argjson busy "$busy" \
		'{remote: "resync", config: $c, job: "resync", status: "ok", transport: $t,
		  bytes: $b, seconds: $s, mbps: ($b / $s / 1e6), vcpu_busy: $busy, settings: $set}')"
	say "  $1: $(( resync_mb )) MiB in ${secs}s ($(awk -v b="$(( resync_mb * 1048576 ))" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }') MB/s), vCPUs busy $(awk -v b="$busy" 'BEGIN { if (b == "null") print "?"; else printf "%d%%", b * 100 }')"
}

resync_xrepl() {
	local cfg=resync-xrepl name="$prefix-resync" S t0 t1 st="" i n
	if ! dmsetup targets | grep -q '^xrepl '; then
		record "$(jq -c -n --arg t "$resync_remote" '{remote: "resync", config: "resync-xrepl", job: null, status: "failed", transport: $t, reason: "the xrepl target is not loaded"}')"
		nfail=$((nfail + 1))
		return
	fi
	local fail=""
	SIZE_MB=$resync_mb
	if ! transport_up "$resync_remote"; then
		fail="$resync_remote remote: $WHY"
	fi
	SIZE_MB=""
	if [[ -z "$fail" ]]; then
		resync_mark "$REMOTE" || fail="cannot write the check pattern"
	fi
	if [[ -z "$fail" ]]; then
		S=$(blockdev --getsz "$RS_LOCAL")
		say "resync-xrepl: $RS_LOCAL -> $REMOTE ($resync_remote), new pair without nosync"
		t0=$(resync_t0)
		if dm_create_logged "$name" "0 $S xrepl $RS_LOCAL $REMOTE - sync"; then
			n=$(( (60 + resync_mb / 4) * 10 ))
			for (( i = 0; i < n; i++ )); do
				st=$(dmsetup status "$name" 2>&1)
				[[ "$st" == *remote=insync* && "$st" == *" dirty=0/"* && "$st" == *resync_active=0* ]] && break
				sleep 0.1
			done
			t1=$(resync_t1)
			say "  status: $st"
			if (( i == n )); then
				fail="not in sync after $(( n / 10 ))s: $st"
			elif ! resync_check "$REMOTE"; then
				fail="the remote does not hold what the local leg holds after the resync"
			else
				selected resync-xrepl && record_resync "$cfg" "$t0" "$t1" "$resync_remote" \
					"new pair without nosync (full initial sync), region_size 1024 (512 KiB), up to 16 regions copied at a time"
				selected verify-xrepl && verify_xrepl "$name"
			fi
		else
			fail=$WHY
		fi
		teardown_config
	fi
	transport_down "$resync_remote"
	if [[ -n "$fail" ]]; then
		say "resync-xrepl: FAILED: $fail"
		record "$(jq -c -n --arg t "$resync_remote" --arg why "$fail" '{remote: "resync", config: "resync-xrepl", job: null, status: "failed", transport: $t, reason: $why}')"
		nfail=$((nfail + 1))
	fi
}

# fio_lat FILE PCT: the PCT (50, 99) percentile in µs of the write latency
# an application sees (submission included: fio's lat_ns, which needs
# --lat_percentiles=1) in fio's JSON FILE.  A device that does its work
# while the write is submitted (null_blk with irqmode=0, a dm target that
# maps into it) shows almost nothing in the completion latency alone.
fio_lat() {
	jq -r --arg p "$2.000000" '.jobs[0].write.lat_ns.percentile[$p] / 1000' "$1" 2>/dev/null
}

# fio_clat FILE PCT: the same, of the completion latency alone (clat_ns).
fio_clat() {
	jq -r --arg p "$2.000000" '.jobs[0].write.clat_ns.percentile[$p] / 1000' "$1" 2>/dev/null
}

# verify_xrepl NAME: on the pair NAME, in sync: the time of a verify pass
# (config verify-xrepl, a resync-like row), then QD1 random writes for
# $runtime seconds with no verify and again with verify passes back to
# back (config verify-latency: the p99 of both and their ratio).
verify_xrepl() {
	local name=$1 t0 t1 st i n fail="" nr f0="$out/fio/verify-idle.json" f1="$out/fio/verify-busy.json"
	local p0 p1 passes=0 stopf="$out/verify.stop" vpid
	say "verify-xrepl: a verify pass over the same pair"
	t0=$(resync_t0)
	if ! dmsetup message "$name" 0 verify 2>"$out/verify.err"; then
		fail="verify refused: $(cat "$out/verify.err")"
	else
		n=$(( (60 + resync_mb / 4) * 10 ))
		for (( i = 0; i < n; i++ )); do
			st=$(dmsetup status "$name" 2>&1)
			[[ "$st" == *verify_active=0* ]] && break
			sleep 0.1
		done
		t1=$(resync_t1)
		nr=$(sed -n 's/.* dirty=[0-9]*\/\([0-9]*\) .*/\1/p' <<<"$st")
		if (( i == n )); then
			fail="the pass did not end within $(( n / 10 ))s: $st"
		elif [[ "$st" != *" verify=$nr/$nr "* || "$st" != *" verify_mismatches=0 "* ]]; then
			fail="the pass did not compare every region equal: $st"
		else
			record_resync verify-xrepl "$t0" "$t1" "$resync_remote" \
				"a pass over the pair in sync, one region (512 KiB) at a time, writes to it held meanwhile, rate unlimited"
		fi
	fi
	if [[ -n "$fail" ]]; then
		say "verify-xrepl: FAILED: $fail"
		record "$(jq -c -n --arg t "$resync_remote" --arg why "$fail" '{remote: "resync", config: "verify-xrepl", job: null, status: "failed", transport: $t, reason: $why}')"
		nfail=$((nfail + 1))
		return
	fi
	# The application's latency, idle and while verify passes run.
	mkdir -p "$out/fio"
	local -a job=(--name=w --filename="/dev/mapper/$name" --direct=1 --ioengine=libaio
		--rw=randwrite --bs=4k --iodepth=1 --time_based=1 --ramp_time="$ramp"
		--runtime="$runtime" --randseed="$seed" --output-format=json --lat_percentiles=1)
	if ! fio "${job[@]}" --output="$f0" >/dev/null 2>&1; then
		fail="fio (idle) failed"
	else
		rm -f "$stopf"
		(
			while [[ ! -e "$stopf" ]]; do
				if [[ "$(dmsetup status "$name")" == *verify_active=0* ]]; then
					dmsetup message "$name" 0 verify && echo pass >>"$out/verify.passes"
				fi
				sleep 0.05
			done
		) &
		vpid=$!
		fio "${job[@]}" --output="$f1" >/dev/null 2>&1 || fail="fio (during verify) failed"
		touch "$stopf"
		wait "$vpid"
		dmsetup message "$name" 0 verify stop
		passes=$(wc -l <"$out/verify.passes" 2>/dev/null || echo 0)
	fi
	p0=$(fio_lat "$f0" 99)
	p1=$(fio_lat "$f1" 99)
	if [[ -z "$fail" && ( -z "$p0" || -z "$p1" || "$p0" == null || "$p1" == null ) ]]; then
		fail="no p99 in fio's output"
	fi
	if [[ -n "$fail" ]]; then
		say "verify-latency: FAILED: $fail"
		record "$(jq -c -n --arg why "$fail" '{remote: "resync", config: "verify-latency", job: "qd1", status: "failed", reason: $why}')"
		nfail=$((nfail + 1))
		return
	fi
	record "$(jq -c -n --argjson p0 "$p0" --argjson p1 "$p1" --argjson n "$passes" --arg t "$resync_remote" \
		--argjson c0 "$(fio_clat "$f0" 99)" --argjson c1 "$(fio_clat "$f1" 99)" \
		'{remote: "resync", config: "verify-latency", job: "qd1", status: "ok", transport: $t,
		  idle_p99_us: $p0, verify_p99_us: $p1, ratio: ($p1 / $p0), verify_passes: $n,
		  idle_clat_p99_us: $c0, verify_clat_p99_us: $c1}')"
	say "  verify-latency: QD1 write p99 ${p0} µs idle, ${p1} µs during verify ($passes passes started)"
}

resync_drbd() {
	local fail="" t0 t1 d="" i n
	DRBD_DISK_OPTS=("${DRBD_RESYNC_DISK_OPTS[@]}") DRBD_NET_OPTS=("${DRBD_RESYNC_NET_OPTS[@]}")
	if ! resync_mark "$RS_REMOTE"; then
		fail="cannot write the check pattern"
	elif ! drbd_pair_up "$RS_LOCAL" "$RS_REMOTE" C; then
		fail=$WHY
	else
		say "resync-drbd: $RS_LOCAL -> $RS_REMOTE, protocol C, both Inconsistent, primary --force"
		t0=$(resync_t0)
		if drbd_cmd primary "$DRBD_MINOR_A" --force; then
			n=$(( (60 + resync_mb / 4) * 10 ))
			for (( i = 0; i < n; i++ )); do
				d=$("$DRBDSETUP" dstate "$DRBD_MINOR_A" 2>/dev/null)
				[[ "$d" == UpToDate/UpToDate ]] && break
				sleep 0.1
			done
			t1=$(resync_t1)
			say "  $(grep -A1 "^ *$DRBD_MINOR_A:" /proc/drbd | tr -s ' \n' ' ')"
			if (( i == n )); then
				fail="not in sync after $(( n / 10 ))s: $d"
			else
				drbd_down
				if ! resync_check "$RS_REMOTE"; then
					fail="the peer does not hold what the local leg holds after the resync"
				else
					record_resync resync-drbd "$t0" "$t1" "drbd-tcp" \
						"protocol C, ${DRBD_RESYNC_DISK_OPTS[*]} ${DRBD_RESYNC_NET_OPTS[*]}"
				fi
			fi
		else
			fail=$WHY
		fi
	fi
	drbd_down
	DRBD_DISK_OPTS=() DRBD_NET_OPTS=()
	if [[ -n "$fail" ]]; then
		say "resync-drbd: FAILED: $fail"
		record "$(jq -c -n --arg why "$fail" '{remote: "resync", config: "resync-drbd", job: null, status: "failed", transport: "drbd-tcp", reason: $why}')"
		nfail=$((nfail + 1))
	fi
}

# run_resync: the selected resync rows, on fresh legs.
run_resync() {
	local cfg
	# Where the pattern goes: the middle of the legs, in MiB.
	RS_PAT_OFF=$(( resync_mb / 2 ))
	if selected resync-xrepl || selected resync-drbd || selected verify-xrepl; then
		say "=== resync of a fully dirty ${resync_mb} MiB pair ==="
		if nullb_make "$prefix-rslocal" size="$resync_mb" memory_backed=1 blocksize=4096 hw_queue_depth=64 irqmode=0; then
			RS_LOCAL=$NB_DEV
			prefill "$RS_LOCAL"
			if selected resync-xrepl || selected verify-xrepl; then
				resync_xrepl
			fi
			if selected resync-drbd; then
				if nullb_make "$prefix-rspeer" size="$resync_mb" memory_backed=1 blocksize=4096 hw_queue_depth=64 irqmode=0; then
					RS_REMOTE=$NB_DEV
					prefill "$RS_REMOTE"
					resync_drbd
					nullb_remove "$prefix-rspeer"
				else
					record "$(jq -c -n '{remote: "resync", config: "resync-drbd", job: null, status: "failed", transport: "drbd-tcp", reason: "cannot create the peer null_blk"}')"
					nfail=$((nfail + 1))
				fi
			fi
			nullb_remove "$prefix-rslocal"
		else
			say "cannot create the resync legs"
			for cfg in resync-xrepl resync-drbd verify-xrepl; do
				selected "$cfg" && record_cfg resync "$cfg" failed "cannot create the resync legs"
			done
			nfail=$((nfail + 1))
		fi
	fi
}
