// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest: split accept.  A dispatcher accepts connections as tokens,
 * never owning a descriptor, and routes each by its flow CPU to the worker
 * pinned on that CPU, which takes it and answers from there.  Also: the
 * peer address and CPU returned, a token named to one worker's pid, a
 * non-blocking listener with nothing queued, errors that consume no
 * connection, and the expiry of a split-accepted token (a reset).
 */
#include <fcntl.h>

#include "handoff_util.h"

#define NCASES 15
#define NCONN 12
#define MAXW 16

static int nw, wpipe[MAXW];
static pid_t wpid[MAXW];

/* Worker i: pinned on CPU i, takes what it is sent, answers its CPU. */
static int worker(int i, int in)
{
	uint64_t token;
	char c;
	int fd;

	if (lst_pin(i))
		return 1;
	while (read(in, &token, sizeof(token)) == sizeof(token)) {
		fd = ho_take_new(token);
		if (fd < 0)
			return 2;
		c = sched_getcpu();
		if (send(fd, &c, 1, 0) != 1)
			return 3;
		close(fd);
	}
	return 0;
}

static int accept_token(int lfd, unsigned int flags, unsigned int id,
			unsigned int ms, struct nstcp_accept_token *at)
{
	socklen_t len = sizeof(*at);

	memset(at, 0, sizeof(*at));
	at->nat_give.ng_flags = flags;
	at->nat_give.ng_id = id;
	at->nat_give.ng_timeout_ms = ms;
	return getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, at, &len) ?
	       errno : 0;
}

static void case_dispatch(int lfd, int port)
{
	int right = 0, peers = 0, cpus_seen = 0, i, fd, rc;
	long given = ho_stat(PROC_GIVEN), taken = ho_stat(PROC_TAKEN);
	struct nstcp_accept_token at;
	unsigned char c;

	for (i = 0; i < NCONN; i++) {
		lst_pin(i % nw);	/* the flow is processed here */
		fd = fam_connect(AF_NSTCP, LST_IP, port);
		lst_pin(0);
		if (fd < 0)
			continue;
		c = 0xff;
		rc = accept_token(lfd, NSTCP_GIVE_UID, getuid(), 2000, &at);
		if (!rc && at.nat_addrlen == sizeof(struct sockaddr_in) &&
		    fam_addr_is((struct sockaddr *)&at.nat_peer, at.nat_addrlen,
				LST_IP, fam_local_port(fd)))
			peers++;
		if (!rc && at.nat_cpu >= 0 && at.nat_cpu < nw) {
			cpus_seen |= 1 << at.nat_cpu;
			if (write(wpipe[at.nat_cpu], &at.nat_give.ng_token, 8) != 8)
				tap_diag("write: %s", strerror(errno));
			if (recv(fd, &c, 1, 0) == 1 && c == at.nat_cpu)
				right++;
		} else {
			tap_diag("accept token: %s, cpu %d", strerror(rc), at.nat_cpu);
		}
		close(fd);
	}
	FAM_OK(peers == NCONN, "each split accept named its peer (%d of %d)",
	       peers, NCONN);
	FAM_OK(right == NCONN,
	       "each connection was answered by the worker on its flow's CPU (%d of %d)",
	       right, NCONN);
	FAM_OK(cpus_seen == (1 << nw) - 1 || nw > NCONN,
	       "flows came on every worker's CPU (mask %#x)", cpus_seen);
	FAM_OK(ho_stat(PROC_GIVEN) - given == NCONN && ho_stat(PROC_TAKEN) - taken == NCONN,
	       "counted %d given and taken", NCONN);
}

/* Named to one worker's pid: that worker takes it, wherever the flow is. */
static void case_pid(int lfd, int port)
{
	struct nstcp_accept_token at;
	unsigned char c = 0;
	int fd, rc;

	fd = fam_connect(AF_NSTCP, LST_IP, port);
	rc = accept_token(lfd, NSTCP_GIVE_PID, wpid[nw - 1], 2000, &at);
	FAM_OK(!rc && at.nat_give.ng_token, "split accept named to worker %d's pid",
	       nw - 1);
	if (!rc && write(wpipe[nw - 1], &at.nat_give.ng_token, 8) != 8)
		tap_diag("write: %s", strerror(errno));
	FAM_OK(fd >= 0 && recv(fd, &c, 1, 0) == 1 && c == nw - 1,
	       "worker %d answered (%d)", nw - 1, c);
	if (fd >= 0)
		close(fd);
}

static void case_errors(int lfd, int port)
{
	struct nstcp_accept_token at;
	socklen_t len = sizeof(at) - 1;
	int fd, ufd, afd, fl = fcntl(lfd, F_GETFL);
	long expired = ho_stat(PROC_EXPIRED);
	char c;

	fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
	FAM_OK(accept_token(lfd, NSTCP_GIVE_UID, 0, 0, &at) == EAGAIN,
	       "non-blocking, nothing queued: EAGAIN");
	fcntl(lfd, F_SETFL, fl);
	ufd = fam_socket(AF_NSTCP, 0);
	FAM_OK(accept_token(ufd, NSTCP_GIVE_UID, 0, 0, &at) == EINVAL,
	       "on a socket that does not listen: EINVAL");
	close(ufd);

	fd = fam_connect(AF_NSTCP, LST_IP, port);
	FAM_OK(accept_token(lfd, 0, 0, 0, &at) == EINVAL,
	       "no taker named: EINVAL");
	TAP_ERRNO(getsockopt(lfd, SOL_NSTCP, NSTCP_ACCEPT_TOKEN, &at, &len), EINVAL,
		  "optlen too short: EINVAL");
	afd = fam_accept(lfd, NULL);
	FAM_OK(afd >= 0 && send(fd, "k", 1, 0) == 1 && recv(afd, &c, 1, 0) == 1,
	       "... and those consumed no connection: accept() has it");
	if (afd >= 0)
		close(afd);
	close(fd);

	/* Nobody takes: reset at the timeout. */
	fd = fam_connect(AF_NSTCP, LST_IP, port);
	FAM_OK(!accept_token(lfd, NSTCP_GIVE_UID, 0, 200, &at) && ho_pending() == 1,
	       "split accept, 200 ms, pending");
	errno = 0;
	FAM_OK(fam_wait(fd, POLLIN, 3000) && recv(fd, &c, 1, 0) < 0 &&
	       errno == ECONNRESET, "the peer sees a reset at the timeout (%s)",
	       strerror(errno));
	FAM_OK(HO_WAIT(ho_pending() == 0, 1000) && ho_stat(PROC_EXPIRED) - expired == 1,
	       "counted expired, nothing pending");
	close(fd);
}

int main(void)
{
	int lfd, port, i, bad = 0;

	lst_private_netns();
	fam_start(NCASES, 120);
	nw = lst_ncpus() < MAXW ? lst_ncpus() : MAXW;
	for (i = 0; i < nw; i++) {
		int p[2];

		if (pipe(p)) {
			printf("Bail out! pipe\n");
			return 1;
		}
		wpid[i] = fork();
		if (wpid[i] == 0) {
			for (int j = 0; j < i; j++)
				close(wpipe[j]);
			close(p[1]);
			_exit(worker(i, p[0]));
		}
		close(p[0]);
		wpipe[i] = p[1];
	}
	lfd = fam_listen(AF_NSTCP, LST_IP, 0, &port);
	if (lfd < 0) {
		printf("Bail out! listen\n");
		return 1;
	}
	case_dispatch(lfd, port);
	case_pid(lfd, port);
	case_errors(lfd, port);
	close(lfd);
	for (i = 0; i < nw; i++)
		close(wpipe[i]);
	for (i = 0; i < nw; i++)
		bad += ho_reap(wpid[i], FAM_TIMEOUT_MS) != 0;
	FAM_OK(!bad, "every worker took all it was sent and exited cleanly");
	return fam_finish();
}
