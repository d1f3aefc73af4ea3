#include "train/loss_choice.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"

const nn_train_loss_def nn_train_losses[NN_TRAIN_LOSS_COUNT] = {
    [NN_TRAIN_LOSS_CROSS_ENTROPY] = {"cross_entropy", "label_smoothing=0 ignore_index=-100 weight=null"},
    [NN_TRAIN_LOSS_NLL] = {"nll", "ignore_index=-100 weight=null (of log_softmax(logits))"},
    [NN_TRAIN_LOSS_BCE_WITH_LOGITS] = {"bce_with_logits", "weight=null pos_weight=null (one-hot targets)"},
    [NN_TRAIN_LOSS_MSE] = {"mse", "(of the logits, one-hot targets)"},
};

/* Largest class weight the config takes. */
#define MAX_CLASS_WEIGHT 1e6
/* Longest value quoted in a message, as the config getters quote. */
#define FOUND_MAX 48

/* The value at `path` in `root`, or NULL. */
static const cJSON *json_at(const cJSON *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = root;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, k) : NULL;
    return v;
}

/* `path`: null (or absent) or n numbers in [0, MAX_CLASS_WEIGHT], copied
 * into a; *out NULL for null. config.h's getters take neither null nor
 * arrays of more than 16 numbers, so the value is read from the config's
 * JSON and the key marked known here; the message has the getters' form. */
static nn_status read_class_weights(nn_config *cfg, const char *path, int n, nn_arena *a,
                                    const float **out)
{
    *out = NULL;
    nn_config_accept(cfg, path);
    if (!nn_config_has(cfg, path)) {
        /* The default, so that the resolved config shows the key. */
        char set[128];
        snprintf(set, sizeof set, "%s=null", path);
        return nn_config_set(cfg, set);
    }
    char *text = nn_config_to_json(cfg);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return nn_error(NN_ERR_RUNTIME, "config: out of memory");
    const cJSON *v = json_at(root, path);
    nn_status st = NN_OK;
    int ok = cJSON_IsNull(v) || (cJSON_IsArray(v) && cJSON_GetArraySize(v) == n);
    for (const cJSON *e = ok && cJSON_IsArray(v) ? v->child : NULL; e; e = e->next)
        ok &= cJSON_IsNumber(e) && e->valuedouble >= 0.0 && e->valuedouble <= MAX_CLASS_WEIGHT;
    if (!ok) {
        char *s = v ? cJSON_PrintUnformatted(v) : NULL;
        char found[FOUND_MAX + 8];
        if (!s) snprintf(found, sizeof found, "a value");
        else if (strlen(s) > FOUND_MAX) snprintf(found, sizeof found, "%.*s...", FOUND_MAX, s);
        else snprintf(found, sizeof found, "%s", s);
        free(s);
        st = nn_error(NN_ERR_INPUT, "%s: %s: expected null or an array of %d numbers in [0, %g] "
                      "(one per class), found %s", nn_config_origin(cfg), path, n,
                      MAX_CLASS_WEIGHT, found);
    } else if (!cJSON_IsNull(v)) {
        float *w = NN_ARENA_NEW(a, float, n);
        if (!w) {
            st = NN_ERR_RUNTIME;
        } else {
            int i = 0;
            for (const cJSON *e = v->child; e; e = e->next) w[i++] = (float)e->valuedouble;
            *out = w;
        }
    }
    cJSON_Delete(root);
    return st;
}

nn_status nn_train_loss_read(nn_train_loss *l, nn_config *cfg, int num_classes,
                             nn_arena *persistent)
{
    NN_ASSERT(num_classes >= 1);
    const char *names[NN_TRAIN_LOSS_COUNT + 1];
    for (int i = 0; i < NN_TRAIN_LOSS_COUNT; i++) names[i] = nn_train_losses[i].name;
    names[NN_TRAIN_LOSS_COUNT] = NULL;
    const char *name;
    NN_TRY(nn_config_string(cfg, "train.loss.name", "cross_entropy", names, &name));
    *l = (nn_train_loss){NN_TRAIN_LOSS_CROSS_ENTROPY, num_classes, -100, 0.0f, NULL, NULL};
    for (int i = 0; i < NN_TRAIN_LOSS_COUNT; i++)
        if (!strcmp(names[i], name)) l->kind = (nn_train_loss_kind)i;
    nn_train_loss_kind k = l->kind;
    if (k == NN_TRAIN_LOSS_CROSS_ENTROPY) {
        double x;
        NN_TRY(nn_config_number(cfg, "train.loss.label_smoothing", 0.0, 0.0, 1.0, &x));
        l->label_smoothing = (float)x;
    }
    if (k == NN_TRAIN_LOSS_CROSS_ENTROPY || k == NN_TRAIN_LOSS_NLL) {
        long v;
        NN_TRY(nn_config_int(cfg, "train.loss.ignore_index", -100, INT32_MIN, INT32_MAX, &v));
        l->ignore_index = (int)v;
    }
    if (k != NN_TRAIN_LOSS_MSE)
        NN_TRY(read_class_weights(cfg, "train.loss.weight", num_classes, persistent, &l->weight));
    if (k == NN_TRAIN_LOSS_BCE_WITH_LOGITS)
        NN_TRY(read_class_weights(cfg, "train.loss.pos_weight", num_classes, persistent,
                                  &l->pos_weight));
    return NN_OK;
}

/* One-hot rows of the labels, (n, c), in the tape's arena. */
static nn_tensor *one_hot(nn_tape *t, const int32_t *labels, int n, int c, const char *name)
{
    for (int r = 0; r < n; r++)
        if (labels[r] < 0 || labels[r] >= c) {
            nn_error(NN_ERR_INPUT, "%s: label %d of sample %d is outside [0, %d)", name, labels[r],
                     r, c);
            return NULL;
        }
    nn_tensor *y = nn_tensor_new(t->arena, NN_SHAPE(n, c));
    if (!y) return NULL;
    memset(y->data, 0, sizeof(float) * (size_t)n * (size_t)c);
    for (int r = 0; r < n; r++) y->data[(long)r * c + labels[r]] = 1.0f;
    return y;
}

nn_tensor *nn_train_loss_forward(const nn_train_loss *l, nn_tape *t, nn_tensor *logits,
                                 const int32_t *labels)
{
    if (!logits) return NULL;
    const char *name = nn_train_losses[l->kind].name;
    if (logits->ndim != 2 || logits->shape[1] != l->num_classes) {
        char s[64];
        nn_error(NN_ERR_INPUT, "train.loss %s: logits %s, expected (N, %d)", name,
                 nn_shape_str(s, sizeof s, logits->ndim, logits->shape), l->num_classes);
        return NULL;
    }
    int n = logits->shape[0], c = logits->shape[1];
    switch (l->kind) {
    case NN_TRAIN_LOSS_CROSS_ENTROPY:
        /* Without options this is nn_softmax_cross_entropy's own call. */
        return nn_cross_entropy_weighted(t, logits, labels, NN_REDUCTION_MEAN, l->ignore_index,
                                         l->label_smoothing, l->weight);
    case NN_TRAIN_LOSS_NLL:
        return nn_nll_loss_weighted(t, nn_log_softmax(t, logits, 1), labels, NN_REDUCTION_MEAN,
                                    l->ignore_index, l->weight);
    case NN_TRAIN_LOSS_BCE_WITH_LOGITS:
        return nn_bce_with_logits_weighted(t, logits, one_hot(t, labels, n, c, name),
                                           NN_REDUCTION_MEAN, l->weight, l->pos_weight);
    case NN_TRAIN_LOSS_MSE:
        return nn_mse_loss(t, logits, one_hot(t, labels, n, c, name), NN_REDUCTION_MEAN);
    case NN_TRAIN_LOSS_COUNT:
        break;
    }
    NN_ASSERT(!"not a train.loss kind");
    return NULL;
}
