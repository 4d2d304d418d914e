/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "device.h"
#include "guest-memory.h"
#include "iobus.h"
#include "irq-router.h"
#include "kvm.h"
#include "legacy.h"
#include "loader.h"
#include "pci.h"
#include "serial.h"
#include "vm-config.h"

typedef struct Vm Vm;
typedef struct VmDevice VmDevice;

typedef struct Vcpu {
        Vm *vm;
        unsigned id;
        int fd;
        struct kvm_run *run;
        pthread_t thread;
        bool thread_started;
        _Atomic bool parked; /* outside KVM_RUN, waiting for vm_resume() */
        uint64_t exits;
} Vcpu;

/* Everything the host gives a VM besides its configuration. */
typedef struct VmHost {
        const uint8_t *kernel; /* the kernel image, mapped */
        size_t kernel_size;
        int initramfs_fd; /* or -1 */
        uint64_t initramfs_size;
        int serial_out_fd; /* -1: no output; serial off is config.serial.mode == CONSOLE_OFF */
        int console_in_fd, console_out_fd; /* the virtio console's, or -1 */
} VmHost;

struct Vm {
        Kvm *kvm;
        const VmConfig *config;
        VmHost host;
        GuestMemory *mem;
        int fd; /* the KVM VM, recreated on every (re)boot */

        IoBus pio;
        IoBus mmio;
        VmControl control;
        DebugPort debug_port;
        Serial *serial;
        Rtc *rtc;
        Ged ged;
        PciBus *pci;
        IrqRouter irqs;
        VmDevice **devices;
        size_t n_devices;
        uint64_t rsdp;

        Vcpu *vcpus;
        unsigned n_vcpus;
        KernelImage kernel;
        uint64_t boots;
        bool payload_loaded;

        /* The first request since the boot wins; the event fd tells the main loop. */
        _Atomic int request;
        _Atomic bool stopping;
        int event_fd;
        char crash_reason[256];

        /*
         * Pause: pausing asks every vCPU thread to park on pause_cond; pause_lock guards n_parked (threads
         * parked) and n_gone (threads that ended). paused is the main thread's.
         */
        _Atomic bool pause_requested;
        pthread_mutex_t pause_lock;
        pthread_cond_t pause_cond;
        unsigned n_parked, n_gone;
        bool paused;
        struct kvm_clock_data clock; /* the guest's clock when it was paused, if clock_saved */
        bool clock_saved;

        /* Boot markers: the first guest output byte, and debug port codes. */
        _Atomic double first_output;
};

/*
 * Creates the VM's lasting parts: guest memory, buses, devices, and loads the payload into guest memory
 * (so a bad kernel or initramfs is reported before KVM is touched). Nothing runs yet.
 */
int vm_new(const VmConfig *config, const VmHost *host, Vm **ret, char *err, size_t errlen);
Vm *vm_free(Vm *vm);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vm *, vm_free);

/* Creates the KVM VM and vCPUs and starts the vCPU threads; a reboot loads the payload afresh. */
int vm_start(Vm *vm, Kvm *kvm, char *err, size_t errlen);
/* Stops and joins the vCPU threads and closes the KVM VM. Safe to call twice. */
void vm_stop(Vm *vm);
/* Asks the VM to stop with reason r (the first request after a start wins). Thread-safe. */
void vm_request(Vm *vm, VmRequest r);
/* Reads and clears the pending request (after event_fd became readable). */
VmRequest vm_take_request(Vm *vm);
/*
 * Stops every vCPU outside KVM_RUN and returns once all are parked; the guest's clock stops with them.
 * Pausing a paused VM, or one that is going down, fails with a message in err.
 */
int vm_pause(Vm *vm, char *err, size_t errlen);
/* Lets the vCPUs run again, the guest's clock going on from where it stopped. */
int vm_resume(Vm *vm, char *err, size_t errlen);
/* The VM's state as Cloud Hypervisor names it: "Running" or "Paused". */
const char *vm_state(const Vm *vm);
/* Cloud Hypervisor's vm.counters: an object with one member per block and net device id. */
cJSON *vm_counters(Vm *vm);
/* Presses the ACPI power button: the guest hears of it through the Generic Event Device. */
void vm_power_button(Vm *vm);

/* vm-devices.c: the virtio devices of the configuration, on the PCI bus. */
int vm_create_devices(Vm *vm, char *err, size_t errlen);
/* A machine reset: every device and PCI function back to its power-on state. */
void vm_reset_devices(Vm *vm);
/* The device workers wait while the VM is paused (with its vCPUs stopped first) and go on after. */
void vm_pause_devices(Vm *vm);
void vm_resume_devices(Vm *vm);
void vm_free_devices(Vm *vm);
