// SPDX-License-Identifier: GPL-2.0
/*
 * stream_bench: AF_NSTCP against AF_INET on loopback (127.0.0.1).
 *
 * A benchmark, not a test: it always exits 0 once it has measured.  Three
 * scenarios:
 *
 *   rr      request/response: MSG-byte ping-pong over one connection, the
 *           client in the main thread and the echo server in another, both
 *           pinned to one CPU (-p: or two CPUs, or unpinned); transactions
 *           a second.
 *   rr-mt   the same over one connection per CPU, the client and server
 *           threads of connection i both pinned to CPU i; total
 *           transactions a second.
 *   bulk    one direction in WRITE-KiB writes, BULK MiB a round and family;
 *           MiB a second.
 *
 * A round of a scenario opens its connections over AF_INET and over
 * AF_NSTCP, then gives each family SLICES short timed slices of work,
 * alternating AB BA AB ..., so that both see the same state of a noisy host
 * (a QEMU TCG guest on shared cores drifts by tens of per cent within
 * seconds).  A family's figure for the round is its work over its time.
 * For each scenario it prints the medians over the rounds of the two
 * families, the median of the per-round ratios nstcp/inet (the goal is
 * >= 0.98) with their quartiles, and what the rounds added to the calls and
 * hops counters of /proc/net/nstcp (only AF_NSTCP sockets move them: its
 * slices, connection setup and teardown).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "bench_rows.h"
#include "bench_util.h"

#define GOAL		0.98
#define MAX_ROUNDS	99
#define MAX_THREADS	256

enum { SC_RR, SC_RRMT, SC_BULK, SC_MAX };

static const char *const sc_name[SC_MAX] = { "rr", "rr-mt", "bulk" };

struct opts {
	int rounds;
	int slices;		/* a family's slices a round */
	long rr_n;		/* round trips a round, rr */
	long mt_n;		/* round trips a connection and round, rr-mt */
	int msg;		/* request and response size */
	long bulk_mib;		/* a round */
	int write_kib;
	int threads;		/* rr-mt connections */
	unsigned int scenarios;	/* bit mask of SC_* */
	int rr_pin;		/* rr: RR_PIN_* */
	bool inet6;		/* also AF_INET6, v4-mapped, as a control */
};

enum { RR_PIN_NONE, RR_PIN_SAME, RR_PIN_SPLIT };
static const char *const pin_name[] = { "unpinned", "same CPU", "2 CPUs" };

static struct opts o = {
	.rounds = 12,
	.slices = 8,
	.rr_n = 4000,
	.mt_n = 2000,
	.msg = 1,
	.bulk_mib = 64,
	.write_kib = 64,
	.scenarios = (1 << SC_MAX) - 1,
	.rr_pin = RR_PIN_SAME,
};

/* The families compared: AF_INET, AF_NSTCP and, with -6, AF_INET6. */
#define NFAM_MAX 3
static int fams[NFAM_MAX] = { AF_INET, AF_NSTCP, AF_INET6 };
static const char *const fam_label[NFAM_MAX] = {
	"AF_INET", "AF_NSTCP", "INET6map",
};
static int nfams = 2;

static int nstcp_fam = AF_NSTCP;
static int cpus[MAX_THREADS], ncpus;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- sockets ---- */

static void send_all(int fd, const char *buf, size_t len)
{
	if (!tool_send_all(fd, buf, len))
		bench_die("send");
}

/* Read exactly @len bytes; false on EOF before the first byte. */
static bool recv_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bench_die("recv");
		if (n == 0) {
			if (got)
				bench_die("recv: short message at EOF");
			return false;
		}
		got += n;
	}
	return true;
}

/* A connected pair over @fam on 127.0.0.1: @cli and @srv. */
static void make_pairs(int fam, int n, int *cli, int *srv, bool nodelay)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int lfd, i, one = 1;

	/* 127.0.0.1; for the AF_INET6 control as ::ffff:127.0.0.1. */
	if (fam == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6->sin6_addr);
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	lfd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		bench_die(fam == AF_INET ? "socket(AF_INET)" :
			  "socket(AF_NSTCP) (is nstcp.ko loaded?)");
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, n + 1) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len))
		bench_die("listen");
	for (i = 0; i < n; i++) {
		cli[i] = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cli[i] < 0)
			bench_die("socket");
		if (connect(cli[i], (struct sockaddr *)&ss, len))
			bench_die("connect");
		srv[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (srv[i] < 0)
			bench_die("accept");
		if (nodelay &&
		    (setsockopt(cli[i], IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)) ||
		     setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one))))
			bench_die("TCP_NODELAY");
	}
	close(lfd);
}

static cpu_set_t allowed;	/* the CPUs we may use */

/* Back to every CPU we may use (the main thread after an rr client). */
static void pin_all(void)
{
	errno = pthread_setaffinity_np(pthread_self(), sizeof(allowed),
				       &allowed);
	if (errno)
		bench_die("pthread_setaffinity_np");
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	errno = bench_pin(cpu);
	if (errno)
		bench_die("pthread_setaffinity_np");
}

/* ---- sessions: open connections of one family, with their peers ---- */

/* A server end: the echo server of rr, the receiver of bulk. */
struct peer {
	int fd;
	int cpu;		/* -1: not pinned */
};

struct session {
	int fam;
	int n;			/* connections */
	int cfd[MAX_THREADS], sfd[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	struct peer peer[MAX_THREADS];
};

/* rr: echo MSG-byte messages until the client closes. */
static void *rr_server(void *p)
{
	struct peer *a = p;
	char buf[65536];

	pin(a->cpu);
	while (recv_all(a->fd, buf, o.msg))
		send_all(a->fd, buf, o.msg);
	return NULL;
}

static long long bulk_slice_bytes;

/* bulk: read everything; acknowledge each slice with one byte back. */
static void *bulk_receiver(void *p)
{
	struct peer *a = p;
	size_t rsize = (size_t)o.write_kib * 1024;
	long long got = 0;
	char *buf = malloc(rsize);
	ssize_t n;

	if (!buf)
		bench_die("malloc");
	while ((n = recv(a->fd, buf, rsize, 0)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_die("bulk recv");
		}
		got += n;
		if (got > bulk_slice_bytes) {
			fprintf(stderr, "stream_bench: bulk slice overrun\n");
			exit(1);
		}
		if (got == bulk_slice_bytes) {
			send_all(a->fd, "k", 1);
			got = 0;
		}
	}
	free(buf);
	return NULL;
}

static void session_open(struct session *s, int fam, int sc)
{
	int i;

	s->fam = fam;
	s->n = sc == SC_RRMT ? o.threads : 1;
	make_pairs(fam, s->n, s->cfd, s->sfd, sc != SC_BULK);
	for (i = 0; i < s->n; i++) {
		s->peer[i].fd = s->sfd[i];
		s->peer[i].cpu = -1;
		if (sc == SC_RRMT)
			s->peer[i].cpu = cpus[i % ncpus];
		else if (sc == SC_RR && o.rr_pin != RR_PIN_NONE)
			s->peer[i].cpu = o.rr_pin == RR_PIN_SAME ? cpus[0] :
							      cpus[1 % ncpus];
		if (pthread_create(&s->th[i], NULL, sc == SC_BULK ?
				   bulk_receiver : rr_server, &s->peer[i]))
			bench_die("pthread_create");
	}
}

static void session_close(struct session *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		shutdown(s->cfd[i], SHUT_WR);
	for (i = 0; i < s->n; i++) {
		pthread_join(s->th[i], NULL);
		close(s->cfd[i]);
		close(s->sfd[i]);
	}
}

/* ---- slices: a short timed piece of work on one session ---- */

static void rr_rounds(int fd, long n)
{
	char buf[65536];
	long i;

	memset(buf, 'q', o.msg);
	for (i = 0; i < n; i++) {
		send_all(fd, buf, o.msg);
		if (!recv_all(fd, buf, o.msg))
			bench_die("rr: server closed");
	}
}

/* rr-mt clients: one thread a connection, pinned, driven slice by slice. */
static struct {
	pthread_barrier_t start, done;
	struct session *cur;	/* NULL: quit */
	long n;
	pthread_t th[MAX_THREADS];
	int idx[MAX_THREADS];
} mt;

static void *mt_client(void *p)
{
	int i = *(int *)p;

	pin(cpus[i % ncpus]);
	for (;;) {
		pthread_barrier_wait(&mt.start);
		if (!mt.cur)
			return NULL;
		rr_rounds(mt.cur->cfd[i], mt.n);
		pthread_barrier_wait(&mt.done);
	}
}

static void mt_start(void)
{
	int i;

	pthread_barrier_init(&mt.start, NULL, o.threads + 1);
	pthread_barrier_init(&mt.done, NULL, o.threads + 1);
	for (i = 0; i < o.threads; i++) {
		mt.idx[i] = i;
		if (pthread_create(&mt.th[i], NULL, mt_client, &mt.idx[i]))
			bench_die("pthread_create");
	}
}

static void mt_stop(void)
{
	int i;

	mt.cur = NULL;
	pthread_barrier_wait(&mt.start);
	for (i = 0; i < o.threads; i++)
		pthread_join(mt.th[i], NULL);
	pthread_barrier_destroy(&mt.start);
	pthread_barrier_destroy(&mt.done);
}

static void bulk_send(int fd, long long bytes)
{
	size_t wsize = (size_t)o.write_kib * 1024;
	static char *buf;
	char ack;

	if (!buf) {
		buf = malloc(wsize);
		if (!buf)
			bench_die("malloc");
		memset(buf, 'b', wsize);
	}
	while (bytes > 0) {
		size_t n = bytes < (long long)wsize ? (size_t)bytes : wsize;

		send_all(fd, buf, n);
		bytes -= n;
	}
	if (!recv_all(fd, &ack, 1))
		bench_die("bulk: receiver closed");
}

/*
 * One slice of scenario @sc on @s: @units round trips (a connection), or
 * bytes.  Returns the work done in the unit of the scenario and sets
 * @secs.
 */
static double slice(int sc, struct session *s, long long units, double *secs)
{
	double t0 = now();

	switch (sc) {
	case SC_RR:
		rr_rounds(s->cfd[0], units);
		*secs = now() - t0;
		return units;
	case SC_RRMT:
		mt.cur = s;
		mt.n = units;
		pthread_barrier_wait(&mt.start);
		pthread_barrier_wait(&mt.done);
		*secs = now() - t0;
		return (double)units * o.threads;
	default:
		bulk_send(s->cfd[0], units);
		*secs = now() - t0;
		return units / 1048576.0;
	}
}

/* ---- /proc/net/nstcp ---- */

/* Sums of the calls and hops columns; false if unreadable. */
static bool read_hops(unsigned long long *calls, unsigned long long *hops)
{
	char line[1024], *tok, *save;
	int ccol = -1, hcol = -1, c;
	FILE *f = fopen("/proc/net/nstcp", "re");

	*calls = *hops = 0;
	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return false;
	}
	for (c = 0, tok = strtok_r(line, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save), c++) {
		if (!strcmp(tok, "calls"))
			ccol = c;
		else if (!strcmp(tok, "hops"))
			hcol = c;
	}
	while (fgets(line, sizeof(line), f)) {
		for (c = 0, tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save), c++) {
			if (c == ccol)
				*calls += strtoull(tok, NULL, 10);
			else if (c == hcol)
				*hops += strtoull(tok, NULL, 10);
		}
	}
	fclose(f);
	return ccol >= 0 && hcol >= 0;
}

/* ---- driver ---- */

struct result {
	double v[NFAM_MAX][MAX_ROUNDS];	/* by fams[] */
	double ratio[MAX_ROUNDS];	/* AF_NSTCP / AF_INET */
	double ratio6[MAX_ROUNDS];	/* AF_NSTCP / AF_INET6 (-6) */
	unsigned long long calls, hops;
};

/* Work a family does a round: round trips, a connection's, or bytes. */
static long long round_units(int sc)
{
	switch (sc) {
	case SC_RR:
		return o.rr_n;
	case SC_RRMT:
		return o.mt_n;
	default:
		return o.bulk_mib * 1048576LL;
	}
}

/*
 * One round of scenario @sc: a session for each family, then for each
 * o.slices slices of work, interleaved AB BA AB ... (ABC BCA CAB ... with
 * -6) so that every family sees the same state of the host.  Each family's
 * figure goes to @fig (work a second); what the round added to the
 * AF_NSTCP counters to @res.
 * @scale shrinks the work (warm-up).
 */
static void run_round(int sc, int r, double scale, double *fig,
		      struct result *res)
{
	static struct session sess[NFAM_MAX];
	double work[NFAM_MAX] = { 0 }, secs[NFAM_MAX] = { 0 }, w, t;
	unsigned long long c0, h0, c1, h1;
	long long units;
	int j, f;

	units = (long long)(round_units(sc) * scale) / o.slices;
	if (sc == SC_BULK)	/* whole writes */
		units -= units % ((long long)o.write_kib * 1024);
	if (units < 1)
		units = sc == SC_BULK ? (long long)o.write_kib * 1024 : 1;
	bulk_slice_bytes = units;

	for (f = 0; f < nfams; f++)
		session_open(&sess[f], fams[f], sc);
	if (sc == SC_RRMT)
		mt_start();
	if (sc == SC_RR && o.rr_pin != RR_PIN_NONE)
		pin(cpus[0]);

	/*
	 * Only AF_NSTCP sockets move the counters: read them around the
	 * round, not around each slice, which would disturb only AF_NSTCP's.
	 */
	read_hops(&c0, &h0);
	for (j = 0; j < o.slices * nfams; j++) {
		f = (j % nfams + j / nfams + r) % nfams;
		w = slice(sc, &sess[f], units, &t);
		work[f] += w;
		secs[f] += t;
	}

	if (sc == SC_RR)
		pin_all();
	if (sc == SC_RRMT)
		mt_stop();
	for (f = 0; f < nfams; f++) {
		session_close(&sess[f]);
		if (fig)
			fig[f] = work[f] / secs[f];
	}
	if (res && read_hops(&c1, &h1)) {
		res->calls += c1 - c0;
		res->hops += h1 - h0;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @p quantile of sorted @s (linear between neighbours). */
static double quantile(const double *s, int n, double p)
{
	double x = p * (n - 1);
	int i = (int)x;

	return i + 1 < n ? s[i] + (x - i) * (s[i + 1] - s[i]) : s[n - 1];
}

/* Median of @v; its quartiles into @q1 and @q3 when asked. */
static double median(const double *v, int n, double *q1, double *q3)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	if (q1)
		*q1 = quantile(s, n, 0.25);
	if (q3)
		*q3 = quantile(s, n, 0.75);
	return quantile(s, n, 0.5);
}

static void describe(int sc, char *buf, size_t len, const char **unit)
{
	switch (sc) {
	case SC_RR:
		snprintf(buf, len, "rr %dB, 1 conn, %s", o.msg,
			 pin_name[o.rr_pin]);
		*unit = "trans/s";
		break;
	case SC_RRMT:
		snprintf(buf, len, "rr %dB, %d conn pinned", o.msg, o.threads);
		*unit = "trans/s";
		break;
	default:
		snprintf(buf, len, "bulk %ldMiB, %dK writes", o.bulk_mib,
			 o.write_kib);
		*unit = "MiB/s";
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: stream_bench [-r ROUNDS] [-k SLICES] [-n RR] [-m RRMT] [-s MSG]\n"
		"                    [-b MiB] [-w KiB] [-t CONNS] [-p PIN] [-S LIST] [-6]\n"
		"AF_NSTCP against AF_INET on 127.0.0.1, finely interleaved.\n"
		"\n"
		"  -r ROUNDS  rounds (%d); each runs every scenario over each family\n"
		"  -k SLICES  a family's share of a round comes in SLICES slices,\n"
		"             alternating with the other family's (%d)\n"
		"  -n RR      round trips a round and family, rr (%ld)\n"
		"  -m RRMT    round trips a connection, round and family, rr-mt (%ld)\n"
		"  -s MSG     request and response size in bytes, 1..65536 (%d)\n"
		"  -b MiB     bulk bytes a round and family, in MiB (%ld)\n"
		"  -w KiB     bulk write size in KiB (%d)\n"
		"  -t CONNS   rr-mt connections, one a CPU (the CPUs we may use)\n"
		"  -p PIN     rr client and server: same (one CPU), split (two CPUs,\n"
		"             every call a hop) or none, where the scheduler likes\n"
		"             (same: in a TCG guest the others are slow and noisy)\n"
		"  -S LIST    scenarios, comma-separated: rr,rr-mt,bulk (all)\n"
		"  -6         also AF_INET6 on ::ffff:127.0.0.1, the dual-stack TCP\n"
		"             socket that AF_NSTCP wraps, as a control\n"
		"  -h         this help\n"
		"The defaults take about 45 s in a 4-vCPU QEMU TCG guest, with -6\n"
		"about 70 s.\n",
		o.rounds, o.slices, o.rr_n, o.mt_n, o.msg, o.bulk_mib,
		o.write_kib);
}

static long num_arg(const char *s, long min, long max, char opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "stream_bench: -%c takes %ld..%ld, not '%s'\n",
			opt, min, max, s);
		exit(2);
	}
	return v;
}

static unsigned int scenario_arg(char *list)
{
	unsigned int mask = 0;
	char *tok, *save;
	int i;

	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < SC_MAX; i++)
			if (!strcmp(tok, sc_name[i]))
				break;
		if (i == SC_MAX) {
			fprintf(stderr, "stream_bench: no scenario '%s' (rr, rr-mt, bulk)\n",
				tok);
			exit(2);
		}
		mask |= 1u << i;
	}
	return mask;
}

static int pin_arg(const char *s)
{
	if (!strcmp(s, "split"))
		return RR_PIN_SPLIT;
	if (!strcmp(s, "same"))
		return RR_PIN_SAME;
	if (!strcmp(s, "none"))
		return RR_PIN_NONE;
	fprintf(stderr, "stream_bench: -p takes split, same or none\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct result res[SC_MAX];
	unsigned long long c0 = 0, h0 = 0;
	const char *unit;
	char desc[64];
	double t0, lo, hi;
	int opt, r, sc, k;
	bool have_proc;

	while ((opt = getopt(argc, argv, "r:k:n:m:s:b:w:t:p:S:6h")) != -1) {
		switch (opt) {
		case 'r':
			o.rounds = num_arg(optarg, 1, MAX_ROUNDS, opt);
			break;
		case 'k':
			o.slices = num_arg(optarg, 1, 10000, opt);
			break;
		case 'n':
			o.rr_n = num_arg(optarg, 1, 1L << 40, opt);
			break;
		case 'm':
			o.mt_n = num_arg(optarg, 1, 1L << 40, opt);
			break;
		case 's':
			o.msg = num_arg(optarg, 1, 65536, opt);
			break;
		case 'b':
			o.bulk_mib = num_arg(optarg, 1, 1L << 20, opt);
			break;
		case 'w':
			o.write_kib = num_arg(optarg, 1, 16384, opt);
			break;
		case 't':
			o.threads = num_arg(optarg, 1, MAX_THREADS, opt);
			break;
		case 'p':
			o.rr_pin = pin_arg(optarg);
			break;
		case 'S':
			o.scenarios = scenario_arg(optarg);
			break;
		case '6':
			o.inet6 = true;
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
		usage(stderr);
		return 2;
	}

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		bench_die("sched_getaffinity");
	ncpus = bench_cpu_list(&allowed, cpus, MAX_THREADS);
	if (!o.threads)
		o.threads = ncpus;
	fams[1] = nstcp_fam = tool_nstcp_family();
	nfams = o.inet6 ? 3 : 2;
	have_proc = read_hops(&c0, &h0);

	printf("stream_bench: AF_INET vs AF_NSTCP (family %d)%s on 127.0.0.1, %d CPUs, %d rounds of %d interleaved slices\n",
	       nstcp_fam, o.inet6 ? " and AF_INET6 (v4-mapped)" : "", ncpus,
	       o.rounds, o.slices);
	if (!have_proc)
		printf("(no /proc/net/nstcp: hop counters not shown)\n");
	else if (!tool_read_int("/proc/sys/net/nstcp/hop_accounting", 1))
		printf("(net.nstcp.hop_accounting is 0: calls and hops are not counted)\n");
	fflush(stdout);

	/* Warm up each family: page faults, slab caches, the first SYNs. */
	t0 = now();
	for (sc = 0; sc < SC_MAX; sc++)
		if (o.scenarios & (1u << sc))
			run_round(sc, 0, 0.1, NULL, NULL);

	for (r = 0; r < o.rounds; r++) {
		printf("round %d:", r + 1);
		for (sc = 0; sc < SC_MAX; sc++) {
			double fig[NFAM_MAX];

			if (!(o.scenarios & (1u << sc)))
				continue;
			run_round(sc, r, 1.0, fig, &res[sc]);
			for (k = 0; k < nfams; k++)
				res[sc].v[k][r] = fig[k];
			res[sc].ratio[r] = fig[1] / fig[0];
			if (nfams > 2)
				res[sc].ratio6[r] = fig[1] / fig[2];
			printf("  %s", sc_name[sc]);
			for (k = 0; k < nfams; k++)
				printf("%c%.0f", k ? '/' : ' ', fig[k]);
		}
		printf("  (inet/nstcp%s)\n", nfams > 2 ? "/inet6" : "");
		fflush(stdout);
	}

	printf("\n%-30s %-7s", "scenario", "unit");
	for (k = 0; k < nfams; k++)
		printf(" %9s", fam_label[k]);
	printf(" %11s %13s %7s", "nstcp/inet", "middle half", "goal");
	if (nfams > 2)
		printf(" %11s", "nstcp/inet6");
	printf("  %s\n", "AF_NSTCP hops/calls");
	for (sc = 0; sc < SC_MAX; sc++) {
		double ratio;
		char hops[64] = "-";

		if (!(o.scenarios & (1u << sc)))
			continue;
		describe(sc, desc, sizeof(desc), &unit);
		printf("%-30s %-7s", desc, unit);
		for (k = 0; k < nfams; k++)
			printf(" %9.1f", median(res[sc].v[k], o.rounds, NULL,
						NULL));
		ratio = median(res[sc].ratio, o.rounds, &lo, &hi);
		for (k = 0; k < nfams; k++)
			bench_row(desc, fam_label[k], unit,
				  median(res[sc].v[k], o.rounds, NULL, NULL));
		bench_row(desc, "nstcp/inet", "ratio", ratio);
		bench_row(desc, "nstcp/inet", "ratio_q1", lo);
		bench_row(desc, "nstcp/inet", "ratio_q3", hi);
		printf(" %11.3f %6.3f-%-6.3f %7s", ratio, lo, hi,
		       ratio >= GOAL ? "met" : hi < GOAL ? "MISSED" : "noise");
		if (nfams > 2)
			printf(" %11.3f", median(res[sc].ratio6, o.rounds,
						 NULL, NULL));
		if (have_proc)
			snprintf(hops, sizeof(hops), "%llu/%llu (%.1f%%)",
				 res[sc].hops, res[sc].calls,
				 res[sc].calls ? 100.0 * res[sc].hops /
						 res[sc].calls : 0.0);
		printf("  %s\n", hops);
	}
	printf("\nfigures: medians over the rounds; ratios: medians of the per-round ratios\n"
	       "and their middle half (quartiles).  Goal nstcp/inet >= %.2f: met, MISSED (even\n"
	       "the upper quartile is below it) or noise (the median is below it, the upper\n"
	       "quartile not).  Took %.1f s.\n",
	       GOAL, now() - t0);
	return 0;
}
