// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the status command.  One row per xrepl device, or the JSON
 * object xreplctl(8) documents, from the status line read without
 * flushing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "xreplctl.h"

static void print_json(const struct xstatus *s, bool first)
{
	static const char *const nums[] = { "remote_errors", "local_errors",
		"region_size", "copied_regions", "writes", "remote_writes",
		"resync_rate", "resync_rate_kbps", "meta_writes", "marked",
		"lag_bytes", "lag_writes", "oldest_lag_ms", "lag_waits",
		"semi_timeouts", "peer_meta_writes", "local_read_errors",
		"remote_reads", NULL };
	unsigned int i;

	printf("%s\n    {\"name\": ", first ? "" : ",");
	json_str(s->name);
	printf(", \"sectors\": %" PRIu64 ", \"mode\": ", s->sectors);
	json_str(st_str(s, "mode") ? st_str(s, "mode") : "");
	printf(", \"remote\": ");
	json_str(st_str(s, "remote") ? st_str(s, "remote") : "");
	printf(", \"degraded_by\": ");
	json_str(st_str(s, "degraded_by") ? st_str(s, "degraded_by") : "");
	printf(", \"consistent\": %s",
	       st_str(s, "consistent") && !strcmp(st_str(s, "consistent"), "yes") ?
	       "true" : "false");
	printf(", \"dirty_regions\": %" PRIu64 ", \"total_regions\": %" PRIu64,
	       st_frac(s, "dirty", 0), st_frac(s, "dirty", 1));
	printf(", \"resync_done\": %" PRIu64 ", \"resync_total\": %" PRIu64,
	       st_frac(s, "resync", 0), st_frac(s, "resync", 1));
	printf(", \"resync_active\": %s, \"draining\": %s, \"meta_failed\": %s",
	       st_num(s, "resync_active") ? "true" : "false",
	       st_num(s, "draining") ? "true" : "false",
	       st_num(s, "meta_failed") ? "true" : "false");
	printf(", \"meta\": ");
	json_str(st_str(s, "meta") ? st_str(s, "meta") : "-");
	printf(", \"peer\": ");
	json_str(st_str(s, "peer") ? st_str(s, "peer") : "");
	for (i = 0; nums[i]; i++)
		printf(", \"%s\": %" PRIu64, nums[i], st_num(s, nums[i]));
	printf("}");
}

static void print_row(const struct xstatus *s)
{
	char dirty[48], resync[64], lag[48];
	uint64_t total = st_frac(s, "resync", 1);

	snprintf(dirty, sizeof(dirty), "%" PRIu64 "/%" PRIu64,
		 st_frac(s, "dirty", 0), st_frac(s, "dirty", 1));
	if (st_num(s, "resync_active") && total)
		snprintf(resync, sizeof(resync), "%" PRIu64 "%% %" PRIu64 "KiB/s",
			 st_frac(s, "resync", 0) * 100 / total,
			 st_num(s, "resync_rate"));
	else
		snprintf(resync, sizeof(resync), "-");
	snprintf(lag, sizeof(lag), "%" PRIu64 "KiB/%" PRIu64 "ms",
		 st_num(s, "lag_bytes") >> 10, st_num(s, "oldest_lag_ms"));
	printf("%-20s %-9s %-9s %-10s %-12s %-14s %-16s %-4s %-11s %" PRIu64 "/%" PRIu64 "\n",
	       s->name, st_str(s, "mode") ? st_str(s, "mode") : "?",
	       st_str(s, "remote") ? st_str(s, "remote") : "?",
	       st_str(s, "degraded_by") ? st_str(s, "degraded_by") : "?", dirty,
	       resync, lag, st_str(s, "consistent") ? st_str(s, "consistent") : "?",
	       st_str(s, "peer") ? st_str(s, "peer") : "?",
	       st_num(s, "remote_errors"), st_num(s, "local_errors"));
}

struct shown {
	bool json;
	unsigned int n;
};

static void show(const struct xstatus *s, void *ctx)
{
	struct shown *sh = ctx;

	if (sh->json)
		print_json(s, !sh->n);
	else
		print_row(s);
	sh->n++;
}

/*
 * status: the report goes to a buffer and is printed only if every device
 * could be read; a failure is an error on stderr and a non-zero exit with
 * nothing on stdout, never an empty list that reads as "nothing degraded".
 */
int cmd_status(const char *name, bool json)
{
	struct shown sh = { .json = json };
	FILE *real = stdout, *mem;
	char *buf = NULL;
	size_t len = 0;
	struct xstatus s;
	int r;

	if (name)
		check_name(name);
	fflush(stdout);
	mem = open_memstream(&buf, &len);
	if (!mem) {
		msg("status: %s", strerror(errno));
		return EXIT_FAILED;
	}
	stdout = mem;
	if (json)
		printf("{\"devices\": [");
	else
		printf("%-20s %-9s %-9s %-10s %-12s %-14s %-16s %-4s %-11s %s\n",
		       "NAME", "MODE", "REMOTE", "DEGRADED", "DIRTY", "RESYNC",
		       "LAG/OLDEST", "CONS", "PEER", "ERRORS(R/L)");
	if (name) {
		r = read_status(name, &s);
		if (!r)
			show(&s, &sh);
	} else {
		r = for_each_xrepl(show, &sh);
	}
	if (json)
		printf("%s]}\n", sh.n ? "\n  " : "");
	stdout = real;
	if (fclose(mem) && !r)
		r = EXIT_FAILED;
	if (r == EXIT_NODEV)
		msg("status: %s: no such xrepl device", name);
	else if (r)
		msg("status: cannot read the device-mapper devices");
	else
		fwrite(buf, 1, len, stdout);
	free(buf);
	return r;
}
