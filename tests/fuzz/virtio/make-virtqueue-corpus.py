#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of the virtqueue fuzz target (fuzz-virtqueue.c): a 16-byte header choosing the
queue, then the first bytes of guest memory with rings, descriptors and indirect tables laid out, valid
and malformed. Memory beyond the input is zero.

Usage: make-virtqueue-corpus.py [DIRECTORY]   (default: corpus next to this script)
"""

import os
import struct
import sys

NEXT, WRITE, INDIRECT = 1, 2, 4
INDIRECT_DESC, EVENT_IDX = 1, 2
BATCH, TOGGLE, FILL, SHORT = 1, 2, 4, 8
HOLD = 4
HIGH = 1 << 32
REGION = 0x10000

# Usual layout in the low region.
DESC, AVAIL, USED, TABLE, BUF = 0x000, 0x400, 0x600, 0x800, 0x1000


def header(qsize, features=0, segments=64, desc=DESC, avail=AVAIL, used=USED, high=0, behaviour=0,
           raw_size=None, driver=0, start=0):
    if raw_size is not None:
        b0, raw = 0x80, raw_size
    else:
        b0, raw = qsize.bit_length() - 1, 0
    return struct.pack("<BHBHHHBBBxH", b0, raw, features | (segments - 1) << 2, desc, avail, used, high,
                       behaviour, driver, start)


class Memory:
    def __init__(self):
        self.low = bytearray()
        self.high = bytearray()

    def put(self, gpa, data):
        region, off = (self.high, gpa - HIGH) if gpa >= HIGH else (self.low, gpa)
        if len(region) < off + len(data):
            region.extend(bytes(off + len(data) - len(region)))
        region[off:off + len(data)] = data

    def desc(self, table, i, addr, length, flags=0, nxt=0):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, table, first, segs, table_len=None):
        """segs: (addr, len, write) linked with NEXT from entry first on."""
        for k, (addr, length, write) in enumerate(segs):
            last = k == len(segs) - 1
            i = first + k if table_len is None else (first + k) % table_len
            nxt = 0 if last else (i + 1 if table_len is None else (i + 1) % table_len)
            self.desc(table, i, addr, length, (WRITE if write else 0) | (0 if last else NEXT), nxt)

    def avail(self, heads, avail=AVAIL, idx=None, flags=0, used_event=0, qsize=8):
        self.put(avail, struct.pack("<HH", flags, len(heads) if idx is None else idx))
        self.put(avail + 4, struct.pack("<%dH" % len(heads), *heads))
        self.put(avail + 4 + 2 * qsize, struct.pack("<H", used_event))

    def image(self, hdr):
        low = bytes(self.low)
        if self.high:
            low = low + bytes(REGION - len(low))
        return hdr + low + bytes(self.high)


def seeds():
    out = {}

    m = Memory()
    m.desc(DESC, 0, BUF, 64)
    m.avail([0])
    out["one-readable"] = m.image(header(8))

    m = Memory()
    m.chain(DESC, 2, [(BUF, 16, False), (BUF + 0x100, 512, False), (BUF + 0x400, 1, True)])
    m.avail([2])
    out["block-request"] = m.image(header(8, behaviour=FILL))

    m = Memory()
    for i in range(4):
        m.desc(DESC, i, BUF + i * 0x800, 0x800, WRITE)
    m.avail([3, 1, 0, 2], used_event=2)
    out["four-chains-event-idx-batch"] = m.image(header(8, EVENT_IDX, behaviour=BATCH | TOGGLE))

    m = Memory()
    m.chain(TABLE, 0, [(BUF, 16, False), (BUF + 0x100, 32, True), (BUF + 0x200, 64, True)])
    m.desc(DESC, 1, TABLE, 3 * 16, INDIRECT)
    m.avail([1])
    out["indirect"] = m.image(header(8, INDIRECT_DESC | EVENT_IDX))

    m = Memory()
    m.chain(TABLE + 3, 0, [(BUF, 16, False), (BUF + 0x100, 32, True)])
    m.desc(DESC, 0, TABLE + 3, 2 * 16, INDIRECT)
    m.avail([0])
    out["indirect-unaligned-table"] = m.image(header(8, INDIRECT_DESC))

    m = Memory()
    m.chain(TABLE, 0, [(BUF, 16, False)])
    m.desc(DESC, 0, BUF, 16, NEXT, 1)
    m.desc(DESC, 1, TABLE, 16, INDIRECT)
    m.avail([0])
    out["indirect-after-direct"] = m.image(header(8, INDIRECT_DESC))

    m = Memory()
    m.chain(TABLE, 0, [(BUF, 16, False)])
    m.desc(DESC, 0, TABLE, 16, INDIRECT)
    m.avail([0])
    out["indirect-not-negotiated"] = m.image(header(8))

    m = Memory()
    m.desc(TABLE + 0x100, 0, BUF, 16)
    m.desc(TABLE, 0, TABLE + 0x100, 16, INDIRECT)
    m.desc(DESC, 0, TABLE, 16, INDIRECT)
    m.avail([0])
    out["indirect-in-indirect"] = m.image(header(8, INDIRECT_DESC))

    m = Memory()
    m.desc(TABLE, 0, BUF, 16)
    m.desc(DESC, 0, TABLE, 16, INDIRECT | NEXT, 1)
    m.desc(DESC, 1, BUF, 16)
    m.avail([0])
    out["indirect-with-next"] = m.image(header(8, INDIRECT_DESC))

    for name, length in (("indirect-length-24", 24), ("indirect-length-0", 0)):
        m = Memory()
        m.desc(TABLE, 0, BUF, 16)
        m.desc(DESC, 0, TABLE, length, INDIRECT)
        m.avail([0])
        out[name] = m.image(header(8, INDIRECT_DESC))

    m = Memory()
    m.desc(TABLE, 0, BUF, 16, NEXT, 1)
    m.desc(TABLE, 1, BUF, 16, NEXT, 0)
    m.desc(DESC, 0, TABLE, 32, INDIRECT)
    m.avail([0])
    out["indirect-loop"] = m.image(header(8, INDIRECT_DESC))

    m = Memory()
    m.desc(DESC, 0, BUF, 16, NEXT, 1)
    m.desc(DESC, 1, BUF, 16, NEXT, 0)
    m.avail([0])
    out["loop"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 5, BUF, 16, NEXT | WRITE, 5)
    m.avail([5])
    out["self-loop"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, BUF, 16, NEXT, 8)
    m.avail([0])
    out["next-out-of-range"] = m.image(header(8))

    m = Memory()
    m.avail([8])
    out["head-out-of-range"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, BUF, 16)
    m.avail([0], idx=9)
    out["avail-idx-jump"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, BUF, 16)
    m.avail([0] * 8, idx=8)
    out["avail-idx-full"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, REGION, 16)
    m.avail([0])
    out["buffer-outside-ram"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, REGION - 8, 16, WRITE)
    m.avail([0])
    out["buffer-straddles-end"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, 0xfffffffffffffff8, 16)
    m.avail([0])
    out["buffer-wraps"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, HIGH - 8, 16)
    m.avail([0])
    out["buffer-straddles-hole"] = m.image(header(8))

    m = Memory()
    m.chain(DESC, 0, [(BUF, 16, False), (HIGH + 0x100, 0x100, True), (HIGH + REGION - 1, 1, True)])
    m.avail([0])
    out["buffers-high"] = m.image(header(8, behaviour=FILL))

    m = Memory()
    m.desc(HIGH + DESC, 0, HIGH + BUF, 16, NEXT, 1)
    m.desc(HIGH + DESC, 1, BUF, 16, WRITE)
    m.avail([0], avail=HIGH + AVAIL)
    out["rings-high"] = m.image(header(8, EVENT_IDX, high=7))

    m = Memory()
    m.chain(DESC, 0, [(BUF, 16, True), (BUF, 16, False)])
    m.avail([0])
    out["readable-after-writable"] = m.image(header(8))

    m = Memory()
    m.chain(DESC, 0, [(BUF, 16, False), (BUF, 16, False), (BUF, 16, True)])
    m.avail([0])
    out["too-many-segments"] = m.image(header(8, segments=2))

    m = Memory()
    m.chain(DESC, 0, [(BUF, 16, False), (BUF, 0, True)])
    m.avail([0])
    out["zero-length"] = m.image(header(8))

    m = Memory()
    m.desc(DESC, 0, BUF, 16)
    m.avail([0])
    out["size-not-power-of-two"] = m.image(header(0, raw_size=100))
    out["size-zero"] = m.image(header(0, raw_size=0))
    out["desc-misaligned"] = m.image(header(8, desc=DESC + 8))
    out["used-misaligned"] = m.image(header(8, used=USED + 2))
    out["rings-too-large"] = m.image(header(32768))

    # The used ring overlaps the available ring: pushing rewrites avail->idx and the ring entries.
    m = Memory()
    for i in range(8):
        m.desc(DESC, i, BUF + i * 0x100, 0x100, WRITE)
    m.avail([0, 1, 2, 3])
    out["used-overlaps-avail"] = m.image(header(8, used=AVAIL, behaviour=SHORT))

    # Writable buffers over the descriptor table and the available ring.
    m = Memory()
    m.chain(DESC, 0, [(DESC, 0x100, True), (AVAIL, 0x20, True)])
    m.desc(DESC, 2, BUF, 16)
    m.avail([0, 2, 0])
    out["buffers-over-rings"] = m.image(header(8, EVENT_IDX, behaviour=FILL | BATCH))

    # Indices that wrap around 65536 while chains go through.
    m = Memory()
    for i in range(8):
        m.desc(DESC, i, BUF + i * 0x100, 0x100, WRITE)
    m.avail([5, 4, 3, 2, 1, 0, 7, 6], idx=4, used_event=65533)
    out["indices-wrap"] = m.image(header(8, EVENT_IDX, start=65530, driver=1, behaviour=BATCH))

    # A driver that keeps adding chains while the device holds on to them: more than the queue size
    # end up in flight.
    m = Memory()
    for i in range(4):
        m.desc(DESC, i, BUF + i * 0x100, 0x100, WRITE)
    m.avail([0, 1, 2, 3], idx=0, qsize=4)
    out["driver-outruns-device"] = m.image(header(4, driver=1 | HOLD))
    out["driver-keeps-adding"] = m.image(header(4, EVENT_IDX, driver=1, behaviour=TOGGLE))
    out["driver-too-fast"] = m.image(header(4, driver=3))

    m = Memory()
    m.chain(DESC, 0, [(BUF + i * 16, 16, i >= 8) for i in range(16)])
    m.avail([0], qsize=16)
    out["chain-as-long-as-queue"] = m.image(header(16, EVENT_IDX))
    return out


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(directory, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
