// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the remote site's metadata device (the table's remote_meta).
 *
 * On every connection (a table with a remote resumed, "remote up") a
 * primary reads the remote site's superblock and xrepl_peer_compare()
 * decides, before a byte is written to the remote: resync our bitmap, the
 * union with a demoted remote's bitmap, or everything; or refuse.  Once
 * connected, the primary writes that superblock only at transitions, from
 * peer_work: before a resync copies its first region (not consistent),
 * when the remote is in sync (consistent and live), and when it stops
 * replicating to a consistent remote (degradation, suspend), with the time
 * of the remote's data.  A failed write of it takes the remote down.
 */
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "xrepl-core.h"

static const char * const peer_state_names[] = {
	[XREPL_PEER_NONE]		= "none",
	[XREPL_PEER_OK]			= "ok",
	[XREPL_PEER_UNKNOWN]		= "unknown",
	[XREPL_PEER_PROMOTED]		= "promoted",
	[XREPL_PEER_SPLIT_BRAIN]	= "split-brain",
	[XREPL_PEER_UNRELATED]		= "unrelated",
};

const char *xrepl_peer_state_name(enum xrepl_peer_state state)
{
	return peer_state_names[state];
}

static enum xrepl_peer_state refused_state(enum xrepl_verdict v)
{
	switch (v) {
	case XREPL_VERDICT_PROMOTED:
		return XREPL_PEER_PROMOTED;
	case XREPL_VERDICT_SPLIT_BRAIN:
		return XREPL_PEER_SPLIT_BRAIN;
	default:
		return XREPL_PEER_UNRELATED;
	}
}

/* ti->error and message text of a refusal. */
static char *refused_error(enum xrepl_verdict v)
{
	switch (v) {
	case XREPL_VERDICT_PROMOTED:
		return "Remote metadata: promoted: the remote site is a primary: refused";
	case XREPL_VERDICT_SPLIT_BRAIN:
		return "Remote metadata: split brain: both sites changed the data: refused";
	default:
		return "Remote metadata: unrelated: no common data generation: refused";
	}
}

/*
 * Read and validate the remote site's superblock against the pair's
 * geometry: 0 with *fresh or *sb, or an error with *error set.
 */
static int peer_read(struct xrepl_pair *pair, struct block_device *bdev,
		     struct dm_io_client *client, void *buf,
		     struct xrepl_sb_info *sb, bool *fresh, char **error)
{
	char *why = NULL;
	int r;

	if (bdev_nr_sectors(bdev) < xrepl_meta_min_sectors(pair->geom.nr_regions)) {
		*error = "Remote metadata device too small";
		return -EINVAL;
	}
	r = xrepl_meta_read_sb(bdev, client, buf, fresh, sb, &why);
	if (r == -EILSEQ) {
		DMERR("%s: remote_meta: %s", dm_device_name(pair->md), why);
		*error = "Remote metadata: corrupt superblock";
		return r;
	}
	if (r) {
		*error = "Remote metadata: I/O error";
		return r;
	}
	if (*fresh)
		return 0;
	if (xrepl_sb_check(sb, pair->geom.dev_sectors, pair->geom.region_size,
			   bdev_nr_sectors(bdev), &why)) {
		DMERR("%s: remote_meta: %s", dm_device_name(pair->md), why);
		*error = "Remote metadata: geometry differs from this device's";
		return -EINVAL;
	}
	return 0;
}

/* Compare what was read with our superblock. */
static enum xrepl_verdict peer_compare(struct xrepl_pair *pair,
				       const struct xrepl_sb_info *peer,
				       bool fresh)
{
	struct xrepl_sb_info ours;

	spin_lock_irq(&pair->lock);
	ours = pair->sb;
	spin_unlock_irq(&pair->lock);
	return xrepl_peer_compare(&ours, peer, fresh);
}

static void log_refused(struct xrepl_pair *pair, struct xrepl_c *xc,
			enum xrepl_verdict v)
{
	DMERR("%s: remote_meta %s: connection refused: %s",
	      dm_device_name(pair->md), xc->peer->name, xrepl_verdict_name(v));
}

/*
 * Read the remote site's superblock and compare it with ours (the pair's
 * own if ours is NULL): 0, or the refusal or failure with *error set.
 * Writes nothing.
 */
static int peer_verdict(struct xrepl_pair *pair, struct xrepl_c *xc,
			const struct xrepl_sb_info *ours, char **error)
{
	struct xrepl_sb_info *sb = NULL;
	struct dm_io_client *client;
	enum xrepl_verdict v;
	void *buf = NULL;
	bool fresh;
	int r;

	client = dm_io_client_create();
	if (IS_ERR(client)) {
		*error = "Cannot allocate metadata I/O client";
		return PTR_ERR(client);
	}
	r = -ENOMEM;
	*error = "Cannot allocate metadata buffer";
	buf = kmalloc(XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	sb = kmalloc(sizeof(*sb), GFP_KERNEL);
	if (buf && sb)
		r = peer_read(pair, xc->peer->bdev, client, buf, sb, &fresh,
			      error);
	if (!r) {
		v = ours ? xrepl_peer_compare(ours, sb, fresh) :
			   peer_compare(pair, sb, fresh);
		if (xrepl_verdict_refused(v)) {
			log_refused(pair, xc, v);
			*error = refused_error(v);
			r = -EINVAL;
		}
	}
	kfree(sb);
	kfree(buf);
	dm_io_client_destroy(client);
	return r;
}

/*
 * Constructor: a table with a remote and remote_meta is refused, with
 * nothing written, if the remote site's metadata does not let this pair
 * replicate to it.  Nothing is read if the pair is connected to it already.
 */
int xrepl_peer_check(struct xrepl_c *xc, char **error)
{
	struct xrepl_pair *pair = xc->pair;
	bool connected;
	dev_t dev, cur;

	if (!xc->peer)
		return 0;
	dev = xc->peer->bdev->bd_dev;
	spin_lock_irq(&pair->lock);
	cur = pair->peer_dev;
	connected = cur == dev && pair->peer_state == XREPL_PEER_OK &&
		    pair->degraded_by != XREPL_DEGRADED_ABSENT;
	spin_unlock_irq(&pair->lock);
	if (connected)
		return 0;
	if (cur && cur != dev && pair->active) {
		*error = "remote_meta differs from the live table's: remove the device first";
		return -EINVAL;
	}
	return peer_verdict(pair, xc, NULL, error);
}

/*
 * Constructor of a new pair whose metadata device is fresh, before it is
 * formatted: the pair gets a new identity, and the remote site's metadata
 * refuses it unless it is fresh too.  Compared with a superblock like the
 * one the format writes (its uuid is random, so any one gives the same
 * verdict), so that a refused table leaves this site's metadata device as
 * it was.  Writes nothing.
 */
int xrepl_peer_check_new(struct xrepl_pair *pair, struct xrepl_c *xc,
			 bool in_sync, char **error)
{
	struct xrepl_sb_info *ours;
	int r;

	if (!xc->peer)
		return 0;
	ours = kmalloc(sizeof(*ours), GFP_KERNEL);
	if (!ours) {
		*error = "Cannot allocate metadata buffer";
		return -ENOMEM;
	}
	xrepl_sb_init(ours, &pair->geom, in_sync);
	r = peer_verdict(pair, xc, ours, error);
	kfree(ours);
	return r;
}

/*
 * Read the remote's bitmap into bm: the regions a demoted former primary
 * wrote that may never have reached us.  peer_io_lock held.
 */
static int peer_read_bitmap(struct xrepl_pair *pair, struct block_device *bdev,
			    struct xrepl_bitmap *bm)
{
	unsigned long nr = pair->geom.nr_regions, b, r, first;
	int err;

	for (b = 0; b < xrepl_meta_bitmap_blocks(nr); b++) {
		const __le64 *w = pair->peer_buf;

		err = xrepl_meta_rw(bdev, pair->peer_io, REQ_OP_READ | REQ_META,
				    1 + b, 1, pair->peer_buf);
		if (err)
			return err;
		first = b * XREPL_META_BITS_PER_BLOCK;
		for (r = first; r < min(first + XREPL_META_BITS_PER_BLOCK, nr); r++)
			if (le64_to_cpu(w[(r - first) / 64]) &
			    BIT_ULL((r - first) % 64))
				xrepl_bitmap_set_range(bm, r, r);
		cond_resched();
	}
	return 0;
}

/*
 * A pair created since the remote site recorded a periodic point (a
 * restart of the source) takes it back as the remote's point in time, if
 * the table is in periodic mode, we are consistent and the remote holds
 * our bitmap's start: the POINT
 * record is then written again as it is, not replaced by a COPYING one,
 * and the first cycle can run under undo.  The monotonic time of the
 * point may lie before boot: it is only ever subtracted from (the status's
 * age) or compared.  lock held.
 */
static void peer_restore_point_locked(struct xrepl_pair *pair,
				      struct xrepl_c *xc,
				      const struct xrepl_sb_info *sb,
				      enum xrepl_verdict v)
{
	u64 now = ktime_get_real_seconds(), age;

	if (pair->point_real_s || !pair->consistent ||
	    READ_ONCE(xc->args.mode) != XREPL_MODE_PERIODIC ||
	    sb->role != XREPL_META_ROLE_SECONDARY ||
	    sb->flags != XREPL_META_F_CONSISTENT || !sb->data_time ||
	    sb->data_time > now ||
	    (v != XREPL_VERDICT_SAME && v != XREPL_VERDICT_ANCESTOR))
		return;
	age = (now - sb->data_time) * NSEC_PER_SEC;
	pair->point_real_s = sb->data_time;
	pair->point_mono_ns = (ktime_get_ns() - age) ?: 1;
	pair->point_restored = true;
}

/*
 * Connect to the remote site's metadata (xc->peer): read it, compare, and
 * if accepted mark what the verdict says must be copied, durably on our
 * metadata device, before the remote's superblock can be written.  live:
 * the pair was replicating to this remote all along (remote_meta added to
 * a live table), so a fresh remote metadata device needs no full copy.
 * Returns 0, -EINVAL (refused; *error names the case) or an I/O error.
 * Process context.
 */
int xrepl_peer_connect(struct xrepl_c *xc, bool live, char **error)
{
	struct xrepl_pair *pair = xc->pair;
	struct block_device *bdev = xc->peer->bdev;
	enum xrepl_peer_state state = XREPL_PEER_UNKNOWN;
	struct xrepl_sb_info sb;
	unsigned long marked = 0;
	struct xrepl_bitmap bm;
	enum xrepl_verdict v;
	unsigned int noio;
	bool fresh;
	int r;

	mutex_lock(&pair->peer_io_lock);
	r = peer_read(pair, bdev, pair->peer_io, pair->peer_buf, &sb, &fresh,
		      error);
	if (r)
		goto out;
	v = peer_compare(pair, &sb, fresh);
	if (xrepl_verdict_refused(v)) {
		log_refused(pair, xc, v);
		*error = refused_error(v);
		state = refused_state(v);
		r = -EINVAL;
		goto out;
	}

	/*
	 * What must be copied is durable here before the remote's
	 * superblock changes (peer_work writes it once we are connected).
	 */
	switch (v) {
	case XREPL_VERDICT_FRESH:
		if (live)
			break;
		fallthrough;
	case XREPL_VERDICT_OLD:
	case XREPL_VERDICT_FAILBACK_OLD:
		if (!xrepl_meta_mark_dirty(pair, NULL))
			goto meta_failed;
		break;
	case XREPL_VERDICT_FAILBACK:
		/* In preresume: reclaim must not write to this device. */
		noio = memalloc_noio_save();
		r = xrepl_bitmap_alloc(&bm, pair->geom.nr_regions);
		memalloc_noio_restore(noio);
		if (r) {
			*error = "Cannot allocate the remote site's bitmap";
			goto out;
		}
		r = peer_read_bitmap(pair, bdev, &bm);
		if (r) {
			xrepl_bitmap_free(&bm);
			*error = "Remote metadata: I/O error";
			goto out;
		}
		marked = bm.nr_set;
		if (!xrepl_meta_mark_dirty(pair, &bm)) {
			xrepl_bitmap_free(&bm);
			goto meta_failed;
		}
		xrepl_bitmap_free(&bm);
		break;
	default:
		break;
	}
	if (fresh)
		memset(&sb, 0, sizeof(sb));
	pair->peer_sb = sb;
	state = XREPL_PEER_OK;
	if (v == XREPL_VERDICT_FAILBACK)
		DMWARN("%s: failback: %lu regions written at the demoted site are overwritten",
		       dm_device_name(pair->md), marked);
	DMINFO("%s: remote_meta %s: connected (%s)", dm_device_name(pair->md),
	       xc->peer->name, xrepl_verdict_name(v));
	goto out;

meta_failed:
	/* Our own metadata failed: nothing is known of the remote's. */
	*error = "Metadata: I/O error on this site's metadata device";
	r = -EIO;
	state = READ_ONCE(pair->peer_state);
out:
	spin_lock_irq(&pair->lock);
	pair->peer_state = state;
	if (!r) {
		pair->peer_dev = bdev->bd_dev;
		pair->peer_rec = XREPL_PEER_REC_NONE;
		xrepl_undo_connect_locked(pair, bdev, sb.undo_epoch);
		peer_restore_point_locked(pair, xc, &sb, v);
	}
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&pair->peer_io_lock);
	return r;
}

/* What the remote's superblock should say now, or NONE: leave it.  lock. */
static enum xrepl_peer_rec peer_want_locked(struct xrepl_pair *pair)
{
	if (!pair->peer_bdev || pair->peer_state != XREPL_PEER_OK)
		return XREPL_PEER_REC_NONE;
	if (pair->active && pair->degraded_by == XREPL_DEGRADED_NONE &&
	    pair->periodic) {
		/* A cycle with regions to copy, or none completed yet. */
		if ((pair->cycling && pair->cycle_frozen) ||
		    pair->merge_needed || !pair->consistent ||
		    !pair->point_real_s)
			return XREPL_PEER_REC_COPYING;
		return XREPL_PEER_REC_POINT;
	}
	if (pair->active && pair->degraded_by == XREPL_DEGRADED_NONE) {
		if (pair->dirty.nr_set || pair->resync_active ||
		    pair->merge_needed || !pair->consistent)
			return XREPL_PEER_REC_COPYING;
		return XREPL_PEER_REC_LIVE;
	}
	/* A remote that fails is not written; one that was copied to stays so. */
	if (pair->degraded_by == XREPL_DEGRADED_ERROR ||
	    pair->degraded_by == XREPL_DEGRADED_ABSENT ||
	    pair->peer_rec != XREPL_PEER_REC_LIVE)
		return XREPL_PEER_REC_NONE;
	return XREPL_PEER_REC_STOPPED;
}

/* The remote site's superblock for rec, from the last one.  lock. */
static void peer_sb_locked(struct xrepl_pair *pair, enum xrepl_peer_rec rec,
			   struct xrepl_sb_info *sb)
{
	u64 now = ktime_get_real_seconds();

	*sb = pair->peer_sb;
	memcpy(sb->uuid, pair->sb.uuid, sizeof(sb->uuid));
	if (!sb->ctime)
		sb->ctime = now;
	sb->role = XREPL_META_ROLE_SECONDARY;
	/* A secondary has no change tracker. */
	xrepl_sb_trk_clear(sb);
	sb->region_size = pair->geom.region_size;
	sb->dev_sectors = pair->geom.dev_sectors;
	sb->nr_regions = pair->geom.nr_regions;
	sb->bitmap_blocks = xrepl_meta_bitmap_blocks(pair->geom.nr_regions);
	/*
	 * A stopped remote holds the generation it was given: ours split
	 * when we went on without it.  At a periodic point it holds the one
	 * our bitmap counts from: we split at the cycle's end.
	 */
	if (rec == XREPL_PEER_REC_POINT)
		sb->gen_current = pair->sb.gen_bitmap ?: pair->sb.gen_current;
	else if (rec != XREPL_PEER_REC_STOPPED)
		sb->gen_current = pair->sb.gen_current;
	sb->gen_bitmap = 0;
	memset(sb->gen_history, 0, sizeof(sb->gen_history));
	sb->degraded = XREPL_META_DEGRADED_NONE;
	sb->generation++;
	sb->mtime = now;
	sb->undo_epoch = 0;
	switch (rec) {
	case XREPL_PEER_REC_COPYING:
		sb->flags = 0;
		/* With undo, the copy can return to this point. */
		sb->undo_epoch = pair->undo_epoch;
		sb->data_time = pair->undo_epoch ? pair->undo_time : 0;
		break;
	case XREPL_PEER_REC_LIVE:
		sb->flags = XREPL_META_F_CONSISTENT | XREPL_META_F_LIVE;
		sb->data_time = now;
		break;
	case XREPL_PEER_REC_POINT:
		sb->flags = XREPL_META_F_CONSISTENT;
		sb->data_time = pair->point_real_s;
		break;
	default:
		sb->flags = XREPL_META_F_CONSISTENT;
		sb->data_time = pair->peer_data_time ?: now;
		break;
	}
}

/* Record a stop of a live remote: its data time is now, less the lag. */
static void peer_stop_time_locked(struct xrepl_pair *pair)
{
	pair->peer_data_time = xrepl_lag_data_time_locked(pair);
}

/* Have peer_work bring the remote's superblock up to date.  lock held. */
void xrepl_peer_update_locked(struct xrepl_pair *pair)
{
	if (!pair->peer_bdev)
		return;
	if (pair->degraded_by != XREPL_DEGRADED_NONE &&
	    pair->peer_rec == XREPL_PEER_REC_LIVE && !pair->peer_data_time)
		peer_stop_time_locked(pair);
	queue_work(pair->peer_wq, &pair->peer_work);
}

/*
 * May the resync copy a region?  Not before the remote's superblock says
 * it is not consistent.  lock held.
 */
bool xrepl_peer_ready_locked(struct xrepl_pair *pair)
{
	return !pair->peer_bdev ||
	       (pair->peer_rec == XREPL_PEER_REC_COPYING &&
		pair->peer_undo_epoch == pair->undo_epoch);
}

/*
 * Periodic mode: is the remote's point in time still to be recorded on
 * the remote site's metadata?  The next cycle waits for it: the undo of
 * that cycle returns to the point recorded.  lock held.
 */
bool xrepl_peer_point_pending_locked(struct xrepl_pair *pair)
{
	return peer_want_locked(pair) == XREPL_PEER_REC_POINT &&
	       (pair->peer_rec != XREPL_PEER_REC_POINT ||
		pair->peer_point_ns != pair->point_mono_ns);
}

/*
 * Is the remote site's superblock still the one this pair last read or
 * wrote (pair->peer_sb; all zero: a fresh one)?  Someone else may have
 * written it since: the remote site promoted while this table was
 * suspended, say.  0 if it is; -ESTALE with *state saying what it is now
 * (promoted, split brain, unrelated, or unknown), or an I/O error.
 * peer_io_lock held.
 */
static int peer_unchanged(struct xrepl_pair *pair, struct block_device *bdev,
			  enum xrepl_peer_state *state)
{
	const struct xrepl_sb_info *last = &pair->peer_sb;
	struct xrepl_sb_info sb;
	enum xrepl_verdict v;
	char *error = NULL;
	bool fresh;
	int r;

	*state = XREPL_PEER_UNKNOWN;
	r = peer_read(pair, bdev, pair->peer_io, pair->peer_buf, &sb, &fresh,
		      &error);
	if (r)
		return r;
	if (fresh ? !last->generation :
	    sb.generation == last->generation && sb.role == last->role &&
	    sb.gen_current == last->gen_current &&
	    !memcmp(sb.uuid, last->uuid, sizeof(sb.uuid)))
		return 0;
	v = peer_compare(pair, &sb, fresh);
	if (xrepl_verdict_refused(v))
		*state = refused_state(v);
	DMERR("%s: the remote site's metadata changed behind this device (%s): not written",
	      dm_device_name(pair->md), xrepl_verdict_name(v));
	return -ESTALE;
}

/*
 * Write the remote site's superblock as rec says, to bdev, if it is still
 * the one this pair knows.  Returns 0, or an error after which the peer
 * is unknown (or what it was found to be) and the remote degraded.
 * peer_io_lock held.
 */
static int peer_write(struct xrepl_pair *pair, struct block_device *bdev,
		      enum xrepl_peer_rec rec)
{
	enum xrepl_peer_state state;
	struct xrepl_sb_info sb;
	struct xrepl_c *xc;
	bool degraded = false;
	u64 point_ns;
	int r;

	r = peer_unchanged(pair, bdev, &state);
	if (r)
		goto done;
	spin_lock_irq(&pair->lock);
	peer_sb_locked(pair, rec, &sb);
	point_ns = pair->point_mono_ns;
	spin_unlock_irq(&pair->lock);

	memset(pair->peer_buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_sb_encode(pair->peer_buf, &sb);
	r = xrepl_meta_rw(bdev, pair->peer_io, REQ_OP_WRITE | REQ_SYNC |
			  REQ_META | REQ_FUA, 0, 1, pair->peer_buf);
done:
	spin_lock_irq(&pair->lock);
	xc = pair->active;
	if (r) {
		pair->peer_state = state;
		/* Also ends a congestion: it must not return by itself. */
		if (pair->degraded_by == XREPL_DEGRADED_NONE)
			degraded = xrepl_remote_failed_locked(pair, false, 0, 0);
		else if (xrepl_degraded_returns(pair->degraded_by))
			degraded = xrepl_degrade_locked(pair,
							XREPL_DEGRADED_ERROR);
	} else {
		pair->peer_sb = sb;
		pair->peer_rec = rec;
		WRITE_ONCE(pair->peer_undo_epoch, sb.undo_epoch);
		if (rec == XREPL_PEER_REC_POINT)
			pair->peer_point_ns = point_ns;
		if (rec != XREPL_PEER_REC_STOPPED)
			pair->peer_data_time = 0;
		atomic64_inc(&pair->peer_meta_writes);
		/*
		 * The resync, or a cycle, waits for this before its first
		 * copy; the next cycle, for the point's record.
		 */
		if ((rec == XREPL_PEER_REC_COPYING && pair->resync_active) ||
		    pair->cycle_wanted)
			queue_work(pair->wq, &pair->resync_work);
	}
	spin_unlock_irq(&pair->lock);
	if (r) {
		if (r != -ESTALE)
			DMERR("%s: cannot write the remote site's metadata (%d)",
			      dm_device_name(pair->md), r);
		if (degraded && xc)
			xrepl_report_degraded(xc, "remote metadata write failed");
	}
	return r;
}

/*
 * Write the COPYING record to bdev, or (bdev NULL) to the active table's
 * remote site's metadata, unless it says so already.  -EIO for the active
 * table's if its state is not known.
 */
static int peer_copying(struct xrepl_pair *pair, struct block_device *bdev)
{
	bool needed, active = !bdev;
	int r = 0;

	mutex_lock(&pair->peer_io_lock);
	spin_lock_irq(&pair->lock);
	if (active)
		bdev = pair->peer_bdev;
	if (active && bdev && pair->peer_state != XREPL_PEER_OK)
		r = -EIO;
	needed = bdev && pair->peer_state == XREPL_PEER_OK &&
		 pair->peer_rec != XREPL_PEER_REC_COPYING;
	spin_unlock_irq(&pair->lock);
	if (needed)
		r = peer_write(pair, bdev, XREPL_PEER_REC_COPYING);
	mutex_unlock(&pair->peer_io_lock);
	return r;
}

/*
 * The remote is about to receive writes while regions it misses remain
 * (remote up, attach): record on the remote site's metadata, before the
 * first of them, that its data is not consistent.  bdev: the remote
 * site's metadata device of the table, or NULL.  Process context.
 */
int xrepl_peer_copying(struct xrepl_pair *pair, struct block_device *bdev)
{
	return bdev ? peer_copying(pair, bdev) : 0;
}

/*
 * As xrepl_peer_copying(), to the remote site's metadata device of the
 * active table (none: nothing to write), for a return no table drives:
 * the end of a congestion.  The device is read under peer_io_lock, which
 * postsuspend takes to drop it, so it stays open while written; what it
 * says now not being known (a failed write of it) refuses the return.
 * Process context.
 */
int xrepl_peer_copying_active(struct xrepl_pair *pair)
{
	return peer_copying(pair, NULL);
}

void xrepl_peer_work(struct work_struct *work)
{
	struct xrepl_pair *pair = container_of(work, struct xrepl_pair,
					       peer_work);
	struct block_device *bdev;
	enum xrepl_peer_rec want;
	bool done;

	mutex_lock(&pair->peer_io_lock);
	for (;;) {
		spin_lock_irq(&pair->lock);
		want = peer_want_locked(pair);
		/* Each new point in time is recorded. */
		done = want == XREPL_PEER_REC_NONE ||
		       (want == pair->peer_rec &&
			(want != XREPL_PEER_REC_COPYING ||
			 pair->peer_undo_epoch == pair->undo_epoch) &&
			(want != XREPL_PEER_REC_POINT ||
			 (pair->peer_point_ns == pair->point_mono_ns &&
			  pair->peer_sb.data_time == pair->point_real_s &&
			  pair->peer_sb.gen_current == (pair->sb.gen_bitmap ?:
							pair->sb.gen_current))));
		bdev = pair->peer_bdev;
		spin_unlock_irq(&pair->lock);
		if (done || peer_write(pair, bdev, want))
			break;
	}
	mutex_unlock(&pair->peer_io_lock);
}
