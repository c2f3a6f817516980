#!/usr/bin/env bash
# The bash completion of xreplctl (userspace/completion/xreplctl): the
# words it offers for commands, options, device names (a stand-in dmsetup
# lists two xrepl devices), configuration names (a scratch --config-dir)
# and report fields (from the real xreplctl's "status -o help").
# Prints "ok", or each wrong completion, and exits 1.
#
# Usage: completion.sh XREPLCTL_DIR
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/xrepl-completion.XXXXXX")
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/bin" "$W/conf"
cat >"$W/bin/dmsetup" <<'EOF'
#!/bin/sh
[ "$*" = "ls --target xrepl" ] || exit 1
printf 'vm1\t(254:1)\nvm2\t(254:2)\n'
EOF
chmod +x "$W/bin/dmsetup"
touch "$W/conf/db.conf" "$W/conf/web.conf" "$W/conf/notes.txt"
PATH="$W/bin:$1:$PATH"

# shellcheck source=userspace/completion/xreplctl
. "$REPO/userspace/completion/xreplctl"

bad=0
# want LINE WORDS...: completing LINE (the cursor at its end) offers WORDS.
want() {
	local line=$1 got
	shift
	read -r -a COMP_WORDS <<<"$line"
	[[ "$line" == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	COMPREPLY=()
	_xreplctl
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	local exp
	exp=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[[ "$*" == "" ]] && exp=" "
	[[ ${#COMPREPLY[@]} -eq 0 ]] && got=" "
	if [[ "$got" != "$exp" ]]; then
		echo "'$line': offered [$got], wanted [$exp]"
		bad=1
	fi
}

want "xreplctl st" status
want "xreplctl w" wait
want "xreplctl m" metrics mode monitor
want "xreplctl a" attach adjust
want "xreplctl -c $W/conf adjust " db web
want "xreplctl --d" --dry-run
want "xreplctl status --ch" --check
want "xreplctl status --re" --reportformat
want "xreplctl status --reportformat " basic json
want "xreplctl status " vm1 vm2
want "xreplctl status vm1 " vm1 vm2
want "xreplctl wait " vm1 vm2
want "xreplctl wait vm1 --t" --timeout
want "xreplctl metrics v" vm1 vm2
want "xreplctl mode vm1 " sync semi-sync async periodic
want "xreplctl set vm2 " resync_rate_kbps semi_timeout_ms max_lag_kb congestion
want "xreplctl set vm2 congestion " block degrade
want "xreplctl -c $W/conf up " db web
want "xreplctl --config-dir $W/conf down w" web
want "xreplctl -c $W/conf attach " db web
# As bash splits it: "--config-dir", "=", the directory.
want "xreplctl --config-dir = $W/conf up " db web
want "xreplctl up --a" --all
want "xreplctl create x --mode " sync semi-sync async periodic
want "xreplctl ch" checkpoint
want "xreplctl create x -o a" async
want "xreplctl status -o health" health health_reason
want "xreplctl status -o name,out_" name,out_of_sync
want "xreplctl status -O -" ""
want "xreplctl status --units " h b s k m g t p e H B S K M G T P E
want "xreplctl resync vm1 --" --full
want "xreplctl re" remote-down remote-up remove resync restore release
want "xreplctl restore --" --to
want "xreplctl restore --to $W/conf/d" "$W/conf/db.conf"
want "xreplctl restore --to /dev/x $W/conf/w" "$W/conf/web.conf"
want "xreplctl remote-down " vm1 vm2

(( bad == 0 )) && echo ok
exit "$bad"
