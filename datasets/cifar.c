/* CIFAR-10 and CIFAR-100, binary version: files of fixed-length records,
 * each a label (CIFAR-10: one byte; CIFAR-100: two, coarse then fine) and
 * 3072 pixel bytes, the 1024 red, then green, then blue values of a 32x32
 * image in row-major order, which is already nnzoo's CHW layout.
 *
 *   CIFAR-10   data_batch_1.bin .. data_batch_5.bin (10000 records each)
 *              and test_batch.bin (10000)
 *   CIFAR-100  train.bin (50000) and test.bin (10000); the fine label
 *              (100 classes) is used.
 *
 * Every file must have exactly its number of records: a shorter or longer
 * one is named with the byte offset where it goes wrong. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/datasets.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
/* Records read per fread. */
#define CIFAR_CHUNK 256

typedef struct cifar_layout {
    const char *name;
    int label_bytes;          /* bytes of label before the pixels */
    int label_index;          /* which of them is the label used */
    int num_classes;
    const char *const *train_files;
    int n_train_files;
    int64_t train_records;    /* per training file */
    const char *test_file;
    int64_t test_records;
    const char *missing_hint;
} cifar_layout;

/* Reads `records` records of root/file into pixels and labels. */
static nn_status read_file(const cifar_layout *c, const char *root, const char *file, int64_t records,
                           uint8_t *pixels, int32_t *labels)
{
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/%s", root, file);
    if (len < 0 || (size_t)len >= sizeof path)
        return nn_error(NN_ERR_INPUT, "%s: data folder path is too long: %s", c->name, root);
    const int64_t rec = c->label_bytes + CIFAR_PIXELS;
    const int64_t expected = records * rec;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        return nn_error(NN_ERR_INPUT, "%s: %s: cannot open: %s%s%s", c->name, path, strerror(errno),
                        missing ? " " : "", missing ? c->missing_hint : "");
    }
    char what[160];
    snprintf(what, sizeof what, "%" PRId64 " records of %" PRId64 " bytes: %d label byte%s + 3x32x32 pixels",
             records, rec, c->label_bytes, c->label_bytes > 1 ? "s" : "");
    nn_status st = NN_OK;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = nn_error(NN_ERR_INPUT, "%s: %s: cannot read: %s", c->name, path, strerror(errno));
    } else if (sb.st_size < expected) {
        st = nn_error(NN_ERR_INPUT, "%s: %s: truncated at byte %lld: expected %" PRId64 " bytes (%s)", c->name,
                      path, (long long)sb.st_size, expected, what);
    } else if (sb.st_size > expected) {
        st = nn_error(NN_ERR_INPUT, "%s: %s: %lld unexpected bytes after byte %" PRId64 ": expected exactly %" PRId64
                      " bytes (%s)",
                      c->name, path, (long long)(sb.st_size - expected), expected, expected, what);
    }
    uint8_t *chunk = st == NN_OK ? malloc((size_t)(CIFAR_CHUNK * rec)) : NULL;
    if (st == NN_OK && !chunk) st = nn_error(NN_ERR_RUNTIME, "%s: out of memory", c->name);
    for (int64_t done = 0; st == NN_OK && done < records;) {
        const int64_t want = records - done < CIFAR_CHUNK ? records - done : CIFAR_CHUNK;
        const size_t got = fread(chunk, 1, (size_t)(want * rec), f);
        if (got < (size_t)(want * rec)) {
            /* The size was right a moment ago: the file changed, or a read failed. */
            st = ferror(f) ? nn_error(NN_ERR_INPUT, "%s: %s: read error at byte %" PRId64 ": %s", c->name, path,
                                      done * rec + (int64_t)got, strerror(errno))
                           : nn_error(NN_ERR_INPUT, "%s: %s: truncated at byte %" PRId64 ": expected %" PRId64 " bytes (%s)",
                                      c->name, path, done * rec + (int64_t)got, expected, what);
            break;
        }
        for (int64_t i = 0; i < want; i++) {
            const uint8_t *r = chunk + i * rec;
            const int label = r[c->label_index];
            if (label >= c->num_classes) {
                st = nn_error(NN_ERR_INPUT, "%s: %s: label %d in record %" PRId64 " (byte %" PRId64 "), expected 0..%d",
                              c->name, path, label, done + i, (done + i) * rec + c->label_index, c->num_classes - 1);
                break;
            }
            labels[done + i] = label;
            memcpy(pixels + (done + i) * CIFAR_PIXELS, r + c->label_bytes, CIFAR_PIXELS);
        }
        done += want;
    }
    free(chunk);
    fclose(f);
    return st;
}

/* Reads files[0..n) of `records` each, one after another, into s. */
static nn_status load_split(const cifar_layout *c, const char *root, const char *const *files, int n,
                            int64_t records, nn_image_split *s)
{
    const int64_t count = n * records;
    *s = (nn_image_split){.count = count, .channels = 3, .height = CIFAR_SIDE, .width = CIFAR_SIDE,
                          .num_classes = c->num_classes};
    s->pixels = malloc((size_t)(count * CIFAR_PIXELS));
    s->labels = malloc(sizeof(int32_t) * (size_t)count);
    if (!s->pixels || !s->labels)
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory for %" PRId64 " images", c->name, count);
    for (int i = 0; i < n; i++)
        NN_TRY(read_file(c, root, files[i], records, s->pixels + i * records * CIFAR_PIXELS,
                         s->labels + i * records));
    return NN_OK;
}

static nn_status load_layout(const cifar_layout *c, nn_image_split *train, nn_image_split *test,
                             const char *root)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    nn_status st = load_split(c, root, c->train_files, c->n_train_files, c->train_records, train);
    if (st == NN_OK) st = load_split(c, root, &c->test_file, 1, c->test_records, test);
    if (st != NN_OK) {
        nn_image_split_deinit(train);
        nn_image_split_deinit(test);
    }
    return st;
}

static const char *const cifar10_train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                            "data_batch_4.bin", "data_batch_5.bin"};
static const char *const cifar100_train[] = {"train.bin"};

static nn_status load_cifar10(nn_image_split *train, nn_image_split *test, const char *root)
{
    static const cifar_layout c = {"cifar10", 1, 0, 10, cifar10_train, 5, 10000, "test_batch.bin", 10000,
                                   "(run datasets/fetch.sh cifar10, or set data.root or NNZOO_DATA)"};
    return load_layout(&c, train, test, root);
}

static nn_status load_cifar100(nn_image_split *train, nn_image_split *test, const char *root)
{
    static const cifar_layout c = {"cifar100", 2, 1, 100, cifar100_train, 1, 50000, "test.bin", 10000,
                                   "(run datasets/fetch.sh cifar100, or set data.root or NNZOO_DATA)"};
    return load_layout(&c, train, test, root);
}

/* The names in batches.meta.txt and fine_label_names.txt, in label order. */
static const char *const cifar10_classes[] = {"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck", NULL};
static const char *const cifar100_classes[] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm", NULL};
_Static_assert(sizeof cifar10_classes / sizeof cifar10_classes[0] == 11, "10 CIFAR-10 classes");
_Static_assert(sizeof cifar100_classes / sizeof cifar100_classes[0] == 101, "100 CIFAR-100 classes");

const nn_dataset_def nn_dataset_cifar10 = {
    .name = "cifar10",
    .summary = "CIFAR-10: 50000/10000 colour 32x32 images, 10 classes (binary version)",
    .rgb_mean = {0.4914f, 0.4822f, 0.4465f},
    .rgb_std = {0.2470f, 0.2435f, 0.2616f},
    .load = load_cifar10,
    .default_root = NULL,
    .folder = "cifar-10-batches-bin",
    .channels = 3,
    .height = CIFAR_SIDE,
    .width = CIFAR_SIDE,
    .num_classes = 10,
    .class_names = cifar10_classes,
};

/* CIFAR-100: the per-channel statistics of the training set as commonly
 * published (not recomputed here: the files are not on the build machine). */
const nn_dataset_def nn_dataset_cifar100 = {
    .name = "cifar100",
    .summary = "CIFAR-100: 50000/10000 colour 32x32 images, 100 fine classes (binary version)",
    .rgb_mean = {0.5071f, 0.4865f, 0.4409f},
    .rgb_std = {0.2673f, 0.2564f, 0.2762f},
    .load = load_cifar100,
    .default_root = NULL,
    .folder = "cifar-100-binary",
    .channels = 3,
    .height = CIFAR_SIDE,
    .width = CIFAR_SIDE,
    .num_classes = 100,
    .class_names = cifar100_classes,
};
