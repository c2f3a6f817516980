// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: region geometry and the dirty-region bitmap.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/slab.h>

#include "dm-xrepl.h"

int xrepl_geom_init(struct xrepl_geom *geom, sector_t dev_sectors,
		    u32 region_size, char **error)
{
	sector_t nr;

	if (region_size < XREPL_MIN_REGION_SIZE ||
	    region_size > XREPL_MAX_REGION_SIZE ||
	    !is_power_of_2(region_size)) {
		*error = "Invalid region_size";
		return -EINVAL;
	}
	if (!dev_sectors) {
		*error = "Zero-length device";
		return -EINVAL;
	}

	nr = dev_sectors >> ilog2(region_size);
	if (dev_sectors & (region_size - 1))
		nr++;
	if (nr > XREPL_MAX_REGIONS) {
		*error = "region_size too small for device";
		return -EINVAL;
	}

	geom->dev_sectors = dev_sectors;
	geom->region_size = region_size;
	geom->region_shift = ilog2(region_size);
	geom->nr_regions = nr;
	return 0;
}

sector_t xrepl_region_len(const struct xrepl_geom *geom, unsigned long region)
{
	sector_t start;

	if (region >= geom->nr_regions)
		return 0;
	start = xrepl_region_to_sector(geom, region);
	return min_t(sector_t, geom->region_size, geom->dev_sectors - start);
}

bool xrepl_range_to_regions(const struct xrepl_geom *geom, sector_t sector,
			    sector_t nr_sectors, unsigned long *first,
			    unsigned long *last)
{
	if (!nr_sectors)
		return false;
	*first = xrepl_sector_to_region(geom, sector);
	*last = xrepl_sector_to_region(geom, sector + nr_sectors - 1);
	/* Device-mapper keeps bios inside the target; never lose a region. */
	if (WARN_ON_ONCE(*last >= geom->nr_regions)) {
		*last = geom->nr_regions - 1;
		*first = min(*first, *last);
	}
	return true;
}

int xrepl_bitmap_alloc(struct xrepl_bitmap *bm, unsigned long nr_bits)
{
	bm->bits = kvcalloc(BITS_TO_LONGS(nr_bits), sizeof(unsigned long),
			    GFP_KERNEL);
	if (!bm->bits)
		return -ENOMEM;
	bm->nr_bits = nr_bits;
	bm->nr_set = 0;
	return 0;
}

void xrepl_bitmap_free(struct xrepl_bitmap *bm)
{
	kvfree(bm->bits);
	bm->bits = NULL;
	bm->nr_bits = 0;
	bm->nr_set = 0;
}

/* The bits of word w that lie in first..last. */
static unsigned long range_word_mask(unsigned long w, unsigned long first,
				     unsigned long last)
{
	unsigned long mask = ~0UL;

	if (w == BIT_WORD(first))
		mask &= BITMAP_FIRST_WORD_MASK(first);
	if (w == BIT_WORD(last))
		mask &= BITMAP_LAST_WORD_MASK(last + 1);
	return mask;
}

unsigned long xrepl_bits_set_range(unsigned long *map, unsigned long first,
				   unsigned long last)
{
	unsigned long w, mask, added = 0;

	/*
	 * A word at a time: a discard of a whole device may span millions
	 * of regions, and callers hold a spinlock with interrupts off.
	 */
	for (w = BIT_WORD(first); w <= BIT_WORD(last); w++) {
		mask = range_word_mask(w, first, last);
		added += hweight_long(mask & ~map[w]);
		map[w] |= mask;
	}
	return added;
}

void xrepl_bits_set_range_atomic(unsigned long *map, unsigned long first,
				 unsigned long last)
{
	unsigned long w;

	for (w = BIT_WORD(first); w <= BIT_WORD(last); w++)
		set_mask_bits(&map[w], 0, range_word_mask(w, first, last));
}

unsigned long xrepl_bitmap_set_range(struct xrepl_bitmap *bm,
				     unsigned long first, unsigned long last)
{
	unsigned long added;

	if (first > last || last >= bm->nr_bits)
		return 0;
	added = xrepl_bits_set_range(bm->bits, first, last);
	bm->nr_set += added;
	return added;
}

unsigned long xrepl_bitmap_fill(struct xrepl_bitmap *bm)
{
	unsigned long added = bm->nr_bits - bm->nr_set;

	/* Not bitmap_fill(): bits past nr_bits stay clear. */
	bitmap_set(bm->bits, 0, bm->nr_bits);
	bm->nr_set = bm->nr_bits;
	return added;
}

bool xrepl_bitmap_clear(struct xrepl_bitmap *bm, unsigned long bit)
{
	if (bit >= bm->nr_bits || !__test_and_clear_bit(bit, bm->bits))
		return false;
	bm->nr_set--;
	return true;
}

bool xrepl_bitmap_test(const struct xrepl_bitmap *bm, unsigned long bit)
{
	return bit < bm->nr_bits && test_bit(bit, bm->bits);
}

unsigned long xrepl_bitmap_next_set(const struct xrepl_bitmap *bm,
				    unsigned long from)
{
	if (from >= bm->nr_bits)
		return bm->nr_bits;
	return find_next_bit(bm->bits, bm->nr_bits, from);
}
