#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bad-input.sh PATTERN [--no-file] -- CHV_VMM [ARGS...]
#
# Runs chv-vmm with bad input and checks that it fails as a tool should: exit status 1 (not a crash),
# exactly one line on standard error matching the extended regular expression PATTERN, nothing on
# standard output, and no serial output file left behind. Arguments may name files this script
# makes first:
#   @EMPTY@           an empty file          @RANDOM@     4 KiB of random bytes
#   @TRUNCATED_ELF@   the first 100 bytes of the test guest (CHV_TEST_GUEST)
#   @OLD_BZIMAGE@     a bzImage header of boot protocol 2.01
#   @BIG_64M@         a sparse file of 65 MiB     @BIG_63M@    a sparse file of 63 MiB
#   @SERIAL_OUT@      a path that must not exist afterwards
#   @LONG_CMDLINE@    5000 characters
set -euo pipefail

pattern=$1
shift
[ "$1" = -- ] && shift

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

: >"$work/empty"
head -c 4096 /dev/urandom >"$work/random"
head -c 100 "${CHV_TEST_GUEST:?CHV_TEST_GUEST must name the test guest}" >"$work/truncated.elf"
python3 - "$work/old.bzImage" <<'PY'
import struct, sys
img = bytearray(8192)
img[0x1f1] = 4
struct.pack_into('<H', img, 0x1fe, 0xaa55)
img[0x201] = 0x44
struct.pack_into('<I', img, 0x202, 0x53726448)
struct.pack_into('<H', img, 0x206, 0x0201)
open(sys.argv[1], 'wb').write(img)
PY
truncate -s 65M "$work/big64"
truncate -s 63M "$work/big63"
long=$(head -c 5000 /dev/zero | tr '\0' x)

args=()
for a in "$@"; do
    a=${a//@EMPTY@/$work/empty}
    a=${a//@RANDOM@/$work/random}
    a=${a//@TRUNCATED_ELF@/$work/truncated.elf}
    a=${a//@OLD_BZIMAGE@/$work/old.bzImage}
    a=${a//@BIG_64M@/$work/big64}
    a=${a//@BIG_63M@/$work/big63}
    a=${a//@SERIAL_OUT@/$work/serial.out}
    a=${a//@LONG_CMDLINE@/$long}
    args+=("$a")
done

set +e
"${args[@]}" >"$work/out" 2>"$work/err" </dev/null
status=$?
set -e

failed=0
fail() { echo "FAIL: $*"; failed=1; }
[ "$status" = 1 ] || fail "exit status $status, expected 1"
lines=$(wc -l <"$work/err")
[ "$lines" = 1 ] || fail "$lines lines on standard error, expected exactly one"
grep -qE -- "$pattern" "$work/err" || fail "standard error does not match: $pattern"
[ -s "$work/out" ] && fail "unexpected standard output"
[ -e "$work/serial.out" ] && fail "the serial output file was left behind"

echo "--- command: ${args[*]:0:12}"
echo "--- exit status: $status"
echo "--- standard error:"
cat "$work/err"
exit $failed
