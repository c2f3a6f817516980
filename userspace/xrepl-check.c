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
"\n"
"Check a dm-xrepl metadata device or image file as the kernel does when a\n"
"table uses it: magic, checksum, version, flags, reserved fields, geometry,\n"
"the device size and the bits past the last region.  Every problem is\n"
"printed on its own line, naming the field.  Read-only.\n"
"\n"
"Options:\n"
"  -q, --quiet                print nothing; only the exit status tells\n"
"  -d, --data-size SECTORS    the metadata must record a replicated device\n"
"                             of SECTORS 512-byte sectors (the table's length)\n"
"  -r, --region-size SECTORS  the metadata must record this region size\n"
"                             (the table's region_size)\n"
"  -h, --help                 print this help and exit\n"
"  -V, --version              print the version and exit\n"
"\n"
"Exit status:\n"
"  0  valid: the kernel accepts it (with a table of the given sizes)\n"
"  1  damaged, or it does not match --data-size/--region-size\n"
"  2  usage or I/O error\n"
"  3  fresh: block 0 is all zeroes; the kernel formats it on first use\n";

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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "data-size", required_argument, NULL, 'd' },
		{ "region-size", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct xmeta_problems probs = { 0 };
	struct xmeta_bitmap_stats st = { 0 };
	uint64_t data_sectors = 0, region_size = 0;
	uint8_t block0[XREPL_META_BLOCK_SIZE];
	struct xmeta_dev dev;
	struct xmeta_sb sb;
	const char *path, *why;
	char flags[64];
	ssize_t got;
	int c, r;

	while ((c = getopt_long(argc, argv, "qd:r:hV", longopts, NULL)) != -1) {
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
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_VALID;
		case 'V':
			printf(PROG " (dm-xrepl) metadata format %u\n",
			       XREPL_META_VERSION);
			return EXIT_VALID;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	got = xmeta_open_block0(&dev, PROG, argc, argv, optind, usage_text,
				block0);
	if (got < 0)
		return EXIT_USAGE;
	path = argv[optind];

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
	xmeta_close(&dev);
	if (probs.n)
		return verdict(path, &probs);

	say("%s: valid: %" PRIu64 " regions of %u sectors over %" PRIu64
	    " sectors, %" PRIu64 " set, generation %" PRIu64 ", flags %s\n",
	    path, sb.nr_regions, sb.region_size, sb.dev_sectors, st.set,
	    sb.generation, xmeta_flags_str(sb.flags, flags, sizeof(flags)));
	return EXIT_VALID;
}
