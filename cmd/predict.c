/* nnzoo predict CONFIG --checkpoint FILE IMAGE... [--topk K] [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/image.h"
#include "data/transform.h"

static const char help[] =
    "usage: nnzoo predict CONFIG --checkpoint FILE IMAGE... [options]\n"
    "\n"
    "Classifies PNG or JPEG images with the weights in FILE: each image is decoded, made\n"
    "grey for a grey dataset, resized to the dataset's image size when it has one (28x28\n"
    "for Fashion-MNIST), put through CONFIG's eval transforms (data.resize, data.pad,\n"
    "data.channels, data.transforms.eval) and normalized, and the model runs in eval mode.\n"
    "Prints the K most probable classes of each image with their probabilities.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    a .safetensors from nnzoo train (last, best or init)\n"
    "  --topk K             classes to print per image (default 5)\n"
    "  --json               one JSON line per image: image, predictions [{class, index, probability}]\n"
    "  --set PATH=VALUE     override a config key (repeatable)\n"
    "  --threads N          threads to use\n"
    "\n"
    "Class names: the dataset's (Fashion-MNIST's, CIFAR's, the digits), an image folder's\n"
    "class folders, or else the class index. A missing or unreadable image is an error\n"
    "naming it (exit 2).\n";

enum { MAX_IMAGES = 4096 };

/* A JSON string literal of s. */
static void put_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* The class names in label order: the dataset's, its folders', or NULL
 * (then the index is the name). *owned is what to free. */
static nn_status class_names(const nn_run *run, int classes, const char *const **names, char ***owned)
{
    const nn_dataset_def *d = run->dataset;
    *names = NULL;
    *owned = NULL;
    if (d->class_names) {
        int n = 0;
        while (d->class_names[n]) n++;
        if (n == classes) *names = d->class_names;
        return NN_OK;
    }
    if (!d->list_classes) return NN_OK;
    char root[4096];
    int n = 0;
    NN_TRY(nn_dataset_resolve_root(d, run->set.data_root, root, sizeof root));
    NN_TRY(d->list_classes(root, owned, &n));
    if (n != classes)
        return nn_error(NN_ERR_INPUT, "%s/train has %d class folders but the model has %d classes (data.num_classes)",
                        root, n, classes);
    *names = (const char *const *)*owned;
    return NN_OK;
}

/* Decodes, transforms and classifies one image; probs gets the softmax. */
static nn_status classify(nn_run *run, const nn_transforms *tf, nn_image_decoder *dec, nn_transform_scratch *ts,
                          uint8_t **grey, size_t *grey_size, const char *path, double *probs)
{
    const nn_model_input *in = &run->model.input;
    nn_image img;
    NN_TRY(nn_image_decode(dec, path, &img));
    nn_transform_input src = {img.rgb, 3, img.height, img.width, 1};
    /* A grey dataset's model saw grey images, repeated or not. */
    if (run->dataset->channels == 1) {
        const size_t n = (size_t)img.height * img.width;
        if (n > *grey_size) {
            uint8_t *g = realloc(*grey, n);
            if (!g) return nn_error(NN_ERR_RUNTIME, "%s: out of memory", path);
            *grey = g;
            *grey_size = n;
        }
        nn_rgb_to_grey(img.rgb, (int64_t)n, *grey);
        src = (nn_transform_input){*grey, 1, img.height, img.width, 0};
    }
    nn_rng rng;
    nn_rng_seed(&rng, run->set.seed, 0);
    nn_status st = nn_transforms_apply(tf, ts, &src, &rng, run->x, in->height, in->width);
    if (st != NN_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", nn_error_message());
        return nn_error(st, "%s: %s", path, msg);
    }
    nn_arena_reset(&run->step_arena);
    nn_tape t;
    nn_tape_init(&t, &run->step_arena, 0, 0);
    nn_tensor *x = nn_tensor_view(t.arena, run->x, NN_SHAPE(1, in->channels, in->height, in->width));
    nn_tensor *logits = x ? run->model.def->forward(&run->model, &t, x) : NULL;
    if (!logits) return nn_error_status() == NN_OK ? NN_ERR_RUNTIME : nn_error_status();
    double top = -INFINITY, sum = 0.0;
    for (int k = 0; k < in->num_classes; k++) top = fmax(top, logits->data[k]);
    for (int k = 0; k < in->num_classes; k++) sum += probs[k] = exp(logits->data[k] - top);
    for (int k = 0; k < in->num_classes; k++) probs[k] /= sum;
    return NN_OK;
}

/* The k most probable classes, best first (ties: the lower index). */
static void top_k(const double *probs, int classes, int k, int *best)
{
    for (int i = 0; i < k; i++) {
        int b = -1;
        for (int c = 0; c < classes; c++) {
            int taken = 0;
            for (int j = 0; j < i; j++) taken |= best[j] == c;
            if (!taken && (b < 0 || probs[c] > probs[b])) b = c;
        }
        best[i] = b;
    }
}

static void print_result(const char *path, const double *probs, const int *best, int k,
                         const char *const *names, int json)
{
    char index[16];
    if (json) {
        printf("{\"image\": ");
        put_json_string(path);
        printf(", \"predictions\": [");
    } else {
        printf("%s:", path);
    }
    for (int i = 0; i < k; i++) {
        snprintf(index, sizeof index, "%d", best[i]);
        const char *name = names ? names[best[i]] : index;
        if (json) {
            printf("%s{\"class\": ", i ? ", " : "");
            put_json_string(name);
            printf(", \"index\": %d, \"probability\": %.6f}", best[i], probs[best[i]]);
        } else {
            printf("%s %s %.4f", i ? "," : "", name, probs[best[i]]);
        }
    }
    printf(json ? "]}\n" : "\n");
}

int cmd_predict(int argc, char **argv)
{
    cli_common c = {0};
    const char *checkpoint = NULL;
    const char *images[MAX_IMAGES];
    int n_images = 0, json = 0;
    long topk = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--checkpoint")) {
            if (i + 1 >= argc) return cli_usage_error("predict", "%s needs a value", a);
            checkpoint = argv[++i];
            continue;
        }
        if (!strcmp(a, "--topk")) {
            char *end;
            if (i + 1 >= argc || (topk = strtol(argv[++i], &end, 10), *end) || topk < 1)
                return cli_usage_error("predict", "--topk: expected a positive number");
            continue;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        /* The first positional is CONFIG, the others are images. */
        if (c.config_path && (a[0] != '-' || !a[1])) {
            if (n_images == MAX_IMAGES) return cli_usage_error("predict", "more than %d images", MAX_IMAGES);
            images[n_images++] = a;
            continue;
        }
        int r = cli_common_option(&c, argc, argv, &i, "predict");
        if (r < 0) return EXIT_USAGE;
        if (r == 0) return cli_usage_error("predict", "unknown option \"%s\"", a);
    }
    if (!checkpoint) return cli_usage_error("predict", "missing --checkpoint FILE");
    if (c.config_path && !n_images) return cli_usage_error("predict", "missing IMAGE (one or more PNG or JPEG files)");
    nn_config *cfg;
    nn_run run;
    int code = cli_setup(&c, "predict", &cfg, &run, NN_RUN_NO_DATA);
    if (!code) code = cli_config_done(cfg, &run);
    if (code) {
        nn_run_deinit(&run);
        nn_config_free(cfg);
        return code;
    }
    const int classes = run.model.input.num_classes;
    const int k = topk < classes ? (int)topk : classes;
    const char *const *names;
    char **owned = NULL;
    double *probs = malloc(sizeof *probs * (size_t)classes);
    int *best = malloc(sizeof *best * (size_t)k);
    uint8_t *grey = NULL;
    size_t grey_size = 0;
    nn_image_decoder dec;
    nn_transform_scratch ts;
    nn_image_decoder_init(&dec);
    nn_transform_scratch_init(&ts);
    /* The eval transforms, after a resize to the dataset's own image size
     * when it has one: the pipeline then sees what it saw in training. */
    nn_transforms tf = run.set.data.eval;
    const nn_dataset_def *d = run.dataset;
    if (d->height)
        nn_transforms_prepend(&tf, (nn_transform){.kind = NN_TRANSFORM_RESIZE, .height = d->height, .width = d->width, .antialias = 1});
    nn_status st = probs && best ? NN_OK : nn_error(NN_ERR_RUNTIME, "out of memory");
    if (st == NN_OK) st = nn_checkpoint_load_weights(checkpoint, &run.model.params);
    if (st == NN_OK) st = class_names(&run, classes, &names, &owned);
    for (int i = 0; i < n_images && st == NN_OK; i++) {
        st = classify(&run, &tf, &dec, &ts, &grey, &grey_size, images[i], probs);
        if (st != NN_OK) break;
        top_k(probs, classes, k, best);
        print_result(images[i], probs, best, k, names, json);
        fflush(stdout);
    }
    if (st != NN_OK) code = cli_fail(st);
    free(owned);
    free(probs);
    free(best);
    free(grey);
    nn_image_decoder_deinit(&dec);
    nn_transform_scratch_deinit(&ts);
    nn_run_deinit(&run);
    nn_config_free(cfg);
    return code;
}
