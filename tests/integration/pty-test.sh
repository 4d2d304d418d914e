#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# pty-test.sh serial|console CHV_VMM GUEST
#
# Boots the test guest with the serial port (or the virtio console) on a pty, finds the pty's path in
# chv-vmm's log, reads the guest's output from it, then stops chv-vmm with SIGTERM.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
    exec "${KVMHOST_RUN:-$here/../kvmhost/run}" --rw "$(cd "$here/../.." && pwd)" -- "$0" --inside "$@"
fi
shift
which=$1 vmm=$2 guest=$3

work=$(mktemp -d)
trap 'kill $pid $reader 2>/dev/null || true; rm -rf "$work"' EXIT

if [ "$which" = serial ]; then
    args=(--serial pty --console off --cmdline "test=halt") want="halt: idle" what="serial port"
else
    args=(--serial tty --console pty --cmdline "test=virtio-console console-input=ping") want="" what="console"
fi
"$vmm" -v --kernel "$guest" "${args[@]}" >"$work/stdout" 2>"$work/log" &
pid=$!

pty=
for _ in $(seq 1 300); do
    pty=$(sed -n "s/.*The $what is on pty \(\/dev\/pts\/[0-9]*\).*/\1/p" "$work/log")
    [ -n "$pty" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
if [ -z "$pty" ]; then
    echo "FAIL: chv-vmm did not log the pty of the $what"; cat "$work/log"; exit 1
fi
echo "pty of the $what: $pty"
cat "$pty" >"$work/pty" 2>/dev/null &
reader=$!

if [ "$which" = serial ]; then
    for _ in $(seq 1 600); do
        grep -qF "$want" "$work/pty" && break
        sleep 0.1
    done
    kill -TERM $pid
    set +e; wait $pid; status=$?; set -e
    cat "$work/pty"
    grep -qF "chv-test-guest: start" "$work/pty" || { echo "FAIL: no guest output on the pty"; exit 1; }
    grep -qF "$want" "$work/pty" || { echo "FAIL: '$want' not on the pty"; exit 1; }
    [ $status = 4 ] || { echo "FAIL: exit status $status, expected 4"; cat "$work/log"; exit 1; }
else
    # Input through the pty once the guest waits for it; the guest echoes it back on the console.
    for _ in $(seq 1 600); do
        grep -qF "virtio-console: waiting for input" "$work/stdout" && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    printf 'ping\n' >"$pty"
    set +e; timeout 120 tail --pid=$pid -f /dev/null; wait $pid; status=$?; set -e
    sleep 0.2
    cat "$work/stdout"; echo "--- pty:"; cat "$work/pty"
    grep -qF 'virtio-console: received "ping"' "$work/stdout" || { echo "FAIL: the input did not reach the guest"; exit 1; }
    grep -qF "chv-test-guest: result=PASS" "$work/stdout" || { echo "FAIL: the guest did not pass"; exit 1; }
    grep -qF "hello through virtio-console" "$work/pty" || { echo "FAIL: the guest's console output is not on the pty"; exit 1; }
    grep -qF "ping" "$work/pty" || { echo "FAIL: the echo is not on the pty"; exit 1; }
    [ $status = 0 ] || { echo "FAIL: exit status $status, expected 0"; exit 1; }
fi
echo "OK"
