/* The prefetcher: a ring of batch buffers and the threads that fill them.
 *
 * Batches are claimed in order: batch b goes to slot b % depth once the
 * step has released that slot's previous batch (b - depth), so with depth
 * slots the workers run up to depth - 1 batches ahead of the step, which
 * holds the one it is using. Which worker makes a batch does not matter:
 * its contents depend on (loader, epoch, b) alone. Abandoning a loader's
 * batches (a new epoch, an evaluation, max_steps) waits for the batches in
 * the making, then frees every slot. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD };

typedef struct slot {
    float *x;
    int32_t *y;
    int n;
    int state;
    int64_t batch;
    nn_status status;
    char msg[1024];
} slot;

typedef struct worker {
    nn_prefetch *p;
    int index;
    pthread_t thread;
    int started;
} worker;

struct nn_prefetch {
    int workers, depth, max_batch;
    int64_t sample_size;
    slot *slots;
    worker *threads;
    nn_loader_scratch *scratch;   /* one per worker; one for the caller with 0 workers */
    pthread_mutex_t mu;
    pthread_cond_t work;          /* a slot freed or a loader begun: workers look */
    pthread_cond_t ready;         /* a batch finished: the step and abandon() look */
    nn_loader *src;               /* whose batches are being made, or NULL */
    int64_t next_claim, next_take, end;
    int held;                     /* the slot the step holds, or -1 */
    int busy;                     /* batches being made */
    int quit;
};

static int can_claim(const nn_prefetch *p)
{
    return p->src && p->next_claim < p->end && p->slots[p->next_claim % p->depth].state == SLOT_FREE;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    nn_prefetch *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && !can_claim(p)) pthread_cond_wait(&p->work, &p->mu);
        if (p->quit) break;
        const int64_t b = p->next_claim++;
        slot *s = &p->slots[b % p->depth];
        const nn_loader *l = p->src;
        s->state = SLOT_FILLING;
        s->batch = b;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        int n = 0;
        nn_status st = nn_loader_fill(l, &p->scratch[w->index], b, s->x, s->y, &n);
        pthread_mutex_lock(&p->mu);
        s->n = n;
        s->status = st;
        /* The message is thread-local: carry it to the thread that asks. */
        if (st != NN_OK) snprintf(s->msg, sizeof s->msg, "%s", nn_error_message());
        s->state = SLOT_READY;
        p->busy--;
        pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nn_status nn_prefetch_create(nn_prefetch **out, int workers, int max_batch, int64_t sample_size)
{
    *out = NULL;
    nn_prefetch *p = calloc(1, sizeof *p);
    if (!p) return nn_error(NN_ERR_RUNTIME, "out of memory for the data loader");
    p->workers = workers;
    p->depth = workers + 1 > 2 ? workers + 1 : 2;
    p->max_batch = max_batch;
    p->sample_size = sample_size;
    p->held = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    const int n_scratch = workers > 0 ? workers : 1;
    p->slots = calloc((size_t)p->depth, sizeof *p->slots);
    p->scratch = calloc((size_t)n_scratch, sizeof *p->scratch);
    p->threads = calloc((size_t)n_scratch, sizeof *p->threads);
    if (!p->slots || !p->scratch || !p->threads) goto oom;
    for (int i = 0; i < n_scratch; i++) nn_loader_scratch_init(&p->scratch[i]);
    for (int i = 0; i < p->depth; i++) {
        const size_t bytes = sizeof(float) * (size_t)max_batch * (size_t)sample_size;
        if (posix_memalign((void **)&p->slots[i].x, 64, bytes ? bytes : 64)) p->slots[i].x = NULL;
        p->slots[i].y = malloc(sizeof(int32_t) * (size_t)max_batch + 1);
        if (!p->slots[i].x || !p->slots[i].y) goto oom;
    }
    /* Signals (Ctrl-C) belong to the training thread: a worker interrupted
     * inside a read would report a spurious error. Threads inherit the
     * mask they are created with. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int failed = 0;
    for (int i = 0; i < workers && !failed; i++) {
        p->threads[i] = (worker){.p = p, .index = i};
        failed = pthread_create(&p->threads[i].thread, NULL, worker_main, &p->threads[i]) != 0;
        p->threads[i].started = !failed;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (failed) {
        nn_prefetch_free(p);
        return nn_error(NN_ERR_RUNTIME, "cannot start %d data loading threads", workers);
    }
    *out = p;
    return NN_OK;
oom:
    nn_prefetch_free(p);
    return nn_error(NN_ERR_RUNTIME, "out of memory for the data loader's batch buffers (%d batches of %d x %lld floats)",
                    workers + 1, max_batch, (long long)sample_size);
}

void nn_prefetch_free(nn_prefetch *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    const int n_scratch = p->workers > 0 ? p->workers : 1;
    for (int i = 0; p->threads && i < p->workers; i++)
        if (p->threads[i].started) pthread_join(p->threads[i].thread, NULL);
    for (int i = 0; p->scratch && i < n_scratch; i++) nn_loader_scratch_deinit(&p->scratch[i]);
    for (int i = 0; p->slots && i < p->depth; i++) {
        free(p->slots[i].x);
        free(p->slots[i].y);
    }
    free(p->slots);
    free(p->scratch);
    free(p->threads);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void nn_loader_use(nn_loader *l, nn_prefetch *p)
{
    NN_ASSERT(l->batch_size <= p->max_batch && nn_loader_sample_size(l) <= p->sample_size);
    l->prefetch = p;
    if (l->tf && !l->split->files) {
        /* Samples of one size: size every worker's buffers now, so that
         * making batches never allocates. A failure here shows up again,
         * with its message, when the first batch is made. */
        const int n_scratch = p->workers > 0 ? p->workers : 1;
        for (int i = 0; i < n_scratch; i++)
            (void)nn_transforms_reserve(l->tf, &p->scratch[i].transform, l->split->channels,
                                        l->split->height, l->split->width);
    }
}

/* Abandons the current loader's batches; call with mu held. */
static void abandon(nn_prefetch *p)
{
    p->src = NULL;
    while (p->busy) pthread_cond_wait(&p->ready, &p->mu);
    for (int i = 0; i < p->depth; i++) p->slots[i].state = SLOT_FREE;
    p->held = -1;
}

void nn_loader_begin(nn_loader *l, int epoch, int64_t first)
{
    nn_prefetch *p = l->prefetch;
    NN_ASSERT(p);
    pthread_mutex_lock(&p->mu);
    abandon(p);
    /* No worker reads the order now. */
    nn_loader_start_epoch(l, epoch);
    p->src = l;
    p->next_claim = p->next_take = first;
    p->end = nn_loader_batches(l);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

nn_status nn_loader_next(nn_loader *l, nn_batch *out)
{
    nn_prefetch *p = l->prefetch;
    pthread_mutex_lock(&p->mu);
    NN_ASSERT(p->src == l && p->next_take < p->end);
    if (p->held >= 0) {
        p->slots[p->held].state = SLOT_FREE;
        p->held = -1;
        pthread_cond_broadcast(&p->work);
    }
    const int64_t b = p->next_take++;
    slot *s = &p->slots[b % p->depth];
    if (p->workers == 0) {
        /* No threads: make it here, the same way. */
        s->batch = b;
        s->status = nn_loader_fill(l, &p->scratch[0], b, s->x, s->y, &s->n);
        if (s->status != NN_OK) snprintf(s->msg, sizeof s->msg, "%s", nn_error_message());
        s->state = SLOT_READY;
    }
    while (!(s->state == SLOT_READY && s->batch == b)) pthread_cond_wait(&p->ready, &p->mu);
    s->state = SLOT_HELD;
    p->held = (int)(b % p->depth);
    pthread_mutex_unlock(&p->mu);
    if (s->status != NN_OK) return nn_error(s->status, "%s", s->msg);
    *out = (nn_batch){s->x, s->y, s->n, b};
    return NN_OK;
}

void nn_loader_end(nn_loader *l)
{
    nn_prefetch *p = l->prefetch;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->src == l) abandon(p);
    pthread_mutex_unlock(&p->mu);
}
