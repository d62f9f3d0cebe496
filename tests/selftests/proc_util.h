/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one reader of /proc/net/nstcp and /proc/net/nstcp_listen for the
 * selftests (the shell tests have nstcp_proc_col in lib.sh).
 *
 * Both files are a header line of column names and rows of
 * whitespace-separated fields.  Columns are found by the names in the
 * header (NSTCP_PROC_COLUMNS, NSTCP_LISTEN_COLUMNS in linux/nstcp.h), never
 * by position: a column added later, or a new order, changes nothing here;
 * a column the tests need that is missing, or a row with another number of
 * fields than the header, makes the read fail.  Text columns (addr, key,
 * policy) are kept as they are ("-" or "*" for a key included).
 *
 * The files are read in the calling thread's network namespace
 * (/proc/thread-self/net/...).  Needs only libc and linux/nstcp.h.
 */
#ifndef NSTCP_SELFTEST_PROC_UTIL_H
#define NSTCP_SELFTEST_PROC_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROC_NSTCP		"/proc/thread-self/net/nstcp"
#define PROC_NSTCP_LISTEN	"/proc/thread-self/net/nstcp_listen"
#define PROC_MAXCPU		256	/* rows of /proc/net/nstcp read */
#define PROC_MAXCOLS		64
#define PROC_LINE		1024

/*
 * Writes val to /proc/sys/NAME (NAME as in "net/nstcp/accept_steal") of
 * the calling thread's namespace; 0 or the errno of the open or write.
 */
static inline int proc_sys_write(const char *name, const char *val)
{
	char path[160];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* The same for net.nstcp.NAME. */
static inline int proc_nstcp_sysctl_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "net/nstcp/%s", name);
	return proc_sys_write(path, val);
}

/* One line split into fields (in place); the number of fields. */
static inline int proc_split(char *line, char *field[PROC_MAXCOLS])
{
	char *save, *tok;
	int n = 0;

	for (tok = strtok_r(line, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (n == PROC_MAXCOLS)
			return -1;
		field[n++] = tok;
	}
	return n;
}

/*
 * Finds each of names[0..n-1] in the header's fields: idx[i] is its
 * position.  0, or -1 (with a message on stderr) if one is missing.
 */
static inline int proc_columns(char *head[], int ncols, const char *const names[],
			       int n, int idx[], const char *path)
{
	for (int i = 0; i < n; i++) {
		idx[i] = -1;
		for (int c = 0; c < ncols; c++)
			if (!strcmp(head[c], names[i]))
				idx[i] = c;
		if (idx[i] < 0) {
			fprintf(stderr, "%s: no column %s in its header\n",
				path, names[i]);
			return -1;
		}
	}
	return 0;
}

/* A whole field as a number; 0, or -1 if it is not one. */
static inline int proc_long(const char *s, long *v)
{
	char *end;

	*v = strtol(s, &end, 10);
	return end == s || *end ? -1 : 0;
}

/*
 * The header line of path (PROC_NSTCP, PROC_NSTCP_LISTEN) without its
 * newline, for a test of the ABI itself; 0, or -1 if unreadable.
 */
static inline int proc_read_header(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "re");
	int ok;

	if (!fp)
		return -1;
	ok = fgets(buf, len, fp) != NULL;
	fclose(fp);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* ---- /proc/net/nstcp: one row per CPU instance ---- */

/* The counters, in the order of the file today (not relied on). */
enum { PROC_SOCKETS, PROC_CLOSES, PROC_ACCEPTS, PROC_CONNECTS, PROC_CALLS,
       PROC_HOPS, PROC_GIVEN, PROC_TAKEN, PROC_EXPIRED, PROC_REFUSED,
       PROC_REHOMED, PROC_UNSTEERED, PROC_LCONNECTS, PROC_LFALLBACKS,
       PROC_LMISSES, PROC_NSTATS };

static const char *const proc_stat_names[PROC_NSTATS] = {
	"sockets", "closes", "accepts", "connects", "calls", "hops",
	"given", "taken", "expired", "refused", "rehomed", "unsteered",
	"lconnects", "lfallbacks", "lmisses",
};

struct proc_cpu {
	int cpu, online;
	unsigned long v[PROC_NSTATS];	/* PROC_SOCKETS... */
};

struct proc_stats {
	int rows;			/* -1: unreadable or malformed */
	int online;			/* rows with online 1 */
	struct proc_cpu row[PROC_MAXCPU];	/* in the file's order */
	unsigned long sum[PROC_NSTATS];	/* over the rows */
};

/*
 * Reads path (PROC_NSTCP when NULL) into st; returns st->rows, -1 if the
 * file is unreadable or malformed.
 */
static inline int proc_read_stats_from(const char *path, struct proc_stats *st)
{
	static const char *const id_names[] = { "cpu", "online" };
	char line[PROC_LINE], *f[PROC_MAXCOLS];
	int ncols, idx[PROC_NSTATS], id[2];
	FILE *fp;

	if (!path)
		path = PROC_NSTCP;
	memset(st, 0, sizeof(*st));
	st->rows = -1;
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	if (!fgets(line, sizeof(line), fp) ||
	    (ncols = proc_split(line, f)) <= 0 ||
	    proc_columns(f, ncols, id_names, 2, id, path) ||
	    proc_columns(f, ncols, proc_stat_names, PROC_NSTATS, idx, path))
		goto bad;
	st->rows = 0;
	while (fgets(line, sizeof(line), fp)) {
		struct proc_cpu *r = &st->row[st->rows];
		long v;

		if (st->rows == PROC_MAXCPU || proc_split(line, f) != ncols)
			goto bad;
		if (proc_long(f[id[0]], &v))
			goto bad;
		r->cpu = v;
		if (proc_long(f[id[1]], &v))
			goto bad;
		r->online = v;
		for (int i = 0; i < PROC_NSTATS; i++) {
			if (proc_long(f[idx[i]], &v) || v < 0)
				goto bad;
			r->v[i] = v;
			st->sum[i] += v;
		}
		st->online += r->online == 1;
		st->rows++;
	}
	fclose(fp);
	return st->rows;
bad:
	fprintf(stderr, "%s: unexpected contents\n", path);
	fclose(fp);
	memset(st, 0, sizeof(*st));
	st->rows = -1;
	return -1;
}

static inline int proc_read_stats(struct proc_stats *st)
{
	return proc_read_stats_from(NULL, st);
}

/* The row of CPU cpu, NULL if the file has none. */
static inline const struct proc_cpu *proc_cpu_row(const struct proc_stats *st,
						  int cpu)
{
	for (int i = 0; i < st->rows; i++)
		if (st->row[i].cpu == cpu)
			return &st->row[i];
	return NULL;
}

/* Counter i of CPU cpu; -1 if the file has no row for it. */
static inline long proc_cpu_stat(const struct proc_stats *st, int cpu, int i)
{
	const struct proc_cpu *r = proc_cpu_row(st, cpu);

	return r ? (long)r->v[i] : -1;
}

/* ---- /proc/net/nstcp_listen: one row per listening port and CPU ---- */

struct proc_listen_row {
	char addr[80];		/* [address]:port */
	int port;
	char key[24];		/* "-": exclusive; "*": not shown to us */
	char policy[16];
	long listeners, cpu, queued, accepted, stolen, migrated;
	long owner;		/* the uid every member of the port has */
};

/*
 * Reads the rows of path (PROC_NSTCP_LISTEN when NULL) whose port is port
 * (port < 0: every row) into rows[0..max-1]; returns how many, -1 if the
 * file is unreadable or malformed or has more than max such rows.
 */
static inline int proc_read_listen_from(const char *path, int port,
					struct proc_listen_row *rows, int max)
{
	enum { ADDR, KEY, POLICY, LISTENERS, CPU, QUEUED, ACCEPTED, STOLEN,
	       MIGRATED, OWNER, NCOLS };
	static const char *const names[NCOLS] = {
		"addr", "key", "policy", "listeners", "cpu", "queued",
		"accepted", "stolen", "migrated", "owner",
	};
	char line[PROC_LINE], *f[PROC_MAXCOLS], *colon;
	int ncols, idx[NCOLS], n = 0;
	FILE *fp;

	if (!path)
		path = PROC_NSTCP_LISTEN;
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	if (!fgets(line, sizeof(line), fp) ||
	    (ncols = proc_split(line, f)) <= 0 ||
	    proc_columns(f, ncols, names, NCOLS, idx, path))
		goto bad;
	while (fgets(line, sizeof(line), fp)) {
		struct proc_listen_row r;
		long v[NCOLS];

		memset(&r, 0, sizeof(r));
		if (proc_split(line, f) != ncols)
			goto bad;
		colon = strrchr(f[idx[ADDR]], ':');
		if (!colon || proc_long(colon + 1, &v[ADDR]))
			goto bad;
		r.port = v[ADDR];
		if (port >= 0 && r.port != port)
			continue;
		for (int i = LISTENERS; i < NCOLS; i++)
			if (proc_long(f[idx[i]], &v[i]))
				goto bad;
		snprintf(r.addr, sizeof(r.addr), "%s", f[idx[ADDR]]);
		snprintf(r.key, sizeof(r.key), "%s", f[idx[KEY]]);
		snprintf(r.policy, sizeof(r.policy), "%s", f[idx[POLICY]]);
		r.listeners = v[LISTENERS];
		r.cpu = v[CPU];
		r.queued = v[QUEUED];
		r.accepted = v[ACCEPTED];
		r.stolen = v[STOLEN];
		r.owner = v[OWNER];
		r.migrated = v[MIGRATED];
		if (n == max)
			goto bad;
		rows[n++] = r;
	}
	fclose(fp);
	return n;
bad:
	fprintf(stderr, "%s: unexpected contents\n", path);
	fclose(fp);
	return -1;
}

static inline int proc_read_listen(int port, struct proc_listen_row *rows,
				   int max)
{
	return proc_read_listen_from(NULL, port, rows, max);
}

#endif
