// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp: the broker model's calls, asking a broker for a server and
 * reporting a server's load (broker_proto.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker_proto.h"
#include "nstcp.h"

static int parse_port(const char *s, unsigned int *port)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !v || v > 65535)
		return -1;
	*port = v;
	return 0;
}

int nstcp_parse_addr_port(const char *text, struct sockaddr_storage *out,
			  socklen_t *outlen)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	const char *colon, *port;
	char host[INET6_ADDRSTRLEN];
	unsigned int p;
	size_t n;

	if (!text || !out || !outlen)
		goto bad;
	if (*text == '[') {
		colon = strchr(text, ']');
		if (!colon || colon[1] != ':')
			goto bad;
		n = colon - text - 1;
		port = colon + 2;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			goto bad;
		n = colon - text;
		port = colon + 1;
	}
	if (!n || n >= sizeof(host) || parse_port(port, &p))
		goto bad;
	memcpy(host, text, n);
	host[n] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		*outlen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		*outlen = sizeof(*a6);
	} else {
		goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

long long nstcp_bk_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Waits for @ev on @fd until @end; 0, or -1 with errno ETIMEDOUT. */
int nstcp_bk_wait(int fd, short ev, long long end)
{
	struct pollfd p = { .fd = fd, .events = ev };
	long long left;
	int r;

	for (;;) {
		left = end - nstcp_bk_now_ms();
		if (left <= 0)
			break;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return -1;
}

/* A non-blocking connection to @ss, made by @end; -1 with errno. */
int nstcp_bk_connect(const struct sockaddr_storage *ss, socklen_t sl,
		     long long end)
{
	int fd, err, soerr;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, sl)) {
		if (errno != EINPROGRESS)
			goto fail;
		if (nstcp_bk_wait(fd, POLLOUT, end))
			goto fail;
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * Sends @req on @fd and reads one reply line into @reply (its '\n'
 * removed), all by @end.  0, or -1 with errno (EPROTO: closed before a
 * whole line, a line too long or bytes after it).
 */
int nstcp_bk_roundtrip(int fd, const char *req, char *reply, long long end)
{
	size_t len = strlen(req), done = 0;
	char *nl = NULL;
	ssize_t n;

	while (done < len) {
		n = send(fd, req + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN && !nstcp_bk_wait(fd, POLLOUT, end))
			continue;
		if (n < 0)
			return -1;
		done += n;
	}
	done = 0;
	for (;;) {
		n = recv(fd, reply + done, NSTCP_BROKER_LINE_MAX - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && !nstcp_bk_wait(fd, POLLIN, end))
				continue;
			return -1;
		}
		if (!n) {
			/* Closed before a whole line: not the protocol. */
			errno = EPROTO;
			return -1;
		}
		done += n;
		nl = memchr(reply, '\n', done);
		if (nl)
			break;
		if (done == NSTCP_BROKER_LINE_MAX) {
			errno = EPROTO;
			return -1;
		}
	}
	/* One request, one line: anything after it is not the protocol. */
	if (nl + 1 != reply + done) {
		errno = EPROTO;
		return -1;
	}
	/* Up to the '\n': a reply with a NUL before it is cut there. */
	*nl = 0;
	return 0;
}

/* @req to the broker at @broker on a connection of its own. */
static int exchange(const char *broker, const char *req, char *reply)
{
	long long end = nstcp_bk_now_ms() + NSTCP_BROKER_TIMEOUT_MS;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r, err;

	if (nstcp_parse_addr_port(broker, &ss, &sl))
		return -1;
	fd = nstcp_bk_connect(&ss, sl, end);
	if (fd < 0)
		return -1;
	r = nstcp_bk_roundtrip(fd, req, reply, end);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

/* The errno of a refusal @word, EPROTO for anything else. */
int nstcp_bk_refusal(const char *word)
{
	if (!strcmp(word, "FULL"))
		return EBUSY;
	if (!strcmp(word, "NOSERVER"))
		return EHOSTDOWN;
	if (!strcmp(word, "UNKNOWN"))
		return ENOENT;
	return EPROTO;
}

int nstcp_bk_valid_name(const char *s)
{
	size_t n = strlen(s);

	return n <= NSTCP_BROKER_NAME_MAX && strspn(s,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

int nstcp_broker_ask(const char *broker_addr_port, const char *service,
		     struct sockaddr_storage *out, socklen_t *outlen)
{
	char req[NSTCP_BROKER_LINE_MAX + 1], reply[NSTCP_BROKER_LINE_MAX + 1];
	char word[16], host[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN + 16];
	unsigned int port;
	int n, end = 0;

	if (!broker_addr_port || !out || !outlen ||
	    (service && !nstcp_bk_valid_name(service))) {
		errno = EINVAL;
		return -1;
	}
	snprintf(req, sizeof(req), "%s ASK %s\n", NSTCP_BROKER_MAGIC,
		 service && *service ? service : "-");
	if (exchange(broker_addr_port, req, reply))
		return -1;
	n = sscanf(reply, NSTCP_BROKER_MAGIC " %15s %46s %u%n", word, host,
		   &port, &end);
	if (n < 1 || strncmp(reply, NSTCP_BROKER_MAGIC " ", 9)) {
		errno = EPROTO;
		return -1;
	}
	if (strcmp(word, "OK")) {
		errno = n == 1 ? nstcp_bk_refusal(word) : EPROTO;
		return -1;
	}
	if (n != 3 || reply[end] || !port || port > 65535) {
		errno = EPROTO;
		return -1;
	}
	snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 host, port);
	if (nstcp_parse_addr_port(text, out, outlen)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int nstcp_report_load(const char *broker_addr_port,
		      const char *server_addr_port, unsigned int load,
		      unsigned int capacity)
{
	char req[NSTCP_BROKER_LINE_MAX + 1], reply[NSTCP_BROKER_LINE_MAX + 1];
	struct sockaddr_storage ss;
	socklen_t sl;
	int n;

	if (!broker_addr_port)
		broker_addr_port = getenv("NSTCP_BROKER");
	if (!server_addr_port)
		server_addr_port = getenv("NSTCPD_SERVER");
	if (!broker_addr_port || !server_addr_port ||
	    nstcp_parse_addr_port(server_addr_port, &ss, &sl) ||
	    load > NSTCP_BROKER_NUM_MAX || capacity > NSTCP_BROKER_NUM_MAX) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(req, sizeof(req), "%s REPORT %s %u %u\n",
		     NSTCP_BROKER_MAGIC, server_addr_port, load, capacity);
	if (n >= NSTCP_BROKER_LINE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (exchange(broker_addr_port, req, reply))
		return -1;
	if (!strcmp(reply, NSTCP_BROKER_MAGIC " OK"))
		return 0;
	if (strncmp(reply, NSTCP_BROKER_MAGIC " ", 9) || strchr(reply + 9, ' ')) {
		errno = EPROTO;
		return -1;
	}
	errno = nstcp_bk_refusal(reply + 9);
	return -1;
}
