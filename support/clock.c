/* clock.c: the one monotonic clock of h2c, for timing passes, searches and benchmarks. */
#include "support.h"

#include <time.h>

double h2c_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
