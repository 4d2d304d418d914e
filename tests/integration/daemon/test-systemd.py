#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chvd under a real systemd, as PID 1 of a container (nspawn-test.sh runs this inside it): chvd as a
Type=notify service on the real system bus with chv's policy installed, its VMs in scopes of their own
under machine.slice, the journal entries with VM_NAME=, and VMs that outlive a restart of the service.
A stand-in chv-vmm (fake-vmm.py) takes the place of a guest: the scopes are what is tested."""

import json
import os
import subprocess
import time

from chvtest import VM_IFACE, Skip, check, check_eq, run, vm_path, wait_for

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake-vmm.py')
UNIT = 'chvd-test.service'


def sh(*args, check_status=True):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check_status:
        check_eq(p.returncode, 0, '%s (%s)' % (' '.join(args), p.stderr.strip()))
    return p.stdout


def unit_props(unit, *props):
    out = sh('systemctl', 'show', unit, '-p', ','.join(props))
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def start_service(env, *extra):
    sh('systemd-run', '--unit', UNIT, '-p', 'Type=notify', '-p', 'KillMode=process', '--',
       os.environ['CHVD'], '--vmm', FAKE, '--state-dir', env.state_dir, '--runtime-dir', env.runtime_dir, *extra)
    check_eq(sh('systemctl', 'is-active', UNIT, check_status=False).strip(), 'active', 'the state of chvd\'s service')


def stop_service():
    sh('systemctl', 'stop', UNIT, check_status=False)
    sh('systemctl', 'reset-failed', UNIT, check_status=False)


def fake():
    return {'payload': {'kernel': '/nonexistent/vmlinux', 'cmdline': ''}, 'serial': {'mode': 'Tty'},
            'console': {'mode': 'Off'}}


def cgroup_of(pid):
    with open('/proc/%d/cgroup' % pid) as f:
        lines = f.read().splitlines()
    return next((l.split(':', 2)[2] for l in lines if l.startswith('0::')), lines[0].split(':', 2)[2])


def test_scopes_and_journal(env):
    if not os.path.isdir('/run/systemd/system'):
        raise Skip('systemd is not PID 1 here: run through nspawn-test.sh')
    try:
        start_service(env)
        path = env.create('web', fake())
        env.call_ok(path, VM_IFACE, 'Boot')
        pid = env.prop(path, 'MainPID')
        check_eq(env.prop(path, 'Unit'), 'chv-vm-web.scope', 'the Unit property')
        props = unit_props('chv-vm-web.scope', 'ActiveState', 'Slice', 'ControlGroup', 'Description', 'MainPID')
        check_eq(props['ActiveState'], 'active', 'the scope')
        check_eq(props['Slice'], 'machine.slice', 'the slice of the scope')
        check_eq(props['Description'], 'chv VM web', 'the description of the scope')
        check(cgroup_of(pid).endswith('/machine.slice/chv-vm-web.scope'), 'the worker is not in its scope',
              cgroup_of(pid))
        check(UNIT in cgroup_of(int(unit_props(UNIT, 'MainPID')['MainPID'])), 'chvd is not in its service')

        # The journal: VM_NAME= on everything about the VM, MESSAGE_ID= on the start.
        sh('journalctl', '--sync')
        entries = [json.loads(l) for l in sh('journalctl', '-o', 'json', 'VM_NAME=web').splitlines()]
        messages = [e['MESSAGE'] for e in entries]
        check(any(m.startswith('Created, UUID ') for m in messages), 'no journal entry of the creation', messages)
        started = [e for e in entries if e.get('MESSAGE_ID') == '9d1f4b0e6c2a4e6f8b3a7c5d2e1f0a93']
        check(started and started[0].get('VM_UUID') == env.info('web')['uuid'], 'no start entry with the UUID',
              entries)

        # A restart of chvd's service leaves the VM in its scope, and the new chvd finds it.
        sh('systemctl', 'restart', UNIT)
        check_eq((env.state('web'), env.prop(path, 'MainPID'), env.prop(path, 'Unit')),
                 ('Running', pid, 'chv-vm-web.scope'), 'the VM after a restart of chvd')

        # systemctl stop of the scope ends the VM (SIGTERM, as chv-vmm stops on), and chvd says so.
        mon = env.monitor()
        sh('systemctl', 'stop', 'chv-vm-web.scope')
        env.wait_state('web', 'Shutdown', timeout=30)
        check_eq(env.prop(path, 'MainPID'), 0, 'MainPID after the scope was stopped')
        mon.wait_signal('Event', path, lambda p: p[1] == 'shutdown')
        env.call_ok(path, VM_IFACE, 'Boot')
        pid = env.prop(path, 'MainPID')

        # Shut down, the scope goes; a killed worker's scope does not keep the next boot from its name.
        env.call_ok(path, VM_IFACE, 'Shutdown')
        wait_for(lambda: unit_props('chv-vm-web.scope', 'ActiveState')['ActiveState'] == 'inactive',
                 'the scope to go')
        env.call_ok(path, VM_IFACE, 'Boot')
        os.kill(env.prop(path, 'MainPID'), 9)
        env.wait_state('web', 'Failed')
        env.call_ok(path, VM_IFACE, 'Boot')
        check_eq(unit_props('chv-vm-web.scope', 'ActiveState')['ActiveState'], 'active', 'the scope of a new boot')
        env.call_ok(path, VM_IFACE, 'Shutdown')
    finally:
        stop_service()


def test_custom_slice(env):
    if not os.path.isdir('/run/systemd/system'):
        raise Skip('systemd is not PID 1 here: run through nspawn-test.sh')
    try:
        start_service(env, '--slice', 'chv-test.slice', '--require-scope')
        path = env.create('db', fake())
        env.call_ok(path, VM_IFACE, 'Boot')
        check(cgroup_of(env.prop(path, 'MainPID')).endswith('/chv-test.slice/chv-vm-db.scope'),
              'the worker is not in the slice asked for', cgroup_of(env.prop(path, 'MainPID')))
        env.call_ok(path, VM_IFACE, 'Shutdown')
    finally:
        stop_service()


def install_vm_service():
    """units/chv-vm@.service.in as meson configures it, with this build's chvctl."""
    src = os.path.join(os.environ['CHV_SOURCE_ROOT'], 'units', 'chv-vm@.service.in')
    with open(src) as f:
        text = f.read().replace('@BINDIR@', os.path.dirname(os.environ['CHVCTL']))
    with open('/etc/systemd/system/chv-vm@.service', 'w') as f:
        f.write(text)
    sh('systemctl', 'daemon-reload')


def write_definition(name, cmdline):
    os.makedirs('/etc/chv/vms', exist_ok=True)
    with open('/etc/chv/vms/%s.yaml' % name, 'w') as f:
        f.write('payload:\n  kernel: /nonexistent/vmlinux\n  cmdline: "%s"\nserial:\n  mode: Tty\n'
                'console:\n  mode: "Off"\n' % cmdline)


def test_vm_service(env):
    """chv-vm@NAME.service defines the VM from /etc/chv/vms/NAME.yaml, boots it, runs as long as it does,
    and shuts it down when stopped; a new definition in the file is taken at the next start."""
    if not os.path.isdir('/run/systemd/system'):
        raise Skip('systemd is not PID 1 here: run through nspawn-test.sh')
    service = 'chv-vm@svc.service'
    try:
        start_service(env)
        install_vm_service()
        write_definition('svc', 'first')
        sh('systemctl', 'start', service)       # Type=notify: returns once the VM runs
        path = vm_path('svc')
        check_eq(env.state('svc'), 'Running', 'the VM once its service started')
        props = unit_props(service, 'ActiveState', 'MainPID', 'StatusText')
        check_eq(props['ActiveState'], 'active', 'the service')
        check_eq(props['StatusText'], 'VM svc runs', 'the status of the service')
        with open('/proc/%s/cmdline' % props['MainPID']) as f:
            check_eq(f.read().split('\0')[1:4], ['boot', '--wait', 'svc'], 'the main process of the service')
        worker = env.prop(path, 'MainPID')
        check(cgroup_of(worker).endswith('/machine.slice/chv-vm-svc.scope'), 'the VM is not in its scope',
              cgroup_of(worker))
        uuid = env.info('svc')['uuid']

        # Stopping the service shuts the VM down, and the service ends clean.
        sh('systemctl', 'stop', service)
        check_eq(env.state('svc'), 'Shutdown', 'the VM once its service stopped')
        check_eq(unit_props(service, 'ActiveState', 'Result'), {'ActiveState': 'inactive', 'Result': 'success'},
                 'the service after stop')

        # The next start takes the file as it is now; the UUID stays.
        write_definition('svc', 'second')
        sh('systemctl', 'start', service)
        info = env.info('svc')
        check_eq((info['config']['payload']['cmdline'], info['uuid']), ('second', uuid),
                 'the definition after the file changed')

        # The guest powers off (the stand-in does on the power button): the service ends with it, clean.
        env.call_ok(path, VM_IFACE, 'PowerButton')
        wait_for(lambda: unit_props(service, 'ActiveState')['ActiveState'] == 'inactive', 'the service to end')
        check_eq(unit_props(service, 'Result')['Result'], 'success', 'the service after the guest powered off')
        check_eq(env.state('svc'), 'Shutdown', 'the VM after it powered off')

        # A VM that fails takes its service along, failed.
        sh('systemctl', 'start', service)
        os.kill(env.prop(path, 'MainPID'), 9)
        wait_for(lambda: unit_props(service, 'ActiveState')['ActiveState'] == 'failed', 'the service to fail')
        check_eq(env.state('svc'), 'Failed', 'the VM that was killed')
        sh('journalctl', '--sync')
        log = sh('journalctl', '-o', 'cat', '-u', service)
        check('VM svc failed: ' in log, 'the service\'s log does not say why it failed', log)
        sh('systemctl', 'reset-failed', service, check_status=False)

        # A definition chvd refuses: the service does not start, and says why.
        with open('/etc/chv/vms/bad.yaml', 'w') as f:
            f.write('payload:\n  kernel: /nonexistent/vmlinux\ncpus:\n  boot_vcpus: 0\n')
        p = subprocess.run(['systemctl', 'start', 'chv-vm@bad.service'], capture_output=True, text=True, timeout=60)
        check(p.returncode != 0, 'chv-vm@bad.service started with a bad definition')
        sh('journalctl', '--sync')
        log = sh('journalctl', '-o', 'cat', '-u', 'chv-vm@bad.service')
        check('cpus.boot_vcpus' in log, 'the log of chv-vm@bad.service does not name the bad field', log)
    finally:
        sh('systemctl', 'stop', service, check_status=False)
        sh('systemctl', 'reset-failed', service, 'chv-vm@bad.service', check_status=False)
        stop_service()


for t in (test_scopes_and_journal, test_custom_slice, test_vm_service):
    t.env_args = {'private_bus': False}

TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS, needs_root=True)
