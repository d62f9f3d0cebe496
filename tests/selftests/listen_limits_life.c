// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: a port's limits under load and over time.  One accept()
 * refuses at most 64 connections in a row: a non-blocking one then
 * returns EAGAIN with more still queued, a blocking one goes on to the
 * next it may serve.  Charged connections (max_conns and per_source)
 * outlive their port: closed, or given and taken, after the port's last
 * member closed, and a new group on the same port starts with no limits
 * and nothing in service.  A charged connection outlives its network
 * namespace's last process and is closed after it.  The debug kernel
 * fails the run on a leak or a use-after-free.
 */
#include <sys/wait.h>

#include "limit_util.h"

#define NCASES	19
#define NFLOOD	100	/* refused in a row: more than one batch of 64 */

/*
 * per_source 1 with 127.0.0.1 held: NFLOOD more from it, then one from
 * 127.0.0.2, all queued.  The fds in c (NFLOOD + 1).
 */
static int flood(int port, int *c, int admissible)
{
	int i;

	for (i = 0; i < NFLOOD; i++) {
		c[i] = connect_from("127.0.0.1", LST_IP, port);
		if (c[i] < 0)
			return -1;
	}
	if (admissible) {
		c[i] = connect_from("127.0.0.2", LST_IP, port);
		if (c[i] < 0)
			return -1;
	}
	return lst_wait_queued(port, NFLOOD + admissible, FAM_TIMEOUT_MS) ==
	       NFLOOD + admissible ? 0 : -1;
}

static int count_reset(int *c, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += was_reset(c[i]);
	return k;
}

static void test_batch(void)
{
	int lfd, port, held = -1, hc = -1, a = -1, ep = -1, c[NFLOOD + 1];
	struct epoll_event ev;
	long r0;

	for (int i = 0; i <= NFLOOD; i++)
		c[i] = -1;
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1) &&
	       fam_timeouts(lfd, FAM_TIMEOUT_MS) == 0 &&
	       (hc = connect_from("127.0.0.1", LST_IP, port)) >= 0 &&
	       lst_wait_queued(port, 1, FAM_TIMEOUT_MS) == 1 &&
	       is_peer(held = lst_try_accept(lfd), hc),
	       "per_source 1: one from 127.0.0.1 served and held");

	/* A blocking accept: past a batch of refusals, to the one it may serve. */
	FAM_OK(!flood(port, c, 1), "%d more from 127.0.0.1 queued, then one from 127.0.0.2",
	       NFLOOD);
	a = accept(lfd, NULL, NULL);
	FAM_OK(is_peer(a, c[NFLOOD]) && lim_refused(port) == NFLOOD,
	       "a blocking accept refuses all %d (%ld) and serves 127.0.0.2's",
	       NFLOOD, lim_refused(port));
	FAM_OK(count_reset(c, NFLOOD) == NFLOOD, "... every refused client reset");
	close_all(c, NFLOOD + 1);
	fam_close(&a);

	/* Non-blocking: a batch, then EAGAIN with the rest still queued. */
	r0 = lim_refused(port);
	FAM_OK(!flood(port, c, 0), "%d more from 127.0.0.1 queued", NFLOOD);
	ep = fam_epoll_for(lfd, EPOLLIN | EPOLLET);
	FAM_OK(ep >= 0 && epoll_wait(ep, &ev, 1, 0) == 1,
	       "an edge-triggered epoll reports the queued ones once");
	errno = 0;
	a = lst_try_accept(lfd);
	FAM_OK(a < 0 && errno == EAGAIN && lim_refused(port) - r0 == 64 &&
	       lst_wait_queued(port, 0, 0) == NFLOOD - 64,
	       "a non-blocking accept: EAGAIN after 64 refused (%ld), %d still queued (%ld)",
	       lim_refused(port) - r0, NFLOOD - 64, lst_wait_queued(port, 0, 0));
	FAM_OK(ep >= 0 && epoll_wait(ep, &ev, 1, 0) == 1 && (ev.events & EPOLLIN),
	       "... and the edge-triggered epoll is told again, so it comes back");
	fam_close(&ep);
	errno = 0;
	a = lst_try_accept(lfd);
	FAM_OK(a < 0 && errno == EAGAIN && lim_refused(port) - r0 == NFLOOD &&
	       lst_wait_queued(port, 0, 0) == 0,
	       "the next: EAGAIN, the rest refused (%ld)", lim_refused(port) - r0);
	FAM_OK(count_reset(c, NFLOOD) == NFLOOD, "... every refused client reset");
	close_all(c, NFLOOD);
	fam_close(&held);
	fam_close(&hc);
	close(lfd);
}

/* The port's last member closes with charged connections open, given too. */
static void test_outlive_port(void)
{
	int lfd, port, c[4] = { -1, -1, -1, -1 }, a[4] = { -1, -1, -1, -1 };
	int tfd = -1, v1 = -1, v2 = -1, v3 = -1;
	uint64_t token = 0;
	long long end;

	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 2) &&
	       !fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1),
	       "max_conns 2, per_source 1");
	FAM_OK(lim_two_sources(lfd, port, c, a) && lim_conns(port) == 2 &&
	       !ho_give_pid(a[1], getpid(), 5000, &token),
	       "two charged (conns %ld), 127.0.0.2's given", lim_conns(port));
	fam_close(&a[1]);
	close(lfd);
	FAM_OK(lst_wait_unlisted(port, FAM_TIMEOUT_MS) == 0,
	       "the port's only member closed: the port is gone");
	tfd = ho_take_new(token);
	FAM_OK(is_peer(tfd, c[1]) && is_peer(a[0], c[0]),
	       "the given one taken after the port went, both still served");
	/* The clients close first: the port is left with no TIME_WAIT. */
	close_all(c, 2);
	fam_close(&a[0]);
	fam_close(&tfd);

	/* A new group on the port: nothing of the old one. */
	end = lst_now_ms() + FAM_TIMEOUT_MS;
	while ((lfd = lst_member_ex(LST_IP, port, NULL, 0, NULL, NULL)) < 0 &&
	       lst_now_ms() < end)
		lst_sleep_ms(20);
	FAM_OK(lfd >= 0 && !fam_getint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, &v1) &&
	       !fam_getint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, &v2) &&
	       !fam_getint(lfd, SOL_NSTCP, NSTCP_CPS, &v3) && !v1 && !v2 && !v3 &&
	       lim_conns(port) == 0 && lim_refused(port) == 0,
	       "a new group on the port: no limits (%d %d %d), conns %ld, refused %ld",
	       v1, v2, v3, lim_conns(port), lim_refused(port));
	FAM_OK(!fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1), "per_source 1 on it");
	c[2] = connect_from("127.0.0.1", LST_IP, port);
	c[3] = connect_from("127.0.0.1", LST_IP, port);
	FAM_OK(lim_second_reset(lfd, port, &c[2], &a[2]) && lim_conns(port) == 1,
	       "... counted afresh: one served, the second from 127.0.0.1 reset");
	close_all(a, 4);
	close_all(c, 4);
	close(lfd);
}

/* Child: a namespace of its own; sends a charged pair to the parent. */
static void netns_child(int unix_fd)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))] = {};
	int lfd, port, fds[2] = { -1, -1 };
	char ok = 0;
	struct iovec iov = { .iov_base = &ok, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	if (unshare(CLONE_NEWNET) || lst_lo_up())
		_exit(2);
	lfd = lst_member(LST_IP, 0, NULL, 0, &port);
	if (lfd < 0 || fam_setint(lfd, SOL_NSTCP, NSTCP_MAX_CONNS, 1) ||
	    fam_setint(lfd, SOL_NSTCP, NSTCP_PER_SOURCE, 1))
		_exit(3);
	fds[1] = connect_from("127.0.0.1", LST_IP, port);
	lst_wait_queued(port, 1, FAM_TIMEOUT_MS);
	fds[0] = lst_try_accept(lfd);
	ok = is_peer(fds[0], fds[1]) && lim_conns(port) == 1;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (fds[0] < 0 || fds[1] < 0 || sendmsg(unix_fd, &mh, 0) != 1)
		_exit(4);
	/* Exits with its listener open: the kernel closes it. */
	_exit(0);
}

static void test_netns(void)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	int sv[2], fds[2] = { -1, -1 }, status = -1;
	char ok = 0;
	struct iovec iov = { .iov_base = &ok, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		FAM_OK(0, "socketpair: %s", strerror(errno));
		FAM_OK(0, "skipped");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		netns_child(sv[1]);
	close(sv[1]);
	if (recvmsg(sv[0], &mh, 0) == 1 && (cm = CMSG_FIRSTHDR(&mh)) &&
	    cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(fds)))
		memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	if (pid > 0)
		waitpid(pid, &status, 0);
	close(sv[0]);
	FAM_OK(ok && fds[0] >= 0 && WIFEXITED(status) && !WEXITSTATUS(status),
	       "a namespace's charged connection (max_conns 1, per_source 1) passed out, its last process gone (status %d)",
	       status);
	FAM_OK(is_peer(fds[0], fds[1]) && is_peer(fds[1], fds[0]),
	       "... still served after its port and namespace's processes went");
	/* The last references: the namespace is torn down after these. */
	close_all(fds, 2);
	lst_sleep_ms(1000);
}

int main(void)
{
	lst_private_netns();
	/* One CPU: the connections queue, and are accepted, in order. */
	lst_pin(0);
	fam_start(NCASES, 180);
	test_batch();
	test_outlive_port();
	test_netns();
	return fam_finish();
}
