// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the adjust command, as drbdadm adjust: bring a running device
 * to what <config_dir>/<name>.conf says.  What the target changes at run
 * time (the mode, resync_rate_kbps, semi_timeout_ms, max_lag_kb, period_s,
 * congestion, delay_ms) is sent as messages; what only a new table changes
 * (the legs, the metadata devices, the journal, region_size,
 * on_remote_error) is named with the way to apply it, and then nothing at
 * all is changed.  A file without delay_ms leaves the delay in effect, as
 * up does (a table without it takes the delay the journal recorded).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "xrepl-limits.h"
#include "xreplctl.h"

/* The running table line, split: the devices and the optional arguments. */
struct table {
	char buf[1024];
	const char *local, *remote, *meta, *remote_meta, *journal;
	const char *on_remote_error, *congestion;
	uint64_t region_size, rate_kbps, semi_timeout_ms, max_lag_kb, period_s;
};

static int table_parse(struct table *t)
{
	char *save = NULL, *w[4], *tok;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		w[i] = strtok_r(i ? NULL : t->buf, " ", &save);
		if (!w[i])
			return -1;
	}
	t->local = w[0];
	t->remote = w[1];
	t->meta = w[2];
	t->remote_meta = "-";
	t->journal = "-";
	t->on_remote_error = "degrade";
	t->congestion = "block";
	t->region_size = XREPL_DEFAULT_REGION_SIZE;
	t->rate_kbps = 0;
	t->semi_timeout_ms = XREPL_DEFAULT_SEMI_TIMEOUT_MS;
	t->max_lag_kb = XREPL_DEFAULT_LAG_KB;
	t->period_s = XREPL_DEFAULT_PERIOD_S;
	if (!strtok_r(NULL, " ", &save))	/* the count of optional words */
		return 0;
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *val;

		if (!strcmp(tok, "nosync"))
			continue;
		val = strtok_r(NULL, " ", &save);
		if (!val)
			return -1;
		if (!strcmp(tok, "region_size"))
			t->region_size = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "resync_rate_kbps"))
			t->rate_kbps = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "semi_timeout_ms"))
			t->semi_timeout_ms = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "max_lag_kb"))
			t->max_lag_kb = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "period_s"))
			t->period_s = strtoull(val, NULL, 10);
		else if (!strcmp(tok, "congestion"))
			t->congestion = val;
		else if (!strcmp(tok, "on_remote_error"))
			t->on_remote_error = val;
		else if (!strcmp(tok, "remote_meta"))
			t->remote_meta = val;
		else if (!strcmp(tok, "journal"))
			t->journal = val;
	}
	return 0;
}

/* The value of key in the configuration's optional arguments, or def. */
static const char *conf_opt(const struct create_args *a, const char *key,
			    const char *def, char *buf, size_t len)
{
	const char *p = a->opts;
	size_t klen = strlen(key);

	while (*p) {
		const char *end = strchr(p, ' ');
		const char *val = end ? end + 1 : "";
		const char *vend = strchr(val, ' ');

		if (!end)
			break;
		if ((size_t)(end - p) == klen && !strncmp(p, key, klen)) {
			snprintf(buf, len, "%.*s", (int)(vend ? vend - val : (long)strlen(val)), val);
			return buf;
		}
		if (!vend)
			break;
		p = vend + 1;
	}
	return def;
}

/* "major:minor" of path, for comparing with the table; NULL if none. */
static const char *devnum(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (!strcmp(path, "-"))
		return "-";
	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return NULL;
	snprintf(buf, len, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	return buf;
}

struct adjust {
	const char *name;
	unsigned int reload;		/* differences only a new table makes */
	unsigned int nr_msgs;
	char msgs[8][96];		/* the messages that apply the rest */
};

static void needs_reload(struct adjust *adj, const char *what, const char *conf,
			 const char *running)
{
	msg("adjust: %s: %s: the configuration says %s, the device has %s: only a new table changes it",
	    adj->name, what, conf, running);
	adj->reload++;
}

static void compare_dev(struct adjust *adj, const char *what, const char *path,
			const char *running)
{
	char buf[32];
	const char *want = devnum(path, buf, sizeof(buf));

	if (!want) {
		msg("adjust: %s: %s: %s is not a block device that can be looked at",
		    adj->name, what, path);
		adj->reload++;
	} else if (strcmp(want, running)) {
		char conf[300];

		snprintf(conf, sizeof(conf), "%s (%s)", path, want);
		needs_reload(adj, what, conf, running);
	}
}

static char *next_msg(struct adjust *adj)
{
	if (adj->nr_msgs == sizeof(adj->msgs) / sizeof(adj->msgs[0])) {
		msg("adjust: %s: too many changes at once", adj->name);
		exit(EXIT_FAILED);
	}
	return adj->msgs[adj->nr_msgs++];
}

static void compare_set(struct adjust *adj, const char *key, const char *want,
			const char *running)
{
	if (!strcmp(want, running))
		return;
	snprintf(next_msg(adj), sizeof(adj->msgs[0]), "set %s %s", key, want);
}

static void compare_num(struct adjust *adj, const struct create_args *a,
			const char *key, uint64_t def, uint64_t running)
{
	char buf[32], defs[24], run[24];

	snprintf(defs, sizeof(defs), "%" PRIu64, def);
	snprintf(run, sizeof(run), "%" PRIu64, running);
	compare_set(adj, key, conf_opt(a, key, defs, buf, sizeof(buf)), run);
}

int cmd_adjust(int argc, char **argv)
{
	struct adjust adj = { 0 };
	struct create_args *a;
	struct table *t = NULL;
	struct xstatus *s = NULL;
	struct conf *c = NULL;
	const char *policy, *delay, *cur_delay;
	uint64_t sectors;
	char buf[32], dbuf[32];
	unsigned int i;
	int r;

	if (argc != 2)
		usage_error("adjust wants one device name");
	adj.name = argv[1];
	check_name(adj.name);
	c = conf_get(adj.name);
	if (!c)
		return EXIT_USAGE;
	a = conf_args(c);
	r = check_xrepl(adj.name);
	if (r)
		goto out;
	r = EXIT_FAILED;
	t = malloc(sizeof(*t));
	s = malloc(sizeof(*s));
	if (!t || !s)
		goto out;
	if (dev_table(adj.name, &sectors, t->buf, sizeof(t->buf)) || table_parse(t) ||
	    read_status(adj.name, s)) {
		msg("adjust: %s: cannot read the device's table", adj.name);
		goto out;
	}

	/* What only a new table changes. */
	compare_dev(&adj, "local", a->local, t->local);
	if (!strcmp(t->remote, "-") && strcmp(a->remote, "-")) {
		/* A state (the remote site is away), not a difference. */
		msg("adjust: %s: the device runs without its remote: 'xreplctl attach %s' attaches %s",
		    adj.name, adj.name, a->remote);
	} else {
		compare_dev(&adj, "remote", a->remote, t->remote);
	}
	compare_dev(&adj, "meta", a->no_meta ? "-" : a->meta, t->meta);
	if (strcmp(t->remote, "-"))
		compare_dev(&adj, "remote_meta", a->remote_meta ? a->remote_meta : "-",
			    t->remote_meta);
	compare_dev(&adj, "journal", a->journal ? a->journal : "-", t->journal);
	if (a->region_bytes && a->region_bytes >> 9 != t->region_size) {
		char conf[32], running[32];

		needs_reload(&adj, "region_size", size_str(a->region_bytes, conf, sizeof(conf)),
			     size_str(t->region_size << 9, running, sizeof(running)));
	}
	policy = conf_opt(a, "on_remote_error", "degrade", buf, sizeof(buf));
	if (strcmp(policy, t->on_remote_error))
		needs_reload(&adj, "on_remote_error", policy, t->on_remote_error);
	if (adj.reload) {
		msg("adjust: %s: nothing changed; to apply the configuration, take the device down and up again ('xreplctl down %s; xreplctl up %s')",
		    adj.name, adj.name, adj.name);
		r = EXIT_FAILED;
		goto out;
	}

	/*
	 * What messages change at run time.  Only async mode delays: leaving
	 * it, the delay goes first (the target refuses another mode while
	 * delayed); entering it, the mode goes first.
	 */
	delay = conf_opt(a, "delay_ms", NULL, dbuf, sizeof(dbuf));
	cur_delay = st_str(s, "delay_ms");
	if (!st_is(s, "mode", a->mode) && st_num(s, "held")) {
		/* The target refuses it: change nothing, the delay included. */
		msg("adjust: %s: mode: the configuration says %s, the device has %s, but its shipping is held: 'xreplctl release %s' first; nothing changed",
		    adj.name, a->mode, st_str_or(s, "mode", "?"), adj.name);
		r = EXIT_FAILED;
		goto out;
	}
	if (cur_delay && strcmp(a->mode, "async") && strcmp(cur_delay, "0")) {
		compare_set(&adj, "delay_ms", "0", cur_delay);
		cur_delay = "0";
	}
	if (!st_is(s, "mode", a->mode))
		snprintf(next_msg(&adj), sizeof(adj.msgs[0]), "mode %s", a->mode);
	if (cur_delay && delay)
		compare_set(&adj, "delay_ms", delay, cur_delay);
	compare_num(&adj, a, "resync_rate_kbps", 0, t->rate_kbps);
	compare_num(&adj, a, "semi_timeout_ms", XREPL_DEFAULT_SEMI_TIMEOUT_MS,
		    t->semi_timeout_ms);
	compare_num(&adj, a, "max_lag_kb", XREPL_DEFAULT_LAG_KB, t->max_lag_kb);
	compare_num(&adj, a, "period_s", XREPL_DEFAULT_PERIOD_S, t->period_s);
	compare_set(&adj, "congestion", conf_opt(a, "congestion", "block", buf, sizeof(buf)),
		    t->congestion);
	r = EXIT_OK;
	if (!adj.nr_msgs)
		printf("%s: nothing to change\n", adj.name);
	for (i = 0; i < adj.nr_msgs && !r; i++) {
		r = send_message(adj.name, adj.msgs[i]);
		if (!r && !dry_run)
			printf("%s: %s\n", adj.name, adj.msgs[i]);
	}
out:
	free(s);
	free(t);
	free(c);
	return r;
}
