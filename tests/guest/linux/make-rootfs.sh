#!/usr/bin/env bash
# Make the test guest's root file system image.
#
# Usage: make-rootfs.sh OUTPUT.img INIT_BINARY [SIZE_MIB]
#
# An ext4 file system (default 32 MiB) filling the whole image, no partition
# table, so the kernel mounts it with root=/dev/vda. It holds:
#   /sbin/init (INIT_BINARY)  /dev  /proc  /sys  (empty mount points)
# The kernel mounts devtmpfs on /dev itself (CONFIG_DEVTMPFS_MOUNT).
# mkfs.ext4 -d fills the file system from a directory, so no root privileges
# and no loop device are needed. Inode tables and the journal are written out
# in full, so the guest's kernel starts no background initialisation that would
# write to the disk while a test runs.

set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 OUTPUT.img INIT_BINARY [SIZE_MIB]" >&2
    exit 2
fi
output=$1
init=$2
size_mib=${3:-32}
[[ -f $init ]] || { echo "make-rootfs: no such file: $init" >&2; exit 1; }
[[ $size_mib =~ ^[1-9][0-9]*$ ]] ||
    { echo "make-rootfs: size \"$size_mib\" is not a number of MiB" >&2; exit 1; }

mkfs=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.ext4) ||
    { echo "make-rootfs: mkfs.ext4 not found (Debian package e2fsprogs)" >&2; exit 1; }

tmp="$output.tmp.$$"
stage=$(mktemp -d "${TMPDIR:-/tmp}/chv-rootfs.XXXXXX")
trap 'rm -rf "$tmp" "$stage"' EXIT

mkdir -p "$stage/sbin" "$stage/dev" "$stage/proc" "$stage/sys"
install -m 0755 "$init" "$stage/sbin/init"

# mkfs -d lists the files it copies on standard output.
"$mkfs" -q -F -t ext4 -L chv-root -E root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,nodiscard \
    -d "$stage" "$tmp" "${size_mib}M" >/dev/null
mv -f "$tmp" "$output"
trap 'rm -rf "$stage"' EXIT
