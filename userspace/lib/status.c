// SPDX-License-Identifier: GPL-2.0-only
/*
 * The status line of an xrepl device, parsed (status.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

void status_parse(struct xstatus *s, const char *name, uint64_t sectors,
		  char *params)
{
	char *save = NULL;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->sectors = sectors;
	/* Not strtok(): the monitor's threads parse at the same time. */
	for (char *tok = strtok_r(params, " ", &save); tok && s->nr < MAX_KV;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		snprintf(s->kv[s->nr].key, sizeof(s->kv[s->nr].key), "%s", tok);
		snprintf(s->kv[s->nr].val, sizeof(s->kv[s->nr].val), "%s", eq + 1);
		s->nr++;
	}
}

const char *st_str(const struct xstatus *s, const char *key)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].val;
	return NULL;
}

const char *st_str_or(const struct xstatus *s, const char *key, const char *none)
{
	const char *v = st_str(s, key);

	return v ? v : none;
}

uint64_t st_num(const struct xstatus *s, const char *key)
{
	const char *v = st_str(s, key);

	return v ? strtoull(v, NULL, 10) : 0;
}

/* "a/b" fields: which = 0 for a, 1 for b. */
uint64_t st_frac(const struct xstatus *s, const char *key, int which)
{
	const char *v = st_str(s, key), *slash;

	if (!v)
		return 0;
	slash = strchr(v, '/');
	if (which)
		return slash ? strtoull(slash + 1, NULL, 10) : 0;
	return strtoull(v, NULL, 10);
}

/* Whether key is present in s with the value val. */
bool st_is(const struct xstatus *s, const char *key, const char *val)
{
	return st_str(s, key) && !strcmp(st_str(s, key), val);
}


/* The remote site's metadata verdicts that refuse a connection. */
static bool peer_refused(const struct xstatus *s)
{
	return st_is(s, "peer", "promoted") || st_is(s, "peer", "split-brain") ||
	       st_is(s, "peer", "unrelated");
}

enum xhealth st_health(const struct xstatus *s, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (st_num(s, "meta_failed")) {
		*why = "meta-failed";
		return XHEALTH_FAILED;
	}
	if (peer_refused(s)) {
		*why = "peer-refused";
		return XHEALTH_FAILED;
	}
	if (st_is(s, "remote", "resyncing") && !st_num(s, "resync_active")) {
		*why = "resync-stalled";
		return XHEALTH_FAILED;
	}
	if (st_is(s, "remote", "degraded")) {
		*why = "degraded";
		return XHEALTH_DEGRADED;
	}
	/* Periodic mode: healthy while the remote holds a consistent point. */
	if (st_is(s, "remote", "point") || st_is(s, "remote", "cycling")) {
		*why = st_str(s, "remote");
		return st_is(s, "consistent", "yes") ? XHEALTH_OK :
						       XHEALTH_DEGRADED;
	}
	if (!st_is(s, "remote", "insync")) {
		*why = st_str(s, "remote") ? "resyncing" : "unknown";
		return st_str(s, "remote") ? XHEALTH_DEGRADED : XHEALTH_FAILED;
	}
	*why = "insync";
	return XHEALTH_OK;
}

const char *xhealth_name(enum xhealth h)
{
	static const char *const names[] = { "ok", "degraded", "failed" };

	return h <= XHEALTH_FAILED ? names[h] : "failed";
}
