/* safetensors: round trips, the on-disk layout the spec asks for, every
 * refusal of a damaged or hostile file with its exact message, and the
 * atomic write. Files go in a fresh mkdtemp folder per test. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "io/safetensors.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/nnzoo_st_XXXXXX");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

/* The folder holds only files and, in one test, an empty folder. */
static void teardown(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0) rmdir(p);
        }
    closedir(d);
    rmdir(dir);
}

static const char *path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

/* The file's bytes (malloc'd) and size. */
static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Writes a hand-made file: the header text padded with spaces to a multiple
 * of 8, then `data_len` bytes 0, 1, 2, ... Returns where the data starts. */
static size_t make_file(const char *path, const char *header, size_t data_len)
{
    size_t hlen = strlen(header), padded = (hlen + 7) & ~(size_t)7;
    unsigned char *b = malloc(8 + padded + data_len + 1);
    put_u64(b, padded);
    memcpy(b + 8, header, hlen);
    memset(b + 8 + hlen, ' ', padded - hlen);
    for (size_t i = 0; i < data_len; i++) b[8 + padded + i] = (unsigned char)i;
    write_bytes(path, b, 8 + padded + data_len);
    free(b);
    return 8 + padded;
}

/* Opening `path` fails with `code` and exactly the message "<path>: <rest>". */
static void expect_open_error(const char *path, nn_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expect_open_error(const char *path, nn_status code, const char *fmt, ...)
{
    char rest[1024], want[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    snprintf(want, sizeof want, "%s: %s", path, rest);
    nn_safetensors *f = (nn_safetensors *)&f; /* must be reset to NULL */
    nn_error_clear();
    nn_status st = nn_safetensors_open(&f, path);
    ck_assert_msg(st == code, "status %d, expected %d (%s)", st, code, nn_error_message());
    ck_assert_ptr_null(f);
    ck_assert_str_eq(nn_error_message(), want);
}

/* Two small tensors a: (2) = {1, 2}, b: (3) = {3, 4, 5}, and one metadata
 * pair; the data is 20 bytes: a at [0, 8], b at [8, 20]. */
static const float small_a[] = {1, 2}, small_b[] = {3, 4, 5};
static const int small_a_shape[] = {2}, small_b_shape[] = {3};

static void write_small(const char *path)
{
    nn_st_tensor t[] = {{"a", small_a, 1, small_a_shape}, {"b", small_b, 1, small_b_shape}};
    nn_st_meta m[] = {{"format", "pt"}};
    ck_assert_int_eq(nn_safetensors_write(path, t, 2, m, 1), NN_OK);
}

START_TEST(round_trip_is_bitwise)
{
    char p[512];
    path_in(p, sizeof p, "model.safetensors");

    int conv_shape[] = {6, 3, 5, 5}, bias_shape[] = {10}, empty_shape[] = {0, 4};
    float conv[6 * 3 * 5 * 5], bias[10], scalar = -0.0f;
    for (int i = 0; i < 450; i++) conv[i] = (float)(i * 0.37 - 80.0) / 7.0f;
    /* Values a text round trip would mangle: the bytes must come back as they went. */
    uint32_t odd_bits[] = {0x7fc00001u, 0x00000001u, 0x80000000u, 0x7f800000u, 0xff800000u,
                           0x3eaaaaabu, 0x7f7fffffu, 0x00800000u, 0xffc12345u, 0x12345678u};
    memcpy(bias, odd_bits, sizeof bias);
    nn_st_tensor t[] = {
        {"conv1.weight", conv, 4, conv_shape},
        {"fc.bias", bias, 1, bias_shape},
        {"step", &scalar, 0, NULL},
        {"empty", NULL, 2, empty_shape},
    };
    nn_st_meta m[] = {{"epoch", "12"}, {"note", "quote \" backslash \\ tab \t é"}};
    ck_assert_int_eq(nn_safetensors_write(p, t, 4, m, 2), NN_OK);

    nn_safetensors *f = NULL;
    ck_assert_msg(nn_safetensors_open(&f, p) == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(nn_safetensors_count(f), 4);
    ck_assert_str_eq(nn_safetensors_name(f, 0), "conv1.weight");
    ck_assert_str_eq(nn_safetensors_name(f, 1), "fc.bias");
    ck_assert_str_eq(nn_safetensors_name(f, 2), "step");
    ck_assert_str_eq(nn_safetensors_name(f, 3), "empty");
    ck_assert_str_eq(nn_safetensors_meta(f, "epoch"), "12");
    ck_assert_str_eq(nn_safetensors_meta(f, "note"), "quote \" backslash \\ tab \t é");
    ck_assert_ptr_null(nn_safetensors_meta(f, "lr"));
    ck_assert_int_eq(nn_safetensors_has(f, "fc.bias"), 1);
    ck_assert_int_eq(nn_safetensors_has(f, "fc.weight"), 0);
    ck_assert_int_eq(nn_safetensors_has(f, "__metadata__"), 0);

    float conv_back[450], bias_back[10], scalar_back = 1.0f;
    ck_assert_int_eq(nn_safetensors_read(f, "conv1.weight", 4, conv_shape, conv_back), NN_OK);
    ck_assert_int_eq(nn_safetensors_read(f, "fc.bias", 1, bias_shape, bias_back), NN_OK);
    ck_assert_int_eq(nn_safetensors_read(f, "step", 0, NULL, &scalar_back), NN_OK);
    ck_assert_int_eq(nn_safetensors_read(f, "empty", 2, empty_shape, NULL), NN_OK);
    ck_assert_int_eq(memcmp(conv_back, conv, sizeof conv), 0);
    ck_assert_int_eq(memcmp(bias_back, bias, sizeof bias), 0);
    ck_assert_int_eq(memcmp(&scalar_back, &scalar, sizeof scalar), 0);
    nn_safetensors_close(f);
}
END_TEST

START_TEST(layout_follows_the_spec)
{
    char p[512];
    write_small(path_in(p, sizeof p, "small.safetensors"));
    size_t len;
    unsigned char *b = read_bytes(p, &len);

    uint64_t n = get_u64(b);
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(len, 8 + n + 20);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]}}";
    size_t wlen = strlen(want);
    ck_assert_uint_eq(n, (wlen + 7) / 8 * 8);
    ck_assert_int_eq(memcmp(b + 8, want, wlen), 0);
    for (size_t i = 8 + wlen; i < 8 + n; i++) ck_assert_int_eq(b[i], ' ');

    /* A generic JSON reader sees the same thing, key order included. */
    cJSON *h = cJSON_ParseWithLength((const char *)b + 8, n);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h->child->string, "__metadata__");
    ck_assert_str_eq(h->child->next->string, "a");
    const cJSON *off = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "b"), "data_offsets");
    ck_assert_int_eq(cJSON_GetArrayItem(off, 0)->valueint, 8);
    ck_assert_int_eq(cJSON_GetArrayItem(off, 1)->valueint, 20);
    cJSON_Delete(h);

    float data[5];
    memcpy(data, b + 8 + n, sizeof data);
    ck_assert_float_eq(data[0], 1.0f);
    ck_assert_float_eq(data[1], 2.0f);
    ck_assert_float_eq(data[4], 5.0f);
    free(b);

    /* No tensors and no metadata: "{}" padded to 8. */
    ck_assert_int_eq(nn_safetensors_write(p, NULL, 0, NULL, 0), NN_OK);
    b = read_bytes(p, &len);
    ck_assert_uint_eq(len, 16);
    ck_assert_uint_eq(get_u64(b), 8);
    ck_assert_int_eq(memcmp(b + 8, "{}      ", 8), 0);
    free(b);
    nn_safetensors *f = NULL;
    ck_assert_int_eq(nn_safetensors_open(&f, p), NN_OK);
    ck_assert_int_eq(nn_safetensors_count(f), 0);
    ck_assert_ptr_null(nn_safetensors_meta(f, "format"));
    nn_safetensors_close(f);
}
END_TEST

START_TEST(truncated_files_are_refused)
{
    char p[512], q[512];
    write_small(path_in(p, sizeof p, "full.safetensors"));
    path_in(q, sizeof q, "cut.safetensors");
    size_t len;
    unsigned char *b = read_bytes(p, &len);
    size_t n = (size_t)get_u64(b), data = 8 + n;

    const char *few = "truncated: the file has %zu bytes, too few for the 8-byte header length "
                      "at byte 0";
    const char *hdr = "truncated: header says %zu bytes of header at byte 8 but the file has "
                      "%zu bytes";
    write_bytes(q, b, 0);
    expect_open_error(q, NN_ERR_INPUT, few, (size_t)0);
    write_bytes(q, b, 4);
    expect_open_error(q, NN_ERR_INPUT, few, (size_t)4);
    write_bytes(q, b, 7);
    expect_open_error(q, NN_ERR_INPUT, few, (size_t)7);
    write_bytes(q, b, 8);
    expect_open_error(q, NN_ERR_INPUT, hdr, n, (size_t)8);
    write_bytes(q, b, 8 + n / 2);
    expect_open_error(q, NN_ERR_INPUT, hdr, n, 8 + n / 2);
    write_bytes(q, b, data - 1);
    expect_open_error(q, NN_ERR_INPUT, hdr, n, data - 1);
    write_bytes(q, b, data);
    expect_open_error(q, NN_ERR_INPUT,
                      "tensor `a`: data_offsets [0, 8] pass the end of the data (0 bytes, file "
                      "offset %zu)",
                      data);
    write_bytes(q, b, data + 12);
    expect_open_error(q, NN_ERR_INPUT,
                      "tensor `b`: data_offsets [8, 20] pass the end of the data (12 bytes, file "
                      "offset %zu)",
                      data);
    write_bytes(q, b, len - 1);
    expect_open_error(q, NN_ERR_INPUT,
                      "tensor `b`: data_offsets [8, 20] pass the end of the data (19 bytes, file "
                      "offset %zu)",
                      data);
    free(b);

    path_in(q, sizeof q, "missing.safetensors");
    expect_open_error(q, NN_ERR_INPUT, "cannot open: No such file or directory");
    expect_open_error(dir, NN_ERR_INPUT, "not a regular file");
}
END_TEST

START_TEST(huge_header_length_is_refused)
{
    char p[512];
    path_in(p, sizeof p, "huge.safetensors");
    unsigned char b[2048];
    memset(b, 'x', sizeof b);
    put_u64(b, 7523094288u);
    write_bytes(p, b, sizeof b);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header length 7523094288 at byte 0 is larger than "
                      "the file (2048 bytes)");

    /* Text that is not safetensors at all reads as an absurd length. */
    write_bytes(p, "{\"epochs\": 3}\n", 14);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header length 8316006042217816699 at byte 0 is "
                      "larger than the file (14 bytes)");
    put_u64(b, UINT64_MAX);
    write_bytes(p, b, 8);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header length 18446744073709551615 at byte 0 is "
                      "larger than the file (8 bytes)");

    /* Within the file but over the limit: refused before the file is read
     * (a sparse file, so the test costs no disk). */
    put_u64(b, 150000000);
    write_bytes(p, b, 8);
    ck_assert_int_eq(truncate(p, 8 + 150000000 + 8), 0);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header length 150000000 at byte 0 is over the limit "
                      "of 100000000 bytes");
}
END_TEST

START_TEST(garbage_header_is_refused)
{
    char p[512];
    path_in(p, sizeof p, "garbage.safetensors");

    make_file(p, "[1, 2, 3]", 0);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header at byte 8 starts with `[`, expected `{`");
    make_file(p, "", 0);
    expect_open_error(p, NN_ERR_INPUT, "not a safetensors file: header at byte 8 is empty, "
                                       "expected `{`");
    unsigned char zeros[64] = {0};
    put_u64(zeros, 56);
    write_bytes(p, zeros, sizeof zeros);
    expect_open_error(p, NN_ERR_INPUT,
                      "not a safetensors file: header at byte 8 starts with byte 0x00, expected "
                      "`{`");
    /* `tru` is not `true`: the error points at it (header byte 6, file byte 14). */
    make_file(p, "{\"a\": tru}", 0);
    expect_open_error(p, NN_ERR_INPUT,
                      "header is not valid JSON at byte 14 (header: bytes 8 to 24)");
    /* Unterminated: cJSON reports the last byte of the header. */
    make_file(p, "{\"a\": [1, 2", 0);
    expect_open_error(p, NN_ERR_INPUT,
                      "header is not valid JSON at byte 23 (header: bytes 8 to 24)");
    make_file(p, "{} x", 0);
    expect_open_error(p, NN_ERR_INPUT, "unexpected `x` at byte 11 after the JSON header");
    unsigned char nul_pad[16] = {0};
    put_u64(nul_pad, 8);
    memcpy(nul_pad + 8, "{}", 2);
    write_bytes(p, nul_pad, sizeof nul_pad);
    expect_open_error(p, NN_ERR_INPUT, "unexpected byte 0x00 at byte 10 after the JSON header");
}
END_TEST

/* One bad header, the data size after it, and the message after "<path>: ". */
typedef struct {
    const char *header;
    size_t data_len;
    const char *message;
} bad_case;

START_TEST(bad_entries_are_refused)
{
    static const bad_case cases[] = {
        {"{\"w\": [1]}", 0, "tensor `w` is an array, expected an object"},
        {"{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: dtype is missing, expected a string"},
        {"{\"w\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: dtype is a number, expected a string"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: shape is a number, expected an array"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2, -1], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: shape[1] is not an integer in [0, 2147483647]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: shape[0] is not an integer in [0, 2147483647]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [\"1\"], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: shape[0] is not an integer in [0, 2147483647]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [3000000000], \"data_offsets\": [0, 4]}}", 4,
         "tensor `w`: shape[0] is not an integer in [0, 2147483647]"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
         4, "tensor `w`: shape has 9 dimensions, at most 8 allowed"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
         "tensor `w`: data_offsets is not a pair [begin, end] of non-negative integers"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4,
         "tensor `w`: data_offsets is not a pair [begin, end] of non-negative integers"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 8,
         "tensor `w`: data_offsets is not a pair [begin, end] of non-negative integers"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 4,
         "tensor `w`: data_offsets is not a pair [begin, end] of non-negative integers"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8,
         "tensor `w`: data_offsets [8, 4] end before they begin"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8,
         "tensor `w`: data_offsets [0, 16] pass the end of the data (8 bytes, file offset 72)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1e300]}}", 8,
         "tensor `w`: data_offsets is not a pair [begin, end] of non-negative integers"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8,
         "tensor `w`: data_offsets [0, 8] hold 8 bytes but F32 shape (3) needs 12"},
        {"{\"w\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [0, 16]}}", 16,
         "tensor `w`: data_offsets [0, 16] hold 16 bytes but F16 shape (2, 2) needs 8"},
        /* 0-d tensors hold exactly one element. */
        {"{\"n\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 4]}}", 4,
         "tensor `n`: data_offsets [0, 4] hold 4 bytes but I64 shape () needs 8"},
        {"{\"n\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 8]}}", 8,
         "tensor `n`: data_offsets [0, 8] hold 8 bytes but F32 shape () needs 4"},
        {"{\"n\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 0]}}", 0,
         "tensor `n`: data_offsets [0, 0] hold 0 bytes but I64 shape () needs 8"},
        {"{\"n\": {\"dtype\": \"I64\", \"shape\": [3], \"data_offsets\": [0, 16]}}", 16,
         "tensor `n`: data_offsets [0, 16] hold 16 bytes but I64 shape (3) needs 24"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2147483647, 2147483647, 2147483647], "
         "\"data_offsets\": [0, 0]}}",
         0, "tensor `w`: shape (2147483647, 2147483647, 2147483647) is too large"},
        {"{\"__metadata__\": {\"epoch\": 3}}", 0,
         "`__metadata__` key `epoch` is a number, expected a string"},
        {"{\"__metadata__\": [\"a\"]}", 0,
         "`__metadata__` is an array, expected an object of strings"},
        {"{\"__metadata__\": {}, \"__metadata__\": {}}", 0,
         "`__metadata__` appears twice in the header"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
         " \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
         8, "tensor `w` appears twice in the header"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
         12, "tensors `a` [0, 8] and `b` [4, 12] overlap (data starts at file offset 136)"},
        /* A long tensor hides a short one inside it, listed out of order. */
        {"{\"small\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [16, 20]},"
         " \"big\": {\"dtype\": \"F32\", \"shape\": [8], \"data_offsets\": [0, 32]},"
         " \"after\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [32, 36]}}",
         36, "tensors `big` [0, 32] and `small` [16, 20] overlap (data starts at file offset 208)"},
        {"{\"same\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
         " \"again\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         4, "tensors `same` [0, 4] and `again` [0, 4] overlap (data starts at file offset 144)"},
    };
    char p[512];
    path_in(p, sizeof p, "bad.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t start = make_file(p, cases[i].header, cases[i].data_len);
        if (strstr(cases[i].message, "file offset"))
            ck_assert_msg(strstr(cases[i].message, "overlap") || start == 72,
                          "case %zu: data starts at %zu", i, start);
        expect_open_error(p, NN_ERR_INPUT, "%s", cases[i].message);
    }
}
END_TEST

START_TEST(unusual_but_valid_files_open)
{
    char p[512];
    path_in(p, sizeof p, "odd.safetensors");
    /* Unknown keys are ignored, holes between tensors are allowed, empty
     * tensors may sit anywhere (even inside another), an unknown dtype opens
     * but cannot be read, and JSON whitespace may pad the header. */
    make_file(p,
              "{\n \"z\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16], "
              "\"extra\": null},\n \"e\": {\"dtype\": \"F32\", \"shape\": [0, 3], "
              "\"data_offsets\": [12, 12]},\n \"q\": {\"dtype\": \"Q4_X\", \"shape\": [7], "
              "\"data_offsets\": [20, 21]}\n}\n\t",
              24);
    nn_safetensors *f = NULL;
    ck_assert_msg(nn_safetensors_open(&f, p) == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(nn_safetensors_count(f), 3);
    ck_assert_str_eq(nn_safetensors_name(f, 2), "q");
    int z_shape[] = {2}, e_shape[] = {0, 3}, q_shape[] = {7};
    float z[2];
    ck_assert_int_eq(nn_safetensors_read(f, "z", 1, z_shape, z), NN_OK);
    unsigned char want[8] = {8, 9, 10, 11, 12, 13, 14, 15};
    ck_assert_int_eq(memcmp(z, want, 8), 0);
    ck_assert_int_eq(nn_safetensors_read(f, "e", 2, e_shape, NULL), NN_OK);
    ck_assert_int_eq(nn_safetensors_read(f, "q", 1, q_shape, z), NN_ERR_INPUT);
    char msg[600];
    snprintf(msg, sizeof msg, "%s: tensor `q`: dtype Q4_X, expected F32", p);
    ck_assert_str_eq(nn_error_message(), msg);
    nn_safetensors_close(f);
}
END_TEST

START_TEST(read_checks_name_dtype_and_shape)
{
    char p[512], msg[600];
    path_in(p, sizeof p, "conv.safetensors");
    int shape[] = {6, 1, 5, 5};
    float w[150];
    for (int i = 0; i < 150; i++) w[i] = (float)i;
    nn_st_tensor t[] = {{"conv1.weight", w, 4, shape}};
    ck_assert_int_eq(nn_safetensors_write(p, t, 1, NULL, 0), NN_OK);

    nn_safetensors *f = NULL;
    ck_assert_int_eq(nn_safetensors_open(&f, p), NN_OK);
    float dst[450] = {0};
    ck_assert_int_eq(nn_safetensors_read(f, "fc.weight", 1, shape, dst), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: no tensor `fc.weight`", p);
    ck_assert_str_eq(nn_error_message(), msg);

    int want[] = {6, 3, 5, 5};
    ck_assert_int_eq(nn_safetensors_read(f, "conv1.weight", 4, want, dst), NN_ERR_INPUT);
    snprintf(msg, sizeof msg,
             "%s: tensor `conv1.weight`: shape (6, 1, 5, 5), expected (6, 3, 5, 5)", p);
    ck_assert_str_eq(nn_error_message(), msg);

    int flat[] = {150};
    ck_assert_int_eq(nn_safetensors_read(f, "conv1.weight", 1, flat, dst), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: tensor `conv1.weight`: shape (6, 1, 5, 5), expected (150)", p);
    ck_assert_str_eq(nn_error_message(), msg);
    for (int i = 0; i < 450; i++) ck_assert_float_eq(dst[i], 0.0f); /* untouched on error */

    ck_assert_int_eq(nn_safetensors_read(f, "conv1.weight", 4, shape, dst), NN_OK);
    ck_assert_float_eq(dst[149], 149.0f);
    ck_assert_float_eq(dst[150], 0.0f); /* nothing past the tensor */
    nn_safetensors_close(f);

    make_file(p, "{\"w\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
    ck_assert_int_eq(nn_safetensors_open(&f, p), NN_OK);
    int two[] = {2};
    ck_assert_int_eq(nn_safetensors_read(f, "w", 1, two, dst), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: tensor `w`: dtype BF16, expected F32", p);
    ck_assert_str_eq(nn_error_message(), msg);
    nn_safetensors_close(f);
}
END_TEST

/* F32 and I64 side by side, 0-d ones included (torch's num_batches_tracked
 * is a 0-d int64): the header names each dtype, the bytes come back as they
 * went, and each reader takes only its own dtype and exact shape. */
START_TEST(typed_tensors_round_trip)
{
    char p[512], msg[600];
    path_in(p, sizeof p, "typed.safetensors");
    int w_shape[] = {2, 3}, c_shape[] = {2};
    float w[6] = {1, -2, 3.5f, 4, 5, -0.0f}, scalar = 0.25f;
    int64_t count = 123456789012345, counts[2] = {-1, INT64_MAX};
    nn_st_typed_tensor t[] = {
        {.name = "bn.weight", .dtype = NN_ST_F32, .data = w, .ndim = 2, .shape = w_shape},
        {.name = "bn.num_batches_tracked", .dtype = NN_ST_I64, .data = &count, .ndim = 0},
        {.name = "counts", .dtype = NN_ST_I64, .data = counts, .ndim = 1, .shape = c_shape},
        {.name = "scale", .dtype = NN_ST_F32, .data = &scalar, .ndim = 0},
    };
    nn_st_meta m[] = {{"format", "pt"}};
    ck_assert_int_eq(nn_safetensors_write_typed(p, t, 4, m, 1), NN_OK);

    size_t len;
    unsigned char *b = read_bytes(p, &len);
    uint64_t n = get_u64(b);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"bn.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
        "\"counts\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[32,48]},"
        "\"scale\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[48,52]}}";
    ck_assert_uint_eq(n, (strlen(want) + 7) / 8 * 8);
    ck_assert_int_eq(memcmp(b + 8, want, strlen(want)), 0);
    ck_assert_uint_eq(len, 8 + n + 52);
    ck_assert_int_eq(memcmp(b + 8 + n + 24, &count, 8), 0);
    free(b);

    nn_safetensors *f = NULL;
    ck_assert_msg(nn_safetensors_open(&f, p) == NN_OK, "%s", nn_error_message());
    ck_assert_str_eq(nn_safetensors_dtype(f, "bn.weight"), "F32");
    ck_assert_str_eq(nn_safetensors_dtype(f, "bn.num_batches_tracked"), "I64");
    ck_assert_ptr_null(nn_safetensors_dtype(f, "bn.bias"));
    int ndim = -1, shape[8];
    ck_assert_int_eq(nn_safetensors_shape(f, "bn.num_batches_tracked", &ndim, shape), 0);
    ck_assert_int_eq(ndim, 0);

    float w_back[6], s_back;
    int64_t count_back = 0, counts_back[2];
    ck_assert_int_eq(nn_safetensors_read(f, "bn.weight", 2, w_shape, w_back), NN_OK);
    ck_assert_int_eq(memcmp(w_back, w, sizeof w), 0);
    ck_assert_int_eq(nn_safetensors_read(f, "scale", 0, NULL, &s_back), NN_OK);
    ck_assert_float_eq(s_back, 0.25f);
    ck_assert_int_eq(nn_safetensors_read_i64(f, "bn.num_batches_tracked", 0, NULL, &count_back), NN_OK);
    ck_assert(count_back == count);
    ck_assert_int_eq(nn_safetensors_read_i64(f, "counts", 1, c_shape, counts_back), NN_OK);
    ck_assert(counts_back[0] == -1 && counts_back[1] == INT64_MAX);

    /* Each reader refuses the other's dtype, and a 0-d tensor is not a (1). */
    ck_assert_int_eq(nn_safetensors_read(f, "bn.num_batches_tracked", 0, NULL, &s_back), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: tensor `bn.num_batches_tracked`: dtype I64, expected F32", p);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_int_eq(nn_safetensors_read_i64(f, "scale", 0, NULL, &count_back), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: tensor `scale`: dtype F32, expected I64", p);
    ck_assert_str_eq(nn_error_message(), msg);
    int one[] = {1};
    ck_assert_int_eq(nn_safetensors_read_i64(f, "bn.num_batches_tracked", 1, one, &count_back), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: tensor `bn.num_batches_tracked`: shape (), expected (1)", p);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_int_eq(nn_safetensors_read_i64(f, "missing", 0, NULL, &count_back), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: no tensor `missing`", p);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert(count_back == count); /* untouched on error */
    nn_safetensors_close(f);

    /* The typed writer keeps the plain one's refusals. */
    nn_st_typed_tensor dup[] = {t[1], t[1]};
    ck_assert_int_eq(nn_safetensors_write_typed(p, dup, 2, NULL, 0), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: two tensors are named `bn.num_batches_tracked`", p);
    ck_assert_str_eq(nn_error_message(), msg);
}
END_TEST

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

START_TEST(write_is_atomic)
{
    char p[512], tmp[600], msg[1200];
    path_in(p, sizeof p, "nope/ckpt.safetensors");
    ck_assert_int_eq(nn_safetensors_write(p, NULL, 0, NULL, 0), NN_ERR_RUNTIME);
    snprintf(msg, sizeof msg, "%s: cannot create `%s.tmp`: No such file or directory", p, p);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_int_eq(count_entries(dir), 0);

    /* Overwriting replaces the file and leaves nothing else behind. */
    path_in(p, sizeof p, "ckpt.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    write_small(p);
    int shape[] = {2};
    float v[] = {7, 8};
    nn_st_tensor t[] = {{"new", v, 1, shape}};
    ck_assert_int_eq(nn_safetensors_write(p, t, 1, NULL, 0), NN_OK);
    ck_assert_int_eq(exists(tmp), 0);
    ck_assert_int_eq(count_entries(dir), 1);
    nn_safetensors *f = NULL;
    ck_assert_int_eq(nn_safetensors_open(&f, p), NN_OK);
    ck_assert_int_eq(nn_safetensors_count(f), 1);
    ck_assert_str_eq(nn_safetensors_name(f, 0), "new");
    ck_assert_ptr_null(nn_safetensors_meta(f, "format"));
    nn_safetensors_close(f);

    /* A stale .tmp from a crashed run is simply replaced. */
    write_bytes(tmp, "junk", 4);
    write_small(p);
    ck_assert_int_eq(exists(tmp), 0);
    ck_assert_int_eq(count_entries(dir), 1);

    /* A write that fails halfway (file size limit: the disk is "full")
     * removes the .tmp and leaves the old file as it was. */
    size_t old_len;
    unsigned char *old = read_bytes(p, &old_len);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG from write(), no signal */
    struct rlimit old_lim, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim = old_lim;
    lim.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    float big[100] = {0};
    int big_shape[] = {100};
    nn_st_tensor tb[] = {{"big", big, 1, big_shape}};
    ck_assert_int_eq(nn_safetensors_write(p, tb, 1, NULL, 0), NN_ERR_RUNTIME);
    snprintf(msg, sizeof msg, "%s: cannot write `%s`: File too large", p, tmp);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_handler);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_int_eq(exists(tmp), 0);
    size_t now_len;
    unsigned char *now = read_bytes(p, &now_len);
    ck_assert_uint_eq(now_len, old_len);
    ck_assert_int_eq(memcmp(now, old, old_len), 0);
    free(now);
    free(old);

    /* Renaming over a folder fails: the .tmp goes, the folder stays. */
    path_in(p, sizeof p, "adir");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(nn_safetensors_write(p, NULL, 0, NULL, 0), NN_ERR_RUNTIME);
    snprintf(msg, sizeof msg, "%s: cannot rename `%s.tmp` over it: Is a directory", p, p);
    ck_assert_str_eq(nn_error_message(), msg);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    ck_assert_int_eq(exists(tmp), 0);
    ck_assert_int_eq(count_entries(p), 0);
}
END_TEST

START_TEST(writer_refuses_clashing_names)
{
    char p[512], msg[600];
    path_in(p, sizeof p, "clash.safetensors");
    int shape[] = {1};
    float v = 1;
    nn_st_tensor dup[] = {{"w", &v, 1, shape}, {"b", &v, 1, shape}, {"w", &v, 1, shape}};
    ck_assert_int_eq(nn_safetensors_write(p, dup, 3, NULL, 0), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: two tensors are named `w`", p);
    ck_assert_str_eq(nn_error_message(), msg);

    nn_st_tensor reserved[] = {{"__metadata__", &v, 1, shape}};
    ck_assert_int_eq(nn_safetensors_write(p, reserved, 1, NULL, 0), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: a tensor cannot be named `__metadata__` (reserved for metadata)",
             p);
    ck_assert_str_eq(nn_error_message(), msg);

    nn_st_meta m[] = {{"k", "1"}, {"k", "2"}};
    ck_assert_int_eq(nn_safetensors_write(p, NULL, 0, m, 2), NN_ERR_INPUT);
    snprintf(msg, sizeof msg, "%s: metadata key `k` is given twice", p);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_int_eq(count_entries(dir), 0);
}
END_TEST

/* Random damage to a valid file: every result is either a clean open or a
 * one-line NN_ERR_INPUT naming the file; never a crash (ASan watches). */
START_TEST(random_damage_never_crashes)
{
    char p[512], q[512];
    write_small(path_in(p, sizeof p, "good.safetensors"));
    path_in(q, sizeof q, "damaged.safetensors");
    size_t len;
    unsigned char *good = read_bytes(p, &len);
    unsigned char *b = malloc(len);
    uint64_t s = 0x9e3779b97f4a7c15u;
    int opened = 0, refused = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(b, good, len);
        for (int k = 0; k < 1 + iter % 4; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            /* Mostly the header, where the structure is. */
            size_t at = (s >> 8) % (k == 0 && iter % 5 == 0 ? 8 : len);
            b[at] = (unsigned char)(s >> 40);
        }
        size_t cut = iter % 7 == 0 ? (size_t)(s >> 20) % (len + 1) : len;
        write_bytes(q, b, cut);
        nn_safetensors *f = NULL;
        nn_status st = nn_safetensors_open(&f, q);
        if (st == NN_OK) {
            opened++;
            float dst[8];
            for (int i = 0; i < nn_safetensors_count(f); i++) {
                int shape[] = {i == 0 ? 2 : 3};
                nn_safetensors_read(f, nn_safetensors_name(f, i), 1, shape, dst);
            }
            nn_safetensors_close(f);
        } else {
            refused++;
            ck_assert_int_eq(st, NN_ERR_INPUT);
            ck_assert_ptr_null(f);
            ck_assert_int_eq(strncmp(nn_error_message(), q, strlen(q)), 0);
        }
    }
    ck_assert_int_gt(opened, 0);
    ck_assert_int_gt(refused, 0);
    free(b);
    free(good);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_is_bitwise);
    tcase_add_test(tc, layout_follows_the_spec);
    tcase_add_test(tc, truncated_files_are_refused);
    tcase_add_test(tc, huge_header_length_is_refused);
    tcase_add_test(tc, garbage_header_is_refused);
    tcase_add_test(tc, bad_entries_are_refused);
    tcase_add_test(tc, unusual_but_valid_files_open);
    tcase_add_test(tc, read_checks_name_dtype_and_shape);
    tcase_add_test(tc, typed_tensors_round_trip);
    tcase_add_test(tc, write_is_atomic);
    tcase_add_test(tc, writer_refuses_clashing_names);
    tcase_add_test(tc, random_damage_never_crashes);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(safetensors_suite)
