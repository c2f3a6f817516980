# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# DRBD 8.4 in the benchmark: two resources that replicate over loopback
# TCP, A (minor 10) on the local leg and B (minor 11) on the peer's disk,
# made with drbdsetup-84 and drbdmeta.  Sourced by scripts/bench-guest.sh;
# uses its settings (prefix, out, DRBD_RES_A, DRBD_RES_B) and say, and
# load_module and nullb_make of transports.sh.

DRBD_PORT_A=${XREPL_BENCH_DRBD_PORT:-7789}
DRBD_PORT_B=$(( DRBD_PORT_A + 1 ))
DRBD_MINOR_A=10 DRBD_MINOR_B=11

drbd_res=()         # DRBD resources we made
drbd_proto=""       # protocol of the DRBD connection that is up

# DRBD options of the fio rows: the defaults (only the protocol changes).
DRBD_DISK_OPTS=() DRBD_NET_OPTS=()
# ... and of the resync row: the resync rate controller opened up.
DRBD_RESYNC_DISK_OPTS=(--c-plan-ahead=0 --resync-rate=4194304 --c-max-rate=4194304 --c-min-rate=0)
DRBD_RESYNC_NET_OPTS=(--max-buffers=16384)

# drbdsetup-84, found by drbd_prepare.
DRBDSETUP=""

# drbd_prepare: the DRBD 8.4 module, its tools and two meta-data devices
# (MD_A, MD_B).  Returns 1 with WHY set on failure.
drbd_prepare() {
	local p
	if [[ -z "$DRBDSETUP" ]]; then
		for p in /usr/lib/drbd/drbdsetup-84 /lib/drbd/drbdsetup-84; do
			[[ -x "$p" ]] && { DRBDSETUP=$p; break; }
		done
	fi
	[[ -n "$DRBDSETUP" ]] || { WHY="drbdsetup-84 not found (package drbd-utils)"; return 1; }
	command -v drbdmeta >/dev/null || { WHY="drbdmeta not found (package drbd-utils)"; return 1; }
	# The kernel calls its user-mode helper (drbdadm) on state changes; no
	# handler is configured here, and the initramfs root it would run in
	# has no drbdadm.
	load_module drbd usermode_helper=/bin/true || { WHY="cannot load drbd"; return 1; }
	echo /bin/true >/sys/module/drbd/parameters/usermode_helper 2>/dev/null
	grep -q '^version: 8\.4' /proc/drbd || { WHY="the drbd module is not 8.4: $(head -n1 /proc/drbd)"; return 1; }
	# drbdsetup takes a lock in /var/lock (-> /run/lock, a tmpfs here).
	mkdir -p /run/lock /var/lock 2>/dev/null
	if [[ -z "${MD_A:-}" ]]; then
		nullb_make "$prefix-mda" size=16 memory_backed=1 blocksize=4096 irqmode=0 ||
			{ WHY="cannot create a DRBD meta-data null_blk"; return 1; }
		MD_A=$NB_DEV
		nullb_make "$prefix-mdb" size=16 memory_backed=1 blocksize=4096 irqmode=0 ||
			{ WHY="cannot create a DRBD meta-data null_blk"; return 1; }
		MD_B=$NB_DEV
	fi
	return 0
}

# drbd_cmd ARGS...: drbdsetup-84, its output in the log and in WHY on failure.
drbd_cmd() {
	local o
	o=$("$DRBDSETUP" "$@" 2>&1) && { printf '%s\n' "$o" >>"$out/drbd.log"; return 0; }
	printf 'drbdsetup %s: %s\n' "$*" "$o" >>"$out/drbd.log"
	WHY="drbdsetup $1 failed: $(tr '\n' ' ' <<<"$o" | sed 's/  */ /g')"
	return 1
}

# drbd_connect PROTO: connect both resources over loopback TCP.
drbd_connect() {
	local i
	drbd_cmd connect "$DRBD_RES_A" "ipv4:127.0.0.1:$DRBD_PORT_A" "ipv4:127.0.0.1:$DRBD_PORT_B" \
		--protocol="$1" "${DRBD_NET_OPTS[@]}" || return 1
	drbd_cmd connect "$DRBD_RES_B" "ipv4:127.0.0.1:$DRBD_PORT_B" "ipv4:127.0.0.1:$DRBD_PORT_A" \
		--protocol="$1" "${DRBD_NET_OPTS[@]}" || return 1
	drbd_proto=$1
	for (( i = 0; i < 150; i++ )); do
		[[ "$("$DRBDSETUP" cstate "$DRBD_MINOR_A" 2>/dev/null)" == Connected ]] && return 0
		sleep 0.2
	done
	WHY="DRBD did not connect: $("$DRBDSETUP" cstate "$DRBD_MINOR_A" 2>&1)"
	return 1
}

drbd_disconnect() {
	drbd_cmd disconnect "ipv4:127.0.0.1:$DRBD_PORT_A" "ipv4:127.0.0.1:$DRBD_PORT_B" &&
		drbd_cmd disconnect "ipv4:127.0.0.1:$DRBD_PORT_B" "ipv4:127.0.0.1:$DRBD_PORT_A"
}

# drbd_pair_up LOCAL PEER PROTO: fresh meta data, resource A (minor 10) on
# LOCAL and B (minor 11) on PEER, connected with PROTO.  Disk and net
# options come from DRBD_DISK_OPTS and DRBD_NET_OPTS.
drbd_pair_up() {
	local o
	drbd_prepare || return 1
	for o in "$DRBD_MINOR_A:$MD_A" "$DRBD_MINOR_B:$MD_B"; do
		drbdmeta --force "${o%%:*}" v08 "${o#*:}" flex-external create-md \
			>>"$out/drbd.log" 2>&1 </dev/null ||
			{ WHY="drbdmeta create-md ${o#*:} failed (see drbd.log)"; return 1; }
	done
	drbd_cmd new-resource "$DRBD_RES_A" || return 1
	drbd_res+=("$DRBD_RES_A")
	drbd_cmd new-minor "$DRBD_RES_A" "$DRBD_MINOR_A" 0 || return 1
	drbd_cmd attach "$DRBD_MINOR_A" "$1" "$MD_A" flexible "${DRBD_DISK_OPTS[@]}" || return 1
	drbd_cmd new-resource "$DRBD_RES_B" || return 1
	drbd_res+=("$DRBD_RES_B")
	drbd_cmd new-minor "$DRBD_RES_B" "$DRBD_MINOR_B" 0 || return 1
	drbd_cmd attach "$DRBD_MINOR_B" "$2" "$MD_B" flexible "${DRBD_DISK_OPTS[@]}" || return 1
	drbd_connect "$3"
}

# drbd_wait_insync SECS: wait until connected with both disks UpToDate and
# nothing out of sync.
drbd_wait_insync() {
	local i n=$(( $1 * 10 )) c d
	for (( i = 0; i < n; i++ )); do
		c=$("$DRBDSETUP" cstate "$DRBD_MINOR_A" 2>/dev/null)
		d=$("$DRBDSETUP" dstate "$DRBD_MINOR_A" 2>/dev/null)
		if [[ "$c" == Connected && "$d" == UpToDate/UpToDate ]] &&
			grep -A1 "^ *$DRBD_MINOR_A:" /proc/drbd | grep -q ' oos:0'; then
			return 0
		fi
		sleep 0.1
	done
	WHY="DRBD not in sync after ${1}s: $c $d"
	return 1
}

drbd_down() {
	local r
	for r in "${drbd_res[@]}"; do
		"$DRBDSETUP" down "$r" >>"$out/drbd.log" 2>&1 || say "cleanup: cannot take down DRBD resource $r"
	done
	drbd_res=()
	drbd_proto=""
}
