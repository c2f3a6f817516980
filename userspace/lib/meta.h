/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl userspace: read and validate a metadata device offline.
 *
 * The on-disk format is dm-xrepl/xrepl-format.h, shared with the kernel.
 * These helpers read a block device or an image file with pread (O_DIRECT
 * for block devices, so a stale page cache is never seen), decode the
 * superblock without judging it, list what the kernel would refuse, and
 * walk the bitmap.  They print nothing: callers report.
 */
#ifndef XREPL_META_H
#define XREPL_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xrepl-format.h"
/* The region sizes and the region cap of the target, shared with it. */
#include "xrepl-limits.h"

/* The flags as 32-bit values, whatever type the header's macros have. */
#define XMETA_F_CONSISTENT		((uint32_t)XREPL_META_F_CONSISTENT)
#define XMETA_F_DEMOTED			((uint32_t)XREPL_META_F_DEMOTED)
#define XMETA_F_LIVE			((uint32_t)XREPL_META_F_LIVE)
#define XMETA_F_JOURNALED		((uint32_t)XREPL_META_F_JOURNALED)
#define XMETA_F_ALL			((uint32_t)XREPL_META_F_ALL)

/* An open metadata device or image file. */
struct xmeta_dev {
	int fd;
	const char *path;
	uint64_t size;		/* bytes */
	bool is_blockdev;
	bool direct;		/* opened with O_DIRECT */
	void *buf;		/* one block, aligned for O_DIRECT */
};

/* Open path read-only.  Returns 0 or -errno. */
int xmeta_open(struct xmeta_dev *dev, const char *path);
void xmeta_close(struct xmeta_dev *dev);
/*
 * Read 4 KiB block number block into dev->buf.  Returns the bytes read
 * (less than a block only at the end of the device; the rest of the buffer
 * is then zero) or -errno.
 */
ssize_t xmeta_read_block(struct xmeta_dev *dev, uint64_t block);
/*
 * The tools' common start: the one path argument (argv[optind], the last
 * one), opened, with its block 0 copied to block0.  On failure prints
 * "<prog>: <why>" (and the usage text when the arguments are wrong) to
 * stderr, leaves nothing open and returns -1; otherwise the bytes of
 * block 0 read (less than a block only on a smaller device).
 */
ssize_t xmeta_open_block0(struct xmeta_dev *dev, const char *prog, int argc,
		      char *const argv[], int optind, const char *usage_text,
		      uint8_t block0[XREPL_META_BLOCK_SIZE]);

/*
 * crc32c (Castagnoli, reflected) as the kernel's __crc32c_le(): crc is the
 * running value, no inversion before or after.
 */
uint32_t xmeta_crc32c(uint32_t crc, const void *buf, size_t len);
/* Checksum of a 512-byte superblock sector, its csum field taken as 0. */
uint32_t xmeta_sb_csum(const void *sector);

/* A superblock in CPU byte order, exactly as stored: nothing is checked. */
struct xmeta_sb {
	uint8_t magic[XREPL_META_MAGIC_LEN];
	uint32_t csum;
	uint32_t csum_computed;
	uint32_t version;
	uint32_t flags;
	uint32_t region_size;
	uint64_t dev_sectors;
	uint64_t nr_regions;
	uint64_t bitmap_start;
	uint64_t bitmap_blocks;
	uint64_t generation;
	uint8_t uuid[16];
	uint64_t ctime;
	uint64_t mtime;
	uint32_t degraded;
	uint32_t reserved0;
	uint64_t gen_current;
	uint64_t gen_bitmap;
	uint64_t gen_history[XREPL_META_GEN_HISTORY];
	uint64_t resync_count;
	uint64_t degrade_count;
	uint32_t role;		/* 0 in version 1: a primary's */
	uint32_t reserved1;
	uint64_t data_time;
	uint64_t undo_epoch;
	uint64_t trk_id;	/* the change tracker: 0 if none */
	uint64_t trk_open;
	uint64_t trk_oldest;
	uint32_t trk_slots;
	uint32_t reserved2;
	unsigned int reserved_nonzero;	/* non-zero bytes in reserved[] */
	unsigned int reserved_first;	/* sector offset of the first one */
};

/*
 * Encode sb into a 512-byte sector, with its checksum; the reserved
 * fields are written as zero.
 */
void xmeta_sb_encode(const struct xmeta_sb *sb, void *sector);
/* Decode a 512-byte superblock sector. */
void xmeta_sb_decode(const void *sector, struct xmeta_sb *sb);
/* True when the whole buffer is zero. */
bool xmeta_is_zero(const void *buf, size_t len);

/* Problems found, one message each ("field: what is wrong"). */
#define XMETA_MAX_PROBLEMS	32
#define XMETA_PROBLEM_LEN	200
struct xmeta_problems {
	unsigned int n;
	unsigned int dropped;	/* beyond XMETA_MAX_PROBLEMS */
	char msg[XMETA_MAX_PROBLEMS][XMETA_PROBLEM_LEN];
};

void xmeta_problem(struct xmeta_problems *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Everything the kernel checks in block 0 on its own: magic, checksum,
 * version, flags, degraded, reserved fields and the rest of block 0 being
 * zero, and the geometry (region_size, nr_regions, bitmap_start,
 * bitmap_blocks).  A bad magic is reported alone: the rest would only be
 * noise about something that is not xrepl metadata.  block0 is the whole
 * 4 KiB block, block0_len how much of it the device holds.
 */
void xmeta_check_sb(const struct xmeta_sb *sb, const void *block0,
		    size_t block0_len, struct xmeta_problems *p);

/*
 * Checks against the outside world: the metadata device is large enough
 * for the bitmap, and (when not 0) the superblock records data_sectors
 * and region_size, as a table would require.
 */
void xmeta_check_fit(const struct xmeta_sb *sb, uint64_t meta_bytes,
		     uint64_t data_sectors, uint32_t region_size,
		     struct xmeta_problems *p);

/* Do the generation identifiers repeat (or gen_current 0, in version 2)? */
bool xmeta_gen_loop(const struct xmeta_sb *sb);
/* "primary", "secondary" or "unknown"; version 1 has role 0: a primary. */
const char *xmeta_role_name(uint32_t role);

/* Blocks of bitmap nr_regions regions need. */
uint64_t xmeta_bitmap_blocks(uint64_t nr_regions);
/*
 * Whether the bitmap of sb can be read from a device of meta_bytes: a sane
 * nr_regions and every bitmap block present.  If not, *why says why.
 */
bool xmeta_bitmap_readable(const struct xmeta_sb *sb, uint64_t meta_bytes,
			   const char **why);

struct xmeta_bitmap_stats {
	uint64_t set;		/* set bits below nr_regions */
	uint64_t ranges;	/* runs of set bits */
	uint64_t past_end;	/* set bits at or past nr_regions */
	uint64_t first_past;	/* the first of them (a bit number) */
};

/* Called for each run first..last of set regions, in order. */
typedef int (*xmeta_range_fn)(void *ctx, uint64_t first, uint64_t last);

/*
 * Walk the bitmap of nr_regions regions (blocks 1 ..), calling fn (may be
 * NULL) for each run of set bits below nr_regions and counting set bits
 * past it in the last block.  Returns 0, -errno on a read error, or what
 * fn returned if that was not 0.
 */
int xmeta_scan_bitmap(struct xmeta_dev *dev, uint64_t nr_regions,
		      xmeta_range_fn fn, void *ctx,
		      struct xmeta_bitmap_stats *st);

/*
 * Only the last bitmap block: count the set bits past nr_regions.
 * Returns 0 or -errno.
 */
int xmeta_scan_tail(struct xmeta_dev *dev, uint64_t nr_regions,
		    struct xmeta_bitmap_stats *st);

/* Names for display. */
const char *xmeta_degraded_name(uint32_t degraded);
/* "consistent", "consistent,bit5", "none" into buf. */
const char *xmeta_flags_str(uint32_t flags, char *buf, size_t len);
/* 8-4-4-4-12 lower-case hex; buf must hold 37 bytes. */
const char *xmeta_uuid_str(const uint8_t uuid[16], char *buf);
/* ISO 8601 UTC ("2024-05-01T12:00:00Z") or NULL if out of range. */
const char *xmeta_time_str(uint64_t secs, char *buf, size_t len);
/* The magic with non-printable bytes as \xNN, trailing NULs dropped. */
const char *xmeta_magic_str(const uint8_t magic[XREPL_META_MAGIC_LEN],
			    char *buf, size_t len);

/* A slot of the undo area (xrepl-format.h, "The undo area"). */
struct xmeta_undo_slot {
	uint64_t slot;
	uint64_t region;
	uint32_t sectors;
	uint32_t data_csum;
};

/*
 * Decode the header block of undo slot number slot: 0 (a slot of
 * sb->undo_epoch, checked: checksum, pair, number, region, length and
 * reserved fields; *out filled), 1 (no slot, or one of another epoch:
 * free) or -1 (a header with a bad checksum, whatever its epoch, or a
 * damaged one of the epoch).
 */
int xmeta_undo_hdr(const void *block, const struct xmeta_sb *sb,
		   uint64_t slot, struct xmeta_undo_slot *out);
/* The block of slot's header; its data follows it. */
uint64_t xmeta_undo_slot_block(const struct xmeta_sb *sb, uint64_t slot);

/* A slot header of the change tracker (xrepl-format.h), decoded. */
struct xmeta_trk_slot {
	uint64_t era;
	uint64_t time_ms;
	char name[XREPL_TRK_NAME_LEN];
};

/*
 * Decode and check the slot header of era in block (of the tracker of
 * sb): 0 and *out filled, or -1 with *why set (a bad checksum or
 * reserved field, a bad name, another pair, tracker or era).
 */
int xmeta_trk_hdr(const void *block, const struct xmeta_sb *sb, uint64_t era,
		  struct xmeta_trk_slot *out, const char **why);
/*
 * A checkpoint's name, as the target takes it: 1 to XREPL_TRK_NAME_LEN - 1
 * characters of [A-Za-z0-9._:+@-] in a buffer of len, NUL padded to its
 * end.
 */
bool xmeta_trk_name_ok(const char *name, size_t len);
/* The block of the slot header of era; its bitmap follows it. */
uint64_t xmeta_trk_slot_block(const struct xmeta_sb *sb, uint64_t era);

/*
 * The regions written from checkpoint since to checkpoint upto (since <=
 * upto <= sb->trk_open; since >= sb->trk_oldest): the union of the slots
 * of eras since .. upto - 1, or, if upto is 0, to now: to the open era,
 * and the marks of the bitmap (a region joins the open era's slot before
 * its mark goes).  bits has nr_regions bits, as 64-bit words, and
 * is ORed into.  Every slot header read is checked, and the superblock is
 * read again at the end: a tracker that moved meanwhile (another
 * checkpoint, a reset) is an error, as the slots read may have changed.
 * Returns 0, -1 with *why set (damage, or checkpoints not kept), or
 * -errno.
 */
int xmeta_trk_changes(struct xmeta_dev *dev, const struct xmeta_sb *sb,
		      uint64_t since, uint64_t upto, uint64_t *bits,
		      const char **why);

/*
 * Parse a decimal number with no sign, no junk and no overflow.
 * Returns 0 or -1.
 */
int xmeta_parse_u64(const char *s, uint64_t *v);

#endif /* XREPL_META_H */
