/* Datasets stored the way MNIST is: four gzip'd IDX files in one folder,
 * 1x28x28 unsigned-byte images and one-byte labels 0..9. MNIST and
 * Fashion-MNIST share this layout (Fashion-MNIST was made as a drop-in
 * replacement), so one reader serves both. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/datasets.h"
#include "datasets/idx.h"

#define MNIST_SIDE 28
#define MNIST_CLASSES 10

/* What a family adds to a generic message: its name as the prefix, and how
 * to get the files when they are missing. */
typedef struct mnist_family {
    const char *name;
    const char *missing_hint;
} mnist_family;

/* Reads one IDX file, prefixing any error with the dataset name and adding
 * the family's hint when the file does not exist. */
static nn_status read_file(const mnist_family *fam, const char *root, const char *file,
                           char *path, size_t path_size, nn_idx *out)
{
    int n = snprintf(path, path_size, "%s/%s", root, file);
    if (n < 0 || (size_t)n >= path_size)
        return nn_error(NN_ERR_INPUT, "%s: data folder path is too long: %s", fam->name, root);
    nn_status st = nn_idx_read(path, out);
    if (st == NN_OK) return NN_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", nn_error_message());
    struct stat sb;
    int missing = stat(path, &sb) != 0 && errno == ENOENT;
    return nn_error(st, "%s: %s%s%s", fam->name, msg, missing ? " " : "",
                    missing ? fam->missing_hint : "");
}

/* Reads one split (prefix "train" or "t10k") into s. */
static nn_status load_split(const mnist_family *fam, const char *root, const char *prefix,
                            nn_image_split *s)
{
    char file[64], img_path[4096], lab_path[4096];
    nn_idx images = {0}, labels = {0};
    nn_status st;

    snprintf(file, sizeof file, "%s-images-idx3-ubyte.gz", prefix);
    if ((st = read_file(fam, root, file, img_path, sizeof img_path, &images)) != NN_OK)
        goto done;
    snprintf(file, sizeof file, "%s-labels-idx1-ubyte.gz", prefix);
    if ((st = read_file(fam, root, file, lab_path, sizeof lab_path, &labels)) != NN_OK)
        goto done;

    if (images.ndim != 3 || images.dims[1] != MNIST_SIDE || images.dims[2] != MNIST_SIDE) {
        char shape[64] = "";
        for (int i = 0, n = 0; i < images.ndim; i++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRIu32, i ? "x" : "",
                          images.dims[i]);
        st = nn_error(NN_ERR_INPUT, "%s: %s: expected images of shape Nx%dx%d, found %s",
                      fam->name, img_path, MNIST_SIDE, MNIST_SIDE, shape);
        goto done;
    }
    if (labels.ndim != 1) {
        st = nn_error(NN_ERR_INPUT, "%s: %s: expected a 1-D array of labels, found %d dimensions",
                      fam->name, lab_path, labels.ndim);
        goto done;
    }
    if (labels.dims[0] != images.dims[0]) {
        st = nn_error(NN_ERR_INPUT, "%s: %s has %" PRIu32 " labels but %s has %" PRIu32 " images",
                      fam->name, lab_path, labels.dims[0], img_path, images.dims[0]);
        goto done;
    }

    int64_t count = labels.size;
    for (int64_t i = 0; i < count; i++) {
        if (labels.data[i] >= MNIST_CLASSES) {
            st = nn_error(NN_ERR_INPUT, "%s: %s: label %d at index %" PRId64 ", expected 0..%d",
                          fam->name, lab_path, labels.data[i], i, MNIST_CLASSES - 1);
            goto done;
        }
    }
    /* +1 keeps malloc from returning NULL for an empty split. */
    int32_t *lab = malloc((size_t)count * sizeof *lab + 1);
    if (!lab) {
        st = nn_error(NN_ERR_RUNTIME, "%s: out of memory for %" PRId64 " labels", fam->name,
                      count);
        goto done;
    }
    for (int64_t i = 0; i < count; i++) lab[i] = labels.data[i];

    *s = (nn_image_split){
        .count = count,
        .channels = 1,
        .height = MNIST_SIDE,
        .width = MNIST_SIDE,
        .num_classes = MNIST_CLASSES,
        .pixels = images.data, /* IDX order (count, 28, 28) is already CHW with C = 1 */
        .labels = lab,
    };
    images.data = NULL;
    st = NN_OK;
done:
    nn_idx_deinit(&images);
    nn_idx_deinit(&labels);
    return st;
}

static nn_status load_family(const mnist_family *fam, nn_image_split *train,
                             nn_image_split *test, const char *root)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    nn_status st = load_split(fam, root, "train", train);
    if (st == NN_OK) st = load_split(fam, root, "t10k", test);
    if (st != NN_OK) {
        nn_image_split_deinit(train);
        nn_image_split_deinit(test);
    }
    return st;
}

static nn_status load_fashion_mnist(nn_image_split *train, nn_image_split *test,
                                    const char *root)
{
    static const mnist_family fam = {
        "fashion_mnist", "(install dataset-fashion-mnist, or set data.root or NNZOO_DATA)"};
    return load_family(&fam, train, test, root);
}

static nn_status load_mnist(nn_image_split *train, nn_image_split *test, const char *root)
{
    static const mnist_family fam = {
        "mnist", "(run datasets/fetch.sh mnist, or set data.root or NNZOO_DATA)"};
    return load_family(&fam, train, test, root);
}

/* Fashion-MNIST's label names, as its README gives them. */
static const char *const fashion_classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL};
static const char *const digit_classes[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", NULL};

const nn_dataset_def nn_dataset_fashion_mnist = {
    .name = "fashion_mnist",
    .summary = "Fashion-MNIST: 60000/10000 grey 28x28 images of clothing, 10 classes",
    .mean = 0.2860f,
    .std = 0.3530f,
    .load = load_fashion_mnist,
    .default_root = "/usr/share/datasets/fashion-mnist",
    .folder = "fashion-mnist",
    .channels = 1,
    .height = MNIST_SIDE,
    .width = MNIST_SIDE,
    .num_classes = MNIST_CLASSES,
    .class_names = fashion_classes,
};

const nn_dataset_def nn_dataset_mnist = {
    .name = "mnist",
    .summary = "MNIST: 60000/10000 grey 28x28 images of handwritten digits, 10 classes",
    .mean = 0.1307f,
    .std = 0.3081f,
    .load = load_mnist,
    .default_root = NULL,
    .folder = "mnist",
    .channels = 1,
    .height = MNIST_SIDE,
    .width = MNIST_SIDE,
    .num_classes = MNIST_CLASSES,
    .class_names = digit_classes,
};
