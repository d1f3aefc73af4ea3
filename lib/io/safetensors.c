#include "io/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tensor.h"
#include "io/atomic_file.h"

/* Tensor bytes are copied as they are, in both directions: the format is
 * little-endian and so is every host we run on (x86-64). Refuse to build
 * anywhere else rather than silently byte-swap checkpoints. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes unchanged and needs a little-endian host"
#endif

#define ST_MAX_DIMS 8
/* The reference implementation's limit; real headers are a few MB at most,
 * so anything larger is garbage, and refusing it early avoids a huge malloc. */
#define ST_MAX_HEADER 100000000u
#define ST_META_KEY "__metadata__"

/* ---------------------------------------------------------------- shared */

/* Element count times element size, or 0 with *overflow set when it does not
 * fit in 64 bits (a zero dimension anywhere makes the product 0 whatever the
 * others are, so check for it before multiplying). */
static uint64_t shape_bytes(int ndim, const int *shape, uint64_t elem_size, int *overflow)
{
    *overflow = 0;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) return 0;
    uint64_t n = elem_size;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (n > UINT64_MAX / d) {
            *overflow = 1;
            return 0;
        }
        n *= d;
    }
    return n;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts `names` in place and returns a name that occurs twice, or NULL. */
static const char *sorted_duplicate(const char **names, int n)
{
    if (n > 1) qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

/* ---------------------------------------------------------------- writer */

/* Header name and element size of each nn_st_dtype. */
static const struct {
    const char *name;
    unsigned size;
} write_dtypes[] = {
    [NN_ST_F32] = {"F32", 4},
    [NN_ST_I64] = {"I64", 8},
};

/* Integers go into the header as raw text: cJSON prints numbers above
 * INT_MAX with %g, which could come out as "1e+15" and be refused by
 * readers that parse offsets as u64. */
static cJSON *json_uint(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* Adds `item` to `parent` (array if key is NULL); returns 0 if either the
 * item could not be created or attached (out of memory), freeing it. */
static int json_add(cJSON *parent, const char *key, cJSON *item)
{
    if (!item) return 0;
    int ok = key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
    if (!ok) cJSON_Delete(item);
    return ok;
}

static cJSON *tensor_json(const nn_st_typed_tensor *t, uint64_t begin, uint64_t end)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    cJSON *offsets = cJSON_CreateArray();
    int ok = obj && shape && offsets;
    for (int d = 0; ok && d < t->ndim; d++)
        ok = json_add(shape, NULL, json_uint((uint64_t)t->shape[d]));
    ok = ok && json_add(offsets, NULL, json_uint(begin)) && json_add(offsets, NULL, json_uint(end));
    ok = ok && json_add(obj, "dtype", cJSON_CreateString(write_dtypes[t->dtype].name));
    if (ok && json_add(obj, "shape", shape)) {
        shape = NULL; /* owned by obj now */
        if (json_add(obj, "data_offsets", offsets)) return obj;
        offsets = NULL;
    }
    cJSON_Delete(obj);
    cJSON_Delete(shape);
    cJSON_Delete(offsets);
    return NULL;
}

/* The header text, padded with spaces to a multiple of 8 so the data that
 * follows starts 8-aligned in the file; NULL when out of memory. */
static char *header_text(const nn_st_typed_tensor *tensors, int n, const nn_st_meta *meta, int n_meta,
                         const uint64_t *bytes, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *m = cJSON_CreateObject();
        for (int i = 0; m && i < n_meta; i++)
            if (!json_add(m, meta[i].key, cJSON_CreateString(meta[i].value))) {
                cJSON_Delete(m);
                m = NULL;
            }
        ok = json_add(root, ST_META_KEY, m);
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        ok = json_add(root, tensors[i].name, tensor_json(&tensors[i], offset, offset + bytes[i]));
        offset += bytes[i];
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return NULL;

    size_t raw = strlen(json), padded = (raw + 7) & ~(size_t)7;
    char *text = realloc(json, padded);
    if (!text) {
        free(json);
        return NULL;
    }
    memset(text + raw, ' ', padded - raw); /* overwrites the NUL: text is not a C string */
    *len = padded;
    return text;
}

/* Length, header and data as the parts of one atomic write. */
static nn_status write_atomic(const char *path, const char *header, size_t header_len,
                              const nn_st_typed_tensor *tensors, int n, const uint64_t *bytes)
{
    nn_file_part *parts = malloc(sizeof *parts * ((size_t)n + 2));
    if (!parts) return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);
    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    parts[0] = (nn_file_part){len_le, sizeof len_le};
    parts[1] = (nn_file_part){header, header_len};
    for (int i = 0; i < n; i++) parts[i + 2] = (nn_file_part){tensors[i].data, (size_t)bytes[i]};
    nn_status st = nn_write_file_atomic(path, parts, n + 2);
    free(parts);
    return st;
}

nn_status nn_safetensors_write(const char *path, const nn_st_tensor *tensors, int n,
                               const nn_st_meta *meta, int n_meta)
{
    NN_ASSERT(n >= 0 && (n == 0 || tensors));
    nn_st_typed_tensor *typed = malloc(sizeof *typed * ((size_t)n + 1));
    if (!typed) return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);
    for (int i = 0; i < n; i++)
        typed[i] = (nn_st_typed_tensor){.name = tensors[i].name, .dtype = NN_ST_F32,
                                        .data = tensors[i].data, .ndim = tensors[i].ndim,
                                        .shape = tensors[i].shape};
    nn_status st = nn_safetensors_write_typed(path, typed, n, meta, n_meta);
    free(typed);
    return st;
}

nn_status nn_safetensors_write_typed(const char *path, const nn_st_typed_tensor *tensors, int n,
                                     const nn_st_meta *meta, int n_meta)
{
    NN_ASSERT(path && n >= 0 && n_meta >= 0);
    NN_ASSERT(n == 0 || tensors);
    NN_ASSERT(n_meta == 0 || meta);

    /* calloc(0) may return NULL; keep one slot so NULL means out of memory. */
    uint64_t *bytes = calloc((size_t)n + 1, sizeof *bytes);
    const char **names = calloc((size_t)(n > n_meta ? n : n_meta) + 1, sizeof *names);
    if (!bytes || !names) {
        free(bytes);
        free(names);
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);
    }
    nn_status st = NN_OK;
    for (int i = 0; i < n && st == NN_OK; i++) {
        const nn_st_typed_tensor *t = &tensors[i];
        NN_ASSERT(t->name && t->ndim >= 0 && t->ndim <= ST_MAX_DIMS && (t->ndim == 0 || t->shape));
        NN_ASSERT(t->dtype == NN_ST_F32 || t->dtype == NN_ST_I64);
        for (int d = 0; d < t->ndim; d++) NN_ASSERT(t->shape[d] >= 0);
        int overflow;
        bytes[i] = shape_bytes(t->ndim, t->shape, write_dtypes[t->dtype].size, &overflow);
        NN_ASSERT(!overflow && (bytes[i] == 0 || t->data));
        if (strcmp(t->name, ST_META_KEY) == 0)
            st = nn_error(NN_ERR_INPUT, "%s: a tensor cannot be named `%s` (reserved for metadata)",
                          path, ST_META_KEY);
        names[i] = t->name;
    }
    const char *dup;
    if (st == NN_OK && (dup = sorted_duplicate(names, n)))
        st = nn_error(NN_ERR_INPUT, "%s: two tensors are named `%s`", path, dup);
    for (int i = 0; i < n_meta && st == NN_OK; i++) {
        NN_ASSERT(meta[i].key && meta[i].value);
        names[i] = meta[i].key;
    }
    if (st == NN_OK && (dup = sorted_duplicate(names, n_meta)))
        st = nn_error(NN_ERR_INPUT, "%s: metadata key `%s` is given twice", path, dup);
    free(names);
    if (st != NN_OK) {
        free(bytes);
        return st;
    }

    size_t header_len = 0;
    char *header = header_text(tensors, n, meta, n_meta, bytes, &header_len);
    st = header ? write_atomic(path, header, header_len, tensors, n, bytes)
                : nn_error(NN_ERR_RUNTIME, "%s: out of memory building the header", path);
    free(header);
    free(bytes);
    return st;
}

/* ---------------------------------------------------------------- reader */

typedef struct {
    const char *name;  /* points into the parsed header */
    const char *dtype; /* likewise */
    int ndim;
    int shape[ST_MAX_DIMS];
    uint64_t begin, end; /* relative to the start of the data */
} st_entry;

struct nn_safetensors {
    char *path;
    unsigned char *bytes; /* the whole file */
    size_t size;
    size_t data_start;    /* 8 + header length */
    cJSON *header;
    const cJSON *meta;    /* the __metadata__ object, or NULL */
    int n;
    st_entry *entries;    /* header order */
    st_entry **by_name;   /* sorted by name, for bsearch */
};

static const struct {
    const char *name;
    unsigned size;
} dtype_sizes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
    {"U16", 2}, {"U8", 1},  {"BOOL", 1},
};

/* Element size of a safetensors dtype, 0 if unknown. Unknown dtypes (newer
 * formats) do not stop the file from opening; such tensors just cannot be
 * read, and their byte size cannot be checked. */
static unsigned dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof dtype_sizes / sizeof dtype_sizes[0]; i++)
        if (strcmp(dtype, dtype_sizes[i].name) == 0) return dtype_sizes[i].size;
    return 0;
}

static const char *json_kind(const cJSON *item)
{
    if (!item) return "missing";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    return "invalid";
}

/* A JSON number that is a whole number in [0, max]. cJSON keeps numbers as
 * doubles; NaN and infinities fail the range test. */
static int json_whole(const cJSON *item, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= max)) return 0;
    uint64_t v = (uint64_t)d;
    if ((double)v != d) return 0;
    *out = v;
    return 1;
}

/* A byte shown so that the message stays one printable line. */
static const char *show_byte(char *buf, size_t size, unsigned char c)
{
    if (c >= 0x21 && c < 0x7f) snprintf(buf, size, "`%c`", c);
    else snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

/* Reads the whole file. The header length is checked against the real size
 * from the first 8 bytes before anything else is read, so a large file that
 * is not safetensors is refused without being loaded. */
static nn_status read_file(nn_safetensors *f)
{
    const char *path = f->path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nn_error(NN_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    nn_status st = NN_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = nn_error(NN_ERR_RUNTIME, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = nn_error(NN_ERR_INPUT, "%s: not a regular file", path);
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        st = nn_error(NN_ERR_INPUT,
                      "%s: truncated: the file has %zu bytes, too few for the 8-byte header "
                      "length at byte 0",
                      path, size);
        goto done;
    }
    unsigned char len_le[8];
    if (pread(fd, len_le, 8, 0) != 8) {
        st = nn_error(NN_ERR_RUNTIME, "%s: cannot read the header length at byte 0: %s", path,
                      strerror(errno));
        goto done;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)len_le[i] << (8 * i);
    if (n > ST_MAX_HEADER) {
        st = n > size - 8
            ? nn_error(NN_ERR_INPUT,
                       "%s: not a safetensors file: header length %" PRIu64
                       " at byte 0 is larger than the file (%zu bytes)",
                       path, n, size)
            : nn_error(NN_ERR_INPUT,
                       "%s: not a safetensors file: header length %" PRIu64
                       " at byte 0 is over the limit of %u bytes",
                       path, n, ST_MAX_HEADER);
        goto done;
    }
    if (n > size - 8) {
        st = nn_error(NN_ERR_INPUT,
                      "%s: truncated: header says %" PRIu64
                      " bytes of header at byte 8 but the file has %zu bytes",
                      path, n, size);
        goto done;
    }
    f->bytes = malloc(size);
    if (!f->bytes) {
        st = nn_error(NN_ERR_RUNTIME, "%s: out of memory reading %zu bytes", path, size);
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, f->bytes + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = nn_error(NN_ERR_RUNTIME, "%s: read failed at byte %zu: %s", path, got,
                          strerror(errno));
            goto done;
        }
        if (r == 0) {
            st = nn_error(NN_ERR_INPUT, "%s: the file shrank to %zu bytes while being read", path,
                          got);
            goto done;
        }
        got += (size_t)r;
    }
    f->size = size;
    f->data_start = 8 + (size_t)n;
done:
    close(fd);
    return st;
}

/* Checks the __metadata__ object: string keys to string values. */
static nn_status check_meta(const nn_safetensors *f, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return nn_error(NN_ERR_INPUT, "%s: `%s` is %s, expected an object of strings", f->path,
                        ST_META_KEY, json_kind(meta));
    for (const cJSON *m = meta->child; m; m = m->next)
        if (!cJSON_IsString(m))
            return nn_error(NN_ERR_INPUT, "%s: `%s` key `%s` is %s, expected a string", f->path,
                            ST_META_KEY, m->string, json_kind(m));
    return NN_OK;
}

/* Checks one tensor entry against the header rules and the data size, and
 * fills `e`. */
static nn_status parse_entry(const nn_safetensors *f, const cJSON *item, st_entry *e)
{
    const char *path = f->path, *name = item->string;
    size_t data_size = f->size - f->data_start;
    e->name = name;
    if (!cJSON_IsObject(item))
        return nn_error(NN_ERR_INPUT, "%s: tensor `%s` is %s, expected an object", path, name,
                        json_kind(item));

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return nn_error(NN_ERR_INPUT, "%s: tensor `%s`: dtype is %s, expected a string", path, name,
                        json_kind(dtype));
    e->dtype = dtype->valuestring;

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return nn_error(NN_ERR_INPUT, "%s: tensor `%s`: shape is %s, expected an array", path, name,
                        json_kind(shape));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return nn_error(NN_ERR_INPUT,
                        "%s: tensor `%s`: shape has %d dimensions, at most %d allowed", path,
                        name, ndim, ST_MAX_DIMS);
    e->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        uint64_t v;
        if (!json_whole(d, 2147483647.0, &v))
            return nn_error(NN_ERR_INPUT,
                            "%s: tensor `%s`: shape[%d] is not an integer in [0, 2147483647]", path,
                            name, e->ndim);
        e->shape[e->ndim++] = (int)v;
    }

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    uint64_t lim = (uint64_t)1 << 53; /* doubles are exact up to here */
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_whole(offsets->child, (double)lim, &e->begin) ||
        !json_whole(offsets->child->next, (double)lim, &e->end))
        return nn_error(NN_ERR_INPUT,
                        "%s: tensor `%s`: data_offsets is not a pair [begin, end] of "
                        "non-negative integers",
                        path, name);
    if (e->begin > e->end)
        return nn_error(NN_ERR_INPUT,
                        "%s: tensor `%s`: data_offsets [%" PRIu64 ", %" PRIu64
                        "] end before they begin",
                        path, name, e->begin, e->end);
    if (e->end > data_size)
        return nn_error(NN_ERR_INPUT,
                        "%s: tensor `%s`: data_offsets [%" PRIu64 ", %" PRIu64
                        "] pass the end of the data (%zu bytes, file offset %zu)",
                        path, name, e->begin, e->end, data_size, f->data_start);

    unsigned elem = dtype_size(e->dtype);
    if (elem > 0) {
        char sbuf[128];
        int overflow;
        uint64_t need = shape_bytes(e->ndim, e->shape, elem, &overflow);
        if (overflow)
            return nn_error(NN_ERR_INPUT, "%s: tensor `%s`: shape %s is too large", path, name,
                            nn_shape_str(sbuf, sizeof sbuf, e->ndim, e->shape));
        if (e->end - e->begin != need)
            return nn_error(NN_ERR_INPUT,
                            "%s: tensor `%s`: data_offsets [%" PRIu64 ", %" PRIu64
                            "] hold %" PRIu64 " bytes but %s shape %s needs %" PRIu64,
                            path, name, e->begin, e->end, e->end - e->begin, e->dtype,
                            nn_shape_str(sbuf, sizeof sbuf, e->ndim, e->shape), need);
    }
    return NN_OK;
}

static int compare_begin(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x > y) - (x < y); /* header order, so the message does not depend on qsort */
}

/* No two tensors may share a byte (empty tensors occupy none). Sorting by
 * begin makes this one pass: each tensor is compared with the one reaching
 * furthest so far. */
static nn_status check_overlaps(const nn_safetensors *f)
{
    st_entry **order = malloc(((size_t)f->n + 1) * sizeof *order);
    if (!order) return nn_error(NN_ERR_RUNTIME, "%s: out of memory", f->path);
    for (int i = 0; i < f->n; i++) order[i] = &f->entries[i];
    if (f->n > 1) qsort(order, (size_t)f->n, sizeof *order, compare_begin);
    nn_status st = NN_OK;
    const st_entry *reach = NULL;
    for (int i = 0; i < f->n && st == NN_OK; i++) {
        const st_entry *e = order[i];
        if (e->begin == e->end) continue;
        if (reach && e->begin < reach->end)
            st = nn_error(NN_ERR_INPUT,
                          "%s: tensors `%s` [%" PRIu64 ", %" PRIu64 "] and `%s` [%" PRIu64
                          ", %" PRIu64 "] overlap (data starts at file offset %zu)",
                          f->path, reach->name, reach->begin, reach->end, e->name, e->begin,
                          e->end, f->data_start);
        if (!reach || e->end > reach->end) reach = e;
    }
    free(order);
    return st;
}

static int compare_entry_names(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static nn_status parse_header(nn_safetensors *f)
{
    const char *path = f->path;
    const char *text = (const char *)f->bytes + 8;
    size_t len = f->data_start - 8;
    char bbuf[16];
    if (len == 0 || text[0] != '{')
        return nn_error(NN_ERR_INPUT,
                        "%s: not a safetensors file: header at byte 8 %s%s, expected `{`", path,
                        len ? "starts with " : "is empty",
                        len ? show_byte(bbuf, sizeof bbuf, (unsigned char)text[0]) : "");
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!f->header)
        return nn_error(NN_ERR_INPUT,
                        "%s: header is not valid JSON at byte %zu (header: bytes 8 to %zu)", path,
                        8 + (size_t)(end - text), f->data_start);
    /* After the object only the padding may follow. */
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return nn_error(NN_ERR_INPUT, "%s: unexpected %s at byte %zu after the JSON header",
                            path, show_byte(bbuf, sizeof bbuf, (unsigned char)*p),
                            8 + (size_t)(p - text));
    if (!cJSON_IsObject(f->header))
        return nn_error(NN_ERR_INPUT, "%s: header is %s, expected an object", path,
                        json_kind(f->header));

    int count = 0;
    for (const cJSON *c = f->header->child; c; c = c->next) count++;
    f->entries = calloc((size_t)count + 1, sizeof *f->entries);
    f->by_name = calloc((size_t)count + 1, sizeof *f->by_name);
    if (!f->entries || !f->by_name) return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);

    for (const cJSON *c = f->header->child; c; c = c->next) {
        if (strcmp(c->string, ST_META_KEY) == 0) {
            if (f->meta)
                return nn_error(NN_ERR_INPUT, "%s: `%s` appears twice in the header", path,
                                ST_META_KEY);
            NN_TRY(check_meta(f, c));
            f->meta = c;
            continue;
        }
        NN_TRY(parse_entry(f, c, &f->entries[f->n]));
        f->n++;
    }
    /* Names first: a repeated entry would otherwise be reported as overlapping itself. */
    for (int i = 0; i < f->n; i++) f->by_name[i] = &f->entries[i];
    if (f->n > 1) qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, compare_entry_names);
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
            return nn_error(NN_ERR_INPUT, "%s: tensor `%s` appears twice in the header", path,
                            f->by_name[i]->name);
    return check_overlaps(f);
}

nn_status nn_safetensors_open(nn_safetensors **out, const char *path)
{
    NN_ASSERT(out && path);
    *out = NULL;
    nn_safetensors *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);
    }
    nn_status st = read_file(f);
    if (st == NN_OK) st = parse_header(f);
    if (st != NN_OK) {
        nn_safetensors_close(f);
        return st;
    }
    *out = f;
    return NN_OK;
}

void nn_safetensors_close(nn_safetensors *f)
{
    if (!f) return;
    cJSON_Delete(f->header);
    free(f->entries);
    free(f->by_name);
    free(f->bytes);
    free(f->path);
    free(f);
}

int nn_safetensors_count(const nn_safetensors *f) { return f->n; }

const char *nn_safetensors_name(const nn_safetensors *f, int i)
{
    NN_ASSERT(i >= 0 && i < f->n);
    return f->entries[i].name;
}

const char *nn_safetensors_meta(const nn_safetensors *f, const char *key)
{
    const cJSON *v = f->meta ? cJSON_GetObjectItemCaseSensitive(f->meta, key) : NULL;
    return v ? v->valuestring : NULL; /* check_meta made every value a string */
}

static const st_entry *find(const nn_safetensors *f, const char *name)
{
    st_entry key = {.name = name};
    const st_entry *pkey = &key;
    st_entry *const *hit =
        f->n ? bsearch(&pkey, f->by_name, (size_t)f->n, sizeof *f->by_name, compare_entry_names)
             : NULL;
    return hit ? *hit : NULL;
}

int nn_safetensors_has(const nn_safetensors *f, const char *name) { return find(f, name) != NULL; }

int nn_safetensors_shape(const nn_safetensors *f, const char *name, int *ndim, int shape[8])
{
    const st_entry *e = find(f, name);
    if (!e) return -1;
    *ndim = e->ndim;
    for (int i = 0; i < e->ndim; i++) shape[i] = e->shape[i];
    return 0;
}

const char *nn_safetensors_dtype(const nn_safetensors *f, const char *name)
{
    const st_entry *e = find(f, name);
    return e ? e->dtype : NULL;
}

/* Copies tensor `name` into dst after checking it exists and has exactly
 * `dtype` and the given shape. */
static nn_status read_checked(const nn_safetensors *f, const char *name, const char *dtype,
                              int ndim, const int *shape, void *dst)
{
    NN_ASSERT(f && name && ndim >= 0 && (ndim == 0 || shape));
    const st_entry *e = find(f, name);
    if (!e) return nn_error(NN_ERR_INPUT, "%s: no tensor `%s`", f->path, name);
    if (strcmp(e->dtype, dtype) != 0)
        return nn_error(NN_ERR_INPUT, "%s: tensor `%s`: dtype %s, expected %s", f->path, name,
                        e->dtype, dtype);
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
    if (!same) {
        char found[128], want[128];
        return nn_error(NN_ERR_INPUT, "%s: tensor `%s`: shape %s, expected %s", f->path, name,
                        nn_shape_str(found, sizeof found, e->ndim, e->shape),
                        nn_shape_str(want, sizeof want, ndim, shape));
    }
    /* The open checks made end - begin == element size * numel and end <= data size. */
    size_t n = (size_t)(e->end - e->begin);
    if (n > 0) memcpy(dst, f->bytes + f->data_start + e->begin, n);
    return NN_OK;
}

nn_status nn_safetensors_read(const nn_safetensors *f, const char *name, int ndim,
                              const int *shape, float *dst)
{
    return read_checked(f, name, "F32", ndim, shape, dst);
}

nn_status nn_safetensors_read_i64(const nn_safetensors *f, const char *name, int ndim,
                                  const int *shape, int64_t *dst)
{
    return read_checked(f, name, "I64", ndim, shape, dst);
}
