/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The status line of an xrepl device, parsed: its key=value fields.
 * Plain C, no libdevmapper, safe to use from several threads at once
 * (the monitor's threads each parse their own status).
 */
#ifndef XREPL_STATUS_H
#define XREPL_STATUS_H

#include <linux/dm-ioctl.h>
#include <stdbool.h>
#include <stdint.h>

/* One key=value field of a status line. */
struct kv {
	char key[32];
	char val[64];
};

/* The fields of a status line that are kept, at most. */
#define MAX_KV	64

/* The status of an xrepl device: its name, length and status line. */
struct xstatus {
	char name[DM_NAME_LEN];
	uint64_t sectors;
	unsigned int nr;
	struct kv kv[MAX_KV];
};

/*
 * Fill s from a device's name, length and status line (params, which is
 * cut up in place); words without '=' are skipped.
 */
void status_parse(struct xstatus *s, const char *name, uint64_t sectors,
		  char *params);
/* The value of key in s, or NULL if s has no such field. */
const char *st_str(const struct xstatus *s, const char *key);
/* The value of key in s, or none if s has no such field. */
const char *st_str_or(const struct xstatus *s, const char *key, const char *none);
/* The value of key in s as a number; 0 if s has no such field. */
uint64_t st_num(const struct xstatus *s, const char *key);
/* Of a field "a/b" of s: a (which = 0) or b (which = 1); else 0. */
uint64_t st_frac(const struct xstatus *s, const char *key, int which);
/* Whether key is present in s with the value val. */
bool st_is(const struct xstatus *s, const char *key, const char *val);

/*
 * What status --check and the metrics make of a status, worst last:
 * in sync; degraded or resyncing (the remote misses writes, and the
 * device or the monitor can bring it back); failed (an administrator
 * must act: a metadata write failed, the remote site's metadata was
 * refused, or a resync stalled).
 */
enum xhealth {
	XHEALTH_OK = 0,
	XHEALTH_DEGRADED = 1,
	XHEALTH_FAILED = 2,
};

/* The health of s, and in *why (unless NULL) a word for its reason. */
enum xhealth st_health(const struct xstatus *s, const char **why);
/* "ok", "degraded" or "failed". */
const char *xhealth_name(enum xhealth h);

#endif
