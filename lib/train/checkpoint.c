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
    int n_state = o ? o->def->n_state : 0;
    int n = p->count * (1 + n_state);
    nn_st_tensor *t = calloc((size_t)n, sizeof *t);
    char (*names)[320] = calloc((size_t)(p->count * n_state) + 1, sizeof *names);
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
    char epoch[32], epoch_step[32], step[32], best[32], rng[40], opt_steps[32];
    char scalar_keys[NN_OPTIM_MAX_SCALARS][96], scalars[NN_OPTIM_MAX_SCALARS][32];
    char sched_keys[NN_SCHEDULE_MAX_STATE][96], sched_values[NN_SCHEDULE_MAX_STATE][32];
    nn_st_meta meta[11 + NN_OPTIM_MAX_SCALARS + NN_SCHEDULE_MAX_STATE];
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
            s->epoch = (int)epoch;
            s->epoch_step = epoch_step;
            s->step = step;
            s->best_val_accuracy = best ? strtod(best, NULL) : -1.0;
        }
    }
    nn_safetensors_close(f);
    return st;
}
