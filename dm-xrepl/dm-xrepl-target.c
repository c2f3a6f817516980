// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: a device-mapper target that replicates every write to a remote
 * block device.
 *
 * Reads are served by the local leg.  In sync mode every write is cloned to
 * both legs in parallel and completes when both clones completed.  While
 * the remote is degraded (it failed, or the administrator took it down)
 * writes go to the local leg only and the regions they touch are recorded
 * in a dirty-region bitmap; a resync later copies exactly those regions
 * from the local to the remote leg, while the device stays in use.
 *
 * Resync and application writes never race at the remote: a region is
 * copied only after every write to it that was in flight has completed,
 * and writes that arrive while it is being copied are held back until the
 * copy has finished.  So an older resync copy can never overwrite a newer
 * application write, and a region's bit is cleared only when its copy
 * reached the remote with no newer write outstanding.  Writes find out
 * whether a copy holds their region through a lock-free gate: a counter of
 * writes in flight and a count of copies per bucket of regions, checked
 * against each other with paired memory barriers, so the write path of a
 * healthy pair takes no lock.
 *
 * The replication state (bitmap, remote state, counters) lives in a
 * struct xrepl_pair that is shared by every table of a mapped device that
 * names the same legs and geometry, so a table reload keeps it.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-xrepl.h"

#define DM_MSG_PREFIX "xrepl"

/* Regions a resync copies at once (each is one kcopyd job). */
#define XREPL_MAX_COPIES	8
/* Remote clones kept in reserve so writes progress under memory pressure. */
#define XREPL_BIOSET_SIZE	256
/*
 * Remote clones of writes this large are submitted from a worker: the
 * hand-off (a wake-up, tens of microseconds) costs less than the remote's
 * submission work, which then runs in parallel with the local leg's.  For
 * small writes the hand-off would dominate their latency.
 */
#define XREPL_OFFLOAD_BYTES	(64U << 10)
/* Buckets of the region gate (a power of two); region r is in r % this. */
#define XREPL_GATE_BUCKETS	1024U

enum xrepl_degraded {
	XREPL_DEGRADED_NONE,	/* remote receives writes */
	XREPL_DEGRADED_ERROR,	/* a remote I/O failed */
	XREPL_DEGRADED_ADMIN,	/* "remote down" message */
};

static const char * const degraded_names[] = {
	[XREPL_DEGRADED_NONE]	= "none",
	[XREPL_DEGRADED_ERROR]	= "error",
	[XREPL_DEGRADED_ADMIN]	= "admin",
};

struct xrepl_c;
struct xrepl_pair;

/*
 * One region being copied to the remote by the resync.  A slot is claimed
 * (busy) as soon as its region is chosen, which closes the region's gate
 * bucket: from then on new writes to the bucket are deferred.  The copy
 * starts once the writes already in flight in the bucket have completed.
 */
struct xrepl_copy {
	struct xrepl_pair *pair;
	struct xrepl_c *xc;		/* target whose legs are copied */
	unsigned long region;
	unsigned long degrade_gen;	/* pair->degrade_gen when claimed */
	bool busy;
	bool started;
};

/* Per-CPU counters of the write path. */
struct xrepl_stats {
	u64 writes;
	u64 remote_writes;
};

/* Replication state of one pair of legs, shared across table reloads. */
struct xrepl_pair {
	/* Both protected by xrepl_pairs_lock. */
	struct list_head list;
	unsigned int refs;

	struct mapped_device *md;	/* the device that owns this pair */
	dev_t local_dev;
	dev_t remote_dev;
	struct xrepl_geom geom;

	struct workqueue_struct *wq;	/* resync and deferred writes */
	/*
	 * Remote clones of small writes are submitted by the writer itself;
	 * those of large writes go through remote_queue to remote_work on an
	 * unbound workqueue, so the remote's submission cost runs on another
	 * CPU, in parallel with the local one.
	 */
	struct workqueue_struct *remote_wq;
	struct work_struct remote_work;
	struct llist_head remote_queue;	/* of struct xrepl_io */
	struct dm_kcopyd_client *kc;
	struct bio_set bs;		/* remote clones */
	struct work_struct resync_work;
	wait_queue_head_t copies_wait;	/* woken when nr_copies drops to 0 */
	struct xrepl_stats __percpu *stats;

	/*
	 * The region gate, lock-free.  A write increments gate_count of the
	 * buckets of its regions, then (after a full barrier) checks that no
	 * copy holds them; a copy increments gate_frozen of its bucket, then
	 * (after a full barrier) waits for gate_count to drop to zero.  One of
	 * the two always sees the other.  gate_frozen changes only under lock.
	 */
	atomic_t gate_count[XREPL_GATE_BUCKETS];
	atomic_t gate_frozen[XREPL_GATE_BUCKETS];

	/*
	 * Protects every field below, the dirty bitmap and the copy slots.
	 * Taken from bio completion (interrupt) context: use the irq-safe
	 * variants.
	 */
	spinlock_t lock;
	struct xrepl_c *active;		/* resumed target, NULL when suspended */
	enum xrepl_degraded degraded_by;	/* also read without the lock */
	unsigned long degrade_gen;	/* bumped each time the remote degrades */
	struct xrepl_bitmap dirty;
	struct bio_list gate_deferred;	/* writes held by a closed gate */
	struct bio_list redispatch;	/* deferred writes ready to go again */

	bool resync_active;		/* a resync is wanted */
	bool resync_stop;		/* suspending: start no copies */
	unsigned long resync_cursor;	/* next region the pass looks at */
	unsigned long resync_done;	/* regions copied by this resync */
	unsigned long resync_total;	/* regions this resync has to copy */
	unsigned long pass_copied;	/* regions copied in this pass */
	bool pass_marked;		/* regions were marked in this pass */
	unsigned int nr_copies;		/* busy copy slots */
	struct xrepl_copy copies[XREPL_MAX_COPIES];

	u64 remote_errors;
	u64 local_errors;
	u64 copied_regions;
};

/* Target context: one per table that uses xrepl. */
struct xrepl_c {
	struct dm_target *ti;
	struct dm_dev *local;
	struct dm_dev *remote;
	struct xrepl_args args;		/* device strings cleared after ctr */
	struct xrepl_pair *pair;
	struct work_struct event_work;	/* raises dm_table_event() */
};

/* Per-bio state. */
#define XREPL_IO_TRACKED	BIT(0)	/* counted in the region gate */
#define XREPL_IO_REMOTE		BIT(1)	/* a clone went to the remote */
#define XREPL_IO_REJECTED	BIT(2)	/* failed by on_remote_error fail */

struct xrepl_io {
	struct xrepl_c *xc;
	struct bio *clone;		/* remote clone, while queued */
	struct llist_node queued;	/* on pair->remote_queue */
	unsigned long first;		/* regions touched, if TRACKED */
	unsigned long last;
	blk_status_t remote_status;
	unsigned int flags;
};

/* Protects xrepl_pairs and the refs of every pair on it. */
static DEFINE_MUTEX(xrepl_pairs_lock);
static LIST_HEAD(xrepl_pairs);

static struct xrepl_io *xrepl_io(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct xrepl_io));
}

static const char *xrepl_name(struct xrepl_c *xc)
{
	return dm_device_name(dm_table_get_md(xc->ti->table));
}

static void xrepl_raise_event(struct xrepl_c *xc)
{
	queue_work(xc->pair->wq, &xc->event_work);
}

static void xrepl_event_work(struct work_struct *work)
{
	struct xrepl_c *xc = container_of(work, struct xrepl_c, event_work);

	dm_table_event(xc->ti->table);
}

/*
 * Replication state.  Helpers named *_locked need pair->lock held.
 */

static void mark_dirty_locked(struct xrepl_pair *pair, unsigned long first,
			      unsigned long last)
{
	unsigned long added = xrepl_bitmap_set_range(&pair->dirty, first, last);

	if (pair->resync_active && added) {
		pair->resync_total += added;
		pair->pass_marked = true;
	}
}

static void mark_all_dirty_locked(struct xrepl_pair *pair)
{
	unsigned long added = xrepl_bitmap_fill(&pair->dirty);

	if (pair->resync_active && added) {
		pair->resync_total += added;
		pair->pass_marked = true;
	}
}

/* Returns true if this call degraded the remote (the caller raises the event). */
static bool degrade_locked(struct xrepl_pair *pair, enum xrepl_degraded why)
{
	if (pair->degraded_by != XREPL_DEGRADED_NONE)
		return false;
	WRITE_ONCE(pair->degraded_by, why);
	pair->degrade_gen++;
	pair->resync_active = false;
	return true;
}

/* Returns true if a new resync was started. */
static bool start_resync_locked(struct xrepl_pair *pair)
{
	if (pair->resync_active) {
		queue_work(pair->wq, &pair->resync_work);
		return false;
	}
	pair->resync_active = true;
	pair->resync_cursor = 0;
	pair->pass_copied = 0;
	pair->pass_marked = false;
	pair->resync_done = 0;
	pair->resync_total = pair->dirty.nr_set;
	queue_work(pair->wq, &pair->resync_work);
	return true;
}

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

static unsigned int gate_bucket(unsigned long region)
{
	return region & (XREPL_GATE_BUCKETS - 1);
}

/* The gate buckets of regions first..last are *b0 and the *n after it. */
static void gate_span(unsigned long first, unsigned long last,
		      unsigned int *b0, unsigned int *n)
{
	if (last - first >= XREPL_GATE_BUCKETS - 1) {
		*b0 = 0;
		*n = XREPL_GATE_BUCKETS;
	} else {
		*b0 = gate_bucket(first);
		*n = last - first + 1;
	}
}

static bool gate_closed(struct xrepl_pair *pair, unsigned long first,
			unsigned long last)
{
	unsigned int b0, n, i;

	gate_span(first, last, &b0, &n);
	for (i = 0; i < n; i++)
		if (atomic_read(&pair->gate_frozen[gate_bucket(b0 + i)]))
			return true;
	return false;
}

/* A write leaves the gate; wakes the resync if a copy waits for it. */
static void gate_exit(struct xrepl_pair *pair, unsigned long first,
		      unsigned long last)
{
	unsigned int b0, n, i;
	bool kick = false;

	gate_span(first, last, &b0, &n);
	for (i = 0; i < n; i++) {
		unsigned int b = gate_bucket(b0 + i);

		/* Fully ordered: pairs with the barrier in claim_copy_locked(). */
		if (atomic_dec_and_test(&pair->gate_count[b]) &&
		    atomic_read(&pair->gate_frozen[b]))
			kick = true;
	}
	if (kick)
		queue_work(pair->wq, &pair->resync_work);
}

/* A write enters the gate; false (and not counted) if a copy holds it. */
static bool gate_enter(struct xrepl_pair *pair, unsigned long first,
		       unsigned long last)
{
	unsigned int b0, n, i;

	gate_span(first, last, &b0, &n);
	for (i = 0; i < n; i++)
		atomic_inc(&pair->gate_count[gate_bucket(b0 + i)]);
	/* Pairs with the barrier in claim_copy_locked(). */
	smp_mb__after_atomic();
	if (!gate_closed(pair, first, last))
		return true;
	gate_exit(pair, first, last);
	return false;
}

/* Free a slot and open its gate bucket; held writes are retried. */
static void put_copy_locked(struct xrepl_pair *pair, struct xrepl_copy *copy)
{
	atomic_dec(&pair->gate_frozen[gate_bucket(copy->region)]);
	bio_list_merge(&pair->redispatch, &pair->gate_deferred);
	bio_list_init(&pair->gate_deferred);
	copy->busy = false;
	copy->started = false;
	copy->xc = NULL;
	if (!--pair->nr_copies)
		wake_up(&pair->copies_wait);
}

/*
 * I/O path.
 */

static void xrepl_remote_endio(struct bio *clone)
{
	struct bio *bio = clone->bi_private;

	/* Ordered before the final bio_endio() by its atomic decrement. */
	xrepl_io(bio)->remote_status = clone->bi_status;
	bio_put(clone);
	bio_endio(bio);
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
	bool ranged, remote;

	io->xc = xc;
	io->flags = 0;
	ranged = xrepl_range_to_regions(&pair->geom, bio->bi_iter.bi_sector,
					bio_sectors(bio), &io->first, &io->last);
	bio_set_dev(bio, xc->local->bdev);
	remote = READ_ONCE(pair->degraded_by) == XREPL_DEGRADED_NONE;

	if (ranged) {
		/* Writes must never reach a leg once they cannot reach both. */
		if (!remote && xc->args.on_remote_error == XREPL_ON_ERROR_FAIL) {
			io->flags = XREPL_IO_REJECTED;
			return DM_MAPIO_KILL;
		}
		while (!gate_enter(pair, io->first, io->last)) {
			spin_lock_irq(&pair->lock);
			/* Gates open under the lock: re-check before waiting. */
			if (gate_closed(pair, io->first, io->last)) {
				bio_list_add(&pair->gate_deferred, bio);
				spin_unlock_irq(&pair->lock);
				return DM_MAPIO_SUBMITTED;
			}
			spin_unlock_irq(&pair->lock);
		}
		io->flags |= XREPL_IO_TRACKED;
		this_cpu_inc(pair->stats->writes);

		if (!remote) {
			spin_lock_irq(&pair->lock);
			remote = pair->degraded_by == XREPL_DEGRADED_NONE;
			if (!remote)
				mark_dirty_locked(pair, io->first, io->last);
			spin_unlock_irq(&pair->lock);
		}
	}

	if (remote) {
		struct bio *clone;

		io->flags |= XREPL_IO_REMOTE;
		io->remote_status = BLK_STS_OK;
		this_cpu_inc(pair->stats->remote_writes);
		clone = bio_alloc_clone(xc->remote->bdev, bio, GFP_NOIO,
					&pair->bs);
		/* Nobody polls the remote's queue for this clone. */
		bio_clear_polled(clone);
		clone->bi_end_io = xrepl_remote_endio;
		clone->bi_private = bio;
		/* The bio completes after both its own and the clone's endio. */
		bio_inc_remaining(bio);
		if (bio->bi_iter.bi_size >= XREPL_OFFLOAD_BYTES) {
			io->clone = clone;
			if (llist_add(&io->queued, &pair->remote_queue))
				queue_work(pair->remote_wq, &pair->remote_work);
		} else {
			dm_submit_bio_remap(bio, clone);
		}
	}
	dm_submit_bio_remap(bio, NULL);
	return DM_MAPIO_SUBMITTED;
}

static void xrepl_remote_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       remote_work);
	struct llist_node *list = llist_del_all(&pair->remote_queue);
	struct xrepl_io *io, *next;
	struct blk_plug plug;

	blk_start_plug(&plug);
	llist_for_each_entry_safe(io, next, llist_reverse_order(list), queued)
		dm_submit_bio_remap(io->clone->bi_private, io->clone);
	blk_finish_plug(&plug);
}

static int xrepl_map(struct dm_target *ti, struct bio *bio)
{
	struct xrepl_c *xc = ti->private;

	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	if (bio_op(bio) == REQ_OP_READ) {
		xrepl_io(bio)->flags = 0;
		bio_set_dev(bio, xc->local->bdev);
		return DM_MAPIO_REMAPPED;
	}
	return xrepl_write(xc, bio);
}

/* The remote cannot discard or zero: not a failure, copy the result instead. */
static bool remote_unsupported(struct bio *bio, struct xrepl_io *io)
{
	return io->remote_status == BLK_STS_NOTSUPP &&
	       (bio_op(bio) == REQ_OP_DISCARD ||
		bio_op(bio) == REQ_OP_WRITE_ZEROES);
}

static int xrepl_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_io *io = xrepl_io(bio);
	bool tracked = io->flags & XREPL_IO_TRACKED;
	bool remote_failed, degraded = false;
	bool resync = false, started = false;
	unsigned long flags;

	if (io->flags & XREPL_IO_REJECTED)
		return DM_ENDIO_DONE;
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
			mark_dirty_locked(pair, io->first, io->last);
			resync = true;
		}
	}
	if (remote_failed && tracked && remote_unsupported(bio, io)) {
		mark_dirty_locked(pair, io->first, io->last);
		resync = true;
		/* Let the caller fall back to writing zeroes to both legs. */
		if (bio_op(bio) == REQ_OP_WRITE_ZEROES && *error == BLK_STS_OK)
			*error = BLK_STS_NOTSUPP;
	} else if (remote_failed) {
		pair->remote_errors++;
		if (tracked)
			mark_dirty_locked(pair, io->first, io->last);
		else
			/* A failed flush may have lost any cached remote write. */
			mark_all_dirty_locked(pair);
		degraded = degrade_locked(pair, XREPL_DEGRADED_ERROR);
		if (xc->args.on_remote_error == XREPL_ON_ERROR_FAIL &&
		    *error == BLK_STS_OK)
			*error = io->remote_status;
	}
	if (resync && pair->degraded_by == XREPL_DEGRADED_NONE)
		started = start_resync_locked(pair);
	spin_unlock_irqrestore(&pair->lock, flags);

	if (degraded)
		DMERR("%s: remote I/O error %d, replication degraded",
		      xrepl_name(xc), blk_status_to_errno(io->remote_status));
	if (degraded || started)
		xrepl_raise_event(xc);
out:
	if (tracked)
		gate_exit(pair, io->first, io->last);
	return DM_ENDIO_DONE;
}

/*
 * Resync.
 */

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
	if (read_err)
		pair->local_errors++;
	if (write_err) {
		pair->remote_errors++;
		degraded = degrade_locked(pair, XREPL_DEGRADED_ERROR);
	}
	/*
	 * Writes to the region were held back during the copy, so the remote
	 * now holds the region's newest data, unless the copy failed or the
	 * remote degraded meanwhile (it may have lost what it was sent).
	 */
	if (!read_err && !write_err &&
	    pair->degraded_by == XREPL_DEGRADED_NONE &&
	    copy->degrade_gen == pair->degrade_gen) {
		xrepl_bitmap_clear(&pair->dirty, region);
		pair->resync_done++;
		pair->pass_copied++;
		pair->copied_regions++;
	}
	put_copy_locked(pair, copy);
	spin_unlock_irqrestore(&pair->lock, flags);

	if (read_err)
		DMERR_LIMIT("%s: resync could not read region %lu from the local device",
			    xrepl_name(xc), region);
	if (degraded) {
		DMERR("%s: resync write to the remote failed, replication degraded",
		      xrepl_name(xc));
		xrepl_raise_event(xc);
	}
	queue_work(pair->wq, &pair->resync_work);
}

static void xrepl_copy_start(struct xrepl_copy *copy)
{
	struct xrepl_pair *pair = copy->pair;
	struct dm_io_region from, to;

	from.bdev = copy->xc->local->bdev;
	from.sector = xrepl_region_to_sector(&pair->geom, copy->region);
	from.count = xrepl_region_len(&pair->geom, copy->region);
	to = from;
	to.bdev = copy->xc->remote->bdev;
	dm_kcopyd_copy(pair->kc, &from, 1, &to, 0, xrepl_copy_done, copy);
}

/* No write is in flight in the copy's gate bucket any more. */
static bool copy_may_start(struct xrepl_pair *pair, struct xrepl_copy *copy)
{
	return !atomic_read(&pair->gate_count[gate_bucket(copy->region)]);
}

/* Claim a free slot for region; returns it if it may start at once. */
static struct xrepl_copy *claim_copy_locked(struct xrepl_pair *pair,
					    unsigned long region)
{
	struct xrepl_copy *copy = NULL;
	unsigned int i;

	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		if (!pair->copies[i].busy) {
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
	atomic_inc(&pair->gate_frozen[gate_bucket(region)]);
	/* Pairs with the barrier in gate_enter(). */
	smp_mb__after_atomic();
	if (!copy_may_start(pair, copy))
		return NULL;
	copy->started = true;
	return copy;
}

enum xrepl_pass_end {
	XREPL_PASS_RUNNING,
	XREPL_PASS_RESTART,	/* regions became dirty behind the cursor */
	XREPL_PASS_FINISHED,	/* every region is clean */
	XREPL_PASS_STALLED,	/* regions could not be copied */
};

static enum xrepl_pass_end end_pass_locked(struct xrepl_pair *pair)
{
	if (!pair->resync_active || pair->nr_copies ||
	    xrepl_bitmap_next_set(&pair->dirty, pair->resync_cursor) <
	    pair->dirty.nr_bits)
		return XREPL_PASS_RUNNING;

	if (!pair->dirty.nr_set) {
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
	return XREPL_PASS_STALLED;
}

static void xrepl_redispatch(struct bio_list *bios)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		if (xrepl_write(xrepl_io(bio)->xc, bio) == DM_MAPIO_KILL)
			bio_io_error(bio);
	}
}

static void xrepl_resync_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       resync_work);
	struct xrepl_copy *start[XREPL_MAX_COPIES];
	struct bio_list bios = BIO_EMPTY_LIST;
	enum xrepl_pass_end end = XREPL_PASS_RUNNING;
	struct xrepl_c *xc;
	unsigned int i, n = 0;
	bool stop;

	spin_lock_irq(&pair->lock);
	xc = pair->active;
	stop = !xc || pair->resync_stop ||
	       pair->degraded_by != XREPL_DEGRADED_NONE;

	/* Claimed copies whose writes have drained: start or give up. */
	for (i = 0; i < XREPL_MAX_COPIES; i++) {
		struct xrepl_copy *copy = &pair->copies[i];

		if (!copy->busy || copy->started || !copy_may_start(pair, copy))
			continue;
		if (stop) {
			put_copy_locked(pair, copy);
		} else {
			copy->started = true;
			start[n++] = copy;
		}
	}

again:
	while (!stop && pair->resync_active &&
	       pair->nr_copies < XREPL_MAX_COPIES) {
		unsigned long region = xrepl_bitmap_next_set(&pair->dirty,
							     pair->resync_cursor);
		struct xrepl_copy *copy;

		if (region >= pair->dirty.nr_bits)
			break;
		pair->resync_cursor = region + 1;
		if (copy_overlapping_locked(pair, region, region))
			continue;
		copy = claim_copy_locked(pair, region);
		if (copy)
			start[n++] = copy;
	}
	if (!stop) {
		end = end_pass_locked(pair);
		if (end == XREPL_PASS_RESTART)
			goto again;
	}
	bio_list_merge(&bios, &pair->redispatch);
	bio_list_init(&pair->redispatch);
	spin_unlock_irq(&pair->lock);

	for (i = 0; i < n; i++)
		xrepl_copy_start(start[i]);
	xrepl_redispatch(&bios);

	if (end == XREPL_PASS_RUNNING)
		return;
	if (end == XREPL_PASS_FINISHED) {
		/* Make the copies durable before calling the remote in sync. */
		if (blkdev_issue_flush(xc->remote->bdev)) {
			spin_lock_irq(&pair->lock);
			pair->remote_errors++;
			mark_all_dirty_locked(pair);
			degrade_locked(pair, XREPL_DEGRADED_ERROR);
			spin_unlock_irq(&pair->lock);
			DMERR("%s: flush of the remote after resync failed, replication degraded",
			      xrepl_name(xc));
		} else {
			DMINFO("%s: resync complete, remote in sync", xrepl_name(xc));
		}
	} else {
		DMERR("%s: resync stopped: regions could not be copied",
		      xrepl_name(xc));
	}
	xrepl_raise_event(xc);
}

/*
 * Pairs: lookup, creation and release.
 */

static void xrepl_pair_destroy(struct xrepl_pair *pair)
{
	if (pair->wq)
		destroy_workqueue(pair->wq);
	if (pair->remote_wq)
		destroy_workqueue(pair->remote_wq);
	if (!IS_ERR_OR_NULL(pair->kc))
		dm_kcopyd_client_destroy(pair->kc);
	bioset_exit(&pair->bs);
	xrepl_bitmap_free(&pair->dirty);
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
	pair->remote_dev = xc->remote->bdev->bd_dev;
	pair->geom = *geom;
	spin_lock_init(&pair->lock);
	bio_list_init(&pair->gate_deferred);
	bio_list_init(&pair->redispatch);
	init_waitqueue_head(&pair->copies_wait);
	INIT_WORK(&pair->resync_work, xrepl_resync_work);
	INIT_WORK(&pair->remote_work, xrepl_remote_work);
	init_llist_head(&pair->remote_queue);
	for (i = 0; i < XREPL_MAX_COPIES; i++)
		pair->copies[i].pair = pair;

	pair->stats = alloc_percpu(struct xrepl_stats);
	if (!pair->stats)
		goto bad;
	if (xrepl_bitmap_alloc(&pair->dirty, geom->nr_regions))
		goto bad;
	if (bioset_init(&pair->bs, XREPL_BIOSET_SIZE, 0, 0))
		goto bad;
	pair->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(pair->kc))
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

	return pair;
bad:
	xrepl_pair_destroy(pair);
	return NULL;
}

static bool pair_uses(const struct xrepl_pair *pair, dev_t dev)
{
	return pair->local_dev == dev || pair->remote_dev == dev;
}

/*
 * Find the pair this table continues (same device, legs and geometry) or
 * create one.  A new pair starts with every region dirty, unless nosync
 * says the legs are equal; but if it replaces a pair of the same device
 * and legs with another geometry, whose bitmap cannot be carried over,
 * nosync is ignored and a degraded remote stays degraded.  Process
 * context; takes xrepl_pairs_lock.
 */
static int xrepl_pair_get(struct xrepl_c *xc, const struct xrepl_geom *geom,
			  char **error)
{
	struct mapped_device *md = dm_table_get_md(xc->ti->table);
	dev_t local = xc->local->bdev->bd_dev;
	dev_t remote = xc->remote->bdev->bd_dev;
	enum xrepl_degraded inherit = XREPL_DEGRADED_NONE;
	bool predecessor = false;
	struct xrepl_pair *pair;

	mutex_lock(&xrepl_pairs_lock);
	list_for_each_entry(pair, &xrepl_pairs, list) {
		if (pair->md != md) {
			if (pair_uses(pair, local) || pair_uses(pair, remote)) {
				mutex_unlock(&xrepl_pairs_lock);
				*error = "Device already replicated by another xrepl device";
				return -EBUSY;
			}
			continue;
		}
		if (pair->local_dev != local || pair->remote_dev != remote)
			continue;
		if (pair->geom.dev_sectors == geom->dev_sectors &&
		    pair->geom.region_size == geom->region_size) {
			pair->refs++;
			xc->pair = pair;
			mutex_unlock(&xrepl_pairs_lock);
			return 0;
		}
		spin_lock_irq(&pair->lock);
		inherit = pair->degraded_by;
		spin_unlock_irq(&pair->lock);
		predecessor = true;
	}

	pair = xrepl_pair_create(xc, md, geom);
	if (!pair) {
		mutex_unlock(&xrepl_pairs_lock);
		*error = "Cannot allocate replication state";
		return -ENOMEM;
	}
	pair->degraded_by = inherit;
	if (!xc->args.nosync || predecessor) {
		xrepl_bitmap_fill(&pair->dirty);
		/* The full sync starts on the first resume. */
		if (inherit == XREPL_DEGRADED_NONE) {
			pair->resync_active = true;
			pair->resync_total = geom->nr_regions;
		}
	}
	pair->refs = 1;
	list_add(&pair->list, &xrepl_pairs);
	xc->pair = pair;
	mutex_unlock(&xrepl_pairs_lock);
	return 0;
}

static void xrepl_pair_put(struct xrepl_pair *pair)
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
 * Target interface.
 */

static void xrepl_put_devices(struct xrepl_c *xc)
{
	if (xc->remote)
		dm_put_device(xc->ti, xc->remote);
	if (xc->local)
		dm_put_device(xc->ti, xc->local);
}

/*
 * Construct a replicated device:
 *
 * <local_dev> <remote_dev> <meta_dev> <mode> [<#opt_args> <opt_arg>...]
 */
static int xrepl_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct xrepl_geom geom;
	struct xrepl_c *xc;
	int r;

	xc = kzalloc(sizeof(*xc), GFP_KERNEL);
	if (!xc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	xc->ti = ti;
	INIT_WORK(&xc->event_work, xrepl_event_work);

	r = xrepl_parse_args(&xc->args, argc, argv, &ti->error);
	if (r)
		goto bad;
	if (xc->args.meta_path) {
		ti->error = "Metadata device not supported yet: use '-'";
		r = -EINVAL;
		goto bad;
	}
	if (xc->args.mode != XREPL_MODE_SYNC) {
		ti->error = "Mode not supported yet";
		r = -EINVAL;
		goto bad;
	}

	r = dm_get_device(ti, xc->args.local_path, dm_table_get_mode(ti->table),
			  &xc->local);
	if (r) {
		ti->error = "Error opening local device";
		goto bad;
	}
	r = dm_get_device(ti, xc->args.remote_path, dm_table_get_mode(ti->table),
			  &xc->remote);
	if (r) {
		ti->error = "Error opening remote device";
		goto bad;
	}
	xc->args.local_path = NULL;
	xc->args.remote_path = NULL;

	r = -EINVAL;
	if (xc->local->bdev->bd_dev == xc->remote->bdev->bd_dev) {
		ti->error = "Local and remote device must differ";
		goto bad;
	}
	if (ti->len > bdev_nr_sectors(xc->local->bdev)) {
		ti->error = "Device is larger than the local device";
		goto bad;
	}
	if (ti->len > bdev_nr_sectors(xc->remote->bdev)) {
		ti->error = "Device is larger than the remote device";
		goto bad;
	}
	if (bdev_is_zoned(xc->local->bdev) || bdev_is_zoned(xc->remote->bdev)) {
		ti->error = "Zoned devices are not supported";
		goto bad;
	}

	r = xrepl_geom_init(&geom, ti->len, xc->args.region_size, &ti->error);
	if (r)
		goto bad;
	r = xrepl_pair_get(xc, &geom, &ti->error);
	if (r)
		goto bad;

	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct xrepl_io);
	ti->accounts_remapped_io = true;
	ti->private = xc;
	return 0;

bad:
	xrepl_put_devices(xc);
	kfree(xc);
	return r;
}

static void xrepl_dtr(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;

	cancel_work_sync(&xc->event_work);
	xrepl_pair_put(xc->pair);
	xrepl_put_devices(xc);
	kfree(xc);
}

static bool copies_idle(struct xrepl_pair *pair)
{
	bool idle;

	spin_lock_irq(&pair->lock);
	idle = !pair->nr_copies;
	spin_unlock_irq(&pair->lock);
	return idle;
}

/* Stop the resync and wait for its copies; deferred writes are reissued. */
static void xrepl_presuspend(struct dm_target *ti)
{
	struct xrepl_pair *pair = ((struct xrepl_c *)ti->private)->pair;

	spin_lock_irq(&pair->lock);
	pair->resync_stop = true;
	spin_unlock_irq(&pair->lock);

	queue_work(pair->wq, &pair->resync_work);
	wait_event(pair->copies_wait, copies_idle(pair));
	flush_workqueue(pair->wq);
}

static void xrepl_resume_resync(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;

	spin_lock_irq(&pair->lock);
	pair->active = xc;
	pair->resync_stop = false;
	if (pair->resync_active)
		queue_work(pair->wq, &pair->resync_work);
	spin_unlock_irq(&pair->lock);
}

static void xrepl_presuspend_undo(struct dm_target *ti)
{
	xrepl_resume_resync(ti->private);
}

static void xrepl_postsuspend(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;

	flush_workqueue(pair->wq);
	spin_lock_irq(&pair->lock);
	if (pair->active == xc)
		pair->active = NULL;
	spin_unlock_irq(&pair->lock);
}

static void xrepl_resume(struct dm_target *ti)
{
	xrepl_resume_resync(ti->private);
}

static int xrepl_msg_remote(struct xrepl_c *xc, const char *what)
{
	struct xrepl_pair *pair = xc->pair;
	bool changed = false;

	spin_lock_irq(&pair->lock);
	if (!strcasecmp(what, "down")) {
		changed = degrade_locked(pair, XREPL_DEGRADED_ADMIN);
	} else if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		WRITE_ONCE(pair->degraded_by, XREPL_DEGRADED_NONE);
		if (pair->dirty.nr_set)
			start_resync_locked(pair);
		changed = true;
	}
	spin_unlock_irq(&pair->lock);

	if (changed) {
		DMINFO("%s: remote %s", xrepl_name(xc), what);
		xrepl_raise_event(xc);
	}
	return 0;
}

static int xrepl_msg_resync(struct xrepl_c *xc, bool full)
{
	struct xrepl_pair *pair = xc->pair;
	bool started;

	spin_lock_irq(&pair->lock);
	if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		spin_unlock_irq(&pair->lock);
		DMERR("%s: cannot resync while the remote is degraded; send 'remote up' first",
		      xrepl_name(xc));
		return -EINVAL;
	}
	if (full)
		mark_all_dirty_locked(pair);
	started = start_resync_locked(pair);
	spin_unlock_irq(&pair->lock);

	if (started)
		xrepl_raise_event(xc);
	return 0;
}

/*
 * Messages:
 *   remote down | remote up | resync | resync full
 */
static int xrepl_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct xrepl_c *xc = ti->private;

	if (argc == 2 && !strcasecmp(argv[0], "remote") &&
	    (!strcasecmp(argv[1], "down") || !strcasecmp(argv[1], "up")))
		return xrepl_msg_remote(xc, argv[1]);
	if (argc == 1 && !strcasecmp(argv[0], "resync"))
		return xrepl_msg_resync(xc, false);
	if (argc == 2 && !strcasecmp(argv[0], "resync") &&
	    !strcasecmp(argv[1], "full"))
		return xrepl_msg_resync(xc, true);

	DMERR("%s: unsupported message '%s' with %u argument(s)", xrepl_name(xc),
	      argc ? argv[0] : "", argc ? argc - 1 : 0);
	return -EINVAL;
}

static const char *remote_state(const struct xrepl_pair *pair)
{
	if (pair->degraded_by != XREPL_DEGRADED_NONE)
		return "degraded";
	return pair->dirty.nr_set ? "resyncing" : "insync";
}

static void xrepl_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;
	const struct xrepl_args *args = &xc->args;
	unsigned int sz = 0, nr_opts;
	struct xrepl_stats sum = {};
	int cpu;

	switch (type) {
	case STATUSTYPE_INFO:
		for_each_possible_cpu(cpu) {
			struct xrepl_stats *st = per_cpu_ptr(pair->stats, cpu);

			sum.writes += READ_ONCE(st->writes);
			sum.remote_writes += READ_ONCE(st->remote_writes);
		}
		spin_lock_irq(&pair->lock);
		DMEMIT("mode=%s remote=%s dirty=%lu/%lu resync=%lu/%lu",
		       xrepl_mode_name(args->mode), remote_state(pair),
		       pair->dirty.nr_set, pair->dirty.nr_bits,
		       pair->resync_done, pair->resync_total);
		DMEMIT(" remote_errors=%llu local_errors=%llu region_size=%u",
		       pair->remote_errors, pair->local_errors,
		       pair->geom.region_size);
		DMEMIT(" on_remote_error=%s degraded_by=%s resync_active=%d",
		       xrepl_policy_name(args->on_remote_error),
		       degraded_names[pair->degraded_by], pair->resync_active);
		DMEMIT(" copied_regions=%llu writes=%llu remote_writes=%llu meta=-",
		       pair->copied_regions, sum.writes, sum.remote_writes);
		spin_unlock_irq(&pair->lock);
		break;

	case STATUSTYPE_TABLE:
		nr_opts = 2;
		if (args->given & XREPL_OPT_ON_REMOTE_ERROR)
			nr_opts += 2;
		if (args->nosync)
			nr_opts++;
		DMEMIT("%s %s - %s %u region_size %u", xc->local->name,
		       xc->remote->name, xrepl_mode_name(args->mode), nr_opts,
		       args->region_size);
		if (args->given & XREPL_OPT_ON_REMOTE_ERROR)
			DMEMIT(" on_remote_error %s",
			       xrepl_policy_name(args->on_remote_error));
		if (args->nosync)
			DMEMIT(" nosync");
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",local_device=%s,remote_device=%s,meta_device=-",
		       xc->local->name, xc->remote->name);
		DMEMIT(",mode=%s,region_size=%u,on_remote_error=%s,nosync=%c;",
		       xrepl_mode_name(args->mode), args->region_size,
		       xrepl_policy_name(args->on_remote_error),
		       args->nosync ? 'y' : 'n');
		break;
	}
}

static int xrepl_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct xrepl_c *xc = ti->private;
	int r;

	r = fn(ti, xc->local, 0, ti->len, data);
	if (!r)
		r = fn(ti, xc->remote, 0, ti->len, data);
	return r;
}

static struct target_type xrepl_target = {
	.name		 = "xrepl",
	.version	 = {1, 0, 0},
	.module		 = THIS_MODULE,
	.ctr		 = xrepl_ctr,
	.dtr		 = xrepl_dtr,
	.map		 = xrepl_map,
	.end_io		 = xrepl_end_io,
	.presuspend	 = xrepl_presuspend,
	.presuspend_undo = xrepl_presuspend_undo,
	.postsuspend	 = xrepl_postsuspend,
	.resume		 = xrepl_resume,
	.status		 = xrepl_status,
	.message	 = xrepl_message,
	.iterate_devices = xrepl_iterate_devices,
};

static int __init dm_xrepl_init(void)
{
	int r = dm_register_target(&xrepl_target);

	if (r)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_xrepl_exit(void)
{
	dm_unregister_target(&xrepl_target);
}

module_init(dm_xrepl_init);
module_exit(dm_xrepl_exit);

MODULE_DESCRIPTION(DM_NAME " target replicating writes to a remote block device");
MODULE_AUTHOR("The dm-xrepl authors");
MODULE_LICENSE("GPL");
