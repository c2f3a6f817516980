// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: data generations, and the decision taken when a primary
 * connects to the remote site's metadata.
 *
 * A generation identifier names a state of the data.  A primary's
 * gen_current names the data it holds now; it gets a new value when the
 * primary starts writing without its remote (a split), and the old value
 * becomes gen_bitmap: the last state both sides held, from which the
 * bitmap tracks the changes.  When a resync has made the remote equal
 * again, gen_bitmap moves into gen_history.  A secondary's gen_current is
 * the generation its primary last gave it: the primary's gen_current when
 * it started to copy to it or found it in sync.
 *
 * Pure functions, no I/O: unit tested on their own (xrepl-gen-kunit.c).
 */
#include <linux/kernel.h>
#include <linux/random.h>
#include <linux/string.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

static bool gen_known(const struct xrepl_sb_info *sb, u64 g)
{
	unsigned int i;

	if (g == sb->gen_current || g == sb->gen_bitmap)
		return true;
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		if (g == sb->gen_history[i])
			return true;
	return false;
}

u64 xrepl_gen_new(const struct xrepl_sb_info *sb)
{
	u64 g;

	do {
		g = get_random_u64();
	} while (!g || gen_known(sb, g));
	return g;
}

bool xrepl_gen_split(struct xrepl_sb_info *sb)
{
	if (sb->gen_bitmap)
		return false;
	sb->gen_bitmap = sb->gen_current;
	sb->gen_current = xrepl_gen_new(sb);
	return true;
}

void xrepl_gen_synced(struct xrepl_sb_info *sb)
{
	if (!sb->gen_bitmap)
		return;
	memmove(&sb->gen_history[1], &sb->gen_history[0],
		sizeof(sb->gen_history[0]) * (XREPL_META_GEN_HISTORY - 1));
	sb->gen_history[0] = sb->gen_bitmap;
	sb->gen_bitmap = 0;
}

static bool in_history(const struct xrepl_sb_info *sb, u64 g)
{
	unsigned int i;

	for (i = 0; g && i < XREPL_META_GEN_HISTORY; i++)
		if (g == sb->gen_history[i])
			return true;
	return false;
}

/* Is g (not 0) our current data or the state our bitmap counts from? */
static bool in_bitmap_span(const struct xrepl_sb_info *sb, u64 g)
{
	return g && (g == sb->gen_current || g == sb->gen_bitmap);
}

enum xrepl_verdict xrepl_peer_compare(const struct xrepl_sb_info *ours,
				      const struct xrepl_sb_info *peer,
				      bool peer_fresh)
{
	if (peer_fresh)
		return XREPL_VERDICT_FRESH;
	if (memcmp(ours->uuid, peer->uuid, sizeof(ours->uuid)))
		return XREPL_VERDICT_UNRELATED;
	if (peer->role != XREPL_META_ROLE_SECONDARY)
		return XREPL_VERDICT_PROMOTED;

	if (peer->flags & XREPL_META_F_DEMOTED) {
		/*
		 * A former primary.  It changed the data since its
		 * gen_bitmap (or, if it never split, since its gen_current),
		 * and its bitmap says where: if that state is ours or the one
		 * our bitmap counts from, the union of both bitmaps covers
		 * every region in which the two sides differ.
		 */
		if (in_bitmap_span(ours, peer->gen_bitmap) ||
		    in_bitmap_span(ours, peer->gen_current))
			return XREPL_VERDICT_FAILBACK;
		if (in_history(ours, peer->gen_bitmap) ||
		    in_history(ours, peer->gen_current))
			return XREPL_VERDICT_FAILBACK_OLD;
		return XREPL_VERDICT_UNRELATED;
	}

	/*
	 * A secondary that changed its data on its own (a generation of its
	 * own on top of one we know) was written as a primary and not
	 * demoted: split brain.
	 */
	if (peer->gen_bitmap &&
	    (in_bitmap_span(ours, peer->gen_bitmap) ||
	     in_history(ours, peer->gen_bitmap)))
		return XREPL_VERDICT_SPLIT_BRAIN;
	if (peer->gen_current == ours->gen_current)
		return XREPL_VERDICT_SAME;
	if (peer->gen_current == ours->gen_bitmap)
		return XREPL_VERDICT_ANCESTOR;
	if (in_history(ours, peer->gen_current))
		return XREPL_VERDICT_OLD;
	return XREPL_VERDICT_UNRELATED;
}

bool xrepl_verdict_refused(enum xrepl_verdict v)
{
	return v == XREPL_VERDICT_PROMOTED || v == XREPL_VERDICT_SPLIT_BRAIN ||
	       v == XREPL_VERDICT_UNRELATED;
}

const char *xrepl_verdict_name(enum xrepl_verdict v)
{
	static const char * const names[] = {
		[XREPL_VERDICT_FRESH]		= "fresh",
		[XREPL_VERDICT_SAME]		= "same",
		[XREPL_VERDICT_ANCESTOR]	= "ancestor",
		[XREPL_VERDICT_OLD]		= "old",
		[XREPL_VERDICT_FAILBACK]	= "failback",
		[XREPL_VERDICT_FAILBACK_OLD]	= "failback-old",
		[XREPL_VERDICT_PROMOTED]	= "promoted",
		[XREPL_VERDICT_SPLIT_BRAIN]	= "split-brain",
		[XREPL_VERDICT_UNRELATED]	= "unrelated",
	};

	return v < ARRAY_SIZE(names) ? names[v] : "unknown";
}
