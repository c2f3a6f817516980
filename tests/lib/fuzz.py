#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hostile input for the xrepl target: table lines and messages that it
must refuse, generated from a seed (the same seed, the same cases).

  fuzz.py table --seed N --count N --len SECTORS --local DEV --remote DEV
          --meta DEV --small DEV --tiny DEV
  fuzz.py message --seed N --count N
  fuzz.py apply table|message --file F --name DEV --want REGEX


Each case is one line, "<category>\\t<table line or message>".  Every case
is invalid by construction: a mutation of a valid table line or message
that the target's grammar refuses (see Documentation/dm-xrepl.rst):
wrong counts, numbers out of range, negative, with junk, in another base,
overflowing 32 or 64 bits, unknown words, missing or shared devices, a leg
smaller than the device, optional arguments duplicated, missing their
value or conflicting with the mode.  `fuzz.py selftest` checks that the
generator never emits a valid case, against a model of the grammar.

`fuzz.py apply` feeds the cases of a file to the kernel (in the test
guest) through libdevmapper, one ioctl each, without a process per case:
"table" creates device DEV with each line, "message" sends each message
to DEV.  Every case must be refused, and must add a kernel log record
matching REGEX.  Prints "N refused, N accepted, N unlogged" and exits 1
if any case was accepted or logged nothing.
"""
import argparse
import ctypes
import errno
import os
import random
import re
import sys

MODES = ["sync", "semi-sync", "async"]
BAD_WORDS = ["", "x", "SYNC", "Sync", "synchronous", "semi", "semisync",
             "semi_sync", "async2", "-", "--", "none", "0", "1", "%s", "\\x00",
             "degrade ", "on", "yes", "A" * 300]
BAD_NUMS = ["-1", "-0", "+8", "0x400", "0400x", "1k", "1K", "8 ", "1e3",
            "4294967296", "4294967295000", "18446744073709551616",
            "99999999999999999999999999", "", "nan", "1.5", "0.0", "x8",
            " 8", "9" * 200]
# Optional arguments: name -> (takes a value, valid values, invalid values)
OPTS = {
    "region_size": ["8", "1024", "2097152"],
    "on_remote_error": ["degrade", "fail"],
    "resync_rate_kbps": ["0", "1", "4294967295"],
    "semi_timeout_ms": ["1", "100", "60000"],
    "max_lag_kb": ["256", "65536", "16777216"],
    "congestion": ["block", "degrade"],
}
BAD_VALUES = {
    "region_size": ["0", "1", "2", "4", "7", "3", "1000", "1536", "4194304",
                    "2097153", "1073741824"],
    "on_remote_error": ["panic", "Fail", "DEGRADE", "failover", "retry"],
    "resync_rate_kbps": [],
    "semi_timeout_ms": ["0", "60001", "100000", "4294967295"],
    "max_lag_kb": ["0", "255", "16777217", "4294967295"],
    "congestion": ["Block", "drop", "wait", "fail"],
}


def valid_num(s, lo, hi):
    return s.isdigit() and s.isascii() and lo <= int(s) <= hi


def opt_valid(key, val, mode):
    if key == "region_size":
        return valid_num(val, 8, 2 ** 21) and (int(val) & (int(val) - 1)) == 0
    if key == "on_remote_error":
        return val == "degrade" or (val == "fail" and mode == "sync")
    if key == "resync_rate_kbps":
        return valid_num(val, 0, 2 ** 32 - 1)
    if key == "semi_timeout_ms":
        return valid_num(val, 1, 60000)
    if key == "max_lag_kb":
        return valid_num(val, 256, 16777216)
    if key == "congestion":
        return val in ("block", "degrade")
    return False


def table_valid(words, good):
    """Model of the grammar, for the self-test: is this table line valid?"""
    if len(words) < 7 or words[0] != "0" or words[2] != "xrepl":
        return False
    if words[1] != good["len"]:
        return False
    local, remote, meta, mode = words[3:7]
    if local != good["local"] or remote != good["remote"]:
        return False
    if meta not in ("-", good["meta"]) or mode not in MODES:
        return False
    rest = words[7:]
    if not rest:
        return True
    if not valid_num(rest[0], 0, 13) or int(rest[0]) != len(rest) - 1:
        return False
    seen, i = set(), 1
    while i < len(rest):
        key = rest[i]
        if key in seen:
            return False
        seen.add(key)
        if key == "nosync":
            i += 1
            continue
        if key not in OPTS or i + 1 >= len(rest):
            return False
        if not opt_valid(key, rest[i + 1], mode):
            return False
        i += 2
    return True


def valid_opts(rnd, mode):
    """A valid list of optional argument words (without the count)."""
    keys = rnd.sample(sorted(OPTS) + ["nosync"], rnd.randint(0, 3))
    out = []
    for k in keys:
        if k == "nosync":
            out.append(k)
            continue
        vals = [v for v in OPTS[k] if opt_valid(k, v, mode)]
        out += [k, rnd.choice(vals)]
    return out


def table_cases(a):
    rnd = random.Random(a.seed)
    good = {"len": str(a.len), "local": a.local, "remote": a.remote,
            "meta": a.meta}

    def line(len_=None, local=None, remote=None, meta=None, mode=None,
             opts=None, count=None):
        mode = mode if mode is not None else rnd.choice(MODES)
        w = ["0", len_ or good["len"], "xrepl", local or good["local"],
             remote or good["remote"], meta or rnd.choice(["-", good["meta"]]),
             mode]
        if opts is not None:
            w += [str(len(opts)) if count is None else count] + opts
        return w

    gens = []

    def gen(f):
        gens.append(f)
        return f

    @gen
    def fixed_count():
        w = line(opts=valid_opts(rnd, "sync"), mode="sync")
        drop = rnd.randint(1, 4)
        return "too-few-args", w[:3] + w[3:7][drop:] if drop < 4 else w[:3]

    @gen
    def opt_count():
        mode = rnd.choice(MODES)
        o = valid_opts(rnd, mode)
        n = rnd.choice([len(o) + 1, len(o) + 2, max(len(o) - 1, 0) if o else 1, 14, 1000])
        if n == len(o):
            n += 1
        return "opt-count", line(mode=mode, opts=o, count=str(n))

    @gen
    def opt_count_junk():
        mode = rnd.choice(MODES)
        o = valid_opts(rnd, mode) or ["nosync"]
        return "opt-count-junk", line(mode=mode, opts=o, count=rnd.choice(BAD_NUMS) or "x")

    @gen
    def extra_positional():
        return "extra-positional", line() + [rnd.choice(["junk", "1", "nosync", "region_size"])]

    @gen
    def bad_mode():
        return "bad-mode", line(mode=rnd.choice(BAD_WORDS) or "bogus")

    @gen
    def bad_value():
        mode = rnd.choice(MODES)
        key = rnd.choice(sorted(OPTS))
        val = rnd.choice(BAD_VALUES[key] + BAD_NUMS) or "x"
        o = valid_opts(rnd, mode)
        o = [w for i, w in enumerate(o) if w != key and (i == 0 or o[i - 1] != key)]
        # drop a value left without its key
        clean, i = [], 0
        while i < len(o):
            if o[i] == "nosync":
                clean.append(o[i])
                i += 1
            elif o[i] in OPTS and i + 1 < len(o):
                clean += o[i:i + 2]
                i += 2
            else:
                i += 1
        pos = rnd.randint(0, len(clean) // 2) * 2 if clean else 0
        return "bad-value-" + key, line(mode=mode, opts=clean[:pos] + [key, val] + clean[pos:])

    @gen
    def missing_value():
        mode = rnd.choice(MODES)
        key = rnd.choice(sorted(OPTS))
        return "missing-value", line(mode=mode, opts=["nosync", key] if rnd.random() < 0.5 else [key])

    @gen
    def nosync_value():
        return "nosync-with-value", line(opts=["nosync", rnd.choice(["1", "yes", "0"])])

    @gen
    def unknown_opt():
        return "unknown-opt", line(opts=[rnd.choice(["regionsize", "region-size", "REGION_SIZE",
                                                     "sync", "nosync2", "resync", "x", "mode"]),
                                         "8"])

    @gen
    def duplicate():
        mode = rnd.choice(MODES)
        key = rnd.choice(sorted(OPTS) + ["nosync"])
        if key == "nosync":
            o = ["nosync", "nosync"]
        else:
            vals = [v for v in OPTS[key] if opt_valid(key, v, mode)] or ["degrade"]
            o = [key, rnd.choice(vals), key, rnd.choice(vals)]
        return "duplicate-" + key, line(mode=mode, opts=o)

    @gen
    def fail_not_sync():
        mode = rnd.choice(["semi-sync", "async"])
        return "fail-needs-sync", line(mode=mode, opts=["on_remote_error", "fail"])

    @gen
    def missing_dev():
        which = rnd.choice(["local", "remote", "meta"])
        path = rnd.choice(["/dev/nonexistent", "/dev/null", "/dev/zero", "253:9999",
                           "999:999", "/tmp", "relative", "/dev/" + "x" * 255])
        return "missing-" + which, line(mode="sync", **{which: path})

    @gen
    def same_dev():
        case = rnd.choice(["legs", "meta-local", "meta-remote"])
        if case == "legs":
            return "same-legs", line(remote=good["local"])
        if case == "meta-local":
            return "meta-is-local", line(meta=good["local"])
        return "meta-is-remote", line(meta=good["remote"])

    @gen
    def small_leg():
        which = rnd.choice(["local", "remote"])
        return "small-" + which, line(**{which: a.small})

    @gen
    def too_long():
        return "longer-than-legs", line(len_=str(a.len + rnd.choice([1, 8, 2 ** 20])))

    @gen
    def tiny_meta():
        return "meta-too-small", line(meta=a.tiny)

    out = []
    while len(out) < a.count:
        cat, w = rnd.choice(gens)()
        if table_valid(w, good):
            continue
        if any(" " in x or x == "" for x in w):
            continue
        out.append((cat, " ".join(w)))
    return out


MSG_VALID = [["remote", "down"], ["remote", "up"], ["resync"], ["resync", "full"]] + \
    [["mode", m] for m in MODES] + \
    [["set", k, v] for k in ("resync_rate_kbps", "semi_timeout_ms", "max_lag_kb", "congestion")
     for v in OPTS[k]]


def message_valid(w, mode):
    """Model: a valid message for a device in `mode` with on_remote_error fail."""
    if not w:
        return False
    v = w[0].lower()
    if v == "remote":
        return len(w) == 2 and w[1].lower() in ("down", "up")
    if v == "resync":
        return len(w) == 1 or (len(w) == 2 and w[1].lower() == "full")
    if v == "mode":
        return len(w) == 2 and w[1] == "sync"  # the others conflict with fail
    if v == "set":
        return len(w) == 3 and w[1] in OPTS and w[1] not in ("region_size", "on_remote_error") \
            and opt_valid(w[1], w[2], mode)
    return False


def message_cases(a):
    rnd = random.Random(a.seed)
    words = ["remote", "down", "up", "resync", "full", "mode", "set", "sync",
             "semi-sync", "async", "region_size", "on_remote_error", "nosync",
             "resync_rate_kbps", "semi_timeout_ms", "max_lag_kb", "congestion",
             "block", "degrade", "fail", "status", "help", "1", "0"]
    out = []
    while len(out) < a.count:
        r = rnd.random()
        base = list(rnd.choice(MSG_VALID))
        if r < 0.2:
            w = base + [rnd.choice(words + BAD_NUMS) or "x"]
            cat = "extra-arg"
        elif r < 0.35:
            w = base[:-1] if len(base) > 1 else ["remote"]
            cat = "missing-arg"
        elif r < 0.6 and base[0] == "set":
            w = [base[0], base[1], rnd.choice(BAD_VALUES[base[1]] + BAD_NUMS) or "x"]
            cat = "bad-value-" + base[1]
        elif r < 0.7:
            w = ["set", rnd.choice(["region_size", "on_remote_error", "mode", "x",
                                    "RESYNC_RATE_KBPS", "nosync"]), "8"]
            cat = "set-unknown-key"
        elif r < 0.8:
            w = ["mode", rnd.choice(["semi-sync", "async"] + BAD_WORDS) or "x"]
            cat = "mode-bad-or-conflict"
        else:
            w = [rnd.choice(words + ["REMOTE", "Mode", "x" * 500]) for _ in range(rnd.randint(1, 5))]
            cat = "random-words"
        if any(x == "" or " " in x for x in w) or message_valid(w, "sync"):
            continue
        out.append((cat, " ".join(w)))
    return out


DM_DEVICE_CREATE, DM_DEVICE_REMOVE, DM_DEVICE_TARGET_MSG = 0, 2, 17


class Kmsg:
    """New records of the kernel log, from /dev/kmsg."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def new(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten: go on
                    continue
                raise
            out.append(rec.decode(errors="replace").split(";", 1)[-1].split("\n")[0])


def apply_cases(a):
    dm = ctypes.CDLL("libdevmapper.so.1.02.1")
    dm.dm_task_create.restype = ctypes.c_void_p
    dm.dm_task_create.argtypes = [ctypes.c_int]
    for f, args in (("dm_task_set_name", [ctypes.c_char_p]),
                    ("dm_task_add_target", [ctypes.c_uint64, ctypes.c_uint64,
                                            ctypes.c_char_p, ctypes.c_char_p]),
                    ("dm_task_set_sector", [ctypes.c_uint64]),
                    ("dm_task_set_message", [ctypes.c_char_p]),
                    ("dm_task_run", []), ("dm_task_destroy", [])):
        getattr(dm, f).argtypes = [ctypes.c_void_p] + args
    dm.dm_udev_set_sync_support.argtypes = [ctypes.c_int]
    dm.dm_udev_set_sync_support(0)
    name = a.name.encode()

    def task(kind):
        t = dm.dm_task_create(kind)
        if not t or not dm.dm_task_set_name(t, name):
            sys.exit("fuzz.py: cannot build a dm task")
        return t

    def run(case):
        if a.kind == "table":
            w = case.split(None, 3) + ["", "", "", ""]
            t = task(DM_DEVICE_CREATE)
            try:
                start, length = int(w[0]), int(w[1])
            except ValueError:
                sys.exit("fuzz.py: table cases start with numbers: " + case)
            dm.dm_task_add_target(t, start, length, w[2].encode(), w[3].encode())
        else:
            t = task(DM_DEVICE_TARGET_MSG)
            dm.dm_task_set_sector(t, 0)
            dm.dm_task_set_message(t, case.encode())
        ok = dm.dm_task_run(t)
        dm.dm_task_destroy(t)
        if ok and a.kind == "table":
            t = task(DM_DEVICE_REMOVE)
            dm.dm_task_run(t)
            dm.dm_task_destroy(t)
        return ok

    want = re.compile(a.want)
    kmsg = Kmsg()
    # libdevmapper reports each refused ioctl on stderr: not ours to show.
    err = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    n = accepted = unlogged = logged = 0
    with open(a.file) as f:
        for line in f:
            cat, case = line.rstrip("\n").split("\t", 1)
            os.dup2(devnull, 2)
            ok = run(case)
            os.dup2(err, 2)
            n += 1
            if ok:
                accepted += 1
                print("accepted (%s): %s" % (cat, case))
            elif any(want.search(r) for r in kmsg.new()):
                logged += 1
            else:
                unlogged += 1
                if not a.ratelimited:
                    print("refused without a log record (%s): %s" % (cat, case))
    print("%d refused, %d accepted, %d unlogged" % (n - accepted, accepted, unlogged))
    if a.ratelimited:
        # The target logs refusals at a bounded rate: some, not all.
        return 1 if accepted or not logged else 0
    return 1 if accepted or unlogged else 0


def selftest():
    good = {"len": "65536", "local": "/dev/L", "remote": "/dev/R", "meta": "/dev/M"}
    assert table_valid("0 65536 xrepl /dev/L /dev/R - sync".split(), good)
    assert table_valid("0 65536 xrepl /dev/L /dev/R /dev/M async 3 region_size 8 nosync".split(), good)
    assert not table_valid("0 65536 xrepl /dev/L /dev/R - async 2 on_remote_error fail".split(), good)
    assert not table_valid("0 65536 xrepl /dev/L /dev/R - sync 2 region_size 12".split(), good)
    a = argparse.Namespace(seed=1, count=3000, len=65536, local="/dev/L", remote="/dev/R",
                           meta="/dev/M", small="/dev/S", tiny="/dev/T")
    cases = table_cases(a)
    assert len(cases) == 3000 and len({c for c, _ in cases}) > 25, {c for c, _ in cases}
    assert message_valid(["set", "max_lag_kb", "256"], "sync")
    assert not message_valid(["set", "max_lag_kb", "255"], "sync")
    assert not message_valid(["mode", "async"], "sync")
    msgs = message_cases(argparse.Namespace(seed=1, count=2000))
    assert len(msgs) == 2000
    print("fuzz.py selftest: ok (%d table categories, %d message categories)"
          % (len({c for c, _ in cases}), len({c for c, _ in msgs})))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    for k in ("local", "remote", "meta", "small", "tiny"):
        t.add_argument("--" + k, required=True)
    t.add_argument("--len", type=int, required=True)
    for s in (t, sub.add_parser("message")):
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--count", type=int, default=1000)
    sub.add_parser("selftest")
    ap = sub.add_parser("apply")
    ap.add_argument("kind", choices=["table", "message"])
    ap.add_argument("--file", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--want", required=True)
    ap.add_argument("--ratelimited", action="store_true",
                    help="the target rate-limits its log: require some records, not one per case")
    a = p.parse_args()
    if a.cmd == "selftest":
        selftest()
        return 0
    if a.cmd == "apply":
        return apply_cases(a)
    for cat, c in (table_cases(a) if a.cmd == "table" else message_cases(a)):
        print("%s\t%s" % (cat, c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
