// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: per-CPU instances count socket calls and hops.  On loopback a
 * flow's packets are processed on the sender's CPU, so the accepted socket's
 * home instance is the client's CPU; reading it from another CPU is a hop,
 * reading it from the home CPU is not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/nstcp.h>
#include "tap.h"
#include "listen_util.h"
#include "proc_util.h"

#define ROUNDS 200

static int set_hop_accounting(int on)
{
	FILE *f = fopen("/proc/sys/net/nstcp/hop_accounting", "w");

	if (!f)
		return -1;
	fprintf(f, "%d\n", on);
	return fclose(f);
}

/* Its current value; -1 if unreadable. */
static int get_hop_accounting(void)
{
	FILE *f = fopen("/proc/sys/net/nstcp/hop_accounting", "r");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

struct flow { int lfd, cfd, afd, port; };

static void close_flow(struct flow *fl)
{
	if (fl->afd >= 0)
		close(fl->afd);
	if (fl->cfd >= 0)
		close(fl->cfd);
	if (fl->lfd >= 0)
		close(fl->lfd);
	fl->lfd = fl->cfd = fl->afd = -1;
}

/* 0, or -1 with a diagnostic naming the step that failed. */
static int make_flow(struct flow *fl)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len = sizeof(a);
	const char *step;

	fl->afd = -1;
	step = "socket";
	fl->lfd = socket(AF_NSTCP, SOCK_STREAM, 0);
	fl->cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (fl->lfd < 0 || fl->cfd < 0)
		goto fail;
	step = "listen";
	if (bind(fl->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fl->lfd, 8) ||
	    getsockname(fl->lfd, (struct sockaddr *)&a, &len))
		goto fail;
	step = "connect";
	if (connect(fl->cfd, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	step = "accept";
	/* Bounded waits: a lost connection or byte fails, it does not hang. */
	if (setsockopt(fl->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		goto fail;
	fl->afd = accept(fl->lfd, NULL, NULL);
	if (fl->afd < 0)
		goto fail;
	step = "SO_RCVTIMEO";
	if (setsockopt(fl->afd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fl->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		goto fail;
	return 0;
fail:
	tap_diag("setup: %s: %s", step, strerror(errno));
	close_flow(fl);
	return -1;
}

/*
 * The client sends from client_cpu, the server receives on server_cpu.
 * Gives the hops and calls charged to server_cpu and the flow's home
 * instance; returns 0, or -1 with a diagnostic naming the step that failed
 * (then *hops, *calls and *home are -1).
 */
static int exchange(struct flow *fl, int client_cpu, int server_cpu,
		    long *hops, long *calls, int *home)
{
	static struct proc_stats before, after;
	socklen_t len = sizeof(*home);
	int i, h;
	char c = 'x';

	*hops = *calls = -1;
	*home = -1;
	if (proc_read_stats(&before) < 0 || !proc_cpu_row(&before, server_cpu)) {
		tap_diag("exchange: /proc/net/nstcp unreadable or without CPU %d (%d rows)",
			 server_cpu, before.rows);
		return -1;
	}
	for (i = 0; i < ROUNDS; i++) {
		if (lst_pin(client_cpu))
			return -1;
		if (send(fl->cfd, &c, 1, 0) != 1) {
			tap_diag("exchange: send %d from CPU %d: %s", i,
				 client_cpu, strerror(errno));
			return -1;
		}
		if (lst_pin(server_cpu))
			return -1;
		if (recv(fl->afd, &c, 1, 0) != 1) {
			tap_diag("exchange: recv %d on CPU %d: %s", i,
				 server_cpu, strerror(errno));
			return -1;
		}
	}
	if (proc_read_stats(&after) < 0 || !proc_cpu_row(&after, server_cpu)) {
		tap_diag("exchange: /proc/net/nstcp reread: %d rows, was %d",
			 after.rows, before.rows);
		return -1;
	}
	if (getsockopt(fl->afd, SOL_NSTCP, NSTCP_HOME_CPU, &h, &len)) {
		tap_diag("exchange: NSTCP_HOME_CPU: %s", strerror(errno));
		return -1;
	}
	*hops = proc_cpu_stat(&after, server_cpu, PROC_HOPS) -
		proc_cpu_stat(&before, server_cpu, PROC_HOPS);
	*calls = proc_cpu_stat(&after, server_cpu, PROC_CALLS) -
		 proc_cpu_stat(&before, server_cpu, PROC_CALLS);
	*home = h;
	return 0;
}

int main(void)
{
	long hops = -1, calls = -1;
	struct flow fl;
	int home = -1, ok, cases, saved;

	tap_plan(7);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		for (int i = 0; i < 7; i++)
			tap_skip("needs 2 CPUs", "hop accounting");
		return tap_done();
	}
	if (!tap_ok(make_flow(&fl) == 0, "AF_NSTCP listener accepts a TCP client")) {
		for (cases = 1; cases < 7; cases++)
			tap_ok(0, "hop accounting: no flow to test");
		return tap_done();
	}

	/* Client on CPU 1, server reading on CPU 0: every recv is a hop. */
	ok = !exchange(&fl, 1, 0, &hops, &calls, &home);
	tap_ok(ok && home == 1, "accepted socket's home instance is the sender's CPU (home %d)", home);
	tap_ok(ok && calls >= ROUNDS, "recv calls charged to CPU 0 (%ld >= %d)", calls, ROUNDS);
	tap_ok(ok && hops >= ROUNDS, "recv on CPU 0 of a flow homed on CPU 1 counts hops (%ld >= %d)",
	       hops, ROUNDS);

	/* Both on CPU 1: local, no hop on CPU 1's instance. */
	ok = !exchange(&fl, 1, 1, &hops, &calls, &home);
	tap_ok(ok && calls >= ROUNDS && hops == 0,
	       "recv on the home CPU is local (calls %ld, hops %ld)", calls, hops);

	/* With accounting off nothing is counted; then the old value back. */
	saved = get_hop_accounting();
	if (saved < 0)
		tap_diag("net.nstcp.hop_accounting unreadable");
	if (set_hop_accounting(0))
		tap_diag("net.nstcp.hop_accounting=0: %s", strerror(errno));
	ok = saved >= 0 && !exchange(&fl, 1, 0, &hops, &calls, &home);
	if (saved >= 0 && set_hop_accounting(saved))
		tap_diag("net.nstcp.hop_accounting=%d: %s", saved, strerror(errno));
	tap_ok(ok && calls == 0 && hops == 0,
	       "net.nstcp.hop_accounting=0 stops the counting (calls %ld, hops %ld)",
	       calls, hops);

	{
		static struct proc_stats before, after;
		long closed = 0;
		int n = proc_read_stats(&before);

		close_flow(&fl);
		ok = n > 0 && proc_read_stats(&after) == n;
		if (!ok)
			tap_diag("/proc/net/nstcp unreadable");
		else
			closed = after.sum[PROC_CLOSES] - before.sum[PROC_CLOSES];
		tap_ok(ok && closed == 2, "closing the listener and the accepted socket counts 2 closes (%ld)",
		       closed);
	}
	return tap_done();
}
