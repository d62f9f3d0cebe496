// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-local connect over the multi-queue test NIC (tests/vm/run --nic mq
 * --host-cmd 'tests/selftests/out/helpers/lc_peer serve 7100'): client
 * threads pinned one per CPU connect to the server in the host namespace;
 * an AF_NSTCP connection's replies are processed on the caller's CPU
 * (SO_INCOMING_CPU, NSTCP_INFO's home CPU), an AF_INET one's wherever
 * RSS sends them (about 1/CPUs).  Also: no mismatch counted, the sysctl
 * off gives AF_INET's behaviour, a bound port is left alone, loopback and
 * veth fall back (counted), ports run out with AF_INET's errno, a send
 * timeout cuts a blocking connect with AF_INET's errno.  Then the same
 * locality on a single-queue device: the NIC reduced to one queue pair
 * (ethtool -L combined 1), software RPS spreading its flows over every CPU.
 * Skips without the NIC.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/nstcp.h>

#include "tap.h"
#include "proc_util.h"
#include "rps_pair.h"

#define PORT		7100
#define PER_CPU		60	/* connections per CPU and family */

static struct sockaddr_in peer;
static int ncpus;

struct run {
	int family;
	int cpu;
	int conns, local, home_local, errors, other;
};

static int one_conn(int family, const struct sockaddr_in *to, int *rx_cpu,
		    int *home)
{
	struct nstcp_info info;
	socklen_t len = sizeof(int);
	char c = 'q';
	int fd, ok = -1;

	struct timeval tmo = { .tv_sec = 5 };

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	/* A peer that does not answer fails the case, not the whole run. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) ||
	    write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, rx_cpu, &len))
		goto out;
	*home = -1;
	len = sizeof(info);
	if (family == AF_NSTCP &&
	    !getsockopt(fd, SOL_NSTCP, NSTCP_INFO, &info, &len))
		*home = info.nsi_home_cpu;
	ok = 0;
out:
	close(fd);
	return ok;
}

static void *client(void *arg)
{
	struct run *r = arg;
	cpu_set_t set;
	int i, rx, home;

	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		r->errors = PER_CPU;
		return NULL;
	}
	for (i = 0; i < PER_CPU; i++) {
		if (one_conn(r->family, &peer, &rx, &home)) {
			r->errors++;
			continue;
		}
		r->conns++;
		r->local += rx == r->cpu;
		r->home_local += home == r->cpu;
		r->other += sched_getcpu() != r->cpu;
	}
	return NULL;
}

/* All CPUs' clients at once; returns the share of local replies. */
static double run_clients(int family, int *conns, int *errors, int *home_local)
{
	pthread_t t[64];
	struct run r[64];
	int i, local = 0;

	*conns = *errors = *home_local = 0;
	for (i = 0; i < ncpus; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].family = family;
		r[i].cpu = i;
		pthread_create(&t[i], NULL, client, &r[i]);
	}
	for (i = 0; i < ncpus; i++) {
		pthread_join(t[i], NULL);
		*conns += r[i].conns;
		*errors += r[i].errors;
		local += r[i].local;
		*home_local += r[i].home_local;
	}
	return *conns ? (double)local / *conns : 0;
}

static long stat_sum(int i)
{
	struct proc_stats st;

	if (proc_read_stats(&st) < 0)
		return -1;
	return st.sum[i];
}

static bool peer_up(void)
{
	int i, rx, home;

	for (i = 0; i < 120; i++) {
		if (!one_conn(AF_INET, &peer, &rx, &home))
			return true;
		usleep(100000);
	}
	return false;
}

static void case_locality(void)
{
	int conns, errors, home, iconns, ierrors, ihome;
	long lc0 = stat_sum(PROC_LCONNECTS), fb0 = stat_sum(PROC_LFALLBACKS);
	long miss0 = stat_sum(PROC_LMISSES);
	double nstcp, inet;

	inet = run_clients(AF_INET, &iconns, &ierrors, &ihome);
	nstcp = run_clients(AF_NSTCP, &conns, &errors, &home);
	tap_diag("replies on the caller's CPU: AF_NSTCP %.1f%% (%d conns), AF_INET %.1f%% (%d conns), %d CPUs",
		 100 * nstcp, conns, 100 * inet, iconns, ncpus);
	tap_ok(!errors && !ierrors && conns == ncpus * PER_CPU,
	       "every connection answered (%d + %d errors)", errors, ierrors);
	tap_ok(nstcp >= 0.99, "AF_NSTCP: >= 99%% of replies on the caller's CPU (%.1f%%)",
	       100 * nstcp);
	tap_ok(home >= conns * 99 / 100,
	       "AF_NSTCP: NSTCP_INFO home CPU is the caller's (%d of %d)", home, conns);
	/* The NIC spreads flows: AF_INET is local about 1 time in ncpus. */
	tap_ok(ncpus >= 2 && inet < 0.6,
	       "AF_INET in the same run: %.1f%% local (the NIC spreads them)", 100 * inet);
	tap_ok(stat_sum(PROC_LCONNECTS) - lc0 >= conns,
	       "lconnects counts them (%ld)", stat_sum(PROC_LCONNECTS) - lc0);
	tap_ok(stat_sum(PROC_LMISSES) == miss0 && stat_sum(PROC_LFALLBACKS) == fb0,
	       "no miss, no fallback on the NIC (%ld, %ld)",
	       stat_sum(PROC_LMISSES) - miss0, stat_sum(PROC_LFALLBACKS) - fb0);
}

static void case_sysctl_off(void)
{
	int conns, errors, home;
	long lc0;
	double nstcp;

	if (!tap_ok(!proc_nstcp_sysctl_write("local_connect", "0"),
		    "local_connect can be turned off"))
		return;
	lc0 = stat_sum(PROC_LCONNECTS);
	nstcp = run_clients(AF_NSTCP, &conns, &errors, &home);
	proc_nstcp_sysctl_write("local_connect", "1");
	tap_diag("local_connect=0: AF_NSTCP %.1f%% local", 100 * nstcp);
	tap_ok(!errors && nstcp < 0.6 && stat_sum(PROC_LCONNECTS) == lc0,
	       "local_connect=0: AF_INET's choice (%.1f%% local, no lconnect)",
	       100 * nstcp);
}

static void case_bound_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	long lc0 = stat_sum(PROC_LCONNECTS);
	int fd, got = -1;

	/*
	 * Below ip_local_port_range: a port the connections before may have
	 * left in TIME_WAIT would fail the bind.
	 */
	fd = socket(AF_NSTCP, SOCK_STREAM, 0);
	a.sin_port = htons(23456);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !connect(fd, (struct sockaddr *)&peer, sizeof(peer)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		got = ntohs(a.sin_port);
	close(fd);
	tap_ok(got == 23456 && stat_sum(PROC_LCONNECTS) == lc0,
	       "a bound port is left alone (port %d)", got);
}

static void case_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	long fb0 = stat_sum(PROC_LFALLBACKS), lc0 = stat_sum(PROC_LCONNECTS);
	int lfd, fd, ok = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, 8) || getsockname(lfd, (struct sockaddr *)&a, &len)) {
		tap_ok(0, "loopback listener");
		return;
	}
	fd = socket(AF_NSTCP, SOCK_STREAM, 0);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	close(lfd);
	tap_ok(ok && stat_sum(PROC_LFALLBACKS) == fb0 + 1 &&
	       stat_sum(PROC_LCONNECTS) == lc0,
	       "loopback: connected, the ordinary choice, counted as a fallback");
}

static void case_veth(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	long fb0, lc0;
	int fd, err;

	if (rps_sh("ip netns add lcpeer && ip link add lcv0 type veth peer name lcv1 netns lcpeer && "
		   "ip addr add 198.19.0.1/24 dev lcv0 && ip link set lcv0 up && "
		   "ip -n lcpeer addr add 198.19.0.2/24 dev lcv1 && ip -n lcpeer link set lcv1 up")) {
		tap_ok(0, "veth pair set up");
		rps_sh("ip netns del lcpeer 2>/dev/null; ip link del lcv0 2>/dev/null; true");
		return;
	}
	inet_pton(AF_INET, "198.19.0.2", &a.sin_addr);
	fb0 = stat_sum(PROC_LFALLBACKS);
	lc0 = stat_sum(PROC_LCONNECTS);
	fd = socket(AF_NSTCP, SOCK_STREAM, 0);
	errno = 0;
	err = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(fd);
	rps_sh("ip netns del lcpeer; ip link del lcv0 2>/dev/null; true");
	tap_ok(err == ECONNREFUSED && stat_sum(PROC_LFALLBACKS) == fb0 + 1 &&
	       stat_sum(PROC_LCONNECTS) == lc0,
	       "veth: the ordinary choice, counted as a fallback (connect: %s)",
	       strerror(err));
}

/* Two ports in the range, both held: the third connect fails alike. */
static void case_ports_exhausted(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char old[64] = "";
	int fds[3] = { -1, -1, -1 }, fam, i, e[2] = { 0, 0 };
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

	if (!fp || !fgets(old, sizeof(old), fp)) {
		tap_ok(0, "read ip_local_port_range");
		if (fp)
			fclose(fp);
		return;
	}
	fclose(fp);
	old[strcspn(old, "\n")] = 0;
	proc_sys_write("net/ipv4/ip_local_port_range", "40000 40001");
	for (fam = 0; fam < 2; fam++) {
		int family = fam ? AF_NSTCP : AF_INET;

		for (i = 0; i < 3; i++) {
			fds[i] = socket(family, SOCK_STREAM, 0);
			errno = 0;
			if (connect(fds[i], (struct sockaddr *)&peer, sizeof(peer)))
				e[fam] = i == 2 ? errno : -1;
		}
		/* Reset, not TIME_WAIT: the next family gets the ports back. */
		for (i = 0; i < 3; i++) {
			setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fds[i]);
		}
		usleep(100000);
	}
	proc_sys_write("net/ipv4/ip_local_port_range", old);
	tap_ok(e[0] == EADDRNOTAVAIL && e[1] == e[0],
	       "ports exhausted: AF_NSTCP's errno is AF_INET's (%s, %s)",
	       strerror(e[1] > 0 ? e[1] : 0), strerror(e[0] > 0 ? e[0] : 0));
}

/*
 * A blocking connect cut by SO_SNDTIMEO (a silent address on the NIC's
 * subnet: no neighbour answers): AF_NSTCP's errno is AF_INET's, and the
 * local connect was made for it.
 */
static void case_send_timeout(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tmo = { .tv_usec = 300000 };
	long lc0 = stat_sum(PROC_LCONNECTS);
	int e[2] = { 0, 0 }, fam, fd;

	inet_pton(AF_INET, "198.18.0.99", &a.sin_addr);
	for (fam = 0; fam < 2; fam++) {
		fd = socket(fam ? AF_NSTCP : AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
		errno = 0;
		e[fam] = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
		close(fd);
	}
	tap_ok(e[0] == EINPROGRESS && e[1] == e[0] &&
	       stat_sum(PROC_LCONNECTS) == lc0 + 1,
	       "SO_SNDTIMEO cuts a blocking connect: AF_NSTCP's errno is AF_INET's (%s, %s), a local connect",
	       strerror(e[1]), strerror(e[0]));
}

/* The NIC's combined channels now, -1 if unknown. */
static int nic_channels(const char *dev)
{
	char cmd[256], line[128];
	int n = -1, cur = 0;
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "ethtool -l %s 2>/dev/null", dev);
	fp = popen(cmd, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (!strncmp(line, "Current", 7))
			cur = 1;
		if (cur && sscanf(line, "Combined: %d", &n) == 1)
			break;
	}
	pclose(fp);
	return n;
}

/*
 * One receive queue, RPS over every CPU on it: the kernel's flow hash
 * alone picks the CPU (the module's snapshot of the device, read while it
 * had several queues, must not be used: ethtool -L raises no event).
 */
static void case_single_queue(const char *dev)
{
	int conns, errors, home, iconns, ierrors, ihome, had = nic_channels(dev);
	long lc0, fb0, miss0;
	double nstcp, inet;

	if (!tap_ok(had >= 2 && !rps_sh("ethtool -L %s combined 1 && echo %x > /sys/class/net/%s/queues/rx-0/rps_cpus && "
					 "[ ! -e /sys/class/net/%s/queues/rx-1 ]",
					 dev, (1u << ncpus) - 1, dev, dev) &&
		    nic_channels(dev) == 1 && peer_up(),
		    "%s reduced to one queue pair (from %d), RPS over every CPU on rx-0", dev, had)) {
		for (int i = 0; i < 4; i++)
			tap_skip("no single-queue NIC", "connect_local");
		goto out;
	}
	lc0 = stat_sum(PROC_LCONNECTS);
	fb0 = stat_sum(PROC_LFALLBACKS);
	miss0 = stat_sum(PROC_LMISSES);
	inet = run_clients(AF_INET, &iconns, &ierrors, &ihome);
	nstcp = run_clients(AF_NSTCP, &conns, &errors, &home);
	tap_diag("one queue + RPS: AF_NSTCP %.1f%% (%d conns), AF_INET %.1f%% (%d conns) on the caller's CPU",
		 100 * nstcp, conns, 100 * inet, iconns);
	tap_ok(!errors && !ierrors && conns == ncpus * PER_CPU &&
	       home >= conns * 99 / 100,
	       "one queue: every connection answered (%d + %d errors), NSTCP_INFO home CPU the caller's (%d of %d)",
	       errors, ierrors, home, conns);
	tap_ok(nstcp >= 0.99, "one queue + RPS: AF_NSTCP >= 99%% of replies on the caller's CPU (%.1f%%)",
	       100 * nstcp);
	tap_ok(ncpus >= 2 && inet < 0.6,
	       "one queue + RPS: AF_INET in the same run %.1f%% local (RPS spreads them)",
	       100 * inet);
	tap_ok(stat_sum(PROC_LCONNECTS) - lc0 >= conns &&
	       stat_sum(PROC_LMISSES) == miss0 && stat_sum(PROC_LFALLBACKS) == fb0,
	       "one queue + RPS: %ld lconnects, no miss, no fallback (%ld, %ld)",
	       stat_sum(PROC_LCONNECTS) - lc0, stat_sum(PROC_LMISSES) - miss0,
	       stat_sum(PROC_LFALLBACKS) - fb0);
out:
	if (had >= 2)
		rps_sh("ethtool -L %s combined %d", dev, had);
}

int main(void)
{
	const char *paddr = getenv("NSTCP_NIC_PEER");

	tap_plan(19);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > 64)
		ncpus = 64;
	if (!paddr || !getenv("NSTCP_NIC_DEV")) {
		for (int i = 0; i < 19; i++)
			tap_skip("no test NIC (tests/vm/run --nic mq)", "connect_local");
		return 0;
	}
	peer.sin_family = AF_INET;
	peer.sin_port = htons(PORT);
	inet_pton(AF_INET, paddr, &peer.sin_addr);
	/*
	 * RPS over every CPU on every queue: QEMU 7.2's software RSS stalls
	 * a queue it redirects to, so the test NIC leaves it off and the
	 * tap's flow steering picks the queue (the one the flow was sent
	 * on); RPS then spreads the flows by the kernel's flow hash, as it
	 * would from one queue, and AF_NSTCP predicts that.
	 */
	if (!tap_ok(!rps_sh("for f in /sys/class/net/%s/queues/rx-*/rps_cpus; do echo %x > $f || exit 1; done",
			    getenv("NSTCP_NIC_DEV"), (1u << ncpus) - 1),
		    "RPS on every receive queue of %s", getenv("NSTCP_NIC_DEV")))
		return tap_done();
	if (tap_ok(peer_up(), "the host-side server answers on %s:%d", paddr, PORT)) {
		case_locality();
		case_sysctl_off();
		case_bound_port();
		case_loopback();
		case_veth();
		case_ports_exhausted();
		case_send_timeout();
		case_single_queue(getenv("NSTCP_NIC_DEV"));
	}
	rps_sh("for f in /sys/class/net/%s/queues/rx-*/rps_cpus; do echo 0 > $f; done",
	       getenv("NSTCP_NIC_DEV"));
	return tap_done();
}
