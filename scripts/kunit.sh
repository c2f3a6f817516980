#!/usr/bin/env bash
# Run the dm-xrepl KUnit suites (one per helper: table parser, geometry and
# bitmap, metadata, ship queue) on User Mode Linux, from a cached Linux 6.1
# source tree.
#
# The tree lives in $XREPL_CACHE/linux-source-6.1 (default cache:
# $HOME/.cache/dm-xrepl) and is created from Debian's linux-source-6.1
# package when missing.  The helpers and suites dm-xrepl/Kbuild names are
# copied into drivers/md/xrepl-kunit/ of that tree (scripts/kunit-lib.sh);
# unchanged files keep their mtime, so a re-run only rebuilds what changed.
# The UML build directory is $XREPL_CACHE/kunit-build and the raw kunit.py
# log is kept there as kunit.log.
#
# Output: one line per test case, "PASS kunit:<suite>.<case>" or
# "FAIL kunit:<suite>.<case>".  Exits non-zero on any failed case, on a
# build or boot error, and when no test case ran.
#
# Usage: scripts/kunit.sh [--timeout SECONDS]
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XREPL_CACHE:-${HOME:-/root}/.cache/dm-xrepl}
SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
TREE="$CACHE/linux-source-6.1"
BUILD_DIR="$CACHE/kunit-build"
LOG="$BUILD_DIR/kunit.log"
JSON="$BUILD_DIR/kunit.json"
# Where the project's files go inside the cached tree.
SUBDIR=drivers/md/xrepl-kunit
DEST="$TREE/$SUBDIR"
# shellcheck source=scripts/kunit-lib.sh
. "$REPO_ROOT/scripts/kunit-lib.sh"

timeout=300
while (( $# )); do
	case "$1" in
	--timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "kunit.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

echo "kunit: building and running the dm-xrepl KUnit suite on UML (tree $TREE, build $BUILD_DIR)"

die() { echo "kunit: error: $*" >&2; exit 1; }

# --- 1. packages ----------------------------------------------------------
need_pkgs() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		[[ "$st" == ii* ]] || echo "$p"
	done
}

pkgs=(flex bison bc python3 gcc make libelf-dev rsync)
[[ -f "$TREE/tools/testing/kunit/kunit.py" ]] || pkgs+=(linux-source-6.1)
mapfile -t missing < <(need_pkgs "${pkgs[@]}")
if (( ${#missing[@]} )); then
	echo "kunit: installing ${missing[*]}" >&2
	SUDO=()
	(( EUID == 0 )) || SUDO=(sudo)
	"${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install failed for: ${missing[*]}"
fi

# --- 2. the cached source tree --------------------------------------------
if [[ ! -f "$TREE/tools/testing/kunit/kunit.py" ]]; then
	[[ -r "$SRC_TARBALL" ]] || die "$SRC_TARBALL missing (package linux-source-6.1)"
	echo "kunit: extracting $SRC_TARBALL into $CACHE" >&2
	mkdir -p "$CACHE"
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	tar -xJf "$SRC_TARBALL" -C "$TREE.tmp" --strip-components=1
	mv "$TREE.tmp" "$TREE"
fi

# --- 3. integrate the project's files (idempotent) ------------------------
kunit_uml_dir "$DEST" || die "cannot set up $DEST"

# The Kconfig goes inside the "if MD" block of drivers/md/Kconfig (the
# directory is only descended into with CONFIG_MD); patch once.
kconfig_line="source \"$SUBDIR/Kconfig\""
if ! grep -qxF "$kconfig_line" "$TREE/drivers/md/Kconfig"; then
	grep -qx 'endif # MD' "$TREE/drivers/md/Kconfig" ||
		die "drivers/md/Kconfig has no 'endif # MD' line to patch"
	sed -i "s|^endif # MD\$|$kconfig_line\\n\\nendif # MD|" "$TREE/drivers/md/Kconfig"
	grep -qxF "$kconfig_line" "$TREE/drivers/md/Kconfig" || die "patching drivers/md/Kconfig failed"
fi
# shellcheck disable=SC2016 # a Makefile line, not a shell expansion
make_line='obj-$(CONFIG_DM_XREPL_KUNIT_TEST)	+= xrepl-kunit/'
if ! grep -qxF "$make_line" "$TREE/drivers/md/Makefile"; then
	printf '\n%s\n' "$make_line" >>"$TREE/drivers/md/Makefile"
fi

# --- 4. build and run -----------------------------------------------------
mkdir -p "$BUILD_DIR"
rm -f "$JSON"
t0=$(date +%s)
rc=0
(cd "$TREE" && python3 tools/testing/kunit/kunit.py run \
	--kunitconfig="$DEST/.kunitconfig" \
	--build_dir="$BUILD_DIR" \
	--jobs="$(nproc)" \
	--timeout="$timeout" \
	--json="$JSON") >"$LOG" 2>&1 || rc=$?
elapsed=$(( $(date +%s) - t0 ))

# --- 5. one line per test case ----------------------------------------------
# Parameterised cases appear in the JSON as groups of their parameters;
# they count as one case that passes only when every parameter passes.
summary=$(python3 - "$JSON" "$BUILD_DIR/test.log" <<'EOF' 2>&1
import json
import re
import sys

try:
    with open(sys.argv[1]) as f:
        top = json.load(f)
except (OSError, ValueError) as e:
    print("kunit: no usable results: %s" % e, file=sys.stderr)
    sys.exit(3)

# The JSON lists plain and parameterised cases apart; the raw KTAP log
# gives the order in which they ran.
order = {}
try:
    suite = None
    with open(sys.argv[2], errors="replace") as f:
        for line in f:
            m = re.match(r"^ {4}# Subtest: (\S+)", line)
            if m:
                suite = m.group(1)
                continue
            m = re.match(r"^ {4}(?:not )?ok \d+ (?:- )?(\S+)", line)
            if m:
                order.setdefault((suite, m.group(1)), len(order))
except OSError:
    pass

def group_ok(g):
    return (all(c["status"] in ("PASS", "SKIP") for c in g["test_cases"])
            and all(group_ok(s) for s in g["sub_groups"]))

n = bad = 0

def report(ok, name):
    global n, bad
    print("%s kunit:%s" % ("PASS" if ok else "FAIL", name))
    n += 1
    bad += not ok

# Top level: one group per suite.  A suite that produced no subtests shows
# up as a bare test case; count it only when it did not pass.
for c in top["test_cases"]:
    if c["status"] != "PASS":
        report(False, c["name"])
for s in top["sub_groups"]:
    # (order, name, passed, failed parameters)
    cases = [(c["name"], c["status"] in ("PASS", "SKIP"), [])
             for c in s["test_cases"]]
    cases += [(p["name"], group_ok(p),
               [c["name"] for c in p["test_cases"]
                if c["status"] not in ("PASS", "SKIP")])
              for p in s["sub_groups"]]
    cases.sort(key=lambda c: order.get((s["name"], c[0]), len(order)))
    for name, ok, failed in cases:
        report(ok, s["name"] + "." + name)
        for param in failed:
            print("kunit:   failed parameter: %s" % param, file=sys.stderr)
print("#cases %d %d" % (n, bad))
EOF
) || true

cases=0 failed=0
while IFS= read -r line; do
	case "$line" in
	"#cases "*) read -r _ cases failed <<<"$line" ;;
	*) echo "$line" ;;
	esac
done <<<"$summary"

status=0
if (( rc != 0 )); then
	echo "kunit: kunit.py exited with status $rc after ${elapsed}s" >&2
	status=1
fi
if (( cases == 0 )); then
	echo "kunit: no test case ran" >&2
	status=1
elif (( failed )); then
	echo "kunit: $failed of $cases test cases failed" >&2
	status=1
fi
if (( status )); then
	echo "kunit: last lines of $LOG:" >&2
	tail -n 60 "$LOG" >&2
	exit 1
fi
echo "kunit: all $cases test cases passed (${elapsed}s, log $LOG)"
