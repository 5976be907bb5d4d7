#include "node/clock.h"

#include <stdatomic.h>
#include <time.h>

void lsn_clock_init_monotonic(struct lsn_clock *c)
{
	c->fake = false;
	atomic_store(&c->fake_ms, 0);
}

void lsn_clock_init_fake(struct lsn_clock *c, uint64_t start_ms)
{
	c->fake = true;
	atomic_store(&c->fake_ms, start_ms);
}

void lsn_clock_advance(struct lsn_clock *c, uint64_t ms)
{
	atomic_fetch_add(&c->fake_ms, ms);
}

uint64_t lsn_clock_now_ms(const struct lsn_clock *c)
{
	struct timespec ts;

	if (c->fake)
		return atomic_load(&((struct lsn_clock *)c)->fake_ms);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t lsn_clock_now_s(const struct lsn_clock *c)
{
	return lsn_clock_now_ms(c) / 1000;
}
