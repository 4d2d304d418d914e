# SPDX-License-Identifier: Apache-2.0
"""
What the chv-httpd tests share, on top of the daemon tests' chvtest (a private bus with chv's policy and
chvd on it): chv-httpd on a unix socket in the test's directory, requests through
`curl --unix-socket`, and every answer checked: status, Cloud Hypervisor's headers, and the body
against Cloud Hypervisor's OpenAPI document (validate.js, run by node with the validator npm-setup.sh
installs).

Environment (set by meson): those of chvtest, and CHV_HTTPD.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'daemon'))

from chvtest import (MANAGER, SKIP, VM_IFACE, Failure, Skip, check, check_eq, run,  # noqa: E402,F401
                     vm_path, wait_for)

HTTPD = os.environ.get('CHV_HTTPD', '')
GUEST = os.environ.get('CHV_TEST_GUEST', '')
MIB = 1024 * 1024
BODY_MAX = 4 * MIB


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return 'HTTP %d %r %r' % (self.status, self.headers, self.body[:400])


class Validator:
    """validate.js, kept running: one answer in, one verdict out."""

    def __init__(self):
        p = subprocess.run([os.path.join(HERE, 'npm-setup.sh')], capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, 'npm-setup.sh could not install the OpenAPI validator', p.stderr.strip())
        env = dict(os.environ, NODE_PATH=p.stdout.strip())
        self.proc = subprocess.Popen(['node', os.path.join(HERE, 'validate.js')], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def check(self, method, endpoint, answer):
        line = json.dumps({'method': method, 'path': '/' + endpoint, 'status': answer.status, 'body': answer.body})
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()
        verdict = self.proc.stdout.readline()
        check(verdict, 'validate.js ended', self.proc.poll())
        v = json.loads(verdict)
        check(v['ok'], '%s /%s: the answer does not match the OpenAPI document' % (method, endpoint),
              *(v.get('errors', []) + [answer]))


_validator = None


def validator():
    global _validator
    if _validator is None:
        _validator = Validator()
    return _validator


class Httpd:
    """chv-httpd --vm NAME --socket DIR/api.sock, on the test's bus. Stopped by the Env's close()."""

    def __init__(self, env, vm='web', extra=()):
        self.env = env
        self.vm = vm
        self.socket = os.path.join(env.dir, 'api.%s.sock' % vm)
        self.log_path = os.path.join(env.dir, 'chv-httpd.%s.log' % vm)
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen([HTTPD, '--vm', vm, '--socket', self.socket, '-v'] + list(extra),
                                     stdout=log, stderr=subprocess.STDOUT, env=env.env)
        log.close()
        env.monitors.append(self)        # chvtest's Env.close() stops what it finds there
        wait_for(self.connectable, 'chv-httpd listening on %s' % self.socket)

    def connectable(self):
        check(self.proc.poll() is None, 'chv-httpd exited with status %s' % self.proc.returncode, self.log())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.socket)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ''

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure('chv-httpd did not exit within 10 s of SIGTERM', self.log())

    def alive(self):
        check(self.proc.poll() is None, 'chv-httpd exited with status %s' % self.proc.returncode, self.log())

    def fds(self):
        """chv-httpd's open descriptors."""
        return sorted(os.listdir('/proc/%d/fd' % self.proc.pid), key=int)

    def wait_fds(self, want, what):
        """The number of open descriptors settles back at want (connections close asynchronously)."""
        try:
            wait_for(lambda: len(self.fds()) <= want, what, timeout=10)
        except Failure:
            raise Failure('%s: chv-httpd has %d descriptors open, %d before' % (what, len(self.fds()), want),
                          ['%s -> %s' % (fd, _readlink('/proc/%d/fd/%s' % (self.proc.pid, fd))) for fd in self.fds()])

    def curl(self, method, endpoint, body=None, headers=(), path=None, timeout=900, extra=()):
        """One request through curl --unix-socket; the Answer."""
        hfile = os.path.join(self.env.dir, 'curl.headers')
        bfile = os.path.join(self.env.dir, 'curl.body')
        args = ['curl', '-sS', '--unix-socket', self.socket, '-X', method, '-D', hfile, '-o', bfile,
                '-w', '%{http_code}', '--max-time', str(timeout)]
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body if isinstance(body, bytes) else body.encode()
            else:
                data = json.dumps(body).encode()
            dfile = os.path.join(self.env.dir, 'curl.data')
            with open(dfile, 'wb') as f:
                f.write(data)
            args += ['--data-binary', '@' + dfile, '-H', 'Content-Type: application/json']
        for h in headers:
            args += ['-H', h]
        args += list(extra)
        args.append('http://localhost' + (path or '/api/v1/' + endpoint))
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
        check(p.returncode == 0, 'curl %s %s failed' % (method, endpoint), p.stderr.strip(), self.log())
        return read_answer(int(p.stdout), hfile, bfile)

    def request(self, method, endpoint, body=None, status=None, errors=None, validate=True, **kw):
        """curl, then the checks every answer gets; status and error messages too when given."""
        a = self.curl(method, endpoint, body, **kw)
        check_headers(a)
        if status is not None:
            check_eq(a.status, status, '%s /%s: status (body %r)' % (method, endpoint, a.body[:300]))
        if validate:
            validator().check(method, endpoint, a)
        if errors is not None:
            check_errors(a, errors)
        return a


def _readlink(p):
    try:
        return os.readlink(p)
    except OSError:
        return '?'


def read_answer(status, hfile, bfile):
    headers = {}
    with open(hfile, 'rb') as f:
        lines = f.read().decode('latin-1').split('\r\n')
    # curl writes every response it saw (100 Continue too): keep the last block.
    blocks = [[]]
    for line in lines:
        if line == '':
            blocks.append([])
        else:
            blocks[-1].append(line)
    block = [b for b in blocks if b][-1]
    for line in block[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    with open(bfile, 'rb') as f:
        body = f.read().decode('utf-8', errors='replace')
    return Answer(status, headers, body)


def check_headers(a):
    """Cloud Hypervisor's headers: its Server, and application/json wherever there is content."""
    check_eq(a.headers.get('server'), 'Cloud Hypervisor API', 'the Server header')
    if a.status == 204:
        check('content-type' not in a.headers, '204 with a Content-Type', a)
        check_eq(a.body, '', 'the body of a 204')
    else:
        check_eq(a.headers.get('content-type'), 'application/json', 'the Content-Type header')
        check_eq(int(a.headers.get('content-length', '-1')), len(a.body.encode()), 'Content-Length')


def check_errors(a, want):
    """The error body: a JSON array of messages; want is the list expected, or its last item's substring."""
    got = a.json()
    if isinstance(want, str):
        check(got and want in got[-1], 'the error lacks %r' % want, got)
    else:
        check_eq(got, want, 'the error messages')


def guest_config(test='halt', **extra):
    config = {'payload': {'kernel': GUEST, 'cmdline': 'test=' + test}, 'memory': {'size': 64 * MIB},
              'serial': {'mode': 'Tty'}, 'console': {'mode': 'Off'}}
    config.update(extra)
    return config


def raw_connect(httpd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(httpd.socket)
    return s


def raw_answer(s):
    """Reads one answer off a raw socket: (status, headers, body)."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise Failure('the connection closed before an answer', data)
        data += chunk
    head, _, rest = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get('content-length', '0'))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length].decode()


def start(env, vm='web'):
    """chvd, then chv-httpd for VM vm."""
    if not HTTPD or not os.path.exists(HTTPD):
        raise Skip('chv-httpd is not built')
    env.start_chvd()
    return Httpd(env, vm)


def settle(seconds=0.2):
    time.sleep(seconds)
