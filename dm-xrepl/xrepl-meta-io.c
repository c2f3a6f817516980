// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the metadata device (its format is in xrepl-meta.c): probe,
 * load, format, commit and clean.
 *
 * Marks are written with FUA before the writes that need them are issued,
 * so a flush or FUA write from above never waits for metadata; cleared
 * marks are written lazily, after both legs were flushed.  Every metadata
 * write holds pair->meta_io_lock; commits of marks and retries of failed
 * writes run on the ordered meta_wq, the cleaner on wq.
 */
#include <linux/slab.h>

#include "xrepl-core.h"

static_assert(XREPL_DEGRADED_ERROR == XREPL_META_DEGRADED_ERROR);
static_assert(XREPL_DEGRADED_ADMIN == XREPL_META_DEGRADED_ADMIN);

static unsigned int clean_interval_ms = XREPL_CLEAN_INTERVAL_MS;
module_param(clean_interval_ms, uint, 0644);
MODULE_PARM_DESC(clean_interval_ms,
		 "Milliseconds between the cleaner's rounds, which clear the marks of idle regions (100 to 60000, default 5000)");

/* The cleaning interval in jiffies, the parameter clamped to its range. */
unsigned long xrepl_clean_interval(void)
{
	return msecs_to_jiffies(clamp(READ_ONCE(clean_interval_ms),
				      XREPL_CLEAN_INTERVAL_MIN_MS,
				      XREPL_CLEAN_INTERVAL_MAX_MS));
}

/* Synchronous metadata I/O of whole blocks.  Process context. */
int xrepl_meta_rw(struct block_device *bdev, struct dm_io_client *client,
		  blk_opf_t opf, u64 block, unsigned int nr_blocks, void *buf)
{
	return xrepl_sync_io(client, bdev, opf, block * XREPL_META_BLOCK_SECTORS,
			     nr_blocks * XREPL_META_BLOCK_SECTORS, DM_IO_KMEM,
			     buf);
}

int xrepl_meta_io(struct xrepl_pair *pair, blk_opf_t opf, u64 block,
		  unsigned int nr_blocks, void *buf)
{
	int r = xrepl_meta_rw(pair->meta_bdev, pair->io_client, opf, block,
			      nr_blocks, buf);

	if (!r && op_is_write(opf))
		atomic64_add(nr_blocks, &pair->meta_writes);
	return r;
}

static void meta_error(struct xrepl_pair *pair, const char *what)
{
	struct xrepl_c *xc;
	bool first;

	spin_lock_irq(&pair->lock);
	first = !pair->meta_failed;
	pair->meta_failed = true;
	xc = pair->active;
	spin_unlock_irq(&pair->lock);
	if (first) {
		DMERR("%s: metadata device %s: crash safety lost until it works again",
		      dm_device_name(pair->md), what);
		if (xc)
			xrepl_raise_event(xc);
	}
}

void xrepl_meta_failed(struct xrepl_pair *pair, const char *what)
{
	meta_error(pair, what);
	/* Retry with a backoff (unless a retry is due already). */
	if (queue_delayed_work(pair->meta_wq, &pair->meta_retry,
			       pair->meta_retry_delay))
		pair->meta_retry_delay = min(2 * pair->meta_retry_delay,
					     (unsigned long)XREPL_META_RETRY_MAX);
}

/* Write the superblock as pair->sb and the pair's state say.  meta_io_lock held. */
static int meta_write_sb(struct xrepl_pair *pair)
{
	struct xrepl_sb_info sb;
	int r;

	spin_lock_irq(&pair->lock);
	pair->sb_dirty = false;
	pair->sb.generation++;
	pair->sb.mtime = ktime_get_real_seconds();
	pair->sb.flags = (pair->consistent ? XREPL_META_F_CONSISTENT : 0) |
			 (pair->log_stale ? 0 : XREPL_META_F_JOURNALED);
	/*
	 * After a crash a congested remote, or one a monitor's probe took
	 * down, is tried again like a failed one; only the administrator's
	 * "remote down" persists.
	 */
	pair->sb.degraded = pair->degraded_by == XREPL_DEGRADED_ADMIN ?
			    XREPL_META_DEGRADED_ADMIN :
			    pair->degraded_by != XREPL_DEGRADED_NONE ?
			    XREPL_META_DEGRADED_ERROR : XREPL_META_DEGRADED_NONE;
	sb = pair->sb;
	spin_unlock_irq(&pair->lock);

	memset(pair->meta_buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_sb_encode(pair->meta_buf, &sb);
	r = xrepl_meta_io(pair, REQ_OP_WRITE | REQ_SYNC | REQ_META |
			  REQ_PREFLUSH | REQ_FUA, 0, 1, pair->meta_buf);
	spin_lock_irq(&pair->lock);
	if (r) {
		pair->sb_dirty = true;
	} else {
		pair->sb_consistent = sb.flags & XREPL_META_F_CONSISTENT;
		pair->sb_log_stale = !(sb.flags & XREPL_META_F_JOURNALED);
	}
	/* A write that skips the log may go now (xrepl_jnl_write()). */
	if (r || pair->sb_log_stale)
		xrepl_jnl_room_locked(pair);
	spin_unlock_irq(&pair->lock);
	return r;
}

/*
 * Write every changed bitmap block and, if it changed, the superblock;
 * the writes that waited for their marks then go on go, for the caller
 * to issue once meta_io_lock is released (xrepl_meta_go()).  Blocks (and
 * the superblock) whose write failed stay dirty, the waiters' marks are
 * then not taken as durable (their next write asks again), and
 * meta_retry rewrites everything later.  Returns false if a write
 * failed.  meta_io_lock held.
 */
bool xrepl_meta_commit(struct xrepl_pair *pair, struct bio_list *go)
{
	return xrepl_meta_commit_defer(pair, go, false);
}

/*
 * Issue the writes a metadata commit let go (go), once meta_io_lock is
 * released: a write may sleep on what it allocates (GFP_NOIO), which a
 * tail commit waiting for that lock may be what frees.  Process context.
 */
void xrepl_meta_go(struct bio_list *go)
{
	struct bio *bio;

	while ((bio = bio_list_pop(go)))
		xrepl_write_submit(xrepl_io(bio)->xc, bio);
}

/*
 * xrepl_meta_commit(), but with defer, the writes that waited for their
 * marks go back to wait for the metadata worker, which issues them: for
 * a caller that must not sleep on what a write allocates (a tail commit
 * the ship queue waits for: ship entries free their pages only after it).
 */
bool xrepl_meta_commit_defer(struct xrepl_pair *pair, struct bio_list *go,
			     bool defer)
{
	unsigned long blocks[XREPL_META_IO_BLOCKS];
	struct bio_list waiters = BIO_EMPTY_LIST;
	bool failed = false;
	unsigned int i, n;
	struct bio *bio;

	while (!failed) {
		spin_lock_irq(&pair->lock);
		bio_list_merge(&waiters, &pair->mark_wait);
		bio_list_init(&pair->mark_wait);
		n = xrepl_wi_snapshot_locked(&pair->wi, pair->meta_buf, blocks,
					     XREPL_META_IO_BLOCKS);
		spin_unlock_irq(&pair->lock);
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			if (!xrepl_meta_io(pair, REQ_OP_WRITE | REQ_SYNC |
					   REQ_META | REQ_FUA, 1 + blocks[i], 1,
					   pair->meta_buf +
					   i * XREPL_META_BLOCK_SIZE))
				continue;
			failed = true;
			spin_lock_irq(&pair->lock);
			xrepl_wi_redirty_locked(&pair->wi, &blocks[i], 1);
			spin_unlock_irq(&pair->lock);
		}
	}
	if (READ_ONCE(pair->sb_dirty) && meta_write_sb(pair))
		failed = true;
	if (failed)
		xrepl_meta_failed(pair, "write error");

	if (defer && !bio_list_empty(&waiters)) {
		spin_lock_irq(&pair->lock);
		bio_list_merge_head(&pair->mark_wait, &waiters);
		spin_unlock_irq(&pair->lock);
		queue_work(pair->meta_wq, &pair->commit_work);
		return !failed;
	}
	/* Marked, or as marked as a failed device allows: they go. */
	while ((bio = bio_list_pop(&waiters))) {
		struct xrepl_io *io = xrepl_io(bio);

		if (!failed)
			xrepl_wi_set_committed(&pair->wi, io->first, io->last);
		bio_list_add(go, bio);
	}
	return !failed;
}

/*
 * After a failed metadata write: write every bitmap block and the
 * superblock again.  Once that worked, the metadata device is trusted
 * again (meta_failed clears) and a resync held back by it goes on.
 */
void xrepl_meta_retry_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(to_delayed_work(work),
					       struct xrepl_pair, meta_retry);
	struct bio_list go = BIO_EMPTY_LIST;
	struct xrepl_c *xc = NULL;
	bool ok;

	mutex_lock(&pair->meta_io_lock);
	spin_lock_irq(&pair->lock);
	bitmap_set(pair->wi.dirty_blocks, 0, pair->wi.nr_blocks);
	pair->sb_dirty = true;
	spin_unlock_irq(&pair->lock);
	ok = xrepl_meta_commit(pair, &go);
	if (ok) {
		pair->meta_retry_delay = XREPL_META_RETRY_MIN;
		/* The superblock on disk is pair->sb's again. */
		pair->trk.unsure = false;
		spin_lock_irq(&pair->lock);
		/* Marks requested while the device failed are durable now. */
		xrepl_wi_commit_all_locked(&pair->wi);
		if (pair->meta_failed) {
			pair->meta_failed = false;
			xc = pair->active;
		}
		if (pair->resync_active)
			queue_work(pair->wq, &pair->resync_work);
		spin_unlock_irq(&pair->lock);
	}
	mutex_unlock(&pair->meta_io_lock);
	xrepl_meta_go(&go);
	/* A tail commit waits for the marks of entries given up on. */
	if (ok)
		xrepl_jnl_meta_back(pair);
	if (ok) {
		DMINFO("%s: metadata device works again: rewritten, crash safety restored",
		       dm_device_name(pair->md));
		if (xc)
			xrepl_raise_event(xc);
	}
}

void xrepl_commit_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       commit_work);

	xrepl_meta_sync(pair);
}

/* Metadata commit from any process context; false if a write failed. */
bool xrepl_meta_sync(struct xrepl_pair *pair)
{
	struct bio_list go = BIO_EMPTY_LIST;
	bool ok, all;

	mutex_lock(&pair->meta_io_lock);
	spin_lock_irq(&pair->lock);
	all = pair->commit_all_wanted;
	pair->commit_all_wanted = false;
	spin_unlock_irq(&pair->lock);
	ok = xrepl_meta_commit(pair, &go);
	/*
	 * Marks asked for without a write waiting (a journal's): committed
	 * once written, so that the cleaner may clear them.
	 */
	spin_lock_irq(&pair->lock);
	if (ok && all)
		xrepl_wi_commit_all_locked(&pair->wi);
	else if (all)
		pair->commit_all_wanted = true;
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&pair->meta_io_lock);
	xrepl_meta_go(&go);
	return ok;
}

/*
 * For each run of bits set in bm: request its marks (!dirty) or make its
 * regions dirty.  A run at a time, word by word, and pair->lock dropped
 * every XREPL_RUNS_PER_LOCK runs, so that interrupts are never off for
 * long whatever the bitmap (a demoted site's, of 2^27 regions).
 */
#define XREPL_RUNS_PER_LOCK	256
static void mark_runs(struct xrepl_pair *pair, const struct xrepl_bitmap *bm,
		      bool dirty)
{
	unsigned long r = 0, end, n = 0;

	spin_lock_irq(&pair->lock);
	while ((r = xrepl_bitmap_next_set(bm, r)) < bm->nr_bits) {
		end = find_next_zero_bit(bm->bits, bm->nr_bits, r);
		if (dirty)
			xrepl_mark_dirty_locked(pair, r, end - 1);
		else
			xrepl_wi_request_locked(&pair->wi, r, end - 1);
		r = end;
		if (++n % XREPL_RUNS_PER_LOCK == 0) {
			spin_unlock_irq(&pair->lock);
			cond_resched();
			spin_lock_irq(&pair->lock);
		}
	}
	spin_unlock_irq(&pair->lock);
}

/*
 * Mark regions durably, then make them dirty: those set in bm, or every
 * region if bm is NULL.  They are marked on disk before they join the
 * dirty ones, as a running resync would copy them at once (and the
 * cleaner clears a committed mark once its region is copied and idle).
 * Returns false if the metadata device failed.  Process context.
 */
bool xrepl_meta_mark_dirty(struct xrepl_pair *pair,
			   const struct xrepl_bitmap *bm)
{
	struct bio_list go = BIO_EMPTY_LIST;
	bool ok;

	mutex_lock(&pair->meta_io_lock);
	if (bm) {
		mark_runs(pair, bm, false);
	} else {
		spin_lock_irq(&pair->lock);
		xrepl_wi_mark_all_locked(&pair->wi);
		spin_unlock_irq(&pair->lock);
	}
	ok = xrepl_meta_commit(pair, &go);
	if (ok) {
		spin_lock_irq(&pair->lock);
		xrepl_wi_commit_all_locked(&pair->wi);
		if (!bm)
			xrepl_mark_all_dirty_locked(pair);
		spin_unlock_irq(&pair->lock);
		if (bm)
			mark_runs(pair, bm, true);
	}
	mutex_unlock(&pair->meta_io_lock);
	xrepl_meta_go(&go);
	return ok;
}

/*
 * Write the marks asked for again (a journal's entries given up on, whose
 * marks the cleaner had cleared by the log: xrepl_jnl_dirtied_locked()),
 * if the metadata worker has not yet.  Returns false if the metadata
 * device failed.  Process context.
 */
bool xrepl_meta_remark_dirty(struct xrepl_pair *pair)
{
	bool ok;

	mutex_lock(&pair->meta_io_lock);
	ok = xrepl_meta_commit_defer(pair, NULL, true);
	/* Not the marks asked for since their block was copied to write. */
	if (ok) {
		spin_lock_irq(&pair->lock);
		xrepl_wi_commit_all_locked(&pair->wi);
		spin_unlock_irq(&pair->lock);
	}
	mutex_unlock(&pair->meta_io_lock);
	return ok;
}

/*
 * Clear the marks of the regions that are equal on both legs and were not
 * written for a whole interval (or at all, if all: no write is in flight).
 * Process context; xc's legs are flushed before any mark is cleared, with
 * no lock held meanwhile.  The periodic clean (!all) gives up on a flush
 * when the device suspends; every clean when the remote degrades.
 */
void xrepl_meta_clean(struct xrepl_pair *pair, struct xrepl_c *xc, bool all)
{
	unsigned long nr = pair->geom.nr_regions;
	unsigned long from, to, r, gen, picked = 0;
	struct bio_list go = BIO_EMPTY_LIST;
	bool flushed, by_log, stale;
	long unjnl;
	u64 appended;

	mutex_lock(&pair->meta_io_lock);
	/*
	 * A log that is not the whole story says so on disk before a mark
	 * goes without it: a load must not replay it then.
	 */
	spin_lock_irq(&pair->lock);
	stale = pair->log_stale && !pair->sb_log_stale;
	if (stale)
		pair->sb_dirty = true;
	spin_unlock_irq(&pair->lock);
	if (stale)
		xrepl_meta_commit(pair, &go);
	spin_lock_irq(&pair->lock);
	/*
	 * With a journal in use, the mark of a region may go once every
	 * write to it settled, whether or not the remote has it: the log
	 * carries what it lacks (not a clean of all: the remote has it).
	 */
	by_log = !all && xrepl_jnl_usable_locked(pair);
	/*
	 * The marks tell which regions a degraded remote may miss; a
	 * replay's entries are in no gate: no mark goes while one runs, but
	 * by the log (which carries them; a degradation, or the journal's
	 * failure, marks their regions again, from walk_regions).
	 */
	if (pair->degraded_by != XREPL_DEGRADED_NONE || pair->merge_needed ||
	    (pair->log_stale && !pair->sb_log_stale) ||
	    (xrepl_jnl_replaying_locked(pair) && !by_log))
		nr = 0;
	gen = pair->degrade_gen;
	spin_unlock_irq(&pair->lock);

	for (from = 0; from < nr; from += XREPL_CLEAN_CHUNK) {
		to = min(from + XREPL_CLEAN_CHUNK, nr);
		spin_lock_irq(&pair->lock);
		picked += xrepl_wi_clean_pick_locked(&pair->wi, &pair->dirty,
						     from, to, all);
		xrepl_gate_keep_busy_locked(pair, from, to, by_log);
		spin_unlock_irq(&pair->lock);
		cond_resched();
	}
	/* Every entry of the writes settled in the picked regions. */
	spin_lock_irq(&pair->lock);
	appended = xrepl_jnl_appended_locked(pair);
	spin_unlock_irq(&pair->lock);
	/*
	 * Pairs with the barrier in gate_exit(): a write seen out of its
	 * bucket counted itself in gate_unjnl before.
	 */
	smp_rmb();
	unjnl = atomic_long_read(&pair->gate_unjnl);
	mutex_unlock(&pair->meta_io_lock);
	/* Released by the first commit: not held across the flushes. */
	xrepl_meta_go(&go);
	if (!picked)
		return;

	/*
	 * What those regions hold must be durable on both legs first, or,
	 * by_log, on the local leg and in the log: durable_seq written, and
	 * the remote flushed only for writes that were not journaled since
	 * it last was.  A write to a picked region meanwhile asks for its
	 * mark again (and takes the region out of the pick); a degradation
	 * meanwhile keeps every mark, as the marks then tell what the remote
	 * may miss.
	 */
	flushed = !xrepl_flush_leg(pair, xc->local->bdev, gen, !all);
	if (flushed && (!by_log || unjnl != pair->clean_unjnl)) {
		flushed = !xrepl_flush_leg(pair, xc->remote->bdev, gen, !all);
		/*
		 * Writes reached the remote outside the log: the tail on
		 * disk passes what the remote completed before them first.
		 */
		if (flushed && unjnl != pair->clean_unjnl)
			flushed = !xrepl_jnl_commit_now(pair, xc->remote->bdev);
		if (flushed)
			pair->clean_unjnl = unjnl;
	}
	if (flushed && by_log)
		flushed = !xrepl_jnl_make_durable(pair, appended);
	mutex_lock(&pair->meta_io_lock);
	spin_lock_irq(&pair->lock);
	if (pair->degrade_gen != gen || pair->merge_needed)
		flushed = false;
	spin_unlock_irq(&pair->lock);
	/* The change tracker knows the regions whose marks go, durably. */
	if (flushed && !xrepl_trk_fold(pair))
		flushed = false;
	for (from = 0; from < nr; from += XREPL_CLEAN_CHUNK) {
		to = min(from + XREPL_CLEAN_CHUNK, nr);
		spin_lock_irq(&pair->lock);
		/*
		 * A region that became dirty meanwhile (a local error, a
		 * discard the remote cannot do, resync full) keeps its mark:
		 * the marks cover every dirty region.
		 */
		for (r = find_next_bit(pair->wi.clearing, to, from);
		     flushed && r < to;
		     r = find_next_bit(pair->wi.clearing, to, r + 1))
			if (xrepl_bitmap_test(&pair->dirty, r))
				xrepl_wi_clean_keep_locked(&pair->wi, r);
		if (flushed)
			xrepl_wi_clean_apply_locked(&pair->wi, from, to);
		else
			xrepl_wi_clean_cancel_locked(&pair->wi, from, to);
		spin_unlock_irq(&pair->lock);
		cond_resched();
	}
	xrepl_meta_commit(pair, &go);
	mutex_unlock(&pair->meta_io_lock);
	xrepl_meta_go(&go);
}

void xrepl_clean_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(to_delayed_work(work),
					       struct xrepl_pair, clean_work);
	struct xrepl_c *xc;

	/* Suspend cancels this work before the active table goes away. */
	spin_lock_irq(&pair->lock);
	xc = pair->active;
	spin_unlock_irq(&pair->lock);
	if (!xc)
		return;
	xrepl_meta_clean(pair, xc, false);
	queue_delayed_work(pair->wq, &pair->clean_work, xrepl_clean_interval());
}

/*
 * After a degradation, every marked region may differ on the remote: add
 * them to the dirty regions.  Process context.
 */
void xrepl_meta_merge_marked(struct xrepl_pair *pair)
{
	unsigned long words = BITS_TO_LONGS(pair->geom.nr_regions);
	unsigned long w, i, added;

	mutex_lock(&pair->meta_io_lock);	/* no clean in progress */
	spin_lock_irq(&pair->lock);
	pair->merge_needed = false;
	spin_unlock_irq(&pair->lock);
	for (w = 0; w < words; w += XREPL_CLEAN_CHUNK / BITS_PER_LONG) {
		spin_lock_irq(&pair->lock);
		added = 0;
		for (i = w; i < min(w + XREPL_CLEAN_CHUNK / BITS_PER_LONG, words);
		     i++) {
			unsigned long add = pair->wi.bits[i] & ~pair->dirty.bits[i];

			pair->dirty.bits[i] |= add;
			added += hweight_long(add);
		}
		pair->dirty.nr_set += added;
		xrepl_resync_account_locked(pair, added);
		spin_unlock_irq(&pair->lock);
		cond_resched();
	}
	mutex_unlock(&pair->meta_io_lock);
}

/*
 * Read block 0 of a metadata device into buf (one block) and decode it.
 * Returns 0 and *fresh, or an error with *error set.  Process context.
 */
int xrepl_meta_read_sb(struct block_device *bdev, struct dm_io_client *client,
		       void *buf, bool *fresh, struct xrepl_sb_info *sb,
		       char **error)
{
	int r = xrepl_meta_rw(bdev, client, REQ_OP_READ | REQ_META, 0, 1, buf);

	if (r) {
		*error = "Metadata: I/O error";
		return r;
	}
	*fresh = xrepl_mem_is_zero(buf, XREPL_META_BLOCK_SIZE);
	if (*fresh)
		return 0;
	if (!xrepl_mem_is_zero(buf + XREPL_META_SB_SIZE,
			       XREPL_META_BLOCK_SIZE - XREPL_META_SB_SIZE)) {
		*error = "Metadata: corrupt superblock";
		return -EILSEQ;
	}
	return xrepl_sb_decode(buf, sb, error);
}

/* Load the bitmap of a validated metadata device into a new pair. */
static int meta_load_bitmap(struct xrepl_pair *pair, char **error)
{
	unsigned long b, n, i;
	int r;

	for (b = 0; b < pair->wi.nr_blocks; b += n) {
		n = min_t(unsigned long, XREPL_META_IO_BLOCKS,
			  pair->wi.nr_blocks - b);
		r = xrepl_meta_io(pair, REQ_OP_READ | REQ_META, 1 + b, n,
				  pair->meta_buf);
		if (r) {
			*error = "Metadata: I/O error";
			return r;
		}
		for (i = 0; i < n; i++) {
			r = xrepl_wi_load_block(&pair->wi, b + i,
						pair->meta_buf +
						i * XREPL_META_BLOCK_SIZE, error);
			if (r)
				return r;
		}
		cond_resched();
	}
	return 0;
}

/*
 * Write every mark (all regions, or none) and a new superblock to a fresh
 * metadata device.  The superblock goes last: a crash before it leaves a
 * device that is still fresh.
 */
static int meta_format(struct xrepl_pair *pair, bool in_sync, char **error)
{
	xrepl_sb_init(&pair->sb, &pair->geom, in_sync);
	pair->consistent = in_sync;
	/* Journaled once a journal starts its log. */
	pair->log_stale = true;
	spin_lock_irq(&pair->lock);
	if (!in_sync) {
		xrepl_bitmap_fill(&pair->dirty);
		xrepl_wi_mark_all_locked(&pair->wi);
	}
	/* The bitmap area may hold anything: write all of it. */
	bitmap_fill(pair->wi.dirty_blocks, pair->wi.nr_blocks);
	pair->sb_dirty = true;
	spin_unlock_irq(&pair->lock);

	xrepl_meta_sync(pair);
	if (pair->meta_failed) {
		*error = "Metadata: I/O error";
		return -EIO;
	}
	bitmap_copy(pair->wi.committed, pair->wi.bits, pair->geom.nr_regions);
	DMINFO("%s: formatted the metadata device (%lu regions, %s)",
	       dm_device_name(pair->md), pair->geom.nr_regions,
	       in_sync ? "in sync" : "full sync needed");
	return 0;
}

/*
 * Fill a new pair from its metadata device: format it if it is fresh,
 * else load the marks, which all become dirty regions (after a crash any
 * of them may differ).  sb is the validated superblock, or NULL if fresh.
 */
int xrepl_meta_load(struct xrepl_pair *pair,
		    const struct xrepl_sb_info *sb, bool in_sync,
		    char **error)
{
	int r;

	if (!sb)
		return meta_format(pair, in_sync, error);

	pair->sb = *sb;
	pair->consistent = sb->flags & XREPL_META_F_CONSISTENT;
	pair->sb_consistent = pair->consistent;
	pair->sb_log_stale = !(sb->flags & XREPL_META_F_JOURNALED);
	/* Without a journal, a log it left is stale from now on. */
	pair->log_stale = pair->sb_log_stale || !pair->jnl;
	if (pair->log_stale != pair->sb_log_stale)
		pair->sb_dirty = true;
	r = meta_load_bitmap(pair, error);
	if (!r)
		r = xrepl_trk_load(pair, error);
	if (r)
		return r;
	bitmap_copy(pair->dirty.bits, pair->wi.bits, pair->geom.nr_regions);
	pair->dirty.nr_set = pair->wi.nr_marked;
	DMINFO("%s: metadata loaded: %lu of %lu regions marked, remote %s",
	       dm_device_name(pair->md), pair->dirty.nr_set,
	       pair->geom.nr_regions,
	       pair->consistent ? "consistent" : "not consistent");
	return 0;
}

/*
 * Read and validate the superblock of the table's metadata device, before
 * the geometry is known (a table without region_size takes the recorded
 * one).  *fresh if the device was never formatted.  Process context.
 */
int xrepl_meta_probe(struct xrepl_c *xc, struct xrepl_sb_info *sb,
		     bool *fresh, char **error)
{
	struct dm_io_client *client;
	void *buf;
	int r;

	client = dm_io_client_create();
	if (IS_ERR(client)) {
		*error = "Cannot allocate metadata I/O client";
		return PTR_ERR(client);
	}
	buf = kmalloc(XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	if (!buf) {
		dm_io_client_destroy(client);
		*error = "Cannot allocate metadata buffer";
		return -ENOMEM;
	}
	r = xrepl_meta_read_sb(xc->meta->bdev, client, buf, fresh, sb, error);
	kfree(buf);
	dm_io_client_destroy(client);
	if (r || *fresh)
		return r;

	r = xrepl_sb_check(sb, xc->ti->len,
			   (xc->args.given & XREPL_OPT_REGION_SIZE) ?
			   xc->args.region_size : 0,
			   bdev_nr_sectors(xc->meta->bdev), error);
	if (r)
		return r;
	if (sb->role != XREPL_META_ROLE_PRIMARY) {
		*error = "Metadata: a secondary's (the remote site's copy): promote it first";
		return -EINVAL;
	}
	xc->args.region_size = sb->region_size;
	return 0;
}
