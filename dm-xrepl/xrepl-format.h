/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl: on-disk format of the metadata device, version 2.
 *
 * Shared by the kernel target and the userspace tools (xrepl-dump,
 * xrepl-check): plain fixed-size little-endian fields, no kernel-only
 * types.  Documented in Documentation/dm-xrepl.rst, "Metadata format".
 *
 * The device is cut into 4 KiB blocks:
 *
 *   block 0                    superblock (struct xrepl_meta_sb, then zeroes)
 *   blocks 1 .. bitmap_blocks  the region bitmap
 *   the blocks after it        a secondary's undo area, if the device is
 *                              large enough (periodic mode; below), or a
 *                              primary's change tracker (below)
 *
 * The superblock occupies the first 512-byte sector of block 0, so every
 * superblock write is atomic on any device; its checksum covers that whole
 * sector.  A device whose block 0 is all zeroes is "fresh" and is formatted
 * when a table first uses it; anything else must validate.
 *
 * The bitmap has one bit per region: bit r is bit (r % 64) of the
 * little-endian 64-bit word r / 64, counted from the start of block 1.  A
 * set bit means "the legs may differ in this region": it is set, and
 * durable, before any write to the region reaches either leg, and cleared
 * only after the region is equal on both legs and both legs were flushed.
 * So after a crash of the source, resyncing the set regions makes the legs
 * equal again.  Bits past nr_regions are zero.
 */
#ifndef DM_XREPL_FORMAT_H
#define DM_XREPL_FORMAT_H

#include <linux/types.h>

#define XREPL_META_BLOCK_SIZE		4096U
#define XREPL_META_BLOCK_SECTORS	(XREPL_META_BLOCK_SIZE >> 9)
#define XREPL_META_SB_SIZE		512U
#define XREPL_META_BITS_PER_BLOCK	(XREPL_META_BLOCK_SIZE * 8U)

#define XREPL_META_MAGIC		"xreplmd"	/* 7 chars + NUL */
#define XREPL_META_MAGIC_LEN		8U
#define XREPL_META_VERSION		2U
/* Version 1 (no role, no data time) is still read, as a primary's. */
#define XREPL_META_VERSION_1		1U

/* crc32c (Castagnoli) of the superblock sector, csum as 0, seed ~0. */
#define XREPL_META_CSUM_SEED		0xffffffffU

/* sb.flags */
/*
 * A primary's: the remote holds a crash-consistent image of the device:
 * every write it has is one the source acknowledged, in an order the
 * source could have produced.  Cleared before a resync writes its first
 * region (a resync copies regions out of write order) and set again when
 * the resync has made the remote equal to the local leg.
 * A secondary's: the same of its own data, as its primary last recorded.
 */
#define XREPL_META_F_CONSISTENT		BIT(0)
/*
 * A secondary's: it was a primary and was demoted.  Its bitmap holds the
 * regions it wrote that the other side may lack; a primary that connects
 * to it copies the union of both bitmaps (and so discards those writes).
 */
#define XREPL_META_F_DEMOTED		BIT(1)
/*
 * A secondary's: its primary was replicating every write to it when it
 * wrote this superblock (at mtime), and did not record a stop since: the
 * data is as new as the primary's last write that reached it.
 */
#define XREPL_META_F_LIVE		BIT(2)
/*
 * A primary's: the pair journals the writes that ship, and the log of its
 * journal device holds whatever the remote may lack that the bitmap does
 * not mark: a load may replay it.  Set once a journal starts a new log;
 * cleared, durably, before a mark can go without the log (the journal
 * failed, a write skipped a full log, or the pair runs without its
 * journal).
 */
#define XREPL_META_F_JOURNALED		BIT(3)
/* Every valid flag; a superblock with any other bit set is refused. */
#define XREPL_META_F_ALL		(XREPL_META_F_CONSISTENT | \
					 XREPL_META_F_DEMOTED | \
					 XREPL_META_F_LIVE | \
					 XREPL_META_F_JOURNALED)

/* sb.role */
#define XREPL_META_ROLE_PRIMARY		1U	/* version 1: always */
#define XREPL_META_ROLE_SECONDARY	2U

/* sb.degraded: why the remote was not receiving writes at the last commit. */
#define XREPL_META_DEGRADED_NONE	0U
#define XREPL_META_DEGRADED_ERROR	1U	/* a remote I/O failed */
#define XREPL_META_DEGRADED_ADMIN	2U	/* "remote down" message */
#define XREPL_META_DEGRADED_MAX		XREPL_META_DEGRADED_ADMIN

/* Number of previous gen_bitmap values kept in gen_history. */
#define XREPL_META_GEN_HISTORY		2

struct xrepl_meta_sb {
	__u8	magic[XREPL_META_MAGIC_LEN];	/*   0: XREPL_META_MAGIC */
	__le32	csum;		/*   8: crc32c of the 512-byte sector */
	__le32	version;	/*  12: XREPL_META_VERSION */
	__le32	flags;		/*  16: XREPL_META_F_* */
	__le32	region_size;	/*  20: sectors per region, a power of two */
	__le64	dev_sectors;	/*  24: size of the replicated device */
	__le64	nr_regions;	/*  32: ceil(dev_sectors / region_size) */
	__le64	bitmap_start;	/*  40: first bitmap block (always 1) */
	__le64	bitmap_blocks;	/*  48: ceil(nr_regions / 32768) */
	__le64	generation;	/*  56: +1 at every superblock write */
	__u8	uuid[16];	/*  64: identity of the pair, random at format */
	__le64	ctime;		/*  80: format time, seconds since the epoch */
	__le64	mtime;		/*  88: time of this superblock write */
	__le32	degraded;	/*  96: XREPL_META_DEGRADED_* */
	__le32	reserved0;	/* 100: zero */
	/*
	 * Data generation identifiers, for failover and failback (set by the
	 * target, not yet acted upon).  gen_current identifies the data on
	 * the source; it gets a new random value whenever the source starts
	 * writing without the remote (degradation), and the previous value
	 * becomes gen_bitmap: the last state both sides held, which the bitmap
	 * tracks changes since.  When a resync completes, gen_bitmap moves to
	 * gen_history and becomes 0.  Comparing these with the values the
	 * other side recorded tells, after a split, which side changed.
	 */
	__le64	gen_current;	/* 104 */
	__le64	gen_bitmap;	/* 112 */
	__le64	gen_history[XREPL_META_GEN_HISTORY];	/* 120 */
	__le64	resync_count;	/* 136: resyncs completed */
	__le64	degrade_count;	/* 144: degradations */
	/* Version 2 (zero in version 1). */
	__le32	role;		/* 152: XREPL_META_ROLE_* */
	__le32	reserved1;	/* 156: zero */
	/*
	 * A secondary's: the time of its data, in seconds since the epoch:
	 * the last moment it held every write its primary had acknowledged
	 * (in an asynchronous mode: the time of the newest write it held
	 * with every older one).  0: unknown.
	 */
	__le64	data_time;	/* 160 */
	/*
	 * A secondary's, periodic mode: not 0 while a cycle overwrites the
	 * data (the copy is not consistent then) and the undo area's slots
	 * of this epoch hold the content, as of data_time, of every region
	 * the cycle overwrote.  Writing them back makes the copy consistent
	 * again, as of data_time.  0 otherwise.
	 */
	__le64	undo_epoch;	/* 168 */
	/*
	 * A primary's change tracker (all zero if it has none; below):
	 * trk_open is the newest checkpoint, whose era is open (the writes
	 * since it); trk_oldest the oldest one whose changes are still
	 * known.  A secondary has none.
	 */
	__le64	trk_id;		/* 176: random at the first checkpoint */
	__le64	trk_open;	/* 184 */
	__le64	trk_oldest;	/* 192 */
	__le32	trk_slots;	/* 200: slots in the ring */
	__le32	reserved2;	/* 204: zero */
	__u8	reserved[XREPL_META_SB_SIZE - 208];	/* 208: zero */
} __packed;

/* Blocks of bitmap for nr_regions regions. */
static inline __u64 xrepl_meta_bitmap_blocks(__u64 nr_regions)
{
	return (nr_regions + XREPL_META_BITS_PER_BLOCK - 1) /
	       XREPL_META_BITS_PER_BLOCK;
}

/* Smallest metadata device, in 512-byte sectors, for nr_regions regions. */
static inline __u64 xrepl_meta_min_sectors(__u64 nr_regions)
{
	return (1 + xrepl_meta_bitmap_blocks(nr_regions)) *
	       XREPL_META_BLOCK_SECTORS;
}

/*
 * The undo area of a secondary's metadata device: every block after the
 * bitmap, cut into slots of one header block and one region of data
 * (region_size sectors, however short the last region is).  Before a
 * cycle of periodic mode first overwrites a region of the copy, the
 * primary saves the region's content in a free slot: the data, then the
 * header with a flush and FUA, so that a valid header means its data is
 * durable too.  A slot belongs to the epoch in its header; slots of any
 * other epoch are free.  A region is saved at most once per epoch, so
 * writing back the slots of sb.undo_epoch, in any order, returns the copy
 * to the point of sb.data_time.
 */
#define XREPL_UNDO_MAGIC		"xreplun"	/* 7 chars + NUL */

struct xrepl_undo_hdr {
	__u8	magic[XREPL_META_MAGIC_LEN];	/*  0: XREPL_UNDO_MAGIC */
	__le32	csum;		/*  8: crc32c of the 512-byte sector */
	__le32	data_csum;	/* 12: crc32c of the data, seed ~0 */
	__le64	epoch;		/* 16: the superblock's undo_epoch */
	__le64	slot;		/* 24: this slot's number */
	__le64	region;		/* 32: the region saved */
	__le32	sectors;	/* 40: its length */
	__le32	reserved0;	/* 44: zero */
	__u8	uuid[16];	/* 48: the pair's */
	__u8	reserved[XREPL_META_SB_SIZE - 64];	/* 64: zero */
} __packed;

/* First block of the undo area. */
static inline __u64 xrepl_undo_start(__u64 nr_regions)
{
	return 1 + xrepl_meta_bitmap_blocks(nr_regions);
}

/* Blocks per slot: a header and a region. */
static inline __u64 xrepl_undo_stride(__u32 region_size)
{
	return 1 + (region_size + XREPL_META_BLOCK_SECTORS - 1) /
		   XREPL_META_BLOCK_SECTORS;
}

/* Slots a metadata device of meta_sectors holds (0: no undo area). */
static inline __u64 xrepl_undo_slots(__u64 nr_regions, __u32 region_size,
				     __u64 meta_sectors)
{
	__u64 blocks = meta_sectors / XREPL_META_BLOCK_SECTORS;
	__u64 start = xrepl_undo_start(nr_regions);

	return blocks > start ? (blocks - start) /
				xrepl_undo_stride(region_size) : 0;
}

/*
 * The change tracker of a primary: which regions were written since a
 * checkpoint, for backups of the changes.  The "checkpoint" message
 * starts era N + 1 after checkpoint N; the writes of era e (from
 * checkpoint e to checkpoint e + 1) are the bits of ring slot e %
 * trk_slots.  A slot is a header block (struct xrepl_trk_hdr in its first
 * sector, the rest zero) and a bitmap of the regions, of bitmap_blocks
 * blocks in the bit order of the region bitmap.  trk_slots - 1 eras are
 * kept: the regions changed since checkpoint N, trk_oldest <= N <=
 * trk_open, are the union of slots N .. trk_open (the open era's slot and,
 * after a crash, the marks of the region bitmap: a region's bit is written
 * to the open slot, with FUA, before its mark is cleared).  The spare slot
 * is the next era's: it is written before the superblock that opens it.
 */
#define XREPL_TRK_MAGIC			"xrepltk"	/* 7 chars + NUL */
/* Slots in the ring at most (so at most 32 checkpoints kept), and at least. */
#define XREPL_TRK_MAX_SLOTS		33U
#define XREPL_TRK_MIN_SLOTS		2U
#define XREPL_TRK_NAME_LEN		64U	/* NUL padded, at most 63 */
/* Checkpoint numbers stay below this (no arithmetic on them overflows). */
#define XREPL_TRK_MAX_ERA		0x4000000000000000ULL	/* 2^62 */

struct xrepl_trk_hdr {
	__u8	magic[XREPL_META_MAGIC_LEN];	/*  0: XREPL_TRK_MAGIC */
	__le32	csum;		/*  8: crc32c of the 512-byte sector */
	__le32	reserved0;	/* 12: zero */
	__le64	trk_id;		/* 16: the superblock's */
	__le64	era;		/* 24: the checkpoint that opened it */
	__le64	time_ms;	/* 32: its time, ms since the epoch */
	__u8	uuid[16];	/* 40: the pair's */
	char	name[XREPL_TRK_NAME_LEN];	/* 56: the checkpoint's */
	__u8	reserved[XREPL_META_SB_SIZE - 120];	/* 120: zero */
} __packed;

/* First block of the ring, blocks per slot, and the slots that fit. */
static inline __u64 xrepl_trk_start(__u64 nr_regions)
{
	return 1 + xrepl_meta_bitmap_blocks(nr_regions);
}

static inline __u64 xrepl_trk_stride(__u64 nr_regions)
{
	return 1 + xrepl_meta_bitmap_blocks(nr_regions);
}

static inline __u64 xrepl_trk_fit(__u64 nr_regions, __u64 meta_sectors)
{
	__u64 blocks = meta_sectors / XREPL_META_BLOCK_SECTORS;
	__u64 start = xrepl_trk_start(nr_regions), n;

	n = blocks > start ? (blocks - start) / xrepl_trk_stride(nr_regions) : 0;
	return n < XREPL_TRK_MAX_SLOTS ? n : XREPL_TRK_MAX_SLOTS;
}

/* The header block of the slot of era (trk_slots slots). */
static inline __u64 xrepl_trk_slot_block(__u64 nr_regions, __u32 trk_slots,
					 __u64 era)
{
	return xrepl_trk_start(nr_regions) +
	       (era % trk_slots) * xrepl_trk_stride(nr_regions);
}

/*
 * The journal device of the asynchronous modes: a circular write-ahead
 * log of the writes on their way to the remote (design and rules in
 * Documentation/dm-xrepl-journal.rst).  4 KiB blocks: block 0 holds the
 * superblock in its first sector, blocks 1 .. nr_blocks - 1 the log.  An
 * entry is a header block (struct xrepl_jnl_hdr in its first sector, the
 * rest zero) and its data, padded with zeroes to whole blocks.  Entries
 * follow each other; one that would not fit before the end of the device
 * starts at block 1 instead.  The log is read from tail_block with
 * tail_seq, one entry after the other while each is valid.
 *
 * Each time a table opens the journal, the incarnation is raised and
 * written (with FUA) before the first append; an entry carries the
 * incarnation it was written in, so that entries a crash left after the
 * end of the log, whose sequence numbers are then used again, never join
 * it.  durable_seq is written (with FUA) before a mark of the bitmap is
 * cleared for entries up to it: an entry up to it that is not valid is
 * damage, one after it the end of the log.
 */
#define XREPL_JNL_MAGIC			"xrepljn"	/* 7 chars + NUL */
#define XREPL_JNL_HDR_MAGIC		"xreplje"	/* 7 chars + NUL */
#define XREPL_JNL_VERSION		1U
#define XREPL_JNL_LOG_START		1U	/* first block of the log */
/* Data of one entry at most (a larger write is split). */
#define XREPL_JNL_MAX_BYTES		(1024U * 1024U)
/* Smallest journal: the superblock and two entries of the largest size. */
#define XREPL_JNL_MIN_BLOCKS		(XREPL_JNL_LOG_START + 2U * \
					 (1U + XREPL_JNL_MAX_BYTES / \
					  XREPL_META_BLOCK_SIZE))

/* sb.flags: writes go around the log (journal full, congestion degrade). */
#define XREPL_JNL_F_BYPASSED		BIT(0)
/* sb.flags: shipping is held (the "hold" message). */
#define XREPL_JNL_F_HELD		BIT(1)
#define XREPL_JNL_F_ALL			(XREPL_JNL_F_BYPASSED | \
					 XREPL_JNL_F_HELD)

struct xrepl_jnl_sb {
	__u8	magic[XREPL_META_MAGIC_LEN];	/*  0: XREPL_JNL_MAGIC */
	__le32	csum;		/*  8: crc32c of the 512-byte sector */
	__le32	version;	/* 12: XREPL_JNL_VERSION */
	__le32	flags;		/* 16: XREPL_JNL_F_* */
	__le32	block_size;	/* 20: XREPL_META_BLOCK_SIZE */
	__u8	uuid[16];	/* 24: the pair's (its metadata superblock's) */
	__le64	journal_id;	/* 40: random at format; in every entry */
	__le64	nr_blocks;	/* 48: blocks of the device at format */
	__le64	tail_seq;	/* 56: oldest entry maybe not on the remote */
	__le64	tail_block;	/* 64: where it starts */
	__le64	generation;	/* 72: +1 at every superblock write */
	__le64	ctime;		/* 80: format time, seconds since the epoch */
	__le64	mtime;		/* 88: time of this write */
	__le64	incarnation;	/* 96: +1 each time a table opens it */
	__le64	tail_incarnation;	/* 104: the tail entry's */
	__le64	durable_seq;	/* 112: entries up to it are in the log */
	__le64	ship_until_ms;	/* 120: held: entries before it ship (0: none) */
	__le32	delay_ms;	/* 128: ship entries this old */
	__le64	sent_ms;	/* 132: held: the remote has none newer (0: ?) */
	__u8	reserved[XREPL_META_SB_SIZE - 140];	/* 140: zero */
} __packed;

/* hdr.op */
#define XREPL_JNL_OP_WRITE		1U
#define XREPL_JNL_OP_DISCARD		2U
#define XREPL_JNL_OP_WRITE_ZEROES	3U
#define XREPL_JNL_OP_FLUSH		4U
#define XREPL_JNL_OP_MAX		XREPL_JNL_OP_FLUSH

/* hdr.op_flags */
#define XREPL_JNL_PREFLUSH		BIT(0)
#define XREPL_JNL_FUA			BIT(1)
#define XREPL_JNL_NOUNMAP		BIT(2)
#define XREPL_JNL_OPF_ALL		(XREPL_JNL_PREFLUSH | XREPL_JNL_FUA | \
					 XREPL_JNL_NOUNMAP)

struct xrepl_jnl_hdr {
	__u8	magic[XREPL_META_MAGIC_LEN];	/*  0: XREPL_JNL_HDR_MAGIC */
	__le32	csum;		/*  8: crc32c of the 512-byte sector */
	__le32	data_csum;	/* 12: crc32c of the bytes of data, seed ~0 */
	__le64	journal_id;	/* 16: the superblock's */
	__le64	seq;		/* 24: +1 for each entry, from 1 */
	__le64	epoch;		/* 32: a flush or FUA write is one alone */
	__le64	sector;		/* 40: where the write goes */
	__le32	nr_sectors;	/* 48: its length */
	__le32	bytes;		/* 52: data that follows (0 unless a write) */
	__le32	op;		/* 56: XREPL_JNL_OP_* */
	__le32	op_flags;	/* 60: XREPL_JNL_PREFLUSH, ... */
	__le64	time_ns;	/* 64: submitted, ns since the epoch */
	__le32	blocks;		/* 72: 1 + data blocks */
	__le32	pad;		/* 76: zero */
	__le64	incarnation;	/* 80: the superblock's when written */
	__u8	reserved[XREPL_META_SB_SIZE - 88];	/* 88: zero */
} __packed;

/* Blocks of an entry with bytes of data. */
static inline __u32 xrepl_jnl_entry_blocks(__u32 bytes)
{
	return 1 + (bytes + XREPL_META_BLOCK_SIZE - 1) / XREPL_META_BLOCK_SIZE;
}

#endif /* DM_XREPL_FORMAT_H */
