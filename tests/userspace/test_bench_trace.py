#!/usr/bin/env python3
"""Host-side tests of scripts/bench-trace.py (a write's critical path from
a perf script trace) on synthetic traces.  No VM, no root.

Run from the repository root:
  python3 -m unittest tests/userspace/test_bench_trace.py
"""
import gzip
import importlib.util
import io
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "scripts" / "bench-trace.py"
spec = importlib.util.spec_from_file_location("bench_trace", TOOL)
bench_trace = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_trace)

# One write: (offset in us, task, tid, cpu, event, details).
CYCLE = [
    (0, "fio", 100, 0, "syscalls:sys_enter_io_submit", "ctx_id: 0x1, nr: 0x00000001"),
    (10, "fio", 100, 0, "block:block_bio_queue", "254,0 WS 8 + 8 [fio]"),
    (12, "swapper", 0, 1, "irq:softirq_entry", "vec=9 [action=RCU]"),
    (15, "fio", 100, 0, "block:block_rq_issue", "253,0 WS 4096 () 8 + 8 [fio]"),
    (40, "kworker/0:1H-kb", 44, 0, "workqueue:workqueue_execute_start",
     "work struct 0xff: function nvme_tcp_io_work"),
    (45, "my task", 7, 1, "irq:softirq_entry", "vec=3 [action=NET_RX]"),
    (60, "fio", 100, 0, "syscalls:sys_exit_io_getevents", "0x1"),
]
PERIOD = 100


def line(t_us, comm, tid, cpu, event, rest):
    return f"{comm:>16} {tid:6d} [{cpu:03d}] {t_us / 1e6:.6f}: {event:>30}: {rest}\n"


def trace(cycles, odd=(), base=50.0):
    """cycles writes, one every PERIOD us; those in odd lack the worker."""
    out = ["'trace' not valid for hardware events. Ignoring.\n"]
    for c in range(cycles):
        for off, comm, tid, cpu, ev, rest in CYCLE:
            if c in odd and ev.startswith("workqueue"):
                continue
            out.append(line(base * 1e6 + c * PERIOD + off, comm, tid, cpu, ev, rest))
    # The next write's submission closes the last cycle.
    out.append(line(base * 1e6 + cycles * PERIOD, *CYCLE[0][1:]))
    return "".join(out)


class BenchTraceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def run_tool(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = bench_trace.main([str(a) for a in args])
        return rc, out.getvalue(), err.getvalue()

    def write(self, name, text):
        p = self.dir / name
        if name.endswith(".gz"):
            with gzip.open(p, "wt") as f:
                f.write(text)
        else:
            p.write_text(text)
        return p

    def test_steps_of_the_common_sequence(self):
        p = self.write("t.txt", trace(40, odd={20}))
        res = bench_trace.analyse(bench_trace.parse(str(p), "fio"))
        # The middle half of 40 cycles; one of them lacks the worker.
        self.assertEqual(res["cycles"], 20)
        self.assertEqual(res["count"], 19)
        self.assertAlmostEqual(res["cycle_us"], PERIOD, places=3)
        got = [(round(us, 3), label, who, cpu) for us, label, who, cpu in res["rows"]]
        self.assertEqual(got, [
            (10.0, "sys_enter_io_submit", "fio", 0),
            (5.0, "block_bio_queue 254,0", "fio", 0),
            (25.0, "block_rq_issue 253,0", "fio", 0),
            (5.0, "workqueue_execute_start nvme_tcp_io_work", "kworker/0:1H-kb", 0),
            (15.0, "softirq_entry NET_RX", "my task", 1),
            (40.0, "sys_exit_io_getevents", "fio", 0),
        ])

    def test_report_and_gzip(self):
        p = self.write("t.txt.gz", trace(12))
        rc, out, err = self.run_tool(p)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("6 writes; 6 (100 %) in the most common sequence", out)
        self.assertIn("a write every 100.0 us", out)
        self.assertRegex(out, r"\n +25\.0  block_rq_issue 253,0 +fio \[0\]\n")
        self.assertNotIn("RCU", out)

    def test_other_submitter(self):
        text = trace(8).replace(" fio ", " dd ").replace("[fio]", "[dd]")
        p = self.write("t.txt", text)
        rc, _, err = self.run_tool(p)
        self.assertEqual(rc, 1)
        self.assertIn("no complete cycle of io_submit by fio", err)
        rc, out, _ = self.run_tool("--comm", "dd", p)
        self.assertEqual(rc, 0)
        self.assertIn("4 writes", out)

    def test_no_trace(self):
        p = self.write("empty.txt", "nothing here\n")
        rc, out, err = self.run_tool(p, self.dir / "missing.txt")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("empty.txt: no complete cycle", err)
        self.assertIn("missing.txt:", err)


if __name__ == "__main__":
    unittest.main()
