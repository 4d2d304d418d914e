#!/usr/bin/env bash
# Make the test guest's initramfs.
#
# Usage: make-initramfs.sh OUTPUT.cpio.gz INIT_BINARY
#
# The archive (cpio "newc", gzip compressed) holds:
#   /dev  /dev/console (char 5,1)  /proc  /sys  /init (INIT_BINARY)
# It is written directly by this script, so no root privileges are needed to
# create the device node, and it is byte-for-byte reproducible (every entry
# is owned by root with mtime 0).

set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 OUTPUT.cpio.gz INIT_BINARY" >&2
    exit 2
fi
output=$1
init=$2
[[ -f $init ]] || { echo "make-initramfs: no such file: $init" >&2; exit 1; }

ino=0

# newc_entry NAME MODE NLINK RDEVMAJOR RDEVMINOR [DATAFILE]
# Writes one newc header (13 fields of 8 hex digits after the magic), the
# name with its NUL, padding to 4 bytes, then the data, padded to 4 bytes.
newc_entry() {
    local name=$1 mode=$2 nlink=$3 rmaj=$4 rmin=$5 data=${6:-}
    local size=0 namesize=$((${#1} + 1))
    [[ -n $data ]] && size=$(stat -c %s -- "$data")
    ino=$((ino + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 "$nlink" 0 "$size" 0 0 "$rmaj" "$rmin" "$namesize" 0
    printf '%s\0' "$name"
    # The 110-byte header plus the name is padded to a multiple of 4.
    head -c $(((4 - (110 + namesize) % 4) % 4)) /dev/zero
    if [[ -n $data ]]; then
        cat -- "$data"
        head -c $(((4 - size % 4) % 4)) /dev/zero
    fi
}

tmp="$output.tmp.$$"
trap 'rm -f "$tmp"' EXIT
{
    newc_entry dev $((0040755)) 2 0 0
    newc_entry dev/console $((0020600)) 1 5 1
    newc_entry proc $((0040555)) 2 0 0
    newc_entry sys $((0040555)) 2 0 0
    newc_entry init $((0100755)) 1 0 0 "$init"
    newc_entry 'TRAILER!!!' 0 1 0 0
} | gzip -9 -n >"$tmp"
mv -f "$tmp" "$output"
trap - EXIT
