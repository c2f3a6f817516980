#!/usr/bin/env bash
# Hostile input: thousands of table lines and messages the target must
# refuse, generated from a seed by tests/lib/fuzz.py (XREPL_FUZZ_SEED,
# XREPL_FUZZ_COUNT): wrong counts, numbers out of range, negative, with
# junk or in another base, overflowing, unknown words, missing or shared
# devices, a leg smaller than the device, a metadata device too small,
# duplicated and conflicting optional arguments.
#   - every line is refused, each with its own ti->error in the kernel log
#     (never dm's "Unknown error"); no device appears, the metadata device
#     the lines name is not written, no reference is leaked
#   - every message is refused; the refusals are logged naming the
#     device (as the kernel's device-mapper messages do, by major:minor),
#     with no unprintable character, at most 20 per 5 s (not one per
#     message); the device's table and state are unchanged
# and the kernel reports nothing.
# budget: 300
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

SEED=${XREPL_FUZZ_SEED:-$(( RANDOM * 32768 + RANDOM ))}
COUNT=${XREPL_FUZZ_COUNT:-2000}
FUZZ="$TESTS_DIR/lib/fuzz.py"
meta_legs 32
make_leg small /dev/ram0 $(( S / 2 ))
dm_create "$P-tiny" "$(linear_table /dev/ram2 1 8192)"
SMALL=/dev/mapper/$P-small TINY=/dev/mapper/$P-tiny
refcnt() { cat /sys/module/dm_xrepl/refcnt; }
log "seed $SEED, $COUNT cases of each kind (XREPL_FUZZ_SEED=$SEED to repeat)"

step "a valid pair formats the metadata device; then it is removed"
XREPL_META=$M xrepl_create x "$L" "$R" nosync
dm_remove "$P-x"
meta_sum=$(sha256sum <"$M")
devs=$(dmsetup ls | sort)
base=$(refcnt)

# refuse_all KIND FILE DEV REGEX [--ratelimited]: fuzz.py applies each
# case of FILE to DEV, one ioctl each; every one must be refused and must
# add a kernel log record matching REGEX.
# A fifth argument, --ratelimited, asks for some records, not one per case.
refuse_all() {
	python3 "$FUZZ" apply "$1" --file "$2" --name "$3" --want "$4" ${5:+"$5"} \
		>"$T_TMP/$1.out" 2>&1 ||
		{ head -n 30 "$T_TMP/$1.out" >&2; fail "$1 cases accepted or refused silently"; }
	log "ok: $(tail -n 1 "$T_TMP/$1.out"): with their errors in the kernel log"
}

step "$COUNT malformed table lines"
python3 "$FUZZ" table --seed "$SEED" --count "$COUNT" --len "$S" --local "$L" \
	--remote "$R" --meta "$M" --small "$SMALL" --tiny "$TINY" >"$T_TMP/tables" ||
	fail "fuzz.py table failed"
log "categories: $(cut -f1 "$T_TMP/tables" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')"
kmsg_mark
refuse_all table "$T_TMP/tables" "$P-f" \
	'device-mapper: table: [0-9]+:[0-9]+: xrepl: .+ \(-E[A-Z0-9]+\)$'
dmesg_since_mark | grep -q 'xrepl: Unknown error' && fail "a refusal without a ti->error"
assert_eq "$devs" "$(dmsetup ls | sort)" "dm devices after the table lines"
assert_eq "$meta_sum" "$(sha256sum <"$M")" "metadata device contents"
assert_eq "$base" "$(refcnt)" "dm_xrepl references"

step "$COUNT malformed messages to a sync device with on_remote_error fail"
XREPL_META=$M xrepl_create x "$L" "$R" nosync on_remote_error fail
X=/dev/mapper/$P-x
table=$(dmsetup table "$P-x")
state() { xrepl_status "$X" | tr ' ' '\n' | grep -E '^(mode|remote|dirty|degraded_by|on_remote_error|resync_rate_kbps|region_size|meta)='; }
before=$(state)
python3 "$FUZZ" message --seed "$SEED" --count "$COUNT" >"$T_TMP/messages" ||
	fail "fuzz.py message failed"
log "categories: $(cut -f1 "$T_TMP/messages" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')"
# The target names the device as the kernel's messages do: major:minor.
# It logs refused messages at a bounded rate (20 per 5 s per device), so
# that whoever may send messages cannot flood the kernel log.
kmsg_mark
refuse_all message "$T_TMP/messages" "$P-x" "device-mapper: xrepl: $(devno "$X"): " --ratelimited
nlog=$(dmesg_since_mark | grep -c "device-mapper: xrepl: $(devno "$X"): " || true)
log "$nlog records for $COUNT refused messages"
assert_cmp "$nlog" -lt $(( COUNT / 4 )) "log records of refused messages"
# No user string reaches the log unfiltered: nothing unprintable, nothing long.
if dmesg_since_mark | grep "device-mapper: xrepl: " | LC_ALL=C grep -q '[^[:print:]]'; then
	fail "a refused message was logged with unprintable characters"
fi
sleep 6
kmsg_mark
expect_fail "a refused message after a pause" dmsetup message "$P-x" 0 frobnicate
dmesg_wait "device-mapper: xrepl: $(devno "$X"): unsupported message 'frobnicate'" >/dev/null ||
	fail "a refused message after a pause was not logged"
assert_eq "$table" "$(dmsetup table "$P-x")" "table after the messages"
assert_eq "$before" "$(state)" "state after the messages"
dm_remove "$P-x"
assert_eq "$base" "$(refcnt)" "dm_xrepl references"
