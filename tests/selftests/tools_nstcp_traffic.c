// SPDX-License-Identifier: GPL-2.0
/*
 * Traffic helper of tools_nstcp.sh, and a selftest of its own.
 *
 * tools_nstcp_traffic CONNS ROUNDS
 *	makes a known amount of AF_NSTCP traffic on 127.0.0.1 in the caller's
 *	network namespace: CONNS connections, each ROUNDS one-byte ping-pongs
 *	in both directions, then an orderly shutdown.  It prints what the
 *	instance counters of the namespace must have grown by, summed over the
 *	CPUs, as NAME=VALUE words.
 *
 * tools_nstcp_traffic listen CONNS QUEUED [KEY POLICY MEMBERS]
 *	listens with AF_NSTCP on 127.0.0.1 (a free port) for nstcp listen show:
 *	makes CONNS connections, connection i from CPU i mod CPUs (on
 *	loopback a connection is queued on the listener of the CPU it comes
 *	from), accepts them on the first CPU, then makes QUEUED more that it
 *	leaves queued, and prints
 *	    port=P accepted=N queued=M stolen=S homes=H0,H1,... sent=S0,S1,...
 *	(stolen: accepted connections homed on another CPU than the accepting
 *	one; Hc: accepted connections homed on CPU c; Sc: accepted connections
 *	made from CPU c).  Then it reads stdin:
 *	a line "conn K" makes and accepts K more connections and prints the
 *	line again; EOF closes everything and exits.  With KEY, MEMBERS
 *	listening sockets share the port under that key and POLICY (cpu,
 *	roundrobin or least), and accept() goes round them.  When
 *	net.nstcp.accept_steal is 0, each connection is accepted on the CPU it
 *	came from instead.
 *
 * tools_nstcp_traffic
 *	(as the selftest runner starts it) checks, in TAP, that the sums of
 *	the instance counters (read over netlink) grow by exactly that much.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/types.h>
#include <linux/nstcp.h>

#include "tap.h"
#include "proc_util.h"
#include "../../tools/tool_sysctl.h"

/* The counters a run predicts, in the order of the instance counters. */
static const char *const names[] = {
	"sockets", "closes", "accepts", "connects", "calls",
};
#define NCOUNT ((int)(sizeof(names) / sizeof(names[0])))

static void die(const char *what)
{
	fprintf(stderr, "tools_nstcp_traffic: %s: %s\n", what, strerror(errno));
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
	int lfd, cfd, afd, fam = tool_nstcp_family();
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

/*
 * Sums of the instance counters (netlink) for @names and of hops; false if
 * unreadable or a column is missing.
 */
static int read_sums(long sums[NCOUNT], long *hops)
{
	static const int stat[NCOUNT] = {
		PROC_SOCKETS, PROC_CLOSES, PROC_ACCEPTS, PROC_CONNECTS,
		PROC_CALLS,
	};
	static struct proc_stats st;

	if (proc_read_stats(&st) < 0)
		return 0;
	for (int i = 0; i < NCOUNT; i++)
		sums[i] = st.sum[stat[i]];
	*hops = st.sum[PROC_HOPS];
	return 1;
}


/* ---- listen: a listening port for nstcp listen show ---- */

#define MAX_MEMBERS	8
#define MAX_CPU		256
#define MAX_HELD	4096

static struct {
	int fam, steal;
	int lfd[MAX_MEMBERS], nmembers;
	struct sockaddr_in sin;
	int cpus[MAX_CPU], ncpus, next;	/* CPUs in turn for the connections */
	int held[MAX_HELD], nheld;	/* every socket, closed at the end */
	long accepted, queued, stolen, homes[MAX_CPU], sent[MAX_CPU];
	int maxcpu;
} L;

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static void hold(int fd)
{
	if (L.nheld == MAX_HELD) {
		errno = EMFILE;
		die("too many sockets");
	}
	L.held[L.nheld++] = fd;
}

/* Sum of our port's queued connections (netlink); -1: none. */
static long port_queued(void)
{
	static struct proc_listen_row rows[4 * MAX_CPU];
	long sum = 0;
	int n = proc_read_listen(ntohs(L.sin.sin_port), rows, 4 * MAX_CPU);

	if (n <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		sum += rows[i].queued;
	return sum;
}

/* Accept @n connections, going round the members, on the current CPU. */
static void accept_n(long n)
{
	struct nstcp_info info;
	socklen_t len;
	int i = 0, fd, tries = 0;

	while (n > 0) {
		fd = accept4(L.lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		i = (i + 1) % L.nmembers;
		if (fd < 0) {
			if (errno != EAGAIN || ++tries > 5000)
				die("accept");
			if (!i)
				usleep(1000);
			continue;
		}
		len = sizeof(info);
		if (getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &info, &len))
			die("NSTCP_INFO");
		if (info.nsi_home_cpu >= 0 && info.nsi_home_cpu < MAX_CPU) {
			L.homes[info.nsi_home_cpu]++;
			if (info.nsi_home_cpu > L.maxcpu)
				L.maxcpu = info.nsi_home_cpu;
		}
		L.stolen += info.nsi_home_cpu != info.nsi_call_cpu;
		L.accepted++;
		hold(fd);
		n--;
	}
}

/*
 * Connect from the next CPU in turn; with @take, accept it there too.
 * @counted: it is to be accepted.
 */
static void connect_one(bool take, bool counted)
{
	int fd, cpu = L.cpus[L.next++ % L.ncpus];

	pin_to(cpu);
	if (cpu > L.maxcpu)
		L.maxcpu = cpu;
	fd = socket(L.fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&L.sin, sizeof(L.sin)))
		die("connect");
	hold(fd);
	if (counted)
		L.sent[cpu]++;
	if (take)
		accept_n(1);
}

/* @n connections, accepted on the first CPU (or each where it came from). */
static void connect_accept(long n)
{
	long i;

	for (i = 0; i < n; i++)
		connect_one(!L.steal, true);
	if (L.steal) {
		pin_to(L.cpus[0]);
		accept_n(n);
	}
}

static void print_state(void)
{
	int c;

	printf("port=%u accepted=%ld queued=%ld stolen=%ld homes=",
	       ntohs(L.sin.sin_port), L.accepted, L.queued, L.stolen);
	for (c = 0; c <= L.maxcpu; c++)
		printf("%s%ld", c ? "," : "", L.homes[c]);
	printf(" sent=");
	for (c = 0; c <= L.maxcpu; c++)
		printf("%s%ld", c ? "," : "", L.sent[c]);
	putchar('\n');
	fflush(stdout);
}

static int listen_main(int argc, char **argv)
{
	const char *key = argc > 4 ? argv[4] : NULL;
	long conns = atol(argv[2]), queued = atol(argv[3]), k, i;
	int policy = NSTCP_POLICY_CPU, one = 1, m;
	socklen_t len = sizeof(L.sin);
	cpu_set_t allowed;
	char line[128];

	if (conns < 0 || queued < 0 || (argc != 4 && argc != 7)) {
		fprintf(stderr, "usage: tools_nstcp_traffic listen CONNS QUEUED [KEY POLICY MEMBERS]\n");
		return 2;
	}
	L.nmembers = 1;
	if (key) {
		if (!strcmp(argv[5], "cpu"))
			policy = NSTCP_POLICY_CPU;
		else if (!strcmp(argv[5], "roundrobin"))
			policy = NSTCP_POLICY_ROUNDROBIN;
		else if (!strcmp(argv[5], "least"))
			policy = NSTCP_POLICY_LEAST;
		else
			policy = -1;
		L.nmembers = atoi(argv[6]);
		if (policy < 0 || L.nmembers < 1 || L.nmembers > MAX_MEMBERS) {
			fprintf(stderr, "tools_nstcp_traffic: bad POLICY or MEMBERS\n");
			return 2;
		}
	}
	L.fam = tool_nstcp_family();
	L.steal = tool_read_int("/proc/sys/net/nstcp/accept_steal", 1);
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity");
	for (i = 0; i < CPU_SETSIZE && L.ncpus < MAX_CPU; i++)
		if (CPU_ISSET(i, &allowed))
			L.cpus[L.ncpus++] = i;

	L.sin.sin_family = AF_INET;
	L.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (m = 0; m < L.nmembers; m++) {
		L.lfd[m] = socket(L.fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (L.lfd[m] < 0)
			die("socket");
		setsockopt(L.lfd[m], SOL_SOCKET, SO_REUSEADDR, &one,
			   sizeof(one));
		if (key && (setsockopt(L.lfd[m], SOL_NSTCP, NSTCP_SHARE_KEY,
				       key, strlen(key)) ||
			    setsockopt(L.lfd[m], SOL_NSTCP, NSTCP_POLICY,
				       &policy, sizeof(policy))))
			die("NSTCP_SHARE_KEY, NSTCP_POLICY");
		if (bind(L.lfd[m], (struct sockaddr *)&L.sin, sizeof(L.sin)) ||
		    listen(L.lfd[m], 64))
			die("listen");
		if (!m && getsockname(L.lfd[0], (struct sockaddr *)&L.sin,
				      &len))
			die("getsockname");
	}

	connect_accept(conns);
	for (i = 0; i < queued; i++)
		connect_one(false, false);
	L.queued = queued;
	/* The last handshakes may still be on their way to the queues. */
	for (i = 0; i < 200 && port_queued() < queued; i++)
		usleep(10000);
	print_state();

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "conn %ld", &k) == 1 && k > 0) {
			connect_accept(k);
			print_state();
		} else {
			fprintf(stderr, "tools_nstcp_traffic: unknown command %s",
				line);
		}
	}
	for (i = 0; i < L.nheld; i++)
		close(L.held[i]);
	for (m = 0; m < L.nmembers; m++)
		close(L.lfd[m]);
	return 0;
}

int main(int argc, char **argv)
{
	long conns, rounds, want[NCOUNT], before[NCOUNT], after[NCOUNT];
	long hops_before, hops_after;
	int i;

	if (argc >= 2 && !strcmp(argv[1], "listen"))
		return listen_main(argc, argv);
	if (argc == 3) {
		conns = atol(argv[1]);
		rounds = atol(argv[2]);
		if (conns < 1 || rounds < 0) {
			fprintf(stderr, "usage: tools_nstcp_traffic [CONNS ROUNDS]\n");
			return 2;
		}
		traffic(conns, rounds, want);
		for (i = 0; i < NCOUNT; i++)
			printf("%s%s=%ld", i ? " " : "", names[i], want[i]);
		putchar('\n');
		return 0;
	}

	tap_plan(NCOUNT + 1);
	if (!read_sums(before, &hops_before)) {
		tap_ok(0, "read the instance counters: %s", strerror(errno));
		return tap_done();
	}
	traffic(4, 10, want);
	if (!read_sums(after, &hops_after)) {
		tap_ok(0, "read the instance counters again: %s", strerror(errno));
		return tap_done();
	}
	for (i = 0; i < NCOUNT; i++)
		tap_ok(after[i] - before[i] == want[i],
		       "4 connections of 10 round trips add %ld %s (added %ld)",
		       want[i], names[i], after[i] - before[i]);
	/*
	 * hops, the one counter the run cannot predict (it depends on where
	 * the scheduler ran each end), is a subset of the calls.
	 */
	tap_ok(hops_after >= hops_before &&
	       hops_after - hops_before <= after[4] - before[4],
	       "traffic on 127.0.0.1 with family %d: hops grow by at most the calls (%ld <= %ld)",
	       tool_nstcp_family(), hops_after - hops_before, after[4] - before[4]);
	return tap_done();
}
