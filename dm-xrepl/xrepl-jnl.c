// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the journal device of the asynchronous modes, its I/O
 * (Documentation/dm-xrepl-journal.rst; the format is xrepl-journal.c's).
 *
 * A table that names a journal opens it when it creates its pair: block 0
 * is read and judged, and nothing is written, so that a table refused
 * later changes nothing.  The pair's first resume formats a fresh journal,
 * or raises the incarnation of one in use, before anything is appended.
 */
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "xrepl-core.h"
#include "xrepl-format.h"

#define JNL_BLOCK_SECTORS	XREPL_META_BLOCK_SECTORS

void xrepl_jnl_free(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;

	if (!jnl)
		return;
	if (!IS_ERR_OR_NULL(jnl->io))
		dm_io_client_destroy(jnl->io);
	kfree(jnl->buf);
	kfree(jnl);
	pair->jnl = NULL;
}

/* Read and judge block 0 of the journal of a new pair (pair->sb's uuid). */
static int jnl_read_sb(struct xrepl_pair *pair, struct xrepl_jnl *jnl,
		       char **error)
{
	sector_t dev_sectors = bdev_nr_sectors(jnl->bdev);
	int r;

	r = xrepl_sync_io(jnl->io, jnl->bdev, REQ_OP_READ, 0,
			  JNL_BLOCK_SECTORS, DM_IO_KMEM, jnl->buf);
	if (r) {
		*error = "Journal: I/O error";
		return -EIO;
	}
	if (xrepl_mem_is_zero(jnl->buf, XREPL_META_BLOCK_SIZE)) {
		xrepl_jnl_sb_init(&jnl->info, pair->sb.uuid, dev_sectors);
		jnl->fresh = true;
		return 0;
	}
	r = xrepl_jnl_sb_decode(jnl->buf, dev_sectors, &jnl->info, error);
	if (r)
		return r;
	if (memcmp(jnl->info.uuid, pair->sb.uuid, sizeof(pair->sb.uuid))) {
		*error = "Journal: the journal of another pair";
		return -EINVAL;
	}
	return 0;
}

/*
 * Is there a log to replay?  The entry expected at the tail, judged by its
 * header alone.
 */
static int jnl_log_empty(struct xrepl_jnl *jnl, sector_t dev_sectors,
			 bool *empty, char **error)
{
	const struct xrepl_jnl_info *info = &jnl->info;
	struct xrepl_jnl_entry e;
	char *why;
	int r;

	r = xrepl_sync_io(jnl->io, jnl->bdev, REQ_OP_READ,
			  info->tail_block * JNL_BLOCK_SECTORS,
			  JNL_BLOCK_SECTORS, DM_IO_KMEM, jnl->buf);
	if (r) {
		*error = "Journal: I/O error";
		return -EIO;
	}
	*empty = xrepl_jnl_hdr_judge(jnl->buf, info, info->tail_block,
				     info->tail_seq, info->tail_incarnation,
				     dev_sectors, &e, &why) == XREPL_JNL_END;
	return 0;
}

int xrepl_jnl_open(struct xrepl_pair *pair, struct xrepl_c *xc, char **error)
{
	struct xrepl_jnl *jnl;
	bool empty = true;
	int r;

	jnl = kzalloc(sizeof(*jnl), GFP_KERNEL);
	if (!jnl) {
		*error = "Cannot allocate the journal";
		return -ENOMEM;
	}
	pair->jnl = jnl;
	mutex_init(&jnl->sb_lock);
	jnl->bdev = xc->journal->bdev;
	jnl->buf = kmalloc(XREPL_META_BLOCK_SIZE, GFP_KERNEL);
	jnl->io = dm_io_client_create();
	if (!jnl->buf || IS_ERR(jnl->io)) {
		*error = "Cannot allocate the journal";
		return -ENOMEM;
	}
	r = jnl_read_sb(pair, jnl, error);
	if (!r && !jnl->fresh)
		r = jnl_log_empty(jnl, pair->geom.dev_sectors, &empty, error);
	if (r)
		return r;
	/* The replay of a log after a crash is not built yet. */
	if (!empty) {
		*error = "Journal: holds writes to replay";
		return -EINVAL;
	}
	pair->jnl_dev = jnl->bdev->bd_dev;
	return 0;
}

/*
 * The pair's first resume: a fresh journal is formatted; one in use gets
 * a new incarnation, its tail (the log is empty) in it.  Written with
 * PREFLUSH and FUA before anything is appended.  Process context.
 */
int xrepl_jnl_start(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	struct xrepl_jnl_info *info;
	int r = 0;

	if (!jnl)
		return 0;
	mutex_lock(&jnl->sb_lock);
	if (jnl->started)
		goto out;
	info = &jnl->info;
	if (!jnl->fresh) {
		info->incarnation++;
		info->tail_incarnation = info->incarnation;
	}
	info->generation++;
	info->mtime = ktime_get_real_seconds();
	memset(jnl->buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_jnl_sb_encode(jnl->buf, info);
	r = xrepl_sync_io(jnl->io, jnl->bdev,
			  REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC, 0,
			  JNL_BLOCK_SECTORS, DM_IO_KMEM, jnl->buf);
	if (r) {
		DMERR("%s: journal: superblock write failed (%d)",
		      dm_device_name(pair->md), r);
		goto out;
	}
	jnl->fresh = false;
	jnl->started = true;
out:
	mutex_unlock(&jnl->sb_lock);
	return r;
}
