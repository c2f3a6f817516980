// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-xrepl userspace: backup images (the format is in backup.h).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backup.h"
#include "meta.h"

/* Little-endian fields at any offset (as lib/journal.c, with endian.h). */
static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* crc32c of a 512-byte header whose csum field is at off, taken as zero. */
static uint32_t sector_csum(const uint8_t *s, unsigned int off)
{
	uint8_t copy[XBK_SECTOR];

	memcpy(copy, s, sizeof(copy));
	memset(copy + off, 0, 4);
	return xmeta_crc32c(XREPL_META_CSUM_SEED, copy, sizeof(copy));
}

void xbk_header_encode(const struct xbk_header *h, uint8_t out[XBK_SECTOR])
{
	memset(out, 0, XBK_SECTOR);
	memcpy(out, XBK_MAGIC, sizeof(XBK_MAGIC));
	put32(out + 12, h->version);
	put32(out + 16, h->flags);
	put32(out + 20, h->region_sectors);
	put64(out + 24, h->dev_sectors);
	put64(out + 32, h->nr_regions);
	memcpy(out + 40, h->uuid, 16);
	put64(out + 56, h->tracker);
	put64(out + 64, h->from);
	put64(out + 72, h->to);
	put64(out + 80, h->time_ms);
	put32(out + 8, sector_csum(out, 8));
}

void xbk_record_encode(const struct xbk_record *rec, uint8_t out[XBK_SECTOR])
{
	memset(out, 0, XBK_SECTOR);
	put32(out, rec->tag);
	put64(out + 8, rec->region);
	put32(out + 16, rec->sectors);
	put32(out + 20, rec->data_csum);
	put32(out + 4, sector_csum(out, 4));
}

void xbk_end_encode(uint64_t records, uint64_t data_sectors,
		    uint32_t sum_csum, uint8_t out[XBK_SECTOR])
{
	memset(out, 0, XBK_SECTOR);
	put32(out, XBK_TAG_END);
	put64(out + 8, records);
	put64(out + 16, data_sectors);
	put32(out + 24, sum_csum);
	put32(out + 4, sector_csum(out, 4));
}

void xbk_uuid_str(const uint8_t uuid[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", uuid[i]);
}

__attribute__((format(printf, 2, 3)))
static int bad(struct xbk_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Read exactly n bytes: 0, -1 (truncated: r->why says where) or -2. */
static int read_exact(struct xbk_reader *r, void *buf, size_t n,
		      const char *what)
{
	size_t got = fread(buf, 1, n, r->f);

	if (got == n)
		return 0;
	if (ferror(r->f)) {
		snprintf(r->why, sizeof(r->why), "read error: %s",
			 strerror(errno));
		return -2;
	}
	return bad(r, "truncated: %s ends after %zu of %zu bytes", what, got, n);
}

static int check_header(struct xbk_reader *r, const uint8_t *s)
{
	struct xbk_header *h = &r->hdr;
	uint64_t n;

	if (memcmp(s, XBK_MAGIC, sizeof(XBK_MAGIC)))
		return bad(r, "not a dm-xrepl backup image (bad magic)");
	if (get32(s + 8) != sector_csum(s, 8))
		return bad(r, "header checksum mismatch");
	h->version = get32(s + 12);
	h->flags = get32(s + 16);
	h->region_sectors = get32(s + 20);
	h->dev_sectors = get64(s + 24);
	h->nr_regions = get64(s + 32);
	memcpy(h->uuid, s + 40, 16);
	h->tracker = get64(s + 56);
	h->from = get64(s + 64);
	h->to = get64(s + 72);
	h->time_ms = get64(s + 80);
	if (h->version != XBK_VERSION)
		return bad(r, "image version %" PRIu32 " (this tool reads %u)",
			   h->version, XBK_VERSION);
	if (h->flags & ~XBK_F_ALL)
		return bad(r, "unknown flags 0x%" PRIx32, h->flags);
	if (!h->region_sectors || (h->region_sectors & (h->region_sectors - 1)) ||
	    h->region_sectors > XBK_MAX_REGION_SECTORS)
		return bad(r, "bad region size of %" PRIu32 " sectors",
			   h->region_sectors);
	/* Byte offsets into the device must fit an off_t. */
	if (h->dev_sectors > (uint64_t)INT64_MAX / XBK_SECTOR)
		return bad(r, "a device of %" PRIu64 " sectors: too large",
			   h->dev_sectors);
	n = h->dev_sectors / h->region_sectors +
	    !!(h->dev_sectors % h->region_sectors);
	if (!h->dev_sectors || h->nr_regions != n)
		return bad(r, "%" PRIu64 " regions for %" PRIu64 " sectors of %" PRIu32,
			   h->nr_regions, h->dev_sectors, h->region_sectors);
	if ((h->flags & XBK_F_FULL) ? h->from != 0 : h->from >= h->to)
		return bad(r, "bad checkpoints: from %" PRIu64 " to %" PRIu64 "%s",
			   h->from, h->to,
			   (h->flags & XBK_F_FULL) ? " in a full image" : "");
	return 0;
}

int xbk_open(struct xbk_reader *r, const char *path)
{
	uint8_t s[XBK_SECTOR];
	int ret;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->last_region = -1;
	r->sum_csum = XREPL_META_CSUM_SEED;
	r->f = fopen(path, "rb");
	if (!r->f) {
		snprintf(r->why, sizeof(r->why), "cannot open: %s",
			 strerror(errno));
		return -2;
	}
	ret = read_exact(r, s, sizeof(s), "the header");
	if (!ret)
		ret = check_header(r, s);
	if (ret) {
		fclose(r->f);
		r->f = NULL;
	}
	return ret;
}

static bool same_header(const struct xbk_header *a,
			const struct xbk_header *b)
{
	return a->version == b->version && a->flags == b->flags &&
	       a->region_sectors == b->region_sectors &&
	       a->dev_sectors == b->dev_sectors &&
	       a->nr_regions == b->nr_regions &&
	       !memcmp(a->uuid, b->uuid, sizeof(a->uuid)) &&
	       a->tracker == b->tracker && a->from == b->from &&
	       a->to == b->to && a->time_ms == b->time_ms;
}

int xbk_rewind(struct xbk_reader *r)
{
	struct xbk_header first = r->hdr;
	uint8_t s[XBK_SECTOR];
	int ret;

	if (fseek(r->f, 0, SEEK_SET)) {
		snprintf(r->why, sizeof(r->why), "cannot read it again: %s",
			 strerror(errno));
		return -2;
	}
	r->records = 0;
	r->data_sectors = 0;
	r->sum_csum = XREPL_META_CSUM_SEED;
	r->last_region = -1;
	r->ended = false;
	ret = read_exact(r, s, sizeof(s), "the header");
	if (!ret)
		ret = check_header(r, s);
	if (!ret && !same_header(&first, &r->hdr))
		ret = bad(r, "its header changed since it was checked");
	return ret;
}

void xbk_close(struct xbk_reader *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}

/* Read bytes of data into buf (or skip them if buf is NULL); *crc: theirs. */
static int read_data(struct xbk_reader *r, void *buf, uint64_t bytes,
		     uint32_t *crc)
{
	uint8_t chunk[64 * 1024];
	uint8_t *p = buf;
	int ret;

	*crc = XREPL_META_CSUM_SEED;
	while (bytes) {
		size_t n = bytes < sizeof(chunk) ? (size_t)bytes : sizeof(chunk);
		uint8_t *dst = p ? p : chunk;

		ret = read_exact(r, dst, n, "a region's data");
		if (ret)
			return ret;
		*crc = xmeta_crc32c(*crc, dst, n);
		if (p)
			p += n;
		bytes -= n;
	}
	return 0;
}

int xbk_next(struct xbk_reader *r, struct xbk_record *rec, void *buf,
	     size_t len)
{
	const struct xbk_header *h = &r->hdr;
	uint8_t s[XBK_SECTOR];
	uint64_t want;
	uint32_t crc;
	int ret;

	if (r->ended)
		return 0;
	ret = read_exact(r, s, sizeof(s), "a record header");
	if (ret)
		return ret == -1 ? bad(r, "truncated: no end record after %" PRIu64 " records",
				       r->records) : ret;
	if (get32(s + 4) != sector_csum(s, 4))
		return bad(r, "record %" PRIu64 ": header checksum mismatch",
			   r->records);
	rec->tag = get32(s);
	if (rec->tag == XBK_TAG_END) {
		if (get64(s + 8) != r->records ||
		    get64(s + 16) != r->data_sectors ||
		    get32(s + 24) != r->sum_csum)
			return bad(r, "end record: %" PRIu64 " records of %" PRIu64 " sectors, read %" PRIu64 " of %" PRIu64,
				   get64(s + 8), get64(s + 16), r->records,
				   r->data_sectors);
		if ((h->flags & XBK_F_FULL) && r->records != h->nr_regions)
			return bad(r, "a full image with %" PRIu64 " of %" PRIu64 " regions",
				   r->records, h->nr_regions);
		if (fgetc(r->f) != EOF)
			return bad(r, "data after the end record");
		if (ferror(r->f)) {
			snprintf(r->why, sizeof(r->why), "read error: %s",
				 strerror(errno));
			return -2;
		}
		r->ended = true;
		return 0;
	}
	if (rec->tag != XBK_TAG_DATA && rec->tag != XBK_TAG_ZERO)
		return bad(r, "record %" PRIu64 ": unknown tag 0x%08" PRIx32,
			   r->records, rec->tag);
	rec->region = get64(s + 8);
	rec->sectors = get32(s + 16);
	rec->data_csum = get32(s + 20);
	if (rec->region >= h->nr_regions)
		return bad(r, "record %" PRIu64 ": region %" PRIu64 " past the device's %" PRIu64,
			   r->records, rec->region, h->nr_regions);
	if ((int64_t)rec->region <= r->last_region)
		return bad(r, "record %" PRIu64 ": region %" PRIu64 " after region %" PRId64,
			   r->records, rec->region, r->last_region);
	want = h->dev_sectors - rec->region * h->region_sectors;
	if (want > h->region_sectors)
		want = h->region_sectors;
	if (rec->sectors != want)
		return bad(r, "record %" PRIu64 ": region %" PRIu64 " of %" PRIu32 " sectors, not %" PRIu64,
			   r->records, rec->region, rec->sectors, want);
	if (buf && (uint64_t)rec->sectors * XBK_SECTOR > len)
		return bad(r, "record %" PRIu64 ": region %" PRIu64 " of %" PRIu32 " sectors, more than the %zu bytes expected",
			   r->records, rec->region, rec->sectors, len);
	if (rec->tag == XBK_TAG_ZERO) {
		if (rec->data_csum)
			return bad(r, "record %" PRIu64 ": a zero record with a data checksum",
				   r->records);
		if (buf)
			memset(buf, 0, (size_t)rec->sectors * XBK_SECTOR);
	} else {
		ret = read_data(r, buf, (uint64_t)rec->sectors * XBK_SECTOR,
				&crc);
		if (ret)
			return ret;
		if (crc != rec->data_csum)
			return bad(r, "record %" PRIu64 ": region %" PRIu64 ": data checksum mismatch",
				   r->records, rec->region);
		r->data_sectors += rec->sectors;
	}
	r->sum_csum = xmeta_crc32c(r->sum_csum, s + 20, 4);
	r->records++;
	r->last_region = (int64_t)rec->region;
	return 1;
}
