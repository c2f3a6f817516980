// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the dm-xrepl ship queue: the ordering of the writes that
 * the asynchronous modes send to the remote.
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/prandom.h>
#include <linux/slab.h>

#include "dm-xrepl.h"

static struct xrepl_ship *xs_add(struct kunit *test, struct xrepl_shipq *q,
				 sector_t sector, sector_t nr, bool barrier,
				 u64 ns)
{
	struct xrepl_ship *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, s);
	s->sector = sector;
	s->nr_sectors = nr;
	s->bytes = nr << 9;
	s->flags = barrier ? XREPL_SHIP_BARRIER : 0;
	s->queued_ns = ns;
	xrepl_shipq_add_locked(q, s);
	return s;
}

static void xrepl_shipq_lag_test(struct kunit *test)
{
	struct xrepl_shipq q;
	struct xrepl_ship *a, *b;

	xrepl_shipq_init(&q, 4);
	KUNIT_EXPECT_EQ(test, xrepl_shipq_oldest_ns(&q), 0ULL);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	a = xs_add(test, &q, 0, 8, false, 100);
	b = xs_add(test, &q, 64, 16, false, 200);
	KUNIT_EXPECT_EQ(test, q.bytes, 24ULL << 9);
	KUNIT_EXPECT_EQ(test, q.nr, 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_shipq_oldest_ns(&q), 100ULL);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), b);
	xrepl_shipq_done_locked(&q, a);
	KUNIT_EXPECT_EQ(test, q.bytes, 16ULL << 9);
	KUNIT_EXPECT_EQ(test, q.nr, 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_shipq_oldest_ns(&q), 200ULL);
	xrepl_shipq_done_locked(&q, b);
	KUNIT_EXPECT_EQ(test, q.bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, q.nr, 0UL);
	KUNIT_EXPECT_EQ(test, q.inflight, 0U);
	KUNIT_EXPECT_TRUE(test, list_empty(&q.queue));
}

/* Disjoint writes go out together, up to max_inflight. */
static void xrepl_shipq_parallel_test(struct kunit *test)
{
	struct xrepl_shipq q;
	struct xrepl_ship *s[4];
	int i;

	xrepl_shipq_init(&q, 3);
	for (i = 0; i < 4; i++)
		s[i] = xs_add(test, &q, i * 8, 8, false, i);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), s[i]);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	/* Any completion makes room, not only the oldest. */
	xrepl_shipq_done_locked(&q, s[1]);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), s[3]);
	KUNIT_EXPECT_EQ(test, q.inflight, 3U);
}

/* An overlapping write waits for the one in flight, and so do later ones. */
static void xrepl_shipq_overlap_test(struct kunit *test)
{
	struct xrepl_shipq q;
	struct xrepl_ship *a, *b, *c;

	xrepl_shipq_init(&q, 8);
	a = xs_add(test, &q, 100, 8, false, 0);
	b = xs_add(test, &q, 104, 8, false, 0);	/* overlaps a */
	c = xs_add(test, &q, 500, 8, false, 0);	/* disjoint, behind b */
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), b);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), c);

	/* Adjacent is not overlapping. */
	xrepl_shipq_init(&q, 8);
	a = xs_add(test, &q, 0, 8, false, 0);
	b = xs_add(test, &q, 8, 8, false, 0);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), b);
}

/* A barrier waits for everything before it and holds back everything after. */
static void xrepl_shipq_barrier_test(struct kunit *test)
{
	struct xrepl_shipq q;
	struct xrepl_ship *a, *b, *f, *c;

	xrepl_shipq_init(&q, 8);
	a = xs_add(test, &q, 0, 8, false, 0);
	b = xs_add(test, &q, 64, 8, false, 0);
	f = xs_add(test, &q, 0, 0, true, 0);		/* empty flush */
	c = xs_add(test, &q, 128, 8, false, 0);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), b);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, b);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), f);
	KUNIT_EXPECT_TRUE(test, q.barrier_inflight);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, f);
	KUNIT_EXPECT_FALSE(test, q.barrier_inflight);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), c);

	/* A FUA write with data is a barrier too, and counts in the lag. */
	xrepl_shipq_init(&q, 8);
	f = xs_add(test, &q, 0, 8, true, 0);
	a = xs_add(test, &q, 64, 8, false, 0);
	KUNIT_EXPECT_EQ(test, q.bytes, 16ULL << 9);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), f);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, f);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
}

/* Giving up on the remote takes the waiting entries, not those in flight. */
static void xrepl_shipq_take_test(struct kunit *test)
{
	struct xrepl_shipq q;
	struct xrepl_ship *a, *b, *c;
	LIST_HEAD(out);

	xrepl_shipq_init(&q, 1);
	a = xs_add(test, &q, 0, 8, false, 0);
	b = xs_add(test, &q, 64, 8, false, 0);
	c = xs_add(test, &q, 128, 16, false, 0);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	xrepl_shipq_take_waiting_locked(&q, &out);
	KUNIT_EXPECT_PTR_EQ(test, list_first_entry(&out, struct xrepl_ship, list), b);
	KUNIT_EXPECT_PTR_EQ(test, list_last_entry(&out, struct xrepl_ship, list), c);
	KUNIT_EXPECT_EQ(test, q.nr, 1UL);
	KUNIT_EXPECT_EQ(test, q.bytes, 8ULL << 9);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	xrepl_shipq_done_locked(&q, a);
	KUNIT_EXPECT_EQ(test, q.nr, 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&q.queue));
	/* Taking from a queue with nothing waiting changes nothing. */
	xrepl_shipq_take_waiting_locked(&q, &out);
	KUNIT_EXPECT_PTR_EQ(test, list_first_entry(&out, struct xrepl_ship, list), b);
	KUNIT_EXPECT_PTR_EQ(test, list_last_entry(&out, struct xrepl_ship, list), c);
	KUNIT_EXPECT_EQ(test, q.nr, 0UL);
}

#define XS_N	200

/*
 * Random workloads, issued and completed in random orders: check the rules
 * on the resulting history.  issued[i] and done[i] are event times.
 */
static void xrepl_shipq_model_test(struct kunit *test)
{
	struct xrepl_ship *s = kunit_kcalloc(test, XS_N, sizeof(*s), GFP_KERNEL);
	struct xrepl_ship **fly = kunit_kcalloc(test, XS_N, sizeof(*fly),
						GFP_KERNEL);
	int *issued = kunit_kcalloc(test, XS_N, sizeof(int), GFP_KERNEL);
	int *done = kunit_kcalloc(test, XS_N, sizeof(int), GFP_KERNEL);
	struct rnd_state rnd;
	int round, i, j;

	KUNIT_ASSERT_TRUE(test, s && fly && issued && done);
	prandom_seed_state(&rnd, 42);
	for (round = 0; round < 20; round++) {
		struct xrepl_shipq q;
		int nfly = 0, t = 1, left = XS_N;

		xrepl_shipq_init(&q, 1 + prandom_u32_state(&rnd) % 8);
		for (i = 0; i < XS_N; i++) {
			u32 r = prandom_u32_state(&rnd);

			memset(&s[i], 0, sizeof(s[i]));
			s[i].sector = (r % 64) * 8;
			s[i].nr_sectors = 8 * (1 + (r >> 8) % 3);
			if ((r >> 16) % 16 == 0) {
				s[i].flags = XREPL_SHIP_BARRIER;
				if ((r >> 20) % 2)
					s[i].nr_sectors = 0;	/* empty flush */
			}
			s[i].bytes = s[i].nr_sectors << 9;
			xrepl_shipq_add_locked(&q, &s[i]);
			issued[i] = 0;
			done[i] = 0;
		}
		while (left) {
			struct xrepl_ship *n;

			/* Issue what may go, then complete a random one. */
			while ((n = xrepl_shipq_next_locked(&q))) {
				issued[n - s] = t++;
				fly[nfly++] = n;
			}
			KUNIT_ASSERT_GT(test, nfly, 0);
			j = prandom_u32_state(&rnd) % nfly;
			done[fly[j] - s] = t++;
			xrepl_shipq_done_locked(&q, fly[j]);
			fly[j] = fly[--nfly];
			left--;
		}
		KUNIT_EXPECT_EQ(test, q.nr, 0UL);
		KUNIT_EXPECT_EQ(test, q.bytes, 0ULL);
		for (i = 0; i < XS_N; i++) {
			for (j = i + 1; j < XS_N; j++) {
				bool barrier = (s[i].flags | s[j].flags) &
					       XREPL_SHIP_BARRIER;
				bool ovl = s[i].nr_sectors && s[j].nr_sectors &&
					   s[i].sector < s[j].sector + s[j].nr_sectors &&
					   s[j].sector < s[i].sector + s[i].nr_sectors;

				/* Issue in queue order, always. */
				KUNIT_ASSERT_LT(test, issued[i], issued[j]);
				/* A barrier on either side, or an overlap: j after i is done. */
				if (barrier || ovl)
					KUNIT_ASSERT_LT(test, done[i], issued[j]);
			}
		}
	}
}

/*
 * An entry inserted goes before the waiting ones (a replay's, ahead of the
 * writes appended since), after those in flight, and keeps its own place
 * against an overlap in flight.
 */
static void xrepl_shipq_insert_test(struct kunit *test)
{
	struct xrepl_ship *a, *b, *c, *r1, *r2;
	struct xrepl_shipq q;

	xrepl_shipq_init(&q, 4);
	/* Into an empty queue: it is next. */
	r1 = kunit_kzalloc(test, sizeof(*r1), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r1);
	r1->sector = 0;
	r1->nr_sectors = 8;
	r1->bytes = 8 << 9;
	r1->flags = XREPL_SHIP_ISSUED | XREPL_SHIP_BARRIER;
	xrepl_shipq_insert_locked(&q, r1);
	KUNIT_EXPECT_EQ(test, r1->flags, (unsigned int)XREPL_SHIP_BARRIER);
	r1->flags = 0;
	KUNIT_EXPECT_EQ(test, q.nr, 1UL);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), r1);
	/* a waits behind r1 (they overlap), b and c after it. */
	a = xs_add(test, &q, 0, 8, false, 1);
	b = xs_add(test, &q, 100, 8, false, 2);
	c = xs_add(test, &q, 200, 8, false, 3);
	KUNIT_EXPECT_PTR_EQ(test, q.next, a);
	r2 = kunit_kzalloc(test, sizeof(*r2), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r2);
	r2->sector = 300;
	r2->nr_sectors = 8;
	r2->bytes = 8 << 9;
	xrepl_shipq_insert_locked(&q, r2);
	KUNIT_EXPECT_EQ(test, q.nr, 5UL);
	KUNIT_EXPECT_EQ(test, q.bytes, 40ULL << 9);
	/* r2 goes next, before a; a then waits for r1. */
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), r2);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), NULL);
	KUNIT_EXPECT_PTR_EQ(test, q.next, a);
	xrepl_shipq_done_locked(&q, r1);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), a);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), b);
	KUNIT_EXPECT_PTR_EQ(test, xrepl_shipq_next_locked(&q), c);
	KUNIT_EXPECT_PTR_EQ(test, list_first_entry(&q.queue, struct xrepl_ship,
						   list), r2);
}

/* The lag bound: an empty lag takes any write, a busy one stays in bounds. */
static void xrepl_lag_bound_test(struct kunit *test)
{
	struct xrepl_lag lag = {};

	KUNIT_EXPECT_TRUE(test, xrepl_lag_fits(&lag, 4096, 65536));
	xrepl_lag_add(&lag, 65536);
	KUNIT_EXPECT_FALSE(test, xrepl_lag_fits(&lag, 4096, 0));
	KUNIT_EXPECT_TRUE(test, xrepl_lag_remove(&lag, 65536));
	KUNIT_EXPECT_EQ(test, lag.bytes, 0ULL);

	xrepl_lag_add(&lag, 4096);
	KUNIT_EXPECT_TRUE(test, xrepl_lag_fits(&lag, 8192, 4096));
	xrepl_lag_add(&lag, 4096);
	KUNIT_EXPECT_FALSE(test, xrepl_lag_fits(&lag, 8192, 512));
	/* A flush holds no data: it fits while the data is at the bound. */
	KUNIT_EXPECT_TRUE(test, xrepl_lag_fits(&lag, 8192, 0));
	KUNIT_EXPECT_FALSE(test, xrepl_lag_remove(&lag, 4096));
	KUNIT_EXPECT_EQ(test, lag.writes, 1UL);
	KUNIT_EXPECT_TRUE(test, xrepl_lag_fits(&lag, 8192, 4096));
}

/*
 * Random admissions and releases against a model: the counts always
 * match, the data never passes the bound once two writes are held, and a
 * release says "empty" exactly when nothing is left.
 */
static void xrepl_lag_model_test(struct kunit *test)
{
	unsigned int held[64], n = 0, i, round;
	struct rnd_state rnd;
	struct xrepl_lag lag = {};
	u64 max = 65536, sum = 0;

	prandom_seed_state(&rnd, 7);
	for (round = 0; round < 20000; round++) {
		u32 r = prandom_u32_state(&rnd);

		if (n < ARRAY_SIZE(held) && (r & 1)) {
			unsigned int bytes = (r >> 1) % 5 == 0 ? 0 :
					     512 * (1 + (r >> 4) % 256);

			if (!xrepl_lag_fits(&lag, max, bytes)) {
				KUNIT_EXPECT_GT(test, sum + bytes, max);
				KUNIT_EXPECT_GT(test, n, 0U);
				continue;
			}
			xrepl_lag_add(&lag, bytes);
			held[n++] = bytes;
			sum += bytes;
		} else if (n) {
			i = (r >> 1) % n;
			sum -= held[i];
			KUNIT_EXPECT_EQ(test, xrepl_lag_remove(&lag, held[i]),
					n == 1);
			held[i] = held[--n];
		}
		KUNIT_ASSERT_EQ(test, lag.writes, (unsigned long)n);
		KUNIT_ASSERT_EQ(test, lag.bytes, sum);
		if (n > 1)
			KUNIT_ASSERT_LE(test, lag.bytes, max);
	}
}

static struct kunit_case xrepl_ship_cases[] = {
	KUNIT_CASE(xrepl_shipq_lag_test),
	KUNIT_CASE(xrepl_shipq_parallel_test),
	KUNIT_CASE(xrepl_shipq_overlap_test),
	KUNIT_CASE(xrepl_shipq_barrier_test),
	KUNIT_CASE(xrepl_shipq_take_test),
	KUNIT_CASE(xrepl_shipq_model_test),
	KUNIT_CASE(xrepl_shipq_insert_test),
	KUNIT_CASE(xrepl_lag_bound_test),
	KUNIT_CASE(xrepl_lag_model_test),
	{}
};

static struct kunit_suite xrepl_ship_suite = {
	.name = "dm-xrepl-ship",
	.test_cases = xrepl_ship_cases,
};

kunit_test_suite(xrepl_ship_suite);
