/*
 * core/clock.h — the wall clock in the unit of every stored time.
 *
 * Facts and audit entries carry times as microseconds since the Unix
 * epoch (UTC); the public API formats and parses them (hk_time_format,
 * hk_time_parse in hakgal.h). Reading the clock is the library's own
 * business, so it lives here, private to the hakgal tree; it is defined
 * in time.c beside the formatting.
 *
 * Threads: thread-safe.
 */
#ifndef HK_CORE_CLOCK_H
#define HK_CORE_CLOCK_H

#include <stdint.h>

/* Now (CLOCK_REALTIME) in microseconds since 1970-01-01T00:00:00Z. */
int64_t hk_now_us(void);

#endif /* HK_CORE_CLOCK_H */
