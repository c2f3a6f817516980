#!/usr/bin/env bash
# Benchmark dm-xrepl against the raw legs, its in-kernel peers and DRBD:
# builds the module, boots the test VM once and runs scripts/bench-guest.sh
# in it (fio against every configuration, with the remote leg over each
# transport: ram, delay, nvme-tcp, nbd, iscsi; DRBD 8.4 next to nvme-tcp; the
# resync of a fully dirty pair), then scripts/bench-report.py turns the
# figures into a JSON file, Markdown tables and a plot, and refreshes
# docs/benchmarks.md.
#
# Usage: scripts/bench.sh [--no-build] [--no-setup] [--no-docs] [--profile]
#                         [--trace] [--out DIR] [--quick]
#   --no-build  use the dm-xrepl.ko that is there
#   --no-setup  do not run scripts/setup.sh
#   --no-docs   leave docs/benchmarks.md alone (the default when only some
#               configurations, remotes or jobs are selected)
#   --profile   also profile dm-linear and xrepl-sync (QD32, ram remote)
#               with perf in the guest (a few minutes more)
#   --trace     as --profile, but trace the events of every write (QD1)
#               and print each write's steps (scripts/bench-trace.py)
#   --out DIR   results folder (default results/bench-<timestamp>);
#               results/bench-latest points to the last one
#   --quick     2 s + 1 s ramp per job on 64 MiB legs, a 256 MiB resync,
#               no docs: a check that everything works, not a measurement
#
# Environment (defaults in brackets): XREPL_BENCH_RUNTIME [6] and
# XREPL_BENCH_RAMP [2] seconds per job, XREPL_BENCH_SIZE_MB [256] per leg,
# XREPL_BENCH_RESYNC_MB [1024] per leg of the resync pair,
# XREPL_BENCH_RESYNC_REMOTE [nvme-tcp], XREPL_BENCH_REMOTE_LAT_US [1000]
# emulated write latency of the delay remote, XREPL_BENCH_SEMI_TIMEOUT_US
# [10000] semi-sync timeout of the semi-sync rows, XREPL_BENCH_SEED [4242],
# XREPL_BENCH_CONFIGS, XREPL_BENCH_REMOTES (ram,delay,nvme-tcp,nbd,iscsi; slow
# and fast mean delay and ram), XREPL_BENCH_JOBS (see
# scripts/bench-guest.sh), XREPL_BENCH_TIMEOUT (VM timeout, default from
# the above), XREPL_BENCH_MEM (VM MiB, default from the leg sizes),
# XREPL_BENCH_LO_RPS (hex CPU mask: the guest's loopback receive
# processing, and with it the network targets' work, on those vCPUs),
# XREPL_BENCH_FIO_CPUS (fio --cpus_allowed in the guest),
# XREPL_BENCH_LOCAL_MEMORY=0 (a local leg that stores nothing: its writes
# cost no copy; only the write rows mean anything).
#
# Exit status: 0 when every configuration that the target accepts ran; the
# targets are goals, reported as PASS/MISS, and do not change the status.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

do_build=1 do_setup=1 docs=auto profile=${XREPL_BENCH_PROFILE:-0} trace=${XREPL_BENCH_TRACE:-0} out=""
while (( $# )); do
	case "$1" in
	--no-build) do_build=0; shift ;;
	--no-setup) do_setup=0; shift ;;
	--no-docs) docs=no; shift ;;
	--profile) profile=1; shift ;;
	--trace) trace=1; shift ;;
	--out) out=$2; shift 2 ;;
	--quick)
		export XREPL_BENCH_RUNTIME=${XREPL_BENCH_RUNTIME:-2}
		export XREPL_BENCH_RAMP=${XREPL_BENCH_RAMP:-1}
		export XREPL_BENCH_SIZE_MB=${XREPL_BENCH_SIZE_MB:-64}
		export XREPL_BENCH_RESYNC_MB=${XREPL_BENCH_RESYNC_MB:-256}
		docs=no; shift ;;
	-h|--help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" ;;
	esac
done

t0=$(date +%s)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

(( do_setup )) && "$SCRIPTS_DIR/setup.sh"
for c in fio jq python3; do
	command -v "$c" >/dev/null || die "$c is missing (run scripts/setup.sh)"
done
command -v mdadm >/dev/null || warn "mdadm is missing: md-raid1-writebehind will be reported as failed"
command -v nvme >/dev/null || warn "nvme-cli is missing: the nvme-tcp remote will be reported as failed"
if ! command -v nbdkit >/dev/null || ! command -v nbd-client >/dev/null; then
	warn "nbdkit or nbd-client is missing: the nbd remote will be reported as failed"
fi
if ! command -v iscsiadm >/dev/null || ! command -v iscsid >/dev/null; then
	warn "open-iscsi is missing: the iscsi remote will be reported as failed"
fi
[[ -x /usr/lib/drbd/drbdsetup-84 ]] || warn "drbd-utils is missing: the DRBD rows will be reported as failed"
command -v gnuplot >/dev/null || warn "gnuplot is missing: no plot"
init_paths

# Only a full run of the default matrix refreshes the docs.
if [[ "$docs" == auto ]]; then
	docs=yes
	for v in XREPL_BENCH_CONFIGS XREPL_BENCH_REMOTES XREPL_BENCH_JOBS; do
		[[ -n "${!v:-}" ]] && docs=no
	done
fi

# --- results folder ----------------------------------------------------------
results_root="$REPO_ROOT/results"
if [[ -z "$out" ]]; then
	out="$results_root/bench-$(date +%Y%m%d-%H%M%S)"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- build -------------------------------------------------------------------
if (( do_build )); then
	log "building dm-xrepl.ko against $KDIR"
	brc=0
	build_module "$out/build.log" || brc=$?
	case $brc in
	0) ;;
	2) warn "the module built with warnings; benchmarking it anyway" ;;
	*) die "module build failed (see $out/build.log)" ;;
	esac
fi
[[ -f "$MODULE_KO" ]] || warn "no $MODULE_KO: the xrepl configurations will fail"

# --- run -----------------------------------------------------------------------
runtime=${XREPL_BENCH_RUNTIME:-6} ramp=${XREPL_BENCH_RAMP:-2}
size_mb=${XREPL_BENCH_SIZE_MB:-256} resync_mb=${XREPL_BENCH_RESYNC_MB:-1024}
# The default matrix: raw-local and dm-linear once, 6 rows with each of the
# 4 remotes, 3 DRBD rows: 29 fio processes (~6 s to start under TCG)
# running 3 jobs each; plus prefilling, 2 resyncs of the resync pair (well
# above 20 MB/s), booting; twice that as margin.
est=$(( 29 * (6 + 3 * (runtime + ramp + 1)) + 8 * size_mb / 30 + 4 * resync_mb / 20 + 180 ))
# The periodic rows: 5 of XREPL_BENCH_PERIODIC_RUNTIME, 3 QD1 runs.
est=$(( est + 5 * (${XREPL_BENCH_PERIODIC_RUNTIME:-60} + 15) + 3 * (runtime + ramp + 6) ))
(( profile || trace )) && est=$(( est + 2 * runtime + 400 ))
timeout_s=${XREPL_BENCH_TIMEOUT:-$(( 2 * est ))}
# Memory: the local leg, one remote (and the NBD server's page cache of it)
# at a time, or the two resync legs, plus the guest itself.
need=$(( 3 * size_mb > size_mb + 2 * resync_mb ? 3 * size_mb : size_mb + 2 * resync_mb ))
mem=${XREPL_BENCH_MEM:-$(( need + 1024 > 2560 ? need + 1024 : 2560 ))}

guest_args=()
(( profile )) && guest_args+=(--profile)
(( trace )) && guest_args+=(--trace)
log "benchmark: ${runtime}s + ${ramp}s ramp per job, ${size_mb} MiB legs, ${resync_mb} MiB resync pair, delay remote ${XREPL_BENCH_REMOTE_LAT_US:-1000} us; results in $out"
vrc=0
"$SCRIPTS_DIR/vm.sh" --timeout "$timeout_s" --mem "$mem" --out "$out" \
	-- scripts/bench-guest.sh "${guest_args[@]}" || vrc=$?
wall=$(( $(date +%s) - t0 ))
[[ -s "$out/bench-guest.json" ]] || die "the guest produced no summary (vm.sh status $vrc; see $out/output.log and $out/console.log)"

rev=$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
jq -n --arg started "$started" --argjson wall "$wall" --arg rev "$rev" \
	--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
	--argjson ncpu "$(nproc)" --arg kver "$KVER" --argjson vmrc "$vrc" \
	--argjson timeout "$timeout_s" --argjson mem "$mem" \
	'{started: $started, wall_seconds: $wall, git_rev: $rev, host_cpu: $cpu,
	  host_cpus: $ncpu, guest_kver: $kver, vm_status: $vmrc,
	  vm_timeout_s: $timeout, vm_mem_mib: $mem}' >"$out/host.json"

# --- report --------------------------------------------------------------------
report_args=()
if [[ "$docs" == yes ]]; then
	mkdir -p "$REPO_ROOT/docs"
	report_args+=(--docs "$REPO_ROOT/docs/benchmarks.md" --docs-png "$REPO_ROOT/docs/bench-qd1-latency.png")
fi
python3 "$SCRIPTS_DIR/bench-report.py" "${report_args[@]}" "$out" >"$out/targets.txt" ||
	die "bench-report.py failed"

# results/bench-latest -> the newest folder (a relative link when it is a
# sibling, so the tree can be moved).
if [[ "$(dirname "$out")" == "$results_root" ]]; then
	ln -sfn "$(basename "$out")" "$results_root/bench-latest"
else
	mkdir -p "$results_root"
	ln -sfn "$out" "$results_root/bench-latest"
fi

echo
cat "$out/results.md"
echo
log "targets:"
sed 's/^/    /' "$out/targets.txt" >&2
[[ "$docs" == yes ]] && log "docs/benchmarks.md and docs/bench-qd1-latency.png refreshed"
log "benchmark finished in ${wall}s (VM status $vrc); results in $out"
exit "$vrc"
