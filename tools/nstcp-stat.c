// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp-stat: show the AF_NSTCP per-CPU protocol instances and their
 * counters, in the manner of ss and ip -s.
 *
 * The counters come from /proc/net/nstcp, which shows the instances of the
 * network namespace of whoever opens it: -n NETNS enters a named namespace
 * (/run/netns/NETNS, as made by ip netns add) before opening it.  The file's
 * header line names its columns; they are looked up by name, so columns
 * this tool does not know yet are shown as they come.
 *
 * With -l it shows the listening ports instead, from /proc/net/nstcp_listen
 * (the NonStop STATUS MON view): per port its policy, share key and
 * listeners, and per CPU instance the connections queued on the port's
 * listener of that CPU, taken from it, and taken by an acceptor on another
 * CPU, with a total for the port.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#define PROC_NSTCP	"/proc/net/nstcp"
#define PROC_LISTEN	"/proc/net/nstcp_listen"
#define PROC_TOKENS	"/proc/net/nstcp_tokens"
#define SYSCTL_DIR	"/proc/sys/net/nstcp/"

/* One reading of /proc/net/nstcp. */
struct snap {
	int ncols;
	char **cols;			/* column names, from the header */
	int nrows;
	unsigned long long *val;	/* nrows x ncols */
	int family;			/* net.nstcp.family, -1 if unknown */
	int hop_acct;			/* net.nstcp.hop_accounting, -1 if unknown */
};

/* Columns of interest, found by name; -1 when absent. */
struct layout {
	int cpu, online, calls, hops;
};

static const char *prog = "nstcp-stat";
static const char *opt_file;	/* NULL: PROC_NSTCP */
static const char *opt_netns;
static bool opt_json;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-l | -t] [-j] [-n NETNS] [-i SECS [-c COUNT]] [-f FILE]\n"
		"Show the AF_NSTCP per-CPU protocol instances and their counters,\n"
		"or with -l the listening ports, with -t the pending hand-offs.\n"
		"\n"
		"  -l, --listen         the listening ports, per port and CPU instance\n"
		"                       (from " PROC_LISTEN ")\n"
		"  -t, --tokens         the hand-offs given and not yet taken: giver\n"
		"                       pid, taker (pid:N or uid:N), age and time left\n"
		"                       in ms, flow CPU, local and peer address\n"
		"                       (from " PROC_TOKENS ")\n"
		"  -j, --json           JSON output, one object a report\n"
		"  -n, --netns NETNS    the instances of network namespace NETNS\n"
		"                       (a name from ip netns, or a path such as\n"
		"                       /proc/PID/ns/net)\n"
		"  -i, --interval SECS  report every SECS seconds: first the counts\n"
		"                       so far, then what changed in each interval\n"
		"  -c, --count COUNT    with -i: stop after COUNT reports\n"
		"  -f, --file FILE      read FILE instead of " PROC_NSTCP "\n"
		"                       (with -l: of " PROC_LISTEN ")\n"
		"  -h, --help           this help\n"
		"\n"
		"Columns: cpu, online, sockets (created or accepted), closes,\n"
		"accepts, connects, calls (data-path socket calls made on the CPU),\n"
		"hops (calls for a flow whose packets are processed on another CPU),\n"
		"hop%% (hops per 100 calls), and the hand-off counters given, taken,\n"
		"expired, refused, rehomed (takes whose RFS entry now names the\n"
		"taker's CPU) and unsteered (takes with RFS off).  Columns that a newer module adds are\n"
		"shown as they come.\n"
		"\n"
		"With -l, per port: its address, key (- when the port is not shared),\n"
		"policy, listeners (AF_NSTCP listening sockets) and migrated\n"
		"(connections handed on by a listener that shut down or closed); per\n"
		"CPU instance: queued (waiting now on the port's listener of the CPU),\n"
		"accepted (taken from it), stolen (of those, taken by an accept() on\n"
		"another CPU) and local%% (the others, per 100 accepted); then the\n"
		"port's total.\n",
		prog);
}

static void snap_free(struct snap *s)
{
	int i;

	for (i = 0; i < s->ncols; i++)
		free(s->cols[i]);
	free(s->cols);
	free(s->val);
	memset(s, 0, sizeof(*s));
}

static int col_index(const struct snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->ncols; i++)
		if (!strcmp(s->cols[i], name))
			return i;
	return -1;
}

static struct layout layout_of(const struct snap *s)
{
	struct layout l = {
		.cpu = col_index(s, "cpu"),
		.online = col_index(s, "online"),
		.calls = col_index(s, "calls"),
		.hops = col_index(s, "hops"),
	};
	return l;
}

/* A column whose value is a state, not a count: deltas keep it as is. */
static bool col_is_state(const struct snap *s, int c)
{
	return !strcmp(s->cols[c], "cpu") || !strcmp(s->cols[c], "online");
}

static unsigned long long *cell(const struct snap *s, int r, int c)
{
	return &s->val[(size_t)r * s->ncols + c];
}

static int read_int_file(const char *path)
{
	FILE *f = fopen(path, "re");
	int v;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static void no_memory(void)
{
	fprintf(stderr, "%s: out of memory\n", prog);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		no_memory();
	return p;
}

/*
 * Read the counters into @s.  Returns 0, or -1 after printing why.  A file
 * that does not exist means the module is not loaded (or, with -f, a wrong
 * name).
 */
static int snap_read(struct snap *s)
{
	const char *path = opt_file ? opt_file : PROC_NSTCP;
	char *line = NULL, *tok, *save, *end;
	size_t cap = 0;
	int lineno = 0, c;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !opt_file)
			fprintf(stderr, "%s: AF_NSTCP is not loaded (no %s)\n",
				prog, PROC_NSTCP);
		else
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (lineno == 1) {
			for (tok = strtok_r(line, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save)) {
				s->cols = xrealloc(s->cols, (s->ncols + 1) *
						   sizeof(*s->cols));
				s->cols[s->ncols] = strdup(tok);
				if (!s->cols[s->ncols])
					no_memory();
				s->ncols++;
			}
			if (col_index(s, "cpu") < 0)
				goto bad;
			continue;
		}
		s->val = xrealloc(s->val, (size_t)(s->nrows + 1) * s->ncols *
				  sizeof(*s->val));
		c = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (c == s->ncols)
				goto bad;
			errno = 0;
			*cell(s, s->nrows, c++) = strtoull(tok, &end, 10);
			if (errno || *end || *tok == '-')
				goto bad;
		}
		if (c == 0)	/* a blank line */
			continue;
		if (c != s->ncols)
			goto bad;
		s->nrows++;
	}
	if (ferror(f) || lineno == 0) {
		lineno++;
		goto bad;
	}
	free(line);
	fclose(f);
	if (opt_file) {
		s->family = -1;
		s->hop_acct = -1;
	} else {
		/* Per namespace too: /proc/sys/net follows the opener. */
		s->family = read_int_file(SYSCTL_DIR "family");
		s->hop_acct = read_int_file(SYSCTL_DIR "hop_accounting");
	}
	return 0;

bad:
	fprintf(stderr, "%s: %s: unexpected contents at line %d\n", prog, path,
		lineno);
	free(line);
	fclose(f);
	snap_free(s);
	return -1;
}

static bool same_shape(const struct snap *a, const struct snap *b)
{
	int i;

	if (a->ncols != b->ncols || a->nrows != b->nrows)
		return false;
	for (i = 0; i < a->ncols; i++)
		if (strcmp(a->cols[i], b->cols[i]))
			return false;
	return true;
}

/*
 * @d = @cur - @prev for the counters; states are copied.  Returns false (and
 * leaves @d unset) when the two cannot be compared: other columns or rows,
 * or a counter that went back (the module was reloaded).
 */
static bool snap_delta(struct snap *d, const struct snap *cur,
		       const struct snap *prev)
{
	int r, c;

	if (!same_shape(cur, prev))
		return false;
	for (r = 0; r < cur->nrows; r++)
		for (c = 0; c < cur->ncols; c++)
			if (!col_is_state(cur, c) &&
			    *cell(cur, r, c) < *cell(prev, r, c))
				return false;

	*d = *cur;
	d->val = xrealloc(NULL, (size_t)cur->nrows * cur->ncols *
			  sizeof(*d->val));
	for (r = 0; r < cur->nrows; r++)
		for (c = 0; c < cur->ncols; c++)
			*cell(d, r, c) = *cell(cur, r, c) -
				(col_is_state(cur, c) ? 0 : *cell(prev, r, c));
	return true;
}

/* Sum of a column over the rows. */
static unsigned long long col_sum(const struct snap *s, int c)
{
	unsigned long long sum = 0;
	int r;

	for (r = 0; r < s->nrows; r++)
		sum += *cell(s, r, c);
	return sum;
}

/* hop% of a row (-1: the total); false when there were no calls. */
static bool hop_pct(const struct snap *s, const struct layout *l, int r,
		    double *pct)
{
	unsigned long long calls, hops;

	if (l->calls < 0 || l->hops < 0)
		return false;
	calls = r < 0 ? col_sum(s, l->calls) : *cell(s, r, l->calls);
	hops = r < 0 ? col_sum(s, l->hops) : *cell(s, r, l->hops);
	if (!calls)
		return false;
	*pct = 100.0 * (double)hops / (double)calls;
	return true;
}

/* ---- table ---- */

#define CELL_LEN 32

/* Displayed columns: the file's, with hop% after hops. */
struct dcol {
	int src;		/* column of the snap, or -1 for hop% */
	char title[CELL_LEN];
	int width;
	bool left;
};

static void make_title(char *buf, const char *name)
{
	if (!strcmp(name, "cpu")) {
		snprintf(buf, CELL_LEN, "CPU");
		return;
	}
	snprintf(buf, CELL_LEN, "%s", name);
	if (buf[0] >= 'a' && buf[0] <= 'z')
		buf[0] += 'A' - 'a';
}

/* The text of one cell; r == -1 is the total line. */
static void cell_text(char *buf, const struct snap *s, const struct layout *l,
		      const struct dcol *dc, int r)
{
	double pct;
	int c = dc->src;

	if (c < 0) {
		if (hop_pct(s, l, r, &pct))
			snprintf(buf, CELL_LEN, "%.1f", pct);
		else
			snprintf(buf, CELL_LEN, "-");
	} else if (c == l->cpu) {
		if (r < 0)
			snprintf(buf, CELL_LEN, "all");
		else
			snprintf(buf, CELL_LEN, "%llu", *cell(s, r, c));
	} else if (c == l->online) {
		if (r < 0)
			snprintf(buf, CELL_LEN, "%llu/%d", col_sum(s, c),
				 s->nrows);
		else
			snprintf(buf, CELL_LEN, "%s",
				 *cell(s, r, c) ? "yes" : "no");
	} else {
		snprintf(buf, CELL_LEN, "%llu",
			 r < 0 ? col_sum(s, c) : *cell(s, r, c));
	}
}

static void print_heading(const struct snap *s, bool delta, double secs)
{
	char when[16] = "";
	time_t now = time(NULL);
	struct tm tm;

	printf("AF_NSTCP");
	if (s->family >= 0)
		printf(" family %d", s->family);
	if (opt_netns)
		printf(", netns %s", opt_netns);
	else if (opt_file)
		printf(", from %s", opt_file);
	if (s->hop_acct == 0)
		printf(", hop accounting off (calls and hops not counted)");
	else if (s->hop_acct > 0)
		printf(", hop accounting on");
	if (localtime_r(&now, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (delta)
		printf("; changes in %.1f s to %s\n", secs, when);
	else
		printf("; counts so far\n");
}

static void print_table(const struct snap *s, bool delta, double secs)
{
	struct layout l = layout_of(s);
	struct dcol *dc;
	char buf[CELL_LEN];
	int n = 0, i, r, w;

	dc = xrealloc(NULL, (s->ncols + 1) * sizeof(*dc));
	for (i = 0; i < s->ncols; i++) {
		dc[n] = (struct dcol){ .src = i, .left = i == l.cpu ||
							  i == l.online };
		make_title(dc[n++].title, s->cols[i]);
		if (i == l.hops && l.calls >= 0) {
			dc[n] = (struct dcol){ .src = -1 };
			snprintf(dc[n++].title, CELL_LEN, "Hop%%");
		}
	}
	for (i = 0; i < n; i++) {
		dc[i].width = strlen(dc[i].title);
		for (r = -1; r < s->nrows; r++) {
			cell_text(buf, s, &l, &dc[i], r);
			w = strlen(buf);
			if (w > dc[i].width)
				dc[i].width = w;
		}
	}

	print_heading(s, delta, secs);
	for (i = 0; i < n; i++)
		printf("%s%*s", i ? "  " : "", dc[i].left ? -dc[i].width :
		       dc[i].width, dc[i].title);
	putchar('\n');
	for (r = 0; r <= s->nrows; r++) {
		int row = r < s->nrows ? r : -1;

		for (i = 0; i < n; i++) {
			cell_text(buf, s, &l, &dc[i], row);
			printf("%s%*s", i ? "  " : "", dc[i].left ?
			       -dc[i].width : dc[i].width, buf);
		}
		putchar('\n');
	}
	free(dc);
}

/* ---- JSON ---- */

static void json_str(const char *str)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* N, or null when N is negative (not known). */
static void json_intval(int v)
{
	if (v >= 0)
		printf("%d", v);
	else
		printf("null");
}

static void json_int(const char *key, int v)
{
	printf(",\"%s\":", key);
	json_intval(v);
}

static void json_netns(void)
{
	printf(",\"netns\":");
	if (opt_netns)
		json_str(opt_netns);
	else
		printf("null");
}

/* The end of every JSON report's header: delta, interval, time, columns. */
static void json_columns(char *const *cols, int ncols, bool delta,
			 double secs)
{
	int c;

	printf(",\"delta\":%s", delta ? "true" : "false");
	if (delta)
		printf(",\"interval\":%.3f", secs);
	printf(",\"time\":%lld,\"columns\":[", (long long)time(NULL));
	for (c = 0; c < ncols; c++) {
		if (c)
			putchar(',');
		json_str(cols[c]);
	}
	putchar(']');
}

static void json_row(const struct snap *s, const struct layout *l, int r)
{
	double pct;
	int c;

	putchar('{');
	if (r < 0)
		printf("\"cpus\":%d", s->nrows);
	for (c = 0; c < s->ncols; c++) {
		if (r < 0 && c == l->cpu)
			continue;
		if (c || r < 0)
			putchar(',');
		json_str(s->cols[c]);
		printf(":%llu", r < 0 ? col_sum(s, c) : *cell(s, r, c));
	}
	if (l->calls >= 0 && l->hops >= 0) {
		if (hop_pct(s, l, r, &pct))
			printf(",\"hop_pct\":%.2f", pct);
		else
			printf(",\"hop_pct\":null");
	}
	putchar('}');
}

static void print_json(const struct snap *s, bool delta, double secs)
{
	struct layout l = layout_of(s);
	int r;

	printf("{\"family\":");
	json_intval(s->family);
	json_netns();
	json_int("hop_accounting", s->hop_acct);
	json_columns(s->cols, s->ncols, delta, secs);
	printf(",\"instances\":[");
	for (r = 0; r < s->nrows; r++) {
		if (r)
			putchar(',');
		json_row(s, &l, r);
	}
	printf("],\"total\":");
	json_row(s, &l, -1);
	printf("}\n");
}

static void report(const struct snap *s, bool delta, double secs, int nth)
{
	if (opt_json) {
		print_json(s, delta, secs);
	} else {
		if (nth)
			putchar('\n');
		print_table(s, delta, secs);
	}
	fflush(stdout);
}

/* ---- main ---- */

static int enter_netns(const char *name)
{
	char path[4096];
	int fd;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: network namespace %s: %s%s\n", prog, name,
			strerror(errno), errno == ENOENT ?
			" (see ip netns list)" : "");
		return -1;
	}
	if (setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "%s: cannot enter network namespace %s: %s\n",
			prog, name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_interval(double interval, long count)
{
	struct snap prev, cur, d;
	struct timespec next;
	double t_prev, t_cur;
	long n;

	if (snap_read(&prev))
		return 1;
	t_prev = now_secs();
	report(&prev, false, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (n = 1; !count || n < count; n++) {
		next.tv_sec += (time_t)interval;
		next.tv_nsec += (long)((interval - (time_t)interval) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		if (snap_read(&cur)) {
			snap_free(&prev);
			return 1;
		}
		t_cur = now_secs();
		if (snap_delta(&d, &cur, &prev)) {
			report(&d, true, t_cur - t_prev, n);
			free(d.val);
		} else {
			if (!opt_json)
				printf("\n(the counters were reset: the module was reloaded)\n");
			report(&cur, false, 0, opt_json ? n : 0);
		}
		snap_free(&prev);
		prev = cur;
		t_prev = t_cur;
	}
	snap_free(&prev);
	return 0;
}

/* ---- the listening ports (-l): /proc/net/nstcp_listen ---- */

/*
 * The file has one row per listening port and CPU instance; a port's rows
 * come together.  Columns are found by name.  What a column holds decides
 * how it is shown:
 *   addr, key, policy   text naming the port;
 *   cpu                 the CPU instance of the row;
 *   queued              a state (connections waiting now): summed in the
 *                       total, not turned into a change with -i;
 *   listeners, owner    states of the port (owner: the uid of its members);
 *   migrated            a count of the port;
 *   others that hold numbers: counts of the CPU instance (accepted, stolen,
 *   and what a newer module adds); others: text of the row.
 * A column said to be the port's (listeners, owner, migrated) is shown once per
 * port when every row of each port has the same value, as the module
 * prints it; should a module count it per CPU, it becomes a column of the
 * table instead.
 */
enum lkind {
	LK_NAME,	/* addr, key, policy: the port's text */
	LK_CPU,
	LK_STATE,	/* per CPU, not a count */
	LK_COUNT,	/* per CPU */
	LK_PSTATE,	/* the port's */
	LK_PCOUNT,	/* the port's */
	LK_TEXT,	/* per CPU text */
};

struct lsnap {
	int ncols;
	char **cols;
	enum lkind *kind;
	int nrows;
	char **cells;			/* nrows x ncols, as read */
	unsigned long long *val;	/* nrows x ncols, where a number */
	bool *isnum;			/* nrows x ncols */
	bool shared;			/* a delta: cols and cells are another's */
	int naddr, ncpu, nacc, nstolen;	/* column indexes, -1 if absent */
	int nports;
	int *port_row;			/* first row of each port */
	int *port_len;			/* its rows */
	bool *port_new;			/* a delta: the port was not there before */
	int family, steal, steal_delay;	/* -1 if unknown */
	char policy[32];		/* "" if unknown */
};

static bool opt_listen;
static bool opt_tokens;

static void lsnap_free(struct lsnap *s)
{
	int i;

	if (!s->shared) {
		for (i = 0; i < s->ncols; i++)
			free(s->cols[i]);
		for (i = 0; i < s->nrows * s->ncols; i++)
			free(s->cells[i]);
		free(s->cols);
		free(s->cells);
		free(s->kind);
		free(s->isnum);
		free(s->port_row);
		free(s->port_len);
	}
	free(s->val);
	free(s->port_new);
	memset(s, 0, sizeof(*s));
}

static int lcol(const struct lsnap *s, const char *name)
{
	int i;

	for (i = 0; i < s->ncols; i++)
		if (!strcmp(s->cols[i], name))
			return i;
	return -1;
}

static const char *lcell(const struct lsnap *s, int r, int c)
{
	return s->cells[(size_t)r * s->ncols + c];
}

static unsigned long long *lval(const struct lsnap *s, int r, int c)
{
	return &s->val[(size_t)r * s->ncols + c];
}

static bool lisnum(const struct lsnap *s, int r, int c)
{
	return s->isnum[(size_t)r * s->ncols + c];
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		no_memory();
	return p;
}

static char *xstrdup(const char *str)
{
	char *p = strdup(str);

	if (!p)
		no_memory();
	return p;
}

/* Whether every row of every port has the same value in column @c. */
static bool lcol_per_port(const struct lsnap *s, int c)
{
	int p, r;

	for (p = 0; p < s->nports; p++)
		for (r = s->port_row[p] + 1;
		     r < s->port_row[p] + s->port_len[p]; r++)
			if (strcmp(lcell(s, r, c), lcell(s, s->port_row[p], c)))
				return false;
	return true;
}

/* Sort the columns into kinds; false if a known one holds the wrong thing. */
static bool lsnap_classify(struct lsnap *s, int *badrow)
{
	int c, r;

	s->kind = xcalloc(s->ncols, sizeof(*s->kind));
	for (c = 0; c < s->ncols; c++) {
		const char *n = s->cols[c];
		bool num = true;

		for (r = 0; r < s->nrows; r++)
			if (!lisnum(s, r, c)) {
				num = false;
				break;
			}
		if (!strcmp(n, "addr") || !strcmp(n, "key") ||
		    !strcmp(n, "policy")) {
			s->kind[c] = LK_NAME;
			continue;
		}
		if (!strcmp(n, "cpu") || !strcmp(n, "queued") ||
		    !strcmp(n, "listeners") || !strcmp(n, "migrated") ||
		    !strcmp(n, "owner") ||
		    !strcmp(n, "accepted") || !strcmp(n, "stolen")) {
			if (!num) {
				*badrow = r;
				return false;
			}
		}
		if (!strcmp(n, "cpu"))
			s->kind[c] = LK_CPU;
		else if (!strcmp(n, "queued"))
			s->kind[c] = LK_STATE;
		else if (!strcmp(n, "listeners") || !strcmp(n, "owner"))
			s->kind[c] = lcol_per_port(s, c) ? LK_PSTATE : LK_STATE;
		else if (!strcmp(n, "migrated"))
			s->kind[c] = lcol_per_port(s, c) ? LK_PCOUNT : LK_COUNT;
		else
			s->kind[c] = num ? LK_COUNT : LK_TEXT;
	}
	return true;
}

static void read_str_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* Read /proc/net/nstcp_listen (or -f FILE) into @s; 0, or -1 after saying why. */
static int lsnap_read(struct lsnap *s)
{
	const char *path = opt_file ? opt_file : PROC_LISTEN;
	char *line = NULL, *tok, *save, *end;
	size_t cap = 0;
	int lineno = 0, c, r, badrow;
	char **row = NULL;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !opt_file) {
			if (access(PROC_NSTCP, F_OK) == 0)
				fprintf(stderr, "%s: this AF_NSTCP module has no per-CPU listening (no %s)\n",
					prog, PROC_LISTEN);
			else
				fprintf(stderr, "%s: AF_NSTCP is not loaded (no %s)\n",
					prog, PROC_LISTEN);
		} else {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
		}
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (lineno == 1) {
			for (tok = strtok_r(line, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save)) {
				s->cols = xrealloc(s->cols, (s->ncols + 1) *
						   sizeof(*s->cols));
				s->cols[s->ncols++] = xstrdup(tok);
			}
			if (lcol(s, "addr") < 0 || lcol(s, "cpu") < 0)
				goto bad;
			row = xcalloc(s->ncols, sizeof(*row));
			continue;
		}
		c = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (c == s->ncols)
				goto bad;
			row[c++] = tok;
		}
		if (c == 0)	/* a blank line */
			continue;
		if (c != s->ncols)
			goto bad;
		r = s->nrows++;
		s->cells = xrealloc(s->cells, (size_t)s->nrows * s->ncols *
				    sizeof(*s->cells));
		s->val = xrealloc(s->val, (size_t)s->nrows * s->ncols *
				  sizeof(*s->val));
		s->isnum = xrealloc(s->isnum, (size_t)s->nrows * s->ncols *
				    sizeof(*s->isnum));
		for (c = 0; c < s->ncols; c++) {
			size_t i = (size_t)r * s->ncols + c;

			s->cells[i] = xstrdup(row[c]);
			errno = 0;
			s->val[i] = strtoull(row[c], &end, 10);
			s->isnum[i] = !errno && !*end && *row[c] != '-' &&
				      *row[c] != '+' && *row[c];
			if (!s->isnum[i])
				s->val[i] = 0;
		}
		/* A new port starts where the address (or key) changes. */
		if (!s->nports ||
		    strcmp(lcell(s, r, lcol(s, "addr")),
			   lcell(s, s->port_row[s->nports - 1],
				 lcol(s, "addr"))) ||
		    (lcol(s, "key") >= 0 &&
		     strcmp(lcell(s, r, lcol(s, "key")),
			    lcell(s, s->port_row[s->nports - 1],
				  lcol(s, "key"))))) {
			s->port_row = xrealloc(s->port_row, (s->nports + 1) *
					       sizeof(*s->port_row));
			s->port_len = xrealloc(s->port_len, (s->nports + 1) *
					       sizeof(*s->port_len));
			s->port_row[s->nports] = r;
			s->port_len[s->nports++] = 0;
		}
		s->port_len[s->nports - 1]++;
	}
	if (ferror(f) || lineno == 0) {
		lineno++;
		goto bad;
	}
	if (!lsnap_classify(s, &badrow)) {
		lineno = badrow + 2;
		goto bad;
	}
	s->port_new = xcalloc(s->nports, sizeof(*s->port_new));
	s->naddr = lcol(s, "addr");
	s->ncpu = lcol(s, "cpu");
	s->nacc = lcol(s, "accepted");
	s->nstolen = lcol(s, "stolen");
	free(row);
	free(line);
	fclose(f);
	if (opt_file) {
		s->family = -1;
		s->steal = -1;
		s->steal_delay = -1;
	} else {
		s->family = read_int_file(SYSCTL_DIR "family");
		s->steal = read_int_file(SYSCTL_DIR "accept_steal");
		s->steal_delay = read_int_file(SYSCTL_DIR
					       "accept_steal_delay_ms");
		read_str_file(SYSCTL_DIR "listen_policy", s->policy,
			      sizeof(s->policy));
	}
	return 0;

bad:
	fprintf(stderr, "%s: %s: unexpected contents at line %d\n", prog, path,
		lineno);
	free(row);
	free(line);
	fclose(f);
	lsnap_free(s);
	return -1;
}

static bool lkind_counts(enum lkind k)
{
	return k == LK_COUNT || k == LK_PCOUNT;
}

/* The port of @prev that is port @p of @cur, or -1. */
static int lport_match(const struct lsnap *cur, int p, const struct lsnap *prev)
{
	int q, c, r0 = cur->port_row[p];

	for (q = 0; q < prev->nports; q++) {
		int s0 = prev->port_row[q];
		bool same = cur->port_len[p] == prev->port_len[q];

		for (c = 0; same && c < cur->ncols; c++)
			if (cur->kind[c] == LK_NAME &&
			    strcmp(cur->cols[c], "policy"))
				same = !strcmp(lcell(cur, r0, c),
					       lcell(prev, s0, c));
		if (same)
			return q;
	}
	return -1;
}

/*
 * @d = @cur with its counts made changes since @prev.  Ports that were not
 * there, whose rows differ or whose counts went back (closed and listened
 * on again) keep their counts so far and are marked new.  False when the
 * two files do not have the same columns.
 */
static bool lsnap_delta(struct lsnap *d, const struct lsnap *cur,
			const struct lsnap *prev)
{
	int p, q, r, c, i;

	if (cur->ncols != prev->ncols)
		return false;
	for (c = 0; c < cur->ncols; c++)
		if (strcmp(cur->cols[c], prev->cols[c]) ||
		    cur->kind[c] != prev->kind[c])
			return false;
	*d = *cur;
	d->shared = true;
	d->val = xrealloc(NULL, (size_t)cur->nrows * cur->ncols *
			  sizeof(*d->val));
	memcpy(d->val, cur->val, (size_t)cur->nrows * cur->ncols *
	       sizeof(*d->val));
	d->port_new = xcalloc(cur->nports, sizeof(*d->port_new));
	for (p = 0; p < cur->nports; p++) {
		bool ok;

		q = lport_match(cur, p, prev);
		ok = q >= 0;
		for (i = 0; ok && i < cur->port_len[p]; i++) {
			r = cur->port_row[p] + i;
			ok = *lval(cur, r, cur->ncpu) ==
			     *lval(prev, prev->port_row[q] + i, prev->ncpu);
			for (c = 0; ok && c < cur->ncols; c++)
				if (lkind_counts(cur->kind[c]) &&
				    *lval(cur, r, c) <
				    *lval(prev, prev->port_row[q] + i, c))
					ok = false;
		}
		if (!ok) {
			d->port_new[p] = true;
			continue;
		}
		for (i = 0; i < cur->port_len[p]; i++)
			for (c = 0; c < cur->ncols; c++)
				if (lkind_counts(cur->kind[c]))
					*lval(d, cur->port_row[p] + i, c) -=
						*lval(prev, prev->port_row[q] + i, c);
	}
	return true;
}

/* Sum of column @c over the rows of port @p. */
static unsigned long long lsum(const struct lsnap *s, int p, int c)
{
	unsigned long long sum = 0;
	int r;

	for (r = s->port_row[p]; r < s->port_row[p] + s->port_len[p]; r++)
		sum += *lval(s, r, c);
	return sum;
}

/*
 * Local%: of the connections taken from a CPU instance's queue, those an
 * acceptor on that CPU took (accepted less stolen).  @r -1: the port.
 */
static bool local_pct(const struct lsnap *s, int p, int r, double *pct)
{
	unsigned long long acc, st;

	if (s->nacc < 0 || s->nstolen < 0)
		return false;
	acc = r < 0 ? lsum(s, p, s->nacc) : *lval(s, r, s->nacc);
	st = r < 0 ? lsum(s, p, s->nstolen) : *lval(s, r, s->nstolen);
	if (!acc || st > acc)
		return false;
	*pct = 100.0 * (double)(acc - st) / (double)acc;
	return true;
}

static void lprint_heading(const struct lsnap *s, bool delta, double secs)
{
	char when[16] = "";
	time_t now = time(NULL);
	struct tm tm;

	printf("AF_NSTCP listening ports");
	if (s->family >= 0)
		printf(", family %d", s->family);
	if (opt_netns)
		printf(", netns %s", opt_netns);
	else if (opt_file)
		printf(", from %s", opt_file);
	if (s->policy[0])
		printf(", default policy %s", s->policy);
	if (s->steal > 0 && s->steal_delay > 0)
		printf(", accept stealing after %d ms", s->steal_delay);
	else if (s->steal >= 0)
		printf(", accept stealing %s", s->steal ? "on" : "off");
	if (localtime_r(&now, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (delta)
		printf("; changes in %.1f s to %s\n", secs, when);
	else
		printf("; counts so far\n");
}

/* The text of a per-CPU table cell of port @p; @r -1: the total line. */
static void lcell_text(char *buf, const struct lsnap *s, int p, int c, int r)
{
	double pct;

	if (c < 0) {		/* Local% */
		if (local_pct(s, p, r, &pct))
			snprintf(buf, CELL_LEN, "%.1f", pct);
		else
			snprintf(buf, CELL_LEN, "-");
	} else if (s->kind[c] == LK_CPU) {
		if (r < 0)
			snprintf(buf, CELL_LEN, "all");
		else
			snprintf(buf, CELL_LEN, "%llu", *lval(s, r, c));
	} else if (s->kind[c] == LK_TEXT) {
		snprintf(buf, CELL_LEN, "%s", r < 0 ? "-" : lcell(s, r, c));
	} else {
		snprintf(buf, CELL_LEN, "%llu",
			 r < 0 ? lsum(s, p, c) : *lval(s, r, c));
	}
}

static void lprint_port(const struct lsnap *s, int p, bool delta)
{
	struct dcol *dc;
	char buf[CELL_LEN];
	int n = 0, i, c, r, w, r0 = s->port_row[p];

	/* The port's line: its address, then its own columns. */
	printf("\nPort %s", lcell(s, r0, s->naddr));
	for (c = 0; c < s->ncols; c++) {
		if (c == s->naddr)
			continue;
		if (s->kind[c] == LK_NAME || s->kind[c] == LK_PSTATE)
			printf("  %s %s", s->cols[c], lcell(s, r0, c));
		else if (s->kind[c] == LK_PCOUNT)
			printf("  %s %llu", s->cols[c], *lval(s, r0, c));
	}
	if (delta && s->port_new[p])
		printf("  (new: counts so far)");
	putchar('\n');

	dc = xrealloc(NULL, (s->ncols + 1) * sizeof(*dc));
	for (c = 0; c < s->ncols; c++) {
		enum lkind k = s->kind[c];

		if (k == LK_NAME || k == LK_PSTATE || k == LK_PCOUNT)
			continue;
		dc[n] = (struct dcol){ .src = c, .left = k == LK_CPU ||
							 k == LK_TEXT };
		make_title(dc[n++].title, s->cols[c]);
		if (c == s->nstolen && s->nacc >= 0) {
			dc[n] = (struct dcol){ .src = -1 };
			snprintf(dc[n++].title, CELL_LEN, "Local%%");
		}
	}
	for (i = 0; i < n; i++) {
		dc[i].width = strlen(dc[i].title);
		for (r = -1; r < s->port_len[p]; r++) {
			lcell_text(buf, s, p, dc[i].src, r < 0 ? -1 : r0 + r);
			w = strlen(buf);
			if (w > dc[i].width)
				dc[i].width = w;
		}
	}
	for (i = 0; i < n; i++)
		printf("%s%*s", i ? "  " : "", dc[i].left ?
		       (i == n - 1 ? 0 : -dc[i].width) : dc[i].width,
		       dc[i].title);
	putchar('\n');
	for (r = 0; r <= s->port_len[p]; r++) {
		int row = r < s->port_len[p] ? r0 + r : -1;

		for (i = 0; i < n; i++) {
			lcell_text(buf, s, p, dc[i].src, row);
			/* No trailing blanks after a last column of text. */
			printf("%s%*s", i ? "  " : "", dc[i].left ?
			       (i == n - 1 ? 0 : -dc[i].width) : dc[i].width,
			       buf);
		}
		putchar('\n');
	}
	free(dc);
}

static void lprint_table(const struct lsnap *s, bool delta, double secs)
{
	int p;

	lprint_heading(s, delta, secs);
	if (!s->nports)
		printf("no AF_NSTCP listening ports\n");
	for (p = 0; p < s->nports; p++)
		lprint_port(s, p, delta);
}

/* A cell as a JSON value: a number, null for a key of "-", or a string. */
static void ljson_value(const struct lsnap *s, int r, int c)
{
	if (s->kind[c] != LK_NAME && s->kind[c] != LK_TEXT)
		printf("%llu", *lval(s, r, c));
	else if (!strcmp(s->cols[c], "key") && !strcmp(lcell(s, r, c), "-"))
		printf("null");
	else
		json_str(lcell(s, r, c));
}

static void ljson_pct(const struct lsnap *s, int p, int r)
{
	double pct;

	if (s->nacc < 0 || s->nstolen < 0)
		return;
	if (local_pct(s, p, r, &pct))
		printf(",\"local_pct\":%.2f", pct);
	else
		printf(",\"local_pct\":null");
}

static void ljson_port(const struct lsnap *s, int p, bool delta)
{
	int r0 = s->port_row[p], r, c;
	bool first = true;

	putchar('{');
	for (c = 0; c < s->ncols; c++) {
		enum lkind k = s->kind[c];

		if (k != LK_NAME && k != LK_PSTATE && k != LK_PCOUNT)
			continue;
		printf("%s", first ? "" : ",");
		first = false;
		json_str(s->cols[c]);
		putchar(':');
		ljson_value(s, r0, c);
	}
	if (delta)
		printf(",\"new\":%s", s->port_new[p] ? "true" : "false");
	printf(",\"instances\":[");
	for (r = r0; r < r0 + s->port_len[p]; r++) {
		printf("%s{", r > r0 ? "," : "");
		first = true;
		for (c = 0; c < s->ncols; c++) {
			enum lkind k = s->kind[c];

			if (k == LK_NAME || k == LK_PSTATE || k == LK_PCOUNT)
				continue;
			printf("%s", first ? "" : ",");
			first = false;
			json_str(s->cols[c]);
			putchar(':');
			ljson_value(s, r, c);
		}
		ljson_pct(s, p, r);
		putchar('}');
	}
	printf("],\"total\":{\"cpus\":%d", s->port_len[p]);
	for (c = 0; c < s->ncols; c++) {
		enum lkind k = s->kind[c];

		if (k == LK_STATE || k == LK_COUNT) {
			putchar(',');
			json_str(s->cols[c]);
			printf(":%llu", lsum(s, p, c));
		} else if (k == LK_PCOUNT) {
			putchar(',');
			json_str(s->cols[c]);
			printf(":%llu", *lval(s, r0, c));
		}
	}
	ljson_pct(s, p, -1);
	printf("}}");
}

static void lprint_json(const struct lsnap *s, bool delta, double secs)
{
	int p;

	printf("{\"family\":");
	json_intval(s->family);
	json_netns();
	printf(",\"listen_policy\":");
	if (s->policy[0])
		json_str(s->policy);
	else
		printf("null");
	json_int("accept_steal", s->steal);
	json_int("accept_steal_delay_ms", s->steal_delay);
	json_columns(s->cols, s->ncols, delta, secs);
	printf(",\"ports\":[");
	for (p = 0; p < s->nports; p++) {
		if (p)
			putchar(',');
		ljson_port(s, p, delta);
	}
	printf("]}\n");
}

static void lreport(const struct lsnap *s, bool delta, double secs, int nth)
{
	if (opt_json) {
		lprint_json(s, delta, secs);
	} else {
		if (nth)
			putchar('\n');
		lprint_table(s, delta, secs);
	}
	fflush(stdout);
}

/* -l [-i SECS [-c COUNT]]: the counts so far, then the changes. */
static int run_listen(double interval, long count)
{
	struct lsnap prev, cur, d;
	struct timespec next;
	double t_prev, t_cur;
	long n;

	if (lsnap_read(&prev))
		return 1;
	t_prev = now_secs();
	lreport(&prev, false, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (n = 1; interval && (!count || n < count); n++) {
		next.tv_sec += (time_t)interval;
		next.tv_nsec += (long)((interval - (time_t)interval) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		if (lsnap_read(&cur)) {
			lsnap_free(&prev);
			return 1;
		}
		t_cur = now_secs();
		if (lsnap_delta(&d, &cur, &prev)) {
			lreport(&d, true, t_cur - t_prev, n);
			lsnap_free(&d);
		} else {
			if (!opt_json)
				printf("\n(the columns changed: the module was reloaded)\n");
			lreport(&cur, false, 0, opt_json ? n : 0);
		}
		lsnap_free(&prev);
		prev = cur;
		t_prev = t_cur;
	}
	lsnap_free(&prev);
	return 0;
}

/* -t: the pending hand-offs, as the file has them, in aligned columns. */
static int run_tokens(void)
{
	const char *path = opt_file ? opt_file : PROC_TOKENS;
	static const int width[] = { 8, 12, 9, 9, 4, 24, 24 };
	char line[512], *save, *tok;
	FILE *f = fopen(path, "r");
	int rows = -1, i;

	if (!f) {
		fprintf(stderr, "%s: %s: %s (is nstcp loaded?)\n", prog, path,
			strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		i = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save), i++)
			printf("%-*s ", i < 7 ? width[i] : 0, tok);
		putchar('\n');
		rows++;
	}
	fclose(f);
	if (rows == 0)
		printf("(no hand-off pending)\n");
	return rows < 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "listen", no_argument, NULL, 'l' },
		{ "tokens", no_argument, NULL, 't' },
		{ "netns", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	double interval = 0;
	long count = 0;
	struct snap s;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "jltn:i:c:f:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'j':
			opt_json = true;
			break;
		case 'l':
			opt_listen = true;
			break;
		case 't':
			opt_tokens = true;
			break;
		case 'n':
			opt_netns = optarg;
			break;
		case 'i':
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || *end || !(interval >= 0.01) ||
			    interval > 86400) {
				fprintf(stderr, "%s: -i takes seconds between 0.01 and 86400, not '%s'\n",
					prog, optarg);
				return 2;
			}
			break;
		case 'c':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || *end || count < 1) {
				fprintf(stderr, "%s: -c takes a positive count, not '%s'\n",
					prog, optarg);
				return 2;
			}
			break;
		case 'f':
			opt_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (count && !interval) {
		fprintf(stderr, "%s: -c goes with -i\n", prog);
		return 2;
	}

	if (opt_netns && enter_netns(opt_netns))
		return 1;
	if (opt_tokens)
		return run_tokens();
	if (opt_listen)
		return run_listen(interval, count);
	if (interval)
		return run_interval(interval, count);
	if (snap_read(&s))
		return 1;
	report(&s, false, 0, 0);
	snap_free(&s);
	return 0;
}
