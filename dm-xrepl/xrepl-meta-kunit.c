// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the dm-xrepl metadata format (superblock encoding and
 * validation, bitmap blocks) and the write-intent state machine.
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/byteorder.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

static void xm_info(struct xrepl_sb_info *info)
{
	struct xrepl_geom geom;
	char *error = NULL;

	/* 1 GiB at 64 KiB regions: 16384 regions, one bitmap block. */
	WARN_ON(xrepl_geom_init(&geom, 2097152, 128, &error));
	xrepl_sb_init(info, &geom, true);
	info->generation = 7;
	info->mtime = 1234;
	info->degraded = XREPL_META_DEGRADED_ADMIN;
	info->gen_bitmap = 0x1122334455667788ULL;
	info->gen_history[0] = 1;
	info->gen_history[1] = 2;
	info->resync_count = 3;
	info->degrade_count = 4;
}

static u8 *xm_sector(struct kunit *test, const struct xrepl_sb_info *info)
{
	u8 *sector = kunit_kzalloc(test, XREPL_META_SB_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, sector);
	xrepl_sb_encode(sector, info);
	return sector;
}

/* Re-checksum a sector after a deliberate change of one field. */
static void xm_resum(u8 *sector)
{
	struct xrepl_meta_sb *sb = (struct xrepl_meta_sb *)sector;

	sb->csum = cpu_to_le32(xrepl_sb_csum(sector));
}

static void xrepl_sb_roundtrip_test(struct kunit *test)
{
	struct xrepl_sb_info in, out;
	struct xrepl_meta_sb *sb;
	char *error = NULL;
	u8 *sector;

	xm_info(&in);
	sector = xm_sector(test, &in);
	sb = (struct xrepl_meta_sb *)sector;

	/* Little-endian fields at their documented offsets. */
	KUNIT_EXPECT_EQ(test, memcmp(sector, "xreplmd", 8), 0);
	KUNIT_EXPECT_EQ(test, sector[12], XREPL_META_VERSION);
	KUNIT_EXPECT_EQ(test, sector[16], XREPL_META_F_CONSISTENT);
	KUNIT_EXPECT_EQ(test, sector[20], 128);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(sb->dev_sectors), 2097152ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(sb->nr_regions), 16384ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(sb->bitmap_start), 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(sb->bitmap_blocks), 1ULL);

	memset(&out, 0xa5, sizeof(out));
	KUNIT_ASSERT_EQ(test, xrepl_sb_decode(sector, &out, &error), 0);
	KUNIT_EXPECT_EQ(test, out.flags, in.flags);
	KUNIT_EXPECT_EQ(test, out.region_size, in.region_size);
	KUNIT_EXPECT_EQ(test, out.degraded, in.degraded);
	KUNIT_EXPECT_EQ(test, out.dev_sectors, in.dev_sectors);
	KUNIT_EXPECT_EQ(test, out.nr_regions, in.nr_regions);
	KUNIT_EXPECT_EQ(test, out.bitmap_blocks, in.bitmap_blocks);
	KUNIT_EXPECT_EQ(test, out.generation, in.generation);
	KUNIT_EXPECT_EQ(test, memcmp(out.uuid, in.uuid, sizeof(in.uuid)), 0);
	KUNIT_EXPECT_EQ(test, out.ctime, in.ctime);
	KUNIT_EXPECT_EQ(test, out.mtime, in.mtime);
	KUNIT_EXPECT_EQ(test, out.gen_current, in.gen_current);
	KUNIT_EXPECT_EQ(test, out.gen_bitmap, in.gen_bitmap);
	KUNIT_EXPECT_EQ(test, out.gen_history[0], in.gen_history[0]);
	KUNIT_EXPECT_EQ(test, out.gen_history[1], in.gen_history[1]);
	KUNIT_EXPECT_EQ(test, out.resync_count, in.resync_count);
	KUNIT_EXPECT_EQ(test, out.degrade_count, in.degrade_count);
	KUNIT_EXPECT_EQ(test, out.role, XREPL_META_ROLE_PRIMARY);
	KUNIT_EXPECT_EQ(test, sector[152], XREPL_META_ROLE_PRIMARY);
}

/* Every single-byte change of the sector is caught. */
static void xrepl_sb_byte_flip_test(struct kunit *test)
{
	struct xrepl_sb_info in, out;
	unsigned int i;
	u8 *sector;

	xm_info(&in);
	sector = xm_sector(test, &in);
	for (i = 0; i < XREPL_META_SB_SIZE; i++) {
		char *error = NULL;

		sector[i] ^= 0x40;
		KUNIT_EXPECT_EQ_MSG(test, xrepl_sb_decode(sector, &out, &error),
				    -EILSEQ, "byte %u", i);
		KUNIT_EXPECT_STREQ_MSG(test, error, i < 8 ?
				       "Metadata: bad magic" :
				       "Metadata: superblock checksum mismatch",
				       "byte %u", i);
		sector[i] ^= 0x40;
	}
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &(char *){ NULL }), 0);
}

struct xm_bad_case {
	const char *name;
	unsigned int off;	/* byte offset of the little-endian field */
	unsigned int size;	/* 4 or 8 */
	u64 val;
	const char *error;
};

static const struct xm_bad_case xm_bad_cases[] = {
	{ "version 3", 12, 4, 3, "Metadata: unsupported format version" },
	{ "version 0", 12, 4, 0, "Metadata: unsupported format version" },
	{ "unknown flag", 16, 4, 16, "Metadata: unknown flags" },
	{ "demoted primary", 16, 4, 3,
	  "Metadata: a secondary's flags on a primary" },
	{ "live primary", 16, 4, 5,
	  "Metadata: a secondary's flags on a primary" },
	{ "role 0", 152, 4, 0, "Metadata: unknown role" },
	{ "role 3", 152, 4, 3, "Metadata: unknown role" },
	{ "reserved1", 156, 4, 1, "Metadata: corrupt superblock" },
	{ "gen_current 0", 104, 8, 0,
	  "Metadata: generation identifiers repeat (a loop)" },
	{ "gen_bitmap is a history", 112, 8, 2,
	  "Metadata: generation identifiers repeat (a loop)" },
	{ "gen_current is gen_bitmap", 104, 8, 0x1122334455667788ULL,
	  "Metadata: generation identifiers repeat (a loop)" },
	{ "history twice", 128, 8, 1,
	  "Metadata: generation identifiers repeat (a loop)" },
	{ "region_size 96", 20, 4, 96, "Metadata: corrupt geometry" },
	{ "region_size 4", 20, 4, 4, "Metadata: corrupt geometry" },
	{ "region_size 4 MiB", 20, 4, 1U << 22, "Metadata: corrupt geometry" },
	{ "dev_sectors 0", 24, 8, 0, "Metadata: corrupt geometry" },
	{ "dev_sectors too large", 24, 8, 2097153, "Metadata: corrupt geometry" },
	{ "nr_regions", 32, 8, 16385, "Metadata: corrupt geometry" },
	{ "bitmap_start", 40, 8, 2, "Metadata: corrupt geometry" },
	{ "bitmap_blocks", 48, 8, 2, "Metadata: corrupt geometry" },
	{ "degraded 3", 96, 4, 3, "Metadata: corrupt superblock" },
	{ "reserved0", 100, 4, 1, "Metadata: corrupt superblock" },
	{ "undo epoch on a primary", 168, 8, 1,
	  "Metadata: an undo epoch on a consistent copy or a primary" },
	{ "trk_open without a tracker", 184, 8, 1,
	  "Metadata: corrupt change tracker" },
	{ "trk_slots without a tracker", 200, 4, 2,
	  "Metadata: corrupt change tracker" },
	{ "reserved2", 204, 4, 1, "Metadata: corrupt superblock" },
	{ "reserved", 208, 4, 1, "Metadata: corrupt superblock" },
	{ "last reserved", 508, 4, 1 << 24, "Metadata: corrupt superblock" },
};

static void xm_bad_desc(const struct xm_bad_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(xm_bad, xm_bad_cases, xm_bad_desc);

/* A field with a bad value, under a valid checksum. */
static void xrepl_sb_bad_field_test(struct kunit *test)
{
	const struct xm_bad_case *c = test->param_value;
	struct xrepl_sb_info in, out;
	char *error = NULL;
	u8 *sector;

	xm_info(&in);
	sector = xm_sector(test, &in);
	if (c->size == 4) {
		__le32 v = cpu_to_le32(c->val);

		memcpy(sector + c->off, &v, 4);
	} else {
		__le64 v = cpu_to_le64(c->val);

		memcpy(sector + c->off, &v, 8);
	}
	xm_resum(sector);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error, c->error);
}

/* Version 1 (no role, no data time) is read as a primary's. */
static void xrepl_sb_v1_test(struct kunit *test)
{
	struct xrepl_sb_info in, out;
	struct xrepl_meta_sb *sb;
	char *error = NULL;
	u8 *sector;

	xm_info(&in);
	in.role = 0;
	sector = xm_sector(test, &in);
	sb = (struct xrepl_meta_sb *)sector;
	sb->version = cpu_to_le32(XREPL_META_VERSION_1);
	xm_resum(sector);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), 0);
	KUNIT_EXPECT_EQ(test, out.role, XREPL_META_ROLE_PRIMARY);
	KUNIT_EXPECT_EQ(test, out.gen_current, in.gen_current);

	/* A version 1 superblock has nothing in the version 2 fields. */
	sb->role = cpu_to_le32(XREPL_META_ROLE_SECONDARY);
	xm_resum(sector);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error, "Metadata: corrupt superblock");
	sb->role = 0;
	sb->data_time = cpu_to_le64(5);
	xm_resum(sector);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), -EILSEQ);
	sb->data_time = 0;
	sb->flags = cpu_to_le32(XREPL_META_F_CONSISTENT | XREPL_META_F_LIVE);
	xm_resum(sector);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), -EILSEQ);
}

/* A secondary's superblock: role, flags and data time survive. */
static void xrepl_sb_secondary_test(struct kunit *test)
{
	struct xrepl_sb_info in, out;
	char *error = NULL;
	u8 *sector;

	xm_info(&in);
	in.role = XREPL_META_ROLE_SECONDARY;
	in.flags = XREPL_META_F_CONSISTENT | XREPL_META_F_DEMOTED |
		   XREPL_META_F_LIVE;
	in.data_time = 1700000000;
	sector = xm_sector(test, &in);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(((struct xrepl_meta_sb *)sector)->role),
			XREPL_META_ROLE_SECONDARY);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), 0);
	KUNIT_EXPECT_EQ(test, out.role, XREPL_META_ROLE_SECONDARY);
	KUNIT_EXPECT_EQ(test, out.flags, in.flags);
	KUNIT_EXPECT_EQ(test, out.data_time, 1700000000ULL);
	KUNIT_EXPECT_EQ(test, out.undo_epoch, 0ULL);

	/* An undo epoch: only while a cycle overwrites the copy. */
	in.flags = 0;
	in.undo_epoch = 0x0123456789abcdefULL;
	sector = xm_sector(test, &in);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), 0);
	KUNIT_EXPECT_EQ(test, out.undo_epoch, in.undo_epoch);
	in.flags = XREPL_META_F_CONSISTENT;
	sector = xm_sector(test, &in);
	KUNIT_EXPECT_EQ(test, xrepl_sb_decode(sector, &out, &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error,
			   "Metadata: an undo epoch on a consistent copy or a primary");
}

/* The undo area: the blocks after the bitmap, a header and a region each. */
static void xrepl_undo_layout_test(struct kunit *test)
{
	static_assert(sizeof(struct xrepl_undo_hdr) == XREPL_META_SB_SIZE);
	static_assert(offsetof(struct xrepl_undo_hdr, csum) ==
		      offsetof(struct xrepl_meta_sb, csum));
	KUNIT_EXPECT_EQ(test, xrepl_undo_start(512), 2ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_start(32769), 3ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_stride(128), 17ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_stride(8), 2ULL);
	/* 4 MiB for 512 regions of 64 KiB: (1024 - 2) / 17 slots. */
	KUNIT_EXPECT_EQ(test, xrepl_undo_slots(512, 128, 8192), 60ULL);
	/* Room for the bitmap only, or less than a slot: none. */
	KUNIT_EXPECT_EQ(test, xrepl_undo_slots(512, 128, 16), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_slots(512, 128, 16 + 16 * 8), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_slots(512, 128, 16 + 17 * 8), 1ULL);
	KUNIT_EXPECT_EQ(test, xrepl_undo_slots(512, 128, 0), 0ULL);
}

/* A tracker with checkpoints 3 to 5 kept in 4 slots. */
static void xm_trk(struct xrepl_sb_info *info)
{
	info->trk_id = 0xabcdef;
	info->trk_open = 5;
	info->trk_oldest = 3;
	info->trk_slots = 4;
}

static void xrepl_trk_sb_test(struct kunit *test)
{
	struct xrepl_sb_info in, out;
	char *error = NULL;
	u8 *sector;
	struct {
		u64 open, oldest;
		u32 slots, role;
		u64 undo;
		bool ok;
	} cases[] = {
		{ 5, 3, 4, XREPL_META_ROLE_PRIMARY, 0, true },
		{ 1, 1, 2, XREPL_META_ROLE_PRIMARY, 0, true },
		{ 33, 2, 33, XREPL_META_ROLE_PRIMARY, 0, true },
		/* Every slot in use: none spare for the next era. */
		{ 5, 2, 4, XREPL_META_ROLE_PRIMARY, 0, false },
		{ 5, 6, 4, XREPL_META_ROLE_PRIMARY, 0, false },
		{ 5, 0, 4, XREPL_META_ROLE_PRIMARY, 0, false },
		{ 1, 1, 1, XREPL_META_ROLE_PRIMARY, 0, false },
		{ 1, 1, 34, XREPL_META_ROLE_PRIMARY, 0, false },
		{ 5, 3, 4, XREPL_META_ROLE_SECONDARY, 0, false },
		{ 5, 3, 4, XREPL_META_ROLE_SECONDARY, 9, false },
		{ 1ULL << 62, (1ULL << 62) - 1, 4, XREPL_META_ROLE_PRIMARY, 0,
		  true },
		{ (1ULL << 62) + 1, 1ULL << 62, 4, XREPL_META_ROLE_PRIMARY, 0,
		  false },
		{ U64_MAX, U64_MAX, 4, XREPL_META_ROLE_PRIMARY, 0, false },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		xm_info(&in);
		xm_trk(&in);
		in.trk_open = cases[i].open;
		in.trk_oldest = cases[i].oldest;
		in.trk_slots = cases[i].slots;
		in.role = cases[i].role;
		in.undo_epoch = cases[i].undo;
		if (in.undo_epoch)
			in.flags = 0;
		sector = xm_sector(test, &in);
		error = NULL;
		if (cases[i].ok) {
			KUNIT_EXPECT_EQ_MSG(test, xrepl_sb_decode(sector, &out, &error),
					    0, "case %u", i);
			KUNIT_EXPECT_EQ(test, out.trk_id, in.trk_id);
			KUNIT_EXPECT_EQ(test, out.trk_open, in.trk_open);
			KUNIT_EXPECT_EQ(test, out.trk_oldest, in.trk_oldest);
			KUNIT_EXPECT_EQ(test, out.trk_slots, in.trk_slots);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, xrepl_sb_decode(sector, &out, &error),
					    -EILSEQ, "case %u", i);
			KUNIT_EXPECT_STREQ_MSG(test, error,
					       "Metadata: corrupt change tracker",
					       "case %u", i);
		}
	}
}

static void xrepl_trk_layout_test(struct kunit *test)
{
	struct xrepl_sb_info info;
	char *error = NULL;

	static_assert(sizeof(struct xrepl_trk_hdr) == XREPL_META_SB_SIZE);
	static_assert(offsetof(struct xrepl_meta_sb, trk_id) == 176);
	static_assert(offsetof(struct xrepl_meta_sb, reserved) == 208);
	/* 512 regions: a block of bitmap; slots of 2 blocks from block 2. */
	KUNIT_EXPECT_EQ(test, xrepl_trk_start(512), 2ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_stride(512), 2ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_slot_block(512, 4, 5), 4ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_slot_block(512, 4, 4), 2ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_slot_block(32769, 3, 2), 3ULL + 2 * 3);
	/* Room for the bitmap only; one slot; two; at most 33. */
	KUNIT_EXPECT_EQ(test, xrepl_trk_fit(512, 16), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_fit(512, 16 + 16), 1ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_fit(512, 16 + 32), 2ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_fit(512, 8192), 33ULL);
	KUNIT_EXPECT_EQ(test, xrepl_trk_fit(512, 0), 0ULL);

	/* The table's metadata device must hold the recorded ring. */
	xm_info(&info);
	xm_trk(&info);
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 128,
					     (2 + 4 * 2) * 8, &error), 0);
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 128,
					     (2 + 4 * 2) * 8 - 1, &error),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, error,
			   "Metadata device too small for its change tracker");
}

static void xm_trk_info(struct xrepl_trk_info *t)
{
	memset(t, 0, sizeof(*t));
	t->trk_id = 0xabcdef;
	t->era = 7;
	t->time_ms = 1700000000123ULL;
	memset(t->uuid, 0x5a, sizeof(t->uuid));
	strscpy(t->name, "weekly-2026.12:07+a@b_c", sizeof(t->name));
}

/* Slot headers: round trip, and any byte changed is refused. */
static void xrepl_trk_hdr_test(struct kunit *test)
{
	struct xrepl_trk_info in, out;
	u8 uuid[16], *sector;
	char *error = NULL;
	unsigned int i;

	xm_trk_info(&in);
	memcpy(uuid, in.uuid, sizeof(uuid));
	sector = kunit_kzalloc(test, XREPL_META_SB_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sector);
	xrepl_trk_hdr_encode(sector, &in);
	KUNIT_EXPECT_EQ(test, xrepl_trk_hdr_decode(sector, &out, uuid, 0xabcdef,
						   7, &error), 0);
	KUNIT_EXPECT_EQ(test, out.time_ms, in.time_ms);
	KUNIT_EXPECT_STREQ(test, out.name, in.name);
	for (i = 0; i < XREPL_META_SB_SIZE; i++) {
		sector[i] ^= 0x40;
		KUNIT_EXPECT_EQ_MSG(test, xrepl_trk_hdr_decode(sector, &out, uuid,
							       0xabcdef, 7,
							       &error),
				    -EILSEQ, "byte %u", i);
		sector[i] ^= 0x40;
	}
	/* Another era, tracker or pair. */
	KUNIT_EXPECT_EQ(test, xrepl_trk_hdr_decode(sector, &out, uuid, 0xabcdef,
						   8, &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error,
			   "Metadata: a change tracker slot of another era or pair");
	KUNIT_EXPECT_EQ(test, xrepl_trk_hdr_decode(sector, &out, uuid, 1, 7,
						   &error), -EILSEQ);
	uuid[3] ^= 1;
	KUNIT_EXPECT_EQ(test, xrepl_trk_hdr_decode(sector, &out, uuid, 0xabcdef,
						   7, &error), -EILSEQ);
}

static void xrepl_trk_name_test(struct kunit *test)
{
	char buf[XREPL_TRK_NAME_LEN];
	static const char * const good[] = {
		"a", "full-1", "daily.2026-12-07", "x:y+z@w_v",
		"123456789012345678901234567890123456789012345678901234567890123",
	};
	static const char * const bad[] = {
		"", "a b", "a/b", "a\\b", "\xc3\xa9", "a\tb", "a;b", "a*",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		memset(buf, 0, sizeof(buf));
		strscpy(buf, good[i], sizeof(buf));
		KUNIT_EXPECT_TRUE_MSG(test, xrepl_trk_name_ok(buf, sizeof(buf)),
				      "%s", good[i]);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(buf, 0, sizeof(buf));
		strscpy(buf, bad[i], sizeof(buf));
		KUNIT_EXPECT_FALSE_MSG(test, xrepl_trk_name_ok(buf, sizeof(buf)),
				       "case %u", i);
	}
	/* 64 characters: no room for the NUL. */
	memset(buf, 'a', sizeof(buf));
	KUNIT_EXPECT_FALSE(test, xrepl_trk_name_ok(buf, sizeof(buf)));
	/* Junk after the NUL. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 'a';
	buf[5] = 'b';
	KUNIT_EXPECT_FALSE(test, xrepl_trk_name_ok(buf, sizeof(buf)));
}

/* The superblock against the table and the metadata device's size. */
static void xrepl_sb_check_test(struct kunit *test)
{
	struct xrepl_sb_info info;
	char *error = NULL;
	sector_t need = (1 + 1) * XREPL_META_BLOCK_SECTORS;

	xm_info(&info);
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 128, need, &error), 0);
	/* region_size 0: the table did not give one, any is fine. */
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 0, need, &error), 0);
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 256, need, &error),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Metadata: region_size differs from the table");
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097151, 128, need, &error),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Metadata: device size differs");
	KUNIT_EXPECT_EQ(test, xrepl_sb_check(&info, 2097152, 128, need - 1, &error),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Metadata device too small");
	KUNIT_EXPECT_EQ(test, xrepl_meta_min_sectors(32768), 16ULL);
	KUNIT_EXPECT_EQ(test, xrepl_meta_min_sectors(32769), 24ULL);
}

static void xrepl_sb_init_test(struct kunit *test)
{
	struct xrepl_sb_info a, b;
	struct xrepl_geom geom;
	char *error = NULL;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1000, 8, &error), 0);
	xrepl_sb_init(&a, &geom, false);
	xrepl_sb_init(&b, &geom, true);
	KUNIT_EXPECT_EQ(test, a.flags, 0U);
	KUNIT_EXPECT_EQ(test, b.flags, XREPL_META_F_CONSISTENT);
	KUNIT_EXPECT_EQ(test, a.nr_regions, 125ULL);
	KUNIT_EXPECT_EQ(test, a.bitmap_blocks, 1ULL);
	/* Fresh identities: two formats never share a uuid. */
	KUNIT_EXPECT_NE(test, memcmp(a.uuid, b.uuid, sizeof(a.uuid)), 0);
	KUNIT_EXPECT_NE(test, a.gen_current, b.gen_current);
	KUNIT_EXPECT_EQ(test, a.gen_bitmap, 0ULL);
}

/*
 * Write intent.
 */

static struct xrepl_wi *xm_wi(struct kunit *test, unsigned long nr)
{
	struct xrepl_wi *wi = kunit_kzalloc(test, sizeof(*wi), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, wi);
	KUNIT_ASSERT_EQ(test, xrepl_wi_alloc(wi, nr), 0);
	return wi;
}

static struct xrepl_bitmap *xm_bm(struct kunit *test, unsigned long nr)
{
	struct xrepl_bitmap *bm = kunit_kzalloc(test, sizeof(*bm), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, bm);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_alloc(bm, nr), 0);
	return bm;
}

static unsigned long xm_dirty_blocks(struct xrepl_wi *wi)
{
	return bitmap_weight(wi->dirty_blocks, wi->nr_blocks);
}

/* Mark, write, commit: the life of a first write to a region. */
static void xrepl_wi_mark_test(struct kunit *test)
{
	const unsigned long nr = 70000;		/* three bitmap blocks */
	struct xrepl_wi *wi = xm_wi(test, nr);
	unsigned long blocks[4];
	__le64 *buf;
	unsigned int n;

	KUNIT_EXPECT_EQ(test, wi->nr_blocks, 3UL);
	buf = kunit_kzalloc(test, 4 * XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);

	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 5, 5));
	xrepl_wi_request_locked(wi, 5, 5);
	xrepl_wi_request_locked(wi, 32767, 32768);	/* spans two blocks */
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 3UL);
	KUNIT_EXPECT_EQ(test, xm_dirty_blocks(wi), 2UL);
	/* Requested is not committed: a second write still waits. */
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 5, 5));

	n = xrepl_wi_snapshot_locked(wi, buf, blocks, 4);
	KUNIT_ASSERT_EQ(test, n, 2U);
	KUNIT_EXPECT_EQ(test, blocks[0], 0UL);
	KUNIT_EXPECT_EQ(test, blocks[1], 1UL);
	KUNIT_EXPECT_EQ(test, xm_dirty_blocks(wi), 0UL);
	/* On-disk layout: bit r is bit r % 64 of little-endian word r / 64. */
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[0]), 1ULL << 5);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[511]), 1ULL << 63);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[512]), 1ULL);
	KUNIT_EXPECT_EQ(test, xrepl_wi_snapshot_locked(wi, buf, blocks, 4), 0U);

	xrepl_wi_set_committed(wi, 5, 5);
	xrepl_wi_set_committed(wi, 32767, 32768);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 5, 5));
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 32767, 32768));
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 4, 5));
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 69999, 69999));

	/* A failed write puts its blocks back. */
	xrepl_wi_request_locked(wi, 69999, 69999);
	n = xrepl_wi_snapshot_locked(wi, buf, blocks, 4);
	KUNIT_ASSERT_EQ(test, n, 1U);
	xrepl_wi_redirty_locked(wi, blocks, n);
	KUNIT_EXPECT_EQ(test, xm_dirty_blocks(wi), 1UL);
	xrepl_wi_free(wi);
}

/* The cleaner: idle, clean regions lose their marks after two looks. */
static void xrepl_wi_clean_test(struct kunit *test)
{
	const unsigned long nr = 1000;
	struct xrepl_wi *wi = xm_wi(test, nr);
	struct xrepl_bitmap *keep = xm_bm(test, nr);
	unsigned long blocks[1];
	u8 *buf = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	xrepl_wi_request_locked(wi, 10, 12);
	xrepl_wi_request_locked(wi, 500, 500);
	xrepl_wi_snapshot_locked(wi, buf, blocks, 1);
	xrepl_wi_set_committed(wi, 10, 12);
	xrepl_wi_set_committed(wi, 500, 500);
	xrepl_bitmap_set_range(keep, 500, 500);	/* still needs a resync */

	/* Just written (touched): the first look only ages them. */
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_pick_locked(wi, keep, 0, nr, false), 0UL);
	/* Region 11 is written again in between. */
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 11, 11));
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_pick_locked(wi, keep, 0, nr, false), 2UL);
	KUNIT_EXPECT_TRUE(test, test_bit(10, wi->clearing));
	KUNIT_EXPECT_TRUE(test, test_bit(12, wi->clearing));
	/* Picked regions are no longer committed: a new write asks again. */
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 10, 10));
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 11, 11));
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 500, 500));

	/* A write in flight to 12: the cleaner keeps it. */
	xrepl_wi_clean_keep_locked(wi, 12);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 12, 12));

	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_apply_locked(wi, 0, nr), 1UL);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 3UL);
	KUNIT_EXPECT_FALSE(test, test_bit(10, wi->bits));
	KUNIT_EXPECT_TRUE(test, test_bit(12, wi->bits));
	KUNIT_EXPECT_EQ(test, xm_dirty_blocks(wi), 1UL);

	/* Idle and clean: with all, one look is enough. */
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_pick_locked(wi, keep, 0, nr, true), 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_apply_locked(wi, 0, nr), 2UL);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 1UL);	/* 500 stays */
	xrepl_wi_free(wi);
	xrepl_bitmap_free(keep);
}

/* A write that comes back to a region being cleared keeps its mark. */
static void xrepl_wi_clean_race_test(struct kunit *test)
{
	const unsigned long nr = 100;
	struct xrepl_wi *wi = xm_wi(test, nr);
	struct xrepl_bitmap *keep = xm_bm(test, nr);
	unsigned long blocks[1];
	u8 *buf = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	xrepl_wi_request_locked(wi, 7, 8);
	xrepl_wi_snapshot_locked(wi, buf, blocks, 1);
	xrepl_wi_set_committed(wi, 7, 8);
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_pick_locked(wi, keep, 0, nr, true), 2UL);

	/* The write misses the mark and asks for it again. */
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 7, 7));
	xrepl_wi_request_locked(wi, 7, 7);
	KUNIT_EXPECT_FALSE(test, test_bit(7, wi->clearing));
	/* The block is rewritten even though bit 7 never left it. */
	KUNIT_EXPECT_EQ(test, xm_dirty_blocks(wi), 1UL);

	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_apply_locked(wi, 0, nr), 1UL);
	KUNIT_EXPECT_TRUE(test, test_bit(7, wi->bits));
	KUNIT_EXPECT_FALSE(test, test_bit(8, wi->bits));
	KUNIT_EXPECT_EQ(test, xrepl_wi_snapshot_locked(wi, buf, blocks, 1), 1U);
	KUNIT_EXPECT_EQ(test, buf[0], 1 << 7);
	xrepl_wi_free(wi);
	xrepl_bitmap_free(keep);
}

/* A failed flush: every pick is undone. */
static void xrepl_wi_clean_cancel_test(struct kunit *test)
{
	struct xrepl_wi *wi = xm_wi(test, 64);
	struct xrepl_bitmap *keep = xm_bm(test, 64);

	xrepl_wi_request_locked(wi, 0, 63);
	xrepl_wi_set_committed(wi, 0, 63);
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_pick_locked(wi, keep, 0, 64, true), 64UL);
	/* A range limits the work done under one lock hold. */
	xrepl_wi_clean_cancel_locked(wi, 0, 32);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 0, 31));
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 32, 32));
	xrepl_wi_clean_cancel_locked(wi, 32, 64);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 0, 63));
	KUNIT_EXPECT_EQ(test, xrepl_wi_clean_apply_locked(wi, 0, 64), 0UL);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 64UL);
	xrepl_wi_free(wi);
	xrepl_bitmap_free(keep);
}

/* Loading blocks from disk; bits past the last region are corruption. */
static void xrepl_wi_load_test(struct kunit *test)
{
	struct xrepl_wi *wi = xm_wi(test, 32768 + 100);
	__le64 *buf = kunit_kzalloc(test, XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	char *error = NULL;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	buf[0] = cpu_to_le64(0x5);
	buf[511] = cpu_to_le64(1ULL << 63);
	KUNIT_EXPECT_EQ(test, xrepl_wi_load_block(wi, 0, buf, &error), 0);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 3UL);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 0, 0));
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 32767, 32767));
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 1, 1));

	memset(buf, 0, XREPL_META_BLOCK_SIZE);
	buf[1] = cpu_to_le64(1ULL << 35);	/* region 32768 + 99 */
	KUNIT_EXPECT_EQ(test, xrepl_wi_load_block(wi, 1, buf, &error), 0);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 4UL);
	buf[1] = cpu_to_le64(1ULL << 36);	/* region 32768 + 100: past the end */
	KUNIT_EXPECT_EQ(test, xrepl_wi_load_block(wi, 1, buf, &error), -EILSEQ);
	KUNIT_EXPECT_STREQ(test, error, "Metadata: corrupt bitmap");
	KUNIT_EXPECT_EQ(test, xrepl_wi_load_block(wi, 2, buf, &error), -EINVAL);
	xrepl_wi_free(wi);
}

static void xrepl_wi_mark_all_test(struct kunit *test)
{
	struct xrepl_wi *wi = xm_wi(test, 40000);
	unsigned long blocks[2];
	__le64 *buf = kunit_kzalloc(test, 2 * XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	xrepl_wi_mark_all_locked(wi);
	KUNIT_EXPECT_EQ(test, wi->nr_marked, 40000UL);
	KUNIT_EXPECT_EQ(test, xrepl_wi_snapshot_locked(wi, buf, blocks, 2), 2U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[511]), ~0ULL);
	/* 40000 - 32768 = 7232 = 113 words: the rest stays zero. */
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[512 + 112]), ~0ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(buf[512 + 113]), 0ULL);
	xrepl_wi_free(wi);
}

/*
 * commit_all takes as committed only the marks copied for a write: not
 * one asked for after its block was copied (its write does not hold it).
 */
static void xrepl_wi_commit_all_test(struct kunit *test)
{
	struct xrepl_wi *wi = xm_wi(test, 40000);
	unsigned long blocks[2];
	__le64 *buf = kunit_kzalloc(test, 2 * XREPL_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	xrepl_wi_request_locked(wi, 5, 5);
	xrepl_wi_request_locked(wi, 33000, 33000);
	KUNIT_EXPECT_EQ(test, xrepl_wi_snapshot_locked(wi, buf, blocks, 2), 2U);
	/* Asked for after the copy, in the first block. */
	xrepl_wi_request_locked(wi, 6, 6);
	xrepl_wi_commit_all_locked(wi);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 5, 5));
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 33000, 33000));
	KUNIT_EXPECT_FALSE(test, xrepl_wi_check(wi, 6, 6));
	/* Its block copied in turn: committed with the next commit_all. */
	KUNIT_EXPECT_EQ(test, xrepl_wi_snapshot_locked(wi, buf, blocks, 2), 1U);
	xrepl_wi_commit_all_locked(wi);
	KUNIT_EXPECT_TRUE(test, xrepl_wi_check(wi, 6, 6));
	xrepl_wi_free(wi);
}

static struct kunit_case xrepl_meta_test_cases[] = {
	KUNIT_CASE(xrepl_sb_roundtrip_test),
	KUNIT_CASE(xrepl_sb_byte_flip_test),
	KUNIT_CASE_PARAM(xrepl_sb_bad_field_test, xm_bad_gen_params),
	KUNIT_CASE(xrepl_sb_v1_test),
	KUNIT_CASE(xrepl_sb_secondary_test),
	KUNIT_CASE(xrepl_undo_layout_test),
	KUNIT_CASE(xrepl_sb_check_test),
	KUNIT_CASE(xrepl_trk_sb_test),
	KUNIT_CASE(xrepl_trk_layout_test),
	KUNIT_CASE(xrepl_trk_hdr_test),
	KUNIT_CASE(xrepl_trk_name_test),
	KUNIT_CASE(xrepl_sb_init_test),
	KUNIT_CASE(xrepl_wi_mark_test),
	KUNIT_CASE(xrepl_wi_clean_test),
	KUNIT_CASE(xrepl_wi_clean_race_test),
	KUNIT_CASE(xrepl_wi_clean_cancel_test),
	KUNIT_CASE(xrepl_wi_load_test),
	KUNIT_CASE(xrepl_wi_mark_all_test),
	KUNIT_CASE(xrepl_wi_commit_all_test),
	{}
};

static struct kunit_suite xrepl_meta_test_suite = {
	.name = "dm-xrepl-meta",
	.test_cases = xrepl_meta_test_cases,
};

kunit_test_suite(xrepl_meta_test_suite);
