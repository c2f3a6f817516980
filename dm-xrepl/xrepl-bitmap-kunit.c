// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of region geometry and the dirty-region bitmap
 * (xrepl-bitmap.c).
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-xrepl.h"

/* ------------------------------------------------------------------------
 * Region geometry.
 */

struct xt_geom_case {
	const char *name;
	sector_t dev_sectors;
	u32 region_size;
	unsigned long nr_regions;	/* 0: refused with error */
	const char *error;
	sector_t last_len;		/* length of the last region */
};

static const struct xt_geom_case xt_geom_cases[] = {
	{ "exact multiple", 10 * 1024, 1024, 10, NULL, 1024 },
	{ "partial last region, one sector", 10 * 1024 + 1, 1024, 11, NULL, 1 },
	{ "partial last region, one short", 10 * 1024 - 1, 1024, 10, NULL,
	  1023 },
	{ "one region exactly", 1024, 1024, 1, NULL, 1024 },
	{ "device smaller than a region", 100, 1024, 1, NULL, 100 },
	{ "1-sector device, min region", 1, 8, 1, NULL, 1 },
	{ "1-sector device, max region", 1, 1U << 21, 1, NULL, 1 },
	{ "min region, odd size", 8 * 1000 + 5, 8, 1001, NULL, 5 },
	{ "64 TiB at the default region size", 1ULL << 37, 1024, 1UL << 27,
	  NULL, 1024 },
	{ "region cap reached exactly, min region", 1ULL << 30, 8, 1UL << 27,
	  NULL, 8 },
	{ "region cap reached exactly, max region", 1ULL << 48, 1U << 21,
	  1UL << 27, NULL, 1U << 21 },
	{ "cap with a partial last region", (1ULL << 30) - 1, 8, 1UL << 27,
	  NULL, 7 },
	{ "one sector over the cap, min region", (1ULL << 30) + 1, 8, 0,
	  "region_size too small for device" },
	{ "one region over the cap", (1ULL << 30) + 8, 8, 0,
	  "region_size too small for device" },
	{ "one sector over the cap, max region", (1ULL << 48) + 1, 1U << 21, 0,
	  "region_size too small for device" },
	{ "one sector over 64 TiB, default region", (1ULL << 37) + 1, 1024, 0,
	  "region_size too small for device" },
	{ "largest sector_t", ~(sector_t)0, 1U << 21, 0,
	  "region_size too small for device" },
	{ "zero-length device", 0, 1024, 0, "Zero-length device" },
	{ "region_size zero", 1024, 0, 0, "Invalid region_size" },
	{ "region_size too small", 1024, 4, 0, "Invalid region_size" },
	{ "region_size not a power of two", 1024, 24, 0,
	  "Invalid region_size" },
	{ "region_size too big", 1ULL << 30, 1U << 22, 0,
	  "Invalid region_size" },
	{ "region_size u32 max", 1ULL << 30, U32_MAX, 0,
	  "Invalid region_size" },
	{ "region_size checked before length", 0, 7, 0,
	  "Invalid region_size" },
};

static void xt_geom_desc(const struct xt_geom_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s: %llu sectors, region %u",
		 c->name, (unsigned long long)c->dev_sectors, c->region_size);
}

KUNIT_ARRAY_PARAM(xt_geom, xt_geom_cases, xt_geom_desc);

static void xrepl_geom_init_test(struct kunit *test)
{
	const struct xt_geom_case *c = test->param_value;
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned long last;
	int r;

	r = xrepl_geom_init(&geom, c->dev_sectors, c->region_size, &error);
	if (c->error) {
		KUNIT_EXPECT_EQ(test, r, -EINVAL);
		KUNIT_ASSERT_NOT_NULL(test, error);
		KUNIT_EXPECT_STREQ(test, error, c->error);
		return;
	}

	KUNIT_ASSERT_EQ_MSG(test, r, 0, "refused with \"%s\"",
			    error ? error : "(null)");
	KUNIT_EXPECT_EQ(test, geom.dev_sectors, c->dev_sectors);
	KUNIT_EXPECT_EQ(test, geom.region_size, c->region_size);
	KUNIT_EXPECT_EQ(test, 1U << geom.region_shift, c->region_size);
	KUNIT_EXPECT_EQ(test, geom.nr_regions, c->nr_regions);

	last = geom.nr_regions - 1;
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last), c->last_len);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, 0),
			min_t(sector_t, c->region_size, c->dev_sectors));
	if (last)
		KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last - 1),
				(sector_t)c->region_size);
	/* Past the end: no sectors. */
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last + 1), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last + 1000), 0ULL);
	/* Far past the end, where region << shift wraps round. */
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, 1UL << 61), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, ULONG_MAX), 0ULL);

	/* The last sector is in the last region, and it ends the device. */
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, c->dev_sectors - 1),
			last);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, last) + c->last_len,
			c->dev_sectors);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, c->dev_sectors),
			c->last_len == c->region_size ? last + 1 : last);
}

/* The sum of all region lengths is the device size. */
static void xrepl_region_len_sum_test(struct kunit *test)
{
	static const sector_t sizes[] = { 1, 7, 8, 9, 1000, 1023, 1024, 1025,
					  4096 * 3 + 17 };
	static const u32 rsizes[] = { 8, 16, 1024, 4096 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < ARRAY_SIZE(rsizes); j++) {
			char *error = NULL;
			struct xrepl_geom geom;
			sector_t sum = 0;
			unsigned long reg;

			KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, sizes[i],
							      rsizes[j],
							      &error), 0);
			KUNIT_EXPECT_EQ(test, geom.nr_regions,
					(unsigned long)DIV_ROUND_UP_ULL(sizes[i],
									rsizes[j]));
			for (reg = 0; reg < geom.nr_regions; reg++) {
				sector_t len = xrepl_region_len(&geom, reg);

				KUNIT_EXPECT_GT(test, len, 0ULL);
				KUNIT_EXPECT_LE(test, len, (sector_t)rsizes[j]);
				sum += len;
			}
			KUNIT_EXPECT_EQ_MSG(test, sum, sizes[i],
					    "device %llu, region %u",
					    (unsigned long long)sizes[i],
					    rsizes[j]);
		}
	}
}

static void xrepl_sector_region_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 37, 1024, &error),
			0);
	KUNIT_EXPECT_EQ(test, geom.region_shift, 10U);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 0), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 1023), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 1024), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 5 * 1024 + 3), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, (1ULL << 37) - 1),
			(1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 5), 5120ULL);
	/* No truncation of the sector through a 32-bit intermediate. */
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 1UL << 27),
			1ULL << 37);

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 48, 1U << 21,
					      &error), 0);
	KUNIT_EXPECT_EQ(test, geom.region_shift, 21U);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, (1ULL << 48) - 1),
			(1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, (1UL << 27) - 1),
			(1ULL << 48) - (1ULL << 21));
}

struct xt_range_case {
	sector_t sector;
	sector_t nr_sectors;
	unsigned long first;
	unsigned long last;
};

/* Device of 10 * 1024 + 100 sectors, 1024-sector regions (11 regions). */
static const struct xt_range_case xt_range_cases[] = {
	{ 0, 1, 0, 0 },
	{ 0, 8, 0, 0 },
	{ 1023, 1, 0, 0 },
	{ 1023, 2, 0, 1 },
	{ 0, 1024, 0, 0 },
	{ 0, 1025, 0, 1 },
	{ 1024, 1, 1, 1 },
	{ 1024, 1024, 1, 1 },
	{ 1024, 2048, 1, 2 },
	{ 1000, 5000, 0, 5 },
	{ 2047, 1026, 1, 3 },
	{ 9 * 1024, 1024, 9, 9 },
	{ 10 * 1024, 100, 10, 10 },		/* the short last region */
	{ 10 * 1024 + 99, 1, 10, 10 },		/* the last sector */
	{ 9 * 1024 + 1, 1123, 9, 10 },		/* up to the end */
	{ 0, 10 * 1024 + 100, 0, 10 },		/* the whole device */
};

static void xrepl_range_to_regions_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 10 * 1024 + 100, 1024,
					      &error), 0);
	KUNIT_ASSERT_EQ(test, geom.nr_regions, 11UL);

	for (i = 0; i < ARRAY_SIZE(xt_range_cases); i++) {
		const struct xt_range_case *c = &xt_range_cases[i];
		unsigned long first = ULONG_MAX, last = ULONG_MAX;
		bool ok;

		ok = xrepl_range_to_regions(&geom, c->sector, c->nr_sectors,
					    &first, &last);
		KUNIT_EXPECT_TRUE_MSG(test, ok, "range %llu+%llu",
				      (unsigned long long)c->sector,
				      (unsigned long long)c->nr_sectors);
		KUNIT_EXPECT_EQ_MSG(test, first, c->first, "range %llu+%llu",
				    (unsigned long long)c->sector,
				    (unsigned long long)c->nr_sectors);
		KUNIT_EXPECT_EQ_MSG(test, last, c->last, "range %llu+%llu",
				    (unsigned long long)c->sector,
				    (unsigned long long)c->nr_sectors);
	}
}

static void xrepl_range_empty_test(struct kunit *test)
{
	static const sector_t starts[] = { 0, 1023, 1024, 5000, 10 * 1024 + 99 };
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 10 * 1024 + 100, 1024,
					      &error), 0);
	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		unsigned long first = 12345, last = 67890;

		KUNIT_EXPECT_FALSE(test, xrepl_range_to_regions(&geom,
								starts[i], 0,
								&first, &last));
		/* Left alone. */
		KUNIT_EXPECT_EQ(test, first, 12345UL);
		KUNIT_EXPECT_EQ(test, last, 67890UL);
	}
}

/* Ranges on a large device with the largest regions. */
static void xrepl_range_large_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned long first, last;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 48, 1U << 21,
					      &error), 0);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, (1ULL << 48) - 1,
						       1, &first, &last));
	KUNIT_EXPECT_EQ(test, first, (1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, last, (1UL << 27) - 1);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, (1ULL << 21) - 1,
						       2, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0UL);
	KUNIT_EXPECT_EQ(test, last, 1UL);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, 0, 1ULL << 48,
						       &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0UL);
	KUNIT_EXPECT_EQ(test, last, (1UL << 27) - 1);
}

/* ------------------------------------------------------------------------
 * Dirty-region bitmap.
 */

static int xt_bm_init(struct kunit_resource *res, void *context)
{
	unsigned long nr_bits = *(unsigned long *)context;
	struct xrepl_bitmap *bm;

	bm = kzalloc(sizeof(*bm), GFP_KERNEL);
	if (!bm)
		return -ENOMEM;
	if (xrepl_bitmap_alloc(bm, nr_bits)) {
		kfree(bm);
		return -ENOMEM;
	}
	res->data = bm;
	return 0;
}

static void xt_bm_free(struct kunit_resource *res)
{
	struct xrepl_bitmap *bm = res->data;

	xrepl_bitmap_free(bm);
	kfree(bm);
}

/* A bitmap freed automatically when the test ends, even on failure. */
static struct xrepl_bitmap *xt_bm(struct kunit *test, unsigned long nr_bits)
{
	struct xrepl_bitmap *bm;

	bm = kunit_alloc_resource(test, xt_bm_init, xt_bm_free, GFP_KERNEL,
				  &nr_bits);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, bm);
	KUNIT_ASSERT_NOT_NULL(test, bm->bits);
	KUNIT_ASSERT_EQ(test, bm->nr_bits, nr_bits);
	KUNIT_ASSERT_EQ(test, bm->nr_set, 0UL);
	return bm;
}

/* Count set bits by testing each one. */
static unsigned long xt_bm_count(const struct xrepl_bitmap *bm)
{
	unsigned long bit, n = 0;

	for (bit = 0; bit < bm->nr_bits; bit++)
		n += xrepl_bitmap_test(bm, bit);
	return n;
}

/* Sizes around word boundaries, most not a multiple of BITS_PER_LONG. */
static const unsigned long xt_bm_sizes[] = {
	1, 2, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 1000,
};

static void xrepl_bitmap_alloc_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i];
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n - 1));
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n));
	}
}

static void xrepl_bitmap_free_test(struct kunit *test)
{
	struct xrepl_bitmap bm;

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_alloc(&bm, 100), 0);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(&bm, 0, 9), 10UL);
	xrepl_bitmap_free(&bm);
	KUNIT_EXPECT_NULL(test, bm.bits);
	KUNIT_EXPECT_EQ(test, bm.nr_bits, 0UL);
	KUNIT_EXPECT_EQ(test, bm.nr_set, 0UL);
	/* A freed bitmap is empty: nothing to test or find. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(&bm, 0));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(&bm, 0), 0UL);
	/* Freeing twice is harmless. */
	xrepl_bitmap_free(&bm);
	KUNIT_EXPECT_NULL(test, bm.bits);
}

static void xrepl_bitmap_set_range_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 100);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 3, 7), 5UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 5UL);
	/* Overlapping: only 8..10 are new. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 5, 10), 3UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 8UL);
	/* Entirely inside: nothing new. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 4, 9), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 3, 10), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 8UL);
	/* Covering on both sides: 0..2 and 11..12. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 12), 5UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 13UL);
	/* Single bits, the first and the last. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 14UL);
	/* Across the word boundary at 64, with a gap left at 13..59. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 60, 70), 11UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 25UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 25UL);

	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 0));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 12));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 13));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 59));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 60));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 64));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 70));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 71));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 98));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 99));

	/* The whole bitmap: everything not yet set. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 99), 75UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 100UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 100UL);
}

/*
 * Word-at-a-time ranges against a bit-at-a-time model: every start and
 * end around the word boundaries of a 300-bit map, over a pattern of bits
 * already set.
 */
static void xrepl_bitmap_set_range_words_test(struct kunit *test)
{
	static const unsigned long edges[] = {
		0, 1, 62, 63, 64, 65, 127, 128, 129, 191, 192, 250, 255, 256, 299,
	};
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		for (j = i; j < ARRAY_SIZE(edges); j++) {
			struct xrepl_bitmap *bm = xt_bm(test, 300);
			unsigned long first = edges[i], last = edges[j];
			unsigned long b, want = 0, pre;

			for (b = 0; b < 300; b += 7)
				xrepl_bitmap_set_range(bm, b, b);
			pre = bm->nr_set;
			for (b = first; b <= last; b++)
				want += !xrepl_bitmap_test(bm, b);
			KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_set_range(bm, first, last),
					    want, "range %lu..%lu", first, last);
			KUNIT_EXPECT_EQ(test, bm->nr_set, pre + want);
			KUNIT_EXPECT_EQ(test, xt_bm_count(bm), pre + want);
			for (b = 0; b < 300; b++)
				KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_test(bm, b),
						    (b >= first && b <= last) || !(b % 7),
						    "bit %lu after %lu..%lu", b, first, last);
		}
	}
}

static void xrepl_bitmap_set_range_invalid_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 65);

	/* first > last */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 10, 9), 0UL);
	/* last out of range: nothing is set, not even the valid part. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 60, 65), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 65, 65), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, ULONG_MAX), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, ULONG_MAX, ULONG_MAX),
			0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 65UL);
	/* The last valid bit. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 64UL);
}

static void xrepl_bitmap_clear_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 130);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 62, 66), 5UL);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 64));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 64));
	/* Clearing a clear bit changes nothing. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 64));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 129));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	/* Out of range. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 130));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, ULONG_MAX));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	/* Neighbours are untouched. */
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 65));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 62));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 65));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 66));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 130UL);
	/* A cleared bit can be set again and counts again. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 1UL);
}

static void xrepl_bitmap_fill_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i], bit, steps = 0;
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, n);
		KUNIT_EXPECT_EQ(test, xt_bm_count(bm), n);
		/* Again: nothing new. */
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 0UL);
		KUNIT_EXPECT_EQ(test, bm->nr_set, n);
		/* Nothing is visible past the end, nor stored there. */
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n));
		if (n % BITS_PER_LONG)
			KUNIT_EXPECT_EQ(test, bm->bits[n / BITS_PER_LONG] >>
					(n % BITS_PER_LONG), 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n), n);

		/* Drain it the way a resync would. */
		for (bit = xrepl_bitmap_next_set(bm, 0); bit < n;
		     bit = xrepl_bitmap_next_set(bm, bit + 1)) {
			KUNIT_EXPECT_EQ(test, bit, steps);
			KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, bit));
			if (++steps > n)
				break;
		}
		KUNIT_EXPECT_EQ(test, bit, n);
		KUNIT_EXPECT_EQ(test, steps, n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
	}
}

static void xrepl_bitmap_fill_partial_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 129);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 10, 19), 10UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 128, 128), 1UL);
	/* Only the bits not already set count. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 118UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 129UL);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 128));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 128), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 129UL);
}

static void xrepl_bitmap_next_set_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 100);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 99), 100UL);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 5, 5), 1UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 1UL);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 5), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 6), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 63), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 64), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 65), 99UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 99), 99UL);
	/* From at or past the end: nr_bits. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 100), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 101), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 128), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, ULONG_MAX), 100UL);

	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 99));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 65), 100UL);
}

/* Bitmaps whose last word is partly unused: bits past nr_bits never show. */
static void xrepl_bitmap_tail_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i];
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, n - 1, n - 1),
				1UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n - 1);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n - 1), n - 1);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n), n);
		KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, n - 1));
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	}
}

/*
 * Random operations checked against a plain bool array: the count of set
 * bits and every return value must match the model.
 */
#define XT_MODEL_BITS	200

static u32 xt_rand(u32 *seed)
{
	/* Deterministic LCG (Numerical Recipes constants), upper bits. */
	*seed = *seed * 1664525 + 1013904223;
	return *seed >> 8;
}

static void xrepl_bitmap_model_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, XT_MODEL_BITS);
	unsigned long nset = 0, bit;
	u32 seed = 0x12345678;
	unsigned int step;
	bool *model;

	model = kunit_kzalloc(test, XT_MODEL_BITS * sizeof(*model), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, model);

	for (step = 0; step < 5000; step++) {
		unsigned int op = xt_rand(&seed) % 64;
		/* Reach a little past the end to exercise the range checks. */
		unsigned long a = xt_rand(&seed) % (XT_MODEL_BITS + 2);
		unsigned long b = a + xt_rand(&seed) % 24;
		unsigned long want = 0, got;

		if (op < 28) {
			if (b < XT_MODEL_BITS) {
				for (bit = a; bit <= b; bit++) {
					want += !model[bit];
					model[bit] = true;
				}
			}
			got = xrepl_bitmap_set_range(bm, a, b);
			nset += want;
		} else if (op < 50) {
			if (a < XT_MODEL_BITS) {
				want = model[a];
				model[a] = false;
			}
			got = xrepl_bitmap_clear(bm, a);
			nset -= want;
		} else if (op < 63) {
			want = XT_MODEL_BITS;
			for (bit = a; bit < XT_MODEL_BITS; bit++) {
				if (model[bit]) {
					want = bit;
					break;
				}
			}
			got = xrepl_bitmap_next_set(bm, a);
		} else {
			for (bit = 0; bit < XT_MODEL_BITS; bit++) {
				want += !model[bit];
				model[bit] = true;
			}
			got = xrepl_bitmap_fill(bm);
			nset = XT_MODEL_BITS;
		}

		KUNIT_ASSERT_EQ_MSG(test, got, want, "step %u op %u a %lu b %lu",
				    step, op, a, b);
		KUNIT_ASSERT_EQ_MSG(test, bm->nr_set, nset, "step %u", step);
	}
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), nset);
	for (bit = 0; bit < XT_MODEL_BITS; bit++)
		KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_test(bm, bit),
				    model[bit], "bit %lu", bit);
}

/* A bitmap as large as the region cap allows. */
static void xrepl_bitmap_large_test(struct kunit *test)
{
	const unsigned long n = XREPL_MAX_REGIONS;
	struct xrepl_bitmap *bm = xt_bm(test, n);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, n - 2, n - 1), 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n - 2);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), n - 2);
	KUNIT_EXPECT_EQ(test, bm->nr_set, n);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, n - 1));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_EQ(test, bm->nr_set, n - 2);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n - 1), n);
}

static struct kunit_case xrepl_bitmap_test_cases[] = {
	KUNIT_CASE_PARAM(xrepl_geom_init_test, xt_geom_gen_params),
	KUNIT_CASE(xrepl_region_len_sum_test),
	KUNIT_CASE(xrepl_sector_region_test),
	KUNIT_CASE(xrepl_range_to_regions_test),
	KUNIT_CASE(xrepl_range_empty_test),
	KUNIT_CASE(xrepl_range_large_test),
	KUNIT_CASE(xrepl_bitmap_alloc_test),
	KUNIT_CASE(xrepl_bitmap_free_test),
	KUNIT_CASE(xrepl_bitmap_set_range_test),
	KUNIT_CASE(xrepl_bitmap_set_range_words_test),
	KUNIT_CASE(xrepl_bitmap_set_range_invalid_test),
	KUNIT_CASE(xrepl_bitmap_clear_test),
	KUNIT_CASE(xrepl_bitmap_fill_test),
	KUNIT_CASE(xrepl_bitmap_fill_partial_test),
	KUNIT_CASE(xrepl_bitmap_next_set_test),
	KUNIT_CASE(xrepl_bitmap_tail_test),
	KUNIT_CASE(xrepl_bitmap_model_test),
	KUNIT_CASE(xrepl_bitmap_large_test),
	{}
};

static struct kunit_suite xrepl_bitmap_test_suite = {
	.name = "dm-xrepl-bitmap",
	.test_cases = xrepl_bitmap_test_cases,
};

kunit_test_suite(xrepl_bitmap_test_suite);

MODULE_DESCRIPTION("KUnit tests for the dm-xrepl helpers");
MODULE_LICENSE("GPL");
