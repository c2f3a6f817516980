// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the verify command.  It sends the target's verify messages
 * (see Documentation/dm-xrepl.rst): a pass compares the legs region by
 * region, holding the writes to each region while it is read from both.
 * --resume starts from where the last pass stopped, which status tells:
 * verify=<done>/<total> counts from the pass's start region, and total is
 * the regions from that start to the end.  --wait sleeps on the device's
 * dm events until the pass ended and says how it ended.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xreplctl.h"

static bool pass_ended(const struct xstatus *s)
{
	return !st_num(s, "verify_active");
}

/* The region the last pass would go on from; false if there is none. */
static bool resume_point(const struct xstatus *s, uint64_t *start)
{
	uint64_t regions = st_frac(s, "dirty", 1);
	uint64_t done = st_frac(s, "verify", 0), total = st_frac(s, "verify", 1);

	if (!st_str(s, "verify") || !total || total > regions || done >= total)
		return false;
	*start = regions - total + done;
	return true;
}

/* How a pass ended, from its status: an exit status, and a line. */
static int report_pass(const char *name, const struct xstatus *s)
{
	uint64_t done = st_frac(s, "verify", 0), total = st_frac(s, "verify", 1);
	uint64_t bad = st_num(s, "verify_mismatches");

	/* total 0: the pass is gone (a reload replaced the pair). */
	printf("%s: verify: %" PRIu64 "/%" PRIu64 " regions compared, %" PRIu64 " differ%s\n",
	       name, done, total, bad,
	       done < total || !total ? " (the pass stopped before its end)" : "");
	if (bad && st_num(s, "meta_failed"))
		msg("verify: %s: a metadata write failed (meta_failed=1): a repair may not have been made",
		    name);
	if (bad)
		return EXIT_VERIFY_DIFFERS;
	return done < total || !total ? EXIT_VERIFY_INCOMPLETE : EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_REPAIR = 256, OPT_START, OPT_RESUME, OPT_STOP, OPT_WAIT,
	       OPT_TIMEOUT };
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "start", required_argument, NULL, OPT_START },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	bool repair = false, resume = false, stop = false, wait = false;
	bool have_start = false;
	uint64_t start = 0, timeout = 0;
	struct xstatus *s;
	char message[64];
	const char *name;
	int c, r;

	optind = 0;	/* 0: getopt starts afresh (GNU) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_REPAIR: repair = true; break;
		case OPT_START:
			if (!parse_num(optarg, 0, UINT64_MAX - 1, &start))
				usage_error("verify --start wants a region number");
			have_start = true;
			break;
		case OPT_RESUME: resume = true; break;
		case OPT_STOP: stop = true; break;
		case OPT_WAIT: wait = true; break;
		case OPT_TIMEOUT:
			if (!parse_num(optarg, 1, 86400 * 365, &timeout))
				usage_error("verify --timeout wants seconds (1 or more)");
			break;
		default:
			usage_error("verify wants <name> [--repair] [--start REGION | --resume] [--wait [--timeout S]] or <name> --stop");
		}
	}
	if (optind != argc - 1)
		usage_error("verify wants one device name");
	name = argv[optind];
	check_name(name);
	if (stop && (repair || resume || have_start || wait || timeout))
		usage_error("verify --stop takes no other option");
	if (resume && have_start)
		usage_error("verify: --start and --resume exclude each other");
	if (timeout && !wait)
		usage_error("verify: --timeout goes with --wait");
	if (dry_run && (resume || wait))
		usage_error("verify: --resume and --wait read the device: --dry-run makes no sense");
	if (stop)
		return send_message(name, "verify stop");

	s = malloc(sizeof(*s));
	if (!s) {
		msg("verify: out of memory");
		return EXIT_FAILED;
	}
	if (!dry_run) {
		r = check_xrepl(name);
		if (r)
			goto out;
	}
	if (resume) {
		r = read_status(name, s);
		if (r)
			goto out;
		if (!resume_point(s, &start)) {
			msg("verify: %s: no stopped pass to resume (verify=%s)", name,
			    st_str_or(s, "verify", "?"));
			r = EXIT_FAILED;
			goto out;
		}
		have_start = true;
	}
	snprintf(message, sizeof(message), "verify%s", repair ? " repair" : "");
	if (have_start)
		snprintf(message + strlen(message), sizeof(message) - strlen(message),
			 " %" PRIu64, start);
	r = send_message(name, message);
	if (r || !wait)
		goto out;
	r = wait_until("verify", name, timeout, pass_ended, s);
	if (r == EXIT_TIMEOUT || r == -EXIT_TIMEOUT) {
		msg("verify: %s: the pass runs still after %" PRIu64 " s (verify=%s)",
		    name, timeout, r == EXIT_TIMEOUT ? st_str_or(s, "verify", "?") : "?");
		exit_after_timeout();
	}
	if (!r)
		r = report_pass(name, s);
out:
	free(s);
	return r;
}
