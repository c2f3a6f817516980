// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the undo area of periodic mode, at the remote site
 * (Documentation/dm-xrepl.rst, "Periodic mode").  While a cycle overwrites
 * the copy, the metadata names an undo epoch, and the undo area holds the
 * content, as of the copy's point in time, of every region the cycle
 * overwrote.  A promote writes those regions back first: the copy is then
 * the image as of its point again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/meta.h"
#include "xreplctl.h"

#define BS	XREPL_META_BLOCK_SIZE

/*
 * The slots of sb's undo epoch on the metadata device fd (path, of
 * meta_sectors): into *slots (malloc'ed, *n of them).  Returns an exit
 * status, with a message; a damaged slot of the epoch, or a region saved
 * twice, fails it.
 */
int undo_scan(int fd, const char *path, const struct xmeta_sb *sb,
	      uint64_t meta_sectors, struct xmeta_undo_slot **slots,
	      size_t *n)
{
	uint64_t nr = xrepl_undo_slots(sb->nr_regions, sb->region_size,
				       meta_sectors);
	struct xmeta_undo_slot *v = NULL, s;
	uint8_t *seen = NULL;
	void *blk = NULL;
	uint64_t i;
	int r = EXIT_FAILED;

	*slots = NULL;
	*n = 0;
	if (posix_memalign(&blk, BS, BS) ||
	    !(seen = calloc(sb->nr_regions / 8 + 1, 1)) ||
	    (nr && !(v = calloc(nr, sizeof(*v))))) {
		msg("out of memory");
		goto out;
	}
	for (i = 0; i < nr; i++) {
		off_t off = (off_t)(xmeta_undo_slot_block(sb, i) * BS);
		int h;

		errno = 0;
		if (pread(fd, blk, BS, off) != BS) {
			msg("%s: cannot read undo slot %" PRIu64 ": %s", path, i,
			    errno ? strerror(errno) : "short read");
			goto out;
		}
		h = xmeta_undo_hdr(blk, sb, i, &s);
		if (h > 0)
			continue;
		if (h < 0) {
			msg("%s: undo slot %" PRIu64 " of the epoch is damaged", path, i);
			goto out;
		}
		if (seen[s.region / 8] & (1U << (s.region % 8))) {
			size_t j;

			/*
			 * A save that failed after its header landed is made
			 * again: the same data (nothing overwrote the region
			 * meanwhile).  Different data is damage.
			 */
			for (j = 0; j < *n && v[j].region != s.region; j++)
				;
			if (j < *n && v[j].data_csum == s.data_csum &&
			    v[j].sectors == s.sectors)
				continue;
			msg("%s: undo slot %" PRIu64 ": region %" PRIu64 " saved twice, with different data",
			    path, i, s.region);
			goto out;
		}
		seen[s.region / 8] |= 1U << (s.region % 8);
		v[(*n)++] = s;
	}
	*slots = v;
	v = NULL;
	r = EXIT_OK;
out:
	free(v);
	free(seen);
	free(blk);
	return r;
}

/*
 * Write the regions of the undo epoch of sb (metadata device fd, path)
 * back to the data device local, and flush it.  *regions: how many.
 * Without write, only checks them.  Returns an exit status, with a
 * message; nothing is written unless every slot checked.
 */
int undo_rollback(int fd, const char *path, const struct xmeta_sb *sb,
		  const char *local, bool write, uint64_t *regions)
{
	uint64_t meta_sectors, data_bytes = (uint64_t)sb->region_size * 512;
	size_t n = 0, i, pass;
	struct xmeta_undo_slot *slots = NULL;
	struct stat st;
	void *data = NULL;
	int lfd = -1, r;

	*regions = 0;
	if (dev_sectors(path, &meta_sectors))
		return EXIT_FAILED;
	r = undo_scan(fd, path, sb, meta_sectors, &slots, &n);
	if (r)
		return r;
	r = EXIT_FAILED;
	data_bytes = (data_bytes + BS - 1) / BS * BS;
	if (posix_memalign(&data, BS, data_bytes)) {
		data = NULL;
		msg("out of memory");
		goto out;
	}
	if (write) {
		int flags = O_RDWR | O_CLOEXEC;

		if (!stat(local, &st) && S_ISBLK(st.st_mode))
			flags |= O_DIRECT | O_EXCL;
		lfd = open(local, flags);
		if (lfd < 0) {
			msg("%s: %s", local, errno == EBUSY ?
			    "in use (remove what uses it first)" : strerror(errno));
			goto out;
		}
	}
	/* First every slot's data is checked; then it is written back. */
	for (pass = 0; pass < (write ? 2U : 1U); pass++) {
		for (i = 0; i < n; i++) {
			const struct xmeta_undo_slot *s = &slots[i];
			size_t len = (size_t)s->sectors * 512;
			off_t off = (off_t)((xmeta_undo_slot_block(sb, s->slot) + 1) * BS);

			errno = 0;
			if (pread(fd, data, data_bytes, off) != (ssize_t)data_bytes) {
				msg("%s: cannot read undo slot %" PRIu64 ": %s", path,
				    s->slot, errno ? strerror(errno) : "short read");
				goto out;
			}
			if (xmeta_crc32c(XREPL_META_CSUM_SEED, data, len) != s->data_csum) {
				msg("%s: undo slot %" PRIu64 " (region %" PRIu64 "): data checksum mismatch",
				    path, s->slot, s->region);
				goto out;
			}
			errno = 0;
			if (pass && pwrite(lfd, data, len,
					   (off_t)(s->region * sb->region_size * 512)) !=
				    (ssize_t)len) {
				msg("%s: cannot write region %" PRIu64 ": %s", local,
				    s->region, errno ? strerror(errno) : "short write");
				goto out;
			}
		}
	}
	if (lfd >= 0 && fsync(lfd)) {
		msg("%s: cannot flush: %s", local, strerror(errno));
		goto out;
	}
	*regions = n;
	r = EXIT_OK;
out:
	if (lfd >= 0)
		close(lfd);
	free(data);
	free(slots);
	return r;
}
