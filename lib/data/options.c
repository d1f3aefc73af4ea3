/* Reading data.* from the config. Most keys go through the config's typed
 * getters. Two things the getters cannot do are done on a copy of the
 * config's tree: telling a number from a list (data.mean) and reading lists
 * of objects (data.transforms, whose items are checked here, key by key,
 * with messages in the getters' style; data.transforms is then marked as
 * read for nn_config_check_unknown). */
#include "data/options.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"

#define MAX_SIDE 65535
#define MAX_PADDING 4096
/* Longest value quoted in a message. */
#define FOUND_MAX 48

static nn_status oom(void) { return nn_error(NN_ERR_RUNTIME, "config: out of memory"); }

/* A copy of the config as it stands (defaults inserted so far included). */
static nn_status snapshot(nn_config *cfg, cJSON **out)
{
    char *text = nn_config_to_json(cfg);
    *out = text ? cJSON_Parse(text) : NULL;
    free(text);
    return *out ? NN_OK : oom();
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static void describe(const cJSON *v, char *buf, size_t size)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(buf, size, "a value");
        return;
    }
    if (strlen(s) > FOUND_MAX) snprintf(buf, size, "%.*s...", FOUND_MAX, s);
    else snprintf(buf, size, "%s", s);
    free(s);
}

static nn_status found_error(const nn_config *cfg, const char *path, const char *expected,
                             const cJSON *found)
{
    char buf[FOUND_MAX + 8];
    describe(found, buf, sizeof buf);
    return nn_error(NN_ERR_INPUT, "%s: %s: expected %s, found %s", nn_config_origin(cfg), path, expected, buf);
}

/* data.mean / data.std: a number for every channel, or a list of one per
 * channel. The default goes in as a number when it is the same for all. */
static nn_status read_stats(nn_config *cfg, const cJSON *data, const char *key, int channels,
                            const float *def, double min, float *out)
{
    char path[64];
    snprintf(path, sizeof path, "data.%s", key);
    const double max = 1e3;
    const cJSON *v = get(data, key);
    int same = 1;
    for (int c = 1; c < channels; c++) same &= def[c] == def[0];
    double x[3], d[3];
    /* The shortest decimal of each float default, so that config.json says
     * 0.4914 rather than 0.49140000343322754 (it reads back as the same float). */
    for (int c = 0; c < 3; c++) {
        char text[32];
        snprintf(text, sizeof text, "%.7g", def[c]);
        d[c] = strtod(text, NULL);
    }
    if (cJSON_IsArray(v) || (!v && !same)) {
        const double lo[3] = {min, min, min}, hi[3] = {max, max, max};
        NN_TRY(nn_config_numbers(cfg, path, channels, d, lo, hi, 0, x));
    } else {
        NN_TRY(nn_config_number(cfg, path, d[0], min, max, &x[0]));
        x[1] = x[2] = x[0];
    }
    for (int c = 0; c < channels; c++) out[c] = (float)x[c];
    return NN_OK;
}

/* ---- data.transforms ---- */

/* The arguments each transform takes, besides "name". */
enum { ARG_SIZE = 1, ARG_PADDING = 2, ARG_ANTIALIAS = 4, ARG_SCALE = 8, ARG_RATIO = 16, ARG_P = 32 };
static const struct {
    int args, required;
} kinds[NN_TRANSFORM_COUNT] = {
    [NN_TRANSFORM_RESIZE] = {ARG_SIZE | ARG_ANTIALIAS, ARG_SIZE},
    [NN_TRANSFORM_CENTER_CROP] = {ARG_SIZE, ARG_SIZE},
    [NN_TRANSFORM_RANDOM_RESIZED_CROP] = {ARG_SIZE | ARG_SCALE | ARG_RATIO | ARG_ANTIALIAS, ARG_SIZE},
    [NN_TRANSFORM_RANDOM_CROP] = {ARG_SIZE | ARG_PADDING, ARG_SIZE},
    [NN_TRANSFORM_PAD] = {ARG_PADDING, ARG_PADDING},
    [NN_TRANSFORM_HORIZONTAL_FLIP] = {ARG_P, 0},
};
static const char *const arg_names[] = {"size", "padding", "antialias", "scale", "ratio", "p"};
enum { N_ARGS = sizeof arg_names / sizeof arg_names[0] };

static int is_int_in(const cJSON *v, int lo, int hi)
{
    return cJSON_IsNumber(v) && v->valuedouble == (double)(int)v->valuedouble && v->valuedouble >= lo &&
           v->valuedouble <= hi;
}

/* "size": N or [height, width]. */
static nn_status read_size(const nn_config *cfg, const char *path, const cJSON *v, int *h, int *w)
{
    if (is_int_in(v, 1, MAX_SIDE)) {
        *h = (int)v->valuedouble;
        *w = 0;
        return NN_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && is_int_in(v->child, 1, MAX_SIDE) &&
        is_int_in(v->child->next, 1, MAX_SIDE)) {
        *h = (int)v->child->valuedouble;
        *w = (int)v->child->next->valuedouble;
        return NN_OK;
    }
    return found_error(cfg, path, "an integer in [1, 65535] or [height, width] of such", v);
}

/* "scale" and "ratio": [lo, hi] with 0 < lo <= hi <= max. */
static nn_status read_range(const nn_config *cfg, const char *path, const cJSON *v, double max,
                            double *out)
{
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(v->child) &&
        cJSON_IsNumber(v->child->next)) {
        const double lo = v->child->valuedouble, hi = v->child->next->valuedouble;
        if (lo > 0.0 && lo <= hi && hi <= max) {
            out[0] = lo;
            out[1] = hi;
            return NN_OK;
        }
    }
    char expected[96];
    snprintf(expected, sizeof expected, "[low, high] with 0 < low <= high <= %g", max);
    return found_error(cfg, path, expected, v);
}

static nn_status read_transform(const nn_config *cfg, const char *where, const cJSON *item, nn_transform *op)
{
    char path[160], expected[256];
    if (!cJSON_IsObject(item))
        return found_error(cfg, where, "an object {\"name\": ..., arguments}", item);
    const cJSON *name = get(item, "name");
    size_t n = (size_t)snprintf(expected, sizeof expected, "one of");
    for (int k = 0; k < NN_TRANSFORM_COUNT; k++)
        n += (size_t)snprintf(expected + n, sizeof expected - n, "%s %s", k ? "," : "", nn_transform_names[k]);
    snprintf(path, sizeof path, "%s.name", where);
    if (!name) return nn_error(NN_ERR_INPUT, "%s: %s: missing; expected %s", nn_config_origin(cfg), path, expected);
    int kind = -1;
    for (int k = 0; k < NN_TRANSFORM_COUNT && cJSON_IsString(name); k++)
        if (!strcmp(name->valuestring, nn_transform_names[k])) kind = k;
    if (kind < 0) return found_error(cfg, path, expected, name);

    *op = (nn_transform){.kind = kind, .antialias = 1, .scale = {0.08, 1.0},
                         .ratio = {3.0 / 4.0, 4.0 / 3.0}, .p = 0.5};
    const int args = kinds[kind].args;
    for (const cJSON *a = item->child; a; a = a->next) {
        if (!strcmp(a->string, "name")) continue;
        int bit = 0;
        for (int i = 0; i < N_ARGS; i++)
            if (!strcmp(a->string, arg_names[i])) bit = 1 << i;
        if (!(bit & args)) {
            n = 0;
            expected[0] = '\0';
            for (int i = 0; i < N_ARGS; i++)
                if (args & (1 << i)) n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s", n ? ", " : "", arg_names[i]);
            return nn_error(NN_ERR_INPUT, "%s: %s: unknown key `%s` for %s (it takes: %s)", nn_config_origin(cfg),
                            where, a->string, nn_transform_names[kind], expected);
        }
        snprintf(path, sizeof path, "%s.%s", where, a->string);
        switch (bit) {
        case ARG_SIZE:
            NN_TRY(read_size(cfg, path, a, &op->height, &op->width));
            break;
        case ARG_PADDING:
            if (!is_int_in(a, 0, MAX_PADDING)) return found_error(cfg, path, "an integer in [0, 4096]", a);
            op->padding = (int)a->valuedouble;
            break;
        case ARG_ANTIALIAS:
            if (!cJSON_IsBool(a)) return found_error(cfg, path, "true or false", a);
            op->antialias = cJSON_IsTrue(a);
            break;
        case ARG_SCALE:
            NN_TRY(read_range(cfg, path, a, 1.0, op->scale));
            break;
        case ARG_RATIO:
            NN_TRY(read_range(cfg, path, a, 100.0, op->ratio));
            break;
        case ARG_P:
            if (!cJSON_IsNumber(a) || !(a->valuedouble >= 0.0 && a->valuedouble <= 1.0))
                return found_error(cfg, path, "a number in [0, 1]", a);
            op->p = a->valuedouble;
            break;
        }
    }
    for (int i = 0; i < N_ARGS; i++)
        if ((kinds[kind].required & (1 << i)) && !get(item, arg_names[i]))
            return nn_error(NN_ERR_INPUT, "%s: %s.%s: missing; %s needs it", nn_config_origin(cfg), where,
                            arg_names[i], nn_transform_names[kind]);
    /* Crops of one number are square; resize's one number is the shorter side. */
    if (kind != NN_TRANSFORM_RESIZE && !op->width) op->width = op->height;
    return NN_OK;
}

/* data.transforms.<split>: `def` (a JSON list, or NULL for none) when
 * absent, put into the config so that the resolved config shows it. */
static nn_status read_list(nn_config *cfg, const cJSON *transforms, const char *split,
                           const char *def, nn_transforms *t)
{
    char path[96];
    snprintf(path, sizeof path, "data.transforms.%s", split);
    const cJSON *list = get(transforms, split);
    cJSON *parsed = NULL;
    if (!list && def) {
        char assignment[512];
        snprintf(assignment, sizeof assignment, "%s=%s", path, def);
        NN_TRY(nn_config_set(cfg, assignment));
        list = parsed = cJSON_Parse(def);
        if (!parsed) return oom();
    }
    nn_status st = NN_OK;
    if (list && !cJSON_IsArray(list)) st = found_error(cfg, path, "a list of transforms [{\"name\": ...}, ...]", list);
    const int room = NN_TRANSFORMS_MAX - t->n;
    if (st == NN_OK && list && cJSON_GetArraySize(list) > room) {
        char expected[64];
        snprintf(expected, sizeof expected, "at most %d transforms", room);
        st = found_error(cfg, path, expected, list);
    }
    int i = 0;
    for (const cJSON *item = list ? list->child : NULL; item && st == NN_OK; item = item->next, i++) {
        char where[128];
        snprintf(where, sizeof where, "%s[%d]", path, i);
        nn_transform op;
        st = read_transform(cfg, where, item, &op);
        if (st == NN_OK) nn_transforms_add(t, op);
    }
    cJSON_Delete(parsed);
    return st;
}

/* ---- the whole section ---- */

static nn_status read_options(nn_data_options *o, nn_config *cfg, const nn_dataset_def *d, const cJSON *tree)
{
    const char *origin = nn_config_origin(cfg);
    const cJSON *data = get(tree, "data");
    long v;
    NN_TRY(nn_config_int(cfg, "data.channels", d->channels, 1, 3, &v));
    if (v == 2) return nn_error(NN_ERR_INPUT, "%s: data.channels: expected 1 or 3, found 2", origin);
    const int channels = (int)v;
    NN_TRY(nn_config_int(cfg, "data.resize", 0, 0, MAX_SIDE, &v));
    const int resize = (int)v;
    NN_TRY(nn_config_int(cfg, "data.pad", 0, 0, MAX_PADDING, &v));
    const int pad = (int)v;

    /* Colour statistics made grey are averaged: a documented approximation
     * for the rare grey run of a colour dataset. */
    float mean_def[3], std_def[3];
    const int rgb = d->rgb_std[0] > 0.0f;
    for (int c = 0; c < 3; c++) {
        mean_def[c] = !rgb ? d->mean : channels == 3 ? d->rgb_mean[c] : (d->rgb_mean[0] + d->rgb_mean[1] + d->rgb_mean[2]) / 3.0f;
        std_def[c] = !rgb ? d->std : channels == 3 ? d->rgb_std[c] : (d->rgb_std[0] + d->rgb_std[1] + d->rgb_std[2]) / 3.0f;
    }
    float mean[3], std[3];
    NN_TRY(read_stats(cfg, data, "mean", channels, mean_def, -1e3, mean));
    NN_TRY(read_stats(cfg, data, "std", channels, std_def, 1e-6, std));

    NN_TRY(nn_config_int(cfg, "data.workers", 1, 0, 64, &v));
    o->workers = (int)v;
    NN_TRY(nn_config_bool(cfg, "data.skip_corrupt", 0, &o->skip_corrupt));
    NN_TRY(nn_config_int(cfg, "data.num_classes", d->num_classes, 0, 1 << 20, &v));
    if (d->num_classes && v != d->num_classes)
        return nn_error(NN_ERR_INPUT, "%s: data.num_classes: %s has %d classes, found %ld", origin, d->name,
                        d->num_classes, v);
    o->num_classes = (int)v;

    nn_transforms *lists[2] = {&o->train, &o->eval};
    for (int k = 0; k < 2; k++) {
        nn_transforms_init(lists[k], channels, mean, std);
        if (resize) nn_transforms_add(lists[k], (nn_transform){.kind = NN_TRANSFORM_RESIZE, .height = resize, .width = resize, .antialias = 1});
        if (pad) nn_transforms_add(lists[k], (nn_transform){.kind = NN_TRANSFORM_PAD, .padding = pad});
    }
    const cJSON *transforms = get(data, "transforms");
    if (transforms && !cJSON_IsObject(transforms))
        return found_error(cfg, "data.transforms", "an object {\"train\": [...], \"eval\": [...]}", transforms);
    for (const cJSON *k = transforms ? transforms->child : NULL; k; k = k->next)
        if (strcmp(k->string, "train") && strcmp(k->string, "eval"))
            return nn_error(NN_ERR_INPUT, "%s: unknown key `data.transforms.%s` (valid keys in data.transforms: train, eval)",
                            origin, k->string);
    /* Images of varying size get torchvision's ImageNet recipe by default,
     * at data.image_size (eval resizes to image_size / 0.875, 256 for 224);
     * the other datasets no transforms. */
    char train_def[256] = "", eval_def[256] = "";
    if (!d->height) {
        NN_TRY(nn_config_int(cfg, "data.image_size", 224, 1, MAX_SIDE, &v));
        snprintf(train_def, sizeof train_def,
                 "[{\"name\": \"random_resized_crop\", \"size\": %ld}, {\"name\": \"random_horizontal_flip\"}]", v);
        snprintf(eval_def, sizeof eval_def, "[{\"name\": \"resize\", \"size\": %ld}, {\"name\": \"center_crop\", \"size\": %ld}]",
                 (long)(v / 0.875 + 0.5), v);
    }
    NN_TRY(read_list(cfg, transforms, "train", train_def[0] ? train_def : NULL, &o->train));
    NN_TRY(read_list(cfg, transforms, "eval", eval_def[0] ? eval_def : NULL, &o->eval));
    nn_config_accept(cfg, "data.transforms");

    int th, tw, eh, ew;
    nn_transforms_shape(&o->train, d->height, d->width, &th, &tw);
    nn_transforms_shape(&o->eval, d->height, d->width, &eh, &ew);
    if (!th || !eh)
        return nn_error(NN_ERR_INPUT,
                        "%s: data.transforms.%s: %s images vary in size and these transforms do not fix it; "
                        "end them with center_crop, random_resized_crop or random_crop, or set data.resize",
                        origin, !th ? "train" : "eval", d->name);
    if (th != eh || tw != ew)
        return nn_error(NN_ERR_INPUT,
                        "%s: data.transforms: the train transforms give %dx%d images but the eval transforms %dx%d; "
                        "the model needs one size",
                        origin, th, tw, eh, ew);
    o->channels = channels;
    o->height = th;
    o->width = tw;
    return NN_OK;
}

nn_status nn_data_options_read(nn_data_options *o, nn_config *cfg, const nn_dataset_def *d)
{
    memset(o, 0, sizeof *o);
    cJSON *tree;
    NN_TRY(snapshot(cfg, &tree));
    nn_status st = read_options(o, cfg, d, tree);
    cJSON_Delete(tree);
    return st;
}
