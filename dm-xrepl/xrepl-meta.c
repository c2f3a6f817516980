// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the metadata format (superblock encoding and validation) and
 * the write-intent state of the regions.  No I/O here: the target reads
 * and writes the blocks; these helpers are unit tested on their own.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/ctype.h>
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <asm/byteorder.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

static_assert(sizeof(struct xrepl_meta_sb) == XREPL_META_SB_SIZE);
static_assert(XREPL_META_BITS_PER_BLOCK % BITS_PER_LONG == 0);

#define WORDS_PER_BLOCK	(XREPL_META_BITS_PER_BLOCK / BITS_PER_LONG)

u32 xrepl_sb_csum(const void *sector)
{
	const size_t off = offsetof(struct xrepl_meta_sb, csum);
	static const u8 zero[4];
	u32 crc;

	crc = __crc32c_le(XREPL_META_CSUM_SEED, sector, off);
	crc = __crc32c_le(crc, zero, sizeof(zero));
	return __crc32c_le(crc, (const u8 *)sector + off + sizeof(zero),
			   XREPL_META_SB_SIZE - off - sizeof(zero));
}

void xrepl_sb_encode(void *sector, const struct xrepl_sb_info *info)
{
	struct xrepl_meta_sb *sb = sector;
	unsigned int i;

	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN);
	sb->version = cpu_to_le32(XREPL_META_VERSION);
	sb->flags = cpu_to_le32(info->flags);
	sb->region_size = cpu_to_le32(info->region_size);
	sb->dev_sectors = cpu_to_le64(info->dev_sectors);
	sb->nr_regions = cpu_to_le64(info->nr_regions);
	sb->bitmap_start = cpu_to_le64(1);
	sb->bitmap_blocks = cpu_to_le64(info->bitmap_blocks);
	sb->generation = cpu_to_le64(info->generation);
	memcpy(sb->uuid, info->uuid, sizeof(sb->uuid));
	sb->ctime = cpu_to_le64(info->ctime);
	sb->mtime = cpu_to_le64(info->mtime);
	sb->degraded = cpu_to_le32(info->degraded);
	sb->gen_current = cpu_to_le64(info->gen_current);
	sb->gen_bitmap = cpu_to_le64(info->gen_bitmap);
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		sb->gen_history[i] = cpu_to_le64(info->gen_history[i]);
	sb->resync_count = cpu_to_le64(info->resync_count);
	sb->degrade_count = cpu_to_le64(info->degrade_count);
	sb->role = cpu_to_le32(info->role);
	sb->data_time = cpu_to_le64(info->data_time);
	sb->undo_epoch = cpu_to_le64(info->undo_epoch);
	sb->trk_id = cpu_to_le64(info->trk_id);
	sb->trk_open = cpu_to_le64(info->trk_open);
	sb->trk_oldest = cpu_to_le64(info->trk_oldest);
	sb->trk_slots = cpu_to_le32(info->trk_slots);
	sb->csum = cpu_to_le32(xrepl_sb_csum(sb));
}

bool xrepl_mem_is_zero(const void *buf, size_t len)
{
	return !memchr_inv(buf, 0, len);
}

bool xrepl_trk_name_ok(const char *name, size_t len)
{
	size_t n = strnlen(name, len), i;

	if (!n || n >= len || !xrepl_mem_is_zero(name + n, len - n))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum(name[i]) && !strchr("._:+@-", name[i]))
			return false;
	return true;
}

void xrepl_sb_trk_clear(struct xrepl_sb_info *info)
{
	info->trk_id = 0;
	info->trk_open = 0;
	info->trk_oldest = 0;
	info->trk_slots = 0;
}

static_assert(sizeof(struct xrepl_trk_hdr) == XREPL_META_SB_SIZE);
static_assert(offsetof(struct xrepl_trk_hdr, csum) ==
	      offsetof(struct xrepl_meta_sb, csum));

void xrepl_trk_hdr_encode(void *sector, const struct xrepl_trk_info *t)
{
	struct xrepl_trk_hdr *h = sector;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, XREPL_TRK_MAGIC, XREPL_META_MAGIC_LEN);
	h->trk_id = cpu_to_le64(t->trk_id);
	h->era = cpu_to_le64(t->era);
	h->time_ms = cpu_to_le64(t->time_ms);
	memcpy(h->uuid, t->uuid, sizeof(h->uuid));
	strscpy(h->name, t->name, sizeof(h->name));
	/* The same sector checksum as the superblock's. */
	h->csum = cpu_to_le32(xrepl_sb_csum(h));
}

int xrepl_trk_hdr_decode(const void *sector, struct xrepl_trk_info *t,
			 const u8 *uuid, u64 trk_id, u64 era, char **error)
{
	const struct xrepl_trk_hdr *h = sector;

	*error = "Metadata: corrupt change tracker slot";
	if (memcmp(h->magic, XREPL_TRK_MAGIC, XREPL_META_MAGIC_LEN) ||
	    le32_to_cpu(h->csum) != xrepl_sb_csum(h) || h->reserved0 ||
	    !xrepl_mem_is_zero(h->reserved, sizeof(h->reserved)) ||
	    !xrepl_trk_name_ok(h->name, sizeof(h->name)))
		return -EILSEQ;
	if (memcmp(h->uuid, uuid, sizeof(h->uuid)) ||
	    le64_to_cpu(h->trk_id) != trk_id || le64_to_cpu(h->era) != era) {
		*error = "Metadata: a change tracker slot of another era or pair";
		return -EILSEQ;
	}
	t->trk_id = trk_id;
	t->era = era;
	t->time_ms = le64_to_cpu(h->time_ms);
	memcpy(t->uuid, h->uuid, sizeof(t->uuid));
	memcpy(t->name, h->name, sizeof(t->name));
	return 0;
}

/*
 * The generation identifiers name distinct data states, newest first: a
 * value that appears twice (or a current one of 0, in version 2) would make
 * the comparison with the other side see an ancestor where there is none.
 */
static bool gen_loop(const struct xrepl_meta_sb *sb, u32 version)
{
	u64 g[2 + XREPL_META_GEN_HISTORY];
	unsigned int i, j;

	g[0] = le64_to_cpu(sb->gen_current);
	g[1] = le64_to_cpu(sb->gen_bitmap);
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		g[2 + i] = le64_to_cpu(sb->gen_history[i]);
	if (!g[0] && version != XREPL_META_VERSION_1)
		return true;
	for (i = 0; i < ARRAY_SIZE(g); i++)
		for (j = i + 1; j < ARRAY_SIZE(g); j++)
			if (g[i] && g[i] == g[j])
				return true;
	return false;
}

/*
 * The change tracker's fields: all zero, or a primary's ring of a valid
 * size whose kept checkpoints (trk_oldest .. trk_open) fit in it, with
 * one slot spare.
 */
static bool trk_bad(const struct xrepl_meta_sb *sb, u32 version, u32 role)
{
	u64 open = le64_to_cpu(sb->trk_open);
	u64 oldest = le64_to_cpu(sb->trk_oldest);
	u32 slots = le32_to_cpu(sb->trk_slots);

	if (!sb->trk_id)
		return open || oldest || slots;
	return version == XREPL_META_VERSION_1 ||
	       role != XREPL_META_ROLE_PRIMARY || sb->undo_epoch ||
	       open > XREPL_TRK_MAX_ERA ||
	       slots < XREPL_TRK_MIN_SLOTS || slots > XREPL_TRK_MAX_SLOTS ||
	       !oldest || oldest > open || open - oldest >= slots - 1;
}

static int sb_bad(char **error, char *what)
{
	*error = what;
	return -EILSEQ;
}

int xrepl_sb_decode(const void *sector, struct xrepl_sb_info *info,
		    char **error)
{
	const struct xrepl_meta_sb *sb = sector;
	u32 rs, version, role;
	u64 nr, blocks;
	unsigned int i;

	if (memcmp(sb->magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN))
		return sb_bad(error, "Metadata: bad magic");
	if (le32_to_cpu(sb->csum) != xrepl_sb_csum(sb))
		return sb_bad(error, "Metadata: superblock checksum mismatch");
	version = le32_to_cpu(sb->version);
	if (version != XREPL_META_VERSION && version != XREPL_META_VERSION_1)
		return sb_bad(error, "Metadata: unsupported format version");
	if (le32_to_cpu(sb->flags) & ~XREPL_META_F_ALL)
		return sb_bad(error, "Metadata: unknown flags");
	if (le32_to_cpu(sb->degraded) > XREPL_META_DEGRADED_MAX ||
	    sb->reserved0 || sb->reserved1 || sb->reserved2 ||
	    !xrepl_mem_is_zero(sb->reserved, sizeof(sb->reserved)))
		return sb_bad(error, "Metadata: corrupt superblock");
	role = le32_to_cpu(sb->role);
	if (version == XREPL_META_VERSION_1) {
		/* Version 1 had no role: a primary's, all of it reserved. */
		if (role || sb->data_time || sb->undo_epoch ||
		    le32_to_cpu(sb->flags) & ~XREPL_META_F_CONSISTENT)
			return sb_bad(error, "Metadata: corrupt superblock");
		role = XREPL_META_ROLE_PRIMARY;
	} else if (role != XREPL_META_ROLE_PRIMARY &&
		   role != XREPL_META_ROLE_SECONDARY) {
		return sb_bad(error, "Metadata: unknown role");
	} else if (role == XREPL_META_ROLE_PRIMARY &&
		   le32_to_cpu(sb->flags) & (XREPL_META_F_DEMOTED |
					     XREPL_META_F_LIVE)) {
		return sb_bad(error, "Metadata: a secondary's flags on a primary");
	}
	/* An undo epoch guards a copy that a cycle is overwriting. */
	if (sb->undo_epoch && (role != XREPL_META_ROLE_SECONDARY ||
			       le32_to_cpu(sb->flags) & XREPL_META_F_CONSISTENT))
		return sb_bad(error, "Metadata: an undo epoch on a consistent copy or a primary");
	if (trk_bad(sb, version, role))
		return sb_bad(error, "Metadata: corrupt change tracker");
	if (gen_loop(sb, version))
		return sb_bad(error, "Metadata: generation identifiers repeat (a loop)");

	rs = le32_to_cpu(sb->region_size);
	nr = le64_to_cpu(sb->nr_regions);
	blocks = le64_to_cpu(sb->bitmap_blocks);
	if (rs < XREPL_MIN_REGION_SIZE || rs > XREPL_MAX_REGION_SIZE ||
	    !is_power_of_2(rs) || !sb->dev_sectors ||
	    nr != DIV_ROUND_UP_ULL(le64_to_cpu(sb->dev_sectors), rs) ||
	    nr > XREPL_MAX_REGIONS || le64_to_cpu(sb->bitmap_start) != 1 ||
	    blocks != xrepl_meta_bitmap_blocks(nr))
		return sb_bad(error, "Metadata: corrupt geometry");

	info->flags = le32_to_cpu(sb->flags);
	info->region_size = rs;
	info->degraded = le32_to_cpu(sb->degraded);
	info->dev_sectors = le64_to_cpu(sb->dev_sectors);
	info->nr_regions = nr;
	info->bitmap_blocks = blocks;
	info->generation = le64_to_cpu(sb->generation);
	memcpy(info->uuid, sb->uuid, sizeof(info->uuid));
	info->ctime = le64_to_cpu(sb->ctime);
	info->mtime = le64_to_cpu(sb->mtime);
	info->gen_current = le64_to_cpu(sb->gen_current);
	info->gen_bitmap = le64_to_cpu(sb->gen_bitmap);
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		info->gen_history[i] = le64_to_cpu(sb->gen_history[i]);
	info->resync_count = le64_to_cpu(sb->resync_count);
	info->degrade_count = le64_to_cpu(sb->degrade_count);
	info->role = role;
	info->data_time = le64_to_cpu(sb->data_time);
	info->undo_epoch = le64_to_cpu(sb->undo_epoch);
	info->trk_id = le64_to_cpu(sb->trk_id);
	info->trk_open = le64_to_cpu(sb->trk_open);
	info->trk_oldest = le64_to_cpu(sb->trk_oldest);
	info->trk_slots = le32_to_cpu(sb->trk_slots);
	return 0;
}

int xrepl_sb_check(const struct xrepl_sb_info *info, sector_t dev_sectors,
		   u32 region_size, sector_t meta_sectors, char **error)
{
	if (region_size && info->region_size != region_size) {
		*error = "Metadata: region_size differs from the table";
		return -EINVAL;
	}
	if (info->dev_sectors != dev_sectors) {
		*error = "Metadata: device size differs";
		return -EINVAL;
	}
	if (meta_sectors < xrepl_meta_min_sectors(info->nr_regions)) {
		*error = "Metadata device too small";
		return -EINVAL;
	}
	if (info->trk_id &&
	    xrepl_trk_fit(info->nr_regions, meta_sectors) < info->trk_slots) {
		*error = "Metadata device too small for its change tracker";
		return -EINVAL;
	}
	return 0;
}

void xrepl_sb_init(struct xrepl_sb_info *info, const struct xrepl_geom *geom,
		   bool consistent)
{
	memset(info, 0, sizeof(*info));
	info->flags = consistent ? XREPL_META_F_CONSISTENT : 0;
	info->region_size = geom->region_size;
	info->dev_sectors = geom->dev_sectors;
	info->nr_regions = geom->nr_regions;
	info->bitmap_blocks = xrepl_meta_bitmap_blocks(geom->nr_regions);
	info->role = XREPL_META_ROLE_PRIMARY;
	get_random_bytes(info->uuid, sizeof(info->uuid));
	info->gen_current = xrepl_gen_new(info);
	info->ctime = ktime_get_real_seconds();
}

/*
 * Write intent.
 */

int xrepl_wi_alloc(struct xrepl_wi *wi, unsigned long nr_regions)
{
	/* Whole blocks, so that a block is copied to disk in one piece. */
	unsigned long blocks = xrepl_meta_bitmap_blocks(nr_regions);
	size_t words = blocks * WORDS_PER_BLOCK;

	memset(wi, 0, sizeof(*wi));
	wi->nr_regions = nr_regions;
	wi->nr_blocks = blocks;
	wi->bits = kvcalloc(words, sizeof(long), GFP_KERNEL);
	wi->committed = kvcalloc(words, sizeof(long), GFP_KERNEL);
	wi->touched = kvcalloc(words, sizeof(long), GFP_KERNEL);
	wi->clearing = kvcalloc(words, sizeof(long), GFP_KERNEL);
	wi->asked = kvcalloc(words, sizeof(long), GFP_KERNEL);
	wi->dirty_blocks = bitmap_zalloc(blocks, GFP_KERNEL);
	if (!wi->bits || !wi->committed || !wi->touched || !wi->clearing ||
	    !wi->asked || !wi->dirty_blocks) {
		xrepl_wi_free(wi);
		return -ENOMEM;
	}
	return 0;
}

void xrepl_wi_free(struct xrepl_wi *wi)
{
	kvfree(wi->bits);
	kvfree(wi->committed);
	kvfree(wi->touched);
	kvfree(wi->clearing);
	kvfree(wi->asked);
	bitmap_free(wi->dirty_blocks);
	memset(wi, 0, sizeof(*wi));
}

/* One bitmap block between the in-memory and the on-disk layout. */
void xrepl_meta_block_to_disk(void *buf, const unsigned long *src)
{
	__le64 *dst = buf;
	unsigned int i;

#if BITS_PER_LONG == 64
	for (i = 0; i < WORDS_PER_BLOCK; i++)
		dst[i] = cpu_to_le64(src[i]);
#else
	for (i = 0; i < WORDS_PER_BLOCK / 2; i++)
		dst[i] = cpu_to_le64((u64)src[2 * i + 1] << 32 | src[2 * i]);
#endif
}

void xrepl_meta_block_from_disk(unsigned long *dst, const void *buf)
{
	const __le64 *src = buf;
	unsigned int i;

#if BITS_PER_LONG == 64
	for (i = 0; i < WORDS_PER_BLOCK; i++)
		dst[i] = le64_to_cpu(src[i]);
#else
	for (i = 0; i < WORDS_PER_BLOCK / 2; i++) {
		u64 w = le64_to_cpu(src[i]);

		dst[2 * i] = lower_32_bits(w);
		dst[2 * i + 1] = upper_32_bits(w);
	}
#endif
}

int xrepl_wi_load_block(struct xrepl_wi *wi, unsigned long block,
			const void *buf, char **error)
{
	unsigned long *bits = wi->bits + block * WORDS_PER_BLOCK;
	unsigned long first = block * XREPL_META_BITS_PER_BLOCK;
	unsigned long n;

	if (block >= wi->nr_blocks)
		return -EINVAL;
	xrepl_meta_block_from_disk(bits, buf);
	n = XREPL_META_BITS_PER_BLOCK;
	if (first + n > wi->nr_regions) {
		n = wi->nr_regions - first;
		if (find_next_bit(bits, XREPL_META_BITS_PER_BLOCK, n) <
		    XREPL_META_BITS_PER_BLOCK) {
			bitmap_zero(bits, XREPL_META_BITS_PER_BLOCK);
			*error = "Metadata: corrupt bitmap";
			return -EILSEQ;
		}
	}
	bitmap_copy(wi->committed + block * WORDS_PER_BLOCK, bits,
		    XREPL_META_BITS_PER_BLOCK);
	wi->nr_marked += bitmap_weight(bits, n);
	return 0;
}

void xrepl_wi_mark_all_locked(struct xrepl_wi *wi)
{
	bitmap_set(wi->bits, 0, wi->nr_regions);
	bitmap_set(wi->asked, 0, wi->nr_regions);
	bitmap_fill(wi->dirty_blocks, wi->nr_blocks);
	wi->nr_marked = wi->nr_regions;
	/* Every mark is wanted: a clean in progress keeps them all. */
	bitmap_zero(wi->clearing, wi->nr_regions);
}

void xrepl_wi_commit_all_locked(struct xrepl_wi *wi)
{
	unsigned long w;

	/*
	 * Atomic word updates: writers test committed without the lock.  Not
	 * the marks asked for since their block was last copied to be
	 * written.
	 */
	for (w = 0; w < BITS_TO_LONGS(wi->nr_regions); w++)
		set_mask_bits(&wi->committed[w], 0,
			      wi->bits[w] & ~wi->clearing[w] & ~wi->asked[w]);
}

bool xrepl_wi_check(struct xrepl_wi *wi, unsigned long first,
		    unsigned long last)
{
	unsigned long r;

	if (first == last) {
		/* The common case: a bio within one region. */
		if (!test_bit(first, wi->committed))
			return false;
		/* Test before setting: no store for a region already noted. */
		if (!test_bit(first, wi->touched))
			set_bit(first, wi->touched);
		return true;
	}
	if (find_next_zero_bit(wi->committed, last + 1, first) <= last)
		return false;
	for (r = first; r <= last; r++)
		if (!test_bit(r, wi->touched))
			set_bit(r, wi->touched);
	return true;
}

void xrepl_wi_request_locked(struct xrepl_wi *wi, unsigned long first,
			     unsigned long last)
{
	/* A mark being cleared is wanted again: keep it. */
	bitmap_clear(wi->clearing, first, last - first + 1);
	wi->nr_marked += xrepl_bits_set_range(wi->bits, first, last);
	/* xrepl_wi_check() sets touched bits without the lock. */
	xrepl_bits_set_range_atomic(wi->touched, first, last);
	xrepl_bits_set_range(wi->asked, first, last);
	/*
	 * Always write, even if every bit was already set: the bit may be in
	 * a block whose write (by the cleaner) is in flight without it.
	 */
	bitmap_set(wi->dirty_blocks, first / XREPL_META_BITS_PER_BLOCK,
		   last / XREPL_META_BITS_PER_BLOCK -
		   first / XREPL_META_BITS_PER_BLOCK + 1);
}

unsigned int xrepl_wi_snapshot_locked(struct xrepl_wi *wi, void *buf,
				      unsigned long *blocks, unsigned int max)
{
	unsigned long b = 0;
	unsigned int n = 0;

	while (n < max) {
		b = find_next_bit(wi->dirty_blocks, wi->nr_blocks, b);
		if (b >= wi->nr_blocks)
			break;
		xrepl_meta_block_to_disk((u8 *)buf + n * XREPL_META_BLOCK_SIZE,
					 wi->bits + b * WORDS_PER_BLOCK);
		/* Copied: on disk once this write completed. */
		memset(wi->asked + b * WORDS_PER_BLOCK, 0,
		       WORDS_PER_BLOCK * sizeof(long));
		__clear_bit(b, wi->dirty_blocks);
		blocks[n++] = b++;
	}
	return n;
}

void xrepl_wi_redirty_locked(struct xrepl_wi *wi, const unsigned long *blocks,
			     unsigned int n)
{
	while (n--)
		__set_bit(blocks[n], wi->dirty_blocks);
}

void xrepl_wi_set_committed(struct xrepl_wi *wi, unsigned long first,
			    unsigned long last)
{
	unsigned long r;

	for (r = first; r <= last; r++)
		set_bit(r, wi->committed);
}

unsigned long xrepl_wi_clean_pick_locked(struct xrepl_wi *wi,
					 const struct xrepl_bitmap *keep,
					 unsigned long from, unsigned long to,
					 bool all)
{
	unsigned long r = from, picked = 0;

	to = min(to, wi->nr_regions);
	for (;;) {
		r = find_next_bit(wi->committed, to, r);
		if (r >= to)
			break;
		if ((test_and_clear_bit(r, wi->touched) && !all) ||
		    xrepl_bitmap_test(keep, r)) {
			r++;
			continue;
		}
		set_bit(r, wi->clearing);
		clear_bit(r, wi->committed);
		picked++;
		r++;
	}
	return picked;
}

void xrepl_wi_clean_keep_locked(struct xrepl_wi *wi, unsigned long r)
{
	if (test_and_clear_bit(r, wi->clearing))
		set_bit(r, wi->committed);
}

unsigned long xrepl_wi_clean_apply_locked(struct xrepl_wi *wi,
					  unsigned long from, unsigned long to)
{
	unsigned long r = from, cleared = 0;

	to = min(to, wi->nr_regions);
	for (;;) {
		r = find_next_bit(wi->clearing, to, r);
		if (r >= to)
			break;
		clear_bit(r, wi->clearing);
		if (__test_and_clear_bit(r, wi->bits)) {
			wi->nr_marked--;
			__set_bit(r / XREPL_META_BITS_PER_BLOCK,
				  wi->dirty_blocks);
			cleared++;
		}
		r++;
	}
	return cleared;
}

void xrepl_wi_clean_cancel_locked(struct xrepl_wi *wi, unsigned long from,
				  unsigned long to)
{
	unsigned long r = from;

	to = min(to, wi->nr_regions);
	for (;;) {
		r = find_next_bit(wi->clearing, to, r);
		if (r >= to)
			break;
		xrepl_wi_clean_keep_locked(wi, r);
		r++;
	}
}
