/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl: replicate a block device to a remote block device.
 *
 * Declarations shared by the target and its pure helpers: the parsed
 * table line, region geometry and the dirty-region bitmap.  Nothing in
 * this header depends on device-mapper core, so the helpers can be unit
 * tested on their own (see the *-kunit.c suites).
 */
#ifndef DM_XREPL_H
#define DM_XREPL_H

#include <linux/bits.h>
#include <linux/list.h>
#include <linux/types.h>

/* Region sizes, tunable ranges and their defaults, shared with userspace. */
#include "xrepl-format.h"
#include "xrepl-limits.h"

struct xrepl_bitmap;

enum xrepl_mode {
	XREPL_MODE_SYNC,
	XREPL_MODE_SEMI_SYNC,
	XREPL_MODE_ASYNC,
	XREPL_MODE_PERIODIC,
};

/* What an asynchronous mode does when max_lag_kb is reached. */
enum xrepl_congestion {
	XREPL_CONGESTION_BLOCK,		/* new writes wait for room */
	XREPL_CONGESTION_DEGRADE,	/* drop the buffer to dirty regions */
};

enum xrepl_error_policy {
	XREPL_ON_ERROR_DEGRADE,
	XREPL_ON_ERROR_FAIL,
};

/* Optional arguments that were given explicitly (xrepl_args.given). */
#define XREPL_OPT_REGION_SIZE		BIT(0)
#define XREPL_OPT_ON_REMOTE_ERROR	BIT(1)
#define XREPL_OPT_NOSYNC		BIT(2)
#define XREPL_OPT_RESYNC_RATE		BIT(3)
#define XREPL_OPT_SEMI_TIMEOUT		BIT(4)
#define XREPL_OPT_MAX_LAG		BIT(5)
#define XREPL_OPT_CONGESTION		BIT(6)
#define XREPL_OPT_REMOTE_META		BIT(7)
#define XREPL_OPT_PERIOD		BIT(8)
#define XREPL_OPT_JOURNAL		BIT(9)
#define XREPL_OPT_DELAY			BIT(10)

/*
 * A parsed table line.  The device strings point into the caller's argv,
 * which must outlive this structure.
 */
struct xrepl_args {
	const char *local_path;
	const char *remote_path;	/* NULL for "-" (no remote yet) */
	const char *meta_path;		/* NULL for "-" (in-memory bitmap) */
	const char *peer_path;		/* remote_meta: the remote site's */
	const char *journal_path;	/* journal: the async write-ahead log */
	enum xrepl_mode mode;
	enum xrepl_error_policy on_remote_error;
	u32 region_size;		/* sectors, a power of two */
	u32 resync_rate_kbps;		/* 0: unlimited */
	u32 semi_timeout_ms;
	u32 max_lag_kb;
	u32 period_s;			/* periodic mode: seconds per cycle */
	u32 delay_ms;			/* async, journal: ship entries this old */
	enum xrepl_congestion congestion;
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

/*
 * Parse the value of an option that can also be changed at run time
 * (resync_rate_kbps, semi_timeout_ms, max_lag_kb, congestion, period_s,
 * delay_ms) into args.
 * Returns its XREPL_OPT_* bit, or 0 with *error set.  May sleep: no.
 */
unsigned int xrepl_parse_tunable(struct xrepl_args *args, const char *key,
				 const char *val, char **error);

const char *xrepl_mode_name(enum xrepl_mode mode);
const char *xrepl_policy_name(enum xrepl_error_policy policy);
const char *xrepl_congestion_name(enum xrepl_congestion congestion);
/* A mode word, as in the table line; -EINVAL if it is none. */
int xrepl_parse_mode(const char *arg, enum xrepl_mode *mode);

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

/*
 * Set bits first..last (first <= last) of map, a word at a time; returns
 * how many were clear.  The caller serialises every change of map.
 */
unsigned long xrepl_bits_set_range(unsigned long *map, unsigned long first,
				   unsigned long last);
/* The same with atomic word updates, for a map others change locklessly. */
void xrepl_bits_set_range_atomic(unsigned long *map, unsigned long first,
				 unsigned long last);

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

/*
 * Metadata device (xrepl-meta.c): the superblock in CPU byte order, its
 * encoding and validation, and the write-intent state of every region.
 */
struct xrepl_sb_info {
	u32 flags;			/* XREPL_META_F_* */
	u32 region_size;
	u32 degraded;			/* XREPL_META_DEGRADED_* */
	u64 dev_sectors;
	u64 nr_regions;
	u64 bitmap_blocks;
	u64 generation;
	u8 uuid[16];
	u64 ctime;
	u64 mtime;
	u64 gen_current;
	u64 gen_bitmap;
	u64 gen_history[2];
	u64 resync_count;
	u64 degrade_count;
	u32 role;			/* XREPL_META_ROLE_* */
	u64 data_time;			/* a secondary's: seconds; 0 unknown */
	u64 undo_epoch;			/* a secondary's: 0, or the undo's */
	u64 trk_id;			/* a primary's change tracker; 0: none */
	u64 trk_open;			/* its newest checkpoint */
	u64 trk_oldest;			/* its oldest checkpoint still known */
	u32 trk_slots;			/* slots in its ring */
};

/* A slot header of the change tracker (struct xrepl_trk_hdr), decoded. */
struct xrepl_trk_info {
	u64 trk_id;
	u64 era;
	u64 time_ms;
	u8 uuid[16];
	char name[XREPL_TRK_NAME_LEN];
};

/*
 * Data generations (xrepl-gen.c).  What a primary does on connecting to
 * the remote site's metadata, decided by xrepl_peer_compare() from both
 * superblocks (Documentation/dm-xrepl.rst, "Roles and generations").
 */
enum xrepl_verdict {
	XREPL_VERDICT_FRESH,		/* new remote metadata: full sync */
	XREPL_VERDICT_SAME,		/* same data: copy our bitmap */
	XREPL_VERDICT_ANCESTOR,		/* remote at our bitmap's start: same */
	XREPL_VERDICT_OLD,		/* remote older than that: full sync */
	XREPL_VERDICT_FAILBACK,		/* demoted remote: the union of bitmaps */
	XREPL_VERDICT_FAILBACK_OLD,	/* demoted, older base: full sync */
	XREPL_VERDICT_PROMOTED,		/* refused: the remote is a primary */
	XREPL_VERDICT_SPLIT_BRAIN,	/* refused: both sides changed */
	XREPL_VERDICT_UNRELATED,	/* refused: no common generation */
};

/* A new generation identifier: not 0, and none sb holds. */
u64 xrepl_gen_new(const struct xrepl_sb_info *sb);
/*
 * The primary starts writing without its remote: unless a bitmap
 * generation is open already, gen_current becomes gen_bitmap and gets a
 * new value.  Returns whether it split.
 */
bool xrepl_gen_split(struct xrepl_sb_info *sb);
/* A resync made the remote equal: gen_bitmap moves into the history. */
void xrepl_gen_synced(struct xrepl_sb_info *sb);
enum xrepl_verdict xrepl_peer_compare(const struct xrepl_sb_info *ours,
				      const struct xrepl_sb_info *peer,
				      bool peer_fresh);
bool xrepl_verdict_refused(enum xrepl_verdict v);
const char *xrepl_verdict_name(enum xrepl_verdict v);

/* crc32c of a 512-byte superblock sector, its csum field taken as 0. */
u32 xrepl_sb_csum(const void *sector);
/* Write *info as a superblock into the 512-byte sector, with checksum. */
void xrepl_sb_encode(void *sector, const struct xrepl_sb_info *info);
/*
 * Decode and validate a superblock sector on its own (magic, checksum,
 * version, flags, internal geometry).  Returns 0, or -EILSEQ with *error
 * naming the first bad field.
 */
int xrepl_sb_decode(const void *sector, struct xrepl_sb_info *info,
		    char **error);
/*
 * Check a decoded superblock against the table: the device size, the
 * region size (when given: region_size != 0) and the metadata device size
 * in sectors.  Returns 0 or -EINVAL with *error naming the field.
 */
int xrepl_sb_check(const struct xrepl_sb_info *info, sector_t dev_sectors,
		   u32 region_size, sector_t meta_sectors, char **error);
/* A fresh superblock for geom: new uuid and generation identifiers. */
void xrepl_sb_init(struct xrepl_sb_info *info, const struct xrepl_geom *geom,
		   bool consistent);
bool xrepl_mem_is_zero(const void *buf, size_t len);
/*
 * A checkpoint's name: 1 to XREPL_TRK_NAME_LEN - 1 characters of
 * [A-Za-z0-9._:+@-] in a buffer of len, NUL padded to its end.
 */
bool xrepl_trk_name_ok(const char *name, size_t len);
/* No change tracker in *info (a secondary's, or a pair that starts anew). */
void xrepl_sb_trk_clear(struct xrepl_sb_info *info);
/* Write *t as a slot header into the 512-byte sector, with checksum. */
void xrepl_trk_hdr_encode(void *sector, const struct xrepl_trk_info *t);
/*
 * Decode and validate a slot header: magic, checksum, reserved fields, a
 * NUL-terminated name, and that it belongs to the tracker trk_id of the
 * pair uuid and to era.  Returns 0, or -EILSEQ with *error set.
 */
int xrepl_trk_hdr_decode(const void *sector, struct xrepl_trk_info *t,
			 const u8 *uuid, u64 trk_id, u64 era, char **error);
/* A bitmap block between the on-disk layout (le64 words) and memory. */
void xrepl_meta_block_to_disk(void *dst, const unsigned long *src);
void xrepl_meta_block_from_disk(unsigned long *dst, const void *src);

/*
 * Write intent: before a write reaches either leg, the regions it touches
 * must be marked on the metadata device ("committed"); marks are cleared
 * lazily once a region has been idle, after both legs were flushed.
 *
 * bits is the image of the on-disk bitmap (what is on disk, or will be
 * after the next metadata write).  committed is a subset of the bits that
 * are known durable; writes test it without a lock.  The cleaner takes a
 * region out of committed before it clears its bit (clearing), so a write
 * that misses committed asks for the mark again and a write already in
 * flight makes the cleaner keep it; see the target for the barriers.
 *
 * Locking: the caller serialises every function that takes a
 * "locked" suffix with one lock; xrepl_wi_check() and
 * xrepl_wi_set_committed() take no lock; committed and touched are
 * changed with atomic bit operations only.
 */
struct xrepl_wi {
	unsigned long nr_regions;
	unsigned long nr_blocks;	/* 4 KiB bitmap blocks on disk */
	unsigned long *bits;		/* the on-disk image */
	unsigned long *committed;	/* durably marked, not being cleared */
	unsigned long *touched;		/* written since the cleaner last looked */
	unsigned long *clearing;	/* picked by the cleaner, not applied */
	unsigned long *asked;		/* requested since copied for a write */
	unsigned long *dirty_blocks;	/* blocks of bits not yet written */
	unsigned long nr_marked;	/* set bits in bits */
};

int xrepl_wi_alloc(struct xrepl_wi *wi, unsigned long nr_regions);
void xrepl_wi_free(struct xrepl_wi *wi);
/*
 * Load the bitmap block at index block (on-disk format) into bits and
 * committed.  Returns -EILSEQ if it has bits past the last region.
 */
int xrepl_wi_load_block(struct xrepl_wi *wi, unsigned long block,
			const void *buf, char **error);
/* Mark every region (a fresh pair that needs a full sync). */
void xrepl_wi_mark_all_locked(struct xrepl_wi *wi);
/*
 * The marks in bits were written: take all of them as durable (but those
 * the cleaner is clearing, and those asked for since their block was
 * copied for its last write), so that writes need not ask for them and
 * the cleaner may clear them once idle.  The caller also excludes the
 * other writers of committed (the metadata writer).
 */
void xrepl_wi_commit_all_locked(struct xrepl_wi *wi);
/* Lockless: are regions first..last all committed?  Notes them touched. */
bool xrepl_wi_check(struct xrepl_wi *wi, unsigned long first,
		    unsigned long last);
/* Ask for first..last to be marked on disk by the next metadata write. */
void xrepl_wi_request_locked(struct xrepl_wi *wi, unsigned long first,
			     unsigned long last);
/*
 * Copy up to max dirty bitmap blocks, in on-disk format, to buf (max * 4
 * KiB), their indexes to blocks[]; they count as written from now on.
 * Returns how many.
 */
unsigned int xrepl_wi_snapshot_locked(struct xrepl_wi *wi, void *buf,
				      unsigned long *blocks, unsigned int max);
/* A snapshot could not be written: its blocks are dirty again. */
void xrepl_wi_redirty_locked(struct xrepl_wi *wi, const unsigned long *blocks,
			     unsigned int n);
/* Regions first..last are durably marked (after their metadata write). */
void xrepl_wi_set_committed(struct xrepl_wi *wi, unsigned long first,
			    unsigned long last);
/*
 * Cleaner, step 1, for regions from..to-1: age the touched bits and pick
 * every committed region that was not touched since the last call (any,
 * if all) and is not set in keep (the regions that still need a resync),
 * moving it from committed to clearing.  Returns how many were picked.
 */
unsigned long xrepl_wi_clean_pick_locked(struct xrepl_wi *wi,
					 const struct xrepl_bitmap *keep,
					 unsigned long from, unsigned long to,
					 bool all);
/* Step 2: a write may be in flight to region r: keep its mark. */
void xrepl_wi_clean_keep_locked(struct xrepl_wi *wi, unsigned long r);
/*
 * Step 3, after both legs were flushed: clear the bits of the regions
 * from..to-1 still picked (their blocks become dirty).  Returns how many.
 */
unsigned long xrepl_wi_clean_apply_locked(struct xrepl_wi *wi,
					  unsigned long from, unsigned long to);
/* Undo step 1 for the regions from..to-1 still picked (a flush failed). */
void xrepl_wi_clean_cancel_locked(struct xrepl_wi *wi, unsigned long from,
				  unsigned long to);

/*
 * Ship queue of the asynchronous modes: the writes that completed on the
 * local leg and still have to reach the remote, in the order they completed
 * at the source.  It only decides what may be issued to the remote when;
 * the caller owns the data and the bios.
 *
 * Ordering rules (write-order fidelity):
 *  - A barrier (a write or empty flush with REQ_PREFLUSH or REQ_FUA at the
 *    source) ends an epoch.  It is issued, with a preflush, only when every
 *    entry before it has completed at the remote, and nothing after it is
 *    issued before it has completed.  So the remote flushes all of epoch k
 *    before anything of epoch k + 1 can reach it.
 *  - Other entries are issued in queue order, several at a time, but an
 *    entry that overlaps one in flight waits for it (and so does every
 *    entry behind it), so overlapping writes reach the remote in the order
 *    they completed at the source.
 *
 * Locking: the caller serialises all of these with one lock.
 */
#define XREPL_SHIP_BARRIER	BIT(0)	/* PREFLUSH or FUA at the source */
#define XREPL_SHIP_ISSUED	BIT(1)	/* sent to the remote, not completed */

struct xrepl_ship {
	struct list_head list;		/* on xrepl_shipq.queue */
	sector_t sector;
	sector_t nr_sectors;		/* 0 for an empty flush */
	unsigned int bytes;		/* data held for it */
	unsigned int flags;		/* XREPL_SHIP_* */
	u64 queued_ns;			/* when it joined the queue */
};

struct xrepl_shipq {
	/* In flight (a prefix: ISSUED), then waiting; oldest first. */
	struct list_head queue;
	struct xrepl_ship *next;	/* first waiting entry, or NULL */
	unsigned int max_inflight;
	unsigned int inflight;
	bool barrier_inflight;
	u64 bytes;			/* lag: data queued or in flight */
	unsigned long nr;		/* lag: entries queued or in flight */
};

void xrepl_shipq_init(struct xrepl_shipq *q, unsigned int max_inflight);
/* Append an entry (flags: 0 or XREPL_SHIP_BARRIER). */
void xrepl_shipq_add_locked(struct xrepl_shipq *q, struct xrepl_ship *s);
/*
 * Insert an entry before the first waiting one (the end if none waits):
 * it is the next to go.
 */
void xrepl_shipq_insert_locked(struct xrepl_shipq *q, struct xrepl_ship *s);
/* The next entry that may be issued now (it counts as issued), or NULL. */
struct xrepl_ship *xrepl_shipq_next_locked(struct xrepl_shipq *q);
/* Do a and b share a sector?  One without sectors (a flush) shares none. */
bool xrepl_ship_overlap(const struct xrepl_ship *a, const struct xrepl_ship *b);
/* An issued entry completed at the remote: it leaves the queue. */
void xrepl_shipq_done_locked(struct xrepl_shipq *q, struct xrepl_ship *s);
/*
 * Move every entry not issued yet to out, in order, and out of the lag
 * (the remote is given up on: their regions become dirty).
 */
void xrepl_shipq_take_waiting_locked(struct xrepl_shipq *q,
				     struct list_head *out);
/* queued_ns of the oldest entry, or 0 if the queue is empty. */
u64 xrepl_shipq_oldest_ns(const struct xrepl_shipq *q);

/*
 * The lag of the asynchronous modes: the writes admitted and not yet
 * completed at the remote, and the data held for them.  A write is
 * admitted only if the data stays within the bound, except into an empty
 * lag (so that one write larger than the bound still goes, alone).
 * Locking: the caller serialises these with one lock.
 */
struct xrepl_lag {
	u64 bytes;
	unsigned long writes;
};

/* May a write of bytes be admitted under a bound of max bytes? */
static inline bool xrepl_lag_fits(const struct xrepl_lag *lag, u64 max,
				  unsigned int bytes)
{
	return !lag->writes || lag->bytes + bytes <= max;
}

static inline void xrepl_lag_add(struct xrepl_lag *lag, unsigned int bytes)
{
	lag->bytes += bytes;
	lag->writes++;
}

/* A write leaves the lag; returns true if the lag is now empty. */
static inline bool xrepl_lag_remove(struct xrepl_lag *lag,
				    unsigned int bytes)
{
	lag->bytes -= bytes;
	lag->writes--;
	return !lag->writes;
}

/*
 * Journal device (xrepl-journal.c): the superblock in CPU byte order, its
 * encoding and validation, and the entry headers, judged as a replay
 * reads the log (Documentation/dm-xrepl-journal.rst).  None of these
 * sleeps or takes a lock.
 */
struct xrepl_jnl_info {
	u32 flags;			/* XREPL_JNL_F_* */
	u8 uuid[16];			/* the pair's */
	u64 journal_id;			/* random at format, never 0 */
	u64 nr_blocks;			/* 4 KiB blocks, the superblock's included */
	u64 tail_seq;
	u64 tail_block;
	u64 generation;
	u64 ctime;
	u64 mtime;
	u64 incarnation;		/* raised each time a table opens it */
	u64 tail_incarnation;		/* the tail entry's, at least */
	u64 durable_seq;		/* entries up to it are in the log */
	/* Held: entries made before it (ms since the epoch) ship. */
	u64 ship_until_ms;
	u32 delay_ms;
	/*
	 * Held: no write the remote has is newer (ms since the epoch,
	 * rounded up); 0: not known.
	 */
	u64 sent_ms;
};

/* An entry of the log, as its header says. */
struct xrepl_jnl_entry {
	u64 seq;
	u64 epoch;
	u64 sector;
	u64 time_ns;			/* wall clock, ns since the epoch */
	u32 nr_sectors;
	u32 bytes;			/* data after the header block */
	u32 op;				/* XREPL_JNL_OP_* */
	u32 op_flags;			/* XREPL_JNL_PREFLUSH, ... */
	u32 blocks;			/* 1 + data blocks */
	u32 data_csum;
	u64 incarnation;		/* of the journal when it was written */
};

/* What the header at the place of an expected entry says. */
enum xrepl_jnl_verdict {
	XREPL_JNL_ENTRY,	/* the entry expected (its data still unchecked) */
	XREPL_JNL_END,		/* no entry of this log: it ends before */
	XREPL_JNL_BAD,		/* damage: replay stops, and says so */
};

/* crc32c of a 512-byte journal superblock or header sector, csum as 0. */
u32 xrepl_jnl_sector_csum(const void *sector);
/* A fresh journal of the pair uuid on a device of dev_sectors. */
void xrepl_jnl_sb_init(struct xrepl_jnl_info *info, const u8 uuid[16],
		       sector_t dev_sectors);
/* Write *info as a superblock into the 512-byte sector, with checksum. */
void xrepl_jnl_sb_encode(void *sector, const struct xrepl_jnl_info *info);
/*
 * Decode and validate block 0 (4 KiB) of a journal device of dev_sectors.
 * Returns 0, or -EILSEQ with *error naming what is wrong.  The pair (uuid)
 * is the caller's to compare.
 */
int xrepl_jnl_sb_decode(const void *block0, sector_t dev_sectors,
			struct xrepl_jnl_info *info, char **error);
/* Write the header block (4 KiB, zero past the header) of entry e. */
void xrepl_jnl_hdr_encode(void *block, u64 journal_id,
			  const struct xrepl_jnl_entry *e);
/*
 * Judge the header block found at block_nr where entry seq is expected,
 * of incarnation min_inc at least (the entry before's, or the superblock's
 * tail_incarnation for the first), on a device of dev_sectors; *e is
 * filled for XREPL_JNL_ENTRY, and *why tells why otherwise.  The data
 * checksum is the caller's to verify.
 */
enum xrepl_jnl_verdict xrepl_jnl_hdr_judge(const void *block,
					   const struct xrepl_jnl_info *info,
					   u64 block_nr, u64 seq, u64 min_inc,
					   sector_t dev_sectors,
					   struct xrepl_jnl_entry *e,
					   char **why);
/*
 * The log ends where entry seq was expected: is that damage (an entry
 * whose marks may be cleared is missing), or its end (a torn append, whose
 * regions the bitmap still marks)?
 */
static inline bool xrepl_jnl_end_is_damage(const struct xrepl_jnl_info *info,
					   u64 seq)
{
	return seq <= info->durable_seq;
}

/* crc32c of data, continued from crc (XREPL_META_CSUM_SEED to start). */
u32 xrepl_jnl_data_csum(u32 crc, const void *buf, size_t len);
/* Where the entry after e (at block_nr) starts, unless it wraps. */
u64 xrepl_jnl_next_block(const struct xrepl_jnl_info *info,
			 const struct xrepl_jnl_entry *e, u64 block_nr);

#endif /* DM_XREPL_H */
