#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# net-responder.py IFNAME [SECONDS]
#
# Answers the test guest's virtio-net scenario on the host side of its tap device: every Ethernet frame
# of type 0x88b5 whose payload starts with "chv-test-guest ping" gets a frame of the same type back, to
# its sender, saying "chv-test-host pong". Prints a line for each of the first 20 frames of that type
# and then only counts them; ends after SECONDS (default 300).

import signal
import socket
import sys
import time

ETHERTYPE = 0x88B5
ETH_ZLEN = 60
SHOWN = 20


def mac_text(b):
    return ":".join("%02x" % x for x in b)


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: net-responder.py IFNAME [SECONDS]\n")
        return 2
    ifname = argv[1]
    deadline = time.monotonic() + (float(argv[2]) if len(argv) == 3 else 300.0)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
    s.bind((ifname, ETHERTYPE))
    # The interface's hardware address, as the bound socket reports it (sysfs may show another namespace).
    own = s.getsockname()[4][:6]
    print("net-responder: listening on %s (%s)" % (ifname, mac_text(own)), flush=True)
    seen = [0]
    # Stopped with SIGTERM by the test: still say how many frames came.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(s, own, deadline, seen)
    finally:
        print("net-responder: %d frames of type 0x%04x" % (seen[0], ETHERTYPE), flush=True)
    return 0


def serve(s, own, deadline, seen):
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            frame = s.recv(4096)
        except socket.timeout:
            break
        if len(frame) < 14 or int.from_bytes(frame[12:14], "big") != ETHERTYPE:
            continue
        payload = frame[14:].split(b"\0", 1)[0]
        seen[0] += 1
        if seen[0] <= SHOWN:
            print("net-responder: %d bytes from %s: %r" % (len(frame), mac_text(frame[6:12]), payload),
                  flush=True)
        if not payload.startswith(b"chv-test-guest ping"):
            continue
        reply = frame[6:12] + own + ETHERTYPE.to_bytes(2, "big") + b"chv-test-host pong"
        s.send(reply.ljust(ETH_ZLEN, b"\0"))
        print("net-responder: replied to %s" % mac_text(frame[6:12]), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
