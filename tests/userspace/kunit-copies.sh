#!/usr/bin/env bash
# The copies of dm-xrepl/ that the KUnit builds compile: scripts/kunit.sh
# and scripts/lint.sh (the UML tree), scripts/check-debug.sh (the module
# for the debug kernel).  Each must hold the current version of every
# source that dm-xrepl/Kbuild names in xrepl-kunit-suites and
# xrepl-kunit-helpers and of every header, and build exactly those objects.
#
# The script runs on a scratch copy of the repository in which a helper
# includes a header no script names, and dm-xrepl-y has an object that is
# no helper; the copy it writes to starts out stale.  Whatever would build,
# boot or install something is a stand-in: make (except when it reads a
# makefile given with -f), sparse, shellcheck, perl, dpkg-query, kunit.py,
# scripts/setup.sh, scripts/debug-kernel.sh and tests/run-integration.sh.
#
# "kbuild" checks the lists themselves: every *-kunit.c is a suite, every
# helper and every other source is in dm-xrepl-y, no suite is.
#
# Usage: tests/userspace/kunit-copies.sh kunit|lint|check-debug|kbuild
# Prints "ok", or what is wrong (and the script's output), and exits 1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
which=${1:-}
case "$which" in
kunit|lint|check-debug|kbuild) ;;
*) echo "usage: kunit-copies.sh kunit|lint|check-debug|kbuild" >&2; exit 2 ;;
esac
REAL_MAKE=$(command -v make)

# kbuild_words MAKEFILE VAR: the words of VAR in MAKEFILE, sorted.
kbuild_words() {
	"$REAL_MAKE" -r -R -s --no-print-directory -f - print <<-EOF | sort
	include $1
	print: ; @printf '%s\n' \$($2)
	EOF
}

if [[ "$which" == kbuild ]]; then
	K=$REPO/dm-xrepl/Kbuild
	module=$(kbuild_words "$K" dm-xrepl-y)
	suites=$(kbuild_words "$K" xrepl-kunit-suites)
	rc=0
	for o in $(kbuild_words "$K" xrepl-kunit-helpers); do
		grep -qxF "$o" <<<"$module" || { echo "helper $o is not in dm-xrepl-y"; rc=1; }
	done
	for f in $(cd "$REPO/dm-xrepl" && find . -maxdepth 1 -name '*.c' ! -name '*.mod.c' -printf '%f\n'); do
		o=${f%.c}.o
		if grep -qxF "$o" <<<"$suites"; then
			grep -qxF "$o" <<<"$module" && { echo "suite $o is in dm-xrepl-y"; rc=1; }
		elif [[ "$f" == *-kunit.c ]]; then
			echo "dm-xrepl/$f is not in xrepl-kunit-suites: it never runs"
			rc=1
		elif ! grep -qxF "$o" <<<"$module"; then
			echo "dm-xrepl/$f is neither in dm-xrepl-y nor in xrepl-kunit-suites"
			rc=1
		fi
	done
	(( rc == 0 )) && echo ok
	exit "$rc"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/xrepl-kunit-copies.XXXXXX")
trap 'rm -rf "$W"' EXIT
R=$W/repo C=$W/cache KDIR=$W/kdir
T=$C/linux-source-6.1
UML_DIR=$T/drivers/md/xrepl-kunit
mkdir -p "$R/dm-xrepl" "$R/tests" "$W/bin" "$KDIR"

# --- the scratch repository ----------------------------------------------------
cp -a "$REPO/scripts" "$R/"
(cd "$REPO/dm-xrepl" && find . -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) \
	! -name '*.mod.c' -exec cp {} "$R/dm-xrepl/" \;)
cp "$REPO/dm-xrepl/Kbuild" "$REPO/dm-xrepl/.kunitconfig" "$R/dm-xrepl/"

helpers=$(kbuild_words "$R/dm-xrepl/Kbuild" xrepl-kunit-helpers)
[[ -n "$helpers" ]] || { echo "dm-xrepl/Kbuild names no xrepl-kunit-helpers"; exit 1; }
helper=$(head -n 1 <<<"$helpers")
printf '/* A header only a helper includes. */\n' >"$R/dm-xrepl/xrepl-copies-test.h"
printf '#include "xrepl-copies-test.h"\n' >>"$R/dm-xrepl/${helper%.o}.c"
printf '/* Needs device-mapper core. */\n' >"$R/dm-xrepl/xrepl-copies-core.c"
printf 'dm-xrepl-y += xrepl-copies-core.o\n' >>"$R/dm-xrepl/Kbuild"

objs=$( { kbuild_words "$R/dm-xrepl/Kbuild" xrepl-kunit-suites; echo "$helpers"; } | sort)
want=()
for o in $objs; do
	want+=("${o%.o}.c")
done
mapfile -t -O "${#want[@]}" want < <(find "$R/dm-xrepl" -maxdepth 1 -name '*.h' -printf '%f\n')

# --- stand-ins -----------------------------------------------------------------
cat >"$W/bin/make" <<EOF
#!/bin/sh
for a; do [ "\$a" = -f ] && exec "$REAL_MAKE" "\$@"; done
exit 0
EOF
printf '#!/bin/sh\nexit 0\n' >"$W/bin/true-stub"
for t in sparse shellcheck perl; do
	cp "$W/bin/true-stub" "$W/bin/$t"
done
printf '#!/bin/sh\nprintf "ii "\n' >"$W/bin/dpkg-query"
cp "$W/bin/true-stub" "$R/scripts/setup.sh"
printf '#!/bin/sh\necho "KVER=0.0-test KDIR=%s"\n' "$KDIR" >"$R/scripts/debug-kernel.sh"
printf '#!/bin/sh\necho "vm.sh is not for this test" >&2\nexit 1\n' >"$R/scripts/vm.sh"
cat >"$R/tests/run-integration.sh" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
	[ "$1" = --results ] && echo "PASS stand-in" >"$2"
	shift
done
EOF
chmod +x "$W/bin"/* "$R/scripts"/*.sh "$R/tests/run-integration.sh"

# The UML tree: the kunit.py of a run whose one case passed, the files
# kunit.sh patches, checkpatch, the .config of a finished run.
mkdir -p "$T/tools/testing/kunit" "$T/scripts" "$UML_DIR" "$C/kunit-build"
cat >"$T/tools/testing/kunit/kunit.py" <<'EOF'
import json
import sys
for a in sys.argv:
    if a.startswith("--json="):
        with open(a[len("--json="):], "w") as f:
            json.dump({"name": "main", "status": "PASS", "test_cases": [],
                       "sub_groups": [{"name": "stand-in", "status": "PASS",
                                       "test_cases": [{"name": "case", "status": "PASS"}],
                                       "sub_groups": []}]}, f)
EOF
printf 'endif # MD\n' >"$T/drivers/md/Kconfig"
: >"$T/drivers/md/Makefile"
: >"$T/scripts/checkpatch.pl"
echo CONFIG_DM_XREPL_KUNIT_TEST=y >"$C/kunit-build/.config"

# stale DIR MAKEFILE: DIR holds an old copy of every file, a source and a
# header dm-xrepl/ does not have, and an old MAKEFILE.
stale() {
	local f
	mkdir -p "$1"
	for f in "${want[@]}" xrepl-gone.c xrepl-gone.h; do
		echo "/* stale */" >"$1/$f"
	done
	echo "dm-xrepl-kunit-y := xrepl-stale.o" >"$1/$2"
}

# check DIR MAKEFILE: DIR holds the current version of every file the build
# needs and no file dm-xrepl/ does not have, and MAKEFILE builds exactly the
# objects Kbuild names.
check() {
	local f got bad=()
	for f in "${want[@]}"; do
		cmp -s "$R/dm-xrepl/$f" "$1/$f" || bad+=("$f")
	done
	(( ${#bad[@]} == 0 )) || echo "stale or missing in the copy: ${bad[*]}"
	for f in "$1"/xrepl-gone.*; do
		[[ -e "$f" ]] || continue
		echo "left in the copy: ${f##*/}"
		bad+=("${f##*/}")
	done
	got=$(kbuild_words "$1/$2" dm-xrepl-kunit-y)
	if [[ "$got" != "$objs" ]]; then
		echo "$2 builds $(tr '\n' ' ' <<<"$got")but Kbuild names $(tr '\n' ' ' <<<"$objs")"
		bad+=("$2")
	fi
	(( ${#bad[@]} == 0 ))
}

export XREPL_CACHE=$C KVER=0.0-test KDIR PATH="$W/bin:$PATH"
case "$which" in
kunit|lint)
	stale "$UML_DIR" Makefile
	dir=$UML_DIR makefile=Makefile ;;
check-debug)
	dir=$C/debug-kernel/kunit-module makefile=Kbuild ;;
esac
rc=0
bash "$R/scripts/$which.sh" >"$W/log" 2>&1 || rc=$?
if ! check "$dir" "$makefile"; then
	echo "scripts/$which.sh (exit status $rc) said:"
	tail -n 15 "$W/log"
	exit 1
fi
echo ok
