// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the I/O path.  Reads go to the local leg.  Writes, flushes,
 * discards and write-zeroes are admitted (the lag of the asynchronous
 * modes, the region gate, the write intent of the metadata device), then
 * issued to both legs, or to the local one only while the remote is
 * degraded; their completions account for what a leg missed.
 */
#include <linux/completion.h>
#include <linux/ioprio.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/slab.h>

#include "xrepl-core.h"

/*
 * Remote clones of writes this large are submitted from a worker: the
 * hand-off (a wake-up, tens of microseconds) costs less than the remote's
 * submission work, which then runs in parallel with the local leg's.  For
 * small writes the hand-off would dominate their latency.
 */
#define XREPL_OFFLOAD_BYTES	(64U << 10)
/*
 * After the remote submitter last found work, it keeps polling for more this
 * long before it sleeps.  While it polls, writers hand it the remote clones
 * of small writes too, so both legs are submitted in parallel on two CPUs
 * without paying a wake-up; the price is a CPU spinning while writes flow.
 */
#define XREPL_REMOTE_POLL_MAX_US	1000U
static unsigned int remote_poll_us;
module_param(remote_poll_us, uint, 0644);
MODULE_PARM_DESC(remote_poll_us,
		 "Microseconds the remote submitter polls for writes before sleeping (0: off, at most 1000)");

static void xrepl_remote_endio(struct bio *clone)
{
	struct bio *bio = clone->bi_private;

	/* Ordered before the final bio_endio() by its atomic decrement. */
	xrepl_io(bio)->remote_status = clone->bi_status;
	bio_put(clone);
	bio_endio(bio);
}

/*
 * A write refused after its admission into the lag (the remote of a
 * draining sync table degraded under on_remote_error fail while it
 * waited for room, the gate or its marks, or right after its admission)
 * leaves the lag, whose end a suspend and the end of a drain wait for.
 * The caller then calls xrepl_ship_kick() if the write was in the lag,
 * with the return value: whether writes waiting for room moved to
 * lag_ready.  lock held.
 */
static bool lag_refused_locked(struct xrepl_pair *pair, struct bio *bio)
{
	struct xrepl_io *io = xrepl_io(bio);

	if (!(io->flags & XREPL_IO_LAG))
		return false;
	io->flags &= ~(XREPL_IO_LAG | XREPL_IO_ACK_WAIT);
	return xrepl_lag_leave_locked(pair, xrepl_ship_bytes(bio));
}

/*
 * Map a write, a flush, a discard or a write-zeroes bio whose sector is
 * already leg relative.  Returns DM_MAPIO_SUBMITTED (the bio was issued or
 * deferred) or DM_MAPIO_KILL (fail it with -EIO).  Process context.
 *
 * A healthy pair takes no lock here: the remote state is read with
 * READ_ONCE() and the resync is kept off the bio's regions by the gate.
 * A write that races with a state change goes either way, as if it had
 * been issued a little earlier or later; a degraded pair takes the lock to
 * mark the bitmap, and re-checks the state under it.
 */
static int xrepl_write(struct xrepl_c *xc, struct bio *bio)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);

	io->xc = xc;
	io->ship = NULL;
	bio_set_dev(bio, xc->local->bdev);
	/* A write deferred after its admission keeps it. */
	if (!(io->flags & XREPL_IO_LAG) && xrepl_ships_writes(xc) &&
	    xrepl_lag_admit(xc, bio, io))
		return DM_MAPIO_SUBMITTED;
	if (!xrepl_range_to_regions(&pair->geom, bio->bi_iter.bi_sector,
				    bio_sectors(bio), &io->first, &io->last)) {
		xrepl_write_submit(xc, bio);
		return DM_MAPIO_SUBMITTED;
	}

	/* Writes must never reach a leg once they cannot reach both. */
	if (READ_ONCE(pair->degraded_by) != XREPL_DEGRADED_NONE &&
	    xc->args.on_remote_error == XREPL_ON_ERROR_FAIL) {
		if (io->flags & XREPL_IO_LAG) {
			bool kick;

			spin_lock_irq(&pair->lock);
			kick = lag_refused_locked(pair, bio);
			spin_unlock_irq(&pair->lock);
			xrepl_ship_kick(pair, kick);
		}
		io->flags = XREPL_IO_REJECTED;
		return DM_MAPIO_KILL;
	}
	/*
	 * Periodic mode: a region that a cycle froze is copied before a
	 * write changes it.  Waits outside the gate, which the copy closes.
	 * Under the lock, so that a write mapped after a cycle started sees
	 * it (xrepl-cycle.c).
	 */
	if (READ_ONCE(pair->periodic)) {
		spin_lock_irq(&pair->lock);
		if (xrepl_cycle_blocks_locked(pair, io->first, io->last)) {
			bio_list_add(&pair->cbw_wait, bio);
			spin_unlock_irq(&pair->lock);
			queue_work(pair->wq, &pair->resync_work);
			return DM_MAPIO_SUBMITTED;
		}
		spin_unlock_irq(&pair->lock);
	}
	while (!xrepl_gate_enter(pair, io->first, io->last)) {
		spin_lock_irq(&pair->lock);
		/* Gates open under the lock: re-check before waiting. */
		if (xrepl_gate_closed(pair, io->first, io->last)) {
			bio_list_add(&pair->gate_deferred, bio);
			spin_unlock_irq(&pair->lock);
			return DM_MAPIO_SUBMITTED;
		}
		spin_unlock_irq(&pair->lock);
	}
	io->flags |= XREPL_IO_TRACKED;
	this_cpu_inc(pair->stats->writes);
	this_cpu_add(pair->stats->written_bytes, xrepl_ship_bytes(bio));

	/*
	 * Write intent: the regions must be marked on disk before the write
	 * reaches a leg.  xrepl_gate_enter() counted the write in flight before
	 * this test (with a full barrier), so the cleaner either sees the
	 * count and keeps the marks, or we see the mark gone and ask again.
	 */
	if (pair->meta_bdev && !xrepl_wi_check(&pair->wi, io->first, io->last)) {
		spin_lock_irq(&pair->lock);
		xrepl_wi_request_locked(&pair->wi, io->first, io->last);
		bio_list_add(&pair->mark_wait, bio);
		spin_unlock_irq(&pair->lock);
		queue_work(pair->meta_wq, &pair->commit_work);
		return DM_MAPIO_SUBMITTED;
	}
	xrepl_write_submit(xc, bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * A tracked write that can no longer reach the remote under on_remote_error
 * fail: it reaches neither leg.  Checked where the write is submitted, as
 * the remote may degrade while a write waits (for its mark, or in a
 * deferred list).  pair->lock held.
 */
static bool reject_locked(struct xrepl_c *xc, struct xrepl_io *io)
{
	return xc->pair->degraded_by != XREPL_DEGRADED_NONE &&
	       (io->flags & XREPL_IO_TRACKED) &&
	       xc->args.on_remote_error == XREPL_ON_ERROR_FAIL;
}

/*
 * The local write of a bio that waits for the remote completed: do what
 * xrepl_end_io() does for a local completion, then complete the bio now,
 * or leave that to ack_bios() if it still waits.
 */
void xrepl_local_endio(struct bio *local)
{
	struct bio *bio = local->bi_private;
	struct xrepl_c *xc = xrepl_io(bio)->xc;
	blk_status_t status = local->bi_status;

	/* Before the bio can complete: the clone points at its pages. */
	bio_put(local);
	/* A bio that waits may be completed by ack_bios() at once: let go. */
	if (xrepl_end_io(xc->ti, bio, &status) == DM_ENDIO_INCOMPLETE)
		return;
	xrepl_ack_bio(bio, status);
}

/*
 * Issue bio to the local leg.  A bio acknowledged when on the remote (or
 * on time out), after the local write: that goes out as a clone of our
 * own, so the bio is completed once, when both happened (see
 * xrepl_ack_bio()).
 */
static void submit_local(struct xrepl_c *xc, struct bio *bio)
{
	struct bio *local;

	/* The change tracker counts its local write from now on. */
	if (xrepl_io(bio)->flags & XREPL_IO_TRACKED)
		xrepl_trk_issue(xc->pair, xrepl_io(bio));

	if (!(xrepl_io(bio)->flags & XREPL_IO_ACK_WAIT)) {
		dm_submit_bio_remap(bio, NULL);
		return;
	}
	local = bio_alloc_clone(xc->local->bdev, bio, GFP_NOIO, &xc->pair->bs);
	/* Nobody polls the local leg's queue for this clone. */
	bio_clear_polled(local);
	local->bi_end_io = xrepl_local_endio;
	local->bi_private = bio;
	dm_submit_bio_remap(bio, local);
}

/*
 * Does the remote receive writes?  Not while the remote site's superblock
 * names an undo epoch (after periodic mode, until peer_work wrote it
 * without): a write that no undo slot saved would make the promote's
 * rollback return to no point in time.  Such writes mark their regions,
 * which the resync copies once the superblock says so.  Lockless, or
 * under pair->lock.
 */
static bool remote_receives(struct xrepl_pair *pair)
{
	return READ_ONCE(pair->degraded_by) == XREPL_DEGRADED_NONE &&
	       !READ_ONCE(pair->periodic) && !READ_ONCE(pair->peer_undo_epoch);
}

/*
 * Issue a write, flush, discard or write-zeroes to the legs: both, or the
 * local one only (marking its regions dirty) while the remote is degraded
 * or in periodic mode.  A tracked bio is in the gate and its regions are
 * marked.
 */
void xrepl_write_submit(struct xrepl_c *xc, struct bio *bio)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);
	bool remote = remote_receives(pair);
	bool ship = io->flags & XREPL_IO_LAG;

	/* A healthy pair takes no lock here. */
	if (!remote || (!ship && xrepl_ships_writes(xc))) {
		bool redispatch = false, left_lag = false;

		spin_lock_irq(&pair->lock);
		if (reject_locked(xc, io)) {
			/* Sync mode, or a sync table's drain. */
			left_lag = io->flags & XREPL_IO_LAG;
			redispatch = lag_refused_locked(pair, bio);
			spin_unlock_irq(&pair->lock);
			if (left_lag)
				xrepl_ship_kick(pair, redispatch);
			xrepl_gate_exit(pair, io->first, io->last);
			io->flags = XREPL_IO_REJECTED;
			bio_io_error(bio);
			return;
		}
		remote = remote_receives(pair);
		if (!remote && (io->flags & XREPL_IO_TRACKED))
			xrepl_mark_dirty_locked(pair, io->first, io->last);
		/* After periodic mode: copied once the undo epoch is gone. */
		if (!remote && pair->peer_undo_epoch && !pair->periodic &&
		    pair->degraded_by == XREPL_DEGRADED_NONE &&
		    !pair->resync_active)
			xrepl_resync_start_locked(pair);
		if (!remote && ship) {
			/* Admitted, then the remote degraded. */
			left_lag = true;
			redispatch = xrepl_lag_leave_locked(pair, xrepl_ship_bytes(bio));
			io->flags &= ~(XREPL_IO_LAG | XREPL_IO_ACK_WAIT);
			ship = false;
		} else if (remote && !ship && xrepl_ships_writes(xc)) {
			/* Admitted while degraded; the remote is back. */
			if (xrepl_lag_fits_locked(xc, xrepl_ship_bytes(bio))) {
				xrepl_lag_enter_locked(xc, io, xrepl_ship_bytes(bio));
				ship = true;
			} else {
				/* The resync (started on the way back) copies it. */
				remote = false;
				if (io->flags & XREPL_IO_TRACKED)
					xrepl_mark_dirty_locked(pair, io->first,
								io->last);
				else
					xrepl_mark_lost_locked(pair);
				xrepl_resync_start_locked(pair);
			}
		}
		spin_unlock_irq(&pair->lock);
		if (left_lag)
			xrepl_ship_kick(pair, redispatch);
	}

	if (ship) {
		/* The local write goes now, the copy when it completed. */
		io->ship = xrepl_ship_alloc(xc, bio, io);
		io->flags |= XREPL_IO_SHIP;
		/* Journaled: the append and the local write are issued. */
		if (!pair->jnl || !xrepl_jnl_write(xc, bio, io))
			xrepl_write_unjournaled(xc, bio);
		return;
	}
	if (remote) {
		struct bio *clone;

		io->flags |= XREPL_IO_REMOTE;
		io->remote_status = BLK_STS_OK;
		/*
		 * Data the remote gets outside the ship queue (sync mode):
		 * counted before it is sent, for ship_until's bound.
		 */
		if (bio_sectors(bio))
			xrepl_jnl_direct(pair);
		this_cpu_inc(pair->stats->remote_writes);
		this_cpu_add(pair->stats->shipped_bytes, xrepl_ship_bytes(bio));
		clone = bio_alloc_clone(xc->remote->bdev, bio, GFP_NOIO,
					&pair->bs);
		/* Nobody polls the remote's queue for this clone. */
		bio_clear_polled(clone);
		clone->bi_end_io = xrepl_remote_endio;
		clone->bi_private = bio;
		/*
		 * The bio completes after both its own and the clone's endio.
		 * dm core accounts the bio once, when the local leg's write is
		 * submitted below (dm_submit_bio_remap() is not safe to call
		 * twice for one bio from two tasks); until then the bio cannot
		 * complete, so the clone goes out without accounting.
		 */
		bio_inc_remaining(bio);
		if (bio->bi_iter.bi_size >= XREPL_OFFLOAD_BYTES ||
		    READ_ONCE(pair->remote_polling)) {
			io->clone = clone;
			/* Fully ordered: pairs with the barrier in remote_work. */
			if (llist_add(&io->queued, &pair->remote_queue) &&
			    !READ_ONCE(pair->remote_polling))
				queue_work(pair->remote_wq, &pair->remote_work);
		} else {
			submit_bio_noacct(clone);
			/* Have the submitter poll for the writes that follow. */
			if (READ_ONCE(remote_poll_us))
				queue_work(pair->remote_wq, &pair->remote_work);
		}
	}
	submit_local(xc, bio);
}

/*
 * Issue a write that ships, its entry in io->ship, without the journal:
 * the entry goes to the remote with the local write if it waits for the
 * remote and may (early), else when the local write completed.  From
 * xrepl_write_submit(), or from the journal's work for a write that
 * waited for an overlapping one.  May sleep (GFP_NOIO).
 */
void xrepl_write_unjournaled(struct xrepl_c *xc, struct bio *bio)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);

	if (io->flags & XREPL_IO_ACK_WAIT) {
		struct xrepl_shipent *ent = io->ship;
		bool early;

		spin_lock_irq(&pair->lock);
		early = xrepl_ship_early_locked(pair, ent);
		spin_unlock_irq(&pair->lock);
		/* ent lives until its remote write completed. */
		if (early)
			xrepl_ship_submit(pair, ent);
	}
	submit_local(xc, bio);
}

void xrepl_remote_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       remote_work);
	u64 poll_ns = (u64)min(READ_ONCE(remote_poll_us),
			       XREPL_REMOTE_POLL_MAX_US) * NSEC_PER_USEC;
	u64 until = ktime_get_ns() + poll_ns;
	struct xrepl_io *io, *next;
	struct llist_node *list;
	struct blk_plug plug;

	if (poll_ns)
		WRITE_ONCE(pair->remote_polling, true);
	for (;;) {
		list = llist_del_all(&pair->remote_queue);
		if (list) {
			blk_start_plug(&plug);
			llist_for_each_entry_safe(io, next,
						  llist_reverse_order(list), queued)
				submit_bio_noacct(io->clone);
			blk_finish_plug(&plug);
			if (poll_ns)
				until = ktime_get_ns() + poll_ns;
			continue;
		}
		if (poll_ns && !need_resched() && ktime_get_ns() < until) {
			cpu_relax();
			continue;
		}
		WRITE_ONCE(pair->remote_polling, false);
		/* Pairs with llist_add() in xrepl_write_submit(). */
		smp_mb();
		if (llist_empty(&pair->remote_queue))
			break;
		if (poll_ns)
			WRITE_ONCE(pair->remote_polling, true);
	}
}

int xrepl_map(struct dm_target *ti, struct bio *bio)
{
	struct xrepl_c *xc = ti->private;

	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	xrepl_io(bio)->flags = 0;
	xrepl_io(bio)->trk_era = NULL;
	if (bio_op(bio) == REQ_OP_READ) {
		struct xrepl_io *io = xrepl_io(bio);

		/* Kept to retry it on the remote if the local leg fails it. */
		io->xc = xc;
		io->read_iter = bio->bi_iter;
		bio_set_dev(bio, xc->local->bdev);
		io->read_bi_flags = bio->bi_flags;
		return DM_MAPIO_REMAPPED;
	}
	xrepl_io(bio)->issued_ns = ktime_get_ns();
	return xrepl_write(xc, bio);
}

/* The remote cannot discard or zero: not a failure, copy the result instead. */
static bool remote_unsupported(struct bio *bio, struct xrepl_io *io)
{
	return io->remote_status == BLK_STS_NOTSUPP &&
	       (bio_op(bio) == REQ_OP_DISCARD ||
		bio_op(bio) == REQ_OP_WRITE_ZEROES);
}

/*
 * Does the remote hold what the local leg holds in sectors first..last's
 * regions?  It receives writes, none of the regions is dirty, and no
 * write (or ship entry, or copy) is in flight in their gate buckets: an
 * asynchronous remote may not have the newest write yet.  lock held.
 */
static bool remote_holds_locked(struct xrepl_pair *pair, unsigned long first,
				unsigned long last)
{
	unsigned long r;

	if (pair->degraded_by != XREPL_DEGRADED_NONE || pair->merge_needed ||
	    xrepl_gate_closed(pair, first, last))
		return false;
	/* A replay's entries are in no gate, and its regions not dirty. */
	if (xrepl_jnl_replays_locked(pair, first, last))
		return false;
	if (xrepl_bitmap_next_set(&pair->dirty, first) <= last)
		return false;
	for (r = first; r <= last && r - first < XREPL_GATE_BUCKETS; r++)
		if (!xrepl_gate_drained(pair, r))
			return false;
	return true;
}

/*
 * A read failed on the local leg: retry it on the remote if the remote
 * holds its regions, from read_work (a clone of it, as it was mapped,
 * goes to the remote; this bio completes once that clone did).  Returns
 * DM_ENDIO_INCOMPLETE if it will be retried.
 */
static int read_end_io(struct xrepl_c *xc, struct bio *bio,
		       blk_status_t *error)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);
	unsigned long first, last, flags;
	bool retry = false;

	if (io->flags & XREPL_IO_REMOTE_READ) {
		if (*error == BLK_STS_OK)
			atomic64_inc(&pair->remote_reads);
		return DM_ENDIO_DONE;
	}
	if (*error == BLK_STS_OK || *error == BLK_STS_AGAIN ||
	    *error == BLK_STS_NOTSUPP)
		return DM_ENDIO_DONE;
	atomic64_inc(&pair->local_read_errors);
	if (!xc->remote ||
	    !xrepl_range_to_regions(&pair->geom, io->read_iter.bi_sector,
				    io->read_iter.bi_size >> SECTOR_SHIFT,
				    &first, &last))
		return DM_ENDIO_DONE;
	spin_lock_irqsave(&pair->lock, flags);
	if (remote_holds_locked(pair, first, last)) {
		bio_list_add(&pair->read_retry, bio);
		queue_work(pair->wq, &pair->read_work);
		retry = true;
	}
	spin_unlock_irqrestore(&pair->lock, flags);
	if (retry)
		DMWARN_LIMIT("%s: read error on the local leg at sector %llu, read from the remote",
			     xrepl_name(xc),
			     (unsigned long long)io->read_iter.bi_sector);
	return retry ? DM_ENDIO_INCOMPLETE : DM_ENDIO_DONE;
}

/*
 * The remote's read of a read the local leg failed ended: complete the
 * read with its status.  The read completed once already (end_io said
 * DM_ENDIO_INCOMPLETE); its flags go back to what they were when it was
 * mapped, before the local leg's queue and completion changed them (as
 * dm_bio_restore() does), so that completing it again accounts nothing
 * twice.
 */
static void remote_read_end_io(struct bio *clone)
{
	struct bio *bio = clone->bi_private;
	struct xrepl_io *io = xrepl_io(bio);

	bio->bi_status = clone->bi_status;
	bio_put(clone);
	bio->bi_flags = io->read_bi_flags;
	bio_endio(bio);
}

/*
 * Send the reads the local leg failed to the remote, each as a new clone
 * of the read as mapped: the read itself is not submitted again (its
 * completion state, split chains included, is the local leg's).
 */
void xrepl_read_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       read_work);
	struct bio_list bios;
	struct bio *bio, *clone;

	spin_lock_irq(&pair->lock);
	bios = pair->read_retry;
	bio_list_init(&pair->read_retry);
	spin_unlock_irq(&pair->lock);
	while ((bio = bio_list_pop(&bios))) {
		struct xrepl_io *io = xrepl_io(bio);

		io->flags |= XREPL_IO_REMOTE_READ;
		/* From the bio_set's reserve: does not fail. */
		clone = bio_alloc_clone(io->xc->remote->bdev, bio, GFP_NOIO,
					&pair->bs);
		clone->bi_iter = io->read_iter;
		/* Nobody polls for it: dm polls the read's own clone. */
		bio_clear_polled(clone);
		clone->bi_end_io = remote_read_end_io;
		clone->bi_private = bio;
		submit_bio_noacct(clone);
	}
}

int xrepl_end_io(struct dm_target *ti, struct bio *bio,
		 blk_status_t *error)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);
	bool tracked = io->flags & XREPL_IO_TRACKED;
	bool remote_failed, degraded = false;
	bool resync = false, started = false;
	unsigned long flags;

	if (bio_op(bio) == REQ_OP_READ)
		return read_end_io(xc, bio, error);
	/* The local write completed: its data counts in the era open now. */
	if (io->trk_era)
		xrepl_trk_landed(pair, io);

	/*
	 * Rejected (on_remote_error fail: out of the gate already), or
	 * completed by us (xrepl_ack_bio(): what end_io does was done).
	 */
	if (io->flags & (XREPL_IO_REJECTED | XREPL_IO_ACKED))
		return DM_ENDIO_DONE;
	if (io->flags & XREPL_IO_JNL)
		return xrepl_jnl_end_io(pair, bio, error);
	if (io->flags & XREPL_IO_SHIP) {
		struct xrepl_shipent *ent = io->ship;
		bool queued = false, wait = false, redispatch = false;

		io->ship = NULL;
		spin_lock_irqsave(&pair->lock, flags);
		/* With a journal: an overlapping write may go now. */
		if (!list_empty(&ent->jflight))
			xrepl_jnl_landed_locked(pair, ent);
		if (ent->early && !ent->remote_done) {
			/* In flight at the remote: the entry owns the gate. */
			ent->local_done = true;
			if (*error != BLK_STS_OK) {
				pair->local_errors++;
				if (tracked) {
					xrepl_mark_dirty_locked(pair, io->first,
								io->last);
					if (pair->degraded_by ==
					    XREPL_DEGRADED_NONE)
						xrepl_resync_start_locked(pair);
				}
			} else {
				wait = xrepl_ack_wait_add_locked(pair, ent, bio,
								 io->deadline_ns,
								 ktime_get_ns());
			}
			spin_unlock_irqrestore(&pair->lock, flags);
			return wait ? DM_ENDIO_INCOMPLETE : DM_ENDIO_DONE;
		}
		if (ent->early) {
			/* Both legs are done: what is left is the io's. */
			spin_unlock_irqrestore(&pair->lock, flags);
			xrepl_ship_free(pair, ent);
			goto done_ship;
		}
		if (*error == BLK_STS_OK &&
		    pair->degraded_by == XREPL_DEGRADED_NONE) {
			ent->s.queued_ns = ktime_get_ns();
			xrepl_shipq_add_locked(&pair->shipq, &ent->s);
			queued = true;
			if (io->flags & XREPL_IO_ACK_WAIT)
				wait = xrepl_ack_wait_add_locked(pair, ent, bio,
								 io->deadline_ns,
								 ent->s.queued_ns);
		} else {
			/* The remote degraded since: it misses this write. */
			if (*error == BLK_STS_OK && tracked)
				xrepl_mark_dirty_locked(pair, io->first, io->last);
			redispatch = xrepl_lag_leave_locked(pair, ent->s.bytes);
		}
		/*
		 * A waiting bio may be completed (ack_bios()), and the pair
		 * then suspended and freed, as soon as the lock is dropped:
		 * kick the ship worker before.
		 */
		if (queued && wait)
			xrepl_ship_now(pair);
		spin_unlock_irqrestore(&pair->lock, flags);
		if (queued) {
			/* The entry leaves the gate when the remote has it. */
			if (!wait)
				xrepl_ship_soon(pair);
			return wait ? DM_ENDIO_INCOMPLETE : DM_ENDIO_DONE;
		}
		xrepl_ship_free(pair, ent);
		xrepl_ship_kick(pair, redispatch);
	}
done_ship:
	remote_failed = (io->flags & XREPL_IO_REMOTE) &&
			io->remote_status != BLK_STS_OK;
	if (!remote_failed && *error == BLK_STS_OK)
		goto out;

	/* Mark before leaving the gate, so no copy can start in between. */
	spin_lock_irqsave(&pair->lock, flags);
	if (*error != BLK_STS_OK) {
		pair->local_errors++;
		/* The legs may now differ: let a resync make them equal. */
		if (tracked) {
			xrepl_mark_dirty_locked(pair, io->first, io->last);
			resync = true;
		}
	}
	if (remote_failed && tracked && remote_unsupported(bio, io)) {
		xrepl_mark_dirty_locked(pair, io->first, io->last);
		resync = true;
		/* Let the caller fall back to writing zeroes to both legs. */
		if (bio_op(bio) == REQ_OP_WRITE_ZEROES && *error == BLK_STS_OK)
			*error = BLK_STS_NOTSUPP;
	} else if (remote_failed) {
		/* A failed flush may have lost any cached remote write. */
		degraded = xrepl_remote_failed_locked(pair, tracked, io->first,
						      io->last);
		if (xc->args.on_remote_error == XREPL_ON_ERROR_FAIL &&
		    *error == BLK_STS_OK)
			*error = io->remote_status;
	}
	if (resync && pair->degraded_by == XREPL_DEGRADED_NONE)
		started = xrepl_resync_start_locked(pair);
	spin_unlock_irqrestore(&pair->lock, flags);

	if (degraded)
		xrepl_report_degraded(xc, "remote I/O error %d",
				      blk_status_to_errno(io->remote_status));
	else if (started)
		xrepl_raise_event(xc);
out:
	if (tracked)
		xrepl_gate_exit(pair, io->first, io->last);
	return DM_ENDIO_DONE;
}

/*
 * A flush of a leg that its waiter may give up on: the bio's completion
 * holds one reference, the waiter the other, and the last one frees it,
 * so a flush that a hung device never completes outlives its waiter and
 * touches nothing else.
 */
struct xrepl_flush {
	struct completion done;
	refcount_t refs;
	blk_status_t status;
};

static void xrepl_flush_put(struct xrepl_flush *f)
{
	if (refcount_dec_and_test(&f->refs))
		kfree(f);
}

static void xrepl_flush_endio(struct bio *bio)
{
	struct xrepl_flush *f = bio->bi_private;

	f->status = bio->bi_status;
	bio_put(bio);
	complete(&f->done);
	xrepl_flush_put(f);
}

/* Has the pair left the state a flush was issued in (see xrepl_flush_leg())? */
static bool flush_give_up(struct xrepl_pair *pair, unsigned long gen,
			  bool stop_too)
{
	return READ_ONCE(pair->degrade_gen) != gen ||
	       READ_ONCE(pair->degraded_by) != XREPL_DEGRADED_NONE ||
	       (stop_too && READ_ONCE(pair->resync_stop));
}

/*
 * Flush bdev and wait for it, but stop waiting once the remote degrades
 * after degrade_gen was gen (or, if stop_too, the device is suspending):
 * "remote down" frees whoever waits for a hung remote.  Returns 0, the
 * flush's error, -EAGAIN if it gave up, or -ENOMEM.  Process context; no
 * lock held.
 */
int xrepl_flush_leg(struct xrepl_pair *pair, struct block_device *bdev,
		    unsigned long gen, bool stop_too)
{
	struct xrepl_flush *f;
	struct bio *bio;
	int r;

	f = kmalloc(sizeof(*f), GFP_NOIO | __GFP_NOWARN);
	if (!f)
		return -ENOMEM;
	init_completion(&f->done);
	refcount_set(&f->refs, 2);
	bio = bio_alloc(bdev, 0, REQ_OP_WRITE | REQ_PREFLUSH, GFP_NOIO);
	bio->bi_end_io = xrepl_flush_endio;
	bio->bi_private = f;
	submit_bio(bio);
	r = -EAGAIN;
	while (!wait_for_completion_timeout(&f->done, HZ / 10))
		if (flush_give_up(pair, gen, stop_too))
			goto out;
	r = blk_status_to_errno(f->status);
out:
	xrepl_flush_put(f);
	return r;
}

void xrepl_redispatch(struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		if (xrepl_write(xrepl_io(bio)->xc, bio) == DM_MAPIO_KILL)
			bio_io_error(bio);
	}
}

/*
 * Synchronous I/O of count sectors at sector of bdev, from or into buf,
 * whose memory is of type (DM_IO_KMEM or DM_IO_VMA).  Returns 0 or an
 * error.  Process context.
 */
int xrepl_sync_io(struct dm_io_client *client, struct block_device *bdev,
		  blk_opf_t opf, sector_t sector, sector_t count,
		  enum dm_io_mem_type type, void *buf)
{
	struct dm_io_region where = {
		.bdev = bdev,
		.sector = sector,
		.count = count,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = type,
		.client = client,
	};

	if (type == DM_IO_VMA)
		req.mem.ptr.vma = buf;
	else
		req.mem.ptr.addr = buf;
	return dm_io(&req, 1, &where, NULL, IOPRIO_DEFAULT);
}

/* Sum of the per-CPU counters of the write path. */
void xrepl_stats_sum(struct xrepl_pair *pair, struct xrepl_stats *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct xrepl_stats *st = per_cpu_ptr(pair->stats, cpu);

		sum->writes += READ_ONCE(st->writes);
		sum->remote_writes += READ_ONCE(st->remote_writes);
		sum->written_bytes += READ_ONCE(st->written_bytes);
		sum->shipped_bytes += READ_ONCE(st->shipped_bytes);
	}
}
