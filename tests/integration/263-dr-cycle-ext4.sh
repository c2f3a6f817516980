#!/usr/bin/env bash
# The whole disaster-recovery cycle with xreplctl, ext4 and checksummed
# files: site A replicates to site B in async mode with remote_meta; the
# link fails and A writes on; A dies; B is promoted, its file system
# checks and mounts, and every file A wrote before the link failed is
# intact (none written after is there); B writes.  A started again as a
# primary towards B is refused and B's data does not change.  A is
# demoted; B attaches A and copies exactly the union of both bitmaps; the
# legs are byte-equal; a planned switchover back to A copies nothing and
# A holds B's files and its own from before the failure.
# It is the whole cycle as an administrator runs it (xreplctl, the remote
# site's records, promote, demote, attach); the I/O it goes through, async
# shipping, resync and metadata, the other tests run on both kernels.
# budget: 400
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

CTL=$(xrepl_tool xreplctl)
site_legs 64
# Site A: data L, metadata M.  Site B: data R, metadata RM.  A reaches
# R and RM through the link (their dm-linear tables, which we break).
A=/dev/mapper/$P-a B=/dev/mapper/$P-b
MNT=$T_TMP/mnt
mkdir -p "$MNT"
at_exit_first "umount -l $MNT 2>/dev/null || true"
ctl() { must "xreplctl $*" "$CTL" "$@"; }

# files BATCH N: write N checksummed files of random size into $MNT.
files() {
	local batch=$1 n=$2 i
	mkdir -p "$MNT/$batch"
	for (( i = 0; i < n; i++ )); do
		head -c $(( (RANDOM % 64 + 1) * 4096 )) /dev/urandom >"$MNT/$batch/f$i"
	done
	(cd "$MNT" && sha256sum "$batch"/*) >"$T_TMP/$batch.sums"
	sync -f "$MNT"
}
verify() { (cd "$MNT" && sha256sum --quiet -c "$T_TMP/$1.sums") || fail "batch $1 damaged"; log "ok: batch $1 intact"; }
absent() { [[ ! -e "$MNT/$1" ]] || fail "batch $1 is there but never reached this site"; log "ok: batch $1 absent"; }
link() {
	local t1 t2
	if [[ $1 == down ]]; then
		t1="0 $S error" t2="0 8192 error"
	else
		t1=$(linear_table /dev/ram1) t2=$(linear_table /dev/ram3 8192)
	fi
	must "link $1" dmsetup load "$P-remote" --table "$t1"
	must "link $1" dmsetup load "$P-rmeta" --table "$t2"
	must "link $1" dmsetup suspend --noflush "$P-remote"
	must "link $1" dmsetup suspend --noflush "$P-rmeta"
	must "link $1" dmsetup resume "$P-remote"
	must "link $1" dmsetup resume "$P-rmeta"
}
# union A B: the number of regions in the union of two region lists.
union() { sort -u "$1" "$2" | grep -c . || true; }

step "A replicates to B (async, remote_meta); ext4 and a first batch of files"
ctl create "$P-a" --local "$L" --remote "$R" --meta "$M" --remote-meta "$RM" --mode async
_DM_DEVS+=("$P-a")
assert_status "$A" peer ok
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$A" ||
	fail "mkfs failed"
mount -o noatime "$A" "$MNT" || fail "mount at A failed"
files b1 30
wait_for_status "$A" lag_bytes 0 60
wait_for_status "$A" remote insync 120

step "the link fails; A writes a second batch alone"
link down
files b2 10
wait_for_status "$A" degraded_by error 30

step "A dies"
must "A dies" dmsetup wipe_table "$P-a"
umount -l "$MNT"
dm_remove "$P-a"
sbe "$M" list >"$T_TMP/a.bits"
log "A's bitmap marks $(grep -c . "$T_TMP/a.bits") regions"
link up

step "B is promoted: fsck, mount, the first batch intact, the second absent"
ctl promote "$P-b" --local "$R" --meta "$RM" --mode async
_DM_DEVS+=("$P-b")
assert_status "$B" degraded_by absent
rc=0
e2fsck -fy "$B" >"$T_TMP/fsck.out" 2>&1 || rc=$?
(( rc < 4 )) || fail "e2fsck at B found errors it could not fix (exit $rc)"
mount -o noatime "$B" "$MNT" || fail "mount at B failed"
verify b1
absent b2
files b3 10

step "A started again as a primary towards B: refused, B unchanged"
umount "$MNT"
ctl remove "$P-b"
b_md5=$(dev_md5 "$R")
rc=0
"$CTL" create "$P-a" --local "$L" --remote "$R" --meta "$M" --remote-meta "$RM" \
	--mode async >"$T_TMP/refused.out" 2>&1 || rc=$?
if (( rc == 0 )); then
	_DM_DEVS+=("$P-a")
	fail "A's table towards the promoted B was accepted"
fi
log "refused (exit $rc): $(head -n1 "$T_TMP/refused.out")"
assert_eq "$b_md5" "$(dev_md5 "$R")" "B's data unchanged"
ctl promote "$P-b" --local "$R" --meta "$RM" --mode async

step "A is demoted; B attaches A: exactly the union of both bitmaps is copied"
ctl demote --meta "$M"
sbe "$RM" list >"$T_TMP/b.bits"
want=$(union "$T_TMP/a.bits" "$T_TMP/b.bits")
log "A marks $(grep -c . "$T_TMP/a.bits"), B marks $(grep -c . "$T_TMP/b.bits"), union $want"
assert_cmp "$want" -gt 0 "regions to copy"
copied=$(status_field "$B" copied_regions)
ctl attach "$P-b" --remote "$L" --remote-meta "$M"
assert_status "$B" peer ok
wait_for_status "$B" remote insync 120
assert_status "$B" copied_regions $(( copied + want ))
assert_legs_equal "$R" "$L"

step "planned switchover back to A: nothing to copy, A holds every file"
ctl mode "$P-b" sync
ctl remove "$P-b"
ctl demote --meta "$RM"
ctl promote "$P-a" --local "$L" --meta "$M" --mode async
_DM_DEVS+=("$P-a")
ctl attach "$P-a" --remote "$R" --remote-meta "$RM"
wait_for_status "$A" remote insync 60
assert_status "$A" copied_regions 0
mount -o noatime "$A" "$MNT" || fail "mount at A failed"
verify b1
absent b2
verify b3
files b4 5
umount "$MNT"
wait_for_status "$A" lag_bytes 0 60
assert_legs_equal "$L" "$R"
ctl remove "$P-a"
