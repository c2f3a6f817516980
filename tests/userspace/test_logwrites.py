#!/usr/bin/env python3
"""Host-side tests of tests/lib/logwrites.py.

Builds dm-log-writes log images in the kernel's layout, reads them back,
checks replication orders with check_epochs and replays logs onto image
files.  No VM, no root.

Run from the repository root:
  python3 -m unittest tests/userspace/test_logwrites.py
  python3 tests/userspace/test_logwrites.py
"""
import dataclasses
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "lib" / "logwrites.py"
sys.path.insert(0, str(TOOL.parent))
import logwrites  # noqa: E402
from logwrites import Entry, LogError  # noqa: E402

MAGIC = 0x6a736677736872


def W(sector, nr_sectors, fill, *flags):
    """A write of nr_sectors sectors of the byte fill."""
    return Entry(-1, sector, nr_sectors, frozenset(flags),
                 bytes([fill]) * (nr_sectors * 512))


def D(sector, nr_sectors):
    """A discard."""
    return Entry(-1, sector, nr_sectors, frozenset({"discard"}))


def F():
    """An empty flush."""
    return Entry(-1, 0, 0, frozenset({"flush"}))


def M(name):
    """A mark."""
    return Entry(-1, 0, 0, frozenset({"mark"}), mark=name)


def log(*entries):
    """The entries numbered as read_log numbers them."""
    return [dataclasses.replace(e, index=i) for i, e in enumerate(entries)]


def rules(violations):
    """The rule numbers named by violation messages, in order."""
    return [int(v.split()[1]) for v in violations]


def entry_block(sectorsize, sector, nr_sectors, flags, data_len=0,
                payload=b""):
    """One log_write_entry block, packed independently of logwrites."""
    header = struct.pack("<QQQQ", sector, nr_sectors, flags, data_len)
    return (header + payload).ljust(sectorsize, b"\0")


def super_block(sectorsize, nr_entries, magic=MAGIC, version=1):
    """The log_write_super block."""
    raw = struct.pack("<QQQI", magic, version, nr_entries, sectorsize)
    return raw.ljust(sectorsize, b"\0")


class TempDirTest(unittest.TestCase):
    """Gives each test a scratch directory."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="logwrites-test.")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def path(self, name, content=None):
        """A path in the scratch directory, written if content is given."""
        p = self.dir / name
        if content is not None:
            p.write_bytes(content)
        return p

    def run_tool(self, *args):
        """Run the command line tool; returns the CompletedProcess."""
        return subprocess.run([sys.executable, str(TOOL), *map(str, args)],
                              capture_output=True, text=True, check=False)


class FormatTest(TempDirTest):
    """The on-disk layout, byte for byte, and reading it back."""

    ENTRIES = log(W(8, 8, 0xA1, "flush", "metadata"), D(16, 16), F(),
                  M("m1"), W(0, 16, 0xB2, "fua"))

    def test_layout_4096(self):
        data0 = bytes([0xA1]) * 4096
        data4 = bytes([0xB2]) * 8192
        expected = (super_block(4096, 5)
                    + entry_block(4096, 1, 1, 0x11) + data0
                    + entry_block(4096, 2, 2, 0x04)
                    + entry_block(4096, 0, 0, 0x01)
                    + entry_block(4096, 0, 0, 0x08, 2, b"m1")
                    + entry_block(4096, 0, 2, 0x02) + data4)
        p = self.path("log")
        logwrites.write_log(p, self.ENTRIES, sectorsize=4096)
        self.assertEqual(p.read_bytes(), expected)
        hand = self.path("hand", expected)
        self.assertEqual(logwrites.read_log(hand), self.ENTRIES)

    def test_layout_512(self):
        expected = (super_block(512, 3)
                    + entry_block(512, 3, 2, 0x00) + b"\x07" * 1024
                    + entry_block(512, 0, 0, 0x08, 3, b"end")
                    + entry_block(512, 6, 1, 0x04))
        entries = log(W(3, 2, 7), M("end"), D(6, 1))
        p = self.path("log")
        logwrites.write_log(p, entries)
        self.assertEqual(p.read_bytes(), expected)
        got = logwrites.read_log(self.path("hand", expected))
        self.assertEqual(got, entries)
        self.assertEqual((got[0].sector, got[0].nr_sectors), (3, 2))
        self.assertIsNone(got[2].data)
        self.assertEqual(got[1].mark, "end")

    def test_round_trip(self):
        entries = log(W(0, 8, 1), W(64, 16, 2, "flush", "fua"), F(),
                      D(8, 24), M("dm-log-writes-end"),
                      W(8, 8, 3, "metadata"))
        for sectorsize in (512, 4096):
            with self.subTest(sectorsize=sectorsize):
                p = self.path(f"log{sectorsize}")
                logwrites.write_log(p, entries, sectorsize=sectorsize)
                self.assertEqual(logwrites.read_log(p), entries)

    def test_super_padding_is_ignored(self):
        # The kernel copies the 4 padding bytes of the super from the stack.
        raw = bytearray(super_block(512, 1) + entry_block(512, 0, 0, 1))
        raw[28:32] = b"\xde\xad\xbe\xef"
        self.assertEqual(logwrites.read_log(self.path("log", bytes(raw))),
                         log(F()))

    def test_writer_rejects_unaligned_entry(self):
        with self.assertRaisesRegex(ValueError, "not aligned"):
            logwrites.write_log(self.path("log"), log(W(1, 8, 1)),
                                sectorsize=4096)

    def test_writer_rejects_wrong_data_length(self):
        bad = dataclasses.replace(W(0, 2, 1), data=b"x" * 512)
        with self.assertRaisesRegex(ValueError, "1024 bytes"):
            logwrites.write_log(self.path("log"), [bad])


class BadLogTest(TempDirTest):
    """Invalid logs raise LogError with a message saying what is wrong."""

    def good(self):
        """A valid two-entry log as bytes."""
        return (super_block(512, 2) + entry_block(512, 0, 1, 0)
                + b"\x01" * 512 + entry_block(512, 0, 0, 1))

    def assert_bad(self, content, pattern):
        with self.assertRaisesRegex(LogError, pattern):
            logwrites.read_log(self.path("bad", content))

    def test_good_log_reads(self):
        self.assertEqual(len(logwrites.read_log(self.path("ok", self.good()))),
                         2)

    def test_bad_magic(self):
        raw = super_block(512, 2, magic=MAGIC + 1) + self.good()[512:]
        self.assert_bad(raw, "bad magic 0x6a736677736873")

    def test_bad_version(self):
        raw = super_block(512, 2, version=2) + self.good()[512:]
        self.assert_bad(raw, "unsupported version 2")

    def test_bad_sectorsize(self):
        raw = struct.pack("<QQQI", MAGIC, 1, 0, 1000)
        self.assert_bad(raw, "bad sectorsize 1000")

    def test_truncated_super(self):
        self.assert_bad(self.good()[:20], "truncated super block: 20 of 28")

    def test_truncated_data(self):
        self.assert_bad(self.good()[:1024 + 100],
                        "truncated data of entry 0 at byte 1024: 100 of 512")

    def test_truncated_header(self):
        self.assert_bad(self.good()[:1536 + 10],
                        "truncated header of entry 1 at byte 1536")

    def test_nr_entries_beyond_end_of_file(self):
        raw = super_block(512, 3) + self.good()[512:]
        self.assert_bad(raw, "truncated header of entry 2")

    def test_nr_entries_beyond_written_entries(self):
        raw = super_block(512, 3) + self.good()[512:] + bytes(512)
        self.assert_bad(raw, "entry 2: empty entry header")

    def test_unpadded_header(self):
        raw = bytearray(self.good())
        raw[512 + 32] = 1
        self.assert_bad(bytes(raw), "entry 0: header block is not zero")

    def test_unknown_flag(self):
        raw = super_block(512, 1) + entry_block(512, 0, 0, 1 | 1 << 5)
        self.assert_bad(raw, "unknown flags 0x20")


class EpochTest(unittest.TestCase):
    """source_epochs: how FLUSH and FUA cut the source log into epochs."""

    def test_epochs(self):
        source = log(W(0, 8, 1),                 # 0: epoch 0
                     W(8, 8, 2, "fua"),          # 1: epoch 0, ends it
                     W(16, 8, 3),                # 2: epoch 1
                     F(),                        # 3: starts epoch 2
                     W(24, 8, 4, "flush"),       # 4: epoch 3
                     M("x"),                     # 5: no epoch
                     D(32, 8),                   # 6: epoch 3
                     W(40, 8, 5, "fua"),         # 7: epoch 3
                     W(48, 8, 6, "flush"),       # 8: epoch 4 (one boundary)
                     F(), F(),                   # 9, 10: epochs 5, 6
                     W(56, 8, 7))                # 11: epoch 6
        self.assertEqual(logwrites.source_epochs(source),
                         {0: 0, 1: 0, 2: 1, 4: 3, 6: 3, 7: 3, 8: 4, 11: 6})


class CheckAcceptTest(unittest.TestCase):
    """check_epochs accepts valid remote orders."""

    SOURCE = log(W(0, 8, 1), W(8, 8, 2), W(16, 8, 3), F(),
                 W(0, 8, 4), W(24, 8, 5, "fua"),
                 W(32, 8, 6), D(40, 8), M("m"), F(),
                 W(8, 8, 7, "flush"), W(48, 8, 8))

    def assert_ok(self, source, remote):
        self.assertEqual(logwrites.check_epochs(source, remote), [])

    def test_same_order(self):
        # Only FLUSH boundaries: a FUA boundary needs a flush on the remote.
        source = log(W(0, 8, 1), D(8, 8), M("m"), F(), W(0, 8, 2),
                     W(8, 8, 3, "flush"), W(16, 8, 4))
        self.assert_ok(source, source)

    def test_reordered_within_epoch(self):
        remote = log(W(16, 8, 3), W(0, 8, 1), W(8, 8, 2), F(),
                     W(24, 8, 5, "fua"), W(0, 8, 4), F(),
                     D(40, 8), W(32, 8, 6),
                     W(8, 8, 7, "flush"), W(48, 8, 8))
        self.assert_ok(self.SOURCE, remote)

    def test_every_prefix(self):
        remote = log(W(8, 8, 2), W(0, 8, 1), W(16, 8, 3), F(),
                     W(0, 8, 4), W(24, 8, 5), F(),
                     W(32, 8, 6), D(40, 8), F(),
                     W(8, 8, 7), W(48, 8, 8))
        for cut in range(len(remote) + 1):
            with self.subTest(cut=cut):
                self.assert_ok(self.SOURCE, remote[:cut])

    def test_empty_epoch_needs_no_flush_of_its_own(self):
        source = log(W(0, 8, 1), F(), F(), W(8, 8, 2))
        self.assert_ok(source, log(W(0, 8, 1), F(), W(8, 8, 2)))

    def test_empty_first_epoch_needs_no_flush(self):
        self.assert_ok(log(F(), W(0, 8, 1)), log(W(0, 8, 1)))

    def test_preflush_of_next_epoch_write_counts(self):
        source = log(W(0, 8, 1), W(8, 8, 2, "flush"))
        self.assert_ok(source, log(W(0, 8, 1), W(8, 8, 2, "flush")))

    def test_repeated_payload_matched_in_order(self):
        source = log(W(0, 8, 1), F(), W(0, 8, 1))
        self.assert_ok(source, log(W(0, 8, 1), F(), W(0, 8, 1)))

    def test_touching_writes_may_swap(self):
        self.assert_ok(log(W(0, 8, 1), W(8, 8, 2)),
                       log(W(8, 8, 2), W(0, 8, 1)))

    def test_remote_marks_and_extra_flushes_are_ignored(self):
        self.assert_ok(log(W(0, 8, 1), W(8, 8, 2)),
                       log(M("a"), W(0, 8, 1), F(), F(), M("b"),
                           W(8, 8, 2)))


class CheckRejectTest(unittest.TestCase):
    """check_epochs names the rule, both entry indices and the sectors."""

    def check(self, source, remote):
        return logwrites.check_epochs(log(*source), log(*remote))

    def test_rule1_unknown_payload(self):
        got = self.check([W(0, 8, 1)], [W(0, 8, 9)])
        self.assertEqual(got, [
            "rule 1 (unknown write): remote #0 (sectors 0-7) has no unused"
            " counterpart in the source log"])

    def test_rule1_payload_repeated_too_often(self):
        got = self.check([W(0, 8, 1), F()], [W(0, 8, 1), F(), W(0, 8, 1)])
        self.assertEqual(rules(got), [1])
        self.assertIn("remote #2 (sectors 0-7)", got[0])

    def test_rule1_discard_range(self):
        got = self.check([D(0, 16)], [D(0, 8)])
        self.assertEqual(rules(got), [1])
        self.assertIn("remote #0 (sectors 0-7)", got[0])

    def test_rule2_epoch_order(self):
        got = self.check([W(0, 8, 1), F(), W(8, 8, 2)],
                         [W(8, 8, 2), F(), W(0, 8, 1)])
        self.assertIn(
            "rule 2 (epoch order): remote #2 (source #0, epoch 0,"
            " sectors 0-7) comes after remote #0 (source #2, epoch 1,"
            " sectors 8-15)", got)
        # Writing epoch 1 first also skipped source #0: rule 3.
        self.assertEqual(sorted(rules(got)), [2, 3])

    def test_rule3_skipped_write(self):
        got = self.check([W(0, 8, 1), W(8, 8, 2), F(), W(16, 8, 3)],
                         [W(0, 8, 1), F(), W(16, 8, 3)])
        self.assertEqual(got, [
            "rule 3 (completeness): source #1 (epoch 0, sectors 8-15) is not"
            " on the remote before remote #2 (source #3, epoch 1,"
            " sectors 16-23)"])

    def test_rule4_missing_flush(self):
        got = self.check([W(0, 8, 1), F(), W(8, 8, 2)],
                         [W(0, 8, 1), W(8, 8, 2)])
        self.assertEqual(got, [
            "rule 4 (flush at epoch boundary): no remote flush between"
            " remote #0 (source #0, epoch 0, sectors 0-7) and remote #1"
            " (source #2, epoch 1, sectors 8-15)"])

    def test_rule4_after_fua(self):
        got = self.check([W(0, 8, 1, "fua"), W(8, 8, 2)],
                         [W(0, 8, 1, "fua"), W(8, 8, 2)])
        self.assertEqual(rules(got), [4])

    def test_rule4_across_empty_epoch(self):
        got = self.check([W(0, 8, 1), F(), F(), W(8, 8, 2)],
                         [W(0, 8, 1), W(8, 8, 2)])
        self.assertEqual(rules(got), [4])

    def test_rule4_preflush_of_earlier_write_does_not_count(self):
        got = self.check([W(0, 8, 1, "flush"), F(), W(8, 8, 2)],
                         [W(0, 8, 1, "flush"), W(8, 8, 2)])
        self.assertEqual(rules(got), [4])
        self.assertIn("remote #0 (source #0, epoch 1, sectors 0-7)", got[0])

    def test_rule5_overlap_order(self):
        got = self.check([W(0, 8, 1), W(4, 8, 2)],
                         [W(4, 8, 2), W(0, 8, 1)])
        self.assertEqual(got, [
            "rule 5 (overlap order): remote #1 (source #0, epoch 0,"
            " sectors 0-7) overlaps remote #0 (source #1, epoch 0,"
            " sectors 4-11) in the same epoch and comes first in the source"
            " log, but later in the remote log"])

    def test_rule5_discard_overlapping_write(self):
        got = self.check([D(0, 16), W(8, 8, 1)], [W(8, 8, 1), D(0, 16)])
        self.assertEqual(rules(got), [5])


class ReplayTest(TempDirTest):
    """replay and the replay command rebuild the image at a cut point."""

    ENTRIES = log(W(0, 8, 0x11), W(8, 8, 0x22), D(4, 8), M("cut"),
                  W(0, 4, 0x33), F())
    S = 512

    def image(self):
        """A 32-sector image file full of 0xee bytes."""
        return self.path("img", b"\xee" * (32 * self.S))

    def expected(self, upto):
        """The image after the first upto entries, written out by hand."""
        s = self.S
        return {
            0: b"\xee" * 32 * s,
            2: b"\x11" * 8 * s + b"\x22" * 8 * s + b"\xee" * 16 * s,
            3: (b"\x11" * 4 * s + bytes(8 * s) + b"\x22" * 4 * s
                + b"\xee" * 16 * s),
            5: (b"\x33" * 4 * s + bytes(8 * s) + b"\x22" * 4 * s
                + b"\xee" * 16 * s),
        }[upto]

    def test_replay_function(self):
        for upto in (0, 2, 3, 5):
            with self.subTest(upto=upto):
                img = self.image()
                applied = logwrites.replay(self.ENTRIES, img, upto)
                self.assertEqual(applied, upto)
                self.assertEqual(img.read_bytes(), self.expected(upto))

    def test_replay_command(self):
        lg = self.path("log")
        logwrites.write_log(lg, self.ENTRIES)
        for upto in (2, 3, 5):
            with self.subTest(upto=upto):
                img = self.image()
                r = self.run_tool("replay", lg, img, "--upto", upto)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(img.read_bytes(), self.expected(upto))

    def test_replay_command_all_entries(self):
        lg = self.path("log")
        logwrites.write_log(lg, self.ENTRIES)
        img = self.image()
        self.assertEqual(self.run_tool("replay", lg, img).returncode, 0)
        self.assertEqual(img.read_bytes(), self.expected(5))

    def test_replay_4096_log(self):
        lg = self.path("log")
        logwrites.write_log(lg, log(W(8, 8, 0x44), D(0, 8)),
                            sectorsize=4096)
        img = self.image()
        r = self.run_tool("replay", lg, img, "--upto", 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(img.read_bytes(),
                         bytes(4096) + b"\x44" * 4096 + b"\xee" * 8192)

    def test_replay_past_the_end(self):
        lg = self.path("log")
        logwrites.write_log(lg, self.ENTRIES)
        r = self.run_tool("replay", lg, self.image(), "--upto", 7)
        self.assertEqual(r.returncode, 2)
        self.assertIn("has only 6 entries", r.stderr)


class CommandTest(TempDirTest):
    """The dump and check commands."""

    def test_dump(self):
        lg = self.path("log")
        entries = log(W(8, 8, 0xA1, "flush", "metadata"), D(16, 16), F(),
                      M("dm-log-writes-end"))
        logwrites.write_log(lg, entries, sectorsize=4096)
        r = self.run_tool("dump", lg)
        self.assertEqual(r.returncode, 0, r.stderr)
        crc = zlib.crc32(bytes([0xA1]) * 4096)
        self.assertEqual(r.stdout.splitlines(), [
            f"0 sector=8 nr_sectors=8 flags=flush|metadata crc32={crc:08x}",
            "1 sector=16 nr_sectors=16 flags=discard",
            "2 sector=0 nr_sectors=0 flags=flush",
            "3 sector=0 nr_sectors=0 flags=mark mark=dm-log-writes-end"])

    def test_check_ok(self):
        src, rem = self.path("src"), self.path("rem")
        logwrites.write_log(src, log(W(0, 8, 1), F(), W(8, 8, 2)))
        logwrites.write_log(rem, log(W(0, 8, 1), W(8, 8, 2, "flush")))
        r = self.run_tool("check", src, rem)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "ok: 2 remote writes in order with 2 source"
                             " writes\n"))

    def test_check_violation(self):
        src, rem = self.path("src"), self.path("rem")
        logwrites.write_log(src, log(W(0, 8, 1), F(), W(8, 8, 2)))
        logwrites.write_log(rem, log(W(0, 8, 1), W(8, 8, 2)))
        r = self.run_tool("check", src, rem)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.startswith("rule 4 "), r.stdout)

    def test_check_unreadable(self):
        src = self.path("src")
        logwrites.write_log(src, log(W(0, 8, 1)))
        garbage = self.path("garbage", b"\0" * 4096)
        for args in ((src, garbage), (src, self.dir / "missing")):
            with self.subTest(args=args):
                r = self.run_tool("check", *args)
                self.assertEqual(r.returncode, 2)
                self.assertTrue(r.stderr.startswith("logwrites.py: "),
                                r.stderr)


if __name__ == "__main__":
    unittest.main()
