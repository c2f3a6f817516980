#!/usr/bin/env bash
# on_remote_error fail holds for a write that waits for its write-intent
# mark: if the remote goes down while the mark is written, the write fails
# and reaches neither leg.
# kernels: one
# The target's own order of a mark and a write; the metadata I/O runs on
# both kernels in 110-125 and 250-259.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

meta_legs 32
RB=$(( 1024 * 512 ))
export XREPL_META=$M
xrepl_create x "$L" "$R" on_remote_error fail nosync
X=/dev/mapper/$P-x
MS=$(dev_sectors "$M")

step "metadata writes take 3 s"
dm_reload "$P-meta" "0 $MS delay /dev/ram2 0 0 /dev/ram2 0 3000"
at_exit_first "dmsetup load $P-meta --table '0 $MS linear /dev/ram2 0' && dmsetup resume $P-meta"
before=$(read_at "$L" $(( 20 * RB )) 4096 | md5sum)

step "a write to an unmarked region waits for its mark; the remote goes down meanwhile"
bg sh -c "dd if=/dev/urandom of=$X bs=4096 seek=$(( 20 * RB / 4096 )) count=1 oflag=direct status=none; echo \$? >$T_TMP/rc"
sleep 1
[[ -e "$T_TMP/rc" ]] && fail "the write did not wait for its mark"
must "remote down" dmsetup message "$P-x" 0 remote down
wait "$BG_PID" || true
rc=$(cat "$T_TMP/rc")
log "the write's dd exited with $rc"
[[ "$rc" != 0 ]] || fail "the write succeeded although the remote went down (on_remote_error fail)"
after=$(read_at "$L" $(( 20 * RB )) 4096 | md5sum)
[[ "$before" == "$after" ]] || fail "the failed write reached the local leg"
assert_legs_equal "$L" "$R"
