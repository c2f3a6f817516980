/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xreplctl: what its parts share.
 *
 * One file per responsibility, and calls go one way, from the commands
 * down to the checks of their arguments:
 *
 *   xreplctl-args.c     messages; names, numbers, sizes and options checked
 *
 * Each section below declares what one file offers the others.
 */
#ifndef XREPLCTL_H
#define XREPLCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG	"xreplctl"
#define TARGET	"xrepl"

/* Exit statuses, as xreplctl(8) documents them. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* device-mapper refused or failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NODEV = 3,		/* no such device, or not an xrepl device */
};

/*
 * xreplctl-args.c: messages, and the checks of what the command line and
 * the configuration files give.
 */

/* Print "xreplctl: <message>" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "xreplctl: <message>" and a pointer to --help; exit EXIT_USAGE. */
void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* The replication modes as the target spells them; NULL-terminated. */
extern const char *const mode_names[];
/* Whether s is one of the strings of list (NULL-terminated). */
bool in_list(const char *const *list, const char *s);
/* Parse a decimal number without sign, spaces or suffix, in [min, max]. */
bool parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a size in bytes with an optional K, M or G (binary) suffix. */
bool parse_size(const char *s, uint64_t *bytes);
/* Write bytes to buf as parse_size() takes it ("512K"); returns buf. */
const char *size_str(uint64_t bytes, char *buf, size_t len);

/*
 * What a valid value of key looks like, as an optional argument of the
 * table line (table) or of "set" (!table), written to buf when it has
 * numbers; NULL if key is not such an argument.
 */
const char *option_expect(const char *key, bool table, char *buf,
			  size_t len);
/* Whether value is valid for key, a key option_expect() knows. */
bool option_valid(const char *key, const char *value);
/* Exit with a usage error, naming what, unless key=value is valid. */
void check_option(const char *what, const char *key, const char *value,
		  bool table);

/* Why name is not a valid device name, or NULL if it is one. */
const char *name_problem(const char *name);
/* Exit with a usage error unless name is a valid device name. */
void check_name(const char *name);
/* Whether paths a and b name the same device (or file). */
bool same_dev(const char *a, const char *b);
/* Whether the target takes a region of this many bytes. */
bool region_ok(uint64_t bytes);
/* Write what region_ok() takes to buf, for messages; returns buf. */
const char *region_expect(char *buf, size_t len);

#endif /* XREPLCTL_H */
