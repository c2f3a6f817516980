// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the undo area of periodic mode, on the remote site's metadata
 * device (xrepl-format.h, "The undo area").
 *
 * A cycle overwrites the remote's point in time region by region.  When
 * the remote site's metadata records that point and has room, the cycle
 * runs under an undo epoch: before a copy first overwrites a region, the
 * region's content at the remote is saved in a slot of the epoch, durably.
 * The remote site's superblock names the epoch while the cycle runs (a
 * COPYING record with undo_epoch and the point's data time), so that a
 * promote there can write the slots back and return the copy to its
 * point.  The cycle's POINT record ends the epoch: its slots are free.
 *
 * The epoch is chosen when a cycle is about to be recorded (resync
 * prepare), only while the remote site's superblock says the point that
 * the cycle starts from, and only when every region the cycle may copy
 * has a free slot; otherwise the cycle runs without undo, and says so
 * (undo_overflows, a warning, a dm event).  A cycle that ends early keeps
 * its epoch: the next one goes on saving into it, each region once.
 *
 * Everything here but the I/O of xrepl_undo_save() runs under pair->lock.
 */
#include <linux/crc32.h>
#include <linux/random.h>

#include "xrepl-core.h"

/*
 * May the cycle about to freeze the dirty regions save each of them?  If
 * not, its epoch ends: the cycle runs without undo, once the remote
 * site's superblock says so (xrepl_peer_ready_locked() waits for that),
 * and undo_warn has resync_prepare() report it.  Returns whether the
 * epoch ended.  (A region saved already in this epoch needs no slot: the
 * dirty count is a bound.)
 */
bool xrepl_undo_overflow_locked(struct xrepl_pair *pair)
{
	if (!pair->undo_epoch ||
	    pair->undo_next + pair->dirty.nr_set <= pair->undo_slots)
		return false;
	pair->undo_epoch = 0;
	pair->undo_overflows++;
	pair->undo_warn = true;
	xrepl_peer_update_locked(pair);
	return true;
}

/*
 * A cycle is about to be recorded: choose its undo epoch, or none.  A new
 * epoch needs the point it returns to recorded at the remote site.  Called
 * while no copy is in flight; the freeze checks the slots again, as the
 * dirty regions may grow until then.
 */
void xrepl_undo_plan_locked(struct xrepl_pair *pair)
{
	if (!pair->dirty.nr_set || !pair->undo_slots || !pair->undo_saved.bits)
		return;
	if (!pair->undo_epoch && pair->peer_rec == XREPL_PEER_REC_POINT &&
	    pair->peer_point_ns == pair->point_mono_ns) {
		pair->undo_epoch = get_random_u64() ?: 1;
		pair->undo_time = pair->point_real_s;
		pair->undo_next = 0;
		bitmap_zero(pair->undo_saved.bits, pair->undo_saved.nr_bits);
		pair->undo_saved.nr_set = 0;
	}
	xrepl_undo_overflow_locked(pair);
}

/*
 * The copy of a region is about to overwrite it at the remote: the slot
 * to save it in first, or -1 if it needs none (no epoch for this copy, or
 * the region is saved already), or -ENOSPC.  The copy's epoch was taken
 * when it was claimed: a copy claimed under an epoch saves into it even if
 * the epoch ended since, as the remote site's superblock may still name
 * it.
 */
long xrepl_undo_slot_locked(struct xrepl_pair *pair, struct xrepl_copy *copy)
{
	if (!copy->undo_epoch || xrepl_bitmap_test(&pair->undo_saved,
						   copy->region))
		return -1;
	if (pair->undo_next >= pair->undo_slots)
		return -ENOSPC;
	xrepl_bitmap_set_range(&pair->undo_saved, copy->region, copy->region);
	return pair->undo_next++;
}

/*
 * The save of the copy's region failed (err from xrepl_undo_save(), or
 * -ENOSPC): the region is not saved, and the copy does not overwrite it.
 * Returns true if the remote site's metadata device failed: the caller
 * fails the copy, which degrades the remote.  Otherwise the region could
 * not be read at the remote, or had no slot: the epoch ends, as when it
 * does not fit, and the copy is made again (without undo) once the remote
 * site's superblock says so.
 */
bool xrepl_undo_failed_locked(struct xrepl_pair *pair, struct xrepl_copy *copy,
			      int err)
{
	xrepl_bitmap_clear(&pair->undo_saved, copy->region);
	if (err == -EIO)
		return true;
	if (pair->undo_epoch && pair->undo_epoch == copy->undo_epoch) {
		pair->undo_epoch = 0;
		pair->undo_overflows++;
		xrepl_peer_update_locked(pair);
	}
	/* The pass goes round again for it. */
	pair->pass_marked = true;
	return false;
}

/*
 * Save the remote's content of the copy's region into slot of the copy's
 * epoch on the remote site's metadata device: the data, then the header
 * with a flush and FUA.  The region's gate bucket is frozen, and nothing
 * has overwritten the region in this epoch.  Returns 0, -ENODATA (the
 * region cannot be read at the remote) or -EIO (the remote site's
 * metadata device failed).  The copy's work.  Like the copy's own I/O, it
 * waits as long as the remote site's devices take: a hung remote_meta
 * holds up the copy, and the writes that wait for it, until it fails.
 */
int xrepl_undo_save(struct xrepl_copy *copy, unsigned long slot)
{
	struct xrepl_pair *pair = copy->pair;
	struct xrepl_c *xc = copy->xc;
	const struct xrepl_geom *geom = &pair->geom;
	struct block_device *meta = xc->peer->bdev;
	sector_t sector = xrepl_region_to_sector(geom, copy->region);
	sector_t len = xrepl_region_len(geom, copy->region);
	sector_t base = (xrepl_undo_start(geom->nr_regions) +
			 (sector_t)slot * xrepl_undo_stride(geom->region_size)) *
			XREPL_META_BLOCK_SECTORS;
	struct xrepl_undo_hdr *hdr = copy->buf;
	sector_t done = 0;
	u32 crc = XREPL_META_CSUM_SEED;

	while (done < len) {
		sector_t count = min_t(sector_t, len - done,
				       to_sector(pair->copy_bytes));

		if (xrepl_sync_io(pair->copy_io, xc->remote->bdev, REQ_OP_READ,
				  sector + done, count, DM_IO_VMA, copy->buf))
			return -ENODATA;
		if (xrepl_sync_io(pair->copy_io, meta, REQ_OP_WRITE,
				  base + XREPL_META_BLOCK_SECTORS + done, count,
				  DM_IO_VMA, copy->buf))
			return -EIO;
		crc = __crc32c_le(crc, copy->buf, to_bytes(count));
		done += count;
	}
	memset(hdr, 0, XREPL_META_BLOCK_SIZE);
	memcpy(hdr->magic, XREPL_UNDO_MAGIC, XREPL_META_MAGIC_LEN);
	hdr->data_csum = cpu_to_le32(crc);
	hdr->epoch = cpu_to_le64(copy->undo_epoch);
	hdr->slot = cpu_to_le64(slot);
	hdr->region = cpu_to_le64(copy->region);
	hdr->sectors = cpu_to_le32(len);
	memcpy(hdr->uuid, pair->sb.uuid, sizeof(hdr->uuid));
	hdr->csum = cpu_to_le32(xrepl_sb_csum(hdr));
	/* The data is durable before a valid header names it. */
	if (xrepl_sync_io(pair->copy_io, meta, REQ_OP_WRITE | REQ_SYNC |
			  REQ_META | REQ_PREFLUSH | REQ_FUA, base,
			  XREPL_META_BLOCK_SECTORS, DM_IO_VMA, hdr))
		return -EIO;
	atomic64_inc(&pair->undo_saves);
	return 0;
}

/*
 * The remote site's metadata device of the active table is now bdev
 * (NULL: none), whose superblock names epoch.  The undo goes on only if it
 * is the epoch this pair was saving into: a pair created since (a reboot
 * of the source) does not know which regions that epoch saved, and its
 * cycle goes on without undo.  lock held.
 */
void xrepl_undo_connect_locked(struct xrepl_pair *pair,
			       struct block_device *bdev, u64 epoch)
{
	WRITE_ONCE(pair->peer_undo_epoch, epoch);
	pair->undo_slots = bdev ? xrepl_undo_slots(pair->geom.nr_regions,
						   pair->geom.region_size,
						   bdev_nr_sectors(bdev)) : 0;
	if (!bdev || !epoch || epoch != pair->undo_epoch)
		pair->undo_epoch = 0;
}

/*
 * For the status: "none" (no undo area), "guarding" (the remote site's
 * superblock names an epoch: a promote there returns to the point),
 * "off" (a cycle overwrites the remote without undo) or "idle".
 */
const char *xrepl_undo_state_locked(struct xrepl_pair *pair)
{
	if (!pair->undo_slots)
		return "none";
	if (pair->peer_undo_epoch)
		return "guarding";
	if (pair->periodic && pair->peer_rec == XREPL_PEER_REC_COPYING)
		return "off";
	return "idle";
}
