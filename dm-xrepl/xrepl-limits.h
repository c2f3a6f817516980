/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl: defaults and limits of the table line's arguments.
 *
 * Shared by the kernel target and the userspace tools (xreplctl,
 * xrepl-check), which check what they send or read against the same
 * numbers and print the ranges from them: plain integer constants, no
 * kernel-only macros or types.
 */
#ifndef DM_XREPL_LIMITS_H
#define DM_XREPL_LIMITS_H

/* Region size in 512-byte sectors: 512 KiB, as LVM mirrors use. */
#define XREPL_DEFAULT_REGION_SIZE	1024U
#define XREPL_MIN_REGION_SIZE		8U
/* 1 GiB regions: beyond that a resync copy unit is unreasonably large. */
#define XREPL_MAX_REGION_SIZE		2097152U	/* 2^21 */
/* Caps the in-memory bitmap at 16 MiB (64 TiB at the default region size). */
#define XREPL_MAX_REGIONS		134217728UL	/* 2^27 */

/*
 * Semi-sync: a write is acknowledged at the latest this long after it was
 * issued.  100 ms is above the latency of a healthy remote across a WAN
 * (so a healthy remote is kept in sync) and far below the I/O timeouts of
 * applications and guests (so a stalled one does not stall them).
 */
#define XREPL_DEFAULT_SEMI_TIMEOUT_MS	100U
#define XREPL_MIN_SEMI_TIMEOUT_MS	1U
#define XREPL_MAX_SEMI_TIMEOUT_MS	60000U
/*
 * Data held for the remote in the asynchronous modes.  At least one
 * largest ship entry (256 KiB), at most 16 GiB.
 */
#define XREPL_DEFAULT_LAG_KB		65536U
#define XREPL_MIN_LAG_KB		256U
#define XREPL_MAX_LAG_KB		16777216U

/*
 * Periodic mode: seconds from the start of one cycle to the start of the
 * next.  Every cycle costs a flush of the remote and a superblock write on
 * each site whatever it copies, and a point in time younger than a few
 * seconds is what the asynchronous mode is for: at least 5 s.  At most a
 * day: a longer schedule belongs to a timer that sends "cycle".
 */
#define XREPL_DEFAULT_PERIOD_S		300U
#define XREPL_MIN_PERIOD_S		5U
#define XREPL_MAX_PERIOD_S		86400U

/*
 * Delayed replication (async mode with a journal): an entry ships once it
 * is this old, in ms.  0, the default, ships at once; at most a week.
 */
#define XREPL_MAX_DELAY_MS		604800000U

/* Resync rate in KiB/s: 0 (the default) is unlimited, else any u32. */
#define XREPL_MAX_RESYNC_RATE_KBPS	4294967295U

#endif /* DM_XREPL_LIMITS_H */
