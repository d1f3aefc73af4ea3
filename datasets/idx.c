/* IDX reader. zlib's gzread reads gzip members and, transparently, plain
 * files, so one code path serves both; every count below is a position in
 * the uncompressed stream, which is what a user can check with `zcat | wc -c`.
 *
 * Known limit: zlib silently ignores non-gzip bytes after the last gzip
 * member, so such garbage is not reported (extra bytes *inside* the
 * compressed data, or after the data of a plain file, are). */
#include "datasets/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <zlib.h>

/* Refuse anything larger: no dataset nnzoo reads comes close, and a bigger
 * product almost certainly means the header is damaged. */
#define IDX_MAX_BYTES ((uint64_t)1 << 31)

/* gzread decodes into its own buffer (twice the gzbuffer size) and, on an
 * error, drops what that buffer held; reads of that size or more bypass it
 * and are dropped whole. Small slices through a small buffer keep the offset
 * in corruption messages within 64 KiB of where zlib noticed the damage (a
 * bad checksum is only noticed at the end), at no measurable cost. */
#define IDX_GZBUFFER (1u << 15)
#define IDX_CHUNK IDX_GZBUFFER

/* "10000x28x28" for messages. */
static void format_dims(char *buf, size_t size, int ndim, const uint32_t *dims)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRIu32, i ? "x" : "", dims[i]);
}

/* Reads up to `want` bytes, stopping early only at end of stream or on an
 * error. Returns the count read; *err is set to the zlib error (Z_OK if none;
 * Z_BUF_ERROR for a gzip stream that ends early). */
static int64_t read_full(gzFile f, uint8_t *buf, int64_t want, int *err)
{
    int64_t got = 0;
    *err = Z_OK;
    while (got < want) {
        unsigned len = want - got > IDX_CHUNK ? IDX_CHUNK : (unsigned)(want - got);
        int n = gzread(f, buf + got, len);
        if (n > 0) got += n;
        gzerror(f, err);
        if (n <= 0 || *err != Z_OK) break;
    }
    return got;
}

/* Turns a zlib problem seen at uncompressed byte `offset` into the message,
 * or returns NN_OK when there was none. A stream that ends early is reported
 * by the caller as truncation, which knows what was expected. */
static nn_status stream_error(gzFile f, const char *path, int64_t offset)
{
    int err;
    const char *msg = gzerror(f, &err);
    if (err == Z_OK || err == Z_BUF_ERROR) return NN_OK;
    if (err == Z_ERRNO)
        return nn_error(NN_ERR_INPUT, "%s: read error at uncompressed byte %" PRId64 ": %s",
                        path, offset, strerror(errno));
    /* zlib writes "<path>: <what>"; the path is already in front. */
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
    /* zlib drops the output it had decoded into its buffer when it fails, so
     * the offset is where delivery stopped, not the exact damaged byte. */
    return nn_error(NN_ERR_INPUT,
                    "%s: corrupt gzip stream: %s (zlib stopped at uncompressed byte %" PRId64
                    ")",
                    path, msg, offset);
}

/* Why a read ended early, appended to truncation messages. */
static const char *truncation_note(int err)
{
    return err == Z_BUF_ERROR ? " (the gzip stream ends early)" : "";
}

static nn_status read_header(gzFile f, const char *path, nn_idx *out, int64_t *header_bytes)
{
    uint8_t magic[4];
    int err;
    int64_t got = read_full(f, magic, 4, &err);
    NN_TRY(stream_error(f, path, got));
    if (got < 4)
        return nn_error(NN_ERR_INPUT,
                        "%s: truncated at byte %" PRId64
                        ": expected at least 4 bytes (the IDX magic), found %" PRId64 "%s",
                        path, got, got, truncation_note(err));
    if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4)
        return nn_error(NN_ERR_INPUT,
                        "%s: not an IDX file: magic bytes %02x %02x %02x %02x, expected "
                        "00 00 <type> <ndim 1..4>",
                        path, magic[0], magic[1], magic[2], magic[3]);
    if (magic[2] != 0x08)
        return nn_error(NN_ERR_INPUT,
                        "%s: IDX element type 0x%02x is not supported: nnzoo reads only "
                        "0x08 (unsigned bytes)",
                        path, magic[2]);
    out->ndim = magic[3];

    uint8_t raw[16];
    int64_t want = 4 * (int64_t)out->ndim;
    got = read_full(f, raw, want, &err);
    NN_TRY(stream_error(f, path, 4 + got));
    if (got < want)
        return nn_error(NN_ERR_INPUT,
                        "%s: truncated at byte %" PRId64 ": expected a %" PRId64
                        "-byte header (%d dimensions), found %" PRId64 " bytes%s",
                        path, 4 + got, 4 + want, out->ndim, 4 + got, truncation_note(err));
    uint64_t product = 1;
    for (int i = 0; i < out->ndim; i++) {
        const uint8_t *b = raw + 4 * i;
        out->dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        /* Checked per step, so the product can never wrap: both factors are
         * below 2^32 and the running product stays below IDX_MAX_BYTES. */
        product *= out->dims[i];
        if (product > IDX_MAX_BYTES) {
            char shape[64];
            format_dims(shape, sizeof shape, i + 1, out->dims);
            return nn_error(NN_ERR_INPUT,
                            "%s: dimensions %s%s exceed the %" PRIu64
                            "-byte limit (damaged header?)",
                            path, shape, i + 1 < out->ndim ? "x..." : "", IDX_MAX_BYTES);
        }
    }
    out->size = (int64_t)product;
    *header_bytes = 4 + want;
    return NN_OK;
}

/* Everything after opening, so that the caller has one place to close. */
static nn_status read_body(gzFile f, const char *path, nn_idx *out)
{
    int64_t header = 0;
    NN_TRY(read_header(f, path, out, &header));

    char shape[64];
    format_dims(shape, sizeof shape, out->ndim, out->dims);
    int64_t total = header + out->size;

    /* +1 so a zero-size array still gets a pointer the caller may free. */
    out->data = malloc((size_t)out->size + 1);
    if (!out->data)
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory for %" PRId64 " bytes (%s)", path,
                        out->size, shape);

    int err;
    int64_t got = read_full(f, out->data, out->size, &err);
    NN_TRY(stream_error(f, path, header + got));
    if (got < out->size)
        return nn_error(NN_ERR_INPUT,
                        "%s: truncated at byte %" PRId64 ": expected %" PRId64
                        " bytes (%" PRId64 "-byte header + %s), found %" PRId64 "%s",
                        path, header + got, total, header, shape, header + got,
                        truncation_note(err));

    /* Anything after the data means the header and the payload disagree;
     * read on to the end so the message can say how much, and so that a
     * damaged gzip stream is reported as such rather than as extra bytes. */
    uint8_t scratch[4096];
    int64_t extra = 0;
    for (;;) {
        int n = gzread(f, scratch, sizeof scratch);
        if (n <= 0) break;
        extra += n;
    }
    NN_TRY(stream_error(f, path, total + extra));
    if (extra > 0)
        return nn_error(NN_ERR_INPUT,
                        "%s: %" PRId64 " unexpected bytes after byte %" PRId64
                        ": expected exactly %" PRId64 " bytes (%" PRId64 "-byte header + %s)",
                        path, extra, total, total, header, shape);
    gzerror(f, &err);
    if (err == Z_BUF_ERROR)
        return nn_error(NN_ERR_INPUT,
                        "%s: truncated gzip stream: all %" PRId64
                        " data bytes were read but the gzip trailer (checksum) is missing",
                        path, total);
    return NN_OK;
}

nn_status nn_idx_read(const char *path, nn_idx *out)
{
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        /* errno is 0 only when zlib itself failed to allocate. */
        if (errno == 0) return nn_error(NN_ERR_RUNTIME, "%s: cannot open: out of memory", path);
        return nn_error(NN_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    gzbuffer(f, IDX_GZBUFFER);
    nn_status st = read_body(f, path, out);
    /* A read-only close reports nothing read_body has not already checked. */
    gzclose(f);
    if (st != NN_OK) nn_idx_deinit(out);
    return st;
}

void nn_idx_deinit(nn_idx *idx)
{
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
