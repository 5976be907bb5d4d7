/*
 * node/clock.h - the node's monotonic clock, real or fake.
 *
 * Everything time-based in the node (trim_delay, settling, archive retry
 * backoff, re-check periods) reads this clock, never the system's directly,
 * so the unit tests can drive hours of node time in microseconds.
 *
 * Thread safety: reads and advances are atomic.
 */
#ifndef LSN_CLOCK_H
#define LSN_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct lsn_clock {
	bool fake;
	_Atomic uint64_t fake_ms; /* fake clocks only */
};

/* CLOCK_MONOTONIC. */
void lsn_clock_init_monotonic(struct lsn_clock *c);
/* Starts at start_ms and moves only by lsn_clock_advance(). */
void lsn_clock_init_fake(struct lsn_clock *c, uint64_t start_ms);
void lsn_clock_advance(struct lsn_clock *c, uint64_t ms);

uint64_t lsn_clock_now_ms(const struct lsn_clock *c);
/* Whole seconds, rounded down. */
uint64_t lsn_clock_now_s(const struct lsn_clock *c);

#endif
