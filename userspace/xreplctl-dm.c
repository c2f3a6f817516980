// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: every call to device-mapper, made through libdevmapper as
 * dmsetup makes them: whether a device exists and is an xrepl device,
 * create, remove, target messages, the status line (read without
 * flushing) split into its key=value fields, the list of xrepl devices,
 * the wait for a device's next event and the remote leg of its table.
 * --dry-run stops send_message() here; the other callers check it before
 * they call.
 */
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xreplctl.h"

/*
 * libdevmapper's log levels (its private _LOG_* values): the report's
 * lines come at the warning level, 4; the stderr bit forces a message
 * to standard error.
 */
#define DM_LOG_REPORT	4
#define DM_LOG_STDERR	128

static void dm_log_quiet(int level, const char *file, int line, int dm_errno,
			 const char *fmt, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	/*
	 * The report engine prints its lines at the warning level without
	 * the stderr bit (log_print()): they are the report, on stdout.
	 */
	if (level == DM_LOG_REPORT) {
		va_start(ap, fmt);
		vfprintf(stdout, fmt, ap);
		va_end(ap);
		fputc('\n', stdout);
		return;
	}
	/* libdevmapper's own errors, as dmsetup prints them. */
	if ((level & ~DM_LOG_STDERR) > 3)
		return;
	fputs(PROG ": device-mapper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Before any other call to libdevmapper: its messages go to dm_log_quiet(). */
void devmapper_init(void)
{
	dm_log_with_errno_init(dm_log_quiet);
}

/* At exit: release what libdevmapper holds. */
void devmapper_release(void)
{
	dm_lib_release();
}

/*
 * 1 if the device exists (its event counter then in *event_nr, unless
 * NULL), 0 if not, -1 if device-mapper failed.
 */
int dev_info(const char *name, uint32_t *event_nr)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt) &&
	    dm_task_get_info(dmt, &info)) {
		r = !!info.exists;
		if (r && event_nr)
			*event_nr = info.event_nr;
	}
	dm_task_destroy(dmt);
	return r;
}

/* Does the device exist, and is its (only) target xrepl? */
int check_xrepl(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	struct dm_info info;
	uint64_t start, len;
	char *type = NULL, *params;
	void *next = NULL;
	int r = EXIT_NODEV, n = 0;

	if (!dmt)
		return EXIT_FAILED;
	switch (dev_info(name, NULL)) {
	case 0:
		msg("%s: no such device", name);
		goto out;
	case -1:
		r = EXIT_FAILED;
		goto out;
	}
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt) ||
	    !dm_task_get_info(dmt, &info) || !info.exists) {
		r = EXIT_FAILED;
		goto out;
	}
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (type && !strcmp(type, TARGET))
			n++;
		else if (type)
			n = -1000;
	} while (next);
	if (n == 1)
		r = EXIT_OK;
	else
		msg("%s is not an xrepl device", name);
out:
	dm_task_destroy(dmt);
	return r;
}

int send_message(const char *name, const char *message)
{
	return send_message_reply(name, message, NULL, 0);
}

int send_message_reply(const char *name, const char *message, char *reply,
		       size_t len)
{
	const char *resp;
	struct dm_task *dmt;
	int r;

	if (dry_run) {
		printf("message %s 0 %s\n", name, message);
		return EXIT_OK;
	}
	r = check_xrepl(name);
	if (r)
		return r;
	dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	if (!dmt)
		return EXIT_FAILED;
	r = EXIT_FAILED;
	if (dm_task_set_name(dmt, name) && dm_task_set_sector(dmt, 0) &&
	    dm_task_set_message(dmt, message) && dm_task_run(dmt))
		r = EXIT_OK;
	else
		msg("%s: the target refused '%s' (see the kernel log)", name,
		    message);
	if (!r && reply) {
		resp = dm_task_get_message_response(dmt);
		snprintf(reply, len, "%s", resp ? resp : "");
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * Create the device name with one xrepl target of sectors, table its
 * table line, wait for udev to make its node and say so.  Returns an exit
 * status.
 */
int dev_create(const char *name, uint64_t sectors, const char *table)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint32_t cookie = 0;
	int r = EXIT_FAILED;

	if (!dmt)
		return EXIT_FAILED;
	if (!dm_task_set_name(dmt, name) ||
	    !dm_task_add_target(dmt, 0, sectors, TARGET, table) ||
	    !dm_task_set_cookie(dmt, &cookie, 0))
		goto out;
	if (!dm_task_run(dmt)) {
		msg("%s: device-mapper refused the table '0 %" PRIu64 " " TARGET
		    " %s' (see the kernel log)", name, sectors, table);
		/* No node waits to be made: release the cookie. */
		dm_udev_wait(cookie);
		goto out;
	}
	dm_udev_wait(cookie);
	printf("%s: created /dev/mapper/%s\n", name, name);
	r = EXIT_OK;
out:
	dm_task_destroy(dmt);
	return r;
}

/* A simple task (suspend, resume, clear) on name; true if it worked. */
static bool dev_task(int type, const char *name, bool udev)
{
	struct dm_task *dmt = dm_task_create(type);
	uint32_t cookie = 0;
	bool ok = false;

	if (!dmt)
		return false;
	if (dm_task_set_name(dmt, name) &&
	    (!udev || dm_task_set_cookie(dmt, &cookie, 0))) {
		ok = dm_task_run(dmt);
		if (udev)
			dm_udev_wait(cookie);
	}
	dm_task_destroy(dmt);
	return ok;
}

/*
 * Load table into the running device name and swap it in: reload, then
 * suspend and resume.  A refused table leaves the device as it was; a
 * failed suspend clears the loaded table.  Returns an exit status.
 */
int dev_reload(const char *name, uint64_t sectors, const char *table)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_RELOAD);
	bool ok;

	if (!dmt)
		return EXIT_FAILED;
	ok = dm_task_set_name(dmt, name) &&
	     dm_task_add_target(dmt, 0, sectors, TARGET, table) &&
	     dm_task_run(dmt);
	dm_task_destroy(dmt);
	if (!ok) {
		msg("%s: device-mapper refused the table '0 %" PRIu64 " " TARGET
		    " %s' (see the kernel log: dmesg | grep xrepl); the device is unchanged",
		    name, sectors, table);
		return EXIT_FAILED;
	}
	if (!dev_task(DM_DEVICE_SUSPEND, name, false)) {
		dev_task(DM_DEVICE_CLEAR, name, false);
		msg("%s: cannot suspend: the new table was not swapped in", name);
		return EXIT_FAILED;
	}
	if (!dev_task(DM_DEVICE_RESUME, name, true)) {
		msg("%s: cannot resume it (see the kernel log)", name);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/*
 * Remove the device name, retrying while udev still has it open, say so
 * and wait for udev to remove its node.  Returns an exit status.
 */
int dev_remove(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
	uint32_t cookie = 0;
	int r = EXIT_FAILED;

	if (!dmt)
		return EXIT_FAILED;
	if (dm_task_set_name(dmt, name) && dm_task_retry_remove(dmt) &&
	    dm_task_set_cookie(dmt, &cookie, 0)) {
		if (dm_task_run(dmt)) {
			r = EXIT_OK;
			printf("%s: removed\n", name);
		} else {
			msg("%s: cannot remove (is it open?)", name);
		}
		dm_udev_wait(cookie);
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * Status of one device without flushing; EXIT_NODEV if it is missing or
 * not xrepl.
 */
int read_status(const char *name, struct xstatus *s)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_STATUS);
	struct dm_info info;
	uint64_t start, len;
	char *type = NULL, *params = NULL;
	int r = EXIT_FAILED;

	memset(s, 0, sizeof(*s));
	if (!dmt)
		return EXIT_FAILED;
	r = dev_info(name, NULL);
	if (r <= 0) {
		r = r ? EXIT_FAILED : EXIT_NODEV;
		goto out;
	}
	r = EXIT_FAILED;
	if (!dm_task_set_name(dmt, name) || !dm_task_no_flush(dmt) ||
	    !dm_task_run(dmt) || !dm_task_get_info(dmt, &info)) {
		/* Removed since dev_info(): no such device, not a failure. */
		if (!dev_info(name, NULL))
			r = EXIT_NODEV;
		goto out;
	}
	if (!info.exists) {
		r = EXIT_NODEV;
		goto out;
	}
	dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
	if (!type || strcmp(type, TARGET) || !params) {
		r = EXIT_NODEV;
		goto out;
	}
	status_parse(s, name, len, params);
	r = EXIT_OK;
out:
	dm_task_destroy(dmt);
	return r;
}

/*
 * Call fn with the status of every xrepl device, in device-mapper's
 * order (a device removed meanwhile is left out).  Returns 0, or
 * EXIT_FAILED if the devices cannot be listed or a status cannot be read
 * (fn has still been called for every status that could).
 */
int for_each_xrepl(void (*fn)(const struct xstatus *s, void *ctx),
		   void *ctx)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct xstatus *s = malloc(sizeof(*s));
	struct dm_names *names;
	unsigned int next = 0;
	int r = EXIT_FAILED;

	if (!dmt || !s || !dm_task_run(dmt) || !(names = dm_task_get_names(dmt)))
		goto out;
	r = EXIT_OK;
	if (names->dev) {
		do {
			int one;

			names = (struct dm_names *)((char *)names + next);
			/* Not xrepl, or removed since the list: not listed. */
			one = read_status(names->name, s);
			/* The others still go to fn (the monitor's rescan). */
			if (one == EXIT_FAILED)
				r = EXIT_FAILED;
			else if (!one)
				fn(s, ctx);
			next = names->next;
		} while (next);
	}
out:
	free(s);
	if (dmt)
		dm_task_destroy(dmt);
	return r;
}

/* The table line of an xrepl device (its only target): 0 or -1. */
int dev_table(const char *name, uint64_t *sectors, char *params, size_t len)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, length;
	char *type = NULL, *p = NULL;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &p);
		if (type && !strcmp(type, TARGET) && p && strlen(p) < len) {
			strcpy(params, p);
			*sectors = length;
			r = 0;
		}
	}
	dm_task_destroy(dmt);
	return r;
}

/* Wait for the device's event counter to pass event_nr; 0 or -1. */
int wait_event(const char *name, uint32_t *event_nr)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_WAITEVENT);
	struct dm_info info;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_name(dmt, name) && dm_task_set_event_nr(dmt, *event_nr) &&
	    dm_task_run(dmt) && dm_task_get_info(dmt, &info) && info.exists) {
		*event_nr = info.event_nr;
		r = 0;
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * The device number of the remote leg of an xrepl device, from its table
 * line ("<local> <remote> ...", devices as major:minor); 0 or -1.
 */
int remote_devnum(const char *name, unsigned int *maj, unsigned int *min)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, len;
	char *type = NULL, *params = NULL;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
		if (params && sscanf(params, "%*s %u:%u", maj, min) == 2)
			r = 0;
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * Is the loaded xrepl target at least major.minor?  1 if so, 0 if older,
 * -1 if its version cannot be read (the module is not loaded).
 */
int target_at_least(uint32_t major, uint32_t minor)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	struct dm_versions *v, *last;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_run(dmt)) {
		v = dm_task_get_versions(dmt);
		do {
			last = v;
			if (v->name[0] && !strcmp(v->name, TARGET)) {
				r = v->version[0] > major ||
				    (v->version[0] == major && v->version[1] >= minor);
				break;
			}
			v = (struct dm_versions *)((char *)v + v->next);
		} while (last != v);
	}
	dm_task_destroy(dmt);
	return r;
}
