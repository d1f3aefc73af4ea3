/* Image files and image folders: PNG (RGB, grey at 1 to 8 bits, palette
 * with transparency, 16-bit, alpha, interlaced) and JPEG (RGB, grey, CMYK)
 * decoded to RGB, written here with libpng and libjpeg; the folder layout
 * and its class and file order (torchvision's ImageFolder); and unreadable
 * files: the error names the file, or with data.skip_corrupt the file is
 * left out, reported once, the same way on any thread count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "check_main.h"
#include "data/image.h"
#include "data/loader.h"
#include "datasets/datasets.h"

static char dir[256];

static void make_temp_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nnzoo_test_images_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *at(const char *rel)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, rel);
    return path[k];
}

static void mkdirs(const char *rel)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", at(rel));
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- writers ---- */

/* A PNG of `color` type at `depth` bits from samples (one per channel,
 * values in [0, 2^depth)); palette entries when given. */
static void write_png(const char *path, int w, int h, int color, int depth, const unsigned *samples,
                      const png_color *palette, int n_palette, int n_trans, int interlace)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("libpng failed to write %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    if (n_trans) {
        png_byte trans[16];
        for (int i = 0; i < n_trans; i++) trans[i] = (png_byte)(i * 40);
        png_set_tRNS(png, info, trans, n_trans, NULL);
    }
    png_write_info(png, info);
    if (depth < 8) png_set_packing(png);
    const int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    const int bytes = depth == 16 ? 2 : 1;
    png_bytep rows[64];
    static png_byte data[64][64 * 8];
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w * ch; i++) {
            unsigned v = samples[y * w * ch + i];
            if (bytes == 2) {
                data[y][2 * i] = (png_byte)(v >> 8);
                data[y][2 * i + 1] = (png_byte)v;
            } else {
                data[y][i] = (png_byte)v;
            }
        }
        rows[y] = data[y];
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* A JPEG at quality 100 without chroma subsampling, from `comps` channel
 * bytes per pixel (1 grey, 3 RGB, 4 CMYK with an Adobe marker). */
static void write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A small smooth RGB image (JPEG keeps it within a few levels). */
static void smooth_rgb(uint8_t *px, int w, int h, int seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            px[(y * w + x) * 3] = (uint8_t)(40 + 8 * x + seed);
            px[(y * w + x) * 3 + 1] = (uint8_t)(60 + 6 * y);
            px[(y * w + x) * 3 + 2] = (uint8_t)(200 - 3 * x - 2 * y);
        }
}

static long file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (long)sb.st_size;
}

static void cut_file(const char *path, long size) { ck_assert_int_eq(truncate(path, size), 0); }

/* ---- decoding ---- */

static void decode_ok(nn_image_decoder *d, const char *path, int w, int h, nn_image *img)
{
    nn_status st = nn_image_decode(d, path, img);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(img->width, w);
    ck_assert_int_eq(img->height, h);
}

START_TEST(png_kinds_decode_exactly)
{
    make_temp_dir();
    nn_image_decoder d;
    nn_image_decoder_init(&d);
    nn_image img;
    enum { W = 7, H = 5 };
    unsigned s[W * H * 4];
    /* RGB 8-bit, and the same interlaced. */
    for (int i = 0; i < W * H * 3; i++) s[i] = (unsigned)(i * 37 % 256);
    for (int interlace = 0; interlace < 2; interlace++) {
        write_png(at("rgb.png"), W, H, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, interlace);
        decode_ok(&d, at("rgb.png"), W, H, &img);
        for (int i = 0; i < W * H * 3; i++) ck_assert_int_eq(img.rgb[i], s[i]);
    }
    /* Grey at 1, 2, 4 and 8 bits: the level scaled to 8 bits, in all three channels. */
    for (int depth = 1; depth <= 8; depth *= 2) {
        const unsigned levels = 1u << depth;
        for (int i = 0; i < W * H; i++) s[i] = (unsigned)(i * 5 + 1) % levels;
        write_png(at("grey.png"), W, H, PNG_COLOR_TYPE_GRAY, depth, s, NULL, 0, 0, 0);
        decode_ok(&d, at("grey.png"), W, H, &img);
        for (int i = 0; i < W * H; i++)
            for (int c = 0; c < 3; c++) ck_assert_int_eq(img.rgb[3 * i + c], s[i] * 255 / (levels - 1));
    }
    /* Palette at 4 and 8 bits, with transparency (dropped). */
    png_color pal[16];
    for (int i = 0; i < 16; i++) pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 9), (png_byte)(i * i)};
    for (int depth = 4; depth <= 8; depth *= 2) {
        for (int i = 0; i < W * H; i++) s[i] = (unsigned)(i * 3 % 16);
        write_png(at("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, depth, s, pal, 16, 5, 0);
        decode_ok(&d, at("pal.png"), W, H, &img);
        for (int i = 0; i < W * H; i++) {
            ck_assert_int_eq(img.rgb[3 * i], pal[s[i]].red);
            ck_assert_int_eq(img.rgb[3 * i + 1], pal[s[i]].green);
            ck_assert_int_eq(img.rgb[3 * i + 2], pal[s[i]].blue);
        }
    }
    /* 16-bit RGB: rounded to 8 bits, round(v * 255 / 65535). */
    for (int i = 0; i < W * H * 3; i++) s[i] = (unsigned)(i * 1999 + (i % 3) * 128) % 65536;
    write_png(at("rgb16.png"), W, H, PNG_COLOR_TYPE_RGB, 16, s, NULL, 0, 0, 0);
    decode_ok(&d, at("rgb16.png"), W, H, &img);
    for (int i = 0; i < W * H * 3; i++) ck_assert_int_eq(img.rgb[i], (s[i] * 255 + 32767) / 65535);
    /* 16-bit grey with alpha: grey rounded and repeated, alpha dropped. */
    for (int i = 0; i < W * H * 2; i++) s[i] = (unsigned)(i * 4099) % 65536;
    write_png(at("ga16.png"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 16, s, NULL, 0, 0, 0);
    decode_ok(&d, at("ga16.png"), W, H, &img);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(img.rgb[3 * i + c], (s[2 * i] * 255 + 32767) / 65535);
    /* RGBA 8-bit: alpha dropped. */
    for (int i = 0; i < W * H * 4; i++) s[i] = (unsigned)(i * 11 % 256);
    write_png(at("rgba.png"), W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, s, NULL, 0, 0, 0);
    decode_ok(&d, at("rgba.png"), W, H, &img);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(img.rgb[3 * i + c], s[4 * i + c]);
    nn_image_decoder_deinit(&d);
    remove_dir();
}
END_TEST

START_TEST(jpeg_kinds_decode_within_tolerance)
{
    make_temp_dir();
    nn_image_decoder d;
    nn_image_decoder_init(&d);
    nn_image img;
    enum { W = 16, H = 12 };
    uint8_t px[W * H * 4];
    smooth_rgb(px, W, H, 0);
    write_jpeg(at("rgb.jpg"), W, H, 3, px);
    decode_ok(&d, at("rgb.jpg"), W, H, &img);
    int worst = 0;
    for (int i = 0; i < W * H * 3; i++) worst = abs(img.rgb[i] - px[i]) > worst ? abs(img.rgb[i] - px[i]) : worst;
    ck_assert_int_le(worst, 3);
    /* Grey: repeated in the three channels. */
    for (int i = 0; i < W * H; i++) px[i] = (uint8_t)(30 + 9 * (i % W) + 4 * (i / W));
    write_jpeg(at("grey.JPEG"), W, H, 1, px);
    decode_ok(&d, at("grey.JPEG"), W, H, &img);
    for (int i = 0; i < W * H; i++) {
        ck_assert_int_le(abs(img.rgb[3 * i] - px[i]), 2);
        ck_assert(img.rgb[3 * i] == img.rgb[3 * i + 1] && img.rgb[3 * i] == img.rgb[3 * i + 2]);
    }
    /* CMYK with an Adobe marker (inverted values): R = C'K'/255 of the stored bytes. */
    for (int i = 0; i < W * H; i++) {
        px[4 * i] = 200;
        px[4 * i + 1] = 100;
        px[4 * i + 2] = 50;
        px[4 * i + 3] = (uint8_t)(i < W * H / 2 ? 255 : 128);
    }
    write_jpeg(at("cmyk.jpg"), W, H, 4, px);
    decode_ok(&d, at("cmyk.jpg"), W, H, &img);
    for (int i = 0; i < W * H; i += 17)
        for (int c = 0; c < 3; c++) ck_assert_int_le(abs(img.rgb[3 * i + c] - px[4 * i + c] * px[4 * i + 3] / 255), 4);
    /* A decoder is reused across kinds and sizes. */
    decode_ok(&d, at("rgb.jpg"), W, H, &img);
    nn_image_decoder_deinit(&d);
    remove_dir();
}
END_TEST

static void expect_decode_error(nn_image_decoder *d, const char *path, const char *want)
{
    nn_image img;
    ck_assert_int_eq(nn_image_decode(d, path, &img), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), want);
}

START_TEST(bad_files_are_named)
{
    make_temp_dir();
    nn_image_decoder d;
    nn_image_decoder_init(&d);
    char want[1024];
    enum { W = 16, H = 12 };
    uint8_t px[W * H * 3];
    unsigned s[W * H * 3];
    smooth_rgb(px, W, H, 0);
    for (int i = 0; i < W * H * 3; i++) s[i] = px[i];

    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", at("absent.png"));
    expect_decode_error(&d, at("absent.png"), want);
    FILE *f = fopen(at("empty.png"), "wb");
    fclose(f);
    snprintf(want, sizeof want, "%s: empty file, expected a PNG or JPEG image", at("empty.png"));
    expect_decode_error(&d, at("empty.png"), want);
    f = fopen(at("text.jpg"), "wb");
    fputs("<html>not an image</html>", f);
    fclose(f);
    snprintf(want, sizeof want, "%s: not a PNG or JPEG file (first bytes 3c 68 74 6d; expected 89 50 4e 47 or ff d8 ff)",
             at("text.jpg"));
    expect_decode_error(&d, at("text.jpg"), want);

    /* PNG cut in its pixel data, or after it (no IEND). */
    write_png(at("cut.png"), W, H, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, 0);
    const long full = file_size(at("cut.png"));
    cut_file(at("cut.png"), full / 2);
    snprintf(want, sizeof want, "%s: truncated at byte %ld: the PNG data ends before the image is complete",
             at("cut.png"), full / 2);
    expect_decode_error(&d, at("cut.png"), want);
    write_png(at("noend.png"), W, H, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, 0);
    cut_file(at("noend.png"), full - 12);
    snprintf(want, sizeof want, "%s: truncated at byte %ld: the PNG data ends before the image is complete",
             at("noend.png"), full - 12);
    expect_decode_error(&d, at("noend.png"), want);
    /* A flipped byte inside IDAT: libpng's checks name the chunk. The
     * signature and IHDR take 33 bytes, IDAT's length and type 8 more. */
    write_png(at("crc.png"), W, H, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, 0);
    f = fopen(at("crc.png"), "r+b");
    fseek(f, 45, SEEK_SET);
    int b = fgetc(f);
    fseek(f, 45, SEEK_SET);
    fputc(b ^ 0x55, f);
    fclose(f);
    nn_image img;
    ck_assert_int_eq(nn_image_decode(&d, at("crc.png"), &img), NN_ERR_INPUT);
    snprintf(want, sizeof want, "%s: corrupt PNG at byte ", at("crc.png"));
    /* zlib's checksum or the chunk's CRC, whichever libpng meets first. */
    ck_assert_msg(strstr(nn_error_message(), want) == nn_error_message() && strstr(nn_error_message(), "IDAT: "),
                  "%s", nn_error_message());
    /* A header claiming 9000x9000 pixels: refused before any allocation.
     * IHDR's width and height are at bytes 16..23, its CRC at 29..32. */
    write_png(at("huge.png"), W, H, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, 0);
    f = fopen(at("huge.png"), "r+b");
    uint8_t ihdr[17];
    fseek(f, 12, SEEK_SET);
    ck_assert_int_eq(fread(ihdr, 1, 17, f), 17);
    const uint8_t side[4] = {0, 0, 0x23, 0x28}; /* 9000 */
    memcpy(ihdr + 4, side, 4);
    memcpy(ihdr + 8, side, 4);
    uLong crc = crc32(0L, ihdr, 17);
    const uint8_t crc_be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    fseek(f, 12, SEEK_SET);
    fwrite(ihdr, 1, 17, f);
    fwrite(crc_be, 1, 4, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: image is 9000x9000, more than the limit of 67108864 pixels", at("huge.png"));
    expect_decode_error(&d, at("huge.png"), want);

    /* JPEG cut in its entropy-coded data. */
    write_jpeg(at("cut.jpg"), W, H, 3, px);
    const long jfull = file_size(at("cut.jpg"));
    cut_file(at("cut.jpg"), jfull - 40);
    snprintf(want, sizeof want, "%s: truncated at byte %ld: the JPEG data ends before the image is complete",
             at("cut.jpg"), jfull - 40);
    expect_decode_error(&d, at("cut.jpg"), want);
    /* A JPEG that ends (EOI) right after it starts (SOI). */
    f = fopen(at("bad.jpg"), "wb");
    const uint8_t bogus[] = {0xff, 0xd8, 0xff, 0xd9};
    fwrite(bogus, 1, sizeof bogus, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: corrupt JPEG at byte 4: JPEG datastream contains no image", at("bad.jpg"));
    expect_decode_error(&d, at("bad.jpg"), want);
    /* After all that the decoder still works. */
    write_jpeg(at("ok.jpg"), W, H, 3, px);
    decode_ok(&d, at("ok.jpg"), W, H, &img);
    nn_image_decoder_deinit(&d);
    remove_dir();
}
END_TEST

/* ---- folders ---- */

static void png_file(const char *rel, int w, int h, int value)
{
    unsigned s[32 * 32 * 3];
    for (int i = 0; i < w * h * 3; i++) s[i] = (unsigned)(value + i % 3) % 256;
    write_png(at(rel), w, h, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0, 0, 0);
}

static void jpeg_file(const char *rel, int w, int h, int seed)
{
    uint8_t px[32 * 32 * 3];
    smooth_rgb(px, w, h, seed);
    write_jpeg(at(rel), w, h, 3, px);
}

static void touch(const char *rel)
{
    FILE *f = fopen(at(rel), "wb");
    fputs("x", f);
    fclose(f);
}

/* train/: classes C_upper, a_class, b_class (byte order), with files in
 * sub-folders, other extensions and hidden names; val/: a_class only. */
static void make_folder(void)
{
    make_temp_dir();
    mkdirs("train/b_class");
    mkdirs("train/a_class/sub");
    mkdirs("train/C_upper");
    mkdirs("train/.ipynb_checkpoints");
    mkdirs("val/a_class");
    png_file("train/a_class/x2.PNG", 9, 7, 10);
    jpeg_file("train/a_class/x10.jpg", 12, 8, 1);
    jpeg_file("train/a_class/x1.jpeg", 8, 12, 2);
    png_file("train/a_class/sub/y.png", 10, 10, 20);
    png_file("train/a_class/.hidden.png", 10, 10, 30);
    touch("train/a_class/notes.txt");
    png_file("train/b_class/z.png", 11, 9, 40);
    png_file("train/C_upper/c.png", 20, 16, 50);
    png_file("train/.ipynb_checkpoints/q.png", 8, 8, 60);
    png_file("val/a_class/v.png", 13, 10, 70);
}

START_TEST(folder_classes_and_order)
{
    make_folder();
    nn_image_split tr, te;
    nn_status st = nn_dataset_image_folder.load(&tr, &te, dir);
    ck_assert_msg(st == NN_OK, "%s", nn_error_message());
    ck_assert_int_eq(tr.num_classes, 3);
    ck_assert_str_eq(tr.class_names[0], "C_upper");
    ck_assert_str_eq(tr.class_names[1], "a_class");
    ck_assert_str_eq(tr.class_names[2], "b_class");
    ck_assert_ptr_null(tr.class_names[3]);
    ck_assert_int_eq(tr.count, 6);
    ck_assert_ptr_null(tr.pixels);
    static const char *const want[] = {"train/C_upper/c.png", "train/a_class/x1.jpeg", "train/a_class/x10.jpg",
                                       "train/a_class/x2.PNG", "train/a_class/sub/y.png", "train/b_class/z.png"};
    static const int labels[] = {0, 1, 1, 1, 1, 2};
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(nn_image_split_file(&tr, i), at(want[i]));
        ck_assert_int_eq(tr.labels[i], labels[i]);
    }
    ck_assert_int_eq(te.count, 1);
    ck_assert_int_eq(te.labels[0], 1); /* val's a_class is train's class 1 */
    ck_assert_int_eq(te.num_classes, 3);
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
    char **names;
    int n;
    ck_assert_int_eq(nn_dataset_image_folder.list_classes(dir, &names, &n), NN_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[2], "b_class");
    free(names);

    /* test/ serves when there is no val/. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mv %s %s", at("val"), at("test"));
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(nn_dataset_image_folder.load(&tr, &te, dir), NN_OK);
    ck_assert_str_eq(nn_image_split_file(&te, 0), at("test/a_class/v.png"));
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);

    /* A class val/ has and train/ has not; an empty class; no val/ at all. */
    mkdirs("test/d_class");
    png_file("test/d_class/d.png", 8, 8, 1);
    char msg[2048];
    snprintf(msg, sizeof msg, "image_folder: %s/d_class: class `d_class` is not among the 3 classes of train/", at("test"));
    ck_assert_int_eq(nn_dataset_image_folder.load(&tr, &te, dir), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), msg);
    ck_assert_ptr_null(tr.labels);
    snprintf(cmd, sizeof cmd, "rm -r %s; mkdir %s", at("test/d_class"), at("train/e_empty"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(msg, sizeof msg, "image_folder: %s: no .png, .jpg or .jpeg files (every class folder needs at least one image)",
             at("train/e_empty"));
    ck_assert_int_eq(nn_dataset_image_folder.load(&tr, &te, dir), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), msg);
    snprintf(cmd, sizeof cmd, "rmdir %s; rm -r %s", at("train/e_empty"), at("test"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(msg, sizeof msg, "image_folder: %s: no val/ or test/ folder (expected %s/train and %s/val or %s/test, one folder of images per class)",
             dir, dir, dir, dir);
    ck_assert_int_eq(nn_dataset_image_folder.load(&tr, &te, dir), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), msg);
    remove_dir();
}
END_TEST

/* Every batch of one epoch over `split` (all samples) with `workers`
 * threads; returns the concatenated labels and floats, counts in *n. */
static float *epoch_batches(const nn_image_split *split, const nn_transforms *t, int skip, int workers, FILE *warnings,
                            nn_status *st, int *n)
{
    enum { B = 4 };
    nn_arena a;
    nn_arena_init(&a, "t", 0);
    int32_t idx[64];
    for (int i = 0; i < split->count; i++) idx[i] = i;
    nn_loader l;
    ck_assert_int_eq(nn_loader_init(&l, &a, split, idx, split->count, B, 1, 5, t, skip), NN_OK);
    l.warnings = warnings;
    nn_prefetch *p;
    const int64_t per = nn_loader_sample_size(&l);
    ck_assert_int_eq(nn_prefetch_create(&p, workers, B, per), NN_OK);
    nn_loader_use(&l, p);
    float *out = calloc((size_t)split->count * (per + 1), sizeof(float)), *o = out;
    *n = 0;
    *st = NN_OK;
    for (int epoch = 0; epoch < 2 && *st == NN_OK; epoch++) {
        nn_loader_begin(&l, epoch, 0);
        for (int64_t b = 0; b < nn_loader_batches(&l) && *st == NN_OK; b++) {
            nn_batch batch;
            *st = nn_loader_next(&l, &batch);
            if (*st != NN_OK || epoch) continue;
            memcpy(o, batch.x, sizeof(float) * (size_t)(batch.n * per));
            o += batch.n * per;
            for (int i = 0; i < batch.n; i++) *o++ = (float)batch.y[i];
            *n += batch.n;
        }
        nn_loader_end(&l);
    }
    nn_prefetch_free(p);
    nn_arena_deinit(&a);
    return out;
}

static int count_lines(FILE *f)
{
    rewind(f);
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    return n;
}

START_TEST(unreadable_files_stop_or_are_skipped)
{
    make_folder();
    /* One cut PNG and one text file posing as a JPEG among the images. */
    png_file("train/b_class/cut.png", 20, 20, 3);
    cut_file(at("train/b_class/cut.png"), 60);
    FILE *f = fopen(at("train/C_upper/fake.jpg"), "wb");
    fputs("GIF89a", f);
    fclose(f);
    nn_image_split tr, te;
    ck_assert_int_eq(nn_dataset_image_folder.load(&tr, &te, dir), NN_OK);
    ck_assert_int_eq(tr.count, 8);
    nn_transforms t;
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    nn_transforms_init(&t, 3, mean, std);
    nn_transforms_add(&t, (nn_transform){.kind = NN_TRANSFORM_RANDOM_RESIZED_CROP, .height = 6, .width = 6, .antialias = 1,
                                         .scale = {0.08, 1.0}, .ratio = {0.75, 4.0 / 3.0}});
    nn_transforms_add(&t, (nn_transform){.kind = NN_TRANSFORM_HORIZONTAL_FLIP, .p = 0.5});
    nn_status st;
    int n;
    FILE *warnings = tmpfile();
    /* Without skip_corrupt: the first unreadable file in batch order stops
     * the epoch with its name, in the thread that asked. */
    float *x = epoch_batches(&tr, &t, 0, 2, warnings, &st, &n);
    ck_assert_int_eq(st, NN_ERR_INPUT);
    ck_assert_msg(strstr(nn_error_message(), "cut.png: truncated at byte 60") ||
                      strstr(nn_error_message(), "fake.jpg: not a PNG or JPEG file (first bytes 47 49 46 38"),
                  "%s", nn_error_message());
    free(x);
    ck_assert_int_eq(count_lines(warnings), 0);
    /* With it: left out, one warning per file (not per epoch), and the
     * same batches on 0 and 3 threads. */
    float *x0 = epoch_batches(&tr, &t, 1, 0, warnings, &st, &n);
    ck_assert_int_eq(st, NN_OK);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(count_lines(warnings), 2);
    rewind(warnings);
    char line[1024];
    int saw_cut = 0, saw_fake = 0;
    while (fgets(line, sizeof line, warnings)) {
        ck_assert_msg(strncmp(line, "nnzoo: warning: ", 16) == 0 && strstr(line, "; skipped (data.skip_corrupt)\n"), "%s", line);
        saw_cut += strstr(line, "train/b_class/cut.png: truncated at byte 60") != NULL;
        saw_fake += strstr(line, "train/C_upper/fake.jpg: not a PNG or JPEG file") != NULL;
    }
    ck_assert(saw_cut == 1 && saw_fake == 1);
    FILE *w3 = tmpfile();
    int n3;
    float *x3 = epoch_batches(&tr, &t, 1, 3, w3, &st, &n3);
    ck_assert_int_eq(n3, 6);
    ck_assert_int_eq(count_lines(w3), 2);
    ck_assert_int_eq(memcmp(x0, x3, sizeof(float) * (size_t)n * (6 * 6 * 3 + 1)), 0);
    fclose(w3);
    fclose(warnings);
    free(x0);
    free(x3);
    nn_image_split_deinit(&tr);
    nn_image_split_deinit(&te);
    remove_dir();
}
END_TEST

static Suite *image_folder_suite(void)
{
    Suite *s = suite_create("image_folder");
    TCase *tc = tcase_create("image_folder");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, png_kinds_decode_exactly);
    tcase_add_test(tc, jpeg_kinds_decode_within_tolerance);
    tcase_add_test(tc, bad_files_are_named);
    tcase_add_test(tc, folder_classes_and_order);
    tcase_add_test(tc, unreadable_files_stop_or_are_skipped);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(image_folder_suite)
