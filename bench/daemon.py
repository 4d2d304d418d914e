#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chvd benchmark: defining, booting and asking VMs through chvd over D-Bus, against QEMU started
directly (what a fleet manager without chvd does) and QMP.

Runs chvd on a private dbus-daemon that enforces chv's own bus policy (the daemon tests' Env, from
tests/integration/daemon/chvtest.py), at its default log level, without systemd on the bus (so VMs
run without a scope). The timing is done by bench/daemon-client (C, sd-bus): see its header.

  daemon.py rounds --rounds N --json OUT   (needs /dev/kvm: run it through tests/kvmhost/run)
      each round, chv and QEMU alternately (the order swaps every round):
        * 1 VM: CreateVM + Boot (chv) or one QEMU process, to the first byte of the guest's serial
          file; then it is stopped (chv) or, for QEMU, kept for the next step;
        * Info latency with no VM running: VM1.Info of a Created VM against QMP query-status on the
          QEMU of the step before, in alternating blocks;
        * 20 VMs at once, the same way, each kind alone on the host (the first fleet is stopped
          before the second starts);
        * the first fleet once more (not timed), then Info latency with 20 + 20 VMs running: Info of
          one of them against query-status on one QEMU;
        * teardown.
      A batch starts with an uncounted round of the 1-VM steps (page cache, first execs).
      chvd's and dbus-daemon's CPU time (process CPU clock) over each step, chvd's RSS and PSS
      (/proc/PID/smaps_rollup) before and with the 20 VMs running, the CPU time of each chv-vmm and
      QEMU once the fleet is up.
  daemon.py memory --json OUT   (no KVM needed)
      chvd's RSS and PSS with 0, 100 and 1000 defined VMs, CreateVM's latency and CPU time, and the
      start of a chvd that finds 1000 definitions.
  daemon.py report --markdown MD --json OUT PARTS... [--memory M.json] [--outer-loadavg F] ...
      merges the rounds of several batches and writes the report.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'integration', 'daemon'))
import chvtest  # noqa: E402  (the private bus with chv's policy)

MiB = 1024 * 1024
QEMU_MACHINE = 'microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on,acpi=off'


def cpu_ns(pid):
    """The process CPU clock of pid: user + system of every thread, exited ones included."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)
    except OSError:
        return None


def rollup(pid):
    """Rss, Pss and the private part from /proc/PID/smaps_rollup, in bytes."""
    out = {}
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ('Rss', 'Pss', 'Private_Clean', 'Private_Dirty', 'Anonymous'):
                out[key] = int(rest.split()[0]) * 1024
    out['Private'] = out.pop('Private_Clean', 0) + out.pop('Private_Dirty', 0)
    return out


def gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(') ', 1)[1][0] in 'ZX'
    except (FileNotFoundError, ProcessLookupError):
        return True


def kill_all(pids, timeout=30):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(not gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def vm_config(guest, memory, serial):
    return json.dumps({'payload': {'kernel': guest, 'cmdline': 'test=halt'}, 'memory': {'size': memory},
                       'serial': {'mode': 'File', 'file': serial}, 'console': {'mode': 'Off'}})


class Daemon:
    """A private bus with chv's policy, and chvd on it."""

    def __init__(self, chvd, vmm, client):
        self.client_path = client
        self.env = chvtest.Env()
        self.dir = self.env.dir
        self.serial_dir = os.path.join(self.dir, 's')
        os.mkdir(self.serial_dir)
        # The runtime directory on tmpfs, as /run is (its files are written with fsync, which costs
        # nothing there); the definitions where the temporary directory is.
        self.runtime_dir = self.env.runtime_dir
        if os.path.isdir('/dev/shm'):
            self.runtime_dir = tempfile.mkdtemp(prefix='chvd-bench.', dir='/dev/shm')
        self.argv = [chvd, '--state-dir', self.env.state_dir, '--runtime-dir', self.runtime_dir,
                     '--vmm', vmm, '--log-target', 'console']
        self.start()

    def start(self):
        """Starts chvd; returns the wall and CPU time until it answers Ping."""
        log = open(os.path.join(self.dir, 'chvd.log'), 'a')
        t0 = time.monotonic_ns()
        self.env.chvd = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env.env)
        log.close()
        self.pid = self.env.chvd.pid
        deadline = time.monotonic() + 60
        while True:
            cpu = cpu_ns(self.pid)
            p = subprocess.run([self.client_path, 'ping'], env=self.env.env, capture_output=True)
            if p.returncode == 0:
                return {'wall_ns': time.monotonic_ns() - t0, 'cpu_ns': cpu}
            if self.env.chvd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('chvd did not come up: ' + self.log()[-2000:])
            time.sleep(0.01)

    def stop(self):
        self.env.stop_chvd()

    def log(self):
        try:
            with open(os.path.join(self.dir, 'chvd.log')) as f:
                return f.read()
        except OSError:
            return ''

    def bus_pid(self):
        return self.env.bus.pid

    def client(self, *args, watch=(), check=True):
        env = dict(self.env.env)
        if watch:
            env['WATCH_PIDS'] = ','.join(str(p) for p in watch)
        p = subprocess.run([self.client_path] + [str(a) for a in args], env=env, capture_output=True, text=True)
        try:
            out = json.loads(p.stdout)
        except json.JSONDecodeError:
            out = {'status': 1}
        if p.returncode != 0 and check:
            raise RuntimeError('daemon-client %s failed (%d): %s %s\n--- chvd log:\n%s' % (
                args[0], p.returncode, p.stderr.strip(), p.stdout[:2000], self.log()[-3000:]))
        return out

    def close(self):
        try:
            self.env.close()
        finally:
            self.env.cleanup()
            # Workers whose command line names the runtime directory (Env.cleanup looks for its own).
            for pid in filter(str.isdigit, os.listdir('/proc')):
                try:
                    with open('/proc/%s/cmdline' % pid, 'rb') as f:
                        if (self.runtime_dir + '/').encode() in f.read():
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


# Rounds (with KVM).

def fleet_summary(res, kind, count):
    members = res['members']
    s = {
        'kind': kind, 'count': count, 'ok': res['status'] == 0,
        'output_ns': [m['output_ns'] for m in members],
        'cpu_ns': [m['cpu_ns'] for m in members],
        'all_output_ns': max(m['output_ns'] for m in members),
    }
    if kind == 'chv':
        s['created_ns'] = [m['created_ns'] for m in members]
        s['booted_ns'] = [m['booted_ns'] for m in members]
        s['all_booted_ns'] = max(m['booted_ns'] for m in members)
    if not s['ok']:
        s['errors'] = [m.get('error') for m in members if m.get('error')]
    return s


def run_fleet(d, kind, prefix, count, args):
    if kind == 'chv':
        res = d.client('fleet-chv', prefix, count, d.serial_dir, vm_config(args.guest, args.memory, '@SERIAL@'),
                       watch=(d.pid, d.bus_pid()))
    else:
        res = d.client('fleet-qemu', prefix, count, d.serial_dir, *qemu_argv(args))
    s = fleet_summary(res, kind, count)
    if kind == 'chv':
        s['chvd_cpu_ns'] = res['watched'][0]['cpu_ns']
        s['bus_cpu_ns'] = res['watched'][1]['cpu_ns']
    s['pids'] = [m['pid'] for m in res['members']]
    return s


def qemu_argv(args):
    return [args.qemu, '-M', QEMU_MACHINE, '-accel', 'kvm', '-cpu', 'host', '-m', '%dM' % (args.memory // MiB),
            '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
            '-serial', 'file:@SERIAL@', '-qmp', 'unix:@QMP@,server=on,wait=off',
            '-kernel', args.guest, '-append', 'test=halt', '-device', 'isa-debug-exit,iobase=0xf4,iosize=1']


def wait_file(path, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError('no %s' % path)
        time.sleep(0.02)


def info_blocks(d, vm_name, qemu_pid, qmp_socket, args, first):
    """Alternating blocks of Info (chv) and query-status (QMP): every latency, and CPU per call."""
    out = {'chv': [], 'qemu': [], 'chvd_cpu_ns': 0, 'bus_cpu_ns': 0, 'qemu_cpu_ns': 0, 'calls': 0}
    wait_file(qmp_socket)
    for b in range(args.info_blocks):
        order = ('chv', 'qemu') if (b + first) % 2 == 0 else ('qemu', 'chv')
        for kind in order:
            if kind == 'chv':
                c0, b0 = cpu_ns(d.pid), cpu_ns(d.bus_pid())
                r = d.client('info', vm_name, args.info_calls, args.info_warmup)
                out['chvd_cpu_ns'] += cpu_ns(d.pid) - c0
                out['bus_cpu_ns'] += cpu_ns(d.bus_pid()) - b0
                out['chv_reply_bytes'] = r['reply_bytes']
            else:
                q0 = cpu_ns(qemu_pid)
                r = d.client('qmp', qmp_socket, args.info_calls, args.info_warmup)
                out['qemu_cpu_ns'] += cpu_ns(qemu_pid) - q0
                out['qemu_reply_bytes'] = r['reply_bytes']
            out[kind] += r['latency_ns']
    # The client's connection set-up (Hello, ...) and the warm-up calls are in the CPU time too.
    out['calls'] = args.info_blocks * (args.info_calls + args.info_warmup)
    return out


def stop_fleet(d, kind, prefix, args, qemu_pids):
    if kind == 'chv':
        d.client('stop-chv', prefix, args.fleet)
    else:
        kill_all(qemu_pids)
        del qemu_pids[:]
    for f in os.listdir(d.serial_dir):
        if f.startswith(prefix):
            os.unlink(os.path.join(d.serial_dir, f))


def one_round(d, args, r, warmup=False):
    order = ('chv', 'qemu') if r % 2 == 0 else ('qemu', 'chv')
    rnd = {'round': r, 'order': list(order)}
    qemu_pids = []
    try:
        # One VM each.
        for kind in order:
            s = run_fleet(d, kind, 'one%d-' % r if kind == 'chv' else 'q1-%d-' % r, 1, args)
            rnd[kind + '1'] = s
            if kind == 'chv':
                d.client('stop-chv', 'one%d-' % r, 1)
            else:
                qemu_pids += s['pids']
        # Info with no VM running (the Created VM "idle"), against QMP on the single QEMU.
        rnd['info0'] = info_blocks(d, 'idle0', rnd['qemu1']['pids'][0],
                                   os.path.join(d.serial_dir, 'q1-%d-0.qmp' % r), args, r)
        kill_all(qemu_pids)
        qemu_pids = []
        if warmup:
            return rnd
        # 20 VMs each, at once, each kind alone on the host: the first fleet goes before the second starts.
        rnd['chvd_before_fleet'] = rollup(d.pid)
        prefixes = {'chv': 'vm%d-' % r, 'qemu': 'q20-%d-' % r}
        for i, kind in enumerate(order):
            s = run_fleet(d, kind, prefixes[kind], args.fleet, args)
            rnd[kind + 'N'] = s
            if kind == 'chv':
                rnd['chvd_with_fleet'] = rollup(d.pid)
            else:
                qemu_pids += s['pids']
            if i == 0:
                stop_fleet(d, kind, prefixes[kind], args, qemu_pids)
        # For Info with 20 running, the first fleet again (not timed): both kinds run during the blocks.
        s = run_fleet(d, order[0], prefixes[order[0]], args.fleet, args)
        qemu_pid = rnd['qemuN']['pids'][0]
        if order[0] == 'qemu':
            qemu_pids += s['pids']
            qemu_pid = s['pids'][0]
        rnd['infoN'] = info_blocks(d, 'vm%d-0' % r, qemu_pid,
                                   os.path.join(d.serial_dir, 'q20-%d-0.qmp' % r), args, r)
        rnd['ok'] = all(rnd[k]['ok'] for k in ('chv1', 'qemu1', 'chvN', 'qemuN'))
    finally:
        kill_all(qemu_pids)
        if not warmup:
            c0 = cpu_ns(d.pid)
            st = d.client('stop-chv', 'vm%d-' % r, args.fleet, check=False)
            rnd['stop_fleet'] = {'wall_ns': st.get('wall_ns'), 'chvd_cpu_ns': cpu_ns(d.pid) - c0}
        for f in os.listdir(d.serial_dir):
            os.unlink(os.path.join(d.serial_dir, f))
    return rnd


def cmd_rounds(args):
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        print('daemon.py: /dev/kvm is not usable here (run through tests/kvmhost/run)', file=sys.stderr)
        return 77
    data = {'meta': {'date': now_utc(), 'host': describe_host(), 'rounds_done': 0, 'fleet': args.fleet,
                     'memory': args.memory, 'info_calls': args.info_calls, 'info_blocks': args.info_blocks,
                     'qemu_argv': ' '.join(shlex.quote(a) for a in qemu_argv(args)),
                     'chv_config': vm_config(args.guest, args.memory, 'DIR/NAME.serial'),
                     'versions': versions(args)},
            'rounds': []}
    d = Daemon(args.chvd, args.vmm, args.client)
    try:
        d.client('create', 'idle', 1, vm_config(args.guest, args.memory, os.path.join(d.serial_dir, 'idle')))
        # An uncounted round of 1-VM boots first: page cache, the first exec of each binary.
        if args.warmup:
            one_round(d, args, 99, warmup=True)
        for r in range(args.rounds):
            rnd = one_round(d, args, r)
            data['rounds'].append(rnd)
            data['meta']['rounds_done'] = len(data['rounds'])
            write_json(args.json, data)
            print('daemon.py: round %d: chv 1 VM %.0f ms, QEMU %.0f ms; %d VMs: chv %.0f ms, QEMU %.0f ms; '
                  'Info p99 %.0f us (20 running)' % (
                      r, rnd['chv1']['all_output_ns'] / 1e6, rnd['qemu1']['all_output_ns'] / 1e6, args.fleet,
                      rnd['chvN']['all_output_ns'] / 1e6, rnd['qemuN']['all_output_ns'] / 1e6,
                      pct(rnd['infoN']['chv'], 99) / 1e3), file=sys.stderr, flush=True)
    finally:
        d.close()
    return 0


# Memory (no KVM).

def info_cpu(d, name, args):
    c0, b0 = cpu_ns(d.pid), cpu_ns(d.bus_pid())
    r = d.client('info', name, args.info_calls, args.info_warmup)
    calls = args.info_calls + args.info_warmup
    return {'latency_ns': r['latency_ns'], 'chvd_cpu_ns': (cpu_ns(d.pid) - c0) / calls,
            'bus_cpu_ns': (cpu_ns(d.bus_pid()) - b0) / calls, 'reply_bytes': r['reply_bytes']}


def cmd_memory(args):
    reps = []
    for rep in range(args.reps):
        d = Daemon(args.chvd, args.fake_vmm or args.vmm, args.client)
        try:
            rep_data = {'points': []}
            d.client('ping')
            rep_data['points'].append({'vms': 0, **rollup(d.pid)})
            defined = 0
            for target, prefix in ((100, 'a'), (1000, 'b')):
                n = target - defined
                c0 = cpu_ns(d.pid)
                res = d.client('create', prefix, n, vm_config(args.guest, args.memory,
                                                              os.path.join(d.serial_dir, '@NAME@.serial')))
                rep_data.setdefault('create', []).append({'count': n, 'wall_ns': res['wall_ns'],
                                                          'chvd_cpu_ns': cpu_ns(d.pid) - c0,
                                                          'latency_ns': res['latency_ns']})
                defined = target
                rep_data['points'].append({'vms': defined, **rollup(d.pid)})
                # Info of a Created VM among them, no VM running.
                rep_data['info_%d' % defined] = info_cpu(d, prefix + '50', args)
            # A chvd that finds 1000 definitions.
            d.stop()
            rep_data['restart'] = d.start()
            rep_data['points'].append({'vms': defined, 'restarted': True, **rollup(d.pid)})
            # chvd's side of running VMs, with a worker that costs nothing (bench/daemon-stub, or
            # tests/integration/daemon/fake-vmm.py): 20 of the 1000 booted at once, Info of one of them
            # while they run; then 100 others at once.
            if args.fake_vmm:
                for prefix, count in (('b', args.fleet), ('a', 100)):
                    before = rollup(d.pid)
                    res = d.client('boot', prefix, count, watch=(d.pid, d.bus_pid()))
                    rep_data.setdefault('fake_boot', []).append({
                        'count': count, 'done_ns': res['done_ns'], 'booted_ns': [m['booted_ns'] for m in res['members']],
                        'chvd_cpu_ns': res['watched'][0]['cpu_ns'], 'bus_cpu_ns': res['watched'][1]['cpu_ns'],
                        'before': before, 'after': rollup(d.pid)})
                    if prefix == 'b':
                        time.sleep(1)  # let the workers settle
                        rep_data['info_running'] = info_cpu(d, 'b0', args)
                    d.client('stop-chv', prefix, count, check=False)
        finally:
            d.close()
        reps.append(rep_data)
        print('daemon.py: memory repetition %d: RSS %s' % (rep, ', '.join(
            '%d VMs %.2f MiB' % (p['vms'], p['Rss'] / MiB) for p in rep_data['points'])), file=sys.stderr)
    write_json(args.json, {'meta': {'date': now_utc(), 'host': describe_host(), 'versions': versions(args),
                                    'stand_in': os.path.relpath(args.fake_vmm, SOURCE_ROOT) if args.fake_vmm else None},
                           'reps': reps})
    return 0


# Helpers.

def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')


def describe_host():
    inside = bool(os.environ.get('CHV_KVMHOST_INSIDE'))
    mods = [m for m in ('kvm_amd', 'kvm_intel', 'kvm_pvm') if os.path.isdir('/sys/module/' + m)]
    cpu = 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return {'kernel': platform.release(), 'cpus': os.cpu_count(), 'cpu_model': cpu, 'kvm_modules': mods,
            'emulated_kvm_host': inside, 'loadavg': open('/proc/loadavg').read().split()[:3]}


def versions(args):
    v = {}
    for k, argv in (('qemu', [args.qemu, '--version']), ('chvd', [args.chvd, '--version'])):
        try:
            v[k] = subprocess.run(argv, capture_output=True, text=True).stdout.split('\n')[0]
        except OSError:
            pass
    return v


def write_json(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, path)


def pct(values, p):
    """The p-th percentile (nearest rank) of values."""
    v = sorted(values)
    if not v:
        return float('nan')
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float('nan')


# The report.

def fmt_ms(ns):
    return '%.1f ms' % (ns / 1e6)


def fmt_us(ns):
    return '%.0f µs' % (ns / 1e3)


def ratio(a, b):
    return '%.1fx' % (a / b) if b else 'n/a'


def report(args):
    rounds, metas = [], []
    for p in args.parts:
        with open(p) as f:
            data = json.load(f)
        metas.append(data['meta'])
        rounds += [r for r in data['rounds'] if r.get('ok')]
    failed = sum(1 for p in args.parts for r in json.load(open(p))['rounds'] if not r.get('ok'))
    mem = None
    if args.memory:
        with open(args.memory) as f:
            mem = json.load(f)
    meta = metas[0] if metas else {}
    n = meta.get('fleet', 20)
    lines = []
    w = lines.append

    w('### Results, %s' % (meta.get('date') or now_utc()))
    w('')
    w('`bench/run-daemon-bench%s` at %s. %d rounds counted%s, in %d batch(es), each in a freshly started emulated '
      'KVM host, each starting with an uncounted round of 1-VM boots.' % (
          args.command_line or '', args.revision or '?', len(rounds),
          ' (%d failed, left out)' % failed if failed else '', len(args.parts)))
    w('')
    if rounds:
        def col(key, field, agg=max):
            return [r[key][field] if not isinstance(r[key][field], list) else agg(r[key][field]) for r in rounds]

        c1o, q1o = med(col('chv1', 'all_output_ns')), med(col('qemu1', 'all_output_ns'))
        c1b = med(col('chv1', 'all_booted_ns'))
        cNo, qNo = med(col('chvN', 'all_output_ns')), med(col('qemuN', 'all_output_ns'))
        cNb = med(col('chvN', 'all_booted_ns'))
        cNb_med = med([med(r['chvN']['booted_ns']) for r in rounds])
        cNo_med = med([med(r['chvN']['output_ns']) for r in rounds])
        qNo_med = med([med(r['qemuN']['output_ns']) for r in rounds])
        per_round_ratio = med([r['qemuN']['all_output_ns'] / r['chvN']['all_output_ns'] for r in rounds])
        per_round_ratio1 = med([r['qemu1']['all_output_ns'] / r['chv1']['all_output_ns'] for r in rounds])
        w('**Boots** (wall time from the first CreateVM call, or the first QEMU spawn, medians over the rounds):')
        w('')
        w('| Metric | chvd + chv-vmm | QEMU processes | QEMU / chv |')
        w('|---|---:|---:|---:|')
        w('| 1 VM: to Boot\'s return (READY=1: the guest\'s first instruction) | %s | n/a | n/a |' % fmt_ms(c1b))
        w('| 1 VM: to the first guest output | %s | %s | %s (per round %s) |' % (
            fmt_ms(c1o), fmt_ms(q1o), ratio(q1o, c1o), '%.1fx' % per_round_ratio1))
        w('| %d VMs at once: until every Boot returned | %s | n/a | n/a |' % (n, fmt_ms(cNb)))
        w('|   median VM of the %d | %s | n/a | n/a |' % (n, fmt_ms(cNb_med)))
        rr = [r['qemuN']['all_output_ns'] / r['chvN']['all_output_ns'] for r in rounds]
        w('| %d VMs at once: until every guest printed | %s | %s | %s (per round %s, %.1f–%.1fx) |' % (
            n, fmt_ms(cNo), fmt_ms(qNo), ratio(qNo, cNo), '%.1fx' % per_round_ratio, min(rr), max(rr)))
        w('|   median VM of the %d | %s | %s | %s |' % (n, fmt_ms(cNo_med), fmt_ms(qNo_med), ratio(qNo_med, cNo_med)))
        w('| **VM boots per second, to the first guest instruction** (%d at once) | **%.1f** | n/a | n/a |' % (
            n, n / (cNb / 1e9)))
        w('| VM boots per second, to the first guest output (%d at once) | %.1f | %.1f | %s |' % (
            n, n / (cNo / 1e9), n / (qNo / 1e9), ratio(cNo and n / (cNo / 1e9), n / (qNo / 1e9) if qNo else 0)))
        w('| VM boots per second, 1 VM at a time, to the first instruction / output | %.1f / %.1f | – / %.1f | |' % (
            1e9 / c1b, 1e9 / c1o, 1e9 / q1o))
        w('')
        # CPU.
        chvd1 = med(col('chv1', 'chvd_cpu_ns'))
        chvdN = med(col('chvN', 'chvd_cpu_ns'))
        bus1 = med(col('chv1', 'bus_cpu_ns'))
        busN = med(col('chvN', 'bus_cpu_ns'))
        vmmN = med([med(r['chvN']['cpu_ns']) for r in rounds])
        qemuN = med([med(r['qemuN']['cpu_ns']) for r in rounds])
        vmm1 = med([r['chv1']['cpu_ns'][0] for r in rounds])
        qemu1 = med([r['qemu1']['cpu_ns'][0] for r in rounds])
        w('**CPU time per VM boot** (process CPU clocks; chvd and dbus-daemon over the whole fleet step, divided by '
          'the VMs; each chv-vmm and QEMU process from its start to the moment the last guest of its fleet had '
          'printed, guest execution included):')
        w('')
        w('| Metric | 1 VM | %d VMs at once (per VM) |' % n)
        w('|---|---:|---:|')
        w('| chvd (CreateVM, Boot, fork, worker set-up, READY=1, the replies) | %s | %s |' % (
            fmt_ms(chvd1), fmt_ms(chvdN / n)))
        w('| dbus-daemon (routing the calls, replies and signals) | %s | %s |' % (fmt_ms(bus1), fmt_ms(busN / n)))
        w('| chv-vmm (one VM) | %s | %s |' % (fmt_ms(vmm1), fmt_ms(vmmN)))
        w('| **chvd + dbus-daemon + chv-vmm** | **%s** | **%s** |' % (
            fmt_ms(chvd1 + bus1 + vmm1), fmt_ms((chvdN + busN) / n + vmmN)))
        w('| QEMU (one process) | %s | %s |' % (fmt_ms(qemu1), fmt_ms(qemuN)))
        w('| QEMU / (chvd + dbus-daemon + chv-vmm) | %s | %s |' % (
            ratio(qemu1, chvd1 + bus1 + vmm1), ratio(qemuN, (chvdN + busN) / n + vmmN)))
        w('')
        # Info.
        w('**Info latency** (one client, calls one after the other, %d per block, %d blocks per round alternating '
          'with QMP, all rounds pooled):' % (meta.get('info_calls', 0), meta.get('info_blocks', 0)))
        w('')
        w('| Metric | VM1.Info (chvd) | QMP query-status (QEMU) | QEMU / chv |')
        w('|---|---:|---:|---:|')
        for key, label in (('info0', 'no VM running (a Created VM; QMP: a single running QEMU)'),
                           ('infoN', '%d VMs running (and %d QEMUs)' % (n, n))):
            chv = [x for r in rounds for x in r[key]['chv']]
            qemu = [x for r in rounds for x in r[key]['qemu']]
            for p in (50, 99):
                a, b = pct(chv, p), pct(qemu, p)
                w('| %s, p%d | %s | %s | %s |' % (label, p, fmt_us(a), fmt_us(b), ratio(b, a)))
            p99s = [pct(r[key]['chv'], 99) for r in rounds]
            w('|   p99 of the worst round | %s | %s | |' % (fmt_us(max(p99s)), fmt_us(max(pct(r[key]['qemu'], 99)
                                                                                      for r in rounds))))
            calls = med([r[key]['calls'] for r in rounds])
            cpu_c = med([r[key]['chvd_cpu_ns'] for r in rounds]) / calls
            cpu_b = med([r[key]['bus_cpu_ns'] for r in rounds]) / calls
            cpu_q = med([r[key]['qemu_cpu_ns'] for r in rounds]) / calls
            w('|   CPU per call: chvd + dbus-daemon (chvd alone) / QEMU | %.0f µs (%.0f µs) | %.0f µs | %s |' % (
                (cpu_c + cpu_b) / 1e3, cpu_c / 1e3, cpu_q / 1e3, ratio(cpu_q, cpu_c + cpu_b)))
        r0 = rounds[0]
        w('')
        w('Reply sizes: Info %d bytes of JSON, query-status %d bytes.' % (
            r0['infoN'].get('chv_reply_bytes', 0), r0['infoN'].get('qemu_reply_bytes', 0)))
        w('')
    if mem:
        w('**chvd memory per defined VM** (no KVM needed; %d repetitions, each with a fresh chvd, medians):' % len(
            mem['reps']))
        w('')
        w('| Defined VMs (Created) | RSS | PSS | private | anonymous |')
        w('|---:|---:|---:|---:|---:|')
        pts = {}
        for rep in mem['reps']:
            for p in rep['points']:
                pts.setdefault((p['vms'], p.get('restarted', False)), []).append(p)
        for (vms, restarted), ps in sorted(pts.items()):
            w('| %d%s | %.2f MiB | %.2f MiB | %.2f MiB | %.2f MiB |' % (
                vms, ' (a chvd started with them)' if restarted else '', med([p['Rss'] for p in ps]) / MiB,
                med([p['Pss'] for p in ps]) / MiB, med([p['Private'] for p in ps]) / MiB,
                med([p['Anonymous'] for p in ps]) / MiB))
        r0 = med([p['Rss'] for p in pts[(0, False)]])
        r100 = med([p['Rss'] for p in pts[(100, False)]])
        r1000 = med([p['Rss'] for p in pts[(1000, False)]])
        p0 = med([p['Pss'] for p in pts[(0, False)]])
        p1000 = med([p['Pss'] for p in pts[(1000, False)]])
        w('')
        w('Slope: **%.1f KiB RSS per defined VM** from 0 to 1000 (%.1f KiB from 0 to 100, %.1f from 100 to 1000); '
          'PSS %.1f KiB per VM.' % ((r1000 - r0) / 1000 / 1024, (r100 - r0) / 100 / 1024, (r1000 - r100) / 900 / 1024,
                                    (p1000 - p0) / 1000 / 1024))
        lat = [x for rep in mem['reps'] for c in rep['create'] for x in c['latency_ns']]
        cpu = sum(c['chvd_cpu_ns'] for rep in mem['reps'] for c in rep['create'])
        cnt = sum(c['count'] for rep in mem['reps'] for c in rep['create'])
        wall = sum(c['wall_ns'] for rep in mem['reps'] for c in rep['create'])
        w('CreateVM, 16 calls in flight: %.0f per second, latency p50 %s, p99 %s; chvd\'s CPU %s per CreateVM. '
          'A chvd that finds 1000 definitions answers Ping %s after its start (%s of CPU).' % (
              cnt / (wall / 1e9), fmt_ms(pct(lat, 50)), fmt_ms(pct(lat, 99)), fmt_us(cpu / cnt),
              fmt_ms(med([rep['restart']['wall_ns'] for rep in mem['reps']])),
              fmt_ms(med([rep['restart']['cpu_ns'] for rep in mem['reps']]))))
        w('')
        reps = mem['reps']
        rows = [('info_100', 'a Created VM, 100 defined, none running'),
                ('info_1000', 'a Created VM, 1000 defined, none running')]
        if all('info_running' in rep for rep in reps):
            rows.append(('info_running', 'a running VM, 1000 defined, %d running (stand-in workers)' %
                         reps[0]['fake_boot'][0]['count']))
        w('The same machine, no KVM: Info latency (all repetitions pooled) and CPU per call (medians):')
        w('')
        w('| VM1.Info of | p50 | p99 | CPU per call: chvd | dbus-daemon |')
        w('|---|---:|---:|---:|---:|')
        for key, label in rows:
            lat = [x for rep in reps for x in rep[key]['latency_ns']]
            w('| %s | %s | %s | %s | %s |' % (label, fmt_us(pct(lat, 50)), fmt_us(pct(lat, 99)),
                                              fmt_us(med([rep[key]['chvd_cpu_ns'] for rep in reps])),
                                              fmt_us(med([rep[key]['bus_cpu_ns'] for rep in reps]))))
        w('')
        if all('fake_boot' in rep for rep in reps):
            w('Boots with a worker that costs nothing (%s instead of chv-vmm: it says READY=1 at once and waits), so '
              'that only chvd\'s side counts, N VMs of the 1000 at once (medians):' % mem['meta']['stand_in'])
            w('')
            w('| Boots at once | all returned after | Boots per second | chvd CPU per Boot | dbus-daemon CPU per Boot '
              '| chvd RSS per running VM |')
            w('|---:|---:|---:|---:|---:|---:|')
            for i, fb0 in enumerate(reps[0]['fake_boot']):
                fb = [rep['fake_boot'][i] for rep in reps]
                k = fb0['count']
                done = med([f['done_ns'] for f in fb])
                w('| %d | %s | %.0f | %s | %s | %.1f KiB |' % (
                    k, fmt_ms(done), k / (done / 1e9), fmt_ms(med([f['chvd_cpu_ns'] / k for f in fb])),
                    fmt_ms(med([f['bus_cpu_ns'] / k for f in fb])),
                    med([(f['after']['Rss'] - f['before']['Rss']) / k / 1024 for f in fb])))
            w('')
    # Environment.
    w('**Where it ran.**')
    if metas:
        h = meta['host']
        w('- Boots and Info: %s, kernel %s, %d vCPUs (%s), %s; %s, %s.' % (
            'an emulated KVM host started by `tests/kvmhost/run` (Linux under QEMU TCG, nested KVM on emulated SVM)'
            if h.get('emulated_kvm_host') else 'this machine', h['kernel'], h['cpus'], h['cpu_model'],
            'KVM modules ' + ', '.join(h['kvm_modules']), meta['versions'].get('qemu', 'QEMU ?'),
            meta['versions'].get('chvd', 'chvd ?')))
    if mem:
        h = mem['meta']['host']
        w('- Memory: %s, kernel %s, %d vCPUs.' % ('the emulated KVM host' if h.get('emulated_kvm_host')
                                                  else 'the machine itself (no KVM used)', h['kernel'], h['cpus']))
    if args.outer_loadavg and os.path.exists(args.outer_loadavg):
        loads = [float(l.split()[0]) for l in open(args.outer_loadavg) if l.strip()]
        if loads:
            w('- The machine underneath: %d vCPUs shared with other work; 1-minute load average %.1f–%.1f '
              '(median %.1f, %d samples) during the run.' % (os.cpu_count(), min(loads), max(loads), med(loads),
                                                              len(loads)))
    w('')
    text = '\n'.join(lines) + '\n'
    with open(args.markdown, 'w') as f:
        f.write(text)
    write_json(args.json, {'parts': [json.load(open(p)) for p in args.parts], 'memory': mem})
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('rounds', 'memory'):
        p = sub.add_parser(name)
        build = os.environ.get('CHV_BUILD', os.path.join(SOURCE_ROOT, 'build'))
        p.add_argument('--chvd', default=os.path.join(build, 'src/daemon/chvd'))
        p.add_argument('--vmm', default=os.path.join(build, 'src/hv/chv-vmm'))
        p.add_argument('--client', default=os.path.join(build, 'bench/daemon-client'))
        p.add_argument('--guest', default=os.path.join(build, 'tests/guest/chv-test-guest.elf'))
        p.add_argument('--qemu', default=shutil.which('qemu-system-x86_64') or 'qemu-system-x86_64')
        p.add_argument('--memory', type=int, default=64 * MiB, help='guest memory, bytes')
        p.add_argument('--json', required=True)
        p.add_argument('--info-calls', type=int, default=500)
        p.add_argument('--info-warmup', type=int, default=20)
        if name == 'rounds':
            p.add_argument('--rounds', type=int, default=2)
            p.add_argument('--fleet', type=int, default=20)
            p.add_argument('--info-blocks', type=int, default=4)
            p.add_argument('--no-warmup', dest='warmup', action='store_false')
        else:
            p.add_argument('--reps', type=int, default=3)
            p.add_argument('--fleet', type=int, default=20)
            stub = os.path.join(build, 'bench/daemon-stub')
            p.add_argument('--fake-vmm', default=stub if os.path.exists(stub) else
                           os.path.join(SOURCE_ROOT, 'tests/integration/daemon/fake-vmm.py'),
                           help='the stand-in for chv-vmm that "runs" VMs without KVM ("" for none)')
    p = sub.add_parser('report')
    p.add_argument('parts', nargs='*')
    p.add_argument('--memory')
    p.add_argument('--markdown', required=True)
    p.add_argument('--json', required=True)
    p.add_argument('--outer-loadavg')
    p.add_argument('--revision')
    p.add_argument('--command-line')
    args = ap.parse_args()
    if args.cmd != 'report':
        for k in ('chvd', 'vmm', 'client', 'guest'):
            setattr(args, k, os.path.abspath(getattr(args, k)))
    return {'rounds': cmd_rounds, 'memory': cmd_memory, 'report': report}[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
