// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl monitor: watch xrepl devices and act on what happens to them.
 *
 * A watched device has up to three threads, each reading its status
 * without flushing: one waits for the target's dm events and reports the
 * changes between two states; one probes the remote with a read and
 * takes it down or brings it back; one reads the lag at an interval, as
 * the target raises no event while writes pile up.  Every event is one
 * greppable line on stderr, then the operator's hook; the hooks of one
 * device run one at a time.  With no device named, every xrepl device is
 * watched, and a rescan finds those created later.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xrepl-limits.h"
#include "xreplctl.h"

extern char **environ;
static const char *hook_cmd;
/* Active probing of the remotes; 0 interval: off. */
static struct {
	unsigned int interval_ms, timeout_ms, fail, ok;
} probe = { 1000, 1000, 3, 3 };
static bool passive = true;
/* Lag thresholds (0: off) and how often the lag is read. */
static struct {
	uint64_t kb, ms;
	unsigned int interval_ms;
} lag = { 0, 0, 1000 };
/* Serialises the log lines of the watching threads (not their hooks). */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
/* A hook still running after this many seconds is killed (--hook-timeout). */
static unsigned int hook_timeout_s = 30;
static pthread_mutex_t *hook_lock_of(const char *name);
static void sleep_ms(unsigned int ms);

/* Wait up to hook_timeout_s for the hook pid; kill its group after that. */
static void hook_wait(const char *name, const char *event, pid_t pid)
{
	unsigned int waited_ms = 0;
	pid_t r;
	int st;

	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		if (waited_ms >= hook_timeout_s * 1000) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			fprintf(stderr, PROG " monitor: device=%s event=%s hook-timeout seconds=%u\n",
				name, event, hook_timeout_s);
			return;
		}
		sleep_ms(50);
		waited_ms += 50;
	}
	if (r == pid && (!WIFEXITED(st) || WEXITSTATUS(st)))
		fprintf(stderr, PROG " monitor: device=%s event=%s hook-failed status=%d\n",
			name, event, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/*
 * One greppable line on stderr, then the hook with the event in its
 * environment.  Whoever reports has already acted (sent its message).
 * Hooks of one device run one at a time, in order; those of other
 * devices are not held up by them, and a hook that runs longer than
 * --hook-timeout is killed, with its process group.
 */
/*
 * How old the remote's data is, in ms: the oldest write not on it yet, or
 * in periodic mode the age of its point in time.
 */
static uint64_t lag_age_ms(const struct xstatus *s)
{
	return st_num(s, st_is(s, "mode", "periodic") ? "point_age_ms" :
						     "oldest_lag_ms");
}

static void report(const struct xstatus *s, const char *event)
{
	const char *remote = st_str_or(s, "remote", "?");
	const char *by = st_str_or(s, "degraded_by", "?");
	const char *dirty = st_str_or(s, "dirty", "?");
	uint64_t lag_kb = st_num(s, "lag_bytes") >> 10;
	uint64_t lag_ms = lag_age_ms(s);
	pthread_mutex_t *hook_lock;
	pid_t pid;

	pthread_mutex_lock(&report_lock);
	fprintf(stderr, PROG " monitor: device=%s event=%s remote=%s degraded_by=%s dirty=%s"
		" lag_kb=%" PRIu64 " lag_ms=%" PRIu64 "\n",
		s->name, event, remote, by, dirty, lag_kb, lag_ms);
	fflush(stderr);
	pthread_mutex_unlock(&report_lock);
	if (hook_cmd) {
		/* Built before fork(): the child of a threaded process may only exec. */
		char vars[7][160], *env[256], *args[] = { "sh", "-c",
			(char *)hook_cmd, NULL };
		unsigned int i = 0, j;

		snprintf(vars[0], sizeof(vars[0]), "XREPL_DEVICE=%s", s->name);
		snprintf(vars[1], sizeof(vars[1]), "XREPL_EVENT=%s", event);
		snprintf(vars[2], sizeof(vars[2]), "XREPL_REMOTE=%s", remote);
		snprintf(vars[3], sizeof(vars[3]), "XREPL_DEGRADED_BY=%s", by);
		snprintf(vars[4], sizeof(vars[4]), "XREPL_DIRTY=%s", dirty);
		snprintf(vars[5], sizeof(vars[5]), "XREPL_LAG_KB=%" PRIu64, lag_kb);
		snprintf(vars[6], sizeof(vars[6]), "XREPL_LAG_MS=%" PRIu64, lag_ms);
		for (j = 0; j < 7; j++)
			env[i++] = vars[j];
		for (j = 0; environ[j] && i < 255; j++)
			if (strncmp(environ[j], "XREPL_", 6))
				env[i++] = environ[j];
		env[i] = NULL;
		hook_lock = hook_lock_of(s->name);
		pthread_mutex_lock(hook_lock);
		pid = fork();
		if (pid == 0) {
			/* Its own process group: a timeout kills all of it. */
			setpgid(0, 0);
			execve("/bin/sh", args, env);
			_exit(127);
		}
		if (pid < 0)
			msg("monitor: cannot run the hook: %s", strerror(errno));
		else
			hook_wait(s->name, event, pid);
		pthread_mutex_unlock(hook_lock);
	}
}

/* The events between two states of a device. */
static void compare(const struct xstatus *old, const struct xstatus *cur)
{
	bool was_down = st_is(old, "remote", "degraded");
	bool down = st_is(cur, "remote", "degraded");

	if (!was_down && down)
		report(cur, "remote-down");
	if (was_down && !down)
		report(cur, "remote-back");
	if (!down && st_is(cur, "remote", "insync") && !st_num(cur, "resync_active") &&
	    (st_is(old, "remote", "resyncing") || st_num(old, "resync_active") ||
	     was_down))
		report(cur, "resync-done");
	if (!st_num(old, "resync_active") && st_num(cur, "resync_active"))
		report(cur, "resync-start");
	if (st_is(old, "remote", "resyncing") && st_is(cur, "remote", "resyncing") &&
	    st_num(old, "resync_active") && !st_num(cur, "resync_active"))
		report(cur, "resync-stalled");
	if (!st_num(old, "meta_failed") && st_num(cur, "meta_failed"))
		report(cur, "meta-failed");
}

static void watch(const char *name)
{
	struct xstatus *old = malloc(sizeof(*old)), *cur = malloc(sizeof(*cur));
	uint32_t event_nr;

	if (!old || !cur || dev_info(name, &event_nr) != 1 ||
	    read_status(name, old)) {
		msg("monitor: %s: cannot read the device", name);
		goto out;
	}
	report(old, "watching");
	/* Status first, then wait: a change in between raises an event too. */
	for (;;) {
		if (wait_event(name, &event_nr))
			break;
		if (read_status(name, cur))
			break;
		compare(old, cur);
		memcpy(old, cur, sizeof(*old));
	}
	fprintf(stderr, PROG " monitor: device=%s event=gone\n", name);
out:
	free(old);
	free(cur);
}

/*
 * Active probing.  A probe is a 4 KiB O_DIRECT read of the remote's first
 * block, done by a helper thread so that a hung remote only costs the
 * deadline; while one is stuck, later rounds count as failures without
 * starting another.
 */
struct prober {
	pthread_mutex_t lock;	/* protects the fields below */
	pthread_cond_t cond;
	int fd;
	bool busy;		/* a read is in flight */
	bool done;		/* it completed... */
	bool ok;		/* ...and returned the block */
	bool orphan;		/* the prober ended: the read frees all */
};

static void prober_free(struct prober *p)
{
	close(p->fd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

static void *probe_read(void *arg)
{
	struct prober *p = arg;
	void *buf = NULL;
	bool ok = false;

	if (!posix_memalign(&buf, 4096, 4096))
		ok = pread(p->fd, buf, 4096, 0) == 4096;
	free(buf);
	pthread_mutex_lock(&p->lock);
	p->done = true;
	p->ok = ok;
	p->busy = false;
	pthread_cond_broadcast(&p->cond);
	if (p->orphan) {
		pthread_mutex_unlock(&p->lock);
		prober_free(p);
		return NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* One probe round: true if the remote answered within the deadline. */
static bool probe_once(struct prober *p)
{
	struct timespec until;
	pthread_t t;
	bool ok;

	pthread_mutex_lock(&p->lock);
	if (p->busy) {
		/* The last read is still stuck in the remote. */
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	p->busy = true;
	p->done = false;
	pthread_mutex_unlock(&p->lock);
	if (pthread_create(&t, NULL, probe_read, p)) {
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	pthread_detach(t);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += probe.timeout_ms / 1000;
	until.tv_nsec += (long)(probe.timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->done &&
	       pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0)
		;
	ok = p->done && p->ok;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

/* The remote leg of an xrepl device, opened for probing; -1 if it cannot be. */
static int open_remote(const char *name)
{
	char path[160];
	unsigned int maj, min;
	int fd;

	if (remote_devnum(name, &maj, &min))
		return -1;
	/* devtmpfs names every block device; no udev needed. */
	snprintf(path, sizeof(path), "/dev/block/%u:%u", maj, min);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		char sys[64], line[128];
		FILE *f;

		snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/uevent", maj, min);
		f = fopen(sys, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "DEVNAME=", 8)) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(path, sizeof(path), "/dev/%s", line + 8);
				fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
			}
		if (f)
			fclose(f);
	}
	return fd;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A device without a remote ("-", degraded_by=absent): attach the remote
 * its configuration file names as soon as it (and its remote_meta) can be
 * opened and have a size.  A refused attach is reported once; it is tried
 * again only when the remote or its metadata device changes (another
 * device, another size: the administrator acted), never in a loop.
 * Returns true once the device has a remote (whoever attached it), false
 * if the device is gone or has nothing to attach.
 */
static bool attacher(const char *name, struct xstatus *s)
{
	struct dev_sig sig[2] = { 0 }, refused[2] = { 0 };
	struct conf *c = NULL;
	const struct create_args *a;
	bool ok = false, was_refused = false;

	for (;;) {
		int r = read_status(name, s);

		if (r == EXIT_NODEV)
			break;
		if (r) {		/* not gone: try again */
			sleep_ms(probe.interval_ms);
			continue;
		}
		if (!st_is(s, "degraded_by", "absent")) {
			ok = true;
			break;
		}
		if (!c) {
			c = conf_get(name);
			if (!c || !strcmp(conf_args(c)->remote, "-")) {
				fprintf(stderr, PROG " monitor: device=%s event=probe-unavailable (no remote, and none in its configuration)\n",
					name);
				break;
			}
		}
		a = conf_args(c);
		if (reachable_sig(a->remote, &sig[0]) &&
		    (!a->remote_meta || reachable_sig(a->remote_meta, &sig[1])) &&
		    (!was_refused || memcmp(sig, refused, sizeof(sig)))) {
			if (!attach_device(name, a->remote, a->remote_meta, false)) {
				if (!read_status(name, s))
					report(s, "attached");
				ok = true;
				break;
			}
			if (!read_status(name, s))
				report(s, "attach-refused");
			memcpy(refused, sig, sizeof(sig));
			was_refused = true;
		}
		sleep_ms(probe.interval_ms);
	}
	free(c);
	return ok;
}

/*
 * Probe one device's remote forever: probe.fail failures in a row take a
 * healthy remote down ("remote down probe": the target records
 * degraded_by=probe), so that writes stop waiting for it; probe.ok
 * successes in a row bring back a remote that failed, was congested or
 * that a probe took down ("remote up"), and the resync follows.  The
 * reason is the target's, not this process's: a monitor started again
 * (an upgrade, a reboot) brings back a remote an earlier one took down.
 * A remote the administrator took down (degraded_by=admin) is left alone.  A probe that misses its
 * deadline while the resync copied regions since the last round does not
 * count as a failure: the remote completes writes, it is busy, not gone
 * (its queue may hold the probe's read behind the copies).
 */
static void prober(const char *name)
{
	struct xstatus *s = malloc(sizeof(*s));
	/* Shared with a read thread, which may outlive this one. */
	struct prober *p = calloc(1, sizeof(*p));
	unsigned int fails = 0, oks = 0;
	uint64_t copied = UINT64_MAX;

	if (!s || !p) {
		free(s);
		free(p);
		return;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->fd = open_remote(name);
	if (p->fd < 0 && !read_status(name, s) &&
	    st_is(s, "degraded_by", "absent") && attacher(name, s))
		p->fd = open_remote(name);
	if (p->fd < 0) {
		fprintf(stderr, PROG " monitor: device=%s event=probe-unavailable\n", name);
		free(s);
		free(p);
		return;
	}
	for (;;) {
		bool up = probe_once(p), busy;
		int r = read_status(name, s);

		if (r == EXIT_NODEV)
			break;
		if (r) {		/* not gone: try again */
			sleep_ms(probe.interval_ms);
			continue;
		}
		busy = copied != UINT64_MAX && st_num(s, "copied_regions") != copied;
		copied = st_num(s, "copied_regions");
		fails = up || busy ? 0 : fails + 1;
		oks = up ? oks + 1 : 0;
		/* Act first; the hooks (maybe slow) come after. */
		if (fails == probe.fail && !st_is(s, "remote", "degraded")) {
			send_message(name, "remote down probe");
			report(s, "probe-failed");
		} else if (oks == probe.ok && st_is(s, "remote", "degraded") &&
			   (st_is(s, "degraded_by", "error") ||
			    st_is(s, "degraded_by", "congestion") ||
			    st_is(s, "degraded_by", "journal") ||
			    st_is(s, "degraded_by", "probe"))) {
			send_message(name, "remote up");
			report(s, "probe-ok");
		}
		sleep_ms(probe.interval_ms);
	}
	free(s);
	/* The device is gone; a read stuck in the remote frees it all later. */
	pthread_mutex_lock(&p->lock);
	if (p->busy) {
		p->orphan = true;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	prober_free(p);
}

/* At or above a threshold that is set. */
static bool lag_high(const struct xstatus *s, uint64_t div)
{
	return (lag.kb && (st_num(s, "lag_bytes") >> 10) >= (lag.kb + div - 1) / div) ||
	       (lag.ms && lag_age_ms(s) >= (lag.ms + div - 1) / div);
}

/*
 * Follow one device's lag: the target raises no event while writes pile
 * up for the remote (it would be one per write), so the status is read
 * every lag.interval_ms.  "lag-high" when the lag reaches --lag-kb or
 * --lag-ms; "lag-ok" once it has fallen below half of them again, so a
 * lag hovering at the threshold does not run the hook at every read.
 */
static void lag_watch(const char *name)
{
	struct xstatus *s = malloc(sizeof(*s));
	bool high = false;

	while (s && !read_status(name, s)) {
		if (!high && lag_high(s, 1)) {
			high = true;
			report(s, "lag-high");
		} else if (high && !lag_high(s, 2)) {
			high = false;
			report(s, "lag-ok");
		}
		sleep_ms(lag.interval_ms);
	}
	free(s);
}

/*
 * The watched devices: a slot per device, busy while any of its threads
 * runs.  A device that is removed frees its slot; found again by a rescan
 * (or created again under the same name), it gets a new one.
 */
#define RESCAN_MS	5000
/* Stack of a watching thread: hundreds of devices, three threads each. */
#define THREAD_STACK	(512 * 1024)
struct slot {
	char name[DM_NAME_LEN];	/* set before the threads start */
	unsigned int threads;	/* running threads; under slots_lock */
	pthread_mutex_t hook_lock;	/* the device's hooks run one at a time */
};
/*
 * As many slots as devices were ever watched at once: there is no limit
 * (a VM host has hundreds of volumes).  A slot's threads hold a pointer
 * to it, so slots are allocated one by one and never freed, only reused.
 */
static struct slot **slots;
static unsigned int nr_slots;
/* Protects slots, nr_slots, slots[]->threads and the names of free slots. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_idle = PTHREAD_COND_INITIALIZER;

/* The hook lock of a watched device (its slot's; slots are never freed). */
static pthread_mutex_t *hook_lock_of(const char *name)
{
	static pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t *l = &other;
	unsigned int i;

	pthread_mutex_lock(&slots_lock);
	for (i = 0; i < nr_slots; i++)
		if (slots[i]->threads && !strcmp(slots[i]->name, name))
			l = &slots[i]->hook_lock;
	pthread_mutex_unlock(&slots_lock);
	return l;
}

static void slot_put(struct slot *sl)
{
	pthread_mutex_lock(&slots_lock);
	if (!--sl->threads)
		pthread_cond_broadcast(&slots_idle);
	pthread_mutex_unlock(&slots_lock);
}

static void *watch_thread(void *arg)
{
	watch(((struct slot *)arg)->name);
	slot_put(arg);
	return NULL;
}

static void *probe_thread(void *arg)
{
	prober(((struct slot *)arg)->name);
	slot_put(arg);
	return NULL;
}

static void *lag_thread(void *arg)
{
	lag_watch(((struct slot *)arg)->name);
	slot_put(arg);
	return NULL;
}

/* Start the threads of a device not watched yet; 0, or -1 if it cannot. */
static int watch_device(const char *name)
{
	void *(*fns[3])(void *);
	struct slot *sl = NULL;
	unsigned int i, n = 0;
	pthread_attr_t attr;
	pthread_t t;

	if (passive)
		fns[n++] = watch_thread;
	if (probe.interval_ms)
		fns[n++] = probe_thread;
	if (lag.kb || lag.ms)
		fns[n++] = lag_thread;
	pthread_mutex_lock(&slots_lock);
	for (i = 0; i < nr_slots; i++) {
		if (slots[i]->threads && !strcmp(slots[i]->name, name)) {
			pthread_mutex_unlock(&slots_lock);
			return 0;
		}
		if (!slots[i]->threads && !sl)
			sl = slots[i];
	}
	if (!sl) {
		struct slot **more = realloc(slots, (nr_slots + 1) * sizeof(*slots));

		sl = calloc(1, sizeof(*sl));
		if (more)
			slots = more;
		if (!more || !sl) {
			pthread_mutex_unlock(&slots_lock);
			free(sl);
			msg("monitor: %s: out of memory", name);
			return -1;
		}
		pthread_mutex_init(&sl->hook_lock, NULL);
		slots[nr_slots++] = sl;
	}
	snprintf(sl->name, sizeof(sl->name), "%s", name);
	sl->threads = n;
	pthread_mutex_unlock(&slots_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < n; i++) {
		if (pthread_create(&t, &attr, fns[i], sl)) {
			msg("monitor: %s: cannot start a thread", name);
			for (; i < n; i++)
				slot_put(sl);
			pthread_attr_destroy(&attr);
			return -1;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/* for_each_xrepl() callback of a rescan: watch the devices not watched yet. */
static void watch_new(const struct xstatus *s, void *ctx)
{
	(void)ctx;
	watch_device(s->name);
}

/* When the rescan loop last went round (monotonic ms); 0: no rescans. */
static long long main_beat_ms;
static pthread_mutex_t beat_lock = PTHREAD_MUTEX_INITIALIZER;	/* protects it */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void main_beat(void)
{
	pthread_mutex_lock(&beat_lock);
	main_beat_ms = now_ms();
	pthread_mutex_unlock(&beat_lock);
}

/* Take and drop lock within budget_ms: whether it is not held for good. */
static bool lock_free_within(pthread_mutex_t *lock, unsigned int budget_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += budget_ms / 1000;
	until.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(lock, &until))
		return false;
	pthread_mutex_unlock(lock);
	return true;
}

/*
 * The watchdog's question: does the monitor work?  Its shared locks (the
 * device table, the log) can be taken, and the rescan loop, if any, went
 * round lately.  The threads that wait for events are not asked: they
 * block in the kernel by design.
 */
static bool monitor_alive(unsigned int budget_ms)
{
	long long beat;

	if (!lock_free_within(&slots_lock, budget_ms / 2) ||
	    !lock_free_within(&report_lock, budget_ms / 2))
		return false;
	pthread_mutex_lock(&beat_lock);
	beat = main_beat_ms;
	pthread_mutex_unlock(&beat_lock);
	return !beat || now_ms() - beat <= RESCAN_MS + 2LL * budget_ms;
}

/* Whether no device is watched any more; under slots_lock. */
static bool all_idle(void)
{
	unsigned int i;

	for (i = 0; i < nr_slots; i++)
		if (slots[i]->threads)
			return false;
	return true;
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option mopts[] = {
		{ "hook", required_argument, NULL, 'H' },
		{ "hook-timeout", required_argument, NULL, 'O' },
		{ "no-events", no_argument, NULL, 'E' },
		{ "no-probe", no_argument, NULL, 'P' },
		{ "probe-interval", required_argument, NULL, 'i' },
		{ "probe-timeout", required_argument, NULL, 't' },
		{ "probe-fail", required_argument, NULL, 'f' },
		{ "probe-ok", required_argument, NULL, 'k' },
		{ "lag-kb", required_argument, NULL, 'K' },
		{ "lag-ms", required_argument, NULL, 'T' },
		{ "lag-interval", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned int i;
	uint64_t v;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "H:O:EPi:t:f:k:K:T:I:", mopts, NULL)) != -1) {
		switch (c) {
		case 'H': hook_cmd = optarg; break;
		case 'O':
			if (!parse_num(optarg, 1, 86400, &v))
				usage_error("monitor: invalid value '%s' for --hook-timeout", optarg);
			hook_timeout_s = (unsigned int)v;
			break;
		case 'E': passive = false; break;
		case 'P': probe.interval_ms = 0; break;
		case 'i': case 't': case 'f': case 'k':
			if (!parse_num(optarg, 1, c == 'i' || c == 't' ? 3600000 : 1000, &v))
				usage_error("monitor: invalid value '%s' for --probe-%s", optarg,
					    c == 'i' ? "interval" : c == 't' ? "timeout" :
					    c == 'f' ? "fail" : "ok");
			if (c == 'i')
				probe.interval_ms = probe.interval_ms ? (unsigned int)v : 0;
			else if (c == 't')
				probe.timeout_ms = (unsigned int)v;
			else if (c == 'f')
				probe.fail = (unsigned int)v;
			else
				probe.ok = (unsigned int)v;
			break;
		case 'K': case 'T': case 'I':
			if (!parse_num(optarg, 1, c == 'K' ? XREPL_MAX_LAG_KB : 3600000, &v))
				usage_error("monitor: invalid value '%s' for --lag-%s", optarg,
					    c == 'K' ? "kb" : c == 'T' ? "ms" : "interval");
			if (c == 'K')
				lag.kb = v;
			else if (c == 'T')
				lag.ms = v;
			else
				lag.interval_ms = (unsigned int)v;
			break;
		default: usage_error("monitor: bad option");
		}
	}
	if (!passive && !probe.interval_ms && !lag.kb && !lag.ms)
		usage_error("monitor: --no-events and --no-probe leave nothing to do");
	if (dry_run)
		usage_error("monitor sends nothing: --dry-run makes no sense");
	for (i = optind; i < (unsigned int)argc; i++)
		check_name(argv[i]);
	for (i = optind; i < (unsigned int)argc; i++)
		if (check_xrepl(argv[i]))
			return EXIT_NODEV;
	service_lock_memory();
	if (service_watchdog_start(monitor_alive))
		msg("monitor: cannot start the watchdog thread");
	if (optind < argc) {
		/* The named devices, until every one of them is gone. */
		for (i = optind; i < (unsigned int)argc; i++)
			if (watch_device(argv[i]))
				return EXIT_FAILED;
		service_notify("READY=1");
		pthread_mutex_lock(&slots_lock);
		while (!all_idle())
			pthread_cond_wait(&slots_idle, &slots_lock);
		pthread_mutex_unlock(&slots_lock);
		service_notify("STOPPING=1");
		return EXIT_OK;
	}
	/* Every xrepl device, those created later too, until a signal. */
	for (bool first = true;; first = false) {
		bool none;

		main_beat();
		if (for_each_xrepl(watch_new, NULL) && first)
			return EXIT_FAILED;
		if (first)
			service_notify("READY=1");
		pthread_mutex_lock(&slots_lock);
		none = all_idle();
		pthread_mutex_unlock(&slots_lock);
		if (first && none)
			msg("monitor: no xrepl device yet; looking every %d s",
			    RESCAN_MS / 1000);
		sleep_ms(RESCAN_MS);
	}
}
