# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# The benchmark's block devices and remote transports: null_blk RAM disks,
# the modules the run loads, NVMe/TCP, NBD and iSCSI over loopback, and the remote
# leg made of them.  Sourced by scripts/bench-guest.sh; uses its settings
# (prefix, size_mb, remote_lat_us, out, HOSTNQN) and say.  What is made is
# remembered below, so that the cleanup can remove it.

CFGFS=/sys/kernel/config/nullb
NVMET=/sys/kernel/config/nvmet
NVME_TCP_PORT=${XREPL_BENCH_NVME_PORT:-4420}
NBD_PORT=${XREPL_BENCH_NBD_PORT:-10809}
ISCSI_PORT=${XREPL_BENCH_ISCSI_PORT:-3260}
LIO=/sys/kernel/config/target

nullb_made=()       # configfs directories we created
mods_loaded=()      # modules we loaded, in load order
nvme_nqns=()        # nvmet subsystems we made
nvme_port=""        # nvmet port (configfs directory) we made
nbd_dev=""          # nbd device we connected
nbdkit_pid=""
iscsi_iqn=""        # LIO target we made (its backstore is named alike)
iscsi_tmpfs=0       # 1: we mounted a tmpfs on a read-only /etc/iscsi
iscsid_ours=0       # 1: we started iscsid
iscsi_login=0       # 1: we logged in to iscsi_iqn

# canon_remote NAME: the transport name (fast and slow for ram and delay),
# or fail.
canon_remote() {
	case "$1" in
	ram|fast) echo ram ;;
	delay|slow) echo delay ;;
	nvme-tcp|nbd|iscsi) echo "$1" ;;
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
iscsi_iqn=""        # LIO target we made (its backstore is named alike)
iscsi_tmpfs=0       # 1: we mounted a tmpfs on a read-only /etc/iscsi
iscsid_ours=0       # 1: we started iscsid
iscsi_login=0       # 1: we logged in to iscsi_iqn
	fi
}

# --- iSCSI ---------------------------------------------------------------------
# iscsi_export NAME DEV: export DEV as LUN 0 of a new LIO target (iblock
# backstore, no authentication, demo-mode ACLs) on 127.0.0.1:$ISCSI_PORT and
# log in with open-iscsi; the LUN's SCSI disk is left in ISCSI_DEV.
iscsi_export() {
	local name=$1 dev=$2 bs tpg i b sn sd="" o
	if ! command -v iscsiadm >/dev/null || ! command -v iscsid >/dev/null; then
		WHY="open-iscsi is not installed"
		return 1
	fi
	# sd_mod too: no udev in the guest to load it for the new disk.
	for i in target_core_mod target_core_iblock iscsi_target_mod iscsi_tcp sd_mod; do
		load_module "$i" || { WHY="cannot load $i"; return 1; }
	done
	[[ -d $LIO ]] || { WHY="no $LIO (configfs, target_core_mod)"; return 1; }
	iscsi_iqn=iqn.2026-12.io.xrepl:$name
	bs=$LIO/core/iblock_0/$name tpg=$LIO/iscsi/$iscsi_iqn/tpgt_1
	if ! { mkdir -p "$bs" && echo "udev_path=$dev" >"$bs/control" && echo 1 >"$bs/enable" &&
	       mkdir -p "$tpg/lun/lun_0" && ln -s "$bs" "$tpg/lun/lun_0/$name" &&
	       mkdir "$tpg/np/127.0.0.1:$ISCSI_PORT" &&
	       echo 0 >"$tpg/attrib/authentication" && echo 1 >"$tpg/attrib/generate_node_acls" &&
	       echo 1 >"$tpg/attrib/cache_dynamic_acls" &&
	       echo 0 >"$tpg/attrib/demo_mode_write_protect" && echo 1 >"$tpg/enable"; }; then
		WHY="cannot export $dev as a LIO iSCSI LUN"
		return 1
	fi
	# The initiator: its configuration on a tmpfs when /etc/iscsi is
	# read-only (the guest's root is the host's, shared read-only), and an
	# iscsid of our own unless one runs.
	if ! touch /etc/iscsi/.xrepl-bench 2>/dev/null; then
		rm -rf "$out/iscsi-etc"
		if ! { cp -a /etc/iscsi "$out/iscsi-etc" && mount -t tmpfs -o mode=755 tmpfs /etc/iscsi; }; then
			WHY="cannot put /etc/iscsi on a tmpfs"
			return 1
		fi
		iscsi_tmpfs=1
		cp -a "$out/iscsi-etc/." /etc/iscsi/ || { WHY="cannot copy /etc/iscsi to its tmpfs"; return 1; }
		echo "InitiatorName=iqn.2026-12.io.xrepl:bench-initiator" >/etc/iscsi/initiatorname.iscsi
		# No systemd: iscsiadm must not try to start iscsid.
		sed -i 's/^iscsid.startup = .*/iscsid.startup = \/bin\/true/' /etc/iscsi/iscsid.conf
	fi
	rm -f /etc/iscsi/.xrepl-bench
	if ! { [[ -s /run/iscsid.pid ]] && kill -0 "$(cat /run/iscsid.pid)" 2>/dev/null; }; then
		iscsid || { WHY="iscsid did not start"; return 1; }
		iscsid_ours=1
	fi
	for (( i = 0; i < 50; i++ )); do
		o=$(iscsiadm -m discovery -t sendtargets -p "127.0.0.1:$ISCSI_PORT" 2>&1) && break
		sleep 0.2
	done
	[[ "$o" == *"$iscsi_iqn"* ]] || { WHY="iSCSI discovery: $(tr '\n' ' ' <<<"$o")"; return 1; }
	o=$(iscsiadm -m node -T "$iscsi_iqn" -p "127.0.0.1:$ISCSI_PORT" --login 2>&1) ||
		{ WHY="iSCSI login failed: $(tr '\n' ' ' <<<"$o")"; return 1; }
	iscsi_login=1
	# The disk of our session (there may be others on a real host).
	for (( i = 0; i < 100; i++ )); do
		for sn in /sys/class/iscsi_session/session*; do
			[[ "$(cat "$sn/targetname" 2>/dev/null)" == "$iscsi_iqn" ]] || continue
			for b in "$sn"/device/target*/*:*:*:*/block/*; do
				[[ -e "$b" ]] && sd=${b##*/}
			done
		done
		[[ -n "$sd" ]] && wait_node "/dev/$sd" && { ISCSI_DEV=/dev/$sd; return 0; }
		sleep 0.2
	done
	WHY="no SCSI disk after the iSCSI login to $iscsi_iqn"
	return 1
}

# iscsi_unexport: log out and remove what iscsi_export made.
iscsi_unexport() {
	local name bs tpg pid i
	[[ -n "$iscsi_iqn" ]] || return 0
	name=${iscsi_iqn#*:}
	if (( iscsi_login )); then
		iscsiadm -m node -T "$iscsi_iqn" -p "127.0.0.1:$ISCSI_PORT" --logout >/dev/null 2>&1 ||
			say "cleanup: cannot log out of $iscsi_iqn"
		iscsiadm -m node -T "$iscsi_iqn" -p "127.0.0.1:$ISCSI_PORT" -o delete >/dev/null 2>&1
		iscsi_login=0
	fi
	if (( iscsid_ours )); then
		# Gone before its configuration's tmpfs is unmounted.
		pid=$(cat /run/iscsid.pid 2>/dev/null)
		if [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; then
			for (( i = 0; i < 50; i++ )); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
		iscsid_ours=0
	fi
	if (( iscsi_tmpfs )); then
		umount /etc/iscsi 2>/dev/null || say "cleanup: cannot unmount the tmpfs on /etc/iscsi"
		iscsi_tmpfs=0
	fi
	bs=$LIO/core/iblock_0/$name tpg=$LIO/iscsi/$iscsi_iqn/tpgt_1
	[[ -d "$tpg" ]] && echo 0 >"$tpg/enable" 2>/dev/null
	rm -f "$tpg/lun/lun_0/$name" 2>/dev/null
	rmdir "$tpg/lun/lun_0" "$tpg/np/127.0.0.1:$ISCSI_PORT" "$tpg" "$LIO/iscsi/$iscsi_iqn" 2>/dev/null
	rmdir "$bs" 2>/dev/null
	rmdir "$LIO/core/iblock_0" 2>/dev/null
	[[ -d "$LIO/iscsi/$iscsi_iqn" || -d "$bs" ]] && say "cleanup: cannot remove the LIO target $iscsi_iqn"
	iscsi_iqn=""
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
	iscsi) iscsi_export "$name" "$REMOTE_BACKING" || return 1; REMOTE=$ISCSI_DEV ;;
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
	iscsi) iscsi_unexport ;;
	esac
	nullb_remove "$name"
	REMOTE="" REMOTE_BACKING=""
}
