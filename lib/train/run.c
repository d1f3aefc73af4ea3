#include "train/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "ops/ops.h"
#include "core/clock.h"
#include "core/threads.h"
#include "optim/clip.h"
#include "train/init_choice.h"
#include "train/progress.h"

/* RNG streams: parameter init and stochastic ops draw apart. */
enum { STREAM_INIT = 0, STREAM_TRAIN = 2 };

static const char *const metric_names[] = {
    [NN_RUN_METRIC_VAL_LOSS] = "val_loss",
    [NN_RUN_METRIC_VAL_ACCURACY] = "val_accuracy",
    [NN_RUN_METRIC_TRAIN_LOSS] = "train_loss",
    [NN_RUN_METRIC_TRAIN_ACCURACY] = "train_accuracy",
    NULL,
};

/* train.early_stopping.{metric, patience, min_delta}, as Keras's and
 * Lightning's EarlyStopping. */
static nn_status read_early_stopping(nn_run_settings *s, nn_config *cfg)
{
    long v;
    const char *name;
    NN_TRY(nn_config_string(cfg, "train.early_stopping.metric", "val_loss", metric_names, &name));
    for (int i = 0; metric_names[i]; i++)
        if (!strcmp(metric_names[i], name)) s->early_metric = i;
    NN_TRY(nn_config_int(cfg, "train.early_stopping.patience", 0, 0, 1000000, &v));
    s->early_patience = (int)v;
    NN_TRY(nn_config_number(cfg, "train.early_stopping.min_delta", 0.0, 0.0, 1e9, &s->early_min_delta));
    if (s->early_patience && s->val_size == 0 &&
        (s->early_metric == NN_RUN_METRIC_VAL_LOSS || s->early_metric == NN_RUN_METRIC_VAL_ACCURACY))
        return nn_error(NN_ERR_INPUT, "%s: train.early_stopping.metric: %s needs a validation split (data.val_size > 0)",
                        nn_config_origin(cfg), name);
    return NN_OK;
}

static nn_status read_settings(nn_run_settings *s, nn_config *cfg, const nn_dataset_def *d)
{
    long v;
    const char *str;
    NN_TRY(nn_config_int(cfg, "train.epochs", 10, 1, 1000000, &v));
    s->epochs = (int)v;
    NN_TRY(nn_config_int(cfg, "train.batch_size", 64, 1, 1 << 16, &v));
    s->batch_size = (int)v;
    NN_TRY(nn_config_int(cfg, "train.eval_batch_size", 1000, 1, 1 << 16, &v));
    s->eval_batch_size = (int)v;
    NN_TRY(nn_config_int(cfg, "train.max_steps", 0, 0, 1L << 40, &v));
    s->max_steps = v;
    NN_TRY(nn_config_int(cfg, "train.log_every", 100, 1, 1L << 30, &v));
    s->log_every = (int)v;
    NN_TRY(nn_config_int(cfg, "train.seed", 42, 0, 1L << 53, &v));
    s->seed = (uint64_t)v;
    NN_TRY(nn_config_string(cfg, "data.root", "", NULL, &str));
    snprintf(s->data_root, sizeof s->data_root, "%s", str);
    NN_TRY(nn_config_int(cfg, "data.val_size", 5000, 0, 1L << 31, &v));
    s->val_size = v;
    NN_TRY(nn_config_int(cfg, "data.train_limit", 0, 0, 1L << 31, &v));
    s->train_limit = v;
    NN_TRY(nn_config_bool(cfg, "data.shuffle", 1, &s->shuffle));
    NN_TRY(nn_data_options_read(&s->data, cfg, d));
    return read_early_stopping(s, cfg);
}

/* train.optimizer.*: the optimizer and its hyperparameters, checked as
 * torch.optim checks them; and what happens to the gradients between
 * backward and the step: train.l1, train.clip_grad_value, train.clip_grad_norm
 * (0: off). */
static nn_status read_optimizer(nn_optimizer *o, nn_run_settings *s, nn_config *cfg, nn_params *p)
{
    enum { MAX_NAMES = 32 };
    const char *names[MAX_NAMES + 1];
    int n = 0;
    for (; nn_optimizers[n]; n++) {
        NN_ASSERT(n < MAX_NAMES);
        names[n] = nn_optimizers[n]->name;
    }
    names[n] = NULL;
    const char *name;
    NN_TRY(nn_config_string(cfg, "train.optimizer.name", "sgd", names, &name));
    const nn_optimizer_def *def = nn_optimizer_find(name);
    double hp[NN_OPTIM_MAX_HPARAMS];
    for (int i = 0; i < def->n_hparams; i++) {
        const nn_hparam *h = &def->hparams[i];
        char path[128];
        snprintf(path, sizeof path, "train.optimizer.%s", h->name);
        if (h->type == NN_HPARAM_BOOL) {
            int b;
            NN_TRY(nn_config_bool(cfg, path, h->def != 0.0, &b));
            hp[i] = b;
        } else if (h->type == NN_HPARAM_CHOICE) {
            const char *choice;
            NN_TRY(nn_config_string(cfg, path, h->choices[(int)h->def], h->choices, &choice));
            for (int c = 0; h->choices[c]; c++)
                if (!strcmp(h->choices[c], choice)) hp[i] = c;
        } else if (h->type == NN_HPARAM_PAIR) {
            /* The pair is this entry and the next (NN_HPARAM_PAIR_SECOND). */
            const double defaults[2] = {h[0].def, h[1].def};
            const double min[2] = {h[0].min, h[1].min}, max[2] = {h[0].max, h[1].max};
            const int open = (h->open & NN_HPARAM_OPEN_MIN ? NN_CONFIG_OPEN_MIN : 0) |
                             (h->open & NN_HPARAM_OPEN_MAX ? NN_CONFIG_OPEN_MAX : 0);
            NN_TRY(nn_config_numbers(cfg, path, 2, defaults, min, max, open, &hp[i]));
            i++;
        } else {
            NN_TRY(nn_config_number(cfg, path, h->def, h->min, h->max, &hp[i]));
        }
    }
    const char *why = NULL;
    const int bad = def->check ? def->check(hp, &why) : -1;
    if (bad >= 0)
        return nn_error(NN_ERR_INPUT, "%s: train.optimizer.%s: %s", nn_config_origin(cfg),
                        def->hparams[bad].name, why);
    NN_TRY(nn_config_number(cfg, "train.l1", 0.0, 0.0, 1e6, &s->l1));
    NN_TRY(nn_config_number(cfg, "train.clip_grad_value", 0.0, 0.0, 1e6, &s->clip_grad_value));
    NN_TRY(nn_config_number(cfg, "train.clip_grad_norm", 0.0, 0.0, 1e6, &s->clip_grad_norm));
    return nn_optimizer_init(o, def, p, hp);
}

/* train.schedule.*: the lr schedule (default constant) and its PyTorch-named
 * hyperparameters, then warm-up and interval; checked as PyTorch checks. */
static nn_status read_schedule(nn_run *r, nn_config *cfg)
{
    const char *names[16];
    int n = 0;
    for (; nn_schedules[n]; n++) {
        NN_ASSERT(n < 15);
        names[n] = nn_schedules[n]->name;
    }
    names[n] = NULL;
    const char *name;
    NN_TRY(nn_config_string(cfg, "train.schedule.name", "constant", names, &name));
    const nn_schedule_def *def = nn_schedule_find(name);
    double hp[NN_SCHEDULE_MAX_HPARAMS], list[NN_SCHEDULE_MAX_LIST];
    for (int i = 0; i < def->n_hparams; i++) {
        const nn_schedule_hparam *h = &def->hparams[i];
        char path[128];
        snprintf(path, sizeof path, "train.schedule.%s", h->name);
        if (h->required && !nn_config_has(cfg, path))
            return nn_error(NN_ERR_INPUT, "%s: %s: missing; the %s schedule needs it",
                            nn_config_origin(cfg), path, def->name);
        long v;
        int b;
        const char *choice;
        switch (h->type) {
        case NN_SCHEDULE_HPARAM_NUMBER:
            NN_TRY(nn_config_number(cfg, path, h->def, h->min, h->max, &hp[i]));
            break;
        case NN_SCHEDULE_HPARAM_INT:
            NN_TRY(nn_config_int(cfg, path, (long)h->def, (long)h->min, (long)h->max, &v));
            hp[i] = (double)v;
            break;
        case NN_SCHEDULE_HPARAM_BOOL:
            NN_TRY(nn_config_bool(cfg, path, h->def != 0.0, &b));
            hp[i] = b;
            break;
        case NN_SCHEDULE_HPARAM_CHOICE:
            NN_TRY(nn_config_string(cfg, path, h->choices[(int)h->def], h->choices, &choice));
            for (int c = 0; h->choices[c]; c++)
                if (!strcmp(h->choices[c], choice)) hp[i] = c;
            break;
        case NN_SCHEDULE_HPARAM_LIST: {
            long items[NN_SCHEDULE_MAX_LIST];
            int count;
            NN_TRY(nn_config_int_list(cfg, path, NN_SCHEDULE_MAX_LIST, (long)h->min, (long)h->max, items, &count));
            for (int k = 0; k < count; k++) list[k] = (double)items[k];
            hp[i] = count;
            break;
        }
        }
    }
    const char *why = NULL;
    int bad = nn_schedule_check(def, hp, list, &why);
    if (bad >= 0)
        return nn_error(NN_ERR_INPUT, "%s: train.schedule.%s: %s", nn_config_origin(cfg),
                        def->hparams[bad].name, why);
    nn_schedule_init(&r->sched, def, hp, list, r->opt.lr);
    /* A cycled momentum goes where PyTorch puts it: `momentum`, or the first
     * of `betas`. */
    r->sched_momentum = -1;
    for (int i = 0; i < r->opt.def->n_hparams; i++)
        if (!strcmp(r->opt.def->hparams[i].name, "momentum") || !strcmp(r->opt.def->hparams[i].name, "betas"))
            r->sched_momentum = i;
    double m;
    if (nn_schedule_momentum(&r->sched, 0, &m) && r->sched_momentum < 0)
        return nn_error(NN_ERR_INPUT, "%s: train.schedule.cycle_momentum: the %s optimizer has no momentum or betas to cycle",
                        nn_config_origin(cfg), r->opt.def->name);
    r->state.schedule = &r->sched;
    return NN_OK;
}

/* Sets the optimizer's lr (and a cycled momentum) for the coming update,
 * from the schedule at this epoch or step. */
static void apply_schedule(nn_run *r)
{
    int64_t tick = r->sched.interval == NN_SCHEDULE_STEP ? r->state.step : r->state.epoch;
    r->opt.lr = nn_schedule_lr(&r->sched, tick);
    double m;
    if (r->sched_momentum >= 0 && nn_schedule_momentum(&r->sched, tick, &m)) r->opt.hp[r->sched_momentum] = m;
}

/* Between backward and the update: the L1 penalty's gradient, then clipping
 * by value, then by norm, as a PyTorch loop would do them. */
static void treat_gradients(const nn_run_settings *s, nn_params *p)
{
    if (s->l1 > 0.0) nn_clip_add_l1(p, (float)s->l1);
    if (s->clip_grad_value > 0.0) nn_clip_grad_value(p, (float)s->clip_grad_value);
    if (s->clip_grad_norm > 0.0) nn_clip_grad_norm(p, (float)s->clip_grad_norm);
}

static nn_status load_data(nn_run *r, nn_config *cfg)
{
    char root[4096];
    NN_TRY(nn_dataset_resolve_root(r->dataset, r->set.data_root, root, sizeof root));
    NN_TRY(r->dataset->load(&r->train_split, &r->test_split, root));
    r->have_data = 1;
    nn_run_settings *s = &r->set;
    if (s->data.num_classes && s->data.num_classes != r->train_split.num_classes)
        return nn_error(NN_ERR_INPUT, "%s: data.num_classes: %d, but %s has %d classes", nn_config_origin(cfg),
                        s->data.num_classes, root, r->train_split.num_classes);
    int64_t n = r->train_split.count;
    if (s->train_limit && s->train_limit < n) n = s->train_limit;
    if (s->val_size >= n)
        return nn_error(NN_ERR_INPUT, "%s: data.val_size: %lld leaves no training samples (%lld available)",
                        nn_config_origin(cfg), (long long)s->val_size, (long long)n);
    int32_t *train_idx, *val_idx, *test_idx;
    int64_t train_count;
    NN_TRY(nn_split_train_val(&r->persistent, n, s->val_size, s->seed, &train_idx, &train_count, &val_idx));
    test_idx = NN_ARENA_NEW(&r->persistent, int32_t, r->test_split.count);
    if (!test_idx) return NN_ERR_RUNTIME;
    for (int64_t i = 0; i < r->test_split.count; i++) test_idx[i] = (int32_t)i;
    const nn_data_options *d = &s->data;
    NN_TRY(nn_loader_init(&r->train, &r->persistent, &r->train_split, train_idx, train_count,
                          s->batch_size, s->shuffle, s->seed, &d->train, d->skip_corrupt));
    NN_TRY(nn_loader_init(&r->val, &r->persistent, &r->train_split, val_idx, s->val_size,
                          s->eval_batch_size, 0, s->seed, &d->eval, d->skip_corrupt));
    NN_TRY(nn_loader_init(&r->test, &r->persistent, &r->test_split, test_idx, r->test_split.count,
                          s->eval_batch_size, 0, s->seed, &d->eval, d->skip_corrupt));
    const int most = s->batch_size > s->eval_batch_size ? s->batch_size : s->eval_batch_size;
    NN_TRY(nn_prefetch_create(&r->prefetch, d->workers, most, nn_loader_sample_size(&r->train)));
    nn_loader_use(&r->train, r->prefetch);
    nn_loader_use(&r->val, r->prefetch);
    nn_loader_use(&r->test, r->prefetch);
    return NN_OK;
}

/* The number of classes without the data: the dataset's, data.num_classes,
 * or the class folders under the data folder (image folders). */
static nn_status classes_without_data(nn_run *r, int *out)
{
    const nn_dataset_def *d = r->dataset;
    *out = d->num_classes ? d->num_classes : r->set.data.num_classes;
    if (*out) return NN_OK;
    char root[4096], **names = NULL;
    nn_status st = d->list_classes ? nn_dataset_resolve_root(d, r->set.data_root, root, sizeof root) : NN_ERR_INPUT;
    if (st == NN_OK) st = d->list_classes(root, &names, out);
    free(names);
    if (st == NN_OK) return NN_OK;
    /* The reason is in the message buffer that nn_error writes: copy it. */
    char why[1024];
    snprintf(why, sizeof why, "%s", d->list_classes ? nn_error_message() : "no data folder");
    return nn_error(NN_ERR_INPUT, "data.num_classes: %s finds its classes in the data, which is not read here; "
                    "set data.num_classes (%s)", d->name, why);
}

nn_status nn_run_setup(nn_run *r, nn_config *cfg, const nn_model_def *model,
                       const nn_dataset_def *dataset, nn_run_data data)
{
    memset(r, 0, sizeof *r);
    nn_arena_init(&r->persistent, "persistent", 0);
    nn_arena_init(&r->step_arena, "step", 0);
    r->dataset = dataset;
    NN_TRY(read_settings(&r->set, cfg, dataset));
    if (data == NN_RUN_LOAD_DATA) NN_TRY(load_data(r, cfg));

    nn_model *m = &r->model;
    m->def = model;
    /* The sample shape follows from the dataset and data.* alone (resize,
     * pad, channels, transforms), so it is the same with or without data. */
    const nn_data_options *dopt = &r->set.data;
    int classes = r->have_data ? r->train_split.num_classes : 0;
    if (!r->have_data) NN_TRY(classes_without_data(r, &classes));
    m->input = (nn_model_input){dopt->channels, dopt->height, dopt->width, classes};
    nn_params_init(&m->params, &r->persistent);
    NN_TRY(model->build(m, cfg));
    NN_TRY(nn_init_choice_apply(&m->params, cfg));
    nn_rng init_rng;
    nn_rng_seed(&init_rng, r->set.seed, STREAM_INIT);
    NN_TRY(nn_params_finalize(&m->params, &init_rng));
    NN_TRY(read_optimizer(&r->opt, &r->set, cfg, &m->params));
    NN_TRY(read_schedule(r, cfg));
    NN_TRY(nn_train_loss_read(&r->loss, cfg, m->input.num_classes, &r->persistent));

    int most = r->set.batch_size > r->set.eval_batch_size ? r->set.batch_size : r->set.eval_batch_size;
    long per = (long)m->input.channels * m->input.height * m->input.width;
    r->x = NN_ARENA_NEW(&r->persistent, float, per * most);
    r->y = NN_ARENA_NEW(&r->persistent, int32_t, most);
    if (!r->x || !r->y) return NN_ERR_RUNTIME;
    r->state.best_val_accuracy = -1.0;
    r->state.early_best = NAN;
    nn_rng_seed(&r->state.rng, r->set.seed, STREAM_TRAIN);
    return NN_OK;
}

void nn_run_deinit(nn_run *r)
{
    nn_prefetch_free(r->prefetch);
    if (r->have_data) {
        nn_image_split_deinit(&r->train_split);
        nn_image_split_deinit(&r->test_split);
    }
    free(r->config_json);
    nn_arena_deinit(&r->step_arena);
    nn_arena_deinit(&r->persistent);
}

void nn_run_set_config_json(nn_run *r, char *json)
{
    free(r->config_json);
    r->config_json = json;
}

/* Logits for n images (no tape recording when !train). */
static nn_tensor *forward(nn_run *r, nn_tape *t, const float *x, int n)
{
    const nn_model_input *in = &r->model.input;
    nn_tensor *xt = nn_tensor_view(t->arena, (float *)x, NN_SHAPE(n, in->channels, in->height, in->width));
    if (!xt) return NULL;
    return r->model.def->forward(&r->model, t, xt);
}

static int count_correct(const nn_tensor *logits, const int32_t *y)
{
    int n = logits->shape[0], c = logits->shape[1], hits = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits->data + (long)i * c;
        int best = 0;
        for (int j = 1; j < c; j++)
            if (row[j] > row[best]) best = j;
        hits += best == y[i];
    }
    return hits;
}

static nn_status failed(void)
{
    nn_status st = nn_error_status();
    return st == NN_OK ? NN_ERR_RUNTIME : st;
}

/* The profile row of the parameter update (zero_grad + optimizer step). */
static const nn_op_def update_row = {"(optimizer update)", NULL};

/* One evaluation of the loss and its gradient on the batch (the closure
 * of closure-based optimizers; plain ones call it once). The first call of
 * a step reports the loss and the hits. */
typedef struct step_batch {
    nn_run *r;
    const float *x;
    const int32_t *y;
    int n;
    int evaluations;
    float loss;
    int correct;
} step_batch;

static nn_status loss_and_gradient(void *ctx, float *loss_out)
{
    step_batch *b = ctx;
    nn_run *r = b->r;
    nn_arena_reset(&r->step_arena);
    nn_tape t;
    nn_tape_init(&t, &r->step_arena, 1, 1);
    /* Dropout masks: one base seed per evaluation from the checkpointed RNG. */
    t.seed = (uint64_t)nn_rng_u32(&r->state.rng) << 32 | nn_rng_u32(&r->state.rng);
    if (r->profile) nn_tape_profile(&t, r->profile);
    nn_tensor *logits = forward(r, &t, b->x, b->n);
    nn_tensor *loss = nn_train_loss_forward(&r->loss, &t, logits, b->y);
    if (!loss) return failed();
    *loss_out = loss->data[0];
    if (b->evaluations++ == 0) {
        b->loss = loss->data[0];
        b->correct = count_correct(logits, b->y);
    }
    if (!isfinite(loss->data[0])) return nn_error(NN_ERR_RUNTIME, "the loss is not finite");
    nn_params_zero_grad(&r->model.params);
    NN_TRY(nn_tape_backward(&t, loss));
    treat_gradients(&r->set, &r->model.params);
    return NN_OK;
}

/* Before a step: the governor's thread count, when the count is nnzoo's.
 * A change of nn_threads_set (tests do that) starts the governor afresh. */
static int govern_threads(nn_run *r)
{
    int many = nn_threads_automatic();
    if (many != r->governor.many) nn_governor_init(&r->governor, many);
    if (many <= 1) return 0;
    int want = nn_governor_threads(&r->governor);
    if (want != nn_threads_get()) nn_threads_use(want);
    return 1;
}

nn_status nn_run_step(nn_run *r, const float *x, const int32_t *y, int n, float *loss_out, int *correct)
{
    step_batch b = {.r = r, .x = x, .y = y, .n = n};
    nn_status st;
    const int governed = govern_threads(r);
    const double started = governed ? nn_now() : 0.0;
    if (r->opt.def->step_closure) {
        float first;
        st = r->opt.def->step_closure(&r->opt, loss_and_gradient, &b, &first);
    } else {
        float loss;
        st = loss_and_gradient(&b, &loss);
        if (st == NN_OK) {
            double t0 = r->profile ? nn_now() : 0.0;
            r->opt.def->step(&r->opt);
            if (r->profile) nn_profile_add(r->profile, &update_row, 0.0, nn_now() - t0);
        }
    }
    if (governed && st == NN_OK) nn_governor_observe(&r->governor, (nn_now() - started) / (double)n);
    *loss_out = b.evaluations ? b.loss : NAN;
    *correct = b.correct;
    return st;
}

nn_status nn_run_evaluate(nn_run *r, nn_loader *l, double *loss, double *accuracy)
{
    double loss_sum = 0.0;
    int64_t hits = 0, seen = 0;
    nn_status st = NN_OK;
    nn_loader_begin(l, 0, 0);
    for (int64_t b = 0; b < nn_loader_batches(l) && st == NN_OK; b++) {
        nn_batch batch;
        st = nn_loader_next(l, &batch);
        /* n is 0 only when every file of the batch was skipped as unreadable. */
        if (st != NN_OK || batch.n == 0) continue;
        nn_arena_reset(&r->step_arena);
        nn_tape t;
        nn_tape_init(&t, &r->step_arena, 0, 0);
        nn_tensor *logits = forward(r, &t, batch.x, batch.n);
        nn_tensor *batch_loss = nn_train_loss_forward(&r->loss, &t, logits, batch.y);
        if (!batch_loss) {
            st = failed();
            break;
        }
        loss_sum += (double)batch_loss->data[0] * batch.n;
        hits += count_correct(logits, batch.y);
        seen += batch.n;
    }
    nn_loader_end(l);
    *loss = seen ? loss_sum / (double)seen : 0.0;
    *accuracy = seen ? (double)hits / (double)seen : 0.0;
    return st;
}

static nn_status save(nn_run *r, const nn_run_io *io, const char *file)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", io->dir, file);
    return nn_checkpoint_save(path, &r->model.params, &r->opt, &r->state, r->config_json);
}

/* Counts the epochs since the watched metric last improved by more than
 * min_delta (Keras's rule: better than best -/+ min_delta). */
static void watch_early_stopping(nn_run *r, double value)
{
    nn_train_state *s = &r->state;
    const int higher_is_better = r->set.early_metric == NN_RUN_METRIC_VAL_ACCURACY ||
                                 r->set.early_metric == NN_RUN_METRIC_TRAIN_ACCURACY;
    const double d = r->set.early_min_delta;
    const int better = isnan(s->early_best) ||
                       (higher_is_better ? value > s->early_best + d : value < s->early_best - d);
    if (better) {
        s->early_best = value;
        s->early_bad_epochs = 0;
    } else {
        s->early_bad_epochs++;
    }
}

static int early_stopped(const nn_run *r)
{
    return r->set.early_patience && r->state.early_bad_epochs >= r->set.early_patience;
}

/* Evaluates, logs and checkpoints the end of an epoch (or of max_steps). */
static nn_status finish_epoch(nn_run *r, const nn_run_io *io, FILE *metrics, double train_loss,
                              double train_acc, double seconds, int64_t samples)
{
    double val_loss = 0, val_acc = -1, test_loss, test_acc;
    if (r->val.count) NN_TRY(nn_run_evaluate(r, &r->val, &val_loss, &val_acc));
    NN_TRY(nn_run_evaluate(r, &r->test, &test_loss, &test_acc));
    /* Plateau watches the validation loss (the training loss without a
     * validation split), as ReduceLROnPlateau is usually given. */
    if (r->sched.def->needs_metric)
        nn_schedule_observe(&r->sched, r->state.epoch, r->val.count ? val_loss : train_loss);
    const double watched[] = {[NN_RUN_METRIC_VAL_LOSS] = val_loss, [NN_RUN_METRIC_VAL_ACCURACY] = val_acc,
                              [NN_RUN_METRIC_TRAIN_LOSS] = train_loss, [NN_RUN_METRIC_TRAIN_ACCURACY] = train_acc};
    if (r->set.early_patience) watch_early_stopping(r, watched[r->set.early_metric]);
    int improved = r->val.count == 0 || val_acc > r->state.best_val_accuracy;
    if (r->val.count && improved) r->state.best_val_accuracy = val_acc;
    fprintf(metrics,
            "{\"epoch\": %d, \"step\": %lld, \"train_loss\": %.6f, \"train_accuracy\": %.6f, ",
            r->state.epoch + 1, (long long)r->state.step, train_loss, train_acc);
    if (r->val.count) fprintf(metrics, "\"val_loss\": %.6f, \"val_accuracy\": %.6f, ", val_loss, val_acc);
    else fprintf(metrics, "\"val_loss\": null, \"val_accuracy\": null, ");
    fprintf(metrics,
            "\"test_loss\": %.6f, \"test_accuracy\": %.6f, \"lr\": %g, \"seconds\": %.3f, \"samples_per_s\": %.1f}\n",
            test_loss, test_acc, r->opt.lr, seconds, seconds > 0 ? (double)samples / seconds : 0.0);
    fflush(metrics);
    if (io->progress) {
        fprintf(io->progress, "epoch %d/%d: train loss %.4f acc %.4f", r->state.epoch + 1,
                r->set.epochs, train_loss, train_acc);
        if (r->val.count) fprintf(io->progress, " | val loss %.4f acc %.4f", val_loss, val_acc);
        fprintf(io->progress, " | test loss %.4f acc %.4f | %.1f s, %.0f samples/s\n", test_loss,
                test_acc, seconds, seconds > 0 ? (double)samples / seconds : 0.0);
    }
    /* The state saved is "epoch done": a resume starts the next one. */
    if (r->state.epoch_step == nn_loader_batches(&r->train)) {
        r->state.epoch++;
        r->state.epoch_step = 0;
    }
    if (early_stopped(r)) {
        fprintf(metrics, "{\"early_stop\": {\"epoch\": %d, \"metric\": \"%s\", \"best\": %.6f, \"patience\": %d}}\n",
                r->state.epoch, metric_names[r->set.early_metric], r->state.early_best, r->set.early_patience);
        fflush(metrics);
        if (io->progress)
            fprintf(io->progress, "early stopping: %s has not improved by more than %g for %d epochs (best %.4f)\n",
                    metric_names[r->set.early_metric], r->set.early_min_delta, r->set.early_patience,
                    r->state.early_best);
    }
    NN_TRY(save(r, io, "last.safetensors"));
    if (improved) NN_TRY(save(r, io, "best.safetensors"));
    return NN_OK;
}

int nn_run_train(nn_run *r, const nn_run_io *io)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", io->dir);
    FILE *metrics = fopen(path, "a");
    if (!metrics) return nn_error(NN_ERR_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
    nn_train_state *s = &r->state;
    int status = NN_OK;
    while (s->epoch < r->set.epochs && status == NN_OK && !early_stopped(r)) {
        nn_loader_begin(&r->train, s->epoch, s->epoch_step);
        int64_t batches = nn_loader_batches(&r->train), samples = 0, hits = 0;
        double loss_sum = 0.0, t0 = nn_now();
        int64_t first = s->epoch_step, reached_max = 0;
        nn_progress bar;
        nn_progress_start(&bar, io->progress, r->set.log_every, s->epoch, r->set.epochs, batches, first);
        for (int64_t b = first; b < batches; b++) {
            if (r->set.max_steps && s->step >= r->set.max_steps) {
                reached_max = 1;
                break;
            }
            nn_batch batch;
            nn_status st = nn_loader_next(&r->train, &batch);
            if (st != NN_OK) {
                nn_progress_end(&bar);
                nn_loader_end(&r->train);
                fclose(metrics);
                return st;
            }
            const int n = batch.n;
            if (n == 0) {
                /* Every file of the batch was skipped as unreadable. */
                s->epoch_step = b + 1;
                continue;
            }
            apply_schedule(r);
            float loss = 0.0f;
            int correct;
            st = nn_run_step(r, batch.x, batch.y, n, &loss, &correct);
            if (st != NN_OK) {
                nn_progress_end(&bar);
                nn_loader_end(&r->train);
                if (!isfinite(loss))
                    nn_error(NN_ERR_RUNTIME,
                             "training diverged: loss is %s at step %lld (epoch %d, batch %lld); stopped, %s/last.safetensors keeps the last good state",
                             isnan(loss) ? "nan" : "inf", (long long)s->step + 1, s->epoch + 1,
                             (long long)b + 1, io->dir);
                fclose(metrics);
                return st;
            }
            s->step++;
            s->epoch_step = b + 1;
            samples += n;
            hits += correct;
            loss_sum += (double)loss * n;
            if (s->step % r->set.log_every == 0) {
                fprintf(metrics, "{\"step\": %lld, \"epoch\": %d, \"loss\": %.6f, \"lr\": %g}\n",
                        (long long)s->step, s->epoch + 1, (double)loss, r->opt.lr);
                fflush(metrics);
            }
            nn_progress_update(&bar, b + 1, loss, samples);
            if (io->stop && *io->stop) {
                nn_progress_end(&bar);
                nn_loader_end(&r->train);
                status = save(r, io, "last.safetensors");
                fclose(metrics);
                return status == NN_OK ? NN_RUN_STOPPED : status;
            }
        }
        nn_progress_end(&bar);
        nn_loader_end(&r->train);
        if (samples)
            status = finish_epoch(r, io, metrics, loss_sum / (double)samples,
                                  (double)hits / (double)samples, nn_now() - t0, samples);
        if (reached_max) break;
    }
    fclose(metrics);
    return status;
}
