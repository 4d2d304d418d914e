# SPDX-License-Identifier: Apache-2.0
"""
What the daemon tests share: a private system-like dbus-daemon that enforces chv's own bus policy
(dbus/org.cloudhypervisor.conf), chvd on it, and calls through busctl (the replies, as JSON) and
bus-call (error names, which busctl does not print). Each test is a function; run() runs those
named on the command line and reports each one.

Environment (set by meson): CHVD, BUS_CALL, CHVCTL, CHV_VMM, CHV_TEST_GUEST, CHV_SOURCE_ROOT.
"""

import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

SOURCE_ROOT = os.environ.get('CHV_SOURCE_ROOT', os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..')))
POLICY = os.path.join(SOURCE_ROOT, 'dbus', 'org.cloudhypervisor.conf')
MANAGER = ('/org/cloudhypervisor', 'org.cloudhypervisor.Manager1')
VM_IFACE = 'org.cloudhypervisor.VM1'
SKIP = 77


class Skip(Exception):
    pass


class Failure(Exception):
    pass


def check(condition, what, *details):
    if not condition:
        raise Failure(what + ''.join('\n    ' + str(d) for d in details))


def check_eq(got, want, what):
    check(got == want, what, 'got:  %r' % (got,), 'want: %r' % (want,))


def wait_for(predicate, what, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure('timed out after %gs waiting for %s' % (timeout, what))
        time.sleep(interval)


def read_until(stream, text, timeout=60):
    """Reads a process's output pipe until text (bytes) shows up; returns all that was read."""
    out = b''
    deadline = time.monotonic() + timeout
    while text not in out and time.monotonic() < deadline:
        if select.select([stream], [], [], 0.5)[0]:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    check(text in out, 'no %r in the output' % text, out)
    return out


def need_kvm(guest):
    """Skips the test where /dev/kvm cannot be opened or the test guest is not built."""
    try:
        os.close(os.open('/dev/kvm', os.O_RDWR))
    except OSError as e:
        raise Skip('/dev/kvm is not usable here (%s): run through tests/kvmhost/run' % e.strerror)
    if not os.path.exists(guest):
        raise Skip('the test guest %s is not built' % guest)


def vm_path(name):
    """sd_bus_path_encode(): every byte that is not [A-Za-z0-9] as _xx."""
    enc = ''.join(c if c.isascii() and c.isalnum() else '_%02x' % ord(c) for c in name)
    return '/org/cloudhypervisor/vm/' + (enc or '_')


# A bus configured as the system bus is; tools/run-demo starts one too.
with open(os.path.join(SOURCE_ROOT, 'tools', 'private-bus.conf.in')) as _f:
    BUS_CONFIG = _f.read()

# Where fake-systemd stands in for systemd: root may own its name.
SYSTEMD_POLICY = '''<policy user="root">
    <allow own="org.freedesktop.systemd1"/>
    <allow send_destination="org.freedesktop.systemd1"/>
  </policy>'''

# Where a real polkitd runs on the private bus (it starts as root and goes on as user polkitd).
POLKIT_POLICY = '''<policy user="polkitd">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>'''
POLKITD = '/usr/lib/polkit-1/polkitd'

# A bus that lets everyone do everything: what chvd must survive if its policy file is missing.
OPEN_POLICY = '''<policy context="default">
    <allow own="org.cloudhypervisor"/>
    <allow send_destination="org.cloudhypervisor"/>
  </policy>'''


class Env:
    """A private bus (and the directories of one chvd) in a fresh temporary directory."""

    def __init__(self, open_policy=False, systemd=False, private_bus=True, polkit=False, chv_policy=True):
        if polkit:
            try:
                pwd.getpwnam('polkitd')
            except KeyError:
                raise Skip('polkitd is not installed (tools/install-deps test), nor its user')
        self.dir = tempfile.mkdtemp(prefix='chvd-test.')
        os.chmod(self.dir, 0o755)  # nobody must reach the bus socket
        self.socket = os.path.join(self.dir, 'bus')
        self.state_dir = os.path.join(self.dir, 'state')
        self.runtime_dir = os.path.join(self.dir, 'run')
        self.env = dict(os.environ)
        self.env.pop('NOTIFY_SOCKET', None)
        self.bus = None
        if private_bus:
            policy = OPEN_POLICY if open_policy else '<include>%s</include>' % POLICY if chv_policy else ''
            if systemd:
                policy += SYSTEMD_POLICY
            if polkit:
                policy += POLKIT_POLICY
            conf = os.path.join(self.dir, 'bus.conf')
            with open(conf, 'w') as f:
                f.write(BUS_CONFIG.replace('@SOCKET@', self.socket).replace('@POLICY@', policy))
            self.env['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=' + self.socket
            self.bus_log = open(os.path.join(self.dir, 'dbus-daemon.log'), 'w')
            self.bus = subprocess.Popen(['dbus-daemon', '--config-file=' + conf, '--nofork'],
                                        stdout=self.bus_log, stderr=subprocess.STDOUT)
            wait_for(lambda: os.path.exists(self.socket), 'the bus socket')
        self.chvd = None
        self.chvd_log_path = os.path.join(self.dir, 'chvd.log')
        self.monitors = []
        self.systemd = None
        self.polkitd = None
        self.systemd_log = os.path.join(self.dir, 'systemd-calls.json')

    def start_fake_systemd(self, mode='done'):
        """fake-systemd (org.freedesktop.systemd1) on this bus; its calls go to systemd_calls()."""
        err = os.path.join(self.dir, 'fake-systemd.err')
        env = dict(self.env, FAKE_SYSTEMD_MODE=mode, FAKE_SYSTEMD_LOG=self.systemd_log)
        with open(err, 'w') as f:
            self.systemd = subprocess.Popen([os.environ['FAKE_SYSTEMD']], stderr=f, env=env)

        def ready():
            check(self.systemd.poll() is None, 'fake-systemd exited', open(err).read())
            return 'ready' in open(err).read()
        wait_for(ready, 'fake-systemd on the bus')

    def systemd_calls(self):
        try:
            with open(self.systemd_log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def start_chvd(self, *extra, user=None, wait=True):
        args = [os.environ['CHVD'], '--state-dir', self.state_dir, '--runtime-dir', self.runtime_dir,
                '--log-target', 'console', '-v']
        if 'CHV_VMM' in os.environ:
            args += ['--vmm', os.environ['CHV_VMM']]
        args += list(extra)
        log = open(self.chvd_log_path, 'a')
        self.chvd = subprocess.Popen(as_user(user) + args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        if wait:
            wait_for(lambda: self.call_ok(*MANAGER, 'Ping', check_alive=True) is not None, 'chvd on the bus')
        return self.chvd

    def stop_chvd(self):
        if self.chvd and self.chvd.poll() is None:
            self.chvd.send_signal(signal.SIGTERM)
            try:
                self.chvd.wait(10)
            except subprocess.TimeoutExpired:
                self.chvd.kill()
                self.chvd.wait()
                raise Failure('chvd did not exit within 10 s of SIGTERM')
        status = self.chvd.returncode if self.chvd else None
        self.chvd = None
        return status

    def chvd_log(self):
        try:
            with open(self.chvd_log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def kill_workers(self):
        """VMs outlive chvd: whatever worker a test left running (its command line names this directory) goes."""
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open('/proc/%s/cmdline' % pid, 'rb') as f:
                    if (self.dir + '/').encode() in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def start_polkitd(self, rules):
        """A real polkitd on this bus that knows chv's actions (dbus/org.cloudhypervisor.policy) and has
        only the rules given (JavaScript). It runs in a mount namespace of its own, where a directory of
        this Env stands in for its actions and rules directories: the machine's stay as they are."""
        if not os.access(POLKITD, os.X_OK):
            raise Skip('%s is not there (tools/install-deps test installs polkitd)' % POLKITD)
        actions = os.path.join(self.dir, 'polkit-actions')
        rules_dir = os.path.join(self.dir, 'polkit-rules')
        os.makedirs(actions)
        os.makedirs(rules_dir)
        shutil.copy(os.path.join(SOURCE_ROOT, 'dbus', 'org.cloudhypervisor.policy'), actions)
        with open(os.path.join(rules_dir, '50-test.rules'), 'w') as f:
            f.write(rules)
        script = ('set -e; for d in /usr/share/polkit-1/actions /usr/share/polkit-1/rules.d /etc/polkit-1/rules.d; '
                  'do [ -d "$d" ] || continue; case $d in *actions) src="$1";; *) src="$2";; esac; '
                  'mount --bind "$src" "$d"; done; exec "$3" --no-debug')
        self.polkitd_log = open(os.path.join(self.dir, 'polkitd.log'), 'w')
        self.polkitd = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh',
                                         actions, rules_dir, POLKITD], env=self.env, stdout=self.polkitd_log,
                                        stderr=subprocess.STDOUT)

        def owned():
            check(self.polkitd.poll() is None, 'polkitd exited', open(self.polkitd_log.name).read())
            p = self.run(['busctl', '--system', 'status', 'org.freedesktop.PolicyKit1'])
            return p.returncode == 0
        wait_for(owned, 'polkitd on the bus')

    def stop_polkitd(self):
        if self.polkitd and self.polkitd.poll() is None:
            self.polkitd.terminate()
            self.polkitd.wait()

    def close(self):
        for m in self.monitors:
            m.stop()
        self.stop_polkitd()
        if self.systemd and self.systemd.poll() is None:
            self.systemd.terminate()
            self.systemd.wait()
        try:
            if self.chvd and self.chvd.poll() is None:
                self.stop_chvd()
        finally:
            if self.chvd and self.chvd.poll() is None:
                self.chvd.kill()
            if self.bus:
                self.bus.terminate()
                self.bus.wait()
                self.bus_log.close()

    def cleanup(self):
        self.kill_workers()
        shutil.rmtree(self.dir, ignore_errors=True)

    # Calls.

    def run(self, args, user=None, timeout=60, input=None):
        return subprocess.run(as_user(user) + args, env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=input)

    def busctl(self, *args, user=None, timeout=60):
        """busctl --system --json=short ARGS; returns the parsed JSON, raises Failure on an error."""
        p = self.run(['busctl', '--system', '--json=short'] + list(args), user=user, timeout=timeout)
        check(p.returncode == 0, 'busctl %s failed' % ' '.join(args), p.stderr.strip())
        return json.loads(p.stdout) if p.stdout.strip() else None

    def call(self, path, iface, method, signature=None, *args, user=None, timeout=60):
        """One call through bus-call: (True, [values]) or (False, (error name, message))."""
        cmd = [os.environ['BUS_CALL'], '--timeout', str(timeout), path, iface, method]
        if signature is not None:
            cmd += [signature] + [a if isinstance(a, str) else json.dumps(a) for a in args]
        p = self.run(cmd, user=user, timeout=timeout + 10)
        if p.returncode == 0:
            return True, json.loads(p.stdout)
        if p.returncode == 1:
            e = json.loads(p.stdout)
            return False, (e['error'], e['message'])
        raise Failure('bus-call %s failed: %s' % (method, p.stderr.strip()))

    def call_ok(self, path, iface, method, signature=None, *args, user=None, timeout=60, check_alive=False):
        if check_alive:
            if self.chvd is not None and self.chvd.poll() is not None:
                raise Failure('chvd exited with status %d' % self.chvd.returncode, self.chvd_log())
            ok, v = self.call(path, iface, method, signature, *args, user=user, timeout=2)
            return v if ok else None
        ok, v = self.call(path, iface, method, signature, *args, user=user, timeout=timeout)
        check(ok, '%s%s failed' % (method, tuple(args)), v)
        return v

    def call_error(self, name, path, iface, method, signature=None, *args, user=None, timeout=60, message=None):
        """The call must fail with the error name (and a message containing message)."""
        ok, v = self.call(path, iface, method, signature, *args, user=user, timeout=timeout)
        check(not ok, '%s%s succeeded, expected %s' % (method, tuple(a[:80] if isinstance(a, str) else a for a in args), name), v)
        check_eq(v[0], name, 'the error of %s' % method)
        check(message is None or message in v[1], 'the message of %s lacks %r' % (method, message), v[1])
        return v[1]

    def create(self, name, config, options=None, user=None):
        return self.call_ok(*MANAGER, 'CreateVM', 'ssa{sv}', name,
                            config if isinstance(config, str) else json.dumps(config), options or {}, user=user)[0]

    def list_vms(self):
        return self.call_ok(*MANAGER, 'ListVMs')[0]

    def prop(self, path, name, iface=VM_IFACE):
        return self.busctl('get-property', 'org.cloudhypervisor', path, iface, name)['data']

    def info(self, name):
        return json.loads(self.call_ok(vm_path(name), VM_IFACE, 'Info')[0])

    def state(self, name):
        return self.prop(vm_path(name), 'State')

    def wait_state(self, name, want, timeout=60):
        states = want if isinstance(want, (list, tuple)) else [want]
        wait_for(lambda: self.state(name) in states, 'VM %s in state %s (it is %s)' % (name, '/'.join(states), self.state(name)),
                 timeout=timeout, interval=0.2)

    def monitor(self):
        m = Monitor(self)
        self.monitors.append(m)
        return m

    def alive(self):
        """chvd still runs and answers."""
        check(self.chvd.poll() is None, 'chvd exited with status %s' % self.chvd.returncode, self.chvd_log()[-3000:])
        v = self.call_ok(*MANAGER, 'Ping')
        check(v and v[0], 'chvd does not answer Ping')


class Monitor:
    """busctl monitor of everything chvd sends: signals, as parsed JSON messages."""

    def __init__(self, env):
        self.path = os.path.join(env.dir, 'monitor.%d.json' % len(env.monitors))
        self.out = open(self.path, 'w')
        self.proc = subprocess.Popen(['busctl', '--system', '--json=short', 'monitor', 'org.cloudhypervisor'],
                                     stdout=self.out, stderr=subprocess.DEVNULL, env=env.env)
        # busctl monitor has no "ready"; a signal of our own through the bus shows it listens.
        time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        self.out.close()

    def messages(self):
        msgs = []
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    msgs.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return msgs

    def signals(self, member, path=None):
        return [m for m in self.messages() if m.get('type') == 'signal' and m.get('member') == member
                and (path is None or m.get('path') == path)]

    def payload(self, m):
        return m.get('payload', {}).get('data', [])

    def wait_signal(self, member, path=None, match=None, timeout=30):
        def found():
            for s in self.signals(member, path):
                if match is None or match(self.payload(s)):
                    return s
            return None
        return wait_for(found, 'signal %s on %s' % (member, path or 'any path'), timeout=timeout, interval=0.1)


def as_user(user):
    if user is None:
        return []
    pw = pwd.getpwnam(user)
    return ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups']


def introspect_interface(xml_text, interface):
    """The interface element of an introspection document, with blanks stripped, for comparison."""
    root = ET.fromstring(xml_text)
    for e in root.iter('interface'):
        if e.get('name') == interface:
            return ET.canonicalize(ET.tostring(e, encoding='unicode'), strip_text=True)
    raise Failure('no interface %s in the introspection data' % interface)


def run(tests, needs_root=False):
    """Runs the test functions named on the command line (all without names). Each gets a fresh Env."""
    names = sys.argv[1:] or list(tests)
    if needs_root and os.geteuid() != 0:
        print('SKIP: these tests need root (they run callers as nobody with setpriv)')
        sys.exit(SKIP)
    for tool in ('dbus-daemon', 'busctl'):
        if not shutil.which(tool):
            print('SKIP: %s is not installed (tools/install-deps test)' % tool)
            sys.exit(SKIP)
    failed = skipped = 0
    for name in names:
        fn = tests[name]
        start = time.monotonic()
        env = None
        try:
            env = Env(**getattr(fn, 'env_args', {}))
            fn(env)
            print('ok      %-40s %.1fs' % (name, time.monotonic() - start))
        except Skip as e:
            skipped += 1
            print('skip    %-40s %s' % (name, e))
        except Exception as e:
            failed += 1
            print('FAIL    %-40s %.1fs' % (name, time.monotonic() - start))
            if isinstance(e, Failure):
                print('    ' + str(e))
            else:
                traceback.print_exc(file=sys.stdout)
            if env:
                print('--- chvd log (last 4000 bytes):')
                print(env.chvd_log()[-4000:])
        finally:
            if env:
                try:
                    env.close()
                finally:
                    env.cleanup()
        sys.stdout.flush()
    print('%d test(s), %d failed, %d skipped' % (len(names), failed, skipped))
    if failed:
        sys.exit(1)
    if skipped == len(names):
        sys.exit(SKIP)
    sys.exit(0)
