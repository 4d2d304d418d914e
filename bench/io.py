#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""I/O benchmark: chv-vmm's virtio-blk and virtio-net against QEMU's, and the disk against the host's
own limit.

The test guest's benchmark modes run one workload from a CPL3 polling loop, between a start line and
an end line on its serial port: test=virtio-blk-bench, random or sequential reads or writes of a
block size at a queue depth, a given number of requests; test=virtio-net-bench, frames of a size
sent to the first NIC, a given number at a time. The VMMs boot it alternately (chv, QEMU, then
QEMU, chv in the next round, ...) on the same raw image file or the same TAP device; for the disk,
the host-native program bench/io-native runs the same workload on that file with io_uring just
before. The guest has no receive mode yet, so the network is measured guest -> TAP only.

Per run, from the VMM's serial output as it arrives:
  * wall time from the arrival of the start line's end to the arrival of the end line's first byte;
    requests per second and bytes per second over it;
  * CPU time of the VMM process over the same interval (its CPU clock: every thread, io_uring
    workers included), split into its vCPU threads (chv "vcpuN", QEMU "CPU N/KVM": the guest's
    polling loop runs there, so they are busy all the time) and the rest, the VMM's own I/O work,
    by thread (/proc/PID/task/*/schedstat and comm), per request.
The script reads the VMM's output at real-time priority (SCHED_FIFO; the VMMs and io-native run
at the normal policy), so that it reads the times and counters as soon as a line arrives.

Subcommands:
  run      inside a host with a usable /dev/kvm, as root: make the image (by default a file on ext4
           on a loop device over a tmpfs file, so that O_DIRECT works: QEMU cache=none, chv
           direct=on) and the TAP, run the rounds, write the raw samples (--json) after every run;
  batches  on this machine: run 'run' through tests/kvmhost/run in batches of fresh hosts, stop a
           batch that makes no progress, then report on all of them (bench/run-io-bench);
  report   a Markdown report of one or more --json files of 'run'.
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boot import MiB, describe_host, parse_size, process_cpu_ns, read_stderr, spawn  # noqa: E402

KiB = 1024
PASS_LINE = "chv-test-guest: result=PASS"
VCPU_THREAD = re.compile(r"^(vcpu\d+|CPU \d+/KVM)$")
TAP_NAME = "chvbench0"
GUEST_MAC = "52:54:00:12:34:01"
# Kernel modules the emulated KVM host needs for a file system that takes O_DIRECT (tmpfs in its
# kernel does not).
KVMHOST_MODULES = "loop ext4 crc32c_generic"


class Workload:
    def __init__(self, name, device, bench, bs, qd, count, label):
        self.name = name
        self.device = device  # "blk" or "net"
        self.scenario = f"virtio-{device}-bench"
        self.bench = bench
        self.bs = bs
        self.qd = qd
        self.count = count
        self.label = label

    def cmdline(self):
        return f"test={self.scenario} bench={self.bench},qd={self.qd},bs={self.bs},count={self.count}"


def workloads(seq_qd, scale):
    """The rows of the report. Requests per run: a few seconds' worth for chv in the emulated host."""
    def n(count):
        return max(1, int(count * scale))

    return [
        Workload("randread-qd1", "blk", "randread", 4 * KiB, 1, n(10000), "4 KiB random read, QD 1"),
        Workload("randread-qd32", "blk", "randread", 4 * KiB, 32, n(40000), "4 KiB random read, QD 32"),
        Workload("randwrite-qd1", "blk", "randwrite", 4 * KiB, 1, n(10000), "4 KiB random write, QD 1"),
        Workload("randwrite-qd32", "blk", "randwrite", 4 * KiB, 32, n(40000), "4 KiB random write, QD 32"),
        Workload("seqread", "blk", "seqread", MiB, seq_qd, n(1000), f"1 MiB sequential read, QD {seq_qd}"),
        Workload("seqwrite", "blk", "seqwrite", MiB, seq_qd, n(1000), f"1 MiB sequential write, QD {seq_qd}"),
        Workload("tx-60", "net", "tx", 60, 64, n(400000), "guest -> TAP, 60-byte frames, QD 64"),
        Workload("tx-1514", "net", "tx", 1514, 64, n(200000), "guest -> TAP, 1514-byte frames, QD 64"),
    ]


def sh(argv):
    return " ".join(shlex.quote(a) for a in argv)


# --- The image -----------------------------------------------------------------------------------

class Storage:
    """The raw image the runs share: on ext4 over a loop device backed by tmpfs (O_DIRECT works
    there), or on tmpfs itself (no O_DIRECT: both VMMs then use the page cache)."""

    def __init__(self, kind, size, workdir):
        self.kind = kind
        self.size = size
        self.direct = kind == "ext4-loop"
        self.loopdev = None
        self.mnt = None
        if kind == "tmpfs":
            self.path = os.path.join(workdir, "disk.img")
            self._fill()
            self.description = f"raw image of {size // MiB} MiB on tmpfs (/tmp of the host running the VMMs)"
            return
        backing = os.path.join(workdir, "ext4.backing")
        with open(backing, "wb") as f:
            f.truncate(size + 64 * MiB)
        self.loopdev = subprocess.run(["losetup", "--show", "-f", backing], check=True, capture_output=True,
                                      text=True).stdout.strip()
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", self.loopdev],
                       check=True)
        self.mnt = os.path.join(workdir, "mnt")
        os.mkdir(self.mnt)
        subprocess.run(["mount", "-t", "ext4", self.loopdev, self.mnt], check=True)
        self.path = os.path.join(self.mnt, "disk.img")
        self._fill()
        self.description = (f"raw image of {size // MiB} MiB, written in full, on ext4 on a loop device "
                            "over a tmpfs file (/tmp of the host running the VMMs)")

    def _fill(self):
        """Every block written, so that no write of the benchmark allocates one."""
        subprocess.run(["dd", "if=/dev/zero", f"of={self.path}", "bs=1M", f"count={self.size // MiB}",
                        "status=none", "conv=fsync"] + (["oflag=direct"] if self.direct else []), check=True)

    def close(self):
        if self.mnt:
            subprocess.run(["umount", self.mnt], check=False)
        if self.loopdev:
            subprocess.run(["losetup", "-d", self.loopdev], check=False)


class Tap:
    """A persistent TAP device, up, that both VMMs attach to by name. What they send it, the host's
    stack drops (frames of an unknown type); its receive counters say how much arrived."""

    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        self.description = f"a TAP device ({name}), up, without an address, attached by name"

    def received(self):
        def stat(what):
            with open(f"/sys/class/net/{self.name}/statistics/{what}") as f:
                return int(f.read())

        return {"packets": stat("rx_packets"), "bytes": stat("rx_bytes"), "dropped": stat("rx_dropped")}

    def close(self):
        subprocess.run(["ip", "link", "del", self.name], check=False)


# --- One run ---------------------------------------------------------------------------------------

def threads_cpu(pid):
    """{tid: (comm, ns on CPU)} of pid's threads now."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = (comm, int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass  # the thread went away meanwhile
    return out


def snapshot(pid, t):
    return {"t": t, "threads": threads_cpu(pid), "cpu": process_cpu_ns(pid)}


def thread_kind(comm):
    """A thread's name without a numeric suffix: "iou-wrk-1234" -> "iou-wrk"."""
    return re.sub(r"-\d+$", "", comm) or comm


def interval(start, end):
    """CPU of the process between two snapshots: in all (its CPU clock, which keeps the time of
    threads that ended), in its vCPU threads, in the rest (the VMM's own work) and, from the
    threads' own counters, by kind of thread."""
    vcpu = 0
    others = {}
    for tid, (comm, ns) in end["threads"].items():
        d = ns - start["threads"].get(tid, (comm, 0))[1]
        if VCPU_THREAD.match(comm):
            vcpu += d
        else:
            others[thread_kind(comm)] = others.get(thread_kind(comm), 0) + d
    cpu = end["cpu"] - start["cpu"]
    return {"wall_ns": end["t"] - start["t"], "cpu_ns": cpu, "vcpu_ns": vcpu, "vmm_ns": cpu - vcpu,
            "threads_ns": others, "threads_ended": len(set(start["threads"]) - set(end["threads"]))}


def run_vm(kind, argv, scenario, ok_status, boot_timeout, timeout, tmpdir):
    """Boots the guest, times its benchmark from the start line to the end line and waits for its
    power-off. A sample: ok, the interval's wall and CPU times, the end line. A guest that has not
    started its benchmark boot_timeout seconds after the spawn is killed, and so is one that has not
    powered off after timeout seconds."""
    errpath = os.path.join(tmpdir, f"{kind}.stderr")
    pid, rfd, _, t0 = spawn(argv, errpath)
    out = bytearray()
    partial = bytearray()
    start = end = pending = None
    end_line = None
    error = None
    t_spawn = time.monotonic()
    try:
        while True:
            left = t_spawn + (timeout if start is not None else boot_timeout) - time.monotonic()
            if left <= 0:
                error = "timed out" if start is not None else "timed out before the start line"
                break
            r, _, _ = select.select([rfd], [], [], left)
            if not r:
                continue
            data = os.read(rfd, 65536)
            now = time.monotonic_ns()
            if not data:
                break
            if start is not None and end is None and not partial:
                # The first byte of a line after the start line: if that line is the end line,
                # this is the end of the benchmark, and the process's CPU must be read now.
                pending = snapshot(pid, now)
            out += data
            partial += data
            while b"\n" in partial:
                line, _, rest = bytes(partial).partition(b"\n")
                partial = bytearray(rest)
                text = line.decode(errors="replace").replace("\r", "")
                if start is None and text.startswith(f"{scenario}: start"):
                    start = snapshot(pid, now)
                elif start is not None and end is None and text.startswith(f"{scenario}: end"):
                    end = pending or snapshot(pid, now)
                    end_line = text
                pending = None
    finally:
        if error:
            os.kill(pid, signal.SIGKILL)
        os.close(rfd)
        _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace").replace("\r", "")
    ok = error is None and start is not None and end is not None and PASS_LINE in text and code == ok_status
    sample = {"vmm": kind, "ok": ok, "exit_status": code, "boot_to_exit_wall_ns": time.monotonic_ns() - t0,
              "boot_to_exit_cpu_ns": int((ru.ru_utime + ru.ru_stime) * 1e9), "end_line": end_line}
    if end_line:
        sample["guest"] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", end_line)}
    if start is not None and end is not None:
        sample.update(interval(start, end))
        sample["start_wall_ns"] = start["t"] - t0
    if not ok:
        sample["error"] = error or ("no start line" if start is None else "no end line" if end is None
                                    else "no PASS line or wrong exit status")
        sample["output"] = text[-2000:]
        sample["stderr"] = read_stderr(errpath)
    return sample


def run_native(native, path, w, direct, timeout):
    argv = [native, "--file", path, "--mode", w.bench, "--bs", str(w.bs), "--qd", str(w.qd),
            "--count", str(w.count)] + (["--direct"] if direct else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        return {"vmm": "native", "ok": False, "error": p.stderr[-2000:]}
    r = json.loads(p.stdout)
    return {"vmm": "native", "ok": True, "wall_ns": r["wall_ns"], "cpu_ns": r["user_ns"] + r["sys_ns"],
            "vmm_ns": r["user_ns"] + r["sys_ns"], "vcpu_ns": 0}


# --- Summary and report ----------------------------------------------------------------------------

KINDS = ("chv", "qemu", "native")
NAMES = {"chv": "chv-vmm", "qemu": "QEMU", "native": "host-native"}


def per_op(sample, key, ops):
    v = sample.get(key)
    return v / ops if v is not None else None


def summarize(samples, wls):
    """Medians (and spread) per workload and kind: requests/s, bytes/s, CPU per request."""
    out = {}
    for w in wls:
        row = {}
        for kind in KINDS:
            runs = [s for s in samples if s["workload"] == w.name and s["vmm"] == kind and s["ok"]
                    and not s.get("warmup")]
            if not runs:
                continue
            metrics = {
                "iops": [s["ops"] / (s["wall_ns"] / 1e9) for s in runs],
                "bytes_per_s": [s["ops"] * w.bs / (s["wall_ns"] / 1e9) for s in runs],
                "cpu_ns_per_op": [per_op(s, "cpu_ns", s["ops"]) for s in runs],
                "vmm_ns_per_op": [per_op(s, "vmm_ns", s["ops"]) for s in runs],
                "vcpu_ns_per_op": [per_op(s, "vcpu_ns", s["ops"]) for s in runs],
                "notifications_per_op": [per_op(s.get("guest", {}), "notifications", s["ops"]) for s in runs],
                "tap_packets_per_op": [per_op(s.get("tap_received", {}), "packets", s["ops"]) for s in runs],
            }
            row[kind] = {"n": len(runs)}
            for key, vals in metrics.items():
                vals = [v for v in vals if v is not None]
                if vals:
                    row[kind][key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
            threads = {}
            for s in runs:
                for name, ns in s.get("threads_ns", {}).items():
                    threads.setdefault(name, []).append(ns / s["ops"])
            row[kind]["threads_ns_per_op"] = {name: statistics.median(v + [0] * (len(runs) - len(v)))
                                              for name, v in threads.items()}
        # Ratios of rates within a round, where the runs compared followed one another.
        by_round = {}
        for s in samples:
            if s["workload"] == w.name and s["ok"] and not s.get("warmup"):
                by_round.setdefault((s.get("batch", 0), s["round"]), {})[s["vmm"]] = s["wall_ns"]
        for a, b in (("chv", "qemu"), ("chv", "native")):
            vals = [r[b] / r[a] for r in by_round.values() if a in r and b in r]
            if vals:
                row[f"{a}/{b}"] = {"n": len(vals), "median": statistics.median(vals), "min": min(vals),
                                   "max": max(vals)}
        out[w.name] = row
    return out


def rate_text(w, row):
    if w.device == "net":
        return f"{row['iops']['median'] / 1000:.1f} k frames/s, {row['bytes_per_s']['median'] * 8 / 1e6:.0f} Mbit/s"
    if w.bs >= MiB:
        return f"{row['bytes_per_s']['median'] / MiB:.0f} MiB/s"
    return f"{row['iops']['median'] / 1000:.2f} k IOPS"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def paired(row, key, percent=False):
    r = row.get(key)
    if not r:
        return "n/a"
    if percent:
        return f"{100 * r['median']:.0f}% ({100 * r['min']:.0f} - {100 * r['max']:.0f}%)"
    return f"{r['median']:.2f}x ({r['min']:.2f} - {r['max']:.2f})"


def table(lines, header, wls, summary, cells):
    """A Markdown table with a row per workload: cells(workload, its summary) gives the columns."""
    lines.append("| Workload | " + " | ".join(header) + " |")
    lines.append("|---|" + "---:|" * len(header))
    for w in wls:
        lines.append(f"| {w.label} | " + " | ".join(cells(w, summary.get(w.name, {}))) + " |")
    lines.append("")


def markdown(meta, summary, wls):
    lines = ["Rates are medians over the rounds; the ratios are medians (and ranges) of the ratios within each "
             "round, whose runs followed one another.", ""]

    def rates(w, row):
        return [rate_text(w, row[k]) if "iops" in row.get(k, {}) else "n/a" for k in KINDS] + [
            paired(row, "chv/qemu"), paired(row, "chv/native", percent=True)]

    table(lines, ["chv-vmm", "QEMU", "host-native", "chv / QEMU", "chv / host-native"], wls, summary, rates)

    lines += ["CPU time per request, microseconds (medians). \"VMM\" is every thread of the VMM but its vCPU "
              "thread (which runs the guest's polling loop and so is busy throughout); \"all\" is the whole "
              "process; host-native is the whole io-native process.", ""]

    def median(row, kind, key):
        return row.get(kind, {}).get(key, {}).get("median")

    def us(v):
        return f"{v / 1000:.1f}" if v is not None else "n/a"

    def cpu(w, row):
        chv, qemu = median(row, "chv", "vmm_ns_per_op"), median(row, "qemu", "vmm_ns_per_op")
        return [us(chv), us(qemu), ratio(qemu, chv)] + [us(median(row, k, "cpu_ns_per_op")) for k in KINDS]

    table(lines, ["chv-vmm VMM", "QEMU VMM", "QEMU / chv", "chv-vmm all", "QEMU all", "host-native"], wls, summary,
          cpu)

    lines += ["Where the VMM's own CPU goes, by thread (microseconds per request, medians, threads above 0.05; "
              "numeric suffixes dropped), and the guest's notifications per request:", ""]

    def threads(w, row):
        cells = []
        for kind in ("chv", "qemu"):
            t = row.get(kind, {}).get("threads_ns_per_op", {})
            top = sorted(((v, k) for k, v in t.items() if v >= 50), reverse=True)
            cells.append(", ".join(f"{k} {v / 1000:.1f}" for v, k in top) or "n/a")
        n = [median(row, kind, "notifications_per_op") for kind in ("chv", "qemu")]
        return cells + [f"{v:.2f}" if v is not None else "n/a" for v in n]

    table(lines, ["chv-vmm", "QEMU", "notifications, chv", "notifications, QEMU"], wls, summary, threads)
    tap = {kind: [median(summary.get(w.name, {}), kind, "tap_packets_per_op") for w in wls if w.device == "net"]
           for kind in ("chv", "qemu")}
    if any(v is not None for v in tap["chv"] + tap["qemu"]):
        lines += ["Frames the TAP received per frame the guest sent (medians, per network row): "
                  + "; ".join(f"{NAMES[k]} " + ", ".join(f"{v:.2f}" if v is not None else "n/a" for v in vals)
                              for k, vals in tap.items()), ""]

    lines += ["Spread (min - max) of the rates over the successful runs:", ""]

    def spread(w, row):
        key, div, unit = ("bytes_per_s", MiB, "MiB/s") if w.bs >= MiB else ("iops", 1000, "k")
        return [f"{r[key]['min'] / div:.1f} - {r[key]['max'] / div:.1f} {unit} (n={r['n']})" if key in r else "n/a"
                for r in (row.get(k, {}) for k in KINDS)]

    table(lines, ["chv-vmm", "QEMU", "host-native"], wls, summary, spread)
    lines.append(goals(summary, wls))
    return "\n".join(lines)


def goals(summary, wls):
    rows = [(w, summary[w.name]["chv/qemu"]["median"]) for w in wls if "chv/qemu" in summary.get(w.name, {})]
    text = []
    if rows:
        missed = [f"{w.label} ({r:.2f}x)" for w, r in rows if r < 1.5]
        text.append("Goal >= 1.5x QEMU on every row: " + ("met" if not missed else "missed on " + "; ".join(missed))
                    + ".")
    r = summary.get("randread-qd32", {}).get("chv/native")
    if r:
        text.append(f"Goal >= 80% of host-native for 4 KiB random reads at QD 32: {100 * r['median']:.0f}%, "
                    + ("met" if r["median"] >= 0.8 else "missed") + ".")
    return "  \n".join(text)


def report(meta, summary, wls):
    lines = []
    w_ = lines.append
    h = meta["host"]
    w_(f"Date: {meta['date']}  ")
    if meta.get("batches"):
        w_(f"Rounds: {meta['rounds_done']} counted, from {len(meta['batches'])} batches (each a fresh host; rounds "
           "per batch: " + ", ".join(str(b["rounds_done"]) + ("" if b["complete"] else " (stopped)")
                                    for b in meta["batches"]) + f"); failed runs: {meta['failed_runs']}  ")
    else:
        w_(f"Rounds: {meta['rounds_done']} of {meta['rounds']}; failed runs: {meta['failed_runs']}  ")
    w_("Each round runs every workload: host-native, then chv-vmm and QEMU (chv first in even rounds, QEMU "
       "first in odd ones).  ")
    v = meta.get("versions", {})
    w_(f"Versions: {v.get('chv', '?')}" + (f" built from {meta['revision']}" if meta.get("revision") else "")
       + f"; {v.get('qemu', '?')}  ")
    w_(f"Host running the VMMs: {h['kvm_description']}; kernel {h['kernel']}; CPU \"{h['cpu_model']}\" x "
       f"{h['cpus']}; {h['memory_bytes'] // MiB if h['memory_bytes'] else '?'} MiB RAM  ")
    if meta.get("storage"):
        w_(f"Disk: {meta['storage']}  ")
    if meta.get("tap"):
        w_(f"Network: {meta['tap']}  ")
    w_("Requests per run: " + ", ".join(f"{w.name} {w.count}" for w in wls) + "  ")
    o = meta.get("outer_host")
    if o:
        w_(f"Machine underneath: kernel {o.get('kernel')}; CPU \"{o.get('cpu_model')}\" x {o.get('cpus')}"
           + (", 1-min load during the run {min:.1f} - {max:.1f} (median {median:.1f}, {samples} samples)"
              .format(**o["loadavg_during"]) if o.get("loadavg_during") else ""))
    w_("")
    w_("Commands, for one workload of each device (the others differ in bench=):")
    w_("")
    for command in meta["commands"].values():
        w_("    " + command)
    w_("")
    w_(markdown(meta, summary, wls))
    return "\n".join(lines)


def write_results(path_md, path_json, meta, samples, wls):
    meta["failed_runs"] = sum(1 for s in samples if not s["ok"] and not s.get("warmup"))
    summary = summarize(samples, wls)
    if path_json:
        with open(path_json + ".tmp", "w") as f:
            json.dump({"meta": meta, "summary": summary, "samples": samples}, f, indent=1)
            f.write("\n")
        os.replace(path_json + ".tmp", path_json)
    text = report(meta, summary, wls)
    if path_md:
        with open(path_md + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(path_md + ".tmp", path_md)
    return text


# --- Subcommands -----------------------------------------------------------------------------------

def prompt_reader():
    """Be woken as soon as the VMM writes: a run's times and CPU counters are read when its lines
    arrive, on a host whose CPUs the VMM keeps busy. Children go back to the normal policy."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(10))
        return True
    except (OSError, AttributeError):
        return False


def cmd_run(args):
    chv = os.path.abspath(args.chv)
    guest = os.path.abspath(args.guest)
    native = os.path.abspath(args.native)
    qemu = shutil.which(args.qemu) or args.qemu
    missing = [f"{what} {path}" for what, path in (("chv-vmm", chv), ("guest", guest), ("io-native", native),
                                                   ("QEMU", qemu)) if not os.path.exists(path)]
    if missing:
        print("io.py: not found: " + ", ".join(missing), file=sys.stderr)
        return 2
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("io.py: /dev/kvm is not usable here (run through tests/kvmhost/run)", file=sys.stderr)
        return 77
    fifo = prompt_reader()
    wls = workloads(args.seq_qd, args.scale)
    if args.workloads:
        wanted = args.workloads.split(",")
        wls = [w for w in wls if w.name in wanted]
    mem = f"{args.memory // MiB}M"

    with tempfile.TemporaryDirectory(prefix="chv-io-bench.") as tmpdir, contextlib.ExitStack() as cleanup:
        storage = tap = None
        if any(w.device == "blk" for w in wls):
            storage = Storage(args.storage, args.image_size, tmpdir)
            cleanup.callback(storage.close)
        if any(w.device == "net" for w in wls):
            tap = Tap(TAP_NAME)
            cleanup.callback(tap.close)

        def chv_argv(w):
            if w.device == "blk":
                dev = ["--disk", f"path={storage.path}" + (",direct=on" if storage.direct else "")]
            else:
                dev = ["--net", f"tap={tap.name},mac={GUEST_MAC}"]
            return [chv, "--kernel", guest, "--cmdline", w.cmdline(), "--cpus", "boot=1", "--memory", f"size={mem}",
                    "--serial", "tty", "--console", "off"] + dev

        qemu_ram = []
        if args.qemu_ram == "memfd":
            qemu_ram = ["-object", f"memory-backend-memfd,id=ram,size={mem}", "-machine", "memory-backend=ram"]

        def qemu_argv(w):
            if w.device == "blk":
                dev = ["-drive", f"file={storage.path},if=none,id=disk0,format=raw,aio=io_uring,"
                                 f"cache={'none' if storage.direct else 'writeback'}",
                       "-device", "virtio-blk-pci,disable-legacy=on,drive=disk0"]
            else:
                dev = ["-netdev", f"tap,id=net0,ifname={tap.name},script=no,downscript=no,vhost=off",
                       "-device", f"virtio-net-pci,disable-legacy=on,romfile=,netdev=net0,mac={GUEST_MAC}"]
            return [qemu, "-M", "q35", "-accel", "kvm", "-cpu", "host", "-m", mem, "-smp", "1", "-nodefaults",
                    "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                    "-name", "chv-io-bench,debug-threads=on", "-kernel", guest, "-append", w.cmdline(),
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=1"] + dev + qemu_ram

        # One workload of each device, for the report.
        shown = {w.device: w for w in reversed(wls)}
        commands = {f"{kind} {d}": sh(argv_of(w)) for d, w in sorted(shown.items())
                    for kind, argv_of in (("chv", chv_argv), ("qemu", qemu_argv))}
        if storage:
            commands["native blk"] = sh([native, "--file", storage.path, "--mode", "MODE", "--bs", "BS", "--qd", "QD",
                                         "--count", "N"] + (["--direct"] if storage.direct else []))
        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "rounds": args.rounds,
            "host": describe_host(),
            "storage": storage.description + (", O_DIRECT: QEMU cache=none, chv-vmm direct=on" if storage.direct
                                              else ", no O_DIRECT: QEMU cache=writeback, chv-vmm without direct")
            if storage else None,
            "tap": tap.description if tap else None,
            "storage_kind": args.storage,
            "seq_qd": args.seq_qd,
            "scale": args.scale,
            "qemu_ram": args.qemu_ram,
            "reader": "SCHED_FIFO" if fifo else "SCHED_OTHER",
            "workloads": [w.name for w in wls],
            "commands": commands,
            "versions": {"qemu": os.popen(f"{shlex.quote(qemu)} --version").readline().strip(),
                         "chv": os.popen(f"{shlex.quote(chv)} --version").readline().strip()},
            "rounds_done": 0,
            "complete": False,
        }
        samples = []
        for i in range(-args.warmup, args.rounds):
            order = [("chv", chv_argv, 0), ("qemu", qemu_argv, 1)]
            if i % 2:
                order.reverse()
            msg = []
            for w in wls:
                runs = [run_native(native, storage.path, w, storage.direct, args.timeout)] if w.device == "blk" else []
                for kind, argv_of, status in order:
                    before = tap.received() if w.device == "net" else None
                    s = run_vm(kind, argv_of(w), w.scenario, status, args.boot_timeout, args.timeout, tmpdir)
                    if before:
                        s["tap_received"] = {k: v - before[k] for k, v in tap.received().items()}
                    runs.append(s)
                for s in runs:
                    s.update(workload=w.name, round=i, warmup=i < 0, ops=w.count)
                    samples.append(s)
                    if not s["ok"]:
                        print(f"io.py: {w.name} {s['vmm']} failed: {json.dumps(s)}", file=sys.stderr)
                msg.append(w.name + " " + " ".join(
                    f"{s['vmm']}={w.count / (s['wall_ns'] / 1e9):.0f}/s" if s["ok"] else f"{s['vmm']}=FAILED"
                    for s in runs))
                write_results(None, args.json, meta, samples, wls)
            meta["rounds_done"] = i + 1 if i >= 0 else 0
            print(f"io.py: round {i + 1}/{args.rounds}{' (warm-up)' if i < 0 else ''}: " + "; ".join(msg),
                  file=sys.stderr, flush=True)
        meta["complete"] = True
        meta["host_after"] = describe_host()
        text = write_results(args.markdown, args.json, meta, samples, wls)
        if not args.markdown and not args.json:
            print(text)
    return 1 if meta["failed_runs"] else 0


def load_parts(paths):
    """meta, samples and workloads of several --json files of 'run' (batches), as one run."""
    parts = []
    for path in paths:
        try:
            with open(path) as f:
                parts.append((os.path.basename(path), json.load(f)))
        except (OSError, ValueError) as e:
            print(f"io.py: skipping {path}: {e}", file=sys.stderr)
    if not parts:
        return None, [], []
    meta = dict(parts[0][1]["meta"])
    samples, batches = [], []
    for k, (name, part) in enumerate(parts):
        m = part["meta"]
        done = m.get("rounds_done", 0)
        batches.append({"file": name, "rounds_done": done, "complete": m.get("complete", False),
                        "loadavg_before": m["host"].get("loadavg"),
                        "loadavg_after": m.get("host_after", {}).get("loadavg")})
        # Runs of a round cut short are left out.
        samples += [dict(s, batch=k) for s in part["samples"] if s["round"] < done]
    meta.update(batches=batches, rounds_done=sum(b["rounds_done"] for b in batches), complete=True)
    meta["rounds"] = meta["rounds_done"]
    wls = [w for w in workloads(meta["seq_qd"], meta["scale"]) if w.name in meta["workloads"]]
    return meta, samples, wls


def outer_extras(meta, args):
    if getattr(args, "revision", None):
        meta["revision"] = args.revision
    if getattr(args, "outer_host", None):
        with open(args.outer_host) as f:
            meta["outer_host"] = json.load(f)
    if getattr(args, "outer_loadavg", None):
        try:
            with open(args.outer_loadavg) as f:
                one = [float(line.split()[0]) for line in f if line.strip()]
        except (OSError, ValueError, IndexError):
            one = []
        if one and "outer_host" in meta:
            meta["outer_host"]["loadavg_during"] = {"samples": len(one), "min": min(one),
                                                    "median": statistics.median(one), "max": max(one)}


def cmd_report(args):
    meta, samples, wls = load_parts(args.parts)
    if meta is None:
        print("io.py: nothing to report", file=sys.stderr)
        return 1
    outer_extras(meta, args)
    text = write_results(args.markdown, args.json, meta, samples, wls)
    if not args.markdown:
        print(text)
    return 0 if meta["rounds_done"] else 1


def cmd_batches(args):
    """Runs 'run' in fresh emulated KVM hosts, a few rounds each, and reports on all of them."""
    os.makedirs(args.out, exist_ok=True)
    # The emulated KVM host shares only the working directory (and the build directory) read-write.
    if not os.path.abspath(args.out).startswith(os.getcwd() + os.sep):
        print(f"io.py: {args.out} must be inside {os.getcwd()}", file=sys.stderr)
        return 2
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = os.path.join(args.out, f"io-{stamp}")
    with open(base + ".outer-host.json", "w") as f:
        json.dump(describe_host(), f)
    loadlog = base + ".loadavg.txt"
    stop = threading.Event()

    def sample_load():
        while True:
            with open("/proc/loadavg") as src, open(loadlog, "a") as dst:
                dst.write(" ".join(src.read().split()[:3]) + "\n")
            if stop.wait(15):
                return

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    env = dict(os.environ)
    env["CHV_KVMHOST_MODULES"] = " ".join(filter(None, [env.get("CHV_KVMHOST_MODULES", ""), KVMHOST_MODULES]))
    passed = ["--chv", args.chv, "--guest", args.guest, "--native", args.native, "--storage", args.storage,
              "--image-size", f"{args.image_size // MiB}M", "--scale", str(args.scale),
              "--seq-qd", str(args.seq_qd), "--boot-timeout", str(args.boot_timeout), "--timeout", str(args.timeout), "--qemu-ram", args.qemu_ram,
              "--warmup", str(args.warmup)] + (["--workloads", args.workloads] if args.workloads else [])
    parts = []
    done = 0
    batch = 0
    max_batches = (args.rounds + args.batch_rounds - 1) // args.batch_rounds * 2 + 2
    while done < args.rounds and batch < max_batches:
        batch += 1
        n = min(args.batch_rounds, args.rounds - done)
        part = f"{base}.part{batch}.json"
        print(f"io.py: batch {batch}: {n} round(s), {done} of {args.rounds} done so far", file=sys.stderr, flush=True)
        p = subprocess.Popen([os.path.join("tests", "kvmhost", "run"), "--timeout", str(900 + n * 600), "--",
                              sys.executable, os.path.abspath(__file__), "run", "--rounds", str(n), "--json", part]
                             + passed, env=env)
        last, t_last = None, time.monotonic()
        while p.poll() is None:
            time.sleep(5)
            try:
                m = os.stat(part).st_mtime
            except OSError:
                m = None
            if m != last:
                last, t_last = m, time.monotonic()
            # The host's boot and the image come before the first run is written.
            limit = args.stall + (300 if m is None else 0)
            if time.monotonic() - t_last > limit:
                print(f"io.py: batch {batch} made no progress for {time.monotonic() - t_last:.0f} s: stopping it",
                      file=sys.stderr)
                p.terminate()
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                break
        rc = p.wait()
        if rc:
            print(f"io.py: batch {batch} ended with status {rc}", file=sys.stderr)
        if os.path.exists(part):
            parts.append(part)
            with open(part) as f:
                done += json.load(f)["meta"].get("rounds_done", 0)
    stop.set()
    sampler.join()
    if not parts:
        print("io.py: no batch produced results", file=sys.stderr)
        return 1
    meta, samples, wls = load_parts(parts)
    args.outer_host = base + ".outer-host.json"
    args.outer_loadavg = loadlog
    outer_extras(meta, args)
    text = write_results(base + ".md", base + ".json", meta, samples, wls)
    print(text)
    print(f"\nio.py: report {base}.md, raw samples {base}.json (per batch: {' '.join(parts)})", file=sys.stderr)
    if done < args.rounds:
        print(f"io.py: only {done} of {args.rounds} rounds done", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--chv", default="build/src/hv/chv-vmm", help="chv-vmm binary")
    common.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    common.add_argument("--guest", default="build/tests/guest/chv-test-guest.elf", help="test guest ELF")
    common.add_argument("--native", default="build/bench/io-native", help="the io-native binary")
    common.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    common.add_argument("--warmup", type=int, default=0, help="uncounted rounds first (default 0)")
    common.add_argument("--storage", choices=("ext4-loop", "tmpfs"), default="ext4-loop",
                        help="where the image lives (default ext4-loop: O_DIRECT, QEMU cache=none)")
    common.add_argument("--image-size", type=parse_size, default=parse_size("256M"), help="image size (default 256M)")
    common.add_argument("--scale", type=float, default=1.0,
                        help="multiplies the requests per run (4 KiB: 10000 at QD 1, 40000 at QD 32; 1000 of "
                        "1 MiB; 400000 frames of 60 bytes, 200000 of 1514)")
    common.add_argument("--seq-qd", type=int, default=4, help="queue depth of the 1 MiB runs (default 4)")
    common.add_argument("--qemu-ram", choices=("anon", "memfd"), default="anon",
                        help="QEMU's guest RAM: anonymous memory (its default) or a memfd, as chv-vmm's")
    common.add_argument("--workloads", help="comma-separated subset, e.g. randread-qd32,seqread")
    common.add_argument("--memory", type=parse_size, default=parse_size("512M"), help="guest memory (default 512M)")
    common.add_argument("--boot-timeout", type=float, default=240,
                        help="seconds from a VMM's start to the guest's start line before giving up (default 240)")
    common.add_argument("--timeout", type=float, default=600,
                        help="seconds from a VMM's start to its end before giving up (default 600)")

    p = sub.add_parser("run", parents=[common], help="run the rounds here (needs /dev/kvm and root)")
    p.add_argument("--json", help="write the raw samples here, after every run")
    p.add_argument("--markdown", help="write the report here at the end")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("batches", parents=[common], help="run through tests/kvmhost/run in batches")
    p.add_argument("--batch-rounds", type=int, default=2, help="rounds per fresh host (default 2)")
    p.add_argument("--stall", type=int, default=600,
                   help="seconds without progress before a batch is stopped (default 600)")
    p.add_argument("--out", default="bench/results", help="directory for the results (default bench/results)")
    p.add_argument("--revision", help="what chv-vmm was built from, for the report")
    p.set_defaults(func=cmd_batches)

    p = sub.add_parser("report", help="report on --json files of 'run'")
    p.add_argument("parts", nargs="+")
    p.add_argument("--markdown")
    p.add_argument("--json")
    p.add_argument("--revision")
    p.add_argument("--outer-host")
    p.add_argument("--outer-loadavg")
    p.set_defaults(func=cmd_report)

    args = ap.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
