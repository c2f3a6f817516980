/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-xrepl userspace: backup images.
 *
 * An image holds regions of one pair's device at one point: all of them
 * (a full image) or those changed between two checkpoints of the pair's
 * change tracker (an incremental or a differential).  It is a 512-byte
 * header, then one record per region in increasing order, then an end
 * record.  All fields are little-endian; every record starts on a
 * 512-byte boundary, so an image can be read and written with O_DIRECT.
 *
 *   header (512 bytes)
 *     0  magic      "xreplbk\0"
 *     8  csum       crc32c of the 512 bytes with csum zero
 *    12  version    XBK_VERSION
 *    16  flags      XBK_F_FULL: every region of the device is in it
 *    20  region_sectors  sectors per region (a power of two)
 *    24  dev_sectors     size of the device
 *    32  nr_regions      ceil(dev_sectors / region_sectors)
 *    40  uuid[16]   the pair's (its metadata superblock's)
 *    56  tracker    the change tracker's identity (0: none)
 *    64  from       checkpoint the image starts after (0 for a full)
 *    72  to         checkpoint the image is the state at
 *    80  time_ms    when the point was taken, ms since the epoch
 *    88  zero to 512
 *
 *   region record: a 512-byte record header, then sectors * 512 bytes
 *     0  tag        XBK_TAG_DATA or XBK_TAG_ZERO (no data follows)
 *     4  csum       crc32c of the record header with csum zero
 *     8  region     its number
 *    16  sectors    its length: region_sectors, less for the last region
 *    20  data_csum  crc32c of the data (0 for a zero record)
 *    24  zero to 512
 *
 *   end record (512 bytes)
 *     0  tag        XBK_TAG_END
 *     4  csum       as above
 *     8  records    region records before it
 *    16  data_sectors  sectors of data they carry
 *    24  sum_csum   crc32c over their data_csum fields (4 bytes each),
 *                  in order
 *    28  zero to 512
 *
 * Checksums are crc32c seeded with ~0, not inverted at the end (as the
 * metadata's).  Nothing here prints: callers report.
 */
#ifndef XREPL_BACKUP_H
#define XREPL_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define XBK_MAGIC		"xreplbk"	/* and a NUL: 8 bytes */
#define XBK_VERSION		1U
#define XBK_SECTOR		512U
#define XBK_F_FULL		0x1U
#define XBK_F_ALL		XBK_F_FULL
#define XBK_TAG_DATA		0x52424b58U	/* "XBKR" */
#define XBK_TAG_ZERO		0x5a424b58U	/* "XBKZ" */
#define XBK_TAG_END		0x45424b58U	/* "XBKE" */
/* The largest region the tools copy at once (the target's largest). */
#define XBK_MAX_REGION_SECTORS	(1U << 17)

struct xbk_header {
	uint32_t version;
	uint32_t flags;
	uint32_t region_sectors;
	uint64_t dev_sectors;
	uint64_t nr_regions;
	uint8_t uuid[16];
	uint64_t tracker;
	uint64_t from;
	uint64_t to;
	uint64_t time_ms;
};

struct xbk_record {
	uint32_t tag;
	uint64_t region;
	uint32_t sectors;
	uint32_t data_csum;
};

/* An image open for reading, positioned at its next record. */
struct xbk_reader {
	FILE *f;
	const char *path;
	struct xbk_header hdr;
	uint64_t records;	/* region records read so far */
	uint64_t data_sectors;
	uint32_t sum_csum;
	int64_t last_region;	/* -1 before the first record */
	bool ended;		/* the end record was read and matched */
	char why[160];		/* what is wrong, after a failure */
};

/*
 * Open path and check its header.  Returns 0; -1 with r->why set if the
 * image is not one (or not one this version reads); -2 with r->why set
 * on an I/O error.
 */
int xbk_open(struct xbk_reader *r, const char *path);
void xbk_close(struct xbk_reader *r);
/*
 * Read the next record.  Data records' data is read into buf (len bytes;
 * a record longer than that is refused), or skipped if buf is NULL, and
 * checked against its crc either way.  Returns 1 with *rec filled for a
 * region record, 0 at a valid end record (r->ended), -1 with r->why set
 * if the image is damaged or truncated, -2 on an I/O error.
 */
int xbk_next(struct xbk_reader *r, struct xbk_record *rec, void *buf,
	     size_t len);
/*
 * Read the image from its start again, as xbk_open() left it: for a
 * second pass over a file.  Returns 0, or -1 with r->why set if the
 * header read now differs from the first (the file changed), -2 if the
 * file cannot be read again.
 */
int xbk_rewind(struct xbk_reader *r);

/* Encode h as the image's 512-byte header (csum included). */
void xbk_header_encode(const struct xbk_header *h, uint8_t out[XBK_SECTOR]);
/* Encode a region or end record header (csum included). */
void xbk_record_encode(const struct xbk_record *rec, uint8_t out[XBK_SECTOR]);
void xbk_end_encode(uint64_t records, uint64_t data_sectors,
		    uint32_t sum_csum, uint8_t out[XBK_SECTOR]);

/* The uuid as 32 hex digits and a NUL. */
void xbk_uuid_str(const uint8_t uuid[16], char out[33]);

#endif
