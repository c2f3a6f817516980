/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl: replicate a block device to a remote block device.
 *
 * Declarations shared by the target and its pure helpers: the parsed
 * table line, region geometry and the dirty-region bitmap.  Nothing in
 * this header depends on device-mapper core, so the helpers can be unit
 * tested on their own (see xrepl-kunit.c).
 */
#ifndef DM_XREPL_H
#define DM_XREPL_H

#include <linux/bits.h>
#include <linux/types.h>

/* Region size in 512-byte sectors: 512 KiB, as LVM mirrors use. */
#define XREPL_DEFAULT_REGION_SIZE	1024U
#define XREPL_MIN_REGION_SIZE		8U
/* 1 GiB regions: beyond that a resync copy unit is unreasonably large. */
#define XREPL_MAX_REGION_SIZE		BIT(21)
/* Caps the in-memory bitmap at 16 MiB (64 TiB at the default region size). */
#define XREPL_MAX_REGIONS		BIT(27)

enum xrepl_mode {
	XREPL_MODE_SYNC,
	XREPL_MODE_SEMI_SYNC,
	XREPL_MODE_ASYNC,
};

enum xrepl_error_policy {
	XREPL_ON_ERROR_DEGRADE,
	XREPL_ON_ERROR_FAIL,
};

/* Optional arguments that were given explicitly (xrepl_args.given). */
#define XREPL_OPT_REGION_SIZE		BIT(0)
#define XREPL_OPT_ON_REMOTE_ERROR	BIT(1)
#define XREPL_OPT_NOSYNC		BIT(2)

/*
 * A parsed table line.  The device strings point into the caller's argv,
 * which must outlive this structure.
 */
struct xrepl_args {
	const char *local_path;
	const char *remote_path;
	const char *meta_path;		/* NULL for "-" (in-memory bitmap) */
	enum xrepl_mode mode;
	enum xrepl_error_policy on_remote_error;
	u32 region_size;		/* sectors, a power of two */
	unsigned int given;		/* XREPL_OPT_* */
	bool nosync;
};

/*
 * Parse "<local> <remote> <meta> <mode> [<#opt> <opt>...]".  Returns 0 or
 * -EINVAL with *error set to a static string naming the problem.  Checks
 * syntax only; devices are not looked up.  May sleep: no.
 */
int xrepl_parse_args(struct xrepl_args *args, unsigned int argc, char **argv,
		     char **error);

const char *xrepl_mode_name(enum xrepl_mode mode);
const char *xrepl_policy_name(enum xrepl_error_policy policy);

/* How a device of dev_sectors is cut into regions. */
struct xrepl_geom {
	sector_t dev_sectors;
	u32 region_size;		/* sectors, a power of two */
	unsigned int region_shift;	/* ilog2(region_size) */
	unsigned long nr_regions;
};

/*
 * Fill *geom for a device of dev_sectors (> 0) with region_size sectors
 * per region.  Returns -EINVAL with *error set if the region size is not a
 * valid power of two or gives more than XREPL_MAX_REGIONS regions.
 */
int xrepl_geom_init(struct xrepl_geom *geom, sector_t dev_sectors,
		    u32 region_size, char **error);

static inline unsigned long xrepl_sector_to_region(const struct xrepl_geom *geom,
						   sector_t sector)
{
	return (unsigned long)(sector >> geom->region_shift);
}

static inline sector_t xrepl_region_to_sector(const struct xrepl_geom *geom,
					      unsigned long region)
{
	return (sector_t)region << geom->region_shift;
}

/* Length in sectors of a region: the last one may be short. */
sector_t xrepl_region_len(const struct xrepl_geom *geom, unsigned long region);

/*
 * Regions touched by nr_sectors starting at sector (device relative).
 * Returns false, leaving *first and *last alone, when nr_sectors is 0.
 */
bool xrepl_range_to_regions(const struct xrepl_geom *geom, sector_t sector,
			    sector_t nr_sectors, unsigned long *first,
			    unsigned long *last);

/*
 * Dirty-region bitmap: a set bit means the remote may miss data of that
 * region.  It keeps a count of set bits so status is O(1).  None of these
 * functions sleeps except alloc/free; the caller serialises them.
 */
struct xrepl_bitmap {
	unsigned long *bits;
	unsigned long nr_bits;
	unsigned long nr_set;
};

int xrepl_bitmap_alloc(struct xrepl_bitmap *bm, unsigned long nr_bits);
void xrepl_bitmap_free(struct xrepl_bitmap *bm);
/* Set bits first..last (inclusive); returns how many were newly set. */
unsigned long xrepl_bitmap_set_range(struct xrepl_bitmap *bm,
				     unsigned long first, unsigned long last);
/* Set every bit; returns how many were newly set. */
unsigned long xrepl_bitmap_fill(struct xrepl_bitmap *bm);
/* Clear one bit; returns whether it was set. */
bool xrepl_bitmap_clear(struct xrepl_bitmap *bm, unsigned long bit);
bool xrepl_bitmap_test(const struct xrepl_bitmap *bm, unsigned long bit);
/* First set bit at or after from, or nr_bits if there is none. */
unsigned long xrepl_bitmap_next_set(const struct xrepl_bitmap *bm,
				    unsigned long from);

#endif /* DM_XREPL_H */
