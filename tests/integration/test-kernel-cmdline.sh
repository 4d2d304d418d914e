# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the tests that boot the test kernel (tests/guest/linux). Sets test_kernel_cmdline, the
# command line every such boot starts with. Source it where the guest runs (inside the KVM host of
# tests/kvmhost): the TSC rate comes from that machine's /proc/cpuinfo.
#
# The options after console= let the kernel run on a software-assisted KVM (see
# tests/guest/linux/README.md). KVM's paravirtual features are off: on a software-assisted KVM the
# paravirtual IPIs never complete, and on the emulated KVM host of tests/kvmhost single-vCPU boots with
# them on stall at random points. The culprit is the paravirtual EOI (KVM_FEATURE_PV_EOI) on that
# emulated host, not chv: 1-vCPU vmlinux boots with every feature on stalled in 7 of 43 (also with
# no-kvmclock, no-kvmapf or no-steal-acc alone), QEMU microvm with KVM stalled in 3 of 12, and chv-vmm
# with only PV_EOI taken out of CPUID leaf 0x40000001 stalled in none of 24. The guest has no option to
# turn PV EOI off alone, so nopv stays. Without kvm-clock the TSC rate must be given.

test_kernel_cmdline="console=ttyS0 skip_int3_selftest noxsave nofsgsbase clearcpuid=xsave,popcnt,cx16,smap,rdrand,rdseed,erms,fsrm panic=-1"
test_kernel_cmdline+=" nopv tsc_early_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo) tsc=reliable"
