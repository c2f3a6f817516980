#!/usr/bin/env bash
# xreplctl drill's process handling, on the host, against stand-ins for
# lvm (a directory of files for its volumes; lvremove fails while a file
# named busy is open) and a secondary's metadata image (mkmeta.py):
#   - what the command leaves running in its group after a timeout is
#     killed, and the snapshot goes: exit 7, nothing left;
#   - metadata written while the snapshot is taken (a resync started):
#     refused, the snapshot removed;
#   - --cow-size reaches lvcreate in bytes;
#   - started with SIGCHLD ignored, statuses are still seen;
#   - SIGTERM to the drill's whole group (as a Ctrl-C would send SIGINT)
#     while lvcreate runs: lvcreate finishes, the snapshot is removed,
#     exit 143 (SIGINT itself is ignored by jobs a script starts);
#   - SIGTERM right after the command starts is passed on to it.
# The drill against LVM in the kernel is integration test 272.
# Prints "ok", or what failed, and exits 1.
#
# Usage: drill.sh XREPLCTL
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTL=$1
W=$(mktemp -d /tmp/xrepl-drill.XXXXXX)
trap 'rm -rf "$W"' EXIT
export FAKE_DIR=$W/lv
mkdir -p "$FAKE_DIR" "$W/bin"
cat >"$W/bin/lvm" <<'EOF'
#!/bin/sh
# Stand-in for lvm: a volume is a file in $FAKE_DIR; every call logged.
echo "lvm $*" >>"$FAKE_DIR/log"
for a; do last=$a; done
f="$FAKE_DIR/lv_$(echo "${last#/dev/}" | tr / _)"
case "$1" in
lvs) [ -e "$f" ] || exit 5 ;;
lvcreate)
	while [ $# -gt 0 ]; do [ "$1" = -n ] && name=$2; shift; done
	touch "$FAKE_DIR/lv_${last%%/*}_$name"
	[ -z "${LVCREATE_AFTER:-}" ] || eval "$LVCREATE_AFTER" ;;
lvremove)
	for fd in /proc/[0-9]*/fd/*; do
		if [ "$(readlink "$fd" 2>/dev/null)" = "$FAKE_DIR/busy" ]; then
			echo "  Logical volume in use." >&2
			exit 5
		fi
	done
	rm -f "$f" ;;
esac
exit 0
EOF
chmod +x "$W/bin/lvm"
export PATH="$W/bin:$PATH"
touch "$FAKE_DIR/busy"
M=$W/meta.img
python3 "$HERE/mkmeta.py" "$M" --dev-sectors 8192 --region-size 1024 --role 2 \
	--flags 1 --data-time "$(( $(date +%s) - 60 ))" --gen-current 0x1234abcd \
	--gen-history 0 0 >/dev/null || { echo "mkmeta.py failed"; exit 1; }
bad=0
no() { echo "$*"; bad=1; }
left() {
	local f
	for f in "$FAKE_DIR"/lv_*; do
		[[ -e "$f" ]] && printf '%s ' "${f##*/}"
	done
}
drill() { "$CTL" drill --lv vg/lv --meta "$M" "$@" >"$W/out" 2>&1; }

# A timeout, and a process the command left that ignores SIGTERM.
rc=0
drill --timeout 1 -- sh -c "(trap '' TERM; exec sleep 60 <$FAKE_DIR/busy) & wait" || rc=$?
[[ $rc == 7 ]] || no "timeout: exit $rc, expected 7: $(cat "$W/out")"
[[ -z "$(left)" ]] || no "timeout: left behind: $(left)"
pgrep -f "^sleep 60$" >/dev/null && { no "timeout: the command's sleep survived"; pkill -KILL -f "^sleep 60$"; }

# The metadata written while the snapshot is taken.
cp "$M" "$W/m2.img"
g=$(python3 "$HERE/../lib/sbedit.py" "$W/m2.img" get generation)
rc=0
LVCREATE_AFTER="python3 $HERE/../lib/sbedit.py $W/m2.img set flags=0 generation=$(( g + 1 ))" \
	"$CTL" drill --lv vg/lv --meta "$W/m2.img" -- true >"$W/out" 2>&1 || rc=$?
[[ $rc == 1 ]] || no "changed metadata: exit $rc, expected 1: $(cat "$W/out")"
grep -q "not consistent" "$W/out" || no "changed metadata: no refusal: $(cat "$W/out")"
grep -q "running" "$W/out" && no "changed metadata: the command ran"
[[ -z "$(left)" ]] || no "changed metadata: left behind: $(left)"

# --cow-size in bytes.
drill --cow-size 64M -- true || no "cow-size: $(cat "$W/out")"
grep -q -- "-L 67108864b " "$FAKE_DIR/log" || no "cow-size: lvcreate got $(grep lvcreate "$FAKE_DIR/log" | tail -n1)"

# SIGCHLD ignored by the parent.
rc=0
python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execv(sys.argv[1], sys.argv[1:])' "$CTL" drill --lv vg/lv --meta "$M" -- true >"$W/out" 2>&1 || rc=$?
[[ $rc == 0 ]] || no "SIGCHLD ignored: exit $rc: $(cat "$W/out")"
[[ -z "$(left)" ]] || no "SIGCHLD ignored: left behind: $(left)"

# A signal to the whole group (as a Ctrl-C) while lvcreate runs.
rc=0
setsid bash -c "LVCREATE_AFTER='sleep 2' '$CTL' drill --lv vg/lv --meta '$M' -- true" \
	>"$W/out" 2>&1 &
pid=$!
sleep 1
kill -TERM -- "-$pid" 2>/dev/null
wait "$pid" || rc=$?
[[ $rc == 143 ]] || no "signal in lvcreate: exit $rc, expected 143: $(cat "$W/out")"
grep -q "snapshot /dev/vg/lv-xrepl-drill removed" "$W/out" || no "signal in lvcreate: $(cat "$W/out")"
[[ -z "$(left)" ]] || no "signal in lvcreate: left behind: $(left)"

# SIGTERM as the command starts: passed on to it.
rc=0
"$CTL" drill --lv vg/lv --meta "$M" -- sleep 30 >"$W/out" 2>&1 &
pid=$!
for (( i = 0; i < 100; i++ )); do
	grep -q running "$W/out" && break
	sleep 0.05
done
kill -TERM "$pid"
t0=$SECONDS
wait "$pid" || rc=$?
(( SECONDS - t0 < 10 )) || no "SIGTERM: the drill took $(( SECONDS - t0 )) s"
[[ $rc == 143 ]] || no "SIGTERM: exit $rc, expected 143: $(cat "$W/out")"
[[ -z "$(left)" ]] || no "SIGTERM: left behind: $(left)"

(( bad )) && exit 1
echo ok
