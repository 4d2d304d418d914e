/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/*
 * An encoder for ACPI Machine Language (ACPI 6.5, chapter 20) and for the resource descriptors of
 * _CRS (chapter 6.4), building a byte buffer.
 *
 * Terms whose encoding carries a PkgLength (Scope, Device, Method, If, Else, While, Field, Package and
 * the Buffer of a ResourceTemplate) are opened with a *_begin() call and closed with aml_end(). The
 * PkgLength, the element count of a Package and the size of a Buffer are only known once the body is
 * complete: aml_end() inserts them in front of the body, each in its smallest encoding.
 *
 * Operators are prefix-encoded: aml_op() appends the opcode, and the operands follow as further calls,
 * in the order of the ASL arguments. For example, "Store (And (Local0, 0x10), Local1)" is
 *
 *         aml_op(b, AML_OP_STORE);
 *                 aml_op(b, AML_OP_AND);
 *                         aml_local(b, 0);
 *                         aml_int(b, 0x10);
 *                         aml_null_name(b);
 *                 aml_local(b, 1);
 *
 * Every function returns 0 or a negative errno, and the first error sticks: once a call has failed,
 * later calls on the same buffer append nothing and return that error, so a caller may build a whole
 * table and check the result of aml_buf_finish() only. Errors are -ENOMEM when the buffer cannot grow,
 * -EINVAL for a malformed name, a value out of range, a PkgLength of 2^28 bytes or more, or a term in
 * a place where it cannot appear (an operator inside a Package, a resource descriptor outside a
 * ResourceTemplate, an Else that does not follow an If, aml_end() with nothing open).
 */

#define AML_MAX_DEPTH      32
#define AML_PKG_LENGTH_MAX ((UINT32_C(1) << 28) - 1)

typedef enum AmlFrameKind {
        AML_FRAME_SCOPE,
        AML_FRAME_DEVICE,
        AML_FRAME_METHOD,
        AML_FRAME_IF,
        AML_FRAME_ELSE,
        AML_FRAME_WHILE,
        AML_FRAME_FIELD,
        AML_FRAME_PACKAGE,
        AML_FRAME_RESOURCE,
        _AML_FRAME_KIND_MAX,
} AmlFrameKind;

typedef struct AmlFrame {
        AmlFrameKind kind;
        size_t start;       /* where the PkgLength goes */
        unsigned elements;  /* Package: the elements appended so far */
        uint64_t field_bit; /* Field: the bit offset of the next field unit */
} AmlFrame;

typedef struct AmlBuf {
        uint8_t *data;
        size_t len;
        size_t cap;
        AmlFrame frames[AML_MAX_DEPTH];
        unsigned depth;
        size_t if_end; /* where the last If closed, so that an Else can check it follows it */
        int error;
} AmlBuf;

#define AML_BUF_INIT ((AmlBuf) { .if_end = SIZE_MAX })

void aml_buf_init(AmlBuf *b);
/* Frees the data; for _cleanup_(aml_buf_done). */
void aml_buf_done(AmlBuf *b);
/* The sticky error, or -EINVAL (which then sticks) when a term is still open. */
int aml_buf_finish(AmlBuf *b);

/* Opcodes of the operators, the one-byte ones and those behind ExtOpPrefix (0x5b) as 0x5bXX. */
typedef enum AmlOp {
        AML_OP_STORE = 0x70,
        AML_OP_ADD = 0x72,
        AML_OP_CONCAT = 0x73,
        AML_OP_SUBTRACT = 0x74,
        AML_OP_INCREMENT = 0x75,
        AML_OP_DECREMENT = 0x76,
        AML_OP_MULTIPLY = 0x77,
        AML_OP_DIVIDE = 0x78,
        AML_OP_SHIFT_LEFT = 0x79,
        AML_OP_SHIFT_RIGHT = 0x7a,
        AML_OP_AND = 0x7b,
        AML_OP_NAND = 0x7c,
        AML_OP_OR = 0x7d,
        AML_OP_NOR = 0x7e,
        AML_OP_XOR = 0x7f,
        AML_OP_NOT = 0x80,
        AML_OP_DEREF_OF = 0x83,
        AML_OP_NOTIFY = 0x86,
        AML_OP_SIZE_OF = 0x87,
        AML_OP_INDEX = 0x88,
        AML_OP_CREATE_DWORD_FIELD = 0x8a,
        AML_OP_CREATE_WORD_FIELD = 0x8b,
        AML_OP_CREATE_BYTE_FIELD = 0x8c,
        AML_OP_CREATE_QWORD_FIELD = 0x8f,
        AML_OP_LAND = 0x90,
        AML_OP_LOR = 0x91,
        AML_OP_LNOT = 0x92,
        AML_OP_LEQUAL = 0x93,
        AML_OP_LGREATER = 0x94,
        AML_OP_LLESS = 0x95,
        AML_OP_NOOP = 0xa3,
        AML_OP_RETURN = 0xa4,
        AML_OP_BREAK = 0xa5,
        AML_OP_SLEEP = 0x5b22,
        AML_OP_ACQUIRE = 0x5b23,
        AML_OP_RELEASE = 0x5b27,
} AmlOp;

/* Data: integers in their smallest encoding (Zero, One, Ones, then Byte, Word, DWord, QWord). */
int aml_int(AmlBuf *b, uint64_t v);
/* A String of ASCII characters 0x01-0x7f. */
int aml_string(AmlBuf *b, const char *s);
/* A Buffer with the given bytes. */
int aml_buffer(AmlBuf *b, const void *data, size_t len);
/* A compressed EISA ID ("PNP0A08": three capital letters, four capital hex digits) as a DWord. */
int aml_eisaid(AmlBuf *b, const char *id);
/* ToUUID ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"): a 16-byte Buffer in the byte order ACPI defines. */
int aml_uuid(AmlBuf *b, const char *uuid);

/*
 * Names. A path is an optional root prefix "\" or any number of parent prefixes "^", then segments
 * separated by dots; a segment is a capital letter or '_' followed by up to three capital letters,
 * digits or '_', and is padded to four characters with '_' ("GED" is "GED_"). "\" alone is the root.
 */
int aml_name(AmlBuf *b, const char *path);
/* NullName, as in a Target that is not stored. */
int aml_null_name(AmlBuf *b);
int aml_local(AmlBuf *b, unsigned n); /* Local0-Local7 */
int aml_arg(AmlBuf *b, unsigned n);   /* Arg0-Arg6 */
int aml_op(AmlBuf *b, AmlOp op);

/* Name (path, <value>): the value is the next term appended. */
int aml_name_decl(AmlBuf *b, const char *path);
int aml_name_int(AmlBuf *b, const char *path, uint64_t v);
int aml_name_string(AmlBuf *b, const char *path, const char *s);
int aml_name_eisaid(AmlBuf *b, const char *path, const char *id);

/* Notify (path, value) */
int aml_notify(AmlBuf *b, const char *path, uint64_t value);

/* Terms with a body, closed by aml_end(). */
int aml_scope_begin(AmlBuf *b, const char *path);
int aml_device_begin(AmlBuf *b, const char *path);
int aml_method_begin(AmlBuf *b, const char *path, unsigned n_args, bool serialized);
/* If and While: the first term of the body is the predicate. Else must follow the closed If. */
int aml_if_begin(AmlBuf *b);
int aml_else_begin(AmlBuf *b);
int aml_while_begin(AmlBuf *b);
/* Package: every data term appended to its body (integers, strings, buffers, names, packages) is
 * counted as an element; at most 255 of them. */
int aml_package_begin(AmlBuf *b);
int aml_end(AmlBuf *b);

/* OperationRegion (name, space, offset, length) */
typedef enum AmlRegionSpace {
        AML_SPACE_SYSTEM_MEMORY = 0,
        AML_SPACE_SYSTEM_IO = 1,
        AML_SPACE_PCI_CONFIG = 2,
} AmlRegionSpace;
int aml_operation_region(AmlBuf *b, const char *path, AmlRegionSpace space, uint64_t offset,
                         uint64_t length);

/* Field (region, access, lock, update) { ... }: field units follow, then aml_end(). */
typedef enum AmlAccessType {
        AML_ACCESS_ANY = 0,
        AML_ACCESS_BYTE = 1,
        AML_ACCESS_WORD = 2,
        AML_ACCESS_DWORD = 3,
        AML_ACCESS_QWORD = 4,
        AML_ACCESS_BUFFER = 5,
} AmlAccessType;
typedef enum AmlUpdateRule {
        AML_UPDATE_PRESERVE = 0,
        AML_UPDATE_WRITE_AS_ONES = 1,
        AML_UPDATE_WRITE_AS_ZEROS = 2,
} AmlUpdateRule;
int aml_field_begin(AmlBuf *b, const char *region, AmlAccessType access, bool lock, AmlUpdateRule update);
/* A named field unit of the given width in bits; with a NULL name, that many bits are skipped. */
int aml_field_unit(AmlBuf *b, const char *name, uint64_t bits);
/* Offset (byte_offset): skips to that byte, which must not lie behind the current position. */
int aml_field_offset(AmlBuf *b, uint64_t byte_offset);

/*
 * ResourceTemplate () { ... }: the descriptors below may only appear in its body; aml_end() appends
 * the End Tag (with a zero checksum) and closes the Buffer.
 */
int aml_resource_begin(AmlBuf *b);

typedef enum AmlAddressType {
        AML_ADDRESS_MEMORY = 0,
        AML_ADDRESS_IO = 1,
        AML_ADDRESS_BUS_NUMBER = 2,
} AmlAddressType;

/* Type-specific flags of a memory range (_MEM, _RW) and of an I/O range (_RNG). */
#define AML_MEM_READ_WRITE      0x01
#define AML_MEM_NON_CACHEABLE   0x00
#define AML_MEM_CACHEABLE       0x02
#define AML_MEM_WRITE_COMBINING 0x04
#define AML_MEM_PREFETCHABLE    0x06
#define AML_IO_NON_ISA_ONLY     0x01
#define AML_IO_ISA_ONLY         0x02
#define AML_IO_ENTIRE_RANGE     0x03

typedef struct AmlAddressSpace {
        AmlAddressType type;
        bool consumer; /* ResourceConsumer; else ResourceProducer */
        bool subtractive_decode;
        bool min_fixed;
        bool max_fixed;
        uint8_t type_flags; /* AML_MEM_* or AML_IO_* */
        uint64_t granularity;
        uint64_t min;
        uint64_t max;
        uint64_t translation;
        uint64_t length;
} AmlAddressSpace;

/* Word, DWord or QWord Address Space Descriptor (width 16, 32 or 64): every value must fit the width. */
int aml_res_address_space(AmlBuf *b, unsigned width, const AmlAddressSpace *a);
/* The forms a host bridge uses: ResourceProducer, MinFixed, MaxFixed, PosDecode, [min, max]. */
int aml_res_word_bus_number(AmlBuf *b, uint16_t min, uint16_t max);
int aml_res_word_io(AmlBuf *b, uint16_t min, uint16_t max);
int aml_res_dword_memory(AmlBuf *b, bool consumer, uint8_t mem_flags, uint32_t min, uint32_t max);
int aml_res_qword_memory(AmlBuf *b, bool consumer, uint8_t mem_flags, uint64_t min, uint64_t max);
/* IO (Decode16 or Decode10, min, max, alignment, length) */
int aml_res_io(AmlBuf *b, bool decode16, uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
/* IRQNoFlags () { irq }: an ISA interrupt 0-15, edge-triggered, active high. */
int aml_res_irq_noflags(AmlBuf *b, unsigned irq);
/* Memory32Fixed (ReadWrite or ReadOnly, base, length) */
int aml_res_memory32_fixed(AmlBuf *b, bool read_write, uint32_t base, uint32_t length);

/* Interrupt (consumer/producer, Edge/Level, ActiveHigh/ActiveLow, Exclusive/Shared) { irqs... } */
#define AML_IRQ_CONSUMER     0x01
#define AML_IRQ_EDGE         0x02
#define AML_IRQ_ACTIVE_LOW   0x04
#define AML_IRQ_SHARED       0x08
#define AML_IRQ_WAKE_CAPABLE 0x10
int aml_res_interrupt(AmlBuf *b, uint8_t flags, const uint32_t *irqs, size_t n_irqs);

/* Appends bytes as they are, for what this encoder does not know. */
int aml_raw(AmlBuf *b, const void *data, size_t len);

/*
 * PkgLength of a body of body_len bytes: writes 1-4 bytes to out and returns their number, or -EINVAL
 * when body_len and the PkgLength together would reach 2^28 bytes.
 */
int aml_pkg_length_encode(uint64_t body_len, uint8_t out[static 4]);
