#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chvctl against chvd on a private bus, with a stand-in for chv-vmm (fake-vmm.py): every command, its
tables and --json, and the exit statuses scripts rely on."""

import json
import os
import subprocess
import time

from chvtest import Skip, check, check_eq, read_until, run, vm_path, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, 'fake-vmm.py')
CONFIG_FILES = os.path.join(os.environ.get('CHV_SOURCE_ROOT', os.path.join(HERE, '../../..')), 'tests', 'unit',
                            'config-files')


def chvctl(env, *args, status=0, user=None, input=None):
    p = env.run([os.environ['CHVCTL']] + list(args), user=user, input=input)
    check_eq(p.returncode, status, 'the exit status of chvctl %s (stderr: %s)' % (' '.join(args), p.stderr.strip()))
    return p


def start(env):
    env.start_chvd('--vmm', FAKE)


def test_ping(env):
    start(env)
    p = chvctl(env, 'ping')
    check(p.stdout.startswith('chvd ') and 'yaml' in p.stdout, 'chvctl ping', p.stdout)
    j = json.loads(chvctl(env, 'ping', '--json').stdout)
    check('yaml' in j['features'] and j['version'], 'chvctl ping --json', j)


def test_create_list_info(env):
    start(env)
    check_eq(chvctl(env, 'list', '--no-legend').stdout, '', 'list of no VMs')
    # Cloud Hypervisor's options; relative paths are relative to chvctl's directory.
    chvctl(env, 'create', 'web', '--kernel', 'vmlinux', '--cmdline', 'console=ttyS0 quiet', '--cpus', 'boot=2',
           '--memory', 'size=256M', '--disk', 'path=disk.img,readonly=on', '--serial', 'tty', '--console', 'off',
           '--uuid', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0')
    chvctl(env, 'create', 'from-yaml', os.path.join(CONFIG_FILES, 'vm.yaml'))
    out = chvctl(env, '--json', 'create', 'from-json', os.path.join(CONFIG_FILES, 'vm.json')).stdout
    check_eq(json.loads(out), {'name': 'from-json', 'path': vm_path('from-json')}, 'create --json')
    lines = chvctl(env, 'list').stdout.splitlines()
    check_eq(lines[0].split(), ['NAME', 'STATE', 'UUID'], 'the header of list')
    check_eq([l.split()[:2] for l in lines[1:4]], [['web', 'Created'], ['from-yaml', 'Created'],
                                                  ['from-json', 'Created']], 'the rows of list')
    check_eq(lines[-1], '3 VMs listed.', 'the footer of list')
    vms = json.loads(chvctl(env, 'list', '--json').stdout)
    check_eq([(v['name'], v['state'], v['path']) for v in vms],
             [('web', 'Created', vm_path('web')), ('from-yaml', 'Created', vm_path('from-yaml')),
              ('from-json', 'Created', vm_path('from-json'))], 'list --json')
    check_eq(vms[0]['uuid'], '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'the UUID given to create')
    info = json.loads(chvctl(env, 'info', 'web', '--json').stdout)
    check_eq(info['config']['payload'], {'kernel': os.path.join(os.getcwd(), 'vmlinux'),
                                         'cmdline': 'console=ttyS0 quiet'}, 'the payload')
    check_eq(info['config']['disks'][0]['path'], os.path.join(os.getcwd(), 'disk.img'), 'the disk path')
    check_eq(info['config']['memory']['size'], 256 << 20, 'the memory size')
    text = chvctl(env, 'info', 'web').stdout
    for want in ('Name: web', 'State: Created', 'CPUs: 2 (at most 2)', 'Memory: 256 MiB', 'Serial: Tty',
                 'Cmdline: console=ttyS0 quiet', 'read-only'):
        check(want in text, 'chvctl info lacks %r' % want, text)
    # The YAML and the JSON file made the same VM.
    a = json.loads(chvctl(env, 'info', 'from-yaml', '--json').stdout)['config']
    b = json.loads(chvctl(env, 'info', 'from-json', '--json').stdout)['config']
    for c in (a, b):
        for n in c.get('net', []):
            n.pop('mac', None)
    check_eq(a, b, 'the VMs made from vm.yaml and vm.json')


def test_create_relative_to_file(env):
    """Relative paths in a file are taken from the file's directory, not from where chvctl runs."""
    start(env)
    sub = os.path.join(env.dir, 'vms')
    os.mkdir(sub)
    open(os.path.join(env.dir, 'vmlinux'), 'w').close()
    with open(os.path.join(sub, 'vm.yaml'), 'w') as f:
        f.write('payload:\n  kernel: ../vmlinux\ndisks:\n  - path: images/root.img\nserial:\n  mode: File\n'
                '  file: /var/log/serial.log\n')
    chvctl(env, 'create', 'rel', os.path.relpath(os.path.join(sub, 'vm.yaml')))
    config = json.loads(chvctl(env, 'info', 'rel', '--json').stdout)['config']
    real = os.path.realpath(env.dir)
    check_eq(config['payload']['kernel'], os.path.join(real, 'vmlinux'), 'the kernel, from ../ of the file')
    check_eq(config['disks'][0]['path'], os.path.join(real, 'vms', 'images', 'root.img'),
             'the disk, which does not exist yet')
    check_eq(config['serial']['file'], '/var/log/serial.log', 'an absolute path, as it was')
    # Again: the name is taken, unless the definition is to be replaced.
    p = chvctl(env, 'create', 'rel', os.path.join(sub, 'vm.yaml'), status=7)
    check('--replace' in p.stderr, 'create of a name in use does not mention --replace', p.stderr)
    chvctl(env, 'create', '--replace', 'rel', os.path.join(sub, 'vm.yaml'))


def test_lifecycle(env):
    start(env)
    chvctl(env, 'create', 'web', '--kernel', '/nonexistent/vmlinux', '--serial', 'tty', '--console', 'off')
    chvctl(env, 'create', 'db', '--kernel', '/nonexistent/vmlinux', '--console', 'off')
    chvctl(env, 'boot', 'web', 'db')
    check_eq([env.state('web'), env.state('db')], ['Running', 'Running'], 'the states after boot')
    pid = env.prop(vm_path('web'), 'MainPID')
    chvctl(env, 'reboot', 'web')
    check(env.prop(vm_path('web'), 'MainPID') not in (0, pid), 'reboot did not start a new worker')
    chvctl(env, 'power-button', 'db')
    env.wait_state('db', 'Shutdown')
    info = chvctl(env, 'info', 'web').stdout
    check('State: Running' in info and 'Main PID: ' in info, 'info of a running VM', info)
    chvctl(env, 'pause', 'web')
    check_eq(env.state('web'), 'Paused', 'the state after pause')
    chvctl(env, 'pause', 'web', status=4)
    check_eq(chvctl(env, 'counters', 'web').stdout,
             '_disk0 read_bytes 512\n_disk0 write_bytes 0\n_disk0 read_ops 1\n_disk0 write_ops 0\n', 'counters')
    check_eq(json.loads(chvctl(env, '--json', 'counters', 'web').stdout)['_disk0']['read_ops'], 2, 'counters --json')
    chvctl(env, 'resume', 'web')
    check_eq(env.state('web'), 'Running', 'the state after resume')
    chvctl(env, 'shutdown', 'web')
    check_eq(env.state('web'), 'Shutdown', 'the state after shutdown')
    chvctl(env, 'delete', 'web', 'db')
    check_eq(chvctl(env, 'list', '--no-legend').stdout, '', 'the VMs after delete')


def test_exit_statuses(env):
    start(env)
    chvctl(env, 'create', 'web', '--kernel', '/nonexistent/vmlinux')
    cases = [
        (2, (), 'a command is needed'),
        (2, ('frobnicate',), "unknown command 'frobnicate'"),
        (2, ('boot',), 'boot needs the name of a VM'),
        (2, ('create', 'x'), 'create takes a name and either a file'),
        (2, ('create', 'x', 'a.yaml', '--kernel', '/k'), 'not both'),
        (3, ('info', 'nope'), 'There is no VM named nope'),
        (3, ('boot', 'nope'), 'There is no VM named nope'),
        (4, ('shutdown', 'web'), 'VM web is Created: boot it first'),
        (6, ('info', 'a/b'), 'is not a valid VM name'),
        (6, ('create', 'x', '--kernel', 'k', '--cpus', 'boot=0'), 'cpus.boot_vcpus: 0 is out of range'),
        (6, ('create', 'x', '--cpus', 'boot=two', '--kernel', '/k'), '--cpus: boot="two" is not a number'),
        (6, ('create', 'x', os.path.join(CONFIG_FILES, 'bad-syntax.yaml')), 'line 5, column 3'),
        (6, ('create', 'x', os.path.join(CONFIG_FILES, 'missing.yaml')), 'No such file or directory'),
        (7, ('create', 'web', '--kernel', '/k'), 'A VM named web exists already'),
    ]
    for status, args, message in cases:
        p = chvctl(env, *args, status=status)
        check(message in p.stderr, 'chvctl %s does not say %r' % (' '.join(args), message), p.stderr)
    # --json: the error as JSON on standard error.
    p = chvctl(env, '--json', 'info', 'nope', status=3)
    check_eq(json.loads(p.stderr)['error'], 'org.cloudhypervisor.Error.NotFound', 'the error with --json')
    if os.geteuid() == 0:
        p = chvctl(env, 'create', 'x', '--kernel', '/k', status=5, user='nobody')
        check('Access denied' in p.stderr, 'the message of access denied', p.stderr)
        chvctl(env, 'list', user='nobody')
        chvctl(env, 'info', 'web', user='nobody')
    env.stop_chvd()
    p = chvctl(env, 'list', status=8)
    check('chvd is not running' in p.stderr, 'the message without chvd', p.stderr)


def test_console(env):
    start(env)
    chvctl(env, 'create', 'web', '--kernel', '/nonexistent/vmlinux', '--cmdline', 'fake-echo', '--serial', 'tty',
           '--console', 'off')
    chvctl(env, 'boot', 'web')
    proc = subprocess.Popen([os.environ['CHVCTL'], 'console', 'web'], env=env.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b'hello through the console\n')
        proc.stdin.flush()
        read_until(proc.stdout, b'echo: hello through the console', timeout=20)
        # The console ends when the VM stops.
        chvctl(env, 'shutdown', 'web')
        check_eq(proc.wait(20), 0, 'the exit status of chvctl console when the VM stopped')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    chvctl(env, 'create', 'quiet', '--kernel', '/nonexistent/vmlinux', '--console', 'off')
    chvctl(env, 'boot', 'quiet')
    p = chvctl(env, 'console', 'quiet', status=6)
    check('has no console' in p.stderr, 'console of a VM without one', p.stderr)
    chvctl(env, 'console', 'web', status=4)


def test_events(env):
    start(env)
    chvctl(env, 'create', 'web', '--kernel', '/nonexistent/vmlinux', '--console', 'off')
    chvctl(env, 'create', 'db', '--kernel', '/nonexistent/vmlinux', '--console', 'off')
    out_all = open(os.path.join(env.dir, 'events-all'), 'w+')
    out_web = open(os.path.join(env.dir, 'events-web'), 'w+')
    procs = [subprocess.Popen([os.environ['CHVCTL'], 'events', '--json'], env=env.env, stdout=out_all),
             subprocess.Popen([os.environ['CHVCTL'], 'events', 'web'], env=env.env, stdout=out_web)]
    try:
        time.sleep(1)  # the matches are in place
        chvctl(env, 'boot', 'web', 'db')
        chvctl(env, 'shutdown', 'web')
        chvctl(env, 'delete', 'web')

        def lines(f):
            f.seek(0)
            return f.read().splitlines()
        wait_for(lambda: len(lines(out_all)) >= 6, 'six events')
        got = [(e['vm'], e['source'], e['event']) for e in map(json.loads, lines(out_all))]
        check_eq(sorted(got), sorted([('web', 'vm', 'booting'), ('web', 'vm', 'booted'), ('db', 'vm', 'booting'),
                                      ('db', 'vm', 'booted'), ('web', 'vm', 'shutdown'), ('web', 'vm', 'deleted')]),
                 'chvctl events --json')
        wait_for(lambda: len(lines(out_web)) >= 4, 'four events of web')
        check_eq([l.split() for l in lines(out_web)], [['web', 'vm', 'booting'], ['web', 'vm', 'booted'],
                                                      ['web', 'vm', 'shutdown'], ['web', 'vm', 'deleted']],
                 'chvctl events web')
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            check_eq(p.wait(10), 0, 'the exit status of chvctl events on SIGTERM')
    chvctl(env, 'events', 'nope', status=3)


def test_bash_completion(env):
    """shell-completion/bash/chvctl with bash-completion's helpers: commands, options, and the VMs a
    command can take, as chvd lists them."""
    helpers = '/usr/share/bash-completion/bash_completion'
    if not os.path.exists(helpers):
        raise Skip('bash-completion is not installed (tools/install-deps test)')
    script = os.path.join(os.environ['CHV_SOURCE_ROOT'], 'shell-completion', 'bash', 'chvctl')
    start(env)
    chvctl(env, 'create', 'idle', '--kernel', '/k')
    chvctl(env, 'create', 'busy', '--kernel', '/k', '--serial', 'tty', '--console', 'off')
    chvctl(env, 'boot', 'busy')
    bindir = os.path.join(env.dir, 'bin')
    os.mkdir(bindir)
    os.symlink(os.environ['CHVCTL'], os.path.join(bindir, 'chvctl'))

    def complete(line):
        words = line.split(' ')
        prog = ('source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; '
                '_chvctl; printf "%%s\\n" "${COMPREPLY[@]}"' % (
                    helpers, script, ' '.join("'%s'" % w for w in words), len(words) - 1, "'%s'" % line))
        p = subprocess.run(['bash', '-c', prog], capture_output=True, text=True, timeout=30,
                           env=dict(env.env, PATH=bindir + ':' + env.env['PATH']))
        check_eq(p.returncode, 0, 'bash completing %r (%s)' % (line, p.stderr.strip()))
        return sorted(w for w in p.stdout.split('\n') if w)

    check_eq(complete('chvctl bo'), ['boot'], 'a command')
    check_eq(complete('chvctl --json p'), ['pause', 'ping', 'power-button'], 'a command after --json')
    check_eq(complete('chvctl boot '), ['idle'], 'the VMs boot takes')
    check_eq(complete('chvctl shutdown '), ['busy'], 'the VMs shutdown takes')
    check_eq(complete('chvctl info '), ['busy', 'idle'], 'the VMs info takes')
    check_eq(complete('chvctl boot --w'), ['--wait'], 'an option of boot')
    check_eq(complete('chvctl create x --rep'), ['--replace'], 'an option of create')
    chvctl(env, 'shutdown', 'busy')


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith('test_')}

if __name__ == '__main__':
    run(TESTS)
