#!/usr/bin/env bash
# Smoke test of the benchmark's guest part (scripts/bench-guest.sh, the code
# `make bench` runs): a second or two of fio against raw-local and
# xrepl-sync with a fast remote, plus a refused-or-working xrepl-semi-sync.
# The summary must be well-formed JSON with the expected keys and positive
# figures, the report script must turn it into a table and a plot, and
# every device the benchmark made must be gone afterwards.
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
command -v jq >/dev/null || skip "jq is not installed"

OUT=$T_TMP/bench
JOBS="qd1 qd32"

# check_summary FILE: the checks the real run's summary must pass.
check_summary() {
	local f=$1 cfg job
	jq -e . "$f" >/dev/null || { echo "not valid JSON"; return 1; }
	jq -e '(.guest.kernel | length > 0) and (.guest.cpus > 0)
		and (.params.runtime_s > 0) and (.params.remote_latency_us > 0)
		and (.records | type == "array")' "$f" >/dev/null ||
		{ echo "guest/params/records missing"; return 1; }
	for cfg in raw-local xrepl-sync; do
		for job in $JOBS; do
			jq -e --arg c "$cfg" --arg j "$job" '
				[.records[] | select(.remote == "fast" and .config == $c and .job == $j)]
				| length == 1 and (.[0] | .status == "ok"
					and .iops > 0 and .mbps > 0 and .ios > 0
					and .clat_us.p50 > 0
					and .clat_us.p99 >= .clat_us.p50
					and .clat_us.p99_9 >= .clat_us.p99
					and .clat_us.mean > 0)' "$f" >/dev/null ||
				{ echo "no well-formed record for $cfg/$job"; return 1; }
		done
	done
	# A mode the target refuses is "unsupported" with the reason; once it
	# is implemented its figures must be there.
	jq -e '[.records[] | select(.config == "xrepl-semi-sync")] as $s
		| ($s | length) > 0 and
		  (($s[0].status == "unsupported" and ($s[0].reason | length > 0))
		   or ($s | map(select(.status == "ok" and .iops > 0)) | length == 2))' "$f" >/dev/null ||
		{ echo "xrepl-semi-sync neither unsupported nor measured"; return 1; }
	return 0
}

step "run the guest part of the benchmark"
rc=0
bash "$REPO_ROOT/scripts/bench-guest.sh" --out "$OUT" --prefix "$P" --remotes fast \
	--configs raw-local,xrepl-sync,xrepl-semi-sync --jobs "${JOBS// /,}" \
	--runtime 1 --ramp 1 --size 32 --ko none || rc=$?
assert_eq 0 "$rc" "bench-guest.sh exit status"

step "nothing left behind"
assert_eq "" "$(dmsetup ls | awk -v p="$P-" 'index($1, p) == 1 { print $1 }')" "dm devices left by the benchmark"
left=$(compgen -G "/sys/kernel/config/nullb/$P-*" || true)
assert_eq "" "$left" "null_blk devices left by the benchmark"
assert_eq "" "$(grep -s "^md" /proc/mdstat || true)" "md arrays left by the benchmark"

step "the summary is well-formed"
S=$OUT/bench-guest.json
[[ -s "$S" ]] || fail "no summary $S"
why=$(check_summary "$S") || fail "summary check: $why"
log "ok: summary has the expected keys and positive figures"
jq -c '.records[] | {config, job, status, iops, p50: .clat_us.p50}' "$S"

step "the checks can fail"
jq '(.records[] | select(.config == "xrepl-sync" and .job == "qd1") | .iops) = 0' "$S" >"$T_TMP/bad1.json"
check_summary "$T_TMP/bad1.json" >/dev/null && fail "a zero IOPS figure passed the check"
jq 'del(.records[] | select(.config == "raw-local" and .job == "qd32"))' "$S" >"$T_TMP/bad2.json"
check_summary "$T_TMP/bad2.json" >/dev/null && fail "a missing job passed the check"
head -c 200 "$S" >"$T_TMP/bad3.json"
check_summary "$T_TMP/bad3.json" >/dev/null 2>&1 && fail "truncated JSON passed the check"
log "ok: broken summaries are rejected"

step "the report turns it into a table and a plot"
python3 "$REPO_ROOT/scripts/bench-report.py" "$OUT" || fail "bench-report.py failed"
jq -e '.rows.fast | map(.config) | index("xrepl-sync") != null' "$OUT/results.json" >/dev/null ||
	fail "results.json has no xrepl-sync row"
jq -e '.targets | length == 3' "$OUT/results.json" >/dev/null || fail "results.json lacks the targets"
grep -q '^| xrepl-sync | [0-9]' "$OUT/results.md" || fail "results.md has no xrepl-sync figures"
if command -v gnuplot >/dev/null; then
	[[ "$(head -c 4 "$OUT/qd1-latency.png" | tail -c 3)" == PNG ]] || fail "no PNG plot"
	log "ok: plot written"
fi
