// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the dm-xrepl helpers that do not need device-mapper:
 * the table line parser, region geometry and the dirty-region bitmap.
 *
 * Built by scripts/kunit.sh as CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-xrepl.h"

/* Longest table line in the tables below, in words. */
#define XT_MAX_ARGC	24

/*
 * A table line as a NULL-terminated list of words, so that an empty word
 * ("") can be expressed.
 */
struct xt_line {
	const char *argv[XT_MAX_ARGC + 1];
};

static unsigned int xt_argc(const struct xt_line *line)
{
	unsigned int argc = 0;

	while (argc < XT_MAX_ARGC && line->argv[argc])
		argc++;
	return argc;
}

/* The parser takes char ** but never writes through it. */
static void xt_argv(const struct xt_line *line, char **argv)
{
	unsigned int i;

	for (i = 0; i <= XT_MAX_ARGC; i++)
		argv[i] = (char *)line->argv[i];
}

/* Render a table line for test descriptions, '' for an empty word. */
static void xt_line_desc(const char *name, const struct xt_line *line,
			 char *desc)
{
	unsigned int i, argc = xt_argc(line);
	int len;

	len = scnprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s:", name);
	for (i = 0; i < argc; i++)
		len += scnprintf(desc + len, KUNIT_PARAM_DESC_SIZE - len,
				 " %s", *line->argv[i] ? line->argv[i] : "''");
}

/* Parse a table line given as words. */
static int xt_parse(struct xrepl_args *args, const struct xt_line *line,
		    char **error)
{
	char *argv[XT_MAX_ARGC + 1];

	xt_argv(line, argv);
	return xrepl_parse_args(args, xt_argc(line), argv, error);
}

/* ------------------------------------------------------------------------
 * Table lines that parse.
 */

#define XT_ALL_OPTS	(XREPL_OPT_REGION_SIZE | XREPL_OPT_ON_REMOTE_ERROR | \
			 XREPL_OPT_NOSYNC)
#define XT_LAG_OPTS	(XREPL_OPT_SEMI_TIMEOUT | XREPL_OPT_MAX_LAG | \
			 XREPL_OPT_CONGESTION)

struct xt_valid_case {
	const char *name;
	struct xt_line line;
	bool has_meta;			/* argv[2] is a path, not "-" */
	enum xrepl_mode mode;
	enum xrepl_error_policy policy;
	u32 region_size;
	unsigned int given;
	u32 rate;
	bool nosync;
	u32 timeout;			/* 0: the default */
	u32 lag;			/* 0: the default */
	enum xrepl_congestion congestion;
};

static const struct xt_valid_case xt_valid_cases[] = {
	{
		.name = "semi-sync timeout and lag",
		.line = { { "loc", "rem", "meta", "semi-sync", "6",
			    "semi_timeout_ms", "1", "max_lag_kb", "256",
			    "congestion", "block" } },
		.has_meta = true,
		.mode = XREPL_MODE_SEMI_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XT_LAG_OPTS,
		.timeout = 1,
		.lag = 256,
	},
	{
		.name = "async lag max, degrade",
		.line = { { "loc", "rem", "-", "async", "4", "congestion",
			    "degrade", "max_lag_kb", "16777216" } },
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_MAX_LAG | XREPL_OPT_CONGESTION,
		.lag = 16777216,
		.congestion = XREPL_CONGESTION_DEGRADE,
	},
	{
		.name = "sync keeps a timeout for a later mode switch",
		.line = { { "loc", "rem", "-", "sync", "2", "semi_timeout_ms",
			    "60000" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_SEMI_TIMEOUT,
		.timeout = 60000,
	},
	{
		.name = "every option at once",
		.line = { { "loc", "rem", "-", "async", "13", "nosync",
			    "resync_rate_kbps", "10", "region_size", "64",
			    "on_remote_error", "degrade", "semi_timeout_ms",
			    "20", "max_lag_kb", "4096", "congestion",
			    "degrade" } },
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 64,
		.given = XT_ALL_OPTS | XT_LAG_OPTS | XREPL_OPT_RESYNC_RATE,
		.rate = 10,
		.nosync = true,
		.timeout = 20,
		.lag = 4096,
		.congestion = XREPL_CONGESTION_DEGRADE,
	},
	{
		.name = "resync rate",
		.line = { { "loc", "rem", "meta", "sync", "2",
			    "resync_rate_kbps", "4294967295" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_RESYNC_RATE,
		.rate = 4294967295U,
	},
	{
		.name = "every option",
		.line = { { "loc", "rem", "meta", "sync", "7", "nosync",
			    "resync_rate_kbps", "0", "region_size", "64",
			    "on_remote_error", "fail" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 64,
		.given = XT_ALL_OPTS | XREPL_OPT_RESYNC_RATE,
		.nosync = true,
	},
	{
		.name = "defaults, no meta",
		.line = { { "loc", "rem", "-", "sync" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "defaults, meta path",
		.line = { { "/dev/loc", "/dev/rem", "/dev/meta", "sync" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "semi-sync",
		.line = { { "loc", "rem", "-", "semi-sync" } },
		.mode = XREPL_MODE_SEMI_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "async with meta",
		.line = { { "loc", "rem", "meta", "async" } },
		.has_meta = true,
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "meta that only starts with a dash",
		.line = { { "loc", "rem", "--", "sync" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "zero optional args",
		.line = { { "loc", "rem", "-", "async", "0" } },
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "count with leading zero",
		.line = { { "loc", "rem", "-", "sync", "01", "nosync" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_NOSYNC,
		.nosync = true,
	},
	{
		.name = "region_size min",
		.line = { { "loc", "rem", "-", "sync", "2", "region_size", "8" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 8,
		.given = XREPL_OPT_REGION_SIZE,
	},
	{
		.name = "region_size max",
		.line = { { "loc", "rem", "-", "sync", "2", "region_size",
			    "2097152" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 2097152,
		.given = XREPL_OPT_REGION_SIZE,
	},
	{
		.name = "region_size default given explicitly",
		.line = { { "loc", "rem", "-", "sync", "2", "region_size",
			    "1024" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 1024,
		.given = XREPL_OPT_REGION_SIZE,
	},
	{
		.name = "region_size leading zeros are decimal",
		.line = { { "loc", "rem", "-", "sync", "2", "region_size",
			    "0016" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 16,
		.given = XREPL_OPT_REGION_SIZE,
	},
	{
		.name = "on_remote_error degrade",
		.line = { { "loc", "rem", "-", "sync", "2", "on_remote_error",
			    "degrade" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_ON_REMOTE_ERROR,
	},
	{
		.name = "on_remote_error fail",
		.line = { { "loc", "rem", "-", "sync", "2",
			    "on_remote_error", "fail" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_ON_REMOTE_ERROR,
	},
	{
		.name = "nosync",
		.line = { { "loc", "rem", "m", "async", "1", "nosync" } },
		.has_meta = true,
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_NOSYNC,
		.nosync = true,
	},
	{
		.name = "nosync then region_size",
		.line = { { "loc", "rem", "-", "sync", "3", "nosync",
			    "region_size", "64" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 64,
		.given = XREPL_OPT_NOSYNC | XREPL_OPT_REGION_SIZE,
		.nosync = true,
	},
	{
		.name = "region_size then on_remote_error",
		.line = { { "loc", "rem", "-", "sync", "4", "region_size",
			    "128", "on_remote_error", "fail" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 128,
		.given = XREPL_OPT_REGION_SIZE | XREPL_OPT_ON_REMOTE_ERROR,
	},
	{
		.name = "all options: size policy nosync",
		.line = { { "loc", "rem", "meta", "sync", "5", "region_size",
			    "4096", "on_remote_error", "fail", "nosync" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 4096,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
	{
		.name = "all options: size nosync policy",
		.line = { { "loc", "rem", "-", "sync", "5", "region_size",
			    "4096", "nosync", "on_remote_error", "fail" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 4096,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
	{
		.name = "all options: policy size nosync",
		.line = { { "loc", "rem", "-", "semi-sync", "5",
			    "on_remote_error", "degrade", "region_size", "8",
			    "nosync" } },
		.mode = XREPL_MODE_SEMI_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = 8,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
	{
		.name = "all options: policy nosync size",
		.line = { { "loc", "rem", "-", "sync", "5", "on_remote_error",
			    "fail", "nosync", "region_size", "2097152" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 2097152,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
	{
		.name = "all options: nosync size policy",
		.line = { { "loc", "rem", "-", "sync", "5", "nosync",
			    "region_size", "16", "on_remote_error", "fail" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 16,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
	{
		.name = "all options: nosync policy size",
		.line = { { "loc", "rem", "m", "sync", "5", "nosync",
			    "on_remote_error", "fail", "region_size", "32" } },
		.has_meta = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_FAIL,
		.region_size = 32,
		.given = XT_ALL_OPTS,
		.nosync = true,
	},
};

static void xt_valid_desc(const struct xt_valid_case *c, char *desc)
{
	xt_line_desc(c->name, &c->line, desc);
}

KUNIT_ARRAY_PARAM(xt_valid, xt_valid_cases, xt_valid_desc);

static void xrepl_parse_valid_test(struct kunit *test)
{
	const struct xt_valid_case *c = test->param_value;
	char *error = NULL;
	struct xrepl_args args;
	int r;

	r = xt_parse(&args, &c->line, &error);
	KUNIT_ASSERT_EQ_MSG(test, r, 0, "refused with \"%s\"",
			    error ? error : "(null)");

	KUNIT_EXPECT_PTR_EQ(test, args.local_path, c->line.argv[0]);
	KUNIT_EXPECT_PTR_EQ(test, args.remote_path, c->line.argv[1]);
	if (c->has_meta)
		KUNIT_EXPECT_PTR_EQ(test, args.meta_path, c->line.argv[2]);
	else
		KUNIT_EXPECT_NULL(test, args.meta_path);
	KUNIT_EXPECT_EQ(test, args.mode, c->mode);
	KUNIT_EXPECT_EQ(test, args.on_remote_error, c->policy);
	KUNIT_EXPECT_EQ(test, args.region_size, c->region_size);
	KUNIT_EXPECT_EQ(test, args.given, c->given);
	KUNIT_EXPECT_EQ(test, args.nosync, c->nosync);
	KUNIT_EXPECT_EQ(test, args.resync_rate_kbps, c->rate);
	KUNIT_EXPECT_EQ(test, args.semi_timeout_ms,
			c->timeout ?: XREPL_DEFAULT_SEMI_TIMEOUT_MS);
	KUNIT_EXPECT_EQ(test, args.max_lag_kb, c->lag ?: XREPL_DEFAULT_LAG_KB);
	KUNIT_EXPECT_EQ(test, args.congestion, c->congestion);
	/* The mode word round-trips through xrepl_mode_name(). */
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name(args.mode), c->line.argv[3]);
}

/* ------------------------------------------------------------------------
 * Table lines that are refused, with the exact error string.
 */

static const char XT_E_ARGC[] = "Invalid argument count";
static const char XT_E_MODE[] = "Invalid replication mode";
static const char XT_E_NOPT[] = "Invalid number of optional arguments";
static const char XT_E_UNKNOWN[] = "Unrecognised optional argument";
static const char XT_E_DUP[] = "Duplicate optional argument";
static const char XT_E_MISSING[] = "Missing value for optional argument";
static const char XT_E_REGION[] = "Invalid region_size";
static const char XT_E_POLICY[] = "Invalid on_remote_error policy";
static const char XT_E_RATE[] = "Invalid resync_rate_kbps";
static const char XT_E_TIMEOUT[] = "Invalid semi_timeout_ms";
static const char XT_E_LAG[] = "Invalid max_lag_kb";
static const char XT_E_CONGESTION[] = "Invalid congestion policy";
static const char XT_E_FAIL_MODE[] = "on_remote_error fail needs sync mode";

struct xt_bad_case {
	const char *name;
	struct xt_line line;
	const char *error;
};

#define XT_BAD(_name, _error, ...)					\
	{ .name = (_name), .error = (_error),				\
	  .line = { { "loc", "rem", "-", __VA_ARGS__ } } }

static const struct xt_bad_case xt_bad_cases[] = {
	/* Fewer than four words. */
	{ .name = "no args", .line = { { NULL } }, .error = XT_E_ARGC },
	{ .name = "one arg", .line = { { "loc" } }, .error = XT_E_ARGC },
	{ .name = "two args", .line = { { "loc", "rem" } }, .error = XT_E_ARGC },
	{ .name = "three args", .line = { { "loc", "rem", "-" } },
	  .error = XT_E_ARGC },

	/* Mode. */
	XT_BAD("mode upper case", XT_E_MODE, "SYNC"),
	XT_BAD("mode without dash", XT_E_MODE, "semisync"),
	XT_BAD("mode prefix", XT_E_MODE, "asyn"),
	XT_BAD("mode suffix", XT_E_MODE, "syncx"),
	XT_BAD("mode empty", XT_E_MODE, ""),
	XT_BAD("mode is an option", XT_E_MODE, "nosync"),
	XT_BAD("mode checked before options", XT_E_MODE, "bogus", "1",
	       "nosync"),

	/* Optional argument count. */
	XT_BAD("count 1, no words", XT_E_NOPT, "sync", "1"),
	XT_BAD("count 0, one word", XT_E_NOPT, "sync", "0", "nosync"),
	XT_BAD("count 2, one word", XT_E_NOPT, "sync", "2", "nosync"),
	XT_BAD("count 1, two words", XT_E_NOPT, "sync", "1", "region_size",
	       "64"),
	XT_BAD("count 4, three words", XT_E_NOPT, "sync", "4", "region_size",
	       "64", "nosync"),
	XT_BAD("count over the max", XT_E_NOPT, "sync", "14", "region_size",
	       "64", "on_remote_error", "fail", "resync_rate_kbps", "1",
	       "semi_timeout_ms", "1", "max_lag_kb", "256", "congestion",
	       "block", "nosync", "nosync"),
	XT_BAD("count empty", XT_E_NOPT, "sync", "", "nosync"),
	XT_BAD("count junk suffix", XT_E_NOPT, "sync", "1x", "nosync"),
	XT_BAD("count trailing space", XT_E_NOPT, "sync", "1 ", "nosync"),
	XT_BAD("count trailing newline", XT_E_NOPT, "sync", "1\n", "nosync"),
	XT_BAD("count leading space", XT_E_NOPT, "sync", " 1", "nosync"),
	XT_BAD("count plus sign", XT_E_NOPT, "sync", "+1", "nosync"),
	XT_BAD("count minus sign", XT_E_NOPT, "sync", "-1", "nosync"),
	XT_BAD("count negative zero", XT_E_NOPT, "sync", "-0"),
	XT_BAD("count hex", XT_E_NOPT, "sync", "0x1", "nosync"),
	XT_BAD("count not a number", XT_E_NOPT, "sync", "nosync"),
	XT_BAD("count huge", XT_E_NOPT, "sync", "4294967297", "nosync"),
	XT_BAD("count u32 max", XT_E_NOPT, "sync", "4294967295", "nosync"),

	/* Unknown keys. */
	XT_BAD("unknown option", XT_E_UNKNOWN, "sync", "1", "foo"),
	XT_BAD("option upper case", XT_E_UNKNOWN, "sync", "1", "NOSYNC"),
	XT_BAD("option with dash", XT_E_UNKNOWN, "sync", "2", "region-size",
	       "64"),
	XT_BAD("option with equals", XT_E_UNKNOWN, "sync", "1",
	       "region_size=64"),
	XT_BAD("option empty", XT_E_UNKNOWN, "sync", "1", ""),
	XT_BAD("mode as option", XT_E_UNKNOWN, "sync", "1", "sync"),
	XT_BAD("unknown after a valid one", XT_E_UNKNOWN, "sync", "3",
	       "region_size", "64", "sync"),

	/* Duplicates. */
	XT_BAD("duplicate nosync", XT_E_DUP, "sync", "2", "nosync", "nosync"),
	XT_BAD("duplicate region_size", XT_E_DUP, "sync", "4", "region_size",
	       "64", "region_size", "64"),
	XT_BAD("duplicate on_remote_error", XT_E_DUP, "sync", "4",
	       "on_remote_error", "fail", "on_remote_error", "degrade"),
	XT_BAD("duplicate region_size, apart", XT_E_DUP, "sync", "5",
	       "region_size", "64", "nosync", "region_size", "128"),
	XT_BAD("duplicate key without value", XT_E_DUP, "sync", "3",
	       "region_size", "64", "region_size"),
	XT_BAD("duplicate resync_rate_kbps", XT_E_DUP, "sync", "4",
	       "resync_rate_kbps", "1", "resync_rate_kbps", "2"),

	/* Missing values. */
	XT_BAD("region_size without value", XT_E_MISSING, "sync", "1",
	       "region_size"),
	XT_BAD("on_remote_error without value", XT_E_MISSING, "sync", "1",
	       "on_remote_error"),
	XT_BAD("value missing after nosync", XT_E_MISSING, "sync", "2",
	       "nosync", "region_size"),
	XT_BAD("second value missing", XT_E_MISSING, "sync", "3",
	       "region_size", "64", "on_remote_error"),
	XT_BAD("resync_rate_kbps without value", XT_E_MISSING, "sync", "1",
	       "resync_rate_kbps"),
	XT_BAD("resync_rate_kbps negative", XT_E_RATE, "sync", "2",
	       "resync_rate_kbps", "-1"),
	XT_BAD("resync_rate_kbps with unit", XT_E_RATE, "sync", "2",
	       "resync_rate_kbps", "100k"),
	XT_BAD("resync_rate_kbps over u32", XT_E_RATE, "sync", "2",
	       "resync_rate_kbps", "4294967296"),
	XT_BAD("resync_rate_kbps empty", XT_E_RATE, "sync", "2",
	       "resync_rate_kbps", ""),
	XT_BAD("key taken as value", XT_E_REGION, "sync", "2", "region_size",
	       "nosync"),

	/* region_size values. */
	XT_BAD("region_size not a power of two", XT_E_REGION, "sync", "2",
	       "region_size", "100"),
	XT_BAD("region_size 3 sectors", XT_E_REGION, "sync", "2",
	       "region_size", "24"),
	XT_BAD("region_size trailing newline", XT_E_REGION, "sync", "2",
	       "region_size", "64\n"),
	XT_BAD("region_size zero", XT_E_REGION, "sync", "2", "region_size",
	       "0"),
	XT_BAD("region_size one", XT_E_REGION, "sync", "2", "region_size",
	       "1"),
	XT_BAD("region_size too small", XT_E_REGION, "sync", "2",
	       "region_size", "4"),
	XT_BAD("region_size too big", XT_E_REGION, "sync", "2",
	       "region_size", "4194304"),
	XT_BAD("region_size max plus one", XT_E_REGION, "sync", "2",
	       "region_size", "2097153"),
	XT_BAD("region_size 2^32", XT_E_REGION, "sync", "2", "region_size",
	       "4294967296"),
	XT_BAD("region_size huge", XT_E_REGION, "sync", "2", "region_size",
	       "99999999999999999999999"),
	XT_BAD("region_size junk suffix", XT_E_REGION, "sync", "2",
	       "region_size", "64k"),
	XT_BAD("region_size trailing space", XT_E_REGION, "sync", "2",
	       "region_size", "64 "),
	XT_BAD("region_size leading space", XT_E_REGION, "sync", "2",
	       "region_size", " 64"),
	XT_BAD("region_size empty", XT_E_REGION, "sync", "2", "region_size",
	       ""),
	XT_BAD("region_size leading plus", XT_E_REGION, "sync", "2",
	       "region_size", "+64"),
	XT_BAD("region_size negative", XT_E_REGION, "sync", "2",
	       "region_size", "-64"),
	XT_BAD("region_size hex", XT_E_REGION, "sync", "2", "region_size",
	       "0x40"),
	XT_BAD("region_size octal-looking", XT_E_REGION, "sync", "2",
	       "region_size", "0100"),
	XT_BAD("region_size after nosync", XT_E_REGION, "sync", "3", "nosync",
	       "region_size", "63"),

	/* on_remote_error values. */
	XT_BAD("policy upper case", XT_E_POLICY, "sync", "2",
	       "on_remote_error", "FAIL"),
	XT_BAD("policy misspelt", XT_E_POLICY, "sync", "2", "on_remote_error",
	       "degraded"),
	XT_BAD("policy prefix", XT_E_POLICY, "sync", "2", "on_remote_error",
	       "fai"),
	XT_BAD("policy empty", XT_E_POLICY, "sync", "2", "on_remote_error",
	       ""),
	XT_BAD("policy ignore", XT_E_POLICY, "sync", "2", "on_remote_error",
	       "ignore"),
	XT_BAD("policy after region_size", XT_E_POLICY, "async", "4",
	       "region_size", "64", "on_remote_error", "nosync"),

	/* Policy against mode. */
	XT_BAD("fail with async", XT_E_FAIL_MODE, "async", "2",
	       "on_remote_error", "fail"),
	XT_BAD("fail with semi-sync", XT_E_FAIL_MODE, "semi-sync", "3",
	       "nosync", "on_remote_error", "fail"),

	/* semi_timeout_ms, max_lag_kb, congestion. */
	XT_BAD("semi_timeout_ms zero", XT_E_TIMEOUT, "semi-sync", "2",
	       "semi_timeout_ms", "0"),
	XT_BAD("semi_timeout_ms over max", XT_E_TIMEOUT, "semi-sync", "2",
	       "semi_timeout_ms", "60001"),
	XT_BAD("semi_timeout_ms with unit", XT_E_TIMEOUT, "semi-sync", "2",
	       "semi_timeout_ms", "10ms"),
	XT_BAD("semi_timeout_ms negative", XT_E_TIMEOUT, "semi-sync", "2",
	       "semi_timeout_ms", "-5"),
	XT_BAD("semi_timeout_ms without value", XT_E_MISSING, "semi-sync",
	       "1", "semi_timeout_ms"),
	XT_BAD("duplicate semi_timeout_ms", XT_E_DUP, "semi-sync", "4",
	       "semi_timeout_ms", "5", "semi_timeout_ms", "5"),
	XT_BAD("max_lag_kb below one entry", XT_E_LAG, "async", "2",
	       "max_lag_kb", "255"),
	XT_BAD("max_lag_kb over max", XT_E_LAG, "async", "2", "max_lag_kb",
	       "16777217"),
	XT_BAD("max_lag_kb over u32", XT_E_LAG, "async", "2", "max_lag_kb",
	       "4294967296"),
	XT_BAD("max_lag_kb empty", XT_E_LAG, "async", "2", "max_lag_kb", ""),
	XT_BAD("duplicate max_lag_kb", XT_E_DUP, "async", "4", "max_lag_kb",
	       "1024", "max_lag_kb", "2048"),
	XT_BAD("congestion unknown", XT_E_CONGESTION, "async", "2",
	       "congestion", "drop"),
	XT_BAD("congestion upper case", XT_E_CONGESTION, "async", "2",
	       "congestion", "BLOCK"),
	XT_BAD("congestion without value", XT_E_MISSING, "async", "1",
	       "congestion"),
	XT_BAD("duplicate congestion", XT_E_DUP, "async", "4", "congestion",
	       "block", "congestion", "degrade"),
};

static void xt_bad_desc(const struct xt_bad_case *c, char *desc)
{
	xt_line_desc(c->name, &c->line, desc);
}

KUNIT_ARRAY_PARAM(xt_bad, xt_bad_cases, xt_bad_desc);

static void xrepl_parse_refused_test(struct kunit *test)
{
	const struct xt_bad_case *c = test->param_value;
	char *error = NULL;
	struct xrepl_args args;
	int r;

	r = xt_parse(&args, &c->line, &error);
	KUNIT_EXPECT_EQ(test, r, -EINVAL);
	KUNIT_ASSERT_NOT_NULL(test, error);
	KUNIT_EXPECT_STREQ(test, error, c->error);
}

/* A struct reused for a second parse must not keep old options. */
static void xrepl_parse_resets_args_test(struct kunit *test)
{
	static const struct xt_line all = { {
		"loc", "rem", "meta", "async", "11", "nosync", "region_size",
		"64", "on_remote_error", "degrade", "semi_timeout_ms", "5",
		"max_lag_kb", "1024", "congestion", "degrade"
	} };
	static const struct xt_line plain = { { "a", "b", "-", "sync" } };
	char *error = NULL;
	struct xrepl_args args;

	KUNIT_ASSERT_EQ(test, xt_parse(&args, &all, &error), 0);
	KUNIT_ASSERT_EQ(test, args.given, XT_ALL_OPTS | XT_LAG_OPTS);
	KUNIT_ASSERT_EQ(test, xt_parse(&args, &plain, &error), 0);
	KUNIT_EXPECT_STREQ(test, args.local_path, "a");
	KUNIT_EXPECT_STREQ(test, args.remote_path, "b");
	KUNIT_EXPECT_NULL(test, args.meta_path);
	KUNIT_EXPECT_EQ(test, args.mode, XREPL_MODE_SYNC);
	KUNIT_EXPECT_EQ(test, args.on_remote_error, XREPL_ON_ERROR_DEGRADE);
	KUNIT_EXPECT_EQ(test, args.region_size, XREPL_DEFAULT_REGION_SIZE);
	KUNIT_EXPECT_EQ(test, args.given, 0U);
	KUNIT_EXPECT_FALSE(test, args.nosync);
	KUNIT_EXPECT_EQ(test, args.semi_timeout_ms,
			XREPL_DEFAULT_SEMI_TIMEOUT_MS);
	KUNIT_EXPECT_EQ(test, args.max_lag_kb, XREPL_DEFAULT_LAG_KB);
	KUNIT_EXPECT_EQ(test, args.congestion, XREPL_CONGESTION_BLOCK);
}

/*
 * The parser accepts exactly the powers of two in [8, 2^21] as region_size,
 * and so does xrepl_geom_init(): every value up to 4096, then each power
 * of two up to 2^23 and its neighbours.
 */
static void xt_check_region_size(struct kunit *test, u32 v,
				 unsigned int *accepted)
{
	bool valid = v >= 8 && v <= (1U << 21) && !(v & (v - 1));
	char val[16];
	const struct xt_line line = { {
		"loc", "rem", "-", "sync", "2", "region_size", val
	} };
	char *error = NULL, *gerror = NULL;
	struct xrepl_args args;
	struct xrepl_geom geom;
	int r, gr;

	snprintf(val, sizeof(val), "%u", v);
	r = xt_parse(&args, &line, &error);
	gr = xrepl_geom_init(&geom, 1ULL << 30, v, &gerror);
	if (!valid) {
		KUNIT_ASSERT_EQ_MSG(test, r, -EINVAL, "region_size %u", v);
		KUNIT_ASSERT_EQ_MSG(test, gr, -EINVAL, "region_size %u", v);
		KUNIT_ASSERT_STREQ(test, error, XT_E_REGION);
		KUNIT_ASSERT_STREQ(test, gerror, XT_E_REGION);
		return;
	}
	KUNIT_ASSERT_EQ_MSG(test, r, 0, "region_size %u", v);
	KUNIT_ASSERT_EQ_MSG(test, args.region_size, v, "region_size %u", v);
	KUNIT_ASSERT_EQ_MSG(test, args.given, XREPL_OPT_REGION_SIZE,
			    "region_size %u", v);
	KUNIT_ASSERT_EQ_MSG(test, gr, 0, "region_size %u", v);
	KUNIT_ASSERT_EQ_MSG(test, 1U << geom.region_shift, v,
			    "region_size %u", v);
	(*accepted)++;
}

static void xrepl_region_size_values_test(struct kunit *test)
{
	unsigned int accepted = 0, s;
	u32 v;

	for (v = 0; v <= 4096; v++)
		xt_check_region_size(test, v, &accepted);
	for (s = 13; s <= 23; s++) {
		xt_check_region_size(test, (1U << s) - 1, &accepted);
		xt_check_region_size(test, 1U << s, &accepted);
		xt_check_region_size(test, (1U << s) + 1, &accepted);
	}
	xt_check_region_size(test, U32_MAX, &accepted);
	/* 2^3 .. 2^21 */
	KUNIT_EXPECT_EQ(test, accepted, 19U);
}

static void xrepl_names_test(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name(XREPL_MODE_SYNC), "sync");
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name(XREPL_MODE_SEMI_SYNC),
			   "semi-sync");
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name(XREPL_MODE_ASYNC), "async");
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name((enum xrepl_mode)3),
			   "unknown");
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name((enum xrepl_mode)1000),
			   "unknown");
	KUNIT_EXPECT_STREQ(test, xrepl_policy_name(XREPL_ON_ERROR_DEGRADE),
			   "degrade");
	KUNIT_EXPECT_STREQ(test, xrepl_policy_name(XREPL_ON_ERROR_FAIL),
			   "fail");
	KUNIT_EXPECT_STREQ(test,
			   xrepl_policy_name((enum xrepl_error_policy)2),
			   "unknown");
	KUNIT_EXPECT_STREQ(test, xrepl_congestion_name(XREPL_CONGESTION_BLOCK),
			   "block");
	KUNIT_EXPECT_STREQ(test,
			   xrepl_congestion_name(XREPL_CONGESTION_DEGRADE),
			   "degrade");
	KUNIT_EXPECT_STREQ(test,
			   xrepl_congestion_name((enum xrepl_congestion)2),
			   "unknown");
}

/* The mode message takes the same words as the table line. */
static void xrepl_parse_mode_test(struct kunit *test)
{
	enum xrepl_mode mode = XREPL_MODE_ASYNC;

	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("sync", &mode), 0);
	KUNIT_EXPECT_EQ(test, mode, XREPL_MODE_SYNC);
	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("semi-sync", &mode), 0);
	KUNIT_EXPECT_EQ(test, mode, XREPL_MODE_SEMI_SYNC);
	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("async", &mode), 0);
	KUNIT_EXPECT_EQ(test, mode, XREPL_MODE_ASYNC);
	/* A refused word leaves the mode alone. */
	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("Async", &mode), -EINVAL);
	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("", &mode), -EINVAL);
	KUNIT_EXPECT_EQ(test, xrepl_parse_mode("sync ", &mode), -EINVAL);
	KUNIT_EXPECT_EQ(test, mode, XREPL_MODE_ASYNC);
}

/* ------------------------------------------------------------------------
 * Region geometry.
 */

struct xt_geom_case {
	const char *name;
	sector_t dev_sectors;
	u32 region_size;
	unsigned long nr_regions;	/* 0: refused with error */
	const char *error;
	sector_t last_len;		/* length of the last region */
};

static const struct xt_geom_case xt_geom_cases[] = {
	{ "exact multiple", 10 * 1024, 1024, 10, NULL, 1024 },
	{ "partial last region, one sector", 10 * 1024 + 1, 1024, 11, NULL, 1 },
	{ "partial last region, one short", 10 * 1024 - 1, 1024, 10, NULL,
	  1023 },
	{ "one region exactly", 1024, 1024, 1, NULL, 1024 },
	{ "device smaller than a region", 100, 1024, 1, NULL, 100 },
	{ "1-sector device, min region", 1, 8, 1, NULL, 1 },
	{ "1-sector device, max region", 1, 1U << 21, 1, NULL, 1 },
	{ "min region, odd size", 8 * 1000 + 5, 8, 1001, NULL, 5 },
	{ "64 TiB at the default region size", 1ULL << 37, 1024, 1UL << 27,
	  NULL, 1024 },
	{ "region cap reached exactly, min region", 1ULL << 30, 8, 1UL << 27,
	  NULL, 8 },
	{ "region cap reached exactly, max region", 1ULL << 48, 1U << 21,
	  1UL << 27, NULL, 1U << 21 },
	{ "cap with a partial last region", (1ULL << 30) - 1, 8, 1UL << 27,
	  NULL, 7 },
	{ "one sector over the cap, min region", (1ULL << 30) + 1, 8, 0,
	  "region_size too small for device" },
	{ "one region over the cap", (1ULL << 30) + 8, 8, 0,
	  "region_size too small for device" },
	{ "one sector over the cap, max region", (1ULL << 48) + 1, 1U << 21, 0,
	  "region_size too small for device" },
	{ "one sector over 64 TiB, default region", (1ULL << 37) + 1, 1024, 0,
	  "region_size too small for device" },
	{ "largest sector_t", ~(sector_t)0, 1U << 21, 0,
	  "region_size too small for device" },
	{ "zero-length device", 0, 1024, 0, "Zero-length device" },
	{ "region_size zero", 1024, 0, 0, "Invalid region_size" },
	{ "region_size too small", 1024, 4, 0, "Invalid region_size" },
	{ "region_size not a power of two", 1024, 24, 0,
	  "Invalid region_size" },
	{ "region_size too big", 1ULL << 30, 1U << 22, 0,
	  "Invalid region_size" },
	{ "region_size u32 max", 1ULL << 30, U32_MAX, 0,
	  "Invalid region_size" },
	{ "region_size checked before length", 0, 7, 0,
	  "Invalid region_size" },
};

static void xt_geom_desc(const struct xt_geom_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s: %llu sectors, region %u",
		 c->name, (unsigned long long)c->dev_sectors, c->region_size);
}

KUNIT_ARRAY_PARAM(xt_geom, xt_geom_cases, xt_geom_desc);

static void xrepl_geom_init_test(struct kunit *test)
{
	const struct xt_geom_case *c = test->param_value;
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned long last;
	int r;

	r = xrepl_geom_init(&geom, c->dev_sectors, c->region_size, &error);
	if (c->error) {
		KUNIT_EXPECT_EQ(test, r, -EINVAL);
		KUNIT_ASSERT_NOT_NULL(test, error);
		KUNIT_EXPECT_STREQ(test, error, c->error);
		return;
	}

	KUNIT_ASSERT_EQ_MSG(test, r, 0, "refused with \"%s\"",
			    error ? error : "(null)");
	KUNIT_EXPECT_EQ(test, geom.dev_sectors, c->dev_sectors);
	KUNIT_EXPECT_EQ(test, geom.region_size, c->region_size);
	KUNIT_EXPECT_EQ(test, 1U << geom.region_shift, c->region_size);
	KUNIT_EXPECT_EQ(test, geom.nr_regions, c->nr_regions);

	last = geom.nr_regions - 1;
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last), c->last_len);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, 0),
			min_t(sector_t, c->region_size, c->dev_sectors));
	if (last)
		KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last - 1),
				(sector_t)c->region_size);
	/* Past the end: no sectors. */
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last + 1), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, last + 1000), 0ULL);
	/* Far past the end, where region << shift wraps round. */
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, 1UL << 61), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_len(&geom, ULONG_MAX), 0ULL);

	/* The last sector is in the last region, and it ends the device. */
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, c->dev_sectors - 1),
			last);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, last) + c->last_len,
			c->dev_sectors);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, c->dev_sectors),
			c->last_len == c->region_size ? last + 1 : last);
}

/* The sum of all region lengths is the device size. */
static void xrepl_region_len_sum_test(struct kunit *test)
{
	static const sector_t sizes[] = { 1, 7, 8, 9, 1000, 1023, 1024, 1025,
					  4096 * 3 + 17 };
	static const u32 rsizes[] = { 8, 16, 1024, 4096 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < ARRAY_SIZE(rsizes); j++) {
			char *error = NULL;
			struct xrepl_geom geom;
			sector_t sum = 0;
			unsigned long reg;

			KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, sizes[i],
							      rsizes[j],
							      &error), 0);
			KUNIT_EXPECT_EQ(test, geom.nr_regions,
					(unsigned long)DIV_ROUND_UP_ULL(sizes[i],
									rsizes[j]));
			for (reg = 0; reg < geom.nr_regions; reg++) {
				sector_t len = xrepl_region_len(&geom, reg);

				KUNIT_EXPECT_GT(test, len, 0ULL);
				KUNIT_EXPECT_LE(test, len, (sector_t)rsizes[j]);
				sum += len;
			}
			KUNIT_EXPECT_EQ_MSG(test, sum, sizes[i],
					    "device %llu, region %u",
					    (unsigned long long)sizes[i],
					    rsizes[j]);
		}
	}
}

static void xrepl_sector_region_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 37, 1024, &error),
			0);
	KUNIT_EXPECT_EQ(test, geom.region_shift, 10U);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 0), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 1023), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 1024), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, 5 * 1024 + 3), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, (1ULL << 37) - 1),
			(1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 5), 5120ULL);
	/* No truncation of the sector through a 32-bit intermediate. */
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, 1UL << 27),
			1ULL << 37);

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 48, 1U << 21,
					      &error), 0);
	KUNIT_EXPECT_EQ(test, geom.region_shift, 21U);
	KUNIT_EXPECT_EQ(test, xrepl_sector_to_region(&geom, (1ULL << 48) - 1),
			(1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, xrepl_region_to_sector(&geom, (1UL << 27) - 1),
			(1ULL << 48) - (1ULL << 21));
}

struct xt_range_case {
	sector_t sector;
	sector_t nr_sectors;
	unsigned long first;
	unsigned long last;
};

/* Device of 10 * 1024 + 100 sectors, 1024-sector regions (11 regions). */
static const struct xt_range_case xt_range_cases[] = {
	{ 0, 1, 0, 0 },
	{ 0, 8, 0, 0 },
	{ 1023, 1, 0, 0 },
	{ 1023, 2, 0, 1 },
	{ 0, 1024, 0, 0 },
	{ 0, 1025, 0, 1 },
	{ 1024, 1, 1, 1 },
	{ 1024, 1024, 1, 1 },
	{ 1024, 2048, 1, 2 },
	{ 1000, 5000, 0, 5 },
	{ 2047, 1026, 1, 3 },
	{ 9 * 1024, 1024, 9, 9 },
	{ 10 * 1024, 100, 10, 10 },		/* the short last region */
	{ 10 * 1024 + 99, 1, 10, 10 },		/* the last sector */
	{ 9 * 1024 + 1, 1123, 9, 10 },		/* up to the end */
	{ 0, 10 * 1024 + 100, 0, 10 },		/* the whole device */
};

static void xrepl_range_to_regions_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 10 * 1024 + 100, 1024,
					      &error), 0);
	KUNIT_ASSERT_EQ(test, geom.nr_regions, 11UL);

	for (i = 0; i < ARRAY_SIZE(xt_range_cases); i++) {
		const struct xt_range_case *c = &xt_range_cases[i];
		unsigned long first = ULONG_MAX, last = ULONG_MAX;
		bool ok;

		ok = xrepl_range_to_regions(&geom, c->sector, c->nr_sectors,
					    &first, &last);
		KUNIT_EXPECT_TRUE_MSG(test, ok, "range %llu+%llu",
				      (unsigned long long)c->sector,
				      (unsigned long long)c->nr_sectors);
		KUNIT_EXPECT_EQ_MSG(test, first, c->first, "range %llu+%llu",
				    (unsigned long long)c->sector,
				    (unsigned long long)c->nr_sectors);
		KUNIT_EXPECT_EQ_MSG(test, last, c->last, "range %llu+%llu",
				    (unsigned long long)c->sector,
				    (unsigned long long)c->nr_sectors);
	}
}

static void xrepl_range_empty_test(struct kunit *test)
{
	static const sector_t starts[] = { 0, 1023, 1024, 5000, 10 * 1024 + 99 };
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 10 * 1024 + 100, 1024,
					      &error), 0);
	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		unsigned long first = 12345, last = 67890;

		KUNIT_EXPECT_FALSE(test, xrepl_range_to_regions(&geom,
								starts[i], 0,
								&first, &last));
		/* Left alone. */
		KUNIT_EXPECT_EQ(test, first, 12345UL);
		KUNIT_EXPECT_EQ(test, last, 67890UL);
	}
}

/* Ranges on a large device with the largest regions. */
static void xrepl_range_large_test(struct kunit *test)
{
	char *error = NULL;
	struct xrepl_geom geom;
	unsigned long first, last;

	KUNIT_ASSERT_EQ(test, xrepl_geom_init(&geom, 1ULL << 48, 1U << 21,
					      &error), 0);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, (1ULL << 48) - 1,
						       1, &first, &last));
	KUNIT_EXPECT_EQ(test, first, (1UL << 27) - 1);
	KUNIT_EXPECT_EQ(test, last, (1UL << 27) - 1);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, (1ULL << 21) - 1,
						       2, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0UL);
	KUNIT_EXPECT_EQ(test, last, 1UL);
	KUNIT_EXPECT_TRUE(test, xrepl_range_to_regions(&geom, 0, 1ULL << 48,
						       &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0UL);
	KUNIT_EXPECT_EQ(test, last, (1UL << 27) - 1);
}

/* ------------------------------------------------------------------------
 * Dirty-region bitmap.
 */

static int xt_bm_init(struct kunit_resource *res, void *context)
{
	unsigned long nr_bits = *(unsigned long *)context;
	struct xrepl_bitmap *bm;

	bm = kzalloc(sizeof(*bm), GFP_KERNEL);
	if (!bm)
		return -ENOMEM;
	if (xrepl_bitmap_alloc(bm, nr_bits)) {
		kfree(bm);
		return -ENOMEM;
	}
	res->data = bm;
	return 0;
}

static void xt_bm_free(struct kunit_resource *res)
{
	struct xrepl_bitmap *bm = res->data;

	xrepl_bitmap_free(bm);
	kfree(bm);
}

/* A bitmap freed automatically when the test ends, even on failure. */
static struct xrepl_bitmap *xt_bm(struct kunit *test, unsigned long nr_bits)
{
	struct xrepl_bitmap *bm;

	bm = kunit_alloc_resource(test, xt_bm_init, xt_bm_free, GFP_KERNEL,
				  &nr_bits);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, bm);
	KUNIT_ASSERT_NOT_NULL(test, bm->bits);
	KUNIT_ASSERT_EQ(test, bm->nr_bits, nr_bits);
	KUNIT_ASSERT_EQ(test, bm->nr_set, 0UL);
	return bm;
}

/* Count set bits by testing each one. */
static unsigned long xt_bm_count(const struct xrepl_bitmap *bm)
{
	unsigned long bit, n = 0;

	for (bit = 0; bit < bm->nr_bits; bit++)
		n += xrepl_bitmap_test(bm, bit);
	return n;
}

/* Sizes around word boundaries, most not a multiple of BITS_PER_LONG. */
static const unsigned long xt_bm_sizes[] = {
	1, 2, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 1000,
};

static void xrepl_bitmap_alloc_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i];
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n - 1));
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n));
	}
}

static void xrepl_bitmap_free_test(struct kunit *test)
{
	struct xrepl_bitmap bm;

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_alloc(&bm, 100), 0);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(&bm, 0, 9), 10UL);
	xrepl_bitmap_free(&bm);
	KUNIT_EXPECT_NULL(test, bm.bits);
	KUNIT_EXPECT_EQ(test, bm.nr_bits, 0UL);
	KUNIT_EXPECT_EQ(test, bm.nr_set, 0UL);
	/* A freed bitmap is empty: nothing to test or find. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(&bm, 0));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(&bm, 0), 0UL);
	/* Freeing twice is harmless. */
	xrepl_bitmap_free(&bm);
	KUNIT_EXPECT_NULL(test, bm.bits);
}

static void xrepl_bitmap_set_range_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 100);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 3, 7), 5UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 5UL);
	/* Overlapping: only 8..10 are new. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 5, 10), 3UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 8UL);
	/* Entirely inside: nothing new. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 4, 9), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 3, 10), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 8UL);
	/* Covering on both sides: 0..2 and 11..12. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 12), 5UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 13UL);
	/* Single bits, the first and the last. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 14UL);
	/* Across the word boundary at 64, with a gap left at 13..59. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 60, 70), 11UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 25UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 25UL);

	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 0));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 12));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 13));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 59));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 60));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 64));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 70));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 71));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 98));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 99));

	/* The whole bitmap: everything not yet set. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 99), 75UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 100UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 100UL);
}

/*
 * Word-at-a-time ranges against a bit-at-a-time model: every start and
 * end around the word boundaries of a 300-bit map, over a pattern of bits
 * already set.
 */
static void xrepl_bitmap_set_range_words_test(struct kunit *test)
{
	static const unsigned long edges[] = {
		0, 1, 62, 63, 64, 65, 127, 128, 129, 191, 192, 250, 255, 256, 299,
	};
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		for (j = i; j < ARRAY_SIZE(edges); j++) {
			struct xrepl_bitmap *bm = xt_bm(test, 300);
			unsigned long first = edges[i], last = edges[j];
			unsigned long b, want = 0, pre;

			for (b = 0; b < 300; b += 7)
				xrepl_bitmap_set_range(bm, b, b);
			pre = bm->nr_set;
			for (b = first; b <= last; b++)
				want += !xrepl_bitmap_test(bm, b);
			KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_set_range(bm, first, last),
					    want, "range %lu..%lu", first, last);
			KUNIT_EXPECT_EQ(test, bm->nr_set, pre + want);
			KUNIT_EXPECT_EQ(test, xt_bm_count(bm), pre + want);
			for (b = 0; b < 300; b++)
				KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_test(bm, b),
						    (b >= first && b <= last) || !(b % 7),
						    "bit %lu after %lu..%lu", b, first, last);
		}
	}
}

static void xrepl_bitmap_set_range_invalid_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 65);

	/* first > last */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 10, 9), 0UL);
	/* last out of range: nothing is set, not even the valid part. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 60, 65), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 65, 65), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, ULONG_MAX), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, ULONG_MAX, ULONG_MAX),
			0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 65UL);
	/* The last valid bit. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 64UL);
}

static void xrepl_bitmap_clear_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 130);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 62, 66), 5UL);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 64));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, 64));
	/* Clearing a clear bit changes nothing. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 64));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 129));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	/* Out of range. */
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, 130));
	KUNIT_EXPECT_FALSE(test, xrepl_bitmap_clear(bm, ULONG_MAX));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 4UL);
	/* Neighbours are untouched. */
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_test(bm, 65));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 62));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 63));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 65));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 66));
	KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 130UL);
	/* A cleared bit can be set again and counts again. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 1UL);
}

static void xrepl_bitmap_fill_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i], bit, steps = 0;
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, n);
		KUNIT_EXPECT_EQ(test, xt_bm_count(bm), n);
		/* Again: nothing new. */
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 0UL);
		KUNIT_EXPECT_EQ(test, bm->nr_set, n);
		/* Nothing is visible past the end, nor stored there. */
		KUNIT_EXPECT_FALSE(test, xrepl_bitmap_test(bm, n));
		if (n % BITS_PER_LONG)
			KUNIT_EXPECT_EQ(test, bm->bits[n / BITS_PER_LONG] >>
					(n % BITS_PER_LONG), 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n), n);

		/* Drain it the way a resync would. */
		for (bit = xrepl_bitmap_next_set(bm, 0); bit < n;
		     bit = xrepl_bitmap_next_set(bm, bit + 1)) {
			KUNIT_EXPECT_EQ(test, bit, steps);
			KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, bit));
			if (++steps > n)
				break;
		}
		KUNIT_EXPECT_EQ(test, bit, n);
		KUNIT_EXPECT_EQ(test, steps, n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
	}
}

static void xrepl_bitmap_fill_partial_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 129);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 10, 19), 10UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 128, 128), 1UL);
	/* Only the bits not already set count. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 118UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 129UL);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 128));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, 0, 128), 0UL);
	KUNIT_EXPECT_EQ(test, bm->nr_set, 129UL);
}

static void xrepl_bitmap_next_set_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, 100);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 99), 100UL);

	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 5, 5), 1UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 64, 64), 1UL);
	KUNIT_ASSERT_EQ(test, xrepl_bitmap_set_range(bm, 99, 99), 1UL);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 5), 5UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 6), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 63), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 64), 64UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 65), 99UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 99), 99UL);
	/* From at or past the end: nr_bits. */
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 100), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 101), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 128), 100UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, ULONG_MAX), 100UL);

	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 99));
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 65), 100UL);
}

/* Bitmaps whose last word is partly unused: bits past nr_bits never show. */
static void xrepl_bitmap_tail_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(xt_bm_sizes); i++) {
		unsigned long n = xt_bm_sizes[i];
		struct xrepl_bitmap *bm = xt_bm(test, n);

		KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, n - 1, n - 1),
				1UL);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n - 1);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n - 1), n - 1);
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n), n);
		KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, n - 1));
		KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n);
		KUNIT_EXPECT_EQ(test, bm->nr_set, 0UL);
	}
}

/*
 * Random operations checked against a plain bool array: the count of set
 * bits and every return value must match the model.
 */
#define XT_MODEL_BITS	200

static u32 xt_rand(u32 *seed)
{
	/* Deterministic LCG (Numerical Recipes constants), upper bits. */
	*seed = *seed * 1664525 + 1013904223;
	return *seed >> 8;
}

static void xrepl_bitmap_model_test(struct kunit *test)
{
	struct xrepl_bitmap *bm = xt_bm(test, XT_MODEL_BITS);
	unsigned long nset = 0, bit;
	u32 seed = 0x12345678;
	unsigned int step;
	bool *model;

	model = kunit_kzalloc(test, XT_MODEL_BITS * sizeof(*model), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, model);

	for (step = 0; step < 5000; step++) {
		unsigned int op = xt_rand(&seed) % 64;
		/* Reach a little past the end to exercise the range checks. */
		unsigned long a = xt_rand(&seed) % (XT_MODEL_BITS + 2);
		unsigned long b = a + xt_rand(&seed) % 24;
		unsigned long want = 0, got;

		if (op < 28) {
			if (b < XT_MODEL_BITS) {
				for (bit = a; bit <= b; bit++) {
					want += !model[bit];
					model[bit] = true;
				}
			}
			got = xrepl_bitmap_set_range(bm, a, b);
			nset += want;
		} else if (op < 50) {
			if (a < XT_MODEL_BITS) {
				want = model[a];
				model[a] = false;
			}
			got = xrepl_bitmap_clear(bm, a);
			nset -= want;
		} else if (op < 63) {
			want = XT_MODEL_BITS;
			for (bit = a; bit < XT_MODEL_BITS; bit++) {
				if (model[bit]) {
					want = bit;
					break;
				}
			}
			got = xrepl_bitmap_next_set(bm, a);
		} else {
			for (bit = 0; bit < XT_MODEL_BITS; bit++) {
				want += !model[bit];
				model[bit] = true;
			}
			got = xrepl_bitmap_fill(bm);
			nset = XT_MODEL_BITS;
		}

		KUNIT_ASSERT_EQ_MSG(test, got, want, "step %u op %u a %lu b %lu",
				    step, op, a, b);
		KUNIT_ASSERT_EQ_MSG(test, bm->nr_set, nset, "step %u", step);
	}
	KUNIT_EXPECT_EQ(test, xt_bm_count(bm), nset);
	for (bit = 0; bit < XT_MODEL_BITS; bit++)
		KUNIT_EXPECT_EQ_MSG(test, xrepl_bitmap_test(bm, bit),
				    model[bit], "bit %lu", bit);
}

/* A bitmap as large as the region cap allows. */
static void xrepl_bitmap_large_test(struct kunit *test)
{
	const unsigned long n = XREPL_MAX_REGIONS;
	struct xrepl_bitmap *bm = xt_bm(test, n);

	KUNIT_EXPECT_EQ(test, xrepl_bitmap_set_range(bm, n - 2, n - 1), 2UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), n - 2);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_fill(bm), n - 2);
	KUNIT_EXPECT_EQ(test, bm->nr_set, n);
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, n - 1));
	KUNIT_EXPECT_TRUE(test, xrepl_bitmap_clear(bm, 0));
	KUNIT_EXPECT_EQ(test, bm->nr_set, n - 2);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, 0), 1UL);
	KUNIT_EXPECT_EQ(test, xrepl_bitmap_next_set(bm, n - 1), n);
}

static struct kunit_case xrepl_test_cases[] = {
	KUNIT_CASE_PARAM(xrepl_parse_valid_test, xt_valid_gen_params),
	KUNIT_CASE_PARAM(xrepl_parse_refused_test, xt_bad_gen_params),
	KUNIT_CASE(xrepl_parse_resets_args_test),
	KUNIT_CASE(xrepl_region_size_values_test),
	KUNIT_CASE(xrepl_names_test),
	KUNIT_CASE(xrepl_parse_mode_test),
	KUNIT_CASE_PARAM(xrepl_geom_init_test, xt_geom_gen_params),
	KUNIT_CASE(xrepl_region_len_sum_test),
	KUNIT_CASE(xrepl_sector_region_test),
	KUNIT_CASE(xrepl_range_to_regions_test),
	KUNIT_CASE(xrepl_range_empty_test),
	KUNIT_CASE(xrepl_range_large_test),
	KUNIT_CASE(xrepl_bitmap_alloc_test),
	KUNIT_CASE(xrepl_bitmap_free_test),
	KUNIT_CASE(xrepl_bitmap_set_range_test),
	KUNIT_CASE(xrepl_bitmap_set_range_words_test),
	KUNIT_CASE(xrepl_bitmap_set_range_invalid_test),
	KUNIT_CASE(xrepl_bitmap_clear_test),
	KUNIT_CASE(xrepl_bitmap_fill_test),
	KUNIT_CASE(xrepl_bitmap_fill_partial_test),
	KUNIT_CASE(xrepl_bitmap_next_set_test),
	KUNIT_CASE(xrepl_bitmap_tail_test),
	KUNIT_CASE(xrepl_bitmap_model_test),
	KUNIT_CASE(xrepl_bitmap_large_test),
	{}
};

static struct kunit_suite xrepl_test_suite = {
	.name = "dm-xrepl",
	.test_cases = xrepl_test_cases,
};

kunit_test_suite(xrepl_test_suite);

MODULE_DESCRIPTION("KUnit tests for the dm-xrepl helpers");
MODULE_LICENSE("GPL");
