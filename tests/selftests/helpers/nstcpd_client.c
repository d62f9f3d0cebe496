// SPDX-License-Identifier: GPL-2.0
/*
 * The clients of the nstcpd selftests (plain AF_INET, as any client).
 *
 *   nstcpd_client echo ADDR PORT CONNS BYTES PAR
 *	PAR processes make CONNS connections in all, one after the other
 *	each: BYTES of data seeded by the connection's number sent, the
 *	write side shut, the echo read to EOF and compared (length and a
 *	64-bit FNV-1a sum).  Prints "conns N ok N bad N resets N refused N".
 *   nstcpd_client ask ADDR PORT CONNS BYTES PAR
 *	as echo, but each connection first asks the broker at ADDR:PORT
 *	(libnstcp's nstcp_broker_ask) and connects to the server answered.
 *	Prints "conns N ok N bad N resets N refused N askfail N" (a failed
 *	ask, its errno on stderr, is no connection).
 *   nstcpd_client long ADDR PORT CONNS SECONDS
 *	CONNS long-lived connections at once, each for SECONDS: every
 *	50 ms 1 KiB of seeded data sent and its echo read back and compared
 *	(a 64-bit FNV-1a sum per exchange); then the write side shut and
 *	the EOF awaited.  Prints "conns N ok N bad N resets N refused N
 *	exchanges N" (a connection is ok when every exchange was).
 *   nstcpd_client hold ADDR PORT CONNS SECONDS
 *	opens CONNS connections at once and holds them SECONDS: those the
 *	server closes (EOF or reset) within the time are refused, the
 *	others served.  Prints "conns N served N refused N".
 * A connection counted refused or reset (long: its connect only) is also
 * told on stderr: when (UTC), which, and why (the connect's error, the
 * server's end of stream before a byte came back and before all was
 * sent, or a reset).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nstcp.h"

struct counts {
	int ok, bad, resets, refused, askfail;
	long exchanges;
};

static struct sockaddr_in dst;
static const char *broker;	/* ask: the broker's ADDR:PORT */

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int dial_to(const struct sockaddr *to, socklen_t len)
{
	int fd = socket(to->sa_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, to, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int dial(void)
{
	return dial_to((struct sockaddr *)&dst, sizeof(dst));
}

/* How long a connection may stall (ND_IO_TIMEOUT_MS; 20 s). */
static int io_timeout_ms = 20000;

/*
 * A connection counted refused or reset, told on stderr (the selftests
 * show it as a comment): which it was, when (UTC, to the millisecond, to
 * be matched with the server's log), @what and @err (an errno or 0).
 */
static void tell(unsigned int seed, const char *kind, const char *what,
		 int err)
{
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	fprintf(stderr, "nstcpd_client: %02d:%02d:%02d.%03ld port %d connection %u %s: %s%s%s\n",
		tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
		ntohs(dst.sin_port), seed, kind, what, err ? ": " : "",
		err ? strerror(err) : "");
}

/*
 * One echoed connection, to the server the broker answers when asking:
 * 0 ok, 1 bad data, 2 reset, 3 refused, 4 the ask failed.
 */
static int one(unsigned int seed, size_t bytes)
{
	unsigned char *out = malloc(bytes), in[16384];
	unsigned int seed0 = seed;
	uint64_t hs = 0xcbf29ce484222325ULL, hr = hs;
	size_t sent = 0, got = 0, i;
	int fd, r = 1, wr_shut = 0;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!out)
		return 1;
	for (i = 0; i < bytes; i++) {
		seed = seed * 1103515245 + 12345;
		out[i] = seed >> 16;
	}
	hs = fnv(hs, out, bytes);
	if (broker && nstcp_broker_ask(broker, NULL, &ss, &sl)) {
		fprintf(stderr, "nstcpd_client: ask %s: %s\n", broker,
			strerror(errno));
		free(out);
		return 4;
	}
	fd = broker ? dial_to((struct sockaddr *)&ss, sl) : dial();
	if (fd < 0) {
		int err = errno;

		free(out);
		tell(seed0, err == ECONNRESET ? "reset" : "refused", "connect", err);
		return err == ECONNRESET ? 2 : 3;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (!wr_shut)
			p.events |= POLLOUT;
		if (poll(&p, 1, io_timeout_ms) <= 0)
			break;
		if (p.revents & POLLIN || p.revents & (POLLHUP | POLLERR)) {
			n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0) {
				r = errno == ECONNRESET ? 2 : 1;
				if (r == 2)
					tell(seed0, "reset", got ? "in the echo" :
					     "before a byte came back", errno);
				break;
			}
			if (n == 0) {
				r = got == bytes && hr == hs ? 0 : 1;
				if (!got && sent < bytes) {
					r = 3;
					snprintf((char *)in, sizeof(in),
						 "closed by the server before a byte, %zu of %zu bytes sent",
						 sent, bytes);
					tell(seed0, "refused", (char *)in, 0);
				}
				break;
			}
			hr = fnv(hr, in, n);
			got += n;
			continue;
		}
		if (p.revents & POLLOUT) {
			n = send(fd, out + sent, bytes - sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN) {
				r = errno == ECONNRESET ? 2 : 1;
				if (r == 2)
					tell(seed0, "reset", "sending", errno);
				break;
			}
			if (n > 0)
				sent += n;
			if (sent == bytes) {
				shutdown(fd, SHUT_WR);
				wr_shut = 1;
			}
		}
	}
	close(fd);
	free(out);
	return r;
}

/* Reads exactly @n bytes: 0, 1 at EOF or bad, 2 on a reset. */
static int read_all(int fd, unsigned char *buf, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&p, 1, io_timeout_ms) != 1)
			return 1;
		r = recv(fd, buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECONNRESET ? 2 : 1;
		if (!r)
			return 1;
		got += r;
	}
	return 0;
}

/* One long-lived connection (see the top): 0 ok, 1 bad, 2 reset, 3 refused. */
static int one_long(unsigned int seed, int seconds, long *exchanges)
{
	unsigned char out[1024], in[1024];
	struct timespec end, now;
	size_t i;
	int fd, r = 0;
	char c;

	fd = dial();
	if (fd < 0) {
		r = errno;
		tell(seed, r == ECONNRESET ? "reset" : "refused", "connect", r);
		return r == ECONNRESET ? 2 : 3;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	do {
		for (i = 0; i < sizeof(out); i++) {
			seed = seed * 1103515245 + 12345;
			out[i] = seed >> 16;
		}
		if (send(fd, out, sizeof(out), MSG_NOSIGNAL) != sizeof(out)) {
			r = errno == ECONNRESET || errno == EPIPE ? 2 : 1;
			break;
		}
		r = read_all(fd, in, sizeof(in));
		if (r)
			break;
		if (fnv(0xcbf29ce484222325ULL, in, sizeof(in)) !=
		    fnv(0xcbf29ce484222325ULL, out, sizeof(out))) {
			r = 1;
			break;
		}
		(*exchanges)++;
		usleep(50000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	if (!r) {
		shutdown(fd, SHUT_WR);
		r = read_all(fd, (unsigned char *)&c, 1);
		/* The echo's EOF is what is expected: not a byte more. */
		r = r == 1 ? 0 : r == 2 ? 2 : 1;
	}
	close(fd);
	return r;
}

static int echo(int conns, size_t bytes, int par, int seconds)
{
	struct counts total = { 0 };
	int pfd[2], i;

	if (pipe(pfd))
		return 1;
	for (i = 0; i < par; i++) {
		if (fork() == 0) {
			struct counts c = { 0 };
			int k;

			close(pfd[0]);
			for (k = i; k < conns; k += par) {
				switch (seconds ? one_long(k + 1, seconds, &c.exchanges) :
					one(k + 1, bytes)) {
				case 0:
					c.ok++;
					break;
				case 2:
					c.resets++;
					break;
				case 3:
					c.refused++;
					break;
				case 4:
					c.askfail++;
					break;
				default:
					c.bad++;
				}
			}
			if (write(pfd[1], &c, sizeof(c)) != sizeof(c))
				_exit(1);
			_exit(0);
		}
	}
	close(pfd[1]);
	for (i = 0; i < par; i++) {
		struct counts c;

		if (read(pfd[0], &c, sizeof(c)) != sizeof(c))
			break;
		total.ok += c.ok;
		total.bad += c.bad;
		total.resets += c.resets;
		total.refused += c.refused;
		total.askfail += c.askfail;
		total.exchanges += c.exchanges;
	}
	while (wait(NULL) > 0)
		;
	printf("conns %d ok %d bad %d resets %d refused %d", conns, total.ok,
	       total.bad, total.resets, total.refused);
	if (seconds)
		printf(" exchanges %ld", total.exchanges);
	if (broker)
		printf(" askfail %d", total.askfail);
	printf("\n");
	return total.ok != conns;
}

static int hold(int conns, int seconds)
{
	int *fd = calloc(conns, sizeof(int)), i, served = 0, refused = 0;
	struct timespec end, now;

	if (!fd)
		return 1;
	for (i = 0; i < conns; i++)
		fd[i] = dial();
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	do {
		usleep(50000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	for (i = 0; i < conns; i++) {
		struct pollfd p = { .fd = fd[i], .events = POLLIN };
		char c;

		if (fd[i] < 0) {
			refused++;
			continue;
		}
		if (poll(&p, 1, 0) == 1 && recv(fd[i], &c, 1, MSG_DONTWAIT) <= 0)
			refused++;
		else
			served++;
		close(fd[i]);
	}
	printf("conns %d served %d refused %d\n", conns, served, refused);
	free(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s echo|ask ADDR PORT CONNS BYTES PAR |\n"
			"       %s long|hold ADDR PORT CONNS SECONDS\n",
			argv[0], argv[0]);
		return 2;
	}
	if (getenv("ND_IO_TIMEOUT_MS") && atoi(getenv("ND_IO_TIMEOUT_MS")) > 0)
		io_timeout_ms = atoi(getenv("ND_IO_TIMEOUT_MS"));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1)
		return 2;
	if (!strcmp(argv[1], "ask") && argc == 7) {
		static char b[64];

		snprintf(b, sizeof(b), "%s:%s", argv[2], argv[3]);
		broker = b;
	}
	if ((!strcmp(argv[1], "echo") || broker) && argc == 7)
		return echo(atoi(argv[4]), strtoul(argv[5], NULL, 10),
			    atoi(argv[6]), 0);
	if (!strcmp(argv[1], "long") && atoi(argv[4]) > 0 && atoi(argv[5]) > 0)
		return echo(atoi(argv[4]), 0, atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(argv[1], "hold"))
		return hold(atoi(argv[4]), atoi(argv[5]));
	return 2;
}
