// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the table line parser (xrepl-args.c): the lines it
 * accepts, the ones it refuses and why, the region sizes it takes, and the
 * names of modes, policies and congestion settings.
 *
 * Built by scripts/kunit.sh as part of CONFIG_DM_XREPL_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/string.h>

#include "dm-xrepl.h"

/* Longest table line in the tables below, in words. */
#define XT_MAX_ARGC	28

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
	bool no_remote;			/* argv[1] is "-" */
	const char *peer;		/* remote_meta, if given */
	const char *journal;		/* journal, if given */
	enum xrepl_mode mode;
	enum xrepl_error_policy policy;
	u32 region_size;
	unsigned int given;
	u32 rate;
	bool nosync;
	u32 timeout;			/* 0: the default */
	u32 lag;			/* 0: the default */
	u32 period;			/* 0: the default */
	u32 delay;
	enum xrepl_congestion congestion;
};

static const struct xt_valid_case xt_valid_cases[] = {
	{
		.name = "no remote yet",
		.line = { { "loc", "-", "meta", "sync" } },
		.has_meta = true,
		.no_remote = true,
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "the remote site's metadata",
		.line = { { "loc", "rem", "meta", "async", "2", "remote_meta",
			    "rmeta" } },
		.has_meta = true,
		.peer = "rmeta",
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_REMOTE_META,
	},
	{
		.name = "async with a journal",
		.line = { { "loc", "rem", "meta", "async", "2", "journal",
			    "jnl" } },
		.has_meta = true,
		.journal = "jnl",
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_JOURNAL,
	},
	{
		/* Idle while the mode is sync (a switch drains the log). */
		.name = "sync with a journal",
		.line = { { "loc", "rem", "meta", "sync", "2", "journal",
			    "jnl" } },
		.has_meta = true,
		.journal = "jnl",
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_JOURNAL,
	},
	{
		.name = "semi-sync with a journal, no remote yet",
		.line = { { "loc", "-", "meta", "semi-sync", "2", "journal",
			    "jnl" } },
		.has_meta = true,
		.no_remote = true,
		.journal = "jnl",
		.mode = XREPL_MODE_SEMI_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_JOURNAL,
	},
	{
		.name = "async with a journal, delayed a week",
		.line = { { "loc", "rem", "meta", "async", "4", "journal",
			    "jnl", "delay_ms", "604800000" } },
		.has_meta = true,
		.journal = "jnl",
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_JOURNAL | XREPL_OPT_DELAY,
		.delay = 604800000,
	},
	{
		.name = "delay_ms 0 in sync mode, no journal",
		.line = { { "loc", "rem", "-", "sync", "2", "delay_ms", "0" } },
		.mode = XREPL_MODE_SYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_DELAY,
	},
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
		.name = "periodic, its default period",
		.line = { { "loc", "rem", "meta", "periodic" } },
		.has_meta = true,
		.mode = XREPL_MODE_PERIODIC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
	},
	{
		.name = "periodic, shortest and longest period",
		.line = { { "loc", "rem", "-", "periodic", "2", "period_s",
			    "5" } },
		.mode = XREPL_MODE_PERIODIC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_PERIOD,
		.period = 5,
	},
	{
		.name = "async keeps a period for a later mode switch",
		.line = { { "loc", "rem", "-", "async", "2", "period_s",
			    "86400" } },
		.mode = XREPL_MODE_ASYNC,
		.policy = XREPL_ON_ERROR_DEGRADE,
		.region_size = XREPL_DEFAULT_REGION_SIZE,
		.given = XREPL_OPT_PERIOD,
		.period = 86400,
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
	if (c->no_remote)
		KUNIT_EXPECT_NULL(test, args.remote_path);
	else
		KUNIT_EXPECT_PTR_EQ(test, args.remote_path, c->line.argv[1]);
	if (c->peer)
		KUNIT_EXPECT_STREQ(test, args.peer_path, c->peer);
	else
		KUNIT_EXPECT_NULL(test, args.peer_path);
	if (c->journal)
		KUNIT_EXPECT_STREQ(test, args.journal_path, c->journal);
	else
		KUNIT_EXPECT_NULL(test, args.journal_path);
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
	KUNIT_EXPECT_EQ(test, args.period_s,
			c->period ?: XREPL_DEFAULT_PERIOD_S);
	KUNIT_EXPECT_EQ(test, args.delay_ms, c->delay);
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
static const char XT_E_PERIOD[] = "Invalid period_s";

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
	/* The journal. */
	XT_BAD("journal without metadata", "journal needs a metadata device",
	       "async", "2", "journal", "j"),
	{ .name = "journal in periodic mode",
	  .line = { { "loc", "rem", "meta", "periodic", "2", "journal", "j" } },
	  .error = "journal does not go with periodic mode" },
	{ .name = "journal twice",
	  .line = { { "loc", "rem", "meta", "async", "4", "journal", "j",
		      "journal", "k" } },
	  .error = XT_E_DUP },
	{ .name = "journal without a value",
	  .line = { { "loc", "rem", "meta", "async", "1", "journal" } },
	  .error = XT_E_MISSING },
	/* The delay. */
	XT_BAD("delay_ms without a journal", "delay_ms needs a journal",
	       "async", "2", "delay_ms", "1000"),
	{ .name = "delay_ms in semi-sync mode",
	  .line = { { "loc", "rem", "meta", "semi-sync", "4", "journal", "j",
		      "delay_ms", "1" } },
	  .error = "delay_ms needs async mode" },
	{ .name = "delay_ms above a week",
	  .line = { { "loc", "rem", "meta", "async", "4", "journal", "j",
		      "delay_ms", "604800001" } },
	  .error = "Invalid delay_ms" },
	{ .name = "delay_ms with a unit",
	  .line = { { "loc", "rem", "meta", "async", "4", "journal", "j",
		      "delay_ms", "5s" } },
	  .error = "Invalid delay_ms" },
	{ .name = "delay_ms twice",
	  .line = { { "loc", "rem", "meta", "async", "6", "journal", "j",
		      "delay_ms", "1", "delay_ms", "1" } },
	  .error = XT_E_DUP },

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
	XT_BAD("count over the max", XT_E_NOPT, "sync", "22", "region_size",
	       "64", "on_remote_error", "fail", "resync_rate_kbps", "1",
	       "semi_timeout_ms", "1", "max_lag_kb", "256", "congestion",
	       "block", "remote_meta", "rm", "period_s", "5", "journal", "j",
	       "delay_ms", "0", "nosync", "nosync"),
	/* Periodic mode. */
	XT_BAD("period_s below the min", XT_E_PERIOD, "periodic", "2",
	       "period_s", "4"),
	XT_BAD("period_s above the max", XT_E_PERIOD, "periodic", "2",
	       "period_s", "86401"),
	XT_BAD("period_s zero", XT_E_PERIOD, "periodic", "2", "period_s", "0"),
	XT_BAD("period_s junk", XT_E_PERIOD, "periodic", "2", "period_s",
	       "60s"),
	XT_BAD("period_s twice", XT_E_DUP, "periodic", "4", "period_s", "60",
	       "period_s", "60"),
	XT_BAD("periodic with on_remote_error fail", XT_E_FAIL_MODE,
	       "periodic", "2", "on_remote_error", "fail"),
	XT_BAD("mode periodic misspelt", XT_E_MODE, "period"),
	/* No remote ("-"), and the remote site's metadata. */
	{ .name = "no remote, no metadata",
	  .line = { { "loc", "-", "-", "sync" } },
	  .error = "A device without a remote needs a metadata device" },
	{ .name = "remote_meta without a remote",
	  .line = { { "loc", "-", "meta", "sync", "2", "remote_meta", "rm" } },
	  .error = "remote_meta needs a remote device" },
	XT_BAD("remote_meta without metadata",
	       "remote_meta needs a metadata device", "sync", "2",
	       "remote_meta", "rm"),
	XT_BAD("remote_meta twice", "Duplicate optional argument", "sync",
	       "4", "remote_meta", "a", "remote_meta", "b"),
	XT_BAD("remote_meta without a value",
	       "Missing value for optional argument", "sync", "1",
	       "remote_meta"),
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
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name(XREPL_MODE_PERIODIC),
			   "periodic");
	KUNIT_EXPECT_STREQ(test, xrepl_mode_name((enum xrepl_mode)4),
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

static struct kunit_case xrepl_args_test_cases[] = {
	KUNIT_CASE_PARAM(xrepl_parse_valid_test, xt_valid_gen_params),
	KUNIT_CASE_PARAM(xrepl_parse_refused_test, xt_bad_gen_params),
	KUNIT_CASE(xrepl_parse_resets_args_test),
	KUNIT_CASE(xrepl_region_size_values_test),
	KUNIT_CASE(xrepl_names_test),
	KUNIT_CASE(xrepl_parse_mode_test),
	{}
};

static struct kunit_suite xrepl_args_test_suite = {
	.name = "dm-xrepl-args",
	.test_cases = xrepl_args_test_cases,
};

kunit_test_suite(xrepl_args_test_suite);
