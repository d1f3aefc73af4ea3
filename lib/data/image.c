/* Reading image files and choosing the decoder by their first bytes (not
 * the extension: a .jpg that is really a PNG decodes fine). */
#include "data/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image_codec.h"

nn_status nn_growbuf_reserve(nn_growbuf *b, size_t bytes)
{
    if (bytes <= b->size) return NN_OK;
    /* Half again as much, so a slowly growing series of images does not
     * reallocate every time. */
    size_t want = bytes + bytes / 2;
    void *p = realloc(b->data, want);
    if (!p) return nn_error(NN_ERR_RUNTIME, "out of memory for %zu bytes", want);
    b->data = p;
    b->size = want;
    return NN_OK;
}

void nn_growbuf_free(nn_growbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->size = 0;
}

void nn_image_decoder_init(nn_image_decoder *d) { memset(d, 0, sizeof *d); }

void nn_image_decoder_deinit(nn_image_decoder *d)
{
    nn_growbuf_free(&d->file);
    nn_growbuf_free(&d->pixels);
    nn_growbuf_free(&d->rows);
    nn_jpeg_free(d->jpeg);
    memset(d, 0, sizeof *d);
}

nn_status nn_image_decode_memory(nn_image_decoder *d, const uint8_t *bytes, size_t size,
                                 const char *name, nn_image *out)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && !memcmp(bytes, png_magic, 8)) return nn_png_decode(d, bytes, size, name, out);
    if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return nn_jpeg_decode(d, bytes, size, name, out);
    if (size == 0) return nn_error(NN_ERR_INPUT, "%s: empty file, expected a PNG or JPEG image", name);
    char first[32] = "";
    for (size_t i = 0, n = 0; i < size && i < 4; i++)
        n += (size_t)snprintf(first + n, sizeof first - n, "%s%02x", i ? " " : "", bytes[i]);
    return nn_error(NN_ERR_INPUT, "%s: not a PNG or JPEG file (first bytes %s; expected 89 50 4e 47 or ff d8 ff)",
                    name, first);
}

nn_status nn_image_decode(nn_image_decoder *d, const char *path, nn_image *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nn_error(NN_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    nn_status status = NN_OK;
    if (fstat(fd, &st) != 0) {
        status = nn_error(NN_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        status = nn_error(NN_ERR_INPUT, "%s: not a regular file, expected a PNG or JPEG image", path);
    } else if (st.st_size > NN_IMAGE_MAX_FILE_BYTES) {
        status = nn_error(NN_ERR_INPUT, "%s: %lld bytes, more than the limit of %lld for an image file", path,
                          (long long)st.st_size, (long long)NN_IMAGE_MAX_FILE_BYTES);
    } else {
        status = nn_growbuf_reserve(&d->file, (size_t)st.st_size + 1);
    }
    size_t got = 0;
    /* Read to the end rather than trusting st_size alone: the file may be
     * shrinking under us, and then the decoder sees the truncation. */
    while (status == NN_OK && got < (size_t)st.st_size) {
        ssize_t n = read(fd, (uint8_t *)d->file.data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) status = nn_error(NN_ERR_INPUT, "%s: read error at byte %zu: %s", path, got, strerror(errno));
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (status != NN_OK) return status;
    return nn_image_decode_memory(d, d->file.data, got, path, out);
}
