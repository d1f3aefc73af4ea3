/* Errors in two tiers.
 *
 * NN_ASSERT is for our own bugs: it prints file:line and aborts.
 * nn_status plus a message is for anything the user or the environment got
 * wrong: the library records one line with nn_error() and returns the status;
 * only cmd/ turns it into an exit code (NN_ERR_INPUT -> 2, NN_ERR_RUNTIME -> 1). */
#ifndef NN_CORE_ERROR_H
#define NN_CORE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

typedef enum {
    NN_OK = 0,
    NN_ERR_RUNTIME = 1, /* the run failed: NaN loss, write failure, out of memory */
    NN_ERR_INPUT = 2,   /* bad config, data or checkpoint, or a usage mistake */
} nn_status;

/* Records a one-line message (printf format) for the calling thread and
 * returns code, so callers can write `return nn_error(NN_ERR_INPUT, ...)`. */
nn_status nn_error(nn_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *nn_error_message(void);

/* The status passed with that message (NN_OK if none), for callers that
 * got only a NULL back (ops, builders). */
nn_status nn_error_status(void);

/* Clears the message of the calling thread. */
void nn_error_clear(void);

#define NN_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: internal error: assertion `%s` failed\n",  \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Propagates a non-OK status to the caller. */
#define NN_TRY(expr)                                                           \
    do {                                                                       \
        nn_status nn_try_status_ = (expr);                                     \
        if (nn_try_status_ != NN_OK) return nn_try_status_;                    \
    } while (0)

#endif
