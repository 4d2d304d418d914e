#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# kernel-devices-test.sh [OPTIONS] -- VMM INIT_BINARY
#
# Boots the small Linux test kernel (tests/guest/linux) with virtio devices and checks what the kernel
# and its /init (INIT_BINARY, chv-test-init) found. VMM is chv-vmm, or with --qemu a
# qemu-system-x86_64 given the same devices, which shows that the kernel, the root image and these
# checks are sound. Runs where /dev/kvm works (through tests/kvmhost/run), in a network namespace of
# its own.
#
#   --checks LIST   what /init checks, comma-separated (chv_test_init.test=LIST; default "devices"):
#                   virtio, root, rng, console, net, power-button; "devices" is the first five.
#                   The devices follow from the list: root boots from a virtio-blk ext4 image
#                   (root=/dev/vda; otherwise from an initramfs), net puts virtio-net on a tap device
#                   where dnsmasq serves DHCP (ip=dhcp), rng adds virtio-rng, console a virtio console
#                   writing to a file. power-button presses the ACPI power button once /init waits.
#   --image NAME    vmlinux (default) or bzImage
#   --cpus N        vCPUs (default 1)
#   --memory SIZE   guest memory, e.g. 256M or 1G (default 256M)
#   --qemu          VMM is QEMU: -M microvm with ACPI and PCIe, on KVM where it runs guest userspace,
#                   else on TCG
#   --qemu-machine M  microvm (default) or q35
#   --keep DIR      copy the work files there: root image, serial and console output, dnsmasq's log
#                   and leases
#   --without DEV   leave out the device DEV (disk, net, rng or console) although the checks want it:
#                   the test then passes only if /init reports that the check of that device failed
#                   (root for disk) and every other check passed
#
# Exit status: 0 passed, 1 failed, 77 skipped (a KVM that cannot run guest userspace, or no root for
# the tap device).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kvmhost_run=${KVMHOST_RUN:-$top/tests/kvmhost/run}
PATH=$PATH:/usr/sbin:/sbin

usage() { sed -n '4,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

args=("$@")
checks=devices image=vmlinux cpus=1 memory=256M qemu= machine=microvm keep= without=
while [ $# -gt 0 ]; do
    case $1 in
    --checks) checks=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --qemu) qemu=1; shift ;;
    --qemu-machine) machine=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --without) without=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "kernel-devices-test.sh: unknown option $1" >&2; usage ;;
    esac
done
[ $# = 2 ] || usage
vmm=$1 init=$2
bad() { echo "kernel-devices-test.sh: $*" >&2; exit 2; }
case $image in vmlinux|bzImage) ;; *) bad "--image $image: not vmlinux or bzImage" ;; esac
case $machine in microvm|q35) ;; *) bad "--qemu-machine $machine: not microvm or q35" ;; esac

# Which devices the checks need.
has() { [[ ",$checks," == *",$1,"* ]]; }
want() { has "$1" || { has devices && [ "$1" != power-button ]; }; }
disk= net= rng= console=
want root && disk=1
want net && net=1
want rng && rng=1
want console && console=1
# The check that must fail for want of its device (--without), and whether a check must pass.
missing=
case $without in
'') ;;
disk) disk= missing=root ;;
net|rng|console) declare "$without=" && missing=$without ;;
*) bad "--without $without: not disk, net, rng or console" ;;
esac
passes() { want "$1" && [ "$1" != "$missing" ]; }

if [ "${CHV_KERNEL_DEVICES_INSIDE:-}" != 1 ]; then
    kdir=$("$top/tests/guest/linux/build-kernel.sh" | tail -n 1)
    work=$(mktemp -d "${TMPDIR:-/tmp}/chv-kernel-devices.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    cp "$kdir/$image" "$work/$image"
    if [ -n "$disk" ]; then
        "$top/tests/guest/linux/make-rootfs.sh" "$work/root.img" "$init"
    else
        "$top/tests/guest/linux/make-initramfs.sh" "$work/initramfs.cpio.gz" "$init"
    fi
    set +e
    CHV_KERNEL_DEVICES_INSIDE=1 CHV_KERNEL_DEVICES_WORK=$work \
        "$kvmhost_run" --rw "$work" --rw "$top" -- "$0" "${args[@]}"
    status=$?
    set -e
    if [ -n "$keep" ]; then
        mkdir -p "$keep"
        cp -r "$work"/. "$keep"/
        rm -f "$keep/$image"
    fi
    exit $status
fi

work=$CHV_KERNEL_DEVICES_WORK
if [ -e /sys/module/kvm_pvm ] && [ -z "$qemu" ]; then
    echo "SKIP: this KVM (kvm_pvm) cannot run guest userspace, and /init makes every check here"
    exit 77
fi

tap=chvtap0
host_ip=192.168.249.1
mac=52:54:00:63:68:76

if [ -n "$net" ] && [ "${CHV_KERNEL_DEVICES_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the tap device and the DHCP server need root"
        exit 77
    fi
    # A network namespace of its own: the tap, its address and dnsmasq touch nothing of the host's.
    CHV_KERNEL_DEVICES_NETNS=1 exec unshare --net -- "$0" "${args[@]}"
fi

. "$here/test-kernel-cmdline.sh"
cmdline="$test_kernel_cmdline chv_test_init.test=$checks"
[ -n "$disk" ] && cmdline+=" root=/dev/vda rw"
want net && cmdline+=" ip=dhcp"

dnsmasq_pid=
stop_dnsmasq() {
    if [ -n "$dnsmasq_pid" ]; then
        kill "$dnsmasq_pid" 2>/dev/null || true
        wait "$dnsmasq_pid" 2>/dev/null || true
        dnsmasq_pid=
    fi
}
trap stop_dnsmasq EXIT

if [ -n "$net" ]; then
    ip link set lo up
    ip tuntap add dev "$tap" mode tap
    ip addr add "$host_ip/24" dev "$tap"
    ip link set "$tap" up
    # DHCP only (--port=0: no DNS), no configuration file, leases and log in the work directory.
    dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface="$tap" --bind-interfaces \
        --dhcp-range=192.168.249.100,192.168.249.199,255.255.255.0,1h \
        --dhcp-leasefile="$work/dnsmasq.leases" --log-facility=- 2>"$work/dnsmasq.log" &
    dnsmasq_pid=$!
    # Serving before the guest asks: dnsmasq logs its DHCP range once its socket is bound.
    for _ in $(seq 1 100); do
        grep -q "DHCP, IP range" "$work/dnsmasq.log" 2>/dev/null && break
        if ! kill -0 "$dnsmasq_pid" 2>/dev/null; then
            echo "FAIL: dnsmasq did not start:"
            cat "$work/dnsmasq.log"
            exit 1
        fi
        sleep 0.1
    done
fi

if [ -n "$qemu" ]; then
    # QEMU's monitor reads commands from a FIFO (on a local file system: 9p has none); the power button
    # is "system_powerdown".
    monitor=$(mktemp -d)/monitor
    mkfifo "$monitor.in" "$monitor.out"
    # Held open here too, so that pressing the button cannot block once QEMU is gone.
    exec 8<>"$monitor.in"
fi

# What the kernel and /init must say follows from the checks and the device left out.
if [ -n "$missing" ]; then
    result="chv-test-init: result=FAIL: $missing"
else
    result="chv-test-init: result=PASS"
fi
checks_args=(--expect "Linux version 6.1"
             --expect "Command line: $cmdline"
             --expect "$result"
             --expect "reboot: Power down"
             --reject "ACPI Error"
             --reject "ACPI BIOS Error"
             --reject "Kernel panic")
if [ -n "$disk" ]; then
    checks_args+=(--expect "Run /sbin/init as init process")
else
    checks_args+=(--expect "Run /init as init process")
fi
if passes root; then
    checks_args+=(--expect "EXT4-fs (vda): mounted filesystem"
                  --expect "VFS: Mounted root (ext4 filesystem)"
                  --expect "chv-test-init: root: device=/dev/vda fstype=ext4 mode=rw"
                  --expect "chv-test-init: root: remounted / read-only")
fi
if passes virtio; then
    passes root && checks_args+=(--expect "chv-test-init: virtio: virtio_blk bound to virtio")
    passes net && checks_args+=(--expect "chv-test-init: virtio: virtio_net bound to virtio")
    passes rng && checks_args+=(--expect "chv-test-init: virtio: virtio_rng bound to virtio")
    passes console && checks_args+=(--expect "chv-test-init: virtio: virtio_console bound to virtio")
    checks_args+=(--reject "chv-test-init: virtio: no driver bound")
fi
if passes rng; then
    checks_args+=(--expect "chv-test-init: rng: current=virtio_rng.0"
                  --expect "chv-test-init: rng: read 16 bytes from /dev/hwrng: ")
fi
if passes console; then
    checks_args+=(--expect "chv-test-init: console: wrote ")
fi
if passes net; then
    checks_args+=(--expect "IP-Config: Got DHCP answer from $host_ip, my address is 192.168.249."
                  --expect "chv-test-init: net: interfaces=eth0,lo"
                  --expect "chv-test-init: net: eth0 mac=$mac inet=192.168.249.")
fi
if has power-button; then
    checks_args+=(--expect "input: Power Button as "
                  --power-button-after "chv-test-init: power-button: waiting for KEY_POWER"
                  --expect "chv-test-init: power-button: KEY_POWER pressed on /dev/input/event")
    if [ -n "$qemu" ]; then
        checks_args+=(--power-button-command "echo system_powerdown >'$monitor.in'")
    else
        checks_args+=(--expect-log "Pressing the power button")
    fi
fi

if [ -z "$qemu" ]; then
    cmd=("$vmm" -v --kernel "$work/$image" --cmdline "$cmdline" --cpus "boot=$cpus" --memory "size=$memory"
         --serial tty --no-reboot)
    if [ -n "$disk" ]; then
        # One request queue per vCPU, as a multi-queue disk is meant to be used.
        cmd+=(--disk "path=$work/root.img,num_queues=$cpus")
        checks_args+=(--expect "virtio_blk virtio0: $cpus/0/0 default/read/poll queues")
    else
        cmd+=(--initramfs "$work/initramfs.cpio.gz")
    fi
    [ -n "$net" ] && cmd+=(--net "tap=$tap,mac=$mac")
    [ -n "$rng" ] && cmd+=(--rng "src=/dev/urandom")
    if [ -n "$console" ]; then
        cmd+=(--console "file=$work/console.out")
    else
        cmd+=(--console off)
    fi
else
    if [ -c /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] && { (exec 9<>/dev/kvm); } 2>/dev/null; then
        accel=(-accel kvm -cpu host)
    else
        accel=(-accel tcg -cpu max)
    fi
    if [ "$machine" = microvm ]; then
        machine_args=(-M microvm,acpi=on,pcie=on,rtc=on)
    else
        machine_args=(-M q35)
    fi
    cmd=("$vmm" -nodefaults -no-user-config -display none -no-reboot "${machine_args[@]}" "${accel[@]}"
         -smp "$cpus" -m "$memory" -kernel "$work/$image" -append "$cmdline"
         -chardev stdio,id=serial,signal=off -serial chardev:serial
         -chardev "pipe,id=monitor,path=$monitor" -mon chardev=monitor,mode=readline)
    if [ -n "$disk" ]; then
        cmd+=(-drive "file=$work/root.img,format=raw,if=none,id=root"
              -device virtio-blk-pci,drive=root,disable-legacy=on)
    else
        cmd+=(-initrd "$work/initramfs.cpio.gz")
    fi
    [ -n "$net" ] && cmd+=(-netdev "tap,id=net,ifname=$tap,script=no,downscript=no"
                           -device "virtio-net-pci,netdev=net,mac=$mac,disable-legacy=on")
    [ -n "$rng" ] && cmd+=(-object rng-random,id=rng,filename=/dev/urandom
                           -device virtio-rng-pci,rng=rng,disable-legacy=on)
    [ -n "$console" ] && cmd+=(-device virtio-serial-pci,disable-legacy=on
                               -chardev "file,id=hvc,path=$work/console.out" -device virtconsole,chardev=hvc)
fi

start=$SECONDS
set +e
"$here/boot-test.sh" --inside "${checks_args[@]}" --timeout 300 --retry-stall -- "${cmd[@]}" >"$work/result" 2>&1
status=$?
set -e
stop_dnsmasq
cat "$work/result"
echo "--- boot took $((SECONDS - start)) s"

failed=$status
fail() { echo "FAIL: $*"; failed=1; }
# boot-test.sh's report has the serial output between these two lines.
sed -n '/^--- serial output:$/,/^--- chv-vmm log:$/p' "$work/result" >"$work/serial.out"
serial_line() { sed -n "s/.*$1.*/\\1/p" "$work/serial.out" | head -n 1; }

if passes net; then
    echo "--- dnsmasq log:"
    cat "$work/dnsmasq.log" 2>/dev/null || true
    echo "--- dnsmasq leases:"
    cat "$work/dnsmasq.leases" 2>/dev/null || true
    # The address the kernel took from DHCP is the one dnsmasq leased to this MAC, and /init sees it.
    addr=$(serial_line "IP-Config: Got DHCP answer from [0-9.]*, my address is \\([0-9.]*\\)")
    if [ -z "$addr" ]; then
        fail "the kernel got no DHCP answer"
    else
        awk -v mac="$mac" -v addr="$addr" '$2 == mac && $3 == addr { found = 1 } END { exit !found }' \
            "$work/dnsmasq.leases" 2>/dev/null || fail "dnsmasq's leases lack $mac $addr"
        grep -qF "chv-test-init: net: eth0 mac=$mac inet=$addr/24" "$work/serial.out" ||
            fail "/init does not see $addr/24 on eth0"
    fi
fi
if passes console; then
    echo "--- console output:"
    cat "$work/console.out" 2>/dev/null || true
    grep -qF "chv-test-init: hello on /dev/hvc0" "$work/console.out" 2>/dev/null ||
        fail "the console output lacks: chv-test-init: hello on /dev/hvc0"
fi
if passes root; then
    # The file /init wrote is in the image, and the file system is clean after /init's shutdown.
    written=$(serial_line 'chv-test-init: root: wrote "\(.*\)" to \/chv-test-init.txt and synced')
    got=$(debugfs -R "cat /chv-test-init.txt" "$work/root.img" 2>/dev/null || true)
    if [ -z "$written" ]; then
        fail "/init did not say what it wrote to the root file system"
    elif [ "$got" != "$written" ]; then
        fail "/chv-test-init.txt in the image holds \"$got\", /init wrote \"$written\""
    fi
    fsck_out=$(e2fsck -fn "$work/root.img" 2>&1) || fail "e2fsck finds the root image damaged: $fsck_out"
fi
# The result line names exactly the checks that failed (--expect above matches a part of it).
got=$(grep -a "^chv-test-init: result=" "$work/serial.out" | tr -d '\r' | head -n 1)
[ "$got" = "$result" ] || fail "/init reported \"$got\", not \"$result\""
[ "$failed" = 0 ] && echo "OK: checks $checks${without:+ without $without}"
exit "$failed"
