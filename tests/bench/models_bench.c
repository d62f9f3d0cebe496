// SPDX-License-Identifier: GPL-2.0
/*
 * models_bench: the clients of the listener-model benchmark (set up and
 * run by tests/bench/models_run): each of nstcpd's five models against
 * its Linux way, in the same run, the variants interleaved.
 *
 * The servers are running already (models_run starts them: nstcpd with a
 * service per model, and the Linux ways, mb_worker and mb_relay), each
 * counting the connections it served, and those it served on the flow's
 * receive CPU, in the shared page (models.h).  This program's client
 * threads enter the clients' network namespace (-C) and make connections
 * to the variants in turn: slices of -l seconds, each on one variant, the
 * order rotating each cycle, -d seconds of slices per variant; the first
 * -g seconds of a slice are not measured.  A connection: connect (for
 * nstcpd's broker, first nstcp_broker_next() on the client thread's
 * handle: an ask on its kept connection to the broker unless the last
 * answer's lease runs; for its Linux way, a server chosen at random), then one exchange of a byte each way (workload cpr)
 * or 20 (keep-alive, ka), then close; its latency from the start (the ask
 * included) to the last reply.
 *
 * Scenarios: balanced, and stalled, where the server on CPU -s is busy
 * 100 ms of every 200 ms (it checks before each connection it takes up:
 * mb_stall() in models.h).
 *
 * Printed per workload, scenario and pair: conn/s, p50, p99 and the
 * locality of each variant, and the ratios nstcp/Linux with the goals
 * (stalled: above 1 on conn/s, below 1 on p99; balanced: conn/s at least
 * 0.97), and as a measure of the noise the conn/s ratio over the even
 * and over the odd cycles of slices apart.  Result rows for `make bench`
 * (bench_rows.h).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <string.h>

#include "bench_rows.h"
#include "models.h"
#include "nstcp.h"

#define MAX_CLIENTS	64
#define GOAL_BAL	0.97

enum { W_CPR, W_KA, W_MAX };
enum { SC_BAL, SC_STALL, SC_MAX };
static const char *const w_name[W_MAX] = { "cpr", "ka" };
static const char *const sc_name[SC_MAX] = { "balanced", "stalled" };

static struct {
	const char *addr, *cli_netns, *shm_path, *dist_local_cmd;
	double secs, slice, guard, warmup;
	int clients, stall_cpu;
	unsigned int pairs, workloads, scenarios;
} o = {
	.addr = "198.18.0.1",
	.shm_path = "/tmp/models.shm",
	.secs = 3, .slice = 0.5, .guard = 0.1, .warmup = 0.5,
	.clients = 4, .stall_cpu = 1,
	.pairs = (1 << MB_PAIRS) - 1, .workloads = 3, .scenarios = 3,
};

static struct mb_shm *shm;
static int cli_ns_fd = -1;
static char broker[64];

struct client {
	pthread_t th;
	unsigned int seed;
	uint32_t *lat[MB_NVAR];
	size_t n[MB_NVAR], cap[MB_NVAR];
	long half[MB_NVAR][2];	/* measured in even and odd cycles */
	long errors[MB_NVAR];
	struct nstcp_broker *bh;	/* nstcpd broker: this thread's handle */
};

static struct {
	int workload;
	struct bench_slices s;	/* the variants in turn (no rotation) */
	struct client cl[MAX_CLIENTS];
} r;

_Static_assert(MB_NVAR <= BENCH_MAX_VARIANTS, "bench_slices holds every variant");

struct result {
	double rate, p50, p99, local;
	double half_rate[2];	/* in the even and the odd cycles of slices */
	long conns, errors;
};

static struct result res[W_MAX][SC_MAX][MB_NVAR];

/* The address variant @v's connection goes to; false if none. */
static bool target(struct client *c, int v, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	int port = mb_port[v];

	if (v == 2 * 4) {	/* nstcpd broker: ask it, or its lease */
		if (!c->bh)
			c->bh = nstcp_broker_open(broker, NULL);
		return c->bh && !nstcp_broker_next(c->bh, ss, len);
	}
	if (v == 2 * 4 + 1)	/* its Linux way: a server at random */
		port = MB_PORT_RND_SRV + rand_r(&c->seed) % 4;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	return inet_pton(AF_INET, o.addr, &sin->sin_addr) == 1;
}

static void *client_main(void *p)
{
	struct client *c = p;
	int exchanges = r.workload == W_KA ? MB_KA_EXCHANGES : 1;

	if (cli_ns_fd >= 0 && setns(cli_ns_fd, CLONE_NEWNET))
		bench_die("setns (client network namespace)");
	for (;;) {
		int64_t t0 = bench_now_ns(), t1;
		int v = bench_target_variant(&r.s, t0), fd = -1, i;
		struct sockaddr_storage ss;
		socklen_t len;
		char ch;

		if (v < 0)
			break;
		if (!target(c, v, &ss, &len))
			goto err;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			bench_die("socket");
		bench_set_timeouts(fd);
		if (connect(fd, (struct sockaddr *)&ss, len))
			goto err;
		for (i = 0; i < exchanges; i++)
			if (!tool_send_all(fd, "q", 1) ||
			    !tool_recv_all(fd, &ch, 1))
				goto err;
		t1 = bench_now_ns();
		close(fd);
		if (bench_measured_variant(&r.s, t1) != v)
			continue;
		bench_lat_add(&c->lat[v], &c->n[v], &c->cap[v],
			      (t1 - t0) / 1000);
		c->half[v][(t1 - r.s.t0) / r.s.slice_ns / r.s.nv % 2]++;
		continue;
err:
		if (v == 2 * 4)	/* not that server again on its lease */
			nstcp_broker_failed(c->bh);
		if (bench_measured_variant(&r.s, bench_now_ns()) == v)
			c->errors[v]++;
		if (fd >= 0)
			close(fd);
		usleep(1000);
	}
	nstcp_broker_close(c->bh);
	c->bh = NULL;
	return NULL;
}

/* Served and local connections of @v so far: the page, or -L's command. */
static void served(int v, long *conns, long *local)
{
	int cpu;

	*conns = *local = 0;
	if (v == 2 * 2 && o.dist_local_cmd) {
		FILE *f = popen(o.dist_local_cmd, "r");

		if (!f || fscanf(f, "%ld %ld", local, conns) != 2)
			*conns = *local = 0;
		if (f)
			pclose(f);
		return;
	}
	for (cpu = 0; cpu < MB_MAXCPU; cpu++) {
		*conns += atomic_load(&shm->cnt[v][cpu].conns);
		*local += atomic_load(&shm->cnt[v][cpu].local);
	}
}

static void run_round(int w, int sc)
{
	long c0[MB_NVAR], l0[MB_NVAR], c1, l1;
	int i, k, v, p;

	memset(&r, 0, sizeof(r));
	r.workload = w;
	for (p = 0; p < MB_PAIRS; p++)
		if (o.pairs & (1 << p)) {
			r.s.vlist[r.s.nv++] = 2 * p;
			r.s.vlist[r.s.nv++] = 2 * p + 1;
		}
	r.s.slice_ns = (int64_t)(o.slice * 1e9);
	r.s.guard_ns = (int64_t)(o.guard * 1e9);
	r.s.nslices = (int)ceil(o.secs / o.slice - 1e-9) * r.s.nv;
	for (k = 0; k < r.s.nv; k++)
		served(r.s.vlist[k], &c0[r.s.vlist[k]], &l0[r.s.vlist[k]]);
	r.s.t0 = bench_now_ns() + (int64_t)(o.warmup * 1e9);
	atomic_store(&shm->t0, r.s.t0);
	atomic_store(&shm->stall_cpu, sc == SC_STALL ? o.stall_cpu : -1);
	for (i = 0; i < o.clients; i++) {
		r.cl[i].seed = i * 7919 + 1;
		if (pthread_create(&r.cl[i].th, NULL, client_main, &r.cl[i]))
			bench_die("pthread_create");
	}
	for (i = 0; i < o.clients; i++)
		pthread_join(r.cl[i].th, NULL);
	atomic_store(&shm->stall_cpu, -1);
	usleep(300000);	/* the last connections counted, the status file written */

	for (k = 0; k < r.s.nv; k++) {
		struct result *R = &res[w][sc][r.s.vlist[k]];
		uint32_t *all;
		size_t n = 0;

		v = r.s.vlist[k];
		for (i = 0; i < o.clients; i++)
			n += r.cl[i].n[v];
		all = malloc((n + 1) * sizeof(*all));
		if (!all)
			bench_die("malloc");
		for (i = 0, n = 0; i < o.clients; i++) {
			memcpy(all + n, r.cl[i].lat[v], r.cl[i].n[v] * sizeof(*all));
			n += r.cl[i].n[v];
			R->errors += r.cl[i].errors[v];
			free(r.cl[i].lat[v]);
		}
		qsort(all, n, sizeof(*all), bench_cmp_u32);
		R->conns = n;
		R->rate = n / (ceil(o.secs / o.slice - 1e-9) * (o.slice - o.guard));
		for (i = 0; i < o.clients; i++) {
			R->half_rate[0] += 2 * r.cl[i].half[v][0];
			R->half_rate[1] += 2 * r.cl[i].half[v][1];
		}
		R->half_rate[0] /= ceil(o.secs / o.slice - 1e-9) * (o.slice - o.guard);
		R->half_rate[1] /= ceil(o.secs / o.slice - 1e-9) * (o.slice - o.guard);
		R->p50 = bench_pct_ms(all, n, 50);
		R->p99 = bench_pct_ms(all, n, 99);
		free(all);
		served(v, &c1, &l1);
		R->local = c1 > c0[v] ? 100.0 * (l1 - l0[v]) / (c1 - c0[v]) : NAN;
	}
}

static void print_results(int w, int sc)
{
	char scen[32];
	int p, k;

	snprintf(scen, sizeof(scen), "%s %s", w_name[w], sc_name[sc]);
	printf("\n== %s (%s)\n", scen, w == W_KA ?
	       "keep-alive: 20 exchanges per connection" :
	       "connection per request");
	printf("%-12s %-20s %8s %8s %8s %7s %6s\n", "pair", "variant",
	       "conn/s", "p50 ms", "p99 ms", "local%", "errors");
	for (p = 0; p < MB_PAIRS; p++) {
		struct result *N = &res[w][sc][2 * p], *L = &res[w][sc][2 * p + 1];
		double rr, pr, h0, h1;
		bool ok;

		if (!(o.pairs & (1 << p)))
			continue;
		for (k = 0; k < 2; k++) {
			struct result *R = k ? L : N;
			int v = 2 * p + k;

			printf("%-12s %-20s %8.0f %8.2f %8.2f %7.1f %6ld\n",
			       k ? "" : mb_pair_name[p], mb_var_name[v],
			       R->rate, R->p50, R->p99, R->local, R->errors);
			bench_row(scen, mb_var_name[v], "conn_s", R->rate);
			bench_row(scen, mb_var_name[v], "p50_ms", R->p50);
			bench_row(scen, mb_var_name[v], "p99_ms", R->p99);
			bench_row(scen, mb_var_name[v], "local_pct", R->local);
		}
		rr = N->rate / L->rate;
		pr = N->p99 / L->p99;
		if (sc == SC_STALL)
			ok = rr > 1 && pr < 1;
		else
			ok = rr >= GOAL_BAL;
		/* The noise: the ratio in the even and in the odd cycles. */
		h0 = N->half_rate[0] / L->half_rate[0];
		h1 = N->half_rate[1] / L->half_rate[1];
		printf("%-12s %-20s %8.2fx %7s %8.2fx   halves %.2f %.2f  goal: %s  %s\n",
		       "", "ratio nstcp/Linux", rr, "", pr, fmin(h0, h1), fmax(h0, h1),
		       sc == SC_STALL ? "conn/s > 1, p99 < 1" : "conn/s >= 0.97",
		       isnan(rr) || isnan(pr) ? "not measured" : ok ? "met" : "MISSED");
		bench_row(scen, mb_pair_name[p], "conn_s_ratio", rr);
		bench_row(scen, mb_pair_name[p], "conn_s_ratio_min", fmin(h0, h1));
		bench_row(scen, mb_pair_name[p], "conn_s_ratio_max", fmax(h0, h1));
		bench_row(scen, mb_pair_name[p], "p99_ratio", pr);
		bench_row(scen, mb_pair_name[p], "met", ok);
	}
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: models_bench [options]   (run by tests/bench/models_run)\n"
		"  -a ADDR    the servers' address (198.18.0.1)\n"
		"  -C NETNS   the clients' network namespace (name or path)\n"
		"  -m PATH    the shared page (/tmp/models.shm)\n"
		"  -L CMD     prints \"LOCAL TOTAL\" of nstcpd's distributor fronts\n"
		"  -d SECS    slices per variant, workload and scenario (3)\n"
		"  -l SECS    slice length (0.5); -g SECS not measured of it (0.1)\n"
		"  -t N       client threads (4)\n"
		"  -s CPU     the stalled server's CPU (1)\n"
		"  -P LIST    pairs, of standard,monolithic,distributor,hybrid,broker\n"
		"  -W LIST    workloads, of cpr,ka (both)\n"
		"  -S LIST    scenarios, of balanced,stalled (both)\n");
}

int main(int argc, char **argv)
{
	int opt, w, sc;

	while ((opt = getopt(argc, argv, "a:C:m:L:d:l:g:t:s:P:W:S:h")) != -1) {
		switch (opt) {
		case 'a': o.addr = optarg; break;
		case 'C': o.cli_netns = optarg; break;
		case 'm': o.shm_path = optarg; break;
		case 'L': o.dist_local_cmd = optarg; break;
		case 'd': o.secs = atof(optarg); break;
		case 'l': o.slice = atof(optarg); break;
		case 'g': o.guard = atof(optarg); break;
		case 't': o.clients = atoi(optarg); break;
		case 's': o.stall_cpu = atoi(optarg); break;
		case 'P': o.pairs = bench_parse_list(optarg, mb_pair_name, MB_PAIRS, NULL); break;
		case 'W': o.workloads = bench_parse_list(optarg, w_name, W_MAX, NULL); break;
		case 'S': o.scenarios = bench_parse_list(optarg, sc_name, SC_MAX, NULL); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || o.clients < 1 || o.clients > MAX_CLIENTS ||
	    !(o.secs > 0) || !(o.slice > o.guard) || o.guard < 0) {
		usage(stderr);
		return 2;
	}
	shm = mb_map(o.shm_path);
	snprintf(broker, sizeof(broker), "%s:%d", o.addr, mb_port[2 * 4]);
	if (o.cli_netns) {
		char path[4096];

		snprintf(path, sizeof(path), strchr(o.cli_netns, '/') ? "%s" :
			 "/run/netns/%s", o.cli_netns);
		cli_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cli_ns_fd < 0)
			bench_die(path);
	}
	printf("# models_bench: %d client threads%s%s, to %s; slices of %.2f s (%.2f s not measured),\n"
	       "# %.1f s of slices per variant, workload and scenario; variants in turn, order rotating;\n"
	       "# stalled: the server on CPU %d busy 100 ms of every 200 ms (checked before each connection)\n"
	       "# latency: connect (broker: the ask first) to the last reply; local%%: served on the flow's\n"
	       "# receive CPU (SO_INCOMING_CPU == sched_getcpu() at the first request; distributor: the relay's accept)\n",
	       o.clients, o.cli_netns ? " in netns " : "", o.cli_netns ? o.cli_netns : "",
	       o.addr, o.slice, o.guard, o.secs, o.stall_cpu);
	fflush(stdout);
	for (w = 0; w < W_MAX; w++)
		for (sc = 0; sc < SC_MAX; sc++)
			if ((o.workloads & (1 << w)) && (o.scenarios & (1 << sc))) {
				run_round(w, sc);
				print_results(w, sc);
			}
	return 0;
}
