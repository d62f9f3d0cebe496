// SPDX-License-Identifier: GPL-2.0
/*
 * A server replica of nstcpd's broker model for the selftests: it echoes
 * the connections of its socket-activated listener (descriptor 3, a thread
 * per connection) and reports its load to the broker with libnstcp every
 * $BKSERVER_PERIOD_MS (200): the connections it serves, of capacity
 * $BKSERVER_CAPACITY (100), or "LOAD CAPACITY" read from the file
 * $BKSERVER_DIR/load.PORT when there is one (the test's high load and
 * full cases); the first report only after $BKSERVER_FIRST_MS (0), as a
 * server that reports once it has started.  Each connection served
 * appends "PORT BYTES" to
 * $BKSERVER_LOG.  On SIGTERM (a reload replacing it) it stops accepting
 * and reporting, finishes the connections it has and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nstcp.h"
#include "echo_util.h"

static int active, port, stopping;

static void on_term(int sig)
{
	(void)sig;
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
}

/* @fd's echo; counted in active by its accept. */
static void serve(int fd)
{
	unsigned long long total;

	total = echo_conn(fd);
	close(fd);
	echo_log(getenv("BKSERVER_LOG"), "bkserver", "%d %llu\n", port, total);
	__atomic_sub_fetch(&active, 1, __ATOMIC_RELAXED);
}

/* A thread made with SIGTERM blocked: the main thread alone takes it. */
static int thread(void *(*fn)(void *), void *arg)
{
	sigset_t term, saved;
	pthread_t t;
	int err;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &saved);
	err = pthread_create(&t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (!err)
		pthread_detach(t);
	return err;
}

static void *conn_thread(void *arg)
{
	serve((int)(long)arg);
	return NULL;
}

static void *report_thread(void *arg)
{
	const char *dir = getenv("BKSERVER_DIR"), *p = getenv("BKSERVER_PERIOD_MS");
	const char *c = getenv("BKSERVER_CAPACITY"), *f0 = getenv("BKSERVER_FIRST_MS");
	unsigned int cap = c ? atoi(c) : 100, ms = p ? atoi(p) : 200;
	unsigned int first = f0 ? atoi(f0) : 0;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct timespec ts0 = { first / 1000, (first % 1000) * 1000000L };
	int said = 0;

	(void)arg;
	nanosleep(&ts0, NULL);
	while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
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

/*
 * Until SIGTERM: each connection of @lfd served by a thread.  Then the
 * connections in hand finished: 0.
 */
static int accept_loop(int lfd)
{
	while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			fprintf(stderr, "bkserver: accept: %s\n", strerror(errno));
			return 1;
		}
		fcntl(c, F_SETFL, 0);
		__atomic_add_fetch(&active, 1, __ATOMIC_RELAXED);
		if (thread(conn_thread, (void *)(long)c))
			serve(c);
	}
	close(lfd);
	while (__atomic_load_n(&active, __ATOMIC_RELAXED))
		usleep(10000);
	return 0;
}

int main(void)
{
	const char *srv = getenv("NSTCPD_SERVER"), *colon;
	struct sigaction sa = { .sa_handler = on_term };

	if (nstcp_listen_fds(1) != 1 || !srv || !(colon = strrchr(srv, ':')) ||
	    !getenv("NSTCP_BROKER")) {
		fprintf(stderr, "bkserver: not started by nstcpd's broker model\n");
		return 2;
	}
	port = atoi(colon + 1);
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: poll ends */
	if (thread(report_thread, NULL))
		return 1;
	return accept_loop(NSTCP_LISTEN_FDS_START);
}
