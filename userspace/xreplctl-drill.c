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
 *
 * Processes: the command runs in a process group of its own, which gets
 * the terminal while it runs (so it may read it, and Ctrl-C goes to it);
 * the helpers (lvm, cryptsetup) run in groups of their own too, so that a
 * Ctrl-C never kills one half-way: the drill notes the signal and cleans
 * up once the helper is done.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/meta.h"
#include "xreplctl.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The signals the drill passes on to the command. */
static const int drill_sigs[] = { SIGINT, SIGTERM, SIGHUP };
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

/* Block (how: SIG_BLOCK) or unblock the drill's signals. */
static void drill_sigmask(int how)
{
	sigset_t set;
	unsigned int i;

	sigemptyset(&set);
	for (i = 0; i < ARRAY_SIZE(drill_sigs); i++)
		sigaddset(&set, drill_sigs[i]);
	sigprocmask(how, &set, NULL);
}

/* In a child: the signals as the drill found them, none blocked. */
static void child_signals(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(drill_sigs); i++) {
		struct sigaction old;

		if (!sigaction(drill_sigs[i], NULL, &old) &&
		    old.sa_handler == drill_on_signal)
			signal(drill_sigs[i], SIG_DFL);
	}
	signal(SIGTTOU, SIG_DFL);
	drill_sigmask(SIG_UNBLOCK);
}

/*
 * Run argv (a helper: lvm, cryptsetup) with its output passed through;
 * quiet drops its standard error.  It runs in a process group of its own:
 * a Ctrl-C is the drill's to act on once the helper is done, never a
 * helper killed half-way.  Returns its exit status, or -1.
 */
static int run_helper(char *const argv[], bool quiet)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		setpgid(0, 0);
		child_signals();
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Give the terminal (standard input) to process group pgrp, if the drill
 * has it.  SIGTTOU is held off: the drill takes it back from the
 * background.
 */
static void give_terminal(pid_t pgrp)
{
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, &old);
	tcsetpgrp(STDIN_FILENO, pgrp);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * Run the user's command in a process group of its own, with dev in
 * XREPL_DRILL_DEV, in the terminal's foreground if the drill is.  A
 * timeout (0: none), or a signal passed on to it, is followed by SIGKILL
 * 10 s later if it is still there; once it ended, what it left in its
 * group is killed, since it would keep the snapshot open.  Returns its
 * wait status, or -1.
 */
static int run_command(char *const argv[], const char *dev, uint64_t timeout,
		       bool *timed_out)
{
	double end = timeout ? now_s() + (double)timeout : 0, kill_at = 0;
	bool fg = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	int st, sig_seen = 0;
	pid_t pid;
	int r;

	*timed_out = false;
	/* Held off until drill_child is set: none is lost in between. */
	drill_sigmask(SIG_BLOCK);
	pid = fork();
	if (pid < 0) {
		drill_sigmask(SIG_UNBLOCK);
		return -1;
	}
	if (!pid) {
		setpgid(0, 0);
		if (fg)
			give_terminal(getpid());
		child_signals();
		setenv("XREPL_DRILL_DEV", dev, 1);
		execvp(argv[0], argv);
		fprintf(stderr, PROG " drill: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	if (fg)
		give_terminal(pid);
	drill_child = pid;
	drill_sigmask(SIG_UNBLOCK);
	for (;;) {
		siginfo_t info = { .si_pid = 0 };

		/* Not reaped yet: its group id stays ours until it is. */
		r = waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT);
		if (!r && info.si_pid == pid)
			break;
		if (r < 0 && errno != EINTR) {
			st = -1;
			goto out;
		}
		if (drill_signal && !sig_seen) {
			/* Passed on by the handler, or caught before fork. */
			sig_seen = drill_signal;
			kill(-pid, sig_seen);
			kill_at = now_s() + 10;
		}
		if (timeout && !*timed_out && now_s() >= end) {
			*timed_out = true;
			kill(-pid, SIGTERM);
			kill_at = now_s() + 10;
		} else if (kill_at && now_s() >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
		usleep(50000);
	}
	/* What it left in its group would keep the snapshot open. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			st = -1;
			break;
		}
	}
out:
	drill_child = 0;
	if (fg)
		give_terminal(getpgrp());
	return st;
}

/*
 * What the copy's metadata says, into *sb; an exit status, with a
 * message.  quiet: only check it.
 */
static int drill_check_meta(const char *path, struct xmeta_sb *sb, bool quiet)
{
	char t[96];
	int r;

	r = meta_read_sb("drill: ", path, sb);
	if (r)
		return r;
	if (sb->role != XREPL_META_ROLE_SECONDARY) {
		msg("drill: %s is a primary's metadata: a drill runs at the remote site, on a secondary's copy",
		    path);
		return EXIT_FAILED;
	}
	if (!(sb->flags & XMETA_F_CONSISTENT)) {
		msg("drill: %s: the copy is not consistent (a resync is copying to it): refused%s",
		    path, quiet ? "" : ", nothing done");
		return EXIT_FAILED;
	}
	if (quiet)
		return EXIT_OK;
	if (sb->flags & XMETA_F_LIVE)
		printf("drill: the copy is consistent and live: it receives every write (last recorded %s); recovery point: its last write\n",
		       meta_when(sb->mtime, t, sizeof(t)));
	else
		printf("drill: the copy is consistent as of its data time %s (the recovery point)\n",
		       meta_when(sb->data_time, t, sizeof(t)));
	return EXIT_OK;
}

/*
 * Remove the snapshot; an exit status, with a message.  Retried: what the
 * command left may take a moment to let go of it.
 */
static int drill_remove(const char *snap_path)
{
	char *remove[] = { "lvm", "lvremove", "-q", "-y", (char *)snap_path, NULL };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (i)
			sleep(1);
		if (!run_helper(remove, i < 2))
			return EXIT_OK;
	}
	msg("drill: cannot remove the snapshot %s: remove it by hand (lvremove %s)",
	    snap_path, snap_path);
	return EXIT_FAILED;
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
	char lvname[128], cow_arg[32];
	const char *dev;
	struct sigaction sa = { .sa_handler = drill_on_signal };
	struct xmeta_sb before, after;
	uint64_t timeout = 0, cow_bytes = 0;
	unsigned int i;
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

	/* A SIGCHLD ignored by whoever started us would hide every status. */
	signal(SIGCHLD, SIG_DFL);
	r = drill_check_meta(meta, &before, false);
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
	/*
	 * From the snapshot's creation on, a signal only ends the command,
	 * and the drill cleans up.  A signal ignored (nohup) stays ignored.
	 */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(drill_sigs); i++) {
		struct sigaction old;

		if (!sigaction(drill_sigs[i], NULL, &old) && old.sa_handler != SIG_IGN)
			sigaction(drill_sigs[i], &sa, NULL);
	}
	/* lvcreate's -L counts MiB by default: give it bytes. */
	snprintf(cow_arg, sizeof(cow_arg), "%" PRIu64 "b", cow_bytes);
	{
		char *thin[] = { "lvm", "lvcreate", "-q", "-y", "-s", "-kn", "-n", snap, (char *)lv,
				 NULL };
		char *classic[] = { "lvm", "lvcreate", "-q", "-y", "-s", "-L", cow_arg, "-n",
				    snap, (char *)lv, NULL };
		char *check[] = { "lvm", "lvs", "--noheadings", snap_path, NULL };

		printf("drill: taking a %s snapshot %s of %s\n", cow ? "classic" : "thin",
		       snap_path, lv);
		fflush(stdout);
		if (run_helper(cow ? classic : thin, false)) {
			msg("drill: cannot snapshot %s%s", lv,
			    cow ? "" : " (a thin snapshot needs a thin volume: give --cow-size for a classic one)");
			/* Made all the same (lvcreate was interrupted)? */
			snprintf(snap_path, sizeof(snap_path), "%s/%s", vg, snap);
			if (!run_helper(check, true)) {
				snprintf(snap_path, sizeof(snap_path), "/dev/%s/%s", vg, snap);
				drill_remove(snap_path);
			}
			return EXIT_FAILED;
		}
	}
	snprintf(snap_path, sizeof(snap_path), "/dev/%s/%s", vg, snap);
	dev = snap_path;
	r = EXIT_OK;
	/*
	 * The copy may have changed between the check and the snapshot (a
	 * "remote up" starts a resync): the snapshot holds what the metadata
	 * said only if the metadata was not written meanwhile.
	 */
	if (!drill_signal) {
		r = drill_check_meta(meta, &after, true);
		if (!r && (after.generation != before.generation ||
			   after.gen_current != before.gen_current)) {
			msg("drill: %s changed while the snapshot was taken (the remote site's metadata was written): refused",
			    meta);
			r = EXIT_FAILED;
		}
	}
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
	if (drill_remove(snap_path))
		return EXIT_FAILED;
	printf("drill: snapshot %s removed\n", snap_path);
	if (drill_signal) {
		msg("drill: interrupted by signal %d", (int)drill_signal);
		return 128 + drill_signal;
	}
	return r;
}
