/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark loop, at CPL3: keeps qd requests (virtio-blk) or frames (virtio-net) in flight until
 * count have completed, polling the used ring. Like user-mode.c, everything here lives in the user page and
 * calls nothing outside this file but static inline helpers.
 */
#include "bench.h"

#define CMOS_INDEX      0x70
#define CMOS_DATA       0x71
#define SPINS_PER_CLOCK (1u << 16)

struct bench_job bench_job;

/* A 64-bit LCG (Knuth's MMIX constants): deterministic offsets for the random modes. */
static uint64_t next_block(struct bench_job *j)
{
        uint32_t n = j->submitted;

        if (j->mode == BENCH_SEQREAD || j->mode == BENCH_SEQWRITE)
                return n % j->slots;
        j->seed = j->seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return (j->seed >> 33) % j->slots;
}

static void submit(struct bench_job *j, uint32_t slot)
{
        bool write = j->mode == BENCH_RANDWRITE || j->mode == BENCH_SEQWRITE;

        if (j->statuses) {
                /* Field by field: a structure copy could become a call to memcpy(), outside the user page.
                 */
                j->reqs[slot].type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
                j->reqs[slot].sector = next_block(j) * j->sectors_per_io;
                j->statuses[slot] = BLK_STATUS_UNSET;
        }
        j->avail->ring[j->avail_idx % j->size] = (uint16_t) (j->descs_per_slot * slot);
        j->avail_idx++;
        j->submitted++;
}

static void publish_and_kick(struct bench_job *j)
{
        barrier_compiler();
        j->avail->idx = j->avail_idx;
        barrier_full();
        if (!(j->used->flags & VIRTQ_USED_F_NO_NOTIFY)) {
                mmio_write16(j->notify, j->queue_index);
                j->notifications++;
        }
}

static uint8_t rtc_seconds(void)
{
        outb(CMOS_INDEX, 0);
        return inb(CMOS_DATA);
}

void bench_main(void)
{
        struct bench_job *j = &bench_job;
        uint32_t spins = 0, stall_seconds = 0;
        uint8_t second = rtc_seconds();

        debug_marker(MARK_BENCH_START);
        for (uint32_t slot = 0; slot < j->qd && j->submitted < j->count; slot++)
                submit(j, slot);
        publish_and_kick(j);

        while (j->completed < j->count) {
                bool progress = false, more = false;

                while (j->used->idx != j->last_used) {
                        uint32_t id = j->used->ring[j->last_used % j->size].id,
                                 slot = id / j->descs_per_slot;
                        bool valid = id % j->descs_per_slot == 0 && slot < j->qd;

                        j->last_used++;
                        j->completed++;
                        progress = true;
                        if (!valid || (j->statuses && j->statuses[slot] != VIRTIO_BLK_S_OK))
                                j->errors++;
                        if (valid && j->submitted < j->count) {
                                submit(j, slot);
                                more = true;
                        }
                }
                if (more)
                        publish_and_kick(j);
                if (progress) {
                        spins = 0;
                        stall_seconds = 0;
                        continue;
                }
                cpu_relax();
                /* A device that stops answering must not hold the guest forever. */
                if (++spins % SPINS_PER_CLOCK == 0 && rtc_seconds() != second) {
                        second = rtc_seconds();
                        if (++stall_seconds > BENCH_STALL_SECONDS) {
                                j->stalled = true;
                                break;
                        }
                }
        }
        debug_marker(MARK_BENCH_END);

        __asm__ volatile("int %0" : : "i"(USER_RETURN_VECTOR) : "memory");
        for (;;)
                ;
}
