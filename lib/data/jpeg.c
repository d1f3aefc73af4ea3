/* JPEG through libjpeg-turbo. libjpeg reports fatal errors through
 * error_exit, which must not return: ours longjmps back into decode_body.
 * Its warnings go to emit_message: "premature end of file" is a truncated
 * image (libjpeg would fill the rest with grey), so it is made an error;
 * other warnings ("extraneous bytes before marker") leave a usable image and
 * are ignored, as PIL ignores them. The decompressor is kept between files
 * (jpeg_abort_decompress resets it, also after an error); libjpeg still
 * allocates its per-image pools itself, which nnzoo does not control. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "data/image_codec.h"

typedef struct jpeg_state {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    jmp_buf jump;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jpeg_state;

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_state *s = (jpeg_state *)cinfo->client_data;
    cinfo->err->format_message(cinfo, s->msg);
    longjmp(s->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    jpeg_state *s = (jpeg_state *)cinfo->client_data;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        s->truncated = 1;
        cinfo->err->format_message(cinfo, s->msg);
        longjmp(s->jump, 1);
    }
}

typedef struct jpeg_job {
    jpeg_state *s;
    nn_image_decoder *d;
    const uint8_t *bytes;
    size_t size;
    int too_large, out_of_memory;
    int width, height;
} jpeg_job;

/* (a * b) / 255, rounded. */
static uint8_t mul255(int a, int b) { return (uint8_t)((a * b + 127) / 255); }

/* Returns 0 on success, -1 after a libjpeg error or a refusal (job says which). */
static int decode_body(jpeg_job *j)
{
    struct jpeg_decompress_struct *ci = &j->s->cinfo;
    if (setjmp(j->s->jump)) return -1;
    jpeg_mem_src(ci, j->bytes, (unsigned long)j->size);
    jpeg_read_header(ci, TRUE);
    j->width = (int)ci->image_width;
    j->height = (int)ci->image_height;
    if ((int64_t)ci->image_width * ci->image_height > NN_IMAGE_MAX_PIXELS) {
        j->too_large = 1;
        return -1;
    }
    const int cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    /* libjpeg-turbo converts grey and YCbCr to RGB itself; CMYK we do. */
    ci->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(ci);
    const size_t w = ci->output_width, h = ci->output_height;
    if (nn_growbuf_reserve(&j->d->pixels, w * h * 3) != NN_OK ||
        nn_growbuf_reserve(&j->d->rows, w * 4) != NN_OK) {
        j->out_of_memory = 1;
        return -1;
    }
    uint8_t *px = j->d->pixels.data;
    /* Adobe's CMYK JPEGs (nearly all of them) store inverted values. */
    const int inverted = ci->saw_Adobe_marker;
    while (ci->output_scanline < h) {
        uint8_t *dst = px + (size_t)ci->output_scanline * w * 3;
        JSAMPROW row = cmyk ? j->d->rows.data : dst;
        jpeg_read_scanlines(ci, &row, 1);
        if (!cmyk) continue;
        for (size_t x = 0; x < w; x++) {
            int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
            if (!inverted) {
                c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
            }
            dst[3 * x] = mul255(c, k);
            dst[3 * x + 1] = mul255(m, k);
            dst[3 * x + 2] = mul255(y, k);
        }
    }
    jpeg_finish_decompress(ci);
    return 0;
}

/* The decompressor, made once per decoder. jpeg_create_decompress reports
 * failure (out of memory) through error_exit too. */
static nn_status create_state(nn_image_decoder *d, const char *name)
{
    jpeg_state *s = calloc(1, sizeof *s);
    if (!s) return nn_error(NN_ERR_RUNTIME, "%s: out of memory for the JPEG decoder", name);
    s->cinfo.err = jpeg_std_error(&s->err);
    s->err.error_exit = on_error_exit;
    s->err.emit_message = on_message;
    s->cinfo.client_data = s;
    if (setjmp(s->jump)) {
        jpeg_destroy_decompress(&s->cinfo);
        free(s);
        return nn_error(NN_ERR_RUNTIME, "%s: cannot create the JPEG decoder", name);
    }
    jpeg_create_decompress(&s->cinfo);
    d->jpeg = s;
    return NN_OK;
}

nn_status nn_jpeg_decode(nn_image_decoder *d, const uint8_t *bytes, size_t size,
                         const char *name, nn_image *out)
{
    if (!d->jpeg) NN_TRY(create_state(d, name));
    jpeg_state *s = d->jpeg;
    s->truncated = 0;
    s->msg[0] = '\0';
    jpeg_job j = {.s = s, .d = d, .bytes = bytes, .size = size};
    int failed = decode_body(&j);
    if (!failed) {
        *out = (nn_image){d->pixels.data, j.height, j.width};
        return NN_OK;
    }
    size_t at = s->cinfo.src ? size - s->cinfo.src->bytes_in_buffer : 0;
    jpeg_abort_decompress(&s->cinfo);
    if (j.out_of_memory) return nn_error(NN_ERR_RUNTIME, "%s: out of memory for a %dx%d image", name, j.width, j.height);
    if (j.too_large)
        return nn_error(NN_ERR_INPUT, "%s: image is %dx%d, more than the limit of %" PRId64 " pixels", name,
                        j.width, j.height, (int64_t)NN_IMAGE_MAX_PIXELS);
    if (s->truncated)
        return nn_error(NN_ERR_INPUT, "%s: truncated at byte %zu: the JPEG data ends before the image is complete",
                        name, size);
    return nn_error(NN_ERR_INPUT, "%s: corrupt JPEG at byte %zu: %s", name, at, s->msg);
}

void nn_jpeg_free(void *jpeg)
{
    jpeg_state *s = jpeg;
    if (!s) return;
    jpeg_destroy_decompress(&s->cinfo);
    free(s);
}
