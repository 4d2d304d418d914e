#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# devices-test.sh [OPTIONS] -- CHV_VMM [ARGS...]
#
# Boots the test guest with chv-vmm and virtio devices where /dev/kvm works (through tests/kvmhost/run)
# and checks what the guest printed (through boot-test.sh) and what reached the host. chv-vmm's serial
# port writes to serial.out in a work directory, its standard output (the console in tty mode) goes to
# stdout.out there and its standard input comes from a FIFO. @WORK@ in ARGS is that directory.
#
#   --disk-image SIZE         create disk.img of SIZE bytes (truncate(1) syntax, e.g. 8M)
#   --fill-disk SEED          fill it with the guest's pattern (check-disk.py fill)
#   --input-after TEXT LINE   write LINE and a newline to chv-vmm's standard input once the serial
#                             output shows TEXT
#   --kill-after TEXT         SIGKILL chv-vmm once the serial output shows TEXT (expect exit 137)
#   --expect-file NAME TEXT   the file NAME of the work directory must contain TEXT
#   --after CMD               run CMD (sh -c) in the work directory afterwards; it must succeed
#   --net                     a tap device chvtap0 in a network namespace of its own, and
#                             net-responder.py answering the guest's test frames on it (needs root)
#   --expect, --reject, --expect-log, --expect-exit, --timeout   passed on to boot-test.sh
#
# Exit status: 0 passed, 1 failed, 77 skipped (no root for the tap device).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
kvmhost_run=${KVMHOST_RUN:-$top/tests/kvmhost/run}
PATH=$PATH:/usr/sbin:/sbin

usage() { sed -n '4,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

args=("$@")
disk_size= fill_seed= input_text= input_line= kill_after= net=
expect_files=() afters=() boot_args=()
while [ $# -gt 0 ]; do
    case $1 in
    --disk-image) disk_size=$2; shift 2 ;;
    --fill-disk) fill_seed=$2; shift 2 ;;
    --input-after) input_text=$2; input_line=$3; shift 3 ;;
    --kill-after) kill_after=$2; shift 2 ;;
    --expect-file) expect_files+=("$2" "$3"); shift 3 ;;
    --after) afters+=("$2"); shift 2 ;;
    --net) net=1; shift ;;
    --expect|--reject|--expect-log|--expect-exit|--timeout) boot_args+=("$1" "$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "devices-test.sh: unknown option $1" >&2; usage ;;
    esac
done
[ $# -ge 1 ] || usage

if [ "${CHV_DEVICES_TEST_INSIDE:-}" != 1 ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/chv-devices.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    if [ -n "$disk_size" ]; then
        truncate -s "$disk_size" "$work/disk.img"
        [ -z "$fill_seed" ] || "$top/tests/guest/check-disk.py" fill "$work/disk.img" "$fill_seed"
    fi
    set +e
    CHV_DEVICES_TEST_INSIDE=1 CHV_DEVICES_TEST_WORK=$work \
        "$kvmhost_run" --rw "$work" --rw "$top" -- "$0" "${args[@]}"
    status=$?
    set -e
    exit $status
fi

work=$CHV_DEVICES_TEST_WORK
if [ -n "$net" ] && [ "${CHV_DEVICES_TEST_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the tap device needs root"
        exit 77
    fi
    # A network namespace of its own: the tap touches nothing of the host's.
    CHV_DEVICES_TEST_NETNS=1 exec unshare --net -- "$0" "${args[@]}"
fi

responder_pid= watcher_pid=
cleanup() {
    for p in $responder_pid $watcher_pid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

if [ -n "$net" ]; then
    ip link set lo up
    ip tuntap add dev chvtap0 mode tap
    ip link set chvtap0 up
    python3 "$here/net-responder.py" chvtap0 >"$work/responder.log" 2>&1 &
    responder_pid=$!
    # Python starts slowly under emulation; the guest also repeats its frame until it is answered.
    for _ in $(seq 1 300); do
        grep -q "listening" "$work/responder.log" 2>/dev/null && break
        kill -0 "$responder_pid" 2>/dev/null || break
        sleep 0.1
    done
fi

vmm_args=()
for a in "$@"; do
    vmm_args+=("${a//@WORK@/$work}")
done

# chv-vmm reads a FIFO that this script holds open read-write: no end of input, no blocking open. It
# lives on a local file system: the shared work directory (9p) has no FIFOs.
fifo_dir=$(mktemp -d)
mkfifo "$fifo_dir/stdin"
exec 3<>"$fifo_dir/stdin"

# Acts on the serial output while chv-vmm runs: input to write, the moment to kill it.
watch_serial() {
    local sent= pid
    while :; do
        if [ -n "$input_text" ] && [ -z "$sent" ] &&
            grep -qF -- "$input_text" "$work/serial.out" 2>/dev/null; then
            printf '%s\n' "$input_line" >&3
            sent=1
        fi
        if [ -n "$kill_after" ] && grep -qF -- "$kill_after" "$work/serial.out" 2>/dev/null &&
            pid=$(cat "$work/vmm.pid" 2>/dev/null); then
            kill -KILL "$pid"
            return
        fi
        sleep 0.1
    done
}
if [ -n "$input_text" ] || [ -n "$kill_after" ]; then
    watch_serial &
    watcher_pid=$!
fi

set +e
"$top/tests/integration/boot-test.sh" --inside --serial-file "$work/serial.out" "${boot_args[@]}" -- \
    sh -c 'echo $$ >"$1"; shift; exec "$@" >"$0"' "$work/stdout.out" "$work/vmm.pid" \
    "${vmm_args[0]}" --serial "file=$work/serial.out" "${vmm_args[@]:1}" <"$fifo_dir/stdin"
status=$?
set -e
cleanup
exec 3>&-
rm -rf "$fifo_dir"

fail() { echo "FAIL: $*"; status=1; }
for ((i = 0; i < ${#expect_files[@]}; i += 2)); do
    name=${expect_files[i]} text=${expect_files[i + 1]}
    grep -qF -- "$text" "$work/$name" 2>/dev/null || fail "$name lacks: $text"
done
for c in ${afters[@]+"${afters[@]}"}; do
    (cd "$work" && sh -c "$c") || fail "after the run: $c"
done
for f in stdout.out responder.log; do
    if [ -s "$work/$f" ]; then
        echo "--- $f:"
        cat "$work/$f"
    fi
done
exit $status
