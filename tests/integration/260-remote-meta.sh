#!/usr/bin/env bash
# remote_meta: the primary writes the remote site's superblock only at
# transitions (before the first copy of a resync, when in sync, when it
# stops replicating), never per write, and it says what the remote holds:
# the pair's uuid, our data generation, consistent or not, live or
# stopped with a data time.  Every connection (table load, "remote up")
# compares the generations first: a remote site that was promoted, changed
# on its own (split brain), belongs to another pair, or whose metadata is
# damaged or of another geometry is refused, and neither its data nor its
# metadata changes by a byte.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

site_legs 32
RB=$(( 1024 * 512 ))
T=$(regions "$S" 1024)
X=/dev/mapper/$P-x
table() { echo "0 $S xrepl $L $R $M sync 4 region_size 1024 remote_meta $RM"; }

step "a new pair with fresh remote metadata: full sync, then live"
fill_random "$L"
dm_create "$P-x" "$(table)"
assert_status "$X" peer ok
wait_for_status "$X" remote insync 120
assert_legs_equal "$L" "$R"
# Copying (before the first copy), then live: two writes.
wait_for_status "$X" peer_meta_writes 2 30
assert_eq 2 "$(sbe "$RM" get role)" "remote site's role (secondary)"
assert_eq 5 "$(sbe "$RM" get flags)" "remote site's flags (consistent, live)"
assert_eq "$(sbe "$M" get uuid)" "$(sbe "$RM" get uuid)" "remote site's uuid"
assert_eq "$(sbe "$M" get gen_current)" "$(sbe "$RM" get gen_current)" \
	"remote site's data generation"
assert_eq 0 "$(sbe "$RM" get gen_bitmap)" "remote site's bitmap generation"
assert_eq 0 "$(sbe "$RM" bits)" "regions the remote site's bitmap marks"

step "writes do not touch the remote site's metadata"
fio --name=w --filename="$X" --rw=randwrite --bs=4k --size=8M --direct=1 \
	--ioengine=psync --number_ios=300 >/dev/null || fail "fio failed"
assert_status "$X" peer_meta_writes 2

step "remote down: the remote site records the stop, consistent, with a time"
# Marks of recent writes would join the dirty regions at the degradation.
wait_for_status "$X" marked 0 60
must "remote down" dmsetup message "$P-x" 0 remote down
wait_for_status "$X" peer_meta_writes 3 30
assert_eq 1 "$(sbe "$RM" get flags)" "remote site's flags (consistent, stopped)"
now=$(date +%s)
dt=$(sbe "$RM" get data_time)
assert_cmp "$dt" -le "$now" "data time not in the future"
assert_cmp "$dt" -ge $(( now - 60 )) "data time recent"
write_at "$X" $(( 3 * RB )) 4096
write_at "$X" $(( 7 * RB )) 4096
assert_status "$X" dirty "2/$T"
# We changed the data without the remote: it is at our bitmap's start.
assert_eq "$(sbe "$M" get gen_bitmap)" "$(sbe "$RM" get gen_current)" \
	"remote site at our bitmap generation"

step "remote up: compared (ancestor), the two regions copied, live again"
copied=$(status_field "$X" copied_regions)
# One region may be copied at once, the other waits: the resync runs on.
must "slow resync" dmsetup message "$P-x" 0 set resync_rate_kbps 1
must "remote up" dmsetup message "$P-x" 0 remote up
# Recorded before "remote up" returned, so before the remote got a write.
assert_eq 0 "$(sbe "$RM" get flags)" "remote site not consistent while copying"
assert_eq "$(sbe "$M" get gen_current)" "$(sbe "$RM" get gen_current)" \
	"remote site given our generation"
assert_status "$X" consistent no
must "full speed" dmsetup message "$P-x" 0 set resync_rate_kbps 0
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions $(( copied + 2 ))
assert_legs_equal "$L" "$R"
wait_for_status "$X" peer_meta_writes 5 30
assert_eq 5 "$(sbe "$RM" get flags)" "live again"
assert_eq "$(sbe "$M" get gen_current)" "$(sbe "$RM" get gen_current)" \
	"remote site at our generation again"

step "clean removal: stopped, consistent"
dm_remove "$P-x"
assert_eq 1 "$(sbe "$RM" get flags)" "stopped after removal"
sbe "$RM" save "$T_TMP/rm.good"
good_md5=$(dev_md5 "$R")

# refused CASE WHAT: the table is refused naming CASE, and neither the
# remote's data nor the remote site's metadata changed.
refused() {
	local case=$1 what=$2 out before
	before=$(dev_md5 "$RM")
	kmsg_mark
	if out=$(dm_try_create "$P-x" "$(table)"); then
		fail "$what: the table was accepted"
	fi
	log "refused: $out"
	assert_dmesg_contains "$case" "$what: the table error names the case"
	assert_eq "$before" "$(dev_md5 "$RM")" "$what: remote metadata unchanged"
	assert_eq "$good_md5" "$(dev_md5 "$R")" "$what: remote data unchanged"
}

step "the remote site was promoted: refused"
g=$(sbe "$RM" get gen_current)
sbe "$RM" set role=1 flags=0 gen_bitmap="$g" gen_current=0x5151
refused "promoted" "promoted remote"
assert_dmesg_contains "connection refused: promoted" "kernel log names it"
sbe "$RM" restore "$T_TMP/rm.good"

step "the remote site changed on its own and was not demoted: split brain"
sbe "$RM" set gen_bitmap="$g" gen_current=0x5252
refused "split brain" "split brain"
sbe "$RM" restore "$T_TMP/rm.good"

step "the remote site's metadata of another pair: unrelated"
sbe "$RM" set uuid=00112233445566778899aabbccddeeff
refused "unrelated" "another pair's"
sbe "$RM" restore "$T_TMP/rm.good"

step "damaged remote metadata: refused"
sbe "$RM" badcsum
refused "corrupt" "bad checksum"
sbe "$RM" restore "$T_TMP/rm.good"
sbe "$RM" set gen_bitmap="$g"
refused "corrupt" "generation loop"
sbe "$RM" restore "$T_TMP/rm.good"
sbe "$RM" set gen_history0="$g"
refused "corrupt" "generation loop in the history"
sbe "$RM" restore "$T_TMP/rm.good"
sbe "$RM" set role=7
refused "corrupt" "unknown role"
sbe "$RM" restore "$T_TMP/rm.good"
sbe "$RM" set dev_sectors=$(( S * 2 )) nr_regions=$(( T * 2 ))
refused "geometry" "another geometry"
sbe "$RM" restore "$T_TMP/rm.good"

step "the genuine remote metadata again: accepted, nothing to copy"
dm_create "$P-x" "$(table)"
assert_status "$X" peer ok
wait_for_status "$X" remote insync 60
assert_status "$X" copied_regions 0
assert_legs_equal "$L" "$R"
wait_for_status "$X" peer_meta_writes 1 30
assert_eq 5 "$(sbe "$RM" get flags)" "live"

step "remote up is compared again: refused while the remote site is a primary"
must "remote down" dmsetup message "$P-x" 0 remote down
wait_for_status "$X" peer_meta_writes 2 30
write_at "$X" $(( 9 * RB )) 4096
sbe "$RM" save "$T_TMP/rm.stopped"
sbe "$RM" set role=1 flags=0 gen_bitmap="$(sbe "$RM" get gen_current)" \
	gen_current=0x5353
good_md5=$(dev_md5 "$R")
before=$(dev_md5 "$RM")
ev=$(event_nr "$X")
kmsg_mark
expect_fail "remote up towards a promoted remote site" \
	dmsetup message "$P-x" 0 remote up
assert_dmesg_contains "remote up refused" "the refusal is logged"
assert_status "$X" peer promoted
assert_status "$X" remote degraded
assert_cmp "$(event_nr "$X")" -gt "$ev" "an event was raised"
sleep 1
assert_eq "$before" "$(dev_md5 "$RM")" "remote metadata unchanged"
assert_eq "$good_md5" "$(dev_md5 "$R")" "remote data unchanged"
sbe "$RM" restore "$T_TMP/rm.stopped"
must "remote up" dmsetup message "$P-x" 0 remote up
assert_status "$X" peer ok
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"

step "the remote site promoted while the device was suspended: the resume compares again"
dm_create "$P-x" "$(table)"
wait_for_status "$X" remote insync 60
assert_eq 5 "$(sbe "$RM" get flags)" "live"
must "suspend" dmsetup suspend "$P-x"
sbe "$RM" save "$T_TMP/rm.suspended"
sbe "$RM" set role=1 flags=0 gen_bitmap="$(sbe "$RM" get gen_current)" \
	gen_current=0x5454
before=$(dev_md5 "$RM")
good_md5=$(dev_md5 "$R")
kmsg_mark
must "resume" dmsetup resume "$P-x"
assert_status "$X" peer promoted
assert_status "$X" degraded_by error
write_at "$X" $(( 3 * RB )) 4096
sleep 1
assert_eq "$before" "$(dev_md5 "$RM")" "the promoted remote site's metadata unchanged"
assert_eq "$good_md5" "$(dev_md5 "$R")" "the promoted remote's data unchanged"
sbe "$RM" restore "$T_TMP/rm.suspended"
must "remote up" dmsetup message "$P-x" 0 remote up
wait_for_status "$X" remote insync 60
assert_legs_equal "$L" "$R"
dm_remove "$P-x"

step "fresh remote metadata for a pair in sync: nothing known of the remote, all of it copied"
dd if=/dev/zero of="$RM" bs=1M count=4 oflag=direct status=none
dm_create "$P-x" "$(table)"
assert_status "$X" peer ok
wait_for_status "$X" remote insync 120
assert_status "$X" copied_regions "$T"
assert_legs_equal "$L" "$R"
dm_remove "$P-x"

step "a new pair (fresh metadata) towards another pair's remote site: refused, nothing written"
# The remote site is our pair's secondary; a fresh metadata device here
# makes a new pair, which it does not know.
dd if=/dev/zero of="$M" bs=1M count=4 oflag=direct status=none
meta_before=$(dev_md5 "$M")
good_md5=$(dev_md5 "$R")
refused "unrelated" "a new pair"
assert_eq "$meta_before" "$(dev_md5 "$M")" "a new pair: this site's fresh metadata not formatted"
