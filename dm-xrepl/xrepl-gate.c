// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the region gate.
 *
 * The gate keeps the resync's copies and the application's writes off
 * each other's regions without a lock on the write path.  Regions are
 * hashed into XREPL_GATE_BUCKETS buckets.  A write counts itself in the
 * buckets of its regions (gate_count), then, after a full barrier, checks
 * that no copy holds them (gate_frozen); a copy freezes its bucket, then,
 * after a full barrier, waits for the bucket's count to drop to zero.
 * Whichever comes second sees the other:
 *
 *   write (xrepl_gate_enter):          gate_count++   smp_mb   gate_frozen?
 *   copy (xrepl_gate_freeze_locked):   gate_frozen++  smp_mb   gate_count?
 *
 * The cleaner, which clears the on-disk marks of idle regions, pairs with
 * the write side the same way: it takes a mark away, then (smp_mb) keeps
 * it if the region's bucket counts a write (xrepl_gate_keep_busy_locked);
 * a write counts itself, then (smp_mb) tests the mark.
 *
 * gate_busy counts the same writes, less the journaled ones that settled
 * (their local write and append completed: the log carries them); with a
 * journal in use the cleaner goes by it.  A write that leaves the gate
 * unsettled counts itself in gate_unjnl first (the cleaner then flushes
 * the remote for it; a resync copy counts itself there too): the cleaner
 * reads that after it saw the bucket empty, after a full barrier.
 *
 * gate_frozen changes only under pair->lock; gate_count is changed by
 * writes without a lock.  Every barrier of the gate is in this file; the
 * reads that need none (xrepl_gate_closed(), xrepl_gate_drained()) are
 * inline in xrepl-core.h.
 */
#include "xrepl-core.h"

/* A write leaves gate_busy in buckets b0..b0+n-1 (xrepl_gate_span()). */
static void gate_busy_put(struct xrepl_pair *pair, unsigned int b0,
			  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		atomic_dec(&pair->gate_busy[xrepl_gate_bucket(b0 + i)]);
}

/*
 * settled: out of gate_busy already; unjnl: the write reached the remote
 * unjournaled (counted in gate_unjnl first).
 */
static void gate_exit(struct xrepl_pair *pair, unsigned long first,
		      unsigned long last, bool settled, bool unjnl)
{
	unsigned int b0, n, i;
	bool wake_resync = false;

	xrepl_gate_span(first, last, &b0, &n);
	if (!settled) {
		if (unjnl && pair->jnl)
			atomic_long_inc(&pair->gate_unjnl);
		/* Pairs with the barrier in xrepl_gate_keep_busy_locked(). */
		smp_mb__before_atomic();
		gate_busy_put(pair, b0, n);
	}
	for (i = 0; i < n; i++) {
		unsigned int b = xrepl_gate_bucket(b0 + i);

		/*
		 * Fully ordered: pairs with the barrier in
		 * xrepl_gate_freeze_locked().
		 */
		if (atomic_dec_and_test(&pair->gate_count[b]) &&
		    atomic_read(&pair->gate_frozen[b]))
			wake_resync = true;
	}
	if (wake_resync)
		queue_work(pair->wq, &pair->resync_work);
}

/* A write leaves the gate; wakes the resync if a copy waits for it. */
void xrepl_gate_exit(struct xrepl_pair *pair, unsigned long first,
		     unsigned long last)
{
	gate_exit(pair, first, last, false, true);
}

/* A journaled write settles: the log carries it (see gate_busy). */
void xrepl_gate_settle(struct xrepl_pair *pair, unsigned long first,
		       unsigned long last)
{
	unsigned int b0, n;

	xrepl_gate_span(first, last, &b0, &n);
	/*
	 * What the write did before (the change tracker's bits: xrepl-trk.c)
	 * is seen by a cleaner that finds the bucket idle.
	 */
	smp_mb__before_atomic();
	gate_busy_put(pair, b0, n);
}

/* A write that settled leaves the gate. */
void xrepl_gate_exit_settled(struct xrepl_pair *pair, unsigned long first,
			     unsigned long last)
{
	gate_exit(pair, first, last, true, false);
}

/* A write enters the gate; false (and not counted) if a copy holds it. */
bool xrepl_gate_enter(struct xrepl_pair *pair, unsigned long first,
		      unsigned long last)
{
	unsigned int b0, n, i;

	xrepl_gate_span(first, last, &b0, &n);
	for (i = 0; i < n; i++) {
		atomic_inc(&pair->gate_busy[xrepl_gate_bucket(b0 + i)]);
		atomic_inc(&pair->gate_count[xrepl_gate_bucket(b0 + i)]);
	}
	/*
	 * Pairs with the barriers in xrepl_gate_freeze_locked() and
	 * xrepl_gate_keep_busy_locked().
	 */
	smp_mb__after_atomic();
	if (!xrepl_gate_closed(pair, first, last))
		return true;
	/* It reached no leg. */
	gate_exit(pair, first, last, false, false);
	return false;
}

/*
 * A copy of region closes its bucket: writes that arrive from now on are
 * deferred.  Returns whether the writes already in flight there have
 * drained (else the last one to leave queues resync_work).  pair->lock
 * held.
 */
bool xrepl_gate_freeze_locked(struct xrepl_pair *pair, unsigned long region)
{
	atomic_inc(&pair->gate_frozen[xrepl_gate_bucket(region)]);
	/* Pairs with the barrier in xrepl_gate_enter(). */
	smp_mb__after_atomic();
	return xrepl_gate_drained(pair, region);
}

/*
 * The copy of region ended: its bucket opens, and the writes the gate
 * deferred go to redispatch (the caller has resync_work send them).
 * pair->lock held.
 */
void xrepl_gate_thaw_locked(struct xrepl_pair *pair, unsigned long region)
{
	atomic_dec(&pair->gate_frozen[xrepl_gate_bucket(region)]);
	bio_list_merge(&pair->redispatch, &pair->gate_deferred);
	bio_list_init(&pair->gate_deferred);
}

/*
 * The cleaner picked regions from..to-1 (wi->clearing): keep the mark of
 * each one a write may be in flight to, or, by_log (a journal in use),
 * each one a write not settled may be in flight to.  pair->lock held.
 */
void xrepl_gate_keep_busy_locked(struct xrepl_pair *pair, unsigned long from,
				 unsigned long to, bool by_log)
{
	unsigned long r;

	/*
	 * Pairs with the barrier in xrepl_gate_enter(): a write that saw the
	 * mark before the cleaner took it away is counted in its bucket.
	 */
	smp_mb();
	for (r = find_next_bit(pair->wi.clearing, to, from); r < to;
	     r = find_next_bit(pair->wi.clearing, to, r + 1))
		if (by_log ? !xrepl_gate_settled(pair, r) :
			     !xrepl_gate_drained(pair, r))
			xrepl_wi_clean_keep_locked(&pair->wi, r);
}
