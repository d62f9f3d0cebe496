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
		"Usage: %s [-j] [-n NETNS] [-i SECS [-c COUNT]] [-f FILE]\n"
		"Show the AF_NSTCP per-CPU protocol instances and their counters.\n"
		"\n"
		"  -j, --json           JSON output, one object a report\n"
		"  -n, --netns NETNS    the instances of network namespace NETNS\n"
		"                       (a name from ip netns, or a path such as\n"
		"                       /proc/PID/ns/net)\n"
		"  -i, --interval SECS  report every SECS seconds: first the counts\n"
		"                       so far, then what changed in each interval\n"
		"  -c, --count COUNT    with -i: stop after COUNT reports\n"
		"  -f, --file FILE      read FILE instead of " PROC_NSTCP "\n"
		"  -h, --help           this help\n"
		"\n"
		"Columns: cpu, online, sockets (created or accepted), closes,\n"
		"accepts, connects, calls (data-path socket calls made on the CPU),\n"
		"hops (calls for a flow whose packets are processed on another CPU)\n"
		"and hop%% (hops per 100 calls).  Columns that a newer module adds are\n"
		"shown as they come.\n",
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
	int c, r;

	printf("{\"family\":");
	if (s->family >= 0)
		printf("%d", s->family);
	else
		printf("null");
	printf(",\"netns\":");
	if (opt_netns)
		json_str(opt_netns);
	else
		printf("null");
	printf(",\"hop_accounting\":");
	if (s->hop_acct >= 0)
		printf("%d", s->hop_acct);
	else
		printf("null");
	printf(",\"delta\":%s", delta ? "true" : "false");
	if (delta)
		printf(",\"interval\":%.3f", secs);
	printf(",\"time\":%lld,\"columns\":[", (long long)time(NULL));
	for (c = 0; c < s->ncols; c++) {
		if (c)
			putchar(',');
		json_str(s->cols[c]);
	}
	printf("],\"instances\":[");
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
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

	while ((opt = getopt_long(argc, argv, "jn:i:c:f:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'j':
			opt_json = true;
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
	if (interval)
		return run_interval(interval, count);
	if (snap_read(&s))
		return 1;
	report(&s, false, 0, 0);
	snap_free(&s);
	return 0;
}
