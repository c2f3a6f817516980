#!/usr/bin/env python3
"""Where a write's time goes, step by step, from a trace of a QD1 fio job.

Usage: scripts/bench-trace.py [--comm NAME] TRACE [TRACE...]

TRACE is what `perf script -F comm,tid,cpu,time,event,trace` printed (plain
or gzip) for a run recorded with the block, syscall, workqueue and softirq
tracepoints; `scripts/bench.sh --trace` records one per profiled
configuration.  A write's cycle runs from one io_submit of the submitter
(--comm, default fio) to its next one.  The cycles' sequences of events are
compared and, for the most common sequence, the mean time from each event
to the next is printed with the event and the task it ran in: with one
write in flight, that is the write's critical path.  Timer, RCU and
scheduler softirqs are left out (they follow the clock, not the writes),
and so are the first and the last quarter of the cycles (ramp and end).

Exit status: 0, 1 if a trace has no complete cycle, 2 on bad usage.
"""
import argparse
import collections
import gzip
import re
import sys

LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+"
                  r"(?P<time>\d+\.\d+):\s+(?P<event>[\w:]+):\s*(?P<rest>.*)$")
CLOCK_SOFTIRQS = ("action=TIMER", "action=RCU", "action=SCHED", "action=HRTIMER")
SUBMIT = "syscalls:sys_enter_io_submit"
# The label of the submitter's io_submit, where a write's cycle starts.
START = "S " + SUBMIT.split(":", 1)[1]


class Event:
    __slots__ = ("t_us", "comm", "cpu", "label")

    def __init__(self, t_us, comm, cpu, label):
        self.t_us, self.comm, self.cpu, self.label = t_us, comm, cpu, label


def describe(event, rest):
    """A short name of an event: the tracepoint and what tells it apart."""
    name = event.split(":", 1)[1]
    if event.startswith("block:"):
        return f"{name} {rest.split()[0]}" if rest else name
    if event.startswith("workqueue:"):
        m = re.search(r"function (\S+)", rest)
        return f"{name} {m.group(1)}" if m else name
    if event.startswith("irq:softirq"):
        m = re.search(r"action=(\w+)", rest)
        return f"{name} {m.group(1)}" if m else name
    return name


def parse(path, comm):
    """The trace's events, in time order, without the clock's softirqs."""
    opener = gzip.open if path.endswith(".gz") else open
    events = []
    with opener(path, "rt", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            rest = m.group("rest")
            if m.group("event").startswith("irq:softirq") and \
                    any(a in rest for a in CLOCK_SOFTIRQS):
                continue
            who = m.group("comm").strip()
            label = ("S " if who == comm else "  ") + describe(m.group("event"), rest)
            if m.group("event") == SUBMIT and who != comm:
                continue
            events.append(Event(float(m.group("time")) * 1e6, who,
                                int(m.group("cpu")), label))
    events.sort(key=lambda e: e.t_us)
    return events


def analyse(events):
    """Cycles, the most common sequence, and its mean step times."""
    starts = [i for i, e in enumerate(events) if e.label == START]
    pairs = list(zip(starts, starts[1:]))
    n = len(pairs)
    pairs = pairs[n // 4:n - n // 4] if n >= 4 else pairs
    if not pairs:
        return None
    keys = [tuple(e.label for e in events[a:b]) for a, b in pairs]
    key, count = collections.Counter(keys).most_common(1)[0]
    total = [0.0] * len(key)
    where = [collections.Counter() for _ in key]
    for (a, b), k in zip(pairs, keys):
        if k != key:
            continue
        for j in range(b - a):
            total[j] += events[a + j + 1].t_us - events[a + j].t_us
            where[j][(events[a + j].comm, events[a + j].cpu)] += 1
    rows = []
    for j, label in enumerate(key):
        (who, cpu), _ = where[j].most_common(1)[0]
        rows.append((total[j] / count, label[2:], who, cpu))
    return {"cycles": len(pairs), "count": count,
            "cycle_us": sum(r[0] for r in rows), "rows": rows}


def report(path, res):
    out = [f"== {path}: {res['cycles']} writes; {res['count']} "
           f"({100.0 * res['count'] / res['cycles']:.0f} %) in the most common "
           f"sequence of events, a write every {res['cycle_us']:.1f} us:",
           f"{'us':>8}  {'from this event to the next':<48} task [cpu]"]
    for us, label, who, cpu in res["rows"]:
        out.append(f"{us:8.1f}  {label:<48} {who} [{cpu}]")
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(
        description="A write's critical path from a perf script trace of a QD1 fio job.")
    ap.add_argument("--comm", default="fio", help="the submitting task's name (fio)")
    ap.add_argument("traces", nargs="+", metavar="TRACE")
    args = ap.parse_args(argv)
    rc = 0
    for path in args.traces:
        try:
            res = analyse(parse(path, args.comm))
        except OSError as e:
            print(f"bench-trace: {path}: {e.strerror}", file=sys.stderr)
            rc = 1
            continue
        if res is None:
            print(f"bench-trace: {path}: no complete cycle of io_submit by {args.comm}",
                  file=sys.stderr)
            rc = 1
            continue
        print(report(path, res))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
