#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for chv-vmm (chvd --vmm), for the lifecycle tests that need no KVM. It reads
--config FILE and does what the words of payload.cmdline say:

  fake-no-ready          never send READY=1
  fake-foreign-ready     send READY=1 from a child process (chvd must ignore it)
  fake-ignore-term       ignore SIGTERM
  fake-exit=N            exit with status N after fake-after seconds (default 0.3)
  fake-error=TEXT        before that, log TEXT as chv-vmm logs errors ("_" for blanks)
  fake-warn=TEXT         log TEXT as a warning at start
  fake-echo              a console: each line read on standard input comes back as "echo: LINE"
  fake-control-silent    take "pause" requests on the control socket and never answer them (a hung worker)

Otherwise it behaves as chv-vmm with a guest that idles: SIGTERM exits 4, SIGUSR2 exits 0 (the guest
powers off when the power button is pressed). With --control-socket PATH it serves chv-vmm's control
protocol there: pause, resume, info, counters (one disk, _disk0, whose counters grow by one read per
request)."""

import json
import os
import select
import signal
import socket
import sys
import threading
import time


def serve_control(path, silent):
    state = {'paused': False, 'reads': 0}
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    os.chmod(path, 0o600)
    srv.listen(4)

    def answer(req):
        op = req.get('op')
        if op in ('pause', 'resume'):
            if state['paused'] == (op == 'pause'):
                return {'ok': False, 'error': 'the VM is paused already: resume it first' if op == 'pause'
                        else 'the VM is not paused: there is nothing to resume'}
            state['paused'] = op == 'pause'
            return {'ok': True}
        if op == 'info':
            return {'ok': True, 'state': 'Paused' if state['paused'] else 'Running'}
        if op == 'counters':
            state['reads'] += 1
            return {'ok': True, 'counters': {'_disk0': {'read_bytes': 512 * state['reads'], 'write_bytes': 0,
                                                        'read_ops': state['reads'], 'write_ops': 0}}}
        return {'ok': False, 'error': 'unknown op'}

    def loop():
        while True:
            conn, _ = srv.accept()
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                req = json.loads(data)
                if silent and req.get('op') == 'pause':
                    continue
                conn.send(json.dumps(answer(req)).encode())
            conn.close()

    threading.Thread(target=loop, daemon=True).start()


def notify(text):
    path = os.environ['NOTIFY_SOCKET']
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(text.encode(), path)
    s.close()


def main():
    # As chv-vmm: nothing before the go on --wait-fd (chvd sends it once the scope is there).
    if '--wait-fd' in sys.argv:
        fd = int(sys.argv[sys.argv.index('--wait-fd') + 1])
        if os.read(fd, 1) != b'\x01':
            sys.stderr.write('chv-vmm: --wait-fd %d: closed before the go: the VM is not started\n' % fd)
            sys.exit(1)
        os.close(fd)
    with open(sys.argv[sys.argv.index('--config') + 1]) as f:
        config = json.load(f)
    words = dict(w.partition('=')[::2] for w in config['payload'].get('cmdline', '').split())
    signal.signal(signal.SIGTERM, signal.SIG_IGN if 'fake-ignore-term' in words else lambda *a: sys.exit(4))
    signal.signal(signal.SIGUSR2, lambda *a: sys.exit(0))
    if '--control-socket' in sys.argv:
        serve_control(sys.argv[sys.argv.index('--control-socket') + 1], 'fake-control-silent' in words)
    if 'fake-warn' in words:
        sys.stderr.write('chv-vmm: 0.001000s: <vmm> WARN -- %s\n' % words['fake-warn'].replace('_', ' '))
        sys.stderr.flush()
    if 'fake-foreign-ready' in words:
        if os.fork() == 0:
            notify('READY=1')
            os._exit(0)
        os.wait()
    elif 'fake-no-ready' not in words:
        notify('READY=1')
    if 'fake-exit' in words:
        time.sleep(float(words.get('fake-after', '0.3')))
        if 'fake-error' in words:
            sys.stderr.write('chv-vmm: %s\n' % words['fake-error'].replace('_', ' '))
            sys.stderr.flush()
        os._exit(int(words['fake-exit']))
    if 'fake-echo' in words:
        os.write(1, b'fake console ready\r\n')
        line = b''
        while True:
            select.select([0], [], [])
            try:
                data = os.read(0, 4096)
            except BlockingIOError:
                continue
            line += data
            while b'\n' in line or b'\r' in line:
                i = min(x for x in (line.find(b'\n'), line.find(b'\r')) if x >= 0)
                os.write(1, b'echo: ' + line[:i] + b'\r\n')
                line = line[i + 1:]
    while True:
        time.sleep(3600)


main()
