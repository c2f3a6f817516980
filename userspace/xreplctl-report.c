// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: the status report, built on libdevmapper's report engine as
 * lvs and "dmsetup info -c" are.  That engine gives field selection
 * (-o), sorting (-O), selection (-S), --noheadings, --separator, --units
 * and JSON in LVM's layout ({"report": [{"xrepl": [...]}]}).
 *
 * Every field reads one parsed status (struct xstatus); the field table
 * below is also what "-o help" lists.
 */
#include <inttypes.h>
#include <libdevmapper.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xreplctl.h"

/* The one object type of the report: an xrepl device's status. */
#define OBJ_XREPL	1

/* The columns of a plain "xreplctl status". */
#define DEFAULT_FIELDS \
	"name,mode,remote,degraded_by,dirty,resync,lag,consistent,peer,errors"

/* --units: how SIZE fields are written (dm_size_to_string()). */
struct units {
	char type;		/* 'h' (human, 1024), 'H' (1000), 'b', 'k'... */
	uint64_t factor;	/* bytes per unit; 0 for human units */
	bool suffix;		/* write the unit after the number */
};

static void *xstatus_data(void *obj)
{
	return obj;
}

static const struct dm_report_object_type types[] = {
	{ OBJ_XREPL, "xrepl device", "", xstatus_data },
	{ 0, NULL, NULL, NULL }
};

static int put_str(struct dm_report *rh, struct dm_report_field *field,
		   const char *v)
{
	return dm_report_field_string(rh, field, &v);
}

/* A string field built here: copied into the report's pool. */
static int put_dup(struct dm_report *rh, struct dm_pool *mem,
		   struct dm_report_field *field, const char *v)
{
	const char *copy = dm_pool_strdup(mem, v);

	if (!copy)
		return 0;
	return dm_report_field_string(rh, field, &copy);
}

static int put_num(struct dm_report *rh, struct dm_report_field *field,
		   uint64_t v)
{
	return dm_report_field_uint64(rh, field, &v);
}

/*
 * A size in sectors, written in the units of --units.  Its sort value is
 * the size in sectors as a double: what libdevmapper's sorting and its
 * selection ("size>1g") compare for a SIZE field.
 */
static int put_size(struct dm_pool *mem, struct dm_report_field *field,
		    uint64_t sectors, const struct units *u)
{
	double *sort = dm_pool_alloc(mem, sizeof(*sort));
	const char *repr;

	if (!sort)
		return 0;
	*sort = (double)sectors;
	repr = dm_size_to_string(mem, sectors, u->type, 1, u->factor,
				 u->suffix, DM_SIZE_UNIT);
	if (!repr)
		return 0;
	dm_report_field_set_value(field, repr, sort);
	return 1;
}

static int put_percent(struct dm_report *rh, struct dm_report_field *field,
		       uint64_t part, uint64_t whole)
{
	dm_percent_t p = whole ? dm_make_percent(part, whole) : DM_PERCENT_100;

	return dm_report_field_percent(rh, field, &p);
}

#define FIELD_FN(fn)							\
static int fn(struct dm_report *rh, struct dm_pool *mem,		\
	      struct dm_report_field *field, const void *data,		\
	      void *private)

/* A field that is the status key of the same name, as a string. */
#define STR_FIELD(key)							\
FIELD_FN(f_##key)							\
{									\
	(void)mem;							\
	(void)private;							\
	return put_str(rh, field, st_str_or(data, #key, ""));		\
}

/* A field that is the status key of the same name, as a number. */
#define NUM_FIELD(key)							\
FIELD_FN(f_##key)							\
{									\
	(void)mem;							\
	(void)private;							\
	return put_num(rh, field, st_num(data, #key));			\
}

STR_FIELD(mode)
STR_FIELD(remote)
STR_FIELD(degraded_by)
STR_FIELD(consistent)
STR_FIELD(peer)
STR_FIELD(meta)
STR_FIELD(on_remote_error)
NUM_FIELD(resync_active)
NUM_FIELD(resync_rate)
NUM_FIELD(resync_rate_kbps)
NUM_FIELD(copied_regions)
NUM_FIELD(lag_writes)
NUM_FIELD(held)
NUM_FIELD(delay_ms)
NUM_FIELD(ship_point_ms)
NUM_FIELD(ship_until_ms)
NUM_FIELD(journal_used_kb)
NUM_FIELD(journal_size_kb)
NUM_FIELD(oldest_lag_ms)
NUM_FIELD(lag_waits)
NUM_FIELD(semi_timeouts)
NUM_FIELD(draining)
NUM_FIELD(writes)
NUM_FIELD(remote_writes)
NUM_FIELD(remote_errors)
NUM_FIELD(local_errors)
NUM_FIELD(local_read_errors)
NUM_FIELD(remote_reads)
NUM_FIELD(meta_writes)
NUM_FIELD(marked)
NUM_FIELD(meta_failed)
NUM_FIELD(peer_meta_writes)

FIELD_FN(f_name)
{
	const struct xstatus *s = data;

	(void)mem;
	(void)private;
	return put_str(rh, field, s->name);
}

FIELD_FN(f_size)
{
	const struct xstatus *s = data;

	(void)rh;
	return put_size(mem, field, s->sectors, private);
}

FIELD_FN(f_region_size)
{
	(void)rh;
	return put_size(mem, field, st_num(data, "region_size"), private);
}

/* Bytes of dirty regions: what a resync would copy, at most. */
FIELD_FN(f_out_of_sync)
{
	const struct xstatus *s = data;
	uint64_t sectors = st_frac(s, "dirty", 0) * st_num(s, "region_size");

	(void)rh;
	if (sectors > s->sectors)
		sectors = s->sectors;
	return put_size(mem, field, sectors, private);
}

FIELD_FN(f_lag_bytes)
{
	(void)rh;
	return put_size(mem, field, st_num(data, "lag_bytes") >> 9, private);
}

FIELD_FN(f_dirty)
{
	(void)private;
	return put_dup(rh, mem, field, st_str_or(data, "dirty", "?"));
}

FIELD_FN(f_dirty_regions)
{
	(void)mem;
	(void)private;
	return put_num(rh, field, st_frac(data, "dirty", 0));
}

FIELD_FN(f_total_regions)
{
	(void)mem;
	(void)private;
	return put_num(rh, field, st_frac(data, "dirty", 1));
}

FIELD_FN(f_in_sync_percent)
{
	uint64_t dirty = st_frac(data, "dirty", 0), total = st_frac(data, "dirty", 1);

	(void)mem;
	(void)private;
	return put_percent(rh, field, total - (dirty < total ? dirty : total), total);
}

/* "-", or the progress and rate of the running resync. */
FIELD_FN(f_resync)
{
	const struct xstatus *s = data;
	uint64_t total = st_frac(s, "resync", 1);
	char buf[64];

	(void)private;
	if (st_num(s, "resync_active") && total)
		snprintf(buf, sizeof(buf), "%" PRIu64 "%% %" PRIu64 "KiB/s",
			 st_frac(s, "resync", 0) * 100 / total,
			 st_num(s, "resync_rate"));
	else
		snprintf(buf, sizeof(buf), "-");
	return put_dup(rh, mem, field, buf);
}

FIELD_FN(f_resync_done)
{
	(void)mem;
	(void)private;
	return put_num(rh, field, st_frac(data, "resync", 0));
}

FIELD_FN(f_resync_total)
{
	(void)mem;
	(void)private;
	return put_num(rh, field, st_frac(data, "resync", 1));
}

FIELD_FN(f_resync_percent)
{
	(void)mem;
	(void)private;
	return put_percent(rh, field, st_frac(data, "resync", 0),
			   st_frac(data, "resync", 1));
}

FIELD_FN(f_lag)
{
	const struct xstatus *s = data;
	char buf[48];

	(void)private;
	snprintf(buf, sizeof(buf), "%" PRIu64 "KiB/%" PRIu64 "ms",
		 st_num(s, "lag_bytes") >> 10, st_num(s, "oldest_lag_ms"));
	return put_dup(rh, mem, field, buf);
}

FIELD_FN(f_errors)
{
	const struct xstatus *s = data;
	char buf[48];

	(void)private;
	snprintf(buf, sizeof(buf), "%" PRIu64 "/%" PRIu64,
		 st_num(s, "remote_errors"), st_num(s, "local_errors"));
	return put_dup(rh, mem, field, buf);
}

FIELD_FN(f_health)
{
	(void)mem;
	(void)private;
	return put_str(rh, field, xhealth_name(st_health(data, NULL)));
}

FIELD_FN(f_health_reason)
{
	const char *why;

	(void)mem;
	(void)private;
	st_health(data, &why);
	return put_str(rh, field, why);
}

#define STR	(DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_LEFT)
/* Counts written as strings ("1/0"): right-aligned like numbers. */
#define STR_R	(DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_RIGHT)
/*
 * Number, size and percent fields carry their type alone: libdevmapper
 * aligns them right by itself, and its selection (-S) takes no other bit.
 */
#define NUM	DM_REPORT_FIELD_TYPE_NUMBER
#define SIZE	DM_REPORT_FIELD_TYPE_SIZE
#define PCT	DM_REPORT_FIELD_TYPE_PERCENT
#define F(flags, width, id, heading, desc) \
	{ OBJ_XREPL, flags, 0, width, #id, heading, f_##id, desc }

static const struct dm_report_field_type fields[] = {
	F(STR, 4, name, "NAME", "Device name."),
	F(SIZE, 4, size, "SIZE", "Size of the device."),
	F(STR, 4, mode, "MODE", "Replication mode: sync, semi-sync, async or periodic."),
	F(STR, 6, remote, "REMOTE", "insync, resyncing, degraded, point or cycling."),
	F(STR, 8, degraded_by, "DEGRADED",
	  "Why the remote receives no writes: none, error, admin, probe, congestion or absent."),
	F(STR, 6, health, "HEALTH",
	  "What status --check makes of the device: ok, degraded or failed."),
	F(STR, 6, health_reason, "REASON",
	  "Why: insync, point, cycling, degraded, resyncing, meta-failed, peer-refused or resync-stalled."),
	F(STR, 5, dirty, "DIRTY", "Dirty regions/all regions."),
	F(NUM, 5, dirty_regions, "DIRTY#", "Dirty regions (the remote may miss them)."),
	F(NUM, 7, total_regions, "REGIONS", "Regions of the device."),
	F(SIZE, 6, region_size, "REGION", "Region size."),
	F(SIZE, 7, out_of_sync, "OUTSYNC", "Size of the dirty regions (at most the device size)."),
	F(PCT, 6, in_sync_percent, "INSYNC%", "Share of the regions that are not dirty."),
	F(STR, 6, resync, "RESYNC", "Progress and rate of the running resync, or -."),
	F(NUM, 8, resync_active, "RESYNCING", "1 while a resync is wanted."),
	F(NUM, 6, resync_done, "COPIED", "Regions copied by the current or last resync."),
	F(NUM, 6, resync_total, "TOCOPY", "Regions to copy in the current or last resync."),
	F(PCT, 7, resync_percent, "RESYNC%", "Progress of the current or last resync."),
	F(NUM, 6, resync_rate, "RATE", "Rate of the running resync in KiB/s."),
	F(NUM, 6, resync_rate_kbps, "MAXRATE", "Resync rate limit in KiB/s (0: none)."),
	F(NUM, 6, copied_regions, "COPIED_ALL", "Regions copied by every resync."),
	F(STR, 10, lag, "LAG/OLDEST", "Data held for the remote and the age of the oldest write."),
	F(SIZE, 6, lag_bytes, "LAGSIZE", "Data held for the remote."),
	F(NUM, 6, lag_writes, "LAGWRITES", "Writes held for the remote."),
	F(NUM, 6, oldest_lag_ms, "LAGMS", "Age in ms of the oldest write not yet on the remote."),
	F(NUM, 6, lag_waits, "LAGWAITS", "Writes that waited at the lag bound."),
	F(NUM, 6, semi_timeouts, "SEMITIMEOUTS", "Semi-sync writes acknowledged on the timeout."),
	F(NUM, 6, draining, "DRAINING", "1 while writes of an asynchronous mode drain."),
	F(NUM, 4, held, "HELD", "1 while shipping is held (hold, ship_until)."),
	F(NUM, 7, delay_ms, "DELAYMS", "Delayed replication: an entry ships once this old (ms)."),
	F(NUM, 9, ship_point_ms, "SHIPPOINT",
	  "With a journal: every write made before this time (ms since the epoch) is on the remote; 0: not known."),
	F(NUM, 9, ship_until_ms, "SHIPUNTIL",
	  "The point ship_until rolls the remote to (ms since the epoch); 0: none."),
	F(NUM, 7, journal_used_kb, "JUSEDKB", "KiB of the journal's log in use."),
	F(NUM, 7, journal_size_kb, "JSIZEKB", "KiB of the journal's log."),
	F(STR, 4, consistent, "CONS", "Whether the remote holds a consistent image."),
	F(STR, 4, peer, "PEER", "The remote site's metadata: none, ok, unknown or a refusal."),
	F(STR, 4, on_remote_error, "ONERROR", "Policy on a remote error: degrade or fail."),
	F(STR_R, 11, errors, "ERRORS(R/L)", "Remote errors/local errors."),
	F(NUM, 6, remote_errors, "RERRORS", "Failed remote I/Os."),
	F(NUM, 6, local_errors, "LERRORS", "Failed local I/Os."),
	F(NUM, 6, local_read_errors, "LREADERRORS", "Reads the local leg failed."),
	F(NUM, 6, remote_reads, "RREADS", "Failed local reads served by the remote."),
	F(NUM, 6, writes, "WRITES", "Writes mapped."),
	F(NUM, 6, remote_writes, "RWRITES", "Writes and flushes sent to the remote."),
	F(STR, 4, meta, "META", "Metadata device (major:minor) or -."),
	F(NUM, 6, meta_writes, "METAWRITES", "Metadata blocks written."),
	F(NUM, 6, marked, "MARKED", "Regions marked on the metadata device."),
	F(NUM, 6, meta_failed, "METAFAILED", "1 after a metadata write failed."),
	F(NUM, 6, peer_meta_writes, "PEERWRITES", "Superblock writes to the remote site's metadata."),
	{ 0, 0, 0, 0, "", "", NULL, NULL }
};

static bool is_help(const char *list)
{
	return list && (!strcmp(list, "help") || !strcmp(list, "?"));
}

bool report_wants_help(const struct report_opts *o)
{
	return is_help(o->fields) || is_help(o->sort);
}

/* -o help: the fields, one per line, on stdout. */
static void print_fields(void)
{
	const struct dm_report_field_type *f;

	printf("Fields of xreplctl status (-o, -O, -S); default: %s\n",
	       DEFAULT_FIELDS);
	for (f = fields; f->report_fn; f++)
		printf("  %-18s %s\n", f->id, f->desc);
}

/* Parse --units as lvs does; false if it is not a unit. */
static bool parse_units(const char *s, struct units *u)
{
	const char *end;

	u->type = 'h';
	u->factor = 0;
	if (!s)
		return true;
	if (!strcmp(s, "h") || !strcmp(s, "H")) {
		u->type = s[0];
		return true;
	}
	u->factor = dm_units_to_factor(s, &u->type, 1, &end);
	return u->factor && !*end;
}

/*
 * Print the report o describes of the n statuses s.  EXIT_OK; EXIT_USAGE
 * for fields, sort keys, a selection or units the report does not know
 * (libdevmapper has said which); EXIT_FAILED if it cannot be built.
 * With -o help (or -O help), only the fields are listed, on stdout.
 */
int report_print(const struct report_opts *o, struct xstatus *s, size_t n)
{
	uint32_t flags = DM_REPORT_OUTPUT_BUFFERED, type = OBJ_XREPL;
	struct dm_report_group *group = NULL;
	const char *want = o->fields ? o->fields : DEFAULT_FIELDS;
	struct dm_report *rh;
	struct units u;
	char *joined = NULL;
	int r = EXIT_FAILED, ok;
	size_t i;

	if (report_wants_help(o)) {
		print_fields();
		return EXIT_OK;
	}
	if (!parse_units(o->units, &u)) {
		msg("status: --units %s: not a unit (h, H, b, s, k, m, g, t, p, e, or upper case for powers of 1000)",
		    o->units);
		return EXIT_USAGE;
	}
	u.suffix = !o->nosuffix;
	/* "-o +f,g": the default fields and f and g, as in lvs. */
	if (o->fields && o->fields[0] == '+') {
		if (asprintf(&joined, "%s,%s", DEFAULT_FIELDS, o->fields + 1) < 0)
			return EXIT_FAILED;
		want = joined;
	}
	if (!o->noheadings)
		flags |= DM_REPORT_OUTPUT_HEADINGS;
	if (!o->separator || o->aligned)
		flags |= DM_REPORT_OUTPUT_ALIGNED;
	rh = dm_report_init_with_selection(&type, types, fields, want,
					   o->separator ? o->separator : " ",
					   flags, o->sort ? o->sort : "name",
					   o->select, NULL, &u);
	free(joined);
	if (!rh) {
		msg("status: \"xreplctl status -o help\" lists the fields");
		return EXIT_USAGE;
	}
	if (o->json) {
		group = dm_report_group_create(DM_REPORT_GROUP_JSON, NULL);
		if (!group || !dm_report_group_push(group, NULL, (void *)"report") ||
		    !dm_report_group_push(group, rh, (void *)"xrepl"))
			goto out;
	}
	for (i = 0; i < n; i++)
		if (!dm_report_object(rh, &s[i]))
			goto out;
	if (group) {
		/* Destroying the group prints it, and closes every bracket. */
		ok = dm_report_group_destroy(group);
		group = NULL;
		if (!ok)
			goto out;
	} else if (!dm_report_output(rh)) {
		goto out;
	}
	r = EXIT_OK;
out:
	if (group)
		dm_report_group_destroy(group);
	dm_report_free(rh);
	return r;
}
