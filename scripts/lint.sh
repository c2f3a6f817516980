#!/usr/bin/env bash
# Static checks of the dm-xrepl sources; exits non-zero on any finding.
#
#  1. checkpatch --strict on every .c/.h in dm-xrepl/ (checkpatch.pl from
#     the cached Linux 6.1 source tree)
#  2. sparse (C=2) over the module, built against the Debian headers
#  3. with W=1 in the same build: zero compiler or modpost warnings
#  4. sparse and W=1 on the KUnit suites and the helpers they test, in the
#     UML tree of scripts/kunit.sh (skipped, with a note, until kunit.sh
#     has run once)
#  5. the offline tools in userspace/ built with the flags of their Makefile
#     (-Wall -Wextra -Werror ...), and again with gcc's -fanalyzer, into
#     $XREPL_CACHE/lint/userspace
#  6. shellcheck (with -x) of the shell scripts in SHELLCHECKED below
#  7. Documentation/*.rst parses without a docutils warning (skipped,
#     with a note, without docutils)
#
# Steps 2 and 3 build a copy of dm-xrepl/ under $XREPL_CACHE/lint, so they
# never race with a build in the work tree and always compile every file.
# Do not run this at the same time as scripts/kunit.sh (step 4 shares its
# build directory).
#
# XREPL_LINT_KERNEL_ONLY=1 runs only steps 2 and 3, the ones that depend on
# the kernel built against (the second kernel of .ci/run and make
# check-all: the others ran with the first).
#
# Usage: scripts/lint.sh
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -f "$REPO_ROOT/scripts/lib.sh" ]]; then
	# shellcheck source=scripts/lib.sh
	. "$REPO_ROOT/scripts/lib.sh"
	KVER=$(detect_kver) || { echo "lint: cannot determine the kernel version" >&2; exit 1; }
else
	CACHE=${XREPL_CACHE:-${HOME:-/root}/.cache/dm-xrepl}
	KVER=${KVER:-$(apt-cache depends linux-headers-amd64 2>/dev/null |
		awk '/Depends: linux-headers-[0-9]/ { sub("linux-headers-", "", $2); print $2; exit }')}
	[[ -n "$KVER" ]] || { echo "lint: cannot determine the kernel version" >&2; exit 1; }
fi
KDIR=${KDIR:-/usr/src/linux-headers-$KVER}
SRC="$REPO_ROOT/dm-xrepl"
TREE="$CACHE/linux-source-6.1"
SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
LINT_DIR="$CACHE/lint"
COPY="$LINT_DIR/dm-xrepl"
KUNIT_BUILD="$CACHE/kunit-build"
KUNIT_SUBDIR=drivers/md/xrepl-kunit
# shellcheck source=scripts/kunit-lib.sh
. "$REPO_ROOT/scripts/kunit-lib.sh"

echo "lint: checkpatch --strict, sparse and a W=1 build of dm-xrepl/ (kernel $KVER)"

failed=()
mkdir -p "$LINT_DIR"

# Sources to check: hand-written .c/.h only, not Kbuild's *.mod.c.
mapfile -t sources < <(cd "$SRC" && find . -maxdepth 1 -type f \
	\( -name '*.c' -o -name '*.h' \) ! -name '*.mod.c' -printf '%f\n' | sort)
(( ${#sources[@]} )) || { echo "lint: no sources in $SRC" >&2; exit 1; }

indent() { sed 's/^/  /'; }

# kernel_independent WHAT: true when the kernel-independent step WHAT runs.
kernel_independent() {
	[[ "${XREPL_LINT_KERNEL_ONLY:-0}" == 1 ]] || return 0
	echo "lint: $1: skipped, it does not depend on the kernel (XREPL_LINT_KERNEL_ONLY=1)"
	return 1
}

# Print the lines of $1 that are findings (compiler/sparse diagnostics and
# modpost warnings), with the build copy's path mapped back to dm-xrepl/.
findings() {
	grep -E '(: (warning|error): |^WARNING: |^ERROR: )' "$1" |
		sed -e "s|$COPY/|dm-xrepl/|g" -e "s|^\./|dm-xrepl/|" || true
}

# --- 1. checkpatch ------------------------------------------------------------
if kernel_independent "checkpatch"; then
	CHECKPATCH="$TREE/scripts/checkpatch.pl"
	if [[ ! -f "$CHECKPATCH" ]]; then
		# No kunit tree yet: take just checkpatch and its data files.
		CHECKPATCH="$LINT_DIR/checkpatch/scripts/checkpatch.pl"
		if [[ ! -f "$CHECKPATCH" ]]; then
			[[ -r "$SRC_TARBALL" ]] || { echo "lint: $SRC_TARBALL missing (package linux-source-6.1)" >&2; exit 1; }
			mkdir -p "$LINT_DIR/checkpatch"
			tar -xJf "$SRC_TARBALL" -C "$LINT_DIR/checkpatch" --strip-components=1 \
				linux-source-6.1/scripts/checkpatch.pl \
				linux-source-6.1/scripts/spelling.txt \
				linux-source-6.1/scripts/const_structs.checkpatch
		fi
	fi
	# No --ignore is needed: with --file and --no-tree, checkpatch raises no
	# check that only makes sense for in-tree patches.
	cp_log="$LINT_DIR/checkpatch.log"
	: >"$cp_log"
	cp_bad=0
	for f in "${sources[@]}"; do
		if ! (cd "$REPO_ROOT" && perl "$CHECKPATCH" --strict --no-tree --file \
			--terse --no-summary --showfile --color=never "dm-xrepl/$f") >>"$cp_log" 2>&1; then
			cp_bad=1
		fi
	done
	if (( cp_bad )) || [[ -s "$cp_log" ]]; then
		echo "lint: checkpatch findings:"
		indent <"$cp_log"
		failed+=(checkpatch)
	else
		echo "lint: checkpatch: ${#sources[@]} files clean"
	fi
fi

# --- 2./3. module builds in a private copy --------------------------------------
[[ -d "$KDIR" ]] || { echo "lint: $KDIR missing (run scripts/setup.sh)" >&2; exit 1; }
command -v sparse >/dev/null || { echo "lint: sparse is not installed" >&2; exit 1; }
mkdir -p "$COPY"
# -c: unchanged files keep their mtime; --delete drops removed sources.
rsync -rc --delete --include='*.c' --include='*.h' --include=Kbuild \
	--include=Makefile --exclude='*.mod.c' --exclude='*' "$SRC/" "$COPY/"
# Only the module's own objects: the KUnit suites are not in dm-xrepl-y.
make -s -C "$KDIR" M="$COPY" clean >/dev/null 2>&1 || true

# One build does both: sparse checks each file (C=2) as W=1 compiles it.
sparse_log="$LINT_DIR/sparse.log"
rc=0
make -C "$KDIR" M="$COPY" C=2 CF=-D__CHECK_ENDIAN__ W=1 -j"$(nproc)" modules \
	>"$sparse_log" 2>&1 || rc=$?
out=$(findings "$sparse_log")
if (( rc )) || [[ -n "$out" ]]; then
	echo "lint: sparse (C=2) and W=1 findings (make exit $rc, log $sparse_log):"
	if [[ -n "$out" ]]; then indent <<<"$out"; fi
	if (( rc )); then tail -n 20 "$sparse_log" | sed 's/^/  | /'; fi
	failed+=(sparse/W=1)
else
	echo "lint: sparse and W=1 build: clean"
fi

# --- 4. the KUnit build, in the UML tree ----------------------------------------
if kernel_independent "sparse/W=1 of the KUnit build"; then
	if [[ -f "$KUNIT_BUILD/.config" && -d "$TREE/$KUNIT_SUBDIR" ]] &&
		grep -qx 'CONFIG_DM_XREPL_KUNIT_TEST=y' "$KUNIT_BUILD/.config"; then
		# The files and Makefile of kunit.sh, so the check sees the current
		# sources.
		kunit_uml_dir "$TREE/$KUNIT_SUBDIR" ||
			{ echo "lint: cannot set up $TREE/$KUNIT_SUBDIR" >&2; exit 1; }
		ut_log="$LINT_DIR/kunit-sparse-w1.log"
		rc=0
		make -C "$TREE" ARCH=um O="$KUNIT_BUILD" C=2 CF=-D__CHECK_ENDIAN__ W=1 \
			-j"$(nproc)" "$KUNIT_SUBDIR/" >"$ut_log" 2>&1 || rc=$?
		# W=1 also rebuilds UML's own prepare objects, which have upstream
		# warnings: keep only findings in our directory.
		out=$(findings "$ut_log" | grep -F "$KUNIT_SUBDIR/" |
			sed -e "s|$TREE/$KUNIT_SUBDIR/|dm-xrepl/|g" -e "s|^$KUNIT_SUBDIR/|dm-xrepl/|" || true)
		if (( rc )) || [[ -n "$out" ]]; then
			echo "lint: sparse/W=1 findings in the KUnit build (make exit $rc, log $ut_log):"
			if [[ -n "$out" ]]; then indent <<<"$out"; fi
			if (( rc )); then tail -n 20 "$ut_log" | sed 's/^/  | /'; fi
			failed+=(kunit-sparse-W=1)
		else
			echo "lint: sparse/W=1 of the KUnit build (UML): clean"
		fi
	else
		echo "lint: note: sparse/W=1 of the KUnit build skipped (run scripts/kunit.sh once first)"
	fi
fi

# --- 5. the offline tools ---------------------------------------------------------
if kernel_independent "userspace/"; then
	us_log="$LINT_DIR/userspace.log"
	us_out="$LINT_DIR/userspace"
	rm -rf "$us_out" "$us_out-analyzer"
	rc=0
	{
		make -C "$REPO_ROOT/userspace" O="$us_out" &&
		make -C "$REPO_ROOT/userspace" O="$us_out-analyzer" CFLAGS="-O2 -fanalyzer"
	} >"$us_log" 2>&1 || rc=$?
	out=$(grep -E ': (warning|error): ' "$us_log" | sed "s|$REPO_ROOT/||g" || true)
	if (( rc )) || [[ -n "$out" ]]; then
		echo "lint: userspace/ build findings (make exit $rc, log $us_log):"
		if [[ -n "$out" ]]; then indent <<<"$out"; fi
		if (( rc )); then tail -n 20 "$us_log" | sed 's/^/  | /'; fi
		failed+=(userspace)
	else
		echo "lint: userspace/ (-Werror, and -fanalyzer): clean"
	fi
fi

# --- 6. shellcheck ---------------------------------------------------------------
if kernel_independent "shellcheck"; then
	# The scripts held shellcheck-clean, relative to the repository root; the
	# checker runs there so that the paths of source= directives resolve.
	mapfile -t SHELLCHECKED < <(cd "$REPO_ROOT" && printf '%s\n' \
		scripts/vm.sh scripts/check.sh scripts/check-all.sh scripts/check-debug.sh \
		scripts/debug-kernel.sh scripts/lint.sh scripts/kunit.sh scripts/kunit-lib.sh \
		scripts/bench.sh scripts/bench-guest.sh scripts/bench/*.sh \
		tests/run-crash.sh tests/crash/*.sh tests/userspace/*.sh \
		tests/packaging.sh tests/integration/*.sh)
	# Installed scripts, checked as the shell they run under (the generator and
	# the OCF agent are POSIX sh; the completion is sourced by bash).
	SHELLCHECKED_AS=("sh:userspace/systemd/xrepl-volumes-generator.in"
		"sh:userspace/ocf/xrepl.in" "bash:userspace/completion/xreplctl")
	if ! command -v shellcheck >/dev/null; then
		echo "lint: shellcheck is not installed (apt-get install shellcheck)"
		failed+=(shellcheck)
	else
		sc_log="$LINT_DIR/shellcheck.log"
		sc_ok=1
		(cd "$REPO_ROOT" && shellcheck -x "${SHELLCHECKED[@]}") >"$sc_log" 2>&1 || sc_ok=0
		for f in "${SHELLCHECKED_AS[@]}"; do
			# SC1091: the OCF agent sources resource-agents' functions.
			(cd "$REPO_ROOT" && shellcheck -s "${f%%:*}" -e SC1091 "${f#*:}") >>"$sc_log" 2>&1 ||
				sc_ok=0
		done
		if (( sc_ok )); then
			echo "lint: shellcheck: $(( ${#SHELLCHECKED[@]} + ${#SHELLCHECKED_AS[@]} )) scripts clean"
		else
			echo "lint: shellcheck findings:"
			indent <"$sc_log"
			failed+=(shellcheck)
		fi
	fi
fi

# --- 7. the documentation ---------------------------------------------------------
# Documentation/*.rst parses without a docutils warning (a malformed table
# renders as an error block).  Skipped, with a note, without docutils.
if kernel_independent "rst"; then
	if python3 -c 'import docutils' 2>/dev/null; then
		rst_log="$LINT_DIR/rst.log"
		if python3 - "$REPO_ROOT"/Documentation/*.rst >"$rst_log" 2>&1 <<'PY'
import sys
import docutils.core
for path in sys.argv[1:]:
    with open(path) as f:
        docutils.core.publish_doctree(
            f.read(), source_path=path,
            settings_overrides={"report_level": 2, "halt_level": 5})
PY
		then
			if [[ -s "$rst_log" ]]; then
				echo "lint: rst findings:"
				indent <"$rst_log"
				failed+=(rst)
			else
				echo "lint: rst: Documentation/ parses clean"
			fi
		else
			echo "lint: rst check failed to run:"
			indent <"$rst_log"
			failed+=(rst)
		fi
	else
		echo "lint: note: rst check skipped (no python3 docutils)"
	fi
fi

if (( ${#failed[@]} )); then
	echo "lint: FAILED: ${failed[*]}"
	exit 1
fi
echo "lint: all checks passed"
