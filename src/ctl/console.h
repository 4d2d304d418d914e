/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

/*
 * Copies between the terminal (or standard input and output) and a VM's console fd until the console
 * closes (the VM stopped), Ctrl-] is typed on a terminal, or SIGINT/SIGTERM arrives. A terminal is put
 * in raw mode meanwhile. A console that is a file (read_only) is followed as tail -f does, as long as
 * still_running() says the VM runs. Returns 0, or a negative errno.
 */
int console_relay(int fd, bool read_only, bool (*still_running)(void *userdata), void *userdata);
