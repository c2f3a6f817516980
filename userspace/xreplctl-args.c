// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: its messages, and the checks of what the command line and the
 * configuration files give: device names, numbers, sizes, modes and the
 * optional arguments of the table line, against the target's limits
 * (dm-xrepl/xrepl-limits.h).  Every check is made before anything reaches
 * device-mapper, and a bad value is a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xrepl-limits.h"
#include "xreplctl.h"

void msg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a usage error and exit. */
int usage_exit = EXIT_USAGE;

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help'.\n", stderr);
	exit(usage_exit);
}

const char *const mode_names[] = { "sync", "semi-sync", "async", "periodic", NULL };
static const char *const policies[] = { "degrade", "fail", NULL };
static const char *const congestions[] = { "block", "degrade", NULL };

bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* A decimal number without sign, spaces or suffix, in [min, max]. */
bool parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p;
	char *end;
	unsigned long long v;

	if (!*s || strlen(s) > 20)
		return false;
	for (p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A size in bytes with an optional K, M or G (binary) suffix. */
bool parse_size(const char *s, uint64_t *bytes)
{
	char num[32];
	size_t n = strlen(s);
	unsigned int shift = 0;
	uint64_t v;

	if (!n || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	default: break;
	}
	if (shift)
		num[n - 1] = '\0';
	if (!parse_num(num, 1, UINT64_MAX >> 30, &v))
		return false;
	*bytes = v << shift;
	return true;
}

/* A size in bytes as parse_size() takes it, with the largest exact suffix. */
const char *size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "", "K", "M", "G" };
	unsigned int u = 0;

	while (u < 3 && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%s", bytes, units[u]);
	return buf;
}

/*
 * Optional arguments of the table line: what a valid value looks like
 * (written to buf when it has numbers), or NULL for an unknown key.
 * on_remote_error only exists in the table line; the others may also be
 * changed at run time ("set").
 */
const char *option_expect(const char *key, bool table, char *buf,
			  size_t len)
{
	if (!strcmp(key, "resync_rate_kbps"))
		snprintf(buf, len, "a number of KiB/s from 0 (unlimited) to %u",
			 XREPL_MAX_RESYNC_RATE_KBPS);
	else if (!strcmp(key, "semi_timeout_ms"))
		snprintf(buf, len, "a number of milliseconds from %u to %u",
			 XREPL_MIN_SEMI_TIMEOUT_MS, XREPL_MAX_SEMI_TIMEOUT_MS);
	else if (!strcmp(key, "max_lag_kb"))
		snprintf(buf, len, "a number of KiB from %u to %u",
			 XREPL_MIN_LAG_KB, XREPL_MAX_LAG_KB);
	else if (!strcmp(key, "congestion"))
		return "block or degrade";
	else if (!strcmp(key, "period_s"))
		snprintf(buf, len, "a number of seconds from %u to %u",
			 XREPL_MIN_PERIOD_S, XREPL_MAX_PERIOD_S);
	else if (table && !strcmp(key, "on_remote_error"))
		return "degrade or fail";
	else if (!strcmp(key, "delay_ms"))
		snprintf(buf, len, "a number of milliseconds from 0 to %u",
			 XREPL_MAX_DELAY_MS);
	else
		return NULL;
	return buf;
}

bool option_valid(const char *key, const char *value)
{
	uint64_t v;

	if (!strcmp(key, "resync_rate_kbps"))
		return parse_num(value, 0, XREPL_MAX_RESYNC_RATE_KBPS, &v);
	if (!strcmp(key, "semi_timeout_ms"))
		return parse_num(value, XREPL_MIN_SEMI_TIMEOUT_MS,
				 XREPL_MAX_SEMI_TIMEOUT_MS, &v);
	if (!strcmp(key, "max_lag_kb"))
		return parse_num(value, XREPL_MIN_LAG_KB, XREPL_MAX_LAG_KB, &v);
	if (!strcmp(key, "congestion"))
		return in_list(congestions, value);
	if (!strcmp(key, "period_s"))
		return parse_num(value, XREPL_MIN_PERIOD_S, XREPL_MAX_PERIOD_S,
				 &v);
	if (!strcmp(key, "delay_ms"))
		return parse_num(value, 0, XREPL_MAX_DELAY_MS, &v);
	return in_list(policies, value);
}

/* Exit with a usage error unless key=value is a valid option. */
void check_option(const char *what, const char *key, const char *value,
		  bool table)
{
	char buf[64];
	const char *expect = option_expect(key, table, buf, sizeof(buf));

	if (!expect)
		usage_error("%s: unknown key '%s' (expected %s)", what, key,
			    table ? "on_remote_error, resync_rate_kbps, semi_timeout_ms, max_lag_kb, congestion, period_s or delay_ms" :
			    "resync_rate_kbps, semi_timeout_ms, max_lag_kb, congestion, period_s or delay_ms");
	if (!option_valid(key, value))
		usage_error("%s %s: invalid value '%s': expected %s", what, key,
			    value, expect);
}

/*
 * Why name is not a valid device name, or NULL if it is one.  A valid
 * name is one dmsetup accepts, without the surprises.
 */
const char *name_problem(const char *name)
{
	const char *p;

	if (!*name || strlen(name) >= DM_NAME_LEN)
		return "1 to 127 characters";
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.+", *p))
			return "use letters, digits and - _ . +";
	if (name[0] == '-')
		return "it must not start with -";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "not . or ..";
	return NULL;
}

void check_name(const char *name)
{
	const char *why = name_problem(name);

	if (why)
		usage_error("invalid device name '%s': %s", name, why);
}

/*
 * Do paths a and b name the same device?  By device (or inode) number
 * when both can be looked at, so that "x/../local" or a symlink to the
 * local leg is caught; else by name.
 */
bool same_dev(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) || stat(b, &sb))
		return !strcmp(a, b);
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool region_ok(uint64_t bytes)
{
	uint64_t rs = bytes >> 9;

	return !(bytes & 511) && rs >= XREPL_MIN_REGION_SIZE &&
	       rs <= XREPL_MAX_REGION_SIZE && !(rs & (rs - 1));
}

/* What region_ok() takes, for messages. */
const char *region_expect(char *buf, size_t len)
{
	char min[16], max[16];

	snprintf(buf, len, "a power of two from %s to %s",
		 size_str((uint64_t)XREPL_MIN_REGION_SIZE << 9, min, sizeof(min)),
		 size_str((uint64_t)XREPL_MAX_REGION_SIZE << 9, max, sizeof(max)));
	return buf;
}
