// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the data generations and xrepl_peer_compare(): every
 * case of the decision a primary takes on connecting to the remote site's
 * metadata, and a walk through a failover and a failback.
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

#define U1	0x11	/* the pair's uuid (every byte) */
#define U2	0x22	/* another pair's */

struct gen_case {
	const char *name;
	/* Ours (a primary): current, bitmap, history[0], history[1]. */
	u64 o[4];
	/* The peer: uuid byte, role, flags, current, bitmap, history[0]. */
	u8 uuid;
	u32 role;
	u32 flags;
	u64 p[3];
	bool fresh;
	enum xrepl_verdict want;
};

#define S	XREPL_META_ROLE_SECONDARY
#define P	XREPL_META_ROLE_PRIMARY
#define DEM	XREPL_META_F_DEMOTED
#define CON	XREPL_META_F_CONSISTENT
#define LIVE	XREPL_META_F_LIVE

static const struct gen_case gen_cases[] = {
	{ "fresh remote", { 5 }, 0, 0, 0, { 0 }, true, XREPL_VERDICT_FRESH },
	{ "fresh wins over a stale read", { 5 }, U2, P, 0, { 9 }, true,
	  XREPL_VERDICT_FRESH },
	{ "same, in sync", { 5, 0, 3 }, U1, S, CON | LIVE, { 5 }, false,
	  XREPL_VERDICT_SAME },
	{ "same, inconsistent (resync cut off)", { 5, 4 }, U1, S, 0, { 5 },
	  false, XREPL_VERDICT_SAME },
	{ "remote at our bitmap's start", { 6, 5 }, U1, S, CON, { 5 }, false,
	  XREPL_VERDICT_ANCESTOR },
	{ "remote older than our bitmap", { 6, 0, 5, 4 }, U1, S, CON, { 4 },
	  false, XREPL_VERDICT_OLD },
	{ "remote in history[0]", { 7, 6, 5 }, U1, S, CON, { 5 }, false,
	  XREPL_VERDICT_OLD },
	{ "another pair's remote", { 5 }, U2, S, CON, { 5 }, false,
	  XREPL_VERDICT_UNRELATED },
	{ "another pair's primary", { 5 }, U2, P, 0, { 5 }, false,
	  XREPL_VERDICT_UNRELATED },
	{ "remote promoted", { 6, 5 }, U1, P, 0, { 7, 5 }, false,
	  XREPL_VERDICT_PROMOTED },
	{ "remote promoted, we never split", { 5 }, U1, P, 0, { 7, 5 }, false,
	  XREPL_VERDICT_PROMOTED },
	{ "remote promoted, same current", { 5 }, U1, P, 0, { 5 }, false,
	  XREPL_VERDICT_PROMOTED },
	{ "demoted, split from our bitmap base", { 7, 5 }, U1, S, DEM | CON,
	  { 6, 5 }, false, XREPL_VERDICT_FAILBACK },
	{ "demoted, split from our current", { 7 }, U1, S, DEM | CON,
	  { 6, 7 }, false, XREPL_VERDICT_FAILBACK },
	{ "demoted, never split (died live)", { 7, 5 }, U1, S, DEM | CON,
	  { 5 }, false, XREPL_VERDICT_FAILBACK },
	{ "demoted, base in our history", { 8, 7, 5 }, U1, S, DEM | CON,
	  { 6, 5 }, false, XREPL_VERDICT_FAILBACK_OLD },
	{ "demoted, nothing in common", { 8, 7, 5 }, U1, S, DEM | CON,
	  { 6, 9 }, false, XREPL_VERDICT_UNRELATED },
	{ "secondary with its own changes", { 6, 5 }, U1, S, CON, { 7, 5 },
	  false, XREPL_VERDICT_SPLIT_BRAIN },
	{ "secondary changed from our current", { 6 }, U1, S, CON, { 7, 6 },
	  false, XREPL_VERDICT_SPLIT_BRAIN },
	{ "secondary changed from our history", { 8, 0, 6 }, U1, S, CON,
	  { 7, 6 }, false, XREPL_VERDICT_SPLIT_BRAIN },
	{ "secondary at an unknown generation", { 8, 7, 6, 5 }, U1, S, CON,
	  { 4 }, false, XREPL_VERDICT_UNRELATED },
	{ "secondary, history only in its record", { 8 }, U1, S, CON,
	  { 4, 0, 8 }, false, XREPL_VERDICT_UNRELATED },
};

static void fill(struct xrepl_sb_info *sb, u8 uuid, u32 role, u32 flags,
		 u64 cur, u64 bm, u64 h0, u64 h1)
{
	memset(sb, 0, sizeof(*sb));
	memset(sb->uuid, uuid, sizeof(sb->uuid));
	sb->role = role;
	sb->flags = flags;
	sb->gen_current = cur;
	sb->gen_bitmap = bm;
	sb->gen_history[0] = h0;
	sb->gen_history[1] = h1;
}

static void xrepl_gen_compare_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gen_cases); i++) {
		const struct gen_case *c = &gen_cases[i];
		struct xrepl_sb_info ours, peer;
		enum xrepl_verdict v;

		fill(&ours, U1, P, 0, c->o[0], c->o[1], c->o[2], c->o[3]);
		fill(&peer, c->uuid, c->role, c->flags, c->p[0], c->p[1],
		     c->p[2], 0);
		v = xrepl_peer_compare(&ours, &peer, c->fresh);
		KUNIT_EXPECT_STREQ_MSG(test, xrepl_verdict_name(v),
				       xrepl_verdict_name(c->want),
				       "case %s", c->name);
	}
}

static void xrepl_gen_refused_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, xrepl_verdict_refused(XREPL_VERDICT_FRESH));
	KUNIT_EXPECT_FALSE(test, xrepl_verdict_refused(XREPL_VERDICT_SAME));
	KUNIT_EXPECT_FALSE(test, xrepl_verdict_refused(XREPL_VERDICT_ANCESTOR));
	KUNIT_EXPECT_FALSE(test, xrepl_verdict_refused(XREPL_VERDICT_OLD));
	KUNIT_EXPECT_FALSE(test, xrepl_verdict_refused(XREPL_VERDICT_FAILBACK));
	KUNIT_EXPECT_FALSE(test,
			   xrepl_verdict_refused(XREPL_VERDICT_FAILBACK_OLD));
	KUNIT_EXPECT_TRUE(test, xrepl_verdict_refused(XREPL_VERDICT_PROMOTED));
	KUNIT_EXPECT_TRUE(test,
			  xrepl_verdict_refused(XREPL_VERDICT_SPLIT_BRAIN));
	KUNIT_EXPECT_TRUE(test, xrepl_verdict_refused(XREPL_VERDICT_UNRELATED));
	KUNIT_EXPECT_STREQ(test, xrepl_verdict_name(99), "unknown");
}

static void xrepl_gen_split_test(struct kunit *test)
{
	struct xrepl_sb_info sb;
	u64 first;

	fill(&sb, U1, P, 0, 5, 0, 4, 3);
	KUNIT_EXPECT_TRUE(test, xrepl_gen_split(&sb));
	KUNIT_EXPECT_EQ(test, sb.gen_bitmap, 5ULL);
	first = sb.gen_current;
	KUNIT_EXPECT_NE(test, first, 0ULL);
	KUNIT_EXPECT_NE(test, first, 5ULL);
	KUNIT_EXPECT_NE(test, first, 4ULL);
	KUNIT_EXPECT_NE(test, first, 3ULL);
	/* A second degradation keeps the open bitmap generation. */
	KUNIT_EXPECT_FALSE(test, xrepl_gen_split(&sb));
	KUNIT_EXPECT_EQ(test, sb.gen_current, first);
	KUNIT_EXPECT_EQ(test, sb.gen_bitmap, 5ULL);
	xrepl_gen_synced(&sb);
	KUNIT_EXPECT_EQ(test, sb.gen_bitmap, 0ULL);
	KUNIT_EXPECT_EQ(test, sb.gen_history[0], 5ULL);
	KUNIT_EXPECT_EQ(test, sb.gen_history[1], 4ULL);
	/* Nothing open: a no-op. */
	xrepl_gen_synced(&sb);
	KUNIT_EXPECT_EQ(test, sb.gen_history[0], 5ULL);
	KUNIT_EXPECT_EQ(test, sb.gen_history[1], 4ULL);
}

/*
 * What a primary writes to its secondary's superblock while it replicates
 * to it: the pair's uuid and its own current generation.
 */
static void as_secondary(struct xrepl_sb_info *sec,
			 const struct xrepl_sb_info *pri, u32 flags)
{
	memset(sec, 0, sizeof(*sec));
	memcpy(sec->uuid, pri->uuid, sizeof(sec->uuid));
	sec->role = XREPL_META_ROLE_SECONDARY;
	sec->flags = flags;
	sec->gen_current = pri->gen_current;
}

/* promote, as xreplctl does it: a primary that splits at once. */
static void promote(struct xrepl_sb_info *sb)
{
	sb->role = XREPL_META_ROLE_PRIMARY;
	sb->flags = 0;
	xrepl_gen_split(sb);
}

/* demote, as xreplctl does it. */
static void demote(struct xrepl_sb_info *sb)
{
	sb->role = XREPL_META_ROLE_SECONDARY;
	sb->flags = XREPL_META_F_CONSISTENT | XREPL_META_F_DEMOTED;
}

/*
 * A replicates to B; the link fails (A splits); A dies; B is promoted and
 * writes; A restarted as a primary is refused; A is demoted; B fails back
 * to it (the union); then a planned switchover back to A.
 */
static void xrepl_gen_walk_test(struct kunit *test)
{
	struct xrepl_sb_info a, b;

	memset(&a, 0, sizeof(a));
	memset(a.uuid, U1, sizeof(a.uuid));
	a.role = XREPL_META_ROLE_PRIMARY;
	a.gen_current = xrepl_gen_new(&a);
	memset(&b, 0, sizeof(b));
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&a, &b, true),
			XREPL_VERDICT_FRESH);
	as_secondary(&b, &a, XREPL_META_F_CONSISTENT | XREPL_META_F_LIVE);

	/* The link fails and A keeps writing. */
	KUNIT_EXPECT_TRUE(test, xrepl_gen_split(&a));
	/* The link comes back: our bitmap. */
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&a, &b, false),
			XREPL_VERDICT_ANCESTOR);
	/* ...but it fails again before, and A dies.  B is promoted. */
	promote(&b);
	/* A restarted as a primary towards B: refused. */
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&a, &b, false),
			XREPL_VERDICT_PROMOTED);
	/* A is demoted; B fails back to it: the union of both bitmaps. */
	demote(&a);
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&b, &a, false),
			XREPL_VERDICT_FAILBACK);
	/* The failback resync starts: B writes A's record. */
	as_secondary(&a, &b, 0);
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&b, &a, false),
			XREPL_VERDICT_SAME);
	/* It ends: A in sync. */
	xrepl_gen_synced(&b);
	as_secondary(&a, &b, XREPL_META_F_CONSISTENT | XREPL_META_F_LIVE);
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&b, &a, false),
			XREPL_VERDICT_SAME);
	/* Planned switchover back: B stops and is demoted, A promoted. */
	as_secondary(&a, &b, XREPL_META_F_CONSISTENT);
	demote(&b);
	promote(&a);
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&a, &b, false),
			XREPL_VERDICT_FAILBACK);
	/* Had B not been demoted, both would be primaries. */
	b.role = XREPL_META_ROLE_PRIMARY;
	b.flags = 0;
	KUNIT_EXPECT_EQ(test, xrepl_peer_compare(&a, &b, false),
			XREPL_VERDICT_PROMOTED);
}

static struct kunit_case xrepl_gen_cases[] = {
	KUNIT_CASE(xrepl_gen_compare_test),
	KUNIT_CASE(xrepl_gen_refused_test),
	KUNIT_CASE(xrepl_gen_split_test),
	KUNIT_CASE(xrepl_gen_walk_test),
	{}
};

static struct kunit_suite xrepl_gen_suite = {
	.name = "dm-xrepl-gen",
	.test_cases = xrepl_gen_cases,
};

kunit_test_suite(xrepl_gen_suite);
