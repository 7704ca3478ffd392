/* Tests of the GGUF reader (lib/format/gguf.c): valid images decode right,
 * and every class of malformed image gives the exact status and a message
 * naming the problem. Images come from tests/gguf_builder.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dtype.h"
#include "format/gguf.h"
#include "format/mapfile.h"
#include "gguf_builder.h"
#include "phi4.h"

/* ---- harness ------------------------------------------------------------ */

static int n_checks, n_failed;

#define CHECK(cond) check_at(__FILE__, __LINE__, (cond), #cond)

static void check_at(const char *file, int line, int ok, const char *what)
{
    n_checks++;
    if (!ok) {
        n_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    }
}

/* The default hooks allocate exactly what is asked for, so ASan sees a read
 * just past an image. Set in main. */
static phi_mem g_mem;

/* Parse a copy of the image (the source takes ownership of the copy). */
static int parse_mem(const phi_mem *mem, const uint8_t *img, size_t len, phi_source **out,
                     phi_err *err)
{
    uint8_t *copy = phi_alloc(&g_mem, len);
    if (!copy)
        return PHI_E_NOMEM;
    if (len)
        memcpy(copy, img, len);
    phi_mapped_file f = {copy, len, false, 0};
    phi_err_clear(err);
    return phi_gguf_parse(mem, &f, out, err);
}

/* Expect parsing the image to fail with code and a message containing
 * phrase. */
#define EXPECT_ERR(img, len, code, phrase) expect_err_at(__FILE__, __LINE__, img, len, code, phrase)

static void expect_err_at(const char *file, int line, const uint8_t *img, size_t len, int code,
                          const char *phrase)
{
    phi_source *src = (phi_source *)1;
    phi_err err;
    int rc = parse_mem(&g_mem, img, len, &src, &err);
    check_at(file, line, rc == code, "status code");
    check_at(file, line, src == NULL, "no source on failure");
    check_at(file, line, err.code == code, "err.code");
    check_at(file, line, strstr(err.msg, phrase) != NULL, phrase);
    if (rc != code || !strstr(err.msg, phrase))
        fprintf(stderr, "%s:%d:   got %d \"%s\", wanted %d with \"%s\"\n", file, line, rc, err.msg,
                code, phrase);
    if (rc == PHI_OK)
        phi_source_free(src);
}

/* Build the builder's image and expect it to fail; frees the builder. */
#define EXPECT_BUILD_ERR(g, code, phrase) expect_build_err_at(__FILE__, __LINE__, g, code, phrase)

static void expect_build_err_at(const char *file, int line, gguf_builder *g, int code,
                                const char *phrase)
{
    size_t len;
    uint8_t *img = gb_build(g, &len);
    check_at(file, line, img != NULL, "builder");
    if (img)
        expect_err_at(file, line, img, len, code, phrase);
    free(img);
    gb_free(g);
}

/* Build and parse, expecting success. */
static phi_source *build_ok_at(const char *file, int line, gguf_builder *g)
{
    size_t len;
    uint8_t *img = gb_build(g, &len);
    check_at(file, line, img != NULL, "builder");
    if (!img)
        return NULL;
    phi_source *src = NULL;
    phi_err err;
    int rc = parse_mem(&g_mem, img, len, &src, &err);
    check_at(file, line, rc == PHI_OK, "parse succeeds");
    if (rc != PHI_OK)
        fprintf(stderr, "%s:%d:   got %d \"%s\"\n", file, line, rc, err.msg);
    free(img);
    return rc == PHI_OK ? src : NULL;
}
#define BUILD_OK(g) build_ok_at(__FILE__, __LINE__, g)

/* A small valid file: two metadata keys and two tensors. */
static void base(gguf_builder *g)
{
    gb_init(g);
    gb_kv_str(g, "general.architecture", "phi3");
    gb_kv_u32(g, "general.alignment", 32);
    gb_tensor_add(g, "a", PHI_DT_F32, 2, 8, 2, 0, 0);      /* 64 bytes */
    gb_tensor_add(g, "b", PHI_DT_Q8_0, 2, 32, 3, 0, 0);    /* 102 bytes */
}

static uint64_t le_bits_f32(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* ---- happy paths ----------------------------------------------------------- */

static void test_all_metadata_types(uint32_t version)
{
    gguf_builder g;
    gb_init(&g);
    g.version = version;
    gb_kv_u8(&g, "t.u8", 200);
    gb_kv_i8(&g, "t.i8", -100);
    gb_kv_u16(&g, "t.u16", 60000);
    gb_kv_i16(&g, "t.i16", -30000);
    gb_kv_u32(&g, "t.u32", 4000000000u);
    gb_kv_i32(&g, "t.i32", -2000000000);
    gb_kv_f32(&g, "t.f32", 1.5f);
    gb_kv_bool(&g, "t.bool", 1);
    gb_kv_bool(&g, "t.bool0", 0);
    gb_kv_str(&g, "t.str", "hello");
    gb_kv_str(&g, "t.empty", "");
    gb_kv_u64(&g, "t.u64", UINT64_C(18000000000000000000));
    gb_kv_i64(&g, "t.i64", INT64_C(-9000000000000000000));
    gb_kv_f64(&g, "t.f64", -2.25);
    uint8_t a_u8[3] = {1, 2, 255};
    gb_kv_arr(&g, "a.u8", 0, a_u8, 1, 3);
    uint8_t a_i8[2] = {0xff, 0x7f};
    gb_kv_arr(&g, "a.i8", 1, a_i8, 1, 2);
    uint8_t a_u16[4] = {0x34, 0x12, 0xff, 0xff};
    gb_kv_arr(&g, "a.u16", 2, a_u16, 2, 2);
    uint8_t a_i16[2] = {0xfe, 0xff};
    gb_kv_arr(&g, "a.i16", 3, a_i16, 2, 1);
    uint8_t a_u32[8] = {0x78, 0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff};
    gb_kv_arr(&g, "a.u32", 4, a_u32, 4, 2);
    uint8_t a_i32[4] = {0xfd, 0xff, 0xff, 0xff};
    gb_kv_arr(&g, "a.i32", 5, a_i32, 4, 1);
    uint8_t a_f32[8];
    for (int i = 0; i < 2; i++) {
        uint64_t b = le_bits_f32(i ? -0.5f : 3.25f);
        for (int j = 0; j < 4; j++)
            a_f32[4 * i + j] = (uint8_t)(b >> (8 * j));
    }
    gb_kv_arr(&g, "a.f32", 6, a_f32, 4, 2);
    uint8_t a_bool[3] = {1, 0, 1};
    gb_kv_arr(&g, "a.bool", 7, a_bool, 1, 3);
    const char *strs[] = {"<s>", "", "world"};
    gb_kv_arr_str(&g, "a.str", strs, 3);
    gb_kv_arr_str(&g, "a.str0", strs, 0);
    uint8_t a_u64[8] = {1, 0, 0, 0, 0, 0, 0, 0x80};
    gb_kv_arr(&g, "a.u64", 10, a_u64, 8, 1);
    uint8_t a_i64[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    gb_kv_arr(&g, "a.i64", 11, a_i64, 8, 1);
    double d = 1e300;
    uint64_t db;
    memcpy(&db, &d, 8);
    uint8_t a_f64[8];
    for (int j = 0; j < 8; j++)
        a_f64[j] = (uint8_t)(db >> (8 * j));
    gb_kv_arr(&g, "a.f64", 12, a_f64, 8, 1);
    gb_kv_arr(&g, "a.empty", 4, NULL, 4, 0);
    double fn[3] = {-1e300, NAN, -7.9};
    uint8_t a_f64n[24];
    for (int i = 0; i < 3; i++) {
        memcpy(&db, &fn[i], 8);
        for (int j = 0; j < 8; j++)
            a_f64n[8 * i + j] = (uint8_t)(db >> (8 * j));
    }
    gb_kv_arr(&g, "a.f64n", 12, a_f64n, 8, 3);

    phi_source *src = BUILD_OK(&g);
    gb_free(&g);
    if (!src)
        return;
    CHECK(strcmp(src->format, "gguf") == 0);
    CHECK(src->version == version);
    CHECK(src->n_meta == 29);
    CHECK(src->n_tensors == 0);

    const phi_meta *m;
    CHECK((m = phi_source_meta(src, "t.u8")) && m->type == PHI_META_U8 && m->v.u == 200);
    CHECK((m = phi_source_meta(src, "t.i8")) && m->type == PHI_META_I8 && m->v.i == -100);
    CHECK((m = phi_source_meta(src, "t.u16")) && m->v.u == 60000);
    CHECK((m = phi_source_meta(src, "t.i16")) && m->v.i == -30000);
    CHECK((m = phi_source_meta(src, "t.u32")) && m->v.u == 4000000000u);
    CHECK((m = phi_source_meta(src, "t.i32")) && m->v.i == -2000000000);
    CHECK((m = phi_source_meta(src, "t.f32")) && m->type == PHI_META_F32 && m->v.f == 1.5);
    CHECK((m = phi_source_meta(src, "t.bool")) && m->type == PHI_META_BOOL && m->v.u == 1);
    CHECK((m = phi_source_meta(src, "t.bool0")) && m->v.u == 0);
    CHECK((m = phi_source_meta(src, "t.str")) && phi_str_eq(m->v.s, "hello"));
    CHECK((m = phi_source_meta(src, "t.empty")) && m->v.s.len == 0);
    CHECK((m = phi_source_meta(src, "t.u64")) && m->v.u == UINT64_C(18000000000000000000));
    CHECK((m = phi_source_meta(src, "t.i64")) && m->v.i == INT64_C(-9000000000000000000));
    CHECK((m = phi_source_meta(src, "t.f64")) && m->v.f == -2.25);

    /* The accessors of source.c on the decoded values. */
    phi_err err;
    phi_err_clear(&err);
    int64_t iv;
    double fv;
    phi_str sv;
    const phi_meta *arr;
    CHECK(phi_meta_int(src, "t.u32", &iv, &err) && iv == 4000000000);
    CHECK(phi_meta_int(src, "t.i8", &iv, &err) && iv == -100);
    CHECK(phi_meta_int(src, "t.i64", &iv, &err) && iv == INT64_C(-9000000000000000000));
    CHECK(!phi_meta_int(src, "t.u64", &iv, &err) && err.code == PHI_E_FORMAT &&
          strstr(err.msg, "out of range"));
    phi_err_clear(&err);
    CHECK(!phi_meta_int(src, "t.str", &iv, &err) && err.code == PHI_E_FORMAT &&
          strstr(err.msg, "should be an integer"));
    phi_err_clear(&err);
    CHECK(!phi_meta_int(src, "no.such.key", &iv, &err) && err.code == PHI_OK);
    CHECK(phi_meta_float(src, "t.f32", &fv, &err) && fv == 1.5);
    CHECK(phi_meta_float(src, "t.f64", &fv, &err) && fv == -2.25);
    CHECK(phi_meta_float(src, "t.u16", &fv, &err) && fv == 60000.0);
    CHECK(phi_meta_str(src, "t.str", &sv, &err) && phi_str_eq(sv, "hello"));
    CHECK(!phi_meta_str(src, "t.u8", &sv, &err) && err.code == PHI_E_FORMAT);
    phi_err_clear(&err);
    CHECK(!phi_meta_array(src, "t.u8", &arr, &err) && err.code == PHI_E_FORMAT);
    phi_err_clear(&err);

    CHECK(phi_meta_array(src, "a.u8", &arr, &err) && arr->elem_type == PHI_META_U8 &&
          arr->count == 3 && phi_meta_elem_int(arr, 2) == 255);
    CHECK(phi_meta_array(src, "a.i8", &arr, &err) && phi_meta_elem_int(arr, 0) == -1 &&
          phi_meta_elem_int(arr, 1) == 127);
    CHECK(phi_meta_array(src, "a.u16", &arr, &err) && phi_meta_elem_int(arr, 0) == 0x1234 &&
          phi_meta_elem_int(arr, 1) == 0xffff);
    CHECK(phi_meta_array(src, "a.i16", &arr, &err) && phi_meta_elem_int(arr, 0) == -2);
    CHECK(phi_meta_array(src, "a.u32", &arr, &err) && phi_meta_elem_int(arr, 0) == 0x12345678 &&
          phi_meta_elem_int(arr, 1) == 0xffffffff);
    CHECK(phi_meta_array(src, "a.i32", &arr, &err) && phi_meta_elem_int(arr, 0) == -3);
    CHECK(phi_meta_array(src, "a.f32", &arr, &err) && phi_meta_elem_float(arr, 0) == 3.25 &&
          phi_meta_elem_float(arr, 1) == -0.5 && phi_meta_elem_int(arr, 0) == 3);
    CHECK(phi_meta_array(src, "a.bool", &arr, &err) && arr->count == 3 &&
          phi_meta_elem_int(arr, 0) == 1 && phi_meta_elem_int(arr, 1) == 0);
    CHECK(phi_meta_array(src, "a.u64", &arr, &err) &&
          (uint64_t)phi_meta_elem_int(arr, 0) == UINT64_C(0x8000000000000001));
    CHECK(phi_meta_array(src, "a.i64", &arr, &err) && phi_meta_elem_int(arr, 0) == -1);
    CHECK(phi_meta_array(src, "a.f64", &arr, &err) && phi_meta_elem_float(arr, 0) == 1e300);
    /* Float elements read as integers saturate (found by fuzzing: the plain
     * cast was undefined behaviour). */
    CHECK(phi_meta_array(src, "a.f64", &arr, &err) && phi_meta_elem_int(arr, 0) == INT64_MAX);
    CHECK(phi_meta_array(src, "a.f64n", &arr, &err) && phi_meta_elem_int(arr, 0) == INT64_MIN &&
          phi_meta_elem_int(arr, 1) == 0 && phi_meta_elem_int(arr, 2) == -7);
    CHECK(phi_meta_array(src, "a.empty", &arr, &err) && arr->count == 0 &&
          arr->elem_type == PHI_META_U32);
    CHECK(phi_meta_array(src, "a.str", &arr, &err) && arr->elem_type == PHI_META_STRING &&
          arr->count == 3 && arr->strs && phi_str_eq(arr->strs[0], "<s>") &&
          arr->strs[1].len == 0 && phi_str_eq(arr->strs[2], "world"));
    CHECK(phi_meta_array(src, "a.str0", &arr, &err) && arr->count == 0);
    CHECK(err.code == PHI_OK);
    phi_source_free(src);
}

/* A file read into memory with room past its end gets its data section
 * moved onto a cache line; the metadata before it stays where it was. The
 * padding key moves the data start through both halves of a cache line. */
static void test_data_on_cache_line(void)
{
    int moved = 0;
    for (int pad = 0; pad < 64; pad += 8) {
        gguf_builder g;
        base(&g);
        char text[72];
        memset(text, 'p', (size_t)pad);
        text[pad] = '\0';
        gb_kv_str(&g, "t.pad", text);
        size_t len = 0;
        uint8_t *img = gb_build(&g, &len);
        uint8_t *own = phi_alloc(&g_mem, len + PHI_MAPPED_FILE_SLACK); /* 64-byte aligned */
        CHECK(img && own);
        if (!img || !own) {
            free(img);
            phi_free(&g_mem, own);
            gb_free(&g);
            break;
        }
        memcpy(own, img, len);
        free(img);
        moved += g.data_start % 64 != 0;
        phi_mapped_file f = {own, len, false, len + PHI_MAPPED_FILE_SLACK};
        phi_source *src = NULL;
        phi_err err = {0};
        CHECK(phi_gguf_parse(&g_mem, &f, &src, &err) == PHI_OK);
        const phi_tensor *t = src ? phi_source_tensor(src, "a") : NULL;
        CHECK(t && (uintptr_t)t->data % 64 == 0);
        CHECK(t && ((const uint8_t *)t->data)[0] == 1 && ((const uint8_t *)t->data)[63] == 64);
        CHECK(src && (t = phi_source_tensor(src, "b")) && ((const uint8_t *)t->data)[5] == 7);
        phi_str v;
        CHECK(src && phi_meta_str(src, "t.pad", &v, &err) && v.len == (size_t)pad);
        phi_source_free(src);
        gb_free(&g);
    }
    CHECK(moved > 0);
}

static void test_tensors_ok(void)
{
    gguf_builder g;
    base(&g);
    gb_tensor_add(&g, "c.q4k", PHI_DT_Q4_K, 3, 256, 2, 3, 0);
    gb_tensor_add(&g, "d.4d", PHI_DT_F16, 4, 2, 3, 4, 5);
    char name63[64];
    memset(name63, 'n', 63);
    name63[63] = '\0';
    gb_tensor_add(&g, name63, PHI_DT_BF16, 1, 1, 0, 0, 0);
    phi_source *src = BUILD_OK(&g);
    if (src) {
        CHECK(src->n_tensors == 5);
        const phi_tensor *t = phi_source_tensor(src, "a");
        CHECK(t && t->type == PHI_DT_F32 && t->n_dims == 2 && t->ne[0] == 8 && t->ne[1] == 2 &&
              t->ne[2] == 1 && t->ne[3] == 1 && t->nbytes == 64);
        CHECK(t && (const uint8_t *)t->data == src->file.data + g.data_start + g.offsets[0]);
        CHECK(t && ((const uint8_t *)t->data)[0] == 1 && ((const uint8_t *)t->data)[63] == 64);
        CHECK((t = phi_source_tensor(src, "b")) && t->nbytes == 102 &&
              ((const uint8_t *)t->data)[5] == 7);
        CHECK((t = phi_source_tensor(src, "c.q4k")) && t->n_dims == 3 && t->ne[2] == 3 &&
              t->ne[3] == 1 && t->nbytes == 6 * 144);
        CHECK((t = phi_source_tensor(src, "d.4d")) && t->ne[3] == 5 && t->nbytes == 240);
        CHECK((t = phi_source_tensor(src, name63)) && t->nbytes == 2);
        CHECK(g.data_start % 32 == 0);
        for (size_t i = 0; i < src->n_tensors; i++)
            CHECK(((const uint8_t *)src->tensors[i].data - src->file.data) % 32 == 0);
        phi_source_free(src);
    }
    gb_free(&g);
}

/* Tensors out of order and with gaps are fine, as long as none overlap. */
static void test_any_order(void)
{
    gguf_builder g;
    base(&g);
    g.tensors[0].offset_set = true;
    g.tensors[0].offset = 256; /* a [256, 320) */
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = 64;  /* b [64, 166) */
    phi_source *src = BUILD_OK(&g);
    if (src) {
        CHECK((const uint8_t *)src->tensors[0].data == src->file.data + g.data_start + 256);
        CHECK((const uint8_t *)src->tensors[1].data == src->file.data + g.data_start + 64);
        phi_source_free(src);
    }
    gb_free(&g);
}

static void test_custom_alignment(uint32_t a)
{
    gguf_builder g;
    gb_init(&g);
    g.alignment = a;
    gb_kv_u32(&g, "general.alignment", a);
    gb_tensor_add(&g, "x", PHI_DT_F32, 1, 3, 0, 0, 0);
    gb_tensor_add(&g, "y", PHI_DT_F32, 1, 5, 0, 0, 0);
    phi_source *src = BUILD_OK(&g);
    if (src) {
        CHECK(g.data_start % a == 0);
        CHECK(g.offsets[1] % a == 0 && g.offsets[1] > 0);
        CHECK((const uint8_t *)src->tensors[1].data == src->file.data + g.data_start + g.offsets[1]);
        phi_source_free(src);
    }
    gb_free(&g);
}

/* Header only; and no tensors with no padding (ggml does not seek then). */
static void test_empty_files(void)
{
    gguf_builder g;
    gb_init(&g);
    phi_source *src = BUILD_OK(&g);
    if (src) {
        CHECK(src->n_meta == 0 && src->n_tensors == 0 && src->file.size == 24);
        phi_source_free(src);
    }
    gb_free(&g);
    gb_init(&g);
    gb_kv_u8(&g, "k", 1); /* 24 + 8 + 1 + 4 + 1 = 38 bytes: not aligned */
    src = BUILD_OK(&g);
    if (src) {
        CHECK(src->n_meta == 1 && src->file.size == 38);
        phi_source_free(src);
    }
    gb_free(&g);
}

static void test_sniff_and_open(void)
{
    CHECK(phi_gguf_sniff("GGUF", 4));
    CHECK(!phi_gguf_sniff("GGU", 3));
    CHECK(!phi_gguf_sniff("GGML", 4));
    CHECK(!phi_gguf_sniff(NULL, 0));

    gguf_builder g;
    base(&g);
    size_t len;
    uint8_t *img = gb_build(&g, &len);
    gb_free(&g);
    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0 || !img) {
        free(img);
        return;
    }
    CHECK(write(fd, img, len) == (ssize_t)len);
    close(fd);
    free(img);
    for (int use_mmap = 0; use_mmap <= 1; use_mmap++) {
        phi_source *src = NULL;
        phi_err err;
        int rc = phi_gguf_open(&g_mem, path, use_mmap, &src, &err);
        CHECK(rc == PHI_OK);
        if (rc == PHI_OK) {
            CHECK(src->file.mapped == (use_mmap != 0));
            CHECK(src->n_tensors == 2 && phi_source_tensor(src, "b") != NULL);
            phi_source_free(src);
        }
    }
    unlink(path);
    phi_source *src = (phi_source *)1;
    phi_err err;
    CHECK(phi_gguf_open(&g_mem, "/nonexistent/x.gguf", true, &src, &err) == PHI_E_IO);
    CHECK(src == NULL);
}

/* ---- header --------------------------------------------------------------- */

static void test_magic_and_version(void)
{
    gguf_builder g;
    base(&g);
    g.magic = "GGML";
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "bad magic 'GGML'");
    base(&g);
    g.magic = "\x00\x01GU";
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "bad magic");
    EXPECT_ERR((const uint8_t *)"GG", 2, PHI_E_FORMAT, "bad magic");

    base(&g);
    g.version = 0;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "version 0 is not a valid");
    base(&g);
    g.version = 1;
    EXPECT_BUILD_ERR(&g, PHI_E_VERSION, "version 1");
    base(&g);
    g.version = 4;
    EXPECT_BUILD_ERR(&g, PHI_E_VERSION, "unknown version 4");
    base(&g);
    g.version = 0xFFFFFFFF;
    EXPECT_BUILD_ERR(&g, PHI_E_VERSION, "unknown version 4294967295");
    base(&g);
    g.version = 0x03000000; /* a v3 file written big-endian */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "big-endian");
    base(&g);
    g.version = 0x02000000;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "big-endian");
}

/* Every proper prefix of a valid file is an error, never a crash or an
 * out-of-bounds read (ASan checks the latter: the copy is exactly len). */
static void test_truncation(void)
{
    gguf_builder g;
    base(&g);
    const char *strs[] = {"x", "yz"};
    gb_kv_arr_str(&g, "tok", strs, 2);
    uint8_t u[4] = {1, 2, 3, 4};
    gb_kv_arr(&g, "arr", PHI_META_U16, u, 2, 2);
    gb_kv_f64(&g, "f", 1.0);
    g.pad_end = false; /* the last tensor ends at EOF: every cut hurts */
    size_t len;
    uint8_t *img = gb_build(&g, &len);
    gb_free(&g);
    CHECK(img != NULL);
    if (!img)
        return;
    int bad = 0, in_kv = 0, in_info = 0, in_data = 0;
    for (size_t cut = 0; cut < len; cut++) {
        phi_source *src = NULL;
        phi_err err;
        int rc = parse_mem(&g_mem, img, cut, &src, &err);
        in_kv += strstr(err.msg, "while reading metadata key #") != NULL;
        in_info += strstr(err.msg, "while reading tensor info #") != NULL;
        in_data += strstr(err.msg, "runs past the end of the file (") != NULL;
        if (rc != PHI_E_FORMAT || src != NULL || err.msg[0] == '\0') {
            if (!bad++)
                fprintf(stderr, "prefix %zu: %d %s\n", cut, rc, err.msg);
            phi_source_free(src);
        }
    }
    CHECK(bad == 0);
    CHECK(in_kv > 0 && in_info > 0 && in_data > 0);
    /* Spot checks of the messages. */
    EXPECT_ERR(img, 6, PHI_E_FORMAT, "truncated while reading the header (version)");
    EXPECT_ERR(img, 20, PHI_E_FORMAT, "truncated while reading the header (metadata count)");
    EXPECT_ERR(img, 30, PHI_E_FORMAT, "file truncated or counts corrupt");
    EXPECT_ERR(img, len - 1, PHI_E_FORMAT, "runs past the end of the file");
    /* And the whole file parses. */
    phi_source *src = NULL;
    phi_err err;
    CHECK(parse_mem(&g_mem, img, len, &src, &err) == PHI_OK);
    phi_source_free(src);
    free(img);
}

static void test_lying_counts(void)
{
    gguf_builder g;
    base(&g);
    g.kv_count_set = true;
    g.kv_count = UINT64_C(1) << 60;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "claims 1152921504606846976 metadata entries");
    base(&g);
    g.kv_count_set = true;
    g.kv_count = UINT64_MAX;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "counts corrupt");
    base(&g);
    g.tensor_count_set = true;
    g.tensor_count = UINT64_MAX;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "18446744073709551615 tensors");
    base(&g);
    g.tensor_count_set = true;
    g.tensor_count = UINT64_C(1) << 40;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "counts corrupt");
    /* Small lies get past the bound and fail on the first missing item. */
    base(&g);
    g.kv_count_set = true;
    g.kv_count = 3; /* reads the first tensor info as a KV, then fails */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "GGUF: ");
    base(&g);
    g.tensor_count_set = true;
    g.tensor_count = 3;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor info #2");
    /* Too many tensors for what the metadata left. */
    base(&g);
    char big[1001];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    gb_kv_str(&g, "big", big);
    g.tensor_count_set = true;
    g.tensor_count = 20;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "follow the metadata");
}

/* ---- metadata ------------------------------------------------------------- */

static void test_strings(void)
{
    gguf_builder g;
    base(&g);
    gb_u64(&g.kv, UINT64_MAX); /* key length */
    g.n_kv++;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "metadata key #2: key is 18446744073709551615 bytes long");
    base(&g);
    gb_u64(&g.kv, 1000); /* key length past EOF */
    gb_put(&g.kv, "abc", 3);
    g.n_kv++;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "key length 1000 runs past the end of the file");
    base(&g);
    gb_kv_begin(&g, "s", PHI_META_STRING);
    gb_u64(&g.kv, (UINT64_C(1) << 30) + 1);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "metadata key #2 's': string value is 1073741825 bytes long");
    base(&g);
    gb_kv_begin(&g, "s", PHI_META_STRING);
    gb_u64(&g.kv, 5000);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "string value length 5000 runs past the end");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_STRING);
    gb_u64(&g.kv, 2);
    gb_str(&g.kv, "ok");
    gb_u64(&g.kv, UINT64_C(1) << 40);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "string element 1 is 1099511627776 bytes long");
}

static void test_arrays(void)
{
    gguf_builder g;
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_U32);
    gb_u64(&g.kv, UINT64_MAX);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "array count 18446744073709551615 is more than the limit");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_U64);
    gb_u64(&g.kv, UINT64_C(1) << 61); /* count * 8 overflows u64 */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "more than the limit");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_U64);
    gb_u64(&g.kv, UINT64_C(1) << 30); /* at the limit, but 8 GiB of elements */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "needs at least 8589934592 bytes");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_STRING);
    gb_u64(&g.kv, 100000); /* string elements need >= 8 bytes each */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "array of 100000 string elements needs at least 800000");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_U16);
    gb_u64(&g.kv, 200); /* 400 bytes; the rest of the file is shorter */
    g.n_tensors = 0;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "needs at least 400 bytes");
    base(&g);
    gb_kv_begin(&g, "nest", PHI_META_ARRAY);
    gb_u32(&g.kv, PHI_META_ARRAY);
    gb_u64(&g.kv, 1);
    gb_u32(&g.kv, PHI_META_U8);
    gb_u64(&g.kv, 1);
    gb_u8(&g.kv, 1);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "metadata key #2 'nest': nested arrays");
    base(&g);
    gb_kv_begin(&g, "arr", PHI_META_ARRAY);
    gb_u32(&g.kv, 13);
    gb_u64(&g.kv, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "invalid array element type 13");
}

static void test_value_types_and_bools(void)
{
    gguf_builder g;
    base(&g);
    gb_kv_begin(&g, "x", 13);
    gb_u32(&g.kv, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "metadata key #2 'x': invalid value type 13");
    base(&g);
    gb_kv_begin(&g, "x", 0xFFFFFFFF);
    gb_u32(&g.kv, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "invalid value type 4294967295");
    base(&g);
    gb_kv_bool(&g, "flag", 2);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'flag': bool value is 2; must be 0 or 1");
    base(&g);
    gb_kv_bool(&g, "flag", 0xff);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "bool value is 255");
    base(&g);
    uint8_t b[3] = {0, 1, 7};
    gb_kv_arr(&g, "flags", PHI_META_BOOL, b, 1, 3);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'flags': bool array element 2 is 7");
}

static void test_keys(void)
{
    gguf_builder g;
    base(&g);
    gb_kv_u8(&g, "", 1);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "metadata key #2: the key is empty");
    base(&g);
    gb_kv_u8(&g, "general.architecture", 1);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT,
                     "duplicate metadata key 'general.architecture' (entries #0 and #2)");
    base(&g);
    gb_kv_u8(&g, "dup", 1);
    gb_kv_u8(&g, "zz", 1);
    gb_kv_str(&g, "dup", "again");
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "duplicate metadata key 'dup' (entries #2 and #4)");
    /* Keys that share a prefix are distinct. */
    base(&g);
    gb_kv_u8(&g, "general.arch", 1);
    phi_source *src = BUILD_OK(&g);
    phi_source_free(src);
    gb_free(&g);
    /* 65535 bytes is the longest key. */
    char *key = malloc(65537);
    CHECK(key != NULL);
    if (!key)
        return;
    memset(key, 'k', 65536);
    key[65535] = '\0';
    base(&g);
    gb_kv_u8(&g, key, 1);
    src = BUILD_OK(&g);
    if (src) {
        CHECK(src->meta[2].key.len == 65535);
        phi_source_free(src);
    }
    gb_free(&g);
    key[65535] = 'k';
    key[65536] = '\0';
    base(&g);
    gb_kv_u8(&g, key, 1);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "key is 65536 bytes long, more than the limit of 65535");
    free(key);
}

static void test_alignment_key(void)
{
    gguf_builder g;
    gb_init(&g);
    gb_kv_str(&g, "general.alignment", "32");
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT,
                     "GGUF: metadata key #0 'general.alignment' must be u32, found string");
    gb_init(&g);
    gb_kv_u64(&g, "general.alignment", 32);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "must be u32, found u64");
    gb_init(&g);
    gb_kv_u32(&g, "general.alignment", 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'general.alignment' is 0; must be a nonzero power of two");
    gb_init(&g);
    gb_kv_u32(&g, "general.alignment", 3);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "is 3; must be a nonzero power of two");
    gb_init(&g);
    gb_kv_u32(&g, "general.alignment", 48);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "is 48; must be");
}

/* ---- tensor infos --------------------------------------------------------- */

static void test_tensor_names(void)
{
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    gguf_builder g;
    base(&g);
    gb_tensor_add(&g, name64, PHI_DT_F32, 1, 8, 0, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor info #2: name 'nnnn");
    base(&g);
    gb_tensor_add(&g, name64, PHI_DT_F32, 1, 8, 0, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "is 64 bytes long; at most 63 allowed");
    base(&g);
    gb_tensor_add(&g, "a\0b", PHI_DT_F32, 1, 8, 0, 0, 0)->name_len = 3;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor info #2: name 'a?b' contains a NUL byte");
    base(&g);
    gb_tensor_add(&g, "a", PHI_DT_F32, 1, 8, 0, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "duplicate tensor name 'a' (tensor infos #0 and #2)");
}

static void test_dims(void)
{
    gguf_builder g;
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 0, 0, 0, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor info #2 't': n_dims is 0; must be 1..4");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 5, 1, 1, 1, 1)->dims[4] = 1;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "n_dims is 5; must be 1..4");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 2, 8, 0, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'t': dimension 1 is 0 (empty tensors are not allowed)");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 2, 8, UINT64_MAX, 0, 0)->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'t': dimension 1 is negative (-1)");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 1, UINT64_C(1) << 63, 0, 0, 0)->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "dimension 0 is negative");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 2, UINT64_C(1) << 32, UINT64_C(1) << 31, 0, 0)
        ->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'t': element count of shape [4294967296, 2147483648, 1, 1] overflows int64");
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 4, 1 << 16, 1 << 16, 1 << 16, 1 << 16)->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "overflows int64");
    /* 2^62 elements fit int64, but 2^62 * 8 bytes do not fit size_t. */
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_I64, 2, UINT64_C(1) << 31, UINT64_C(1) << 31, 0, 0)
        ->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'t': byte size of the I64 tensor overflows");
    /* Huge but representable: fails on placement, not on arithmetic. */
    base(&g);
    gb_tensor_add(&g, "t", PHI_DT_F32, 2, UINT64_C(1) << 20, UINT64_C(1) << 20, 0, 0)
        ->nbytes_set = true;
    g.data_len_set = true;
    g.data_len = 256;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor 't': data [offset 192 in the data section");
}

static void test_types(void)
{
    gguf_builder g;
    static const uint32_t retired[] = {4, 5, 31, 32, 33, 36, 37, 38};
    for (size_t i = 0; i < sizeof retired / sizeof retired[0]; i++) {
        base(&g);
        gb_tensor_add(&g, "t", retired[i], 1, 256, 0, 0, 0);
        char phrase[64];
        snprintf(phrase, sizeof phrase, "'t': retired ggml type code %u", retired[i]);
        EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, phrase);
    }
    static const uint32_t unknown[] = {40, 41, 42, 1000, 0xFFFFFFFF};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        base(&g);
        gb_tensor_add(&g, "t", unknown[i], 1, 256, 0, 0, 0);
        char phrase[64];
        snprintf(phrase, sizeof phrase, "'t': unknown ggml type code %u", unknown[i]);
        EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, phrase);
    }
    /* Every known type is accepted by the reader (kernels decide what runs). */
    gb_init(&g);
    gb_kv_u32(&g, "general.alignment", 32);
    static char names[PHI_DT_COUNT][8];
    size_t n = 0;
    for (uint32_t c = 0; c < PHI_DT_COUNT; c++) {
        const phi_dtype_info *info = phi_dtype_get(c);
        if (!info)
            continue;
        if (n == GB_MAX_TENSORS) {
            phi_source *src = BUILD_OK(&g);
            phi_source_free(src);
            gb_free(&g);
            gb_init(&g);
            n = 0;
        }
        snprintf(names[c], sizeof names[c], "t%u", c);
        gb_tensor_add(&g, names[c], c, 2, info->block * 2, 3, 0, 0);
        n++;
    }
    phi_source *src = BUILD_OK(&g);
    if (src) {
        for (size_t i = 0; i < src->n_tensors; i++) {
            const phi_dtype_info *info = phi_dtype_get(src->tensors[i].type);
            CHECK(src->tensors[i].nbytes == (size_t)6 * info->block_bytes);
        }
    }
    phi_source_free(src);
    gb_free(&g);

    base(&g);
    gb_tensor_add(&g, "q", PHI_DT_Q4_K, 2, 128, 2, 0, 0);
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'q': ne[0] = 128 is not a multiple of the Q4_K block size 256");
    base(&g);
    gb_tensor_add(&g, "q", PHI_DT_Q8_0, 1, 33, 0, 0, 0)->nbytes_set = true;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "ne[0] = 33 is not a multiple of the Q8_0 block size 32");
}

/* ---- placement ------------------------------------------------------------ */

static void test_placement(void)
{
    gguf_builder g;
    base(&g);
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = 72; /* a multiple of 8, not of 32 */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor 'b': offset 72 is not a multiple of the alignment 32");
    /* With general.alignment = 8 the same offset is fine. */
    gb_init(&g);
    g.alignment = 8;
    gb_kv_u32(&g, "general.alignment", 8);
    gb_tensor_add(&g, "a", PHI_DT_F32, 2, 8, 2, 0, 0);
    gb_tensor_add(&g, "b", PHI_DT_Q8_0, 2, 32, 3, 0, 0)->offset_set = true;
    g.tensors[1].offset = 72;
    phi_source *src = BUILD_OK(&g);
    phi_source_free(src);
    gb_free(&g);

    /* Past EOF: the last tensor's bytes cut short. */
    base(&g);
    g.data_len_set = true;
    g.data_len = 64 + 101; /* b is [64, 166) */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT,
                     "tensor 'b': data [offset 64 in the data section at 192, 102 bytes] runs "
                     "past the end of the file (357 bytes)");
    /* Exactly at EOF is fine. */
    base(&g);
    g.data_len_set = true;
    g.data_len = 64 + 102;
    src = BUILD_OK(&g);
    phi_source_free(src);
    gb_free(&g);
    /* An offset so large that offset + nbytes overflows. */
    base(&g);
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = UINT64_MAX - 31;
    g.data_len_set = true;
    g.data_len = 256;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor 'b': data [offset 18446744073709551584");
    base(&g);
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = UINT64_MAX - 31 - 64;
    g.data_len_set = true;
    g.data_len = 256;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "runs past the end of the file");
    /* No data section at all: the file ends with the tensor infos. */
    base(&g);
    g.data_len_set = true;
    g.data_len = 0;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensor 'a': data [offset 0 in the data section at 192, 64 bytes]");

    /* Overlaps: the same start; one inside another; a tail overlap in
     * reverse order. */
    base(&g);
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = 0;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT,
                     "tensors 'a' [offset 0, 64 bytes] and 'b' [offset 0, 102 bytes] overlap");
    base(&g);
    gb_tensor_add(&g, "c", PHI_DT_F32, 1, 8, 0, 0, 0)->offset_set = true;
    g.tensors[2].offset = 96; /* inside b [64, 166) */
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "tensors 'b' [offset 64, 102 bytes] and 'c' [offset 96");
    base(&g);
    g.tensors[0].offset_set = true;
    g.tensors[0].offset = 160; /* a [160, 224) overlaps b [64, 166) */
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = 64;
    EXPECT_BUILD_ERR(&g, PHI_E_FORMAT, "'b' [offset 64, 102 bytes] and 'a' [offset 160, 64 bytes] overlap");
    /* Touching is not overlapping. */
    base(&g);
    g.tensors[1].offset_set = true;
    g.tensors[1].offset = 64;
    src = BUILD_OK(&g);
    phi_source_free(src);
    gb_free(&g);
}

/* ---- allocation failure -------------------------------------------------- */

struct failing {
    long calls, fail_at, live;
};

static void *failing_alloc(void *user, size_t size, size_t align)
{
    struct failing *f = user;
    if (++f->calls == f->fail_at)
        return NULL;
    void *p = g_mem.alloc(g_mem.user, size, align);
    if (p)
        f->live++;
    return p;
}

static void failing_free(void *user, void *ptr)
{
    struct failing *f = user;
    f->live--;
    g_mem.free(g_mem.user, ptr);
}

static void test_alloc_failures(void)
{
    gguf_builder g;
    base(&g);
    const char *s1[] = {"a", "b", "c"};
    const char *s2[] = {"d"};
    gb_kv_arr_str(&g, "s1", s1, 3);
    gb_kv_arr_str(&g, "s2", s2, 1);
    size_t len;
    uint8_t *img = gb_build(&g, &len);
    gb_free(&g);
    CHECK(img != NULL);
    if (!img)
        return;
    struct failing f = {0, 0, 0};
    phi_mem mem = {&f, failing_alloc, failing_free};
    bool succeeded = false;
    long n;
    for (n = 1; n < 100 && !succeeded; n++) {
        /* The image copy is made with the failing allocator too (unarmed),
         * since the source frees it through mem. */
        f = (struct failing){0, 0, 0};
        uint8_t *copy = phi_alloc(&mem, len);
        memcpy(copy, img, len);
        f.calls = 0;
        f.fail_at = n;
        phi_mapped_file file = {copy, len, false, 0};
        phi_source *src = (phi_source *)1;
        phi_err err;
        int rc = phi_gguf_parse(&mem, &file, &src, &err);
        if (rc == PHI_OK) {
            succeeded = true;
            CHECK(f.calls < n); /* every allocation was made */
            phi_source_free(src);
        } else {
            CHECK(rc == PHI_E_NOMEM && err.code == PHI_E_NOMEM && src == NULL);
            CHECK(strstr(err.msg, "cannot allocate") != NULL);
        }
        CHECK(f.live == 0);
        CHECK(file.data == NULL);
    }
    CHECK(succeeded);
    CHECK(n > 5); /* source, meta, 2 string arrays, scratch, tensors, offsets */
    free(img);
}

/* ---- seed corpus for the fuzz target ------------------------------------ */

static int write_seed(const char *dir, const char *name, gguf_builder *g)
{
    size_t len;
    uint8_t *img = gb_build(g, &len);
    gb_free(g);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = img ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(img, 1, len, f) == len;
    if (f)
        ok &= fclose(f) == 0;
    free(img);
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    return ok ? 0 : 1;
}

static int write_corpus(const char *dir)
{
    int bad = 0;
    gguf_builder g;
    gb_init(&g);
    bad |= write_seed(dir, "header_only.gguf", &g);

    base(&g);
    bad |= write_seed(dir, "base.gguf", &g);

    gb_init(&g);
    g.version = 2;
    g.alignment = 64;
    gb_kv_u32(&g, "general.alignment", 64);
    gb_kv_u8(&g, "u8", 1);
    gb_kv_i16(&g, "i16", -2);
    gb_kv_f32(&g, "f32", 0.5f);
    gb_kv_bool(&g, "b", 1);
    gb_kv_u64(&g, "u64", 7);
    gb_kv_i64(&g, "i64", -7);
    gb_kv_f64(&g, "f64", 2.0);
    gb_kv_i8(&g, "i8", -1);
    gb_kv_u16(&g, "u16", 2);
    gb_kv_i32(&g, "i32", -3);
    uint8_t a[8] = {1, 0, 2, 0, 3, 0, 4, 0};
    gb_kv_arr(&g, "a16", PHI_META_U16, a, 2, 4);
    gb_kv_arr(&g, "ab", PHI_META_BOOL, a, 1, 2);
    const char *strs[] = {"<|user|>", "", "x"};
    gb_kv_arr_str(&g, "tokenizer.ggml.tokens", strs, 3);
    gb_tensor_add(&g, "blk.0.attn_qkv.weight", PHI_DT_Q4_K, 2, 256, 2, 0, 0);
    gb_tensor_add(&g, "blk.0.attn_norm.weight", PHI_DT_F32, 1, 4, 0, 0, 0);
    bad |= write_seed(dir, "v2_align64_types.gguf", &g);

    gb_init(&g);
    size_t n = 0;
    static char names[PHI_DT_COUNT][8];
    for (uint32_t c = 0; c < PHI_DT_COUNT && n < GB_MAX_TENSORS; c++) {
        const phi_dtype_info *info = phi_dtype_get(c);
        if (!info || info->block != 1)
            continue;
        snprintf(names[c], sizeof names[c], "t%u", c);
        gb_tensor_add(&g, names[c], c, 3, 2, 1, 2, 0);
        n++;
    }
    g.tensors[1].offset_set = true; /* out of order */
    g.tensors[1].offset = 1024;
    bad |= write_seed(dir, "small_types_any_order.gguf", &g);
    return bad;
}

/* ---- releasing a mapped file's pages ----------------------------------- */

/* The process's resident pages of mapped files, from /proc/self/status
 * (kB); -1 where the kernel does not report it. */
static long rss_file_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long kb = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssFile: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* phi_mapped_file_release gives back the whole pages inside a range of a
 * mapped file (packed copies leave the file's bytes unread), leaves the
 * partial pages at its ends, and the bytes read the same afterwards; for a
 * file read into memory it does nothing. */
static void test_release_mapped(void)
{
    enum { SIZE = 8 << 20 };
    (void)rss_file_kb(); /* its own code's pages in first */
    char path[] = "/tmp/phi4-release-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    uint8_t *bytes = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        bytes[i] = (uint8_t)(i * 2654435761u >> 13);
    CHECK(write(fd, bytes, SIZE) == SIZE);
    close(fd);
    for (int mapped = 0; mapped < 2; mapped++) {
        phi_mapped_file f;
        phi_err err = {0};
        CHECK(phi_mapped_file_open(&g_mem, path, mapped, NULL, &f, &err) == PHI_OK);
        volatile unsigned sum = 0;
        for (size_t i = 0; i < SIZE; i += 4096)
            sum += f.data[i];
        /* Code pages faulted in between the two readings add to RssFile, so
         * the checks leave 64 kB of room (the two partial pages are 8). */
        long before = rss_file_kb();
        /* from 100 bytes in to 100 bytes before the end: all but 2 pages */
        phi_mapped_file_release(&f, f.data + 100, SIZE - 200);
        long after = rss_file_kb();
        CHECK(before >= 0 && after >= 0);
        if (mapped) /* 8 MiB less */
            CHECK(before - after >= (SIZE >> 10) - 64);
        else        /* nothing given back */
            CHECK(before - after < 64);
        CHECK(memcmp(f.data, bytes, SIZE) == 0);
        phi_mapped_file_close(&g_mem, &f);
        (void)sum;
    }
    unlink(path);
    free(bytes);
}

int main(int argc, char **argv)
{
    phi_mem_init_default(&g_mem);
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    test_all_metadata_types(3);
    test_all_metadata_types(2);
    test_tensors_ok();
    test_data_on_cache_line();
    test_any_order();
    test_custom_alignment(64);
    test_custom_alignment(8);
    test_custom_alignment(1);
    test_custom_alignment(4096);
    test_empty_files();
    test_sniff_and_open();
    test_magic_and_version();
    test_truncation();
    test_lying_counts();
    test_strings();
    test_arrays();
    test_value_types_and_bools();
    test_keys();
    test_alignment_key();
    test_tensor_names();
    test_dims();
    test_types();
    test_placement();
    test_alloc_failures();
    test_release_mapped();
    if (n_failed) {
        fprintf(stderr, "%d of %d checks FAILED\n", n_failed, n_checks);
        return 1;
    }
    printf("%d checks passed\n", n_checks);
    return 0;
}
