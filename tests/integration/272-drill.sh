#!/usr/bin/env bash
# Disaster-recovery drills at the remote site (xreplctl drill), with the
# remote's data and metadata on LVM logical volumes there, while
# asynchronous replication of a mounted ext4 file system goes on:
#   1. status --meta at the remote site: a secondary's copy, consistent, live
#   2. a drill on a classic snapshot: the file system on it is clean and
#      holds every file written before the drill, checksums equal; the
#      snapshot is gone afterwards; the replicated device saw no error and
#      no resync, and its legs end equal
#   3. a failing command and an interrupted drill (SIGTERM): reported, the
#      snapshot removed all the same
#   4. refused, with nothing created, while a resync copies to the remote
#   5. a thin snapshot of a thin volume
#   6. an encrypted remote: dm-crypt (LUKS2) over the remote LV at the
#      source, so the remote site and the wire see ciphertext only; the
#      drill opens the snapshot through LUKS with the key
# budget: 600
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v lvm >/dev/null || fail "lvm2 is not installed (scripts/setup.sh installs it)"
command -v cryptsetup >/dev/null || fail "cryptsetup is not installed (scripts/setup.sh installs it)"
command -v thin_check >/dev/null || fail "thin-provisioning-tools is not installed (scripts/setup.sh installs it)"
require_modules dm-snapshot dm-thin-pool dm-crypt

CTL=$(xrepl_tool xreplctl)
ramdisks 3 128
# The remote site's volume group is on /dev/ram1 alone.
lvm_scratch '^/dev/ram1$'
DST=${P}dst
at_exit "vgremove -ff $DST"

# The remote site: a volume group with the copy's data and metadata.
lvm_must pvcreate -q /dev/ram1
lvm_must vgcreate -q "$DST" /dev/ram1
lvm_must lvcreate -q -y -L 40M -n data "$DST"
lvm_must lvcreate -q -y -L 4M -n meta "$DST"
RD=/dev/$DST/data RM=/dev/$DST/meta
for d in "$RD" "$RM"; do udev_settle_node "$d"; done
dd if=/dev/zero of="$RM" bs=1M count=4 oflag=direct status=none
# The source site: its data the size of the remote LV, and its metadata.
S=$(dev_sectors "$RD")
make_leg local /dev/ram0 "$S"
make_leg meta /dev/ram2 8192
L=/dev/mapper/$P-local M=/dev/mapper/$P-meta
dd if=/dev/zero of="$M" bs=1M count=4 oflag=direct status=none

must "xreplctl create" "$CTL" create "$P-x" --local "$L" --remote "$RD" --meta "$M" \
	--remote-meta "$RM" --mode async
_DM_DEVS+=("$P-x")
X=/dev/mapper/$P-x
udev_settle_node "$X"
wait_for_status "$X" remote insync 60

step "status --meta at the remote site: a secondary's copy, consistent and live"
out=$("$CTL" status --meta "$RM") || fail "status --meta: $out"
printf '%s\n' "$out" | sed 's/^/    | /'
grep -q "^  role        secondary$" <<<"$out" || fail "not a secondary's"
grep -q "^  consistent  yes$" <<<"$out" || fail "not consistent"
grep -q "^  state       live$" <<<"$out" || fail "not live"
"$CTL" status --meta "$RM" --json | jq -e '.role == "secondary" and .consistent' >/dev/null ||
	fail "status --meta --json"

step "a file system on the device, files written and on the remote"
mkfs.ext4 -q -F -E nodiscard "$X" || fail "mkfs.ext4 failed"
mnt=$T_TMP/mnt
mkdir -p "$mnt"
mount "$X" "$mnt" || fail "mount failed"
at_exit_first "! mountpoint -q $mnt || umount $mnt"
mkdir "$mnt/before"
for i in $(seq 1 20); do
	head -c $(( (i % 7 + 1) * 40000 )) /dev/urandom >"$mnt/before/f$i"
done
sync
wait_for_status "$X" lag_bytes 0 60
(cd "$mnt" && md5sum before/*) >"$T_TMP/sums"
# The drill's check, run against the snapshot: mount it (the journal is
# replayed into the snapshot), compare the checksums, then fsck it.
CHECK=$T_TMP/check.sh
cat >"$CHECK" <<EOF
#!/bin/sh
set -e
m=\$(mktemp -d)
mount "\$XREPL_DRILL_DEV" "\$m"
(cd "\$m" && md5sum -c --quiet "$T_TMP/sums")
umount "\$m"
e2fsck -fn "\$XREPL_DRILL_DEV"
EOF
chmod +x "$CHECK"

# writer: files written (and synced) until $T_TMP/stop exists.
writer() {
	local i=0
	mkdir -p "$mnt/during"
	while [[ ! -e $T_TMP/stop ]]; do
		head -c 100000 /dev/urandom >"$mnt/during/g$(( i % 50 ))"
		i=$(( i + 1 ))
		sync
		sleep 0.5
	done
}
no_snapshot() {
	local left
	left=$(lvm lvs --noheadings -o lv_name "$DST" | tr -d ' ' | grep -v -x -e data -e meta -e cdata \
		-e cmeta -e pool -e tdata || true)
	assert_eq "" "$left" "logical volumes left by the drill"
}

step "a drill on a classic snapshot while replication goes on"
errors=$(status_field "$X" remote_errors)
copied=$(status_field "$X" copied_regions)
bg writer
WRITER=$BG_PID
sleep 1
rc=0
"$CTL" drill --lv "$DST/data" --meta "$RM" --cow-size 24M -- "$CHECK" >"$T_TMP/drill.out" 2>&1 || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 0 "$rc" "drill exit status"
grep -q "^drill: the copy is consistent and live" "$T_TMP/drill.out" || fail "the drill did not say how old the copy is"
grep -q "^drill: passed: the command succeeded in [0-9.]* s$" "$T_TMP/drill.out" || fail "no result line"
no_snapshot
touch "$T_TMP/stop"
wait "$WRITER" || fail "the writer failed"
rm -f "$T_TMP/stop"
assert_status "$X" remote insync
assert_status "$X" remote_errors "$errors"
assert_status "$X" copied_regions "$copied"
assert_status "$X" resync_active 0
[[ -n "$(ls "$mnt/during")" ]] || fail "nothing was written during the drill"
sync
wait_for_status "$X" lag_bytes 0 60

step "a failing command and an interrupted drill: the snapshot goes all the same"
rc=0
"$CTL" drill --lv "$DST/data" --meta "$RM" --cow-size 8M -- sh -c 'exit 3' >"$T_TMP/drill.out" 2>&1 || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 7 "$rc" "drill exit status when the command fails"
grep -q "^drill: FAILED: the command exited 3 after" "$T_TMP/drill.out" || fail "the failure is not reported"
no_snapshot
"$CTL" drill --lv "$DST/data" --meta "$RM" --cow-size 8M -- sleep 60 >"$T_TMP/drill.out" 2>&1 &
DRILL=$!
for (( i = 0; i < 100; i++ )); do
	grep -q "^drill: running" "$T_TMP/drill.out" && break
	sleep 0.2
done
grep -q "^drill: running" "$T_TMP/drill.out" || fail "the drill did not start its command"
kill -TERM "$DRILL"
rc=0
wait "$DRILL" || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 143 "$rc" "drill exit status after SIGTERM"
grep -q "removed" "$T_TMP/drill.out" || fail "the interrupted drill did not remove its snapshot"
no_snapshot
pgrep -f "^sleep 60$" >/dev/null && fail "the drill's command outlived it"
rc=0
"$CTL" drill --lv "$DST/data" --meta "$RM" --timeout 2 --cow-size 8M -- sleep 60 >"$T_TMP/drill.out" 2>&1 || rc=$?
assert_eq 7 "$rc" "drill exit status after its timeout"
grep -q "ran out of its 2 s" "$T_TMP/drill.out" || fail "the timeout is not reported"
no_snapshot

step "refused, with nothing created, while a resync copies to the remote"
must "slow resync" dmsetup message "$P-x" 0 set resync_rate_kbps 1024
must "resync full" dmsetup message "$P-x" 0 resync full
for (( i = 0; i < 100; i++ )); do
	"$CTL" status --meta "$RM" | grep -q "^  consistent  no" && break
	sleep 0.2
done
rc=0
"$CTL" drill --lv "$DST/data" --meta "$RM" --cow-size 8M -- true >"$T_TMP/drill.out" 2>&1 || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 1 "$rc" "drill exit status while the copy is not consistent"
grep -q "not consistent" "$T_TMP/drill.out" || fail "the refusal does not say why"
no_snapshot
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" remote insync 120
umount "$mnt"
assert_legs_equal "$L" "$RD" "$S"

step "a thin snapshot of a thin volume"
lvm_must lvcreate -q -y -L 8M -T "$DST/pool"
lvm_must lvcreate -q -y -V 8M -T "$DST/pool" -n tdata
TD=/dev/$DST/tdata
udev_settle_node "$TD"
fill_random "$TD"
md5=$(md5sum <"$TD")
rc=0
"$CTL" drill --lv "$DST/tdata" --meta "$RM" -- sh -c "test \"\$(md5sum <\"\$XREPL_DRILL_DEV\")\" = '$md5'" \
	>"$T_TMP/drill.out" 2>&1 || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 0 "$rc" "thin drill exit status"
grep -q "taking a thin snapshot" "$T_TMP/drill.out" || fail "not a thin snapshot"
no_snapshot

step "an encrypted remote: ciphertext at the remote site, the drill opens it through LUKS"
lvm_must lvcreate -q -y -L 20M -n cdata "$DST"
lvm_must lvcreate -q -y -L 4M -n cmeta "$DST"
CD=/dev/$DST/cdata CM=/dev/$DST/cmeta
for d in "$CD" "$CM"; do udev_settle_node "$d"; done
dd if=/dev/zero of="$CM" bs=1M count=4 oflag=direct status=none
KEY=$T_TMP/key
head -c 64 /dev/urandom >"$KEY"
must "luksFormat" cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--luks2-metadata-size 16k --luks2-keyslots-size 256k --key-file "$KEY" "$CD"
must "open the remote through LUKS" cryptsetup open --key-file "$KEY" "$CD" "$P-rcrypt"
at_exit "cryptsetup close $P-rcrypt"
RC=/dev/mapper/$P-rcrypt
udev_settle_node "$RC"
CS=$(dev_sectors "$RC")
dm_create "$P-local2" "$(linear_table /dev/ram0 "$CS" "$S")"
dm_create "$P-meta2" "$(linear_table /dev/ram2 8192 8192)"
L2=/dev/mapper/$P-local2
dd if=/dev/zero of="/dev/mapper/$P-meta2" bs=1M count=4 oflag=direct status=none
must "xreplctl create (encrypted remote)" "$CTL" create "$P-y" --local "$L2" --remote "$RC" \
	--meta "/dev/mapper/$P-meta2" --remote-meta "$CM"
_DM_DEVS+=("$P-y")
Y=/dev/mapper/$P-y
udev_settle_node "$Y"
wait_for_status "$Y" remote insync 60
mkfs.ext4 -q -F -E nodiscard "$Y" || fail "mkfs.ext4 failed"
mount "$Y" "$mnt" || fail "mount failed"
mkdir "$mnt/before"
for i in $(seq 1 10); do
	{ echo "xrepl-plaintext-marker-$i"; head -c 50000 /dev/urandom; } >"$mnt/before/f$i"
done
umount "$mnt"
mount "$Y" "$mnt"
(cd "$mnt" && md5sum before/*) >"$T_TMP/sums"
umount "$mnt"
grep -q -a "xrepl-plaintext-marker-3" "$L2" || fail "the marker is not on the local leg"
grep -q -a "xrepl-plaintext-marker-3" "$CD" && fail "plaintext reached the remote site"
log "ok: the remote LV holds ciphertext only"
rc=0
"$CTL" drill --lv "$DST/cdata" --meta "$CM" --cow-size 8M --luks-key "$KEY" -- "$CHECK" \
	>"$T_TMP/drill.out" 2>&1 || rc=$?
sed 's/^/    | /' "$T_TMP/drill.out"
assert_eq 0 "$rc" "drill through LUKS"
grep -q "^drill: running .* against /dev/mapper/" "$T_TMP/drill.out" || fail "not run through LUKS"
no_snapshot
assert_eq "" "$(dmsetup ls | awk '/drill-crypt/ { print $1 }')" "LUKS mappings left by the drill"
