// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: a server with fewer acceptors than CPUs pays nothing for
 * per-CPU listening.  One and two acceptor threads, pinned to CPUs 0 and
 * 1, serve a client in another namespace over a veth pair with RPS
 * spreading flows over every CPU (rps_pair.h); the client makes one
 * connection at a time (connect, a byte each way, close), alternating
 * between an AF_INET and an AF_NSTCP listener of the same shape in the
 * same run, with the default accept_steal_delay_ms.  Three of four
 * connections arrive on a CPU without an acceptor: they must go at once to
 * the acceptor that waits elsewhere.  AF_NSTCP's mean and 90th percentile
 * latency must stay within a margin of AF_INET's that noise does not break
 * (1.5x plus 2 ms for the mean, 2x plus 5 ms for p90; p99, one or two
 * samples of 60, is printed only); a connection that waited out the steal
 * delay costs 20 ms.  The ratios are printed.
 */
#include <math.h>

#include "listen_util.h"
#include "rps_pair.h"

#define ROUNDS		6
#define PER_ROUND	10
#define SAMPLES		(ROUNDS * PER_ROUND)
#define CHILD_CASES	(2 * 4 + 3)	/* + fam_finish()'s 3 */
#define NCASES		(2 + CHILD_CASES + 1)

static int ncpus;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct lat {
	double us[SAMPLES];
	int n, fail, first_err;
};

static double lat_pct(const struct lat *l, double pct)
{
	return l->n ? l->us[(int)ceil(pct / 100 * l->n) - 1] : 0;
}

static void lat_stats(struct lat *l, double *mean, double *p90, double *p99)
{
	double sum = 0;

	qsort(l->us, l->n, sizeof(l->us[0]), cmp_double);
	for (int i = 0; i < l->n; i++)
		sum += l->us[i];
	*mean = l->n ? sum / l->n : 0;
	*p90 = lat_pct(l, 90);
	*p99 = lat_pct(l, 99);
}

struct client {
	int cli, port[2];
	struct lat lat[2];
};

/* One connection: connect, a byte each way, close; its time in us. */
static void one(struct lat *l, int port)
{
	double t0 = now_us();
	int err = lst_exchange(RPS_SRV_IP, port, FAM_TIMEOUT_MS, NULL);

	if (err) {
		l->fail++;
		if (!l->first_err)
			l->first_err = err;
		return;
	}
	l->us[l->n++] = now_us() - t0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	if (setns(c->cli, CLONE_NEWNET))
		return NULL;
	for (int r = 0; r < ROUNDS; r++)
		for (int f = 0; f < 2; f++)
			for (int i = 0; i < PER_ROUND; i++)
				one(&c->lat[(f + r) & 1], c->port[(f + r) & 1]);
	return NULL;
}

static void server(int cli, int nacc)
{
	static const char *const names[2] = { "AF_INET", "AF_NSTCP" };
	struct lst_acceptor ac[2][2];
	struct client c = { .cli = cli };
	double mean[2], p90[2], p99[2];
	int lfd[2], served[2] = { 0, 0 };
	pthread_t tid;

	lfd[0] = fam_listen(AF_INET, RPS_SRV_IP, 0, &c.port[0]);
	lfd[1] = lst_member(RPS_SRV_IP, 0, NULL, 0, &c.port[1]);
	for (int f = 0; f < 2; f++)
		for (int a = 0; lfd[f] >= 0 && a < nacc; a++)
			lst_acceptor_start(&ac[f][a], lfd[f], a, NULL);
	lst_sleep_ms(100);
	if (lfd[0] >= 0 && lfd[1] >= 0 &&
	    !pthread_create(&tid, NULL, client_main, &c))
		pthread_join(tid, NULL);
	for (int f = 0; f < 2; f++) {
		for (int a = 0; lfd[f] >= 0 && a < nacc; a++) {
			lst_acceptor_stop(&ac[f][a]);
			served[f] += atomic_load(&ac[f][a].served);
		}
		if (lfd[f] >= 0)
			close(lfd[f]);
		lat_stats(&c.lat[f], &mean[f], &p90[f], &p99[f]);
		tap_diag("%d acceptor(s), %s: %d connections, mean %.0f us, p90 %.0f us, p99 %.0f us",
			 nacc, names[f], c.lat[f].n, mean[f], p90[f], p99[f]);
	}
	for (int f = 0; f < 2; f++)
		FAM_OK(c.lat[f].n == SAMPLES && !c.lat[f].fail &&
		       served[f] == SAMPLES,
		       "%d acceptor(s), %s: all %d connections served (%d failed: %s)",
		       nacc, names[f], SAMPLES, c.lat[f].fail,
		       c.lat[f].first_err ? strerror(c.lat[f].first_err) : "none");
	tap_diag("%d acceptor(s): nstcp/inet mean %.2f, p90 %.2f, p99 %.2f", nacc,
		 mean[0] ? mean[1] / mean[0] : 0, p90[0] ? p90[1] / p90[0] : 0,
		 p99[0] ? p99[1] / p99[0] : 0);
	FAM_OK(mean[0] > 0 && mean[1] <= 1.5 * mean[0] + 2000,
	       "%d acceptor(s): AF_NSTCP mean %.0f us <= 1.5 x AF_INET's %.0f us + 2 ms",
	       nacc, mean[1], mean[0]);
	FAM_OK(p90[0] > 0 && p90[1] <= 2 * p90[0] + 5000,
	       "%d acceptor(s): AF_NSTCP p90 %.0f us <= 2 x AF_INET's %.0f us + 5 ms",
	       nacc, p90[1], p90[0]);
}

static int child(int cli)
{
	char delay[16];

	fam_start_child(CHILD_CASES - 3, 100);	/* before fam_finish()'s */
	lst_sysctl_read("accept_steal_delay_ms", delay, sizeof(delay));
	tap_diag("accept_steal_delay_ms %s (the default)", delay);
	server(cli, 1);
	server(cli, 2);
	lst_sleep_ms(200);
	return fam_finish();
}

int main(void)
{
	struct rps_pair p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = lst_plan_cpus(NCASES, 3, "one- and two-acceptor latency");
	if (!ncpus)
		return tap_done();
	rps_pair_run(&p, ncpus, CHILD_CASES, 110, child);
	return tap_done();
}
