// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp-broker: the command-line client of nstcpd's broker model
 * (Documentation/man/nstcp-broker.1.rst).
 *
 *   nstcp-broker [-s SERVICE] [-c [-v]] BROKER_ADDR:PORT
 *   nstcp-broker -r SERVER_ADDR:PORT -l LOAD -C CAPACITY BROKER_ADDR:PORT
 *   nstcp-broker -n COUNT [-s SERVICE] [-w MS] [-F | -c] BROKER_ADDR:PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nstcp.h"
#include "tool_addr.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nstcp-broker [-s SERVICE] [-c [-v]] BROKER_ADDR:PORT\n"
		"       nstcp-broker -r SERVER_ADDR:PORT -l LOAD -C CAPACITY BROKER_ADDR:PORT\n"
		"       nstcp-broker -n COUNT [-s SERVICE] [-w MS] [-F | -c] BROKER_ADDR:PORT\n");
}

static void fail(const char *what, const char *arg)
{
	int e = errno;
	const char *name = strerrorname_np(e);

	fprintf(stderr, "nstcp-broker: %s %s: %s (%s)\n", what, arg,
		strerror(e), name ? name : "?");
}

static void print_addr(FILE *f, const struct sockaddr_storage *ss)
{
	char text[TOOL_ADDR_LEN];

	tool_addr_text(ss, text, sizeof(text));
	fprintf(f, "%s\n", text);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* Relays stdin to @fd (then shuts its write side) and @fd to stdout. */
static int relay(int fd)
{
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	char buf[65536];
	ssize_t n;

	while (p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (!n) {
				shutdown(fd, SHUT_WR);
				p[0].fd = -1;
			} else if (write_all(fd, buf, n)) {
				return -1;
			}
		}
		if (p[1].revents) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (!n)
				p[1].fd = -1;
			else if (write_all(1, buf, n))
				return -1;
		}
	}
	return 0;
}

static int number(const char *s, unsigned int *v)
{
	unsigned long n;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > 1000000000UL)
		return -1;
	*v = n;
	return 0;
}

/* A connection to @ss made and closed: 0, or -1 with errno. */
static int try_connect(const struct sockaddr_storage *ss, socklen_t sl)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, sl)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * --count: @count answers of a handle (protocol version 2), one a line,
 * @wait_ms apart, each dropped as failed with @failed; with @conn each
 * connected to, its lease dropped when the connection fails.  The
 * handle's asks (and with @conn the failed connections) on stderr.
 */
static int handle_asks(const char *broker, const char *service,
		       unsigned int count, unsigned int wait_ms, int failed,
		       int conn)
{
	unsigned int nfail = 0;
	struct nstcp_broker *h = nstcp_broker_open(broker, service);
	struct sockaddr_storage ss;
	unsigned int i;
	socklen_t sl;
	int rc = 0;

	if (!h) {
		fail("open", broker);
		return 1;
	}
	for (i = 0; i < count; i++) {
		if (i && wait_ms)
			usleep(wait_ms * 1000);
		if (nstcp_broker_next(h, &ss, &sl)) {
			fail("ask", broker);
			rc = 1;
			break;
		}
		print_addr(stdout, &ss);
		if (conn && try_connect(&ss, sl)) {
			fail("connect", "to the server");
			nfail++;
			nstcp_broker_failed(h);
		} else if (failed) {
			nstcp_broker_failed(h);
		}
	}
	fflush(stdout);
	if (conn)
		fprintf(stderr, "failed connections: %u\n", nfail);
	fprintf(stderr, "asks: %llu\n", nstcp_broker_asks(h));
	nstcp_broker_close(h);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "connect", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "report", required_argument, NULL, 'r' },
		{ "load", required_argument, NULL, 'l' },
		{ "capacity", required_argument, NULL, 'C' },
		{ "count", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "failed", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = NULL, *report = NULL, *load_s = NULL, *cap_s = NULL;
	const char *count_s = NULL, *wait_s = NULL;
	int conn = 0, verbose = 0, failed = 0, c, fd;
	unsigned int count, wait_ms = 0;
	struct sockaddr_storage ss;
	unsigned int load, cap;
	socklen_t sl;

	while ((c = getopt_long(argc, argv, "s:cvr:l:C:n:w:Fh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			service = optarg;
			break;
		case 'c':
			conn = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'r':
			report = optarg;
			break;
		case 'l':
			load_s = optarg;
			break;
		case 'C':
			cap_s = optarg;
			break;
		case 'n':
			count_s = optarg;
			break;
		case 'w':
			wait_s = optarg;
			break;
		case 'F':
			failed = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || (report && (conn || service)) ||
	    (!report && (load_s || cap_s)) ||
	    (count_s && (report || (conn && (failed || verbose)))) ||
	    (!count_s && (wait_s || failed))) {
		usage(stderr);
		return 2;
	}
	if (count_s) {
		if (number(count_s, &count) || !count || count > 100000 ||
		    (wait_s && (number(wait_s, &wait_ms) || wait_ms > 60000))) {
			fprintf(stderr,
				"nstcp-broker: --count is 1 to 100000, --wait 0 to 60000 ms\n");
			return 2;
		}
		return handle_asks(argv[optind], service, count, wait_ms, failed,
				   conn);
	}
	if (report) {
		if (number(load_s, &load) || number(cap_s, &cap)) {
			fprintf(stderr, "nstcp-broker: --report needs --load and --capacity, 0 to 1000000000\n");
			return 2;
		}
		if (nstcp_report_load(argv[optind], report, load, cap)) {
			fail("report to", argv[optind]);
			return 1;
		}
		return 0;
	}
	if (nstcp_broker_ask(argv[optind], service, &ss, &sl)) {
		fail("ask", argv[optind]);
		return 1;
	}
	if (!conn) {
		print_addr(stdout, &ss);
		return 0;
	}
	if (verbose)
		print_addr(stderr, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl)) {
		fail("connect", "to the server");
		return 1;
	}
	if (relay(fd)) {
		fail("relay", "with the server");
		return 1;
	}
	close(fd);
	return 0;
}
