// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl: table line parser.
 *
 * Pure syntax: no device lookups, no allocation, so it is unit tested on
 * its own.  Every refusal names the problem in *error.
 */
#include <linux/ctype.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/string.h>

#include "dm-xrepl.h"

/* The number of required arguments before the optional group. */
#define XREPL_REQUIRED_ARGS	4U
/*
 * region_size N, on_remote_error P, resync_rate_kbps N, semi_timeout_ms N,
 * max_lag_kb N, congestion P, remote_meta D, period_s N, journal D,
 * delay_ms N, nosync.
 */
#define XREPL_MAX_OPT_ARGS	21U

static const char * const mode_names[] = {
	[XREPL_MODE_SYNC]	= "sync",
	[XREPL_MODE_SEMI_SYNC]	= "semi-sync",
	[XREPL_MODE_ASYNC]	= "async",
	[XREPL_MODE_PERIODIC]	= "periodic",
};

static const char * const policy_names[] = {
	[XREPL_ON_ERROR_DEGRADE]	= "degrade",
	[XREPL_ON_ERROR_FAIL]		= "fail",
};

static const char * const congestion_names[] = {
	[XREPL_CONGESTION_BLOCK]	= "block",
	[XREPL_CONGESTION_DEGRADE]	= "degrade",
};

const char *xrepl_mode_name(enum xrepl_mode mode)
{
	return mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "unknown";
}

const char *xrepl_policy_name(enum xrepl_error_policy policy)
{
	return policy < ARRAY_SIZE(policy_names) ? policy_names[policy] : "unknown";
}

const char *xrepl_congestion_name(enum xrepl_congestion congestion)
{
	return congestion < ARRAY_SIZE(congestion_names) ?
	       congestion_names[congestion] : "unknown";
}

int xrepl_parse_mode(const char *arg, enum xrepl_mode *mode)
{
	int i = match_string(mode_names, ARRAY_SIZE(mode_names), arg);

	if (i < 0)
		return -EINVAL;
	*mode = i;
	return 0;
}

static int parse_mode(struct xrepl_args *args, const char *arg,
		      char **error)
{
	if (xrepl_parse_mode(arg, &args->mode)) {
		*error = "Invalid replication mode";
		return -EINVAL;
	}
	return 0;
}

/* A count or size: decimal digits only, no sign, no suffix, no junk. */
static int parse_u32(const char *arg, u32 *val)
{
	const char *p;

	if (!*arg)
		return -EINVAL;
	/* kstrtou32() alone would take a sign and a trailing newline. */
	for (p = arg; *p; p++)
		if (!isdigit(*p))
			return -EINVAL;
	return kstrtou32(arg, 10, val);
}

static int parse_region_size(struct xrepl_args *args, const char *arg,
			     char **error)
{
	u32 val;

	if (parse_u32(arg, &val) || val < XREPL_MIN_REGION_SIZE ||
	    val > XREPL_MAX_REGION_SIZE || !is_power_of_2(val)) {
		*error = "Invalid region_size";
		return -EINVAL;
	}
	args->region_size = val;
	return 0;
}

/* A number in [min, max]. */
static int parse_range(const char *arg, u32 min, u32 max, u32 *val,
		       char *what, char **error)
{
	if (parse_u32(arg, val) || *val < min || *val > max) {
		*error = what;
		return -EINVAL;
	}
	return 0;
}

static int parse_congestion(struct xrepl_args *args, const char *arg,
			    char **error)
{
	int i = match_string(congestion_names, ARRAY_SIZE(congestion_names),
			     arg);

	if (i < 0) {
		*error = "Invalid congestion policy";
		return -EINVAL;
	}
	args->congestion = i;
	return 0;
}

static int parse_policy(struct xrepl_args *args, const char *arg,
			char **error)
{
	int i = match_string(policy_names, ARRAY_SIZE(policy_names), arg);

	if (i < 0) {
		*error = "Invalid on_remote_error policy";
		return -EINVAL;
	}
	args->on_remote_error = i;
	return 0;
}

static int take_option(struct xrepl_args *args, unsigned int opt,
		       char **error)
{
	if (args->given & opt) {
		*error = "Duplicate optional argument";
		return -EINVAL;
	}
	args->given |= opt;
	return 0;
}

static int parse_options(struct xrepl_args *args, unsigned int argc,
			 char **argv, char **error)
{
	unsigned int count, i = 0;
	const char *val;
	int r;

	if (parse_u32(argv[0], &count) || count > XREPL_MAX_OPT_ARGS ||
	    count != argc - 1) {
		*error = "Invalid number of optional arguments";
		return -EINVAL;
	}
	argv++;

	while (i < count) {
		const char *key = argv[i++];

		if (!strcmp(key, "nosync")) {
			r = take_option(args, XREPL_OPT_NOSYNC, error);
			if (r)
				return r;
			args->nosync = true;
			continue;
		}

		if (!strcmp(key, "region_size")) {
			r = take_option(args, XREPL_OPT_REGION_SIZE, error);
		} else if (!strcmp(key, "on_remote_error")) {
			r = take_option(args, XREPL_OPT_ON_REMOTE_ERROR, error);
		} else if (!strcmp(key, "resync_rate_kbps")) {
			r = take_option(args, XREPL_OPT_RESYNC_RATE, error);
		} else if (!strcmp(key, "semi_timeout_ms")) {
			r = take_option(args, XREPL_OPT_SEMI_TIMEOUT, error);
		} else if (!strcmp(key, "max_lag_kb")) {
			r = take_option(args, XREPL_OPT_MAX_LAG, error);
		} else if (!strcmp(key, "congestion")) {
			r = take_option(args, XREPL_OPT_CONGESTION, error);
		} else if (!strcmp(key, "remote_meta")) {
			r = take_option(args, XREPL_OPT_REMOTE_META, error);
		} else if (!strcmp(key, "period_s")) {
			r = take_option(args, XREPL_OPT_PERIOD, error);
		} else if (!strcmp(key, "journal")) {
			r = take_option(args, XREPL_OPT_JOURNAL, error);
		} else if (!strcmp(key, "delay_ms")) {
			r = take_option(args, XREPL_OPT_DELAY, error);
		} else {
			*error = "Unrecognised optional argument";
			return -EINVAL;
		}
		if (r)
			return r;

		if (i == count) {
			*error = "Missing value for optional argument";
			return -EINVAL;
		}
		val = argv[i++];
		if (!strcmp(key, "region_size"))
			r = parse_region_size(args, val, error);
		else if (!strcmp(key, "on_remote_error"))
			r = parse_policy(args, val, error);
		else if (!strcmp(key, "remote_meta"))
			args->peer_path = val;
		else if (!strcmp(key, "journal"))
			args->journal_path = val;
		else
			r = xrepl_parse_tunable(args, key, val, error) ? 0 : -EINVAL;
		if (r)
			return r;
	}
	if (args->peer_path && !args->remote_path) {
		*error = "remote_meta needs a remote device";
		return -EINVAL;
	}
	if (args->peer_path && !args->meta_path) {
		*error = "remote_meta needs a metadata device";
		return -EINVAL;
	}
	/*
	 * The journal belongs to the pair of the metadata device, whose marks
	 * cover what it may lack after a crash.
	 */
	if (args->journal_path && !args->meta_path) {
		*error = "journal needs a metadata device";
		return -EINVAL;
	}
	if (args->journal_path && args->mode == XREPL_MODE_PERIODIC) {
		*error = "journal does not go with periodic mode";
		return -EINVAL;
	}
	/* The log keeps what the delay holds back, in async mode only. */
	if (args->delay_ms && !args->journal_path) {
		*error = "delay_ms needs a journal";
		return -EINVAL;
	}
	if (args->delay_ms && args->mode != XREPL_MODE_ASYNC) {
		*error = "delay_ms needs async mode";
		return -EINVAL;
	}
	if (args->on_remote_error == XREPL_ON_ERROR_FAIL && !args->remote_path) {
		*error = "on_remote_error fail needs a remote device";
		return -EINVAL;
	}
	/* Failing writes the remote misses only makes sense if none are. */
	if (args->on_remote_error == XREPL_ON_ERROR_FAIL &&
	    args->mode != XREPL_MODE_SYNC) {
		*error = "on_remote_error fail needs sync mode";
		return -EINVAL;
	}
	return 0;
}

unsigned int xrepl_parse_tunable(struct xrepl_args *args, const char *key,
				 const char *val, char **error)
{
	if (!strcmp(key, "resync_rate_kbps"))
		return parse_range(val, 0, XREPL_MAX_RESYNC_RATE_KBPS,
				   &args->resync_rate_kbps,
				   "Invalid resync_rate_kbps", error) ?
		       0 : XREPL_OPT_RESYNC_RATE;
	if (!strcmp(key, "semi_timeout_ms"))
		return parse_range(val, XREPL_MIN_SEMI_TIMEOUT_MS,
				   XREPL_MAX_SEMI_TIMEOUT_MS,
				   &args->semi_timeout_ms,
				   "Invalid semi_timeout_ms", error) ?
		       0 : XREPL_OPT_SEMI_TIMEOUT;
	if (!strcmp(key, "max_lag_kb"))
		return parse_range(val, XREPL_MIN_LAG_KB, XREPL_MAX_LAG_KB,
				   &args->max_lag_kb, "Invalid max_lag_kb",
				   error) ? 0 : XREPL_OPT_MAX_LAG;
	if (!strcmp(key, "congestion"))
		return parse_congestion(args, val, error) ?
		       0 : XREPL_OPT_CONGESTION;
	if (!strcmp(key, "period_s"))
		return parse_range(val, XREPL_MIN_PERIOD_S, XREPL_MAX_PERIOD_S,
				   &args->period_s, "Invalid period_s", error) ?
		       0 : XREPL_OPT_PERIOD;
	if (!strcmp(key, "delay_ms"))
		return parse_range(val, 0, XREPL_MAX_DELAY_MS, &args->delay_ms,
				   "Invalid delay_ms", error) ?
		       0 : XREPL_OPT_DELAY;
	*error = "Unrecognised optional argument";
	return 0;
}

int xrepl_parse_args(struct xrepl_args *args, unsigned int argc, char **argv,
		     char **error)
{
	int r;

	memset(args, 0, sizeof(*args));
	args->region_size = XREPL_DEFAULT_REGION_SIZE;
	args->on_remote_error = XREPL_ON_ERROR_DEGRADE;
	args->semi_timeout_ms = XREPL_DEFAULT_SEMI_TIMEOUT_MS;
	args->max_lag_kb = XREPL_DEFAULT_LAG_KB;
	args->congestion = XREPL_CONGESTION_BLOCK;
	args->period_s = XREPL_DEFAULT_PERIOD_S;

	if (argc < XREPL_REQUIRED_ARGS) {
		*error = "Invalid argument count";
		return -EINVAL;
	}
	args->local_path = argv[0];
	args->remote_path = strcmp(argv[1], "-") ? argv[1] : NULL;
	args->meta_path = strcmp(argv[2], "-") ? argv[2] : NULL;

	r = parse_mode(args, argv[3], error);
	if (r)
		return r;
	/* Without a remote, the bitmap is all that says what it will need. */
	if (!args->remote_path && !args->meta_path) {
		*error = "A device without a remote needs a metadata device";
		return -EINVAL;
	}

	if (argc == XREPL_REQUIRED_ARGS)
		return 0;
	return parse_options(args, argc - XREPL_REQUIRED_ARGS,
			     argv + XREPL_REQUIRED_ARGS, error);
}
