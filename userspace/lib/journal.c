// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl userspace: read and validate a journal device offline (see
 * journal.h).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

#define BS	XREPL_META_BLOCK_SIZE

static uint32_t sector_csum(const void *sector, size_t csum_off)
{
	uint8_t copy[XREPL_META_SB_SIZE];

	memcpy(copy, sector, sizeof(copy));
	memset(copy + csum_off, 0, sizeof(uint32_t));
	return xmeta_crc32c(XREPL_META_CSUM_SEED, copy, sizeof(copy));
}

static unsigned int count_nonzero(const uint8_t *p, size_t len)
{
	unsigned int n = 0;

	while (len--)
		n += *p++ != 0;
	return n;
}

void xjnl_sb_decode(const void *sector, struct xjnl_sb *sb)
{
	struct xrepl_jnl_sb raw;

	memcpy(&raw, sector, sizeof(raw));
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, raw.magic, sizeof(sb->magic));
	sb->csum = le32toh(raw.csum);
	sb->csum_computed = sector_csum(sector,
					offsetof(struct xrepl_jnl_sb, csum));
	sb->version = le32toh(raw.version);
	sb->flags = le32toh(raw.flags);
	sb->block_size = le32toh(raw.block_size);
	memcpy(sb->uuid, raw.uuid, sizeof(sb->uuid));
	sb->journal_id = le64toh(raw.journal_id);
	sb->nr_blocks = le64toh(raw.nr_blocks);
	sb->tail_seq = le64toh(raw.tail_seq);
	sb->tail_block = le64toh(raw.tail_block);
	sb->generation = le64toh(raw.generation);
	sb->ctime = le64toh(raw.ctime);
	sb->mtime = le64toh(raw.mtime);
	sb->incarnation = le64toh(raw.incarnation);
	sb->tail_incarnation = le64toh(raw.tail_incarnation);
	sb->durable_seq = le64toh(raw.durable_seq);
	sb->ship_until_ms = le64toh(raw.ship_until_ms);
	sb->delay_ms = le32toh(raw.delay_ms);
	sb->sent_ms = le64toh(raw.sent_ms);
	sb->reserved_nonzero = count_nonzero(raw.reserved,
					     sizeof(raw.reserved));
}

void xjnl_check_sb(const struct xjnl_sb *sb, const void *block0,
		   uint64_t dev_bytes, struct xmeta_problems *p)
{
	const uint8_t *b0 = block0;
	char buf[64];

	if (memcmp(sb->magic, XREPL_JNL_MAGIC, XREPL_META_MAGIC_LEN)) {
		xmeta_problem(p, "bad magic: stored \"%s\", expected \"%s\" (not an xrepl journal; nothing else checked)",
			      xmeta_magic_str(sb->magic, buf, sizeof(buf)),
			      XREPL_JNL_MAGIC);
		return;
	}
	if (sb->csum != sb->csum_computed)
		xmeta_problem(p, "superblock checksum mismatch: stored 0x%08" PRIx32 ", computed 0x%08" PRIx32,
			      sb->csum, sb->csum_computed);
	if (sb->version != XREPL_JNL_VERSION)
		xmeta_problem(p, "version: %" PRIu32 " (this format is %u)",
			      sb->version, XREPL_JNL_VERSION);
	if (sb->flags & ~XJNL_F_ALL)
		xmeta_problem(p, "flags: unknown bits 0x%" PRIx32,
			      sb->flags & ~XJNL_F_ALL);
	if (sb->block_size != BS)
		xmeta_problem(p, "block_size: %" PRIu32 " (must be %u)",
			      sb->block_size, BS);
	if (sb->reserved_nonzero)
		xmeta_problem(p, "reserved: %u non-zero bytes",
			      sb->reserved_nonzero);
	if (!xmeta_is_zero(b0 + XREPL_META_SB_SIZE, BS - XREPL_META_SB_SIZE))
		xmeta_problem(p, "block 0: non-zero bytes after the superblock sector");
	if (sb->nr_blocks < XREPL_JNL_MIN_BLOCKS)
		xmeta_problem(p, "nr_blocks: %" PRIu64 " (at least %u)",
			      sb->nr_blocks, XREPL_JNL_MIN_BLOCKS);
	else if (sb->nr_blocks > dev_bytes / BS)
		xmeta_problem(p, "nr_blocks: %" PRIu64 ", but the device holds %" PRIu64 " blocks",
			      sb->nr_blocks, dev_bytes / BS);
	if (sb->tail_block < XREPL_JNL_LOG_START ||
	    sb->tail_block >= sb->nr_blocks)
		xmeta_problem(p, "tail_block: %" PRIu64 " (the log is blocks %u to %" PRIu64 ")",
			      sb->tail_block, XREPL_JNL_LOG_START,
			      sb->nr_blocks ? sb->nr_blocks - 1 : 0);
	if (!sb->tail_seq)
		xmeta_problem(p, "tail_seq: 0 (sequence numbers start at 1)");
	if (!sb->tail_incarnation || sb->tail_incarnation > sb->incarnation)
		xmeta_problem(p, "tail_incarnation: %" PRIu64 " (from 1 to the incarnation, %" PRIu64 ")",
			      sb->tail_incarnation, sb->incarnation);
	/* Entries before the tail reached the remote: they were durable. */
	if (sb->tail_seq && sb->durable_seq < sb->tail_seq - 1)
		xmeta_problem(p, "durable_seq: %" PRIu64 ", but the entries before the tail (seq %" PRIu64 ") were shipped",
			      sb->durable_seq, sb->tail_seq);
}

enum verdict {
	V_OK,
	V_END,		/* not an entry of this log at this point */
	V_BAD,
	V_TORN,		/* all right but the data checksum */
	V_IO,
};

static void decode_hdr(const struct xrepl_jnl_hdr *raw, uint64_t block,
		       struct xjnl_entry *e)
{
	e->block = block;
	e->seq = le64toh(raw->seq);
	e->epoch = le64toh(raw->epoch);
	e->sector = le64toh(raw->sector);
	e->nr_sectors = le32toh(raw->nr_sectors);
	e->bytes = le32toh(raw->bytes);
	e->op = le32toh(raw->op);
	e->op_flags = le32toh(raw->op_flags);
	e->time_ns = le64toh(raw->time_ns);
	e->blocks = le32toh(raw->blocks);
	e->data_csum = le32toh(raw->data_csum);
	e->incarnation = le64toh(raw->incarnation);
}

/* The fields of a header whose checksum is right; NULL if they hold. */
static const char *hdr_fields_bad(const struct xjnl_entry *e,
				  const uint8_t *blk, uint64_t nr_blocks)
{
	const struct xrepl_jnl_hdr *raw = (const void *)blk;

	if (!e->op || e->op > XREPL_JNL_OP_MAX)
		return "unknown op";
	if (e->op_flags & ~(uint32_t)XREPL_JNL_OPF_ALL)
		return "unknown op_flags";
	if (raw->pad || count_nonzero(raw->reserved, sizeof(raw->reserved)) ||
	    !xmeta_is_zero(blk + XREPL_META_SB_SIZE, BS - XREPL_META_SB_SIZE))
		return "non-zero reserved bytes";
	if (e->op == XREPL_JNL_OP_WRITE) {
		if (!e->bytes || e->bytes > XREPL_JNL_MAX_BYTES ||
		    e->bytes != (uint64_t)e->nr_sectors * 512)
			return "a write's bytes do not match its sectors";
	} else if (e->bytes) {
		return "data on an entry that is not a write";
	} else if ((e->op == XREPL_JNL_OP_FLUSH) != !e->nr_sectors) {
		return "a flush with sectors, or a discard without";
	}
	if (e->blocks != xrepl_jnl_entry_blocks(e->bytes))
		return "blocks do not match bytes";
	if (e->block + e->blocks > nr_blocks)
		return "the entry runs past the end of the log";
	return NULL;
}

/*
 * Read and judge the entry at block, expected to be number seq, of
 * incarnation min_inc at least.
 */
static enum verdict read_entry(struct xmeta_dev *dev, const struct xjnl_sb *sb,
			       uint64_t data_sectors, uint64_t block, uint64_t seq,
			       uint64_t min_inc, struct xjnl_entry *e, char *why,
			       size_t len, int *err)
{
	uint8_t blk[BS];
	struct xrepl_jnl_hdr raw;
	const char *bad;
	uint32_t crc = XREPL_META_CSUM_SEED, left;
	uint64_t b;
	ssize_t got;

	got = xmeta_read_block(dev, block);
	if (got < 0) {
		*err = (int)got;
		snprintf(why, len, "read error at block %" PRIu64 ": %s",
			 block, strerror((int)-got));
		return V_IO;
	}
	memcpy(blk, dev->buf, BS);
	memcpy(&raw, blk, sizeof(raw));
	if (memcmp(raw.magic, XREPL_JNL_HDR_MAGIC, XREPL_META_MAGIC_LEN)) {
		snprintf(why, len, "no entry header");
		return V_END;
	}
	if (le32toh(raw.csum) != sector_csum(blk,
					     offsetof(struct xrepl_jnl_hdr,
						      csum))) {
		snprintf(why, len, "header checksum mismatch");
		return V_BAD;
	}
	if (le64toh(raw.journal_id) != sb->journal_id) {
		snprintf(why, len, "an entry of an earlier format (journal_id 0x%016" PRIx64 ")",
			 (uint64_t)le64toh(raw.journal_id));
		return V_END;
	}
	decode_hdr(&raw, block, e);
	/* Left after the end of the log by a crash: its seq may be reused. */
	if (e->incarnation < min_inc) {
		snprintf(why, len, "an entry of an earlier incarnation (%" PRIu64 ")",
			 e->incarnation);
		return V_END;
	}
	if (e->incarnation > sb->incarnation) {
		snprintf(why, len, "an incarnation not begun (%" PRIu64 ", the superblock's is %" PRIu64 ")",
			 e->incarnation, sb->incarnation);
		return V_BAD;
	}
	if (e->seq < seq) {
		snprintf(why, len, "an older entry (seq %" PRIu64 ")", e->seq);
		return V_END;
	}
	if (e->seq > seq) {
		snprintf(why, len, "sequence gap: expected %" PRIu64 ", found %" PRIu64,
			 seq, e->seq);
		return V_BAD;
	}
	bad = hdr_fields_bad(e, blk, sb->nr_blocks);
	if (bad) {
		snprintf(why, len, "%s", bad);
		return V_BAD;
	}
	if (data_sectors && (e->sector > data_sectors ||
			     e->nr_sectors > data_sectors - e->sector)) {
		snprintf(why, len, "sectors %" PRIu64 "+%" PRIu32 " run past the end of the device (%" PRIu64 " sectors)",
			 e->sector, e->nr_sectors, data_sectors);
		return V_BAD;
	}
	for (b = block + 1, left = e->bytes; left; b++) {
		uint32_t n = left < BS ? left : BS;

		got = xmeta_read_block(dev, b);
		if (got < 0) {
			*err = (int)got;
			snprintf(why, len, "read error at block %" PRIu64 ": %s",
				 b, strerror((int)-got));
			return V_IO;
		}
		crc = xmeta_crc32c(crc, dev->buf, n);
		left -= n;
	}
	if (crc != e->data_csum) {
		snprintf(why, len, "data checksum mismatch");
		return V_TORN;
	}
	return V_OK;
}

/* The entry at block, or else (wrapped) at the start of the log. */
static enum verdict read_next(struct xmeta_dev *dev, const struct xjnl_sb *sb,
			      uint64_t data_sectors, uint64_t *block, uint64_t seq,
			      uint64_t min_inc, struct xjnl_entry *e, char *why,
			      size_t len, int *err)
{
	enum verdict v, v2;
	char why2[sizeof(((struct xjnl_walk *)0)->why)];

	v = read_entry(dev, sb, data_sectors, *block, seq, min_inc, e, why,
		       len, err);
	if (v != V_END || *block == XREPL_JNL_LOG_START)
		return v;
	v2 = read_entry(dev, sb, data_sectors, XREPL_JNL_LOG_START, seq,
			min_inc, e, why2, sizeof(why2), err);
	if (v2 == V_END)
		return v;
	*block = XREPL_JNL_LOG_START;
	/* An entry found there leaves why2 unset. */
	if (v2 != V_OK)
		snprintf(why, len, "%s", why2);
	return v2;
}

static uint64_t next_block(const struct xjnl_sb *sb, const struct xjnl_entry *e)
{
	uint64_t b = e->block + e->blocks;

	return b >= sb->nr_blocks ? XREPL_JNL_LOG_START : b;
}

int xjnl_walk_log(struct xmeta_dev *dev, const struct xjnl_sb *sb,
		  uint64_t data_sectors, xjnl_entry_fn fn, void *ctx,
		  struct xjnl_walk *w)
{
	uint64_t block = sb->tail_block, seq = sb->tail_seq;
	uint64_t inc = sb->tail_incarnation;
	struct xjnl_entry e, f;
	char why2[sizeof(w->why)];
	enum verdict v;
	int r;

	memset(w, 0, sizeof(*w));
	for (;;) {
		v = read_next(dev, sb, data_sectors, &block, seq, inc, &e,
			      w->why, sizeof(w->why), &w->err);
		if (v != V_OK)
			break;
		inc = e.incarnation;
		w->entries++;
		w->bytes += e.bytes;
		if (fn) {
			r = fn(ctx, &e);
			if (r)
				return r;
		}
		block = next_block(sb, &e);
		seq++;
		/* More entries than blocks: the walk came round again. */
		if (w->entries >= sb->nr_blocks) {
			v = V_BAD;
			snprintf(w->why, sizeof(w->why), "the log runs round the device");
			break;
		}
	}
	w->end_block = block;
	w->end_seq = seq;
	switch (v) {
	case V_END:
		w->end = XJNL_END_CLEAN;
		break;
	case V_IO:
		w->end = XJNL_END_IO;
		break;
	case V_TORN:
		/*
		 * A cut append.  Appends run in parallel, so entries after
		 * it may be whole (none of them was acknowledged): count
		 * them, they are dropped with it.
		 */
		w->end = XJNL_END_TORN;
		while (w->after < sb->nr_blocks) {
			block = next_block(sb, &e);
			if (read_next(dev, sb, data_sectors, &block,
				      seq + 1 + w->after, e.incarnation, &f,
				      why2, sizeof(why2), &r) != V_OK)
				break;
			e = f;
			w->after++;
		}
		break;
	default:
		w->end = XJNL_END_DAMAGED;
		break;
	}
	/*
	 * The bitmap's marks were cleared for the entries up to durable_seq:
	 * the log may not end before one of them.
	 */
	if ((w->end == XJNL_END_CLEAN || w->end == XJNL_END_TORN) &&
	    seq <= sb->durable_seq) {
		size_t n = strlen(w->why);

		snprintf(w->why + n, sizeof(w->why) - n,
			 ", but entries up to %" PRIu64 " were made durable",
			 sb->durable_seq);
		w->end = XJNL_END_DAMAGED;
		w->after = 0;
	}
	return 0;
}

int xjnl_scan_shipped(struct xmeta_dev *dev, const struct xjnl_sb *sb,
		      xjnl_entry_fn fn, void *ctx)
{
	struct xrepl_jnl_hdr raw;
	struct xjnl_entry e;
	uint64_t block = XREPL_JNL_LOG_START;
	char why[200];
	ssize_t got;
	int err = 0, r;

	while (block < sb->nr_blocks) {
		got = xmeta_read_block(dev, block);
		if (got < 0)
			return (int)got;
		memcpy(&raw, dev->buf, sizeof(raw));
		if (memcmp(raw.magic, XREPL_JNL_HDR_MAGIC,
			   XREPL_META_MAGIC_LEN) ||
		    le64toh(raw.journal_id) != sb->journal_id ||
		    le64toh(raw.seq) >= sb->tail_seq) {
			block++;
			continue;
		}
		switch (read_entry(dev, sb, 0, block, le64toh(raw.seq), 0, &e,
				   why, sizeof(why), &err)) {
		case V_OK:
			r = fn(ctx, &e);
			if (r)
				return r;
			block += e.blocks;
			break;
		case V_IO:
			return err;
		default:
			block++;
		}
	}
	return 0;
}

const char *xjnl_op_name(uint32_t op, char *buf, size_t len)
{
	static const char *const names[] = {
		[XREPL_JNL_OP_WRITE] = "write",
		[XREPL_JNL_OP_DISCARD] = "discard",
		[XREPL_JNL_OP_WRITE_ZEROES] = "write-zeroes",
		[XREPL_JNL_OP_FLUSH] = "flush",
	};

	if (op && op <= XREPL_JNL_OP_MAX)
		return names[op];
	snprintf(buf, len, "op%" PRIu32, op);
	return buf;
}

/* The names of the bits set in flags, "a,b" ("bitN" past names), or "none". */
static const char *flags_str(uint32_t flags, const char *const *names,
			     unsigned int nr_names, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < 32; i++) {
		if (!(flags & (1U << i)))
			continue;
		if (i < nr_names)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "," : "", names[i]);
		else
			used += (size_t)snprintf(buf + used, len - used,
						 "%sbit%u", used ? "," : "", i);
		if (used >= len)
			break;
	}
	return used ? buf : "none";
}

const char *xjnl_op_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "preflush", "fua", "nounmap" };

	return flags_str(flags, names, sizeof(names) / sizeof(names[0]), buf,
			 len);
}

const char *xjnl_sb_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "bypassed", "held" };

	/* Unknown bits are reported as a problem of the superblock. */
	return flags_str(flags & XJNL_F_ALL, names,
			 sizeof(names) / sizeof(names[0]), buf, len);
}

const char *xjnl_end_name(enum xjnl_end end)
{
	switch (end) {
	case XJNL_END_CLEAN:
		return "clean";
	case XJNL_END_TORN:
		return "torn";
	case XJNL_END_DAMAGED:
		return "damaged";
	default:
		return "io-error";
	}
}
