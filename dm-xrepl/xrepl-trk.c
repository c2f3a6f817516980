// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the change tracker, which regions were written since a
 * checkpoint, kept on the metadata device for backups of the changes
 * (format: xrepl-format.h, "The change tracker of a primary").
 *
 * In memory, the open era is a bitmap of the regions written since the
 * newest checkpoint (pair->trk.cur), and the blocks of it that changed
 * since they were last written to the era's slot.  A write sets its
 * regions when its local write is issued and again when it completed, so
 * that a write in flight across a checkpoint counts in both eras (a
 * backup's point-in-time view, taken after the checkpoint, may or may not
 * hold its data); and a checkpoint first waits for the local writes
 * issued before the one before it, so that no write spans a whole era
 * without counting in it.  Both happen while the write holds the region
 * gate (gate_busy), so the cleaner keeps its marks meanwhile.  Writers
 * go without a lock: cur is read under RCU, bits are set with atomic word
 * updates, and a checkpoint that switches cur waits for a grace period
 * before it reads the old era.
 *
 * No metadata write per data write: the bits of the open era reach its
 * slot when the cleaner is about to clear their marks (xrepl_trk_fold()),
 * with FUA before the mark blocks.  Until then the marks cover them: a
 * load after a crash adds every marked region to the open era.
 *
 * Everything here that writes to the metadata device runs under
 * pair->meta_io_lock, and the superblock's trk_* fields (pair->sb) change
 * only under it (and pair->lock).
 */
#include <linux/math64.h>
#include <linux/rcupdate.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "xrepl-core.h"

#define TRK_WORDS_PER_BLOCK	(XREPL_META_BITS_PER_BLOCK / BITS_PER_LONG)
/* How long a checkpoint waits for the local writes of two eras ago. */
#define XREPL_TRK_DRAIN_JIFFIES	(30 * HZ)

static unsigned long trk_blocks(struct xrepl_pair *pair)
{
	return xrepl_meta_bitmap_blocks(pair->geom.nr_regions);
}

static void trk_free_eras(struct xrepl_trk *trk)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(trk->era); i++) {
		kvfree(trk->era[i].bits);
		bitmap_free(trk->era[i].dirty);
		trk->era[i].bits = NULL;
		trk->era[i].dirty = NULL;
	}
}

/* Both eras' bitmaps, once, for a tracker that starts or is loaded. */
static int trk_alloc(struct xrepl_pair *pair)
{
	struct xrepl_trk *trk = &pair->trk;
	unsigned long blocks = trk_blocks(pair);
	unsigned int i;

	if (trk->era[0].bits)
		return 0;
	for (i = 0; i < ARRAY_SIZE(trk->era); i++) {
		trk->era[i].bits = kvcalloc(blocks * TRK_WORDS_PER_BLOCK,
					    sizeof(long), GFP_KERNEL);
		trk->era[i].dirty = bitmap_zalloc(blocks, GFP_KERNEL);
		if (!trk->era[i].bits || !trk->era[i].dirty) {
			trk_free_eras(trk);
			return -ENOMEM;
		}
	}
	return 0;
}

/* The pair goes: no I/O is left that could read cur. */
void xrepl_trk_free(struct xrepl_pair *pair)
{
	RCU_INIT_POINTER(pair->trk.cur, NULL);
	trk_free_eras(&pair->trk);
}

/*
 * Set regions first..last in era e; a block whose bits changed is dirty.
 * The full barrier of the word update (set_mask_bits() is a cmpxchg)
 * orders it before the block's dirty bit, and xrepl_trk_fold() clears a
 * dirty bit (fully ordered) before it reads the block: a bit set after
 * the fold read its word leaves the block dirty for the next fold.
 */
static void trk_set(struct xrepl_trk_era *e, unsigned long first,
		    unsigned long last)
{
	unsigned long w, mask;

	for (w = BIT_WORD(first); w <= BIT_WORD(last); w++) {
		mask = ~0UL;
		if (w == BIT_WORD(first))
			mask &= BITMAP_FIRST_WORD_MASK(first);
		if (w == BIT_WORD(last))
			mask &= BITMAP_LAST_WORD_MASK(last + 1);
		if ((READ_ONCE(e->bits[w]) & mask) == mask)
			continue;
		set_mask_bits(&e->bits[w], 0, mask);
		set_bit(w / TRK_WORDS_PER_BLOCK, e->dirty);
	}
}

void xrepl_trk_init(struct xrepl_pair *pair)
{
	mutex_init(&pair->trk.lock);
	init_waitqueue_head(&pair->trk.drained);
}

/*
 * The local write of a tracked bio (in the gate, its marks durable) is
 * about to be issued: its regions are written in the open era, which
 * counts it in flight.  Without a tracker it counts in era[1], which the
 * second checkpoint takes over and so waits for: a write issued before
 * the first checkpoint and landing after it counts in era 1.  Any
 * context.
 */
void xrepl_trk_issue(struct xrepl_pair *pair, struct xrepl_io *io)
{
	struct xrepl_trk_era *e;

	rcu_read_lock();
	e = rcu_dereference(pair->trk.cur);
	if (e)
		trk_set(e, io->first, io->last);
	io->trk_era = e ?: &pair->trk.era[1];
	atomic_inc(&io->trk_era->inflight);
	rcu_read_unlock();
}

/*
 * Its local write completed (still in the gate): the data is there, in
 * the era open now.  Any context.
 */
void xrepl_trk_landed(struct xrepl_pair *pair, struct xrepl_io *io)
{
	struct xrepl_trk_era *from = io->trk_era, *e;

	io->trk_era = NULL;
	rcu_read_lock();
	e = rcu_dereference(pair->trk.cur);
	if (e)
		trk_set(e, io->first, io->last);
	rcu_read_unlock();
	/* Fully ordered, and wq_has_sleeper() has a barrier of its own. */
	if (atomic_dec_and_test(&from->inflight) &&
	    wq_has_sleeper(&pair->trk.drained))
		wake_up(&pair->trk.drained);
}

static struct xrepl_trk_era *trk_cur(struct xrepl_pair *pair)
{
	return rcu_dereference_protected(pair->trk.cur,
					 lockdep_is_held(&pair->meta_io_lock) ||
					 lockdep_is_held(&pair->trk.lock));
}

/*
 * Write blocks of e's bitmap to the slot whose header is at hdr: the
 * dirty ones (clearing their dirty bits first), or all (all).  With FUA
 * if fua.  On a failure the block stays dirty.  meta_io_lock held.
 */
static int trk_write_bits(struct xrepl_pair *pair, struct xrepl_trk_era *e,
			  u64 hdr, bool all, bool fua)
{
	unsigned long blocks = trk_blocks(pair), b;
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC | REQ_META | (fua ? REQ_FUA : 0);
	int r;

	for (b = 0; b < blocks; b++) {
		if (!test_and_clear_bit(b, e->dirty) && !all)
			continue;
		xrepl_meta_block_to_disk(pair->meta_buf,
					 e->bits + b * TRK_WORDS_PER_BLOCK);
		r = xrepl_meta_io(pair, opf, hdr + 1 + b, 1, pair->meta_buf);
		if (r) {
			set_bit(b, e->dirty);
			return r;
		}
	}
	return 0;
}

/*
 * Before the cleaner clears marks: write the changed blocks of the open
 * era to its slot, with FUA, so that the regions whose marks go stay
 * known as changed.  Returns false (the marks must stay) if a write
 * failed, or if the metadata device failed before: a superblock rewrite
 * pending may still have to undo a checkpoint that failed (unsure: even
 * a first one, which left no tracker in memory).  meta_io_lock held.
 */
bool xrepl_trk_fold(struct xrepl_pair *pair)
{
	struct xrepl_trk_era *e = trk_cur(pair);
	u64 hdr;

	if (pair->trk.unsure)
		return false;
	if (!e)
		return true;
	spin_lock_irq(&pair->lock);
	hdr = xrepl_trk_slot_block(pair->geom.nr_regions, pair->sb.trk_slots,
				   pair->sb.trk_open);
	if (pair->meta_failed) {
		spin_unlock_irq(&pair->lock);
		return false;
	}
	spin_unlock_irq(&pair->lock);
	if (!trk_write_bits(pair, e, hdr, false, true))
		return true;
	xrepl_meta_failed(pair, "write error in the change tracker");
	return false;
}

/*
 * Fill a new pair's open era from its slot and the marks just loaded
 * (after a crash, a marked region may be missing from the slot), after
 * checking the header of every checkpoint kept.  Process context.
 */
int xrepl_trk_load(struct xrepl_pair *pair, char **error)
{
	const struct xrepl_sb_info *sb = &pair->sb;
	unsigned long blocks = trk_blocks(pair), b, n, i;
	unsigned long nr = pair->geom.nr_regions;
	struct xrepl_trk_info t;
	struct xrepl_trk_era *e;
	u64 era, hdr;
	int r;

	if (!sb->trk_id)
		return 0;
	for (era = sb->trk_oldest; era <= sb->trk_open; era++) {
		hdr = xrepl_trk_slot_block(nr, sb->trk_slots, era);
		r = xrepl_meta_io(pair, REQ_OP_READ | REQ_META, hdr, 1,
				  pair->meta_buf);
		if (r) {
			*error = "Metadata: I/O error";
			return r;
		}
		r = xrepl_trk_hdr_decode(pair->meta_buf, &t, sb->uuid,
					 sb->trk_id, era, error);
		if (r)
			return r;
		if (!xrepl_mem_is_zero(pair->meta_buf + XREPL_META_SB_SIZE,
				       XREPL_META_BLOCK_SIZE - XREPL_META_SB_SIZE)) {
			*error = "Metadata: corrupt change tracker slot";
			return -EILSEQ;
		}
		cond_resched();
	}
	r = trk_alloc(pair);
	if (r) {
		*error = "Cannot allocate the change tracker";
		return r;
	}
	e = &pair->trk.era[0];
	hdr = xrepl_trk_slot_block(nr, sb->trk_slots, sb->trk_open);
	for (b = 0; b < blocks; b += n) {
		n = min_t(unsigned long, XREPL_META_IO_BLOCKS, blocks - b);
		r = xrepl_meta_io(pair, REQ_OP_READ | REQ_META, hdr + 1 + b, n,
				  pair->meta_buf);
		if (r) {
			*error = "Metadata: I/O error";
			return r;
		}
		for (i = 0; i < n; i++)
			xrepl_meta_block_from_disk(e->bits + (b + i) *
						   TRK_WORDS_PER_BLOCK,
						   pair->meta_buf +
						   i * XREPL_META_BLOCK_SIZE);
		cond_resched();
	}
	if (find_next_bit(e->bits, blocks * XREPL_META_BITS_PER_BLOCK, nr) <
	    blocks * XREPL_META_BITS_PER_BLOCK) {
		*error = "Metadata: corrupt change tracker bitmap";
		return -EILSEQ;
	}
	/* Marked regions may have been written in the open era. */
	for (b = 0; b < blocks; b++) {
		unsigned long *bits = e->bits + b * TRK_WORDS_PER_BLOCK;
		const unsigned long *marks = pair->wi.bits +
					     b * TRK_WORDS_PER_BLOCK;

		if (bitmap_subset(marks, bits, XREPL_META_BITS_PER_BLOCK))
			continue;
		bitmap_or(bits, bits, marks, XREPL_META_BITS_PER_BLOCK);
		__set_bit(b, e->dirty);
	}
	rcu_assign_pointer(pair->trk.cur, e);
	return 0;
}

/*
 * A pair that replaces another (another metadata device) starts without
 * a tracker, whatever its device held: the writes went to the old pair
 * meanwhile.  The next backup of it is a full one; say so if there were
 * checkpoints (dropped: the old pair had some).  Process context, before
 * the pair's first write.
 */
void xrepl_trk_reset(struct xrepl_pair *pair, bool dropped)
{
	spin_lock_irq(&pair->lock);
	xrepl_sb_trk_clear(&pair->sb);
	spin_unlock_irq(&pair->lock);
	if (dropped)
		DMWARN("%s: new metadata device: checkpoints dropped; the next backup is full",
		       dm_device_name(pair->md));
	RCU_INIT_POINTER(pair->trk.cur, NULL);
	synchronize_rcu();
	trk_free_eras(&pair->trk);
}

/*
 * A failed checkpoint: the writes of the new era go back to the open
 * one.  old is no longer written (a grace period passed since cur left
 * it): its bits join the new era's, which stays cur.  meta_io_lock held.
 */
static void trk_undo(struct xrepl_pair *pair, struct xrepl_trk_era *old,
		     struct xrepl_trk_era *new)
{
	unsigned long blocks = trk_blocks(pair), w;

	if (!old) {
		/* The first checkpoint: no tracker after all. */
		RCU_INIT_POINTER(pair->trk.cur, NULL);
		synchronize_rcu();
		return;
	}
	for (w = 0; w < blocks * TRK_WORDS_PER_BLOCK; w++) {
		if (!(old->bits[w] & ~READ_ONCE(new->bits[w])))
			continue;
		set_mask_bits(&new->bits[w], 0, old->bits[w]);
	}
	/* The open slot on disk may hold only part of them: all dirty. */
	bitmap_fill(new->dirty, blocks);
}

/*
 * The "checkpoint <name>" message: close the open era and start a new
 * one, numbered *num.  In this order, each step durable before the next
 * one counts: the writes switch to a new in-memory era (after a grace
 * period, none sets a bit of the old one); the old era's bitmap goes
 * whole to its slot; the new era's header and bitmap go to the spare
 * slot (that of an era no longer kept); then the superblock, with a
 * flush, names the new era open: the commit point.  A crash before it
 * leaves the open era as it was, its slot a superset.  Process context;
 * returns 0 or an error with *why set.
 */
int xrepl_trk_checkpoint(struct xrepl_pair *pair, const char *name, u64 *num,
			 const char **why)
{
	unsigned long nr = pair->geom.nr_regions;
	struct bio_list go = BIO_EMPTY_LIST;
	struct xrepl_trk_era *old, *new;
	struct xrepl_sb_info was;
	struct xrepl_trk_info t;
	u64 trk_id, era, oldest;
	u32 slots;
	long left;
	int r;

	if (mutex_lock_interruptible(&pair->trk.lock)) {
		*why = "interrupted";
		return -EINTR;
	}
	/*
	 * The era that opens reuses the bitmaps of the one before the open
	 * one: its local writes must have completed, noted in the open era
	 * (else a write issued then and completing after this checkpoint
	 * would count in no era in between).
	 */
	old = trk_cur(pair);
	new = old == &pair->trk.era[0] ? &pair->trk.era[1] : &pair->trk.era[0];
	left = wait_event_interruptible_timeout(pair->trk.drained,
						!atomic_read(&new->inflight),
						XREPL_TRK_DRAIN_JIFFIES);
	if (left <= 0) {
		*why = left ? "interrupted" :
		       "local writes of the era before did not complete";
		mutex_unlock(&pair->trk.lock);
		return left ? -EINTR : -ETIMEDOUT;
	}
	mutex_lock(&pair->meta_io_lock);
	spin_lock_irq(&pair->lock);
	was = pair->sb;
	r = pair->meta_failed ? -EIO : 0;
	spin_unlock_irq(&pair->lock);
	if (r) {
		*why = "the metadata device failed: crash safety is lost until it works again";
		goto out;
	}
	trk_id = was.trk_id;
	slots = was.trk_slots;
	if (!trk_id) {
		slots = xrepl_trk_fit(nr, bdev_nr_sectors(pair->meta_bdev));
		if (slots < XREPL_TRK_MIN_SLOTS) {
			*why = "the metadata device has no room for a change tracker";
			r = -ENOSPC;
			goto out;
		}
		r = trk_alloc(pair);
		if (r) {
			*why = "cannot allocate the change tracker";
			goto out;
		}
		trk_id = get_random_u64() ?: 1;
	}
	if (was.trk_open >= XREPL_TRK_MAX_ERA) {
		*why = "the checkpoint numbers are used up";
		r = -EOVERFLOW;
		goto out;
	}
	era = was.trk_open + 1;
	/* The last slots - 1 eras, or fewer if the superblock kept fewer. */
	oldest = max3(was.trk_oldest, 1ULL,
		      era + 2 > slots ? era + 2 - slots : 1ULL);

	/* From now on, writes count in the new era. */
	bitmap_zero(new->bits, trk_blocks(pair) * XREPL_META_BITS_PER_BLOCK);
	bitmap_zero(new->dirty, trk_blocks(pair));
	rcu_assign_pointer(pair->trk.cur, new);
	synchronize_rcu();

	*why = "cannot write the change tracker";
	/* The old era, whole, to its slot. */
	if (old) {
		r = trk_write_bits(pair, old, xrepl_trk_slot_block(nr, slots,
								   was.trk_open),
				   true, false);
		if (r)
			goto undo;
	}
	/* The new era's slot: its header, and its bits so far. */
	memset(&t, 0, sizeof(t));
	t.trk_id = trk_id;
	t.era = era;
	t.time_ms = div_u64(ktime_get_real_ns(), NSEC_PER_MSEC);
	memcpy(t.uuid, was.uuid, sizeof(t.uuid));
	strscpy(t.name, name, sizeof(t.name));
	memset(pair->meta_buf, 0, XREPL_META_BLOCK_SIZE);
	xrepl_trk_hdr_encode(pair->meta_buf, &t);
	r = xrepl_meta_io(pair, REQ_OP_WRITE | REQ_SYNC | REQ_META,
			  xrepl_trk_slot_block(nr, slots, era), 1,
			  pair->meta_buf);
	if (!r)
		r = trk_write_bits(pair, new, xrepl_trk_slot_block(nr, slots, era),
				   true, false);
	if (r)
		goto undo;

	/* The commit point (a flush first: every slot write above). */
	spin_lock_irq(&pair->lock);
	pair->sb.trk_id = trk_id;
	pair->sb.trk_open = era;
	pair->sb.trk_oldest = oldest;
	pair->sb.trk_slots = slots;
	pair->sb_dirty = true;
	spin_unlock_irq(&pair->lock);
	if (!xrepl_meta_commit(pair, &go)) {
		/*
		 * The retry (armed by the commit) rewrites the superblock as
		 * it was; until then it may name the new era.
		 */
		pair->trk.unsure = true;
		spin_lock_irq(&pair->lock);
		pair->sb.trk_id = was.trk_id;
		pair->sb.trk_open = was.trk_open;
		pair->sb.trk_oldest = was.trk_oldest;
		pair->sb.trk_slots = was.trk_slots;
		pair->sb_dirty = true;
		spin_unlock_irq(&pair->lock);
		r = -EIO;
		trk_undo(pair, old, new);
		goto out;
	}
	*num = era;
	mutex_unlock(&pair->meta_io_lock);
	mutex_unlock(&pair->trk.lock);
	xrepl_meta_go(&go);
	DMINFO("%s: checkpoint %llu (%s); changes kept since checkpoint %llu",
	       dm_device_name(pair->md), era, name, oldest);
	return 0;

undo:
	xrepl_meta_failed(pair, *why);
	trk_undo(pair, old, new);
out:
	mutex_unlock(&pair->meta_io_lock);
	mutex_unlock(&pair->trk.lock);
	xrepl_meta_go(&go);
	return r;
}
