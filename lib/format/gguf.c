/* GGUF reader: parses and validates a whole GGUF image (versions 2 and 3,
 * little-endian) into a phi_source. Metadata strings, numeric arrays and
 * tensor data point into the image; only the tables (meta[], tensors[]) and
 * the per-element views of string arrays are allocated.
 *
 * Layout and rules: docs/gguf-and-quants.md §1. Every item of checklist 1.7
 * is enforced. Where we differ from ggml's gguf.cpp:
 *   - BOOL values (scalars and array elements) must be 0 or 1 (the spec's
 *     rule; ggml takes any nonzero byte as true).
 *   - Keys are at most 65535 bytes (the spec's rule; ggml does not check).
 *   - Tensor names must not contain NUL bytes.
 *   - Every dimension must be >= 1: a zero-size tensor is rejected. Real
 *     files never hold one, and refusing them means every tensor occupies at
 *     least one byte, which keeps the overlap check simple and exact.
 *   - Tensors may be stored in any order and with any gaps, as long as each
 *     offset is a multiple of the alignment, each lies inside the file and
 *     no two overlap. (ggml demands info order, back to back.)
 *   - Version 0 is reported as invalid rather than as byte-swapped.
 *
 * Nothing is read outside [data, data + size): all reads go through the
 * bounds-checked cursor below. Counts read from the file are bounded by the
 * bytes left in the image before anything is allocated from them, so a lying
 * count costs at most a small multiple of the file's own size. */
#include "format/gguf.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "phi4.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_STRING_LENGTH (UINT64_C(1) << 30) /* ggml's limit: 1 GiB */
#define GGUF_MAX_ARRAY_ELEMENTS (UINT64_C(1) << 30)
#define GGUF_MAX_KEY_LENGTH 65535u
#define GGUF_NAME_CAP 64u /* names must fit ggml's char[64] with its NUL */
#define GGUF_MAX_DIMS 4u

/* Smallest possible encodings, used to bound counts before allocating:
 * a KV is key length (8) + type (4) + at least one value byte; a tensor info
 * is name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
#define KV_MIN_BYTES 13u
#define TENSOR_INFO_MIN_BYTES 32u

/* Bytes per scalar of each metadata type; 0 for STRING and ARRAY. */
static const uint8_t scalar_size[PHI_META_TYPE_COUNT] = {
    [PHI_META_U8] = 1,  [PHI_META_I8] = 1,  [PHI_META_U16] = 2, [PHI_META_I16] = 2,
    [PHI_META_U32] = 4, [PHI_META_I32] = 4, [PHI_META_F32] = 4, [PHI_META_BOOL] = 1,
    [PHI_META_U64] = 8, [PHI_META_I64] = 8, [PHI_META_F64] = 8,
};

static const char *meta_type_name(uint32_t t)
{
    static const char *const names[PHI_META_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return t < PHI_META_TYPE_COUNT ? names[t] : "invalid";
}

/* ---- bounds-checked cursor --------------------------------------------- */

struct reader {
    const uint8_t *base, *p, *end;
    phi_err *err;
    char what[160]; /* the item being read, for messages: "tensor info #2 'x'" */
};

static size_t rd_pos(const struct reader *r) { return (size_t)(r->p - r->base); }
static size_t rd_left(const struct reader *r) { return (size_t)(r->end - r->p); }

/* Copies up to 64 bytes of untrusted text into buf (>= 68 bytes) for a
 * message, replacing anything that is not printable ASCII with '?'. */
static const char *printable(char *buf, size_t cap, const void *s, uint64_t len)
{
    const uint8_t *b = s;
    size_t n = len > 64 ? 64 : (size_t)len, o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        buf[o++] = (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\'') ? (char)b[i] : '?';
    if (len > n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int truncated(struct reader *r, const char *field, size_t need)
{
    return phi_err_set(r->err, PHI_E_FORMAT,
                       "GGUF: truncated while reading %s (%s): need %zu bytes at offset %zu, "
                       "the file has %zu",
                       r->what, field, need, rd_pos(r), (size_t)(r->end - r->base));
}

static int rd_bytes(struct reader *r, size_t n, const char *field, const uint8_t **out)
{
    if (n > rd_left(r))
        return truncated(r, field, n);
    *out = r->p;
    r->p += n;
    return PHI_OK;
}


static int rd_uint(struct reader *r, unsigned n, const char *field, uint64_t *out)
{
    const uint8_t *p = NULL;
    int rc = rd_bytes(r, n, field, &p);
    if (rc == PHI_OK)
        *out = phi_load_le(p, n);
    return rc;
}

static int rd_u32(struct reader *r, const char *field, uint32_t *out)
{
    uint64_t v = 0;
    int rc = rd_uint(r, 4, field, &v);
    *out = (uint32_t)v;
    return rc;
}

static int rd_u64(struct reader *r, const char *field, uint64_t *out)
{
    return rd_uint(r, 8, field, out);
}

/* A GGUF string: u64 length, then the bytes (no NUL). The result points into
 * the image. */
static int rd_str(struct reader *r, const char *field, uint64_t max_len, phi_str *out)
{
    uint64_t len;
    int rc = rd_u64(r, field, &len);
    if (rc)
        return rc;
    if (len > max_len)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: %s is %" PRIu64 " bytes long, more than the limit of %" PRIu64,
                           r->what, field, len, max_len);
    if (len > rd_left(r))
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: %s length %" PRIu64 " runs past the end of the file "
                           "(%zu bytes left at offset %zu)",
                           r->what, field, len, rd_left(r), rd_pos(r));
    const uint8_t *p = NULL;
    rd_bytes(r, (size_t)len, field, &p); /* cannot fail: checked above */
    out->ptr = (const char *)p;
    out->len = len;
    return PHI_OK;
}

/* ---- reader-private allocations ---------------------------------------- */

/* The phi_str views of string arrays. Each lives in its own block; the
 * blocks form a list hung on src->owned and freed by free_owned. */
struct str_block {
    struct str_block *next;
    phi_str strs[];
};

static void free_owned(const phi_mem *mem, void *owned)
{
    struct str_block *b = owned;
    while (b) {
        struct str_block *next = b->next;
        phi_free(mem, b);
        b = next;
    }
}

static int nomem(phi_err *err, const char *what, size_t n)
{
    return phi_err_set(err, PHI_E_NOMEM, "GGUF: cannot allocate %s (%zu entries)", what, n);
}

/* ---- metadata ---------------------------------------------------------- */

/* The spec allows only 0 and 1; i is the element index, or -1 for a scalar. */
static int check_bool(struct reader *r, uint8_t b, int64_t i)
{
    if (b <= 1)
        return PHI_OK;
    if (i >= 0)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: bool array element %" PRId64 " is %u; must be 0 or 1",
                           r->what, i, (unsigned)b);
    return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: bool value is %u; must be 0 or 1", r->what,
                       (unsigned)b);
}

static void decode_scalar(uint32_t type, const uint8_t *p, phi_meta *m)
{
    unsigned n = scalar_size[type];
    uint64_t bits = phi_load_le(p, n);
    switch (type) {
    case PHI_META_I8: m->v.i = (int8_t)bits; break;
    case PHI_META_I16: m->v.i = (int16_t)bits; break;
    case PHI_META_I32: m->v.i = (int32_t)bits; break;
    case PHI_META_I64: m->v.i = (int64_t)bits; break;
    case PHI_META_F32: {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        m->v.f = f;
        break;
    }
    case PHI_META_F64: memcpy(&m->v.f, &bits, sizeof m->v.f); break;
    default: m->v.u = bits; break; /* U8..U64, BOOL */
    }
}

static int read_array(struct reader *r, phi_source *src, phi_meta *m)
{
    uint32_t et;
    uint64_t count;
    int rc = rd_u32(r, "array element type", &et);
    if (!rc)
        rc = rd_u64(r, "array count", &count);
    if (rc)
        return rc;
    if (et == PHI_META_ARRAY)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: nested arrays (array of array) are not supported", r->what);
    if (et >= PHI_META_TYPE_COUNT)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: invalid array element type %" PRIu32,
                           r->what, et);
    if (count > GGUF_MAX_ARRAY_ELEMENTS)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: array count %" PRIu64 " is more than the limit of %" PRIu64,
                           r->what, count, GGUF_MAX_ARRAY_ELEMENTS);
    /* Each element takes at least min_size bytes of the file: check before
     * allocating or walking (count * min_size cannot overflow: count <= 2^30). */
    uint64_t min_size = et == PHI_META_STRING ? 8 : scalar_size[et];
    if (count * min_size > rd_left(r))
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: array of %" PRIu64 " %s elements needs at least %" PRIu64
                           " bytes, only %zu left at offset %zu",
                           r->what, count, meta_type_name(et), count * min_size, rd_left(r),
                           rd_pos(r));
    m->elem_type = et;
    m->count = count;
    if (et != PHI_META_STRING) {
        const uint8_t *p = NULL;
        rd_bytes(r, (size_t)(count * min_size), "array elements", &p); /* checked above */
        m->elems = p;
        if (et == PHI_META_BOOL)
            for (uint64_t i = 0; i < count; i++)
                if ((rc = check_bool(r, p[i], (int64_t)i)))
                    return rc;
        return PHI_OK;
    }
    if (count == 0)
        return PHI_OK;
    /* Strings: one phi_str per element so element i is O(1) to reach. */
    size_t bytes;
    if (phi_mul_overflows((size_t)count, sizeof(phi_str), &bytes) ||
        phi_add_overflows(bytes, sizeof(struct str_block), &bytes))
        return nomem(r->err, "string array", (size_t)count);
    struct str_block *b = phi_alloc(&src->mem, bytes);
    if (!b)
        return nomem(r->err, "string array", (size_t)count);
    b->next = src->owned;
    src->owned = b;
    m->strs = b->strs;
    for (uint64_t i = 0; i < count; i++) {
        char field[48];
        snprintf(field, sizeof field, "string element %" PRIu64, i);
        if ((rc = rd_str(r, field, GGUF_MAX_STRING_LENGTH, &b->strs[i])))
            return rc;
    }
    return PHI_OK;
}

/* general.alignment decides where the data section starts (§1.3). */
static int check_alignment(struct reader *r, const phi_meta *m, uint32_t *alignment)
{
    if (m->type != PHI_META_U32)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s must be u32, found %s", r->what,
                           meta_type_name(m->type));
    uint64_t a = m->v.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s is %" PRIu64 "; must be a nonzero power of two", r->what, a);
    *alignment = (uint32_t)a;
    return PHI_OK;
}

static int read_kv(struct reader *r, phi_source *src, size_t idx, phi_meta *m, uint32_t *alignment)
{
    snprintf(r->what, sizeof r->what, "metadata key #%zu", idx);
    int rc = rd_str(r, "key", GGUF_MAX_KEY_LENGTH, &m->key);
    if (rc)
        return rc;
    if (m->key.len == 0)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: the key is empty", r->what);
    char buf[80];
    snprintf(r->what, sizeof r->what, "metadata key #%zu '%s'", idx,
             printable(buf, sizeof buf, m->key.ptr, m->key.len));
    if ((rc = rd_u32(r, "value type", &m->type)))
        return rc;
    if (m->type >= PHI_META_TYPE_COUNT)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: invalid value type %" PRIu32, r->what,
                           m->type);
    if (m->type == PHI_META_ARRAY) {
        rc = read_array(r, src, m);
    } else if (m->type == PHI_META_STRING) {
        rc = rd_str(r, "string value", GGUF_MAX_STRING_LENGTH, &m->v.s);
    } else {
        const uint8_t *p = NULL;
        rc = rd_bytes(r, scalar_size[m->type], "value", &p);
        if (!rc && m->type == PHI_META_BOOL)
            rc = check_bool(r, p[0], -1);
        if (!rc)
            decode_scalar(m->type, p, m);
    }
    if (!rc && phi_str_eq(m->key, "general.alignment"))
        rc = check_alignment(r, m, alignment);
    return rc;
}

/* ---- tensor infos ------------------------------------------------------ */

static bool is_retired_type(uint32_t t)
{
    return t == 4 || t == 5 || (t >= 31 && t <= 33) || (t >= 36 && t <= 38);
}

/* Shape and type checks; sets t->nbytes. Placement is checked later, once
 * the start of the data section is known. */
static int check_shape(struct reader *r, phi_tensor *t)
{
    const phi_dtype_info *info = phi_dtype_get(t->type);
    if (!info)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: %s ggml type code %" PRIu32, r->what,
                           is_retired_type(t->type) ? "retired" : "unknown", t->type);
    int64_t n = 1;
    for (unsigned d = 0; d < GGUF_MAX_DIMS; d++)
        if (__builtin_mul_overflow(n, t->ne[d], &n))
            return phi_err_set(r->err, PHI_E_FORMAT,
                               "GGUF: %s: element count of shape [%" PRId64 ", %" PRId64
                               ", %" PRId64 ", %" PRId64 "] overflows int64",
                               r->what, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    if (t->ne[0] % info->block != 0)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: ne[0] = %" PRId64 " is not a multiple of the %s block "
                           "size %" PRIu32,
                           r->what, t->ne[0], info->name, info->block);
    /* nbytes = row bytes * ne[1] * ne[2] * ne[3], all in size_t. The
     * range checks matter where size_t is narrower than int64. */
    size_t bytes;
    bool over = !phi_dtype_row_bytes(t->type, t->ne[0], &bytes);
    for (unsigned d = 1; d < GGUF_MAX_DIMS && !over; d++)
        over = (uint64_t)t->ne[d] > SIZE_MAX || phi_mul_overflows(bytes, (size_t)t->ne[d], &bytes);
    if (over)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: byte size of the %s tensor overflows",
                           r->what, info->name);
    t->nbytes = bytes;
    return PHI_OK;
}

static int read_tensor_info(struct reader *r, size_t idx, phi_tensor *t, uint64_t *offset)
{
    snprintf(r->what, sizeof r->what, "tensor info #%zu", idx);
    phi_str name;
    int rc = rd_str(r, "name", UINT64_MAX, &name);
    if (rc)
        return rc;
    char buf[80];
    printable(buf, sizeof buf, name.ptr, name.len);
    if (name.len >= GGUF_NAME_CAP)
        return phi_err_set(r->err, PHI_E_FORMAT,
                           "GGUF: %s: name '%s' is %" PRIu64 " bytes long; at most %u allowed",
                           r->what, buf, name.len, GGUF_NAME_CAP - 1);
    if (memchr(name.ptr, '\0', (size_t)name.len))
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: name '%s' contains a NUL byte",
                           r->what, buf);
    memcpy(t->name, name.ptr, (size_t)name.len);
    t->name[name.len] = '\0';
    snprintf(r->what, sizeof r->what, "tensor info #%zu '%s'", idx, buf);

    if ((rc = rd_u32(r, "n_dims", &t->n_dims)))
        return rc;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return phi_err_set(r->err, PHI_E_FORMAT, "GGUF: %s: n_dims is %" PRIu32 "; must be 1..%u",
                           r->what, t->n_dims, GGUF_MAX_DIMS);
    for (unsigned d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t v = 1;
        if (d < t->n_dims && (rc = rd_u64(r, "dimension", &v)))
            return rc;
        if (v == 0)
            return phi_err_set(r->err, PHI_E_FORMAT,
                               "GGUF: %s: dimension %u is 0 (empty tensors are not allowed)",
                               r->what, d);
        if (v > (uint64_t)INT64_MAX)
            return phi_err_set(r->err, PHI_E_FORMAT,
                               "GGUF: %s: dimension %u is negative (%" PRId64 ")", r->what, d,
                               (int64_t)v);
        t->ne[d] = (int64_t)v;
    }
    if ((rc = rd_u32(r, "type", &t->type)) || (rc = rd_u64(r, "offset", offset)))
        return rc;
    return check_shape(r, t);
}

/* ---- whole-table checks ------------------------------------------------ */

/* Uniqueness and overlap are checked by sorting references, so a file with
 * many entries costs O(n log n), not O(n^2). */
struct ref {
    const void *item;
    size_t idx;
    uint64_t off; /* tensors: offset into the data section */
};

static int cmp_key(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    const phi_meta *m = x->item, *n = y->item;
    uint64_t len = m->key.len < n->key.len ? m->key.len : n->key.len;
    int c = memcmp(m->key.ptr, n->key.ptr, (size_t)len);
    if (c)
        return c;
    if (m->key.len != n->key.len)
        return m->key.len < n->key.len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_name(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int c = strcmp(((const phi_tensor *)x->item)->name, ((const phi_tensor *)y->item)->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_offset(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int check_unique_keys(phi_source *src, struct ref *refs, phi_err *err)
{
    for (size_t i = 0; i < src->n_meta; i++)
        refs[i] = (struct ref){&src->meta[i], i, 0};
    qsort(refs, src->n_meta, sizeof *refs, cmp_key);
    for (size_t i = 1; i < src->n_meta; i++) {
        const phi_meta *a = refs[i - 1].item, *b = refs[i].item;
        if (a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, (size_t)a->key.len) == 0) {
            char buf[80];
            return phi_err_set(err, PHI_E_FORMAT,
                               "GGUF: duplicate metadata key '%s' (entries #%zu and #%zu)",
                               printable(buf, sizeof buf, a->key.ptr, a->key.len), refs[i - 1].idx,
                               refs[i].idx);
        }
    }
    return PHI_OK;
}

/* Every tensor must lie inside the data section, start at a multiple of the
 * alignment, and overlap no other tensor; sets tensor->data. */
#define TNAME(buf, t) printable(buf, sizeof buf, (t)->name, strlen((t)->name))

static int place_tensors(phi_source *src, struct ref *refs, const uint64_t *offsets,
                         size_t data_start, uint32_t alignment, phi_err *err)
{
    /* A file read into memory gets its data section on a cache line. */
    size_t shift = phi_mapped_file_align_tail(&src->file, data_start, 64);
    size_t size = src->file.size;
    char n1[80], n2[80]; /* tensor names made printable for messages */
    size_t room = data_start <= size ? size - data_start : 0;
    for (size_t i = 0; i < src->n_tensors; i++) {
        phi_tensor *t = &src->tensors[i];
        uint64_t off = offsets[i];
        if (off % alignment != 0)
            return phi_err_set(err, PHI_E_FORMAT,
                               "GGUF: tensor '%s': offset %" PRIu64
                               " is not a multiple of the alignment %" PRIu32,
                               TNAME(n1, t), off, alignment);
        if (data_start > size || off > room || t->nbytes > room - off)
            return phi_err_set(err, PHI_E_FORMAT,
                               "GGUF: tensor '%s': data [offset %" PRIu64 " in the data section "
                               "at %zu, %zu bytes] runs past the end of the file (%zu bytes)",
                               TNAME(n1, t), off, data_start, t->nbytes, size);
        t->data = src->file.data + data_start + shift + off;
        refs[i] = (struct ref){t, i, off};
    }
    qsort(refs, src->n_tensors, sizeof *refs, cmp_offset);
    for (size_t i = 1; i < src->n_tensors; i++) {
        const phi_tensor *a = refs[i - 1].item, *b = refs[i].item;
        /* No tensor is empty, so sorted by start, neighbours suffice. */
        if (refs[i - 1].off + a->nbytes > refs[i].off)
            return phi_err_set(err, PHI_E_FORMAT,
                               "GGUF: tensors '%s' [offset %" PRIu64 ", %zu bytes] and '%s' "
                               "[offset %" PRIu64 ", %zu bytes] overlap",
                               TNAME(n1, a), refs[i - 1].off, a->nbytes, TNAME(n2, b), refs[i].off,
                               b->nbytes);
    }
    qsort(refs, src->n_tensors, sizeof *refs, cmp_name);
    for (size_t i = 1; i < src->n_tensors; i++) {
        const phi_tensor *a = refs[i - 1].item;
        if (strcmp(a->name, ((const phi_tensor *)refs[i].item)->name) == 0)
            return phi_err_set(err, PHI_E_FORMAT,
                               "GGUF: duplicate tensor name '%s' (tensor infos #%zu and #%zu)",
                               TNAME(n1, a), refs[i - 1].idx, refs[i].idx);
    }
    return PHI_OK;
}

/* ---- header and top level ---------------------------------------------- */

bool phi_gguf_sniff(const void *data, size_t size)
{
    return data && size >= 4 && memcmp(data, "GGUF", 4) == 0;
}

static int check_version(uint32_t v, phi_err *err)
{
    if (v == 2 || v == 3)
        return PHI_OK;
    if (v == 0)
        return phi_err_set(err, PHI_E_FORMAT, "GGUF: version 0 is not a valid GGUF version");
    /* A v3 file written big-endian reads as 0x03000000 (§1.6). */
    if ((v & 0xFFFFu) == 0)
        return phi_err_set(err, PHI_E_FORMAT,
                           "GGUF: version field 0x%08" PRIx32 " looks byte-swapped: the file looks "
                           "big-endian, which is not supported; convert it with "
                           "gguf_convert_endian.py",
                           v);
    if (v == 1)
        return phi_err_set(err, PHI_E_VERSION,
                           "GGUF: version 1 (32-bit counts) is obsolete and not supported; "
                           "convert the model again");
    return phi_err_set(err, PHI_E_VERSION,
                       "GGUF: unknown version %" PRIu32 "; this build reads versions 2 and 3", v);
}

static int parse(phi_source *src, phi_err *err)
{
    if (!src->file.data)
        return phi_err_set(err, PHI_E_FORMAT, "GGUF: the file is empty");
    struct reader r = {src->file.data, src->file.data, src->file.data + src->file.size, err, ""};
    snprintf(r.what, sizeof r.what, "the header");
    if (!phi_gguf_sniff(r.base, src->file.size)) {
        char buf[16];
        return phi_err_set(err, PHI_E_FORMAT, "GGUF: bad magic '%s' (expected 'GGUF')",
                           printable(buf, sizeof buf, r.base, src->file.size < 4 ? src->file.size : 4));
    }
    r.p += 4;
    uint64_t n_tensors, n_kv;
    int rc = rd_u32(&r, "version", &src->version);
    if (!rc)
        rc = check_version(src->version, err);
    if (!rc)
        rc = rd_u64(&r, "tensor count", &n_tensors);
    if (!rc)
        rc = rd_u64(&r, "metadata count", &n_kv);
    if (rc)
        return rc;
    /* Bound both counts by the bytes left before allocating anything. The
     * divisions keep the products from overflowing. */
    size_t left = rd_left(&r);
    if (n_kv > left / KV_MIN_BYTES || n_tensors > left / TENSOR_INFO_MIN_BYTES ||
        n_kv * KV_MIN_BYTES + n_tensors * TENSOR_INFO_MIN_BYTES > left)
        return phi_err_set(err, PHI_E_FORMAT,
                           "GGUF: header claims %" PRIu64 " metadata entries and %" PRIu64
                           " tensors, but only %zu bytes follow the header (file truncated or "
                           "counts corrupt)",
                           n_kv, n_tensors, left);

    src->meta = phi_alloc_array(&src->mem, (size_t)n_kv, sizeof *src->meta);
    if (!src->meta)
        return nomem(err, "metadata table", (size_t)n_kv);
    uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < n_kv; i++) {
        memset(&src->meta[i], 0, sizeof src->meta[i]);
        src->n_meta = i + 1;
        if ((rc = read_kv(&r, src, i, &src->meta[i], &alignment)))
            return rc;
    }

    /* Sorting scratch for the uniqueness and overlap checks. */
    size_t n_refs = n_kv > n_tensors ? (size_t)n_kv : (size_t)n_tensors;
    struct ref *refs = phi_alloc_array(&src->mem, n_refs, sizeof *refs);
    if (!refs)
        return nomem(err, "sorting scratch", n_refs);
    uint64_t *offsets = NULL;
    if ((rc = check_unique_keys(src, refs, err)))
        goto done;

    /* The tensor count was bounded against the whole file; bound it again
     * against what the metadata left. */
    if (n_tensors > rd_left(&r) / TENSOR_INFO_MIN_BYTES) {
        rc = phi_err_set(err, PHI_E_FORMAT,
                         "GGUF: header claims %" PRIu64 " tensors, but only %zu bytes follow "
                         "the metadata (file truncated or count corrupt)",
                         n_tensors, rd_left(&r));
        goto done;
    }
    src->tensors = phi_alloc_array(&src->mem, (size_t)n_tensors, sizeof *src->tensors);
    offsets = phi_alloc_array(&src->mem, (size_t)n_tensors, sizeof *offsets);
    if (!src->tensors || !offsets) {
        rc = nomem(err, "tensor table", (size_t)n_tensors);
        goto done;
    }
    for (size_t i = 0; i < n_tensors; i++) {
        memset(&src->tensors[i], 0, sizeof src->tensors[i]);
        src->n_tensors = i + 1;
        if ((rc = read_tensor_info(&r, i, &src->tensors[i], &offsets[i])))
            goto done;
    }

    /* ggml only seeks to the aligned data start when there are tensors;
     * without tensors the padding may be missing, so do not demand it. */
    if (n_tensors > 0) {
        size_t end = rd_pos(&r), data_start;
        size_t pad = (alignment - end % alignment) % alignment;
        if (phi_add_overflows(end, pad, &data_start))
            data_start = SIZE_MAX;
        rc = place_tensors(src, refs, offsets, data_start, alignment, err);
    }
done:
    phi_free(&src->mem, refs);
    phi_free(&src->mem, offsets);
    return rc;
}

int phi_gguf_parse(const phi_mem *mem, phi_mapped_file *file, phi_source **out, phi_err *err)
{
    *out = NULL;
    phi_source *src = phi_alloc_zero(mem, sizeof *src);
    if (!src) {
        phi_mapped_file_close(mem, file);
        return phi_err_set(err, PHI_E_NOMEM, "GGUF: cannot allocate the model source");
    }
    /* From here on the source owns the file; phi_source_free releases it and
     * everything parse() allocated, whatever point parse() failed at. */
    src->mem = *mem;
    src->file = *file;
    file->data = NULL;
    file->size = 0;
    src->format = "gguf";
    src->free_owned = free_owned;
    int rc = parse(src, err);
    if (rc) {
        phi_source_free(src);
        return rc;
    }
    *out = src;
    return PHI_OK;
}

int phi_gguf_open(const phi_mem *mem, const char *path, bool use_mmap, phi_source **out,
                  phi_err *err)
{
    phi_mapped_file file;
    *out = NULL;
    int rc = phi_mapped_file_open(mem, path, use_mmap, NULL, &file, err);
    if (rc)
        return rc;
    return phi_gguf_parse(mem, &file, out, err);
}
