/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "acpi.h"
#include "cpuid.h"
#include "errbuf.h"
#include "log.h"
#include "seccomp-filter.h"
#include "vm.h"
#include "x86-boot.h"
#include "x86-layout.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7


static void vm_irq_set(void *ctx, uint32_t gsi, bool level)
{
        Vm *vm = ctx;
        struct kvm_irq_level irq = { .irq = gsi, .level = level };
        if (vm->fd >= 0)
                (void) kvm_ioctl(vm->fd, KVM_IRQ_LINE, &irq);
}

static void vm_control_cb(void *ctx, VmRequest r)
{
        vm_request(ctx, r);
}

void vm_request(Vm *vm, VmRequest r)
{
        int expected = VM_REQUEST_NONE;
        if (atomic_compare_exchange_strong(&vm->request, &expected, (int) r))
                (void) !write(vm->event_fd, &(uint64_t) { 1 }, sizeof(uint64_t));
}

void vm_power_button(Vm *vm)
{
        ged_notify(&vm->ged, ACPI_GED_EVENT_POWER_BUTTON);
}

VmRequest vm_take_request(Vm *vm)
{
        uint64_t v;
        (void) !read(vm->event_fd, &v, sizeof v);
        return (VmRequest) atomic_exchange(&vm->request, VM_REQUEST_NONE);
}

static int vm_load_payload(Vm *vm, char *err, size_t errlen);

/* The 64-bit PCI MMIO window: from the first 1 GiB boundary above the RAM above 4 GiB. */
#define VM_MMIO64_SIZE (64 * GiB)
static uint64_t vm_mmio64_base(const Vm *vm)
{
        uint64_t end = GUEST_MEM_HIGH_START;
        if (vm->config->memory.size > GUEST_MEM_32BIT_HOLE_START)
                end += vm->config->memory.size - GUEST_MEM_32BIT_HOLE_START;
        return ALIGN_UP(end, GiB);
}


int vm_new(const VmConfig *config, const VmHost *host, Vm **ret, char *err, size_t errlen)
{
        _cleanup_(vm_freep) Vm *vm = NULL;
        int r;

        vm = calloc(1, sizeof *vm);
        if (!vm)
                return -ENOMEM;
        vm->fd = -EBADF;
        vm->config = config;
        vm->host = *host;
        vm->control = (VmControl) { .request = vm_control_cb, .ctx = vm };
        iobus_init(&vm->pio, "port I/O");
        iobus_init(&vm->mmio, "MMIO");
        irq_router_init(&vm->irqs);
        pthread_mutex_init(&vm->pause_lock, NULL);
        pthread_cond_init(&vm->pause_cond, NULL);
        vm->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vm->event_fd < 0)
                return negative_errno();

        r = guest_memory_new(config->memory.size, config->memory.shared, config->memory.hugepages,
                             config->memory.prefault, &vm->mem);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot allocate %" PRIu64 " MiB of guest memory: %s",
                            config->memory.size / MiB, strerror(-r));
        guest_memory_advise(vm->mem, config->memory.mergeable, config->memory.thp);

        r = rtc_new(&vm->rtc);
        if (r < 0)
                return r;
        if (config->serial.mode != CONSOLE_OFF) {
                IrqLine irq = { .set = vm_irq_set, .ctx = vm, .gsi = SERIAL_COM1_IRQ };
                r = serial_new(host->serial_out_fd, &irq, &vm->serial);
                if (r < 0)
                        return r;
                r = iobus_register(&vm->pio, SERIAL_COM1_BASE, 8, &serial_io_ops, vm->serial, "serial");
                if (r < 0)
                        return r;
        }
        vm->ged.irq = (IrqLine) { .set = vm_irq_set, .ctx = vm, .gsi = ACPI_GED_GSI };
        r = iobus_register(&vm->mmio, ACPI_GED_MMIO_BASE, ACPI_GED_MMIO_SIZE, &ged_io_ops, &vm->ged, "ged");
        if (r < 0)
                return r;

        /* PCI segment 0: the host bridge, configuration through ECAM and through 0xcf8/0xcfc. */
        PciBusConfig pci = {
                .mmio = &vm->mmio,
                .pio = &vm->pio,
                .io = { ACPI_PIO_BASE, ACPI_PIO_SIZE },
                .mem32 = { ACPI_MMIO32_BASE, ACPI_MMIO32_SIZE },
                .mem64 = { vm_mmio64_base(vm), VM_MMIO64_SIZE },
        };
        r = pci_bus_new(&pci, &vm->pci);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot create the PCI bus: %s", strerror(-r));
        if ((r = iobus_register(&vm->mmio, ACPI_ECAM_BASE, PCI_ECAM_SIZE, &pci_ecam_ops, vm->pci, "pci-ecam")) < 0 ||
            (r = iobus_register(&vm->pio, PCI_CF8_PORT, PCI_CF8_LEN, &pci_cf8_ops, vm->pci, "pci-cf8")) < 0)
                return r;

        if ((r = iobus_register(&vm->pio, I8042_DATA_PORT, 5, &i8042_io_ops, &vm->control, "i8042")) < 0 ||
            (r = iobus_register(&vm->pio, RTC_PORT, RTC_PORT_LEN, &rtc_io_ops, vm->rtc, "rtc")) < 0 ||
            (r = iobus_register(&vm->pio, DEBUG_PORT, 1, &debug_port_io_ops, &vm->debug_port, "debug-port")) < 0 ||
            (r = iobus_register(&vm->pio, ACPI_PM_SHUTDOWN_PORT, ACPI_PM_SHUTDOWN_LEN, &acpi_pm_io_ops,
                                &vm->control, "acpi-shutdown")) < 0)
                return r;

        r = vm_create_devices(vm, err, errlen);
        if (r < 0)
                return r;

        r = vm_load_payload(vm, err, errlen);
        if (r < 0)
                return r;
        vm->payload_loaded = true;
        *ret = TAKE_PTR(vm);
        return 0;
}

Vm *vm_free(Vm *vm)
{
        if (!vm)
                return NULL;
        vm_stop(vm);
        vm_free_devices(vm);
        pci_bus_free(vm->pci);
        irq_router_done(&vm->irqs);
        iobus_done(&vm->pio);
        iobus_done(&vm->mmio);
        serial_free(vm->serial);
        rtc_free(vm->rtc);
        guest_memory_free(vm->mem);
        safe_close(vm->event_fd);
        pthread_cond_destroy(&vm->pause_cond);
        pthread_mutex_destroy(&vm->pause_lock);
        free(vm);
        return NULL;
}

static int vm_create_kvm_vm(Vm *vm, char *err, size_t errlen)
{
        struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
        int r;

        vm->fd = kvm_ioctl(vm->kvm->fd, KVM_CREATE_VM, (void *) 0);
        if (vm->fd < 0)
                return errbuf_fail(vm->fd, err, errlen, "KVM_CREATE_VM failed: %s", strerror(-vm->fd));
        r = kvm_ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t) { X86_KVM_IDENTITY_MAP_ADDR });
        if (r < 0)
                return errbuf_fail(r, err, errlen, "KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(-r));
        r = kvm_ioctl(vm->fd, KVM_SET_TSS_ADDR, (void *) (uintptr_t) X86_KVM_TSS_ADDR);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "KVM_SET_TSS_ADDR failed: %s", strerror(-r));
        r = kvm_ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(-r));
        r = kvm_ioctl(vm->fd, KVM_CREATE_PIT2, &pit);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(-r));
        r = irq_router_attach(&vm->irqs, vm->fd);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot set up MSI routing and irqfds: %s", strerror(-r));

        for (unsigned i = 0; i < vm->mem->n_regions; i++) {
                const GuestRegion *g = &vm->mem->regions[i];
                struct kvm_userspace_memory_region region = {
                        .slot = i,
                        .guest_phys_addr = g->gpa,
                        .memory_size = g->size,
                        .userspace_addr = (uintptr_t) (vm->mem->host + g->offset),
                };
                r = kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region);
                if (r < 0)
                        return errbuf_fail(r, err, errlen, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(-r));
        }
        return 0;
}

static int vm_load_payload(Vm *vm, char *err, size_t errlen)
{
        BootParams b = {
                .kernel = &vm->kernel,
                .cmdline = vm->config->payload.cmdline,
                .boot_vcpus = vm->config->cpus.boot_vcpus,
                .max_vcpus = vm->config->cpus.max_vcpus,
        };
        char why[256];
        int r;

        r = kernel_image_load(vm->mem, vm->host.kernel, vm->host.kernel_size, &vm->kernel, why, sizeof why);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "kernel \"%s\": %s", vm->config->payload.kernel, why);

        if (vm->host.initramfs_fd >= 0) {
                uint64_t addr, done = 0;
                uint8_t *dst;

                r = initramfs_place(vm->mem, &vm->kernel, vm->host.initramfs_size, &addr);
                if (r < 0)
                        return errbuf_fail(r, err, errlen,
                                    "initramfs \"%s\" (%" PRIu64 " bytes) does not fit in guest memory above the kernel",
                                    vm->config->payload.initramfs, vm->host.initramfs_size);
                dst = guest_memory_ptr(vm->mem, addr, vm->host.initramfs_size);
                if (!dst)
                        return errbuf_fail(-E2BIG, err, errlen, "initramfs does not fit in guest memory");
                while (done < vm->host.initramfs_size) {
                        ssize_t n = pread(vm->host.initramfs_fd, dst + done, vm->host.initramfs_size - done,
                                          (off_t) done);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return errbuf_fail(n < 0 ? negative_errno() : -EIO, err, errlen,
                                            "cannot read initramfs \"%s\": %s", vm->config->payload.initramfs,
                                            n < 0 ? strerror(errno) : "file shrank while loading");
                        done += (uint64_t) n;
                }
                b.initramfs_addr = addr;
                b.initramfs_size = vm->host.initramfs_size;
        }

        AcpiConfig acpi;
        acpi_config_default(&acpi, vm->config->cpus.boot_vcpus, vm->config->cpus.max_vcpus);
        acpi.mmio64_base = vm_mmio64_base(vm);
        acpi.mmio64_size = VM_MMIO64_SIZE;
        r = acpi_tables_write(vm->mem, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &acpi, &vm->rsdp);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot write the ACPI tables: %s", strerror(-r));
        b.rsdp_addr = vm->rsdp;
        return x86_boot_write_structures(vm->mem, &b, err, errlen);
}

static int vcpu_setup_msrs(Vcpu *v)
{
        static const uint32_t indices[] = {
                MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR, MSR_CSTAR,
                MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR, MSR_IA32_TSC, MSR_IA32_MISC_ENABLE,
                MSR_MTRR_DEF_TYPE,
        };
        struct {
                struct kvm_msrs hdr;
                struct kvm_msr_entry entries[ELEMENTSOF(indices)];
        } msrs = { .hdr.nmsrs = ELEMENTSOF(indices) };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(indices); i++) {
                msrs.entries[i].index = indices[i];
                if (indices[i] == MSR_IA32_MISC_ENABLE)
                        msrs.entries[i].data = 1; /* fast strings */
                else if (indices[i] == MSR_MTRR_DEF_TYPE)
                        msrs.entries[i].data = (1u << 11) | 6; /* MTRRs on, write-back by default */
        }
        r = kvm_ioctl(v->fd, KVM_SET_MSRS, &msrs);
        if (r < 0)
                return r;
        return r == (int) ELEMENTSOF(indices) ? 0 : -EIO;
}

static int vcpu_setup_lapic(Vcpu *v)
{
        struct kvm_lapic_state lapic;
        uint32_t lint0, lint1;
        int r;

        r = kvm_ioctl(v->fd, KVM_GET_LAPIC, &lapic);
        if (r < 0)
                return r;
        memcpy(&lint0, lapic.regs + APIC_LVT_LINT0, 4);
        memcpy(&lint1, lapic.regs + APIC_LVT_LINT1, 4);
        lint0 = (lint0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
        lint1 = (lint1 & ~0x700u) | (APIC_MODE_NMI << 8);
        memcpy(lapic.regs + APIC_LVT_LINT0, &lint0, 4);
        memcpy(lapic.regs + APIC_LVT_LINT1, &lint1, 4);
        return kvm_ioctl(v->fd, KVM_SET_LAPIC, &lapic);
}

static int vcpu_create(Vm *vm, Vcpu *v, unsigned id, char *err, size_t errlen)
{
        _cleanup_free_ struct kvm_cpuid2 *cpuid = NULL;
        int r;

        *v = (Vcpu) { .vm = vm, .id = id, .fd = -EBADF };
        v->fd = kvm_ioctl(vm->fd, KVM_CREATE_VCPU, (void *) (uintptr_t) id);
        if (v->fd < 0)
                return errbuf_fail(v->fd, err, errlen, "KVM_CREATE_VCPU %u failed: %s", id, strerror(-v->fd));
        v->run = mmap(NULL, (size_t) vm->kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
                v->run = NULL;
                return errbuf_fail(negative_errno(), err, errlen, "cannot map vCPU %u: %m", id);
        }
        cpuid = cpuid_for_vcpu(vm->kvm->cpuid, id, vm->config->cpus.max_vcpus, vm->kvm->tsc_deadline);
        if (!cpuid)
                return -ENOMEM;
        r = kvm_ioctl(v->fd, KVM_SET_CPUID2, cpuid);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "KVM_SET_CPUID2 on vCPU %u failed: %s", id, strerror(-r));
        r = vcpu_setup_msrs(v);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot set the MSRs of vCPU %u: %s", id, strerror(-r));
        r = vcpu_setup_lapic(v);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot set up the local APIC of vCPU %u: %s", id, strerror(-r));
        if (id == 0) {
                r = x86_boot_setup_bsp(v->fd, &vm->kernel);
                if (r < 0)
                        return errbuf_fail(r, err, errlen, "cannot set the boot registers: %s", strerror(-r));
        }
        return 0;
}

static void vcpu_destroy(Vcpu *v)
{
        if (v->run)
                (void) munmap(v->run, (size_t) v->vm->kvm->vcpu_mmap_size);
        v->run = NULL;
        v->fd = safe_close(v->fd);
}

static void vcpu_crash(Vcpu *v, const char *fmt, ...) _printf_(2, 3);
static void vcpu_crash(Vcpu *v, const char *fmt, ...)
{
        Vm *vm = v->vm;
        char msg[200];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (atomic_load(&vm->request) == VM_REQUEST_NONE)
                snprintf(vm->crash_reason, sizeof vm->crash_reason, "vCPU %u: %s", v->id, msg);
        vm_request(vm, VM_REQUEST_CRASH);
}

static void vcpu_handle_io(Vcpu *v)
{
        struct kvm_run *run = v->run;
        uint8_t *data = (uint8_t *) run + run->io.data_offset;
        uint32_t size = run->io.size;

        /* The data area lies in the shared page KVM gave us; check it all the same. */
        if (size == 0 || size > 4 || run->io.data_offset + (uint64_t) size * run->io.count >
                                             (uint64_t) v->vm->kvm->vcpu_mmap_size)
                return;
        for (uint32_t i = 0; i < run->io.count; i++, data += size) {
                if (run->io.direction == KVM_EXIT_IO_OUT)
                        iobus_write(&v->vm->pio, run->io.port, data, size);
                else
                        iobus_read(&v->vm->pio, run->io.port, data, size);
        }
}

static void vcpu_kick_handler(int sig)
{
        /* Only here to make KVM_RUN return with EINTR. */
}

/* Waits outside KVM_RUN while the VM is paused; vm_pause() counts the threads parked here. */
static void vcpu_park(Vcpu *v)
{
        Vm *vm = v->vm;

        pthread_mutex_lock(&vm->pause_lock);
        atomic_store(&v->parked, true);
        vm->n_parked++;
        pthread_cond_broadcast(&vm->pause_cond);
        while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
                pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
        vm->n_parked--;
        atomic_store(&v->parked, false);
        pthread_mutex_unlock(&vm->pause_lock);
}

static void vcpu_thread_gone(Vm *vm)
{
        pthread_mutex_lock(&vm->pause_lock);
        vm->n_gone++;
        pthread_cond_broadcast(&vm->pause_cond);
        pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *userdata)
{
        Vcpu *v = userdata;
        Vm *vm = v->vm;
        char name[16];
        sigset_t mask;

        snprintf(name, sizeof name, "vcpu%u", v->id);
        (void) pthread_setname_np(pthread_self(), name);
        log_set_thread_name(name);

        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &mask, NULL);

        int r = seccomp_apply(SECCOMP_THREAD_VCPU);
        if (r < 0) {
                errno = -r;
                vcpu_crash(v, "cannot load the seccomp filter of the vCPU threads: %m");
                goto out;
        }

        while (!atomic_load(&vm->stopping)) {
                if (atomic_load(&vm->pause_requested)) {
                        vcpu_park(v);
                        continue;
                }
                r = ioctl(v->fd, KVM_RUN, 0);
                if (r < 0) {
                        if (errno == EINTR || errno == EAGAIN) {
                                v->run->immediate_exit = 0;
                                continue;
                        }
                        vcpu_crash(v, "KVM_RUN failed: %m");
                        break;
                }
                v->exits++;
                switch (v->run->exit_reason) {
                case KVM_EXIT_IO:
                        vcpu_handle_io(v);
                        break;
                case KVM_EXIT_MMIO:
                        if (v->run->mmio.len > 8)
                                break;
                        if (v->run->mmio.is_write)
                                iobus_write(&vm->mmio, v->run->mmio.phys_addr, v->run->mmio.data, v->run->mmio.len);
                        else
                                iobus_read(&vm->mmio, v->run->mmio.phys_addr, v->run->mmio.data, v->run->mmio.len);
                        break;
                case KVM_EXIT_HLT:
                        /* Only without an in-kernel local APIC; chv always has one. */
                        break;
                case KVM_EXIT_SHUTDOWN:
                        log_info("vCPU %u: triple fault, resetting the machine", v->id);
                        vm_request(vm, VM_REQUEST_RESET);
                        goto out;
                case KVM_EXIT_SYSTEM_EVENT:
                        if (v->run->system_event.type == KVM_SYSTEM_EVENT_RESET)
                                vm_request(vm, VM_REQUEST_RESET);
                        else if (v->run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
                                vm_request(vm, VM_REQUEST_SHUTDOWN);
                        else
                                vcpu_crash(v, "system event %u", v->run->system_event.type);
                        goto out;
                case KVM_EXIT_FAIL_ENTRY:
                        vcpu_crash(v, "KVM could not enter the guest (hardware reason 0x%llx)",
                                   (unsigned long long) v->run->fail_entry.hardware_entry_failure_reason);
                        goto out;
                case KVM_EXIT_INTERNAL_ERROR:
                        vcpu_crash(v, "KVM internal error %u (suberror)", v->run->internal.suberror);
                        goto out;
                default:
                        vcpu_crash(v, "unexpected KVM exit %u", v->run->exit_reason);
                        goto out;
                }
                /* Once the machine is going down (power-off, reset), no more guest code on this vCPU. */
                if (atomic_load(&vm->request) != VM_REQUEST_NONE)
                        break;
        }
out:
        vcpu_thread_gone(vm);
        return NULL;
}

int vm_start(Vm *vm, Kvm *kvm, char *err, size_t errlen)
{
        const unsigned n = vm->config->cpus.boot_vcpus;
        sigset_t mask, old;
        int r;

        if (vm->config->cpus.max_vcpus > (unsigned) kvm->max_vcpus)
                return errbuf_fail(-EINVAL, err, errlen, "cpus.max_vcpus: %" PRIu32 " is more than KVM allows here (%d)",
                            vm->config->cpus.max_vcpus, kvm->max_vcpus);
        vm->kvm = kvm;

        atomic_store(&vm->stopping, false);
        atomic_store(&vm->request, VM_REQUEST_NONE);
        atomic_store(&vm->pause_requested, false);
        vm->paused = false;
        vm->n_parked = vm->n_gone = 0;
        vm->crash_reason[0] = 0;
        if (vm->serial)
                serial_reset(vm->serial);
        rtc_reset(vm->rtc);
        if (vm->boots > 0)
                vm_reset_devices(vm);

        r = vm_create_kvm_vm(vm, err, errlen);
        if (r < 0)
                goto fail;
        if (!vm->payload_loaded) {
                r = vm_load_payload(vm, err, errlen);
                if (r < 0)
                        goto fail;
        }
        vm->payload_loaded = false; /* the next start is a reboot: load afresh */

        vm->vcpus = calloc(n, sizeof *vm->vcpus);
        if (!vm->vcpus) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < n; i++) {
                vm->n_vcpus = i + 1;
                r = vcpu_create(vm, &vm->vcpus[i], i, err, errlen);
                if (r < 0)
                        goto fail;
        }

        struct sigaction sa = { .sa_handler = vcpu_kick_handler };
        sigaction(SIGUSR1, &sa, NULL);

        /* vCPU threads start with SIGUSR1 blocked and unblock it themselves; everything else blocked too,
         * so the main thread gets the process-directed signals. */
        sigfillset(&mask);
        pthread_sigmask(SIG_BLOCK, &mask, &old);
        for (unsigned i = 0; i < n; i++) {
                r = -pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
                if (r < 0) {
                        pthread_sigmask(SIG_SETMASK, &old, NULL);
                        errbuf_fail(r, err, errlen, "cannot start the thread of vCPU %u: %s", i, strerror(-r));
                        goto fail;
                }
                vm->vcpus[i].thread_started = true;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        vm->boots++;
        return 0;
fail:
        vm_stop(vm);
        return r;
}

/* Takes every vCPU thread out of KVM_RUN; immediate_exit covers a kick that lands just before it. */
static void vm_kick_vcpus(Vm *vm)
{
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                Vcpu *v = &vm->vcpus[i];
                if (!v->thread_started)
                        continue;
                if (v->run)
                        v->run->immediate_exit = 1;
                (void) pthread_kill(v->thread, SIGUSR1);
        }
}

const char *vm_state(const Vm *vm)
{
        return vm->paused ? "Paused" : "Running";
}

int vm_pause(Vm *vm, char *err, size_t errlen)
{
        unsigned started = 0;
        int r;

        if (vm->paused)
                return errbuf_fail(-EBUSY, err, errlen, "the VM is paused already: resume it first");
        if (vm->n_vcpus == 0 || atomic_load(&vm->request) != VM_REQUEST_NONE)
                return errbuf_fail(-EAGAIN, err, errlen, "the VM is not running (it is going down or rebooting)");

        atomic_store(&vm->pause_requested, true);
        vm_kick_vcpus(vm);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                started += vm->vcpus[i].thread_started;
        pthread_mutex_lock(&vm->pause_lock);
        while (vm->n_parked + vm->n_gone < started)
                pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
        pthread_mutex_unlock(&vm->pause_lock);
        /* No vCPU runs now, so no driver kicks a queue; the devices finish what they do, then wait. */
        vm_pause_devices(vm);

        /* The guest's clock stops here (Cloud Hypervisor does the same): no jump when it resumes. */
        r = kvm_ioctl(vm->fd, KVM_GET_CLOCK, &vm->clock);
        if (r < 0)
                log_warning("KVM_GET_CLOCK failed, the guest's clock will jump on resume: %s", strerror(-r));
        vm->clock.flags = 0; /* KVM_SET_CLOCK takes none of the flags KVM_GET_CLOCK reports */
        vm->clock_saved = r >= 0;
        vm->paused = true;
        return 0;
}

int vm_resume(Vm *vm, char *err, size_t errlen)
{
        if (!vm->paused)
                return errbuf_fail(-EBUSY, err, errlen, "the VM is not paused: there is nothing to resume");
        if (vm->clock_saved) {
                int r = kvm_ioctl(vm->fd, KVM_SET_CLOCK, &vm->clock);
                if (r < 0)
                        log_warning("KVM_SET_CLOCK failed, the guest's clock jumps: %s", strerror(-r));
        }
        vm_resume_devices(vm);
        pthread_mutex_lock(&vm->pause_lock);
        atomic_store(&vm->pause_requested, false);
        vm->paused = false;
        pthread_cond_broadcast(&vm->pause_cond);
        pthread_mutex_unlock(&vm->pause_lock);
        return 0;
}

void vm_stop(Vm *vm)
{
        atomic_store(&vm->stopping, true);
        vm_kick_vcpus(vm);
        /* Parked vCPUs see stopping once woken. */
        pthread_mutex_lock(&vm->pause_lock);
        pthread_cond_broadcast(&vm->pause_cond);
        pthread_mutex_unlock(&vm->pause_lock);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                Vcpu *v = &vm->vcpus[i];
                if (v->thread_started) {
                        (void) pthread_join(v->thread, NULL);
                        v->thread_started = false;
                }
                vcpu_destroy(v);
        }
        free(vm->vcpus);
        vm->vcpus = NULL;
        vm->n_vcpus = 0;
        irq_router_detach(&vm->irqs);
        vm->fd = safe_close(vm->fd);
        atomic_store(&vm->pause_requested, false);
        vm->paused = false;
}
