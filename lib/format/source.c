#include "format/source.h"

#include <math.h>
#include <string.h>

#include "phi4.h"

void phi_source_free(phi_source *src)
{
    if (!src)
        return;
    phi_mem mem = src->mem;
    if (src->free_owned)
        src->free_owned(&mem, src->owned);
    phi_free(&mem, src->meta);
    phi_free(&mem, src->tensors);
    phi_mapped_file_close(&mem, &src->file);
    phi_free(&mem, src);
}

const phi_meta *phi_source_meta(const phi_source *src, const char *key)
{
    for (size_t i = 0; i < src->n_meta; i++)
        if (phi_str_eq(src->meta[i].key, key))
            return &src->meta[i];
    return NULL;
}

const phi_tensor *phi_source_tensor(const phi_source *src, const char *name)
{
    for (size_t i = 0; i < src->n_tensors; i++)
        if (strcmp(src->tensors[i].name, name) == 0)
            return &src->tensors[i];
    return NULL;
}

static const char *type_name(uint32_t t)
{
    static const char *const names[PHI_META_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return t < PHI_META_TYPE_COUNT ? names[t] : "invalid";
}

static bool is_unsigned(uint32_t t)
{
    return t == PHI_META_U8 || t == PHI_META_U16 || t == PHI_META_U32 || t == PHI_META_U64 ||
           t == PHI_META_BOOL;
}

static bool is_signed(uint32_t t)
{
    return t == PHI_META_I8 || t == PHI_META_I16 || t == PHI_META_I32 || t == PHI_META_I64;
}

static bool is_float(uint32_t t)
{
    return t == PHI_META_F32 || t == PHI_META_F64;
}

bool phi_meta_int(const phi_source *src, const char *key, int64_t *out, phi_err *err)
{
    const phi_meta *m = phi_source_meta(src, key);
    if (!m)
        return false;
    if (is_signed(m->type)) {
        *out = m->v.i;
        return true;
    }
    if (is_unsigned(m->type)) {
        if (m->v.u > (uint64_t)INT64_MAX) {
            phi_err_set(err, PHI_E_FORMAT, "metadata '%s' is out of range", key);
            return false;
        }
        *out = (int64_t)m->v.u;
        return true;
    }
    phi_err_set(err, PHI_E_FORMAT, "metadata '%s' should be an integer, not %s", key,
                type_name(m->type));
    return false;
}

bool phi_meta_float(const phi_source *src, const char *key, double *out, phi_err *err)
{
    const phi_meta *m = phi_source_meta(src, key);
    if (!m)
        return false;
    if (is_float(m->type))
        *out = m->v.f;
    else if (is_signed(m->type))
        *out = (double)m->v.i;
    else if (is_unsigned(m->type))
        *out = (double)m->v.u;
    else {
        phi_err_set(err, PHI_E_FORMAT, "metadata '%s' should be a number, not %s", key,
                    type_name(m->type));
        return false;
    }
    if (!isfinite(*out)) {
        phi_err_set(err, PHI_E_FORMAT, "metadata '%s' is not a finite number", key);
        return false;
    }
    return true;
}

bool phi_meta_str(const phi_source *src, const char *key, phi_str *out, phi_err *err)
{
    const phi_meta *m = phi_source_meta(src, key);
    if (!m)
        return false;
    if (m->type != PHI_META_STRING) {
        phi_err_set(err, PHI_E_FORMAT, "metadata '%s' should be a string, not %s", key,
                    type_name(m->type));
        return false;
    }
    *out = m->v.s;
    return true;
}

bool phi_meta_array(const phi_source *src, const char *key, const phi_meta **out, phi_err *err)
{
    const phi_meta *m = phi_source_meta(src, key);
    if (!m)
        return false;
    if (m->type != PHI_META_ARRAY) {
        phi_err_set(err, PHI_E_FORMAT, "metadata '%s' should be an array, not %s", key,
                    type_name(m->type));
        return false;
    }
    *out = m;
    return true;
}


/* Truncates toward zero, saturating out-of-range values and mapping NaN to 0:
 * a plain cast of such a double is undefined behaviour, and the values come
 * from the file. */
static int64_t float_to_int(double d)
{
    if (d != d)
        return 0;
    if (d >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    if (d < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

int64_t phi_meta_elem_int(const phi_meta *a, uint64_t i)
{
    switch (a->elem_type) {
    case PHI_META_U8: case PHI_META_BOOL: return (int64_t)a->elems[i];
    case PHI_META_I8: return (int8_t)a->elems[i];
    case PHI_META_U16: return (int64_t)phi_load_le(a->elems + 2 * i, 2);
    case PHI_META_I16: return (int16_t)phi_load_le(a->elems + 2 * i, 2);
    case PHI_META_U32: return (int64_t)phi_load_le(a->elems + 4 * i, 4);
    case PHI_META_I32: return (int32_t)phi_load_le(a->elems + 4 * i, 4);
    case PHI_META_U64: case PHI_META_I64: return (int64_t)phi_load_le(a->elems + 8 * i, 8);
    case PHI_META_F32: case PHI_META_F64: return float_to_int(phi_meta_elem_float(a, i));
    default: return 0;
    }
}

double phi_meta_elem_float(const phi_meta *a, uint64_t i)
{
    if (a->elem_type == PHI_META_F32) {
        uint32_t bits = (uint32_t)phi_load_le(a->elems + 4 * i, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    if (a->elem_type == PHI_META_F64) {
        uint64_t bits = phi_load_le(a->elems + 8 * i, 8);
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    return (double)phi_meta_elem_int(a, i);
}
