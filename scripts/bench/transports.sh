# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# The benchmark's block devices and remote transports: null_blk RAM disks,
# the modules the run loads, NVMe/TCP and NBD over loopback, and the remote
# leg made of them.  Sourced by scripts/bench-guest.sh; uses its settings
# (prefix, size_mb, remote_lat_us, out, HOSTNQN) and say.  What is made is
# remembered below, so that the cleanup can remove it.

CFGFS=/sys/kernel/config/nullb
NVMET=/sys/kernel/config/nvmet
NVME_TCP_PORT=${XREPL_BENCH_NVME_PORT:-4420}
NBD_PORT=${XREPL_BENCH_NBD_PORT:-10809}

nullb_made=()       # configfs directories we created
mods_loaded=()      # modules we loaded, in load order
nvme_nqns=()        # nvmet subsystems we made
nvme_port=""        # nvmet port (configfs directory) we made
nbd_dev=""          # nbd device we connected
nbdkit_pid=""

# canon_remote NAME: the transport name (fast and slow for ram and delay),
# or fail.
canon_remote() {
	case "$1" in
	ram|fast) echo ram ;;
	delay|slow) echo delay ;;
	nvme-tcp|nbd) echo "$1" ;;
	*) return 1 ;;
	esac
}

# wait_node DEV: true once the block device node DEV exists (within 5 s).
wait_node() {
	local i
	for (( i = 0; i < 50; i++ )); do
		[[ -b "$1" ]] && return 0
		sleep 0.1
	done
	return 1
}

# load_module NAME [PARAM=VALUE...]: modprobe unless it is there already;
# unloaded again on exit when we loaded it.
load_module() {
	local m=${1//-/_}
	[[ -d /sys/module/$m ]] && return 0
	modprobe "$@" || return 1
	mods_loaded+=("$m")
}

# nullb_make NAME ATTR=VALUE...: a configfs null_blk device; its node is left
# in NB_DEV (not printed: the directory must be remembered for the cleanup,
# which a $(...) subshell would forget).
nullb_make() {
	local name=$1 d=$CFGFS/$1 kv idx
	shift
	mkdir "$d" || return 1
	nullb_made+=("$d")
	for kv in "$@"; do
		echo "${kv#*=}" >"$d/${kv%%=*}" || { echo "cannot set null_blk $kv" >&2; return 1; }
	done
	echo 1 >"$d/power" || return 1
	# The disk is named after the configfs directory from Linux 5.19 on,
	# nullb<index> on older kernels.
	idx=$(cat "$d/index")
	if wait_node "/dev/$name"; then
		NB_DEV=/dev/$name
	elif wait_node "/dev/nullb$idx"; then
		NB_DEV=/dev/nullb$idx
	else
		echo "no device node for null_blk $name" >&2
		return 1
	fi
}

# nullb_remove NAME: power off and remove a null_blk made by nullb_make (its
# memory is freed).
nullb_remove() {
	local d=$CFGFS/$1 i
	[[ -d "$d" ]] || return 0
	echo 0 >"$d/power" 2>/dev/null
	rmdir "$d" 2>/dev/null || say "cleanup: cannot remove $d"
	for i in "${!nullb_made[@]}"; do
		[[ "${nullb_made[$i]}" == "$d" ]] && unset 'nullb_made[i]'
	done
	nullb_made=("${nullb_made[@]}")
}

# prefill DEV: write the whole device once so that no later configuration
# pays for null_blk's page allocation.
prefill() {
	dd if=/dev/zero of="$1" bs=1M oflag=direct status=none 2>/dev/null
	return 0   # dd stops with ENOSPC at the end
}

# --- NVMe/TCP -------------------------------------------------------------------
# nvme_export NAME DEV: export DEV as namespace 1 of a new nvmet subsystem
# (NQN nqn.2014-08.io.xrepl:NAME) on 127.0.0.1:$NVME_TCP_PORT and connect to
# it with the nvme-tcp initiator; the namespace's node is left in NV_DEV.
# Returns 1 with WHY set on failure.
nvme_export() {
	local nqn="nqn.2014-08.io.xrepl:$1" dev=$2 s i d n o
	command -v nvme >/dev/null || { WHY="nvme-cli is not installed"; return 1; }
	if ! { load_module nvmet && load_module nvmet-tcp && load_module nvme-tcp; }; then
		WHY="cannot load nvmet, nvmet-tcp or nvme-tcp"
		return 1
	fi
	s=$NVMET/subsystems/$nqn
	mkdir "$s" || { WHY="cannot create the nvmet subsystem $nqn"; return 1; }
	nvme_nqns+=("$nqn")
	if ! { echo 1 >"$s/attr_allow_any_host" && mkdir "$s/namespaces/1" &&
	       echo "$dev" >"$s/namespaces/1/device_path" &&
	       echo 1 >"$s/namespaces/1/enable"; }; then
		WHY="cannot export $dev as an nvmet namespace"
		return 1
	fi
	if [[ -z "$nvme_port" ]]; then
		for (( i = 1; i < 100; i++ )); do
			[[ -e $NVMET/ports/$i ]] || break
		done
		mkdir "$NVMET/ports/$i" || { WHY="cannot create nvmet port $i"; return 1; }
		nvme_port=$NVMET/ports/$i
		if ! { echo tcp >"$nvme_port/addr_trtype" && echo ipv4 >"$nvme_port/addr_adrfam" &&
		       echo 127.0.0.1 >"$nvme_port/addr_traddr" &&
		       echo "$NVME_TCP_PORT" >"$nvme_port/addr_trsvcid"; }; then
			WHY="cannot set up nvmet port $i"
			return 1
		fi
	fi
	ln -s "$s" "$nvme_port/subsystems/$nqn" || { WHY="cannot link $nqn to the nvmet port"; return 1; }
	# A controller that fails gives up after 10 s instead of retrying
	# for 10 minutes with the writes hanging.
	o=$(nvme connect -t tcp -a 127.0.0.1 -s "$NVME_TCP_PORT" -n "$nqn" --hostnqn="$HOSTNQN" \
		--ctrl-loss-tmo=10 2>&1) ||
		{ WHY="nvme connect failed: $(tr '\n' ' ' <<<"$o")"; return 1; }
	# The namespace: under its subsystem (native multipath) or its
	# controller; path devices (nvmeXcYnZ) have no node.
	for (( i = 0; i < 100; i++ )); do
		for d in /sys/class/nvme-subsystem/* /sys/class/nvme/*; do
			[[ "$(cat "$d/subsysnqn" 2>/dev/null)" == "$nqn" ]] || continue
			for n in "$d"/nvme*n*; do
				n=${n##*/}
				if [[ "$n" =~ ^nvme[0-9]+n[0-9]+$ && -b /dev/$n ]] &&
					(( $(blockdev --getsz "/dev/$n" 2>/dev/null || echo 0) > 0 )); then
					NV_DEV=/dev/$n
					return 0
				fi
			done
		done
		sleep 0.1
	done
	WHY="no namespace device after nvme connect to $nqn"
	return 1
}

# nvme_unexport NQN: disconnect and remove what nvme_export made.
nvme_unexport() {
	local nqn=$1 s=$NVMET/subsystems/$1 i
	nvme disconnect -n "$nqn" >/dev/null 2>&1
	[[ -n "$nvme_port" ]] && rm -f "$nvme_port/subsystems/$nqn"
	if [[ -d "$s" ]]; then
		echo 0 >"$s/namespaces/1/enable" 2>/dev/null
		rmdir "$s/namespaces/1" 2>/dev/null
		rmdir "$s" 2>/dev/null || say "cleanup: cannot remove nvmet subsystem $nqn"
	fi
	for i in "${!nvme_nqns[@]}"; do
		[[ "${nvme_nqns[$i]}" == "$nqn" ]] && unset 'nvme_nqns[i]'
	done
	nvme_nqns=("${nvme_nqns[@]}")
	if (( ${#nvme_nqns[@]} == 0 )) && [[ -n "$nvme_port" ]]; then
		rmdir "$nvme_port" 2>/dev/null || say "cleanup: cannot remove $nvme_port"
		nvme_port=""
	fi
}

# --- NBD ------------------------------------------------------------------------
# nbd_export DEV: serve DEV with nbdkit's file plugin on 127.0.0.1:$NBD_PORT
# and attach it with nbd-client (2 connections, 4 KiB blocks); the node is
# left in NBD_DEV.  Returns 1 with WHY set on failure.
nbd_export() {
	local dev=$1 d i
	command -v nbdkit >/dev/null || { WHY="nbdkit is not installed"; return 1; }
	command -v nbd-client >/dev/null || { WHY="nbd-client is not installed"; return 1; }
	load_module nbd || { WHY="cannot load nbd"; return 1; }
	for d in /sys/block/nbd*; do
		[[ -e "$d/pid" ]] && continue
		nbd_dev=/dev/${d##*/}
		break
	done
	[[ -n "$nbd_dev" && -b "$nbd_dev" ]] || { nbd_dev=""; WHY="no free nbd device"; return 1; }
	nbdkit -f --exit-with-parent -i 127.0.0.1 -p "$NBD_PORT" file file="$dev" \
		>>"$out/nbdkit.log" 2>&1 &
	nbdkit_pid=$!
	for (( i = 0; i < 50; i++ )); do
		nbd-client 127.0.0.1 "$NBD_PORT" "$nbd_dev" -b 4096 -C 2 -N '' \
			>>"$out/nbd-client.log" 2>&1 && break
		kill -0 "$nbdkit_pid" 2>/dev/null || { WHY="nbdkit exited: $(tail -n 2 "$out/nbdkit.log" | tr '\n' ' ')"; return 1; }
		sleep 0.2
	done
	for (( i = 0; i < 50; i++ )); do
		(( $(blockdev --getsz "$nbd_dev" 2>/dev/null || echo 0) > 0 )) && { NBD_DEV=$nbd_dev; return 0; }
		sleep 0.1
	done
	WHY="nbd-client did not attach $nbd_dev: $(tail -n 2 "$out/nbd-client.log" | tr '\n' ' ')"
	return 1
}

nbd_unexport() {
	if [[ -n "$nbd_dev" ]]; then
		[[ -e /sys/block/${nbd_dev#/dev/}/pid ]] &&
			{ nbd-client -d "$nbd_dev" >/dev/null 2>&1 || say "cleanup: cannot disconnect $nbd_dev"; }
		nbd_dev=""
	fi
	if [[ -n "$nbdkit_pid" ]]; then
		kill "$nbdkit_pid" 2>/dev/null
		wait "$nbdkit_pid" 2>/dev/null
		nbdkit_pid=""
	fi
}

# --- transports -------------------------------------------------------------------
# transport_up KIND: the remote leg of KIND over a new null_blk of SIZE_MB
# (default $size_mb) MiB called $prefix-r<KIND>; sets REMOTE (the device
# under test) and REMOTE_BACKING (the RAM disk behind the network, or
# REMOTE itself).  Returns 1 with WHY set on failure.
transport_up() {
	local kind=$1 mb=${SIZE_MB:-$size_mb} name="$prefix-r$1"
	local -a nb=(size="$mb" memory_backed=1 blocksize=4096 hw_queue_depth=64)
	WHY=""
	name=${name//-tcp/}
	if [[ "$kind" == delay ]]; then
		nb+=(irqmode=2 completion_nsec=$(( remote_lat_us * 1000 )))
	else
		nb+=(irqmode=0)
	fi
	nullb_make "$name" "${nb[@]}" || { WHY="cannot create the null_blk $name"; return 1; }
	REMOTE_BACKING=$NB_DEV
	prefill "$REMOTE_BACKING"
	case $kind in
	ram|delay) REMOTE=$REMOTE_BACKING ;;
	nvme-tcp) nvme_export "$name" "$REMOTE_BACKING" || return 1; REMOTE=$NV_DEV ;;
	nbd) nbd_export "$REMOTE_BACKING" || return 1; REMOTE=$NBD_DEV ;;
	esac
	return 0
}

# transport_down KIND: undo transport_up.
transport_down() {
	local name="$prefix-r$1"
	name=${name//-tcp/}
	case $1 in
	nvme-tcp) nvme_unexport "nqn.2014-08.io.xrepl:$name" ;;
	nbd) nbd_unexport ;;
	esac
	nullb_remove "$name"
	REMOTE="" REMOTE_BACKING=""
}
