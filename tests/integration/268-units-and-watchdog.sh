#!/usr/bin/env bash
# The installed systemd units, run as systemd runs them (no systemd in the
# guest): the generator makes xrepl-volumes.target want one xrepl@<name>
# per configuration file; each instance's ExecStart brings its volume up
# and its ExecStop removes that volume alone.  The monitor, started with
# its unit's command line under a notify socket and a watchdog interval
# (as Type=notify and WatchdogSec= give it), says READY=1 once it watches
# the devices, pings WATCHDOG=1 every half interval and has its memory
# locked; when its log blocks (a full pipe that nobody reads) and a thread
# waits in it holding the log lock, it stops pinging and says it is stuck,
# and pings again once the log drains.
# adjust applies a changed configuration file by messages (a mode and a
# lag bound; run again, nothing to change) and refuses a changed leg,
# changing nothing.
# kernels: one
# budget: 300
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_xrepl

ramdisks 4 16
make_leg a-local /dev/ram0
make_leg a-remote /dev/ram1
make_leg b-local /dev/ram2
make_leg b-remote /dev/ram3
root=$T_TMP/root
must "make install" make -s -C "$REPO_ROOT/userspace" install O="$REPO_ROOT/userspace" \
	PREFIX="$root/usr" SYSCONFDIR="$root/etc"
units=$root/usr/lib/systemd/system
for v in a b; do
	cat >"$root/etc/xrepl/$P-$v.conf" <<CONF
local = /dev/mapper/$P-$v-local
remote = /dev/mapper/$P-$v-remote
meta = none
nosync = yes
CONF
done

step "the generator wants one instance per configuration file"
must "generator" "$root/usr/lib/systemd/system-generators/xrepl-volumes-generator" \
	"$T_TMP/gen" "$T_TMP/gen-early" "$T_TMP/gen-late"
assert_eq "xrepl@$P-a.service xrepl@$P-b.service" \
	"$(find "$T_TMP/gen/xrepl-volumes.target.wants" -mindepth 1 -printf '%f\n' | sort | xargs)" \
	"instances the target wants"

step "each instance brings its own volume up, and down"
# instance_cmd KEY NAME: the unit's ExecStart or ExecStop for instance NAME.
instance_cmd() { sed -n "s/^$1=//p" "$units/xrepl@.service" | sed "s/%i/$2/g"; }
for v in a b; do
	# shellcheck disable=SC2046  # word splitting as systemd does it
	must "xrepl@$P-$v ExecStart" $(instance_cmd ExecStart "$P-$v")
	_DM_DEVS+=("$P-$v")
	udev_settle_node "/dev/mapper/$P-$v"
	assert_status "/dev/mapper/$P-$v" remote insync
done
# shellcheck disable=SC2046
must "xrepl@$P-a ExecStop" $(instance_cmd ExecStop "$P-a")
dmsetup info "$P-a" >/dev/null 2>&1 && fail "$P-a still exists after its ExecStop"
assert_status "/dev/mapper/$P-b" remote insync
write_at "/dev/mapper/$P-b" 0 65536
assert_legs_equal "/dev/mapper/$P-b-local" "/dev/mapper/$P-b-remote"
log "ok: stopping xrepl@$P-a removed $P-a alone"

step "adjust: a changed mode and lag bound are applied by messages"
CTL=${root}/usr/sbin/xreplctl
B=/dev/mapper/$P-b
conf_b=$root/etc/xrepl/$P-b.conf
printf 'mode = async\nmax_lag_kb = 4096\n' >>"$conf_b"
out=$("$CTL" --config-dir "$root/etc/xrepl" --dry-run adjust "$P-b") || fail "adjust --dry-run: $out"
assert_eq "message $P-b 0 mode async
message $P-b 0 set max_lag_kb 4096" "$out" "adjust --dry-run"
assert_status "$B" mode sync
out=$("$CTL" --config-dir "$root/etc/xrepl" adjust "$P-b") || fail "adjust: $out"
log "$out"
assert_status "$B" mode async
assert_match " max_lag_kb 4096" "$(dmsetup table "$P-b")" "table after adjust"
out=$("$CTL" --config-dir "$root/etc/xrepl" adjust "$P-b") || fail "adjust again: $out"
assert_eq "$P-b: nothing to change" "$out" "adjust with nothing changed"
# A key the file no longer gives goes back to its default.
sed -i '/^max_lag_kb/d' "$conf_b"
must "adjust to the default" "$CTL" --config-dir "$root/etc/xrepl" adjust "$P-b"
assert_match " max_lag_kb 65536" "$(dmsetup table "$P-b")" "table after adjust to the default"

step "adjust refuses a changed leg and changes nothing"
printf 'max_lag_kb = 8192\n' >>"$conf_b"
sed -i "s|^local = .*|local = /dev/mapper/$P-a-local|" "$conf_b"
table0=$(dmsetup table "$P-b")
rc=0
"$CTL" --config-dir "$root/etc/xrepl" adjust "$P-b" >"$T_TMP/adjust.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "adjust's exit status with a changed leg ($(cat "$T_TMP/adjust.out"))"
assert_match "local: the configuration says /dev/mapper/$P-a-local" "$(cat "$T_TMP/adjust.out")" \
	"adjust's message"
assert_eq "$table0" "$(dmsetup table "$P-b")" "the table after a refused adjust"
sed -i "s|^local = .*|local = /dev/mapper/$P-b-local|; /^max_lag_kb/d" "$conf_b"

step "the monitor: READY=1, then a watchdog ping every half interval"
cat >"$T_TMP/notify.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        for line in s.recv(4096).decode().splitlines():
            f.write(f"{time.monotonic():.3f} {line}\n")
PY
# The monitor's log goes to a pipe of one page that nobody reads until
# LOG.drain exists: once it is full, the monitor's log lock stays taken.
cat >"$T_TMP/pipemon.py" <<'PY'
import fcntl, os, subprocess, sys, time
log, cmd = sys.argv[1], sys.argv[2:]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
p = subprocess.Popen(cmd, stderr=w)
os.close(w)
with open(log + ".pid", "w") as f:
    f.write(str(p.pid))
while not os.path.exists(log + ".drain"):
    time.sleep(0.1)
with open(log, "ab") as f:
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        f.write(b)
        f.flush()
p.wait()
PY
NOTES=$T_TMP/notes
LOGF=$T_TMP/monitor.log
bg python3 "$T_TMP/notify.py" "$T_TMP/notify.sock" "$NOTES"
for (( i = 0; i < 100; i++ )); do
	grep -q listening "$NOTES" 2>/dev/null && break
	sleep 0.1
done
monitor=$(sed -n 's/^ExecStart=//p' "$units/xrepl-monitor.service")
grep -qx 'Type=notify' "$units/xrepl-monitor.service" || fail "the monitor's unit is not Type=notify"
grep -q '^WatchdogSec=' "$units/xrepl-monitor.service" || fail "the monitor's unit has no WatchdogSec="
XREPL_MONITOR_OPTS=
# shellcheck disable=SC2086  # $XREPL_MONITOR_OPTS: as systemd splits it
bg env NOTIFY_SOCKET="$T_TMP/notify.sock" WATCHDOG_USEC=2000000 \
	python3 "$T_TMP/pipemon.py" "$LOGF" ${monitor%% *} monitor $XREPL_MONITOR_OPTS
at_exit_first "touch '$LOGF.drain'"
for (( i = 0; i < 300; i++ )); do
	grep -q ' READY=1$' "$NOTES" && break
	sleep 0.1
done
grep -q ' READY=1$' "$NOTES" || fail "no READY=1 within 30 s"
MON=$(cat "$LOGF.pid")
pings() { grep -c ' WATCHDOG=1$' "$NOTES" || true; }
n0=$(pings)
sleep 5
n1=$(pings)
log "watchdog pings in 5 s: $(( n1 - n0 ))"
# One a second (half of 2 s): about 5; at least 3 on a slow machine.
assert_cmp $(( n1 - n0 )) -ge 3 "watchdog pings in 5 s"
assert_cmp $(( n1 - n0 )) -le 7 "watchdog pings in 5 s"
locked=$(awk '/^VmLck:/ { print $2 }' "/proc/$MON/status")
log "locked memory: $locked kB"
assert_cmp "$locked" -gt 0 "VmLck of the monitor (kB)"

step "a monitor stuck on its log stops pinging; it pings again once unstuck"
# Events until the log pipe is full and a watching thread blocks in it,
# holding the log lock.
stuck=0 round=0
for (( burst = 0; burst < 4 && !stuck; burst++ )); do
	for (( i = 0; i < 15; i++, round++ )); do
		dmsetup message "$P-b" 0 remote down
		dmsetup message "$P-b" 0 remote up
		wait_for_status "/dev/mapper/$P-b" remote insync 60 >/dev/null
	done
	n0=$(pings)
	sleep 3
	(( $(pings) == n0 )) && stuck=1
done
(( stuck )) || fail "the watchdog was still pinged after $round rounds of events"
log "no pings for 3 s after $round rounds of events"
n0=$(pings)
sleep 3
assert_eq "$n0" "$(pings)" "pings while the log is blocked"
touch "$LOGF.drain"
for (( i = 0; i < 100; i++ )); do
	(( $(pings) > n0 )) && break
	sleep 0.1
done
assert_cmp "$(pings)" -gt "$n0" "pings once the log drains"
for (( i = 0; i < 50; i++ )); do
	grep -q "monitor: stuck" "$LOGF" && break
	sleep 0.1
done
grep -q "device=$P-b event=watching" "$LOGF" || fail "the monitor's log has no watching line"
grep -q "monitor: stuck: the watchdog is no longer pinged" "$LOGF" ||
	fail "the monitor did not log that it was stuck"
kill "$MON"
