#!/usr/bin/env bash
# The KUnit suites, run inside the guest kernel as a module
# (dm-xrepl-kunit.ko, built by scripts/check-debug.sh for the debug kernel
# and passed as XREPL_KUNIT_KO): KASAN, lockdep and kmemleak watch them
# there.  Every suite must report "ok" and no case may fail.  Skipped
# without XREPL_KUNIT_KO (make check runs the suites on UML instead).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

ko=${XREPL_KUNIT_KO:-}
[[ -n "$ko" ]] || skip "no XREPL_KUNIT_KO (the KUnit suites run on UML in make check)"
[[ -r "$ko" ]] || fail "$ko is missing"
kmsg_mark
must "insmod $ko" insmod "$ko"
must "rmmod dm_xrepl_kunit" rmmod dm_xrepl_kunit
dmesg_since_mark | sed -n 's/^\[[ 0-9.]*\] //p' | grep -E '^ *(# |ok |not ok |KTAP)' >"$T_TMP/ktap"
sed 's/^/    ktap| /' "$T_TMP/ktap" | grep -E 'ktap\| *(# [a-z_-]+: pass|not ok|ok [0-9]+ [a-z])' || true
suites=$(grep -c -E '^ok [0-9]+ ' "$T_TMP/ktap" || true)
(( suites > 0 )) || fail "no KUnit suite reported"
if grep -q 'not ok' "$T_TMP/ktap"; then
	fail "a KUnit case failed: $(grep 'not ok' "$T_TMP/ktap" | head -n 5 | tr '\n' ' ')"
fi
log "ok: $suites KUnit suites passed in the kernel"
