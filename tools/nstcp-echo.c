// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp-echo: a small AF_NSTCP greeting and echo server.
 *
 * It listens with an AF_NSTCP socket on a standard IPv4 or IPv6 address and
 * port; any TCP client can connect.  Each connection gets a one-line
 * greeting naming the connection, the client and the CPU whose AF_NSTCP
 * instance owns the flow, then everything the client sends is echoed back
 * until the client closes.  Connections are served together from one poll
 * loop.  With -n N it exits once N connections have come and gone.
 *
 * With -A N it serves per CPU instead: N acceptor threads, thread i pinned
 * to the i-th CPU it may use, each blocking in accept() on the one
 * listening socket (AF_NSTCP gives a blocked accept() the connections that
 * arrived on its CPU first); each connection is then served by a thread of
 * its own on the acceptor's CPU.  On exit it prints, per acceptor, how many
 * connections it took and how many of them were homed on its CPU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "tool_addr.h"
#include "tool_io.h"
#include "tool_sysctl.h"

#define MAX_CONNS	64

struct conn {
	int fd;
	unsigned long id;
	char peer[TOOL_ADDR_LEN];
	time_t last;		/* last activity, for the idle timeout */
};

static const char *prog = "nstcp-echo";
static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-a ADDR] [-p PORT] [-n COUNT] [-t SECS] [-A N] [-q]\n"
		"An AF_NSTCP server: greets each TCP client, then echoes what it sends.\n"
		"\n"
		"  -a, --addr ADDR   address to listen on, IPv4 or IPv6 (127.0.0.1)\n"
		"  -p, --port PORT   port to listen on (7007; 0: any free port)\n"
		"  -n, --count N     exit after serving N connections (0: never)\n"
		"  -t, --idle SECS   close a connection idle for SECS (60; 0: never)\n"
		"  -A, --acceptors N N acceptor threads, one pinned per CPU, each in a\n"
		"                    blocking accept(); a thread per connection\n"
		"                    (0: one poll loop, the default)\n"
		"  -q, --quiet       do not log each connection\n"
		"  -h, --help        this help\n"
		"\n"
		"It prints \"listening on ADDR:PORT\" once ready.\n",
		prog);
}

static int parse_addr(const char *text, unsigned int port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void greet(struct conn *c, bool quiet)
{
	struct nstcp_info info;
	socklen_t len = sizeof(info);
	char msg[256];
	int n;

	if (getsockopt(c->fd, SOL_NSTCP, NSTCP_INFO, &info, &len)) {
		info.nsi_home_cpu = -1;
		info.nsi_call_cpu = sched_getcpu();
	}
	n = snprintf(msg, sizeof(msg),
		     "hello %s, this is AF_NSTCP connection %lu; the flow is homed on CPU %d, accepted on CPU %d\n",
		     c->peer, c->id, info.nsi_home_cpu, info.nsi_call_cpu);
	if (!quiet) {
		printf("connection %lu from %s: home CPU %d, accepted on CPU %d\n",
		       c->id, c->peer, info.nsi_home_cpu, info.nsi_call_cpu);
		fflush(stdout);
	}
	tool_send_all(c->fd, msg, n);
}

/* ---- -A: acceptor threads pinned per CPU ---- */

#define MAX_ACCEPTORS	256

struct acceptor {
	pthread_t th;
	int cpu;
	unsigned long taken;	/* connections accepted */
	unsigned long local;	/* ... homed on this CPU */
};

static struct {
	int lfd;
	unsigned long count, idle;
	bool quiet;
	atomic_ulong accepted, served;
	atomic_int active;	/* connection threads running */
	pthread_mutex_t lock;
	pthread_cond_t done;	/* served or active changed */
} A = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

struct tconn {
	int fd;
	int cpu;		/* the acceptor's */
	int home;
	unsigned long id;
	char peer[TOOL_ADDR_LEN];
};

static void pin_thread(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Serve one connection: greet, then echo until the client closes. */
static void *conn_main(void *p)
{
	struct tconn *c = p;
	struct timeval tv = { .tv_sec = (time_t)A.idle };
	char buf[16384], msg[256];
	ssize_t got;
	int n;

	pin_thread(c->cpu);
	if (A.idle)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(msg, sizeof(msg),
		     "hello %s, this is AF_NSTCP connection %lu; the flow is homed on CPU %d, accepted on CPU %d\n",
		     c->peer, c->id, c->home, c->cpu);
	if (tool_send_all(c->fd, msg, n)) {
		for (;;) {
			got = recv(c->fd, buf, sizeof(buf), 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				if (!A.quiet)
					printf("connection %lu: idle for %lu s, closing\n",
					       c->id, A.idle);
				break;
			}
			if (got <= 0 || !tool_send_all(c->fd, buf, got))
				break;
		}
	}
	if (!A.quiet) {
		printf("connection %lu from %s closed\n", c->id, c->peer);
		fflush(stdout);
	}
	close(c->fd);
	free(c);
	pthread_mutex_lock(&A.lock);
	atomic_fetch_add(&A.served, 1);
	atomic_fetch_sub(&A.active, 1);
	pthread_cond_broadcast(&A.done);
	pthread_mutex_unlock(&A.lock);
	return NULL;
}

static void *acceptor_main(void *p)
{
	struct acceptor *a = p;
	struct sockaddr_storage ss;
	pthread_attr_t attr;
	socklen_t len;

	pin_thread(a->cpu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stop) {
		struct tconn *c;
		unsigned long id;
		pthread_t th;
		int fd, home = -1;

		len = sizeof(ss);
		fd = accept4(A.lfd, (struct sockaddr *)&ss, &len,
			     SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			if (!stop)	/* not the shutdown() that ends us */
				perror("accept");
			break;
		}
		len = sizeof(home);
		if (getsockopt(fd, SOL_NSTCP, NSTCP_HOME_CPU, &home, &len))
			home = -1;
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		id = atomic_fetch_add(&A.accepted, 1) + 1;
		*c = (struct tconn){ .fd = fd, .cpu = a->cpu, .home = home,
				     .id = id };
		tool_addr_text(&ss, c->peer, sizeof(c->peer));
		a->taken++;
		a->local += home == a->cpu;
		if (!A.quiet) {
			printf("connection %lu from %s: home CPU %d, accepted on CPU %d\n",
			       id, c->peer, home, a->cpu);
			fflush(stdout);
		}
		atomic_fetch_add(&A.active, 1);
		if (pthread_create(&th, &attr, conn_main, c)) {
			perror("pthread_create");
			close(fd);
			free(c);
			atomic_fetch_sub(&A.active, 1);
			atomic_fetch_add(&A.served, 1);
		}
		/* With -n, the last acceptor stops after COUNT. */
		if (A.count && id >= A.count)
			break;
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

static int run_acceptors(int lfd, int n, unsigned long count,
			 unsigned long idle, bool quiet)
{
	static struct acceptor acc[MAX_ACCEPTORS];
	unsigned long taken = 0, local = 0;
	cpu_set_t allowed;
	int cpus[MAX_ACCEPTORS], ncpus = 0, i;

	A.lfd = lfd;
	A.count = count;
	A.idle = idle;
	A.quiet = quiet;
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		CPU_ZERO(&allowed);
	for (i = 0; i < CPU_SETSIZE && ncpus < MAX_ACCEPTORS; i++)
		if (CPU_ISSET(i, &allowed))
			cpus[ncpus++] = i;
	if (!ncpus)
		cpus[ncpus++] = 0;
	printf("%d acceptor threads, in blocking accept(), on CPU", n);
	for (i = 0; i < n; i++) {
		acc[i].cpu = cpus[i % ncpus];
		printf("%s%d", i ? "," : " ", acc[i].cpu);
	}
	printf("\n");
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (pthread_create(&acc[i].th, NULL, acceptor_main, &acc[i])) {
			perror("pthread_create");
			return 1;
		}

	/* Until COUNT connections have come and gone, or a signal. */
	pthread_mutex_lock(&A.lock);
	while (!stop && (!count || atomic_load(&A.served) < count)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&A.done, &A.lock, &ts);
	}
	pthread_mutex_unlock(&A.lock);
	stop = 1;
	/* Wake the acceptors still blocked in accept(). */
	shutdown(lfd, SHUT_RDWR);
	for (i = 0; i < n; i++)
		pthread_join(acc[i].th, NULL);

	printf("served %lu connection%s\n", (unsigned long)atomic_load(&A.served),
	       atomic_load(&A.served) == 1 ? "" : "s");
	printf("acceptor CPU  connections  homed on its CPU\n");
	for (i = 0; i < n; i++) {
		printf("%12d  %11lu  %16lu\n", acc[i].cpu, acc[i].taken,
		       acc[i].local);
		taken += acc[i].taken;
		local += acc[i].local;
	}
	printf("%12s  %11lu  %16lu", "all", taken, local);
	if (taken)
		printf("  (%.0f%%)", 100.0 * local / taken);
	printf("\n");
	fflush(stdout);
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "idle", required_argument, NULL, 't' },
		{ "acceptors", required_argument, NULL, 'A' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *addr = "127.0.0.1";
	unsigned long port = 7007, count = 0, idle = 60, acceptors = 0;
	unsigned long accepted = 0, served = 0;
	struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_storage ss;
	struct sigaction sa = { .sa_handler = on_signal };
	bool quiet = false;
	socklen_t len;
	char buf[16384], text[TOOL_ADDR_LEN];
	int lfd, opt, one = 1, nconns = 0, i;
	char *end;

	while ((opt = getopt_long(argc, argv, "a:p:n:t:A:qh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
		case 'n':
		case 't':
		case 'A': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || *optarg == '-' ||
			    (opt == 'p' && v > 65535) ||
			    (opt == 'A' && v > MAX_ACCEPTORS)) {
				fprintf(stderr, "%s: bad number '%s' for -%c\n",
					prog, optarg, opt);
				return 2;
			}
			if (opt == 'p')
				port = v;
			else if (opt == 'n')
				count = v;
			else if (opt == 'A')
				acceptors = v;
			else
				idle = v;
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || parse_addr(addr, port, &ss, &len)) {
		if (optind < argc)
			fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
				argv[optind]);
		else
			fprintf(stderr, "%s: '%s' is not an IPv4 or IPv6 address\n",
				prog, addr);
		return 2;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	lfd = socket(tool_nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fprintf(stderr, "%s: socket(AF_NSTCP): %s%s\n", prog,
			strerror(errno), errno == EAFNOSUPPORT ?
			" (is nstcp.ko loaded?)" : "");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 128)) {
		fprintf(stderr, "%s: listen on %s port %lu: %s\n", prog, addr,
			port, strerror(errno));
		return 1;
	}
	len = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	tool_addr_text(&ss, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);
	if (acceptors)
		return run_acceptors(lfd, acceptors, count, idle, quiet);

	while (!stop && (!count || served < count)) {
		time_t now = time(NULL);
		bool more = !count || accepted < count;
		int n = 0, ready;

		for (i = 0; i < nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i].fd,
						    .events = POLLIN };
		/* Stop accepting at COUNT, and while the table is full. */
		if (more && nconns < MAX_CONNS)
			pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		ready = poll(pfd, n, 1000);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}

		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			ssize_t got = 0;
			bool gone = false;

			if (pfd[i].revents) {
				got = recv(c->fd, buf, sizeof(buf), 0);
				if (got > 0) {
					c->last = now;
					gone = !tool_send_all(c->fd, buf, got);
				} else if (got == 0 || (errno != EINTR &&
							errno != EAGAIN)) {
					gone = true;
				}
			} else if (idle && now - c->last >= (time_t)idle) {
				if (!quiet)
					printf("connection %lu: idle for %lu s, closing\n",
					       c->id, idle);
				gone = true;
			}
			if (gone) {
				if (!quiet) {
					printf("connection %lu from %s closed\n",
					       c->id, c->peer);
					fflush(stdout);
				}
				close(c->fd);
				served++;
				/* pfd[] no longer lines up after a removal. */
				conns[i] = conns[--nconns];
				pfd[i] = pfd[nconns];
				pfd[nconns].revents = 0;
				i--;
			}
		}

		if (n && pfd[n - 1].fd == lfd && (pfd[n - 1].revents & POLLIN)) {
			struct conn *c = &conns[nconns];

			len = sizeof(ss);
			c->fd = accept4(lfd, (struct sockaddr *)&ss, &len,
					SOCK_CLOEXEC);
			if (c->fd < 0) {
				if (errno != EINTR && errno != EAGAIN &&
				    errno != ECONNABORTED)
					perror("accept");
				continue;
			}
			c->id = ++accepted;
			c->last = now;
			tool_addr_text(&ss, c->peer, sizeof(c->peer));
			nconns++;
			greet(c, quiet);
		}
	}

	for (i = 0; i < nconns; i++)
		close(conns[i].fd);
	close(lfd);
	if (!quiet)
		printf("served %lu connection%s\n", served,
		       served == 1 ? "" : "s");
	return 0;
}
