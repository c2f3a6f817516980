#!/usr/bin/env bash
# xreplctl against the kernel: create builds the table --dry-run prints,
# status reads the target (as a table and as JSON, xrepl devices only),
# mode, set, resync, remote-down and remote-up reach the target, remove
# removes; every refusal (an existing name, a missing leg, a device that
# is not xrepl) exits with its documented status and changes nothing; up
# and down bring devices of configuration files up and down, idempotently.
# kernels: one
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl
command -v jq >/dev/null || skip "jq not installed"

CTL=$(xrepl_tool xreplctl)
ram_legs 32
T=$(regions "$S" 1024)
X=/dev/mapper/$P-x

# ctl_rc WANT WHAT ARGS...: xreplctl exits with WANT.
ctl_rc() {
	local want=$1 what=$2 rc=0
	shift 2
	"$CTL" "$@" >"$T_TMP/ctl.out" 2>&1 || rc=$?
	if (( rc != want )); then
		sed 's/^/    | /' "$T_TMP/ctl.out" >&2
		fail "$what: xreplctl $* exited $rc, expected $want"
	fi
	log "ok: $what (exit $rc): $(head -n1 "$T_TMP/ctl.out")"
}

step "create: the table is the one --dry-run prints"
dry=$("$CTL" --dry-run create "$P-x" --local "$L" --remote "$R" --no-meta \
	--mode async --nosync --option max_lag_kb=4096)
assert_eq "create $P-x: 0 $S xrepl $L $R - async 3 max_lag_kb 4096 nosync" "$dry" "dry run"
[[ ! -e "$X" ]] || fail "--dry-run created the device"
ctl_rc 0 "create" create "$P-x" --local "$L" --remote "$R" --no-meta \
	--mode async --nosync --option max_lag_kb=4096
_DM_DEVS+=("$P-x")
[[ -b "$X" ]] || fail "$X was not created"
assert_eq "0 $S xrepl $(devno "$L") $(devno "$R") - async 5 region_size 1024 nosync max_lag_kb 4096" \
	"$(dmsetup table "$P-x")" "the kernel's table"

step "status, as a table and as JSON"
out=$("$CTL" status "$P-x")
log "$out"
assert_match "^$P-x +async +insync +none +0/$T " "$(tail -n1 <<<"$out")" "status row"
json=$("$CTL" status --json "$P-x")
jq -e --arg n "$P-x" --argjson t "$T" --argjson s "$S" '.devices | length == 1 and
	.[0].name == $n and .[0].sectors == $s and .[0].mode == "async" and
	.[0].remote == "insync" and .[0].consistent == true and
	.[0].total_regions == $t and .[0].dirty_regions == 0 and
	.[0].lag_bytes == 0 and .[0].draining == false' <<<"$json" >/dev/null ||
	fail "status --json: $json"
all=$("$CTL" --json status)
jq -e --arg n "$P-x" --arg l "$P-local" '[.devices[].name] | index($n) != null and index($l) == null' \
	<<<"$all" >/dev/null || fail "status --json of all devices: $all"
log "ok: JSON status of one and of all xrepl devices"

step "messages reach the target"
ctl_rc 0 "mode semi-sync" mode "$P-x" semi-sync
assert_status "$X" mode semi-sync
ctl_rc 0 "set semi_timeout_ms" set "$P-x" semi_timeout_ms 7
assert_match ' semi-sync 7 .* semi_timeout_ms 7 max_lag_kb 4096$' "$(dmsetup table "$P-x")" "table after set"
ctl_rc 0 "remote-down" remote-down "$P-x"
assert_status "$X" degraded_by admin
write_at "$X" $(( 3 << 20 )) 4096
assert_eq 1 "$("$CTL" status --json "$P-x" | jq '.devices[0].dirty_regions')" "dirty regions in JSON"
ctl_rc 0 "remote-up" remote-up "$P-x"
wait_for_status "$X" remote insync 60
c0=$(status_field "$X" copied_regions)
ctl_rc 0 "resync --full" resync "$P-x" --full
wait_for_status "$X" remote insync 60
wait_for_status "$X" resync_active 0 60
assert_status "$X" copied_regions $(( c0 + T ))
assert_legs_equal "$L" "$R" "$S"

step "refusals change nothing"
before=$(dmsetup ls | sort)
tbl=$(dmsetup table "$P-x")
ctl_rc 1 "create over an existing name" create "$P-x" --local "$L" --remote "$R" --no-meta
assert_eq "$tbl" "$(dmsetup table "$P-x")" "table of the existing device"
ctl_rc 1 "create with a missing remote" create "$P-y" --local "$L" --remote /dev/no-such --no-meta
ctl_rc 2 "create with a bad option" create "$P-y" --local "$L" --remote "$R" --no-meta --option congestion=drop
ctl_rc 3 "remove of a device that is not xrepl" remove "$P-local"
ctl_rc 3 "message to a device that is not xrepl" remote-down "$P-local"
ctl_rc 3 "remove of a missing device" remove "$P-none"
ctl_rc 3 "status of a missing device" status "$P-none"
ctl_rc 0 "remote-down" remote-down "$P-x"
ctl_rc 1 "a message the target refuses (resync while degraded)" resync "$P-x"
ctl_rc 0 "remote-up" remote-up "$P-x"
wait_for_status "$X" remote insync 60
assert_eq "$before" "$(dmsetup ls | sort)" "dm devices after the refusals"

step "remove"
write_at "$X" $(( 5 << 20 )) 65536
ctl_rc 0 "remove" remove "$P-x"
[[ ! -e "$X" ]] || fail "$X still exists"
assert_eq 0 "$(open_count "$L")" "open count of the local leg"
assert_legs_equal "$L" "$R" "$S"

step "up and down from a configuration file"
conf=$T_TMP/conf
mkdir -p "$conf"
printf 'local = %s\nremote = %s   # the remote leg\nmeta = none\nmode = semi-sync\nnosync = yes\n' \
	"$L" "$R" >"$conf/$P-c.conf"
ctl_rc 0 "up" -c "$conf" up "$P-c"
_DM_DEVS+=("$P-c")
assert_status "/dev/mapper/$P-c" mode semi-sync
assert_status "/dev/mapper/$P-c" remote insync
ctl_rc 0 "up of a device that is up" -c "$conf" up --all
ctl_rc 0 "down" -c "$conf" down "$P-c"
[[ ! -e "/dev/mapper/$P-c" ]] || fail "/dev/mapper/$P-c still exists after down"
ctl_rc 0 "down of a device that is down" -c "$conf" down --all
echo "bogus = 1" >"$conf/$P-d.conf"
before=$(dmsetup ls | sort)
ctl_rc 2 "up --all with a bad file" -c "$conf" up --all
_DM_DEVS+=("$P-c")
assert_status "/dev/mapper/$P-c" mode semi-sync
ctl_rc 0 "down" -c "$conf" down "$P-c"
assert_eq "$before" "$(dmsetup ls | sort)" "dm devices after up and down"
