/* SPDX-License-Identifier: Apache-2.0 */
#include "aml.h"

#define AML_ZERO_OP            0x00
#define AML_ONE_OP             0x01
#define AML_ONES_OP            0xff
#define AML_BYTE_PREFIX        0x0a
#define AML_WORD_PREFIX        0x0b
#define AML_DWORD_PREFIX       0x0c
#define AML_STRING_PREFIX      0x0d
#define AML_QWORD_PREFIX       0x0e
#define AML_NAME_OP            0x08
#define AML_BUFFER_OP          0x11
#define AML_EXT_OP_PREFIX      0x5b
#define AML_OP_REGION_OP       0x80 /* behind ExtOpPrefix */
#define AML_DUAL_NAME_PREFIX   0x2e
#define AML_MULTI_NAME_PREFIX  0x2f
#define AML_ROOT_CHAR          '\\'
#define AML_PARENT_PREFIX_CHAR '^'
#define AML_LOCAL0_OP          0x60
#define AML_ARG0_OP            0x68
#define AML_NULL_NAME          0x00

/* Resource descriptor tags: small ones carry their length in the low three bits. */
#define AML_RES_IRQ_NOFLAGS    0x22
#define AML_RES_IO             0x47
#define AML_RES_END_TAG        0x79
#define AML_RES_MEMORY32_FIXED 0x86
#define AML_RES_DWORD_ADDRESS  0x87
#define AML_RES_WORD_ADDRESS   0x88
#define AML_RES_EXT_INTERRUPT  0x89
#define AML_RES_QWORD_ADDRESS  0x8a

/* What may be appended where: the context of a term is the innermost open frame. */
typedef enum AmlTermClass {
        AML_CLASS_TERM,     /* operators, declarations, terms with a body */
        AML_CLASS_DATA,     /* data objects and name references: also Package elements */
        AML_CLASS_FIELD,    /* field units */
        AML_CLASS_RESOURCE, /* resource descriptors */
} AmlTermClass;

static const struct {
        uint16_t op;
        AmlTermClass body; /* what the body holds */
} frame_info[_AML_FRAME_KIND_MAX] = {
        [AML_FRAME_SCOPE] = { 0x10, AML_CLASS_TERM },      /* ScopeOp */
        [AML_FRAME_DEVICE] = { 0x5b82, AML_CLASS_TERM },   /* DeviceOp */
        [AML_FRAME_METHOD] = { 0x14, AML_CLASS_TERM },     /* MethodOp */
        [AML_FRAME_IF] = { 0xa0, AML_CLASS_TERM },         /* IfOp */
        [AML_FRAME_ELSE] = { 0xa1, AML_CLASS_TERM },       /* ElseOp */
        [AML_FRAME_WHILE] = { 0xa2, AML_CLASS_TERM },      /* WhileOp */
        [AML_FRAME_FIELD] = { 0x5b81, AML_CLASS_FIELD },   /* FieldOp */
        [AML_FRAME_PACKAGE] = { 0x12, AML_CLASS_DATA },    /* PackageOp */
        [AML_FRAME_RESOURCE] = { AML_BUFFER_OP, AML_CLASS_RESOURCE },
};

void aml_buf_init(AmlBuf *b)
{
        *b = AML_BUF_INIT;
}

void aml_buf_done(AmlBuf *b)
{
        free(b->data);
        *b = AML_BUF_INIT;
}

static int aml_fail(AmlBuf *b, int r)
{
        if (b->error == 0)
                b->error = r;
        return b->error;
}

int aml_buf_finish(AmlBuf *b)
{
        if (b->error == 0 && b->depth > 0)
                return aml_fail(b, -EINVAL);
        return b->error;
}

static AmlFrame *aml_top(AmlBuf *b)
{
        return b->depth > 0 ? &b->frames[b->depth - 1] : NULL;
}

/* Whether a term of class c may be appended here; counts the elements of a Package. */
static int aml_check(AmlBuf *b, AmlTermClass c)
{
        AmlFrame *f = aml_top(b);
        AmlTermClass body = f ? frame_info[f->kind].body : AML_CLASS_TERM;

        if (b->error)
                return b->error;
        if (body == AML_CLASS_TERM && c == AML_CLASS_DATA)
                return 0;
        if (body != c)
                return aml_fail(b, -EINVAL);
        if (f && f->kind == AML_FRAME_PACKAGE) {
                if (f->elements >= UINT8_MAX)
                        return aml_fail(b, -EINVAL);
                f->elements++;
        }
        return 0;
}

static int aml_reserve(AmlBuf *b, size_t extra)
{
        size_t need, cap;
        uint8_t *p;

        if (__builtin_add_overflow(b->len, extra, &need))
                return aml_fail(b, -ENOMEM);
        if (need <= b->cap)
                return 0;
        cap = MAX(b->cap, (size_t) 256);
        while (cap < need)
                if (__builtin_mul_overflow(cap, 2, &cap))
                        return aml_fail(b, -ENOMEM);
        p = realloc(b->data, cap);
        if (!p)
                return aml_fail(b, -ENOMEM);
        b->data = p;
        b->cap = cap;
        return 0;
}

static int aml_append(AmlBuf *b, const void *data, size_t len)
{
        int r;

        if (b->error)
                return b->error;
        r = aml_reserve(b, len);
        if (r < 0)
                return r;
        if (len > 0)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        return 0;
}

static int aml_byte(AmlBuf *b, uint8_t v)
{
        return aml_append(b, &v, 1);
}

/* Little-endian, the byte order of everything in ACPI. */
static int aml_le(AmlBuf *b, uint64_t v, unsigned size)
{
        uint8_t buf[8];

        for (unsigned i = 0; i < size; i++)
                buf[i] = (uint8_t) (v >> (8 * i));
        return aml_append(b, buf, size);
}

static int aml_opcode(AmlBuf *b, uint16_t op)
{
        if (op > 0xff)
                return aml_le(b, (uint64_t) (op >> 8) | (uint64_t) (op & 0xff) << 8, 2);
        return aml_byte(b, (uint8_t) op);
}

int aml_raw(AmlBuf *b, const void *data, size_t len)
{
        return aml_append(b, data, len);
}

/* PkgLength */

/* What 1-4 bytes of PkgLength hold: 6 bits in a single byte, else 4 in the first and 8 in each other. */
static const uint32_t pkg_length_limit[4] = { 0x40, 0x1000, 0x100000, AML_PKG_LENGTH_MAX + 1 };

/* The value v in exactly n bytes of PkgLength encoding. */
static void pkg_length_put(uint64_t v, unsigned n, uint8_t out[static 4])
{
        if (n == 1) {
                out[0] = (uint8_t) v;
                return;
        }
        out[0] = (uint8_t) (((n - 1) << 6) | (v & 0x0f));
        for (unsigned i = 1; i < n; i++)
                out[i] = (uint8_t) (v >> (4 + 8 * (i - 1)));
}

int aml_pkg_length_encode(uint64_t body_len, uint8_t out[static 4])
{
        for (unsigned n = 1; n <= 4; n++)
                if (body_len < pkg_length_limit[n - 1] - n) {
                        pkg_length_put(body_len + n, n, out);
                        return (int) n;
                }
        return -EINVAL;
}

/* A value that is not a package length (the width of a field unit) in the same encoding. */
static int pkg_length_encode_value(uint64_t v, uint8_t out[static 4])
{
        for (unsigned n = 1; n <= 4; n++)
                if (v < pkg_length_limit[n - 1]) {
                        pkg_length_put(v, n, out);
                        return (int) n;
                }
        return -EINVAL;
}

/* Inserts len bytes at pos. */
static int aml_insert(AmlBuf *b, size_t pos, const uint8_t *data, size_t len)
{
        int r = aml_reserve(b, len);
        if (r < 0)
                return r;
        memmove(b->data + pos + len, b->data + pos, b->len - pos);
        memcpy(b->data + pos, data, len);
        b->len += len;
        return 0;
}

/* Data */

static unsigned int_encode(uint64_t v, uint8_t out[static 9])
{
        static const struct {
                uint64_t max;
                uint8_t prefix;
                unsigned size;
        } forms[] = {
                { UINT8_MAX, AML_BYTE_PREFIX, 1 },
                { UINT16_MAX, AML_WORD_PREFIX, 2 },
                { UINT32_MAX, AML_DWORD_PREFIX, 4 },
                { UINT64_MAX, AML_QWORD_PREFIX, 8 },
        };

        if (v == 0 || v == 1 || v == UINT64_MAX) {
                out[0] = v == 0 ? AML_ZERO_OP : v == 1 ? AML_ONE_OP : AML_ONES_OP;
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                if (v <= forms[i].max) {
                        out[0] = forms[i].prefix;
                        for (unsigned j = 0; j < forms[i].size; j++)
                                out[1 + j] = (uint8_t) (v >> (8 * j));
                        return 1 + forms[i].size;
                }
        __builtin_unreachable();
}

int aml_int(AmlBuf *b, uint64_t v)
{
        uint8_t buf[9];
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        return aml_append(b, buf, int_encode(v, buf));
}

int aml_string(AmlBuf *b, const char *s)
{
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p > 0x7f)
                        return aml_fail(b, -EINVAL);
        (void) aml_byte(b, AML_STRING_PREFIX);
        return aml_append(b, s, strlen(s) + 1);
}

/* BufferOp PkgLength BufferSize ByteList, once the class has been checked. */
static int aml_buffer_unchecked(AmlBuf *b, const void *data, size_t len)
{
        uint8_t size[9], pkg[4];
        unsigned n_size = int_encode(len, size);
        int n_pkg = aml_pkg_length_encode((uint64_t) len + n_size, pkg);

        if (n_pkg < 0)
                return aml_fail(b, n_pkg);
        (void) aml_byte(b, AML_BUFFER_OP);
        (void) aml_append(b, pkg, (size_t) n_pkg);
        (void) aml_append(b, size, n_size);
        return aml_append(b, data, len);
}

int aml_buffer(AmlBuf *b, const void *data, size_t len)
{
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        return aml_buffer_unchecked(b, data, len);
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

int aml_eisaid(AmlBuf *b, const char *id)
{
        uint32_t v = 0;
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        if (strlen(id) != 7)
                return aml_fail(b, -EINVAL);
        /* Three capital letters of five bits each ('A' is 1), then four capital hex digits. */
        for (unsigned i = 0; i < 3; i++) {
                if (id[i] < 'A' || id[i] > 'Z')
                        return aml_fail(b, -EINVAL);
                v |= (uint32_t) (id[i] - 0x40) << (26 - 5 * i);
        }
        for (unsigned i = 3; i < 7; i++) {
                int d = hex_digit(id[i]);
                if (d < 0 || (id[i] >= 'a' && id[i] <= 'f'))
                        return aml_fail(b, -EINVAL);
                v |= (uint32_t) d << (4 * (6 - i));
        }
        /* The 32-bit value is stored big-endian: the letters come first in memory. */
        (void) aml_byte(b, AML_DWORD_PREFIX);
        return aml_le(b, __builtin_bswap32(v), 4);
}

int aml_uuid(AmlBuf *b, const char *uuid)
{
        /* Where each byte of the string goes: the first three groups are little-endian. */
        static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
        uint8_t bytes[16], out[16];
        unsigned n = 0;
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        if (strlen(uuid) != 36)
                return aml_fail(b, -EINVAL);
        for (unsigned i = 0; i < 36;) {
                int hi, lo;
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (uuid[i] != '-')
                                return aml_fail(b, -EINVAL);
                        i++;
                        continue;
                }
                hi = hex_digit(uuid[i]);
                lo = hex_digit(uuid[i + 1]);
                if (hi < 0 || lo < 0)
                        return aml_fail(b, -EINVAL);
                bytes[n++] = (uint8_t) (hi << 4 | lo);
                i += 2;
        }
        for (unsigned i = 0; i < 16; i++)
                out[i] = bytes[order[i]];
        return aml_buffer_unchecked(b, out, sizeof out);
}

/* Names */

static bool name_lead_char(char c)
{
        return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
        return name_lead_char(c) || (c >= '0' && c <= '9');
}

/* Length of the segment at s (1-4 characters), or 0 when it is malformed. */
static size_t name_seg_length(const char *s)
{
        size_t n = 0;

        if (!name_lead_char(s[0]))
                return 0;
        while (name_char(s[n]))
                if (++n > 4)
                        return 0;
        return n;
}

static int aml_name_seg(AmlBuf *b, const char *s, size_t n)
{
        char seg[4] = { '_', '_', '_', '_' };

        memcpy(seg, s, n);
        return aml_append(b, seg, 4);
}

/* Encodes a NameString; the term class has been checked by the caller. */
static int aml_namestring(AmlBuf *b, const char *path)
{
        const char *p = path, *segs;
        size_t n_segs = 0;

        if (b->error)
                return b->error;
        if (*p == AML_ROOT_CHAR)
                p++;
        else
                while (*p == AML_PARENT_PREFIX_CHAR)
                        p++;
        segs = p;
        if (*p == '\0' && p == path)
                return aml_fail(b, -EINVAL);
        while (*p) {
                size_t n = name_seg_length(p);
                if (n == 0)
                        return aml_fail(b, -EINVAL);
                p += n;
                n_segs++;
                if (*p == '.') {
                        p++;
                        if (*p == '\0')
                                return aml_fail(b, -EINVAL);
                } else if (*p != '\0')
                        return aml_fail(b, -EINVAL);
        }
        if (n_segs > UINT8_MAX)
                return aml_fail(b, -EINVAL);

        (void) aml_append(b, path, (size_t) (segs - path));
        if (n_segs == 0)
                (void) aml_byte(b, AML_NULL_NAME);
        else if (n_segs == 2)
                (void) aml_byte(b, AML_DUAL_NAME_PREFIX);
        else if (n_segs > 2) {
                (void) aml_byte(b, AML_MULTI_NAME_PREFIX);
                (void) aml_byte(b, (uint8_t) n_segs);
        }
        for (p = segs; *p;) {
                size_t n = name_seg_length(p);
                (void) aml_name_seg(b, p, n);
                p += n;
                if (*p == '.')
                        p++;
        }
        return b->error;
}

int aml_name(AmlBuf *b, const char *path)
{
        int r = aml_check(b, AML_CLASS_DATA);
        if (r < 0)
                return r;
        return aml_namestring(b, path);
}

int aml_null_name(AmlBuf *b)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        return aml_byte(b, AML_NULL_NAME);
}

int aml_local(AmlBuf *b, unsigned n)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        if (n > 7)
                return aml_fail(b, -EINVAL);
        return aml_byte(b, (uint8_t) (AML_LOCAL0_OP + n));
}

int aml_arg(AmlBuf *b, unsigned n)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        if (n > 6)
                return aml_fail(b, -EINVAL);
        return aml_byte(b, (uint8_t) (AML_ARG0_OP + n));
}

int aml_op(AmlBuf *b, AmlOp op)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        return aml_opcode(b, (uint16_t) op);
}

int aml_name_decl(AmlBuf *b, const char *path)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        (void) aml_byte(b, AML_NAME_OP);
        return aml_namestring(b, path);
}

int aml_name_int(AmlBuf *b, const char *path, uint64_t v)
{
        (void) aml_name_decl(b, path);
        return aml_int(b, v);
}

int aml_name_string(AmlBuf *b, const char *path, const char *s)
{
        (void) aml_name_decl(b, path);
        return aml_string(b, s);
}

int aml_name_eisaid(AmlBuf *b, const char *path, const char *id)
{
        (void) aml_name_decl(b, path);
        return aml_eisaid(b, id);
}

int aml_notify(AmlBuf *b, const char *path, uint64_t value)
{
        (void) aml_op(b, AML_OP_NOTIFY);
        (void) aml_name(b, path);
        return aml_int(b, value);
}

/* Terms with a body */

static int aml_begin(AmlBuf *b, AmlFrameKind kind, AmlTermClass c)
{
        int r = aml_check(b, c);
        if (r < 0)
                return r;
        if (b->depth >= AML_MAX_DEPTH)
                return aml_fail(b, -EINVAL);
        r = aml_opcode(b, frame_info[kind].op);
        if (r < 0)
                return r;
        b->frames[b->depth++] = (AmlFrame) { .kind = kind, .start = b->len };
        return 0;
}

int aml_scope_begin(AmlBuf *b, const char *path)
{
        (void) aml_begin(b, AML_FRAME_SCOPE, AML_CLASS_TERM);
        return aml_namestring(b, path);
}

int aml_device_begin(AmlBuf *b, const char *path)
{
        (void) aml_begin(b, AML_FRAME_DEVICE, AML_CLASS_TERM);
        return aml_namestring(b, path);
}

int aml_method_begin(AmlBuf *b, const char *path, unsigned n_args, bool serialized)
{
        if (n_args > 7)
                return aml_fail(b, -EINVAL);
        (void) aml_begin(b, AML_FRAME_METHOD, AML_CLASS_TERM);
        (void) aml_namestring(b, path);
        /* MethodFlags: ArgCount in bits 0-2, SerializeFlag in bit 3, SyncLevel 0. */
        return aml_byte(b, (uint8_t) (n_args | (serialized ? 0x08 : 0)));
}

int aml_if_begin(AmlBuf *b)
{
        return aml_begin(b, AML_FRAME_IF, AML_CLASS_TERM);
}

int aml_else_begin(AmlBuf *b)
{
        if (b->error == 0 && b->if_end != b->len)
                return aml_fail(b, -EINVAL);
        return aml_begin(b, AML_FRAME_ELSE, AML_CLASS_TERM);
}

int aml_while_begin(AmlBuf *b)
{
        return aml_begin(b, AML_FRAME_WHILE, AML_CLASS_TERM);
}

int aml_package_begin(AmlBuf *b)
{
        return aml_begin(b, AML_FRAME_PACKAGE, AML_CLASS_DATA);
}

int aml_resource_begin(AmlBuf *b)
{
        return aml_begin(b, AML_FRAME_RESOURCE, AML_CLASS_DATA);
}

int aml_end(AmlBuf *b)
{
        static const uint8_t end_tag[2] = { AML_RES_END_TAG, 0 /* checksum: none */ };
        uint8_t header[4 + 9];
        size_t n_extra = 0;
        AmlFrame f;
        int n;

        if (b->error)
                return b->error;
        if (b->depth == 0)
                return aml_fail(b, -EINVAL);
        f = b->frames[--b->depth];

        /* What follows the PkgLength: the element count of a Package, the size of a Buffer. */
        if (f.kind == AML_FRAME_PACKAGE)
                header[4 + n_extra++] = (uint8_t) f.elements;
        else if (f.kind == AML_FRAME_RESOURCE) {
                if (aml_append(b, end_tag, sizeof end_tag) < 0)
                        return b->error;
                n_extra = int_encode(b->len - f.start, header + 4);
        }

        n = aml_pkg_length_encode(b->len - f.start + n_extra, header);
        if (n < 0)
                return aml_fail(b, n);
        memmove(header + n, header + 4, n_extra);
        if (aml_insert(b, f.start, header, (size_t) n + n_extra) < 0)
                return b->error;
        if (f.kind == AML_FRAME_IF)
                b->if_end = b->len;
        return 0;
}

int aml_operation_region(AmlBuf *b, const char *path, AmlRegionSpace space, uint64_t offset,
                         uint64_t length)
{
        int r = aml_check(b, AML_CLASS_TERM);
        if (r < 0)
                return r;
        if ((unsigned) space > 0xff)
                return aml_fail(b, -EINVAL);
        (void) aml_byte(b, AML_EXT_OP_PREFIX);
        (void) aml_byte(b, AML_OP_REGION_OP);
        (void) aml_namestring(b, path);
        (void) aml_byte(b, (uint8_t) space);
        (void) aml_int(b, offset);
        return aml_int(b, length);
}

/* Fields */

int aml_field_begin(AmlBuf *b, const char *region, AmlAccessType access, bool lock, AmlUpdateRule update)
{
        if ((unsigned) access > AML_ACCESS_BUFFER || (unsigned) update > AML_UPDATE_WRITE_AS_ZEROS)
                return aml_fail(b, -EINVAL);
        (void) aml_begin(b, AML_FRAME_FIELD, AML_CLASS_TERM);
        (void) aml_namestring(b, region);
        /* FieldFlags: AccessType in bits 0-3, LockRule in bit 4, UpdateRule in bits 5-6. */
        return aml_byte(b, (uint8_t) (access | (lock ? 0x10 : 0) | update << 5));
}

int aml_field_unit(AmlBuf *b, const char *name, uint64_t bits)
{
        AmlFrame *f;
        uint8_t len[4];
        int r = aml_check(b, AML_CLASS_FIELD), n;
        if (r < 0)
                return r;
        f = aml_top(b);

        n = pkg_length_encode_value(bits, len);
        if (n < 0 || bits == 0)
                return aml_fail(b, -EINVAL);
        if (name) {
                size_t l = name_seg_length(name);
                if (l == 0 || name[l] != '\0')
                        return aml_fail(b, -EINVAL);
                (void) aml_name_seg(b, name, l);
        } else
                (void) aml_byte(b, 0x00); /* ReservedField */
        r = aml_append(b, len, (size_t) n);
        if (r < 0)
                return r;
        f->field_bit += bits;
        return 0;
}

int aml_field_offset(AmlBuf *b, uint64_t byte_offset)
{
        AmlFrame *f;
        int r = aml_check(b, AML_CLASS_FIELD);
        if (r < 0)
                return r;
        f = aml_top(b);

        if (byte_offset > UINT64_MAX / 8 || byte_offset * 8 < f->field_bit)
                return aml_fail(b, -EINVAL);
        if (byte_offset * 8 == f->field_bit)
                return 0;
        return aml_field_unit(b, NULL, byte_offset * 8 - f->field_bit);
}

/* Resource descriptors */

static int aml_large_descriptor(AmlBuf *b, uint8_t tag, size_t len)
{
        (void) aml_byte(b, tag);
        return aml_le(b, len, 2);
}

int aml_res_address_space(AmlBuf *b, unsigned width, const AmlAddressSpace *a)
{
        static const struct {
                unsigned width;
                uint8_t tag;
        } forms[] = {
                { 16, AML_RES_WORD_ADDRESS },
                { 32, AML_RES_DWORD_ADDRESS },
                { 64, AML_RES_QWORD_ADDRESS },
        };
        const uint64_t values[] = { a->granularity, a->min, a->max, a->translation, a->length };
        unsigned size = width / 8;
        uint8_t tag = 0;
        int r = aml_check(b, AML_CLASS_RESOURCE);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                if (forms[i].width == width)
                        tag = forms[i].tag;
        if (tag == 0 || (unsigned) a->type > AML_ADDRESS_BUS_NUMBER)
                return aml_fail(b, -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                if (width < 64 && values[i] >> width != 0)
                        return aml_fail(b, -EINVAL);

        (void) aml_large_descriptor(b, tag, 3 + ELEMENTSOF(values) * size);
        (void) aml_byte(b, (uint8_t) a->type);
        /* General flags: _MAF, _MIF, _DEC, and in bit 0 whether the device only consumes it. */
        (void) aml_byte(b, (uint8_t) ((a->max_fixed ? 0x08 : 0) | (a->min_fixed ? 0x04 : 0) |
                                      (a->subtractive_decode ? 0x02 : 0) | (a->consumer ? 0x01 : 0)));
        (void) aml_byte(b, a->type_flags);
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                (void) aml_le(b, values[i], size);
        return b->error;
}

static int aml_res_fixed_range(AmlBuf *b, unsigned width, AmlAddressType type, bool consumer, uint8_t flags,
                               uint64_t min, uint64_t max)
{
        if (min > max || (min == 0 && max == UINT64_MAX))
                return aml_fail(b, -EINVAL);
        return aml_res_address_space(b, width,
                                     &(const AmlAddressSpace) {
                                             .type = type,
                                             .consumer = consumer,
                                             .min_fixed = true,
                                             .max_fixed = true,
                                             .type_flags = flags,
                                             .min = min,
                                             .max = max,
                                             .length = max - min + 1,
                                     });
}

int aml_res_word_bus_number(AmlBuf *b, uint16_t min, uint16_t max)
{
        return aml_res_fixed_range(b, 16, AML_ADDRESS_BUS_NUMBER, false, 0, min, max);
}

int aml_res_word_io(AmlBuf *b, uint16_t min, uint16_t max)
{
        return aml_res_fixed_range(b, 16, AML_ADDRESS_IO, false, AML_IO_ENTIRE_RANGE, min, max);
}

int aml_res_dword_memory(AmlBuf *b, bool consumer, uint8_t mem_flags, uint32_t min, uint32_t max)
{
        return aml_res_fixed_range(b, 32, AML_ADDRESS_MEMORY, consumer, mem_flags, min, max);
}

int aml_res_qword_memory(AmlBuf *b, bool consumer, uint8_t mem_flags, uint64_t min, uint64_t max)
{
        return aml_res_fixed_range(b, 64, AML_ADDRESS_MEMORY, consumer, mem_flags, min, max);
}

int aml_res_io(AmlBuf *b, bool decode16, uint16_t min, uint16_t max, uint8_t alignment, uint8_t length)
{
        int r = aml_check(b, AML_CLASS_RESOURCE);
        if (r < 0)
                return r;
        if (min > max)
                return aml_fail(b, -EINVAL);
        (void) aml_byte(b, AML_RES_IO);
        (void) aml_byte(b, decode16 ? 0x01 : 0x00);
        (void) aml_le(b, min, 2);
        (void) aml_le(b, max, 2);
        (void) aml_byte(b, alignment);
        return aml_byte(b, length);
}

int aml_res_irq_noflags(AmlBuf *b, unsigned irq)
{
        int r = aml_check(b, AML_CLASS_RESOURCE);
        if (r < 0)
                return r;
        if (irq > 15)
                return aml_fail(b, -EINVAL);
        (void) aml_byte(b, AML_RES_IRQ_NOFLAGS);
        return aml_le(b, UINT64_C(1) << irq, 2);
}

int aml_res_memory32_fixed(AmlBuf *b, bool read_write, uint32_t base, uint32_t length)
{
        int r = aml_check(b, AML_CLASS_RESOURCE);
        if (r < 0)
                return r;
        (void) aml_large_descriptor(b, AML_RES_MEMORY32_FIXED, 9);
        (void) aml_byte(b, read_write ? 0x01 : 0x00);
        (void) aml_le(b, base, 4);
        return aml_le(b, length, 4);
}

int aml_res_interrupt(AmlBuf *b, uint8_t flags, const uint32_t *irqs, size_t n_irqs)
{
        int r = aml_check(b, AML_CLASS_RESOURCE);
        if (r < 0)
                return r;
        if (n_irqs == 0 || n_irqs > UINT8_MAX || (flags & ~0x1f) != 0)
                return aml_fail(b, -EINVAL);
        (void) aml_large_descriptor(b, AML_RES_EXT_INTERRUPT, 2 + 4 * n_irqs);
        (void) aml_byte(b, flags);
        (void) aml_byte(b, (uint8_t) n_irqs);
        for (size_t i = 0; i < n_irqs; i++)
                (void) aml_le(b, irqs[i], 4);
        return b->error;
}
