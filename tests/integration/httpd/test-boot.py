#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chv-httpd driving real VMs: the test guest (tests/guest) booted by chvd's chv-vmm on KVM through
vm.boot, then vm.info, vm.pause, vm.resume, vm.counters, vm.reboot, vm.power-button, vm.shutdown,
vm.delete of a running VM and vmm.shutdown, every answer checked against the OpenAPI document. Run
where /dev/kvm works (run-kvm.sh runs it under tests/kvmhost/run); without it every test skips."""

import os

from httptest import GUEST, MIB, check, check_eq, guest_config, run, start, wait_for
from chvtest import need_kvm  # noqa: E402 (httptest puts the daemon tests' directory on the path)


def start_kvm(env):
    need_kvm(GUEST)
    return start(env)


def serial(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def info(h):
    return h.request('GET', 'vm.info', status=200).json()


def test_lifecycle(env):
    h = start_kvm(env)
    h.request('PUT', 'vm.create', guest_config('halt'), status=204)
    h.request('PUT', 'vm.boot', status=204)
    i = info(h)
    check_eq(i['state'], 'Running', 'state after vm.boot')
    check_eq(i['memory_actual_size'], 64 * MIB, 'memory_actual_size of the running VM')
    h.request('PUT', 'vm.boot', status=500)
    h.request('PUT', 'vm.pause', status=204)
    check_eq(info(h)['state'], 'Paused', 'state after vm.pause')
    h.request('PUT', 'vm.pause', status=500, errors='Paused')
    h.request('PUT', 'vm.resume', status=204)
    check_eq(info(h)['state'], 'Running', 'state after vm.resume')
    counters = h.request('GET', 'vm.counters', status=200).json()
    check(isinstance(counters, dict), 'vm.counters is an object', counters)
    h.request('PUT', 'vm.reboot', status=204)
    check_eq(info(h)['state'], 'Running', 'state after vm.reboot')
    h.request('PUT', 'vm.shutdown', status=204)
    check_eq(info(h)['state'], 'Shutdown', 'state after vm.shutdown')
    h.request('PUT', 'vm.boot', status=204)
    # vm.delete of a running VM shuts it down first, as Cloud Hypervisor does.
    h.request('PUT', 'vm.delete', status=204)
    h.request('GET', 'vm.info', status=404)


def test_power_button(env):
    h = start_kvm(env)
    out = os.path.join(env.dir, 'serial.out')
    h.request('PUT', 'vm.create', guest_config('power-button', serial={'mode': 'File', 'file': out}), status=204)
    h.request('PUT', 'vm.boot', status=204)
    wait_for(lambda: 'power-button: waiting' in serial(out), 'the guest waiting for the power button', timeout=120,
             interval=0.2)
    h.request('PUT', 'vm.power-button', status=204)
    # The guest powers off when it sees the button.
    wait_for(lambda: info(h)['state'] == 'Shutdown', 'the guest off after vm.power-button', timeout=120, interval=0.5)
    check('power-button: pressed' in serial(out), 'the guest saw the power button', serial(out)[-500:])


def test_vmm_shutdown_running(env):
    """vmm.shutdown with the VM running: the VM is shut down, then chv-httpd ends."""
    h = start_kvm(env)
    h.request('PUT', 'vm.create', guest_config('halt'), status=204)
    h.request('PUT', 'vm.boot', status=204)
    h.request('PUT', 'vmm.shutdown', status=200)
    check_eq(h.proc.wait(30), 0, 'chv-httpd\'s exit status')
    check_eq(env.state('web'), 'Shutdown', 'the VM after vmm.shutdown')


if __name__ == '__main__':
    run({name[5:]: fn for name, fn in globals().items() if name.startswith('test_')})
