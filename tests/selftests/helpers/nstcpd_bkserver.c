// SPDX-License-Identifier: GPL-2.0
/*
 * A server replica of nstcpd's broker model for the selftests: it echoes
 * the connections of its socket-activated listener (descriptor 3, a thread
 * per connection) and reports its load to the broker with libnstcp every
 * $BKSERVER_PERIOD_MS (200): the connections it serves, of capacity
 * $BKSERVER_CAPACITY (100), or "LOAD CAPACITY" read from the file
 * $BKSERVER_DIR/load.PORT when there is one (the test's high load and
 * full cases).  Each connection served appends "PORT BYTES" to
 * $BKSERVER_LOG.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nstcp.h"
#include "echo_util.h"

static int active, port;

static void serve(int fd)
{
	unsigned long long total;

	__atomic_add_fetch(&active, 1, __ATOMIC_RELAXED);
	total = echo_conn(fd);
	close(fd);
	__atomic_sub_fetch(&active, 1, __ATOMIC_RELAXED);
	echo_log(getenv("BKSERVER_LOG"), "bkserver", "%d %llu\n", port, total);
}

static void *conn_thread(void *arg)
{
	serve((int)(long)arg);
	return NULL;
}

static void *report_thread(void *arg)
{
	const char *dir = getenv("BKSERVER_DIR"), *p = getenv("BKSERVER_PERIOD_MS");
	const char *c = getenv("BKSERVER_CAPACITY");
	unsigned int cap = c ? atoi(c) : 100, ms = p ? atoi(p) : 200;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int said = 0;

	(void)arg;
	for (;;) {
		unsigned int l = __atomic_load_n(&active, __ATOMIC_RELAXED), k = cap;
		char path[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/load.%d", dir ? dir : "/nonexistent", port);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%u %u", &l, &k) != 2) {
				l = __atomic_load_n(&active, __ATOMIC_RELAXED);
				k = cap;
			}
			fclose(f);
		}
		if (nstcp_report_load(NULL, NULL, l, k) && !said++)
			fprintf(stderr, "bkserver %d: report: %s\n", port, strerror(errno));
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(void)
{
	const char *srv = getenv("NSTCPD_SERVER"), *colon;
	pthread_t t;

	if (nstcp_listen_fds(1) != 1 || !srv || !(colon = strrchr(srv, ':')) ||
	    !getenv("NSTCP_BROKER")) {
		fprintf(stderr, "bkserver: not started by nstcpd's broker model\n");
		return 2;
	}
	port = atoi(colon + 1);
	if (pthread_create(&t, NULL, report_thread, NULL))
		return 1;
	return echo_accept_loop(NSTCP_LISTEN_FDS_START, "bkserver", 0, serve,
				conn_thread);
}
