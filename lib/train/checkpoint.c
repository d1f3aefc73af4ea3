#include "train/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static void state_key(char *buf, size_t size, const char *state, const char *param)
{
    snprintf(buf, size, "optimizer.%s.%s", state, param);
}

nn_status nn_checkpoint_save(const char *path, const nn_params *p, const nn_optimizer *o,
                             const nn_train_state *s, const char *config_json)
{
    int n_state = o ? o->def->n_state : 0, n_extra = o ? o->def->n_extra : 0;
    int n = p->count * (1 + n_state) + n_extra;
    nn_st_tensor *t = calloc((size_t)n, sizeof *t);
    char (*names)[320] = calloc((size_t)(p->count * n_state + n_extra) + 1, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory writing checkpoint", path);
    }
    int k = 0;
    for (int i = 0; i < p->count; i++) {
        const nn_tensor *x = p->items[i];
        t[k++] = (nn_st_tensor){x->name, x->data, x->ndim, x->shape};
    }
    for (int j = 0; j < n_state; j++)
        for (int i = 0; i < p->count; i++) {
            const nn_tensor *x = p->items[i];
            if (!x->requires_grad) continue;   /* a buffer: no optimizer state */
            char *name = names[j * p->count + i];
            state_key(name, sizeof names[0], o->def->state_names[j], x->name);
            t[k++] = (nn_st_tensor){name, o->state[j] + (x->data - p->values), x->ndim, x->shape};
        }
    nn_optim_extra extra[8];
    NN_ASSERT(n_extra <= 8);
    for (int j = 0; j < n_extra; j++) {
        o->def->extra(o, j, &extra[j]);
        char *name = names[p->count * n_state + j];
        snprintf(name, sizeof names[0], "optimizer.%s", extra[j].name);
        t[k++] = (nn_st_tensor){name, extra[j].data, extra[j].ndim, extra[j].shape};
    }
    char epoch[32], epoch_step[32], step[32], best[32], rng[40], opt_steps[32], early_best[32], early_bad[32];
    char scalar_keys[NN_OPTIM_MAX_SCALARS][96], scalars[NN_OPTIM_MAX_SCALARS][32];
    char sched_keys[NN_SCHEDULE_MAX_STATE][96], sched_values[NN_SCHEDULE_MAX_STATE][32];
    nn_st_meta meta[13 + NN_OPTIM_MAX_SCALARS + NN_SCHEDULE_MAX_STATE];
    int m = 0;
    meta[m++] = (nn_st_meta){"format", NN_CHECKPOINT_FORMAT};
    if (config_json) meta[m++] = (nn_st_meta){"config", config_json};
    if (s) {
        snprintf(epoch, sizeof epoch, "%d", s->epoch);
        snprintf(epoch_step, sizeof epoch_step, "%" PRId64, s->epoch_step);
        snprintf(step, sizeof step, "%" PRId64, s->step);
        snprintf(best, sizeof best, "%.17g", s->best_val_accuracy);
        nn_rng_format(&s->rng, rng, sizeof rng);
        meta[m++] = (nn_st_meta){"epoch", epoch};
        meta[m++] = (nn_st_meta){"epoch_step", epoch_step};
        meta[m++] = (nn_st_meta){"step", step};
        meta[m++] = (nn_st_meta){"best_val_accuracy", best};
        meta[m++] = (nn_st_meta){"rng", rng};
        snprintf(early_best, sizeof early_best, "%.17g", s->early_best);
        snprintf(early_bad, sizeof early_bad, "%d", s->early_bad_epochs);
        meta[m++] = (nn_st_meta){"early_stopping.best", early_best};
        meta[m++] = (nn_st_meta){"early_stopping.bad_epochs", early_bad};
        /* A schedule's own state (plateau's best, counters); the others are
         * functions of the epoch and step. %.17g reads back exactly. */
        const nn_schedule *sc = s->schedule;
        if (sc) {
            meta[m++] = (nn_st_meta){"schedule", sc->def->name};
            for (int j = 0; j < sc->def->n_state; j++) {
                snprintf(sched_keys[j], sizeof sched_keys[j], "schedule.%s", sc->def->state_names[j]);
                snprintf(sched_values[j], sizeof sched_values[j], "%.17g", sc->state[j]);
                meta[m++] = (nn_st_meta){sched_keys[j], sched_values[j]};
            }
        }
    }
    if (o) {
        snprintf(opt_steps, sizeof opt_steps, "%" PRId64, o->steps);
        meta[m++] = (nn_st_meta){"optimizer", o->def->name};
        meta[m++] = (nn_st_meta){"optimizer_steps", opt_steps};
        /* Scalar state (NAdam's mu_product): %.17g reads back to the same double. */
        for (int j = 0; j < o->def->n_scalars; j++) {
            snprintf(scalar_keys[j], sizeof scalar_keys[j], "optimizer.%s", o->def->scalar_names[j]);
            snprintf(scalars[j], sizeof scalars[j], "%.17g", o->scalar[j]);
            meta[m++] = (nn_st_meta){scalar_keys[j], scalars[j]};
        }
    }
    nn_status st = nn_safetensors_write(path, t, k, meta, m);
    free(t);
    free(names);
    return st;
}

/* Reads metadata `key` as an integer in [min, max]. */
static nn_status meta_int(const nn_safetensors *f, const char *path, const char *key, int64_t min,
                          int64_t max, int64_t *out)
{
    const char *v = nn_safetensors_meta(f, key);
    if (!v) return nn_error(NN_ERR_INPUT, "%s: not a training checkpoint: no `%s` in its metadata", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return nn_error(NN_ERR_INPUT, "%s: metadata `%s` is \"%s\", expected an integer in [%" PRId64 ", %" PRId64 "]",
                        path, key, v, min, max);
    *out = x;
    return NN_OK;
}

nn_status nn_checkpoint_load(const char *path, nn_params *p, nn_optimizer *o, nn_train_state *s)
{
    nn_safetensors *f;
    NN_TRY(nn_safetensors_open(&f, path));
    nn_status st = NN_OK;
    for (int i = 0; i < p->count && st == NN_OK; i++) {
        nn_tensor *x = p->items[i];
        st = nn_safetensors_read(f, x->name, x->ndim, x->shape, x->data);
    }
    if (st == NN_OK && o) {
        const char *name = nn_safetensors_meta(f, "optimizer");
        int64_t steps = 0;
        if (!name)
            st = nn_error(NN_ERR_INPUT, "%s: has no optimizer state to resume from (weights only?)", path);
        else if (strcmp(name, o->def->name))
            st = nn_error(NN_ERR_INPUT, "%s: optimizer state is for `%s`, the config says `%s`", path,
                          name, o->def->name);
        else
            st = meta_int(f, path, "optimizer_steps", 0, INT64_MAX, &steps);
        o->steps = steps;
        for (int j = 0; j < o->def->n_state && st == NN_OK; j++)
            for (int i = 0; i < p->count && st == NN_OK; i++) {
                nn_tensor *x = p->items[i];
                if (!x->requires_grad) continue;   /* a buffer: no optimizer state */
                char key[320];
                state_key(key, sizeof key, o->def->state_names[j], x->name);
                st = nn_safetensors_read(f, key, x->ndim, x->shape, o->state[j] + (x->data - p->values));
            }
        for (int j = 0; j < o->def->n_extra && st == NN_OK; j++) {
            nn_optim_extra e;
            o->def->extra(o, j, &e);
            char key[320];
            snprintf(key, sizeof key, "optimizer.%s", e.name);
            st = nn_safetensors_read(f, key, e.ndim, e.shape, e.data);
        }
        for (int j = 0; j < o->def->n_scalars && st == NN_OK; j++) {
            char key[96];
            snprintf(key, sizeof key, "optimizer.%s", o->def->scalar_names[j]);
            const char *v = nn_safetensors_meta(f, key);
            char *end = NULL;
            double x = v ? strtod(v, &end) : 0.0;
            if (!v)
                st = nn_error(NN_ERR_INPUT, "%s: no `%s` in its metadata (%s's state)", path, key,
                              o->def->name);
            else if (end == v || *end || !isfinite(x))
                st = nn_error(NN_ERR_INPUT, "%s: metadata `%s` is \"%s\", expected a finite number",
                              path, key, v);
            else
                o->scalar[j] = x;
        }
    }
    if (st == NN_OK && s) {
        int64_t epoch = 0, epoch_step = 0, step = 0;
        const char *rng = nn_safetensors_meta(f, "rng"), *best = nn_safetensors_meta(f, "best_val_accuracy");
        if ((st = meta_int(f, path, "epoch", 0, 1 << 30, &epoch)) == NN_OK &&
            (st = meta_int(f, path, "epoch_step", 0, INT64_MAX, &epoch_step)) == NN_OK &&
            (st = meta_int(f, path, "step", 0, INT64_MAX, &step)) == NN_OK) {
            if (!rng || nn_rng_parse(&s->rng, rng))
                st = nn_error(NN_ERR_INPUT, "%s: metadata `rng` is missing or not of the form <hex>:<hex>", path);
            else if (!best)
                st = nn_error(NN_ERR_INPUT, "%s: metadata `best_val_accuracy` is missing", path);
            nn_schedule *sc = s->schedule;
            for (int j = 0; sc && st == NN_OK && j < sc->def->n_state; j++) {
                char key[96];
                snprintf(key, sizeof key, "schedule.%s", sc->def->state_names[j]);
                const char *v = nn_safetensors_meta(f, key);
                char *end = NULL;
                double x = v ? strtod(v, &end) : 0.0;
                if (!v || end == v || *end || x != x)
                    st = nn_error(NN_ERR_INPUT, "%s: metadata `%s` is missing or not a number (the %s schedule's state)",
                                  path, key, sc->def->name);
                else
                    sc->state[j] = x;
            }
            /* Early stopping's state: absent in files that predate it. */
            const char *eb = nn_safetensors_meta(f, "early_stopping.best");
            int64_t bad = 0;
            if (st == NN_OK && nn_safetensors_meta(f, "early_stopping.bad_epochs"))
                st = meta_int(f, path, "early_stopping.bad_epochs", 0, 1 << 30, &bad);
            s->early_best = eb ? strtod(eb, NULL) : NAN;
            s->early_bad_epochs = (int)bad;
            s->epoch = (int)epoch;
            s->epoch_step = epoch_step;
            s->step = step;
            s->best_val_accuracy = best ? strtod(best, NULL) : -1.0;
        }
    }
    nn_safetensors_close(f);
    return st;
}

int nn_checkpoint_is_int_buffer(const char *name)
{
    static const char suffix[] = "num_batches_tracked";
    size_t n = strlen(name), k = sizeof suffix - 1;
    return n >= k && !strcmp(name + n - k, suffix) && (n == k || name[n - k - 1] == '.');
}

nn_status nn_checkpoint_save_state_dict(const char *path, const nn_params *p, const char *model_name,
                                        const char *config_json)
{
    nn_st_typed_tensor *t = calloc((size_t)p->count + 1, sizeof *t);
    int64_t *counts = calloc((size_t)p->count + 1, sizeof *counts);
    if (!t || !counts) {
        free(t);
        free(counts);
        return nn_error(NN_ERR_RUNTIME, "%s: out of memory writing the state_dict", path);
    }
    nn_status st = NN_OK;
    for (int i = 0; i < p->count && st == NN_OK; i++) {
        const nn_tensor *x = p->items[i];
        t[i] = (nn_st_typed_tensor){.name = x->name, .dtype = NN_ST_F32, .data = x->data,
                                    .ndim = x->ndim, .shape = x->shape};
        if (!nn_checkpoint_is_int_buffer(x->name) || x->numel != 1) continue;
        /* Whole and in range, so the conversion below is exact and defined. */
        float v = x->data[0];
        if (!(v >= 0.0f && v <= 9.0e18f && v == floorf(v)))
            st = nn_error(NN_ERR_INPUT, "%s: `%s` is %g, expected a count (a whole number >= 0)", path,
                          x->name, (double)v);
        counts[i] = (int64_t)v;
        t[i].dtype = NN_ST_I64;
        t[i].data = &counts[i];
    }
    nn_st_meta meta[3] = {{"format", NN_STATE_DICT_FORMAT}, {"nnzoo_model", model_name}};
    int m = 2;
    if (config_json) meta[m++] = (nn_st_meta){"nnzoo_config", config_json};
    if (st == NN_OK) st = nn_safetensors_write_typed(path, t, p->count, meta, m);
    free(t);
    free(counts);
    return st;
}

/* A counter read as a float, from I64 or F32. */
static nn_status read_count(const nn_safetensors *f, const char *path, const nn_tensor *x)
{
    const char *dtype = nn_safetensors_dtype(f, x->name);
    if (strcmp(dtype, "I64"))
        return strcmp(dtype, "F32")
            ? nn_error(NN_ERR_INPUT, "%s: tensor `%s`: dtype %s, expected I64 or F32", path, x->name, dtype)
            : nn_safetensors_read(f, x->name, x->ndim, x->shape, x->data);
    int64_t v;
    NN_TRY(nn_safetensors_read_i64(f, x->name, x->ndim, x->shape, &v));
    if (v < 0)
        return nn_error(NN_ERR_INPUT, "%s: `%s` is %" PRId64 ", expected a count (>= 0)", path, x->name, v);
    x->data[0] = (float)v;
    return NN_OK;
}

nn_status nn_checkpoint_load_weights(const char *path, nn_params *p)
{
    nn_safetensors *f;
    NN_TRY(nn_safetensors_open(&f, path));
    nn_status st = NN_OK;
    int missing = 0, unexpected = 0;
    const char *first = NULL;
    for (int i = 0; i < p->count; i++)
        if (!nn_safetensors_has(f, p->items[i]->name) && !missing++) first = p->items[i]->name;
    if (missing)
        st = nn_error(NN_ERR_INPUT,
                      "%s: missing key `%s` (%d of the model's %d keys are not in the file): is it a "
                      "checkpoint of another model?",
                      path, first, missing, p->count);
    /* A training checkpoint also holds the optimizer's state: not weights. */
    const char *format = nn_safetensors_meta(f, "format");
    int training = format && !strcmp(format, NN_CHECKPOINT_FORMAT);
    for (int i = 0; st == NN_OK && i < nn_safetensors_count(f); i++) {
        const char *name = nn_safetensors_name(f, i);
        if (training && !strncmp(name, "optimizer.", 10)) continue;
        if (!nn_params_find(p, name) && !unexpected++) first = name;
    }
    if (st == NN_OK && unexpected)
        st = nn_error(NN_ERR_INPUT,
                      "%s: unexpected key `%s` (%d keys in the file are not the model's): is it a "
                      "checkpoint of another model?",
                      path, first, unexpected);
    for (int i = 0; i < p->count && st == NN_OK; i++) {
        nn_tensor *x = p->items[i];
        st = nn_checkpoint_is_int_buffer(x->name) && x->numel == 1
            ? read_count(f, path, x)
            : nn_safetensors_read(f, x->name, x->ndim, x->shape, x->data);
    }
    nn_safetensors_close(f);
    return st;
}
