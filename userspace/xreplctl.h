/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xreplctl: what its parts share.
 *
 * One file per responsibility, and calls go one way, from the commands
 * down to the checks of their arguments:
 *
 *   xreplctl.c          main(): global options, help, command dispatch
 *   xreplctl-monitor.c  monitor: events, probes, lag, hooks
 *   xreplctl-service.c  the monitor under a service manager: readiness,
 *                       watchdog, memory locked
 *   xreplctl-status.c   status and wait: the statuses read, --check
 *   xreplctl-report.c   the status report (libdevmapper's report engine)
 *   xreplctl-metrics.c  metrics, in Prometheus' text format
 *   xreplctl-conf.c     configuration files; up and down
 *   xreplctl-adjust.c   adjust: a changed configuration file applied
 *   xreplctl-verify.c   verify: start, stop, resume, wait for a pass
 *   xreplctl-drill.c    drill: a snapshot of the remote's copy, tested
 *   xreplctl-restore.c  restore: a chain of backup images written to a device
 *   xreplctl-create.c   create and remove; the table line
 *   xreplctl-dm.c       every libdevmapper call; the status line parsed
 *   xreplctl-args.c     messages; names, numbers, sizes and options checked
 *
 * Each section below declares what one file offers the others.
 */
#ifndef XREPLCTL_H
#define XREPLCTL_H

#include <linux/dm-ioctl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/status.h"

#define PROG	"xreplctl"
#define TARGET	"xrepl"

/* Exit statuses, as xreplctl(8) documents them. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* device-mapper refused or failed */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_NODEV = 3,		/* no such device, or not an xrepl device */
	EXIT_TIMEOUT = 4,	/* wait: the timeout passed first */
	/* status --check: 0, 1, 2 are the worst health (enum xhealth). */
	EXIT_CHECK_UNKNOWN = 4,	/* status --check: the state is unknown */
	EXIT_VERIFY_DIFFERS = 5,	/* verify --wait: regions differ */
	EXIT_VERIFY_INCOMPLETE = 6,	/* verify --wait: the pass did not end */
	EXIT_DRILL_FAILED = 7,		/* drill: the command failed */
};

/* xreplctl.c: main() and the command line. */

/* --dry-run: print the table lines and messages instead of sending them. */
extern bool dry_run;

/* The monotonic clock, in seconds: for durations. */
double now_s(void);

/* xreplctl-monitor.c: the monitor command. */

/* The monitor command; argv[0] is "monitor".  Returns an exit status. */
int cmd_monitor(int argc, char **argv);

/* xreplctl-service.c: the monitor under a service manager. */

/* Send state ("READY=1", "WATCHDOG=1"...) to $NOTIFY_SOCKET, if set. */
void service_notify(const char *state);
/*
 * If the service manager asks for a watchdog ($WATCHDOG_USEC), ping it
 * every half interval while is_alive(budget_ms) says yes.  0, or -1 if
 * the thread cannot be started.
 */
int service_watchdog_start(bool (*is_alive)(unsigned int budget_ms));
/* Lock the memory of the process (mlockall); a failure is only reported. */
void service_lock_memory(void);

/* xreplctl-report.c: the status report. */

/* What the status report shows, and how (xreplctl(8), "status"). */
struct report_opts {
	const char *fields;	/* -o: NULL for the default; "+f" adds f */
	const char *sort;	/* -O: NULL sorts by name */
	const char *select;	/* -S: NULL selects every device */
	const char *separator;	/* --separator: NULL aligns with spaces */
	const char *units;	/* --units: NULL is human-readable */
	bool aligned;		/* --aligned: align even with a separator */
	bool noheadings;	/* --noheadings */
	bool nosuffix;		/* --nosuffix: sizes without their unit */
	bool json;		/* --reportformat json: LVM's JSON layout */
};

/* Whether o asks for the list of fields (-o help, -O help) only. */
bool report_wants_help(const struct report_opts *o);
/* Print the report o describes of the statuses s[0..n-1]; an exit status. */
int report_print(const struct report_opts *o, struct xstatus *s, size_t n);

/* xreplctl-status.c: the status and wait commands. */

/*
 * Read the statuses of names[0..nr_names-1], or of every xrepl device if
 * nr_names is 0, into a new array *out of *n; an exit status, having said
 * what failed (prefixed by what).
 */
int read_statuses(const char *what, char **names, int nr_names,
		  struct xstatus **out, size_t *n);
/*
 * The status command: the report o describes (or with json, the JSON
 * object of --json) of names, or of every xrepl device; on any failure
 * nothing on stdout.  An exit status; with check, the worst health.
 */
int cmd_status(char **names, int nr_names, const struct report_opts *o,
	       bool json, bool check);
/* The wait command; argv[0] is "wait".  Returns an exit status. */
int cmd_wait(int argc, char **argv);
int cmd_cycle(int argc, char **argv);
/*
 * Sleep on name's dm events until done_when() holds for its status, or
 * timeout seconds (0: no limit) passed; *last is the last status read;
 * messages start with what.
 * An exit status: EXIT_TIMEOUT (-EXIT_TIMEOUT if no status was read) when
 * the time passed; the caller then ends with exit_after_timeout().
 */
int wait_until(const char *what, const char *name, uint64_t timeout,
	       bool (*done_when)(const struct xstatus *s), struct xstatus *last);
_Noreturn void exit_after_timeout(void);

/* xreplctl-role.c: status --meta (the roles' commands are declared below). */

/* What the metadata device path records; JSON with json.  An exit status. */
int cmd_meta_status(const char *path, bool json);
struct xmeta_sb;
struct xmeta_undo_slot;

/* xreplctl-undo.c: the undo area of periodic mode, at the remote site. */
int undo_scan(int fd, const char *path, const struct xmeta_sb *sb,
	      uint64_t meta_sectors, struct xmeta_undo_slot **slots,
	      size_t *n);
int undo_rollback(int fd, const char *path, const struct xmeta_sb *sb,
		  const char *local, bool write, uint64_t *regions);
/*
 * Read and check the superblock of the metadata device path, opened
 * read-only and not exclusively (version 1 read as a primary's).  An exit
 * status, with a message starting with what.
 */
int meta_read_sb(const char *what, const char *path, struct xmeta_sb *sb);
/* A metadata time t: "<date> UTC (<age> ago)", or "unknown" for 0. */
const char *meta_when(uint64_t t, char *buf, size_t len);

/* xreplctl-drill.c: the drill command. */

/* The drill command; argv[0] is "drill".  Returns an exit status. */
int cmd_drill(int argc, char **argv);

/* xreplctl-restore.c: the restore command; argv[0] is "restore". */
int cmd_restore(int argc, char **argv);

/* xreplctl-verify.c: the verify command. */

/* The verify command; argv[0] is "verify".  Returns an exit status. */
int cmd_verify(int argc, char **argv);
/* ship-until (xreplctl-until.c), and the time it takes. */
int cmd_ship_until(int argc, char **argv);
bool parse_point(const char *s, uint64_t *ms);

/* xreplctl-metrics.c: the metrics command. */

/* The metrics command; argv[0] is "metrics".  Returns an exit status. */
int cmd_metrics(int argc, char **argv);
/* Print the metrics of the statuses s[0..n-1] on stdout. */
void metrics_print(const struct xstatus *s, size_t n);

/* xreplctl-conf.c: configuration files; the up and down commands. */

/* Where up and down find <name>.conf (--config-dir). */
extern const char *config_dir;
/* up <name>: create the device its file describes, unless it is up. */
int up_one(const char *name);
struct conf;
/* The configuration of name, checked (NULL and a message if bad). */
struct conf *conf_get(const char *name);
struct create_args *conf_args(struct conf *c);
/* What identifies a block device as it is now. */
struct dev_sig {
	dev_t rdev;
	uint64_t bytes;
};

/*
 * The size of a block device (or, for tests, an image file) in sectors;
 * -1 with a message if it cannot be read or is empty.
 */
int dev_sectors(const char *path, uint64_t *sectors);
bool reachable(const char *path);
bool reachable_sig(const char *path, struct dev_sig *sig);
int attach_device(const char *name, const char *remote,
		  const char *remote_meta, bool verbose);
/*
 * adjust <name>: apply <config_dir>/<name>.conf to the running device by
 * messages, or refuse with what needs a new table.  argv[0] is "adjust".
 */
int cmd_adjust(int argc, char **argv);
/* down <name>: remove the device, unless it is down already. */
int down_one(const char *name);
/* up or down (fn) every <name>.conf; the worst exit status. */
int all_confs(int (*fn)(const char *name));

/* xreplctl-create.c: create and remove. */

/* A device to create; every field checked before create_device(). */
struct create_args {
	const char *name, *local, *remote, *meta, *mode;
	const char *remote_meta;	/* the remote site's metadata, or NULL */
	const char *journal;		/* the write-ahead log, or NULL */
	uint64_t region_bytes;
	uint64_t delay_ms;		/* delay_ms among the options, or 0 */
	bool no_meta, nosync;
	char opts[512];		/* "key value" pairs, space separated */
	unsigned int nr_opts;	/* words in opts */
	unsigned int given;	/* bit per option key, against duplicates */
};

/*
 * Why a's journal and delay_ms do not go with the rest of a, or NULL
 * (checked by create and by the configuration files).
 */
const char *journal_problem(const struct create_args *a);
/* Add "key value" (or one word) to the optional arguments of a. */
void add_opt(struct create_args *a, const char *words);
/* The create command; argv[0] is "create".  Returns an exit status. */
int cmd_create(int argc, char **argv);
/* Create the device a describes (--dry-run: print its table line). */
int create_device(struct create_args *a);
int build_table(struct create_args *a, char *table, size_t len,
		uint64_t *sectors);
int cmd_promote(int argc, char **argv);
int cmd_demote(int argc, char **argv);
int cmd_attach(int argc, char **argv);
/* The remove command: drain what the remote still needs, then remove. */
int cmd_remove(const char *name);

/*
 * xreplctl-dm.c: every call to libdevmapper.  Where device-mapper itself
 * fails, libdevmapper has printed why (through devmapper_init()'s hook).
 */

/* Before any other call: libdevmapper's messages as dmsetup prints them. */
void devmapper_init(void);
/* At exit: release what libdevmapper holds. */
void devmapper_release(void);
/*
 * 1 if the device exists (its event counter then in *event_nr, unless
 * NULL), 0 if not, -1 if device-mapper failed.
 */
int dev_info(const char *name, uint32_t *event_nr);
/*
 * EXIT_OK if name exists and its one target is xrepl; else EXIT_NODEV,
 * having said which, or EXIT_FAILED.
 */
int check_xrepl(const char *name);
/*
 * Send message to the xrepl device name (with --dry-run, print it); an
 * exit status, having said so if the target refused it.
 */
int send_message(const char *name, const char *message);
/*
 * send_message(), and the target's reply into reply (len bytes, cut and
 * NUL-terminated; empty under --dry-run or without one).
 */
int send_message_reply(const char *name, const char *message, char *reply,
		       size_t len);
/*
 * Create name with one xrepl target of sectors and the table line table,
 * and say so; an exit status, having said so if device-mapper refused.
 */
int dev_create(const char *name, uint64_t sectors, const char *table);
/* Remove name, and say so; an exit status, having said so if it is open. */
int dev_remove(const char *name);
int dev_reload(const char *name, uint64_t sectors, const char *table);
int dev_table(const char *name, uint64_t *sectors, char *params, size_t len);

/*
 * Read the status of name, without flushing, into s.  EXIT_OK,
 * EXIT_NODEV if there is no such xrepl device, or EXIT_FAILED; it prints
 * nothing itself.
 */
int read_status(const char *name, struct xstatus *s);
/*
 * Call fn with the status of every xrepl device, in device-mapper's
 * order (one removed meanwhile is left out).  EXIT_OK, or EXIT_FAILED if
 * the devices cannot be listed or a status cannot be read (fn has still
 * been called for every status that could).
 */
int for_each_xrepl(void (*fn)(const struct xstatus *s, void *ctx),
		   void *ctx);
/* Wait until the event counter of name passes *event_nr; set it, 0 or -1. */
int wait_event(const char *name, uint32_t *event_nr);
/*
 * 1 if the loaded xrepl target is at least major.minor, 0 if it is
 * older, -1 if its version cannot be read.
 */
int target_at_least(uint32_t major, uint32_t minor);
/* The device number of the remote leg in the table of name; 0 or -1. */
int remote_devnum(const char *name, unsigned int *maj, unsigned int *min);

/*
 * xreplctl-args.c: messages, and the checks of what the command line and
 * the configuration files give.
 */

/* Print "xreplctl: <message>" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit status of usage_error(): EXIT_USAGE unless status --check. */
extern int usage_exit;
/* Print "xreplctl: <message>" and a pointer to --help; exit usage_exit. */
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
