// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the asynchronous modes (async, semi-sync, and sync while a
 * switch to it drains the ship queue).
 *
 * A write is admitted into the lag (the data held for the remote, at most
 * max_lag_kb; with a journal, in memory), its data is copied into a ship
 * entry, and the local write
 * is issued.  When that completed, the entry joins the ship queue, which
 * decides when it may go to the remote (xrepl-ship.c); ship_work sends it,
 * and its remote completion frees it and leaves the lag.  In semi-sync
 * mode the write is acknowledged when its entry reached the remote, or
 * semi_timeout_ms after it was issued (the ack timer), whichever is first.
 */
#include <linux/highmem.h>

#include "xrepl-core.h"

/* Data a ship entry for bio holds. */
unsigned int xrepl_ship_bytes(struct bio *bio)
{
	return bio_op(bio) == REQ_OP_WRITE && bio_has_data(bio) ?
	       bio->bi_iter.bi_size : 0;
}

/*
 * The mode changes to sync: while the lag holds writes, new writes go
 * through the ship queue too, each acknowledged when on the remote, until
 * the lag is empty; so none passes an older one.  Before the mode changes.
 */
void xrepl_drain_start_locked(struct xrepl_pair *pair)
{
	if (!pair->lag.writes)
		return;
	WRITE_ONCE(pair->draining, true);
	/* Pairs with smp_rmb() in xrepl_ships_writes(). */
	smp_wmb();
}

/*
 * Count a write in the lag and decide when it is acknowledged: in semi-sync
 * mode when on the remote or semi_timeout_ms after it was issued; after a
 * switch to sync (draining) when on the remote; else at local completion.
 */
void xrepl_lag_enter_locked(struct xrepl_c *xc, struct xrepl_io *io,
			    unsigned int bytes)
{
	struct xrepl_pair *pair = xc->pair;
	enum xrepl_mode mode = READ_ONCE(xc->args.mode);

	xrepl_lag_add(&pair->lag, bytes);
	io->flags |= XREPL_IO_LAG;
	if (mode == XREPL_MODE_SEMI_SYNC) {
		io->flags |= XREPL_IO_ACK_WAIT;
		io->deadline_ns = io->issued_ns +
				  (u64)READ_ONCE(xc->args.semi_timeout_ms) *
				  NSEC_PER_MSEC;
	} else if (mode == XREPL_MODE_SYNC) {
		/* Admitted as the mode changed: drain behind it. */
		WRITE_ONCE(pair->draining, true);
		io->flags |= XREPL_IO_ACK_WAIT;
		io->deadline_ns = U64_MAX;
	}
}

/*
 * A write leaves the lag (its entry is freed, or it made none).
 * Returns true if writes waiting for room were moved to lag_ready: the
 * caller passes that to xrepl_ship_kick().
 */
bool xrepl_lag_leave_locked(struct xrepl_pair *pair, unsigned int bytes)
{
	if (xrepl_lag_remove(&pair->lag, bytes) && pair->draining) {
		WRITE_ONCE(pair->draining, false);
		pair->drain_event = true;
		/*
		 * Writes go to the remote directly from now on: a tail
		 * commit at once passes the entries they may overwrite,
		 * which a replay after a crash would send again.
		 */
		xrepl_jnl_commit_soon_locked(pair);
	}
	/* Switched to periodic mode: its first cycle waited for this. */
	if (!pair->lag.writes && pair->cycle_wanted)
		queue_work(pair->wq, &pair->resync_work);
	return xrepl_lag_room_locked(pair);
}

/* Have lag_work map the writes on lag_ready. */
void xrepl_lag_kick(struct xrepl_pair *pair)
{
	queue_work(pair->lag_wq, &pair->lag_work);
}

/*
 * Map the writes that left lag_wait, in their order.  On lag_wq, whose
 * workers run at high priority on any CPU: the wait of a write released
 * by the remote's completion is its writer's latency, and the transport's
 * workers that complete the remote's I/O run at high priority too (a
 * worker of normal priority waits behind them for milliseconds).
 */
void xrepl_lag_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       lag_work);
	struct bio_list bios;

	spin_lock_irq(&pair->lock);
	bios = pair->lag_ready;
	bio_list_init(&pair->lag_ready);
	spin_unlock_irq(&pair->lock);
	xrepl_redispatch(&bios);
}

/* Run ship_work now. */
void xrepl_ship_now(struct xrepl_pair *pair)
{
	mod_delayed_work(pair->remote_wq, &pair->ship_work, 0);
}

/*
 * Run ship_work within a jiffy, unless it is due earlier.  For writes
 * acknowledged already: waking a worker for each would cost the writer
 * more than the copy (the worker may preempt it on its CPU); batched, the
 * wake-ups are few and the remote gets the writes in plugged batches.
 */
void xrepl_ship_soon(struct xrepl_pair *pair)
{
	queue_delayed_work(pair->remote_wq, &pair->ship_work, 1);
}

/* After xrepl_lag_leave_locked(): let ship_work and waiting writes go on. */
void xrepl_ship_kick(struct xrepl_pair *pair, bool redispatch)
{
	if (redispatch)
		xrepl_lag_kick(pair);
	xrepl_ship_now(pair);
}

/*
 * Does a write of bytes fit in the lag?  max_lag_kb bounds the memory
 * held for the remote.  With a journal, each entry also counts its
 * descriptor, and an entry whose pages were dropped (its data in the log
 * only) counts nothing else: the log's room bounds those
 * (xrepl_jnl_write()).  XREPL_LAG_FULL: the bound is reached, which the
 * remote's progress ends (the congestion policy applies).
 * XREPL_LAG_WAY: the journal is in use and the writes on their way to
 * the log have their half of the bound (the entries kept in the ship
 * queue have the other, jnl_join_locked()); appends end that.
 */
enum xrepl_lag_fit xrepl_lag_fit_locked(struct xrepl_c *xc,
					unsigned int bytes)
{
	struct xrepl_pair *pair = xc->pair;
	u64 max = (u64)READ_ONCE(xc->args.max_lag_kb) << 10;
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_lag mem = pair->lag, way;

	if (!jnl)
		return xrepl_lag_fits(&mem, max, bytes) ? XREPL_LAG_FITS :
		       XREPL_LAG_FULL;
	/* A replay's write holds nothing: an empty lag takes any write. */
	if (jnl->replay)
		mem.writes--;
	mem.bytes -= jnl->dropped_bytes;
	mem.bytes += (u64)(mem.writes + 1) * xrepl_jnl_desc_bytes();
	if (!xrepl_lag_fits(&mem, max, bytes))
		return XREPL_LAG_FULL;
	if (!jnl->usable)
		return XREPL_LAG_FITS;
	way.bytes = pair->lag.bytes - jnl->dropped_bytes - jnl->kept_bytes;
	way.writes = mem.writes - jnl->dropped - jnl->kept;
	return xrepl_lag_fits(&way, max / 2, bytes) ? XREPL_LAG_FITS :
	       XREPL_LAG_WAY;
}

/*
 * Does a write that finds the lag or the log full wait for room
 * (congestion block)?  Not while shipping is held (nothing frees room
 * then) or delayed (for as long as the delay): the write degrades the
 * remote instead.  lock held.
 */
bool xrepl_congestion_waits_locked(struct xrepl_c *xc)
{
	return READ_ONCE(xc->args.congestion) == XREPL_CONGESTION_BLOCK &&
	       !xrepl_jnl_held_back_locked(xc->pair);
}

bool xrepl_lag_fits_locked(struct xrepl_c *xc, unsigned int bytes)
{
	return xrepl_lag_fit_locked(xc, bytes) == XREPL_LAG_FITS;
}

/*
 * Does a write that does not fit (fit) wait for room?  Under congestion
 * block, or while a switch to sync drains (it is admitted once the lag
 * emptied), or for the appends (which end that whatever the policy).
 * lock held.
 */
static bool lag_waits_locked(struct xrepl_c *xc, enum xrepl_lag_fit fit)
{
	return xrepl_congestion_waits_locked(xc) || xc->pair->draining ||
	       fit == XREPL_LAG_WAY;
}

/*
 * Room may have appeared in the lag: admit the writes waiting for it, in
 * the order they came, as many as fit, onto lag_ready (lag_work maps them,
 * admitted).  A write that arrives meanwhile queues behind them
 * (xrepl_lag_admit()): the room goes to the oldest.  If the first would no
 * longer wait (the remote degraded, the policy or the mode changed), they
 * all look at the lag anew, as new writes (their order is not kept then:
 * a write mapped before lag_work maps them may pass them, once).  Returns
 * true if any moved to lag_ready: the caller then calls xrepl_lag_kick()
 * (or passes it to xrepl_ship_kick()).  lock held.
 */
bool xrepl_lag_room_locked(struct xrepl_pair *pair)
{
	bool moved = false;
	struct bio *bio;

	while ((bio = bio_list_peek(&pair->lag_wait))) {
		struct xrepl_io *io = xrepl_io(bio);
		unsigned int bytes = xrepl_ship_bytes(bio);
		enum xrepl_lag_fit fit;

		if (pair->degraded_by != XREPL_DEGRADED_NONE ||
		    !xrepl_ships_writes(io->xc))
			return xrepl_lag_wait_release_locked(pair) || moved;
		fit = xrepl_lag_fit_locked(io->xc, bytes);
		if (fit != XREPL_LAG_FITS) {
			if (lag_waits_locked(io->xc, fit))
				break;
			return xrepl_lag_wait_release_locked(pair) || moved;
		}
		bio_list_pop(&pair->lag_wait);
		xrepl_lag_enter_locked(io->xc, io, bytes);
		bio_list_add(&pair->lag_ready, bio);
		moved = true;
	}
	return moved;
}

/*
 * Admit a write into the lag.  At the lag bound, congestion block defers
 * it until there is room; congestion degrade gives up on the remote (the
 * buffered writes become dirty regions) and lets it go to the local leg.
 * With a journal in use, a write that finds the writes on their way to
 * the log at their half of the bound waits, whatever the policy: appends
 * end that, not the remote.  A write that finds others waiting waits
 * behind them, even if it would fit: room goes in order
 * (xrepl_lag_room_locked()).  Returns true if the bio was deferred.
 */
bool xrepl_lag_admit(struct xrepl_c *xc, struct bio *bio,
		     struct xrepl_io *io)
{
	struct xrepl_pair *pair = xc->pair;
	unsigned int bytes = xrepl_ship_bytes(bio);
	bool degraded = false, kick, deferred = false;
	enum xrepl_lag_fit fit;

	spin_lock_irq(&pair->lock);
	if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		spin_unlock_irq(&pair->lock);
		return false;
	}
	/* Writes that wait go first: those that fit now, then this one. */
	kick = xrepl_lag_room_locked(pair);
	fit = xrepl_lag_fit_locked(xc, bytes);
	if (fit == XREPL_LAG_FITS && bio_list_empty(&pair->lag_wait)) {
		xrepl_lag_enter_locked(xc, io, bytes);
	} else if (fit == XREPL_LAG_FITS || lag_waits_locked(xc, fit)) {
		pair->lag_waits++;
		bio_list_add(&pair->lag_wait, bio);
		deferred = true;
	} else {
		degraded = xrepl_degrade_locked(pair, XREPL_DEGRADED_CONGESTION);
	}
	spin_unlock_irq(&pair->lock);
	if (kick)
		xrepl_lag_kick(pair);
	if (degraded) {
		DMWARN("%s: lag bound of %u KiB reached, replication degraded",
		       xrepl_name(xc), READ_ONCE(xc->args.max_lag_kb));
		xrepl_raise_event(xc);
		/* ship_work drops the buffer. */
		xrepl_ship_now(pair);
	}
	return deferred;
}

void xrepl_ship_free(struct xrepl_pair *pair, struct xrepl_shipent *ent)
{
	unsigned long flags;
	unsigned int i = 0;

	/* Its pages dropped: none, or read back into the journal's pool. */
	if (ent->jdropped) {
		xrepl_jnl_pages_free(pair, ent);
		mempool_free(ent, ent->jreplay ? &pair->jnl->rp_ents :
				  &pair->ship_ents);
		return;
	}
	/* Keep the pages, unless the pool's reserve needs them back. */
	if (READ_ONCE(pair->ship_pages.curr_nr) >= pair->ship_pages.min_nr) {
		spin_lock_irqsave(&pair->page_cache_lock, flags);
		for (; i < ent->nr_pages && pair->nr_cached < XREPL_PAGE_CACHE; i++)
			pair->page_cache[pair->nr_cached++] = ent->pages[i];
		spin_unlock_irqrestore(&pair->page_cache_lock, flags);
	}
	for (; i < ent->nr_pages; i++)
		mempool_free(ent->pages[i], &pair->ship_pages);
	mempool_free(ent, &pair->ship_ents);
}

/* Take up to n pages kept by xrepl_ship_free(); returns how many. */
static unsigned int ship_pages_get(struct xrepl_pair *pair,
				   struct page **pages, unsigned int n)
{
	unsigned int got = 0;

	spin_lock_irq(&pair->page_cache_lock);
	while (got < n && pair->nr_cached)
		pages[got++] = pair->page_cache[--pair->nr_cached];
	spin_unlock_irq(&pair->page_cache_lock);
	return got;
}

/* A ship entry of xc's, empty: no data, no sectors, in no list. */
void xrepl_ship_init(struct xrepl_shipent *ent, struct xrepl_c *xc)
{
	memset(&ent->s, 0, sizeof(ent->s));
	INIT_LIST_HEAD(&ent->ack_list);
	ent->early = false;
	ent->local_done = false;
	ent->remote_done = false;
	INIT_LIST_HEAD(&ent->jappend);
	INIT_LIST_HEAD(&ent->jlog);
	INIT_LIST_HEAD(&ent->jflight);
	INIT_LIST_HEAD(&ent->jpark);
	ent->jpbio = NULL;
	ent->jroom = false;
	ent->jseq = 0;
	ent->jbio = NULL;
	ent->jhdr = NULL;
	ent->local_status = BLK_STS_OK;
	ent->append_done = false;
	ent->appended = false;
	ent->jdropped = false;
	ent->jkept = false;
	ent->jread = false;
	ent->jreplay = false;
	ent->upper = NULL;
	ent->deadline_ns = U64_MAX;
	/* Journaled, its header's time replaces it; a delay counts from it. */
	ent->jtime_ns = ktime_get_real_ns();
	ent->xc = xc;
	ent->tracked = false;
	ent->settled = false;
	ent->first = 0;
	ent->last = 0;
	ent->nr_pages = 0;
	ent->opf = 0;
}

/* Copy what bio will write into a new ship entry.  May sleep (GFP_NOIO). */
struct xrepl_shipent *xrepl_ship_alloc(struct xrepl_c *xc, struct bio *bio,
				       struct xrepl_io *io)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_shipent *ent = mempool_alloc(&pair->ship_ents, GFP_NOIO);
	struct bvec_iter iter;
	struct bio_vec bv;
	unsigned int off = 0;

	xrepl_ship_init(ent, xc);
	ent->tracked = io->flags & XREPL_IO_TRACKED;
	ent->settled = false;
	ent->first = io->first;
	ent->last = io->last;
	ent->nr_pages = 0;
	ent->s.sector = bio->bi_iter.bi_sector;
	ent->s.nr_sectors = bio_sectors(bio);
	/* As the source asked: allocated zeroes stay allocated, and so on. */
	ent->opf = bio_op(bio) | REQ_SYNC |
		   (bio->bi_opf & (REQ_NOUNMAP | REQ_META | REQ_PRIO));
	/* Flushes and FUA writes end an epoch; see the ship queue. */
	if (bio->bi_opf & (REQ_PREFLUSH | REQ_FUA)) {
		ent->s.flags = XREPL_SHIP_BARRIER;
		ent->opf |= REQ_PREFLUSH | (bio->bi_opf & REQ_FUA);
	}
	ent->s.bytes = xrepl_ship_bytes(bio);
	if (!ent->s.bytes)
		return ent;

	ent->nr_pages = DIV_ROUND_UP(ent->s.bytes, PAGE_SIZE);
	off = ship_pages_get(pair, ent->pages, ent->nr_pages);
	if (off < ent->nr_pages) {
		mutex_lock(&pair->ship_alloc_lock);
		for (; off < ent->nr_pages; off++)
			ent->pages[off] = mempool_alloc(&pair->ship_pages,
							GFP_NOIO);
		mutex_unlock(&pair->ship_alloc_lock);
	}
	off = 0;
	/* bv itself must stay intact: the iterator advances by its length. */
	bio_for_each_segment(bv, bio, iter) {
		struct bio_vec part = bv;

		while (part.bv_len) {
			struct bio_vec piece = part;

			piece.bv_len = min(part.bv_len,
					   (unsigned int)(PAGE_SIZE - off % PAGE_SIZE));
			memcpy_from_bvec(page_address(ent->pages[off >> PAGE_SHIFT]) +
					 off % PAGE_SIZE, &piece);
			part.bv_offset += piece.bv_len;
			part.bv_len -= piece.bv_len;
			off += piece.bv_len;
		}
	}
	return ent;
}

/*
 * A write that waits for the remote (semi-sync, draining) while nothing
 * else is held for it can go to the remote at once, in parallel with the
 * local write, as in sync mode: every write acknowledged before it is on
 * the remote already, and any write after it queues behind it.  ent then
 * joins the ship queue now, as issued.  Returns whether it did.
 */
bool xrepl_ship_early_locked(struct xrepl_pair *pair,
			     struct xrepl_shipent *ent)
{
	if (pair->shipq.nr || pair->lag.writes != 1 ||
	    pair->degraded_by != XREPL_DEGRADED_NONE)
		return false;
	ent->s.queued_ns = ktime_get_ns();
	xrepl_jnl_sending_locked(pair, ent);
	xrepl_shipq_add_locked(&pair->shipq, &ent->s);
	/* Alone in the queue, it is the next one to go. */
	WARN_ON_ONCE(xrepl_shipq_next_locked(&pair->shipq) != &ent->s);
	ent->early = true;
	return true;
}

/* Have ack_timer fire at deadline_ns. */
static void ack_timer_set_locked(struct xrepl_pair *pair, u64 deadline_ns)
{
	pair->ack_timer_ns = deadline_ns;
	hrtimer_start(&pair->ack_timer, ns_to_ktime(deadline_ns),
		      HRTIMER_MODE_ABS_SOFT);
}

/*
 * The local write of ent's bio completed and ent joined the ship queue:
 * if the bio waits for the remote, put ent on ack_wait (by deadline) and
 * return true; false if its deadline has passed already.
 */
bool xrepl_ack_wait_add_locked(struct xrepl_pair *pair,
			       struct xrepl_shipent *ent, struct bio *bio,
			       u64 deadline_ns, u64 now)
{
	struct xrepl_shipent *pos;

	if (deadline_ns <= now) {
		pair->semi_timeouts++;
		return false;
	}
	ent->upper = bio;
	ent->deadline_ns = deadline_ns;
	list_for_each_entry_reverse(pos, &pair->ack_wait, ack_list)
		if (pos->deadline_ns <= deadline_ns)
			break;
	list_add(&ent->ack_list, &pos->ack_list);
	/*
	 * Arm the timer for a new first deadline, unless it is set for an
	 * earlier one: then its callback re-arms it for the first deadline
	 * left.  Re-arming for every write would cost more.  ack_timer_ns,
	 * not hrtimer_active(), says whether it is set: a callback that has
	 * dropped the lock and is returning HRTIMER_NORESTART is still
	 * active, but will not look at this entry.
	 */
	if (deadline_ns < pair->ack_timer_ns)
		ack_timer_set_locked(pair, deadline_ns);
	return true;
}

/* Take ent's waiting bio, for ack_bios() after the lock. */
static void ack_take_locked(struct xrepl_shipent *ent, struct bio_list *acks)
{
	list_del_init(&ent->ack_list);
	bio_list_add(acks, ent->upper);
	ent->upper = NULL;
}

/*
 * Complete a write that waited for the remote (semi-sync, draining): its
 * local write went out as a clone of our own (xrepl_local_endio()), so
 * this is the bio's one and only completion; xrepl_end_io() then just
 * lets it go.
 */
void xrepl_ack_bio(struct bio *bio, blk_status_t status)
{
	xrepl_io(bio)->flags |= XREPL_IO_ACKED;
	bio->bi_status = status;
	bio_endio(bio);
}

/* Complete the bios whose local write completed and that waited. */
static void ack_bios(struct bio_list *acks)
{
	struct bio *bio;

	while ((bio = bio_list_pop(acks)))
		xrepl_ack_bio(bio, BLK_STS_OK);
}

/* Semi-sync: acknowledge the writes whose deadline has passed. */
enum hrtimer_restart xrepl_ack_timer(struct hrtimer *timer)
{
	struct xrepl_pair *pair = container_of(timer, struct xrepl_pair,
					       ack_timer);
	struct bio_list acks = BIO_EMPTY_LIST;
	struct xrepl_shipent *ent, *tmp;
	u64 now = ktime_get_ns();
	unsigned long flags;

	spin_lock_irqsave(&pair->lock, flags);
	pair->ack_timer_ns = U64_MAX;
	list_for_each_entry_safe(ent, tmp, &pair->ack_wait, ack_list) {
		if (ent->deadline_ns > now) {
			/* Restarting from the callback is allowed. */
			if (ent->deadline_ns != U64_MAX)
				ack_timer_set_locked(pair, ent->deadline_ns);
			break;
		}
		pair->semi_timeouts++;
		ack_take_locked(ent, &acks);
	}
	spin_unlock_irqrestore(&pair->lock, flags);
	ack_bios(&acks);
	return HRTIMER_NORESTART;
}

/* The remote will not get ent: its regions (or, for a flush, all) differ. */
void xrepl_ship_lost_locked(struct xrepl_pair *pair,
			    struct xrepl_shipent *ent)
{
	if (xrepl_ship_ranged(ent))
		xrepl_mark_dirty_locked(pair, ent->first, ent->last);
	else if (!ent->jreplay)
		xrepl_mark_lost_locked(pair);
}

/* An entry is done with: out of the gate, memory back to the pools. */
void xrepl_ship_put(struct xrepl_pair *pair, struct xrepl_shipent *ent)
{
	if (ent->settled)
		xrepl_gate_exit_settled(pair, ent->first, ent->last);
	else if (ent->tracked)
		xrepl_gate_exit(pair, ent->first, ent->last);
	xrepl_ship_free(pair, ent);
}

/*
 * Give up on the entries not sent yet (the remote degraded): their regions
 * become dirty.  Returns them on out, for ship_release() after the lock,
 * and whether waiting writes were moved to lag_ready.
 */
static bool ship_drop_locked(struct xrepl_pair *pair, struct list_head *out)
{
	struct xrepl_ship *s, *tmp;
	bool redispatch = false;
	LIST_HEAD(waiting);

	xrepl_shipq_take_waiting_locked(&pair->shipq, &waiting);
	list_for_each_entry_safe(s, tmp, &waiting, list) {
		struct xrepl_shipent *ent = container_of(s, struct xrepl_shipent,
							 s);

		xrepl_ship_lost_locked(pair, ent);
		/* Out of the journal's counts before it leaves the lag. */
		if (ent->jseq)
			xrepl_jnl_shipped_locked(pair, ent, false);
		/* A replay's entries are not in the lag (its whole is). */
		if (!ent->jreplay)
			redispatch |= xrepl_lag_leave_locked(pair,
							     ent->s.bytes);
		if (ent->early && !ent->local_done) {
			/* Journaled, its local write runs: its end frees it. */
			list_del_init(&s->list);
			ent->remote_done = true;
		} else {
			list_move_tail(&s->list, out);
		}
	}
	return redispatch;
}

static void ship_release(struct xrepl_pair *pair, struct list_head *list)
{
	struct xrepl_ship *s, *tmp;

	list_for_each_entry_safe(s, tmp, list, list) {
		list_del(&s->list);
		xrepl_ship_put(pair, container_of(s, struct xrepl_shipent, s));
	}
}

/*
 * An issued entry is done with at the remote: it completed there with
 * status, or it was lost on the way (lost: its data could not be read
 * back from the journal; its regions are resynced).  Any context.
 */
static void ship_done(struct xrepl_shipent *ent, blk_status_t status,
		      bool lost)
{
	struct xrepl_c *xc = ent->xc;
	struct xrepl_pair *pair = xc->pair;
	struct bio_list acks = BIO_EMPTY_LIST;
	bool degraded = false, reached = false, redispatch, wake_ship;
	bool local_frees;
	unsigned long flags;

	spin_lock_irqsave(&pair->lock, flags);
	xrepl_shipq_done_locked(&pair->shipq, &ent->s);
	/* A barrier flushed the remote: up to it, a tail commit needs none. */
	if (ent->jseq && (ent->s.flags & XREPL_SHIP_BARRIER) && !status &&
	    !lost && pair->degraded_by == XREPL_DEGRADED_NONE)
		xrepl_jnl_rflushed_locked(pair, ent);
	if (ent->jseq)
		reached = xrepl_jnl_shipped_locked(pair, ent, !status && !lost);
	/* Issued early and the local write still runs: its end_io frees ent. */
	local_frees = ent->early && !ent->local_done;
	ent->remote_done = true;
	/* On the remote, or failed there (then its regions are dirty). */
	if (ent->upper)
		ack_take_locked(ent, &acks);
	if (lost || (status == BLK_STS_NOTSUPP && xrepl_ship_ranged(ent) &&
		     (ent->opf & REQ_OP_MASK) != REQ_OP_WRITE)) {
		/* Not read back, or the remote cannot discard or zero. */
		xrepl_ship_lost_locked(pair, ent);
		if (pair->degraded_by == XREPL_DEGRADED_NONE)
			xrepl_resync_start_locked(pair);
	} else if (status) {
		degraded = xrepl_remote_failed_locked(pair,
						      xrepl_ship_ranged(ent),
						      ent->first, ent->last);
	}
	/* After a degradation, ship_work (queued below) drops what waits. */
	redispatch = !ent->jreplay &&
		     xrepl_lag_leave_locked(pair, ent->s.bytes);
	/* Does ship_work have anything to do (a replay reads the next)? */
	wake_ship = redispatch || pair->shipq.next || pair->drain_event ||
		    pair->degraded_by != XREPL_DEGRADED_NONE ||
		    xrepl_jnl_replaying_locked(pair);
	pair->ship_endios++;
	spin_unlock_irqrestore(&pair->lock, flags);

	ack_bios(&acks);
	if (!local_frees)
		xrepl_ship_put(pair, ent);
	if (degraded)
		xrepl_report_degraded(xc, "remote I/O error %d",
				      blk_status_to_errno(status));
	else if (reached)
		/* The remote is at the point ship_until asked for. */
		xrepl_raise_event(xc);
	if (wake_ship)
		xrepl_ship_kick(pair, redispatch);

	/*
	 * Last, and under the lock xrepl_ship_idle() takes: a suspend that waits
	 * for the pair to be idle may free it as soon as the lock is dropped.
	 */
	spin_lock_irqsave(&pair->lock, flags);
	if (!--pair->ship_endios &&
	    (!pair->lag.writes || xrepl_jnl_held_back_locked(pair)))
		wake_up(&pair->ship_wait);
	spin_unlock_irqrestore(&pair->lock, flags);
}

static void xrepl_ship_endio(struct bio *bio)
{
	struct xrepl_shipent *ent = bio->bi_private;
	blk_status_t status = bio->bi_status;

	bio_put(bio);
	ship_done(ent, status, false);
}

void xrepl_ship_submit(struct xrepl_pair *pair, struct xrepl_shipent *ent)
{
	unsigned int i, left = ent->s.bytes;
	struct bio *bio;

	bio = bio_alloc_bioset(ent->xc->remote->bdev, ent->nr_pages, ent->opf,
			       GFP_NOIO, &pair->ship_bs);
	bio->bi_iter.bi_sector = ent->s.sector;
	for (i = 0; i < ent->nr_pages; i++) {
		unsigned int len = min_t(unsigned int, left, PAGE_SIZE);

		__bio_add_page(bio, ent->pages[i], len, 0);
		left -= len;
	}
	if (!ent->nr_pages)
		bio->bi_iter.bi_size = to_bytes(ent->s.nr_sectors);
	bio->bi_end_io = xrepl_ship_endio;
	bio->bi_private = ent;
	this_cpu_inc(pair->stats->remote_writes);
	this_cpu_add(pair->stats->shipped_bytes, ent->s.bytes);
	submit_bio_noacct(bio);
}

/*
 * The remote degraded: acknowledge every waiting write (its regions are
 * dirty, or its entry is in flight and gets marked if it fails) and drop
 * what was not sent.  Returns whether replication may return: after a
 * congestion degradation, once nothing is held any more.
 */
static bool ship_degraded_locked(struct xrepl_pair *pair,
				 struct bio_list *acks,
				 struct list_head *dropped, bool *redispatch)
{
	struct xrepl_shipent *ent, *tmp;

	list_for_each_entry_safe(ent, tmp, &pair->ack_wait, ack_list)
		ack_take_locked(ent, acks);
	*redispatch |= ship_drop_locked(pair, dropped);
	/* Held, the remote keeps its point: it returns on release. */
	return xrepl_degraded_returns(pair->degraded_by) && !pair->lag.writes &&
	       !xrepl_jnl_held_locked(pair);
}

/*
 * The end of a congestion (or journal) degradation.  The remote misses
 * what the buffer dropped until the resync copied it: record that, on this site's
 * metadata and on the remote site's, before it receives a write (as
 * "remote up" does); then replicate again and resync.  If the remote
 * site's metadata cannot be written the remote stays degraded, as failed
 * (*failed).  Sleeps (metadata I/O).  Returns whether replication came
 * back.
 */
static bool ship_return(struct xrepl_pair *pair, bool *failed)
{
	bool back = false;
	int r;

	r = xrepl_pair_before_return(pair);
	spin_lock_irq(&pair->lock);
	/* A "remote down", "remote up", failure or hold meanwhile decided. */
	if (xrepl_degraded_returns(pair->degraded_by) && !pair->lag.writes &&
	    !xrepl_jnl_held_locked(pair)) {
		if (r) {
			*failed = xrepl_degrade_locked(pair,
						       XREPL_DEGRADED_ERROR);
		} else {
			xrepl_remote_back_locked(pair, true);
			back = true;
		}
	}
	spin_unlock_irq(&pair->lock);
	return back;
}

/* The end of a congestion or journal degradation (from ship_work, on wq). */
void xrepl_return_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       return_work);
	bool back, failed = false;
	struct xrepl_c *event;

	back = ship_return(pair, &failed);
	if (!back && !failed)
		return;
	if (back)
		DMINFO("%s: the remote caught up: replicating again, resyncing what was dropped",
		       dm_device_name(pair->md));
	else
		DMERR("%s: the remote caught up; its site's metadata failed: it stays degraded",
		      dm_device_name(pair->md));
	spin_lock_irq(&pair->lock);
	event = pair->active;
	spin_unlock_irq(&pair->lock);
	if (event)
		xrepl_raise_event(event);
}

/* Send what the ship queue lets go; give up on all if the remote degraded. */
void xrepl_ship_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(to_delayed_work(work),
					       struct xrepl_pair, ship_work);
	struct bio_list acks = BIO_EMPTY_LIST;
	struct xrepl_c *event = NULL;
	bool lag_empty, redispatch = false, may_return = false;
	struct xrepl_shipent *ent;
	struct xrepl_ship *s;
	struct blk_plug plug;
	LIST_HEAD(dropped);

	blk_start_plug(&plug);
	for (;;) {
		/* A replay's next entry, read from the log, goes first. */
		xrepl_jnl_replay_feed(pair, &redispatch);
		spin_lock_irq(&pair->lock);
		if (pair->degraded_by != XREPL_DEGRADED_NONE) {
			may_return = ship_degraded_locked(pair, &acks, &dropped,
							  &redispatch);
			s = NULL;
		} else {
			may_return = false;
			/* Journaled, the next one may wait for a tail commit. */
			s = pair->shipq.next;
			ent = s ? container_of(s, struct xrepl_shipent, s) : NULL;
			if (ent && xrepl_jnl_ship_wait_locked(pair, ent))
				s = NULL;
			else
				s = xrepl_shipq_next_locked(&pair->shipq);
			/* What the remote may have, before a hold sees it. */
			ent = s ? container_of(s, struct xrepl_shipent, s) : NULL;
			if (ent)
				xrepl_jnl_sending_locked(pair, ent);
		}
		lag_empty = !pair->lag.writes;
		if (pair->drain_event) {
			pair->drain_event = false;
			event = pair->active;
		}
		spin_unlock_irq(&pair->lock);
		if (!s)
			break;
		ent = container_of(s, struct xrepl_shipent, s);
		/*
		 * Held by the log only: read back, or given up on; the
		 * remote may have degraded during the read: not sent then.
		 */
		if (ent->jdropped && !ent->jread &&
		    !xrepl_jnl_read_back(pair, ent)) {
			ship_done(ent, BLK_STS_OK, true);
			continue;
		}
		xrepl_ship_submit(pair, ent);
	}
	blk_finish_plug(&plug);
	ack_bios(&acks);
	ship_release(pair, &dropped);
	if (redispatch)
		xrepl_lag_kick(pair);
	/* It sleeps on metadata I/O, which may wait for this worker. */
	if (may_return)
		queue_work(pair->wq, &pair->return_work);
	if (event)
		xrepl_raise_event(event);
	if (lag_empty)
		wake_up(&pair->ship_wait);
}

/*
 * May a suspend go on?  Every write admitted has reached the remote, or,
 * while shipping is held or delayed, none is in flight there: the others
 * wait in the ship queue (their data in the log too) for the table
 * resumed next.
 */
bool xrepl_ship_idle(struct xrepl_pair *pair)
{
	bool idle;

	spin_lock_irq(&pair->lock);
	idle = !pair->ship_endios && bio_list_empty(&pair->lag_wait) &&
	       bio_list_empty(&pair->lag_ready) &&
	       xrepl_jnl_idle_locked(pair);
	if (idle && pair->lag.writes)
		idle = xrepl_jnl_held_back_locked(pair) &&
		       !pair->shipq.inflight;
	/* A release from now on sends nothing to this table, nor flushes it. */
	pair->ship_parked = idle;
	spin_unlock_irq(&pair->lock);
	return idle;
}

/*
 * xc's table is resumed: the entries a suspend while held or delayed
 * kept (none is in flight) go to its remote.  Before the table is active.
 */
void xrepl_ship_retarget(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_ship *s;

	spin_lock_irq(&pair->lock);
	list_for_each_entry(s, &pair->shipq.queue, list)
		container_of(s, struct xrepl_shipent, s)->xc = xc;
	pair->ship_parked = false;
	/* In sync mode, writes queue behind them until they are sent. */
	if (READ_ONCE(xc->args.mode) == XREPL_MODE_SYNC)
		xrepl_drain_start_locked(pair);
	spin_unlock_irq(&pair->lock);
}

/*
 * The pair goes with entries a suspend while held or delayed kept, none
 * in flight: the log holds them, durable (xrepl_jnl_quiesce()), for the
 * device's next table to replay.  Their memory goes back to the pools.
 */
void xrepl_ship_abandon(struct xrepl_pair *pair)
{
	struct xrepl_ship *s;
	LIST_HEAD(out);

	spin_lock_irq(&pair->lock);
	xrepl_shipq_take_waiting_locked(&pair->shipq, &out);
	list_for_each_entry(s, &out, list)
		list_del_init(&container_of(s, struct xrepl_shipent, s)->jlog);
	spin_unlock_irq(&pair->lock);
	ship_release(pair, &out);
}
