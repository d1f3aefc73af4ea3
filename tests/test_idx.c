/* IDX reading, the MNIST-format loader and the dataset registry.
 *
 * Small IDX files are written into a fresh mkdtemp folder per test (a checked
 * fixture, so it runs inside each forked test); the damaged-file tests assert
 * the message text, since that is what a user sees. The real-data tests read
 * the installed Debian Fashion-MNIST and the shared MNIST test set; their
 * reference numbers were computed with Python's gzip module. */
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "datasets/datasets.h"
#include "datasets/idx.h"
#include "tests/check_main.h"

static char tmpdir[256];

static void setup_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/nnzoo_test_idx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown_tmpdir(void) { nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* tmpdir/name, in a static buffer per call slot so two can be live at once. */
static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
    return buf[slot];
}

static void write_plain(const char *path, const uint8_t *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_gz(const char *path, const uint8_t *bytes, size_t len)
{
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (len) ck_assert_int_eq(gzwrite(f, bytes, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

/* An IDX image in memory: magic 00 00 type ndim, big-endian dims, data.
 * Returns a malloc'd buffer of *len bytes. */
static uint8_t *idx_bytes(int type, int ndim, const uint32_t *dims, const uint8_t *data,
                          size_t data_len, size_t *len)
{
    *len = 4 + 4 * (size_t)ndim + data_len;
    uint8_t *buf = malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    buf[0] = 0, buf[1] = 0, buf[2] = (uint8_t)type, buf[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        buf[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        buf[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        buf[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        buf[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (data_len) memcpy(buf + 4 + 4 * ndim, data, data_len);
    return buf;
}

/* Writes an IDX file of unsigned bytes, gzip'd or plain. */
static void write_idx(const char *path, int gz, int ndim, const uint32_t *dims,
                      const uint8_t *data, size_t data_len)
{
    size_t len;
    uint8_t *buf = idx_bytes(0x08, ndim, dims, data, data_len, &len);
    (gz ? write_gz : write_plain)(path, buf, len);
    free(buf);
}

/* Bytes that deflate cannot shrink much, so a cut or a flipped byte in the
 * .gz lands in the middle of the data. */
static void fill_noise(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

/* Reads path, expecting failure with exactly `want` as the message. */
static void expect_error(const char *path, const char *want)
{
    nn_idx idx;
    nn_error_clear();
    ck_assert_int_eq(nn_idx_read(path, &idx), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), want);
    ck_assert_ptr_null(idx.data);
}

/* Reads path, expecting failure with a message that starts with the path
 * and contains `part`. Returns the message. */
static const char *expect_error_containing(const char *path, const char *part)
{
    nn_idx idx;
    nn_error_clear();
    ck_assert_int_eq(nn_idx_read(path, &idx), NN_ERR_INPUT);
    const char *msg = nn_error_message();
    ck_assert_msg(strncmp(msg, path, strlen(path)) == 0, "message does not name %s: %s", path,
                  msg);
    ck_assert_msg(strstr(msg, part), "message lacks \"%s\": %s", part, msg);
    ck_assert_ptr_null(idx.data);
    return msg;
}

/* ---- nn_idx_read: good files ---- */

START_TEST(test_plain_3d_values)
{
    uint8_t data[2 * 3 * 4];
    for (int i = 0; i < 24; i++) data[i] = (uint8_t)(i * 11);
    const uint32_t dims[3] = {2, 3, 4};
    const char *p = tmp_path("a.idx");
    write_idx(p, 0, 3, dims, data, sizeof data);

    nn_idx idx;
    ck_assert_int_eq(nn_idx_read(p, &idx), NN_OK);
    ck_assert_int_eq(idx.ndim, 3);
    ck_assert_uint_eq(idx.dims[0], 2);
    ck_assert_uint_eq(idx.dims[1], 3);
    ck_assert_uint_eq(idx.dims[2], 4);
    ck_assert_int_eq(idx.size, 24);
    ck_assert_mem_eq(idx.data, data, sizeof data);
    nn_idx_deinit(&idx);
    ck_assert_ptr_null(idx.data);
}
END_TEST

START_TEST(test_gz_1d_and_4d_values)
{
    /* Dimensions above 2^16 check all four big-endian bytes are used. */
    const uint32_t n = 70000;
    uint8_t *labels = malloc(n);
    fill_noise(labels, n, 7);
    const char *p = tmp_path("labels.gz");
    write_idx(p, 1, 1, &n, labels, n);
    nn_idx idx;
    ck_assert_int_eq(nn_idx_read(p, &idx), NN_OK);
    ck_assert_int_eq(idx.ndim, 1);
    ck_assert_uint_eq(idx.dims[0], n);
    ck_assert_int_eq(idx.size, n);
    ck_assert_mem_eq(idx.data, labels, n);
    nn_idx_deinit(&idx);
    free(labels);

    const uint32_t d4[4] = {2, 1, 3, 2};
    const uint8_t v4[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
    p = tmp_path("four.gz");
    write_idx(p, 1, 4, d4, v4, sizeof v4);
    ck_assert_int_eq(nn_idx_read(p, &idx), NN_OK);
    ck_assert_int_eq(idx.ndim, 4);
    ck_assert_uint_eq(idx.dims[3], 2);
    ck_assert_mem_eq(idx.data, v4, sizeof v4);
    nn_idx_deinit(&idx);
}
END_TEST

START_TEST(test_empty_array)
{
    const uint32_t zero = 0;
    const char *p = tmp_path("empty.idx");
    write_idx(p, 0, 1, &zero, NULL, 0);
    nn_idx idx;
    ck_assert_int_eq(nn_idx_read(p, &idx), NN_OK);
    ck_assert_int_eq(idx.size, 0);
    ck_assert_ptr_nonnull(idx.data);
    nn_idx_deinit(&idx);
}
END_TEST

/* ---- nn_idx_read: bad files ---- */

START_TEST(test_missing_file)
{
    char want[600];
    const char *p = tmp_path("nope.gz");
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", p);
    expect_error(p, want);
}
END_TEST

START_TEST(test_directory)
{
    expect_error_containing(tmpdir, ": read error at uncompressed byte 0: Is a directory");
}
END_TEST

START_TEST(test_bad_magic)
{
    char want[600];
    const uint8_t not_idx[8] = {0x01, 0x00, 0x08, 0x03, 0, 0, 0, 1};
    const char *p = tmp_path("magic.idx");
    write_plain(p, not_idx, sizeof not_idx);
    snprintf(want, sizeof want,
             "%s: not an IDX file: magic bytes 01 00 08 03, expected 00 00 <type> <ndim 1..4>", p);
    expect_error(p, want);

    const uint8_t ndim0[4] = {0, 0, 0x08, 0};
    write_plain(p, ndim0, 4);
    expect_error_containing(p, "not an IDX file: magic bytes 00 00 08 00");
    const uint8_t ndim5[4] = {0, 0, 0x08, 5};
    write_gz(p, ndim5, 4);
    expect_error_containing(p, "not an IDX file: magic bytes 00 00 08 05");

    /* A float32 IDX file: valid format, but not one nnzoo reads. */
    size_t len;
    const uint32_t dims[1] = {1};
    const uint8_t four[4] = {0};
    uint8_t *buf = idx_bytes(0x0D, 1, dims, four, 4, &len);
    write_plain(p, buf, len);
    free(buf);
    snprintf(want, sizeof want,
             "%s: IDX element type 0x0d is not supported: nnzoo reads only 0x08 (unsigned bytes)",
             p);
    expect_error(p, want);
}
END_TEST

START_TEST(test_size_limit)
{
    char want[600];
    const char *p = tmp_path("huge.idx");
    /* Only the header is written: the size must be refused before any
     * allocation or read of the data. */
    const uint32_t big[2] = {3, 1u << 30};
    write_idx(p, 0, 2, big, NULL, 0);
    snprintf(want, sizeof want,
             "%s: dimensions 3x1073741824 exceed the 2147483648-byte limit (damaged header?)", p);
    expect_error(p, want);

    /* A product that would wrap 64 bits if multiplied out unchecked. */
    const uint32_t wrap[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    write_idx(p, 1, 4, wrap, NULL, 0);
    snprintf(want, sizeof want,
             "%s: dimensions 4294967295x... exceed the 2147483648-byte limit (damaged header?)", p);
    expect_error(p, want);
}
END_TEST

START_TEST(test_truncated_plain)
{
    uint8_t data[3 * 28 * 28];
    fill_noise(data, sizeof data, 1);
    const uint32_t dims[3] = {3, 28, 28};
    size_t len;
    uint8_t *full = idx_bytes(0x08, 3, dims, data, sizeof data, &len);
    ck_assert_uint_eq(len, 2368);
    const char *p = tmp_path("cut.idx");
    char want[600];

    static const struct {
        size_t cut;
        const char *fmt; /* %s is the path */
    } cases[] = {
        {0, "%s: truncated at byte 0: expected at least 4 bytes (the IDX magic), found 0"},
        {3, "%s: truncated at byte 3: expected at least 4 bytes (the IDX magic), found 3"},
        {4, "%s: truncated at byte 4: expected a 16-byte header (3 dimensions), found 4 bytes"},
        {10, "%s: truncated at byte 10: expected a 16-byte header (3 dimensions), found 10 bytes"},
        {16, "%s: truncated at byte 16: expected 2368 bytes (16-byte header + 3x28x28), found 16"},
        {1000,
         "%s: truncated at byte 1000: expected 2368 bytes (16-byte header + 3x28x28), found 1000"},
        {2367,
         "%s: truncated at byte 2367: expected 2368 bytes (16-byte header + 3x28x28), found 2367"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_plain(p, full, cases[i].cut);
        snprintf(want, sizeof want, cases[i].fmt, p);
        expect_error(p, want);
    }
    free(full);
}
END_TEST

START_TEST(test_truncated_gz)
{
    uint8_t data[3 * 28 * 28];
    fill_noise(data, sizeof data, 2);
    const uint32_t dims[3] = {3, 28, 28};
    const char *whole = tmp_path("whole.gz");
    write_idx(whole, 1, 3, dims, data, sizeof data);
    size_t len;
    uint8_t *gz = slurp(whole, &len);
    ck_assert_uint_gt(len, 2000); /* noise barely compresses */

    /* Cuts in the gzip header, in the deflate data, and in the 8-byte
     * trailer (CRC32 + size) after all the data. */
    const size_t cuts[] = {1, 2, 5, 10, 12, 40, len / 2, len - 9, len - 8, len - 4, len - 1};
    const char *p = tmp_path("cut.gz");
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_plain(p, gz, cuts[i]);
        const char *msg = expect_error_containing(p, "truncated");
        if (cuts[i] >= 40 && cuts[i] <= len / 2) {
            /* Mid-data: the exact form, with the offset zlib reached. */
            long at;
            char tail[200];
            char fmt[600];
            snprintf(fmt, sizeof fmt, "%s: truncated at byte %%ld: expected 2368 bytes %%199[^\n]",
                     p);
            ck_assert_int_eq(sscanf(msg, fmt, &at, tail), 2);
            ck_assert_int_lt(at, 2368);
            snprintf(fmt, sizeof fmt, "(16-byte header + 3x28x28), found %ld (the gzip stream ends early)", at);
            ck_assert_str_eq(tail, fmt);
        }
        if (cuts[i] >= len - 8 && cuts[i] < len) {
            char want[600];
            snprintf(want, sizeof want,
                     "%s: truncated gzip stream: all 2368 data bytes were read but the gzip "
                     "trailer (checksum) is missing",
                     p);
            ck_assert_str_eq(msg, want);
        }
    }
    free(gz);
}
END_TEST

START_TEST(test_corrupt_gz)
{
    uint8_t data[3 * 28 * 28];
    fill_noise(data, sizeof data, 3);
    const uint32_t dims[3] = {3, 28, 28};
    const char *whole = tmp_path("whole.gz");
    write_idx(whole, 1, 3, dims, data, sizeof data);
    size_t len;
    uint8_t *gz = slurp(whole, &len);
    const char *p = tmp_path("bad.gz");

    /* Damage in the deflate data: inflate or the CRC catches it. */
    const size_t spots[] = {len / 3, len / 2, len - 20};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        gz[spots[i]] ^= 0x5A;
        write_plain(p, gz, len);
        gz[spots[i]] ^= 0x5A;
        expect_error_containing(p, ": corrupt gzip stream: ");
    }
    /* Damage in the stored CRC alone: all data decodes, the check fails. */
    gz[len - 7] ^= 0x01;
    write_plain(p, gz, len);
    expect_error_containing(p, ": corrupt gzip stream: incorrect data check (zlib stopped at uncompressed byte ");
    free(gz);
}
END_TEST

START_TEST(test_trailing_bytes)
{
    uint8_t data[3 * 28 * 28 + 5];
    fill_noise(data, sizeof data, 4);
    const uint32_t dims[3] = {3, 28, 28};
    char want[600];
    for (int gz = 0; gz <= 1; gz++) {
        const char *p = tmp_path(gz ? "extra.gz" : "extra.idx");
        write_idx(p, gz, 3, dims, data, sizeof data);
        snprintf(want, sizeof want,
                 "%s: 5 unexpected bytes after byte 2368: expected exactly 2368 bytes "
                 "(16-byte header + 3x28x28)",
                 p);
        expect_error(p, want);
    }
}
END_TEST

/* ---- the MNIST-format loader ---- */

/* Writes one split of a fake MNIST-format folder: n images whose pixels are
 * (image index + pixel index) mod 256, and the given labels. */
static void write_split(const char *prefix, uint32_t n, const uint8_t *labels, uint32_t n_labels)
{
    char name[64];
    uint8_t *px = malloc((size_t)n * 784 + 1);
    for (size_t i = 0; i < (size_t)n * 784; i++) px[i] = (uint8_t)(i / 784 + i % 784);
    const uint32_t dims[3] = {n, 28, 28};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    write_idx(tmp_path(name), 1, 3, dims, px, (size_t)n * 784);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    write_idx(tmp_path(name), 1, 1, &n_labels, labels, n_labels);
    free(px);
}

static const uint8_t train_labels[3] = {4, 0, 9};
static const uint8_t test_labels[2] = {1, 8};

/* Loads tmpdir as Fashion-MNIST expecting failure; returns the message. */
static const char *load_fails(void)
{
    nn_image_split tr, te;
    nn_error_clear();
    ck_assert_int_eq(nn_dataset_fashion_mnist.load(&tr, &te, tmpdir), NN_ERR_INPUT);
    ck_assert_ptr_null(tr.pixels);
    ck_assert_ptr_null(te.labels);
    return nn_error_message();
}

START_TEST(test_mnist_format_ok)
{
    write_split("train", 3, train_labels, 3);
    write_split("t10k", 2, test_labels, 2);
    nn_image_split tr, te;
    ck_assert_int_eq(nn_dataset_fashion_mnist.load(&tr, &te, tmpdir), NN_OK);
    ck_assert_int_eq(tr.count, 3);
    ck_assert_int_eq(te.count, 2);
    ck_assert_int_eq(tr.channels, 1);
    ck_assert_int_eq(tr.height, 28);
    ck_assert_int_eq(tr.width, 28);
    ck_assert_int_eq(tr.num_classes, 10);
    /* What the definition promises without reading files matches the load. */
    ck_assert_int_eq(nn_dataset_fashion_mnist.channels, tr.channels);
    ck_assert_int_eq(nn_dataset_fashion_mnist.height, tr.height);
    ck_assert_int_eq(nn_dataset_fashion_mnist.width, tr.width);
    ck_assert_int_eq(nn_dataset_fashion_mnist.num_classes, tr.num_classes);
    ck_assert_int_eq(nn_dataset_mnist.num_classes, tr.num_classes);
    ck_assert_int_eq(te.num_classes, 10);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(tr.labels[i], train_labels[i]);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(te.labels[i], test_labels[i]);
    ck_assert_uint_eq(tr.pixels[2 * 784 + 5], 7);
    ck_assert_uint_eq(te.pixels[784 + 783], (783 + 1) % 256);
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
    ck_assert_ptr_null(tr.pixels);
    nn_image_split_deinit(&tr); /* twice is harmless */
}
END_TEST

START_TEST(test_mnist_format_label_out_of_range)
{
    const uint8_t bad[3] = {4, 10, 9};
    write_split("train", 3, bad, 3);
    write_split("t10k", 2, test_labels, 2);
    char want[600];
    snprintf(want, sizeof want,
             "fashion_mnist: %s: label 10 at index 1, expected 0..9",
             tmp_path("train-labels-idx1-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);

    /* The test split is checked too. */
    const uint8_t bad_test[2] = {1, 255};
    write_split("train", 3, train_labels, 3);
    write_split("t10k", 2, bad_test, 2);
    snprintf(want, sizeof want, "fashion_mnist: %s: label 255 at index 1, expected 0..9",
             tmp_path("t10k-labels-idx1-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);
}
END_TEST

START_TEST(test_mnist_format_shapes)
{
    char want[900];
    write_split("train", 3, train_labels, 2);
    write_split("t10k", 2, test_labels, 2);
    snprintf(want, sizeof want, "fashion_mnist: %s has 2 labels but %s has 3 images",
             tmp_path("train-labels-idx1-ubyte.gz"), tmp_path("train-images-idx3-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);

    /* Images that are not N x 28 x 28. */
    write_split("train", 3, train_labels, 3);
    uint8_t px[2 * 28 * 28] = {0};
    const uint32_t d3[3] = {2, 28, 27};
    write_idx(tmp_path("t10k-images-idx3-ubyte.gz"), 1, 3, d3, px, 2 * 28 * 27);
    snprintf(want, sizeof want, "fashion_mnist: %s: expected images of shape Nx28x28, found 2x28x27",
             tmp_path("t10k-images-idx3-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);
    const uint32_t d2[2] = {2, 784};
    write_idx(tmp_path("t10k-images-idx3-ubyte.gz"), 1, 2, d2, px, 2 * 784);
    snprintf(want, sizeof want, "fashion_mnist: %s: expected images of shape Nx28x28, found 2x784",
             tmp_path("t10k-images-idx3-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);

    /* Labels that are not 1-D. */
    write_split("t10k", 2, test_labels, 2);
    const uint32_t l2[2] = {2, 1};
    write_idx(tmp_path("t10k-labels-idx1-ubyte.gz"), 1, 2, l2, test_labels, 2);
    snprintf(want, sizeof want,
             "fashion_mnist: %s: expected a 1-D array of labels, found 2 dimensions",
             tmp_path("t10k-labels-idx1-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);
}
END_TEST

START_TEST(test_mnist_format_missing)
{
    char want[900];
    snprintf(want, sizeof want,
             "fashion_mnist: %s: cannot open: No such file or directory (install "
             "dataset-fashion-mnist, or set data.root or NNZOO_DATA)",
             tmp_path("train-images-idx3-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);

    /* Only the test split missing: the message names its file. */
    write_split("train", 3, train_labels, 3);
    snprintf(want, sizeof want,
             "fashion_mnist: %s: cannot open: No such file or directory (install "
             "dataset-fashion-mnist, or set data.root or NNZOO_DATA)",
             tmp_path("t10k-images-idx3-ubyte.gz"));
    ck_assert_str_eq(load_fails(), want);

    /* MNIST has no package; its hint points at the fetch script. */
    nn_image_split tr, te;
    ck_assert_int_eq(nn_dataset_mnist.load(&tr, &te, tmpdir), NN_ERR_INPUT);
    snprintf(want, sizeof want,
             "mnist: %s: cannot open: No such file or directory (run datasets/fetch.sh mnist, "
             "or set data.root or NNZOO_DATA)",
             tmp_path("t10k-images-idx3-ubyte.gz"));
    ck_assert_str_eq(nn_error_message(), want);
}
END_TEST

START_TEST(test_mnist_format_damaged_file)
{
    /* A damaged (not missing) file keeps the reader's message, prefixed,
     * without the install hint. */
    write_split("train", 3, train_labels, 3);
    write_split("t10k", 2, test_labels, 2);
    const char *p = tmp_path("t10k-labels-idx1-ubyte.gz");
    const uint8_t junk[3] = {0, 0, 8};
    write_plain(p, junk, sizeof junk);
    char want[900];
    snprintf(want, sizeof want,
             "fashion_mnist: %s: truncated at byte 3: expected at least 4 bytes (the IDX magic), "
             "found 3",
             p);
    ck_assert_str_eq(load_fails(), want);
}
END_TEST

/* ---- the registry ---- */

START_TEST(test_find)
{
    ck_assert_ptr_eq(nn_dataset_find("fashion_mnist"), &nn_dataset_fashion_mnist);
    ck_assert_ptr_eq(nn_dataset_find("mnist"), &nn_dataset_mnist);
    ck_assert_ptr_null(nn_dataset_find("fashion-mnist"));
    ck_assert_ptr_null(nn_dataset_find(""));
    int n = 0;
    for (const nn_dataset_def *const *d = nn_datasets; *d; d++, n++) {
        ck_assert_ptr_nonnull((*d)->load);
        ck_assert_ptr_nonnull((*d)->folder);
        ck_assert_ptr_eq(nn_dataset_find((*d)->name), *d); /* names are unique */
        /* Image folders find their image sizes and classes in the files. */
        if ((*d)->list_classes) continue;
        ck_assert_int_gt((*d)->channels * (*d)->height * (*d)->width, 0);
        ck_assert_int_gt((*d)->num_classes, 1);
    }
    ck_assert_int_ge(n, 2);
}
END_TEST

START_TEST(test_resolve_root_order)
{
    char out[256];
    const nn_dataset_def *fm = &nn_dataset_fashion_mnist;
    unsetenv("NNZOO_DATA");
    ck_assert_int_eq(nn_dataset_resolve_root(fm, NULL, out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/usr/share/datasets/fashion-mnist");
    ck_assert_int_eq(nn_dataset_resolve_root(fm, "", out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/usr/share/datasets/fashion-mnist");
    ck_assert_int_eq(nn_dataset_resolve_root(fm, "/cfg/fm", out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/cfg/fm");

    setenv("NNZOO_DATA", "/data", 1);
    ck_assert_int_eq(nn_dataset_resolve_root(fm, NULL, out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/data/fashion-mnist");
    ck_assert_int_eq(nn_dataset_resolve_root(&nn_dataset_mnist, "", out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/data/mnist");
    ck_assert_int_eq(nn_dataset_resolve_root(fm, "/cfg/fm", out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/cfg/fm"); /* data.root beats NNZOO_DATA */

    setenv("NNZOO_DATA", "", 1); /* set but empty counts as unset */
    ck_assert_int_eq(nn_dataset_resolve_root(fm, NULL, out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/usr/share/datasets/fashion-mnist");

    unsetenv("NNZOO_DATA");
    nn_error_clear();
    ck_assert_int_eq(nn_dataset_resolve_root(&nn_dataset_mnist, NULL, out, sizeof out),
                     NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "mnist: no data folder: set data.root in the config, or NNZOO_DATA so that "
                     "nnzoo reads $NNZOO_DATA/mnist (datasets/README.md says where to get it)");

    char small[8];
    ck_assert_int_eq(nn_dataset_resolve_root(fm, NULL, small, sizeof small), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(),
                     "fashion_mnist: data folder path is longer than 7 bytes: "
                     "/usr/share/datasets/fashion-mnist");
}
END_TEST

/* ---- real data ---- */

static int64_t sum_bytes(const uint8_t *p, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += p[i];
    return s;
}

START_TEST(test_real_fashion_mnist)
{
    const char *root = nn_dataset_fashion_mnist.default_root;
    char probe[512];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", root);
    if (access(probe, R_OK) != 0) {
        printf("SKIPPED: test_real_fashion_mnist: %s not found (apt install "
               "dataset-fashion-mnist)\n",
               probe);
        return;
    }
    nn_image_split tr, te;
    ck_assert_msg(nn_dataset_fashion_mnist.load(&tr, &te, root) == NN_OK, "%s",
                  nn_error_message());
    ck_assert_int_eq(tr.count, 60000);
    ck_assert_int_eq(te.count, 10000);

    const int32_t first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    const int32_t first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(tr.labels[i], first_train[i]);
        ck_assert_int_eq(te.labels[i], first_test[i]);
    }
    /* Fashion-MNIST is balanced: 6000 / 1000 per class. */
    int64_t per_class[2][10] = {{0}};
    for (int64_t i = 0; i < tr.count; i++) per_class[0][tr.labels[i]]++;
    for (int64_t i = 0; i < te.count; i++) per_class[1][te.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        ck_assert_int_eq(per_class[0][c], 6000);
        ck_assert_int_eq(per_class[1][c], 1000);
    }

    const int64_t px = 784;
    ck_assert_int_eq(sum_bytes(tr.pixels, tr.count * px), 3431114169LL);
    ck_assert_int_eq(sum_bytes(tr.pixels, px), 76247);
    ck_assert_int_eq(sum_bytes(tr.pixels + (tr.count - 1) * px, px), 16684);
    ck_assert_uint_eq(tr.pixels[14 * 28 + 14], 217);
    ck_assert_int_eq(sum_bytes(te.pixels, te.count * px), 573469082LL);
    ck_assert_int_eq(sum_bytes(te.pixels, px), 33456);
    ck_assert_uint_eq(te.pixels[14 * 28 + 14], 110);

    /* The registered normalization matches the training pixels. */
    double mean = (double)sum_bytes(tr.pixels, tr.count * px) / (double)(tr.count * px) / 255.0;
    ck_assert_double_eq_tol(mean, nn_dataset_fashion_mnist.mean, 1e-4);

    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
}
END_TEST

START_TEST(test_real_mnist_test_set)
{
    /* Only MNIST's test set is available in the shared folder (no training
     * images), so this reads the IDX files directly. */
    const char *img = "/work/shared/datasets/mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/work/shared/datasets/mnist/t10k-labels-idx1-ubyte.gz";
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) {
        printf("SKIPPED: test_real_mnist_test_set: %s not found\n", img);
        return;
    }
    nn_idx images, labels;
    ck_assert_msg(nn_idx_read(img, &images) == NN_OK, "%s", nn_error_message());
    ck_assert_msg(nn_idx_read(lab, &labels) == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(images.ndim, 3);
    ck_assert_uint_eq(images.dims[0], 10000);
    ck_assert_uint_eq(images.dims[1], 28);
    ck_assert_uint_eq(images.dims[2], 28);
    ck_assert_int_eq(sum_bytes(images.data, images.size), 264923200LL);
    ck_assert_int_eq(sum_bytes(images.data, 784), 18454);
    ck_assert_int_eq(labels.ndim, 1);
    ck_assert_int_eq(labels.size, 10000);
    const uint8_t first[5] = {7, 2, 1, 0, 4};
    ck_assert_mem_eq(labels.data, first, 5);
    ck_assert_int_eq(sum_bytes(labels.data, labels.size), 44434);
    nn_idx_deinit(&images);
    nn_idx_deinit(&labels);
}
END_TEST

static Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");

    TCase *tc = tcase_create("idx_read");
    tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
    tcase_add_test(tc, test_plain_3d_values);
    tcase_add_test(tc, test_gz_1d_and_4d_values);
    tcase_add_test(tc, test_empty_array);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_directory);
    tcase_add_test(tc, test_bad_magic);
    tcase_add_test(tc, test_size_limit);
    tcase_add_test(tc, test_truncated_plain);
    tcase_add_test(tc, test_truncated_gz);
    tcase_add_test(tc, test_corrupt_gz);
    tcase_add_test(tc, test_trailing_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("mnist_format");
    tcase_add_checked_fixture(tc, setup_tmpdir, teardown_tmpdir);
    tcase_add_test(tc, test_mnist_format_ok);
    tcase_add_test(tc, test_mnist_format_label_out_of_range);
    tcase_add_test(tc, test_mnist_format_shapes);
    tcase_add_test(tc, test_mnist_format_missing);
    tcase_add_test(tc, test_mnist_format_damaged_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("registry");
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_resolve_root_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("real_data");
    tcase_set_timeout(tc, 120); /* 26 MB of gzip under the sanitizers */
    tcase_add_test(tc, test_real_fashion_mnist);
    tcase_add_test(tc, test_real_mnist_test_set);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(idx_suite)
