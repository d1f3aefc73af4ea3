/* Image folders, laid out as torchvision's ImageFolder reads them:
 *
 *   <root>/train/<class>/.../<image>.png|.jpg|.jpeg
 *   <root>/val/<class>/...     (or <root>/test/<class>/... when there is no val/)
 *
 * The classes are the sub-folders of train/, sorted by name (byte order,
 * which for UTF-8 names is Python's order); class i is label i. A class's
 * images are the files below its folder (sub-folders too, symlinks
 * followed) whose names end in .png, .jpg or .jpeg in any case, sorted as
 * sorted(os.walk(...)) then sorted(files) sort them. Other files are
 * ignored. Unlike ImageFolder, names starting with '.' are skipped
 * (.ipynb_checkpoints would otherwise become class 0). val/ (or test/) may
 * have fewer classes than train/ but no other ones. Only the list of files
 * is read here; the images are decoded when a batch needs them. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/datasets.h"

/* Deeper folders are refused: a symlink loop would otherwise never end. */
#define MAX_DEPTH 32

/* A list of strings in one growing block. */
typedef struct strlist {
    char *text;
    size_t len, cap;
    int64_t *off;
    int64_t n, cap_n;
} strlist;

static nn_status oom(void) { return nn_error(NN_ERR_RUNTIME, "image_folder: out of memory while listing files"); }

static nn_status strlist_add(strlist *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n + 1) cap *= 2;
        char *t = realloc(l->text, cap);
        if (!t) return oom();
        l->text = t;
        l->cap = cap;
    }
    if (l->n == l->cap_n) {
        int64_t cap = l->cap_n ? 2 * l->cap_n : 256;
        int64_t *o = realloc(l->off, sizeof *o * (size_t)cap);
        if (!o) return oom();
        l->off = o;
        l->cap_n = cap;
    }
    memcpy(l->text + l->len, s, n);
    l->text[l->len + n] = '\0';
    l->off[l->n++] = (int64_t)l->len;
    l->len += n + 1;
    return NN_OK;
}

static void strlist_free(strlist *l)
{
    free(l->text);
    free(l->off);
    memset(l, 0, sizeof *l);
}

static int is_image_name(const char *name)
{
    size_t n = strlen(name);
    static const char *const ext[] = {".png", ".jpg", ".jpeg"};
    for (int i = 0; i < 3; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcasecmp(name + n - e, ext[i])) return 1;
    }
    return 0;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sub-folders of dir (not starting with '.'), sorted, into l. */
static nn_status list_subdirs(const char *dir, strlist *l)
{
    DIR *d = opendir(dir);
    if (!d) return nn_error(NN_ERR_INPUT, "image_folder: %s: cannot open: %s", dir, strerror(errno));
    strlist found = {0};
    nn_status st = NN_OK;
    struct dirent *e;
    char path[4096];
    while (st == NN_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (is_dir(path)) st = strlist_add(&found, e->d_name, strlen(e->d_name));
    }
    closedir(d);
    char **names = st == NN_OK ? malloc(sizeof(char *) * (size_t)(found.n + 1)) : NULL;
    if (st == NN_OK && !names) st = oom();
    if (st == NN_OK) {
        for (int64_t i = 0; i < found.n; i++) names[i] = found.text + found.off[i];
        qsort(names, (size_t)found.n, sizeof *names, cmp_str);
        for (int64_t i = 0; i < found.n && st == NN_OK; i++) st = strlist_add(l, names[i], strlen(names[i]));
    }
    free(names);
    strlist_free(&found);
    return st;
}

/* One image file found: where its path is and how long its folder part is. */
typedef struct entry {
    int64_t off;
    int32_t dir_len;
} entry;

typedef struct walk {
    strlist paths;
    entry *entries;
    int64_t n, cap;
} walk;

/* Appends the image files below dir (recursively) to w. */
static nn_status walk_dir(walk *w, const char *dir, int depth)
{
    if (depth > MAX_DEPTH)
        return nn_error(NN_ERR_INPUT, "image_folder: %s: folders nested more than %d deep (a symlink loop?)", dir, MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d) return nn_error(NN_ERR_INPUT, "image_folder: %s: cannot open: %s", dir, strerror(errno));
    nn_status st = NN_OK;
    struct dirent *e;
    char path[4096];
    const size_t dir_len = strlen(dir);
    while (st == NN_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path) {
            st = nn_error(NN_ERR_INPUT, "image_folder: %s/%s: path longer than %zu bytes", dir, e->d_name, sizeof path - 1);
            break;
        }
        if (is_dir(path)) {
            st = walk_dir(w, path, depth + 1);
        } else if (is_image_name(e->d_name)) {
            if (w->n == w->cap) {
                int64_t cap = w->cap ? 2 * w->cap : 1024;
                entry *grown = realloc(w->entries, sizeof *grown * (size_t)cap);
                if (!grown) {
                    st = oom();
                    break;
                }
                w->entries = grown;
                w->cap = cap;
            }
            st = strlist_add(&w->paths, path, (size_t)n);
            if (st == NN_OK) w->entries[w->n++] = (entry){w->paths.off[w->paths.n - 1], (int32_t)dir_len};
        }
    }
    closedir(d);
    return st;
}

/* Python's order of (folder, file name) pairs: by folder, then by name. */
static int cmp_entry(const void *pa, const void *pb, void *text)
{
    const entry *a = pa, *b = pb;
    const char *sort_text = text;
    const char *sa = sort_text + a->off, *sb = sort_text + b->off;
    const size_t n = a->dir_len < b->dir_len ? (size_t)a->dir_len : (size_t)b->dir_len;
    int c = memcmp(sa, sb, n);
    if (c) return c;
    if (a->dir_len != b->dir_len) return a->dir_len < b->dir_len ? -1 : 1;
    return strcmp(sa + a->dir_len + 1, sb + b->dir_len + 1);
}

/* Lists split_dir's class folders into s, labelled by their index in
 * `classes` (train's). */
static nn_status list_split(const char *split_dir, const strlist *classes, int own_classes, nn_image_split *s)
{
    strlist here = {0};
    walk w = {0};
    int32_t *labels = NULL;
    int64_t *offsets = NULL;
    nn_status st = own_classes ? NN_OK : list_subdirs(split_dir, &here);
    const strlist *dirs = own_classes ? classes : &here;
    char dir[4096];
    for (int64_t c = 0; c < dirs->n && st == NN_OK; c++) {
        const char *name = dirs->text + dirs->off[c];
        int32_t label = (int32_t)c;
        if (!own_classes) {
            label = -1;
            for (int64_t k = 0; k < classes->n; k++)
                if (!strcmp(classes->text + classes->off[k], name)) label = (int32_t)k;
            if (label < 0) {
                st = nn_error(NN_ERR_INPUT, "image_folder: %s/%s: class `%s` is not among the %" PRId64 " classes of train/",
                              split_dir, name, name, classes->n);
                break;
            }
        }
        snprintf(dir, sizeof dir, "%s/%s", split_dir, name);
        const int64_t first = w.n;
        st = walk_dir(&w, dir, 0);
        if (st != NN_OK) break;
        if (w.n == first) {
            st = nn_error(NN_ERR_INPUT, "image_folder: %s: no .png, .jpg or .jpeg files (every class folder needs at least one image)", dir);
            break;
        }
        if (w.n > INT32_MAX) {
            st = nn_error(NN_ERR_INPUT, "image_folder: %s: more than %d images", split_dir, INT32_MAX);
            break;
        }
        /* walk_dir's order is readdir's; sort this class's files. */
        qsort_r(w.entries + first, (size_t)(w.n - first), sizeof *w.entries, cmp_entry, w.paths.text);
        int32_t *grown = realloc(labels, sizeof *labels * (size_t)w.n + 1);
        if (!grown) {
            st = oom();
            break;
        }
        labels = grown;
        for (int64_t i = first; i < w.n; i++) labels[i] = label;
    }
    if (st == NN_OK && dirs->n == 0)
        st = nn_error(NN_ERR_INPUT, "image_folder: %s: no class folders (expected one folder of images per class)", split_dir);
    if (st == NN_OK) {
        offsets = malloc(sizeof *offsets * (size_t)w.n + 1);
        if (!offsets) st = oom();
    }
    if (st == NN_OK) {
        for (int64_t i = 0; i < w.n; i++) offsets[i] = w.entries[i].off;
        *s = (nn_image_split){.count = w.n, .channels = 3, .num_classes = (int)classes->n,
                              .labels = labels, .files = w.paths.text, .file_offsets = offsets};
        w.paths.text = NULL;
        labels = NULL;
    }
    free(labels);
    free(w.entries);
    strlist_free(&w.paths);
    strlist_free(&here);
    return st;
}

/* root/val, else root/test. */
static nn_status test_dir(const char *root, char *out, size_t size)
{
    snprintf(out, size, "%s/val", root);
    if (is_dir(out)) return NN_OK;
    snprintf(out, size, "%s/test", root);
    if (is_dir(out)) return NN_OK;
    return nn_error(NN_ERR_INPUT,
                    "image_folder: %s: no val/ or test/ folder (expected %s/train and %s/val or %s/test, one folder of images per class)",
                    root, root, root, root);
}

static nn_status train_classes(const char *root, strlist *classes)
{
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s/train", root);
    if (n < 0 || (size_t)n >= sizeof dir) return nn_error(NN_ERR_INPUT, "image_folder: data folder path is too long: %s", root);
    if (!is_dir(dir))
        return nn_error(NN_ERR_INPUT, "image_folder: %s: missing or not a folder (expected %s/train and %s/val or %s/test, one folder of images per class)",
                        dir, root, root, root);
    NN_TRY(list_subdirs(dir, classes));
    if (classes->n == 0)
        return nn_error(NN_ERR_INPUT, "image_folder: %s: no class folders (expected one folder of images per class)", dir);
    return NN_OK;
}

static char **pack(const strlist *l)
{
    const char **v = malloc(sizeof *v * (size_t)(l->n + 1));
    if (!v) return NULL;
    for (int64_t i = 0; i < l->n; i++) v[i] = l->text + l->off[i];
    char **packed = nn_strings_pack(v, (int)l->n);
    free(v);
    return packed;
}

static nn_status load(nn_image_split *train, nn_image_split *test, const char *root)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    strlist classes = {0};
    char dir[4096];
    nn_status st = train_classes(root, &classes);
    if (st == NN_OK) {
        snprintf(dir, sizeof dir, "%s/train", root);
        st = list_split(dir, &classes, 1, train);
    }
    if (st == NN_OK) st = test_dir(root, dir, sizeof dir);
    if (st == NN_OK) st = list_split(dir, &classes, 0, test);
    if (st == NN_OK && !(train->class_names = pack(&classes))) st = oom();
    strlist_free(&classes);
    if (st != NN_OK) {
        nn_image_split_deinit(train);
        nn_image_split_deinit(test);
    }
    return st;
}

static nn_status list_classes(const char *root, char ***names, int *count)
{
    strlist classes = {0};
    nn_status st = train_classes(root, &classes);
    if (st == NN_OK && !(*names = pack(&classes))) st = oom();
    if (st == NN_OK) *count = (int)classes.n;
    strlist_free(&classes);
    return st;
}

const nn_dataset_def nn_dataset_image_folder = {
    .name = "image_folder",
    .summary = "folders of .png/.jpg images, one per class, under train/ and val/ (or test/); ImageNet's layout",
    /* torchvision's ImageNet statistics, the usual choice for photographs. */
    .rgb_mean = {0.485f, 0.456f, 0.406f},
    .rgb_std = {0.229f, 0.224f, 0.225f},
    .load = load,
    .default_root = NULL,
    .folder = "image-folder",
    .channels = 3,
    .height = 0,
    .width = 0,
    .num_classes = 0,
    .list_classes = list_classes,
};
