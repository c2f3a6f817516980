// SPDX-License-Identifier: GPL-2.0-only
/*
 * xrepl-check: validate a dm-xrepl metadata device offline, as the kernel
 * does when a table uses it, and report every problem found.  Exit status
 * as thin_check: 0 valid, 1 damaged, 2 usage or I/O error, 3 fresh.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/journal.h"
#include "lib/meta.h"

#define PROG	"xrepl-check"

enum {
	EXIT_VALID = 0,
	EXIT_DAMAGED = 1,
	EXIT_USAGE = 2,
	EXIT_FRESH = 3,
};

static const char usage_text[] =
"Usage: " PROG " [OPTIONS] <meta_dev>\n"
"       " PROG " --journal [--meta META_DEV] [--data-size SECTORS] [-q]\n"
"                   <journal_dev>\n"
"\n"
"Check a dm-xrepl metadata device or image file as the kernel does when a\n"
"table uses it: magic, checksum, version, flags, reserved fields, geometry,\n"
"the device size and the bits past the last region.  Every problem is\n"
"printed on its own line, naming the field.  With --journal, check a\n"
"journal device: its superblock, and the log from its tail as a replay\n"
"reads it (a torn last entry is a cut append, not damage).  Read-only.\n"
"\n"
"Options:\n"
"  -q, --quiet                print nothing; only the exit status tells\n"
"  -d, --data-size SECTORS    the metadata must record a replicated device\n"
"                             of SECTORS 512-byte sectors (the table's length)\n"
"  -r, --region-size SECTORS  the metadata must record this region size\n"
"                             (the table's region_size)\n"
"  -J, --journal              the device is a journal device\n"
"  -m, --meta META_DEV        with --journal: the journal must belong to the\n"
"                             pair of this metadata device (its uuid)\n"
"                             (--data-size with --journal: every entry must\n"
"                             lie within a device of SECTORS)\n"
"  -h, --help                 print this help and exit\n"
"  -V, --version              print the version and exit\n"
"\n"
"Exit status:\n"
"  0  valid: the kernel accepts it (with a table of the given sizes)\n"
"  1  damaged, or it does not match --data-size/--region-size\n"
"  2  usage or I/O error\n"
"  3  fresh: block 0 is all zeroes; the kernel formats it on first use\n"
"     (a device too small for it is damaged)\n";

static bool quiet;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static int parse_sectors(const char *arg, const char *what, uint64_t *v)
{
	if (xmeta_parse_u64(arg, v) || !*v) {
		fprintf(stderr, PROG ": %s wants a positive number of sectors, not '%s'\n",
			what, arg);
		return -1;
	}
	return 0;
}

/* Report problems and the verdict; returns the exit status. */
static int verdict(const char *path, const struct xmeta_problems *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		say("%s\n", p->msg[i]);
	if (p->dropped)
		say("... and %u more problems\n", p->dropped);
	say("%s: damaged: %u problem%s\n", path, p->n + p->dropped,
	    p->n + p->dropped == 1 ? "" : "s");
	return EXIT_DAMAGED;
}

/*
 * A fresh device: fine, unless the given data size shows that the kernel
 * could not format it (too small for the bitmap).
 */
static int check_fresh(struct xmeta_dev *dev, uint64_t data_sectors,
		       uint64_t region_size)
{
	struct xmeta_problems p = { 0 };
	struct xmeta_sb sb = { 0 };

	if (data_sectors) {
		sb.region_size = region_size ? (uint32_t)region_size :
			XREPL_DEFAULT_REGION_SIZE;
		sb.nr_regions = data_sectors / sb.region_size +
			(data_sectors % sb.region_size != 0);
		xmeta_check_fit(&sb, dev->size, 0, 0, &p);
		if (p.n)
			return verdict(dev->path, &p);
	}
	say("%s: fresh: block 0 is all zeroes; a table formats it on first use\n",
	    dev->path);
	return EXIT_FRESH;
}

/* The uuid of the metadata device at path into uuid; 0 or the exit status. */
static int meta_uuid(const char *path, uint8_t uuid[16])
{
	struct xmeta_problems p = { 0 };
	struct xmeta_dev dev;
	struct xmeta_sb sb;
	ssize_t got;
	int r;

	r = xmeta_open(&dev, path);
	if (r) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-r));
		return EXIT_USAGE;
	}
	got = xmeta_read_block(&dev, 0);
	if (got < 0) {
		fprintf(stderr, PROG ": %s: read error: %s\n", path,
			strerror((int)-got));
		xmeta_close(&dev);
		return EXIT_USAGE;
	}
	xmeta_sb_decode(dev.buf, &sb);
	xmeta_check_sb(&sb, dev.buf, (size_t)got, &p);
	xmeta_close(&dev);
	if (p.n) {
		fprintf(stderr, PROG ": %s: not valid metadata (%s): cannot compare the journal's pair\n",
			path, p.msg[0]);
		return EXIT_USAGE;
	}
	memcpy(uuid, sb.uuid, 16);
	return 0;
}

/* --journal: check the journal device dev (block0 its block 0). */
static int check_journal(struct xmeta_dev *dev, const uint8_t *block0,
			 const char *meta_path, uint64_t data_sectors)
{
	struct xmeta_problems p = { 0 };
	uint8_t uuid[16];
	char a[40], b[40];
	struct xjnl_walk w;
	struct xjnl_sb sb;
	int r;

	if (xmeta_is_zero(block0, XREPL_META_BLOCK_SIZE)) {
		if (dev->size < (uint64_t)XREPL_JNL_MIN_BLOCKS *
				XREPL_META_BLOCK_SIZE) {
			xmeta_problem(&p, "device: %" PRIu64 " bytes, too small for a journal (at least %u)",
				      dev->size, XREPL_JNL_MIN_BLOCKS *
				      XREPL_META_BLOCK_SIZE);
			return verdict(dev->path, &p);
		}
		say("%s: fresh: block 0 is all zeroes; a table formats it on first use\n",
		    dev->path);
		return EXIT_FRESH;
	}
	xjnl_sb_decode(block0, &sb);
	xjnl_check_sb(&sb, block0, dev->size, &p);
	if (meta_path && !p.n) {
		r = meta_uuid(meta_path, uuid);
		if (r)
			return r;
		if (memcmp(uuid, sb.uuid, sizeof(uuid)))
			xmeta_problem(&p, "uuid: %s, but %s belongs to pair %s: the journal of another pair",
				      xmeta_uuid_str(sb.uuid, a), meta_path,
				      xmeta_uuid_str(uuid, b));
	}
	if (p.n)
		return verdict(dev->path, &p);
	xjnl_walk_log(dev, &sb, data_sectors, NULL, NULL, &w);
	if (w.end == XJNL_END_IO) {
		fprintf(stderr, PROG ": %s: %s\n", dev->path, w.why);
		return EXIT_USAGE;
	}
	if (w.end == XJNL_END_DAMAGED) {
		xmeta_problem(&p, "log: entry %" PRIu64 " at block %" PRIu64 ": %s (a replay stops there)",
			      w.end_seq, w.end_block, w.why);
		return verdict(dev->path, &p);
	}
	say("%s: valid journal: %" PRIu64 " unshipped entr%s (%" PRIu64
	    " bytes) from seq %" PRIu64 " at block %" PRIu64 "%s%s\n",
	    dev->path, w.entries, w.entries == 1 ? "y" : "ies", w.bytes,
	    sb.tail_seq, sb.tail_block,
	    sb.flags & XJNL_F_BYPASSED ? ", bypassed" : "",
	    sb.flags & XJNL_F_HELD ? ", held" : "");
	if (w.end == XJNL_END_TORN)
		say("%s: entry %" PRIu64 " at block %" PRIu64 " is torn (%s): a cut append; %" PRIu64 " whole entr%s after it %s dropped with it\n",
		    dev->path, w.end_seq, w.end_block, w.why, w.after,
		    w.after == 1 ? "y" : "ies", w.after == 1 ? "is" : "are");
	return EXIT_VALID;
}

/*
 * The change tracker: every kept checkpoint's slot header, and its bitmap
 * (no bit past nr_regions).  0, or -errno on a read error.
 */
static int check_tracker(struct xmeta_dev *dev, const struct xmeta_sb *sb,
			 struct xmeta_problems *probs)
{
	uint64_t *bits = calloc((sb->nr_regions + 63) / 64, sizeof(*bits));
	const char *why = "";
	int r;

	if (!bits)
		return -ENOMEM;
	r = xmeta_trk_changes(dev, sb, sb->trk_oldest, 0, bits, &why);
	free(bits);
	if (r == -1) {
		xmeta_problem(probs, "change tracker: %s", why);
		r = 0;
	}
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "data-size", required_argument, NULL, 'd' },
		{ "region-size", required_argument, NULL, 'r' },
		{ "journal", no_argument, NULL, 'J' },
		{ "meta", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct xmeta_problems probs = { 0 };
	struct xmeta_bitmap_stats st = { 0 };
	uint64_t data_sectors = 0, region_size = 0;
	const char *meta_path = NULL;
	bool journal = false;
	uint8_t block0[XREPL_META_BLOCK_SIZE];
	struct xmeta_dev dev;
	struct xmeta_sb sb;
	const char *path, *why;
	char flags[64];
	ssize_t got;
	int c, r;

	while ((c = getopt_long(argc, argv, "qd:r:Jm:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'd':
			if (parse_sectors(optarg, "--data-size", &data_sectors))
				return EXIT_USAGE;
			break;
		case 'r':
			if (parse_sectors(optarg, "--region-size", &region_size))
				return EXIT_USAGE;
			if (region_size > XREPL_MAX_REGION_SIZE ||
			    region_size < XREPL_MIN_REGION_SIZE ||
			    (region_size & (region_size - 1))) {
				fprintf(stderr, PROG ": --region-size must be a power of two from %u to %u\n",
					XREPL_MIN_REGION_SIZE,
					XREPL_MAX_REGION_SIZE);
				return EXIT_USAGE;
			}
			break;
		case 'J':
			journal = true;
			break;
		case 'm':
			meta_path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_VALID;
		case 'V':
			printf(PROG " (dm-xrepl) metadata format %u, journal format %u\n",
			       XREPL_META_VERSION, XREPL_JNL_VERSION);
			return EXIT_VALID;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (journal ? region_size != 0 : meta_path != NULL) {
		fprintf(stderr, PROG ": %s\n\n%s", journal ?
			"--region-size is for metadata devices" :
			"--meta goes with --journal", usage_text);
		return EXIT_USAGE;
	}
	got = xmeta_open_block0(&dev, PROG, argc, argv, optind, usage_text,
				block0);
	if (got < 0)
		return EXIT_USAGE;
	path = argv[optind];
	if (journal) {
		r = check_journal(&dev, block0, meta_path, data_sectors);
		xmeta_close(&dev);
		return r;
	}

	if (dev.size >= XREPL_META_BLOCK_SIZE &&
	    xmeta_is_zero(block0, sizeof(block0))) {
		r = check_fresh(&dev, data_sectors, region_size);
		xmeta_close(&dev);
		return r;
	}

	xmeta_sb_decode(block0, &sb);
	xmeta_check_sb(&sb, block0, (size_t)got, &probs);
	/* After a bad magic nothing else is worth saying. */
	if (probs.n && memcmp(sb.magic, XREPL_META_MAGIC, XREPL_META_MAGIC_LEN)) {
		xmeta_close(&dev);
		return verdict(path, &probs);
	}
	xmeta_check_fit(&sb, dev.size, data_sectors, (uint32_t)region_size,
			&probs);
	if (xmeta_bitmap_readable(&sb, dev.size, &why)) {
		r = xmeta_scan_bitmap(&dev, sb.nr_regions, NULL, NULL, &st);
		if (r) {
			fprintf(stderr, PROG ": %s: read error in the bitmap: %s\n",
				path, strerror(-r));
			xmeta_close(&dev);
			return EXIT_USAGE;
		}
		if (st.past_end)
			xmeta_problem(&probs, "bitmap: %" PRIu64 " bit%s set past nr_regions, the first is bit %" PRIu64,
				      st.past_end, st.past_end == 1 ? "" : "s",
				      st.first_past);
	}
	/* The kept checkpoints' slots, as a table load reads them. */
	if (!probs.n && sb.trk_id) {
		r = check_tracker(&dev, &sb, &probs);
		if (r) {
			fprintf(stderr, PROG ": %s: read error in the change tracker: %s\n",
				path, strerror(-r));
			xmeta_close(&dev);
			return EXIT_USAGE;
		}
	}
	xmeta_close(&dev);
	if (probs.n)
		return verdict(path, &probs);

	say("%s: valid: %" PRIu64 " regions of %u sectors over %" PRIu64
	    " sectors, %" PRIu64 " set, generation %" PRIu64 ", flags %s\n",
	    path, sb.nr_regions, sb.region_size, sb.dev_sectors, st.set,
	    sb.generation, xmeta_flags_str(sb.flags, flags, sizeof(flags)));
	return EXIT_VALID;
}
