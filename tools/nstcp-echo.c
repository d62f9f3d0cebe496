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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#define MAX_CONNS	64

struct conn {
	int fd;
	unsigned long id;
	char peer[INET6_ADDRSTRLEN + 8];
	time_t last;		/* last activity, for the idle timeout */
};

static const char *prog = "nstcp-echo";
static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-a ADDR] [-p PORT] [-n COUNT] [-t SECS] [-q]\n"
		"An AF_NSTCP server: greets each TCP client, then echoes what it sends.\n"
		"\n"
		"  -a, --addr ADDR   address to listen on, IPv4 or IPv6 (127.0.0.1)\n"
		"  -p, --port PORT   port to listen on (7007; 0: any free port)\n"
		"  -n, --count N     exit after serving N connections (0: never)\n"
		"  -t, --idle SECS   close a connection idle for SECS (60; 0: never)\n"
		"  -q, --quiet       do not log each connection\n"
		"  -h, --help        this help\n"
		"\n"
		"It prints \"listening on ADDR:PORT\" once ready.\n",
		prog);
}

/* The AF_NSTCP family number: the module's sysctl, else the default. */
static int nstcp_family(void)
{
	FILE *f = fopen("/proc/sys/net/nstcp/family", "re");
	int fam = AF_NSTCP;

	if (f) {
		if (fscanf(f, "%d", &fam) != 1)
			fam = AF_NSTCP;
		fclose(f);
	}
	return fam;
}

static void addr_text(const struct sockaddr_storage *ss, char *buf,
		      size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", ss->ss_family);
	}
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

/* Write all of @buf; false when the peer has gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
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
	write_all(c->fd, msg, n);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "idle", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *addr = "127.0.0.1";
	unsigned long port = 7007, count = 0, idle = 60;
	unsigned long accepted = 0, served = 0;
	struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_storage ss;
	struct sigaction sa = { .sa_handler = on_signal };
	bool quiet = false;
	socklen_t len;
	char buf[16384], text[INET6_ADDRSTRLEN + 8];
	int lfd, opt, one = 1, nconns = 0, i;
	char *end;

	while ((opt = getopt_long(argc, argv, "a:p:n:t:qh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
		case 'n':
		case 't': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || *optarg == '-' ||
			    (opt == 'p' && v > 65535)) {
				fprintf(stderr, "%s: bad number '%s' for -%c\n",
					prog, optarg, opt);
				return 2;
			}
			if (opt == 'p')
				port = v;
			else if (opt == 'n')
				count = v;
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

	lfd = socket(nstcp_family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
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
	addr_text(&ss, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);

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
					gone = !write_all(c->fd, buf, got);
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
			addr_text(&ss, c->peer, sizeof(c->peer));
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
