/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "aml.h"

/*
 * The expected bytes are what the ACPI 6.5 encoding rules give; each sequence was also checked
 * against iasl 20200925 compiling the ASL quoted above it with named reference optimization off
 * (iasl -on), minus the 36-byte table header.
 */

/* realloc() fails while this is set: the test binary is linked with --wrap=realloc. */
static bool fail_realloc;
void *__real_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size)
{
        if (fail_realloc)
                return NULL;
        return __real_realloc(p, size);
}

static void hexdump(const char *what, const uint8_t *p, size_t len)
{
        char line[16 * 3 + 1];

        cr_log_error("%s (%zu bytes):", what, len);
        for (size_t i = 0; i < len; i += 16) {
                size_t n = MIN(len - i, (size_t) 16);
                for (size_t j = 0; j < n; j++)
                        (void) snprintf(line + 3 * j, 4, " %02x", p[i + j]);
                cr_log_error("  %04zx:%s", i, line);
        }
}

static void assert_aml(AmlBuf *b, const uint8_t *expected, size_t len)
{
        cr_assert(eq(int, aml_buf_finish(b), 0));
        if (b->len != len || memcmp(b->data, expected, len) != 0) {
                hexdump("expected", expected, len);
                hexdump("encoded", b->data, b->len);
                cr_fatal("the encoding differs");
        }
}

#define ASSERT_AML(b, ...)                                                                                  \
        do {                                                                                                \
                static const uint8_t _expected[] = { __VA_ARGS__ };                                         \
                assert_aml(b, _expected, sizeof _expected);                                                 \
        } while (0)

Test(aml, integers_in_their_smallest_encoding)
{
        static const struct {
                uint64_t v;
                uint8_t bytes[9];
                size_t len;
        } cases[] = {
                { 0, { 0x00 }, 1 },
                { 1, { 0x01 }, 1 },
                { UINT64_MAX, { 0xff }, 1 },
                { 2, { 0x0a, 0x02 }, 2 },
                { 0x12, { 0x0a, 0x12 }, 2 },
                { 0xff, { 0x0a, 0xff }, 2 },
                { 0x100, { 0x0b, 0x00, 0x01 }, 3 },
                { 0x1234, { 0x0b, 0x34, 0x12 }, 3 },
                { 0x10000, { 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5 },
                { 0x12345678, { 0x0c, 0x78, 0x56, 0x34, 0x12 }, 5 },
                { 0xffffffff, { 0x0c, 0xff, 0xff, 0xff, 0xff }, 5 },
                { 0x100000000, { 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 }, 9 },
                { 0x123456789abcdef0, { 0x0e, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12 }, 9 },
                { UINT64_MAX - 1, { 0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_int(&b, cases[i].v), 0));
                assert_aml(&b, cases[i].bytes, cases[i].len);
        }
}

/*
 * Name (INT0, Zero)  Name (INT1, One)  Name (INT2, Ones)  Name (INT3, 0x12)  Name (INT4, 0x1234)
 * Name (INT5, 0x12345678)  Name (INT6, 0x123456789ABCDEF0)  Name (INT7, 0xFFFFFFFFFFFFFFFF)
 * Name (STR0, "COM1")  Name (_HID, EisaId ("PNP0A08"))
 * Name (UUID, ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))
 * Name (PKG0, Package () { 5, 0, 0, 0 })  Name (BUF0, Buffer () { 1, 2, 3 })
 */
Test(aml, data_objects)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
        static const uint64_t ints[] = { 0, 1, UINT64_MAX, 0x12, 0x1234, 0x12345678, 0x123456789abcdef0,
                                         0xffffffffffffffff };

        for (size_t i = 0; i < ELEMENTSOF(ints); i++) {
                char name[5];
                (void) snprintf(name, sizeof name, "INT%zu", i);
                cr_assert(eq(int, aml_name_int(&b, name, ints[i]), 0));
        }
        cr_assert(eq(int, aml_name_string(&b, "STR0", "COM1"), 0));
        cr_assert(eq(int, aml_name_eisaid(&b, "_HID", "PNP0A08"), 0));
        cr_assert(eq(int, aml_name_decl(&b, "UUID"), 0));
        cr_assert(eq(int, aml_uuid(&b, "33DB4D5B-1FF7-401C-9657-7441C03DD766"), 0));
        cr_assert(eq(int, aml_name_decl(&b, "PKG0"), 0));
        cr_assert(eq(int, aml_package_begin(&b), 0));
        cr_assert(eq(int, aml_int(&b, 5), 0));
        cr_assert(eq(int, aml_int(&b, 0), 0));
        cr_assert(eq(int, aml_int(&b, 0), 0));
        cr_assert(eq(int, aml_int(&b, 0), 0));
        cr_assert(eq(int, aml_end(&b), 0));
        cr_assert(eq(int, aml_name_decl(&b, "BUF0"), 0));
        cr_assert(eq(int, aml_buffer(&b, (const uint8_t[]) { 1, 2, 3 }, 3), 0));

        ASSERT_AML(&b, 0x08, 0x49, 0x4e, 0x54, 0x30, 0x00, 0x08, 0x49, 0x4e, 0x54, 0x31, 0x01, 0x08, 0x49,
                   0x4e, 0x54, 0x32, 0xff, 0x08, 0x49, 0x4e, 0x54, 0x33, 0x0a, 0x12, 0x08, 0x49, 0x4e, 0x54,
                   0x34, 0x0b, 0x34, 0x12, 0x08, 0x49, 0x4e, 0x54, 0x35, 0x0c, 0x78, 0x56, 0x34, 0x12, 0x08,
                   0x49, 0x4e, 0x54, 0x36, 0x0e, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x08, 0x49,
                   0x4e, 0x54, 0x37, 0xff, 0x08, 0x53, 0x54, 0x52, 0x30, 0x0d, 0x43, 0x4f, 0x4d, 0x31, 0x00,
                   0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x08, 0x08, 0x55, 0x55, 0x49, 0x44,
                   0x11, 0x13, 0x0a, 0x10, 0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40, 0x96, 0x57, 0x74,
                   0x41, 0xc0, 0x3d, 0xd7, 0x66, 0x08, 0x50, 0x4b, 0x47, 0x30, 0x12, 0x07, 0x04, 0x0a, 0x05,
                   0x00, 0x00, 0x00, 0x08, 0x42, 0x55, 0x46, 0x30, 0x11, 0x06, 0x0a, 0x03, 0x01, 0x02, 0x03);
}

Test(aml, eisaid)
{
        static const struct {
                const char *id;
                uint8_t bytes[5];
        } cases[] = {
                /* P=0x10 N=0x0e P=0x10: 0 10000 01110 10000 = 0x41d0, then the digits 0x0a08. */
                { "PNP0A08", { 0x0c, 0x41, 0xd0, 0x0a, 0x08 } },
                { "PNP0A03", { 0x0c, 0x41, 0xd0, 0x0a, 0x03 } },
                { "PNP0C0C", { 0x0c, 0x41, 0xd0, 0x0c, 0x0c } },
                { "PNP0501", { 0x0c, 0x41, 0xd0, 0x05, 0x01 } },
                { "PNP0C02", { 0x0c, 0x41, 0xd0, 0x0c, 0x02 } },
                /* A=1 B=2 C=3: 0 00001 00010 00011 = 0x0443; a DWord even when the digits are zero. */
                { "ABC0000", { 0x0c, 0x04, 0x43, 0x00, 0x00 } },
                { "ZZZFFFF", { 0x0c, 0x6b, 0x5a, 0xff, 0xff } },
        };
        static const char *const invalid[] = { "PNP0A0",  "PNP0A088", "pNP0A08", "PNP0G08",
                                               "P1P0A08", "PNP0a08",  "" };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_eisaid(&b, cases[i].id), 0));
                assert_aml(&b, cases[i].bytes, sizeof cases[i].bytes);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_eisaid(&b, invalid[i]), -EINVAL), "%s", invalid[i]);
        }
}

Test(aml, uuid_rejects_malformed_strings)
{
        static const char *const invalid[] = {
                "33DB4D5B-1FF7-401C-9657-7441C03DD76",   "33DB4D5B-1FF7-401C-9657-7441C03DD7666",
                "33DB4D5B+1FF7-401C-9657-7441C03DD766",  "33DB4D5B-1FF7-401C-9657-7441C03DD76G",
                "33DB4D5B1-FF7-401C-9657-7441C03DD766",
        };

        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_uuid(&b, invalid[i]), -EINVAL), "%s", invalid[i]);
        }
}

Test(aml, strings)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT, bad = AML_BUF_INIT;

        cr_assert(eq(int, aml_string(&b, ""), 0));
        cr_assert(eq(int, aml_string(&b, "ACPI0013"), 0));
        ASSERT_AML(&b, 0x0d, 0x00, 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0x00);
        cr_assert(eq(int, aml_string(&bad, "caf\xc3\xa9"), -EINVAL));
}

Test(aml, name_paths)
{
        static const struct {
                const char *path;
                uint8_t bytes[24];
                size_t len;
        } cases[] = {
                { "_SB", { '_', 'S', 'B', '_' }, 4 },
                { "A", { 'A', '_', '_', '_' }, 4 },
                { "PCI0", { 'P', 'C', 'I', '0' }, 4 },
                { "\\", { 0x5c, 0x00 }, 2 },
                { "^", { 0x5e, 0x00 }, 2 },
                { "\\_S5", { 0x5c, '_', 'S', '5', '_' }, 5 },
                { "^^BAR", { 0x5e, 0x5e, 'B', 'A', 'R', '_' }, 6 },
                { "\\_SB.PWRB", { 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B' }, 10 },
                { "_SB.PCI0", { 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0' }, 9 },
                { "\\_SB.PCI0.S08._ADR",
                  { 0x5c, 0x2f, 0x04, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_', '_', 'A',
                    'D', 'R' },
                  19 },
                { "^GED.X", { 0x5e, 0x2e, 'G', 'E', 'D', '_', 'X', '_', '_', '_' }, 10 },
        };
        static const char *const invalid[] = {
                "",      "a",      "_sb",   "1ABC",  "ABCDE", "\\^A",  "^\\A",      "A..B",
                "A.",    ".A",     "A-B",   "\\\\A", "A B",   "^.A",   "\\_SB.PCI0.", "_SB.PCI00",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_name(&b, cases[i].path), 0), "%s", cases[i].path);
                assert_aml(&b, cases[i].bytes, cases[i].len);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_name(&b, invalid[i]), -EINVAL), "\"%s\"", invalid[i]);
                cr_assert(eq(sz, b.len, 0));
        }
}

/*
 * Scope (\_SB) {
 *     Device (PCI0) { Device (S08) { Name (^^BAR, 1) } }
 * }
 * Name (\_SB.PCI0.S08._ADR, 0x00080000)
 * Name (\_S5, Package () { 5, Zero, Zero, Zero })
 * Scope (\) { Name (Z, 0x123) }
 * Method (WHL, 1, NotSerialized) {
 *     Local0 = Zero
 *     While ((Local0 < Arg0)) { Local0++ }
 *     Return (SizeOf (Arg0))
 * }
 */
Test(aml, scopes_devices_and_while)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        aml_scope_begin(&b, "\\_SB");
        aml_device_begin(&b, "PCI0");
        aml_device_begin(&b, "S08");
        aml_name_int(&b, "^^BAR", 1);
        aml_end(&b);
        aml_end(&b);
        aml_end(&b);
        aml_name_int(&b, "\\_SB.PCI0.S08._ADR", 0x00080000);
        aml_name_decl(&b, "\\_S5");
        aml_package_begin(&b);
        aml_int(&b, 5);
        aml_int(&b, 0);
        aml_int(&b, 0);
        aml_int(&b, 0);
        aml_end(&b);
        aml_scope_begin(&b, "\\");
        aml_name_int(&b, "Z", 0x123);
        aml_end(&b);
        aml_method_begin(&b, "WHL", 1, false);
        aml_op(&b, AML_OP_STORE);
        aml_int(&b, 0);
        aml_local(&b, 0);
        aml_while_begin(&b);
        aml_op(&b, AML_OP_LLESS);
        aml_local(&b, 0);
        aml_arg(&b, 0);
        aml_op(&b, AML_OP_INCREMENT);
        aml_local(&b, 0);
        aml_end(&b);
        aml_op(&b, AML_OP_RETURN);
        aml_op(&b, AML_OP_SIZE_OF);
        aml_arg(&b, 0);
        aml_end(&b);

        ASSERT_AML(&b, 0x10, 0x1c, 0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x14, 0x50, 0x43, 0x49, 0x30,
                   0x5b, 0x82, 0x0d, 0x53, 0x30, 0x38, 0x5f, 0x08, 0x5e, 0x5e, 0x42, 0x41, 0x52, 0x5f, 0x01,
                   0x08, 0x5c, 0x2f, 0x04, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30, 0x53, 0x30, 0x38,
                   0x5f, 0x5f, 0x41, 0x44, 0x52, 0x0c, 0x00, 0x00, 0x08, 0x00, 0x08, 0x5c, 0x5f, 0x53, 0x35,
                   0x5f, 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00, 0x10, 0x0b, 0x5c, 0x00, 0x08, 0x5a,
                   0x5f, 0x5f, 0x5f, 0x0b, 0x23, 0x01, 0x14, 0x13, 0x57, 0x48, 0x4c, 0x5f, 0x01, 0x70, 0x00,
                   0x60, 0xa2, 0x06, 0x95, 0x60, 0x68, 0x75, 0x60, 0xa4, 0x87, 0x68);
}

/*
 * Scope (\_SB) {
 *     Device (PWRB) { Name (_HID, EisaId ("PNP0C0C"))  Name (_UID, Zero) }
 *     Device (GED_) {
 *         Name (_HID, "ACPI0013")
 *         Name (_CRS, ResourceTemplate () {
 *             Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 5 }
 *         })
 *         OperationRegion (GDST, SystemMemory, 0xFEB00000, 0x04)
 *         Field (GDST, DWordAcc, NoLock, WriteAsZeros) { GDAT, 32 }
 *         Method (_EVT, 1, Serialized) {
 *             Store (GDAT, Local0)
 *             If (And (Local0, One)) { Notify (\_SB.PWRB, 0x80) }
 *         }
 *     }
 * }
 */
Test(aml, generic_event_device)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        aml_scope_begin(&b, "\\_SB");
        aml_device_begin(&b, "PWRB");
        aml_name_eisaid(&b, "_HID", "PNP0C0C");
        aml_name_int(&b, "_UID", 0);
        aml_end(&b);
        aml_device_begin(&b, "GED");
        aml_name_string(&b, "_HID", "ACPI0013");
        aml_name_decl(&b, "_CRS");
        aml_resource_begin(&b);
        aml_res_interrupt(&b, AML_IRQ_CONSUMER | AML_IRQ_EDGE, &(const uint32_t) { 5 }, 1);
        aml_end(&b);
        aml_operation_region(&b, "GDST", AML_SPACE_SYSTEM_MEMORY, 0xfeb00000, 4);
        aml_field_begin(&b, "GDST", AML_ACCESS_DWORD, false, AML_UPDATE_WRITE_AS_ZEROS);
        aml_field_unit(&b, "GDAT", 32);
        aml_end(&b);
        aml_method_begin(&b, "_EVT", 1, true);
        aml_op(&b, AML_OP_STORE);
        aml_name(&b, "GDAT");
        aml_local(&b, 0);
        aml_if_begin(&b);
        aml_op(&b, AML_OP_AND);
        aml_local(&b, 0);
        aml_int(&b, 1);
        aml_null_name(&b);
        aml_notify(&b, "\\_SB.PWRB", 0x80);
        aml_end(&b);
        aml_end(&b);
        aml_end(&b);
        aml_end(&b);

        ASSERT_AML(&b, 0x10, 0x44, 0x08, 0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x15, 0x50, 0x57, 0x52,
                   0x42, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0c, 0x0c, 0x08, 0x5f, 0x55, 0x49,
                   0x44, 0x00, 0x5b, 0x82, 0x44, 0x06, 0x47, 0x45, 0x44, 0x5f, 0x08, 0x5f, 0x48, 0x49, 0x44,
                   0x0d, 0x41, 0x43, 0x50, 0x49, 0x30, 0x30, 0x31, 0x33, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53,
                   0x11, 0x0e, 0x0a, 0x0b, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00,
                   0x5b, 0x80, 0x47, 0x44, 0x53, 0x54, 0x00, 0x0c, 0x00, 0x00, 0xb0, 0xfe, 0x0a, 0x04, 0x5b,
                   0x81, 0x0b, 0x47, 0x44, 0x53, 0x54, 0x43, 0x47, 0x44, 0x41, 0x54, 0x20, 0x14, 0x1f, 0x5f,
                   0x45, 0x56, 0x54, 0x09, 0x70, 0x47, 0x44, 0x41, 0x54, 0x60, 0xa0, 0x12, 0x7b, 0x60, 0x01,
                   0x00, 0x86, 0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x57, 0x52, 0x42, 0x0a, 0x80);
}

/*
 * Name (CRS0, ResourceTemplate () {
 *     WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x00FF, 0x0000,
 *                    0x0100,,,)
 *     IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,)
 *     WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x1000, 0xFFFF,
 *             0x0000, 0xF000,,,, TypeStatic, DenseTranslation)
 *     DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000,
 *                  0xC0000000, 0xE7FFFFFF, 0x00000000, 0x28000000,,, , AddressRangeMemory, TypeStatic)
 *     QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x0,
 *                  0x0000010000000000, 0x000001FFFFFFFFFF, 0x0, 0x0000010000000000,,, ,
 *                  AddressRangeMemory, TypeStatic)
 * })
 * Name (CRS1, ResourceTemplate () {
 *     QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x0,
 *                  0xE8000000, 0xEFFFFFFF, 0x0, 0x08000000,,, , AddressRangeMemory, TypeStatic)
 *     Memory32Fixed (ReadWrite, 0xFEB00000, 0x00000004, )
 *     IRQNoFlags () {4}
 *     Interrupt (ResourceConsumer, Level, ActiveLow, Shared, ,, ) { 16, 17 }
 *     IO (Decode10, 0x0060, 0x0060, 0x00, 0x01,)
 * })
 */
Test(aml, resource_templates)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        cr_assert(eq(int, aml_name_decl(&b, "CRS0"), 0));
        cr_assert(eq(int, aml_resource_begin(&b), 0));
        cr_assert(eq(int, aml_res_word_bus_number(&b, 0, 0xff), 0));
        cr_assert(eq(int, aml_res_io(&b, true, 0xcf8, 0xcf8, 1, 8), 0));
        cr_assert(eq(int, aml_res_word_io(&b, 0x1000, 0xffff), 0));
        cr_assert(eq(int,
                     aml_res_dword_memory(&b, false, AML_MEM_NON_CACHEABLE | AML_MEM_READ_WRITE, 0xc0000000,
                                          0xe7ffffff),
                     0));
        cr_assert(eq(int,
                     aml_res_qword_memory(&b, false, AML_MEM_CACHEABLE | AML_MEM_READ_WRITE, 0x10000000000,
                                          0x1ffffffffff),
                     0));
        cr_assert(eq(int, aml_end(&b), 0));
        cr_assert(eq(int, aml_name_decl(&b, "CRS1"), 0));
        cr_assert(eq(int, aml_resource_begin(&b), 0));
        cr_assert(eq(int,
                     aml_res_qword_memory(&b, true, AML_MEM_NON_CACHEABLE | AML_MEM_READ_WRITE, 0xe8000000,
                                          0xefffffff),
                     0));
        cr_assert(eq(int, aml_res_memory32_fixed(&b, true, 0xfeb00000, 4), 0));
        cr_assert(eq(int, aml_res_irq_noflags(&b, 4), 0));
        cr_assert(eq(int,
                     aml_res_interrupt(&b, AML_IRQ_CONSUMER | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED,
                                       (const uint32_t[]) { 16, 17 }, 2),
                     0));
        cr_assert(eq(int, aml_res_io(&b, false, 0x60, 0x60, 0, 1), 0));
        cr_assert(eq(int, aml_end(&b), 0));

        ASSERT_AML(&b, 0x08, 0x43, 0x52, 0x53, 0x30, 0x11, 0x46, 0x07, 0x0a, 0x72, 0x88, 0x0d, 0x00, 0x02,
                   0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x47, 0x01, 0xf8,
                   0x0c, 0xf8, 0x0c, 0x01, 0x08, 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x10,
                   0xff, 0xff, 0x00, 0x00, 0x00, 0xf0, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00,
                   0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xe7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0x00, 0x28, 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0x01, 0x00, 0x00, 0x79, 0x00, 0x08, 0x43, 0x52, 0x53, 0x31, 0x11, 0x48, 0x05, 0x0a, 0x54,
                   0x8a, 0x2b, 0x00, 0x00, 0x0d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xef, 0x00, 0x00, 0x00, 0x00,
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
                   0x00, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xb0, 0xfe, 0x04, 0x00, 0x00, 0x00, 0x22, 0x10,
                   0x00, 0x89, 0x0a, 0x00, 0x0d, 0x02, 0x10, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x47,
                   0x00, 0x60, 0x00, 0x60, 0x00, 0x00, 0x01, 0x79, 0x00);
}

Test(aml, address_space_values_must_fit_the_width)
{
        AmlAddressSpace a = {
                .type = AML_ADDRESS_MEMORY,
                .min_fixed = true,
                .max_fixed = true,
                .min = 0xffff0000,
                .max = 0x10000ffff,
                .length = 0x20000,
        };
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT, b64 = AML_BUF_INIT, b8 = AML_BUF_INIT;

        aml_resource_begin(&b);
        cr_assert(eq(int, aml_res_address_space(&b, 32, &a), -EINVAL));
        aml_resource_begin(&b64);
        cr_assert(eq(int, aml_res_address_space(&b64, 64, &a), 0));
        aml_resource_begin(&b8);
        cr_assert(eq(int, aml_res_address_space(&b8, 8, &a), -EINVAL));
}

/*
 * Method (_OSC, 4, NotSerialized) {
 *     CreateDWordField (Arg3, Zero, CDW1)
 *     If (LEqual (Arg0, ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"))) {
 *         If (LNotEqual (Arg1, One)) { Or (CDW1, 0x08, CDW1) }
 *     } Else {
 *         Or (CDW1, 0x04, CDW1)
 *     }
 *     Return (Arg3)
 * }
 * OperationRegion (PREG, SystemIO, 0x0600, 0x20)
 * Field (PREG, ByteAcc, Lock, Preserve) { PSTA, 8, Offset (0x04), PCTL, 3, , 5, Offset (0x0C), PBIG, 128 }
 * Method (SHLF, 2, Serialized) { Return (ShiftLeft (Arg0, Arg1)) }
 */
Test(aml, methods_conditions_and_fields)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        aml_method_begin(&b, "_OSC", 4, false);
        aml_op(&b, AML_OP_CREATE_DWORD_FIELD);
        aml_arg(&b, 3);
        aml_int(&b, 0);
        aml_name(&b, "CDW1");
        aml_if_begin(&b);
        aml_op(&b, AML_OP_LEQUAL);
        aml_arg(&b, 0);
        aml_uuid(&b, "33db4d5b-1ff7-401c-9657-7441c03dd766");
        aml_if_begin(&b);
        aml_op(&b, AML_OP_LNOT);
        aml_op(&b, AML_OP_LEQUAL);
        aml_arg(&b, 1);
        aml_int(&b, 1);
        aml_op(&b, AML_OP_OR);
        aml_name(&b, "CDW1");
        aml_int(&b, 8);
        aml_name(&b, "CDW1");
        aml_end(&b);
        aml_end(&b);
        aml_else_begin(&b);
        aml_op(&b, AML_OP_OR);
        aml_name(&b, "CDW1");
        aml_int(&b, 4);
        aml_name(&b, "CDW1");
        aml_end(&b);
        aml_op(&b, AML_OP_RETURN);
        aml_arg(&b, 3);
        aml_end(&b);
        aml_operation_region(&b, "PREG", AML_SPACE_SYSTEM_IO, 0x600, 0x20);
        aml_field_begin(&b, "PREG", AML_ACCESS_BYTE, true, AML_UPDATE_PRESERVE);
        aml_field_unit(&b, "PSTA", 8);
        aml_field_offset(&b, 4);
        aml_field_unit(&b, "PCTL", 3);
        aml_field_unit(&b, NULL, 5);
        aml_field_offset(&b, 5); /* already there: nothing to skip */
        aml_field_offset(&b, 0xc);
        aml_field_unit(&b, "PBIG", 128);
        aml_end(&b);
        aml_method_begin(&b, "SHLF", 2, true);
        aml_op(&b, AML_OP_RETURN);
        aml_op(&b, AML_OP_SHIFT_LEFT);
        aml_arg(&b, 0);
        aml_arg(&b, 1);
        aml_null_name(&b);
        aml_end(&b);

        ASSERT_AML(&b, 0x14, 0x46, 0x04, 0x5f, 0x4f, 0x53, 0x43, 0x04, 0x8a, 0x6b, 0x00, 0x43, 0x44, 0x57,
                   0x31, 0xa0, 0x28, 0x93, 0x68, 0x11, 0x13, 0x0a, 0x10, 0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f,
                   0x1c, 0x40, 0x96, 0x57, 0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66, 0xa0, 0x10, 0x92, 0x93, 0x69,
                   0x01, 0x7d, 0x43, 0x44, 0x57, 0x31, 0x0a, 0x08, 0x43, 0x44, 0x57, 0x31, 0xa1, 0x0c, 0x7d,
                   0x43, 0x44, 0x57, 0x31, 0x0a, 0x04, 0x43, 0x44, 0x57, 0x31, 0xa4, 0x6b, 0x5b, 0x80, 0x50,
                   0x52, 0x45, 0x47, 0x01, 0x0b, 0x00, 0x06, 0x0a, 0x20, 0x5b, 0x81, 0x1c, 0x50, 0x52, 0x45,
                   0x47, 0x11, 0x50, 0x53, 0x54, 0x41, 0x08, 0x00, 0x18, 0x50, 0x43, 0x54, 0x4c, 0x03, 0x00,
                   0x05, 0x00, 0x38, 0x50, 0x42, 0x49, 0x47, 0x40, 0x08, 0x14, 0x0b, 0x53, 0x48, 0x4c, 0x46,
                   0x0a, 0xa4, 0x79, 0x68, 0x69, 0x00);
}

Test(aml, pkg_length_encoding)
{
        static const struct {
                uint64_t body;
                uint8_t bytes[4];
                int n;
        } cases[] = {
                { 0, { 0x01 }, 1 },
                { 0x3e, { 0x3f }, 1 },
                { 0x3f, { 0x41, 0x04 }, 2 },    /* 0x3f + 2 = 0x41 */
                { 0xffd, { 0x4f, 0xff }, 2 },   /* 0xfff */
                { 0xffe, { 0x81, 0x00, 0x01 }, 3 },
                { 0xffffc, { 0x8f, 0xff, 0xff }, 3 },
                { 0xffffd, { 0xc1, 0x00, 0x00, 0x01 }, 4 },
                { 0xffffffb, { 0xcf, 0xff, 0xff, 0xff }, 4 },
        };
        uint8_t out[4];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cr_assert(eq(int, aml_pkg_length_encode(cases[i].body, out), cases[i].n), "%zu", i);
                cr_assert(eq(int, memcmp(out, cases[i].bytes, (size_t) cases[i].n), 0), "%zu", i);
        }
        cr_assert(eq(int, aml_pkg_length_encode(0xffffffc, out), -EINVAL));
        cr_assert(eq(int, aml_pkg_length_encode(UINT64_MAX, out), -EINVAL));
}

/* Buffers whose PkgLength grows from one to two and from two to three bytes, as iasl encodes them. */
Test(aml, buffer_pkg_length_boundaries)
{
        static const struct {
                size_t size;
                uint8_t head[6];
                size_t head_len;
        } cases[] = {
                { 0x3c, { 0x11, 0x3f, 0x0a, 0x3c }, 4 },
                { 0x3d, { 0x11, 0x41, 0x04, 0x0a, 0x3d }, 5 },
                { 0xffa, { 0x11, 0x4f, 0xff, 0x0b, 0xfa, 0x0f }, 6 },
                { 0xffb, { 0x11, 0x81, 0x00, 0x01, 0x0b, 0xfb }, 6 },
                { 0x10000, { 0x11, 0x88, 0x00, 0x10, 0x0c, 0x00 }, 6 },
        };
        _cleanup_free_ uint8_t *data = calloc(1, 0x10000);

        cr_assert(not(zero(ptr, data)));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
                cr_assert(eq(int, aml_buffer(&b, data, cases[i].size), 0));
                cr_assert(eq(int, memcmp(b.data, cases[i].head, cases[i].head_len), 0), "%zu", i);
        }
}

/*
 * Field (R, AnyAcc, NoLock, Preserve) { A, 0x3F, B, 0x40, , 0xFFFFFFF }: the widths take one, two and
 * four bytes. iasl writes 0x3f in two bytes (0x4f 0x03), as if the width counted its own length; one
 * byte is the smallest encoding, and both decode to 0x3f.
 */
Test(aml, field_unit_widths)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT, big = AML_BUF_INIT, zero = AML_BUF_INIT;

        aml_field_begin(&b, "R", AML_ACCESS_ANY, false, AML_UPDATE_PRESERVE);
        aml_field_unit(&b, "A", 0x3f);
        aml_field_unit(&b, "B", 0x40);
        aml_field_unit(&b, NULL, 0xfffffff);
        aml_end(&b);
        ASSERT_AML(&b, 0x5b, 0x81, 0x16, 'R', '_', '_', '_', 0x00, 'A', '_', '_', '_', 0x3f, 'B', '_', '_',
                   '_', 0x40, 0x04, 0x00, 0xcf, 0xff, 0xff, 0xff);

        aml_field_begin(&big, "R", AML_ACCESS_ANY, false, AML_UPDATE_PRESERVE);
        cr_assert(eq(int, aml_field_unit(&big, "A", 0x10000000), -EINVAL));
        aml_field_begin(&zero, "R", AML_ACCESS_ANY, false, AML_UPDATE_PRESERVE);
        cr_assert(eq(int, aml_field_unit(&zero, "A", 0), -EINVAL));
}

Test(aml, field_offset_cannot_go_back)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        aml_field_begin(&b, "R", AML_ACCESS_ANY, false, AML_UPDATE_PRESERVE);
        aml_field_unit(&b, "A", 16);
        cr_assert(eq(int, aml_field_offset(&b, 1), -EINVAL));
}

Test(aml, errors_stick)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;
        size_t len;

        cr_assert(eq(int, aml_name_int(&b, "GOOD", 1), 0));
        len = b.len;
        cr_assert(eq(int, aml_name_int(&b, "bad", 1), -EINVAL));
        cr_assert(eq(int, aml_int(&b, 2), -EINVAL));
        cr_assert(eq(int, aml_scope_begin(&b, "\\_SB"), -EINVAL));
        cr_assert(eq(int, aml_end(&b), -EINVAL));
        cr_assert(eq(int, aml_buf_finish(&b), -EINVAL));
        /* What the failing call had begun to append stays, nothing after it does. */
        cr_assert(eq(sz, b.len, len + 1));
}

Test(aml, terms_out_of_place)
{
        _cleanup_(aml_buf_done) AmlBuf a = AML_BUF_INIT, c = AML_BUF_INIT, d = AML_BUF_INIT,
                                      e = AML_BUF_INIT, f = AML_BUF_INIT, g = AML_BUF_INIT, h = AML_BUF_INIT,
                                      i = AML_BUF_INIT;

        /* A resource descriptor outside a ResourceTemplate. */
        cr_assert(eq(int, aml_res_io(&a, true, 0x3f8, 0x3f8, 1, 8), -EINVAL));
        /* An operator inside a Package. */
        aml_package_begin(&c);
        cr_assert(eq(int, aml_op(&c, AML_OP_ADD), -EINVAL));
        /* An integer inside a ResourceTemplate. */
        aml_resource_begin(&d);
        cr_assert(eq(int, aml_int(&d, 1), -EINVAL));
        /* Else with no If before it, or with something between. */
        cr_assert(eq(int, aml_else_begin(&e), -EINVAL));
        aml_if_begin(&f);
        aml_int(&f, 1);
        aml_end(&f);
        aml_op(&f, AML_OP_NOOP);
        cr_assert(eq(int, aml_else_begin(&f), -EINVAL));
        /* aml_end() with nothing open, and a term left open. */
        cr_assert(eq(int, aml_end(&g), -EINVAL));
        aml_device_begin(&h, "DEV");
        cr_assert(eq(int, aml_buf_finish(&h), -EINVAL));
        /* A field unit outside a Field. */
        cr_assert(eq(int, aml_field_unit(&i, "A", 1), -EINVAL));
}

Test(aml, invalid_arguments)
{
        _cleanup_(aml_buf_done) AmlBuf a = AML_BUF_INIT, c = AML_BUF_INIT, d = AML_BUF_INIT,
                                      e = AML_BUF_INIT, f = AML_BUF_INIT, g = AML_BUF_INIT, h = AML_BUF_INIT;

        cr_assert(eq(int, aml_method_begin(&a, "M", 8, false), -EINVAL));
        cr_assert(eq(int, aml_local(&c, 8), -EINVAL));
        cr_assert(eq(int, aml_arg(&d, 7), -EINVAL));
        aml_resource_begin(&e);
        cr_assert(eq(int, aml_res_irq_noflags(&e, 16), -EINVAL));
        aml_resource_begin(&f);
        cr_assert(eq(int, aml_res_interrupt(&f, AML_IRQ_CONSUMER, NULL, 0), -EINVAL));
        aml_resource_begin(&g);
        cr_assert(eq(int, aml_res_word_io(&g, 0x2000, 0x1000), -EINVAL));
        cr_assert(eq(int, aml_field_begin(&h, "R", 6, false, AML_UPDATE_PRESERVE), -EINVAL));
}

Test(aml, package_counts_its_elements)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT, full = AML_BUF_INIT;

        /* Package () { "A", Package () { One }, \_SB, Buffer () { 7 } } */
        aml_package_begin(&b);
        aml_string(&b, "A");
        aml_package_begin(&b);
        aml_int(&b, 1);
        aml_end(&b);
        aml_name(&b, "\\_SB");
        aml_buffer(&b, (const uint8_t[]) { 7 }, 1);
        aml_end(&b);
        ASSERT_AML(&b, 0x12, 0x12, 0x04, 0x0d, 'A', 0x00, 0x12, 0x03, 0x01, 0x01, 0x5c, '_', 'S', 'B', '_',
                   0x11, 0x03, 0x01, 0x07);

        aml_package_begin(&full);
        for (unsigned i = 0; i < 255; i++)
                cr_assert(eq(int, aml_int(&full, i), 0));
        cr_assert(eq(int, aml_int(&full, 255), -EINVAL));
}

Test(aml, nesting_depth_is_bounded)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        for (unsigned i = 0; i < AML_MAX_DEPTH; i++)
                cr_assert(eq(int, aml_if_begin(&b), 0));
        cr_assert(eq(int, aml_if_begin(&b), -EINVAL));
}

Test(aml, allocation_failure)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT, c = AML_BUF_INIT;
        _cleanup_free_ uint8_t *data = calloc(1, 4096);
        int r;

        cr_assert(not(zero(ptr, data)));
        fail_realloc = true;
        r = aml_int(&b, 0x1234);
        fail_realloc = false;
        cr_assert(eq(int, r, -ENOMEM));
        cr_assert(eq(int, aml_int(&b, 1), -ENOMEM));
        cr_assert(eq(int, aml_buf_finish(&b), -ENOMEM));

        /* Growing a buffer that already holds something, then closing a term. */
        cr_assert(eq(int, aml_scope_begin(&c, "\\_SB"), 0));
        fail_realloc = true;
        r = aml_buffer(&c, data, 4096);
        fail_realloc = false;
        cr_assert(eq(int, r, -ENOMEM));
        cr_assert(eq(int, aml_end(&c), -ENOMEM));
}

Test(aml, raw_bytes_go_anywhere)
{
        _cleanup_(aml_buf_done) AmlBuf b = AML_BUF_INIT;

        aml_resource_begin(&b);
        aml_raw(&b, (const uint8_t[]) { 0x22, 0x01, 0x00 }, 3); /* IRQNoFlags () {0} */
        aml_end(&b);
        ASSERT_AML(&b, 0x11, 0x08, 0x0a, 0x05, 0x22, 0x01, 0x00, 0x79, 0x00);
}
