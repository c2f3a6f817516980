// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the journal format (xrepl-format.h, "The journal device";
 * design in Documentation/dm-xrepl-journal.rst): the superblock's encoding
 * and validation, and the entry header's, judged as a replay reads the
 * log.  No I/O here; unit tested on their own.  The offline tools
 * (userspace/lib/journal.c) judge the same way.
 */
#include <linux/build_bug.h>
#include <linux/crc32.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/random.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <asm/byteorder.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

static_assert(sizeof(struct xrepl_jnl_sb) == XREPL_META_SB_SIZE);
static_assert(sizeof(struct xrepl_jnl_hdr) == XREPL_META_SB_SIZE);
/* Both keep their checksum where the metadata superblock does. */
static_assert(offsetof(struct xrepl_jnl_sb, csum) == 8);
static_assert(offsetof(struct xrepl_jnl_hdr, csum) == 8);
static_assert(offsetof(struct xrepl_jnl_sb, sent_ms) == 132);
static_assert(offsetof(struct xrepl_jnl_sb, reserved) == 140);

#define JNL_BLOCK_SECTORS	XREPL_META_BLOCK_SECTORS

/* crc32c of a 512-byte superblock or header sector, csum as 0. */
u32 xrepl_jnl_sector_csum(const void *sector)
{
	static const u8 zero[4];
	const size_t off = 8;
	u32 crc;

	crc = __crc32c_le(XREPL_META_CSUM_SEED, sector, off);
	crc = __crc32c_le(crc, zero, sizeof(zero));
	return __crc32c_le(crc, (const u8 *)sector + off + sizeof(zero),
			   XREPL_META_SB_SIZE - off - sizeof(zero));
}

void xrepl_jnl_sb_init(struct xrepl_jnl_info *info, const u8 uuid[16],
		       sector_t dev_sectors)
{
	memset(info, 0, sizeof(*info));
	memcpy(info->uuid, uuid, sizeof(info->uuid));
	do {
		info->journal_id = get_random_u64();
	} while (!info->journal_id);
	info->nr_blocks = dev_sectors / JNL_BLOCK_SECTORS;
	info->tail_seq = 1;
	info->tail_block = XREPL_JNL_LOG_START;
	info->incarnation = 1;
	info->tail_incarnation = 1;
	info->ctime = ktime_get_real_seconds();
}

void xrepl_jnl_sb_encode(void *sector, const struct xrepl_jnl_info *info)
{
	struct xrepl_jnl_sb *sb = sector;

	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, XREPL_JNL_MAGIC, XREPL_META_MAGIC_LEN);
	sb->version = cpu_to_le32(XREPL_JNL_VERSION);
	sb->flags = cpu_to_le32(info->flags);
	sb->block_size = cpu_to_le32(XREPL_META_BLOCK_SIZE);
	memcpy(sb->uuid, info->uuid, sizeof(sb->uuid));
	sb->journal_id = cpu_to_le64(info->journal_id);
	sb->nr_blocks = cpu_to_le64(info->nr_blocks);
	sb->tail_seq = cpu_to_le64(info->tail_seq);
	sb->tail_block = cpu_to_le64(info->tail_block);
	sb->generation = cpu_to_le64(info->generation);
	sb->ctime = cpu_to_le64(info->ctime);
	sb->mtime = cpu_to_le64(info->mtime);
	sb->incarnation = cpu_to_le64(info->incarnation);
	sb->tail_incarnation = cpu_to_le64(info->tail_incarnation);
	sb->durable_seq = cpu_to_le64(info->durable_seq);
	sb->ship_until_ms = cpu_to_le64(info->ship_until_ms);
	sb->delay_ms = cpu_to_le32(info->delay_ms);
	sb->sent_ms = cpu_to_le64(info->sent_ms);
	sb->csum = cpu_to_le32(xrepl_jnl_sector_csum(sb));
}

static int jnl_bad(char **error, char *what)
{
	*error = what;
	return -EILSEQ;
}

int xrepl_jnl_sb_decode(const void *block0, sector_t dev_sectors,
			struct xrepl_jnl_info *info, char **error)
{
	const struct xrepl_jnl_sb *sb = block0;
	u64 nr_blocks, tail_block, tail_seq, inc, tail_inc;

	if (memcmp(sb->magic, XREPL_JNL_MAGIC, XREPL_META_MAGIC_LEN))
		return jnl_bad(error, "Journal: bad magic");
	if (le32_to_cpu(sb->csum) != xrepl_jnl_sector_csum(sb))
		return jnl_bad(error, "Journal: superblock checksum mismatch");
	if (le32_to_cpu(sb->version) != XREPL_JNL_VERSION)
		return jnl_bad(error, "Journal: unsupported format version");
	if (le32_to_cpu(sb->flags) & ~XREPL_JNL_F_ALL)
		return jnl_bad(error, "Journal: unknown flags");
	if (le32_to_cpu(sb->block_size) != XREPL_META_BLOCK_SIZE ||
	    !xrepl_mem_is_zero(sb->reserved, sizeof(sb->reserved)) ||
	    !xrepl_mem_is_zero((const u8 *)block0 + XREPL_META_SB_SIZE,
			       XREPL_META_BLOCK_SIZE - XREPL_META_SB_SIZE))
		return jnl_bad(error, "Journal: corrupt superblock");
	nr_blocks = le64_to_cpu(sb->nr_blocks);
	tail_block = le64_to_cpu(sb->tail_block);
	tail_seq = le64_to_cpu(sb->tail_seq);
	inc = le64_to_cpu(sb->incarnation);
	tail_inc = le64_to_cpu(sb->tail_incarnation);
	if (nr_blocks < XREPL_JNL_MIN_BLOCKS ||
	    tail_block < XREPL_JNL_LOG_START || tail_block >= nr_blocks ||
	    !tail_seq || !sb->journal_id || !tail_inc || tail_inc > inc ||
	    le64_to_cpu(sb->durable_seq) < tail_seq - 1)
		return jnl_bad(error, "Journal: corrupt superblock");
	if (nr_blocks > dev_sectors / JNL_BLOCK_SECTORS)
		return jnl_bad(error, "Journal: the device is smaller than its journal");

	info->flags = le32_to_cpu(sb->flags);
	memcpy(info->uuid, sb->uuid, sizeof(info->uuid));
	info->journal_id = le64_to_cpu(sb->journal_id);
	info->nr_blocks = nr_blocks;
	info->tail_seq = tail_seq;
	info->tail_block = tail_block;
	info->generation = le64_to_cpu(sb->generation);
	info->ctime = le64_to_cpu(sb->ctime);
	info->mtime = le64_to_cpu(sb->mtime);
	info->incarnation = inc;
	info->tail_incarnation = tail_inc;
	info->durable_seq = le64_to_cpu(sb->durable_seq);
	info->ship_until_ms = le64_to_cpu(sb->ship_until_ms);
	info->delay_ms = le32_to_cpu(sb->delay_ms);
	info->sent_ms = le64_to_cpu(sb->sent_ms);
	return 0;
}

void xrepl_jnl_hdr_encode(void *block, u64 journal_id,
			  const struct xrepl_jnl_entry *e)
{
	struct xrepl_jnl_hdr *h = block;

	memset(block, 0, XREPL_META_BLOCK_SIZE);
	memcpy(h->magic, XREPL_JNL_HDR_MAGIC, XREPL_META_MAGIC_LEN);
	h->data_csum = cpu_to_le32(e->data_csum);
	h->journal_id = cpu_to_le64(journal_id);
	h->seq = cpu_to_le64(e->seq);
	h->epoch = cpu_to_le64(e->epoch);
	h->sector = cpu_to_le64(e->sector);
	h->nr_sectors = cpu_to_le32(e->nr_sectors);
	h->bytes = cpu_to_le32(e->bytes);
	h->op = cpu_to_le32(e->op);
	h->op_flags = cpu_to_le32(e->op_flags);
	h->time_ns = cpu_to_le64(e->time_ns);
	h->blocks = cpu_to_le32(e->blocks);
	h->incarnation = cpu_to_le64(e->incarnation);
	h->csum = cpu_to_le32(xrepl_jnl_sector_csum(h));
}

static enum xrepl_jnl_verdict jnl_judged(char **why, char *what,
					 enum xrepl_jnl_verdict v)
{
	*why = what;
	return v;
}

enum xrepl_jnl_verdict xrepl_jnl_hdr_judge(const void *block,
					   const struct xrepl_jnl_info *info,
					   u64 block_nr, u64 seq, u64 min_inc,
					   sector_t dev_sectors,
					   struct xrepl_jnl_entry *e,
					   char **why)
{
	const struct xrepl_jnl_hdr *h = block;

	if (memcmp(h->magic, XREPL_JNL_HDR_MAGIC, XREPL_META_MAGIC_LEN))
		return jnl_judged(why, "no entry header", XREPL_JNL_END);
	if (le32_to_cpu(h->csum) != xrepl_jnl_sector_csum(h))
		return jnl_judged(why, "header checksum mismatch",
				  XREPL_JNL_BAD);
	if (le64_to_cpu(h->journal_id) != info->journal_id)
		return jnl_judged(why, "an entry of an earlier format",
				  XREPL_JNL_END);
	/* Left after the end of the log by a crash: its seq may be reused. */
	e->incarnation = le64_to_cpu(h->incarnation);
	if (e->incarnation < min_inc)
		return jnl_judged(why, "an entry of an earlier incarnation",
				  XREPL_JNL_END);
	if (e->incarnation > info->incarnation)
		return jnl_judged(why, "an incarnation not begun",
				  XREPL_JNL_BAD);
	e->seq = le64_to_cpu(h->seq);
	if (e->seq < seq)
		return jnl_judged(why, "an older entry", XREPL_JNL_END);
	if (e->seq > seq)
		return jnl_judged(why, "sequence gap", XREPL_JNL_BAD);
	e->epoch = le64_to_cpu(h->epoch);
	e->sector = le64_to_cpu(h->sector);
	e->nr_sectors = le32_to_cpu(h->nr_sectors);
	e->bytes = le32_to_cpu(h->bytes);
	e->op = le32_to_cpu(h->op);
	e->op_flags = le32_to_cpu(h->op_flags);
	e->time_ns = le64_to_cpu(h->time_ns);
	e->blocks = le32_to_cpu(h->blocks);
	e->data_csum = le32_to_cpu(h->data_csum);

	if (!e->op || e->op > XREPL_JNL_OP_MAX)
		return jnl_judged(why, "unknown op", XREPL_JNL_BAD);
	if (e->op_flags & ~XREPL_JNL_OPF_ALL)
		return jnl_judged(why, "unknown op_flags", XREPL_JNL_BAD);
	if (h->pad || !xrepl_mem_is_zero(h->reserved, sizeof(h->reserved)) ||
	    !xrepl_mem_is_zero((const u8 *)block + XREPL_META_SB_SIZE,
			       XREPL_META_BLOCK_SIZE - XREPL_META_SB_SIZE))
		return jnl_judged(why, "non-zero reserved bytes",
				  XREPL_JNL_BAD);
	if (e->op == XREPL_JNL_OP_WRITE) {
		if (!e->bytes || e->bytes > XREPL_JNL_MAX_BYTES ||
		    e->bytes != (u64)e->nr_sectors * 512)
			return jnl_judged(why, "a write's bytes do not match its sectors",
					  XREPL_JNL_BAD);
	} else if (e->bytes) {
		return jnl_judged(why, "data on an entry that is not a write",
				  XREPL_JNL_BAD);
	} else if ((e->op == XREPL_JNL_OP_FLUSH) != !e->nr_sectors) {
		return jnl_judged(why, "a flush with sectors, or a discard without",
				  XREPL_JNL_BAD);
	}
	if (e->blocks != xrepl_jnl_entry_blocks(e->bytes))
		return jnl_judged(why, "blocks do not match bytes",
				  XREPL_JNL_BAD);
	if (block_nr + e->blocks > info->nr_blocks)
		return jnl_judged(why, "the entry runs past the end of the log",
				  XREPL_JNL_BAD);
	if (e->sector > dev_sectors || e->nr_sectors > dev_sectors - e->sector)
		return jnl_judged(why, "the write runs past the end of the device",
				  XREPL_JNL_BAD);
	return XREPL_JNL_ENTRY;
}

u32 xrepl_jnl_data_csum(u32 crc, const void *buf, size_t len)
{
	return __crc32c_le(crc, buf, len);
}

u64 xrepl_jnl_next_block(const struct xrepl_jnl_info *info,
			 const struct xrepl_jnl_entry *e, u64 block_nr)
{
	u64 next = block_nr + e->blocks;

	return next >= info->nr_blocks ? XREPL_JNL_LOG_START : next;
}
