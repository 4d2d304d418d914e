/* SPDX-License-Identifier: Apache-2.0 */
#include "bus-util.h"
#include "vm.h"

void quote_for_message(const char *name, size_t max, char *buf, size_t size)
{
        size_t o = 0, i;

        for (i = 0; name[i] && i < max && o + 5 < size; i++)
                buf[o++] = (unsigned char) name[i] >= 0x20 && (unsigned char) name[i] < 0x7f ? name[i] : '?';
        if (name[i] && o + 4 < size) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = 0;
}

int bus_error_invalid_name(sd_bus_error *error, const char *name)
{
        char q[VM_NAME_MAX + 8];

        quote_for_message(name, VM_NAME_MAX, q, sizeof q);
        return sd_bus_error_setf(error, CHV_ERROR_INVALID_NAME,
                                 "\"%s\" is not a valid VM name: use 1 to %u letters, digits, '.', '_' or '-', "
                                 "beginning with a letter or digit",
                                 q, VM_NAME_MAX);
}
