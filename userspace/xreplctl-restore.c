// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl restore: apply a chain of backup images (lib/backup.h) to a
 * device: a full image, then incrementals, each starting at the
 * checkpoint the one before it ends at (a differential is an image that
 * starts at the full's).  Every image is read and checked to its end
 * record, and the chain too, before a byte is written: a chain with a
 * gap, an image of another pair, a damaged or truncated image changes
 * nothing.  The images are regular files, kept open from their check to
 * their use; one that changed meanwhile is refused when its turn comes
 * (the device is then partly written, and restore says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/backup.h"
#include "xreplctl.h"

/* An image of the chain, open from its check to its use. */
struct image {
	struct xbk_reader r;
	struct stat st;		/* as it was checked */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Open image i of the chain, read it through, and check it against the
 * chain so far (*first: the full image's header; *point: the checkpoint
 * the chain is at).  It stays open for apply_image().  Prints why and
 * returns EXIT_FAILED if it does not fit.
 */
static int check_image(struct image *im, const char *path, int i,
		       struct xbk_header *first, uint64_t *point)
{
	struct xbk_reader *r = &im->r;
	struct xbk_record rec;
	const struct xbk_header *h;
	char u1[33], u2[33];
	int ret;

	ret = xbk_open(r, path);
	if (ret) {
		fprintf(stderr, PROG ": restore: %s: %s\n", path, r->why);
		return EXIT_FAILED;
	}
	/* Read twice (checked whole, then written): a file that stays. */
	if (fstat(fileno(r->f), &im->st) || !S_ISREG(im->st.st_mode)) {
		fprintf(stderr, PROG ": restore: %s: not a regular file (each image is read twice: checked, then written)\n",
			path);
		return EXIT_FAILED;
	}
	h = &r->hdr;
	if (i == 0 && !(h->flags & XBK_F_FULL)) {
		fprintf(stderr, PROG ": restore: %s: not a full image (it starts after checkpoint %" PRIu64 "): a chain starts with one\n",
			path, h->from);
		return EXIT_FAILED;
	}
	if (i > 0) {
		xbk_uuid_str(h->uuid, u1);
		xbk_uuid_str(first->uuid, u2);
		if (h->flags & XBK_F_FULL) {
			fprintf(stderr, PROG ": restore: %s: a full image after the first: give one chain\n",
				path);
			return EXIT_FAILED;
		}
		if (memcmp(h->uuid, first->uuid, 16) ||
		    h->tracker != first->tracker ||
		    h->dev_sectors != first->dev_sectors ||
		    h->region_sectors != first->region_sectors) {
			fprintf(stderr, PROG ": restore: %s: of another device (pair %s, tracker %" PRIu64 ", %" PRIu64 " sectors in regions of %" PRIu32 "; the chain: pair %s, tracker %" PRIu64 ", %" PRIu64 " sectors in regions of %" PRIu32 ")\n",
				path, u1, h->tracker, h->dev_sectors,
				h->region_sectors, u2, first->tracker,
				first->dev_sectors, first->region_sectors);
			return EXIT_FAILED;
		}
		if (h->from != *point) {
			fprintf(stderr, PROG ": restore: %s: %s: it starts after checkpoint %" PRIu64 ", the chain is at checkpoint %" PRIu64 "\n",
				path, h->from > *point ? "a gap" : "out of order",
				h->from, *point);
			return EXIT_FAILED;
		}
	}
	while ((ret = xbk_next(r, &rec, NULL, 0)) > 0)
		;
	if (ret < 0) {
		fprintf(stderr, PROG ": restore: %s: %s\n", path, r->why);
		return EXIT_FAILED;
	}
	if (i == 0)
		*first = *h;
	*point = h->to;
	return EXIT_OK;
}

/*
 * Write image im's regions to fd, reading it again from its start.
 * buf holds len bytes (a region).  Returns EXIT_OK or EXIT_FAILED.
 */
static int apply_image(struct image *im, int fd, uint8_t *buf, size_t len,
		       uint64_t *regions, uint64_t *bytes)
{
	struct xbk_reader *r = &im->r;
	struct xbk_record rec;
	struct stat st;
	int ret;

	if (fstat(fileno(r->f), &st) || !same_file(&st, &im->st)) {
		fprintf(stderr, PROG ": restore: %s changed since it was checked\n",
			r->path);
		return EXIT_FAILED;
	}
	if (xbk_rewind(r)) {
		fprintf(stderr, PROG ": restore: %s: %s\n", r->path, r->why);
		return EXIT_FAILED;
	}
	while ((ret = xbk_next(r, &rec, buf, len)) > 0) {
		size_t n = (size_t)rec.sectors * XBK_SECTOR;
		off_t off = (off_t)(rec.region * r->hdr.region_sectors * XBK_SECTOR);
		size_t done = 0;

		while (done < n) {
			ssize_t w = pwrite(fd, buf + done, n - done,
					   off + (off_t)done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, PROG ": restore: writing region %" PRIu64 ": %s\n",
					rec.region, w < 0 ? strerror(errno) : "short write");
				return EXIT_FAILED;
			}
			done += (size_t)w;
		}
		(*regions)++;
		*bytes += n;
	}
	if (ret < 0)
		fprintf(stderr, PROG ": restore: %s changed since it was checked: %s\n",
			r->path, r->why);
	return ret < 0 ? EXIT_FAILED : EXIT_OK;
}

/* Open the device to restore: exclusively if it is a block device. */
static int open_device(const char *to)
{
	struct stat st;
	int flags = dry_run ? O_RDONLY : O_WRONLY;

	if (!stat(to, &st) && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	return open(to, flags);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct xbk_header first;
	uint64_t point = 0, regions = 0, bytes = 0;
	struct image *ims = NULL;
	const char *to = NULL;
	uint8_t *buf = NULL;
	int c, i, n, fd = -1, r = EXIT_FAILED;
	double t0, secs;
	size_t len;
	off_t size;

	optind = 0;	/* 0: getopt starts afresh (GNU) */
	while ((c = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		default: usage_error("restore: bad option");
		}
	}
	if (!to || optind >= argc)
		usage_error("restore wants --to <device> <full image> [<image>...]");
	n = argc - optind;
	ims = calloc((size_t)n, sizeof(*ims));
	if (!ims) {
		fprintf(stderr, PROG ": restore: out of memory\n");
		return EXIT_FAILED;
	}
	memset(&first, 0, sizeof(first));
	for (i = 0; i < n; i++)
		if (check_image(&ims[i], argv[optind + i], i, &first, &point))
			goto out;
	fd = open_device(to);
	if (fd < 0) {
		fprintf(stderr, PROG ": restore: %s: %s\n", to,
			errno == EBUSY ? "in use (mounted, or a device-mapper or other holder has it open)" :
			strerror(errno));
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size < first.dev_sectors * XBK_SECTOR) {
		fprintf(stderr, PROG ": restore: %s: %" PRId64 " bytes, the images are of %" PRIu64 "\n",
			to, (int64_t)size, first.dev_sectors * XBK_SECTOR);
		goto out;
	}
	if (dry_run) {
		printf("restore: %d image(s) checked, the device at checkpoint %" PRIu64 " would be written to %s\n",
		       n, point, to);
		r = EXIT_OK;
		goto out;
	}
	len = (size_t)first.region_sectors * XBK_SECTOR;
	buf = malloc(len);
	if (!buf) {
		fprintf(stderr, PROG ": restore: out of memory\n");
		goto out;
	}
	t0 = now_s();
	r = EXIT_OK;
	for (i = 0; i < n && r == EXIT_OK; i++)
		r = apply_image(&ims[i], fd, buf, len, &regions, &bytes);
	if (r == EXIT_OK && fsync(fd)) {
		fprintf(stderr, PROG ": restore: %s: %s\n", to, strerror(errno));
		r = EXIT_FAILED;
	}
	secs = now_s() - t0;
	if (close(fd) && r == EXIT_OK) {
		fprintf(stderr, PROG ": restore: %s: %s\n", to, strerror(errno));
		r = EXIT_FAILED;
	}
	fd = -1;
	if (r != EXIT_OK)
		fprintf(stderr, PROG ": restore: %s is partly written: restore it again\n",
			to);
	else
		printf("restore: %s at checkpoint %" PRIu64 ": %" PRIu64 " regions, %.1f MiB in %.1f s (%.1f MiB/s)\n",
		       to, point, regions, (double)bytes / 1048576.0, secs,
		       secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
out:
	if (fd >= 0)
		close(fd);
	for (i = 0; i < n; i++)
		xbk_close(&ims[i].r);
	free(ims);
	free(buf);
	return r;
}
