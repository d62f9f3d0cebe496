// SPDX-License-Identifier: GPL-2.0
/*
 * crr_bench: connection rate, in the manner of netperf TCP_CRR, of one
 * AF_NSTCP listening socket shared by a worker per CPU, against the two
 * usual AF_INET set-ups.
 *
 * Every transaction is a new connection: the client connects, sends a
 * REQ-byte request, reads a REP-byte reply and closes; the server accepts,
 * reads the request, reads the accepted socket's SO_INCOMING_CPU (the CPU
 * that processed its packets), sends the reply and closes (with -W only
 * once the client has closed, in the order of netperf's TCP_CRR).  Its
 * latency is measured by the client from connect() to the last byte of the
 * reply.
 *
 * The server of a variant is one worker thread pinned to each CPU, each in
 * a loop of blocking accept() (the call on which AF_NSTCP wakes the
 * acceptor of the CPU where the connection arrived) and serving the
 * connection.  The variants:
 *
 *   nstcp   one AF_NSTCP listening socket shared by every worker, policy
 *           cpu (net.nstcp.accept_steal as the namespace has it);
 *   (a)     one AF_INET listening socket shared by every worker;
 *   (b)     one AF_INET listening socket per worker, SO_REUSEPORT, with
 *           SO_INCOMING_CPU set to the worker's CPU: the best mainline does;
 *   nosteal (only with -V) nstcp with net.nstcp.accept_steal=0 in its slices;
 *   b6      (only with -V) (b) on AF_INET6 sockets bound to the v4-mapped
 *           address, as AF_NSTCP's own TCP sockets are: it tells the cost
 *           of the IPv6 socket path from that of AF_NSTCP.
 *
 * The process runs in the server's network namespace; the clients, -t
 * threads, enter the namespace given with -C (setns per thread) and connect
 * to -a ADDR, so that their packets come in over a device (a veth with RPS
 * spreading flows over the CPUs, as tests/bench/crr_run sets up) rather
 * than loopback.
 *
 * Two scenarios: balanced, and imbalanced, where the worker on one CPU (-s)
 * stalls, spinning 100 ms of every 200 ms (it checks between connections,
 * before accept()).
 *
 * A QEMU TCG guest on a shared host drifts by tens of per cent within
 * seconds, so the variants are interleaved finely: a round of a scenario
 * starts the servers of every variant (each on a port of its own), then
 * the clients work in slices of -l seconds, each slice on one variant, the
 * variants taking turns in an order that rotates each cycle (ABC BCA CAB
 * ...), -d seconds of slices per variant.  The first -g seconds of a slice
 * are not measured (the previous variant's connections drain); a
 * connection counts for its variant when its reply comes in the measured
 * part of one of that variant's slices, and for the locality when it was
 * accepted there.
 *
 * For each round and variant it prints connections a second, the latency
 * percentiles, and the share of the connections accepted whose receive
 * CPU, accept CPU (where accept() returned) and worker CPU are all the
 * same.  At the end: the figures over every round, the ratios nstcp/(a)
 * and nstcp/(b) (over every round, and per round) and a verdict per goal.
 * A benchmark, not a test: it exits 0 once it has measured, whatever the
 * verdicts.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

#define MAX_CPUS	64
#define MAX_CLIENTS	256
#define MAX_ROUNDS	20
#define MAX_MSG		4096
#define STALL_PERIOD_NS	200000000LL
#define STALL_SPIN_NS	100000000LL

/* The goals. */
#define GOAL_BAL_VS_B	1.00	/* balanced conn/s, nstcp/(b), at least */
#define GOAL_BAL_VS_A	1.00	/* balanced conn/s, nstcp/(a), at least */
#define GOAL_BAL_LOCAL	99.0	/* balanced locality of nstcp, %, at least */
#define GOAL_IMB_P99	0.50	/* imbalanced p99, nstcp/(b), at most */
#define GOAL_IMB_RATE	1.00	/* imbalanced conn/s, nstcp/(b), at least */

enum { V_A, V_B, V_NSTCP, V_NOSTEAL, V_B6, V_MAX };

#define IS_NSTCP(v)	((v) == V_NSTCP || (v) == V_NOSTEAL)
#define PER_CPU(v)	((v) == V_B || (v) == V_B6)
enum { SC_BAL, SC_IMB, SC_MAX };

static const char *const v_name[V_MAX] = {
	"(a) inet shared", "(b) inet reuseport", "nstcp", "nstcp steal=0",
	"(b6) inet6 reuseport",
};
static const char *const sc_name[SC_MAX] = { "balanced", "imbalanced" };

static struct {
	const char *addr;
	const char *cli_netns;
	double secs;		/* of slices per variant and round */
	double slice;
	double guard;		/* not measured at the start of a slice */
	double warmup;
	int rounds;
	int clients;
	bool pin_clients;
	bool wait_close;	/* the server closes after the client */
	int stall_cpu;
	int req, rep;
	int port;		/* first port; each server takes the next one */
	unsigned int variants;	/* bit mask of V_* */
	unsigned int scenarios;	/* bit mask of SC_* */
} o = {
	.addr = "198.18.0.1",
	.secs = 8,
	.slice = 1,
	.guard = 0.2,
	.warmup = 1,
	.rounds = 3,
	.clients = 4,
	.stall_cpu = 1,
	.req = 64,
	.rep = 128,
	.port = 21000,
	.variants = (1 << V_A) | (1 << V_B) | (1 << V_NSTCP),
	.scenarios = (1 << SC_MAX) - 1,
};

static int nstcp_fam = AF_NSTCP;
static int steal_dflt = -1;	/* net.nstcp.accept_steal as we found it */
static int ncpus, cpus[MAX_CPUS];
static int nworkers;	/* workers per variant, on cpus[0..nworkers-1] */
static int cli_ns_fd = -1;

static void pin_self(int cpu)
{
	errno = bench_pin(cpu);
	if (errno)
		bench_die("pthread_setaffinity_np");
}

static void set_steal(int val)
{
	FILE *f = fopen("/proc/sys/net/nstcp/accept_steal", "we");

	if (val < 0)
		return;
	if (!f || fprintf(f, "%d\n", val) < 0 || fclose(f))
		bench_die("net.nstcp.accept_steal");
}

/* Every net.nstcp sysctl of the namespace, as NAME=VALUE words. */
static void print_sysctls(void)
{
	struct dirent **names;
	char path[512], val[64];
	int n, i;
	FILE *f;

	n = scandir("/proc/sys/net/nstcp", &names, NULL, alphasort);
	if (n < 0) {
		printf("(no /proc/sys/net/nstcp)");
		return;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "/proc/sys/net/nstcp/%s",
				 names[i]->d_name);
			f = fopen(path, "re");
			if (f && fgets(val, sizeof(val), f)) {
				val[strcspn(val, "\n")] = 0;
				printf(" %s=%s", names[i]->d_name, val);
			}
			if (f)
				fclose(f);
		}
		free(names[i]);
	}
	free(names);
}

/* ---- a round of a scenario: every variant's server, clients in slices ---- */

struct client {
	pthread_t th;
	int idx;
	uint32_t *lat[V_MAX];	/* measured connections, µs */
	size_t n[V_MAX], cap[V_MAX];
	long errors;
};

struct worker {
	pthread_t th;
	int variant;
	int cpu;
	int lfd;
	/* Connections accepted in the measured part of the variant's slices: */
	long accepted;
	long local;		/* receive CPU == accept CPU == worker CPU */
	long errors;
	long stalls;
};

static struct round_ctx {
	int scenario;
	struct bench_slices s;	/* vlist: the variants, in the order of the
				 * first cycle; rot turns it round to round */
	struct sockaddr_in srv[V_MAX];
	int lfd[V_MAX][MAX_CPUS], nlfd[V_MAX];
	atomic_bool stop_workers;
	struct client cl[MAX_CLIENTS];
	struct worker wk[V_MAX][MAX_CPUS];
} r;

_Static_assert(V_MAX <= BENCH_MAX_VARIANTS, "bench_slices holds every variant");

static void *client_main(void *p)
{
	struct client *c = p;
	char req[MAX_MSG], rep[MAX_MSG];

	if (cli_ns_fd >= 0 && setns(cli_ns_fd, CLONE_NEWNET))
		bench_die("setns (client network namespace)");
	if (o.pin_clients)
		pin_self(cpus[c->idx % ncpus]);
	memset(req, 'q', o.req);
	for (;;) {
		int64_t t0 = bench_now_ns(), t1;
		int v = bench_target_variant(&r.s, t0), fd;

		if (v < 0)
			break;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			bench_die("socket (client)");
		bench_set_timeouts(fd);
		t0 = bench_now_ns();
		if (connect(fd, (struct sockaddr *)&r.srv[v],
			    sizeof(r.srv[v])) ||
		    !tool_send_all(fd, req, o.req) || !tool_recv_all(fd, rep, o.rep)) {
			c->errors++;
			close(fd);
			usleep(1000);
			continue;
		}
		t1 = bench_now_ns();
		close(fd);
		if (bench_measured_variant(&r.s, t1) != v)
			continue;
		bench_lat_add(&c->lat[v], &c->n[v], &c->cap[v],
			      (t1 - t0) / 1000);
	}
	return NULL;
}

/* The imbalanced scenario: spin out the rest of a stall window. */
static void maybe_stall(struct worker *w, int64_t *last)
{
	int64_t t = bench_now_ns() - r.s.t0, k, end;

	if (t < 0)
		t += (-t / STALL_PERIOD_NS + 1) * STALL_PERIOD_NS;
	k = t / STALL_PERIOD_NS;
	if (t % STALL_PERIOD_NS >= STALL_SPIN_NS || k == *last)
		return;
	*last = k;
	end = bench_now_ns() - t % STALL_PERIOD_NS + STALL_SPIN_NS;
	while (bench_now_ns() < end)
		;
	w->stalls++;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	bool stall = r.scenario == SC_IMB && w->cpu == o.stall_cpu;
	char req[MAX_MSG], rep[MAX_MSG];
	int64_t last = -1;

	pin_self(w->cpu);
	memset(rep, 'r', o.rep);
	for (;;) {
		int fd, acpu, rcpu = -1;
		socklen_t len = sizeof(rcpu);
		int64_t t;

		if (stall)
			maybe_stall(w, &last);
		fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (atomic_load(&r.stop_workers))
				break;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EAGAIN)
				continue;
			w->errors++;
			usleep(1000);
			continue;
		}
		acpu = sched_getcpu();
		t = bench_now_ns();
		bench_set_timeouts(fd);
		if (!tool_recv_all(fd, req, o.req) ||
		    getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &rcpu, &len) ||
		    !tool_send_all(fd, rep, o.rep)) {
			w->errors++;
			close(fd);
			continue;
		}
		/* netperf's way: the client closes first, the server after. */
		if (o.wait_close && recv(fd, req, 1, 0) != 0)
			w->errors++;
		close(fd);
		if (bench_measured_variant(&r.s, t) != w->variant)
			continue;
		w->accepted++;
		w->local += rcpu == acpu && acpu == w->cpu;
	}
	return NULL;
}

static int open_listener(int variant, int cpu, const struct sockaddr_in *sa)
{
	bool ns = IS_NSTCP(variant);
	int fam = ns ? nstcp_fam : variant == V_B6 ? AF_INET6 : AF_INET;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = sa->sin_port };
	int fd, one = 1, pol = NSTCP_POLICY_CPU;

	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die(ns ? "socket(AF_NSTCP) (is nstcp.ko loaded?)" :
			  "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		bench_die("SO_REUSEADDR");
	if (ns && setsockopt(fd, SOL_NSTCP, NSTCP_POLICY, &pol, sizeof(pol)))
		bench_die("NSTCP_POLICY");
	if (PER_CPU(variant) &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	     setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof(cpu))))
		bench_die("SO_REUSEPORT, SO_INCOMING_CPU");
	if (variant == V_B6) {
		/* ::ffff:a.b.c.d */
		sin6.sin6_addr.s6_addr[10] = 0xff;
		sin6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6.sin6_addr.s6_addr[12], &sa->sin_addr, 4);
		if (bind(fd, (const struct sockaddr *)&sin6, sizeof(sin6)))
			bench_die("bind");
	} else if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		bench_die("bind");
	}
	if (listen(fd, 1024))
		bench_die("listen");
	return fd;
}

/* The module's per-CPU listen counters of a port (/proc/net/nstcp_listen). */
struct lq {
	bool ok;
	long accepted[MAX_CPUS], stolen[MAX_CPUS];
};

static void read_listen(int port, struct lq *q)
{
	char line[1024], *tok, *save, suffix[16];
	int ncol = 0, c_addr = -1, c_cpu = -1, c_acc = -1, c_st = -1, c;
	FILE *f = fopen("/proc/net/nstcp_listen", "re");

	memset(q, 0, sizeof(*q));
	if (!f)
		return;
	snprintf(suffix, sizeof(suffix), ":%d", port);
	if (fgets(line, sizeof(line), f))
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save), ncol++) {
			if (!strcmp(tok, "addr"))
				c_addr = ncol;
			else if (!strcmp(tok, "cpu"))
				c_cpu = ncol;
			else if (!strcmp(tok, "accepted"))
				c_acc = ncol;
			else if (!strcmp(tok, "stolen"))
				c_st = ncol;
		}
	if (c_addr < 0 || c_cpu < 0 || c_acc < 0 || c_st < 0) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cell[32] = {};
		size_t al;
		int cpu;

		for (c = 0, tok = strtok_r(line, " \t\n", &save);
		     tok && c < 32; tok = strtok_r(NULL, " \t\n", &save))
			cell[c++] = tok;
		if (c != ncol)
			continue;
		al = strlen(cell[c_addr]);
		if (al < strlen(suffix) ||
		    strcmp(cell[c_addr] + al - strlen(suffix), suffix))
			continue;
		cpu = atoi(cell[c_cpu]);
		if (cpu < 0 || cpu >= MAX_CPUS)
			continue;
		q->accepted[cpu] = atol(cell[c_acc]);
		q->stolen[cpu] = atol(cell[c_st]);
		q->ok = true;
	}
	fclose(f);
}

/* What a round measured of a variant. */
struct result {
	bool done;
	double secs;		/* measured time */
	double rate;		/* conn/s */
	uint32_t *lat;		/* sorted, µs */
	size_t nlat;
	long accepted, local;
	long acc_by_worker[MAX_CPUS];
	long cl_errors, wk_errors, stalls;
	bool lq_ok;
	long lq_accepted, lq_stolen;	/* the module's, the whole round */
};

static struct result res[MAX_ROUNDS][SC_MAX][V_MAX];

static double local_pct(long local, long total)
{
	return total ? 100.0 * local / total : NAN;
}

static void run_round(int round, int sc, int *port)
{
	struct lq before[V_MAX], after[V_MAX];
	int64_t per_variant, t;
	int i, k, v, w;

	memset(&r, 0, sizeof(r));
	r.scenario = sc;
	for (v = 0; v < V_MAX; v++)
		if (o.variants & (1 << v))
			r.s.vlist[r.s.nv++] = v;
	r.s.rot = round % r.s.nv;
	r.s.slice_ns = (int64_t)(o.slice * 1e9);
	r.s.guard_ns = (int64_t)(o.guard * 1e9);
	per_variant = (int64_t)ceil(o.secs / o.slice - 1e-9);
	r.s.nslices = per_variant * r.s.nv;

	for (k = 0; k < r.s.nv; k++) {
		v = r.s.vlist[k];
		r.srv[v].sin_family = AF_INET;
		r.srv[v].sin_port = htons((*port)++);
		if (inet_pton(AF_INET, o.addr, &r.srv[v].sin_addr) != 1) {
			fprintf(stderr, "crr_bench: bad address %s\n", o.addr);
			exit(2);
		}
		r.nlfd[v] = PER_CPU(v) ? nworkers : 1;
		for (i = 0; i < r.nlfd[v]; i++)
			r.lfd[v][i] = open_listener(v, cpus[i], &r.srv[v]);
	}
	r.s.t0 = bench_now_ns() + (int64_t)(o.warmup * 1e9);
	for (k = 0; k < r.s.nv; k++) {
		v = r.s.vlist[k];
		for (w = 0; w < nworkers; w++) {
			struct worker *W = &r.wk[v][w];

			W->variant = v;
			W->cpu = cpus[w];
			W->lfd = r.lfd[v][PER_CPU(v) ? w : 0];
			if (pthread_create(&W->th, NULL, worker_main, W))
				bench_die("pthread_create");
		}
	}
	for (i = 0; i < o.clients; i++) {
		r.cl[i].idx = i;
		if (pthread_create(&r.cl[i].th, NULL, client_main, &r.cl[i]))
			bench_die("pthread_create");
	}
	for (k = 0; k < r.s.nv; k++)
		if (IS_NSTCP(r.s.vlist[k]))
			read_listen(ntohs(r.srv[r.s.vlist[k]].sin_port),
				    &before[r.s.vlist[k]]);
	/*
	 * net.nstcp.accept_steal follows the slices when nosteal runs: it
	 * changes as a slice starts, in the part that is not measured.
	 */
	for (i = 0; i < r.s.nslices && (o.variants & (1 << V_NOSTEAL)); i++) {
		v = bench_slice_variant(&r.s, i);
		t = r.s.t0 + i * r.s.slice_ns;
		bench_sleep_until(t);
		set_steal(v == V_NOSTEAL ? 0 : steal_dflt);
	}
	bench_sleep_until(r.s.t0 + r.s.nslices * r.s.slice_ns);
	for (k = 0; k < r.s.nv; k++)
		if (IS_NSTCP(r.s.vlist[k]))
			read_listen(ntohs(r.srv[r.s.vlist[k]].sin_port),
				    &after[r.s.vlist[k]]);

	for (i = 0; i < o.clients; i++)
		pthread_join(r.cl[i].th, NULL);
	atomic_store(&r.stop_workers, true);
	for (k = 0; k < r.s.nv; k++)
		for (i = 0; i < r.nlfd[r.s.vlist[k]]; i++)
			shutdown(r.lfd[r.s.vlist[k]][i], SHUT_RDWR);
	for (k = 0; k < r.s.nv; k++)
		for (w = 0; w < nworkers; w++)
			pthread_join(r.wk[r.s.vlist[k]][w].th, NULL);
	for (k = 0; k < r.s.nv; k++)
		for (i = 0; i < r.nlfd[r.s.vlist[k]]; i++)
			close(r.lfd[r.s.vlist[k]][i]);
	if (o.variants & (1 << V_NOSTEAL))
		set_steal(steal_dflt);

	for (k = 0; k < r.s.nv; k++) {
		struct result *R;
		size_t n;

		v = r.s.vlist[k];
		R = &res[round][sc][v];
		memset(R, 0, sizeof(*R));
		R->done = true;
		R->secs = per_variant * (o.slice - o.guard);
		for (i = 0; i < o.clients; i++) {
			R->nlat += r.cl[i].n[v];
			R->cl_errors += r.cl[i].errors;	/* all variants' */
		}
		R->lat = malloc((R->nlat + 1) * sizeof(*R->lat));
		if (!R->lat)
			bench_die("malloc");
		for (i = 0, n = 0; i < o.clients; i++) {
			memcpy(R->lat + n, r.cl[i].lat[v],
			       r.cl[i].n[v] * sizeof(*R->lat));
			n += r.cl[i].n[v];
			free(r.cl[i].lat[v]);
		}
		qsort(R->lat, R->nlat, sizeof(*R->lat), bench_cmp_u32);
		R->rate = R->nlat / R->secs;
		for (w = 0; w < nworkers; w++) {
			struct worker *W = &r.wk[v][w];

			R->accepted += W->accepted;
			R->local += W->local;
			R->acc_by_worker[w] = W->accepted;
			R->wk_errors += W->errors;
			R->stalls += W->stalls;
		}
		if (IS_NSTCP(v) && before[v].ok && after[v].ok) {
			R->lq_ok = true;
			for (i = 0; i < MAX_CPUS; i++) {
				R->lq_accepted += after[v].accepted[i] -
						  before[v].accepted[i];
				R->lq_stolen += after[v].stolen[i] -
						before[v].stolen[i];
			}
		}
	}

	for (v = 0; v < V_MAX; v++) {
		struct result *R = &res[round][sc][v];

		if (!(o.variants & (1 << v)))
			continue;
		printf("round %d  %-10s  %-20s  %6.0f conn/s  p50 %6.2f ms  p99 %7.2f ms  local %5.1f%%",
		       round + 1, sc_name[sc], v_name[v], R->rate,
		       bench_pct_ms(R->lat, R->nlat, 50),
		       bench_pct_ms(R->lat, R->nlat, 99),
		       local_pct(R->local, R->accepted));
		printf("  accepts/worker");
		for (w = 0; w < nworkers; w++)
			printf("%s%ld", w ? "/" : " ", R->acc_by_worker[w]);
		if (R->lq_ok)
			printf("  stolen %ld/%ld", R->lq_stolen,
			       R->lq_accepted);
		if (sc == SC_IMB)
			printf("  stalls %ld", R->stalls);
		if (R->wk_errors)
			printf("  server errors %ld", R->wk_errors);
		putchar('\n');
	}
	if (res[round][sc][r.s.vlist[0]].cl_errors)
		printf("round %d  %-10s  client errors (all variants) %ld\n",
		       round + 1, sc_name[sc],
		       res[round][sc][r.s.vlist[0]].cl_errors);
	fflush(stdout);
}

/* ---- summary ---- */

/* Over the rounds of (@sc, @v). */
struct agg {
	double rate;		/* every round's connections over their time */
	double p50, p99;	/* of every round's connections */
	double local;		/* % over every round */
	long conns, accepted, wk_errors, lq_accepted, lq_stolen;
	bool lq_ok;
};

static struct agg aggregate(int sc, int v)
{
	struct agg a = { .lq_ok = true };
	double secs = 0;
	uint32_t *all;
	size_t n = 0, k = 0;
	long local = 0;
	int i;

	for (i = 0; i < o.rounds; i++)
		n += res[i][sc][v].nlat;
	all = malloc((n + 1) * sizeof(*all));
	if (!all)
		bench_die("malloc");
	for (i = 0; i < o.rounds; i++) {
		struct result *R = &res[i][sc][v];

		if (!R->done)
			continue;
		secs += R->secs;
		memcpy(all + k, R->lat, R->nlat * sizeof(*all));
		k += R->nlat;
		a.accepted += R->accepted;
		local += R->local;
		a.wk_errors += R->wk_errors;
		a.lq_ok &= R->lq_ok;
		a.lq_accepted += R->lq_accepted;
		a.lq_stolen += R->lq_stolen;
	}
	a.conns = k;
	a.rate = secs ? k / secs : NAN;
	qsort(all, k, sizeof(*all), bench_cmp_u32);
	a.p50 = bench_pct_ms(all, k, 50);
	a.p99 = bench_pct_ms(all, k, 99);
	a.local = local_pct(local, a.accepted);
	free(all);
	return a;
}

/* Per round: nstcp's conn/s (or p99) over @v's, into @buf. */
static void per_round(int sc, int v, bool p99, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < o.rounds && off < len; i++) {
		struct result *N = &res[i][sc][V_NSTCP], *X = &res[i][sc][v];
		double x;

		x = p99 ? bench_pct_ms(N->lat, N->nlat, 99) /
			  bench_pct_ms(X->lat, X->nlat, 99) :
			  N->rate / X->rate;
		off += snprintf(buf + off, len - off, "%s%.2f", i ? " " : "",
				x);
	}
}

/*
 * nstcp over @v (named @x), all rounds together and the lowest and highest
 * single round, as result rows: the spread says how noisy the ratio is.
 */
static void ratio_rows(int sc, int v, const char *x)
{
	double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
	char name[32];
	int i, k;

	for (i = 0; i < o.rounds; i++) {
		struct result *N = &res[i][sc][V_NSTCP], *X = &res[i][sc][v];
		double r[2];

		if (!N->done || !X->done)
			continue;
		r[0] = N->rate / X->rate;
		r[1] = bench_pct_ms(N->lat, N->nlat, 99) / bench_pct_ms(X->lat, X->nlat, 99);
		for (k = 0; k < 2; k++) {
			lo[k] = fmin(lo[k], r[k]);
			hi[k] = fmax(hi[k], r[k]);
		}
	}
	snprintf(name, sizeof(name), "nstcp/%s", x);
	for (k = 0; k < 2; k++) {
		const char *m = k ? "p99_ratio" : "conn_s_ratio";
		char mm[32];

		if (!isfinite(lo[k]))
			continue;
		snprintf(mm, sizeof(mm), "%s_min", m);
		bench_row(sc_name[sc], name, mm, lo[k]);
		snprintf(mm, sizeof(mm), "%s_max", m);
		bench_row(sc_name[sc], name, mm, hi[k]);
	}
}

static const char *verdict(bool ok, double x)
{
	if (isnan(x))
		return "not measured";
	return ok ? "met" : "MISSED";
}

/* One "at least" goal: printed, and as result rows for the report. */
static void goal_row(const char *sc, const char *what, double goal, double x,
		     bool ok)
{
	printf("  %-10s  %s %.2f   %7.3f   %s\n", sc, what, goal, x,
	       verdict(ok, x));
	bench_row(sc, what, "goal", goal);
	bench_row(sc, what, "value", x);
	bench_row(sc, what, "met", ok && !isnan(x));
}

static void summary(void)
{
	struct agg a[SC_MAX][V_MAX];
	char rr[256];
	int sc, v;

	printf("\n== Summary over %d round%s: %.0f s of slices per variant, scenario and round, of which %.1f s measured\n"
	       "   conn/s: connections over measured time; p50/p99 of every connection (client: connect() to reply);\n"
	       "   local%%: receive CPU, accept CPU and worker CPU all the same; accept style: blocking accept()\n\n",
	       o.rounds, o.rounds == 1 ? "" : "s", o.secs,
	       ceil(o.secs / o.slice - 1e-9) * (o.slice - o.guard));
	printf("%-10s  %-20s  %7s  %7s  %7s  %6s  %7s  %s\n", "scenario",
	       "variant", "conn/s", "p50 ms", "p99 ms", "local%", "conns",
	       "notes");
	for (sc = 0; sc < SC_MAX; sc++) {
		if (!(o.scenarios & (1 << sc)))
			continue;
		for (v = 0; v < V_MAX; v++) {
			if (!(o.variants & (1 << v)))
				continue;
			a[sc][v] = aggregate(sc, v);
			printf("%-10s  %-20s  %7.0f  %7.2f  %7.2f  %6.1f  %7ld ",
			       sc_name[sc], v_name[v], a[sc][v].rate,
			       a[sc][v].p50, a[sc][v].p99, a[sc][v].local,
			       a[sc][v].conns);
			if (IS_NSTCP(v) && a[sc][v].lq_ok &&
			    a[sc][v].lq_accepted)
				printf(" module: stolen %.1f%% of accepted",
				       100.0 * a[sc][v].lq_stolen /
				       a[sc][v].lq_accepted);
			if (a[sc][v].wk_errors)
				printf(" server errors %ld", a[sc][v].wk_errors);
			putchar('\n');
			bench_row(sc_name[sc], v_name[v], "conn_s", a[sc][v].rate);
			bench_row(sc_name[sc], v_name[v], "p50_ms", a[sc][v].p50);
			bench_row(sc_name[sc], v_name[v], "p99_ms", a[sc][v].p99);
			bench_row(sc_name[sc], v_name[v], "local_pct",
				  a[sc][v].local);
		}
	}

	if (!(o.variants & (1 << V_NSTCP)))
		return;
	printf("\nRatios nstcp/(x), over every round [per round]\n");
	for (sc = 0; sc < SC_MAX; sc++) {
		if (!(o.scenarios & (1 << sc)))
			continue;
		for (v = V_A; v <= V_B; v++) {
			const char *x = v == V_A ? "(a)" : "(b)";

			if (!(o.variants & (1 << v)))
				continue;
			ratio_rows(sc, v, x);
			per_round(sc, v, false, rr, sizeof(rr));
			printf("  %-10s  conn/s nstcp/%s  %5.2f  [%s]\n",
			       sc_name[sc], x,
			       a[sc][V_NSTCP].rate / a[sc][v].rate, rr);
			snprintf(rr, sizeof(rr), "nstcp/%s", x);
			bench_row(sc_name[sc], rr, "conn_s_ratio",
				  a[sc][V_NSTCP].rate / a[sc][v].rate);
			bench_row(sc_name[sc], rr, "p99_ratio",
				  a[sc][V_NSTCP].p99 / a[sc][v].p99);
			per_round(sc, v, true, rr, sizeof(rr));
			printf("  %-10s  p99    nstcp/%s  %5.2f  [%s]\n",
			       sc_name[sc], x,
			       a[sc][V_NSTCP].p99 / a[sc][v].p99, rr);
		}
	}

	printf("\nGoals\n");
	if (o.scenarios & (1 << SC_BAL)) {
		double x;

		if (o.variants & (1 << V_B)) {
			x = a[SC_BAL][V_NSTCP].rate / a[SC_BAL][V_B].rate;
			goal_row("balanced", "conn/s nstcp/(b) >=", GOAL_BAL_VS_B, x,
				 x >= GOAL_BAL_VS_B);
		}
		if (o.variants & (1 << V_A)) {
			x = a[SC_BAL][V_NSTCP].rate / a[SC_BAL][V_A].rate;
			goal_row("balanced", "conn/s nstcp/(a) >=", GOAL_BAL_VS_A, x,
				 x >= GOAL_BAL_VS_A);
		}
		x = a[SC_BAL][V_NSTCP].local;
		/* With fewer workers than CPUs most flows have none of their own. */
		if (nworkers >= ncpus) {
			printf("  balanced    locality of nstcp >= %.0f%%  %6.1f%%   %s\n",
			       GOAL_BAL_LOCAL, x, verdict(x >= GOAL_BAL_LOCAL, x));
			bench_row("balanced", "locality% of nstcp >=", "goal",
				  GOAL_BAL_LOCAL);
			bench_row("balanced", "locality% of nstcp >=", "value", x);
			bench_row("balanced", "locality% of nstcp >=", "met",
				  x >= GOAL_BAL_LOCAL);
		}
	}
	if ((o.scenarios & (1 << SC_IMB)) && (o.variants & (1 << V_B))) {
		double x;

		x = a[SC_IMB][V_NSTCP].p99 / a[SC_IMB][V_B].p99;
		printf("  imbalanced  p99 nstcp/(b) <= %.2f      %7.3f   %s  (%.2f ms against %.2f ms)\n",
		       GOAL_IMB_P99, x, verdict(x <= GOAL_IMB_P99, x),
		       a[SC_IMB][V_NSTCP].p99, a[SC_IMB][V_B].p99);
		bench_row("imbalanced", "p99 nstcp/(b) <=", "goal", GOAL_IMB_P99);
		bench_row("imbalanced", "p99 nstcp/(b) <=", "value", x);
		bench_row("imbalanced", "p99 nstcp/(b) <=", "met",
			  x <= GOAL_IMB_P99);
		x = a[SC_IMB][V_NSTCP].rate / a[SC_IMB][V_B].rate;
		goal_row("imbalanced", "conn/s nstcp/(b) >=", GOAL_IMB_RATE, x,
			 x >= GOAL_IMB_RATE);
	}
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: crr_bench [options]\n"
		"Connection rate (netperf TCP_CRR style): AF_NSTCP, one listener shared by a\n"
		"worker per CPU, against AF_INET shared (a) and SO_REUSEPORT per CPU (b).\n"
		"\n"
		"  -a ADDR     server address, IPv4 (198.18.0.1); the listeners bind it\n"
		"  -C NETNS    network namespace of the clients (a name from ip netns or a\n"
		"              path); default: the server's\n"
		"  -d SECS     slices per variant, scenario and round, in seconds (8)\n"
		"  -l SECS     slice length (1)\n"
		"  -g SECS     not measured at the start of a slice (0.2)\n"
		"  -w SECS     warm-up before the first slice of a round (1)\n"
		"  -r ROUNDS   rounds (3)\n"
		"  -t N        client threads (4)\n"
		"  -n N        workers per variant, pinned to the first N CPUs (one per\n"
		"              CPU); fewer than the CPUs is a server with fewer\n"
		"              acceptors than CPUs, e.g. -n 1 -t 1 a one-thread server\n"
		"  -P          pin client i to CPU i mod CPUs (default: unpinned)\n"
		"  -W          the server waits for the client to close before it closes,\n"
		"              as netperf's TCP_CRR server does (default: it closes\n"
		"              once it has replied); a worker then holds each\n"
		"              connection a round trip longer, which favours (a)\n"
		"  -s CPU      the worker that stalls in the imbalanced scenario (1)\n"
		"  -q BYTES    request size (64)\n"
		"  -R BYTES    reply size (128)\n"
		"  -p PORT     first port; each server takes the next (21000)\n"
		"  -V LIST     variants, of a,b,nstcp,nosteal,b6 (a,b,nstcp); nosteal is\n"
		"              AF_NSTCP with net.nstcp.accept_steal=0 in its slices, b6\n"
		"              (b) on AF_INET6 sockets bound to ::ffff:ADDR\n"
		"  -S LIST     scenarios, of balanced,imbalanced (both)\n"
		"  -h          this help\n");
}

static double parse_num(const char *arg, double lo, double hi)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(arg, &end);
	if (errno || *end || !(x >= lo && x <= hi)) {
		fprintf(stderr, "crr_bench: '%s' is not a number from %g to %g\n",
			arg, lo, hi);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	static const char *const v_short[V_MAX] = { "a", "b", "nstcp",
						    "nosteal", "b6" };
	static const char *const v_alias[V_MAX] = { "inet", "reuseport",
						    "af_nstcp", "steal0",
						    "inet6" };
	static const char *const sc_alias[SC_MAX] = { "bal", "imb" };
	cpu_set_t allowed;
	int opt, round, sc, port;

	while ((opt = getopt(argc, argv, "a:C:d:l:g:w:r:t:n:PWs:q:R:p:V:S:h")) != -1) {
		switch (opt) {
		case 'a': o.addr = optarg; break;
		case 'C': o.cli_netns = optarg; break;
		case 'd': o.secs = parse_num(optarg, 0.1, 3600); break;
		case 'l': o.slice = parse_num(optarg, 0.1, 3600); break;
		case 'g': o.guard = parse_num(optarg, 0, 60); break;
		case 'w': o.warmup = parse_num(optarg, 0, 60); break;
		case 'r': o.rounds = parse_num(optarg, 1, MAX_ROUNDS); break;
		case 't': o.clients = parse_num(optarg, 1, MAX_CLIENTS); break;
		case 'n': nworkers = parse_num(optarg, 1, MAX_CPUS); break;
		case 'P': o.pin_clients = true; break;
		case 'W': o.wait_close = true; break;
		case 's': o.stall_cpu = parse_num(optarg, 0, MAX_CPUS - 1); break;
		case 'q': o.req = parse_num(optarg, 1, MAX_MSG); break;
		case 'R': o.rep = parse_num(optarg, 1, MAX_MSG); break;
		case 'p': o.port = parse_num(optarg, 1024, 60000); break;
		case 'V':
			o.variants = bench_parse_list(optarg, v_short, V_MAX, v_alias);
			break;
		case 'S':
			o.scenarios = bench_parse_list(optarg, sc_name, SC_MAX,
						       sc_alias);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (o.guard >= o.slice) {
		fprintf(stderr, "crr_bench: -g must be shorter than -l\n");
		return 2;
	}

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		bench_die("sched_getaffinity");
	ncpus = bench_cpu_list(&allowed, cpus, MAX_CPUS);
	if (ncpus < 2) {
		fprintf(stderr, "crr_bench: needs at least 2 CPUs\n");
		return 2;
	}
	if (!nworkers || nworkers > ncpus)
		nworkers = ncpus;
	if (o.cli_netns) {
		char path[4096];

		if (strchr(o.cli_netns, '/'))
			snprintf(path, sizeof(path), "%s", o.cli_netns);
		else
			snprintf(path, sizeof(path), "/run/netns/%s",
				 o.cli_netns);
		cli_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cli_ns_fd < 0)
			bench_die(path);
	}
	nstcp_fam = tool_nstcp_family();
	steal_dflt = tool_read_int("/proc/sys/net/nstcp/accept_steal", -1);

	printf("# crr_bench: new connection per transaction: connect, %d-byte request, %d-byte reply, close\n",
	       o.req, o.rep);
	printf("# server: %d workers per variant, one pinned per CPU (of %d), each in a loop of blocking accept()\n",
	       nworkers, ncpus);
	printf("#         (accept style: blocking accept(), no epoll); %s\n",
	       o.wait_close ?
	       "after the reply the server waits for the client's close, then closes (-W, netperf's order)" :
	       "the server closes right after the reply");
	printf("# clients: %d threads%s%s, %s; each connects to %s, sends, reads the reply, closes;\n"
	       "#          latency from connect() to the last byte of the reply\n",
	       o.clients, o.cli_netns ? " in netns " : "",
	       o.cli_netns ? o.cli_netns : "",
	       o.pin_clients ? "client i pinned to CPU i mod CPUs" : "unpinned",
	       o.addr);
	printf("# nstcp: one AF_NSTCP (family %d) listener shared by all workers, policy cpu\n",
	       nstcp_fam);
	printf("#        net.nstcp:");
	print_sysctls();
	printf("\n");
	if (o.variants & (1 << V_NOSTEAL))
		printf("# nstcp steal=0: the same with net.nstcp.accept_steal=0 during its slices\n");
	if (o.variants & (1 << V_B6))
		printf("# (b6): (b) on AF_INET6 sockets bound to ::ffff:%s (AF_NSTCP's TCP sockets are AF_INET6 too)\n",
		       o.addr);
	printf("# (a): one AF_INET listener shared by all workers\n");
	printf("# (b): one AF_INET SO_REUSEPORT listener per worker, SO_INCOMING_CPU = the worker's CPU\n");
	printf("# imbalanced: the worker on CPU %d spins 100 ms of every 200 ms (checked before each accept())\n",
	       o.stall_cpu);
	printf("# %d round%s per scenario; a round: %.1f s warm-up, then %.1f s slices, one variant each, in turn\n"
	       "# (order rotating each cycle), %.0f s of slices per variant; the first %.2f s of a slice not measured\n\n",
	       o.rounds, o.rounds == 1 ? "" : "s", o.warmup, o.slice, o.secs,
	       o.guard);
	fflush(stdout);

	port = o.port;
	for (round = 0; round < o.rounds; round++)
		for (sc = 0; sc < SC_MAX; sc++)
			if (o.scenarios & (1 << sc))
				run_round(round, sc, &port);
	summary();
	return 0;
}
