// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: pairs.  The replication state (bitmap, remote state,
 * counters, workers) lives in a struct xrepl_pair that every table of a
 * mapped device naming the same legs, metadata device and geometry
 * shares, so a table reload keeps it.  A table with other geometry or
 * another metadata device gets a new pair that takes over the state of
 * the one it replaces when it is resumed.
 */
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "xrepl-core.h"

/* Protects xrepl_pairs and the refs of every pair on it. */
static DEFINE_MUTEX(xrepl_pairs_lock);
static LIST_HEAD(xrepl_pairs);

static void xrepl_pair_destroy(struct xrepl_pair *pair)
{
	unsigned int i;

	/*
	 * Nothing is in flight any more (postsuspend waited for it; what a
	 * hold kept waiting is given back below), and no table is active,
	 * so resync_work, clean_work and ship_work start nothing new.
	 * First the timers that queue work on the queues, then the queues,
	 * each before those its work items queue work on: copies and
	 * ship_work queue on wq, whose work (messages sent while suspended:
	 * a resync's superblock, redispatched writes) may commit metadata,
	 * and a failed metadata write arms meta_retry, which is cancelled
	 * last, once meta_wq is idle.  lag_work (which queues work on
	 * remote_wq and wq) is queued only for writes that wait for lag
	 * room, and none does once nothing is in flight: lag_wq goes before
	 * the queues whose work could otherwise queue it.
	 */
	hrtimer_cancel(&pair->ack_timer);
	cancel_delayed_work_sync(&pair->cycle_work);
	cancel_delayed_work_sync(&pair->clean_work);
	cancel_delayed_work_sync(&pair->resync_delay);
	cancel_delayed_work_sync(&pair->ship_work);
	/* After ship_work, which may queue a tail commit. */
	xrepl_jnl_stop(pair);
	/* What a suspend while held kept: the log has it. */
	xrepl_ship_abandon(pair);
	/* peer_work queues work on wq (a resync, an event). */
	if (pair->peer_wq)
		destroy_workqueue(pair->peer_wq);
	if (pair->copy_wq)
		destroy_workqueue(pair->copy_wq);
	/* lag_work queues work on remote_wq and wq. */
	if (pair->lag_wq)
		destroy_workqueue(pair->lag_wq);
	if (pair->remote_wq)
		destroy_workqueue(pair->remote_wq);
	if (pair->wq)
		destroy_workqueue(pair->wq);
	if (pair->meta_wq) {
		flush_workqueue(pair->meta_wq);
		cancel_delayed_work_sync(&pair->meta_retry);
		destroy_workqueue(pair->meta_wq);
	}
	if (!IS_ERR_OR_NULL(pair->peer_io))
		dm_io_client_destroy(pair->peer_io);
	kfree(pair->peer_buf);
	if (!IS_ERR_OR_NULL(pair->io_client))
		dm_io_client_destroy(pair->io_client);
	kfree(pair->meta_buf);
	xrepl_trk_free(pair);
	xrepl_wi_free(&pair->wi);
	xrepl_jnl_free(pair);
	if (!IS_ERR_OR_NULL(pair->copy_io))
		dm_io_client_destroy(pair->copy_io);
	for (i = 0; i < XREPL_MAX_COPIES; i++)
		vfree(pair->copies[i].buf);
	bioset_exit(&pair->bs);
	bioset_exit(&pair->ship_bs);
	while (pair->nr_cached)
		__free_page(pair->page_cache[--pair->nr_cached]);
	mempool_exit(&pair->ship_ents);
	mempool_exit(&pair->ship_pages);
	xrepl_bitmap_free(&pair->dirty);
	xrepl_bitmap_free(&pair->verify_bad);
	xrepl_bitmap_free(&pair->cycle_set);
	xrepl_bitmap_free(&pair->undo_saved);
	free_percpu(pair->stats);
	kfree(pair);
}

static struct xrepl_pair *xrepl_pair_create(struct xrepl_c *xc,
					    struct mapped_device *md,
					    const struct xrepl_geom *geom)
{
	struct xrepl_pair *pair;
	unsigned int i;

	pair = kzalloc(sizeof(*pair), GFP_KERNEL);
	if (!pair)
		return NULL;

	pair->md = md;
	pair->local_dev = xc->local->bdev->bd_dev;
	pair->remote_dev = xc->remote ? xc->remote->bdev->bd_dev : 0;
	pair->geom = *geom;
	pair->resync_rate_kbps = xc->args.resync_rate_kbps;
	spin_lock_init(&pair->lock);
	mutex_init(&pair->meta_io_lock);
	xrepl_trk_init(pair);
	mutex_init(&pair->peer_io_lock);
	mutex_init(&pair->connect_lock);
	INIT_WORK(&pair->peer_work, xrepl_peer_work);
	INIT_WORK(&pair->read_work, xrepl_read_work);
	bio_list_init(&pair->read_retry);
	bio_list_init(&pair->gate_deferred);
	bio_list_init(&pair->redispatch);
	bio_list_init(&pair->mark_wait);
	bio_list_init(&pair->cbw_wait);
	INIT_DELAYED_WORK(&pair->cycle_work, xrepl_cycle_work);
	init_waitqueue_head(&pair->copies_wait);
	INIT_WORK(&pair->resync_work, xrepl_resync_work);
	INIT_DELAYED_WORK(&pair->resync_delay, xrepl_resync_delay_work);
	INIT_WORK(&pair->resync_flush, xrepl_resync_flush_work);
	INIT_WORK(&pair->commit_work, xrepl_commit_work);
	INIT_DELAYED_WORK(&pair->clean_work, xrepl_clean_work);
	INIT_DELAYED_WORK(&pair->meta_retry, xrepl_meta_retry_work);
	pair->meta_retry_delay = XREPL_META_RETRY_MIN;
	INIT_WORK(&pair->remote_work, xrepl_remote_work);
	INIT_DELAYED_WORK(&pair->ship_work, xrepl_ship_work);
	INIT_WORK(&pair->return_work, xrepl_return_work);
	INIT_WORK(&pair->lag_work, xrepl_lag_work);
	init_waitqueue_head(&pair->ship_wait);
	mutex_init(&pair->ship_alloc_lock);
	spin_lock_init(&pair->page_cache_lock);
	xrepl_shipq_init(&pair->shipq, XREPL_SHIP_INFLIGHT);
	bio_list_init(&pair->lag_wait);
	bio_list_init(&pair->lag_ready);
	INIT_LIST_HEAD(&pair->ack_wait);
	hrtimer_init(&pair->ack_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	pair->ack_timer_ns = U64_MAX;
	pair->ack_timer.function = xrepl_ack_timer;
	init_llist_head(&pair->remote_queue);
	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		pair->copies[i].pair = pair;
		INIT_WORK(&pair->copies[i].work, xrepl_copy_work);
	}
	pair->copy_bytes = min_t(u64, XREPL_COPY_BYTES,
				 to_bytes(geom->region_size));
	pair->verify_bytes = min_t(u64, XREPL_COPY_BYTES / 2,
				   to_bytes(geom->region_size));

	pair->stats = alloc_percpu(struct xrepl_stats);
	if (!pair->stats)
		goto bad;
	if (xrepl_bitmap_alloc(&pair->dirty, geom->nr_regions))
		goto bad;
	if (bioset_init(&pair->bs, XREPL_BIOSET_SIZE, 0, 0))
		goto bad;
	if (bioset_init(&pair->ship_bs, XREPL_SHIP_RESERVE, 0, BIOSET_NEED_BVECS))
		goto bad;
	if (mempool_init_kmalloc_pool(&pair->ship_ents, XREPL_SHIP_RESERVE,
				      sizeof(struct xrepl_shipent)))
		goto bad;
	if (mempool_init_page_pool(&pair->ship_pages, XREPL_SHIP_MAX_PAGES, 0))
		goto bad;
	pair->copy_io = dm_io_client_create();
	if (IS_ERR(pair->copy_io))
		goto bad;
	/* Slot 0 also serves the verify, which reads both legs into it. */
	pair->copies[0].buf = vmalloc(max(pair->copy_bytes,
					  2 * pair->verify_bytes));
	if (!pair->copies[0].buf)
		goto bad;
	pair->copy_bufs = 1;
	pair->copy_wq = alloc_workqueue("xrepl-copy-%s",
					WQ_UNBOUND | WQ_MEM_RECLAIM,
					XREPL_MAX_COPIES, dm_device_name(md));
	if (!pair->copy_wq)
		goto bad;
	pair->wq = alloc_workqueue("xrepl-%s", WQ_MEM_RECLAIM, 0,
				   dm_device_name(md));
	if (!pair->wq)
		goto bad;
	pair->remote_wq = alloc_workqueue("xrepl-remote-%s",
					  WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_HIGHPRI,
					  0, dm_device_name(md));
	if (!pair->remote_wq)
		goto bad;
	/*
	 * Its own queue: a write it maps may wait for ship pages, which come
	 * back as the entries that ship_work (on remote_wq) sends complete;
	 * under memory pressure the two must not wait for one rescuer.
	 */
	pair->lag_wq = alloc_workqueue("xrepl-lag-%s",
				       WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_HIGHPRI,
				       1, dm_device_name(md));
	if (!pair->lag_wq)
		goto bad;

	/* Claimed now, as the other devices: the pair loads meanwhile. */
	if (xc->journal)
		pair->jnl_dev = xc->journal->bdev->bd_dev;
	if (xc->meta) {
		pair->meta_bdev = xc->meta->bdev;
		pair->meta_dev = pair->meta_bdev->bd_dev;
		if (xrepl_wi_alloc(&pair->wi, geom->nr_regions))
			goto bad;
		pair->meta_buf = kmalloc(XREPL_META_IO_BLOCKS * XREPL_META_BLOCK_SIZE,
					 GFP_KERNEL);
		if (!pair->meta_buf)
			goto bad;
		pair->io_client = dm_io_client_create();
		if (IS_ERR(pair->io_client))
			goto bad;
		pair->meta_wq = alloc_ordered_workqueue("xrepl-meta-%s",
							WQ_MEM_RECLAIM | WQ_HIGHPRI,
							dm_device_name(md));
		if (!pair->meta_wq)
			goto bad;
		/* The remote site's metadata: any table may name it. */
		pair->peer_buf = kmalloc(XREPL_META_BLOCK_SIZE, GFP_KERNEL);
		if (!pair->peer_buf)
			goto bad;
		pair->peer_io = dm_io_client_create();
		if (IS_ERR(pair->peer_io))
			goto bad;
		pair->peer_wq = alloc_ordered_workqueue("xrepl-peer-%s",
							WQ_MEM_RECLAIM,
							dm_device_name(md));
		if (!pair->peer_wq)
			goto bad;
	}
	return pair;
bad:
	xrepl_pair_destroy(pair);
	return NULL;
}

static bool pair_uses(const struct xrepl_pair *pair, dev_t dev)
{
	return pair->local_dev == dev || pair->remote_dev == dev ||
	       (pair->meta_dev && pair->meta_dev == dev) ||
	       (pair->peer_dev && pair->peer_dev == dev) ||
	       (pair->jnl_dev && pair->jnl_dev == dev);
}

/*
 * Does a table with this remote (0: "-") continue pair?  With a metadata
 * device, a table without a remote keeps the pair (its bitmap records
 * every write), and a pair without one takes any remote: the remote is
 * compared when it is attached (xrepl_pair_attach()).
 */
static bool remote_fits(const struct xrepl_pair *pair, dev_t remote,
			dev_t meta)
{
	if (pair->remote_dev == remote)
		return true;
	return meta && pair->meta_dev == meta &&
	       (!remote || READ_ONCE(pair->degraded_by) == XREPL_DEGRADED_ABSENT);
}

/* What a new pair takes over from the pair it replaces, if any. */
struct xrepl_inherit {
	bool predecessor;
	enum xrepl_degraded degraded_by;
	bool consistent;
	bool has_sb;			/* the predecessor had metadata: sb */
	struct xrepl_sb_info sb;
	bool verify_lost;		/* a verify pass (or its repair) ends */
};

/* Read what a successor of pair p takes over.  xrepl_pairs_lock held. */
static void inherit_from(struct xrepl_pair *p, struct xrepl_inherit *inh)
{
	spin_lock_irq(&p->lock);
	inh->predecessor = true;
	inh->degraded_by = p->degraded_by;
	inh->consistent = p->consistent;
	inh->has_sb = p->meta_bdev;
	if (inh->has_sb)
		inh->sb = p->sb;
	inh->verify_lost = xrepl_verify_running_locked(p);
	spin_unlock_irq(&p->lock);
}

/*
 * The replication relationship goes on with the new metadata: its
 * identity and data generations are the predecessor's (or new ones if it
 * had none), whatever a reused device recorded; a degraded remote has a
 * bitmap generation, as xrepl_degrade_locked() starts one.  pair->lock held.
 */
static void inherit_identity_locked(struct xrepl_pair *pair,
				    const struct xrepl_inherit *inh)
{
	struct xrepl_sb_info fresh;
	const struct xrepl_sb_info *from = &inh->sb;

	if (!inh->has_sb) {
		xrepl_sb_init(&fresh, &pair->geom, false);
		from = &fresh;
	}
	memcpy(pair->sb.uuid, from->uuid, sizeof(pair->sb.uuid));
	pair->sb.ctime = from->ctime;
	pair->sb.gen_current = from->gen_current;
	pair->sb.gen_bitmap = from->gen_bitmap;
	pair->sb.gen_history[0] = from->gen_history[0];
	pair->sb.gen_history[1] = from->gen_history[1];
	pair->sb.resync_count = from->resync_count;
	pair->sb.degrade_count = from->degrade_count;
	if (pair->degraded_by != XREPL_DEGRADED_NONE)
		xrepl_gen_split(&pair->sb);
}

/*
 * Look for the pair a table of xc continues (same device, legs, metadata
 * device and geometry).  Returns 1 with a reference on it in xc->pair, 0
 * if a new pair is needed (*inh says what it takes over), or an error
 * with *error set.  xrepl_pairs_lock held.
 */
static int pair_find_locked(struct xrepl_c *xc, const struct xrepl_geom *geom,
			    struct xrepl_inherit *inh, char **error)
{
	struct mapped_device *md = dm_table_get_md(xc->ti->table);
	dev_t local = xc->local->bdev->bd_dev;
	dev_t remote = xc->remote ? xc->remote->bdev->bd_dev : 0;
	dev_t meta = xc->meta ? xc->meta->bdev->bd_dev : 0;
	dev_t jnl = xc->journal ? xc->journal->bdev->bd_dev : 0;
	struct xrepl_pair *pair;
	bool same, held, delayed;

	inh->predecessor = false;
	inh->degraded_by = XREPL_DEGRADED_NONE;
	inh->consistent = true;
	inh->has_sb = false;
	list_for_each_entry(pair, &xrepl_pairs, list) {
		if (pair->md != md) {
			if (pair_uses(pair, local) ||
			    (remote && pair_uses(pair, remote)) ||
			    (meta && pair_uses(pair, meta)) ||
			    (xc->peer && pair_uses(pair, xc->peer->bdev->bd_dev)) ||
			    (jnl && pair_uses(pair, jnl))) {
				*error = "Device already replicated by another xrepl device";
				return -EBUSY;
			}
			continue;
		}
		if (pair->local_dev != local || !remote_fits(pair, remote, meta)) {
			/*
			 * Another pair of legs: its bitmap says nothing about
			 * these, and its table may still write the metadata.
			 */
			if (meta && pair->meta_dev == meta) {
				*error = "Metadata device in use with other legs: give a fresh one";
				return -EBUSY;
			}
			continue;
		}
		if (pair->loading) {
			*error = "Another table of this device is loading its replication state";
			return -EBUSY;
		}
		same = pair->meta_dev == meta &&
		       pair->geom.dev_sectors == geom->dev_sectors &&
		       pair->geom.region_size == geom->region_size;
		/*
		 * The log of a live pair lives in memory too: it is not
		 * handed to another journal, nor to a pair that replaces it.
		 */
		if ((jnl || pair->jnl_dev) && (!same || pair->jnl_dev != jnl)) {
			*error = "Journal: a reload may not change the journal or the geometry";
			return -EINVAL;
		}
		if (same) {
			held = xrepl_jnl_held_recorded(pair);
			spin_lock_irq(&pair->lock);
			held |= xrepl_jnl_held_locked(pair);
			delayed = xrepl_jnl_held_back_locked(pair);
			spin_unlock_irq(&pair->lock);
			if (held && xc->args.mode != XREPL_MODE_ASYNC) {
				*error = "Journal: held: another mode needs 'release' first";
				return -EINVAL;
			}
			if (delayed && xc->args.mode != XREPL_MODE_ASYNC) {
				*error = "Journal: delayed: send 'set delay_ms 0' first";
				return -EINVAL;
			}
			pair->refs++;
			xc->pair = pair;
			return 1;
		}
		/* The live table's pair, if there are several. */
		if (!inh->predecessor || READ_ONCE(pair->active))
			inherit_from(pair, inh);
	}
	return 0;
}

/*
 * Fill a new pair: from its metadata device, or as nosync says, or from
 * the pair it replaces.  A new pair starts with every region dirty,
 * unless nosync says the legs are equal.  But if it replaces a pair of
 * the same device and legs whose bitmap cannot be carried over (another
 * geometry, or another metadata device), it continues that pair's state:
 * nosync is ignored, every region becomes dirty, a degraded remote stays
 * degraded and a remote that was not consistent stays so.  Process
 * context; may do metadata I/O.
 */
static int pair_fill(struct xrepl_pair *pair, struct xrepl_c *xc,
		     const struct xrepl_sb_info *sb,
		     const struct xrepl_inherit *inh, char **error)
{
	enum xrepl_degraded why = inh->degraded_by;
	bool consistent = inh->consistent, ok;
	struct xrepl_sb_info nsb;
	/* A tracker of the pair replaced, or of the device reused, goes. */
	bool trk_dropped = inh->has_sb && inh->sb.trk_id;
	int r;

	/* What a fresh metadata device's first superblock records. */
	spin_lock_irq(&pair->lock);
	xrepl_state_init_locked(pair, why);
	spin_unlock_irq(&pair->lock);
	if (xc->meta) {
		/*
		 * Judged before the metadata is loaded (a fresh device is
		 * formatted then): a refused table changes nothing.
		 */
		if (xc->journal) {
			r = xrepl_jnl_open(pair, xc, sb ? sb->uuid : NULL,
					   pair->geom.dev_sectors, error);
			if (r)
				return r;
		}
		/* A new pair's fresh device stays fresh if it is refused. */
		if (!sb && !inh->predecessor) {
			r = xrepl_peer_check_new(pair, xc, xc->args.nosync,
						 error);
			if (r)
				return r;
		}
		/*
		 * A replacement starts without a change tracker (below):
		 * the slots a reused device holds are not read.
		 */
		if (sb && inh->predecessor) {
			trk_dropped |= sb->trk_id;
			nsb = *sb;
			xrepl_sb_trk_clear(&nsb);
			sb = &nsb;
		}
		r = xrepl_meta_load(pair, sb,
				    xc->args.nosync && !inh->predecessor,
				    error);
		if (r)
			return r;
		/*
		 * A log found on the journal may be replayed if the
		 * metadata vouches for it: a primary's, which replicated
		 * with its journal (consistent, not degraded) when it was
		 * last written.
		 */
		if (xc->journal)
			xrepl_jnl_loaded(pair, sb && !inh->predecessor &&
					 sb->role == XREPL_META_ROLE_PRIMARY &&
					 sb->degraded == XREPL_META_DEGRADED_NONE &&
					 (sb->flags & XREPL_META_F_CONSISTENT) &&
					 (sb->flags & XREPL_META_F_JOURNALED));
		if (!inh->predecessor) {
			consistent = pair->consistent;
			/* The administrator took the remote down: it stays down. */
			if (pair->sb.degraded == XREPL_META_DEGRADED_ADMIN)
				why = XREPL_DEGRADED_ADMIN;
		}
	} else if (!inh->predecessor) {
		consistent = xc->args.nosync;
	}
	if (!xc->remote) {
		why = XREPL_DEGRADED_ABSENT;
		/* The source changes without its remote: a data generation. */
		spin_lock_irq(&pair->lock);
		if (xrepl_gen_split(&pair->sb))
			pair->sb_dirty = true;
		spin_unlock_irq(&pair->lock);
	}

	/*
	 * A replacement resyncs everything: the old pair's bitmap is lost.
	 * A new pair without a metadata device resyncs everything unless
	 * nosync says the legs are equal.
	 */
	if (inh->predecessor || (!xc->meta && !consistent))
		xrepl_bitmap_fill(&pair->dirty);
	spin_lock_irq(&pair->lock);
	/* The resync (or the full sync of a new pair) starts on resume. */
	xrepl_state_take_over_locked(pair, why, consistent);
	if (inh->predecessor && xc->meta) {
		/* What the old pair knew, not what the device said. */
		xrepl_wi_mark_all_locked(&pair->wi);
		inherit_identity_locked(pair, inh);
		pair->sb_dirty = true;
	}
	spin_unlock_irq(&pair->lock);
	if (inh->predecessor && xc->meta) {
		xrepl_trk_reset(pair, trk_dropped);
		if (!xrepl_meta_sync(pair)) {
			*error = "Metadata: I/O error";
			return -EIO;
		}
		bitmap_copy(pair->wi.committed, pair->wi.bits,
			    pair->geom.nr_regions);
	}
	/*
	 * The metadata says a journal's log holds what the marks do not (the
	 * cleaner cleared them by it), and there is no log to read: the
	 * journal is gone, or new.  Every region is resynced, marked on disk
	 * before the flag goes (log_stale is false meanwhile).  After the
	 * state is taken over, so that the superblock written keeps it.
	 */
	if (sb && !inh->predecessor && (sb->flags & XREPL_META_F_JOURNALED) &&
	    (!xc->journal || xrepl_jnl_fresh(pair))) {
		DMWARN("%s: journal: the log the metadata relies on is gone: all resynced",
		       dm_device_name(pair->md));
		spin_lock_irq(&pair->lock);
		pair->log_stale = false;
		spin_unlock_irq(&pair->lock);
		ok = xrepl_meta_mark_dirty(pair, NULL);
		spin_lock_irq(&pair->lock);
		pair->log_stale = !xc->journal;
		pair->sb_dirty = true;
		spin_unlock_irq(&pair->lock);
		if (!ok) {
			*error = "Metadata: I/O error";
			return -EIO;
		}
	}
	/* Read again on resume, when the old table is stopped. */
	if (inh->predecessor)
		pair->inherit_pending = true;
	return 0;
}

/*
 * Join the pair this table continues, or create and fill a new one.
 * xrepl_pairs_lock is not held while a new pair is allocated and its
 * metadata read and written, so that a slow metadata device does not
 * hold up the table loads of every other device: the new pair is on the
 * list (loading), which claims its devices, while it is filled.  Process
 * context.
 */
int xrepl_pair_get(struct xrepl_c *xc, const struct xrepl_geom *geom,
		   const struct xrepl_sb_info *sb, char **error)
{
	struct mapped_device *md = dm_table_get_md(xc->ti->table);
	struct xrepl_inherit inh;
	struct xrepl_pair *pair;
	int r;

	mutex_lock(&xrepl_pairs_lock);
	r = pair_find_locked(xc, geom, &inh, error);
	mutex_unlock(&xrepl_pairs_lock);
	if (r)
		return r < 0 ? r : 0;

	pair = xrepl_pair_create(xc, md, geom);
	if (!pair) {
		*error = "Cannot allocate replication state";
		return -ENOMEM;
	}
	/* Claim the devices: the list may have changed meanwhile. */
	mutex_lock(&xrepl_pairs_lock);
	r = pair_find_locked(xc, geom, &inh, error);
	if (!r) {
		pair->loading = true;
		pair->refs = 1;
		list_add(&pair->list, &xrepl_pairs);
	}
	mutex_unlock(&xrepl_pairs_lock);
	if (r) {
		xrepl_pair_destroy(pair);
		return r < 0 ? r : 0;
	}

	r = pair_fill(pair, xc, sb, &inh, error);
	mutex_lock(&xrepl_pairs_lock);
	if (r)
		list_del(&pair->list);
	else
		pair->loading = false;
	mutex_unlock(&xrepl_pairs_lock);
	if (r) {
		xrepl_pair_destroy(pair);
		return r;
	}
	xc->pair = pair;
	return 0;
}

void xrepl_pair_put(struct xrepl_pair *pair)
{
	mutex_lock(&xrepl_pairs_lock);
	if (--pair->refs) {
		mutex_unlock(&xrepl_pairs_lock);
		return;
	}
	list_del(&pair->list);
	mutex_unlock(&xrepl_pairs_lock);
	xrepl_pair_destroy(pair);
}

/*
 * A pair that replaces another (inherit_pending): dm core stopped the old
 * table before this, so its state is final now; take it over again (the
 * administrator may have sent "remote up" or "remote down" to the old
 * table after the new one was constructed) and record it durably.
 */
void xrepl_pair_take_over(struct xrepl_pair *pair)
{
	struct xrepl_inherit inh = { .predecessor = false };
	struct xrepl_pair *p;

	if (!pair->inherit_pending)
		return;
	pair->inherit_pending = false;
	mutex_lock(&xrepl_pairs_lock);
	list_for_each_entry(p, &xrepl_pairs, list)
		if (p != pair && p->md == pair->md && !p->loading &&
		    p->local_dev == pair->local_dev &&
		    p->remote_dev == pair->remote_dev)
			inherit_from(p, &inh);
	mutex_unlock(&xrepl_pairs_lock);
	if (!inh.predecessor)
		return;
	/* Its regions may be numbered otherwise: the pass is not carried over. */
	if (inh.verify_lost)
		DMWARN("%s: new table replaces the pair: its verify pass ends; run it again",
		       dm_device_name(pair->md));

	spin_lock_irq(&pair->lock);
	xrepl_state_take_over_locked(pair, inh.degraded_by, inh.consistent);
	if (pair->meta_bdev) {
		inherit_identity_locked(pair, &inh);
		pair->sb_dirty = true;
	}
	spin_unlock_irq(&pair->lock);
	/* A failure is reported (meta_failed) and retried, as any other. */
	if (pair->meta_bdev)
		xrepl_meta_sync(pair);
}

/*
 * xc's table is resumed: the pair's background work (resync, ship worker,
 * metadata commit, cleaner) runs for it from now on.
 */
void xrepl_pair_activate(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	bool changed = false;

	spin_lock_irq(&pair->lock);
	pair->active = xc;
	pair->activated = true;
	pair->resync_stop = false;
	pair->peer_bdev = xc->peer ? xc->peer->bdev : NULL;
	if (!xc->peer) {
		pair->peer_state = XREPL_PEER_NONE;
		pair->peer_dev = 0;
		xrepl_undo_connect_locked(pair, NULL, 0);
	}
	/* A table without a remote: every write is marked from now on. */
	if (!xc->remote)
		changed = xrepl_degrade_locked(pair, XREPL_DEGRADED_ABSENT);
	/* Periodic mode or not, as the table says; the cycles' timer. */
	xrepl_cycle_set_mode_locked(pair, READ_ONCE(xc->args.mode));
	if (pair->periodic)
		mod_delayed_work(pair->wq, &pair->cycle_work,
				 (unsigned long)xc->args.period_s * HZ);
	/* A resync, a cycle or a verify paused by the suspend goes on. */
	if (pair->resync_active || pair->verify_active || pair->cycle_wanted)
		queue_work(pair->wq, &pair->resync_work);
	/*
	 * Congested (maybe inherited from the pair this one replaces): the
	 * ship worker returns to replicating once nothing is held.
	 */
	if (xrepl_degraded_returns(pair->degraded_by))
		xrepl_ship_now(pair);
	if (pair->meta_bdev) {
		if (pair->sb_dirty)
			queue_work(pair->meta_wq, &pair->commit_work);
		queue_delayed_work(pair->wq, &pair->clean_work,
				   xrepl_clean_interval());
	}
	xrepl_peer_update_locked(pair);
	spin_unlock_irq(&pair->lock);
	if (changed)
		xrepl_report_degraded(xc, "the table has no remote");
}

/*
 * The remote is about to receive writes again (remote up, attach) while
 * regions it misses remain: from its first write until the resync copied
 * them, it holds no state a crash of the source could have produced.
 * Record that first, durably: on this site's metadata (a failure there is
 * retried and shown as meta_failed) and on the remote site's.  Returns 0,
 * or an error if the remote site's metadata cannot be written.  Process
 * context.
 */
static int pair_before_back(struct xrepl_pair *pair, struct xrepl_c *xc)
{
	bool needed, sb = false;

	/* Periodic mode: the remote receives no writes; a cycle records it. */
	if (xc && READ_ONCE(xc->args.mode) == XREPL_MODE_PERIODIC)
		return 0;
	spin_lock_irq(&pair->lock);
	needed = xrepl_resync_needed_locked(pair);
	if (needed && pair->consistent) {
		pair->consistent = false;
		sb = pair->meta_bdev;
		pair->sb_dirty = sb;
	}
	spin_unlock_irq(&pair->lock);
	if (!needed)
		return 0;
	if (sb)
		xrepl_meta_sync(pair);
	if (!xc)
		return xrepl_peer_copying_active(pair);
	return xrepl_peer_copying(pair, xc->peer ? xc->peer->bdev : NULL);
}

int xrepl_pair_before_back(struct xrepl_c *xc)
{
	return pair_before_back(xc->pair, xc);
}

/*
 * The same before replication returns by itself (the end of a congestion
 * degradation), to the active table's remote site's metadata.
 */
int xrepl_pair_before_return(struct xrepl_pair *pair)
{
	return pair_before_back(pair, NULL);
}

/*
 * Preresume of a table with a remote: attach it if the pair had none
 * (ABSENT), and connect to the remote site's metadata if the table names
 * remote_meta (read and compared again on every resume).  A refused or failed
 * connection leaves the remote degraded (error), nothing written to it;
 * the table still resumes, as a site never refuses to start its local
 * volume because of the other site.
 */
void xrepl_pair_attach(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	bool absent, other, need_peer, live, sending, downed;
	unsigned long down_seq;
	char *error = NULL;
	dev_t remote;
	int r = 0;

	if (!xc->remote)
		return;
	remote = xc->remote->bdev->bd_dev;
	mutex_lock(&pair->connect_lock);
	spin_lock_irq(&pair->lock);
	absent = pair->degraded_by == XREPL_DEGRADED_ABSENT;
	other = pair->remote_dev && pair->remote_dev != remote;
	/*
	 * Read and compared on every resume that sends writes to the
	 * remote, even of the table connected already: the remote site may
	 * have been promoted meanwhile.  A remote that stays degraded is
	 * compared by "remote up".
	 */
	/* Will the remote receive writes once resumed? */
	sending = absent || pair->degraded_by == XREPL_DEGRADED_NONE;
	need_peer = xc->peer &&
		    (sending || pair->peer_dev != xc->peer->bdev->bd_dev ||
		     pair->peer_state != XREPL_PEER_OK);
	live = pair->activated && !absent && !other &&
	       pair->degraded_by == XREPL_DEGRADED_NONE;
	down_seq = pair->down_seq;
	spin_unlock_irq(&pair->lock);

	if (need_peer) {
		r = xrepl_peer_connect(xc, live, &error);
	} else if (absent && other) {
		/* Another remote, and nothing says what it holds: all of it. */
		if (!xrepl_meta_mark_dirty(pair, NULL)) {
			error = "Metadata: I/O error on this site's metadata device";
			r = -EIO;
		}
	}
	if (!r && (need_peer || absent) && sending) {
		r = xrepl_pair_before_back(xc);
		if (r)
			error = "cannot write the remote site's metadata";
	}
	if (!absent && !r) {
		/*
		 * Regions the verdict added (a failback's union, a full copy)
		 * are copied now, even if the pair had nothing to copy.
		 */
		spin_lock_irq(&pair->lock);
		if (pair->degraded_by == XREPL_DEGRADED_NONE &&
		    xrepl_resync_needed_locked(pair))
			xrepl_resync_start_locked(pair);
		spin_unlock_irq(&pair->lock);
		mutex_unlock(&pair->connect_lock);
		return;
	}
	spin_lock_irq(&pair->lock);
	pair->remote_dev = remote;
	downed = pair->down_seq != down_seq;
	if (r)
		xrepl_attach_failed_locked(pair);
	else if (!downed)
		xrepl_remote_back_locked(pair, false);
	if (downed && pair->degraded_by != XREPL_DEGRADED_ADMIN) {
		/* A "remote down" came meanwhile: the administrator's. */
		WRITE_ONCE(pair->degraded_by, XREPL_DEGRADED_ADMIN);
		xrepl_sb_changed_locked(pair);
	}
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&pair->connect_lock);
	if (r)
		DMERR("%s: remote %s not attached: %s", xrepl_name(xc),
		      xc->remote->name, error);
	else
		DMINFO("%s: remote %s attached", xrepl_name(xc),
		       xc->remote->name);
	xrepl_raise_event(xc);
}
