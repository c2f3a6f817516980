#!/usr/bin/env bash
# As 050, but the remote fails through dm-flakey with error_writes: reads of
# the remote keep working, only its writes fail.
export FAULT_TABLE=flakey XREPL_TEST_NAME
XREPL_TEST_NAME=$(basename "$0" .sh)
modprobe dm-flakey 2>/dev/null || true
exec bash "$(dirname "$0")/050-remote-error-degrade.sh"
