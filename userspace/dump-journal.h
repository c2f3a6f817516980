/* SPDX-License-Identifier: GPL-2.0-only */
/* xrepl-dump: the journal part (xrepl-dump-journal.c). */
#ifndef XREPL_DUMP_JOURNAL_H
#define XREPL_DUMP_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/journal.h"

/* xrepl-dump's exit statuses. */
enum {
	DUMP_EXIT_VALID = 0,
	DUMP_EXIT_DAMAGED = 1,
	DUMP_EXIT_USAGE = 2,
	DUMP_EXIT_FRESH = 3,
};

/*
 * Print the journal on dev (block0 its block 0, not all zeroes): the
 * superblock, the shipped entries still on the device (all), the log
 * from the tail, where and why it ends.  A damaged superblock is only
 * printed with force.  Returns the exit status.
 */
int dump_journal(struct xmeta_dev *dev, const char *path,
		 const uint8_t *block0, bool json, bool all, bool force);

#endif /* XREPL_DUMP_JOURNAL_H */
