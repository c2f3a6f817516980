// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the dm-xrepl journal format: the superblock, and the
 * entry headers as a replay judges them.
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

#define XJ_DEV_SECTORS	(600 * XREPL_META_BLOCK_SECTORS)
#define XJ_DATA_SECTORS	2048

static const u8 xj_uuid[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				13, 14, 15 };

static u8 *xj_block0(struct kunit *test, struct xrepl_jnl_info *info)
{
	u8 *b = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	xrepl_jnl_sb_init(info, xj_uuid, XJ_DEV_SECTORS);
	info->generation = 3;
	/* Opened twice; its tail still in the first incarnation. */
	info->incarnation = 2;
	info->ship_until_ms = 1700000123456ULL;
	info->delay_ms = 60000;
	info->sent_ms = 1700000123000ULL;
	xrepl_jnl_sb_encode(b, info);
	return b;
}

static void xj_resum(u8 *sector)
{
	struct xrepl_jnl_sb *sb = (void *)sector;

	sb->csum = cpu_to_le32(xrepl_jnl_sector_csum(sector));
}

static void xrepl_jnl_sb_roundtrip_test(struct kunit *test)
{
	struct xrepl_jnl_info in, out;
	char *error = NULL;
	u8 *b = xj_block0(test, &in);

	memset(&out, 0, sizeof(out));
	KUNIT_EXPECT_NE(test, in.journal_id, 0ULL);
	KUNIT_EXPECT_EQ(test, in.nr_blocks, 600ULL);
	KUNIT_EXPECT_EQ(test, in.tail_seq, 1ULL);
	KUNIT_EXPECT_EQ(test, in.tail_block, (u64)XREPL_JNL_LOG_START);
	KUNIT_EXPECT_EQ(test, in.tail_incarnation, 1ULL);
	KUNIT_EXPECT_EQ(test, in.durable_seq, 0ULL);
	KUNIT_ASSERT_EQ(test, xrepl_jnl_sb_decode(b, XJ_DEV_SECTORS, &out,
						  &error), 0);
	KUNIT_EXPECT_EQ(test, memcmp(&in, &out, sizeof(in)), 0);
	/* A larger device is fine; a smaller one lost the journal's end. */
	KUNIT_EXPECT_EQ(test, xrepl_jnl_sb_decode(b, 2 * XJ_DEV_SECTORS, &out,
						  &error), 0);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_sb_decode(b, XJ_DEV_SECTORS - 1, &out,
						  &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error,
			   "Journal: the device is smaller than its journal");
}

/* Every single-byte change of the superblock sector is caught. */
static void xrepl_jnl_sb_byte_flip_test(struct kunit *test)
{
	struct xrepl_jnl_info in, out;
	unsigned int i;
	u8 *b = xj_block0(test, &in);

	for (i = 0; i < XREPL_META_SB_SIZE; i++) {
		char *error = NULL;

		b[i] ^= 0x40;
		KUNIT_EXPECT_EQ_MSG(test, xrepl_jnl_sb_decode(b, XJ_DEV_SECTORS,
							      &out, &error),
				    -EILSEQ, "byte %u", i);
		KUNIT_EXPECT_STREQ_MSG(test, error, i < 8 ?
				       "Journal: bad magic" :
				       "Journal: superblock checksum mismatch",
				       "byte %u", i);
		b[i] ^= 0x40;
	}
	/* Past the sector: the rest of block 0 must be zero. */
	b[XREPL_META_SB_SIZE + 7] = 1;
	KUNIT_EXPECT_EQ(test, xrepl_jnl_sb_decode(b, XJ_DEV_SECTORS, &out,
						  &(char *){ NULL }), -EILSEQ);
}

struct xj_bad_case {
	const char *name;
	unsigned int off;	/* byte offset of the little-endian field */
	unsigned int size;	/* 4 or 8 */
	u64 val;
	const char *error;
};

static const struct xj_bad_case xj_bad_cases[] = {
	{ "version", 12, 4, 2, "Journal: unsupported format version" },
	{ "flags", 16, 4, 4, "Journal: unknown flags" },
	{ "block_size", 20, 4, 512, "Journal: corrupt superblock" },
	{ "journal_id 0", 40, 8, 0, "Journal: corrupt superblock" },
	{ "nr_blocks small", 48, 8, XREPL_JNL_MIN_BLOCKS - 1,
	  "Journal: corrupt superblock" },
	{ "nr_blocks past device", 48, 8, 601,
	  "Journal: the device is smaller than its journal" },
	{ "tail_seq 0", 56, 8, 0, "Journal: corrupt superblock" },
	{ "tail_block 0", 64, 8, 0, "Journal: corrupt superblock" },
	{ "tail_block at end", 64, 8, 600, "Journal: corrupt superblock" },
	{ "tail_incarnation 0", 104, 8, 0, "Journal: corrupt superblock" },
	{ "tail_incarnation past", 104, 8, 3, "Journal: corrupt superblock" },
	/* Entries before the tail reached the remote: they were durable. */
	{ "tail past durable", 56, 8, 2, "Journal: corrupt superblock" },
	{ "reserved", 140, 4, 1, "Journal: corrupt superblock" },
	{ "reserved end", 508, 4, 1, "Journal: corrupt superblock" },
};

static void xj_bad_desc(const struct xj_bad_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(xj_bad, xj_bad_cases, xj_bad_desc);

static void xrepl_jnl_sb_bad_field_test(struct kunit *test)
{
	const struct xj_bad_case *c = test->param_value;
	struct xrepl_jnl_info in, out;
	char *error = NULL;
	u8 *b = xj_block0(test, &in);

	if (c->size == 4) {
		__le32 v = cpu_to_le32(c->val);

		memcpy(b + c->off, &v, 4);
	} else {
		__le64 v = cpu_to_le64(c->val);

		memcpy(b + c->off, &v, 8);
	}
	xj_resum(b);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_sb_decode(b, XJ_DEV_SECTORS, &out,
						  &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error, c->error);
}

/* A header block for entry seq at block_nr: a write of 8 sectors. */
static u8 *xj_hdr(struct kunit *test, const struct xrepl_jnl_info *info,
		  struct xrepl_jnl_entry *e, u64 seq)
{
	u8 *b = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	e->epoch = 4;
	e->sector = 64;
	e->nr_sectors = 8;
	e->bytes = 4096;
	e->op = XREPL_JNL_OP_WRITE;
	e->time_ns = 1700000000ULL * NSEC_PER_SEC;
	e->blocks = xrepl_jnl_entry_blocks(e->bytes);
	e->data_csum = 0x12345678;
	e->incarnation = info->incarnation;
	xrepl_jnl_hdr_encode(b, info->journal_id, e);
	return b;
}

static void xrepl_jnl_hdr_roundtrip_test(struct kunit *test)
{
	struct xrepl_jnl_info info;
	struct xrepl_jnl_entry in, out;
	char *why = NULL;
	u8 *b;

	xj_block0(test, &info);
	b = xj_hdr(test, &info, &in, 7);
	KUNIT_ASSERT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 10, 7, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_ENTRY);
	KUNIT_EXPECT_EQ(test, memcmp(&in, &out, sizeof(in)), 0);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_next_block(&info, &out, 10), 12ULL);
	/* An entry ending at the last block: the next one starts at block 1. */
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 598, 7, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_ENTRY);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_next_block(&info, &out, 598),
			(u64)XREPL_JNL_LOG_START);
}

/* Where the log ends, and where it is damaged. */
static void xrepl_jnl_hdr_end_test(struct kunit *test)
{
	struct xrepl_jnl_info info;
	struct xrepl_jnl_entry e, out;
	char *why = NULL;
	u8 *b, *zero;

	xj_block0(test, &info);
	zero = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, zero);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(zero, &info, 1, 1, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_END);
	KUNIT_EXPECT_STREQ(test, why, "no entry header");

	b = xj_hdr(test, &info, &e, 5);
	/* An older lap's entry at the place of the next one: the end. */
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 6, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_END);
	KUNIT_EXPECT_STREQ(test, why, "an older entry");
	/* A later one where this one belongs: a gap, damage. */
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 4, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, "sequence gap");
	/* An entry of an earlier format of the device: not this log's. */
	xrepl_jnl_hdr_encode(b, info.journal_id ^ 1, &e);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_END);
	KUNIT_EXPECT_STREQ(test, why, "an entry of an earlier format");
	/*
	 * Left after the end of the log by a crash, its seq used again by the
	 * next incarnation: the end.  One from an incarnation that has not
	 * begun: damage.
	 */
	b = xj_hdr(test, &info, &e, 5);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 3,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_END);
	KUNIT_EXPECT_STREQ(test, why, "an entry of an earlier incarnation");
	e.incarnation = 3;
	xrepl_jnl_hdr_encode(b, info.journal_id, &e);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, "an incarnation not begun");
	/* The pad between blocks and incarnation is reserved too. */
	b = xj_hdr(test, &info, &e, 5);
	b[76] = 1;
	xj_resum(b);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, "non-zero reserved bytes");
	/* The header's checksum covers its whole sector. */
	b = xj_hdr(test, &info, &e, 5);
	b[40] ^= 1;
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, "header checksum mismatch");
	/* ... and the rest of the header block must be zero. */
	b = xj_hdr(test, &info, &e, 5);
	b[XREPL_META_BLOCK_SIZE - 1] = 1;
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, 1, 5, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, "non-zero reserved bytes");
}

struct xj_hdr_case {
	const char *name;
	u32 op, op_flags, nr_sectors, bytes, blocks;
	u64 sector, block_nr;
	const char *why;	/* NULL: valid */
};

static const struct xj_hdr_case xj_hdr_cases[] = {
	{ "write", XREPL_JNL_OP_WRITE, 0, 8, 4096, 2, 0, 1, NULL },
	{ "write 1 MiB", XREPL_JNL_OP_WRITE, 0, 2048, 1048576, 257, 0, 1, NULL },
	{ "write fua", XREPL_JNL_OP_WRITE, XREPL_JNL_FUA, 8, 4096, 2, 0, 1,
	  NULL },
	{ "flush", XREPL_JNL_OP_FLUSH, XREPL_JNL_PREFLUSH, 0, 0, 1, 0, 1,
	  NULL },
	{ "discard", XREPL_JNL_OP_DISCARD, 0, 64, 0, 1, 8, 1, NULL },
	{ "write zeroes", XREPL_JNL_OP_WRITE_ZEROES, XREPL_JNL_NOUNMAP, 64, 0,
	  1, 8, 1, NULL },
	{ "last sectors", XREPL_JNL_OP_WRITE, 0, 8, 4096, 2, XJ_DATA_SECTORS - 8, 1, NULL },
	{ "op 0", 0, 0, 8, 4096, 2, 0, 1, "unknown op" },
	{ "op 5", 5, 0, 8, 4096, 2, 0, 1, "unknown op" },
	{ "op_flags", XREPL_JNL_OP_WRITE, 8, 8, 4096, 2, 0, 1,
	  "unknown op_flags" },
	{ "write without data", XREPL_JNL_OP_WRITE, 0, 8, 0, 1, 0, 1,
	  "a write's bytes do not match its sectors" },
	{ "write short", XREPL_JNL_OP_WRITE, 0, 8, 2048, 2, 0, 1,
	  "a write's bytes do not match its sectors" },
	{ "write over 1 MiB", XREPL_JNL_OP_WRITE, 0, 2056, 1052672, 258, 0, 1,
	  "a write's bytes do not match its sectors" },
	{ "discard with data", XREPL_JNL_OP_DISCARD, 0, 8, 4096, 2, 0, 1,
	  "data on an entry that is not a write" },
	{ "flush with sectors", XREPL_JNL_OP_FLUSH, 0, 8, 0, 1, 0, 1,
	  "a flush with sectors, or a discard without" },
	{ "discard without", XREPL_JNL_OP_DISCARD, 0, 0, 0, 1, 0, 1,
	  "a flush with sectors, or a discard without" },
	{ "blocks", XREPL_JNL_OP_WRITE, 0, 8, 4096, 3, 0, 1,
	  "blocks do not match bytes" },
	{ "past the log", XREPL_JNL_OP_WRITE, 0, 16, 8192, 3, 0, 598,
	  "the entry runs past the end of the log" },
	{ "past the device", XREPL_JNL_OP_WRITE, 0, 16, 8192, 3, XJ_DATA_SECTORS - 8, 1,
	  "the write runs past the end of the device" },
	{ "sector past the device", XREPL_JNL_OP_WRITE, 0, 8, 4096, 2, XJ_DATA_SECTORS + 8, 1,
	  "the write runs past the end of the device" },
	{ "sector wraps", XREPL_JNL_OP_WRITE, 0, 8, 4096, 2, ~0ULL - 3, 1,
	  "the write runs past the end of the device" },
};

static void xj_hdr_desc(const struct xj_hdr_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(xj_hdr, xj_hdr_cases, xj_hdr_desc);

static void xrepl_jnl_hdr_fields_test(struct kunit *test)
{
	const struct xj_hdr_case *c = test->param_value;
	struct xrepl_jnl_info info;
	struct xrepl_jnl_entry e = {
		.seq = 9, .epoch = 2, .sector = c->sector,
		.nr_sectors = c->nr_sectors, .bytes = c->bytes, .op = c->op,
		.op_flags = c->op_flags, .blocks = c->blocks, .incarnation = 2,
	}, out;
	char *why = NULL;
	u8 *b = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, b);
	xj_block0(test, &info);
	xrepl_jnl_hdr_encode(b, info.journal_id, &e);
	if (!c->why) {
		KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, c->block_nr,
							  9, 1, XJ_DATA_SECTORS,
							  &out, &why),
				XREPL_JNL_ENTRY);
		KUNIT_EXPECT_EQ(test, memcmp(&e, &out, sizeof(e)), 0);
		return;
	}
	KUNIT_EXPECT_EQ(test, xrepl_jnl_hdr_judge(b, &info, c->block_nr, 9, 1,
						  XJ_DATA_SECTORS, &out, &why),
			XREPL_JNL_BAD);
	KUNIT_EXPECT_STREQ(test, why, c->why);
}

/* The log ends after durable_seq; before, an entry is missing. */
static void xrepl_jnl_end_damage_test(struct kunit *test)
{
	struct xrepl_jnl_info info;

	xj_block0(test, &info);
	info.durable_seq = 41;
	KUNIT_EXPECT_TRUE(test, xrepl_jnl_end_is_damage(&info, 1));
	KUNIT_EXPECT_TRUE(test, xrepl_jnl_end_is_damage(&info, 41));
	KUNIT_EXPECT_FALSE(test, xrepl_jnl_end_is_damage(&info, 42));
	info.durable_seq = 0;
	KUNIT_EXPECT_FALSE(test, xrepl_jnl_end_is_damage(&info, 1));
}

/* The smallest journal holds two entries of the largest size. */
static void xrepl_jnl_layout_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, xrepl_jnl_entry_blocks(0), 1U);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_entry_blocks(512), 2U);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_entry_blocks(4096), 2U);
	KUNIT_EXPECT_EQ(test, xrepl_jnl_entry_blocks(4097), 3U);
	KUNIT_EXPECT_EQ(test, XREPL_JNL_MIN_BLOCKS,
			XREPL_JNL_LOG_START +
			2 * xrepl_jnl_entry_blocks(XREPL_JNL_MAX_BYTES));
	/* The data checksum chains over pieces as over the whole. */
	KUNIT_EXPECT_EQ(test,
			xrepl_jnl_data_csum(xrepl_jnl_data_csum(XREPL_META_CSUM_SEED,
								"abc", 3),
					    "def", 3),
			xrepl_jnl_data_csum(XREPL_META_CSUM_SEED, "abcdef", 6));
}

static struct kunit_case xrepl_journal_test_cases[] = {
	KUNIT_CASE(xrepl_jnl_sb_roundtrip_test),
	KUNIT_CASE(xrepl_jnl_sb_byte_flip_test),
	KUNIT_CASE_PARAM(xrepl_jnl_sb_bad_field_test, xj_bad_gen_params),
	KUNIT_CASE(xrepl_jnl_hdr_roundtrip_test),
	KUNIT_CASE(xrepl_jnl_hdr_end_test),
	KUNIT_CASE_PARAM(xrepl_jnl_hdr_fields_test, xj_hdr_gen_params),
	KUNIT_CASE(xrepl_jnl_end_damage_test),
	KUNIT_CASE(xrepl_jnl_layout_test),
	{}
};

static struct kunit_suite xrepl_journal_test_suite = {
	.name = "dm-xrepl-journal",
	.test_cases = xrepl_journal_test_cases,
};

kunit_test_suite(xrepl_journal_test_suite);
