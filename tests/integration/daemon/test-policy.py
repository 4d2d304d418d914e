#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Who may do what: chv's bus policy (dbus/org.cloudhypervisor.conf) as a real dbus-daemon enforces it, and
chvd's own check behind it, on a bus whose policy lets everyone call everything."""

import json
import os
import subprocess

from chvtest import MANAGER, VM_IFACE, check, check_eq, run, vm_path

CONFIG = json.dumps({'payload': {'kernel': '/nonexistent/vmlinux'}, 'serial': {'mode': 'Tty'},
                     'console': {'mode': 'Off'}})
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake-vmm.py')
BUS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
CHV_DENIED = 'org.cloudhypervisor.Error.AccessDenied'
PROPS = 'org.freedesktop.DBus.Properties'


def reads_work(env, user):
    """Everything that only looks works for user."""
    path = vm_path('web')
    check(env.call_ok(*MANAGER, 'Ping', user=user)[0], 'Ping as %s' % user)
    check_eq([v[0] for v in env.call_ok(*MANAGER, 'ListVMs', user=user)[0]], ['web'], 'ListVMs as %s' % user)
    check_eq(env.call_ok(*MANAGER, 'GetVM', 's', 'web', user=user), [path], 'GetVM as %s' % user)
    check_eq(json.loads(env.call_ok(path, VM_IFACE, 'Info', user=user)[0])['name'], 'web', 'Info as %s' % user)
    check('org.cloudhypervisor.VM1' in env.call_ok(path, 'org.freedesktop.DBus.Introspectable', 'Introspect',
                                                   user=user)[0], 'Introspect as %s' % user)
    check_eq(env.call_ok(path, PROPS, 'Get', 'ss', VM_IFACE, 'State', user=user), ['Created'], 'Get as %s' % user)
    check('Name' in env.call_ok(path, PROPS, 'GetAll', 's', VM_IFACE, user=user)[0], 'GetAll as %s' % user)
    check(path in env.call_ok(MANAGER[0], 'org.freedesktop.DBus.ObjectManager', 'GetManagedObjects', user=user)[0],
          'GetManagedObjects as %s' % user)
    env.call_ok(path, 'org.freedesktop.DBus.Peer', 'Ping', user=user)
    # And busctl, as a user would run it.
    p = env.run(['busctl', '--system', 'call', 'org.cloudhypervisor', path, VM_IFACE, 'Info'], user=user)
    check(p.returncode == 0 and '"name":"web"' in p.stdout.replace('\\"', '"'), 'busctl Info as %s' % user, p.stderr)


def test_policy_allows_reads(env):
    env.start_chvd()
    env.create('web', CONFIG)
    reads_work(env, 'nobody')


def test_policy_refuses_changes(env):
    env.start_chvd()
    env.create('web', CONFIG)
    path = vm_path('web')
    env.call_error(BUS_DENIED, *MANAGER, 'CreateVM', 'ssa{sv}', 'db', CONFIG, {}, user='nobody')
    env.call_error(BUS_DENIED, path, VM_IFACE, 'Delete', user='nobody')
    env.call_error(BUS_DENIED, path, PROPS, 'Set', 'ssv', VM_IFACE, 'Name', '"x"', user='nobody')
    p = env.run(['busctl', '--system', 'call', 'org.cloudhypervisor', path, VM_IFACE, 'Delete'], user='nobody')
    check(p.returncode != 0 and 'Access denied' in p.stderr, 'busctl Delete as nobody', p.stdout, p.stderr)
    check_eq([v[0] for v in env.list_vms()], ['web'], 'the VMs after refused calls')
    check_eq(sorted(os.listdir(os.path.join(env.state_dir, 'vms'))), ['web.json'], 'the definitions')
    env.alive()


def test_policy_refuses_the_name(env):
    """Only root owns org.cloudhypervisor: chvd run by anyone else says so and exits."""
    for d in (env.state_dir, env.runtime_dir):
        os.makedirs(d, exist_ok=True)
        os.chown(d, 65534, 65534)
    chvd = env.start_chvd(user='nobody', wait=False)
    check_eq(chvd.wait(20), 1, 'the exit status of chvd as nobody')
    log = env.chvd_log()
    check('Cannot own the name org.cloudhypervisor on the bus' in log, 'chvd does not say why it exits', log)
    env.chvd = None


def test_no_policy_no_name(env):
    """A system bus without chv's policy file lets nobody own org.cloudhypervisor, root included."""
    chvd = env.start_chvd(wait=False)
    check_eq(chvd.wait(20), 1, 'the exit status of chvd on a bus without its policy')
    log = env.chvd_log()
    check('Cannot own the name org.cloudhypervisor on the bus' in log, 'chvd does not say why it exits', log)
    env.chvd = None


test_no_policy_no_name.env_args = {'chv_policy': False}


def test_chvd_checks_callers_itself(env):
    """On a bus that lets everyone call everything, chvd still refuses changes to anyone but root."""
    env.start_chvd()
    env.create('web', CONFIG)
    path = vm_path('web')
    msg = env.call_error(CHV_DENIED, *MANAGER, 'CreateVM', 'ssa{sv}', 'db', CONFIG, {}, user='nobody')
    check('Creating a VM is for root, or for whom polkit allows it; polkit is not running to ask' in msg,
          'the message of AccessDenied without polkit', msg)
    env.call_error(CHV_DENIED, path, VM_IFACE, 'Delete', user='nobody', message='Deleting a VM is for root')
    check_eq([v[0] for v in env.list_vms()], ['web'], 'the VMs after refused calls')
    reads_work(env, 'nobody')
    env.alive()


# A rule as a site might write: user nobody may start and stop the VMs whose names begin with "ci-", and
# use their consoles; nothing else.
RULES = '''
polkit.addRule(function(action, subject) {
    if ((action.id == "org.cloudhypervisor.control-vms" || action.id == "org.cloudhypervisor.open-console") &&
        subject.user == "nobody" && action.lookup("vm").indexOf("ci-") == 0)
        return polkit.Result.YES;
    if (action.id.indexOf("org.cloudhypervisor.") == 0 && subject.user == "nobody")
        return polkit.Result.NO;
});
'''


def test_polkit(env):
    """Callers other than root that the bus lets through (here: a bus that lets all through, as a site's
    wider policy would) are up to polkit, a real polkitd with chv's actions and a rule on the VM's name."""
    env.start_polkitd(RULES)
    env.start_chvd('--vmm', FAKE)
    for name in ('ci-web', 'prod'):
        env.create(name, CONFIG)
    ci, prod = vm_path('ci-web'), vm_path('prod')

    env.call_ok(ci, VM_IFACE, 'Boot', user='nobody')
    check_eq(env.state('ci-web'), 'Running', 'the VM nobody may boot')
    for method in ('Pause', 'Resume', 'PowerButton'):
        env.call_ok(ci, VM_IFACE, method, user='nobody')
    env.wait_state('ci-web', 'Shutdown')      # the stand-in powers off on the power button
    env.call_ok(ci, VM_IFACE, 'Boot', user='nobody')
    env.call_ok(ci, VM_IFACE, 'Shutdown', user='nobody')

    msg = env.call_error(CHV_DENIED, prod, VM_IFACE, 'Boot', user='nobody')
    check('Booting a VM is for root, or for whom polkit allows it; polkit said no' in msg,
          'the message of a refusal by polkit', msg)
    check_eq(env.state('prod'), 'Created', 'the VM nobody may not boot')
    env.call_error(CHV_DENIED, *MANAGER, 'CreateVM', 'ssa{sv}', 'ci-db', CONFIG, {}, user='nobody')
    env.call_error(CHV_DENIED, ci, VM_IFACE, 'Delete', user='nobody')
    check_eq(sorted(v[0] for v in env.list_vms()), ['ci-web', 'prod'], 'the VMs after refused calls')

    # Many calls waiting for polkit at once: each gets its own answer.
    procs = [subprocess.Popen([os.environ['BUS_CALL'], path, VM_IFACE, 'Boot'], env=env.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.setuid(65534))
             for path in (ci, prod, prod, prod)]
    results = [(p.wait(60), json.loads(p.stdout.read() or 'null')) for p in procs]
    check_eq(results[0], (0, []), 'the Boot polkit allowed, among others')
    for status, reply in results[1:]:
        check(status == 1 and reply['error'] == CHV_DENIED, 'a Boot polkit refused, among others', reply)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    env.call_ok(ci, VM_IFACE, 'Shutdown')       # root needs no polkit

    # Without polkit, nobody is refused, and chvd says why.
    env.stop_polkitd()
    msg = env.call_error(CHV_DENIED, ci, VM_IFACE, 'Boot', user='nobody')
    check('polkit is not running to ask' in msg, 'the refusal without polkit', msg)
    env.call_ok(ci, VM_IFACE, 'Boot')
    env.call_ok(ci, VM_IFACE, 'Shutdown')
    env.alive()


test_chvd_checks_callers_itself.env_args = {'open_policy': True}
test_polkit.env_args = {'open_policy': True, 'polkit': True}

TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS, needs_root=True)
