#!/usr/bin/env bash
# Every kind of bad table line is refused with the right message in the
# kernel log, and nothing is left behind (no device, no open leg).
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target zero dm-zero

ramdisks 3 16
make_leg local /dev/ram0
make_leg remote /dev/ram1
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
S=$(dev_sectors "$L")
# Half-size legs for the "larger than" checks.
make_leg small /dev/ram2 $(( S / 2 ))
SMALL=/dev/mapper/$P-small
# Huge zero-backed legs: 2^31 sectors at region_size 8 is 2^28 regions,
# more than the bitmap allows.
dm_create "$P-hugel" "0 $(( 1 << 31 )) zero"
dm_create "$P-huger" "0 $(( 1 << 31 )) zero"

before=$(dmsetup ls | sort)

# refused WHAT EXPECTED_KERNEL_TEXT TABLE
refused() {
	local what=$1 text=$2 table=$3
	step "$what"
	kmsg_mark
	if dm_try_create "$P-bad" "$table" >"$T_TMP/out" 2>&1; then
		fail "$what: table '$table' was accepted"
	fi
	assert_dmesg_contains "xrepl: $text" "$what"
	[[ "$before" == "$(dmsetup ls | sort)" ]] ||
		fail "$what: dm devices changed: before: $before; after: $(dmsetup ls | sort)"
	[[ ! -e "/dev/mapper/$P-bad" ]] || fail "$what: /dev/mapper/$P-bad left behind"
}

H="0 $S xrepl"
refused "too few arguments" "Invalid argument count" "$H $L $R -"
refused "only a local device" "Invalid argument count" "$H $L"
refused "no arguments at all" "Invalid argument count" "$H"
refused "missing local device" "Error opening local device" "$H /dev/no-such-dev $R - sync"
refused "missing remote device" "Error opening remote device" "$H $L /dev/no-such-dev - sync"
refused "same device twice" "Local and remote device must differ" "$H $L $L - sync"
refused "same device by path and number" "Local and remote device must differ" "$H $L $(devno "$L") - sync"
refused "local too small" "Device is larger than the local device" "$H $SMALL $R - sync"
refused "remote too small" "Device is larger than the remote device" "$H $L $SMALL - sync"
refused "missing metadata device" "Error opening metadata device" "$H $L $R /dev/no-such-dev sync"
refused "metadata device is the local leg" "Metadata device must differ from the legs" "$H $L $R $L sync"
refused "metadata device is the remote leg" "Metadata device must differ from the legs" "$H $L $R $(devno "$R") sync"
refused "resync_rate_kbps not a number" "Invalid resync_rate_kbps" "$H $L $R - sync 2 resync_rate_kbps 10M"
refused "bogus mode" "Invalid replication mode" "$H $L $R - bogus"
refused "empty-ish mode" "Invalid replication mode" "$H $L $R - syncx"
refused "fail policy with async" "on_remote_error fail needs sync mode" "$H $L $R - async 2 on_remote_error fail"
refused "fail policy with semi-sync" "on_remote_error fail needs sync mode" "$H $L $R - semi-sync 2 on_remote_error fail"
refused "semi_timeout_ms zero" "Invalid semi_timeout_ms" "$H $L $R - semi-sync 2 semi_timeout_ms 0"
refused "semi_timeout_ms too big" "Invalid semi_timeout_ms" "$H $L $R - semi-sync 2 semi_timeout_ms 60001"
refused "max_lag_kb below one write" "Invalid max_lag_kb" "$H $L $R - async 2 max_lag_kb 255"
refused "max_lag_kb with a unit" "Invalid max_lag_kb" "$H $L $R - async 2 max_lag_kb 64M"
refused "bad congestion policy" "Invalid congestion policy" "$H $L $R - async 2 congestion drop"
refused "duplicate congestion" "Duplicate optional argument" "$H $L $R - async 4 congestion block congestion degrade"
refused "optional count too big" "Invalid number of optional arguments" "$H $L $R - sync 5 nosync"
refused "optional count not a number" "Invalid number of optional arguments" "$H $L $R - sync x"
refused "optional count negative" "Invalid number of optional arguments" "$H $L $R - sync -1 nosync"
refused "optional count too small" "Invalid number of optional arguments" "$H $L $R - sync 1 nosync region_size 1024"
refused "unknown optional argument" "Unrecognised optional argument" "$H $L $R - sync 1 frobnicate"
refused "duplicate nosync" "Duplicate optional argument" "$H $L $R - sync 2 nosync nosync"
refused "duplicate region_size" "Duplicate optional argument" "$H $L $R - sync 4 region_size 1024 region_size 2048"
refused "duplicate policy" "Duplicate optional argument" "$H $L $R - sync 4 on_remote_error fail on_remote_error degrade"
refused "region_size not a power of two" "Invalid region_size" "$H $L $R - sync 2 region_size 1000"
refused "region_size below 8" "Invalid region_size" "$H $L $R - sync 2 region_size 4"
refused "region_size zero" "Invalid region_size" "$H $L $R - sync 2 region_size 0"
refused "region_size not a number" "Invalid region_size" "$H $L $R - sync 2 region_size abc"
refused "region_size too small for a huge device" "region_size too small for device" \
	"0 $(( 1 << 31 )) xrepl /dev/mapper/$P-hugel /dev/mapper/$P-huger - sync 2 region_size 8"
refused "bad policy" "Invalid on_remote_error policy" "$H $L $R - sync 2 on_remote_error panic"
refused "region_size without value" "Missing value for optional argument" "$H $L $R - sync 1 region_size"
refused "policy without value" "Missing value for optional argument" "$H $L $R - sync 1 on_remote_error"

step "no leg is left open by the refused tables"
for d in local remote small hugel huger; do
	assert_eq 0 "$(open_count "$P-$d")" "open count of $P-$d"
done

step "a good table still works afterwards"
xrepl_create good "$L" "$R" nosync
assert_status "/dev/mapper/$P-good" remote insync
