// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the status and wait commands.  status reads every device's
 * status line (without flushing) before it prints anything, then prints
 * the report (xreplctl-report.c) or the JSON object of --json; --check
 * turns the worst health into the exit status.  wait sleeps on the
 * device's dm events until it is in sync (wait_until(), which verify
 * --wait and ship-until use too).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "xreplctl.h"

static void print_json(const struct xstatus *s, bool first)
{
	static const char *const nums[] = { "remote_errors", "local_errors",
		"region_size", "copied_regions", "writes", "remote_writes",
		"resync_rate", "resync_rate_kbps", "meta_writes", "marked",
		"lag_bytes", "lag_writes", "oldest_lag_ms", "lag_waits",
		"semi_timeouts", "peer_meta_writes", "local_read_errors",
		"remote_reads", "cycles", "point_age_ms", "copies_for_writes",
		"written_kb", "shipped_kb", "undo_saves", "undo_overflows",
		"journal_used_kb", "journal_size_kb", "ship_point_ms",
		"delay_ms", "ship_until_ms", NULL };
	unsigned int i;

	printf("%s\n    {\"name\": ", first ? "" : ",");
	json_str(s->name);
	printf(", \"sectors\": %" PRIu64 ", \"mode\": ", s->sectors);
	json_str(st_str_or(s, "mode", ""));
	printf(", \"remote\": ");
	json_str(st_str_or(s, "remote", ""));
	printf(", \"degraded_by\": ");
	json_str(st_str_or(s, "degraded_by", ""));
	printf(", \"consistent\": %s",
	       st_str(s, "consistent") && !strcmp(st_str(s, "consistent"), "yes") ?
	       "true" : "false");
	printf(", \"dirty_regions\": %" PRIu64 ", \"total_regions\": %" PRIu64,
	       st_frac(s, "dirty", 0), st_frac(s, "dirty", 1));
	printf(", \"resync_done\": %" PRIu64 ", \"resync_total\": %" PRIu64,
	       st_frac(s, "resync", 0), st_frac(s, "resync", 1));
	printf(", \"resync_active\": %s, \"draining\": %s, \"meta_failed\": %s, \"held\": %s",
	       st_num(s, "resync_active") ? "true" : "false",
	       st_num(s, "draining") ? "true" : "false",
	       st_num(s, "meta_failed") ? "true" : "false",
	       st_num(s, "held") ? "true" : "false");
	printf(", \"meta\": ");
	json_str(st_str_or(s, "meta", "-"));
	printf(", \"peer\": ");
	json_str(st_str_or(s, "peer", ""));
	printf(", \"undo\": ");
	json_str(st_str_or(s, "undo", ""));
	printf(", \"undo_slots_used\": %" PRIu64 ", \"undo_slots\": %" PRIu64,
	       st_frac(s, "undo_slots", 0), st_frac(s, "undo_slots", 1));
	for (i = 0; nums[i]; i++)
		printf(", \"%s\": %" PRIu64, nums[i], st_num(s, nums[i]));
	printf("}");
}

/* The statuses of the devices asked for, read before anything is printed. */
struct statuses {
	struct xstatus *s;
	size_t n, cap;
	bool failed;		/* out of memory */
};

static void collect(const struct xstatus *s, void *ctx)
{
	struct statuses *all = ctx;

	if (all->n == all->cap) {
		size_t cap = all->cap ? 2 * all->cap : 16;
		struct xstatus *more = realloc(all->s, cap * sizeof(*more));

		if (!more) {
			all->failed = true;
			return;
		}
		all->s = more;
		all->cap = cap;
	}
	all->s[all->n++] = *s;
}

/*
 * The statuses of names (or of every xrepl device if there is none), all
 * read before the caller prints anything.  An exit status; a failure has
 * been reported on stderr, naming the command (what).
 */
int read_statuses(const char *what, char **names, int nr_names,
		  struct xstatus **out, size_t *n)
{
	struct statuses all = { 0 };
	struct xstatus s;
	int i, r = EXIT_OK;

	if (!nr_names)
		r = for_each_xrepl(collect, &all);
	for (i = 0; i < nr_names && !r; i++) {
		int j;

		/* A name given twice is reported once (metrics must not repeat). */
		for (j = 0; j < i && strcmp(names[j], names[i]); j++)
			;
		if (j < i)
			continue;
		r = read_status(names[i], &s);
		if (r == EXIT_NODEV)
			msg("%s: %s: no such xrepl device", what, names[i]);
		else if (!r)
			collect(&s, &all);
	}
	if (!r && all.failed) {
		msg("%s: out of memory", what);
		r = EXIT_FAILED;
	} else if (r == EXIT_FAILED) {
		msg("%s: cannot read the device-mapper devices", what);
	}
	if (r) {
		free(all.s);
		return r;
	}
	*out = all.s;
	*n = all.n;
	return EXIT_OK;
}

/* The JSON object xreplctl(8) documents as --json: {"devices": [...]}. */
static void print_devices_json(const struct xstatus *s, size_t n)
{
	size_t i;

	printf("{\"devices\": [");
	for (i = 0; i < n; i++)
		print_json(&s[i], !i);
	printf("%s]}\n", n ? "\n  " : "");
}

/*
 * Print the report (or the JSON of --json) of s[0..n-1] into a buffer,
 * and the buffer on stdout only if all of it could be made: a report that
 * fails half-way prints nothing.  An exit status.
 */
static int print_buffered(bool json, const struct report_opts *o,
			  struct xstatus *s, size_t n)
{
	FILE *real = stdout, *mem;
	char *buf = NULL;
	size_t len = 0;
	int r;

	fflush(stdout);
	mem = open_memstream(&buf, &len);
	if (!mem) {
		msg("status: %s", strerror(errno));
		return EXIT_FAILED;
	}
	/* libdevmapper's report engine writes to stdout. */
	stdout = mem;
	if (json) {
		print_devices_json(s, n);
		r = EXIT_OK;
	} else {
		r = report_print(o, s, n);
	}
	stdout = real;
	if (fclose(mem) && !r)
		r = EXIT_FAILED;
	if (!r && (fwrite(buf, 1, len, stdout) != len || fflush(stdout))) {
		msg("status: %s", strerror(errno));
		r = EXIT_FAILED;
	}
	free(buf);
	return r;
}

/*
 * status: every status is read first, and the report is printed only if
 * all could be; a failure is an error on stderr and a non-zero exit with
 * nothing on stdout, never an empty list that reads as "nothing degraded".
 * With --check the exit status is the worst health of the devices (0, 1
 * or 2); a status that cannot be read then exits 4.
 */
int cmd_status(char **names, int nr_names, const struct report_opts *o,
	       bool json, bool check)
{
	struct xstatus *s = NULL;
	enum xhealth worst = XHEALTH_OK;
	size_t n = 0, i;
	int r;

	/* -o help lists the fields: no device needs to be read for that. */
	if (!json && report_wants_help(o))
		return report_print(o, NULL, 0);
	r = read_statuses("status", names, nr_names, &s, &n);
	if (r)
		return check ? EXIT_CHECK_UNKNOWN : r;
	r = print_buffered(json, o, s, n);
	for (i = 0; i < n; i++) {
		enum xhealth h = st_health(&s[i], NULL);

		if (h > worst)
			worst = h;
	}
	free(s);
	if (check)
		return r ? EXIT_CHECK_UNKNOWN : (int)worst;
	return r;
}

/*
 * wait: one thread sleeps on the device's dm events and reads its status
 * after each; the caller waits for it with the timeout.  The target
 * raises an event on every change of the replication state (when a
 * resync ends, among others), so nothing polls.
 */
struct waiter {
	const char *name;
	bool (*done_when)(const struct xstatus *s);
	pthread_mutex_t lock;	/* protects the fields below */
	pthread_cond_t cond;	/* signalled when done is set */
	bool done;
	int r;			/* the exit status, once done */
	struct xstatus last;	/* the last status read */
	bool have_last;
};

static void *wait_sync(void *arg)
{
	struct waiter *w = arg;
	struct xstatus *s = malloc(sizeof(*s));
	uint32_t event_nr;
	int r;

	if (!s) {
		r = EXIT_FAILED;
		goto out;
	}
	for (;;) {
		/* The event counter first: a change after it wakes the wait. */
		r = dev_info(w->name, &event_nr);
		if (r != 1) {
			r = r ? EXIT_FAILED : EXIT_NODEV;
			break;
		}
		r = read_status(w->name, s);
		if (r)
			break;
		pthread_mutex_lock(&w->lock);
		w->last = *s;
		w->have_last = true;
		pthread_mutex_unlock(&w->lock);
		if (w->done_when(s))
			break;
		if (wait_event(w->name, &event_nr) && dev_info(w->name, NULL) != 1) {
			r = EXIT_NODEV;
			break;
		}
	}
out:
	free(s);
	pthread_mutex_lock(&w->lock);
	w->r = r;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static bool in_sync(const struct xstatus *s)
{
	return st_is(s, "remote", "insync");
}

/*
 * Periodic mode: the cycles count wait_cycles waits for (0: set it from
 * the first status read).  A cycle that runs already started before the
 * caller's writes: the one after it.
 */
static uint64_t wait_cycles;

static uint64_t next_cycle(const struct xstatus *s)
{
	return st_num(s, "cycles") + (st_num(s, "cycling") ? 2 : 1);
}

/* The remote holds a point in time taken after the wait began. */
static bool cycle_done(const struct xstatus *s)
{
	if (!st_is(s, "mode", "periodic"))
		return in_sync(s);
	if (!wait_cycles)
		wait_cycles = next_cycle(s);
	return st_num(s, "cycles") >= wait_cycles && !st_num(s, "cycling") &&
	       st_is(s, "remote", "point");
}

/* Wait for cycle_done(); an exit status, after a message on a timeout. */
static int wait_cycle(const char *what, const char *name, uint64_t timeout,
		      struct xstatus *s)
{
	int r = wait_until(what, name, timeout, cycle_done, s);

	if (r == EXIT_TIMEOUT && st_is(s, "mode", "periodic")) {
		msg("%s: %s: no new point in time after %" PRIu64 " s: remote=%s cycles=%s cycle=%s degraded_by=%s",
		    what, name, timeout, st_str_or(s, "remote", "?"),
		    st_str_or(s, "cycles", "?"), st_str_or(s, "cycle", "?"),
		    st_str_or(s, "degraded_by", "?"));
		exit_after_timeout();
	} else if (r == EXIT_TIMEOUT) {
		msg("%s: %s: not in sync after %" PRIu64 " s: remote=%s degraded_by=%s dirty=%s resync=%s",
		    what, name, timeout, st_str_or(s, "remote", "?"),
		    st_str_or(s, "degraded_by", "?"), st_str_or(s, "dirty", "?"),
		    st_str_or(s, "resync", "?"));
		exit_after_timeout();
	} else if (r == -EXIT_TIMEOUT) {
		msg("%s: %s: no status after %" PRIu64 " s", what, name, timeout);
		exit_after_timeout();
	}
	return r;
}

int cmd_cycle(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct xstatus *s;
	uint64_t timeout = 0;
	bool wait = false;
	const char *name;
	int c, r;

	optind = 0;	/* 0: getopt starts afresh (GNU) */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'w')
			wait = true;
		else if (c != 't' || !parse_num(optarg, 1, 86400 * 365, &timeout))
			usage_error("cycle wants <name> [--wait [--timeout SECONDS]]");
	}
	if (optind != argc - 1)
		usage_error("cycle wants one device name");
	if (timeout && !wait)
		usage_error("cycle: --timeout goes with --wait");
	if (dry_run && wait)
		usage_error("cycle: --wait reads the device: --dry-run makes no sense");
	name = argv[optind];
	check_name(name);
	if (dry_run)
		return send_message(name, "cycle");
	s = malloc(sizeof(*s));
	if (!s) {
		msg("cycle: out of memory");
		return EXIT_FAILED;
	}
	r = check_xrepl(name);
	if (!r)
		r = read_status(name, s);
	if (r)
		goto out;
	if (!st_is(s, "mode", "periodic")) {
		msg("cycle: %s: not in periodic mode (mode=%s)", name,
		    st_str_or(s, "mode", "?"));
		r = EXIT_FAILED;
		goto out;
	}
	wait_cycles = next_cycle(s);
	r = send_message(name, "cycle");
	if (r || !wait)
		goto out;
	r = wait_cycle("cycle", name, timeout, s);
	if (!r)
		printf("%s: cycle %s complete: %s regions copied; the remote's point in time is %s ms old\n",
		       name, st_str_or(s, "cycles", "?"), st_str_or(s, "cycle", "?"),
		       st_str_or(s, "point_age_ms", "?"));
out:
	free(s);
	return r;
}

int wait_until(const char *what, const char *name, uint64_t timeout,
	       bool (*done_when)(const struct xstatus *s), struct xstatus *last)
{
	struct waiter *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;
	struct timespec deadline;
	pthread_t thread;
	int r;

	if (!w) {
		msg("%s: out of memory", what);
		return EXIT_FAILED;
	}
	w->name = name;
	w->done_when = done_when;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout;
	if (pthread_create(&thread, NULL, wait_sync, w)) {
		msg("%s: cannot start a thread", what);
		free(w);
		return EXIT_FAILED;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		if (!timeout)
			pthread_cond_wait(&w->cond, &w->lock);
		else if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
			break;
	}
	if (!w->done) {
		/*
		 * The thread may sleep in the event ioctl for good, and may
		 * still write to *w: w is left to it (the caller ends the
		 * process with exit_after_timeout()).
		 */
		*last = w->last;
		r = w->have_last ? EXIT_TIMEOUT : -EXIT_TIMEOUT;
		pthread_mutex_unlock(&w->lock);
		return r;
	}
	r = w->r;
	*last = w->last;
	pthread_mutex_unlock(&w->lock);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	if (r == EXIT_NODEV)
		msg("%s: %s: the device is gone", what, name);
	else if (r)
		msg("%s: %s: cannot read the device", what, name);
	return r;
}

/*
 * End the process after a wait timed out: its thread may sleep in the
 * event ioctl for good, so libdevmapper is not torn down under it.
 */
void exit_after_timeout(void)
{
	fflush(stdout);
	fflush(stderr);
	_exit(EXIT_TIMEOUT);
}

int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct xstatus *s = malloc(sizeof(*s));
	uint64_t timeout = 0;
	const char *name;
	int c, r;

	if (!s) {
		msg("wait: out of memory");
		return EXIT_FAILED;
	}
	optind = 0;	/* 0: getopt starts afresh (GNU) */
	while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (c != 't' || !parse_num(optarg, 1, 86400 * 365, &timeout))
			usage_error("wait wants <name> [--timeout SECONDS] (1 or more)");
	}
	if (optind != argc - 1)
		usage_error("wait wants <name> [--timeout SECONDS]");
	name = argv[optind];
	check_name(name);
	if (dry_run)
		usage_error("wait sends nothing: --dry-run makes no sense");
	r = check_xrepl(name);
	if (r) {
		free(s);
		return r;
	}
	/* Periodic mode: until the remote holds what was written before. */
	wait_cycles = 0;
	r = wait_cycle("wait", name, timeout, s);
	free(s);
	return r;
}
