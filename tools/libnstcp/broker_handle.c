// SPDX-License-Identifier: GPL-2.0
/*
 * libnstcp: the broker model's handle, one connection to the broker for
 * all of a client's asks (protocol version 2, broker_proto.h), and the
 * lease of the last answer honoured: while it runs, no ask.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker_proto.h"
#include "nstcp.h"

struct nstcp_broker {
	int fd;				/* to the broker, -1: none yet */
	struct sockaddr_storage broker;
	socklen_t broker_len;
	struct sockaddr_storage ans;	/* the last answer */
	socklen_t ans_len;
	long long lease_end;		/* ms; 0: no lease */
	int ok;				/* fd's last answer was OK */
	unsigned long long asks;
	char req[NSTCP_BROKER_LINE_MAX];
};

struct nstcp_broker *nstcp_broker_open(const char *broker_addr_port,
				       const char *service)
{
	struct nstcp_broker *h;

	if (!broker_addr_port || (service && !nstcp_bk_valid_name(service))) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fd = -1;
	if (nstcp_parse_addr_port(broker_addr_port, &h->broker,
				  &h->broker_len)) {
		free(h);
		errno = EINVAL;
		return NULL;
	}
	snprintf(h->req, sizeof(h->req), "%s ASK %s\n", NSTCP_BROKER_MAGIC2,
		 service && *service ? service : "-");
	return h;
}

static void disconnect(struct nstcp_broker *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->ok = 0;
}

/*
 * Whether the broker closed (or reset) the kept connection, as it does
 * after NSTCP_BROKER_TIMEOUT_MS idle: anything readable before a request
 * is that, or not the protocol.
 */
static int broken(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* The answer in @reply into @h; 0, or -1 with errno. */
static int parse(struct nstcp_broker *h, const char *reply)
{
	char word[16], host[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN + 16];
	unsigned int port, lease;
	int n, end = 0;

	if (strncmp(reply, NSTCP_BROKER_MAGIC2 " ", 9)) {
		errno = EPROTO;
		return -1;
	}
	n = sscanf(reply + 9, "%15s %46s %u %u%n", word, host, &port, &lease,
		   &end);
	if (n < 1) {
		errno = EPROTO;
		return -1;
	}
	if (strcmp(word, "OK")) {
		errno = n == 1 && !strchr(reply + 9, ' ') ?
			nstcp_bk_refusal(word) : EPROTO;
		return -1;
	}
	if (n != 4 || reply[9 + end] || !port || port > 65535 ||
	    lease > NSTCP_BROKER_LEASE_MAX) {
		errno = EPROTO;
		return -1;
	}
	snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 host, port);
	if (nstcp_parse_addr_port(text, &h->ans, &h->ans_len)) {
		errno = EPROTO;
		return -1;
	}
	h->lease_end = lease ? nstcp_bk_now_ms() + lease : 0;
	return 0;
}

/* One ask on the kept connection, or a new one; -1 with errno. */
static int ask(struct nstcp_broker *h, long long end)
{
	char reply[NSTCP_BROKER_LINE_MAX + 1];
	int tries, fresh, was_ok = h->ok;

	for (tries = 0; tries < 2; tries++) {
		if (h->fd >= 0 && broken(h->fd))
			disconnect(h);
		fresh = h->fd < 0;
		if (fresh) {
			h->fd = nstcp_bk_connect(&h->broker, h->broker_len, end);
			if (h->fd < 0)
				return -1;
		}
		h->asks++;
		if (!nstcp_bk_roundtrip(h->fd, h->req, reply, end)) {
			h->ok = !parse(h, reply);
			if (h->ok)
				return 0;
			/*
			 * NOSERVER on a kept connection that answered OK
			 * before: perhaps an old broker's stale table (a
			 * reload), once more anew; not again while no
			 * server is up (the new connection's answer).
			 */
			if (fresh || errno != EHOSTDOWN || !was_ok)
				return -1;
		}
		disconnect(h);
		/* A kept connection the broker closed meanwhile: once more. */
		if (fresh || (errno != EPROTO && errno != EPIPE &&
			      errno != ECONNRESET && errno != EHOSTDOWN))
			return -1;
	}
	return -1;
}

int nstcp_broker_next(struct nstcp_broker *h, struct sockaddr_storage *out,
		      socklen_t *outlen)
{
	long long now = nstcp_bk_now_ms();
	int err;

	if (!h || !out || !outlen) {
		errno = EINVAL;
		return -1;
	}
	if (!h->lease_end || now >= h->lease_end) {
		h->lease_end = 0;
		if (ask(h, now + NSTCP_BROKER_TIMEOUT_MS)) {
			err = errno;
			/* A refusal keeps the connection; anything else not. */
			if (err != EBUSY && err != EHOSTDOWN && err != ENOENT)
				disconnect(h);
			h->lease_end = 0;
			errno = err;
			return -1;
		}
	}
	memcpy(out, &h->ans, sizeof(*out));
	*outlen = h->ans_len;
	return 0;
}

void nstcp_broker_failed(struct nstcp_broker *h)
{
	if (h)
		h->lease_end = 0;
}

unsigned long long nstcp_broker_asks(const struct nstcp_broker *h)
{
	return h ? h->asks : 0;
}

void nstcp_broker_close(struct nstcp_broker *h)
{
	if (!h)
		return;
	disconnect(h);
	free(h);
}
