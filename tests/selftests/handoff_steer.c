// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: steering follows the taker.  With RFS configured on lo, a
 * connection given from CPU 0 to a taker pinned on CPU 1 is counted
 * rehomed, its packets are processed on CPU 1 from the first exchange on
 * (NSTCP_HOME_CPU), and the taker's calls make no hop; the taker sleeps
 * in epoll_wait() before each read, its first included.  The same over a
 * veth pair whose receive side spreads flows with RPS, the client in the
 * other namespace.  A give to a taker pinned on one CPU steers the flow
 * there before the take: a request sent between give and take is
 * processed on the taker's CPU, unless the giver may not run there (a
 * giver pinned on CPU 0 naming a taker pinned on CPU 2).  Runs in the initial network namespace
 * (RFS's table is global, lo's queues are its) and puts the RFS settings
 * back.
 */
#include <sys/epoll.h>

#include "handoff_util.h"
#include "rps_pair.h"

#define STEER_CASES 6
#define NCASES (2 * STEER_CASES + 7)
#define NX 20	/* request/reply exchanges after the take */

static int ncpu;	/* before any pinning */

static const char *const flow_entries = "/proc/sys/net/core/rps_sock_flow_entries";
static const char *const flow_cnt = "/sys/class/net/lo/queues/rx-0/rps_flow_cnt";

static int file_rw(const char *path, char *old, size_t len, const char *val)
{
	int fd = open(path, O_RDWR);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (old) {
		n = read(fd, old, len - 1);
		old[n > 0 ? n : 0] = 0;
	}
	n = pwrite(fd, val, strlen(val), 0);	/* a sysctl ignores a write past 0 */
	close(fd);
	return n < 0 ? -1 : 0;
}

/* The taker, on CPU 1: takes, then answers NX requests, waiting for each. */
static int taker(int in, int out)
{
	long calls, hops;
	struct epoll_event ev = { .events = EPOLLIN };
	struct ho_msg m;
	int fd, home = -1, i, ep;
	char c;

	lst_pin(1);
	if (ho_get(in, &m, FAM_TIMEOUT_MS))
		return 10;
	fd = ho_take_new(m.token);
	if (fd < 0 || ho_put(out, &m))
		return 11;
	calls = ho_stat(PROC_CALLS);
	hops = ho_stat(PROC_HOPS);
	/* The taker sleeps in epoll_wait() until each request is here. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return 14;
	for (i = 0; i < NX; i++) {
		/* Called once the request is here: its CPU is known. */
		if (epoll_wait(ep, &ev, 1, FAM_TIMEOUT_MS) != 1 ||
		    recv(fd, &c, 1, 0) != 1 || send(fd, &c, 1, 0) != 1)
			return 12;
		if (!i)
			fam_getint(fd, SOL_NSTCP, NSTCP_HOME_CPU, &home);
	}
	m.val = ho_stat(PROC_CALLS) - calls;
	m.sum = ho_stat(PROC_HOPS) - hops;
	m.token = home;
	close(ep);
	close(fd);
	return ho_put(out, &m) ? 13 : 0;
}

/*
 * One run: a connection accepted on CPU 0 from a client on CPU 2 (in
 * namespace cli unless -1), given to a taker on CPU 1; NX exchanges after
 * the take.  STEER_CASES cases.
 */
static void steer(const char *ip, int cli, const char *what)
{
	int lfd, sfd = -1, port, p2c[2], c2p[2], go[2], st, ok;
	long rehomed = ho_stat(PROC_REHOMED);
	struct ho_msg m = { 0 };
	pid_t peer, pid;

	lst_pin(0);
	lfd = fam_listen(AF_NSTCP, ip, 0, &port);
	if (lfd < 0 || pipe(p2c) || pipe(c2p) || pipe(go)) {
		printf("Bail out! listen or pipes: %s\n", strerror(errno));
		exit(1);
	}
	peer = fork();
	if (peer == 0) {
		char c = 'q';
		int cfd, i;

		close(go[1]);
		if (cli >= 0 && setns(cli, CLONE_NEWNET))
			_exit(20);
		lst_pin(2 % ncpu);
		/* The peer is AF_INET: only the taker's calls are counted. */
		cfd = fam_connect(AF_INET, ip, port);
		if (cfd < 0 || ho_get(go[0], &m, FAM_TIMEOUT_MS))
			_exit(21);
		for (i = 0; i < NX; i++)
			if (send(cfd, &c, 1, 0) != 1 || recv(cfd, &c, 1, 0) != 1)
				_exit(22);
		close(cfd);
		_exit(0);
	}
	close(go[0]);
	sfd = fam_accept(lfd, NULL);
	close(lfd);
	pid = fork();
	if (pid == 0) {
		close(sfd);
		close(p2c[1]);
		close(c2p[0]);
		close(go[1]);
		_exit(taker(p2c[0], c2p[1]));
	}
	close(p2c[0]);
	close(c2p[1]);
	FAM_OK(sfd >= 0 && !ho_give_pid(sfd, pid, 5000, &m.token),
	       "%s: give to the taker on CPU 1", what);
	ho_put(p2c[1], &m);
	/* Requests sent before the take would be processed where RFS said. */
	if (ho_get(c2p[0], &m, FAM_TIMEOUT_MS))
		tap_diag("the taker did not say it took");
	ho_put(go[1], &m);
	st = ho_reap(peer, FAM_TIMEOUT_MS * 2);
	FAM_OK(st == 0, "%s: %d request/reply exchanges with the taker (%d)", what, NX, st);
	st = ho_reap(pid, FAM_TIMEOUT_MS);
	ok = !ho_get(c2p[0], &m, FAM_TIMEOUT_MS);
	FAM_OK(st == 0 && ok, "%s: the taker answered all (%d)", what, st);
	FAM_OK(ho_stat(PROC_REHOMED) - rehomed == 1, "%s: the take was counted rehomed", what);
	FAM_OK(ok && (long)m.token == 1,
	       "%s: the flow's packets were processed on CPU 1 from the first exchange (home %ld)",
	       what, ok ? (long)m.token : -1L);
	FAM_OK(ok && m.val >= 2 * NX && m.sum == 0,
	       "%s: the taker's %ld calls made %ld hops", what, (long)m.val, (long)m.sum);
	if (sfd >= 0)
		close(sfd);
	close(p2c[1]);
	close(c2p[0]);
	close(go[1]);
}

/*
 * A taker pinned on CPU @tcpu before the give; the peer, on another CPU,
 * sends a request after the give and before the take (it is processed
 * meanwhile).  A giver that may run on @tcpu itself (@allowed, unpinned
 * at the give) steers the flow there early: the taker finds the request
 * processed on @tcpu.  A giver pinned on CPU 0 does not: the request is
 * processed where the flow was (the accept's CPU 0), not on @tcpu.  Two
 * cases each.
 */
static void early(int tcpu, int allowed)
{
	int lfd, sfd, cfd, port, p2c[2], c2p[2], st, home = -1;
	struct ho_msg m = { 0 };
	const char *what = allowed ? "early" : "early, giver pinned elsewhere";
	pid_t pid;
	char c = 'e';

	lst_pin(0);
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	if (lfd < 0 || pipe(p2c) || pipe(c2p)) {
		printf("Bail out! listen or pipes: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		int fd;

		close(lfd);
		close(p2c[1]);
		close(c2p[0]);
		lst_pin(tcpu);
		if (ho_put(c2p[1], &m) || ho_get(p2c[0], &m, FAM_TIMEOUT_MS))
			_exit(10);
		fd = ho_take_new(m.token);
		if (fd < 0 || recv(fd, &c, 1, 0) != 1)
			_exit(11);
		fam_getint(fd, SOL_NSTCP, NSTCP_HOME_CPU, &home);
		m.token = home;
		_exit(ho_put(c2p[1], &m) || send(fd, &c, 1, 0) != 1 ? 12 : 0);
	}
	close(p2c[0]);
	close(c2p[1]);
	cfd = fam_connect(AF_INET, LST_IP, port);
	sfd = fam_accept(lfd, NULL);
	close(lfd);
	/* The taker is pinned once it says so. */
	st = ho_get(c2p[0], &m, FAM_TIMEOUT_MS);
	if (allowed)
		lst_unpin();
	FAM_OK(!st && sfd >= 0 && cfd >= 0 && !ho_give_pid(sfd, pid, 5000, &m.token),
	       "%s: give to a taker pinned on CPU %d", what, tcpu);
	close(sfd);
	/* Sent from a third CPU and processed before the take. */
	lst_pin(tcpu == 1 ? 2 : 1);
	if (send(cfd, &c, 1, 0) != 1)
		tap_diag("%s: send: %s", what, strerror(errno));
	usleep(200 * 1000);
	lst_pin(0);
	ho_put(p2c[1], &m);
	st = ho_get(c2p[0], &m, FAM_TIMEOUT_MS);
	if (allowed)
		FAM_OK(!st && (long)m.token == tcpu && recv(cfd, &c, 1, 0) == 1,
		       "%s: the request sent between give and take was processed on the taker's CPU %d (home %ld)",
		       what, tcpu, st ? -1L : (long)m.token);
	else
		FAM_OK(!st && (long)m.token >= 0 && (long)m.token != tcpu &&
		       recv(cfd, &c, 1, 0) == 1,
		       "%s: the request sent between give and take was not steered to the taker's CPU %d (home %ld)",
		       what, tcpu, st ? -1L : (long)m.token);
	ho_reap(pid, FAM_TIMEOUT_MS);
	close(cfd);
	close(p2c[1]);
	close(c2p[0]);
}

static struct rps_pair pair;

static int veth_child(int cli)
{
	/* RFS on the receiving side of the pair too. */
	rps_sh("ip netns exec %s sh -c 'echo 4096 > /sys/class/net/%s/queues/rx-0/rps_flow_cnt'",
	       pair.srv_ns, pair.srv_dev);
	steer(RPS_SRV_IP, cli, "veth");
	close(cli);
	return tap_failed ? 1 : 0;
}

int main(void)
{
	char old_entries[32] = "", old_cnt[32] = "";
	int i;

	fam_start(NCASES, 100);
	ncpu = lst_ncpus();
	if (ncpu < 3 ||
	    file_rw(flow_entries, old_entries, sizeof(old_entries), "4096") ||
	    file_rw(flow_cnt, old_cnt, sizeof(old_cnt), "4096")) {
		for (i = 0; i < NCASES; i++)
			tap_skip("needs 3 CPUs and RFS settings", "steering");
		return fam_finish();
	}
	steer(LST_IP, -1, "lo");
	early(1, 1);
	early(2, 0);
	lst_unpin();
	rps_pair_run(&pair, ncpu, STEER_CASES, 60, veth_child);
	file_rw(flow_cnt, NULL, 0, old_cnt);
	file_rw(flow_entries, NULL, 0, old_entries);
	return fam_finish();
}
