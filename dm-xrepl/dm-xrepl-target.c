// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: a device-mapper target that replicates every write to a remote
 * block device.
 *
 * This file is the target interface: the constructor and destructor, the
 * suspend and resume hooks, messages and status.  xrepl-core.h describes
 * the design and the other units.
 */
#include <linux/ctype.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "xrepl-core.h"

/*
 * A refused message is logged, but at most this many per device in this
 * interval: whoever may send messages must not flood the kernel log.
 */
#define XREPL_MSG_ERR_INTERVAL	(5 * HZ)
#define XREPL_MSG_ERR_BURST	20

static void xrepl_put_devices(struct xrepl_c *xc)
{
	if (xc->journal)
		dm_put_device(xc->ti, xc->journal);
	if (xc->peer)
		dm_put_device(xc->ti, xc->peer);
	if (xc->meta)
		dm_put_device(xc->ti, xc->meta);
	if (xc->remote)
		dm_put_device(xc->ti, xc->remote);
	if (xc->local)
		dm_put_device(xc->ti, xc->local);
}

/*
 * Construct a replicated device:
 *
 * <local_dev> <remote_dev> <meta_dev> <mode> [<#opt_args> <opt_arg>...]
 *
 * remote_dev "-": no remote yet; remote_meta <dev> among the optional
 * arguments: the remote site's metadata device.
 */
static int xrepl_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct xrepl_sb_info sb;
	struct xrepl_geom geom;
	struct xrepl_c *xc;
	bool fresh = true;
	int r;

	xc = kzalloc(sizeof(*xc), GFP_KERNEL);
	if (!xc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	xc->ti = ti;
	INIT_WORK(&xc->event_work, xrepl_event_work);
	ratelimit_state_init(&xc->msg_rs, XREPL_MSG_ERR_INTERVAL,
			     XREPL_MSG_ERR_BURST);

	r = xrepl_parse_args(&xc->args, argc, argv, &ti->error);
	if (r)
		goto bad;
	/*
	 * A ship entry holds the data of one write of at most this; in every
	 * mode, as the mode can change at run time.
	 */
	r = dm_set_target_max_io_len(ti, to_sector(XREPL_SHIP_MAX_BYTES));
	if (r)
		goto bad;

	r = dm_get_device(ti, xc->args.local_path, dm_table_get_mode(ti->table),
			  &xc->local);
	if (r) {
		ti->error = "Error opening local device";
		goto bad;
	}
	if (xc->args.remote_path) {
		r = dm_get_device(ti, xc->args.remote_path,
				  dm_table_get_mode(ti->table), &xc->remote);
		if (r) {
			ti->error = "Error opening remote device";
			goto bad;
		}
	}
	if (xc->args.meta_path) {
		r = dm_get_device(ti, xc->args.meta_path,
				  dm_table_get_mode(ti->table), &xc->meta);
		if (r) {
			ti->error = "Error opening metadata device";
			goto bad;
		}
	}
	if (xc->args.peer_path) {
		r = dm_get_device(ti, xc->args.peer_path,
				  dm_table_get_mode(ti->table), &xc->peer);
		if (r) {
			ti->error = "Error opening remote metadata device";
			goto bad;
		}
	}
	if (xc->args.journal_path) {
		r = dm_get_device(ti, xc->args.journal_path,
				  dm_table_get_mode(ti->table), &xc->journal);
		if (r) {
			ti->error = "Error opening journal device";
			goto bad;
		}
	}
	xc->args.local_path = NULL;
	xc->args.remote_path = NULL;
	xc->args.meta_path = NULL;
	xc->args.peer_path = NULL;
	xc->args.journal_path = NULL;

	r = -EINVAL;
	if (xc->remote && xc->local->bdev->bd_dev == xc->remote->bdev->bd_dev) {
		ti->error = "Local and remote device must differ";
		goto bad;
	}
	if (xc->meta && (xc->meta->bdev->bd_dev == xc->local->bdev->bd_dev ||
			 (xc->remote &&
			  xc->meta->bdev->bd_dev == xc->remote->bdev->bd_dev))) {
		ti->error = "Metadata device must differ from the legs";
		goto bad;
	}
	if (xc->peer && (xc->peer->bdev->bd_dev == xc->local->bdev->bd_dev ||
			 xc->peer->bdev->bd_dev == xc->remote->bdev->bd_dev ||
			 xc->peer->bdev->bd_dev == xc->meta->bdev->bd_dev)) {
		ti->error = "Remote metadata device must differ from the others";
		goto bad;
	}
	if (xc->journal) {
		dev_t j = xc->journal->bdev->bd_dev;

		if (j == xc->local->bdev->bd_dev ||
		    (xc->remote && j == xc->remote->bdev->bd_dev) ||
		    (xc->meta && j == xc->meta->bdev->bd_dev) ||
		    (xc->peer && j == xc->peer->bdev->bd_dev)) {
			ti->error = "Journal device must differ from the others";
			goto bad;
		}
		if (bdev_is_zoned(xc->journal->bdev) ||
		    bdev_logical_block_size(xc->journal->bdev) >
		    XREPL_META_BLOCK_SIZE) {
			ti->error = "Journal device: zoned, or blocks above 4 KiB";
			goto bad;
		}
		if (bdev_nr_sectors(xc->journal->bdev) <
		    (sector_t)XREPL_JNL_MIN_BLOCKS * XREPL_META_BLOCK_SECTORS) {
			ti->error = "Journal device too small";
			goto bad;
		}
	}
	if (ti->len > bdev_nr_sectors(xc->local->bdev)) {
		ti->error = "Device is larger than the local device";
		goto bad;
	}
	if (xc->remote && ti->len > bdev_nr_sectors(xc->remote->bdev)) {
		ti->error = "Device is larger than the remote device";
		goto bad;
	}
	if (bdev_is_zoned(xc->local->bdev) ||
	    (xc->remote && bdev_is_zoned(xc->remote->bdev))) {
		ti->error = "Zoned devices are not supported";
		goto bad;
	}
	if (xc->peer && (bdev_is_zoned(xc->peer->bdev) ||
			 bdev_logical_block_size(xc->peer->bdev) >
			 XREPL_META_BLOCK_SIZE)) {
		ti->error = "Remote metadata device: zoned, or blocks above 4 KiB";
		goto bad;
	}
	/* Metadata is read and written in blocks of 4 KiB, anywhere. */
	if (xc->meta && bdev_is_zoned(xc->meta->bdev)) {
		ti->error = "Zoned metadata device is not supported";
		goto bad;
	}
	if (xc->meta && bdev_logical_block_size(xc->meta->bdev) >
	    XREPL_META_BLOCK_SIZE) {
		ti->error = "Metadata device's logical block size is above 4 KiB";
		goto bad;
	}

	if (xc->meta) {
		r = xrepl_meta_probe(xc, &sb, &fresh, &ti->error);
		if (r)
			goto bad;
	}
	r = xrepl_geom_init(&geom, ti->len, xc->args.region_size, &ti->error);
	if (r)
		goto bad;
	if (xc->meta &&
	    bdev_nr_sectors(xc->meta->bdev) <
	    xrepl_meta_min_sectors(geom.nr_regions)) {
		ti->error = "Metadata device too small";
		r = -EINVAL;
		goto bad;
	}
	r = xrepl_pair_get(xc, &geom, fresh ? NULL : &sb, &ti->error);
	if (r)
		goto bad;
	/* Refused by the remote site's metadata: nothing written to it. */
	r = xrepl_peer_check(xc, &ti->error);
	if (!r && xc->args.mode == XREPL_MODE_PERIODIC &&
	    xrepl_cycle_alloc(xc->pair)) {
		ti->error = "Cannot allocate the periodic mode's bitmap";
		r = -ENOMEM;
	}
	if (r) {
		xrepl_pair_put(xc->pair);
		goto bad;
	}

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
	/* A damaged metadata device is bad input, not an encoding error. */
	return r == -EILSEQ ? -EINVAL : r;
}

static void xrepl_dtr(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;

	cancel_work_sync(&xc->event_work);
	xrepl_pair_put(xc->pair);
	xrepl_put_devices(xc);
	kfree(xc);
}

/*
 * Stop the resync and wait for its copies; deferred writes are reissued.
 * A periodic cycle ends (the writes waiting for its copies go on), and a
 * new one starts on resume.
 */
static void xrepl_presuspend(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;

	spin_lock_irq(&pair->lock);
	pair->resync_stop = true;
	xrepl_cycle_abort_locked(pair, true);
	/*
	 * A mode change waiting for its final cycle applies to this table
	 * now: it takes effect when the table is resumed, and a table that
	 * replaces this one keeps its own mode.
	 */
	if (pair->cycle_exit && pair->active == xc) {
		pair->cycle_exit = false;
		WRITE_ONCE(xc->args.mode, pair->cycle_exit_mode);
	}
	spin_unlock_irq(&pair->lock);

	cancel_delayed_work_sync(&pair->cycle_work);
	cancel_delayed_work_sync(&pair->resync_delay);
	/* A periodic clean waiting for a flush gives up (resync_stop). */
	cancel_delayed_work_sync(&pair->clean_work);
	queue_work(pair->wq, &pair->resync_work);
	wait_event(pair->copies_wait, xrepl_copies_idle(pair));
	/* A copy's work still runs after it freed its slot: let it end. */
	flush_workqueue(pair->copy_wq);
	flush_workqueue(pair->wq);
}

/*
 * A pair that replaces another takes over the old pair's final state; a
 * remote the pair had not is attached.
 */
static int xrepl_preresume(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;
	int r;

	/*
	 * Checked at load too; a hold or a delay sent since, or one the
	 * journal recorded, would have writes overtake the entries held
	 * back.
	 */
	r = xrepl_jnl_check_mode(xc);
	if (r)
		return r;
	xrepl_pair_take_over(xc->pair);
	/*
	 * Before the remote is attached, which starts a resync of the
	 * regions marked: a log replayed rolls them forward instead.  If
	 * that fails, the pair goes on without the journal (an event).
	 */
	xrepl_jnl_start(xc->pair, xc);
	xrepl_pair_attach(xc);
	return 0;
}

static void xrepl_presuspend_undo(struct dm_target *ti)
{
	xrepl_pair_activate(ti->private);
}

static void xrepl_postsuspend(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;
	bool was_active;

	/* Async: nothing acknowledged stays behind; the remote gets it all. */
	wait_event(pair->ship_wait, xrepl_ship_idle(pair));
	/*
	 * Every queue is idle before the table can go: lag_work, ship_work
	 * (it may be due in a jiffy) and the remote submitter, then what
	 * they queued on wq.  dm waited for every write mapped: none waits
	 * for lag room, so nothing queues lag_work again.
	 */
	flush_workqueue(pair->lag_wq);
	flush_delayed_work(&pair->ship_work);
	flush_workqueue(pair->remote_wq);
	flush_workqueue(pair->wq);
	/* The remote has it all: a clean stop leaves no log to replay. */
	xrepl_jnl_quiesce(pair, xc);
	/*
	 * Not active from now on: metadata work (a commit, a retry) that
	 * runs after this raises no event on this table, which may be
	 * destroyed once we return.
	 */
	spin_lock_irq(&pair->lock);
	was_active = pair->active == xc;
	if (was_active)
		pair->active = NULL;
	spin_unlock_irq(&pair->lock);
	if (pair->meta_bdev) {
		/*
		 * No write is in flight: clear every mark that can go, so a
		 * crash while the device is down resyncs only what differs.
		 */
		cancel_delayed_work_sync(&pair->clean_work);
		if (was_active)
			xrepl_meta_clean(pair, xc, true);
		flush_workqueue(pair->meta_wq);
		/*
		 * The remote site's metadata records the stop; its device is
		 * this table's, which may go once we return.
		 */
		spin_lock_irq(&pair->lock);
		if (was_active) {
			/* Held back, the remote lacks what the log keeps. */
			xrepl_jnl_stop_time_locked(pair);
			xrepl_peer_update_locked(pair);
		}
		spin_unlock_irq(&pair->lock);
		flush_workqueue(pair->peer_wq);
		/*
		 * A peer_work queued since (a message to the suspended
		 * device) either finished with the device or sees none.
		 */
		mutex_lock(&pair->peer_io_lock);
		spin_lock_irq(&pair->lock);
		if (!pair->active)
			pair->peer_bdev = NULL;
		spin_unlock_irq(&pair->lock);
		mutex_unlock(&pair->peer_io_lock);
	}
}

static void xrepl_resume(struct dm_target *ti)
{
	struct xrepl_c *xc = ti->private;

	if (xc->args.given & XREPL_OPT_RESYNC_RATE) {
		spin_lock_irq(&xc->pair->lock);
		xc->pair->resync_rate_kbps = xc->args.resync_rate_kbps;
		spin_unlock_irq(&xc->pair->lock);
	}
	/* A reload that gives a delay changes it (the first resume set it). */
	if (xc->args.given & XREPL_OPT_DELAY)
		xrepl_jnl_set_delay(xc, xc->args.delay_ms, true);
	/* What a suspend while held kept goes to this table's remote. */
	xrepl_ship_retarget(xc);
	xrepl_pair_activate(xc);
	/* Tail commits may run again, with the active table's remote. */
	xrepl_jnl_resume(xc->pair);
}

/*
 * A word of a message, fit for the kernel log: only printable characters
 * without spaces, and at most XREPL_MSG_WORD_MAX of them (msg_err()'s
 * format cuts it there).
 */
#define XREPL_MSG_WORD_MAX	32
static const char *msg_word(const char *w)
{
	const char *c;

	for (c = w; *c && c < w + XREPL_MSG_WORD_MAX; c++)
		if (!isgraph(*c))
			return "(unprintable)";
	return w;
}

/* Log a refused message, rate limited per device (msg_rs). */
static __printf(2, 3) void msg_err(struct xrepl_c *xc, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (!__ratelimit(&xc->msg_rs))
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	DMERR("%s: %pV", xrepl_name(xc), &vaf);
	va_end(args);
}

/* "remote down", "remote down probe" (why: PROBE) or "remote up" (NONE). */
static int xrepl_msg_remote(struct xrepl_c *xc, enum xrepl_degraded why)
{
	struct xrepl_pair *pair = xc->pair;
	bool changed = false, degraded, overtaken = false;
	unsigned long down_seq;
	char *error = NULL;
	int r;

	if (!xc->remote) {
		if (why != XREPL_DEGRADED_NONE)
			return 0;
		msg_err(xc, "the table has no remote: load one with a remote to attach it");
		return -EINVAL;
	}
	if (why != XREPL_DEGRADED_NONE) {
		/*
		 * Never waits for a connection in progress (the remote site's
		 * metadata may hang): a "remote up" that overlaps gives up.
		 */
		spin_lock_irq(&pair->lock);
		pair->down_seq++;
		changed = xrepl_degrade_locked(pair, why);
		spin_unlock_irq(&pair->lock);
		goto done;
	}
	mutex_lock(&pair->connect_lock);
	spin_lock_irq(&pair->lock);
	down_seq = pair->down_seq;
	spin_unlock_irq(&pair->lock);
again:
	degraded = READ_ONCE(pair->degraded_by) != XREPL_DEGRADED_NONE;
	if (why == XREPL_DEGRADED_NONE && degraded) {
		/* Compared again: the remote site may have taken over since. */
		r = xc->peer ? xrepl_peer_connect(xc, false, &error) : 0;
		/* Nothing recorded for a remote taken down meanwhile. */
		if (!r && READ_ONCE(pair->down_seq) != down_seq) {
			mutex_unlock(&pair->connect_lock);
			msg_err(xc, "remote up given up: a remote down came meanwhile");
			return -EBUSY;
		}
		if (!r && xrepl_pair_before_back(xc)) {
			error = "cannot write the remote site's metadata";
			r = -EIO;
		}
		if (r) {
			mutex_unlock(&pair->connect_lock);
			msg_err(xc, "remote up refused: %s", error);
			xrepl_raise_event(xc);
			return r == -EINVAL ? -EINVAL : -EIO;
		}
	}
	spin_lock_irq(&pair->lock);
	if (pair->down_seq != down_seq) {
		overtaken = true;
	} else if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		if (!degraded) {
			/* Degraded since we looked: compare and record first. */
			spin_unlock_irq(&pair->lock);
			goto again;
		}
		xrepl_remote_back_locked(pair, false);
		changed = true;
	}
	spin_unlock_irq(&pair->lock);
	mutex_unlock(&pair->connect_lock);
	if (overtaken) {
		msg_err(xc, "remote up given up: a remote down came meanwhile");
		return -EBUSY;
	}
done:
	if (changed) {
		DMINFO("%s: remote %s", xrepl_name(xc),
		       why == XREPL_DEGRADED_NONE ? "up" :
		       why == XREPL_DEGRADED_PROBE ? "down (probe)" : "down");
		xrepl_raise_event(xc);
	}
	/* Async: writes not sent yet become dirty regions now. */
	xrepl_ship_now(pair);
	return 0;
}

static int xrepl_msg_resync(struct xrepl_c *xc, bool full)
{
	struct xrepl_pair *pair = xc->pair;
	bool started;

	spin_lock_irq(&pair->lock);
	if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		spin_unlock_irq(&pair->lock);
		msg_err(xc, "cannot resync while the remote is degraded; send 'remote up' first");
		return -EINVAL;
	}
	if (full && pair->meta_bdev) {
		spin_unlock_irq(&pair->lock);
		if (!xrepl_meta_mark_dirty(pair, NULL)) {
			msg_err(xc, "cannot resync: the metadata device failed (meta_failed=1)");
			return -EIO;
		}
		spin_lock_irq(&pair->lock);
	} else if (full) {
		xrepl_mark_all_dirty_locked(pair);
	}
	/* A degradation meanwhile: the resync starts on "remote up". */
	started = pair->degraded_by == XREPL_DEGRADED_NONE &&
		  xrepl_resync_start_locked(pair);
	spin_unlock_irq(&pair->lock);

	if (started)
		xrepl_raise_event(xc);
	return 0;
}

static int xrepl_msg_set(struct xrepl_c *xc, const char *key, const char *val)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_args tmp;
	unsigned int opt;
	char *error;
	int r;

	/*
	 * Read, change and write back the tunables under the lock, so that
	 * two "set" messages at once do not undo each other.
	 */
	spin_lock_irq(&pair->lock);
	tmp = xc->args;
	opt = xrepl_parse_tunable(&tmp, key, val, &error);
	if (!opt) {
		spin_unlock_irq(&pair->lock);
		msg_err(xc, "invalid 'set %.32s %.32s': %s", msg_word(key),
			msg_word(val), error);
		return -EINVAL;
	}
	if (opt == XREPL_OPT_DELAY) {
		/* The journal's: recorded in its superblock (it sleeps). */
		spin_unlock_irq(&pair->lock);
		r = xrepl_jnl_set_delay(xc, tmp.delay_ms, true);
		/* Refused, or in effect (a failed superblock write aside). */
		if (r != -EINVAL) {
			spin_lock_irq(&pair->lock);
			WRITE_ONCE(xc->args.delay_ms, tmp.delay_ms);
			xc->args.given |= opt;
			spin_unlock_irq(&pair->lock);
		}
		return r;
	}
	if (opt == XREPL_OPT_RESYNC_RATE) {
		/* The rate belongs to the pair: it outlives a reload. */
		pair->resync_rate_kbps = tmp.resync_rate_kbps;
		pair->rate_start_ns = ktime_get_ns();
		pair->rate_bytes = 0;
		if (pair->resync_active)
			queue_work(pair->wq, &pair->resync_work);
	}
	WRITE_ONCE(xc->args.resync_rate_kbps, tmp.resync_rate_kbps);
	WRITE_ONCE(xc->args.semi_timeout_ms, tmp.semi_timeout_ms);
	WRITE_ONCE(xc->args.max_lag_kb, tmp.max_lag_kb);
	WRITE_ONCE(xc->args.congestion, tmp.congestion);
	WRITE_ONCE(xc->args.period_s, tmp.period_s);
	xc->args.given |= opt;
	/* Writes waiting for lag room look at the new bound. */
	if (xrepl_lag_wait_release_locked(pair))
		xrepl_lag_kick(pair);
	/* And those waiting for room in the journal at the new policy. */
	xrepl_jnl_room_locked(pair);
	spin_unlock_irq(&pair->lock);
	/* The next cycle is period_s from now. */
	if (opt == XREPL_OPT_PERIOD && pair->active == xc)
		xrepl_cycle_arm(pair);
	return 0;
}

/* "ship_until <unix-ms>": roll the remote to that point and hold. */
static int xrepl_msg_ship_until(struct xrepl_c *xc, const char *word)
{
	u64 ms;

	if (kstrtou64(word, 10, &ms) || !ms) {
		msg_err(xc, "invalid 'ship_until %.32s': expected a time in ms since the epoch",
			msg_word(word));
		return -EINVAL;
	}
	return xrepl_jnl_ship_until(xc, ms);
}

/* "cycle": a periodic cycle now (after the running one, if one runs). */
static int xrepl_msg_cycle(struct xrepl_c *xc)
{
	struct xrepl_pair *pair = xc->pair;
	const char *why = NULL;

	spin_lock_irq(&pair->lock);
	if (pair->active != xc)
		why = "the device is suspended";
	else if (!pair->periodic)
		why = "the device is not in periodic mode";
	else if (pair->degraded_by != XREPL_DEGRADED_NONE)
		why = "the remote is degraded; send 'remote up' first";
	else if (pair->cycle_exit)
		why = "the final cycle of a mode change runs";
	if (!why) {
		pair->cycle_wanted = true;
		queue_work(pair->wq, &pair->resync_work);
	}
	spin_unlock_irq(&pair->lock);
	if (why) {
		msg_err(xc, "cannot start a cycle: %s", why);
		return -EINVAL;
	}
	return 0;
}

/*
 * Change the replication mode under load.  Going to sync from an
 * asynchronous mode, writes keep going through the ship queue, each
 * acknowledged when on the remote, until everything older is there
 * (status: draining=1), so no write passes an older one.
 */
static int xrepl_msg_mode(struct xrepl_c *xc, const char *word)
{
	struct xrepl_pair *pair = xc->pair;
	bool draining, final = false, active;
	enum xrepl_mode mode, old;

	if (xrepl_parse_mode(word, &mode)) {
		msg_err(xc, "invalid 'mode %.32s': expected sync, semi-sync, async or periodic",
			msg_word(word));
		return -EINVAL;
	}
	if (mode != XREPL_MODE_SYNC &&
	    xc->args.on_remote_error == XREPL_ON_ERROR_FAIL) {
		msg_err(xc, "invalid 'mode %.32s': on_remote_error fail needs sync mode",
			msg_word(word));
		return -EINVAL;
	}
	if (mode == XREPL_MODE_PERIODIC && xc->journal) {
		msg_err(xc, "invalid 'mode periodic': the journal does not go with periodic mode");
		return -EINVAL;
	}
	if (mode == XREPL_MODE_PERIODIC && xrepl_cycle_alloc(pair)) {
		msg_err(xc, "cannot change to periodic mode: out of memory");
		return -ENOMEM;
	}
	spin_lock_irq(&pair->lock);
	if (mode != XREPL_MODE_ASYNC && xrepl_jnl_held_locked(pair)) {
		spin_unlock_irq(&pair->lock);
		msg_err(xc, "cannot change to %s mode: shipping is held ('release' first)",
			xrepl_mode_name(mode));
		return -EINVAL;
	}
	if (mode != XREPL_MODE_ASYNC && xrepl_jnl_held_back_locked(pair)) {
		spin_unlock_irq(&pair->lock);
		msg_err(xc, "cannot change to %s mode: shipping is delayed ('set delay_ms 0' first)",
			xrepl_mode_name(mode));
		return -EINVAL;
	}
	old = xc->args.mode;
	active = pair->active == xc;
	/* Its writes went to the remote outside the ship queue. */
	if (old == XREPL_MODE_SYNC && mode != XREPL_MODE_SYNC)
		xrepl_jnl_sent_now_locked(pair);
	if (active && pair->periodic && mode != XREPL_MODE_PERIODIC &&
	    pair->degraded_by == XREPL_DEGRADED_NONE) {
		/* A final cycle, then the new mode (xrepl-cycle.c). */
		pair->cycle_exit = true;
		pair->cycle_exit_mode = mode;
		pair->cycle_wanted = true;
		queue_work(pair->wq, &pair->resync_work);
		final = true;
	} else {
		/* Back to periodic before the final cycle ended: it stays. */
		if (mode == XREPL_MODE_PERIODIC)
			pair->cycle_exit = false;
		if (mode == XREPL_MODE_SYNC)
			xrepl_drain_start_locked(pair);
		WRITE_ONCE(xc->args.mode, mode);
		if (active)
			xrepl_cycle_set_mode_locked(pair, mode);
	}
	draining = pair->draining;
	spin_unlock_irq(&pair->lock);

	if (final) {
		DMINFO("%s: mode %s -> %s after a final cycle", xrepl_name(xc),
		       xrepl_mode_name(old), xrepl_mode_name(mode));
		return 0;
	}
	if (mode == XREPL_MODE_PERIODIC && active)
		xrepl_cycle_arm(pair);
	if (mode != old) {
		DMINFO("%s: mode %s -> %s%s", xrepl_name(xc),
		       xrepl_mode_name(old), xrepl_mode_name(mode),
		       draining ? ", draining the buffer first" : "");
		xrepl_raise_event(xc);
	}
	return 0;
}

/*
 * Start a verify pass from region start (xrepl-verify.c), or refuse.  Only
 * a remote in sync is verified: a degraded or resyncing one is known to
 * differ.
 */
static int xrepl_msg_verify_start(struct xrepl_c *xc, bool repair,
				  unsigned long start)
{
	struct xrepl_pair *pair = xc->pair;
	struct xrepl_bitmap bad = {};
	struct xrepl_stats sum;
	const char *why = NULL;
	int r = -EINVAL;

	if (!xc->remote) {
		msg_err(xc, "cannot verify: the table has no remote");
		return -EINVAL;
	}
	/* Each pass has a bitmap of its own, clear: none is cleared under lock. */
	if (xrepl_bitmap_alloc(&bad, pair->geom.nr_regions)) {
		msg_err(xc, "cannot verify: out of memory");
		return -ENOMEM;
	}
	spin_lock_irq(&pair->lock);
	if (xrepl_jnl_held_locked(pair)) {
		why = "shipping is held: the remote lacks the writes since";
	} else if (pair->degraded_by != XREPL_DEGRADED_NONE) {
		why = "the remote is degraded";
	} else if (pair->resync_active || pair->dirty.nr_set ||
		   pair->merge_needed || !pair->consistent) {
		why = "the remote is not in sync (a resync runs or is needed)";
	} else if (xrepl_verify_running_locked(pair)) {
		why = "a verify runs, or its repair is being made ('verify stop' ends a pass)";
		r = -EBUSY;
	} else if (repair && pair->meta_failed) {
		why = "cannot repair: the metadata device failed (meta_failed=1)";
		r = -EIO;
	}
	if (!why) {
		/* The old one is not used any more: no repair runs. */
		swap(pair->verify_bad, bad);
		pair->verify_active = true;
		pair->verify_repair = repair;
		pair->verify_repair_done = false;
		pair->verify_seq++;
		pair->verify_start = start;
		pair->verify_pos = start;
		pair->verify_mismatches = 0;
		pair->verify_started_ns = ktime_get_ns();
		pair->verify_rest_until_ns = 0;
		pair->verify_rests = 0;
		/*
		 * The window opens when resync_work notices a write, however
		 * long ago it came: only writes from now on count.
		 */
		xrepl_stats_sum(pair, &sum);
		pair->app_writes_seen = sum.writes;
		pair->app_active_until_ns = 0;
		pair->rate_start_ns = pair->verify_started_ns;
		pair->rate_bytes = 0;
		queue_work(pair->wq, &pair->resync_work);
	}
	spin_unlock_irq(&pair->lock);
	xrepl_bitmap_free(&bad);

	if (why) {
		msg_err(xc, "cannot verify: %s", why);
		return r;
	}
	DMINFO("%s: verify%s from region %lu of %lu", xrepl_name(xc),
	       repair ? " repair" : "", start, pair->geom.nr_regions);
	xrepl_raise_event(xc);
	return 0;
}

/*
 * checkpoint <name>: start a new era of the change tracker; the reply is
 * the checkpoint's number.
 */
static int xrepl_msg_checkpoint(struct xrepl_c *xc, const char *name,
				char *result, unsigned int maxlen)
{
	char buf[XREPL_TRK_NAME_LEN] = { };
	const char *why;
	u64 num;
	int r;

	if (!xc->pair->meta_bdev) {
		msg_err(xc, "cannot checkpoint: the table has no metadata device");
		return -EINVAL;
	}
	if (strscpy(buf, name, sizeof(buf)) < 0 ||
	    !xrepl_trk_name_ok(buf, sizeof(buf))) {
		msg_err(xc, "invalid checkpoint name '%.32s': 1 to %u characters of A-Z a-z 0-9 . _ : + @ -",
			msg_word(name), XREPL_TRK_NAME_LEN - 1);
		return -EINVAL;
	}
	r = xrepl_trk_checkpoint(xc->pair, buf, &num, &why);
	if (r) {
		msg_err(xc, "cannot checkpoint: %s", why);
		return r;
	}
	xrepl_raise_event(xc);
	scnprintf(result, maxlen, "%llu", num);
	return 1;
}

/* verify [repair] [<start_region>] | verify stop */
static int xrepl_msg_verify(struct xrepl_c *xc, unsigned int argc, char **argv)
{
	struct xrepl_pair *pair = xc->pair;
	unsigned long start = 0, pos;
	unsigned int i = 1;
	bool repair = false, stopped;

	if (argc == 2 && !strcasecmp(argv[1], "stop")) {
		spin_lock_irq(&pair->lock);
		stopped = pair->verify_active;
		pair->verify_active = false;
		pos = pair->verify_pos;
		/* What a "verify repair" found so far is marked (resync_work). */
		if (stopped)
			queue_work(pair->wq, &pair->resync_work);
		spin_unlock_irq(&pair->lock);
		if (stopped) {
			DMINFO("%s: verify stopped at region %lu", xrepl_name(xc), pos);
			xrepl_raise_event(xc);
		}
		return 0;
	}
	if (i < argc && !strcasecmp(argv[i], "repair")) {
		repair = true;
		i++;
	}
	if (i < argc) {
		if (kstrtoul(argv[i], 10, &start) ||
		    start >= pair->geom.nr_regions) {
			msg_err(xc, "invalid 'verify %.32s': expected a region number below %lu",
				msg_word(argv[i]), pair->geom.nr_regions);
			return -EINVAL;
		}
		i++;
	}
	if (i != argc) {
		msg_err(xc, "invalid verify message: expected 'verify [repair] [<start_region>]' or 'verify stop'");
		return -EINVAL;
	}
	return xrepl_msg_verify_start(xc, repair, start);
}

/*
 * Messages:
 *   remote down [probe] | remote up | resync | resync full | mode <mode> |
 *   set <resync_rate_kbps|semi_timeout_ms|max_lag_kb|congestion|period_s|
 *   delay_ms> <value> | verify [repair] [<start_region>] | verify stop | cycle |
 *   hold | release | ship_until <unix-ms> | checkpoint <name>
 */
static int xrepl_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct xrepl_c *xc = ti->private;

	if (argc == 2 && !strcasecmp(argv[0], "remote") &&
	    !strcasecmp(argv[1], "down"))
		return xrepl_msg_remote(xc, XREPL_DEGRADED_ADMIN);
	if (argc == 3 && !strcasecmp(argv[0], "remote") &&
	    !strcasecmp(argv[1], "down") && !strcasecmp(argv[2], "probe"))
		return xrepl_msg_remote(xc, XREPL_DEGRADED_PROBE);
	if (argc == 2 && !strcasecmp(argv[0], "remote") &&
	    !strcasecmp(argv[1], "up"))
		return xrepl_msg_remote(xc, XREPL_DEGRADED_NONE);
	if (argc == 1 && !strcasecmp(argv[0], "resync"))
		return xrepl_msg_resync(xc, false);
	if (argc == 2 && !strcasecmp(argv[0], "resync") &&
	    !strcasecmp(argv[1], "full"))
		return xrepl_msg_resync(xc, true);
	if (argc == 3 && !strcasecmp(argv[0], "set"))
		return xrepl_msg_set(xc, argv[1], argv[2]);
	if (argc == 2 && !strcasecmp(argv[0], "mode"))
		return xrepl_msg_mode(xc, argv[1]);
	if (argc == 1 && !strcasecmp(argv[0], "cycle"))
		return xrepl_msg_cycle(xc);
	if (argc >= 1 && argc <= 3 && !strcasecmp(argv[0], "verify"))
		return xrepl_msg_verify(xc, argc, argv);
	if (argc == 1 && !strcasecmp(argv[0], "hold"))
		return xrepl_jnl_hold(xc, true);
	if (argc == 1 && !strcasecmp(argv[0], "release"))
		return xrepl_jnl_hold(xc, false);
	if (argc == 2 && !strcasecmp(argv[0], "ship_until"))
		return xrepl_msg_ship_until(xc, argv[1]);
	if (argc == 2 && !strcasecmp(argv[0], "checkpoint"))
		return xrepl_msg_checkpoint(xc, argv[1], result, maxlen);

	msg_err(xc, "unsupported message '%.32s' with %u argument(s)",
		argc ? msg_word(argv[0]) : "", argc ? argc - 1 : 0);
	return -EINVAL;
}

static void xrepl_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct xrepl_c *xc = ti->private;
	struct xrepl_pair *pair = xc->pair;
	const struct xrepl_args *args = &xc->args;
	unsigned int sz = 0, nr_opts;
	u32 rate_kbps;
	struct xrepl_stats sum;
	u64 elapsed, rate, jused, jsize, point;

	switch (type) {
	case STATUSTYPE_INFO:
		xrepl_stats_sum(pair, &sum);
		spin_lock_irq(&pair->lock);
		DMEMIT("mode=%s remote=%s dirty=%lu/%lu resync=%lu/%lu",
		       xrepl_mode_name(args->mode), xrepl_remote_state_name(pair),
		       pair->dirty.nr_set, pair->dirty.nr_bits,
		       pair->resync_done, pair->resync_total);
		DMEMIT(" remote_errors=%llu local_errors=%llu region_size=%u",
		       pair->remote_errors, pair->local_errors,
		       pair->geom.region_size);
		DMEMIT(" on_remote_error=%s degraded_by=%s resync_active=%d",
		       xrepl_policy_name(args->on_remote_error),
		       xrepl_degraded_name(pair->degraded_by), pair->resync_active);
		DMEMIT(" copied_regions=%llu writes=%llu remote_writes=%llu",
		       pair->copied_regions, sum.writes, sum.remote_writes);
		elapsed = ktime_get_ns() - pair->resync_started_ns;
		rate = pair->resync_active && elapsed ?
		       mul_u64_u64_div_u64(to_bytes(pair->resync_done) <<
					   pair->geom.region_shift, NSEC_PER_SEC,
					   elapsed) >> 10 : 0;
		DMEMIT(" consistent=%s resync_rate=%llu resync_rate_kbps=%u",
		       pair->consistent ? "yes" : "no", rate,
		       pair->resync_rate_kbps);
		if (pair->meta_bdev)
			DMEMIT(" meta=%s meta_writes=%llu marked=%lu meta_failed=%d",
			       xc->meta->name,
			       (u64)atomic64_read(&pair->meta_writes),
			       pair->wi.nr_marked, pair->meta_failed);
		else
			DMEMIT(" meta=- meta_writes=0 marked=0 meta_failed=0");
		elapsed = xrepl_lag_age_ns_locked(pair);
		DMEMIT(" lag_bytes=%llu lag_writes=%lu oldest_lag_ms=%llu",
		       pair->lag.bytes, pair->lag.writes,
		       div_u64(elapsed, NSEC_PER_MSEC));
		DMEMIT(" draining=%d lag_waits=%llu semi_timeouts=%llu",
		       pair->draining, pair->lag_waits, pair->semi_timeouts);
		DMEMIT(" peer=%s peer_meta_writes=%llu",
		       xrepl_peer_state_name(xc->peer ? pair->peer_state :
					     XREPL_PEER_NONE),
		       (u64)atomic64_read(&pair->peer_meta_writes));
		DMEMIT(" local_read_errors=%llu remote_reads=%llu",
		       (u64)atomic64_read(&pair->local_read_errors),
		       (u64)atomic64_read(&pair->remote_reads));
		/* The current or last pass; 0/0 before the first. */
		DMEMIT(" verify=%lu/%lu verify_mismatches=%lu verify_active=%d",
		       pair->verify_pos - pair->verify_start,
		       pair->verify_seq ? pair->geom.nr_regions -
					  pair->verify_start : 0,
		       pair->verify_mismatches,
		       xrepl_verify_running_locked(pair));
		DMEMIT(" verify_rests=%lu", pair->verify_rests);
		/* Periodic mode: the current or last cycle, the point's age. */
		DMEMIT(" cycles=%llu cycling=%d cycle=%lu/%lu point_age_ms=%llu",
		       pair->cycles, pair->cycling, pair->cycle_copied,
		       pair->cycle_frozen,
		       pair->periodic && pair->point_mono_ns ?
		       div_u64(ktime_get_ns() - pair->point_mono_ns,
			       NSEC_PER_MSEC) : 0);
		DMEMIT(" copies_for_writes=%llu written_kb=%llu shipped_kb=%llu",
		       pair->cbw_copies, sum.written_bytes >> 10,
		       (sum.shipped_bytes + pair->copied_bytes) >> 10);
		/* The undo area: its state, slots of the epoch, regions saved. */
		DMEMIT(" undo=%s undo_slots=%lu/%lu undo_saves=%llu undo_overflows=%llu",
		       xrepl_undo_state_locked(pair),
		       pair->undo_epoch || pair->peer_undo_epoch ?
		       pair->undo_next : 0, pair->undo_slots,
		       (u64)atomic64_read(&pair->undo_saves),
		       pair->undo_overflows);
		xrepl_jnl_status_locked(pair, &jused, &jsize, &point);
		DMEMIT(" journal_used_kb=%llu journal_size_kb=%llu ship_point_ms=%llu held=%d",
		       jused, jsize, point, xrepl_jnl_held_locked(pair));
		DMEMIT(" delay_ms=%u ship_until_ms=%llu",
		       pair->jnl ? pair->jnl->delay_ms : 0,
		       pair->jnl && pair->jnl->ship_held ?
		       div_u64(pair->jnl->until_ns, NSEC_PER_MSEC) : 0);
		spin_unlock_irq(&pair->lock);
		break;

	case STATUSTYPE_TABLE:
		rate_kbps = READ_ONCE(pair->resync_rate_kbps);
		nr_opts = 2;
		if (args->given & XREPL_OPT_ON_REMOTE_ERROR)
			nr_opts += 2;
		if (rate_kbps)
			nr_opts += 2;
		if (args->nosync)
			nr_opts++;
		if (args->given & XREPL_OPT_SEMI_TIMEOUT)
			nr_opts += 2;
		if (args->given & XREPL_OPT_MAX_LAG)
			nr_opts += 2;
		if (args->given & XREPL_OPT_CONGESTION)
			nr_opts += 2;
		if (xc->peer)
			nr_opts += 2;
		if (args->given & XREPL_OPT_PERIOD)
			nr_opts += 2;
		if (xc->journal)
			nr_opts += 2;
		if (args->given & XREPL_OPT_DELAY)
			nr_opts += 2;
		DMEMIT("%s %s %s %s %u region_size %u", xc->local->name,
		       xc->remote ? xc->remote->name : "-",
		       xc->meta ? xc->meta->name : "-",
		       xrepl_mode_name(args->mode), nr_opts, args->region_size);
		if (args->given & XREPL_OPT_ON_REMOTE_ERROR)
			DMEMIT(" on_remote_error %s",
			       xrepl_policy_name(args->on_remote_error));
		if (rate_kbps)
			DMEMIT(" resync_rate_kbps %u", rate_kbps);
		if (args->nosync)
			DMEMIT(" nosync");
		if (args->given & XREPL_OPT_SEMI_TIMEOUT)
			DMEMIT(" semi_timeout_ms %u", args->semi_timeout_ms);
		if (args->given & XREPL_OPT_MAX_LAG)
			DMEMIT(" max_lag_kb %u", args->max_lag_kb);
		if (args->given & XREPL_OPT_CONGESTION)
			DMEMIT(" congestion %s",
			       xrepl_congestion_name(args->congestion));
		if (xc->peer)
			DMEMIT(" remote_meta %s", xc->peer->name);
		if (args->given & XREPL_OPT_PERIOD)
			DMEMIT(" period_s %u", args->period_s);
		if (xc->journal)
			DMEMIT(" journal %s", xc->journal->name);
		if (args->given & XREPL_OPT_DELAY)
			DMEMIT(" delay_ms %u", args->delay_ms);
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",local_device=%s,remote_device=%s,meta_device=%s",
		       xc->local->name, xc->remote ? xc->remote->name : "-",
		       xc->meta ? xc->meta->name : "-");
		DMEMIT(",remote_meta_device=%s", xc->peer ? xc->peer->name : "-");
		DMEMIT(",mode=%s,region_size=%u,on_remote_error=%s,nosync=%c",
		       xrepl_mode_name(args->mode), args->region_size,
		       xrepl_policy_name(args->on_remote_error),
		       args->nosync ? 'y' : 'n');
		DMEMIT(",semi_timeout_ms=%u,max_lag_kb=%u,congestion=%s",
		       args->semi_timeout_ms, args->max_lag_kb,
		       xrepl_congestion_name(args->congestion));
		DMEMIT(",period_s=%u,delay_ms=%u;", args->period_s,
		       args->delay_ms);
		break;
	}
}

static int xrepl_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct xrepl_c *xc = ti->private;
	int r;

	r = fn(ti, xc->local, 0, ti->len, data);
	if (!r && xc->remote)
		r = fn(ti, xc->remote, 0, ti->len, data);
	return r;
}

static struct target_type xrepl_target = {
	.name		 = "xrepl",
	.version	 = {1, 10, 0},
	.module		 = THIS_MODULE,
	.ctr		 = xrepl_ctr,
	.dtr		 = xrepl_dtr,
	.map		 = xrepl_map,
	.end_io		 = xrepl_end_io,
	.presuspend	 = xrepl_presuspend,
	.presuspend_undo = xrepl_presuspend_undo,
	.postsuspend	 = xrepl_postsuspend,
	.preresume	 = xrepl_preresume,
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
