// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the metrics command.  Every xrepl device's state and counters
 * in Prometheus' text exposition format (version 0.0.4), for the
 * node_exporter textfile collector or any scraper: one family per
 * metric, HELP and TYPE first, one sample per device labelled
 * device="<name>"; states as state sets (one sample per state, 1 for the
 * current one), so that an alert needs no string match.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xreplctl.h"

/* A number of a status: a key's value, or one worked out of several. */
typedef double (*metric_fn)(const struct xstatus *s);

struct metric {
	const char *name;	/* after "xrepl_" */
	const char *type;	/* "gauge" or "counter" */
	const char *help;
	const char *key;	/* the status key, if fn is NULL */
	double scale;		/* the key's value times this (0: 1) */
	metric_fn fn;
};

static double m_size(const struct xstatus *s)
{
	return (double)s->sectors * 512;
}

static double m_health(const struct xstatus *s)
{
	return st_health(s, NULL);
}

static double m_regions(const struct xstatus *s)
{
	return (double)st_frac(s, "dirty", 1);
}

static double m_dirty(const struct xstatus *s)
{
	return (double)st_frac(s, "dirty", 0);
}

static double m_out_of_sync(const struct xstatus *s)
{
	uint64_t sectors = st_frac(s, "dirty", 0) * st_num(s, "region_size");

	return (double)(sectors < s->sectors ? sectors : s->sectors) * 512;
}

static double m_consistent(const struct xstatus *s)
{
	return st_is(s, "consistent", "yes");
}

static double m_lag_seconds(const struct xstatus *s)
{
	return (double)st_num(s, "oldest_lag_ms") / 1000.0;
}

static double m_resync_done(const struct xstatus *s)
{
	return (double)st_frac(s, "resync", 0);
}

static double m_resync_total(const struct xstatus *s)
{
	return (double)st_frac(s, "resync", 1);
}

static double m_resync_ratio(const struct xstatus *s)
{
	uint64_t total = st_frac(s, "resync", 1);

	return total ? (double)st_frac(s, "resync", 0) / (double)total : 1.0;
}

static const struct metric metrics[] = {
	{ "size_bytes", "gauge", "Size of the device.", NULL, 0, m_size },
	{ "health", "gauge",
	  "What status --check makes of the device: 0 in sync, 1 degraded or resyncing, 2 failed.",
	  NULL, 0, m_health },
	{ "region_size_bytes", "gauge", "Size of a region of the dirty bitmap.",
	  "region_size", 512, NULL },
	{ "regions", "gauge", "Regions of the device.", NULL, 0, m_regions },
	{ "dirty_regions", "gauge", "Regions the remote may miss (dirty in the bitmap).",
	  NULL, 0, m_dirty },
	{ "out_of_sync_bytes", "gauge", "Size of the dirty regions: what a resync copies, at most.",
	  NULL, 0, m_out_of_sync },
	{ "consistent", "gauge", "1 if the remote holds a consistent image.",
	  NULL, 0, m_consistent },
	{ "lag_bytes", "gauge", "Data acknowledged or admitted and not yet on the remote.",
	  "lag_bytes", 0, NULL },
	{ "lag_writes", "gauge", "Writes and flushes admitted and not yet on the remote.",
	  "lag_writes", 0, NULL },
	{ "lag_seconds", "gauge",
	  "Age of the oldest write acknowledged and not yet on the remote: the age of the recovery point; 0 if none.",
	  NULL, 0, m_lag_seconds },
	{ "draining", "gauge", "1 while writes of an asynchronous mode drain after mode sync.",
	  "draining", 0, NULL },
	{ "held", "gauge", "1 while shipping to the remote is held (hold, ship_until).",
	  "held", 0, NULL },
	{ "journal_used_bytes", "gauge", "The journal's log in use.", "journal_used_kb", 1024,
	  NULL },
	{ "journal_size_bytes", "gauge", "The journal's log.", "journal_size_kb", 1024, NULL },
	{ "resync_active", "gauge", "1 while a resync is wanted.", "resync_active", 0, NULL },
	{ "resync_done_regions", "gauge", "Regions copied by the current or last resync.",
	  NULL, 0, m_resync_done },
	{ "resync_total_regions", "gauge", "Regions to copy in the current or last resync.",
	  NULL, 0, m_resync_total },
	{ "resync_progress_ratio", "gauge", "Progress of the current or last resync, 0 to 1.",
	  NULL, 0, m_resync_ratio },
	{ "resync_rate_bytes_per_second", "gauge", "Average rate of the running resync.",
	  "resync_rate", 1024, NULL },
	{ "resync_rate_limit_bytes_per_second", "gauge", "Resync rate limit; 0 for none.",
	  "resync_rate_kbps", 1024, NULL },
	{ "marked_regions", "gauge", "Regions marked on the metadata device.", "marked", 0, NULL },
	{ "meta_failed", "gauge", "1 after a metadata write failed.", "meta_failed", 0, NULL },
	{ "resync_copied_regions_total", "counter", "Regions copied to the remote by every resync.",
	  "copied_regions", 0, NULL },
	{ "writes_total", "counter", "Write, discard and write-zeroes bios mapped.",
	  "writes", 0, NULL },
	{ "remote_writes_total", "counter", "Writes and flushes sent to the remote.",
	  "remote_writes", 0, NULL },
	{ "remote_errors_total", "counter", "Failed remote I/Os.", "remote_errors", 0, NULL },
	{ "local_errors_total", "counter", "Failed local I/Os.", "local_errors", 0, NULL },
	{ "local_read_errors_total", "counter", "Reads the local leg failed.",
	  "local_read_errors", 0, NULL },
	{ "remote_reads_total", "counter", "Reads the local leg failed that the remote served.",
	  "remote_reads", 0, NULL },
	{ "meta_writes_total", "counter", "Metadata blocks written.", "meta_writes", 0, NULL },
	{ "peer_meta_writes_total", "counter", "Superblock writes to the remote site's metadata.",
	  "peer_meta_writes", 0, NULL },
	{ "lag_waits_total", "counter", "Writes that waited for room at the lag bound.",
	  "lag_waits", 0, NULL },
	{ "semi_timeouts_total", "counter",
	  "Semi-sync writes acknowledged on the timeout rather than by the remote.",
	  "semi_timeouts", 0, NULL },
	{ NULL, NULL, NULL, NULL, 0, NULL }
};

/* A state set: one sample per state, labelled label="<state>". */
struct stateset {
	const char *name;
	const char *help;
	const char *key;
	const char *label;
	const char *const states[8];
};

static const struct stateset statesets[] = {
	{ "remote_state", "State of the remote leg: 1 for the current one.", "remote", "state",
	  { "insync", "resyncing", "degraded", "point", "cycling", NULL } },
	{ "degraded_by", "Why the remote receives no writes (none if it does): 1 for the current reason.",
	  "degraded_by", "reason",
	  { "none", "error", "admin", "probe", "congestion", "absent",
	    "journal", NULL } },
	{ "mode", "Replication mode: 1 for the current one.", "mode", "mode",
	  { "sync", "semi-sync", "async", "periodic", NULL } },
	{ "peer", "The remote site's metadata: 1 for the current verdict.", "peer", "verdict",
	  { "none", "ok", "unknown", "promoted", "split-brain", "unrelated", NULL } },
	{ NULL, NULL, NULL, NULL, { NULL } }
};

/* A label value, escaped as the text format wants (\\, \" and \n). */
static void put_label(const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", stdout);
		else
			putchar(*v);
	}
}

static void put_sample(const char *name, const struct xstatus *s,
		       const char *label, const char *value, double v)
{
	printf("xrepl_%s{device=\"", name);
	put_label(s->name);
	if (label) {
		printf("\",%s=\"", label);
		put_label(value);
	}
	printf("\"} %.17g\n", v);
}

/* Print the metrics of the statuses s[0..n-1]. */
void metrics_print(const struct xstatus *s, size_t n)
{
	const struct metric *m;
	const struct stateset *set;
	size_t i;
	int j;

	printf("# HELP xrepl_devices xrepl devices reported.\n"
	       "# TYPE xrepl_devices gauge\nxrepl_devices %zu\n", n);
	for (m = metrics; m->name; m++) {
		printf("# HELP xrepl_%s %s\n# TYPE xrepl_%s %s\n", m->name,
		       m->help, m->name, m->type);
		for (i = 0; i < n; i++) {
			double v = m->fn ? m->fn(&s[i]) :
				(double)st_num(&s[i], m->key) * (m->scale ? m->scale : 1);

			put_sample(m->name, &s[i], NULL, NULL, v);
		}
	}
	for (set = statesets; set->name; set++) {
		printf("# HELP xrepl_%s %s\n# TYPE xrepl_%s gauge\n", set->name,
		       set->help, set->name);
		for (i = 0; i < n; i++)
			for (j = 0; set->states[j]; j++)
				put_sample(set->name, &s[i], set->label, set->states[j],
					   st_is(&s[i], set->key, set->states[j]));
	}
}

int cmd_metrics(int argc, char **argv)
{
	struct xstatus *s;
	size_t n;
	int i, r;

	for (i = 1; i < argc; i++)
		check_name(argv[i]);
	if (dry_run)
		usage_error("metrics sends nothing: --dry-run makes no sense");
	r = read_statuses("metrics", argv + 1, argc - 1, &s, &n);
	if (r)
		return r;
	metrics_print(s, n);
	free(s);
	if (fflush(stdout)) {
		msg("metrics: cannot write");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
