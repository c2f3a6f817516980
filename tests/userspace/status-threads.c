// SPDX-License-Identifier: GPL-2.0-only
/*
 * status_parse() from several threads at once, as the monitor's threads
 * call it: each thread parses its own status line over and over and
 * checks every field.  A parser with hidden shared state (strtok) mixes
 * the lines up.  Exit status 0 when every parse was right.
 *
 * Usage: status-threads [ROUNDS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/status.h"

#define THREADS	4

static unsigned long rounds = 200000;

static void *parse_loop(void *arg)
{
	unsigned long id = (unsigned long)arg, i;
	char line[512], want[32];
	struct xstatus s;

	snprintf(want, sizeof(want), "t%lu", id);
	for (i = 0; i < rounds; i++) {
		snprintf(line, sizeof(line),
			 "mode=sync remote=degraded dirty=%lu/64 degraded_by=%s word peer=%s last=%lu",
			 id, want, want, i);
		status_parse(&s, want, id, line);
		if (s.nr != 6 || !st_is(&s, "degraded_by", want) ||
		    !st_is(&s, "peer", want) || st_num(&s, "last") != i ||
		    st_frac(&s, "dirty", 0) != id || st_frac(&s, "dirty", 1) != 64 ||
		    strcmp(s.name, want) || s.sectors != id) {
			fprintf(stderr, "thread %lu, round %lu: parsed %u fields, degraded_by=%s peer=%s last=%s\n",
				id, i, s.nr, st_str(&s, "degraded_by") ?: "(none)",
				st_str(&s, "peer") ?: "(none)",
				st_str(&s, "last") ?: "(none)");
			return (void *)1;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];
	unsigned long i;
	void *ret;
	int bad = 0;

	if (argc > 1)
		rounds = strtoul(argv[1], NULL, 10);
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, parse_loop, (void *)i)) {
			perror("pthread_create");
			return 2;
		}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	if (!bad)
		printf("%d threads parsed %lu status lines each, every field right\n",
		       THREADS, rounds);
	return bad;
}
