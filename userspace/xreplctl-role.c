// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the roles of a site (Documentation/dm-xrepl.rst, "Roles and
 * generations").  promote makes a secondary's metadata a primary's and
 * creates the device without a remote; demote makes a stopped primary's
 * metadata a secondary's, so that the other site may replicate to it;
 * attach loads a running device's table again with a remote (and the
 * remote site's metadata).  promote and demote open the metadata device
 * exclusively: a table that uses it makes them fail.  status --meta reads
 * one, at either site, and says what it records of the data beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/meta.h"
#include "xreplctl.h"

#define BS	XREPL_META_BLOCK_SIZE

/* A metadata device opened for a role change, its superblock decoded. */
struct role_dev {
	const char *path;
	int fd;
	void *buf;		/* one block, aligned for O_DIRECT */
	struct xmeta_sb sb;
};

static void role_close(struct role_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->buf);
}

/*
 * Open path (exclusively, if a block device and not a dry run) and read
 * and check its superblock.  Returns an exit status, with a message.
 */
static int role_open(struct role_dev *d, const char *path)
{
	struct xmeta_problems *p;
	struct stat st;
	int flags = dry_run ? O_RDONLY : O_RDWR;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	d->path = path;
	d->fd = -1;
	if (stat(path, &st)) {
		msg("%s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (S_ISBLK(st.st_mode))
		flags |= O_DIRECT | (dry_run ? 0 : O_EXCL);
	d->fd = open(path, flags | O_CLOEXEC);
	if (d->fd < 0) {
		if (errno == EBUSY)
			msg("%s is in use (is the xrepl device still running? remove it first)",
			    path);
		else
			msg("%s: %s", path, strerror(errno));
		return EXIT_FAILED;
	}
	if (posix_memalign(&d->buf, BS, BS)) {
		d->buf = NULL;
		msg("out of memory");
		return EXIT_FAILED;
	}
	n = pread(d->fd, d->buf, BS, 0);
	if (n != BS) {
		msg("%s: cannot read its superblock", path);
		return EXIT_FAILED;
	}
	if (xmeta_is_zero(d->buf, BS)) {
		msg("%s: never formatted: not an xrepl metadata device yet", path);
		return EXIT_FAILED;
	}
	xmeta_sb_decode(d->buf, &d->sb);
	p = calloc(1, sizeof(*p));
	if (!p) {
		msg("out of memory");
		return EXIT_FAILED;
	}
	xmeta_check_sb(&d->sb, d->buf, BS, p);
	if (p->n) {
		msg("%s: damaged metadata (%s; xrepl-check tells more): refused",
		    path, p->msg[0]);
		free(p);
		return EXIT_FAILED;
	}
	free(p);
	if (d->sb.version == XREPL_META_VERSION_1)
		d->sb.role = XREPL_META_ROLE_PRIMARY;
	return EXIT_OK;
}

static bool gen_known(const struct xmeta_sb *sb, uint64_t g)
{
	unsigned int i;

	if (g == sb->gen_current || g == sb->gen_bitmap)
		return true;
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		if (g == sb->gen_history[i])
			return true;
	return false;
}

/* A new generation identifier: not 0, none sb holds.  0 on failure. */
static uint64_t gen_new(const struct xmeta_sb *sb)
{
	uint64_t g;

	do {
		if (getrandom(&g, sizeof(g), 0) != sizeof(g))
			return 0;
	} while (!g || gen_known(sb, g));
	return g;
}

/*
 * The data changes on its own from now on: gen_current becomes gen_bitmap
 * and gets a new value.  Returns an exit status.
 */
static int gen_split(struct xmeta_sb *sb)
{
	uint64_t g = gen_new(sb);

	if (!g) {
		msg("cannot get random bytes: %s", strerror(errno));
		return EXIT_FAILED;
	}
	sb->gen_bitmap = sb->gen_current;
	sb->gen_current = g;
	return EXIT_OK;
}

/* Zero the bitmap blocks.  Returns an exit status. */
static int zero_bitmap(struct role_dev *d)
{
	uint64_t b;

	memset(d->buf, 0, BS);
	for (b = 0; b < d->sb.bitmap_blocks; b++)
		if (pwrite(d->fd, d->buf, BS, (off_t)((1 + b) * BS)) != BS) {
			msg("%s: cannot write its bitmap: %s", d->path,
			    strerror(errno));
			return EXIT_FAILED;
		}
	return EXIT_OK;
}

/*
 * Mark every region of d's bitmap (bits past the last region stay clear).
 * Returns an exit status.
 */
static int fill_bitmap(struct role_dev *d)
{
	uint64_t b, first, n;

	for (b = 0; b < d->sb.bitmap_blocks; b++) {
		memset(d->buf, 0, BS);
		first = b * XREPL_META_BITS_PER_BLOCK;
		n = first < d->sb.nr_regions ? d->sb.nr_regions - first : 0;
		if (n > XREPL_META_BITS_PER_BLOCK)
			n = XREPL_META_BITS_PER_BLOCK;
		memset(d->buf, 0xff, n / 8);
		if (n % 8)
			((uint8_t *)d->buf)[n / 8] = (uint8_t)((1U << (n % 8)) - 1);
		if (pwrite(d->fd, d->buf, BS, (off_t)((1 + b) * BS)) != BS) {
			msg("%s: cannot write its bitmap: %s", d->path,
			    strerror(errno));
			return EXIT_FAILED;
		}
	}
	if (fsync(d->fd)) {
		msg("%s: cannot write its bitmap: %s", d->path, strerror(errno));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* Write d->sb as the new superblock, durably.  Returns an exit status. */
static int write_sb(struct role_dev *d)
{
	d->sb.version = XREPL_META_VERSION;
	/* A secondary has no change tracker (its blocks are the undo area). */
	if (d->sb.role != XREPL_META_ROLE_PRIMARY) {
		d->sb.trk_id = 0;
		d->sb.trk_open = 0;
		d->sb.trk_oldest = 0;
		d->sb.trk_slots = 0;
	}
	d->sb.generation++;
	d->sb.mtime = (uint64_t)time(NULL);
	memset(d->buf, 0, BS);
	xmeta_sb_encode(&d->sb, d->buf);
	if (pwrite(d->fd, d->buf, BS, 0) != BS || fsync(d->fd)) {
		msg("%s: cannot write its superblock: %s", d->path,
		    strerror(errno));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* Regions a metadata device's bitmap marks, or -1. */
static int64_t marked_regions(const char *path, uint64_t nr)
{
	struct xmeta_bitmap_stats st;
	struct xmeta_dev dev;
	int r;

	if (xmeta_open(&dev, path))
		return -1;
	r = xmeta_scan_bitmap(&dev, nr, NULL, NULL, &st);
	xmeta_close(&dev);
	return r ? -1 : (int64_t)st.set;
}

/* "2026-12-03 10:00:00 UTC (3 min 20 s ago)" */
const char *meta_when(uint64_t t, char *buf, size_t len)
{
	time_t now = time(NULL), tt = (time_t)t;
	uint64_t age = (uint64_t)now > t ? (uint64_t)now - t : 0;
	struct tm tm;
	size_t o;

	if (!t || !gmtime_r(&tt, &tm)) {
		snprintf(buf, len, "unknown");
		return buf;
	}
	o = strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (age >= 86400)
		snprintf(buf + o, len - o, " (%" PRIu64 " d %" PRIu64 " h ago)",
			 age / 86400, age % 86400 / 3600);
	else if (age >= 3600)
		snprintf(buf + o, len - o, " (%" PRIu64 " h %" PRIu64 " min ago)",
			 age / 3600, age % 3600 / 60);
	else
		snprintf(buf + o, len - o, " (%" PRIu64 " min %" PRIu64 " s ago)",
			 age / 60, age % 60);
	return buf;
}

int cmd_demote(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "meta", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *meta = NULL;
	struct role_dev d;
	bool journaled;
	int64_t marked;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "m:n", lopts, NULL)) != -1) {
		switch (c) {
		case 'm': meta = optarg; break;
		case 'n': dry_run = true; break;
		default: usage_error("demote: bad option");
		}
	}
	if (optind != argc || !meta)
		usage_error("demote wants --meta DEV and nothing else");
	r = role_open(&d, meta);
	if (r)
		goto out;
	if (d.sb.role != XREPL_META_ROLE_PRIMARY) {
		msg("%s is a secondary's already%s", meta,
		    d.sb.flags & XMETA_F_DEMOTED ? " (demoted)" : "");
		r = EXIT_FAILED;
		goto out;
	}
	/*
	 * Its journal may hold writes the remote lacks whose marks went by
	 * the log: once demoted, no load replays it, so every region may
	 * differ from the other site.
	 */
	journaled = d.sb.flags & XMETA_F_JOURNALED;
	marked = journaled ? (int64_t)d.sb.nr_regions :
		 marked_regions(meta, d.sb.nr_regions);
	if (journaled)
		printf("%s: its journal may hold writes its bitmap does not mark: every region is marked\n",
		       meta);
	d.sb.role = XREPL_META_ROLE_SECONDARY;
	/* Its data is its own, written as a primary: consistent. */
	d.sb.flags = XMETA_F_CONSISTENT | XMETA_F_DEMOTED;
	d.sb.data_time = d.sb.mtime;
	d.sb.degraded = XREPL_META_DEGRADED_NONE;
	if (marked < 0)
		printf("%s: its bitmap cannot be read\n", meta);
	else
		printf("%s: %" PRId64 " regions written here may be missing at the other site; a primary that connects to this device will overwrite them\n",
		       meta, marked);
	if (dry_run) {
		printf("demote %s: would write role secondary, flags consistent,demoted\n",
		       meta);
		goto out;
	}
	/* The marks first: a failure leaves a primary, marked more. */
	r = journaled ? fill_bitmap(&d) : EXIT_OK;
	if (!r)
		r = write_sb(&d);
	if (!r)
		printf("%s: demoted: a secondary now\n", meta);
out:
	role_close(&d);
	return r;
}

int cmd_promote(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "local", required_argument, NULL, 'l' },
		{ "meta", required_argument, NULL, 'm' },
		{ "mode", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct create_args a = { .mode = "sync", .remote = "-" };
	bool force = false, demoted;
	uint64_t sectors;
	struct role_dev d;
	char buf[96];
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "l:m:o:fn", lopts, NULL)) != -1) {
		switch (c) {
		case 'l': a.local = optarg; break;
		case 'm': a.meta = optarg; break;
		case 'o': a.mode = optarg; break;
		case 'f': force = true; break;
		case 'n': dry_run = true; break;
		default: usage_error("promote: bad option");
		}
	}
	if (optind != argc - 1)
		usage_error("promote wants exactly one device name");
	a.name = argv[optind];
	check_name(a.name);
	if (!a.local || !a.meta)
		usage_error("promote needs --local and --meta");
	if (same_dev(a.local, a.meta))
		usage_error("--meta must differ from --local");
	if (!in_list(mode_names, a.mode))
		usage_error("--mode: '%s' is not sync, semi-sync, async or periodic", a.mode);

	r = role_open(&d, a.meta);
	if (r)
		goto out;
	/* Before anything is written: the right pair of devices? */
	if (dev_sectors(a.local, &sectors)) {
		r = EXIT_USAGE;
		goto out;
	}
	if (sectors != d.sb.dev_sectors) {
		msg("%s has %" PRIu64 " sectors, but %s describes a device of %" PRIu64 ": the wrong --local or --meta? Nothing written",
		    a.local, sectors, a.meta, d.sb.dev_sectors);
		r = EXIT_FAILED;
		goto out;
	}
	if (d.sb.role == XREPL_META_ROLE_PRIMARY) {
		printf("%s is a primary's already: creating the device\n", a.meta);
		role_close(&d);
		return create_device(&a);
	}
	demoted = d.sb.flags & XMETA_F_DEMOTED;
	if (!(d.sb.flags & XMETA_F_CONSISTENT) && d.sb.undo_epoch) {
		uint64_t n;

		/*
		 * A cycle was overwriting the copy: back to its point.  Every
		 * slot is checked first; then, before the first write-back,
		 * the superblock gets a data generation of its own (as the
		 * promote gives it below), so that a primary that connects to
		 * it meanwhile refuses it (split brain) rather than take the
		 * rolled-back regions for what it copied.  An interrupted
		 * promote, run again, finds the epoch and writes back again.
		 */
		r = undo_rollback(d.fd, a.meta, &d.sb, a.local, false, &n);
		if (!r && !dry_run && !d.sb.gen_bitmap) {
			r = gen_split(&d.sb);
			if (!r)
				r = write_sb(&d);
			if (r)
				goto out;
		}
		if (!r && !dry_run)
			r = undo_rollback(d.fd, a.meta, &d.sb, a.local, true, &n);
		if (r && !force) {
			msg("%s: the copy cannot return to its point: refused; --force promotes it as it is, NOT consistent",
			    a.meta);
			goto out;
		}
		if (!r) {
			printf("%s: a cycle was overwriting the copy: %s%" PRIu64 " regions from the undo area, back to its point in time\n",
			       a.meta, dry_run ? "would write back " : "wrote back ", n);
			d.sb.flags |= XMETA_F_CONSISTENT;
			d.sb.undo_epoch = 0;
		}
	}
	if (!(d.sb.flags & XMETA_F_CONSISTENT) && !force) {
		msg("%s: the copy is not consistent (a resync was copying to it): refused; --force promotes it anyway",
		    a.meta);
		r = EXIT_FAILED;
		goto out;
	}
	if (!(d.sb.flags & XMETA_F_CONSISTENT))
		printf("%s: promoting a copy that is NOT consistent (--force): check the file systems on it\n",
		       a.meta);
	if (demoted)
		printf("%s: demoted earlier: the demotion is undone\n", a.meta);
	else if (d.sb.flags & XMETA_F_LIVE)
		printf("%s: its primary was replicating every write to it when last recorded, %s: the data is as new as the primary's last write that reached it\n",
		       a.meta, meta_when(d.sb.mtime, buf, sizeof(buf)));
	else
		printf("%s: data time %s\n", a.meta,
		       meta_when(d.sb.data_time, buf, sizeof(buf)));

	d.sb.role = XREPL_META_ROLE_PRIMARY;
	d.sb.flags = 0;
	d.sb.data_time = 0;
	d.sb.undo_epoch = 0;
	/* No remote yet: the device starts degraded. */
	d.sb.degraded = XREPL_META_DEGRADED_ERROR;
	/* From now on this site's data is a generation of its own. */
	if (!demoted && !d.sb.gen_bitmap) {
		r = gen_split(&d.sb);
		if (r)
			goto out;
	}
	if (dry_run) {
		printf("promote %s: would write role primary%s\n", a.meta,
		       demoted ? "" : ", a new data generation, an empty bitmap");
		role_close(&d);
		return create_device(&a);
	}
	/* A secondary's bitmap means nothing to its new primary. */
	r = demoted ? EXIT_OK : zero_bitmap(&d);
	if (!r)
		r = write_sb(&d);
	role_close(&d);
	if (r)
		return r;
	printf("%s: promoted: a primary now\n", a.meta);
	r = create_device(&a);
	if (r)
		msg("%s was promoted, but the device was not created: run the same promote again",
		    a.meta);
	return r;
out:
	role_close(&d);
	return r;
}

/*
 * The running table of name with the remote (and remote_meta) replaced:
 * "<local> <remote> <meta> <mode> [<#opts> <opts>...]".
 */
static int attach_table(const char *name, const char *remote,
			const char *remote_meta, char *table, size_t len,
			uint64_t *sectors)
{
	char params[1024], opts[1024] = "", *w[64] = { NULL }, *save = NULL, *t;
	unsigned int n = 0, i, nr_opts = 0;
	size_t o;
	int r;

	if (dev_table(name, sectors, params, sizeof(params))) {
		msg("%s: cannot read its table", name);
		return EXIT_FAILED;
	}
	for (t = strtok_r(params, " ", &save); t && n < 64;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	if (n < 4 || !strcmp(w[2], "-")) {
		msg("%s: a device without a metadata device cannot attach a remote", name);
		return EXIT_FAILED;
	}
	/* The optional arguments but remote_meta. */
	for (i = 5, o = 0; i < n; i++) {
		if (!strcmp(w[i], "remote_meta") && i + 1 < n) {
			i++;
			continue;
		}
		o += snprintf(opts + o, sizeof(opts) - o, " %s", w[i]);
		nr_opts++;
	}
	if (remote_meta) {
		o += snprintf(opts + o, sizeof(opts) - o, " remote_meta %s",
			      remote_meta);
		nr_opts += 2;
	}
	r = snprintf(table, len, "%s %s %s %s", w[0], remote, w[2], w[3]);
	if (nr_opts)
		r += snprintf(table + r, len - r, " %u%s", nr_opts, opts);
	if (r >= (int)len || o >= sizeof(opts)) {
		msg("%s: table too long", name);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/*
 * Attach remote (and remote_meta, or NULL) to the running device name.
 * Quiet on success unless verbose.  Returns an exit status.
 */
int attach_device(const char *name, const char *remote,
		  const char *remote_meta, bool verbose)
{
	struct xstatus *s = NULL;
	char table[1200];
	uint64_t sectors;
	int r;

	r = check_xrepl(name);
	if (!r)
		r = attach_table(name, remote, remote_meta, table, sizeof(table),
				 &sectors);
	if (r)
		return r;
	if (dry_run) {
		printf("reload %s: 0 %" PRIu64 " " TARGET " %s\n", name, sectors,
		       table);
		return EXIT_OK;
	}
	r = dev_reload(name, sectors, table);
	s = malloc(sizeof(*s));
	if (r || !s || read_status(name, s))
		goto out;
	/* Refused on resume (the remote site changed since the load). */
	if (st_is(s, "degraded_by", "error") || st_is(s, "degraded_by", "absent")) {
		msg("%s: the remote was not attached: degraded_by=%s peer=%s (see the kernel log)",
		    name, st_str(s, "degraded_by"), st_str(s, "peer"));
		r = EXIT_FAILED;
		goto out;
	}
	if (verbose)
		printf("%s: remote %s attached: remote=%s peer=%s\n", name,
		       remote, st_str(s, "remote"), st_str(s, "peer"));
out:
	free(s);
	return r;
}

int cmd_attach(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "remote", required_argument, NULL, 'r' },
		{ "remote-meta", required_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *remote = NULL, *remote_meta = NULL, *name;
	struct conf *conf = NULL;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "r:R:n", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': remote = optarg; break;
		case 'R': remote_meta = optarg; break;
		case 'n': dry_run = true; break;
		default: usage_error("attach: bad option");
		}
	}
	if (optind != argc - 1)
		usage_error("attach wants exactly one device name");
	name = argv[optind];
	check_name(name);
	if (remote_meta && !remote)
		usage_error("--remote-meta needs --remote");
	if (!remote) {
		conf = conf_get(name);
		if (!conf)
			usage_error("attach %s: no --remote, and no usable %s/%s.conf",
				    name, config_dir, name);
		remote = conf_args(conf)->remote;
		remote_meta = conf_args(conf)->remote_meta;
	}
	if (!strcmp(remote, "-"))
		usage_error("attach needs a remote device");
	r = attach_device(name, remote, remote_meta, true);
	free(conf);
	return r;
}

/*
 * status --meta: what a metadata device says of the data beside it, read
 * without opening it exclusively (at the remote site the source writes
 * it).  The copy's state, as the source last recorded it: "live" (every
 * write reached it), "stopped" (consistent as of its data time) or
 * "copying" (a resync was writing to it: not consistent).
 */
int meta_read_sb(const char *what, const char *path, struct xmeta_sb *sb)
{
	struct xmeta_problems *p = NULL;
	struct xmeta_dev dev;
	ssize_t n;
	int r;

	r = xmeta_open(&dev, path);
	if (r) {
		msg("%s%s: %s", what, path, strerror(-r));
		return EXIT_USAGE;
	}
	r = EXIT_FAILED;
	n = xmeta_read_block(&dev, 0);
	if (n < 512) {
		msg("%s%s: cannot read its superblock", what, path);
		goto out;
	}
	if (xmeta_is_zero(dev.buf, (size_t)n)) {
		msg("%s%s: never formatted: not an xrepl metadata device", what, path);
		goto out;
	}
	xmeta_sb_decode(dev.buf, sb);
	p = calloc(1, sizeof(*p));
	if (!p) {
		msg("out of memory");
		goto out;
	}
	xmeta_check_sb(sb, dev.buf, (size_t)n, p);
	if (p->n) {
		msg("%s%s: damaged metadata (%s; xrepl-check tells more)", what, path, p->msg[0]);
		goto out;
	}
	if (sb->version == XREPL_META_VERSION_1)
		sb->role = XREPL_META_ROLE_PRIMARY;
	r = EXIT_OK;
out:
	free(p);
	xmeta_close(&dev);
	return r;
}

int cmd_meta_status(const char *path, bool json)
{
	struct xmeta_sb sb;
	char uuid[40], t1[96], t2[96];
	const char *role, *state;
	bool consistent;
	int r;

	r = meta_read_sb("", path, &sb);
	if (r)
		return r;
	xmeta_uuid_str(sb.uuid, uuid);
	role = sb.role == XREPL_META_ROLE_SECONDARY ? "secondary" : "primary";
	consistent = sb.flags & XMETA_F_CONSISTENT;
	if (!consistent && sb.undo_epoch)
		state = "cycling";
	else if (!consistent)
		state = "copying";
	else if (sb.flags & XMETA_F_LIVE)
		state = "live";
	else
		state = "stopped";
	if (json) {
		printf("{\"path\": ");
		json_str(path);
		printf(", \"pair\": \"%s\", \"role\": \"%s\", \"demoted\": %s",
		       uuid, role, sb.flags & XMETA_F_DEMOTED ? "true" : "false");
		printf(", \"generation\": \"%016" PRIx64 "\", \"consistent\": %s, \"state\": \"%s\"",
		       sb.gen_current, consistent ? "true" : "false", state);
		printf(", \"data_time\": %" PRIu64 ", \"recorded\": %" PRIu64,
		       sb.data_time, sb.mtime);
		printf(", \"undo\": %s", sb.undo_epoch ? "true" : "false");
		printf(", \"sectors\": %" PRIu64 ", \"region_size\": %" PRIu32
		       ", \"regions\": %" PRIu64 ", \"resyncs\": %" PRIu64
		       ", \"degradations\": %" PRIu64 "}\n",
		       sb.dev_sectors, sb.region_size, sb.nr_regions,
		       sb.resync_count, sb.degrade_count);
	} else {
		printf("%s: xrepl metadata (format %" PRIu32 ")\n", path, sb.version);
		printf("  pair        %s\n", uuid);
		printf("  role        %s%s\n", role,
		       sb.flags & XMETA_F_DEMOTED ? " (demoted)" : "");
		printf("  generation  %016" PRIx64 "\n", sb.gen_current);
		if (sb.undo_epoch)
			printf("  consistent  no (a cycle is overwriting it; promote returns it to its point with the undo area)\n");
		else
			printf("  consistent  %s\n", consistent ? "yes" : "no (a resync was copying to it)");
		printf("  state       %s\n", state);
		if (sb.undo_epoch)
			printf("  data time   %s, after the undo\n", meta_when(sb.data_time, t2, sizeof(t2)));
		else if (!consistent || sb.role == XREPL_META_ROLE_PRIMARY)
			printf("  data time   -\n");
		else if (sb.flags & XMETA_F_LIVE)
			printf("  data time   as new as the primary's last write that reached it (live when last recorded, %s)\n",
			       meta_when(sb.mtime, t1, sizeof(t1)));
		else
			printf("  data time   %s\n", meta_when(sb.data_time, t2, sizeof(t2)));
		printf("  data        %" PRIu64 " sectors, %" PRIu64 " regions of %" PRIu32 " sectors\n",
		       sb.dev_sectors, sb.nr_regions, sb.region_size);
	}
	return EXIT_OK;
}
