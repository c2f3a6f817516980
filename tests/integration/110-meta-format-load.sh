#!/usr/bin/env bash
# Metadata device: a fresh (zeroed) one is formatted and a new pair gets a
# full initial sync; the table line names it; removing and recreating the
# device loads it (the recorded region size is adopted, nosync is ignored);
# a clean suspend clears the marks; steady writes to a hot set of regions
# cost almost no metadata writes; metadata that says the remote is not
# consistent, with nothing marked, gets a resync with nothing to copy.
# kernels: one
# The metadata's format and its use at load are the target's own; its
# I/O runs on both kernels in 095, 120 and 255.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
check=$(xrepl_tool xrepl-check)
dump=$(xrepl_tool xrepl-dump)

meta_legs 64
RS=256                          # 128 KiB regions
RB=$(( RS * 512 ))
T=$(regions "$S" "$RS")         # 512 regions
fill_random "$L"
X=/dev/mapper/$P-x
export XREPL_META=$M

step "fresh metadata device: formatted, full initial sync"
assert_eq 3 "$(rc=0; "$check" --quiet "$M" || rc=$?; echo "$rc")" "xrepl-check of a zeroed device (fresh)"
kmsg_mark
xrepl_create x "$L" "$R" region_size "$RS"
assert_dmesg_contains "formatted the metadata device ($T regions, full sync needed)" "format"
wait_for_status "$X" remote insync 120
assert_status "$X" copied_regions "$T"
assert_status "$X" consistent yes
assert_status "$X" meta "$(devno "$M")"
assert_status "$X" meta_failed 0
assert_legs_equal "$L" "$R"
assert_match " $(devno "$M") sync 2 region_size $RS\$" "$(dmsetup table "$P-x")" "table line"

step "hot set: almost no metadata writes per data write"
mw0=$(status_field "$X" meta_writes) w0=$(status_field "$X" writes)
# 4 KiB random writes within 4 regions.
fio --name=hot --filename="$X" --direct=1 --ioengine=libaio --rw=randwrite \
	--bs=4k --iodepth=4 --offset=$(( 100 * RB )) --size=$(( 4 * RB )) \
	--norandommap --io_size=$(( 3000 * 4096 )) --randseed=7 --output="$T_TMP/hot.fio" ||
	fail "fio hot-set run failed"
mw=$(( $(status_field "$X" meta_writes) - mw0 ))
w=$(( $(status_field "$X" writes) - w0 ))
log "hot set: $mw metadata writes for $w data writes"
assert_cmp "$w" -ge 3000 "data writes"
assert_cmp $(( mw * 100 )) -lt "$w" "metadata writes x 100 (ratio below 0.01)"
assert_legs_equal "$L" "$R"

step "clean suspend clears the marks"
must "suspend" dmsetup suspend "$P-x"
must "resume" dmsetup resume "$P-x"
assert_status "$X" marked 0
dm_remove "$P-x"
assert_eq 0 "$(rc=0; "$check" --quiet "$M" || rc=$?; echo "$rc")" "xrepl-check after a clean remove"
json=$("$dump" --json "$M")
assert_match '"region_size": *256' "$json" "xrepl-dump region_size"
assert_match '"dirty_count": *0[,}]' "$json" "xrepl-dump dirty_count"

step "recreate: the recorded region size is adopted, nothing to resync"
c0=0
xrepl_create x "$L" "$R"
assert_status "$X" region_size "$RS"
assert_status "$X" dirty "0/$T"
assert_status "$X" consistent yes
assert_status "$X" copied_regions "$c0"

step "marks survive a remove without a clean: they are resynced on load"
write_at "$X" $(( 3 * RB )) 4096
write_at "$X" $(( 9 * RB )) 8192
assert_status "$X" marked 2
# Reload the remote leg with the same data but remember: a remove cleans,
# so make the marks stick by taking the remote down (no clean while degraded).
must "remote down" dmsetup message "$P-x" 0 remote down
write_at "$X" $(( 20 * RB )) 4096
dm_remove "$P-x"
json=$("$dump" --json "$M")
assert_match '"dirty_count": *3[,}]' "$json" "marks on disk after remove while degraded"
assert_match '"degraded_name": *"admin"' "$json" "degraded state on disk"
# nosync is ignored for an existing metadata device; admin down persists.
xrepl_create x "$L" "$R" nosync
assert_status "$X" remote degraded
assert_status "$X" degraded_by admin
assert_status "$X" dirty "3/$T"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 3
assert_legs_equal "$L" "$R"

step "region_size in the table must match the recorded one"
dm_remove "$P-x"
out=$(dm_try_create "$P-x" "$(xrepl_table "$L" "$R" region_size 512)") &&
	fail "a table with another region_size was accepted"
assert_match "Invalid argument" "$out" "dmsetup error"
assert_eq 0 "$(rc=0; "$check" --quiet "$M" || rc=$?; echo "$rc")" "xrepl-check: the refused load changed nothing"

step "loaded not consistent with nothing marked: a pass with nothing to copy"
# What a crash leaves while the flush that ends a resync is in flight.
python3 "$REPO_ROOT/tests/userspace/mkmeta.py" --dev-sectors "$S" --region-size "$RS" \
	--flags 0 --set none "$T_TMP/meta.img" || fail "mkmeta.py failed"
dd if="$T_TMP/meta.img" of="$M" bs=4096 oflag=direct conv=notrunc status=none ||
	fail "cannot write the metadata image"
kmsg_mark
xrepl_create x "$L" "$R"
assert_dmesg_contains "metadata loaded: 0 of $T regions marked, remote not consistent" "load"
wait_for_status "$X" consistent yes 60
assert_status "$X" dirty "0/$T"
assert_status "$X" copied_regions 0
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
assert_match '"flag_names": *\["consistent"\]' "$("$dump" --json "$M")" "consistent on disk"
