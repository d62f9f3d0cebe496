// SPDX-License-Identifier: GPL-2.0
/*
 * Connect-side benchmark of CPU-local connect: client threads pinned one
 * per CPU make connection-per-request exchanges (connect, 1-byte request,
 * 1-byte reply, close) with a server in the host namespace over the
 * multi-queue test NIC, AF_INET and AF_NSTCP taking turns in 1 s slices.
 * Prints per family conn/s, p50/p99 of one exchange, the share of replies
 * processed on the caller's CPU (SO_INCOMING_CPU), and AF_NSTCP's rate
 * as a ratio of AF_INET's.  Run by tests/bench/lconnect_run.
 *
 *   lconnect_bench ADDR PORT [ROUNDS [SLICES]]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/nstcp.h>

#define MAXCPU		64
#define MAXSAMPLES	(1 << 20)

static struct sockaddr_in peer;
static volatile int stop;

struct worker {
	pthread_t t;
	int cpu, family;
	long conns, local, errors;
	unsigned int *lat;	/* microseconds */
	long nlat;
};

struct total {
	long conns, local, errors;
	double secs;
	unsigned int *lat;
	long nlat;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	socklen_t len;
	cpu_set_t set;
	int fd, rx;
	double t0;
	char c;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!stop) {
		t0 = now();
		c = 'q';
		fd = socket(w->family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof(peer)) ||
		    write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			w->errors++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		len = sizeof(rx);
		if (!getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &rx, &len))
			w->local += rx == w->cpu;
		close(fd);
		w->conns++;
		if (w->nlat < MAXSAMPLES / MAXCPU)
			w->lat[w->nlat++] = (now() - t0) * 1e6;
	}
	return NULL;
}

static void slice(int family, int ncpus, struct total *tot)
{
	struct worker w[MAXCPU];
	double t0;
	int i;

	stop = 0;
	t0 = now();
	for (i = 0; i < ncpus; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].cpu = i;
		w[i].family = family;
		w[i].lat = malloc(sizeof(unsigned int) * (MAXSAMPLES / MAXCPU));
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	sleep(1);
	stop = 1;
	for (i = 0; i < ncpus; i++) {
		pthread_join(w[i].t, NULL);
		tot->conns += w[i].conns;
		tot->local += w[i].local;
		tot->errors += w[i].errors;
		if (tot->nlat + w[i].nlat <= MAXSAMPLES) {
			memcpy(tot->lat + tot->nlat, w[i].lat,
			       w[i].nlat * sizeof(unsigned int));
			tot->nlat += w[i].nlat;
		}
		free(w[i].lat);
	}
	tot->secs += now() - t0;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static double report(const char *name, struct total *t)
{
	double rate = t->conns / t->secs;
	unsigned int p50 = 0, p99 = 0;

	if (t->nlat) {
		qsort(t->lat, t->nlat, sizeof(unsigned int), cmp_uint);
		p50 = t->lat[t->nlat / 2];
		p99 = t->lat[t->nlat * 99 / 100];
	}
	printf("%-9s %8.0f conn/s  p50 %6u us  p99 %6u us  local %5.1f%%  errors %ld\n",
	       name, rate, p50, p99,
	       t->conns ? 100.0 * t->local / t->conns : 0, t->errors);
	return rate;
}

int main(int argc, char **argv)
{
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	int slices = argc > 4 ? atoi(argv[4]) : 4;
	struct total inet = { 0 }, nstcp = { 0 };
	int ncpus, r, s;
	double ri, rn;

	if (argc < 3 || inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1) {
		fprintf(stderr, "usage: lconnect_bench ADDR PORT [ROUNDS [SLICES]]\n");
		return 2;
	}
	peer.sin_family = AF_INET;
	peer.sin_port = htons(atoi(argv[2]));
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > MAXCPU)
		ncpus = MAXCPU;
	inet.lat = malloc(sizeof(unsigned int) * MAXSAMPLES);
	nstcp.lat = malloc(sizeof(unsigned int) * MAXSAMPLES);
	if (!inet.lat || !nstcp.lat)
		return 1;
	printf("# %d client threads pinned one per CPU, %d rounds of %d x 1 s slices per family\n",
	       ncpus, rounds, slices);
	for (r = 0; r < rounds; r++)
		for (s = 0; s < slices; s++) {
			slice((r + s) % 2 ? AF_NSTCP : AF_INET, ncpus,
			      (r + s) % 2 ? &nstcp : &inet);
			slice((r + s) % 2 ? AF_INET : AF_NSTCP, ncpus,
			      (r + s) % 2 ? &inet : &nstcp);
		}
	ri = report("AF_INET", &inet);
	rn = report("AF_NSTCP", &nstcp);
	printf("AF_NSTCP/AF_INET connect rate: %.2fx (goal >= 0.97x, >= 99%% local)\n",
	       ri > 0 ? rn / ri : 0);
	return inet.errors + nstcp.errors ? 1 : 0;
}
