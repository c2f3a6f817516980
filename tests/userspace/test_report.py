#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks of xreplctl's status report, health and metrics, through the
host test program tests/userspace/report.c (the real report, metrics and
status code fed four devices in known states).

Usage: test_report.py REPORT_BINARY [PROMTOOL]
Prints "ok" and exits 0, or prints what is wrong and exits 1.
"""
import json
import re
import subprocess
import sys

BIN = sys.argv[1]
PROMTOOL = sys.argv[2] if len(sys.argv) > 2 else ""
failures = []


def run(*args, want=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if p.returncode != want:
        failures.append(f"{' '.join(args)}: exit {p.returncode}, wanted {want}: {p.stderr.strip()}")
    return p


def expect(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, wanted {want!r}")


def rows(*args):
    return run("report", "--noheadings", "--separator", ",", *args).stdout.splitlines()


# The default report: the columns of xreplctl status, sorted by name.
out = run("report").stdout.splitlines()
expect("default headings", out[0].split(),
       ["NAME", "MODE", "REMOTE", "DEGRADED", "DIRTY", "RESYNC", "LAG/OLDEST",
        "CONS", "PEER", "ERRORS(R/L)"])
# Scripts match the last column at the end of the line.
expect("trailing blanks", [r for r in out if r != r.rstrip()], [])
expect("default order", [r.split()[0] for r in out[1:]], ['vm"d', "vm-a", "vm-b", "vm-c"])
expect("resyncing row", out[2].split(),
       ["vm-a", "async", "resyncing", "none", "512/4096", "50%", "2048KiB/s",
        "1024KiB/1500ms", "no", "none", "1/0"])
expect("degraded row", out[4].split(),
       ["vm-c", "semi-sync", "degraded", "error", "3/512", "-", "0KiB/0ms", "yes",
        "unknown", "7/2"])

# The journal's fields: held, delayed, rolled to a point; 0 without one.
expect("journal fields", rows("-o", "name,held,delay_ms,ship_point_ms,ship_until_ms,"
                              "journal_used_kb,journal_size_kb"),
       ['vm"d,0,0,0,0,0,0', "vm-a,1,60000,1796565728000,1796565729000,64,131068",
        "vm-b,0,0,0,0,0,0", "vm-c,0,0,0,0,0,0"])

# Health and its reason, as status --check and the metrics see them.
expect("health", run("health").stdout.splitlines(),
       ["vm-b ok insync", "vm-a degraded resyncing", "vm-c degraded degraded",
        'vm"d failed meta-failed'])
expect("health fields", rows("-o", "name,health,health_reason"),
       ['vm"d,failed,meta-failed', "vm-a,degraded,resyncing", "vm-b,ok,insync",
        "vm-c,degraded,degraded"])

# Sizes in the units asked for, with and without their suffix.
expect("sizes in bytes", rows("-o", "name,size,out_of_sync,lag_bytes,region_size",
                              "--units", "b", "--nosuffix"),
       ['vm"d,4096,0,0,4096', "vm-a,2147483648,268435456,1048576,524288",
        "vm-b,1073741824,0,0,524288", "vm-c,536870912,3145728,0,1048576"])
expect("sizes in MiB", rows("-o", "name,size", "--units", "m", "-S", "name=vm-a"),
       ["vm-a,2048.00m"])
expect("percentages", rows("-o", "name,in_sync_percent,resync_percent", "-S", "name=vm-a"),
       ["vm-a,87.50,50.00"])
expect("numbers", rows("-o", "name,dirty_regions,total_regions,remote_errors,semi_timeouts",
                       "-S", "name=vm-c"), ["vm-c,3,512,7,4"])

# -o +FIELD adds to the default columns; -O sorts, -S selects.
expect("-o +health", rows("-o", "+health", "-S", "name=vm-b"),
       ["vm-b,sync,insync,none,0/2048,-,0KiB/0ms,yes,ok,0/0,ok"])
expect("sort by size, descending", [r for r in rows("-o", "name", "-O", "-size")],
       ["vm-a", "vm-b", "vm-c", 'vm"d'])
expect("select degraded", rows("-o", "name", "-S", "health=degraded"), ["vm-a", "vm-c"])
# Selections on numbers, sizes and percentages, as lvs takes them.
expect("select a number", rows("-o", "name", "-S", "dirty_regions>0"), ["vm-a", "vm-c"])
expect("select a size", rows("-o", "name", "-S", "size>=1g"), ["vm-a", "vm-b"])
expect("select a size in bytes", rows("-o", "name", "-S", "out_of_sync>3145728b"), ["vm-a"])
expect("select a percentage", rows("-o", "name", "-S", "in_sync_percent<100"), ["vm-a", "vm-c"])
expect("select with and", rows("-o", "name", "-S", "remote_errors>0 && mode=async"), ["vm-a"])
expect("sort by a size", rows("-o", "name", "-O", "out_of_sync,name"),
       ['vm"d', "vm-b", "vm-c", "vm-a"])

# LVM's JSON layout, parsed back.
doc = json.loads(run("report", "--reportformat", "json", "-o", "name,remote,health").stdout)
devs = doc["report"][0]["xrepl"]
expect("json names", [d["name"] for d in devs], ['vm"d', "vm-a", "vm-b", "vm-c"])
expect("json keys", sorted(devs[1]), ["health", "name", "remote"])
expect("json values", devs[3], {"name": "vm-c", "remote": "degraded", "health": "degraded"})
empty = json.loads(run("report", "--reportformat", "json", "-S", "name=none").stdout)
expect("json with nothing selected", empty, {"report": [{"xrepl": []}]})

# Bad fields, sort keys and units: an error, nothing on stdout.
for args in (["-o", "name,bogus"], ["-O", "bogus"], ["--units", "q"], ["-S", "bogus=1"]):
    p = run("report", *args, want=2)
    expect(f"stdout of {args}", p.stdout, "")
    if not p.stderr.strip():
        failures.append(f"{args}: no message on stderr")

# The metrics: Prometheus' text format, parsed strictly, and the values.
metrics = run("metrics").stdout
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{({LABEL}(?:,{LABEL})*)\}})? (\S+)$")
helps, types, samples = {}, {}, {}
for n, line in enumerate(metrics.splitlines(), 1):
    m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.+)$", line)
    if m:
        kind, name, text = m.groups()
        if kind == "TYPE" and text not in ("gauge", "counter"):
            failures.append(f"metrics line {n}: type {text}")
        table = helps if kind == "HELP" else types
        if name in table:
            failures.append(f"metrics line {n}: second {kind} of {name}")
        table[name] = text
        continue
    m = SAMPLE.match(line)
    if not m:
        failures.append(f"metrics line {n}: not a sample: {line!r}")
        continue
    name, labels, value = m.groups()
    if name not in helps or name not in types:
        failures.append(f"metrics line {n}: {name} has no HELP or TYPE before it")
    if types.get(name) == "counter" and not name.endswith("_total"):
        failures.append(f"metrics: counter {name} does not end in _total")
    key = (name, labels)
    if key in samples:
        failures.append(f"metrics line {n}: duplicate series {key}")
    samples[key] = float(value)


def sample(name, device, **labels):
    dev = device.replace("\\", "\\\\").replace('"', '\\"')
    lab = f'device="{dev}"' + "".join(f',{k}="{v}"' for k, v in labels.items())
    return samples.get((name, lab))


expect("xrepl_devices", samples.get(("xrepl_devices", None)), 4.0)
expect("health of vm\"d", sample("xrepl_health", 'vm"d'), 2.0)
expect("out of sync bytes", sample("xrepl_out_of_sync_bytes", "vm-a"), 268435456.0)
expect("lag seconds", sample("xrepl_lag_seconds", "vm-a"), 1.5)
expect("resync progress", sample("xrepl_resync_progress_ratio", "vm-a"), 0.5)
expect("resync rate", sample("xrepl_resync_rate_bytes_per_second", "vm-a"), 2097152.0)
expect("remote errors", sample("xrepl_remote_errors_total", "vm-c"), 7.0)
expect("degraded by error", sample("xrepl_degraded_by", "vm-c", reason="error"), 1.0)
expect("not degraded by admin", sample("xrepl_degraded_by", "vm-c", reason="admin"), 0.0)
expect("peer verdict", sample("xrepl_peer", 'vm"d', verdict="split-brain"), 1.0)
expect("held", sample("xrepl_held", "vm-a"), 1.0)
expect("not held", sample("xrepl_held", "vm-b"), 0.0)
expect("journal used", sample("xrepl_journal_used_bytes", "vm-a"), 65536.0)
expect("journal size", sample("xrepl_journal_size_bytes", "vm-a"), 134213632.0)
for family, label in (("xrepl_remote_state", "state"), ("xrepl_degraded_by", "reason"),
                      ("xrepl_mode", "mode"), ("xrepl_peer", "verdict")):
    for dev in ("vm-a", "vm-b", "vm-c", 'vm"d'):
        esc = dev.replace('"', '\\"')
        total = sum(v for (n, lab), v in samples.items()
                    if n == family and lab.startswith(f'device="{esc}",{label}='))
        expect(f"{family} of {dev}: one state set", total, 1.0)
if PROMTOOL:
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=metrics,
                       capture_output=True, text=True)
    if p.returncode:
        failures.append(f"promtool check metrics: {p.stdout}{p.stderr}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
