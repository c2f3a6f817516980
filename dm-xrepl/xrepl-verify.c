// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the online verify, which compares the two legs region by
 * region while the device stays in use.
 *
 * A pass ("verify" message) compares the regions from its start region on,
 * one at a time, in order.  Each region is compared in a copy slot of the
 * resync (copy->verify): claiming the slot freezes the region's gate
 * bucket, and the compare starts only once the writes in flight there
 * drained (in the asynchronous modes: once they reached the remote).  So
 * no write is between the legs while a region is read from both, and a
 * write can never make a region look different: a mismatch is real.
 *
 * resync_work drives the pass: it claims the next region when no resync
 * runs, under resync_rate_kbps, and ends the pass.  While the application
 * writes, the pass yields: after each region it rests XREPL_VERIFY_YIELD
 * times as long as the compare took, so that it holds the legs and the
 * CPU about a tenth of the time and the writers' tail latency stays near
 * its idle level; an idle device is verified at full speed.  The device
 * counts as written when a write was counted while the region was
 * compared, when one waits for the region, or when resync_work saw one
 * (since the pass started) in the last XREPL_APP_ACTIVE_NS.  A mismatch
 * is counted and remembered (verify_bad); the first ones are logged with
 * their sectors.  With "repair", the regions that differed are marked
 * (durably, with a metadata device) and made dirty at the end of the
 * pass, and a resync copies them.  A degradation or a failed read
 * interrupts the pass; a suspend only pauses it.  The pass's position is
 * in status, so a stopped or interrupted verify can be resumed where it
 * was.
 */
#include "xrepl-core.h"

/* Mismatches logged per pass; the rest are only counted. */
#define XREPL_VERIFY_LOG	8
/*
 * While the application writes: rest this many times a compare's time,
 * but never longer than XREPL_VERIFY_REST_MAX_NS (a compare slowed by a
 * transport's retries does not stall the pass).
 */
#define XREPL_VERIFY_YIELD	10
#define XREPL_VERIFY_REST_MAX_NS	(2 * NSEC_PER_SEC)

/*
 * Compare the region of copy on both legs, in pieces of verify_bytes (slot
 * 0's buffer holds two).  Returns 0 (*differs tells the result, *first_diff
 * the first sector that differs), or -EIO with *remote telling which leg
 * failed.
 */
static int verify_compare(struct xrepl_copy *copy, bool *differs,
			  sector_t *first_diff, bool *remote)
{
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	unsigned int half = pair->verify_bytes;
	sector_t sector = xrepl_region_to_sector(&pair->geom, copy->region);
	sector_t end = sector + xrepl_region_len(&pair->geom, copy->region);
	u8 *local = copy->buf, *other = local + half;

	*differs = false;
	while (sector < end) {
		sector_t count = min_t(sector_t, end - sector, to_sector(half));
		unsigned int s;

		*remote = false;
		if (xrepl_sync_io(pair->copy_io, xc->local->bdev, REQ_OP_READ,
				  sector, count, DM_IO_VMA, local))
			return -EIO;
		*remote = true;
		if (xrepl_sync_io(pair->copy_io, xc->remote->bdev, REQ_OP_READ,
				  sector, count, DM_IO_VMA, other))
			return -EIO;
		if (memcmp(local, other, to_bytes(count))) {
			for (s = 0; s < count; s++)
				if (memcmp(local + to_bytes(s), other + to_bytes(s),
					   SECTOR_SIZE))
					break;
			*differs = true;
			*first_diff = sector + s;
			return 0;
		}
		sector += count;
		cond_resched();
	}
	return 0;
}

/* The slot's work: compare, account, free the slot, go on with the pass. */
void xrepl_verify_work(struct xrepl_copy *copy)
{
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	unsigned long region = copy->region;
	sector_t first_diff = 0;
	bool differs = false, remote = false, log = false, failed = false;
	bool written;
	struct xrepl_stats sum;
	u64 t0, now, writes;
	int r;

	xrepl_stats_sum(pair, &sum);
	writes = sum.writes;
	t0 = ktime_get_ns();
	r = verify_compare(copy, &differs, &first_diff, &remote);
	now = ktime_get_ns();
	/*
	 * Written while we compared?  resync_work samples the writes only
	 * when it runs, and a compare may take longer than its window.
	 */
	xrepl_stats_sum(pair, &sum);
	written = sum.writes != writes;

	spin_lock_irq(&pair->lock);
	/*
	 * A writer that reached the region while it was held waits in
	 * gate_deferred, and writes nothing more until we end: that is
	 * activity too.  (A copy that "resync full" claimed meanwhile may
	 * hold it instead; its region is dirty then, and nothing rests.)
	 */
	if (!bio_list_empty(&pair->gate_deferred))
		written = true;
	/*
	 * Writes to the region were held back, so a difference is real,
	 * unless the remote degraded meanwhile (the verify then ended), the
	 * pass was stopped and another started since, or the region became
	 * dirty (a write reached one leg only: the resync copies it, and the
	 * pass compares it again afterwards).
	 */
	if (pair->verify_active && pair->verify_seq == copy->verify_seq &&
	    pair->degraded_by == XREPL_DEGRADED_NONE &&
	    copy->degrade_gen == pair->degrade_gen &&
	    !xrepl_bitmap_test(&pair->dirty, region)) {
		if (r) {
			if (remote)
				pair->remote_errors++;
			else
				pair->local_errors++;
			pair->verify_active = false;
			failed = true;
		} else {
			if (differs) {
				log = pair->verify_mismatches < XREPL_VERIFY_LOG;
				pair->verify_mismatches++;
				xrepl_bitmap_set_range(&pair->verify_bad, region,
						       region);
			}
			pair->verify_pos = region + 1;
			/*
			 * Yield to the writers: rest before the next region,
			 * if there is one.
			 */
			if ((written || now < pair->app_active_until_ns) &&
			    region + 1 < pair->geom.nr_regions) {
				pair->verify_rest_until_ns = now +
					min_t(u64, XREPL_VERIFY_YIELD * (now - t0),
					      XREPL_VERIFY_REST_MAX_NS);
				pair->verify_rests++;
			}
		}
	}
	xrepl_copy_put_locked(pair, copy);
	spin_unlock_irq(&pair->lock);

	if (log) {
		sector_t from = xrepl_region_to_sector(&pair->geom, region);
		sector_t to = from + xrepl_region_len(&pair->geom, region) - 1;

		DMWARN("%s: verify: region %lu differs (sectors %llu-%llu, first at %llu)",
		       xrepl_name(xc), region, (unsigned long long)from,
		       (unsigned long long)to, (unsigned long long)first_diff);
	}
	if (failed) {
		DMERR("%s: verify stopped at region %lu: the %s device could not be read",
		      xrepl_name(xc), region, remote ? "remote" : "local");
		xrepl_raise_event(xc);
	}
	queue_work(pair->wq, &pair->resync_work);
}

/*
 * Called by resync_work with pair->lock held, when no resync runs and the
 * remote is healthy: claim a slot for the next region of the pass, or end
 * the pass.  Returns the slot to start, if its region drained; *end tells
 * the caller that the pass ended (and whether to repair).
 */
struct xrepl_copy *xrepl_verify_next_locked(struct xrepl_pair *pair, u64 now,
					    unsigned long *delay,
					    enum xrepl_verify_end *end)
{
	unsigned long region = pair->verify_pos;
	struct xrepl_copy *copy;
	bool ready;

	*end = XREPL_VERIFY_RUNNING;
	if (!pair->verify_active || pair->verify_busy)
		return NULL;
	/* Only slot 0's buffer is large enough for a compare. */
	if (pair->copies[0].busy)
		return NULL;
	/* A resync stopped short: dirty regions are known to differ. */
	if (pair->dirty.nr_set) {
		pair->verify_active = false;
		*end = XREPL_VERIFY_STOPPED;
		return NULL;
	}
	if (region >= pair->geom.nr_regions) {
		pair->verify_active = false;
		*end = XREPL_VERIFY_DONE;
		return NULL;
	}
	/* One region at a time: the resync's copies wait for the pass. */
	if (pair->nr_copies)
		return NULL;
	if (now < pair->verify_rest_until_ns) {
		*delay = nsecs_to_jiffies(pair->verify_rest_until_ns - now) + 1;
		return NULL;
	}
	if (!xrepl_rate_allows_locked(pair,
				      to_bytes(xrepl_region_len(&pair->geom,
								region)),
				      now, delay))
		return NULL;
	copy = xrepl_copy_claim_locked(pair, region, &ready);
	if (!copy)
		return NULL;
	if (WARN_ON_ONCE(copy != &pair->copies[0])) {
		xrepl_copy_put_locked(pair, copy);
		return NULL;
	}
	pair->verify_busy = true;
	copy->verify = true;
	copy->verify_seq = pair->verify_seq;
	/* Else resync_work starts it once the region's writes drained. */
	return ready ? copy : NULL;
}

/*
 * Does a "verify repair" pass that ended (at its end, or stopped short)
 * have regions to repair?  Then resync_work calls xrepl_verify_repair();
 * until it is done, status shows the verify as active.  pair->lock held.
 */
bool xrepl_verify_repair_due_locked(struct xrepl_pair *pair)
{
	if (pair->verify_active || pair->verify_busy || !pair->verify_repair ||
	    pair->verify_repair_done || !pair->verify_mismatches)
		return false;
	pair->verify_repair_done = true;
	pair->verify_repairing = true;
	return true;
}

/* Is a pass running, or its repair still to be made?  pair->lock held. */
bool xrepl_verify_running_locked(const struct xrepl_pair *pair)
{
	return pair->verify_active || pair->verify_repairing ||
	       (pair->verify_repair && !pair->verify_repair_done &&
		pair->verify_mismatches);
}

/*
 * The regions that differed in a "verify repair" pass: mark them (durably,
 * with a metadata device), make them dirty and resync them.  The remote
 * may be degraded meanwhile: they are resynced on "remote up".  Process
 * context (resync_work).
 */
void xrepl_verify_repair(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	unsigned long from, to, r, n = 0;
	bool ok = true, started = false;

	if (pair->meta_bdev) {
		ok = xrepl_meta_mark_dirty(pair, &pair->verify_bad);
	} else {
		/* A block's worth of bits per lock hold. */
		for (from = 0; from < pair->verify_bad.nr_bits;
		     from += XREPL_CLEAN_CHUNK) {
			to = min(from + XREPL_CLEAN_CHUNK, pair->verify_bad.nr_bits);
			spin_lock_irq(&pair->lock);
			for (r = xrepl_bitmap_next_set(&pair->verify_bad, from);
			     r < to; r = xrepl_bitmap_next_set(&pair->verify_bad, r + 1))
				xrepl_mark_dirty_locked(pair, r, r);
			spin_unlock_irq(&pair->lock);
			cond_resched();
		}
	}

	spin_lock_irq(&pair->lock);
	if (ok) {
		n = pair->verify_bad.nr_set;
		/* Degraded meanwhile: the resync starts on "remote up". */
		if (pair->degraded_by == XREPL_DEGRADED_NONE) {
			xrepl_resync_start_locked(pair);
			started = true;
		}
	}
	pair->verify_repairing = false;
	spin_unlock_irq(&pair->lock);

	if (!ok)
		DMERR("%s: verify repair: metadata write failed (meta_failed=1), nothing repaired",
		      xrepl_name(xc));
	else
		DMINFO("%s: verify repair: %lu region(s) that differ made dirty%s",
		       xrepl_name(xc), n,
		       started ? ", resyncing" : "; the resync starts on remote up");
	xrepl_raise_event(xc);
}

/* The pass ended: it compared its last region, or it stopped. */
void xrepl_verify_done(struct xrepl_c *xc, enum xrepl_verify_end end)
{
	struct xrepl_pair *pair = xc->pair;
	unsigned long done, bad;
	u64 ms;

	spin_lock_irq(&pair->lock);
	done = pair->verify_pos - pair->verify_start;
	bad = pair->verify_mismatches;
	ms = div_u64(ktime_get_ns() - pair->verify_started_ns, NSEC_PER_MSEC);
	spin_unlock_irq(&pair->lock);
	if (end == XREPL_VERIFY_STOPPED)
		DMERR("%s: verify stopped after %lu region(s): dirty regions, remote not in sync",
		      xrepl_name(xc), done);
	else
		DMINFO("%s: verify complete: %lu region(s) compared in %llu ms, %lu differ",
		       xrepl_name(xc), done, ms, bad);
	xrepl_raise_event(xc);
}
