// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host test of xreplctl's status report, health and metrics: the real
 * xreplctl-report.c, xreplctl-metrics.c and lib/status.c, fed the status
 * lines of four devices in known states (no device-mapper needed).
 *
 *   report [status options]   print the report, as "xreplctl status" does
 *   health                    print "<name> <health> <reason>" per device
 *   metrics                   print the metrics
 *
 * Exits with report_print()'s exit status.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xreplctl.h"

/* What the real xreplctl-args.c and xreplctl-status.c give the files tested. */
bool dry_run;
int usage_exit = EXIT_USAGE;

void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("xreplctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(usage_exit);
}

void check_name(const char *name)
{
	(void)name;
}

int read_statuses(const char *what, char **names, int nr_names,
		  struct xstatus **out, size_t *n)
{
	(void)what;
	(void)names;
	(void)nr_names;
	(void)out;
	(void)n;
	return EXIT_FAILED;
}

/* Name, sectors, status line. */
static const char *const devices[][3] = {
	{ "vm-b", "2097152",
	  "mode=sync remote=insync dirty=0/2048 resync=2048/2048 remote_errors=0 local_errors=0 region_size=1024 on_remote_error=degrade degraded_by=none resync_active=0 copied_regions=2048 writes=5120 remote_writes=5188 consistent=yes resync_rate=0 resync_rate_kbps=0 meta=254:2 meta_writes=37 marked=3 meta_failed=0 lag_bytes=0 lag_writes=0 oldest_lag_ms=0 draining=0 lag_waits=0 semi_timeouts=0 peer=ok peer_meta_writes=2 local_read_errors=0 remote_reads=0" },
	{ "vm-a", "4194304",
	  "mode=async remote=resyncing dirty=512/4096 resync=1024/2048 remote_errors=1 local_errors=0 region_size=1024 on_remote_error=degrade degraded_by=none resync_active=1 copied_regions=1024 writes=100 remote_writes=90 consistent=no resync_rate=2048 resync_rate_kbps=4096 meta=254:3 meta_writes=10 marked=512 meta_failed=0 lag_bytes=1048576 lag_writes=8 oldest_lag_ms=1500 draining=0 lag_waits=2 semi_timeouts=0 peer=none peer_meta_writes=0 local_read_errors=0 remote_reads=0 journal_used_kb=64 journal_size_kb=131068 ship_point_ms=1796565728000 held=1 delay_ms=60000 ship_until_ms=1796565729000" },
	{ "vm-c", "1048576",
	  "mode=semi-sync remote=degraded dirty=3/512 resync=0/0 remote_errors=7 local_errors=2 region_size=2048 on_remote_error=degrade degraded_by=error resync_active=0 copied_regions=0 writes=9 remote_writes=1 consistent=yes resync_rate=0 resync_rate_kbps=0 meta=- meta_writes=0 marked=0 meta_failed=0 lag_bytes=0 lag_writes=0 oldest_lag_ms=0 draining=0 lag_waits=0 semi_timeouts=4 peer=unknown peer_meta_writes=0 local_read_errors=2 remote_reads=1" },
	{ "vm\"d", "8",
	  "mode=sync remote=insync dirty=0/1 resync=1/1 remote_errors=0 local_errors=0 region_size=8 on_remote_error=fail degraded_by=none resync_active=0 copied_regions=1 writes=0 remote_writes=0 consistent=yes resync_rate=0 resync_rate_kbps=0 meta=254:9 meta_writes=1 marked=0 meta_failed=1 lag_bytes=0 lag_writes=0 oldest_lag_ms=0 draining=0 lag_waits=0 semi_timeouts=0 peer=split-brain peer_meta_writes=0 local_read_errors=0 remote_reads=0" },
};

#define NR_DEVICES (sizeof(devices) / sizeof(devices[0]))

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "noheadings", no_argument, NULL, 'H' },
		{ "separator", required_argument, NULL, 's' },
		{ "aligned", no_argument, NULL, 'a' },
		{ "units", required_argument, NULL, 'u' },
		{ "nosuffix", no_argument, NULL, 'n' },
		{ "reportformat", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct xstatus s[NR_DEVICES];
	struct report_opts o = { 0 };
	size_t i;
	int c;

	for (i = 0; i < NR_DEVICES; i++) {
		char *line = strdup(devices[i][2]);

		if (!line)
			return 1;
		status_parse(&s[i], devices[i][0], strtoull(devices[i][1], NULL, 10), line);
		free(line);
	}
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "health")) {
		for (i = 0; i < NR_DEVICES; i++) {
			const char *why;
			enum xhealth h = st_health(&s[i], &why);

			printf("%s %s %s\n", s[i].name, xhealth_name(h), why);
		}
		return 0;
	}
	if (!strcmp(argv[1], "metrics")) {
		metrics_print(s, NR_DEVICES);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "o:O:S:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.fields = optarg; break;
		case 'O': o.sort = optarg; break;
		case 'S': o.select = optarg; break;
		case 'H': o.noheadings = true; break;
		case 's': o.separator = optarg; break;
		case 'a': o.aligned = true; break;
		case 'u': o.units = optarg; break;
		case 'n': o.nosuffix = true; break;
		case 'r': o.json = !strcmp(optarg, "json"); break;
		default: return 2;
		}
	}
	/* xreplctl's own libdevmapper log hook: the report goes through it. */
	devmapper_init();
	return report_print(&o, s, NR_DEVICES);
}
