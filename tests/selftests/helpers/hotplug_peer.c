// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of instance_hotplug.sh: a listener and its connections, of one
 * family, kept open while the test takes a CPU offline and online.
 *
 * hotplug_peer inet|nstcp
 *	listens on 127.0.0.1 (a free port) with AF_INET or AF_NSTCP; clients
 *	are of the same family.  Prints "port=P", then reads commands from
 *	stdin and answers each with one line of NAME=VALUE words:
 *
 *	open CPU N	N connections made from CPU CPU (on loopback their
 *			packets, so their home, are that CPU's), accepted,
 *			one byte each way; kept open.  ok= fail=
 *	queue CPU N	N connections made from CPU CPU and left queued on
 *			the listener.  ok= fail=
 *	check		every kept connection carries one more byte each
 *			way (ok= fail=), then every queued one is accepted
 *			and carries a byte (queued_ok= queued_fail=); these
 *			are kept too.
 *	new N		N connections from each online CPU, accepted, one
 *			byte each way, kept.  cpus= ok= fail=
 *
 *	EOF closes everything and exits 0.  Every wait is bounded (5 s).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#define WAIT_MS		5000
#define MAX_FDS		512

static int fam, lfd;
static struct sockaddr_in sin;
static int pairs[MAX_FDS][2], npairs;	/* client, accepted */
static int queued[MAX_FDS], nqueued;

static void diag(const char *what)
{
	fprintf(stderr, "hotplug_peer: %s: %s\n", what, strerror(errno));
}

static int timeouts(int fd)
{
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu < 0) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &set);
	} else {
		CPU_SET(cpu, &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set)) {
		diag("sched_setaffinity");
		return -1;
	}
	return 0;
}

/* A connected client from the current CPU; -1 on failure. */
static int client(void)
{
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || timeouts(fd) ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		diag("connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int take(void)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, WAIT_MS) != 1) {
		errno = ETIMEDOUT;
		diag("accept");
		return -1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || timeouts(fd)) {
		diag("accept");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One byte each way; 0 or -1. */
static int pingpong(int c, int s)
{
	char b = 'p';

	if (send(c, &b, 1, MSG_NOSIGNAL) != 1 || recv(s, &b, 1, 0) != 1 ||
	    send(s, &b, 1, MSG_NOSIGNAL) != 1 || recv(c, &b, 1, 0) != 1) {
		diag("exchange");
		return -1;
	}
	return 0;
}

/* Accept one for client c, exchange, keep; 0 or -1 (c closed then). */
static int keep(int c)
{
	int s = take();

	if (s < 0 || pingpong(c, s) || npairs == MAX_FDS) {
		close(c);
		if (s >= 0)
			close(s);
		return -1;
	}
	pairs[npairs][0] = c;
	pairs[npairs][1] = s;
	npairs++;
	return 0;
}

static void cmd_open(int cpu, int n, int leave_queued)
{
	int ok = 0, fail = 0;

	if (pin(cpu)) {
		printf("ok=0 fail=%d\n", n);
		return;
	}
	for (int i = 0; i < n; i++) {
		int c = client();

		if (c < 0)
			fail++;
		else if (!leave_queued)
			keep(c) ? fail++ : ok++;
		else if (nqueued < MAX_FDS)
			queued[nqueued++] = c, ok++;
		else
			close(c), fail++;
	}
	pin(-1);
	printf("ok=%d fail=%d\n", ok, fail);
}

static void cmd_check(void)
{
	int ok = 0, fail = 0, qok = 0, qfail = 0, n = nqueued;

	for (int i = 0; i < npairs; i++)
		pingpong(pairs[i][0], pairs[i][1]) ? fail++ : ok++;
	nqueued = 0;
	for (int i = 0; i < n; i++)
		keep(queued[i]) ? qfail++ : qok++;
	printf("ok=%d fail=%d queued_ok=%d queued_fail=%d\n", ok, fail, qok,
	       qfail);
}

/* The CPUs in /sys/devices/system/cpu/online ("0-2,4"). */
static int online_cpus(int *cpus, int max)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	char buf[256], *p, *save;
	int n = 0;

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (p = strtok_r(buf, ",\n", &save); p; p = strtok_r(NULL, ",\n", &save)) {
		int a, b;

		if (sscanf(p, "%d-%d", &a, &b) != 2)
			b = a = atoi(p);
		for (int c = a; c <= b && n < max; c++)
			cpus[n++] = c;
	}
	return n;
}

static void cmd_new(int n)
{
	int cpus[CPU_SETSIZE], ncpus = online_cpus(cpus, CPU_SETSIZE);
	int ok = 0, fail = 0;

	for (int k = 0; k < ncpus; k++) {
		if (pin(cpus[k])) {
			fail += n;
			continue;
		}
		for (int i = 0; i < n; i++) {
			int c = client();

			if (c < 0 || keep(c))
				fail++;
			else
				ok++;
		}
	}
	pin(-1);
	printf("cpus=%d ok=%d fail=%d\n", ncpus, ok, fail);
}

int main(int argc, char **argv)
{
	socklen_t len = sizeof(sin);
	char line[128];
	int cpu, n;

	if (argc != 2 || (strcmp(argv[1], "inet") && strcmp(argv[1], "nstcp"))) {
		fprintf(stderr, "usage: hotplug_peer inet|nstcp\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fam = strcmp(argv[1], "inet") ? AF_NSTCP : AF_INET;
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len)) {
		diag("listen");
		return 1;
	}
	printf("port=%d\n", ntohs(sin.sin_port));
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "open %d %d", &cpu, &n) == 2)
			cmd_open(cpu, n, 0);
		else if (sscanf(line, "queue %d %d", &cpu, &n) == 2)
			cmd_open(cpu, n, 1);
		else if (!strcmp(line, "check\n"))
			cmd_check();
		else if (sscanf(line, "new %d", &n) == 1)
			cmd_new(n);
		else
			printf("error=unknown-command\n");
	}
	for (int i = 0; i < npairs; i++) {
		close(pairs[i][0]);
		close(pairs[i][1]);
	}
	for (int i = 0; i < nqueued; i++)
		close(queued[i]);
	close(lfd);
	return 0;
}
