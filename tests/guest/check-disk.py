#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# The test guest's disk pattern on the host side (see pattern_word() in platform.h): 64-bit
# little-endian words, word k of the disk being x ^ (x >> 29) with x = k * 0x9e3779b97f4a7c15 + seed.
#
#   check-disk.py check IMAGE SEED OFFSET LENGTH   exit 0 iff the bytes match, else say where not
#   check-disk.py fill IMAGE SEED                  write the pattern over the whole image
#
# SEED, OFFSET and LENGTH are numbers (0x for hexadecimal); OFFSET and LENGTH multiples of 8.

import struct
import sys

MASK = (1 << 64) - 1


def pattern(seed, offset, length):
    words = []
    for k in range(offset // 8, (offset + length) // 8):
        x = (k * 0x9E3779B97F4A7C15 + seed) & MASK
        words.append(x ^ (x >> 29))
    return struct.pack("<%dQ" % len(words), *words)


def usage():
    sys.stderr.write("usage: check-disk.py check IMAGE SEED OFFSET LENGTH | fill IMAGE SEED\n")
    sys.exit(2)


def main(argv):
    if len(argv) < 4 or argv[1] not in ("check", "fill"):
        usage()
    image, seed = argv[2], int(argv[3], 0)
    if argv[1] == "fill":
        with open(image, "r+b") as f:
            size = f.seek(0, 2)
            f.seek(0)
            chunk = 1 << 20
            for off in range(0, size - size % 8, chunk):
                f.write(pattern(seed, off, min(chunk, size - size % 8 - off)))
        return 0
    if len(argv) != 6:
        usage()
    offset, length = int(argv[4], 0), int(argv[5], 0)
    if offset % 8 or length % 8:
        usage()
    with open(image, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    want = pattern(seed, offset, length)
    if len(data) != length:
        print("check-disk.py: %s has only %d of %d bytes at offset %d" % (image, len(data), length, offset))
        return 1
    if data != want:
        at = next(i for i in range(length) if data[i] != want[i])
        print("check-disk.py: %s differs from pattern 0x%x at byte %d (sector %d): 0x%02x, expected 0x%02x"
              % (image, seed, offset + at, (offset + at) // 512, data[at], want[at]))
        return 1
    print("check-disk.py: %s bytes %d..%d match pattern 0x%x" % (image, offset, offset + length - 1, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
