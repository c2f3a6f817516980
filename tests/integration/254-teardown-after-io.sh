#!/usr/bin/env bash
# Remove and reload right after I/O, in every mode, with a slow remote, so
# that completions of remote writes, resync copies and the remote
# submitter still run while the device goes away.  Under the debug kernel
# (KASAN, make check-debug) a completion that touches the pair after it
# said "idle" is a use after free; here every removal must leave nothing
# acknowledged behind (the legs compare equal after each async removal)
# and the module's reference count must return to zero.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

ramdisks 2 32
make_leg local /dev/ram0
dm_create "$P-remote" "0 $(dev_sectors /dev/ram1) delay /dev/ram1 0 0 /dev/ram1 0 20"
L=/dev/mapper/$P-local R=/dev/mapper/$P-remote
X=/dev/mapper/$P-x
refs0=$(cut -d' ' -f3 < <(grep '^dm_xrepl ' /proc/modules))

for mode in sync semi-sync async; do
	for round in 1 2 3; do
		step "$mode, round $round: write, then reload and remove at once"
		XREPL_MODE=$mode xrepl_create x "$L" "$R" nosync semi_timeout_ms 5
		fio --name=w --filename="$X" --direct=1 --ioengine=libaio \
			--rw=randwrite --bs=16k --iodepth=32 --size=4m \
			--output="$T_TMP/w.fio" || fail "fio failed"
		# A resync running too: its copies complete during the reload.
		must "resync full" dmsetup message "$P-x" 0 resync full
		dm_reload "$P-x" "$(XREPL_MODE=$mode xrepl_table "$L" "$R" nosync semi_timeout_ms 5)"
		fio --name=w2 --filename="$X" --direct=1 --ioengine=libaio \
			--rw=randwrite --bs=4k --iodepth=32 --size=2m \
			--output="$T_TMP/w2.fio" || fail "fio failed"
		dm_remove "$P-x"
		if [[ "$mode" == async ]]; then
			assert_legs_equal "$L" "$R"
		fi
	done
done
refs=$(cut -d' ' -f3 < <(grep '^dm_xrepl ' /proc/modules))
assert_eq "$refs0" "$refs" "dm_xrepl reference count"
