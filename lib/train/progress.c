#include "train/progress.h"

#include <unistd.h>

void nn_progress_start(nn_progress *p, FILE *out, int every, int epoch, int epochs, int64_t total,
                       int64_t first)
{
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->every = every > 0 ? every : 100;
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->first = first;
    p->t0 = p->last_draw = nn_now();
}

void nn_progress_update(nn_progress *p, int64_t done, double loss, int64_t samples)
{
    if (!p->out) return;
    double now = nn_now(), elapsed = now - p->t0;
    double rate = elapsed > 0 ? (double)samples / elapsed : 0.0;
    double per_batch = done > p->first ? elapsed / (double)(done - p->first) : 0.0;
    int eta = (int)(per_batch * (double)(p->total - done) + 0.5);
    if (p->tty) {
        /* Redraw at most 10 times a second; always at the end. */
        if (now - p->last_draw < 0.1 && done < p->total) return;
        p->last_draw = now;
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int filled = (int)(WIDTH * done / (p->total ? p->total : 1));
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(p->out, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f samples/s ETA %d:%02d ",
                p->epoch + 1, p->epochs, bar, (long long)done, (long long)p->total, loss, rate,
                eta / 60, eta % 60);
        fflush(p->out);
    } else if (done % p->every == 0) {
        fprintf(p->out, "epoch %d/%d batch %lld/%lld loss %.4f %.0f samples/s ETA %d:%02d\n",
                p->epoch + 1, p->epochs, (long long)done, (long long)p->total, loss, rate,
                eta / 60, eta % 60);
    }
}

void nn_progress_end(nn_progress *p)
{
    if (p->out && p->tty) fputc('\n', p->out);
}
