#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chvd's D-Bus API on a private bus, without booting anything: the manager, VM objects, persistence,
introspection, and hostile calls that must end in a named error with nothing half-made."""

import json
import os
import socket
import subprocess

from chvtest import (MANAGER, SOURCE_ROOT, VM_IFACE, Failure, check, check_eq, introspect_interface, run,
                     vm_path, wait_for)

KERNEL = '/nonexistent/vmlinux'  # never booted here
CONFIG = {'payload': {'kernel': KERNEL, 'cmdline': 'console=ttyS0'}, 'cpus': {'boot_vcpus': 2},
          'memory': {'size': 268435456}}
YAML = '''payload:
  kernel: /nonexistent/vmlinux
cpus:
  boot_vcpus: 1
memory:
  size: 0x10000000
serial:
  mode: Tty
console:
  mode: Off
'''
UUID = '2d5c4f1e-8a3b-4c7d-9e0f-1a2b3c4d5e6f'
NOT_FOUND = 'org.cloudhypervisor.Error.NotFound'
INVALID_NAME = 'org.cloudhypervisor.Error.InvalidName'
INVALID_CONFIG = 'org.cloudhypervisor.Error.InvalidConfig'
ALREADY_EXISTS = 'org.cloudhypervisor.Error.AlreadyExists'
INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'


def definitions(env):
    d = os.path.join(env.state_dir, 'vms')
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_ping(env):
    env.start_chvd()
    version = subprocess.run(['meson', 'introspect', '--projectinfo', os.path.join(SOURCE_ROOT, 'meson.build')],
                             capture_output=True, text=True)
    data = env.busctl('call', 'org.cloudhypervisor', *MANAGER, 'Ping')
    check_eq(data['type'], 'sas', 'the signature of Ping')
    v, features = data['data']
    if version.returncode == 0:
        check_eq(v, json.loads(version.stdout)['version'], 'the version Ping returns')
    check('yaml' in features and 'kvm' in features, 'Ping lacks features', features)
    check_eq(env.prop(MANAGER[0], 'Version', MANAGER[1]), v, 'the Version property')


def test_create_list_get(env):
    env.start_chvd()
    check_eq(env.list_vms(), [], 'ListVMs of a new chvd')
    path = env.create('web', CONFIG)
    check_eq(path, vm_path('web'), 'the path CreateVM returns')
    # YAML, a UUID given, and names that need escaping in the path.
    path2 = env.create('db-1.internal_x', YAML, {'uuid': UUID.replace('-', '').upper()})
    check_eq(path2, '/org/cloudhypervisor/vm/db_2d1_2einternal_5fx', 'the escaped path')
    vms = env.list_vms()
    check_eq([(n, s, p) for n, _, s, p in vms], [('web', 'Created', path), ('db-1.internal_x', 'Created', path2)],
             'ListVMs')
    check_eq(vms[1][1], UUID, 'the UUID given to CreateVM, normalised')
    check(vms[0][1] != vms[1][1] and len(vms[0][1]) == 36, 'a random UUID', vms[0][1])
    check_eq(env.call_ok(*MANAGER, 'GetVM', 's', 'web'), [path], 'GetVM')
    # busctl sees the same.
    data = env.busctl('call', 'org.cloudhypervisor', *MANAGER, 'GetVM', 's', 'db-1.internal_x')
    check_eq(data['data'], [path2], 'GetVM through busctl')
    data = env.busctl('call', 'org.cloudhypervisor', *MANAGER, 'ListVMs')
    check_eq(data['type'], 'a(ssso)', 'the signature of ListVMs')
    check_eq(len(data['data'][0]), 2, 'ListVMs through busctl')
    check_eq(definitions(env), ['db-1.internal_x.json', 'web.json'], 'the definitions on disk')
    env.alive()


def test_properties_and_info(env):
    env.start_chvd()
    path = env.create('web', CONFIG)
    props = env.busctl('call', 'org.cloudhypervisor', path, 'org.freedesktop.DBus.Properties', 'GetAll', 's',
                       VM_IFACE)['data'][0]
    got = {k: v['data'] for k, v in props.items()}
    check_eq(sorted(got), ['Config', 'MainPID', 'Name', 'State', 'UUID', 'Unit'], 'the VM1 properties')
    check_eq(got['Name'], 'web', 'Name')
    check_eq(got['State'], 'Created', 'State')
    check_eq(got['Unit'], '', 'Unit of a VM never booted')
    check_eq(got['MainPID'], 0, 'MainPID of a VM never booted')
    config = json.loads(got['Config'])
    check_eq(config['payload'], {'kernel': KERNEL, 'cmdline': 'console=ttyS0'}, 'Config.payload')
    check_eq(config['cpus']['boot_vcpus'], 2, 'Config.cpus.boot_vcpus')
    check_eq(config['memory']['size'], 268435456, 'Config.memory.size')
    # The completed configuration: CH's defaults and device ids filled in.
    check_eq(config['console']['mode'], 'Tty', 'the default console')
    check_eq(config['rng']['src'], '/dev/urandom', 'the default rng')
    info = env.info('web')
    check_eq(info['config'], config, 'Info.config and the Config property')
    check_eq(info['state'], 'Created', 'Info.state')
    check_eq(info['name'], 'web', 'Info.name')
    check_eq(info['uuid'], got['UUID'], 'Info.uuid')
    check('memory_actual_size' not in info, 'memory_actual_size of a VM that does not run', info)
    # Through busctl too.
    data = env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'Info')
    check_eq(json.loads(data['data'][0]), info, 'Info through busctl')
    # Properties cannot be written.
    env.call_error('org.freedesktop.DBus.Error.PropertyReadOnly', path, 'org.freedesktop.DBus.Properties', 'Set',
                   'ssv', VM_IFACE, 'Name', '"x"')


def test_signals(env):
    env.start_chvd()
    mon = env.monitor()
    path = env.create('web', CONFIG)
    s = mon.wait_signal('VMAdded', '/org/cloudhypervisor')
    check_eq(mon.payload(s), ['web', path], 'VMAdded')
    s = mon.wait_signal('InterfacesAdded', '/org/cloudhypervisor')
    added = mon.payload(s)
    check_eq(added[0], path, 'InterfacesAdded: the path')
    check(VM_IFACE in added[1], 'InterfacesAdded lacks VM1', added)
    check_eq(added[1][VM_IFACE]['Name']['data'], 'web', 'InterfacesAdded: the Name property')
    objects = env.busctl('call', 'org.cloudhypervisor', '/org/cloudhypervisor', 'org.freedesktop.DBus.ObjectManager',
                         'GetManagedObjects')['data'][0]
    check_eq(list(objects), [path], 'GetManagedObjects')
    env.call_ok(path, VM_IFACE, 'Delete')
    s = mon.wait_signal('Event', path)
    check_eq(mon.payload(s), ['vm', 'deleted', '{}'], 'the Event of Delete')
    s = mon.wait_signal('VMRemoved', '/org/cloudhypervisor')
    check_eq(mon.payload(s), ['web', path], 'VMRemoved')
    s = mon.wait_signal('InterfacesRemoved', '/org/cloudhypervisor')
    check_eq(mon.payload(s)[0], path, 'InterfacesRemoved: the path')
    check(VM_IFACE in mon.payload(s)[1], 'InterfacesRemoved lacks VM1', mon.payload(s))


def test_introspection_matches_xml(env):
    env.start_chvd()
    path = env.create('web', CONFIG)
    for obj, iface in ((MANAGER[0], MANAGER[1]), (path, VM_IFACE)):
        xml = env.call_ok(obj, 'org.freedesktop.DBus.Introspectable', 'Introspect')[0]
        exported = introspect_interface(xml, iface)
        with open(os.path.join(SOURCE_ROOT, 'dbus', iface + '.xml')) as f:
            documented = introspect_interface(f.read(), iface)
        check(exported == documented, 'dbus/%s.xml differs from what chvd exports' % iface,
              'exported:   ' + exported, 'documented: ' + documented)
    # The tree: the VM under /org/cloudhypervisor/vm, found by the enumerator.
    xml = env.call_ok('/org/cloudhypervisor/vm', 'org.freedesktop.DBus.Introspectable', 'Introspect')[0]
    check('<node name="web"/>' in xml, 'the VM is not a child node of /org/cloudhypervisor/vm', xml)


def test_persistence(env):
    env.start_chvd()
    env.create('web', CONFIG)
    env.create('db', YAML, {'uuid': UUID})
    before = {n: (u, env.prop(p, 'Config')) for n, u, _, p in env.list_vms()}
    check_eq(env.stop_chvd(), 0, 'the exit status of chvd on SIGTERM')
    # A definition chvd cannot read must not keep it from starting, nor from serving the others.
    vms = os.path.join(env.state_dir, 'vms')
    with open(os.path.join(vms, 'broken.json'), 'w') as f:
        f.write('{"name": "broken", "uuid": ')
    with open(os.path.join(vms, 'other.json'), 'w') as f:
        json.dump({'name': 'not-other', 'uuid': UUID, 'config': CONFIG}, f)
    with open(os.path.join(vms, 'bad-config.json'), 'w') as f:
        json.dump({'name': 'bad-config', 'uuid': UUID, 'config': {'payload': {}}}, f)
    env.start_chvd()
    after = {n: (u, env.prop(p, 'Config')) for n, u, _, p in env.list_vms()}
    check_eq(after, before, 'the VMs after a restart')
    log = env.chvd_log()
    for text in ('broken.json: line 1, column 28: not valid JSON',
                 'other.json: its name or UUID is missing or does not match',
                 'bad-config.json: payload.kernel: a kernel is required'):
        check(text in log, 'chvd did not say why it ignored a definition: %r' % text, log[-2000:])
    check_eq([s for _, _, s, _ in env.list_vms()], ['Created', 'Created'], 'the states after a restart')


def test_invalid_names(env):
    env.start_chvd()
    env.create('web', CONFIG)
    names = ['', 'a/b', '../etc', '.hidden', '-dash', 'a b', 'x' * 65, 'x' * 300, 'caf\u00e9', 'a\nb', 'a%s', '*']
    for name in names:
        msg = env.call_error(INVALID_NAME, *MANAGER, 'CreateVM', 'ssa{sv}', name, json.dumps(CONFIG), {})
        check('is not a valid VM name' in msg and len(msg) < 300, 'the message for an invalid name', msg)
        env.call_error(INVALID_NAME, *MANAGER, 'GetVM', 's', name)
    check('x' * 64 + '...' in env.call_error(INVALID_NAME, *MANAGER, 'GetVM', 's', 'x' * 300), 'a long name is cut')
    # The longest valid name works.
    env.create('x' * 64, CONFIG)
    check_eq(sorted(n for n, _, _, _ in env.list_vms()), sorted(['web', 'x' * 64]), 'the VMs after invalid names')
    check_eq(definitions(env), sorted(['web.json', 'x' * 64 + '.json']), 'the definitions after invalid names')
    env.call_error(NOT_FOUND, *MANAGER, 'GetVM', 's', 'nope', message='chvctl list')
    env.call_error('org.freedesktop.DBus.Error.UnknownObject', vm_path('nope'), VM_IFACE, 'Info')
    env.alive()


def test_invalid_configs(env):
    env.start_chvd()
    cases = [
        ('[]', 'the configuration must be an object, got an array'),
        ('"a string"', 'the configuration must be an object, got a string'),
        ('42', 'the configuration must be an object, got a number'),
        ('null', 'the configuration must be an object, got null'),
        ('', 'line 1, column 1: the text holds no YAML document'),
        ('{"payload": {"kernel": "/k"}, "cpus": 2}', 'cpus: expected an object, got a number'),
        ('{"payload": {"kernel": "/k"}, "cpus": {"boot_vcpus": "2"}}',
         'cpus.boot_vcpus: expected an integer, got a string'),
        ('{"payload": {"kernel": "/k"}, "frobnicate": true}', 'frobnicate: unknown field'),
        ('{"payload": {"kernel": "/k"}, "balloon": {"size": 1}}', 'balloon: not supported by chv yet'),
        ('{"payload": {"kernel": "/k"},}', 'line 1, column 31: not valid JSON'),
        ('{"payload": {"kernel": "/k", "kernel": "/j"}}', 'duplicate key "kernel"'),
        ('payload:\n  kernel: /k\n  - x\n', 'line 3, column 3: did not find expected key'),
        ('payload: {kernel: /k}\nmemory: {size: 512M}\n', 'memory.size: expected an integer, got a string'),
        ('{"cpus": {"boot_vcpus": 1}}', 'payload.kernel: a kernel is required'),
        ('{"payload": {"kernel": "vmlinux"}}', 'payload.kernel: "vmlinux" is a relative path'),
        ('{"payload": {"kernel": "/k"}, "disks": [{"path": "disk.img"}]}', 'disks[0].path: "disk.img" is a relative path'),
        ('{"payload": {"kernel": "/k"}, "net": [{"fds": [3]}]}', 'net[0].fds: file descriptors cannot travel'),
        ('{"payload": {"kernel": "/k"}, "serial": {"mode": "File", "file": "out.log"}}', 'serial.file: "out.log" is a relative path'),
        ('{"payload": {"kernel": "/k"}, "memory": {"size": 1e300}}', 'memory.size: expected a non-negative integer'),
        ('a: *x\n', 'line 1, column 4: aliases (*x) are not supported'),
        ('[' * 40, 'nested deeper than 32 levels'),
        ('payload: {kernel: /k}\n' + ' ' * (4 * 1024 * 1024), 'is more than the 4194304 a configuration may have'),
    ]
    for text, reason in cases:
        arg = text
        if len(text) > 65536:
            arg = os.path.join(env.dir, 'big-config')
            with open(arg, 'w') as f:
                f.write(text)
            arg = '@' + arg
        msg = env.call_error(INVALID_CONFIG, *MANAGER, 'CreateVM', 'ssa{sv}', 'web', arg, {})
        check(msg.startswith('Invalid configuration for VM web: ') and reason in msg,
              'the message for %r' % text[:60], 'got:  ' + msg, 'want: ' + reason)
    check_eq(env.list_vms(), [], 'the VMs after invalid configurations')
    check_eq(definitions(env), [], 'the definitions after invalid configurations')
    env.alive()


def test_wrong_calls(env):
    env.start_chvd()
    env.create('web', CONFIG)
    env.call_error(ALREADY_EXISTS, *MANAGER, 'CreateVM', 'ssa{sv}', 'web', json.dumps(CONFIG), {},
                   message='delete that VM first')
    env.call_error(INVALID_ARGS, *MANAGER, 'CreateVM', 'ssa{sv}', 'db', json.dumps(CONFIG), {'frob': 'x'},
                   message='Unknown option "frob"')
    env.call_error(INVALID_ARGS, *MANAGER, 'CreateVM', 'ssa{sv}', 'db', json.dumps(CONFIG), {'uuid': 7},
                   message='uuid must be a string')
    env.call_error(INVALID_ARGS, *MANAGER, 'CreateVM', 'ssa{sv}', 'db', json.dumps(CONFIG), {'uuid': 'not-a-uuid'},
                   message='is not a UUID')
    env.call_error(INVALID_ARGS, *MANAGER, 'CreateVM', 'ss', 'db', json.dumps(CONFIG))
    env.call_error(INVALID_ARGS, *MANAGER, 'CreateVM', 's', 'db')
    env.call_error(INVALID_ARGS, *MANAGER, 'GetVM', 'u', '7')
    env.call_error(INVALID_ARGS, *MANAGER, 'GetVM')
    env.call_error(INVALID_ARGS, vm_path('web'), VM_IFACE, 'Info', 's', 'extra')
    env.call_error('org.freedesktop.DBus.Error.UnknownMethod', *MANAGER, 'Frobnicate')
    env.call_error('org.freedesktop.DBus.Error.UnknownMethod', vm_path('web'), VM_IFACE, 'Snapshot')
    env.call_error('org.freedesktop.DBus.Error.UnknownMethod', vm_path('web'), 'org.cloudhypervisor.VM2', 'Info')
    env.call_error('org.freedesktop.DBus.Error.UnknownObject', '/org/cloudhypervisor/vm/web/x', VM_IFACE, 'Info')
    check_eq([n for n, _, _, _ in env.list_vms()], ['web'], 'the VMs after wrong calls')
    check_eq(definitions(env), ['web.json'], 'the definitions after wrong calls')
    env.alive()


def test_delete(env):
    env.start_chvd()
    path = env.create('web', CONFIG)
    env.create('db', CONFIG)
    check_eq(env.busctl('call', 'org.cloudhypervisor', path, VM_IFACE, 'Delete'), None, 'Delete through busctl')
    env.call_error(NOT_FOUND, *MANAGER, 'GetVM', 's', 'web')
    env.call_error('org.freedesktop.DBus.Error.UnknownObject', path, VM_IFACE, 'Delete')
    check_eq([n for n, _, _, _ in env.list_vms()], ['db'], 'the VMs after Delete')
    check_eq(definitions(env), ['db.json'], 'the definitions after Delete')
    # The name is free again; the new VM is another one.
    env.create('web', CONFIG)
    check_eq(env.stop_chvd(), 0, 'the exit status of chvd')
    env.start_chvd()
    check_eq(sorted(n for n, _, _, _ in env.list_vms()), ['db', 'web'], 'the VMs after a restart')


def test_second_chvd(env):
    env.start_chvd()
    other = env.run([os.environ['CHVD'], '--state-dir', env.state_dir + '2', '--runtime-dir', env.runtime_dir + '2',
                     '--log-target', 'console'], timeout=20)
    check_eq(other.returncode, 1, 'the exit status of a second chvd on the same bus')
    check('is another chvd running?' in other.stderr, 'the second chvd does not say why it exits', other.stderr)
    env.alive()


def test_notify(env):
    """chvd tells its service manager (NOTIFY_SOCKET) when it serves, and when it stops."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = os.path.join(env.dir, 'notify')
    sock.bind(path)
    sock.settimeout(20)
    env.env['NOTIFY_SOCKET'] = path
    env.start_chvd()
    ready = sock.recv(4096).decode()
    check('READY=1' in ready.split('\n') and 'STATUS=Serving 0 VM(s).' in ready, 'the first notification', ready)
    env.stop_chvd()
    stopping = sock.recv(4096).decode()
    check('STOPPING=1' in stopping.split('\n'), 'the notification at exit', stopping)
    sock.close()


def test_bad_options(env):
    for args, message in ((['--frob'], "unknown option '--frob'"), (['--state-dir', 'rel'], 'absolute path'),
                          (['--slice', 'x'], 'slice unit name'), (['--stop-timeout', '0'], '1..3600'),
                          (['--log-target', 'x'], 'auto, journal or console'), (['stray'], "unexpected argument")):
        p = env.run([os.environ['CHVD']] + args, timeout=10)
        check_eq(p.returncode, 1, 'the exit status of chvd %s' % ' '.join(args))
        check(message in p.stderr, 'chvd %s does not say %r' % (' '.join(args), message), p.stderr)
    p = env.run([os.environ['CHVD'], '--version'], timeout=10)
    check(p.returncode == 0 and p.stdout.startswith('chvd v'), 'chvd --version', p.stdout)


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS)
