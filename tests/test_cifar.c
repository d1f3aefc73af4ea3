/* CIFAR-10 and CIFAR-100 binary files: records read back (label and the
 * R, G, B planes in place), the five CIFAR-10 batches in order, the fine
 * label of CIFAR-100, and each damaged file named with its byte offset.
 *
 * The files are made here in the exact layout and at full size, but
 * sparse: ftruncate gives 10000 all-zero records (label 0, black) and
 * pwrite puts a few known records in them, so a suite of 370 MB of files
 * takes no disk and well under a second. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "datasets/datasets.h"

#define PIXELS 3072

static char dir[256];

/* Pixel (c, y, x) of a known record: depends on all of them and on `seed`. */
static uint8_t pixel(int seed, int c, int y, int x) { return (uint8_t)(seed * 7 + c * 101 + y * 13 + x * 3); }

static void make_file(const char *name, int64_t records, int label_bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(ftruncate(fd, records * (label_bytes + PIXELS)), 0);
    close(fd);
}

/* Writes record r of `name`: labels, then the pixel planes of `seed`. */
static void put_record(const char *name, int64_t r, int label_bytes, const uint8_t *labels, int seed)
{
    char path[512];
    uint8_t rec[2 + PIXELS];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memcpy(rec, labels, (size_t)label_bytes);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) rec[label_bytes + c * 1024 + y * 32 + x] = pixel(seed, c, y, x);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, rec, (size_t)(label_bytes + PIXELS), r * (label_bytes + PIXELS)), label_bytes + PIXELS);
    close(fd);
}

static void resize_file(const char *name, int64_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(truncate(path, size), 0);
}

static void check_image(const nn_image_split *s, int64_t i, int seed)
{
    const uint8_t *px = s->pixels + i * PIXELS;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) ck_assert_int_eq(px[c * 1024 + y * 32 + x], pixel(seed, c, y, x));
}

static void cifar10_files(void)
{
    snprintf(dir, sizeof dir, "/tmp/nnzoo_test_cifar_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char name[32];
    for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        make_file(name, 10000, 1);
    }
    make_file("test_batch.bin", 10000, 1);
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void expect_error(const nn_dataset_def *d, const char *message_fmt, const char *file)
{
    nn_image_split tr, te;
    char want[1024];
    snprintf(want, sizeof want, message_fmt, dir, file);
    ck_assert_int_eq(d->load(&tr, &te, dir), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), want);
    ck_assert_ptr_null(tr.pixels); /* nothing is left allocated */
    ck_assert_ptr_null(te.labels);
}

START_TEST(cifar10_records_read_back)
{
    cifar10_files();
    const uint8_t seven = 7, nine = 9, three = 3;
    put_record("data_batch_1.bin", 0, 1, &seven, 1);
    put_record("data_batch_3.bin", 9999, 1, &nine, 2);
    put_record("data_batch_5.bin", 1234, 1, &three, 3);
    put_record("test_batch.bin", 42, 1, &nine, 4);
    nn_image_split tr, te;
    ck_assert_int_eq(nn_dataset_cifar10.load(&tr, &te, dir), NN_OK);
    ck_assert_int_eq(tr.count, 50000);
    ck_assert_int_eq(te.count, 10000);
    ck_assert(tr.channels == 3 && tr.height == 32 && tr.width == 32 && tr.num_classes == 10);
    ck_assert_int_eq(tr.labels[0], 7);
    check_image(&tr, 0, 1);
    ck_assert_int_eq(tr.labels[29999], 9); /* batch 3, last record */
    check_image(&tr, 29999, 2);
    ck_assert_int_eq(tr.labels[41234], 3);
    check_image(&tr, 41234, 3);
    ck_assert_int_eq(te.labels[42], 9);
    check_image(&te, 42, 4);
    /* The sparse rest: label 0, black. */
    ck_assert_int_eq(tr.labels[1], 0);
    ck_assert_int_eq(tr.pixels[PIXELS + 5], 0);
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
    remove_dir();
}
END_TEST

START_TEST(cifar10_damaged_files)
{
    cifar10_files();
    const int64_t size = 10000 * 3073;
    resize_file("data_batch_3.bin", size - 100);
    expect_error(&nn_dataset_cifar10,
                 "cifar10: %s/%s: truncated at byte 30729900: expected 30730000 bytes (10000 records of 3073 "
                 "bytes: 1 label byte + 3x32x32 pixels)",
                 "data_batch_3.bin");
    resize_file("data_batch_3.bin", size);
    resize_file("test_batch.bin", size + 5);
    expect_error(&nn_dataset_cifar10,
                 "cifar10: %s/%s: 5 unexpected bytes after byte 30730000: expected exactly 30730000 bytes "
                 "(10000 records of 3073 bytes: 1 label byte + 3x32x32 pixels)",
                 "test_batch.bin");
    resize_file("test_batch.bin", size);
    const uint8_t ten = 10;
    put_record("data_batch_2.bin", 7, 1, &ten, 5);
    expect_error(&nn_dataset_cifar10, "cifar10: %s/%s: label 10 in record 7 (byte 21511), expected 0..9",
                 "data_batch_2.bin");
    char path[512];
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    ck_assert_int_eq(unlink(path), 0);
    const uint8_t zero = 0;
    put_record("data_batch_2.bin", 7, 1, &zero, 5);
    expect_error(&nn_dataset_cifar10,
                 "cifar10: %s/%s: cannot open: No such file or directory (run datasets/fetch.sh cifar10, or set "
                 "data.root or NNZOO_DATA)",
                 "data_batch_4.bin");
    remove_dir();
}
END_TEST

START_TEST(cifar100_fine_labels)
{
    snprintf(dir, sizeof dir, "/tmp/nnzoo_test_cifar_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    make_file("train.bin", 50000, 2);
    make_file("test.bin", 10000, 2);
    const uint8_t a[2] = {19, 42}, b[2] = {3, 99};
    put_record("train.bin", 49999, 2, a, 6);
    put_record("test.bin", 0, 2, b, 7);
    nn_image_split tr, te;
    ck_assert_int_eq(nn_dataset_cifar100.load(&tr, &te, dir), NN_OK);
    ck_assert(tr.count == 50000 && te.count == 10000 && tr.num_classes == 100);
    ck_assert_int_eq(tr.labels[49999], 42); /* the fine label, not the coarse 19 */
    check_image(&tr, 49999, 6);
    ck_assert_int_eq(te.labels[0], 99);
    check_image(&te, 0, 7);
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
    const uint8_t bad[2] = {0, 100};
    put_record("test.bin", 3, 2, bad, 8);
    expect_error(&nn_dataset_cifar100, "cifar100: %s/%s: label 100 in record 3 (byte 9223), expected 0..99", "test.bin");
    resize_file("train.bin", 50000 * 3074 - 3074 - 1);
    expect_error(&nn_dataset_cifar100,
                 "cifar100: %s/%s: truncated at byte 153696925: expected 153700000 bytes (50000 records of 3074 "
                 "bytes: 2 label bytes + 3x32x32 pixels)",
                 "train.bin");
    remove_dir();
}
END_TEST

START_TEST(registered_with_names_and_folders)
{
    ck_assert_ptr_eq(nn_dataset_find("cifar10"), &nn_dataset_cifar10);
    ck_assert_ptr_eq(nn_dataset_find("cifar100"), &nn_dataset_cifar100);
    ck_assert_str_eq(nn_dataset_cifar10.folder, "cifar-10-batches-bin");
    ck_assert_str_eq(nn_dataset_cifar100.folder, "cifar-100-binary");
    int n = 0;
    while (nn_dataset_cifar10.class_names[n]) n++;
    ck_assert_int_eq(n, 10);
    ck_assert_str_eq(nn_dataset_cifar10.class_names[0], "airplane");
    ck_assert_str_eq(nn_dataset_cifar10.class_names[9], "truck");
    for (n = 0; nn_dataset_cifar100.class_names[n];) n++;
    ck_assert_int_eq(n, 100);
    ck_assert_str_eq(nn_dataset_cifar100.class_names[99], "worm");
    ck_assert_float_eq(nn_dataset_cifar10.rgb_mean[0], 0.4914f);
    ck_assert_float_eq(nn_dataset_cifar10.rgb_std[2], 0.2616f);
    /* data.root / NNZOO_DATA: the archive's own folder name. */
    char out[256];
    setenv("NNZOO_DATA", "/data", 1);
    ck_assert_int_eq(nn_dataset_resolve_root(&nn_dataset_cifar10, NULL, out, sizeof out), NN_OK);
    ck_assert_str_eq(out, "/data/cifar-10-batches-bin");
    unsetenv("NNZOO_DATA");
    ck_assert_int_eq(nn_dataset_resolve_root(&nn_dataset_cifar10, NULL, out, sizeof out), NN_ERR_INPUT);
}
END_TEST

static Suite *cifar_suite(void)
{
    Suite *s = suite_create("cifar");
    TCase *tc = tcase_create("cifar");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cifar10_records_read_back);
    tcase_add_test(tc, cifar10_damaged_files);
    tcase_add_test(tc, cifar100_fine_labels);
    tcase_add_test(tc, registered_with_names_and_folders);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(cifar_suite)
