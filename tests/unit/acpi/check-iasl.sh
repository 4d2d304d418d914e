#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# check-iasl.sh ACPI_DUMP IASL BOOT MAX
#
# Dumps the ACPI tables for BOOT of MAX vCPUs and disassembles each one with iasl, then compiles the
# disassembly again. Fails on any iasl error or warning, when the compiled tables differ from the
# original ones anywhere but in the checksum and the creator fields, when the DSDT lacks a device it
# must describe, or when the MADT has the wrong number of enabled and online-capable processors.
# (iasl does not take an RSDP on its own; the unit tests check that one.)
set -eu

dump=$1
iasl=$2
boot=$3
max=$4

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

"$dump" "$boot" "$max" "$dir" || fail "acpi-dump"
cd "$dir"
[ -s rsdp.dat ] || fail "no RSDP"

for t in xsdt facp apic mcfg dsdt; do
    [ -s "$t.dat" ] || fail "no $t table"
    if ! "$iasl" -d "$t.dat" >"$t.d.log" 2>&1; then
        cat "$t.d.log" >&2
        fail "iasl -d $t.dat"
    fi
    if grep -E -i 'error|warning|invalid' "$t.d.log" >&2; then
        fail "iasl reports problems disassembling $t.dat"
    fi

    # Without named reference optimization, iasl gives back the AML it disassembled.
    if ! "$iasl" -on -p "re-$t" "$t.dsl" >"$t.c.log" 2>&1; then
        cat "$t.c.log" >&2
        fail "iasl cannot compile the disassembly of $t.dat"
    fi
    problems='[1-9][0-9]* (errors?|warnings?|remarks?)|^(error|warning|remark)|acpi (error|warning)'
    if grep -E -i "$problems" "$t.c.log" >&2; then
        fail "iasl reports problems compiling the disassembly of $t.dat"
    fi
    # cmp -l counts bytes from 1: byte 10 is the checksum, 29-36 the creator ID and revision.
    diffs=$(cmp -l "$t.dat" "re-$t.aml" 2>&1 | awk '$1 != 10 && ($1 < 29 || $1 > 36)' | head -n 5)
    [ -z "$diffs" ] || fail "$t compiled from its disassembly differs:
$diffs"
    echo "$t: $(wc -c <"$t.dat") bytes, disassembled and compiled back to the same table"
done

for name in 'Device (PCI0)' 'Device (MBRD)' 'Device (COM1)' 'Device (RTC)' 'Device (GED)' 'Device (PWRB)' \
            'Name (\_S5, Package' 'Method (_EVT, 1, Serialized)' 'Method (_OSC, 4' 'Name (_PRT,' \
            'EisaId ("PNP0A08")' 'EisaId ("PNP0A03")' 'EisaId ("PNP0501")' 'EisaId ("PNP0C0C")' \
            'EisaId ("PNP0B00")' '"ACPI0013"' 'Notify (\_SB.PWRB, 0x80)'; do
    grep -q -F "$name" dsdt.dsl || fail "the DSDT has no $name"
done

enabled=$(grep -c -E 'Processor Enabled : 1' apic.dsl || true)
online=$(grep -c -E 'Runtime Online Capable : 1' apic.dsl || true)
[ "$enabled" -eq "$boot" ] || fail "the MADT has $enabled enabled processors, not $boot"
[ "$online" -eq $((max - boot)) ] ||
    fail "the MADT has $online online-capable processors, not $((max - boot))"
grep -q -E 'Hardware Reduced \(V5\) : 1' facp.dsl || fail "the FADT is not hardware-reduced"

echo "iasl: every table is valid; $enabled enabled and $online online-capable processors"
