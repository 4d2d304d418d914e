#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How chvd reads its workers, with a stand-in for chv-vmm (fake-vmm.py) and no KVM: exit statuses and
the reasons they give, the stop timeout, notifications from the wrong process, the worker's log, and
workers that outlive chvd."""

import json
import os
import signal
import subprocess
import time

from chvtest import MANAGER, VM_IFACE, check, check_eq, run, vm_path, wait_for

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake-vmm.py')
BOOT_FAILED = 'org.cloudhypervisor.Error.BootFailed'


def fake(words):
    return {'payload': {'kernel': '/nonexistent/vmlinux', 'cmdline': words}, 'serial': {'mode': 'Tty'},
            'console': {'mode': 'Off'}}


def start(env, *args):
    env.start_chvd('--vmm', FAKE, *args)


def test_exit_statuses(env):
    """What chv-vmm's exit status means for the VM once its guest ran."""
    start(env)
    cases = [
        ('fake-exit=0', 'Shutdown', None, 'the guest powered off'),
        ('fake-exit=3', 'Shutdown', None, 'the guest reset the machine'),
        ('fake-exit=2 fake-error=guest_crashed:_vCPU_0:_internal_error', 'Failed',
         'guest crashed: vCPU 0: internal error', None),
        ('fake-exit=2', 'Failed', 'the guest crashed', None),
        ('fake-exit=1 fake-error=cannot_reboot_the_VM', 'Failed', 'cannot reboot the VM', None),
        ('fake-exit=9', 'Failed', 'chv-vmm exited with status 9', None),
    ]
    for i, (words, state, failure, logged) in enumerate(cases):
        name = 'vm%d' % i
        path = env.create(name, fake(words))
        env.call_ok(path, VM_IFACE, 'Boot')
        env.wait_state(name, state)
        check_eq(env.info(name).get('failure'), failure, 'Info.failure after %s' % words)
        check_eq(env.prop(path, 'MainPID'), 0, 'MainPID after %s' % words)
        if logged:
            check('VM %s: Shut down: %s.' % (name, logged) in env.chvd_log(), 'the log after %s' % words)
        if failure:
            check('VM %s: Failed: %s' % (name, failure) in env.chvd_log(), 'the log after %s' % words)
    env.alive()


def test_stop_timeout(env):
    start(env, '--stop-timeout', '1')
    path = env.create('web', fake('fake-ignore-term'))
    env.call_ok(path, VM_IFACE, 'Boot')
    pid = env.prop(path, 'MainPID')
    t = time.monotonic()
    env.call_ok(path, VM_IFACE, 'Shutdown')
    took = time.monotonic() - t
    check(0.9 < took < 10, 'Shutdown of a worker that ignores SIGTERM took %.1f s, expected about 1' % took)
    check_eq(env.state('web'), 'Shutdown', 'State')
    check('VM web: chv-vmm did not stop in time, killing it.' in env.chvd_log(), 'the log lacks the kill')
    check(not os.path.exists('/proc/%d' % pid), 'the worker still exists')


def test_power_button_and_reboot(env):
    start(env)
    path = env.create('web', fake(''))
    env.call_ok(path, VM_IFACE, 'Boot')
    env.call_ok(path, VM_IFACE, 'Reboot')
    check_eq(env.state('web'), 'Running', 'State after Reboot')
    env.call_ok(path, VM_IFACE, 'PowerButton')
    env.wait_state('web', 'Shutdown')
    check('failure' not in env.info('web'), 'a failure after the power button')


def test_pause_resume_counters(env):
    """Pause, Resume and Counters through the worker's control socket, their events and errors; a paused
    VM stays Paused across a restart of chvd and can be shut down."""
    start(env)
    mon = env.monitor()
    path = env.create('web', fake(''))
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Pause', message='boot it first')
    env.call_ok(path, VM_IFACE, 'Boot')
    check(os.path.exists(os.path.join(env.runtime_dir, 'vms', 'web', 'ctl')), 'the control socket of the worker')
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Resume', message='it is not paused')
    env.call_ok(path, VM_IFACE, 'Pause')
    check_eq(env.state('web'), 'Paused', 'State after Pause')
    check_eq(env.info('web').get('state'), 'Paused', 'Info.state after Pause')
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Pause', message='paused already')
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'PowerButton', message='resume it first')
    ok, v = env.call(path, VM_IFACE, 'Counters')
    check(ok and json.loads(v[0]) == {'_disk0': {'read_bytes': 512, 'write_bytes': 0, 'read_ops': 1,
                                                 'write_ops': 0}}, 'Counters', v)
    env.call_ok(path, VM_IFACE, 'Resume')
    check_eq(env.state('web'), 'Running', 'State after Resume')
    events = [e for e in ('pausing', 'paused', 'resuming', 'resumed')
              if mon.wait_signal('Event', path, lambda p, e=e: p[1] == e)]
    check_eq(len(events), 4, 'the events of Pause and Resume')
    # chvd restarts while the VM is paused: it finds it Paused, and can resume it and shut it down.
    env.call_ok(path, VM_IFACE, 'Pause')
    check_eq(env.stop_chvd(), 0, 'the exit status of chvd')
    start(env)
    env.wait_state('web', 'Paused', timeout=10)     # chvd asks the worker once it is back
    env.call_ok(path, VM_IFACE, 'Resume')
    env.call_ok(path, VM_IFACE, 'Pause')
    env.call_ok(path, VM_IFACE, 'Shutdown')
    check_eq(env.state('web'), 'Shutdown', 'State after Shutdown of a paused VM')
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Counters', message='boot it first')


def test_hung_worker(env):
    """A worker that does not answer its control socket fails the request after 10 s; chvd serves
    everyone meanwhile, and the VM stays as it was."""
    start(env)
    path = env.create('web', fake('fake-control-silent'))
    env.create('other', fake(''))
    env.call_ok(path, VM_IFACE, 'Boot')
    pause = subprocess.Popen([os.environ['BUS_CALL'], '--timeout', '30', path, VM_IFACE, 'Pause'], env=env.env,
                             stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    t = time.monotonic()
    for _ in range(20):
        env.call_ok(*MANAGER, 'Ping')
        env.info('web')
    check(time.monotonic() - t < 5, 'chvd was slow to answer while a Pause waited (%.1fs for 40 calls)' %
          (time.monotonic() - t))
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Resume', message='being paused')
    env.call_ok(vm_path('other'), VM_IFACE, 'Boot')
    env.call_ok(vm_path('other'), VM_IFACE, 'Pause')
    check_eq(pause.wait(30), 1, 'the exit status of bus-call Pause (an error reply)')
    err = json.loads(pause.stdout.read())
    pause.stdout.close()
    check(err['error'] == 'org.freedesktop.DBus.Error.Failed' and 'no answer from chv-vmm within 10 s' in err['message'],
          'the error of a Pause without answer', err)
    check_eq(env.state('web'), 'Running', 'the state after a Pause without answer')
    env.call_ok(path, VM_IFACE, 'Counters')     # the worker answers the rest
    for name in ('web', 'other'):
        env.call_ok(vm_path(name), VM_IFACE, 'Shutdown')


def test_replace_definition(env):
    """CreateVM with replace: a new configuration for a VM that does not run, its UUID kept, Config
    announced, the definition on disk; refused while it runs, or with another UUID."""
    start(env)
    mon = env.monitor()
    path = env.create('web', fake('one'))
    uuid = env.info('web')['uuid']
    ok, err = env.call(*MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps(fake('two')), {})
    check(not ok and err[0] == 'org.cloudhypervisor.Error.AlreadyExists' and '--replace' in err[1],
          'CreateVM of a name in use without replace', err)
    check_eq(env.create('web', fake('two'), {'replace': True}), path, 'the object of the replaced VM')
    check_eq((env.info('web')['config']['payload']['cmdline'], env.info('web')['uuid']), ('two', uuid),
             'the replaced definition')
    s = mon.wait_signal('PropertiesChanged', path, match=lambda p: 'Config' in p[1])
    check_eq(json.loads(mon.payload(s)[1]['Config']['data'])['payload']['cmdline'], 'two', 'Config announced')

    env.call_ok(path, VM_IFACE, 'Boot')
    ok, err = env.call(*MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps(fake('three')), {'replace': True})
    check(not ok and err[0] == 'org.cloudhypervisor.Error.InvalidState' and 'shut it down' in err[1],
          'replace of a running VM', err)
    env.call_ok(path, VM_IFACE, 'Shutdown')
    ok, err = env.call(*MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps(fake('three')),
                       {'replace': True, 'uuid': '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'})
    check(not ok and err[0] == 'org.freedesktop.DBus.Error.InvalidArgs' and uuid in err[1],
          'replace with another UUID', err)
    ok, err = env.call(*MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps({'cpus': {'boot_vcpus': 0}}),
                       {'replace': True})
    check(not ok and err[0] == 'org.cloudhypervisor.Error.InvalidConfig', 'replace with a bad configuration', err)
    check_eq(env.info('web')['config']['payload']['cmdline'], 'two', 'the definition after refused replaces')
    ok, err = env.call(*MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps(fake('x')), {'replace': 'yes'})
    check(not ok and err[0] == 'org.freedesktop.DBus.Error.InvalidArgs', 'replace that is not a boolean', err)

    # What is on disk is the new definition: a new chvd reads it back.
    env.stop_chvd()
    start(env)
    check_eq((env.info('web')['config']['payload']['cmdline'], env.info('web')['uuid']), ('two', uuid),
             'the replaced definition after a restart of chvd')


def test_boot_without_ready(env):
    """A worker that exits before READY=1 fails the Boot; a READY=1 from another process does not count."""
    start(env)
    path = env.create('web', fake('fake-foreign-ready fake-exit=1 fake-after=1 fake-error=no_guest_today'))
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM web did not boot: no guest today', 'the message of BootFailed')
    check('Ignoring a notification from process' in env.chvd_log(), 'the foreign READY=1 was not ignored')
    check_eq(env.state('web'), 'Failed', 'State')
    path = env.create('quiet', fake('fake-no-ready fake-exit=0'))
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM quiet did not boot: the guest powered off', 'the message of BootFailed')


def test_worker_log(env):
    start(env)
    path = env.create('web', fake('fake-warn=disk_is_slow'))
    env.call_ok(path, VM_IFACE, 'Boot')
    wait_for(lambda: 'VM web: chv-vmm: disk is slow' in env.chvd_log(), "the worker's warning in chvd's log")
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_workers_outlive_chvd(env):
    """chvd going away leaves the VMs running, and the next chvd takes them up again: their state,
    process, scope and terminal; it can stop them, and notices when they end."""
    env.start_fake_systemd()
    start(env)
    path = env.create('web', fake('fake-echo'))
    env.create('db', fake(''))
    env.call_ok(path, VM_IFACE, 'Boot')
    env.call_ok(vm_path('db'), VM_IFACE, 'Boot')
    pid, pid_db = env.prop(path, 'MainPID'), env.prop(vm_path('db'), 'MainPID')
    check_eq(env.stop_chvd(), 0, 'the exit status of chvd')
    time.sleep(0.5)
    check(alive(pid) and alive(pid_db), 'a worker died with chvd')
    # One VM ends while no chvd watches; its runtime directory is stale then.
    os.kill(pid_db, signal.SIGKILL)
    wait_for(lambda: not alive(pid_db), 'the end of the worker of db')
    start(env)
    check_eq(env.state('web'), 'Running', 'the state of a VM found again')
    check_eq(env.prop(path, 'MainPID'), pid, 'the MainPID of a VM found again')
    check_eq(env.prop(path, 'Unit'), 'chv-vm-web.scope', 'the Unit of a VM found again')
    check('VM web: Found its chv-vmm (PID %d, chv-vm-web.scope) still running' % pid in env.chvd_log(),
          'the log does not say the VM was found again')
    check_eq(env.state('db'), 'Created', 'the state of a VM whose worker ended meanwhile')
    check(not os.path.exists(os.path.join(env.runtime_dir, 'vms', 'db')), 'the stale runtime directory of db')
    # Its terminal still works, both ways.
    ok, v = env.call(path, VM_IFACE, 'OpenConsole')
    check(ok and 'fake console ready' in v[0]['read'], 'the console of a VM found again', v)
    env.call_error('org.cloudhypervisor.Error.InvalidState', path, VM_IFACE, 'Boot', message='it runs already')
    env.call_ok(path, VM_IFACE, 'Shutdown')
    check_eq(env.state('web'), 'Shutdown', 'the state after Shutdown of a VM found again')
    check(not alive(pid), 'the worker after Shutdown')
    check('its exit status is unknown to this chvd' in env.chvd_log(), 'the log of the end of a VM found again')
    # And it boots again as any other.
    env.call_ok(path, VM_IFACE, 'Boot')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_worker_found_again_ends(env):
    start(env)
    path = env.create('web', fake(''))
    env.call_ok(path, VM_IFACE, 'Boot')
    pid = env.prop(path, 'MainPID')
    env.stop_chvd()
    start(env)
    os.kill(pid, signal.SIGKILL)
    env.wait_state('web', 'Shutdown')
    check_eq(env.prop(path, 'MainPID'), 0, 'MainPID')


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except FileNotFoundError:
        return False


def scope_call(env):
    calls = [c for c in env.systemd_calls() if c['method'] == 'StartTransientUnit']
    check(calls, 'chvd did not call StartTransientUnit', env.systemd_calls())
    return calls[-1]


def test_scope(env):
    """With a systemd on the bus, the worker goes into chv-vm-NAME.scope, and only then runs chv-vmm."""
    env.start_fake_systemd()
    start(env, '--slice', 'vms.slice')
    path = env.create('web', fake(''))
    mon = env.monitor()
    env.call_ok(path, VM_IFACE, 'Boot')
    pid = env.prop(path, 'MainPID')
    call = scope_call(env)
    check_eq((call['unit'], call['mode']), ('chv-vm-web.scope', 'fail'), 'the unit and job mode asked for')
    props = call['properties']
    check_eq(props.get('PIDs'), [pid], 'the PIDs of the scope')
    check_eq(props.get('Slice'), 'vms.slice', 'the slice of the scope')
    check_eq(props.get('Description'), 'chv VM web', 'the description of the scope')
    check_eq(props.get('CollectMode'), 'inactive-or-failed', 'the collect mode of the scope')
    # The worker runs chv-vmm (here: fake-vmm.py, run by python) and waits, holding the pipe of its go
    # (--wait-fd 4), which chvd writes only once the scope is there.
    with open('/proc/%d/cmdline' % pid) as f:
        check('--wait-fd\x004\x00' in f.read(), 'the worker does not wait for its scope (--wait-fd 4)')
    check(props['_fd4'][0].startswith('pipe:['), 'the worker did not hold its go pipe when its scope was asked for',
          props['_fd4'])
    try:
        now = os.readlink('/proc/%d/fd/4' % pid)
    except FileNotFoundError:
        now = None
    check(now != props['_fd4'][0], 'the worker still holds its go pipe once it runs', now)
    check_eq(env.prop(path, 'Unit'), 'chv-vm-web.scope', 'the Unit property')
    check_eq(env.info('web')['unit'], 'chv-vm-web.scope', 'Info.unit')
    check([c for c in env.systemd_calls() if c['method'] == 'Subscribe'], 'chvd did not subscribe')
    check('No systemd manager' not in env.chvd_log(), 'chvd says there is no systemd')
    env.call_ok(path, VM_IFACE, 'Shutdown')
    check_eq(env.prop(path, 'Unit'), '', 'the Unit property after Shutdown')
    units = [mon.payload(s)[1]['Unit']['data'] for s in mon.signals('PropertiesChanged', path)
             if 'Unit' in mon.payload(s)[1]]
    check_eq(units, ['chv-vm-web.scope', ''], 'the Unit changes signalled')


def test_scope_exists(env):
    """A failed scope of an earlier boot is reset, and the scope asked for once more."""
    env.start_fake_systemd('exists-once')
    start(env)
    path = env.create('web', fake(''))
    env.call_ok(path, VM_IFACE, 'Boot')
    check_eq([(c['method'], c.get('unit')) for c in env.systemd_calls() if c['method'] != 'Subscribe'],
             [('StartTransientUnit', 'chv-vm-web.scope'), ('ResetFailedUnit', 'chv-vm-web.scope'),
              ('StartTransientUnit', 'chv-vm-web.scope')], 'the calls to systemd')
    check_eq(env.prop(path, 'Unit'), 'chv-vm-web.scope', 'the Unit property')
    env.call_ok(path, VM_IFACE, 'Shutdown')


def test_scope_fails(env):
    env.start_fake_systemd('failed')
    start(env)
    path = env.create('web', fake(''))
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM web did not boot: cannot start chv-vm-web.scope: the job that starts chv-vm-web.scope '
                  'ended in "failed"', 'the message of BootFailed')
    check_eq(env.state('web'), 'Failed', 'State')
    check_eq(env.prop(path, 'MainPID'), 0, 'MainPID')
    pid = scope_call(env)['properties']['PIDs'][0]
    check(not os.path.exists('/proc/%d' % pid), 'the worker is left after its scope failed')
    env.systemd.terminate()
    env.systemd.wait()
    env.start_fake_systemd('refuse')
    msg = env.call_error(BOOT_FAILED, path, VM_IFACE, 'Boot')
    check_eq(msg, 'VM web did not boot: cannot start chv-vm-web.scope: Scopes are not for you today.',
             'the message of BootFailed')
    env.alive()


for t in (test_scope, test_scope_exists, test_scope_fails, test_workers_outlive_chvd):
    t.env_args = {'systemd': True}

TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS)
