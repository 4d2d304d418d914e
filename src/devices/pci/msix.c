/* SPDX-License-Identifier: Apache-2.0 */
#include "pci-internal.h"

/* Message Address bits 1:0 keep DWORD alignment: read-only 0 here. */
#define MSIX_ADDR_LO_MASK (~UINT32_C(0x3))

typedef struct MsixGate {
        bool enabled, function_masked, bus_master;
} MsixGate;

static bool msix_gate_open(MsixGate g)
{
        return g.enabled && !g.function_masked && g.bus_master;
}

static MsixGate msix_gate(const Msix *m)
{
        return (MsixGate) { m->enabled, m->function_masked, m->bus_master };
}

static bool msix_entry_deliverable(MsixGate g, const MsixEntry *e)
{
        return msix_gate_open(g) && !(e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static uint64_t msix_entry_addr(const MsixEntry *e)
{
        return (uint64_t) e->addr_hi << 32 | e->addr_lo;
}

static bool msix_pending(const Msix *m, uint16_t v)
{
        return m->pba[v / 64] & (UINT64_C(1) << (v % 64));
}

static void msix_set_pending(Msix *m, uint16_t v, bool on)
{
        if (on)
                m->pba[v / 64] |= UINT64_C(1) << (v % 64);
        else
                m->pba[v / 64] &= ~(UINT64_C(1) << (v % 64));
}

void msix_free(Msix *m)
{
        if (!m)
                return;
        free(m->table);
        free(m->pba);
        free(m);
}

static bool msix_bar_ok(const PciDevice *dev, unsigned bar, uint32_t offset, uint32_t size)
{
        const PciBar *b = &dev->bars[bar];

        if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
                return false;
        return (offset & 0x7) == 0 && (uint64_t) offset + size <= b->size;
}

int msix_init(PciDevice *dev, uint16_t n_vectors, unsigned table_bar, uint32_t table_offset,
              unsigned pba_bar, uint32_t pba_offset, uint16_t *ret_cap_offset)
{
        uint8_t cap[PCI_CAP_MSIX_SIZEOF] = {};
        uint32_t tsize, psize;
        uint16_t off;
        Msix *m;
        int r;

        if (!dev || n_vectors == 0 || n_vectors > MSIX_MAX_VECTORS || table_bar >= PCI_NUM_BARS ||
            pba_bar >= PCI_NUM_BARS)
                return -EINVAL;
        if (dev->bus)
                return -EBUSY;
        if (dev->msix)
                return -EEXIST;

        tsize = msix_table_size(n_vectors);
        psize = msix_pba_size(n_vectors);
        if (!msix_bar_ok(dev, table_bar, table_offset, tsize) ||
            !msix_bar_ok(dev, pba_bar, pba_offset, psize))
                return -EINVAL;
        if (table_bar == pba_bar && table_offset < (uint64_t) pba_offset + psize &&
            pba_offset < (uint64_t) table_offset + tsize)
                return -EINVAL;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->table = calloc(n_vectors, sizeof *m->table);
        m->pba = calloc(psize / 8, sizeof *m->pba);
        if (!m->table || !m->pba) {
                msix_free(m);
                return -ENOMEM;
        }
        /* Every vector starts masked (PCIe base spec, MSI-X Table Entries). */
        for (unsigned i = 0; i < n_vectors; i++)
                m->table[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
        m->n_vectors = n_vectors;
        m->table_bar = (uint8_t) table_bar;
        m->pba_bar = (uint8_t) pba_bar;
        m->table_offset = table_offset;
        m->pba_offset = pba_offset;

        pci_config_put16(cap, PCI_MSIX_FLAGS, (uint16_t) (n_vectors - 1));
        pci_config_put32(cap, PCI_MSIX_TABLE, table_offset | table_bar);
        pci_config_put32(cap, PCI_MSIX_PBA, pba_offset | pba_bar);
        r = pci_device_add_capability(dev, PCI_CAP_ID_MSIX, cap, sizeof cap, &off);
        if (r < 0) {
                msix_free(m);
                return r;
        }
        /* Only MSI-X Enable and Function Mask are writable; the table size is read-only. */
        pci_config_put16(dev->wmask, off + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        m->cap = off;
        dev->msix = m;

        if (ret_cap_offset)
                *ret_cap_offset = off;
        return 0;
}

uint16_t msix_n_vectors(const PciDevice *dev)
{
        return dev && dev->msix ? dev->msix->n_vectors : 0;
}

static bool region_overlaps(uint64_t offset, uint32_t len, uint64_t start, uint64_t size)
{
        return offset < start + size && start < offset + len;
}

bool msix_contains(const PciDevice *dev, unsigned bar, uint64_t offset, uint32_t len)
{
        const Msix *m = dev->msix;

        if (!m)
                return false;
        return (bar == m->table_bar &&
                region_overlaps(offset, len, m->table_offset, msix_table_size(m->n_vectors))) ||
               (bar == m->pba_bar &&
                region_overlaps(offset, len, m->pba_offset, msix_pba_size(m->n_vectors)));
}

/* Naturally aligned 4- and 8-byte accesses only; both regions are 8-byte aligned, so an access that
 * passes this is entirely inside one of them. */
static bool msix_access_ok(uint64_t offset, uint32_t len)
{
        return (len == 4 || len == 8) && offset % len == 0;
}

static bool msix_in_table(const Msix *m, unsigned bar, uint64_t offset)
{
        return bar == m->table_bar && offset >= m->table_offset &&
               offset - m->table_offset < msix_table_size(m->n_vectors);
}

static bool msix_in_pba(const Msix *m, unsigned bar, uint64_t offset)
{
        return bar == m->pba_bar && offset >= m->pba_offset &&
               offset - m->pba_offset < msix_pba_size(m->n_vectors);
}

static uint32_t *msix_entry_dword(Msix *m, uint64_t dword)
{
        MsixEntry *e = &m->table[dword / 4];

        switch (dword % 4) {
        case 0:
                return &e->addr_lo;
        case 1:
                return &e->addr_hi;
        case 2:
                return &e->data;
        default:
                return &e->ctrl;
        }
}

void msix_bar_read(PciDevice *dev, unsigned bar, uint64_t offset, uint8_t *data, uint32_t len)
{
        Msix *m = dev->msix;

        memset(data, 0, len);
        if (!msix_access_ok(offset, len))
                return;

        pthread_mutex_lock(&dev->irq_lock);
        if (msix_in_table(m, bar, offset)) {
                uint64_t first = (offset - m->table_offset) / 4;
                for (uint32_t k = 0; k < len / 4; k++)
                        pci_put_le(data + 4 * k, *msix_entry_dword(m, first + k), 4);
        } else if (msix_in_pba(m, bar, offset)) {
                uint64_t first = (offset - m->pba_offset) / 4;
                for (uint32_t k = 0; k < len / 4; k++) {
                        uint64_t d = first + k;
                        pci_put_le(data + 4 * k, (uint32_t) (m->pba[d / 2] >> (32 * (d % 2))), 4);
                }
        }
        pthread_mutex_unlock(&dev->irq_lock);
}

void msix_bar_write(PciDevice *dev, unsigned bar, uint64_t offset, const uint8_t *data, uint32_t len)
{
        Msix *m = dev->msix;
        PciBus *bus = __atomic_load_n(&dev->bus, __ATOMIC_ACQUIRE);
        MsixEntry old, now;
        bool changed, deliverable, fire = false;
        uint64_t first;
        uint16_t v;

        /* The PBA is read-only. */
        if (!msix_access_ok(offset, len) || !msix_in_table(m, bar, offset) || !bus)
                return;

        first = (offset - m->table_offset) / 4;
        v = (uint16_t) (first / 4); /* an aligned access of at most 8 bytes stays in one entry */

        pthread_mutex_lock(&bus->lock);
        if (dev->bus != bus) {
                /* Taken off the bus while this access was on its way. */
                pthread_mutex_unlock(&bus->lock);
                return;
        }
        pthread_mutex_lock(&dev->irq_lock);
        old = m->table[v];
        for (uint32_t k = 0; k < len / 4; k++) {
                uint64_t d = first + k;
                uint32_t val = pci_get_le(data + 4 * k, 4);

                switch (d % 4) {
                case 0:
                        val &= MSIX_ADDR_LO_MASK;
                        break;
                case 3:
                        val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
                        break;
                default:
                        break;
                }
                *msix_entry_dword(m, d) = val;
        }
        now = m->table[v];
        changed = memcmp(&old, &now, sizeof now) != 0;
        deliverable = msix_entry_deliverable(msix_gate(m), &now);
        /* Unmasking a vector with its pending bit set sends the message it held back. */
        if (deliverable && msix_pending(m, v)) {
                msix_set_pending(m, v, false);
                fire = true;
        }
        pthread_mutex_unlock(&dev->irq_lock);

        if (changed && dev->cb && dev->cb->vector_changed)
                dev->cb->vector_changed(dev->cb_ctx, v, msix_entry_addr(&now), now.data, !deliverable);
        if (fire && dev->cb && dev->cb->deliver)
                dev->cb->deliver(dev->cb_ctx, v, msix_entry_addr(&now), now.data);
        pthread_mutex_unlock(&bus->lock);
}

void msix_config_changed_locked(PciDevice *dev)
{
        uint64_t fire[MSIX_MAX_VECTORS / 64] = {};
        Msix *m = dev->msix;
        uint16_t ctrl = pci_config_get16(dev, m->cap + PCI_MSIX_FLAGS);
        MsixGate old, now = {
                .enabled = ctrl & PCI_MSIX_FLAGS_ENABLE,
                .function_masked = ctrl & PCI_MSIX_FLAGS_MASKALL,
                .bus_master = pci_config_get16(dev, PCI_COMMAND) & PCI_COMMAND_MASTER,
        };
        bool all;

        pthread_mutex_lock(&dev->irq_lock);
        old = msix_gate(m);
        if (old.enabled == now.enabled && old.function_masked == now.function_masked &&
            old.bus_master == now.bus_master) {
                pthread_mutex_unlock(&dev->irq_lock);
                return;
        }
        m->enabled = now.enabled;
        m->function_masked = now.function_masked;
        m->bus_master = now.bus_master;
        for (uint16_t v = 0; v < m->n_vectors; v++)
                if (msix_pending(m, v) && msix_entry_deliverable(now, &m->table[v])) {
                        msix_set_pending(m, v, false);
                        fire[v / 64] |= UINT64_C(1) << (v % 64);
                }
        /* While MSI-X is enabled the function must not use INTx. */
        pci_device_update_intx_locked(dev);
        pthread_mutex_unlock(&dev->irq_lock);

        /* The table only changes under the bus lock, which we hold: no need for the interrupt lock. */
        all = old.enabled != now.enabled || old.function_masked != now.function_masked;
        for (uint16_t v = 0; v < m->n_vectors; v++) {
                const MsixEntry *e = &m->table[v];
                bool was = msix_entry_deliverable(old, e), is = msix_entry_deliverable(now, e);

                if ((all || was != is) && dev->cb && dev->cb->vector_changed)
                        dev->cb->vector_changed(dev->cb_ctx, v, msix_entry_addr(e), e->data, !is);
        }
        for (uint16_t v = 0; v < m->n_vectors; v++)
                if ((fire[v / 64] & (UINT64_C(1) << (v % 64))) && dev->cb && dev->cb->deliver)
                        dev->cb->deliver(dev->cb_ctx, v, msix_entry_addr(&m->table[v]), m->table[v].data);
}

int msix_notify(PciDevice *dev, uint16_t vector)
{
        Msix *m;
        MsixEntry e;

        if (!dev || !dev->msix || vector >= dev->msix->n_vectors)
                return -EINVAL;
        m = dev->msix;

        pthread_mutex_lock(&dev->irq_lock);
        if (!m->enabled) {
                pthread_mutex_unlock(&dev->irq_lock);
                return MSIX_NOTIFY_DISABLED;
        }
        e = m->table[vector];
        if (!msix_entry_deliverable(msix_gate(m), &e)) {
                msix_set_pending(m, vector, true);
                pthread_mutex_unlock(&dev->irq_lock);
                return MSIX_NOTIFY_PENDING;
        }
        pthread_mutex_unlock(&dev->irq_lock);

        if (dev->cb && dev->cb->deliver)
                dev->cb->deliver(dev->cb_ctx, vector, msix_entry_addr(&e), e.data);
        return MSIX_NOTIFY_DELIVERED;
}

int msix_vector_get(PciDevice *dev, uint16_t vector, uint64_t *ret_addr, uint32_t *ret_data,
                    bool *ret_masked)
{
        MsixEntry e;
        bool deliverable;

        if (!dev || !dev->msix || vector >= dev->msix->n_vectors)
                return -EINVAL;

        pthread_mutex_lock(&dev->irq_lock);
        e = dev->msix->table[vector];
        deliverable = msix_entry_deliverable(msix_gate(dev->msix), &e);
        pthread_mutex_unlock(&dev->irq_lock);

        if (ret_addr)
                *ret_addr = msix_entry_addr(&e);
        if (ret_data)
                *ret_data = e.data;
        if (ret_masked)
                *ret_masked = !deliverable;
        return 0;
}

bool msix_vector_pending(PciDevice *dev, uint16_t vector)
{
        bool r;

        if (!dev || !dev->msix || vector >= dev->msix->n_vectors)
                return false;
        pthread_mutex_lock(&dev->irq_lock);
        r = msix_pending(dev->msix, vector);
        pthread_mutex_unlock(&dev->irq_lock);
        return r;
}

bool msix_is_enabled(PciDevice *dev)
{
        bool r;

        if (!dev || !dev->msix)
                return false;
        pthread_mutex_lock(&dev->irq_lock);
        r = dev->msix->enabled;
        pthread_mutex_unlock(&dev->irq_lock);
        return r;
}

void msix_reset_locked(PciDevice *dev)
{
        Msix *m = dev->msix;

        pthread_mutex_lock(&dev->irq_lock);
        for (unsigned i = 0; i < m->n_vectors; i++)
                m->table[i] = (MsixEntry) { .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
        memset(m->pba, 0, msix_pba_size(m->n_vectors));
        pthread_mutex_unlock(&dev->irq_lock);
}
