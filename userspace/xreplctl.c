// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: set up and operate dm-xrepl devices through libdevmapper.
 *
 * Builds xrepl table lines from named options, creates and removes
 * devices, reads their status (as a table or as JSON) and sends the
 * target's messages, each validated before anything reaches the kernel.
 * --dry-run prints what would be sent instead.  The interface is described
 * in xreplctl(8).
 *
 * This file holds main(): the global options, the help text and the
 * dispatch of the commands to the files that carry them out (listed in
 * xreplctl.h); the target's messages (mode, resync, set, remote-down,
 * remote-up) are built here.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/meta.h"
#include "xrepl-format.h"
#include "xrepl-limits.h"
#include "xreplctl.h"

/* The help text; %s is the target's default region size. */
static const char usage_text[] =
"Usage: " PROG " [--dry-run] <command> [arguments]\n"
"\n"
"Commands:\n"
"  create <name> --local DEV --remote DEV|- (--meta DEV | --no-meta)\n"
"         [--remote-meta DEV] [--mode sync|semi-sync|async|periodic]\n"
"         [--journal DEV] [--region-size SIZE] [--nosync]\n"
"         [--option key=value]...\n"
"                         create a replicated device /dev/mapper/<name>\n"
"                         (--remote -: without a remote yet)\n"
"  promote <name> --local DEV --meta DEV [--mode MODE] [--force]\n"
"                         make this site's copy the primary (its metadata\n"
"                         a secondary's) and create the device without a\n"
"                         remote; refuses a copy that is not consistent\n"
"                         unless --force\n"
"  demote --meta DEV      make a stopped primary's metadata a secondary's,\n"
"                         so that the other site may replicate to it\n"
"  attach <name> [--remote DEV [--remote-meta DEV]]\n"
"                         load the device's table again with its remote\n"
"                         (default: from <config-dir>/<name>.conf)\n"
"  remove <name>          drain what the remote still needs, then remove it\n"
"  status [<name>...] [-o|--options FIELDS] [-O|--sort KEYS]\n"
"         [-S|--select SELECTION] [--noheadings]\n"
"         [--separator S [--aligned]] [--units U] [--nosuffix]\n"
"         [--reportformat basic|json] [--json] [--check]\n"
"  status --meta DEV [--json]\n"
"                         state of the named or of all xrepl devices, as\n"
"                         a report (-o help lists the fields) or as JSON;\n"
"                         --check: exit 0 if all are in sync, 1 if one is\n"
"                         degraded or resyncing, 2 if one failed, 4 if\n"
"                         the state cannot be read; --meta: what a metadata\n"
"                         device records of the data beside it (pair,\n"
"                         role, generation, consistent, data time)\n"
"  wait <name> [--timeout S]\n"
"                         wait (on dm events) until the remote is in sync\n"
"                         (periodic mode: until it holds a point in time\n"
"                         taken after the call); exit 4 if S seconds pass\n"
"                         first\n"
"  cycle <name> [--wait [--timeout S]]\n"
"                         periodic mode: start a cycle now; --wait: until\n"
"                         the remote holds its point in time\n"
"  metrics [<name>...]    state and counters in Prometheus' text format\n"
"  mode <name> sync|semi-sync|async|periodic\n"
"                         change the replication mode under load\n"
"  resync <name> [--full] resync the dirty regions (--full: all regions)\n"
"  verify <name> [--repair] [--start REGION | --resume] [--wait [--timeout S]]\n"
"  verify <name> --stop\n"
"                         compare the legs region by region while the\n"
"                         device is in use (--repair: resync the regions\n"
"                         that differ; --resume: from where the last pass\n"
"                         stopped); --wait: until the pass ends, then\n"
"                         exit 0 (equal), 5 (regions differ) or 6 (the\n"
"                         pass stopped before its end)\n"
"  drill --lv VG/LV --meta DEV [--cow-size SIZE] [--name NAME]\n"
"        [--luks-key FILE] [--timeout S] -- COMMAND [ARG...]\n"
"                         at the remote site: refuse a copy that is not\n"
"                         consistent, snapshot the LV (thin, or classic\n"
"                         with --cow-size), run COMMAND with the snapshot\n"
"                         in $XREPL_DRILL_DEV, report, remove the snapshot\n"
"  restore --to DEV FULL [IMAGE...]\n"
"                         write a chain of backup images to DEV: a full\n"
"                         image, then images that each start at the\n"
"                         checkpoint the one before ends at; every image\n"
"                         and the chain are checked before anything is\n"
"                         written (--dry-run: only checked)\n"
"  set <name> <key> <value>\n"
"                         change resync_rate_kbps, semi_timeout_ms,\n"
"                         max_lag_kb, congestion, period_s or delay_ms at\n"
"                         run time\n"
"  checkpoint <name> <label>\n"
"                         start a new era of the change tracker and print\n"
"                         its number (backups of the changes since it)\n"
"  hold <name>            async with a journal: stop shipping to the remote\n"
"                         (it keeps its point; the journal keeps the rest)\n"
"  release <name>         ship again\n"
"  ship-until <name> <time> [--no-wait | --timeout S]\n"
"                         roll the remote to the writes made before <time>\n"
"                         (ms since the epoch, @SECONDS[.FRACTION] or\n"
"                         'YYYY-MM-DD HH:MM:SS[.fff][Z]'), hold there, and\n"
"                         wait until it is there (exit 4 on the timeout)\n"
"  remote-down <name>     stop sending writes to the remote\n"
"  remote-up <name>       send writes to the remote again and resync\n"
"  up <name> | up --all   create the device(s) described in\n"
"                         <config-dir>/<name>.conf (see xreplctl(8))\n"
"  down <name> | down --all\n"
"                         remove the device(s) of those files\n"
"  adjust <name>          apply a changed <config-dir>/<name>.conf to the\n"
"                         running device (mode, rates, lag, congestion,\n"
"                         delay);\n"
"                         refuses, changing nothing, what needs a new table\n"
"  monitor [<name>...] [--hook CMD] [--hook-timeout S] [--no-events] [--no-probe]\n"
"         [--probe-interval MS] [--probe-timeout MS] [--probe-fail N]\n"
"         [--probe-ok M] [--lag-kb KB] [--lag-ms MS] [--lag-interval MS]\n"
"                         watch the devices (if none is named: all xrepl\n"
"                         devices, and those created later): their\n"
"                         events, and a read of each remote every MS\n"
"                         (1000) with a deadline (1000 ms); N (3)\n"
"                         failures take the remote down, M (3) successes\n"
"                         bring it back; a lag above KB or MS (off) is an\n"
"                         event too; log each change, run CMD for it\n"
"                         (killed after S (30) seconds)\n"
"\n"
"Options:\n"
"  -n, --dry-run   print the table lines and messages instead of sending them\n"
"  -c, --config-dir DIR\n"
"                  where up and down find their files (default /etc/xrepl)\n"
"  -j, --json      status: print JSON (see xreplctl(8))\n"
"  -h, --help      print this help and exit\n"
"  -V, --version   print the version and exit\n"
"\n"
"create options:\n"
"  -l, --local DEV        the local leg\n"
"  -r, --remote DEV       the remote leg\n"
"  -m, --meta DEV         the metadata device (write-intent bitmap)\n"
"  -M, --no-meta          keep the bitmap in memory only\n"
"  -R, --remote-meta DEV  the remote site's metadata device: compared on\n"
"                         every connection (split brain is refused)\n"
"  -o, --mode MODE        sync (default), semi-sync, async or periodic\n"
"  -J, --journal DEV      the write-ahead log of the asynchronous modes: the\n"
"                         remote follows in write order across a crash\n"
"                         (needs --meta; not with periodic)\n"
"  -s, --region-size SIZE region size in bytes, with an optional K, M or G\n"
"                         suffix (default: the target's, %s)\n"
"  -N, --nosync           the legs are known to be equal: no initial sync\n"
"  -O, --option KEY=VALUE on_remote_error, resync_rate_kbps,\n"
"                         semi_timeout_ms, max_lag_kb, congestion,\n"
"                         period_s or delay_ms (async with a journal)\n"
"\n"
"Exit status:\n"
"  0  done\n"
"  1  device-mapper refused or failed (the kernel log says why)\n"
"  2  usage error: bad command, option or value, or a local leg that\n     cannot be opened; nothing was changed\n"
"  3  no such device, or the device is not an xrepl device\n"
"  4  wait: the timeout passed; status --check: the state cannot be read\n"
"     (status --check exits 0, 1 or 2 with the worst state, as above)\n"
"  5  verify --wait: regions differ between the legs\n"
"  6  verify --wait: the pass stopped before its end (verify --stop, the\n"
"     remote degraded, a leg could not be read)\n"
"  7  drill: the command failed, was killed or ran out of its time\n";

/* --dry-run, or create's -n. */
bool dry_run;

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	char def[16];

	printf(usage_text, size_str((uint64_t)XREPL_DEFAULT_REGION_SIZE << 9,
				    def, sizeof(def)));
}

/* status [<name>...] [report options] [--json] [--check] */
static int status_command(int argc, char **argv, bool json)
{
	enum { OPT_NOHEADINGS = 256, OPT_SEPARATOR, OPT_ALIGNED, OPT_UNITS,
	       OPT_NOSUFFIX, OPT_REPORTFORMAT, OPT_CHECK, OPT_META };
	static const struct option opts[] = {
		{ "options", required_argument, NULL, 'o' },
		{ "sort", required_argument, NULL, 'O' },
		{ "select", required_argument, NULL, 'S' },
		{ "noheadings", no_argument, NULL, OPT_NOHEADINGS },
		{ "separator", required_argument, NULL, OPT_SEPARATOR },
		{ "aligned", no_argument, NULL, OPT_ALIGNED },
		{ "units", required_argument, NULL, OPT_UNITS },
		{ "nosuffix", no_argument, NULL, OPT_NOSUFFIX },
		{ "reportformat", required_argument, NULL, OPT_REPORTFORMAT },
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "meta", required_argument, NULL, OPT_META },
		{ NULL, 0, NULL, 0 }
	};
	struct report_opts o = { 0 };
	const char *meta = NULL;
	bool check = false;
	int c, i;

	/* With --check, 1 and 2 are states: a bad command line exits 4. */
	for (i = 1; i < argc; i++)
		/* --check, or a prefix of it that getopt_long takes. */
		if (strlen(argv[i]) >= 4 && !strncmp("--check", argv[i], strlen(argv[i])))
			usage_exit = EXIT_CHECK_UNKNOWN;
	optind = 0;	/* 0: getopt starts afresh (GNU), permuting */
	while ((c = getopt_long(argc, argv, "o:O:S:j", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.fields = optarg; break;
		case 'O': o.sort = optarg; break;
		case 'S': o.select = optarg; break;
		case 'j': json = true; break;
		case OPT_NOHEADINGS: o.noheadings = true; break;
		case OPT_SEPARATOR: o.separator = optarg; break;
		case OPT_ALIGNED: o.aligned = true; break;
		case OPT_UNITS: o.units = optarg; break;
		case OPT_NOSUFFIX: o.nosuffix = true; break;
		case OPT_CHECK: check = true; break;
		case OPT_META: meta = optarg; break;
		case OPT_REPORTFORMAT:
			if (!strcmp(optarg, "json"))
				o.json = true;
			else if (strcmp(optarg, "basic"))
				usage_error("status: --reportformat wants basic or json");
			break;
		default:
			usage_error("status: bad option");
		}
	}
	if (meta) {
		if (optind != argc || check || o.fields || o.sort || o.select ||
		    o.separator || o.units || o.noheadings || o.nosuffix ||
		    o.aligned || o.json)
			usage_error("status --meta DEV takes no device name and no option but --json");
		if (dry_run)
			usage_error("status sends nothing: --dry-run makes no sense");
		return cmd_meta_status(meta, json);
	}
	if (json && (o.fields || o.sort || o.select || o.separator || o.units ||
		     o.noheadings || o.nosuffix || o.aligned || o.json))
		usage_error("status: --json prints every field: it takes no report option");
	for (i = optind; i < argc; i++)
		check_name(argv[i]);
	if (dry_run)
		usage_error("status sends nothing: --dry-run makes no sense");
	return cmd_status(argv + optind, argc - optind, &o, json, check);
}

static const char *want_name(int argc, char **argv, int i, const char *cmd)
{
	if (i >= argc)
		usage_error("%s wants a device name", cmd);
	check_name(argv[i]);
	return argv[i];
}

/* A checkpoint's name as the target takes it. */
static bool checkpoint_name_ok(const char *s)
{
	char buf[XREPL_TRK_NAME_LEN] = { 0 };
	size_t n = strlen(s);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	return xmeta_trk_name_ok(buf, sizeof(buf));
}

/* checkpoint <name> <label>: a new era of the change tracker; its number. */
static int cmd_checkpoint(int argc, char **argv)
{
	const char *name = want_name(argc, argv, 1, "checkpoint");
	char message[16 + XREPL_TRK_NAME_LEN], reply[32];
	int r;

	if (argc != 3)
		usage_error("checkpoint wants <name> <label>");
	if (!checkpoint_name_ok(argv[2]))
		usage_error("checkpoint: a label is 1 to %u characters of A-Z a-z 0-9 . _ : + @ -",
			    XREPL_TRK_NAME_LEN - 1);
	snprintf(message, sizeof(message), "checkpoint %s", argv[2]);
	r = send_message_reply(name, message, reply, sizeof(reply));
	if (!r && !dry_run)
		printf("%s\n", reply);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "config-dir", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false;
	const char *cmd, *name;
	char message[160];
	int c, r;

	while ((c = getopt_long(argc, argv, "+njc:hV", gopts, NULL)) != -1) {
		switch (c) {
		case 'n': dry_run = true; break;
		case 'c': config_dir = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(); return EXIT_OK;
		case 'V': puts(PROG " 1.0 (dm-xrepl target 1.3)"); return EXIT_OK;
		default: usage_error("bad option");
		}
	}
	if (optind >= argc)
		usage_error("no command");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	devmapper_init();
	if (!strcmp(cmd, "create")) {
		r = cmd_create(argc, argv);
	} else if (!strcmp(cmd, "promote")) {
		r = cmd_promote(argc, argv);
	} else if (!strcmp(cmd, "demote")) {
		r = cmd_demote(argc, argv);
	} else if (!strcmp(cmd, "attach")) {
		r = cmd_attach(argc, argv);
	} else if (!strcmp(cmd, "remove")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc > 2)
			usage_error("remove takes one device name");
		r = cmd_remove(name);
	} else if (!strcmp(cmd, "status")) {
		r = status_command(argc, argv, json);
	} else if (!strcmp(cmd, "wait")) {
		r = cmd_wait(argc, argv);
	} else if (!strcmp(cmd, "cycle")) {
		r = cmd_cycle(argc, argv);
	} else if (!strcmp(cmd, "metrics")) {
		r = cmd_metrics(argc, argv);
	} else if (!strcmp(cmd, "adjust")) {
		r = cmd_adjust(argc, argv);
	} else if (!strcmp(cmd, "verify")) {
		r = cmd_verify(argc, argv);
	} else if (!strcmp(cmd, "drill")) {
		r = cmd_drill(argc, argv);
	} else if (!strcmp(cmd, "restore")) {
		r = cmd_restore(argc, argv);
	} else if (!strcmp(cmd, "mode")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc != 3 || !in_list(mode_names, argv[2]))
			usage_error("mode wants <name> sync|semi-sync|async|periodic");
		snprintf(message, sizeof(message), "mode %s", argv[2]);
		r = send_message(name, message);
	} else if (!strcmp(cmd, "resync")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--full")))
			usage_error("resync wants <name> [--full]");
		r = send_message(name, argc == 3 ? "resync full" : "resync");
	} else if (!strcmp(cmd, "set")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc != 4)
			usage_error("set wants <name> <key> <value>");
		check_option("set", argv[2], argv[3], false);
		snprintf(message, sizeof(message), "set %s %s", argv[2], argv[3]);
		r = send_message(name, message);
	} else if (!strcmp(cmd, "hold") || !strcmp(cmd, "release")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc != 2)
			usage_error("%s takes one device name", cmd);
		r = send_message(name, cmd);
	} else if (!strcmp(cmd, "checkpoint")) {
		r = cmd_checkpoint(argc, argv);
	} else if (!strcmp(cmd, "ship-until")) {
		r = cmd_ship_until(argc, argv);
	} else if (!strcmp(cmd, "remote-down") || !strcmp(cmd, "remote-up")) {
		name = want_name(argc, argv, 1, cmd);
		if (argc != 2)
			usage_error("%s takes one device name", cmd);
		r = send_message(name, cmd[7] == 'd' ? "remote down" : "remote up");
	} else if (!strcmp(cmd, "monitor")) {
		r = cmd_monitor(argc, argv);
	} else if (!strcmp(cmd, "up") || !strcmp(cmd, "down")) {
		int (*fn)(const char *) = cmd[0] == 'u' ? up_one : down_one;

		if (argc != 2)
			usage_error("%s wants <name> or --all", cmd);
		if (!strcmp(argv[1], "--all"))
			r = all_confs(fn);
		else
			r = fn(want_name(argc, argv, 1, cmd));
	} else {
		usage_error("unknown command '%s'", cmd);
	}
	devmapper_release();
	return r;
}
