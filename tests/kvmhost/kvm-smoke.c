// SPDX-License-Identifier: Apache-2.0
//
// kvm-smoke: checks that /dev/kvm runs guest code. It creates a VM with 64 KiB
// of memory and one vCPU, runs 16-bit real-mode code that writes 'A' to port
// 0x3f8 a thousand times and halts, and counts the KVM_EXIT_IO exits.
// Prints "kvm-smoke: <n> io exits, <x> us per exit"; exits 0 only if n == 1000.

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000
#define CODE_ADDR 0x1000
#define PORT 0x3f8
#define COUNT 1000

static const uint8_t code[] = {
	0xba, 0xf8, 0x03, // mov dx, 0x3f8
	0xb9, 0xe8, 0x03, // mov cx, 1000
	0xb0, 'A',        // mov al, 'A'
	0xee,             // 1: out dx, al
	0x49,             // dec cx
	0x75, 0xfc,       // jnz 1b
	0xf4,             // hlt
};

static int fail(const char *what)
{
	fprintf(stderr, "kvm-smoke: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(void)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	unsigned int io_exits = 0;
	double start, elapsed;
	uint8_t *mem;
	int kvm, vm, vcpu, ret, mmap_size;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	ret = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		fprintf(stderr, "kvm-smoke: KVM API version %d, want %d\n", ret, KVM_API_VERSION);
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	memcpy(mem + CODE_ADDR, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_ADDR;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	start = now_us();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return fail("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "kvm-smoke: unexpected exit reason %u after %u io exits\n",
				run->exit_reason, io_exits);
			return 1;
		}
		if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != PORT || run->io.size != 1 ||
		    run->io.count != 1 || ((uint8_t *)run)[run->io.data_offset] != 'A') {
			fprintf(stderr, "kvm-smoke: unexpected io exit: port %#x size %u count %u\n",
				run->io.port, run->io.size, run->io.count);
			return 1;
		}
		io_exits++;
	}
	elapsed = now_us() - start;

	printf("kvm-smoke: %u io exits, %.1f us per exit\n", io_exits,
	       io_exits ? elapsed / io_exits : 0.0);
	return io_exits == COUNT ? 0 : 1;
}
