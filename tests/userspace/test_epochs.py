#!/usr/bin/env python3
"""Host-side tests of tests/lib/epochs.py: the checker on synthetic remote
logs, one test per rule, and the writer on a plain file.  No VM, no root.

Run from the repository root:
  python3 -m unittest tests/userspace/test_epochs.py
"""
import dataclasses
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "lib" / "epochs.py"
sys.path.insert(0, str(TOOL.parent))
import epochs  # noqa: E402
from logwrites import Entry  # noqa: E402


def rec(seq, epoch, offset, thread=0, order=0, kind="write"):
    return {"epoch": epoch, "seq": seq, "offset": offset, "thread": thread,
            "order": order, "kind": kind}


def W(r, *flags):
    """The remote write of manifest record r."""
    data = epochs.block_data(r["epoch"], r["seq"], r["offset"], r["thread"],
                             r["order"])
    return Entry(-1, r["offset"] // 512, epochs.BLOCK // 512,
                 frozenset(flags), data)


def F():
    return Entry(-1, 0, 0, frozenset({"flush"}))


def log(*entries):
    return [dataclasses.replace(e, index=i) for i, e in enumerate(entries)]


def rules(violations):
    return [int(v.split()[1].rstrip(":")) for v in violations]


# Two epochs: 1 and 2 in epoch 0 (2 overwrites 1's block, same thread),
# 3 in epoch 0 by another thread, 4 (FUA) and 5 in epoch 1.
A = rec(1, 0, 0, thread=0, order=0)
B = rec(2, 0, 0, thread=0, order=1)
C = rec(3, 0, 8192, thread=1, order=0)
D = rec(4, 1, 4096, kind="fua")
E = rec(5, 1, 12288)
MANIFEST = [A, B, C, D, E]


class CheckTest(unittest.TestCase):
    def check(self, *entries, complete=False):
        return rules(epochs.check(log(*entries), MANIFEST, complete))

    def test_valid_orders(self):
        self.assertEqual(self.check(W(C), W(A), W(B), W(D, "flush", "fua"),
                                    W(E), complete=True), [])
        self.assertEqual(self.check(W(A), W(C), W(B), F(), W(E),
                                    W(D, "fua"), complete=True), [])

    def test_prefix_is_valid(self):
        self.assertEqual(self.check(W(A), W(C)), [])
        self.assertEqual(self.check(), [])

    def test_rule1_unknown_or_damaged(self):
        bad = dataclasses.replace(W(A), data=b"\0" * epochs.BLOCK)
        self.assertEqual(self.check(bad), [1])
        moved = dataclasses.replace(W(A), sector=64)
        self.assertEqual(self.check(moved), [1])

    def test_rule2_epoch_goes_back(self):
        self.assertIn(2, self.check(W(A), W(B), W(C), F(), W(E), W(C)))

    def test_rule3_epoch_starts_early(self):
        self.assertEqual(self.check(W(A), W(B), F(), W(E)), [3])

    def test_rule4_no_flush(self):
        self.assertEqual(self.check(W(A), W(B), W(C), W(E)), [4])

    def test_rule5_overwrite_order(self):
        self.assertEqual(self.check(W(B), W(A)), [5])

    def test_rule6_incomplete(self):
        self.assertEqual(self.check(W(A), W(B), W(C), complete=True), [6])


class WriterTest(unittest.TestCase):
    def test_write_then_check_an_in_order_log(self):
        with tempfile.TemporaryDirectory() as tmp:
            img = Path(tmp) / "img"
            img.write_bytes(b"\0" * (1 << 20))
            man = Path(tmp) / "man"
            try:
                subprocess.run([sys.executable, str(TOOL), "write", str(img),
                                str(man), "--epochs", "4", "--threads", "2",
                                "--writes", "3", "--span", str(1 << 20)],
                               check=True, capture_output=True)
            except subprocess.CalledProcessError as e:
                if b"Invalid argument" in e.stderr:
                    self.skipTest("no O_DIRECT on this file system")
                raise
            manifest = epochs.read_manifest(man)
            self.assertEqual(len(manifest), 4 * 2 * 3 + 1)
            # The log a perfect remote would write: epoch by epoch, in
            # issue order, a flush between epochs.
            entries = []
            for e in range(4):
                entries.append(F())
                entries += [W(r) for r in manifest if r["epoch"] == e]
            self.assertEqual(epochs.check(log(*entries), manifest, True), [])
            # The image holds the last write of every block.
            data = img.read_bytes()
            last = {}
            for r in manifest:
                last[r["offset"]] = r
            for off, r in last.items():
                self.assertEqual(epochs.parse_block(data[off:off + 4096])[1],
                                 r["seq"])


if __name__ == "__main__":
    unittest.main()
