// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: configuration files, and the up and down commands that read
 * them.  <config_dir>/<name>.conf describes the device <name> in
 * "key = value" lines, '#' comments and blank lines (see xreplctl(8));
 * every value is checked as create checks its options, and a bad file is
 * refused with its name, line and key before anything reaches
 * device-mapper.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "xreplctl.h"

const char *config_dir = "/etc/xrepl";

#define CONF_MAX	4096

struct conf {
	struct create_args a;
	bool no_boot;		/* boot = no: a cluster manager starts it */
	char buf[CONF_MAX];	/* the file; a's strings point into it */
};

static int conf_error(const char *file, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* conf_error() says nothing (conf_no_boot()'s first look at a file). */
static bool conf_quiet;

static int conf_error(const char *file, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	if (conf_quiet)
		return EXIT_USAGE;
	if (line)
		fprintf(stderr, PROG ": %s:%u: ", file, line);
	else
		fprintf(stderr, PROG ": %s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static char *trim(char *p)
{
	char *end;

	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return p;
}

/*
 * Read <config_dir>/<name>.conf into c.  Returns 0, or EXIT_USAGE after
 * a message naming the file, the line and the key.
 */
static int conf_read(const char *name, struct conf *c)
{
	static const char *const keys[] = { "local", "remote", "meta", "mode",
		"region_size", "nosync", "on_remote_error", "resync_rate_kbps",
		"semi_timeout_ms", "max_lag_kb", "congestion", "period_s",
		"remote_meta", "boot", "journal", "delay_ms", NULL };
	struct create_args *a = &c->a;
	char path[4096], expect[64], *line, *next;
	const char *why;
	unsigned int n = 0, seen = 0, i;
	size_t len;
	FILE *f;
	int err;

	memset(c, 0, sizeof(*c));
	a->name = name;
	a->mode = "sync";
	snprintf(path, sizeof(path), "%s/%s.conf", config_dir, name);
	f = fopen(path, "r");
	if (!f)
		return conf_error(path, 0, "%s", strerror(errno));
	len = fread(c->buf, 1, sizeof(c->buf), f);
	err = ferror(f);
	fclose(f);
	if (err)
		return conf_error(path, 0, "read error");
	if (len == sizeof(c->buf))
		return conf_error(path, 0, "longer than %d bytes", CONF_MAX - 1);
	c->buf[len] = '\0';
	if (strlen(c->buf) != len)
		return conf_error(path, 0, "not a text file");

	for (line = c->buf; line; line = next) {
		char *eq, *key, *val;

		n++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/*
		 * A comment starts with '#' at the start of the line or after
		 * a blank; a '#' inside a word would silently cut a value.
		 */
		for (i = 0; line[i]; i++) {
			if (line[i] != '#')
				continue;
			if (i && !isspace((unsigned char)line[i - 1]))
				return conf_error(path, n, "'#' inside a value: a comment starts after a blank");
			line[i] = '\0';
			break;
		}
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return conf_error(path, n, "expected 'key = value', got '%s'", key);
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		for (i = 0; keys[i]; i++)
			if (!strcmp(keys[i], key))
				break;
		if (!keys[i])
			return conf_error(path, n, "unknown key '%s'", key);
		if (seen & (1U << i))
			return conf_error(path, n, "key '%s' given twice", key);
		seen |= 1U << i;
		if (!*val)
			return conf_error(path, n, "key '%s' has no value", key);
		/* One word: anything after it would shift the table line. */
		for (i = 0; val[i]; i++)
			if (isspace((unsigned char)val[i]) || iscntrl((unsigned char)val[i]))
				return conf_error(path, n, "key '%s': the value must be one word, without spaces or control characters",
						  key);
		if (!strcmp(key, "local")) {
			a->local = val;
		} else if (!strcmp(key, "remote")) {
			a->remote = val;
		} else if (!strcmp(key, "remote_meta")) {
			a->remote_meta = val;
		} else if (!strcmp(key, "journal")) {
			a->journal = val;
		} else if (!strcmp(key, "meta")) {
			if (!strcmp(val, "none"))
				a->no_meta = true;
			else
				a->meta = val;
		} else if (!strcmp(key, "mode")) {
			if (!in_list(mode_names, val))
				return conf_error(path, n, "mode: invalid value '%s': expected sync, semi-sync, async or periodic",
						  val);
			a->mode = val;
		} else if (!strcmp(key, "region_size")) {
			if (!parse_size(val, &a->region_bytes) ||
			    !region_ok(a->region_bytes))
				return conf_error(path, n, "region_size: invalid value '%s': expected %s",
						  val, region_expect(expect, sizeof(expect)));
		} else if (!strcmp(key, "boot")) {
			if (strcmp(val, "yes") && strcmp(val, "no"))
				return conf_error(path, n, "boot: invalid value '%s': expected yes or no",
						  val);
			c->no_boot = !strcmp(val, "no");
		} else if (!strcmp(key, "nosync")) {
			if (strcmp(val, "yes") && strcmp(val, "no"))
				return conf_error(path, n, "nosync: invalid value '%s': expected yes or no",
						  val);
			a->nosync = !strcmp(val, "yes");
		} else {
			char words[96];

			if (!option_valid(key, val))
				return conf_error(path, n, "%s: invalid value '%s': expected %s",
						  key, val,
						  option_expect(key, true, expect,
								sizeof(expect)));
			if (!strcmp(key, "delay_ms"))
				parse_num(val, 0, UINT64_MAX, &a->delay_ms);
			snprintf(words, sizeof(words), "%s %s", key, val);
			add_opt(a, words);
		}
	}
	if (!a->local)
		return conf_error(path, 0, "missing key 'local'");
	if (!a->remote)
		return conf_error(path, 0, "missing key 'remote'");
	if (!a->meta && !a->no_meta)
		return conf_error(path, 0, "missing key 'meta' (a device, or none)");
	if (same_dev(a->local, a->remote))
		return conf_error(path, 0, "local and remote are the same device");
	if (a->meta && (same_dev(a->meta, a->local) || same_dev(a->meta, a->remote)))
		return conf_error(path, 0, "meta must differ from the legs");
	if (strstr(a->opts, "on_remote_error fail") && strcmp(a->mode, "sync"))
		return conf_error(path, 0, "on_remote_error = fail needs mode = sync");
	if (a->remote_meta && !a->meta)
		return conf_error(path, 0, "remote_meta needs a metadata device (meta)");
	if (a->remote_meta && (same_dev(a->remote_meta, a->local) ||
			       same_dev(a->remote_meta, a->remote) ||
			       same_dev(a->remote_meta, a->meta)))
		return conf_error(path, 0, "remote_meta must differ from local, remote and meta");
	why = journal_problem(a);
	if (why)
		return conf_error(path, 0, "%s", why);
	return 0;
}

/*
 * Can path be opened for reading now, and does it have a size?  A device
 * that opens but has no size yet (a device-mapper node whose table is not
 * loaded, a LUN still being set up) is not reachable.  With sig, also
 * returns what identifies the device as it is now (its number and size),
 * so that a caller can tell that it changed.
 */
bool reachable_sig(const char *path, struct dev_sig *sig)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	uint64_t bytes = 0;
	struct stat st;
	bool ok;

	if (fd < 0)
		return false;
	ok = !fstat(fd, &st) && S_ISBLK(st.st_mode) &&
	     !ioctl(fd, BLKGETSIZE64, &bytes) && bytes;
	close(fd);
	if (ok && sig) {
		sig->rdev = st.st_rdev;
		sig->bytes = bytes;
	}
	return ok;
}

bool reachable(const char *path)
{
	return reachable_sig(path, NULL);
}

struct conf *conf_get(const char *name)
{
	struct conf *c = malloc(sizeof(*c));

	if (c && conf_read(name, c)) {
		free(c);
		return NULL;
	}
	return c;
}

struct create_args *conf_args(struct conf *c)
{
	return &c->a;
}

int up_one(const char *name)
{
	struct conf *c = malloc(sizeof(*c));
	int r;

	if (!c)
		return EXIT_FAILED;
	r = conf_read(name, c);
	if (!r && !dry_run && dev_info(name, NULL) == 1) {
		/* Up already: fine if it is an xrepl device. */
		r = check_xrepl(name);
		if (!r)
			printf("%s: already up\n", name);
	} else if (!r) {
		struct create_args *a = &c->a;

		/*
		 * A site never refuses to start its local volume because the
		 * other site is down: without its remote, if need be.
		 */
		if (!dry_run && a->meta && strcmp(a->remote, "-") &&
		    (!reachable(a->remote) ||
		     (a->remote_meta && !reachable(a->remote_meta)))) {
			printf("%s: remote %s not reachable: starting without its remote; the monitor or 'xreplctl attach %s' attaches it\n",
			       name, a->remote, name);
			a->remote = "-";
		}
		r = create_device(a);
	}
	free(c);
	return r;
}

int down_one(const char *name)
{
	if (!dry_run && dev_info(name, NULL) == 0) {
		printf("%s: already down\n", name);
		return EXIT_OK;
	}
	return cmd_remove(name);
}

static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".conf") &&
	       d->d_name[0] != '.';
}

/*
 * Whether <name>.conf says "boot = no": a volume a cluster manager starts
 * and stops, which up --all and down --all leave alone.  A file that does
 * not read is not such a volume (up then says what is wrong with it).
 */
static bool conf_no_boot(const char *name)
{
	struct conf *c = malloc(sizeof(*c));
	bool no_boot = false;

	/* up reads the file again and reports its errors, once. */
	conf_quiet = true;
	if (c && !conf_read(name, c))
		no_boot = c->no_boot;
	conf_quiet = false;
	free(c);
	return no_boot;
}

/* up or down every <name>.conf; the worst exit status. */
int all_confs(int (*fn)(const char *name))
{
	struct dirent **list;
	int n, i, r = EXIT_OK, one;

	n = scandir(config_dir, &list, conf_filter, alphasort);
	if (n < 0) {
		msg("%s: %s", config_dir, strerror(errno));
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		char name[256];
		const char *why;

		snprintf(name, sizeof(name), "%.*s",
			 (int)(strlen(list[i]->d_name) - 5), list[i]->d_name);
		/* A file name is a device name only if up NAME would take it. */
		why = name_problem(name);
		if (why) {
			msg("%s/%s: not a valid device name: %s; file skipped",
			    config_dir, list[i]->d_name, why);
			one = EXIT_USAGE;
		} else if (conf_no_boot(name)) {
			printf("%s: boot = no: left to its cluster manager\n", name);
			one = EXIT_OK;
		} else {
			one = fn(name);
		}
		if (one > r)
			r = one;
		free(list[i]);
	}
	free(list);
	return r;
}
