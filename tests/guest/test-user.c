/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario user: run code at CPL3 with IOPL 3 and come back through a DPL 3 interrupt gate. */
#include "guest.h"

const char *scenario_user(void)
{
        uint64_t *pde = &boot_pd[USER_BASE >> 21];
        unsigned cpl;

        /* The user page: image code and data at USER_BASE, the stack below USER_STACK_TOP, the buffer. */
        *pde |= PTE_USER;
        write_cr3(read_cr3());

        /* The ABI wants the stack as if a return address had just been pushed. */
        enter_user(user_main, USER_STACK_TOP - 8);

        *pde &= ~(uint64_t) PTE_USER;
        write_cr3(read_cr3());

        cpl = read_cs() & 3;
        print("user: back at cpl=%u\n", cpl);
        if (!user_report.started)
                return "CPL3 code did not run";
        if ((user_report.cs & 3) != 3)
                return "CPL3 code did not run at CPL3";
        if (!user_report.finished)
                return "CPL3 code did not finish";
        if (user_report.checksum != USER_CHECKSUM_EXPECTED) {
                print("user: expected checksum=0x%08x\n", USER_CHECKSUM_EXPECTED);
                return "wrong checksum";
        }
        if (cpl != 0)
                return "not back at CPL0";
        return NULL;
}
