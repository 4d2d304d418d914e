#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Boots the chv test guest under QEMU's microvm machine and checks its serial output.
#
# usage: run-qemu.sh [OPTIONS] SCENARIO [GUEST.elf] [EXTRA_QEMU_ARGS...]
#
#   --append WORDS    more kernel command line after test=SCENARIO
#   --expect TEXT     some output line must start with TEXT (repeatable)
#   --expect-fail     succeed when the guest reports result=FAIL (for scenarios that fail by design)
#   --timeout SECS    give up after SECS seconds (default $QEMU_TIMEOUT or 120)
#
# GUEST.elf defaults to $CHV_TEST_GUEST, else build/tests/guest/chv-test-guest.elf in the source tree.
# $QEMU_SMP and $QEMU_MEM set -smp and -m; $QEMU overrides the QEMU binary; $QEMU_ACCEL forces an
# accelerator (default: kvm when /dev/kvm is usable, else tcg). Exits 0 iff the output has
# "chv-test-guest: result=PASS" (or result=FAIL with --expect-fail) and every expected line.

set -eu -o pipefail

usage() {
    sed -n '4,18s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

append=""
expects=()
expect_fail=0
timeout_secs="${QEMU_TIMEOUT:-120}"

while [ $# -gt 0 ]; do
    case "$1" in
        --append) [ $# -ge 2 ] || usage; append="$2"; shift 2 ;;
        --expect) [ $# -ge 2 ] || usage; expects+=("$2"); shift 2 ;;
        --expect-fail) expect_fail=1; shift ;;
        --timeout) [ $# -ge 2 ] || usage; timeout_secs="$2"; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "run-qemu.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
scenario="$1"
shift

here="$(cd "$(dirname "$0")" && pwd)"
guest="${CHV_TEST_GUEST:-$here/../../build/tests/guest/chv-test-guest.elf}"
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
    guest="$1"
    shift
fi
if [ ! -f "$guest" ]; then
    echo "run-qemu.sh: guest image $guest not found" >&2
    exit 2
fi

qemu="${QEMU:-qemu-system-x86_64}"
accel="${QEMU_ACCEL:-}"
if [ -z "$accel" ]; then
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        accel=kvm
    else
        accel=tcg
    fi
fi

args=(
    -M "microvm,rtc=on"
    -accel "$accel"
    -kernel "$guest"
    -append "test=$scenario${append:+ $append}"
    -nographic
    -no-reboot
    -device "isa-debug-exit,iobase=0xf4,iosize=1"
)
[ -n "${QEMU_SMP:-}" ] && args+=(-smp "$QEMU_SMP")
[ -n "${QEMU_MEM:-}" ] && args+=(-m "$QEMU_MEM")
args+=("$@")

out="$(mktemp)"
trap 'rm -f "$out"' EXIT

echo "run-qemu.sh: $qemu ${args[*]}" >&2
rc=0
timeout -k 5 "$timeout_secs" "$qemu" "${args[@]}" </dev/null >"$out" 2>&1 || rc=$?
# QEMU's isa-debug-exit makes it exit with (value << 1) | 1; 124 is the timeout.
tr -d '\r' <"$out" >"$out.clean" && mv "$out.clean" "$out"
cat "$out"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "run-qemu.sh: timed out after ${timeout_secs}s" >&2
fi

status=0
if [ "$expect_fail" -eq 1 ]; then
    result='^chv-test-guest: result=FAIL'
else
    result='^chv-test-guest: result=PASS$'
fi
if ! grep -q "$result" "$out"; then
    echo "run-qemu.sh: no line matching $result" >&2
    status=1
fi
for e in "${expects[@]}"; do
    if ! awk -v p="$e" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$out"; then
        echo "run-qemu.sh: no line starting with \"$e\"" >&2
        status=1
    fi
done
exit "$status"
