#!/usr/bin/env bash
# Self-test of the test fixtures, using only dm-linear: the comparison and
# assertion helpers must be able to fail, or every other test is worthless.
# kernels: one
# The fixtures are the harness's own; dm-linear runs on both kernels in
# every other test.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

ramdisks 2 16
make_leg a /dev/ram0
make_leg b /dev/ram1
A=/dev/mapper/$P-a B=/dev/mapper/$P-b
S=$(dev_sectors "$A")
assert_eq 32768 "$S" "size of a 16 MiB leg in sectors"

step "legs_equal sees equal devices as equal"
fill_random "$A"
dd if="$A" of="$B" bs=1M iflag=direct oflag=direct status=none
legs_equal "$A" "$B" || fail "legs_equal reports a difference between copies"

step "legs_equal sees a one-sector difference, even in the last sector"
write_at "$B" $(( S * 512 - 4096 )) 4096
if legs_equal "$A" "$B" 2>"$T_TMP/diff"; then
	fail "legs_equal missed a difference in the last 4 KiB"
fi
cat "$T_TMP/diff"
grep -q "chunk 255 " "$T_TMP/diff" || fail "difference reported in the wrong place"

step "writes below a dm-linear device are seen through it (O_DIRECT reads)"
write_at /dev/ram0 0 4096 /dev/zero
assert_eq "$(read_at /dev/ram0 0 4096 | md5sum)" "$(read_at "$A" 0 4096 | md5sum)" "data through linear"

step "expect_fail and the kernel log helpers work"
expect_fail "create with a bogus target" dmsetup create "$P-bad" --table "0 8 no-such-target"
kmsg_mark
echo "xrepl-selftest hello" >/dev/kmsg
assert_dmesg_contains "xrepl-selftest hello" "marker"
if ( fail "nested" ) 2>/dev/null; then
	fail "fail does not fail"
fi

step "reload swaps a table; event numbers are readable"
ev=$(event_nr "$A")
assert_match '^[0-9]+$' "$ev" "event number"
dm_reload "$P-b" "0 $S error"
expect_fail "read from the error target" read_at "$B" 0 4096
dm_reload "$P-b" "$(linear_table /dev/ram1)"
read_at "$B" 0 4096 >/dev/null || fail "read after restoring the leg failed"
assert_eq 0 "$(open_count "$A")" "open count of an unused leg"
