# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the tests that boot the test kernel (tests/guest/linux). Sets test_kernel_cmdline, the
# command line every such boot starts with. Source it where the guest runs (inside the KVM host of
# tests/kvmhost): the TSC rate comes from that machine's /proc/cpuinfo.
#
# The options after console= let the kernel run on a software-assisted KVM (see
# tests/guest/linux/README.md). KVM's paravirtual features are off: on a software-assisted KVM the
# paravirtual IPIs never complete, and on the emulated KVM host of tests/kvmhost single-vCPU boots with
# them on stalled at random points (3 of about 10 boots), while no boot with them off ever did. Without
# kvm-clock the TSC rate must be given.

test_kernel_cmdline="console=ttyS0 skip_int3_selftest noxsave nofsgsbase clearcpuid=xsave,popcnt,cx16,smap,rdrand,rdseed,erms,fsrm panic=-1"
test_kernel_cmdline+=" nopv tsc_early_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo) tsc=reliable"
