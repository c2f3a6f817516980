# shellcheck shell=bash
# test_header FILE KEY: the value of the "# KEY: VALUE" line in the leading
# comment block of a test script (every line up to the first that is not a
# comment), or nothing.  The integration and crash tests' "# budget: N"
# and "# kernels: one" lines are read with it, on the host and in the
# guest alike, wherever they are in that block.
test_header() {
	awk -v key="$2" '
		!/^#/ { exit }
		$0 ~ "^# " key ":" {
			sub("^# " key ": *", ""); sub(" *$", ""); print; exit
		}' "$1"
}
