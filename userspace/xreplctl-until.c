// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl ship-until: roll the remote of an async pair with a journal to
 * a point in time ("ship_until" message) and wait until it is there: the
 * status's ship_point_ms at the point, ship_until_ms still the point,
 * read at each dm event (the target raises one when the remote reaches
 * the point, and when it degrades or the point is ended; an older target
 * loaded is polled).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xreplctl.h"
#include "lib/status.h"

/*
 * The fraction of a second after a '.' at *p, if there is one: its ms
 * added to *ms (digits past the third dropped), *p moved past it.  False
 * if the '.' has no digit after it.
 */
static bool parse_frac(const char **p, uint64_t *ms)
{
	uint64_t scale = 1000;
	const char *f;

	if (**p != '.')
		return true;
	for (f = ++*p; isdigit((unsigned char)**p); ++*p) {
		if (scale > 1) {
			scale /= 10;
			*ms += (uint64_t)(**p - '0') * scale;
		}
	}
	return *p != f;
}

/*
 * A point in time, in ms since the epoch: "<ms>" (as the kernel takes
 * it), "@<seconds>[.<fraction>]", or "YYYY-MM-DD HH:MM:SS[.fff]" ('T' for
 * the space too), local time unless it ends in 'Z' (UTC).
 */
bool parse_point(const char *s, uint64_t *ms)
{
	uint64_t sec, frac = 0;
	const char *p, *dot;
	struct tm tm;
	bool utc = false;
	char buf[64];
	size_t n;
	time_t t;

	if (parse_num(s, 1, UINT64_MAX, ms))
		return true;
	if (*s == '@') {
		dot = strchr(s + 1, '.');
		n = dot ? (size_t)(dot - s - 1) : strlen(s + 1);
		if (!n || n >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, n);
		buf[n] = '\0';
		p = s + 1 + n;
		if (!parse_num(buf, 0, UINT64_MAX / 1000 - 1, &sec) ||
		    !parse_frac(&p, &frac) || *p)
			return false;
		*ms = sec * 1000 + frac;
		return *ms > 0;
	}
	n = strlen(s);
	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	if (buf[n - 1] == 'Z') {
		utc = true;
		buf[--n] = '\0';
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(buf, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p) {
		memset(&tm, 0, sizeof(tm));
		p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
	}
	if (!p || !parse_frac(&p, &frac) || *p)
		return false;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || t <= 0)
		return false;
	*ms = (uint64_t)t * 1000 + frac;
	return true;
}

/* ms since the epoch as local time with ms, for messages. */
static const char *point_str(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[40];

	if (!localtime_r(&t, &tm) || !strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	else
		snprintf(buf, len, "%s.%03u", s, (unsigned int)(ms % 1000));
	return buf;
}

/* The point wait_point() waits for. */
static uint64_t until_point;

/*
 * The remote is no longer a consistent image: a resync is due (a write
 * the remote refused, a degradation), which waits for a release.
 */
static bool not_consistent(const struct xstatus *s)
{
	return !st_is(s, "consistent", "yes") || st_num(s, "resync_active");
}

/* At the point, or no longer going there (wait_point() tells which). */
static bool point_done(const struct xstatus *s)
{
	return st_num(s, "ship_until_ms") != until_point ||
	       !st_num(s, "held") || !st_is(s, "degraded_by", "none") ||
	       not_consistent(s) || st_num(s, "ship_point_ms") >= until_point;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A target older than 1.9 raises no event when the remote reaches the
 * point (a module upgraded on disk, the old one still loaded): poll
 * point_done() every 200 ms instead.  As wait_until().
 */
static int poll_point(const char *name, uint64_t timeout, struct xstatus *s)
{
	uint64_t deadline = mono_ms() + timeout * 1000;
	int r;

	for (;;) {
		r = read_status(name, s);
		if (r)
			msg("ship-until: %s: cannot read the device's status", name);
		if (r || point_done(s))
			return r;
		if (timeout && mono_ms() >= deadline)
			return EXIT_TIMEOUT;
		sleep_ms(200);
	}
}

/*
 * Wait, on the device's dm events, until the remote is at the point: 0,
 * or EXIT_FAILED if the point was ended (hold, release, another point)
 * or the remote degraded; after a timeout, exits with EXIT_TIMEOUT.
 */
static int wait_point(const char *name, uint64_t ms, uint64_t timeout,
		      struct xstatus *s)
{
	char when[64];
	int r;

	until_point = ms;
	if (target_at_least(1, 9) != 1)
		r = poll_point(name, timeout, s);
	else
		r = wait_until("ship-until", name, timeout, point_done, s);
	if (r == EXIT_TIMEOUT) {
		/* The waiter's last status may be old: the status now. */
		read_status(name, s);
		msg("ship-until: %s: not at the point after %" PRIu64 " s: ship_point_ms=%s lag_writes=%s delay_ms=%s",
		    name, timeout, st_str_or(s, "ship_point_ms", "?"),
		    st_str_or(s, "lag_writes", "?"),
		    st_str_or(s, "delay_ms", "?"));
		exit_after_timeout();
	} else if (r == -EXIT_TIMEOUT) {
		msg("ship-until: %s: no status after %" PRIu64 " s", name, timeout);
		exit_after_timeout();
	}
	if (r)
		return r;
	if (st_num(s, "ship_until_ms") != ms || !st_num(s, "held")) {
		msg("ship-until: %s: the point was ended (hold, release, another point, a journal failure): held=%s ship_until_ms=%s",
		    name, st_str_or(s, "held", "?"),
		    st_str_or(s, "ship_until_ms", "?"));
		return EXIT_FAILED;
	}
	if (!st_is(s, "degraded_by", "none")) {
		msg("ship-until: %s: the remote degraded (degraded_by=%s): it stays at an earlier point",
		    name, st_str_or(s, "degraded_by", "?"));
		return EXIT_FAILED;
	}
	if (not_consistent(s)) {
		msg("ship-until: %s: the remote is not a consistent image (consistent=%s resync_active=%s): a resync is due, which waits for a release",
		    name, st_str_or(s, "consistent", "?"),
		    st_str_or(s, "resync_active", "?"));
		return EXIT_FAILED;
	}
	printf("%s: the remote is at %s (%" PRIu64 " ms): every write made before it, none after; shipping is held\n",
	       name, point_str(ms, when, sizeof(when)), ms);
	return EXIT_OK;
}

int cmd_ship_until(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-wait", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	char message[64], when[64];
	uint64_t timeout = 0, ms;
	struct xstatus *s;
	bool wait = true;
	const char *name;
	int c, r;

	optind = 0;	/* 0: getopt starts afresh (GNU) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			wait = false;
		else if (c != 't' || !parse_num(optarg, 1, 86400 * 365, &timeout))
			usage_error("ship-until wants <name> <time> [--no-wait | --timeout SECONDS]");
	}
	if (optind != argc - 2)
		usage_error("ship-until wants <name> <time> [--no-wait | --timeout SECONDS]");
	if (timeout && !wait)
		usage_error("ship-until: --timeout goes with waiting, not --no-wait");
	name = argv[optind];
	check_name(name);
	if (!parse_point(argv[optind + 1], &ms))
		usage_error("ship-until: '%s' is not a time: ms since the epoch, @SECONDS[.FRACTION] or 'YYYY-MM-DD HH:MM:SS[.fff][Z]'",
			    argv[optind + 1]);
	snprintf(message, sizeof(message), "ship_until %" PRIu64, ms);
	if (dry_run)
		return send_message(name, message);
	r = send_message(name, message);
	if (r) {
		msg("ship-until: %s: refused (the kernel log says why)", name);
		return r;
	}
	if (!wait) {
		printf("%s: shipping until %s (%" PRIu64 " ms), then held\n", name,
		       point_str(ms, when, sizeof(when)), ms);
		return EXIT_OK;
	}
	s = malloc(sizeof(*s));
	if (!s) {
		msg("ship-until: out of memory");
		return EXIT_FAILED;
	}
	r = wait_point(name, ms, timeout, s);
	free(s);
	return r;
}
