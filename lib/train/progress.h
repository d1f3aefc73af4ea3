/* Progress of an epoch: a bar redrawn in place on a terminal (loss,
 * samples/s, ETA), or a plain line every `every` batches otherwise. */
#ifndef NN_TRAIN_PROGRESS_H
#define NN_TRAIN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "core/clock.h"

typedef struct nn_progress {
    FILE *out;
    int tty;
    int every;
    int epoch, epochs;
    int64_t total, first;     /* batches in the epoch; the one we started at */
    double t0, last_draw;
} nn_progress;

void nn_progress_start(nn_progress *p, FILE *out, int every, int epoch, int epochs, int64_t total,
                       int64_t first);

/* After batch `done` (1-based) with `samples` seen since the start. */
void nn_progress_update(nn_progress *p, int64_t done, double loss, int64_t samples);

/* Ends the bar's line on a terminal. */
void nn_progress_end(nn_progress *p);

#endif
