// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl userspace: read, decode and validate a metadata device.
 *
 * What is checked, and in which words, follows the kernel's validation of
 * a metadata device (dm-xrepl/xrepl-meta.c, xrepl_sb_decode() and
 * xrepl_sb_check(), and the bitmap load): a device these helpers find no
 * problem in is one the kernel accepts.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"

_Static_assert(sizeof(struct xrepl_meta_sb) == XREPL_META_SB_SIZE,
	       "the superblock is one sector");
_Static_assert(offsetof(struct xrepl_meta_sb, role) == 152 &&
	       offsetof(struct xrepl_meta_sb, data_time) == 160 &&
	       offsetof(struct xrepl_meta_sb, undo_epoch) == 168 &&
	       offsetof(struct xrepl_meta_sb, trk_id) == 176 &&
	       offsetof(struct xrepl_meta_sb, trk_slots) == 200 &&
	       offsetof(struct xrepl_meta_sb, reserved) == 208,
	       "superblock layout");
_Static_assert(sizeof(struct xrepl_trk_hdr) == XREPL_META_SB_SIZE &&
	       offsetof(struct xrepl_trk_hdr, name) == 56,
	       "change tracker slot header layout");
_Static_assert(sizeof(struct xrepl_undo_hdr) == XREPL_META_SB_SIZE &&
	       offsetof(struct xrepl_undo_hdr, csum) ==
	       offsetof(struct xrepl_meta_sb, csum),
	       "undo slot header layout");

#define BS	XREPL_META_BLOCK_SIZE
#define WORDS_PER_BLOCK	(BS / 8)

/*
 * I/O.
 */

int xmeta_open(struct xmeta_dev *dev, const char *path)
{
	struct stat st;
	off_t end;
	int err;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	dev->path = path;
	if (posix_memalign(&dev->buf, BS, BS))
		return -ENOMEM;
	if (stat(path, &st) < 0)
		goto fail_errno;
	dev->is_blockdev = S_ISBLK(st.st_mode);
	if (!dev->is_blockdev && !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto fail;
	}
	if (dev->is_blockdev) {
		/* Bypass the page cache: the kernel target writes around it. */
		dev->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
		dev->direct = dev->fd >= 0;
	}
	if (dev->fd < 0)
		dev->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (dev->fd < 0)
		goto fail_errno;
	end = lseek(dev->fd, 0, SEEK_END);
	if (end < 0)
		goto fail_errno;
	dev->size = (uint64_t)end;
	return 0;

fail_errno:
	err = -errno;
fail:
	xmeta_close(dev);
	return err;
}

void xmeta_close(struct xmeta_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	free(dev->buf);
	dev->buf = NULL;
}

ssize_t xmeta_read_block(struct xmeta_dev *dev, uint64_t block)
{
	uint8_t *buf = dev->buf;
	size_t done = 0;
	ssize_t r;

	if (block > (uint64_t)INT64_MAX / BS)
		return -EINVAL;
	while (done < BS) {
		r = pread(dev->fd, buf + done, BS - done,
			  (off_t)(block * BS + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
		/* O_DIRECT reads end on a sector boundary: stop at the end. */
		if (dev->direct && block * BS + done >= dev->size)
			break;
	}
	memset(buf + done, 0, BS - done);
	return (ssize_t)done;
}

/*
 * crc32c.
 */

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t c;
	unsigned int i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78U : 0);
		crc_table[i] = c;
	}
}

uint32_t xmeta_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table[1])
		crc_init();
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t xmeta_sb_csum(const void *sector)
{
	uint8_t copy[XREPL_META_SB_SIZE];

	memcpy(copy, sector, sizeof(copy));
	memset(copy + offsetof(struct xrepl_meta_sb, csum), 0,
	       sizeof(((struct xrepl_meta_sb *)0)->csum));
	return xmeta_crc32c(XREPL_META_CSUM_SEED, copy, sizeof(copy));
}

/*
 * Decoding.
 */

bool xmeta_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len--)
		if (*p++)
			return false;
	return true;
}

void xmeta_sb_decode(const void *sector, struct xmeta_sb *sb)
{
	struct xrepl_meta_sb raw;
	unsigned int i;

	memcpy(&raw, sector, sizeof(raw));
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, raw.magic, sizeof(sb->magic));
	sb->csum = le32toh(raw.csum);
	sb->csum_computed = xmeta_sb_csum(sector);
	sb->version = le32toh(raw.version);
	sb->flags = le32toh(raw.flags);
	sb->region_size = le32toh(raw.region_size);
	sb->dev_sectors = le64toh(raw.dev_sectors);
	sb->nr_regions = le64toh(raw.nr_regions);
	sb->bitmap_start = le64toh(raw.bitmap_start);
	sb->bitmap_blocks = le64toh(raw.bitmap_blocks);
	sb->generation = le64toh(raw.generation);
	memcpy(sb->uuid, raw.uuid, sizeof(sb->uuid));
	sb->ctime = le64toh(raw.ctime);
	sb->mtime = le64toh(raw.mtime);
	sb->degraded = le32toh(raw.degraded);
	sb->reserved0 = le32toh(raw.reserved0);
	sb->gen_current = le64toh(raw.gen_current);
	sb->gen_bitmap = le64toh(raw.gen_bitmap);
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		sb->gen_history[i] = le64toh(raw.gen_history[i]);
	sb->resync_count = le64toh(raw.resync_count);
	sb->degrade_count = le64toh(raw.degrade_count);
	sb->role = le32toh(raw.role);
	sb->reserved1 = le32toh(raw.reserved1);
	sb->data_time = le64toh(raw.data_time);
	sb->undo_epoch = le64toh(raw.undo_epoch);
	sb->trk_id = le64toh(raw.trk_id);
	sb->trk_open = le64toh(raw.trk_open);
	sb->trk_oldest = le64toh(raw.trk_oldest);
	sb->trk_slots = le32toh(raw.trk_slots);
	sb->reserved2 = le32toh(raw.reserved2);
	for (i = 0; i < sizeof(raw.reserved); i++) {
		if (!raw.reserved[i])
			continue;
		if (!sb->reserved_nonzero++)
			sb->reserved_first =
				offsetof(struct xrepl_meta_sb, reserved) + i;
	}
}

void xmeta_sb_encode(const struct xmeta_sb *sb, void *sector)
{
	struct xrepl_meta_sb raw;
	unsigned int i;

	memset(&raw, 0, sizeof(raw));
	memcpy(raw.magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN);
	raw.version = htole32(sb->version);
	raw.flags = htole32(sb->flags);
	raw.region_size = htole32(sb->region_size);
	raw.dev_sectors = htole64(sb->dev_sectors);
	raw.nr_regions = htole64(sb->nr_regions);
	raw.bitmap_start = htole64(sb->bitmap_start);
	raw.bitmap_blocks = htole64(sb->bitmap_blocks);
	raw.generation = htole64(sb->generation);
	memcpy(raw.uuid, sb->uuid, sizeof(raw.uuid));
	raw.ctime = htole64(sb->ctime);
	raw.mtime = htole64(sb->mtime);
	raw.degraded = htole32(sb->degraded);
	raw.gen_current = htole64(sb->gen_current);
	raw.gen_bitmap = htole64(sb->gen_bitmap);
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		raw.gen_history[i] = htole64(sb->gen_history[i]);
	raw.resync_count = htole64(sb->resync_count);
	raw.degrade_count = htole64(sb->degrade_count);
	raw.role = htole32(sb->role);
	raw.data_time = htole64(sb->data_time);
	raw.undo_epoch = htole64(sb->undo_epoch);
	raw.trk_id = htole64(sb->trk_id);
	raw.trk_open = htole64(sb->trk_open);
	raw.trk_oldest = htole64(sb->trk_oldest);
	raw.trk_slots = htole32(sb->trk_slots);
	memcpy(sector, &raw, sizeof(raw));
	raw.csum = htole32(xmeta_sb_csum(sector));
	memcpy(sector, &raw, sizeof(raw));
}

/*
 * Validation.
 */

void xmeta_problem(struct xmeta_problems *p, const char *fmt, ...)
{
	va_list ap;

	if (p->n >= XMETA_MAX_PROBLEMS) {
		p->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p->msg[p->n++], XMETA_PROBLEM_LEN, fmt, ap);
	va_end(ap);
}

static uint64_t div_round_up(uint64_t n, uint64_t d)
{
	return n / d + (n % d != 0);
}

uint64_t xmeta_bitmap_blocks(uint64_t nr_regions)
{
	return div_round_up(nr_regions, XREPL_META_BITS_PER_BLOCK);
}

static bool region_size_ok(uint32_t rs)
{
	return rs >= XREPL_MIN_REGION_SIZE && rs <= XREPL_MAX_REGION_SIZE &&
	       !(rs & (rs - 1));
}

void xmeta_check_sb(const struct xmeta_sb *sb, const void *block0,
		    size_t block0_len, struct xmeta_problems *p)
{
	const uint8_t *rest = (const uint8_t *)block0 + XREPL_META_SB_SIZE;
	char buf[64];
	size_t i, n = 0, first = 0;

	if (memcmp(sb->magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN)) {
		xmeta_problem(p, "bad magic: stored \"%s\", expected \"%s\" (not xrepl metadata; nothing else checked)",
			      xmeta_magic_str(sb->magic, buf, sizeof(buf)),
			      XREPL_META_MAGIC);
		return;
	}
	if (sb->csum != sb->csum_computed)
		xmeta_problem(p, "superblock checksum mismatch: stored 0x%08x, computed 0x%08x",
			      sb->csum, sb->csum_computed);
	if (sb->version != XREPL_META_VERSION &&
	    sb->version != XREPL_META_VERSION_1)
		xmeta_problem(p, "unsupported format version: version is %u, supported %u and %u",
			      sb->version, XREPL_META_VERSION_1,
			      XREPL_META_VERSION);
	if (sb->flags & ~XMETA_F_ALL)
		xmeta_problem(p, "unknown flags: flags 0x%08x has bits 0x%08x outside the known 0x%08x",
			      sb->flags, sb->flags & ~XMETA_F_ALL,
			      XMETA_F_ALL);
	if (sb->version == XREPL_META_VERSION_1) {
		if (sb->role || sb->data_time || sb->undo_epoch ||
		    (sb->flags & ~XMETA_F_CONSISTENT))
			xmeta_problem(p, "version 1: role, data_time, undo_epoch and the secondary's flags must be zero");
	} else if (sb->role != XREPL_META_ROLE_PRIMARY &&
		   sb->role != XREPL_META_ROLE_SECONDARY) {
		xmeta_problem(p, "role: %u is neither primary (%u) nor secondary (%u)",
			      sb->role, XREPL_META_ROLE_PRIMARY,
			      XREPL_META_ROLE_SECONDARY);
	} else if (sb->role == XREPL_META_ROLE_PRIMARY &&
		   (sb->flags & (XMETA_F_DEMOTED | XMETA_F_LIVE))) {
		xmeta_problem(p, "flags: demoted or live on a primary");
	}
	if (sb->reserved1)
		xmeta_problem(p, "reserved1: not zero (0x%08x)", sb->reserved1);
	if (sb->reserved2)
		xmeta_problem(p, "reserved2: not zero (0x%08x)", sb->reserved2);
	if (!sb->trk_id) {
		if (sb->trk_open || sb->trk_oldest || sb->trk_slots)
			xmeta_problem(p, "change tracker: trk_open, trk_oldest or trk_slots set without a trk_id");
	} else if (sb->role != XREPL_META_ROLE_PRIMARY || sb->undo_epoch) {
		xmeta_problem(p, "change tracker: on a secondary, or with an undo epoch");
	} else if (sb->trk_slots < XREPL_TRK_MIN_SLOTS ||
		   sb->trk_slots > XREPL_TRK_MAX_SLOTS) {
		xmeta_problem(p, "change tracker: trk_slots %u is not from %u to %u",
			      sb->trk_slots, XREPL_TRK_MIN_SLOTS,
			      XREPL_TRK_MAX_SLOTS);
	} else if (sb->trk_open > XREPL_TRK_MAX_ERA) {
		xmeta_problem(p, "change tracker: trk_open %llu is past the largest checkpoint number",
			      (unsigned long long)sb->trk_open);
	} else if (!sb->trk_oldest || sb->trk_oldest > sb->trk_open ||
		   sb->trk_open - sb->trk_oldest >= sb->trk_slots - 1) {
		xmeta_problem(p, "change tracker: checkpoints %llu to %llu do not fit %u slots with one spare",
			      (unsigned long long)sb->trk_oldest,
			      (unsigned long long)sb->trk_open, sb->trk_slots);
	}
	if (sb->version != XREPL_META_VERSION_1 && sb->undo_epoch &&
	    (sb->role != XREPL_META_ROLE_SECONDARY ||
	     (sb->flags & XMETA_F_CONSISTENT)))
		xmeta_problem(p, "undo_epoch: set on a consistent copy or a primary");
	if (xmeta_gen_loop(sb))
		xmeta_problem(p, "generation identifiers repeat, or gen_current is 0: a generation loop");
	if (sb->degraded > XREPL_META_DEGRADED_MAX)
		xmeta_problem(p, "degraded: %u is not a known state (at most %u)",
			      sb->degraded, XREPL_META_DEGRADED_MAX);
	if (sb->reserved0)
		xmeta_problem(p, "reserved0: not zero (0x%08x)", sb->reserved0);
	if (sb->reserved_nonzero)
		xmeta_problem(p, "reserved: %u non-zero byte%s, the first at superblock byte %u",
			      sb->reserved_nonzero,
			      sb->reserved_nonzero == 1 ? "" : "s",
			      sb->reserved_first);
	for (i = XREPL_META_SB_SIZE; i < block0_len && i < BS; i++) {
		if (!rest[i - XREPL_META_SB_SIZE])
			continue;
		if (!n++)
			first = i;
	}
	if (n)
		xmeta_problem(p, "block 0: %zu non-zero byte%s after the superblock sector, the first at byte %zu",
			      n, n == 1 ? "" : "s", first);

	/* Geometry. */
	if (!region_size_ok(sb->region_size))
		xmeta_problem(p, "region_size: %u is not a power of two from %u to %u",
			      sb->region_size, XREPL_MIN_REGION_SIZE,
			      XREPL_MAX_REGION_SIZE);
	if (!sb->dev_sectors)
		xmeta_problem(p, "dev_sectors: zero");
	else if (region_size_ok(sb->region_size) &&
		 sb->nr_regions != div_round_up(sb->dev_sectors,
						sb->region_size))
		xmeta_problem(p, "nr_regions: stored %llu, expected %llu = dev_sectors / region_size rounded up",
			      (unsigned long long)sb->nr_regions,
			      (unsigned long long)div_round_up(sb->dev_sectors,
							       sb->region_size));
	if (sb->nr_regions > XREPL_MAX_REGIONS)
		xmeta_problem(p, "nr_regions: %llu exceeds the maximum of %llu",
			      (unsigned long long)sb->nr_regions,
			      (unsigned long long)XREPL_MAX_REGIONS);
	if (sb->bitmap_start != 1)
		xmeta_problem(p, "bitmap_start: stored %llu, expected 1",
			      (unsigned long long)sb->bitmap_start);
	if (sb->bitmap_blocks != xmeta_bitmap_blocks(sb->nr_regions))
		xmeta_problem(p, "bitmap_blocks: stored %llu, expected %llu for %llu regions",
			      (unsigned long long)sb->bitmap_blocks,
			      (unsigned long long)xmeta_bitmap_blocks(sb->nr_regions),
			      (unsigned long long)sb->nr_regions);
}

bool xmeta_gen_loop(const struct xmeta_sb *sb)
{
	uint64_t g[2 + XREPL_META_GEN_HISTORY];
	unsigned int i, j;

	g[0] = sb->gen_current;
	g[1] = sb->gen_bitmap;
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		g[2 + i] = sb->gen_history[i];
	if (!g[0] && sb->version != XREPL_META_VERSION_1)
		return true;
	for (i = 0; i < 2 + XREPL_META_GEN_HISTORY; i++)
		for (j = i + 1; j < 2 + XREPL_META_GEN_HISTORY; j++)
			if (g[i] && g[i] == g[j])
				return true;
	return false;
}

static bool nr_regions_sane(uint64_t nr)
{
	return nr >= 1 && nr <= XREPL_MAX_REGIONS;
}

void xmeta_check_fit(const struct xmeta_sb *sb, uint64_t meta_bytes,
		     uint64_t data_sectors, uint32_t region_size,
		     struct xmeta_problems *p)
{
	uint64_t need = BS;

	if (nr_regions_sane(sb->nr_regions))
		need = (1 + xmeta_bitmap_blocks(sb->nr_regions)) * BS;
	/* The kernel compares sectors: a partial last sector does not count. */
	if (meta_bytes / 512 < need / 512)
		xmeta_problem(p, "metadata device too small: %llu bytes, needs %llu (block 0 and %llu bitmap block%s of %u bytes)",
			      (unsigned long long)meta_bytes,
			      (unsigned long long)need,
			      (unsigned long long)(need / BS - 1),
			      need / BS - 1 == 1 ? "" : "s", BS);
	if (sb->trk_id && nr_regions_sane(sb->nr_regions) &&
	    xrepl_trk_fit(sb->nr_regions, meta_bytes / 512) < sb->trk_slots)
		xmeta_problem(p, "metadata device too small for its change tracker of %u slots",
			      sb->trk_slots);
	if (data_sectors && sb->dev_sectors != data_sectors)
		xmeta_problem(p, "device size differs: dev_sectors is %llu, expected %llu",
			      (unsigned long long)sb->dev_sectors,
			      (unsigned long long)data_sectors);
	if (region_size && sb->region_size != region_size)
		xmeta_problem(p, "region_size differs: region_size is %u, expected %u",
			      sb->region_size, region_size);
}

bool xmeta_bitmap_readable(const struct xmeta_sb *sb, uint64_t meta_bytes,
			   const char **why)
{
	if (!nr_regions_sane(sb->nr_regions)) {
		*why = "nr_regions is out of range";
		return false;
	}
	if (meta_bytes < (1 + xmeta_bitmap_blocks(sb->nr_regions)) * BS) {
		*why = "the device does not hold the whole bitmap";
		return false;
	}
	return true;
}

/*
 * Bitmap.
 */

struct run {
	bool open;
	uint64_t first, last;
};

static int run_add(struct run *run, uint64_t first, uint64_t last,
		   xmeta_range_fn fn, void *ctx, struct xmeta_bitmap_stats *st)
{
	int r = 0;

	st->set += last - first + 1;
	if (run->open && run->last + 1 == first) {
		run->last = last;
		return 0;
	}
	if (run->open) {
		st->ranges++;
		if (fn)
			r = fn(ctx, run->first, run->last);
	}
	run->open = true;
	run->first = first;
	run->last = last;
	return r;
}

static void count_past(uint64_t w, uint64_t base,
		       struct xmeta_bitmap_stats *st)
{
	if (!w)
		return;
	if (!st->past_end)
		st->first_past = base + (uint64_t)__builtin_ctzll(w);
	st->past_end += (uint64_t)__builtin_popcountll(w);
}

/* Word w of the bitmap holds bits base..base+63; nr_regions bound. */
static int scan_word(uint64_t w, uint64_t base, uint64_t nr, struct run *run,
		     xmeta_range_fn fn, void *ctx,
		     struct xmeta_bitmap_stats *st)
{
	unsigned int t, len;
	uint64_t valid;
	int r;

	if (base >= nr) {
		count_past(w, base, st);
		return 0;
	}
	if (nr - base < 64) {
		valid = (1ULL << (nr - base)) - 1;
		count_past(w & ~valid, base, st);
		w &= valid;
	}
	while (w) {
		t = (unsigned int)__builtin_ctzll(w);
		w >>= t;
		/* Length of the run of ones now at bit 0. */
		len = ~w ? (unsigned int)__builtin_ctzll(~w) : 64;
		r = run_add(run, base + t, base + t + len - 1, fn, ctx, st);
		if (r)
			return r;
		w = len < 64 ? w >> len : 0;
		base += t + len;
	}
	return 0;
}

static int scan_blocks(struct xmeta_dev *dev, uint64_t nr_regions,
		       uint64_t from, xmeta_range_fn fn, void *ctx,
		       struct xmeta_bitmap_stats *st)
{
	uint64_t blocks = xmeta_bitmap_blocks(nr_regions), b, w;
	struct run run = { 0 };
	const uint8_t *buf = dev->buf;
	ssize_t got;
	unsigned int i;
	int r;

	memset(st, 0, sizeof(*st));
	for (b = from; b < blocks; b++) {
		/* The bitmap starts at block 1 (bitmap_start). */
		got = xmeta_read_block(dev, 1 + b);
		if (got < 0)
			return (int)got;
		if (got < (ssize_t)BS)
			return -ENODATA;
		for (i = 0; i < WORDS_PER_BLOCK; i++) {
			memcpy(&w, buf + 8 * i, 8);
			w = le64toh(w);
			r = scan_word(w, b * XREPL_META_BITS_PER_BLOCK + 64ULL * i,
				      nr_regions, &run, fn, ctx, st);
			if (r)
				return r;
		}
	}
	if (run.open) {
		st->ranges++;
		if (fn)
			return fn(ctx, run.first, run.last);
	}
	return 0;
}

int xmeta_scan_bitmap(struct xmeta_dev *dev, uint64_t nr_regions,
		      xmeta_range_fn fn, void *ctx,
		      struct xmeta_bitmap_stats *st)
{
	return scan_blocks(dev, nr_regions, 0, fn, ctx, st);
}

int xmeta_scan_tail(struct xmeta_dev *dev, uint64_t nr_regions,
		    struct xmeta_bitmap_stats *st)
{
	struct xmeta_bitmap_stats tail;
	int r;

	r = scan_blocks(dev, nr_regions, xmeta_bitmap_blocks(nr_regions) - 1,
			NULL, NULL, &tail);
	if (r)
		return r;
	memset(st, 0, sizeof(*st));
	st->past_end = tail.past_end;
	st->first_past = tail.first_past;
	return 0;
}

/*
 * Formatting.
 */

const char *xmeta_role_name(uint32_t role)
{
	switch (role) {
	case XREPL_META_ROLE_PRIMARY:
		return "primary";
	case XREPL_META_ROLE_SECONDARY:
		return "secondary";
	default:
		return "unknown";
	}
}

const char *xmeta_degraded_name(uint32_t degraded)
{
	switch (degraded) {
	case XREPL_META_DEGRADED_NONE:
		return "none";
	case XREPL_META_DEGRADED_ERROR:
		return "error";
	case XREPL_META_DEGRADED_ADMIN:
		return "admin";
	default:
		return "unknown";
	}
}

const char *xmeta_flags_str(uint32_t flags, char *buf, size_t len)
{
	size_t o = 0;
	unsigned int bit;
	int r;

	buf[0] = '\0';
	if (!flags) {
		snprintf(buf, len, "none");
		return buf;
	}
	for (bit = 0; bit < 32; bit++) {
		if (!(flags & (1U << bit)))
			continue;
		if (1U << bit == XMETA_F_CONSISTENT)
			r = snprintf(buf + o, len - o, "%sconsistent",
				     o ? "," : "");
		else if (1U << bit == XMETA_F_DEMOTED)
			r = snprintf(buf + o, len - o, "%sdemoted",
				     o ? "," : "");
		else if (1U << bit == XMETA_F_LIVE)
			r = snprintf(buf + o, len - o, "%slive",
				     o ? "," : "");
		else if (1U << bit == XMETA_F_JOURNALED)
			r = snprintf(buf + o, len - o, "%sjournaled",
				     o ? "," : "");
		else
			r = snprintf(buf + o, len - o, "%sbit%u",
				     o ? "," : "", bit);
		if (r < 0 || (size_t)r >= len - o)
			break;
		o += (size_t)r;
	}
	return buf;
}

const char *xmeta_uuid_str(const uint8_t uuid[16], char *buf)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int i;
	char *o = buf;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[uuid[i] >> 4];
		*o++ = hex[uuid[i] & 15];
	}
	*o = '\0';
	return buf;
}

const char *xmeta_time_str(uint64_t secs, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	/* Year 9999 at the latest: four-digit years only. */
	if (secs > 253402300799ULL)
		return NULL;
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return NULL;
	return buf;
}

const char *xmeta_magic_str(const uint8_t magic[XREPL_META_MAGIC_LEN],
			    char *buf, size_t len)
{
	unsigned int n = XREPL_META_MAGIC_LEN, i;
	size_t o = 0;
	int r;

	while (n && !magic[n - 1])
		n--;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (magic[i] >= 0x20 && magic[i] < 0x7f && magic[i] != '\\' &&
		    magic[i] != '"')
			r = snprintf(buf + o, len - o, "%c", magic[i]);
		else
			r = snprintf(buf + o, len - o, "\\x%02x", magic[i]);
		if (r < 0 || (size_t)r >= len - o)
			break;
		o += (size_t)r;
	}
	return buf;
}

int xmeta_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = n;
	return 0;
}

ssize_t xmeta_open_block0(struct xmeta_dev *dev, const char *prog, int argc,
			  char *const argv[], int optind, const char *usage_text,
			  uint8_t block0[XREPL_META_BLOCK_SIZE])
{
	const char *path;
	ssize_t got;
	int r;

	if (optind != argc - 1) {
		fprintf(stderr, "%s: %s\n\n%s", prog,
			optind < argc ? "one metadata device only" :
			"no metadata device given", usage_text);
		return -1;
	}
	path = argv[optind];

	r = xmeta_open(dev, path);
	if (r) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			r == -EINVAL ? "not a block device or regular file" :
			strerror(-r));
		return -1;
	}
	got = xmeta_read_block(dev, 0);
	if (got < 0) {
		fprintf(stderr, "%s: %s: read error: %s\n", prog, path,
			strerror((int)-got));
		xmeta_close(dev);
		return -1;
	}
	memcpy(block0, dev->buf, XREPL_META_BLOCK_SIZE);
	return got;
}

/*
 * The undo area.
 */
int xmeta_undo_hdr(const void *block, const struct xmeta_sb *sb,
		   uint64_t slot, struct xmeta_undo_slot *out)
{
	struct xrepl_undo_hdr h;
	uint64_t region;

	memcpy(&h, block, sizeof(h));
	if (memcmp(h.magic, XREPL_UNDO_MAGIC, XREPL_META_MAGIC_LEN))
		return 1;
	/* Checked before the epoch: a damaged epoch must not look free. */
	if (le32toh(h.csum) != xmeta_sb_csum(block))
		return -1;
	if (le64toh(h.epoch) != sb->undo_epoch || !sb->undo_epoch)
		return 1;
	if (memcmp(h.uuid, sb->uuid, sizeof(h.uuid)) ||
	    le64toh(h.slot) != slot || h.reserved0 ||
	    !xmeta_is_zero(h.reserved, sizeof(h.reserved)))
		return -1;
	region = le64toh(h.region);
	if (region >= sb->nr_regions || !sb->region_size ||
	    le32toh(h.sectors) != (region == sb->nr_regions - 1 ?
				   sb->dev_sectors - region * sb->region_size :
				   sb->region_size))
		return -1;
	out->slot = slot;
	out->region = region;
	out->sectors = le32toh(h.sectors);
	out->data_csum = le32toh(h.data_csum);
	return 0;
}

uint64_t xmeta_undo_slot_block(const struct xmeta_sb *sb, uint64_t slot)
{
	return xrepl_undo_start(sb->nr_regions) +
	       slot * xrepl_undo_stride(sb->region_size);
}

/*
 * The change tracker.
 */

uint64_t xmeta_trk_slot_block(const struct xmeta_sb *sb, uint64_t era)
{
	return xrepl_trk_slot_block(sb->nr_regions, sb->trk_slots, era);
}

bool xmeta_trk_name_ok(const char *name, size_t len)
{
	size_t n = strnlen(name, len), i;

	if (!n || n >= len || !xmeta_is_zero(name + n, len - n))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    !strchr("._:+@-", name[i]))
			return false;
	return true;
}

int xmeta_trk_hdr(const void *block, const struct xmeta_sb *sb, uint64_t era,
		  struct xmeta_trk_slot *out, const char **why)
{
	struct xrepl_trk_hdr h;

	memcpy(&h, block, sizeof(h));
	if (memcmp(h.magic, XREPL_TRK_MAGIC, XREPL_META_MAGIC_LEN) ||
	    le32toh(h.csum) != xmeta_sb_csum(block)) {
		*why = "bad magic or checksum";
		return -1;
	}
	if (h.reserved0 || !xmeta_is_zero(h.reserved, sizeof(h.reserved)) ||
	    !xmeta_is_zero((const uint8_t *)block + XREPL_META_SB_SIZE,
			   BS - XREPL_META_SB_SIZE) ||
	    !xmeta_trk_name_ok(h.name, sizeof(h.name))) {
		*why = "a reserved field or the name is damaged";
		return -1;
	}
	if (memcmp(h.uuid, sb->uuid, sizeof(h.uuid)) ||
	    le64toh(h.trk_id) != sb->trk_id || le64toh(h.era) != era) {
		*why = "the slot is of another pair, tracker or checkpoint";
		return -1;
	}
	out->era = era;
	out->time_ms = le64toh(h.time_ms);
	memcpy(out->name, h.name, sizeof(out->name));
	return 0;
}

/* OR the bitmap of nr_regions bits at block start into bits. */
static int trk_or_bitmap(struct xmeta_dev *dev, uint64_t start,
			 uint64_t nr_regions, uint64_t *bits, const char **why)
{
	uint64_t blocks = xmeta_bitmap_blocks(nr_regions), b, w, i, words;
	const uint8_t *buf = dev->buf;
	ssize_t got;

	words = (nr_regions + 63) / 64;
	for (b = 0; b < blocks; b++) {
		got = xmeta_read_block(dev, start + b);
		if (got < 0)
			return (int)got;
		if (got < (ssize_t)BS) {
			*why = "the device ends inside the change tracker";
			return -1;
		}
		for (i = 0; i < WORDS_PER_BLOCK; i++) {
			uint64_t n = b * WORDS_PER_BLOCK + i, bit0 = 64 * n;

			memcpy(&w, buf + 8 * i, 8);
			w = le64toh(w);
			if (bit0 + 64 > nr_regions && w &&
			    (bit0 >= nr_regions ||
			     w >> (nr_regions - bit0))) {
				*why = "a bitmap of the change tracker has bits past nr_regions";
				return -1;
			}
			if (n < words)
				bits[n] |= w;
		}
	}
	return 0;
}

int xmeta_trk_changes(struct xmeta_dev *dev, const struct xmeta_sb *sb,
		      uint64_t since, uint64_t upto, uint64_t *bits,
		      const char **why)
{
	struct xmeta_trk_slot slot;
	struct xmeta_sb now;
	uint64_t era, last;
	ssize_t got;
	int r;

	if (!sb->trk_id) {
		*why = "the device has no change tracker (no checkpoint was taken)";
		return -1;
	}
	if (sb->trk_slots < XREPL_TRK_MIN_SLOTS ||
	    sb->trk_slots > XREPL_TRK_MAX_SLOTS ||
	    sb->trk_open > XREPL_TRK_MAX_ERA) {
		*why = "the change tracker's superblock fields are damaged";
		return -1;
	}
	if (since < sb->trk_oldest || since > sb->trk_open ||
	    (upto && (upto < since || upto > sb->trk_open))) {
		*why = "the checkpoint is not kept (see trk_oldest and trk_open)";
		return -1;
	}
	/*
	 * The open era: the regions whose marks are still set, read before
	 * its slot (a mark goes only after its region is in the slot).
	 */
	if (!upto) {
		r = trk_or_bitmap(dev, 1, sb->nr_regions, bits, why);
		if (r)
			return r;
	}
	last = upto ? upto : sb->trk_open + 1;
	for (era = since; era < last; era++) {
		got = xmeta_read_block(dev, xmeta_trk_slot_block(sb, era));
		if (got < 0)
			return (int)got;
		if (got < (ssize_t)BS) {
			*why = "the device ends inside the change tracker";
			return -1;
		}
		if (xmeta_trk_hdr(dev->buf, sb, era, &slot, why))
			return -1;
		r = trk_or_bitmap(dev, xmeta_trk_slot_block(sb, era) + 1,
				  sb->nr_regions, bits, why);
		if (r)
			return r;
	}
	got = xmeta_read_block(dev, 0);
	if (got < 0)
		return (int)got;
	xmeta_sb_decode(dev->buf, &now);
	/*
	 * A checkpoint that failed is rolled back (trk_open goes back, and
	 * its number is used again): what was read may lack what went to
	 * the era before.
	 */
	if (got < (ssize_t)XREPL_META_SB_SIZE ||
	    memcmp(now.magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN) ||
	    now.csum != now.csum_computed || now.trk_id != sb->trk_id ||
	    now.trk_oldest > since || now.trk_open < sb->trk_open) {
		*why = "the change tracker moved while it was read: try again";
		return -1;
	}
	return 0;
}
