// SPDX-License-Identifier: GPL-2.0
/*
 * Traffic helper of tools_stat.sh, and a selftest of its own.
 *
 * tools_stat_traffic CONNS ROUNDS
 *	makes a known amount of AF_NSTCP traffic on 127.0.0.1 in the caller's
 *	network namespace: CONNS connections, each ROUNDS one-byte ping-pongs
 *	in both directions, then an orderly shutdown.  It prints what the
 *	instance counters of the namespace must have grown by, summed over the
 *	CPUs, as NAME=VALUE words.
 *
 * tools_stat_traffic
 *	(as the selftest runner starts it) checks, in TAP, that the sums of
 *	/proc/net/nstcp grow by exactly that much.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "tap.h"

/* The counters a run predicts, in the order of /proc/net/nstcp. */
static const char *const names[] = {
	"sockets", "closes", "accepts", "connects", "calls",
};
#define NCOUNT ((int)(sizeof(names) / sizeof(names[0])))

static int family(void)
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

static void die(const char *what)
{
	fprintf(stderr, "tools_stat_traffic: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void xfer(int from, int to)
{
	char c = 'x';

	if (send(from, &c, 1, 0) != 1)
		die("send");
	if (recv(to, &c, 1, 0) != 1)
		die("recv");
}

/* Make the traffic; @want gets the predicted growth of each counter. */
static void traffic(long conns, long rounds, long want[NCOUNT])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, cfd, afd, fam = family();
	long i, r;
	char c;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(fam, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("listen");

	for (i = 0; i < conns; i++) {
		cfd = socket(fam, SOCK_STREAM, 0);
		if (cfd < 0)
			die("socket");
		if (connect(cfd, (struct sockaddr *)&sin, sizeof(sin)))
			die("connect");
		afd = accept(lfd, NULL, NULL);
		if (afd < 0)
			die("accept");
		for (r = 0; r < rounds; r++) {
			xfer(cfd, afd);
			xfer(afd, cfd);
		}
		if (shutdown(cfd, SHUT_WR))
			die("shutdown");
		if (recv(afd, &c, 1, 0) != 0)
			die("recv EOF");
		close(afd);
		close(cfd);
	}
	close(lfd);

	want[0] = 1 + 2 * conns;	/* the listener, both ends */
	want[1] = 1 + 2 * conns;
	want[2] = conns;
	want[3] = conns;
	/*
	 * Data-path calls a connection: connect, accept, four a round (two
	 * sends, two receives), the shutdown and the receive that reads EOF.
	 */
	want[4] = conns * (4 + 4 * rounds);
}

/* Column sums of /proc/net/nstcp for @names; false if unreadable. */
static int read_sums(long sums[NCOUNT])
{
	char line[1024], *tok, *save;
	int col[64], ncols = 0, i, c;
	FILE *f = fopen("/proc/net/nstcp", "re");

	if (!f || !fgets(line, sizeof(line), f))
		return 0;
	for (tok = strtok_r(line, " \t\n", &save); tok && ncols < 64;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		col[ncols] = -1;
		for (i = 0; i < NCOUNT; i++)
			if (!strcmp(tok, names[i]))
				col[ncols] = i;
		ncols++;
	}
	memset(sums, 0, NCOUNT * sizeof(*sums));
	while (fgets(line, sizeof(line), f)) {
		c = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok && c < ncols;
		     tok = strtok_r(NULL, " \t\n", &save), c++)
			if (col[c] >= 0)
				sums[col[c]] += atol(tok);
	}
	fclose(f);
	return 1;
}

int main(int argc, char **argv)
{
	long conns, rounds, want[NCOUNT], before[NCOUNT], after[NCOUNT];
	int i;

	if (argc == 3) {
		conns = atol(argv[1]);
		rounds = atol(argv[2]);
		if (conns < 1 || rounds < 0) {
			fprintf(stderr, "usage: tools_stat_traffic [CONNS ROUNDS]\n");
			return 2;
		}
		traffic(conns, rounds, want);
		for (i = 0; i < NCOUNT; i++)
			printf("%s%s=%ld", i ? " " : "", names[i], want[i]);
		putchar('\n');
		return 0;
	}

	tap_plan(NCOUNT + 1);
	if (!read_sums(before)) {
		tap_ok(0, "read /proc/net/nstcp: %s", strerror(errno));
		return tap_done();
	}
	traffic(4, 10, want);
	read_sums(after);
	for (i = 0; i < NCOUNT; i++)
		tap_ok(after[i] - before[i] == want[i],
		       "4 connections of 10 round trips add %ld %s (added %ld)",
		       want[i], names[i], after[i] - before[i]);
	tap_ok(1, "traffic on 127.0.0.1 with family %d", family());
	return tap_done();
}
