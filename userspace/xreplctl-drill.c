// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the drill command, run at the remote site to prove its copy
 * without disturbing it.  It refuses a copy its metadata does not call
 * consistent, says how old the copy's data is, takes an LVM snapshot of
 * the remote's logical volume (thin, or classic with --cow-size), opens it
 * through LUKS if asked, runs the user's command against it
 * ($XREPL_DRILL_DEV) and reports the command's result and time.  The
 * snapshot is removed in every case: the command failing, a timeout, or
 * SIGINT, SIGTERM or SIGHUP, which are passed on to the command first.
 * Replication goes on meanwhile: the snapshot only reads the volume, and
 * its creation suspends the volume for a moment, as any LVM snapshot does.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/meta.h"
#include "xreplctl.h"

/* The signal that interrupted the drill, or 0. */
static volatile sig_atomic_t drill_signal;
/* The user's command while it runs, for the signal handler; else 0. */
static volatile pid_t drill_child;

static void drill_on_signal(int sig)
{
	drill_signal = sig;
	if (drill_child > 0)
		kill(-drill_child, sig);
}

/*
 * Run argv (a helper: lvm, cryptsetup) with its output passed through;
 * quiet drops its standard error.  Returns its exit status, or -1.
 */
static int run_helper(char *const argv[], bool quiet)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Run the user's command in a process group of its own, with dev in
 * XREPL_DRILL_DEV; a timeout (0: none) ends it with SIGTERM, then
 * SIGKILL 10 s later.  Returns its wait status, or -1.
 */
static int run_command(char *const argv[], const char *dev, uint64_t timeout,
		       bool *timed_out)
{
	double end = timeout ? now_s() + (double)timeout : 0, kill_at = 0;
	int st;
	pid_t pid, r;

	*timed_out = false;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setenv("XREPL_DRILL_DEV", dev, 1);
		execvp(argv[0], argv);
		fprintf(stderr, PROG " drill: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	drill_child = pid;
	for (;;) {
		r = waitpid(pid, &st, timeout ? WNOHANG : 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			st = -1;
			break;
		}
		if (!timeout)
			continue;
		if (!*timed_out && now_s() >= end) {
			*timed_out = true;
			kill(-pid, SIGTERM);
			kill_at = now_s() + 10;
		} else if (*timed_out && kill_at && now_s() >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
		usleep(50000);
	}
	drill_child = 0;
	return st;
}

/* What the copy's metadata says; an exit status, with a message. */
static int drill_check_meta(const char *path)
{
	struct xmeta_sb sb;
	char t[96];
	int r;

	r = meta_read_sb("drill: ", path, &sb);
	if (r)
		return r;
	if (sb.role != XREPL_META_ROLE_SECONDARY) {
		msg("drill: %s is a primary's metadata: a drill runs at the remote site, on a secondary's copy",
		    path);
		return EXIT_FAILED;
	}
	if (!(sb.flags & XMETA_F_CONSISTENT)) {
		msg("drill: %s: the copy is not consistent (a resync is copying to it): refused, nothing done",
		    path);
		return EXIT_FAILED;
	}
	if (sb.flags & XMETA_F_LIVE)
		printf("drill: the copy is consistent and live: it receives every write (last recorded %s); recovery point: its last write\n",
		       meta_when(sb.mtime, t, sizeof(t)));
	else
		printf("drill: the copy is consistent as of its data time %s (the recovery point)\n",
		       meta_when(sb.data_time, t, sizeof(t)));
	return EXIT_OK;
}

int cmd_drill(int argc, char **argv)
{
	enum { OPT_LV = 256, OPT_META, OPT_COW, OPT_NAME, OPT_TIMEOUT, OPT_LUKS };
	static const struct option opts[] = {
		{ "lv", required_argument, NULL, OPT_LV },
		{ "meta", required_argument, NULL, OPT_META },
		{ "cow-size", required_argument, NULL, OPT_COW },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "luks-key", required_argument, NULL, OPT_LUKS },
		{ NULL, 0, NULL, 0 }
	};
	const char *lv = NULL, *meta = NULL, *cow = NULL, *name = NULL, *key = NULL;
	char vg[128], snap[160], snap_path[300], crypt_name[300], crypt_path[320];
	char lvname[128];
	const char *dev;
	struct sigaction sa = { .sa_handler = drill_on_signal };
	uint64_t timeout = 0, cow_bytes;
	bool timed_out = false, opened = false;
	double t0, secs;
	int c, r, st;
	char *slash;

	optind = 0;	/* 0: getopt starts afresh (GNU) */
	/* "+": the user's command after "--" keeps its own options. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LV: lv = optarg; break;
		case OPT_META: meta = optarg; break;
		case OPT_COW:
			if (!parse_size(optarg, &cow_bytes) || cow_bytes < (1 << 20))
				usage_error("drill: --cow-size wants a size of 1M or more");
			cow = optarg;
			break;
		case OPT_NAME: name = optarg; break;
		case OPT_TIMEOUT:
			if (!parse_num(optarg, 1, 86400 * 7, &timeout))
				usage_error("drill: --timeout wants seconds (1 or more)");
			break;
		case OPT_LUKS: key = optarg; break;
		default:
			usage_error("drill wants --lv VG/LV --meta DEV [--cow-size SIZE] [--name NAME] [--luks-key FILE] [--timeout S] -- COMMAND...");
		}
	}
	if (!lv || !meta)
		usage_error("drill needs --lv VG/LV and --meta DEV (the remote site's metadata)");
	if (optind >= argc)
		usage_error("drill needs a command to run against the snapshot (after --)");
	slash = strchr(lv, '/');
	if (!slash || slash == lv || !slash[1] || strchr(slash + 1, '/') ||
	    (size_t)(slash - lv) >= sizeof(vg) || strlen(slash + 1) >= sizeof(lvname))
		usage_error("drill: --lv wants VG/LV");
	snprintf(vg, sizeof(vg), "%.*s", (int)(slash - lv), lv);
	snprintf(lvname, sizeof(lvname), "%s", slash + 1);
	if (!name) {
		snprintf(snap, sizeof(snap), "%s-xrepl-drill", lvname);
		name = snap;
	} else {
		check_name(name);
		if (strlen(name) >= sizeof(snap))
			usage_error("drill: --name is too long");
		snprintf(snap, sizeof(snap), "%s", name);
	}
	if (dry_run)
		usage_error("drill runs a command against a snapshot: --dry-run makes no sense");

	r = drill_check_meta(meta);
	if (r)
		return r;

	snprintf(snap_path, sizeof(snap_path), "%s/%s", vg, snap);
	{
		char *check[] = { "lvm", "lvs", "--noheadings", snap_path, NULL };

		if (!run_helper(check, true)) {
			msg("drill: %s exists: an earlier drill was interrupted? Remove it (lvremove %s) first",
			    snap_path, snap_path);
			return EXIT_FAILED;
		}
	}
	/* From the snapshot's creation on, a signal only ends the command. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	{
		char *thin[] = { "lvm", "lvcreate", "-q", "-y", "-s", "-kn", "-n", snap, (char *)lv,
				 NULL };
		char *classic[] = { "lvm", "lvcreate", "-q", "-y", "-s", "-L", (char *)cow, "-n",
				    snap, (char *)lv, NULL };

		printf("drill: taking a %s snapshot %s of %s\n", cow ? "classic" : "thin",
		       snap_path, lv);
		fflush(stdout);
		if (run_helper(cow ? classic : thin, false)) {
			msg("drill: cannot snapshot %s%s", lv,
			    cow ? "" : " (a thin snapshot needs a thin volume: give --cow-size for a classic one)");
			/* lvcreate removes what it made when it fails. */
			return EXIT_FAILED;
		}
	}
	snprintf(snap_path, sizeof(snap_path), "/dev/%s/%s", vg, snap);
	dev = snap_path;
	r = EXIT_OK;
	if (key && !drill_signal) {
		char *open_argv[] = { "cryptsetup", "open", "--key-file", (char *)key,
				      snap_path, crypt_name, NULL };

		snprintf(crypt_name, sizeof(crypt_name), "%s-%s-crypt", vg, snap);
		snprintf(crypt_path, sizeof(crypt_path), "/dev/mapper/%s", crypt_name);
		if (run_helper(open_argv, false)) {
			msg("drill: cannot open %s through LUKS with %s", snap_path, key);
			r = EXIT_FAILED;
		} else {
			opened = true;
			dev = crypt_path;
		}
	}
	if (!r && !drill_signal) {
		printf("drill: running %s against %s\n", argv[optind], dev);
		fflush(stdout);
		t0 = now_s();
		st = run_command(argv + optind, dev, timeout, &timed_out);
		secs = now_s() - t0;
		if (timed_out) {
			printf("drill: FAILED: the command ran out of its %" PRIu64 " s and was killed (%.1f s)\n",
			       timeout, secs);
			r = EXIT_DRILL_FAILED;
		} else if (st != -1 && WIFEXITED(st) && !WEXITSTATUS(st)) {
			printf("drill: passed: the command succeeded in %.1f s\n", secs);
		} else if (st != -1 && WIFEXITED(st)) {
			printf("drill: FAILED: the command exited %d after %.1f s\n",
			       WEXITSTATUS(st), secs);
			r = EXIT_DRILL_FAILED;
		} else {
			printf("drill: FAILED: the command was killed by signal %d after %.1f s\n",
			       st == -1 ? 0 : WTERMSIG(st), secs);
			r = EXIT_DRILL_FAILED;
		}
	}
	/* Clean up, whatever happened. */
	if (opened) {
		char *close_argv[] = { "cryptsetup", "close", crypt_name, NULL };

		if (run_helper(close_argv, false))
			msg("drill: cannot close %s: close it (cryptsetup close %s), then remove %s",
			    crypt_path, crypt_name, snap_path);
	}
	{
		char *remove[] = { "lvm", "lvremove", "-q", "-y", snap_path, NULL };

		if (run_helper(remove, false)) {
			msg("drill: cannot remove the snapshot %s: remove it by hand (lvremove %s)",
			    snap_path, snap_path);
			return EXIT_FAILED;
		}
	}
	printf("drill: snapshot %s removed\n", snap_path);
	if (drill_signal) {
		msg("drill: interrupted by signal %d", (int)drill_signal);
		return 128 + drill_signal;
	}
	return r;
}
