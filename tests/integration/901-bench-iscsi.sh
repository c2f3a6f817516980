#!/usr/bin/env bash
# The benchmark's iscsi remote (scripts/bench/transports.sh): the guest
# part of `make bench` with the remote leg an iSCSI LUN (LIO over a RAM
# disk, reached with open-iscsi over loopback), for the raw remote and
# xrepl-sync at QD1.  Both records must be measured, the report must have
# an iscsi table, and the benchmark must leave no LIO object, iSCSI
# session, iscsid of its own or tmpfs on /etc/iscsi behind.
# budget: 300
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v fio >/dev/null || skip "fio is not installed"
command -v jq >/dev/null || skip "jq is not installed"
if ! command -v iscsiadm >/dev/null || ! command -v iscsid >/dev/null; then
	fail "open-iscsi is not installed (scripts/setup.sh installs it)"
fi
# The benchmark loads them itself: only whether the kernel has them.
for m in target_core_mod target_core_iblock iscsi_target_mod iscsi_tcp sd_mod; do
	modinfo -n "$m" >/dev/null 2>&1 || skip "kernel $(uname -r) has no $m"
done
OUT=$T_TMP/bench
LIO=/sys/kernel/config/target

step "run the guest part of the benchmark over iSCSI"
rc=0
bash "$REPO_ROOT/scripts/bench-guest.sh" --out "$OUT" --prefix "$P" --remotes iscsi \
	--configs raw-remote,xrepl-sync --jobs qd1 --runtime 1 --ramp 1 --size 32 \
	--resync-remote iscsi --variant-remote iscsi --ko none || rc=$?
assert_eq 0 "$rc" "bench-guest.sh exit status"

step "both rows are measured over the iscsi remote"
S=$OUT/bench-guest.json
[[ -s "$S" ]] || fail "no summary $S"
for c in raw-remote xrepl-sync; do
	jq -e --arg c "$c" '[.records[] | select(.remote == "iscsi" and .config == $c and .job == "qd1"
		and .status == "ok" and .iops > 0 and .lat_us.p50 > 0)] | length == 1' "$S" >/dev/null ||
		fail "no measured iscsi/$c/qd1 record: $(jq -c --arg c "$c" '.records[] | select(.config == $c)' "$S")"
done
jq -e '.params.transports.iscsi | test("LIO")' "$S" >/dev/null || fail "the summary does not describe the iscsi transport"
log "ok: $(jq -c '[.records[] | {remote, config, status, iops}]' "$S")"

step "the report has an iscsi table"
python3 "$REPO_ROOT/scripts/bench-report.py" "$OUT" || fail "bench-report.py failed"
grep -q '^#### iscsi remote' "$OUT/results.md" || fail "results.md has no iscsi table"
grep -q '^| xrepl-sync | [0-9]' "$OUT/results.md" || fail "results.md has no xrepl-sync figures"

step "nothing left behind"
assert_eq "" "$(dmsetup ls | awk -v p="$P-" 'index($1, p) == 1 { print $1 }')" "dm devices left by the benchmark"
assert_eq "" "$(compgen -G "/sys/kernel/config/nullb/$P-*" || true)" "null_blk devices left by the benchmark"
assert_eq "" "$(compgen -G "/sys/class/iscsi_session/session*" || true)" "iSCSI sessions left by the benchmark"
assert_eq "" "$(compgen -G "$LIO/iscsi/iqn.*" || true)" "LIO iSCSI targets left by the benchmark"
assert_eq "" "$(compgen -G "$LIO/core/iblock_*" || true)" "LIO backstores left by the benchmark"
if mountpoint -q /etc/iscsi; then
	fail "the benchmark left a tmpfs on /etc/iscsi"
fi
if pgrep -x iscsid >/dev/null; then
	fail "the benchmark left iscsid running"
fi
