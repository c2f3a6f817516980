#!/usr/bin/env bash
# Smoke test of the benchmark's guest part (scripts/bench-guest.sh, the code
# `make bench` runs): a second or two of fio against raw-local, and against
# the raw remote, xrepl-sync, xrepl-sync with a metadata device (its
# metadata writes counted) and with the polling remote submitter, and
# the journal's device alone and async with a journal, with the remote leg
# over NVMe/TCP (loopback, kernel target and initiator), plus a
# refused-or-working xrepl-semi-sync and the resync of a small fully dirty
# pair over NVMe/TCP.  With the delay remote, the journal's burst runs too.
# The journal's QD1 rows over legs that complete by timer (jlat-*) run with
# the remote of the test, and the report must show them.
# XREPL_BENCH_SMOKE_REMOTE picks another remote transport: make check-debug
# uses "delay", since the 6.1 kernel's nvmet-tcp itself draws a lockdep
# report (circular dependency between its queue release and io_work) when
# a controller is removed, which would fail the debug run for a bug that is
# not ours.  The summary
# must be well-formed JSON with the expected keys and positive figures, the
# report script must turn it into tables and a plot, and every device,
# export and connection the benchmark made must be gone afterwards.
# budget: 420
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
command -v jq >/dev/null || skip "jq is not installed"
REMOTE=${XREPL_BENCH_SMOKE_REMOTE:-nvme-tcp}
if [[ "$REMOTE" == nvme-tcp ]]; then
	command -v nvme >/dev/null || skip "nvme-cli is not installed"
fi

OUT=$T_TMP/bench
JOBS="qd1 qd32"

# The checks the real run's summary must pass, in one jq program (each jq
# start is slow under TCG): prints "ok" or what is wrong.
# shellcheck disable=SC2016  # jq variables
CHECK_JQ='
def good($S): .status == "ok" and .iops > 0 and .mbps > 0 and .ios > 0
	and .lat_us.p50 > 0 and .lat_us.p99 >= .lat_us.p50
	and .lat_us.p99_9 >= .lat_us.p99 and .lat_us.mean > 0
	and .clat_us.p50 > 0 and .clat_us.p50 <= .lat_us.p99_9
	and .vcpu_busy > 0 and .vcpu_busy <= 1
	and ((.vcpu_us_per_io - .vcpu_busy * $S.guest.cpus * 1e6 / .iops) | fabs) < 0.01;
. as $S | first(
	(select(((.guest.kernel | length > 0) and (.guest.cpus > 0)
		and (.params.runtime_s > 0) and (.params.remote_latency_us > 0)
		and (.params.remotes == [$remote]) and (.params.resync_mib > 0)
		and (.params.transports[$remote] | length > 0)
		and (.records | type == "array")) | not)
	 | "guest/params/records missing"),
	((["local", "raw-local"], ["local", "raw-journal"], [$remote, "raw-remote"],
	  [$remote, "xrepl-sync"], [$remote, "xrepl-sync-meta"], [$remote, "xrepl-sync-poll"],
	  [$remote, "xrepl-async-journal"]) as [$r, $c]
	 | ($jobs | split(" "))[] as $j
	 | [$S.records[] | select(.remote == $r and .config == $c and .job == $j)]
	 | select((length == 1 and (.[0] | good($S))) | not)
	 | "no well-formed record for \($r)/\($c)/\($j)"),
	# QD1 of the journal over legs that complete by timer: four rows.
	((["jlat-raw-local", "jlat-raw-journal", "jlat-xrepl-async", "jlat-xrepl-async-journal"][]) as $c
	 | [$S.records[] | select(.remote == $remote and .config == $c and .job == "qd1")]
	 | select((length == 1 and (.[0] | good($S))) | not)
	 | "no well-formed record for \($remote)/\($c)/qd1"),
	# A mode the target refuses is "unsupported" with the reason; once it
	# is implemented its figures must be there.
	([.records[] | select(.config == "xrepl-semi-sync")]
	 | select((length > 0 and ((.[0].status == "unsupported" and (.[0].reason | length > 0))
		or (map(select(.status == "ok" and .iops > 0)) | length == 2))) | not)
	 | "xrepl-semi-sync neither unsupported nor measured"),
	# With a metadata device: its writes counted, below the data writes.
	([.records[] | select(.config == "xrepl-sync-meta" and .job == "meta")]
	 | select((length == 1 and (.[0] | .status == "ok" and .remote == $remote
		and .writes > 0 and .meta_writes > 0 and .meta_writes < .writes
		and ((.ratio - .meta_writes / .writes) | fabs) < 1e-9)) | not)
	 | "no well-formed metadata record of xrepl-sync-meta"),
	# The resync: one record, in sync, with a time and a rate that agree.
	(.params.resync_mib as $mib | [.records[] | select(.config == "resync-xrepl")]
	 | select((length == 1 and (.[0] | .status == "ok" and .remote == "resync"
		and .transport == $remote and .seconds > 0 and .bytes == $mib * 1048576
		and ((.mbps - .bytes / .seconds / 1e6) | fabs) < 0.01
		and (.vcpu_busy | type == "number" and . > 0 and . <= 1))) | not)
	 | "no well-formed resync-xrepl record"),
	# The verify pass over the same pair, and the latency during passes.
	(.params.resync_mib as $mib | [.records[] | select(.config == "verify-xrepl")]
	 | select((length == 1 and (.[0] | .status == "ok" and .job == "resync"
		and .seconds > 0 and .bytes == $mib * 1048576)) | not)
	 | "no well-formed verify-xrepl record"),
	# Latencies are what the writer sees, submission included (fio lat):
	# never less than their completion part (clat) alone.
	([.records[] | select(.config == "verify-latency")]
	 | select((length == 1 and (.[0] | .status == "ok" and .idle_p99_us > 0
		and .verify_p99_us > 0 and .verify_passes > 0
		and ((.ratio - .verify_p99_us / .idle_p99_us) | fabs) < 1e-9
		and .idle_p99_us >= .idle_clat_p99_us and .verify_p99_us >= .verify_clat_p99_us)) | not)
	 | "no well-formed verify-latency record"),
	# Periodic mode: async ships every byte; a periodic pair at most as
	# much (each region once per cycle, whole regions), and its final
	# cycle leaves nothing behind; the latency of the three runs.
	([.records[] | select(.config == "periodic-ship")]
	 | select((length == 2 and all(.[]; .status == "ok" and .written_kb > 0
		and ((.ratio - .shipped_kb / .written_kb) | fabs) < 1e-9)
		and (.[0] | .job == "xrepl-async" and .shipped_kb >= .written_kb * 0.99)
		and (.[1] | .job == "xrepl-periodic-5s" and .cycles >= 1 and .shipped_kb > 0)) | not)
	 | "no well-formed periodic-ship records"),
	([.records[] | select(.config == "periodic-latency")]
	 | select((length == 1 and (.[0] | .status == "ok" and .linear_p50_us > 0
		and .between_p99_us > 0 and .during_p99_us > 0 and .cycles >= 1
		and .linear_p99_us >= .clat_p99_us.linear and .between_p99_us >= .clat_p99_us.between
		and .during_p99_us >= .clat_p99_us.during)) | not)
	 | "no well-formed periodic-latency record"),
	"ok")'

# check_summary FILE: run the checks; prints what is wrong.
check_summary() {
	local why
	why=$(jq -r --arg jobs "$JOBS" --arg remote "$REMOTE" "$CHECK_JQ" "$1" 2>&1) ||
		{ echo "not valid JSON: $why"; return 1; }
	[[ "$why" == ok ]] || { echo "$why"; return 1; }
}

step "run the guest part of the benchmark"
rc=0
XREPL_BENCH_PERIODIC_REMOTE=$REMOTE XREPL_BENCH_PERIODIC_RUNTIME=2 XREPL_BENCH_PERIODS=5 \
XREPL_BENCH_JOURNAL_LAT_REMOTE=$REMOTE \
bash "$REPO_ROOT/scripts/bench-guest.sh" --out "$OUT" --prefix "$P" --remotes "$REMOTE" \
	--configs raw-local,raw-journal,raw-remote,xrepl-sync,xrepl-sync-meta,xrepl-sync-poll,xrepl-semi-sync,xrepl-async-journal,resync-xrepl,verify-xrepl,periodic-ship,periodic-latency \
	--variant-remote "$REMOTE" --resync-remote "$REMOTE" --jobs "${JOBS// /,}" \
	--runtime 1 --ramp 0 --size 32 --resync-mb 32 --ko none || rc=$?
assert_eq 0 "$rc" "bench-guest.sh exit status"

step "nothing left behind"
assert_eq 0 "$(cat /sys/module/dm_xrepl/parameters/remote_poll_us)" "remote_poll_us after the benchmark"
assert_eq "" "$(dmsetup ls | awk -v p="$P-" 'index($1, p) == 1 { print $1 }')" "dm devices left by the benchmark"
left=$(compgen -G "/sys/kernel/config/nullb/$P-*" || true)
assert_eq "" "$left" "null_blk devices left by the benchmark"
assert_eq "" "$(grep -s "^md" /proc/mdstat || true)" "md arrays left by the benchmark"
left=$(compgen -G "/sys/kernel/config/nvmet/subsystems/*$P-*" || true)
assert_eq "" "$left" "nvmet subsystems left by the benchmark"
left=$(grep -l -s "$P-" /sys/class/nvme/*/subsysnqn || true)
assert_eq "" "$left" "NVMe/TCP connections left by the benchmark"

step "the summary is well-formed"
S=$OUT/bench-guest.json
[[ -s "$S" ]] || fail "no summary $S"
why=$(check_summary "$S") || fail "summary check: $why"
log "ok: summary has the expected keys and positive figures"
jq -c '.records[] | {remote, config, job, status, iops, p50: .lat_us.p50, seconds}' "$S"

step "the checks can fail"
jq '(.records[] | select(.config == "xrepl-sync" and .job == "qd1") | .iops) = 0' "$S" >"$T_TMP/bad1.json"
check_summary "$T_TMP/bad1.json" >/dev/null && fail "a zero IOPS figure passed the check"
jq 'del(.records[] | select(.config == "raw-local" and .job == "qd32"))' "$S" >"$T_TMP/bad2.json"
check_summary "$T_TMP/bad2.json" >/dev/null && fail "a missing job passed the check"
head -c 200 "$S" >"$T_TMP/bad3.json"
check_summary "$T_TMP/bad3.json" >/dev/null 2>&1 && fail "truncated JSON passed the check"
jq '(.records[] | select(.config == "raw-remote" and .job == "qd1") | .remote) = "ram"' "$S" >"$T_TMP/bad4.json"
check_summary "$T_TMP/bad4.json" >/dev/null && fail "a record of the wrong remote passed the check"
jq '(.records[] | select(.config == "resync-xrepl") | .status) = "failed"' "$S" >"$T_TMP/bad5.json"
check_summary "$T_TMP/bad5.json" >/dev/null && fail "a failed resync passed the check"
jq '(.records[] | select(.config == "resync-xrepl") | .mbps) *= 2' "$S" >"$T_TMP/bad6.json"
check_summary "$T_TMP/bad6.json" >/dev/null && fail "a resync rate that does not match its time passed the check"
jq '(.records[] | select(.config == "xrepl-sync-meta" and .job == "meta") | .meta_writes) = 0' "$S" >"$T_TMP/bad7.json"
check_summary "$T_TMP/bad7.json" >/dev/null && fail "a metadata record without metadata writes passed the check"
jq '(.records[] | select(.config == "xrepl-sync" and .job == "qd32") | .vcpu_busy) = null' "$S" >"$T_TMP/bad8.json"
check_summary "$T_TMP/bad8.json" >/dev/null && fail "a job without its CPU use passed the check"
jq '(.records[] | select(.config == "resync-xrepl") | .vcpu_busy) = null' "$S" >"$T_TMP/bad9.json"
check_summary "$T_TMP/bad9.json" >/dev/null && fail "a resync without its CPU use passed the check"
jq '(.records[] | select(.config == "verify-latency") | .verify_passes) = 0' "$S" >"$T_TMP/bad10.json"
check_summary "$T_TMP/bad10.json" >/dev/null && fail "a latency without a verify pass passed the check"
jq '(.records[] | select(.config == "verify-latency")) |= (.idle_p99_us = .idle_clat_p99_us / 2 | .ratio = .verify_p99_us / .idle_p99_us)' \
	"$S" >"$T_TMP/bad11.json"
check_summary "$T_TMP/bad11.json" >/dev/null && fail "a latency below its completion part passed the check"
jq 'del(.records[] | select(.config == "jlat-xrepl-async-journal"))' "$S" >"$T_TMP/bad12.json"
check_summary "$T_TMP/bad12.json" >/dev/null && fail "a summary without the journal's jlat row passed the check"
log "ok: broken summaries are rejected"

step "the report turns it into tables and a plot"
python3 "$REPO_ROOT/scripts/bench-report.py" "$OUT" || fail "bench-report.py failed"
jq -e --arg r "$REMOTE" '.rows[$r] | map(.config) | (index("xrepl-sync") != null and index("raw-local") != null)' \
	"$OUT/results.json" >/dev/null || fail "results.json has no xrepl-sync or raw-local row for $REMOTE"
jq -e '[.resync[] | select(.config == "resync-xrepl" and .status == "ok" and .seconds > 0)] | length == 1' \
	"$OUT/results.json" >/dev/null || fail "results.json lacks the resync row"
jq -e '[.resync[] | select(.config == "verify-xrepl" and .status == "ok" and .seconds > 0)] | length == 1' \
	"$OUT/results.json" >/dev/null || fail "results.json lacks the verify row"
jq -e '.targets[] | select(.id == "verify-p99") | .ratio > 0' "$OUT/results.json" >/dev/null ||
	fail "results.json has no verify latency ratio"
jq -e '.targets[] | select(.id == "periodic-between-p50") | .ratio > 0' "$OUT/results.json" >/dev/null ||
	fail "results.json has no periodic latency ratio"
jq -e '[.targets[] | select(.verdict | test("^(PASS|MISS|N/A)$"))] | length == 24' "$OUT/results.json" >/dev/null ||
	fail "results.json lacks the targets"
jq -e '.targets[] | select(.id == "meta-ratio") | .ratio > 0' "$OUT/results.json" >/dev/null ||
	fail "results.json has no metadata writes per data write"
for t in meta-qd1-p999 meta-qd32-p999; do
	jq -e --arg t "$t" '.targets[] | select(.id == $t) | .ratio > 0' "$OUT/results.json" >/dev/null ||
		fail "results.json has no ratio for the target $t"
done
grep -q "^#### $REMOTE remote" "$OUT/results.md" || fail "results.md has no $REMOTE table"
grep -q "^#### The journal at QD1, legs that complete after .* ($REMOTE remote)" "$OUT/results.md" ||
	fail "results.md has no table of the journal's jlat rows"
awk '/^#### The journal at QD1/ { f = 1 } f && /^\| xrepl-async-journal \| [0-9]/ { ok = 1 }
	END { exit !ok }' "$OUT/results.md" || fail "results.md has no jlat figures of the journal"
grep -q '^| xrepl-sync | [0-9]' "$OUT/results.md" || fail "results.md has no xrepl-sync figures"
grep -q '^| raw-remote | [0-9]' "$OUT/results.md" || fail "results.md has no raw-remote figures"
# Every measured row of a remote's table has its tails: p99.9 at QD1 and
# at QD32 (columns 4 and 8).
tails() {
	awk -F' *[|] *' -v r="$REMOTE" '
		/^#### / { t = ($0 ~ "^#### " r " remote") ; next }
		!t || !/^[|] [a-z]/ { next }
		$2 == "configuration" {
			if ($5 != "QD1 p99.9 µs" || $9 != "QD32 p99.9 µs") { print "the header"; bad = 1 }
			next
		}
		$3 ~ /^(FAILED|not supported)$/ { next }
		{ n++; if ($5 !~ /^[0-9][0-9,.]*$/ || $9 !~ /^[0-9][0-9,.]*$/) { print $2; bad = 1 } }
		END { if (!n) print "no rows"; exit bad || !n }' "$1"
}
why=$(tails "$OUT/results.md") || fail "results.md: rows without p99.9 at QD1 or QD32: $why"
sed 's/^\(| xrepl-sync |\( [^|]* |\)\{6\}\) [0-9][0-9,.]* |/\1 – |/' "$OUT/results.md" >"$T_TMP/bad.md"
tails "$T_TMP/bad.md" >/dev/null && fail "a row without its QD32 p99.9 passed the check"
log "ok: every row has p99.9 at QD1 and QD32"
grep -q '^| xrepl (sync) | .* | [0-9][0-9.]* | [0-9][0-9.,]* | [0-9]* % |' "$OUT/results.md" ||
	fail "results.md has no resync figures"
jq -e '.resync[0].vcpu_busy > 0' "$OUT/results.json" >/dev/null || fail "results.json has no CPU use of the resync"
if command -v gnuplot >/dev/null; then
	[[ "$(head -c 4 "$OUT/qd1-latency.png" | tail -c 3)" == PNG ]] || fail "no PNG plot"
	log "ok: plot written"
fi
