// SPDX-License-Identifier: GPL-2.0
/*
 * nic_load: the host-side clients of the NIC accept benchmark
 * (tests/bench/nic_accept_run), in the host namespace of the multi-queue
 * test NIC.  For each round, for each port in turn, THREADS threads make
 * connections for SECS seconds (connect, one byte each way, close: the
 * client closes first); then one connection to DONE_PORT tells the guest
 * that the load is over.  Prints one line per round and port:
 *
 *   round R port P conns N rate X p50 Y p99 Z      (conn/s, ms)
 *
 *   nic_load ADDR DONE_PORT SECS ROUNDS THREADS PORT...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXT	64
#define MAXLAT	200000

static struct sockaddr_in dst;
static double secs;

struct worker {
	pthread_t t;
	long conns, errors;
	uint32_t *lat_us;	/* this thread's share of the latencies */
	long nlat, maxlat;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one(void)
{
	struct timeval tmo = { .tv_sec = 5 };
	char c = 'q';
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok = -1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (!connect(fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1)
		ok = 0;
	close(fd);
	return ok;
}

static void *load(void *arg)
{
	struct worker *w = arg;
	double end = now() + secs, t0;

	while ((t0 = now()) < end) {
		if (one()) {
			w->errors++;
			continue;
		}
		w->conns++;
		if (w->nlat < w->maxlat)
			w->lat_us[w->nlat++] = (now() - t0) * 1e6;
	}
	return NULL;
}

static int cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Retries until @port accepts (the guest's servers are up), 120 s. */
static int wait_port(int port)
{
	int i;

	dst.sin_port = htons(port);
	for (i = 0; i < 600; i++) {
		if (!one())
			return 0;
		usleep(200000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	static uint32_t lat[MAXLAT];
	struct worker w[MAXT];
	int done_port, rounds, threads, r, p, i;

	if (argc < 7) {
		fprintf(stderr, "usage: %s ADDR DONE_PORT SECS ROUNDS THREADS PORT...\n",
			argv[0]);
		return 2;
	}
	dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1)
		return 2;
	done_port = atoi(argv[2]);
	secs = atof(argv[3]);
	rounds = atoi(argv[4]);
	threads = atoi(argv[5]);
	if (threads < 1 || threads > MAXT || secs <= 0 || rounds < 1)
		return 2;
	for (p = 6; p < argc; p++)
		if (wait_port(atoi(argv[p]))) {
			fprintf(stderr, "nic_load: port %s never answered\n", argv[p]);
			return 1;
		}
	for (r = 1; r <= rounds; r++) {
		for (p = 6; p < argc; p++) {
			long conns = 0, errors = 0, n = 0;
			double t0;

			dst.sin_port = htons(atoi(argv[p]));
			for (i = 0; i < threads; i++) {
				memset(&w[i], 0, sizeof(w[i]));
				w[i].lat_us = lat + i * (MAXLAT / threads);
				w[i].maxlat = MAXLAT / threads;
			}
			t0 = now();
			for (i = 0; i < threads; i++)
				pthread_create(&w[i].t, NULL, load, &w[i]);
			for (i = 0; i < threads; i++) {
				pthread_join(w[i].t, NULL);
				conns += w[i].conns;
				errors += w[i].errors;
				memmove(lat + n, w[i].lat_us, w[i].nlat * sizeof(*lat));
				n += w[i].nlat;
			}
			qsort(lat, n, sizeof(*lat), cmp32);
			printf("round %d port %s conns %ld rate %.1f p50 %.2f p99 %.2f errors %ld\n",
			       r, argv[p], conns, conns / (now() - t0),
			       n ? lat[n / 2] / 1000.0 : 0,
			       n ? lat[n * 99 / 100] / 1000.0 : 0, errors);
			fflush(stdout);
		}
	}
	dst.sin_port = htons(done_port);
	for (i = 0; i < 50 && one(); i++)
		usleep(100000);
	return 0;
}
