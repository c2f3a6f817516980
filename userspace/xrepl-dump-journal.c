// SPDX-License-Identifier: GPL-2.0-only
/*
 * xrepl-dump --journal: print a journal device's superblock and its
 * entries (xrepl-dump.c parses the options and opens the device).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump-journal.h"
#include "lib/json.h"

#define PROG	"xrepl-dump"

struct printer {
	bool json;
	bool shipped;		/* the entries before the tail */
	unsigned int n;		/* entries printed */
};

static void time_ns_str(uint64_t ns, char *buf, size_t len)
{
	char secs[32];

	if (xmeta_time_str(ns / 1000000000U, secs, sizeof(secs))) {
		/* "...:SSZ" becomes "...:SS.nnnnnnnnnZ". */
		secs[strlen(secs) - 1] = '\0';
		snprintf(buf, len, "%s.%09" PRIu64 "Z", secs,
			 ns % 1000000000U);
	} else {
		snprintf(buf, len, "out-of-range");
	}
}

static int print_entry(void *ctx, const struct xjnl_entry *e)
{
	struct printer *pr = ctx;
	char t[64], op[16], fl[64];

	time_ns_str(e->time_ns, t, sizeof(t));
	if (pr->json) {
		printf("%s\n    {\"seq\": %" PRIu64 ", \"block\": %" PRIu64
		       ", \"time_ns\": %" PRIu64 ", \"time\": \"%s\", \"op\": \"%s\", \"op_flags\": \"%s\""
		       ", \"sector\": %" PRIu64 ", \"nr_sectors\": %" PRIu32
		       ", \"bytes\": %" PRIu32 ", \"epoch\": %" PRIu64
		       ", \"incarnation\": %" PRIu64 ", \"shipped\": %s}",
		       pr->n ? "," : "", e->seq, e->block, e->time_ns, t,
		       xjnl_op_name(e->op, op, sizeof(op)),
		       xjnl_op_flags_str(e->op_flags, fl, sizeof(fl)),
		       e->sector, e->nr_sectors, e->bytes, e->epoch,
		       e->incarnation, pr->shipped ? "true" : "false");
	} else {
		printf("  %" PRIu64 " %s %s %" PRIu64 "+%" PRIu32
		       " bytes=%" PRIu32 " epoch=%" PRIu64 " flags=%s inc=%"
		       PRIu64 " block=%" PRIu64 " %s\n",
		       e->seq, t, xjnl_op_name(e->op, op, sizeof(op)),
		       e->sector, e->nr_sectors, e->bytes, e->epoch,
		       xjnl_op_flags_str(e->op_flags, fl, sizeof(fl)),
		       e->incarnation, e->block,
		       pr->shipped ? "shipped" : "unshipped");
	}
	pr->n++;
	return 0;
}

static void print_sb(const struct xjnl_sb *sb, bool json)
{
	char uuid[40], magic[64], ct[32], mt[32], ut[64], fl[32];
	const char *ctp = xmeta_time_str(sb->ctime, ct, sizeof(ct));
	const char *mtp = xmeta_time_str(sb->mtime, mt, sizeof(mt));

	if (sb->ship_until_ms > UINT64_MAX / 1000000U)
		snprintf(ut, sizeof(ut), "out-of-range");
	else if (sb->ship_until_ms)
		time_ns_str(sb->ship_until_ms * 1000000U, ut, sizeof(ut));
	else
		snprintf(ut, sizeof(ut), "none");

	xmeta_uuid_str(sb->uuid, uuid);
	xmeta_magic_str(sb->magic, magic, sizeof(magic));
	if (json) {
		printf("  \"superblock\": {\n    \"magic\": ");
		json_str(magic);
		printf(",\n    \"csum\": %" PRIu32 ",\n    \"csum_ok\": %s"
		       ",\n    \"version\": %" PRIu32
		       ",\n    \"flags\": %" PRIu32 ",\n    \"bypassed\": %s"
		       ",\n    \"held\": %s"
		       ",\n    \"block_size\": %" PRIu32
		       ",\n    \"uuid\": \"%s\",\n    \"journal_id\": \"%016" PRIx64 "\""
		       ",\n    \"nr_blocks\": %" PRIu64
		       ",\n    \"tail_seq\": %" PRIu64
		       ",\n    \"tail_block\": %" PRIu64
		       ",\n    \"generation\": %" PRIu64
		       ",\n    \"ctime\": %" PRIu64 ",\n    \"mtime\": %" PRIu64
		       ",\n    \"incarnation\": %" PRIu64
		       ",\n    \"tail_incarnation\": %" PRIu64
		       ",\n    \"durable_seq\": %" PRIu64
		       ",\n    \"ship_until_ms\": %" PRIu64
		       ",\n    \"delay_ms\": %" PRIu32
		       ",\n    \"sent_ms\": %" PRIu64
		       "\n  }",
		       sb->csum, sb->csum == sb->csum_computed ? "true" : "false",
		       sb->version, sb->flags,
		       sb->flags & XJNL_F_BYPASSED ? "true" : "false",
		       sb->flags & XJNL_F_HELD ? "true" : "false",
		       sb->block_size, uuid, sb->journal_id, sb->nr_blocks,
		       sb->tail_seq, sb->tail_block, sb->generation, sb->ctime,
		       sb->mtime, sb->incarnation, sb->tail_incarnation,
		       sb->durable_seq, sb->ship_until_ms, sb->delay_ms,
		       sb->sent_ms);
		return;
	}
	printf("superblock:\n  magic: %s\n", magic);
	if (sb->csum == sb->csum_computed)
		printf("  csum: 0x%08" PRIx32 " (ok)\n", sb->csum);
	else
		printf("  csum: 0x%08" PRIx32 " (mismatch: computed 0x%08" PRIx32 ")\n",
		       sb->csum, sb->csum_computed);
	printf("  version: %" PRIu32 "\n", sb->version);
	printf("  flags: 0x%08" PRIx32 " %s\n", sb->flags,
	       xjnl_sb_flags_str(sb->flags, fl, sizeof(fl)));
	printf("  block_size: %" PRIu32 "\n", sb->block_size);
	printf("  uuid: %s\n", uuid);
	printf("  journal_id: %016" PRIx64 "\n", sb->journal_id);
	printf("  nr_blocks: %" PRIu64 "\n", sb->nr_blocks);
	printf("  tail_seq: %" PRIu64 "\n", sb->tail_seq);
	printf("  tail_block: %" PRIu64 "\n", sb->tail_block);
	printf("  generation: %" PRIu64 "\n", sb->generation);
	printf("  ctime: %s (%" PRIu64 ")\n", ctp ? ctp : "out of range",
	       sb->ctime);
	printf("  mtime: %s (%" PRIu64 ")\n", mtp ? mtp : "out of range",
	       sb->mtime);
	printf("  incarnation: %" PRIu64 "\n", sb->incarnation);
	printf("  tail_incarnation: %" PRIu64 "\n", sb->tail_incarnation);
	printf("  durable_seq: %" PRIu64 "\n", sb->durable_seq);
	printf("  ship_until: %s (%" PRIu64 " ms)\n", ut, sb->ship_until_ms);
	printf("  delay_ms: %" PRIu32 "\n", sb->delay_ms);
	printf("  sent_ms: %" PRIu64 "\n", sb->sent_ms);
}

int dump_journal(struct xmeta_dev *dev, const char *path,
		 const uint8_t *block0, bool json, bool all, bool force)
{
	struct xmeta_problems probs = { 0 };
	struct printer pr = { .json = json };
	struct xjnl_walk w;
	struct xjnl_sb sb;
	unsigned int i;
	int r;

	xjnl_sb_decode(block0, &sb);
	xjnl_check_sb(&sb, block0, dev->size, &probs);
	if (probs.n && !force) {
		for (i = 0; i < probs.n; i++)
			fprintf(stderr, PROG ": %s: %s\n", path, probs.msg[i]);
		fprintf(stderr, PROG ": %s: damaged journal; --force dumps it anyway\n",
			path);
		return DUMP_EXIT_DAMAGED;
	}
	/* A superblock this bad gives no log to walk. */
	if (probs.n && (sb.tail_block < XREPL_JNL_LOG_START ||
			sb.tail_block >= sb.nr_blocks ||
			sb.nr_blocks > dev->size / XREPL_META_BLOCK_SIZE))
		sb.nr_blocks = 0;

	if (json) {
		printf("{\n  \"device\": ");
		json_str(path);
		printf(",\n  \"device_bytes\": %" PRIu64 ",\n  \"problems\": [",
		       dev->size);
		for (i = 0; i < probs.n; i++) {
			printf("%s\n    ", i ? "," : "");
			json_str(probs.msg[i]);
		}
		printf("%s],\n", probs.n ? "\n  " : "");
	} else {
		printf("device: %s (%" PRIu64 " bytes)\n", path, dev->size);
		for (i = 0; i < probs.n; i++)
			printf("problem: %s\n", probs.msg[i]);
	}
	print_sb(&sb, json);

	if (json)
		printf(",\n  \"entries\": [");
	else
		printf("entries:\n");
	if (sb.nr_blocks && all) {
		pr.shipped = true;
		r = xjnl_scan_shipped(dev, &sb, print_entry, &pr);
		if (r) {
			fflush(stdout);
			fprintf(stderr, PROG ": %s: read error: %s\n", path,
				strerror(-r));
			return DUMP_EXIT_USAGE;
		}
		pr.shipped = false;
	}
	memset(&w, 0, sizeof(w));
	w.end = XJNL_END_DAMAGED;
	snprintf(w.why, sizeof(w.why), "the superblock gives no log");
	if (sb.nr_blocks)
		xjnl_walk_log(dev, &sb, 0, print_entry, &pr, &w);
	if (w.end == XJNL_END_IO) {
		fflush(stdout);
		fprintf(stderr, PROG ": %s: %s\n", path, w.why);
		return DUMP_EXIT_USAGE;
	}
	if (json) {
		printf("%s],\n  \"log_end\": {\"block\": %" PRIu64
		       ", \"seq\": %" PRIu64 ", \"kind\": \"%s\", \"why\": ",
		       pr.n ? "\n  " : "", w.end_block, w.end_seq,
		       xjnl_end_name(w.end));
		json_str(w.why);
		printf(", \"after\": %" PRIu64 "},\n  \"unshipped_entries\": %"
		       PRIu64 ",\n  \"unshipped_bytes\": %" PRIu64
		       ",\n  \"state\": \"%s\"\n}\n", w.after, w.entries,
		       w.bytes,
		       probs.n || w.end == XJNL_END_DAMAGED ? "damaged" :
							      "valid");
	} else {
		printf("log_end: block %" PRIu64 ", seq %" PRIu64 ": %s (%s)\n",
		       w.end_block, w.end_seq, xjnl_end_name(w.end), w.why);
		if (w.after)
			printf("dropped: %" PRIu64 " whole entr%s after the torn one (appends in flight at the cut)\n",
			       w.after, w.after == 1 ? "y" : "ies");
		printf("unshipped: %" PRIu64 " entr%s, %" PRIu64 " bytes\n",
		       w.entries, w.entries == 1 ? "y" : "ies", w.bytes);
		printf("state: %s\n",
		       probs.n || w.end == XJNL_END_DAMAGED ? "damaged" :
							      "valid");
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
		return DUMP_EXIT_USAGE;
	}
	return probs.n || w.end == XJNL_END_DAMAGED ? DUMP_EXIT_DAMAGED :
						      DUMP_EXIT_VALID;
}
