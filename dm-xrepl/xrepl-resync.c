// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the resync, which copies the dirty regions from the local leg
 * to the remote while the device stays in use.
 *
 * resync_work makes passes over the dirty bitmap from resync_cursor.  For
 * each dirty region it claims a copy slot, which freezes the region's
 * gate bucket (xrepl-gate.c); once the writes in flight there drained,
 * the slot's work copies the region and clears its bit, unless the copy
 * failed or the remote degraded meanwhile.  A pass that copied or saw
 * regions marked behind its cursor is followed by another; when every
 * region is clean, resync_flush flushes the remote and only then calls it
 * in sync.  Copies are paced by resync_rate_kbps and, while the
 * application writes, limited to one at a time.  The online verify
 * (xrepl-verify.c) compares regions in the same slots, under the same
 * gate and pacing, while no resync runs.
 */
#include <linux/math64.h>
#include <linux/vmalloc.h>

#include "xrepl-core.h"

static struct xrepl_copy *copy_overlapping_locked(struct xrepl_pair *pair,
						  unsigned long first,
						  unsigned long last)
{
	unsigned int i;

	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		struct xrepl_copy *copy = &pair->copies[i];

		if (copy->busy && copy->region >= first && copy->region <= last)
			return copy;
	}
	return NULL;
}

/* Free a slot and open its gate bucket; held writes are retried. */
void xrepl_copy_put_locked(struct xrepl_pair *pair, struct xrepl_copy *copy)
{
	xrepl_gate_thaw_locked(pair, copy->region);
	if (copy->verify) {
		pair->verify_busy = false;
		copy->verify = false;
	}
	copy->busy = false;
	copy->started = false;
	copy->xc = NULL;
	if (!--pair->nr_copies)
		wake_up(&pair->copies_wait);
}

static void xrepl_copy_done(int read_err, unsigned long write_err,
			    void *context)
{
	struct xrepl_copy *copy = context;
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	unsigned long region = copy->region;
	bool degraded = false;
	unsigned long flags;

	spin_lock_irqsave(&pair->lock, flags);
	/* What it read, older than now, may be on the remote. */
	xrepl_jnl_sent_now_locked(pair);
	if (read_err)
		pair->local_errors++;
	/* The region stays dirty: marking it again changes nothing. */
	if (write_err)
		degraded = xrepl_remote_failed_locked(pair, true, region,
						      region);
	/*
	 * A cycle cannot reach its point without this region: it ends, the
	 * writes waiting for its copies go on (one may rewrite the bad
	 * sector), and the period's timer tries again.
	 */
	if (read_err && pair->cycling)
		xrepl_cycle_abort_locked(pair, false);
	/*
	 * Writes to the region were held back during the copy, so the remote
	 * now holds the region's newest data, unless the copy failed or the
	 * remote degraded meanwhile (it may have lost what it was sent).
	 */
	if (!read_err && !write_err &&
	    pair->degraded_by == XREPL_DEGRADED_NONE &&
	    copy->degrade_gen == pair->degrade_gen) {
		/*
		 * On the remote, not flushed there yet: with a journal the
		 * cleaner flushes the remote before it clears the mark.
		 */
		if (pair->jnl)
			atomic_long_inc(&pair->gate_unjnl);
		xrepl_bitmap_clear(&pair->dirty, region);
		/* Writes since the cycle's start waited for this copy. */
		if (pair->cycling && xrepl_bitmap_clear(&pair->cycle_set, region))
			pair->cycle_copied++;
		pair->resync_done++;
		pair->pass_copied++;
		pair->copied_regions++;
		pair->copied_bytes += to_bytes(xrepl_region_len(&pair->geom,
								region));
	}
	xrepl_copy_put_locked(pair, copy);
	spin_unlock_irqrestore(&pair->lock, flags);

	if (read_err)
		DMERR_LIMIT("%s: resync could not read region %lu from the local device",
			    xrepl_name(xc), region);
	if (degraded)
		xrepl_report_degraded(xc, "resync write to the remote failed");
	queue_work(pair->wq, &pair->resync_work);
}

/* The save of a copy's region in the undo area failed (see xrepl-undo.c). */
static void undo_save_failed(struct xrepl_copy *copy, int err)
{
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	unsigned long region = copy->region;
	bool meta_failed;

	spin_lock_irq(&pair->lock);
	meta_failed = xrepl_undo_failed_locked(pair, copy, err);
	if (!meta_failed)
		xrepl_copy_put_locked(pair, copy);
	spin_unlock_irq(&pair->lock);
	if (meta_failed) {
		DMERR_LIMIT("%s: remote_meta: cannot save region %lu in the undo area",
			    xrepl_name(xc), region);
		xrepl_copy_done(0, 1, copy);
		return;
	}
	DMWARN("%s: cannot save region %lu in the undo area (%s): this cycle goes on without undo",
	       xrepl_name(xc), region,
	       err == -ENODATA ? "unreadable at the remote" : "no free slot");
	xrepl_raise_event(xc);
	queue_work(pair->wq, &pair->resync_work);
}

/*
 * Copy a region from the local leg to the remote, a buffer at a time.
 * Writes to the region are held back meanwhile (its gate bucket is frozen).
 */
void xrepl_copy_work(struct work_struct *work)
{
	struct xrepl_copy *copy = container_of(work, struct xrepl_copy, work);
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	sector_t sector = xrepl_region_to_sector(&pair->geom, copy->region);
	sector_t end = sector + xrepl_region_len(&pair->geom, copy->region);
	int read_err = 0, write_err = 0;
	long slot;

	if (copy->verify) {
		xrepl_verify_work(copy);
		return;
	}
	/* Periodic mode: the remote's content first goes to the undo area. */
	spin_lock_irq(&pair->lock);
	slot = xrepl_undo_slot_locked(pair, copy);
	spin_unlock_irq(&pair->lock);
	if (slot != -1) {
		int err = slot < 0 ? (int)slot :
			  xc->peer ? xrepl_undo_save(copy, slot) : -ENOSPC;

		if (err) {
			undo_save_failed(copy, err);
			return;
		}
	}
	while (sector < end) {
		sector_t count = min_t(sector_t, end - sector,
				       to_sector(pair->copy_bytes));

		if (xrepl_sync_io(pair->copy_io, xc->local->bdev, REQ_OP_READ,
				  sector, count, DM_IO_VMA, copy->buf)) {
			read_err = 1;
			break;
		}
		if (xrepl_sync_io(pair->copy_io, xc->remote->bdev, REQ_OP_WRITE,
				  sector, count, DM_IO_VMA, copy->buf)) {
			write_err = 1;
			break;
		}
		sector += count;
	}
	xrepl_copy_done(read_err, write_err, copy);
}

static void xrepl_copy_start(struct xrepl_copy *copy)
{
	queue_work(copy->pair->copy_wq, &copy->work);
}

/*
 * Give every copy slot a buffer for a resync (slot 0 always has one).
 * Process context; a slot whose buffer cannot be allocated stays unused.
 */
static void copy_bufs_alloc(struct xrepl_pair *pair)
{
	unsigned int i;
	void *buf;

	for (i = 1; i < XREPL_MAX_COPIES; i++) {
		if (READ_ONCE(pair->copies[i].buf))
			continue;
		buf = __vmalloc(pair->copy_bytes, GFP_NOIO | __GFP_NOWARN);
		if (!buf)
			break;
		spin_lock_irq(&pair->lock);
		pair->copies[i].buf = buf;
		pair->copy_bufs++;
		spin_unlock_irq(&pair->lock);
	}
}

/* After a resync ended (no copy busy): free all buffers but slot 0's. */
static void copy_bufs_free(struct xrepl_pair *pair)
{
	void *bufs[XREPL_MAX_COPIES] = {};
	unsigned int i;

	spin_lock_irq(&pair->lock);
	if (pair->nr_copies) {
		spin_unlock_irq(&pair->lock);
		return;
	}
	for (i = 1; i < XREPL_MAX_COPIES; i++) {
		bufs[i] = pair->copies[i].buf;
		if (bufs[i])
			pair->copy_bufs--;
		pair->copies[i].buf = NULL;
	}
	spin_unlock_irq(&pair->lock);
	for (i = 1; i < XREPL_MAX_COPIES; i++)
		vfree(bufs[i]);
}

/*
 * Claim a free slot for region (NULL if there is none); *ready says
 * whether it may start at once, else resync_work starts it once the
 * region's writes drained.
 */
struct xrepl_copy *xrepl_copy_claim_locked(struct xrepl_pair *pair,
					   unsigned long region, bool *ready)
{
	struct xrepl_copy *copy = NULL;
	unsigned int i;

	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		if (!pair->copies[i].busy && pair->copies[i].buf) {
			copy = &pair->copies[i];
			break;
		}
	}
	if (WARN_ON_ONCE(!copy))
		return NULL;

	pair->nr_copies++;
	copy->busy = true;
	copy->started = false;
	copy->xc = pair->active;
	copy->region = region;
	copy->degrade_gen = pair->degrade_gen;
	copy->verify = false;
	copy->undo_epoch = pair->undo_epoch;
	*ready = xrepl_gate_freeze_locked(pair, region);
	if (*ready)
		copy->started = true;
	return copy;
}

/*
 * Claim a slot for each region of cycle_set that a write on cbw_wait
 * waits for, as long as slots are free: copy-before-write goes ahead of
 * the cycle's pass and of its pacing (its bytes still count in the rate).
 * Returns how many may start at once (in start).  lock held.
 */
static unsigned int cbw_claim_locked(struct xrepl_pair *pair,
				     struct xrepl_copy **start)
{
	unsigned int n = 0;
	struct bio *bio;

	bio_list_for_each(bio, &pair->cbw_wait) {
		struct xrepl_io *io = xrepl_io(bio);
		unsigned long r;

		for (r = xrepl_bitmap_next_set(&pair->cycle_set, io->first);
		     r <= io->last;
		     r = xrepl_bitmap_next_set(&pair->cycle_set, r + 1)) {
			struct xrepl_copy *copy;
			bool ready;

			if (copy_overlapping_locked(pair, r, r))
				continue;
			if (pair->nr_copies >= pair->copy_bufs)
				return n;
			copy = xrepl_copy_claim_locked(pair, r, &ready);
			if (!copy)
				return n;
			pair->cbw_copies++;
			pair->rate_bytes += to_bytes(xrepl_region_len(&pair->geom,
								      r));
			if (ready)
				start[n++] = copy;
		}
	}
	return n;
}

/*
 * The writes on cbw_wait whose regions are all copied (or whose cycle
 * ended) go on: into bios, to be mapped again.  lock held.
 */
static void cbw_release_locked(struct xrepl_pair *pair, struct bio_list *bios)
{
	struct bio_list keep = BIO_EMPTY_LIST;
	struct bio *bio;

	while ((bio = bio_list_pop(&pair->cbw_wait))) {
		struct xrepl_io *io = xrepl_io(bio);

		if (xrepl_cycle_blocks_locked(pair, io->first, io->last))
			bio_list_add(&keep, bio);
		else
			bio_list_add(bios, bio);
	}
	pair->cbw_wait = keep;
}

enum xrepl_pass_end {
	XREPL_PASS_RUNNING,
	XREPL_PASS_RESTART,	/* regions became dirty behind the cursor */
	XREPL_PASS_FINISHED,	/* every region is clean */
	XREPL_PASS_STALLED,	/* regions could not be copied */
};

static enum xrepl_pass_end end_pass_locked(struct xrepl_pair *pair)
{
	struct xrepl_bitmap *set = xrepl_resync_set(pair);

	if (!pair->resync_active || pair->nr_copies ||
	    xrepl_bitmap_next_set(set, pair->resync_cursor) < set->nr_bits)
		return XREPL_PASS_RUNNING;

	if (!set->nr_set) {
		pair->resync_active = false;
		return XREPL_PASS_FINISHED;
	}
	if (pair->pass_copied || pair->pass_marked) {
		pair->resync_cursor = 0;
		pair->pass_copied = 0;
		pair->pass_marked = false;
		return XREPL_PASS_RESTART;
	}
	pair->resync_active = false;
	/* A cycle that cannot reach its point ends; the timer tries again. */
	xrepl_cycle_abort_locked(pair, false);
	return XREPL_PASS_STALLED;
}

/* Copies the resync may have in flight: one while the application writes. */
static unsigned int resync_max_copies_locked(struct xrepl_pair *pair, u64 now)
{
	struct xrepl_stats sum;
	u64 writes;

	xrepl_stats_sum(pair, &sum);
	writes = sum.writes;

	if (writes != pair->app_writes_seen) {
		pair->app_writes_seen = writes;
		pair->app_active_until_ns = now + XREPL_APP_ACTIVE_NS;
	}
	return now < pair->app_active_until_ns ? 1 :
	       min(XREPL_MAX_COPIES, pair->copy_bufs);
}

/*
 * May a copy of bytes start now under resync_rate_kbps?  If not, *delay is
 * how long to wait.  The budget is the rate times the time since the rate
 * window started, plus one region.
 */
bool xrepl_rate_allows_locked(struct xrepl_pair *pair, u64 bytes, u64 now,
			      unsigned long *delay)
{
	u64 rate = (u64)pair->resync_rate_kbps * 1024;
	u64 allowed;

	if (!rate)
		return true;
	allowed = mul_u64_u64_div_u64(now - pair->rate_start_ns, rate,
				      NSEC_PER_SEC) + bytes;
	if (pair->rate_bytes + bytes <= allowed) {
		pair->rate_bytes += bytes;
		return true;
	}
	*delay = nsecs_to_jiffies(div64_u64((pair->rate_bytes + bytes - allowed) *
					    NSEC_PER_SEC, rate)) + 1;
	return false;
}

void xrepl_resync_delay_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(to_delayed_work(work),
					       struct xrepl_pair, resync_delay);

	queue_work(pair->wq, &pair->resync_work);
}

/*
 * Before a resync copies a region: after a degradation the marked regions
 * join the dirty ones, and the remote is recorded (durably) as not
 * consistent, since a resync copies regions out of write order.
 */
static void resync_prepare(struct xrepl_pair *pair)
{
	struct xrepl_c *xc;
	unsigned long todo;
	bool merge, due, sb = false, warn;

	/* A cycle starts once the marks joined the dirty regions. */
	spin_lock_irq(&pair->lock);
	merge = pair->merge_needed &&
		(pair->resync_active || pair->cycle_wanted) &&
		pair->degraded_by == XREPL_DEGRADED_NONE;
	spin_unlock_irq(&pair->lock);
	if (merge)
		xrepl_meta_merge_marked(pair);

	/*
	 * A cycle that is due is recorded first, as a resync is: its
	 * freeze (below) waits for both records.
	 */
	spin_lock_irq(&pair->lock);
	due = xrepl_cycle_due_locked(pair);
	if (due)
		xrepl_undo_plan_locked(pair);
	todo = due ? pair->dirty.nr_set :
	       pair->resync_active ? xrepl_resync_set(pair)->nr_set : 0;
	if (todo && pair->consistent &&
	    pair->degraded_by == XREPL_DEGRADED_NONE) {
		pair->consistent = false;
		sb = pair->meta_bdev;
		pair->sb_dirty = sb;
	}
	/* And so does the remote site's metadata, if we have it. */
	if (todo && !xrepl_peer_ready_locked(pair))
		xrepl_peer_update_locked(pair);
	spin_unlock_irq(&pair->lock);
	if (sb)
		xrepl_meta_sync(pair);

	spin_lock_irq(&pair->lock);
	xrepl_cycle_freeze_locked(pair);
	warn = pair->undo_warn;
	pair->undo_warn = false;
	xc = pair->active;
	spin_unlock_irq(&pair->lock);
	if (warn && xc) {
		DMWARN("%s: undo area too small for this cycle: it runs without undo",
		       xrepl_name(xc));
		xrepl_raise_event(xc);
	}
}

/* The resync made the remote equal to the local leg (and durable). */
static void resync_finished(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	bool in_sync = false, cycle = false;
	enum xrepl_mode mode;
	unsigned long done;
	u64 ms;

	spin_lock_irq(&pair->lock);
	done = pair->resync_done;
	ms = div_u64(ktime_get_ns() - pair->resync_started_ns, NSEC_PER_MSEC);
	mode = xc->args.mode;
	if (pair->cycling) {
		/* A degrade, or a cycle ended early, while flushed: not there. */
		if (!pair->cycle_set.nr_set &&
		    pair->degraded_by == XREPL_DEGRADED_NONE) {
			cycle = true;
			xrepl_cycle_finished_locked(pair);
		}
	} else if (!pair->dirty.nr_set && !pair->periodic &&
		   pair->degraded_by == XREPL_DEGRADED_NONE &&
		   !pair->merge_needed) {
		/*
		 * Not in periodic mode, whose cycles alone say what the
		 * remote holds.  Regions dirtied, or a degrade, while the
		 * remote was flushed: not in sync.
		 */
		in_sync = true;
		pair->consistent = true;
		if (pair->meta_bdev) {
			xrepl_gen_synced(&pair->sb);
			pair->sb.resync_count++;
			xrepl_sb_changed_locked(pair);
		}
		/* The remote site's metadata: consistent and live. */
		xrepl_peer_update_locked(pair);
	}
	spin_unlock_irq(&pair->lock);
	if (cycle) {
		DMINFO("%s: cycle complete, remote at its point (%lu regions copied in %llu ms)",
		       xrepl_name(xc), done, ms);
		if (mode != READ_ONCE(xc->args.mode))
			DMINFO("%s: mode %s -> %s after the final cycle",
			       xrepl_name(xc), xrepl_mode_name(mode),
			       xrepl_mode_name(READ_ONCE(xc->args.mode)));
		return;
	}
	if (!in_sync) {
		DMINFO("%s: resync pass done, remote not in sync: degraded or dirtied again",
		       xrepl_name(xc));
		return;
	}
	DMINFO("%s: resync complete, remote in sync (%lu regions copied in %llu ms)",
	       xrepl_name(xc), done, ms);
}

void xrepl_resync_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       resync_work);
	struct xrepl_copy *start[XREPL_MAX_COPIES];
	struct bio_list bios = BIO_EMPTY_LIST;
	enum xrepl_pass_end end = XREPL_PASS_RUNNING;
	enum xrepl_verify_end vend = XREPL_VERIFY_RUNNING;
	unsigned long delay = 0;
	unsigned int i, n = 0, max_copies;
	struct xrepl_bitmap *set;
	struct xrepl_copy *vcopy;
	struct xrepl_c *xc;
	bool stop, ready, repair = false;
	u64 now;

	resync_prepare(pair);
	if (READ_ONCE(pair->resync_active) &&
	    READ_ONCE(pair->copy_bufs) < XREPL_MAX_COPIES)
		copy_bufs_alloc(pair);
	now = ktime_get_ns();
	spin_lock_irq(&pair->lock);
	max_copies = resync_max_copies_locked(pair, now);
	xc = pair->active;
	set = xrepl_resync_set(pair);
	/*
	 * A copy makes the remote inconsistent: none starts before the
	 * metadata says so durably (meta_retry kicks us once it does).
	 */
	/*
	 * A replay sends the log's entries, which a copy must not precede:
	 * copies wait for its end (it queues us).  Held, the remote keeps
	 * its point: copies wait for the release (it queues us).
	 */
	stop = !xc || pair->resync_stop ||
	       pair->degraded_by != XREPL_DEGRADED_NONE ||
	       xrepl_jnl_replaying_locked(pair) ||
	       xrepl_jnl_held_locked(pair) ||
	       (pair->meta_bdev && pair->sb_consistent && set->nr_set) ||
	       (!xrepl_peer_ready_locked(pair) && set->nr_set);

	/* Claimed copies whose writes have drained: start or give up. */
	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		struct xrepl_copy *copy = &pair->copies[i];

		if (!copy->busy || copy->started || !xrepl_gate_drained(pair, copy->region))
			continue;
		if (stop) {
			xrepl_copy_put_locked(pair, copy);
		} else {
			copy->started = true;
			start[n++] = copy;
		}
	}

	/* A cycle copies first the regions that writes wait for. */
	if (!stop && pair->cycling)
		n += cbw_claim_locked(pair, start + n);
again:
	while (!stop && pair->resync_active && pair->nr_copies < max_copies) {
		unsigned long region = xrepl_bitmap_next_set(set,
							     pair->resync_cursor);
		struct xrepl_copy *copy;

		if (region >= set->nr_bits)
			break;
		if (!copy_overlapping_locked(pair, region, region) &&
		    !xrepl_rate_allows_locked(pair, to_bytes(xrepl_region_len(&pair->geom,
									region)),
					now, &delay))
			break;
		pair->resync_cursor = region + 1;
		if (copy_overlapping_locked(pair, region, region)) {
			/*
			 * A copy of an earlier pass, or the verify, holds it:
			 * the next pass copies it.
			 */
			pair->pass_marked = true;
			continue;
		}
		copy = xrepl_copy_claim_locked(pair, region, &ready);
		if (copy && ready)
			start[n++] = copy;
	}
	if (!stop) {
		end = end_pass_locked(pair);
		if (end == XREPL_PASS_RESTART)
			goto again;
	}
	/* The verify's next region, while no resync runs. */
	if (xc && !pair->resync_stop && !pair->resync_active &&
	    pair->degraded_by == XREPL_DEGRADED_NONE &&
	    !xrepl_jnl_replaying_locked(pair) && !xrepl_jnl_held_locked(pair)) {
		vcopy = xrepl_verify_next_locked(pair, now, &delay, &vend);
		/* n is 0: the verify claims only while no copy is busy. */
		if (vcopy)
			start[n++] = vcopy;
	}
	if (xc)
		repair = xrepl_verify_repair_due_locked(pair);
	bio_list_merge(&bios, &pair->redispatch);
	bio_list_init(&pair->redispatch);
	cbw_release_locked(pair, &bios);
	spin_unlock_irq(&pair->lock);

	for (i = 0; i < n; i++)
		xrepl_copy_start(start[i]);
	xrepl_redispatch(&bios);
	if (delay)
		mod_delayed_work(pair->wq, &pair->resync_delay, delay);
	if (vend != XREPL_VERIFY_RUNNING)
		xrepl_verify_done(xc, vend);
	if (repair)
		xrepl_verify_repair(xc);

	if (end == XREPL_PASS_RUNNING)
		return;
	copy_bufs_free(pair);
	if (end == XREPL_PASS_FINISHED) {
		/* Make the copies durable before calling the remote in sync. */
		queue_work(pair->wq, &pair->resync_flush);
		return;
	}
	DMERR("%s: resync stopped: regions could not be copied",
	      xrepl_name(xc));
	xrepl_raise_event(xc);
}

/*
 * Every region was copied: flush the remote, then call it in sync, unless
 * a new resync started meanwhile (its copies may not be durable yet; it
 * flushes again when it ends).  If the flush is given up on (the remote
 * degraded, or the device suspends), the remote stays not consistent: a
 * suspend leaves the resync wanted, so that the resume flushes again; a
 * degraded remote is resynced (with nothing to copy) on "remote up".
 */
void xrepl_resync_flush_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       resync_flush);
	unsigned long gen, seq;
	struct xrepl_c *xc;
	int r;

	spin_lock_irq(&pair->lock);
	xc = pair->active;
	gen = pair->degrade_gen;
	seq = pair->resync_seq;
	spin_unlock_irq(&pair->lock);
	/* presuspend flushes wq before the active table goes away. */
	r = xc ? xrepl_flush_leg(pair, xc->remote->bdev, gen, true) : -EAGAIN;

	spin_lock_irq(&pair->lock);
	if ((r == -EAGAIN || r == -ENOMEM) &&
	    (pair->degraded_by == XREPL_DEGRADED_NONE || !xc)) {
		/* Suspending (or out of memory): flush again later. */
		if (pair->degraded_by == XREPL_DEGRADED_NONE &&
		    !pair->resync_active) {
			xrepl_resync_again_locked(pair);
			if (r == -ENOMEM)
				mod_delayed_work(pair->wq, &pair->resync_delay,
						 HZ);
		}
		spin_unlock_irq(&pair->lock);
		return;
	}
	if (r == -EAGAIN || r == -ENOMEM) {
		/* Degraded meanwhile: resync_finished() says it is not in sync. */
		spin_unlock_irq(&pair->lock);
		resync_finished(xc);
		xrepl_raise_event(xc);
		return;
	}
	if (r) {
		xrepl_remote_failed_locked(pair, false, 0, 0);
	} else if (pair->resync_seq != seq) {
		/* A new resync runs: it ends with a flush of its own. */
		spin_unlock_irq(&pair->lock);
		return;
	}
	spin_unlock_irq(&pair->lock);
	if (r) {
		xrepl_report_degraded(xc, "flush of the remote after resync failed");
		return;
	}
	resync_finished(xc);
	xrepl_raise_event(xc);
}

bool xrepl_copies_idle(struct xrepl_pair *pair)
{
	bool idle;

	spin_lock_irq(&pair->lock);
	idle = !pair->nr_copies;
	spin_unlock_irq(&pair->lock);
	return idle;
}
