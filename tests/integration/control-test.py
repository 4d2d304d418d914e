#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# control-test.py CHV_VMM GUEST
#
# chv-vmm's control socket on a running test guest (scenario halt, two vCPUs, one disk): info, pause
# and resume (every vCPU thread parked while paused), errors for pausing twice and resuming a running
# VM, counters, hostile messages, and shutdown over the socket (exit status 4, socket removed).
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1 and sys.argv[1] != "--inside":
    run = os.environ.get("KVMHOST_RUN", os.path.join(here, "..", "kvmhost", "run"))
    os.execv(run, [run, "--rw", os.path.abspath(os.path.join(here, "..", "..")), "--",
                   sys.executable, os.path.abspath(__file__), "--inside"] + sys.argv[1:])
vmm, guest = sys.argv[2], sys.argv[3]
failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures += 1


def ask(sock, msg):
    sock.send(msg if isinstance(msg, bytes) else json.dumps(msg).encode())
    sock.settimeout(10)
    data = sock.recv(65536)
    return json.loads(data) if data else None


work = tempfile.mkdtemp(dir=os.environ.get("TMPDIR", "/tmp"))
ctl = os.path.join(work, "ctl")
disk = os.path.join(work, "disk.img")
with open(disk, "wb") as f:
    f.truncate(1 << 20)
log = open(os.path.join(work, "log"), "w+")
out = open(os.path.join(work, "out"), "w+")
proc = subprocess.Popen([vmm, "-v", "--kernel", guest, "--cmdline", "test=halt", "--cpus", "boot=2",
                         "--serial", "tty", "--console", "off", "--disk", "path=" + disk,
                         "--control-socket", ctl], stdout=out, stderr=log, stdin=subprocess.DEVNULL)
try:
    for _ in range(600):
        out.seek(0)
        if "halt: idle" in out.read() or proc.poll() is not None:
            break
        time.sleep(0.1)
    check(os.path.exists(ctl), "the control socket exists")
    check(os.stat(ctl).st_mode & 0o777 == 0o600, "its mode is 0600")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(ctl)

    info = ask(s, {"op": "info"})
    check(info["ok"] and info["state"] == "Running", "info: Running (%s)" % info)
    check([v["parked"] for v in info["vcpus"]] == [False, False], "info: no vCPU parked")

    r = ask(s, {"op": "resume"})
    check(r == {"ok": False, "error": "the VM is not paused: there is nothing to resume"}, "resume when running: %s" % r)
    r = ask(s, {"op": "pause"})
    check(r == {"ok": True}, "pause: %s" % r)
    info = ask(s, {"op": "info"})
    check(info["state"] == "Paused" and all(v["parked"] for v in info["vcpus"]),
          "info while paused: every vCPU parked (%s)" % info)
    r = ask(s, {"op": "pause"})
    check(r == {"ok": False, "error": "the VM is paused already: resume it first"}, "pause twice: %s" % r)

    # Hostile messages while paused: refused, the VM and the connection unharmed.
    for msg, err in [(b"{", "request is not valid JSON"),
                     (b'{"op":"reboot"}', 'unknown op "reboot": the ops are pause, resume, counters, info, '
                                          'power-button, shutdown'),
                     (b"[" * 4096, "request is not valid JSON"),
                     (b" " * 10000, "request too large: at most 4096 bytes, no file descriptors")]:
        r = ask(s, msg)
        check(r == {"ok": False, "error": err}, "hostile %r...: %s" % (msg[:16], r))
    # A client that sends a request and goes away at once.
    t = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t.connect(ctl)
    t.send(b'{"op":"info"}')
    t.close()

    r = ask(s, {"op": "resume"})
    check(r == {"ok": True}, "resume: %s" % r)
    info = ask(s, {"op": "info"})
    check(info["state"] == "Running", "info after resume: Running")
    r = ask(s, {"op": "counters"})
    check(r.get("ok") and r["counters"] == {"_disk0": {"read_bytes": 0, "write_bytes": 0, "read_ops": 0,
                                                       "write_ops": 0}}, "counters: %s" % r)

    # Pause again and shut down while paused.
    check(ask(s, {"op": "pause"}) == {"ok": True}, "pause again")
    r = ask(s, {"op": "shutdown"})
    check(r == {"ok": True}, "shutdown: %s" % r)
    status = proc.wait(timeout=30)
    check(status == 4, "exit status 4 (stopped), got %d" % status)
    check(not os.path.exists(ctl), "the control socket is removed")
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.seek(0)
    print(log.read())

# A bad path: a clear error, exit status 1.
r = subprocess.run([vmm, "--kernel", guest, "--cmdline", "test=halt", "--control-socket", "/nonexistent/dir/ctl"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
check(r.returncode == 1 and 'cannot listen on control socket "/nonexistent/dir/ctl"' in r.stderr,
      "bad control socket path: %d %s" % (r.returncode, r.stderr.strip()))
sys.exit(1 if failures else 0)
