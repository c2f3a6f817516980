// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the replication state of a pair, and the events that say it
 * changed.  Helpers named *_locked need pair->lock held.
 */

#include "xrepl-core.h"

static const char * const degraded_names[] = {
	[XREPL_DEGRADED_NONE]	= "none",
	[XREPL_DEGRADED_ERROR]	= "error",
	[XREPL_DEGRADED_ADMIN]	= "admin",
	[XREPL_DEGRADED_CONGESTION] = "congestion",
	[XREPL_DEGRADED_PROBE]	= "probe",
	[XREPL_DEGRADED_ABSENT]	= "absent",
	[XREPL_DEGRADED_JOURNAL] = "journal",
};

/* The name of a degraded_by value, as status prints it. */
const char *xrepl_degraded_name(enum xrepl_degraded why)
{
	return degraded_names[why];
}

void xrepl_raise_event(struct xrepl_c *xc)
{
	queue_work(xc->pair->wq, &xc->event_work);
}

void xrepl_event_work(struct work_struct *work)
{
	struct xrepl_c *xc = container_of(work, struct xrepl_c, event_work);

	dm_table_event(xc->ti->table);
}

/*
 * added regions just became dirty: a running resync has them to copy too,
 * and its pass must look at the bitmap again; a cycle leaves them to the
 * next one.
 */
void xrepl_resync_account_locked(struct xrepl_pair *pair, unsigned long added)
{
	if (pair->resync_active && added && !pair->cycling) {
		pair->resync_total += added;
		pair->pass_marked = true;
	}
}

/* The remote may miss data of regions first..last. */
void xrepl_mark_dirty_locked(struct xrepl_pair *pair, unsigned long first,
			     unsigned long last)
{
	unsigned long added = xrepl_bitmap_set_range(&pair->dirty, first, last);

	xrepl_resync_account_locked(pair, added);
	xrepl_jnl_dirtied_locked(pair, first, last);
}

/* The remote may miss data of any region. */
void xrepl_mark_all_dirty_locked(struct xrepl_pair *pair)
{
	xrepl_resync_account_locked(pair, xrepl_bitmap_fill(&pair->dirty));
	xrepl_jnl_dirtied_locked(pair, 0, pair->geom.nr_regions - 1);
}

/* The superblock changed: have the metadata worker write it. */
void xrepl_sb_changed_locked(struct xrepl_pair *pair)
{
	if (!pair->meta_bdev)
		return;
	pair->sb_dirty = true;
	queue_work(pair->meta_wq, &pair->commit_work);
}

/*
 * The remote may have lost writes it had acknowledged (a failed flush):
 * with a metadata device, the marked regions are exactly those with writes
 * not known durable on both legs, and they join the dirty regions before
 * the next resync; without one, every region is dirty.
 */
void xrepl_mark_lost_locked(struct xrepl_pair *pair)
{
	/* With a journal, the marks may not cover what the remote lost. */
	xrepl_jnl_lost_locked(pair);
	if (pair->meta_bdev)
		pair->merge_needed = true;
	else
		xrepl_mark_all_dirty_locked(pair);
}

/*
 * Does a degradation for why replace the reason of a degraded remote?  A
 * congestion or journal degradation returns by itself: a failure or a
 * "remote down" ends that.  The administrator's "remote down" replaces any other reason,
 * so that neither the monitor nor a reboot brings the remote back against
 * it.
 */
static bool degrade_reason_replaces(enum xrepl_degraded old,
				    enum xrepl_degraded why)
{
	if (old == why)
		return false;
	/* Only a table with a remote ends an absent one (attach). */
	if (old == XREPL_DEGRADED_ABSENT)
		return false;
	return xrepl_degraded_returns(old) ||
	       why == XREPL_DEGRADED_ADMIN || why == XREPL_DEGRADED_ABSENT;
}

/*
 * The remote stops receiving writes, for why.  Returns true if this call
 * degraded the remote, or changed the reason it is degraded for (the
 * caller raises the event).
 */
bool xrepl_degrade_locked(struct xrepl_pair *pair, enum xrepl_degraded why)
{
	if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		if (!degrade_reason_replaces(pair->degraded_by, why))
			return false;
		WRITE_ONCE(pair->degraded_by, why);
		xrepl_sb_changed_locked(pair);
		xrepl_peer_update_locked(pair);
		return true;
	}
	WRITE_ONCE(pair->degraded_by, why);
	pair->degrade_gen++;
	/*
	 * With a journal, what the remote completed unflushed may have lost
	 * its marks to the log: those regions become dirty.
	 */
	xrepl_jnl_lost_locked(pair);
	xrepl_cycle_abort_locked(pair, true);
	pair->resync_active = false;
	/*
	 * A verify ends: it is resumed by hand (status says where); what a
	 * "verify repair" found so far is marked (resync_work).
	 */
	if (pair->verify_active) {
		pair->verify_active = false;
		queue_work(pair->wq, &pair->resync_work);
	}
	/*
	 * Writes waiting for lag room go to the local leg now: the room
	 * they wait for may be held by writes in flight to a hung remote.
	 */
	if (xrepl_lag_wait_release_locked(pair))
		xrepl_lag_kick(pair);
	/* So do those waiting for room in the journal, for the same reason. */
	xrepl_jnl_room_locked(pair);
	if (pair->meta_bdev) {
		/* Writes acknowledged by the remote may not be durable there. */
		pair->merge_needed = true;
		/* The source now changes without the remote: a new data generation. */
		xrepl_gen_split(&pair->sb);
		pair->sb.degrade_count++;
		xrepl_sb_changed_locked(pair);
	}
	/* The remote site's metadata records the stop. */
	xrepl_peer_update_locked(pair);
	return true;
}

/*
 * Does the remote need a resync once it is healthy?  Also with nothing to
 * copy when it is not consistent: it degraded (or the machine crashed)
 * while the end of a resync was flushed, and a pass with nothing to copy
 * flushes it again and makes it consistent.
 */
bool xrepl_resync_needed_locked(const struct xrepl_pair *pair)
{
	return pair->dirty.nr_set || pair->merge_needed || !pair->consistent;
}

/*
 * A new resync is wanted: it copies every dirty region (or a cycle's) from
 * the start.  It runs once resync_work is queued (xrepl_resync_start_locked(),
 * or when the pair is activated).
 */
void xrepl_resync_want_locked(struct xrepl_pair *pair)
{
	pair->resync_active = true;
	pair->resync_seq++;
	pair->resync_cursor = 0;
	pair->pass_copied = 0;
	pair->pass_marked = false;
	pair->resync_done = 0;
	pair->resync_total = xrepl_resync_set(pair)->nr_set;
	pair->resync_started_ns = ktime_get_ns();
	pair->rate_start_ns = pair->resync_started_ns;
	pair->rate_bytes = 0;
}

/*
 * The flush that ends a resync was given up on (the device suspends, or
 * memory was short): the resync is wanted again where it was, and its
 * next pass (with nothing to copy) flushes again.
 */
void xrepl_resync_again_locked(struct xrepl_pair *pair)
{
	/* Periodic mode: the cycle ended (a suspend); the next one flushes. */
	if (pair->periodic && !pair->cycling) {
		pair->cycle_wanted = true;
		return;
	}
	pair->resync_active = true;
	pair->resync_seq++;
}

/*
 * Start a resync, or have the running one look at the bitmap again.
 * Returns true if a new resync was started.  In periodic mode the remote
 * is copied to by cycles only: a cycle is wanted instead.
 */
bool xrepl_resync_start_locked(struct xrepl_pair *pair)
{
	bool started = !pair->resync_active;

	if (pair->periodic && !pair->cycling) {
		pair->cycle_wanted = true;
		queue_work(pair->wq, &pair->resync_work);
		return false;
	}
	if (started)
		xrepl_resync_want_locked(pair);
	queue_work(pair->wq, &pair->resync_work);
	return started;
}

/*
 * A write, a copy or a flush failed at the remote: count it, mark what
 * the remote may now miss (regions first..last if tracked, else every
 * region not known durable on both legs) and degrade.  Returns whether
 * this degraded the remote: then the caller, once it dropped the lock,
 * calls xrepl_report_degraded().
 */
bool xrepl_remote_failed_locked(struct xrepl_pair *pair, bool tracked,
				unsigned long first, unsigned long last)
{
	pair->remote_errors++;
	if (tracked)
		xrepl_mark_dirty_locked(pair, first, last);
	else
		xrepl_mark_lost_locked(pair);
	return xrepl_degrade_locked(pair, XREPL_DEGRADED_ERROR);
}

/* Log why replication degraded and raise the event.  No lock held. */
void xrepl_report_degraded(struct xrepl_c *xc, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	DMERR("%s: %pV, replication degraded", xrepl_name(xc), &vaf);
	va_end(args);
	xrepl_raise_event(xc);
}

/*
 * The remote receives writes again: "remote up", or the end of a
 * congestion.  A resync starts if one is needed, or always if
 * resync_always (the writes dropped while congested).
 */
void xrepl_remote_back_locked(struct xrepl_pair *pair, bool resync_always)
{
	WRITE_ONCE(pair->degraded_by, XREPL_DEGRADED_NONE);
	if (resync_always || xrepl_resync_needed_locked(pair))
		xrepl_resync_start_locked(pair);
	xrepl_sb_changed_locked(pair);
	xrepl_peer_update_locked(pair);
}

/*
 * A table's remote could not be attached (its metadata refused the
 * connection, or could not be read): it stays degraded, as failed, and
 * nothing is written to it.
 */
void xrepl_attach_failed_locked(struct xrepl_pair *pair)
{
	if (pair->degraded_by == XREPL_DEGRADED_ABSENT)
		WRITE_ONCE(pair->degraded_by, XREPL_DEGRADED_ERROR);
	else
		xrepl_degrade_locked(pair, XREPL_DEGRADED_ERROR);
	xrepl_sb_changed_locked(pair);
}

/*
 * The remote's state of a pair that is not active yet, before its
 * metadata device is formatted or loaded (the first superblock of a fresh
 * device records it).
 */
void xrepl_state_init_locked(struct xrepl_pair *pair, enum xrepl_degraded why)
{
	WRITE_ONCE(pair->degraded_by, why);
}

/*
 * Set the state of a pair that is not active yet: read from its metadata
 * device, or taken over from the pair it replaces.  A healthy remote that
 * needs a resync gets one once the pair is activated.
 */
void xrepl_state_take_over_locked(struct xrepl_pair *pair,
				  enum xrepl_degraded why, bool consistent)
{
	xrepl_state_init_locked(pair, why);
	pair->consistent = consistent;
	if (why != XREPL_DEGRADED_NONE)
		pair->resync_active = false;
	else if (xrepl_resync_needed_locked(pair) && !pair->resync_active)
		xrepl_resync_want_locked(pair);
}

/*
 * Move the writes waiting for lag room to lag_ready, where lag_work maps
 * them again: they look at the lag as a new write does (the remote
 * degraded, shipping is held, the bound or the policy changed).  Room
 * that appears goes through xrepl_lag_room_locked() instead.  Returns
 * true if there were any: the caller then calls xrepl_lag_kick() (or
 * passes it to xrepl_ship_kick()).
 */
bool xrepl_lag_wait_release_locked(struct xrepl_pair *pair)
{
	if (bio_list_empty(&pair->lag_wait))
		return false;
	bio_list_merge(&pair->lag_ready, &pair->lag_wait);
	bio_list_init(&pair->lag_wait);
	return true;
}

const char *xrepl_remote_state_name(const struct xrepl_pair *pair)
{
	if (pair->degraded_by != XREPL_DEGRADED_NONE)
		return "degraded";
	/* Periodic: at its point in time, or a cycle copies to it. */
	if (pair->periodic)
		return pair->cycling ? "cycling" : "point";
	return pair->dirty.nr_set ? "resyncing" : "insync";
}
