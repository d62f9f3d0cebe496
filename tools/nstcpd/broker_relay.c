// SPDX-License-Identifier: GPL-2.0
/*
 * A draining broker's ASK passed on to the new image's brokers (broker_ask.c
 * asks, broker_run.c drains).  After a reload the old image's table gets no
 * more reports: its servers stopped reporting at SIGTERM and the new
 * servers report to the new image's brokers, each to the new table.  Its
 * entries all expire after expire_ms, and a client still holding a
 * draining broker would then be told NOSERVER while the new servers
 * serve.  So once no report of its table is fresh, the draining broker
 * (its own descriptor of the listening socket closed) connects to the
 * address its client reached, where the port's listeners now are the new
 * image's brokers (or, in the moment of the drain, another old broker's,
 * answering from the same old table), asks there and answers what they
 * answer: a server of the new configuration, its load counted in the new
 * table.  Once per client connection, within BK_RELAY_MS, and only an OK
 * naming the address this broker answers with: whoever listens on the
 * port, its answer can send a client to no other host.  See
 * Documentation/nstcpd.rst, "Reload and restart".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker_run.h"

#define BK_RELAY_MS	1000	/* the whole exchange */
#define BK_RELAY_PAUSE_MS	1000	/* no relay for as long after a failed one */

/*
 * "OK ADDR PORT" (version 1) or "OK ADDR PORT LEASE_MS" (version 2) with
 * ADDR @host, the only answers taken from the new image: 0, else -1.
 * Whoever listens on the port now answers; the address pinned to this
 * broker's own, a stranger's answer can name no other host.
 */
static int ok_answer(const char *text, int v, const char *host)
{
	char copy[NSTCP_BROKER_LINE_MAX], *w[5], *save, *p;
	unsigned int port, lease;
	int n = 0;

	if (strlen(text) >= sizeof(copy))
		return -1;
	for (p = (char *)text; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return -1;
	strcpy(copy, text);
	for (p = strtok_r(copy, " ", &save); p && n < 5;
	     p = strtok_r(NULL, " ", &save))
		w[n++] = p;
	if (n != (v == 2 ? 4 : 3) || strcmp(w[0], "OK") || strcmp(w[1], host) ||
	    nd_bk_number(w[2], &port) || !port || port > 65535)
		return -1;
	if (v == 2 && (nd_bk_number(w[3], &lease) ||
		       lease > NSTCP_BROKER_LEASE_MAX))
		return -1;
	return 0;
}

int nd_bk_relay(struct bk *b, struct bk_conn *c, int v, const char *name,
		const char *host, char *text, size_t len)
{
	char req[NSTCP_BROKER_LINE_MAX], line[NSTCP_BROKER_LINE_MAX];
	const char *magic = v == 2 ? NSTCP_BROKER_MAGIC2 : NSTCP_BROKER_MAGIC;
	long long now = now_ms(), end = now + BK_RELAY_MS;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t ml = strlen(magic);
	int fd, r = -1, failed = 1;

	if (!b->draining || now < b->relay_after)
		return -1;
	/* The brokers' address and port, as the client reached them. */
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl))
		goto out;
	snprintf(req, sizeof(req), "%s ASK %s\n", magic, name);
	fd = nstcp_bk_connect(&ss, sl, end);
	if (fd < 0)
		goto out;
	if (!nstcp_bk_roundtrip(fd, req, line, end) &&
	    !strncmp(line, magic, ml) && line[ml] == ' ') {
		const char *t = line + ml + 1;

		if (!ok_answer(t, v, host) && strlen(t) < len) {
			strcpy(text, t);
			r = 0;
		}
		/* FULL or NOSERVER there too: the own table answers this one. */
		failed = r && strcmp(t, "FULL") && strcmp(t, "NOSERVER");
	}
	close(fd);
out:
	/* Refused, timed out, not the protocol: the own table, a while. */
	if (r && failed)
		b->relay_after = now_ms() + BK_RELAY_PAUSE_MS;
	return r;
}
