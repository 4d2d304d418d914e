#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# boot-test.sh [OPTIONS] -- CHV_VMM [ARGS...]
#
# Boots a guest with chv-vmm where /dev/kvm works (through tests/kvmhost/run) and checks what the guest
# printed on the serial port (chv-vmm's standard output), what chv-vmm logged and how it exited.
#
#   --expect TEXT         the serial output must contain TEXT (a fixed string; @TODAY@ is the UTC date)
#   --reject TEXT         ... must not contain TEXT
#   --expect-log TEXT     chv-vmm's standard error must contain TEXT
#   --expect-exit N       chv-vmm must exit with N (default 0; "0|4" accepts either)
#   --sigterm-after TEXT  send SIGTERM to chv-vmm once the serial output shows TEXT
#   --power-button-after TEXT  send SIGUSR2 (the power button) to chv-vmm once the output shows TEXT
#   --power-button-command CMD  press the power button by running CMD (sh -c) instead, e.g. for QEMU
#   --timeout SEC         give chv-vmm that long (default 120)
#   --serial-file PATH    read the serial output from PATH instead of standard output
#   --kvmhost-rw DIR      passed on to tests/kvmhost/run
#   --retry-stall         when the guest is still running at the timeout, report it and boot once more
#                         (Linux boots on the emulated KVM host of tests/kvmhost stall now and then,
#                         under QEMU as under chv-vmm; see test-kernel-cmdline.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kvmhost_run=${KVMHOST_RUN:-$here/../kvmhost/run}

if [ "${1:-}" != --inside ]; then
    # The source tree may live where the KVM host has a fresh /tmp: share it explicitly.
    exec "$kvmhost_run" --rw "$(cd "$here/../.." && pwd)" -- "$0" --inside "$@"
fi
shift

expect=() reject=() expect_log=()
expect_exit=0 sigterm_after= power_button_after= power_button_command= timeout=120 serial_file= retry_stall=
while [ $# -gt 0 ]; do
    case $1 in
    --expect) expect+=("$2"); shift 2 ;;
    --reject) reject+=("$2"); shift 2 ;;
    --expect-log) expect_log+=("$2"); shift 2 ;;
    --expect-exit) expect_exit=$2; shift 2 ;;
    --sigterm-after) sigterm_after=$2; shift 2 ;;
    --power-button-after) power_button_after=$2; shift 2 ;;
    --power-button-command) power_button_command=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --serial-file) serial_file=$2; shift 2 ;;
    --retry-stall) retry_stall=1; shift ;;
    --) shift; break ;;
    *) echo "boot-test.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "boot-test.sh: no command" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
today=$(date -u +%Y-%m-%d)

run_once() {
    if [ -n "$power_button_after" ]; then
        timeout -s KILL "$timeout" "$@" >"$work/out" 2>"$work/err" &
        pid=$!
        for _ in $(seq 1 $((timeout * 10))); do
            grep -qF -- "$power_button_after" "$work/out" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if [ -n "$power_button_command" ]; then
            sh -c "$power_button_command"
        else
            # timeout(1) does not pass SIGUSR2 on: send it to chv-vmm itself.
            pkill -USR2 -P "$pid"
        fi
        wait "$pid"
        status=$?
    elif [ -n "$sigterm_after" ]; then
        timeout -s KILL "$timeout" "$@" >"$work/out" 2>"$work/err" &
        pid=$!
        for _ in $(seq 1 $((timeout * 10))); do
            grep -qF -- "$sigterm_after" "$work/out" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        # timeout(1) passes SIGTERM on to chv-vmm.
        kill -TERM "$pid" 2>/dev/null
        wait "$pid"
        status=$?
    else
        timeout -s KILL "$timeout" "$@" >"$work/out" 2>"$work/err"
        status=$?
    fi
}

set +e
run_once "$@"
# timeout(1) killed it: the guest neither finished nor was stopped in time.
if [ "$status" = 137 ] && [ -n "$retry_stall" ]; then
    echo "--- stalled: still running after ${timeout}s, booting once more; the stalled run's output:"
    cat "$work/out" 2>/dev/null | tail -n 20
    [ -n "$serial_file" ] && : >"$serial_file"
    run_once "$@"
fi
set -e

out=$work/out
[ -n "$serial_file" ] && out=$serial_file
failed=0
fail() { echo "FAIL: $*"; failed=1; }

[[ "|$expect_exit|" == *"|$status|"* ]] || fail "chv-vmm exited with $status, expected $expect_exit"
for t in ${expect[@]+"${expect[@]}"}; do
    t=${t//@TODAY@/$today}
    grep -qF -- "$t" "$out" || fail "serial output lacks: $t"
done
for t in ${reject[@]+"${reject[@]}"}; do
    grep -qF -- "$t" "$out" && fail "serial output has: $t"
done
for t in ${expect_log[@]+"${expect_log[@]}"}; do
    grep -qF -- "$t" "$work/err" || fail "chv-vmm's log lacks: $t"
done

echo "--- command: $*"
echo "--- exit status: $status"
echo "--- serial output:"
cat "$out" 2>/dev/null || true
echo "--- chv-vmm log:"
cat "$work/err"
exit $failed
