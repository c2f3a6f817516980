#!/usr/bin/env bash
# After a congestion degradation (congestion degrade) replication returns
# by itself once the remote caught up, and the remote then misses the
# regions the buffer dropped until the resync copied them: its site's
# metadata must say "not consistent" before the remote receives the first
# write of that return.  With the remote site's metadata device frozen,
# the return waits (the remote gets no write, its superblock still says
# stopped and consistent); once the record is written, replication
# returns, the resync runs and the legs end up equal.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
require_target delay

site_legs 32
X=/dev/mapper/$P-x
# wait_rm_flags N: poll (30 s at most) until the remote site's superblock,
# read beside its dm-linear device, has the flags N (peer_work writes it).
wait_rm_flags() {
	local i
	for (( i = 0; i < 60; i++ )); do
		[[ "$(sbe /dev/ram3 get flags)" == "$1" ]] && return 0
		sleep 0.5
	done
}
dm_create "$P-x" "0 $S xrepl $L $R $M async 6 max_lag_kb 256 congestion degrade remote_meta $RM"
wait_for_status "$X" remote insync 120
wait_for_cmp "$X" peer_meta_writes -ge 2 30
# Read beside the dm-linear device, which gets frozen below.
assert_eq 5 "$(sbe /dev/ram3 get flags)" "remote site live"

step "a slow remote: the lag bound degrades the pair (congestion)"
# So slow that the congestion lasts until the remote is made fast again
# (dm-delay sends what it holds when its table is replaced).
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 60000"
at_exit_first "dmsetup load $P-remote --table '$(linear_table /dev/ram1)' && dmsetup resume $P-remote"
# One write in flight at the slow remote first, so that the congestion
# lasts until it completed.
write_at "$X" 0 65536
sleep 0.5
dd if=/dev/urandom of="$X" bs=64k count=32 seek=16 oflag=direct status=none || fail "write failed"
assert_status "$X" degraded_by congestion
# The stop is recorded (consistent, with a time) by the peer work.
wait_rm_flags 1
assert_eq 1 "$(sbe /dev/ram3 get flags)" "remote site stopped, consistent"

step "the remote site's metadata frozen, the remote fast again: no return before the record"
must "freeze the remote site's metadata" dmsetup suspend "$P-rmeta"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" lag_writes 0 30
sleep 2
rw=$(status_field "$X" remote_writes)
write_at "$X" $(( 8 * 1024 * 1024 )) 65536
sleep 1
st=$(xrepl_status "$X")
log "status: $st"
assert_eq 1 "$(sbe /dev/ram3 get flags)" "remote site still says stopped, consistent"
assert_status "$X" degraded_by congestion
assert_eq "$rw" "$(status_field "$X" remote_writes)" "writes sent to the remote meanwhile"

step "the record written: replication returns, the resync makes the legs equal"
must "thaw the remote site's metadata" dmsetup resume "$P-rmeta"
wait_for_status "$X" degraded_by none 30
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
wait_rm_flags 5
assert_eq 5 "$(sbe /dev/ram3 get flags)" "remote site live again"

step "a congestion during which the remote site's metadata fails: no return, degraded as failed"
dm_reload "$P-remote" "0 $S delay /dev/ram1 0 0 /dev/ram1 0 60000"
write_at "$X" 0 65536
sleep 0.5
dd if=/dev/urandom of="$X" bs=64k count=32 seek=16 oflag=direct status=none || fail "write failed"
assert_status "$X" degraded_by congestion
dm_reload "$P-rmeta" "0 8192 error"
dm_reload "$P-remote" "$(linear_table /dev/ram1)"
wait_for_status "$X" lag_writes 0 30
wait_for_status "$X" degraded_by error 30
assert_status "$X" peer unknown
assert_status "$X" remote degraded
dm_reload "$P-rmeta" "$(linear_table /dev/ram3 8192)"
must "remote up" dmsetup message "$P-x" 0 remote up
assert_status "$X" peer ok
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"

step "remote down does not wait for a remote up stuck on the remote site's metadata"
must "remote down" dmsetup message "$P-x" 0 remote down
must "freeze the remote site's metadata" dmsetup suspend "$P-rmeta"
dmsetup message "$P-x" 0 remote up >"$T_TMP/up.out" 2>&1 &
up_pid=$!
sleep 1
kill -0 "$up_pid" 2>/dev/null || fail "remote up did not wait for the frozen metadata device"
timeout 10 dmsetup message "$P-x" 0 remote down ||
	fail "remote down waited for the remote up (or failed)"
log "ok: remote down returned while the remote up waits"
must "thaw the remote site's metadata" dmsetup resume "$P-rmeta"
rc=0
wait "$up_pid" || rc=$?
(( rc != 0 )) || fail "the overtaken remote up succeeded"
log "remote up: $(cat "$T_TMP/up.out")"
assert_status "$X" degraded_by admin
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
assert_eq 1 "$(sbe /dev/ram3 get flags)" "remote site stopped after removal"

step "remote down while a resume attaches the remote: it stays down"
dm_create "$P-x" "0 $S xrepl $L - $M async"
assert_status "$X" degraded_by absent
write_at "$X" 0 65536
must "load a table with the remote" dmsetup load "$P-x" \
	--table "0 $S xrepl $L $R $M async 2 remote_meta $RM"
# Frozen after the load (its constructor reads it): the attach waits.
must "freeze the remote site's metadata" dmsetup suspend "$P-rmeta"
dmsetup resume "$P-x" >"$T_TMP/resume.out" 2>&1 &
res_pid=$!
sleep 1
kill -0 "$res_pid" 2>/dev/null || fail "the resume did not wait for the frozen metadata device"
timeout 10 dmsetup message "$P-x" 0 remote down ||
	fail "remote down waited for the attach (or failed)"
must "thaw the remote site's metadata" dmsetup resume "$P-rmeta"
wait "$res_pid" || fail "resume failed: $(cat "$T_TMP/resume.out")"
assert_status "$X" degraded_by admin
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"
