#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kernel-boot-test.sh vmlinux|bzImage VCPUS MEMORY CHV_VMM INIT_BINARY
#
# Boots the small Linux test kernel (tests/guest/linux) with chv-vmm and an initramfs holding
# INIT_BINARY, and checks the console: the kernel reaches "Run /init as init process" with the
# memory and CPU count given, and, where KVM can run guest userspace, /init reports the same.
set -euo pipefail

image=$1 vcpus=$2 memory=$3 vmm=$4 init=$5
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kvmhost_run=${KVMHOST_RUN:-$top/tests/kvmhost/run}

if [ "${CHV_KERNEL_TEST_INSIDE:-}" != 1 ]; then
    kdir=$("$top/tests/guest/linux/build-kernel.sh" | tail -n 1)
    work=$(mktemp -d "${TMPDIR:-/tmp}/chv-kernel-test.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    "$top/tests/guest/linux/make-initramfs.sh" "$work/initramfs.cpio.gz" "$init" >/dev/null
    cp "$kdir/$image" "$work/$image"
    export CHV_KERNEL_TEST_INSIDE=1 CHV_KERNEL_TEST_WORK=$work
    "$kvmhost_run" --rw "$work" --rw "$top" -- "$0" "$@"
    exit $?
fi

work=$CHV_KERNEL_TEST_WORK
mem_mib=${memory%M}
# The command line of every test-kernel boot (KVM's paravirtual features off, the TSC rate given).
. "$here/test-kernel-cmdline.sh"
cmdline=$test_kernel_cmdline

userspace=1
if [ -e /sys/module/kvm_pvm ]; then
    userspace=0
    echo "SKIP (part): this KVM (kvm_pvm) cannot run guest userspace, so /init's own lines are not checked"
fi

checks=(--expect "Run /init as init process"
        --expect "smp: Brought up 1 node, $vcpus CPU"
        --expect "Command line: $cmdline"
        --expect "Linux version 6.1"
        --expect "ACPI: Interpreter enabled"
        --expect "pci 0000:00:00.0: [1b36:0008] type 00 class 0x060000"
        --reject "ACPI Error"
        --reject "ACPI BIOS Error"
        --reject "Kernel panic")
# The boot protocol chv-vmm chose: PVH for the vmlinux (it has the PVH note), 64-bit for the bzImage.
if [ "$image" = vmlinux ]; then
    checks+=(--expect-log "Booting ELF (PVH) through the pvh entry")
else
    checks+=(--expect-log "Booting bzImage through the linux-64 entry")
fi
if [ "$userspace" = 1 ]; then
    checks+=(--expect "chv-test-init: hello from /init" --expect "chv-test-init: cpus=$vcpus "
             --expect "reboot: Power down" --expect-log "Guest powered off")
else
    checks+=(--sigterm-after "Run /init as init process")
fi

set +e
# With userspace, /init powers the machine off through the ACPI sleep register: exit status 0. Without,
# chv-vmm is stopped with SIGTERM once /init is reached: exit status 4.
"$here/boot-test.sh" --inside "${checks[@]}" --expect-exit "$([ "$userspace" = 1 ] && echo 0 || echo 4)" --timeout 300 --retry-stall -- \
    "$vmm" -v --kernel "$work/$image" --initramfs "$work/initramfs.cpio.gz" --cmdline "$cmdline" \
    --cpus "boot=$vcpus" --memory "size=$memory" --serial tty --console off >"$work/result" 2>&1
status=$?
set -e
cat "$work/result"
[ $status = 0 ] || exit $status

# The memory the kernel found must be what was given: "Memory: USEDK/TOTALK available", where TOTAL
# is the RAM of the e820 map less the first MiB's holes.
total=$(sed -n 's/.*Memory: [0-9]*K\/\([0-9]*\)K available.*/\1/p' "$work/result" | head -n 1)
if [ -z "$total" ]; then
    echo "FAIL: no 'Memory: ...K available' line"
    exit 1
fi
want=$((mem_mib * 1024))
if [ "$total" -gt "$want" ] || [ "$total" -lt $((want - 1024)) ]; then
    echo "FAIL: the kernel found ${total}K of memory, expected about ${want}K"
    exit 1
fi
if [ "$userspace" = 1 ]; then
    kib=$(sed -n 's/.*chv-test-init: cpus=[0-9]* mem_kib=\([0-9]*\).*/\1/p' "$work/result" | head -n 1)
    if [ -z "$kib" ] || [ "$kib" -gt "$want" ] || [ "$kib" -lt $((want * 8 / 10)) ]; then
        echo "FAIL: /init saw MemTotal ${kib:-?} kB for ${want} KiB given"
        exit 1
    fi
fi
echo "OK: ${total}K of memory, $vcpus vCPU(s), through $image"
