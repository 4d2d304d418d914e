#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chv-httpd against a real chvd on a private bus, without a running guest (no KVM needed): vmm.ping,
vm.create, vm.info, vm.delete, every endpoint's errors in Cloud Hypervisor's shape, the endpoints chv
does not have yet, hostile requests (bad JSON, wrong types and methods, unknown paths, bodies over the
limit, clients that go away mid-request, 200 connections at once), descriptors sent with SCM_RIGHTS,
and no descriptor leaked after any of it."""

import array
import json
import os
import socket
import threading

from httptest import (BODY_MAX, MANAGER, MIB, Failure, Httpd, check, check_eq, guest_config, raw_answer, raw_connect,
                      run, settle, start, vm_path)

NOT_CREATED = 'VM is not created'

# Endpoints chvd has no method for yet: path, needs a body, Cloud Hypervisor's words for the failure.
UNAVAILABLE = [
    ('vm.nmi', False, 'Error triggering NMI'),
    ('vm.resize', True, 'The VM could not be resized'),
    ('vm.resize-disk', True, 'The disk could not be resized'),
    ('vm.resize-zone', True, 'The memory zone could not be resized'),
    ('vm.add-device', True, 'The device could not be added to the VM'),
    ('vm.add-user-device', True, 'The user device could not be added to the VM'),
    ('vm.remove-device', True, 'The device could not be removed from the VM'),
    ('vm.add-disk', True, 'The disk could not be added to the VM'),
    ('vm.add-fs', True, 'The fs could not be added to the VM'),
    ('vm.add-generic-vhost-user', True, 'The generic vhost-user device could not be added to the VM'),
    ('vm.add-pmem', True, 'The pmem device could not be added to the VM'),
    ('vm.add-net', True, 'The network device could not be added to the VM'),
    ('vm.add-vdpa', True, 'The vDPA device could not be added to the VM'),
    ('vm.add-vsock', True, 'The vsock device could not be added to the VM'),
    ('vm.snapshot', True, 'The VM could not be snapshotted'),
    ('vm.coredump', True, 'The VM could not be coredumped'),
    ('vm.restore', True, 'The VM could not be restored'),
    ('vm.receive-migration', True, 'Error receiving migration'),
    ('vm.send-migration', True, 'Error dispatching the migration worker'),
]

# What a body for each looks like (only its JSON syntax is looked at).
SAMPLE_BODY = {
    'vm.resize': {'desired_vcpus': 2}, 'vm.resize-disk': {'id': 'disk0', 'desired_size': MIB},
    'vm.resize-zone': {'id': 'z0', 'desired_ram': MIB}, 'vm.add-device': {'path': '/sys/bus/pci/devices/x'},
    'vm.add-user-device': {'socket': '/run/u.sock'}, 'vm.remove-device': {'id': 'disk0'},
    'vm.add-disk': {'path': '/var/lib/a.img'}, 'vm.add-fs': {'tag': 't', 'socket': '/run/fs.sock'},
    'vm.add-generic-vhost-user': {'socket': '/run/v.sock', 'device_type': 1, 'queue_sizes': [256]},
    'vm.add-pmem': {'file': '/var/lib/p.img'}, 'vm.add-net': {'tap': 'tap0'}, 'vm.add-vdpa': {'path': '/dev/vhost-vdpa-0'},
    'vm.add-vsock': {'cid': 3, 'socket': '/run/vsock.sock'}, 'vm.snapshot': {'destination_url': 'file:///var/tmp/s'},
    'vm.coredump': {'destination_url': 'file:///var/tmp/c'}, 'vm.restore': {'source_url': 'file:///var/tmp/s'},
    'vm.receive-migration': {'receiver_url': 'unix:/run/m.sock'},
    'vm.send-migration': {'destination_url': 'unix:/run/m.sock'},
}


def test_ping(env):
    h = start(env)
    a = h.request('GET', 'vmm.ping', status=200)
    ping = a.json()
    version, features = env.call_ok(*MANAGER, 'Ping')
    check_eq(ping['version'], version, 'vmm.ping version (chvd\'s)')
    check_eq(ping['features'], features, 'vmm.ping features (chvd\'s)')
    check_eq(ping['pid'], h.proc.pid, 'vmm.ping pid (chv-httpd\'s)')
    check(ping['build_version'].startswith('chv-httpd v'), 'vmm.ping build_version', ping)
    # A body on a GET is read and ignored, as Cloud Hypervisor does.
    h.request('GET', 'vmm.ping', body='{"x": 1}', status=200)


def test_create_info_delete(env):
    h = start(env)
    h.request('GET', 'vm.info', status=404, errors=['Error from API', 'The VM info is not available', NOT_CREATED])
    h.request('PUT', 'vm.create', guest_config(), status=204)
    info = h.request('GET', 'vm.info', status=200).json()
    check_eq(info['state'], 'Created', 'vm.info state')
    check_eq(info['config']['payload']['kernel'], guest_config()['payload']['kernel'], 'vm.info config.payload.kernel')
    check_eq(info['memory_actual_size'], 64 * MIB, 'vm.info memory_actual_size')
    check_eq(set(info), {'config', 'state', 'memory_actual_size'}, 'vm.info members (Cloud Hypervisor\'s only)')
    # The VM is chvd's, under the name chv-httpd serves.
    check_eq(env.state('web'), 'Created', 'State on the bus')
    h.request('PUT', 'vm.create', guest_config(), status=500,
              errors=['Error from API', 'The VM could not be created', 'VM is already created'])
    h.request('GET', 'vm.counters', status=500, errors='boot it first')
    h.request('PUT', 'vm.delete', status=204)
    h.request('PUT', 'vm.delete', status=204)        # not there: no error, as in Cloud Hypervisor
    h.request('GET', 'vm.info', status=404, errors=['Error from API', 'The VM info is not available', NOT_CREATED])
    ok, v = env.call(vm_path('web'), 'org.cloudhypervisor.VM1', 'Info')
    check(not ok, 'the VM is still on the bus after vm.delete', v)


def test_create_fds_ignored(env):
    """net[].fds numbers in a vm.create body mean nothing (no descriptors came): dropped, as CH does."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(net=[{'fds': [3, 4], 'num_queues': 2}]), status=204)
    info = h.request('GET', 'vm.info', status=200).json()
    check('fds' not in info['config']['net'][0], 'net[0].fds kept', info['config']['net'])


def test_create_invalid(env):
    h = start(env)
    bad = 'Failed to deserialize JSON'
    a = h.request('PUT', 'vm.create', '{"payload": {"kernel": ', status=400)
    check(a.json()[0] == bad and a.json()[1].startswith('not valid JSON at offset '), 'the error', a.json())
    h.request('PUT', 'vm.create', '{} x', status=400, errors=[bad, 'trailing characters at offset 3 of 4'])
    h.request('PUT', 'vm.create', '[1, 2]', status=400, errors=[bad, 'invalid type: expected a JSON object'])
    h.request('PUT', 'vm.create', '"text"', status=400, errors=[bad, 'invalid type: expected a JSON object'])
    h.request('PUT', 'vm.create', b'{"payload": {"kernel": "/a\x00b"}}', status=400, errors=[bad, 'a NUL byte at offset 26'])
    h.request('PUT', 'vm.create', b'{"payload": {"kernel": "/\xff"}}', status=400, errors=[bad, 'the body is not valid UTF-8'])
    # Wrong types and values: chvd's decoder names the field.
    a = h.request('PUT', 'vm.create', guest_config(memory={'size': 'lots'}), status=400)
    check_eq(a.json()[:3], ['Error from API', 'The VM could not be created', 'Failed to validate config'], 'the chain')
    check('memory.size' in a.json()[3], 'the message names the field', a.json())
    h.request('PUT', 'vm.create', guest_config(cpus={'boot_vcpus': 0}), status=400, errors='cpus.boot_vcpus')
    h.request('PUT', 'vm.create', {'payload': {'kernel': 'relative/vmlinux'}}, status=400, errors='absolute')
    h.request('PUT', 'vm.create', {'memory': {'size': 64 * MIB}}, status=400)
    # No body: Cloud Hypervisor's empty Bad Request.
    a = h.request('PUT', 'vm.create', status=400)
    check_eq(a.body, '', 'the body of vm.create without a body')
    h.request('GET', 'vm.info', status=404)
    h.alive()


def test_wrong_state(env):
    """Actions on a VM that does not run: Cloud Hypervisor's 500 with chvd's reason; no VM: 404."""
    h = start(env)
    for endpoint, what in [('vm.pause', 'The VM could not be paused'), ('vm.resume', 'The VM could not resume'),
                           ('vm.shutdown', 'The VM could not shutdown'), ('vm.reboot', 'The VM could not reboot'),
                           ('vm.power-button', 'Error triggering power button'), ('vm.boot', 'The VM could not boot')]:
        h.request('PUT', endpoint, status=404, errors=['Error from API', what, NOT_CREATED])
    h.request('GET', 'vm.counters', status=404, errors=['Error from API', 'The VM info is not available', NOT_CREATED])
    h.request('PUT', 'vm.create', guest_config(), status=204)
    for endpoint, what in [('vm.pause', 'The VM could not be paused'), ('vm.resume', 'The VM could not resume'),
                           ('vm.shutdown', 'The VM could not shutdown'), ('vm.reboot', 'The VM could not reboot'),
                           ('vm.power-button', 'Error triggering power button')]:
        a = h.request('PUT', endpoint, status=500)
        check_eq(a.json()[:2], ['Error from API', what], endpoint + ': the chain')
        check('VM web is Created' in a.json()[2], endpoint + ': chvd\'s reason', a.json())


def test_paths_and_methods(env):
    h = start(env)
    h.request('GET', 'vm.nope', status=404, errors=['Not Found'])
    h.request('GET', '', path='/', status=404, errors=['Not Found'], validate=False)
    h.request('GET', 'vm.info', path='/api/v2/vm.info', status=404, errors=['Not Found'], validate=False)
    h.request('GET', 'vm.info', path='/api/v1/vm.info/', status=404, errors=['Not Found'], validate=False)
    h.request('GET', 'vm.info', path='/api/v1/vm.info?x=1', status=404, validate=False)
    # A method Cloud Hypervisor does not know: an empty Bad Request; the wrong known one: ["Bad Request"].
    a = h.request('POST', 'vm.boot', status=400)
    check_eq(a.body, '', 'POST vm.boot body')
    a = h.request('DELETE', 'vm.pause', status=400)
    check_eq(a.body, '', 'DELETE vm.pause body')
    for method, endpoint in [('GET', 'vm.boot'), ('PUT', 'vm.info'), ('PUT', 'vm.counters'), ('GET', 'vm.create'),
                             ('POST', 'vm.info'), ('POST', 'vmm.ping'), ('DELETE', 'vm.create'), ('GET', 'vmm.shutdown'),
                             ('PUT', 'vmm.ping'), ('GET', 'vm.add-disk')]:
        h.request(method, endpoint, status=400, errors=['Bad Request'])
    # Actions take no body; the others need one.
    h.request('PUT', 'vm.boot', body='{}', status=400, errors=['Bad Request'])
    h.request('PUT', 'vm.delete', body='x', status=400, errors=['Bad Request'])
    h.request('PUT', 'vm.add-disk', status=400, errors=['Bad Request'])
    h.request('PUT', 'vm.resize', status=400, errors=['Bad Request'])
    h.alive()


def test_unavailable(env):
    """Hotplug, resize, snapshot, restore, migration: Cloud Hypervisor's error shape, never a success."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(), status=204)
    for endpoint, body, what in UNAVAILABLE:
        a = h.request('PUT', endpoint, SAMPLE_BODY.get(endpoint) if body else None, status=500)
        check_eq(a.json()[:2], ['Error from API', what], endpoint + ': the chain')
        check(a.json()[2].startswith(endpoint + ' is not available in chv yet: chvd has no '),
              endpoint + ': the message', a.json())
        if body:
            a = h.request('PUT', endpoint, '{"id": ', status=400)
            check_eq(a.json()[0], 'Failed to deserialize JSON', endpoint + ': malformed body')
    # The VM is untouched.
    check_eq(h.request('GET', 'vm.info', status=200).json()['state'], 'Created', 'state after it all')


def baseline(h):
    """chv-httpd's descriptors once it has served a request (some are made on first use)."""
    h.request('GET', 'vmm.ping', status=200)
    settle()
    return len(h.fds())


def test_body_limit(env):
    h = start(env)
    before = baseline(h)
    # Over the limit: refused before it is read.
    big = b'{"x": "' + b'a' * BODY_MAX + b'"}'
    a = h.request('PUT', 'vm.create', big, status=400, validate=True)
    check_eq(a.json(), ['Request payload with size %d is larger than the limit of %d allowed by server.'
                        % (len(big), BODY_MAX)], 'the error')
    # At the limit: read whole, and handed to chvd (which wants a payload).
    exact = b'{"x": "' + b'a' * (BODY_MAX - 9) + b'"}'
    check_eq(len(exact), BODY_MAX, 'the body at the limit')
    a = h.request('PUT', 'vm.create', exact, status=400)
    check_eq(a.json()[:2], ['Error from API', 'The VM could not be created'], 'a body at the limit reaches chvd')
    # Without Content-Length (chunked): libmicrohttpd cannot answer in the middle of a body, so the
    # connection is closed once the body grows past the limit.
    s = raw_connect(h)
    s.sendall(b'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
    chunk = b'%x\r\n' % (64 * 1024) + b'a' * (64 * 1024) + b'\r\n'
    closed = False
    try:
        for _ in range(BODY_MAX // len(chunk) + 8):
            s.sendall(chunk)
        out = s.recv(65536)
        closed = out == b'' or out.startswith(b'HTTP/1.1 400')
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    s.close()
    check(closed, 'a chunked body over the limit was not refused')
    h.request('GET', 'vmm.ping', status=200)
    h.wait_fds(before, 'descriptors after bodies over the limit')


def test_disconnects(env):
    """Clients that go away in the middle: no crash, nothing left open."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(), status=204)
    before = baseline(h)
    # Mid-headers, mid-body, after the request (before the answer), after half a request line.
    for data in [b'GET /api/v1/vm.in', b'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"pay',
                 b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n', b'PUT /api/v1/vm.pause HTTP/1.1\r\nHost: x\r\n\r\n',
                 b'G']:
        s = raw_connect(h)
        s.sendall(data)
        s.close()
    # A reset instead of a close.
    s = raw_connect(h)
    s.sendall(b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n')
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    s.close()
    # A client that half-closes after its request: libmicrohttpd answers if it saw the request before
    # the end of input, else it closes (Cloud Hypervisor's micro_http always closes); never a hang.
    s = raw_connect(h)
    s.sendall(b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n')
    s.shutdown(socket.SHUT_WR)
    try:
        status = raw_answer(s)[0]
    except Failure:
        status = None
    check(status in (200, None), 'the answer after a half-close', status)
    s.close()
    # Idle connections that never send anything.
    idle = [raw_connect(h) for _ in range(5)]
    settle(0.5)
    for s in idle:
        s.close()
    h.request('GET', 'vm.info', status=200)
    h.wait_fds(before, 'descriptors after clients went away')


def test_hostile_bytes(env):
    """What libmicrohttpd cannot parse gets its own 4xx or 5xx, or nothing (as Cloud Hypervisor's micro_http
    answers such requests itself, not in the API's shape)."""
    h = start(env)
    before = baseline(h)
    for data in [b'\x00\xff\xfe garbage\r\n\r\n', b'GET /api/v1/vm.info HTTP/9.9\r\n\r\n',
                 b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
                 b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n',
                 b'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
                 b'GET /api/v1/vm.info HTTP/1.1\r\n' + b'X: ' + b'y' * 100000 + b'\r\n\r\n']:
        s = raw_connect(h)
        s.settimeout(2)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            out = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            out = b''
        s.close()
        check(out == b'' or out.startswith(b'HTTP/1.1 4') or out.startswith(b'HTTP/1.1 5'),
              'the answer to %r' % data[:40], out[:200])
        h.alive()
    h.request('GET', 'vmm.ping', status=200)
    h.wait_fds(before, 'descriptors after hostile bytes')


def test_concurrent(env):
    """200 connections at once, each with a request in flight: every one answered, none left open."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(), status=204)
    before = baseline(h)
    socks = [raw_connect(h) for _ in range(200)]
    for s in socks:
        s.sendall(b'GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\n\r\n')
    results = [None] * len(socks)

    def read(i):
        try:
            results[i] = raw_answer(socks[i])
        except Exception as e:        # reported below
            results[i] = e
    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(socks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [r for r in results if not isinstance(r, tuple) or r[0] != 200]
    check(not bad, '%d of 200 concurrent requests failed' % len(bad), bad[:3])
    check(all(json.loads(r[2])['state'] == 'Created' for r in results), 'concurrent answers')
    check(len(h.fds()) >= before + 200, 'the 200 connections are open (keep-alive)', len(h.fds()))
    for s in socks:
        s.close()
    h.wait_fds(before, 'descriptors after 200 concurrent connections')


def send_with_fds(h, request, fds):
    s = raw_connect(h)
    s.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))])
    answer = raw_answer(s)
    s.close()
    return answer


def test_fd_passing(env):
    """Descriptors sent with SCM_RIGHTS (taps for vm.add-net, fds for vm.restore) reach chv-httpd, which
    closes them: chvd has no method to take them yet."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(), status=204)
    before = baseline(h)
    pipes = [os.pipe() for _ in range(3)]
    body = b'{"tap": "tap0"}'
    req = (b'PUT /api/v1/vm.add-net HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n'
           % len(body) + body)
    status, headers, text = send_with_fds(h, req, [pipes[0][0], pipes[1][0]])
    check_eq(status, 500, 'vm.add-net with descriptors')
    check(text and 'the 2 file descriptors sent with the request were closed' in json.loads(text)[2],
          'the message counts the descriptors', text)
    body = b'{"source_url": "file:///var/tmp/s", "net_fds": [{"id": "net0", "num_fds": 1}]}'
    req = (b'PUT /api/v1/vm.restore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    status, headers, text = send_with_fds(h, req, [pipes[2][0]])
    check_eq(status, 500, 'vm.restore with a descriptor')
    check('the 1 file descriptor sent with the request was closed' in json.loads(text)[2], 'the message', text)
    # Descriptors sent with a request that takes none are closed too.
    status, headers, text = send_with_fds(h, b'GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n',
                                          [pipes[0][0], pipes[1][0], pipes[2][0]])
    check_eq(status, 200, 'vm.info with descriptors')
    h.wait_fds(before, 'descriptors after requests that sent some')
    # None of the pipes is held by chv-httpd any more: their write ends see no reader.
    for r, w in pipes:
        os.close(r)
        try:
            os.write(w, b'x')
            raise AssertionError('unreachable')
        except BrokenPipeError:
            pass
        except AssertionError:
            check(False, 'chv-httpd still holds a pipe it was sent')
        os.close(w)


def test_no_chvd(env):
    h = start(env)
    env.stop_chvd()
    a = h.request('GET', 'vmm.ping', status=500)
    check('chvd is not running' in a.json()[-1], 'the message without chvd', a.json())
    h.request('GET', 'vm.info', status=500, errors='chvd is not running')
    h.alive()


def test_vmm_shutdown(env):
    """vmm.shutdown: 200 without a body (as Cloud Hypervisor's server answers), then chv-httpd ends; the VM
    that did not run stays defined in chvd."""
    h = start(env)
    h.request('PUT', 'vm.create', guest_config(), status=204)
    a = h.request('PUT', 'vmm.shutdown', status=200)
    check_eq(a.body, '', 'the body of vmm.shutdown')
    check_eq(h.proc.wait(10), 0, 'chv-httpd\'s exit status after vmm.shutdown')
    check_eq(env.state('web'), 'Created', 'the VM after vmm.shutdown')
    # Another chv-httpd takes the same socket path (the lock went with the process).
    h2 = Httpd(env, 'web')
    h2.request('GET', 'vm.info', status=200)


def test_socket_in_use(env):
    h = start(env)
    p = env.run([os.environ['CHV_HTTPD'], '--vm', 'web', '--socket', h.socket], timeout=10)
    check(p.returncode == 1 and 'is in use by another process' in p.stderr, 'a second chv-httpd on a socket in use',
          p.stdout, p.stderr)
    for args, msg in [(['--vm', 'a/b', '--socket', '/tmp/x'], 'is not a VM name'),
                      (['--socket', '/tmp/x'], '--vm NAME is required'),
                      (['--vm', 'web'], 'no socket passed by systemd'),
                      (['--vm', 'web', '--frob'], 'unknown option')]:
        p = env.run([os.environ['CHV_HTTPD']] + args, timeout=10)
        check(p.returncode == 1 and msg in p.stderr, 'chv-httpd %s' % ' '.join(args), p.stderr)
    h.request('GET', 'vmm.ping', status=200)


if __name__ == '__main__':
    run({name[5:]: fn for name, fn in globals().items() if name.startswith('test_')})
