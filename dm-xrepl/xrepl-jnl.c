// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the journal device of the asynchronous modes, its I/O
 * (Documentation/dm-xrepl-journal.rst; the format is xrepl-journal.c's).
 *
 * A table that names a journal opens it when it creates its pair: block 0
 * is read and judged before the metadata device is loaded, and nothing is
 * written, so that a table refused later changes nothing.  The pair's
 * first resume formats a fresh journal, or raises the incarnation of one
 * in use, before anything is appended.
 *
 * Every write that ships gets the next sequence number and its blocks at
 * the head of the log; its append (a header block and its data) goes to
 * the journal device in parallel with its local write.  The write
 * completes once both did and every earlier append did too, and its entry
 * joins the ship queue in sequence order when the appends up to it
 * completed.  The remote completes entries; the tail, the oldest entry it
 * does not have, is recorded in the superblock lazily (a tail commit,
 * after a flush of the remote, or up to a barrier the remote completed,
 * which flushed it), which frees the log's space behind it.
 *
 * A write that finds the log full meets the congestion policy, as at the
 * lag bound: it waits for room (block), or the remote degrades (degrade).
 * The log's room bounds the lag, and max_lag_kb the memory: half of it
 * for the writes on their way to the log, half for the entries kept in
 * the ship queue.  An entry that joins the queue while those use their
 * half is spilled: nothing of it stays in memory, and ship_work reads it
 * back from the log in its turn, as a replay does (below); the entries
 * that join after it follow it into the log until that reader caught
 * up.  (The entry of a write that waits for the remote is not spilled: it
 * drops its pages and keeps its descriptor, and is read back alone.)  So
 * the log's size bounds a burst, a hold and a delay, and max_lag_kb the
 * memory.  If the journal fails while it alone holds
 * entries, the remote degrades (degraded_by=journal): those entries are
 * given up on, their regions marked, and the remote comes back with a
 * resync once nothing is held for it, recorded as not consistent first.
 *
 * The cleaner clears the marks of regions whose writes settled (their
 * local writes and appends completed), durable_seq written first: the
 * log carries what the remote lacks.  An entry the remote no longer gets
 * from the log has its region marked on disk again before a tail commit
 * passes it.
 *
 * A log left by a crash is walked when the pair is created: each entry
 * judged whole, from the recorded tail; at the first resume the kernel log
 * says what it holds and where and why it ends.  If the metadata vouches
 * for it (XREPL_META_F_JOURNALED) it is replayed: the regions marked are
 * rolled forward, appended after it, and ship_work sends it from its tail
 * ahead of the writes that follow (xrepl_jnl_replay_feed()).  Else its
 * regions become dirty and it is discarded.
 *
 * Overlapping writes are serialised: a write that overlaps an entry whose
 * local write or append is in flight (on jnl->flight), or a write that
 * waits already (on jnl->parked), waits until they completed, and only
 * then gets its place in the log and goes to the local leg.  Else the
 * local leg could apply the two in one order and the log (so the remote)
 * in the other, and the legs would differ for good.  Writes that ship
 * unjournaled (the journal failed, or the remote degraded with the log
 * full) take part too, on flight until their local write completed:
 * their entries join the ship queue then.  The lists are scanned: they
 * hold the writes in flight.
 */
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/highmem.h>
#include <linux/interval_tree_generic.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "xrepl-core.h"
#include "xrepl-format.h"

#define JNL_BLOCK_SECTORS	XREPL_META_BLOCK_SECTORS
/* Header blocks kept in reserve, so that an append always progresses. */
#define JNL_RESERVE		XREPL_SHIP_RESERVE
/*
 * Entries the remote completed that the tail on disk may not be past yet
 * are recorded, at most this many (72 bytes each); a tail commit is due
 * at once when three quarters are in use.
 */
#define JNL_DONE_MAX		4096

#define JNL_DONE_START(d)	((d)->start)
#define JNL_DONE_LAST(d)	((d)->last)
INTERVAL_TREE_DEFINE(struct xrepl_jnl_done, rb, sector_t, subtree_last,
		     JNL_DONE_START, JNL_DONE_LAST, static inline, jnl_done)

static void jnl_commit_work(struct work_struct *work);
static void jnl_submit_work(struct work_struct *work);
static void jnl_overlap_work(struct work_struct *work);
static void jnl_commit_soon_locked(struct xrepl_pair *pair, bool urgent);
static void jnl_rd_free(struct jnl_reader *rd);
static bool jnl_until_check_locked(struct xrepl_pair *pair);

/* Before pair->wq goes: no tail commit runs or is due. */
void xrepl_jnl_stop(struct xrepl_pair *pair)
{
	if (!pair->jnl)
		return;
	/* Nothing queues a commit from now on (the metadata's retry). */
	spin_lock_irq(&pair->lock);
	pair->jnl->stopped = true;
	spin_unlock_irq(&pair->lock);
	/* It may ask for a commit. */
	cancel_work_sync(&pair->jnl->overlap_work);
	cancel_delayed_work_sync(&pair->jnl->commit_work);
	cancel_work_sync(&pair->jnl->submit_work);
}

void xrepl_jnl_free(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl)
		return;
	if (jnl->wq)
		destroy_workqueue(jnl->wq);
	if (!IS_ERR_OR_NULL(jnl->io))
		dm_io_client_destroy(jnl->io);
	bioset_exit(&jnl->bs);
	kvfree(jnl->done_pool);
	mempool_exit(&jnl->rp_ents);
	mempool_exit(&jnl->rb_pages);
	mempool_exit(&jnl->hdr_pages);
	mutex_destroy(&jnl->commit_lock);
	mutex_destroy(&jnl->sb_lock);
	kfree(jnl->buf);
	xrepl_bitmap_free(&jnl->walk_regions);
	jnl_rd_free(jnl->rp_rd);
	kfree(jnl);
	pair->jnl = NULL;
}

/*
 * Read and judge block 0 of the journal of a new pair: of the pair whose
 * metadata names uuid, or, for a new pair (uuid NULL, its metadata device
 * fresh), a fresh one: any other belongs to another pair.
 */
static int jnl_read_sb(struct xrepl_jnl *jnl, const u8 *uuid, char **error)
{
	sector_t dev_sectors = bdev_nr_sectors(jnl->bdev);
	int r;

	r = xrepl_sync_io(jnl->io, jnl->bdev, REQ_OP_READ, 0,
			  JNL_BLOCK_SECTORS, DM_IO_KMEM, jnl->buf);
	if (r) {
		*error = "Journal: I/O error";
		return -EIO;
	}
	if (xrepl_mem_is_zero(jnl->buf, XREPL_META_BLOCK_SIZE)) {
		/* Its uuid is set on the first resume, once the pair has one. */
		jnl->fresh = true;
		return 0;
	}
	r = xrepl_jnl_sb_decode(jnl->buf, dev_sectors, &jnl->info, error);
	if (r)
		return r;
	if (!uuid || memcmp(jnl->info.uuid, uuid, sizeof(jnl->info.uuid))) {
		*error = "Journal: the journal of another pair";
		return -EINVAL;
	}
	return 0;
}

/* Regions cleared at a time with interrupts off. */
#define JNL_CLEAR_CHUNK		BIT(16)
/* The latest time in ms that ns since the epoch hold. */
#define JNL_MAX_MS		(U64_MAX / NSEC_PER_MSEC)

/* Blocks the walk reads at a time: twice the largest entry. */
#define JNL_WALK_CHUNK		(2 * (1 + XREPL_JNL_MAX_BYTES / \
				      XREPL_META_BLOCK_SIZE))

/* The blocks of the log the walk read last: buf holds nr from start. */
struct jnl_reader {
	struct xrepl_jnl *jnl;
	/* The superblock it reads by: its own copy (tail commits write on). */
	struct xrepl_jnl_info info;
	void *buf;			/* vmalloc'ed, JNL_WALK_CHUNK blocks */
	u64 start;
	u64 nr;
	u64 err_block;			/* where a read failed */
	/*
	 * A replay's: a chunk read at a block before lim stops there (the
	 * blocks from lim on may be appended to meanwhile).  0: no limit.
	 */
	u64 lim;
};

/* Read blocks block to block + nr - 1 into rd's buffer, from block i. */
static int jnl_rd_io(struct jnl_reader *rd, u64 block, u64 nr, u64 i)
{
	struct xrepl_jnl *jnl = rd->jnl;

	return xrepl_sync_io(jnl->io, jnl->bdev, REQ_OP_READ,
			     block * JNL_BLOCK_SECTORS, nr * JNL_BLOCK_SECTORS,
			     DM_IO_VMA, rd->buf + i * XREPL_META_BLOCK_SIZE);
}

static struct jnl_reader *jnl_rd_alloc(struct xrepl_jnl *jnl)
{
	struct jnl_reader *rd = kzalloc(sizeof(*rd), GFP_KERNEL);

	if (!rd)
		return NULL;
	rd->jnl = jnl;
	rd->buf = vmalloc(JNL_WALK_CHUNK * XREPL_META_BLOCK_SIZE);
	if (!rd->buf) {
		kfree(rd);
		return NULL;
	}
	return rd;
}

static void jnl_rd_free(struct jnl_reader *rd)
{
	if (!rd)
		return;
	vfree(rd->buf);
	kfree(rd);
}

/*
 * Blocks block to block + n - 1 of the log (n at most a chunk, the last
 * of them before the end of the device), read ahead a chunk at a time.
 * Returns a pointer into the chunk, or NULL on a read error, with the
 * block that failed in err_block: a chunk that cannot be read is read
 * again as the walker of the offline tools reads, the n blocks one by one.
 */
static void *jnl_rd_get(struct jnl_reader *rd, u64 block, u64 n)
{
	u64 nr, i;

	if (block >= rd->start && block + n <= rd->start + rd->nr)
		return rd->buf + (block - rd->start) * XREPL_META_BLOCK_SIZE;
	nr = min_t(u64, JNL_WALK_CHUNK, rd->info.nr_blocks - block);
	if (WARN_ON_ONCE(n > nr))
		return NULL;
	rd->nr = 0;
	if (rd->lim > block) {
		/* An entry claimed past the entries replayed: not read. */
		if (n > rd->lim - block) {
			rd->err_block = rd->lim;
			return NULL;
		}
		nr = min(nr, rd->lim - block);
	}
	if (jnl_rd_io(rd, block, nr, 0)) {
		for (i = 0; i < n; i++) {
			if (jnl_rd_io(rd, block + i, 1, i)) {
				rd->err_block = block + i;
				return NULL;
			}
		}
		nr = n;
	}
	rd->start = block;
	rd->nr = nr;
	return rd->buf;
}

/*
 * Read and judge the entry expected at block: its header, then its data
 * against the header's checksum.  Returns the verdict (XREPL_JNL_BAD with
 * *torn for a data checksum mismatch), or -EIO.  *why is set unless it is
 * XREPL_JNL_ENTRY.
 */
static int jnl_read_entry(struct jnl_reader *rd, u64 block, u64 seq,
			  u64 min_inc, sector_t dev_sectors,
			  struct xrepl_jnl_entry *e, bool *torn, char **why)
{
	enum xrepl_jnl_verdict v;
	void *p;

	*torn = false;
	p = jnl_rd_get(rd, block, 1);
	if (!p) {
		*why = "read error";
		return -EIO;
	}
	v = xrepl_jnl_hdr_judge(p, &rd->info, block, seq, min_inc,
				dev_sectors, e, why);
	if (v != XREPL_JNL_ENTRY)
		return v;
	/* Judged: the entry's blocks lie before the end of the device. */
	p = jnl_rd_get(rd, block, e->blocks);
	if (!p) {
		*why = "read error";
		return -EIO;
	}
	/* An entry without data has the checksum of nothing. */
	if (xrepl_jnl_data_csum(XREPL_META_CSUM_SEED,
				p + XREPL_META_BLOCK_SIZE, e->bytes) !=
	    e->data_csum) {
		*why = "data checksum mismatch";
		*torn = true;
		return XREPL_JNL_BAD;
	}
	return XREPL_JNL_ENTRY;
}

/*
 * The entry expected at *block, or else at the start of the log (an entry
 * that did not fit before the end of the device); *block is where it was
 * found.
 */
static int jnl_read_next(struct jnl_reader *rd, u64 *block, u64 seq,
			 u64 min_inc, sector_t dev_sectors,
			 struct xrepl_jnl_entry *e, bool *torn, char **why)
{
	char *why2 = NULL;
	int v, v2;

	v = jnl_read_entry(rd, *block, seq, min_inc, dev_sectors, e, torn,
			   why);
	if (v != XREPL_JNL_END || *block == XREPL_JNL_LOG_START)
		return v;
	v2 = jnl_read_entry(rd, XREPL_JNL_LOG_START, seq, min_inc,
			    dev_sectors, e, torn, &why2);
	if (v2 == XREPL_JNL_END)
		return v;
	*block = XREPL_JNL_LOG_START;
	if (v2 != XREPL_JNL_ENTRY)
		*why = why2;
	return v2;
}

/*
 * Walk the log of a journal in use from its recorded tail, each entry
 * judged whole (header and data), as a replay reads it, and say in *w
 * where and why it ends (Documentation/dm-xrepl-journal.rst, Layout);
 * the regions the valid entries touch are set in walk_regions.  Returns
 * 0, or -ENOMEM.  Process context.
 */
static int jnl_walk(struct xrepl_jnl *jnl, sector_t dev_sectors,
		    struct xrepl_jnl_walk *w)
{
	const struct xrepl_jnl_info *info = &jnl->info;
	u64 block = info->tail_block, seq = info->tail_seq;
	u64 inc = info->tail_incarnation;
	struct jnl_reader rd = { .jnl = jnl, .info = jnl->info };
	struct xrepl_jnl_entry e, f;
	unsigned long first, last;
	char *why2;
	bool torn;
	int v;

	memset(w, 0, sizeof(*w));
	rd.buf = vmalloc(JNL_WALK_CHUNK * XREPL_META_BLOCK_SIZE);
	if (!rd.buf)
		return -ENOMEM;
	for (;;) {
		v = jnl_read_next(&rd, &block, seq, inc, dev_sectors, &e,
				  &torn, &w->why);
		if (v != XREPL_JNL_ENTRY)
			break;
		if (!w->entries)
			w->first_ns = e.time_ns;
		w->last_ns = e.time_ns;
		w->last_epoch = e.epoch;
		w->max_bytes = max(w->max_bytes, e.bytes);
		inc = e.incarnation;
		w->entries++;
		w->bytes += e.bytes;
		/* Judged valid: inside the device. */
		if (xrepl_range_to_regions(&jnl->pair->geom, e.sector,
					   e.nr_sectors, &first, &last))
			xrepl_bitmap_set_range(&jnl->walk_regions, first, last);
		block = xrepl_jnl_next_block(info, &e, block);
		seq++;
		/* More entries than blocks: the walk came round again. */
		if (w->entries >= info->nr_blocks) {
			v = XREPL_JNL_BAD;
			torn = false;
			w->why = "the log runs round the device";
			break;
		}
		cond_resched();
	}
	w->end_block = block;
	w->end_seq = seq;
	if (v == XREPL_JNL_END) {
		w->end = XREPL_JNL_WALK_CLEAN;
	} else if (v == -EIO) {
		w->end = XREPL_JNL_WALK_IO;
		w->end_block = rd.err_block;
	} else if (torn) {
		/*
		 * A cut append.  Appends run in parallel, so entries after
		 * it may be whole (none of them was acknowledged): they are
		 * dropped with it.
		 */
		w->end = XREPL_JNL_WALK_TORN;
		while (w->after < info->nr_blocks) {
			block = xrepl_jnl_next_block(info, &e, block);
			if (jnl_read_next(&rd, &block, seq + 1 + w->after,
					  e.incarnation, dev_sectors, &f, &torn,
					  &why2) != XREPL_JNL_ENTRY)
				break;
			e = f;
			w->after++;
			cond_resched();
		}
	} else {
		w->end = XREPL_JNL_WALK_DAMAGED;
	}
	/* Entries up to durable_seq may not be missing. */
	if ((w->end == XREPL_JNL_WALK_CLEAN ||
	     w->end == XREPL_JNL_WALK_TORN) &&
	    xrepl_jnl_end_is_damage(info, seq)) {
		w->end = XREPL_JNL_WALK_DAMAGED;
		w->why = "an entry made durable is missing";
		w->after = 0;
	}
	vfree(rd.buf);
	return 0;
}

/*
 * Say what the walk of the log found when the pair was created, once
 * its table is resumed: a table refused says nothing of it.
 */
static void jnl_walk_report(struct xrepl_pair *pair,
			    const struct xrepl_jnl_walk *w)
{
	const char *name = dm_device_name(pair->md);
	u64 span = w->last_ns > w->first_ns ? w->last_ns - w->first_ns : 0;

	if (w->end == XREPL_JNL_WALK_CLEAN && !w->entries)
		return;
	if (w->end == XREPL_JNL_WALK_NONE) {
		DMWARN("%s: journal: no memory to walk a log left by a crash, if any",
		       name);
		return;
	}
	if (w->entries) {
		DMWARN("%s: journal: a log from before a crash, entries: %llu (seq %llu to %llu)",
		       name, w->entries, w->end_seq - w->entries,
		       w->end_seq - 1);
		DMWARN("%s: journal: its data: %llu bytes, written over %llu ms",
		       name, w->bytes, div_u64(span, NSEC_PER_MSEC));
	}
	switch (w->end) {
	case XREPL_JNL_WALK_NONE:
	case XREPL_JNL_WALK_CLEAN:
		break;
	case XREPL_JNL_WALK_TORN:
		DMWARN("%s: journal: a torn append ends the log at entry %llu, block %llu",
		       name, w->end_seq, w->end_block);
		if (w->after)
			DMWARN("%s: journal: whole entries after it, dropped: %llu",
			       name, w->after);
		break;
	case XREPL_JNL_WALK_DAMAGED:
		DMERR("%s: journal: damage at entry %llu, block %llu: %s",
		      name, w->end_seq, w->end_block, w->why);
		break;
	case XREPL_JNL_WALK_IO:
		DMERR("%s: journal: read error at block %llu, reading entry %llu",
		      name, w->end_block, w->end_seq);
		break;
	}
}

/* The regions set in bm become dirty, a run at a time. */
static void jnl_mark_bitmap(struct xrepl_pair *pair,
			    const struct xrepl_bitmap *bm)
{
	unsigned long r = 0, end;

	while ((r = xrepl_bitmap_next_set(bm, r)) < bm->nr_bits) {
		end = find_next_zero_bit(bm->bits, bm->nr_bits, r);
		spin_lock_irq(&pair->lock);
		xrepl_mark_dirty_locked(pair, r, end - 1);
		spin_unlock_irq(&pair->lock);
		r = end;
		cond_resched();
	}
}

/*
 * Clear the regions of a replay's entries, min to max, in walk_regions,
 * which nobody sets meanwhile.  Process context, no lock held.
 */
static void jnl_regions_clear(struct xrepl_jnl *jnl, unsigned long min,
			      unsigned long max)
{
	struct xrepl_bitmap *bm = &jnl->walk_regions;
	unsigned long r;

	for (r = min; bm->nr_set && r <= max && r < bm->nr_bits;
	     r += JNL_CLEAR_CHUNK) {
		bitmap_clear(bm->bits, r,
			     min_t(unsigned long, JNL_CLEAR_CHUNK,
				   min(max + 1, bm->nr_bits) - r));
		cond_resched();
	}
	bm->nr_set = 0;
}

/*
 * The log found is not replayed: the regions its entries touch become
 * dirty, marked on disk before the new incarnation discards the log, and
 * the resync copies them, with the regions the bitmap marked
 * (the writes in flight at the crash).  The marks do not cover the
 * entries made durable in the log (the cleaner clears them by it), so a
 * log that cannot be read whole (damage up to durable_seq, a read error,
 * no memory to walk it) makes every region dirty.  Returns false if the
 * metadata device failed: the log must stay then.  Process context.
 */
static bool jnl_walk_mark(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const char *name = dm_device_name(pair->md);
	struct xrepl_bitmap *bm = NULL;

	switch (jnl->walk.end) {
	case XREPL_JNL_WALK_CLEAN:
	case XREPL_JNL_WALK_TORN:
		if (!jnl->walk.entries)
			return true;
		bm = &jnl->walk_regions;
		DMWARN("%s: journal: the log is not replayed; its regions are resynced: %lu",
		       name, bm->nr_set);
		break;
	default:
		DMERR("%s: journal: the log cannot be read whole; every region is resynced",
		      name);
		break;
	}
	if (xrepl_meta_mark_dirty(pair, bm))
		return true;
	/*
	 * Marked in memory all the same: the resync copies them, and the
	 * metadata's retry writes the marks requested.
	 */
	if (bm) {
		jnl_mark_bitmap(pair, bm);
	} else {
		spin_lock_irq(&pair->lock);
		xrepl_mark_all_dirty_locked(pair);
		spin_unlock_irq(&pair->lock);
	}
	return false;
}

int xrepl_jnl_open(struct xrepl_pair *pair, struct xrepl_c *xc,
		   const u8 *uuid, sector_t dev_sectors, char **error)
{
	struct xrepl_jnl *jnl;
	unsigned int i;
	int r;

	jnl = kzalloc(sizeof(*jnl), GFP_KERNEL);
	if (!jnl) {
		*error = "Cannot allocate the journal";
		return -ENOMEM;
	}
	pair->jnl = jnl;
	jnl->pair = pair;
	mutex_init(&jnl->sb_lock);
	mutex_init(&jnl->commit_lock);
	INIT_DELAYED_WORK(&jnl->commit_work, jnl_commit_work);
	INIT_WORK(&jnl->submit_work, jnl_submit_work);
	INIT_WORK(&jnl->overlap_work, jnl_overlap_work);
	INIT_LIST_HEAD(&jnl->flight);
	INIT_LIST_HEAD(&jnl->parked);
	bio_list_init(&jnl->go);
	INIT_LIST_HEAD(&jnl->appending);
	INIT_LIST_HEAD(&jnl->log);
	bio_list_init(&jnl->held);
	jnl->done_tree = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&jnl->done_list);
	INIT_LIST_HEAD(&jnl->done_free);
	jnl->bdev = xc->journal->bdev;
	jnl->buf = kmalloc(XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	jnl->io = dm_io_client_create();
	/* Maps writes again under memory pressure too: of its own. */
	jnl->wq = alloc_workqueue("xrepl-jnl-%s", WQ_MEM_RECLAIM, 1,
				  dm_device_name(pair->md));
	jnl->done_max = JNL_DONE_MAX;
	jnl->done_pool = kvcalloc(jnl->done_max, sizeof(*jnl->done_pool),
				  GFP_KERNEL);
	if (!jnl->buf || IS_ERR(jnl->io) || !jnl->wq || !jnl->done_pool ||
	    bioset_init(&jnl->bs, JNL_RESERVE, 0,
			BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER) ||
	    mempool_init_page_pool(&jnl->hdr_pages, JNL_RESERVE, 0) ||
	    mempool_init_page_pool(&jnl->rb_pages, XREPL_SHIP_MAX_PAGES, 0) ||
	    mempool_init_kmalloc_pool(&jnl->rp_ents, 1,
				      sizeof(struct xrepl_shipent))) {
		*error = "Cannot allocate the journal";
		return -ENOMEM;
	}
	/* A replay's, kept: the ship queue spills into the log any time. */
	jnl->rp_rd = jnl_rd_alloc(jnl);
	if (!jnl->rp_rd ||
	    xrepl_bitmap_alloc(&jnl->walk_regions, pair->geom.nr_regions)) {
		*error = "Cannot allocate the journal";
		return -ENOMEM;
	}
	for (i = 0; i < jnl->done_max; i++)
		list_add_tail(&jnl->done_pool[i].list, &jnl->done_free);
	r = jnl_read_sb(jnl, uuid, error);
	if (r || jnl->fresh)
		return r;
	/* Only async mode holds. */
	if ((jnl->info.flags & XREPL_JNL_F_HELD) &&
	    READ_ONCE(xc->args.mode) != XREPL_MODE_ASYNC) {
		*error = "Journal: held: load it in async mode, then 'release'";
		return -EINVAL;
	}
	/* Only a report for now: a walk that cannot run is said to be so. */
	if (jnl_walk(jnl, dev_sectors, &jnl->walk))
		jnl->walk.end = XREPL_JNL_WALK_NONE;
	return 0;
}

/*
 * The log has more room, or the journal is no longer used: the writes
 * that wait for room try again.  lock held.
 */
static void jnl_room_locked(struct xrepl_jnl *jnl)
{
	jnl->room_gen++;
	if (!list_empty(&jnl->parked))
		queue_work(jnl->wq, &jnl->overlap_work);
}

/*
 * The remote degraded, or the congestion policy changed: the writes that
 * wait for room try again (and go to the local leg only, or meet the new
 * policy).  lock held.
 */
void xrepl_jnl_room_locked(struct xrepl_pair *pair)
{
	if (pair->jnl)
		jnl_room_locked(pair->jnl);
}

/*
 * The journal fails during a replay: the regions of its entries (the
 * cleaner may have cleared their marks by the log) are marked again.
 * If the replay is ending, its bitmap is being cleared meanwhile: its
 * entries are on the remote then.  lock held.
 */
static void jnl_cover_replay_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_bitmap *bm = &jnl->walk_regions;
	unsigned long r = jnl->rp_rmin, end, lim;

	lim = min(jnl->rp_rmax, bm->nr_bits - 1) + 1;
	while (r < lim && (r = find_next_bit(bm->bits, lim, r)) < lim) {
		end = find_next_zero_bit(bm->bits, lim, r);
		xrepl_wi_request_locked(&pair->wi, r, end - 1);
		r = end;
	}
}

/*
 * The journal is out of use: the marks cover again what it did not.  The
 * cleaner no longer clears a mark by the log, but a mark it cleared so may
 * belong to an entry the remote lacks (on jnl->log) or holds unflushed (a
 * completion record): those regions are marked on disk again, and the
 * records go (none is kept from now on).  lock held.
 */
static void jnl_cover_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_done *d, *tmp;
	struct xrepl_shipent *ent;
	unsigned long first, last;

	if (!pair->wi.committed)
		return;
	/* Not expected (see jnl_done_add_locked()): every region, at once. */
	if (jnl->done_unrec)
		xrepl_wi_mark_all_locked(&pair->wi);
	list_for_each_entry_safe(d, tmp, &jnl->done_list, list) {
		if (!jnl->done_unrec &&
		    xrepl_range_to_regions(&pair->geom, d->start,
					   d->last - d->start + 1,
					   &first, &last))
			xrepl_wi_request_locked(&pair->wi, first, last);
		jnl_done_remove(d, &jnl->done_tree);
		list_move(&d->list, &jnl->done_free);
	}
	jnl->done_nr = 0;
	jnl->done_unrec = 0;
	/* ship_work waited for a commit, which no longer runs: it goes on. */
	if (jnl->ship_waits) {
		jnl->ship_waits = false;
		xrepl_ship_now(pair);
	}
	list_for_each_entry(ent, &jnl->log, jlog)
		if (xrepl_ship_ranged(ent))
			xrepl_wi_request_locked(&pair->wi, ent->first, ent->last);
	/* And those a replay has to send, held by the log only. */
	if (jnl->replay)
		jnl_cover_replay_locked(pair);
	/* No tail commit runs any more: the metadata worker commits them. */
	pair->commit_all_wanted = true;
	queue_work(pair->meta_wq, &pair->commit_work);
}

/*
 * Fail the journal: the pair goes on without it.  Entries whose pages
 * were dropped cannot be shipped in order any more: the remote degrades
 * (degraded_by=journal), ship_work gives up on them, and the remote
 * returns with a resync, recorded as not consistent before it receives a
 * write.  lock held.
 */
static bool jnl_fail_locked(struct xrepl_jnl *jnl)
{
	struct xrepl_pair *pair = jnl->pair;

	if (jnl->failed)
		return false;
	jnl->failed = true;
	/* Read without the lock by xrepl_jnl_write(), which re-checks. */
	WRITE_ONCE(jnl->usable, false);
	/*
	 * Shipping until a point ends, held where it is: the entries from
	 * now on are not journaled, and their times are not checked.
	 */
	jnl->until_ns = 0;
	/* Marks go without the log from now on: a load must not replay it. */
	pair->log_stale = true;
	pair->sb_dirty = true;
	jnl_cover_locked(pair);
	jnl_room_locked(jnl);
	/* The lag's bound changed: the writes waiting for it try again. */
	if (xrepl_lag_wait_release_locked(pair))
		xrepl_lag_kick(pair);
	/* A replay cannot read the rest of its log either. */
	if ((jnl->dropped || (jnl->replay && jnl->rp_seq != jnl->rp_end)) &&
	    xrepl_degrade_locked(pair, XREPL_DEGRADED_JOURNAL)) {
		jnl->fail_degraded = true;
		xrepl_ship_now(pair);
	}
	return true;
}

static void jnl_report_failed(struct xrepl_pair *pair, const char *what,
			      int err)
{
	struct xrepl_c *event;
	unsigned long flags;

	/* From an append's completion too: any context. */
	DMERR("%s: journal: %s failed (%d): writes are no longer journaled",
	      dm_device_name(pair->md), what, err);
	/* Set once, with failed, before the report. */
	if (pair->jnl->fail_degraded)
		DMWARN("%s: journal failed with writes only in the log: degraded until a resync",
		       dm_device_name(pair->md));
	spin_lock_irqsave(&pair->lock, flags);
	event = pair->active;
	spin_unlock_irqrestore(&pair->lock, flags);
	if (event)
		xrepl_raise_event(event);
}

/* Write the superblock *info with FUA (and PREFLUSH if asked). */
static int jnl_write_sb(struct xrepl_jnl *jnl, struct xrepl_jnl_info *info,
			blk_opf_t flags)
{
	int r;

	lockdep_assert_held(&jnl->sb_lock);
	info->generation++;
	info->mtime = ktime_get_real_seconds();
	memset(jnl->buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_jnl_sb_encode(jnl->buf, info);
	r = xrepl_sync_io(jnl->io, jnl->bdev,
			  REQ_OP_WRITE | REQ_FUA | REQ_SYNC | flags, 0,
			  JNL_BLOCK_SECTORS, DM_IO_KMEM, jnl->buf);
	if (!r)
		jnl->info = *info;
	return r;
}

/*
 * The tail in memory: the oldest entry the remote has not completed (its
 * seq, its block in *block, and in *inc an incarnation no higher than
 * its), or the head.  lock held.
 */
static u64 jnl_tail_locked(const struct xrepl_jnl *jnl, u64 *block,
			   u64 *inc)
{
	const struct xrepl_shipent *ent;

	ent = list_empty(&jnl->log) ? NULL :
	      list_first_entry(&jnl->log, struct xrepl_shipent, jlog);
	/* A replay's entries not read yet come before the ones after them. */
	if (ent && (!jnl->replay || ent->jseq < jnl->rp_seq)) {
		*block = ent->jblock;
		*inc = ent->jinc;
		return ent->jseq;
	}
	if (jnl->replay) {
		*block = jnl->rp_block;
		/* The entry before's: the log found may be of several. */
		*inc = jnl->rp_inc;
		return jnl->rp_seq;
	}
	*block = jnl->head_block;
	*inc = jnl->incarnation;
	return jnl->head_seq;
}

/* Blocks in use, from the tail on disk to the head.  lock held. */
static u64 jnl_used_locked(const struct xrepl_jnl *jnl)
{
	if (jnl->head_seq == jnl->ctail_seq)
		return 0;
	if (jnl->head_block > jnl->ctail_block)
		return jnl->head_block - jnl->ctail_block;
	return jnl->nr_blocks - jnl->ctail_block +
	       jnl->head_block - XREPL_JNL_LOG_START;
}

/* The block after an entry of blocks at start: the next one's, if it fits. */
static u64 jnl_block_after(const struct xrepl_jnl *jnl, u64 start, u32 blocks)
{
	return start + blocks >= jnl->nr_blocks ? XREPL_JNL_LOG_START :
	       start + blocks;
}

/*
 * Where an entry of blocks goes in a log of end blocks whose head is at h
 * and tail on disk at t (empty: no entry from one to the other): at the
 * head, or at block 1 if it does not fit before the end of the device;
 * never over the tail on disk (entries the remote completed are still
 * replayed from there after a crash).  Returns false if the log has no
 * room.
 */
static bool jnl_place(u64 h, u64 t, u64 end, bool empty, u32 blocks,
		      u64 *start)
{
	if (empty) {
		*start = h + blocks <= end ? h : XREPL_JNL_LOG_START;
		return true;
	}
	if (h == t)
		return false;
	if (h > t) {
		if (h + blocks <= end) {
			*start = h;
			return true;
		}
		h = XREPL_JNL_LOG_START;
	}
	if (h + blocks > t)
		return false;
	*start = h;
	return true;
}

static bool jnl_place_locked(const struct xrepl_jnl *jnl, u32 blocks,
			     u64 *start)
{
	return jnl_place(jnl->head_block, jnl->ctail_block, jnl->nr_blocks,
			 jnl->head_seq == jnl->ctail_seq, blocks, start);
}

/*
 * May the log found be replayed, the remote as it is?  Not if it cannot
 * be read whole (*why NULL: jnl_walk_mark() says so), if the metadata
 * loaded does not vouch for it (may_replay), if it holds entries larger
 * than the target writes, or if the remote is not a crash-consistent
 * image that this table replicates to.  Process context, before the pair
 * starts.
 */
static bool jnl_replay_ok(struct xrepl_pair *pair, struct xrepl_c *xc,
			  const char **why)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_jnl_walk *w = &jnl->walk;
	bool ok;

	*why = NULL;
	if (w->end != XREPL_JNL_WALK_CLEAN && w->end != XREPL_JNL_WALK_TORN)
		return false;
	if (!jnl->may_replay) {
		*why = "the metadata does not vouch for it";
		return false;
	}
	if (w->max_bytes > XREPL_SHIP_MAX_BYTES) {
		*why = "it holds entries larger than the target writes";
		return false;
	}
	spin_lock_irq(&pair->lock);
	if (!xc->remote || pair->degraded_by != XREPL_DEGRADED_NONE)
		*why = "the remote is degraded";
	else if (!pair->consistent)
		*why = "the remote is not consistent";
	else if (pair->merge_needed)
		*why = "the remote may have lost writes";
	ok = !*why;
	spin_unlock_irq(&pair->lock);
	return ok;
}

/* Where the log stands while it is rolled forward, before the pair starts. */
struct jnl_roll {
	u64 seq;			/* the next entry's */
	u64 block;			/* where it goes, if it fits */
	u64 tail_block;			/* the tail on disk */
	bool empty;			/* no entry from the tail to the head */
	u64 epoch;
	u64 time_ns;
};

/*
 * Append one entry to the log at the head: a flush (bytes 0), or bytes of
 * the local leg's data at sector, which buf holds after its first block.
 * Returns 0, -ENOSPC, or an I/O error.
 */
static int jnl_roll_append(struct xrepl_jnl *jnl, struct jnl_roll *rl,
			   void *buf, sector_t sector, u32 bytes, bool write)
{
	struct xrepl_jnl_entry e = {};
	u64 start;

	e.seq = rl->seq;
	e.epoch = rl->epoch;
	e.time_ns = rl->time_ns;
	e.incarnation = jnl->info.incarnation;
	e.bytes = bytes;
	e.blocks = xrepl_jnl_entry_blocks(bytes);
	if (write) {
		e.op = XREPL_JNL_OP_WRITE;
		e.sector = sector;
		e.nr_sectors = bytes >> SECTOR_SHIFT;
	} else {
		e.op = XREPL_JNL_OP_FLUSH;
		e.op_flags = XREPL_JNL_PREFLUSH;
	}
	if (!jnl_place(rl->block, rl->tail_block, jnl->info.nr_blocks,
		       rl->empty, e.blocks, &start))
		return -ENOSPC;
	e.data_csum = xrepl_jnl_data_csum(XREPL_META_CSUM_SEED,
					  buf + XREPL_META_BLOCK_SIZE, bytes);
	memset(buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_jnl_hdr_encode(buf, jnl->info.journal_id, &e);
	/* Zero to the end of its last block. */
	memset(buf + XREPL_META_BLOCK_SIZE + bytes, 0,
	       (e.blocks - 1) * XREPL_META_BLOCK_SIZE - bytes);
	rl->seq++;
	rl->block = start + e.blocks >= jnl->info.nr_blocks ?
		    XREPL_JNL_LOG_START : start + e.blocks;
	rl->empty = false;
	return xrepl_sync_io(jnl->io, jnl->bdev, REQ_OP_WRITE | REQ_SYNC,
			     start * JNL_BLOCK_SECTORS,
			     e.blocks * JNL_BLOCK_SECTORS, DM_IO_VMA, buf);
}

/*
 * Roll forward (Documentation/dm-xrepl-journal.rst, Opening a journal):
 * the regions marked at load are the only ones the local leg may hold a
 * write in that the log lacks (in flight at the crash, or dropped with a
 * torn append).  Their local data is appended after the log found, as
 * one epoch between two flush entries, and they join walk_regions.  Their
 * marks stay until the cleaner clears them by the log.  Returns 0 (*nr:
 * the regions), -ENOSPC if the log has no room for them (nothing of them
 * appended then), -ENOMEM, -ENODATA if the local leg cannot be read, or
 * the journal's I/O error.  Process context, before the
 * pair starts: nothing else reads the dirty bitmap or the log.
 */
static int jnl_roll_forward(struct xrepl_pair *pair, struct xrepl_c *xc,
			    struct jnl_roll *rl, unsigned long *nr)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_geom *geom = &pair->geom;
	const struct xrepl_bitmap *dirty = &pair->dirty;
	u32 chunk = min_t(u32, XREPL_SHIP_MAX_BYTES,
			  geom->region_size << SECTOR_SHIFT);
	u64 h = rl->block, start;
	bool empty = rl->empty;
	unsigned long r;
	sector_t sec, end;
	void *buf;
	u32 len;
	int ret;

	*nr = 0;
	if (!dirty->nr_set)
		return 0;
	/* Room for all of it, the two flush entries included, or nothing. */
	if (!jnl_place(h, rl->tail_block, jnl->info.nr_blocks, empty, 1,
		       &start))
		return -ENOSPC;
	h = start + 1;
	empty = false;
	for (r = xrepl_bitmap_next_set(dirty, 0); r < dirty->nr_bits;
	     r = xrepl_bitmap_next_set(dirty, r + 1)) {
		sec = (sector_t)r << geom->region_shift;
		end = sec + xrepl_region_len(geom, r);
		for (; sec < end; sec += len >> SECTOR_SHIFT) {
			len = min_t(u64, chunk, (u64)(end - sec) << SECTOR_SHIFT);
			if (!jnl_place(h, rl->tail_block, jnl->info.nr_blocks,
				       empty, xrepl_jnl_entry_blocks(len),
				       &start))
				return -ENOSPC;
			h = start + xrepl_jnl_entry_blocks(len);
			if (h >= jnl->info.nr_blocks)
				h = XREPL_JNL_LOG_START;
			empty = false;
		}
	}
	if (!jnl_place(h, rl->tail_block, jnl->info.nr_blocks, empty, 1,
		       &start))
		return -ENOSPC;

	buf = vmalloc(XREPL_META_BLOCK_SIZE + chunk);
	if (!buf)
		return -ENOMEM;
	/* A flush entry, then the regions as one epoch, then a flush entry. */
	rl->epoch++;
	ret = jnl_roll_append(jnl, rl, buf, 0, 0, false);
	rl->epoch++;
	for (r = xrepl_bitmap_next_set(dirty, 0); !ret && r < dirty->nr_bits;
	     r = xrepl_bitmap_next_set(dirty, r + 1)) {
		sec = (sector_t)r << geom->region_shift;
		end = sec + xrepl_region_len(geom, r);
		for (; !ret && sec < end; sec += len >> SECTOR_SHIFT) {
			len = min_t(u64, chunk, (u64)(end - sec) << SECTOR_SHIFT);
			/* The local leg's error is not the journal's. */
			if (xrepl_sync_io(jnl->io, xc->local->bdev,
					  REQ_OP_READ, sec, len >> SECTOR_SHIFT,
					  DM_IO_VMA, buf + XREPL_META_BLOCK_SIZE))
				ret = -ENODATA;
			else
				ret = jnl_roll_append(jnl, rl, buf, sec, len,
						      true);
		}
		xrepl_bitmap_set_range(&jnl->walk_regions, r, r);
		(*nr)++;
		cond_resched();
	}
	rl->epoch++;
	if (!ret)
		ret = jnl_roll_append(jnl, rl, buf, 0, 0, false);
	rl->epoch++;
	vfree(buf);
	return ret;
}

/*
 * Make the log found the start of the new incarnation's: the superblock
 * written with it (durable: whole when read, and flushed now), then the
 * marked regions rolled forward after it, and durable too.  *rl: where
 * the log ends.  Returns 0, -ENOSPC, -ENOMEM or -ENODATA (no room, no
 * memory or no local data to roll forward: the log is discarded instead),
 * or the journal's I/O error (the journal fails).  Process context, before the pair starts.
 */
static int jnl_replay_prepare(struct xrepl_pair *pair, struct xrepl_c *xc,
			      struct jnl_roll *rl, unsigned long *rolled)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_jnl_walk *w = &jnl->walk;
	struct xrepl_jnl_info info = jnl->info;
	int r;

	info.incarnation++;
	/* The log empty, its first entry is of the new incarnation. */
	if (!w->entries)
		info.tail_incarnation = info.incarnation;
	info.durable_seq = max(info.durable_seq, w->end_seq - 1);
	r = jnl_write_sb(jnl, &info, REQ_PREFLUSH);
	if (r)
		return r;
	rl->seq = w->end_seq;
	rl->block = w->end_block;
	rl->tail_block = info.tail_block;
	rl->empty = w->end_seq == info.tail_seq;
	rl->epoch = w->last_epoch + 1;
	rl->time_ns = max_t(u64, ktime_get_real_ns(), w->last_ns);
	r = jnl_roll_forward(pair, xc, rl, rolled);
	if (r || rl->seq == w->end_seq)
		return r;
	info = jnl->info;
	info.durable_seq = rl->seq - 1;
	return jnl_write_sb(jnl, &info, REQ_PREFLUSH);
}

/*
 * The pair's first resume: a fresh journal is formatted; one in use gets
 * a new incarnation.  The log found at load is replayed if it may be
 * (jnl_replay_ok()): rolled forward, then shipped from its tail by
 * ship_work ahead of every entry appended from now on, so that the
 * remote stays a write-order prefix and nothing is resynced.  Else its
 * regions become dirty (jnl_walk_mark()), the resync copies them, and it
 * is discarded.  The superblock is written with PREFLUSH and FUA before
 * anything is appended; if that fails, the pair goes on without the
 * journal.  Process context.
 */
int xrepl_jnl_start(struct xrepl_pair *pair, struct xrepl_c *xc)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const char *name = dm_device_name(pair->md);
	const char *what = "the superblock write", *why = NULL;
	struct xrepl_jnl_info info;
	struct jnl_roll rl = {};
	unsigned long rolled = 0, i;
	bool fail = false, replay = false, replaying = false;
	u32 delay;
	int r = 0;

	if (!jnl)
		return 0;
	mutex_lock(&jnl->sb_lock);
	if (jnl->started) {
		/* Started by an earlier resume: walk_regions is the replay's. */
		mutex_unlock(&jnl->sb_lock);
		return 0;
	}
	jnl->started = true;
	/* The table's delay, or the one recorded; none but in async mode. */
	delay = xc->args.given & XREPL_OPT_DELAY ? xc->args.delay_ms :
		jnl->fresh ? 0 : min(jnl->info.delay_ms, XREPL_MAX_DELAY_MS);
	if (READ_ONCE(xc->args.mode) != XREPL_MODE_ASYNC && delay) {
		DMWARN("%s: journal: delay_ms %u recorded, cleared: only async mode delays",
		       name, delay);
		delay = 0;
	}
	jnl->info.delay_ms = delay;
	if (jnl->fresh) {
		xrepl_jnl_sb_init(&info, pair->sb.uuid,
				  bdev_nr_sectors(jnl->bdev));
		info.delay_ms = delay;
		r = jnl_write_sb(jnl, &info, REQ_PREFLUSH);
		goto set;
	}
	jnl_walk_report(pair, &jnl->walk);
	replay = jnl_replay_ok(pair, xc, &why);
	if (replay) {
		r = jnl_replay_prepare(pair, xc, &rl, &rolled);
		if (r == -ENOSPC)
			why = "no room in it to roll the marked regions forward";
		else if (r == -ENOMEM)
			why = "no memory";
		else if (r == -ENODATA)
			why = "the local leg cannot be read to roll forward";
		if (r)
			replay = false;
	}
	if (replay) {
		info = jnl->info;
		/* Rolled forward: those regions are not dirty (nr_set at set:). */
		for (i = 0; rolled && i < pair->dirty.nr_bits; i += JNL_CLEAR_CHUNK) {
			spin_lock_irq(&pair->lock);
			bitmap_clear(pair->dirty.bits, i,
				     min_t(unsigned long, JNL_CLEAR_CHUNK,
					   pair->dirty.nr_bits - i));
			spin_unlock_irq(&pair->lock);
			cond_resched();
		}
		if (jnl->walk.entries || rolled)
			DMINFO("%s: journal: replaying the log: %llu entries, %lu regions rolled",
			       name, jnl->walk.entries, rolled);
		goto set;
	}
	if (why)
		DMWARN("%s: journal: the log is not replayed: %s", name, why);
	/* A failed roll forward: the journal fails once the regions are marked. */
	if (r && r != -ENOSPC && r != -ENOMEM && r != -ENODATA) {
		jnl_walk_mark(pair);
		what = "rolling the log forward";
		goto set;
	}
	r = 0;
	if (!jnl_walk_mark(pair)) {
		/* The log stays for a later load; not used now. */
		what = "marking the log's regions";
		r = -EIO;
		goto set;
	}
	info = jnl->info;
	info.incarnation++;
	info.tail_incarnation = info.incarnation;
	/* The log is discarded: nothing after the tail is durable. */
	info.durable_seq = info.tail_seq - 1;
	/* Nor is a point held at: the resync copies what it must. */
	if (info.ship_until_ms)
		DMWARN("%s: journal: ship_until %llu not kept: the log is not replayed",
		       name, info.ship_until_ms);
	info.ship_until_ms = 0;
	info.sent_ms = 0;
	r = jnl_write_sb(jnl, &info, REQ_PREFLUSH);
set:
	/* Resumed next, the pair resyncs what it must (the remote healthy). */
	spin_lock_irq(&pair->lock);
	if (r) {
		fail = jnl_fail_locked(jnl);
		if (pair->degraded_by == XREPL_DEGRADED_NONE &&
		    xrepl_resync_needed_locked(pair) && !pair->resync_active)
			xrepl_resync_want_locked(pair);
		spin_unlock_irq(&pair->lock);
		goto out;
	}
	jnl->fresh = false;
	/* The log as the new incarnation's superblock has it. */
	jnl->rp_rd->info = info;
	/* A hold outlives a crash, a reboot and the table; so does a delay. */
	jnl->ship_held = info.flags & XREPL_JNL_F_HELD;
	jnl->delay_ms = info.delay_ms;
	/*
	 * So does a point held at, and the bound of what the remote has
	 * that the hold recorded (nothing was sent since but entries made
	 * before the point).  Else the remote may have anything made
	 * before now.
	 */
	jnl->until_ns = 0;
	/* The newest entry found too, if the clock was set back since. */
	jnl->sent_ns = max_t(u64, ktime_get_real_ns(), jnl->walk.last_ns);
	if (jnl->ship_held && info.ship_until_ms <= JNL_MAX_MS)
		jnl->until_ns = info.ship_until_ms * NSEC_PER_MSEC;
	jnl->until_reached = false;
	if (jnl->ship_held && info.sent_ms && info.sent_ms <= JNL_MAX_MS)
		jnl->sent_ns = info.sent_ms * NSEC_PER_MSEC;
	jnl->journal_id = info.journal_id;
	jnl->incarnation = info.incarnation;
	jnl->nr_blocks = info.nr_blocks;
	jnl->ctail_seq = info.tail_seq;
	jnl->ctail_block = info.tail_block;
	jnl->epoch = 1;
	if (replay) {
		jnl->head_seq = rl.seq;
		jnl->head_block = rl.block;
		jnl->epoch = rl.epoch;
		jnl->last_time_ns = rl.time_ns;
		/* Every region marked was rolled forward: the log carries it. */
		pair->dirty.nr_set = 0;
		if (rl.seq != info.tail_seq) {
			jnl->replay = true;
			jnl->rp_spill = false;
			jnl->rp_seq = info.tail_seq;
			jnl->rp_block = info.tail_block;
			jnl->rp_end = rl.seq;
			jnl->rp_end_block = rl.block;
			jnl->rp_inc = info.tail_incarnation;
			/* The walk's and the roll's regions, anywhere. */
			jnl->rp_rmin = 0;
			jnl->rp_rmax = jnl->walk_regions.nr_bits - 1;
			/* Its oldest entry's time; the roll's, if only it. */
			jnl->rp_first_ns = jnl->walk.entries ?
					   jnl->walk.first_ns : rl.time_ns;
			replaying = true;
			/* Counted as one write: a suspend and a drain wait for it. */
			xrepl_lag_add(&pair->lag, 0);
			/* In sync mode, writes go through the log until its end. */
			if (READ_ONCE(xc->args.mode) == XREPL_MODE_SYNC)
				xrepl_drain_start_locked(pair);
		}
	} else {
		jnl->head_seq = info.tail_seq;
		jnl->head_block = info.tail_block;
	}
	if (pair->degraded_by == XREPL_DEGRADED_NONE &&
	    xrepl_resync_needed_locked(pair) && !pair->resync_active)
		xrepl_resync_want_locked(pair);
	else if (!xrepl_resync_needed_locked(pair))
		pair->resync_active = false;
	jnl->appended_seq = jnl->head_seq - 1;
	/* A write made from now on is after the point, clock set back or not. */
	jnl->last_time_ns = max(jnl->last_time_ns, jnl->until_ns);
	/* A new log, whole: marks may go by it. */
	if (pair->log_stale) {
		pair->log_stale = false;
		xrepl_sb_changed_locked(pair);
	}
	WRITE_ONCE(jnl->usable, true);
	spin_unlock_irq(&pair->lock);
out:
	mutex_unlock(&jnl->sb_lock);
	/* Not before a replay ends (ship_work's from now on). */
	if (!replaying)
		jnl_regions_clear(jnl, 0, jnl->walk_regions.nr_bits - 1);
	if (fail)
		jnl_report_failed(pair, what, r);
	return r;
}

void xrepl_jnl_loaded(struct xrepl_pair *pair, bool may_replay)
{
	pair->jnl->may_replay = may_replay;
}

bool xrepl_jnl_replaying_locked(struct xrepl_pair *pair)
{
	return pair->jnl && pair->jnl->replay;
}

/*
 * May a replay still send a write to regions first..last?  walk_regions
 * has the regions of its entries: of the log found at load (walked, and
 * rolled forward) and spilled.  lock held.
 */
bool xrepl_jnl_replays_locked(struct xrepl_pair *pair, unsigned long first,
			      unsigned long last)
{
	const struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl || !jnl->replay)
		return false;
	return xrepl_bitmap_next_set(&jnl->walk_regions, first) <= last;
}

/*
 * While a replay runs, the time (wall clock, ns) of the oldest write the
 * remote may lack, which the ship queue does not hold (spilled, or in
 * the log found at load): no write made before it is missing there.  0
 * while no replay runs.  lock held.
 */
static u64 jnl_lag_since_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_shipent *ent;

	if (!jnl || !jnl->replay)
		return 0;
	ent = list_first_entry_or_null(&jnl->log, struct xrepl_shipent, jlog);
	if (ent && ent->jseq < jnl->rp_seq)
		return ent->jtime_ns;
	return jnl->rp_done_ns ?: jnl->rp_first_ns;
}

/*
 * The age (ns) of the oldest write the remote lacks, that the ship queue
 * holds or that only the log holds (a replay); 0 when there is none.
 * oldest_lag_ms in the status.  lock held.
 */
static u64 lag_age_ns_locked(struct xrepl_pair *pair, u64 now)
{
	u64 oldest = xrepl_shipq_oldest_ns(&pair->shipq);
	u64 since = jnl_lag_since_locked(pair);
	u64 age = oldest ? ktime_get_ns() - oldest : 0;

	if (since && since < now)
		age = max(age, now - since);
	return age;
}

u64 xrepl_lag_age_ns_locked(struct xrepl_pair *pair)
{
	return lag_age_ns_locked(pair, ktime_get_real_ns());
}

/*
 * The time (s since the epoch, rounded down) of the remote's data while
 * writes it lacks are kept: no write made before it is missing there.
 * The data time a stop records at the remote site.  lock held.
 */
u64 xrepl_lag_data_time_locked(struct xrepl_pair *pair)
{
	u64 now = ktime_get_real_ns();

	/* One reading of the clock for both: a step between cannot skew it. */
	return div_u64(now - min(now, lag_age_ns_locked(pair, now)),
		       NSEC_PER_SEC);
}

bool xrepl_jnl_fresh(struct xrepl_pair *pair)
{
	return pair->jnl->fresh;
}

/* A tail commit at once (a drain to sync ended).  lock held. */
void xrepl_jnl_commit_soon_locked(struct xrepl_pair *pair)
{
	if (pair->jnl)
		jnl_commit_soon_locked(pair, true);
}

/*
 * The remote degraded during the replay: it reads no more, and the
 * regions of the whole log (walk_regions) become dirty, before a tail
 * commit may pass the entries not sent (xrepl_mark_dirty_locked() asks
 * for their marks).  ship_work, no lock held.
 */
static void jnl_replay_stop(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	bool spill;

	/*
	 * Nothing joins it from now on (jnl_spills_locked()), even if the
	 * remote is back before the marking ends: walk_regions stays.
	 */
	spin_lock_irq(&pair->lock);
	jnl->rp_stopped = true;
	spin_unlock_irq(&pair->lock);
	jnl_mark_bitmap(pair, &jnl->walk_regions);
	spin_lock_irq(&pair->lock);
	jnl->rp_seq = jnl->rp_end;
	jnl->rp_block = jnl->rp_end_block;
	jnl->rp_inc = jnl->incarnation;
	spill = jnl->rp_spill;
	spin_unlock_irq(&pair->lock);
	if (spill)
		DMWARN("%s: journal: spilled entries given up on (degraded): resynced",
		       dm_device_name(pair->md));
	else
		DMWARN("%s: journal: the replay stops (degraded): its regions are resynced",
		       dm_device_name(pair->md));
}

/*
 * The replay ends: every entry of its log was read (or it stopped), and
 * the remote is done with them.  Its write leaves the lag; copies held
 * back for it go on.  ship_work, no lock held.
 */
static void jnl_replay_end(struct xrepl_pair *pair, bool *redispatch)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_c *event = NULL;
	unsigned long min, max;
	bool stopped, spill;

	/*
	 * Every entry read: none joins the replay any more, and no other
	 * can start before it ended.
	 */
	spin_lock_irq(&pair->lock);
	min = jnl->rp_rmin;
	max = jnl->rp_rmax;
	spin_unlock_irq(&pair->lock);
	jnl_regions_clear(jnl, min, max);
	spin_lock_irq(&pair->lock);
	jnl->replay = false;
	/* The ship point goes from the replay's to the log's. */
	if (jnl_until_check_locked(pair))
		event = pair->active;
	stopped = jnl->rp_stopped;
	spill = jnl->rp_spill;
	*redispatch |= xrepl_lag_leave_locked(pair, 0);
	/* The next replay reads the log as it is then. */
	jnl->rp_rd->nr = 0;
	if (pair->resync_active || pair->verify_active)
		queue_work(pair->wq, &pair->resync_work);
	spin_unlock_irq(&pair->lock);
	/* Spilled entries come and go with the load: not worth a line. */
	if (!stopped && !spill)
		DMINFO("%s: journal: the log is replayed",
		       dm_device_name(pair->md));
	if (event)
		xrepl_raise_event(event);
}

/*
 * Read the replay's next entry, at rp_seq, into a ship entry of xc's:
 * its data into pages of rb_pages, checked against its header.  Returns
 * it, or NULL with *why.  ship_work, no lock held; sleeps (GFP_NOIO).
 */
static struct xrepl_shipent *jnl_replay_read(struct xrepl_pair *pair,
					     struct xrepl_c *xc, u64 seq,
					     u64 *block, u64 inc,
					     struct xrepl_jnl_entry *ep,
					     const char **why)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_entry e;
	struct xrepl_shipent *ent;
	unsigned int i, left;
	char *cwhy = NULL;
	bool torn;
	void *p;
	int v;

	v = jnl_read_next(jnl->rp_rd, block, seq, inc, pair->geom.dev_sectors,
			  &e, &torn, &cwhy);
	if (v != XREPL_JNL_ENTRY) {
		*why = v == XREPL_JNL_END ? "the entry is gone" : cwhy;
		return NULL;
	}
	if (e.bytes > XREPL_SHIP_MAX_BYTES) {
		*why = "an entry larger than the target writes";
		return NULL;
	}
	/* Read and checked whole by jnl_read_entry(): in the reader's chunk. */
	p = jnl_rd_get(jnl->rp_rd, *block, e.blocks);
	if (!p) {
		*why = "read error";
		return NULL;
	}
	ent = mempool_alloc(&jnl->rp_ents, GFP_NOIO);
	xrepl_ship_init(ent, xc);
	ent->jreplay = true;
	ent->jdropped = true;
	ent->jread = true;
	ent->jseq = e.seq;
	ent->jinc = e.incarnation;
	ent->jblock = *block;
	ent->jtime_ns = e.time_ns;
	ent->jcsum = e.data_csum;
	ent->s.sector = e.sector;
	ent->s.nr_sectors = e.nr_sectors;
	ent->s.bytes = e.bytes;
	switch (e.op) {
	case XREPL_JNL_OP_DISCARD:
		ent->opf = REQ_OP_DISCARD;
		break;
	case XREPL_JNL_OP_WRITE_ZEROES:
		ent->opf = REQ_OP_WRITE_ZEROES;
		break;
	default:
		ent->opf = REQ_OP_WRITE;
		break;
	}
	ent->opf |= REQ_SYNC;
	if (e.op_flags & XREPL_JNL_NOUNMAP)
		ent->opf |= REQ_NOUNMAP;
	if (e.op_flags & (XREPL_JNL_PREFLUSH | XREPL_JNL_FUA)) {
		ent->s.flags = XREPL_SHIP_BARRIER;
		ent->opf |= REQ_PREFLUSH |
			    (e.op_flags & XREPL_JNL_FUA ? REQ_FUA : 0);
	}
	if (e.nr_sectors)
		xrepl_range_to_regions(&pair->geom, e.sector, e.nr_sectors,
				       &ent->first, &ent->last);
	ent->nr_pages = DIV_ROUND_UP(e.bytes, PAGE_SIZE);
	p += XREPL_META_BLOCK_SIZE;
	left = e.bytes;
	for (i = 0; i < ent->nr_pages; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

		ent->pages[i] = mempool_alloc(&jnl->rb_pages, GFP_NOIO);
		memcpy(page_address(ent->pages[i]), p, len);
		p += len;
		left -= len;
	}
	*ep = e;
	return ent;
}

/*
 * ship_work, no lock held: feed the ship queue the replay's next entry,
 * read from the log, ahead of the entries after it (which wait in the
 * queue behind it), once the queue's entries before it were all let go;
 * end the replay when its entries were all read, or stop it if the
 * remote degraded.  The entries in flight bound what it reads ahead.
 */
void xrepl_jnl_replay_feed(struct xrepl_pair *pair, bool *redispatch)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_shipent *ent, *pos;
	struct xrepl_jnl_entry e;
	const char *why = NULL;
	u64 seq, block, at, inc, lim, now, age;
	struct xrepl_c *xc;
	bool failed, degraded, reached, spill;

	if (!jnl)
		return;
	spin_lock_irq(&pair->lock);
	if (!jnl->replay) {
		spin_unlock_irq(&pair->lock);
		return;
	}
	if (pair->degraded_by != XREPL_DEGRADED_NONE && !jnl->rp_stopped) {
		spin_unlock_irq(&pair->lock);
		jnl_replay_stop(pair);
		spin_lock_irq(&pair->lock);
	}
	if (jnl->rp_seq == jnl->rp_end) {
		/* Once the remote is done with what was read. */
		if (!jnl->rp_pending) {
			spin_unlock_irq(&pair->lock);
			jnl_replay_end(pair, redispatch);
			return;
		}
		spin_unlock_irq(&pair->lock);
		return;
	}
	ent = pair->shipq.next ? container_of(pair->shipq.next,
					      struct xrepl_shipent, s) : NULL;
	xc = pair->active;
	/*
	 * Shipping until a point, the entry read may be before it.  The
	 * next entry to send, if it is before the replay's next (read, or
	 * queued before a spill), goes first.
	 */
	if (!xc || (jnl->ship_held && !jnl->until_ns) ||
	    (ent && ent->jseq && ent->jseq < jnl->rp_seq) ||
	    pair->shipq.inflight >= pair->shipq.max_inflight) {
		spin_unlock_irq(&pair->lock);
		return;
	}
	seq = jnl->rp_seq;
	block = jnl->rp_block;
	at = block;
	inc = jnl->rp_inc;
	/* Entries from rp_end on may still be appended: not read ahead. */
	lim = jnl->rp_end_block;
	spill = jnl->rp_spill;
	spin_unlock_irq(&pair->lock);

	jnl->rp_rd->lim = lim;
	ent = jnl_replay_read(pair, xc, seq, &block, inc, &e, &why);
	spin_lock_irq(&pair->lock);
	if (!ent) {
		/* The log read whole at load, or appended, is not now. */
		failed = jnl_fail_locked(jnl);
		degraded = xrepl_degrade_locked(pair, XREPL_DEGRADED_JOURNAL);
		spin_unlock_irq(&pair->lock);
		if (spill)
			DMERR_LIMIT("%s: journal: entry %llu at block %llu: %s",
				    dm_device_name(pair->md), seq, at, why);
		else
			DMERR("%s: journal: the replay cannot read entry %llu at block %llu: %s",
			      dm_device_name(pair->md), seq, at, why);
		if (failed)
			jnl_report_failed(pair, spill ? "a read-back" :
					  "a replay's read", -EIO);
		else if (degraded)
			xrepl_raise_event(xc);
		return;
	}
	if (!jnl->replay || pair->degraded_by != XREPL_DEGRADED_NONE) {
		/* Degraded meanwhile: the replay's end marks its regions. */
		spin_unlock_irq(&pair->lock);
		xrepl_ship_free(pair, ent);
		return;
	}
	jnl->rp_seq = seq + 1;
	jnl->rp_block = xrepl_jnl_next_block(&jnl->rp_rd->info, &e, block);
	/* What follows the log found is of the new incarnation. */
	jnl->rp_inc = jnl->rp_seq == jnl->rp_end ? jnl->incarnation :
		      e.incarnation;
	jnl->rp_pending++;
	/* Queued when it was made, for the age of the lag (oldest_lag_ms). */
	now = ktime_get_ns();
	age = ktime_get_real_ns() - min(e.time_ns, ktime_get_real_ns());
	/* Not 0, which would say the queue is empty. */
	ent->s.queued_ns = now - min(age, now - 1);
	/*
	 * On the log in seq order: after the entries before it (read, or
	 * queued before a spill), before those after it.
	 */
	list_for_each_entry(pos, &jnl->log, jlog)
		if (pos->jseq > ent->jseq)
			break;
	list_add_tail(&ent->jlog, &pos->jlog);
	xrepl_shipq_insert_locked(&pair->shipq, &ent->s);
	/* The entry read is the ship point now: it may be at the point. */
	reached = jnl_until_check_locked(pair);
	spin_unlock_irq(&pair->lock);
	if (reached)
		xrepl_raise_event(xc);
}

/*
 * Must ent's write wait: does it overlap an entry on flight, or one
 * parked before it (any parked one, if ent is not parked), or is one
 * before it waiting for room in the log?  A flush has no sectors and
 * overlaps nothing.  lock held.
 */
static bool jnl_blocked_locked(const struct xrepl_jnl *jnl,
			       const struct xrepl_shipent *ent)
{
	const struct xrepl_shipent *f;

	list_for_each_entry(f, &jnl->parked, jpark) {
		if (f == ent)
			break;
		if (f->jroom || xrepl_ship_overlap(&ent->s, &f->s))
			return true;
	}
	list_for_each_entry(f, &jnl->flight, jflight)
		if (xrepl_ship_overlap(&ent->s, &f->s))
			return true;
	return false;
}

/*
 * ent's local write and (journaled) its append completed: it leaves
 * flight, and the parked writes are looked at again (by overlap_work:
 * this may be an endio).  lock held.
 */
void xrepl_jnl_landed_locked(struct xrepl_pair *pair,
			     struct xrepl_shipent *ent)
{
	struct xrepl_jnl *jnl = pair->jnl;

	list_del_init(&ent->jflight);
	/* Journaled: the log carries it (its append completed, in order). */
	if (ent->jseq && ent->tracked && !ent->settled) {
		ent->settled = true;
		xrepl_gate_settle(pair, ent->first, ent->last);
	}
	if (!list_empty(&jnl->parked))
		queue_work(jnl->wq, &jnl->overlap_work);
}

enum jnl_settle { JNL_WAIT, JNL_ACK_WAIT, JNL_COMPLETE };

/*
 * Has ent's write (jbio) what it waits for: its local write and its
 * append, with every earlier one?  Then it completes (JNL_COMPLETE, with
 * jbio's status set), unless it waits for the remote too (semi-sync, or
 * a switch to sync draining): then on ack_wait, as without a journal
 * (JNL_ACK_WAIT: the caller has ship_work run now).  lock held.
 */
static enum jnl_settle jnl_settle_locked(struct xrepl_pair *pair,
					 struct xrepl_shipent *ent)
{
	struct bio *bio = ent->jbio;
	struct xrepl_io *io;

	if (!bio || !ent->local_done || !ent->appended)
		return JNL_WAIT;
	ent->jbio = NULL;
	io = xrepl_io(bio);
	if (ent->local_status == BLK_STS_OK &&
	    (io->flags & XREPL_IO_ACK_WAIT) && !ent->remote_done &&
	    xrepl_ack_wait_add_locked(pair, ent, bio, io->deadline_ns,
				      ktime_get_ns()))
		return JNL_ACK_WAIT;
	bio->bi_status = ent->local_status;
	return JNL_COMPLETE;
}

/*
 * The held barrier append whose turn came (every earlier append
 * completed), or NULL.  held is in the order the appends were held,
 * which need not be their sequence order.  lock held.
 */
static struct bio *jnl_held_take_locked(struct xrepl_jnl *jnl)
{
	struct bio *bio, *prev = NULL;

	for (bio = jnl->held.head; bio; prev = bio, bio = bio->bi_next) {
		struct xrepl_shipent *ent = bio->bi_private;

		if (ent->jseq != jnl->appended_seq + 1)
			continue;
		if (prev)
			prev->bi_next = bio->bi_next;
		else
			jnl->held.head = bio->bi_next;
		if (jnl->held.tail == bio)
			jnl->held.tail = prev;
		bio->bi_next = NULL;
		return bio;
	}
	return NULL;
}

static void jnl_pages_drop_locked(struct xrepl_pair *pair,
				  struct xrepl_shipent *ent)
{
	unsigned int i;

	for (i = 0; i < ent->nr_pages; i++) {
		mempool_free(ent->pages[i], &pair->ship_pages);
		ent->pages[i] = NULL;
	}
	ent->jdropped = true;
}

/*
 * ent, appended, is to join the ship queue past the memory it may use:
 * may it be spilled, kept in the log only?  Its write must not wait for
 * the remote (semi-sync, a drain to sync: it would be acknowledged
 * without it), and it must come right after the entries a replay has
 * still to read, or start a replay of its own.  lock held.
 */
static bool jnl_spills_locked(struct xrepl_pair *pair,
			      const struct xrepl_shipent *ent)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl->usable || !ent->jbio ||
	    (xrepl_io(ent->jbio)->flags & XREPL_IO_ACK_WAIT))
		return false;
	/*
	 * Copies wait for a replay's end: while one is wanted, the run
	 * grows no more, so that it ends once read (nor does one start).
	 */
	if (pair->resync_active || pair->verify_active)
		return false;
	if (jnl->replay)
		return !jnl->rp_stopped && jnl->rp_seq != jnl->rp_end &&
		       ent->jseq == jnl->rp_end;
	return true;
}

/*
 * Spill ent: the ship queue does not get it, its memory goes (its
 * descriptor once its local write completed too: then on put), and
 * ship_work reads it back from the log in its turn, as a replay does
 * (xrepl_jnl_replay_feed()).  It leaves the lag, where the replay counts
 * as one write, and the gate: its regions are in walk_regions, made
 * dirty if the remote degrades before it has them (marked again if the
 * journal fails), and no copy or verify runs until the replay ended;
 * marks go by the log only meanwhile.  lock held.
 */
static bool jnl_spill_locked(struct xrepl_pair *pair,
			     struct xrepl_shipent *ent, struct list_head *put)
{
	struct xrepl_jnl *jnl = pair->jnl;
	unsigned long first, last;

	if (!jnl->replay) {
		jnl->replay = true;
		jnl->rp_spill = true;
		jnl->rp_stopped = false;
		jnl->rp_seq = ent->jseq;
		jnl->rp_block = ent->jblock;
		jnl->rp_inc = ent->jinc;
		/* Every entry before it is on the remote once they are done. */
		jnl->rp_done_ns = ent->jtime_ns;
		jnl->rp_first_ns = ent->jtime_ns;
		jnl->rp_rmin = ULONG_MAX;
		jnl->rp_rmax = 0;
		xrepl_lag_add(&pair->lag, 0);
	}
	jnl->rp_end = ent->jseq + 1;
	jnl->rp_end_block = jnl_block_after(jnl, ent->jblock,
					    xrepl_jnl_entry_blocks(ent->s.bytes));
	if (xrepl_range_to_regions(&pair->geom, ent->s.sector,
				   ent->s.nr_sectors, &first, &last)) {
		xrepl_bitmap_set_range(&jnl->walk_regions, first, last);
		jnl->rp_rmin = min(jnl->rp_rmin, first);
		jnl->rp_rmax = max(jnl->rp_rmax, last);
	}
	jnl_pages_drop_locked(pair, ent);
	list_del_init(&ent->jlog);
	/* Done with on the remote's side: its write does not wait for it. */
	ent->remote_done = true;
	if (ent->local_done)
		list_add_tail(&ent->s.list, put);
	return xrepl_lag_leave_locked(pair, ent->s.bytes);
}

/*
 * ent, appended, joins the ship queue.  The entries kept there in memory
 * get half of max_lag_kb (the other half is for the writes on their way
 * to the log, xrepl_lag_fit_locked()): past it, ent is spilled (held by
 * the log only, jnl_spill_locked()), or, if it may not be, its data is
 * held by the log only, and read back when it ships.  Not if the journal
 * failed (its append may be the one that did).  ent no longer counts as
 * on its way: the writes that wait for memory are admitted as they fit.
 * Returns whether ent was spilled (*redispatch: whether writes that
 * waited were moved to lag_ready).  lock held.
 */
static bool jnl_join_locked(struct xrepl_pair *pair, struct xrepl_shipent *ent,
			    struct list_head *put, bool *redispatch)
{
	struct xrepl_jnl *jnl = pair->jnl;
	u64 half = (u64)READ_ONCE(ent->xc->args.max_lag_kb) << 9;
	bool past = jnl->usable && jnl->kept &&
		    jnl->kept_bytes + ent->s.bytes > half;

	/*
	 * Right after entries a replay has still to read, it joins them
	 * (past or not): else it would wait in memory behind them, and so
	 * would every entry after it.
	 */
	if ((past || jnl->replay) && jnl_spills_locked(pair, ent)) {
		*redispatch |= jnl_spill_locked(pair, ent, put);
		*redispatch |= xrepl_lag_room_locked(pair);
		return true;
	}
	if (past && ent->nr_pages) {
		jnl_pages_drop_locked(pair, ent);
		jnl->dropped++;
		jnl->dropped_bytes += ent->s.bytes;
	} else {
		ent->jkept = true;
		jnl->kept++;
		jnl->kept_bytes += ent->s.bytes;
	}
	*redispatch |= xrepl_lag_room_locked(pair);
	return false;
}

/*
 * The appends up to appended_seq + 1 and on may have completed: the
 * entries they cover, in order, join the ship queue (or are given up on,
 * the remote degraded), and their writes complete if their local write
 * did.  A barrier append whose turn came goes to the submitter.  Entries
 * done with both legs go on put.  *soon: ship_work is to run within a
 * jiffy; *now: at once (a write waits for the remote, or the lag changed
 * while the remote is degraded).  Returns whether deferred writes were
 * moved to lag_ready.  lock held.
 */
static bool jnl_advance_locked(struct xrepl_pair *pair, struct bio_list *acks,
			       struct list_head *put, bool *soon, bool *now)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_shipent *ent;
	bool redispatch = false;
	struct bio *bio;

	while (!list_empty(&jnl->appending)) {
		ent = list_first_entry(&jnl->appending, struct xrepl_shipent,
				       jappend);
		if (!ent->append_done)
			break;
		list_del_init(&ent->jappend);
		ent->appended = true;
		jnl->appended_seq = ent->jseq;
		/* In the ship queue (or given up on) from now on. */
		if (ent->local_done)
			xrepl_jnl_landed_locked(pair, ent);
		if (pair->degraded_by == XREPL_DEGRADED_NONE) {
			if (!jnl_join_locked(pair, ent, put, &redispatch)) {
				ent->s.queued_ns = ktime_get_ns();
				xrepl_shipq_add_locked(&pair->shipq, &ent->s);
			}
			*soon = true;
		} else {
			/* ship_work ends a congestion once the lag is empty. */
			*now = true;
			xrepl_ship_lost_locked(pair, ent);
			redispatch |= xrepl_lag_leave_locked(pair, ent->s.bytes);
			xrepl_jnl_shipped_locked(pair, ent, false);
			ent->remote_done = true;
			/* Its local write completed: done with. */
			if (ent->local_done)
				list_add_tail(&ent->s.list, put);
		}
		bio = ent->jbio;
		switch (jnl_settle_locked(pair, ent)) {
		case JNL_COMPLETE:
			bio_list_add(acks, bio);
			break;
		case JNL_ACK_WAIT:
			*now = true;
			break;
		case JNL_WAIT:
			break;
		}
	}
	/* Not from here (any context): from the submitter. */
	bio = jnl_held_take_locked(jnl);
	if (bio) {
		bio_list_add(&jnl->go, bio);
		queue_work(pair->remote_wq, &jnl->submit_work);
	}
	return redispatch;
}

static void jnl_ack_bios(struct bio_list *acks)
{
	struct bio *bio;

	while ((bio = bio_list_pop(acks)))
		xrepl_ack_bio(bio, bio->bi_status);
}

/* Submit the barrier appends whose turn came (on remote_wq). */
static void jnl_submit_work(struct work_struct *work)
{
	struct xrepl_jnl *jnl = container_of(work, struct xrepl_jnl,
					     submit_work);
	struct xrepl_pair *pair = jnl->pair;
	struct bio_list go;
	struct bio *bio;

	spin_lock_irq(&pair->lock);
	go = jnl->go;
	bio_list_init(&jnl->go);
	spin_unlock_irq(&pair->lock);
	while ((bio = bio_list_pop(&go)))
		submit_bio_noacct(bio);
}

/*
 * Map again, in the order they came, the parked writes that no longer
 * overlap an entry on flight or one parked before them (on jnl->wq, not
 * with submit_work: a write here may wait for a header block that a
 * barrier append on go holds).  Each is journaled, or waits again for
 * room in the log (then so do the rest), or ships unjournaled; a write
 * mapped meanwhile that overlaps it parks behind it, so it cannot be
 * passed.
 */
static void jnl_overlap_work(struct work_struct *work)
{
	struct xrepl_jnl *jnl = container_of(work, struct xrepl_jnl,
					     overlap_work);
	struct xrepl_pair *pair = jnl->pair;
	struct xrepl_shipent *ent;
	struct blk_plug plug;
	struct bio *bio;

	blk_start_plug(&plug);
	for (;;) {
		bio = NULL;
		spin_lock_irq(&pair->lock);
		list_for_each_entry(ent, &jnl->parked, jpark) {
			/* Waits for room that has not come: so do the rest. */
			if (ent->jroom && ent->jroom_gen == jnl->room_gen)
				break;
			if (!jnl_blocked_locked(jnl, ent)) {
				bio = ent->jpbio;
				break;
			}
		}
		spin_unlock_irq(&pair->lock);
		if (!bio)
			break;
		/* Only this work takes an entry off parked: it goes now. */
		if (!xrepl_jnl_write(xrepl_io(bio)->xc, bio, xrepl_io(bio)))
			xrepl_write_unjournaled(xrepl_io(bio)->xc, bio);
	}
	blk_finish_plug(&plug);
}

static void jnl_put_list(struct xrepl_pair *pair, struct list_head *put)
{
	struct xrepl_shipent *ent, *tmp;

	list_for_each_entry_safe(ent, tmp, put, s.list) {
		list_del(&ent->s.list);
		xrepl_ship_put(pair, ent);
	}
}

static void jnl_append_endio(struct bio *bio)
{
	struct xrepl_shipent *ent = bio->bi_private;
	struct xrepl_pair *pair = ent->xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	struct bio_list acks = BIO_EMPTY_LIST;
	blk_status_t status = bio->bi_status;
	bool failed = false, soon = false, now = false, redispatch;
	unsigned long flags;
	LIST_HEAD(put);

	bio_put(bio);
	mempool_free(ent->jhdr, &jnl->hdr_pages);
	ent->jhdr = NULL;
	spin_lock_irqsave(&pair->lock, flags);
	ent->append_done = true;
	/* The entry still ships from memory; the bitmap marks its regions. */
	if (status)
		failed = jnl_fail_locked(jnl);
	redispatch = jnl_advance_locked(pair, &acks, &put, &soon, &now);
	/*
	 * The pair lives while appends is not 0 (xrepl_ship_idle()).  Writes
	 * acknowledged already ship within a jiffy, in batches, as without
	 * a journal; one that waits for the remote, at once.
	 */
	if (redispatch || now)
		xrepl_ship_kick(pair, redispatch);
	else if (soon)
		xrepl_ship_soon(pair);
	spin_unlock_irqrestore(&pair->lock, flags);

	jnl_put_list(pair, &put);
	if (failed)
		jnl_report_failed(pair, "an append", blk_status_to_errno(status));
	jnl_ack_bios(&acks);

	/* Last, and under the lock xrepl_ship_idle() takes. */
	spin_lock_irqsave(&pair->lock, flags);
	if (!--jnl->appends)
		wake_up(&pair->ship_wait);
	spin_unlock_irqrestore(&pair->lock, flags);
}

/* The data checksum of ent: of its bytes, in its pages. */
static u32 jnl_pages_csum(const struct xrepl_shipent *ent)
{
	unsigned int i, left = ent->s.bytes;
	u32 crc = XREPL_META_CSUM_SEED;

	for (i = 0; i < ent->nr_pages; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

		crc = xrepl_jnl_data_csum(crc, page_address(ent->pages[i]), len);
		left -= len;
	}
	return crc;
}

/* The header of ent, the entry of bio. */
static void jnl_entry_fill(struct xrepl_shipent *ent, struct bio *bio,
			   struct xrepl_jnl_entry *e)
{
	e->sector = ent->s.sector;
	e->nr_sectors = ent->s.nr_sectors;
	e->bytes = ent->s.bytes;
	e->blocks = xrepl_jnl_entry_blocks(e->bytes);
	switch (bio_op(bio)) {
	case REQ_OP_DISCARD:
		e->op = XREPL_JNL_OP_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		e->op = XREPL_JNL_OP_WRITE_ZEROES;
		break;
	default:
		e->op = e->bytes ? XREPL_JNL_OP_WRITE : XREPL_JNL_OP_FLUSH;
		break;
	}
	e->op_flags = 0;
	if (bio->bi_opf & REQ_PREFLUSH)
		e->op_flags |= XREPL_JNL_PREFLUSH;
	if (bio->bi_opf & REQ_FUA)
		e->op_flags |= XREPL_JNL_FUA;
	if (bio->bi_opf & REQ_NOUNMAP)
		e->op_flags |= XREPL_JNL_NOUNMAP;
	e->data_csum = jnl_pages_csum(ent);
	ent->jcsum = e->data_csum;
}

/* The append bio of ent: its header block, then its data. */
static void jnl_append_fill(struct xrepl_jnl *jnl, struct xrepl_shipent *ent,
			    struct bio *append)
{
	unsigned int i, left = ent->s.bytes;

	append->bi_iter.bi_sector = ent->jblock * JNL_BLOCK_SECTORS;
	__bio_add_page(append, ent->jhdr, XREPL_META_BLOCK_SIZE, 0);
	for (i = 0; i < ent->nr_pages; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);
		unsigned int padded = round_up(len, XREPL_META_BLOCK_SIZE);

		/* Zero to the end of its block; the remote gets len bytes. */
		if (padded > len)
			memset(page_address(ent->pages[i]) + len, 0,
			       padded - len);
		__bio_add_page(append, ent->pages[i], padded, 0);
		left -= len;
	}
	append->bi_end_io = jnl_append_endio;
	append->bi_private = ent;
}

/*
 * ent's pages were dropped when it joined the ship queue: read its data
 * (and the zeroes after it, to the end of its last block) from the log
 * into pages of rb_pages, and check it against its header's checksum.
 * Read back, it counts as kept in memory.  A read error or a wrong
 * checksum fails the journal and degrades the remote (the entries after
 * ent cannot follow it).  Returns whether ent is to be sent: not if it
 * was not read back, or if the remote degraded meanwhile; the caller then
 * gives up on it (its regions are marked).  Only ship_work reads back, one
 * entry at a time, so rb_pages always holds one entry's pages, or gets
 * them back as the remote completes entries.  Sleeps (GFP_NOIO).
 */
bool xrepl_jnl_read_back(struct xrepl_pair *pair, struct xrepl_shipent *ent)
{
	struct xrepl_jnl *jnl = pair->jnl;
	unsigned int i, left = ent->s.bytes;
	bool failed, degraded, send;
	struct xrepl_c *event;
	struct bio *bio;
	int r;

	/*
	 * From the remote's bio_set, as the entry's remote write next: not
	 * the appends', whose barriers wait for submit_work on this queue.
	 */
	bio = bio_alloc_bioset(jnl->bdev, ent->nr_pages, REQ_OP_READ | REQ_SYNC,
			       GFP_NOIO, &pair->ship_bs);
	bio->bi_iter.bi_sector = (ent->jblock + 1) * JNL_BLOCK_SECTORS;
	ent->jread = true;
	for (i = 0; i < ent->nr_pages; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

		ent->pages[i] = mempool_alloc(&jnl->rb_pages, GFP_NOIO);
		__bio_add_page(bio, ent->pages[i],
			       round_up(len, XREPL_META_BLOCK_SIZE), 0);
		left -= len;
	}
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (!r && jnl_pages_csum(ent) != ent->jcsum)
		r = -EILSEQ;
	spin_lock_irq(&pair->lock);
	if (!r) {
		/* In memory now, its pages rb_pages' (jdropped stays). */
		jnl->dropped--;
		jnl->dropped_bytes -= ent->s.bytes;
		ent->jkept = true;
		jnl->kept++;
		jnl->kept_bytes += ent->s.bytes;
		send = pair->degraded_by == XREPL_DEGRADED_NONE;
		spin_unlock_irq(&pair->lock);
		return send;
	}
	failed = jnl_fail_locked(jnl);
	/* The journal failed earlier: not degraded for it then. */
	degraded = xrepl_degrade_locked(pair, XREPL_DEGRADED_JOURNAL);
	if (degraded)
		xrepl_ship_now(pair);
	event = pair->active;
	spin_unlock_irq(&pair->lock);
	DMERR_LIMIT("%s: journal: entry %llu at block %llu: %s",
		    dm_device_name(pair->md), ent->jseq, ent->jblock,
		    r == -EILSEQ ? "data checksum mismatch" : "read error");
	if (failed)
		jnl_report_failed(pair, "a read-back", r);
	else if (degraded && event)
		xrepl_raise_event(event);
	return false;
}

/* ent was dropped: its pages, if read back, go back to rb_pages. */
void xrepl_jnl_pages_free(struct xrepl_pair *pair, struct xrepl_shipent *ent)
{
	unsigned int i;

	if (!ent->jread)
		return;
	for (i = 0; i < ent->nr_pages; i++)
		if (ent->pages[i])
			mempool_free(ent->pages[i], &pair->jnl->rb_pages);
}

/* The log was full: the remote degraded (congestion degrade). */
static void jnl_report_full(struct xrepl_c *xc)
{
	DMWARN("%s: journal full, replication degraded", xrepl_name(xc));
	xrepl_raise_event(xc);
	/* ship_work drops the buffer. */
	xrepl_ship_now(xc->pair);
}

/*
 * Journal the entry of a write that ships (io->ship, its data copied):
 * append it and issue the local write, both completing the bio
 * (xrepl_jnl_end_io(), jnl_append_endio()); or, while it overlaps an
 * entry on flight or parked, or waits for room in the log (congestion
 * block), park it (overlap_work calls this again).  Returns false if the
 * journal is not in use, or has no room while the remote is degraded
 * (congestion degrade degrades it): the write then ships as without a
 * journal (the bitmap marks its regions until the remote has it), its
 * entry on flight until its local write completed.  May sleep
 * (GFP_NOIO).
 */
bool xrepl_jnl_write(struct xrepl_c *xc, struct bio *bio, struct xrepl_io *io)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_shipent *ent = io->ship;
	bool barrier = ent->s.flags & XREPL_SHIP_BARRIER;
	struct xrepl_jnl_entry e = {};
	struct bio *append = NULL, *local;
	struct page *hdr = NULL;
	u64 start, now, id, block, inc;
	bool submit, use, in_use, placed = false, degraded = false;

	/* The journal does not come back once it failed. */
	use = READ_ONCE(jnl->usable);
	if (use) {
		jnl_entry_fill(ent, bio, &e);
		hdr = mempool_alloc(&jnl->hdr_pages, GFP_NOIO);
		append = bio_alloc_bioset(jnl->bdev, 1 + ent->nr_pages,
					  REQ_OP_WRITE | REQ_SYNC |
					  (barrier ? REQ_PREFLUSH | REQ_FUA : 0),
					  GFP_NOIO, &jnl->bs);
	}

	spin_lock_irq(&pair->lock);
	if (jnl_blocked_locked(jnl, ent))
		goto park;
	/* In use, and what it needs allocated (use: freed if unused). */
	in_use = use && jnl->usable;
	if (in_use) {
		placed = jnl_place_locked(jnl, e.blocks, &start);
		/* Room comes with a commit, once the tail moved. */
		if (!placed &&
		    jnl_tail_locked(jnl, &block, &inc) != jnl->ctail_seq)
			jnl_commit_soon_locked(pair, true);
	}
	/*
	 * The log full, the remote replicating: the congestion policy, as
	 * for the lag.  block: the write waits for room (a tail commit), and
	 * the writes after it wait behind it.  degrade: replication stops,
	 * and the write goes to the local leg only (its regions marked).
	 */
	if (in_use && !placed && pair->degraded_by == XREPL_DEGRADED_NONE) {
		if (xrepl_congestion_waits_locked(xc) || pair->draining) {
			if (!ent->jroom)
				pair->lag_waits++;
			ent->jroom = true;
			ent->jroom_gen = jnl->room_gen;
			goto park;
		}
		degraded = xrepl_degrade_locked(pair,
						XREPL_DEGRADED_CONGESTION);
	}
	/*
	 * The write skips the log of a journal in use (the log full): once
	 * it is acknowledged, a load must not replay the log, so the
	 * metadata says so first.  Its superblock write lets the write go
	 * (meta_write_sb()), or the metadata device's failure does.
	 */
	if (in_use && !placed && !pair->log_stale) {
		pair->log_stale = true;
		xrepl_sb_changed_locked(pair);
	}
	if (in_use && !placed && !pair->sb_log_stale && !pair->meta_failed) {
		queue_work(pair->meta_wq, &pair->commit_work);
		ent->jroom = true;
		ent->jroom_gen = jnl->room_gen;
		goto park;
	}
	list_del_init(&ent->jpark);
	ent->jpbio = NULL;
	ent->jroom = false;
	if (!placed) {
		/* Unjournaled: on flight until its local write completed. */
		list_add_tail(&ent->jflight, &jnl->flight);
		spin_unlock_irq(&pair->lock);
		if (use) {
			bio_put(append);
			mempool_free(hdr, &jnl->hdr_pages);
		}
		if (degraded)
			jnl_report_full(xc);
		return false;
	}
	e.seq = jnl->head_seq++;
	jnl->head_block = jnl_block_after(jnl, start, e.blocks);
	/* A flush or FUA write is an epoch of its own. */
	if (barrier)
		jnl->epoch++;
	e.epoch = jnl->epoch;
	if (barrier)
		jnl->epoch++;
	/* Times along the log never decrease, even if the clock steps back. */
	now = ktime_get_real_ns();
	e.time_ns = max(now, jnl->last_time_ns);
	jnl->last_time_ns = e.time_ns;
	ent->jtime_ns = e.time_ns;
	e.incarnation = jnl->incarnation;
	ent->jseq = e.seq;
	ent->jinc = e.incarnation;
	ent->jblock = start;
	ent->jhdr = hdr;
	ent->jbio = bio;
	/* Joins the ship queue before its local write may complete. */
	ent->early = true;
	list_add_tail(&ent->jappend, &jnl->appending);
	list_add_tail(&ent->jlog, &jnl->log);
	list_add_tail(&ent->jflight, &jnl->flight);
	jnl->appends++;
	io->flags |= XREPL_IO_JNL;
	id = jnl->journal_id;
	spin_unlock_irq(&pair->lock);

	xrepl_jnl_hdr_encode(page_address(hdr), id, &e);
	jnl_append_fill(jnl, ent, append);
	/*
	 * A barrier's append flushes the appends before it, so it goes once
	 * they completed: the log is then durable up to it.
	 */
	spin_lock_irq(&pair->lock);
	submit = !barrier || jnl->appended_seq + 1 == ent->jseq;
	if (!submit)
		bio_list_add(&jnl->held, append);
	spin_unlock_irq(&pair->lock);
	if (submit)
		submit_bio_noacct(append);

	/* The local write goes as a clone: the bio completes when both did. */
	if (io->flags & XREPL_IO_TRACKED)
		xrepl_trk_issue(pair, io);
	local = bio_alloc_clone(xc->local->bdev, bio, GFP_NOIO, &pair->bs);
	bio_clear_polled(local);
	local->bi_end_io = xrepl_local_endio;
	local->bi_private = bio;
	dm_submit_bio_remap(bio, local);
	return true;

park:
	/* A parked write keeps its place. */
	if (list_empty(&ent->jpark)) {
		ent->jpbio = bio;
		list_add_tail(&ent->jpark, &jnl->parked);
	}
	spin_unlock_irq(&pair->lock);
	if (use) {
		bio_put(append);
		mempool_free(hdr, &jnl->hdr_pages);
	}
	if (degraded)
		jnl_report_full(xc);
	return true;
}

/*
 * The local write of a journaled bio completed.  Returns DM_ENDIO_DONE if
 * the bio completes now (with *error), or DM_ENDIO_INCOMPLETE if it waits
 * for its append, or for the remote.  The later of the entry's two ends,
 * local and remote, frees it; if that is this one, the bio leaves the
 * gate here.
 */
int xrepl_jnl_end_io(struct xrepl_pair *pair, struct bio *bio,
		     blk_status_t *error)
{
	struct xrepl_io *io = xrepl_io(bio);
	struct xrepl_shipent *ent = io->ship;
	bool tracked = io->flags & XREPL_IO_TRACKED;
	bool started = false, done_with, settled;
	enum jnl_settle settle;
	unsigned long flags;

	spin_lock_irqsave(&pair->lock, flags);
	ent->local_done = true;
	ent->local_status = *error;
	if (ent->appended)
		xrepl_jnl_landed_locked(pair, ent);
	if (*error != BLK_STS_OK) {
		pair->local_errors++;
		if (tracked) {
			xrepl_mark_dirty_locked(pair, io->first, io->last);
			if (pair->degraded_by == XREPL_DEGRADED_NONE)
				started = xrepl_resync_start_locked(pair);
		}
	}
	done_with = ent->remote_done;
	settled = ent->settled;
	settle = jnl_settle_locked(pair, ent);
	/* Before the lock goes: once acknowledged, the pair may go. */
	if (settle == JNL_ACK_WAIT)
		xrepl_ship_now(pair);
	spin_unlock_irqrestore(&pair->lock, flags);

	/* The remote's end (or the entry's drop) was first: it is ours. */
	if (done_with) {
		io->ship = NULL;
		xrepl_ship_free(pair, ent);
		if (settled)
			xrepl_gate_exit_settled(pair, io->first, io->last);
		else if (tracked)
			xrepl_gate_exit(pair, io->first, io->last);
	}
	if (started)
		xrepl_raise_event(io->xc);
	return settle == JNL_COMPLETE ? DM_ENDIO_DONE : DM_ENDIO_INCOMPLETE;
}

/*
 * Have a tail commit run within a second, or at once if urgent: unless
 * one is due already (as soon), or the journal is not in use.  lock held.
 */
static void jnl_commit_soon_locked(struct xrepl_pair *pair, bool urgent)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl->usable || jnl->stopped ||
	    (jnl->commit_queued &&
	     (jnl->commit_urgent || jnl->commit_retry || !urgent)))
		return;
	jnl->commit_queued = true;
	jnl->commit_urgent = urgent;
	mod_delayed_work(pair->wq, &jnl->commit_work, urgent ? 0 : HZ);
}

/*
 * The remote completed ent (done: recorded until a tail commit passes it,
 * see xrepl_jnl_ship_wait_locked(), which sends an entry only with a
 * record left for it).  With none left (not expected), the entry's seq
 * is remembered instead: nothing is sent until a commit passed it, and a
 * lost flush makes every region dirty.  lock held.
 */
static void jnl_done_add_locked(struct xrepl_jnl *jnl,
				const struct xrepl_shipent *ent)
{
	struct xrepl_jnl_done *d;

	/* Out of use, the marks cover it (jnl_cover_locked()). */
	if (!ent->s.nr_sectors || !jnl->usable)
		return;
	/*
	 * Degraded, the remote is not flushed by tail commits and may lose
	 * it: its regions become dirty.
	 */
	if (jnl->pair->degraded_by != XREPL_DEGRADED_NONE) {
		if (xrepl_ship_ranged(ent))
			xrepl_mark_dirty_locked(jnl->pair, ent->first, ent->last);
		return;
	}
	d = list_first_entry_or_null(&jnl->done_free, struct xrepl_jnl_done,
				     list);
	if (!d) {
		jnl->done_unrec = max(jnl->done_unrec, ent->jseq);
		return;
	}
	list_move_tail(&d->list, &jnl->done_list);
	d->start = ent->s.sector;
	d->last = ent->s.sector + ent->s.nr_sectors - 1;
	d->seq = ent->jseq;
	jnl_done_insert(d, &jnl->done_tree);
	jnl->done_nr++;
}

/*
 * The tail on disk moved: the records of the entries before it go, and
 * ship_work, if it waits for that, runs.  lock held.
 */
static void jnl_done_prune_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_done *d, *tmp;

	list_for_each_entry_safe(d, tmp, &jnl->done_list, list) {
		if (d->seq >= jnl->ctail_seq)
			continue;
		jnl_done_remove(d, &jnl->done_tree);
		list_move(&d->list, &jnl->done_free);
		jnl->done_nr--;
	}
	if (jnl->done_unrec < jnl->ctail_seq)
		jnl->done_unrec = 0;
	if (jnl->ship_waits) {
		jnl->ship_waits = false;
		xrepl_ship_now(pair);
	}
}

/* Shipping until a point, is ent made before it?  lock held. */
static bool jnl_until_lets_locked(const struct xrepl_jnl *jnl,
				  const struct xrepl_shipent *ent)
{
	return jnl->until_ns && ent->jtime_ns < jnl->until_ns;
}

/*
 * May ent, the ship queue's next entry, not be sent yet?  A replay after
 * a crash sends the log again from the tail on disk, entries the remote
 * has included.  If ent overlapped an entry the remote completed after
 * that tail, the replay would put the older entry's data over ent's
 * while the remote holds entries after ent: a state no crash of the
 * source leaves.  So ent waits, until a tail commit (asked for at once)
 * passed every such entry.  Only journaled entries: the log of a journal
 * no longer in use is not replayed.  lock held.
 */
bool xrepl_jnl_ship_wait_locked(struct xrepl_pair *pair,
				const struct xrepl_shipent *ent)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl)
		return false;
	/*
	 * Held: nothing goes but, shipping until a point, what was made
	 * before it.  Nor once a suspend kept the entries not sent, for the
	 * table resumed next (xrepl_ship_retarget()).
	 */
	if ((jnl->ship_held && !jnl_until_lets_locked(jnl, ent)) ||
	    pair->ship_parked || !pair->active)
		return true;
	/*
	 * Delayed: ship_work runs again once the entry is old enough (an
	 * entry not journaled too, from when it was made).
	 */
	if (jnl->delay_ms) {
		u64 due = ent->jtime_ns + (u64)jnl->delay_ms * NSEC_PER_MSEC;
		u64 now = ktime_get_real_ns();

		if (due > now) {
			queue_delayed_work(pair->remote_wq, &pair->ship_work,
					   nsecs_to_jiffies(due - now) + 1);
			return true;
		}
	}
	/*
	 * An entry after those a replay has still to read goes after them:
	 * ship_work reads the next (the feed), and the completions of those
	 * in flight run it again.
	 */
	if (jnl->replay && jnl->rp_seq != jnl->rp_end &&
	    (!ent->jseq || ent->jseq >= jnl->rp_seq))
		return true;
	if (!ent->jseq || !ent->s.nr_sectors || !jnl->usable)
		return false;
	/* Every entry in flight has a record for its completion. */
	if (!jnl->done_unrec &&
	    jnl->done_nr + pair->shipq.inflight < jnl->done_max &&
	    !jnl_done_iter_first(&jnl->done_tree, ent->s.sector,
				 ent->s.sector + ent->s.nr_sectors - 1))
		return false;
	jnl->ship_waits = true;
	jnl_commit_soon_locked(pair, true);
	return true;
}

/*
 * The ship point (ns): every journaled write made before it is on the
 * remote (see xrepl_jnl_status_locked()); 0 while it is not known.  lock
 * held.
 */
static u64 jnl_point_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	const struct xrepl_shipent *ent;

	if (!jnl->usable || pair->degraded_by != XREPL_DEGRADED_NONE ||
	    !pair->consistent || pair->resync_active)
		return 0;
	ent = list_first_entry_or_null(&jnl->log, struct xrepl_shipent, jlog);
	if (ent && (!jnl->replay || ent->jseq < jnl->rp_seq))
		return ent->jtime_ns;
	/* The next entry to read is not older: 0 until one completed. */
	if (jnl->replay)
		return jnl->rp_done_ns;
	return jnl->last_time_ns;
}

/*
 * The ship point may have moved: whether it just reached the point
 * shipping goes until (a dm event is due; once per point).  Where it
 * moves: a completion, a replay's entry read, the replay's end.  lock
 * held.
 */
static bool jnl_until_check_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl->until_ns || jnl->until_reached ||
	    jnl_point_locked(pair) < jnl->until_ns)
		return false;
	jnl->until_reached = true;
	return true;
}

/*
 * ent (journaled) left the ship queue: the remote completed it (done), or
 * it was dropped.  The tail may move: a tail commit is due within a
 * second, or at once when half the log, or three quarters of the
 * records of completed entries, are in use.  Returns whether the remote
 * just reached the point shipping goes until (the caller raises a dm
 * event).  lock held.
 */
bool xrepl_jnl_shipped_locked(struct xrepl_pair *pair,
			      struct xrepl_shipent *ent, bool done)
{
	struct xrepl_jnl *jnl = pair->jnl;
	bool urgent;

	if (done)
		jnl_done_add_locked(jnl, ent);
	list_del_init(&ent->jlog);
	if (ent->jreplay) {
		if (done)
			jnl->rp_done_ns = max(jnl->rp_done_ns, ent->jtime_ns);
		/* The last one the replay waits for: ship_work ends it. */
		if (!--jnl->rp_pending && jnl->rp_seq == jnl->rp_end)
			xrepl_ship_now(pair);
	} else if (ent->jkept) {
		jnl->kept--;
		jnl->kept_bytes -= ent->s.bytes;
	} else if (ent->jdropped) {
		jnl->dropped--;
		jnl->dropped_bytes -= ent->s.bytes;
	}
	urgent = jnl_used_locked(jnl) * 2 > jnl->nr_blocks ||
		 jnl->done_nr * 4 > jnl->done_max * 3 || jnl->done_unrec;
	jnl_commit_soon_locked(pair, urgent);
	return done && jnl_until_check_locked(pair);
}

/*
 * ent, a barrier, completed on the remote, which was not degraded: it was
 * sent once every entry before it had completed, and with a flush first,
 * so those are durable there, and so is ent if it is a flush or a FUA
 * write.  Tail commits need no flush of their own up to there.  lock held.
 */
void xrepl_jnl_rflushed_locked(struct xrepl_pair *pair,
			       struct xrepl_shipent *ent)
{
	struct xrepl_jnl *jnl = pair->jnl;
	u64 seq = ent->jseq, block = ent->jblock;

	/* FUA makes a write durable; a discard's or a zeroing's, not surely. */
	if (!ent->s.nr_sectors ||
	    ((ent->opf & REQ_FUA) && (ent->opf & REQ_OP_MASK) == REQ_OP_WRITE)) {
		seq++;
		block = jnl_block_after(jnl, block,
					xrepl_jnl_entry_blocks(ent->s.bytes));
	}
	if (seq > jnl->rflushed_seq) {
		jnl->rflushed_seq = seq;
		jnl->rflushed_block = block;
		jnl->rflushed_inc = ent->jinc;
	}
}

/*
 * The journal's status figures: the log in use (from the tail on disk to
 * the head) and its size, in KiB, and the ship point: every journaled
 * write made before it (wall clock, ms) is on the remote.  That is the
 * time of the oldest entry the remote has not completed, or, the log
 * empty, of the newest write.  0 while it is not known: no journal in
 * use, no write yet, or a remote that is not a crash-consistent image
 * (degraded, or resyncing: its entries dropped are not on it).  "On the
 * remote": completed there, flushed at the next tail commit.  lock held.
 */
void xrepl_jnl_status_locked(struct xrepl_pair *pair, u64 *used_kb,
			     u64 *size_kb, u64 *point_ms)
{
	struct xrepl_jnl *jnl = pair->jnl;

	*used_kb = 0;
	*size_kb = 0;
	*point_ms = 0;
	/* nr_blocks is set (under the lock) once the superblock is written. */
	if (!jnl || !jnl->nr_blocks)
		return;
	*size_kb = (jnl->nr_blocks - XREPL_JNL_LOG_START) *
		   (XREPL_META_BLOCK_SIZE >> 10);
	if (!jnl->usable)
		return;
	*used_kb = jnl_used_locked(jnl) * (XREPL_META_BLOCK_SIZE >> 10);
	*point_ms = div_u64(jnl_point_locked(pair), NSEC_PER_MSEC);
}

bool xrepl_jnl_idle_locked(struct xrepl_pair *pair)
{
	return !pair->jnl || !pair->jnl->appends;
}

void xrepl_jnl_dirtied_locked(struct xrepl_pair *pair, unsigned long first,
			      unsigned long last)
{
	/* wi is loaded before the pair can dirty a region it was not. */
	if (!pair->jnl || !pair->wi.committed ||
	    find_next_zero_bit(pair->wi.committed, last + 1, first) > last)
		return;
	/*
	 * A mark the cleaner cleared by the log: asked for again now (a
	 * resync may copy the region before the next tail commit, and only
	 * the mark then covers the copy until the remote is flushed), and
	 * on disk before the tail passes the entry.
	 */
	xrepl_wi_request_locked(&pair->wi, first, last);
	pair->jnl->remark = true;
	/* Taken as committed once written, by whichever commit writes them. */
	pair->commit_all_wanted = true;
	queue_work(pair->meta_wq, &pair->commit_work);
}

/*
 * The remote failed a flush, or degraded (tail commits flush it no more):
 * it may lose any entry it completed since its last flush, the entries
 * the tail on disk is not past, whose marks the cleaner may have cleared
 * by the log.  Their regions (from the records of them) become dirty:
 * the records are walked once per degradation (no record is added while
 * degraded).  lock held.
 */
void xrepl_jnl_lost_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_done *d;
	unsigned long first, last;

	if (!jnl)
		return;
	if (jnl->lost_walked && jnl->lost_gen == pair->degrade_gen &&
	    pair->degraded_by != XREPL_DEGRADED_NONE)
		return;
	jnl->lost_walked = true;
	jnl->lost_gen = pair->degrade_gen;
	if (jnl->done_unrec) {
		xrepl_mark_all_dirty_locked(pair);
		return;
	}
	list_for_each_entry(d, &jnl->done_list, list)
		if (xrepl_range_to_regions(&pair->geom, d->start,
					   d->last - d->start + 1,
					   &first, &last))
			xrepl_mark_dirty_locked(pair, first, last);
}

bool xrepl_jnl_usable_locked(struct xrepl_pair *pair)
{
	return pair->jnl && pair->jnl->usable;
}

u64 xrepl_jnl_appended_locked(struct xrepl_pair *pair)
{
	return xrepl_jnl_usable_locked(pair) ? pair->jnl->appended_seq : 0;
}

/*
 * The cleaner is about to clear marks of regions whose writes settled,
 * their entries up to seq: the log is made durable up to there (the
 * superblock written with PREFLUSH and FUA), and durable_seq records it,
 * so that a walk after a crash knows an entry up to it missing for
 * damage (its marks may be gone).  Returns 0, or an error if the journal
 * is not in use or failed now: no mark may then go by it.  Process
 * context.
 */
int xrepl_jnl_make_durable(struct xrepl_pair *pair, u64 seq)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_info info;
	bool usable, fail = false;
	int r = 0;

	mutex_lock(&jnl->sb_lock);
	spin_lock_irq(&pair->lock);
	usable = jnl->usable;
	spin_unlock_irq(&pair->lock);
	if (!usable) {
		r = -EIO;
		goto out;
	}
	/* A PREFLUSH made them durable already. */
	if (jnl->info.durable_seq >= seq)
		goto out;
	info = jnl->info;
	info.durable_seq = seq;
	r = jnl_write_sb(jnl, &info, REQ_PREFLUSH);
	if (r) {
		spin_lock_irq(&pair->lock);
		fail = jnl_fail_locked(jnl);
		spin_unlock_irq(&pair->lock);
	}
out:
	mutex_unlock(&jnl->sb_lock);
	if (fail)
		jnl_report_failed(pair, "a superblock write", r);
	return r;
}

/*
 * A tail commit: the tail (the oldest entry the remote has not completed,
 * or the head) is sampled, the remote flushed, and the tail written to the
 * superblock with FUA; the log's space behind it is then free.  No flush
 * is needed up to the entries a barrier the remote completed flushed
 * (rflushed_seq): unless whole (a suspend, or the log short of room), a
 * commit records that far only, when it is further than the tail on disk.
 * remote is the remote leg's device, NULL if the remote is not attached.
 * retry: commit_work's (a failure re-arms it); cleaner: the cleaner's,
 * which leaves commit_work's flags alone.  commit_lock held: commits
 * run one at a time.  Process context.
 */
static int jnl_commit_locked(struct xrepl_pair *pair,
			     struct block_device *remote, bool retry,
			     bool whole, bool cleaner)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_info info;
	u64 seq, block, inc;
	unsigned long gen;
	bool degraded, moved, flushed, partial, remark;
	bool fail = false, failed_now = false;
	struct xrepl_c *event = NULL;
	int r = 0;

	spin_lock_irq(&pair->lock);
	/*
	 * Room is short, or a suspend: the whole tail, not a part of it.
	 * The cleaner's leaves commit_work's state alone.
	 */
	if (!cleaner) {
		whole |= jnl->commit_urgent;
		jnl->commit_queued = false;
		jnl->commit_urgent = false;
		jnl->commit_retry = false;
	}
	if (!jnl->usable) {
		spin_unlock_irq(&pair->lock);
		return 0;
	}
	seq = jnl_tail_locked(jnl, &block, &inc);
	gen = pair->degrade_gen;
	degraded = pair->degraded_by != XREPL_DEGRADED_NONE;
	/*
	 * A barrier the remote completed flushed every entry before it: up
	 * to there the tail needs no flush of its own (the tail is never
	 * before it: those entries completed).  A commit that is not whole
	 * records that far if it is further than the tail on disk, and
	 * re-arms itself for the rest: a second later, the whole tail, with
	 * a flush unless a barrier covers it by then.
	 */
	flushed = jnl->rflushed_seq >= seq;
	partial = !flushed && !whole && !degraded &&
		  jnl->rflushed_seq > jnl->ctail_seq;
	if (partial) {
		seq = jnl->rflushed_seq;
		block = jnl->rflushed_block;
		inc = jnl->rflushed_inc;
		flushed = true;
	}
	moved = seq != jnl->ctail_seq;
	spin_unlock_irq(&pair->lock);
	if (!moved)
		return 0;
	/*
	 * What the remote completed before the tail must be stable there.
	 * A degraded remote's entries were given up on: their regions are
	 * marked.
	 */
	if (!degraded && !flushed) {
		/* Given up (degraded meanwhile): the retry runs without. */
		r = remote ? xrepl_flush_leg(pair, remote, gen, false) : -ENODEV;
		if (r) {
			spin_lock_irq(&pair->lock);
			/*
			 * The remote failed the flush: any write it completed
			 * may be lost, as for a shipped flush.  Not so if
			 * there is no remote, if the flush was given up (the
			 * pair degraded meanwhile), or if no memory was left
			 * to issue it.  The retry records the tail, at once.
			 */
			if (remote && r != -ENOMEM && pair->degrade_gen == gen &&
			    pair->degraded_by == XREPL_DEGRADED_NONE) {
				failed_now = xrepl_remote_failed_locked(pair, false,
									0, 0);
				event = pair->active;
			}
			if (retry) {
				jnl_commit_soon_locked(pair, failed_now);
				/* Not hurried by writes that find no room. */
				jnl->commit_retry = !failed_now;
			}
			spin_unlock_irq(&pair->lock);
			if (failed_now && event)
				xrepl_report_degraded(event,
						      "remote flush error %d in a journal tail commit",
						      r);
			return r;
		}
	}

	/*
	 * Entries given up on since the last commit may leave the log with
	 * this one: their regions, dirty, are marked on disk first, as the
	 * cleaner may have cleared them by the log.  Those given up from now
	 * on are not before the tail sampled.
	 */
	spin_lock_irq(&pair->lock);
	/*
	 * Degraded, the remote is not flushed: it may lose what it completed
	 * since the tail on disk, which the cleaner may have cleared the
	 * marks of by the log.  Those regions become dirty first.
	 */
	if (degraded)
		xrepl_jnl_lost_locked(pair);
	/*
	 * Degraded, the superblock says so on disk before the tail passes
	 * entries given up on: a load then replays no log over them.
	 */
	remark = jnl->remark || (degraded && pair->sb_dirty);
	jnl->remark = false;
	spin_unlock_irq(&pair->lock);
	if (remark && !xrepl_meta_remark_dirty(pair)) {
		/* Not past them: tried again in a second. */
		spin_lock_irq(&pair->lock);
		jnl->remark = true;
		if (retry) {
			jnl_commit_soon_locked(pair, false);
			jnl->commit_retry = true;
		}
		spin_unlock_irq(&pair->lock);
		return -EIO;
	}

	mutex_lock(&jnl->sb_lock);
	/* Never behind the tail on disk (commits are serialised). */
	if (seq <= jnl->info.tail_seq) {
		mutex_unlock(&jnl->sb_lock);
		return 0;
	}
	info = jnl->info;
	info.tail_seq = seq;
	info.tail_block = block;
	info.tail_incarnation = inc;
	info.durable_seq = max(info.durable_seq, seq - 1);
	r = jnl_write_sb(jnl, &info, 0);
	spin_lock_irq(&pair->lock);
	if (r) {
		fail = jnl_fail_locked(jnl);
	} else if (seq > jnl->ctail_seq) {
		jnl->ctail_seq = seq;
		jnl->ctail_block = block;
		jnl_room_locked(jnl);
		jnl_done_prune_locked(pair);
	}
	/* The rest of the tail, with a flush, unless a barrier comes first. */
	if (!r && partial)
		jnl_commit_soon_locked(pair, false);
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&jnl->sb_lock);
	if (fail)
		jnl_report_failed(pair, "a superblock write", r);
	return r;
}

static int jnl_commit(struct xrepl_pair *pair, struct block_device *remote,
		      bool retry, bool whole, bool cleaner)
{
	struct xrepl_jnl *jnl = pair->jnl;
	int r;

	mutex_lock(&jnl->commit_lock);
	r = jnl_commit_locked(pair, remote, retry, whole, cleaner);
	mutex_unlock(&jnl->commit_lock);
	return r;
}

/*
 * A whole tail commit now, for the cleaner: writes reached the remote
 * outside the log (sync mode, resync copies) and their marks are to go,
 * so a replay after a crash must not send the entries they overwrote,
 * which the remote completed before them.  remote as for jnl_commit().
 * Returns 0, or an error: the marks stay then.  Process context.
 */
int xrepl_jnl_commit_now(struct xrepl_pair *pair, struct block_device *remote)
{
	if (!pair->jnl)
		return 0;
	return jnl_commit(pair, remote, false, true, true);
}

static void jnl_commit_work(struct work_struct *work)
{
	struct xrepl_jnl *jnl = container_of(to_delayed_work(work),
					     struct xrepl_jnl, commit_work);
	struct xrepl_pair *pair = jnl->pair;
	struct block_device *remote = NULL;

	/* The active table's remote: it is suspended after this returns. */
	spin_lock_irq(&pair->lock);
	if (pair->active && pair->active->remote)
		remote = pair->active->remote->bdev;
	spin_unlock_irq(&pair->lock);
	jnl_commit(pair, remote, true, false, false);
}

/*
 * xc is suspended, nothing in flight: no tail commit runs from now on, and
 * one records the tail as it is, the log empty once the remote has it
 * all, so that a clean shutdown leaves nothing to replay.  Process
 * context.
 */
void xrepl_jnl_quiesce(struct xrepl_pair *pair, struct xrepl_c *xc)
{
	struct xrepl_jnl *jnl = pair->jnl;
	bool held;
	u64 seq;

	if (!jnl)
		return;
	/* No commit is queued from now on (nothing ships), none re-armed. */
	spin_lock_irq(&pair->lock);
	jnl->stopped = true;
	spin_unlock_irq(&pair->lock);
	cancel_delayed_work_sync(&jnl->commit_work);
	jnl_commit(pair, xc->remote ? xc->remote->bdev : NULL, false, true,
		   false);
	/*
	 * Held or delayed, the suspend kept entries the remote lacks: a
	 * table that replaces this one, or the device created again,
	 * replays them from the log, whole.
	 */
	spin_lock_irq(&pair->lock);
	held = (xrepl_jnl_held_back_locked(pair) ||
		(pair->ship_parked && pair->lag.writes)) && jnl->usable;
	seq = jnl->appended_seq;
	spin_unlock_irq(&pair->lock);
	if (held)
		xrepl_jnl_make_durable(pair, seq);
}

/*
 * Resumed: tail commits may run again, and one runs if the suspend's
 * could not record the whole tail (the remark failed).
 */
void xrepl_jnl_resume(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl)
		return;
	spin_lock_irq(&pair->lock);
	jnl->stopped = false;
	/* A table in sync mode before this one: its writes are older. */
	xrepl_jnl_direct_fold_locked(pair);
	if (jnl->remark)
		jnl_commit_soon_locked(pair, false);
	/*
	 * A replay reads its log with the active table, and entries a
	 * suspend while held kept go to its remote once released.
	 */
	if (jnl->replay || pair->shipq.next)
		xrepl_ship_now(pair);
	spin_unlock_irq(&pair->lock);
}

void xrepl_jnl_meta_back(struct xrepl_pair *pair)
{
	if (!pair->jnl)
		return;
	spin_lock_irq(&pair->lock);
	if (pair->jnl->remark)
		jnl_commit_soon_locked(pair, true);
	spin_unlock_irq(&pair->lock);
}

void xrepl_jnl_sent_now_locked(struct xrepl_pair *pair)
{
	if (pair->jnl)
		pair->jnl->sent_ns = max(pair->jnl->sent_ns,
					 ktime_get_real_ns());
}

void xrepl_jnl_direct_fold_locked(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (jnl)
		jnl->sent_ns = max_t(u64, jnl->sent_ns,
				     atomic64_read(&jnl->direct_ns));
}

/* ns since the epoch in ms, rounded up: a bound stays one. */
static u64 jnl_ns_to_ms_up(u64 ns)
{
	return div_u64(ns + NSEC_PER_MSEC - 1, NSEC_PER_MSEC);
}

/*
 * No data the remote has is newer than this (ns since the epoch): what
 * a hold records (in ms, rounded up), and what ship_until's point must
 * be past.  lock held.
 */
static u64 jnl_sent_bound_locked(struct xrepl_pair *pair)
{
	xrepl_jnl_direct_fold_locked(pair);
	return pair->jnl->sent_ns;
}

/*
 * Shipping is held back from now on (a hold, or a delay): writers waiting
 * for room in the lag or the log try again and meet it (they degrade the
 * remote rather than wait), and a suspend waits for what is in flight
 * only.  Returns whether writes were moved to lag_ready.  lock held.
 */
static bool jnl_held_back_now_locked(struct xrepl_pair *pair)
{
	bool redispatch = xrepl_lag_wait_release_locked(pair);

	jnl_room_locked(pair->jnl);
	wake_up(&pair->ship_wait);
	return redispatch;
}

/*
 * "hold" (hold) and "release", sent to xc's table.  Held, nothing is sent
 * to the remote, nor copied there: it stays at the point it had, and the
 * log keeps what it lacks.  Only an async pair whose journal is in use
 * holds.  The hold takes effect at once, and is then recorded in the
 * journal's superblock, so that a crash, a reboot or a table that
 * replaces this one holds still; a release clears it there.  Writes that
 * wait for room in the lag or in the log meet the hold: nothing frees
 * room while it lasts, so they degrade the remote rather than wait.
 */
int xrepl_jnl_hold(struct xrepl_c *xc, bool hold)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	const char *what = hold ? "hold" : "release";
	bool changed = false, write, fail = false, redispatch = false, usable;
	struct xrepl_jnl_info info;
	const char *why = NULL;
	u64 sent;
	int r = 0, err = 0;

	if (!jnl) {
		DMERR("%s: cannot %s: the table has no journal", xrepl_name(xc),
		      what);
		return -EINVAL;
	}
	mutex_lock(&jnl->sb_lock);
	spin_lock_irq(&pair->lock);
	if (hold && READ_ONCE(xc->args.mode) != XREPL_MODE_ASYNC)
		why = "only async mode holds";
	else if (hold && !jnl->usable)
		why = "the journal is not in use";
	else if (hold && pair->draining)
		why = "a switch to sync mode drains the lag";
	/*
	 * A hold ends shipping until a point: nothing more goes.  A
	 * release takes effect once recorded (below): the bound a hold
	 * recorded would not hold for what goes after it.
	 */
	if (!why && (jnl->ship_held != hold || jnl->until_ns)) {
		changed = true;
		if (hold) {
			jnl->until_ns = 0;
			if (!jnl->ship_held)
				redispatch = jnl_held_back_now_locked(pair);
			jnl->ship_held = true;
		}
	}
	sent = hold ? jnl_sent_bound_locked(pair) : 0;
	/*
	 * A release is recorded even after a failure, if it can be, and
	 * clears a hold recorded that a failed start never put in effect.
	 */
	write = (changed || (!hold && (jnl->info.flags & XREPL_JNL_F_HELD))) &&
		jnl->started && !jnl->fresh && (jnl->usable || !hold);
	usable = jnl->usable;
	spin_unlock_irq(&pair->lock);
	if (why) {
		mutex_unlock(&jnl->sb_lock);
		DMERR("%s: cannot %s: %s", xrepl_name(xc), what, why);
		return -EINVAL;
	}
	if (write) {
		info = jnl->info;
		if (hold)
			info.flags |= XREPL_JNL_F_HELD;
		else
			info.flags &= ~XREPL_JNL_F_HELD;
		info.ship_until_ms = 0;
		info.sent_ms = jnl_ns_to_ms_up(sent);
		/*
		 * A hold not recorded stays in effect (the brake holds);
		 * the journal fails, and the message says so.
		 */
		r = jnl_write_sb(jnl, &info, 0);
		err = r;
		if (r && usable) {
			spin_lock_irq(&pair->lock);
			fail = jnl_fail_locked(jnl);
			spin_unlock_irq(&pair->lock);
		}
	}
	if (!hold && changed && r) {
		/*
		 * Not recorded: the journal failed, and the metadata is to
		 * say the log is not replayed.  Written now, sb_lock dropped
		 * (a metadata commit takes it); after every commit begun.
		 */
		mutex_unlock(&jnl->sb_lock);
		xrepl_meta_sync(pair);
		mutex_lock(&jnl->sb_lock);
	}
	if (!hold && changed) {
		/*
		 * Recorded, or not but the metadata on disk no longer
		 * vouches for the log (no load replays it, nor trusts the
		 * hold's bound), or it failed (a crash resyncs anyway): what
		 * waited goes, a copy, the end of a degradation.  Else
		 * shipping stays held.
		 */
		spin_lock_irq(&pair->lock);
		if (!r || pair->sb_log_stale || pair->meta_failed) {
			jnl->ship_held = false;
			jnl->until_ns = 0;
			xrepl_ship_now(pair);
			redispatch = true;
		} else {
			changed = false;
			queue_work(pair->meta_wq, &pair->commit_work);
		}
		spin_unlock_irq(&pair->lock);
		if (r && redispatch) {
			DMWARN("%s: journal: release not recorded (error %d): a new table holds",
			       xrepl_name(xc), r);
			r = 0;
		} else if (r) {
			DMERR("%s: cannot release: journal superblock error %d: still held",
			      xrepl_name(xc), r);
		}
	} else if (!hold && r) {
		/* Only a hold recorded that a failed start never applied. */
		DMWARN("%s: journal: release not recorded (error %d): a new table holds",
		       xrepl_name(xc), r);
		r = 0;
	}
	mutex_unlock(&jnl->sb_lock);
	if (redispatch) {
		xrepl_lag_kick(pair);
		queue_work(pair->wq, &pair->resync_work);
	}
	if (fail)
		jnl_report_failed(pair, "a superblock write", err);
	if (changed) {
		DMINFO("%s: journal: shipping %s", xrepl_name(xc),
		       hold ? "held" : "released");
		xrepl_raise_event(xc);
	}
	return r;
}

/*
 * "ship_until <unix-ms>": roll the remote to a point in time.  The
 * entries made before until_ms ship, in order, the first made at or
 * after it and every one after that wait: shipping is held there (the
 * hold's rules), and once the remote completed the others, it is the
 * write-order prefix the source had at that time.  Refused unless the
 * point has passed and the remote is a crash-consistent image (not
 * degraded, no resync, no copy running) that holds no write made at or
 * after it: it cannot be rolled back.  Shipping is held at once, the
 * point recorded in the journal's superblock with the hold and with the
 * bound of what the remote may have from now on (the point), and only
 * then let go towards the point: a crash at any moment leaves a record
 * whose bound holds.  A crash or a new table goes on towards the point.
 * "hold" ends it where the remote is; "release" ships on.
 */
int xrepl_jnl_ship_until(struct xrepl_c *xc, u64 until_ms)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	bool fail = false, redispatch = false, went = false;
	struct xrepl_jnl_info info;
	const char *why = NULL;
	u64 until_ns, now, sent = 0;
	int r;

	if (!jnl) {
		DMERR("%s: cannot ship_until: the table has no journal",
		      xrepl_name(xc));
		return -EINVAL;
	}
	if (!until_ms || until_ms > JNL_MAX_MS) {
		DMERR("%s: invalid ship_until %llu: expected a time in ms since the epoch",
		      xrepl_name(xc), until_ms);
		return -EINVAL;
	}
	until_ns = until_ms * NSEC_PER_MSEC;
	mutex_lock(&jnl->sb_lock);
	spin_lock_irq(&pair->lock);
	now = ktime_get_real_ns();
	if (READ_ONCE(xc->args.mode) != XREPL_MODE_ASYNC)
		why = "only async mode holds";
	else if (!jnl->usable || !jnl->started || jnl->fresh)
		why = "the journal is not in use";
	else if (pair->draining)
		why = "a switch to sync mode drains the lag";
	else if (pair->degraded_by != XREPL_DEGRADED_NONE)
		why = "the remote is degraded";
	else if (!pair->consistent || pair->resync_active ||
		 pair->nr_copies || pair->merge_needed)
		why = "the remote is not a consistent image (a resync runs or is due)";
	else if (until_ns > now)
		why = "the point is to come: it must have passed";
	if (!why) {
		sent = jnl_sent_bound_locked(pair);
		if (sent >= until_ns)
			why = "the remote may have writes made at or after that time";
	}
	if (!why) {
		/* Held first: nothing goes until the point is recorded. */
		if (!jnl->ship_held)
			redispatch = jnl_held_back_now_locked(pair);
		jnl->ship_held = true;
		jnl->until_ns = 0;
		/* A write made from now on is after it, clock set back or not. */
		jnl->last_time_ns = max(jnl->last_time_ns, until_ns);
	}
	spin_unlock_irq(&pair->lock);
	if (why) {
		mutex_unlock(&jnl->sb_lock);
		if (sent >= until_ns)
			DMERR("%s: cannot ship_until %llu: %s (up to %llu)",
			      xrepl_name(xc), until_ms, why,
			      jnl_ns_to_ms_up(sent));
		else
			DMERR("%s: cannot ship_until %llu: %s", xrepl_name(xc),
			      until_ms, why);
		return -EINVAL;
	}
	info = jnl->info;
	info.flags |= XREPL_JNL_F_HELD;
	info.ship_until_ms = until_ms;
	/* Nothing made at or after the point goes while it is recorded. */
	info.sent_ms = until_ms;
	r = jnl_write_sb(jnl, &info, 0);
	spin_lock_irq(&pair->lock);
	if (r) {
		/* Not recorded: held where it is; the journal fails. */
		fail = jnl_fail_locked(jnl);
	} else if (!jnl->usable) {
		/* The journal failed meanwhile (it said so): held. */
		r = -EIO;
	} else {
		/* A hold or a release waits for sb_lock: still held. */
		jnl->until_ns = until_ns;
		/* There already: the event below says so. */
		jnl->until_reached = jnl_point_locked(pair) >= until_ns;
		xrepl_ship_now(pair);
		went = true;
	}
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&jnl->sb_lock);
	if (redispatch)
		xrepl_lag_kick(pair);
	if (fail)
		jnl_report_failed(pair, "a superblock write", r);
	if (went) {
		DMINFO("%s: journal: shipping until %llu, then held",
		       xrepl_name(xc), until_ms);
		xrepl_raise_event(xc);
	}
	return r;
}

/*
 * "set delay_ms", or a table resumed that gives delay_ms: entries ship
 * once they are delay_ms old, from now on; recorded in the journal's
 * superblock.  Only in async mode with a journal, unless 0.
 */
int xrepl_jnl_set_delay(struct xrepl_c *xc, u32 delay_ms, bool msg)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	bool changed, write, fail = false, redispatch = false;
	struct xrepl_jnl_info info;
	const char *why = NULL;
	int r = 0;

	if (!jnl) {
		if (!delay_ms)
			return 0;
		DMERR("%s: cannot set delay_ms: the table has no journal",
		      xrepl_name(xc));
		return -EINVAL;
	}
	mutex_lock(&jnl->sb_lock);
	spin_lock_irq(&pair->lock);
	if (delay_ms && READ_ONCE(xc->args.mode) != XREPL_MODE_ASYNC)
		why = "only async mode delays";
	else if (delay_ms && !jnl->delay_ms && pair->draining)
		why = "a switch to sync mode drains the lag";
	changed = !why && jnl->delay_ms != delay_ms;
	if (changed) {
		/* Shorter: what is old enough now goes. */
		if (delay_ms < jnl->delay_ms)
			xrepl_ship_now(pair);
		if (!jnl->delay_ms && !jnl->ship_held)
			redispatch = jnl_held_back_now_locked(pair);
		jnl->delay_ms = delay_ms;
	}
	write = changed && jnl->started && !jnl->fresh && jnl->usable;
	spin_unlock_irq(&pair->lock);
	if (why) {
		mutex_unlock(&jnl->sb_lock);
		if (msg)
			DMERR("%s: cannot set delay_ms %u: %s", xrepl_name(xc),
			      delay_ms, why);
		return -EINVAL;
	}
	if (write) {
		info = jnl->info;
		info.delay_ms = delay_ms;
		r = jnl_write_sb(jnl, &info, 0);
		if (r) {
			spin_lock_irq(&pair->lock);
			fail = jnl_fail_locked(jnl);
			spin_unlock_irq(&pair->lock);
		}
	} else if (changed) {
		/* Written with the superblock of the first resume. */
		jnl->info.delay_ms = delay_ms;
	}
	mutex_unlock(&jnl->sb_lock);
	if (redispatch)
		xrepl_lag_kick(pair);
	if (fail)
		jnl_report_failed(pair, "a superblock write", r);
	if (changed)
		DMINFO("%s: journal: delay_ms %u", xrepl_name(xc), delay_ms);
	return r;
}

/* The journal, not started yet, records a hold.  sb_lock held. */
static bool jnl_held_recorded(struct xrepl_jnl *jnl)
{
	return !jnl->started && !jnl->fresh &&
	       (jnl->info.flags & XREPL_JNL_F_HELD);
}

bool xrepl_jnl_held_recorded(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	bool held;

	if (!jnl)
		return false;
	mutex_lock(&jnl->sb_lock);
	held = jnl_held_recorded(jnl);
	mutex_unlock(&jnl->sb_lock);
	return held;
}

/*
 * May xc's table be resumed?  Only in async mode while shipping is held
 * back (held or delayed), or while the journal, not started yet, records
 * a hold: writes of another mode would overtake the entries held back.
 */
int xrepl_jnl_check_mode(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_jnl *jnl = pair->jnl;
	const char *why = NULL;

	if (!jnl || READ_ONCE(xc->args.mode) == XREPL_MODE_ASYNC)
		return 0;
	mutex_lock(&jnl->sb_lock);
	spin_lock_irq(&pair->lock);
	if (xrepl_jnl_held_locked(pair) || jnl_held_recorded(jnl))
		why = "shipping is held: 'release' first";
	else if (xrepl_jnl_held_back_locked(pair))
		why = "shipping is delayed: 'set delay_ms 0' first";
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&jnl->sb_lock);
	if (!why)
		return 0;
	DMERR("%s: cannot resume a table in %s mode: %s", xrepl_name(xc),
	      xrepl_mode_name(READ_ONCE(xc->args.mode)), why);
	return -EINVAL;
}

/*
 * A suspend kept entries the remote lacks (held or delayed): the remote
 * site's record of the stop gives the time of its data, the ship point,
 * not the time of the stop.  lock held.
 */
void xrepl_jnl_stop_time_locked(struct xrepl_pair *pair)
{
	u64 used, size, point;

	if (!pair->lag.writes ||
	    (!xrepl_jnl_held_back_locked(pair) && !pair->ship_parked) ||
	    pair->peer_data_time)
		return;
	xrepl_jnl_status_locked(pair, &used, &size, &point);
	if (point) {
		pair->peer_data_time = div_u64(point, MSEC_PER_SEC);
		return;
	}
	/* Not known (the journal failed): the oldest write kept, at most. */
	pair->peer_data_time = xrepl_lag_data_time_locked(pair);
}
