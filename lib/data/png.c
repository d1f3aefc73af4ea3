/* PNG through libpng. libpng reports errors by calling our handler, which
 * must not return: it longjmps back into decode_body. Everything that
 * decode_body changes lives in the png_ctx of its caller, so nothing is
 * left indeterminate by the jump; libpng's allocations are freed by
 * png_destroy_read_struct in every case. */
#include <inttypes.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

#include "data/image_codec.h"

typedef struct png_ctx {
    png_structp png;
    png_infop info;
    nn_image_decoder *d;
    const uint8_t *bytes;
    size_t size, pos;        /* pos: bytes libpng has consumed */
    int truncated;
    int too_large;
    int out_of_memory;
    uint32_t width, height;
    char msg[200];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (a bad CRC in an ancillary chunk, say) leave a usable image. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void read_bytes(png_structp png, png_bytep out, png_size_t len)
{
    png_ctx *c = png_get_io_ptr(png);
    if (len > c->size - c->pos) {
        c->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, c->bytes + c->pos, len);
    c->pos += len;
}

/* Returns 0 on success, -1 after a libpng error or a refusal (c says which). */
static int decode_body(png_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png))) return -1;
    png_set_read_fn(c->png, c, read_bytes);
    png_set_user_limits(c->png, NN_IMAGE_MAX_SIDE, NN_IMAGE_MAX_SIDE);
    png_read_info(c->png, c->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    c->width = w;
    c->height = h;
    if ((int64_t)w * h > NN_IMAGE_MAX_PIXELS) {
        c->too_large = 1;
        return -1;
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c->png);
    if (!(color & PNG_COLOR_MASK_COLOR) && depth < 8) png_set_expand_gray_1_2_4_to_8(c->png);
    /* Rounds (v * 255 / 65535) rather than dropping the low byte. */
    if (depth == 16) png_set_scale_16(c->png);
    /* Alpha is dropped, not composited, as PIL's convert("RGB") does; also
     * the alpha that expanding a palette with a tRNS chunk adds. */
    png_set_strip_alpha(c->png);
    if (!(color & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(c->png);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    if (png_get_rowbytes(c->png, c->info) != (size_t)w * 3) png_error(c->png, "unexpected row layout after conversion to RGB");
    if (nn_growbuf_reserve(&c->d->pixels, (size_t)w * h * 3) != NN_OK ||
        nn_growbuf_reserve(&c->d->rows, (size_t)h * sizeof(png_bytep)) != NN_OK) {
        c->out_of_memory = 1;
        return -1;
    }
    png_bytep *rows = c->d->rows.data;
    uint8_t *px = c->d->pixels.data;
    for (png_uint_32 y = 0; y < h; y++) rows[y] = px + (size_t)y * w * 3;
    png_read_image(c->png, rows);
    /* Reads on to IEND, so a file cut after its pixel data is still noticed. */
    png_read_end(c->png, NULL);
    return 0;
}

nn_status nn_png_decode(nn_image_decoder *d, const uint8_t *bytes, size_t size, const char *name,
                        nn_image *out)
{
    png_ctx c = {.d = d, .bytes = bytes, .size = size};
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    if (c.png) c.info = png_create_info_struct(c.png);
    if (!c.png || !c.info) {
        png_destroy_read_struct(c.png ? &c.png : NULL, NULL, NULL);
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory for the PNG decoder", name);
    }
    int failed = decode_body(&c);
    png_destroy_read_struct(&c.png, &c.info, NULL);
    if (!failed) {
        *out = (nn_image){d->pixels.data, (int)c.height, (int)c.width};
        return NN_OK;
    }
    if (c.out_of_memory) return nn_error(NN_ERR_RUNTIME, "%s: out of memory for a %" PRIu32 "x%" PRIu32 " image", name, c.width, c.height);
    if (c.too_large)
        return nn_error(NN_ERR_INPUT, "%s: image is %" PRIu32 "x%" PRIu32 ", more than the limit of %" PRId64 " pixels",
                        name, c.width, c.height, (int64_t)NN_IMAGE_MAX_PIXELS);
    if (c.truncated)
        return nn_error(NN_ERR_INPUT, "%s: truncated at byte %zu: the PNG data ends before the image is complete",
                        name, size);
    return nn_error(NN_ERR_INPUT, "%s: corrupt PNG at byte %zu: %s", name, c.pos, c.msg);
}
