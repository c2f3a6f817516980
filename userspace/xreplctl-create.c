// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: create and remove.  A device's table line is built here from
 * the named options of "create" (or from a configuration file, through
 * create_device()): "<local> <remote> <meta|-> <mode> [<#opts> <opts>...]",
 * with the length of the local leg.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xreplctl.h"

/* Size of a block device (or, for tests, a regular file) in sectors. */
int dev_sectors(const char *path, uint64_t *sectors)
{
	struct stat st;
	uint64_t bytes = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		msg("cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes)) {
			msg("cannot get the size of %s: %s", path, strerror(errno));
			r = -1;
		}
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else {
		msg("%s is not a block device", path);
		r = -1;
	}
	close(fd);
	*sectors = bytes >> 9;
	if (!r && !*sectors) {
		msg("%s is empty", path);
		r = -1;
	}
	return r;
}

void add_opt(struct create_args *a, const char *words)
{
	size_t len = strlen(a->opts);

	if (len + strlen(words) + 2 > sizeof(a->opts))
		usage_error("too many options");
	snprintf(a->opts + len, sizeof(a->opts) - len, "%s%s", len ? " " : "",
		 words);
	a->nr_opts += 1 + (strchr(words, ' ') != NULL);
}

/*
 * Why a's journal and delay do not go with the rest of a, or NULL: what
 * the target would refuse, said before anything reaches it.
 */
const char *journal_problem(const struct create_args *a)
{
	if (a->journal) {
		if (!a->meta)
			return "a journal needs a metadata device";
		if (!strcmp(a->mode, "periodic"))
			return "a journal does not go with periodic mode";
		if (same_dev(a->journal, a->local) ||
		    same_dev(a->journal, a->remote) ||
		    same_dev(a->journal, a->meta) ||
		    (a->remote_meta && same_dev(a->journal, a->remote_meta)))
			return "the journal must differ from the legs and the metadata devices";
	}
	if (a->delay_ms && !a->journal)
		return "delay_ms needs a journal";
	if (a->delay_ms && strcmp(a->mode, "async"))
		return "delay_ms needs async mode";
	return NULL;
}

static void create_option(struct create_args *a, const char *kv)
{
	static const char *const keys[] = { "on_remote_error",
		"resync_rate_kbps", "semi_timeout_ms", "max_lag_kb",
		"congestion", "period_s", "delay_ms", NULL };
	const char *eq = strchr(kv, '=');
	char key[32], words[96];
	unsigned int i;

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		usage_error("--option wants key=value, got '%s'", kv);
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	check_option("--option", key, eq + 1, true);
	for (i = 0; keys[i]; i++)
		if (!strcmp(keys[i], key))
			break;
	if (a->given & (1U << i))
		usage_error("--option %s given twice", key);
	a->given |= 1U << i;
	if (!strcmp(key, "delay_ms"))
		parse_num(eq + 1, 0, UINT64_MAX, &a->delay_ms);
	snprintf(words, sizeof(words), "%s %s", key, eq + 1);
	add_opt(a, words);
}

int cmd_create(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "local", required_argument, NULL, 'l' },
		{ "remote", required_argument, NULL, 'r' },
		{ "meta", required_argument, NULL, 'm' },
		{ "no-meta", no_argument, NULL, 'M' },
		{ "remote-meta", required_argument, NULL, 'R' },
		{ "mode", required_argument, NULL, 'o' },
		{ "journal", required_argument, NULL, 'J' },
		{ "region-size", required_argument, NULL, 's' },
		{ "nosync", no_argument, NULL, 'N' },
		{ "option", required_argument, NULL, 'O' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct create_args a = { .mode = "sync" };
	const char *why;
	char expect[64];
	int c;

	/* Options and the name in any order; 0 restarts getopt. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "l:r:m:MR:o:J:s:NO:n", lopts, NULL)) != -1) {
		switch (c) {
		case 'l': a.local = optarg; break;
		case 'R': a.remote_meta = optarg; break;
		case 'r': a.remote = optarg; break;
		case 'm': a.meta = optarg; break;
		case 'M': a.no_meta = true; break;
		case 'o': a.mode = optarg; break;
		case 'J': a.journal = optarg; break;
		case 's':
			if (!parse_size(optarg, &a.region_bytes))
				usage_error("--region-size: '%s' is not a size", optarg);
			break;
		case 'N': a.nosync = true; break;
		case 'O': create_option(&a, optarg); break;
		case 'n': dry_run = true; break;
		default: usage_error("create: bad option");
		}
	}
	/* argv[0] is "create", left in place by the permutation. */
	if (optind != argc - 1)
		usage_error("create wants exactly one device name");
	a.name = argv[optind];
	check_name(a.name);
	if (!a.local || !a.remote)
		usage_error("create needs --local and --remote");
	if (!a.meta == !a.no_meta)
		usage_error("create needs one of --meta DEV and --no-meta");
	if (same_dev(a.local, a.remote))
		usage_error("--local and --remote are the same device");
	if (a.meta && (same_dev(a.meta, a.local) || same_dev(a.meta, a.remote)))
		usage_error("--meta must differ from the legs");
	if (!strcmp(a.remote, "-") && !a.meta)
		usage_error("--remote - (no remote yet) needs --meta");
	if (a.remote_meta) {
		if (!strcmp(a.remote, "-"))
			usage_error("--remote-meta needs a remote");
		if (!a.meta)
			usage_error("--remote-meta needs --meta");
		if (same_dev(a.remote_meta, a.local) ||
		    same_dev(a.remote_meta, a.remote) ||
		    same_dev(a.remote_meta, a.meta))
			usage_error("--remote-meta must differ from the legs and --meta");
	}
	if (!in_list(mode_names, a.mode))
		usage_error("--mode: '%s' is not sync, semi-sync, async or periodic", a.mode);
	if (a.region_bytes && !region_ok(a.region_bytes))
		usage_error("--region-size: %s", region_expect(expect, sizeof(expect)));
	if (strstr(a.opts, "on_remote_error fail") && strcmp(a.mode, "sync"))
		usage_error("on_remote_error=fail needs --mode sync");
	if (strstr(a.opts, "on_remote_error fail") && !strcmp(a.remote, "-"))
		usage_error("on_remote_error=fail needs a remote");
	why = journal_problem(&a);
	if (why)
		usage_error("%s", why);
	return create_device(&a);
}

/*
 * Create the device a describes, whose every argument was checked.
 * Returns an exit status.
 */
int build_table(struct create_args *a, char *table, size_t len,
		uint64_t *sectors)
{
	char words[PATH_MAX + 16];
	int r;

	if (a->region_bytes) {
		snprintf(words, sizeof(words), "region_size %" PRIu64,
			 a->region_bytes >> 9);
		add_opt(a, words);
	}
	if (a->nosync)
		add_opt(a, "nosync");
	if (a->remote_meta && strcmp(a->remote, "-")) {
		snprintf(words, sizeof(words), "remote_meta %s", a->remote_meta);
		add_opt(a, words);
	}
	if (a->journal) {
		snprintf(words, sizeof(words), "journal %s", a->journal);
		add_opt(a, words);
	}
	if (dev_sectors(a->local, sectors))
		return EXIT_USAGE;
	r = snprintf(table, len, "%s %s %s %s", a->local, a->remote,
		     a->meta ? a->meta : "-", a->mode);
	if (a->nr_opts)
		r += snprintf(table + r, len - r, " %u %s", a->nr_opts, a->opts);
	if (r >= (int)len)
		usage_error("device paths too long");
	return EXIT_OK;
}

int create_device(struct create_args *a)
{
	char table[1024];
	uint64_t sectors;
	int r;

	r = build_table(a, table, sizeof(table), &sectors);
	if (r)
		return r;
	if (dry_run) {
		printf("create %s: 0 %" PRIu64 " " TARGET " %s\n", a->name, sectors,
		       table);
		return EXIT_OK;
	}
	return dev_create(a->name, sectors, table);
}

int cmd_remove(const char *name)
{
	int r;

	check_name(name);
	if (dry_run) {
		printf("remove %s\n", name);
		return EXIT_OK;
	}
	r = check_xrepl(name);
	if (r)
		return r;
	/*
	 * Removing suspends the device, which waits until every write
	 * reached both legs (the remote's queue too) and clears the marks.
	 */
	return dev_remove(name);
}
