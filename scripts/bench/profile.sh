# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # variables shared with bench-guest.sh
# --profile and --trace of the benchmark: perf records the configurations of
# prof_configs over one remote, with samples and call graphs (a report of
# self and total time per symbol) or with the events of every write (its
# steps, by scripts/bench-trace.py), into $out/profile/.  Sourced by
# scripts/bench-guest.sh; uses its settings and configs.sh.

# --trace: the events of a write's path through the block layer, the
# submitter's system calls, the work items (queued and run: the wait of
# a work item for its worker) and the softirqs that run it.
TRACE_EVENTS=(block:block_bio_queue block:block_bio_complete block:block_rq_issue
	block:block_rq_complete syscalls:sys_enter_io_submit syscalls:sys_exit_io_submit
	syscalls:sys_exit_io_getevents workqueue:workqueue_queue_work
	workqueue:workqueue_execute_start workqueue:workqueue_execute_end
	irq:softirq_entry irq:softirq_exit)

# profile_configs REMOTE: profile or trace each of prof_configs over REMOTE.
profile_configs() {
	local rk=$1 cfg pd e
	local -a what
	if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
		mkdir -p "$out/profile"
		for cfg in $prof_configs; do
			setup_config "$rk" "$cfg" || { say "profile: cannot set up $cfg: $WHY"; teardown_config; continue; }
			say "$( (( trace )) && echo tracing || echo profiling) $cfg (QD$prof_qd, $rk remote)"
			pd="$out/profile/$cfg"
			if (( trace )); then
				what=()
				for e in "${TRACE_EVENTS[@]}"; do what+=(-e "$e"); done
			else
				what=(-g -e cpu-clock)
			fi
			perf record -q -a "${what[@]}" -o "/tmp/perf-$cfg.data" -- \
				fio --name=prof --filename="$DEV" --direct=1 --ioengine=libaio \
				--randseed="$seed" --norandommap=1 --time_based=1 --runtime="$runtime" \
				--size="${span_mb}M" --rw=randwrite --bs=4k --iodepth="$prof_qd" \
				--output-format=json --output="$pd.fio.json" >"$pd.perf.log" 2>&1
			teardown_config
			if (( trace )); then
				perf script -i "/tmp/perf-$cfg.data" -F comm,tid,cpu,time,event,trace \
					2>>"$pd.perf.log" | gzip >"$pd.trace.txt.gz"
				rm -f "/tmp/perf-$cfg.data"
				python3 "$repo/scripts/bench-trace.py" "$pd.trace.txt.gz" >"$pd.steps.txt" 2>&1 ||
					say "profile: no steps of $cfg's writes (see $pd.steps.txt)"
				profiles+=("$cfg")
				continue
			fi
			# Self time per symbol, then time including callees
			# (which shows what the dm target's own paths cost).
			# Under TCG the timer interrupt that takes a sample is
			# only delivered when interrupts get enabled again, so
			# time spent with interrupts off is charged to the
			# unlock that enables them (_raw_spin_unlock_irq...).
			perf report -i "/tmp/perf-$cfg.data" --no-children --sort dso,sym \
				--stdio -g none --percent-limit 0.3 2>/dev/null |
				grep -v -e '^$' -e '^# *$' >"$pd.self.txt"
			perf report -i "/tmp/perf-$cfg.data" --children --sort sym \
				--stdio -g none --percent-limit 1 2>/dev/null |
				grep -v -e '^$' -e '^# *$' >"$pd.children.txt"
			rm -f "/tmp/perf-$cfg.data"
			profiles+=("$cfg")
		done
	else
		say "profile: perf is not usable here"
	fi
}
