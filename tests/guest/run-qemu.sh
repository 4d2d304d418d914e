#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Boots the chv test guest under QEMU (microvm unless told otherwise) and checks its serial output.
#
# usage: run-qemu.sh [OPTIONS] SCENARIO [GUEST.elf] [EXTRA_QEMU_ARGS...]
#
#   --append WORDS    more kernel command line after test=SCENARIO
#   --expect TEXT     some output line must start with TEXT (repeatable)
#   --reject TEXT     no output line may start with TEXT (repeatable)
#   --expect-fail     succeed when the guest reports result=FAIL (for scenarios that fail by design)
#   --timeout SECS    give up after SECS seconds (default $QEMU_TIMEOUT or 120)
#   --machine M       QEMU's -M (default $QEMU_MACHINE or microvm,rtc=on)
#   --before CMD      run CMD (sh -c) in a fresh work directory before QEMU starts (repeatable)
#   --after CMD       ... after QEMU ended; it must succeed (repeatable)
#   --kill-after TEXT SIGKILL QEMU once a line starts with TEXT; no result line is needed then
#   --virtio-console  add a virtio console whose output goes to console.out in the work directory
#   --console-input TEXT  write TEXT and a newline to its input once the guest waits for input
#   --console-expect TEXT a line of the console's output must start with TEXT (repeatable)
#
# GUEST.elf defaults to $CHV_TEST_GUEST, else build/tests/guest/chv-test-guest.elf in the source tree.
# @WORK@ in --append and in the QEMU arguments stands for the work directory.
# $QEMU_SMP and $QEMU_MEM set -smp and -m; $QEMU overrides the QEMU binary; $QEMU_ACCEL forces an
# accelerator (default: kvm when /dev/kvm is usable, else tcg). Exits 0 iff the output has
# "chv-test-guest: result=PASS" (or result=FAIL with --expect-fail) and every expected line.

set -eu -o pipefail

usage() {
    sed -n '4,25s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

append=""
expects=()
rejects=()
befores=()
afters=()
expect_fail=0
kill_after=""
virtio_console=0
console_input=""
console_expects=()
machine="${QEMU_MACHINE:-microvm,rtc=on}"
timeout_secs="${QEMU_TIMEOUT:-120}"

while [ $# -gt 0 ]; do
    case "$1" in
        --append) [ $# -ge 2 ] || usage; append="$2"; shift 2 ;;
        --expect) [ $# -ge 2 ] || usage; expects+=("$2"); shift 2 ;;
        --reject) [ $# -ge 2 ] || usage; rejects+=("$2"); shift 2 ;;
        --expect-fail) expect_fail=1; shift ;;
        --timeout) [ $# -ge 2 ] || usage; timeout_secs="$2"; shift 2 ;;
        --machine) [ $# -ge 2 ] || usage; machine="$2"; shift 2 ;;
        --before) [ $# -ge 2 ] || usage; befores+=("$2"); shift 2 ;;
        --after) [ $# -ge 2 ] || usage; afters+=("$2"); shift 2 ;;
        --kill-after) [ $# -ge 2 ] || usage; kill_after="$2"; shift 2 ;;
        --virtio-console) virtio_console=1; shift ;;
        --console-input) [ $# -ge 2 ] || usage; console_input="$2"; shift 2 ;;
        --console-expect) [ $# -ge 2 ] || usage; console_expects+=("$2"); shift 2 ;;
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

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/qemu.out"

# The default devices (a NIC and a VGA on pc and q35) stay out; the serial port goes to stdout.
args=(
    -M "$machine"
    -nodefaults
    -accel "$accel"
    -kernel "$guest"
    -append "test=$scenario${append:+ ${append//@WORK@/$work}}"
    -display none
    -serial stdio
    -no-reboot
    -device "isa-debug-exit,iobase=0xf4,iosize=1"
)
[ -n "${QEMU_SMP:-}" ] && args+=(-smp "$QEMU_SMP")
[ -n "${QEMU_MEM:-}" ] && args+=(-m "$QEMU_MEM")
for a in "$@"; do
    args+=("${a//@WORK@/$work}")
done
# QEMU opens both FIFOs read-write: neither side blocks on open.
if [ "$virtio_console" -eq 1 ]; then
    mkfifo "$work/console.in" "$work/console.out"
    args+=(-device virtio-serial-pci,disable-legacy=on -chardev "pipe,id=console0,path=$work/console"
           -device virtconsole,chardev=console0)
fi

# Whether a line of the output starts with $1.
has_line() {
    tr -d '\r' <"$out" | awk -v p="$1" 'index($0, p) == 1 { found = 1 } END { exit !found }'
}

status=0
for c in ${befores[@]+"${befores[@]}"}; do
    (cd "$work" && sh -c "$c") || { echo "run-qemu.sh: failed before QEMU: $c" >&2; exit 1; }
done

echo "run-qemu.sh: $qemu ${args[*]}" >&2
: >"$out"
"$qemu" "${args[@]}" </dev/null >"$out" 2>&1 &
qemu_pid=$!
cat_pid=
if [ "$virtio_console" -eq 1 ]; then
    cat "$work/console.out" >"$work/console.txt" &
    cat_pid=$!
fi
rc=0 killed=0 input_sent=0
start=$SECONDS
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ -n "$console_input" ] && [ "$input_sent" -eq 0 ] && has_line "virtio-console: waiting for input"; then
        printf '%s\n' "$console_input" >"$work/console.in"
        input_sent=1
    fi
    if [ -n "$kill_after" ] && has_line "$kill_after"; then
        kill -KILL "$qemu_pid" 2>/dev/null || true
        killed=1
        break
    fi
    if [ $((SECONDS - start)) -ge "$timeout_secs" ]; then
        kill -KILL "$qemu_pid" 2>/dev/null || true
        echo "run-qemu.sh: timed out after ${timeout_secs}s" >&2
        status=1
        break
    fi
    sleep 0.1
done
# QEMU's isa-debug-exit makes it exit with (value << 1) | 1.
wait "$qemu_pid" || rc=$?
if [ -n "$cat_pid" ]; then
    # cat sees the end of the FIFO once QEMU is gone.
    wait "$cat_pid" || true
    echo "--- virtio console output:"
    cat "$work/console.txt"
    echo "---"
fi
tr -d '\r' <"$out" >"$out.clean" && mv "$out.clean" "$out"
cat "$out"

for c in ${afters[@]+"${afters[@]}"}; do
    (cd "$work" && sh -c "$c") || { echo "run-qemu.sh: failed after QEMU: $c" >&2; status=1; }
done

if [ "$expect_fail" -eq 1 ]; then
    result='^chv-test-guest: result=FAIL'
else
    result='^chv-test-guest: result=PASS$'
fi
if [ -n "$kill_after" ]; then
    if [ "$killed" -ne 1 ]; then
        echo "run-qemu.sh: QEMU ended (status $rc) before a line starting with \"$kill_after\"" >&2
        status=1
    fi
elif ! grep -q "$result" "$out"; then
    echo "run-qemu.sh: no line matching $result" >&2
    status=1
fi
for e in ${expects[@]+"${expects[@]}"}; do
    if ! has_line "$e"; then
        echo "run-qemu.sh: no line starting with \"$e\"" >&2
        status=1
    fi
done
for e in ${console_expects[@]+"${console_expects[@]}"}; do
    if ! awk -v p="$e" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$work/console.txt"; then
        echo "run-qemu.sh: no line of the virtio console's output starts with \"$e\"" >&2
        status=1
    fi
done
for e in ${rejects[@]+"${rejects[@]}"}; do
    if has_line "$e"; then
        echo "run-qemu.sh: a line starts with \"$e\"" >&2
        status=1
    fi
done
exit "$status"
