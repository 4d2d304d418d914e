#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chvd booting real VMs: the test guest (tests/guest) run by chv-vmm on KVM, through Boot, Shutdown,
PowerButton, Reboot and OpenConsole; workers that die; calls in the wrong state; concurrent Boots.
Run where /dev/kvm works (tests/kvmhost/run provides one); without it every test skips."""

import json
import os
import subprocess
import time

import chvtest
from chvtest import VM_IFACE, Skip, check, check_eq, read_until, run, vm_path, wait_for

GUEST = os.environ.get('CHV_TEST_GUEST', '')
MIB = 1024 * 1024
INVALID_STATE = 'org.cloudhypervisor.Error.InvalidState'
BOOT_FAILED = 'org.cloudhypervisor.Error.BootFailed'


def need_kvm():
    chvtest.need_kvm(GUEST)


def guest(test, serial='Tty', **extra):
    config = {'payload': {'kernel': GUEST, 'cmdline': 'test=' + test}, 'memory': {'size': 64 * MIB},
              'serial': {'mode': serial}, 'console': {'mode': 'Off'}}
    config.update(extra)
    return config


def start(env, *args):
    need_kvm()
    env.start_chvd(*args)


def worker_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except FileNotFoundError:
        return False


class Console:
    """What the guest wrote on the VM's terminal, read through OpenConsole (bus-call reads 0.5 s)."""

    def __init__(self, env, name):
        self.env, self.name, self.text = env, name, ''

    def read(self):
        ok, v = self.env.call(vm_path(self.name), VM_IFACE, 'OpenConsole')
        check(ok, 'OpenConsole', v)
        self.text += v[0]['read']
        return self.text

    def wait(self, text, timeout=60):
        wait_for(lambda: text in self.read(), '%r on the console of %s' % (text, self.name), timeout=timeout,
                 interval=0.1)


def test_boot_console_shutdown(env):
    start(env)
    mon = env.monitor()
    path = env.create('web', guest('halt'))
    check_eq(env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'Boot'), None, 'Boot through busctl')
    check_eq(env.state('web'), 'Running', 'State once Boot returned')
    pid = env.prop(path, 'MainPID')
    check(pid > 0 and os.readlink('/proc/%d/exe' % pid) == os.path.realpath(os.environ['CHV_VMM']),
          'MainPID is not chv-vmm', pid)
    check_eq(env.prop(path, 'Unit'), '', 'Unit without systemd on the bus')
    info = env.info('web')
    check_eq(info['state'], 'Running', 'Info.state')
    check_eq(info['memory_actual_size'], 64 * MIB, 'Info.memory_actual_size')
    check_eq(info['main_pid'], pid, 'Info.main_pid')
    # The worker's runtime directory, and the configuration it was given.
    rundir = os.path.join(env.runtime_dir, 'vms', 'web')
    check_eq(sorted(os.listdir(rundir)), ['config.json', 'ctl', 'notify', 'worker.json'], 'the runtime directory')
    with open(os.path.join(rundir, 'config.json')) as f:
        check_eq(json.load(f)['payload']['cmdline'], 'test=halt', 'the worker\'s configuration')
    # The serial port on the VM's terminal.
    con = Console(env, 'web')
    con.wait('halt: idle')
    check('chv-test-guest: start cmdline="test=halt"' in con.text, 'the console lacks the first line', con.text)
    # Shutdown returns once the worker is gone.
    check_eq(env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'Shutdown'), None, 'Shutdown through busctl')
    check_eq(env.state('web'), 'Shutdown', 'State once Shutdown returned')
    check_eq(env.prop(path, 'MainPID'), 0, 'MainPID after Shutdown')
    check(not worker_alive(pid), 'the worker still runs after Shutdown')
    check(not os.path.exists(rundir), 'the runtime directory is left after Shutdown')
    check('failure' not in env.info('web'), 'a failure after a clean Shutdown', env.info('web'))
    events = [mon.payload(s)[1] for s in mon.signals('Event', path)]
    check_eq(events, ['booting', 'booted', 'shutdown'], 'the events')
    states = [mon.payload(s)[1]['State']['data'] for s in mon.signals('PropertiesChanged', path)
              if 'State' in mon.payload(s)[1]]
    check_eq(states, ['Starting', 'Running', 'Stopping', 'Shutdown'], 'the State changes signalled')
    # Again, from Shutdown; chvd says only once that there is no systemd.
    env.call_ok(path, VM_IFACE, 'Boot')
    check(env.prop(path, 'MainPID') not in (0, pid), 'a new worker for the second boot')
    env.call_ok(path, VM_IFACE, 'Shutdown')
    check_eq(env.chvd_log().count('No systemd manager on the bus'), 1, 'how often chvd says it has no systemd')
    env.alive()


def test_power_button(env):
    start(env)
    out = os.path.join(env.dir, 'serial.out')
    path = env.create('web', dict(guest('power-button'), serial={'mode': 'File', 'file': out}))
    mon = env.monitor()
    env.call_ok(path, VM_IFACE, 'Boot')
    Console(env, 'web').wait('power-button: waiting')
    check_eq(env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'PowerButton'), None, 'PowerButton')
    env.wait_state('web', 'Shutdown')
    with open(out) as f:
        text = f.read()
    check('power-button: pressed, events=0x1' in text and 'chv-test-guest: result=PASS' in text,
          'the guest did not see the power button', text)
    mon.wait_signal('Event', path, lambda p: p[1] == 'shutdown')
    check('Shut down: the guest powered off' in env.chvd_log(), 'the log does not say the guest powered off',
          env.chvd_log()[-2000:])
    check('failure' not in env.info('web'), 'a failure after the guest powered off')


def test_pause_resume_counters(env):
    """Pause, Resume and Counters on a real chv-vmm, through its control socket."""
    start(env)
    disk = os.path.join(env.dir, 'disk.img')
    with open(disk, 'wb') as f:
        f.truncate(MIB)
    path = env.create('web', guest('power-button', disks=[{'path': disk}]))
    mon = env.monitor()
    env.call_ok(path, VM_IFACE, 'Boot')
    Console(env, 'web').wait('power-button: waiting')

    env.call_ok(path, VM_IFACE, 'Pause')
    check_eq(env.state('web'), 'Paused', 'the state after Pause')
    mon.wait_signal('Event', path, lambda p: p[1] == 'paused')
    check_eq(env.info('web')['state'], 'Paused', 'Info of a paused VM')
    counters = json.loads(env.call_ok(path, VM_IFACE, 'Counters')[0])
    check_eq(sorted(counters['_disk0']), ['read_bytes', 'read_ops', 'write_bytes', 'write_ops'],
             'the counters of the disk')
    env.call_error(INVALID_STATE, path, VM_IFACE, 'PowerButton')
    env.call_error(INVALID_STATE, path, VM_IFACE, 'Pause')
    check(worker_alive(env.prop(path, 'MainPID')), 'the worker of a paused VM is gone')

    env.call_ok(path, VM_IFACE, 'Resume')
    check_eq(env.state('web'), 'Running', 'the state after Resume')
    mon.wait_signal('Event', path, lambda p: p[1] == 'resumed')
    env.call_error(INVALID_STATE, path, VM_IFACE, 'Resume')
    # The guest goes on where it was: it sees the power button and powers off.
    env.call_ok(path, VM_IFACE, 'PowerButton')
    env.wait_state('web', 'Shutdown')
    check('failure' not in env.info('web'), 'a failure after the guest powered off')


def test_guest_powers_off_by_itself(env):
    start(env)
    out = os.path.join(env.dir, 'serial.out')
    path = env.create('web', dict(guest('serial'), serial={'mode': 'File', 'file': out}))
    env.call_ok(path, VM_IFACE, 'Boot')
    env.wait_state('web', 'Shutdown')
    with open(out) as f:
        check('chv-test-guest: result=PASS' in f.read(), 'the serial file lacks the result')
    check_eq(env.prop(path, 'MainPID'), 0, 'MainPID')


def test_console_file(env):
    start(env)
    out = os.path.join(env.dir, 'serial.out')
    path = env.create('web', dict(guest('halt'), serial={'mode': 'File', 'file': out}))
    env.call_ok(path, VM_IFACE, 'Boot')
    wait_for(lambda: 'halt: idle' in env.call_ok(path, VM_IFACE, 'OpenConsole')[0]['read'],
             'halt: idle in the serial file through OpenConsole')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_reboot(env):
    start(env)
    path = env.create('web', guest('halt'))
    mon = env.monitor()
    env.call_ok(path, VM_IFACE, 'Boot')
    pid = env.prop(path, 'MainPID')
    check_eq(env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'Reboot'), None, 'Reboot through busctl')
    check_eq(env.state('web'), 'Running', 'State once Reboot returned')
    pid2 = env.prop(path, 'MainPID')
    check(pid2 not in (0, pid) and not worker_alive(pid), 'Reboot did not replace the worker', pid, pid2)
    Console(env, 'web').wait('halt: idle')
    events = [mon.payload(s)[1] for s in mon.signals('Event', path)]
    check_eq(events, ['booting', 'booted', 'rebooting', 'rebooted'], 'the events')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_worker_dies(env):
    """A worker killed from outside leaves its VM Failed, with the reason; the other VM runs on."""
    start(env)
    a = env.create('a', guest('halt'))
    b = env.create('b', guest('halt'))
    env.call_ok(a, VM_IFACE, 'Boot')
    env.call_ok(b, VM_IFACE, 'Boot')
    pid_a, pid_b = env.prop(a, 'MainPID'), env.prop(b, 'MainPID')
    os.kill(pid_a, 9)
    env.wait_state('a', 'Failed')
    info = env.info('a')
    check_eq(info['failure'], 'chv-vmm was killed by signal KILL', 'Info.failure')
    check('VM a: Failed: chv-vmm was killed by signal KILL' in env.chvd_log(), 'the log lacks the failure')
    check_eq(env.prop(a, 'MainPID'), 0, 'MainPID of the failed VM')
    check_eq(env.state('b'), 'Running', 'the other VM')
    check(worker_alive(pid_b), 'the other worker')
    env.alive()
    # A Failed VM boots again.
    env.call_ok(a, VM_IFACE, 'Boot')
    check('failure' not in env.info('a'), 'the failure stays after a new boot')
    for p in (a, b):
        env.call_ok(p, VM_IFACE, 'Shutdown')


def test_guest_crash(env):
    """chv-vmm's exit status 1 with the guest running (here: a SIGSEGV of the worker) and status 2 (crash)."""
    start(env)
    path = env.create('web', guest('halt'))
    env.call_ok(path, VM_IFACE, 'Boot')
    os.kill(env.prop(path, 'MainPID'), 11)
    env.wait_state('web', 'Failed')
    check(env.info('web')['failure'].startswith('chv-vmm was killed by signal SEGV'), 'Info.failure',
          env.info('web'))


def test_boot_failures(env):
    start(env)
    path = env.create('nokernel', dict(guest('halt'), payload={'kernel': '/nonexistent/vmlinux'}))
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM nokernel did not boot: cannot open kernel "/nonexistent/vmlinux": No such file or directory',
             'the message of BootFailed')
    check_eq(env.state('nokernel'), 'Failed', 'State after a failed boot')
    check_eq(env.info('nokernel')['failure'], 'cannot open kernel "/nonexistent/vmlinux": No such file or directory',
             'Info.failure')
    check_eq(env.prop(path, 'MainPID'), 0, 'MainPID after a failed boot')
    check(not os.path.exists(os.path.join(env.runtime_dir, 'vms', 'nokernel')), 'the runtime directory is left')
    # Too much memory: chv-vmm refuses, chvd says why.
    big = env.create('big', dict(guest('halt'), memory={'size': 1 << 46}))
    msg = env.call_error(BOOT_FAILED, big, VM_IFACE, 'Boot')
    check('is more than this host has' in msg, 'the message for too much memory', msg)
    env.alive()


def test_boot_failures_of_chvd(env):
    need_kvm()
    env.start_chvd('--vmm', '/nonexistent/chv-vmm')
    path = env.create('web', guest('halt'))
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM web did not boot: cannot execute /nonexistent/chv-vmm: No such file or directory',
             'the message when chv-vmm is missing')
    env.stop_chvd()
    env.start_chvd('--require-scope')
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check('no systemd manager on the bus makes its scope, and chvd was started with --require-scope' in msg,
          'the message with --require-scope', msg)
    check_eq(env.state('web'), 'Failed', 'State')
    env.alive()


def test_chvd_restart(env):
    """A restarted chvd takes up the VM that runs on: state, process, console, Shutdown."""
    start(env)
    path = env.create('web', guest('halt'))
    env.call_ok(path, VM_IFACE, 'Boot')
    pid = env.prop(path, 'MainPID')
    Console(env, 'web').wait('halt: idle')
    check_eq(env.stop_chvd(), 0, 'the exit status of chvd')
    check(worker_alive(pid), 'the VM died with chvd')
    env.start_chvd()
    check_eq((env.state('web'), env.prop(path, 'MainPID')), ('Running', pid), 'the VM after a restart of chvd')
    # The guest's output since: nothing new (it idles), but the terminal is there.
    env.call_ok(path, VM_IFACE, 'OpenConsole')
    env.call_ok(path, VM_IFACE, 'Shutdown')
    check_eq(env.state('web'), 'Shutdown', 'the state after Shutdown')
    check(not worker_alive(pid), 'the worker after Shutdown')


def test_wrong_states(env):
    start(env)
    path = env.create('web', guest('halt'))
    for method in ('Shutdown', 'Reboot', 'PowerButton', 'OpenConsole'):
        msg = env.call_error(INVALID_STATE, path, VM_IFACE, method)
        check_eq(msg, 'VM web is Created: boot it first', 'the message of %s on a new VM' % method)
    env.call_ok(path, VM_IFACE, 'Boot')
    env.call_error(INVALID_STATE, path, VM_IFACE, 'Boot', message='it runs already')
    env.call_error(INVALID_STATE, path, VM_IFACE, 'Delete', message='VM web is Running: shut it down first')
    check(os.path.exists(os.path.join(env.state_dir, 'vms', 'web.json')), 'Delete of a running VM removed it')
    check_eq(env.state('web'), 'Running', 'State after refused calls')
    # A VM without a console.
    quiet = env.create('quiet', guest('halt', serial='Null'))
    env.call_ok(quiet, VM_IFACE, 'Boot')
    env.call_error('org.cloudhypervisor.Error.InvalidConfig', quiet, VM_IFACE, 'OpenConsole', message='has no console')
    for p in (path, quiet):
        env.call_ok(p, VM_IFACE, 'Shutdown')
        env.call_error(INVALID_STATE, p, VM_IFACE, 'Shutdown', message='is Shutdown: boot it first')
    env.call_ok(path, VM_IFACE, 'Delete')
    env.alive()


def test_concurrent_boot(env):
    start(env)
    path = env.create('web', guest('halt'))
    procs = [subprocess.Popen([os.environ['BUS_CALL'], path, VM_IFACE, 'Boot'], env=env.env,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(60), p.stdout.read()) for p in procs]
    ok = [r for r in results if r[0] == 0]
    refused = [r for r in results if r[0] == 1 and INVALID_STATE in r[1]]
    check(len(ok) == 1 and len(refused) == 3, 'concurrent Boots: one must win, the others be refused', results)
    check_eq(env.state('web'), 'Running', 'State')
    vmm = os.path.realpath(os.environ['CHV_VMM'])
    workers = [p for p in os.listdir('/proc') if p.isdigit() and worker_alive(int(p))
               and os.path.exists('/proc/%s/exe' % p) and safe_readlink('/proc/%s/exe' % p) == vmm]
    check_eq(len(workers), 1, 'chv-vmm processes after concurrent Boots')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def safe_readlink(p):
    try:
        return os.readlink(p)
    except OSError:
        return None


def test_not_root(env):
    start(env)
    path = env.create('web', guest('halt'))
    for method in ('Boot', 'Shutdown', 'Reboot', 'PowerButton', 'OpenConsole'):
        env.call_error('org.freedesktop.DBus.Error.AccessDenied', path, VM_IFACE, method, user='nobody')
    env.call_ok(path, VM_IFACE, 'Boot')
    check_eq(json.loads(env.call_ok(path, VM_IFACE, 'Info', user='nobody')[0])['state'], 'Running', 'Info as nobody')
    env.call_error('org.freedesktop.DBus.Error.AccessDenied', path, VM_IFACE, 'OpenConsole', user='nobody')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_chvctl(env):
    """chvctl with a real VM: create with Cloud Hypervisor's options, boot, console, shutdown, delete."""
    start(env)
    ctl = os.environ['CHVCTL']

    def chvctl(*args):
        p = env.run([ctl] + list(args))
        check_eq(p.returncode, 0, 'the exit status of chvctl %s (%s)' % (' '.join(args), p.stderr.strip()))
        return p.stdout

    chvctl('create', 'web', '--kernel', GUEST, '--cmdline', 'test=halt', '--memory', 'size=64M', '--serial', 'tty',
           '--console', 'off')
    chvctl('boot', 'web')
    check('State: Running' in chvctl('info', 'web'), 'chvctl info of a running VM')
    proc = subprocess.Popen([ctl, 'console', 'web'], env=env.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        read_until(proc.stdout, b'halt: idle')
        chvctl('shutdown', 'web')
        check_eq(proc.wait(20), 0, 'chvctl console when the VM stopped')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_eq(json.loads(chvctl('--json', 'info', 'web'))['state'], 'Shutdown', 'the state after chvctl shutdown')
    chvctl('delete', 'web')
    check_eq(chvctl('list', '--no-legend'), '', 'chvctl list after delete')


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS, needs_root=True)
