/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl userspace: read and validate a journal device offline.
 *
 * The format is dm-xrepl/xrepl-format.h ("The journal device"), its rules
 * Documentation/dm-xrepl-journal.rst.  The device is read through the
 * metadata helpers (struct xmeta_dev: O_DIRECT on block devices).  These
 * helpers decode, judge and walk; they print nothing.
 */
#ifndef XREPL_JOURNAL_H
#define XREPL_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "meta.h"

#define XJNL_F_BYPASSED		((uint32_t)XREPL_JNL_F_BYPASSED)
#define XJNL_F_HELD		((uint32_t)XREPL_JNL_F_HELD)
#define XJNL_F_ALL		((uint32_t)XREPL_JNL_F_ALL)

/* A journal superblock in CPU byte order, as stored: nothing checked. */
struct xjnl_sb {
	uint8_t magic[XREPL_META_MAGIC_LEN];
	uint32_t csum;
	uint32_t csum_computed;
	uint32_t version;
	uint32_t flags;
	uint32_t block_size;
	uint8_t uuid[16];
	uint64_t journal_id;
	uint64_t nr_blocks;
	uint64_t tail_seq;
	uint64_t tail_block;
	uint64_t generation;
	uint64_t ctime;
	uint64_t mtime;
	uint64_t incarnation;
	uint64_t tail_incarnation;
	uint64_t durable_seq;
	uint64_t ship_until_ms;
	uint32_t delay_ms;
	uint64_t sent_ms;
	unsigned int reserved_nonzero;
};

void xjnl_sb_decode(const void *sector, struct xjnl_sb *sb);
/*
 * What the target refuses in block 0: magic (reported alone), checksum,
 * version, flags, block size, reserved bytes and the rest of block 0, a
 * device smaller than nr_blocks, or nr_blocks, tail_block, tail_seq,
 * tail_incarnation or durable_seq out of range.
 */
void xjnl_check_sb(const struct xjnl_sb *sb, const void *block0,
		   uint64_t dev_bytes, struct xmeta_problems *p);

/* An entry's header, decoded. */
struct xjnl_entry {
	uint64_t block;		/* where its header is */
	uint64_t seq;
	uint64_t epoch;
	uint64_t sector;
	uint32_t nr_sectors;
	uint32_t bytes;
	uint32_t op;
	uint32_t op_flags;
	uint64_t time_ns;
	uint32_t blocks;
	uint32_t data_csum;
	uint64_t incarnation;
};

/* How the log read from the tail ends. */
enum xjnl_end {
	/* No entry of this log follows (zeroes, an older lap, other data). */
	XJNL_END_CLEAN,
	/*
	 * An entry is torn (its data checksum): an append cut by a power
	 * cut.  Whole entries after it (appends that ran in parallel) are
	 * counted in xjnl_walk.after and dropped with it.
	 */
	XJNL_END_TORN,
	/*
	 * Damage: replay would stop here, and ought not to.  Also where the
	 * log ends (cleanly or torn) before durable_seq: an entry whose
	 * marks may have been cleared is missing.
	 */
	XJNL_END_DAMAGED,
	/* A read error. */
	XJNL_END_IO,
};

struct xjnl_walk {
	uint64_t entries;	/* valid entries from the tail */
	uint64_t bytes;		/* their data */
	enum xjnl_end end;
	uint64_t end_block;	/* where the log ends */
	uint64_t end_seq;	/* the sequence number expected there */
	uint64_t after;		/* XJNL_END_TORN: whole entries after it */
	char why[200];		/* why it ends there */
	int err;		/* XJNL_END_IO: -errno */
};

/* Called for each valid entry from the tail, in order; non-zero stops. */
typedef int (*xjnl_entry_fn)(void *ctx, const struct xjnl_entry *e);

/*
 * Walk the log of a superblock that passed xjnl_check_sb(): from
 * tail_block, entry after entry, each at its block or else at block 1,
 * while valid: its sequence number the next, its incarnation not below
 * the entry before's (tail_incarnation for the first) nor above the
 * superblock's.  With data_sectors (not 0), an entry past the end of a
 * device of that size is damage.  w tells how it ended.  Returns 0, or
 * what fn returned.
 */
int xjnl_walk_log(struct xmeta_dev *dev, const struct xjnl_sb *sb,
		  uint64_t data_sectors, xjnl_entry_fn fn, void *ctx,
		  struct xjnl_walk *w);

/*
 * Every valid entry of this journal before the tail still on the device
 * (shipped to the remote, their blocks not reused yet; or left after the
 * end of an earlier incarnation's log by a crash, never shipped), in block
 * order.  Returns 0, what fn returned, or -errno.
 */
int xjnl_scan_shipped(struct xmeta_dev *dev, const struct xjnl_sb *sb,
		      xjnl_entry_fn fn, void *ctx);

/* "write", "discard", "write-zeroes", "flush" or "op<N>". */
const char *xjnl_op_name(uint32_t op, char *buf, size_t len);
/* "preflush,fua", "none" into buf. */
const char *xjnl_op_flags_str(uint32_t flags, char *buf, size_t len);
/* "bypassed,held", "none" into buf: the known superblock flags. */
const char *xjnl_sb_flags_str(uint32_t flags, char *buf, size_t len);
const char *xjnl_end_name(enum xjnl_end end);

#endif /* XREPL_JOURNAL_H */
