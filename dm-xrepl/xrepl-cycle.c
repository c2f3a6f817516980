// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: periodic mode.
 *
 * Between cycles the remote receives nothing: a write goes to the local
 * leg only and makes its regions dirty, as while degraded, and the remote
 * holds the source's image as of the start of the last cycle that
 * completed: its point in time.  A cycle (every period_s, or on "cycle"):
 *
 * 1. It starts at T, in resync_work, once no copy, no ship entry (after a
 *    switch from an asynchronous mode) and no other resync is in flight,
 *    and the marks of a degradation have joined the dirty regions.  The
 *    dirty regions are frozen into cycle_set.  Writes from then on make
 *    regions dirty as before.
 * 2. The resync copies the regions of cycle_set, and only those, then
 *    flushes the remote.  A region written since T stays dirty: the next
 *    cycle copies it.
 * 3. A write to a region of cycle_set not copied yet waits on cbw_wait,
 *    before it enters the region gate; resync_work copies that region
 *    first, whatever the pacing, and then lets the write go on.  A write
 *    admitted before T is still in the gate, and the region's copy waits
 *    for it: a write that had not completed at T may or may not be part
 *    of the point in time, as after a crash at T.
 * 4. Once every frozen region is copied and the remote flushed, it holds
 *    the image as of T: T becomes its point in time, and the remote site's
 *    metadata records it, with the generation the remote holds.
 *
 * During a cycle the remote is a mix of two points: not consistent, as
 * during any resync, from before its first copy to the end.  With an undo
 * area (xrepl-undo.c) the remote site can return to the previous point.
 * A cycle starts only once that point is recorded there.  A
 * degradation, a suspend or a change of mode ends a cycle early; the next
 * one copies what it left, with every region dirtied since.
 *
 * cycle_set is allocated when a table of the pair first asks for periodic
 * mode.  Everything else here runs under pair->lock.
 */
#include "xrepl-core.h"

/*
 * Give the pair its cycle_set, if it has none yet.  Process context; no
 * lock held.
 */
int xrepl_cycle_alloc(struct xrepl_pair *pair)
{
	struct xrepl_bitmap bm = {}, saved = {};

	if (READ_ONCE(pair->cycle_set.bits))
		return 0;
	if (xrepl_bitmap_alloc(&bm, pair->geom.nr_regions) ||
	    xrepl_bitmap_alloc(&saved, pair->geom.nr_regions)) {
		xrepl_bitmap_free(&bm);
		return -ENOMEM;
	}
	spin_lock_irq(&pair->lock);
	if (!pair->cycle_set.bits) {
		swap(pair->cycle_set, bm);
		swap(pair->undo_saved, saved);
	}
	spin_unlock_irq(&pair->lock);
	xrepl_bitmap_free(&bm);
	xrepl_bitmap_free(&saved);
	return 0;
}

/* The regions the running resync copies: a cycle's, or every dirty one. */
struct xrepl_bitmap *xrepl_resync_set(struct xrepl_pair *pair)
{
	return pair->cycling ? &pair->cycle_set : &pair->dirty;
}

/* Must a write to regions first..last wait for a cycle's copy? */
bool xrepl_cycle_blocks_locked(struct xrepl_pair *pair, unsigned long first,
			       unsigned long last)
{
	return pair->cycling &&
	       xrepl_bitmap_next_set(&pair->cycle_set, first) <= last;
}

/* Is a cycle wanted, and may it start but for its records? */
bool xrepl_cycle_due_locked(struct xrepl_pair *pair)
{
	return pair->cycle_wanted && pair->periodic && pair->active &&
	       !pair->resync_stop && pair->degraded_by == XREPL_DEGRADED_NONE &&
	       !pair->cycling && !pair->resync_active && !pair->nr_copies &&
	       !pair->lag.writes && !pair->merge_needed &&
	       !xrepl_peer_point_pending_locked(pair);
}

/*
 * Start the cycle that is due: freeze the dirty regions.  Returns true if
 * it started (resync_work then copies them).  A cycle with regions to copy
 * starts only once both sites' metadata say, durably, that the remote is
 * not consistent (resync_prepare() has them written first): a write that
 * waits for a copy never waits for metadata I/O.
 */
bool xrepl_cycle_freeze_locked(struct xrepl_pair *pair)
{
	struct xrepl_bitmap *set = &pair->cycle_set;

	if (!xrepl_cycle_due_locked(pair))
		return false;
	if (pair->dirty.nr_set &&
	    ((pair->meta_bdev && (pair->sb_consistent || pair->meta_failed)) ||
	     xrepl_undo_overflow_locked(pair) || !xrepl_peer_ready_locked(pair)))
		return false;
	pair->cycle_wanted = false;
	bitmap_copy(set->bits, pair->dirty.bits, set->nr_bits);
	set->nr_set = pair->dirty.nr_set;
	pair->cycling = true;
	pair->cycle_frozen = set->nr_set;
	pair->cycle_copied = 0;
	pair->cycle_mono_ns = ktime_get_ns();
	pair->cycle_real_s = ktime_get_real_seconds();
	xrepl_resync_want_locked(pair);
	return true;
}

/*
 * A running cycle ends before its end (a degradation, a suspend, a change
 * of mode, a region that cannot be read).  Its regions not copied yet are
 * dirty still; the writes that waited for them go on (resync_work
 * redispatches them).  again: a new cycle is wanted at once if the mode
 * stays periodic; else the period's timer starts the next one.  cycle_set
 * is not cleared: nothing reads it until a freeze overwrites it.
 */
void xrepl_cycle_abort_locked(struct xrepl_pair *pair, bool again)
{
	if (!pair->cycling)
		return;
	pair->cycling = false;
	pair->resync_active = false;
	pair->cycle_set.nr_set = 0;
	pair->cycle_wanted = again && pair->periodic;
	bio_list_merge(&pair->redispatch, &pair->cbw_wait);
	bio_list_init(&pair->cbw_wait);
	queue_work(pair->wq, &pair->resync_work);
}

/*
 * The active table's mode is now mode.  Entering periodic mode, the remote
 * stops receiving writes: it holds the image as of now once the writes
 * held for it (an asynchronous mode's) reached it.  A resync that runs
 * ends, and its regions are the first cycle's.  Leaving it, a running
 * cycle ends and the remote receives writes again; a resync copies what
 * it misses.
 */
void xrepl_cycle_set_mode_locked(struct xrepl_pair *pair,
				 enum xrepl_mode mode)
{
	bool periodic = mode == XREPL_MODE_PERIODIC;

	if (periodic == pair->periodic)
		return;
	/* The table or the message that asked for it allocated it. */
	if (WARN_ON_ONCE(periodic && !pair->cycle_set.bits))
		return;
	WRITE_ONCE(pair->periodic, periodic);
	if (!periodic) {
		xrepl_cycle_abort_locked(pair, false);
		pair->cycle_wanted = false;
		pair->cycle_exit = false;
		/* The resync copies without undo, once the record says so. */
		pair->undo_epoch = 0;
		if (pair->degraded_by == XREPL_DEGRADED_NONE &&
		    xrepl_resync_needed_locked(pair))
			xrepl_resync_start_locked(pair);
		xrepl_peer_update_locked(pair);
		return;
	}
	pair->resync_active = false;
	/*
	 * The remote holds the image as of now once the writes held for it
	 * reached it: until then the first cycle (which waits for them)
	 * sets its point.  Until then it has none (an older one, of an
	 * earlier periodic period, is not what it holds), unless the point
	 * the remote site records was taken back on connecting.
	 */
	if (xrepl_resync_needed_locked(pair) || pair->lag.writes) {
		pair->cycle_wanted = true;
	} else if (pair->degraded_by == XREPL_DEGRADED_NONE) {
		pair->point_mono_ns = ktime_get_ns();
		pair->point_real_s = ktime_get_real_seconds();
		pair->point_restored = true;
	}
	if (!pair->point_restored) {
		pair->point_mono_ns = 0;
		pair->point_real_s = 0;
	}
	pair->point_restored = false;
	/* The source changes without the remote: a data generation. */
	if (pair->meta_bdev && xrepl_gen_split(&pair->sb))
		xrepl_sb_changed_locked(pair);
	xrepl_peer_update_locked(pair);
	queue_work(pair->wq, &pair->resync_work);
}

/*
 * The cycle's copies are on the remote, flushed: it holds the image as of
 * the cycle's start.  That is its point in time now.  With a metadata
 * device, the remote holds our generation, and we go on from it with a
 * new one (the writes since T).  After a final cycle, the mode asked for
 * begins.
 */
void xrepl_cycle_finished_locked(struct xrepl_pair *pair)
{
	struct xrepl_c *xc = pair->active;

	pair->cycling = false;
	pair->cycles++;
	pair->consistent = true;
	pair->point_restored = false;
	/* The POINT record frees the epoch's slots. */
	pair->undo_epoch = 0;
	pair->point_mono_ns = pair->cycle_mono_ns;
	pair->point_real_s = pair->cycle_real_s;
	/* A cycle that copied nothing leaves the generations as they are. */
	if (pair->meta_bdev && pair->cycle_frozen) {
		xrepl_gen_synced(&pair->sb);
		xrepl_gen_split(&pair->sb);
		xrepl_sb_changed_locked(pair);
	}
	xrepl_peer_update_locked(pair);
	if (pair->cycle_exit && xc) {
		pair->cycle_exit = false;
		WRITE_ONCE(xc->args.mode, pair->cycle_exit_mode);
		xrepl_cycle_set_mode_locked(pair, pair->cycle_exit_mode);
	}
	if (pair->cycle_wanted)
		queue_work(pair->wq, &pair->resync_work);
}

static unsigned long period_jiffies(struct xrepl_pair *pair)
{
	return (unsigned long)READ_ONCE(pair->active->args.period_s) * HZ;
}

/* The period's timer: a cycle is wanted, and the next one in period_s. */
void xrepl_cycle_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(to_delayed_work(work),
					       struct xrepl_pair, cycle_work);

	spin_lock_irq(&pair->lock);
	if (pair->periodic && pair->active && !pair->resync_stop) {
		pair->cycle_wanted = true;
		queue_work(pair->wq, &pair->resync_work);
		queue_delayed_work(pair->wq, &pair->cycle_work,
				   period_jiffies(pair));
	}
	spin_unlock_irq(&pair->lock);
}

/* (Re)arm the period's timer: the next cycle in period_s from now. */
void xrepl_cycle_arm(struct xrepl_pair *pair)
{
	spin_lock_irq(&pair->lock);
	if (pair->periodic && pair->active && !pair->resync_stop)
		mod_delayed_work(pair->wq, &pair->cycle_work,
				 period_jiffies(pair));
	spin_unlock_irq(&pair->lock);
}
