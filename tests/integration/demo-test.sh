#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# demo-test.sh BUILD_DIR
#
# The README's first command as it runs where /dev/kvm is missing: tools/run-demo's private-bus demo
# inside the emulated KVM host. Checks what it shows: the guest's console, the list and Info views, the
# power button, the VM Shutdown and deleted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
if [ "$build" != "$top/build" ]; then
    echo "SKIP: examples/demo.yaml names the test guest in $top/build, and this build is $build"
    exit 77
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"${KVMHOST_RUN:-$top/tests/kvmhost/run}" --rw "$top" -- "$top/tools/run-demo" --private-bus >"$out" 2>&1 || status=$?
cat "$out"
[ "$status" = 77 ] && exit 77
[ "$status" = 0 ] || { echo "FAIL: run-demo exited with $status"; exit 1; }

fail=0
expect() {
    grep -Eq "$1" "$out" || { echo "FAIL: no line matching /$1/ in run-demo's output"; fail=1; }
}
expect '^chvd [0-9.]+, features: kvm'
expect '^chv-test-guest: start cmdline="test=power-button"$'
expect '^power-button: waiting$'
expect '^demo +Running +[0-9a-f-]{36}$'
expect '^ +State: Running$'
expect '^ +Main PID: [1-9][0-9]*$'
expect '^ +Kernel: /.*/build/tests/guest/chv-test-guest.elf$'
expect '^power-button: pressed'
expect '^chv-test-guest: result=PASS$'
expect '^demo +Shutdown +[0-9a-f-]{36}$'
expect '^== chvctl delete demo$'
exit $fail
