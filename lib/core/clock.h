/* Wall-clock time for measuring, from a monotonic clock. */
#ifndef NN_CORE_CLOCK_H
#define NN_CORE_CLOCK_H

/* Seconds since an arbitrary fixed point. */
double nn_now(void);

#endif
