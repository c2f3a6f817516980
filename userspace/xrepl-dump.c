// SPDX-License-Identifier: GPL-2.0-only
/*
 * xrepl-dump: print the superblock and the dirty-region bitmap of a
 * dm-xrepl metadata device (or an image of one), as text or as JSON.
 * The output format is described in xrepl-dump(8).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump-journal.h"
#include "lib/backup.h"
#include "lib/json.h"
#include "lib/meta.h"

#define PROG	"xrepl-dump"

enum {
	EXIT_VALID = DUMP_EXIT_VALID,
	EXIT_DAMAGED = DUMP_EXIT_DAMAGED,
	EXIT_USAGE = DUMP_EXIT_USAGE,
	EXIT_FRESH = DUMP_EXIT_FRESH,
};

static const char usage_text[] =
"Usage: " PROG " [OPTIONS] <meta_dev>\n"
"       " PROG " --journal [OPTIONS] <journal_dev>\n"
"       " PROG " --backup <image>\n"
"\n"
"Print the superblock and the dirty-region bitmap of a dm-xrepl metadata\n"
"device or image file: every superblock field, then the set regions as\n"
"ranges (\"0-5 9 12-15\") and their count.  With --journal, print a\n"
"journal device: its superblock, the entries from its tail (seq, time,\n"
"op, sector+sectors, bytes, epoch, shipped or not) and where and why the\n"
"log ends.  With --backup, print a backup image: its header, one line per\n"
"region record (region, sectors, data or zero, checksum) and its end;\n"
"every checksum is checked.\n"
"Read-only; use it on a device no table is using, or expect a\n"
"snapshot of a moving target.\n"
"\n"
"Options:\n"
"  -j, --json      print one JSON object instead of text (see xrepl-dump(8))\n"
"  -s, --sectors   also print the sectors each range of regions covers\n"
"  -f, --force     dump even if the metadata is damaged (marked invalid)\n"
"  -J, --journal   the device is a journal device\n"
"  -a, --all       with --journal: also the shipped entries still on it\n"
"  -B, --backup    the file is a backup image\n"
"  -c, --checkpoints  also list the checkpoints kept: number, time (ms\n"
"                  since the epoch), name\n"
"      --since N   also print the regions written since checkpoint N\n"
"  -h, --help      print this help and exit\n"
"  -V, --version   print the version and exit\n"
"\n"
"Exit status:\n"
"  0  the metadata is valid and was dumped\n"
"  1  the metadata is damaged (dumped only with --force); with --backup:\n"
"     the image is damaged or truncated (dumped up to the damage)\n"
"  2  usage or I/O error\n"
"  3  fresh: block 0 is all zeroes (not formatted yet); nothing to dump\n";

static struct {
	bool json;
	bool sectors;
	bool force;
	bool journal;
	bool all;
	bool backup;
	bool checkpoints;
	bool since_given;
	uint64_t since;
} opt;

/*
 * Output helpers.
 */

/* The magic as a JSON string: bytes as code points, trailing NULs dropped. */
static void json_magic(const uint8_t *m)
{
	unsigned int n = XREPL_META_MAGIC_LEN, i;

	while (n && !m[n - 1])
		n--;
	putchar('"');
	for (i = 0; i < n; i++) {
		if (m[i] == '"' || m[i] == '\\')
			printf("\\%c", m[i]);
		else if (m[i] >= 0x20 && m[i] < 0x7f)
			putchar(m[i]);
		else
			printf("\\u%04x", m[i]);
	}
	putchar('"');
}

static void json_time(const char *key, uint64_t t)
{
	char buf[32];

	printf(",\n    \"%s\": %" PRIu64 ",\n    \"%s_iso\": ", key, t, key);
	if (xmeta_time_str(t, buf, sizeof(buf)))
		json_str(buf);
	else
		printf("null");
}

static void text_time(const char *key, uint64_t t)
{
	char buf[32];

	if (xmeta_time_str(t, buf, sizeof(buf)))
		printf("  %s: %s (%" PRIu64 ")\n", key, buf, t);
	else
		printf("  %s: %" PRIu64 " (out of range)\n", key, t);
}

/*
 * The superblock.
 */

static void print_sb_text(const struct xmeta_sb *sb)
{
	char buf[80];
	unsigned int i;

	printf("superblock:\n");
	printf("  magic: %s\n", xmeta_magic_str(sb->magic, buf, sizeof(buf)));
	if (sb->csum == sb->csum_computed)
		printf("  csum: 0x%08x (ok)\n", sb->csum);
	else
		printf("  csum: 0x%08x (mismatch: computed 0x%08x)\n",
		       sb->csum, sb->csum_computed);
	printf("  version: %u\n", sb->version);
	printf("  flags: 0x%08x %s\n", sb->flags,
	       xmeta_flags_str(sb->flags, buf, sizeof(buf)));
	printf("  region_size: %u\n", sb->region_size);
	printf("  dev_sectors: %" PRIu64 "\n", sb->dev_sectors);
	printf("  nr_regions: %" PRIu64 "\n", sb->nr_regions);
	printf("  bitmap_start: %" PRIu64 "\n", sb->bitmap_start);
	printf("  bitmap_blocks: %" PRIu64 "\n", sb->bitmap_blocks);
	printf("  generation: %" PRIu64 "\n", sb->generation);
	printf("  uuid: %s\n", xmeta_uuid_str(sb->uuid, buf));
	text_time("ctime", sb->ctime);
	text_time("mtime", sb->mtime);
	printf("  degraded: %u %s\n", sb->degraded,
	       xmeta_degraded_name(sb->degraded));
	printf("  reserved0: %u\n", sb->reserved0);
	printf("  gen_current: %016" PRIx64 "\n", sb->gen_current);
	printf("  gen_bitmap: %016" PRIx64 "\n", sb->gen_bitmap);
	printf("  gen_history:");
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		printf(" %016" PRIx64, sb->gen_history[i]);
	printf("\n");
	printf("  resync_count: %" PRIu64 "\n", sb->resync_count);
	printf("  degrade_count: %" PRIu64 "\n", sb->degrade_count);
	printf("  role: %u %s\n", sb->role,
	       xmeta_role_name(sb->version == XREPL_META_VERSION_1 ?
			       XREPL_META_ROLE_PRIMARY : sb->role));
	printf("  reserved1: %u\n", sb->reserved1);
	text_time("data_time", sb->data_time);
	printf("  undo_epoch: %016" PRIx64 "\n", sb->undo_epoch);
	printf("  trk_id: %016" PRIx64 "\n", sb->trk_id);
	printf("  trk_open: %" PRIu64 "\n", sb->trk_open);
	printf("  trk_oldest: %" PRIu64 "\n", sb->trk_oldest);
	printf("  trk_slots: %u\n", sb->trk_slots);
	printf("  reserved2: %u\n", sb->reserved2);
}

static void print_sb_json(const struct xmeta_sb *sb)
{
	char buf[80];
	unsigned int i;
	bool first = true;

	printf("  \"superblock\": {\n    \"magic\": ");
	json_magic(sb->magic);
	printf(",\n    \"csum\": \"0x%08x\",\n    \"csum_computed\": \"0x%08x\","
	       "\n    \"csum_ok\": %s",
	       sb->csum, sb->csum_computed,
	       sb->csum == sb->csum_computed ? "true" : "false");
	printf(",\n    \"version\": %u", sb->version);
	printf(",\n    \"flags\": %u,\n    \"flag_names\": [", sb->flags);
	for (i = 0; i < 32; i++) {
		if (!(sb->flags & (1U << i)))
			continue;
		if (!first)
			printf(", ");
		first = false;
		if (1U << i == XMETA_F_CONSISTENT)
			printf("\"consistent\"");
		else if (1U << i == XMETA_F_DEMOTED)
			printf("\"demoted\"");
		else if (1U << i == XMETA_F_LIVE)
			printf("\"live\"");
		else if (1U << i == XMETA_F_JOURNALED)
			printf("\"journaled\"");
		else
			printf("\"bit%u\"", i);
	}
	printf("]");
	printf(",\n    \"region_size\": %u", sb->region_size);
	printf(",\n    \"dev_sectors\": %" PRIu64, sb->dev_sectors);
	printf(",\n    \"nr_regions\": %" PRIu64, sb->nr_regions);
	printf(",\n    \"bitmap_start\": %" PRIu64, sb->bitmap_start);
	printf(",\n    \"bitmap_blocks\": %" PRIu64, sb->bitmap_blocks);
	printf(",\n    \"generation\": %" PRIu64, sb->generation);
	printf(",\n    \"uuid\": \"%s\"", xmeta_uuid_str(sb->uuid, buf));
	json_time("ctime", sb->ctime);
	json_time("mtime", sb->mtime);
	printf(",\n    \"degraded\": %u,\n    \"degraded_name\": \"%s\"",
	       sb->degraded, xmeta_degraded_name(sb->degraded));
	printf(",\n    \"reserved0\": %u", sb->reserved0);
	printf(",\n    \"gen_current\": \"%016" PRIx64 "\"", sb->gen_current);
	printf(",\n    \"gen_bitmap\": \"%016" PRIx64 "\"", sb->gen_bitmap);
	printf(",\n    \"gen_history\": [");
	for (i = 0; i < XREPL_META_GEN_HISTORY; i++)
		printf("%s\"%016" PRIx64 "\"", i ? ", " : "",
		       sb->gen_history[i]);
	printf("]");
	printf(",\n    \"resync_count\": %" PRIu64, sb->resync_count);
	printf(",\n    \"degrade_count\": %" PRIu64, sb->degrade_count);
	printf(",\n    \"role\": %u,\n    \"role_name\": \"%s\"", sb->role,
	       xmeta_role_name(sb->version == XREPL_META_VERSION_1 ?
			       XREPL_META_ROLE_PRIMARY : sb->role));
	printf(",\n    \"reserved1\": %u", sb->reserved1);
	json_time("data_time", sb->data_time);
	printf(",\n    \"undo_epoch\": \"%016" PRIx64 "\"", sb->undo_epoch);
	printf(",\n    \"trk_id\": \"%016" PRIx64 "\"", sb->trk_id);
	printf(",\n    \"trk_open\": %" PRIu64, sb->trk_open);
	printf(",\n    \"trk_oldest\": %" PRIu64, sb->trk_oldest);
	printf(",\n    \"trk_slots\": %u", sb->trk_slots);
	printf(",\n    \"reserved2\": %u", sb->reserved2);
	printf("\n  }");
}

/*
 * The bitmap, as ranges of regions or of the sectors they cover.
 */

struct range_out {
	const struct xmeta_sb *sb;
	bool sectors;		/* print sectors, not regions */
	uint64_t n;		/* ranges printed */
};

static int print_range(void *ctx, uint64_t first, uint64_t last)
{
	struct range_out *o = ctx;
	uint64_t rs = o->sb->region_size;

	if (o->sectors) {
		first *= rs;
		last = (last + 1) * rs - 1;
		/* The last region may be short. */
		if (last >= o->sb->dev_sectors)
			last = o->sb->dev_sectors - 1;
	}
	if (opt.json)
		printf("%s[%" PRIu64 ", %" PRIu64 "]", o->n ? ", " : "",
		       first, last);
	else if (first == last)
		printf(" %" PRIu64, first);
	else
		printf(" %" PRIu64 "-%" PRIu64, first, last);
	o->n++;
	return 0;
}

static int print_bitmap(struct xmeta_dev *dev, const struct xmeta_sb *sb,
			bool sectors, struct xmeta_bitmap_stats *st)
{
	struct range_out o = { .sb = sb, .sectors = sectors };
	int r;

	if (opt.json)
		printf(",\n  \"%s\": [", sectors ? "dirty_sectors" : "dirty_regions");
	else
		printf("%s:", sectors ? "dirty_sectors" : "dirty_regions");
	r = xmeta_scan_bitmap(dev, sb->nr_regions, print_range, &o, st);
	if (opt.json)
		printf("]");
	else
		printf("%s\n", o.n ? "" : " none");
	return r;
}

/* --checkpoints: the checkpoints kept, oldest first.  0, or -1 if damaged. */
static int print_checkpoints(struct xmeta_dev *dev, const struct xmeta_sb *sb)
{
	struct xmeta_trk_slot slot;
	const char *why = "";
	uint64_t era;
	ssize_t got;

	if (sb->trk_id && (sb->trk_slots < XREPL_TRK_MIN_SLOTS ||
			   sb->trk_slots > XREPL_TRK_MAX_SLOTS ||
			   sb->trk_open > XREPL_TRK_MAX_ERA ||
			   sb->trk_oldest > sb->trk_open)) {
		fflush(stdout);
		fprintf(stderr, PROG ": %s: the change tracker's superblock fields are damaged\n",
			dev->path);
		return -1;
	}
	if (opt.json)
		printf(",\n  \"checkpoints\": [");
	else
		printf("checkpoints:%s\n", sb->trk_id ? "" : " none");
	for (era = sb->trk_oldest; sb->trk_id && era <= sb->trk_open; era++) {
		got = xmeta_read_block(dev, xmeta_trk_slot_block(sb, era));
		if (got < (ssize_t)XREPL_META_BLOCK_SIZE ||
		    xmeta_trk_hdr(dev->buf, sb, era, &slot, &why)) {
			fflush(stdout);
			fprintf(stderr, PROG ": %s: checkpoint %" PRIu64 ": %s\n",
				dev->path, era, got < 0 ? strerror((int)-got) :
				got < (ssize_t)XREPL_META_BLOCK_SIZE ?
				"the device ends inside its slot" : why);
			return -1;
		}
		if (opt.json)
			printf("%s{\"checkpoint\": %" PRIu64 ", \"time_ms\": %" PRIu64
			       ", \"name\": \"%s\"}", era > sb->trk_oldest ? ", " : "",
			       era, slot.time_ms, slot.name);
		else
			printf("  %" PRIu64 " %" PRIu64 " %s%s\n", era,
			       slot.time_ms, slot.name,
			       era == sb->trk_open ? " (open)" : "");
	}
	if (opt.json)
		printf("]");
	return 0;
}

static bool bit_set(const uint64_t *bits, uint64_t r)
{
	return bits[r / 64] >> (r % 64) & 1;
}

/*
 * --since N: the regions written since checkpoint N, to now.  0, -1 if
 * damaged or not kept, -errno on a read error.
 */
static int print_changes(struct xmeta_dev *dev, const struct xmeta_sb *sb,
			 uint64_t since)
{
	struct range_out o = { .sb = sb };
	size_t words = (sb->nr_regions + 63) / 64;
	const char *why = "";
	uint64_t *bits, n = 0, r, first;
	int ret;

	bits = calloc(words ? words : 1, sizeof(*bits));
	if (!bits)
		return -ENOMEM;
	ret = xmeta_trk_changes(dev, sb, since, 0, bits, &why);
	if (ret) {
		free(bits);
		if (ret == -1) {
			fflush(stdout);
			fprintf(stderr, PROG ": %s: changes since checkpoint %" PRIu64 ": %s\n",
				dev->path, since, why);
		}
		return ret;
	}
	if (opt.json)
		printf(",\n  \"changed_regions\": [");
	else
		printf("changed_regions:");
	for (r = 0; r < sb->nr_regions; r++) {
		if (!bit_set(bits, r))
			continue;
		first = r;
		while (r + 1 < sb->nr_regions && bit_set(bits, r + 1))
			r++;
		n += r - first + 1;
		print_range(&o, first, r);
	}
	if (opt.json)
		printf("],\n  \"changed_since\": %" PRIu64
		       ",\n  \"changed_count\": %" PRIu64, since, n);
	else
		printf("%s\nchanged_count: %" PRIu64 " of %" PRIu64
		       " since checkpoint %" PRIu64 "\n", o.n ? "" : " none",
		       n, sb->nr_regions, since);
	free(bits);
	return 0;
}

/* --backup: print image path and check it to its end. */
static int dump_backup(const char *path)
{
	struct xbk_reader r;
	struct xbk_record rec;
	char uuid[33];
	int ret;

	ret = xbk_open(&r, path);
	if (ret) {
		fprintf(stderr, PROG ": %s: %s\n", path, r.why);
		return ret == -1 ? EXIT_DAMAGED : EXIT_USAGE;
	}
	xbk_uuid_str(r.hdr.uuid, uuid);
	printf("image: %s\nversion: %" PRIu32 "\nkind: %s\npair: %s\ntracker: %" PRIu64
	       "\nfrom: %" PRIu64 "\nto: %" PRIu64 "\ntime_ms: %" PRIu64
	       "\nregion_size: %" PRIu32 "\ndev_sectors: %" PRIu64 "\nnr_regions: %" PRIu64 "\n",
	       path, r.hdr.version, r.hdr.flags & XBK_F_FULL ? "full" : "changes",
	       uuid, r.hdr.tracker, r.hdr.from, r.hdr.to, r.hdr.time_ms,
	       r.hdr.region_sectors, r.hdr.dev_sectors, r.hdr.nr_regions);
	while ((ret = xbk_next(&r, &rec, NULL, 0)) > 0)
		printf("region %" PRIu64 " sectors %" PRIu32 " %s crc %08" PRIx32 "\n",
		       rec.region, rec.sectors,
		       rec.tag == XBK_TAG_ZERO ? "zero" : "data", rec.data_csum);
	if (ret < 0) {
		printf("damaged: %s\n", r.why);
		xbk_close(&r);
		return ret == -1 ? EXIT_DAMAGED : EXIT_USAGE;
	}
	printf("end: %" PRIu64 " records, %" PRIu64 " data sectors\n", r.records,
	       r.data_sectors);
	xbk_close(&r);
	return EXIT_VALID;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "sectors", no_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "journal", no_argument, NULL, 'J' },
		{ "all", no_argument, NULL, 'a' },
		{ "backup", no_argument, NULL, 'B' },
		{ "checkpoints", no_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct xmeta_problems probs = { 0 };
	struct xmeta_bitmap_stats st = { 0 };
	struct xmeta_dev dev;
	struct xmeta_sb sb;
	uint8_t block0[XREPL_META_BLOCK_SIZE];
	const char *path, *why = NULL;
	bool readable;
	ssize_t got;
	unsigned int i;
	int c, r;

	while ((c = getopt_long(argc, argv, "jsfJaBcS:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 's':
			opt.sectors = true;
			break;
		case 'f':
			opt.force = true;
			break;
		case 'J':
			opt.journal = true;
			break;
		case 'a':
			opt.all = true;
			break;
		case 'B':
			opt.backup = true;
			break;
		case 'c':
			opt.checkpoints = true;
			break;
		case 'S':
			if (xmeta_parse_u64(optarg, &opt.since)) {
				fprintf(stderr, PROG ": --since: '%s' is not a checkpoint number\n\n%s",
					optarg, usage_text);
				return EXIT_USAGE;
			}
			opt.since_given = true;
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
	if ((opt.all && !opt.journal) || (opt.journal && opt.sectors)) {
		fprintf(stderr, PROG ": %s\n\n%s", opt.all && !opt.journal ?
			"--all goes with --journal" :
			"--sectors is for metadata devices, not --journal",
			usage_text);
		return EXIT_USAGE;
	}
	if (opt.journal && (opt.checkpoints || opt.since_given)) {
		fprintf(stderr, PROG ": --checkpoints and --since are for metadata devices\n\n%s",
			usage_text);
		return EXIT_USAGE;
	}
	if (opt.backup) {
		if (opt.json || opt.sectors || opt.force || opt.journal ||
		    opt.all || opt.checkpoints || opt.since_given ||
		    optind != argc - 1) {
			fprintf(stderr, PROG ": --backup takes one image and no other option\n\n%s",
				usage_text);
			return EXIT_USAGE;
		}
		return dump_backup(argv[optind]);
	}
	got = xmeta_open_block0(&dev, PROG, argc, argv, optind, usage_text,
				block0);
	if (got < 0)
		return EXIT_USAGE;
	path = argv[optind];

	if (dev.size >= XREPL_META_BLOCK_SIZE &&
	    xmeta_is_zero(block0, sizeof(block0))) {
		if (opt.json) {
			printf("{\n  \"device\": ");
			json_str(path);
			printf(",\n  \"device_bytes\": %" PRIu64
			       ",\n  \"state\": \"fresh\"\n}\n", dev.size);
		} else {
			printf("device: %s (%" PRIu64 " bytes)\nstate: fresh\n",
			       path, dev.size);
		}
		fprintf(stderr, PROG ": %s: fresh: block 0 is all zeroes (not formatted yet)\n",
			path);
		xmeta_close(&dev);
		return EXIT_FRESH;
	}

	if (opt.journal) {
		r = dump_journal(&dev, path, block0, opt.json, opt.all,
				 opt.force);
		xmeta_close(&dev);
		return r;
	}
	xmeta_sb_decode(block0, &sb);
	xmeta_check_sb(&sb, block0, (size_t)got, &probs);
	xmeta_check_fit(&sb, dev.size, 0, 0, &probs);
	readable = xmeta_bitmap_readable(&sb, dev.size, &why);
	if (readable) {
		r = xmeta_scan_tail(&dev, sb.nr_regions, &st);
		if (r) {
			fprintf(stderr, PROG ": %s: read error: %s\n", path,
				strerror(-r));
			xmeta_close(&dev);
			return EXIT_USAGE;
		}
		if (st.past_end)
			xmeta_problem(&probs, "bitmap: %" PRIu64 " bit%s set past nr_regions, the first is bit %" PRIu64,
				      st.past_end, st.past_end == 1 ? "" : "s",
				      st.first_past);
	}

	if (probs.n && !opt.force) {
		for (i = 0; i < probs.n; i++)
			fprintf(stderr, PROG ": %s: %s\n", path, probs.msg[i]);
		fprintf(stderr, PROG ": %s: damaged metadata; --force dumps it anyway\n",
			path);
		xmeta_close(&dev);
		return EXIT_DAMAGED;
	}

	if (opt.json) {
		printf("{\n  \"device\": ");
		json_str(path);
		printf(",\n  \"device_bytes\": %" PRIu64, dev.size);
		printf(",\n  \"state\": \"%s\",\n  \"problems\": [",
		       probs.n ? "damaged" : "valid");
		for (i = 0; i < probs.n; i++) {
			printf("%s\n    ", i ? "," : "");
			json_str(probs.msg[i]);
		}
		printf("%s],\n", probs.n ? "\n  " : "");
		print_sb_json(&sb);
	} else {
		printf("device: %s (%" PRIu64 " bytes)\n", path, dev.size);
		printf("state: %s\n", probs.n ? "damaged" : "valid");
		for (i = 0; i < probs.n; i++)
			printf("problem: %s\n", probs.msg[i]);
		print_sb_text(&sb);
	}

	if (!readable) {
		if (opt.json) {
			printf(",\n  \"dirty_regions\": null,\n  \"dirty_count\": null,\n  \"bits_past_end\": null,\n  \"bitmap_error\": ");
			json_str(why);
			printf("\n}\n");
		} else {
			printf("dirty_regions: - (not read: %s)\n", why);
		}
		xmeta_close(&dev);
		return EXIT_DAMAGED;
	}

	r = print_bitmap(&dev, &sb, false, &st);
	if (!r && opt.json)
		printf(",\n  \"dirty_count\": %" PRIu64
		       ",\n  \"bits_past_end\": %" PRIu64, st.set, st.past_end);
	else if (!r)
		printf("dirty_count: %" PRIu64 " of %" PRIu64 "\n",
		       st.set, sb.nr_regions);
	if (!r && opt.sectors)
		r = print_bitmap(&dev, &sb, true, &st);
	if (!r && opt.checkpoints && print_checkpoints(&dev, &sb)) {
		xmeta_close(&dev);
		return EXIT_DAMAGED;
	}
	if (!r && opt.since_given) {
		r = print_changes(&dev, &sb, opt.since);
		if (r == -1) {
			xmeta_close(&dev);
			return EXIT_DAMAGED;
		}
	}
	if (opt.json)
		printf("\n}\n");
	xmeta_close(&dev);
	if (r) {
		fflush(stdout);
		fprintf(stderr, PROG ": %s: read error in the bitmap: %s\n",
			path, strerror(-r));
		return EXIT_USAGE;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return probs.n ? EXIT_DAMAGED : EXIT_VALID;
}
