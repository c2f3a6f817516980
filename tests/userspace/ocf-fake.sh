#!/usr/bin/env bash
# Stand-ins for xreplctl, xrepl-dump and dmsetup, for the host test of the
# OCF agent's protocol (ocf-agent.sh): a device "exists" while the file
# $FAKE/dev/<name> does, the metadata's role is in $FAKE/role, and what
# status --check exits with and the health reason in $FAKE/check and
# $FAKE/reason.
# Called as one of the three (by the name of the link).
set -u
: "${FAKE:?}"
echo "$(basename "$0") $*" >>"$FAKE/calls"
case "$(basename "$0")" in
dmsetup)
	[[ "$1" == info && -e "$FAKE/dev/$2" ]] ;;
xrepl-dump)
	echo "  role: 0 $(cat "$FAKE/role")" ;;
xreplctl)
	while [[ "$1" == --config-dir ]]; do shift 2; done
	case "$1" in
	promote) touch "$FAKE/dev/$2"; echo primary >"$FAKE/role" ;;
	remove) rm -f "$FAKE/dev/$2" ;;
	demote)
		[[ "$(cat "$FAKE/role")" == primary ]] || exit 1
		echo secondary >"$FAKE/role" ;;
	attach) exit 1 ;;
	status)
		if [[ "$2" == --check ]]; then
			exit "$(cat "$FAKE/check" 2>/dev/null || echo 0)"
		fi
		cat "$FAKE/reason" 2>/dev/null ;;
	adjust) ;;
	*) exit 2 ;;
	esac ;;
esac
