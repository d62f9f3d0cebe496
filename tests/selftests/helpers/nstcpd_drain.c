// SPDX-License-Identifier: GPL-2.0
/*
 * A socket-activated echo server that stops gracefully: it serves
 * descriptor 3 (LISTEN_PID/LISTEN_FDS, a listening socket), a thread per
 * connection; on SIGTERM it stops accepting, lets the connections it has
 * finish, and exits 0 - a server that a reload replaces without cutting a
 * connection.  $DRAIN_LOG: a line "PID served N" appended at exit.
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
#include <unistd.h>

#include "echo_util.h"

static volatile sig_atomic_t stopping;
static int active;
static unsigned long served;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;

	echo_conn(fd);
	close(fd);
	pthread_mutex_lock(&lock);
	served++;
	if (!--active)
		pthread_cond_signal(&idle);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *log = getenv("DRAIN_LOG");
	struct sigaction sa;
	sigset_t all, saved;

	if (!pid || !fds || atoi(pid) != getpid() || atoi(fds) != 1) {
		fprintf(stderr, "drain: not socket-activated\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	while (!stopping) {
		struct pollfd p = { .fd = 3, .events = POLLIN };
		pthread_t t;
		int c;

		if (poll(&p, 1, 200) <= 0)
			continue;
		c = accept4(3, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			perror("drain: accept");
			return 1;
		}
		fcntl(c, F_SETFL, 0);
		pthread_mutex_lock(&lock);
		active++;
		pthread_mutex_unlock(&lock);
		/* The threads block SIGTERM: the main thread takes it. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &saved);
		if (pthread_create(&t, NULL, serve, (void *)(long)c))
			serve((void *)(long)c);
		else
			pthread_detach(t);
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
	pthread_mutex_lock(&lock);
	while (active)
		pthread_cond_wait(&idle, &lock);
	pthread_mutex_unlock(&lock);
	if (log) {
		FILE *f = fopen(log, "ae");

		if (f) {
			fprintf(f, "%d served %lu\n", getpid(), served);
			fclose(f);
		}
	}
	return 0;
}
