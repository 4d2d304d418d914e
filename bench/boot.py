#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Boot-time and memory benchmark: chv-vmm against QEMU's microvm machine.

Both VMMs boot the same freestanding PVH test guest, alternately (chv, QEMU,
chv, QEMU, ...), so that slow phases of a shared machine hit both alike.

Each round, in this order (A B A B):
  * serial, chv then QEMU (test=serial: the guest prints a few lines and
    powers off): wall time from just before the spawn to the first byte on
    stdout and to the exit of the process; CPU time (user + system, all
    threads, guest execution included) at the first byte -- the process CPU
    clock (exited threads included, exact for running ones) and the sum of the
    first field of /proc/PID/task/*/schedstat -- and at exit (wait4 rusage);
  * probe, chv then QEMU (test=serial again): the guest's first instruction
    writes 0x40 to port 0x80; chv-vmm -v logs it, QEMU gets an isa-debugcon
    there, both on fd 3; wall and CPU time when it arrives;
  * halt, chv then QEMU (test=halt: the guest prints "halt: idle" and halts):
    /proc/PID/smaps once the guest is idle -- resident memory of every mapping
    except guest RAM (the VMM's own memory overhead), the private part, PSS,
    guest RAM, total RSS, the threads and the peak RSS since exec (VmHWM);
    then the VMM is killed;
  * references: chv-vmm with --kvm-device /nonexistent (everything before
    KVM, then exit) and an exec of /bin/true.
wait4's ru_maxrss is recorded too but is not the VMM's peak: exec folds the
high-water mark of the image it replaces -- this Python process, whose
address space posix_spawn shares until exec -- into the child's maxrss.

Writes a Markdown report (--markdown, else stdout) and the raw samples as
JSON (--json), rewritten after every round. --merge makes one report of
several such JSON files (batches). Needs a usable /dev/kvm: run it through
tests/kvmhost/run where there is none (bench/run-boot-bench does).
"""

import argparse
import datetime
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time

MiB = 1024 * 1024

CHV_RAM_NAME = "/memfd:chv-guest-ram (deleted)"

# The mapping header of /proc/PID/smaps: start-end perms offset dev inode [path]
SMAPS_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+:\S+ \d+\s*(.*)$")


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)", s.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (use e.g. 512M)")
    return int(m.group(1)) * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[m.group(2)]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def kvm_kind():
    """How /dev/kvm is provided here."""
    mods = [m for m in ("kvm_intel", "kvm_amd") if os.path.isdir(f"/sys/module/{m}")]
    mod = mods[0] if mods else "none"
    if os.environ.get("CHV_KVMHOST_INSIDE"):
        return ("emulated", f"emulated KVM host: Linux under QEMU TCG (nested {mod} on emulated SVM), "
                "started by tests/kvmhost/run")
    if not os.path.exists("/dev/kvm"):
        return ("none", "no /dev/kvm")
    return ("native", f"native /dev/kvm ({mod})")


def describe_host():
    kind, text = kvm_kind()
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = None
    try:
        with open("/proc/meminfo") as f:
            memtotal = next(int(l.split()[1]) * 1024 for l in f if l.startswith("MemTotal:"))
    except (OSError, StopIteration):
        memtotal = None
    return {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": memtotal,
        "kvm": kind,
        "kvm_description": text,
        "loadavg": load,
        "python": platform.python_version(),
    }


def tasks_cpu_ns(pid):
    """Sum of the first field of /proc/PID/task/*/schedstat (ns on CPU)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread went away meanwhile
    return total


def process_cpu_ns(pid):
    """The process CPU clock (CPUCLOCK_SCHED of the thread group): live and exited threads."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)
    except OSError:
        return None


def status_kib(pid, field):
    """A "kB" field of /proc/PID/status (VmHWM, VmRSS, ...) in bytes."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def smaps_summary(pid, guest_bytes, kind):
    """Resident memory of PID, split into guest RAM and everything else (bytes)."""
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = SMAPS_HEADER.match(line)
            if m:
                cur = {
                    "start": int(m.group(1), 16),
                    "end": int(m.group(2), 16),
                    "perms": m.group(3),
                    "path": m.group(4),
                    "rss": 0,
                    "pss": 0,
                    "private": 0,
                }
                maps.append(cur)
                continue
            if cur is None:
                continue
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                v = int(rest.split()[0]) * 1024
                if key == "Rss":
                    cur["rss"] = v
                elif key == "Pss":
                    cur["pss"] = v
                else:
                    cur["private"] += v

    if kind == "chv":
        ram = [m for m in maps if m["path"] == CHV_RAM_NAME]
    else:
        # QEMU's guest RAM: anonymous, read-write, exactly the guest memory size (a bigger guest
        # would be split at the PCI hole; these runs are below it). If the kernel has split the VMA
        # (e.g. after madvise on part of it), take adjacent anonymous rw pieces covering exactly it.
        anon = [m for m in maps if m["path"] == "" and m["perms"].startswith("rw")]
        ram = [m for m in anon if m["end"] - m["start"] == guest_bytes]
        if len(ram) != 1:
            ram = []
            anon.sort(key=lambda m: m["start"])
            for i in range(len(anon)):
                run, size = [anon[i]], anon[i]["end"] - anon[i]["start"]
                j = i + 1
                while size < guest_bytes and j < len(anon) and anon[j]["start"] == run[-1]["end"]:
                    run.append(anon[j])
                    size += anon[j]["end"] - anon[j]["start"]
                    j += 1
                if size == guest_bytes:
                    ram = run
                    break
    if not ram:
        raise RuntimeError(f"cannot find the guest RAM mapping of {kind} (pid {pid})")
    ram_ids = {id(m) for m in ram}
    other = [m for m in maps if id(m) not in ram_ids]
    return {
        "rss_total": sum(m["rss"] for m in maps),
        "rss_guest_ram": sum(m["rss"] for m in ram),
        "rss_vmm": sum(m["rss"] for m in other),
        "pss_vmm": sum(m["pss"] for m in other),
        "private_vmm": sum(m["private"] for m in other),
        "guest_ram_mappings": [f"{m['start']:x}-{m['end']:x} {m['perms']} {m['path'] or '[anonymous]'}"
                               for m in ram],
        "mappings": len(maps),
    }


class Vmm:
    def __init__(self, kind, name, argv_for, probe_args, probe_marker, ok_status):
        self.kind = kind
        self.name = name
        self.argv_for = argv_for  # scenario -> argv
        self.probe_args = probe_args  # added to argv: report writes to port 0x80 on fd 3
        self.probe_marker = probe_marker  # what fd 3 carries once the guest has written MARK_ENTRY
        self.ok_status = ok_status

    def probe_argv_for(self, scenario):
        return self.argv_for(scenario) + self.probe_args


PAUSE = 0.0


def spawn(argv, stderr_path, probe=False):
    """Start argv with stdout (and, with probe, fd 3) on pipes; returns pid, pipe fds and the start time."""
    time.sleep(PAUSE)  # let the previous run's teardown finish first
    rfd, wfd = os.pipe()
    prfd = pwfd = None
    errfd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, wfd, 1),
        (os.POSIX_SPAWN_DUP2, errfd, 2),
    ]
    if probe:
        prfd, pwfd = os.pipe()
        actions.append((os.POSIX_SPAWN_DUP2, pwfd, 3))
    t0 = time.monotonic_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    os.close(wfd)
    os.close(errfd)
    if pwfd is not None:
        os.close(pwfd)
    return pid, rfd, prfd, t0


def snapshot(pid, t0):
    """Wall and CPU time of pid now (taken as soon as an event is seen, before anything else)."""
    t = time.monotonic_ns()
    return {
        "wall_ns": t - t0,
        "cpu_clock_ns": process_cpu_ns(pid),
        "cpu_ns": tasks_cpu_ns(pid),
        "hwm": status_kib(pid, "VmHWM"),
    }


def read_stderr(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


def run_serial(vmm, timeout, tmpdir, probe=False):
    """One boot with test=serial to power-off. With probe, the VMM also reports the guest's first
    instruction (an OUT to port 0x80) on fd 3, and that moment is measured too."""
    argv = vmm.probe_argv_for("serial") if probe else vmm.argv_for("serial")
    errpath = os.path.join(tmpdir, f"{vmm.kind}.stderr")
    pid, rfd, prfd, t0 = spawn(argv, errpath, probe)
    out = bytearray()
    pbuf = bytearray()
    first = entry = None
    deadline = time.monotonic() + timeout
    killed = False
    fds = [rfd] + ([prfd] if prfd is not None else [])
    try:
        while rfd in fds:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            r, _, _ = select.select(fds, [], [], left)
            if prfd in r:
                data = os.read(prfd, 65536)
                if entry is None and vmm.probe_marker in pbuf + data:
                    entry = snapshot(pid, t0)
                pbuf += data
                if not data:
                    fds.remove(prfd)
            if rfd in r:
                data = os.read(rfd, 65536)
                if first is None and data:
                    first = snapshot(pid, t0)
                if not data:
                    fds.remove(rfd)
                out += data
    finally:
        os.close(rfd)
        if prfd is not None:
            os.close(prfd)
    _, status, ru = os.wait4(pid, 0)
    t_exit = time.monotonic_ns()
    code = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace").replace("\r", "")
    passed = ("chv-test-guest: result=PASS" in text and code == vmm.ok_status and not killed
              and (entry is not None or not probe))
    sample = {
        "vmm": vmm.kind,
        "scenario": "entry" if probe else "serial",
        "exit_status": code,
        "ok": passed,
        "first_output_wall_ns": first["wall_ns"] if first else None,
        "first_output_cpu_ns": first["cpu_ns"] if first else None,
        "first_output_cpu_clock_ns": first["cpu_clock_ns"] if first else None,
        "first_output_vmhwm_bytes": first["hwm"] if first else None,
        "exit_wall_ns": t_exit - t0,
        "exit_cpu_ns": int((ru.ru_utime + ru.ru_stime) * 1e9),
        "exit_user_ns": int(ru.ru_utime * 1e9),
        "exit_sys_ns": int(ru.ru_stime * 1e9),
        # Not the VMM's own peak: exec records the RSS high-water mark of the image it replaces,
        # here the spawning Python process (posix_spawn shares its address space until exec).
        "ru_maxrss_bytes": ru.ru_maxrss * 1024,
        "first_line": text.split("\n", 1)[0],
    }
    if probe:
        sample["entry_wall_ns"] = entry["wall_ns"] if entry else None
        sample["entry_cpu_clock_ns"] = entry["cpu_clock_ns"] if entry else None
        sample["entry_cpu_ns"] = entry["cpu_ns"] if entry else None
    if not passed:
        sample["output"] = text[-2000:]
        sample["probe_output"] = pbuf.decode(errors="replace")[-2000:]
        sample["stderr"] = read_stderr(errpath)
    return sample


def run_halt(vmm, guest_bytes, timeout, settle, tmpdir):
    """One boot with test=halt: measure memory once the guest idles, then kill the VMM."""
    argv = vmm.argv_for("halt")
    errpath = os.path.join(tmpdir, f"{vmm.kind}.stderr")
    pid, rfd, _, t0 = spawn(argv, errpath)
    out = bytearray()
    first = None
    idle_ns = None
    mem = None
    error = None
    deadline = time.monotonic() + timeout
    try:
        while b"halt: idle\n" not in out.replace(b"\r", b""):
            left = deadline - time.monotonic()
            if left <= 0:
                error = "timed out waiting for 'halt: idle'"
                break
            r, _, _ = select.select([rfd], [], [], left)
            if not r:
                continue
            data = os.read(rfd, 65536)
            if not data:
                error = "the VMM exited before 'halt: idle'"
                break
            if first is None:
                first = time.monotonic_ns() - t0
            out += data
        if error is None:
            idle_ns = time.monotonic_ns() - t0
            time.sleep(settle)
            try:
                mem = smaps_summary(pid, guest_bytes, vmm.kind)
                mem["threads"] = len(os.listdir(f"/proc/{pid}/task"))
                mem["vmhwm_bytes"] = status_kib(pid, "VmHWM")
            except (OSError, RuntimeError) as e:
                error = str(e)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(rfd)
        _, status, ru = os.wait4(pid, 0)
    sample = {
        "vmm": vmm.kind,
        "scenario": "halt",
        "ok": error is None,
        "first_output_wall_ns": first,
        "idle_wall_ns": idle_ns,
        "ru_maxrss_bytes": ru.ru_maxrss * 1024,
    }
    if mem:
        sample.update(mem)
    if error:
        sample["error"] = error
        sample["output"] = out.decode(errors="replace")[-2000:]
        sample["stderr"] = read_stderr(errpath)
    return sample


def run_exec(kind, scenario, argv, expect_status, timeout, tmpdir):
    """A short command run to its end: wall and CPU time (rusage), for reference rows."""
    errpath = os.path.join(tmpdir, f"{kind}.stderr")
    pid, rfd, _, t0 = spawn(argv, errpath)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                break
            r, _, _ = select.select([rfd], [], [], left)
            if r and not os.read(rfd, 65536):
                break
    finally:
        os.close(rfd)
    _, status, ru = os.wait4(pid, 0)
    t_exit = time.monotonic_ns()
    code = os.waitstatus_to_exitcode(status)
    sample = {
        "vmm": kind,
        "scenario": scenario,
        "exit_status": code,
        "ok": code == expect_status,
        "exit_wall_ns": t_exit - t0,
        "exit_cpu_ns": int((ru.ru_utime + ru.ru_stime) * 1e9),
    }
    if not sample["ok"]:
        sample["stderr"] = read_stderr(errpath)
    return sample


# (key, label, scenario, unit divisor, unit, format)
METRICS = [
    ("entry_cpu_clock_ns", "CPU time to the guest's first instruction (probe runs)", "entry", 1e6, "ms", "{:.1f}"),
    ("entry_wall_ns", "Wall time to the guest's first instruction (probe runs)", "entry", 1e6, "ms", "{:.1f}"),
    ("first_output_cpu_clock_ns", "CPU time to first guest output (process CPU clock)", "serial", 1e6, "ms", "{:.1f}"),
    ("first_output_cpu_ns", "  same, sum of task schedstat", "serial", 1e6, "ms", "{:.1f}"),
    ("first_output_wall_ns", "Wall time to first guest output", "serial", 1e6, "ms", "{:.1f}"),
    ("exit_cpu_ns", "CPU time to exit (rusage user+sys)", "serial", 1e6, "ms", "{:.1f}"),
    ("exit_user_ns", "  of which user", "serial", 1e6, "ms", "{:.1f}"),
    ("exit_sys_ns", "  of which system (includes guest execution)", "serial", 1e6, "ms", "{:.1f}"),
    ("exit_wall_ns", "Wall time to exit", "serial", 1e6, "ms", "{:.1f}"),
    ("vmhwm_bytes", "Peak RSS from exec until the guest idles (VmHWM)", "halt", MiB, "MiB", "{:.2f}"),
    ("rss_vmm", "VMM memory overhead: RSS outside guest RAM, guest idle", "halt", MiB, "MiB", "{:.2f}"),
    ("private_vmm", "  of which private (not shared with other processes)", "halt", MiB, "MiB", "{:.2f}"),
    ("pss_vmm", "  PSS outside guest RAM", "halt", MiB, "MiB", "{:.2f}"),
    ("rss_guest_ram", "Guest RAM resident, guest idle", "halt", MiB, "MiB", "{:.2f}"),
    ("rss_total", "Total RSS, guest idle", "halt", MiB, "MiB", "{:.2f}"),
    ("threads", "Threads, guest idle", "halt", 1, "", "{:.0f}"),
    ("exit_cpu_ns", "Reference: chv-vmm up to opening KVM (--kvm-device /nonexistent), CPU", "prekvm", 1e6, "ms", "{:.1f}"),
    ("exit_cpu_ns", "Reference: exec of /bin/true, CPU", "true", 1e6, "ms", "{:.1f}"),
]


def metric_id(key, scen):
    return f"{scen}.{key}"


def summarize(samples):
    out = {}
    for key, label, scen, div, unit, fmt in METRICS:
        row = {}
        for kind in ("chv", "qemu", "ref"):
            vals = [s[key] for s in samples if s["vmm"] == kind and s["scenario"] == scen and s["ok"]
                    and not s["warmup"] and s.get(key) is not None]
            if vals:
                row[kind] = {
                    "n": len(vals),
                    "median": statistics.median(vals),
                    "min": min(vals),
                    "max": max(vals),
                }
        out[metric_id(key, scen)] = row
    return out


def markdown(summary, meta):
    lines = []
    w = lines.append
    w("| Metric | chv-vmm median | QEMU microvm median | QEMU / chv |")
    w("|---|---:|---:|---:|")
    for key, label, scen, div, unit, fmt in METRICS:
        row = dict(summary.get(metric_id(key, scen), {}))
        if "ref" in row:
            row["chv"] = row["ref"]
        if "chv" not in row and "qemu" not in row:
            continue
        cells = []
        for kind in ("chv", "qemu"):
            if kind in row:
                cells.append(fmt.format(row[kind]["median"] / div) + (f" {unit}" if unit else ""))
            else:
                cells.append("n/a")
        if "chv" in row and "qemu" in row and row["chv"]["median"] > 0:
            ratio = "{:.1f}x".format(row["qemu"]["median"] / row["chv"]["median"])
        else:
            ratio = "n/a"
        w(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")
    cg = meta.get("callgrind")
    if cg:
        w(f"| Instructions before KVM (callgrind, deterministic) | {cg['instructions']:,} | n/a | n/a |")
    w("")
    w("Spread (min - max) over the successful runs:")
    w("")
    w("| Metric | chv-vmm | QEMU microvm |")
    w("|---|---:|---:|")
    for key, label, scen, div, unit, fmt in METRICS:
        row = dict(summary.get(metric_id(key, scen), {}))
        if "ref" in row:
            row["chv"] = row["ref"]
        if not row:
            continue
        cells = []
        for kind in ("chv", "qemu"):
            if kind in row:
                r = row[kind]
                cells.append(f"{fmt.format(r['min'] / div)} - {fmt.format(r['max'] / div)} (n={r['n']})")
            else:
                cells.append("n/a")
        w(f"| {label.strip()} | {cells[0]} | {cells[1]} |")
    w("")
    return "\n".join(lines)


def report(meta, summary):
    lines = []
    w = lines.append
    h = meta["host"]
    w(f"Date: {meta['date']}  ")
    if meta.get("batches"):
        ss = meta["batches"]
        w(f"Rounds: {meta['rounds_done']} counted, from {len(ss)} batches (each a fresh host, "
          f"{meta['warmup_rounds']} uncounted warm-up round(s) first; rounds done per batch: "
          f"{', '.join(str(x['rounds_done']) + ('' if x['complete'] else ' (stopped)') for x in ss)}); "
          f"failed runs: {meta['failed_runs']}  ")
        w("Each round boots chv serial, QEMU serial, chv probe, QEMU probe, chv halt, QEMU halt, then the two "
          "reference runs, in that order.  ")
    if not meta.get("complete", True):
        w(f"**Incomplete: {meta['rounds_done']} of {meta['rounds']} rounds done when this was written.**  ")
    if not meta.get("batches"):
        w(f"Rounds: {meta['rounds']} after {meta['warmup_rounds']} uncounted warm-up round(s); each round boots "
          "chv serial, QEMU serial, chv probe, QEMU probe, chv halt, QEMU halt, then the two reference runs, "
          f"in that order; failed runs: {meta['failed_runs']}  ")
    if meta.get("versions"):
        v = meta["versions"]
        w(f"Versions: {v.get('chv', '?')}" + (f" built from {meta['revision']}" if meta.get("revision") else "")
          + f"; {v.get('qemu', '?')}  ")
    w(f"Host running the VMMs: {h['kvm_description']}; kernel {h['kernel']}; CPU \"{h['cpu_model']}\" "
      f"x {h['cpus']}; {h['memory_bytes'] // MiB if h['memory_bytes'] else '?'} MiB RAM  ")
    if meta.get("batches"):
        w("Load average there: " + "; ".join(
            f"{' '.join(x['loadavg_before'] or [])} before, {' '.join(x['loadavg_after'] or [])} after"
            for x in meta["batches"]) + "  ")
    else:
        w(f"Load average there: {' '.join(h['loadavg'] or [])} before, "
          f"{' '.join(meta['host_after']['loadavg'] or [])} after  ")
    o = meta.get("outer_host")
    if o:
        w(f"Machine underneath: kernel {o.get('kernel')}; CPU \"{o.get('cpu_model')}\" x {o.get('cpus')}; "
          f"load average {' '.join(o.get('loadavg') or [])} before"
          + (", 1-min load during the run {min:.1f} - {max:.1f} (median {median:.1f}, {samples} samples)"
             .format(**o["loadavg_during"]) if o.get("loadavg_during") else ""))
    w("")
    w("Commands (SCENARIO is serial or halt):")
    w("")
    w("    " + meta["commands"]["chv"])
    w("    " + meta["commands"]["qemu"])
    w("")
    w("Probe runs (test=serial) add, to find the guest's first instruction (it writes 0x40 to port 0x80):")
    w("")
    w("    chv-vmm: " + meta["probe_args"]["chv"])
    w("    QEMU:    " + meta["probe_args"]["qemu"])
    cg = meta.get("callgrind")
    if cg:
        w("")
        w("The instruction count (chv-vmm stops where it would open KVM):")
        w("")
        w("    " + cg["command"])
    w("")
    w(markdown(summary, meta))
    return "\n".join(lines)


def write_results(args, meta, samples, final):
    """Write the report and the raw data; also after each round, so a run that dies keeps its rounds."""
    if not meta.get("batches"):
        meta["host_after"] = describe_host()
        meta["complete"] = final
        meta["rounds_done"] = 1 + max((s["round"] for s in samples), default=-1)
    if args.outer_loadavg and "outer_host" in meta:
        try:
            with open(args.outer_loadavg) as f:
                one = [float(l.split()[0]) for l in f if l.strip()]
        except (OSError, ValueError, IndexError):
            one = []
        if one:
            meta["outer_host"]["loadavg_during"] = {"samples": len(one), "min": min(one),
                                                    "median": statistics.median(one), "max": max(one)}
    meta["failed_runs"] = sum(1 for s in samples if not s["ok"] and not s["warmup"])
    meta.setdefault("warmup_rounds", args.warmup)
    summary = summarize(samples)
    text = report(meta, summary)
    if args.markdown:
        with open(args.markdown + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.markdown + ".tmp", args.markdown)
    elif final and not args.json:
        print(text)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"meta": meta, "summary": summary, "samples": samples}, f, indent=1)
            f.write("\n")
        os.replace(args.json + ".tmp", args.json)


def merge(args):
    """One report from the JSON files of several batches (see bench/run-boot-bench)."""
    meta = None
    samples = []
    batches = []
    offset = 0
    for k, path in enumerate(args.merge):
        try:
            with open(path) as f:
                part = json.load(f)
        except (OSError, ValueError) as e:
            print(f"boot.py: skipping {path}: {e}", file=sys.stderr)
            continue
        m = part["meta"]
        done = m.get("rounds_done", 0)
        if meta is None:
            meta = {key: m[key] for key in ("date", "guest_memory_bytes", "host", "commands", "probe_args",
                                             "versions", "warmup_rounds") if key in m}
        batches.append({"file": os.path.basename(path), "date": m.get("date"), "rounds_done": done,
                         "complete": m.get("complete", False), "loadavg_before": m["host"].get("loadavg"),
                         "loadavg_after": m.get("host_after", {}).get("loadavg")})
        for s in part["samples"]:
            if s["round"] >= done:
                continue  # a round cut short
            s = dict(s, batch=k)
            if not s["warmup"]:
                s["round"] = offset + s["round"]
            samples.append(s)
        offset += done
    if meta is None:
        print("boot.py: nothing to merge", file=sys.stderr)
        return 1
    meta.update(batches=batches, rounds_done=offset, rounds=offset, complete=True)
    if args.revision:
        meta["revision"] = args.revision
    if args.outer_host:
        with open(args.outer_host) as f:
            meta["outer_host"] = json.load(f)
    if args.callgrind:
        with open(args.callgrind) as f:
            meta["callgrind"] = json.load(f)
    write_results(args, meta, samples, final=True)
    return 0 if offset else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chv", default="build/src/hv/chv-vmm", help="chv-vmm binary")
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    ap.add_argument("--guest", default="build/tests/guest/chv-test-guest.elf", help="test guest ELF")
    ap.add_argument("--rounds", type=int, default=20, help="rounds (default 20)")
    ap.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted (default 1)")
    ap.add_argument("--memory", type=parse_size, default=parse_size("512M"), help="guest memory (default 512M)")
    ap.add_argument("--qemu-machine", default="microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on,acpi=off",
                    help="QEMU -M value")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run before giving up")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds to wait before each run (default 0.2)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait after 'halt: idle' before reading smaps")
    ap.add_argument("--markdown", help="write the Markdown report here (default: stdout)")
    ap.add_argument("--json", help="write the raw samples and summary here")
    ap.add_argument("--outer-host", help="JSON host description of the machine underneath (from --describe-host)")
    ap.add_argument("--outer-loadavg", help="file of /proc/loadavg samples (3 fields a line) taken underneath during the run")
    ap.add_argument("--callgrind", help="JSON {instructions, command} to include in the report")
    ap.add_argument("--revision", help="what chv-vmm was built from, for the report")
    ap.add_argument("--describe-host", action="store_true", help="print this host's description as JSON and exit")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="report on these --json files together; run nothing")
    args = ap.parse_args()

    if args.merge:
        return merge(args)

    if args.describe_host:
        json.dump(describe_host(), sys.stdout, indent=2)
        print()
        return 0

    chv = os.path.abspath(args.chv)
    guest = os.path.abspath(args.guest)
    qemu = shutil.which(args.qemu)
    for what, path in (("chv-vmm", chv), ("guest", guest)):
        if not os.path.exists(path):
            print(f"boot.py: {what} {path} not found", file=sys.stderr)
            return 2
    if not qemu:
        print(f"boot.py: {args.qemu} not found", file=sys.stderr)
        return 2
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("boot.py: /dev/kvm is not usable here (run through tests/kvmhost/run)", file=sys.stderr)
        return 77
    mem_m = args.memory // MiB
    global PAUSE
    PAUSE = args.pause
    true_bin = shutil.which("true") or "/bin/true"

    def chv_argv(scenario):
        return [chv, "--kernel", guest, "--cmdline", f"test={scenario}", "--cpus", "boot=1",
                "--memory", f"size={mem_m}M", "--serial", "tty", "--console", "off"]

    def qemu_argv(scenario):
        return [qemu, "-M", args.qemu_machine, "-accel", "kvm", "-cpu", "host", "-m", f"{mem_m}M",
                "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-serial", "stdio", "-kernel", guest, "-append", f"test={scenario}",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]

    # QEMU's isa-debug-exit turns the guest's write of 0 to port 0xf4 into exit status (0 << 1) | 1.
    # The guest's first instruction writes MARK_ENTRY (0x40) to port 0x80: chv-vmm logs writes to its
    # debug port at -v; QEMU gets an isa-debugcon there, which passes the byte on.
    vmms = [
        Vmm("chv", "chv-vmm", chv_argv, ["-v", "--log-file", "/dev/fd/3"], b"code 0x40]", 0),
        Vmm("qemu", "QEMU microvm", qemu_argv,
            ["-chardev", "file,id=entry,path=/dev/fd/3", "-device", "isa-debugcon,iobase=0x80,chardev=entry"],
            b"\x40", 1),
    ]

    def shown(argv):
        return " ".join(shlex.quote(a) for a in argv).replace("test=halt", "test=SCENARIO")

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": args.rounds,
        "guest_memory_bytes": args.memory,
        "host": describe_host(),
        "commands": {"chv": shown(chv_argv("halt")), "qemu": shown(qemu_argv("halt"))},
        "probe_args": {v.kind: " ".join(shlex.quote(a) for a in v.probe_args) for v in vmms},
    }
    try:
        meta["versions"] = {"qemu": os.popen(f"{shlex.quote(qemu)} --version").readline().strip(),
                            "chv": os.popen(f"{shlex.quote(chv)} --version").readline().strip()}
    except OSError:
        pass
    if args.outer_host:
        with open(args.outer_host) as f:
            meta["outer_host"] = json.load(f)
    if args.callgrind:
        with open(args.callgrind) as f:
            meta["callgrind"] = json.load(f)

    samples = []
    with tempfile.TemporaryDirectory(prefix="chv-bench.") as tmpdir:
        for i in range(-args.warmup, args.rounds):
            t = time.monotonic()
            for vmm in vmms:
                s = run_serial(vmm, args.timeout, tmpdir)
                s["round"] = i
                s["warmup"] = i < 0
                samples.append(s)
            for vmm in vmms:
                s = run_serial(vmm, args.timeout, tmpdir, probe=True)
                s["round"] = i
                s["warmup"] = i < 0
                samples.append(s)
            for vmm in vmms:
                s = run_halt(vmm, args.memory, args.timeout, args.settle, tmpdir)
                s["round"] = i
                s["warmup"] = i < 0
                samples.append(s)
            for kind, scen, argv, want in (
                    ("chv", "prekvm", chv_argv("serial") + ["--kvm-device", "/nonexistent"], 1),
                    ("ref", "true", [true_bin], 0)):
                s = run_exec(kind, scen, argv, want, args.timeout, tmpdir)
                s["round"] = i
                s["warmup"] = i < 0
                samples.append(s)
            cur = [s for s in samples if s["round"] == i and s["scenario"] in ("serial", "entry", "halt")]
            msg = " ".join(
                f"{s['vmm']}:{s['scenario']}="
                + (f"{(s.get('first_output_cpu_clock_ns') or 0) / 1e6:.0f}ms" if s["scenario"] == "serial"
                   else f"{(s.get('entry_cpu_clock_ns') or 0) / 1e6:.0f}ms" if s["scenario"] == "entry"
                   else f"{(s.get('rss_vmm') or 0) / MiB:.1f}MiB")
                + ("" if s["ok"] else "(FAILED)")
                for s in cur)
            print(f"boot.py: round {i + 1}/{args.rounds}{' (warm-up)' if i < 0 else ''} ({time.monotonic() - t:.1f} s): {msg}",
                  file=sys.stderr, flush=True)
            for s in samples:
                if s["round"] == i and not s["ok"]:
                    print(f"boot.py: {s['vmm']} {s['scenario']} failed: {json.dumps(s)}", file=sys.stderr)
            if i + 1 < args.rounds:
                write_results(args, meta, samples, final=False)

    write_results(args, meta, samples, final=True)
    return 1 if meta["failed_runs"] else 0


if __name__ == "__main__":
    sys.exit(main())
