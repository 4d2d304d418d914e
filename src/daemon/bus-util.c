/* SPDX-License-Identifier: Apache-2.0 */
#include "bus-util.h"
#include "vm.h"

int bus_check_privileged(sd_bus_message *m, const char *what, sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid != 0)
                return sd_bus_error_setf(error, CHV_ERROR_ACCESS_DENIED,
                                         "%s is for root only: run the command as root (with sudo, for example)",
                                         what);
        return 1;
}

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
