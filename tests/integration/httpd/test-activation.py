#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Socket activation with the real unit files: units/chv-httpd@.socket and the built chv-httpd@.service
pass systemd-analyze verify; then chv-httpd runs as the service's ExecStart says (instance "web"),
under systemd-socket-activate listening where the socket unit says (moved into the test's directory),
started by the first connection; vmm.shutdown ends it and the next connection starts it again."""

import os
import re
import shutil
import subprocess

from httptest import HTTPD, Httpd, Skip, check, check_eq, guest_config, run, wait_for

SOURCE_ROOT = os.environ.get('CHV_SOURCE_ROOT', os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..')))
BUILT_SERVICE = os.environ.get('CHV_HTTPD_SERVICE', '')


def unit_values(path, key):
    with open(path) as f:
        return [m.group(1).strip() for m in (re.match(r'^%s=(.*)$' % key, line) for line in f) if m]


class Activated(Httpd):
    """chv-httpd as systemd-socket-activate starts it; otherwise like Httpd."""

    def __init__(self, env, socket_path, argv):
        self.env = env
        self.vm = 'web'
        self.socket = socket_path
        self.log_path = os.path.join(env.dir, 'chv-httpd.activated.log')
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(['systemd-socket-activate', '-l', socket_path, '-E', 'DBUS_SYSTEM_BUS_ADDRESS']
                                     + argv, stdout=log, stderr=subprocess.STDOUT, env=env.env)
        log.close()
        env.monitors.append(self)
        wait_for(lambda: os.path.exists(socket_path), 'systemd-socket-activate listening on %s' % socket_path)


def test_units_verify(env):
    if not shutil.which('systemd-analyze'):
        raise Skip('systemd-analyze is not installed')
    d = os.path.join(env.dir, 'units')
    os.mkdir(d)
    shutil.copy(os.path.join(SOURCE_ROOT, 'units', 'chv-httpd@.socket'), d)
    with open(BUILT_SERVICE) as f:
        service = re.sub(r'^ExecStart=\S+', 'ExecStart=' + HTTPD, f.read(), flags=re.M)
    with open(os.path.join(d, 'chv-httpd@.service'), 'w') as f:
        f.write(service)
    p = subprocess.run(['systemd-analyze', 'verify', '--man=no', './chv-httpd@web.socket', './chv-httpd@web.service'],
                       cwd=d, capture_output=True, text=True, env=dict(os.environ, SYSTEMD_LOG_LEVEL='notice'))
    check(p.returncode == 0 and not p.stderr.strip(), 'systemd-analyze verify of the units', p.stdout, p.stderr)


def test_socket_activation(env):
    if not shutil.which('systemd-socket-activate'):
        raise Skip('systemd-socket-activate is not installed')
    listen = unit_values(os.path.join(SOURCE_ROOT, 'units', 'chv-httpd@.socket'), 'ListenStream')
    check_eq(listen, ['/run/chv/api/%i.sock'], 'the socket unit\'s ListenStream')
    execstart = unit_values(BUILT_SERVICE, 'ExecStart')
    check_eq(len(execstart), 1, 'one ExecStart')
    argv = execstart[0].replace('%i', 'web').split()
    check(argv[0].endswith('/chv-httpd') and '--socket' not in argv, 'ExecStart runs chv-httpd on the passed socket',
          argv)
    argv[0] = HTTPD        # the built one, where the unit names the installed one
    env.start_chvd()
    os.makedirs(os.path.join(env.dir, 'run', 'api'), exist_ok=True)
    path = os.path.join(env.dir, 'run', 'api', 'web.sock')
    h = Activated(env, path, argv)
    ping = h.request('GET', 'vmm.ping', status=200).json()
    check_eq(ping['pid'], h.proc.pid, 'chv-httpd runs as the process systemd-socket-activate started')
    h.request('PUT', 'vm.create', guest_config(), status=204)
    check_eq(h.request('GET', 'vm.info', status=200).json()['state'], 'Created', 'vm.info')
    h.request('PUT', 'vmm.shutdown', status=200)
    check_eq(h.proc.wait(10), 0, 'exit status after vmm.shutdown')
    # As systemd would: the socket is still there, the next connection starts the service again.
    h = Activated(env, path + '.2', argv)
    check_eq(h.request('GET', 'vm.info', status=200).json()['state'], 'Created', 'vm.info after a restart')


if __name__ == '__main__':
    run({name[5:]: fn for name, fn in globals().items() if name.startswith('test_')})
