/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl: the target's private declarations, shared by its units.
 *
 * Reads are served by the local leg.  In sync mode every write is cloned to
 * both legs in parallel and completes when both clones completed; in the
 * asynchronous modes the remote follows in write order.  While the remote
 * is degraded (it failed, or the administrator took it down) writes go to
 * the local leg only and the regions they touch are recorded in a
 * dirty-region bitmap; a resync later copies exactly those regions from
 * the local to the remote leg, while the device stays in use.
 *
 * Resync and application writes never race at the remote: a region is
 * copied only after every write to it that was in flight has completed,
 * and writes that arrive while it is being copied are held back until the
 * copy has finished.  So an older resync copy can never overwrite a newer
 * application write, and a region's bit is cleared only when its copy
 * reached the remote with no newer write outstanding.  Writes find out
 * whether a copy holds their region through a lock-free gate, so the write
 * path of a healthy pair takes no lock.
 *
 * The units, each calling only those below it (a lower unit reaches an
 * upper one only by queueing its work):
 *
 *   dm-xrepl-target.c  module, target_type, ctr/dtr, suspend/resume,
 *                      messages, status
 *   xrepl-pair.c       pairs: find, create, load, take over, destroy
 *   xrepl-peer.c       the remote site's metadata: compare on connect,
 *                      its superblock at each transition
 *   xrepl-verify.c     the online verify: compare, count, repair
 *   xrepl-resync.c     copy slots, pacing, the pass, its final flush
 *   xrepl-meta-io.c    the metadata device: probe, load, commit, clean
 *   xrepl-io.c         map, admission, both legs, end_io, redispatch
 *   xrepl-async.c      ship entries, the lag, ship_work, semi-sync acks
 *   xrepl-cycle.c      periodic mode: the cycle's start, end and point in
 *                      time, copy-before-write
 *   xrepl-undo.c       periodic mode: the undo area at the remote site
 *   xrepl-state.c      every transition of the remote's state; events
 *   xrepl-gate.c       the region gate and all of its barriers
 *
 * and the pure helpers, which know nothing of device-mapper and are unit
 * tested on their own (dm-xrepl.h): the table line (xrepl-args.c), the
 * bitmap (xrepl-bitmap.c), the metadata format and write intent
 * (xrepl-meta.c, xrepl-format.h) and the ship queue (xrepl-ship.c).
 *
 * Functions named *_locked need pair->lock held.
 */
#ifndef XREPL_CORE_H
#define XREPL_CORE_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/hrtimer.h>
#include <linux/llist.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/ratelimit.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-xrepl.h"
#include "xrepl-format.h"

#define DM_MSG_PREFIX "xrepl"

/* Regions a resync copies at once (each by one worker of copy_wq). */
#define XREPL_MAX_COPIES	16
/* Buffer of one copy: a region is copied in pieces of at most this. */
#define XREPL_COPY_BYTES	(512U << 10)
/* Remote clones kept in reserve so writes progress under memory pressure. */
#define XREPL_BIOSET_SIZE	256

/*
 * Asynchronous modes: writes are split to at most this, the data one ship
 * entry holds; up to XREPL_SHIP_INFLIGHT entries are in flight to the
 * remote, and at most max_lag_kb is held for the remote (the lag bound;
 * with a journal, held in memory: the log holds the rest).
 * Entries and pages are kept in reserve so that a write always progresses.
 */
#define XREPL_SHIP_MAX_BYTES	(256U << 10)
#define XREPL_SHIP_MAX_PAGES	(XREPL_SHIP_MAX_BYTES >> PAGE_SHIFT)
#define XREPL_SHIP_INFLIGHT	32U
#define XREPL_SHIP_RESERVE	16
/* Pages of freed ship entries kept for reuse (1 MiB). */
#define XREPL_PAGE_CACHE	256
/* A failed metadata write is retried after this, doubling up to the max. */
#define XREPL_META_RETRY_MIN	HZ
#define XREPL_META_RETRY_MAX	(30 * HZ)
/* Bitmap blocks one metadata write round copies (16 KiB buffer). */
#define XREPL_META_IO_BLOCKS	4U
/*
 * A region's mark is cleared after it was idle for one cleaning interval
 * (and up to two): the module parameter clean_interval_ms, within these.
 */
#define XREPL_CLEAN_INTERVAL_MS		5000U
#define XREPL_CLEAN_INTERVAL_MIN_MS	100U
#define XREPL_CLEAN_INTERVAL_MAX_MS	60000U
/* Bitmap regions the cleaner handles per lock hold. */
#define XREPL_CLEAN_CHUNK	XREPL_META_BITS_PER_BLOCK
/* Application writes within this window make the resync back off. */
#define XREPL_APP_ACTIVE_NS	(100 * NSEC_PER_MSEC)
/* Buckets of the region gate (a power of two); region r is in r % this. */
#define XREPL_GATE_BUCKETS	1024U

/*
 * The remote's state: pair->degraded_by.  It is written only by the
 * functions of xrepl-state.c, under pair->lock; the write path reads it
 * with READ_ONCE() and takes the lock before it acts on a degraded state.
 *
 *   from        event                           to          xrepl_*_locked()
 *   NONE        a remote write, copy or flush   ERROR       remote_failed
 *               failed
 *   NONE        lag bound hit, congestion       CONGESTION  degrade
 *               degrade
 *   any         "remote down"                   ADMIN       degrade
 *   NONE, CONG. "remote down probe"             PROBE       degrade
 *   any         a table without a remote        ABSENT      degrade
 *               is resumed
 *   CONGESTION  a failure                       ERROR       remote_failed
 *   not NONE,   "remote up"                     NONE        remote_back
 *   not ABSENT
 *   ABSENT      a table with a remote resumed   NONE        remote_back
 *   CONGESTION  nothing held for the remote     NONE        remote_back
 *   (inactive)  metadata loaded, or the pair    any         state_take_over
 *               it replaces taken over
 *
 * Leaving NONE bumps degrade_gen (copies and flushes issued before it no
 * longer count), ends the resync, lets the writes waiting for lag room go
 * to the local leg, and with a metadata device starts a new data
 * generation and records the degradation.  Coming back to NONE starts a
 * resync if one is needed, and always at the end of a congestion (the
 * writes dropped meanwhile).  Only the
 * administrator's "remote down" is kept across a restart; the other
 * reasons are recorded as "error".  Each change raises a dm event: the
 * caller raises it after dropping the lock (xrepl_report_degraded(),
 * xrepl_raise_event()).  In periodic mode a healthy remote (NONE)
 * receives no writes, only the copies of a cycle (xrepl-cycle.c).
 */
enum xrepl_degraded {
	XREPL_DEGRADED_NONE,	/* remote receives writes */
	XREPL_DEGRADED_ERROR,	/* a remote I/O failed */
	XREPL_DEGRADED_ADMIN,	/* "remote down" message */
	XREPL_DEGRADED_CONGESTION,	/* lag bound hit, congestion degrade */
	XREPL_DEGRADED_PROBE,	/* "remote down probe": a monitor's probe failed */
	XREPL_DEGRADED_ABSENT,	/* the table has no remote ("-") */
	/* The journal failed while it alone held entries for the remote. */
	XREPL_DEGRADED_JOURNAL,
};

/*
 * Degraded for a reason that passes by itself (congestion, journal): the
 * ship worker brings the remote back, with a resync, once nothing is held
 * for it.
 */
static inline bool xrepl_degraded_returns(enum xrepl_degraded why)
{
	return why == XREPL_DEGRADED_CONGESTION ||
	       why == XREPL_DEGRADED_JOURNAL;
}

/*
 * The remote site's metadata (remote_meta), as status shows it:
 * pair->peer_state.  Set by xrepl-peer.c under pair->lock.
 */
enum xrepl_peer_state {
	XREPL_PEER_NONE,	/* no remote_meta */
	XREPL_PEER_OK,		/* compared and accepted, writes succeed */
	XREPL_PEER_UNKNOWN,	/* not readable (or writable) now */
	XREPL_PEER_PROMOTED,	/* refused: the remote site is a primary */
	XREPL_PEER_SPLIT_BRAIN,	/* refused: both sides changed */
	XREPL_PEER_UNRELATED,	/* refused: no common generation */
};

/* What the remote site's superblock says since our last write of it. */
enum xrepl_peer_rec {
	XREPL_PEER_REC_NONE,	/* not written since the connection */
	XREPL_PEER_REC_COPYING,	/* not consistent: a resync copies to it */
	XREPL_PEER_REC_LIVE,	/* consistent, receiving every write */
	XREPL_PEER_REC_STOPPED,	/* consistent, as of its data time */
	XREPL_PEER_REC_POINT,	/* consistent, as of a periodic cycle's start */
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
	bool verify;			/* compares the legs (xrepl-verify.c) */
	u64 undo_epoch;			/* pair->undo_epoch when claimed */
	unsigned long verify_seq;	/* pair->verify_seq when claimed */
	struct work_struct work;	/* reads, then writes, the region */
	/*
	 * copy_bytes of vmalloc memory.  Slot 0's lives as long as the pair
	 * (so a resync always progresses); the others are allocated by the
	 * resync worker when a resync starts and freed when it ends.  Set
	 * and cleared under pair->lock, only while the slot is not busy.
	 */
	void *buf;
};

/*
 * A write on its way to the remote in an asynchronous mode: the data,
 * copied from the bio before the local write was issued, and where it goes.
 * Joins the ship queue when the local write completed; freed when the
 * remote write completed (or was given up).  A tracked entry keeps its
 * regions in the gate until then, so the resync and the cleaner leave them
 * alone.
 *
 * In semi-sync mode (and while a switch to sync drains the queue) the
 * write that made the entry is acknowledged only when the entry reached
 * the remote or its deadline passed: until then it is upper, and the entry
 * is on pair->ack_wait.
 */
struct xrepl_shipent {
	struct xrepl_ship s;		/* ordering, under pair->lock */
	struct list_head ack_list;	/* on pair->ack_wait, under pair->lock */
	struct bio *upper;		/* write waiting for this entry, or NULL */
	u64 deadline_ns;		/* acknowledge it then; U64_MAX: never */
	/*
	 * Issued early: sent to the remote with the local write (see
	 * xrepl_ship_early_locked()); the later of its two completions frees it.
	 * Under pair->lock.
	 */
	bool early;
	bool local_done;
	bool remote_done;
	struct xrepl_c *xc;		/* target whose remote it goes to */
	/*
	 * Journaled (jseq != 0, xrepl-jnl.c), under pair->lock: the entry
	 * is on jnl->appending until its append and every earlier one
	 * completed (appended), then joins the ship queue; it is on
	 * jnl->log until the remote has it.  jbio is its write while that
	 * waits for its local write (local_status) and for appended.
	 * With a journal, any entry (journaled or not) is on jnl->flight
	 * until its local write completed and it joined the ship queue (or
	 * was given up on): unjournaled, at its local completion; journaled,
	 * once appended.  Its write (jpbio) waits on jnl->parked while it
	 * overlaps one there.
	 */
	struct list_head jappend;
	struct list_head jlog;
	struct list_head jflight;
	struct list_head jpark;
	struct bio *jpbio;
	bool jroom;			/* parked for room in the log */
	u64 jroom_gen;			/* jnl->room_gen when it parked */
	u64 jseq;
	u64 jinc;			/* the incarnation it was written in */
	u64 jblock;			/* where its header is */
	u64 jtime_ns;			/* its time (wall clock): made, or logged */
	struct bio *jbio;
	struct page *jhdr;		/* the header block of its append */
	blk_status_t local_status;
	bool append_done;
	bool appended;
	/*
	 * jdropped: its pages were freed as it joined the ship queue (the
	 * entries kept used half of max_lag_kb, jnl_join_locked(), under
	 * pair->lock); ship_work reads its data back from the log before it
	 * sends it (jread, pages[]: pages of jnl->rb_pages, set by
	 * ship_work alone, before the remote write is issued).  The end that
	 * frees the entry frees those pages.  jcsum is its data's checksum,
	 * as in its header, set before it is appended.
	 */
	bool jdropped;
	bool jkept;			/* queued with pages: kept, read back */
	bool jread;
	/*
	 * Read from the log at load by a replay (xrepl_jnl_replay_feed()),
	 * with jdropped and jread: in no gate and not in the lag (the
	 * replay as a whole is), its regions first and last if it has
	 * sectors.
	 */
	bool jreplay;
	u32 jcsum;
	unsigned long first;		/* regions, if tracked */
	unsigned long last;
	bool tracked;
	bool settled;			/* journaled: out of gate_busy */
	blk_opf_t opf;			/* operation and flags at the remote */
	unsigned int nr_pages;
	struct page *pages[XREPL_SHIP_MAX_PAGES];
};

/* Per-CPU counters of the write path. */
struct xrepl_stats {
	u64 writes;
	u64 remote_writes;
	u64 written_bytes;		/* data of the application's writes */
	u64 shipped_bytes;		/* data sent to the remote by writes */
};

/*
 * The change tracker (xrepl-trk.c): the regions written in the open era
 * (since the newest checkpoint), in one of two bitmaps that alternate at
 * each checkpoint.  cur is NULL without a tracker; writers read it under
 * RCU and set bits with atomic word updates; it changes, and the eras'
 * bitmaps are read to be written, under meta_io_lock.
 */
struct xrepl_trk_era {
	unsigned long *bits;		/* regions written, whole blocks */
	unsigned long *dirty;		/* blocks of bits not yet in the slot */
	/* Local writes issued while this era was cur, not yet completed. */
	atomic_t inflight;
};

struct xrepl_trk {
	struct xrepl_trk_era era[2];
	struct xrepl_trk_era __rcu *cur;
	/* Serialises checkpoints (taken before meta_io_lock). */
	struct mutex lock;
	/* A checkpoint's era's last local writes completed (inflight 0). */
	wait_queue_head_t drained;
	/*
	 * A checkpoint's superblock write failed: the superblock on disk may
	 * name an era the tracker rolled back.  No mark is cleared until
	 * meta_retry rewrote it.  meta_io_lock.
	 */
	bool unsure;
};

/*
 * Replication state of one pair of legs, shared across table reloads.
 * Fields are grouped by the unit that mainly uses them; the state that
 * every unit reads and changes (the remote's state, the dirty bitmap)
 * comes first.
 *
 * Locks, in the order they nest (never the other way):
 *   xrepl_pairs_lock (mutex, xrepl-pair.c)  list, refs, loading
 *     meta_io_lock (mutex)                  metadata writes, meta_buf,
 *                                           meta_retry_delay
 *       lock (spinlock, irq-safe)           the fields marked "lock"
 *   ship_alloc_lock (mutex)                 taking pages from ship_pages
 *   page_cache_lock (spinlock, irq-safe)    nr_cached, page_cache; a leaf
 * No spinlock is held across I/O, and xrepl_pairs_lock is not held
 * across metadata I/O.
 */
struct xrepl_pair {
	/* xrepl-pair.c: identity, under xrepl_pairs_lock. */
	struct list_head list;
	unsigned int refs;
	bool loading;			/* being filled: nobody may join it */
	/*
	 * Created to replace a pair of the same device and legs (another
	 * geometry or metadata device), which stays live until the new
	 * table is resumed: its final state is read again in preresume.
	 * Set by the constructor, cleared by preresume (serialised by dm).
	 */
	bool inherit_pending;
	struct mapped_device *md;	/* the device that owns this pair */
	dev_t local_dev;
	/*
	 * The remote the pair replicates to, or last replicated to while a
	 * table without a remote is live (0: never had one).
	 */
	dev_t remote_dev;
	dev_t peer_dev;			/* remote_meta of its tables, or 0 */
	dev_t jnl_dev;			/* journal of its tables, or 0 */
	struct xrepl_jnl *jnl;		/* xrepl-jnl.c; NULL without one */
	dev_t meta_dev;			/* 0: volatile bitmap */
	struct xrepl_geom geom;
	/* For resync_work, the cleaner, events and messages. */
	struct workqueue_struct *wq;
	/*
	 * xrepl-state.c: the remote's state.  Written under lock, read
	 * without it by the write path; apart from lock's cache line, which
	 * every acquisition takes away from the readers.
	 */
	enum xrepl_degraded degraded_by;

	/*
	 * Protects the fields marked "lock" below, the dirty bitmap, the
	 * write intent and the copy slots.  Taken from bio completion
	 * (interrupt) context: use the irq-safe variants.
	 */
	spinlock_t lock ____cacheline_aligned_in_smp;

	/* xrepl-state.c: the replication state (lock). */
	struct xrepl_c *active;		/* resumed target, NULL when suspended */
	unsigned long degrade_gen;	/* bumped each time the remote degrades */
	struct xrepl_bitmap dirty;	/* regions the remote may miss */
	bool consistent;		/* remote image crash-consistent */
	u64 remote_errors;
	u64 local_errors;

	/*
	 * xrepl-gate.c: the region gate, lock-free (see there), on cache
	 * lines of its own: every write changes gate_count.
	 */
	atomic_t gate_count[XREPL_GATE_BUCKETS] ____cacheline_aligned_in_smp;
	/*
	 * The writes of gate_count whose data a journal does not carry yet:
	 * a journaled write leaves it once its local write and its append
	 * completed (settled), any other with gate_count.  With a journal
	 * in use the cleaner clears the marks of regions by this count.
	 */
	atomic_t gate_busy[XREPL_GATE_BUCKETS];
	/*
	 * Writes that left gate_count without settling (not journaled),
	 * with a journal: the cleaner flushes the remote for them.
	 */
	atomic_long_t gate_unjnl;
	/* gate_unjnl at the cleaner's last remote flush: the cleaner's own. */
	long clean_unjnl;
	atomic_t gate_frozen[XREPL_GATE_BUCKETS];	/* changed under lock */

	/* xrepl-io.c: the write path. */
	struct bio_set bs;		/* remote clones */
	struct xrepl_stats __percpu *stats;
	struct bio_list gate_deferred;	/* lock: writes held by a closed gate */
	struct bio_list redispatch;	/* lock: deferred writes ready to go again */
	/*
	 * Remote clones of small writes are submitted by the writer itself;
	 * those of large writes (and of all writes while remote_work polls,
	 * see remote_poll_us) go through remote_queue to remote_work on an
	 * unbound workqueue, so the remote's submission cost runs on another
	 * CPU, in parallel with the local one.  remote_polling and
	 * remote_queue are paired with full barriers: a writer that queues a
	 * clone after remote_work stopped polling sees it stopped.
	 */
	struct workqueue_struct *remote_wq;
	struct work_struct remote_work;
	struct llist_head remote_queue;	/* of struct xrepl_io */
	bool remote_polling;

	/*
	 * xrepl-async.c: the asynchronous modes.  ship_work (on remote_wq)
	 * issues the entries the ship queue lets go; their completions free
	 * room and wake it again.
	 */
	struct bio_set ship_bs;		/* remote writes of ship entries */
	mempool_t ship_ents;		/* struct xrepl_shipent */
	mempool_t ship_pages;		/* their data */
	/*
	 * Serialises taking an entry's pages from ship_pages, so that two
	 * writers never each hold part of the reserve while waiting for the
	 * rest (as dm-crypt's bio_alloc_lock does).
	 */
	struct mutex ship_alloc_lock;
	/*
	 * Pages of freed ship entries kept for reuse, so that a write does
	 * not pay for a page allocation and its zeroing.  page_cache_lock
	 * protects nr_cached and page_cache; entries are freed from bio
	 * completion, so it is taken irq-safe.
	 */
	spinlock_t page_cache_lock;
	unsigned int nr_cached;
	struct page *page_cache[XREPL_PAGE_CACHE];
	struct delayed_work ship_work;
	struct work_struct return_work;	/* on wq: the end of a congestion */
	wait_queue_head_t ship_wait;	/* woken when the ship queue empties */
	struct xrepl_shipq shipq;	/* lock: writes not on the remote yet */
	struct bio_list lag_wait;	/* lock: writes waiting for lag room */
	/*
	 * lock: writes out of lag_wait, in their order, for lag_work to map
	 * again: admitted (XREPL_IO_LAG), or to look at the lag anew.
	 */
	struct bio_list lag_ready;
	struct workqueue_struct *lag_wq;
	struct work_struct lag_work;	/* on lag_wq: maps lag_ready */
	/*
	 * lock: the data held for the remote (the lag), counted from a
	 * write's admission (in map, or as room appears for a write that
	 * waited) until its entry is freed (or it is refused), so that
	 * max_lag_kb bounds all of it (with a journal, all of it in
	 * memory: jnl->dropped_bytes are in the log only).
	 */
	struct xrepl_lag lag;
	/*
	 * lock: remote completions of ship entries still running: a suspend
	 * waits for them too, as they touch the pair after the lag was
	 * released.
	 */
	unsigned int ship_endios;
	/*
	 * lock: a suspend found nothing in flight to the remote, and, with
	 * writes in the lag, shipping held back (xrepl_ship_idle()):
	 * nothing is sent from then on, whatever a release or a shorter
	 * delay says, until a table is resumed (its remote may go once the
	 * suspend returns).  With lag.writes, the suspend kept entries.
	 */
	bool ship_parked;
	/* lock: entries whose writes wait to be acknowledged, by deadline. */
	struct list_head ack_wait;
	struct hrtimer ack_timer;	/* fires at the first deadline */
	u64 ack_timer_ns;		/* lock: when it fires; U64_MAX: not set */
	/*
	 * Switching to sync, writes still go through the ship queue (and are
	 * acknowledged when on the remote) until it is empty, so none passes
	 * an older one.  Written under lock before the mode (smp_wmb), read
	 * without it after the mode (smp_rmb, xrepl_ships_writes()).
	 */
	bool draining;
	bool drain_event;		/* lock: draining ended: raise an event */
	u64 lag_waits;			/* lock: writes that waited for lag room */
	u64 semi_timeouts;		/* lock: semi-sync acks on time out */

	/*
	 * xrepl-resync.c: copies.  Each slot's work reads a region from the
	 * local leg into its buffer and writes it to the remote, with
	 * synchronous dm_io, on an unbound workqueue: the copies run on
	 * every CPU, and the buffers are reused rather than allocated (and
	 * zeroed) per copy.
	 */
	struct workqueue_struct *copy_wq;
	struct dm_io_client *copy_io;
	unsigned int copy_bytes;	/* size of each copy buffer */
	/* A compare reads this from each leg into slot 0's buffer. */
	unsigned int verify_bytes;
	struct work_struct resync_work;
	struct delayed_work resync_delay;	/* rate limit: requeue resync_work */
	/*
	 * The flush of the remote that ends a resync, in a work of its own,
	 * so that resync_work goes on redispatching deferred writes.
	 */
	struct work_struct resync_flush;
	wait_queue_head_t copies_wait;	/* woken when nr_copies drops to 0 */
	/* The rest of the resync's fields: lock. */
	bool resync_active;		/* a resync is wanted */
	unsigned long resync_seq;	/* bumped each time a resync starts */
	bool resync_stop;		/* suspending: start no copies */
	unsigned long resync_cursor;	/* next region the pass looks at */
	unsigned long resync_done;	/* regions copied by this resync */
	unsigned long resync_total;	/* regions this resync has to copy */
	unsigned long pass_copied;	/* regions copied in this pass */
	bool pass_marked;		/* regions were marked in this pass */
	unsigned int nr_copies;		/* busy copy slots */
	unsigned int copy_bufs;		/* slots with a buffer */
	struct xrepl_copy copies[XREPL_MAX_COPIES];
	u64 copied_regions;
	u64 copied_bytes;		/* data sent to the remote by copies */
	/* Pacing. */
	u32 resync_rate_kbps;		/* 0: unlimited */
	u64 resync_started_ns;		/* start of this resync */
	u64 rate_start_ns;		/* start of the rate window */
	u64 rate_bytes;			/* copied since rate_start_ns */
	u64 app_writes_seen;		/* writes counter at the last look */
	u64 app_active_until_ns;	/* back off until then */
	/*
	 * The online verify (xrepl-verify.c), lock: a pass compares the
	 * regions from verify_start on, one at a time and in order, so
	 * every region from verify_start up to verify_pos was compared.
	 */
	bool verify_active;		/* a pass is wanted */
	bool verify_repair;		/* the regions that differ get resynced */
	bool verify_repair_done;	/* and that was done (or given up on) */
	bool verify_repairing;		/* resync_work is marking them */
	bool verify_busy;		/* a slot holds verify_pos */
	unsigned long verify_seq;	/* bumped each time a pass starts */
	unsigned long verify_start;	/* first region of the pass */
	unsigned long verify_pos;	/* next region to compare */
	unsigned long verify_mismatches;	/* regions that differed */
	u64 verify_started_ns;
	u64 verify_rest_until_ns;	/* no compare before then (yield) */
	unsigned long verify_rests;	/* rests taken by the pass (yield) */
	/* Regions that differed in this pass (a new bitmap for each pass). */
	struct xrepl_bitmap verify_bad;

	/*
	 * xrepl-cycle.c: periodic mode, lock.  Between cycles writes go to
	 * the local leg only and make their regions dirty.  A cycle freezes
	 * the dirty regions into cycle_set, and the resync copies exactly
	 * those (resync_active while it does); a write to a region of
	 * cycle_set waits on cbw_wait until its copy is made.  periodic is
	 * read by the write path with READ_ONCE(); cycling only under the
	 * lock.
	 */
	bool periodic;			/* the active table's mode is periodic */
	bool cycling;			/* a cycle runs */
	bool cycle_wanted;		/* start one as soon as it may */
	/* After the running (final) cycle, the mode becomes this one. */
	bool cycle_exit;
	enum xrepl_mode cycle_exit_mode;
	struct xrepl_bitmap cycle_set;	/* frozen regions not copied yet */
	unsigned long cycle_frozen;	/* regions in cycle_set at its start */
	unsigned long cycle_copied;	/* of those, copied */
	u64 cycle_mono_ns;		/* the cycle's point in time: monotonic */
	u64 cycle_real_s;		/* and wall clock */
	/*
	 * The remote's point in time: the start of the last cycle that
	 * completed (or of the periodic mode).  0: none yet.
	 */
	u64 point_mono_ns;
	u64 point_real_s;
	bool point_restored;		/* from the remote site's record */
	u64 cycles;			/* cycles completed */
	u64 cbw_copies;			/* copies made ahead of a waiting write */
	struct bio_list cbw_wait;	/* writes waiting for a copy */
	struct delayed_work cycle_work;	/* on wq: the period's timer */
	/*
	 * xrepl-undo.c, lock.  undo_epoch: the epoch the cycle's copies save
	 * into (0: none); undo_saved: the regions saved in the last epoch;
	 * undo_next: its next free slot of undo_slots.
	 */
	u64 undo_epoch;
	u64 undo_time;			/* the data time the undo returns to */
	struct xrepl_bitmap undo_saved;
	unsigned long undo_next;
	unsigned long undo_slots;	/* of the remote site's metadata */
	u64 undo_overflows;		/* cycles that ran without undo */
	bool undo_warn;			/* an overflow to report */
	atomic64_t undo_saves;		/* regions saved */

	/*
	 * xrepl-meta-io.c: the metadata device, when there is one.  meta_wq
	 * is ordered: the commits of marks (commit_work) and the retries of
	 * failed metadata writes (meta_retry) run one at a time.
	 * meta_io_lock serialises every metadata write, including those made
	 * from other contexts (the cleaner, the resync, messages).  The
	 * cleaner (clean_work) runs on wq: neither it nor anything else
	 * holds meta_io_lock or a meta_wq slot while it waits for a leg's
	 * flush, so a hung leg never holds up the marks of new writes.
	 */
	struct block_device *meta_bdev;	/* held by every table of the pair */
	struct dm_io_client *io_client;
	struct workqueue_struct *meta_wq;
	struct work_struct commit_work;
	struct delayed_work clean_work;
	struct mutex meta_io_lock;	/* writes, meta_buf, meta_retry_delay */
	void *meta_buf;			/* XREPL_META_IO_BLOCKS blocks */
	/*
	 * After a failed metadata write, meta_retry (on meta_wq) rewrites
	 * every block and the superblock, with a backoff, until it works.
	 */
	struct delayed_work meta_retry;
	unsigned long meta_retry_delay;	/* jiffies until the next retry */
	atomic64_t meta_writes;		/* metadata blocks written */
	struct xrepl_trk trk;		/* the change tracker (xrepl-trk.c) */
	/* The rest: lock. */
	struct xrepl_wi wi;		/* write intent */
	struct bio_list mark_wait;	/* writes waiting for their marks */
	struct xrepl_sb_info sb;	/* superblock as of the next write */
	bool sb_dirty;			/* sb changed since it was written */
	bool sb_consistent;		/* the superblock on disk says consistent */
	/*
	 * The journal's log is not the whole story (the superblock without
	 * XREPL_META_F_JOURNALED): as wanted, and as the superblock on disk
	 * says.  The cleaner clears no mark while the first is set and the
	 * second is not.
	 */
	bool log_stale;
	bool sb_log_stale;
	bool meta_failed;		/* a metadata write failed */
	bool merge_needed;		/* marked regions must join dirty */
	/* Marks were asked for with no write waiting: commit_all once written. */
	bool commit_all_wanted;

	/*
	 * xrepl-peer.c: the remote site's metadata device (remote_meta).
	 * peer_wq is ordered and runs peer_work, which writes the remote
	 * site's superblock so that it says what the pair's state is; it is
	 * the only context that writes it once the pair is connected, so a
	 * hung remote holds up nothing but itself.  peer_io_lock serialises
	 * every I/O to that device and protects peer_sb and peer_buf.
	 */
	/*
	 * Serialises connecting the remote (attach on resume, "remote up").
	 * "remote down" does not take it (it must not wait for a hung
	 * remote site's metadata): it counts itself in down_seq, and a
	 * "remote up" that sees the count change gives up.
	 */
	struct mutex connect_lock;
	unsigned long down_seq;		/* lock: "remote down" messages so far */
	bool activated;			/* lock: a table was resumed once */
	struct block_device *peer_bdev;	/* lock: of the active table, or NULL */
	struct dm_io_client *peer_io;
	struct workqueue_struct *peer_wq;
	struct work_struct peer_work;
	struct mutex peer_io_lock;	/* peer I/O, peer_sb, peer_buf */
	struct xrepl_sb_info peer_sb;	/* as last read or written */
	void *peer_buf;			/* one block */
	atomic64_t peer_meta_writes;	/* superblock writes to it */
	/* The rest: lock. */
	enum xrepl_peer_state peer_state;
	enum xrepl_peer_rec peer_rec;
	u64 peer_data_time;		/* for a stop record: its data time */
	/* The undo epoch its superblock says; read locklessly by the I/O path. */
	u64 peer_undo_epoch;
	u64 peer_point_ns;		/* point_mono_ns its POINT record says */

	/* xrepl-io.c: reads the local leg failed, retried on the remote. */
	struct work_struct read_work;
	struct bio_list read_retry;	/* lock: reads waiting for the retry */
	atomic64_t local_read_errors;
	atomic64_t remote_reads;
};

/* How the walk of a log found when a pair is created ended. */
enum xrepl_jnl_walk_end {
	XREPL_JNL_WALK_CLEAN,		/* where no entry is: its end */
	XREPL_JNL_WALK_TORN,		/* at an entry whose data is not whole */
	XREPL_JNL_WALK_DAMAGED,		/* at an entry that is not valid */
	XREPL_JNL_WALK_IO,		/* at a read error */
	XREPL_JNL_WALK_NONE,		/* not walked: no memory */
};

/* What that walk found. */
struct xrepl_jnl_walk {
	u64 entries;			/* valid entries, from the tail */
	u64 bytes;			/* their data */
	u64 end_seq;			/* the entry expected where it ended */
	u64 end_block;			/* where (or where a read failed) */
	u64 after;			/* whole entries after a torn one */
	u64 first_ns, last_ns;		/* time_ns of the first and last */
	u64 last_epoch;			/* epoch of the last */
	u32 max_bytes;			/* of the largest */
	enum xrepl_jnl_walk_end end;
	char *why;			/* a static string */
};

struct jnl_reader;

/*
 * The journal device of a pair (xrepl-jnl.c): held by every table of the
 * pair, which all name the same one.
 */
struct xrepl_jnl {
	struct xrepl_pair *pair;
	struct block_device *bdev;
	struct dm_io_client *io;
	struct bio_set bs;		/* appends */
	mempool_t hdr_pages;		/* their header blocks */
	/* Pages for one entry read back at least: ship_work's only. */
	mempool_t rb_pages;
	/*
	 * Under pair->lock: the journaled entries in the ship queue whose
	 * pages were dropped (their data in the log only), and those that
	 * kept them, with their data.  max_lag_kb bounds the memory: while
	 * the journal is in use, half of it for the entries kept, half for
	 * the writes on their way to the log (the lag less both).
	 */
	unsigned long dropped;
	u64 dropped_bytes;
	unsigned long kept;
	u64 kept_bytes;
	/*
	 * Serialises superblock writes; protects info, walk, buf, fresh and
	 * started (written without it while the pair is loading, before
	 * any other context can reach the journal).
	 */
	struct mutex sb_lock;
	struct xrepl_jnl_info info;	/* as written last (or to write) */
	struct xrepl_jnl_walk walk;	/* of the log found, until started */
	struct xrepl_bitmap walk_regions; /* the regions its entries touch */
	void *buf;			/* one block */
	bool fresh;			/* block 0 was zero: not formatted yet */
	bool started;			/* the first resume wrote the superblock */
	/* Tail commits (jnl_commit()), on pair->wq. */
	struct delayed_work commit_work;
	/* Submits the barrier appends on go, on pair->remote_wq. */
	struct work_struct submit_work;
	/* Maps the writes on parked again, on wq. */
	struct work_struct overlap_work;
	struct workqueue_struct *wq;	/* overlap_work's own */

	/* The log in memory, under pair->lock: */
	bool usable;			/* started, and not failed */
	bool failed;			/* an append or superblock write failed */
	bool fail_degraded;		/* and the remote degraded for it */
	bool commit_queued;		/* commit_work is queued */
	bool commit_urgent;		/* for now: the log is short of room */
	bool commit_retry;		/* after a failed flush, in a second */
	bool stopped;			/* suspended: no commit queued */
	/*
	 * Shipping is held ("hold", or the superblock's held flag at load):
	 * nothing is sent to the remote, nor copied there, until "release";
	 * a suspend keeps the entries not sent, and a full lag or log
	 * degrades the remote whatever the congestion policy.
	 */
	bool ship_held;
	/*
	 * Under pair->lock: an entry ships once its time_ns is delay_ms old
	 * (async mode): the table's delay_ms, or, if it gives none, the
	 * superblock's at load; "set delay_ms" changes it.  Recorded in the
	 * superblock.  While it is not 0, shipping is held back as by a
	 * hold for a suspend and a full lag or log.
	 */
	u32 delay_ms;
	/*
	 * While ship_held: the entries made before it (time_ns) ship still
	 * ("ship_until"), the others wait; 0: none.  Written under sb_lock
	 * and pair->lock (a journal failure clears it under pair->lock
	 * only), read under either.  So is ship_held.
	 */
	u64 until_ns;
	/*
	 * Under pair->lock: the ship point reached until_ns (set when
	 * until_ns is), and a dm event said so; one per point.
	 */
	bool until_reached;
	/*
	 * Under pair->lock: no data the remote has or is sent is newer (wall
	 * clock, ns since the epoch): the newest entry the ship queue let
	 * go, the end of a copy, the time sync mode was left, a write sent
	 * outside the queue (direct_ns); at load, the bound a hold recorded,
	 * else the time of the load.  A point it is past cannot be shipped
	 * until.
	 */
	u64 sent_ns;
	/*
	 * Raised without the lock by a write sent to the remote outside
	 * the ship queue (sync mode), to the time it is sent, before it
	 * is; folded into sent_ns under the lock at a resume, a hold and
	 * ship_until (a mode message leaving sync mode raises sent_ns to
	 * its own time, which orders the writes before it).
	 */
	atomic64_t direct_ns;
	u64 journal_id;			/* info's, for the headers */
	u64 incarnation;
	u64 nr_blocks;
	u64 head_seq;			/* the next entry's */
	u64 head_block;			/* where it goes, if it fits */
	u64 epoch;			/* of the next entry */
	u64 last_time_ns;		/* time_ns of the entry before */
	u64 ctail_seq;			/* the tail on disk: the log's space */
	u64 ctail_block;		/* from it to the head is in use */
	u64 appended_seq;		/* every entry up to it was appended */
	/*
	 * Under pair->lock.  Every entry before rflushed_seq is durable on
	 * the remote: a barrier the ship queue sent completed, with a flush
	 * before it; rflushed_seq is the barrier's, or the one after it if
	 * the barrier is durable itself (an empty flush, or a write with
	 * FUA).  rflushed_block: where entry rflushed_seq starts, or, if it
	 * did not fit there, where it would have (it is then at block 1).
	 */
	u64 rflushed_seq;
	u64 rflushed_block;
	u64 rflushed_inc;		/* no higher than entry rflushed_seq's */
	struct list_head appending;	/* entries by seq, until appended */
	struct list_head log;		/* entries by seq, until shipped */
	struct list_head flight;	/* entries in flight, local or append */
	/*
	 * The entries of writes that overlap an entry on flight or parked
	 * before them, in the order they came, until that one left.
	 */
	struct list_head parked;
	u64 room_gen;			/* raised when the log has more room */
	struct bio_list held;		/* barrier appends, until their turn */
	struct bio_list go;		/* those whose turn came, to submit */
	unsigned int appends;		/* append completions running */
	/*
	 * Under pair->lock: the entries the remote completed that the tail
	 * on disk is not past yet, which a replay would send again (see
	 * xrepl_jnl_ship_wait_locked()).  One record each, from a pool of
	 * done_max allocated with the journal: in an interval tree by
	 * sector (done_tree), and on done_list in the order they came.
	 * With the pool empty, a completion is not recorded: done_unrec is
	 * then the newest such entry's seq, and no entry is sent until a
	 * tail commit passed it.
	 */
	struct rb_root_cached done_tree;
	struct list_head done_list;
	struct list_head done_free;
	struct xrepl_jnl_done *done_pool;
	unsigned int done_nr;		/* on done_list */
	/* Their regions were made dirty in degradation lost_gen. */
	bool lost_walked;
	unsigned long lost_gen;
	unsigned int done_max;
	u64 done_unrec;			/* 0: every completion recorded */
	bool ship_waits;		/* ship_work waits for a tail commit */
	/*
	 * A replay, under pair->lock: of the log found at load
	 * (xrepl_jnl_start()), or of entries the ship queue spilled
	 * (rp_spill, jnl_spill_locked()): kept in the log only, their
	 * descriptors freed.  The entries from rp_seq (at rp_block, of an
	 * incarnation no lower than rp_inc) to rp_end are read and queued
	 * by ship_work (its reader rp_rd, its alone, kept for the
	 * journal's life), after the entries before them and ahead of the
	 * others; rp_pending of them are read and not done with (on
	 * jnl->log).  While replay is set the pair's lag counts one write
	 * for it, and the tail is at rp_seq at most; it ends once every
	 * entry was read (or rp_stopped: the remote degraded, the regions
	 * of its entries, walk_regions between rp_rmin and rp_rmax, made
	 * dirty) and none is pending.  While entries are still to be read,
	 * an entry that joins the ship queue right after them may be
	 * spilled too (rp_end grows).  may_replay: the metadata loaded
	 * allows a replay at load (set before the pair is started).
	 * rp_done_ns: time_ns of the last replayed entry the remote
	 * completed, or, spilled, of the first entry spilled.
	 */
	bool may_replay;
	bool replay;
	bool rp_spill;
	bool rp_stopped;
	unsigned long rp_rmin;
	unsigned long rp_rmax;
	unsigned int rp_pending;
	u64 rp_seq;
	u64 rp_block;
	u64 rp_end;
	u64 rp_end_block;
	u64 rp_inc;
	u64 rp_done_ns;
	u64 rp_first_ns;		/* time_ns of its first entry */
	struct jnl_reader *rp_rd;
	/*
	 * The replay's ship entries, a pool of their own: ship_work waits
	 * on it, and the reserve of ship_ents may be held by entries that
	 * wait behind the replay for ship_work.
	 */
	mempool_t rp_ents;
	/*
	 * Serialises tail commits (commit_work, the cleaner's, a suspend's):
	 * each takes remark and writes its marks before its tail.
	 */
	struct mutex commit_lock;
	/*
	 * Under pair->lock: regions whose marks were not committed became
	 * dirty since the last tail commit (entries given up on, whose marks
	 * the cleaner cleared by the log).  Their marks were asked for then;
	 * the commit makes sure they are on disk before the tail passes
	 * those entries.
	 */
	bool remark;
};

/* An entry the remote completed, on jnl->done_tree (xrepl-jnl.c). */
struct xrepl_jnl_done {
	struct rb_node rb;
	sector_t start, last;		/* its sectors */
	sector_t subtree_last;		/* the interval tree's */
	u64 seq;
	struct list_head list;		/* on done_list or done_free */
};

/* Target context: one per table that uses xrepl. */
struct xrepl_c {
	struct dm_target *ti;
	struct dm_dev *local;
	struct dm_dev *remote;		/* NULL for "-" */
	struct dm_dev *meta;		/* NULL for "-" */
	struct dm_dev *peer;		/* remote_meta, or NULL */
	struct dm_dev *journal;		/* journal, or NULL */
	struct xrepl_args args;		/* device strings cleared after ctr */
	struct xrepl_pair *pair;
	struct work_struct event_work;	/* raises dm_table_event() */
	/* Refused messages are logged at most this often (msg_err()). */
	struct ratelimit_state msg_rs;
};

/*
 * The life of a write: any bio but a read (a write, a flush, a discard or
 * a write-zeroes).  Its per-bio state is a struct xrepl_io; its flags say
 * what it holds at each step.
 *
 * 1. Map (xrepl_map(), xrepl-io.c).  In an asynchronous mode the write is
 *    admitted into the lag (LAG; also ACK_WAIT in semi-sync mode and
 *    while a switch to sync drains), or waits on lag_wait for room,
 *    behind the writes that waited before it; admitted there as room
 *    appears, in order, it is mapped again by lag_work.  A write that
 *    covers sectors then fails at once if the remote is degraded under
 *    on_remote_error fail (REJECTED; it leaves the lag if it was in), or
 *    enters the region gate (TRACKED), or waits on gate_deferred while a
 *    copy holds its regions.  Writes deferred so far come back through
 *    redispatch (resync_work) and are mapped again, keeping what they
 *    were admitted to.  With a metadata device a write then waits on
 *    mark_wait until its regions are marked on disk; the metadata commit
 *    submits it.
 * 2. Submit (xrepl_write_submit()).  Sync mode, remote healthy: a clone
 *    goes to the remote (REMOTE) and the bio to the local leg; the bio
 *    completes when both did.  Asynchronous: the data is copied into a
 *    ship entry (SHIP) and the bio goes to the local leg; with ACK_WAIT
 *    the local write goes out as a clone of our own, and the entry may go
 *    to the remote at once (early).  Remote degraded: the local leg only,
 *    with the regions marked dirty (a write admitted into the lag leaves
 *    it, with no entry); under on_remote_error fail the bio reaches
 *    neither leg and fails (REJECTED).  With a journal, a shipped write
 *    that overlaps an entry whose local write or append is in flight,
 *    or a write waiting already, waits on jnl->parked until they
 *    completed; then its entry is appended to the log in parallel with
 *    its local write (JNL), and joins the ship queue in the log's order
 *    (xrepl-jnl.c).
 * 3. Completion (xrepl_end_io()).  What a leg missed is accounted (dirty
 *    regions; a remote error degrades).  A SHIP bio whose local write
 *    succeeded while the remote stayed healthy has its entry join the
 *    ship queue, and completes; with ACK_WAIT it completes only when the
 *    entry reached the remote, its deadline passed (at once if it passed
 *    already) or the remote degraded (xrepl_ack_bio(): ACKED, the bio's
 *    one completion).  A TRACKED bio leaves the gate, unless its entry
 *    took its place there.
 * 4. The ship entry (xrepl-async.c).  ship_work sends it when the ship
 *    queue lets it go; its remote completion (xrepl_ship_endio()) takes
 *    it out of the lag, frees it and so takes it out of the gate.  end_io
 *    frees an entry that never joined the queue (the local write failed,
 *    or the remote degraded meanwhile: it leaves the lag there), and an
 *    early one whose remote write completed first; the bio then leaves
 *    the gate.  A degradation drops the entries not sent yet: they leave
 *    the lag and their regions become dirty.
 *
 * So a tracked write is counted in the gate from map until its completion,
 * or, if its entry was queued or sent early, until the entry is freed; it
 * is counted in the lag from admission until its data reached the remote
 * or was given up.
 */
#define XREPL_IO_TRACKED	BIT(0)	/* counted in the region gate */
#define XREPL_IO_REMOTE		BIT(1)	/* a clone went to the remote */
#define XREPL_IO_REJECTED	BIT(2)	/* failed by on_remote_error fail */
#define XREPL_IO_SHIP		BIT(3)	/* async: ship entry in io->ship */
#define XREPL_IO_LAG		BIT(4)	/* counted in the lag (pair->lag) */
#define XREPL_IO_ACK_WAIT	BIT(5)	/* acknowledged when on the remote */
#define XREPL_IO_ACKED		BIT(6)	/* completed by us: end_io just lets it go */
#define XREPL_IO_REMOTE_READ	BIT(7)	/* a read retried on the remote */
#define XREPL_IO_JNL		BIT(8)	/* its entry is journaled */

struct xrepl_io {
	struct xrepl_c *xc;
	struct bio *clone;		/* remote clone, while queued */
	struct xrepl_shipent *ship;	/* async: what goes to the remote */
	u64 issued_ns;			/* when map saw it */
	u64 deadline_ns;		/* ACK_WAIT: at the latest then */
	struct llist_node queued;	/* on pair->remote_queue */
	unsigned long first;		/* regions touched, if TRACKED */
	unsigned long last;
	/* The change tracker's era its local write counts in, in flight. */
	struct xrepl_trk_era *trk_era;
	blk_status_t remote_status;
	unsigned int flags;
	struct bvec_iter read_iter;	/* a read as mapped, for its retry */
	unsigned short read_bi_flags;	/* and its bi_flags then */
};

static inline struct xrepl_io *xrepl_io(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct xrepl_io));
}

static inline const char *xrepl_name(struct xrepl_c *xc)
{
	return dm_device_name(dm_table_get_md(xc->ti->table));
}

/*
 * The write path's lock-free reads, inline: the read sides of the region
 * gate (its barriers are in xrepl-gate.c) and of the switch to sync.
 */
static inline unsigned int xrepl_gate_bucket(unsigned long region)
{
	return region & (XREPL_GATE_BUCKETS - 1);
}

/* The gate buckets of regions first..last are *b0 and the *n after it. */
static inline void xrepl_gate_span(unsigned long first, unsigned long last,
				   unsigned int *b0, unsigned int *n)
{
	if (last - first >= XREPL_GATE_BUCKETS - 1) {
		*b0 = 0;
		*n = XREPL_GATE_BUCKETS;
	} else {
		*b0 = xrepl_gate_bucket(first);
		*n = last - first + 1;
	}
}

/* Does a copy hold a bucket of regions first..last? */
static inline bool xrepl_gate_closed(struct xrepl_pair *pair,
				     unsigned long first, unsigned long last)
{
	unsigned int b0, n, i;

	xrepl_gate_span(first, last, &b0, &n);
	for (i = 0; i < n; i++)
		if (atomic_read(&pair->gate_frozen[xrepl_gate_bucket(b0 + i)]))
			return true;
	return false;
}

/* No write is in flight in region's bucket any more. */
static inline bool xrepl_gate_drained(struct xrepl_pair *pair,
				      unsigned long region)
{
	return !atomic_read(&pair->gate_count[xrepl_gate_bucket(region)]);
}

/* Every write in region's bucket is settled (see gate_busy). */
static inline bool xrepl_gate_settled(struct xrepl_pair *pair,
				      unsigned long region)
{
	return !atomic_read(&pair->gate_busy[xrepl_gate_bucket(region)]);
}

/* Do writes go through the ship queue?  Lockless. */
static inline bool xrepl_ships_writes(struct xrepl_c *xc)
{
	enum xrepl_mode mode = READ_ONCE(xc->args.mode);

	if (mode == XREPL_MODE_ASYNC || mode == XREPL_MODE_SEMI_SYNC)
		return true;
	/* Pairs with smp_wmb() in xrepl_drain_start_locked() (xrepl-async.c). */
	smp_rmb();
	return READ_ONCE(xc->pair->draining);
}

/* xrepl-pair.c: pairs (find, create, load, take over, destroy). */
int xrepl_pair_get(struct xrepl_c *xc, const struct xrepl_geom *geom,
		   const struct xrepl_sb_info *sb, char **error);
void xrepl_pair_put(struct xrepl_pair *pair);
void xrepl_pair_take_over(struct xrepl_pair *pair);
void xrepl_pair_activate(struct xrepl_c *xc);
void xrepl_pair_attach(struct xrepl_c *xc);
int xrepl_pair_before_back(struct xrepl_c *xc);
int xrepl_pair_before_return(struct xrepl_pair *pair);

/* xrepl-peer.c: the remote site's metadata. */
int xrepl_peer_check(struct xrepl_c *xc, char **error);
int xrepl_peer_check_new(struct xrepl_pair *pair, struct xrepl_c *xc,
			 bool in_sync, char **error);
int xrepl_peer_connect(struct xrepl_c *xc, bool live, char **error);
int xrepl_peer_copying(struct xrepl_pair *pair, struct block_device *bdev);
int xrepl_peer_copying_active(struct xrepl_pair *pair);
void xrepl_peer_work(struct work_struct *work);
void xrepl_peer_update_locked(struct xrepl_pair *pair);
bool xrepl_peer_ready_locked(struct xrepl_pair *pair);
bool xrepl_peer_point_pending_locked(struct xrepl_pair *pair);
void xrepl_peer_stop(struct xrepl_pair *pair);
const char *xrepl_peer_state_name(enum xrepl_peer_state state);

/* xrepl-verify.c: the online verify. */
enum xrepl_verify_end {
	XREPL_VERIFY_RUNNING,
	XREPL_VERIFY_DONE,	/* the last region was compared */
	XREPL_VERIFY_STOPPED,	/* regions became dirty: no use going on */
};

void xrepl_verify_work(struct xrepl_copy *copy);
struct xrepl_copy *xrepl_verify_next_locked(struct xrepl_pair *pair, u64 now,
					    unsigned long *delay,
					    enum xrepl_verify_end *end);
bool xrepl_verify_repair_due_locked(struct xrepl_pair *pair);
bool xrepl_verify_running_locked(const struct xrepl_pair *pair);
void xrepl_verify_repair(struct xrepl_c *xc);
void xrepl_verify_done(struct xrepl_c *xc, enum xrepl_verify_end end);
/* xrepl-resync.c: the resync, its copy slots and pacing. */
struct xrepl_copy *xrepl_copy_claim_locked(struct xrepl_pair *pair,
					   unsigned long region, bool *ready);
void xrepl_copy_put_locked(struct xrepl_pair *pair, struct xrepl_copy *copy);
bool xrepl_rate_allows_locked(struct xrepl_pair *pair, u64 bytes, u64 now,
			      unsigned long *delay);
void xrepl_copy_work(struct work_struct *work);
void xrepl_resync_delay_work(struct work_struct *work);
void xrepl_resync_work(struct work_struct *work);
void xrepl_resync_flush_work(struct work_struct *work);
bool xrepl_copies_idle(struct xrepl_pair *pair);

/* xrepl-meta-io.c: the metadata device. */
bool xrepl_meta_commit(struct xrepl_pair *pair, struct bio_list *go);
/* Metadata I/O of whole blocks, counted in meta_writes.  Process context. */
int xrepl_meta_io(struct xrepl_pair *pair, blk_opf_t opf, u64 block,
		  unsigned int nr_blocks, void *buf);
/*
 * A metadata write failed: latch meta_failed, say so once, raise an
 * event, and have meta_retry rewrite everything.  meta_io_lock held.
 */
void xrepl_meta_failed(struct xrepl_pair *pair, const char *what);

/* The change tracker (xrepl-trk.c). */
void xrepl_trk_init(struct xrepl_pair *pair);
void xrepl_trk_issue(struct xrepl_pair *pair, struct xrepl_io *io);
void xrepl_trk_landed(struct xrepl_pair *pair, struct xrepl_io *io);
bool xrepl_trk_fold(struct xrepl_pair *pair);
int xrepl_trk_load(struct xrepl_pair *pair, char **error);
void xrepl_trk_reset(struct xrepl_pair *pair, bool dropped);
void xrepl_trk_free(struct xrepl_pair *pair);
int xrepl_trk_checkpoint(struct xrepl_pair *pair, const char *name, u64 *num,
			 const char **why);
void xrepl_meta_go(struct bio_list *go);
void xrepl_meta_retry_work(struct work_struct *work);
void xrepl_commit_work(struct work_struct *work);
bool xrepl_meta_sync(struct xrepl_pair *pair);
void xrepl_meta_clean(struct xrepl_pair *pair, struct xrepl_c *xc, bool all);
void xrepl_clean_work(struct work_struct *work);
unsigned long xrepl_clean_interval(void);
void xrepl_meta_merge_marked(struct xrepl_pair *pair);
bool xrepl_meta_remark_dirty(struct xrepl_pair *pair);
bool xrepl_meta_commit_defer(struct xrepl_pair *pair, struct bio_list *go,
			     bool defer);
bool xrepl_meta_mark_dirty(struct xrepl_pair *pair,
			   const struct xrepl_bitmap *bm);
int xrepl_meta_load(struct xrepl_pair *pair,
		    const struct xrepl_sb_info *sb, bool in_sync,
		    char **error);
int xrepl_meta_probe(struct xrepl_c *xc, struct xrepl_sb_info *sb,
		     bool *fresh, char **error);
int xrepl_meta_rw(struct block_device *bdev, struct dm_io_client *client,
		  blk_opf_t opf, u64 block, unsigned int nr_blocks, void *buf);
int xrepl_meta_read_sb(struct block_device *bdev, struct dm_io_client *client,
		       void *buf, bool *fresh, struct xrepl_sb_info *sb,
		       char **error);

/* xrepl-io.c: the I/O path. */
void xrepl_write_submit(struct xrepl_c *xc, struct bio *bio);
/* Issue a write that ships, its entry made, without the journal. */
void xrepl_write_unjournaled(struct xrepl_c *xc, struct bio *bio);
/* End of the local clone of a bio that xrepl_ack_bio() completes. */
void xrepl_local_endio(struct bio *local);
void xrepl_read_work(struct work_struct *work);
void xrepl_remote_work(struct work_struct *work);
int xrepl_map(struct dm_target *ti, struct bio *bio);
int xrepl_end_io(struct dm_target *ti, struct bio *bio,
		 blk_status_t *error);
int xrepl_flush_leg(struct xrepl_pair *pair, struct block_device *bdev,
		    unsigned long gen, bool stop_too);
void xrepl_redispatch(struct bio_list *bios);
int xrepl_sync_io(struct dm_io_client *client, struct block_device *bdev,
		  blk_opf_t opf, sector_t sector, sector_t count,
		  enum dm_io_mem_type type, void *buf);
void xrepl_stats_sum(struct xrepl_pair *pair, struct xrepl_stats *sum);

/* xrepl-jnl.c: the journal device. */
/*
 * Open the journal of xc for its new pair, before its metadata device is
 * loaded: uuid is the pair's, as its metadata names it, or NULL if that is
 * fresh (a new pair).  Reads and judges block 0, writes nothing.  Returns
 * 0 or an error with *error set.  Process context.
 */
int xrepl_jnl_open(struct xrepl_pair *pair, struct xrepl_c *xc,
		   const u8 *uuid, sector_t dev_sectors, char **error);
/* Format, or start a new incarnation, on the pair's first resume. */
int xrepl_jnl_start(struct xrepl_pair *pair, struct xrepl_c *xc);
/*
 * Append the entry of a write that ships, or park the write while it
 * overlaps one in flight or waits for room; false if it is not journaled.
 */
bool xrepl_jnl_write(struct xrepl_c *xc, struct bio *bio, struct xrepl_io *io);
/* The local write of a journaled bio completed (xrepl_end_io()). */
int xrepl_jnl_end_io(struct xrepl_pair *pair, struct bio *bio,
		     blk_status_t *error);
/*
 * An entry (of a journaled pair) joined the ship queue and its local
 * write completed: it leaves flight.  lock held.
 */
void xrepl_jnl_landed_locked(struct xrepl_pair *pair,
			     struct xrepl_shipent *ent);
/* A journaled barrier completed on a remote not degraded. */
void xrepl_jnl_rflushed_locked(struct xrepl_pair *pair,
			       struct xrepl_shipent *ent);
/*
 * A journaled entry left the ship queue: the remote has it (done), or it
 * was dropped.  Whether the remote just reached the point shipped until
 * (a dm event is due).
 */
bool xrepl_jnl_shipped_locked(struct xrepl_pair *pair,
			      struct xrepl_shipent *ent, bool done);
/* Must the ship queue's next entry wait for a tail commit?  lock held. */
bool xrepl_jnl_ship_wait_locked(struct xrepl_pair *pair,
				const struct xrepl_shipent *ent);
/* Suspended, nothing in flight: record the tail (the log is empty). */
void xrepl_jnl_quiesce(struct xrepl_pair *pair, struct xrepl_c *xc);
void xrepl_jnl_resume(struct xrepl_pair *pair);
bool xrepl_jnl_idle_locked(struct xrepl_pair *pair);
/* Is shipping held (see xrepl_jnl.ship_held)?  lock held. */
static inline bool xrepl_jnl_held_locked(const struct xrepl_pair *pair)
{
	return pair->jnl && pair->jnl->ship_held;
}

/*
 * Is shipping held back, by a hold or a delay: a suspend waits for what is
 * in flight only, and a full lag or log degrades the remote rather than
 * wait.  lock held.
 */
static inline bool xrepl_jnl_held_back_locked(const struct xrepl_pair *pair)
{
	return xrepl_jnl_held_locked(pair) || (pair->jnl && pair->jnl->delay_ms);
}

int xrepl_jnl_set_delay(struct xrepl_c *xc, u32 delay_ms, bool msg);
int xrepl_jnl_check_mode(struct xrepl_c *xc);
bool xrepl_jnl_held_recorded(struct xrepl_pair *pair);
void xrepl_jnl_stop_time_locked(struct xrepl_pair *pair);

int xrepl_jnl_hold(struct xrepl_c *xc, bool hold);
int xrepl_jnl_ship_until(struct xrepl_c *xc, u64 until_ms);
/* The ship queue lets ent go to the remote.  lock held. */
static inline void xrepl_jnl_sending_locked(struct xrepl_pair *pair,
					    const struct xrepl_shipent *ent)
{
	if (pair->jnl && ent->jtime_ns > pair->jnl->sent_ns)
		pair->jnl->sent_ns = ent->jtime_ns;
}

/*
 * Data read from the local leg (a copy), or written in sync mode, may be
 * on the remote: none newer than now.  lock held.
 */
void xrepl_jnl_sent_now_locked(struct xrepl_pair *pair);
/* A write goes to the remote outside the ship queue (sync mode). */
static inline void xrepl_jnl_direct(struct xrepl_pair *pair)
{
	struct xrepl_jnl *jnl = pair->jnl;
	s64 now, old;

	if (!jnl)
		return;
	now = ktime_get_real_ns();
	old = atomic64_read(&jnl->direct_ns);
	while (old < now && !atomic64_try_cmpxchg(&jnl->direct_ns, &old, now))
		;
}

/* The writes sent outside the ship queue count in sent_ns.  lock held. */
void xrepl_jnl_direct_fold_locked(struct xrepl_pair *pair);
/* The metadata device works again: a tail commit waiting for it runs. */
void xrepl_jnl_meta_back(struct xrepl_pair *pair);
/* Regions became dirty: marked on disk again before the tail moves. */
void xrepl_jnl_dirtied_locked(struct xrepl_pair *pair, unsigned long first,
			      unsigned long last);
/* The remote may have lost what it completed: those regions get dirty. */
void xrepl_jnl_lost_locked(struct xrepl_pair *pair);
/* Is the journal in use (marks may be cleared by it)?  lock held. */
bool xrepl_jnl_usable_locked(struct xrepl_pair *pair);
/* The entry every one up to which was appended (0: none).  lock held. */
u64 xrepl_jnl_appended_locked(struct xrepl_pair *pair);
/* Make the log durable up to seq and record it; before marks go by it. */
int xrepl_jnl_make_durable(struct xrepl_pair *pair, u64 seq);
int xrepl_jnl_commit_now(struct xrepl_pair *pair, struct block_device *remote);
/* Writes that wait for room in the log try again.  lock held. */
void xrepl_jnl_room_locked(struct xrepl_pair *pair);
/* journal_used_kb, journal_size_kb and ship_point_ms.  lock held. */
void xrepl_jnl_status_locked(struct xrepl_pair *pair, u64 *used_kb,
			     u64 *size_kb, u64 *point_ms);
/*
 * ent's pages were dropped: read its data back from the log, checked.
 * Whether to send it (else it is given up on).  Sleeps; ship_work only.
 */
bool xrepl_jnl_read_back(struct xrepl_pair *pair, struct xrepl_shipent *ent);
/* What an entry's descriptor costs in memory, counted in max_lag_kb. */
static inline size_t xrepl_jnl_desc_bytes(void)
{
	return kmalloc_size_roundup(sizeof(struct xrepl_shipent));
}

/* Free the pages of an entry whose pages were dropped (jdropped). */
void xrepl_jnl_pages_free(struct xrepl_pair *pair, struct xrepl_shipent *ent);
void xrepl_jnl_stop(struct xrepl_pair *pair);
void xrepl_jnl_loaded(struct xrepl_pair *pair, bool may_replay);
bool xrepl_jnl_replaying_locked(struct xrepl_pair *pair);
bool xrepl_jnl_replays_locked(struct xrepl_pair *pair, unsigned long first,
			      unsigned long last);
u64 xrepl_lag_age_ns_locked(struct xrepl_pair *pair);
u64 xrepl_lag_data_time_locked(struct xrepl_pair *pair);
bool xrepl_jnl_fresh(struct xrepl_pair *pair);
void xrepl_jnl_commit_soon_locked(struct xrepl_pair *pair);
void xrepl_jnl_replay_feed(struct xrepl_pair *pair, bool *redispatch);
void xrepl_jnl_free(struct xrepl_pair *pair);

/* xrepl-async.c: the asynchronous modes. */
unsigned int xrepl_ship_bytes(struct bio *bio);
void xrepl_drain_start_locked(struct xrepl_pair *pair);
void xrepl_lag_enter_locked(struct xrepl_c *xc, struct xrepl_io *io,
			    unsigned int bytes);
bool xrepl_lag_leave_locked(struct xrepl_pair *pair, unsigned int bytes);
bool xrepl_lag_room_locked(struct xrepl_pair *pair);
void xrepl_lag_kick(struct xrepl_pair *pair);
void xrepl_lag_work(struct work_struct *work);
void xrepl_ship_now(struct xrepl_pair *pair);
void xrepl_ship_soon(struct xrepl_pair *pair);
void xrepl_ship_kick(struct xrepl_pair *pair, bool redispatch);
enum xrepl_lag_fit { XREPL_LAG_FITS, XREPL_LAG_FULL, XREPL_LAG_WAY };
enum xrepl_lag_fit xrepl_lag_fit_locked(struct xrepl_c *xc,
					unsigned int bytes);
bool xrepl_lag_fits_locked(struct xrepl_c *xc, unsigned int bytes);
bool xrepl_congestion_waits_locked(struct xrepl_c *xc);
bool xrepl_lag_admit(struct xrepl_c *xc, struct bio *bio,
		     struct xrepl_io *io);
void xrepl_ship_free(struct xrepl_pair *pair, struct xrepl_shipent *ent);
void xrepl_ship_init(struct xrepl_shipent *ent, struct xrepl_c *xc);
struct xrepl_shipent *xrepl_ship_alloc(struct xrepl_c *xc, struct bio *bio,
				       struct xrepl_io *io);
bool xrepl_ship_early_locked(struct xrepl_pair *pair,
			     struct xrepl_shipent *ent);
bool xrepl_ack_wait_add_locked(struct xrepl_pair *pair,
			       struct xrepl_shipent *ent, struct bio *bio,
			       u64 deadline_ns, u64 now);
void xrepl_ack_bio(struct bio *bio, blk_status_t status);
void xrepl_ship_put(struct xrepl_pair *pair, struct xrepl_shipent *ent);
/* Does ent stand for regions first to last (else for none, or all)? */
static inline bool xrepl_ship_ranged(const struct xrepl_shipent *ent)
{
	return ent->tracked || (ent->jreplay && ent->s.nr_sectors);
}

/*
 * The remote will not get ent: its regions (or, for a flush, all; for a
 * replay's flush, none: the replay's end marks what it did not send)
 * differ.
 */
void xrepl_ship_lost_locked(struct xrepl_pair *pair,
			    struct xrepl_shipent *ent);
enum hrtimer_restart xrepl_ack_timer(struct hrtimer *timer);
void xrepl_ship_submit(struct xrepl_pair *pair, struct xrepl_shipent *ent);
void xrepl_ship_work(struct work_struct *work);
void xrepl_return_work(struct work_struct *work);
bool xrepl_ship_idle(struct xrepl_pair *pair);
void xrepl_ship_retarget(struct xrepl_c *xc);
void xrepl_ship_abandon(struct xrepl_pair *pair);

/* xrepl-cycle.c: periodic mode. */
int xrepl_cycle_alloc(struct xrepl_pair *pair);
void xrepl_cycle_work(struct work_struct *work);
bool xrepl_cycle_blocks_locked(struct xrepl_pair *pair, unsigned long first,
			       unsigned long last);
bool xrepl_cycle_due_locked(struct xrepl_pair *pair);
bool xrepl_cycle_freeze_locked(struct xrepl_pair *pair);
void xrepl_cycle_abort_locked(struct xrepl_pair *pair, bool again);
void xrepl_cycle_finished_locked(struct xrepl_pair *pair);
void xrepl_cycle_set_mode_locked(struct xrepl_pair *pair,
				 enum xrepl_mode mode);
void xrepl_cycle_arm(struct xrepl_pair *pair);

/* xrepl-undo.c: periodic mode's undo area. */
void xrepl_undo_plan_locked(struct xrepl_pair *pair);
bool xrepl_undo_overflow_locked(struct xrepl_pair *pair);
long xrepl_undo_slot_locked(struct xrepl_pair *pair, struct xrepl_copy *copy);
bool xrepl_undo_failed_locked(struct xrepl_pair *pair, struct xrepl_copy *copy,
			      int err);
int xrepl_undo_save(struct xrepl_copy *copy, unsigned long slot);
void xrepl_undo_connect_locked(struct xrepl_pair *pair,
			       struct block_device *bdev, u64 epoch);
const char *xrepl_undo_state_locked(struct xrepl_pair *pair);
struct xrepl_bitmap *xrepl_resync_set(struct xrepl_pair *pair);

/* xrepl-state.c: the replication state and its events. */
const char *xrepl_degraded_name(enum xrepl_degraded why);
void xrepl_raise_event(struct xrepl_c *xc);
void xrepl_event_work(struct work_struct *work);
void xrepl_resync_account_locked(struct xrepl_pair *pair, unsigned long added);
void xrepl_mark_dirty_locked(struct xrepl_pair *pair, unsigned long first,
			     unsigned long last);
void xrepl_mark_all_dirty_locked(struct xrepl_pair *pair);
void xrepl_sb_changed_locked(struct xrepl_pair *pair);
void xrepl_mark_lost_locked(struct xrepl_pair *pair);
bool xrepl_degrade_locked(struct xrepl_pair *pair, enum xrepl_degraded why);
void xrepl_resync_again_locked(struct xrepl_pair *pair);
bool xrepl_resync_needed_locked(const struct xrepl_pair *pair);
bool xrepl_resync_start_locked(struct xrepl_pair *pair);
void xrepl_resync_want_locked(struct xrepl_pair *pair);
bool xrepl_remote_failed_locked(struct xrepl_pair *pair, bool tracked,
				unsigned long first, unsigned long last);
__printf(2, 3)
void xrepl_report_degraded(struct xrepl_c *xc, const char *fmt, ...);
void xrepl_remote_back_locked(struct xrepl_pair *pair, bool resync_always);
void xrepl_attach_failed_locked(struct xrepl_pair *pair);
void xrepl_state_init_locked(struct xrepl_pair *pair, enum xrepl_degraded why);
void xrepl_state_take_over_locked(struct xrepl_pair *pair,
				  enum xrepl_degraded why, bool consistent);
bool xrepl_lag_wait_release_locked(struct xrepl_pair *pair);
const char *xrepl_remote_state_name(const struct xrepl_pair *pair);

/* xrepl-gate.c: the region gate (see there for its barriers). */
void xrepl_gate_exit(struct xrepl_pair *pair, unsigned long first,
		     unsigned long last);
void xrepl_gate_settle(struct xrepl_pair *pair, unsigned long first,
		       unsigned long last);
void xrepl_gate_exit_settled(struct xrepl_pair *pair, unsigned long first,
			     unsigned long last);
bool xrepl_gate_enter(struct xrepl_pair *pair, unsigned long first,
		      unsigned long last);
bool xrepl_gate_freeze_locked(struct xrepl_pair *pair, unsigned long region);
void xrepl_gate_thaw_locked(struct xrepl_pair *pair, unsigned long region);
void xrepl_gate_keep_busy_locked(struct xrepl_pair *pair, unsigned long from,
				 unsigned long to, bool by_log);

#endif /* XREPL_CORE_H */
