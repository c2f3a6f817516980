// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: the ship queue of the asynchronous modes, which orders the
 * writes on their way to the remote so that the remote image is always one
 * that a crash of the source could have left (see dm-xrepl.h).
 */
#include <linux/bug.h>
#include <linux/list.h>

#include "dm-xrepl.h"

void xrepl_shipq_init(struct xrepl_shipq *q, unsigned int max_inflight)
{
	INIT_LIST_HEAD(&q->queue);
	q->next = NULL;
	q->max_inflight = max_inflight ? max_inflight : 1;
	q->inflight = 0;
	q->barrier_inflight = false;
	q->bytes = 0;
	q->nr = 0;
}

void xrepl_shipq_add_locked(struct xrepl_shipq *q, struct xrepl_ship *s)
{
	s->flags &= XREPL_SHIP_BARRIER;
	list_add_tail(&s->list, &q->queue);
	if (!q->next)
		q->next = s;
	q->bytes += s->bytes;
	q->nr++;
}

void xrepl_shipq_insert_locked(struct xrepl_shipq *q, struct xrepl_ship *s)
{
	s->flags &= XREPL_SHIP_BARRIER;
	list_add_tail(&s->list, q->next ? &q->next->list : &q->queue);
	q->next = s;
	q->bytes += s->bytes;
	q->nr++;
}

bool xrepl_ship_overlap(const struct xrepl_ship *a, const struct xrepl_ship *b)
{
	return a->nr_sectors && b->nr_sectors &&
	       a->sector < b->sector + b->nr_sectors &&
	       b->sector < a->sector + a->nr_sectors;
}

/* Does s overlap an entry in flight?  Those are the entries before it. */
static bool ship_blocked(const struct xrepl_shipq *q,
			 const struct xrepl_ship *s)
{
	const struct xrepl_ship *t;

	list_for_each_entry(t, &q->queue, list) {
		if (t == s)
			break;
		if (xrepl_ship_overlap(s, t))
			return true;
	}
	return false;
}

struct xrepl_ship *xrepl_shipq_next_locked(struct xrepl_shipq *q)
{
	struct xrepl_ship *s = q->next;

	if (!s || q->barrier_inflight || q->inflight >= q->max_inflight)
		return NULL;
	if (s->flags & XREPL_SHIP_BARRIER) {
		if (q->inflight)
			return NULL;
		q->barrier_inflight = true;
	} else if (ship_blocked(q, s)) {
		return NULL;
	}
	s->flags |= XREPL_SHIP_ISSUED;
	q->inflight++;
	q->next = list_is_last(&s->list, &q->queue) ? NULL :
		  list_next_entry(s, list);
	return s;
}

void xrepl_shipq_done_locked(struct xrepl_shipq *q, struct xrepl_ship *s)
{
	if (WARN_ON_ONCE(!(s->flags & XREPL_SHIP_ISSUED)))
		return;
	list_del_init(&s->list);
	s->flags &= ~XREPL_SHIP_ISSUED;
	q->inflight--;
	if (s->flags & XREPL_SHIP_BARRIER)
		q->barrier_inflight = false;
	q->bytes -= s->bytes;
	q->nr--;
}

void xrepl_shipq_take_waiting_locked(struct xrepl_shipq *q,
				     struct list_head *out)
{
	struct xrepl_ship *s = q->next, *tmp;

	if (!s)
		return;
	list_for_each_entry_safe_from(s, tmp, &q->queue, list) {
		list_move_tail(&s->list, out);
		q->bytes -= s->bytes;
		q->nr--;
	}
	q->next = NULL;
}

u64 xrepl_shipq_oldest_ns(const struct xrepl_shipq *q)
{
	if (list_empty(&q->queue))
		return 0;
	return list_first_entry(&q->queue, struct xrepl_ship, list)->queued_ns;
}
